/* natter-store.c — SQLite on one worker thread
 *
 * Every public call becomes a Job pushed to one worker thread, which alone
 * touches the sqlite3 connection. A finished job goes back to the main
 * context the store was created in: there the rows become the one shared
 * NatterMessage / NatterConversation object per row (updated in place when
 * the row changed), the store's signals are emitted, and only then does the
 * caller's GTask return.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-store-private.h"

#include <sqlite3.h>
#include <string.h>

#include "natter-conversation-private.h"
#include "natter-message-private.h"
#include "natter-search-text.h"

G_DEFINE_QUARK (natter-store-error-quark, natter_store_error)

/* ------------------------------------------------------------------ jobs */

typedef enum {
  RESULT_BOOLEAN,
  RESULT_MESSAGE,         /* NatterMessage or NULL */
  RESULT_MESSAGES,        /* GPtrArray of NatterMessage */
  RESULT_CONVERSATION,    /* NatterConversation or NULL */
  RESULT_CONVERSATIONS,   /* GPtrArray of NatterConversation */
  RESULT_STRING,
  RESULT_STRINGS,         /* GPtrArray of char* */
} ResultKind;

typedef enum {
  EVENT_MESSAGE_ADDED,
  EVENT_MESSAGE_UPDATED,
  EVENT_MESSAGES_READ,         /* ids: sent status READ */
  EVENT_MESSAGES_CLEARED,
  EVENT_CONVERSATION_CHANGED,
  EVENT_CONVERSATION_REMOVED,
  EVENT_USERS_CHANGED,         /* profiles: NatterProfile, senders' names changed */
} EventKind;

typedef struct {
  EventKind kind;
  NatterMessage *message;
  NatterConversation *conversation;
  NatterConversationType type;
  char *target_id;
  GArray *ids;
  GPtrArray *profiles;
} Event;

typedef struct _Job Job;
typedef void (*JobFunc) (NatterStore *self, Job *job);

struct _Job
{
  GTask *task;
  JobFunc func;
  ResultKind result_kind;

  /* inputs */
  NatterMessage *message;
  GPtrArray *array;
  NatterConversationType type;
  char *target_id;
  char *text;
  char *text2;
  gint64 int1;
  gint64 int2;
  guint64 seq;
  guint limit;
  gboolean flag;
  GArray *types;

  /* outputs, set on the worker */
  gpointer result;
  gboolean boolean;
  gboolean added;
  GError *error;
  GPtrArray *events;
};

struct _NatterStore
{
  GObject parent_instance;

  char *path;
  GMainContext *context;        /* where jobs complete and signals are emitted */
  GThread *thread;
  GAsyncQueue *queue;

  /* Owner thread only: one object per row while somebody holds it. */
  GHashTable *live_messages;      /* gint64* id -> NatterMessage (weak) */
  GHashTable *live_conversations; /* "type:target" -> NatterConversation (weak) */
  GHashTable *profiles;           /* user id -> NatterProfile: names of senders */

  /* Worker thread only. */
  sqlite3 *db;
  GError *open_error;
  GHashTable *statements;         /* SQL text -> sqlite3_stmt */
  char *own_user_id;
  GMutex own_user_lock;
  gboolean synced;                /* this transaction commits with a WAL sync */
  guint synced_commits;           /* how many did, for the tests */
};

G_DEFINE_FINAL_TYPE (NatterStore, natter_store, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_PATH,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_MESSAGE_ADDED,
  SIGNAL_MESSAGE_UPDATED,
  SIGNAL_MESSAGES_CLEARED,
  SIGNAL_CONVERSATION_CHANGED,
  SIGNAL_CONVERSATION_REMOVED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* The quit marker on the queue. */
static Job quit_job;

static void
event_free (Event *event)
{
  g_clear_object (&event->message);
  g_clear_object (&event->conversation);
  g_free (event->target_id);
  g_clear_pointer (&event->ids, g_array_unref);
  g_clear_pointer (&event->profiles, g_ptr_array_unref);
  g_free (event);
}

static void
job_free (Job *job)
{
  g_clear_object (&job->task);
  g_clear_object (&job->message);
  g_clear_pointer (&job->array, g_ptr_array_unref);
  g_free (job->target_id);
  g_free (job->text);
  g_free (job->text2);
  g_clear_pointer (&job->types, g_array_unref);
  g_clear_error (&job->error);
  g_clear_pointer (&job->events, g_ptr_array_unref);

  if (job->result != NULL)
    {
      switch (job->result_kind)
        {
        case RESULT_MESSAGE:
        case RESULT_CONVERSATION:
          g_object_unref (job->result);
          break;
        case RESULT_MESSAGES:
        case RESULT_CONVERSATIONS:
        case RESULT_STRINGS:
          g_ptr_array_unref (job->result);
          break;
        case RESULT_STRING:
          g_free (job->result);
          break;
        case RESULT_BOOLEAN:
        default:
          break;
        }
    }

  g_free (job);
}

static Event *
job_add_event (Job       *job,
               EventKind  kind)
{
  Event *event = g_new0 (Event, 1);

  event->kind = kind;
  if (job->events == NULL)
    job->events = g_ptr_array_new_with_free_func ((GDestroyNotify) event_free);
  g_ptr_array_add (job->events, event);
  return event;
}

/* ------------------------------------------------------ canonical objects */

/* Weak notifies run in dispose, before finalize: the row's key can still be
 * read from the object. (A row's id and key never change.) */
static void
live_message_gone (gpointer  data,
                   GObject  *where_the_object_was)
{
  NatterStore *self = data;
  gint64 id = natter_message_get_message_id ((NatterMessage *) where_the_object_was);

  if (g_hash_table_lookup (self->live_messages, &id) == (gpointer) where_the_object_was)
    g_hash_table_remove (self->live_messages, &id);
}

static void
live_conversation_gone (gpointer  data,
                        GObject  *where_the_object_was)
{
  NatterStore *self = data;
  g_autofree char *key = natter_conversation_dup_key ((NatterConversation *) where_the_object_was);

  if (g_hash_table_lookup (self->live_conversations, key) == (gpointer) where_the_object_was)
    g_hash_table_remove (self->live_conversations, key);
}

static void
apply_profile (NatterStore   *self,
               NatterMessage *message)
{
  NatterProfile *profile = g_hash_table_lookup (self->profiles, natter_message_get_sender_user_id (message));

  if (profile != NULL)
    natter_message_set_sender_profile (message, profile->name, profile->portrait_uri);
}

const NatterProfile *
natter_store_lookup_user (NatterStore *self,
                          const char  *user_id)
{
  g_return_val_if_fail (NATTER_IS_STORE (self), NULL);
  return user_id != NULL ? g_hash_table_lookup (self->profiles, user_id) : NULL;
}

/* New names: the messages on screen follow. */
static void
profiles_changed (NatterStore *self,
                  GPtrArray   *profiles)
{
  GHashTableIter iter;
  gpointer value;

  for (guint i = 0; i < profiles->len; i++)
    {
      NatterProfile *profile = g_ptr_array_index (profiles, i);

      NatterProfile *copy = natter_profile_copy (profile);

      g_hash_table_replace (self->profiles, copy->id, copy);
    }
  if (profiles->len > 0)
    {
      g_hash_table_iter_init (&iter, self->live_messages);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        apply_profile (self, value);
      /* "bob: …" in a group's preview */
      g_hash_table_iter_init (&iter, self->live_conversations);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          NatterMessage *latest = natter_conversation_get_latest_message (value);
          g_autofree char *name = NULL;

          if (latest == NULL)
            continue;
          name = g_strdup (natter_message_get_sender_name (latest));
          apply_profile (self, latest);
          if (g_strcmp0 (name, natter_message_get_sender_name (latest)) != 0)
            natter_conversation_latest_changed (value);
        }
    }
}

/* Returns a new reference to the one object for this row, updated from
 * @fresh (which is consumed). */
static NatterMessage *
canonical_message (NatterStore   *self,
                   NatterMessage *fresh)
{
  gint64 id = natter_message_get_message_id (fresh);
  NatterMessage *live;

  if (id == 0)
    return fresh;

  live = g_hash_table_lookup (self->live_messages, &id);
  if (live != NULL)
    {
      g_object_ref (live);
      natter_message_update_from (live, fresh);
      g_object_unref (fresh);
      return live;
    }

  g_hash_table_insert (self->live_messages, g_memdup2 (&id, sizeof id), fresh);
  g_object_weak_ref (G_OBJECT (fresh), live_message_gone, self);
  apply_profile (self, fresh);
  return fresh;
}

static NatterConversation *
canonical_conversation (NatterStore        *self,
                        NatterConversation *fresh)
{
  g_autofree char *key = natter_conversation_dup_key (fresh);
  NatterMessage *latest = natter_conversation_get_latest_message (fresh);
  NatterConversation *live;

  /* Its latest message is a summary of its own (the full one is a
   * natter_store_get_message_async() away); the sender's name is known here. */
  if (latest != NULL)
    apply_profile (self, latest);

  live = g_hash_table_lookup (self->live_conversations, key);
  if (live != NULL)
    {
      g_object_ref (live);
      natter_conversation_update_from (live, fresh);
      g_object_unref (fresh);
      return live;
    }

  g_hash_table_insert (self->live_conversations, g_steal_pointer (&key), fresh);
  g_object_weak_ref (G_OBJECT (fresh), live_conversation_gone, self);
  return fresh;
}

static void
canonicalize_array (NatterStore *self,
                    GPtrArray   *array,
                    gboolean     conversations)
{
  /* In place: the canonical_*() calls take the fresh reference over. */
  for (guint i = 0; i < array->len; i++)
    array->pdata[i] = conversations ? (gpointer) canonical_conversation (self, array->pdata[i])
                                    : (gpointer) canonical_message (self, array->pdata[i]);
}

static gboolean
job_complete (gpointer data)
{
  Job *job = data;
  NatterStore *self = g_task_get_source_object (job->task);

  if (job->result != NULL)
    {
      switch (job->result_kind)
        {
        case RESULT_MESSAGE:
          job->result = canonical_message (self, job->result);
          break;
        case RESULT_CONVERSATION:
          job->result = canonical_conversation (self, job->result);
          break;
        case RESULT_MESSAGES:
          canonicalize_array (self, job->result, FALSE);
          break;
        case RESULT_CONVERSATIONS:
          canonicalize_array (self, job->result, TRUE);
          break;
        case RESULT_BOOLEAN:
        case RESULT_STRING:
        case RESULT_STRINGS:
        default:
          break;
        }
    }

  for (guint i = 0; job->events != NULL && i < job->events->len; i++)
    {
      Event *event = g_ptr_array_index (job->events, i);

      if (event->message != NULL)
        event->message = canonical_message (self, event->message);
      if (event->conversation != NULL)
        event->conversation = canonical_conversation (self, event->conversation);
    }

  /* Signals after every object of the job is up to date. */
  for (guint i = 0; job->events != NULL && i < job->events->len; i++)
    {
      Event *event = g_ptr_array_index (job->events, i);

      switch (event->kind)
        {
        case EVENT_MESSAGE_ADDED:
          g_signal_emit (self, signals[SIGNAL_MESSAGE_ADDED], 0, event->message);
          break;
        case EVENT_MESSAGE_UPDATED:
          g_signal_emit (self, signals[SIGNAL_MESSAGE_UPDATED], 0, event->message);
          break;
        case EVENT_MESSAGES_READ:
          for (guint j = 0; j < event->ids->len; j++)
            {
              gint64 id = g_array_index (event->ids, gint64, j);
              NatterMessage *live = g_hash_table_lookup (self->live_messages, &id);

              if (live != NULL)
                {
                  g_autoptr(NatterMessage) hold = g_object_ref (live);

                  natter_message_set_sent_status (hold, NATTER_SENT_STATUS_READ);
                  g_signal_emit (self, signals[SIGNAL_MESSAGE_UPDATED], 0, hold);
                }
            }
          break;
        case EVENT_MESSAGES_CLEARED:
          g_signal_emit (self, signals[SIGNAL_MESSAGES_CLEARED], 0, event->type, event->target_id);
          break;
        case EVENT_CONVERSATION_CHANGED:
          g_signal_emit (self, signals[SIGNAL_CONVERSATION_CHANGED], 0, event->conversation);
          break;
        case EVENT_CONVERSATION_REMOVED:
          g_signal_emit (self, signals[SIGNAL_CONVERSATION_REMOVED], 0, event->type, event->target_id);
          break;
        case EVENT_USERS_CHANGED:
          profiles_changed (self, event->profiles);
          break;
        default:
          g_assert_not_reached ();
        }
    }

  g_object_set_data (G_OBJECT (job->task), "added", GINT_TO_POINTER (job->added));

  if (job->error != NULL)
    {
      g_task_return_error (job->task, g_steal_pointer (&job->error));
    }
  else
    {
      switch (job->result_kind)
        {
        case RESULT_BOOLEAN:
          g_task_return_boolean (job->task, TRUE);
          break;
        case RESULT_MESSAGE:
        case RESULT_CONVERSATION:
          g_task_return_pointer (job->task, g_steal_pointer (&job->result), g_object_unref);
          break;
        case RESULT_MESSAGES:
        case RESULT_CONVERSATIONS:
        case RESULT_STRINGS:
          g_task_return_pointer (job->task, g_steal_pointer (&job->result),
                                 (GDestroyNotify) g_ptr_array_unref);
          break;
        case RESULT_STRING:
          g_task_return_pointer (job->task, g_steal_pointer (&job->result), g_free);
          break;
        default:
          g_assert_not_reached ();
        }
    }

  job_free (job);
  return G_SOURCE_REMOVE;
}

static Job *
job_new (NatterStore         *self,
         gpointer             source_tag,
         JobFunc              func,
         ResultKind           result_kind,
         GCancellable        *cancellable,
         GAsyncReadyCallback  callback,
         gpointer             user_data)
{
  Job *job = g_new0 (Job, 1);

  job->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (job->task, source_tag);
  /* The store answers even when cancelled: a write that ran is reported. */
  g_task_set_check_cancellable (job->task, FALSE);
  job->func = func;
  job->result_kind = result_kind;
  return job;
}

static void
job_push (NatterStore *self,
          Job         *job)
{
  g_async_queue_push (self->queue, job);
}

