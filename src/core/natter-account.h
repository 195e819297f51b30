/* natter-account.h — the sign-in of one profile
 *
 * A profile is a directory (--profile DIR; by default
 * $XDG_DATA_HOME/natter/default) that holds the local store and media cache
 * (libnatter's), and account.ini: server URL, app key, user id and, when it
 * was used, the app server URL. The token goes to the Secret Service; when
 * none runs it is kept in DIR/token, readable by the user only (mode 0600),
 * and token-in-file tells the UI to say so.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define NATTER_TYPE_ACCOUNT (natter_account_get_type ())

G_DECLARE_FINAL_TYPE (NatterAccount, natter_account, NATTER, ACCOUNT, GObject)

NatterAccount *natter_account_new                (const char          *profile_dir);
/* The default profile directory. */
char          *natter_account_default_profile_dir (void);

const char    *natter_account_get_profile_dir    (NatterAccount       *self);
const char    *natter_account_get_server_url     (NatterAccount       *self);
const char    *natter_account_get_app_key        (NatterAccount       *self);
const char    *natter_account_get_user_id        (NatterAccount       *self);
const char    *natter_account_get_app_server_url (NatterAccount       *self);
const char    *natter_account_get_token          (NatterAccount       *self);
/* How the user signed in ("password", "token", "app-server"; account.ini's
 * sign-in), NULL for a profile from before it was kept. Set before
 * natter_account_save_async(), which stores it. */
const char    *natter_account_get_sign_in_mode   (NatterAccount       *self);
void           natter_account_set_sign_in_mode   (NatterAccount       *self,
                                                  const char          *mode);
/* TRUE when the token lives in the 0600 file because no Secret Service answered. */
gboolean       natter_account_get_token_in_file  (NatterAccount       *self);
/* Server URL, app key and token are all known. */
gboolean       natter_account_is_complete        (NatterAccount       *self);
/* Path of the token file (whether it is used or not). */
char          *natter_account_dup_token_path     (NatterAccount       *self);

/* Reads account.ini and the token (Secret Service, then the file). Returns
 * natter_account_is_complete(). A missing profile is not an error. */
void           natter_account_load_async         (NatterAccount       *self,
                                                  GCancellable        *cancellable,
                                                  GAsyncReadyCallback  callback,
                                                  gpointer             user_data);
gboolean       natter_account_load_finish        (NatterAccount       *self,
                                                  GAsyncResult        *result,
                                                  GError             **error);

/* Remembers a successful sign-in: account.ini, and the token in the Secret
 * Service or, failing that, the 0600 file. */
void           natter_account_save_async         (NatterAccount       *self,
                                                  const char          *server_url,
                                                  const char          *app_key,
                                                  const char          *user_id,
                                                  const char          *app_server_url,
                                                  const char          *token,
                                                  GCancellable        *cancellable,
                                                  GAsyncReadyCallback  callback,
                                                  gpointer             user_data);
gboolean       natter_account_save_finish        (NatterAccount       *self,
                                                  GAsyncResult        *result,
                                                  GError             **error);

/* Signs out: forgets the token (both places); account.ini keeps the server
 * and app key so the sign-in form comes back filled in. */
void           natter_account_forget_token_async  (NatterAccount       *self,
                                                   GCancellable        *cancellable,
                                                   GAsyncReadyCallback  callback,
                                                   gpointer             user_data);
gboolean       natter_account_forget_token_finish (NatterAccount       *self,
                                                   GAsyncResult        *result,
                                                   GError             **error);

G_END_DECLS
