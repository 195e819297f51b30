/* natterd-store-sqlite-schema.c — the schema, its migrations, and the
 * start-up load of everything natterd keeps in memory
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-store-sqlite-private.h"

/* Every migration takes the schema from version N-1 to N, in one
 * transaction with the user_version bump; tests/server/test-migrations.c
 * opens a database at every version and migrates it. */
static const char * const migrations[] = {
  /* 1: everything natterd 0.1 stores */
  "CREATE TABLE apps ("
  "  id INTEGER PRIMARY KEY,"
  "  app_key TEXT NOT NULL UNIQUE,"
  "  app_secret TEXT NOT NULL,"
  "  name TEXT NOT NULL,"
  "  token_key BLOB NOT NULL,"
  "  settings TEXT NOT NULL DEFAULT '{}',"
  "  created INTEGER NOT NULL);"
  "CREATE TABLE users ("
  "  id INTEGER PRIMARY KEY,"
  "  app_id INTEGER NOT NULL,"
  "  user_id TEXT NOT NULL,"
  "  name TEXT NOT NULL DEFAULT '',"
  "  portrait_uri TEXT NOT NULL DEFAULT '',"
  "  created INTEGER NOT NULL,"
  "  tokens_valid_after INTEGER NOT NULL DEFAULT 0,"
  "  blocked_until INTEGER NOT NULL DEFAULT 0,"
  "  max_seq INTEGER NOT NULL DEFAULT 0,"
  "  UNIQUE (app_id, user_id));"
  "CREATE TABLE devices ("
  "  user_id INTEGER NOT NULL,"
  "  device_id TEXT NOT NULL,"
  "  platform TEXT NOT NULL DEFAULT '',"
  "  last_seen INTEGER NOT NULL,"
  "  acked_seq INTEGER NOT NULL DEFAULT 0,"
  "  PRIMARY KEY (user_id, device_id)) WITHOUT ROWID;"
  /* uid is NULL for messages that are delivered but not persisted
   * (RC:CmdMsg); channel is the conversation (natterd_channel_key()). */
  "CREATE TABLE messages ("
  "  id INTEGER PRIMARY KEY,"
  "  app_id INTEGER NOT NULL,"
  "  uid TEXT,"
  "  conversation_type INTEGER NOT NULL,"
  "  sender_id INTEGER NOT NULL,"
  "  target_id TEXT NOT NULL,"
  "  channel TEXT NOT NULL,"
  "  object_name TEXT NOT NULL,"
  "  content TEXT NOT NULL,"
  "  push_content TEXT,"
  "  flags INTEGER NOT NULL,"
  "  sent_time INTEGER NOT NULL,"
  "  device_id TEXT,"
  "  client_msg_id TEXT);"
  "CREATE UNIQUE INDEX messages_dedup ON messages (sender_id, client_msg_id, device_id)"
  "  WHERE client_msg_id IS NOT NULL;"
  "CREATE INDEX messages_channel ON messages (app_id, channel, sent_time) WHERE flags & 1;"
  "CREATE TABLE inbox ("
  "  user_id INTEGER NOT NULL,"
  "  seq INTEGER NOT NULL,"
  "  message_id INTEGER NOT NULL,"
  "  PRIMARY KEY (user_id, seq)) WITHOUT ROWID;"
  "CREATE TABLE conversations ("
  "  user_id INTEGER NOT NULL,"
  "  conversation_type INTEGER NOT NULL,"
  "  target_id TEXT NOT NULL,"
  "  latest_message_id INTEGER,"
  "  updated_time INTEGER NOT NULL,"
  "  unread INTEGER NOT NULL DEFAULT 0,"
  "  pinned INTEGER NOT NULL DEFAULT 0,"
  "  muted INTEGER NOT NULL DEFAULT 0,"
  "  hidden INTEGER NOT NULL DEFAULT 0,"
  "  last_read_time INTEGER NOT NULL DEFAULT 0,"
  "  PRIMARY KEY (user_id, conversation_type, target_id)) WITHOUT ROWID;"
  /* The first message id of every hour: the export of an hour reads a range
   * of ids instead of needing a time index on every message. */
  "CREATE TABLE hours ("
  "  hour INTEGER PRIMARY KEY,"
  "  first_message_id INTEGER NOT NULL);"
  "CREATE TABLE groups ("
  "  id INTEGER PRIMARY KEY,"
  "  app_id INTEGER NOT NULL,"
  "  group_id TEXT NOT NULL,"
  "  name TEXT NOT NULL DEFAULT '',"
  "  created INTEGER NOT NULL,"
  "  UNIQUE (app_id, group_id));"
  "CREATE TABLE group_members ("
  "  group_id INTEGER NOT NULL,"
  "  user_id INTEGER NOT NULL,"
  "  joined INTEGER NOT NULL,"
  "  gag_until INTEGER NOT NULL DEFAULT 0,"
  "  PRIMARY KEY (group_id, user_id)) WITHOUT ROWID;"
  "CREATE TABLE chatrooms ("
  "  id INTEGER PRIMARY KEY,"
  "  app_id INTEGER NOT NULL,"
  "  chatroom_id TEXT NOT NULL,"
  "  name TEXT NOT NULL DEFAULT '',"
  "  created INTEGER NOT NULL,"
  "  UNIQUE (app_id, chatroom_id));"
  "CREATE TABLE blacklist ("
  "  user_id INTEGER NOT NULL,"
  "  blocked_user_id INTEGER NOT NULL,"
  "  PRIMARY KEY (user_id, blocked_user_id)) WITHOUT ROWID;"
  "CREATE TABLE media ("
  "  app_id INTEGER NOT NULL,"
  "  hash TEXT NOT NULL,"
  "  size INTEGER NOT NULL,"
  "  content_type TEXT NOT NULL,"
  "  name TEXT NOT NULL DEFAULT '',"
  "  uploader_id INTEGER NOT NULL,"
  "  created INTEGER NOT NULL,"
  "  PRIMARY KEY (app_id, hash)) WITHOUT ROWID;",

  /* 2: inbox entries older than the retention are pruned by message id */
  "CREATE INDEX inbox_message ON inbox (message_id);",

  /* 3: server API nonces survive a restart (a request replayed right after
   * one is refused); kept until their timestamp is out of the window. */
  "CREATE TABLE api_nonces ("
  "  app_id INTEGER NOT NULL,"
  "  nonce TEXT NOT NULL,"
  "  expires INTEGER NOT NULL,"
  "  PRIMARY KEY (app_id, nonce)) WITHOUT ROWID;"
  "CREATE INDEX api_nonces_expires ON api_nonces (expires);",

  /* 4: webhook events not delivered yet, stored with their message (same
   * transaction) and deleted once the app server took them or they were
   * dropped, so a crash loses none; message_id orders them. */
  "CREATE TABLE webhook_events ("
  "  message_id INTEGER PRIMARY KEY,"
  "  app_id INTEGER NOT NULL,"
  "  body TEXT NOT NULL);",

  /* 5: a rotated app secret keeps working for a grace period (natterd
   * --rotate-secret); expires in ms. */
  "ALTER TABLE apps ADD COLUMN old_secret TEXT;"
  "ALTER TABLE apps ADD COLUMN old_secret_expires INTEGER NOT NULL DEFAULT 0;",

  /* 6: group timelines (natter.v2, read diffusion). A group's (or
   * discussion's) message is one row with its timeline_seq, numbered per
   * (app, group id) without gaps; timelines holds each one's latest seq
   * (O(1) per message); timeline_members each user's range of it
   * [first_seq, last_seq] (member = 1: up to the latest) and read
   * position; timeline_mentions whom a message mentions (0: everyone).
   * `changed` is the writer's clock (ms, never back), also in
   * timeline_clock, for the per-user sync. The covering index answers
   * unread counts and latest-message lookups without reading content.
   * Existing group messages are numbered in id order, their inbox rows
   * become timeline members (first_seq: the first message of theirs,
   * read position: as many before the latest as they had unread), and go
   * from the inbox. */
  "ALTER TABLE messages ADD COLUMN timeline_seq INTEGER;"
  "CREATE TABLE timelines ("
  "  app_id INTEGER NOT NULL,"
  "  target_id TEXT NOT NULL,"
  "  conversation_type INTEGER NOT NULL,"
  "  latest_seq INTEGER NOT NULL,"
  "  updated_time INTEGER NOT NULL,"
  "  changed INTEGER NOT NULL,"
  "  PRIMARY KEY (app_id, target_id)) WITHOUT ROWID;"
  "CREATE TABLE timeline_members ("
  "  user_id INTEGER NOT NULL,"
  "  target_id TEXT NOT NULL,"
  "  app_id INTEGER NOT NULL,"
  "  first_seq INTEGER NOT NULL,"
  "  last_seq INTEGER NOT NULL DEFAULT 0,"
  "  member INTEGER NOT NULL DEFAULT 1,"
  "  read_seq INTEGER NOT NULL DEFAULT 0,"
  "  changed INTEGER NOT NULL,"
  "  PRIMARY KEY (user_id, target_id)) WITHOUT ROWID;"
  "CREATE INDEX timeline_members_group ON timeline_members (app_id, target_id) WHERE member;"
  "CREATE TABLE timeline_mentions ("
  "  app_id INTEGER NOT NULL,"
  "  target_id TEXT NOT NULL,"
  "  timeline_seq INTEGER NOT NULL,"
  "  user_id INTEGER NOT NULL,"
  "  sender_id INTEGER NOT NULL,"
  "  PRIMARY KEY (app_id, target_id, timeline_seq, user_id)) WITHOUT ROWID;"
  "CREATE TABLE timeline_clock ("
  "  id INTEGER PRIMARY KEY CHECK (id = 0),"
  "  time INTEGER NOT NULL);"
  "UPDATE messages SET timeline_seq = x.seq FROM"
  " (SELECT id, ROW_NUMBER () OVER (PARTITION BY app_id, target_id ORDER BY id) AS seq"
  "  FROM messages WHERE conversation_type IN (2, 3)) AS x WHERE messages.id = x.id;"
  "CREATE UNIQUE INDEX messages_timeline ON messages"
  " (app_id, target_id, timeline_seq, flags, sender_id, sent_time) WHERE timeline_seq IS NOT NULL;"
  "INSERT INTO timeline_clock (id, time) VALUES (0, CAST ((julianday ('now') - 2440587.5) * 86400000 AS INTEGER));"
  "INSERT INTO timelines (app_id, target_id, conversation_type, latest_seq, updated_time, changed)"
  " SELECT app_id, target_id, MAX (conversation_type), MAX (timeline_seq), MAX (sent_time),"
  " (SELECT time FROM timeline_clock) FROM messages WHERE timeline_seq IS NOT NULL"
  " GROUP BY app_id, target_id;"
  "INSERT INTO timeline_members (user_id, target_id, app_id, first_seq, read_seq, changed)"
  " SELECT gm.user_id, g.group_id, g.app_id,"
  "  COALESCE ((SELECT MIN (m.timeline_seq) FROM inbox i JOIN messages m ON m.id = i.message_id"
  "   WHERE i.user_id = gm.user_id AND m.app_id = g.app_id AND m.target_id = g.group_id"
  "   AND m.timeline_seq IS NOT NULL), COALESCE (t.latest_seq, 0) + 1),"
  "  COALESCE (t.latest_seq, 0), (SELECT time FROM timeline_clock)"
  " FROM group_members gm JOIN groups g ON g.id = gm.group_id"
  " LEFT JOIN timelines t ON t.app_id = g.app_id AND t.target_id = g.group_id;"
  /* The unread count kept, nearly: the read position is that many seqs
   * before the latest (O(1) a member; when some of those are the
   * member's own or not counted, the count comes out lower, never higher). */
  "UPDATE timeline_members SET read_seq = MAX (first_seq - 1, 0, read_seq - (SELECT MAX (c.unread)"
  "  FROM conversations c WHERE c.user_id = timeline_members.user_id AND c.conversation_type IN (2, 3)"
  "  AND c.target_id = timeline_members.target_id))"
  " WHERE EXISTS (SELECT 1 FROM conversations c WHERE c.user_id = timeline_members.user_id"
  "  AND c.conversation_type IN (2, 3) AND c.target_id = timeline_members.target_id AND c.unread > 0);"
  "DELETE FROM inbox WHERE message_id IN (SELECT id FROM messages WHERE timeline_seq IS NOT NULL);",
  /* 7: end-user accounts (natterd-accounts.c): passwords, invite codes,
   * contacts, group roles, one table keyed by kind */
  "CREATE TABLE account_rows ("
  "  app_id INTEGER NOT NULL,"
  "  kind TEXT NOT NULL,"
  "  owner TEXT NOT NULL,"
  "  name TEXT NOT NULL,"
  "  value TEXT NOT NULL,"
  "  PRIMARY KEY (app_id, kind, owner, name)) WITHOUT ROWID;",
  /* 8: a user's history of a conversation cleared before this time (ms,
   * NT:ClearCmd); 0: nothing cleared */
  "ALTER TABLE conversations ADD COLUMN cleared_time INTEGER NOT NULL DEFAULT 0;",
  /* 9: a user's groups by index (NATTERD_READ_USER_GROUPS: whom to tell
   * of a profile change, an account's groups when it is deleted), and
   * wrong passwords counted in the store (NATTERD_OP_LOGIN): every node
   * sharing it locks an account alike, and a restart forgets nothing */
  "CREATE INDEX group_members_user ON group_members (user_id);"
  "CREATE TABLE account_logins ("
  "  app_id INTEGER NOT NULL,"
  "  user_id TEXT NOT NULL,"
  "  failures INTEGER NOT NULL,"
  "  locked_until INTEGER NOT NULL,"
  "  PRIMARY KEY (app_id, user_id)) WITHOUT ROWID;",
  /* 10: who read a group message (RC:RRRspMsg), returned to its sender
   * in history (#16); one row a reader, the first answer's time */
  "CREATE TABLE message_readers ("
  "  message_id INTEGER NOT NULL,"
  "  reader_id INTEGER NOT NULL,"
  "  read_time INTEGER NOT NULL,"
  "  PRIMARY KEY (message_id, reader_id)) WITHOUT ROWID;",
  /* 11: a conversation's history by an integer key (#17): the writer's
   * insert into (app_id, channel text, sent_time) compared strings at
   * every level of a random descent and split pages often; (channel_hash,
   * sent_time) compares integers in half the bytes. channel_hash is
   * natterd_sqlite_channel_hash() of app_id and channel, set on the
   * persisted rows only (the index holds no other). */
  "ALTER TABLE messages ADD COLUMN channel_hash INTEGER;"
  "UPDATE messages SET channel_hash = natterd_channel_hash (app_id, channel) WHERE flags & 1;"
  "DROP INDEX messages_channel;"
  "CREATE INDEX messages_conversation ON messages (channel_hash, sent_time) WHERE flags & 1;"
  /* ... and no index on the inbox's message_id, an insert for every
   * entry: old entries are pruned by each user's seqs instead. */
  "DROP INDEX inbox_message;",
  /* 12: client_msg_id idempotency by an integer key (#17): the unique
   * index on (sender_id, client_msg_id, device_id) compared text at
   * every level and held ~40-byte entries; dedup_key is
   * natterd_sqlite_dedup_key() of the three, an 8-byte integer. The
   * columns stay in the row, which tells two colliding keys apart; of
   * rows already stored whose keys collide, the later ones take the next
   * keys up, as the writer gives them. */
  "ALTER TABLE messages ADD COLUMN dedup_key INTEGER;"
  "UPDATE messages SET dedup_key = natterd_dedup_key (sender_id, device_id, client_msg_id)"
  " WHERE client_msg_id IS NOT NULL AND device_id IS NOT NULL;"
  "UPDATE messages SET dedup_key = (x.dedup_key + x.n - 1) & 0x7fffffffffffffff FROM"
  " (SELECT id, dedup_key, ROW_NUMBER () OVER (PARTITION BY dedup_key ORDER BY id) AS n"
  "  FROM messages WHERE dedup_key IS NOT NULL) AS x WHERE messages.id = x.id AND x.n > 1;"
  "DROP INDEX messages_dedup;"
  "CREATE UNIQUE INDEX messages_dedup_key ON messages (dedup_key) WHERE dedup_key IS NOT NULL;",
  /* 13: the idempotency key keyed (#17): schema 12's FNV-1a had no
   * secret, so a client could pick client_msg_ids whose keys collide and
   * make the writer probe up to 64 rows a message. store_keys holds the
   * database's own random 16 bytes ('dedup'), the SipHash key of
   * natterd_sqlite_dedup_key(); the rows already stored are keyed again
   * with it (the index dropped meanwhile, so no row meets another's old
   * key), colliding ones taking the next keys in id order, each
   * NATTERD_SQLITE_DEDUP_PROBE_STEP (65536) up, as the writer does. */
  "CREATE TABLE store_keys ("
  "  name TEXT PRIMARY KEY,"
  "  key BLOB NOT NULL) WITHOUT ROWID;"
  "INSERT INTO store_keys (name, key) VALUES ('dedup', natterd_random_key ());"
  "DROP INDEX messages_dedup_key;"
  "UPDATE messages SET dedup_key = natterd_keyed_dedup_key ((SELECT key FROM store_keys WHERE name = 'dedup'),"
  " sender_id, device_id, client_msg_id) WHERE dedup_key IS NOT NULL;"
  "UPDATE messages SET dedup_key = (x.dedup_key + (x.n - 1) * 65536) & 0x7fffffffffffffff FROM"
  " (SELECT id, dedup_key, ROW_NUMBER () OVER (PARTITION BY dedup_key ORDER BY id) AS n"
  "  FROM messages WHERE dedup_key IS NOT NULL) AS x WHERE messages.id = x.id AND x.n > 1;"
  "CREATE UNIQUE INDEX messages_dedup_key ON messages (dedup_key) WHERE dedup_key IS NOT NULL;",
};

