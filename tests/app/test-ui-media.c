/* test-ui-media.c — pictures, files, voice messages and calls
 *
 * alice's window against a real natterd (natter-test-ui.h): what she
 * receives is shown and opened, what she pastes, drops, picks or records
 * is sent; a sender whose URLs point elsewhere gets no credentials; a call
 * from the chat header reaches natter-cli. Each runs alone with
 * `-p /ui/NAME`.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gstdio.h>
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <gst/gst.h>
#include <libsoup/soup.h>
#include <string.h>

#include "natter-message-row.h"
#include "natter-test-ui.h"
#include "natter-voice-player.h"

/* An image from bob shows as a picture; it opens in a viewer with the
 * full image (480 × 320, the bubble only had the thumbnail). */
static void
test_image_shown_and_viewed (NatterTestUi  *ui,
                             gconstpointer  data)
{
  g_autofree char *image = natter_test_ui_write_image (ui);

  natter_test_ui_publish (ui, "bob", "alice", "A picture for you");
  natter_test_ui_open_chat (ui, "bob", "A picture for you");
  g_assert_null (natter_test_ui_find_picture (GTK_WIDGET (ui->chat)));
  g_free (natter_test_ui_cli (ui, "bob", "send", "alice", "--image", image, NULL));
  natter_test_ui_publish (ui, "bob", "alice", "The view from the terrace 🌅");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "The view from the terrace");
  natter_test_ui_wait_until (natter_test_ui_has_picture, ui->chat, "the picture");

  gtk_widget_activate_action (GTK_WIDGET (ui->chat), "chat.open-image", "x",
                              natter_test_ui_message_id_of_kind (ui->chat, NATTER_MESSAGE_KIND_IMAGE));
  natter_test_ui_wait_anywhere ("480 × 320", "the full image in the viewer");
  natter_test_ui_close_windows_of_type (g_type_from_name ("NatterImageViewer"));
}

typedef struct {
  const char *path;
  const char *contents;
} FileQuery;

static gboolean
file_has_contents (gpointer data)
{
  FileQuery *q = data;
  g_autofree char *contents = NULL;

  return g_file_get_contents (q->path, &contents, NULL, NULL) && g_strcmp0 (contents, q->contents) == 0;
}

/* A file arrives as a row with its name and a download button, which
 * downloads it and opens it in the default application. */
static void
test_file_received_and_opened (NatterTestUi  *ui,
                               gconstpointer  data)
{
  g_autofree char *path = g_build_filename (ui->dir, "agenda.pdf", NULL);
  g_autofree char *opened = natter_test_ui_dup_opened_path ();
  FileQuery q = { opened, "%PDF-1.4 agenda" };

  g_assert_true (g_file_set_contents (path, "%PDF-1.4 agenda", -1, NULL));
  natter_test_ui_publish (ui, "bob", "alice", "The agenda follows");
  natter_test_ui_open_chat (ui, "bob", "The agenda follows");
  g_free (natter_test_ui_cli (ui, "bob", "send", "alice", "--file", path, NULL));
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "agenda.pdf");
  g_assert_nonnull (natter_test_ui_find_button_with_icon (GTK_WIDGET (ui->chat), "folder-download-symbolic"));

  /* the opener copies what it is given to one place for the process */
  g_unlink (opened);
  gtk_widget_activate_action (GTK_WIDGET (ui->chat), "chat.open-file", "x",
                              natter_test_ui_message_id_of_kind (ui->chat, NATTER_MESSAGE_KIND_FILE));
  natter_test_ui_wait_until (file_has_contents, &q, "the file opened");
}

static gboolean
last_is_image_sent (gpointer window)
{
  g_autoptr(NatterMessage) last = natter_test_ui_last_own_message (window);
  return last != NULL && natter_message_get_kind (last) == NATTER_MESSAGE_KIND_IMAGE &&
         natter_message_get_direction (last) == NATTER_MESSAGE_DIRECTION_SEND &&
         natter_message_get_sent_status (last) >= NATTER_SENT_STATUS_SENT;
}