/* ------------------------------------------------------------- SQLite */

static gboolean
sql_failed (NatterStore  *self,
            int           rc,
            const char   *what,
            GError      **error)
{
  g_set_error (error, NATTER_STORE_ERROR, NATTER_STORE_ERROR_SQLITE,
               "%s: %s (%d)", what, self->db ? sqlite3_errmsg (self->db) : sqlite3_errstr (rc), rc);
  return FALSE;
}

static gboolean
sql_exec (NatterStore  *self,
          const char   *sql,
          GError      **error)
{
  char *message = NULL;
  int rc = sqlite3_exec (self->db, sql, NULL, NULL, &message);

  if (rc != SQLITE_OK)
    {
      g_set_error (error, NATTER_STORE_ERROR, NATTER_STORE_ERROR_SQLITE,
                   "%s: %s (%d)", sql, message ? message : sqlite3_errstr (rc), rc);
      sqlite3_free (message);
      return FALSE;
    }

  return TRUE;
}

/* A cached prepared statement, reset and unbound. */
static sqlite3_stmt *
sql_prepare (NatterStore  *self,
             const char   *sql,
             GError      **error)
{
  sqlite3_stmt *stmt = g_hash_table_lookup (self->statements, sql);
  int rc;

  if (stmt != NULL)
    {
      /* reset() repeats the error of the last step(), which was reported
       * when it happened; clear_bindings() cannot fail. */
      sqlite3_reset (stmt);
      sqlite3_clear_bindings (stmt);
      return stmt;
    }

  rc = sqlite3_prepare_v3 (self->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
  if (rc != SQLITE_OK)
    {
      sql_failed (self, rc, "prepare", error);
      return NULL;
    }

  g_hash_table_insert (self->statements, (gpointer) sql, stmt);
  return stmt;
}

static gboolean
bind_text (NatterStore   *self,
           sqlite3_stmt  *stmt,
           int            index,
           const char    *value,
           GError       **error)
{
  int rc = value ? sqlite3_bind_text (stmt, index, value, -1, SQLITE_TRANSIENT)
                 : sqlite3_bind_null (stmt, index);

  return rc == SQLITE_OK || sql_failed (self, rc, "bind", error);
}

static gboolean
bind_int (NatterStore   *self,
          sqlite3_stmt  *stmt,
          int            index,
          gint64         value,
          GError       **error)
{
  int rc = sqlite3_bind_int64 (stmt, index, value);

  return rc == SQLITE_OK || sql_failed (self, rc, "bind", error);
}

/* Runs a statement that returns no rows. */
static gboolean
step_done (NatterStore   *self,
           sqlite3_stmt  *stmt,
           GError       **error)
{
  int rc = sqlite3_step (stmt);

  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return sql_failed (self, rc, sqlite3_sql (stmt), error);
  return TRUE;
}

/* Steps once: TRUE with *has_row on a row, FALSE on error. */
static gboolean
step_row (NatterStore   *self,
          sqlite3_stmt  *stmt,
          gboolean      *has_row,
          GError       **error)
{
  int rc = sqlite3_step (stmt);

  if (rc == SQLITE_ROW)
    {
      *has_row = TRUE;
      return TRUE;
    }

  *has_row = FALSE;
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return sql_failed (self, rc, sqlite3_sql (stmt), error);
  return TRUE;
}

static gboolean
begin (NatterStore  *self,
       GError      **error)
{
  return sql_exec (self, "BEGIN IMMEDIATE", error);
}

/* What the user wrote and natterd does not have yet (the outbox, drafts)
 * commits with a sync of the WAL, so it survives a power cut too; the rest
 * natterd still has, and NORMAL keeps bursts of incoming messages cheap. */
static gboolean
begin_synced (NatterStore  *self,
              GError      **error)
{
  if (!sql_exec (self, "PRAGMA synchronous = FULL", error))
    return FALSE;
  self->synced = TRUE;
  return begin (self, error);
}

static gboolean
commit_or_rollback (NatterStore  *self,
                    gboolean      ok,
                    GError      **error)
{
  if (self->synced)
    {
      gboolean committed = ok && sql_exec (self, "COMMIT", error);

      self->synced = FALSE;
      if (committed)
        g_atomic_int_inc (&self->synced_commits);
      sql_exec (self, "PRAGMA synchronous = NORMAL", NULL);
      if (committed)
        return TRUE;
      ok = FALSE;
    }
  if (ok && sql_exec (self, "COMMIT", error))
    return TRUE;

  /* A failed ROLLBACK leaves nothing to do but report the first error. */
  if (!sqlite3_get_autocommit (self->db))
    sql_exec (self, "ROLLBACK", NULL);
  return FALSE;
}

static const char *
column_text (sqlite3_stmt *stmt,
             int           column)
{
  return (const char *) sqlite3_column_text (stmt, column);
}

/* ----------------------------------------------------------- schema */

/* Version 1: the first schema. Kept verbatim: migrations start from it. */
static const char schema_v1[] =
  "CREATE TABLE meta ("
  "  key TEXT PRIMARY KEY NOT NULL,"
  "  value TEXT NOT NULL"
  ") WITHOUT ROWID;"
  "CREATE TABLE users ("
  "  id TEXT PRIMARY KEY NOT NULL,"
  "  name TEXT,"
  "  portrait_uri TEXT"
  ") WITHOUT ROWID;"
  "CREATE TABLE conversations ("
  "  id INTEGER PRIMARY KEY,"
  "  type INTEGER NOT NULL,"
  "  target_id TEXT NOT NULL,"
  "  title TEXT,"
  "  portrait_uri TEXT,"
  "  latest_message_id INTEGER,"
  "  unread_count INTEGER NOT NULL DEFAULT 0,"
  "  pinned INTEGER NOT NULL DEFAULT 0,"
  "  muted INTEGER NOT NULL DEFAULT 0,"
  "  draft TEXT,"
  "  hidden INTEGER NOT NULL DEFAULT 0,"
  "  updated_time INTEGER NOT NULL DEFAULT 0,"
  "  UNIQUE (type, target_id)"
  ");"
  "CREATE INDEX conversations_order ON conversations (pinned DESC, updated_time DESC);"
  "CREATE TABLE messages ("
  "  id INTEGER PRIMARY KEY,"
  "  conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,"
  "  uid TEXT UNIQUE,"
  "  sender_user_id TEXT NOT NULL,"
  "  object_name TEXT NOT NULL,"
  "  content TEXT NOT NULL,"
  "  direction INTEGER NOT NULL,"
  "  sent_status INTEGER NOT NULL,"
  "  sent_time INTEGER NOT NULL,"
  "  received_time INTEGER NOT NULL,"
  "  offline INTEGER NOT NULL DEFAULT 0,"
  "  error_code INTEGER NOT NULL DEFAULT 0,"
  "  client_msg_id TEXT,"
  "  flags INTEGER NOT NULL DEFAULT 0"
  ");"
  "CREATE INDEX messages_by_time ON messages (conversation_id, sent_time, id);"
  "CREATE INDEX messages_outbox ON messages (id) WHERE sent_status = 10;";

/* Version 2: full-text search, mentions, read position, and the time of a
 * local clear (history from before it is not fetched back). */
static const char schema_v2[] =
  "ALTER TABLE conversations ADD COLUMN mention_count INTEGER NOT NULL DEFAULT 0;"
  "ALTER TABLE conversations ADD COLUMN read_time INTEGER NOT NULL DEFAULT 0;"
  "ALTER TABLE conversations ADD COLUMN cleared_time INTEGER NOT NULL DEFAULT 0;"
  "CREATE VIRTUAL TABLE message_search USING fts5 (text, tokenize = 'unicode61');";

/* Version 3: profiles fetched from the server (ProfileRequest) and when:
 * users gain the time of their last fetch, groups get a table of their
 * own (a group id may equal a user id). */
static const char schema_v3[] =
  "ALTER TABLE users ADD COLUMN fetched INTEGER NOT NULL DEFAULT 0;"
  "CREATE TABLE groups ("
  "  id TEXT PRIMARY KEY NOT NULL,"
  "  name TEXT,"
  "  portrait_uri TEXT,"
  "  member_count INTEGER NOT NULL DEFAULT 0,"
  "  fetched INTEGER NOT NULL DEFAULT 0"
  ") WITHOUT ROWID;";

static gboolean index_message_text (NatterStore    *self,
                                    gint64          id,
                                    NatterMessage  *message,
                                    GError        **error);

static NatterMessage *message_from_row (sqlite3_stmt *stmt,
                                        int           first);

#define MESSAGE_COLUMNS \
  "m.id, m.uid, c.type, c.target_id, m.sender_user_id, m.object_name, m.content, " \
  "m.direction, m.sent_status, m.sent_time, m.received_time, m.offline, m.error_code, " \
  "m.client_msg_id, m.flags"
#define N_MESSAGE_COLUMNS 15

/* The index of version 2 covers the messages version 1 stored. */
static gboolean
backfill_search (NatterStore  *self,
                 GError      **error)
{
  sqlite3_stmt *stmt = NULL;
  gboolean ok = TRUE;
  int rc;

  rc = sqlite3_prepare_v2 (self->db,
                           "SELECT " MESSAGE_COLUMNS " FROM messages m"
                           " JOIN conversations c ON c.id = m.conversation_id",
                           -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    return sql_failed (self, rc, "prepare backfill", error);

  while (ok && (rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      g_autoptr(NatterMessage) message = message_from_row (stmt, 0);

      ok = index_message_text (self, natter_message_get_message_id (message), message, error);
    }

  if (ok && rc != SQLITE_DONE)
    ok = sql_failed (self, rc, "backfill", error);

  sqlite3_finalize (stmt);
  return ok;
}

typedef struct {
  const char *sql;
  gboolean (*after) (NatterStore *self, GError **error);
} Migration;

static const Migration migrations[NATTER_STORE_SCHEMA_VERSION] = {
  { schema_v1, NULL },
  { schema_v2, backfill_search },
  { schema_v3, NULL },
};

static gboolean
get_user_version (NatterStore  *self,
                  int          *version,
                  GError      **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2 (self->db, "PRAGMA user_version", -1, &stmt, NULL);

  if (rc != SQLITE_OK)
    return sql_failed (self, rc, "PRAGMA user_version", error);

  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    *version = sqlite3_column_int (stmt, 0);
  sqlite3_finalize (stmt);

  if (rc != SQLITE_ROW)
    return sql_failed (self, rc, "PRAGMA user_version", error);
  return TRUE;
}

/* Each version in its own transaction: a failed step is rolled back and
 * leaves the database at the version before it. */
static gboolean
migrate (NatterStore  *self,
         GError      **error)
{
  int version = 0;

  if (!get_user_version (self, &version, error))
    return FALSE;

  if (version > NATTER_STORE_SCHEMA_VERSION)
    {
      g_set_error (error, NATTER_STORE_ERROR, NATTER_STORE_ERROR_TOO_NEW,
                   "%s has schema version %d; this Natter knows up to %d",
                   self->path, version, NATTER_STORE_SCHEMA_VERSION);
      return FALSE;
    }

  for (; version < NATTER_STORE_SCHEMA_VERSION; version++)
    {
      const Migration *migration = &migrations[version];
      g_autofree char *set_version = g_strdup_printf ("PRAGMA user_version = %d", version + 1);
      gboolean ok;

      if (!begin (self, error))
        return FALSE;

      ok = sql_exec (self, migration->sql, error) &&
           (migration->after == NULL || migration->after (self, error)) &&
           sql_exec (self, set_version, error);

      if (!commit_or_rollback (self, ok, error))
        {
          g_prefix_error (error, "Migrating %s to version %d: ", self->path, version + 1);
          return FALSE;
        }
    }

  return TRUE;
}

static gboolean
open_database (NatterStore  *self,
               GError      **error)
{
  g_autoptr(GError) local_error = NULL;
  sqlite3_stmt *stmt = NULL;
  int rc;

  rc = sqlite3_open_v2 (self->path, &self->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK)
    {
      g_set_error (error, NATTER_STORE_ERROR, NATTER_STORE_ERROR_OPEN,
                   "Cannot open %s: %s", self->path,
                   self->db ? sqlite3_errmsg (self->db) : sqlite3_errstr (rc));
      return FALSE;
    }

  rc = sqlite3_extended_result_codes (self->db, TRUE);
  if (rc != SQLITE_OK)
    return sql_failed (self, rc, "extended result codes", error);

  /* Another process with the same profile (a second natter-cli) waits. */
  rc = sqlite3_busy_timeout (self->db, 5000);
  if (rc != SQLITE_OK)
    return sql_failed (self, rc, "busy timeout", error);

  /* WAL: readers never block the writer; NORMAL is durable across crashes of
   * the process (only a power cut may lose the last commits, which the
   * server still has; the outbox and drafts sync: begin_synced()).
   * foreign_keys must be set outside any transaction. */
  rc = sqlite3_prepare_v2 (self->db, "PRAGMA journal_mode = WAL", -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    return sql_failed (self, rc, "journal_mode", error);
  rc = sqlite3_step (stmt);
  sqlite3_finalize (stmt);
  if (rc != SQLITE_ROW)
    return sql_failed (self, rc, "journal_mode", error);

  if (!sql_exec (self, "PRAGMA synchronous = NORMAL", error) ||
      !sql_exec (self, "PRAGMA foreign_keys = ON", error) ||
      !sql_exec (self, "PRAGMA temp_store = MEMORY", error))
    return FALSE;

  if (!migrate (self, &local_error))
    {
      g_set_error (error, NATTER_STORE_ERROR,
                   local_error->code == NATTER_STORE_ERROR_TOO_NEW ? NATTER_STORE_ERROR_TOO_NEW
                                                                   : NATTER_STORE_ERROR_OPEN,
                   "%s", local_error->message);
      return FALSE;
    }

  return TRUE;
}

/* Runs @func in the thread that iterates @context (the store's owner).
 * Not g_main_context_invoke(): from this thread it calls @func right here
 * whenever it can acquire @context — when the owner is between iterations
 * without holding it — and the owner's objects (signal handlers, GTK
 * widgets) would run on the worker thread. */
static void
complete_on_context (GMainContext *context,
                     GSourceFunc   func,
                     gpointer      data)
{
  GSource *source = g_idle_source_new ();

  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, func, data, NULL);
  g_source_set_static_name (source, "[natter] store job complete");
  g_source_attach (source, context);
  g_source_unref (source);
}

static gpointer
worker_main (gpointer data)
{
  NatterStore *self = data;
  Job *job;

  if (!open_database (self, &self->open_error))
    g_warning ("%s", self->open_error->message);

  while ((job = g_async_queue_pop (self->queue)) != &quit_job)
    {
      if (self->open_error != NULL)
        job->error = g_error_copy (self->open_error);
      else
        job->func (self, job);

      complete_on_context (self->context, job_complete, job);
    }

  g_clear_pointer (&self->statements, g_hash_table_unref);
  if (self->db != NULL)
    {
      int rc = sqlite3_close (self->db);

      if (rc != SQLITE_OK)
        g_warning ("Closing %s: %s", self->path, sqlite3_errstr (rc));
      self->db = NULL;
    }

  return NULL;
}

/* ----------------------------------------------------------- rows */

static NatterMessage *
message_from_row (sqlite3_stmt *stmt,
                  int           first)
{
  return natter_message_new_row (sqlite3_column_int64 (stmt, first + 0),
                                 column_text (stmt, first + 1),
                                 sqlite3_column_int (stmt, first + 2),
                                 column_text (stmt, first + 3),
                                 column_text (stmt, first + 4),
                                 column_text (stmt, first + 5),
                                 column_text (stmt, first + 6),
                                 sqlite3_column_int (stmt, first + 7),
                                 sqlite3_column_int (stmt, first + 8),
                                 sqlite3_column_int64 (stmt, first + 9),
                                 sqlite3_column_int64 (stmt, first + 10),
                                 sqlite3_column_int (stmt, first + 11),
                                 sqlite3_column_int (stmt, first + 12),
                                 column_text (stmt, first + 13),
                                 (guint) sqlite3_column_int (stmt, first + 14));
}

/* Private-like conversations (1, 5, 7, 8) are with a user, 2 and 3 with a
 * group: their title and portrait come from the profile. */
#define CONVERSATION_COLUMNS \
  "c.type, c.target_id, COALESCE (c.title, u.name, g.name), " \
  "COALESCE (c.portrait_uri, u.portrait_uri, g.portrait_uri), " \
  "c.unread_count, c.mention_count, c.pinned, c.muted, c.draft, c.updated_time"
#define N_CONVERSATION_COLUMNS 10
#define CONVERSATION_FROM \
  " FROM conversations c" \
  " LEFT JOIN messages m ON m.id = c.latest_message_id" \
  " LEFT JOIN users u ON c.type IN (1, 5, 7, 8) AND u.id = c.target_id" \
  " LEFT JOIN groups g ON c.type IN (2, 3) AND g.id = c.target_id"

/* The latest message as a conversation keeps it: its own small object (not
 * the store's shared one for the row), with the content a preview needs. */
static NatterMessage *
summary_from_row (sqlite3_stmt *stmt,
                  int           first)
{
  g_autofree char *content = natter_message_summary_content (column_text (stmt, first + 5),
                                                             column_text (stmt, first + 6));

  return natter_message_new_row (sqlite3_column_int64 (stmt, first + 0),
                                 column_text (stmt, first + 1),
                                 sqlite3_column_int (stmt, first + 2),
                                 column_text (stmt, first + 3),
                                 column_text (stmt, first + 4),
                                 column_text (stmt, first + 5),
                                 content != NULL ? content : column_text (stmt, first + 6),
                                 sqlite3_column_int (stmt, first + 7),
                                 sqlite3_column_int (stmt, first + 8),
                                 sqlite3_column_int64 (stmt, first + 9),
                                 0, FALSE,
                                 sqlite3_column_int (stmt, first + 12),
                                 NULL,
                                 (guint) sqlite3_column_int (stmt, first + 14));
}

static NatterConversation *
conversation_from_row (sqlite3_stmt *stmt)
{
  g_autoptr(NatterMessage) latest = NULL;
  NatterConversationData data = {
    .type = sqlite3_column_int (stmt, 0),
    .target_id = column_text (stmt, 1),
    .title = column_text (stmt, 2),
    .portrait_uri = column_text (stmt, 3),
    .unread_count = (guint) sqlite3_column_int (stmt, 4),
    .mention_count = (guint) sqlite3_column_int (stmt, 5),
    .pinned = sqlite3_column_int (stmt, 6),
    .muted = sqlite3_column_int (stmt, 7),
    .draft = column_text (stmt, 8),
    .updated_time = sqlite3_column_int64 (stmt, 9),
  };

  if (sqlite3_column_type (stmt, N_CONVERSATION_COLUMNS) != SQLITE_NULL)
    latest = summary_from_row (stmt, N_CONVERSATION_COLUMNS);
  data.latest_message = latest;

  return natter_conversation_new (&data);
}

/* The conversation row id, creating the row when @create. 0 when absent. */
static gboolean
conversation_id (NatterStore             *self,
                 NatterConversationType   type,
                 const char              *target_id,
                 gboolean                 create,
                 gint64                  *id,
                 GError                 **error)
{
  sqlite3_stmt *stmt;
  gboolean has_row;

  *id = 0;

  if (create)
    {
      stmt = sql_prepare (self, "INSERT INTO conversations (type, target_id) VALUES (?1, ?2)"
                                " ON CONFLICT (type, target_id) DO NOTHING", error);
      if (stmt == NULL ||
          !bind_int (self, stmt, 1, type, error) ||
          !bind_text (self, stmt, 2, target_id, error) ||
          !step_done (self, stmt, error))
        return FALSE;
    }

  stmt = sql_prepare (self, "SELECT id FROM conversations WHERE type = ?1 AND target_id = ?2", error);
  if (stmt == NULL ||
      !bind_int (self, stmt, 1, type, error) ||
      !bind_text (self, stmt, 2, target_id, error) ||
      !step_row (self, stmt, &has_row, error))
    return FALSE;

  if (has_row)
    {
      *id = sqlite3_column_int64 (stmt, 0);
      sqlite3_reset (stmt);
    }

  return TRUE;
}

/* Messages sent before a local clear stay cleared: history and replays
 * from before it are not stored again. */
static gboolean
cleared_before (NatterStore    *self,
                gint64          conversation,
                NatterMessage  *message,
                gboolean       *cleared,
                GError        **error)
{
  sqlite3_stmt *stmt = sql_prepare (self, "SELECT cleared_time FROM conversations WHERE id = ?1", error);
  gboolean has_row;

  *cleared = FALSE;
  if (stmt == NULL || !bind_int (self, stmt, 1, conversation, error) ||
      !step_row (self, stmt, &has_row, error))
    return FALSE;
  if (has_row)
    {
      *cleared = natter_message_get_sent_time (message) <= sqlite3_column_int64 (stmt, 0);
      sqlite3_reset (stmt);
    }
  return TRUE;
}

static NatterConversation *
load_conversation (NatterStore             *self,
                   NatterConversationType   type,
                   const char              *target_id,
                   GError                 **error)
{
  sqlite3_stmt *stmt;
  gboolean has_row;
  NatterConversation *conversation;

  stmt = sql_prepare (self, "SELECT " CONVERSATION_COLUMNS ", " MESSAGE_COLUMNS CONVERSATION_FROM
                            " WHERE c.type = ?1 AND c.target_id = ?2", error);
  if (stmt == NULL ||
      !bind_int (self, stmt, 1, type, error) ||
      !bind_text (self, stmt, 2, target_id, error) ||
      !step_row (self, stmt, &has_row, error))
    return NULL;

  if (!has_row)
    {
      g_set_error (error, NATTER_STORE_ERROR, NATTER_STORE_ERROR_NOT_FOUND,
                   "No conversation %d:%s", type, target_id);
      return NULL;
    }

  conversation = conversation_from_row (stmt);
  sqlite3_reset (stmt);
  return conversation;
}

/* Queues ::conversation-changed with the row as it is now, or
 * ::conversation-removed when it is gone or hidden. */
static gboolean
job_conversation_changed (NatterStore             *self,
                          Job                     *job,
                          NatterConversationType   type,
                          const char              *target_id,
                          GError                 **error)
{
  sqlite3_stmt *stmt;
  gboolean has_row;
  gboolean visible;
  Event *event;

  stmt = sql_prepare (self, "SELECT hidden FROM conversations WHERE type = ?1 AND target_id = ?2",
                      error);
  if (stmt == NULL ||
      !bind_int (self, stmt, 1, type, error) ||
      !bind_text (self, stmt, 2, target_id, error) ||
      !step_row (self, stmt, &has_row, error))
    return FALSE;

  visible = has_row && sqlite3_column_int (stmt, 0) == 0;
  if (has_row)
    sqlite3_reset (stmt);

  if (!visible)
    {
      event = job_add_event (job, EVENT_CONVERSATION_REMOVED);
      event->type = type;
      event->target_id = g_strdup (target_id);
      return TRUE;
    }

  event = job_add_event (job, EVENT_CONVERSATION_CHANGED);
  event->conversation = load_conversation (self, type, target_id, error);
  return event->conversation != NULL;
}

static NatterMessage *
load_message (NatterStore  *self,
              gint64        id,
              const char   *uid,
              GError      **error)
{
  sqlite3_stmt *stmt;
  gboolean has_row;
  NatterMessage *message;

  if (uid != NULL)
    stmt = sql_prepare (self, "SELECT " MESSAGE_COLUMNS " FROM messages m"
                              " JOIN conversations c ON c.id = m.conversation_id WHERE m.uid = ?1",
                        error);
  else
    stmt = sql_prepare (self, "SELECT " MESSAGE_COLUMNS " FROM messages m"
                              " JOIN conversations c ON c.id = m.conversation_id WHERE m.id = ?1",
                        error);

  if (stmt == NULL ||
      !(uid != NULL ? bind_text (self, stmt, 1, uid, error) : bind_int (self, stmt, 1, id, error)) ||
      !step_row (self, stmt, &has_row, error))
    return NULL;

  if (!has_row)
    return NULL;

  message = message_from_row (stmt, 0);
  sqlite3_reset (stmt);
  return message;
}

static gboolean
index_message_text (NatterStore    *self,
                    gint64          id,
                    NatterMessage  *message,
                    GError        **error)
{
  g_autofree char *text = natter_message_dup_search_text (message);
  g_autofree char *segmented = NULL;
  sqlite3_stmt *stmt;

  if (text == NULL || *text == '\0')
    return TRUE;

  segmented = natter_search_text_segment (text);
  stmt = sql_prepare (self, "INSERT INTO message_search (rowid, text) VALUES (?1, ?2)", error);
  return stmt != NULL &&
         bind_int (self, stmt, 1, id, error) &&
         bind_text (self, stmt, 2, segmented, error) &&
         step_done (self, stmt, error);
}

static gboolean
unindex_message (NatterStore  *self,
                 gint64        id,
                 GError      **error)
{
  sqlite3_stmt *stmt = sql_prepare (self, "DELETE FROM message_search WHERE rowid = ?1", error);

  return stmt != NULL && bind_int (self, stmt, 1, id, error) && step_done (self, stmt, error);
}

/* ------------------------------------------------------ add a message */

static char *
dup_own_user_id (NatterStore *self)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&self->own_user_lock);

  return g_strdup (self->own_user_id);
}

static gboolean
remember_user (NatterStore    *self,
               NatterMessage  *message,
               GError        **error)
{
  const char *name = natter_message_get_user_name (message);
  const char *portrait = natter_message_get_user_portrait_uri (message);
  sqlite3_stmt *stmt;

  if (name == NULL && portrait == NULL)
    return TRUE;

  stmt = sql_prepare (self, "INSERT INTO users (id, name, portrait_uri) VALUES (?1, ?2, ?3)"
                            " ON CONFLICT (id) DO UPDATE SET"
                            " name = COALESCE (excluded.name, name),"
                            " portrait_uri = COALESCE (excluded.portrait_uri, portrait_uri)",
                      error);
  return stmt != NULL &&
         bind_text (self, stmt, 1, natter_message_get_sender_user_id (message), error) &&
         bind_text (self, stmt, 2, name, error) &&
         bind_text (self, stmt, 3, portrait, error) &&
         step_done (self, stmt, error);
}

static gboolean
insert_message_row (NatterStore    *self,
                    gint64          conversation,
                    NatterMessage  *message,
                    gint64         *id,
                    GError        **error)
{
  g_autofree char *content = natter_message_dup_content_string (message);
  sqlite3_stmt *stmt;

  stmt = sql_prepare (self, "INSERT INTO messages (conversation_id, uid, sender_user_id,"
                            " object_name, content, direction, sent_status, sent_time,"
                            " received_time, offline, error_code, client_msg_id, flags)"
                            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                      error);
  if (stmt == NULL ||
      !bind_int (self, stmt, 1, conversation, error) ||
      !bind_text (self, stmt, 2, natter_message_get_message_uid (message), error) ||
      !bind_text (self, stmt, 3, natter_message_get_sender_user_id (message), error) ||
      !bind_text (self, stmt, 4, natter_message_get_object_name (message), error) ||
      !bind_text (self, stmt, 5, content, error) ||
      !bind_int (self, stmt, 6, natter_message_get_direction (message), error) ||
      !bind_int (self, stmt, 7, natter_message_get_sent_status (message), error) ||
      !bind_int (self, stmt, 8, natter_message_get_sent_time (message), error) ||
      !bind_int (self, stmt, 9, natter_message_get_received_time (message), error) ||
      !bind_int (self, stmt, 10, natter_message_get_offline (message), error) ||
      !bind_int (self, stmt, 11, natter_message_get_error_code (message), error) ||
      !bind_text (self, stmt, 12, natter_message_get_client_msg_id (message), error) ||
      !bind_int (self, stmt, 13, natter_message_get_flags (message), error) ||
      !step_done (self, stmt, error))
    return FALSE;

  *id = sqlite3_last_insert_rowid (self->db);
  return index_message_text (self, *id, message, error);
}

/* The conversation follows a new message: latest (when newest), unhidden,
 * unread and mentions for counted incoming messages after the read mark. */
static gboolean
conversation_take_message (NatterStore    *self,
                           gint64          conversation,
                           gint64          id,
                           NatterMessage  *message,
                           gboolean        live,
                           GError        **error)
{
  g_autofree char *own = dup_own_user_id (self);
  gboolean counted = live &&
                     natter_message_get_direction (message) == NATTER_MESSAGE_DIRECTION_RECEIVE &&
                     (natter_message_get_flags (message) & NATTER_MESSAGE_FLAG_COUNTED) != 0;
  gboolean mentioned = counted && natter_message_mentions (message, own);
  sqlite3_stmt *stmt;

  stmt = sql_prepare (self,
                      "UPDATE conversations SET"
                      " latest_message_id = CASE WHEN ?3 >= updated_time OR latest_message_id IS NULL"
                      "   THEN ?2 ELSE latest_message_id END,"
                      " updated_time = MAX (updated_time, ?3),"
                      " hidden = CASE WHEN ?6 THEN 0 ELSE hidden END,"
                      " unread_count = unread_count + (?4 AND ?3 > read_time),"
                      " mention_count = mention_count + (?5 AND ?3 > read_time)"
                      " WHERE id = ?1",
                      error);
  return stmt != NULL &&
         bind_int (self, stmt, 1, conversation, error) &&
         bind_int (self, stmt, 2, id, error) &&
         bind_int (self, stmt, 3, natter_message_get_sent_time (message), error) &&
         bind_int (self, stmt, 4, counted, error) &&
         bind_int (self, stmt, 5, mentioned, error) &&
         bind_int (self, stmt, 6, live, error) &&
         step_done (self, stmt, error);
}

static gboolean
set_meta (NatterStore  *self,
          const char   *key,
          const char   *value,
          GError      **error)
{
  sqlite3_stmt *stmt;

  if (value == NULL)
    {
      stmt = sql_prepare (self, "DELETE FROM meta WHERE key = ?1", error);
      return stmt != NULL && bind_text (self, stmt, 1, key, error) && step_done (self, stmt, error);
    }

  stmt = sql_prepare (self, "INSERT INTO meta (key, value) VALUES (?1, ?2)"
                            " ON CONFLICT (key) DO UPDATE SET value = excluded.value", error);
  return stmt != NULL &&
         bind_text (self, stmt, 1, key, error) &&
         bind_text (self, stmt, 2, value, error) &&
         step_done (self, stmt, error);
}

static gboolean
get_meta (NatterStore  *self,
          const char   *key,
          char        **value,
          GError      **error)
{
  sqlite3_stmt *stmt = sql_prepare (self, "SELECT value FROM meta WHERE key = ?1", error);
  gboolean has_row;

  *value = NULL;
  if (stmt == NULL || !bind_text (self, stmt, 1, key, error) || !step_row (self, stmt, &has_row, error))
    return FALSE;
  if (has_row)
    {
      *value = g_strdup (column_text (stmt, 0));
      sqlite3_reset (stmt);
    }
  return TRUE;
}

/* Inbox positions only move forward. */
static gboolean
advance_seq (NatterStore  *self,
             guint64       seq,
             GError      **error)
{
  g_autofree char *old = NULL;
  g_autofree char *text = NULL;

  if (seq == 0)
    return TRUE;
  if (!get_meta (self, "last-seq", &old, error))
    return FALSE;
  if (old != NULL && g_ascii_strtoull (old, NULL, 10) >= seq)
    return TRUE;

  text = g_strdup_printf ("%" G_GUINT64_FORMAT, seq);
  return set_meta (self, "last-seq", text, error);
}

static gboolean
find_by_uid (NatterStore  *self,
             const char   *uid,
             gint64       *id,
             GError      **error)
{
  sqlite3_stmt *stmt;
  gboolean has_row;

  *id = 0;
  if (uid == NULL || *uid == '\0')
    return TRUE;

  stmt = sql_prepare (self, "SELECT id FROM messages WHERE uid = ?1", error);
  if (stmt == NULL || !bind_text (self, stmt, 1, uid, error) || !step_row (self, stmt, &has_row, error))
    return FALSE;
  if (has_row)
    {
      *id = sqlite3_column_int64 (stmt, 0);
      sqlite3_reset (stmt);
    }
  return TRUE;
}

static gboolean
mark_preview (NatterStore  *self,
              gint64        id,
              GError      **error)
{
  sqlite3_stmt *stmt = sql_prepare (self, "UPDATE messages SET flags = flags | ?2 WHERE id = ?1", error);

  return stmt != NULL &&
         bind_int (self, stmt, 1, id, error) &&
         bind_int (self, stmt, 2, NATTER_MESSAGE_FLAG_PREVIEW, error) &&
         step_done (self, stmt, error);
}

/* A row made from a conversation list's preview of a message (flags carry
 * NATTER_MESSAGE_FLAG_PREVIEW, which messages never have otherwise) gets
 * the message's content once the message itself comes: from history or
 * the inbox. *@completed says whether row @id was one. */
static gboolean
complete_preview (NatterStore    *self,
                  gint64          id,
                  NatterMessage  *message,
                  gboolean       *completed,
                  GError        **error)
{
  g_autofree char *content = NULL;
  sqlite3_stmt *stmt;

  *completed = FALSE;
  stmt = sql_prepare (self, "UPDATE messages SET content = ?2, flags = ?3 WHERE id = ?1 AND flags & ?4",
                      error);
  content = natter_message_dup_content_string (message);
  if (stmt == NULL ||
      !bind_int (self, stmt, 1, id, error) ||
      !bind_text (self, stmt, 2, content, error) ||
      !bind_int (self, stmt, 3, natter_message_get_flags (message), error) ||
      !bind_int (self, stmt, 4, NATTER_MESSAGE_FLAG_PREVIEW, error) ||
      !step_done (self, stmt, error))
    return FALSE;
  if (sqlite3_changes (self->db) == 0)
    return TRUE;

  *completed = TRUE;
  return unindex_message (self, id, error) && index_message_text (self, id, message, error);
}

static void
do_add_message (NatterStore *self,
                Job         *job)
{
  NatterMessage *message = job->message;
  NatterConversationType type = natter_message_get_conversation_type (message);
  const char *target = natter_message_get_target_id (message);
  gint64 existing = 0;
  gint64 conversation = 0;
  gint64 id = 0;
  gboolean ok;
  gboolean outbox = natter_message_get_direction (message) == NATTER_MESSAGE_DIRECTION_SEND &&
                    natter_message_get_sent_status (message) == NATTER_SENT_STATUS_SENDING;

  if (!(outbox ? begin_synced (self, &job->error) : begin (self, &job->error)))
    return;

  ok = find_by_uid (self, natter_message_get_message_uid (message), &existing, &job->error);
  if (ok && existing != 0)
    {
      gboolean completed = FALSE;

      /* Delivered twice (replay after a lost ack): only the seq moves; or
       * known from a conversation list's preview only: now whole. */
      ok = complete_preview (self, existing, message, &completed, &job->error) &&
           advance_seq (self, job->seq, &job->error);
      if (commit_or_rollback (self, ok, &job->error))
        job->result = load_message (self, existing, NULL, &job->error);
      job->added = FALSE;
      if (completed && job->result != NULL)
        {
          job_add_event (job, EVENT_MESSAGE_UPDATED)->message = g_object_ref (job->result);
          job_conversation_changed (self, job, type, target, &job->error);
        }
      return;
    }

  {
    gboolean cleared = FALSE;

    ok = ok &&
         conversation_id (self, type, target, TRUE, &conversation, &job->error) &&
         cleared_before (self, conversation, message, &cleared, &job->error);
    if (ok && cleared)
      {
        /* A replay of something cleared here: acknowledged, not stored. */
        ok = advance_seq (self, job->seq, &job->error);
        if (commit_or_rollback (self, ok, &job->error))
          job->result = g_object_ref (message);
        job->added = FALSE;
        return;
      }
  }

  ok = ok &&
       insert_message_row (self, conversation, message, &id, &job->error) &&
       conversation_take_message (self, conversation, id, message, TRUE, &job->error) &&
       remember_user (self, message, &job->error) &&
       advance_seq (self, job->seq, &job->error);

  if (!commit_or_rollback (self, ok, &job->error))
    return;

  job->added = TRUE;
  job->result = load_message (self, id, NULL, &job->error);
  if (job->result != NULL)
    job_add_event (job, EVENT_MESSAGE_ADDED)->message = g_object_ref (job->result);
  job_conversation_changed (self, job, type, target, &job->error);
}

/* ------------------------------------------------------ add history */

static void
do_add_history (NatterStore *self,
                Job         *job)
{
  g_autoptr(GPtrArray) stored = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GHashTable) touched = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GArray) completed_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  gboolean ok;

  if (!begin (self, &job->error))
    return;

  ok = TRUE;
  for (guint i = 0; ok && i < job->array->len; i++)
    {
      NatterMessage *message = g_ptr_array_index (job->array, i);
      gint64 id = 0;
      gint64 conversation;

      gboolean cleared = FALSE;

      ok = find_by_uid (self, natter_message_get_message_uid (message), &id, &job->error);
      if (ok && id != 0)
        {
          gboolean completed = FALSE;

          ok = complete_preview (self, id, message, &completed, &job->error);
          if (ok && completed)
            {
              g_array_append_val (completed_ids, id);
              g_hash_table_add (touched,
                                natter_conversation_key (natter_message_get_conversation_type (message),
                                                         natter_message_get_target_id (message)));
            }
        }
      else if (ok)
        {
          ok = conversation_id (self, natter_message_get_conversation_type (message),
                                natter_message_get_target_id (message), TRUE, &conversation,
                                &job->error) &&
               cleared_before (self, conversation, message, &cleared, &job->error);
          if (!ok || cleared)
            continue;
          ok = insert_message_row (self, conversation, message, &id, &job->error) &&
               conversation_take_message (self, conversation, id, message, FALSE, &job->error) &&
               remember_user (self, message, &job->error);
          if (ok)
            g_hash_table_add (touched,
                              natter_conversation_key (natter_message_get_conversation_type (message),
                                                       natter_message_get_target_id (message)));
        }
      if (ok)
        {
          NatterMessage *row = load_message (self, id, NULL, &job->error);

          ok = row != NULL;
          if (ok)
            g_ptr_array_add (stored, row);
        }
    }

  if (!commit_or_rollback (self, ok, &job->error))
    return;

  /* Rows completed from previews: their objects follow. */
  for (guint i = 0; i < stored->len; i++)
    for (guint j = 0; j < completed_ids->len; j++)
      if (natter_message_get_message_id (g_ptr_array_index (stored, i)) ==
          g_array_index (completed_ids, gint64, j))
        job_add_event (job, EVENT_MESSAGE_UPDATED)->message = g_object_ref (g_ptr_array_index (stored, i));

  job->result = g_steal_pointer (&stored);

  {
    GHashTableIter iter;
    gpointer key;

    g_hash_table_iter_init (&iter, touched);
    while (g_hash_table_iter_next (&iter, &key, NULL))
      {
        const char *colon = strchr (key, ':');

        job_conversation_changed (self, job, (NatterConversationType) g_ascii_strtoll (key, NULL, 10),
                                  colon + 1, &job->error);
      }
  }
}

