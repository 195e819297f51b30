/* test-pg-schema.c — natterd's PostgreSQL schema and the administration
 * commands against it
 *
 * The schema is created by natterd (versioned in natterd_schema), two
 * natterd starting at once on an empty database migrate it once, and a
 * database from a newer natterd is refused untouched. natterd --config
 * --create-app / --set-app / --list-apps / --rotate-secret /
 * --rotate-token-key work against it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdlib.h>
#include <string.h>

#include "natter-test-pg.h"
#include "natter-test-server.h"
#include "natterd-store-pg.h"

static void
test_versions (void)
{
  g_autoptr(NatterTestPg) pg = natter_test_pg_start ();
  g_autofree char *conninfo = natter_test_pg_create_database (pg, "natter");
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;

  /* Version 0: the version table only. */
  {
    g_autoptr(NatterdStore) empty = natterd_store_pg_open_at_version (conninfo, 0, &error);

    g_assert_no_error (error);
    g_assert_nonnull (empty);
  }
  out = natter_test_pg_query (pg, "natter", "SELECT version FROM natterd_schema");
  g_assert_cmpstr (out, ==, "0");
  g_clear_pointer (&out, g_free);
  out = natter_test_pg_query (pg, "natter", "SELECT count (*) FROM pg_tables WHERE schemaname = 'public'");
  g_assert_cmpstr (out, ==, "1");
  g_clear_pointer (&out, g_free);

  /* Opened by this natterd: migrated to its version, every table there. */
  {
    g_autoptr(NatterdStore) store = natterd_store_pg_open (conninfo, &error);

    g_assert_no_error (error);
    g_assert_nonnull (store);
  }
  out = natter_test_pg_query (pg, "natter", "SELECT version FROM natterd_schema");
  g_assert_cmpint (atoi (out), ==, NATTERD_STORE_PG_SCHEMA_VERSION);
  g_clear_pointer (&out, g_free);
  out = natter_test_pg_query (pg, "natter",
                              "SELECT string_agg (tablename, ',' ORDER BY tablename) FROM pg_tables"
                              " WHERE schemaname = 'public'");
  g_assert_cmpstr (out, ==, "account_changes,account_logins,account_rows,api_nonces,apps,blacklist,changes,chatrooms,conversations,devices,"
                            "group_members,groups,hours,inbox,login_addresses,media,message_readers,messages,natterd_schema,node_slots,"
                            "timeline_clock,"
                            "timeline_members,timeline_mentions,timelines,users,webhook_events,webhook_leases");
  g_clear_pointer (&out, g_free);
  /* A user's groups by index (schema 4). */
  out = natter_test_pg_query (pg, "natter", "SELECT indexdef FROM pg_indexes WHERE indexname = 'group_members_user'");
  g_assert_nonnull (strstr (out, "group_members USING btree (user_id, group_id)"));
  g_clear_pointer (&out, g_free);
  /* Inbox rows by message id for the prune, a BRIN index (schema 10). */
  out = natter_test_pg_query (pg, "natter", "SELECT indexdef FROM pg_indexes WHERE indexname = 'inbox_message'");
  g_assert_nonnull (strstr (out, "inbox USING brin (message_id)"));
  g_clear_pointer (&out, g_free);

  /* Opened again: nothing to do, nothing lost. */
  g_free (natter_test_pg_query (pg, "natter", "INSERT INTO users (id, app_id, user_id, created) VALUES (7, 1, 'kept', 0)"));
  {
    g_autoptr(NatterdStore) again = natterd_store_pg_open (conninfo, &error);

    g_assert_no_error (error);
  }
  out = natter_test_pg_query (pg, "natter", "SELECT user_id FROM users WHERE id = 7");
  g_assert_cmpstr (out, ==, "kept");
  g_clear_pointer (&out, g_free);

  /* Written by a newer natterd: refused, left as it is. */
  g_free (natter_test_pg_query (pg, "natter", "UPDATE natterd_schema SET version = 99"));
  {
    g_autoptr(NatterdStore) newer = natterd_store_pg_open (conninfo, &error);

    g_assert_null (newer);
    g_assert_error (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_NEWER_SCHEMA);
    g_clear_error (&error);
  }
  out = natter_test_pg_query (pg, "natter", "SELECT version FROM natterd_schema");
  g_assert_cmpstr (out, ==, "99");
  g_clear_pointer (&out, g_free);
}

