/* natter-cli-call.h — the call commands of natter-cli
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <natter.h>

G_BEGIN_DECLS

/* argv[0] is the command name. @client is connected (status CONNECTED).
 * Return the exit status. */
int natter_cli_call_run   (NatterClient  *client,
                           int            argc,
                           char         **argv);
int natter_cli_answer_run (NatterClient  *client,
                           int            argc,
                           char         **argv);

G_END_DECLS