/* A pasted image is sent as a photo. */
static void
test_pasted_image_sent (NatterTestUi  *ui,
                        gconstpointer  data)
{
  g_autofree char *image = natter_test_ui_write_image (ui);
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkTexture) texture = gdk_texture_new_from_filename (image, &error);
  GtkTextView *text_view = natter_composer_get_text_view (natter_chat_view_get_composer (ui->chat));

  g_assert_no_error (error);
  natter_test_ui_publish (ui, "bob", "alice", "Show me the sunset");
  natter_test_ui_open_chat (ui, "bob", "Show me the sunset");
  gdk_clipboard_set_texture (gtk_widget_get_clipboard (GTK_WIDGET (text_view)), texture);
  g_signal_emit_by_name (text_view, "paste-clipboard");
  natter_test_ui_wait_until (last_is_image_sent, ui->window, "the pasted image sent");
  natter_test_ui_wait_until (natter_test_ui_has_picture, ui->chat, "the picture");
}

/* A file dropped on the chat is sent as a file. */
static void
test_dropped_file_sent (NatterTestUi  *ui,
                        gconstpointer  data)
{
  g_autofree char *path = g_build_filename (ui->dir, "notes.txt", NULL);
  g_autofree char *history = NULL;

  natter_test_ui_publish (ui, "bob", "alice", "Send me your notes");
  natter_test_ui_open_chat (ui, "bob", "Send me your notes");
  g_assert_true (g_file_set_contents (path, "remember the milk", -1, NULL));
  natter_test_ui_drop_file (ui, path);
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "notes.txt");
  natter_test_ui_wait_until (natter_test_ui_last_sent, ui->window, "the file sent");
  history = natter_test_ui_cli (ui, "bob", "history", "alice", NULL);
  g_assert_nonnull (strstr (history, "notes.txt"));
}

/* Files copied in a file manager and pasted are sent as files, and
 * nothing lands in the composer. */
static void
test_pasted_files_sent (NatterTestUi  *ui,
                        gconstpointer  data)
{
  g_autofree char *path = g_build_filename (ui->dir, "minutes.txt", NULL);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  GtkTextView *text_view = natter_composer_get_text_view (natter_chat_view_get_composer (ui->chat));
  GSList *files = g_slist_append (NULL, file);
  GValue value = G_VALUE_INIT;

  natter_test_ui_publish (ui, "bob", "alice", "Minutes, please");
  natter_test_ui_open_chat (ui, "bob", "Minutes, please");
  g_assert_true (g_file_set_contents (path, "we met, we ate", -1, NULL));
  g_value_init (&value, GDK_TYPE_FILE_LIST);
  g_value_set_boxed (&value, files);
  gdk_clipboard_set_value (gtk_widget_get_clipboard (GTK_WIDGET (text_view)), &value);
  g_value_unset (&value);
  g_slist_free (files);
  g_signal_emit_by_name (text_view, "paste-clipboard");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "minutes.txt");
  g_assert_cmpint (gtk_text_buffer_get_char_count (gtk_text_view_get_buffer (text_view)), ==, 0);
  natter_test_ui_wait_until (natter_test_ui_last_sent, ui->window, "the file sent");
}

static gboolean
file_chooser_shown (gpointer data)
{
  return natter_test_ui_find_toplevel (GTK_TYPE_FILE_CHOOSER_DIALOG) != NULL;
}

static gboolean
file_chooser_has_selection (gpointer chooser)
{
  g_autoptr(GListModel) files = gtk_file_chooser_get_files (chooser);
  return g_list_model_get_n_items (files) == 1;
}

/* The attach menu's “File…”: chosen in the file chooser, sent. */
static void
test_attach_file_chooser (NatterTestUi  *ui,
                          gconstpointer  data)
{
  g_autofree char *path = g_build_filename (ui->dir, "budget.csv", NULL);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  GtkWidget *dialog;

  natter_test_ui_publish (ui, "bob", "alice", "How much was lunch?");
  natter_test_ui_open_chat (ui, "bob", "How much was lunch?");
  g_assert_true (g_file_set_contents (path, "lunch,12.50\n", -1, NULL));
  gtk_widget_activate_action (GTK_WIDGET (natter_chat_view_get_composer (ui->chat)), "composer.attach-file", NULL);
  natter_test_ui_wait_until (file_chooser_shown, NULL, "the file chooser");
  dialog = natter_test_ui_find_toplevel (GTK_TYPE_FILE_CHOOSER_DIALOG);
  g_assert_true (gtk_file_chooser_set_file (GTK_FILE_CHOOSER (dialog), file, NULL));
  natter_test_ui_wait_until (file_chooser_has_selection, dialog, "the file selected");
  gtk_dialog_response (GTK_DIALOG (dialog), GTK_RESPONSE_ACCEPT);
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "budget.csv");
  natter_test_ui_wait_until (natter_test_ui_last_sent, ui->window, "the file sent");
}