/* ------------------------------------------------------ update a message */

static void
do_update_message (NatterStore *self,
                   Job         *job)
{
  NatterMessage *message = job->message;
  gint64 id = natter_message_get_message_id (message);
  g_autofree char *content = natter_message_dup_content_string (message);
  const char *uid = natter_message_get_message_uid (message);
  gint64 duplicate = 0;
  sqlite3_stmt *stmt;
  gboolean ok;

  if (!begin (self, &job->error))
    return;

  /* The same message may have arrived already under its uid (delivered to
   * this device before the ack): keep this row, drop the copy. */
  ok = find_by_uid (self, uid, &duplicate, &job->error);
  if (ok && duplicate != 0 && duplicate != id)
    {
      stmt = sql_prepare (self, "DELETE FROM messages WHERE id = ?1", &job->error);
      ok = stmt != NULL &&
           bind_int (self, stmt, 1, duplicate, &job->error) &&
           step_done (self, stmt, &job->error) &&
           unindex_message (self, duplicate, &job->error);
    }

  stmt = ok ? sql_prepare (self, "UPDATE messages SET uid = ?2, sent_status = ?3, sent_time = ?4,"
                                 " error_code = ?5, object_name = ?6, content = ?7,"
                                 " client_msg_id = ?8, sender_user_id = ?9 WHERE id = ?1", &job->error)
            : NULL;
  ok = ok && stmt != NULL &&
       bind_int (self, stmt, 1, id, &job->error) &&
       bind_text (self, stmt, 2, uid, &job->error) &&
       bind_int (self, stmt, 3, natter_message_get_sent_status (message), &job->error) &&
       bind_int (self, stmt, 4, natter_message_get_sent_time (message), &job->error) &&
       bind_int (self, stmt, 5, natter_message_get_error_code (message), &job->error) &&
       bind_text (self, stmt, 6, natter_message_get_object_name (message), &job->error) &&
       bind_text (self, stmt, 7, content, &job->error) &&
       bind_text (self, stmt, 8, natter_message_get_client_msg_id (message), &job->error) &&
       bind_text (self, stmt, 9, natter_message_get_sender_user_id (message) ?
                                 natter_message_get_sender_user_id (message) : "", &job->error) &&
       step_done (self, stmt, &job->error);

  if (ok && sqlite3_changes (self->db) == 0)
    {
      g_set_error (&job->error, NATTER_STORE_ERROR, NATTER_STORE_ERROR_NOT_FOUND,
                   "No message %" G_GINT64_FORMAT, id);
      ok = FALSE;
    }

  ok = ok &&
       unindex_message (self, id, &job->error) &&
       index_message_text (self, id, message, &job->error);

  /* The latest message's time orders the conversation list. */
  stmt = ok ? sql_prepare (self, "UPDATE conversations SET updated_time = ?2"
                                 " WHERE latest_message_id = ?1", &job->error)
            : NULL;
  ok = ok && stmt != NULL &&
       bind_int (self, stmt, 1, id, &job->error) &&
       bind_int (self, stmt, 2, natter_message_get_sent_time (message), &job->error) &&
       step_done (self, stmt, &job->error);

  if (!commit_or_rollback (self, ok, &job->error))
    return;

  job->result = load_message (self, id, NULL, &job->error);
  if (job->result == NULL)
    return;

  job_add_event (job, EVENT_MESSAGE_UPDATED)->message = g_object_ref (job->result);
  job_conversation_changed (self, job, natter_message_get_conversation_type (job->result),
                            natter_message_get_target_id (job->result), &job->error);
}

