/* natterd-store-pg-schema.c — the PostgreSQL schema, its migrations, and
 * the start-up load of everything natterd keeps in memory
 *
 * The tables are SQLite's (natterd-store-sqlite-schema.c, version 6) with
 * what several nodes writing at once need: message ids from a sequence,
 * and the unique constraints every node's INSERT ... ON CONFLICT relies on.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-store-pg-private.h"

/* Two nodes starting at once: one migrates, the other waits, then finds
 * nothing left to do. */
#define MIGRATION_LOCK "7425680913"

/* Every migration takes the schema from version N-1 to N, in one
 * transaction with the version bump. */
static const char * const migrations[] = {
  /* 1: everything natterd stores (SQLite schema 6) */
  "CREATE TABLE apps ("
  "  id BIGSERIAL PRIMARY KEY,"
  "  app_key TEXT NOT NULL UNIQUE,"
  "  app_secret TEXT NOT NULL,"
  "  name TEXT NOT NULL,"
  "  token_key BYTEA NOT NULL,"
  "  settings TEXT NOT NULL DEFAULT '{}',"
  "  created BIGINT NOT NULL,"
  "  old_secret TEXT,"
  "  old_secret_expires BIGINT NOT NULL DEFAULT 0);"
  "CREATE TABLE users ("
  "  id BIGINT PRIMARY KEY,"
  "  app_id BIGINT NOT NULL,"
  "  user_id TEXT NOT NULL,"
  "  name TEXT NOT NULL DEFAULT '',"
  "  portrait_uri TEXT NOT NULL DEFAULT '',"
  "  created BIGINT NOT NULL,"
  "  tokens_valid_after BIGINT NOT NULL DEFAULT 0,"
  "  blocked_until BIGINT NOT NULL DEFAULT 0,"
  "  max_seq BIGINT NOT NULL DEFAULT 0,"
  "  UNIQUE (app_id, user_id));"
  "CREATE TABLE devices ("
  "  user_id BIGINT NOT NULL,"
  "  device_id TEXT NOT NULL,"
  "  platform TEXT NOT NULL DEFAULT '',"
  "  last_seen BIGINT NOT NULL,"
  "  acked_seq BIGINT NOT NULL DEFAULT 0,"
  "  PRIMARY KEY (user_id, device_id));"
  "CREATE SEQUENCE messages_id_seq;"
  "CREATE TABLE messages ("
  "  id BIGINT PRIMARY KEY,"
  "  app_id BIGINT NOT NULL,"
  "  uid TEXT,"
  "  conversation_type INTEGER NOT NULL,"
  "  sender_id BIGINT NOT NULL,"
  "  target_id TEXT COLLATE \"C\" NOT NULL,"
  "  channel TEXT NOT NULL,"
  "  object_name TEXT NOT NULL,"
  "  content TEXT NOT NULL,"
  "  push_content TEXT,"
  "  flags INTEGER NOT NULL,"
  "  sent_time BIGINT NOT NULL,"
  "  device_id TEXT,"
  "  client_msg_id TEXT,"
  "  timeline_seq BIGINT);"
  "ALTER SEQUENCE messages_id_seq OWNED BY messages.id;"
  /* Idempotency across nodes: the second INSERT of a key waits for the
   * first's transaction, then does nothing. */
  "CREATE UNIQUE INDEX messages_dedup ON messages (sender_id, client_msg_id, device_id)"
  "  WHERE client_msg_id IS NOT NULL;"
  "CREATE INDEX messages_channel ON messages (app_id, channel, sent_time) WHERE flags & 1 <> 0;"
  "CREATE UNIQUE INDEX messages_timeline ON messages (app_id, target_id, timeline_seq)"
  "  INCLUDE (flags, sender_id, sent_time) WHERE timeline_seq IS NOT NULL;"
  "CREATE TABLE inbox ("
  "  user_id BIGINT NOT NULL,"
  "  seq BIGINT NOT NULL,"
  "  message_id BIGINT NOT NULL,"
  "  PRIMARY KEY (user_id, seq));"
  "CREATE INDEX inbox_message ON inbox (message_id);"
  "CREATE TABLE conversations ("
  "  user_id BIGINT NOT NULL,"
  "  conversation_type INTEGER NOT NULL,"
  "  target_id TEXT COLLATE \"C\" NOT NULL,"
  "  latest_message_id BIGINT,"
  "  updated_time BIGINT NOT NULL,"
  "  unread INTEGER NOT NULL DEFAULT 0,"
  "  pinned INTEGER NOT NULL DEFAULT 0,"
  "  muted INTEGER NOT NULL DEFAULT 0,"
  "  hidden INTEGER NOT NULL DEFAULT 0,"
  "  last_read_time BIGINT NOT NULL DEFAULT 0,"
  "  PRIMARY KEY (user_id, conversation_type, target_id));"
  "CREATE TABLE hours ("
  "  hour BIGINT PRIMARY KEY,"
  "  first_message_id BIGINT NOT NULL);"
  "CREATE TABLE groups ("
  "  id BIGINT PRIMARY KEY,"
  "  app_id BIGINT NOT NULL,"
  "  group_id TEXT NOT NULL,"
  "  name TEXT NOT NULL DEFAULT '',"
  "  created BIGINT NOT NULL,"
  "  UNIQUE (app_id, group_id));"
  "CREATE TABLE group_members ("
  "  group_id BIGINT NOT NULL,"
  "  user_id BIGINT NOT NULL,"
  "  joined BIGINT NOT NULL,"
  "  gag_until BIGINT NOT NULL DEFAULT 0,"
  "  PRIMARY KEY (group_id, user_id));"
  "CREATE TABLE chatrooms ("
  "  id BIGINT PRIMARY KEY,"
  "  app_id BIGINT NOT NULL,"
  "  chatroom_id TEXT NOT NULL,"
  "  name TEXT NOT NULL DEFAULT '',"
  "  created BIGINT NOT NULL,"
  "  UNIQUE (app_id, chatroom_id));"
  "CREATE TABLE blacklist ("
  "  user_id BIGINT NOT NULL,"
  "  blocked_user_id BIGINT NOT NULL,"
  "  PRIMARY KEY (user_id, blocked_user_id));"
  "CREATE TABLE media ("
  "  app_id BIGINT NOT NULL,"
  "  hash TEXT NOT NULL,"
  "  size BIGINT NOT NULL,"
  "  content_type TEXT NOT NULL,"
  "  name TEXT NOT NULL DEFAULT '',"
  "  uploader_id BIGINT NOT NULL,"
  "  created BIGINT NOT NULL,"
  "  PRIMARY KEY (app_id, hash));"
  "CREATE TABLE api_nonces ("
  "  app_id BIGINT NOT NULL,"
  "  nonce TEXT NOT NULL,"
  "  expires BIGINT NOT NULL,"
  "  PRIMARY KEY (app_id, nonce));"
  "CREATE INDEX api_nonces_expires ON api_nonces (expires);"
  "CREATE TABLE webhook_events ("
  "  message_id BIGINT PRIMARY KEY,"
  "  app_id BIGINT NOT NULL,"
  "  body TEXT NOT NULL);"
  "CREATE INDEX webhook_events_app ON webhook_events (app_id, message_id);"
  /* Which node sends an app's events (each is sent by one node, in
   * order): held until expires (ms, the database's clock), renewed by
   * every read of its holder. */
  "CREATE TABLE webhook_leases ("
  "  app_id BIGINT PRIMARY KEY,"
  "  owner TEXT NOT NULL,"
  "  expires BIGINT NOT NULL);"
  "CREATE TABLE timelines ("
  "  app_id BIGINT NOT NULL,"
  "  target_id TEXT COLLATE \"C\" NOT NULL,"
  "  conversation_type INTEGER NOT NULL,"
  "  latest_seq BIGINT NOT NULL,"
  "  updated_time BIGINT NOT NULL,"
  "  changed BIGINT NOT NULL,"
  "  PRIMARY KEY (app_id, target_id));"
  "CREATE TABLE timeline_members ("
  "  user_id BIGINT NOT NULL,"
  "  target_id TEXT COLLATE \"C\" NOT NULL,"
  "  app_id BIGINT NOT NULL,"
  "  first_seq BIGINT NOT NULL,"
  "  last_seq BIGINT NOT NULL DEFAULT 0,"
  "  member INTEGER NOT NULL DEFAULT 1,"
  "  read_seq BIGINT NOT NULL DEFAULT 0,"
  "  changed BIGINT NOT NULL,"
  "  PRIMARY KEY (user_id, target_id));"
  "CREATE INDEX timeline_members_group ON timeline_members (app_id, target_id) WHERE member <> 0;"
  "CREATE TABLE timeline_mentions ("
  "  app_id BIGINT NOT NULL,"
  "  target_id TEXT COLLATE \"C\" NOT NULL,"
  "  timeline_seq BIGINT NOT NULL,"
  "  user_id BIGINT NOT NULL,"
  "  sender_id BIGINT NOT NULL,"
  "  PRIMARY KEY (app_id, target_id, timeline_seq, user_id));"
  /* The writers' clock for timeline changes (ms, never back); a batch
   * that changes a timeline holds this row until it commits, so stamps
   * are in commit order across nodes (see NatterdTimelineSyncRead). */
  "CREATE TABLE timeline_clock ("
  "  id INTEGER PRIMARY KEY CHECK (id = 0),"
  "  time BIGINT NOT NULL);"
  "INSERT INTO timeline_clock (id, time)"
  " VALUES (0, (extract (epoch FROM clock_timestamp ()) * 1000)::bigint);"
  /* Each node's share of the user, group and chatroom ids (NatterdLoadSink.ids). */
  "CREATE TABLE node_slots ("
  "  slot INTEGER PRIMARY KEY CHECK (slot >= 0 AND slot < 1024),"
  "  name TEXT NOT NULL UNIQUE);",
  /* 2: end-user accounts (SQLite schema 7) */
  "CREATE TABLE account_rows ("
  "  app_id BIGINT NOT NULL,"
  "  kind TEXT COLLATE \"C\" NOT NULL,"
  "  owner TEXT COLLATE \"C\" NOT NULL,"
  "  name TEXT COLLATE \"C\" NOT NULL,"
  "  value TEXT NOT NULL,"
  "  PRIMARY KEY (app_id, kind, owner, name));",
  /* 3: history cleared before this time (SQLite schema 8) */
  "ALTER TABLE conversations ADD COLUMN cleared_time BIGINT NOT NULL DEFAULT 0;",
  /* 4: a user's groups by index, wrong passwords counted where every
   * node sees them (SQLite schema 9) */
  "CREATE INDEX group_members_user ON group_members (user_id, group_id);"
  "CREATE TABLE account_logins ("
  "  app_id BIGINT NOT NULL,"
  "  user_id TEXT COLLATE \"C\" NOT NULL,"
  "  failures INTEGER NOT NULL,"
  "  locked_until BIGINT NOT NULL,"
  "  PRIMARY KEY (app_id, user_id));",
  /* 5: each hour's row holds the lowest message id stored in that hour
   * (natterd-store-pg-write.c lowers it since; rows written before kept
   * the first node's id, and a lower id another node committed later in
   * the hour could lose its inbox entries to the prune). One pass over
   * messages; only lowers, so running it again changes nothing. */
  "INSERT INTO hours (hour, first_message_id)"
  " SELECT sent_time / 3600000, min (id) FROM messages GROUP BY sent_time / 3600000"
  " ON CONFLICT (hour) DO UPDATE SET first_message_id = excluded.first_message_id"
  " WHERE hours.first_message_id > excluded.first_message_id;",
  /* 6: who read a group message (SQLite schema 10) */
  "CREATE TABLE message_readers ("
  "  message_id BIGINT NOT NULL,"
  "  reader_id BIGINT NOT NULL,"
  "  read_time BIGINT NOT NULL,"
  "  PRIMARY KEY (message_id, reader_id));",
  /* 7: wrong passwords per client address, counted where every node sees
   * them (login-address-limit holds across the nodes while NATS is down) */
  "CREATE TABLE login_addresses ("
  "  address TEXT COLLATE \"C\" PRIMARY KEY,"
  "  failures INTEGER NOT NULL,"
  "  window_end BIGINT NOT NULL);"
  "CREATE INDEX login_addresses_window_end ON login_addresses (window_end);",
  /* 8: what each directory change touched (a user, a group and its
   * members, a chatroom), written in the change's own transaction: a node
   * back on NATS reads back only what changed meanwhile, by transaction id
   * (a transaction below the snapshot's xmin has ended, so nothing is
   * missed between two read-backs). Pruned after a day. */
  "CREATE TABLE changes ("
  "  txid XID8 NOT NULL DEFAULT pg_current_xact_id (),"
  "  app_id BIGINT NOT NULL,"
  "  kind TEXT COLLATE \"C\" NOT NULL,"
  "  ref TEXT COLLATE \"C\" NOT NULL,"
  "  at BIGINT NOT NULL);"
  "CREATE INDEX changes_txid ON changes (txid);"
  "CREATE INDEX changes_at ON changes (at);",
  /* 9: the account rows (contacts, privacy, group roles) each change
   * wrote or deleted, as changes (schema 8) does for the directory: a
   * read-back reads those rows only, and a key without a row is one
   * deleted. Pruned with changes. */
  "CREATE TABLE account_changes ("
  "  txid XID8 NOT NULL DEFAULT pg_current_xact_id (),"
  "  app_id BIGINT NOT NULL,"
  "  kind TEXT COLLATE \"C\" NOT NULL,"
  "  owner TEXT COLLATE \"C\" NOT NULL,"
  "  name TEXT COLLATE \"C\" NOT NULL,"
  "  at BIGINT NOT NULL);"
  "CREATE INDEX account_changes_txid ON account_changes (txid);"
  "CREATE INDEX account_changes_at ON account_changes (at);",
  /* 10: inbox rows by message id for the prune only, which deletes the
   * oldest: a BRIN index (a summary per range of pages; rows go in
   * nearly in id order) costs an inbox INSERT next to nothing, where the
   * B-tree cost a second index entry a row. */
  "DROP INDEX inbox_message;"
  "CREATE INDEX inbox_message ON inbox USING brin (message_id);",
};

