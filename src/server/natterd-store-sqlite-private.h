/* natterd-store-sqlite-private.h — NatterdStoreSqlite spans several files
 * (as NatterdServer does), each a part of what the backend does:
 *
 *  - natterd-store-sqlite.c: connections, the helpers every part uses,
 *    checkpoints, lifetime
 *  - natterd-store-sqlite-schema.c: the migrations and the start-up load
 *  - natterd-store-sqlite-write.c: the writer thread's ops, a batch in one
 *    transaction
 *  - natterd-store-sqlite-read.c: the reader thread's reads
 *  - natterd-store-sqlite-admin.c: natterd --create-app, --app-setting,
 *    --rotate-secret, --rotate-token-key, --list-apps
 *
 * The statements each thread prepares once are named here so the struct
 * can hold them.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <sqlite3.h>

#include "natterd-store-sqlite.h"

G_BEGIN_DECLS

/* natterd_store_sqlite_writer_sql[], natterd-store-sqlite-write.c */
enum {
  W_BEGIN,
  W_COMMIT,
  W_INSERT_MESSAGE,
  W_FIND_DUPLICATE,
  W_INSERT_INBOX,
  W_GET_MAX_SEQ,
  W_SET_MAX_SEQ,
  W_UPSERT_CONVERSATION,
  W_UPDATE_CONVERSATION,
  W_INSERT_HOUR,
  W_UPSERT_USER,
  W_UPSERT_DEVICE,
  W_GET_MESSAGE,
  W_RECALL_MESSAGE,
  W_EDIT_MESSAGE,
  W_PIN,
  W_UNPIN,
  W_MUTE,
  W_UNMUTE,
  W_REMOVE_CONVERSATION,
  W_CLEAR_UNREAD,
  W_UPSERT_GROUP,
  W_DELETE_GROUP,
  W_DELETE_GROUP_MEMBERS,
  W_ADD_MEMBER,
  W_REMOVE_MEMBER,
  W_GAG_MEMBER,
  W_UPSERT_CHATROOM,
  W_DELETE_CHATROOM,
  W_ADD_BLACKLIST,
  W_REMOVE_BLACKLIST,
  W_INSERT_MEDIA,
  W_PRUNE_CUTOFF,
  W_PRUNE_NEXT_USER,
  W_PRUNE_USER_HEAD,
  W_PRUNE_INBOX,
  W_INSERT_NONCE,
  W_PRUNE_NONCES,
  W_INSERT_WEBHOOK_EVENT,
  W_DELETE_WEBHOOK_EVENT,
  W_GET_TIMELINE,
  W_UPSERT_TIMELINE,
  W_INSERT_MENTION,
  W_JOIN_TIMELINE,
  W_LEAVE_TIMELINE,
  W_DISMISS_TIMELINE,
  W_READ_TIMELINE,
  W_GET_CLOCK,
  W_SET_CLOCK,
  W_CLEAR_HISTORY,
  W_CLEAR_TIMELINE,
  W_INSERT_READER,
  W_N_STATEMENTS
};

/* natterd_store_sqlite_reader_sql[], natterd-store-sqlite-read.c */
enum {
  R_REPLAY,
  R_HISTORY,
  R_MEDIA,
  R_EXPORT_FIRST_ID,
  R_EXPORT,
  R_WEBHOOK_EVENTS,
  R_MESSAGE_FLAGS,
  R_MEDIA_USAGE,
  R_TIMELINE_MEMBER,
  R_TIMELINE,
  R_TIMELINE_CLOCK,
  R_TIMELINE_SYNC,
  R_TIMELINE_UNREAD,
  R_TIMELINE_MENTIONED,
  R_READERS,
  R_SNAPSHOT,
  R_N_STATEMENTS
};

struct _NatterdStoreSqlite
{
  NatterdStore  parent_instance;

  char         *path;
  sqlite3      *db;             /* writer: start-up, then the writer thread */
  sqlite3      *reader_db;      /* reader thread */
  sqlite3_stmt *writer_stmts[W_N_STATEMENTS];
  sqlite3_stmt *reader_stmts[R_N_STATEMENTS];

  /* Writer thread state, valid while no batch failed. */
  GHashTable   *max_seqs;       /* users.id → InboxHead (natterd-store-sqlite-write.c) */
  GHashTable   *pending_conversations; /* this batch, see flush_conversations() */
  gint64        next_message_id;
  gint64        last_hour;
  guint8        dedup_salt[16]; /* store_keys 'dedup': natterd_sqlite_dedup_key() */
  gint64        prune_user;     /* where the inbox's pruning goes on */
  /* Group timelines: "app_id/group id" → the latest seq and time as the
   * writer assigned them (written back once a batch, like max_seqs), and
   * the clock every timeline change of a batch is stamped with. */
  GHashTable   *timelines;
  GHashTable   *dirty_timelines;
  gint64        timeline_clock;
  gboolean      clock_dirty;