static void
do_recall (NatterStore *self,
           Job         *job)
{
  g_autoptr(NatterMessage) message = NULL;
  g_autoptr(JsonObject) content = json_object_new ();
  g_autofree char *text = NULL;
  sqlite3_stmt *stmt;
  gboolean ok;

  if (!begin (self, &job->error))
    return;

  message = load_message (self, 0, job->text, &job->error);
  if (message == NULL)
    {
      commit_or_rollback (self, job->error == NULL, job->error ? NULL : &job->error);
      return;
    }

  if (natter_message_get_kind (message) == NATTER_MESSAGE_KIND_RECALLED)
    {
      commit_or_rollback (self, TRUE, &job->error);
      job->result = g_steal_pointer (&message);
      return;
    }

  json_object_set_string_member (content, "operatorId", job->text2 ? job->text2 : "");
  json_object_set_int_member (content, "recallTime", job->int1);
  json_object_set_string_member (content, "originalObjectName",
                                 natter_message_get_object_name (message));
  text = natter_content_to_string (content);

  stmt = sql_prepare (self, "UPDATE messages SET object_name = ?2, content = ?3 WHERE id = ?1",
                      &job->error);
  ok = stmt != NULL &&
       bind_int (self, stmt, 1, natter_message_get_message_id (message), &job->error) &&
       bind_text (self, stmt, 2, NATTER_OBJECT_RECALL_NOTIFICATION, &job->error) &&
       bind_text (self, stmt, 3, text, &job->error) &&
       step_done (self, stmt, &job->error) &&
       unindex_message (self, natter_message_get_message_id (message), &job->error);

  if (!commit_or_rollback (self, ok, &job->error))
    return;

  job->result = load_message (self, natter_message_get_message_id (message), NULL, &job->error);
  if (job->result == NULL)
    return;
  job_add_event (job, EVENT_MESSAGE_UPDATED)->message = g_object_ref (job->result);
  job_conversation_changed (self, job, natter_message_get_conversation_type (job->result),
                            natter_message_get_target_id (job->result), &job->error);
}

