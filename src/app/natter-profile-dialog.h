/* natter-profile-dialog.h — your name and picture as others see them
 *
 * The picture is cropped to a centred square (512 px) off the main
 * thread, uploaded to natterd's media and set with the name through
 * /account/profile.json; others' apps learn it through the profile query.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>
#include <natter.h>

G_BEGIN_DECLS

#define NATTER_TYPE_PROFILE_DIALOG (natter_profile_dialog_get_type ())

G_DECLARE_FINAL_TYPE (NatterProfileDialog, natter_profile_dialog, NATTER, PROFILE_DIALOG, AdwWindow)

NatterProfileDialog *natter_profile_dialog_new (GtkWindow            *parent,
                                                NatterAccountService *service,
                                                NatterClient         *client,
                                                const char           *name);

G_END_DECLS
