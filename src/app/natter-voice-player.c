/* natter-voice-player.c — play/pause and progress of a voice message
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gi18n.h>

#include "natter-format.h"
#include "natter-voice-player.h"

struct _NatterVoicePlayer
{
  GtkWidget parent_instance;

  NatterClient *client;
  NatterMessage *message;
  GtkMediaStream *stream;
  GCancellable *cancellable;
  GFile *inline_file;           /* RC:VcMsg's AMR, written out to play it */
  gboolean downloading;         /* the bar shows the download; the button stops it */

  GtkWidget *play_button;
  GtkProgressBar *progress;
  GtkLabel *time_label;
  GtkSpinner *spinner;
};

G_DEFINE_FINAL_TYPE (NatterVoicePlayer, natter_voice_player, GTK_TYPE_WIDGET)

static void
update (NatterVoicePlayer *self)
{
  gint64 duration = natter_message_get_voice_duration (self->message);
  gboolean playing = self->stream != NULL && gtk_media_stream_get_playing (self->stream);
  g_autofree char *text = NULL;

  /* a raw AMR stream (RC:VcMsg) has no duration of its own: the message's */
  gint64 total = self->stream == NULL ? 0
                 : gtk_media_stream_get_duration (self->stream) > 0 ? gtk_media_stream_get_duration (self->stream)
                 : duration * G_USEC_PER_SEC;

  if (self->downloading)
    {
      /* the fraction comes with the download's progress */
      gtk_button_set_icon_name (GTK_BUTTON (self->play_button), "process-stop-symbolic");
      gtk_widget_set_tooltip_text (self->play_button, _("Cancel Download"));
      gtk_accessible_update_property (GTK_ACCESSIBLE (self->play_button), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                      _("Cancel Download"), -1);
      return;
    }
  if (total > 0)
    {
      gint64 ts = MIN (gtk_media_stream_get_timestamp (self->stream), total);
      g_autofree char *now = natter_format_duration (ts / G_USEC_PER_SEC);
      g_autofree char *all = natter_format_duration (total / G_USEC_PER_SEC);

      gtk_progress_bar_set_fraction (self->progress, (double) ts / total);
      text = g_strdup_printf ("%s / %s", now, all);
    }
  else
    {
      gtk_progress_bar_set_fraction (self->progress, 0);
      text = natter_format_duration (duration);
    }
  gtk_label_set_label (self->time_label, text);

  gtk_button_set_icon_name (GTK_BUTTON (self->play_button),
                            playing ? "media-playback-pause-symbolic" : "media-playback-start-symbolic");
  gtk_widget_set_tooltip_text (self->play_button, playing ? _("Pause") : _("Play"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->play_button),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  playing ? _("Pause voice message") : _("Play voice message"),
                                  -1);
}

static void
stream_ended_cb (NatterVoicePlayer *self)
{
  if (gtk_media_stream_get_ended (self->stream))
    {
      gtk_media_stream_pause (self->stream);
      gtk_media_stream_seek (self->stream, 0);
    }
  update (self);
}

static void
stream_error_cb (NatterVoicePlayer *self)
{
  const GError *error = gtk_media_stream_get_error (self->stream);

  if (error != NULL)
    {
      gtk_widget_set_tooltip_text (self->play_button, error->message);
      gtk_widget_add_css_class (self->play_button, "error");
    }
}

static void
play_file (NatterVoicePlayer *self,
           GFile             *file)
{
  g_clear_object (&self->stream);
  self->stream = gtk_media_file_new_for_file (file);
  g_signal_connect_swapped (self->stream, "notify::timestamp", G_CALLBACK (update), self);
  g_signal_connect_swapped (self->stream, "notify::playing", G_CALLBACK (update), self);
  g_signal_connect_swapped (self->stream, "notify::duration", G_CALLBACK (update), self);
  g_signal_connect_swapped (self->stream, "notify::ended", G_CALLBACK (stream_ended_cb), self);
  g_signal_connect_swapped (self->stream, "notify::error", G_CALLBACK (stream_error_cb), self);
  gtk_media_stream_play (self->stream);
}

