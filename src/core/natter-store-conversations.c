/* natter-store-conversations.c — conversation rows
 *
 * A conversation row keeps what the list shows without touching its
 * messages: the latest message (by id), the time that orders the list,
 * unread and mention counts, pinned, muted, hidden, the draft, the read
 * mark and the time of a local clear. Every write that changes what a row
 * shows queues ::conversation-changed with the row as it is after the
 * commit (or ::conversation-removed when it is gone or hidden), so the
 * conversation list follows without reloading.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-store-private.h"

#include "natter-conversation-private.h"
#include "natter-message-private.h"

/* ----------------------------------------------------------- rows */

/* Private-like conversations (1, 5, 7, 8) and system ones (6, with the
 * sending service) are with a user, 2 and 3 with a group: their title and
 * portrait come from the profile. */
#define CONVERSATION_COLUMNS \
  "c.type, c.target_id, COALESCE (c.title, u.name, g.name), " \
  "COALESCE (c.portrait_uri, u.portrait_uri, g.portrait_uri), " \
  "c.unread_count, c.mention_count, c.pinned, c.muted, c.draft, c.updated_time"
#define N_CONVERSATION_COLUMNS 10
#define CONVERSATION_FROM \
  " FROM conversations c" \
  " LEFT JOIN messages m ON m.id = c.latest_message_id" \
  " LEFT JOIN users u ON c.type IN (1, 5, 6, 7, 8) AND u.id = c.target_id" \
  " LEFT JOIN groups g ON c.type IN (2, 3) AND g.id = c.target_id"

/* The latest message as a conversation keeps it: its own small object (not
 * the store's shared one for the row), with the content a preview needs. */
static NatterMessage *
summary_from_row (sqlite3_stmt *stmt,
                  int           first)
{
  g_autofree char *content = natter_message_summary_content (natter_store_column_text (stmt, first + 5),
                                                             natter_store_column_text (stmt, first + 6));

  return natter_message_new_row (sqlite3_column_int64 (stmt, first + 0),
                                 natter_store_column_text (stmt, first + 1),
                                 sqlite3_column_int (stmt, first + 2),
                                 natter_store_column_text (stmt, first + 3),
                                 natter_store_column_text (stmt, first + 4),
                                 natter_store_column_text (stmt, first + 5),
                                 content != NULL ? content : natter_store_column_text (stmt, first + 6),
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
    .target_id = natter_store_column_text (stmt, 1),
    .title = natter_store_column_text (stmt, 2),
    .portrait_uri = natter_store_column_text (stmt, 3),
    .unread_count = (guint) sqlite3_column_int (stmt, 4),
    .mention_count = (guint) sqlite3_column_int (stmt, 5),
    .pinned = sqlite3_column_int (stmt, 6),
    .muted = sqlite3_column_int (stmt, 7),
    .draft = natter_store_column_text (stmt, 8),
    .updated_time = sqlite3_column_int64 (stmt, 9),
  };

  if (sqlite3_column_type (stmt, N_CONVERSATION_COLUMNS) != SQLITE_NULL)
    latest = summary_from_row (stmt, N_CONVERSATION_COLUMNS);
  data.latest_message = latest;

  return natter_conversation_new (&data);
}

gboolean
natter_store_conversation_id (NatterStore             *self,
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
      stmt = natter_store_prepare (self, "INSERT INTO conversations (type, target_id) VALUES (?1, ?2)"
                                         " ON CONFLICT (type, target_id) DO NOTHING", error);
      if (stmt == NULL ||
          !natter_store_bind_int (self, stmt, 1, type, error) ||
          !natter_store_bind_text (self, stmt, 2, target_id, error) ||
          !natter_store_step_done (self, stmt, error))
        return FALSE;
    }

  stmt = natter_store_prepare (self, "SELECT id FROM conversations WHERE type = ?1 AND target_id = ?2",
                               error);
  if (stmt == NULL ||
      !natter_store_bind_int (self, stmt, 1, type, error) ||
      !natter_store_bind_text (self, stmt, 2, target_id, error) ||
      !natter_store_step_row (self, stmt, &has_row, error))
    return FALSE;

  if (has_row)
    {
      *id = sqlite3_column_int64 (stmt, 0);
      sqlite3_reset (stmt);
    }

  return TRUE;
}