G_STATIC_ASSERT (G_N_ELEMENTS (migrations) == NATTERD_STORE_PG_SCHEMA_VERSION);

static int
schema_version (PGconn  *conn,
                GError **error)
{
  PGresult *result;
  int version;

  if (!natterd_pg_exec (conn,
                        "SELECT pg_advisory_xact_lock (" MIGRATION_LOCK ");"
                        "CREATE TABLE IF NOT EXISTS natterd_schema (version INTEGER NOT NULL);"
                        "INSERT INTO natterd_schema (version)"
                        " SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM natterd_schema)", error))
    return -1;
  result = natterd_pg_query (conn, "SELECT max (version) FROM natterd_schema", NULL, error);
  if (result == NULL)
    return -1;
  version = (int) natterd_pg_int (result, 0, 0);
  PQclear (result);
  return version;
}

gboolean
natterd_store_pg_migrate (PGconn  *conn,
                          int      target,
                          GError **error)
{
  for (;;)
    {
      g_autofree char *bump = NULL;
      int version;

      if (!natterd_pg_exec (conn, "BEGIN", error))
        return FALSE;
      version = schema_version (conn, error);
      if (version < 0)
        goto failed;
      if (version > NATTERD_STORE_PG_SCHEMA_VERSION)
        {
          g_set_error (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_NEWER_SCHEMA,
                       "The database has schema version %d; this natterd knows up to %d. "
                       "Run a newer natterd on it.", version, NATTERD_STORE_PG_SCHEMA_VERSION);
          natterd_pg_exec (conn, "ROLLBACK", NULL);
          return FALSE;
        }
      if (version >= target)
        return natterd_pg_exec (conn, "COMMIT", error);

      bump = g_strdup_printf ("UPDATE natterd_schema SET version = %d", version + 1);
      if (!natterd_pg_exec (conn, migrations[version], error) ||
          !natterd_pg_exec (conn, bump, error) ||
          !natterd_pg_exec (conn, "COMMIT", error))
        {
          g_prefix_error (error, "Migration to schema version %d failed: ", version + 1);
          goto failed;
        }
      continue;

    failed:
      natterd_pg_exec (conn, "ROLLBACK", NULL);
      return FALSE;
    }
}

