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
  /* A group's message (one row on its timeline) is in the file too. */
  reply = natter_test_server_api (server, NULL, "group/create", "userId", "alice", "userId", "bob",
                                  "groupId", "crew", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_clear_pointer (&reply, json_object_unref);
  {
    g_autoptr(NatterFrame) ack = natter_test_client_send_message (alice, 3, "crew", "RC:TxtMsg",
                                                                  "{\"content\":\"line 3\"}");

    g_assert_cmpint (ack->publish_ack->code, ==, 0);
    g_assert_cmpint (ack->publish_ack->sent_time / 3600000, ==, sent / 3600000);
  }
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
  g_assert_cmpuint (lines->len, ==, 4);
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
      g_assert_cmpstr (json_object_get_string_member (object, "targetId"), ==, i < 3 ? "bob" : "crew");
      g_assert_cmpint (json_object_get_int_member (object, "targetType"), ==, i < 3 ? 1 : 3);
      g_assert_cmpstr (json_object_get_string_member (object, "GroupId"), ==, i < 3 ? "" : "crew");
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

#define FLOODERS 8
#define FLOOD_QUERIES 256     /* natterd reads that many of a connection, then waits */
#define OFFLINE 1000          /* zed's offline messages */

/* A client that sends its queries and never reads: its reads wait on the
 * reader thread all the same. A plain TCP socket speaking WebSocket. */
static GSocketConnection *
open_flooder (NatterTestServer *server,
              const char       *user_id)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autofree char *token = natter_test_server_get_token (server, user_id);
  g_autoptr(GString) reply = g_string_new (NULL);
  GSocketConnection *connection;
  GOutputStream *stream;
  const char *request = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: natter.v2\r\n\r\n";

  connection = g_socket_client_connect_to_host (client, "127.0.0.1", natter_test_server_get_port (server),
                                                NULL, &error);
  g_assert_no_error (error);
  stream = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  g_output_stream_write_all (stream, request, strlen (request), NULL, NULL, &error);
  g_assert_no_error (error);
  while (!g_str_has_suffix (reply->str, "\r\n\r\n"))
    {
      char c;

      g_assert_cmpint (g_input_stream_read (g_io_stream_get_input_stream (G_IO_STREAM (connection)), &c, 1,
                                            NULL, &error), ==, 1);
      g_string_append_c (reply, c);
    }
  g_assert_true (g_str_has_prefix (reply->str, "HTTP/1.1 101"));

  /* Connect, then the queries: history of 20 big messages, each. */
  for (guint i = 0; i <= FLOOD_QUERIES; i++)
    {
      NatterFrame frame = NATTER__FRAME__INIT;
      Natter__Connect connect = NATTER__CONNECT__INIT;
      Natter__Query query = NATTER__QUERY__INIT;
      Natter__HistoryRequest history = NATTER__HISTORY_REQUEST__INIT;
      g_autoptr(GBytes) bytes = NULL;
      const guint8 mask[4] = { 0, 0, 0, 0 };
      guint8 header[4] = { 0x82, 0x80 | 126 };
      gsize length;
      const guint8 *data;

      if (i == 0)
        {
          connect.app_key = (char *) natter_test_server_get_app_key (server);
          connect.token = token;
          connect.device_id = (char *) "flood";
          frame.body_case = NATTER__FRAME__BODY_CONNECT;
          frame.connect = &connect;
        }
      else
        {
          history.conversation_type = 1;
          history.target_id = (char *) "sam";
          history.count = 20;
          query.request_id = i;
          query.method_case = NATTER__QUERY__METHOD_HISTORY;
          query.history = &history;
          frame.body_case = NATTER__FRAME__BODY_QUERY;
          frame.query = &query;
        }
      bytes = natter_frame_encode (&frame, NULL);
      data = g_bytes_get_data (bytes, &length);
      g_assert_cmpuint (length, <, 65536);
      header[2] = (guint8) (length >> 8);
      header[3] = (guint8) length;
      g_byte_array_append (out, header, 4);
      g_byte_array_append (out, mask, 4);   /* masked with zeros */
      g_byte_array_append (out, data, (guint) length);
    }
  g_output_stream_write_all (stream, out->data, out->len, NULL, NULL, &error);
  g_assert_no_error (error);
  return connection;
}

typedef struct
{
  guint   delivered;
  guint   expected;
  gint64  done;
} Replay;

static void
count_replay (NatterTestClient  *client,
              const NatterFrame *frame,
              gpointer           user_data)
{
  Replay *replay = user_data;

  if (frame->body_case != NATTER__FRAME__BODY_DELIVER)
    return;
  g_assert_true (frame->deliver->offline);
  if (++replay->delivered == replay->expected)
    replay->done = g_get_monotonic_time ();
}

