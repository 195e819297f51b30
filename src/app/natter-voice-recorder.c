/* natter-voice-recorder.c — records a voice message to Opus/Ogg
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gi18n.h>
#include <gst/gst.h>

#include "natter-call-devices.h"
#include "natter-voice-recorder.h"

struct _NatterVoiceRecorder
{
  GObject parent_instance;

  GFile *file;
  char *microphone;
  GstElement *pipeline;
  GCancellable *opening;   /* the chosen microphone looked up on a worker */
  guint bus_watch_id;
  guint tick_id;
  gint64 started_us;
  int elapsed;
  gboolean stopping;
};

G_DEFINE_FINAL_TYPE (NatterVoiceRecorder, natter_voice_recorder, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ELAPSED,
  N_PROPS
};

enum {
  FINISHED,
  FAILED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void
teardown (NatterVoiceRecorder *self)
{
  g_cancellable_cancel (self->opening);
  g_clear_object (&self->opening);
  g_clear_handle_id (&self->tick_id, g_source_remove);
  g_clear_handle_id (&self->bus_watch_id, g_source_remove);
  if (self->pipeline != NULL)
    {
      gst_element_set_state (self->pipeline, GST_STATE_NULL);
      g_clear_object (&self->pipeline);
    }
}

static gboolean
tick_cb (gpointer user_data)
{
  NatterVoiceRecorder *self = user_data;
  int elapsed = (int) ((g_get_monotonic_time () - self->started_us) / G_USEC_PER_SEC);

  if (elapsed != self->elapsed)
    {
      self->elapsed = elapsed;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ELAPSED]);
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
bus_cb (GstBus     *bus,
        GstMessage *message,
        gpointer    user_data)
{
  NatterVoiceRecorder *self = user_data;

  switch (GST_MESSAGE_TYPE (message))
    {
    case GST_MESSAGE_EOS:
      {
        int seconds = MAX (1, (int) ((g_get_monotonic_time () - self->started_us + G_USEC_PER_SEC / 2)
                                     / G_USEC_PER_SEC));
        g_autoptr(NatterVoiceRecorder) hold = g_object_ref (self);

        self->bus_watch_id = 0;
        teardown (self);
        g_signal_emit (self, signals[FINISHED], 0, self->file, seconds);
        return G_SOURCE_REMOVE;
      }
    case GST_MESSAGE_ERROR:
      {
        g_autoptr(GError) error = NULL;
        g_autofree char *debug = NULL;
        g_autoptr(NatterVoiceRecorder) hold = g_object_ref (self);

        gst_message_parse_error (message, &error, &debug);
        g_warning ("Recording failed: %s (%s)", error->message, debug != NULL ? debug : "");
        self->bus_watch_id = 0;
        teardown (self);
        g_signal_emit (self, signals[FAILED], 0, error);
        return G_SOURCE_REMOVE;
      }
    default:
      return G_SOURCE_CONTINUE;
    }
}

/* Records from @microphone (taken; NULL: the default one). */
static gboolean
play (NatterVoiceRecorder  *self,
      GstElement           *microphone,
      GError              **error)
{
  g_autofree char *path = g_file_get_path (self->file);
  g_autofree char *description = NULL;
  g_autoptr(GstBus) bus = NULL;
  const char *source;

  if (microphone != NULL)
    source = "identity name=source";
  else if (g_strcmp0 (g_getenv ("NATTER_VOICE_TEST_SOURCE"), "1") == 0)
    source = "audiotestsrc is-live=true wave=sine freq=440";
  else
    source = "autoaudiosrc";
  description = g_strdup_printf ("%s ! audioconvert ! audioresample ! audio/x-raw,channels=1 ! "
                                 "opusenc bitrate=32000 ! oggmux ! filesink name=sink",
                                 source);
  self->pipeline = gst_parse_launch (description, error);
  if (self->pipeline == NULL)
    {
      if (microphone != NULL)
        {
          gst_element_set_state (microphone, GST_STATE_NULL);
          gst_object_unref (microphone);
        }
      return FALSE;
    }
  gst_object_ref_sink (self->pipeline);
  {
    g_autoptr(GstElement) sink = gst_bin_get_by_name (GST_BIN (self->pipeline), "sink");
    g_object_set (sink, "location", path, NULL);
  }
  if (microphone != NULL)
    {
      /* the chosen device in front of the placeholder; the bin takes it */
      g_autoptr(GstElement) placeholder = gst_bin_get_by_name (GST_BIN (self->pipeline), "source");

      gst_bin_add (GST_BIN (self->pipeline), microphone);
      gst_object_unref (microphone);
      if (!gst_element_link (microphone, placeholder))
        {
          teardown (self);
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("The microphone could not be opened"));
          return FALSE;
        }
    }

  bus = gst_element_get_bus (self->pipeline);
  self->bus_watch_id = gst_bus_add_watch (bus, bus_cb, self);