/* ------------------------------------------------------------------- load */

gboolean
natterd_store_pg_read_apps (PgLink     *link,
                            GPtrArray  *apps,
                            GError    **error)
{
  PGresult *result = natterd_pg_query (link->conn,
                                       "SELECT id, app_key, app_secret, name, token_key, settings, created,"
                                       " old_secret, old_secret_expires FROM apps ORDER BY id", NULL, error);

  if (result == NULL)
    return FALSE;
  for (int i = 0; i < PQntuples (result); i++)
    {
      NatterdAppRecord *app = g_new0 (NatterdAppRecord, 1);
      size_t size = 0;
      guchar *key = PQunescapeBytea ((const guchar *) PQgetvalue (result, i, 4), &size);

      app->id = natterd_pg_int (result, i, 0);
      app->app_key = natterd_pg_text (result, i, 1);
      app->app_secret = natterd_pg_text (result, i, 2);
      app->name = natterd_pg_text (result, i, 3);
      app->token_key = g_bytes_new (key, size);
      PQfreemem (key);
      app->settings = natterd_pg_text (result, i, 5);
      app->created = natterd_pg_int (result, i, 6);
      app->app_secret_old = natterd_pg_text (result, i, 7);
      app->app_secret_old_expires = natterd_pg_int (result, i, 8);
      g_ptr_array_add (apps, app);
    }
  PQclear (result);
  return TRUE;
}

