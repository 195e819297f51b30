/* natter-sound.c — one of the app's bundled sounds, played with GStreamer
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <string.h>

#include "natter-sound.h"

/* One play of a sound: its own pipeline, built, started, restarted and
 * torn down on the sounds' worker thread only (see push_op()). The main
 * thread keeps a reference, watches the bus once the worker handed it
 * over, and never touches the pipeline. */
typedef struct
{
  gatomicrefcount ref;
  GWeakRef sound;            /* the NatterSound it plays for */
  GBytes *bytes;             /* the sound file, out of the GResource */
  char *sink_description;
  GstElement *pipeline;      /* worker only */
  GstBus *bus;               /* set by the worker before started_cb() */
} Play;

struct _NatterSound
{
  GObject parent_instance;

  char *uri;
  char *sink_description;
  GBytes *bytes;             /* the sound file, once looked up */
  Play *play;                /* the current play, or NULL */
  guint bus_watch;
  gboolean loop;
  gboolean playing;
  guint ends;
};

G_DEFINE_FINAL_TYPE (NatterSound, natter_sound, G_TYPE_OBJECT)

/* pipelines made and not yet torn down, in the process (atomic: the
 * worker makes and ends them) */
static guint n_pipelines;

static Play *
play_ref (Play *play)
{
  g_atomic_ref_count_inc (&play->ref);
  return play;
}

static void
play_unref (Play *play)
{
  if (!g_atomic_ref_count_dec (&play->ref))
    return;
  /* the worker's OP_DROP ran before the last reference went */
  g_assert (play->pipeline == NULL);
  g_weak_ref_clear (&play->sound);
  g_bytes_unref (play->bytes);
  g_free (play->sink_description);
  g_clear_object (&play->bus);
  g_free (play);
}

/* ------------------------------------------------------------- worker */

/* Building a pipeline loads plugins (dlopen), and its state changes open
 * the sound card (autoaudiosink probes its sinks on the way to READY):
 * none of that may block the GTK main thread. One worker thread does all
 * of it, in the order it was asked. */
typedef enum
{
  OP_START,    /* build the play's pipeline and start it */
  OP_DROP,     /* stop it and free the pipeline */
} OpKind;

typedef struct
{
  OpKind kind;
  Play *play;
} Op;

static GThreadPool *worker;

/* appsrc asks for data: the whole file, once per start */
static void
need_data_cb (GstAppSrc *source,
              guint      length,
              gpointer   user_data)
{
  Play *play = user_data;

  gst_app_src_push_buffer (source, gst_buffer_new_wrapped_bytes (play->bytes));
  gst_app_src_end_of_stream (source);
}

static gboolean
started_cb (gpointer user_data);

static gboolean
build (Play *play)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *description = NULL;
  g_autoptr(GstElement) source = NULL;
  GstAppSrcCallbacks callbacks = { .need_data = need_data_cb };

  if (!gst_is_initialized ())
    gst_init (NULL, NULL);
  /* the file's bytes through appsrc, not resource:// through GStreamer's
   * GIO source: that source raised a CRITICAL as a sound started (#15) */
  description = g_strdup_printf ("appsrc name=source format=bytes ! decodebin ! audioconvert ! audioresample ! %s",
                                 play->sink_description != NULL ? play->sink_description : "autoaudiosink");
  play->pipeline = gst_parse_launch (description, &error);
  if (play->pipeline != NULL)
    gst_object_ref_sink (play->pipeline);
  /* an error with a pipeline: a part of it is missing */
  if (play->pipeline == NULL || error != NULL)
    {
      /* no base plugins, say: a sound is not worth more than a note */
      g_message ("Cannot play sounds: %s", error != NULL ? error->message : description);
      gst_clear_object (&play->pipeline);
      return FALSE;
    }
  g_atomic_int_inc (&n_pipelines);
  source = gst_bin_get_by_name (GST_BIN (play->pipeline), "source");
  gst_app_src_set_callbacks (GST_APP_SRC (source), &callbacks, play_ref (play), (GDestroyNotify) play_unref);
  play->bus = gst_element_get_bus (play->pipeline);
  return TRUE;
}

static void
run_op (gpointer data,
        gpointer user_data)
{
  Op *op = data;
  Play *play = op->play;

  switch (op->kind)
    {
    case OP_START:
      if (build (play))
        gst_element_set_state (play->pipeline, GST_STATE_PLAYING);
      /* the main thread watches its bus from now on (no bus: it failed) */
      g_main_context_invoke_full (NULL, G_PRIORITY_DEFAULT, started_cb, play_ref (play),
                                  (GDestroyNotify) play_unref);
      break;
    case OP_DROP:
      if (play->pipeline != NULL)
        {
          gst_element_set_state (play->pipeline, GST_STATE_NULL);
          /* appsrc's callbacks hold the play: drop them with the pipeline */
          gst_clear_object (&play->pipeline);
          g_atomic_int_add (&n_pipelines, -1);
        }
      break;
    default:
      g_assert_not_reached ();
    }
  play_unref (play);
  g_free (op);
}

static void
push_op (Play   *play,
         OpKind  kind)
{
  Op *op = g_new0 (Op, 1);

  if (worker == NULL)
    worker = g_thread_pool_new (run_op, NULL, 1, FALSE, NULL);
  op->kind = kind;
  op->play = play_ref (play);
  g_thread_pool_push (worker, op, NULL);
}

