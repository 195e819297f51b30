/* natter-store.c — SQLite on one worker thread
 *
 * Every public call becomes a job pushed to one worker thread, which alone
 * touches the sqlite3 connection. A finished job goes back to the main
 * context the store was created in: there the rows become the one shared
 * NatterMessage / NatterConversation object per row (updated in place when
 * the row changed), the store's signals are emitted, and only then does the
 * caller's GTask return.
 *
 * This file is the object itself: the worker, the jobs, the shared objects
 * and signals, and the SQL helpers the other parts use. What each call
 * does to the rows lives with its concern (natter-store-private.h lists
 * the files).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-store-private.h"

#include <string.h>

#include "natter-conversation-private.h"
#include "natter-message-private.h"

G_DEFINE_QUARK (natter-store-error-quark, natter_store_error)

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

/* ---------------------------------------------------------------- events */

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

static Event *
job_add_event (NatterStoreJob *job,
               EventKind       kind)
{
  Event *event = g_new0 (Event, 1);

  event->kind = kind;
  if (job->events == NULL)
    job->events = g_ptr_array_new_with_free_func ((GDestroyNotify) event_free);
  g_ptr_array_add (job->events, event);
  return event;
}

void
natter_store_job_emit_message_added (NatterStoreJob *job,
                                     NatterMessage  *message)
{
  job_add_event (job, EVENT_MESSAGE_ADDED)->message = message;
}

void
natter_store_job_emit_message_updated (NatterStoreJob *job,
                                       NatterMessage  *message)
{
  job_add_event (job, EVENT_MESSAGE_UPDATED)->message = message;
}

void
natter_store_job_emit_messages_read (NatterStoreJob *job,
                                     GArray         *ids)
{
  job_add_event (job, EVENT_MESSAGES_READ)->ids = ids;
}

void
natter_store_job_emit_messages_cleared (NatterStoreJob         *job,
                                        NatterConversationType  type,
                                        const char             *target_id)
{
  Event *event = job_add_event (job, EVENT_MESSAGES_CLEARED);

  event->type = type;
  event->target_id = g_strdup (target_id);
}

void
natter_store_job_emit_conversation_changed (NatterStoreJob     *job,
                                            NatterConversation *conversation)
{
  job_add_event (job, EVENT_CONVERSATION_CHANGED)->conversation = conversation;
}

void
natter_store_job_emit_conversation_removed (NatterStoreJob         *job,
                                            NatterConversationType  type,
                                            const char             *target_id)
{
  Event *event = job_add_event (job, EVENT_CONVERSATION_REMOVED);

  event->type = type;
  event->target_id = g_strdup (target_id);
}

