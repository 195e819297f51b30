/* natterd-store-sqlite.c
 *
 * Two connections: the writer's (migrations and start-up load happen on it
 * before the writer thread takes it over) and the reader's. WAL lets the
 * reader see committed data while the writer works. A third, the
 * checkpointer's, copies the WAL back (see "checkpoints" below). What each
 * thread does with its connection is in the files
 * natterd-store-sqlite-private.h lists.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-sched.h"
#include "natterd-store-sqlite-private.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <sodium.h>
#include <string.h>

G_DEFINE_FINAL_TYPE (NatterdStoreSqlite, natterd_store_sqlite, NATTERD_TYPE_STORE)

/* ----------------------------------------------------------------- helpers */

/* Out of space, whatever SQLite was doing: the file system (ENOSPC) or
 * a quota (EDQUOT) said no. SQLite reports most as SQLITE_FULL; growing
 * the shm file or syncing may fail with an I/O error carrying the errno. */
static NatterdStoreError
error_code (sqlite3 *db,
            int      rc)
{
  int os_error = db != NULL ? sqlite3_system_errno (db) : 0;

  if ((rc & 0xff) == SQLITE_FULL ||
      ((rc & 0xff) == SQLITE_IOERR && (os_error == ENOSPC || os_error == EDQUOT)))
    return NATTERD_STORE_ERROR_FULL;
  return NATTERD_STORE_ERROR_FAILED;
}

gboolean
natterd_sqlite_fail (sqlite3     *db,
                     int          rc,
                     const char  *what,
                     GError     **error)
{
  g_set_error (error, NATTERD_STORE_ERROR, error_code (db, rc), "%s: %s (%d)",
               what, db != NULL ? sqlite3_errmsg (db) : sqlite3_errstr (rc), rc);
  return FALSE;
}

gboolean
natterd_sqlite_exec (sqlite3     *db,
                     const char  *sql,
                     GError     **error)
{
  char *message = NULL;
  int rc = sqlite3_exec (db, sql, NULL, NULL, &message);

  if (rc != SQLITE_OK)
    {
      g_set_error (error, NATTERD_STORE_ERROR, error_code (db, rc), "%s (%d)",
                   message != NULL ? message : sqlite3_errstr (rc), rc);
      sqlite3_free (message);
      return FALSE;
    }
  return TRUE;
}

void
natterd_sqlite_bind_text (sqlite3_stmt *stmt,
                          int           index,
                          const char   *value)
{
  if (value == NULL)
    sqlite3_bind_null (stmt, index);
  else
    sqlite3_bind_text (stmt, index, value, -1, SQLITE_STATIC);
}

/* Runs a statement that returns no row. */
gboolean
natterd_sqlite_step_done (sqlite3       *db,
                          sqlite3_stmt  *stmt,
                          GError       **error)
{
  int rc = sqlite3_step (stmt);

  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  if (rc != SQLITE_DONE)
    return natterd_sqlite_fail (db, rc, sqlite3_sql (stmt), error);
  return TRUE;
}

/* The same for a statement whose every parameter is bound before each
 * step (the writer's per-message inserts): clearing the bindings cost
 * ~25 instructions a parameter, ~500 a message (#17). */
gboolean
natterd_sqlite_step_rebound (sqlite3       *db,
                             sqlite3_stmt  *stmt,
                             GError       **error)
{
  int rc = sqlite3_step (stmt);

  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return natterd_sqlite_fail (db, rc, sqlite3_sql (stmt), error);
  return TRUE;
}

char *
natterd_sqlite_column_text (sqlite3_stmt *stmt,
                            int           column)
{
  const unsigned char *text = sqlite3_column_text (stmt, column);

  return text != NULL ? g_strdup ((const char *) text) : NULL;
}

gboolean
natterd_sqlite_finish_rows (sqlite3       *db,
                            sqlite3_stmt  *stmt,
                            int            rc,
                            GError       **error)
{
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  if (rc != SQLITE_DONE)
    return natterd_sqlite_fail (db, rc, sqlite3_sql (stmt), error);
  return TRUE;
}

