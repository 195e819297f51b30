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
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/base/gstbasesrc.h>

#include "natter-call-devices.h"

static const char * const device_classes[] = { "Video/Source", "Audio/Source", "Audio/Sink" };

static GMutex monitor_lock;
static GstDeviceMonitor *monitor;      /* NULL while no provider has started */
static GstDeviceMonitor *idle_monitor; /* made, but none of its providers started */
static gboolean monitor_tried;
/* atomic: the first start is over (monitor_lock is held while it runs) */
static gint monitor_ready;
/* The monitor's devices, kept from its bus: gst_device_monitor_get_devices()
 * probes again each provider that did not start (no PulseAudio server...),
 * which the main thread must not wait for. Under devices_lock, not
 * monitor_lock: the bus speaks while the start holds that. */
static GMutex devices_lock;
static GList *known_devices;
/* The Camera portal's PipeWire remote (inside a sandbox) */
static gboolean camera_remote_set;
static int camera_remote = -1;

static void
remember_device (GstDevice *device,
                 gboolean   added)
{
  GList *link;

  g_mutex_lock (&devices_lock);
  link = g_list_find (known_devices, device);
  if (added && link == NULL)
    known_devices = g_list_append (known_devices, gst_object_ref (device));
  else if (!added && link != NULL)
    {
      known_devices = g_list_delete_link (known_devices, link);
      gst_object_unref (device);
    }
  g_mutex_unlock (&devices_lock);
}

static void
on_monitor_message (GstBus     *bus,
                    GstMessage *message,
                    gpointer    user_data)
{
  g_autoptr(GstDevice) device = NULL;

  if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_DEVICE_ADDED)
    {
      gst_message_parse_device_added (message, &device);
      remember_device (device, TRUE);
    }
  else if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_DEVICE_REMOVED)
    {
      gst_message_parse_device_removed (message, &device);
      remember_device (device, FALSE);
    }
}

/* Tests: the providers' probe made slow, as a hung sound server makes it */
static void
probe_test_delay (void)
{
  const char *delay = g_getenv ("NATTER_CALL_TEST_DEVICE_PROBE_DELAY_MS");

  if (delay != NULL)
    g_usleep (g_ascii_strtoull (delay, NULL, 10) * 1000);
}

/* Tests: opening a device made slow, as a hung camera driver or sound
 * server makes it */
static void
open_test_delay (void)
{
  const char *delay = g_getenv ("NATTER_CALL_TEST_DEVICE_OPEN_DELAY_MS");

  if (delay != NULL)
    g_usleep (g_ascii_strtoull (delay, NULL, 10) * 1000);
}

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
      probe_test_delay ();
      monitor = gst_device_monitor_new ();
      for (guint i = 0; i < G_N_ELEMENTS (device_classes); i++)
        gst_device_monitor_add_filter (monitor, device_classes[i], NULL);
      /* device-added/-removed reach each call's media as sync messages
       * (any number of listeners; a bus has only one watch). */
      bus = gst_device_monitor_get_bus (monitor);
      gst_bus_enable_sync_message_emission (bus);
      g_signal_connect (bus, "sync-message", G_CALLBACK (on_monitor_message), NULL);
      if (!gst_device_monitor_start (monitor))
        {
          g_message ("No device provider starts: calls send silence and black frames");
          /* kept: a later recheck starts it again */
          idle_monitor = g_steal_pointer (&monitor);
        }
      else
        {
          GList *devices = gst_device_monitor_get_devices (monitor);

          for (GList *l = devices; l != NULL; l = l->next)
            remember_device (l->data, TRUE);
          g_list_free_full (devices, gst_object_unref);
        }
      g_debug ("device monitor started in %" G_GINT64_FORMAT " ms", (g_get_monotonic_time () - begin) / 1000);
      g_atomic_int_set (&monitor_ready, TRUE);
    }
  result = monitor != NULL ? g_object_ref (monitor) : NULL;
  g_mutex_unlock (&monitor_lock);
  return result;
}

gboolean
natter_call_devices_monitor_ready (void)
{
  return g_atomic_int_get (&monitor_ready);
}

static void
start_monitor_thread (GTask        *task,
                      gpointer      source_object,
                      gpointer      task_data,
                      GCancellable *cancellable)
{
  g_autoptr(GstDeviceMonitor) started = NULL;

  if (!gst_is_initialized ())
    gst_init (NULL, NULL);
  started = natter_call_devices_get_monitor ();
  g_task_return_boolean (task, started != NULL);
}