#define NODE_SLOTS 1024

/* This node's slot, taken the first time its name is seen (the lowest
 * free one: two nodes taking it at once conflict, and the loser tries
 * again); -1 when all are taken. */
static gint64
node_slot (NatterdStorePg  *self,
           GError         **error)
{
  for (guint attempt = 0; attempt < 8; attempt++)
    {
      PgParams params = { 0 };
      PGresult *r;

      natterd_pg_params_text (&params, self->node_name);
      r = natterd_pg_query (self->writer.conn,
                            "INSERT INTO node_slots (slot, name)"
                            " SELECT s, $1 FROM generate_series (0, 1023) AS s"
                            " WHERE s NOT IN (SELECT slot FROM node_slots)"
                            " AND NOT EXISTS (SELECT 1 FROM node_slots WHERE name = $1)"
                            " ORDER BY s LIMIT 1 ON CONFLICT DO NOTHING",
                            &params, error);
      if (r == NULL)
        return -1;
      PQclear (r);

      params = (PgParams) { 0 };
      natterd_pg_params_text (&params, self->node_name);
      r = natterd_pg_query (self->writer.conn, "SELECT slot FROM node_slots WHERE name = $1", &params, error);
      if (r == NULL)
        return -1;
      if (PQntuples (r) == 1)
        {
          gint64 slot = natterd_pg_int (r, 0, 0);

          PQclear (r);
          return slot;
        }
      PQclear (r);
    }
  g_set_error (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_FAILED,
               "No id slot for node \"%s\": %d nodes have taken them all (see node_slots)",
               self->node_name, NODE_SLOTS);
  return -1;
}

