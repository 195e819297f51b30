/* natterd-store-pg-write.c — the writer thread: a batch of ops in one
 * transaction (group commit per node)
 *
 * Unlike the SQLite writer, nothing another node could also hand out is
 * kept in memory: message ids come from a sequence (fetched once a batch),
 * a user's inbox seqs from UPDATE users ... RETURNING under the row lock,
 * a group's timeline_seq from the timelines row the same way. A node
 * writing to the same recipient as another waits for that one's commit,
 * then continues from its seq: no gap, no duplicate. Rows a batch locks
 * late (inbox heads, conversations) are locked in key order, so two nodes
 * never wait for each other; the timeline clock, when a batch needs it,
 * is the first lock taken.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-store-pg-private.h"

#include "natter-codes.h"
#include "natter-frame.h"
#include "natter-object-names.h"

#include <string.h>

/* The advisory lock class of an app's webhook events (see
 * PASSWORD_CHECK_LOCK for another). */
#define WEBHOOK_ORDER_LOCK "742570"

const char * const natterd_store_pg_writer_sql[PW_N_STATEMENTS] = {
  [PW_INSERT_MESSAGE] =
    "INSERT INTO messages (id, app_id, uid, conversation_type, sender_id, target_id, channel,"
    " object_name, content, push_content, flags, sent_time, device_id, client_msg_id)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    " ON CONFLICT (sender_id, client_msg_id, device_id) WHERE client_msg_id IS NOT NULL"
    " DO NOTHING RETURNING id",
  [PW_FIND_DUPLICATE] =
    "SELECT id, uid, sent_time, timeline_seq FROM messages"
    " WHERE sender_id = $1 AND client_msg_id = $2 AND device_id = $3",
  [PW_NEXT_IDS] = "SELECT nextval ('messages_id_seq') FROM generate_series (1, $1::integer)",
  /* Every inbox entry of a batch in one statement, seqs allocated before. */
  [PW_INSERT_INBOX] =
    "INSERT INTO inbox (user_id, seq, message_id)"
    " SELECT * FROM unnest ($1::bigint[], $2::bigint[], $3::bigint[])",
  /* Each node's ids rise, but another node may have drawn lower ones
   * and commit them later in the same hour: the row keeps the lowest
   * (locked only when lowered, once an hour per node at most). */
  [PW_INSERT_HOUR] =
    "INSERT INTO hours (hour, first_message_id) VALUES ($1, $2) ON CONFLICT (hour) DO UPDATE"
    " SET first_message_id = excluded.first_message_id"
    " WHERE hours.first_message_id > excluded.first_message_id",
  [PW_UPSERT_USER] =
    "INSERT INTO users (id, app_id, user_id, name, portrait_uri, created, tokens_valid_after,"
    " blocked_until) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    " ON CONFLICT (id) DO UPDATE SET name = excluded.name, portrait_uri = excluded.portrait_uri,"
    " tokens_valid_after = excluded.tokens_valid_after, blocked_until = excluded.blocked_until"
    " WHERE users.app_id = excluded.app_id AND users.user_id = excluded.user_id",
  /* A new user: a row of another node's for the same user stands (it
   * was there first, under that node's id), and this node takes its id. */
  [PW_CREATE_USER] =
    "INSERT INTO users (id, app_id, user_id, name, portrait_uri, created, tokens_valid_after,"
    " blocked_until) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING id",
  [PW_FIND_USER] =
    "SELECT id, max_seq, tokens_valid_after, blocked_until FROM users WHERE app_id = $1 AND user_id = $2",
  [PW_UPSERT_DEVICE] =
    "INSERT INTO devices (user_id, device_id, platform, last_seen, acked_seq)"
    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, device_id) DO UPDATE SET"
    " platform = excluded.platform, last_seen = excluded.last_seen,"
    " acked_seq = GREATEST (devices.acked_seq, excluded.acked_seq)",
  [PW_GET_MESSAGE] =
    "SELECT app_id, uid, sender_id, channel, object_name, sent_time, conversation_type, target_id,"
    " content FROM messages WHERE id = $1 FOR UPDATE",
  [PW_RECALL_MESSAGE] =
    "UPDATE messages SET object_name = '" NATTER_OBJECT_RECALL_NOTIFICATION "', content = $2"
    " WHERE id = $1",
  [PW_EDIT_MESSAGE] =
    "UPDATE messages SET content = $2 WHERE id = $1",
  [PW_PIN] =
    "INSERT INTO conversations (user_id, conversation_type, target_id, updated_time, pinned)"
    " VALUES ($1, $2, $3, $4, 1) ON CONFLICT (user_id, conversation_type, target_id)"
    " DO UPDATE SET pinned = 1",
  [PW_UNPIN] =
    "UPDATE conversations SET pinned = 0 WHERE user_id = $1 AND conversation_type = $2"
    " AND target_id = $3",
  [PW_MUTE] =
    "INSERT INTO conversations (user_id, conversation_type, target_id, updated_time, muted)"
    " VALUES ($1, $2, $3, $4, 1) ON CONFLICT (user_id, conversation_type, target_id)"
    " DO UPDATE SET muted = 1",
  [PW_UNMUTE] =
    "UPDATE conversations SET muted = 0 WHERE user_id = $1 AND conversation_type = $2"
    " AND target_id = $3",
  [PW_REMOVE_CONVERSATION] =
    "INSERT INTO conversations (user_id, conversation_type, target_id, updated_time, hidden)"
    " VALUES ($1, $2, $3, $4, 1) ON CONFLICT (user_id, conversation_type, target_id)"
    " DO UPDATE SET hidden = 1, unread = 0,"
    " updated_time = GREATEST (conversations.updated_time, excluded.updated_time)",
  [PW_CLEAR_UNREAD] =
    "UPDATE conversations SET unread = 0, last_read_time = GREATEST (last_read_time, $4)"
    " WHERE user_id = $1 AND conversation_type = $2 AND target_id = $3",
  [PW_UPSERT_GROUP] =
    "INSERT INTO groups (id, app_id, group_id, name, created) VALUES ($1, $2, $3, $4, $5)"
    " ON CONFLICT (id) DO UPDATE SET name = excluded.name",
  /* As PW_CREATE_USER. */
  [PW_CREATE_GROUP] =
    "INSERT INTO groups (id, app_id, group_id, name, created) VALUES ($1, $2, $3, $4, $5)"
    " ON CONFLICT DO NOTHING RETURNING id",
  [PW_FIND_GROUP] = "SELECT id FROM groups WHERE app_id = $1 AND group_id = $2",
  [PW_DELETE_GROUP] = "DELETE FROM groups WHERE id = $1",
  [PW_DELETE_GROUP_MEMBERS] = "DELETE FROM group_members WHERE group_id = $1",
  [PW_ADD_MEMBER] =
    "INSERT INTO group_members (group_id, user_id, joined) VALUES ($1, $2, $3)"
    " ON CONFLICT DO NOTHING",
  [PW_REMOVE_MEMBER] = "DELETE FROM group_members WHERE group_id = $1 AND user_id = $2",
  [PW_GAG_MEMBER] = "UPDATE group_members SET gag_until = $3 WHERE group_id = $1 AND user_id = $2",
  /* By (app, chatroom id): each node numbers the rooms it hears of its
   * own way, and a node that did not hear of a room yet may create it
   * again (the row another node stored stands, name and all). */
  [PW_CREATE_CHATROOM] =
    "INSERT INTO chatrooms (id, app_id, chatroom_id, name, created) VALUES ($1, $2, $3, $4, $5)"
    " ON CONFLICT (app_id, chatroom_id) DO NOTHING",
  [PW_RENAME_CHATROOM] = "UPDATE chatrooms SET name = $3 WHERE app_id = $1 AND chatroom_id = $2",
  [PW_DELETE_CHATROOM] = "DELETE FROM chatrooms WHERE app_id = $1 AND chatroom_id = $2",
  [PW_ADD_BLACKLIST] =
    "INSERT INTO blacklist (user_id, blocked_user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
  [PW_REMOVE_BLACKLIST] = "DELETE FROM blacklist WHERE user_id = $1 AND blocked_user_id = $2",
  [PW_INSERT_MEDIA] =
    "INSERT INTO media (app_id, hash, size, content_type, name, uploader_id, created)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
  /* The lowest id of any hour from the cutoff on, not that of the first
   * such hour: ids drawn by several nodes do not rise with time (a
   * node's batch of ids may be used in an hour after another node's
   * higher ones), and an entry newer than the cutoff must never go. */
  [PW_PRUNE_CUTOFF] =
    "SELECT COALESCE ((SELECT min (first_message_id) FROM hours WHERE hour >= $1),"
    " 9223372036854775807)",
  [PW_PRUNE_INBOX] =
    "DELETE FROM inbox WHERE (user_id, seq) IN"
    " (SELECT user_id, seq FROM inbox WHERE message_id < $1 LIMIT $2)",
  /* Whether the row is new: a nonce another node stored is a replay. */
  [PW_INSERT_NONCE] =
    "INSERT INTO api_nonces (app_id, nonce, expires) VALUES ($1, $2, $3)"
    " ON CONFLICT (app_id, nonce) DO UPDATE SET expires = GREATEST (api_nonces.expires, excluded.expires)"
    " RETURNING (xmax = 0)",
  [PW_PRUNE_NONCES] =
    "DELETE FROM api_nonces WHERE (app_id, nonce) IN"
    " (SELECT app_id, nonce FROM api_nonces WHERE expires < $1 LIMIT $2)",
  /* Under the app's lock, held to the COMMIT: the next batch, on the
   * writer's other connection, commits that app's events only after
   * these (pollers see them in order, never a later one first). */
  [PW_INSERT_WEBHOOK_EVENT] =
    "INSERT INTO webhook_events (message_id, app_id, body)"
    " SELECT $1::bigint, $2::bigint, $3::text"
    " FROM (SELECT pg_advisory_xact_lock (" WEBHOOK_ORDER_LOCK ", ($2::bigint % 2147483647)::integer)) l",
  [PW_DELETE_WEBHOOK_EVENT] = "DELETE FROM webhook_events WHERE message_id = $1",
  /* The group's next seq under its row lock, given to the message. */
  [PW_NEXT_TIMELINE_SEQ] =
    "WITH t AS (INSERT INTO timelines (app_id, target_id, conversation_type, latest_seq, updated_time, changed)"
    "  VALUES ($1, $2, $3, 1, $4, $5) ON CONFLICT (app_id, target_id) DO UPDATE SET"
    "  latest_seq = timelines.latest_seq + 1, conversation_type = excluded.conversation_type,"
    "  updated_time = excluded.updated_time, changed = excluded.changed RETURNING latest_seq)"
    " UPDATE messages SET timeline_seq = t.latest_seq FROM t WHERE messages.id = $6"
    " RETURNING t.latest_seq",
  [PW_LOCK_TIMELINE] =
    "SELECT COALESCE ((SELECT latest_seq FROM timelines WHERE app_id = $1 AND target_id = $2"
    " FOR SHARE), 0)",
  [PW_INSERT_MENTION] =
    "INSERT INTO timeline_mentions (app_id, target_id, timeline_seq, user_id, sender_id)"
    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
  [PW_JOIN_TIMELINE] =
    "INSERT INTO timeline_members (user_id, target_id, app_id, first_seq, last_seq, member,"
    " read_seq, changed) VALUES ($1, $2, $3, $4, 0, 1, $5, $6)"
    " ON CONFLICT (user_id, target_id) DO UPDATE SET"
    " first_seq = CASE WHEN timeline_members.member <> 0 THEN timeline_members.first_seq"
    "  ELSE excluded.first_seq END,"
    " read_seq = CASE WHEN timeline_members.member <> 0 THEN timeline_members.read_seq"
    "  ELSE GREATEST (timeline_members.read_seq, excluded.read_seq) END,"
    " last_seq = 0, member = 1, changed = excluded.changed",
  [PW_LEAVE_TIMELINE] =
    "UPDATE timeline_members SET member = 0, last_seq = $3, changed = $4"
    " WHERE user_id = $1 AND target_id = $2 AND member <> 0",
  [PW_DISMISS_TIMELINE] =
    "UPDATE timeline_members SET member = 0, last_seq = $3, changed = $4"
    " WHERE app_id = $1 AND target_id = $2 AND member <> 0",
  /* NT:ClearCmd (see the SQLite store's W_CLEAR_HISTORY) */
  [PW_CLEAR_HISTORY] =
    "INSERT INTO conversations (user_id, conversation_type, target_id, updated_time, hidden,"
    " cleared_time) VALUES ($1, $2, $3, $4, CASE WHEN $2 IN (2, 3) THEN 0 ELSE 1 END, $4)"
    " ON CONFLICT (user_id, conversation_type, target_id) DO UPDATE SET"
    " cleared_time = GREATEST (conversations.cleared_time, excluded.cleared_time)",
  [PW_CLEAR_TIMELINE] =
    "UPDATE timeline_members tm SET first_seq = GREATEST (tm.first_seq, x.seq + 1),"
    " read_seq = GREATEST (tm.read_seq, x.seq), changed = $3"
    " FROM (SELECT COALESCE ((SELECT latest_seq FROM timelines WHERE app_id = $4 AND target_id = $2), 0)"
    "  AS seq) x WHERE tm.user_id = $1 AND tm.target_id = $2",
  [PW_READ_TIMELINE] =
    "UPDATE timeline_members tm SET read_seq = x.seq, changed = $4"
    " FROM (SELECT CASE WHEN $3::bigint = 0 THEN latest_seq ELSE LEAST ($3::bigint, latest_seq) END AS seq"
    "  FROM timelines WHERE app_id = $5 AND target_id = $2) x"
    " WHERE tm.user_id = $1 AND tm.target_id = $2 AND tm.read_seq < x.seq",
  [PW_TICK_CLOCK] =
    "UPDATE timeline_clock SET time = GREATEST (time, $1) WHERE id = 0 RETURNING time",
  /* A batch's rows in one statement each (arrays, one element a row):
   * PostgreSQL's cost per statement, not per row, is what a message of
   * a batch spends most on otherwise. */
  [PW_INSERT_MESSAGES] =
    "INSERT INTO messages (id, app_id, uid, conversation_type, sender_id, target_id, channel,"
    " object_name, content, push_content, flags, sent_time, device_id, client_msg_id)"
    " SELECT * FROM unnest ($1::bigint[], $2::bigint[], $3::text[], $4::integer[], $5::bigint[],"
    " $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::integer[], $12::bigint[],"
    " $13::text[], $14::text[])"
    " ON CONFLICT (sender_id, client_msg_id, device_id) WHERE client_msg_id IS NOT NULL"
    " DO NOTHING RETURNING id",
  /* The group messages of a batch ($1 ids in batch order): each
   * timeline's row takes as many seqs as it has messages (rows locked in
   * key order), each message its own in that order. */
  [PW_NEXT_TIMELINE_SEQS] =
    "WITH v AS (SELECT v.*,"
    "  row_number () OVER (PARTITION BY v.app_id, v.target_id ORDER BY v.ord) AS rn,"
    "  count (*) OVER (PARTITION BY v.app_id, v.target_id) AS k"
    "  FROM unnest ($1::bigint[], $2::bigint[], $3::text[], $4::integer[], $5::bigint[])"
    "  WITH ORDINALITY AS v (id, app_id, target_id, ct, sent, ord)),"
    " t AS (INSERT INTO timelines (app_id, target_id, conversation_type, latest_seq, updated_time, changed)"
    "  SELECT * FROM (SELECT DISTINCT ON (app_id, target_id) app_id, target_id, ct, k, sent, $6::bigint"
    "   FROM v ORDER BY app_id, target_id, ord DESC) last ORDER BY app_id, target_id"
    "  ON CONFLICT (app_id, target_id) DO UPDATE SET"
    "  latest_seq = timelines.latest_seq + excluded.latest_seq, conversation_type = excluded.conversation_type,"
    "  updated_time = excluded.updated_time, changed = excluded.changed RETURNING app_id, target_id, latest_seq)"
    " UPDATE messages m SET timeline_seq = t.latest_seq - v.k + v.rn"
    " FROM v JOIN t ON t.app_id = v.app_id AND t.target_id = v.target_id WHERE m.id = v.id"
    " RETURNING m.id, m.timeline_seq",
  [PW_INSERT_MENTIONS] =
    "INSERT INTO timeline_mentions (app_id, target_id, timeline_seq, user_id, sender_id)"
    " SELECT * FROM unnest ($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[])"
    " ON CONFLICT DO NOTHING",
  [PW_UPSERT_CONVERSATIONS] =
    "INSERT INTO conversations (user_id, conversation_type, target_id, latest_message_id,"
    " updated_time, unread)"
    " SELECT * FROM unnest ($1::bigint[], $2::integer[], $3::text[], $4::bigint[], $5::bigint[], $6::integer[])"
    " ON CONFLICT (user_id, conversation_type, target_id) DO UPDATE SET"
    " latest_message_id = excluded.latest_message_id, updated_time = excluded.updated_time,"
    " unread = conversations.unread + excluded.unread, hidden = 0",
  /* Recipients locked in id order (no two nodes wait for each other) by
   * the materialized CTE, run whole before the UPDATE, which then finds
   * every row already its own; then every one's seqs allocated. One
   * statement: PostgreSQL's cost per statement is most of a small one's. */
  [PW_BUMP_SEQS] =
    "WITH l AS MATERIALIZED (SELECT id FROM users WHERE id = ANY ($1::bigint[]) ORDER BY id FOR UPDATE)"
    " UPDATE users u SET max_seq = u.max_seq + v.n FROM unnest ($1::bigint[], $2::bigint[]) AS v (id, n)"
    " WHERE u.id = v.id AND u.id IN (SELECT id FROM l) RETURNING u.id, u.max_seq",
  /* RC:RRRspMsg (see the SQLite store's W_INSERT_READER): $1 ids, $2
   * uids, $3 the senders named, one element a message. */
  /* What a directory change touched (schema 8): read-backs after a NATS
   * outage read these rows again, and only these. */
  [PW_CHANGE] = "INSERT INTO changes (app_id, kind, ref, at) VALUES ($1, $2, $3, $4)",
  [PW_CHANGE_USER_ID] =
    "INSERT INTO changes (app_id, kind, ref, at) SELECT app_id, 'user', user_id, $2 FROM users WHERE id = $1",
  [PW_PRUNE_CHANGES] = "DELETE FROM changes WHERE at < $1",
  [PW_PRUNE_ACCOUNT_CHANGES] = "DELETE FROM account_changes WHERE at < $1",
  [PW_INSERT_READERS] =
    "INSERT INTO message_readers (message_id, reader_id, read_time)"
    " SELECT m.id, $4::bigint, $5::bigint"
    " FROM unnest ($1::bigint[], $2::text[], $3::bigint[]) AS v (id, uid, sender)"
    " JOIN messages m ON m.id = v.id AND m.uid = v.uid AND m.sender_id = v.sender"
    " JOIN timeline_members tm ON tm.user_id = $4::bigint AND tm.target_id = m.target_id"
    "  AND tm.app_id = m.app_id AND tm.member <> 0 AND m.timeline_seq >= tm.first_seq"
    " WHERE m.app_id = $6::bigint AND m.target_id = $7::text AND m.conversation_type IN (2, 3)"
    " AND (SELECT count (*) FROM message_readers x WHERE x.message_id = m.id) < $8::bigint"
    " ON CONFLICT DO NOTHING",
};

