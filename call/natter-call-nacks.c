/* natter-call-nacks.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gst/rtp/rtp.h>

#include "natter-call-nacks.h"

typedef struct
{
  guint32  ssrc;
  guint16  seqnum;
  gboolean sent;
  gint64   deadline;   /* monotonic µs: useless after */
} Request;

typedef struct
{
  GMutex   lock;
  GArray  *requests;   /* Request, in the order the jitterbuffers asked */
  GObject *session;    /* the RTPSession, unowned: as long-lived as its element */
} Nacks;

static void
nacks_clear (Nacks *nacks)
{
  g_mutex_clear (&nacks->lock);
  g_array_unref (nacks->requests);
}

static Nacks *
nacks_ref (Nacks *nacks)
{
  return g_atomic_rc_box_acquire (nacks);
}

static void
nacks_unref (gpointer nacks)
{
  g_atomic_rc_box_release_full (nacks, (GDestroyNotify) nacks_clear);
}

static void
nacks_unref_closure (gpointer  nacks,
                     GClosure *closure)
{
  nacks_unref (nacks);
}

/* The session's early RTCP within @delay_us, as rtp_session_request_nack()
 * asks for it (a request it may turn down: then the next regular RTCP). */
static void
ask_for_rtcp (Nacks  *nacks,
              gint64  delay_us)
{
  g_signal_emit_by_name (nacks->session, "send-rtcp", (guint64) MAX (delay_us, 0) * GST_USECOND);
}

/* A jitterbuffer's GstRTPRetransmissionRequest, on its way up after
 * rtprtxreceive took note of it: kept instead of reaching the session. */
static GstPadProbeReturn
take_request (GstPad          *pad,
              GstPadProbeInfo *info,
              gpointer         user_data)
{
  Nacks *nacks = user_data;
  const GstStructure *structure = gst_event_get_structure (GST_PAD_PROBE_INFO_EVENT (info));
  guint ssrc, seqnum, delay = 0, deadline = 100, avg_rtt = 40, max_delay;
  Request request = { 0 };

  if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) != GST_EVENT_CUSTOM_UPSTREAM ||
      structure == NULL || !gst_structure_has_name (structure, "GstRTPRetransmissionRequest") ||
      !gst_structure_get_uint (structure, "ssrc", &ssrc) ||
      !gst_structure_get_uint (structure, "seqnum", &seqnum))
    return GST_PAD_PROBE_OK;
  gst_structure_get_uint (structure, "delay", &delay);
  gst_structure_get_uint (structure, "deadline", &deadline);
  gst_structure_get_uint (structure, "avg-rtt", &avg_rtt);

  /* as gstrtpsession.c: the time left to receive it, less a round trip (ms) */
  max_delay = deadline > delay ? deadline - delay : deadline;
  max_delay = max_delay > avg_rtt ? max_delay - avg_rtt : 0;

  request.ssrc = ssrc;
  request.seqnum = seqnum;
  request.deadline = g_get_monotonic_time () + (gint64) max_delay * 1000;
  g_mutex_lock (&nacks->lock);
  g_array_append_val (nacks->requests, request);
  g_mutex_unlock (&nacks->lock);

  ask_for_rtcp (nacks, (gint64) max_delay * 1000);
  return GST_PAD_PROBE_DROP;
}

static guint32
sender_ssrc (GstRTCPBuffer *rtcp,
             gboolean      *found)
{
  GstRTCPPacket packet;
  guint32 ssrc = 0;

  *found = gst_rtcp_buffer_get_first_packet (rtcp, &packet);
  if (!*found)
    return 0;
  if (gst_rtcp_packet_get_type (&packet) == GST_RTCP_TYPE_SR)
    gst_rtcp_packet_sr_get_sender_info (&packet, &ssrc, NULL, NULL, NULL, NULL);
  else if (gst_rtcp_packet_get_type (&packet) == GST_RTCP_TYPE_RR)
    ssrc = gst_rtcp_packet_rr_get_ssrc (&packet);
  else
    *found = FALSE;
  return ssrc;
}

/* One Generic NACK packet (RFC 4585 6.2.1) for the SSRC of @first's
 * request: PID, and the 16 seqnums after it in BLP, as many FCIs as fit.
 * FALSE when the buffer is full. */