/* Rows per query of the load: a node reading a large directory back
 * (start-up, or after a NATS outage) holds one page of results at a time,
 * not a whole table. */
#define LOAD_PAGE_ROWS 5000

/* Every row but the apps' (and the nonces', for a sink without them), in
 * pages by primary key: $1…$n_keys the last page's last key, then the
 * limit, then the nonces' expiry. */
/* Row @i of @r, a row of query @q of natterd_store_pg_load_rows() (the
 * same columns in natterd_store_pg_load_changed_rows()), to @sink. */
static void
hand_over (const NatterdLoadSink *sink,
           gpointer               data,
           guint                  q,
           const PGresult        *r,
           int                    i)
{
  switch (q)
    {
    case 0:
      {
        NatterdUserRecord user = {
          .id = natterd_pg_int (r, i, 0),
          .app_id = natterd_pg_int (r, i, 1),
          .user_id = natterd_pg_value (r, i, 2),
          .name = natterd_pg_value (r, i, 3),
          .portrait_uri = natterd_pg_value (r, i, 4),
          .created = natterd_pg_int (r, i, 5),
          .tokens_valid_after = natterd_pg_int (r, i, 6),
          .blocked_until = natterd_pg_int (r, i, 7),
          .max_seq = (guint64) natterd_pg_int (r, i, 8),
          .last_seen = natterd_pg_int (r, i, 9),
        };
        sink->user (data, &user);
      }
      break;
    case 1:
      sink->group (data, natterd_pg_int (r, i, 0), natterd_pg_int (r, i, 1), natterd_pg_value (r, i, 2),
                   natterd_pg_value (r, i, 3), natterd_pg_int (r, i, 4));
      break;
    case 2:
      sink->member (data, natterd_pg_int (r, i, 0), natterd_pg_int (r, i, 1), natterd_pg_int (r, i, 2),
                    natterd_pg_int (r, i, 3));
      break;
    case 3:
      sink->chatroom (data, natterd_pg_int (r, i, 0), natterd_pg_int (r, i, 1),
                      natterd_pg_value (r, i, 2), natterd_pg_value (r, i, 3), natterd_pg_int (r, i, 4));
      break;
    case 4:
      sink->blacklist (data, natterd_pg_int (r, i, 0), natterd_pg_int (r, i, 1));
      break;
    case 5:
      sink->nonce (data, natterd_pg_int (r, i, 0), natterd_pg_value (r, i, 1), natterd_pg_int (r, i, 2));
      break;
    default:
      g_assert_not_reached ();
    }
}

