/* natterd-store-pg-private.h — NatterdStorePg spans several files, as
 * NatterdStoreSqlite does:
 *
 *  - natterd-store-pg.c: connections, parameters and errors, reconnects,
 *    lifetime, the administration commands
 *  - natterd-store-pg-schema.c: the migrations and the start-up load
 *  - natterd-store-pg-write.c: the writer thread's ops, a batch in one
 *    transaction
 *  - natterd-store-pg-read.c: the reader thread's reads
 *
 * Each connection prepares the statements of its thread (named "w<N>"
 * and "r<N>") when it connects.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <libpq-fe.h>

#include "natterd-store-pg.h"

G_BEGIN_DECLS

enum {
  PW_INSERT_MESSAGE,
  PW_FIND_DUPLICATE,
  PW_NEXT_IDS,
  PW_INSERT_INBOX,
  PW_INSERT_HOUR,
  PW_UPSERT_USER,
  PW_CREATE_USER,
  PW_FIND_USER,
  PW_UPSERT_DEVICE,
  PW_GET_MESSAGE,
  PW_RECALL_MESSAGE,
  PW_EDIT_MESSAGE,
  PW_PIN,
  PW_UNPIN,
  PW_MUTE,
  PW_UNMUTE,
  PW_REMOVE_CONVERSATION,
  PW_CLEAR_UNREAD,
  PW_UPSERT_GROUP,
  PW_CREATE_GROUP,
  PW_FIND_GROUP,
  PW_DELETE_GROUP,
  PW_DELETE_GROUP_MEMBERS,
  PW_ADD_MEMBER,
  PW_REMOVE_MEMBER,
  PW_GAG_MEMBER,
  PW_CREATE_CHATROOM,
  PW_RENAME_CHATROOM,
  PW_DELETE_CHATROOM,
  PW_ADD_BLACKLIST,
  PW_REMOVE_BLACKLIST,
  PW_INSERT_MEDIA,
  PW_PRUNE_CUTOFF,
  PW_PRUNE_INBOX,
  PW_INSERT_NONCE,
  PW_PRUNE_NONCES,
  PW_INSERT_WEBHOOK_EVENT,
  PW_DELETE_WEBHOOK_EVENT,
  PW_NEXT_TIMELINE_SEQ,
  PW_LOCK_TIMELINE,
  PW_INSERT_MENTION,
  PW_JOIN_TIMELINE,
  PW_LEAVE_TIMELINE,
  PW_DISMISS_TIMELINE,
  PW_READ_TIMELINE,
  PW_TICK_CLOCK,
  PW_CLEAR_HISTORY,
  PW_CLEAR_TIMELINE,
  PW_INSERT_MESSAGES,
  PW_NEXT_TIMELINE_SEQS,
  PW_INSERT_MENTIONS,
  PW_UPSERT_CONVERSATIONS,
  PW_BUMP_SEQS,
  PW_INSERT_READERS,
  PW_CHANGE,
  PW_CHANGE_USER_ID,
  PW_PRUNE_CHANGES,
  PW_PRUNE_ACCOUNT_CHANGES,
  PW_N_STATEMENTS
};

enum {
  PR_REPLAY,
  PR_HISTORY,
  PR_MEDIA,
  PR_EXPORT_FIRST_ID,
  PR_EXPORT,
  PR_WEBHOOK_EVENTS,
  PR_WEBHOOK_CLAIM,
  PR_WEBHOOK_CLAIMED_EVENTS,
  PR_MEDIA_USAGE,
  PR_TIMELINE_MEMBER,
  PR_TIMELINE,
  PR_TIMELINE_CLOCK,
  PR_TIMELINE_SYNC,
  PR_TIMELINE_UNREAD,
  PR_TIMELINE_MENTIONED,
  PR_CONVERSATIONS,
  PR_READERS,
  PR_N_STATEMENTS
};

/* The text parameters of one statement (libpq's text format). */
#define PG_MAX_PARAMS 16

typedef struct
{
  const char *values[PG_MAX_PARAMS];
  char        numbers[PG_MAX_PARAMS][24];
  int         n;
} PgParams;

void natterd_pg_params_int  (PgParams   *params,
                             gint64      value);
void natterd_pg_params_text (PgParams   *params,
                             const char *value);
/* A bigint[] parameter's text: "{1,2,3}" of @values (gint64). */
char *natterd_pg_int_array  (GArray     *values);

/* One end of the store: a connection and what it prepared. */
typedef struct
{
  PGconn             *conn;
  const char * const *sql;
  guint               n_sql;
  char                prefix;
  gint64              retry_at;   /* monotonic µs: no connection attempt before */
  gint64              backoff;    /* µs */
} PgLink;

