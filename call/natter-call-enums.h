/* natter-call-enums.h — GTypes for the call enums of proto/natter-codes.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib-object.h>

#include "natter-codes.h"

/* libnatter registers the call enums with the others of natter-codes.h;
 * until the tree has libnatter, call/ registers them itself. */
#ifdef NATTER_CALL_HAVE_MANAGER
#include "natter-enums.h"
#else
G_BEGIN_DECLS
#define NATTER_TYPE_CALL_STATE (natter_call_state_get_type ())
GType natter_call_state_get_type (void) G_GNUC_CONST;

#define NATTER_TYPE_CALL_REASON (natter_call_reason_get_type ())
GType natter_call_reason_get_type (void) G_GNUC_CONST;

#define NATTER_TYPE_CALL_MEDIA_TYPE (natter_call_media_type_get_type ())
GType natter_call_media_type_get_type (void) G_GNUC_CONST;
G_END_DECLS
#endif

G_BEGIN_DECLS

/* "dialing", "active", ... (the value nick) */
const char *natter_call_state_to_string  (NatterCallState  state);
const char *natter_call_reason_to_string (NatterCallReason reason);

G_END_DECLS
