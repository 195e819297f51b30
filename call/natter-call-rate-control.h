/* natter-call-rate-control.h — the VP8 bitrate, from what the peer reports
 *
 * webrtcbin 1.22 has no congestion controller: this one lowers the
 * encoder's target bitrate on loss and raises it slowly while the path is
 * clean. Loss is the worst of the peer's RTCP receiver reports and of its
 * NACKs (packets asked for again / packets sent).
 *
 * Threads: the packet count and the RTCP arrive on streaming threads;
 * the rest is for the media's main context.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define NATTER_CALL_VIDEO_BITRATE_START 800000
#define NATTER_CALL_VIDEO_BITRATE_MIN   150000
#define NATTER_CALL_VIDEO_BITRATE_MAX   1500000

typedef struct _NatterCallRateControl NatterCallRateControl;

NatterCallRateControl *natter_call_rate_control_new        (void);
void                   natter_call_rate_control_free       (NatterCallRateControl *self);

/* Controls @encoder (vp8enc, at NATTER_CALL_VIDEO_BITRATE_START) and
 * counts the packets its payloader sends through @payloader_src. */
void                   natter_call_rate_control_attach     (NatterCallRateControl *self,
                                                            GstElement            *encoder,
                                                            GstPad                *payloader_src);
/* Listens to the peer's RTCP on the sessions of @webrtc's rtpbin that
 * exist (after negotiation); call again until both are there. */
void                   natter_call_rate_control_watch_rtcp (NatterCallRateControl *self,
                                                            GstElement            *webrtc);
/* Once a second: every few seconds, while an encoder is attached, adapts
 * its bitrate to what was reported since the last time. */
void                   natter_call_rate_control_tick       (NatterCallRateControl *self);
/* The current target (bit/s); 0 when no encoder is attached. */
guint                  natter_call_rate_control_get_bitrate (NatterCallRateControl *self);
/* Lets go of the encoder and the sessions (the media stops). */
void                   natter_call_rate_control_stop       (NatterCallRateControl *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NatterCallRateControl, natter_call_rate_control_free)

G_END_DECLS
