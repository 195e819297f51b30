/* test-health.c — GET /healthz: 200 {"code":200} while natterd can write;
 * 503 {"code":30002,"reason":"store: …"} within 2 s when its writer is
 * stuck (another process holds the database's write lock), and 200 again
 * once it writes. (Out of space: tests/server/test-disk-full.c.)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-test-client.h"

#include <libsoup/soup.h>
#include <sqlite3.h>
#include <string.h>

/* The HTTP status of @method /healthz; the reply's code and reason. */
static guint
healthz (NatterTestServer *server,
         const char       *method,
         gint64           *code,
         char            **reason)
{
  g_autoptr(SoupSession) session = soup_session_new_with_options ("timeout", 10, NULL);
  g_autofree char *url = g_strdup_printf ("%s/healthz", natter_test_server_get_url (server));
  g_autoptr(SoupMessage) message = soup_message_new (method, url);
  g_autoptr(GBytes) body = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *object;

  body = soup_session_send_and_read (session, message, NULL, &error);
  g_assert_no_error (error);
  g_test_message ("%s /healthz: %u %.*s", method, soup_message_get_status (message),
                  (int) g_bytes_get_size (body), (const char *) g_bytes_get_data (body, NULL));
  if (soup_message_get_status (message) == 405)
    return 405;
  json_parser_load_from_data (parser, g_bytes_get_data (body, NULL), (gssize) g_bytes_get_size (body), &error);
  g_assert_no_error (error);
  object = json_node_get_object (json_parser_get_root (parser));
  *code = json_object_get_int_member (object, "code");
  g_free (*reason);
  *reason = g_strdup (json_object_get_string_member_with_default (object, "reason", NULL));
  g_assert_cmpstr (soup_message_headers_get_content_type (soup_message_get_response_headers (message), NULL),
                   ==, "application/json");
  return soup_message_get_status (message);
}

static void
test_healthy (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterFrame) ack = NULL;
  g_autofree char *reason = NULL;
  gint64 code = 0;

  g_assert_cmpuint (healthz (server, "GET", &code, &reason), ==, 200);
  g_assert_cmpint (code, ==, 200);
  g_assert_null (reason);

  ack = natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg", "{\"content\":\"hi\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);
  g_assert_cmpuint (healthz (server, "GET", &code, &reason), ==, 200);
  g_assert_cmpuint (healthz (server, "POST", &code, &reason), ==, 405);
}

static void
test_writer_stuck (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autofree char *db_path = g_build_filename (natter_test_server_get_data_dir (server), "natterd.db", NULL);
  g_autoptr(NatterTestClient) alice = NULL;
  g_autoptr(NatterFrame) ack = NULL;
  g_autofree char *reason = NULL;
  sqlite3 *db = NULL;
  gint64 code = 0;
  gint64 started;
  gint64 took;

  g_assert_cmpuint (healthz (server, "GET", &code, &reason), ==, 200);

  /* The write lock, ours: natterd's next commit waits for it. */
  g_assert_cmpint (sqlite3_open (db_path, &db), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  g_assert_cmpint (sqlite3_exec (db, "BEGIN IMMEDIATE", NULL, NULL, NULL), ==, SQLITE_OK);

  started = g_get_monotonic_time ();
  g_assert_cmpuint (healthz (server, "GET", &code, &reason), ==, 503);
  took = g_get_monotonic_time () - started;
  g_test_message ("503 after %" G_GINT64_FORMAT " ms", took / 1000);
  g_assert_cmpint (code, ==, NATTER_CODE_SERVER_ERROR);
  g_assert_true (g_str_has_prefix (reason, "store: no write completed for "));
  g_assert_cmpint (took, >=, 2 * G_USEC_PER_SEC - 100000);
  g_assert_cmpint (took, <, 4 * G_USEC_PER_SEC);

  /* Released: the barrier goes through, and so does the next. */
  g_assert_cmpint (sqlite3_exec (db, "COMMIT", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
  g_assert_cmpuint (healthz (server, "GET", &code, &reason), ==, 200);
  g_assert_cmpint (code, ==, 200);

  alice = natter_test_client_new_user (server, "alice", "a1");
  ack = natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg", "{\"content\":\"after\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/server/health/healthy", test_healthy);
  g_test_add_func ("/server/health/writer-stuck", test_writer_stuck);

  return g_test_run ();
}
