/* natter-call-devices.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE  /* POLLRDHUP */
#endif
#include <fcntl.h>
#include <poll.h>
#include <glib/gstdio.h>

#include "natter-call-devices.h"

static const char * const device_classes[] = { "Video/Source", "Audio/Source", "Audio/Sink" };

static GMutex monitor_lock;
static GstDeviceMonitor *monitor;
static gboolean monitor_tried;
/* The Camera portal's PipeWire remote (inside a sandbox) */
static gboolean camera_remote_set;
static int camera_remote = -1;

GstDeviceMonitor *
natter_call_devices_get_monitor (void)
{
  GstDeviceMonitor *result;

  g_mutex_lock (&monitor_lock);
  if (!monitor_tried)
    {
      gint64 begin = g_get_monotonic_time ();
      g_autoptr(GstBus) bus = NULL;

      monitor_tried = TRUE;
      monitor = gst_device_monitor_new ();
      for (guint i = 0; i < G_N_ELEMENTS (device_classes); i++)
        gst_device_monitor_add_filter (monitor, device_classes[i], NULL);
      /* device-added/-removed reach each call's media as sync messages
       * (any number of listeners; a bus has only one watch). */
      bus = gst_device_monitor_get_bus (monitor);
      gst_bus_enable_sync_message_emission (bus);
      if (!gst_device_monitor_start (monitor))
        {
          g_message ("No device provider starts: calls send silence and black frames");
          gst_clear_object (&monitor);
        }
      g_debug ("device monitor started in %" G_GINT64_FORMAT " ms", (g_get_monotonic_time () - begin) / 1000);
    }
  result = monitor != NULL ? g_object_ref (monitor) : NULL;
  g_mutex_unlock (&monitor_lock);
  return result;
}

int
natter_call_device_get_kind (GstDevice *device)
{
  for (guint i = 0; i < G_N_ELEMENTS (device_classes); i++)
    if (gst_device_has_classes (device, device_classes[i]))
      return (int) i;
  return -1;
}

/* The monitor's devices of @kind (full GstDevice references). */
static GList *
get_devices (NatterCallDevice kind)
{
  g_autoptr(GstDeviceMonitor) devices_monitor = natter_call_devices_get_monitor ();
  GList *all, *result = NULL;

  if (devices_monitor == NULL)
    return NULL;
  all = gst_device_monitor_get_devices (devices_monitor);
  for (GList *l = all; l != NULL; l = l->next)
    if (natter_call_device_get_kind (l->data) == (int) kind)
      result = g_list_prepend (result, g_object_ref (l->data));
  g_list_free_full (all, gst_object_unref);
  return g_list_reverse (result);
}

void
natter_call_devices_set_camera_remote (int fd)
{
  g_mutex_lock (&monitor_lock);
  if (camera_remote >= 0)
    g_close (camera_remote, NULL);
  camera_remote = fd;
  camera_remote_set = TRUE;
  g_mutex_unlock (&monitor_lock);
}

int
natter_call_devices_get_camera_remote (void)
{
  int fd;

  g_mutex_lock (&monitor_lock);
  fd = camera_remote;
  g_mutex_unlock (&monitor_lock);
  return fd;
}

static void
close_fd (gpointer fd)
{
  g_close (GPOINTER_TO_INT (fd), NULL);
}

/* pipewiresrc on the portal's remote, on a copy of its fd (the element
 * only borrows it; a later remote may replace this one mid-call), or NULL;
 * @remote_mode: the portal decides the camera (it answered once). */