/* ------------------------------------------------------- voice messages */

static gboolean
last_is_voice_sent (gpointer window)
{
  g_autoptr(NatterMessage) last = natter_test_ui_last_own_message (window);
  return last != NULL && natter_message_get_kind (last) == NATTER_MESSAGE_KIND_HQ_VOICE &&
         natter_message_get_sent_status (last) >= NATTER_SENT_STATUS_SENT;
}

static gboolean
has_voice_player (gpointer chat)
{
  return natter_test_ui_find_type (chat, NATTER_TYPE_VOICE_PLAYER) != NULL;
}

static gboolean
voice_playing (gpointer chat)
{
  GtkWidget *player = natter_test_ui_find_type (chat, NATTER_TYPE_VOICE_PLAYER);
  return player != NULL && natter_voice_player_get_playing (NATTER_VOICE_PLAYER (player)) &&
         natter_test_ui_find_label (player, " / ") != NULL;   /* "0:01 / 0:02": position of duration */
}

/* A real AMR-NB clip, as RongCloud's clients record them: "#!AMR\n" and
 * amrnbenc's frames of a 2 s test tone; base64 for RC:VcMsg. */
static char *
amr_clip_base64 (void)
{
  g_autoptr(GstElement) pipeline = NULL;
  g_autoptr(GstElement) sink = NULL;
  g_autoptr(GByteArray) bytes = g_byte_array_new ();
  g_autoptr(GError) error = NULL;

  gst_init (NULL, NULL);
  pipeline = gst_parse_launch ("audiotestsrc num-buffers=20 samplesperbuffer=800 ! "
                               "audio/x-raw,format=S16LE,rate=8000,channels=1 ! amrnbenc ! "
                               "appsink name=sink sync=false", &error);
  g_assert_no_error (error);
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_byte_array_append (bytes, (const guint8 *) "#!AMR\n", 6);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  for (;;)
    {
      GstSample *sample = NULL;
      GstMapInfo map;

      g_signal_emit_by_name (sink, "pull-sample", &sample);
      if (sample == NULL)
        break;
      g_assert_true (gst_buffer_map (gst_sample_get_buffer (sample), &map, GST_MAP_READ));
      g_byte_array_append (bytes, map.data, map.size);
      gst_buffer_unmap (gst_sample_get_buffer (sample), &map);
      gst_sample_unref (sample);
    }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  /* 12.2 kbit/s: 32 bytes a 20 ms frame, 100 frames */
  g_assert_cmpuint (bytes->len, >, 6 + 1000);
  return g_base64_encode (bytes->data, bytes->len);
}

static gboolean
voice_clock_ran (gpointer chat)
{
  GtkWidget *player = natter_test_ui_find_type (chat, NATTER_TYPE_VOICE_PLAYER);
  /* "0:01 / 0:02": a second of decoded audio went to the (fake) sink */
  return player != NULL && natter_test_ui_find_label (player, "0:01 / ") != NULL;
}

/* RC:VcMsg from the seed's clients (base64 AMR-NB inline) plays: written
 * out, decoded by amrnbdec, its clock runs to its 2 s (#16). */
static void
test_amr_voice_played (NatterTestUi  *ui,
                       gconstpointer  data)
{
  g_autofree char *clip = amr_clip_base64 ();
  g_autofree char *content = g_strdup_printf ("{\"content\":\"%s\",\"duration\":2}", clip);
  GtkWidget *player;

  natter_test_ui_publish (ui, "bob", "alice", "Listen to this");
  natter_test_ui_open_chat (ui, "bob", "Listen to this");
  g_free (natter_test_ui_cli (ui, "bob", "send", "alice", "--object-name", "RC:VcMsg",
                              "--content", content, NULL));
  natter_test_ui_wait_until (has_voice_player, ui->chat, "a voice player on screen");
  player = natter_test_ui_find_type (GTK_WIDGET (ui->chat), NATTER_TYPE_VOICE_PLAYER);
  natter_voice_player_toggle (NATTER_VOICE_PLAYER (player));
  natter_test_ui_wait_until (voice_playing, ui->chat, "the AMR voice message playing");
  natter_test_ui_wait_until (voice_clock_ran, ui->chat, "the AMR clip's clock at 0:01");
  g_assert_false (gtk_widget_has_css_class (natter_test_ui_find_type (player, GTK_TYPE_BUTTON), "error"));
}