gboolean
natterd_store_pg_load_rows (PGconn                 *conn,
                            const NatterdLoadSink  *sink,
                            gpointer                data,
                            GError                **error)
{
  static const struct
  {
    const char *sql;
    int         n_keys;
  } queries[] = {
    /* Last seen: its devices' latest (a node started after the user went
     * offline answers it too, #16), by the devices' primary key. */
    { "SELECT id, app_id, user_id, name, portrait_uri, created, tokens_valid_after, blocked_until,"
      " max_seq, (SELECT max (last_seen) FROM devices d WHERE d.user_id = users.id)"
      " FROM users WHERE id > $1::bigint ORDER BY id LIMIT $2", 1 },
    { "SELECT id, app_id, group_id, name, created FROM groups WHERE id > $1::bigint ORDER BY id LIMIT $2", 1 },
    { "SELECT group_id, user_id, joined, gag_until FROM group_members"
      " WHERE (group_id, user_id) > ($1::bigint, $2::bigint) ORDER BY group_id, user_id LIMIT $3", 2 },
    { "SELECT id, app_id, chatroom_id, name, created FROM chatrooms WHERE id > $1::bigint ORDER BY id LIMIT $2", 1 },
    { "SELECT user_id, blocked_user_id FROM blacklist"
      " WHERE (user_id, blocked_user_id) > ($1::bigint, $2::bigint) ORDER BY user_id, blocked_user_id LIMIT $3", 2 },
    { "SELECT app_id, nonce, expires FROM api_nonces WHERE (app_id, nonce) > ($1::bigint, $2::text)"
      " AND expires >= $4 ORDER BY app_id, nonce LIMIT $3", 2 },
  };
  /* Below every key: ids and app ids are positive, a nonce is not empty. */
  static const char * const first_key[] = { "-1", "" };

  for (guint q = 0; q < G_N_ELEMENTS (queries); q++)
    {
      char *keys[2];
      int rows;

      if (q == 5 && sink->nonce == NULL)
        continue;
      keys[0] = g_strdup (first_key[0]);
      keys[1] = g_strdup (q == 5 ? first_key[1] : first_key[0]);
      do
        {
          PgParams params = { 0 };
          PGresult *r;

          for (int k = 0; k < queries[q].n_keys; k++)
            natterd_pg_params_text (&params, keys[k]);
          natterd_pg_params_int (&params, LOAD_PAGE_ROWS);
          if (q == 5)
            natterd_pg_params_int (&params, g_get_real_time () / G_USEC_PER_SEC);
          r = natterd_pg_query (conn, queries[q].sql, &params, error);
          if (r == NULL)
            {
              g_free (keys[0]);
              g_free (keys[1]);
              return FALSE;
            }
          rows = PQntuples (r);
          for (int i = 0; i < rows; i++)
            {
              hand_over (sink, data, q, r, i);
            }
          for (int k = 0; rows > 0 && k < queries[q].n_keys; k++)
            {
              g_free (keys[k]);
              keys[k] = g_strdup (PQgetvalue (r, rows - 1, k));
            }
          PQclear (r);
        }
      while (rows == LOAD_PAGE_ROWS);
      g_free (keys[0]);
      g_free (keys[1]);
    }
  return TRUE;
}

