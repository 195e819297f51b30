/* natter-call-private.h — the events a NatterCall reacts to
 *
 * For hosts (NatterCallManager) and tests. Every function is one event; the
 * call answers by changing state and acting through its NatterCallHost.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "natter-call.h"
#include "natter-call-host.h"

G_BEGIN_DECLS

/* Outgoing: IDLE, call natter_call_start() next. */
NatterCall *natter_call_new_outgoing          (NatterCallHost      *host,
                                               const char          *call_id,
                                               const char          *self_id,
                                               const char          *peer_id,
                                               NatterCallMediaType  media_type);
/* Incoming, from an RC:VCInvite content: IDLE, call natter_call_start()
 * next. NULL with NATTER_CODE_INVALID_PARAMETER when @invite is malformed. */
NatterCall *natter_call_new_incoming          (NatterCallHost      *host,
                                               const char          *self_id,
                                               const char          *peer_id,
                                               JsonObject          *invite,
                                               GError             **error);

/* IDLE → DIALING (sends the invite once the offer exists) or
 * IDLE → INCOMING (answers Ringing). */
void        natter_call_start                 (NatterCall          *self);

/* A call message (RC:VC*, NT:VCIce) for this call id, from @sender_id:
 * the peer, or the user's own other device. */
void        natter_call_handle_message        (NatterCall          *self,
                                               const char          *sender_id,
                                               const char          *object_name,
                                               JsonObject          *content);
/* Media: the local offer/answer, a gathered candidate, the first remote
 * media, failure (ICE failed, no media for a while; the host also reports
 * a peer that went offline while the call rang). */
void        natter_call_handle_local_description (NatterCall       *self,
                                               const char          *sdp);
void        natter_call_handle_local_candidate (NatterCall         *self,
                                               guint                mline,
                                               const char          *candidate);
void        natter_call_handle_media_connected (NatterCall         *self);
void        natter_call_handle_media_failed   (NatterCall          *self);
void        natter_call_handle_timer          (NatterCall          *self,
                                               NatterCallTimer      timer);
/* The host can give media now (natter_call_host_media_ready() said no
 * before): an accepted call waiting for it answers with its media. */
void        natter_call_handle_media_ready    (NatterCall          *self);
/* A signalling message could not be sent (not connected, refused). */
void        natter_call_handle_send_failed    (NatterCall          *self,
                                               const char          *object_name);
/* IDLE (incoming, without ringing) or INCOMING → ENDED(4): another call
 * is live. */
void        natter_call_refuse_busy           (NatterCall          *self);

typedef enum {
  NATTER_CALL_GLARE_NONE,   /* not a glare: the invite is a second call */
  NATTER_CALL_GLARE_WIN,    /* our call stays; ignore their invite */
  NATTER_CALL_GLARE_LOSE,   /* our call ended quietly; take theirs */
} NatterCallGlare;

/* An invite @other_call_id from @sender_id arrived while this call exists.
 * Both sides dial each other: the smaller call id wins on both sides. */
NatterCallGlare natter_call_resolve_glare     (NatterCall          *self,
                                               const char          *sender_id,
                                               const char          *other_call_id);
/* The user already wanted this call (lost glare): accept on start. */
void        natter_call_set_auto_accept       (NatterCall          *self,
                                               gboolean             auto_accept);

/* This device's id, said in Ringing so the caller can tell when the
 * device that rings goes away (set before natter_call_start()). */
void        natter_call_set_self_device_id    (NatterCall          *self,
                                               const char          *device_id);
/* Caller: the peer's devices that said Ringing (NULL-terminated; empty
 * when none said which). */
const char * const *natter_call_get_ringing_devices (NatterCall        *self);

/* The RC:VCSummary content of an ended call. */
JsonObject *natter_call_build_summary         (NatterCall          *self);

G_END_DECLS
