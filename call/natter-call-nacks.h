/* natter-call-nacks.h — NACKs sent without the session's NACK scheduler
 *
 * The jitterbuffers ask for retransmissions (do-retransmission) and
 * rtprtxreceive takes note of what they asked for, as before. But
 * gst-plugins-good 1.22's RTPSession, once it holds NACKs it could not
 * send yet, unlocks itself in the middle of iterating its sources
 * (rtp_session_on_timeout → schedule_remaining_nacks): a source that
 * arrives then (the peer's RTX stream as it starts, a new member) breaks
 * the iteration: GLib-CRITICAL g_hash_table_foreach "version ==
 * hash_table->version", a crash when the table grew. So the requests
 * stop at the session's element and never become its NACKs: they are
 * kept here, the session is asked for early RTCP ("send-rtcp", which
 * iterates nothing), and the generic NACKs (RFC 4585 6.2.1) go into its
 * next RTCP packet from "on-sending-rtcp".
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* Once per session of @rtpbin (again: nothing happens); from
 * "new-jitterbuffer", when the session's element exists. */
void natter_call_nacks_attach (GstElement *rtpbin,
                               guint       session_id);

G_END_DECLS
