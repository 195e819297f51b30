/* natter-call-rate-control.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gst/rtp/rtp.h>
#include <string.h>

#include "natter-call-rate-control.h"

/* Seconds between adaptations: a few RTCP reports (one a second) each. */
#define ADAPT_INTERVAL_S 2

struct _NatterCallRateControl
{
  GstElement *encoder;             /* vp8enc */
  guint       video_bitrate;       /* atomic */
  guint       ticks;
  GObject    *rtcp_sessions[2];    /* RTPSession, audio and video */
  gint        worst_fraction_lost; /* atomic, /256 */
  gint        have_reports;        /* atomic: reports since the last adaptation */
  gint        video_sent;          /* atomic: RTP packets since the last adaptation */
  gint        video_nacked;        /* atomic: of those, asked for again by the peer */
  guint32    *nacked_seqnums;      /* bitmap of 65536, under lock: a retry counts once */
  guint       video_ssrc;          /* atomic */
  GMutex      lock;
};

NatterCallRateControl *
natter_call_rate_control_new (void)
{
  NatterCallRateControl *self = g_new0 (NatterCallRateControl, 1);

  g_mutex_init (&self->lock);
  self->nacked_seqnums = g_new0 (guint32, 65536 / 32);
  return self;
}

void
natter_call_rate_control_free (NatterCallRateControl *self)
{
  if (self == NULL)
    return;
  natter_call_rate_control_stop (self);
  g_free (self->nacked_seqnums);
  g_mutex_clear (&self->lock);
  g_free (self);
}

/* The payloader's packets (streaming thread): what the peer's NACKs are
 * measured against. Lists are one frame's packets. */
static GstPadProbeReturn
count_sent_video (GstPad          *pad,
                  GstPadProbeInfo *info,
                  gpointer         user_data)
{
  NatterCallRateControl *self = user_data;
  GstBuffer *first;
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  guint count = 1;

  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER_LIST)
    {
      GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST (info);

      count = gst_buffer_list_length (list);
      first = count > 0 ? gst_buffer_list_get (list, 0) : NULL;
    }
  else
    first = GST_PAD_PROBE_INFO_BUFFER (info);

  if (first != NULL && gst_rtp_buffer_map (first, GST_MAP_READ, &rtp))
    {
      g_atomic_int_set (&self->video_ssrc, gst_rtp_buffer_get_ssrc (&rtp));
      gst_rtp_buffer_unmap (&rtp);
    }
  g_atomic_int_add (&self->video_sent, count);
  return GST_PAD_PROBE_OK;
}

void
natter_call_rate_control_attach (NatterCallRateControl *self,
                                 GstElement            *encoder,
                                 GstPad                *payloader_src)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (GST_IS_ELEMENT (encoder));

  gst_object_replace ((GstObject **) &self->encoder, GST_OBJECT (encoder));
  g_atomic_int_set (&self->video_bitrate, NATTER_CALL_VIDEO_BITRATE_START);
  gst_pad_add_probe (payloader_src, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
                     count_sent_video, self, NULL);
}

/* Under lock: TRUE the first time @seqnum is asked for since the last
 * adaptation. */
static gboolean
first_nack (NatterCallRateControl *self,
            guint16                seqnum)
{
  guint32 bit = 1u << (seqnum % 32);
  gboolean first = (self->nacked_seqnums[seqnum / 32] & bit) == 0;

  self->nacked_seqnums[seqnum / 32] |= bit;
  return first;
}

/* A generic NACK (RFC 4585 6.2.1) for our video: each FCI is a packet id
 * and a bitmask of the 16 that follow. Retries of a packet count once. */
static guint
count_nacked (NatterCallRateControl *self,
              GstRTCPPacket         *packet)
{
  guint8 *fci = gst_rtcp_packet_fb_get_fci (packet);
  guint words = gst_rtcp_packet_fb_get_fci_length (packet);
  guint video_ssrc = g_atomic_int_get (&self->video_ssrc);
  guint count = 0;

  if (fci == NULL || video_ssrc == 0 || gst_rtcp_packet_fb_get_media_ssrc (packet) != video_ssrc)
    return 0;
  g_mutex_lock (&self->lock);
  for (guint i = 0; i < words; i++)
    {
      guint16 pid = GST_READ_UINT16_BE (fci + i * 4);
      guint16 mask = GST_READ_UINT16_BE (fci + i * 4 + 2);

      count += first_nack (self, pid);
      for (guint bit = 0; bit < 16; bit++)
        if (mask & (1u << bit))
          count += first_nack (self, pid + bit + 1);
    }
  g_mutex_unlock (&self->lock);
  return count;
}

/* RTCP from the peer (an rtpbin session's thread): the worst loss any of
 * its report blocks gives for our streams since the last adaptation.
 * Parsed here because webrtcbin 1.22's get-stats keeps one report block per
 * remote source and, with bundle, often the audio one for video too
 * (remote-inbound-rtp fraction-lost stays 0 while video is lost). */