static gboolean
prepare_all (sqlite3            *db,
             const char * const *sql,
             sqlite3_stmt      **stmts,
             guint               n,
             GError            **error)
{
  for (guint i = 0; i < n; i++)
    {
      int rc = sqlite3_prepare_v3 (db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &stmts[i], NULL);

      if (rc != SQLITE_OK)
        return natterd_sqlite_fail (db, rc, sql[i], error);
    }
  return TRUE;
}

/* Debian's SQLite is built without lookaside, so every cursor, record
 * and statement register of the writer is a malloc() and free(), each
 * taking SQLite's global memory mutex to count it: ~2,000 instructions a
 * message, for statistics natterd never reads (#17). Set once, before
 * SQLite initialises; a process that used SQLite before (a test with the
 * client library) keeps its counting, which only costs the time. */
static gpointer
configure_sqlite (gpointer data)
{
  if (sqlite3_config (SQLITE_CONFIG_MEMSTATUS, 0) != SQLITE_OK)
    g_debug ("SQLite was initialised before natterd's store: memory statistics stay on");
  /* The dedup key's salt and hash (libsodium); idempotent. */
  if (sodium_init () < 0)
    g_error ("libsodium could not be initialised");
  return NULL;
}

/* The integer key of a conversation's messages (schema 11, the index
 * messages_conversation): FNV-1a of the app id and the channel key, cut
 * to 63 bits. Stored in every persisted row, so it never changes. The
 * row keeps the channel text, which every query compares too: a
 * collision costs a row read, never a wrong answer. */
gint64
natterd_sqlite_channel_hash (gint64      app_id,
                             const char *channel)
{
  guint64 h = G_GUINT64_CONSTANT (0xcbf29ce484222325);

  for (guint i = 0; i < 8; i++)
    h = (h ^ (((guint64) app_id >> (8 * i)) & 0xff)) * G_GUINT64_CONSTANT (0x100000001b3);
  for (const guchar *c = (const guchar *) channel; *c != '\0'; c++)
    h = (h ^ *c) * G_GUINT64_CONSTANT (0x100000001b3);
  return (gint64) (h & G_MAXINT64);
}

/* The idempotency key (the index messages_dedup_key) of a message; 0
 * when it has none (no device or no client_msg_id: it was never
 * deduplicated, as schema 1's unique index took its NULLs as distinct).
 * Cut to 63 bits and never 0. Two keys that collide are told apart by
 * the row's own columns; the later message takes the next free key, at
 * most DEDUP_PROBES_MAX up (write_publish()).
 *
 * Schema 13 (@salt set): SipHash-2-4 (libsodium's crypto_shorthash) keyed
 * by the database's own random 16 bytes (store_keys 'dedup'), of the
 * sender's row id, the device, a NUL and the client_msg_id but its last
 * two bytes (no other pair of strings gives the same bytes), above those
 * two bytes themselves. Keyed, a client cannot choose client_msg_ids that
 * collide with one another to make the writer probe (two keys meet only
 * when 47 keyed bits do), and the keys of one database say nothing about
 * another's; and ids that count up (b1, b2, … b10, b11, …) keep near keys,
 * so a batch's entries share index pages as they did under FNV-1a (a
 * fully random key cost natter-bench's closed loop ~45 % more WAL bytes a
 * message). A collision steps by NATTERD_SQLITE_DEDUP_PROBE_STEP, over
 * the next id's key.
 * Schema 12 (@salt NULL, migration 12 only): FNV-1a of the same, unkeyed. */
