/* natter-format-accounts.h — words for accounts, contacts and groups
 *
 * natterd's /account/ refusals and the RC:ContactNtf / RC:GrpNtf notices
 * in the user's language.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <natter.h>

G_BEGIN_DECLS

/* A sentence for a NATTER_ACCOUNT_ERROR (with its code), else
 * natter_format_error(). */
char                 *natter_format_account_error (const GError  *error);
/* The centred notice for an RC:ContactNtf or RC:GrpNtf (@self_id: the
 * signed-in user, who reads "You"); NULL for other messages. */
char                 *natter_format_notice        (NatterMessage *message,
                                                   const char    *self_id);

G_END_DECLS