/* A voice message recorded in the composer (a test tone) is sent as
 * Opus/Ogg and shows a player; it plays back: downloaded, decoded, the
 * clock runs (into a fake sound card). */
static void
test_voice_recorded_and_played (NatterTestUi  *ui,
                                gconstpointer  data)
{
  GtkWidget *composer = GTK_WIDGET (natter_chat_view_get_composer (ui->chat));
  g_autofree char *history = NULL;

  natter_test_ui_publish (ui, "bob", "alice", "Say something");
  natter_test_ui_open_chat (ui, "bob", "Say something");
  gtk_widget_activate_action (composer, "composer.record", NULL);
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "Recording…");
  natter_test_ui_spin (1500);
  gtk_widget_activate_action (composer, "composer.finish-recording", NULL);
  natter_test_ui_wait_until (last_is_voice_sent, ui->window, "the voice message sent");
  natter_test_ui_wait_until (has_voice_player, ui->chat, "a voice player on screen");
  natter_voice_player_toggle (NATTER_VOICE_PLAYER (natter_test_ui_find_type (GTK_WIDGET (ui->chat),
                                                                             NATTER_TYPE_VOICE_PLAYER)));
  natter_test_ui_wait_until (voice_playing, ui->chat, "the voice message playing");
  history = natter_test_ui_cli (ui, "bob", "history", "alice", NULL);
  g_assert_nonnull (strstr (history, "RC:HQVCMsg"));
}

/* A recording cancelled is not sent. */
static void
test_voice_recording_cancelled (NatterTestUi  *ui,
                                gconstpointer  data)
{
  GtkWidget *composer = GTK_WIDGET (natter_chat_view_get_composer (ui->chat));
  g_autofree char *history = NULL;
  GListModel *messages;
  guint n;

  natter_test_ui_publish (ui, "bob", "alice", "Say something");
  natter_test_ui_open_chat (ui, "bob", "Say something");
  messages = G_LIST_MODEL (natter_chat_view_get_messages (ui->chat));
  n = g_list_model_get_n_items (messages);
  gtk_widget_activate_action (composer, "composer.record", NULL);
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "Recording…");
  natter_test_ui_spin (700);
  gtk_widget_activate_action (composer, "composer.cancel-recording", NULL);
  natter_test_ui_wait_label_gone (GTK_WIDGET (ui->chat), "Recording…");
  natter_test_ui_spin (700);
  g_assert_cmpuint (g_list_model_get_n_items (messages), ==, n);
  g_assert_false (has_voice_player (ui->chat));
  history = natter_test_ui_cli (ui, "bob", "history", "alice", NULL);
  g_assert_null (strstr (history, "RC:HQVCMsg"));
}

/* ------------------------------------- another server's URLs */

typedef struct {
  GPtrArray *requests;   /* "path?query\nheaders" */
  GBytes    *png;
} Foreign;

static void
foreign_cb (SoupServer        *soup_server,
            SoupServerMessage *msg,
            const char        *path,
            GHashTable        *query,
            gpointer           user_data)
{
  Foreign *foreign = user_data;
  GUri *uri = soup_server_message_get_uri (msg);
  GString *request = g_string_new (path);
  SoupMessageHeadersIter iter;
  const char *name, *value;

  if (g_uri_get_query (uri) != NULL)
    g_string_append_printf (request, "?%s", g_uri_get_query (uri));
  g_string_append_c (request, '\n');
  soup_message_headers_iter_init (&iter, soup_server_message_get_request_headers (msg));
  while (soup_message_headers_iter_next (&iter, &name, &value))
    g_string_append_printf (request, "%s: %s\n", name, value);
  g_ptr_array_add (foreign->requests, g_string_free (request, FALSE));

  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  if (g_str_has_suffix (path, ".png"))
    soup_server_message_set_response (msg, "image/png", SOUP_MEMORY_COPY,
                                      g_bytes_get_data (foreign->png, NULL), g_bytes_get_size (foreign->png));
  else
    soup_server_message_set_response (msg, "application/pdf", SOUP_MEMORY_STATIC, "%PDF-1.4 x", 10);
}

typedef struct {
  Foreign    *foreign;
  const char *path;
} ForeignQuery;

