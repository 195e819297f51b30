/* natter-store-private.h — calls only NatterClient makes, and the store's own parts
 *
 * NatterStore is one class in several files, one concern each, which share
 * the instance struct and the worker's helpers declared at the end of this
 * header:
 *
 *   natter-store.c                the object: worker thread, job queue, the
 *                                 shared object per row, signals, the SQL
 *                                 helpers, key/value state
 *   natter-store-schema.c         opening the database, schema versions and
 *                                 migrations, maintenance
 *   natter-store-messages.c       message rows: add, history, import,
 *                                 update, recall, read marks, pages, search
 *   natter-store-conversations.c  conversation rows: the list, flags,
 *                                 drafts, unread counts, the server's list
 *   natter-store-profiles.c       users' and groups' names and portraits
 *   natter-search-text.c          what the search index keeps (no database)
 *
 * A public call fills a job — a struct of its own per operation whose first
 * member is NatterStoreJob — and pushes it to the worker thread. Only the
 * worker touches the connection: job->run stores or reads the rows and
 * queues the signals to emit. The owner's main context then turns the rows
 * into the one shared object per row, emits the signals and returns the
 * task (natter-store.c, job_complete()).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <sqlite3.h>

#include "natter-store.h"

G_BEGIN_DECLS

/* The signed-in user: decides mentions and the direction of own messages. */
void           natter_store_set_own_user_id       (NatterStore          *self,
                                                   const char           *user_id);

/* add_message for a Deliver: the message and the inbox @seq (0 for none) are
 * committed together, so the seq acked is never ahead of what is stored. */
