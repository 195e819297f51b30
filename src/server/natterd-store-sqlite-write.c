/* natterd-store-sqlite-write.c — the writer thread: a batch of ops in one
 * transaction, committed with one fsync (group commit)
 *
 * The writer keeps what it would otherwise read on every message: each
 * user's inbox head (max_seqs) and the next message id; conversation
 * rows are folded per batch. A user's inbox head is the larger of
 * users.max_seq and the seq of their last inbox entry (#17: writing
 * users.max_seq back cost every batch an UPDATE a recipient, ~5,600
 * instructions each); users.max_seq is brought up only when pruning
 * deletes entries, so the last one's seq is never lost. A batch that fails
 * is rolled back, these are read again, and the store retries its ops one
 * at a time.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-store-sqlite-private.h"

#include "natter-codes.h"
#include "natter-frame.h"
#include "natter-object-names.h"

/* Users' inbox heads and groups' timeline heads the writer keeps, at most
 * (about 100 bytes each). */
#define WRITER_CACHE_MAX 100000

const char * const natterd_store_sqlite_writer_sql[W_N_STATEMENTS] = {
  /* Each batch's transaction, prepared once: sqlite3_exec() parsed them
   * every time (#17). */
  [W_BEGIN] = "BEGIN IMMEDIATE",
  [W_COMMIT] = "COMMIT",
  [W_INSERT_MESSAGE] =
    "INSERT INTO messages (id, app_id, uid, conversation_type, sender_id, target_id, channel,"
    " object_name, content, push_content, flags, sent_time, device_id, client_msg_id, timeline_seq,"
    " channel_hash, dedup_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
    " ?15, ?16, ?17) ON CONFLICT DO NOTHING",
  /* The row holding a dedup_key: the same message if its columns match. */
  [W_FIND_DUPLICATE] =
    "SELECT id, uid, sent_time, timeline_seq, sender_id = ?2 AND device_id = ?3 AND client_msg_id = ?4"
    " FROM messages WHERE dedup_key = ?1",
  [W_INSERT_INBOX] = "INSERT INTO inbox (user_id, seq, message_id) VALUES (?1, ?2, ?3)",
  [W_GET_MAX_SEQ] = "SELECT max (COALESCE ((SELECT max_seq FROM users WHERE id = ?1), 0),"
                    " COALESCE ((SELECT max (seq) FROM inbox WHERE user_id = ?1), 0))",
  /* Before a user's inbox entries up to ?2 are pruned (the last one's
   * seq is the head when no newer one is left). */
  [W_SET_MAX_SEQ] = "UPDATE users SET max_seq = ?2 WHERE id = ?1 AND max_seq < ?2",
  [W_UPSERT_CONVERSATION] =
    "INSERT INTO conversations (user_id, conversation_type, target_id, latest_message_id,"
    " updated_time, unread) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    " ON CONFLICT (user_id, conversation_type, target_id) DO UPDATE SET"
    " latest_message_id = excluded.latest_message_id, updated_time = excluded.updated_time,"
    " unread = unread + excluded.unread, hidden = 0",
  /* The same for a row that exists, the common case: one descent of the
   * primary key, where the upsert's insert made two (#17). */
  [W_UPDATE_CONVERSATION] =
    "UPDATE conversations SET latest_message_id = ?4, updated_time = ?5, unread = unread + ?6, hidden = 0"
    " WHERE user_id = ?1 AND conversation_type = ?2 AND target_id = ?3",
  [W_INSERT_HOUR] = "INSERT OR IGNORE INTO hours (hour, first_message_id) VALUES (?1, ?2)",
  [W_UPSERT_USER] =
    "INSERT INTO users (id, app_id, user_id, name, portrait_uri, created, tokens_valid_after,"
    " blocked_until) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
    " ON CONFLICT (id) DO UPDATE SET name = excluded.name, portrait_uri = excluded.portrait_uri,"
    " tokens_valid_after = excluded.tokens_valid_after, blocked_until = excluded.blocked_until",
  [W_UPSERT_DEVICE] =
    "INSERT INTO devices (user_id, device_id, platform, last_seen, acked_seq)"
    " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO UPDATE SET platform = excluded.platform,"
    " last_seen = excluded.last_seen, acked_seq = MAX (acked_seq, excluded.acked_seq)",
  [W_GET_MESSAGE] =
    "SELECT app_id, uid, sender_id, channel, object_name, sent_time, conversation_type, target_id,"
    " content FROM messages WHERE id = ?1",
  [W_RECALL_MESSAGE] =
    "UPDATE messages SET object_name = '" NATTER_OBJECT_RECALL_NOTIFICATION "', content = ?2"
    " WHERE id = ?1",
  [W_EDIT_MESSAGE] =
    "UPDATE messages SET content = ?2 WHERE id = ?1",
  [W_PIN] =
    "INSERT INTO conversations (user_id, conversation_type, target_id, updated_time, pinned)"
    " VALUES (?1, ?2, ?3, ?4, 1) ON CONFLICT DO UPDATE SET pinned = 1",
  [W_UNPIN] =
    "UPDATE conversations SET pinned = 0 WHERE user_id = ?1 AND conversation_type = ?2"
    " AND target_id = ?3",
  [W_MUTE] =
    "INSERT INTO conversations (user_id, conversation_type, target_id, updated_time, muted)"
    " VALUES (?1, ?2, ?3, ?4, 1) ON CONFLICT DO UPDATE SET muted = 1",
  [W_UNMUTE] =
    "UPDATE conversations SET muted = 0 WHERE user_id = ?1 AND conversation_type = ?2"
    " AND target_id = ?3",
  /* A group's conversation has a row only once pinned, muted or removed:
   * a removed one shows again once a message is newer than the removal. */
  [W_REMOVE_CONVERSATION] =
    "INSERT INTO conversations (user_id, conversation_type, target_id, updated_time, hidden)"
    " VALUES (?1, ?2, ?3, ?4, 1) ON CONFLICT DO UPDATE SET hidden = 1, unread = 0,"
    " updated_time = MAX (updated_time, excluded.updated_time)",
  [W_CLEAR_UNREAD] =
    "UPDATE conversations SET unread = 0, last_read_time = MAX (last_read_time, ?4)"
    " WHERE user_id = ?1 AND conversation_type = ?2 AND target_id = ?3",
  [W_UPSERT_GROUP] =
    "INSERT INTO groups (id, app_id, group_id, name, created) VALUES (?1, ?2, ?3, ?4, ?5)"
    " ON CONFLICT (id) DO UPDATE SET name = excluded.name",
  [W_DELETE_GROUP] = "DELETE FROM groups WHERE id = ?1",
  [W_DELETE_GROUP_MEMBERS] = "DELETE FROM group_members WHERE group_id = ?1",
  [W_ADD_MEMBER] =
    "INSERT INTO group_members (group_id, user_id, joined) VALUES (?1, ?2, ?3)"
    " ON CONFLICT DO NOTHING",
  [W_REMOVE_MEMBER] = "DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2",
  [W_GAG_MEMBER] = "UPDATE group_members SET gag_until = ?3 WHERE group_id = ?1 AND user_id = ?2",
  [W_UPSERT_CHATROOM] =
    "INSERT INTO chatrooms (id, app_id, chatroom_id, name, created) VALUES (?1, ?2, ?3, ?4, ?5)"
    " ON CONFLICT (id) DO UPDATE SET name = excluded.name",
  [W_DELETE_CHATROOM] = "DELETE FROM chatrooms WHERE id = ?1",
  [W_ADD_BLACKLIST] =
    "INSERT OR IGNORE INTO blacklist (user_id, blocked_user_id) VALUES (?1, ?2)",
  [W_REMOVE_BLACKLIST] = "DELETE FROM blacklist WHERE user_id = ?1 AND blocked_user_id = ?2",
  [W_INSERT_MEDIA] =
    "INSERT OR IGNORE INTO media (app_id, hash, size, content_type, name, uploader_id, created)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
  [W_PRUNE_CUTOFF] = "SELECT first_message_id FROM hours WHERE hour >= ?1 ORDER BY hour LIMIT 1",
  /* Pruned user by user (see write_prune_inbox()). */
  [W_PRUNE_NEXT_USER] = "SELECT user_id FROM inbox WHERE user_id >= ?1 ORDER BY user_id LIMIT 1",
  [W_PRUNE_USER_HEAD] =
    "SELECT seq, message_id FROM inbox WHERE user_id = ?1 ORDER BY seq LIMIT ?2",
  [W_PRUNE_INBOX] = "DELETE FROM inbox WHERE user_id = ?1 AND seq <= ?2",
  [W_INSERT_NONCE] =
    "INSERT INTO api_nonces (app_id, nonce, expires) VALUES (?1, ?2, ?3)"
    " ON CONFLICT DO UPDATE SET expires = MAX (expires, excluded.expires)",
  [W_PRUNE_NONCES] =
    "DELETE FROM api_nonces WHERE (app_id, nonce) IN"
    " (SELECT app_id, nonce FROM api_nonces WHERE expires < ?1 LIMIT ?2)",
  [W_INSERT_WEBHOOK_EVENT] =
    "INSERT INTO webhook_events (message_id, app_id, body) VALUES (?1, ?2, ?3)",
  [W_DELETE_WEBHOOK_EVENT] = "DELETE FROM webhook_events WHERE message_id = ?1",
  [W_GET_TIMELINE] =
    "SELECT latest_seq, updated_time, conversation_type FROM timelines"
    " WHERE app_id = ?1 AND target_id = ?2",
  [W_UPSERT_TIMELINE] =
    "INSERT INTO timelines (app_id, target_id, conversation_type, latest_seq, updated_time, changed)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO UPDATE SET"
    " conversation_type = excluded.conversation_type, latest_seq = excluded.latest_seq,"
    " updated_time = excluded.updated_time, changed = excluded.changed",
  [W_INSERT_MENTION] =
    "INSERT OR IGNORE INTO timeline_mentions (app_id, target_id, timeline_seq, user_id, sender_id)"
    " VALUES (?1, ?2, ?3, ?4, ?5)",
  /* A member again after leaving reads from the new join on. */
  [W_JOIN_TIMELINE] =
    "INSERT INTO timeline_members (user_id, target_id, app_id, first_seq, last_seq, member,"
    " read_seq, changed) VALUES (?1, ?2, ?3, ?4, 0, 1, ?5, ?6) ON CONFLICT DO UPDATE SET"
    " first_seq = CASE WHEN member THEN first_seq ELSE excluded.first_seq END,"
    " read_seq = CASE WHEN member THEN read_seq ELSE MAX (read_seq, excluded.read_seq) END,"
    " last_seq = 0, member = 1, changed = excluded.changed",
  [W_LEAVE_TIMELINE] =
    "UPDATE timeline_members SET member = 0, last_seq = ?3, changed = ?4"
    " WHERE user_id = ?1 AND target_id = ?2 AND member",
  [W_DISMISS_TIMELINE] =
    "UPDATE timeline_members SET member = 0, last_seq = ?3, changed = ?4"
    " WHERE app_id = ?1 AND target_id = ?2 AND member",
  [W_READ_TIMELINE] =
    "UPDATE timeline_members SET read_seq = ?3, changed = ?4"
    " WHERE user_id = ?1 AND target_id = ?2 AND read_seq < ?3",
  [W_GET_CLOCK] = "SELECT time FROM timeline_clock WHERE id = 0",
  /* NT:ClearCmd: a new private row stays hidden until a message comes
   * (a group's shows as it did). */
  [W_CLEAR_HISTORY] =
    "INSERT INTO conversations (user_id, conversation_type, target_id, updated_time, hidden,"
    " cleared_time) VALUES (?1, ?2, ?3, ?4, ?2 NOT IN (2, 3), ?4) ON CONFLICT DO UPDATE SET"
    " cleared_time = MAX (cleared_time, excluded.cleared_time)",
  /* ... and on a group's timeline the member's part starts after it. */
  [W_CLEAR_TIMELINE] =
    "UPDATE timeline_members SET first_seq = MAX (first_seq, ?3 + 1), read_seq = MAX (read_seq, ?3),"
    " changed = ?4 WHERE user_id = ?1 AND target_id = ?2",
  [W_SET_CLOCK] =
    "INSERT INTO timeline_clock (id, time) VALUES (0, ?1) ON CONFLICT DO UPDATE SET time = excluded.time",
  /* RC:RRRspMsg: the reader's first answer, for a message of the named
   * sender on this group's timeline that the reader, a member, may read;
   * at most ?8 readers a message. */
  [W_INSERT_READER] =
    "INSERT OR IGNORE INTO message_readers (message_id, reader_id, read_time)"
    " SELECT m.id, ?2, ?3 FROM messages m JOIN timeline_members tm ON tm.user_id = ?2"
    "  AND tm.target_id = m.target_id AND tm.app_id = m.app_id AND tm.member"
    "  AND m.timeline_seq >= tm.first_seq"
    " WHERE m.id = ?1 AND m.uid = ?4 AND m.sender_id = ?5 AND m.app_id = ?6 AND m.target_id = ?7"
    " AND m.conversation_type IN (2, 3) AND m.timeline_seq IS NOT NULL"
    " AND (SELECT COUNT (*) FROM message_readers WHERE message_id = ?1) < ?8",
};