void
natter_call_devices_start_monitor_async (GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, natter_call_devices_start_monitor_async);
  g_task_run_in_thread (task, start_monitor_thread);
}

gboolean
natter_call_devices_start_monitor_finish (GAsyncResult  *result,
                                          GError       **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* A provider that did not start (no PulseAudio server yet), or that
 * started without finding anything (PipeWire's starts without a daemon and
 * never connects later): started again, its devices then come as the
 * monitor's device-added messages. Not more often than this. */
#define RECHECK_INTERVAL_US (5 * G_USEC_PER_SEC)

static const char * const server_providers[] = { "pipewiredeviceprovider", "pulsedeviceprovider", NULL };
static gint recheck_running;  /* atomic */
static gint64 last_recheck;   /* under monitor_lock */

static void
recheck_provider (const char *name)
{
  g_autoptr(GstDeviceProviderFactory) factory = gst_device_provider_factory_find (name);
  g_autoptr(GstDeviceProvider) provider = factory != NULL ? gst_device_provider_factory_get (factory) : NULL;
  GList *devices;

  if (provider == NULL)
    return;
  if (!gst_device_provider_is_started (provider))
    {
      if (gst_device_provider_start (provider))
        g_message ("The device provider %s starts now", name);
      return;
    }
  /* Only a server's client can have "started" without its server; the
   * others (udev's, the tests') are left alone: a device added while one
   * restarts would be lost. One with devices works: left alone too. */
  if (!g_strv_contains (server_providers, name))
    return;
  devices = gst_device_provider_get_devices (provider);
  if (devices != NULL)
    {
      g_list_free_full (devices, gst_object_unref);
      return;
    }
  gst_device_provider_stop (provider);
  gst_device_provider_start (provider);
  devices = gst_device_provider_get_devices (provider);
  if (devices != NULL)
    g_message ("The device provider %s finds devices now", name);
  g_list_free_full (devices, gst_object_unref);
}

/* Blocks while providers start: a worker's. */
static void
recheck (void)
{
  g_autoptr(GstDeviceMonitor) started = natter_call_devices_get_monitor ();
  g_autoptr(GstDeviceMonitor) idle = NULL;
  g_auto(GStrv) providers = NULL;

  g_mutex_lock (&monitor_lock);
  if (started == NULL && idle_monitor != NULL)
    idle = g_object_ref (idle_monitor);
  g_mutex_unlock (&monitor_lock);
  /* none had started: the monitor itself tries them all again */
  if (idle != NULL && gst_device_monitor_start (idle))
    {
      GList *devices = gst_device_monitor_get_devices (idle);

      g_message ("A device provider starts now");
      for (GList *l = devices; l != NULL; l = l->next)
        remember_device (l->data, TRUE);
      g_list_free_full (devices, gst_object_unref);
      g_mutex_lock (&monitor_lock);
      monitor = g_steal_pointer (&idle_monitor);
      g_mutex_unlock (&monitor_lock);
      return;
    }
  if (started != NULL)
    providers = gst_device_monitor_get_providers (started);
  for (guint i = 0; providers != NULL && providers[i] != NULL; i++)
    recheck_provider (providers[i]);
}

static void
recheck_thread (GTask        *task,
                gpointer      source_object,
                gpointer      task_data,
                GCancellable *cancellable)
{
  recheck ();
  g_atomic_int_set (&recheck_running, FALSE);
  g_task_return_boolean (task, TRUE);
}

/* Whether a recheck is due now (and then it is this caller's). */
static gboolean
recheck_take (void)
{
  gint64 now = g_get_monotonic_time ();
  gboolean due;

  /* the first start is a check of its own; one at a time, not too often */
  g_mutex_lock (&monitor_lock);
  due = monitor_tried && now - last_recheck >= RECHECK_INTERVAL_US;
  if (due)
    last_recheck = now;
  g_mutex_unlock (&monitor_lock);
  return due && g_atomic_int_compare_and_exchange (&recheck_running, FALSE, TRUE);
}

void
natter_call_devices_recheck (void)
{
  if (!recheck_take ())
    return;
  recheck ();
  g_atomic_int_set (&recheck_running, FALSE);
}

void
natter_call_devices_recheck_async (GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, natter_call_devices_recheck_async);
  if (!recheck_take ())
    {
      g_task_return_boolean (task, FALSE);
      return;
    }
  g_task_run_in_thread (task, recheck_thread);
}

