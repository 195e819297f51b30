/* test-client-media.c — media and tokens through NatterClient, against a
 * real natterd
 *
 * Images, files and voice notes through natterd's media endpoint (upload
 * progress, download to the cache), a token from an app server, typing
 * and object names the client does not know.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <string.h>

#include "test-helpers.h"

/* ------------------------------------------------------------------ media */

typedef struct {
  goffset current;
  goffset total;
  guint calls;
} Progress;

static void
progress_cb (goffset  current,
             goffset  total,
             gpointer user_data)
{
  Progress *progress = user_data;

  g_assert_cmpint (current, >=, progress->current);
  progress->current = current;
  progress->total = total;
  progress->calls++;
}

static void
test_media_round_trip (void)
{
  Progress upload = { 0 };
  Progress download = { 0 };
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  Peer *alice = peer_new (server, "alice", NULL);
  Peer *bob = peer_new (server, "bob", NULL);
  g_autofree char *dir = test_make_profile ();
  g_autofree char *image_path = g_build_filename (dir, "photo.png", NULL);
  g_autofree char *file_path = g_build_filename (dir, "报告 final.bin", NULL);
  g_autoptr(GFile) image = g_file_new_for_path (image_path);
  g_autoptr(GFile) file = g_file_new_for_path (file_path);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterMessage) sent_image = NULL;
  g_autoptr(NatterMessage) sent_file = NULL;
  g_autoptr(GBytes) thumbnail = NULL;
  g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 640, 480);
  GString *blob = g_string_new (NULL);
  NatterMessage *got_image, *got_file;

  for (int i = 0; i < 640 * 480; i++)
    {
      guchar *p = gdk_pixbuf_get_pixels (pixbuf) + (i / 640) * gdk_pixbuf_get_rowstride (pixbuf) + (i % 640) * 3;

      p[0] = i % 251, p[1] = i % 127, p[2] = 60;
    }
  gdk_pixbuf_save (pixbuf, image_path, "png", &error, NULL);
  g_assert_no_error (error);
  for (int i = 0; i < 300 * 1024; i++)
    g_string_append_c (blob, (char) g_random_int ());
  g_file_set_contents (file_path, blob->str, blob->len, &error);
  g_assert_no_error (error);

  peer_connect (alice);
  peer_connect (bob);

  natter_client_send_image_async (alice->client, NATTER_CONVERSATION_PRIVATE, "bob", image, NULL, NULL,
                                  NULL, test_store_result_cb, &result);
  test_wait_result (&result, 30);
  sent_image = natter_client_send_media_finish (alice->client, result, &error);
  g_assert_no_error (error);
  g_clear_object (&result);

  natter_client_send_file_async (alice->client, NATTER_CONVERSATION_PRIVATE, "bob", file, progress_cb,
                                 &upload, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 30);
  sent_file = natter_client_send_media_finish (alice->client, result, &error);
  g_assert_no_error (error);
  g_clear_object (&result);
  /* Progress reached the whole file. */
  g_assert_cmpuint (upload.calls, >, 0);
  g_assert_cmpint (upload.current, ==, 300 * 1024);
  g_assert_cmpint (upload.total, ==, 300 * 1024);

  peer_wait_received (bob, 2);
  got_image = g_ptr_array_index (bob->received, 0);
  got_file = g_ptr_array_index (bob->received, 1);

  g_assert_cmpint (natter_message_get_kind (got_image), ==, NATTER_MESSAGE_KIND_IMAGE);
  thumbnail = natter_message_dup_image_thumbnail (got_image);
  g_assert_nonnull (thumbnail);
  g_assert_cmpuint (((const guint8 *) g_bytes_get_data (thumbnail, NULL))[0], ==, 0xff);
  g_assert_true (g_str_has_prefix (natter_message_get_image_uri (got_image), natter_test_server_get_url (server)));

  g_assert_cmpint (natter_message_get_kind (got_file), ==, NATTER_MESSAGE_KIND_FILE);
  g_assert_cmpstr (natter_message_get_file_name (got_file), ==, "报告 final.bin");
  g_assert_cmpint (natter_message_get_file_size (got_file), ==, 300 * 1024);

  /* Bob downloads both: the bytes alice had. */
  {
    g_autoptr(GFile) local = NULL;
    g_autoptr(GBytes) original = NULL;
    g_autoptr(GBytes) copy = NULL;

    natter_client_download_async (bob->client, natter_message_get_image_uri (got_image), NULL, NULL,
                                  NULL, test_store_result_cb, &result);
    test_wait_result (&result, 30);
    local = natter_client_download_finish (bob->client, result, &error);
    g_assert_no_error (error);
    g_clear_object (&result);
    original = test_file_bytes (image);
    copy = test_file_bytes (local);
    g_assert_true (g_bytes_equal (original, copy));
  }
  {
    g_autoptr(GFile) local = NULL;
    g_autoptr(GFile) again = NULL;
    g_autoptr(GBytes) original = NULL;
    g_autoptr(GBytes) copy = NULL;

    natter_client_download_async (bob->client, natter_message_get_file_url (got_file), progress_cb,
                                  &download, NULL, test_store_result_cb, &result);
    test_wait_result (&result, 30);
    local = natter_client_download_finish (bob->client, result, &error);
    g_assert_cmpint (download.current, ==, 300 * 1024);
    g_assert_no_error (error);
    g_clear_object (&result);
    original = test_file_bytes (file);
    copy = test_file_bytes (local);
    g_assert_true (g_bytes_equal (original, copy));

    /* The second time comes from the cache, even with the server gone. */
    natter_test_server_stop (server);
    natter_client_download_async (bob->client, natter_message_get_file_url (got_file), NULL, NULL,
                                  NULL, test_store_result_cb, &result);
    test_wait_result (&result, 30);
    again = natter_client_download_finish (bob->client, result, &error);
    g_assert_no_error (error);
    g_assert_true (g_file_equal (again, local));
  }

  g_string_free (blob, TRUE);
  test_remove_tree (dir);
  peer_free (alice, FALSE);
  peer_free (bob, FALSE);
}

