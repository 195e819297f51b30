/* natter-store-timelines.c — group timelines (natter.v2)
 *
 * A group's (or discussion's) messages come live and from the timeline
 * query, each with its timeline_seq (docs/protocol.md, "Group
 * timelines"). The conversation row keeps its held position: the seq up
 * to which the timeline is here without a gap, what the next fetch starts
 * after. Messages are stored once by messageUId, whichever way they come
 * first; the held position moves over every message stored next to it, so
 * a live message that came before the gap was filled is not fetched again.
 * Unread counts: the server's count from the last sync (up to its
 * counted_seq), plus what comes after it and after the read position.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-store-private.h"

#include "natter-message-private.h"

/* A guint64 the owner reads once the task returned (qdata is thread-safe). */
static void
set_task_seq (NatterStoreJob *job,
              const char     *key,
              guint64         seq)
{
  g_object_set_data_full (G_OBJECT (job->task), key, g_memdup2 (&seq, sizeof seq), g_free);
}

static guint64
get_task_seq (GAsyncResult *result,
              const char   *key)
{
  guint64 *seq = g_object_get_data (G_OBJECT (result), key);

  return seq != NULL ? *seq : 0;
}

static gboolean
get_seq_column (NatterStore  *self,
                const char   *sql,
                gint64        conversation,
                guint64      *value,
                GError      **error)
{
  sqlite3_stmt *stmt = natter_store_prepare (self, sql, error);
  gboolean has_row;

  *value = 0;
  if (stmt == NULL || !natter_store_bind_int (self, stmt, 1, conversation, error) ||
      !natter_store_step_row (self, stmt, &has_row, error))
    return FALSE;
  if (has_row)
    {
      *value = (guint64) sqlite3_column_int64 (stmt, 0);
      sqlite3_reset (stmt);
    }
  return TRUE;
}

gboolean
natter_store_timeline_note_read_seq (NatterStore     *self,
                                     NatterStoreJob  *job,
                                     gint64           conversation,
                                     GError         **error)
{
  guint64 read_seq;

  if (!get_seq_column (self, "SELECT read_seq FROM conversations WHERE id = ?1", conversation,
                       &read_seq, error))
    return FALSE;
  set_task_seq (job, "read-seq", read_seq);
  return TRUE;
}

guint64
natter_store_clear_unread_get_read_seq (GAsyncResult *result)
{
  return get_task_seq (result, "read-seq");
}

/* Moves the held position of @conversation to at least @held and then on
 * over the messages stored right after it. */
static gboolean
advance_held (NatterStore  *self,
              gint64        conversation,
              guint64      *held,
              GError      **error)
{
  sqlite3_stmt *stmt;
  gboolean has_row = TRUE;

  while (has_row)
    {
      stmt = natter_store_prepare (self, "SELECT 1 FROM messages WHERE conversation_id = ?1"
                                         " AND timeline_seq = ?2", error);
      if (stmt == NULL || !natter_store_bind_int (self, stmt, 1, conversation, error) ||
          !natter_store_bind_int (self, stmt, 2, (gint64) *held + 1, error) ||
          !natter_store_step_row (self, stmt, &has_row, error))
        return FALSE;
      if (has_row)
        {
          sqlite3_reset (stmt);
          (*held)++;
        }
    }

  stmt = natter_store_prepare (self, "UPDATE conversations SET timeline_seq = ?2 WHERE id = ?1", error);
  return stmt != NULL && natter_store_bind_int (self, stmt, 1, conversation, error) &&
         natter_store_bind_int (self, stmt, 2, (gint64) *held, error) &&
         natter_store_step_done (self, stmt, error);
}

/* ------------------------------------------------------- add to a timeline */

typedef struct
{
  NatterStoreConversationJob  conversation;
  GPtrArray                  *messages;
  guint64                     after_seq;
  guint64                     through_seq;
  gboolean                    skip;
} AddTimelineJob;

static void
add_timeline_job_clear (gpointer data)
{
  AddTimelineJob *op = data;

  g_clear_pointer (&op->messages, g_ptr_array_unref);
  natter_store_conversation_job_clear (data);
}

/* A message already here: whole again if it was a preview, and it learns
 * its place on the timeline (a message sent from here has none before). */
