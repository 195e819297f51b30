/* natter-sign-in-page.h — first run: server, app key, and a token or an
 * app server that hands one out
 *
 * Signs in through its session (property): what the server says goes on
 * the page, with its reference code. Whenever the session is signed out
 * the form is filled in again from the account, with the reason.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>
#include <natter.h>

#include "natter-session.h"

G_BEGIN_DECLS

#define NATTER_TYPE_SIGN_IN_PAGE (natter_sign_in_page_get_type ())

G_DECLARE_FINAL_TYPE (NatterSignInPage, natter_sign_in_page, NATTER, SIGN_IN_PAGE, AdwBin)

NatterSession *natter_sign_in_page_get_session (NatterSignInPage *self);
void           natter_sign_in_page_set_session (NatterSignInPage *self,
                                                NatterSession    *session);
/* Fills in what is known (any may be NULL). */
void           natter_sign_in_page_prefill     (NatterSignInPage *self,
                                                const char       *server_url,
                                                const char       *app_key,
                                                const char       *app_server_url,
                                                const char       *user_id);
void           natter_sign_in_page_show_error  (NatterSignInPage *self,
                                                const char       *message);
/* Starts signing in with what the form holds (the button does this). */
void           natter_sign_in_page_sign_in     (NatterSignInPage *self);
/* TRUE once the filled-in server said whether it lets people create
 * accounts (what "Create Account" follows); FALSE while it is asked. */
gboolean       natter_sign_in_page_get_accounts_mode_known (NatterSignInPage *self);

G_END_DECLS