/* A pipeline sent whose results are not read yet: a batch's last
 * statements and its COMMIT (natterd_pg_send_pipeline()). */
typedef struct
{
  PGconn             *conn;
  const char * const *sql;
  int                *indexes;    /* each call's statement */
  guint               n;
  guint64             number;     /* the writer's count of commits sent */
  GPtrArray          *ops;        /* NatterdOp: the batch, failed if it fails */
  gboolean            reading;
} PgUnread;

struct _NatterdStorePg
{
  NatterdStore  parent_instance;

  char         *conninfo;
  char         *node_name;      /* [cluster] node-name, "" for a single node */
  PgLink        writer;         /* start-up and admin, then the writer thread */
  PgLink        reader;         /* reader thread */
  /* The writer thread's other connection: batches alternate between the
   * two, so the next batch's statements run while a COMMIT waits for
   * the disk; a sync thread reads that COMMIT (natterd_store_pg_sync()). */
  PgLink        spare;
  GMutex        unread_lock;
  GCond         unread_done;
  PgUnread     *unread[2];      /* one a connection at most */
  guint64       commits_sent;
  gboolean      publishes_only; /* the last batch held publishes only */

  /* Writer thread, one batch: conversation rows folded, the message ids
   * fetched for it, the timeline clock stamp (0: not taken yet). */
  GHashTable   *pending_conversations;
  GArray       *pending_inbox;  /* entries waiting for their seq, see flush_inbox() */
  GArray       *ids;
  guint         next_id;
  gint64        ids_drawn;      /* monotonic µs the ids were drawn */
  /* Writer thread, a batch of publishes only: the recipients' seqs taken
   * with the messages' rows, as if all were new (users.id → gint64
   * count, then the last seq), see flush_inbox(); NULL otherwise. */
  GHashTable   *bumped_counts;
  GHashTable   *bumped_last;
  gint64        clock;
  gint64        last_hour;
  gboolean      began;          /* BEGIN sent: it goes with the batch's first statements */
  GPtrArray    *keep;           /* texts the deferred statements of the batch point to */
  /* Writer thread: ids this node gave a user or group that another node
   * had stored first under its own id (gint64 → gint64): ops queued
   * before the main thread took the stored id are written with it. */
  GHashTable   *adopted_users;
  GHashTable   *adopted_groups;
};

extern const char * const natterd_store_pg_writer_sql[PW_N_STATEMENTS];
extern const char * const natterd_store_pg_reader_sql[PR_N_STATEMENTS];

/* ----------------------------------------------------- natterd-store-pg.c */

/* Connected, with the link's statements prepared; or FALSE with
 * NATTERD_STORE_ERROR_UNAVAILABLE (tried again after a backoff). */
gboolean  natterd_pg_link_ready (PgLink      *link,
                                 const char  *conninfo,
                                 GError     **error);
/* Runs prepared statement @index of @link; the result when it succeeded
 * (tuples or command), else NULL with @error set from the SQLSTATE. */
PGresult *natterd_pg_run        (PgLink      *link,
                                 int          index,
                                 PgParams    *params,
                                 GError     **error);
/* One prepared statement of a pipeline (natterd_pg_run_pipeline()). */
typedef struct
{
  int      index;
  PgParams params;
} PgCall;

/* Not a prepared statement: BEGIN and COMMIT, as calls of a pipeline. */
#define PG_CALL_BEGIN  (-1)
#define PG_CALL_COMMIT (-2)

PgCall   *natterd_pg_call_new   (GPtrArray   *calls,
                                 int          index);
/* @src's values, its numbers copied along (they point into it). */
void      natterd_pg_params_copy (PgParams       *dest,
                                  const PgParams *src);
/* Sends @calls (PgCall) to the server in one pipeline (libpq pipeline
 * mode: no round trip per statement) and reads their results in order
 * into @results (each freed by the caller, NULL past a failure); FALSE
 * with @error at the first that failed (the others are not run). */
gboolean  natterd_pg_run_pipeline (PgLink    *link,
                                   GPtrArray *calls,
                                   PGresult **results,
                                   GError   **error);

/* As natterd_pg_run_pipeline(), results dropped, but the last chunk's
 * results (the COMMIT's) are left to natterd_pg_read_pipeline(): NULL
 * with @error if a statement before it failed or the sending did. */
PgUnread *natterd_pg_send_pipeline (PgLink    *link,
                                    GPtrArray *calls,
                                    GError   **error);