G_STATIC_ASSERT (G_N_ELEMENTS (migrations) == NATTERD_STORE_SQLITE_SCHEMA_VERSION);

static int
get_user_version (sqlite3 *db)
{
  sqlite3_stmt *stmt = NULL;
  int version = -1;

  if (sqlite3_prepare_v2 (db, "PRAGMA user_version", -1, &stmt, NULL) == SQLITE_OK &&
      sqlite3_step (stmt) == SQLITE_ROW)
    version = sqlite3_column_int (stmt, 0);
  sqlite3_finalize (stmt);
  return version;
}

gboolean
natterd_store_sqlite_migrate (sqlite3     *db,
                              int          target,
                              GError     **error)
{
  int version = get_user_version (db);

  if (version < 0)
    return natterd_sqlite_fail (db, sqlite3_errcode (db), "PRAGMA user_version", error);

  if (version > NATTERD_STORE_SQLITE_SCHEMA_VERSION)
    {
      g_set_error (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_NEWER_SCHEMA,
                   "The database has schema version %d; this natterd knows up to %d. "
                   "Run a newer natterd on it.", version, NATTERD_STORE_SQLITE_SCHEMA_VERSION);
      return FALSE;
    }

  for (; version < target; version++)
    {
      g_autofree char *bump = g_strdup_printf ("PRAGMA user_version = %d", version + 1);

      if (!natterd_sqlite_exec (db, "BEGIN IMMEDIATE", error))
        return FALSE;
      if (!natterd_sqlite_exec (db, migrations[version], error) ||
          !natterd_sqlite_exec (db, bump, error) ||
          !natterd_sqlite_exec (db, "COMMIT", error))
        {
          g_prefix_error (error, "Migration to schema version %d failed: ", version + 1);
          natterd_sqlite_exec (db, "ROLLBACK", NULL);
          return FALSE;
        }
    }

  return TRUE;
}

