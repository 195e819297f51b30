/* test-backup.c — `natterd --backup FILE` while natterd takes a steady
 * stream of messages: the copy passes integrity_check, and natterd started
 * on it (restored as docs/operations.md says: stop, put the file in place
 * as natterd.db, start) has every message acknowledged before the backup
 * began, and none acknowledged after it ended.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-test-client.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

#define PRELOAD 1500            /* messages before the backup: ~10 MB of database */
#define PADDING 3000

static char *
content (const char *id)
{
  g_autofree char *pad = g_strnfill (PADDING, 'x');

  return g_strdup_printf ("{\"content\":\"%s %s\"}", id, pad);
}

/* Publishes @n messages to bob, 64 in flight, and adds their uids to @acked. */
static void
publish (NatterTestClient *alice,
         const char       *prefix,
         guint             n,
         GPtrArray        *acked)
{
  for (guint start = 0; start < n; start += 64)
    {
      guint end = MIN (start + 64, n);

      for (guint i = start; i < end; i++)
        {
          g_autofree char *id = g_strdup_printf ("%s-%u", prefix, i);
          g_autofree char *text = content (id);

          natter_test_client_publish_full (alice, id, 1, "bob", "RC:TxtMsg", text, 0);
        }
      for (guint i = start; i < end; i++)
        {
          g_autofree char *id = g_strdup_printf ("%s-%u", prefix, i);
          g_autoptr(NatterFrame) ack = natter_test_client_wait_ack (alice, id);

          g_assert_cmpint (ack->publish_ack->code, ==, 0);
          g_ptr_array_add (acked, g_strdup (ack->publish_ack->message_uid));
        }
    }
}

static void
assert_integrity (const char *path)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "PRAGMA integrity_check", -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  g_assert_cmpstr ((const char *) sqlite3_column_text (stmt, 0), ==, "ok");
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_DONE);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
}

typedef struct
{
  gboolean  done;
  char     *out;
  gboolean  successful;
} Backup;

static void
backup_done (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  Backup *backup = user_data;
  g_autoptr(GError) error = NULL;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (object), result, &backup->out, NULL, &error);
  g_assert_no_error (error);
  backup->successful = g_subprocess_get_successful (G_SUBPROCESS (object));
  backup->done = TRUE;
}

static void
on_bob_frame (NatterTestClient  *client,
              const NatterFrame *frame,
              gpointer           user_data)
{
  if (frame->body_case == NATTER__FRAME__BODY_DELIVER)
    g_hash_table_add (user_data, g_strdup (frame->deliver->message->message_uid));
}

typedef struct
{
  GHashTable *received;
  guint       at_least;
} Replay;

static gboolean
replayed (gpointer data)
{
  Replay *replay = data;

  return g_hash_table_size (replay->received) >= replay->at_least;
}

