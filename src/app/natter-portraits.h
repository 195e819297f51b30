/* natter-portraits.h — users' and groups' pictures for avatars
 *
 * Downloads each portrait URL once (into the profile's media cache, through
 * libnatter), keeps the decoded textures, and puts them on the avatars that
 * asked; an avatar shows its initials until then, or when there is none.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>
#include <natter.h>

G_BEGIN_DECLS

#define NATTER_TYPE_PORTRAITS (natter_portraits_get_type ())

G_DECLARE_FINAL_TYPE (NatterPortraits, natter_portraits, NATTER, PORTRAITS, GObject)

NatterPortraits *natter_portraits_new   (NatterClient    *client);
NatterClient    *natter_portraits_get_client (NatterPortraits *self);
/* Shows @uri's picture on @avatar, an AdwAvatar or a NatterAvatar (its
 * "custom-image"), at once if known, else once downloaded; NULL or ""
 * clears it. The last call for an avatar wins. */
void             natter_portraits_apply (NatterPortraits *self,
                                         GtkWidget       *avatar,
                                         const char      *uri);

G_END_DECLS
