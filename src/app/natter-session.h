/* natter-session.h — the sign-in of one profile and its client's life
 *
 * No widgets. Made for a profile directory, it reads the stored account
 * (NatterAccount) at once and then holds the profile's NatterClient while
 * signed in:
 *
 *   LOADING ──▶ SIGNED_OUT ──sign_in──▶ SIGNED_IN
 *      │             ▲                     ▲
 *      └──▶ RESTORED ┴──────connect────────┘
 *                    (sign_out, or a refused account)
 *
 * RESTORED: signed in before; the client shows the stored conversations
 * and connects when natter_session_connect() says so (the window does,
 * once they are on screen). SIGNED_IN: it connects, reconnects, and syncs
 * the conversation list once. A token refusal (31002, 31004, 31005, 31008,
 * 31009, 31020) signs out, with the reason in natter_session_get_error().
 * The client changes before the state does.
 *
 * Signals:
 *   state-changed (NatterSessionState new, NatterSessionState old)
 *   account-saved (GError *error)   a sign-in stored: NULL, or why not
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <natter.h>

#include "natter-account.h"

G_BEGIN_DECLS

typedef enum {
  NATTER_SESSION_STATE_LOADING,
  NATTER_SESSION_STATE_SIGNED_OUT,
  NATTER_SESSION_STATE_RESTORED,
  NATTER_SESSION_STATE_SIGNED_IN,
} NatterSessionState;

#define NATTER_TYPE_SESSION_STATE (natter_session_state_get_type ())
GType natter_session_state_get_type (void) G_GNUC_CONST;

#define NATTER_SESSION_ERROR (natter_session_error_quark ())
GQuark natter_session_error_quark (void);

typedef enum {
  NATTER_SESSION_ERROR_PROFILE,      /* the profile could not be read */
  NATTER_SESSION_ERROR_UNREACHABLE,  /* a sign-in's connection failed, no reason given */
  NATTER_SESSION_ERROR_NO_TOKEN,     /* the app server gave no token; the message says why */
} NatterSessionError;

#define NATTER_TYPE_SESSION (natter_session_get_type ())

G_DECLARE_FINAL_TYPE (NatterSession, natter_session, NATTER, SESSION, GObject)

NatterSession      *natter_session_new             (const char          *profile_dir);
const char         *natter_session_get_profile_dir (NatterSession       *self);
NatterAccount      *natter_session_get_account     (NatterSession       *self);
NatterSessionState  natter_session_get_state       (NatterSession       *self);
/* NULL unless RESTORED or SIGNED_IN. */
NatterClient       *natter_session_get_client      (NatterSession       *self);
/* The stored account's user, then the connected client's; NULL signed out. */
const char         *natter_session_get_user_id     (NatterSession       *self);
/* Why the session is SIGNED_OUT: the profile could not be read
 * (NATTER_SESSION_ERROR_PROFILE) or the server refused the account
 * (NATTER_CLIENT_ERROR); NULL on a first run or after sign_out(). */
const GError       *natter_session_get_error       (NatterSession       *self);

/* RESTORED → SIGNED_IN: connects with the stored token. */
void                natter_session_connect         (NatterSession       *self);

/* Signs in: connects a new client to @server_url with @token, or with one
 * fetched from @app_server_url for @user_id when @token is NULL, and once
 * the server accepts it, stores the account (then ::account-saved) and
 * becomes SIGNED_IN with it. A refusal is the client's error (the
 * reference code), NATTER_SESSION_ERROR_UNREACHABLE or _NO_TOKEN. */
void                natter_session_sign_in_async   (NatterSession       *self,
                                                    const char          *server_url,
                                                    const char          *app_key,
                                                    const char          *token,
                                                    const char          *app_server_url,
                                                    const char          *user_id,
                                                    GCancellable        *cancellable,
                                                    GAsyncReadyCallback  callback,
                                                    gpointer             user_data);
gboolean            natter_session_sign_in_finish  (NatterSession       *self,
                                                    GAsyncResult        *result,
                                                    GError             **error);

/* Disconnects, forgets the token (the rest of the account stays, for the
 * sign-in form) and becomes SIGNED_OUT. */
void                natter_session_sign_out        (NatterSession       *self);

/* password.json: the new token is stored like a sign-in's and this
 * client carries on with it (natterd's 31004 kick of this device is not a
 * sign-out); the account's other devices are signed out. */
void                natter_session_change_password_async  (NatterSession       *self,
                                                           const char          *old_password,
                                                           const char          *new_password,
                                                           GCancellable        *cancellable,
                                                           GAsyncReadyCallback  callback,
                                                           gpointer             user_data);
gboolean            natter_session_change_password_finish (NatterSession       *self,
                                                           GAsyncResult        *result,
                                                           GError             **error);

/* delete.json, then signed out as by natter_session_sign_out(). */
void                natter_session_delete_account_async   (NatterSession       *self,
                                                           const char          *password,
                                                           GCancellable        *cancellable,
                                                           GAsyncReadyCallback  callback,
                                                           gpointer             user_data);
gboolean            natter_session_delete_account_finish  (NatterSession       *self,
                                                           GAsyncResult        *result,
                                                           GError             **error);

G_END_DECLS