/* ------------------------------------------------------------- reads */

static void
do_get_message (NatterStore *self,
                Job         *job)
{
  job->result = load_message (self, job->int1, job->text, &job->error);
}

static GPtrArray *
collect_messages (NatterStore   *self,
                  sqlite3_stmt  *stmt,
                  GError       **error)
{
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func (g_object_unref);
  int rc;

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (messages, message_from_row (stmt, 0));
  sqlite3_reset (stmt);

  if (rc != SQLITE_DONE)
    {
      sql_failed (self, rc, sqlite3_sql (stmt), error);
      return NULL;
    }

  return g_steal_pointer (&messages);
}

static void
do_get_messages (NatterStore *self,
                 Job         *job)
{
  sqlite3_stmt *stmt;
  GPtrArray *messages;
  gint64 conversation;

  if (!conversation_id (self, job->type, job->target_id, FALSE, &conversation, &job->error))
    return;

  stmt = sql_prepare (self, "SELECT " MESSAGE_COLUMNS " FROM messages m"
                            " JOIN conversations c ON c.id = m.conversation_id"
                            " WHERE m.conversation_id = ?1 AND (m.sent_time, m.id) < (?2, ?3)"
                            " ORDER BY m.sent_time DESC, m.id DESC LIMIT ?4", &job->error);
  if (stmt == NULL ||
      !bind_int (self, stmt, 1, conversation, &job->error) ||
      !bind_int (self, stmt, 2, job->int1 > 0 ? job->int1 : G_MAXINT64, &job->error) ||
      !bind_int (self, stmt, 3, job->int1 > 0 ? job->int2 : G_MAXINT64, &job->error) ||
      !bind_int (self, stmt, 4, job->limit, &job->error))
    return;

  messages = collect_messages (self, stmt, &job->error);
  if (messages == NULL)
    return;

  /* Oldest first. */
  for (guint i = 0; i < messages->len / 2; i++)
    {
      gpointer tmp = messages->pdata[i];

      messages->pdata[i] = messages->pdata[messages->len - 1 - i];
      messages->pdata[messages->len - 1 - i] = tmp;
    }

  job->result = messages;
}

static void
do_get_outbox (NatterStore *self,
               Job         *job)
{
  sqlite3_stmt *stmt = sql_prepare (self, "SELECT " MESSAGE_COLUMNS " FROM messages m"
                                          " JOIN conversations c ON c.id = m.conversation_id"
                                          " WHERE m.sent_status = 10 ORDER BY m.id", &job->error);

  if (stmt != NULL)
    job->result = collect_messages (self, stmt, &job->error);
}

static void
do_search (NatterStore *self,
           Job         *job)
{
  g_autofree char *match = natter_search_text_build_match (job->text);
  sqlite3_stmt *stmt;
  gint64 conversation = 0;

  if (match == NULL)
    {
      job->result = g_ptr_array_new_with_free_func (g_object_unref);
      return;
    }

  if (job->type != 0)
    {
      if (!conversation_id (self, job->type, job->target_id, FALSE, &conversation, &job->error))
        return;
      if (conversation == 0)
        {
          job->result = g_ptr_array_new_with_free_func (g_object_unref);
          return;
        }
    }

  /* Newest first by rowid: FTS5 walks its index backwards and stops at the
   * limit instead of sorting every match. */
  stmt = sql_prepare (self, "SELECT " MESSAGE_COLUMNS " FROM message_search s"
                            " JOIN messages m ON m.id = s.rowid"
                            " JOIN conversations c ON c.id = m.conversation_id"
                            " WHERE message_search MATCH ?1 AND (?2 = 0 OR m.conversation_id = ?2)"
                            " ORDER BY s.rowid DESC LIMIT ?3", &job->error);
  if (stmt == NULL ||
      !bind_text (self, stmt, 1, match, &job->error) ||
      !bind_int (self, stmt, 2, conversation, &job->error) ||
      !bind_int (self, stmt, 3, job->limit, &job->error))
    return;

  job->result = collect_messages (self, stmt, &job->error);
}

static void
do_get_conversations (NatterStore *self,
                      Job         *job)
{
  g_autoptr(GPtrArray) conversations = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GString) types = g_string_new (NULL);
  sqlite3_stmt *stmt;
  int rc;

  /* At most 8 types: one bitmask parameter keeps one cached statement. */
  for (guint i = 0; job->types != NULL && i < job->types->len; i++)
    g_string_append_printf (types, "%s%d", types->len ? "," : "",
                            g_array_index (job->types, int, i));

  stmt = sql_prepare (self, "SELECT " CONVERSATION_COLUMNS ", " MESSAGE_COLUMNS CONVERSATION_FROM
                            " WHERE c.hidden = 0 AND (?1 = 0 OR ((?1 >> c.type) & 1))"
                            " ORDER BY c.pinned DESC, c.updated_time DESC, c.id DESC", &job->error);
  if (stmt == NULL)
    return;

  {
    gint64 mask = 0;

    for (guint i = 0; job->types != NULL && i < job->types->len; i++)
      mask |= G_GINT64_CONSTANT (1) << CLAMP (g_array_index (job->types, int, i), 0, 62);
    if (!bind_int (self, stmt, 1, mask, &job->error))
      return;
  }

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (conversations, conversation_from_row (stmt));
  sqlite3_reset (stmt);

  if (rc != SQLITE_DONE)
    {
      sql_failed (self, rc, "conversation list", &job->error);
      return;
    }

  job->result = g_steal_pointer (&conversations);
}

static void
do_get_conversation (NatterStore *self,
                     Job         *job)
{
  g_autoptr(GError) error = NULL;

  job->result = load_conversation (self, job->type, job->target_id, &error);
  if (job->result == NULL && !g_error_matches (error, NATTER_STORE_ERROR, NATTER_STORE_ERROR_NOT_FOUND))
    job->error = g_steal_pointer (&error);
}

/* ------------------------------------------------------ conversation changes */

static gboolean
delete_search_rows (NatterStore  *self,
                    gint64        conversation,
                    GError      **error)
{
  sqlite3_stmt *stmt = sql_prepare (self, "DELETE FROM message_search WHERE rowid IN"
                                          " (SELECT id FROM messages WHERE conversation_id = ?1)",
                                    error);

  return stmt != NULL && bind_int (self, stmt, 1, conversation, error) && step_done (self, stmt, error);
}

static void
do_clear_messages (NatterStore *self,
                   Job         *job)
{
  gint64 conversation;
  sqlite3_stmt *stmt;
  gboolean ok;
  Event *event;

  if (!begin (self, &job->error))
    return;

  ok = conversation_id (self, job->type, job->target_id, FALSE, &conversation, &job->error);
  if (ok && conversation != 0)
    {
      ok = delete_search_rows (self, conversation, &job->error);
      stmt = ok ? sql_prepare (self, "UPDATE conversations SET latest_message_id = NULL,"
                                     " unread_count = 0, mention_count = 0,"
                                     " cleared_time = MAX (cleared_time, updated_time)"
                                     " WHERE id = ?1",
                               &job->error)
                : NULL;
      ok = ok && stmt != NULL && bind_int (self, stmt, 1, conversation, &job->error) &&
           step_done (self, stmt, &job->error);
      stmt = ok ? sql_prepare (self, "DELETE FROM messages WHERE conversation_id = ?1", &job->error)
                : NULL;
      ok = ok && stmt != NULL && bind_int (self, stmt, 1, conversation, &job->error) &&
           step_done (self, stmt, &job->error);
    }

  if (!commit_or_rollback (self, ok, &job->error))
    return;

  job->boolean = TRUE;
  event = job_add_event (job, EVENT_MESSAGES_CLEARED);
  event->type = job->type;
  event->target_id = g_strdup (job->target_id);
  if (conversation != 0)
    job_conversation_changed (self, job, job->type, job->target_id, &job->error);
}

static void
do_delete_conversation (NatterStore *self,
                        Job         *job)
{
  gint64 conversation;
  sqlite3_stmt *stmt;
  gboolean ok;
  Event *event;

  if (!begin (self, &job->error))
    return;

  ok = conversation_id (self, job->type, job->target_id, FALSE, &conversation, &job->error);
  if (ok && conversation != 0)
    {
      ok = delete_search_rows (self, conversation, &job->error);
      stmt = ok ? sql_prepare (self, "DELETE FROM conversations WHERE id = ?1", &job->error) : NULL;
      ok = ok && stmt != NULL && bind_int (self, stmt, 1, conversation, &job->error) &&
           step_done (self, stmt, &job->error);
    }

  if (!commit_or_rollback (self, ok, &job->error))
    return;

  job->boolean = TRUE;
  event = job_add_event (job, EVENT_MESSAGES_CLEARED);
  event->type = job->type;
  event->target_id = g_strdup (job->target_id);
  event = job_add_event (job, EVENT_CONVERSATION_REMOVED);
  event->type = job->type;
  event->target_id = g_strdup (job->target_id);
}

static void
do_set_conversation_flag (NatterStore *self,
                          Job         *job)
{
  static const char * const sql[] = {
    [NATTER_CONVERSATION_FIELD_PINNED] = "UPDATE conversations SET pinned = ?2 WHERE id = ?1",
    [NATTER_CONVERSATION_FIELD_MUTED] = "UPDATE conversations SET muted = ?2 WHERE id = ?1",
    [NATTER_CONVERSATION_FIELD_HIDDEN] = "UPDATE conversations SET hidden = ?2 WHERE id = ?1",
  };
  gint64 conversation;
  sqlite3_stmt *stmt;
  gboolean ok;

  if (job->int1 < 0 || job->int1 >= (gint64) G_N_ELEMENTS (sql))
    {
      g_set_error (&job->error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "Unknown field");
      return;
    }

  if (!begin (self, &job->error))
    return;

  ok = conversation_id (self, job->type, job->target_id, TRUE, &conversation, &job->error);
  stmt = ok ? sql_prepare (self, sql[job->int1], &job->error) : NULL;
  ok = ok && stmt != NULL &&
       bind_int (self, stmt, 1, conversation, &job->error) &&
       bind_int (self, stmt, 2, job->flag, &job->error) &&
       step_done (self, stmt, &job->error);

  if (!commit_or_rollback (self, ok, &job->error))
    return;

  job->boolean = TRUE;
  job_conversation_changed (self, job, job->type, job->target_id, &job->error);
}

static void
do_set_draft (NatterStore *self,
              Job         *job)
{
  gint64 conversation;
  sqlite3_stmt *stmt;
  gboolean ok;
  const char *draft = (job->text && *job->text) ? job->text : NULL;

  if (!begin_synced (self, &job->error))
    return;

  ok = conversation_id (self, job->type, job->target_id, draft != NULL, &conversation, &job->error);
  if (ok && conversation != 0)
    {
      /* A draft shows its conversation even when it had been removed. */
      stmt = sql_prepare (self, "UPDATE conversations SET draft = ?2,"
                                " hidden = CASE WHEN ?2 IS NULL THEN hidden ELSE 0 END,"
                                " updated_time = CASE WHEN ?2 IS NULL THEN updated_time"
                                "   ELSE MAX (updated_time, ?3) END"
                                " WHERE id = ?1", &job->error);
      ok = stmt != NULL &&
           bind_int (self, stmt, 1, conversation, &job->error) &&
           bind_text (self, stmt, 2, draft, &job->error) &&
           bind_int (self, stmt, 3, job->int1, &job->error) &&
           step_done (self, stmt, &job->error);
    }

  if (!commit_or_rollback (self, ok, &job->error))
    return;

  job->boolean = TRUE;
  if (conversation != 0)
    job_conversation_changed (self, job, job->type, job->target_id, &job->error);
}