gint64
natterd_sqlite_dedup_key (const guint8 *salt,
                          gint64        sender_id,
                          const char   *device_id,
                          const char   *client_msg_id)
{
  guint64 h = G_GUINT64_CONSTANT (0xcbf29ce484222325);

  if (device_id == NULL || client_msg_id == NULL)
    return 0;

  if (salt != NULL)
    {
      gsize device_len = strlen (device_id), id_len = strlen (client_msg_id);
      /* All but the last two bytes are hashed; those two are the key's
       * low 16 bits as they are (left-padded with 0, which no id holds). */
      gsize prefix_len = id_len > 2 ? id_len - 2 : 0;
      gsize len = 8 + device_len + 1 + prefix_len;
      guint64 tail = 0;
      guint8 stack[256];
      g_autofree guint8 *heap = len > sizeof stack ? g_malloc (len) : NULL;
      guint8 *in = heap != NULL ? heap : stack;
      guint8 out[crypto_shorthash_BYTES];
      guint64 le = GUINT64_TO_LE ((guint64) sender_id);

      memcpy (in, &le, 8);
      memcpy (in + 8, device_id, device_len);
      in[8 + device_len] = '\0';
      memcpy (in + 8 + device_len + 1, client_msg_id, prefix_len);
      crypto_shorthash (out, in, len, salt);
      memcpy (&h, out, sizeof h);
      for (gsize i = prefix_len; i < id_len; i++)
        tail = (tail << 8) | (guchar) client_msg_id[i];
      h = (GUINT64_FROM_LE (h) << NATTERD_SQLITE_DEDUP_TAIL_BITS) | tail;
    }
  else
    {
      for (guint i = 0; i < 8; i++)
        h = (h ^ (((guint64) sender_id >> (8 * i)) & 0xff)) * G_GUINT64_CONSTANT (0x100000001b3);
      for (const guchar *c = (const guchar *) device_id; *c != '\0'; c++)
        h = (h ^ *c) * G_GUINT64_CONSTANT (0x100000001b3);
      h *= G_GUINT64_CONSTANT (0x100000001b3);
      for (const guchar *c = (const guchar *) client_msg_id; *c != '\0'; c++)
        h = (h ^ *c) * G_GUINT64_CONSTANT (0x100000001b3);
    }
  h &= G_MAXINT64;
  return h != 0 ? (gint64) h : 1;
}

/* natterd_dedup_key (sender_id, device_id, client_msg_id) in SQL,
 * schema 12's (migration 12), and natterd_keyed_dedup_key (salt,
 * sender_id, device_id, client_msg_id), schema 13's (migration 13 keys
 * the rows already stored); NULL for a message without a key. */
static void
dedup_key_sql (sqlite3_context  *context,
               int               argc,
               sqlite3_value   **argv)
{
  const guint8 *salt = NULL;
  gint64 key;

  if (argc == 4)
    {
      if (sqlite3_value_bytes (argv[0]) != crypto_shorthash_KEYBYTES)
        {
          sqlite3_result_error (context, "natterd_keyed_dedup_key: the salt is not 16 bytes", -1);
          return;
        }
      salt = sqlite3_value_blob (argv[0]);
      argv++;
    }
  key = natterd_sqlite_dedup_key (salt, sqlite3_value_int64 (argv[0]),
                                  (const char *) sqlite3_value_text (argv[1]),
                                  (const char *) sqlite3_value_text (argv[2]));
  if (key == 0)
    sqlite3_result_null (context);
  else
    sqlite3_result_int64 (context, key);
}

/* natterd_random_key () in SQL: 16 random bytes (migration 13's salt). */
static void
random_key_sql (sqlite3_context  *context,
                int               argc,
                sqlite3_value   **argv)
{
  guint8 key[crypto_shorthash_KEYBYTES];

  randombytes_buf (key, sizeof key);
  sqlite3_result_blob (context, key, sizeof key, SQLITE_TRANSIENT);
}

gboolean
natterd_sqlite_read_dedup_salt (sqlite3  *db,
                                guint8    salt[16],
                                GError  **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2 (db, "SELECT key FROM store_keys WHERE name = 'dedup'", -1, &stmt, NULL);
  gboolean found = FALSE;

  if (rc == SQLITE_OK)
    rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW && sqlite3_column_bytes (stmt, 0) == crypto_shorthash_KEYBYTES)
    {
      memcpy (salt, sqlite3_column_blob (stmt, 0), crypto_shorthash_KEYBYTES);
      found = TRUE;
    }
  sqlite3_finalize (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return natterd_sqlite_fail (db, rc, "store_keys", error);
  if (!found)
    {
      g_set_error (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_FAILED,
                   "store_keys: the database has no 16-byte 'dedup' key");
      return FALSE;
    }
  return TRUE;
}

