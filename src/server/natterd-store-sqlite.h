/* natterd-store-sqlite.h — the embedded default backend: SQLite in WAL mode
 *
 * A commit is on disk (fdatasync of the WAL) before the store reports it,
 * so an acknowledged message survives power loss. The sync runs on a
 * thread of its own (pipelined: batch N is synced while batch N+1's SQL
 * runs); reads see only what is durable.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "natterd-store.h"

G_BEGIN_DECLS

#define NATTERD_TYPE_STORE_SQLITE (natterd_store_sqlite_get_type ())
G_DECLARE_FINAL_TYPE (NatterdStoreSqlite, natterd_store_sqlite, NATTERD, STORE_SQLITE, NatterdStore)

/* The schema version this natterd writes (PRAGMA user_version). */
#define NATTERD_STORE_SQLITE_SCHEMA_VERSION 13

/* Opens (creating and migrating) DIR/natterd.db. */
NatterdStore *natterd_store_sqlite_open            (const char  *data_dir,
                                                    GError     **error);
/* The page cache of each of the writer's and the reader's connections, at
 * most @bytes (what natterd's heap grows by as it reads and writes, then
 * stays at). Before natterd_store_start(). */
void          natterd_store_sqlite_set_cache_size  (NatterdStoreSqlite *self,
                                                    guint64             bytes);
/* How large the WAL grows before the writer makes it start over (see
 * "checkpoints" in natterd-store-sqlite.c). Before starting. 256 MiB by
 * default: half as many start-overs as 128, each a header sync and a copy
 * the writer waits for, lowered the 2,000 and 5,000 msgs/s p99 in 5 of 6
 * quiet-box comparisons (#17). */
#define NATTERD_STORE_SQLITE_WAL_MIB 256
void          natterd_store_sqlite_set_wal_size    (NatterdStoreSqlite *self,
                                                    guint64             bytes);
/* WAL syncs begun and ended in this process (SQLite's own and the sync
 * thread's), for tests: an op completes only after a sync that began
 * after its commit has ended. */
void          natterd_sqlite_wal_sync_counts       (guint64    *started,
                                                    guint64    *completed);
/* The store's syncs of a WAL (not SQLite's own) under way now, and the
 * most ever under way at once, for tests (#17: two sync threads). */
void          natterd_sqlite_wal_store_syncs       (guint      *in_flight,
                                                    guint      *most);
/* The store's fdatasync() calls of a WAL in this process by how long
 * each took (seconds; [N]: longer than the last bound), for /metrics
 * (#17); @beside: only those beside a checkpoint's writes of the
 * database. Returns the bounds. */
#define NATTERD_WAL_FDATASYNC_BUCKETS 14
const double *natterd_sqlite_wal_fdatasync_times   (gboolean    beside,
                                                    guint64     counts[NATTERD_WAL_FDATASYNC_BUCKETS + 1],
                                                    guint64    *count,
                                                    double     *sum);
/* The longest single WAL fdatasync() so far; the syncs of the main
 * database (SQLite's, ending each checkpoint pass): how many, their
 * seconds and the longest one; and the bytes written to the main
 * database (in WAL mode, the checkpoints' copies), for /metrics and
 * tests (#17: what the checkpoints add to the disk beside the WAL). */
void          natterd_sqlite_wal_sync_extremes     (double     *largest_wal_sync,
                                                    guint64    *db_syncs,
                                                    double     *db_sync_seconds,
                                                    double     *largest_db_sync,
                                                    guint64    *db_written);
/* Checkpoint passes whose pages went to the disk paced, in chunks
 * between the WAL's syncs (natterd-store-sqlite-wal.c), the chunks, and
 * the largest chunk's bytes, for /metrics and tests (#17). */
void          natterd_sqlite_wal_paced_checkpoints (guint64    *passes,
                                                    guint64    *chunks,
                                                    guint64    *largest_chunk);
/* Bytes written past a WAL's end (the file grew) and the times SQLite
 * cut a WAL back (journal_size_limit) in this process, for /metrics and
 * tests (#17: a sync of a write that grew the file commits the
 * filesystem's journal too). */
void          natterd_sqlite_wal_resizes           (guint64    *extended_bytes,
                                                    guint64    *truncates);
/* The writer's own waits for the disk, the tail's suspects (#17): the
 * sync of a new WAL's header inside a COMMIT (SQLite's, once a WAL
 * restart), and the checkpoints the writer runs itself to start the WAL
 * over (natterd_store_sqlite_maintain()). Every message queued meanwhile
 * waits as long. For /metrics: how many, their seconds, and the frames
 * the writer's checkpoints copied. */
typedef enum
{
  NATTERD_WAL_STALL_HEADER_SYNC,
  NATTERD_WAL_STALL_CHECKPOINT,
  NATTERD_WAL_N_STALLS
} NatterdWalStall;
void          natterd_sqlite_wal_note_stall        (NatterdWalStall kind,
                                                    gint64          us,
                                                    guint           frames);
void          natterd_sqlite_wal_stalls            (NatterdWalStall kind,
                                                    guint64        *count,
                                                    double         *seconds,
                                                    guint64        *frames);
/* Tests: the @nth of the store's WAL syncs from now (1: the next)
 * records a writeback error on the WAL as it begins, which each open file
 * description's next fdatasync() reports, once (as Linux's errseq_t
 * does); with NATTERD_TEST_WAL_SYNC_DELAY_MS that sync is slow after its
 * fdatasync() returned instead of before. */
void          natterd_sqlite_wal_inject_sync_error (guint       nth);
/* Tests: open and migrate only up to @version (0 = empty, no tables). */
NatterdStore *natterd_store_sqlite_open_at_version (const char  *data_dir,
                                                    int          version,
                                                    GError     **error);

G_END_DECLS
