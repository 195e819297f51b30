/* natter-sound.c — one of the app's bundled sounds, played with GStreamer
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gst/gst.h>

#include "natter-sound.h"

struct _NatterSound
{
  GObject parent_instance;

  char *uri;
  char *sink_description;
  GstElement *playbin;
  guint bus_watch;
  gboolean loop;
  gboolean playing;
  guint ends;
};

G_DEFINE_FINAL_TYPE (NatterSound, natter_sound, G_TYPE_OBJECT)

/* pipelines made and not yet disposed, in the process */
static guint n_pipelines;

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
      if (self->loop && self->playing)
        gst_element_seek_simple (self->playbin, GST_FORMAT_TIME, GST_SEEK_FLAG_FLUSH, 0);
      else
        {
          self->playing = FALSE;
          gst_element_set_state (self->playbin, GST_STATE_READY);
        }
      break;
    case GST_MESSAGE_ERROR:
      {
        g_autoptr(GError) error = NULL;

        gst_message_parse_error (message, &error, NULL);
        /* no sound card, say: a sound is not worth more than a note */
        g_message ("Cannot play %s: %s", self->uri, error->message);
        self->playing = FALSE;
        gst_element_set_state (self->playbin, GST_STATE_NULL);
      }
      break;
    default:
      break;
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
ensure_pipeline (NatterSound *self)
{
  g_autoptr(GstBus) bus = NULL;

  if (self->playbin != NULL)
    return TRUE;
  if (!gst_is_initialized ())
    gst_init (NULL, NULL);
  self->playbin = gst_element_factory_make ("playbin", NULL);
  if (self->playbin == NULL)
    {
      g_message ("Cannot play sounds: no playbin (GStreamer's base plugins)");
      return FALSE;
    }
  gst_object_ref_sink (self->playbin);
  n_pipelines++;
  /* audio only: no video sink is ever made */
  g_object_set (self->playbin, "uri", self->uri, "flags", 0x2 /* GST_PLAY_FLAG_AUDIO */, NULL);
  if (self->sink_description != NULL)
    {
      g_autoptr(GError) error = NULL;
      GstElement *sink = gst_parse_bin_from_description (self->sink_description, TRUE, &error);

      if (sink == NULL)
        g_message ("Sound output %s: %s", self->sink_description, error->message);
      else
        g_object_set (self->playbin, "audio-sink", sink, NULL);
    }
  bus = gst_element_get_bus (self->playbin);
  self->bus_watch = gst_bus_add_watch (bus, bus_cb, self);
  return TRUE;
}

void
natter_sound_play (NatterSound *self,
                   gboolean     loop)
{
  g_return_if_fail (NATTER_IS_SOUND (self));

  if (!ensure_pipeline (self))
    return;
  self->loop = loop;
  self->playing = TRUE;
  /* From the start by a restart, not a seek: a flushing seek sent while
   * the pipeline is still starting (it always was, right after PAUSED)
   * races that start in the streaming threads. Through NULL, the
   * pipeline's bus also drops an end of the play before. */
  gst_element_set_state (self->playbin, GST_STATE_NULL);
  gst_element_set_state (self->playbin, GST_STATE_PLAYING);
}

void
natter_sound_stop (NatterSound *self)
{
  g_return_if_fail (NATTER_IS_SOUND (self));

  self->playing = FALSE;
  if (self->playbin != NULL)
    gst_element_set_state (self->playbin, GST_STATE_NULL);
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
  return n_pipelines;
}

static void
natter_sound_dispose (GObject *object)
{
  NatterSound *self = (NatterSound *) object;

  g_clear_handle_id (&self->bus_watch, g_source_remove);
  if (self->playbin != NULL)
    {
      gst_element_set_state (self->playbin, GST_STATE_NULL);
      gst_clear_object (&self->playbin);
      n_pipelines--;
    }

  G_OBJECT_CLASS (natter_sound_parent_class)->dispose (object);
}

static void
natter_sound_finalize (GObject *object)
{
  NatterSound *self = (NatterSound *) object;

  g_free (self->uri);
  g_free (self->sink_description);

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