/* natterd_channel_hash (app_id, channel) in SQL: migration 11 keys the
 * rows already stored. */
static void
channel_hash_sql (sqlite3_context  *context,
                  int               argc,
                  sqlite3_value   **argv)
{
  const char *channel = (const char *) sqlite3_value_text (argv[1]);

  if (channel == NULL)
    sqlite3_result_null (context);
  else
    sqlite3_result_int64 (context, natterd_sqlite_channel_hash (sqlite3_value_int64 (argv[0]), channel));
}

static sqlite3 *
open_connection (const char  *path,
                 GError     **error)
{
  static GOnce configured = G_ONCE_INIT;
  sqlite3 *db = NULL;
  int rc;

  g_once (&configured, configure_sqlite, NULL);
  rc = sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        natterd_sqlite_wal_vfs ());

  if (rc != SQLITE_OK)
    {
      natterd_sqlite_fail (db, rc, path, error);
      sqlite3_close (db);
      return NULL;
    }

  sqlite3_extended_result_codes (db, 1);
  sqlite3_create_function (db, "natterd_channel_hash", 2,
                           SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                           channel_hash_sql, NULL, NULL);
  sqlite3_create_function (db, "natterd_dedup_key", 3,
                           SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                           dedup_key_sql, NULL, NULL);
  sqlite3_create_function (db, "natterd_keyed_dedup_key", 4,
                           SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                           dedup_key_sql, NULL, NULL);
  sqlite3_create_function (db, "natterd_random_key", 0, SQLITE_UTF8, NULL,
                           random_key_sql, NULL, NULL);
  /* Another process (natterd --create-app while natterd runs) may hold the
   * write lock for a moment. */
  sqlite3_busy_timeout (db, 5000);

  /* foreign_keys is set outside any transaction, as SQLite requires; the
   * schema declares none (the writer keeps references consistent itself). */
  if (!natterd_sqlite_exec (db,
                            "PRAGMA journal_mode = WAL;"
                            "PRAGMA synchronous = FULL;"
                            "PRAGMA foreign_keys = OFF;"
                            "PRAGMA cache_size = -16384;"
                            "PRAGMA temp_store = MEMORY;",
                            error))
    {
      g_prefix_error (error, "%s: ", path);
      sqlite3_close (db);
      return NULL;
    }

  return db;
}

/* ------------------------------------------------------------- checkpoints */

/* The WAL is copied back into the database by the checkpointer thread, on
 * its own connection, without blocking commits (PASSIVE): every half second,
 * or as soon as CHECKPOINT_WAKE_FRAMES new frames are in the WAL (at 5,000
 * messages/s that is every few tens of ms, so each pass is short).
 *
 * The WAL only starts over from its beginning when a write transaction
 * begins with every frame copied back. Short passes usually get there by
 * themselves; when they do not and the WAL passes [store] wal-size
 * (256 MiB by default), the writer copies the few frames the checkpointer has not,
 * between batches (their acks are already out); past four times that it
 * does so whatever the checkpointer is doing. Before, SQLite's
 * autocheckpoint did the whole copy inside COMMIT every 32 MiB of WAL
 * (every ~0.3 s at 5,000 msgs/s), stalling that commit and every publish
 * queued behind it by ~10 ms: that was natterd's p99. A pass's database
 * pages then go to the disk paced, between the commits' syncs
 * (paced_writeback(), natterd-store-sqlite-wal.c), and the thread yields
 * the CPU and the disk to the commits' (natterd_sched_prefer_background()). */
