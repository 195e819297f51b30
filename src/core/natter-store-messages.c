/* natter-store-messages.c — message rows
 *
 * A message is stored once, by its messageUId: a replay after a lost ack,
 * history overlapping what arrived live, and a conversation list's preview
 * of it all find the row already there (the preview's row is completed in
 * place when the message itself comes). Live messages count as unread and
 * raise ::message-added; history and imports do neither. Every row's words
 * go into the FTS5 index in the same transaction (natter-search-text.h says
 * how CJK is kept), so search never sees a message the list does not.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-store-private.h"

#include <string.h>

#include "natter-conversation-private.h"
#include "natter-message-private.h"
#include "natter-json.h"
#include "natter-search-text.h"

/* ----------------------------------------------------------- rows */

NatterMessage *
natter_store_message_from_row (sqlite3_stmt *stmt,
                               int           first)
{
  return natter_message_new_row (sqlite3_column_int64 (stmt, first + 0),
                                 natter_store_column_text (stmt, first + 1),
                                 sqlite3_column_int (stmt, first + 2),
                                 natter_store_column_text (stmt, first + 3),
                                 natter_store_column_text (stmt, first + 4),
                                 natter_store_column_text (stmt, first + 5),
                                 natter_store_column_text (stmt, first + 6),
                                 sqlite3_column_int (stmt, first + 7),
                                 sqlite3_column_int (stmt, first + 8),
                                 sqlite3_column_int64 (stmt, first + 9),
                                 sqlite3_column_int64 (stmt, first + 10),
                                 sqlite3_column_int (stmt, first + 11),
                                 sqlite3_column_int (stmt, first + 12),
                                 natter_store_column_text (stmt, first + 13),
                                 (guint) sqlite3_column_int (stmt, first + 14));
}

/* By @uid when given, else by row @id; NULL without error when absent. */
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
    stmt = natter_store_prepare (self, "SELECT " NATTER_STORE_MESSAGE_COLUMNS " FROM messages m"
                                       " JOIN conversations c ON c.id = m.conversation_id WHERE m.uid = ?1",
                                 error);
  else
    stmt = natter_store_prepare (self, "SELECT " NATTER_STORE_MESSAGE_COLUMNS " FROM messages m"
                                       " JOIN conversations c ON c.id = m.conversation_id WHERE m.id = ?1",
                                 error);

  if (stmt == NULL ||
      !(uid != NULL ? natter_store_bind_text (self, stmt, 1, uid, error)
                    : natter_store_bind_int (self, stmt, 1, id, error)) ||
      !natter_store_step_row (self, stmt, &has_row, error))
    return NULL;

  if (!has_row)
    return NULL;

  message = natter_store_message_from_row (stmt, 0);
  sqlite3_reset (stmt);
  return message;
}

NatterMessage *
natter_store_load_message (NatterStore  *self,
                           gint64        id,
                           GError      **error)
{
  return load_message (self, id, NULL, error);
}

gboolean
natter_store_index_message (NatterStore    *self,
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
  stmt = natter_store_prepare (self, "INSERT INTO message_search (rowid, text) VALUES (?1, ?2)", error);
  return stmt != NULL &&
         natter_store_bind_int (self, stmt, 1, id, error) &&
         natter_store_bind_text (self, stmt, 2, segmented, error) &&
         natter_store_step_done (self, stmt, error);
}

static gboolean
unindex_message (NatterStore  *self,
                 gint64        id,
                 GError      **error)
{
  sqlite3_stmt *stmt = natter_store_prepare (self, "DELETE FROM message_search WHERE rowid = ?1", error);

  return stmt != NULL && natter_store_bind_int (self, stmt, 1, id, error) &&
         natter_store_step_done (self, stmt, error);
}

gboolean
natter_store_unindex_conversation (NatterStore  *self,
                                   gint64        conversation,
                                   GError      **error)
{
  sqlite3_stmt *stmt = natter_store_prepare (self, "DELETE FROM message_search WHERE rowid IN"
                                                   " (SELECT id FROM messages WHERE conversation_id = ?1)",
                                             error);

  return stmt != NULL && natter_store_bind_int (self, stmt, 1, conversation, error) &&
         natter_store_step_done (self, stmt, error);
}

gboolean
natter_store_insert_message (NatterStore    *self,
                             gint64          conversation,
                             NatterMessage  *message,
                             gint64         *id,
                             GError        **error)
{
  g_autofree char *content = natter_message_dup_content_string (message);
  sqlite3_stmt *stmt;

  stmt = natter_store_prepare (self, "INSERT INTO messages (conversation_id, uid, sender_user_id,"
                                     " object_name, content, direction, sent_status, sent_time,"
                                     " received_time, offline, error_code, client_msg_id, flags,"
                                     " timeline_seq)"
                                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                               error);
  if (stmt == NULL ||
      !natter_store_bind_int (self, stmt, 1, conversation, error) ||
      !natter_store_bind_text (self, stmt, 2, natter_message_get_message_uid (message), error) ||
      !natter_store_bind_text (self, stmt, 3, natter_message_get_sender_user_id (message), error) ||
      !natter_store_bind_text (self, stmt, 4, natter_message_get_object_name (message), error) ||
      !natter_store_bind_text (self, stmt, 5, content, error) ||
      !natter_store_bind_int (self, stmt, 6, natter_message_get_direction (message), error) ||
      !natter_store_bind_int (self, stmt, 7, natter_message_get_sent_status (message), error) ||
      !natter_store_bind_int (self, stmt, 8, natter_message_get_sent_time (message), error) ||
      !natter_store_bind_int (self, stmt, 9, natter_message_get_received_time (message), error) ||
      !natter_store_bind_int (self, stmt, 10, natter_message_get_offline (message), error) ||
      !natter_store_bind_int (self, stmt, 11, natter_message_get_error_code (message), error) ||
      !natter_store_bind_text (self, stmt, 12, natter_message_get_client_msg_id (message), error) ||
      !natter_store_bind_int (self, stmt, 13, natter_message_get_flags (message), error) ||
      !natter_store_bind_int (self, stmt, 14, (gint64) natter_message_get_timeline_seq (message), error) ||
      !natter_store_step_done (self, stmt, error))
    return FALSE;

  *id = sqlite3_last_insert_rowid (self->db);
  return natter_store_index_message (self, *id, message, error);
}