/* ------------------------------------------------- token from an app server */

static void
app_server_cb (SoupServer        *soup_server,
               SoupServerMessage *msg,
               const char        *path,
               GHashTable        *query,
               gpointer           user_data)
{
  NatterTestServer *server = user_data;
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr(GBytes) bytes = soup_message_body_flatten (body);
  g_autoptr(GHashTable) form = soup_form_decode (g_bytes_get_data (bytes, NULL));
  const char *user = g_hash_table_lookup (form, "userId");
  g_autofree char *reply = NULL;

  /* What an app server does: check its own users, ask natterd (signed). */
  if (g_strcmp0 (user, "erin") != 0)
    reply = g_strdup ("{\"code\":1002,\"errorMessage\":\"no such user here\"}");
  else
    {
      g_autofree char *token = natter_test_server_get_token (server, user);
      reply = g_strdup_printf ("{\"code\":200,\"userId\":\"erin\",\"token\":\"%s\"}", token);
    }

  soup_server_message_set_status (msg, g_str_equal (user ? user : "", "erin") ? 200 : 400, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, reply, strlen (reply));
}

static void
test_app_server_token (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(SoupServer) app_server = soup_server_new (NULL, NULL);
  g_autoslist(GUri) uris = NULL;
  g_autofree char *url = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *token = NULL;
  Peer *erin;

  soup_server_add_handler (app_server, "/login", app_server_cb, server, NULL);
  soup_server_listen_local (app_server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (app_server);
  url = g_strdup_printf ("http://127.0.0.1:%d/login", g_uri_get_port (uris->data));

  natter_fetch_token_async (url, "erin", "Erin", NULL, test_store_result_cb, &result);
  test_wait_result (&result, 20);
  token = natter_fetch_token_finish (result, &error);
  g_assert_no_error (error);
  g_clear_object (&result);

  erin = peer_new (server, "erin", NULL);
  g_free (erin->token);
  erin->token = g_steal_pointer (&token);
  peer_connect (erin);
  g_assert_cmpstr (natter_client_get_user_id (erin->client), ==, "erin");
  peer_free (erin, FALSE);

  /* The app server's refusal comes back with its code. */
  natter_fetch_token_async (url, "frank", NULL, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 20);
  g_assert_null (natter_fetch_token_finish (result, &error));
  g_assert_error (error, NATTER_CLIENT_ERROR, NATTER_API_BAD_PARAMETER);

  soup_server_disconnect (app_server);
}

/* ------------------------------------------- typing, custom object, voice */

static void
test_typing_custom_voice (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  Peer *alice = peer_new (server, "alice", NULL);
  Peer *bob = peer_new (server, "bob", NULL);
  g_autoptr(JsonObject) poll = json_object_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterMessage) sent = NULL;
  g_autoptr(GPtrArray) stored = NULL;
  g_autofree char *dir = test_make_profile ();
  g_autofree char *voice_path = g_build_filename (dir, "note.ogg", NULL);
  g_autoptr(GFile) voice = g_file_new_for_path (voice_path);
  NatterMessage *custom, *hq;

  peer_connect (alice);
  peer_connect (bob);

  /* Typing: status-only, delivered, never stored. */
  natter_client_send_typing (alice->client, NATTER_CONVERSATION_PRIVATE, "bob");
  test_wait_until (peer_got_typing, bob, 20, "the typing notice");
  g_assert_cmpint (natter_message_get_message_id (g_ptr_array_index (bob->received, 0)), ==, 0);
  stored = peer_store_page (bob, NATTER_CONVERSATION_PRIVATE, "alice", 10);
  g_assert_cmpuint (stored->len, ==, 0);
  g_clear_pointer (&stored, g_ptr_array_unref);

  /* An object name nobody here knows: kept and shown as unsupported. */
  json_object_set_string_member (poll, "question", "Lunch?");
  natter_client_send_message_async (alice->client, NATTER_CONVERSATION_PRIVATE, "bob", "XX:Poll", poll,
                                    NULL, test_store_result_cb, &result);
  test_wait_result (&result, 20);
  sent = natter_client_send_message_finish (alice->client, result, &error);
  g_assert_no_error (error);
  g_clear_object (&result);

  /* A voice note. */
  g_file_set_contents (voice_path, "OggS fake opus data", -1, &error);
  g_assert_no_error (error);
  natter_client_send_voice_async (alice->client, NATTER_CONVERSATION_PRIVATE, "bob", voice, 4, NULL, NULL,
                                  NULL, test_store_result_cb, &result);
  test_wait_result (&result, 20);
  g_clear_object (&sent);
  sent = natter_client_send_media_finish (alice->client, result, &error);
  g_assert_no_error (error);

  peer_wait_received (bob, 2);
  stored = peer_store_page (bob, NATTER_CONVERSATION_PRIVATE, "alice", 10);
  g_assert_cmpuint (stored->len, ==, 2);
  custom = g_ptr_array_index (stored, 0);
  g_assert_cmpstr (natter_message_get_object_name (custom), ==, "XX:Poll");
  g_assert_false (natter_message_is_supported (custom));
  g_assert_cmpstr (json_object_get_string_member (natter_message_get_content (custom), "question"), ==, "Lunch?");
  hq = g_ptr_array_index (stored, 1);
  g_assert_cmpint (natter_message_get_kind (hq), ==, NATTER_MESSAGE_KIND_HQ_VOICE);
  g_assert_cmpint (natter_message_get_voice_duration (hq), ==, 4);
  g_assert_true (g_str_has_prefix (natter_message_get_voice_url (hq), natter_test_server_get_url (server)));
  g_assert_false (json_object_has_member (natter_message_get_content (hq), "localPath"));

  /* Bob plays it: the recording alice had. */
  {
    g_autoptr(GFile) local = NULL;
    g_autoptr(GBytes) original = test_file_bytes (voice);
    g_autoptr(GBytes) copy = NULL;

    g_clear_object (&result);
    natter_client_download_async (bob->client, natter_message_get_voice_url (hq), NULL, NULL, NULL,
                                  test_store_result_cb, &result);
    test_wait_result (&result, 20);
    local = natter_client_download_finish (bob->client, result, &error);
    g_assert_no_error (error);
    copy = test_file_bytes (local);
    g_assert_true (g_bytes_equal (original, copy));
  }

  test_remove_tree (dir);
  peer_free (alice, FALSE);
  peer_free (bob, FALSE);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/client/media-round-trip", test_media_round_trip);
  g_test_add_func ("/client/app-server-token", test_app_server_token);
  g_test_add_func ("/client/typing-custom-voice", test_typing_custom_voice);

  return g_test_run ();
}