/* A PostgreSQL array literal of texts, built one element at a time. */
static void
array_text (GString    *array,
            const char *value)
{
  g_string_append_c (array, array->len == 0 ? '{' : ',');
  if (value == NULL)
    {
      g_string_append (array, "NULL");
      return;
    }
  g_string_append_c (array, '"');
  for (const char *c = value; *c != '\0'; c++)
    {
      if (*c == '"' || *c == '\\')
        g_string_append_c (array, '\\');
      g_string_append_c (array, *c);
    }
  g_string_append_c (array, '"');
}

static void
array_int (GString *array,
           gint64   value)
{
  g_string_append_c (array, array->len == 0 ? '{' : ',');
  g_string_append_printf (array, "%" G_GINT64_FORMAT, value);
}

static const char *
array_end (GString *array)
{
  if (array->len == 0)
    g_string_append_c (array, '{');
  g_string_append_c (array, '}');
  return array->str;
}

/* Runs @calls in one pipeline; the batch's BEGIN goes first in the
 * first one (one round trip less a batch). */
static gboolean
writer_pipeline (NatterdStorePg  *self,
                 GPtrArray       *calls,
                 PGresult       **results,
                 GError         **error)
{
  g_autofree PGresult **all = NULL;
  gboolean ok;

  if (self->began)
    return natterd_pg_run_pipeline (&self->writer, calls, results, error);

  g_ptr_array_insert (calls, 0, g_new0 (PgCall, 1));
  ((PgCall *) calls->pdata[0])->index = PG_CALL_BEGIN;
  all = g_new0 (PGresult *, calls->len);
  ok = natterd_pg_run_pipeline (&self->writer, calls, all, error);
  self->began = TRUE;
  PQclear (all[0]);
  memcpy (results, all + 1, sizeof (PGresult *) * (calls->len - 1));
  g_ptr_array_remove_index (calls, 0);
  return ok;
}

/* Runs @calls in one pipeline, results dropped. */
static gboolean
run_calls (NatterdStorePg  *self,
           GPtrArray       *calls,
           GError         **error)
{
  g_autofree PGresult **results = g_new0 (PGresult *, MAX (calls->len, 1));
  gboolean ok;

  if (calls->len == 0)
    return TRUE;
  ok = writer_pipeline (self, calls, results, error);
  for (guint i = 0; i < calls->len; i++)
    PQclear (results[i]);
  return ok;
}

/* Sends @calls, the batch's last (its COMMIT), without reading their
 * results: natterd_store_pg_sync() or the batch after next does. */