gboolean
natter_store_find_by_uid (NatterStore  *self,
                          const char   *uid,
                          gint64       *id,
                          GError      **error)
{
  sqlite3_stmt *stmt;
  gboolean has_row;

  *id = 0;
  if (uid == NULL || *uid == '\0')
    return TRUE;

  stmt = natter_store_prepare (self, "SELECT id FROM messages WHERE uid = ?1", error);
  if (stmt == NULL || !natter_store_bind_text (self, stmt, 1, uid, error) ||
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
natter_store_mark_preview (NatterStore  *self,
                           gint64        id,
                           GError      **error)
{
  sqlite3_stmt *stmt = natter_store_prepare (self, "UPDATE messages SET flags = flags | ?2 WHERE id = ?1",
                                             error);

  return stmt != NULL &&
         natter_store_bind_int (self, stmt, 1, id, error) &&
         natter_store_bind_int (self, stmt, 2, NATTER_MESSAGE_FLAG_PREVIEW, error) &&
         natter_store_step_done (self, stmt, error);
}

/* A row made from a conversation list's preview of a message (flags carry
 * NATTER_MESSAGE_FLAG_PREVIEW, which messages never have otherwise) gets
 * the message's content once the message itself comes: from history or
 * the inbox. *@completed says whether row @id was one. */
gboolean
natter_store_complete_preview (NatterStore    *self,
                  gint64          id,
                  NatterMessage  *message,
                  gboolean       *completed,
                  GError        **error)
{
  g_autofree char *content = NULL;
  sqlite3_stmt *stmt;

  *completed = FALSE;
  stmt = natter_store_prepare (self, "UPDATE messages SET content = ?2, flags = ?3"
                                     " WHERE id = ?1 AND flags & ?4",
                               error);
  content = natter_message_dup_content_string (message);
  if (stmt == NULL ||
      !natter_store_bind_int (self, stmt, 1, id, error) ||
      !natter_store_bind_text (self, stmt, 2, content, error) ||
      !natter_store_bind_int (self, stmt, 3, natter_message_get_flags (message), error) ||
      !natter_store_bind_int (self, stmt, 4, NATTER_MESSAGE_FLAG_PREVIEW, error) ||
      !natter_store_step_done (self, stmt, error))
    return FALSE;
  if (sqlite3_changes (self->db) == 0)
    return TRUE;

  *completed = TRUE;
  return unindex_message (self, id, error) && natter_store_index_message (self, id, message, error);
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
  if (!natter_store_get_meta (self, "last-seq", &old, error))
    return FALSE;
  if (old != NULL && g_ascii_strtoull (old, NULL, 10) >= seq)
    return TRUE;

  text = g_strdup_printf ("%" G_GUINT64_FORMAT, seq);
  return natter_store_set_meta (self, "last-seq", text, error);
}

/* ------------------------------------------------------ add a message */

typedef struct
{
  NatterStoreJob  base;
  NatterMessage  *message;
  guint64         seq;          /* the inbox position it came with, 0 for none */
} AddMessageJob;

static void
add_message_job_clear (gpointer data)
{
  AddMessageJob *op = data;

  g_clear_object (&op->message);
}

/* What natter_store_add_message_finish() reports as *added; set on the
 * worker (qdata is thread-safe), read once the task has returned. */
static void
set_added (NatterStoreJob *job,
           gboolean        added)
{
  g_object_set_data (G_OBJECT (job->task), "added", GINT_TO_POINTER (added));
}

static void
do_add_message (NatterStore    *self,
                NatterStoreJob *job)
{
  AddMessageJob *op = (AddMessageJob *) job;
  NatterMessage *message = op->message;
  NatterConversationType type = natter_message_get_conversation_type (message);
  const char *target = natter_message_get_target_id (message);
  gint64 existing = 0;
  gint64 conversation = 0;
  gint64 id = 0;
  gboolean cleared = FALSE;
  gboolean ok;
  gboolean outbox = natter_message_get_direction (message) == NATTER_MESSAGE_DIRECTION_SEND &&
                    natter_message_get_sent_status (message) == NATTER_SENT_STATUS_SENDING;

  NATTER_STORE_ASSERT_WORKER (self);

  if (!(outbox ? natter_store_begin_synced (self, &job->error) : natter_store_begin (self, &job->error)))
    return;

  ok = natter_store_find_by_uid (self, natter_message_get_message_uid (message), &existing, &job->error);
  if (ok && existing != 0)
    {
      gboolean completed = FALSE;

      /* Delivered twice (replay after a lost ack): only the seq moves; or
       * known from a conversation list's preview only: now whole. */
      ok = natter_store_complete_preview (self, existing, message, &completed, &job->error) &&
           advance_seq (self, op->seq, &job->error);
      if (natter_store_commit_or_rollback (self, ok, &job->error))
        job->result = load_message (self, existing, NULL, &job->error);
      if (completed && job->result != NULL)
        {
          natter_store_job_emit_message_updated (job, g_object_ref (job->result));
          natter_store_job_emit_conversation (self, job, type, target, &job->error);
        }
      return;
    }

  ok = ok &&
       natter_store_conversation_id (self, type, target, TRUE, &conversation, &job->error) &&
       natter_store_cleared_before (self, conversation, message, &cleared, &job->error);
  if (ok && cleared)
    {
      /* A replay of something cleared here: acknowledged, not stored. */
      ok = advance_seq (self, op->seq, &job->error);
      if (natter_store_commit_or_rollback (self, ok, &job->error))
        job->result = g_object_ref (message);
      return;
    }

  ok = ok &&
       natter_store_insert_message (self, conversation, message, &id, &job->error) &&
       natter_store_conversation_take_message (self, conversation, id, message, TRUE, &job->error) &&
       natter_store_remember_sender (self, message, &job->error) &&
       advance_seq (self, op->seq, &job->error);

  if (!natter_store_commit_or_rollback (self, ok, &job->error))
    return;

  set_added (job, TRUE);
  job->result = load_message (self, id, NULL, &job->error);
  if (job->result != NULL)
    natter_store_job_emit_message_added (job, g_object_ref (job->result));
  natter_store_job_emit_conversation (self, job, type, target, &job->error);
}

/* ------------------------------------------------------ add history */

typedef struct
{
  NatterStoreJob  base;
  GPtrArray      *messages;     /* NatterMessage */
} AddHistoryJob;

static void
add_history_job_clear (gpointer data)
{
  AddHistoryJob *op = data;

  g_clear_pointer (&op->messages, g_ptr_array_unref);
}

static NatterMessage *replace_content (NatterStore *self, gint64 id, const char *content, GError **error);

static JsonObject *
member_object (JsonObject *object,
               const char *name)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, name) : NULL;

  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

static JsonArray *
member_array (JsonObject *object,
              const char *name)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, name) : NULL;

  return node != NULL && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
}

/* The readers natterd gives with a history or timeline answer (the
 * "receipt" that natter_message_new_from_proto() puts in the content of
 * one's own group messages) added to row @id's: a device that stored the
 * message before they read it shows "Read by" them too (#16). *@merged
 * when the row changed. */
