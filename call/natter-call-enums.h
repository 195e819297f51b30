/* natter-call-enums.h — GTypes for the call enums of proto/natter-codes.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib-object.h>

#include "natter-codes.h"

/* libnatter registers the call enums with the others of natter-codes.h. */
#include "natter-enums.h"

G_BEGIN_DECLS

/* "dialing", "active", ... (the value nick) */
const char *natter_call_state_to_string  (NatterCallState  state);
const char *natter_call_reason_to_string (NatterCallReason reason);

G_END_DECLS