static PgUnread *
writer_send (NatterdStorePg  *self,
             GPtrArray       *calls,
             GError         **error)
{
  if (!self->began)
    {
      g_ptr_array_insert (calls, 0, g_new0 (PgCall, 1));
      ((PgCall *) calls->pdata[0])->index = PG_CALL_BEGIN;
      self->began = TRUE;
    }
  return natterd_pg_send_pipeline (&self->writer, calls, error);
}

/* With unread_lock held (let go while reading): reads the COMMIT of slot
 * @i. One that failed fails its batch's ops; they are not acked, and
 * the client sends them again (the idempotency key finds a row that
 * did commit). */
static void
read_unread (NatterdStorePg *self,
             guint           i)
{
  PgUnread *unread = self->unread[i];
  g_autoptr(GError) error = NULL;

  unread->reading = TRUE;
  g_mutex_unlock (&self->unread_lock);
  if (!natterd_pg_read_pipeline (unread, &error))
    {
      g_warning ("Batch of %u operations failed at its commit (%s)", unread->ops->len, error->message);
      if (PQstatus (unread->conn) == CONNECTION_OK)
        natterd_pg_exec (unread->conn, "ROLLBACK", NULL);
      for (guint o = 0; o < unread->ops->len; o++)
        {
          NatterdOp *op = g_ptr_array_index (unread->ops, o);

          if (op->error == NULL)
            op->error = g_error_copy (error);
        }
    }
  g_mutex_lock (&self->unread_lock);
  self->unread[i] = NULL;
  natterd_pg_unread_free (unread);
  g_cond_broadcast (&self->unread_done);
}

/* Writer thread: @conn's COMMIT read (by this thread or a sync thread)
 * before @conn is used again. */
static void
wait_unread (NatterdStorePg *self,
             PGconn         *conn)
{
  g_mutex_lock (&self->unread_lock);
  for (;;)
    {
      guint i;

      for (i = 0; i < G_N_ELEMENTS (self->unread); i++)
        if (self->unread[i] != NULL && self->unread[i]->conn == conn)
          break;
      if (i == G_N_ELEMENTS (self->unread))
        break;
      if (!self->unread[i]->reading)
        read_unread (self, i);
      else
        g_cond_wait (&self->unread_done, &self->unread_lock);
    }
  g_mutex_unlock (&self->unread_lock);
}

/* Sync thread: every COMMIT sent before this began is read (the batches
 * it completes were all sent before). Failures fail their own batch's
 * ops, so this itself succeeds. */
gboolean
natterd_store_pg_sync (NatterdStore  *store,
                       gboolean      *shared,
                       GError       **error)
{
  NatterdStorePg *self = NATTERD_STORE_PG (store);
  guint64 sent;

  *shared = FALSE;
  g_mutex_lock (&self->unread_lock);
  sent = self->commits_sent;
  for (;;)
    {
      gboolean busy = FALSE;
      guint i;

      for (i = 0; i < G_N_ELEMENTS (self->unread); i++)
        if (self->unread[i] != NULL && self->unread[i]->number <= sent)
          {
            if (!self->unread[i]->reading)
              break;
            busy = TRUE;
          }
      if (i < G_N_ELEMENTS (self->unread))
        read_unread (self, i);
      else if (busy)
        g_cond_wait (&self->unread_done, &self->unread_lock);
      else
        break;
    }
  g_mutex_unlock (&self->unread_lock);
  return TRUE;
}

/* ----------------------------------------------------------- batch state */

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

/* An inbox entry waiting for its seq (allocated at the end of the batch). */
typedef struct
{
  gint64            user_id;
  gint64            message_id;
  guint             order;
  NatterdRecipient *recipient;
} PendingInbox;

void
natterd_store_pg_writer_init (NatterdStorePg *self)
{
  self->pending_conversations = g_hash_table_new_full (pending_conversation_hash,
                                                       pending_conversation_equal,
                                                       pending_conversation_free, NULL);
  self->ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  self->last_hour = -1;
  self->pending_inbox = g_array_new (FALSE, FALSE, sizeof (PendingInbox));
  self->keep = g_ptr_array_new_with_free_func (g_free);
  g_mutex_init (&self->unread_lock);
  g_cond_init (&self->unread_done);
}

void
natterd_store_pg_writer_finalize (NatterdStorePg *self)
{
  g_clear_pointer (&self->pending_conversations, g_hash_table_unref);
  g_clear_pointer (&self->ids, g_array_unref);
  g_clear_pointer (&self->pending_inbox, g_array_unref);
  g_clear_pointer (&self->keep, g_ptr_array_unref);
  g_clear_pointer (&self->adopted_users, g_hash_table_unref);
  g_clear_pointer (&self->adopted_groups, g_hash_table_unref);
  g_clear_pointer (&self->bumped_counts, g_hash_table_unref);
  g_clear_pointer (&self->bumped_last, g_hash_table_unref);
  for (guint i = 0; i < G_N_ELEMENTS (self->unread); i++)
    g_clear_pointer (&self->unread[i], natterd_pg_unread_free);
  g_mutex_clear (&self->unread_lock);
  g_cond_clear (&self->unread_done);
}

static PGresult *
run (NatterdStorePg  *self,
     int              index,
     PgParams        *params,
     GError         **error)
{
  g_autoptr(GPtrArray) calls = NULL;
  PGresult *result = NULL;

  if (self->began)
    return natterd_pg_run (&self->writer, index, params, error);
  calls = g_ptr_array_new_with_free_func (g_free);
  natterd_pg_params_copy (&natterd_pg_call_new (calls, index)->params, params);
  if (!writer_pipeline (self, calls, &result, error))
    {
      PQclear (result);
      return NULL;
    }
  return result;
}

static gboolean
run_done (NatterdStorePg  *self,
          int              index,
          PgParams        *params,
          GError         **error)
{
  PGresult *result = run (self, index, params, error);

  PQclear (result);
  return result != NULL;
}

static guint
changes (PGresult *result)
{
  return (guint) g_ascii_strtoull (PQcmdTuples (result), NULL, 10);
}

/* -------------------------------------------------------- conversations */

static int
compare_conversations (gconstpointer a,
                       gconstpointer b)
{
  const PendingConversation *x = *(PendingConversation * const *) a;
  const PendingConversation *y = *(PendingConversation * const *) b;

  if (x->user_id != y->user_id)
    return x->user_id < y->user_id ? -1 : 1;
  if (x->conversation_type != y->conversation_type)
    return x->conversation_type < y->conversation_type ? -1 : 1;
  return strcmp (x->target_id, y->target_id);
}

/* Folded per batch as with SQLite; written in key order (see the top). */
/* @defer: the statement is added to it (its texts kept in self->keep)
 * instead of being run now. */
static gboolean
flush_conversations (NatterdStorePg  *self,
                     GPtrArray       *defer,
                     GError         **error)
{
  g_autoptr(GPtrArray) rows = NULL;
  GString *arrays[6];
  PgParams params = { 0 };
  GHashTableIter iter;
  PendingConversation *c;
  gboolean ok;

  if (g_hash_table_size (self->pending_conversations) == 0)
    return TRUE;
  rows = g_ptr_array_sized_new (g_hash_table_size (self->pending_conversations));
  g_hash_table_iter_init (&iter, self->pending_conversations);
  while (g_hash_table_iter_next (&iter, (gpointer *) &c, NULL))
    g_ptr_array_add (rows, c);
  g_ptr_array_sort (rows, compare_conversations);

  for (guint a = 0; a < 6; a++)
    arrays[a] = g_string_new (NULL);
  for (guint i = 0; i < rows->len; i++)
    {
      c = g_ptr_array_index (rows, i);
      array_int (arrays[0], c->user_id);
      array_int (arrays[1], c->conversation_type);
      array_text (arrays[2], c->target_id);
      array_int (arrays[3], c->latest_message_id);
      array_int (arrays[4], c->updated_time);
      array_int (arrays[5], c->unread);
    }
  for (guint a = 0; a < 6; a++)
    {
      array_end (arrays[a]);
      g_ptr_array_add (self->keep, g_string_free (arrays[a], FALSE));
      natterd_pg_params_text (&params, g_ptr_array_index (self->keep, self->keep->len - 1));
    }
  if (defer != NULL)
    {
      natterd_pg_params_copy (&natterd_pg_call_new (defer, PW_UPSERT_CONVERSATIONS)->params, &params);
      ok = TRUE;
    }
  else
    ok = run_done (self, PW_UPSERT_CONVERSATIONS, &params, error);
  if (!ok)
    return FALSE;
  g_hash_table_remove_all (self->pending_conversations);
  return TRUE;
}

