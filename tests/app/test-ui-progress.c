/* test-ui-progress.c — progress bars of uploads and downloads in the bubble
 *
 * A file large enough that its transfer is reported in many steps (the
 * upload and the download go in chunks); the bar's fraction is watched as
 * it changes, so nothing here waits on a clock. It starts like a PDF, which
 * the tests' opener takes. (#16)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "natter-test-ui.h"
#include "natter-voice-player.h"

#define BIG_SIZE (24 * 1024 * 1024)

typedef struct {
  GtkWidget *chat;
  double max;
  guint partial;        /* changes strictly between 0 and 1 */
  gboolean cancel_at_partial;
  gboolean cancelled;
} Watch;

/* A file of @size bytes (sparse: quick to make), named @name in ui->dir. */
static char *
write_big_file (NatterTestUi *ui,
                const char   *name)
{
  char *path = g_build_filename (ui->dir, name, NULL);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileOutputStream) out = NULL;
  g_autoptr(GError) error = NULL;

  out = g_file_replace (file, NULL, FALSE, G_FILE_CREATE_NONE, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_output_stream_write_all (G_OUTPUT_STREAM (out), "%PDF-1.4\n", 9, NULL, NULL, &error));
  g_assert_true (g_seekable_truncate (G_SEEKABLE (out), BIG_SIZE, NULL, &error));
  g_assert_true (g_output_stream_close (G_OUTPUT_STREAM (out), NULL, &error));
  g_assert_no_error (error);
  return path;
}

static gboolean
has_progress_bar (gpointer chat)
{
  return natter_test_ui_find_type (chat, GTK_TYPE_PROGRESS_BAR) != NULL;
}

static gboolean
no_progress_bar (gpointer chat)
{
  return !has_progress_bar (chat);
}

/* Hidden ones too: a row that never shows a transfer or receipts does not
 * build their widgets (#17: they were a third of making a row). */
static guint
count_built (GtkWidget *widget,
             GType      type,
             const char *css_class)
{
  guint n = G_TYPE_CHECK_INSTANCE_TYPE (widget, type) &&
            (css_class == NULL || gtk_widget_has_css_class (widget, css_class));

  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    n += count_built (child, type, css_class);
  return n;
}

static void
fraction_cb (GtkProgressBar *bar,
             GParamSpec     *pspec,
             Watch          *watch)
{
  double fraction = gtk_progress_bar_get_fraction (bar);

  watch->max = MAX (watch->max, fraction);
  if (fraction <= 0 || fraction >= 1)
    return;
  watch->partial++;
  if (watch->cancel_at_partial && !watch->cancelled)
    {
      /* the bar's own cancel button, next to it */
      GtkWidget *button = gtk_widget_get_next_sibling (GTK_WIDGET (bar));

      g_assert_true (GTK_IS_BUTTON (button));
      g_assert_cmpstr (gtk_button_get_icon_name (GTK_BUTTON (button)), ==, "process-stop-symbolic");
      watch->cancelled = TRUE;
      /* clicked now (gtk_widget_activate() would click a moment later) */
      g_signal_emit_by_name (button, "clicked");
    }
}

/* Watches the bar on screen from now on. */
static GtkWidget *
watch_bar (NatterTestUi *ui,
           Watch        *watch)
{
  GtkWidget *bar;

  natter_test_ui_wait_until (has_progress_bar, ui->chat, "a progress bar in the bubble");
  bar = natter_test_ui_find_type (GTK_WIDGET (ui->chat), GTK_TYPE_PROGRESS_BAR);
  watch->chat = GTK_WIDGET (ui->chat);
  g_signal_connect (bar, "notify::fraction", G_CALLBACK (fraction_cb), watch);
  return bar;
}

static gboolean
last_failed (gpointer window)
{
  g_autoptr(NatterMessage) last = natter_test_ui_last_own_message (window);
  return last != NULL && natter_message_get_kind (last) == NATTER_MESSAGE_KIND_FILE &&
         natter_message_get_sent_status (last) == NATTER_SENT_STATUS_FAILED;
}

/* A dropped file uploads with a determinate bar in its bubble that runs
 * to 1; once sent the bar is gone and bob has it. */