  /* Checkpoints run on their own thread and connection, so a commit never
   * waits for the WAL to be copied back into the database file. */
  GThread      *checkpointer;
  GMutex        checkpoint_lock;
  GCond         checkpoint_wake;
  gboolean      checkpoint_stop;
  gboolean      checkpoint_wanted;
  gint          wal_frames;     /* atomic: frames in the WAL after the last commit */
  gint          backfilled;     /* atomic: frames the checkpointer copied in its last pass */
  gint          checkpointing;  /* atomic: the checkpointer is in a pass */
  gint          no_checkpointer; /* atomic: it has no connection */
  int           wal_reset_frames;

  /* Pipelined commits (see natterd-store-sqlite.c): the writer's COMMITs
   * leave their WAL sync to the sync thread once it knows that thread can
   * sync the WAL; COMMITs begun and returned (atomic), and the commits
   * the sync thread made durable, which the reader waits for. */
  gboolean      pipeline_checked; /* writer */
  char         *full_path;      /* the database's, as SQLite names it */
  gboolean      pipelined;      /* set by the writer before its first batch is synced */
  gint64        commits_begun;
  gint64        commits_ended;
  GMutex        durable_lock;
  GCond         durable_wake;
  gint64        durable;        /* guarded by durable_lock */
};


extern const char * const natterd_store_sqlite_writer_sql[W_N_STATEMENTS];
extern const char * const natterd_store_sqlite_reader_sql[R_N_STATEMENTS];

/* ------------------------------------------------- natterd-store-sqlite.c */

/* Sets @error from @rc (NATTERD_STORE_ERROR_FULL when out of space) and
 * returns FALSE. */
gboolean natterd_sqlite_fail        (sqlite3       *db,
                                     int            rc,
                                     const char    *what,
                                     GError       **error);
gboolean natterd_sqlite_exec        (sqlite3       *db,
                                     const char    *sql,
                                     GError       **error);
/* Binds @value, NULL as NULL; the string must outlive the step. */
void     natterd_sqlite_bind_text   (sqlite3_stmt  *stmt,
                                     int            index,
                                     const char    *value);
/* Runs a statement that returns no row, then resets it. */
gboolean natterd_sqlite_step_done   (sqlite3       *db,
                                     sqlite3_stmt  *stmt,
                                     GError       **error);
/* ... without clearing its bindings: every one is bound again before the
 * next step. */
gboolean natterd_sqlite_step_rebound (sqlite3       *db,
                                      sqlite3_stmt  *stmt,
                                      GError       **error);
char    *natterd_sqlite_column_text (sqlite3_stmt  *stmt,
                                     int            column);
/* The integer key of @channel's messages (messages.channel_hash). */
gint64   natterd_sqlite_channel_hash (gint64        app_id,
                                      const char   *channel);
/* The idempotency key of a message (messages.dedup_key), keyed by the
 * database's @salt (16 bytes, schema 13; NULL: schema 12's unkeyed
 * FNV-1a); 0 when it has none (no device or no client_msg_id). */
gint64   natterd_sqlite_dedup_key    (const guint8 *salt,
                                      gint64        sender_id,
                                      const char   *device_id,
                                      const char   *client_msg_id);
/* Schema 13's key: the last two bytes of a client_msg_id are its low
 * bits, and a message whose key is taken takes the key this far up (the
 * same two bytes, the next hash). */
#define NATTERD_SQLITE_DEDUP_TAIL_BITS 16
#define NATTERD_SQLITE_DEDUP_PROBE_STEP (G_GINT64_CONSTANT (1) << NATTERD_SQLITE_DEDUP_TAIL_BITS)
/* The database's dedup key salt (store_keys 'dedup', schema 13). */
gboolean natterd_sqlite_read_dedup_salt (sqlite3   *db,
                                         guint8     salt[16],
                                         GError   **error);
/* Resets @stmt after its rows were stepped through; @rc was the last step's. */
gboolean natterd_sqlite_finish_rows (sqlite3       *db,
                                     sqlite3_stmt  *stmt,
                                     int            rc,
                                     GError       **error);

/* ------------------------------------------ natterd-store-sqlite-schema.c */

/* Takes the database to schema @target, one transaction a version. */
gboolean natterd_store_sqlite_migrate   (sqlite3                *db,
                                         int                     target,
                                         GError                **error);