static gboolean
merge_readers (NatterStore    *self,
               gint64          id,
               NatterMessage  *message,
               gboolean       *merged,
               GError        **error)
{
  JsonObject *given = natter_message_get_content (message);
  JsonObject *given_receipt = given != NULL ? member_object (given, "receipt") : NULL;
  JsonArray *given_readers = given_receipt != NULL ? member_array (given_receipt, "readBy") : NULL;
  g_autoptr(NatterMessage) row = NULL;
  g_autoptr(NatterMessage) updated = NULL;
  g_autofree char *content = NULL;
  JsonObject *stored, *receipt;
  JsonArray *readers;
  guint before;

  *merged = FALSE;
  /* Only one's own messages: others' content is theirs to write. */
  if (natter_message_get_direction (message) != NATTER_MESSAGE_DIRECTION_SEND ||
      given_readers == NULL || json_array_get_length (given_readers) == 0)
    return TRUE;
  row = load_message (self, id, NULL, error);
  if (row == NULL)
    return FALSE;
  stored = natter_message_get_content (row);
  receipt = member_object (stored, "receipt");
  if (receipt == NULL)
    {
      receipt = json_object_new ();
      json_object_set_object_member (stored, "receipt", receipt);
    }
  readers = member_array (receipt, "readBy");
  if (readers == NULL)
    {
      readers = json_array_new ();
      json_object_set_array_member (receipt, "readBy", readers);
    }
  before = json_array_get_length (readers);
  for (guint i = 0; i < json_array_get_length (given_readers); i++)
    {
      JsonNode *node = json_array_get_element (given_readers, i);
      const char *reader = JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING ?
                           json_node_get_string (node) : NULL;
      gboolean known = FALSE;

      for (guint j = 0; reader != NULL && !known && j < json_array_get_length (readers); j++)
        known = g_strcmp0 (json_array_get_string_element (readers, j), reader) == 0;
      if (reader != NULL && !known)
        json_array_add_string_element (readers, reader);
    }
  if (json_array_get_length (readers) == before)
    return TRUE;
  json_object_set_boolean_member (receipt, "requested", TRUE);
  content = natter_content_to_string (stored);
  updated = replace_content (self, id, content, error);
  *merged = updated != NULL;
  return updated != NULL;
}

static void
do_add_history (NatterStore    *self,
                NatterStoreJob *job)
{
  AddHistoryJob *op = (AddHistoryJob *) job;
  g_autoptr(GPtrArray) stored = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GHashTable) touched = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GArray) completed_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  GHashTableIter iter;
  gpointer key;
  gboolean ok;

  NATTER_STORE_ASSERT_WORKER (self);

  if (!natter_store_begin (self, &job->error))
    return;

  ok = TRUE;
  for (guint i = 0; ok && i < op->messages->len; i++)
    {
      NatterMessage *message = g_ptr_array_index (op->messages, i);
      NatterConversationType type = natter_message_get_conversation_type (message);
      const char *target = natter_message_get_target_id (message);
      gint64 id = 0;
      gint64 conversation;
      gboolean cleared = FALSE;

      ok = natter_store_find_by_uid (self, natter_message_get_message_uid (message), &id, &job->error);
      if (ok && id != 0)
        {
          gboolean completed = FALSE;
          gboolean merged = FALSE;

          ok = natter_store_complete_preview (self, id, message, &completed, &job->error) &&
               (completed || merge_readers (self, id, message, &merged, &job->error));
          if (ok && (completed || merged))
            {
              g_array_append_val (completed_ids, id);
              g_hash_table_add (touched, natter_conversation_key (type, target));
            }
        }
      else if (ok)
        {
          ok = natter_store_conversation_id (self, type, target, TRUE, &conversation, &job->error) &&
               natter_store_cleared_before (self, conversation, message, &cleared, &job->error);
          if (!ok || cleared)
            continue;
          ok = natter_store_insert_message (self, conversation, message, &id, &job->error) &&
               natter_store_conversation_take_message (self, conversation, id, message, FALSE,
                                                       &job->error) &&
               natter_store_remember_sender (self, message, &job->error);
          if (ok)
            g_hash_table_add (touched, natter_conversation_key (type, target));
        }
      if (ok)
        {
          NatterMessage *row = load_message (self, id, NULL, &job->error);

          ok = row != NULL;
          if (ok)
            g_ptr_array_add (stored, row);
        }
    }

  if (!natter_store_commit_or_rollback (self, ok, &job->error))
    return;

  /* Rows completed from previews or given readers: their objects follow. */
  for (guint i = 0; i < stored->len; i++)
    for (guint j = 0; j < completed_ids->len; j++)
      if (natter_message_get_message_id (g_ptr_array_index (stored, i)) ==
          g_array_index (completed_ids, gint64, j))
        natter_store_job_emit_message_updated (job, g_object_ref (g_ptr_array_index (stored, i)));

  job->result = g_steal_pointer (&stored);

  g_hash_table_iter_init (&iter, touched);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      const char *colon = strchr (key, ':');

      natter_store_job_emit_conversation (self, job,
                                          (NatterConversationType) g_ascii_strtoll (key, NULL, 10),
                                          colon + 1, &job->error);
    }
}

/* ------------------------------------------------------------ import */

/* A message to import as the caller described it, copied. The worker
 * makes the NatterMessage, one at a time: the batch is plain strings, not
 * thousands of objects. */
typedef struct
{
  NatterConversationType  conversation_type;
  char                   *target_id;
  char                   *message_uid;
  char                   *sender_user_id;
  char                   *object_name;
  char                   *content;        /* JSON text */
  NatterMessageDirection  direction;
  NatterSentStatus        sent_status;
  gint64                  sent_time;
  gint64                  received_time;
  guint                   flags;
  gboolean                unread;
} ImportRow;

typedef struct
{
  NatterStoreJob  base;
  GArray         *rows;         /* ImportRow */
} ImportJob;

static void
import_row_clear (gpointer data)
{
  ImportRow *row = data;

  g_free (row->target_id);
  g_free (row->message_uid);
  g_free (row->sender_user_id);
  g_free (row->object_name);
  g_free (row->content);
}

static void
import_job_clear (gpointer data)
{
  ImportJob *op = data;

  g_clear_pointer (&op->rows, g_array_unref);
}

/* A conversation an import writes to, looked up once per import. */
typedef struct
{
  NatterConversationType  type;
  const char             *target_id;      /* the first row's */
  gint64                  id;
  gint64                  cleared_time;
  gboolean                stored;         /* a message went into it */
} ImportConversation;

/* add_history without reading each row back: the conversations written
 * to are reported, not the messages. */
static void
do_import (NatterStore    *self,
           NatterStoreJob *job)
{
  ImportJob *op = (ImportJob *) job;
  g_autoptr(GHashTable) conversations = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(GPtrArray) order = g_ptr_array_new ();  /* ImportConversation, first seen first */
  guint n_stored = 0;
  gboolean ok = TRUE;

  NATTER_STORE_ASSERT_WORKER (self);

  if (!natter_store_begin (self, &job->error))
    return;

  for (guint i = 0; ok && i < op->rows->len; i++)
    {
      ImportRow *row = &g_array_index (op->rows, ImportRow, i);
      g_autoptr(NatterMessage) message = NULL;
      g_autofree char *key = NULL;
      ImportConversation *conversation;
      gint64 existing = 0;
      gint64 id = 0;

      ok = natter_store_find_by_uid (self, row->message_uid, &existing, &job->error);
      if (!ok || existing != 0)
        continue;

      key = natter_conversation_key (row->conversation_type, row->target_id);
      conversation = g_hash_table_lookup (conversations, key);
      if (conversation == NULL)
        {
          conversation = g_new0 (ImportConversation, 1);
          conversation->type = row->conversation_type;
          conversation->target_id = row->target_id;
          g_hash_table_insert (conversations, g_steal_pointer (&key), conversation);
          g_ptr_array_add (order, conversation);
          ok = natter_store_conversation_id (self, row->conversation_type, row->target_id, TRUE,
                                             &conversation->id, &job->error) &&
               natter_store_get_cleared_time (self, conversation->id, &conversation->cleared_time,
                                              &job->error);
          if (!ok)
            continue;
        }

      /* Cleared here before: not stored again (natter_store_cleared_before()). */
      if (row->sent_time <= conversation->cleared_time)
        continue;

      message = natter_message_new_row (0, row->message_uid, row->conversation_type, row->target_id,
                                        row->sender_user_id, row->object_name, row->content,
                                        row->direction, row->sent_status, row->sent_time,
                                        row->received_time, FALSE, 0, NULL, row->flags);
      ok = natter_store_insert_message (self, conversation->id, message, &id, &job->error) &&
           natter_store_conversation_take_message (self, conversation->id, id, message, row->unread,
                                                   &job->error) &&
           natter_store_remember_sender (self, message, &job->error);
      if (ok)
        {
          n_stored++;
          conversation->stored = TRUE;
        }
    }

  if (!natter_store_commit_or_rollback (self, ok, &job->error))
    return;

  job->result = GUINT_TO_POINTER (n_stored);
  for (guint i = 0; i < order->len && job->error == NULL; i++)
    {
      ImportConversation *conversation = g_ptr_array_index (order, i);

      if (conversation->stored)
        natter_store_job_emit_conversation (self, job, conversation->type, conversation->target_id,
                                            &job->error);
    }
}