static void
do_clear_unread (NatterStore *self,
                 Job         *job)
{
  gint64 conversation;
  sqlite3_stmt *stmt;
  gboolean ok;

  if (!begin (self, &job->error))
    return;

  ok = conversation_id (self, job->type, job->target_id, FALSE, &conversation, &job->error);
  if (ok && conversation != 0)
    {
      /* What stays unread is what arrived after the read mark (an older
       * RC:SRSMsg from another device must not hide newer messages). */
      stmt = sql_prepare (self,
                          "UPDATE conversations SET read_time = MAX (read_time, ?2),"
                          " unread_count = (SELECT COUNT (*) FROM messages"
                          "   WHERE conversation_id = ?1 AND direction = 2 AND (flags & 2) != 0"
                          "   AND sent_time > MAX (conversations.read_time, ?2))"
                          " WHERE id = ?1", &job->error);
      ok = stmt != NULL &&
           bind_int (self, stmt, 1, conversation, &job->error) &&
           bind_int (self, stmt, 2, job->int1, &job->error) &&
           step_done (self, stmt, &job->error);
      stmt = ok ? sql_prepare (self, "UPDATE conversations SET mention_count ="
                                     " MIN (mention_count, unread_count) WHERE id = ?1", &job->error)
                : NULL;
      ok = ok && stmt != NULL && bind_int (self, stmt, 1, conversation, &job->error) &&
           step_done (self, stmt, &job->error);
    }

  if (!commit_or_rollback (self, ok, &job->error))
    return;

  job->boolean = TRUE;
  if (conversation != 0)
    job_conversation_changed (self, job, job->type, job->target_id, &job->error);
}

static void
do_mark_read (NatterStore *self,
              Job         *job)
{
  g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  gint64 conversation;
  sqlite3_stmt *stmt;
  gboolean ok;
  int rc = SQLITE_DONE;

  if (!begin (self, &job->error))
    return;

  ok = conversation_id (self, job->type, job->target_id, FALSE, &conversation, &job->error);
  if (ok && conversation != 0)
    {
      stmt = sql_prepare (self, "UPDATE messages SET sent_status = 50"
                                " WHERE conversation_id = ?1 AND direction = 1"
                                " AND sent_status IN (30, 40) AND sent_time <= ?2 RETURNING id",
                          &job->error);
      ok = stmt != NULL &&
           bind_int (self, stmt, 1, conversation, &job->error) &&
           bind_int (self, stmt, 2, job->int1, &job->error);
      while (ok && (rc = sqlite3_step (stmt)) == SQLITE_ROW)
        {
          gint64 id = sqlite3_column_int64 (stmt, 0);
          g_array_append_val (ids, id);
        }
      if (stmt != NULL)
        sqlite3_reset (stmt);
      if (ok && rc != SQLITE_DONE)
        ok = sql_failed (self, rc, "mark read", &job->error);
    }

  if (!commit_or_rollback (self, ok, &job->error))
    return;

  job->boolean = TRUE;
  if (ids->len > 0)
    job_add_event (job, EVENT_MESSAGES_READ)->ids = g_steal_pointer (&ids);
}

static void
do_set_user (NatterStore *self,
             Job         *job)
{
  sqlite3_stmt *stmt;
  gboolean ok;
  gint64 conversation;

  if (!begin (self, &job->error))
    return;

  stmt = sql_prepare (self, "INSERT INTO users (id, name, portrait_uri) VALUES (?1, ?2, ?3)"
                            " ON CONFLICT (id) DO UPDATE SET"
                            " name = COALESCE (excluded.name, name),"
                            " portrait_uri = COALESCE (excluded.portrait_uri, portrait_uri)",
                      &job->error);
  ok = stmt != NULL &&
       bind_text (self, stmt, 1, job->target_id, &job->error) &&
       bind_text (self, stmt, 2, job->text, &job->error) &&
       bind_text (self, stmt, 3, job->text2, &job->error) &&
       step_done (self, stmt, &job->error) &&
       conversation_id (self, NATTER_CONVERSATION_PRIVATE, job->target_id, FALSE, &conversation,
                        &job->error);

  if (!commit_or_rollback (self, ok, &job->error))
    return;

  job->boolean = TRUE;
  if (job->text != NULL || job->text2 != NULL)
    {
      /* What the row holds now: a NULL argument kept a field. */
      sqlite3_stmt *row = sql_prepare (self, "SELECT name, portrait_uri FROM users WHERE id = ?1", NULL);
      gboolean has_row = FALSE;

      if (row != NULL && bind_text (self, row, 1, job->target_id, NULL) &&
          step_row (self, row, &has_row, NULL) && has_row)
        {
          Event *event = job_add_event (job, EVENT_USERS_CHANGED);

          event->profiles = g_ptr_array_new_with_free_func ((GDestroyNotify) natter_profile_free);
          g_ptr_array_add (event->profiles, natter_profile_new (job->target_id, column_text (row, 0),
                                                                column_text (row, 1), 0));
          sqlite3_reset (row);
        }
    }
  if (conversation != 0)
    job_conversation_changed (self, job, NATTER_CONVERSATION_PRIVATE, job->target_id, &job->error);
}

static void
do_load_profiles (NatterStore *self,
                  Job         *job)
{
  sqlite3_stmt *stmt = sql_prepare (self, "SELECT id, name, portrait_uri FROM users"
                                          " WHERE name IS NOT NULL OR portrait_uri IS NOT NULL",
                                    &job->error);
  g_autoptr(GPtrArray) profiles = g_ptr_array_new_with_free_func ((GDestroyNotify) natter_profile_free);
  int rc;

  if (stmt == NULL)
    return;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (profiles, natter_profile_new (column_text (stmt, 0), column_text (stmt, 1),
                                                   column_text (stmt, 2), 0));
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    {
      sql_failed (self, rc, "load users", &job->error);
      return;
    }
  job_add_event (job, EVENT_USERS_CHANGED)->profiles = g_steal_pointer (&profiles);
  job->boolean = TRUE;
}

/* Private-like conversations are with a user, 2 and 3 with a group. */
static const int user_conversation_types[] = {
  NATTER_CONVERSATION_PRIVATE, NATTER_CONVERSATION_CUSTOMER_SERVICE,
  NATTER_CONVERSATION_APP_PUBLIC_SERVICE, NATTER_CONVERSATION_PUBLIC_SERVICE,
};
static const int group_conversation_types[] = {
  NATTER_CONVERSATION_DISCUSSION, NATTER_CONVERSATION_GROUP,
};

/* job->array: users then groups (NatterProfile, member_count of users is
 * G_MAXUINT as the marker), job->int1 the fetch time. */
static void
do_set_profiles (NatterStore *self,
                 Job         *job)
{
  g_autoptr(GPtrArray) users = g_ptr_array_new ();
  gboolean ok;

  if (!begin (self, &job->error))
    return;

  ok = TRUE;
  for (guint i = 0; ok && i < job->array->len; i++)
    {
      NatterProfile *profile = g_ptr_array_index (job->array, i);
      gboolean is_user = profile->member_count == G_MAXUINT;
      sqlite3_stmt *stmt;

      stmt = sql_prepare (self, is_user ?
                          "INSERT INTO users (id, name, portrait_uri, fetched) VALUES (?1, ?2, ?3, ?4)"
                          " ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
                          " portrait_uri = excluded.portrait_uri, fetched = excluded.fetched" :
                          "INSERT INTO groups (id, name, portrait_uri, fetched, member_count)"
                          " VALUES (?1, ?2, ?3, ?4, ?5)"
                          " ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
                          " portrait_uri = excluded.portrait_uri, fetched = excluded.fetched,"
                          " member_count = excluded.member_count",
                          &job->error);
      ok = stmt != NULL &&
           bind_text (self, stmt, 1, profile->id, &job->error) &&
           bind_text (self, stmt, 2, profile->name, &job->error) &&
           bind_text (self, stmt, 3, profile->portrait_uri, &job->error) &&
           bind_int (self, stmt, 4, job->int1, &job->error) &&
           (is_user || bind_int (self, stmt, 5, profile->member_count, &job->error)) &&
           step_done (self, stmt, &job->error);
      if (is_user)
        g_ptr_array_add (users, profile);
    }

  if (!commit_or_rollback (self, ok, &job->error))
    return;

  /* Names first, so the conversations that follow carry them. */
  if (users->len > 0)
    {
      Event *event = job_add_event (job, EVENT_USERS_CHANGED);

      event->profiles = g_ptr_array_new_with_free_func ((GDestroyNotify) natter_profile_free);
      for (guint i = 0; i < users->len; i++)
        g_ptr_array_add (event->profiles, natter_profile_copy (g_ptr_array_index (users, i)));
    }

  for (guint i = 0; i < job->array->len; i++)
    {
      NatterProfile *profile = g_ptr_array_index (job->array, i);
      gboolean is_user = profile->member_count == G_MAXUINT;
      const int *types = is_user ? user_conversation_types : group_conversation_types;
      guint n_types = is_user ? G_N_ELEMENTS (user_conversation_types) : G_N_ELEMENTS (group_conversation_types);

      for (guint t = 0; t < n_types; t++)
        {
          gint64 conversation = 0;

          if (!conversation_id (self, types[t], profile->id, FALSE, &conversation, &job->error))
            return;
          if (conversation != 0 &&
              !job_conversation_changed (self, job, types[t], profile->id, &job->error))
            return;
        }
    }
  job->boolean = TRUE;
}

/* The targets of the newest conversations whose profile was not fetched
 * since job->int1: user ids in job->result's first half, then NULL, then
 * group ids. */
static void
do_get_stale_profiles (NatterStore *self,
                       Job         *job)
{
  sqlite3_stmt *stmt;
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  int rc;

  job->result = ids;
  stmt = sql_prepare (self,
                      "SELECT c.type, c.target_id FROM conversations c"
                      " LEFT JOIN users u ON c.type IN (1, 5, 7, 8) AND u.id = c.target_id"
                      " LEFT JOIN groups g ON c.type IN (2, 3) AND g.id = c.target_id"
                      " WHERE c.type IN (1, 2, 3, 5, 7, 8) AND c.hidden = 0"
                      " AND COALESCE (u.fetched, g.fetched, 0) < ?1"
                      " ORDER BY c.updated_time DESC LIMIT ?2",
                      &job->error);
  if (stmt == NULL ||
      !bind_int (self, stmt, 1, job->int1, &job->error) ||
      !bind_int (self, stmt, 2, job->limit, &job->error))
    return;

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      int type = sqlite3_column_int (stmt, 0);
      gboolean group = type == NATTER_CONVERSATION_GROUP || type == NATTER_CONVERSATION_DISCUSSION;

      g_ptr_array_add (ids, g_strconcat (group ? "g" : "u", column_text (stmt, 1), NULL));
    }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    sql_failed (self, rc, "stale profiles", &job->error);
}

static void
do_get_value (NatterStore *self,
              Job         *job)
{
  char *value = NULL;

  if (get_meta (self, job->text, &value, &job->error))
    job->result = value;
}

static void
do_set_value (NatterStore *self,
              Job         *job)
{
  job->boolean = set_meta (self, job->text, job->text2, &job->error);
}

static void
do_nothing (NatterStore *self,
            Job         *job)
{
  job->boolean = TRUE;
}

void
natter_server_conversation_free (NatterServerConversation *conversation)
{
  if (conversation == NULL)
    return;
  g_free (conversation->target_id);
  g_clear_object (&conversation->latest_message);
  g_free (conversation);
}

static void
do_merge_conversations (NatterStore *self,
                        Job         *job)
{
  gboolean ok;

  if (!begin (self, &job->error))
    return;

  ok = TRUE;
  for (guint i = 0; ok && i < job->array->len; i++)
    {
      NatterServerConversation *server = g_ptr_array_index (job->array, i);
      gint64 conversation = 0;
      gint64 id = 0;
      sqlite3_stmt *stmt;

      ok = conversation_id (self, server->type, server->target_id, TRUE, &conversation, &job->error);

      if (ok && server->latest_message != NULL)
        {
          gboolean cleared = FALSE;

          ok = find_by_uid (self, natter_message_get_message_uid (server->latest_message), &id,
                            &job->error) &&
               cleared_before (self, conversation, server->latest_message, &cleared, &job->error);
          if (ok && id == 0 && !cleared)
            ok = insert_message_row (self, conversation, server->latest_message, &id, &job->error) &&
                 remember_user (self, server->latest_message, &job->error) &&
                 (!server->latest_is_preview || mark_preview (self, id, &job->error));
          if (id != 0)
            ok = ok && conversation_take_message (self, conversation, id, server->latest_message,
                                                  FALSE, &job->error);
        }

      /* The server knows the unread count of messages this device may never
       * have seen (history from before it existed). */
      stmt = ok ? sql_prepare (self, "UPDATE conversations SET unread_count = ?2, pinned = ?3,"
                                     " muted = ?4, hidden = 0,"
                                     " mention_count = MIN (mention_count, ?2),"
                                     " updated_time = MAX (updated_time, ?5) WHERE id = ?1",
                               &job->error)
                : NULL;
      ok = ok && stmt != NULL &&
           bind_int (self, stmt, 1, conversation, &job->error) &&
           bind_int (self, stmt, 2, server->unread_count, &job->error) &&
           bind_int (self, stmt, 3, server->pinned, &job->error) &&
           bind_int (self, stmt, 4, server->muted, &job->error) &&
           bind_int (self, stmt, 5, server->updated_time, &job->error) &&
           step_done (self, stmt, &job->error);
    }

  if (!commit_or_rollback (self, ok, &job->error))
    return;

  job->boolean = TRUE;
  for (guint i = 0; i < job->array->len && job->error == NULL; i++)
    {
      NatterServerConversation *server = g_ptr_array_index (job->array, i);

      job_conversation_changed (self, job, server->type, server->target_id, &job->error);
    }
}

/* --------------------------------------------------- benchmark profile */

static const char * const bench_words[] = {
  "hello", "meeting", "tomorrow", "lunch", "project", "release", "coffee", "weekend",
  "photo", "address", "train", "ticket", "birthday", "invoice", "review", "music",
  "你好", "明天", "会议", "周末", "电影", "晚饭", "项目", "谢谢",
};

