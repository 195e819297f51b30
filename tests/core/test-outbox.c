/* test-outbox.c — NatterOutbox through NatterClient, against a real natterd
 *
 * What is sent is not lost and not reordered: messages written while
 * natterd is away (text, a photo, a file) go after a restart of natterd
 * and of the app, an upload natterd cannot take goes by itself once it
 * can, and after a 20604 refusal the next messages of the conversation
 * wait for the refused one.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gstdio.h>
#include <string.h>

#include "test-helpers.h"

static void
test_outbox_survives_restart (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  Peer *alice = peer_new (server, "alice", NULL);
  Peer *bob = peer_new (server, "bob", NULL);
  g_autofree char *profile = g_strdup (alice->profile);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) outbox = NULL;
  g_autoptr(JsonObject) content = natter_content_new_text ("written offline");
  NatterStore *store;

  peer_connect (alice);
  natter_test_server_stop (server);
  peer_wait_status (alice, NATTER_CONNECTION_CLOSED, 20);

  /* Sent while the server is away: stored SENDING, waiting. */
  natter_client_send_message_async (alice->client, NATTER_CONVERSATION_PRIVATE, "bob",
                                    NATTER_OBJECT_TEXT, content, NULL, test_store_result_cb, &result);
  test_spin (300);
  g_assert_null (result);
  store = natter_client_get_store (alice->client);
  {
    g_autoptr(GAsyncResult) r = NULL;

    natter_store_get_outbox_async (store, NULL, test_store_result_cb, &r);
    test_wait_result (&r, 10);
    outbox = natter_store_get_outbox_finish (store, r, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (outbox->len, ==, 1);
  }

  /* The app quits: the send is abandoned, the message is not. */
  peer_free (alice, TRUE);
  test_wait_result (&result, 10);
  g_assert_null (g_task_propagate_pointer (G_TASK (result), &error));
  g_assert_error (error, NATTER_CLIENT_ERROR, NATTER_CODE_NOT_CONNECTED);
  g_clear_error (&error);
  g_clear_object (&result);

  natter_test_server_restart (server);
  alice = peer_new (server, "alice", profile);
  peer_connect (alice);
  peer_connect (bob);
  peer_wait_received (bob, 1);
  test_spin (1000);
  g_assert_cmpuint (peer_count_received (bob, TRUE), ==, 1);
  g_assert_cmpstr (natter_message_get_text (g_ptr_array_index (bob->received, 0)), ==, "written offline");

  peer_free (alice, FALSE);
  peer_free (bob, FALSE);
}

/* A photo or file sent while natterd is away is not lost: it is stored
 * SENDING with its local path, and uploaded and published from the outbox
 * after a restart of the app; one whose file is gone meanwhile is FAILED. */
