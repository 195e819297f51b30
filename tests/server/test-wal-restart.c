/* test-wal-restart.c — natterd's SQLite store starting its WAL over under
 * traffic (#17's p99.9): the writer's own copy, which every message queued
 * meanwhile waits for, takes only what the checkpointer's passes left:
 * never more than 512 frames while the WAL is under twice its size. And
 * the WAL file keeps its size when it starts over (#17's p99): cut back,
 * its next round's last frames grew it again, and a sync of a write that
 * grows a file commits the filesystem's journal too.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "natterd-store-sqlite.h"
#include "natter-test-db-dir.h"
#include "natter-test-store-op.h"

/* natterd_store_sqlite_set_wal_size()'s: 256 pages of 4 KiB. */
#define WAL_BYTES (1024 * 1024)
#define RESTARTS 6
#define ROUNDS 2000

static void
published (NatterdOp *op,
           gpointer   user_data)
{
  g_assert_no_error (op->error);
  *(gboolean *) user_data = TRUE;
}

/* A few pages a message: the WAL fills in a few hundred. */
static NatterdPublishOp *
message_op (guint     n,
            gboolean *done)
{
  g_autofree char *content = g_strdup_printf ("{\"content\":\"%u %0*d\"}", n, 6000, 0);

  return natter_test_store_publish_op (n, "r", content, published, done);
}

/* Messages @n to @n + 3, submitted at once; returns once all are stored. */
static void
store_four (NatterdStore *store,
            guint         n)
{
  gboolean done[4] = { FALSE, };

  for (guint i = 0; i < G_N_ELEMENTS (done); i++)
    natterd_store_submit (store, message_op (n + i, &done[i]));
  for (guint i = 0; i < G_N_ELEMENTS (done); i++)
    while (!done[i])
      g_main_context_iteration (NULL, TRUE);
}

/* Traffic that never stops (four messages at a time, the next four as
 * soon as they are stored), over several starts over of a 1 MiB WAL: the
 * writer's copies stay within their bound. */
static void
test_writer_copies_bounded (void)
{
  g_autofree char *dir = natter_test_db_dir_new ("natterd-wal-restart");
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterdStore) store = natterd_store_sqlite_open (dir, &error);
  guint64 count0, count, frames0, frames;
  double seconds;

  g_assert_no_error (error);
  natterd_store_sqlite_set_wal_size (NATTERD_STORE_SQLITE (store), WAL_BYTES);
  natterd_store_start (store, 16);
  natterd_sqlite_wal_stalls (NATTERD_WAL_STALL_CHECKPOINT, &count0, &seconds, &frames0);
  for (guint n = 0; n < 4 * ROUNDS; n += 4)
    {
      natterd_sqlite_wal_stalls (NATTERD_WAL_STALL_CHECKPOINT, &count, &seconds, &frames);
      if (count - count0 >= RESTARTS)
        break;
      store_four (store, n);
    }
  g_test_message ("%" G_GUINT64_FORMAT " copies by the writer, %" G_GUINT64_FORMAT " frames",
                  count - count0, frames - frames0);
  /* The WAL did start over, under the writer's copy. Before, the copy
   * took every frame of the WAL's 256 the checkpointer had not copied
   * (258-260 on average); now at most 64 (~25 on average), but up to 512
   * once in a while should a loaded box make a pass late. */
  g_assert_cmpuint (count - count0, >=, 1);
  g_assert_cmpuint ((frames - frames0) / (count - count0), <=, 512);
  natterd_store_stop (store);
  g_clear_object (&store);
  natter_test_db_dir_remove (dir);
}

/* Traffic as above over several starts over: after the first, SQLite
 * never truncates the WAL, and the file grows no more than by a stray
 * batch or two. */