/* ------------------------------------------------------------- timelines */

typedef struct
{
  gint64   app_id;
  char    *target_id;
  int      conversation_type;
  guint64  latest_seq;
  gint64   updated_time;
} TimelineHead;

static void
timeline_head_free (gpointer data)
{
  TimelineHead *head = data;

  g_free (head->target_id);
  g_free (head);
}

/* The group's timeline head, read once then kept (the writer is the only
 * one to change it). */
static gboolean
get_timeline (NatterdStoreSqlite  *self,
              gint64               app_id,
              const char          *target_id,
              TimelineHead       **out,
              GError             **error)
{
  g_autofree char *key = g_strdup_printf ("%" G_GINT64_FORMAT "/%s", app_id, target_id);
  sqlite3_stmt *stmt = self->writer_stmts[W_GET_TIMELINE];
  TimelineHead *head = g_hash_table_lookup (self->timelines, key);
  int rc;

  if (head != NULL)
    {
      *out = head;
      return TRUE;
    }

  sqlite3_bind_int64 (stmt, 1, app_id);
  natterd_sqlite_bind_text (stmt, 2, target_id);
  rc = sqlite3_step (stmt);
  head = g_new0 (TimelineHead, 1);
  head->app_id = app_id;
  head->target_id = g_strdup (target_id);
  if (rc == SQLITE_ROW)
    {
      head->latest_seq = (guint64) sqlite3_column_int64 (stmt, 0);
      head->updated_time = sqlite3_column_int64 (stmt, 1);
      head->conversation_type = sqlite3_column_int (stmt, 2);
      rc = SQLITE_DONE;
    }
  if (!natterd_sqlite_finish_rows (self->db, stmt, rc, error))
    {
      timeline_head_free (head);
      return FALSE;
    }
  g_hash_table_insert (self->timelines, g_steal_pointer (&key), head);
  *out = head;
  return TRUE;
}