static void
test_upload_progress (NatterTestUi  *ui,
                      gconstpointer  data)
{
  g_autofree char *path = write_big_file (ui, "big-upload.bin");
  g_autofree char *history = NULL;
  Watch watch = { 0 };
  GtkWidget *bar;

  natter_test_ui_publish (ui, "bob", "alice", "Send me the dump");
  natter_test_ui_open_chat (ui, "bob", "Send me the dump");
  g_assert_cmpuint (count_built (GTK_WIDGET (ui->chat), GTK_TYPE_PROGRESS_BAR, NULL), ==, 0);
  g_assert_cmpuint (count_built (GTK_WIDGET (ui->chat), GTK_TYPE_MENU_BUTTON, "read-by"), ==, 0);
  natter_test_ui_drop_file (ui, path);
  bar = watch_bar (ui, &watch);
  g_object_ref (bar);
  natter_test_ui_wait_until (natter_test_ui_last_sent, ui->window, "the big file sent");
  natter_test_ui_wait_until (no_progress_bar, ui->chat, "the progress bar gone once sent");
  g_signal_handlers_disconnect_by_data (bar, &watch);
  g_object_unref (bar);
  g_assert_cmpuint (watch.partial, >, 1);
  g_assert_cmpfloat (watch.max, >=, 1.0);
  history = natter_test_ui_cli (ui, "bob", "history", "alice", NULL);
  g_assert_nonnull (strstr (history, "big-upload.bin"));
}

/* Cancelled half way: the message is not sent (Send Again offered), bob
 * gets nothing of it; sent again, it arrives whole. */
static void
test_upload_cancelled (NatterTestUi  *ui,
                       gconstpointer  data)
{
  g_autofree char *path = write_big_file (ui, "big-cancelled.bin");
  g_autofree char *history = NULL;
  g_autoptr(NatterMessage) failed = NULL;
  Watch watch = { .cancel_at_partial = TRUE };
  GtkWidget *bar;

  natter_test_ui_publish (ui, "bob", "alice", "Send me the other dump");
  natter_test_ui_open_chat (ui, "bob", "Send me the other dump");
  natter_test_ui_drop_file (ui, path);
  bar = watch_bar (ui, &watch);
  g_object_ref (bar);
  natter_test_ui_wait_until (last_failed, ui->window, "the upload stopped and the message failed");
  g_signal_handlers_disconnect_by_data (bar, &watch);
  g_object_unref (bar);
  g_assert_true (watch.cancelled);
  g_assert_cmpfloat (watch.max, <, 1.0);
  natter_test_ui_wait_until (no_progress_bar, ui->chat, "the progress bar gone once cancelled");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "big-cancelled.bin");

  history = natter_test_ui_cli (ui, "bob", "history", "alice", NULL);
  g_assert_null (strstr (history, "big-cancelled.bin"));
  g_clear_pointer (&history, g_free);

  /* Send Again: uploaded from the start, then published */
  failed = natter_test_ui_last_own_message (ui->window);
  gtk_widget_activate_action (GTK_WIDGET (ui->chat), "chat.retry", "x", natter_message_get_message_id (failed));
  natter_test_ui_wait_until (natter_test_ui_last_sent, ui->window, "the file sent again");
  history = natter_test_ui_cli (ui, "bob", "history", "alice", NULL);
  g_assert_nonnull (strstr (history, "big-cancelled.bin"));
}

static gboolean
opened_has_size (gpointer path)
{
  GStatBuf st;

  return g_stat (path, &st) == 0 && st.st_size == BIG_SIZE;
}

/* bob's big file downloads with a bar in its bubble; cancelled half way
 * the bubble has its download button again and nothing is opened;
 * downloaded again, the bar runs to 1 and the file opens. */