/* Every row @sql reads, a row of natterd_store_pg_load_rows()'s query @q,
 * to @sink. */
static gboolean
hand_over_query (PGconn                 *conn,
                 const NatterdLoadSink  *sink,
                 gpointer                data,
                 guint                   q,
                 const char             *sql,
                 PgParams               *params,
                 GError                **error)
{
  PGresult *r = natterd_pg_query (conn, sql, params, error);

  if (r == NULL)
    return FALSE;
  for (int i = 0; i < PQntuples (r); i++)
    hand_over (sink, data, q, r, i);
  PQclear (r);
  return TRUE;
}

gboolean
natterd_store_pg_read_horizon (PGconn  *conn,
                               char   **horizon,
                               GError **error)
{
  PGresult *r = natterd_pg_query (conn, "SELECT pg_snapshot_xmin (pg_current_snapshot ())::text", NULL, error);

  if (r == NULL)
    return FALSE;
  g_free (*horizon);
  *horizon = natterd_pg_text (r, 0, 0);
  PQclear (r);
  return TRUE;
}

/* The changes visible in the reader's snapshot from transaction $1 on: a
 * transaction still running has an id at or past the horizon the read
 * returns, so the next read finds it. */
#define CHANGED(kind) \
  "(SELECT DISTINCT app_id, ref FROM changes WHERE kind = '" kind "' AND txid >= $1::xid8)"

