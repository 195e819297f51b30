/* natter-avatar.h — a sender's round avatar in a message row
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define NATTER_TYPE_AVATAR (natter_avatar_get_type ())

G_DECLARE_FINAL_TYPE (NatterAvatar, natter_avatar, NATTER, AVATAR, GtkWidget)

GtkWidget    *natter_avatar_new              (int           size);
const char   *natter_avatar_get_text         (NatterAvatar *self);
void          natter_avatar_set_text         (NatterAvatar *self,
                                              const char   *text);
const char   *natter_avatar_get_initials     (NatterAvatar *self);
GdkPaintable *natter_avatar_get_custom_image (NatterAvatar *self);
void          natter_avatar_set_custom_image (NatterAvatar *self,
                                              GdkPaintable *image);

G_END_DECLS