#define CHECKPOINT_INTERVAL_US (G_USEC_PER_SEC / 2)
#define CHECKPOINT_WAKE_FRAMES 1024
/* The writer's copy starting the WAL over stalls every message queued
 * meanwhile (#17's p99.9): it takes what the checkpointer's paced passes
 * left, at most WAL_RESET_LEFTOVER_LATE frames (waking the checkpointer
 * unpaced to leave it fewer cost the 5,000/s p99 more than it saved). */
#define WAL_RESET_LEFTOVER_LATE 512
#define PAGE_SIZE_BYTES 4096            /* SQLite's default page size */
#define WAL_HEADER_BYTES 32
#define WAL_FRAME_HEADER_BYTES 24
/* Past wal-size, the frames a WAL may take before its file is cut back
 * when it starts over: twice wal-size, and at least this many. */
#define WAL_SIZE_SLACK_FRAMES 2048

static int
wal_committed (void       *data,
               sqlite3    *db,
               const char *name,
               int         frames)
{
  NatterdStoreSqlite *self = data;

  /* Writer thread, after each commit: never waits for the checkpoint. */
  if (frames < g_atomic_int_get (&self->wal_frames))
    g_atomic_int_set (&self->backfilled, 0);  /* the WAL started over */
  g_atomic_int_set (&self->wal_frames, frames);
  if (frames - g_atomic_int_get (&self->backfilled) >= CHECKPOINT_WAKE_FRAMES &&
      !g_atomic_int_get (&self->checkpointing))
    {
      g_mutex_lock (&self->checkpoint_lock);
      self->checkpoint_wanted = TRUE;
      g_cond_signal (&self->checkpoint_wake);
      g_mutex_unlock (&self->checkpoint_lock);
    }
  return SQLITE_OK;
}

void
natterd_store_sqlite_set_cache_size (NatterdStoreSqlite *self,
                                     guint64             bytes)
{
  g_autofree char *pragma = NULL;

  g_return_if_fail (NATTERD_IS_STORE_SQLITE (self));

  pragma = g_strdup_printf ("PRAGMA cache_size = -%" G_GUINT64_FORMAT, MAX (bytes / 1024, 256));
  natterd_sqlite_exec (self->db, pragma, NULL);
  natterd_sqlite_exec (self->reader_db, pragma, NULL);
}

void
natterd_store_sqlite_set_wal_size (NatterdStoreSqlite *self,
                                   guint64             bytes)
{
  g_autofree char *limit = NULL;

  g_return_if_fail (NATTERD_IS_STORE_SQLITE (self));

  self->wal_reset_frames = (int) CLAMP (bytes / PAGE_SIZE_BYTES, 64, G_MAXINT / 8);
  /* A WAL that grew well past it (the checkpointer fell behind) shrinks
   * back when it starts over; one of the usual size does not. The limit
   * was wal-size itself, which a WAL of wal-size worth of frames (each a
   * page and a 24-byte header) always passed: cut back at every start
   * over, its next round's last ~2 % of frames grew it again, and the
   * sync of each of those commits the filesystem's journal too (ext4:
   * behind every other file's metadata; #17's p99 at 2,000 msgs/s). */
  limit = g_strdup_printf ("PRAGMA journal_size_limit = %" G_GUINT64_FORMAT,
                           WAL_HEADER_BYTES + (guint64) (self->wal_reset_frames +
                                                         MAX (self->wal_reset_frames, WAL_SIZE_SLACK_FRAMES)) *
                                              (PAGE_SIZE_BYTES + WAL_FRAME_HEADER_BYTES));
  natterd_sqlite_exec (self->db, limit, NULL);
}