static void
note_conversation (NatterdStorePg         *self,
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

/* ----------------------------------------------------------------- inbox */

static int
compare_inbox (gconstpointer a,
               gconstpointer b)
{
  const PendingInbox *x = a, *y = b;

  if (x->user_id != y->user_id)
    return x->user_id < y->user_id ? -1 : 1;
  return x->order < y->order ? -1 : x->order > y->order;
}

static void
count_user (GHashTable *counts,
            gint64      user_id,
            gint64      n)
{
  gint64 *count = g_hash_table_lookup (counts, &user_id);

  if (count == NULL)
    {
      count = g_new0 (gint64, 1);
      g_hash_table_insert (counts, g_memdup2 (&user_id, sizeof user_id), count);
    }
  *count += n;
}

static int
compare_ids (gconstpointer a,
             gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

/* The BUMP_SEQS call for @counts (users.id → gint64 count), users in id
 * order. */
static void
add_bump_calls (NatterdStorePg *self,
                GHashTable     *counts,
                GPtrArray      *calls)
{
  g_autoptr(GList) users = g_list_sort (g_hash_table_get_keys (counts), (GCompareFunc) compare_ids);
  GString *ids = g_string_new (NULL);
  GString *ns = g_string_new (NULL);
  PgParams *bump;

  for (GList *l = users; l != NULL; l = l->next)
    {
      array_int (ids, *(gint64 *) l->data);
      array_int (ns, *(gint64 *) g_hash_table_lookup (counts, l->data));
    }
  array_end (ids);
  array_end (ns);
  g_ptr_array_add (self->keep, g_string_free (ids, FALSE));
  g_ptr_array_add (self->keep, g_string_free (ns, FALSE));
  bump = &natterd_pg_call_new (calls, PW_BUMP_SEQS)->params;
  natterd_pg_params_text (bump, g_ptr_array_index (self->keep, self->keep->len - 2));
  natterd_pg_params_text (bump, g_ptr_array_index (self->keep, self->keep->len - 1));
}

static void
take_last_seqs (PGresult   *result,
                GHashTable *last_seqs)
{
  for (int r = 0; r < PQntuples (result); r++)
    {
      gint64 *user_id = g_new (gint64, 1);
      gint64 *last = g_new (gint64, 1);

      *user_id = natterd_pg_int (result, r, 0);
      *last = natterd_pg_int (result, r, 1);
      g_hash_table_insert (last_seqs, user_id, last);
    }
}

/* @counts (users.id → gint64) added to the users' seqs, locked in id
 * order; each one's last seq into @last_seqs. */
static gboolean
bump_seqs (NatterdStorePg  *self,
           GHashTable      *counts,
           GHashTable      *last_seqs,
           GError         **error)
{
  g_autoptr(GPtrArray) calls = g_ptr_array_new_with_free_func (g_free);
  PGresult *result = NULL;
  gboolean ok;

  add_bump_calls (self, counts, calls);
  ok = writer_pipeline (self, calls, &result, error);
  if (ok)
    take_last_seqs (result, last_seqs);
  PQclear (result);
  return ok;
}

/* The batch's entries (sorted) take their users' seqs up to the last in
 * @last_seqs, in batch order; one INSERT, with @defer or now. */
static gboolean
insert_inbox (NatterdStorePg  *self,
              GHashTable      *last_seqs,
              GPtrArray       *defer,
              GError         **error)
{
  GArray *inbox = self->pending_inbox;
  g_autoptr(GString) users = g_string_new (NULL);
  g_autoptr(GString) seqs = g_string_new (NULL);
  g_autoptr(GString) messages = g_string_new (NULL);
  PgParams params = { 0 };

  if (inbox->len == 0)
    return TRUE;

  /* A recipient's entries take its seqs up to the last, in batch order. */
  for (guint i = 0; i < inbox->len;)
    {
      gint64 user_id = g_array_index (inbox, PendingInbox, i).user_id;
      gint64 *last = g_hash_table_lookup (last_seqs, &user_id);
      guint n = 1;

      while (i + n < inbox->len && g_array_index (inbox, PendingInbox, i + n).user_id == user_id)
        n++;
      if (last == NULL)
        {
          g_set_error (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_FAILED,
                       "No user row %" G_GINT64_FORMAT " for an inbox entry", user_id);
          return FALSE;
        }
      for (guint k = 0; k < n; k++)
        {
          PendingInbox *p = &g_array_index (inbox, PendingInbox, i + k);

          p->recipient->seq = (guint64) (*last - n + 1 + k);
          array_int (users, p->user_id);
          array_int (seqs, (gint64) p->recipient->seq);
          array_int (messages, p->message_id);
        }
      i += n;
    }
  array_end (users);
  array_end (seqs);
  array_end (messages);
  g_ptr_array_add (self->keep, g_string_free (g_steal_pointer (&users), FALSE));
  natterd_pg_params_text (&params, g_ptr_array_index (self->keep, self->keep->len - 1));
  g_ptr_array_add (self->keep, g_string_free (g_steal_pointer (&seqs), FALSE));
  natterd_pg_params_text (&params, g_ptr_array_index (self->keep, self->keep->len - 1));
  g_ptr_array_add (self->keep, g_string_free (g_steal_pointer (&messages), FALSE));
  natterd_pg_params_text (&params, g_ptr_array_index (self->keep, self->keep->len - 1));
  if (defer != NULL)
    natterd_pg_params_copy (&natterd_pg_call_new (defer, PW_INSERT_INBOX)->params, &params);
  else if (!run_done (self, PW_INSERT_INBOX, &params, error))
    return FALSE;
  g_array_set_size (inbox, 0);
  return TRUE;
}

/* The seqs were taken with the messages' rows (write_publishes()), as if
 * every message of the batch was new: a user with fewer entries than
 * that (a message sent again, already stored) gives back the seqs it did
 * not use in one more statement. Its row is still this batch's, locked:
 * no gap. */
static gboolean
flush_inbox_bumped (NatterdStorePg  *self,
                    GPtrArray       *defer,
                    GError         **error)
{
  GArray *inbox = self->pending_inbox;
  g_autoptr(GHashTable) last_seqs = g_steal_pointer (&self->bumped_last);
  g_autoptr(GHashTable) counts = g_steal_pointer (&self->bumped_counts);
  g_autoptr(GHashTable) used = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  g_autoptr(GHashTable) back = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  GHashTableIter iter;
  gint64 *user_id;
  gint64 *count;

  g_array_sort (inbox, compare_inbox);
  for (guint i = 0; i < inbox->len; i++)
    count_user (used, g_array_index (inbox, PendingInbox, i).user_id, 1);
  g_hash_table_iter_init (&iter, counts);
  while (g_hash_table_iter_next (&iter, (gpointer *) &user_id, (gpointer *) &count))
    {
      gint64 *n = g_hash_table_lookup (used, user_id);
      gint64 unused = *count - (n != NULL ? *n : 0);

      if (unused < 0)
        {
          g_set_error (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_FAILED,
                       "Inbox entries of user %" G_GINT64_FORMAT " past the seqs taken", *user_id);
          return FALSE;
        }
      if (unused > 0)
        count_user (back, *user_id, -unused);
    }
  if (g_hash_table_size (back) > 0 && !bump_seqs (self, back, last_seqs, error))
    return FALSE;
  return insert_inbox (self, last_seqs, defer, error);
}

/* Each recipient's seqs in one UPDATE ... RETURNING (the user's row stays
 * locked until the commit: another node's batch for them waits, then
 * continues from the seq this one ends at), users in id order, then every
 * entry of the batch in one INSERT. */
static gboolean
flush_inbox (NatterdStorePg  *self,
             GPtrArray       *defer,
             GError         **error)
{
  GArray *inbox = self->pending_inbox;
  g_autoptr(GHashTable) counts = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  g_autoptr(GHashTable) last_seqs = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);

  if (self->bumped_last != NULL)
    return flush_inbox_bumped (self, defer, error);
  if (inbox->len == 0)
    return TRUE;
  g_array_sort (inbox, compare_inbox);
  for (guint i = 0; i < inbox->len; i++)
    count_user (counts, g_array_index (inbox, PendingInbox, i).user_id, 1);
  return bump_seqs (self, counts, last_seqs, error) && insert_inbox (self, last_seqs, defer, error);
}

/* ----------------------------------------------------------------- clock */

/* The clock stamp of this batch: taken (and its row locked) at the start
 * of a batch that changes a timeline, before any other row. */
static gboolean
tick_clock (NatterdStorePg  *self,
            GError         **error)
{
  PgParams params = { 0 };
  PGresult *result;

  natterd_pg_params_int (&params, g_get_real_time () / 1000);
  result = run (self, PW_TICK_CLOCK, &params, error);
  if (result == NULL)
    return FALSE;
  self->clock = natterd_pg_int (result, 0, 0);
  PQclear (result);
  return TRUE;
}

static gboolean
op_changes_timeline (NatterdOp *op)
{
  switch (op->kind)
    {
    case NATTERD_OP_PUBLISH:
      return ((NatterdPublishOp *) op)->timeline ||
             (((NatterdPublishOp *) op)->clear_history &&
              (((NatterdPublishOp *) op)->message.conversation_type == NATTER_CONVERSATION_GROUP ||
               ((NatterdPublishOp *) op)->message.conversation_type == NATTER_CONVERSATION_DISCUSSION));
    case NATTERD_OP_RECALL:
      return ((NatterdRecallOp *) op)->command != NULL && ((NatterdRecallOp *) op)->command->timeline;
    case NATTERD_OP_MEMBERS:
      return ((NatterdMembersOp *) op)->timeline_id != NULL;
    case NATTERD_OP_GROUP:
      return ((NatterdGroupOp *) op)->remove;
    case NATTERD_OP_CONVERSATION:
      {
        NatterdConversationOp *c = (NatterdConversationOp *) op;

        return c->action == NATTERD_CONVERSATION_CLEAR_UNREAD &&
               (c->conversation_type == NATTER_CONVERSATION_GROUP ||
                c->conversation_type == NATTER_CONVERSATION_DISCUSSION);
      }
    default:
      return FALSE;
    }
}

static gboolean
lock_timeline (NatterdStorePg  *self,
               gint64           app_id,
               const char      *target_id,
               guint64         *latest_seq,
               GError         **error)
{
  PgParams params = { 0 };
  PGresult *result;

  natterd_pg_params_int (&params, app_id);
  natterd_pg_params_text (&params, target_id);
  result = run (self, PW_LOCK_TIMELINE, &params, error);
  if (result == NULL)
    return FALSE;
  *latest_seq = (guint64) natterd_pg_int (result, 0, 0);
  PQclear (result);
  return TRUE;
}

/* --------------------------------------------------------------- publish */

/* The next message id; fetched from the sequence @want at a time (at
 * least 16) when those fetched before are used up. */
/* Ids kept from the batch before are used up to this long after they were
 * drawn (the ids of one node rise with time, as far as this goes). */
#define IDS_FRESH_US (100 * 1000)
/* At most this many drawn ahead for the next batch. */
#define IDS_AHEAD_MAX 4096

static void
take_ids (NatterdStorePg *self,
          PGresult       *result)
{
  g_array_set_size (self->ids, 0);
  self->next_id = 0;
  self->ids_drawn = g_get_monotonic_time ();
  for (int i = 0; i < PQntuples (result); i++)
    {
      gint64 value = natterd_pg_int (result, i, 0);

      g_array_append_val (self->ids, value);
    }
}

static gboolean
next_id (NatterdStorePg  *self,
         guint            want,
         gint64          *id,
         GError         **error)
{
  if (self->next_id >= self->ids->len)
    {
      PgParams params = { 0 };
      PGresult *result;

      natterd_pg_params_int (&params, MAX (want, 16));
      result = run (self, PW_NEXT_IDS, &params, error);
      if (result == NULL)
        return FALSE;
      take_ids (self, result);
      PQclear (result);
    }
  *id = g_array_index (self->ids, gint64, self->next_id++);
  return TRUE;
}

/* A message's mentions in one statement, run with @after. */
static void
write_mentions (NatterdStorePg    *self,
                NatterdPublishOp  *op,
                GPtrArray         *after)
{
  guint n = op->mention_ids != NULL ? op->mention_ids->len : 0;
  GString *arrays[5];
  PgParams *params;

  if (n == 0 && !op->mention_all)
    return;
  for (guint a = 0; a < G_N_ELEMENTS (arrays); a++)
    arrays[a] = g_string_new (NULL);
  for (guint i = 0; i < n + (op->mention_all ? 1 : 0); i++)
    {
      array_int (arrays[0], op->app_id);
      array_text (arrays[1], op->message.target_id);
      array_int (arrays[2], (gint64) op->message.timeline_seq);
      array_int (arrays[3], i < n ? g_array_index (op->mention_ids, gint64, i) : 0);
      array_int (arrays[4], op->sender_id);
    }
  params = &natterd_pg_call_new (after, PW_INSERT_MENTIONS)->params;
  for (guint a = 0; a < G_N_ELEMENTS (arrays); a++)
    {
      array_end (arrays[a]);
      g_ptr_array_add (self->keep, g_string_free (arrays[a], FALSE));
      natterd_pg_params_text (params, g_ptr_array_index (self->keep, self->keep->len - 1));
    }
}

/* RC:RRRspMsg (#16): who read which, in one statement run with @after. */
static void
write_readers (NatterdStorePg    *self,
               NatterdPublishOp  *op,
               GPtrArray         *after)
{
  GString *arrays[3];
  PgParams *params;

  if (op->read_messages == NULL || op->read_messages->len == 0)
    return;
  for (guint a = 0; a < G_N_ELEMENTS (arrays); a++)
    arrays[a] = g_string_new (NULL);
  for (guint i = 0; i < op->read_messages->len; i++)
    {
      NatterdReadMessage *read = &g_array_index (op->read_messages, NatterdReadMessage, i);

      array_int (arrays[0], read->message_id);
      array_text (arrays[1], read->uid);
      array_int (arrays[2], read->sender_id);
    }
  params = &natterd_pg_call_new (after, PW_INSERT_READERS)->params;
  for (guint a = 0; a < G_N_ELEMENTS (arrays); a++)
    {
      array_end (arrays[a]);
      g_ptr_array_add (self->keep, g_string_free (arrays[a], FALSE));
      natterd_pg_params_text (params, g_ptr_array_index (self->keep, self->keep->len - 1));
    }
  natterd_pg_params_int (params, op->sender_id);
  natterd_pg_params_int (params, op->message.sent_time);
  natterd_pg_params_int (params, op->app_id);
  natterd_pg_params_text (params, op->message.target_id);
  natterd_pg_params_int (params, op->readers_max);
}

/* Sent before (through this node or another): answer with that one. */
static gboolean
find_duplicate (NatterdStorePg    *self,
                NatterdPublishOp  *op,
                GError           **error)
{
  NatterdMessage *m = &op->message;
  PgParams find = { 0 };
  PGresult *result;

  natterd_pg_params_int (&find, op->sender_id);
  natterd_pg_params_text (&find, op->client_msg_id);
  natterd_pg_params_text (&find, op->device_id);
  result = run (self, PW_FIND_DUPLICATE, &find, error);
  if (result == NULL)
    return FALSE;
  if (PQntuples (result) != 1)
    {
      PQclear (result);
      g_set_error_literal (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_FAILED,
                           "duplicate lookup: no row");
      return FALSE;
    }
  m->id = natterd_pg_int (result, 0, 0);
  g_free (m->uid);
  m->uid = natterd_pg_text (result, 0, 1);
  m->sent_time = natterd_pg_int (result, 0, 2);
  m->timeline_seq = (guint64) natterd_pg_int (result, 0, 3);
  op->duplicate = TRUE;
  PQclear (result);
  return TRUE;
}

static void
insert_message_params (PgParams         *params,
                       NatterdPublishOp *op,
                       gint64            id,
                       const char       *uid)
{
  NatterdMessage *m = &op->message;
  gboolean persisted = (m->flags & NATTER_MESSAGE_FLAG_PERSISTED) != 0;

  natterd_pg_params_int (params, id);
  natterd_pg_params_int (params, op->app_id);
  natterd_pg_params_text (params, persisted ? uid : NULL);
  natterd_pg_params_int (params, m->conversation_type);
  natterd_pg_params_int (params, op->sender_id);
  natterd_pg_params_text (params, m->target_id);
  natterd_pg_params_text (params, op->channel);
  natterd_pg_params_text (params, m->object_name);
  natterd_pg_params_text (params, m->content);
  natterd_pg_params_text (params, m->push_content);
  natterd_pg_params_int (params, m->flags);
  natterd_pg_params_int (params, m->sent_time);
  natterd_pg_params_text (params, op->device_id);
  natterd_pg_params_text (params, op->client_msg_id);
}

/* The message row @id is in: its timeline seq (at once: the seq is
 * needed), and what follows from it (webhook event, hour row: added to
 * @after, sent in one pipeline; inbox entries and conversations: at the
 * end of the batch). */
static gboolean
publish_stored (NatterdStorePg    *self,
                NatterdPublishOp  *op,
                gint64             id,
                const char        *uid,
                GPtrArray         *after,
                GError           **error)
{
  NatterdMessage *m = &op->message;
  gboolean persisted = (m->flags & NATTER_MESSAGE_FLAG_PERSISTED) != 0;
  gint64 hour;

  m->id = id;
  g_free (m->uid);
  m->uid = persisted ? g_strdup (uid) : NULL;

  /* (A batch's group messages have theirs: next_timeline_seqs().) */
  if (op->timeline && m->timeline_seq == 0)
    {
      PgParams seq = { 0 };
      PGresult *result;

      natterd_pg_params_int (&seq, op->app_id);
      natterd_pg_params_text (&seq, m->target_id);
      natterd_pg_params_int (&seq, m->conversation_type);
      natterd_pg_params_int (&seq, m->sent_time);
      natterd_pg_params_int (&seq, self->clock);
      natterd_pg_params_int (&seq, id);
      result = run (self, PW_NEXT_TIMELINE_SEQ, &seq, error);
      if (result == NULL)
        return FALSE;
      m->timeline_seq = (guint64) natterd_pg_int (result, 0, 0);
      PQclear (result);
    }
  if (op->timeline)
    write_mentions (self, op, after);
  write_readers (self, op, after);

  if (op->webhook && persisted)
    {
      PgParams *event = &natterd_pg_call_new (after, PW_INSERT_WEBHOOK_EVENT)->params;

      op->webhook_body = natterd_webhook_event_body (m);
      natterd_pg_params_int (event, id);
      natterd_pg_params_int (event, op->app_id);
      natterd_pg_params_text (event, op->webhook_body);
    }

  hour = m->sent_time / (3600 * 1000);
  if (hour != self->last_hour)
    {
      PgParams *h = &natterd_pg_call_new (after, PW_INSERT_HOUR)->params;

      natterd_pg_params_int (h, hour);
      natterd_pg_params_int (h, id);
      self->last_hour = hour;
    }

  for (guint i = 0; i < op->recipients->len; i++)
    {
      NatterdRecipient *r = &g_array_index (op->recipients, NatterdRecipient, i);

      if (r->inbox)
        {
          PendingInbox p = { r->user_id, id, self->pending_inbox->len, r };

          g_array_append_val (self->pending_inbox, p);
        }
      if (r->conversation && persisted)
        note_conversation (self, r, m);
    }

  /* NT:ClearCmd: the sender's history before it, in the same pipeline. */
  if (op->clear_history)
    {
      PgParams *clear = &natterd_pg_call_new (after, PW_CLEAR_HISTORY)->params;

      natterd_pg_params_int (clear, op->sender_id);
      natterd_pg_params_int (clear, m->conversation_type);
      natterd_pg_params_text (clear, m->target_id);
      natterd_pg_params_int (clear, m->sent_time);
      if (m->conversation_type == NATTER_CONVERSATION_GROUP ||
          m->conversation_type == NATTER_CONVERSATION_DISCUSSION)
        {
          clear = &natterd_pg_call_new (after, PW_CLEAR_TIMELINE)->params;
          natterd_pg_params_int (clear, op->sender_id);
          natterd_pg_params_text (clear, m->target_id);
          natterd_pg_params_int (clear, self->clock);
          natterd_pg_params_int (clear, op->app_id);
        }
    }
  return TRUE;
}

static gboolean
write_publish (NatterdStorePg    *self,
               NatterdPublishOp  *op,
               GError           **error)
{
  g_autoptr(GPtrArray) after = g_ptr_array_new_with_free_func (g_free);
  PgParams params = { 0 };
  PGresult *result;
  gint64 id;
  char uid[20];
  gboolean inserted;

  g_clear_pointer (&op->webhook_body, g_free);
  op->message.timeline_seq = 0;
  if (!next_id (self, 1, &id, error))
    return FALSE;
  natterd_message_uid_make (id, uid);
  insert_message_params (&params, op, id, uid);
  result = run (self, PW_INSERT_MESSAGE, &params, error);
  if (result == NULL)
    return FALSE;
  inserted = PQntuples (result) == 1;
  PQclear (result);

  if (!inserted)
    return find_duplicate (self, op, error);
  return publish_stored (self, op, id, uid, after, error) && run_calls (self, after, error);
}

static gboolean
is_publish (NatterdOp *op)
{
  return op->kind == NATTERD_OP_PUBLISH;
}

/* The timeline seqs of the group messages of @ops that were inserted
 * (@inserted), in one statement. */
static gboolean
next_timeline_seqs (NatterdStorePg  *self,
                    NatterdOp      **ops,
                    guint            n,
                    const gint64    *ids,
                    GHashTable      *inserted,
                    GError         **error)
{
  g_autoptr(GHashTable) seqs = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  GString *arrays[5];
  PgParams params = { 0 };
  PGresult *result;
  guint count = 0;

  for (guint a = 0; a < G_N_ELEMENTS (arrays); a++)
    arrays[a] = g_string_new (NULL);
  for (guint i = 0; i < n; i++)
    {
      NatterdPublishOp *op = (NatterdPublishOp *) ops[i];

      if (!op->timeline || !g_hash_table_contains (inserted, &ids[i]))
        continue;
      array_int (arrays[0], ids[i]);
      array_int (arrays[1], op->app_id);
      array_text (arrays[2], op->message.target_id);
      array_int (arrays[3], op->message.conversation_type);
      array_int (arrays[4], op->message.sent_time);
      count++;
    }
  for (guint a = 0; a < G_N_ELEMENTS (arrays); a++)
    {
      array_end (arrays[a]);
      g_ptr_array_add (self->keep, g_string_free (arrays[a], FALSE));
      natterd_pg_params_text (&params, g_ptr_array_index (self->keep, self->keep->len - 1));
    }
  if (count == 0)
    return TRUE;
  natterd_pg_params_int (&params, self->clock);
  result = run (self, PW_NEXT_TIMELINE_SEQS, &params, error);
  if (result == NULL)
    return FALSE;
  for (int r = 0; r < PQntuples (result); r++)
    {
      gint64 *id = g_new (gint64, 1);

      *id = natterd_pg_int (result, r, 0);
      g_hash_table_insert (seqs, id, GSIZE_TO_POINTER ((gsize) natterd_pg_int (result, r, 1)));
    }
  PQclear (result);
  for (guint i = 0; i < n; i++)
    {
      NatterdPublishOp *op = (NatterdPublishOp *) ops[i];

      if (op->timeline && g_hash_table_contains (inserted, &ids[i]))
        op->message.timeline_seq = GPOINTER_TO_SIZE (g_hash_table_lookup (seqs, &ids[i]));
      if (op->timeline && g_hash_table_contains (inserted, &ids[i]) && op->message.timeline_seq == 0)
        {
          g_set_error_literal (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_FAILED,
                               "timeline seqs: a message without one");
          return FALSE;
        }
    }
  return TRUE;
}

/* Messages, one after the other in the batch: their rows in one
 * statement, group messages' timeline seqs in another, then what follows
 * from them in one pipeline (three round trips for all of them, not two
 * or three each). */
#define MESSAGE_ARRAYS 14

static gboolean
write_publishes (NatterdStorePg  *self,
                 NatterdOp      **ops,
                 guint            n,
                 gboolean         bump_with_rows,
                 GError         **error)
{
  g_autoptr(GPtrArray) after = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) inserted = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  g_autofree gint64 *ids = g_new0 (gint64, n);
  g_autofree char *uids = g_new0 (char, 20 * (gsize) n);
  GString *arrays[MESSAGE_ARRAYS];
  PgParams params = { 0 };
  PGresult *result;
  gboolean ok = TRUE;

  for (guint a = 0; a < MESSAGE_ARRAYS; a++)
    arrays[a] = g_string_new (NULL);
  for (guint i = 0; i < n && ok; i++)
    {
      NatterdPublishOp *op = (NatterdPublishOp *) ops[i];
      NatterdMessage *m = &op->message;
      gboolean persisted = (m->flags & NATTER_MESSAGE_FLAG_PERSISTED) != 0;

      g_clear_pointer (&op->webhook_body, g_free);
      m->timeline_seq = 0;
      if (!next_id (self, n - i, &ids[i], error))
        {
          ok = FALSE;
          break;
        }
      natterd_message_uid_make (ids[i], uids + 20 * i);
      array_int (arrays[0], ids[i]);
      array_int (arrays[1], op->app_id);
      array_text (arrays[2], persisted ? uids + 20 * i : NULL);
      array_int (arrays[3], m->conversation_type);
      array_int (arrays[4], op->sender_id);
      array_text (arrays[5], m->target_id);
      array_text (arrays[6], op->channel);
      array_text (arrays[7], m->object_name);
      array_text (arrays[8], m->content);
      array_text (arrays[9], m->push_content);
      array_int (arrays[10], m->flags);
      array_int (arrays[11], m->sent_time);
      array_text (arrays[12], op->device_id);
      array_text (arrays[13], op->client_msg_id);
    }
  if (ok)
    {
      g_autoptr(GPtrArray) calls = g_ptr_array_new_with_free_func (g_free);
      g_autoptr(GHashTable) counts = NULL;
      PGresult *results[4] = { NULL, NULL, NULL, NULL };
      guint bumped = 0, drawn = 0;

      for (guint a = 0; a < MESSAGE_ARRAYS; a++)
        natterd_pg_params_text (&params, array_end (arrays[a]));
      natterd_pg_params_copy (&natterd_pg_call_new (calls, PW_INSERT_MESSAGES)->params, &params);
      /* A batch of publishes only: the recipients' seqs with the rows,
       * in the same round trip, as if every message is new. */
      if (self->bumped_counts == NULL && bump_with_rows)
        {
          counts = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
          for (guint i = 0; i < n; i++)
            {
              GArray *recipients = ((NatterdPublishOp *) ops[i])->recipients;

              for (guint r = 0; r < recipients->len; r++)
                if (g_array_index (recipients, NatterdRecipient, r).inbox)
                  count_user (counts, g_array_index (recipients, NatterdRecipient, r).user_id, 1);
            }
          if (g_hash_table_size (counts) > 0)
            add_bump_calls (self, counts, calls);
          bumped = calls->len == 2 ? 1 : 0;
        }
      /* The next batches' ids in the same round trip, when these run
       * short: as many as this batch took (nextval() is outside any
       * transaction, and the COMMIT's results are read later). */
      if (self->ids->len - self->next_id < n)
        {
          natterd_pg_params_int (&natterd_pg_call_new (calls, PW_NEXT_IDS)->params,
                                 MIN (MAX (n, 16), IDS_AHEAD_MAX));
          drawn = calls->len - 1;
        }
      ok = writer_pipeline (self, calls, results, error);
      if (ok && bumped > 0)
        {
          self->bumped_last = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
          take_last_seqs (results[bumped], self->bumped_last);
          self->bumped_counts = g_steal_pointer (&counts);
        }
      if (ok && drawn > 0)
        take_ids (self, results[drawn]);
      PQclear (results[1]);
      PQclear (results[2]);
      PQclear (results[3]);
      result = results[0];
      ok = ok && result != NULL;
      for (int r = 0; ok && r < PQntuples (result); r++)
        {
          gint64 *id = g_new (gint64, 1);

          *id = natterd_pg_int (result, r, 0);
          g_hash_table_add (inserted, id);
        }
      PQclear (result);
    }
  for (guint a = 0; a < MESSAGE_ARRAYS; a++)
    g_string_free (arrays[a], TRUE);

  ok = ok && next_timeline_seqs (self, ops, n, ids, inserted, error);
  for (guint i = 0; i < n && ok; i++)
    {
      NatterdPublishOp *op = (NatterdPublishOp *) ops[i];

      if (!g_hash_table_contains (inserted, &ids[i]))
        ok = find_duplicate (self, op, error);
      else
        ok = publish_stored (self, op, ids[i], uids + 20 * i, after, error);
    }
  return ok && run_calls (self, after, error);
}