static void
test_backup_under_load (void)
{
  /* As fast as the disk goes: no per-user rate limit. */
  g_autoptr(NatterTestServer) server = natter_test_server_new_full ("[limits]\nsend-rate=0\n", NULL);
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(GPtrArray) before = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) during = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) after = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) received = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterTestClient) bob = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *dir = g_dir_make_tmp ("natterd-backup-XXXXXX", NULL);
  g_autofree char *backup_path = g_build_filename (dir, "natterd-backup.db", NULL);
  g_autofree char *db_path = NULL;
  const char *data_dir = natter_test_server_get_data_dir (server);
  Backup backup = { 0 };
  Replay replay = { received, 0 };
  JsonObject *summary;
  guint n = 0;

  publish (alice, "before", PRELOAD, before);

  /* The backup runs while alice keeps sending, one message at a time. */
  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, natter_test_program ("NATTERD"),
                              "--data-dir", data_dir, "--backup", backup_path, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (process, NULL, NULL, backup_done, &backup);
  while (!backup.done)
    {
      g_autofree char *id = g_strdup_printf ("during-%u", n++);
      g_autofree char *text = content (id);
      g_autoptr(NatterFrame) ack = NULL;

      natter_test_client_publish_full (alice, id, 1, "bob", "RC:TxtMsg", text, 0);
      ack = natter_test_client_wait_ack (alice, id);
      g_assert_cmpint (ack->publish_ack->code, ==, 0);
      g_ptr_array_add (during, g_strdup (ack->publish_ack->message_uid));
    }
  g_test_message ("backup: %s, %u messages acked while it ran", backup.out, during->len);
  g_assert_true (backup.successful);
  json_parser_load_from_data (parser, backup.out, -1, &error);
  g_assert_no_error (error);
  summary = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (summary, "backup"), ==, backup_path);
  g_assert_cmpint (json_object_get_int_member (summary, "steps"), >, 1);
  publish (alice, "after", 20, after);

  /* One self-contained file that SQLite finds intact. */
  {
    g_autofree char *wal = g_strconcat (backup_path, "-wal", NULL);
    g_autofree char *journal = g_strconcat (backup_path, "-journal", NULL);

    g_assert_false (g_file_test (wal, G_FILE_TEST_EXISTS));
    g_assert_false (g_file_test (journal, G_FILE_TEST_EXISTS));
  }
  assert_integrity (backup_path);

  /* Restore: stop, the backup in place as natterd.db, start. */
  g_clear_pointer (&alice, natter_test_client_free);
  natter_test_server_stop (server);
  db_path = g_build_filename (data_dir, "natterd.db", NULL);
  {
    g_autofree char *wal = g_strconcat (db_path, "-wal", NULL);
    g_autofree char *shm = g_strconcat (db_path, "-shm", NULL);
    g_autoptr(GFile) from = g_file_new_for_path (backup_path);
    g_autoptr(GFile) to = g_file_new_for_path (db_path);

    g_assert_cmpint (g_unlink (db_path), ==, 0);
    g_unlink (wal);
    g_unlink (shm);
    g_file_copy (from, to, G_FILE_COPY_NONE, NULL, NULL, NULL, &error);
    g_assert_no_error (error);
  }
  natter_test_server_restart (server);

  /* bob was never online: his offline replay is everything stored for him. */
  bob = natter_test_client_open (server, &error);
  g_assert_no_error (error);
  natter_test_client_set_frame_func (bob, on_bob_frame, received);
  {
    g_autofree char *token = natter_test_server_get_token (server, "bob");

    g_assert_cmpint (natter_test_client_connect (bob, natter_test_server_get_app_key (server), token, "b1", 0), ==, 0);
  }
  replay.at_least = before->len + during->len + after->len;
  natter_test_wait (replayed, &replay, 5000);
  replay.at_least = before->len;
  natter_test_wait (replayed, &replay, 60000);
  g_test_message ("restored: %u messages replayed to bob (%u acked before the backup)",
                  g_hash_table_size (received), before->len);

  for (guint i = 0; i < before->len; i++)
    if (!g_hash_table_contains (received, g_ptr_array_index (before, i)))
      g_error ("message %s, acked before the backup, is not in it", (char *) g_ptr_array_index (before, i));
  for (guint i = 0; i < after->len; i++)
    if (g_hash_table_contains (received, g_ptr_array_index (after, i)))
      g_error ("message %s, acked after the backup, is in it: not the backup", (char *) g_ptr_array_index (after, i));
  g_assert_cmpuint (g_hash_table_size (received), <=, before->len + during->len);

  g_clear_pointer (&bob, natter_test_client_free);
  natter_test_server_stop (server);
  assert_integrity (db_path);

  g_unlink (backup_path);
  g_rmdir (dir);
}

/* No database, no backup (and no empty file where one was asked for). */
static void
test_backup_refused (void)
{
  g_autofree char *dir = g_dir_make_tmp ("natterd-backup-XXXXXX", NULL);
  g_autofree char *out = g_build_filename (dir, "copy.db", NULL);
  g_autofree char *err = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;

  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDERR_PIPE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error,
                              natter_test_program ("NATTERD"), "--data-dir", dir, "--backup", out, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, NULL, &err, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 1);
  g_assert_nonnull (strstr (err, "no natterd database"));
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
  g_rmdir (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/server/backup/under-load", test_backup_under_load);
  g_test_add_func ("/server/backup/refused", test_backup_refused);

  return g_test_run ();
}