typedef struct
{
  const char *conninfo;
  GError     *error;
} Opener;

static gpointer
open_store (gpointer data)
{
  Opener *opener = data;
  NatterdStore *store = natterd_store_pg_open (opener->conninfo, &opener->error);

  g_clear_object (&store);
  return NULL;
}

/* Two nodes starting at once on an empty database: one migrates, the
 * other waits for it and finds the schema done. */
static void
test_concurrent_migration (void)
{
  g_autoptr(NatterTestPg) pg = natter_test_pg_start ();
  g_autofree char *conninfo = natter_test_pg_create_database (pg, "natter");
  g_autofree char *out = NULL;
  Opener openers[4];
  GThread *threads[4];

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      openers[i] = (Opener) { conninfo, NULL };
      threads[i] = g_thread_new ("open", open_store, &openers[i]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      g_thread_join (threads[i]);
      g_assert_no_error (openers[i].error);
    }
  out = natter_test_pg_query (pg, "natter", "SELECT count (*), max (version) FROM natterd_schema");
  g_assert_cmpstr (out, ==, "1|" G_STRINGIFY (NATTERD_STORE_PG_SCHEMA_VERSION));
}

/* Schema 4: hours rows written before an hour's row kept the lowest id
 * (the first node's id won, though another node committed a lower one
 * later in that hour) are lowered to the lowest id stored in the hour;
 * a right row, an hour without messages and a missing row are handled. */
static void
test_hours_lowest (void)
{
  g_autoptr(NatterTestPg) pg = natter_test_pg_start ();
  g_autofree char *conninfo = natter_test_pg_create_database (pg, "natter");
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  const gint64 hour = 490000;

  {
    g_autoptr(NatterdStore) old = natterd_store_pg_open_at_version (conninfo, 3, &error);

    g_assert_no_error (error);
  }
  {
    g_autofree char *sql = g_strdup_printf (
      "INSERT INTO messages (id, app_id, conversation_type, sender_id, target_id, channel, object_name, content,"
      " flags, sent_time)"
      " SELECT id, 1, 1, 1, 'bob', 'c', 'RC:TxtMsg', '{}', 3, t FROM (VALUES"
      /* hour: node a stored 100 first, node b's 40 and 41 committed after */
      "  (100, %1$" G_GINT64_FORMAT "::bigint * 3600000 + 10), (40, %1$" G_GINT64_FORMAT "::bigint * 3600000 + 20),"
      "  (41, %1$" G_GINT64_FORMAT "::bigint * 3600000 + 30),"
      /* hour + 1: its row is right */
      "  (200, (%1$" G_GINT64_FORMAT "::bigint + 1) * 3600000), (210, (%1$" G_GINT64_FORMAT "::bigint + 1) * 3600000 + 5),"
      /* hour + 3: no row */
      "  (300, (%1$" G_GINT64_FORMAT "::bigint + 3) * 3600000 + 7)) v (id, t);"
      "INSERT INTO hours (hour, first_message_id) VALUES (%1$" G_GINT64_FORMAT ", 100),"
      " (%1$" G_GINT64_FORMAT " + 1, 200), (%1$" G_GINT64_FORMAT " + 2, 250)", hour);

    g_free (natter_test_pg_query (pg, "natter", sql));
  }
  {
    g_autoptr(NatterdStore) store = natterd_store_pg_open (conninfo, &error);

    g_assert_no_error (error);
  }
  out = natter_test_pg_query (pg, "natter",
                              "SELECT string_agg (hour - 490000 || ':' || first_message_id, ',' ORDER BY hour) FROM hours");
  /* The messages of hour + 2 are gone (pruned): its row stays. */
  g_assert_cmpstr (out, ==, "0:40,1:200,2:250,3:300");
}