static gboolean
foreign_was_asked (gpointer data)
{
  ForeignQuery *q = data;

  for (guint i = 0; i < q->foreign->requests->len; i++)
    if (g_str_has_prefix (g_ptr_array_index (q->foreign->requests, i), q->path))
      return TRUE;
  return FALSE;
}

static void
wait_foreign_asked (Foreign    *foreign,
                    const char *path)
{
  ForeignQuery q = { foreign, path };
  g_autofree char *what = g_strdup_printf ("a request for %s", path);

  natter_test_ui_wait_until (foreign_was_asked, &q, what);
}

/* A sender whose portrait and message URLs point at another server (a
 * loopback SoupServer here): the app shows him, his picture, his image,
 * file and voice message, fetching each from there, and that server never
 * sees the token or the app key. */
static void
test_foreign_urls (NatterTestUi  *ui,
                   gconstpointer  data)
{
  g_autofree char *token = natter_test_ui_token (ui, "alice");
  g_autoptr(SoupServer) soup_server = soup_server_new (NULL, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 64, 48);
  g_autofree char *base = NULL;
  g_autofree char *thumbnail = NULL;
  g_autofree char *content = NULL;
  g_autofree char *portrait = NULL;
  Foreign foreign = { g_ptr_array_new_with_free_func (g_free), NULL };
  char *buffer = NULL;
  gsize size = 0;
  GSList *uris;

  gdk_pixbuf_fill (pixbuf, 0xc04080ff);
  g_assert_true (gdk_pixbuf_save_to_buffer (pixbuf, &buffer, &size, "png", NULL, NULL));
  foreign.png = g_bytes_new_take (buffer, size);
  g_assert_true (gdk_pixbuf_save_to_buffer (pixbuf, &buffer, &size, "jpeg", NULL, NULL));
  thumbnail = g_base64_encode ((const guchar *) buffer, size);
  g_free (buffer);

  soup_server_add_handler (soup_server, NULL, foreign_cb, &foreign, NULL);
  g_assert_true (soup_server_listen_local (soup_server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  g_assert_no_error (error);
  uris = soup_server_get_uris (soup_server);
  base = g_strdup_printf ("http://127.0.0.1:%d", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  /* the app server sets his portrait there; his messages name it too */
  portrait = g_strdup_printf ("%s/portrait.png?user=frank", base);
  natter_test_ui_set_user (ui, "frank", "Frank", portrait);
  content = g_strdup_printf ("{\"content\":\"Hello from Frank\",\"user\":{\"id\":\"frank\","
                             "\"name\":\"Frank\",\"portraitUri\":\"%s/sender.png\"}}", base);
  g_free (natter_test_ui_cli (ui, "frank", "send", "alice", "--object-name", "RC:TxtMsg", "--content", content, NULL));
  g_free (content);
  content = g_strdup_printf ("{\"content\":\"%s\",\"imageUri\":\"%s/image.png\"}", thumbnail, base);
  g_free (natter_test_ui_cli (ui, "frank", "send", "alice", "--object-name", "RC:ImgMsg", "--content", content, NULL));
  g_free (content);
  content = g_strdup_printf ("{\"name\":\"minutes.pdf\",\"size\":10,\"type\":\"application/pdf\","
                             "\"fileUrl\":\"%s/minutes.pdf\"}", base);
  g_free (natter_test_ui_cli (ui, "frank", "send", "alice", "--object-name", "RC:FileMsg", "--content", content, NULL));
  g_free (content);
  content = g_strdup_printf ("{\"remoteUrl\":\"%s/voice.ogg\",\"duration\":2,\"type\":\"ogg\"}", base);
  g_free (natter_test_ui_cli (ui, "frank", "send", "alice", "--object-name", "RC:HQVCMsg", "--content", content, NULL));

  natter_test_ui_sign_in (ui);
  natter_test_ui_open_chat (ui, "frank", "Hello from Frank");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "minutes.pdf");

  /* shown without a click: his picture (list and chat) and the thumbnail */
  natter_test_ui_wait_until (natter_test_ui_has_portrait, ui->sidebar, "Frank's picture in the list");
  natter_test_ui_wait_until (natter_test_ui_has_portrait, ui->chat, "Frank's picture in the chat");
  wait_foreign_asked (&foreign, "/portrait.png");
  g_assert_nonnull (natter_test_ui_find_picture (GTK_WIDGET (ui->chat)));

  /* opened: the image, the file, the voice message */
  gtk_widget_activate_action (GTK_WIDGET (ui->chat), "chat.open-image", "x",
                              natter_test_ui_message_id_of_kind (ui->chat, NATTER_MESSAGE_KIND_IMAGE));
  wait_foreign_asked (&foreign, "/image.png");
  natter_test_ui_wait_anywhere ("64 × 48", "the full image in the viewer");
  natter_test_ui_close_windows_of_type (g_type_from_name ("NatterImageViewer"));
  gtk_widget_activate_action (GTK_WIDGET (ui->chat), "chat.open-file", "x",
                              natter_test_ui_message_id_of_kind (ui->chat, NATTER_MESSAGE_KIND_FILE));
  wait_foreign_asked (&foreign, "/minutes.pdf");
  natter_test_ui_wait_until (has_voice_player, ui->chat, "a voice player on screen");
  natter_voice_player_toggle (NATTER_VOICE_PLAYER (natter_test_ui_find_type (GTK_WIDGET (ui->chat),
                                                                             NATTER_TYPE_VOICE_PLAYER)));
  wait_foreign_asked (&foreign, "/voice.ogg");
  natter_test_ui_spin (500);

  /* nothing of alice's went there */
  for (guint i = 0; i < foreign.requests->len; i++)
    {
      const char *request = g_ptr_array_index (foreign.requests, i);
      g_autofree char *lower = g_ascii_strdown (request, -1);

      g_test_message ("foreign server: %s", request);
      g_assert_null (strstr (lower, "\nauthorization:"));
      g_assert_null (strstr (lower, "\napp-key:"));
      g_assert_null (strstr (lower, "\ncookie:"));
      g_assert_null (strstr (request, token));
      g_assert_null (strstr (request, natter_test_server_get_app_key (ui->server)));
    }
  g_assert_cmpuint (foreign.requests->len, >=, 4);

  /* the window goes before the server its downloads talk to */
  gtk_window_destroy (GTK_WINDOW (ui->window));
  natter_test_ui_spin (100);
  soup_server_disconnect (soup_server);
  g_ptr_array_unref (foreign.requests);
  g_bytes_unref (foreign.png);
}

/* ------------------------------------------------- a call from the header */

/* The chat header's voice call button places a real call: natter-cli
 * answers it, media flows both ways (test sources), natter-cli hangs up
 * after 2 s, the call window goes and the chat shows the summary. */
static void
test_call_from_header (NatterTestUi  *ui,
                       gconstpointer  data)
{
  g_auto(NatterTestCliRun) answered = { FALSE, NULL };
  g_autoptr(JsonObject) result = NULL;
  GtkWidget *button;

  /* frank has written first, so alice's chat with him has a name */
  natter_test_ui_publish (ui, "frank", "alice", "Call me when you can");
  natter_test_ui_sign_in (ui);
  natter_test_ui_open_chat (ui, "frank", "Call me when you can");

  natter_test_ui_cli_start (ui, &answered, "frank", "answer", "--auto", "--duration", "2", NULL);
  natter_test_ui_wait_user_online (ui->server, "frank", TRUE);

  button = natter_test_ui_find_button_with_icon (GTK_WIDGET (ui->chat), "call-start-symbolic");
  g_assert_nonnull (button);
  g_assert_true (gtk_widget_is_sensitive (button));
  g_assert_true (gtk_widget_activate (button));
  natter_test_ui_wait_until (natter_test_ui_call_window_shown, NULL, "the call window");

  /* frank's last line: the call, from his side */
  result = natter_test_cli_run_wait_result (&answered, "frank's natter-cli to end the call");
  g_assert_cmpint (json_object_get_int_member (result, "mediaType"), ==, NATTER_CALL_MEDIA_AUDIO);
  g_assert_cmpint (json_object_get_int_member (result, "reason"), ==, 3);
  g_assert_cmpint (json_object_get_int_member (result, "duration"), >=, 1);
  g_assert_cmpint (json_object_get_int_member (result, "audioBuffersReceived"), >=, 20);
  g_assert_cmpint (json_object_get_int_member (result, "videoFramesReceived"), ==, 0);

  /* alice's side: the window goes, the chat says what happened */
  natter_test_ui_wait_until (natter_test_ui_call_window_gone, NULL, "the call window to close");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "Voice call · 0:0");
}

static gboolean
is_image_row (GtkWidget     *widget,
              gconstpointer  data)
{
  NatterMessage *message = NATTER_IS_MESSAGE_ROW (widget)
                             ? natter_message_row_get_message (NATTER_MESSAGE_ROW (widget)) : NULL;

  return message != NULL && natter_message_get_kind (message) == NATTER_MESSAGE_KIND_IMAGE;
}

/* @widget's first GtkPicture, mapped or not (a row off screen). */
static GtkWidget *
picture_in (GtkWidget *widget)
{
  if (GTK_IS_PICTURE (widget))
    return widget;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = picture_in (child);
      if (found != NULL)
        return found;
    }
  return NULL;
}