static void
test_wal_keeps_its_size (void)
{
  g_autofree char *dir = natter_test_db_dir_new ("natterd-wal-size");
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterdStore) store = natterd_store_sqlite_open (dir, &error);
  guint64 count0, count, frames, extended0 = 0, extended, truncates0 = 0, truncates;
  double seconds;
  gboolean started_over = FALSE;

  g_assert_no_error (error);
  natterd_store_sqlite_set_wal_size (NATTERD_STORE_SQLITE (store), WAL_BYTES);
  natterd_store_start (store, 16);
  natterd_sqlite_wal_stalls (NATTERD_WAL_STALL_CHECKPOINT, &count0, &seconds, &frames);
  count = count0;
  for (guint n = 0; n < 4 * ROUNDS && count - count0 < RESTARTS; n += 4)
    {
      store_four (store, n);
      natterd_sqlite_wal_stalls (NATTERD_WAL_STALL_CHECKPOINT, &count, &seconds, &frames);
      /* From the second round on: the first one grew the file. */
      if (!started_over && count - count0 >= 2)
        {
          started_over = TRUE;
          natterd_sqlite_wal_resizes (&extended0, &truncates0);
        }
    }
  natterd_sqlite_wal_resizes (&extended, &truncates);
  g_test_message ("%" G_GUINT64_FORMAT " starts over; after the second, %" G_GUINT64_FORMAT
                  " truncates, %" G_GUINT64_FORMAT " bytes grown",
                  count - count0, truncates - truncates0, extended - extended0);
  g_assert_cmpuint (count - count0, >=, RESTARTS);
  /* Before, journal_size_limit was wal-size itself, which a round of
   * wal-size worth of frames (4,120 bytes each) always passed: cut back
   * at every start over, grown again by ~2 % of its frames each round. */
  g_assert_cmpuint (truncates - truncates0, ==, 0);
  g_assert_cmpuint (extended - extended0, <, WAL_BYTES / 4);
  natterd_store_stop (store);
  g_clear_object (&store);
  natter_test_db_dir_remove (dir);
}

/* A growing WAL grows a MiB at a time (zeros past its frames), so only
 * one commit's sync in a MiB commits the filesystem's journal; and what
 * was stored reads back after a reopen, the zeros past the frames
 * notwithstanding. */
static void
test_wal_grows_ahead (void)
{
  g_autofree char *dir = natter_test_db_dir_new ("natterd-wal-grow");
  g_autofree char *wal = g_build_filename (dir, "natterd.db-wal", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterdStore) store = natterd_store_sqlite_open (dir, &error);
  guint64 extended0, extended, truncates;
  GStatBuf st;

  g_assert_no_error (error);
  natterd_store_start (store, 16);
  natterd_sqlite_wal_resizes (&extended0, &truncates);
  for (guint n = 0; n < 4 * 8; n += 4)
    {
      store_four (store, n);
      g_assert_cmpint (g_stat (wal, &st), ==, 0);
      g_assert_cmpint (st.st_size, >=, 1024 * 1024);
      g_assert_cmpint (st.st_size % (1024 * 1024), ==, 0);
    }
  natterd_sqlite_wal_resizes (&extended, &truncates);
  g_test_message ("WAL %" G_GOFFSET_FORMAT " bytes, grown by %" G_GUINT64_FORMAT, (goffset) st.st_size,
                  extended - extended0);
  /* 32 messages of ~6 KB: a few hundred KiB of frames, in one step. */
  g_assert_cmpuint (extended - extended0, <=, (guint64) st.st_size);

  /* What a crash leaves (the database and its WAL as they are now, every
   * message acked), opened afresh: SQLite's recovery finds all 32. */
  {
    g_autofree char *copy = natter_test_db_dir_new ("natterd-wal-grow-copy");
    g_autofree char *path = g_build_filename (copy, "natterd.db", NULL);
    g_autofree char *copy_wal = g_build_filename (copy, "natterd.db-wal", NULL);
    g_autofree char *db_path = g_build_filename (dir, "natterd.db", NULL);
    g_autofree char *bytes = NULL;
    gsize length;
    sqlite3 *db;
    sqlite3_stmt *stmt;

    g_assert_true (g_file_get_contents (db_path, &bytes, &length, NULL));
    g_assert_true (g_file_set_contents (path, bytes, (gssize) length, NULL));
    g_clear_pointer (&bytes, g_free);
    g_assert_true (g_file_get_contents (wal, &bytes, &length, NULL));
    g_assert_true (g_file_set_contents (copy_wal, bytes, (gssize) length, NULL));
    g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
    g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT count(*) FROM messages", -1, &stmt, NULL), ==, SQLITE_OK);
    g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
    g_assert_cmpint (sqlite3_column_int (stmt, 0), ==, 32);
    sqlite3_finalize (stmt);
    sqlite3_close (db);
    natter_test_db_dir_remove (copy);
  }
  natterd_store_stop (store);
  g_clear_object (&store);
  natter_test_db_dir_remove (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/server/store/wal-restart/writer-copies-bounded", test_writer_copies_bounded);
  g_test_add_func ("/server/store/wal-restart/wal-keeps-its-size", test_wal_keeps_its_size);
  g_test_add_func ("/server/store/wal-restart/wal-grows-ahead", test_wal_grows_ahead);
  return g_test_run ();
}