/* natterd ARGS --config FILE: its stdout; asserts the exit status. */
static char *
natterd (const char         *config_path,
         const char         *data_dir,
         gboolean            success,
         const char * const *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;

  g_ptr_array_add (argv, (char *) natter_test_program ("NATTERD"));
  g_ptr_array_add (argv, (char *) "--config");
  g_ptr_array_add (argv, (char *) config_path);
  g_ptr_array_add (argv, (char *) "--data-dir");
  g_ptr_array_add (argv, (char *) data_dir);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  process = g_subprocess_newv ((const char * const *) argv->pdata,
                               G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_subprocess_get_successful (process), ==, success);
  return g_steal_pointer (&out);
}

static JsonObject *
parse_object (const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static void
test_admin_commands (void)
{
  g_autoptr(NatterTestPg) pg = natter_test_pg_start ();
  g_autofree char *conninfo = natter_test_pg_create_database (pg, "natter");
  g_autofree char *dir = g_dir_make_tmp ("natterd-pg-admin-XXXXXX", NULL);
  g_autofree char *config_path = g_build_filename (dir, "natterd.conf", NULL);
  g_autofree char *config = g_strdup_printf ("[store]\nbackend=postgresql\npostgresql=%s\n", conninfo);
  g_autofree char *created = NULL;
  g_autofree char *listed = NULL;
  g_autofree char *set = NULL;
  g_autofree char *rotated = NULL;
  g_autofree char *key_before = NULL;
  g_autofree char *key_after = NULL;
  g_autofree char *row = NULL;
  g_autoptr(JsonObject) app = NULL;
  g_autoptr(JsonObject) rotation = NULL;
  const char *app_key;

  g_assert_true (g_file_set_contents (config_path, config, -1, NULL));

  created = natterd (config_path, dir, TRUE, (const char *[]) { "--create-app", "shop", NULL });
  app = parse_object (created);
  app_key = json_object_get_string_member (app, "appKey");
  g_assert_nonnull (app_key);
  row = natter_test_pg_query (pg, "natter", "SELECT name, app_key, app_secret FROM apps");
  {
    g_autofree char *expected = g_strdup_printf ("shop|%s|%s", app_key,
                                                 json_object_get_string_member (app, "appSecret"));
    g_assert_cmpstr (row, ==, expected);
  }

  listed = natterd (config_path, dir, TRUE, (const char *[]) { "--list-apps", NULL });
  g_assert_nonnull (strstr (listed, app_key));

  set = natterd (config_path, dir, TRUE, (const char *[]) { "--set-app", app_key, "--app-setting", "multi-device=true", NULL });
  g_clear_pointer (&row, g_free);
  row = natter_test_pg_query (pg, "natter", "SELECT settings FROM apps");
  g_assert_nonnull (strstr (row, "multi-device"));
  g_free (natterd (config_path, dir, FALSE, (const char *[]) { "--set-app", "nosuchapp", "--app-setting", "multi-device=true", NULL }));

  rotated = natterd (config_path, dir, TRUE, (const char *[]) { "--rotate-secret", app_key, NULL });
  rotation = parse_object (rotated);
  g_clear_pointer (&row, g_free);
  row = natter_test_pg_query (pg, "natter", "SELECT old_secret, app_secret FROM apps");
  {
    g_autofree char *expected = g_strdup_printf ("%s|%s", json_object_get_string_member (app, "appSecret"),
                                                 json_object_get_string_member (rotation, "appSecret"));
    g_assert_cmpstr (row, ==, expected);
  }

  key_before = natter_test_pg_query (pg, "natter", "SELECT encode (token_key, 'hex') FROM apps");
  g_assert_cmpuint (strlen (key_before), >=, 32);
  g_free (natterd (config_path, dir, TRUE, (const char *[]) { "--rotate-token-key", app_key, NULL }));
  key_after = natter_test_pg_query (pg, "natter", "SELECT encode (token_key, 'hex') FROM apps");
  g_assert_cmpuint (strlen (key_after), ==, strlen (key_before));
  g_assert_cmpstr (key_after, !=, key_before);

  g_remove (config_path);
  g_rmdir (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/cluster/pg/schema/versions", test_versions);
  g_test_add_func ("/cluster/pg/schema/concurrent-migration", test_concurrent_migration);
  g_test_add_func ("/cluster/pg/admin-commands", test_admin_commands);
  g_test_add_func ("/cluster/pg/schema/hours-lowest", test_hours_lowest);

  return g_test_run ();
}