gboolean
natter_call_devices_recheck_finish (GAsyncResult  *result,
                                    GError       **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
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
  GList *result = NULL;

  if (devices_monitor == NULL)
    return NULL;
  g_mutex_lock (&devices_lock);
  for (GList *l = known_devices; l != NULL; l = l->next)
    if (natter_call_device_get_kind (l->data) == (int) kind)
      result = g_list_prepend (result, g_object_ref (l->data));
  g_mutex_unlock (&devices_lock);
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

/* The portal's camera runs in a pipeline of its own, pipewiresrc !
 * appsink, and an appsrc gives its frames to the call. pipewiresrc's start
 * waits until its stream is linked and negotiated (30 s when nothing links
 * it), it would give the call's pipeline its PipeWire clock, and a node
 * that never gives a frame would hold the call's video for ever: the
 * call's pipeline must neither wait for it nor fail with it. A camera that
 * gives no frame for REMOTE_CAMERA_SILENCE_S fails as an unplugged one
 * does (an error from the appsrc: the call's media puts black frames in
 * its place and counts it missing); NATTER_CALL_CAMERA_SILENCE_S sets
 * another length (tests). */
#define REMOTE_CAMERA_SILENCE_S 5

typedef struct {
  GMutex      lock;
  GMutex      state_lock;  /* the camera pipeline's start or stop */
  GWeakRef    appsrc;
  GstElement *pipeline;  /* pipewiresrc ! appsink */
  GstElement *source;    /* the pipewiresrc */
  GstElement *sink;      /* the appsink (the pipeline's) */
  int         fd;        /* our copy of the remote's, which the pipewiresrc reads */
  GstClockID  tick;
  GstCaps    *caps;      /* the appsrc's, from the camera thread only */
  gint64      last;      /* monotonic µs of the start or of the last frame */
  gint64      silence;   /* µs without a frame that fail the camera */
  gboolean    failed;
  gboolean    stopped;
  gboolean    got_frame;
  NatterCallCameraReady ready;  /* until the first frame or the failure */
  gpointer    ready_data;
  GDestroyNotify ready_destroy;
} RemoteCamera;

/* Under camera->lock: the waiter, now told or no longer wanted. */
static NatterCallCameraReady
remote_camera_steal_ready (RemoteCamera   *camera,
                           gpointer       *data,
                           GDestroyNotify *destroy)
{
  NatterCallCameraReady ready = camera->ready;

  *data = camera->ready_data;
  *destroy = camera->ready_destroy;
  camera->ready = NULL;
  camera->ready_data = NULL;
  camera->ready_destroy = NULL;
  return ready;
}

/* Outside camera->lock. */
static void
remote_camera_tell (NatterCallCameraReady  ready,
                    gpointer               data,
                    GDestroyNotify         destroy,
                    gboolean               has_frames)
{
  if (ready != NULL)
    ready (has_frames, data);
  if (destroy != NULL)
    destroy (data);
}

static void
remote_camera_clear (RemoteCamera *camera)
{
  if (camera->ready_destroy != NULL)
    camera->ready_destroy (camera->ready_data);
  g_weak_ref_clear (&camera->appsrc);
  g_mutex_clear (&camera->lock);
  g_mutex_clear (&camera->state_lock);
  gst_clear_caps (&camera->caps);
  gst_clear_object (&camera->source);
  gst_clear_object (&camera->pipeline);
  if (camera->fd >= 0)
    g_close (camera->fd, NULL);
}

static void
remote_camera_unref (gpointer camera)
{
  g_atomic_rc_box_release_full (camera, (GDestroyNotify) remote_camera_clear);
}

static void
remote_camera_fail (RemoteCamera *camera,
                    const char   *why)
{
  g_autoptr(GstElement) appsrc = NULL;
  NatterCallCameraReady ready;
  gpointer ready_data;
  GDestroyNotify ready_destroy;

  g_mutex_lock (&camera->lock);
  if (camera->failed || camera->stopped)
    {
      g_mutex_unlock (&camera->lock);
      return;
    }
  camera->failed = TRUE;
  ready = remote_camera_steal_ready (camera, &ready_data, &ready_destroy);
  g_mutex_unlock (&camera->lock);
  g_message ("The camera remote %s: no camera", why);
  /* a camera still waited for is not in the call's pipeline: told so */
  remote_camera_tell (ready, ready_data, ready_destroy, FALSE);
  appsrc = g_weak_ref_get (&camera->appsrc);
  if (appsrc != NULL)
    GST_ELEMENT_ERROR (appsrc, RESOURCE, READ, ("The camera gives no frames"), ("%s", why));
}

static GstFlowReturn
remote_camera_sample (GstAppSink *sink,
                      gpointer    user_data)
{
  RemoteCamera *camera = user_data;
  g_autoptr(GstSample) sample = gst_app_sink_pull_sample (sink);
  g_autoptr(GstElement) appsrc = g_weak_ref_get (&camera->appsrc);
  GstCaps *caps;
  GstBuffer *buffer;
  NatterCallCameraReady ready = NULL;
  gpointer ready_data = NULL;
  GDestroyNotify ready_destroy = NULL;

  if (sample == NULL)
    return GST_FLOW_EOS;
  g_mutex_lock (&camera->lock);
  camera->last = g_get_monotonic_time ();
  if (!camera->got_frame && !camera->failed)
    {
      camera->got_frame = TRUE;
      ready = remote_camera_steal_ready (camera, &ready_data, &ready_destroy);
    }
  g_mutex_unlock (&camera->lock);
  /* This first frame goes nowhere: the call takes the appsrc into its
   * pipeline now, and the next frames there. */
  remote_camera_tell (ready, ready_data, ready_destroy, TRUE);
  if (appsrc == NULL)
    return GST_FLOW_OK;
  caps = gst_sample_get_caps (sample);
  if (caps != NULL && (camera->caps == NULL || !gst_caps_is_equal (caps, camera->caps)))
    {
      gst_caps_replace (&camera->caps, caps);
      gst_app_src_set_caps (GST_APP_SRC (appsrc), caps);
    }
  /* the call's clock stamps it (do-timestamp): the camera's is another */
  buffer = gst_buffer_copy (gst_sample_get_buffer (sample));
  GST_BUFFER_PTS (buffer) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_DTS (buffer) = GST_CLOCK_TIME_NONE;
  gst_app_src_push_buffer (GST_APP_SRC (appsrc), buffer);
  return GST_FLOW_OK;
}

/* On the system clock's thread, every second. */
static gboolean
remote_camera_tick (GstClock     *clock,
                    GstClockTime  time,
                    GstClockID    id,
                    gpointer      user_data)
{
  RemoteCamera *camera = user_data;
  gboolean silent;

  g_mutex_lock (&camera->lock);
  silent = g_get_monotonic_time () - camera->last >= camera->silence;
  g_mutex_unlock (&camera->lock);
  if (silent)
    remote_camera_fail (camera, "gave no frame for a while");
  return TRUE;
}

/* Its own thread: pipewiresrc's start may wait up to 30 s. */
static gpointer
remote_camera_start (gpointer data)
{
  RemoteCamera *camera = data;
  gboolean stopped;

  g_mutex_lock (&camera->state_lock);
  g_mutex_lock (&camera->lock);
  stopped = camera->stopped;
  g_mutex_unlock (&camera->lock);
  if (!stopped && gst_element_set_state (camera->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    remote_camera_fail (camera, "did not start");
  g_mutex_unlock (&camera->state_lock);
  remote_camera_unref (camera);
  return NULL;
}

/* Stopped: the appsink lets go of the camera (its callbacks held it, and
 * the camera holds its pipeline), so all of it and the fd go. */
static void
remote_camera_close (RemoteCamera *camera)
{
  static GstAppSinkCallbacks none = { NULL };

  gst_element_set_state (camera->pipeline, GST_STATE_NULL);
  gst_app_sink_set_callbacks (GST_APP_SINK (camera->sink), &none, NULL, NULL);
  /* Stopped, the pipewiresrc has let go of the remote: our copy goes now,
   * not with the camera's last reference, which the clock's tick entry
   * holds until the clock thread drops it (a while; for good if a tick
   * races its unscheduling). */
  if (camera->fd >= 0)
    g_close (camera->fd, NULL);
  camera->fd = -1;
}

static gpointer
remote_camera_finish (gpointer data)
{
  RemoteCamera *camera = data;

  g_mutex_lock (&camera->state_lock);
  remote_camera_close (camera);
  g_mutex_unlock (&camera->state_lock);
  remote_camera_unref (camera);
  return NULL;
}

/* The appsrc is gone (the call ended, the camera was switched off or
 * failed): the camera pipeline stops, off the caller's thread. A start
 * still waiting is woken first (pipewiresrc's unlock: it waits no more). */
static void
remote_camera_stop (gpointer data)
{
  RemoteCamera *camera = data;
  NatterCallCameraReady ready;
  gpointer ready_data;
  GDestroyNotify ready_destroy;

  g_mutex_lock (&camera->lock);
  camera->stopped = TRUE;
  ready = remote_camera_steal_ready (camera, &ready_data, &ready_destroy);
  g_mutex_unlock (&camera->lock);
  remote_camera_tell (NULL, ready_data, ready_destroy, FALSE);
  (void) ready;
  gst_clock_id_unschedule (camera->tick);
  gst_clock_id_unref (camera->tick);
  GST_BASE_SRC_GET_CLASS (camera->source)->unlock (GST_BASE_SRC (camera->source));
  g_thread_unref (g_thread_new ("natter-camera-stop", remote_camera_finish, camera));
}

/* pipewiresrc on the portal's remote, on a copy of its fd (the element
 * only borrows it; a later remote may replace this one mid-call), behind
 * an appsrc, or NULL; @remote_mode: the portal decides the camera (it
 * answered once). */
static GstElement *
make_remote_camera (gboolean *remote_mode)
{
  static GstAppSinkCallbacks callbacks = { .new_sample = remote_camera_sample };
  g_autoptr(GstClock) clock = NULL;
  GstElement *source, *sink, *appsrc;
  RemoteCamera *camera;
  int fd = -1;

  g_mutex_lock (&monitor_lock);
  *remote_mode = camera_remote_set;
  if (camera_remote_set && camera_remote >= 0)
    fd = fcntl (camera_remote, F_DUPFD_CLOEXEC, 3);
  g_mutex_unlock (&monitor_lock);
  if (fd < 0)
    return NULL;
  /* A remote whose far end is gone: no camera now. */
  {
    struct pollfd hangup = { .fd = fd, .events = POLLRDHUP };

    if (poll (&hangup, 1, 0) > 0 && (hangup.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0)
      {
        g_message ("The camera remote is closed: no camera");
        g_close (fd, NULL);
        return NULL;
      }
  }
  source = gst_element_factory_make ("pipewiresrc", NULL);
  if (source == NULL)
    {
      g_message ("pipewiresrc is missing: no camera through the portal");
      g_close (fd, NULL);
      return NULL;
    }
  g_object_set (source, "fd", fd, NULL);

  camera = g_atomic_rc_box_new0 (RemoteCamera);
  camera->fd = fd;
  g_mutex_init (&camera->lock);
  g_mutex_init (&camera->state_lock);
  camera->pipeline = gst_object_ref_sink (gst_pipeline_new ("natter-remote-camera"));
  camera->source = gst_object_ref (source);
  sink = camera->sink = gst_element_factory_make ("appsink", NULL);
  g_object_set (sink, "sync", FALSE, "max-buffers", 2, "drop", TRUE, NULL);
  gst_app_sink_set_callbacks (GST_APP_SINK (sink), &callbacks, g_atomic_rc_box_acquire (camera), remote_camera_unref);
  gst_bin_add_many (GST_BIN (camera->pipeline), source, sink, NULL);
  gst_element_link (source, sink);
  /* connecting to the remote shows now */
  if (gst_element_set_state (camera->pipeline, GST_STATE_READY) == GST_STATE_CHANGE_FAILURE)
    {
      g_message ("Cannot open the camera remote");
      remote_camera_close (camera);
      remote_camera_unref (camera);
      return NULL;
    }

  appsrc = gst_element_factory_make ("appsrc", NULL);
  g_object_set (appsrc, "is-live", TRUE, "format", GST_FORMAT_TIME, "do-timestamp", TRUE,
                "max-buffers", (guint64) 2, "leaky-type", GST_APP_LEAKY_TYPE_DOWNSTREAM, NULL);
  g_weak_ref_init (&camera->appsrc, appsrc);
  camera->last = g_get_monotonic_time ();
  {
    const char *silence = g_getenv ("NATTER_CALL_CAMERA_SILENCE_S");
    guint64 seconds = REMOTE_CAMERA_SILENCE_S;

    if (silence != NULL && !g_ascii_string_to_unsigned (silence, 10, 1, 3600, &seconds, NULL))
      seconds = REMOTE_CAMERA_SILENCE_S;
    camera->silence = (gint64) seconds * G_USEC_PER_SEC;
  }
  clock = gst_system_clock_obtain ();
  camera->tick = gst_clock_new_periodic_id (clock, gst_clock_get_time (clock) + GST_SECOND, GST_SECOND);
  gst_clock_id_wait_async (camera->tick, remote_camera_tick, g_atomic_rc_box_acquire (camera), remote_camera_unref);
  g_thread_unref (g_thread_new ("natter-camera-start", remote_camera_start, g_atomic_rc_box_acquire (camera)));
  /* the appsrc's end stops it all */
  g_object_set_data_full (G_OBJECT (appsrc), "natter-remote-camera", camera, remote_camera_stop);
  return appsrc;
}

void
natter_call_device_stop_camera (GstElement *camera)
{
  RemoteCamera *remote;

  if (camera == NULL)
    return;
  /* taken: the appsrc's end finds nothing to stop any more */
  remote = g_object_steal_data (G_OBJECT (camera), "natter-remote-camera");
  if (remote != NULL)
    remote_camera_stop (remote);
}

gboolean
natter_call_device_watch_first_frame (GstElement            *camera,
                                      NatterCallCameraReady  ready,
                                      gpointer               user_data,
                                      GDestroyNotify         destroy)
{
  RemoteCamera *remote = camera != NULL ? g_object_get_data (G_OBJECT (camera), "natter-remote-camera") : NULL;
  gboolean waits = FALSE;

  if (remote != NULL)
    {
      g_mutex_lock (&remote->lock);
      waits = !remote->got_frame && !remote->failed && !remote->stopped && remote->ready == NULL;
      if (waits)
        {
          remote->ready = ready;
          remote->ready_data = user_data;
          remote->ready_destroy = destroy;
        }
      g_mutex_unlock (&remote->lock);
    }
  if (!waits && destroy != NULL)
    destroy (user_data);
  return waits;
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

  open_test_delay ();
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
  /* An audio source's buffers of an Opus frame (20 ms), not 10: the encoder
   * waits for 20 ms anyway, and half the buffers go through the call. */
  if (element != NULL && kind == NATTER_CALL_DEVICE_MICROPHONE &&
      g_object_class_find_property (G_OBJECT_GET_CLASS (element), "latency-time") != NULL)
    g_object_set (element, "latency-time", (gint64) 20000, NULL);
  g_list_free_full (devices, gst_object_unref);
  return element;
}

typedef struct
{
  NatterCallDevice  kind;
  char             *name;
} MakeElement;

static void
make_element_free (gpointer data)
{
  MakeElement *make = data;

  g_free (make->name);
  g_free (make);
}

static void
make_element_thread (GTask        *task,
                     gpointer      source_object,
                     gpointer      task_data,
                     GCancellable *cancellable)
{
  MakeElement *make = task_data;
  GstElement *element = natter_call_device_make_element (make->kind, make->name);

  if (element == NULL)
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "No such device, or it cannot be opened");
  else
    g_task_return_pointer (task, gst_object_ref_sink (element), gst_object_unref);
}

void
natter_call_device_make_element_async (NatterCallDevice     kind,
                                       const char          *name,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  MakeElement *make = g_new0 (MakeElement, 1);

  make->kind = kind;
  make->name = g_strdup (name);
  g_task_set_source_tag (task, natter_call_device_make_element_async);
  g_task_set_task_data (task, make, make_element_free);
  g_task_run_in_thread (task, make_element_thread);
}

GstElement *
natter_call_device_make_element_finish (GAsyncResult  *result,
                                        GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
close_element_thread (GTask        *task,
                      gpointer      source_object,
                      gpointer      task_data,
                      GCancellable *cancellable)
{
  gst_element_set_state (task_data, GST_STATE_NULL);
  g_task_return_boolean (task, TRUE);
}

void
natter_call_device_close_element (GstElement *element)
{
  g_autoptr(GTask) task = NULL;

  if (element == NULL)
    return;
  task = g_task_new (NULL, NULL, NULL, NULL);
  g_task_set_task_data (task, element, gst_object_unref);
  g_task_run_in_thread (task, close_element_thread);
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