static gboolean
is_thumbnail_at_size (GtkWidget     *widget,
                      gconstpointer  data)
{
  return GTK_IS_PICTURE (widget) && gtk_picture_get_paintable (GTK_PICTURE (widget)) != NULL &&
         gtk_widget_get_width (widget) == 300 && gtk_widget_get_height (widget) == 225;
}

static gboolean
has_thumbnail_at_size (gpointer widget)
{
  return natter_test_ui_find (widget, is_thumbnail_at_size, NULL) != NULL;
}

static gboolean
has_paintable (gpointer picture)
{
  return gtk_picture_get_paintable (GTK_PICTURE (picture)) != NULL;
}

/* Whether @paintable, drawn at its size, is transparent in its top left
 * corner and opaque in its middle: the bubble's rounded corner is in it. */
static gboolean
corner_is_cut (GdkPaintable *paintable)
{
  int width = gdk_paintable_get_intrinsic_width (paintable);
  int height = gdk_paintable_get_intrinsic_height (paintable);
  g_autoptr(GtkSnapshot) snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderNode) node = NULL;
  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, width, height);
  cairo_t *cr = cairo_create (surface);
  const guint32 *pixels;
  gboolean cut;

  gdk_paintable_snapshot (paintable, snapshot, width, height);
  node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  gsk_render_node_draw (node, cr);
  cairo_destroy (cr);
  cairo_surface_flush (surface);
  pixels = (const guint32 *) cairo_image_surface_get_data (surface);
  cut = (pixels[0] >> 24) == 0 &&
        (pixels[(gsize) (height / 2) * cairo_image_surface_get_stride (surface) / 4 + width / 2] >> 24) == 0xff;
  cairo_surface_destroy (surface);
  return cut;
}