gboolean
natter_store_get_cleared_time (NatterStore  *self,
                               gint64        conversation,
                               gint64       *cleared_time,
                               GError      **error)
{
  sqlite3_stmt *stmt = natter_store_prepare (self, "SELECT cleared_time FROM conversations WHERE id = ?1",
                                             error);
  gboolean has_row;

  *cleared_time = G_MININT64;
  if (stmt == NULL || !natter_store_bind_int (self, stmt, 1, conversation, error) ||
      !natter_store_step_row (self, stmt, &has_row, error))
    return FALSE;
  if (has_row)
    {
      *cleared_time = sqlite3_column_int64 (stmt, 0);
      sqlite3_reset (stmt);
    }
  return TRUE;
}

/* Messages sent before a local clear stay cleared: history and replays
 * from before it are not stored again. */
gboolean
natter_store_cleared_before (NatterStore    *self,
                             gint64          conversation,
                             NatterMessage  *message,
                             gboolean       *cleared,
                             GError        **error)
{
  gint64 cleared_time;

  *cleared = FALSE;
  if (!natter_store_get_cleared_time (self, conversation, &cleared_time, error))
    return FALSE;
  *cleared = natter_message_get_sent_time (message) <= cleared_time;
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

  stmt = natter_store_prepare (self, "SELECT " CONVERSATION_COLUMNS ", " NATTER_STORE_MESSAGE_COLUMNS
                                     CONVERSATION_FROM " WHERE c.type = ?1 AND c.target_id = ?2",
                               error);
  if (stmt == NULL ||
      !natter_store_bind_int (self, stmt, 1, type, error) ||
      !natter_store_bind_text (self, stmt, 2, target_id, error) ||
      !natter_store_step_row (self, stmt, &has_row, error))
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

gboolean
natter_store_job_emit_conversation (NatterStore             *self,
                                    NatterStoreJob          *job,
                                    NatterConversationType   type,
                                    const char              *target_id,
                                    GError                 **error)
{
  NatterConversation *conversation;
  sqlite3_stmt *stmt;
  gboolean has_row;
  gboolean visible;

  stmt = natter_store_prepare (self, "SELECT hidden FROM conversations WHERE type = ?1 AND target_id = ?2",
                               error);
  if (stmt == NULL ||
      !natter_store_bind_int (self, stmt, 1, type, error) ||
      !natter_store_bind_text (self, stmt, 2, target_id, error) ||
      !natter_store_step_row (self, stmt, &has_row, error))
    return FALSE;

  visible = has_row && sqlite3_column_int (stmt, 0) == 0;
  if (has_row)
    sqlite3_reset (stmt);

  if (!visible)
    {
      natter_store_job_emit_conversation_removed (job, type, target_id);
      return TRUE;
    }

  conversation = load_conversation (self, type, target_id, error);
  if (conversation == NULL)
    return FALSE;
  natter_store_job_emit_conversation_changed (job, conversation);
  return TRUE;
}

/* A group message counts unless it is read (read_seq) or the server's
 * unread count of the last sync already has it (counted_seq); @seq is its
 * timeline_seq, 0 outside timelines. */
#define COUNTS_ON_TIMELINE(seq) "(" seq " = 0 OR " seq " > MAX (read_seq, counted_seq))"

gboolean
natter_store_conversation_take_message (NatterStore    *self,
                                        gint64          conversation,
                                        gint64          id,
                                        NatterMessage  *message,
                                        gboolean        live,
                                        GError        **error)
{
  g_autofree char *own = natter_store_dup_own_user_id (self);
  gboolean counted = live &&
                     natter_message_get_direction (message) == NATTER_MESSAGE_DIRECTION_RECEIVE &&
                     (natter_message_get_flags (message) & NATTER_MESSAGE_FLAG_COUNTED) != 0;
  gboolean mentioned = counted && natter_message_mentions (message, own);
  NatterMessageKind kind = natter_message_get_kind (message);
  sqlite3_stmt *stmt;

  /* Receipts and clears are bookkeeping, not the conversation's news. */
  if (kind == NATTER_MESSAGE_KIND_RECEIPT_REQUEST || kind == NATTER_MESSAGE_KIND_RECEIPT_RESPONSE ||
      kind == NATTER_MESSAGE_KIND_CLEAR_COMMAND)
    return TRUE;

  stmt = natter_store_prepare (self,
                               "UPDATE conversations SET"
                               " latest_message_id = CASE WHEN ?3 >= updated_time OR latest_message_id IS NULL"
                               "   THEN ?2 ELSE latest_message_id END,"
                               " updated_time = MAX (updated_time, ?3),"
                               " hidden = CASE WHEN ?6 THEN 0 ELSE hidden END,"
                               " unread_count = unread_count + (?4 AND ?3 > read_time AND " COUNTS_ON_TIMELINE ("?7") "),"
                               " mention_count = mention_count + (?5 AND ?3 > read_time AND " COUNTS_ON_TIMELINE ("?7") ")"
                               " WHERE id = ?1",
                               error);
  return stmt != NULL &&
         natter_store_bind_int (self, stmt, 1, conversation, error) &&
         natter_store_bind_int (self, stmt, 2, id, error) &&
         natter_store_bind_int (self, stmt, 3, natter_message_get_sent_time (message), error) &&
         natter_store_bind_int (self, stmt, 4, counted, error) &&
         natter_store_bind_int (self, stmt, 5, mentioned, error) &&
         natter_store_bind_int (self, stmt, 6, live, error) &&
         natter_store_bind_int (self, stmt, 7, (gint64) natter_message_get_timeline_seq (message), error) &&
         natter_store_step_done (self, stmt, error);
}

/* ------------------------------------------------------------- reads */

typedef struct
{
  NatterStoreJob  base;
  GArray         *types;        /* int; NULL for every type */
  int             limit;        /* at most this many; -1 for all */
} GetConversationsJob;

static void
get_conversations_job_clear (gpointer data)
{
  GetConversationsJob *op = data;

  g_clear_pointer (&op->types, g_array_unref);
}

static void
do_get_conversations (NatterStore    *self,
                      NatterStoreJob *job)
{
  GetConversationsJob *op = (GetConversationsJob *) job;
  g_autoptr(GPtrArray) conversations = g_ptr_array_new_with_free_func (g_object_unref);
  sqlite3_stmt *stmt;
  gint64 mask = 0;
  int rc;

  NATTER_STORE_ASSERT_WORKER (self);

  /* At most 8 types: one bitmask parameter keeps one cached statement. */
  stmt = natter_store_prepare (self, "SELECT " CONVERSATION_COLUMNS ", " NATTER_STORE_MESSAGE_COLUMNS
                                     CONVERSATION_FROM
                                     " WHERE c.hidden = 0 AND (?1 = 0 OR ((?1 >> c.type) & 1))"
                                     " ORDER BY c.pinned DESC, c.updated_time DESC, c.id DESC"
                                     " LIMIT ?2",
                               &job->error);
  if (stmt == NULL)
    return;

  for (guint i = 0; op->types != NULL && i < op->types->len; i++)
    mask |= G_GINT64_CONSTANT (1) << CLAMP (g_array_index (op->types, int, i), 0, 62);
  if (!natter_store_bind_int (self, stmt, 1, mask, &job->error) ||
      !natter_store_bind_int (self, stmt, 2, op->limit, &job->error))
    return;

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (conversations, conversation_from_row (stmt));
  sqlite3_reset (stmt);

  if (rc != SQLITE_DONE)
    {
      natter_store_sql_failed (self, rc, "conversation list", &job->error);
      return;
    }

  job->result = g_steal_pointer (&conversations);
}

static void
do_get_conversation (NatterStore    *self,
                     NatterStoreJob *job)
{
  NatterStoreConversationJob *op = (NatterStoreConversationJob *) job;
  g_autoptr(GError) error = NULL;

  NATTER_STORE_ASSERT_WORKER (self);

  job->result = load_conversation (self, op->type, op->target_id, &error);
  if (job->result == NULL && !g_error_matches (error, NATTER_STORE_ERROR, NATTER_STORE_ERROR_NOT_FOUND))
    job->error = g_steal_pointer (&error);
}

/* ------------------------------------------------------ changes */

static void
do_delete_conversation (NatterStore    *self,
                        NatterStoreJob *job)
{
  NatterStoreConversationJob *op = (NatterStoreConversationJob *) job;
  gint64 conversation;
  sqlite3_stmt *stmt;
  gboolean ok;

  NATTER_STORE_ASSERT_WORKER (self);

  if (!natter_store_begin (self, &job->error))
    return;

  ok = natter_store_conversation_id (self, op->type, op->target_id, FALSE, &conversation, &job->error);
  if (ok && conversation != 0)
    {
      ok = natter_store_unindex_conversation (self, conversation, &job->error);
      stmt = ok ? natter_store_prepare (self, "DELETE FROM conversations WHERE id = ?1", &job->error)
                : NULL;
      ok = ok && stmt != NULL && natter_store_bind_int (self, stmt, 1, conversation, &job->error) &&
           natter_store_step_done (self, stmt, &job->error);
    }

  if (!natter_store_commit_or_rollback (self, ok, &job->error))
    return;

  natter_store_job_emit_messages_cleared (job, op->type, op->target_id);
  natter_store_job_emit_conversation_removed (job, op->type, op->target_id);
}

typedef struct
{
  NatterStoreConversationJob conversation;
  NatterConversationField    field;
  gboolean                   value;
} SetFlagJob;

static void
do_set_conversation_flag (NatterStore    *self,
                          NatterStoreJob *job)
{
  static const char * const sql[] = {
    [NATTER_CONVERSATION_FIELD_PINNED] = "UPDATE conversations SET pinned = ?2 WHERE id = ?1",
    [NATTER_CONVERSATION_FIELD_MUTED] = "UPDATE conversations SET muted = ?2 WHERE id = ?1",
    [NATTER_CONVERSATION_FIELD_HIDDEN] = "UPDATE conversations SET hidden = ?2 WHERE id = ?1",
  };
  SetFlagJob *op = (SetFlagJob *) job;
  NatterStoreConversationJob *target = &op->conversation;
  gint64 conversation;
  sqlite3_stmt *stmt;
  gboolean ok;

  NATTER_STORE_ASSERT_WORKER (self);

  if ((guint) op->field >= G_N_ELEMENTS (sql))
    {
      g_set_error (&job->error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "Unknown field");
      return;
    }

  if (!natter_store_begin (self, &job->error))
    return;

  ok = natter_store_conversation_id (self, target->type, target->target_id, TRUE, &conversation,
                                     &job->error);
  stmt = ok ? natter_store_prepare (self, sql[op->field], &job->error) : NULL;
  ok = ok && stmt != NULL &&
       natter_store_bind_int (self, stmt, 1, conversation, &job->error) &&
       natter_store_bind_int (self, stmt, 2, op->value, &job->error) &&
       natter_store_step_done (self, stmt, &job->error);

  if (!natter_store_commit_or_rollback (self, ok, &job->error))
    return;

  natter_store_job_emit_conversation (self, job, target->type, target->target_id, &job->error);
}

typedef struct
{
  NatterStoreConversationJob  conversation;
  char                       *draft;      /* NULL clears it */
  gint64                      now;        /* ms: a draft moves its conversation up */
} SetDraftJob;

static void
set_draft_job_clear (gpointer data)
{
  SetDraftJob *op = data;

  natter_store_conversation_job_clear (op);
  g_free (op->draft);
}

static void
do_set_draft (NatterStore    *self,
              NatterStoreJob *job)
{
  SetDraftJob *op = (SetDraftJob *) job;
  NatterStoreConversationJob *target = &op->conversation;
  gint64 conversation;
  sqlite3_stmt *stmt;
  gboolean ok;

  NATTER_STORE_ASSERT_WORKER (self);

  if (!natter_store_begin_synced (self, &job->error))
    return;

  ok = natter_store_conversation_id (self, target->type, target->target_id, op->draft != NULL,
                                     &conversation, &job->error);
  if (ok && conversation != 0)
    {
      /* A draft shows its conversation even when it had been removed. */
      stmt = natter_store_prepare (self, "UPDATE conversations SET draft = ?2,"
                                         " hidden = CASE WHEN ?2 IS NULL THEN hidden ELSE 0 END,"
                                         " updated_time = CASE WHEN ?2 IS NULL THEN updated_time"
                                         "   ELSE MAX (updated_time, ?3) END"
                                         " WHERE id = ?1", &job->error);
      ok = stmt != NULL &&
           natter_store_bind_int (self, stmt, 1, conversation, &job->error) &&
           natter_store_bind_text (self, stmt, 2, op->draft, &job->error) &&
           natter_store_bind_int (self, stmt, 3, op->now, &job->error) &&
           natter_store_step_done (self, stmt, &job->error);
    }

  if (!natter_store_commit_or_rollback (self, ok, &job->error))
    return;

  if (conversation != 0)
    natter_store_job_emit_conversation (self, job, target->type, target->target_id, &job->error);
}

typedef struct
{
  NatterStoreConversationJob conversation;
  gint64                     read_time;
} ReadTimeJob;

static void
do_clear_unread (NatterStore    *self,
                 NatterStoreJob *job)
{
  ReadTimeJob *op = (ReadTimeJob *) job;
  NatterStoreConversationJob *target = &op->conversation;
  gint64 conversation;
  sqlite3_stmt *stmt;
  gboolean ok;

  NATTER_STORE_ASSERT_WORKER (self);

  if (!natter_store_begin (self, &job->error))
    return;

  ok = natter_store_conversation_id (self, target->type, target->target_id, FALSE, &conversation,
                                     &job->error);
  if (ok && conversation != 0)
    {
      /* What stays unread is what arrived after the read mark (an older
       * RC:SRSMsg from another device must not hide newer messages). */
      stmt = natter_store_prepare (self,
                                   "UPDATE conversations SET read_time = MAX (read_time, ?2),"
                                   " read_seq = MAX (read_seq, (SELECT COALESCE (MAX (timeline_seq), 0)"
                                   "   FROM messages WHERE conversation_id = ?1 AND sent_time <= ?2)),"
                                   " unread_count = (SELECT COUNT (*) FROM messages"
                                   "   WHERE conversation_id = ?1 AND direction = 2 AND (flags & 2) != 0"
                                   "   AND sent_time > MAX (conversations.read_time, ?2))"
                                   " WHERE id = ?1", &job->error);
      ok = stmt != NULL &&
           natter_store_bind_int (self, stmt, 1, conversation, &job->error) &&
           natter_store_bind_int (self, stmt, 2, op->read_time, &job->error) &&
           natter_store_step_done (self, stmt, &job->error);
      stmt = ok ? natter_store_prepare (self, "UPDATE conversations SET mention_count ="
                                              " MIN (mention_count, unread_count) WHERE id = ?1",
                                        &job->error)
                : NULL;
      ok = ok && stmt != NULL && natter_store_bind_int (self, stmt, 1, conversation, &job->error) &&
           natter_store_step_done (self, stmt, &job->error);
      ok = ok && natter_store_timeline_note_read_seq (self, job, conversation, &job->error);
    }

  if (!natter_store_commit_or_rollback (self, ok, &job->error))
    return;

  if (conversation != 0)
    natter_store_job_emit_conversation (self, job, target->type, target->target_id, &job->error);
}

/* ------------------------------------------------- the server's list */

void
natter_server_conversation_free (NatterServerConversation *conversation)
{
  if (conversation == NULL)
    return;
  g_free (conversation->target_id);
  g_clear_object (&conversation->latest_message);
  g_free (conversation);
}

typedef struct
{
  NatterStoreJob  base;
  GPtrArray      *conversations;  /* NatterServerConversation */
} MergeJob;

static void
merge_job_clear (gpointer data)
{
  MergeJob *op = data;

  g_clear_pointer (&op->conversations, g_ptr_array_unref);
}

static void
do_merge_conversations (NatterStore    *self,
                        NatterStoreJob *job)
{
  MergeJob *op = (MergeJob *) job;
  gboolean ok;

  NATTER_STORE_ASSERT_WORKER (self);

  if (!natter_store_begin (self, &job->error))
    return;

  ok = TRUE;
  for (guint i = 0; ok && i < op->conversations->len; i++)
    {
      NatterServerConversation *server = g_ptr_array_index (op->conversations, i);
      gint64 conversation = 0;
      gint64 id = 0;
      sqlite3_stmt *stmt;

      ok = natter_store_conversation_id (self, server->type, server->target_id, TRUE, &conversation,
                                         &job->error);

      if (ok && server->latest_message != NULL)
        {
          gboolean cleared = FALSE;

          ok = natter_store_find_by_uid (self, natter_message_get_message_uid (server->latest_message),
                                         &id, &job->error) &&
               natter_store_cleared_before (self, conversation, server->latest_message, &cleared,
                                            &job->error);
          if (ok && id == 0 && !cleared)
            ok = natter_store_insert_message (self, conversation, server->latest_message, &id,
                                              &job->error) &&
                 natter_store_remember_sender (self, server->latest_message, &job->error) &&
                 (!server->latest_is_preview || natter_store_mark_preview (self, id, &job->error));
          if (id != 0)
            ok = ok && natter_store_conversation_take_message (self, conversation, id,
                                                               server->latest_message, FALSE,
                                                               &job->error);
        }

      /* The server knows the unread count of messages this device may never
       * have seen (history from before it existed). */
      stmt = ok ? natter_store_prepare (self, "UPDATE conversations SET unread_count = ?2, pinned = ?3,"
                                              " muted = ?4, hidden = 0,"
                                              " mention_count = MIN (mention_count, ?2),"
                                              " updated_time = MAX (updated_time, ?5) WHERE id = ?1",
                                        &job->error)
                : NULL;
      ok = ok && stmt != NULL &&
           natter_store_bind_int (self, stmt, 1, conversation, &job->error) &&
           natter_store_bind_int (self, stmt, 2, server->unread_count, &job->error) &&
           natter_store_bind_int (self, stmt, 3, server->pinned, &job->error) &&
           natter_store_bind_int (self, stmt, 4, server->muted, &job->error) &&
           natter_store_bind_int (self, stmt, 5, server->updated_time, &job->error) &&
           natter_store_step_done (self, stmt, &job->error);
    }

  if (!natter_store_commit_or_rollback (self, ok, &job->error))
    return;

  for (guint i = 0; i < op->conversations->len && job->error == NULL; i++)
    {
      NatterServerConversation *server = g_ptr_array_index (op->conversations, i);

      natter_store_job_emit_conversation (self, job, server->type, server->target_id, &job->error);
    }
}

/* --------------------------------------------------------- public calls */

void
natter_store_get_conversations_async (NatterStore                  *self,
                                      const NatterConversationType *types,
                                      gsize                         n_types,
                                      GCancellable                 *cancellable,
                                      GAsyncReadyCallback           callback,
                                      gpointer                      user_data)
{
  natter_store_get_first_conversations_async (self, types, n_types, -1, cancellable, callback, user_data);
}

void
natter_store_get_first_conversations_async (NatterStore                  *self,
                                            const NatterConversationType *types,
                                            gsize                         n_types,
                                            int                           limit,
                                            GCancellable                 *cancellable,
                                            GAsyncReadyCallback           callback,
                                            gpointer                      user_data)
{
  GetConversationsJob *op;

  g_return_if_fail (NATTER_IS_STORE (self));

  op = natter_store_job_new (self, sizeof *op, natter_store_get_conversations_async,
                             do_get_conversations, get_conversations_job_clear,
                             NATTER_STORE_RESULT_CONVERSATIONS, cancellable, callback, user_data);
  op->limit = limit < 0 ? -1 : limit;
  if (n_types > 0)
    {
      op->types = g_array_sized_new (FALSE, FALSE, sizeof (int), n_types);
      for (gsize i = 0; i < n_types; i++)
        {
          int type = types[i];
          g_array_append_val (op->types, type);
        }
    }
  natter_store_job_push (self, op);
}

GPtrArray *
natter_store_get_conversations_finish (NatterStore   *self,
                                       GAsyncResult  *result,
                                       GError       **error)
{
  NATTER_STORE_CHECK_FINISH (self, result, natter_store_get_conversations_async, NULL);
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
  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (target_id != NULL);

  natter_store_job_push (self, natter_store_conversation_job_new (self, sizeof (NatterStoreConversationJob),
                                                                  natter_store_get_conversation_async,
                                                                  do_get_conversation, NULL,
                                                                  NATTER_STORE_RESULT_CONVERSATION,
                                                                  type, target_id,
                                                                  cancellable, callback, user_data));
}

NatterConversation *
natter_store_get_conversation_finish (NatterStore   *self,
                                      GAsyncResult  *result,
                                      GError       **error)
{
  NATTER_STORE_CHECK_FINISH (self, result, natter_store_get_conversation_async, NULL);
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
  SetFlagJob *op;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (target_id != NULL);

  op = natter_store_conversation_job_new (self, sizeof *op, natter_store_set_conversation_flag_async,
                                          do_set_conversation_flag, NULL, NATTER_STORE_RESULT_BOOLEAN,
                                          type, target_id, cancellable, callback, user_data);
  op->field = field;
  op->value = !!value;
  natter_store_job_push (self, op);
}

gboolean
natter_store_set_conversation_flag_finish (NatterStore   *self,
                                           GAsyncResult  *result,
                                           GError       **error)
{
  NATTER_STORE_CHECK_FINISH (self, result, natter_store_set_conversation_flag_async, FALSE);
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
  SetDraftJob *op;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (target_id != NULL);

  op = natter_store_conversation_job_new (self, sizeof *op, natter_store_set_draft_async, do_set_draft,
                                          set_draft_job_clear, NATTER_STORE_RESULT_BOOLEAN,
                                          type, target_id, cancellable, callback, user_data);
  op->draft = draft != NULL && *draft != '\0' ? g_strdup (draft) : NULL;
  op->now = g_get_real_time () / 1000;
  natter_store_job_push (self, op);
}

gboolean
natter_store_set_draft_finish (NatterStore   *self,
                               GAsyncResult  *result,
                               GError       **error)
{
  NATTER_STORE_CHECK_FINISH (self, result, natter_store_set_draft_async, FALSE);
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
  ReadTimeJob *op;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (target_id != NULL);

  op = natter_store_conversation_job_new (self, sizeof *op, natter_store_clear_unread_async,
                                          do_clear_unread, NULL, NATTER_STORE_RESULT_BOOLEAN,
                                          type, target_id, cancellable, callback, user_data);
  op->read_time = read_time;
  natter_store_job_push (self, op);
}

gboolean
natter_store_clear_unread_finish (NatterStore   *self,
                                  GAsyncResult  *result,
                                  GError       **error)
{
  NATTER_STORE_CHECK_FINISH (self, result, natter_store_clear_unread_async, FALSE);
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

  natter_store_job_push (self, natter_store_conversation_job_new (self, sizeof (NatterStoreConversationJob),
                                                                  natter_store_delete_conversation_async,
                                                                  do_delete_conversation, NULL,
                                                                  NATTER_STORE_RESULT_BOOLEAN,
                                                                  type, target_id,
                                                                  cancellable, callback, user_data));
}

gboolean
natter_store_delete_conversation_finish (NatterStore   *self,
                                         GAsyncResult  *result,
                                         GError       **error)
{
  NATTER_STORE_CHECK_FINISH (self, result, natter_store_delete_conversation_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
natter_store_merge_conversations_async (NatterStore         *self,
                                        GPtrArray           *conversations,
                                        GCancellable        *cancellable,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data)
{
  MergeJob *op;

  g_return_if_fail (NATTER_IS_STORE (self));

  op = natter_store_job_new (self, sizeof *op, natter_store_merge_conversations_async,
                             do_merge_conversations, merge_job_clear, NATTER_STORE_RESULT_BOOLEAN,
                             cancellable, callback, user_data);
  op->conversations = g_ptr_array_ref (conversations);
  natter_store_job_push (self, op);
}

gboolean
natter_store_merge_conversations_finish (NatterStore   *self,
                                         GAsyncResult  *result,
                                         GError       **error)
{
  NATTER_STORE_CHECK_FINISH (self, result, natter_store_merge_conversations_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
