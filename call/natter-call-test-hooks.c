/* natter-call-test-hooks.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gst/rtp/rtp.h>

#include "natter-call-test-hooks.h"

typedef struct
{
  guint pt;
  int   percent;
} Loss;

static gboolean
drop_packet (GstBuffer  *buffer,
             const Loss *loss)
{
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  gboolean drop = FALSE;

  if (gst_rtp_buffer_map (buffer, GST_MAP_READ, &rtp))
    {
      drop = gst_rtp_buffer_get_payload_type (&rtp) == loss->pt &&
             g_random_int_range (0, 100) < loss->percent;
      gst_rtp_buffer_unmap (&rtp);
    }
  return drop;
}

static gboolean
drop_from_list (GstBuffer **buffer,
                guint       index,
                gpointer    user_data)
{
  if (drop_packet (*buffer, user_data))
    gst_clear_buffer (buffer);
  return TRUE;
}

/* Payloaders push single packets and lists of them (one per frame). */
static GstPadProbeReturn
drop_packets (GstPad          *pad,
              GstPadProbeInfo *info,
              gpointer         user_data)
{
  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER_LIST)
    {
      GstBufferList *list = gst_buffer_list_make_writable (GST_PAD_PROBE_INFO_BUFFER_LIST (info));

      gst_buffer_list_foreach (list, drop_from_list, user_data);
      GST_PAD_PROBE_INFO_DATA (info) = list;
      return gst_buffer_list_length (list) > 0 ? GST_PAD_PROBE_OK : GST_PAD_PROBE_DROP;
    }
  return drop_packet (GST_PAD_PROBE_INFO_BUFFER (info), user_data) ? GST_PAD_PROBE_DROP
                                                                   : GST_PAD_PROBE_OK;
}

void
natter_call_test_hooks_drop_packets (GstPad *pad,
                                     guint   pt,
                                     int     percent)
{
  Loss *loss = g_new (Loss, 1);

  loss->pt = pt;
  loss->percent = percent;
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
                     drop_packets, loss, g_free);
}

void
natter_call_test_hooks_drop_received_packets (GstElement *webrtc,
                                              guint       pt,
                                              int         percent)
{
  g_autoptr(GstElement) rtpbin = gst_bin_get_by_name (GST_BIN (webrtc), "rtpbin");
  g_autoptr(GstPad) pad = NULL;

  if (rtpbin == NULL)
    return;
  if ((pad = gst_element_get_static_pad (rtpbin, "recv_rtp_sink_0")) == NULL)
    {
      g_warning ("Cannot simulate loss on the way in");
      return;
    }
  natter_call_test_hooks_drop_packets (pad, pt, percent);
}

/* An empty RR (RFC 3550 6.4.2) from an SSRC never seen before, after the
 * packets of a compound: the session takes it for a new member; and a
 * BYE from the one before, so the members (and the RTCP interval, which
 * grows with them) stay as they were. */
static GstPadProbeReturn
add_new_source (GstPad          *pad,
                GstPadProbeInfo *info,
                gpointer         user_data)
{
  guint32 *last = user_data;   /* one RTCP streaming thread */
  GstBuffer *buffer = gst_buffer_make_writable (GST_PAD_PROBE_INFO_BUFFER (info));
  guint8 *packets = g_new (guint8, 16);
  gsize size = 8;

  packets[0] = 0x80;                     /* V=2, no padding, no report blocks */
  packets[1] = GST_RTCP_TYPE_RR;
  GST_WRITE_UINT16_BE (packets + 2, 1);  /* 32-bit words after the first */
  GST_WRITE_UINT32_BE (packets + 4, g_random_int ());
  if (*last != 0)
    {
      packets[8] = 0x81;                 /* V=2, one SSRC */
      packets[9] = GST_RTCP_TYPE_BYE;
      GST_WRITE_UINT16_BE (packets + 10, 1);
      GST_WRITE_UINT32_BE (packets + 12, *last);
      size = 16;
    }
  *last = GST_READ_UINT32_BE (packets + 4);
  gst_buffer_append_memory (buffer, gst_memory_new_wrapped (0, packets, 16, 0, size, packets, g_free));
  GST_PAD_PROBE_INFO_DATA (info) = buffer;
  return GST_PAD_PROBE_OK;
}

void
natter_call_test_hooks_add_new_sources (GstElement *webrtc)
{
  g_autoptr(GstElement) rtpbin = gst_bin_get_by_name (GST_BIN (webrtc), "rtpbin");
  g_autoptr(GstPad) pad = NULL;

  if (rtpbin == NULL)
    return;
  if ((pad = gst_element_get_static_pad (rtpbin, "recv_rtcp_sink_0")) == NULL)
    {
      g_warning ("Cannot add sources on the way in");
      return;
    }
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, add_new_source, g_new0 (guint32, 1), g_free);
}

static GstPadProbeReturn
unplug_device (GstPad          *pad,
               GstPadProbeInfo *info,
               gpointer         user_data)
{
  int *buffers = user_data;
  g_autoptr(GstElement) source = NULL;

  if (--*buffers > 0)
    return GST_PAD_PROBE_OK;
  source = gst_pad_get_parent_element (pad);
  GST_ELEMENT_ERROR (source, RESOURCE, READ, ("Test: the device was unplugged"), (NULL));
  return GST_PAD_PROBE_REMOVE;
}

void
natter_call_test_hooks_fail_after (GstElement *source,
                                   int         buffers)
{
  g_autoptr(GstPad) pad = gst_element_get_static_pad (source, "src");
  int *left = g_new (int, 1);

  *left = MAX (1, buffers);
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, unplug_device, left, g_free);
}