void
natter_store_job_emit_users_changed (NatterStoreJob *job,
                                     GPtrArray      *profiles)
{
  job_add_event (job, EVENT_USERS_CHANGED)->profiles = profiles;
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
  const char *sender = natter_message_get_sender_user_id (message);
  /* an outgoing message may not have its sender yet */
  NatterProfile *profile = sender != NULL ? g_hash_table_lookup (self->profiles, sender) : NULL;

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

/* ------------------------------------------------------------------ jobs */

/* The quit marker on the queue. */
static NatterStoreJob quit_job;

static void
job_free (NatterStoreJob *job)
{
  if (job->clear != NULL)
    job->clear (job);
  g_clear_object (&job->task);
  g_clear_error (&job->error);
  g_clear_pointer (&job->events, g_ptr_array_unref);

  if (job->result != NULL)
    {
      switch (job->result_kind)
        {
        case NATTER_STORE_RESULT_MESSAGE:
        case NATTER_STORE_RESULT_CONVERSATION:
          g_object_unref (job->result);
          break;
        case NATTER_STORE_RESULT_MESSAGES:
        case NATTER_STORE_RESULT_CONVERSATIONS:
        case NATTER_STORE_RESULT_STRINGS:
          g_ptr_array_unref (job->result);
          break;
        case NATTER_STORE_RESULT_STRING:
          g_free (job->result);
          break;
        case NATTER_STORE_RESULT_BOOLEAN:
        case NATTER_STORE_RESULT_COUNT:
        default:
          break;
        }
    }

  g_free (job);
}

static gboolean
job_complete (gpointer data)
{
  NatterStoreJob *job = data;
  NatterStore *self = g_task_get_source_object (job->task);

  if (job->result != NULL)
    {
      switch (job->result_kind)
        {
        case NATTER_STORE_RESULT_MESSAGE:
          job->result = canonical_message (self, job->result);
          break;
        case NATTER_STORE_RESULT_CONVERSATION:
          job->result = canonical_conversation (self, job->result);
          break;
        case NATTER_STORE_RESULT_MESSAGES:
          canonicalize_array (self, job->result, FALSE);
          break;
        case NATTER_STORE_RESULT_CONVERSATIONS:
          canonicalize_array (self, job->result, TRUE);
          break;
        case NATTER_STORE_RESULT_BOOLEAN:
        case NATTER_STORE_RESULT_STRING:
        case NATTER_STORE_RESULT_STRINGS:
        case NATTER_STORE_RESULT_COUNT:
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

  if (job->error != NULL)
    {
      g_task_return_error (job->task, g_steal_pointer (&job->error));
    }
  else
    {
      switch (job->result_kind)
        {
        case NATTER_STORE_RESULT_BOOLEAN:
          g_task_return_boolean (job->task, TRUE);
          break;
        case NATTER_STORE_RESULT_COUNT:
          g_task_return_int (job->task, GPOINTER_TO_UINT (g_steal_pointer (&job->result)));
          break;
        case NATTER_STORE_RESULT_MESSAGE:
        case NATTER_STORE_RESULT_CONVERSATION:
          g_task_return_pointer (job->task, g_steal_pointer (&job->result), g_object_unref);
          break;
        case NATTER_STORE_RESULT_MESSAGES:
        case NATTER_STORE_RESULT_CONVERSATIONS:
        case NATTER_STORE_RESULT_STRINGS:
          g_task_return_pointer (job->task, g_steal_pointer (&job->result),
                                 (GDestroyNotify) g_ptr_array_unref);
          break;
        case NATTER_STORE_RESULT_STRING:
          g_task_return_pointer (job->task, g_steal_pointer (&job->result), g_free);
          break;
        default:
          g_assert_not_reached ();
        }
    }

  job_free (job);
  return G_SOURCE_REMOVE;
}

gpointer
natter_store_job_new (NatterStore           *self,
                      gsize                  size,
                      gpointer               source_tag,
                      NatterStoreJobFunc     run,
                      GDestroyNotify         clear,
                      NatterStoreResultKind  result_kind,
                      GCancellable          *cancellable,
                      GAsyncReadyCallback    callback,
                      gpointer               user_data)
{
  NatterStoreJob *job;

  g_assert (size >= sizeof (NatterStoreJob));

  job = g_malloc0 (size);
  job->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (job->task, source_tag);
  /* The store answers even when cancelled: a write that ran is reported. */
  g_task_set_check_cancellable (job->task, FALSE);
  job->run = run;
  job->clear = clear;
  job->result_kind = result_kind;
  return job;
}

void
natter_store_conversation_job_clear (gpointer data)
{
  NatterStoreConversationJob *job = data;

  g_free (job->target_id);
}

gpointer
natter_store_conversation_job_new (NatterStore            *self,
                                   gsize                   size,
                                   gpointer                source_tag,
                                   NatterStoreJobFunc      run,
                                   GDestroyNotify          clear,
                                   NatterStoreResultKind   result_kind,
                                   NatterConversationType  type,
                                   const char             *target_id,
                                   GCancellable           *cancellable,
                                   GAsyncReadyCallback     callback,
                                   gpointer                user_data)
{
  NatterStoreConversationJob *job;

  g_assert (size >= sizeof (NatterStoreConversationJob));

  job = natter_store_job_new (self, size, source_tag, run,
                              clear != NULL ? clear : natter_store_conversation_job_clear,
                              result_kind, cancellable, callback, user_data);
  job->type = type;
  job->target_id = g_strdup (target_id);
  return job;
}

void
natter_store_job_push (NatterStore *self,
                       gpointer     job)
{
  g_async_queue_push (self->queue, job);
}

/* ------------------------------------------------------------- SQLite */

gboolean
natter_store_sql_failed (NatterStore  *self,
                         int           rc,
                         const char   *what,
                         GError      **error)
{
  g_set_error (error, NATTER_STORE_ERROR, NATTER_STORE_ERROR_SQLITE,
               "%s: %s (%d)", what, self->db ? sqlite3_errmsg (self->db) : sqlite3_errstr (rc), rc);
  return FALSE;
}

gboolean
natter_store_exec (NatterStore  *self,
                   const char   *sql,
                   GError      **error)
{
  char *message = NULL;
  int rc;

  NATTER_STORE_ASSERT_WORKER (self);

  rc = sqlite3_exec (self->db, sql, NULL, NULL, &message);
  if (rc != SQLITE_OK)
    {
      g_set_error (error, NATTER_STORE_ERROR, NATTER_STORE_ERROR_SQLITE,
                   "%s: %s (%d)", sql, message ? message : sqlite3_errstr (rc), rc);
      sqlite3_free (message);
      return FALSE;
    }

  return TRUE;
}

sqlite3_stmt *
natter_store_prepare (NatterStore  *self,
                      const char   *sql,
                      GError      **error)
{
  sqlite3_stmt *stmt;
  int rc;

  NATTER_STORE_ASSERT_WORKER (self);

  stmt = g_hash_table_lookup (self->statements, sql);
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
      natter_store_sql_failed (self, rc, "prepare", error);
      return NULL;
    }

  g_hash_table_insert (self->statements, (gpointer) sql, stmt);
  return stmt;
}

gboolean
natter_store_bind_text (NatterStore   *self,
                        sqlite3_stmt  *stmt,
                        int            index,
                        const char    *value,
                        GError       **error)
{
  int rc = value ? sqlite3_bind_text (stmt, index, value, -1, SQLITE_TRANSIENT)
                 : sqlite3_bind_null (stmt, index);

  return rc == SQLITE_OK || natter_store_sql_failed (self, rc, "bind", error);
}

gboolean
natter_store_bind_int (NatterStore   *self,
                       sqlite3_stmt  *stmt,
                       int            index,
                       gint64         value,
                       GError       **error)
{
  int rc = sqlite3_bind_int64 (stmt, index, value);

  return rc == SQLITE_OK || natter_store_sql_failed (self, rc, "bind", error);
}

gboolean
natter_store_step_done (NatterStore   *self,
                        sqlite3_stmt  *stmt,
                        GError       **error)
{
  int rc = sqlite3_step (stmt);

  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return natter_store_sql_failed (self, rc, sqlite3_sql (stmt), error);
  return TRUE;
}

gboolean
natter_store_step_row (NatterStore   *self,
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
    return natter_store_sql_failed (self, rc, sqlite3_sql (stmt), error);
  return TRUE;
}

gboolean
natter_store_begin (NatterStore  *self,
                    GError      **error)
{
  return natter_store_exec (self, "BEGIN IMMEDIATE", error);
}

/* What the user wrote and natterd does not have yet (the outbox, drafts)
 * commits with a sync of the WAL, so it survives a power cut too; the rest
 * natterd still has, and NORMAL keeps bursts of incoming messages cheap. */
gboolean
natter_store_begin_synced (NatterStore  *self,
                           GError      **error)
{
  if (!natter_store_exec (self, "PRAGMA synchronous = FULL", error))
    return FALSE;
  self->synced = TRUE;
  return natter_store_begin (self, error);
}

gboolean
natter_store_commit_or_rollback (NatterStore  *self,
                                 gboolean      ok,
                                 GError      **error)
{
  if (self->synced)
    {
      gboolean committed = ok && natter_store_exec (self, "COMMIT", error);

      self->synced = FALSE;
      if (committed)
        g_atomic_int_inc (&self->synced_commits);
      natter_store_exec (self, "PRAGMA synchronous = NORMAL", NULL);
      if (committed)
        return TRUE;
      ok = FALSE;
    }
  if (ok && natter_store_exec (self, "COMMIT", error))
    return TRUE;

  /* A failed ROLLBACK leaves nothing to do but report the first error. */
  if (!sqlite3_get_autocommit (self->db))
    natter_store_exec (self, "ROLLBACK", NULL);
  return FALSE;
}

/* ------------------------------------------------------ key/value state */

gboolean
natter_store_set_meta (NatterStore  *self,
                       const char   *key,
                       const char   *value,
                       GError      **error)
{
  sqlite3_stmt *stmt;

  if (value == NULL)
    {
      stmt = natter_store_prepare (self, "DELETE FROM meta WHERE key = ?1", error);
      return stmt != NULL && natter_store_bind_text (self, stmt, 1, key, error) &&
             natter_store_step_done (self, stmt, error);
    }

  stmt = natter_store_prepare (self, "INSERT INTO meta (key, value) VALUES (?1, ?2)"
                                     " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                               error);
  return stmt != NULL &&
         natter_store_bind_text (self, stmt, 1, key, error) &&
         natter_store_bind_text (self, stmt, 2, value, error) &&
         natter_store_step_done (self, stmt, error);
}

gboolean
natter_store_get_meta (NatterStore  *self,
                       const char   *key,
                       char        **value,
                       GError      **error)
{
  sqlite3_stmt *stmt = natter_store_prepare (self, "SELECT value FROM meta WHERE key = ?1", error);
  gboolean has_row;

  *value = NULL;
  if (stmt == NULL || !natter_store_bind_text (self, stmt, 1, key, error) ||
      !natter_store_step_row (self, stmt, &has_row, error))
    return FALSE;
  if (has_row)
    {
      *value = g_strdup (natter_store_column_text (stmt, 0));
      sqlite3_reset (stmt);
    }
  return TRUE;
}

char *
natter_store_dup_own_user_id (NatterStore *self)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&self->own_user_lock);

  return g_strdup (self->own_user_id);
}

/* get_value, set_value */
typedef struct
{
  NatterStoreJob  base;
  char           *key;
  char           *value;
} ValueJob;

static void
value_job_clear (gpointer data)
{
  ValueJob *op = data;

  g_free (op->key);
  g_free (op->value);
}

static void
do_get_value (NatterStore    *self,
              NatterStoreJob *job)
{
  ValueJob *op = (ValueJob *) job;
  char *value = NULL;

  if (natter_store_get_meta (self, op->key, &value, &job->error))
    job->result = value;
}

static void
do_set_value (NatterStore    *self,
              NatterStoreJob *job)
{
  ValueJob *op = (ValueJob *) job;

  natter_store_set_meta (self, op->key, op->value, &job->error);
}

/* ----------------------------------------------------------- the worker */

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
  NatterStoreJob *job;

  self->worker = g_thread_self ();

  if (!natter_store_open_database (self, &self->open_error))
    g_warning ("%s", self->open_error->message);

  while ((job = g_async_queue_pop (self->queue)) != &quit_job)
    {
      if (self->open_error != NULL)
        job->error = g_error_copy (self->open_error);
      else
        job->run (self, job);

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
  natter_store_load_profiles (self);
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

/* --------------------------------------------------------- public calls */

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

guint
natter_store_get_synced_commits (NatterStore *self)
{
  g_return_val_if_fail (NATTER_IS_STORE (self), 0);
  return (guint) g_atomic_int_get (&self->synced_commits);
}

static void
do_nothing (NatterStore    *self,
            NatterStoreJob *job)
{
}

void
natter_store_open_async (NatterStore         *self,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_return_if_fail (NATTER_IS_STORE (self));
  natter_store_job_push (self, natter_store_job_new (self, sizeof (NatterStoreJob),
                                                     natter_store_open_async, do_nothing, NULL,
                                                     NATTER_STORE_RESULT_BOOLEAN,
                                                     cancellable, callback, user_data));
}

gboolean
natter_store_open_finish (NatterStore   *self,
                          GAsyncResult  *result,
                          GError       **error)
{
  NATTER_STORE_CHECK_FINISH (self, result, natter_store_open_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
natter_store_get_value_async (NatterStore         *self,
                              const char          *key,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  ValueJob *op;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (key != NULL);

  op = natter_store_job_new (self, sizeof *op, natter_store_get_value_async, do_get_value,
                             value_job_clear, NATTER_STORE_RESULT_STRING,
                             cancellable, callback, user_data);
  op->key = g_strdup (key);
  natter_store_job_push (self, op);
}

char *
natter_store_get_value_finish (NatterStore   *self,
                               GAsyncResult  *result,
                               GError       **error)
{
  NATTER_STORE_CHECK_FINISH (self, result, natter_store_get_value_async, NULL);
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
  ValueJob *op;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (key != NULL);

  op = natter_store_job_new (self, sizeof *op, natter_store_set_value_async, do_set_value,
                             value_job_clear, NATTER_STORE_RESULT_BOOLEAN,
                             cancellable, callback, user_data);
  op->key = g_strdup (key);
  op->value = g_strdup (value);
  natter_store_job_push (self, op);
}

gboolean
natter_store_set_value_finish (NatterStore   *self,
                               GAsyncResult  *result,
                               GError       **error)
{
  NATTER_STORE_CHECK_FINISH (self, result, natter_store_set_value_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