static gboolean
write_recall (NatterdStorePg   *self,
              NatterdRecallOp  *op,
              GError          **error)
{
  g_autofree char *uid = NULL;
  g_autofree char *channel = NULL;
  g_autofree char *object_name = NULL;
  gint64 app_id = 0, sender_id = 0, sent_time = 0;
  PgParams params = { 0 };
  PGresult *result;
  gboolean row;

  natterd_pg_params_int (&params, op->message_id);
  result = run (self, PW_GET_MESSAGE, &params, error);
  if (result == NULL)
    return FALSE;
  row = PQntuples (result) == 1;
  if (row)
    {
      app_id = natterd_pg_int (result, 0, 0);
      uid = natterd_pg_text (result, 0, 1);
      sender_id = natterd_pg_int (result, 0, 2);
      channel = natterd_pg_text (result, 0, 3);
      object_name = natterd_pg_text (result, 0, 4);
      sent_time = natterd_pg_int (result, 0, 5);
      g_clear_pointer (&op->original.target_id, g_free);
      g_clear_pointer (&op->original.content, g_free);
      op->original.conversation_type = (int) natterd_pg_int (result, 0, 6);
      op->original.target_id = natterd_pg_text (result, 0, 7);
      op->original.content = natterd_pg_text (result, 0, 8);
    }
  PQclear (result);

  if (op->expansion_set != NULL)
    {
      g_autofree char *content = NULL;
      PgParams update = { 0 };

      /* Any participant: see the SQLite store's write_recall(). */
      op->found = row && app_id == op->app_id && g_strcmp0 (uid, op->uid) == 0 &&
                  g_strcmp0 (channel, op->channel) == 0 &&
                  g_strcmp0 (object_name, NATTER_OBJECT_RECALL_NOTIFICATION) != 0;
      if (!op->found)
        return TRUE;
      op->expansion_code = natterd_expansion_apply (op->original.content, op->expansion_set,
                                                    op->expansion_remove, &content);
      if (op->expansion_code != NATTER_CODE_OK)
        return TRUE;
      natterd_pg_params_int (&update, op->message_id);
      natterd_pg_params_text (&update, content);
      if (!run_done (self, PW_EDIT_MESSAGE, &update, error))
        return FALSE;
      return write_publish (self, op->command, error);
    }

  op->found = row && app_id == op->app_id && g_strcmp0 (uid, op->uid) == 0 &&
              sender_id == op->sender_id && g_strcmp0 (channel, op->channel) == 0 &&
              (op->edit_content != NULL ? NATTERD_OBJECT_IS_EDITABLE (object_name)
                                        : g_strcmp0 (object_name, NATTER_OBJECT_RECALL_NOTIFICATION) != 0);
  op->window_passed = op->found && sent_time < op->window_start;
  op->found = op->found && !op->window_passed;
  if (!op->found)
    return TRUE;

  if (op->edit_content != NULL)
    {
      PgParams update = { 0 };
      g_autofree char *content = natterd_expansion_keep (op->original.content, op->edit_content);

      natterd_pg_params_int (&update, op->message_id);
      natterd_pg_params_text (&update, content);
      if (!run_done (self, PW_EDIT_MESSAGE, &update, error))
        return FALSE;
      return op->command == NULL || write_publish (self, op->command, error);
    }

  op->original.id = op->message_id;
  g_free (op->original.uid);
  op->original.uid = g_strdup (uid);
  g_free (op->original.object_name);
  op->original.object_name = g_steal_pointer (&object_name);
  op->original.sent_time = sent_time;

  {
    g_autofree char *replacement = natterd_recall_notification (op->operator_id, op->recall_time,
                                                                op->original.object_name);
    PgParams update = { 0 };

    natterd_pg_params_int (&update, op->message_id);
    natterd_pg_params_text (&update, replacement);
    if (!run_done (self, PW_RECALL_MESSAGE, &update, error))
      return FALSE;
  }

  return op->command == NULL || write_publish (self, op->command, error);
}