static void
download_progress_cb (goffset  current,
                      goffset  total,
                      gpointer user_data)
{
  NatterVoicePlayer *self = user_data;

  /* late news of a download stopped meanwhile */
  if (!self->downloading || self->cancellable == NULL || g_cancellable_is_cancelled (self->cancellable))
    return;
  gtk_progress_bar_set_fraction (self->progress, total > 0 ? CLAMP ((double) current / total, 0, 1) : 0);
}

static void
stop_download (NatterVoicePlayer *self)
{
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->downloading = FALSE;
  gtk_spinner_stop (self->spinner);
  gtk_widget_set_visible (GTK_WIDGET (self->spinner), FALSE);
  update (self);
}

static void
download_cb (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(NatterVoicePlayer) self = user_data;
  g_autoptr(GFile) file = NULL;
  g_autoptr(GError) error = NULL;

  file = natter_client_download_finish (NATTER_CLIENT (object), result, &error);
  /* disposed meanwhile (its row went away): its widgets are gone, and a
   * download that finished anyway must not start playing */
  if (self->cancellable == NULL || g_cancellable_is_cancelled (self->cancellable))
    return;
  g_clear_object (&self->cancellable);
  self->downloading = FALSE;
  gtk_spinner_stop (self->spinner);
  gtk_widget_set_visible (GTK_WIDGET (self->spinner), FALSE);
  update (self);
  if (file == NULL)
    {
      g_autofree char *text = natter_format_error (error);
      gtk_widget_set_tooltip_text (self->play_button, text);
      gtk_widget_add_css_class (self->play_button, "error");
      return;
    }
  play_file (self, file);
}

/* RC:VcMsg carries its AMR-NB clip inline (base64, RongCloud's clients
 * record "#!AMR\n" files); GtkMediaFile plays files, so it goes to a
 * temporary one, written on a worker thread. */
static void
write_inline_thread (GTask        *task,
                     gpointer      source_object,
                     gpointer      task_data,
                     GCancellable *cancellable)
{
  const char *encoded = task_data;
  g_autoptr(GFileIOStream) io = NULL;
  g_autoptr(GFile) file = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree guchar *data = NULL;
  gsize length = 0;

  data = g_base64_decode (encoded, &length);
  if (length == 0)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                               _("This voice message has no recording"));
      return;
    }
  file = g_file_new_tmp ("natter-voice-XXXXXX.amr", &io, &error);
  if (file == NULL ||
      !g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (io)), data, length, NULL,
                                  cancellable, &error) ||
      !g_io_stream_close (G_IO_STREAM (io), cancellable, &error))
    {
      if (file != NULL)
        g_file_delete (file, NULL, NULL);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_pointer (task, g_steal_pointer (&file), g_object_unref);
}

static void
inline_written_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  NatterVoicePlayer *self = NATTER_VOICE_PLAYER (object);
  g_autoptr(GFile) file = NULL;
  g_autoptr(GError) error = NULL;

  file = g_task_propagate_pointer (G_TASK (result), &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      if (file != NULL)
        g_file_delete (file, NULL, NULL);
      return;
    }
  g_clear_object (&self->cancellable);
  gtk_spinner_stop (self->spinner);
  gtk_widget_set_visible (GTK_WIDGET (self->spinner), FALSE);
  if (file == NULL)
    {
      gtk_widget_set_tooltip_text (self->play_button, error->message);
      gtk_widget_add_css_class (self->play_button, "error");
      return;
    }
  g_set_object (&self->inline_file, file);
  play_file (self, file);
}

static gboolean
play_inline (NatterVoicePlayer *self)
{
  g_autoptr(GTask) task = NULL;
  const char *encoded;

  if (natter_message_get_kind (self->message) != NATTER_MESSAGE_KIND_VOICE)
    return FALSE;
  encoded = json_object_get_string_member_with_default (natter_message_get_content (self->message),
                                                        "content", NULL);
  if (encoded == NULL || *encoded == '\0')
    return FALSE;

  self->cancellable = g_cancellable_new ();
  gtk_widget_set_visible (GTK_WIDGET (self->spinner), TRUE);
  gtk_spinner_start (self->spinner);
  task = g_task_new (self, self->cancellable, inline_written_cb, NULL);
  g_task_set_source_tag (task, play_inline);
  g_task_set_task_data (task, g_strdup (encoded), g_free);
  g_task_set_return_on_cancel (task, FALSE);
  g_task_run_in_thread (task, write_inline_thread);
  return TRUE;
}

