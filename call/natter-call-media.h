/* natter-call-media.h — the media of one call: a webrtcbin pipeline
 *
 * Audio: source → webrtcdsp (echo cancellation with its webrtcechoprobe in
 * the playback path, noise suppression, AGC) → Opus; video: camera → VP8
 * (deadline=1, threads=1). Both transceivers are sendrecv from the start
 * (webrtcbin 1.22 cannot renegotiate direction), NACK/RTX on, DTLS-SRTP.
 * Mute sends silence and camera off sends black frames (the camera itself
 * is closed meanwhile), so RTP keeps flowing and a silent peer means a
 * vanished peer. A microphone, camera or speaker that is missing, will not
 * start or fails mid-call is replaced the same way (silence, black frames,
 * a fakesink) and reported by natter_call_media_get_missing(): devices
 * never stop a call.
 *
 * Signals are emitted on the main context the media was created in.
 *
 * The environment it reads (test sources, ICE settings, the fault
 * injectors of the tests) is read when it is created: see
 * natter-call-media-options.h.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gst/gst.h>

#include "natter-call.h"

G_BEGIN_DECLS

#define NATTER_TYPE_CALL_MEDIA (natter_call_media_get_type ())
G_DECLARE_FINAL_TYPE (NatterCallMedia, natter_call_media, NATTER, CALL_MEDIA, GObject)

NatterCallMedia *natter_call_media_new                  (NatterCallMediaType  media_type);

/* Generates, on a thread of its own, the DTLS certificate that every call
 * of the process shares (RSA 2048: 0.1–0.2 s that would otherwise delay
 * the first offer or answer), and loads the plugins and element classes a
 * call uses (0.3–0.6 s of the first setup otherwise, libsrtp's self-tests
 * the most). Idempotent; call it early. */
void             natter_call_media_prepare              (void);
/* Blocks until that certificate exists (command-line tools, before their
 * first call; never on a GTK main thread). */
void             natter_call_media_prepare_finish       (void);
/* The same without timing the encoder, for a call about to run (the
 * probe's 1280×720 frames would take its CPU): the app's first call. */
void             natter_call_media_prepare_for_call     (void);
/* Times the encoder on a thread, once, if nothing did (after a call). */
void             natter_call_media_probe_encoder        (void);
/* Blocks until a preparation or probe started before is done; starts none
 * (an app quitting: exiting while the key is made crashes in OpenSSL). */
void             natter_call_media_prepare_wait         (void);

/* The camera's size when NATTER_CALL_VIDEO_CAPS does not set one:
 * 1280×720 when natter_call_media_prepare() measured that this machine
 * encodes a moving 1280×720 frame in at most 4 ms of the encoder thread's
 * CPU (12 % of a core at 30 fps), 640×480 otherwise and until measured.
 * @frame_cpu_us: that measurement in µs (0: not yet, -1: it failed). */
void             natter_call_media_get_video_size       (int                 *width,
                                                         int                 *height,
                                                         gint64              *frame_cpu_us);

/* Before starting: a STUN or TURN server as RFC 7064/7065 URI
 * (stun:host:port, turn:host:port?transport=udp, turns:...) with the TURN
 * credentials, relay-only, and the local addresses to gather on (all when
 * none). FALSE for a URI webrtcbin cannot use. */
gboolean         natter_call_media_add_ice_server       (NatterCallMedia     *self,
                                                         const char          *uri,
                                                         const char          *username,
                                                         const char          *password);
/* The device chosen for @kind (NULL: the system default). */
const char      *natter_call_media_get_device           (NatterCallMedia     *self,
                                                         NatterCallDevice     kind);
/* The device (display name; NULL or "" for the first/system default) to
 * use. Before the start it picks the device; during a call a camera or
 * microphone is opened on a worker and then switched (test sources at
 * once), the speaker from its next buffer on. FALSE when a test source
 * cannot be made (the old one stays). With
 * NATTER_CALL_TEST_SOURCES the name is a videotestsrc pattern or an
 * audiotestsrc wave ("black", "snow", "silence"...). The same name again
 * changes nothing. */