static void
do_generate (NatterStore *self,
             Job         *job)
{
  guint n_conversations = MAX (1, (guint) job->int1);
  guint n_messages = (guint) job->int2;
  const char *own = job->text;
  gint64 now = g_get_real_time () / 1000;
  gint64 start = now - (gint64) n_messages * 1000;  /* one message a second */
  GRand *rand = g_rand_new_with_seed (42);
  gboolean ok = TRUE;
  guint done = 0;

  while (ok && done < n_messages)
    {
      guint batch_end = MIN (n_messages, done + 50000);

      if (!begin (self, &job->error))
        break;

      for (; ok && done < batch_end; done++)
        {
          /* Round-robin so each conversation's messages interleave in time. */
          guint peer = done % n_conversations;
          g_autofree char *target = g_strdup_printf ("peer%u", peer);
          g_autofree char *text = NULL;
          g_autoptr(JsonObject) content = NULL;
          g_autoptr(NatterMessage) message = NULL;
          gboolean incoming = g_rand_boolean (rand);
          gint64 conversation;
          gint64 id;

          text = g_strdup_printf ("%s %s %s #%u",
                                  bench_words[g_rand_int_range (rand, 0, G_N_ELEMENTS (bench_words))],
                                  bench_words[g_rand_int_range (rand, 0, G_N_ELEMENTS (bench_words))],
                                  bench_words[g_rand_int_range (rand, 0, G_N_ELEMENTS (bench_words))],
                                  done);
          content = natter_content_new_text (text);
          message = natter_message_new_full (0, NULL, NATTER_CONVERSATION_PRIVATE, target,
                                             incoming ? target : own, NATTER_OBJECT_TEXT, content,
                                             incoming ? NATTER_MESSAGE_DIRECTION_RECEIVE
                                                      : NATTER_MESSAGE_DIRECTION_SEND,
                                             incoming ? NATTER_SENT_STATUS_READ : NATTER_SENT_STATUS_SENT,
                                             start + done * 1000, start + done * 1000, FALSE, 0,
                                             NULL, NATTER_MESSAGE_FLAG_PERSISTED | NATTER_MESSAGE_FLAG_COUNTED);
          {
            g_autofree char *uid = g_strdup_printf ("BNCH-%04X-%04X-%04X", done >> 24,
                                                    (done >> 12) & 0xfff, done & 0xfff);
            natter_message_set_message_uid (message, uid);
          }

          ok = conversation_id (self, NATTER_CONVERSATION_PRIVATE, target, TRUE, &conversation,
                                &job->error) &&
               insert_message_row (self, conversation, message, &id, &job->error) &&
               conversation_take_message (self, conversation, id, message,
                                          done + n_conversations >= n_messages, &job->error);
        }

      if (!commit_or_rollback (self, ok, &job->error))
        break;
    }

  g_rand_free (rand);
  if (ok && job->error == NULL)
    ok = sql_exec (self, "PRAGMA wal_checkpoint(TRUNCATE)", &job->error) &&
         sql_exec (self, "INSERT INTO message_search (message_search) VALUES ('optimize')", &job->error);
  job->boolean = ok && job->error == NULL;
}

/* --------------------------------------------------------------- GObject */

static void
natter_store_finalize (GObject *object)
{
  NatterStore *self = (NatterStore *) object;
  GHashTableIter iter;
  gpointer value;

  /* Every job holds a reference to the store: none is left. */
  g_async_queue_push (self->queue, &quit_job);
  g_thread_join (self->thread);
  g_async_queue_unref (self->queue);

  g_hash_table_iter_init (&iter, self->live_messages);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_object_weak_unref (value, live_message_gone, self);
  g_hash_table_iter_init (&iter, self->live_conversations);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_object_weak_unref (value, live_conversation_gone, self);
  g_hash_table_unref (self->live_messages);
  g_hash_table_unref (self->live_conversations);
  g_hash_table_unref (self->profiles);

  g_clear_error (&self->open_error);
  g_main_context_unref (self->context);
  g_free (self->own_user_id);
  g_mutex_clear (&self->own_user_lock);
  g_free (self->path);

  G_OBJECT_CLASS (natter_store_parent_class)->finalize (object);
}

static void
natter_store_constructed (GObject *object)
{
  NatterStore *self = (NatterStore *) object;

  G_OBJECT_CLASS (natter_store_parent_class)->constructed (object);

  if (self->path == NULL)
    self->path = g_strdup (":memory:");
  self->thread = g_thread_new ("natter-store", worker_main, self);
  /* Senders' names for the messages handed out; a few thousand rows. */
  job_push (self, job_new (self, natter_store_constructed, do_load_profiles, RESULT_BOOLEAN,
                           NULL, NULL, NULL));
}