gboolean
natterd_store_pg_load_changed_rows (PGconn                 *conn,
                                    const NatterdLoadSink  *sink,
                                    gpointer                data,
                                    const char             *since,
                                    GArray                 *user_ids,
                                    GPtrArray              *changed,
                                    GError                **error)
{
  /* natterd_store_pg_load_rows()'s queries, in its order and with its
   * columns, of the rows touched. */
  static const char * const queries[] = {
    "SELECT u.id, u.app_id, u.user_id, u.name, u.portrait_uri, u.created, u.tokens_valid_after, u.blocked_until,"
    " u.max_seq, (SELECT max (last_seen) FROM devices d WHERE d.user_id = u.id) FROM users u"
    " WHERE (u.app_id, u.user_id) IN " CHANGED ("user") " OR u.id = ANY ($2::bigint[])",
    "SELECT g.id, g.app_id, g.group_id, g.name, g.created FROM groups g"
    " JOIN " CHANGED ("group") " c ON c.app_id = g.app_id AND c.ref = g.group_id",
    "SELECT m.group_id, m.user_id, m.joined, m.gag_until FROM group_members m JOIN groups g ON g.id = m.group_id"
    " JOIN " CHANGED ("group") " c ON c.app_id = g.app_id AND c.ref = g.group_id",
    "SELECT r.id, r.app_id, r.chatroom_id, r.name, r.created FROM chatrooms r"
    " JOIN " CHANGED ("chatroom") " c ON c.app_id = r.app_id AND c.ref = r.chatroom_id",
    "SELECT b.user_id, b.blocked_user_id FROM blacklist b JOIN users u ON u.id = b.user_id"
    " JOIN " CHANGED ("user") " c ON c.app_id = u.app_id AND c.ref = u.user_id",
  };
  g_autofree char *ids = natterd_pg_int_array (user_ids);
  PgParams params = { 0 };
  PGresult *r;

  natterd_pg_params_text (&params, since);
  r = natterd_pg_query (conn, "SELECT DISTINCT kind, app_id, ref FROM changes WHERE txid >= $1::xid8", &params,
                        error);
  if (r == NULL)
    return FALSE;
  for (int i = 0; i < PQntuples (r); i++)
    g_ptr_array_add (changed, g_strdup_printf ("%s\n%s\n%s", PQgetvalue (r, i, 0), PQgetvalue (r, i, 1),
                                               PQgetvalue (r, i, 2)));
  PQclear (r);

  for (guint q = 0; q < G_N_ELEMENTS (queries); q++)
    {
      PgParams query_params = { 0 };

      natterd_pg_params_text (&query_params, since);
      if (q == 0)
        natterd_pg_params_text (&query_params, ids);
      if (!hand_over_query (conn, sink, data, q, queries[q], &query_params, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
natterd_store_pg_load_user_groups (PGconn                 *conn,
                                   const NatterdLoadSink  *sink,
                                   gpointer                data,
                                   gint64                  user_id,
                                   GError                **error)
{
  /* natterd_store_pg_load_rows()'s first three queries, of the groups
   * the user is in: their rows, their members' rows and those users. */
  static const char * const queries[] = {
    "SELECT u.id, u.app_id, u.user_id, u.name, u.portrait_uri, u.created, u.tokens_valid_after, u.blocked_until,"
    " u.max_seq, (SELECT max (last_seen) FROM devices d WHERE d.user_id = u.id) FROM users u"
    " WHERE u.id IN (SELECT o.user_id FROM group_members m JOIN group_members o ON o.group_id = m.group_id"
    " WHERE m.user_id = $1)",
    "SELECT g.id, g.app_id, g.group_id, g.name, g.created FROM groups g"
    " JOIN group_members m ON m.group_id = g.id WHERE m.user_id = $1",
    "SELECT o.group_id, o.user_id, o.joined, o.gag_until FROM group_members m"
    " JOIN group_members o ON o.group_id = m.group_id WHERE m.user_id = $1",
  };

  for (guint q = 0; q < G_N_ELEMENTS (queries); q++)
    {
      PgParams params = { 0 };

      natterd_pg_params_int (&params, user_id);
      if (!hand_over_query (conn, sink, data, q, queries[q], &params, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
natterd_store_pg_load (NatterdStore           *store,
                       const NatterdLoadSink  *sink,
                       gpointer                data,
                       GError                **error)
{
  NatterdStorePg *self = NATTERD_STORE_PG (store);
  g_autoptr(GPtrArray) apps = g_ptr_array_new_with_free_func ((GDestroyNotify) natterd_app_record_free);

  if (!natterd_pg_link_ready (&self->writer, self->conninfo, error) ||
      !natterd_store_pg_read_apps (&self->writer, apps, error))
    return FALSE;
  if (sink->ids != NULL)
    {
      gint64 slot = node_slot (self, error);

      if (slot < 0)
        return FALSE;
      sink->ids (data, NODE_SLOTS, slot);
    }
  for (guint i = 0; i < apps->len; i++)
    sink->app (data, g_ptr_array_index (apps, i));
  return natterd_store_pg_load_rows (self->writer.conn, sink, data, error);
}
