/* natterd-store-sqlite-wal.c — a VFS over SQLite's own that writes a
 * commit's WAL frames with one pwrite()
 *
 * SQLite writes each WAL frame with two pwrite() calls, its 24-byte header
 * then its page: at 0.4 pages per message in the closed loop that was 0.8
 * syscalls per message on the writer thread, each paying the VM's syscall
 * toll. This VFS keeps contiguous writes to a WAL in one buffer and hands
 * them to SQLite's own VFS as one write before anything else touches the
 * file (its sync above all), so what is durable, and when, is unchanged:
 * nothing is acknowledged before the sync, and the sync writes first.
 * Every other file, and every other call, goes straight through.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define _GNU_SOURCE  /* sync_file_range() */

#include "natterd-store-sqlite-private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define WAL_VFS_NAME "natterd-wal"
/* A buffer this full is written at once: SQLite's unix VFS writes at most
 * 128 KiB - 1 bytes a pwrite() (seekAndWriteFd() masks the length with
 * 0x1ffff: a longer write is cut short, and it reports SQLITE_FULL). That
 * is 31 frames of 4 KiB pages a syscall instead of 62. */
#define WAL_BUFFER_MAX 0x1ffff

/* natterd_sqlite_wal_sync()'s descriptors: one for each of the store's
 * sync threads (natterd-store.c's N_SYNCERS). */
#define WAL_SYNC_FDS 2

/* A WAL's syncs by natterd_sqlite_wal_sync(), shared by every connection
 * that has it open (the writer's, the reader's, the checkpointer's), under
 * wal_files_lock.
 *
 * A descriptor for each sync under way (#17): Linux reports a writeback
 * error to the next fdatasync() of each open file description, once
 * (errseq_t). With one descriptor, a sync that took the error could be
 * slower to return than an earlier sync beside it, which reported success
 * although its pages may have been the ones lost, and was acked. Each
 * descriptor is opened with the WAL, so it sees every error after that.
 *
 * And once a sync failed, the failed pages are clean in the page cache
 * but not on disk: a later fdatasync() succeeds, yet SQLite's recovery
 * reads the WAL only up to its first bad frame, so nothing written after
 * them would survive a crash. Every sync fails (failed) until the WAL
 * starts over, which it does only once a checkpoint has copied every
 * frame into the database and synced it; SQLite's sync of the new
 * header clears it (wal_sync()). */
typedef struct
{
  char     *name;
  guint     users;               /* WalFiles with it open */
  int       fds[WAL_SYNC_FDS];
  gboolean  busy[WAL_SYNC_FDS];
  guint     injected_seen[WAL_SYNC_FDS]; /* natterd_sqlite_wal_inject_sync_error() */
  guint     syncing;             /* natterd_sqlite_wal_sync() calls on it */
  gboolean  dir_synced;
  GError   *failed;
} WalSync;

typedef struct
{
  sqlite3_file   base;
  sqlite3_file  *real;        /* SQLite's own, right after this struct */
  guint8        *buffer;      /* WAL only: writes not yet handed on */
  gsize          length;
  gsize          allocated;
  sqlite3_int64  offset;      /* of buffer[0] in the file */
  /* WAL only: natterd_sqlite_wal_sync()'s, which other threads call
   * while SQLite's descriptor is in use. */
  WalSync       *sync;
  gboolean       header_written; /* since the last sync: a new WAL's header */
  sqlite3_int64  size;           /* WAL only: the file's, as this connection wrote it */
  /* The main database: the pages a paced checkpoint wrote since its last
   * sync (DirtyRange), and a descriptor of our own to write them back
   * with (see paced_writeback()). */
  GArray        *dirty;
  int            writeback_fd;
} WalFile;

typedef struct
{
  sqlite3_int64 offset;
  int           amount;
} DirtyRange;

static sqlite3_vfs *root_vfs;

/* The WALs open (WalSync), for natterd_sqlite_wal_sync(); one being
 * synced is not closed until its syncs are done, and a sync waits for a
 * free descriptor (wal_files_idle). Not held during the sync itself: the
 * store's sync threads sync side by side. */
static GMutex wal_files_lock;
static GCond wal_files_idle;
static GList *wal_files;

/* natterd_sqlite_wal_store_syncs(), under wal_files_lock */
static guint store_syncs;
static guint store_syncs_most;

/* natterd_sqlite_wal_inject_sync_error(), under wal_files_lock */
static guint store_sync_calls;
static guint inject_at;
static guint injected_errors;

/* WalSyncs with failed set, atomic: natterd_sqlite_wal_sync_failed()
 * looks no further while there are none. */
static gint wal_syncs_failed;

/* The store's fdatasync() calls, how long each took (#17: the tail's
 * share that is the disk's), atomic; natterd_sqlite_wal_fdatasync_times(). */
