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

/* Every table of @db with its columns in order (NULL-terminated names). */
static GPtrArray *
sqlite_columns (sqlite3    *db,
                const char *table)
{
  g_autofree char *sql = g_strdup_printf ("SELECT name, type FROM pragma_table_info ('%s') ORDER BY cid", table);
  GPtrArray *columns = g_ptr_array_new_with_free_func (g_free);
  sqlite3_stmt *stmt = NULL;

  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    g_ptr_array_add (columns, g_strdup ((const char *) sqlite3_column_text (stmt, 0)));
  sqlite3_finalize (stmt);
  g_assert_cmpuint (columns->len, >, 0);
  return columns;
}

static GPtrArray *
sqlite_tables (sqlite3 *db)
{
  GPtrArray *tables = g_ptr_array_new_with_free_func (g_free);
  sqlite3_stmt *stmt = NULL;

  g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT name FROM sqlite_master WHERE type = 'table'"
                                       " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name", -1, &stmt, NULL),
                   ==, SQLITE_OK);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    g_ptr_array_add (tables, g_strdup ((const char *) sqlite3_column_text (stmt, 0)));
  sqlite3_finalize (stmt);
  return tables;
}

/* One more row in every table, each column a value of its own (a number,
 * a text or bytes by the column's type), so that a column the migration
 * leaves out, or a table, shows in the comparison below. A row a
 * constraint refuses (timeline_clock has one row) is left out. */
static void
fill_every_column (sqlite3 *db)
{
  g_autoptr(GPtrArray) tables = sqlite_tables (db);
  guint value = 0;

  for (guint t = 0; t < tables->len; t++)
    {
      const char *table = g_ptr_array_index (tables, t);
      g_autofree char *pragma = g_strdup_printf ("SELECT name, upper (type) FROM pragma_table_info ('%s')", table);
      g_autoptr(GString) names = g_string_new (NULL);
      g_autoptr(GString) values = g_string_new (NULL);
      g_autofree char *insert = NULL;
      sqlite3_stmt *stmt = NULL;
      char *message = NULL;

      g_assert_cmpint (sqlite3_prepare_v2 (db, pragma, -1, &stmt, NULL), ==, SQLITE_OK);
      while (sqlite3_step (stmt) == SQLITE_ROW)
        {
          const char *type = (const char *) sqlite3_column_text (stmt, 1);

          value++;
          g_string_append_printf (names, "%s%s", names->len > 0 ? ", " : "", sqlite3_column_text (stmt, 0));
          if (names->len > 0 && values->len > 0)
            g_string_append (values, ", ");
          if (strstr (type, "TEXT") != NULL || strstr (type, "CHAR") != NULL)
            g_string_append_printf (values, "'v%u \\ tab\there'", value);
          else if (strstr (type, "BLOB") != NULL)
            g_string_append_printf (values, "x'00ff%04x'", value);
          else
            g_string_append_printf (values, "%u", 7000000 + value);
        }
      sqlite3_finalize (stmt);
      insert = g_strdup_printf ("INSERT OR IGNORE INTO %s (%s) VALUES (%s)", table, names->str, values->str);
      if (sqlite3_exec (db, insert, NULL, NULL, &message) != SQLITE_OK)
        g_error ("%s: %s", insert, message);
    }
}

/* @table's rows as text, sorted, one line each, columns by "|": NULL as
 * \N, bytes in hex. */
