/* test-history.c — natterd: message/history hourly exports
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-test-client.h"

#include <libsoup/soup.h>
#include <sqlite3.h>
#include <string.h>

static char *
hour_of (gint64 ms)
{
  g_autoptr(GDateTime) time = g_date_time_new_from_unix_utc (ms / 1000);

  return g_date_time_format (time, "%Y%m%d%H");
}

static void
move_back_two_hours (NatterTestServer *server)
{
  g_autofree char *path = g_build_filename (natter_test_server_get_data_dir (server), "natterd.db", NULL);
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db,
                                 "UPDATE messages SET sent_time = sent_time - 7200000;"
                                 "UPDATE hours SET hour = hour - 2;",
                                 NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
}

static GPtrArray *
download_lines (const char *url)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autoptr(SoupMessage) message = soup_message_new ("GET", url);
  g_autoptr(GInputStream) raw = NULL;
  g_autoptr(GZlibDecompressor) decompressor = g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP);
  g_autoptr(GInputStream) plain = NULL;
  g_autoptr(GDataInputStream) lines = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  char *line;

  raw = soup_session_send (session, message, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (message), ==, 200);
  plain = g_converter_input_stream_new (raw, G_CONVERTER (decompressor));
  lines = g_data_input_stream_new (plain);
  while ((line = g_data_input_stream_read_line_utf8 (lines, NULL, NULL, &error)) != NULL)
    g_ptr_array_add (out, line);
  g_assert_no_error (error);
  return out;
}

static void
test_export (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(JsonObject) reply = NULL;
  g_autofree char *now_hour = hour_of (g_get_real_time () / 1000);
  g_autofree char *then_hour = NULL;
  g_autoptr(GPtrArray) lines = NULL;
  g_autofree char *url = NULL;
  gint64 sent = 0;

  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *content = g_strdup_printf ("{\"content\":\"line %u\"}", i);
      g_autoptr(NatterFrame) ack = natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg", content);

      g_assert_cmpint (ack->publish_ack->code, ==, 0);
      sent = ack->publish_ack->sent_time;
    }
  natter_frame_free (natter_test_client_send_message (alice, 1, "bob", "RC:TypSts", "{}"));
  natter_frame_free (natter_test_client_send_message (alice, 1, "bob", "RC:CmdMsg", "{\"name\":\"n\"}"));
  then_hour = hour_of (sent - 7200000);

  /* The hour is not over: nothing yet. */
  reply = natter_test_server_api (server, NULL, "message/history", "date", now_hour, NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_assert_cmpstr (json_object_get_string_member (reply, "url"), ==, "");
  g_assert_cmpstr (json_object_get_string_member (reply, "date"), ==, now_hour);
  g_clear_pointer (&reply, json_object_unref);

  /* Make those messages two hours old. */
  natter_test_server_stop (server);
  move_back_two_hours (server);
  natter_test_server_restart (server);

  reply = natter_test_server_api (server, NULL, "message/history", "date", then_hour, NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  url = g_strdup (json_object_get_string_member (reply, "url"));
  g_assert_true (g_str_has_prefix (url, natter_test_server_get_url (server)));
  g_clear_pointer (&reply, json_object_unref);

  lines = download_lines (url);
  g_assert_cmpuint (lines->len, ==, 3);
  for (guint i = 0; i < lines->len; i++)
    {
      g_autoptr(JsonParser) parser = json_parser_new ();
      g_autoptr(GError) error = NULL;
      g_autofree char *expected = g_strdup_printf ("line %u", i);
      JsonObject *object;

      json_parser_load_from_data (parser, g_ptr_array_index (lines, i), -1, &error);
      g_assert_no_error (error);
      object = json_node_get_object (json_parser_get_root (parser));
      g_assert_cmpstr (json_object_get_string_member (object, "fromUserId"), ==, "alice");
      g_assert_cmpstr (json_object_get_string_member (object, "targetId"), ==, "bob");
      g_assert_cmpint (json_object_get_int_member (object, "targetType"), ==, 1);
      g_assert_cmpstr (json_object_get_string_member (object, "classname"), ==, "RC:TxtMsg");
      g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (object, "content"), "content"), ==, expected);
      g_assert_cmpuint (strlen (json_object_get_string_member (object, "msgUID")), ==, 19);
      g_assert_cmpuint (strlen (json_object_get_string_member (object, "dateTime")), ==, 23);
    }

  /* Asking again gives the same file. */
  reply = natter_test_server_api (server, NULL, "message/history", "date", then_hour, NULL);
  g_assert_cmpstr (json_object_get_string_member (reply, "url"), ==, url);
  g_clear_pointer (&reply, json_object_unref);

  /* The link is the credential: a wrong one is not found. */
  {
    g_autoptr(SoupSession) session = soup_session_new ();
    g_autofree char *forged = g_strdup (url);
    g_autoptr(SoupMessage) message = NULL;
    g_autoptr(GBytes) body = NULL;
    char *mac = strrchr (forged, '-') + 1;

    mac[0] = mac[0] == 'a' ? 'b' : 'a';
    message = soup_message_new ("GET", forged);
    body = soup_session_send_and_read (session, message, NULL, NULL);
    g_assert_cmpuint (soup_message_get_status (message), ==, 404);
  }

  /* Empty hours and hours past retention give no link. */
  reply = natter_test_server_api (server, NULL, "message/history", "date", "2020010100", NULL);
  g_assert_cmpstr (json_object_get_string_member (reply, "url"), ==, "");
  g_clear_pointer (&reply, json_object_unref);
  reply = natter_test_server_api (server, NULL, "message/history", "date", "20200101", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 1002);
}