/* ------------------------------------------------------ update a message */

typedef struct
{
  NatterStoreJob  base;
  NatterMessage  *message;      /* a snapshot of the caller's */
} UpdateMessageJob;

static void
update_message_job_clear (gpointer data)
{
  UpdateMessageJob *op = data;

  g_clear_object (&op->message);
}

static void
do_update_message (NatterStore    *self,
                   NatterStoreJob *job)
{
  UpdateMessageJob *op = (UpdateMessageJob *) job;
  NatterMessage *message = op->message;
  gint64 id = natter_message_get_message_id (message);
  g_autofree char *content = natter_message_dup_content_string (message);
  const char *uid = natter_message_get_message_uid (message);
  gint64 duplicate = 0;
  sqlite3_stmt *stmt;
  gboolean ok;

  NATTER_STORE_ASSERT_WORKER (self);

  if (!natter_store_begin (self, &job->error))
    return;

  /* The same message may have arrived already under its uid (delivered to
   * this device before the ack): keep this row, drop the copy. */
  ok = natter_store_find_by_uid (self, uid, &duplicate, &job->error);
  if (ok && duplicate != 0 && duplicate != id)
    {
      stmt = natter_store_prepare (self, "DELETE FROM messages WHERE id = ?1", &job->error);
      ok = stmt != NULL &&
           natter_store_bind_int (self, stmt, 1, duplicate, &job->error) &&
           natter_store_step_done (self, stmt, &job->error) &&
           unindex_message (self, duplicate, &job->error);
    }

  stmt = ok ? natter_store_prepare (self, "UPDATE messages SET uid = ?2, sent_status = ?3, sent_time = ?4,"
                                          " error_code = ?5, object_name = ?6, content = ?7,"
                                          " client_msg_id = ?8, sender_user_id = ?9 WHERE id = ?1",
                                    &job->error)
            : NULL;
  ok = ok && stmt != NULL &&
       natter_store_bind_int (self, stmt, 1, id, &job->error) &&
       natter_store_bind_text (self, stmt, 2, uid, &job->error) &&
       natter_store_bind_int (self, stmt, 3, natter_message_get_sent_status (message), &job->error) &&
       natter_store_bind_int (self, stmt, 4, natter_message_get_sent_time (message), &job->error) &&
       natter_store_bind_int (self, stmt, 5, natter_message_get_error_code (message), &job->error) &&
       natter_store_bind_text (self, stmt, 6, natter_message_get_object_name (message), &job->error) &&
       natter_store_bind_text (self, stmt, 7, content, &job->error) &&
       natter_store_bind_text (self, stmt, 8, natter_message_get_client_msg_id (message), &job->error) &&
       natter_store_bind_text (self, stmt, 9, natter_message_get_sender_user_id (message) ?
                                              natter_message_get_sender_user_id (message) : "",
                               &job->error) &&
       natter_store_step_done (self, stmt, &job->error);

  if (ok && sqlite3_changes (self->db) == 0)
    {
      g_set_error (&job->error, NATTER_STORE_ERROR, NATTER_STORE_ERROR_NOT_FOUND,
                   "No message %" G_GINT64_FORMAT, id);
      ok = FALSE;
    }

  ok = ok &&
       unindex_message (self, id, &job->error) &&
       natter_store_index_message (self, id, message, &job->error);

  /* The latest message's time orders the conversation list. */
  stmt = ok ? natter_store_prepare (self, "UPDATE conversations SET updated_time = ?2"
                                          " WHERE latest_message_id = ?1", &job->error)
            : NULL;
  ok = ok && stmt != NULL &&
       natter_store_bind_int (self, stmt, 1, id, &job->error) &&
       natter_store_bind_int (self, stmt, 2, natter_message_get_sent_time (message), &job->error) &&
       natter_store_step_done (self, stmt, &job->error);

  if (!natter_store_commit_or_rollback (self, ok, &job->error))
    return;

  job->result = load_message (self, id, NULL, &job->error);
  if (job->result == NULL)
    return;

  natter_store_job_emit_message_updated (job, g_object_ref (job->result));
  natter_store_job_emit_conversation (self, job, natter_message_get_conversation_type (job->result),
                                      natter_message_get_target_id (job->result), &job->error);
}

/* ------------------------------------------------------------ recall */

typedef struct
{
  NatterStoreJob  base;
  char           *uid;
  char           *operator_id;
  gint64          recall_time;
} RecallJob;

static void
recall_job_clear (gpointer data)
{
  RecallJob *op = data;

  g_free (op->uid);
  g_free (op->operator_id);
}

static void
do_recall (NatterStore    *self,
           NatterStoreJob *job)
{
  RecallJob *op = (RecallJob *) job;
  g_autoptr(NatterMessage) message = NULL;
  g_autoptr(JsonObject) content = json_object_new ();
  g_autofree char *text = NULL;
  sqlite3_stmt *stmt;
  gboolean ok;

  NATTER_STORE_ASSERT_WORKER (self);

  if (!natter_store_begin (self, &job->error))
    return;

  message = load_message (self, 0, op->uid, &job->error);
  if (message == NULL)
    {
      natter_store_commit_or_rollback (self, job->error == NULL, job->error ? NULL : &job->error);
      return;
    }

  if (natter_message_get_kind (message) == NATTER_MESSAGE_KIND_RECALLED)
    {
      natter_store_commit_or_rollback (self, TRUE, &job->error);
      job->result = g_steal_pointer (&message);
      return;
    }

  json_object_set_string_member (content, "operatorId", op->operator_id ? op->operator_id : "");
  json_object_set_int_member (content, "recallTime", op->recall_time);
  json_object_set_string_member (content, "originalObjectName",
                                 natter_message_get_object_name (message));
  text = natter_content_to_string (content);

  stmt = natter_store_prepare (self, "UPDATE messages SET object_name = ?2, content = ?3 WHERE id = ?1",
                               &job->error);
  ok = stmt != NULL &&
       natter_store_bind_int (self, stmt, 1, natter_message_get_message_id (message), &job->error) &&
       natter_store_bind_text (self, stmt, 2, NATTER_OBJECT_RECALL_NOTIFICATION, &job->error) &&
       natter_store_bind_text (self, stmt, 3, text, &job->error) &&
       natter_store_step_done (self, stmt, &job->error) &&
       unindex_message (self, natter_message_get_message_id (message), &job->error);

  if (!natter_store_commit_or_rollback (self, ok, &job->error))
    return;

  job->result = load_message (self, natter_message_get_message_id (message), NULL, &job->error);
  if (job->result == NULL)
    return;
  natter_store_job_emit_message_updated (job, g_object_ref (job->result));
  natter_store_job_emit_conversation (self, job, natter_message_get_conversation_type (job->result),
                                      natter_message_get_target_id (job->result), &job->error);
}