void           natter_store_add_delivered_async   (NatterStore          *self,
                                                   NatterMessage        *message,
                                                   guint64               seq,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
/* finish with natter_store_add_message_finish(). */

/* RC:ReadNtf from the peer: own SENT messages up to @read_time become READ. */
void           natter_store_mark_read_async       (NatterStore            *self,
                                                   NatterConversationType  type,
                                                   const char             *target_id,
                                                   gint64                  read_time,
                                                   GCancellable           *cancellable,
                                                   GAsyncReadyCallback     callback,
                                                   gpointer                user_data);
gboolean       natter_store_mark_read_finish      (NatterStore            *self,
                                                   GAsyncResult           *result,
                                                   GError                **error);

/* RC:RcCmd: the message with @message_uid becomes RC:RcNtf. Returns it, or
 * NULL without error when it is not stored here. */
void           natter_store_recall_async          (NatterStore          *self,
                                                   const char           *message_uid,
                                                   const char           *operator_id,
                                                   gint64                recall_time,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
/* finish with natter_store_get_message_finish(). */
/* NT:EditCmd: the text message with @message_uid sent by @sender_id gets
 * @content (JSON). Returns it, or NULL without error when not stored here. */
void           natter_store_edit_async            (NatterStore          *self,
                                                   const char           *message_uid,
                                                   const char           *sender_id,
                                                   const char           *content,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);

/* NT:ExpansionCmd (@command: its content JSON): the stored message's
 * expansion gets "set" and loses "remove". Returns it, or NULL without
 * error when not stored here. */
void           natter_store_expand_async          (NatterStore          *self,
                                                   const char           *command,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);

/* Group read receipts: the message with @message_uid sent by @sender_id
 * gets, in its content's local "receipt" object, @what: "requested",
 * "answered", or the reader @reader_id added to "readBy" (@what
 * "readBy"). Returns it, or NULL without error when not stored here or
 * not @sender_id's. */
void           natter_store_receipt_async         (NatterStore          *self,
                                                   const char           *message_uid,
                                                   const char           *sender_id,
                                                   const char           *what,
                                                   const char           *reader_id,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);

/* One conversation of the server's list. */
typedef struct {
  NatterConversationType type;
  char *target_id;
  NatterMessage *latest_message;  /* may be NULL */
  /* Its content is the server's bounded preview (MESSAGE_FLAG_PREVIEW): a
   * row made from it is completed when the message itself comes. */
  gboolean latest_is_preview;
  guint unread_count;
  gboolean pinned;
  gboolean muted;
  gint64 updated_time;
} NatterServerConversation;

void           natter_server_conversation_free    (NatterServerConversation *conversation);

/* Applies the server's conversation list (a GPtrArray of
 * NatterServerConversation): unread counts, pinned, muted, latest messages. */
void           natter_store_merge_conversations_async  (NatterStore          *self,
                                                        GPtrArray            *conversations,
                                                        GCancellable         *cancellable,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);
gboolean       natter_store_merge_conversations_finish (NatterStore          *self,
                                                        GAsyncResult         *result,
                                                        GError              **error);

/* ------------------------------------------------- group timelines (v2) */

/* After natter_store_clear_unread_finish(): the read position the
 * conversation's timeline has now (the newest timeline_seq read here), for
 * ClearUnreadRequest.read_seq; 0 outside timelines. */
guint64        natter_store_clear_unread_get_read_seq (GAsyncResult *result);

/* Stores @messages (of one group timeline, NatterMessage, may be empty) and
 * notes that the timeline is held from after @after_seq through
 * @through_seq: the held position (how far the conversation holds its
 * timeline without a gap) moves to @through_seq when it was at @after_seq
 * or beyond, or whatever it was when @skip (older ones are left to
 * history), and on over messages already stored next to it. A message
 * whose messageUId is stored is not stored again (it gains its
 * timeline_seq). New messages count unread unless read or already in the
 * server's count, and raise ::message-added. Returns the new ones (a
 * GPtrArray); *@held the held position after. */
void           natter_store_add_timeline_async     (NatterStore            *self,
                                                    NatterConversationType  type,
                                                    const char             *target_id,
                                                    GPtrArray              *messages,
                                                    guint64                 after_seq,
                                                    guint64                 through_seq,
                                                    gboolean                skip,
                                                    GCancellable           *cancellable,
                                                    GAsyncReadyCallback     callback,
                                                    gpointer                user_data);
GPtrArray     *natter_store_add_timeline_finish    (NatterStore            *self,
                                                    GAsyncResult           *result,
                                                    guint64                *held,
                                                    GError                **error);

/* What timeline_sync says of one of the user's timelines. */
typedef struct {
  guint64 latest_seq;
  guint64 read_seq;
  guint   unread_count;
  gboolean mentioned;
  gint64  updated_time;
} NatterTimelineState;

/* The server's unread count and "@" mark become the conversation's (plus
 * what is stored here after @state's latest_seq, which the server had not
 * counted yet); its read position only moves forward. A conversation with
 * nothing to see and no row here gets none. Returns the held position in
 * *@held. */
void           natter_store_apply_timeline_state_async  (NatterStore                *self,
                                                         NatterConversationType      type,
                                                         const char                 *target_id,
                                                         const NatterTimelineState  *state,
                                                         GCancellable               *cancellable,
                                                         GAsyncReadyCallback         callback,
                                                         gpointer                    user_data);
gboolean       natter_store_apply_timeline_state_finish (NatterStore                *self,
                                                         GAsyncResult               *result,
                                                         guint64                    *held,
                                                         GError                    **error);

/* How many transactions committed with a sync of the WAL (the outbox and
 * drafts, which natterd does not have yet); any thread. */
guint          natter_store_get_synced_commits    (NatterStore          *self);

/* ------------------------------------------------- the store's own parts */

/* What a job's task returns; the owner makes rows into shared objects. */
typedef enum {
  NATTER_STORE_RESULT_BOOLEAN,
  NATTER_STORE_RESULT_MESSAGE,        /* NatterMessage or NULL */
  NATTER_STORE_RESULT_MESSAGES,       /* GPtrArray of NatterMessage */
  NATTER_STORE_RESULT_CONVERSATION,   /* NatterConversation or NULL */
  NATTER_STORE_RESULT_CONVERSATIONS,  /* GPtrArray of NatterConversation */
  NATTER_STORE_RESULT_STRING,
  NATTER_STORE_RESULT_STRINGS,        /* GPtrArray of char* */
  NATTER_STORE_RESULT_COUNT,          /* a guint in GUINT_TO_POINTER */
} NatterStoreResultKind;

typedef struct _NatterStoreJob NatterStoreJob;
typedef void (*NatterStoreJobFunc) (NatterStore    *self,
                                    NatterStoreJob *job);

/* The first member of every operation's own struct. */
struct _NatterStoreJob
{
  GTask                 *task;
  NatterStoreJobFunc     run;          /* on the worker thread */
  GDestroyNotify         clear;        /* frees the operation's own fields */
  NatterStoreResultKind  result_kind;

  /* Set by run on the worker. */
  gpointer               result;
  GError                *error;
  GPtrArray             *events;       /* signals to emit, in order */
};

/* The inputs of a job about one conversation; an operation with more
 * embeds it first. */
typedef struct
{
  NatterStoreJob          base;
  NatterConversationType  type;
  char                   *target_id;
} NatterStoreConversationJob;

struct _NatterStore
{
  GObject parent_instance;

  char *path;
  GMainContext *context;          /* where jobs complete and signals are emitted */
  GThread *thread;
  GAsyncQueue *queue;

  /* Owner thread only: one object per row while somebody holds it. */
  GHashTable *live_messages;      /* gint64* id -> NatterMessage (weak) */
  GHashTable *live_conversations; /* "type:target" -> NatterConversation (weak) */
  GHashTable *profiles;           /* user id -> NatterProfile: names of senders */

  /* Worker thread only. */
  GThread *worker;                /* the worker sets it first thing */
  sqlite3 *db;
  GError *open_error;
  GHashTable *statements;         /* SQL text -> sqlite3_stmt */
  gboolean synced;                /* this transaction commits with a WAL sync */

  /* Any thread. */
  guint synced_commits;           /* atomic: how many did, for the tests */
  char *own_user_id;
  GMutex own_user_lock;
};

/* A _finish() takes only the task of its own _async() (its source tag). */
#define NATTER_STORE_CHECK_FINISH(self, result, tag, fail) \
  g_return_val_if_fail (NATTER_IS_STORE (self), fail); \
  g_return_val_if_fail (g_task_is_valid (result, self), fail); \
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == (tag), fail)

/* Whatever touches the connection runs on the worker thread. */
#define NATTER_STORE_ASSERT_WORKER(self) g_assert ((self)->worker == g_thread_self ())

/* natter-store.c: jobs. A new job of @size bytes (the operation's struct)
 * whose @run gets it on the worker; @clear (may be NULL) frees its fields. */
gpointer      natter_store_job_new              (NatterStore            *self,
                                                 gsize                   size,
                                                 gpointer                source_tag,
                                                 NatterStoreJobFunc      run,
                                                 GDestroyNotify          clear,
                                                 NatterStoreResultKind   result_kind,
                                                 GCancellable           *cancellable,
                                                 GAsyncReadyCallback     callback,
                                                 gpointer                user_data);
gpointer      natter_store_conversation_job_new (NatterStore            *self,
                                                 gsize                   size,
                                                 gpointer                source_tag,
                                                 NatterStoreJobFunc      run,
                                                 GDestroyNotify          clear,
                                                 NatterStoreResultKind   result_kind,
                                                 NatterConversationType  type,
                                                 const char             *target_id,
                                                 GCancellable           *cancellable,
                                                 GAsyncReadyCallback     callback,
                                                 gpointer                user_data);
/* The clear of NatterStoreConversationJob; an embedding one calls it. */
void          natter_store_conversation_job_clear (gpointer              job);
void          natter_store_job_push             (NatterStore            *self,
                                                 gpointer                job);

/* Signals the job emits on the owner's context once it is done, in the
 * order queued; each takes what it is given. */
void          natter_store_job_emit_message_added    (NatterStoreJob         *job,
                                                      NatterMessage          *message);
void          natter_store_job_emit_message_updated  (NatterStoreJob         *job,
                                                      NatterMessage          *message);
/* Own messages (row ids, gint64) now READ: the live objects follow. */
void          natter_store_job_emit_messages_read    (NatterStoreJob         *job,
                                                      GArray                 *ids);
void          natter_store_job_emit_messages_cleared (NatterStoreJob         *job,
                                                      NatterConversationType  type,
                                                      const char             *target_id);
void          natter_store_job_emit_conversation_changed (NatterStoreJob     *job,
                                                      NatterConversation     *conversation);
void          natter_store_job_emit_conversation_removed (NatterStoreJob     *job,
                                                      NatterConversationType  type,
                                                      const char             *target_id);
/* NatterProfiles of users: senders' names follow (no signal). */
void          natter_store_job_emit_users_changed    (NatterStoreJob         *job,
                                                      GPtrArray              *profiles);

/* natter-store.c: SQL on the worker. Every sqlite3_* result is checked;
 * a failure becomes NATTER_STORE_ERROR_SQLITE naming what failed. */
gboolean      natter_store_sql_failed      (NatterStore    *self,
                                            int             rc,
                                            const char     *what,
                                            GError        **error);
gboolean      natter_store_exec            (NatterStore    *self,
                                            const char     *sql,
                                            GError        **error);
/* A cached prepared statement, reset and unbound; @sql must be static. */
sqlite3_stmt *natter_store_prepare         (NatterStore    *self,
                                            const char     *sql,
                                            GError        **error);
gboolean      natter_store_bind_text       (NatterStore    *self,
                                            sqlite3_stmt   *stmt,
                                            int             index,
                                            const char     *value,
                                            GError        **error);
gboolean      natter_store_bind_int        (NatterStore    *self,
                                            sqlite3_stmt   *stmt,
                                            int             index,
                                            gint64          value,
                                            GError        **error);
/* Runs a statement that returns no rows. */
gboolean      natter_store_step_done       (NatterStore    *self,
                                            sqlite3_stmt   *stmt,
                                            GError        **error);
/* Steps once: TRUE with *has_row on a row (reset the statement after
 * reading it), FALSE on error. */
gboolean      natter_store_step_row        (NatterStore    *self,
                                            sqlite3_stmt   *stmt,
                                            gboolean       *has_row,
                                            GError        **error);
gboolean      natter_store_begin           (NatterStore    *self,
                                            GError        **error);
/* What the user wrote and natterd does not have yet commits with a sync. */
gboolean      natter_store_begin_synced    (NatterStore    *self,
                                            GError        **error);
/* Commits when @ok, else (or when the commit fails) rolls back. */
gboolean      natter_store_commit_or_rollback (NatterStore *self,
                                            gboolean        ok,
                                            GError        **error);

static inline const char *
natter_store_column_text (sqlite3_stmt *stmt,
                          int           column)
{
  return (const char *) sqlite3_column_text (stmt, column);
}

/* natter-store.c: the meta table; any worker code. */
gboolean      natter_store_get_meta        (NatterStore    *self,
                                            const char     *key,
                                            char          **value,
                                            GError        **error);
gboolean      natter_store_set_meta        (NatterStore    *self,
                                            const char     *key,
                                            const char     *value,
                                            GError        **error);
char         *natter_store_dup_own_user_id (NatterStore    *self);

/* natter-store-schema.c: opens and migrates self->path on the worker. */
gboolean      natter_store_open_database   (NatterStore    *self,
                                            GError        **error);

/* natter-store-messages.c: message rows. */
#define NATTER_STORE_MESSAGE_COLUMNS \
  "m.id, m.uid, c.type, c.target_id, m.sender_user_id, m.object_name, m.content, " \
  "m.direction, m.sent_status, m.sent_time, m.received_time, m.offline, m.error_code, " \
  "m.client_msg_id, m.flags"
#define NATTER_STORE_N_MESSAGE_COLUMNS 15

/* A row of NATTER_STORE_MESSAGE_COLUMNS from column @first. */
NatterMessage *natter_store_message_from_row (sqlite3_stmt   *stmt,
                                              int             first);
/* The id of the message with @uid, 0 when none (or @uid is empty). */
gboolean      natter_store_find_by_uid     (NatterStore    *self,
                                            const char     *uid,
                                            gint64         *id,
                                            GError        **error);
/* A new row in @conversation, indexed for search. */
gboolean      natter_store_insert_message  (NatterStore    *self,
                                            gint64          conversation,
                                            NatterMessage  *message,
                                            gint64         *id,
                                            GError        **error);
gboolean      natter_store_index_message   (NatterStore    *self,
                                            gint64          id,
                                            NatterMessage  *message,
                                            GError        **error);

/* Removes the search rows of every message of @conversation. */
gboolean      natter_store_unindex_conversation (NatterStore *self,
                                            gint64          conversation,
                                            GError        **error);
/* Row @id; NULL without error when there is none. */
NatterMessage *natter_store_load_message   (NatterStore    *self,
                                            gint64          id,
                                            GError        **error);
/* Row @id, when it was made from a conversation list's preview, gets
 * @message's content (*@completed says whether it was one). */
gboolean      natter_store_complete_preview (NatterStore   *self,
                                            gint64          id,
                                            NatterMessage  *message,
                                            gboolean       *completed,
                                            GError        **error);
/* Marks row @id as made from a conversation list's bounded preview. */
gboolean      natter_store_mark_preview    (NatterStore    *self,
                                            gint64          id,
                                            GError        **error);

/* natter-store-conversations.c: conversation rows. */
/* The conversation row id, creating the row when @create; 0 when absent. */
gboolean      natter_store_conversation_id (NatterStore             *self,
                                            NatterConversationType   type,
                                            const char              *target_id,
                                            gboolean                 create,
                                            gint64                  *id,
                                            GError                 **error);
/* The time of the last local clear of @conversation: messages sent up to
 * it stay cleared (G_MININT64 when there is no such row). */
gboolean      natter_store_get_cleared_time (NatterStore            *self,
                                            gint64                   conversation,
                                            gint64                  *cleared_time,
                                            GError                 **error);
/* Whether @message was sent before a local clear of @conversation. */
gboolean      natter_store_cleared_before  (NatterStore             *self,
                                            gint64                   conversation,
                                            NatterMessage           *message,
                                            gboolean                *cleared,
                                            GError                 **error);
/* The conversation follows message row @id: latest (when newest); when
 * @live, unhidden and counted unread (and mentions) after the read mark. */
gboolean      natter_store_conversation_take_message (NatterStore    *self,
                                            gint64                   conversation,
                                            gint64                   id,
                                            NatterMessage           *message,
                                            gboolean                 live,
                                            GError                 **error);
/* Queues ::conversation-changed with the row as it is now, or
 * ::conversation-removed when it is gone or hidden. */
gboolean      natter_store_job_emit_conversation (NatterStore            *self,
                                            NatterStoreJob          *job,
                                            NatterConversationType   type,
                                            const char              *target_id,
                                            GError                 **error);

/* natter-store-timelines.c: what clear_unread's task reports of the read
 * position it left on @conversation's timeline (natter_store_clear_unread_get_read_seq()). */
gboolean      natter_store_timeline_note_read_seq (NatterStore    *self,
                                            NatterStoreJob          *job,
                                            gint64                   conversation,
                                            GError                 **error);

/* natter-store-profiles.c: the names a message brings (content.user). */
gboolean      natter_store_remember_sender (NatterStore    *self,
                                            NatterMessage  *message,
                                            GError        **error);
/* Queues the loading of every known name (when the store opens). */
void          natter_store_load_profiles   (NatterStore    *self);

G_END_DECLS