static void
test_media_outbox (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  Peer *alice = peer_new (server, "alice", NULL);
  Peer *bob = peer_new (server, "bob", NULL);
  g_autofree char *profile = g_strdup (alice->profile);
  g_autofree char *dir = test_make_profile ();
  g_autofree char *file_path = g_build_filename (dir, "合同 v2.bin", NULL);
  g_autofree char *gone_path = g_build_filename (dir, "gone.txt", NULL);
  g_autoptr(GFile) file = g_file_new_for_path (file_path);
  g_autoptr(GFile) gone = g_file_new_for_path (gone_path);
  g_autoptr(GPtrArray) stored = NULL;
  g_autoptr(GError) error = NULL;
  GString *blob = g_string_new (NULL);
  GAsyncResult *results[2] = { NULL, NULL };
  NatterMessage *got, *mine, *failed;

  for (int i = 0; i < 200 * 1024; i++)
    g_string_append_c (blob, (char) g_random_int ());
  g_file_set_contents (file_path, blob->str, blob->len, &error);
  g_assert_no_error (error);
  g_file_set_contents (gone_path, "deleted before it could go", -1, &error);
  g_assert_no_error (error);

  peer_connect (alice);
  natter_test_server_stop (server);
  peer_wait_status (alice, NATTER_CONNECTION_CLOSED, 20);

  natter_client_send_file_async (alice->client, NATTER_CONVERSATION_PRIVATE, "bob", file, NULL, NULL, NULL,
                                 test_store_result_cb, &results[0]);
  natter_client_send_file_async (alice->client, NATTER_CONVERSATION_PRIVATE, "bob", gone, NULL, NULL, NULL,
                                 test_store_result_cb, &results[1]);

  /* Both are in the chat at once, waiting, with no URL yet. */
  test_spin (500);
  stored = peer_store_page (alice, NATTER_CONVERSATION_PRIVATE, "bob", 10);
  g_assert_cmpuint (stored->len, ==, 2);
  for (guint i = 0; i < stored->len; i++)
    {
      NatterMessage *waiting = g_ptr_array_index (stored, i);

      g_assert_cmpint (natter_message_get_sent_status (waiting), ==, NATTER_SENT_STATUS_SENDING);
      g_assert_cmpint (natter_message_get_kind (waiting), ==, NATTER_MESSAGE_KIND_FILE);
      g_assert_null (natter_message_get_file_url (waiting));
    }
  {
    /* Either order: the two sends race to the store. */
    NatterMessage *big = g_ptr_array_index (stored, 0);

    if (g_strcmp0 (natter_message_get_file_name (big), "gone.txt") == 0)
      big = g_ptr_array_index (stored, 1);
    g_assert_cmpstr (natter_message_get_file_name (big), ==, "合同 v2.bin");
    g_assert_cmpint (natter_message_get_file_size (big), ==, 200 * 1024);
  }
  g_clear_pointer (&stored, g_ptr_array_unref);

  /* The app quits; one file is deleted meanwhile. */
  peer_free (alice, TRUE);
  for (guint i = 0; i < G_N_ELEMENTS (results); i++)
    {
      test_wait_result (&results[i], 10);
      g_assert_null (g_task_propagate_pointer (G_TASK (results[i]), &error));
      g_assert_error (error, NATTER_CLIENT_ERROR, NATTER_CODE_NOT_CONNECTED);
      g_assert_true (natter_client_error_is_transient (error));
      g_clear_error (&error);
      g_clear_object (&results[i]);
    }
  g_unlink (gone_path);

  natter_test_server_restart (server);
  alice = peer_new (server, "alice", profile);
  peer_connect (alice);
  peer_connect (bob);

  /* The file went once, with its URL and without the local path. */
  peer_wait_received (bob, 1);
  test_spin (1000);
  g_assert_cmpuint (peer_count_received (bob, TRUE), ==, 1);
  got = g_ptr_array_index (bob->received, 0);
  g_assert_cmpint (natter_message_get_kind (got), ==, NATTER_MESSAGE_KIND_FILE);
  g_assert_cmpstr (natter_message_get_file_name (got), ==, "合同 v2.bin");
  g_assert_true (g_str_has_prefix (natter_message_get_file_url (got), natter_test_server_get_url (server)));
  g_assert_false (json_object_has_member (natter_message_get_content (got), "localPath"));
  {
    g_autoptr(GAsyncResult) result = NULL;
    g_autoptr(GFile) local = NULL;
    g_autoptr(GBytes) original = NULL;
    g_autoptr(GBytes) copy = NULL;

    natter_client_download_async (bob->client, natter_message_get_file_url (got), NULL, NULL, NULL,
                                  test_store_result_cb, &result);
    test_wait_result (&result, 30);
    local = natter_client_download_finish (bob->client, result, &error);
    g_assert_no_error (error);
    original = test_file_bytes (file);
    copy = test_file_bytes (local);
    g_assert_true (g_bytes_equal (original, copy));
  }

  /* Alice's side: the sent one has its URL; the other is FAILED with a
   * code, kept for the user to see. */
  stored = peer_store_page (alice, NATTER_CONVERSATION_PRIVATE, "bob", 10);
  g_assert_cmpuint (stored->len, ==, 2);
  mine = g_ptr_array_index (stored, 0);
  failed = g_ptr_array_index (stored, 1);
  if (natter_message_get_sent_status (mine) != NATTER_SENT_STATUS_SENT)
    {
      NatterMessage *swap = mine;

      mine = failed;
      failed = swap;
    }
  g_assert_cmpint (natter_message_get_sent_status (mine), ==, NATTER_SENT_STATUS_SENT);
  g_assert_cmpstr (natter_message_get_message_uid (mine), ==, natter_message_get_message_uid (got));
  g_assert_cmpstr (natter_message_get_file_url (mine), ==, natter_message_get_file_url (got));
  g_assert_false (json_object_has_member (natter_message_get_content (mine), "localPath"));
  g_assert_cmpint (natter_message_get_sent_status (failed), ==, NATTER_SENT_STATUS_FAILED);
  g_assert_cmpint (natter_message_get_error_code (failed), ==, NATTER_CODE_INVALID_PARAMETER);
  g_assert_cmpstr (natter_message_get_file_name (failed), ==, "gone.txt");

  /* A local path never leaves the device, even in content an app built. */
  {
    g_autoptr(JsonObject) content = natter_content_new_file ("plan.pdf", 3, "application/pdf",
                                                             "http://127.0.0.1:1/media/x/y");
    g_autoptr(GAsyncResult) result = NULL;
    g_autoptr(NatterMessage) sent = NULL;
    NatterMessage *copy;

    json_object_set_string_member (content, "localPath", "/home/alice/私人/plan.pdf");
    natter_client_send_message_async (alice->client, NATTER_CONVERSATION_PRIVATE, "bob", NATTER_OBJECT_FILE,
                                      content, NULL, test_store_result_cb, &result);
    test_wait_result (&result, 20);
    sent = natter_client_send_message_finish (alice->client, result, &error);
    g_assert_no_error (error);
    peer_wait_received (bob, 2);
    copy = g_ptr_array_index (bob->received, 1);
    g_assert_cmpstr (natter_message_get_file_name (copy), ==, "plan.pdf");
    g_assert_false (json_object_has_member (natter_message_get_content (copy), "localPath"));
  }

  g_string_free (blob, TRUE);
  test_remove_tree (dir);
  peer_free (alice, FALSE);
  peer_free (bob, FALSE);
}