/* ------------------------------------------------------------------- load */

gboolean
natterd_store_sqlite_read_apps (sqlite3    *db,
                                GPtrArray  *apps,
                                GError    **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2 (db,
                               "SELECT id, app_key, app_secret, name, token_key, settings, created,"
                               " old_secret, old_secret_expires FROM apps ORDER BY id", -1, &stmt, NULL);

  if (rc != SQLITE_OK)
    return natterd_sqlite_fail (db, rc, "apps", error);

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      NatterdAppRecord *app = g_new0 (NatterdAppRecord, 1);

      app->id = sqlite3_column_int64 (stmt, 0);
      app->app_key = natterd_sqlite_column_text (stmt, 1);
      app->app_secret = natterd_sqlite_column_text (stmt, 2);
      app->name = natterd_sqlite_column_text (stmt, 3);
      app->token_key = g_bytes_new (sqlite3_column_blob (stmt, 4), (gsize) sqlite3_column_bytes (stmt, 4));
      app->settings = natterd_sqlite_column_text (stmt, 5);
      app->created = sqlite3_column_int64 (stmt, 6);
      app->app_secret_old = natterd_sqlite_column_text (stmt, 7);
      app->app_secret_old_expires = sqlite3_column_int64 (stmt, 8);
      g_ptr_array_add (apps, app);
    }
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    return natterd_sqlite_fail (db, rc, "apps", error);
  return TRUE;
}