/* A photo's thumbnail is decoded once and kept: a row bound to it again,
 * as a scroll back does, shows it at the binding, at the size the chat
 * shows it at (a 64×48 one fits 300×225), with no second layout; its
 * pixels are made at that size once, with the rounded corners cut, not
 * scaled and clipped at every frame (#17). */
static void
test_thumbnail_at_binding (NatterTestUi  *ui,
                           gconstpointer  data)
{
  g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 64, 48);
  g_autoptr(GtkWidget) again = NULL;
  g_autofree char *thumbnail = NULL;
  g_autofree char *content = NULL;
  GtkWidget *shown, *picture;
  GdkPaintable *paintable;
  NatterMessage *message;
  char *buffer = NULL;
  gsize size = 0;
  int width, height;

  gdk_pixbuf_fill (pixbuf, 0x3080c0ff);
  g_assert_true (gdk_pixbuf_save_to_buffer (pixbuf, &buffer, &size, "jpeg", NULL, NULL));
  thumbnail = g_base64_encode ((const guchar *) buffer, size);
  g_free (buffer);
  natter_test_ui_send (ui, "frank", "alice", "A photo of the lake");
  content = g_strdup_printf ("{\"content\":\"%s\",\"imageUri\":\"http://127.0.0.1:9/lake.jpg\"}", thumbnail);
  g_free (natter_test_ui_cli (ui, "frank", "send", "alice", "--object-name", "RC:ImgMsg", "--content", content, NULL));

  natter_test_ui_sign_in (ui);
  natter_test_ui_open_chat (ui, "frank", "A photo of the lake");
  /* shown at a comfortable size */
  natter_test_ui_wait_until (has_thumbnail_at_size, ui->chat, "the thumbnail in the chat at 300×225");

  /* another row bound to the message: the picture at once, at its size */
  shown = natter_test_ui_find (GTK_WIDGET (ui->chat), is_image_row, NULL);
  g_assert_nonnull (shown);
  message = natter_message_row_get_message (NATTER_MESSAGE_ROW (shown));
  again = g_object_ref_sink (natter_message_row_new ());
  natter_message_row_set_message (NATTER_MESSAGE_ROW (again), natter_chat_view_get_client (ui->chat), NULL,
                                  message, NULL, FALSE);
  picture = picture_in (again);
  g_assert_nonnull (picture);
  paintable = gtk_picture_get_paintable (GTK_PICTURE (picture));
  g_assert_nonnull (paintable);
  g_assert_cmpint (gdk_paintable_get_intrinsic_width (paintable), ==, 300);
  g_assert_cmpint (gdk_paintable_get_intrinsic_height (paintable), ==, 225);
  g_assert_true (corner_is_cut (paintable));
  gtk_widget_get_size_request (picture, &width, &height);
  g_assert_cmpint (width, ==, 300);
  g_assert_cmpint (height, ==, 225);
  natter_message_row_set_message (NATTER_MESSAGE_ROW (again), NULL, NULL, NULL, NULL, FALSE);

  /* a photo not decoded yet (a new message: not in the cache): the row
   * has the thumbnail's display size from the binding on, read from the
   * JPEG's header, so it does not grow when the decode comes (#17) */
  {
    g_autoptr(GdkPixbuf) photo = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 240, 180);
    g_autoptr(JsonObject) object = NULL;
    g_autoptr(NatterMessage) fresh = NULL;
    g_autofree char *encoded = NULL;

    gdk_pixbuf_fill (photo, 0x60a040ff);
    g_assert_true (gdk_pixbuf_save_to_buffer (photo, &buffer, &size, "jpeg", NULL, NULL));
    encoded = g_base64_encode ((const guchar *) buffer, size);
    g_free (buffer);
    object = natter_content_new_image (encoded, "http://127.0.0.1:9/field.jpg");
    fresh = natter_message_new (NATTER_CONVERSATION_PRIVATE, "frank", "frank", "RC:ImgMsg", object);
    natter_message_row_set_message (NATTER_MESSAGE_ROW (again), natter_chat_view_get_client (ui->chat), NULL,
                                    fresh, NULL, FALSE);
    picture = picture_in (again);
    g_assert_nonnull (picture);
    g_assert_null (gtk_picture_get_paintable (GTK_PICTURE (picture)));
    gtk_widget_get_size_request (picture, &width, &height);
    g_assert_cmpint (width, ==, 300);
    g_assert_cmpint (height, ==, 225);
    /* and the same once it is there */
    natter_test_ui_wait_until (has_paintable, picture, "the new photo's thumbnail decoded");
    gtk_widget_get_size_request (picture, &width, &height);
    g_assert_cmpint (width, ==, 300);
    g_assert_cmpint (height, ==, 225);
    natter_message_row_set_message (NATTER_MESSAGE_ROW (again), NULL, NULL, NULL, NULL, FALSE);
  }
}