/* natterd is there but cannot take the file (its media directory is a
 * file now): the send fails for the moment, the message waits SENDING, and
 * goes by itself once natterd can take it — no reconnect needed. */
static void
test_media_upload_retry (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new_full ("[media]\nmax-size=4096\n", NULL);
  Peer *alice = peer_new (server, "alice", NULL);
  Peer *bob = peer_new (server, "bob", NULL);
  g_autofree char *media_dir = g_build_filename (natter_test_server_get_data_dir (server), "media", NULL);
  g_autofree char *tmp_dir = g_build_filename (media_dir, "tmp", NULL);
  g_autofree char *dir = test_make_profile ();
  g_autofree char *path = g_build_filename (dir, "report.pdf", NULL);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) stored = NULL;
  NatterMessage *got, *mine;

  g_file_set_contents (path, "%PDF-1.4 not much of a report", -1, &error);
  g_assert_no_error (error);
  peer_connect (alice);
  peer_connect (bob);
  g_array_set_size (alice->statuses, 0);

  g_rmdir (tmp_dir);
  g_assert_cmpint (g_mkdir_with_parents (media_dir, 0700), ==, 0);
  g_file_set_contents (tmp_dir, "in the way", -1, &error);
  g_assert_no_error (error);

  natter_client_send_file_async (alice->client, NATTER_CONVERSATION_PRIVATE, "bob", file, NULL, NULL, NULL,
                                 test_store_result_cb, &result);
  test_wait_result (&result, 20);
  g_assert_null (natter_client_send_media_finish (alice->client, result, &error));
  g_assert_error (error, NATTER_CLIENT_ERROR, NATTER_CODE_SERVER_ERROR);
  g_assert_nonnull (strstr (error->message, "kept in the outbox"));
  g_assert_true (natter_client_error_is_transient (error));
  g_clear_error (&error);
  stored = peer_store_page (alice, NATTER_CONVERSATION_PRIVATE, "bob", 10);
  g_assert_cmpuint (stored->len, ==, 1);
  g_assert_cmpint (natter_message_get_sent_status (g_ptr_array_index (stored, 0)), ==, NATTER_SENT_STATUS_SENDING);
  g_clear_pointer (&stored, g_ptr_array_unref);

  /* natterd can store files again: the retry finds it. */
  g_assert_cmpint (g_unlink (tmp_dir), ==, 0);
  peer_wait_received (bob, 1);
  got = g_ptr_array_index (bob->received, 0);
  g_assert_cmpstr (natter_message_get_file_name (got), ==, "report.pdf");
  g_assert_nonnull (natter_message_get_file_url (got));

  stored = peer_store_page (alice, NATTER_CONVERSATION_PRIVATE, "bob", 10);
  g_assert_cmpuint (stored->len, ==, 1);
  mine = g_ptr_array_index (stored, 0);
  g_assert_cmpint (natter_message_get_sent_status (mine), ==, NATTER_SENT_STATUS_SENT);
  g_assert_cmpstr (natter_message_get_message_uid (mine), ==, natter_message_get_message_uid (got));
  /* The connection stayed up all along. */
  g_assert_cmpuint (alice->statuses->len, ==, 0);
  g_clear_pointer (&stored, g_ptr_array_unref);

  /* A file over natterd's limit is refused for good: FAILED with 30016. */
  {
    g_autofree char *big_path = g_build_filename (dir, "big.bin", NULL);
    g_autofree char *zeros = g_malloc0 (10000);
    g_autoptr(GFile) big = g_file_new_for_path (big_path);
    NatterMessage *refused = NULL;

    g_file_set_contents (big_path, zeros, 10000, &error);
    g_assert_no_error (error);
    g_clear_object (&result);
    natter_client_send_file_async (alice->client, NATTER_CONVERSATION_PRIVATE, "bob", big, NULL, NULL, NULL,
                                   test_store_result_cb, &result);
    test_wait_result (&result, 20);
    g_assert_null (natter_client_send_media_finish (alice->client, result, &error));
    g_assert_error (error, NATTER_CLIENT_ERROR, NATTER_CODE_MESSAGE_TOO_LARGE);
    g_assert_false (natter_client_error_is_transient (error));
    g_clear_error (&error);
    test_spin (300);
    stored = peer_store_page (alice, NATTER_CONVERSATION_PRIVATE, "bob", 10);
    g_assert_cmpuint (stored->len, ==, 2);
    for (guint i = 0; i < stored->len; i++)
      if (g_strcmp0 (natter_message_get_file_name (g_ptr_array_index (stored, i)), "big.bin") == 0)
        refused = g_ptr_array_index (stored, i);
    g_assert_nonnull (refused);
    g_assert_cmpint (natter_message_get_sent_status (refused), ==, NATTER_SENT_STATUS_FAILED);
    g_assert_cmpint (natter_message_get_error_code (refused), ==, NATTER_CODE_MESSAGE_TOO_LARGE);
  }

  test_remove_tree (dir);
  peer_free (alice, FALSE);
  peer_free (bob, FALSE);
}