gboolean  natterd_pg_read_pipeline (PgUnread  *unread,
                                    GError   **error);
void      natterd_pg_unread_free   (PgUnread  *unread);

/* Runs @sql (no parameters; several statements allowed). */
gboolean  natterd_pg_exec       (PGconn      *conn,
                                 const char  *sql,
                                 GError     **error);
PGresult *natterd_pg_query      (PGconn      *conn,
                                 const char  *sql,
                                 PgParams    *params,
                                 GError     **error);
/* Sets @error from a failed result or connection and returns FALSE. */
gboolean  natterd_pg_fail       (PGconn         *conn,
                                 const PGresult *result,
                                 const char     *what,
                                 GError        **error);
gint64    natterd_pg_int        (const PGresult *result,
                                 int             row,
                                 int             column);
char     *natterd_pg_text       (const PGresult *result,
                                 int             row,
                                 int             column);
/* A column of the given row, NULL if SQL NULL. */
const char *natterd_pg_value    (const PGresult *result,
                                 int             row,
                                 int             column);

/* -------------------------------------------- natterd-store-pg-accounts.c */

gboolean natterd_store_pg_write_account     (PGconn                  *conn,
                                             NatterdAccountOp        *op,
                                             GError                 **error);
gboolean natterd_store_pg_read_account_rows (PGconn                  *conn,
                                             NatterdAccountRowsRead  *read,
                                             GError                 **error);
gboolean natterd_store_pg_write_login        (PGconn                  *conn,
                                             NatterdLoginOp          *op,
                                             GError                 **error);
gboolean natterd_store_pg_read_login         (PGconn                  *conn,
                                             NatterdLoginRead        *read,
                                             GError                 **error);
gboolean natterd_store_pg_read_user_groups   (PGconn                  *conn,
                                             NatterdUserGroupsRead   *read,
                                             GError                 **error);
gboolean natterd_store_pg_read_user         (PGconn                  *conn,
                                             NatterdUserRead         *read,
                                             GError                 **error);
gboolean natterd_store_pg_read_members      (PGconn                  *conn,
                                             NatterdMembersRead      *read,
                                             GError                 **error);

/* ---------------------------------------------- natterd-store-pg-schema.c */

gboolean natterd_store_pg_migrate   (PGconn                 *conn,
                                     int                     target,
                                     GError                **error);
gboolean natterd_store_pg_read_apps (PgLink                 *link,
                                     GPtrArray              *apps,
                                     GError                **error);
/* The transaction horizon of the reader's snapshot (xid8 as text): every
 * transaction below it has ended. */
gboolean natterd_store_pg_read_horizon (PGconn                *conn,
                                        char                 **horizon,
                                        GError               **error);
/* The directory rows the changes from transaction @since on touched (and
 * the users @user_ids), as natterd_store_pg_load_rows() hands them over;
 * each change as "kind\napp id\nref" into @changed. */
gboolean natterd_store_pg_load_changed_rows (PGconn                 *conn,
                                             const NatterdLoadSink  *sink,
                                             gpointer                data,
                                             const char             *since,
                                             GArray                 *user_ids,
                                             GPtrArray              *changed,
                                             GError                **error);
/* The groups user @user_id (users.id) is in, their member rows and the
 * users in them, as natterd_store_pg_load_rows() hands them over. */
gboolean natterd_store_pg_load_user_groups (PGconn                 *conn,
                                            const NatterdLoadSink  *sink,
                                            gpointer                data,
                                            gint64                  user_id,
                                            GError                **error);
gboolean natterd_store_pg_load_rows (PGconn                 *conn,
                                     const NatterdLoadSink  *sink,
                                     gpointer                data,
                                     GError                **error);
gboolean natterd_store_pg_load      (NatterdStore           *store,
                                     const NatterdLoadSink  *sink,
                                     gpointer                data,
                                     GError                **error);

/* ----------------------------------------------- natterd-store-pg-write.c */

void     natterd_store_pg_writer_init     (NatterdStorePg  *self);
void     natterd_store_pg_writer_finalize (NatterdStorePg  *self);
gboolean natterd_store_pg_write           (NatterdStore    *store,
                                           NatterdOp      **ops,
                                           guint            n_ops,
                                           GError         **error);
gboolean natterd_store_pg_sync            (NatterdStore    *store,
                                           gboolean        *shared,
                                           GError         **error);

/* ------------------------------------------------ natterd-store-pg-read.c */

gboolean natterd_store_pg_read (NatterdStore  *store,
                                NatterdRead   *read,
                                GError       **error);

G_END_DECLS