static gboolean
write_conversation (NatterdStorePg         *self,
                    NatterdConversationOp  *op,
                    GError                **error)
{
  static const int statements[] = {
    [NATTERD_CONVERSATION_PIN] = PW_PIN,
    [NATTERD_CONVERSATION_UNPIN] = PW_UNPIN,
    [NATTERD_CONVERSATION_MUTE] = PW_MUTE,
    [NATTERD_CONVERSATION_UNMUTE] = PW_UNMUTE,
    [NATTERD_CONVERSATION_REMOVE] = PW_REMOVE_CONVERSATION,
    [NATTERD_CONVERSATION_CLEAR_UNREAD] = PW_CLEAR_UNREAD,
  };
  int index = statements[op->action];
  PgParams params = { 0 };

  if (op_changes_timeline ((NatterdOp *) op))
    {
      PgParams read = { 0 };

      natterd_pg_params_int (&read, op->user_id);
      natterd_pg_params_text (&read, op->target_id);
      natterd_pg_params_int (&read, (gint64) op->read_seq);
      natterd_pg_params_int (&read, self->clock);
      natterd_pg_params_int (&read, op->app_id);
      if (!run_done (self, PW_READ_TIMELINE, &read, error))
        return FALSE;
    }

  natterd_pg_params_int (&params, op->user_id);
  natterd_pg_params_int (&params, op->conversation_type);
  natterd_pg_params_text (&params, op->target_id);
  if (index != PW_UNPIN && index != PW_UNMUTE)
    natterd_pg_params_int (&params, op->time);
  return run_done (self, index, &params, error);
}

static gboolean
write_members (NatterdStorePg    *self,
               NatterdMembersOp  *m,
               GError           **error)
{
  int index = m->action == NATTERD_MEMBERS_ADD ? PW_ADD_MEMBER :
              m->action == NATTERD_MEMBERS_REMOVE ? PW_REMOVE_MEMBER : PW_GAG_MEMBER;
  guint64 latest = 0;

  for (guint i = 0; i < m->user_ids->len; i++)
    {
      PgParams params = { 0 };

      natterd_pg_params_int (&params, m->group_id);
      natterd_pg_params_int (&params, g_array_index (m->user_ids, gint64, i));
      if (m->action != NATTERD_MEMBERS_REMOVE)
        natterd_pg_params_int (&params, m->time);
      if (!run_done (self, index, &params, error))
        return FALSE;
    }

  if (m->timeline_id == NULL || m->action == NATTERD_MEMBERS_GAG)
    return TRUE;
  /* Join and leave record the group's seq now: messages other nodes add
   * to it wait for this, or this for them. */
  if (!lock_timeline (self, m->app_id, m->timeline_id, &latest, error))
    return FALSE;
  for (guint i = 0; i < m->user_ids->len; i++)
    {
      PgParams params = { 0 };

      natterd_pg_params_int (&params, g_array_index (m->user_ids, gint64, i));
      natterd_pg_params_text (&params, m->timeline_id);
      if (m->action == NATTERD_MEMBERS_ADD)
        {
          natterd_pg_params_int (&params, m->app_id);
          natterd_pg_params_int (&params, m->from_start || latest == 0 ? 0 : (gint64) latest + 1);
          natterd_pg_params_int (&params, (gint64) latest);
          natterd_pg_params_int (&params, self->clock);
          if (!run_done (self, PW_JOIN_TIMELINE, &params, error))
            return FALSE;
        }
      else
        {
          natterd_pg_params_int (&params, (gint64) latest);
          natterd_pg_params_int (&params, self->clock);
          if (!run_done (self, PW_LEAVE_TIMELINE, &params, error))
            return FALSE;
        }
    }
  return TRUE;
}