  if (gst_element_set_state (self->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    {
      teardown (self);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("The microphone could not be opened"));
      return FALSE;
    }

  self->started_us = g_get_monotonic_time ();
  self->elapsed = 0;
  self->tick_id = g_timeout_add (250, tick_cb, self);
  return TRUE;
}

/* The microphone chosen in Preferences (by display name), opened: the
 * calls' device monitor, whose first start probes every provider and can
 * take seconds, and opening the device may too. */
static void
open_microphone_thread (GTask        *task,
                        gpointer      source_object,
                        gpointer      task_data,
                        GCancellable *cancellable)
{
  const char *name = task_data;
  GstElement *element = natter_call_device_make_element (NATTER_CALL_DEVICE_MICROPHONE, name);

  if (element != NULL)
    gst_object_ref_sink (element);
  else
    g_message ("Microphone “%s” is not there: using the default one", name);
  g_task_return_pointer (task, element, element != NULL ? gst_object_unref : NULL);
}

static void
microphone_opened_cb (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  NatterVoiceRecorder *self = user_data;
  g_autoptr(GError) error = NULL;
  GstElement *microphone;
  gboolean stop;

  microphone = g_task_propagate_pointer (G_TASK (result), &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;  /* cancelled or disposed: self may be gone */
  g_clear_object (&self->opening);
  stop = self->stopping;
  self->stopping = FALSE;
  if (!play (self, microphone, &error))
    {
      g_autoptr(NatterVoiceRecorder) hold = g_object_ref (self);

      g_warning ("Recording failed: %s", error->message);
      g_signal_emit (self, signals[FAILED], 0, error);
      return;
    }
  /* finished before the microphone was there: the shortest recording */
  if (stop)
    natter_voice_recorder_stop (self);
}

gboolean
natter_voice_recorder_start (NatterVoiceRecorder  *self,
                             GError              **error)
{
  g_autoptr(GTask) task = NULL;

  g_return_val_if_fail (NATTER_IS_VOICE_RECORDER (self), FALSE);
  g_return_val_if_fail (self->pipeline == NULL && self->opening == NULL, FALSE);

  if (!gst_is_initialized ())
    gst_init (NULL, NULL);

  if (self->microphone == NULL || *self->microphone == '\0')
    return play (self, NULL, error);

  self->opening = g_cancellable_new ();
  task = g_task_new (NULL, self->opening, microphone_opened_cb, self);
  g_task_set_source_tag (task, natter_voice_recorder_start);
  /* the error comes from the cancellable, not from a late result */
  g_task_set_check_cancellable (task, TRUE);
  g_task_set_task_data (task, g_strdup (self->microphone), g_free);
  g_task_run_in_thread (task, open_microphone_thread);
  return TRUE;
}

void
natter_voice_recorder_stop (NatterVoiceRecorder *self)
{
  g_return_if_fail (NATTER_IS_VOICE_RECORDER (self));

  if (self->opening != NULL)
    {
      self->stopping = TRUE;  /* microphone_opened_cb() stops it */
      return;
    }
  if (self->pipeline == NULL || self->stopping)
    return;
  self->stopping = TRUE;
  g_clear_handle_id (&self->tick_id, g_source_remove);
  /* EOS through the pipeline finishes the Ogg file; bus_cb reports it */
  gst_element_send_event (self->pipeline, gst_event_new_eos ());
}

void
natter_voice_recorder_cancel (NatterVoiceRecorder *self)
{
  g_return_if_fail (NATTER_IS_VOICE_RECORDER (self));

  teardown (self);
  g_file_delete (self->file, NULL, NULL);
}

int
natter_voice_recorder_get_elapsed (NatterVoiceRecorder *self)
{
  g_return_val_if_fail (NATTER_IS_VOICE_RECORDER (self), 0);
  return self->elapsed;
}

static void
natter_voice_recorder_dispose (GObject *object)
{
  NatterVoiceRecorder *self = (NatterVoiceRecorder *) object;

  teardown (self);
  g_clear_object (&self->file);
  g_clear_pointer (&self->microphone, g_free);

  G_OBJECT_CLASS (natter_voice_recorder_parent_class)->dispose (object);
}

static void
natter_voice_recorder_get_property (GObject    *object,
                                    guint       prop_id,
                                    GValue     *value,
                                    GParamSpec *pspec)
{
  NatterVoiceRecorder *self = NATTER_VOICE_RECORDER (object);

  switch (prop_id)
    {
    case PROP_ELAPSED:
      g_value_set_int (value, self->elapsed);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_voice_recorder_class_init (NatterVoiceRecorderClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = natter_voice_recorder_dispose;
  object_class->get_property = natter_voice_recorder_get_property;

  properties[PROP_ELAPSED] =
    g_param_spec_int ("elapsed", NULL, NULL, 0, G_MAXINT, 0,
                      G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[FINISHED] =
    g_signal_new ("finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_FILE, G_TYPE_INT);
  signals[FAILED] =
    g_signal_new ("failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
natter_voice_recorder_init (NatterVoiceRecorder *self)
{
}

NatterVoiceRecorder *
natter_voice_recorder_new (GFile      *file,
                           const char *microphone)
{
  NatterVoiceRecorder *self;

  g_return_val_if_fail (G_IS_FILE (file), NULL);

  self = g_object_new (NATTER_TYPE_VOICE_RECORDER, NULL);
  self->file = g_object_ref (file);
  self->microphone = g_strdup (microphone);
  return self;
}