/* natterd refuses a message for now (20604 at a low send-rate): the next
 * messages of the same conversation wait for it instead of overtaking it,
 * even when the rate would let them through first; bob reads them in the
 * order alice wrote them. */
static void
test_send_order_after_refusal (void)
{
  g_autoptr(NatterTestServer) server =
    natter_test_server_new_full ("[limits]\nsend-rate=1\nsend-burst=1\n", NULL);
  const char *texts[] = { "one", "two", "three", "four" };
  GAsyncResult *results[G_N_ELEMENTS (texts)] = { NULL };
  Peer *alice = peer_new (server, "alice", NULL);
  Peer *bob = peer_new (server, "bob", NULL);
  gint64 last_time = 0;

  peer_connect (alice);
  peer_connect (bob);

  /* "one" takes the only token, "two" is refused (20604) and retried in 2 s;
   * 1.2 s later a token is back, when "three" and "four" are written */
  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr(JsonObject) content = natter_content_new_text (texts[i]);

      if (i == 2)
        test_spin (1200);
      natter_client_send_message_async (alice->client, NATTER_CONVERSATION_PRIVATE, "bob",
                                        NATTER_OBJECT_TEXT, content, NULL, test_store_result_cb,
                                        &results[i]);
    }

  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(NatterMessage) sent = NULL;

      test_wait_result (&results[i], 30);
      sent = natter_client_send_message_finish (alice->client, results[i], &error);
      g_assert_no_error (error);
      g_assert_cmpint (natter_message_get_sent_status (sent), ==, NATTER_SENT_STATUS_SENT);
      g_clear_object (&results[i]);
    }

  peer_wait_received (bob, G_N_ELEMENTS (texts));
  g_assert_cmpuint (peer_count_received (bob, TRUE), ==, G_N_ELEMENTS (texts));
  for (guint i = 0, n = 0; i < bob->received->len; i++)
    {
      NatterMessage *message = g_ptr_array_index (bob->received, i);

      if (!natter_message_is_persisted (message))
        continue;
      g_test_message ("bob read \"%s\"", natter_message_get_text (message));
      g_assert_cmpstr (natter_message_get_text (message), ==, texts[n++]);
      g_assert_cmpint (natter_message_get_sent_time (message), >=, last_time);
      last_time = natter_message_get_sent_time (message);
    }

  peer_free (alice, FALSE);
  peer_free (bob, FALSE);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/client/outbox-survives-restart", test_outbox_survives_restart);
  g_test_add_func ("/client/media-outbox", test_media_outbox);
  g_test_add_func ("/client/media-upload-retry", test_media_upload_retry);
  g_test_add_func ("/client/send-order-after-refusal", test_send_order_after_refusal);

  return g_test_run ();
}