static const double fdatasync_bounds[NATTERD_WAL_FDATASYNC_BUCKETS] = {
  0.0001, 0.0002, 0.0003, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.01, 0.02, 0.05, 0.2,
};
static guint64 fdatasync_counts[NATTERD_WAL_FDATASYNC_BUCKETS + 1];
static guint64 fdatasync_us;
/* The same, of those beside a checkpoint's writes of the database. */
static guint64 beside_counts[NATTERD_WAL_FDATASYNC_BUCKETS + 1];
static guint64 beside_us;

/* natterd_sqlite_wal_sync_extremes(), atomic */
static guint64 fdatasync_largest_us;
static guint64 db_syncs;
static guint64 db_sync_us;
static guint64 db_sync_largest_us;
static guint64 db_written_bytes;

static void
note_max (guint64 *max,
          guint64  value)
{
  guint64 seen = __atomic_load_n (max, __ATOMIC_RELAXED);

  while (value > seen &&
         !__atomic_compare_exchange_n (max, &seen, value, TRUE, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
    ;
}

void
natterd_sqlite_wal_sync_extremes (double  *largest_wal_sync,
                                  guint64 *db_sync_count,
                                  double  *db_sync_seconds,
                                  double  *largest_db_sync,
                                  guint64 *db_written)
{
  *db_written = __atomic_load_n (&db_written_bytes, __ATOMIC_RELAXED);
  *largest_wal_sync = (double) __atomic_load_n (&fdatasync_largest_us, __ATOMIC_RELAXED) / G_USEC_PER_SEC;
  *db_sync_count = __atomic_load_n (&db_syncs, __ATOMIC_RELAXED);
  *db_sync_seconds = (double) __atomic_load_n (&db_sync_us, __ATOMIC_RELAXED) / G_USEC_PER_SEC;
  *largest_db_sync = (double) __atomic_load_n (&db_sync_largest_us, __ATOMIC_RELAXED) / G_USEC_PER_SEC;
}

/* The database file's writes to the disk by checkpoints (a paced chunk
 * or the sync ending a pass): under way, and begun so far, atomic. A WAL
 * sync beside one shares the disk with it (natterd_sqlite_wal_db_writeback()). */
static gint db_writeback_busy;
static guint64 db_writebacks;

/* Paced passes, their chunks and the largest one's bytes, atomic:
 * natterd_sqlite_wal_paced_checkpoints(). */
static guint64 paced_passes;
static guint64 paced_chunks;
static guint64 paced_largest;

/* natterd_sqlite_wal_note_stall(), atomic */
static guint64 stall_counts[NATTERD_WAL_N_STALLS];
static guint64 stall_us[NATTERD_WAL_N_STALLS];
static guint64 stall_frames[NATTERD_WAL_N_STALLS];

/* natterd_sqlite_wal_resizes(), atomic */
static guint64 wal_extended_bytes;
static guint64 wal_truncates;

static guint64 syncs_started;     /* atomic */
static guint64 syncs_completed;   /* atomic */

/* Tests only: NATTERD_TEST_WAL_SYNC_DELAY_MS=N makes each WAL sync take N
 * ms longer, so a test sees what waits for it (test-store-sync.c). */
static guint
sync_delay_ms (void)
{
  static gsize delay;

  if (g_once_init_enter (&delay))
    {
      const char *env = g_getenv ("NATTERD_TEST_WAL_SYNC_DELAY_MS");
      guint64 value = 0;

      if (env == NULL || !g_ascii_string_to_unsigned (env, 10, 1, 10000, &value, NULL))
        value = 0;
      g_once_init_leave (&delay, value + 1);
    }
  return (guint) (delay - 1);
}

static void
sync_begin (void)
{
  __atomic_add_fetch (&syncs_started, 1, __ATOMIC_SEQ_CST);
  if (sync_delay_ms () > 0)
    g_usleep (sync_delay_ms () * 1000);
}

static void
sync_end (void)
{
  __atomic_add_fetch (&syncs_completed, 1, __ATOMIC_SEQ_CST);
}

void
natterd_sqlite_wal_sync_counts (guint64 *started,
                                guint64 *completed)
{
  /* Completed first: never more than started, read in this order. */
  *completed = __atomic_load_n (&syncs_completed, __ATOMIC_SEQ_CST);
  *started = __atomic_load_n (&syncs_started, __ATOMIC_SEQ_CST);
}

/* A write past the WAL's end makes the next fdatasync() commit the
 * file's new size and blocks through the filesystem's journal, which on
 * ext4 waits for every other file's metadata (and their ordered data)
 * that journal commit holds: an overwrite's sync only writes its pages. */
#define WAL_GROW_STEP (1024 * 1024)
#define WAL_ZEROS_BYTES (64 * 1024)

/* NATTERD_WAL_GROW_AHEAD=0: the WAL grows by its commits' own writes. */
static gboolean
grow_ahead (void)
{
  static gsize on;

  if (g_once_init_enter (&on))
    g_once_init_leave (&on, g_strcmp0 (g_getenv ("NATTERD_WAL_GROW_AHEAD"), "0") != 0 ? 2 : 1);
  return on == 2;
}

/* So a growing WAL (its first wal-size after a start) commits the journal
 * once a MiB, not in every commit's sync (#17: at 2,000 msgs/s a growing
 * WAL's syncs were several times slower than an overwriting one's): a
 * write past the end carries the file on to the next MiB with zeros,
 * which the same sync writes. SQLite's recovery stops at the first frame
 * that is not valid, and a zero frame never is (page number 0), so what
 * is durable is unchanged. Best effort: a failure leaves the file as far
 * as it got. */
static void
wal_grow_ahead (WalFile      *file,
                sqlite3_int64 end)
{
  static const guint8 zeros[WAL_ZEROS_BYTES];
  sqlite3_int64 target = (end + WAL_GROW_STEP - 1) / WAL_GROW_STEP * WAL_GROW_STEP;

  while (end < target)
    {
      int amount = (int) MIN (target - end, (sqlite3_int64) sizeof zeros);

      if (file->real->pMethods->xWrite (file->real, zeros, amount, end) != SQLITE_OK)
        break;
      end += amount;
    }
  file->size = end;
}

static void
wal_wrote (WalFile      *file,
           sqlite3_int64 end)
{
  sqlite3_int64 before = file->size;

  if (end <= file->size)
    return;
  file->size = end;
  if (grow_ahead ())
    wal_grow_ahead (file, end);
  __atomic_add_fetch (&wal_extended_bytes, (guint64) (file->size - before), __ATOMIC_RELAXED);
}

static int
wal_flush (WalFile *file)
{
  int rc;

  if (file->length == 0)
    return SQLITE_OK;
  rc = file->real->pMethods->xWrite (file->real, file->buffer, (int) file->length, file->offset);
  if (rc == SQLITE_OK)
    wal_wrote (file, file->offset + (sqlite3_int64) file->length);
  file->length = 0;
  return rc;
}

#define REAL(f) (((WalFile *) (f))->real)

/* Per thread: the writer's syncs are its commits', the checkpointer's
 * its own. */
static __thread gint64 sync_us;
/* natterd_sqlite_wal_defer_syncs() */
static __thread gboolean defer_syncs;
/* natterd_sqlite_wal_pace_checkpoints() */
static __thread gboolean pace_writeback;

static WalSync *
wal_sync_find (const char *name)
{
  for (GList *l = wal_files; l != NULL; l = l->next)
    if (g_str_equal (((WalSync *) l->data)->name, name))
      return l->data;
  return NULL;
}

/* With the WAL's first opening, its descriptors: each sees the writeback
 * errors from then on. NULL if one cannot be opened. */
static WalSync *
wal_sync_ref (const char *name)
{
  WalSync *sync;

  g_mutex_lock (&wal_files_lock);
  sync = wal_sync_find (name);
  if (sync == NULL)
    {
      sync = g_new0 (WalSync, 1);
      for (guint i = 0; i < WAL_SYNC_FDS; i++)
        {
          /* fsync() needs no write access: O_RDONLY is enough. */
          sync->fds[i] = open (name, O_RDONLY | O_CLOEXEC);
          sync->injected_seen[i] = injected_errors;
          if (sync->fds[i] < 0)
            {
              while (i-- > 0)
                close (sync->fds[i]);
              g_free (sync);
              g_mutex_unlock (&wal_files_lock);
              return NULL;
            }
        }
      sync->name = g_strdup (name);
      wal_files = g_list_prepend (wal_files, sync);
    }
  sync->users++;
  g_mutex_unlock (&wal_files_lock);
  return sync;
}

static void
wal_sync_unref (WalSync *sync)
{
  g_mutex_lock (&wal_files_lock);
  if (--sync->users > 0)
    {
      g_mutex_unlock (&wal_files_lock);
      return;
    }
  wal_files = g_list_remove (wal_files, sync);
  while (sync->syncing > 0)
    g_cond_wait (&wal_files_idle, &wal_files_lock);
  g_mutex_unlock (&wal_files_lock);
  for (guint i = 0; i < WAL_SYNC_FDS; i++)
    close (sync->fds[i]);
  if (sync->failed != NULL)
    g_atomic_int_add (&wal_syncs_failed, -1);
  g_clear_error (&sync->failed);
  g_free (sync->name);
  g_free (sync);
}

static int
wal_close (sqlite3_file *f)
{
  WalFile *file = (WalFile *) f;
  int rc = wal_flush (file);
  int closed;

  g_clear_pointer (&file->sync, wal_sync_unref);
  closed = file->real->pMethods->xClose (file->real);
  g_clear_pointer (&file->buffer, g_free);
  g_clear_pointer (&file->dirty, g_array_unref);
  if (file->writeback_fd >= 0)
    close (file->writeback_fd);
  return rc != SQLITE_OK ? rc : closed;
}

static int
wal_read (sqlite3_file *f,
          void         *data,
          int           amount,
          sqlite3_int64 offset)
{
  int rc = wal_flush ((WalFile *) f);

  return rc != SQLITE_OK ? rc : REAL (f)->pMethods->xRead (REAL (f), data, amount, offset);
}

static int
wal_write (sqlite3_file *f,
           const void   *data,
           int           amount,
           sqlite3_int64 offset)
{
  WalFile *file = (WalFile *) f;
  int rc;

  if (file->allocated == 0)
    {
      rc = REAL (f)->pMethods->xWrite (REAL (f), data, amount, offset);
      if (rc == SQLITE_OK && file->dirty != NULL)
        __atomic_add_fetch (&db_written_bytes, (guint64) amount, __ATOMIC_RELAXED);
      if (rc == SQLITE_OK && file->dirty != NULL && pace_writeback)
        {
          DirtyRange range = { offset, amount };

          g_array_append_val (file->dirty, range);
        }
      return rc;
    }

  /* Only what continues the buffer joins it. */
  if (file->length > 0 && offset != file->offset + (sqlite3_int64) file->length)
    {
      rc = wal_flush (file);
      if (rc != SQLITE_OK)
        return rc;
    }
  if ((gsize) amount > file->allocated - file->length)
    {
      rc = wal_flush (file);
      if (rc != SQLITE_OK)
        return rc;
      if ((gsize) amount > file->allocated)
        {
          rc = REAL (f)->pMethods->xWrite (REAL (f), data, amount, offset);
          if (rc == SQLITE_OK)
            wal_wrote (file, offset + amount);
          return rc;
        }
    }
  if (offset == 0)
    file->header_written = TRUE;
  if (file->length == 0)
    file->offset = offset;
  memcpy (file->buffer + file->length, data, (gsize) amount);
  file->length += (gsize) amount;
  return SQLITE_OK;
}

static int
wal_truncate (sqlite3_file *f,
              sqlite3_int64 size)
{
  WalFile *file = (WalFile *) f;
  int rc = wal_flush (file);

  if (rc != SQLITE_OK)
    return rc;
  rc = REAL (f)->pMethods->xTruncate (REAL (f), size);
  if (rc == SQLITE_OK && file->allocated > 0 && size < file->size)
    {
      __atomic_add_fetch (&wal_truncates, 1, __ATOMIC_RELAXED);
      file->size = size;
    }
  return rc;
}

void
natterd_sqlite_wal_resizes (guint64 *extended_bytes,
                            guint64 *truncates)
{
  *extended_bytes = __atomic_load_n (&wal_extended_bytes, __ATOMIC_RELAXED);
  *truncates = __atomic_load_n (&wal_truncates, __ATOMIC_RELAXED);
}


void
natterd_sqlite_wal_note_stall (NatterdWalStall kind,
                               gint64          us,
                               guint           frames)
{
  __atomic_add_fetch (&stall_counts[kind], 1, __ATOMIC_RELAXED);
  __atomic_add_fetch (&stall_us[kind], (guint64) MAX (us, 0), __ATOMIC_RELAXED);
  __atomic_add_fetch (&stall_frames[kind], frames, __ATOMIC_RELAXED);
}

void
natterd_sqlite_wal_stalls (NatterdWalStall kind,
                           guint64        *count,
                           double         *seconds,
                           guint64        *frames)
{
  *count = __atomic_load_n (&stall_counts[kind], __ATOMIC_RELAXED);
  *seconds = (double) __atomic_load_n (&stall_us[kind], __ATOMIC_RELAXED) / G_USEC_PER_SEC;
  *frames = __atomic_load_n (&stall_frames[kind], __ATOMIC_RELAXED);
}

void
natterd_sqlite_wal_defer_syncs (gboolean defer)
{
  defer_syncs = defer;
}

/* Paced checkpoints (#17): a checkpoint pass copies up to a thousand
 * pages into the database's page cache, then syncs it. At once, that was
 * megabytes of scattered writes going to the disk together, and the WAL
 * syncs beside them (the commits' acks) waited behind them: 1-5x slower.
 * Now the pass's sync first writes its pages back in PACE_CHUNK_BYTES
 * chunks, each in a gap between the WAL's syncs (none under way; or after
 * PACE_WAIT_US without one), so a WAL sync shares the disk with a chunk
 * at most; the pass's
 * sync then has little left to write. Durability is SQLite's own: the pass
 * still ends with its sync of the database before any frame counts as
 * copied. The chunks go through a descriptor of our own: sync_file_range()
 * reports a writeback error once to the file description it is given
 * (errseq_t), and SQLite's sync must be the one that sees it. */
#define PACE_CHUNK_BYTES (64 * 1024)
#define PACE_WAIT_US 2000               /* at most, for a gap */
#define PACE_PASS_US (250 * 1000)       /* then the rest at once */

void
natterd_sqlite_wal_pace_checkpoints (gboolean pace)
{
  pace_writeback = pace;
}

static void
db_writeback_begin (void)
{
  __atomic_add_fetch (&db_writeback_busy, 1, __ATOMIC_SEQ_CST);
  __atomic_add_fetch (&db_writebacks, 1, __ATOMIC_SEQ_CST);
}

static void
db_writeback_end (void)
{
  __atomic_sub_fetch (&db_writeback_busy, 1, __ATOMIC_SEQ_CST);
}

gint64
natterd_sqlite_wal_db_writes_mark (void)
{
  if (__atomic_load_n (&db_writeback_busy, __ATOMIC_SEQ_CST) > 0)
    return -1;
  return (gint64) __atomic_load_n (&db_writebacks, __ATOMIC_SEQ_CST);
}

gboolean
natterd_sqlite_wal_db_written_since (gint64 mark)
{
  return mark < 0 || __atomic_load_n (&db_writeback_busy, __ATOMIC_SEQ_CST) > 0 ||
         (guint64) mark != __atomic_load_n (&db_writebacks, __ATOMIC_SEQ_CST);
}

static int
compare_ranges (gconstpointer a,
                gconstpointer b)
{
  const DirtyRange *x = a, *y = b;

  return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Until no WAL sync is under way (a gap between them), or @until. */
static void
wait_for_sync_gap (gint64 until)
{
  g_mutex_lock (&wal_files_lock);
  while (store_syncs > 0 && g_cond_wait_until (&wal_files_idle, &wal_files_lock, until))
    ;
  g_mutex_unlock (&wal_files_lock);
}

static void
paced_writeback (WalFile *file)
{
  gint64 give_up = g_get_monotonic_time () + PACE_PASS_US;
  const DirtyRange *ranges;
  guint n = file->dirty->len;

  g_array_sort (file->dirty, compare_ranges);
  ranges = (const DirtyRange *) (const void *) file->dirty->data;
  for (guint i = 0; i < n;)
    {
      sqlite3_int64 start = ranges[i].offset;
      sqlite3_int64 end = start;
      gint64 now = g_get_monotonic_time ();
      gboolean late = now >= give_up;
      gsize bytes = 0;

      for (; i < n && (late || bytes == 0 || bytes + (gsize) ranges[i].amount <= PACE_CHUNK_BYTES); i++)
        {
          end = MAX (end, ranges[i].offset + ranges[i].amount);
          bytes += (gsize) ranges[i].amount;
        }
      if (!late)
        wait_for_sync_gap (MIN (now + PACE_WAIT_US, give_up));
      __atomic_add_fetch (&paced_chunks, 1, __ATOMIC_RELAXED);
      if (bytes > __atomic_load_n (&paced_largest, __ATOMIC_RELAXED))
        __atomic_store_n (&paced_largest, bytes, __ATOMIC_RELAXED);  /* one checkpointer */
      db_writeback_begin ();
      /* An error is left to SQLite's sync (see above). */
      sync_file_range (file->writeback_fd, start, end - start,
                       SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
      db_writeback_end ();
    }
  g_array_set_size (file->dirty, 0);
  __atomic_add_fetch (&paced_passes, 1, __ATOMIC_RELAXED);
}

void
natterd_sqlite_wal_paced_checkpoints (guint64 *passes,
                                      guint64 *chunks,
                                      guint64 *largest_chunk)
{
  *passes = __atomic_load_n (&paced_passes, __ATOMIC_RELAXED);
  *chunks = __atomic_load_n (&paced_chunks, __ATOMIC_RELAXED);
  *largest_chunk = __atomic_load_n (&paced_largest, __ATOMIC_RELAXED);
}

static int
wal_sync (sqlite3_file *f,
          int           flags)
{
  WalFile *file = (WalFile *) f;
  int rc = wal_flush (file);
  gboolean header = file->header_written;
  gint64 start;

  if (rc != SQLITE_OK)
    return rc;
  /* A COMMIT's sync, deferred to natterd_sqlite_wal_sync(): its frames
   * are handed on above, before SQLite's wal-index shows them to anyone.
   * The sync of a new WAL's header is SQLite's still. */
  if (defer_syncs && file->allocated > 0 && !header)
    return SQLITE_OK;
  file->header_written = FALSE;
  if (file->dirty != NULL)
    {
      if (pace_writeback && file->dirty->len > 0)
        paced_writeback (file);
      g_array_set_size (file->dirty, 0);
      db_writeback_begin ();
    }
  start = g_get_monotonic_time ();
  if (file->allocated > 0)
    sync_begin ();
  rc = REAL (f)->pMethods->xSync (REAL (f), flags);
  if (file->allocated > 0)
    sync_end ();
  sync_us += g_get_monotonic_time () - start;
  /* A COMMIT's wait for a new WAL's header (see the top of the function). */
  if (defer_syncs && header && file->allocated > 0)
    natterd_sqlite_wal_note_stall (NATTERD_WAL_STALL_HEADER_SYNC, g_get_monotonic_time () - start, 0);
  if (file->dirty != NULL)
    {
      gint64 took = g_get_monotonic_time () - start;

      db_writeback_end ();
      __atomic_add_fetch (&db_syncs, 1, __ATOMIC_RELAXED);
      __atomic_add_fetch (&db_sync_us, (guint64) took, __ATOMIC_RELAXED);
      note_max (&db_sync_largest_us, (guint64) took);
    }
  /* The WAL started over (see WalSync): what failed to reach the disk
   * before is in the database file, synced by the checkpoint. */
  if (header && rc == SQLITE_OK && file->sync != NULL)
    {
      g_mutex_lock (&wal_files_lock);
      if (file->sync->failed != NULL)
        g_atomic_int_add (&wal_syncs_failed, -1);
      g_clear_error (&file->sync->failed);
      g_mutex_unlock (&wal_files_lock);
    }
  return rc;
}

static gboolean
sync_directory (const char  *wal_name,
                GError     **error)
{
  g_autofree char *dir = g_path_get_dirname (wal_name);
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int saved;

  if (fd >= 0 && fsync (fd) == 0)
    {
      close (fd);
      return TRUE;
    }
  saved = errno;
  if (fd >= 0)
    close (fd);
  g_set_error (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_FAILED, "fsync %s: %s", dir,
               g_strerror (saved));
  return FALSE;
}

void
natterd_sqlite_wal_inject_sync_error (guint nth)
{
  g_mutex_lock (&wal_files_lock);
  inject_at = store_sync_calls + nth;
  g_mutex_unlock (&wal_files_lock);
}

gboolean
natterd_sqlite_wal_sync (const char  *db_path,
                         GError     **error)
{
  g_autofree char *name = g_strconcat (db_path, "-wal", NULL);
  WalSync *sync;
  gboolean ok = TRUE;
  gboolean injecting;
  guint slot = 0;
  guint bucket;
  gint64 took;
  gint64 mark;
  int saved = 0;

  g_mutex_lock (&wal_files_lock);
  sync = wal_sync_find (name);
  if (sync == NULL)
    {
      g_mutex_unlock (&wal_files_lock);
      g_set_error (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_FAILED, "%s is not open", name);
      return FALSE;
    }
  sync->syncing++;
  for (;;)
    {
      if (sync->failed != NULL)
        {
          g_set_error (error, NATTERD_STORE_ERROR, sync->failed->code,
                       "%s (until the WAL starts over)", sync->failed->message);
          ok = FALSE;
          goto out;
        }
      for (slot = 0; slot < WAL_SYNC_FDS && sync->busy[slot]; slot++)
        ;
      if (slot < WAL_SYNC_FDS)
        break;
      g_cond_wait (&wal_files_idle, &wal_files_lock);
    }
  sync->busy[slot] = TRUE;
  store_syncs++;
  store_syncs_most = MAX (store_syncs_most, store_syncs);
  injecting = ++store_sync_calls == inject_at;
  if (injecting)
    injected_errors++;
  g_mutex_unlock (&wal_files_lock);

  /* What the writer handed to SQLite's VFS is in the page cache: one
   * fdatasync() of the inode makes it durable, whichever descriptor
   * wrote it. The first also makes the file's name durable, as SQLite
   * does for a file it created. */
  if (!injecting)
    sync_begin ();
  else
    __atomic_add_fetch (&syncs_started, 1, __ATOMIC_SEQ_CST);
  mark = natterd_sqlite_wal_db_writes_mark ();
  took = g_get_monotonic_time ();
  if (fdatasync (sync->fds[slot]) != 0)
    {
      saved = errno;
      ok = FALSE;
    }
  took = g_get_monotonic_time () - took;
  for (bucket = 0; bucket < NATTERD_WAL_FDATASYNC_BUCKETS &&
                   (double) took / G_USEC_PER_SEC > fdatasync_bounds[bucket]; bucket++)
    ;
  __atomic_add_fetch (&fdatasync_counts[bucket], 1, __ATOMIC_RELAXED);
  __atomic_add_fetch (&fdatasync_us, (guint64) took, __ATOMIC_RELAXED);
  note_max (&fdatasync_largest_us, (guint64) took);
  if (natterd_sqlite_wal_db_written_since (mark))
    {
      __atomic_add_fetch (&beside_counts[bucket], 1, __ATOMIC_RELAXED);
      __atomic_add_fetch (&beside_us, (guint64) took, __ATOMIC_RELAXED);
    }
  g_mutex_lock (&wal_files_lock);
  /* The injected writeback error, as the kernel reports one. */
  if (ok && sync->injected_seen[slot] != injected_errors)
    {
      saved = EIO;
      ok = FALSE;
    }
  sync->injected_seen[slot] = injected_errors;
  g_mutex_unlock (&wal_files_lock);
  /* The injected one is slow after its fdatasync() returned, not before. */
  if (injecting && sync_delay_ms () > 0)
    g_usleep (sync_delay_ms () * 1000);
  sync_end ();

  g_mutex_lock (&wal_files_lock);
  if (ok && !sync->dir_synced)
    {
      ok = sync_directory (name, error);
      sync->dir_synced = ok;
    }
  else if (!ok)
    {
      g_set_error (error, NATTERD_STORE_ERROR,
                   saved == ENOSPC || saved == EDQUOT ? NATTERD_STORE_ERROR_FULL : NATTERD_STORE_ERROR_FAILED,
                   "fdatasync %s: %s", name, g_strerror (saved));
      if (sync->failed == NULL)
        {
          sync->failed = g_error_copy (*error);
          g_atomic_int_inc (&wal_syncs_failed);
        }
    }
  sync->busy[slot] = FALSE;
  store_syncs--;
out:
  sync->syncing--;
  g_cond_broadcast (&wal_files_idle);
  g_mutex_unlock (&wal_files_lock);
  return ok;
}

const double *
natterd_sqlite_wal_fdatasync_times (gboolean  beside,
                                    guint64   counts[NATTERD_WAL_FDATASYNC_BUCKETS + 1],
                                    guint64  *count,
                                    double   *sum)
{
  *count = 0;
  for (guint i = 0; i <= NATTERD_WAL_FDATASYNC_BUCKETS; i++)
    {
      counts[i] = __atomic_load_n (beside ? &beside_counts[i] : &fdatasync_counts[i], __ATOMIC_RELAXED);
      *count += counts[i];
    }
  *sum = (double) __atomic_load_n (beside ? &beside_us : &fdatasync_us, __ATOMIC_RELAXED) / G_USEC_PER_SEC;
  return fdatasync_bounds;
}

gboolean
natterd_sqlite_wal_sync_failed (const char *db_path)
{
  g_autofree char *name = NULL;
  WalSync *sync;
  gboolean failed;

  if (g_atomic_int_get (&wal_syncs_failed) == 0)
    return FALSE;
  name = g_strconcat (db_path, "-wal", NULL);
  g_mutex_lock (&wal_files_lock);
  sync = wal_sync_find (name);
  failed = sync != NULL && sync->failed != NULL;
  g_mutex_unlock (&wal_files_lock);
  return failed;
}

void
natterd_sqlite_wal_store_syncs (guint *in_flight,
                                guint *most)
{
  g_mutex_lock (&wal_files_lock);
  *in_flight = store_syncs;
  *most = store_syncs_most;
  g_mutex_unlock (&wal_files_lock);
}

gint64
natterd_sqlite_wal_take_sync_us (void)
{
  gint64 us = sync_us;

  sync_us = 0;
  return us;
}

static int
wal_file_size (sqlite3_file  *f,
               sqlite3_int64 *size)
{
  int rc = wal_flush ((WalFile *) f);

  return rc != SQLITE_OK ? rc : REAL (f)->pMethods->xFileSize (REAL (f), size);
}

static int
wal_lock (sqlite3_file *f,
          int           level)
{
  return REAL (f)->pMethods->xLock (REAL (f), level);
}

static int
wal_unlock (sqlite3_file *f,
            int           level)
{
  int rc = wal_flush ((WalFile *) f);
  int unlocked = REAL (f)->pMethods->xUnlock (REAL (f), level);

  return rc != SQLITE_OK ? rc : unlocked;
}

static int
wal_check_reserved_lock (sqlite3_file *f,
                         int          *out)
{
  return REAL (f)->pMethods->xCheckReservedLock (REAL (f), out);
}

static int
wal_file_control (sqlite3_file *f,
                  int           op,
                  void         *arg)
{
  int rc = wal_flush ((WalFile *) f);

  return rc != SQLITE_OK ? rc : REAL (f)->pMethods->xFileControl (REAL (f), op, arg);
}

static int
wal_sector_size (sqlite3_file *f)
{
  return REAL (f)->pMethods->xSectorSize (REAL (f));
}

static int
wal_device_characteristics (sqlite3_file *f)
{
  return REAL (f)->pMethods->xDeviceCharacteristics (REAL (f));
}

static int
wal_shm_map (sqlite3_file  *f,
             int            page,
             int            page_size,
             int            extend,
             void volatile **out)
{
  return REAL (f)->pMethods->xShmMap (REAL (f), page, page_size, extend, out);
}

static int
wal_shm_lock (sqlite3_file *f,
              int           offset,
              int           n,
              int           flags)
{
  return REAL (f)->pMethods->xShmLock (REAL (f), offset, n, flags);
}

static void
wal_shm_barrier (sqlite3_file *f)
{
  REAL (f)->pMethods->xShmBarrier (REAL (f));
}

static int
wal_shm_unmap (sqlite3_file *f,
               int           delete_flag)
{
  return REAL (f)->pMethods->xShmUnmap (REAL (f), delete_flag);
}

static int
wal_fetch (sqlite3_file  *f,
           sqlite3_int64  offset,
           int            amount,
           void         **out)
{
  int rc = wal_flush ((WalFile *) f);

  return rc != SQLITE_OK ? rc : REAL (f)->pMethods->xFetch (REAL (f), offset, amount, out);
}

static int
wal_unfetch (sqlite3_file  *f,
             sqlite3_int64  offset,
             void          *page)
{
  return REAL (f)->pMethods->xUnfetch (REAL (f), offset, page);
}

static const sqlite3_io_methods wal_methods_v3 = {
  .iVersion = 3,
  .xClose = wal_close,
  .xRead = wal_read,
  .xWrite = wal_write,
  .xTruncate = wal_truncate,
  .xSync = wal_sync,
  .xFileSize = wal_file_size,
  .xLock = wal_lock,
  .xUnlock = wal_unlock,
  .xCheckReservedLock = wal_check_reserved_lock,
  .xFileControl = wal_file_control,
  .xSectorSize = wal_sector_size,
  .xDeviceCharacteristics = wal_device_characteristics,
  .xShmMap = wal_shm_map,
  .xShmLock = wal_shm_lock,
  .xShmBarrier = wal_shm_barrier,
  .xShmUnmap = wal_shm_unmap,
  .xFetch = wal_fetch,
  .xUnfetch = wal_unfetch,
};

/* By version: [k] is wal_methods_v3 with iVersion k. */
static sqlite3_io_methods wal_methods[4];

static int
wal_open (sqlite3_vfs  *vfs,
          const char   *name,
          sqlite3_file *f,
          int           flags,
          int          *out_flags)
{
  WalFile *file = (WalFile *) f;
  int rc;

  memset (file, 0, sizeof *file);
  file->writeback_fd = -1;
  file->real = (sqlite3_file *) &file[1];
  rc = root_vfs->xOpen (root_vfs, name, file->real, flags, out_flags);
  if (rc != SQLITE_OK || file->real->pMethods == NULL)
    {
      /* SQLite calls no method of a file it failed to open. */
      file->base.pMethods = NULL;
      return rc;
    }
  if (flags & SQLITE_OPEN_WAL)
    {
      file->allocated = WAL_BUFFER_MAX;
      file->buffer = g_malloc (WAL_BUFFER_MAX);
      if (file->real->pMethods->xFileSize (file->real, &file->size) != SQLITE_OK)
        file->size = 0;
      if (name != NULL)
        file->sync = wal_sync_ref (name);
    }
  else if ((flags & SQLITE_OPEN_MAIN_DB) && name != NULL)
    {
      /* Without it, checkpoints are not paced. */
      file->writeback_fd = open (name, O_RDONLY | O_CLOEXEC);
      if (file->writeback_fd >= 0)
        file->dirty = g_array_new (FALSE, FALSE, sizeof (DirtyRange));
    }
  /* SQLite calls xShmMap() or xFetch() only on files whose methods'
   * version has them: the version is the real file's. */
  file->base.pMethods = &wal_methods[CLAMP (file->real->pMethods->iVersion, 1, 3)];
  return rc;
}

static gpointer
register_vfs (gpointer data)
{
  static sqlite3_vfs vfs;

  root_vfs = sqlite3_vfs_find (NULL);
  for (int k = 1; k <= 3; k++)
    {
      wal_methods[k] = wal_methods_v3;
      wal_methods[k].iVersion = k;
    }
  vfs = *root_vfs;
  vfs.zName = WAL_VFS_NAME;
  vfs.szOsFile = (int) sizeof (WalFile) + root_vfs->szOsFile;
  vfs.xOpen = wal_open;
  vfs.pAppData = NULL;
  if (sqlite3_vfs_register (&vfs, 0) != SQLITE_OK)
    return NULL;
  return (gpointer) WAL_VFS_NAME;
}

const char *
natterd_sqlite_wal_vfs (void)
{
  static GOnce once = G_ONCE_INIT;

  return g_once (&once, register_vfs, NULL);
}
