/* natter-call-test-hooks.h — the faults the call tests inject
 *
 * A lossy path (the test kernels have no netem) and devices that fail as
 * unplugged ones do, put into a real pipeline by NatterCallMedia when its
 * options (natter-call-media-options.h) ask for them: only ever with test
 * sources.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* Drops @percent % of the RTP packets of payload type @pt that pass @pad
 * (single packets and lists of them). */
void natter_call_test_hooks_drop_packets          (GstPad     *pad,
                                                   guint       pt,
                                                   int         percent);
/* The same on the way in, on @webrtc's rtpbin input (after SRTP; bundled,
 * everything arrives on session 0). Once connected: the sessions exist. */
void natter_call_test_hooks_drop_received_packets (GstElement *webrtc,
                                                   guint       pt,
                                                   int         percent);
/* Each RTCP compound @webrtc receives (session 0) also reports an SSRC
 * never seen before, as when a peer's retransmission stream (RTX) starts,
 * and says BYE for the previous one. Once connected. */
void natter_call_test_hooks_add_new_sources       (GstElement *webrtc);
/* @source posts the error of an unplugged device after @buffers buffers. */
void natter_call_test_hooks_fail_after            (GstElement *source,
                                                   int         buffers);

G_END_DECLS