static gboolean
merge_existing (NatterStore    *self,
                gint64          id,
                NatterMessage  *message,
                NatterStoreJob *job,
                gboolean       *completed)
{
  sqlite3_stmt *stmt;

  if (!natter_store_complete_preview (self, id, message, completed, &job->error))
    return FALSE;

  stmt = natter_store_prepare (self, "UPDATE messages SET timeline_seq = ?2 WHERE id = ?1"
                                     " AND timeline_seq = 0", &job->error);
  return stmt != NULL && natter_store_bind_int (self, stmt, 1, id, &job->error) &&
         natter_store_bind_int (self, stmt, 2, (gint64) natter_message_get_timeline_seq (message),
                                &job->error) &&
         natter_store_step_done (self, stmt, &job->error);
}

static void
do_add_timeline (NatterStore    *self,
                 NatterStoreJob *job)
{
  AddTimelineJob *op = (AddTimelineJob *) job;
  NatterStoreConversationJob *target = &op->conversation;
  g_autoptr(GPtrArray) added = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GArray) new_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GArray) completed_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  gint64 conversation = 0;
  guint64 held = 0;
  gboolean ok;

  NATTER_STORE_ASSERT_WORKER (self);

  if (!natter_store_begin (self, &job->error))
    return;

  ok = natter_store_conversation_id (self, target->type, target->target_id, op->messages->len > 0,
                                     &conversation, &job->error);

  for (guint i = 0; ok && conversation != 0 && i < op->messages->len; i++)
    {
      NatterMessage *message = g_ptr_array_index (op->messages, i);
      gint64 id = 0;
      gboolean cleared = FALSE;

      ok = natter_store_find_by_uid (self, natter_message_get_message_uid (message), &id, &job->error);
      if (ok && id != 0)
        {
          gboolean completed = FALSE;

          ok = merge_existing (self, id, message, job, &completed);
          if (ok && completed)
            g_array_append_val (completed_ids, id);
          continue;
        }

      ok = ok && natter_store_cleared_before (self, conversation, message, &cleared, &job->error);
      if (!ok || cleared)
        continue;

      ok = natter_store_insert_message (self, conversation, message, &id, &job->error) &&
           natter_store_conversation_take_message (self, conversation, id, message, TRUE, &job->error) &&
           natter_store_remember_sender (self, message, &job->error);
      if (ok)
        g_array_append_val (new_ids, id);
    }

  if (ok && conversation != 0)
    {
      ok = get_seq_column (self, "SELECT timeline_seq FROM conversations WHERE id = ?1", conversation,
                           &held, &job->error);
      if (ok && (op->skip || held >= op->after_seq))
        held = MAX (held, op->through_seq);
      ok = ok && advance_held (self, conversation, &held, &job->error);
    }

  if (!natter_store_commit_or_rollback (self, ok, &job->error))
    return;

  set_task_seq (job, "held", held);

  for (guint i = 0; i < completed_ids->len && job->error == NULL; i++)
    {
      NatterMessage *row = natter_store_load_message (self, g_array_index (completed_ids, gint64, i),
                                                      &job->error);

      if (row != NULL)
        natter_store_job_emit_message_updated (job, row);
    }

  for (guint i = 0; i < new_ids->len && job->error == NULL; i++)
    {
      NatterMessage *row = natter_store_load_message (self, g_array_index (new_ids, gint64, i),
                                                      &job->error);

      if (row != NULL)
        {
          natter_store_job_emit_message_added (job, g_object_ref (row));
          g_ptr_array_add (added, row);
        }
    }

  if (new_ids->len > 0 || completed_ids->len > 0)
    natter_store_job_emit_conversation (self, job, target->type, target->target_id, &job->error);

  if (job->error == NULL)
    job->result = g_steal_pointer (&added);
}

void
natter_store_add_timeline_async (NatterStore            *self,
                                 NatterConversationType  type,
                                 const char             *target_id,
                                 GPtrArray              *messages,
                                 guint64                 after_seq,
                                 guint64                 through_seq,
                                 gboolean                skip,
                                 GCancellable           *cancellable,
                                 GAsyncReadyCallback     callback,
                                 gpointer                user_data)
{
  AddTimelineJob *op;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (target_id != NULL);

  op = natter_store_conversation_job_new (self, sizeof *op, natter_store_add_timeline_async,
                                          do_add_timeline, add_timeline_job_clear,
                                          NATTER_STORE_RESULT_MESSAGES, type, target_id,
                                          cancellable, callback, user_data);
  op->messages = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; messages != NULL && i < messages->len; i++)
    g_ptr_array_add (op->messages, natter_message_copy (g_ptr_array_index (messages, i)));
  op->after_seq = after_seq;
  op->through_seq = through_seq;
  op->skip = skip;
  natter_store_job_push (self, op);
}