static GstElement *
make_remote_camera (gboolean *remote_mode)
{
  GstElement *element = NULL;
  int fd = -1;

  g_mutex_lock (&monitor_lock);
  *remote_mode = camera_remote_set;
  if (camera_remote_set && camera_remote >= 0)
    fd = fcntl (camera_remote, F_DUPFD_CLOEXEC, 3);
  g_mutex_unlock (&monitor_lock);
  if (fd < 0)
    return NULL;
  /* A remote whose far end is gone would hold pipewiresrc's start for its
   * 30 s connection timeout: no camera now. */
  {
    struct pollfd hangup = { .fd = fd, .events = POLLRDHUP };

    if (poll (&hangup, 1, 0) > 0 && (hangup.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0)
      {
        g_message ("The camera remote is closed: no camera");
        g_close (fd, NULL);
        return NULL;
      }
  }
  element = gst_element_factory_make ("pipewiresrc", NULL);
  if (element == NULL)
    {
      g_message ("pipewiresrc is missing: no camera through the portal");
      g_close (fd, NULL);
      return NULL;
    }
  g_object_set (element, "fd", fd, NULL);
  g_object_set_data_full (G_OBJECT (element), "natter-remote-fd", GINT_TO_POINTER (fd), close_fd);
  return element;
}

gboolean
natter_call_device_exists (NatterCallDevice kind)
{
  GList *devices;
  gboolean exists;

  if (kind == NATTER_CALL_DEVICE_CAMERA)
    {
      gboolean remote;

      g_mutex_lock (&monitor_lock);
      remote = camera_remote_set;
      exists = camera_remote >= 0;
      g_mutex_unlock (&monitor_lock);
      if (remote)
        return exists;
    }
  devices = get_devices (kind);
  exists = devices != NULL;
  g_list_free_full (devices, gst_object_unref);
  return exists;
}

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
  GList *devices;
  GstDevice *chosen = NULL;
  GstElement *element = NULL;

  if (kind == NATTER_CALL_DEVICE_CAMERA)
    {
      gboolean remote;

      element = make_remote_camera (&remote);
      if (remote)
        {
          if (element != NULL && gst_element_set_state (element, GST_STATE_READY) == GST_STATE_CHANGE_FAILURE)
            {
              g_message ("Cannot open the camera remote");
              gst_element_set_state (element, GST_STATE_NULL);
              gst_clear_object (&element);
            }
          return element;
        }
    }
  devices = get_devices (kind);
  for (GList *l = devices; l != NULL && chosen == NULL && name != NULL && *name != '\0'; l = l->next)
    {
      g_autofree char *display_name = gst_device_get_display_name (l->data);
      if (g_strcmp0 (display_name, name) == 0)
        chosen = l->data;
    }
  /* no choice (or gone): the system's default (PulseAudio and PipeWire
   * say which), else the first */
  for (GList *l = devices; l != NULL && chosen == NULL; l = l->next)
    {
      g_autoptr(GstStructure) properties = gst_device_get_properties (l->data);
      gboolean is_default = FALSE;

      if (properties != NULL && gst_structure_get_boolean (properties, "is-default", &is_default) &&
          is_default)
        chosen = l->data;
    }
  if (chosen == NULL && devices != NULL)
    chosen = devices->data;
  if (chosen != NULL)
    element = gst_device_create_element (chosen, NULL);
  /* Sources open their device going to READY: busy or gone shows now. */
  if (element != NULL && kind != NATTER_CALL_DEVICE_SPEAKER &&
      gst_element_set_state (element, GST_STATE_READY) == GST_STATE_CHANGE_FAILURE)
    {
      g_autofree char *display_name = gst_device_get_display_name (chosen);

      g_message ("Cannot open %s (busy?)", display_name);
      gst_element_set_state (element, GST_STATE_NULL);
      gst_clear_object (&element);
    }
  if (element != NULL && kind == NATTER_CALL_DEVICE_CAMERA)
    element = decode_if_jpeg_only (chosen, element);
  g_list_free_full (devices, gst_object_unref);
  return element;
}

GStrv
natter_call_list_devices (NatterCallDevice kind)
{
  g_autoptr(GStrvBuilder) names = g_strv_builder_new ();
  GList *devices;

  g_return_val_if_fail (kind <= NATTER_CALL_DEVICE_SPEAKER, NULL);

  devices = get_devices (kind);
  for (GList *l = devices; l != NULL; l = l->next)
    {
      g_autofree char *name = gst_device_get_display_name (l->data);
      g_strv_builder_add (names, name);
    }
  g_list_free_full (devices, gst_object_unref);
  return g_strv_builder_end (names);
}