/* -------------------------------------------------------------- edit */

typedef struct
{
  NatterStoreJob  base;
  char           *uid;
  char           *sender_id;
  char           *content;
} EditJob;

static void
edit_job_clear (gpointer data)
{
  EditJob *op = data;

  g_free (op->uid);
  g_free (op->sender_id);
  g_free (op->content);
}

/* Stores @content as message @id's content and reads the message back
 * (edits, expansion updates and receipts all rewrite the content). */
static NatterMessage *
replace_content (NatterStore  *self,
                 gint64        id,
                 const char   *content,
                 GError      **error)
{
  sqlite3_stmt *stmt = natter_store_prepare (self, "UPDATE messages SET content = ?2 WHERE id = ?1", error);

  if (stmt == NULL ||
      !natter_store_bind_int (self, stmt, 1, id, error) ||
      !natter_store_bind_text (self, stmt, 2, content, error) ||
      !natter_store_step_done (self, stmt, error))
    return NULL;
  return load_message (self, id, NULL, error);
}

/* An edit replaces the text, not what came with the message since: its
 * reactions (natterd keeps the expansion too), the read receipts this
 * store keeps in the content, and what a reply quotes (natterd keeps it). */
static char *
edited_content (NatterMessage *message,
                const char    *edit)
{
  g_autoptr(JsonNode) root = natter_json_parse (edit, -1, NULL);
  JsonObject *stored = natter_message_get_content (message);
  JsonObject *edited;
  const char * const kept[] = { "expansion", "receipt", "referMsg", "referMsgUserId", "objName", "referMsgUid" };

  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return g_strdup (edit);
  edited = json_node_get_object (root);
  for (guint i = 0; i < G_N_ELEMENTS (kept); i++)
    if (json_object_has_member (stored, kept[i]) && !json_object_has_member (edited, kept[i]))
      json_object_set_member (edited, kept[i], json_node_copy (json_object_get_member (stored, kept[i])));
  return natter_content_to_string (edited);
}

static void
do_edit (NatterStore    *self,
         NatterStoreJob *job)
{
  EditJob *op = (EditJob *) job;
  g_autoptr(NatterMessage) message = NULL;
  g_autoptr(NatterMessage) edited = NULL;
  g_autofree char *content = NULL;
  gboolean ok;

  NATTER_STORE_ASSERT_WORKER (self);

  if (!natter_store_begin (self, &job->error))
    return;

  message = load_message (self, 0, op->uid, &job->error);
  /* Only its sender's text or reply changes (natterd checked it too). */
  if (message == NULL || !natter_message_is_editable_kind (message) ||
      g_strcmp0 (natter_message_get_sender_user_id (message), op->sender_id) != 0)
    {
      natter_store_commit_or_rollback (self, job->error == NULL, job->error ? NULL : &job->error);
      return;
    }

  content = edited_content (message, op->content);
  edited = replace_content (self, natter_message_get_message_id (message), content, &job->error);
  ok = edited != NULL &&
       unindex_message (self, natter_message_get_message_id (message), &job->error) &&
       natter_store_index_message (self, natter_message_get_message_id (message), edited, &job->error);

  if (!natter_store_commit_or_rollback (self, ok, &job->error))
    return;

  job->result = g_steal_pointer (&edited);
  natter_store_job_emit_message_updated (job, g_object_ref (job->result));
  natter_store_job_emit_conversation (self, job, natter_message_get_conversation_type (job->result),
                                      natter_message_get_target_id (job->result), &job->error);
}

void
natter_store_edit_async (NatterStore         *self,
                         const char          *message_uid,
                         const char          *sender_id,
                         const char          *content,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  EditJob *op;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (message_uid != NULL && content != NULL);

  /* Finished with natter_store_get_message_finish(). */
  op = natter_store_job_new (self, sizeof *op, natter_store_get_message_async, do_edit,
                             edit_job_clear, NATTER_STORE_RESULT_MESSAGE,
                             cancellable, callback, user_data);
  op->uid = g_strdup (message_uid);
  op->sender_id = g_strdup (sender_id);
  op->content = g_strdup (content);
  natter_store_job_push (self, op);
}

/* --------------------------------------------------------- expansion */

typedef struct
{
  NatterStoreJob  base;
  char           *command;
} ExpandJob;

static void
expand_job_clear (gpointer data)
{
  ExpandJob *op = data;

  g_free (op->command);
}

static void
do_expand (NatterStore    *self,
           NatterStoreJob *job)
{
  ExpandJob *op = (ExpandJob *) job;
  g_autoptr(JsonNode) root = natter_json_parse (op->command, -1, NULL);
  g_autoptr(NatterMessage) message = NULL;
  g_autoptr(NatterMessage) expanded = NULL;
  g_autofree char *content = NULL;
  JsonObject *command, *stored, *expansion;
  JsonNode *set, *remove;
  const char *uid;

  NATTER_STORE_ASSERT_WORKER (self);

  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return;
  command = json_node_get_object (root);
  uid = json_object_get_string_member_with_default (command, "messageUId", NULL);
  set = json_object_get_member (command, "set");
  remove = json_object_get_member (command, "remove");
  if (uid == NULL || *uid == '\0')
    return;

  if (!natter_store_begin (self, &job->error))
    return;
  message = load_message (self, 0, uid, &job->error);
  if (message == NULL)
    {
      natter_store_commit_or_rollback (self, job->error == NULL, job->error ? NULL : &job->error);
      return;
    }

  stored = natter_message_get_content (message);
  if (!json_object_has_member (stored, "expansion") ||
      !JSON_NODE_HOLDS_OBJECT (json_object_get_member (stored, "expansion")))
    json_object_set_object_member (stored, "expansion", json_object_new ());
  expansion = json_object_get_object_member (stored, "expansion");
  if (set != NULL && JSON_NODE_HOLDS_OBJECT (set))
    {
      g_autoptr(GList) keys = json_object_get_members (json_node_get_object (set));

      for (GList *l = keys; l != NULL; l = l->next)
        json_object_set_member (expansion, l->data,
                                json_node_copy (json_object_get_member (json_node_get_object (set), l->data)));
    }
  if (remove != NULL && JSON_NODE_HOLDS_ARRAY (remove))
    for (guint i = 0; i < json_array_get_length (json_node_get_array (remove)); i++)
      {
        const char *key = json_array_get_string_element (json_node_get_array (remove), i);

        if (key != NULL && json_object_has_member (expansion, key))
          json_object_remove_member (expansion, key);
      }
  content = natter_content_to_string (stored);

  expanded = replace_content (self, natter_message_get_message_id (message), content, &job->error);
  if (!natter_store_commit_or_rollback (self, expanded != NULL, &job->error))
    return;

  job->result = g_steal_pointer (&expanded);
  natter_store_job_emit_message_updated (job, g_object_ref (job->result));
}