static void
natterd_store_sqlite_maintain (NatterdStore *store)
{
  NatterdStoreSqlite *self = NATTERD_STORE_SQLITE (store);
  int frames = g_atomic_int_get (&self->wal_frames);
  int log = 0, copied = 0;
  /* Every sync fails until the WAL starts over: make it, now. */
  gboolean failed = self->pipelined && natterd_sqlite_wal_sync_failed (self->full_path);
  gint64 start;

  if (frames < self->wal_reset_frames && !failed)
    return;
  /* Past four times the size, whatever the checkpointer is doing. */
  if (!failed && frames < 4 * self->wal_reset_frames && !g_atomic_int_get (&self->no_checkpointer) &&
      (g_atomic_int_get (&self->checkpointing) ||
       frames - g_atomic_int_get (&self->backfilled) > WAL_RESET_LEFTOVER_LATE))
    return;  /* the checkpointer is on it; try after the next batch */

  /* Nothing writes meanwhile: with every frame copied back, the next
   * transaction starts the WAL over. */
  start = g_get_monotonic_time ();
  if (sqlite3_wal_checkpoint_v2 (self->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied) == SQLITE_OK)
    {
      natterd_sqlite_wal_note_stall (NATTERD_WAL_STALL_CHECKPOINT, g_get_monotonic_time () - start,
                                     (guint) MAX (copied - g_atomic_int_get (&self->backfilled), 0));
      g_atomic_int_set (&self->backfilled, copied);
      g_atomic_int_set (&self->wal_frames, log);
    }
}

/* ------------------------------------------------------ pipelined commits
 *
 * With synchronous=FULL, SQLite fsyncs the WAL inside COMMIT: the writer
 * sat through every fsync (4-8 ms at 5,000 msgs/s) and the ops queued
 * meanwhile waited for it and then for their own batch's SQL and fsync.
 * Now natterd's VFS turns the writer's COMMIT sync into handing the
 * frames to the kernel only (SQLite still syncs a new WAL's header, and
 * the WAL before a checkpoint copies it; an error writing the frames
 * still fails the COMMIT), and the writer goes on with the next batch
 * while the store's sync thread fdatasync()s the WAL
 * (natterd_store_sqlite_sync()); the ops of a batch complete, and are
 * acked, only after a sync that began after their COMMIT returned. Reads
 * wait for the sync of every COMMIT their snapshot may hold
 * (begin_durable_snapshot(), natterd-store-sqlite-read.c). A crash loses
 * at most commits no one was told of, as before: SQLite's recovery keeps
 * the WAL's valid prefix of whole transactions. */

void
natterd_store_sqlite_start_pipeline (NatterdStoreSqlite *self)
{
  g_autoptr(GError) error = NULL;

  if (self->pipeline_checked)
    return;
  self->pipeline_checked = TRUE;
  /* The WAL must be open in natterd's VFS for the sync thread to sync;
   * it has the name SQLite gave it (the full path). */
  self->full_path = g_strdup (sqlite3_db_filename (self->db, "main"));
  if (!natterd_sqlite_wal_sync (self->full_path, &error))
    {
      g_warning ("Commits wait for their fsync (%s)", error->message);
      return;
    }
  self->pipelined = TRUE;
}

gboolean
natterd_store_sqlite_commit (NatterdStoreSqlite  *self,
                             GError             **error)
{
  gint64 begun = __atomic_add_fetch (&self->commits_begun, 1, __ATOMIC_SEQ_CST);
  gboolean ok;

  natterd_sqlite_wal_defer_syncs (self->pipelined);
  ok = natterd_sqlite_step_rebound (self->db, self->writer_stmts[W_COMMIT], error);
  natterd_sqlite_wal_defer_syncs (FALSE);

  /* Ended either way: a failed one holds nothing a reader could see. */
  __atomic_store_n (&self->commits_ended, begun, __ATOMIC_SEQ_CST);
  return ok;
}

static gboolean
natterd_store_sqlite_sync (NatterdStore  *store,
                           gboolean      *shared,
                           GError       **error)
{
  NatterdStoreSqlite *self = NATTERD_STORE_SQLITE (store);
  gint64 ended = __atomic_load_n (&self->commits_ended, __ATOMIC_SEQ_CST);
  gint64 mark = natterd_sqlite_wal_db_writes_mark ();
  gboolean ok = TRUE;

  /* Not pipelined: each COMMIT synced itself. */
  if (self->pipelined)
    ok = natterd_sqlite_wal_sync (self->full_path, error);
  *shared = natterd_sqlite_wal_db_written_since (mark);

  g_mutex_lock (&self->durable_lock);
  self->durable = MAX (self->durable, ended);
  g_cond_broadcast (&self->durable_wake);
  g_mutex_unlock (&self->durable_lock);
  return ok;
}