/* -------------------------------------------------------- main thread */

static void
drop_play (NatterSound *self)
{
  g_clear_handle_id (&self->bus_watch, g_source_remove);
  if (self->play != NULL)
    {
      push_op (self->play, OP_DROP);
      g_clear_pointer (&self->play, play_unref);
    }
}

static void start_play (NatterSound *self);

static gboolean
bus_cb (GstBus     *bus,
        GstMessage *message,
        gpointer    user_data)
{
  NatterSound *self = user_data;

  switch (GST_MESSAGE_TYPE (message))
    {
    case GST_MESSAGE_EOS:
      self->ends++;
      drop_play (self);
      /* again by a new pipeline: decodebin's pads, linked once, do not
       * survive a restart of this one */
      if (self->loop && self->playing)
        start_play (self);
      else
        self->playing = FALSE;
      return G_SOURCE_REMOVE;
    case GST_MESSAGE_ERROR:
      {
        g_autoptr(GError) error = NULL;

        gst_message_parse_error (message, &error, NULL);
        /* no sound card, say: a sound is not worth more than a note */
        g_message ("Cannot play %s: %s", self->uri, error->message);
        self->playing = FALSE;
        drop_play (self);
        return G_SOURCE_REMOVE;
      }
    default:
      break;
    }
  return G_SOURCE_CONTINUE;
}

/* The worker started @play's pipeline (or could not build it): its
 * messages, queued on its bus meanwhile, come to bus_cb() from now on,
 * unless a later play or a stop replaced it. */
static gboolean
started_cb (gpointer user_data)
{
  Play *play = user_data;
  g_autoptr(NatterSound) self = g_weak_ref_get (&play->sound);

  if (self == NULL || self->play != play || self->bus_watch != 0)
    return G_SOURCE_REMOVE;
  if (play->bus != NULL)
    self->bus_watch = gst_bus_add_watch (play->bus, bus_cb, self);
  else
    {
      self->playing = FALSE;
      drop_play (self);
    }
  return G_SOURCE_REMOVE;
}

static void
start_play (NatterSound *self)
{
  Play *play = g_new0 (Play, 1);

  g_atomic_ref_count_init (&play->ref);
  g_weak_ref_init (&play->sound, self);
  play->bytes = g_bytes_ref (self->bytes);
  play->sink_description = g_strdup (self->sink_description);
  self->play = play;
  push_op (play, OP_START);
}

void
natter_sound_play (NatterSound *self,
                   gboolean     loop)
{
  g_autoptr(GError) error = NULL;

  g_return_if_fail (NATTER_IS_SOUND (self));
  g_return_if_fail (g_str_has_prefix (self->uri, "resource://"));

  /* From the start by a new pipeline: the last play's one goes, with
   * whatever its bus still holds (an end, a start in flight). */
  drop_play (self);
  self->playing = FALSE;
  /* compiled into the binary: a lookup, no I/O */
  if (self->bytes == NULL &&
      (self->bytes = g_resources_lookup_data (self->uri + strlen ("resource://"), G_RESOURCE_LOOKUP_FLAGS_NONE,
                                              &error)) == NULL)
    {
      g_message ("Cannot play %s: %s", self->uri, error->message);
      return;
    }
  self->loop = loop;
  self->playing = TRUE;
  start_play (self);
}

void
natter_sound_stop (NatterSound *self)
{
  g_return_if_fail (NATTER_IS_SOUND (self));

  self->playing = FALSE;
  drop_play (self);
}

gboolean
natter_sound_get_playing (NatterSound *self)
{
  g_return_val_if_fail (NATTER_IS_SOUND (self), FALSE);
  return self->playing;
}

guint
natter_sound_get_ends (NatterSound *self)
{
  g_return_val_if_fail (NATTER_IS_SOUND (self), 0);
  return self->ends;
}

guint
natter_sound_get_n_pipelines (void)
{
  return g_atomic_int_get (&n_pipelines);
}

void
natter_sound_wait (void)
{
  /* its queue done, then gone: a later play makes a new one */
  if (worker != NULL)
    g_thread_pool_free (g_steal_pointer (&worker), FALSE, TRUE);
}

static void
natter_sound_dispose (GObject *object)
{
  NatterSound *self = (NatterSound *) object;

  self->playing = FALSE;
  drop_play (self);

  G_OBJECT_CLASS (natter_sound_parent_class)->dispose (object);
}

static void
natter_sound_finalize (GObject *object)
{
  NatterSound *self = (NatterSound *) object;

  g_free (self->uri);
  g_free (self->sink_description);
  g_clear_pointer (&self->bytes, g_bytes_unref);

  G_OBJECT_CLASS (natter_sound_parent_class)->finalize (object);
}

static void
natter_sound_class_init (NatterSoundClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = natter_sound_dispose;
  object_class->finalize = natter_sound_finalize;
}

static void
natter_sound_init (NatterSound *self)
{
}

NatterSound *
natter_sound_new (const char *uri,
                  const char *sink_description)
{
  NatterSound *self;

  g_return_val_if_fail (uri != NULL, NULL);

  self = g_object_new (NATTER_TYPE_SOUND, NULL);
  self->uri = g_strdup (uri);
  self->sink_description = g_strdup (sink_description);
  return self;
}
