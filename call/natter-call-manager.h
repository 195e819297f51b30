/* natter-call-manager.h — the calls of one signed-in user
 *
 * Watches the NatterClient for call signalling (RC:VCInvite, RC:VCRinging,
 * RC:VCAccept, RC:VCHangup, RC:VCModifyMedia, NT:VCIce), owns the calls,
 * refuses a second call as busy (4), lets a glare (both dial each other)
 * end in one call, fetches STUN/TURN credentials from natterd, and stores
 * each ended call's RC:VCSummary in the conversation.
 *
 * Signals: incoming-call (NatterCall *call) — a new call in INCOMING;
 * call-finished (NatterCall *call, NatterMessage *summary) — a call ended
 * and its summary is stored (summary NULL if there is none).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <natter.h>

#include "natter-call.h"

G_BEGIN_DECLS

#define NATTER_TYPE_CALL_MANAGER (natter_call_manager_get_type ())
G_DECLARE_FINAL_TYPE (NatterCallManager, natter_call_manager, NATTER, CALL_MANAGER, GObject)

NatterCallManager *natter_call_manager_new              (NatterClient        *client);

NatterClient      *natter_call_manager_get_client       (NatterCallManager   *self);
/* The live call (dialing, incoming, ringing or active), or NULL. */
NatterCall        *natter_call_manager_get_current_call (NatterCallManager   *self);

/* Dials @peer_id; the call (owned by the manager, transfer none) starts in
 * DIALING. Errors in NATTER_CLIENT_ERROR: 51002 when a call is already
 * live, 30001 when not connected, 33003 for a bad peer id. */
NatterCall        *natter_call_manager_start_call       (NatterCallManager   *self,
                                                         const char          *peer_id,
                                                         NatterCallMediaType  media_type,
                                                         GError             **error);

/* Devices (display names, "" for the default) for the next calls and, for
 * camera and microphone, the live one. Also the properties "camera",
 * "microphone", "speaker" (the app binds them to its GSettings). */
void               natter_call_manager_set_device       (NatterCallManager   *self,
                                                         NatterCallDevice     kind,
                                                         const char          *name);

/* Relay-only ICE (through TURN) for the next calls; also
 * NATTER_CALL_ICE_POLICY=relay, see natter-call-media-options.h. */
void               natter_call_manager_set_relay_only   (NatterCallManager   *self,
                                                         gboolean             relay_only);

G_END_DECLS