static gboolean
add_nack_packet (GstRTCPBuffer *rtcp,
                 guint32        sender,
                 GArray        *requests,
                 guint          first)
{
  guint32 ssrc = g_array_index (requests, Request, first).ssrc;
  GstRTCPPacket packet;
  guint16 fcis = 0;

  if (!gst_rtcp_buffer_add_packet (rtcp, GST_RTCP_TYPE_RTPFB, &packet))
    return FALSE;
  gst_rtcp_packet_fb_set_type (&packet, GST_RTCP_RTPFB_TYPE_NACK);
  gst_rtcp_packet_fb_set_sender_ssrc (&packet, sender);
  gst_rtcp_packet_fb_set_media_ssrc (&packet, ssrc);

  for (guint i = first; i < requests->len; i++)
    {
      Request *pid = &g_array_index (requests, Request, i);
      guint16 blp = 0;
      guint8 *fci;

      if (pid->sent || pid->ssrc != ssrc)
        continue;
      if (!gst_rtcp_packet_fb_set_fci_length (&packet, fcis + 1))
        break;
      pid->sent = TRUE;
      for (guint j = i + 1; j < requests->len; j++)
        {
          Request *other = &g_array_index (requests, Request, j);
          guint16 diff = other->seqnum - pid->seqnum;   /* wraps as seqnums do */

          if (other->sent || other->ssrc != ssrc || diff > 16)
            continue;
          if (diff > 0)
            blp |= 1 << (diff - 1);
          other->sent = TRUE;
        }
      fci = gst_rtcp_packet_fb_get_fci (&packet) + 4 * fcis;
      GST_WRITE_UINT16_BE (fci, pid->seqnum);
      GST_WRITE_UINT16_BE (fci + 2, blp);
      fcis++;
    }

  if (fcis == 0)
    {
      gst_rtcp_packet_remove (&packet);
      return FALSE;
    }
  return TRUE;
}

/* The session is about to send an RTCP packet (on its RTCP thread, the
 * session unlocked): the NACKs still useful go in; TRUE keeps an early
 * packet from being suppressed. */
static gboolean
add_nacks (GObject   *session,
           GstBuffer *buffer,
           gboolean   early,
           gpointer   user_data)
{
  Nacks *nacks = user_data;
  GstRTCPBuffer rtcp = GST_RTCP_BUFFER_INIT;
  g_autoptr(GArray) taken = NULL;
  gint64 now = g_get_monotonic_time ();
  gint64 next_deadline = G_MAXINT64;
  gboolean added = FALSE;
  gboolean found;
  guint32 sender;

  g_mutex_lock (&nacks->lock);
  taken = g_steal_pointer (&nacks->requests);
  nacks->requests = g_array_new (FALSE, FALSE, sizeof (Request));
  g_mutex_unlock (&nacks->lock);

  /* too late to ask, but as rtpsession.c, an early packet keeps the newest
   * request of each SSRC: when the round trip grows past the deadlines,
   * sending no NACK at all would keep the jitterbuffer's RTX RTT high and
   * every later request late too (and the video would stay broken) */
  for (guint i = taken->len; i > 0; i--)
    {
      Request *request = &g_array_index (taken, Request, i - 1);
      gboolean newest = TRUE;

      for (guint j = i; j < taken->len && newest; j++)
        newest = g_array_index (taken, Request, j).ssrc != request->ssrc;
      if (request->deadline < now && !(early && newest))
        request->sent = TRUE;
    }

  if (taken->len > 0 && gst_rtcp_buffer_map (buffer, GST_MAP_READWRITE, &rtcp))
    {
      sender = sender_ssrc (&rtcp, &found);
      for (guint i = 0; found && i < taken->len; i++)
        if (!g_array_index (taken, Request, i).sent)
          {
            if (!add_nack_packet (&rtcp, sender, taken, i))
              break;
            added = TRUE;
          }
      gst_rtcp_buffer_unmap (&rtcp);
    }

  /* what did not fit waits for the next packet, before the newer requests */
  g_mutex_lock (&nacks->lock);
  for (guint i = taken->len; i > 0; i--)
    {
      Request *left = &g_array_index (taken, Request, i - 1);

      if (left->sent)
        continue;
      next_deadline = MIN (next_deadline, left->deadline);
      g_array_prepend_val (nacks->requests, *left);
    }
  g_mutex_unlock (&nacks->lock);
  if (next_deadline != G_MAXINT64)
    ask_for_rtcp (nacks, next_deadline - now);
  return added;
}

void
natter_call_nacks_attach (GstElement *rtpbin,
                          guint       session_id)
{
  static GMutex attaching;
  g_autoptr(GstElement) element = NULL;
  g_autoptr(GObject) session = NULL;
  g_autoptr(GstPad) pad = NULL;
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&attaching);
  Nacks *nacks;

  g_signal_emit_by_name (rtpbin, "get-session", session_id, &element);
  if (element == NULL || g_object_get_data (G_OBJECT (element), "natter-nacks") != NULL)
    return;
  g_signal_emit_by_name (rtpbin, "get-internal-session", session_id, &session);
  pad = gst_element_get_static_pad (element, "recv_rtp_src");
  if (session == NULL || pad == NULL)
    {
      g_warning ("RTP session %u: no NACKs", session_id);
      return;
    }

  nacks = g_atomic_rc_box_new0 (Nacks);
  g_mutex_init (&nacks->lock);
  nacks->requests = g_array_new (FALSE, FALSE, sizeof (Request));
  nacks->session = session;
  g_object_set_data_full (G_OBJECT (element), "natter-nacks", nacks, nacks_unref);
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, take_request, nacks_ref (nacks), nacks_unref);
  g_signal_connect_data (session, "on-sending-rtcp", G_CALLBACK (add_nacks), nacks_ref (nacks),
                         nacks_unref_closure, 0);
}