static gboolean
write_prune (NatterdStorePg  *self,
             NatterdPruneOp  *op,
             GError         **error)
{
  PGresult *result;
  gint64 cutoff;

  /* A node away from NATS longer than this reads everything back. */
  {
    PgParams params = { 0 };

    natterd_pg_params_int (&params, g_get_real_time () / 1000 - NATTERD_STORE_CHANGES_KEPT_MS);
    if (!run_done (self, PW_PRUNE_CHANGES, &params, error) ||
        !run_done (self, PW_PRUNE_ACCOUNT_CHANGES, &params, error))
      return FALSE;
  }

  if (op->nonces_before > 0)
    {
      PgParams params = { 0 };

      natterd_pg_params_int (&params, op->nonces_before);
      natterd_pg_params_int (&params, op->limit);
      result = run (self, PW_PRUNE_NONCES, &params, error);
      if (result == NULL)
        return FALSE;
      op->nonces_deleted = changes (result);
      PQclear (result);
    }

  if (op->before == 0)
    return TRUE;

  {
    PgParams params = { 0 };

    natterd_pg_params_int (&params, op->before / (3600 * 1000));
    result = run (self, PW_PRUNE_CUTOFF, &params, error);
    if (result == NULL)
      return FALSE;
    cutoff = natterd_pg_int (result, 0, 0);
    PQclear (result);
  }
  {
    PgParams params = { 0 };

    natterd_pg_params_int (&params, cutoff);
    natterd_pg_params_int (&params, op->limit);
    result = run (self, PW_PRUNE_INBOX, &params, error);
    if (result == NULL)
      return FALSE;
    op->deleted = changes (result);
    PQclear (result);
  }
  return TRUE;
}

/* ------------------------------------------------------ rows of two nodes */

/* Two nodes that did not hear of each other yet (NATS down, or the
 * moment before its change arrives) may both create a user or group:
 * each under an id of its own share (node_slots), the same (app, name).
 * The second INSERT (@create, its @params) finds the first's row: that
 * id is the one both use from then on. Returns 1 when another row was
 * found (its columns in *@found, @find's), 0 when @id's row is stored
 * (new, or this node's own already), -1 on error. */
static int
create_row (NatterdStorePg  *self,
            int              create,
            PgParams        *params,
            int              find,
            gint64           id,
            gint64           app_id,
            const char      *name_id,
            PGresult       **found,
            GError         **error)
{
  PgParams find_params = { 0 };
  PGresult *result = run (self, create, params, error);
  gboolean inserted;

  if (result == NULL)
    return -1;
  inserted = PQntuples (result) == 1;
  PQclear (result);
  if (inserted)
    return 0;

  /* A statement of its own: its snapshot has the row the INSERT waited for. */
  natterd_pg_params_int (&find_params, app_id);
  natterd_pg_params_text (&find_params, name_id);
  result = run (self, find, &find_params, error);
  if (result == NULL)
    return -1;
  if (PQntuples (result) != 1)
    {
      PQclear (result);
      g_set_error (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_FAILED,
                   "Id %" G_GINT64_FORMAT " is taken by another row", id);
      return -1;
    }
  if (natterd_pg_int (result, 0, 0) == id)
    {
      /* This node's own row (a create tried again): updated as usual. */
      PQclear (result);
      return 0;
    }
  *found = result;
  return 1;
}

static void
adopt (GHashTable **table,
       gint64       id,
       gint64       stored_id)
{
  if (*table == NULL)
    *table = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  g_hash_table_insert (*table, g_memdup2 (&id, sizeof id), g_memdup2 (&stored_id, sizeof stored_id));
}

static void
remap_id (GHashTable *table,
          gint64     *id)
{
  gint64 *stored = g_hash_table_lookup (table, id);

  if (stored != NULL)
    *id = *stored;
}

static void
remap_ids (GHashTable *table,
           GArray     *ids)
{
  for (guint i = 0; ids != NULL && i < ids->len; i++)
    remap_id (table, &g_array_index (ids, gint64, i));
}

static void
remap_publish (GHashTable       *users,
               NatterdPublishOp *p)
{
  if (p == NULL)
    return;
  remap_id (users, &p->sender_id);
  for (guint i = 0; i < p->recipients->len; i++)
    remap_id (users, &g_array_index (p->recipients, NatterdRecipient, i).user_id);
  remap_ids (users, p->mention_ids);
  for (guint i = 0; p->read_messages != NULL && i < p->read_messages->len; i++)
    remap_id (users, &g_array_index (p->read_messages, NatterdReadMessage, i).sender_id);
}

/* @op as the stored ids name its users and groups: ops queued before the
 * main thread took the stored id name this node's (never stored). */
static void
remap_op (NatterdStorePg *self,
          NatterdOp      *op)
{
  GHashTable *users = self->adopted_users;

  if (op->kind == NATTERD_OP_MEMBERS && self->adopted_groups != NULL)
    remap_id (self->adopted_groups, &((NatterdMembersOp *) op)->group_id);
  /* A create keeps its id: written again (a batch retried op by op), it
   * finds the stored row and says so again (stored_id). */
  else if (op->kind == NATTERD_OP_GROUP && self->adopted_groups != NULL && !((NatterdGroupOp *) op)->create)
    remap_id (self->adopted_groups, &((NatterdGroupOp *) op)->id);
  if (users == NULL)
    return;
  switch (op->kind)
    {
    case NATTERD_OP_USER:
      if (!((NatterdUserOp *) op)->create)
        remap_id (users, &((NatterdUserOp *) op)->id);
      break;
    case NATTERD_OP_PUBLISH:
      remap_publish (users, (NatterdPublishOp *) op);
      break;
    case NATTERD_OP_RECALL:
      remap_id (users, &((NatterdRecallOp *) op)->sender_id);
      remap_publish (users, ((NatterdRecallOp *) op)->command);
      break;
    case NATTERD_OP_CONVERSATION:
      remap_id (users, &((NatterdConversationOp *) op)->user_id);
      break;
    case NATTERD_OP_MEMBERS:
      remap_ids (users, ((NatterdMembersOp *) op)->user_ids);
      break;
    case NATTERD_OP_BLACKLIST:
      remap_id (users, &((NatterdBlacklistOp *) op)->user_id);
      remap_ids (users, ((NatterdBlacklistOp *) op)->blocked_ids);
      break;
    case NATTERD_OP_DEVICES:
      {
        GArray *devices = ((NatterdDevicesOp *) op)->devices;

        for (guint i = 0; i < devices->len; i++)
          remap_id (users, &g_array_index (devices, NatterdDeviceRecord, i).user_id);
      }
      break;
    case NATTERD_OP_MEDIA:
      remap_id (users, &((NatterdMediaOp *) op)->uploader_id);
      break;
    default:
      break;
    }
}

static void
user_params (PgParams      *params,
             NatterdUserOp *u)
{
  natterd_pg_params_int (params, u->id);
  natterd_pg_params_int (params, u->app_id);
  natterd_pg_params_text (params, u->user_id);
  natterd_pg_params_text (params, u->name != NULL ? u->name : "");
  natterd_pg_params_text (params, u->portrait_uri != NULL ? u->portrait_uri : "");
  natterd_pg_params_int (params, u->created);
  natterd_pg_params_int (params, u->tokens_valid_after);
  natterd_pg_params_int (params, u->blocked_until);
}

static gboolean
write_user (NatterdStorePg  *self,
            NatterdUserOp   *u,
            GError         **error)
{
  PgParams params = { 0 };
  PGresult *result;
  gboolean stored;

  u->stored_id = 0;
  if (u->create)
    {
      PGresult *found = NULL;
      int outcome;

      user_params (&params, u);
      outcome = create_row (self, PW_CREATE_USER, &params, PW_FIND_USER, u->id, u->app_id, u->user_id,
                            &found, error);
      if (outcome < 0)
        return FALSE;
      if (outcome > 0)
        {
          /* The stored row stands as it is, its profile and blocks too. */
          u->stored_id = natterd_pg_int (found, 0, 0);
          u->stored_max_seq = natterd_pg_int (found, 0, 1);
          u->stored_tokens_valid_after = natterd_pg_int (found, 0, 2);
          u->stored_blocked_until = natterd_pg_int (found, 0, 3);
          PQclear (found);
          adopt (&self->adopted_users, u->id, u->stored_id);
          return TRUE;
        }
      params = (PgParams) { 0 };
    }
  user_params (&params, u);
  result = run (self, PW_UPSERT_USER, &params, error);
  if (result == NULL)
    return FALSE;
  stored = changes (result) == 1;
  PQclear (result);
  /* The id is another user's: another node gave it out meanwhile. */
  if (!stored)
    g_set_error (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_FAILED,
                 "User id %" G_GINT64_FORMAT " is taken by another user", u->id);
  return stored;
}

static gboolean
write_group_row (NatterdStorePg  *self,
                 NatterdGroupOp  *g,
                 GError         **error)
{
  PgParams params = { 0 };
  int outcome = 0;

  natterd_pg_params_int (&params, g->id);
  natterd_pg_params_int (&params, g->app_id);
  natterd_pg_params_text (&params, g->group_id);
  natterd_pg_params_text (&params, g->name != NULL ? g->name : "");
  natterd_pg_params_int (&params, g->created);
  g->stored_id = 0;
  if (g->create)
    {
      PGresult *found = NULL;
      PgParams create;

      natterd_pg_params_copy (&create, &params);
      outcome = create_row (self, PW_CREATE_GROUP, &create, PW_FIND_GROUP, g->id, g->app_id, g->group_id,
                            &found, error);
      if (outcome > 0)
        {
          g->stored_id = natterd_pg_int (found, 0, 0);
          PQclear (found);
          adopt (&self->adopted_groups, g->id, g->stored_id);
        }
    }
  if (outcome != 0)
    return outcome > 0;
  return run_done (self, PW_UPSERT_GROUP, &params, error);
}

/* A row of changes for what @op touched, in its transaction; TRUE for an
 * op that touches no directory row. */