static void
on_receiving_rtcp (GObject   *session,
                   GstBuffer *buffer,
                   gpointer   user_data)
{
  NatterCallRateControl *self = user_data;
  GstRTCPBuffer rtcp = GST_RTCP_BUFFER_INIT;
  GstRTCPPacket packet;
  int worst;

  if (!gst_rtcp_buffer_map (buffer, GST_MAP_READ, &rtcp))
    return;
  for (gboolean more = gst_rtcp_buffer_get_first_packet (&rtcp, &packet); more;
       more = gst_rtcp_packet_move_to_next (&packet))
    {
      GstRTCPType type = gst_rtcp_packet_get_type (&packet);

      /* NACKs come within a round trip of each loss, while the report
       * blocks can be seconds apart when feedback is frequent. */
      if (type == GST_RTCP_TYPE_RTPFB &&
          gst_rtcp_packet_fb_get_type (&packet) == GST_RTCP_RTPFB_TYPE_NACK)
        g_atomic_int_add (&self->video_nacked, count_nacked (self, &packet));
      if (type != GST_RTCP_TYPE_SR && type != GST_RTCP_TYPE_RR)
        continue;
      for (guint i = 0; i < gst_rtcp_packet_get_rb_count (&packet); i++)
        {
          guint32 ssrc, highest, jitter, lsr, dlsr;
          guint8 fraction_lost;
          gint32 packets_lost;

          gst_rtcp_packet_get_rb (&packet, i, &ssrc, &fraction_lost, &packets_lost, &highest,
                                  &jitter, &lsr, &dlsr);
          do
            worst = g_atomic_int_get (&self->worst_fraction_lost);
          while (fraction_lost > worst &&
                 !g_atomic_int_compare_and_exchange (&self->worst_fraction_lost, worst, fraction_lost));
          g_atomic_int_set (&self->have_reports, TRUE);
        }
    }
  gst_rtcp_buffer_unmap (&rtcp);
}

void
natter_call_rate_control_watch_rtcp (NatterCallRateControl *self,
                                     GstElement            *webrtc)
{
  g_autoptr(GstElement) rtpbin = NULL;

  g_return_if_fail (self != NULL);
  g_return_if_fail (GST_IS_BIN (webrtc));

  rtpbin = gst_bin_get_by_name (GST_BIN (webrtc), "rtpbin");
  if (rtpbin == NULL)
    return;
  for (guint id = 0; id < G_N_ELEMENTS (self->rtcp_sessions); id++)
    {
      GObject *session = NULL;

      if (self->rtcp_sessions[id] != NULL)
        continue;
      g_signal_emit_by_name (rtpbin, "get-internal-session", id, &session);
      if (session == NULL)
        continue;
      g_signal_connect (session, "on-receiving-rtcp", G_CALLBACK (on_receiving_rtcp), self);
      /* Reports every second rather than every 5 s: loss is seen soon. */
      g_object_set (session, "rtcp-min-interval", (guint64) GST_SECOND, NULL);
      self->rtcp_sessions[id] = session;
    }
}

/* Multiplicative decrease on loss, slow increase while clean. */
static void
adapt_bitrate (NatterCallRateControl *self)
{
  gboolean fresh = g_atomic_int_compare_and_exchange (&self->have_reports, TRUE, FALSE);
  int sent = g_atomic_int_and (&self->video_sent, 0);
  int nacked;
  double nack_loss, report_loss, loss;
  guint bitrate;

  g_mutex_lock (&self->lock);
  nacked = g_atomic_int_and (&self->video_nacked, 0);
  memset (self->nacked_seqnums, 0, 65536 / 8);
  g_mutex_unlock (&self->lock);
  nack_loss = sent >= 30 ? MIN (1.0, (double) nacked / sent) : 0;

  /* Only on fresh news: no news is not good news. */
  if (!fresh && nack_loss <= 0.10)
    return;
  report_loss = fresh ? g_atomic_int_and (&self->worst_fraction_lost, 0) / 256.0 : 0;
  loss = MAX (report_loss, nack_loss);
  bitrate = g_atomic_int_get (&self->video_bitrate);
  if (loss > 0.10)
    bitrate = MAX (NATTER_CALL_VIDEO_BITRATE_MIN, (guint) (bitrate * 0.7));
  else if (loss < 0.02)
    bitrate = MIN (NATTER_CALL_VIDEO_BITRATE_MAX, (guint) (bitrate * 1.08));
  g_debug ("peer reports %.1f %% loss (%d of %d packets NACKed): VP8 at %u bit/s",
           loss * 100, nacked, sent, bitrate);
  if (bitrate != (guint) g_atomic_int_get (&self->video_bitrate))
    {
      g_atomic_int_set (&self->video_bitrate, bitrate);
      g_object_set (self->encoder, "target-bitrate", bitrate, NULL);
    }
}

void
natter_call_rate_control_tick (NatterCallRateControl *self)
{
  g_return_if_fail (self != NULL);

  if (self->encoder != NULL && ++self->ticks % ADAPT_INTERVAL_S == 0)
    adapt_bitrate (self);
}

guint
natter_call_rate_control_get_bitrate (NatterCallRateControl *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->encoder != NULL ? (guint) g_atomic_int_get (&self->video_bitrate) : 0;
}

void
natter_call_rate_control_stop (NatterCallRateControl *self)
{
  g_return_if_fail (self != NULL);

  for (guint id = 0; id < G_N_ELEMENTS (self->rtcp_sessions); id++)
    if (self->rtcp_sessions[id] != NULL)
      {
        g_signal_handlers_disconnect_by_data (self->rtcp_sessions[id], self);
        g_clear_object (&self->rtcp_sessions[id]);
      }
  gst_clear_object (&self->encoder);
}