static gboolean
replay_done (gpointer data)
{
  Replay *replay = data;

  return replay->delivered >= replay->expected;
}

/* Connects zed as @device and returns how long the replay of its OFFLINE
 * messages took, in ms. */
static double
time_replay (NatterTestServer *server,
             const char       *device)
{
  g_autofree char *token = natter_test_server_get_token (server, "zed");
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterTestClient) zed = natter_test_client_open (server, &error);
  Replay replay = { 0, OFFLINE, 0 };
  gint64 start;

  g_assert_no_error (error);
  natter_test_client_set_frame_func (zed, count_replay, &replay);
  start = g_get_monotonic_time ();
  g_assert_cmpint (natter_test_client_connect (zed, natter_test_server_get_app_key (server), token,
                                               device, 0), ==, 0);
  g_assert_true (natter_test_wait (replay_done, &replay, 60 * 1000));
  return (double) (replay.done - start) / 1000;
}

static void
publish_all (NatterTestClient *sender,
             const char       *target,
             guint             n,
             gsize             size)
{
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *filler = g_strnfill (size, 'x');

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *content = g_strdup_printf ("{\"content\":\"%u %s\"}", i, filler);

      g_ptr_array_add (ids, natter_test_client_publish (sender, 1, target, "RC:TxtMsg", content));
    }
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(NatterFrame) ack = natter_test_client_wait_ack (sender, g_ptr_array_index (ids, i));

      g_assert_cmpint (ack->publish_ack->code, ==, 0);
    }
}

/* Reads run on one reader thread; other users' history reads must not
 * starve a connecting user's offline replay. Clients that ask for history
 * pages of big messages and never read the answers keep thousands of reads
 * waiting (limits lifted, so it is as deep as it gets); each replay page
 * still goes first, after the one read running. */
static void
test_replay_priority (void)
{
  const char * const args[] = { "--app-setting", "send-rate=0", "--app-setting", "multi-device=true", NULL };
  g_autoptr(NatterTestServer) server =
    natter_test_server_new_full ("[limits]\nquery-rate=0\nmax-queries=0\n", args);
  g_autoptr(NatterTestClient) sam = natter_test_client_new_user (server, "sam", "s1");
  GSocketConnection *flooders[FLOODERS];
  double quiet, flooded;
  guint64 frames, answered;
  gint64 queued, deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  publish_all (sam, "zed", OFFLINE, 100);
  for (guint i = 0; i < FLOODERS; i++)
    {
      g_autofree char *user = g_strdup_printf ("f%u", i);

      publish_all (sam, user, 21, 100 * 1024);
    }

  /* The replay alone, for scale. */
  quiet = time_replay (server, "quiet");

  frames = natter_test_server_get_metric (server, "natterd_frames_received_total");
  for (guint i = 0; i < FLOODERS; i++)
    {
      g_autofree char *user = g_strdup_printf ("f%u", i);

      flooders[i] = open_flooder (server, user);
    }
  /* Once natterd has read their queries, their reads are queued. */
  while (natter_test_server_get_metric (server, "natterd_frames_received_total") <
         frames + FLOODERS * (FLOOD_QUERIES + 1))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10 * 1000);
    }
  queued = g_get_monotonic_time ();

  flooded = time_replay (server, "flooded");
  answered = natter_test_server_get_metric (server, "natterd_query_latency_seconds_count");
  g_test_message ("offline replay of %u messages: %.0f ms alone, %.0f ms with %u history reads of "
                  "20 messages of 100 KB queued (%" G_GUINT64_FORMAT " answered %.0f ms after they were)",
                  OFFLINE, quiet, flooded, FLOODERS * FLOOD_QUERIES, answered,
                  (double) (g_get_monotonic_time () - queued) / 1000);
  /* Without the priority the replay waited for every read queued before
   * it (2,096 ms against 57 ms alone, here), so nearly all were answered
   * by the time it ended; with it, the few running when each replay page
   * came, and those answered since. A count, not a time: it holds on a
   * loaded machine too. */
  g_assert_cmpuint (answered, <, FLOODERS * FLOOD_QUERIES / 4);
  g_assert_cmpfloat (flooded, <, 10 * 1000 + 4 * quiet);

  /* Not seconds of reads nobody waits for any more. */
  natter_test_server_kill (server);
  for (guint i = 0; i < FLOODERS; i++)
    g_object_unref (flooders[i]);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/server/history/export", test_export);
  g_test_add_func ("/server/history/inbox-retention", test_inbox_retention);
  g_test_add_func ("/server/history/replay-priority", test_replay_priority);

  return g_test_run ();
}