void
natter_store_expand_async (NatterStore         *self,
                           const char          *command,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  ExpandJob *op;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (command != NULL);

  /* Finished with natter_store_get_message_finish(). */
  op = natter_store_job_new (self, sizeof *op, natter_store_get_message_async, do_expand,
                             expand_job_clear, NATTER_STORE_RESULT_MESSAGE,
                             cancellable, callback, user_data);
  op->command = g_strdup (command);
  natter_store_job_push (self, op);
}

/* ------------------------------------------------------ read receipts */

typedef struct
{
  NatterStoreJob  base;
  char           *uid;
  char           *sender_id;
  char           *what;
  char           *reader_id;
} ReceiptJob;

static void
receipt_job_clear (gpointer data)
{
  ReceiptJob *op = data;

  g_free (op->uid);
  g_free (op->sender_id);
  g_free (op->what);
  g_free (op->reader_id);
}

static void
do_receipt (NatterStore    *self,
            NatterStoreJob *job)
{
  ReceiptJob *op = (ReceiptJob *) job;
  g_autoptr(NatterMessage) message = NULL;
  g_autoptr(NatterMessage) updated = NULL;
  g_autofree char *content = NULL;
  JsonObject *stored, *receipt;

  NATTER_STORE_ASSERT_WORKER (self);

  if (!natter_store_begin (self, &job->error))
    return;
  message = load_message (self, 0, op->uid, &job->error);
  if (message == NULL || g_strcmp0 (natter_message_get_sender_user_id (message), op->sender_id) != 0)
    {
      natter_store_commit_or_rollback (self, job->error == NULL, job->error ? NULL : &job->error);
      return;
    }

  stored = natter_message_get_content (message);
  if (!json_object_has_member (stored, "receipt") ||
      !JSON_NODE_HOLDS_OBJECT (json_object_get_member (stored, "receipt")))
    json_object_set_object_member (stored, "receipt", json_object_new ());
  receipt = json_object_get_object_member (stored, "receipt");
  if (op->reader_id == NULL)
    json_object_set_boolean_member (receipt, op->what, TRUE);
  else
    {
      JsonNode *list = json_object_get_member (receipt, "readBy");
      JsonArray *array;

      if (list == NULL || !JSON_NODE_HOLDS_ARRAY (list))
        json_object_set_array_member (receipt, "readBy", json_array_new ());
      array = json_object_get_array_member (receipt, "readBy");
      for (guint i = 0; i < json_array_get_length (array); i++)
        if (g_strcmp0 (json_array_get_string_element (array, i), op->reader_id) == 0)
          {
            /* Read before: nothing changes. */
            natter_store_commit_or_rollback (self, TRUE, &job->error);
            return;
          }
      json_array_add_string_element (array, op->reader_id);
      /* A receipt means it was asked for, even if the request came later. */
      json_object_set_boolean_member (receipt, "requested", TRUE);
    }
  content = natter_content_to_string (stored);

  updated = replace_content (self, natter_message_get_message_id (message), content, &job->error);
  if (!natter_store_commit_or_rollback (self, updated != NULL, &job->error))
    return;

  job->result = g_steal_pointer (&updated);
  natter_store_job_emit_message_updated (job, g_object_ref (job->result));
}

void
natter_store_receipt_async (NatterStore         *self,
                            const char          *message_uid,
                            const char          *sender_id,
                            const char          *what,
                            const char          *reader_id,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  ReceiptJob *op;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (message_uid != NULL && sender_id != NULL && what != NULL);

  /* Finished with natter_store_get_message_finish(). */
  op = natter_store_job_new (self, sizeof *op, natter_store_get_message_async, do_receipt,
                             receipt_job_clear, NATTER_STORE_RESULT_MESSAGE,
                             cancellable, callback, user_data);
  op->uid = g_strdup (message_uid);
  op->sender_id = g_strdup (sender_id);
  op->what = g_strdup (what);
  op->reader_id = g_strdup (reader_id);
  natter_store_job_push (self, op);
}

/* ------------------------------------------------------------- reads */

typedef struct
{
  NatterStoreJob  base;
  gint64          id;
  char           *uid;          /* instead of id when set */
} GetMessageJob;

static void
get_message_job_clear (gpointer data)
{
  GetMessageJob *op = data;

  g_free (op->uid);
}

static void
do_get_message (NatterStore    *self,
                NatterStoreJob *job)
{
  GetMessageJob *op = (GetMessageJob *) job;

  NATTER_STORE_ASSERT_WORKER (self);

  job->result = load_message (self, op->id, op->uid, &job->error);
}

static GPtrArray *
collect_messages (NatterStore   *self,
                  sqlite3_stmt  *stmt,
                  GError       **error)
{
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func (g_object_unref);
  int rc;

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (messages, natter_store_message_from_row (stmt, 0));
  sqlite3_reset (stmt);

  if (rc != SQLITE_DONE)
    {
      natter_store_sql_failed (self, rc, sqlite3_sql (stmt), error);
      return NULL;
    }

  return g_steal_pointer (&messages);
}

typedef struct
{
  NatterStoreConversationJob conversation;
  gint64                     before_time;  /* > 0: only older than (before_time, before_id) */
  gint64                     before_id;
  guint                      limit;
} GetMessagesJob;