gboolean         natter_call_media_set_device           (NatterCallMedia     *self,
                                                         NatterCallDevice     kind,
                                                         const char          *name);
/* The same; a real camera or microphone is opened on a worker (the
 * above returns TRUE at once then, and the old one stays if it fails):
 * here the result says whether the new one is in the call now
 * (G_IO_ERROR_NOT_FOUND when it cannot be opened). A later choice makes
 * this one succeed without effect. */
void             natter_call_media_set_device_async     (NatterCallMedia     *self,
                                                         NatterCallDevice     kind,
                                                         const char          *name,
                                                         GCancellable        *cancellable,
                                                         GAsyncReadyCallback  callback,
                                                         gpointer             user_data);
gboolean         natter_call_media_set_device_finish    (NatterCallMedia     *self,
                                                         GAsyncResult        *result,
                                                         GError             **error);
void             natter_call_media_set_relay_only       (NatterCallMedia     *self,
                                                         gboolean             relay_only);
void             natter_call_media_add_local_address    (NatterCallMedia     *self,
                                                         const char          *address);

/* Build and start the pipeline; `local-description` follows with the offer
 * or the answer to @offer_sdp. FALSE with a GError when a device or an
 * element is missing, or the offer is not SDP. */
gboolean         natter_call_media_start_offer          (NatterCallMedia     *self,
                                                         GError             **error);
gboolean         natter_call_media_start_answer         (NatterCallMedia     *self,
                                                         const char          *offer_sdp,
                                                         GError             **error);
gboolean         natter_call_media_set_remote_answer    (NatterCallMedia     *self,
                                                         const char          *answer_sdp,
                                                         GError             **error);
/* Queued until the remote description is set. */
void             natter_call_media_add_remote_candidate (NatterCallMedia     *self,
                                                         guint                mline,
                                                         const char          *candidate);
/* Tears the pipeline down; no signal is emitted afterwards. */
void             natter_call_media_stop                 (NatterCallMedia     *self);

/* NatterCallMissing; `devices-changed` says when it changes, and when a
 * device was plugged in or removed. A microphone plugged in while there
 * was none is used at once; a camera only once chosen
 * (natter_call_media_set_device()); a speaker plugged in while there was
 * none plays the call at once. */
guint            natter_call_media_get_missing          (NatterCallMedia     *self);

void             natter_call_media_set_muted            (NatterCallMedia     *self,
                                                         gboolean             muted);
void             natter_call_media_set_camera_enabled   (NatterCallMedia     *self,
                                                         gboolean             enabled);

/* Whether the camera device is open (FALSE while the camera is off: its
 * place is taken by black frames, for audio calls and before the start). */
gboolean         natter_call_media_get_camera_open      (NatterCallMedia     *self);

NatterVideoSink *natter_call_media_get_remote_video     (NatterCallMedia     *self);
NatterVideoSink *natter_call_media_get_local_video      (NatterCallMedia     *self);
guint64          natter_call_media_get_video_frames_received  (NatterCallMedia *self);
guint64          natter_call_media_get_audio_buffers_received (NatterCallMedia *self);
/* g_get_monotonic_time() of the first decoded remote frame (video, or audio
 * for audio calls); 0 before. */
gint64           natter_call_media_get_first_frame_time (NatterCallMedia     *self);
/* g_get_monotonic_time() of the media's phases of the call (pipeline,
 * description, gathering, remote description, ICE, DTLS, first RTP, first
 * frame); 0 before, and for the others. */
gint64           natter_call_media_get_phase_time       (NatterCallMedia     *self,
                                                         NatterCallPhase      phase);
/* RTX packets sent in answer to the peer's NACKs, and RTX packets
 * received that repaired our losses (0 before the pipeline exists). */
void             natter_call_media_get_retransmissions  (NatterCallMedia     *self,
                                                         guint64             *sent,
                                                         guint64             *received);
/* Current VP8 target bitrate (bit/s), 0 for audio calls. */
guint            natter_call_media_get_video_bitrate    (NatterCallMedia     *self);

G_END_DECLS