gboolean
natterd_store_sqlite_load (NatterdStore           *store,
                           const NatterdLoadSink  *sink,
                           gpointer                data,
                           GError                **error)
{
  NatterdStoreSqlite *self = NATTERD_STORE_SQLITE (store);
  g_autoptr(GPtrArray) apps = g_ptr_array_new_with_free_func ((GDestroyNotify) natterd_app_record_free);
  static const char * const queries[] = {
    /* Last seen: its devices' latest (#16). The inbox head: users.max_seq
     * or the last entry's seq, the larger (natterd-store-sqlite-write.c). */
    "SELECT id, app_id, user_id, name, portrait_uri, created, tokens_valid_after, blocked_until,"
    " max (max_seq, COALESCE ((SELECT max (seq) FROM inbox i WHERE i.user_id = users.id), 0)),"
    " (SELECT max (last_seen) FROM devices d WHERE d.user_id = users.id) FROM users",
    "SELECT id, app_id, group_id, name, created FROM groups",
    "SELECT group_id, user_id, joined, gag_until FROM group_members",
    "SELECT id, app_id, chatroom_id, name, created FROM chatrooms",
    "SELECT user_id, blocked_user_id FROM blacklist",
    "SELECT app_id, nonce, expires FROM api_nonces WHERE expires >= ?1",
  };

  if (!natterd_store_sqlite_read_apps (self->db, apps, error))
    return FALSE;
  for (guint i = 0; i < apps->len; i++)
    sink->app (data, g_ptr_array_index (apps, i));

  for (guint q = 0; q < G_N_ELEMENTS (queries); q++)
    {
      sqlite3_stmt *stmt = NULL;
      int rc = sqlite3_prepare_v2 (self->db, queries[q], -1, &stmt, NULL);

      if (rc != SQLITE_OK)
        return natterd_sqlite_fail (self->db, rc, queries[q], error);
      if (sqlite3_bind_parameter_count (stmt) > 0)
        sqlite3_bind_int64 (stmt, 1, g_get_real_time () / G_USEC_PER_SEC);

      while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
        {
          switch (q)
            {
            case 0:
              {
                NatterdUserRecord user = {
                  .id = sqlite3_column_int64 (stmt, 0),
                  .app_id = sqlite3_column_int64 (stmt, 1),
                  .user_id = (const char *) sqlite3_column_text (stmt, 2),
                  .name = (const char *) sqlite3_column_text (stmt, 3),
                  .portrait_uri = (const char *) sqlite3_column_text (stmt, 4),
                  .created = sqlite3_column_int64 (stmt, 5),
                  .tokens_valid_after = sqlite3_column_int64 (stmt, 6),
                  .blocked_until = sqlite3_column_int64 (stmt, 7),
                  .max_seq = (guint64) sqlite3_column_int64 (stmt, 8),
                  .last_seen = sqlite3_column_int64 (stmt, 9),
                };
                sink->user (data, &user);
              }
              break;
            case 1:
              sink->group (data, sqlite3_column_int64 (stmt, 0), sqlite3_column_int64 (stmt, 1),
                           (const char *) sqlite3_column_text (stmt, 2),
                           (const char *) sqlite3_column_text (stmt, 3),
                           sqlite3_column_int64 (stmt, 4));
              break;
            case 2:
              sink->member (data, sqlite3_column_int64 (stmt, 0), sqlite3_column_int64 (stmt, 1),
                            sqlite3_column_int64 (stmt, 2), sqlite3_column_int64 (stmt, 3));
              break;
            case 3:
              sink->chatroom (data, sqlite3_column_int64 (stmt, 0), sqlite3_column_int64 (stmt, 1),
                              (const char *) sqlite3_column_text (stmt, 2),
                              (const char *) sqlite3_column_text (stmt, 3),
                              sqlite3_column_int64 (stmt, 4));
              break;
            case 4:
              sink->blacklist (data, sqlite3_column_int64 (stmt, 0), sqlite3_column_int64 (stmt, 1));
              break;
            case 5:
              if (sink->nonce != NULL)
                sink->nonce (data, sqlite3_column_int64 (stmt, 0), (const char *) sqlite3_column_text (stmt, 1),
                             sqlite3_column_int64 (stmt, 2));
              break;
            default:
              g_assert_not_reached ();
            }
        }
      sqlite3_finalize (stmt);
      if (rc != SQLITE_DONE)
        return natterd_sqlite_fail (self->db, rc, queries[q], error);
    }

  return TRUE;
}

