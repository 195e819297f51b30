/* test-pg-migrate.c — natterd --data-dir DIR --migrate-to-postgresql
 *
 * An SQLite deployment with messages waiting in an inbox, a group and its
 * timeline, a blacklist, a nonce and a webhook event not yet delivered is
 * copied into an empty PostgreSQL; natterd reports every table's row
 * count on both sides; a node started on PostgreSQL then serves it: the
 * offline messages are replayed with their seqs, the group's timeline is
 * there, new messages get new ids.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <json-glib/json-glib.h>
#include <sqlite3.h>
#include <string.h>

#include "natter-test-client.h"
#include "natter-test-pg.h"
#include "natter-test-server.h"

static gint64
sqlite_count (const char *data_dir,
              const char *table)
{
  g_autofree char *path = g_build_filename (data_dir, "natterd.db", NULL);
  g_autofree char *sql = g_strdup_printf ("SELECT count (*) FROM %s", table);
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 count = -1;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    count = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return count;
}

static char *
migrate (const char *data_dir,
         const char *conninfo,
         gboolean    success)
{
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                              natter_test_program ("NATTERD"), "--data-dir", data_dir,
                              "--migrate-to-postgresql", conninfo, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  if (g_subprocess_get_successful (process) != success)
    g_error ("natterd --migrate-to-postgresql: %s%s", out, err);
  return success ? g_steal_pointer (&out) : g_steal_pointer (&err);
}

static void
test_migrate (void)
{
  static const char * const create_args[] = { "--app-setting", "webhook-url=http://127.0.0.1:1/hook", NULL };
  g_autoptr(NatterTestPg) pg = natter_test_pg_start ();
  g_autofree char *conninfo = natter_test_pg_create_database (pg, "natter");
  g_autofree char *pg_config = g_strdup_printf ("[store]\nbackend=postgresql\npostgresql=%s\n", conninfo);
  g_autoptr(NatterTestServer) sqlite_node = NULL;
  g_autoptr(NatterTestServer) pg_node = NULL;
  g_autofree char *alice_token = NULL;
  g_autofree char *report = NULL;
  g_autofree char *refused = NULL;
  static const char * const checked[] = {
    "apps", "users", "devices", "messages", "inbox", "conversations", "hours", "groups",
    "group_members", "timelines", "timeline_members", "chatrooms", "blacklist", "api_nonces",
    "webhook_events", "account_rows", "message_readers",
  };

  /* The SQLite deployment: alice offline with five messages waiting. */
  sqlite_node = natter_test_server_new_full ("[webhook]\ndrain-timeout=0\n", create_args);
  alice_token = natter_test_server_get_token (sqlite_node, "alice");
  {
    g_autoptr(NatterTestClient) bob = natter_test_client_new_user (sqlite_node, "bob", "b1");
    g_autoptr(JsonObject) reply = NULL;

    for (guint i = 0; i < 5; i++)
      {
        g_autofree char *content = g_strdup_printf ("{\"content\":\"waiting %u\"}", i);
        g_autoptr(NatterFrame) ack = natter_test_client_send_message (bob, 1, "alice", "RC:TxtMsg", content);

        g_assert_cmpint (ack->publish_ack->code, ==, 0);
      }
    reply = natter_test_server_api (sqlite_node, NULL, "group/create", "userId", "bob", "userId", "alice",
                                    "groupId", "g1", "groupName", "Group one", NULL);
    g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
    g_clear_pointer (&reply, json_object_unref);
    /* dave read bob's group message: natterd keeps it (#16). */
    reply = natter_test_server_api (sqlite_node, NULL, "group/join", "userId", "dave", "groupId", "g1", NULL);
    g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
    g_clear_pointer (&reply, json_object_unref);
    {
      g_autoptr(NatterTestClient) dave = natter_test_client_new_user (sqlite_node, "dave", "d1");
      g_autoptr(NatterFrame) ack = natter_test_client_send_message (bob, 3, "g1", "RC:TxtMsg", "{\"content\":\"read me\"}");
      g_autoptr(NatterFrame) answered = NULL;
      g_autofree char *answer = NULL;

      g_assert_cmpint (ack->publish_ack->code, ==, 0);
      answer = g_strdup_printf ("{\"receiptMessageDic\":{\"bob\":[\"%s\"]}}", ack->publish_ack->message_uid);
      answered = natter_test_client_send_message (dave, 3, "g1", "RC:RRRspMsg", answer);
      g_assert_cmpint (answered->publish_ack->code, ==, 0);
    }
    reply = natter_test_server_api (sqlite_node, NULL, "message/group/publish", "fromUserId", "bob",
                                    "toGroupId", "g1", "objectName", "RC:TxtMsg",
                                    "content", "{\"content\":\"to the group\"}", NULL);
    g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
    g_clear_pointer (&reply, json_object_unref);
    reply = natter_test_server_api (sqlite_node, NULL, "user/blacklist/add", "userId", "alice",
                                    "blackUserId", "carol", NULL);
    g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
    g_clear_pointer (&reply, json_object_unref);
    reply = natter_test_server_api (sqlite_node, NULL, "chatroom/create", "chatroom[r1]", "Room one", NULL);
    g_clear_pointer (&reply, json_object_unref);
  }
  natter_test_server_stop (sqlite_node);
  /* The app server never answered: the events wait in the table. */
  g_assert_cmpint (sqlite_count (natter_test_server_get_data_dir (sqlite_node), "webhook_events"), >, 0);

  report = migrate (natter_test_server_get_data_dir (sqlite_node), conninfo, TRUE);
  g_test_message ("%s", report);
  for (guint i = 0; i < G_N_ELEMENTS (checked); i++)
    {
      gint64 count = sqlite_count (natter_test_server_get_data_dir (sqlite_node), checked[i]);
      g_autofree char *sql = g_strdup_printf ("SELECT count (*) FROM %s", checked[i]);
      g_autofree char *in_pg = natter_test_pg_query (pg, "natter", sql);
      g_autofree char *line = g_strdup_printf ("sqlite %" G_GINT64_FORMAT " postgresql %" G_GINT64_FORMAT "\n",
                                               count, count);

      g_assert_cmpint (g_ascii_strtoll (in_pg, NULL, 10), ==, count);
      g_assert_nonnull (strstr (report, line));
      if (g_str_equal (checked[i], "messages") || g_str_equal (checked[i], "inbox") ||
          g_str_equal (checked[i], "blacklist") || g_str_equal (checked[i], "api_nonces") ||
          g_str_equal (checked[i], "timelines") || g_str_equal (checked[i], "webhook_events") ||
          g_str_equal (checked[i], "message_readers"))
        g_assert_cmpint (count, >, 0);
    }

  /* Into a database that has data: refused, nothing changed. */
  refused = migrate (natter_test_server_get_data_dir (sqlite_node), conninfo, FALSE);
  g_assert_nonnull (strstr (refused, "has data already"));

  /* A node on PostgreSQL serves the deployment. */
  pg_node = natter_test_server_new_node (sqlite_node, pg_config);
  {
    g_autoptr(NatterTestClient) alice = natter_test_client_open (pg_node, NULL);
    g_autoptr(NatterTestClient) bob = NULL;
    g_autoptr(NatterFrame) ack = NULL;
    g_autoptr(GPtrArray) timeline = NULL;

    g_assert_cmpint (natter_test_client_connect (alice, natter_test_server_get_app_key (pg_node), alice_token,
                                                 "a1", 0), ==, 0);
    for (guint i = 0; i < 5; i++)
      {
        g_autoptr(NatterFrame) deliver = natter_test_client_expect (alice, NATTER__FRAME__BODY_DELIVER,
                                                                    NATTER_TEST_TIMEOUT_MS);
        g_autofree char *content = g_strdup_printf ("{\"content\":\"waiting %u\"}", i);

        g_assert_nonnull (deliver);
        g_assert_cmpuint (deliver->deliver->seq, ==, i + 1);
        g_assert_cmpstr (deliver->deliver->message->content, ==, content);
      }
    /* "read me" and "to the group" */
    timeline = natter_test_client_fetch_timeline (alice, 3, "g1", 0);
    g_assert_cmpuint (timeline->len, ==, 2);

    bob = natter_test_client_new_user (pg_node, "bob", "b2");
    ack = natter_test_client_send_message (bob, 1, "alice", "RC:TxtMsg", "{\"content\":\"new\"}");
    g_assert_cmpint (ack->publish_ack->code, ==, 0);
    {
      g_autoptr(NatterFrame) deliver = natter_test_client_expect (alice, NATTER__FRAME__BODY_DELIVER,
                                                                  NATTER_TEST_TIMEOUT_MS);

      g_assert_nonnull (deliver);
      g_assert_cmpuint (deliver->deliver->seq, ==, 6);
    }
  }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/cluster/pg/migrate-from-sqlite", test_migrate);

  return g_test_run ();
}