int
main (int argc, char *argv[])
{
  natter_test_ui_init (&argc, &argv);

  g_test_add ("/ui/image-shown-and-viewed", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_image_shown_and_viewed, natter_test_ui_teardown);
  g_test_add ("/ui/thumbnail-at-binding", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_thumbnail_at_binding, natter_test_ui_teardown);
  g_test_add ("/ui/file-received-and-opened", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_file_received_and_opened, natter_test_ui_teardown);
  g_test_add ("/ui/pasted-image-sent", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_pasted_image_sent, natter_test_ui_teardown);
  g_test_add ("/ui/dropped-file-sent", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_dropped_file_sent, natter_test_ui_teardown);
  g_test_add ("/ui/pasted-files-sent", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_pasted_files_sent, natter_test_ui_teardown);
  g_test_add ("/ui/attach-file-chooser", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_attach_file_chooser, natter_test_ui_teardown);
  g_test_add ("/ui/voice-recorded-and-played", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_voice_recorded_and_played, natter_test_ui_teardown);
  g_test_add ("/ui/amr-voice-played", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_amr_voice_played, natter_test_ui_teardown);
  g_test_add ("/ui/voice-recording-cancelled", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_voice_recording_cancelled, natter_test_ui_teardown);
  g_test_add ("/ui/foreign-urls-get-no-credentials", NatterTestUi, NULL,
              natter_test_ui_setup, test_foreign_urls, natter_test_ui_teardown);
  g_test_add ("/ui/call-from-chat-header", NatterTestUi, NULL,
              natter_test_ui_setup, test_call_from_header, natter_test_ui_teardown);
  return natter_test_ui_run ();
}