/* natterd prunes shortly after start: on its sweep timer some seconds in,
 * then on the writer thread. Until it has deleted @n inbox entries. */
static void
wait_pruned (NatterTestServer *server,
             guint64           n)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  while (natter_test_server_get_metric (server, "natterd_inbox_pruned_total") < n)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("natterd pruned fewer than %" G_GUINT64_FORMAT " inbox entries in 30 s", n);
      g_usleep (50 * 1000);
    }
}

static void
test_inbox_retention (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new_full ("[store]\ninbox-retention-days=1\n", NULL);
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autofree char *bob_token = natter_test_server_get_token (server, "bob");
  g_autoptr(NatterTestClient) bob = NULL;
  g_autoptr(NatterFrame) deliver = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  sqlite3 *db = NULL;

  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *content = g_strdup_printf ("{\"content\":\"%u\"}", i);
      natter_frame_free (natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg", content));
    }
  natter_test_client_free (g_steal_pointer (&alice));

  /* The first two become two days old. */
  natter_test_server_stop (server);
  path = g_build_filename (natter_test_server_get_data_dir (server), "natterd.db", NULL);
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db,
                                 "UPDATE messages SET sent_time = sent_time - 172800000 WHERE id < 3;"
                                 "INSERT INTO hours (hour, first_message_id)"
                                 "  SELECT hour - 48, 1 FROM hours;"
                                 "UPDATE hours SET first_message_id = 3 WHERE first_message_id = 1"
                                 "  AND hour = (SELECT MAX (hour) FROM hours);",
                                 NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
  natter_test_server_restart (server);

  /* natterd prunes shortly after start: bob's two old entries go. */
  wait_pruned (server, 2);

  bob = natter_test_client_open (server, &error);
  g_assert_no_error (error);
  g_assert_cmpint (natter_test_client_connect (bob, natter_test_server_get_app_key (server), bob_token,
                                               "b1", 0), ==, 0);
  g_assert_cmpuint (natter_test_client_get_max_seq (bob), ==, 3);
  deliver = natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
  g_assert_nonnull (deliver);
  g_assert_cmpuint (deliver->deliver->seq, ==, 3);
  g_assert_cmpstr (deliver->deliver->message->content, ==, "{\"content\":\"2\"}");
  natter_test_client_expect_none (bob, NATTER__FRAME__BODY_DELIVER, 300);

  /* History still has all three. */
  {
    Natter__Query query = NATTER__QUERY__INIT;
    Natter__HistoryRequest history = NATTER__HISTORY_REQUEST__INIT;
    g_autoptr(NatterFrame) result = NULL;

    history.conversation_type = 1;
    history.target_id = (char *) "alice";
    history.count = 20;
    query.method_case = NATTER__QUERY__METHOD_HISTORY;
    query.history = &history;
    result = natter_test_client_query (bob, &query);
    g_assert_cmpuint (result->result->history->n_messages, ==, 3);
  }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/server/history/export", test_export);
  g_test_add_func ("/server/history/inbox-retention", test_inbox_retention);

  return g_test_run ();
}