static void
test_download_progress_cancelled (NatterTestUi  *ui,
                                  gconstpointer  data)
{
  g_autofree char *path = write_big_file (ui, "big-download.pdf");
  g_autofree char *opened = natter_test_ui_dup_opened_path ();
  Watch watch = { .cancel_at_partial = TRUE };
  Watch again = { 0 };
  GtkWidget *bar, *button;

  natter_test_ui_publish (ui, "bob", "alice", "The dump follows");
  natter_test_ui_open_chat (ui, "bob", "The dump follows");
  g_free (natter_test_ui_cli (ui, "bob", "send", "alice", "--file", path, NULL));
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "big-download.pdf");
  g_unlink (opened);

  button = natter_test_ui_find_button_with_icon (GTK_WIDGET (ui->chat), "folder-download-symbolic");
  g_assert_nonnull (button);
  g_signal_emit_by_name (button, "clicked");
  bar = watch_bar (ui, &watch);
  g_object_ref (bar);
  natter_test_ui_wait_until (no_progress_bar, ui->chat, "the progress bar gone once cancelled");
  g_signal_handlers_disconnect_by_data (bar, &watch);
  g_object_unref (bar);
  g_assert_true (watch.cancelled);
  g_assert_cmpfloat (watch.max, <, 1.0);
  button = natter_test_ui_find_button_with_icon (GTK_WIDGET (ui->chat), "folder-download-symbolic");
  g_assert_nonnull (button);
  g_assert_true (gtk_widget_is_sensitive (button));
  natter_test_ui_spin (200);
  g_assert_false (g_file_test (opened, G_FILE_TEST_EXISTS));

  g_signal_emit_by_name (button, "clicked");
  bar = watch_bar (ui, &again);
  g_object_ref (bar);
  natter_test_ui_wait_until (opened_has_size, opened, "the downloaded file opened");
  g_signal_handlers_disconnect_by_data (bar, &again);
  g_object_unref (bar);
  g_assert_cmpuint (again.partial, >, 1);
  g_assert_cmpfloat (again.max, >=, 1.0);
}

/* The image viewer of a big image: its full-size download shows a bar
 * that a click on its cancel button stops half way; the viewer says so
 * and shows no full image, and its Retry downloads it all and shows it. */
static GtkWidget *
image_viewer (void)
{
  g_autoptr(GList) toplevels = gtk_window_list_toplevels ();

  for (GList *l = toplevels; l != NULL; l = l->next)
    if (G_TYPE_CHECK_INSTANCE_TYPE (l->data, g_type_from_name ("NatterImageViewer")))
      return l->data;
  return NULL;
}

static gboolean
viewer_shows_size (gpointer viewer)
{
  return natter_test_ui_find_label (viewer, "480 × 320") != NULL;
}

static void
test_image_download_cancelled (NatterTestUi  *ui,
                               gconstpointer  data)
{
  g_autofree char *path = natter_test_ui_write_image (ui);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileIOStream) io = NULL;
  g_autoptr(GError) error = NULL;
  Watch watch = { .cancel_at_partial = TRUE };
  GtkWidget *viewer, *bar, *retry;

  /* big: the PNG, then zeros after its end (decoders stop at IEND) */
  io = g_file_open_readwrite (file, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_seekable_truncate (G_SEEKABLE (io), BIG_SIZE, NULL, &error));
  g_assert_true (g_io_stream_close (G_IO_STREAM (io), NULL, &error));
  g_assert_no_error (error);

  natter_test_ui_publish (ui, "bob", "alice", "A big picture follows");
  natter_test_ui_open_chat (ui, "bob", "A big picture follows");
  g_free (natter_test_ui_cli (ui, "bob", "send", "alice", "--image", path, NULL));
  natter_test_ui_wait_until (natter_test_ui_has_picture, ui->chat, "the picture");

  gtk_widget_activate_action (GTK_WIDGET (ui->chat), "chat.open-image", "x",
                              natter_test_ui_message_id_of_kind (ui->chat, NATTER_MESSAGE_KIND_IMAGE));
  viewer = image_viewer ();
  g_assert_nonnull (viewer);
  natter_test_ui_wait_until (has_progress_bar, viewer, "a progress bar in the viewer");
  bar = natter_test_ui_find_type (viewer, GTK_TYPE_PROGRESS_BAR);
  watch.chat = viewer;
  g_signal_connect (bar, "notify::fraction", G_CALLBACK (fraction_cb), &watch);
  natter_test_ui_wait_anywhere ("Download cancelled", "the download stopped in the viewer");
  g_signal_handlers_disconnect_by_data (bar, &watch);
  g_assert_true (watch.cancelled);
  g_assert_cmpfloat (watch.max, <, 1.0);
  g_assert_false (gtk_widget_get_visible (gtk_widget_get_parent (bar)));
  natter_test_ui_spin (300);
  g_assert_null (natter_test_ui_find_label (viewer, "480 × 320"));

  /* Retry, in the viewer: the whole download this time, then the image */
  retry = natter_test_ui_find_button_with_label (viewer, "Retry");
  g_assert_nonnull (retry);
  g_signal_emit_by_name (retry, "clicked");
  g_assert_null (natter_test_ui_find_label (viewer, "Download cancelled"));
  natter_test_ui_wait_until (viewer_shows_size, viewer, "the full image after Retry");
  g_assert_null (natter_test_ui_find_button_with_label (viewer, "Retry"));
  natter_test_ui_close_windows_of_type (g_type_from_name ("NatterImageViewer"));
}