static char *
sqlite_rows (sqlite3   *db,
             const char *table,
             GPtrArray  *columns)
{
  g_autoptr(GString) row = g_string_new (NULL);
  g_autoptr(GString) out = g_string_new (NULL);
  g_autofree char *sql = NULL;
  sqlite3_stmt *stmt = NULL;

  for (guint i = 0; i < columns->len; i++)
    g_string_append_printf (row, "%sCASE typeof (%s) WHEN 'null' THEN '\\N' WHEN 'blob' THEN lower (hex (%s))"
                            " ELSE CAST (%s AS TEXT) END", i > 0 ? " || '|' || " : "",
                            (char *) g_ptr_array_index (columns, i), (char *) g_ptr_array_index (columns, i),
                            (char *) g_ptr_array_index (columns, i));
  sql = g_strdup_printf ("SELECT r FROM (SELECT %s AS r FROM %s) ORDER BY r", row->str, table);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    g_string_append_printf (out, "%s\n", sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static char *
pg_rows (NatterTestPg *pg,
         const char   *table,
         GPtrArray    *columns)
{
  g_autoptr(GString) row = g_string_new (NULL);
  g_autofree char *sql = NULL;
  g_autofree char *out = NULL;

  for (guint i = 0; i < columns->len; i++)
    {
      const char *column = g_ptr_array_index (columns, i);
      g_autofree char *type_sql = g_strdup_printf ("SELECT data_type FROM information_schema.columns"
                                                   " WHERE table_schema = current_schema ()"
                                                   " AND table_name = '%s' AND column_name = '%s'", table, column);
      g_autofree char *type = natter_test_pg_query (pg, "natter", type_sql);
      g_autofree char *text = NULL;

      /* A column PostgreSQL lacks fails here, by name. */
      if (*type == '\0')
        g_error ("%s.%s is not in PostgreSQL", table, column);
      text = g_str_equal (type, "bytea") ? g_strdup_printf ("encode (%s, 'hex')", column) :
                                           g_strdup_printf ("%s::text", column);
      g_string_append_printf (row, "%scoalesce (%s, '\\N')", i > 0 ? " || '|' || " : "", text);
    }
  sql = g_strdup_printf ("SELECT coalesce (string_agg (r, E'\\n' ORDER BY r COLLATE \"C\") || E'\\n', '')"
                         " FROM (SELECT %s AS r FROM %s) t", row->str, table);
  out = natter_test_pg_query (pg, "natter", sql);
  /* psql cut the last newline. */
  return *out != '\0' ? g_strconcat (out, "\n", NULL) : g_strdup ("");
}

/* Every table and every column of an SQLite deployment reach PostgreSQL
 * as they were (conversations.cleared_time was once left behind): each
 * table gets a row with a value of its own in each column, and after the
 * migration both sides are compared row by row, column by column. A
 * column or table added to the schemas later is checked the same way. */
static void
test_migrate_every_column (void)
{
  g_autoptr(NatterTestPg) pg = natter_test_pg_start ();
  g_autofree char *conninfo = natter_test_pg_create_database (pg, "natter");
  g_autoptr(NatterTestServer) sqlite_node = natter_test_server_new_full (NULL, NULL);
  g_autofree char *path = NULL;
  g_autofree char *report = NULL;
  g_autoptr(GPtrArray) tables = NULL;
  g_autofree char *pg_tables = NULL;
  sqlite3 *db = NULL;

  g_free (natter_test_server_get_token (sqlite_node, "alice"));
  natter_test_server_stop (sqlite_node);
  path = g_build_filename (natter_test_server_get_data_dir (sqlite_node), "natterd.db", NULL);
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  fill_every_column (db);
  sqlite3_close (db);

  report = migrate (natter_test_server_get_data_dir (sqlite_node), conninfo, TRUE);
  g_test_message ("%s", report);

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  tables = sqlite_tables (db);
  for (guint t = 0; t < tables->len; t++)
    {
      const char *table = g_ptr_array_index (tables, t);
      g_autoptr(GPtrArray) columns = sqlite_columns (db, table);
      g_autofree char *in_sqlite = NULL;
      g_autofree char *in_pg = NULL;
      guint derived;

      /* The salt of SQLite's dedup_key (schema 13): SQLite's own. */
      if (g_str_equal (table, "store_keys"))
        continue;
      /* SQLite's own index keys, derived from app_id and channel (schema
       * 11) and from sender, device and client_msg_id (schema 12): the
       * migration leaves them out, PostgreSQL indexes those columns. */
      if (g_str_equal (table, "messages"))
        for (guint k = 0; k < 2; k++)
          {
            g_assert_true (g_ptr_array_find_with_equal_func (columns, k == 0 ? "channel_hash" : "dedup_key",
                                                             g_str_equal, &derived));
            g_ptr_array_remove_index (columns, derived);
          }
      in_sqlite = sqlite_rows (db, table, columns);
      in_pg = pg_rows (pg, table, columns);

      g_test_message ("%s: %u columns", table, columns->len);
      g_assert_cmpstr (in_sqlite, !=, "");
      g_assert_cmpstr (in_pg, ==, in_sqlite);
    }
  sqlite3_close (db);
  /* The one cleared before, there by name. */
  g_assert_true (g_ptr_array_find_with_equal_func (tables, "conversations", g_str_equal, NULL));
  /* PostgreSQL has no table of data the comparison did not see. */
  pg_tables = natter_test_pg_query (pg, "natter", "SELECT string_agg (table_name, ',' ORDER BY table_name)"
                                    " FROM information_schema.tables WHERE table_schema = current_schema ()"
                                    " AND table_type = 'BASE TABLE'");
  {
    g_auto(GStrv) names = g_strsplit (pg_tables, ",", -1);

    for (guint i = 0; names[i] != NULL; i++)
      if (!g_str_equal (names[i], "natterd_schema") && !g_str_equal (names[i], "node_slots") &&
          !g_str_equal (names[i], "webhook_leases") && !g_str_equal (names[i], "login_addresses") &&
          !g_str_equal (names[i], "changes") && !g_str_equal (names[i], "account_changes"))
        g_assert_true (g_ptr_array_find_with_equal_func (tables, names[i], g_str_equal, NULL));
  }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/cluster/pg/migrate-from-sqlite", test_migrate);
  g_test_add_func ("/cluster/pg/migrate-every-column", test_migrate_every_column);

  return g_test_run ();
}