static gpointer
checkpoint_main (gpointer data)
{
  NatterdStoreSqlite *self = data;
  g_autoptr(GError) error = NULL;
  sqlite3 *db = open_connection (self->path, &error);
  /* NATTERD_CHECKPOINT_PACE=0: the pass's pages go to the disk at once,
   * as before (to compare the two on one binary). */
  gboolean pace = g_strcmp0 (g_getenv ("NATTERD_CHECKPOINT_PACE"), "0") != 0;
  /* NATTERD_CHECKPOINT_HOLD=1: no passes at all; the writer starts the WAL
   * over only past four times wal-size (#17: the WAL syncs without any
   * checkpoint's writes beside them, to tell the disk's own stalls from
   * those the checkpoints cause). */
  gboolean hold = g_strcmp0 (g_getenv ("NATTERD_CHECKPOINT_HOLD"), "1") == 0;

  if (db == NULL)
    {
      g_warning ("No checkpoint connection (%s); the writer checkpoints instead",
                 error->message);
      g_atomic_int_set (&self->no_checkpointer, TRUE);
      return NULL;
    }

  natterd_sched_prefer_background ();
  g_mutex_lock (&self->checkpoint_lock);
  while (!self->checkpoint_stop)
    {
      gint64 until = g_get_monotonic_time () + CHECKPOINT_INTERVAL_US;
      int log = 0, copied = 0;

      while (!self->checkpoint_wanted && !self->checkpoint_stop &&
             g_cond_wait_until (&self->checkpoint_wake, &self->checkpoint_lock, until))
        ;
      if (self->checkpoint_stop)
        break;
      self->checkpoint_wanted = FALSE;
      if (hold)
        continue;
      g_atomic_int_set (&self->checkpointing, TRUE);
      g_mutex_unlock (&self->checkpoint_lock);
      /* Paced (natterd-store-sqlite-wal.c) while the WAL is within its
       * size; past it, the pass hurries. */
      natterd_sqlite_wal_pace_checkpoints (pace &&
                                           g_atomic_int_get (&self->wal_frames) < self->wal_reset_frames);
      /* PASSIVE: copies what it can without blocking the writer or readers. */
      if (sqlite3_wal_checkpoint_v2 (db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied) == SQLITE_OK)
        g_atomic_int_set (&self->backfilled, copied);
      g_atomic_int_set (&self->checkpointing, FALSE);
      g_mutex_lock (&self->checkpoint_lock);
    }
  g_mutex_unlock (&self->checkpoint_lock);

  sqlite3_close (db);
  return NULL;
}

static void
natterd_store_sqlite_stop_checkpoints (NatterdStoreSqlite *self)
{
  if (self->checkpointer == NULL)
    return;
  g_mutex_lock (&self->checkpoint_lock);
  self->checkpoint_stop = TRUE;
  g_cond_signal (&self->checkpoint_wake);
  g_mutex_unlock (&self->checkpoint_lock);
  g_clear_pointer (&self->checkpointer, g_thread_join);
}

/* --------------------------------------------------------------- lifetime */