static void
do_get_messages (NatterStore    *self,
                 NatterStoreJob *job)
{
  GetMessagesJob *op = (GetMessagesJob *) job;
  sqlite3_stmt *stmt;
  GPtrArray *messages;
  gint64 conversation;

  NATTER_STORE_ASSERT_WORKER (self);

  if (!natter_store_conversation_id (self, op->conversation.type, op->conversation.target_id, FALSE,
                                     &conversation, &job->error))
    return;

  stmt = natter_store_prepare (self, "SELECT " NATTER_STORE_MESSAGE_COLUMNS " FROM messages m"
                                     " JOIN conversations c ON c.id = m.conversation_id"
                                     " WHERE m.conversation_id = ?1 AND (m.sent_time, m.id) < (?2, ?3)"
                                     " ORDER BY m.sent_time DESC, m.id DESC LIMIT ?4", &job->error);
  if (stmt == NULL ||
      !natter_store_bind_int (self, stmt, 1, conversation, &job->error) ||
      !natter_store_bind_int (self, stmt, 2, op->before_time > 0 ? op->before_time : G_MAXINT64,
                              &job->error) ||
      !natter_store_bind_int (self, stmt, 3, op->before_time > 0 ? op->before_id : G_MAXINT64,
                              &job->error) ||
      !natter_store_bind_int (self, stmt, 4, op->limit, &job->error))
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
do_get_outbox (NatterStore    *self,
               NatterStoreJob *job)
{
  sqlite3_stmt *stmt;

  NATTER_STORE_ASSERT_WORKER (self);

  stmt = natter_store_prepare (self, "SELECT " NATTER_STORE_MESSAGE_COLUMNS " FROM messages m"
                                     " JOIN conversations c ON c.id = m.conversation_id"
                                     " WHERE m.sent_status = 10 ORDER BY m.id", &job->error);
  if (stmt != NULL)
    job->result = collect_messages (self, stmt, &job->error);
}

typedef struct
{
  NatterStoreConversationJob  conversation;  /* type 0: every conversation */
  char                       *query;
  guint                       limit;
} SearchJob;

static void
search_job_clear (gpointer data)
{
  SearchJob *op = data;

  natter_store_conversation_job_clear (op);
  g_free (op->query);
}

static void
do_search (NatterStore    *self,
           NatterStoreJob *job)
{
  SearchJob *op = (SearchJob *) job;
  g_autofree char *match = natter_search_text_build_match (op->query);
  sqlite3_stmt *stmt;
  gint64 conversation = 0;

  NATTER_STORE_ASSERT_WORKER (self);

  if (match == NULL)
    {
      job->result = g_ptr_array_new_with_free_func (g_object_unref);
      return;
    }

  if (op->conversation.type != 0)
    {
      if (!natter_store_conversation_id (self, op->conversation.type, op->conversation.target_id,
                                         FALSE, &conversation, &job->error))
        return;
      if (conversation == 0)
        {
          job->result = g_ptr_array_new_with_free_func (g_object_unref);
          return;
        }
    }

  /* Newest first by rowid: FTS5 walks its index backwards and stops at the
   * limit instead of sorting every match. */
  stmt = natter_store_prepare (self, "SELECT " NATTER_STORE_MESSAGE_COLUMNS " FROM message_search s"
                                     " JOIN messages m ON m.id = s.rowid"
                                     " JOIN conversations c ON c.id = m.conversation_id"
                                     " WHERE message_search MATCH ?1 AND (?2 = 0 OR m.conversation_id = ?2)"
                                     " ORDER BY s.rowid DESC LIMIT ?3", &job->error);
  if (stmt == NULL ||
      !natter_store_bind_text (self, stmt, 1, match, &job->error) ||
      !natter_store_bind_int (self, stmt, 2, conversation, &job->error) ||
      !natter_store_bind_int (self, stmt, 3, op->limit, &job->error))
    return;

  job->result = collect_messages (self, stmt, &job->error);
}

/* ------------------------------------------------- clear, read marks */

static void
do_clear_messages (NatterStore    *self,
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
      stmt = ok ? natter_store_prepare (self, "UPDATE conversations SET latest_message_id = NULL,"
                                              " unread_count = 0, mention_count = 0,"
                                              " cleared_time = MAX (cleared_time, updated_time)"
                                              " WHERE id = ?1",
                                        &job->error)
                : NULL;
      ok = ok && stmt != NULL && natter_store_bind_int (self, stmt, 1, conversation, &job->error) &&
           natter_store_step_done (self, stmt, &job->error);
      stmt = ok ? natter_store_prepare (self, "DELETE FROM messages WHERE conversation_id = ?1", &job->error)
                : NULL;
      ok = ok && stmt != NULL && natter_store_bind_int (self, stmt, 1, conversation, &job->error) &&
           natter_store_step_done (self, stmt, &job->error);
    }

  if (!natter_store_commit_or_rollback (self, ok, &job->error))
    return;

  natter_store_job_emit_messages_cleared (job, op->type, op->target_id);
  if (conversation != 0)
    natter_store_job_emit_conversation (self, job, op->type, op->target_id, &job->error);
}

typedef struct
{
  NatterStoreConversationJob conversation;
  gint64                     read_time;   /* the peer read up to here (ms) */
} MarkReadJob;

static void
do_mark_read (NatterStore    *self,
              NatterStoreJob *job)
{
  MarkReadJob *op = (MarkReadJob *) job;
  g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  gint64 conversation;
  sqlite3_stmt *stmt;
  gboolean ok;
  int rc = SQLITE_DONE;

  NATTER_STORE_ASSERT_WORKER (self);

  if (!natter_store_begin (self, &job->error))
    return;

  ok = natter_store_conversation_id (self, op->conversation.type, op->conversation.target_id, FALSE,
                                     &conversation, &job->error);
  if (ok && conversation != 0)
    {
      stmt = natter_store_prepare (self, "UPDATE messages SET sent_status = 50"
                                         " WHERE conversation_id = ?1 AND direction = 1"
                                         " AND sent_status IN (30, 40) AND sent_time <= ?2 RETURNING id",
                                   &job->error);
      ok = stmt != NULL &&
           natter_store_bind_int (self, stmt, 1, conversation, &job->error) &&
           natter_store_bind_int (self, stmt, 2, op->read_time, &job->error);
      while (ok && (rc = sqlite3_step (stmt)) == SQLITE_ROW)
        {
          gint64 id = sqlite3_column_int64 (stmt, 0);
          g_array_append_val (ids, id);
        }
      if (stmt != NULL)
        sqlite3_reset (stmt);
      if (ok && rc != SQLITE_DONE)
        ok = natter_store_sql_failed (self, rc, "mark read", &job->error);
    }

  if (!natter_store_commit_or_rollback (self, ok, &job->error))
    return;

  if (ids->len > 0)
    natter_store_job_emit_messages_read (job, g_steal_pointer (&ids));
}

/* --------------------------------------------------------- public calls */

static void
push_add_message (NatterStore         *self,
                  NatterMessage       *message,
                  guint64              seq,
                  GCancellable        *cancellable,
                  GAsyncReadyCallback  callback,
                  gpointer             user_data)
{
  AddMessageJob *op = natter_store_job_new (self, sizeof *op, natter_store_add_message_async,
                                            do_add_message, add_message_job_clear,
                                            NATTER_STORE_RESULT_MESSAGE, cancellable, callback, user_data);

  op->message = g_object_ref (message);
  op->seq = seq;
  natter_store_job_push (self, op);
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

  NATTER_STORE_CHECK_FINISH (self, result, natter_store_add_message_async, NULL);

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
  AddHistoryJob *op;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (messages != NULL);

  op = natter_store_job_new (self, sizeof *op, natter_store_add_history_async, do_add_history,
                             add_history_job_clear, NATTER_STORE_RESULT_MESSAGES,
                             cancellable, callback, user_data);
  op->messages = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < messages->len; i++)
    g_ptr_array_add (op->messages, g_object_ref (g_ptr_array_index (messages, i)));
  natter_store_job_push (self, op);
}