/* A big voice message: played, it downloads with its bar showing the
 * download and its button a stop button, which cancels it half way; the
 * player is back to Play, nothing plays. */
static void
voice_fraction_cb (GtkProgressBar *bar,
                   GParamSpec     *pspec,
                   Watch          *watch)
{
  double fraction = gtk_progress_bar_get_fraction (bar);
  GtkWidget *player = gtk_widget_get_ancestor (GTK_WIDGET (bar), NATTER_TYPE_VOICE_PLAYER);
  GtkWidget *button = natter_test_ui_find_type (player, GTK_TYPE_BUTTON);

  watch->max = MAX (watch->max, fraction);
  if (fraction <= 0 || fraction >= 1 || watch->cancelled)
    return;
  watch->partial++;
  g_assert_cmpstr (gtk_button_get_icon_name (GTK_BUTTON (button)), ==, "process-stop-symbolic");
  watch->cancelled = TRUE;
  g_signal_emit_by_name (button, "clicked");
}

static gboolean
voice_player_shown (gpointer chat)
{
  return natter_test_ui_find_type (chat, NATTER_TYPE_VOICE_PLAYER) != NULL;
}

static gboolean
watch_cancelled (gpointer data)
{
  return ((Watch *) data)->cancelled;
}

static void
test_voice_download_cancelled (NatterTestUi  *ui,
                               gconstpointer  data)
{
  g_autofree char *path = write_big_file (ui, "big-voice.ogg");
  Watch watch = { 0 };
  GtkWidget *player, *bar, *button;

  /* under the 20 MiB a voice message may have */
  g_assert_cmpint (truncate (path, 16 * 1024 * 1024), ==, 0);

  natter_test_ui_publish (ui, "bob", "alice", "A long voice message follows");
  natter_test_ui_open_chat (ui, "bob", "A long voice message follows");
  g_free (natter_test_ui_cli (ui, "bob", "send", "alice", "--voice", path, "--duration", "30", NULL));
  natter_test_ui_wait_until (voice_player_shown, ui->chat, "a voice player on screen");
  player = natter_test_ui_find_type (GTK_WIDGET (ui->chat), NATTER_TYPE_VOICE_PLAYER);
  bar = natter_test_ui_find_type (player, GTK_TYPE_PROGRESS_BAR);
  button = natter_test_ui_find_type (player, GTK_TYPE_BUTTON);
  g_object_ref (bar);
  g_signal_connect (bar, "notify::fraction", G_CALLBACK (voice_fraction_cb), &watch);
  natter_voice_player_toggle (NATTER_VOICE_PLAYER (player));
  natter_test_ui_wait_until (watch_cancelled, &watch, "the download cancelled half way");
  g_signal_handlers_disconnect_by_data (bar, &watch);
  g_assert_cmpfloat (watch.max, <, 1.0);
  natter_test_ui_spin (300);
  g_assert_cmpstr (gtk_button_get_icon_name (GTK_BUTTON (button)), ==, "media-playback-start-symbolic");
  g_assert_false (gtk_widget_has_css_class (button, "error"));
  g_assert_false (natter_voice_player_get_playing (NATTER_VOICE_PLAYER (player)));
  g_object_unref (bar);
}

int
main (int argc, char *argv[])
{
  natter_test_ui_init (&argc, &argv);

  g_test_add ("/ui/upload-progress", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_upload_progress, natter_test_ui_teardown);
  g_test_add ("/ui/upload-cancelled", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_upload_cancelled, natter_test_ui_teardown);
  g_test_add ("/ui/download-progress-cancelled", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_download_progress_cancelled, natter_test_ui_teardown);
  g_test_add ("/ui/image-download-cancelled", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_image_download_cancelled, natter_test_ui_teardown);
  g_test_add ("/ui/voice-download-cancelled", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_voice_download_cancelled, natter_test_ui_teardown);

  return natter_test_ui_run ();
}