GPtrArray *
natter_store_add_timeline_finish (NatterStore   *self,
                                  GAsyncResult  *result,
                                  guint64       *held,
                                  GError       **error)
{
  GPtrArray *added;

  NATTER_STORE_CHECK_FINISH (self, result, natter_store_add_timeline_async, NULL);

  added = g_task_propagate_pointer (G_TASK (result), error);
  if (held != NULL)
    *held = added != NULL ? get_task_seq (result, "held") : 0;
  return added;
}

/* ------------------------------------------------ the server's state */

typedef struct
{
  NatterStoreConversationJob  conversation;
  NatterTimelineState         state;
} ApplyStateJob;

static void
do_apply_timeline_state (NatterStore    *self,
                         NatterStoreJob *job)
{
  ApplyStateJob *op = (ApplyStateJob *) job;
  NatterStoreConversationJob *target = &op->conversation;
  const NatterTimelineState *state = &op->state;
  gint64 conversation = 0;
  guint64 held = 0;
  sqlite3_stmt *stmt;
  gboolean ok;

  NATTER_STORE_ASSERT_WORKER (self);

  if (!natter_store_begin (self, &job->error))
    return;

  ok = natter_store_conversation_id (self, target->type, target->target_id, state->latest_seq > 0,
                                     &conversation, &job->error);
  if (ok && conversation != 0)
    {
      /* Every SET sees the row as it was: ?3 against the old read_seq. Read
       * here through the server's latest (a clear while the sync ran): its
       * count is older than that. A conversation removed from the list
       * comes back for news only. */
      stmt = natter_store_prepare (self,
                                   "UPDATE conversations SET"
                                   " read_seq = MAX (read_seq, ?3),"
                                   " counted_seq = MAX (counted_seq, ?2),"
                                   " unread_count = CASE WHEN read_seq >= ?2 THEN 0 ELSE ?4 END"
                                   "   + (SELECT COUNT (*) FROM messages"
                                   "   WHERE conversation_id = ?1 AND direction = 2 AND (flags & 2) != 0"
                                   "   AND timeline_seq > MAX (?2, ?3, conversations.read_seq)),"
                                   " mention_count = CASE WHEN read_seq >= ?2 THEN 0 ELSE ?5 END,"
                                   " hidden = CASE WHEN ?2 > timeline_seq THEN 0 ELSE hidden END,"
                                   " updated_time = MAX (updated_time, ?6)"
                                   " WHERE id = ?1", &job->error);
      ok = stmt != NULL &&
           natter_store_bind_int (self, stmt, 1, conversation, &job->error) &&
           natter_store_bind_int (self, stmt, 2, (gint64) state->latest_seq, &job->error) &&
           natter_store_bind_int (self, stmt, 3, (gint64) state->read_seq, &job->error) &&
           natter_store_bind_int (self, stmt, 4, state->unread_count, &job->error) &&
           natter_store_bind_int (self, stmt, 5, state->mentioned ? 1 : 0, &job->error) &&
           natter_store_bind_int (self, stmt, 6, state->updated_time, &job->error) &&
           natter_store_step_done (self, stmt, &job->error) &&
           get_seq_column (self, "SELECT timeline_seq FROM conversations WHERE id = ?1", conversation,
                           &held, &job->error);
    }

  if (!natter_store_commit_or_rollback (self, ok, &job->error))
    return;

  set_task_seq (job, "held", held);
  if (conversation != 0)
    natter_store_job_emit_conversation (self, job, target->type, target->target_id, &job->error);
}

void
natter_store_apply_timeline_state_async (NatterStore               *self,
                                         NatterConversationType     type,
                                         const char                *target_id,
                                         const NatterTimelineState *state,
                                         GCancellable              *cancellable,
                                         GAsyncReadyCallback        callback,
                                         gpointer                   user_data)
{
  ApplyStateJob *op;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (target_id != NULL && state != NULL);

  op = natter_store_conversation_job_new (self, sizeof *op, natter_store_apply_timeline_state_async,
                                          do_apply_timeline_state, natter_store_conversation_job_clear,
                                          NATTER_STORE_RESULT_BOOLEAN, type, target_id,
                                          cancellable, callback, user_data);
  op->state = *state;
  natter_store_job_push (self, op);
}

gboolean
natter_store_apply_timeline_state_finish (NatterStore   *self,
                                          GAsyncResult  *result,
                                          guint64       *held,
                                          GError       **error)
{
  gboolean ok;

  NATTER_STORE_CHECK_FINISH (self, result, natter_store_apply_timeline_state_async, FALSE);

  ok = g_task_propagate_boolean (G_TASK (result), error);
  if (held != NULL)
    *held = ok ? get_task_seq (result, "held") : 0;
  return ok;
}
