/* natter-contacts-page.h — contact requests, contacts, "Add Contact"
 *
 * Incoming requests first, each with Accept and Ignore (the page's
 * n-requests is the badge), then the contacts: activating one opens the
 * chat with them (signal open-chat (user-id)). Reloads whenever asked and
 * after each change it makes.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>
#include <natter.h>

#include "natter-account.h"

G_BEGIN_DECLS

#define NATTER_TYPE_CONTACTS_PAGE (natter_contacts_page_get_type ())

G_DECLARE_FINAL_TYPE (NatterContactsPage, natter_contacts_page, NATTER, CONTACTS_PAGE, AdwBin)

/* The service for @account's server, app and token (signed in). */
NatterAccountService *natter_account_service_for        (NatterAccount        *account);

NatterContactsPage   *natter_contacts_page_new          (NatterAccountService *service);
void                  natter_contacts_page_reload       (NatterContactsPage   *self);
guint                 natter_contacts_page_get_n_requests (NatterContactsPage *self);
/* The contacts (state contact) as last loaded: NatterAccountUser each. */
GPtrArray            *natter_contacts_page_get_contacts (NatterContactsPage   *self);
/* The contacts' avatars get online dots for @client (#16). */
void                  natter_contacts_page_set_client   (NatterContactsPage   *self,
                                                         NatterClient         *client);

G_END_DECLS