static gboolean
flush_timelines (NatterdStoreSqlite  *self,
                 GError             **error)
{
  sqlite3_stmt *stmt = self->writer_stmts[W_UPSERT_TIMELINE];
  GHashTableIter iter;
  TimelineHead *head;

  g_hash_table_iter_init (&iter, self->dirty_timelines);
  while (g_hash_table_iter_next (&iter, (gpointer *) &head, NULL))
    {
      sqlite3_bind_int64 (stmt, 1, head->app_id);
      natterd_sqlite_bind_text (stmt, 2, head->target_id);
      sqlite3_bind_int (stmt, 3, head->conversation_type);
      sqlite3_bind_int64 (stmt, 4, (sqlite3_int64) head->latest_seq);
      sqlite3_bind_int64 (stmt, 5, head->updated_time);
      sqlite3_bind_int64 (stmt, 6, self->timeline_clock);
      if (!natterd_sqlite_step_done (self->db, stmt, error))
        return FALSE;
    }
  if (self->clock_dirty)
    {
      stmt = self->writer_stmts[W_SET_CLOCK];
      sqlite3_bind_int64 (stmt, 1, self->timeline_clock);
      if (!natterd_sqlite_step_done (self->db, stmt, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
write_mentions (NatterdStoreSqlite  *self,
                NatterdPublishOp    *op,
                GError             **error)
{
  sqlite3_stmt *stmt = self->writer_stmts[W_INSERT_MENTION];
  guint n = op->mention_ids != NULL ? op->mention_ids->len : 0;

  for (guint i = 0; i < n + (op->mention_all ? 1 : 0); i++)
    {
      sqlite3_bind_int64 (stmt, 1, op->app_id);
      natterd_sqlite_bind_text (stmt, 2, op->message.target_id);
      sqlite3_bind_int64 (stmt, 3, (sqlite3_int64) op->message.timeline_seq);
      sqlite3_bind_int64 (stmt, 4, i < n ? g_array_index (op->mention_ids, gint64, i) : 0);
      sqlite3_bind_int64 (stmt, 5, op->sender_id);
      if (!natterd_sqlite_step_done (self->db, stmt, error))
        return FALSE;
    }
  return TRUE;
}

/* Join and leave record the group's seq at that moment: a member reads
 * from the next one on (from the start with @from_start), a member who
 * left up to that one. */
static gboolean
write_members_timeline (NatterdStoreSqlite  *self,
                        NatterdMembersOp    *op,
                        GError             **error)
{
  TimelineHead *head;
  sqlite3_stmt *stmt;

  if (op->timeline_id == NULL || op->action == NATTERD_MEMBERS_GAG)
    return TRUE;
  if (!get_timeline (self, op->app_id, op->timeline_id, &head, error))
    return FALSE;

  stmt = self->writer_stmts[op->action == NATTERD_MEMBERS_ADD ? W_JOIN_TIMELINE : W_LEAVE_TIMELINE];
  for (guint i = 0; i < op->user_ids->len; i++)
    {
      sqlite3_bind_int64 (stmt, 1, g_array_index (op->user_ids, gint64, i));
      natterd_sqlite_bind_text (stmt, 2, op->timeline_id);
      if (op->action == NATTERD_MEMBERS_ADD)
        {
          sqlite3_bind_int64 (stmt, 3, op->app_id);
          sqlite3_bind_int64 (stmt, 4, op->from_start || head->latest_seq == 0 ? 0 :
                                       (sqlite3_int64) head->latest_seq + 1);
          sqlite3_bind_int64 (stmt, 5, (sqlite3_int64) head->latest_seq);
          sqlite3_bind_int64 (stmt, 6, self->timeline_clock);
        }
      else
        {
          sqlite3_bind_int64 (stmt, 3, (sqlite3_int64) head->latest_seq);
          sqlite3_bind_int64 (stmt, 4, self->timeline_clock);
        }
      if (!natterd_sqlite_step_done (self->db, stmt, error))
        return FALSE;
    }
  self->clock_dirty = TRUE;
  return TRUE;
}

/* A user's inbox head as the writer keeps it: the key of max_seqs is
 * its user_id. */
typedef struct
{
  gint64  user_id;
  guint64 seq;
} InboxHead;

static gboolean
get_max_seq (NatterdStoreSqlite  *self,
             gint64               user_id,
             InboxHead          **out,
             GError             **error)
{
  sqlite3_stmt *stmt = self->writer_stmts[W_GET_MAX_SEQ];
  InboxHead *head = g_hash_table_lookup (self->max_seqs, &user_id);
  int rc;

  if (head != NULL)
    {
      *out = head;
      return TRUE;
    }

  sqlite3_bind_int64 (stmt, 1, user_id);
  rc = sqlite3_step (stmt);
  head = g_new0 (InboxHead, 1);
  head->user_id = user_id;
  if (rc == SQLITE_ROW)
    head->seq = (guint64) sqlite3_column_int64 (stmt, 0);
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    {
      g_free (head);
      natterd_sqlite_fail (self->db, rc, "max_seq", error);
      return FALSE;
    }

  g_hash_table_insert (self->max_seqs, &head->user_id, head);
  *out = head;
  return TRUE;
}

typedef struct
{
  gint64  user_id;
  int     conversation_type;
  char   *target_id;
  gint64  latest_message_id;
  gint64  updated_time;
  guint   unread;
} PendingConversation;

static guint
pending_conversation_hash (gconstpointer key)
{
  const PendingConversation *c = key;

  return g_str_hash (c->target_id) ^ (guint) c->user_id ^ ((guint) c->conversation_type << 24);
}

static gboolean
pending_conversation_equal (gconstpointer a,
                            gconstpointer b)
{
  const PendingConversation *x = a, *y = b;

  return x->user_id == y->user_id && x->conversation_type == y->conversation_type &&
         g_str_equal (x->target_id, y->target_id);
}

static void
pending_conversation_free (gpointer data)
{
  PendingConversation *c = data;

  g_free (c->target_id);
  g_free (c);
}

void
natterd_store_sqlite_writer_init (NatterdStoreSqlite *self)
{
  self->max_seqs = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, g_free);
  self->pending_conversations = g_hash_table_new_full (pending_conversation_hash,
                                                       pending_conversation_equal,
                                                       pending_conversation_free, NULL);
  self->last_hour = -1;
  self->timelines = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, timeline_head_free);
  self->dirty_timelines = g_hash_table_new (NULL, NULL);
}

/* Conversation rows change with every message for every participant; within
 * one batch they are folded so a busy conversation costs one upsert. Other
 * ops touching conversations flush them first to keep the order. */
static gboolean
flush_conversations (NatterdStoreSqlite  *self,
                     GError             **error)
{
  GHashTableIter iter;
  PendingConversation *c;

  g_hash_table_iter_init (&iter, self->pending_conversations);
  while (g_hash_table_iter_next (&iter, (gpointer *) &c, NULL))
    {
      /* UPDATE, then the upsert if there was no row yet. */
      for (int s = W_UPDATE_CONVERSATION;; s = W_UPSERT_CONVERSATION)
        {
          sqlite3_stmt *stmt = self->writer_stmts[s];

          sqlite3_bind_int64 (stmt, 1, c->user_id);
          sqlite3_bind_int (stmt, 2, c->conversation_type);
          natterd_sqlite_bind_text (stmt, 3, c->target_id);
          sqlite3_bind_int64 (stmt, 4, c->latest_message_id);
          sqlite3_bind_int64 (stmt, 5, c->updated_time);
          sqlite3_bind_int (stmt, 6, (int) c->unread);
          if (!natterd_sqlite_step_rebound (self->db, stmt, error))
            return FALSE;
          if (s == W_UPSERT_CONVERSATION || sqlite3_changes (self->db) > 0)
            break;
        }
    }
  g_hash_table_remove_all (self->pending_conversations);
  return TRUE;
}

static void
note_conversation (NatterdStoreSqlite     *self,
                   const NatterdRecipient *recipient,
                   const NatterdMessage   *message)
{
  PendingConversation key = {
    .user_id = recipient->user_id,
    .conversation_type = message->conversation_type,
    .target_id = (char *) recipient->target_id,
  };
  PendingConversation *c = g_hash_table_lookup (self->pending_conversations, &key);

  if (c == NULL)
    {
      c = g_new0 (PendingConversation, 1);
      *c = key;
      c->target_id = g_strdup (recipient->target_id);
      g_hash_table_add (self->pending_conversations, c);
    }

  c->latest_message_id = message->id;
  c->updated_time = message->sent_time;
  if (recipient->counted)
    c->unread++;
}

/* NT:ClearCmd: the sender's history before it is gone for them, on a
 * group's timeline too (every message written so far is before it). */
static gboolean
write_clear_history (NatterdStoreSqlite  *self,
                     NatterdPublishOp    *op,
                     GError             **error)
{
  NatterdMessage *m = &op->message;
  sqlite3_stmt *stmt = self->writer_stmts[W_CLEAR_HISTORY];

  if (!flush_conversations (self, error))
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, op->sender_id);
  sqlite3_bind_int (stmt, 2, m->conversation_type);
  natterd_sqlite_bind_text (stmt, 3, m->target_id);
  sqlite3_bind_int64 (stmt, 4, m->sent_time);
  if (!natterd_sqlite_step_done (self->db, stmt, error))
    return FALSE;

  if (m->conversation_type == NATTER_CONVERSATION_GROUP ||
      m->conversation_type == NATTER_CONVERSATION_DISCUSSION)
    {
      TimelineHead *head;

      if (!get_timeline (self, op->app_id, m->target_id, &head, error))
        return FALSE;
      stmt = self->writer_stmts[W_CLEAR_TIMELINE];
      sqlite3_bind_int64 (stmt, 1, op->sender_id);
      natterd_sqlite_bind_text (stmt, 2, m->target_id);
      sqlite3_bind_int64 (stmt, 3, (sqlite3_int64) head->latest_seq);
      sqlite3_bind_int64 (stmt, 4, self->timeline_clock);
      if (!natterd_sqlite_step_done (self->db, stmt, error))
        return FALSE;
      if (sqlite3_changes (self->db) > 0)
        self->clock_dirty = TRUE;
    }
  return TRUE;
}

/* RC:RRRspMsg (#16): who read which, kept with the answer. */
static gboolean
write_readers (NatterdStoreSqlite  *self,
               NatterdPublishOp    *op,
               GError             **error)
{
  sqlite3_stmt *stmt = self->writer_stmts[W_INSERT_READER];

  for (guint i = 0; op->read_messages != NULL && i < op->read_messages->len; i++)
    {
      NatterdReadMessage *read = &g_array_index (op->read_messages, NatterdReadMessage, i);

      sqlite3_bind_int64 (stmt, 1, read->message_id);
      sqlite3_bind_int64 (stmt, 2, op->sender_id);
      sqlite3_bind_int64 (stmt, 3, op->message.sent_time);
      natterd_sqlite_bind_text (stmt, 4, read->uid);
      sqlite3_bind_int64 (stmt, 5, read->sender_id);
      sqlite3_bind_int64 (stmt, 6, op->app_id);
      natterd_sqlite_bind_text (stmt, 7, op->message.target_id);
      sqlite3_bind_int64 (stmt, 8, op->readers_max);
      if (!natterd_sqlite_step_done (self->db, stmt, error))
        return FALSE;
    }
  return TRUE;
}

/* Colliding idempotency keys a message steps over, at most: at 63 bits
 * even one is unlikely ever to be seen, and the key is keyed by the
 * database's salt (schema 13), so no client can line collisions up. */
#define DEDUP_PROBES_MAX 64

/* The message stored under @key: if it is @op's own (sent before, same
 * sender, device and client_msg_id), @op is answered with it and adds
 * nothing (*same); otherwise another message took the key. */
static gboolean
find_duplicate (NatterdStoreSqlite  *self,
                NatterdPublishOp    *op,
                gint64               key,
                gboolean            *same,
                GError             **error)
{
  sqlite3_stmt *find = self->writer_stmts[W_FIND_DUPLICATE];
  NatterdMessage *m = &op->message;
  int rc;

  sqlite3_bind_int64 (find, 1, key);
  sqlite3_bind_int64 (find, 2, op->sender_id);
  natterd_sqlite_bind_text (find, 3, op->device_id);
  natterd_sqlite_bind_text (find, 4, op->client_msg_id);
  rc = sqlite3_step (find);
  *same = rc == SQLITE_ROW && sqlite3_column_int (find, 4) == 1;
  if (*same)
    {
      m->id = sqlite3_column_int64 (find, 0);
      g_free (m->uid);
      m->uid = natterd_sqlite_column_text (find, 1);
      m->sent_time = sqlite3_column_int64 (find, 2);
      m->timeline_seq = (guint64) sqlite3_column_int64 (find, 3);
      op->duplicate = TRUE;
    }
  sqlite3_reset (find);
  sqlite3_clear_bindings (find);
  if (rc != SQLITE_ROW)
    return natterd_sqlite_fail (self->db, rc, "duplicate lookup", error);
  return TRUE;
}

static gboolean
write_publish (NatterdStoreSqlite  *self,
               NatterdPublishOp    *op,
               GError             **error)
{
  sqlite3_stmt *stmt = self->writer_stmts[W_INSERT_MESSAGE];
  NatterdMessage *m = &op->message;
  gboolean persisted = (m->flags & NATTER_MESSAGE_FLAG_PERSISTED) != 0;
  gint64 id = self->next_message_id;
  TimelineHead *head = NULL;
  gint64 key = natterd_sqlite_dedup_key (self->dedup_salt, op->sender_id, op->device_id, op->client_msg_id);
  char uid[20];
  gint64 hour;

  /* A batch that failed is written again one op at a time. */
  g_clear_pointer (&op->webhook_body, g_free);
  natterd_message_uid_make (id, uid);
  m->timeline_seq = 0;
  if (op->timeline && !get_timeline (self, op->app_id, m->target_id, &head, error))
    return FALSE;

  for (guint probe = 0;; probe++)
    {
      gboolean same = FALSE;

      sqlite3_bind_int64 (stmt, 1, id);
      sqlite3_bind_int64 (stmt, 2, op->app_id);
      natterd_sqlite_bind_text (stmt, 3, persisted ? uid : NULL);
      sqlite3_bind_int (stmt, 4, m->conversation_type);
      sqlite3_bind_int64 (stmt, 5, op->sender_id);
      natterd_sqlite_bind_text (stmt, 6, m->target_id);
      natterd_sqlite_bind_text (stmt, 7, op->channel);
      natterd_sqlite_bind_text (stmt, 8, m->object_name);
      natterd_sqlite_bind_text (stmt, 9, m->content);
      natterd_sqlite_bind_text (stmt, 10, m->push_content);
      sqlite3_bind_int (stmt, 11, (int) m->flags);
      sqlite3_bind_int64 (stmt, 12, m->sent_time);
      natterd_sqlite_bind_text (stmt, 13, op->device_id);
      natterd_sqlite_bind_text (stmt, 14, op->client_msg_id);
      if (head != NULL)
        sqlite3_bind_int64 (stmt, 15, (sqlite3_int64) head->latest_seq + 1);
      else
        sqlite3_bind_null (stmt, 15);
      if (persisted)
        sqlite3_bind_int64 (stmt, 16, natterd_sqlite_channel_hash (op->app_id, op->channel));
      else
        sqlite3_bind_null (stmt, 16);
      if (key != 0)
        sqlite3_bind_int64 (stmt, 17, key);
      else
        sqlite3_bind_null (stmt, 17);
      if (!natterd_sqlite_step_rebound (self->db, stmt, error))
        return FALSE;
      if (sqlite3_changes (self->db) > 0)
        break;
      if (key == 0)
        return natterd_sqlite_fail (self->db, SQLITE_CONSTRAINT, "message insert", error);
      if (!find_duplicate (self, op, key, &same, error))
        return FALSE;
      if (same)
        return TRUE;
      /* Checked after the row at the last key: a message stored there is
       * found when sent again. SQLite's own message would say nothing
       * here (the insert did nothing). */
      if (probe == DEDUP_PROBES_MAX)
        {
          g_set_error (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_FAILED,
                       "message insert: its idempotency key and the %d after it are other messages'",
                       DEDUP_PROBES_MAX);
          return FALSE;
        }
      /* Another message's key: this one takes the next (a step over
       * the next client_msg_id's), and a resend of it comes the same way. */
      key = (key + NATTERD_SQLITE_DEDUP_PROBE_STEP) & G_MAXINT64;
      key = key != 0 ? key : NATTERD_SQLITE_DEDUP_PROBE_STEP;
    }

  self->next_message_id++;
  m->id = id;
  g_free (m->uid);
  m->uid = persisted ? g_strdup (uid) : NULL;

  /* The group's message is this one row, its seq and the timeline's head
   * (one row, written once a batch): nothing per member. */
  if (head != NULL)
    {
      m->timeline_seq = ++head->latest_seq;
      head->updated_time = m->sent_time;
      head->conversation_type = m->conversation_type;
      g_hash_table_add (self->dirty_timelines, head);
      self->clock_dirty = TRUE;
      if (!write_mentions (self, op, error))
        return FALSE;
    }

  if (op->webhook && persisted)
    {
      sqlite3_stmt *event = self->writer_stmts[W_INSERT_WEBHOOK_EVENT];

      op->webhook_body = natterd_webhook_event_body (m);
      sqlite3_bind_int64 (event, 1, id);
      sqlite3_bind_int64 (event, 2, op->app_id);
      natterd_sqlite_bind_text (event, 3, op->webhook_body);
      if (!natterd_sqlite_step_done (self->db, event, error))
        return FALSE;
    }

  hour = m->sent_time / (3600 * 1000);
  if (hour != self->last_hour)
    {
      sqlite3_stmt *h = self->writer_stmts[W_INSERT_HOUR];

      sqlite3_bind_int64 (h, 1, hour);
      sqlite3_bind_int64 (h, 2, id);
      if (!natterd_sqlite_step_done (self->db, h, error))
        return FALSE;
      self->last_hour = hour;
    }

  for (guint i = 0; i < op->recipients->len; i++)
    {
      NatterdRecipient *r = &g_array_index (op->recipients, NatterdRecipient, i);

      if (r->inbox)
        {
          sqlite3_stmt *inbox = self->writer_stmts[W_INSERT_INBOX];
          InboxHead *inbox_head;

          if (!get_max_seq (self, r->user_id, &inbox_head, error))
            return FALSE;
          r->seq = ++inbox_head->seq;

          sqlite3_bind_int64 (inbox, 1, r->user_id);
          sqlite3_bind_int64 (inbox, 2, (sqlite3_int64) r->seq);
          sqlite3_bind_int64 (inbox, 3, id);
          if (!natterd_sqlite_step_rebound (self->db, inbox, error))
            return FALSE;
        }

      if (r->conversation && persisted)
        note_conversation (self, r, m);
    }

  if (op->clear_history && !write_clear_history (self, op, error))
    return FALSE;
  if (!write_readers (self, op, error))
    return FALSE;

  return TRUE;
}

static gboolean
write_recall (NatterdStoreSqlite  *self,
              NatterdRecallOp     *op,
              GError             **error)
{
  sqlite3_stmt *stmt = self->writer_stmts[W_GET_MESSAGE];
  g_autofree char *uid = NULL;
  g_autofree char *channel = NULL;
  g_autofree char *object_name = NULL;
  gint64 app_id = 0, sender_id = 0, sent_time = 0;
  int rc;

  sqlite3_bind_int64 (stmt, 1, op->message_id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    {
      app_id = sqlite3_column_int64 (stmt, 0);
      uid = natterd_sqlite_column_text (stmt, 1);
      sender_id = sqlite3_column_int64 (stmt, 2);
      channel = natterd_sqlite_column_text (stmt, 3);
      object_name = natterd_sqlite_column_text (stmt, 4);
      sent_time = sqlite3_column_int64 (stmt, 5);
      op->original.conversation_type = sqlite3_column_int (stmt, 6);
      op->original.target_id = natterd_sqlite_column_text (stmt, 7);
      op->original.content = natterd_sqlite_column_text (stmt, 8);
    }
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return natterd_sqlite_fail (self->db, rc, "recall lookup", error);

  if (op->expansion_set != NULL)
    {
      g_autofree char *content = NULL;

      /* Any participant: the channel key holds the user (private) or the
       * caller checked membership (group). */
      op->found = rc == SQLITE_ROW && app_id == op->app_id && g_strcmp0 (uid, op->uid) == 0 &&
                  g_strcmp0 (channel, op->channel) == 0 &&
                  g_strcmp0 (object_name, NATTER_OBJECT_RECALL_NOTIFICATION) != 0;
      if (!op->found)
        return TRUE;
      op->expansion_code = natterd_expansion_apply (op->original.content, op->expansion_set,
                                                    op->expansion_remove, &content);
      if (op->expansion_code != NATTER_CODE_OK)
        return TRUE;
      stmt = self->writer_stmts[W_EDIT_MESSAGE];
      sqlite3_bind_int64 (stmt, 1, op->message_id);
      natterd_sqlite_bind_text (stmt, 2, content);
      if (!natterd_sqlite_step_done (self->db, stmt, error))
        return FALSE;
      return write_publish (self, op->command, error);
    }

  op->found = rc == SQLITE_ROW && app_id == op->app_id && g_strcmp0 (uid, op->uid) == 0 &&
              sender_id == op->sender_id && g_strcmp0 (channel, op->channel) == 0 &&
              (op->edit_content != NULL ? NATTERD_OBJECT_IS_EDITABLE (object_name)
                                        : g_strcmp0 (object_name, NATTER_OBJECT_RECALL_NOTIFICATION) != 0);
  op->window_passed = op->found && sent_time < op->window_start;
  op->found = op->found && !op->window_passed;
  if (!op->found)
    return TRUE;

  if (op->edit_content != NULL)
    {
      g_autofree char *content = natterd_expansion_keep (op->original.content, op->edit_content);

      stmt = self->writer_stmts[W_EDIT_MESSAGE];
      sqlite3_bind_int64 (stmt, 1, op->message_id);
      natterd_sqlite_bind_text (stmt, 2, content);
      if (!natterd_sqlite_step_done (self->db, stmt, error))
        return FALSE;
      return op->command == NULL || write_publish (self, op->command, error);
    }

  op->original.id = op->message_id;
  op->original.uid = g_strdup (uid);
  op->original.object_name = g_steal_pointer (&object_name);
  op->original.sent_time = sent_time;

  {
    g_autofree char *replacement = natterd_recall_notification (op->operator_id, op->recall_time,
                                                                op->original.object_name);

    stmt = self->writer_stmts[W_RECALL_MESSAGE];
    sqlite3_bind_int64 (stmt, 1, op->message_id);
    natterd_sqlite_bind_text (stmt, 2, replacement);
    if (!natterd_sqlite_step_done (self->db, stmt, error))
      return FALSE;
  }

  return op->command == NULL || write_publish (self, op->command, error);
}

static gboolean
write_conversation (NatterdStoreSqlite     *self,
                    NatterdConversationOp  *op,
                    GError                **error)
{
  static const int statements[] = {
    [NATTERD_CONVERSATION_PIN] = W_PIN,
    [NATTERD_CONVERSATION_UNPIN] = W_UNPIN,
    [NATTERD_CONVERSATION_MUTE] = W_MUTE,
    [NATTERD_CONVERSATION_UNMUTE] = W_UNMUTE,
    [NATTERD_CONVERSATION_REMOVE] = W_REMOVE_CONVERSATION,
    [NATTERD_CONVERSATION_CLEAR_UNREAD] = W_CLEAR_UNREAD,
  };
  sqlite3_stmt *stmt = self->writer_stmts[statements[op->action]];

  if (op->action == NATTERD_CONVERSATION_CLEAR_UNREAD &&
      (op->conversation_type == NATTER_CONVERSATION_GROUP ||
       op->conversation_type == NATTER_CONVERSATION_DISCUSSION))
    {
      sqlite3_stmt *read = self->writer_stmts[W_READ_TIMELINE];
      TimelineHead *head;
      guint64 seq;

      if (!get_timeline (self, op->app_id, op->target_id, &head, error))
        return FALSE;
      seq = op->read_seq == 0 ? head->latest_seq : MIN (op->read_seq, head->latest_seq);
      sqlite3_bind_int64 (read, 1, op->user_id);
      natterd_sqlite_bind_text (read, 2, op->target_id);
      sqlite3_bind_int64 (read, 3, (sqlite3_int64) seq);
      sqlite3_bind_int64 (read, 4, self->timeline_clock);
      if (!natterd_sqlite_step_done (self->db, read, error))
        return FALSE;
      if (sqlite3_changes (self->db) > 0)
        self->clock_dirty = TRUE;
    }

  sqlite3_bind_int64 (stmt, 1, op->user_id);
  sqlite3_bind_int (stmt, 2, op->conversation_type);
  natterd_sqlite_bind_text (stmt, 3, op->target_id);
  if (sqlite3_bind_parameter_count (stmt) >= 4)
    sqlite3_bind_int64 (stmt, 4, op->time);
  return natterd_sqlite_step_done (self->db, stmt, error);
}

/* Deletes the inbox entries of messages before @cutoff, user by user
 * (schema 11 has no index on message_id, which cost every entry an index
 * insert, #17): a user's entries are in seq order and seqs are given in
 * message id order, so the old ones are a prefix of the user's. An op
 * deletes at most op->limit entries and looks at most at op->limit users,
 * going on from the user the op before stopped at; op->more until a pass
 * over every user is done. */
static gboolean
write_prune_inbox (NatterdStoreSqlite  *self,
                   NatterdPruneOp      *op,
                   gint64               cutoff,
                   GError             **error)
{
  sqlite3_stmt *next = self->writer_stmts[W_PRUNE_NEXT_USER];
  sqlite3_stmt *head = self->writer_stmts[W_PRUNE_USER_HEAD];
  sqlite3_stmt *delete = self->writer_stmts[W_PRUNE_INBOX];
  guint budget = op->limit;

  op->deleted = 0;              /* a batch retried op by op runs this again */
  op->more = TRUE;
  for (guint users = 0; users < op->limit && budget > 0; users++)
    {
      gint64 user_id, last_seq = -1;
      guint old = 0;
      gboolean done = FALSE;
      int rc;

      sqlite3_bind_int64 (next, 1, self->prune_user);
      rc = sqlite3_step (next);
      user_id = rc == SQLITE_ROW ? sqlite3_column_int64 (next, 0) : 0;
      if (!natterd_sqlite_finish_rows (self->db, next, rc == SQLITE_ROW ? SQLITE_DONE : rc, error))
        return FALSE;
      if (rc == SQLITE_DONE)
        {
          /* The pass is over; the next prune starts another. */
          self->prune_user = 0;
          op->more = FALSE;
          break;
        }

      /* Up to the budget and one more, to see where the old ones end. */
      sqlite3_bind_int64 (head, 1, user_id);
      sqlite3_bind_int64 (head, 2, (sqlite3_int64) budget + 1);
      while ((rc = sqlite3_step (head)) == SQLITE_ROW)
        {
          if (sqlite3_column_int64 (head, 1) >= cutoff || old == budget)
            {
              done = sqlite3_column_int64 (head, 1) >= cutoff;
              break;
            }
          last_seq = sqlite3_column_int64 (head, 0);
          old++;
        }
      if (rc == SQLITE_DONE)
        done = TRUE;
      if (!natterd_sqlite_finish_rows (self->db, head, rc == SQLITE_ROW ? SQLITE_DONE : rc, error))
        return FALSE;

      if (old > 0)
        {
          sqlite3_stmt *keep = self->writer_stmts[W_SET_MAX_SEQ];

          /* The head outlives the entries (see the top of this file). */
          sqlite3_bind_int64 (keep, 1, user_id);
          sqlite3_bind_int64 (keep, 2, last_seq);
          if (!natterd_sqlite_step_done (self->db, keep, error))
            return FALSE;
          sqlite3_bind_int64 (delete, 1, user_id);
          sqlite3_bind_int64 (delete, 2, last_seq);
          if (!natterd_sqlite_step_done (self->db, delete, error))
            return FALSE;
          budget -= old;
          op->deleted += old;
        }
      self->prune_user = done ? user_id + 1 : user_id;
    }
  return TRUE;
}

/* Deletes at most op->limit inbox entries of messages sent before
 * op->before, found through the first message id of that hour, and at most
 * as many nonces that expired before op->nonces_before. */
static gboolean
write_prune (NatterdStoreSqlite  *self,
             NatterdPruneOp      *op,
             GError             **error)
{
  sqlite3_stmt *stmt;
  gint64 cutoff = 0;
  int rc;

  if (op->nonces_before > 0)
    {
      stmt = self->writer_stmts[W_PRUNE_NONCES];
      sqlite3_bind_int64 (stmt, 1, op->nonces_before);
      sqlite3_bind_int (stmt, 2, (int) op->limit);
      if (!natterd_sqlite_step_done (self->db, stmt, error))
        return FALSE;
      op->nonces_deleted = (guint) sqlite3_changes (self->db);
    }

  if (op->before == 0)
    return TRUE;

  stmt = self->writer_stmts[W_PRUNE_CUTOFF];
  sqlite3_bind_int64 (stmt, 1, op->before / (3600 * 1000));
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    {
      cutoff = sqlite3_column_int64 (stmt, 0);
      rc = SQLITE_DONE;
    }
  else if (rc == SQLITE_DONE)
    cutoff = self->next_message_id;   /* everything is older */
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  if (rc != SQLITE_DONE)
    return natterd_sqlite_fail (self->db, rc, "prune cutoff", error);

  return write_prune_inbox (self, op, cutoff, error);
}

static gboolean
write_one (NatterdStoreSqlite  *self,
           NatterdOp           *op,
           GError             **error)
{
  sqlite3_stmt *stmt;

  if (op->kind != NATTERD_OP_PUBLISH && !flush_conversations (self, error))
    return FALSE;

  switch (op->kind)
    {
    case NATTERD_OP_BARRIER:
      return TRUE;

    case NATTERD_OP_PUBLISH:
      return write_publish (self, (NatterdPublishOp *) op, error);

    case NATTERD_OP_RECALL:
      return write_recall (self, (NatterdRecallOp *) op, error);

    case NATTERD_OP_CONVERSATION:
      return write_conversation (self, (NatterdConversationOp *) op, error);

    case NATTERD_OP_USER:
      {
        NatterdUserOp *u = (NatterdUserOp *) op;

        stmt = self->writer_stmts[W_UPSERT_USER];
        sqlite3_bind_int64 (stmt, 1, u->id);
        sqlite3_bind_int64 (stmt, 2, u->app_id);
        natterd_sqlite_bind_text (stmt, 3, u->user_id);
        natterd_sqlite_bind_text (stmt, 4, u->name != NULL ? u->name : "");
        natterd_sqlite_bind_text (stmt, 5, u->portrait_uri != NULL ? u->portrait_uri : "");
        sqlite3_bind_int64 (stmt, 6, u->created);
        sqlite3_bind_int64 (stmt, 7, u->tokens_valid_after);
        sqlite3_bind_int64 (stmt, 8, u->blocked_until);
        return natterd_sqlite_step_done (self->db, stmt, error);
      }

    case NATTERD_OP_DEVICES:
      {
        NatterdDevicesOp *d = (NatterdDevicesOp *) op;

        stmt = self->writer_stmts[W_UPSERT_DEVICE];
        for (guint i = 0; i < d->devices->len; i++)
          {
            NatterdDeviceRecord *device = &g_array_index (d->devices, NatterdDeviceRecord, i);

            sqlite3_bind_int64 (stmt, 1, device->user_id);
            natterd_sqlite_bind_text (stmt, 2, device->device_id);
            natterd_sqlite_bind_text (stmt, 3, device->platform != NULL ? device->platform : "");
            sqlite3_bind_int64 (stmt, 4, device->last_seen);
            sqlite3_bind_int64 (stmt, 5, (sqlite3_int64) device->acked_seq);
            if (!natterd_sqlite_step_done (self->db, stmt, error))
              return FALSE;
          }
        return TRUE;
      }

    case NATTERD_OP_GROUP:
      {
        NatterdGroupOp *g = (NatterdGroupOp *) op;

        if (g->remove)
          {
            TimelineHead *head;

            if (!get_timeline (self, g->app_id, g->group_id, &head, error))
              return FALSE;
            stmt = self->writer_stmts[W_DISMISS_TIMELINE];
            sqlite3_bind_int64 (stmt, 1, g->app_id);
            natterd_sqlite_bind_text (stmt, 2, g->group_id);
            sqlite3_bind_int64 (stmt, 3, (sqlite3_int64) head->latest_seq);
            sqlite3_bind_int64 (stmt, 4, self->timeline_clock);
            if (!natterd_sqlite_step_done (self->db, stmt, error))
              return FALSE;
            self->clock_dirty = TRUE;
            stmt = self->writer_stmts[W_DELETE_GROUP_MEMBERS];
            sqlite3_bind_int64 (stmt, 1, g->id);
            if (!natterd_sqlite_step_done (self->db, stmt, error))
              return FALSE;
            stmt = self->writer_stmts[W_DELETE_GROUP];
            sqlite3_bind_int64 (stmt, 1, g->id);
            return natterd_sqlite_step_done (self->db, stmt, error);
          }

        stmt = self->writer_stmts[W_UPSERT_GROUP];
        sqlite3_bind_int64 (stmt, 1, g->id);
        sqlite3_bind_int64 (stmt, 2, g->app_id);
        natterd_sqlite_bind_text (stmt, 3, g->group_id);
        natterd_sqlite_bind_text (stmt, 4, g->name != NULL ? g->name : "");
        sqlite3_bind_int64 (stmt, 5, g->created);
        return natterd_sqlite_step_done (self->db, stmt, error);
      }

    case NATTERD_OP_MEMBERS:
      {
        NatterdMembersOp *m = (NatterdMembersOp *) op;

        stmt = self->writer_stmts[m->action == NATTERD_MEMBERS_ADD ? W_ADD_MEMBER :
                                  m->action == NATTERD_MEMBERS_REMOVE ? W_REMOVE_MEMBER :
                                  W_GAG_MEMBER];
        for (guint i = 0; i < m->user_ids->len; i++)
          {
            sqlite3_bind_int64 (stmt, 1, m->group_id);
            sqlite3_bind_int64 (stmt, 2, g_array_index (m->user_ids, gint64, i));
            if (m->action != NATTERD_MEMBERS_REMOVE)
              sqlite3_bind_int64 (stmt, 3, m->time);
            if (!natterd_sqlite_step_done (self->db, stmt, error))
              return FALSE;
          }
        return write_members_timeline (self, m, error);
      }

    case NATTERD_OP_CHATROOM:
      {
        NatterdChatroomOp *c = (NatterdChatroomOp *) op;

        if (c->remove)
          {
            stmt = self->writer_stmts[W_DELETE_CHATROOM];
            sqlite3_bind_int64 (stmt, 1, c->id);
            return natterd_sqlite_step_done (self->db, stmt, error);
          }
        stmt = self->writer_stmts[W_UPSERT_CHATROOM];
        sqlite3_bind_int64 (stmt, 1, c->id);
        sqlite3_bind_int64 (stmt, 2, c->app_id);
        natterd_sqlite_bind_text (stmt, 3, c->chatroom_id);
        natterd_sqlite_bind_text (stmt, 4, c->name != NULL ? c->name : "");
        sqlite3_bind_int64 (stmt, 5, c->created);
        return natterd_sqlite_step_done (self->db, stmt, error);
      }

    case NATTERD_OP_BLACKLIST:
      {
        NatterdBlacklistOp *b = (NatterdBlacklistOp *) op;

        stmt = self->writer_stmts[b->remove ? W_REMOVE_BLACKLIST : W_ADD_BLACKLIST];
        for (guint i = 0; i < b->blocked_ids->len; i++)
          {
            sqlite3_bind_int64 (stmt, 1, b->user_id);
            sqlite3_bind_int64 (stmt, 2, g_array_index (b->blocked_ids, gint64, i));
            if (!natterd_sqlite_step_done (self->db, stmt, error))
              return FALSE;
          }
        return TRUE;
      }

    case NATTERD_OP_PRUNE:
      return write_prune (self, (NatterdPruneOp *) op, error);

    case NATTERD_OP_ACCOUNT:
      return natterd_store_sqlite_write_account (self, (NatterdAccountOp *) op, error);

    case NATTERD_OP_LOGIN:
      return natterd_store_sqlite_write_login (self, (NatterdLoginOp *) op, error);

    case NATTERD_OP_NONCE:
      {
        NatterdNonceOp *n = (NatterdNonceOp *) op;

        stmt = self->writer_stmts[W_INSERT_NONCE];
        sqlite3_bind_int64 (stmt, 1, n->app_id);
        natterd_sqlite_bind_text (stmt, 2, n->nonce);
        sqlite3_bind_int64 (stmt, 3, n->expires);
        return natterd_sqlite_step_done (self->db, stmt, error);
      }

    case NATTERD_OP_WEBHOOK_DONE:
      {
        GArray *ids = ((NatterdWebhookDoneOp *) op)->ids;

        stmt = self->writer_stmts[W_DELETE_WEBHOOK_EVENT];
        for (guint i = 0; i < ids->len; i++)
          {
            sqlite3_bind_int64 (stmt, 1, g_array_index (ids, gint64, i));
            if (!natterd_sqlite_step_done (self->db, stmt, error))
              return FALSE;
          }
        return TRUE;
      }

    case NATTERD_OP_MEDIA:
      {
        NatterdMediaOp *m = (NatterdMediaOp *) op;

        stmt = self->writer_stmts[W_INSERT_MEDIA];
        sqlite3_bind_int64 (stmt, 1, m->app_id);
        natterd_sqlite_bind_text (stmt, 2, m->hash);
        sqlite3_bind_int64 (stmt, 3, (sqlite3_int64) m->size);
        natterd_sqlite_bind_text (stmt, 4, m->content_type);
        natterd_sqlite_bind_text (stmt, 5, m->name != NULL ? m->name : "");
        sqlite3_bind_int64 (stmt, 6, m->uploader_id);
        sqlite3_bind_int64 (stmt, 7, m->created);
        return natterd_sqlite_step_done (self->db, stmt, error);
      }

    default:
      g_assert_not_reached ();
    }
}

gboolean
natterd_store_sqlite_load_counters (NatterdStoreSqlite  *self,
                                    GError             **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2 (self->db, "SELECT COALESCE (MAX (id), 0) FROM messages", -1,
                               &stmt, NULL);

  if (rc == SQLITE_OK)
    rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    self->next_message_id = sqlite3_column_int64 (stmt, 0) + 1;
  sqlite3_finalize (stmt);
  if (rc != SQLITE_ROW)
    return natterd_sqlite_fail (self->db, rc, "next message id", error);

  self->last_hour = -1;
  g_hash_table_remove_all (self->max_seqs);
  g_hash_table_remove_all (self->dirty_timelines);
  g_hash_table_remove_all (self->timelines);
  self->clock_dirty = FALSE;

  rc = sqlite3_prepare_v2 (self->db, "SELECT COALESCE (MAX (time), 0) FROM timeline_clock", -1, &stmt, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    self->timeline_clock = MAX (self->timeline_clock, sqlite3_column_int64 (stmt, 0));
  sqlite3_finalize (stmt);
  if (rc != SQLITE_ROW)
    return natterd_sqlite_fail (self->db, rc, "timeline clock", error);
  return TRUE;
}

gboolean
natterd_store_sqlite_write (NatterdStore  *store,
                            NatterdOp    **ops,
                            guint          n_ops,
                            GError       **error)
{
  NatterdStoreSqlite *self = NATTERD_STORE_SQLITE (store);
  gint64 db_writes;

  natterd_store_sqlite_start_pipeline (self);
  natterd_sqlite_wal_take_sync_us ();
  db_writes = natterd_sqlite_wal_db_writes_mark ();
  if (!natterd_sqlite_step_rebound (self->db, self->writer_stmts[W_BEGIN], error))
    return FALSE;

  /* Every timeline change of this transaction gets this stamp: never
   * less than an earlier transaction's (see NatterdTimelineSyncRead). */
  self->timeline_clock = MAX (self->timeline_clock, g_get_real_time () / 1000);
  self->clock_dirty = FALSE;

  for (guint i = 0; i < n_ops; i++)
    if (!write_one (self, ops[i], error))
      goto failed;

  if (!flush_conversations (self, error) || !flush_timelines (self, error))
    goto failed;

  if (!natterd_store_sqlite_commit (self, error))
    goto failed;
  /* A checkpoint writing the database to the disk meanwhile shares it
   * (and its cache flush) with this commit's sync: told apart in /metrics. */
  natterd_store_note_sync (store, natterd_sqlite_wal_take_sync_us (),
                           natterd_sqlite_wal_db_written_since (db_writes));

  g_hash_table_remove_all (self->dirty_timelines);
  /* What the writer keeps to spare a read per message is bounded: past so
   * many users or groups it starts over (and reads them again). */
  if (g_hash_table_size (self->max_seqs) > WRITER_CACHE_MAX)
    g_hash_table_remove_all (self->max_seqs);
  if (g_hash_table_size (self->timelines) > WRITER_CACHE_MAX)
    g_hash_table_remove_all (self->timelines);
  return TRUE;

failed:
  natterd_sqlite_exec (self->db, "ROLLBACK", NULL);
  g_hash_table_remove_all (self->pending_conversations);
  /* The in-memory counters ran ahead of what was rolled back. */
  natterd_store_sqlite_load_counters (self, NULL);
  for (guint i = 0; i < n_ops; i++)
    if (ops[i]->kind == NATTERD_OP_PUBLISH)
      {
        NatterdPublishOp *p = (NatterdPublishOp *) ops[i];

        p->duplicate = FALSE;
        p->message.timeline_seq = 0;
        g_clear_pointer (&p->webhook_body, g_free);
        for (guint r = 0; r < p->recipients->len; r++)
          g_array_index (p->recipients, NatterdRecipient, r).seq = 0;
      }
  return FALSE;
}