GPtrArray *
natter_store_add_history_finish (NatterStore   *self,
                                 GAsyncResult  *result,
                                 GError       **error)
{
  NATTER_STORE_CHECK_FINISH (self, result, natter_store_add_history_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
natter_store_import_async (NatterStore                 *self,
                           const NatterImportedMessage *messages,
                           gsize                        n_messages,
                           GCancellable                *cancellable,
                           GAsyncReadyCallback          callback,
                           gpointer                     user_data)
{
  ImportJob *op;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (messages != NULL || n_messages == 0);
  for (gsize i = 0; i < n_messages; i++)
    g_return_if_fail (messages[i].target_id != NULL && messages[i].sender_user_id != NULL &&
                      messages[i].object_name != NULL);

  op = natter_store_job_new (self, sizeof *op, natter_store_import_async, do_import, import_job_clear,
                             NATTER_STORE_RESULT_COUNT, cancellable, callback, user_data);
  op->rows = g_array_sized_new (FALSE, FALSE, sizeof (ImportRow), n_messages);
  g_array_set_clear_func (op->rows, import_row_clear);
  for (gsize i = 0; i < n_messages; i++)
    {
      const NatterImportedMessage *in = &messages[i];
      ImportRow row = {
        .conversation_type = in->conversation_type,
        .target_id = g_strdup (in->target_id),
        .message_uid = in->message_uid != NULL && *in->message_uid != '\0' ? g_strdup (in->message_uid)
                                                                          : NULL,
        .sender_user_id = g_strdup (in->sender_user_id),
        .object_name = g_strdup (in->object_name),
        .content = in->content != NULL ? natter_content_to_string (in->content) : g_strdup ("{}"),
        .direction = in->direction,
        .sent_status = in->sent_status,
        .sent_time = in->sent_time,
        .received_time = in->received_time,
        .flags = in->flags & NATTER_MESSAGE_FLAGS_MASK,
        .unread = in->unread,
      };

      g_array_append_val (op->rows, row);
    }
  natter_store_job_push (self, op);
}

gboolean
natter_store_import_finish (NatterStore   *self,
                            GAsyncResult  *result,
                            guint         *n_stored,
                            GError       **error)
{
  gssize n;

  NATTER_STORE_CHECK_FINISH (self, result, natter_store_import_async, FALSE);

  n = g_task_propagate_int (G_TASK (result), error);
  if (n < 0)
    return FALSE;
  if (n_stored != NULL)
    *n_stored = (guint) n;
  return TRUE;
}

void
natter_store_update_message_async (NatterStore         *self,
                                   NatterMessage       *message,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  UpdateMessageJob *op;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (NATTER_IS_MESSAGE (message));
  g_return_if_fail (natter_message_get_message_id (message) > 0);

  op = natter_store_job_new (self, sizeof *op, natter_store_update_message_async, do_update_message,
                             update_message_job_clear, NATTER_STORE_RESULT_MESSAGE,
                             cancellable, callback, user_data);
  /* A snapshot: the caller's object may change again before the worker
   * runs. Its sealed content is shared; the job is freed on the owner's
   * context, so every ref and unref of it stays on one thread (json-glib's
   * are not atomic). */
  op->message = natter_message_copy (message);
  natter_store_job_push (self, op);
}

NatterMessage *
natter_store_update_message_finish (NatterStore   *self,
                                    GAsyncResult  *result,
                                    GError       **error)
{
  NATTER_STORE_CHECK_FINISH (self, result, natter_store_update_message_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
natter_store_get_message_async (NatterStore         *self,
                                gint64               message_id,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  GetMessageJob *op;

  g_return_if_fail (NATTER_IS_STORE (self));

  op = natter_store_job_new (self, sizeof *op, natter_store_get_message_async, do_get_message,
                             get_message_job_clear, NATTER_STORE_RESULT_MESSAGE,
                             cancellable, callback, user_data);
  op->id = message_id;
  natter_store_job_push (self, op);
}

void
natter_store_get_message_by_uid_async (NatterStore         *self,
                                       const char          *message_uid,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data)
{
  GetMessageJob *op;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (message_uid != NULL);

  op = natter_store_job_new (self, sizeof *op, natter_store_get_message_async, do_get_message,
                             get_message_job_clear, NATTER_STORE_RESULT_MESSAGE,
                             cancellable, callback, user_data);
  op->uid = g_strdup (message_uid);
  natter_store_job_push (self, op);
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
  RecallJob *op;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (message_uid != NULL);

  /* Finished with natter_store_get_message_finish(). */
  op = natter_store_job_new (self, sizeof *op, natter_store_get_message_async, do_recall,
                             recall_job_clear, NATTER_STORE_RESULT_MESSAGE,
                             cancellable, callback, user_data);
  op->uid = g_strdup (message_uid);
  op->operator_id = g_strdup (operator_id);
  op->recall_time = recall_time;
  natter_store_job_push (self, op);
}

NatterMessage *
natter_store_get_message_finish (NatterStore   *self,
                                 GAsyncResult  *result,
                                 GError       **error)
{
  NATTER_STORE_CHECK_FINISH (self, result, natter_store_get_message_async, NULL);
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
  GetMessagesJob *op;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (target_id != NULL);

  op = natter_store_conversation_job_new (self, sizeof *op, natter_store_get_messages_async,
                                          do_get_messages, NULL, NATTER_STORE_RESULT_MESSAGES,
                                          type, target_id, cancellable, callback, user_data);
  op->before_time = before_time;
  op->before_id = before_id > 0 ? before_id : G_MAXINT64;
  op->limit = limit;
  natter_store_job_push (self, op);
}

GPtrArray *
natter_store_get_messages_finish (NatterStore   *self,
                                  GAsyncResult  *result,
                                  GError       **error)
{
  NATTER_STORE_CHECK_FINISH (self, result, natter_store_get_messages_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
natter_store_get_outbox_async (NatterStore         *self,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_return_if_fail (NATTER_IS_STORE (self));
  natter_store_job_push (self, natter_store_job_new (self, sizeof (NatterStoreJob),
                                                     natter_store_get_outbox_async, do_get_outbox,
                                                     NULL, NATTER_STORE_RESULT_MESSAGES,
                                                     cancellable, callback, user_data));
}

GPtrArray *
natter_store_get_outbox_finish (NatterStore   *self,
                                GAsyncResult  *result,
                                GError       **error)
{
  NATTER_STORE_CHECK_FINISH (self, result, natter_store_get_outbox_async, NULL);
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
  SearchJob *op;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (query != NULL);
  g_return_if_fail (type == 0 || target_id != NULL);

  op = natter_store_conversation_job_new (self, sizeof *op, natter_store_search_async, do_search,
                                          search_job_clear, NATTER_STORE_RESULT_MESSAGES,
                                          type, target_id, cancellable, callback, user_data);
  op->query = g_strdup (query);
  op->limit = limit ? limit : 100;
  natter_store_job_push (self, op);
}

GPtrArray *
natter_store_search_finish (NatterStore   *self,
                            GAsyncResult  *result,
                            GError       **error)
{
  NATTER_STORE_CHECK_FINISH (self, result, natter_store_search_async, NULL);
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

  natter_store_job_push (self, natter_store_conversation_job_new (self, sizeof (NatterStoreConversationJob),
                                                                  natter_store_clear_messages_async,
                                                                  do_clear_messages, NULL,
                                                                  NATTER_STORE_RESULT_BOOLEAN,
                                                                  type, target_id,
                                                                  cancellable, callback, user_data));
}

gboolean
natter_store_clear_messages_finish (NatterStore   *self,
                                    GAsyncResult  *result,
                                    GError       **error)
{
  NATTER_STORE_CHECK_FINISH (self, result, natter_store_clear_messages_async, FALSE);
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
  MarkReadJob *op;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (target_id != NULL);

  op = natter_store_conversation_job_new (self, sizeof *op, natter_store_mark_read_async, do_mark_read,
                                          NULL, NATTER_STORE_RESULT_BOOLEAN, type, target_id,
                                          cancellable, callback, user_data);
  op->read_time = read_time;
  natter_store_job_push (self, op);
}

gboolean
natter_store_mark_read_finish (NatterStore   *self,
                               GAsyncResult  *result,
                               GError       **error)
{
  NATTER_STORE_CHECK_FINISH (self, result, natter_store_mark_read_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
