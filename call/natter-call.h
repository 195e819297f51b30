/* natter-call.h — one one-to-one voice or video call
 *
 * States, media types and end reasons are the reference numbers of
 * proto/natter-codes.h. The state only changes through one setter and every
 * change is announced by `state-changed (new, old)`.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "natter-codes.h"
#include "natter-call-enums.h"
#include "natter-video-sink.h"

G_BEGIN_DECLS

typedef enum {
  NATTER_CALL_DEVICE_CAMERA,
  NATTER_CALL_DEVICE_MICROPHONE,
  NATTER_CALL_DEVICE_SPEAKER,
} NatterCallDevice;

/* The devices a call goes without (bit 1 << NatterCallDevice): none found,
 * refusing to open (busy) or failed mid-call. Silence, black frames or a
 * sink that drops the sound took their place; the call still connects. */
typedef enum {
  NATTER_CALL_MISSING_NONE       = 0,
  NATTER_CALL_MISSING_CAMERA     = 1 << NATTER_CALL_DEVICE_CAMERA,
  NATTER_CALL_MISSING_MICROPHONE = 1 << NATTER_CALL_DEVICE_MICROPHONE,
  NATTER_CALL_MISSING_SPEAKER    = 1 << NATTER_CALL_DEVICE_SPEAKER,
} NatterCallMissing;

/* The steps of setting a call up, in the order they usually happen; each
 * is timed once (natter_call_get_phase_time()) so the time to the first
 * frame can be taken apart. "Sent" and "received" are the signalling. */
typedef enum {
  NATTER_CALL_PHASE_STARTED,            /* placed; the invite arrived */
  NATTER_CALL_PHASE_PIPELINE,           /* the media pipeline plays */
  NATTER_CALL_PHASE_DESCRIPTION,        /* our offer or answer exists */
  NATTER_CALL_PHASE_GATHERING_STARTED,  /* our first ICE candidate */
  NATTER_CALL_PHASE_INVITE,             /* the invite sent (caller) */
  NATTER_CALL_PHASE_RINGING,            /* Ringing received (caller) or sent */
  NATTER_CALL_PHASE_ACCEPTED,           /* Accept received (caller); accepted */
  NATTER_CALL_PHASE_ANSWER_SENT,        /* Accept with our answer sent (callee) */
  NATTER_CALL_PHASE_REMOTE_DESCRIPTION, /* the peer's offer or answer applied */
  NATTER_CALL_PHASE_GATHERING_DONE,
  NATTER_CALL_PHASE_ICE_CONNECTED,      /* a candidate pair works */
  NATTER_CALL_PHASE_DTLS_CONNECTED,     /* ICE and DTLS: the peer connection is up */
  NATTER_CALL_PHASE_FIRST_RTP,          /* the first media packet, decrypted */
  NATTER_CALL_PHASE_FIRST_FRAME,        /* the first decoded remote frame */
  NATTER_CALL_N_PHASES
} NatterCallPhase;

/* "started", "pipeline", ... "first-frame" */
const char          *natter_call_phase_to_string    (NatterCallPhase phase);

/* Display names of the devices of @kind that GstDeviceMonitor knows now
 * (the process's monitor: only its first use blocks while it probes). */
GStrv                natter_call_list_devices       (NatterCallDevice kind);

#define NATTER_TYPE_CALL (natter_call_get_type ())
G_DECLARE_FINAL_TYPE (NatterCall, natter_call, NATTER, CALL, GObject)

const char          *natter_call_get_call_id        (NatterCall *self);
const char          *natter_call_get_peer_id        (NatterCall *self);
const char          *natter_call_get_self_id        (NatterCall *self);
gboolean             natter_call_get_outgoing       (NatterCall *self);
NatterCallMediaType  natter_call_get_media_type     (NatterCall *self);
NatterCallState      natter_call_get_state          (NatterCall *self);
NatterCallReason     natter_call_get_reason         (NatterCall *self);
/* Wall clock, ms since the epoch: when the call was placed or the invite
 * arrived; connected: 0 until it is active. */
gint64               natter_call_get_start_time     (NatterCall *self);
gint64               natter_call_get_connected_time (NatterCall *self);
/* ms from connected to ended (or to now while active). */
gint64               natter_call_get_duration       (NatterCall *self);
/* ms from the start of the call to the first decoded remote video frame
 * (first audio for audio calls); -1 until then. */
gint64               natter_call_get_setup_time     (NatterCall *self);
/* g_get_monotonic_time() when @phase was reached (the system's monotonic
 * clock: comparable between processes on one machine); 0 if not (yet). */
gint64               natter_call_get_phase_time     (NatterCall      *self,
                                                     NatterCallPhase  phase);
gboolean             natter_call_get_muted          (NatterCall *self);
gboolean             natter_call_get_camera_enabled (NatterCall *self);
gboolean             natter_call_get_remote_camera_enabled (NatterCall *self);

/* NULL for audio calls and before the media exists. */
NatterVideoSink     *natter_call_get_remote_video   (NatterCall *self);
NatterVideoSink     *natter_call_get_local_video    (NatterCall *self);
guint64              natter_call_get_video_frames_received (NatterCall *self);
guint64              natter_call_get_audio_buffers_received (NatterCall *self);

/* Incoming calls only, in INCOMING. */
void                 natter_call_accept             (NatterCall *self);
void                 natter_call_reject             (NatterCall *self);
/* Cancel (dialing), reject (incoming) or hang up (active). */
void                 natter_call_hangup             (NatterCall *self);
void                 natter_call_set_muted          (NatterCall *self,
                                                     gboolean    muted);
/* The device (display name) the call's media uses for @kind; NULL: the
 * system default, or no media yet. */
const char          *natter_call_get_device         (NatterCall       *self,
                                                     NatterCallDevice  kind);
/* Switches the camera or microphone of a live call (display name; NULL or
 * "" for the default); the device opens on a worker and takes over when
 * open (the old one stays if it cannot be opened). FALSE when the call is
 * not live. */
gboolean             natter_call_set_device         (NatterCall       *self,
                                                     NatterCallDevice  kind,
                                                     const char       *name);
/* The same, saying when the new device is in the call, or why not
 * (G_IO_ERROR_NOT_FOUND: it cannot be opened; G_IO_ERROR_CLOSED: the call
 * is not live). */
void                 natter_call_set_device_async   (NatterCall          *self,
                                                     NatterCallDevice     kind,
                                                     const char          *name,
                                                     GCancellable        *cancellable,
                                                     GAsyncReadyCallback  callback,
                                                     gpointer             user_data);
gboolean             natter_call_set_device_finish  (NatterCall          *self,
                                                     GAsyncResult        *result,
                                                     GError             **error);
/* The devices missing (NatterCallMissing) as names, in this order:
 * "microphone", "camera" (video calls), "speaker"; empty when none. The
 * `missing-devices` property (notified) holds the same; `devices-changed`
 * is emitted when it changes and when devices are plugged in or removed
 * (natter_call_list_devices() has them). */
GStrv                natter_call_get_missing_devices (NatterCall *self);
/* Black frames while off; the peer learns it from RC:VCModifyMedia. */
void                 natter_call_set_camera_enabled (NatterCall *self,
                                                     gboolean    enabled);

G_END_DECLS

#include "natter-call-manager.h"
