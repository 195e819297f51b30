/* natter-password-dialog.h — change the account's password
 *
 * Current password, new password and its confirmation; a mismatch or a
 * password under 8 characters is refused here, nothing sent; the
 * server's refusals (26002 wrong password, 26003 locked) show inline.
 * The change goes through the session, which keeps this client
 * connected with the new token.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

#include "natter-session.h"

G_BEGIN_DECLS

#define NATTER_TYPE_PASSWORD_DIALOG (natter_password_dialog_get_type ())

G_DECLARE_FINAL_TYPE (NatterPasswordDialog, natter_password_dialog, NATTER, PASSWORD_DIALOG, AdwWindow)

NatterPasswordDialog *natter_password_dialog_new (GtkWindow     *parent,
                                                  NatterSession *session);

G_END_DECLS