static gboolean
record_change (NatterdStorePg  *self,
               NatterdOp       *op,
               GError         **error)
{
  PgParams params = { 0 };
  const char *kind = NULL, *ref = NULL;
  gint64 app_id = 0;
  gint64 now = g_get_real_time () / 1000;

  switch (op->kind)
    {
    case NATTERD_OP_USER:
      kind = "user", app_id = ((NatterdUserOp *) op)->app_id, ref = ((NatterdUserOp *) op)->user_id;
      break;
    case NATTERD_OP_GROUP:
      kind = "group", app_id = ((NatterdGroupOp *) op)->app_id, ref = ((NatterdGroupOp *) op)->group_id;
      break;
    case NATTERD_OP_MEMBERS:
      kind = "group", app_id = ((NatterdMembersOp *) op)->app_id, ref = ((NatterdMembersOp *) op)->timeline_id;
      break;
    case NATTERD_OP_CHATROOM:
      kind = "chatroom", app_id = ((NatterdChatroomOp *) op)->app_id, ref = ((NatterdChatroomOp *) op)->chatroom_id;
      break;
    case NATTERD_OP_BLACKLIST:
      natterd_pg_params_int (&params, ((NatterdBlacklistOp *) op)->user_id);
      natterd_pg_params_int (&params, now);
      return run_done (self, PW_CHANGE_USER_ID, &params, error);
    default:
      return TRUE;
    }
  if (ref == NULL)
    return TRUE;
  natterd_pg_params_int (&params, app_id);
  natterd_pg_params_text (&params, kind);
  natterd_pg_params_text (&params, ref);
  natterd_pg_params_int (&params, now);
  return run_done (self, PW_CHANGE, &params, error);
}

static gboolean write_one_op (NatterdStorePg *self, NatterdOp *op, GError **error);

static gboolean
write_one (NatterdStorePg  *self,
           NatterdOp       *op,
           GError         **error)
{
  return write_one_op (self, op, error) && record_change (self, op, error);
}

static gboolean
write_one_op (NatterdStorePg  *self,
           NatterdOp       *op,
           GError         **error)
{
  PgParams params = { 0 };

  if (op->kind != NATTERD_OP_PUBLISH && !flush_conversations (self, NULL, error))
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
      return write_user (self, (NatterdUserOp *) op, error);

    case NATTERD_OP_DEVICES:
      {
        NatterdDevicesOp *d = (NatterdDevicesOp *) op;

        for (guint i = 0; i < d->devices->len; i++)
          {
            NatterdDeviceRecord *device = &g_array_index (d->devices, NatterdDeviceRecord, i);
            PgParams p = { 0 };

            natterd_pg_params_int (&p, device->user_id);
            natterd_pg_params_text (&p, device->device_id);
            natterd_pg_params_text (&p, device->platform != NULL ? device->platform : "");
            natterd_pg_params_int (&p, device->last_seen);
            natterd_pg_params_int (&p, (gint64) device->acked_seq);
            if (!run_done (self, PW_UPSERT_DEVICE, &p, error))
              return FALSE;
          }
        return TRUE;
      }

    case NATTERD_OP_GROUP:
      {
        NatterdGroupOp *g = (NatterdGroupOp *) op;

        if (g->remove)
          {
            guint64 latest;
            PgParams p = { 0 };

            if (!lock_timeline (self, g->app_id, g->group_id, &latest, error))
              return FALSE;
            natterd_pg_params_int (&p, g->app_id);
            natterd_pg_params_text (&p, g->group_id);
            natterd_pg_params_int (&p, (gint64) latest);
            natterd_pg_params_int (&p, self->clock);
            if (!run_done (self, PW_DISMISS_TIMELINE, &p, error))
              return FALSE;
            natterd_pg_params_int (&params, g->id);
            return run_done (self, PW_DELETE_GROUP_MEMBERS, &params, error) &&
                   run_done (self, PW_DELETE_GROUP, &params, error);
          }
        return write_group_row (self, g, error);
      }

    case NATTERD_OP_MEMBERS:
      return write_members (self, (NatterdMembersOp *) op, error);

    case NATTERD_OP_CHATROOM:
      {
        NatterdChatroomOp *c = (NatterdChatroomOp *) op;

        int statement = c->remove ? PW_DELETE_CHATROOM : c->create ? PW_CREATE_CHATROOM : PW_RENAME_CHATROOM;

        if (c->create)
          natterd_pg_params_int (&params, c->id);
        natterd_pg_params_int (&params, c->app_id);
        natterd_pg_params_text (&params, c->chatroom_id);
        if (!c->remove)
          natterd_pg_params_text (&params, c->name != NULL ? c->name : "");
        if (c->create)
          natterd_pg_params_int (&params, c->created);
        return run_done (self, statement, &params, error);
      }

    case NATTERD_OP_BLACKLIST:
      {
        NatterdBlacklistOp *b = (NatterdBlacklistOp *) op;

        for (guint i = 0; i < b->blocked_ids->len; i++)
          {
            PgParams p = { 0 };

            natterd_pg_params_int (&p, b->user_id);
            natterd_pg_params_int (&p, g_array_index (b->blocked_ids, gint64, i));
            if (!run_done (self, b->remove ? PW_REMOVE_BLACKLIST : PW_ADD_BLACKLIST, &p, error))
              return FALSE;
          }
        return TRUE;
      }

    case NATTERD_OP_PRUNE:
      return write_prune (self, (NatterdPruneOp *) op, error);

    case NATTERD_OP_ACCOUNT:
      /* Not a prepared statement of the batch's pipeline: BEGIN first. */
      if (!self->began)
        {
          if (!natterd_pg_exec (self->writer.conn, "BEGIN", error))
            return FALSE;
          self->began = TRUE;
        }
      return natterd_store_pg_write_account (self->writer.conn, (NatterdAccountOp *) op, error);

    case NATTERD_OP_LOGIN:
      if (!self->began)
        {
          if (!natterd_pg_exec (self->writer.conn, "BEGIN", error))
            return FALSE;
          self->began = TRUE;
        }
      return natterd_store_pg_write_login (self->writer.conn, (NatterdLoginOp *) op, error);

    case NATTERD_OP_NONCE:
      {
        NatterdNonceOp *n = (NatterdNonceOp *) op;
        PGresult *result;

        natterd_pg_params_int (&params, n->app_id);
        natterd_pg_params_text (&params, n->nonce);
        natterd_pg_params_int (&params, n->expires);
        result = run (self, PW_INSERT_NONCE, &params, error);
        if (result == NULL)
          return FALSE;
        n->duplicate = g_strcmp0 (PQgetvalue (result, 0, 0), "t") != 0;
        PQclear (result);
        return TRUE;
      }

    case NATTERD_OP_WEBHOOK_DONE:
      {
        GArray *ids = ((NatterdWebhookDoneOp *) op)->ids;

        for (guint i = 0; i < ids->len; i++)
          {
            PgParams p = { 0 };

            natterd_pg_params_int (&p, g_array_index (ids, gint64, i));
            if (!run_done (self, PW_DELETE_WEBHOOK_EVENT, &p, error))
              return FALSE;
          }
        return TRUE;
      }

    case NATTERD_OP_MEDIA:
      {
        NatterdMediaOp *m = (NatterdMediaOp *) op;

        natterd_pg_params_int (&params, m->app_id);
        natterd_pg_params_text (&params, m->hash);
        natterd_pg_params_int (&params, (gint64) m->size);
        natterd_pg_params_text (&params, m->content_type);
        natterd_pg_params_text (&params, m->name != NULL ? m->name : "");
        natterd_pg_params_int (&params, m->uploader_id);
        natterd_pg_params_int (&params, m->created);
        return run_done (self, PW_INSERT_MEDIA, &params, error);
      }

    default:
      g_assert_not_reached ();
    }
}

gboolean
natterd_store_pg_write (NatterdStore  *store,
                        NatterdOp    **ops,
                        guint          n_ops,
                        GError       **error)
{
  NatterdStorePg *self = NATTERD_STORE_PG (store);
  g_autoptr(GPtrArray) final = NULL;
  PgLink other = self->writer;
  PgUnread *unread;
  gboolean publishes_only = TRUE;
  gboolean clock = FALSE;

  /* Batches alternate between the two connections (see spare). */
  self->writer = self->spare;
  self->spare = other;
  if (self->writer.conn != NULL)
    wait_unread (self, self->writer.conn);
  /* Only two batches of publishes overlap: other ops may read what the
   * batch before wrote (a user it created), which its COMMIT has yet to
   * show, or write what the next batch's publishes read. */
  for (guint i = 0; i < n_ops && publishes_only; i++)
    publishes_only = is_publish (ops[i]);
  if ((!publishes_only || !self->publishes_only) && self->spare.conn != NULL)
    wait_unread (self, self->spare.conn);
  self->publishes_only = publishes_only;
  if (!natterd_pg_link_ready (&self->writer, self->conninfo, error))
    return FALSE;
  /* BEGIN goes with the first statements, COMMIT with the last. */
  self->began = FALSE;
  g_ptr_array_set_size (self->keep, 0);
  if (g_get_monotonic_time () - self->ids_drawn > IDS_FRESH_US)
    self->next_id = self->ids->len;

  for (guint i = 0; i < n_ops && !clock; i++)
    clock = op_changes_timeline (ops[i]);
  self->clock = 0;
  if (clock && !tick_clock (self, error))
    goto failed;

  for (guint i = 0; i < n_ops;)
    {
      guint run_length = 0;

      /* Each op as it is written: one before it (in this batch or an
       * earlier one) may have adopted an id it names. */
      gboolean remap = self->adopted_users != NULL || self->adopted_groups != NULL;

      while (i + run_length < n_ops && is_publish (ops[i + run_length]))
        {
          if (remap)
            remap_op (self, ops[i + run_length]);
          run_length++;
        }
      if (run_length > 0)
        {
          if (!write_publishes (self, ops + i, run_length, run_length == n_ops, error))
            goto failed;
          i += run_length;
        }
      else
        {
          if (remap)
            remap_op (self, ops[i]);
          if (!write_one (self, ops[i++], error))
            goto failed;
        }
    }

  final = g_ptr_array_new_with_free_func (g_free);
  if (!flush_conversations (self, final, error) || !flush_inbox (self, final, error))
    goto failed;
  natterd_pg_call_new (final, PG_CALL_COMMIT);
  unread = writer_send (self, final, error);
  if (unread == NULL)
    goto failed;
  unread->ops = g_ptr_array_sized_new (n_ops);
  for (guint i = 0; i < n_ops; i++)
    g_ptr_array_add (unread->ops, ops[i]);
  g_mutex_lock (&self->unread_lock);
  unread->number = ++self->commits_sent;
  /* The other connection's is the only one that may be unread. */
  self->unread[self->unread[0] == NULL ? 0 : 1] = unread;
  g_mutex_unlock (&self->unread_lock);
  g_ptr_array_set_size (self->keep, 0);
  return TRUE;

failed:
  if (PQstatus (self->writer.conn) == CONNECTION_OK)
    natterd_pg_exec (self->writer.conn, "ROLLBACK", NULL);
  g_ptr_array_set_size (self->keep, 0);
  g_hash_table_remove_all (self->pending_conversations);
  g_array_set_size (self->pending_inbox, 0);
  g_clear_pointer (&self->bumped_counts, g_hash_table_unref);
  g_clear_pointer (&self->bumped_last, g_hash_table_unref);
  /* Ids already taken are not given out again (a sequence has gaps). */
  self->last_hour = -1;
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