static void
natterd_store_sqlite_finalize (GObject *object)
{
  NatterdStoreSqlite *self = NATTERD_STORE_SQLITE (object);

  natterd_store_sqlite_stop_checkpoints (self);
  g_mutex_clear (&self->checkpoint_lock);
  g_cond_clear (&self->checkpoint_wake);
  g_mutex_clear (&self->durable_lock);
  g_cond_clear (&self->durable_wake);

  for (guint i = 0; i < W_N_STATEMENTS; i++)
    sqlite3_finalize (self->writer_stmts[i]);
  for (guint i = 0; i < R_N_STATEMENTS; i++)
    sqlite3_finalize (self->reader_stmts[i]);

  if (self->db != NULL)
    {
      /* Leave a checkpointed database behind: the next start reads less WAL. */
      sqlite3_wal_checkpoint_v2 (self->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
      sqlite3_close (self->db);
    }
  sqlite3_close (self->reader_db);

  g_hash_table_unref (self->max_seqs);
  g_hash_table_unref (self->pending_conversations);
  g_hash_table_unref (self->timelines);
  g_hash_table_unref (self->dirty_timelines);
  g_free (self->path);
  g_free (self->full_path);

  G_OBJECT_CLASS (natterd_store_sqlite_parent_class)->finalize (object);
}

static void
natterd_store_sqlite_class_init (NatterdStoreSqliteClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  NatterdStoreClass *store_class = NATTERD_STORE_CLASS (klass);

  object_class->finalize = natterd_store_sqlite_finalize;
  store_class->load = natterd_store_sqlite_load;
  store_class->write = natterd_store_sqlite_write;
  store_class->maintain = natterd_store_sqlite_maintain;
  store_class->sync = natterd_store_sqlite_sync;
  store_class->read = natterd_store_sqlite_read;
  store_class->create_app = natterd_store_sqlite_create_app;
  store_class->update_app = natterd_store_sqlite_update_app;
  store_class->list_apps = natterd_store_sqlite_list_apps;
  store_class->rotate_secret = natterd_store_sqlite_rotate_secret;
  store_class->set_token_key = natterd_store_sqlite_set_token_key;
}

static void
natterd_store_sqlite_init (NatterdStoreSqlite *self)
{
  natterd_store_sqlite_writer_init (self);
  g_mutex_init (&self->checkpoint_lock);
  g_cond_init (&self->checkpoint_wake);
  g_mutex_init (&self->durable_lock);
  g_cond_init (&self->durable_wake);
}

NatterdStore *
natterd_store_sqlite_open_at_version (const char  *data_dir,
                                      int          version,
                                      GError     **error)
{
  g_autoptr(NatterdStoreSqlite) self = g_object_new (NATTERD_TYPE_STORE_SQLITE, NULL);

  g_return_val_if_fail (version >= 0 && version <= NATTERD_STORE_SQLITE_SCHEMA_VERSION, NULL);

  if (g_mkdir_with_parents (data_dir, 0700) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "%s: %s", data_dir,
                   g_strerror (saved));
      return NULL;
    }

  self->path = g_build_filename (data_dir, "natterd.db", NULL);
  self->db = open_connection (self->path, error);
  if (self->db == NULL || !natterd_store_sqlite_migrate (self->db, version, error))
    return NULL;

  if (version < NATTERD_STORE_SQLITE_SCHEMA_VERSION)
    return NATTERD_STORE (g_steal_pointer (&self));

  self->reader_db = open_connection (self->path, error);
  if (self->reader_db == NULL ||
      !prepare_all (self->db, natterd_store_sqlite_writer_sql, self->writer_stmts, W_N_STATEMENTS, error) ||
      !prepare_all (self->reader_db, natterd_store_sqlite_reader_sql, self->reader_stmts, R_N_STATEMENTS, error) ||
      !natterd_sqlite_read_dedup_salt (self->db, self->dedup_salt, error) ||
      !natterd_store_sqlite_load_counters (self, error))
    return NULL;

  /* See "checkpoints" above: no checkpoint inside COMMIT. */
  sqlite3_wal_hook (self->db, wal_committed, self);
  natterd_store_sqlite_set_wal_size (self, (guint64) NATTERD_STORE_SQLITE_WAL_MIB * 1024 * 1024);
  /* A name within the kernel's 15 characters, or the thread keeps natterd's. */
  self->checkpointer = g_thread_new ("natterd-ckpt", checkpoint_main, self);

  return NATTERD_STORE (g_steal_pointer (&self));
}

NatterdStore *
natterd_store_sqlite_open (const char  *data_dir,
                           GError     **error)
{
  return natterd_store_sqlite_open_at_version (data_dir, NATTERD_STORE_SQLITE_SCHEMA_VERSION, error);
}