void
natter_voice_player_toggle (NatterVoicePlayer *self)
{
  const char *url;

  g_return_if_fail (NATTER_IS_VOICE_PLAYER (self));

  if (self->stream != NULL)
    {
      if (gtk_media_stream_get_playing (self->stream))
        gtk_media_stream_pause (self->stream);
      else
        gtk_media_stream_play (self->stream);
      return;
    }

  if (self->downloading)
    {
      stop_download (self);
      return;
    }
  if (self->cancellable != NULL)
    return;  /* writing out */
  if (play_inline (self))
    return;

  url = natter_message_get_voice_url (self->message);
  if (url == NULL || self->client == NULL)
    {
      gtk_widget_set_tooltip_text (self->play_button, _("This voice message has no recording"));
      return;
    }

  self->cancellable = g_cancellable_new ();
  gtk_widget_set_visible (GTK_WIDGET (self->spinner), TRUE);
  gtk_spinner_start (self->spinner);
  self->downloading = TRUE;
  update (self);
  natter_client_download_media_async (self->client, url, NATTER_MEDIA_KIND_VOICE, download_progress_cb, self,
                                      self->cancellable, download_cb, g_object_ref (self));
}

gboolean
natter_voice_player_get_playing (NatterVoicePlayer *self)
{
  g_return_val_if_fail (NATTER_IS_VOICE_PLAYER (self), FALSE);
  return self->stream != NULL && gtk_media_stream_get_playing (self->stream);
}

static void
natter_voice_player_dispose (GObject *object)
{
  NatterVoicePlayer *self = (NatterVoicePlayer *) object;

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->stream != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->stream, self);
      gtk_media_stream_pause (self->stream);
    }
  g_clear_object (&self->stream);
  if (self->inline_file != NULL)
    g_file_delete_async (self->inline_file, G_PRIORITY_LOW, NULL, NULL, NULL);
  g_clear_object (&self->inline_file);
  g_clear_object (&self->client);
  g_clear_object (&self->message);
  gtk_widget_dispose_template (GTK_WIDGET (self), NATTER_TYPE_VOICE_PLAYER);
  /* template children that are not bound to a field */
  for (GtkWidget *child; (child = gtk_widget_get_first_child (GTK_WIDGET (self))) != NULL;)
    gtk_widget_unparent (child);

  G_OBJECT_CLASS (natter_voice_player_parent_class)->dispose (object);
}

static void
natter_voice_player_class_init (NatterVoicePlayerClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = natter_voice_player_dispose;
  gtk_widget_class_set_template_from_resource (widget_class, "/im/natter/Natter/natter-voice-player.ui");
  gtk_widget_class_bind_template_child (widget_class, NatterVoicePlayer, play_button);
  gtk_widget_class_bind_template_child (widget_class, NatterVoicePlayer, progress);
  gtk_widget_class_bind_template_child (widget_class, NatterVoicePlayer, time_label);
  gtk_widget_class_bind_template_child (widget_class, NatterVoicePlayer, spinner);
  gtk_widget_class_bind_template_callback (widget_class, natter_voice_player_toggle);
  gtk_widget_class_set_css_name (widget_class, "voiceplayer");
}

static void
natter_voice_player_init (NatterVoicePlayer *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
natter_voice_player_new (NatterClient  *client,
                         NatterMessage *message)
{
  NatterVoicePlayer *self = g_object_new (NATTER_TYPE_VOICE_PLAYER, NULL);

  self->client = client != NULL ? g_object_ref (client) : NULL;
  self->message = g_object_ref (message);
  update (self);
  return GTK_WIDGET (self);
}
