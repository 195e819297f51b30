/* natter-call-media-options.h — what the environment asks of call media
 *
 * Every environment variable the call media reads, read in one place: each
 * NatterCallMedia loads them once, when it is created (the tests change the
 * fault injectors from one call to the next in one process).
 *
 * For tests and benchmarks:
 *   NATTER_CALL_TEST_SOURCES=1     audiotestsrc/videotestsrc, fakesink audio
 *   NATTER_CALL_VIDEO_CAPS=WxH@F   video size and rate (otherwise 30 fps at
 *                                  natter_call_media_get_video_size())
 *   NATTER_CALL_ICE_ADDRESSES=a,b  only gather on these local addresses
 *   NATTER_CALL_ICE_POLICY=relay   relay-only ICE transport policy
 *   NATTER_CALL_STUN=stun://h:p    extra STUN server
 *   NATTER_CALL_TURN=turn://u:p@h:p extra TURN server
 *   NATTER_CALL_DEBUG_SDP=1        print offers and answers to stderr
 *
 * Fault injectors (natter-call-test-hooks.h), only with test sources:
 *   NATTER_CALL_TEST_DROP_PERCENT=N  drop N % of the outgoing video
 *                                  packets (a lossy path)
 *   NATTER_CALL_TEST_RECV_DROP_PERCENT=N  drop N % of the incoming video
 *                                  packets once connected (loss that RTX
 *                                  can repair)
 *   NATTER_CALL_TEST_NEW_SOURCES=1  every RTCP packet that comes in also
 *                                  reports an SSRC never seen before
 *   NATTER_CALL_TEST_CAMERA_FAILS_AFTER=N  the camera fails after N frames
 *                                  (unplugged)
 *   NATTER_CALL_TEST_MICROPHONE_FAILS_AFTER=N  the same for the microphone
 *                                  (N buffers of 10 ms)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  gboolean  test_sources;
  int       video_width;
  int       video_height;
  int       video_fps;
  gboolean  video_caps_set;     /* by NATTER_CALL_VIDEO_CAPS; otherwise measured */
  char     *stun_server;        /* webrtcbin form; NULL: none */
  char     *turn_server;
  GStrv     ice_addresses;      /* NULL: gather on all */
  gboolean  relay_only;
  gboolean  debug_sdp;

  /* The fault injectors; 0: off (always without test sources). */
  int       drop_percent;
  int       recv_drop_percent;
  gboolean  new_sources;
  int       camera_fails_after;
  int       microphone_fails_after;
} NatterCallMediaOptions;

void natter_call_media_options_load  (NatterCallMediaOptions *options);
void natter_call_media_options_clear (NatterCallMediaOptions *options);

G_END_DECLS
