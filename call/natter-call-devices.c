/* natter-call-devices.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-call-devices.h"

static const char * const device_classes[] = { "Video/Source", "Audio/Source", "Audio/Sink" };

/* Many webcams give only MJPEG at useful rates: decode it right after the
 * camera (raw stays preferred when the camera has it). */
static GstElement *
decode_if_jpeg_only (GstDevice  *device,
                     GstElement *source)
{
  g_autoptr(GstCaps) caps = gst_device_get_caps (device);
  g_autoptr(GstCaps) raw = gst_caps_from_string ("video/x-raw");
  g_autoptr(GstCaps) jpeg = gst_caps_from_string ("image/jpeg");
  GstElement *bin, *filter, *decoder;
  g_autoptr(GstPad) pad = NULL;

  if (caps == NULL || gst_caps_can_intersect (caps, raw) || !gst_caps_can_intersect (caps, jpeg))
    return source;

  filter = gst_element_factory_make ("capsfilter", NULL);
  decoder = gst_element_factory_make ("jpegdec", NULL);
  if (filter == NULL || decoder == NULL)
    {
      g_clear_pointer (&filter, gst_object_unref);
      g_clear_pointer (&decoder, gst_object_unref);
      return source;
    }
  g_object_set (filter, "caps", jpeg, NULL);
  bin = gst_bin_new (NULL);
  gst_bin_add_many (GST_BIN (bin), source, filter, decoder, NULL);
  gst_element_link_many (source, filter, decoder, NULL);
  pad = gst_element_get_static_pad (decoder, "src");
  gst_element_add_pad (bin, gst_ghost_pad_new ("src", pad));
  return bin;
}

GstElement *
natter_call_device_make_element (NatterCallDevice  kind,
                                 const char       *name)
{
  g_autoptr(GstDeviceMonitor) monitor = gst_device_monitor_new ();
  GList *devices;
  GstDevice *chosen = NULL;
  GstElement *element = NULL;

  gst_device_monitor_add_filter (monitor, device_classes[kind], NULL);
  if (!gst_device_monitor_start (monitor))
    return NULL;
  devices = gst_device_monitor_get_devices (monitor);
  for (GList *l = devices; l != NULL && chosen == NULL && name != NULL && *name != '\0'; l = l->next)
    {
      g_autofree char *display_name = gst_device_get_display_name (l->data);
      if (g_strcmp0 (display_name, name) == 0)
        chosen = l->data;
    }
  if (chosen == NULL && devices != NULL)
    chosen = devices->data;
  if (chosen != NULL)
    element = gst_device_create_element (chosen, NULL);
  if (element != NULL && kind == NATTER_CALL_DEVICE_CAMERA)
    element = decode_if_jpeg_only (chosen, element);
  g_list_free_full (devices, gst_object_unref);
  gst_device_monitor_stop (monitor);
  return element;
}

GStrv
natter_call_list_devices (NatterCallDevice kind)
{
  g_autoptr(GstDeviceMonitor) monitor = gst_device_monitor_new ();
  g_autoptr(GStrvBuilder) names = g_strv_builder_new ();
  GList *devices;

  g_return_val_if_fail (kind <= NATTER_CALL_DEVICE_SPEAKER, NULL);

  gst_device_monitor_add_filter (monitor, device_classes[kind], NULL);
  if (gst_device_monitor_start (monitor))
    {
      devices = gst_device_monitor_get_devices (monitor);
      for (GList *l = devices; l != NULL; l = l->next)
        {
          g_autofree char *name = gst_device_get_display_name (l->data);
          g_strv_builder_add (names, name);
        }
      g_list_free_full (devices, gst_object_unref);
      gst_device_monitor_stop (monitor);
    }
  return g_strv_builder_end (names);
}