static void
natter_store_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  NatterStore *self = NATTER_STORE (object);

  switch (prop_id)
    {
    case PROP_PATH:
      g_value_set_string (value, self->path);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_store_set_property (GObject      *object,
                           guint         prop_id,
                           const GValue *value,
                           GParamSpec   *pspec)
{
  NatterStore *self = NATTER_STORE (object);

  switch (prop_id)
    {
    case PROP_PATH:
      self->path = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_store_class_init (NatterStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = natter_store_constructed;
  object_class->finalize = natter_store_finalize;
  object_class->get_property = natter_store_get_property;
  object_class->set_property = natter_store_set_property;

  properties[PROP_PATH] =
    g_param_spec_string ("path", NULL, "SQLite database file, or :memory:", NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_EXPLICIT_NOTIFY |
                         G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * NatterStore::message-added:
   * A new message was stored live (received, sent, or inserted locally).
   */
  signals[SIGNAL_MESSAGE_ADDED] =
    g_signal_new ("message-added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, NATTER_TYPE_MESSAGE);
  /**
   * NatterStore::message-updated:
   * A stored message changed (status, uid, recall); the object is updated.
   */
  signals[SIGNAL_MESSAGE_UPDATED] =
    g_signal_new ("message-updated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, NATTER_TYPE_MESSAGE);
  /**
   * NatterStore::messages-cleared:
   * Every message of a conversation was deleted here.
   */
  signals[SIGNAL_MESSAGES_CLEARED] =
    g_signal_new ("messages-cleared", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, NATTER_TYPE_CONVERSATION_TYPE, G_TYPE_STRING);
  /**
   * NatterStore::conversation-changed:
   * A conversation was created or changed (latest message, unread, flags).
   */
  signals[SIGNAL_CONVERSATION_CHANGED] =
    g_signal_new ("conversation-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, NATTER_TYPE_CONVERSATION);
  /**
   * NatterStore::conversation-removed:
   * A conversation was deleted or hidden.
   */
  signals[SIGNAL_CONVERSATION_REMOVED] =
    g_signal_new ("conversation-removed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, NATTER_TYPE_CONVERSATION_TYPE, G_TYPE_STRING);
}

static void
natter_store_init (NatterStore *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->queue = g_async_queue_new ();
  self->live_messages = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  self->live_conversations = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->profiles = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) natter_profile_free);
  self->statements = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                            (GDestroyNotify) sqlite3_finalize);
  g_mutex_init (&self->own_user_lock);
}

NatterStore *
natter_store_new (const char *path)
{
  return g_object_new (NATTER_TYPE_STORE, "path", path, NULL);
}

const char *
natter_store_get_path (NatterStore *self)
{
  g_return_val_if_fail (NATTER_IS_STORE (self), NULL);
  return self->path;
}

void
natter_store_set_own_user_id (NatterStore *self,
                              const char  *user_id)
{
  g_autoptr(GMutexLocker) locker = NULL;

  g_return_if_fail (NATTER_IS_STORE (self));

  locker = g_mutex_locker_new (&self->own_user_lock);
  g_free (self->own_user_id);
  self->own_user_id = g_strdup (user_id);
}

/* --------------------------------------------------------- public calls */

#define CHECK_FINISH(self, result, tag, fail) \
  g_return_val_if_fail (NATTER_IS_STORE (self), fail); \
  g_return_val_if_fail (g_task_is_valid (result, self), fail); \
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == (tag), fail)

/* A job about one conversation; the caller sets its extras and pushes it. */
static Job *
conversation_job (NatterStore            *self,
                  gpointer                tag,
                  JobFunc                 func,
                  ResultKind              result_kind,
                  NatterConversationType  type,
                  const char             *target_id,
                  GCancellable           *cancellable,
                  GAsyncReadyCallback     callback,
                  gpointer                user_data)
{
  Job *job = job_new (self, tag, func, result_kind, cancellable, callback, user_data);

  job->type = type;
  job->target_id = g_strdup (target_id);
  return job;
}

void
natter_store_open_async (NatterStore         *self,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_return_if_fail (NATTER_IS_STORE (self));
  job_push (self, job_new (self, natter_store_open_async, do_nothing, RESULT_BOOLEAN,
                           cancellable, callback, user_data));
}

gboolean
natter_store_open_finish (NatterStore   *self,
                          GAsyncResult  *result,
                          GError       **error)
{
  CHECK_FINISH (self, result, natter_store_open_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
push_add_message (NatterStore         *self,
                  NatterMessage       *message,
                  guint64              seq,
                  GCancellable        *cancellable,
                  GAsyncReadyCallback  callback,
                  gpointer             user_data)
{
  Job *job = job_new (self, natter_store_add_message_async, do_add_message, RESULT_MESSAGE,
                      cancellable, callback, user_data);

  job->message = g_object_ref (message);
  job->seq = seq;
  job_push (self, job);
}

void
natter_store_add_message_async (NatterStore         *self,
                                NatterMessage       *message,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (NATTER_IS_MESSAGE (message));
  push_add_message (self, message, 0, cancellable, callback, user_data);
}

void
natter_store_add_delivered_async (NatterStore         *self,
                                  NatterMessage       *message,
                                  guint64              seq,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (NATTER_IS_MESSAGE (message));
  push_add_message (self, message, seq, cancellable, callback, user_data);
}

NatterMessage *
natter_store_add_message_finish (NatterStore   *self,
                                 GAsyncResult  *result,
                                 gboolean      *added,
                                 GError       **error)
{
  NatterMessage *message;

  CHECK_FINISH (self, result, natter_store_add_message_async, NULL);

  message = g_task_propagate_pointer (G_TASK (result), error);
  if (added != NULL)
    *added = message != NULL && GPOINTER_TO_INT (g_object_get_data (G_OBJECT (result), "added"));
  return message;
}

void
natter_store_add_history_async (NatterStore         *self,
                                GPtrArray           *messages,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  Job *job;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (messages != NULL);

  job = job_new (self, natter_store_add_history_async, do_add_history, RESULT_MESSAGES,
                 cancellable, callback, user_data);
  job->array = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < messages->len; i++)
    g_ptr_array_add (job->array, g_object_ref (g_ptr_array_index (messages, i)));
  job_push (self, job);
}

GPtrArray *
natter_store_add_history_finish (NatterStore   *self,
                                 GAsyncResult  *result,
                                 GError       **error)
{
  CHECK_FINISH (self, result, natter_store_add_history_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
natter_store_update_message_async (NatterStore         *self,
                                   NatterMessage       *message,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  Job *job;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (NATTER_IS_MESSAGE (message));
  g_return_if_fail (natter_message_get_message_id (message) > 0);

  job = job_new (self, natter_store_update_message_async, do_update_message, RESULT_MESSAGE,
                 cancellable, callback, user_data);
  /* A snapshot: the caller's object may change again before the worker runs. */
  job->message = natter_message_new_full (natter_message_get_message_id (message),
                                          natter_message_get_message_uid (message),
                                          natter_message_get_conversation_type (message),
                                          natter_message_get_target_id (message),
                                          natter_message_get_sender_user_id (message),
                                          natter_message_get_object_name (message),
                                          natter_message_get_content (message),
                                          natter_message_get_direction (message),
                                          natter_message_get_sent_status (message),
                                          natter_message_get_sent_time (message),
                                          natter_message_get_received_time (message),
                                          natter_message_get_offline (message),
                                          natter_message_get_error_code (message),
                                          natter_message_get_client_msg_id (message),
                                          natter_message_get_flags (message));
  job_push (self, job);
}

NatterMessage *
natter_store_update_message_finish (NatterStore   *self,
                                    GAsyncResult  *result,
                                    GError       **error)
{
  CHECK_FINISH (self, result, natter_store_update_message_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
natter_store_get_message_async (NatterStore         *self,
                                gint64               message_id,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  Job *job;

  g_return_if_fail (NATTER_IS_STORE (self));

  job = job_new (self, natter_store_get_message_async, do_get_message, RESULT_MESSAGE,
                 cancellable, callback, user_data);
  job->int1 = message_id;
  job_push (self, job);
}

void
natter_store_get_message_by_uid_async (NatterStore         *self,
                                       const char          *message_uid,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data)
{
  Job *job;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (message_uid != NULL);

  job = job_new (self, natter_store_get_message_async, do_get_message, RESULT_MESSAGE,
                 cancellable, callback, user_data);
  job->text = g_strdup (message_uid);
  job_push (self, job);
}

void
natter_store_recall_async (NatterStore         *self,
                           const char          *message_uid,
                           const char          *operator_id,
                           gint64               recall_time,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  Job *job;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (message_uid != NULL);

  job = job_new (self, natter_store_get_message_async, do_recall, RESULT_MESSAGE,
                 cancellable, callback, user_data);
  job->text = g_strdup (message_uid);
  job->text2 = g_strdup (operator_id);
  job->int1 = recall_time;
  job_push (self, job);
}

NatterMessage *
natter_store_get_message_finish (NatterStore   *self,
                                 GAsyncResult  *result,
                                 GError       **error)
{
  CHECK_FINISH (self, result, natter_store_get_message_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
natter_store_get_messages_async (NatterStore            *self,
                                 NatterConversationType  type,
                                 const char             *target_id,
                                 gint64                  before_time,
                                 gint64                  before_id,
                                 guint                   limit,
                                 GCancellable           *cancellable,
                                 GAsyncReadyCallback     callback,
                                 gpointer                user_data)
{
  Job *job;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (target_id != NULL);

  job = conversation_job (self, natter_store_get_messages_async, do_get_messages, RESULT_MESSAGES, type, target_id,
                          cancellable, callback, user_data);
  job->int1 = before_time;
  job->int2 = before_id > 0 ? before_id : G_MAXINT64;
  job->limit = limit;
  job_push (self, job);
}

GPtrArray *
natter_store_get_messages_finish (NatterStore   *self,
                                  GAsyncResult  *result,
                                  GError       **error)
{
  CHECK_FINISH (self, result, natter_store_get_messages_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
natter_store_get_outbox_async (NatterStore         *self,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_return_if_fail (NATTER_IS_STORE (self));
  job_push (self, job_new (self, natter_store_get_outbox_async, do_get_outbox, RESULT_MESSAGES,
                           cancellable, callback, user_data));
}

GPtrArray *
natter_store_get_outbox_finish (NatterStore   *self,
                                GAsyncResult  *result,
                                GError       **error)
{
  CHECK_FINISH (self, result, natter_store_get_outbox_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
natter_store_search_async (NatterStore            *self,
                           const char             *query,
                           NatterConversationType  type,
                           const char             *target_id,
                           guint                   limit,
                           GCancellable           *cancellable,
                           GAsyncReadyCallback     callback,
                           gpointer                user_data)
{
  Job *job;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (query != NULL);
  g_return_if_fail (type == 0 || target_id != NULL);

  job = job_new (self, natter_store_search_async, do_search, RESULT_MESSAGES,
                 cancellable, callback, user_data);
  job->text = g_strdup (query);
  job->type = type;
  job->target_id = g_strdup (target_id);
  job->limit = limit ? limit : 100;
  job_push (self, job);
}

GPtrArray *
natter_store_search_finish (NatterStore   *self,
                            GAsyncResult  *result,
                            GError       **error)
{
  CHECK_FINISH (self, result, natter_store_search_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
natter_store_clear_messages_async (NatterStore            *self,
                                   NatterConversationType  type,
                                   const char             *target_id,
                                   GCancellable           *cancellable,
                                   GAsyncReadyCallback     callback,
                                   gpointer                user_data)
{
  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (target_id != NULL);
  job_push (self, conversation_job (self, natter_store_clear_messages_async, do_clear_messages,
                                    RESULT_BOOLEAN, type, target_id, cancellable, callback, user_data));
}

gboolean
natter_store_clear_messages_finish (NatterStore   *self,
                                    GAsyncResult  *result,
                                    GError       **error)
{
  CHECK_FINISH (self, result, natter_store_clear_messages_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
natter_store_get_conversations_async (NatterStore                  *self,
                                      const NatterConversationType *types,
                                      gsize                         n_types,
                                      GCancellable                 *cancellable,
                                      GAsyncReadyCallback           callback,
                                      gpointer                      user_data)
{
  Job *job;

  g_return_if_fail (NATTER_IS_STORE (self));

  job = job_new (self, natter_store_get_conversations_async, do_get_conversations,
                 RESULT_CONVERSATIONS, cancellable, callback, user_data);
  if (n_types > 0)
    {
      job->types = g_array_sized_new (FALSE, FALSE, sizeof (int), n_types);
      for (gsize i = 0; i < n_types; i++)
        {
          int type = types[i];
          g_array_append_val (job->types, type);
        }
    }
  job_push (self, job);
}

GPtrArray *
natter_store_get_conversations_finish (NatterStore   *self,
                                       GAsyncResult  *result,
                                       GError       **error)
{
  CHECK_FINISH (self, result, natter_store_get_conversations_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
natter_store_get_conversation_async (NatterStore            *self,
                                     NatterConversationType  type,
                                     const char             *target_id,
                                     GCancellable           *cancellable,
                                     GAsyncReadyCallback     callback,
                                     gpointer                user_data)
{
  Job *job;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (target_id != NULL);

  job = conversation_job (self, natter_store_get_conversation_async, do_get_conversation, RESULT_CONVERSATION, type, target_id,
                          cancellable, callback, user_data);
  job_push (self, job);
}

NatterConversation *
natter_store_get_conversation_finish (NatterStore   *self,
                                      GAsyncResult  *result,
                                      GError       **error)
{
  CHECK_FINISH (self, result, natter_store_get_conversation_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
natter_store_set_conversation_flag_async (NatterStore             *self,
                                          NatterConversationType   type,
                                          const char              *target_id,
                                          NatterConversationField  field,
                                          gboolean                 value,
                                          GCancellable            *cancellable,
                                          GAsyncReadyCallback      callback,
                                          gpointer                 user_data)
{
  Job *job;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (target_id != NULL);

  job = conversation_job (self, natter_store_set_conversation_flag_async, do_set_conversation_flag, RESULT_BOOLEAN, type, target_id,
                          cancellable, callback, user_data);
  job->int1 = field;
  job->flag = !!value;
  job_push (self, job);
}

gboolean
natter_store_set_conversation_flag_finish (NatterStore   *self,
                                           GAsyncResult  *result,
                                           GError       **error)
{
  CHECK_FINISH (self, result, natter_store_set_conversation_flag_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
natter_store_set_draft_async (NatterStore            *self,
                              NatterConversationType  type,
                              const char             *target_id,
                              const char             *draft,
                              GCancellable           *cancellable,
                              GAsyncReadyCallback     callback,
                              gpointer                user_data)
{
  Job *job;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (target_id != NULL);

  job = conversation_job (self, natter_store_set_draft_async, do_set_draft, RESULT_BOOLEAN, type, target_id,
                          cancellable, callback, user_data);
  job->text = g_strdup (draft);
  job->int1 = g_get_real_time () / 1000;
  job_push (self, job);
}

gboolean
natter_store_set_draft_finish (NatterStore   *self,
                               GAsyncResult  *result,
                               GError       **error)
{
  CHECK_FINISH (self, result, natter_store_set_draft_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
natter_store_clear_unread_async (NatterStore            *self,
                                 NatterConversationType  type,
                                 const char             *target_id,
                                 gint64                  read_time,
                                 GCancellable           *cancellable,
                                 GAsyncReadyCallback     callback,
                                 gpointer                user_data)
{
  Job *job;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (target_id != NULL);

  job = conversation_job (self, natter_store_clear_unread_async, do_clear_unread, RESULT_BOOLEAN, type, target_id,
                          cancellable, callback, user_data);
  job->int1 = read_time;
  job_push (self, job);
}

gboolean
natter_store_clear_unread_finish (NatterStore   *self,
                                  GAsyncResult  *result,
                                  GError       **error)
{
  CHECK_FINISH (self, result, natter_store_clear_unread_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
natter_store_mark_read_async (NatterStore            *self,
                              NatterConversationType  type,
                              const char             *target_id,
                              gint64                  read_time,
                              GCancellable           *cancellable,
                              GAsyncReadyCallback     callback,
                              gpointer                user_data)
{
  Job *job;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (target_id != NULL);

  job = conversation_job (self, natter_store_mark_read_async, do_mark_read, RESULT_BOOLEAN, type, target_id,
                          cancellable, callback, user_data);
  job->int1 = read_time;
  job_push (self, job);
}

gboolean
natter_store_mark_read_finish (NatterStore   *self,
                               GAsyncResult  *result,
                               GError       **error)
{
  CHECK_FINISH (self, result, natter_store_mark_read_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
natter_store_delete_conversation_async (NatterStore            *self,
                                        NatterConversationType  type,
                                        const char             *target_id,
                                        GCancellable           *cancellable,
                                        GAsyncReadyCallback     callback,
                                        gpointer                user_data)
{
  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (target_id != NULL);
  job_push (self, conversation_job (self, natter_store_delete_conversation_async,
                                    do_delete_conversation, RESULT_BOOLEAN, type, target_id,
                                    cancellable, callback, user_data));
}

gboolean
natter_store_delete_conversation_finish (NatterStore   *self,
                                         GAsyncResult  *result,
                                         GError       **error)
{
  CHECK_FINISH (self, result, natter_store_delete_conversation_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
natter_store_set_user_async (NatterStore         *self,
                             const char          *user_id,
                             const char          *name,
                             const char          *portrait_uri,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  Job *job;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (user_id != NULL);

  job = job_new (self, natter_store_set_user_async, do_set_user, RESULT_BOOLEAN,
                 cancellable, callback, user_data);
  job->target_id = g_strdup (user_id);
  job->text = g_strdup (name);
  job->text2 = g_strdup (portrait_uri);
  job_push (self, job);
}

NatterProfile *
natter_profile_new (const char *id,
                    const char *name,
                    const char *portrait_uri,
                    guint       member_count)
{
  NatterProfile *profile = g_new0 (NatterProfile, 1);

  profile->id = g_strdup (id);
  profile->name = name != NULL && *name != '\0' ? g_strdup (name) : NULL;
  profile->portrait_uri = portrait_uri != NULL && *portrait_uri != '\0' ? g_strdup (portrait_uri) : NULL;
  profile->member_count = member_count;
  return profile;
}

NatterProfile *
natter_profile_copy (const NatterProfile *profile)
{
  return natter_profile_new (profile->id, profile->name, profile->portrait_uri, profile->member_count);
}

void
natter_profile_free (NatterProfile *profile)
{
  if (profile == NULL)
    return;
  g_free (profile->id);
  g_free (profile->name);
  g_free (profile->portrait_uri);
  g_free (profile);
}

G_DEFINE_BOXED_TYPE (NatterProfile, natter_profile, natter_profile_copy, natter_profile_free)

void
natter_store_set_profiles_async (NatterStore         *self,
                                 GPtrArray           *users,
                                 GPtrArray           *groups,
                                 gint64               fetched,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  Job *job;

  g_return_if_fail (NATTER_IS_STORE (self));

  job = job_new (self, natter_store_set_profiles_async, do_set_profiles, RESULT_BOOLEAN,
                 cancellable, callback, user_data);
  job->array = g_ptr_array_new_with_free_func ((GDestroyNotify) natter_profile_free);
  for (guint i = 0; users != NULL && i < users->len; i++)
    {
      NatterProfile *copy = natter_profile_copy (g_ptr_array_index (users, i));

      copy->member_count = G_MAXUINT;  /* a user */
      g_ptr_array_add (job->array, copy);
    }
  for (guint i = 0; groups != NULL && i < groups->len; i++)
    {
      NatterProfile *copy = natter_profile_copy (g_ptr_array_index (groups, i));

      copy->member_count = MIN (copy->member_count, G_MAXUINT - 1);
      g_ptr_array_add (job->array, copy);
    }
  job->int1 = fetched;
  job_push (self, job);
}

gboolean
natter_store_set_profiles_finish (NatterStore   *self,
                                  GAsyncResult  *result,
                                  GError       **error)
{
  CHECK_FINISH (self, result, natter_store_set_profiles_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
natter_store_get_stale_profiles_async (NatterStore         *self,
                                       gint64               fetched_before,
                                       guint                limit,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data)
{
  Job *job;

  g_return_if_fail (NATTER_IS_STORE (self));

  job = job_new (self, natter_store_get_stale_profiles_async, do_get_stale_profiles, RESULT_STRINGS,
                 cancellable, callback, user_data);
  job->int1 = fetched_before;
  job->limit = limit;
  job_push (self, job);
}

gboolean
natter_store_get_stale_profiles_finish (NatterStore   *self,
                                        GAsyncResult  *result,
                                        GStrv         *user_ids,
                                        GStrv         *group_ids,
                                        GError       **error)
{
  g_autoptr(GPtrArray) ids = NULL;
  g_autoptr(GStrvBuilder) users = g_strv_builder_new ();
  g_autoptr(GStrvBuilder) groups = g_strv_builder_new ();

  CHECK_FINISH (self, result, natter_store_get_stale_profiles_async, FALSE);

  ids = g_task_propagate_pointer (G_TASK (result), error);
  if (ids == NULL)
    return FALSE;
  for (guint i = 0; i < ids->len; i++)
    {
      const char *id = g_ptr_array_index (ids, i);

      g_strv_builder_add (id[0] == 'g' ? groups : users, id + 1);
    }
  *user_ids = g_strv_builder_end (users);
  *group_ids = g_strv_builder_end (groups);
  return TRUE;
}

gboolean
natter_store_set_user_finish (NatterStore   *self,
                              GAsyncResult  *result,
                              GError       **error)
{
  CHECK_FINISH (self, result, natter_store_set_user_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
natter_store_get_value_async (NatterStore         *self,
                              const char          *key,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  Job *job;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (key != NULL);

  job = job_new (self, natter_store_get_value_async, do_get_value, RESULT_STRING,
                 cancellable, callback, user_data);
  job->text = g_strdup (key);
  job_push (self, job);
}

char *
natter_store_get_value_finish (NatterStore   *self,
                               GAsyncResult  *result,
                               GError       **error)
{
  CHECK_FINISH (self, result, natter_store_get_value_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
natter_store_set_value_async (NatterStore         *self,
                              const char          *key,
                              const char          *value,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  Job *job;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (key != NULL);

  job = job_new (self, natter_store_set_value_async, do_set_value, RESULT_BOOLEAN,
                 cancellable, callback, user_data);
  job->text = g_strdup (key);
  job->text2 = g_strdup (value);
  job_push (self, job);
}

gboolean
natter_store_set_value_finish (NatterStore   *self,
                               GAsyncResult  *result,
                               GError       **error)
{
  CHECK_FINISH (self, result, natter_store_set_value_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
natter_store_merge_conversations_async (NatterStore         *self,
                                        GPtrArray           *conversations,
                                        GCancellable        *cancellable,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data)
{
  Job *job;

  g_return_if_fail (NATTER_IS_STORE (self));

  job = job_new (self, natter_store_merge_conversations_async, do_merge_conversations,
                 RESULT_BOOLEAN, cancellable, callback, user_data);
  job->array = g_ptr_array_ref (conversations);
  job_push (self, job);
}

gboolean
natter_store_merge_conversations_finish (NatterStore   *self,
                                         GAsyncResult  *result,
                                         GError       **error)
{
  CHECK_FINISH (self, result, natter_store_merge_conversations_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
natter_store_generate_async (NatterStore         *self,
                             const char          *own_user_id,
                             guint                n_conversations,
                             guint                n_messages,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  Job *job;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (own_user_id != NULL);

  job = job_new (self, natter_store_generate_async, do_generate, RESULT_BOOLEAN,
                 cancellable, callback, user_data);
  job->text = g_strdup (own_user_id);
  job->int1 = n_conversations;
  job->int2 = n_messages;
  job_push (self, job);
}

gboolean
natter_store_generate_finish (NatterStore   *self,
                              GAsyncResult  *result,
                              GError       **error)
{
  CHECK_FINISH (self, result, natter_store_generate_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

guint
natter_store_get_synced_commits (NatterStore *self)
{
  g_return_val_if_fail (NATTER_IS_STORE (self), 0);
  return (guint) g_atomic_int_get (&self->synced_commits);
}
