/* natter-sign-in-page.h — first run: server, app key, and a token or an
 * app server that hands one out
 *
 * Signal: signed-in (NatterClient *client, const char *token,
 *                    const char *app_server_url)   connected, ready to use
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>
#include <natter.h>

G_BEGIN_DECLS

#define NATTER_TYPE_SIGN_IN_PAGE (natter_sign_in_page_get_type ())

G_DECLARE_FINAL_TYPE (NatterSignInPage, natter_sign_in_page, NATTER, SIGN_IN_PAGE, AdwBin)

void natter_sign_in_page_set_profile_dir (NatterSignInPage *self,
                                          const char       *profile_dir);
/* Fills in what is known (any may be NULL). */
void natter_sign_in_page_prefill         (NatterSignInPage *self,
                                          const char       *server_url,
                                          const char       *app_key,
                                          const char       *app_server_url,
                                          const char       *user_id);
void natter_sign_in_page_show_error      (NatterSignInPage *self,
                                          const char       *message);
/* Starts signing in with what the form holds (the button does this). */
void natter_sign_in_page_sign_in         (NatterSignInPage *self);

G_END_DECLS
