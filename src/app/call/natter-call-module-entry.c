/* natter-call-module-entry.c — the call module's table (#17)
 *
 * What the app reaches of libnatter-call, the call window, the sounds and
 * the voice recorder (src/app/natter-call-module.h): built into
 * libnatter-calls.so, and linked statically into the tests.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gmodule.h>
#include <gst/gst.h>

#include "natter-call-controller.h"
#include "natter-call-devices.h"
#include "natter-call-media.h"
#include "natter-call-module.h"
#include "natter-call-module-entry.h"
#include "natter-sound.h"
#include "natter-voice-recorder.h"

static GObject *
controller_new (GtkApplication *application,
                NatterClient   *client)
{
  return G_OBJECT (natter_call_controller_new (application, client));
}

static void
controller_start_call (GObject    *controller,
                       GtkWindow  *parent,
                       const char *peer_id,
                       const char *peer_name,
                       gboolean    video)
{
  natter_call_controller_start_call (NATTER_CALL_CONTROLLER (controller), parent, peer_id, peer_name,
                                     video ? NATTER_CALL_MEDIA_VIDEO : NATTER_CALL_MEDIA_AUDIO);
}

static GObject *
sound_new (const char *uri)
{
  return G_OBJECT (natter_sound_new (uri, NULL));
}

static void
sound_play (GObject  *sound,
            gboolean  loop)
{
  natter_sound_play (NATTER_SOUND (sound), loop);
}

static GObject *
recorder_new (GFile      *file,
              const char *microphone)
{
  return G_OBJECT (natter_voice_recorder_new (file, microphone));
}

static gboolean
recorder_start (GObject  *recorder,
                GError  **error)
{
  return natter_voice_recorder_start (NATTER_VOICE_RECORDER (recorder), error);
}

static void
recorder_stop (GObject *recorder)
{
  natter_voice_recorder_stop (NATTER_VOICE_RECORDER (recorder));
}

static void
recorder_cancel (GObject *recorder)
{
  natter_voice_recorder_cancel (NATTER_VOICE_RECORDER (recorder));
}

static int
recorder_get_elapsed (GObject *recorder)
{
  return natter_voice_recorder_get_elapsed (NATTER_VOICE_RECORDER (recorder));
}

static void
devices_free (gpointer devices)
{
  g_list_free_full (devices, gst_object_unref);
}

static void
devices_monitor_free (gpointer monitor)
{
  gst_device_monitor_stop (monitor);
  gst_object_unref (monitor);
}

/* How long the test hook holds the probe back at most. */
#define PROBE_HOLD_MAX_US (30 * G_USEC_PER_SEC)

/* Tests: the probe waits until the file $NATTER_TEST_DEVICE_PROBE_HOLD
 * exists (saying so in "$NATTER_TEST_DEVICE_PROBE_HOLD.started"), so a
 * test sees the window while the probe is going on. */
static void
probe_test_hold (void)
{
  const char *hold = g_getenv ("NATTER_TEST_DEVICE_PROBE_HOLD");
  gint64 end = g_get_monotonic_time () + PROBE_HOLD_MAX_US;
  g_autofree char *started = NULL;

  if (hold == NULL || g_file_test (hold, G_FILE_TEST_EXISTS))
    return;
  started = g_strconcat (hold, ".started", NULL);
  g_file_set_contents (started, "", 0, NULL);
  while (!g_file_test (hold, G_FILE_TEST_EXISTS) && g_get_monotonic_time () < end)
    g_usleep (20 * 1000);
}

/* start() probes PipeWire, PulseAudio and V4L2 once and can block for
 * seconds: on a worker, never on the main thread. */
static void
devices_monitor_thread (GTask        *task,
                        gpointer      source_object,
                        gpointer      task_data,
                        GCancellable *cancellable)
{
  GstDeviceMonitor *monitor;

  probe_test_hold ();
  if (!gst_is_initialized ())
    gst_init (NULL, NULL);
  /* the calls' providers that found nothing so far try again (a sound
   * server started after Natter): shared with the monitor below */
  natter_call_devices_recheck ();
  monitor = gst_device_monitor_new ();
  gst_device_monitor_add_filter (monitor, "Video/Source", NULL);
  gst_device_monitor_add_filter (monitor, "Audio/Source", NULL);
  gst_device_monitor_add_filter (monitor, "Audio/Sink", NULL);
  if (!gst_device_monitor_start (monitor))
    {
      gst_object_unref (monitor);
      g_task_return_pointer (task, NULL, NULL);
      return;
    }
  /* the list too: get_devices() probes again each provider that did not
   * start (no PulseAudio server...), which must not be on the main thread */
  g_object_set_data_full (G_OBJECT (monitor), "natter-devices", gst_device_monitor_get_devices (monitor),
                          devices_free);
  /* not taken (cancelled meanwhile): stopped and dropped with the task */
  g_task_return_pointer (task, monitor, devices_monitor_free);
}

static void
devices_monitor_new_async (GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, devices_monitor_new_async);
  g_task_run_in_thread (task, devices_monitor_thread);
}

static GObject *
devices_monitor_new_finish (GAsyncResult  *result,
                            GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static GStrv
devices_list (GObject    *monitor,
              const char *klass)
{
  g_autoptr(GStrvBuilder) names = g_strv_builder_new ();
  /* as the worker found them (devices_monitor_thread) */
  GList *devices = g_object_get_data (monitor, "natter-devices");

  for (GList *l = devices; l != NULL; l = l->next)
    {
      g_autofree char *name = NULL;

      if (!gst_device_has_classes (l->data, klass))
        continue;
      name = gst_device_get_display_name (l->data);
      g_strv_builder_add (names, name);
    }
  return g_strv_builder_end (names);
}

static void
devices_monitor_stop (GObject *monitor)
{
  gst_device_monitor_stop (GST_DEVICE_MONITOR (monitor));
}

static void
prepare_wait (void)
{
  natter_call_media_prepare_wait ();
  /* the sounds' worker too: the last ringtone's pipeline going down */
  natter_sound_wait ();
}

static const NatterCallModule table = {
  .version = NATTER_CALL_MODULE_VERSION,
  .controller_new = controller_new,
  .controller_start_call = controller_start_call,
  .sound_new = sound_new,
  .sound_play = sound_play,
  .recorder_new = recorder_new,
  .recorder_start = recorder_start,
  .recorder_stop = recorder_stop,
  .recorder_cancel = recorder_cancel,
  .recorder_get_elapsed = recorder_get_elapsed,
  .devices_monitor_new_async = devices_monitor_new_async,
  .devices_monitor_new_finish = devices_monitor_new_finish,
  .devices_list = devices_list,
  .devices_monitor_stop = devices_monitor_stop,
  .prepare_wait = prepare_wait,
};

G_MODULE_EXPORT const NatterCallModule *
natter_call_module_entry (void)
{
  return &table;
}