gboolean natterd_store_sqlite_read_apps (sqlite3                *db,
                                         GPtrArray              *apps,
                                         GError                **error);
gboolean natterd_store_sqlite_load      (NatterdStore           *store,
                                         const NatterdLoadSink  *sink,
                                         gpointer                data,
                                         GError                **error);

/* ------------------------------------------- natterd-store-sqlite-write.c */

void     natterd_store_sqlite_writer_init   (NatterdStoreSqlite  *self);
/* The next message id and the seqs cached, as stored. */
gboolean natterd_store_sqlite_load_counters (NatterdStoreSqlite  *self,
                                             GError             **error);
gboolean natterd_store_sqlite_write         (NatterdStore        *store,
                                             NatterdOp          **ops,
                                             guint                n_ops,
                                             GError             **error);

/* Writer thread, before its first transaction: commits without waiting
 * for the disk from now on, if the sync thread can sync the WAL. */
void     natterd_store_sqlite_start_pipeline (NatterdStoreSqlite *self);
/* Writer thread: COMMIT, counted for the reader (it waits until every
 * COMMIT its snapshot may hold is durable). */
gboolean natterd_store_sqlite_commit        (NatterdStoreSqlite  *self,
                                             GError             **error);

/* -------------------------------------------- natterd-store-sqlite-read.c */

gboolean natterd_store_sqlite_read (NatterdStore  *store,
                                    NatterdRead   *read,
                                    GError       **error);

/* ---------------------------------------- natterd-store-sqlite-accounts.c */

gboolean natterd_store_sqlite_write_account     (NatterdStoreSqlite      *self,
                                                 NatterdAccountOp        *op,
                                                 GError                 **error);
gboolean natterd_store_sqlite_read_account_rows (NatterdStoreSqlite      *self,
                                                 NatterdAccountRowsRead  *read,
                                                 GError                 **error);
gboolean natterd_store_sqlite_write_login       (NatterdStoreSqlite      *self,
                                                 NatterdLoginOp          *op,
                                                 GError                 **error);
gboolean natterd_store_sqlite_read_login        (NatterdStoreSqlite      *self,
                                                 NatterdLoginRead        *read,
                                                 GError                 **error);
gboolean natterd_store_sqlite_read_user_groups  (NatterdStoreSqlite      *self,
                                                 NatterdUserGroupsRead   *read,
                                                 GError                 **error);

/* ------------------------------------------- natterd-store-sqlite-admin.c */

gboolean   natterd_store_sqlite_create_app    (NatterdStore      *store,
                                               NatterdAppRecord  *record,
                                               GError           **error);
gboolean   natterd_store_sqlite_update_app    (NatterdStore      *store,
                                               const char        *app_key,
                                               const char        *settings,
                                               GError           **error);
GPtrArray *natterd_store_sqlite_list_apps     (NatterdStore      *store,
                                               GError           **error);
gboolean   natterd_store_sqlite_rotate_secret (NatterdStore      *store,
                                               const char        *app_key,
                                               const char        *secret,
                                               gint64             old_expires,
                                               GError           **error);
gboolean   natterd_store_sqlite_set_token_key (NatterdStore      *store,
                                               const char        *app_key,
                                               GBytes            *token_key,
                                               GError           **error);

/* --------------------------------------------- natterd-store-sqlite-wal.c */

const char *natterd_sqlite_wal_vfs (void);
/* How long this thread's WAL syncs took since the last call. */
gint64      natterd_sqlite_wal_take_sync_us (void);
/* This thread's COMMITs hand their WAL frames on and leave their sync to
 * natterd_sqlite_wal_sync() (see "pipelined commits" in
 * natterd-store-sqlite.c). */
void        natterd_sqlite_wal_defer_syncs  (gboolean     defer);
/* Any thread: makes what was written to @db_path's WAL so far durable. */
gboolean    natterd_sqlite_wal_sync         (const char  *db_path,
                                             GError     **error);
/* A sync of the WAL failed and it has not started over since: every
 * natterd_sqlite_wal_sync() fails until it does. */
gboolean    natterd_sqlite_wal_sync_failed  (const char  *db_path);
/* This thread's syncs of the database (a checkpoint's) write its pages
 * back in chunks between the WAL's syncs first (natterd-store-sqlite-wal.c). */
void        natterd_sqlite_wal_pace_checkpoints (gboolean pace);
/* Whether a checkpoint's writes of the database to the disk were under
 * way at natterd_sqlite_wal_db_writes_mark() or began since: a WAL sync
 * meanwhile shared the disk with them. */
gint64      natterd_sqlite_wal_db_writes_mark   (void);
gboolean    natterd_sqlite_wal_db_written_since (gint64       mark);

G_END_DECLS
