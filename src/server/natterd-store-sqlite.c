/* natterd-store-sqlite.c
 *
 * Two connections: the writer's (migrations and start-up load happen on it
 * before the writer thread takes it over) and the reader's. WAL lets the
 * reader see committed data while the writer works.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-store-sqlite.h"

#include "natterd-log.h"

#include "natter-codes.h"
#include "natter-frame.h"
#include "natter-object-names.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

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
};

G_STATIC_ASSERT (G_N_ELEMENTS (migrations) == NATTERD_STORE_SQLITE_SCHEMA_VERSION);

enum {
  W_INSERT_MESSAGE,
  W_FIND_DUPLICATE,
  W_INSERT_INBOX,
  W_GET_MAX_SEQ,
  W_SET_MAX_SEQ,
  W_UPSERT_CONVERSATION,
  W_INSERT_HOUR,
  W_UPSERT_USER,
  W_UPSERT_DEVICE,
  W_GET_MESSAGE,
  W_RECALL_MESSAGE,
  W_PIN,
  W_UNPIN,
  W_MUTE,
  W_UNMUTE,
  W_REMOVE_CONVERSATION,
  W_CLEAR_UNREAD,
  W_UPSERT_GROUP,
  W_DELETE_GROUP,
  W_DELETE_GROUP_MEMBERS,
  W_ADD_MEMBER,
  W_REMOVE_MEMBER,
  W_GAG_MEMBER,
  W_UPSERT_CHATROOM,
  W_DELETE_CHATROOM,
  W_ADD_BLACKLIST,
  W_REMOVE_BLACKLIST,
  W_INSERT_MEDIA,
  W_PRUNE_CUTOFF,
  W_PRUNE_INBOX,
  W_INSERT_NONCE,
  W_PRUNE_NONCES,
  W_INSERT_WEBHOOK_EVENT,
  W_DELETE_WEBHOOK_EVENT,
  W_N_STATEMENTS
};

static const char * const writer_sql[W_N_STATEMENTS] = {
  [W_INSERT_MESSAGE] =
    "INSERT INTO messages (id, app_id, uid, conversation_type, sender_id, target_id, channel,"
    " object_name, content, push_content, flags, sent_time, device_id, client_msg_id)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
    " ON CONFLICT DO NOTHING",
  [W_FIND_DUPLICATE] =
    "SELECT id, uid, sent_time FROM messages"
    " WHERE sender_id = ?1 AND client_msg_id = ?2 AND device_id = ?3",
  [W_INSERT_INBOX] = "INSERT INTO inbox (user_id, seq, message_id) VALUES (?1, ?2, ?3)",
  [W_GET_MAX_SEQ] = "SELECT max_seq FROM users WHERE id = ?1",
  [W_SET_MAX_SEQ] = "UPDATE users SET max_seq = ?2 WHERE id = ?1",
  [W_UPSERT_CONVERSATION] =
    "INSERT INTO conversations (user_id, conversation_type, target_id, latest_message_id,"
    " updated_time, unread) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    " ON CONFLICT (user_id, conversation_type, target_id) DO UPDATE SET"
    " latest_message_id = excluded.latest_message_id, updated_time = excluded.updated_time,"
    " unread = unread + excluded.unread, hidden = 0",
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
  [W_REMOVE_CONVERSATION] =
    "UPDATE conversations SET hidden = 1, unread = 0 WHERE user_id = ?1"
    " AND conversation_type = ?2 AND target_id = ?3",
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
  [W_PRUNE_INBOX] =
    "DELETE FROM inbox WHERE (user_id, seq) IN"
    " (SELECT user_id, seq FROM inbox WHERE message_id < ?1 LIMIT ?2)",
  [W_INSERT_NONCE] =
    "INSERT INTO api_nonces (app_id, nonce, expires) VALUES (?1, ?2, ?3)"
    " ON CONFLICT DO UPDATE SET expires = MAX (expires, excluded.expires)",
  [W_PRUNE_NONCES] =
    "DELETE FROM api_nonces WHERE (app_id, nonce) IN"
    " (SELECT app_id, nonce FROM api_nonces WHERE expires < ?1 LIMIT ?2)",
  [W_INSERT_WEBHOOK_EVENT] =
    "INSERT INTO webhook_events (message_id, app_id, body) VALUES (?1, ?2, ?3)",
  [W_DELETE_WEBHOOK_EVENT] = "DELETE FROM webhook_events WHERE message_id = ?1",
};

#define MESSAGE_COLUMNS \
  "m.id, m.uid, m.conversation_type, u.user_id, m.target_id, m.object_name, m.content," \
  " m.push_content, m.flags, m.sent_time"

enum {
  R_REPLAY,
  R_HISTORY,
  R_MEDIA,
  R_EXPORT_FIRST_ID,
  R_EXPORT,
  R_WEBHOOK_EVENTS,
  R_MESSAGE_FLAGS,
  R_MEDIA_USAGE,
  R_N_STATEMENTS
};

static const char * const reader_sql[R_N_STATEMENTS] = {
  [R_REPLAY] =
    "SELECT i.seq, " MESSAGE_COLUMNS " FROM inbox i JOIN messages m ON m.id = i.message_id"
    " JOIN users u ON u.id = m.sender_id WHERE i.user_id = ?1 AND i.seq > ?2"
    " ORDER BY i.seq LIMIT ?3",
  [R_HISTORY] =
    "SELECT " MESSAGE_COLUMNS " FROM messages m JOIN users u ON u.id = m.sender_id"
    " WHERE m.app_id = ?1 AND m.channel = ?2 AND m.flags & 1 AND m.sent_time < ?3"
    " AND m.sent_time >= ?5 ORDER BY m.sent_time DESC, m.id DESC LIMIT ?4",
  [R_MEDIA] = "SELECT size, content_type, name FROM media WHERE app_id = ?1 AND hash = ?2",
  [R_MEDIA_USAGE] = "SELECT uploader_id, sum(size) FROM media WHERE app_id = ?1 GROUP BY uploader_id",
  [R_EXPORT_FIRST_ID] =
    "SELECT first_message_id FROM hours WHERE hour >= ?1 ORDER BY hour LIMIT 1",
  [R_EXPORT] =
    "SELECT " MESSAGE_COLUMNS ", m.channel FROM messages m JOIN users u ON u.id = m.sender_id"
    " WHERE m.id >= ?1 AND m.id < ?2 AND m.app_id = ?3 AND m.flags & 1"
    " AND m.sent_time >= ?4 AND m.sent_time < ?5 ORDER BY m.id",
  [R_MESSAGE_FLAGS] = "SELECT flags FROM messages WHERE id = ?1",
  [R_WEBHOOK_EVENTS] =
    "SELECT message_id, app_id, body FROM webhook_events WHERE message_id > ?1"
    " ORDER BY message_id LIMIT ?2",
};

struct _NatterdStoreSqlite
{
  NatterdStore  parent_instance;

  char         *path;
  sqlite3      *db;             /* writer: start-up, then the writer thread */
  sqlite3      *reader_db;      /* reader thread */
  sqlite3_stmt *writer_stmts[W_N_STATEMENTS];
  sqlite3_stmt *reader_stmts[R_N_STATEMENTS];

  /* Writer thread state, valid while no batch failed. */
  GHashTable   *max_seqs;       /* users.id → guint64* */
  GHashTable   *dirty_seqs;     /* users.id set, this batch */
  GHashTable   *pending_conversations; /* this batch, see flush_conversations() */
  gint64        next_message_id;
  gint64        last_hour;

  /* Checkpoints run on their own thread and connection, so a commit never
   * waits for the WAL to be copied back into the database file. */
  GThread      *checkpointer;
  GMutex        checkpoint_lock;
  GCond         checkpoint_wake;
  gboolean      checkpoint_stop;
  gboolean      checkpoint_wanted;
  gint          wal_frames;     /* atomic: frames in the WAL after the last commit */
  gint          backfilled;     /* atomic: frames the checkpointer copied in its last pass */
  gint          checkpointing;  /* atomic: the checkpointer is in a pass */
  gint          no_checkpointer; /* atomic: it has no connection */
  int           wal_reset_frames;
};

G_DEFINE_FINAL_TYPE (NatterdStoreSqlite, natterd_store_sqlite, NATTERD_TYPE_STORE)

/* ----------------------------------------------------------------- helpers */

/* Out of space, whatever SQLite was doing: the file system (ENOSPC) or
 * a quota (EDQUOT) said no. SQLite reports most as SQLITE_FULL; growing
 * the shm file or syncing may fail with an I/O error carrying the errno. */
static NatterdStoreError
error_code (sqlite3 *db,
            int      rc)
{
  int os_error = db != NULL ? sqlite3_system_errno (db) : 0;

  if ((rc & 0xff) == SQLITE_FULL ||
      ((rc & 0xff) == SQLITE_IOERR && (os_error == ENOSPC || os_error == EDQUOT)))
    return NATTERD_STORE_ERROR_FULL;
  return NATTERD_STORE_ERROR_FAILED;
}

static gboolean
fail (sqlite3     *db,
      int          rc,
      const char  *what,
      GError     **error)
{
  g_set_error (error, NATTERD_STORE_ERROR, error_code (db, rc), "%s: %s (%d)",
               what, db != NULL ? sqlite3_errmsg (db) : sqlite3_errstr (rc), rc);
  return FALSE;
}

static gboolean
exec (sqlite3     *db,
      const char  *sql,
      GError     **error)
{
  char *message = NULL;
  int rc = sqlite3_exec (db, sql, NULL, NULL, &message);

  if (rc != SQLITE_OK)
    {
      g_set_error (error, NATTERD_STORE_ERROR, error_code (db, rc), "%s (%d)",
                   message != NULL ? message : sqlite3_errstr (rc), rc);
      sqlite3_free (message);
      return FALSE;
    }
  return TRUE;
}

static void
bind_text (sqlite3_stmt *stmt,
           int           index,
           const char   *value)
{
  if (value == NULL)
    sqlite3_bind_null (stmt, index);
  else
    sqlite3_bind_text (stmt, index, value, -1, SQLITE_STATIC);
}

/* Runs a statement that returns no row. */
static gboolean
step_done (sqlite3       *db,
           sqlite3_stmt  *stmt,
           GError       **error)
{
  int rc = sqlite3_step (stmt);

  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  if (rc != SQLITE_DONE)
    return fail (db, rc, sqlite3_sql (stmt), error);
  return TRUE;
}

static char *
column_text (sqlite3_stmt *stmt,
             int           column)
{
  const unsigned char *text = sqlite3_column_text (stmt, column);

  return text != NULL ? g_strdup ((const char *) text) : NULL;
}

static gboolean
prepare_all (sqlite3            *db,
             const char * const *sql,
             sqlite3_stmt      **stmts,
             guint               n,
             GError            **error)
{
  for (guint i = 0; i < n; i++)
    {
      int rc = sqlite3_prepare_v3 (db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &stmts[i], NULL);

      if (rc != SQLITE_OK)
        return fail (db, rc, sql[i], error);
    }
  return TRUE;
}

static sqlite3 *
open_connection (const char  *path,
                 GError     **error)
{
  sqlite3 *db = NULL;
  int rc = sqlite3_open_v2 (path, &db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                            NULL);

  if (rc != SQLITE_OK)
    {
      fail (db, rc, path, error);
      sqlite3_close (db);
      return NULL;
    }

  sqlite3_extended_result_codes (db, 1);
  /* Another process (natterd --create-app while natterd runs) may hold the
   * write lock for a moment. */
  sqlite3_busy_timeout (db, 5000);

  /* foreign_keys is set outside any transaction, as SQLite requires; the
   * schema declares none (the writer keeps references consistent itself). */
  if (!exec (db,
             "PRAGMA journal_mode = WAL;"
             "PRAGMA synchronous = FULL;"
             "PRAGMA foreign_keys = OFF;"
             "PRAGMA cache_size = -16384;"
             "PRAGMA temp_store = MEMORY;",
             error))
    {
      g_prefix_error (error, "%s: ", path);
      sqlite3_close (db);
      return NULL;
    }

  return db;
}

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

static gboolean
migrate (sqlite3     *db,
         int          target,
         GError     **error)
{
  int version = get_user_version (db);

  if (version < 0)
    return fail (db, sqlite3_errcode (db), "PRAGMA user_version", error);

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

      if (!exec (db, "BEGIN IMMEDIATE", error))
        return FALSE;
      if (!exec (db, migrations[version], error) || !exec (db, bump, error) ||
          !exec (db, "COMMIT", error))
        {
          g_prefix_error (error, "Migration to schema version %d failed: ", version + 1);
          exec (db, "ROLLBACK", NULL);
          return FALSE;
        }
    }

  return TRUE;
}

/* ------------------------------------------------------------------ writer */

static gboolean
get_max_seq (NatterdStoreSqlite  *self,
             gint64               user_id,
             guint64            **out,
             GError             **error)
{
  sqlite3_stmt *stmt = self->writer_stmts[W_GET_MAX_SEQ];
  guint64 *seq = g_hash_table_lookup (self->max_seqs, &user_id);
  gint64 *key;
  int rc;

  if (seq != NULL)
    {
      *out = seq;
      return TRUE;
    }

  sqlite3_bind_int64 (stmt, 1, user_id);
  rc = sqlite3_step (stmt);
  seq = g_new0 (guint64, 1);
  if (rc == SQLITE_ROW)
    *seq = (guint64) sqlite3_column_int64 (stmt, 0);
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    {
      g_free (seq);
      fail (self->db, rc, "max_seq", error);
      return FALSE;
    }

  key = g_new (gint64, 1);
  *key = user_id;
  g_hash_table_insert (self->max_seqs, key, seq);
  *out = seq;
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

/* Conversation rows change with every message for every participant; within
 * one batch they are folded so a busy conversation costs one upsert. Other
 * ops touching conversations flush them first to keep the order. */
static gboolean
flush_conversations (NatterdStoreSqlite  *self,
                     GError             **error)
{
  sqlite3_stmt *stmt = self->writer_stmts[W_UPSERT_CONVERSATION];
  GHashTableIter iter;
  PendingConversation *c;

  g_hash_table_iter_init (&iter, self->pending_conversations);
  while (g_hash_table_iter_next (&iter, (gpointer *) &c, NULL))
    {
      sqlite3_bind_int64 (stmt, 1, c->user_id);
      sqlite3_bind_int (stmt, 2, c->conversation_type);
      bind_text (stmt, 3, c->target_id);
      sqlite3_bind_int64 (stmt, 4, c->latest_message_id);
      sqlite3_bind_int64 (stmt, 5, c->updated_time);
      sqlite3_bind_int (stmt, 6, (int) c->unread);
      if (!step_done (self->db, stmt, error))
        return FALSE;
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

static gboolean
write_publish (NatterdStoreSqlite  *self,
               NatterdPublishOp    *op,
               GError             **error)
{
  sqlite3_stmt *stmt = self->writer_stmts[W_INSERT_MESSAGE];
  NatterdMessage *m = &op->message;
  gboolean persisted = (m->flags & NATTER_MESSAGE_FLAG_PERSISTED) != 0;
  gint64 id = self->next_message_id;
  char uid[20];
  gint64 hour;

  /* A batch that failed is written again one op at a time. */
  g_clear_pointer (&op->webhook_body, g_free);
  natterd_message_uid_make (id, uid);

  sqlite3_bind_int64 (stmt, 1, id);
  sqlite3_bind_int64 (stmt, 2, op->app_id);
  bind_text (stmt, 3, persisted ? uid : NULL);
  sqlite3_bind_int (stmt, 4, m->conversation_type);
  sqlite3_bind_int64 (stmt, 5, op->sender_id);
  bind_text (stmt, 6, m->target_id);
  bind_text (stmt, 7, op->channel);
  bind_text (stmt, 8, m->object_name);
  bind_text (stmt, 9, m->content);
  bind_text (stmt, 10, m->push_content);
  sqlite3_bind_int (stmt, 11, (int) m->flags);
  sqlite3_bind_int64 (stmt, 12, m->sent_time);
  bind_text (stmt, 13, op->device_id);
  bind_text (stmt, 14, op->client_msg_id);
  if (!step_done (self->db, stmt, error))
    return FALSE;

  if (sqlite3_changes (self->db) == 0)
    {
      /* Sent before: answer with the first one, add nothing. */
      sqlite3_stmt *find = self->writer_stmts[W_FIND_DUPLICATE];
      int rc;

      sqlite3_bind_int64 (find, 1, op->sender_id);
      bind_text (find, 2, op->client_msg_id);
      bind_text (find, 3, op->device_id);
      rc = sqlite3_step (find);
      if (rc == SQLITE_ROW)
        {
          m->id = sqlite3_column_int64 (find, 0);
          g_free (m->uid);
          m->uid = column_text (find, 1);
          m->sent_time = sqlite3_column_int64 (find, 2);
          op->duplicate = TRUE;
        }
      sqlite3_reset (find);
      sqlite3_clear_bindings (find);
      if (rc != SQLITE_ROW)
        return fail (self->db, rc, "duplicate lookup", error);
      return TRUE;
    }

  self->next_message_id++;
  m->id = id;
  g_free (m->uid);
  m->uid = persisted ? g_strdup (uid) : NULL;

  if (op->webhook && persisted)
    {
      sqlite3_stmt *event = self->writer_stmts[W_INSERT_WEBHOOK_EVENT];

      op->webhook_body = natterd_webhook_event_body (m);
      sqlite3_bind_int64 (event, 1, id);
      sqlite3_bind_int64 (event, 2, op->app_id);
      bind_text (event, 3, op->webhook_body);
      if (!step_done (self->db, event, error))
        return FALSE;
    }

  hour = m->sent_time / (3600 * 1000);
  if (hour != self->last_hour)
    {
      sqlite3_stmt *h = self->writer_stmts[W_INSERT_HOUR];

      sqlite3_bind_int64 (h, 1, hour);
      sqlite3_bind_int64 (h, 2, id);
      if (!step_done (self->db, h, error))
        return FALSE;
      self->last_hour = hour;
    }

  for (guint i = 0; i < op->recipients->len; i++)
    {
      NatterdRecipient *r = &g_array_index (op->recipients, NatterdRecipient, i);

      if (r->inbox)
        {
          sqlite3_stmt *inbox = self->writer_stmts[W_INSERT_INBOX];
          guint64 *max_seq;

          if (!get_max_seq (self, r->user_id, &max_seq, error))
            return FALSE;
          r->seq = ++*max_seq;
          g_hash_table_add (self->dirty_seqs, g_memdup2 (&r->user_id, sizeof (gint64)));

          sqlite3_bind_int64 (inbox, 1, r->user_id);
          sqlite3_bind_int64 (inbox, 2, (sqlite3_int64) r->seq);
          sqlite3_bind_int64 (inbox, 3, id);
          if (!step_done (self->db, inbox, error))
            return FALSE;
        }

      if (r->conversation && persisted)
        note_conversation (self, r, m);
    }

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
      uid = column_text (stmt, 1);
      sender_id = sqlite3_column_int64 (stmt, 2);
      channel = column_text (stmt, 3);
      object_name = column_text (stmt, 4);
      sent_time = sqlite3_column_int64 (stmt, 5);
      op->original.conversation_type = sqlite3_column_int (stmt, 6);
      op->original.target_id = column_text (stmt, 7);
      op->original.content = column_text (stmt, 8);
    }
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return fail (self->db, rc, "recall lookup", error);

  op->found = rc == SQLITE_ROW && app_id == op->app_id && g_strcmp0 (uid, op->uid) == 0 &&
              sender_id == op->sender_id && g_strcmp0 (channel, op->channel) == 0 &&
              g_strcmp0 (object_name, NATTER_OBJECT_RECALL_NOTIFICATION) != 0 &&
              sent_time >= op->window_start;
  if (!op->found)
    return TRUE;

  op->original.id = op->message_id;
  op->original.uid = g_strdup (uid);
  op->original.object_name = g_steal_pointer (&object_name);
  op->original.sent_time = sent_time;

  {
    g_autofree char *replacement = natterd_recall_notification (op->operator_id, op->recall_time,
                                                                op->original.object_name);

    stmt = self->writer_stmts[W_RECALL_MESSAGE];
    sqlite3_bind_int64 (stmt, 1, op->message_id);
    bind_text (stmt, 2, replacement);
    if (!step_done (self->db, stmt, error))
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

  sqlite3_bind_int64 (stmt, 1, op->user_id);
  sqlite3_bind_int (stmt, 2, op->conversation_type);
  bind_text (stmt, 3, op->target_id);
  if (sqlite3_bind_parameter_count (stmt) >= 4)
    sqlite3_bind_int64 (stmt, 4, op->time);
  return step_done (self->db, stmt, error);
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
      if (!step_done (self->db, stmt, error))
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
    return fail (self->db, rc, "prune cutoff", error);

  stmt = self->writer_stmts[W_PRUNE_INBOX];
  sqlite3_bind_int64 (stmt, 1, cutoff);
  sqlite3_bind_int (stmt, 2, (int) op->limit);
  if (!step_done (self->db, stmt, error))
    return FALSE;
  op->deleted = (guint) sqlite3_changes (self->db);
  return TRUE;
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
        bind_text (stmt, 3, u->user_id);
        bind_text (stmt, 4, u->name != NULL ? u->name : "");
        bind_text (stmt, 5, u->portrait_uri != NULL ? u->portrait_uri : "");
        sqlite3_bind_int64 (stmt, 6, u->created);
        sqlite3_bind_int64 (stmt, 7, u->tokens_valid_after);
        sqlite3_bind_int64 (stmt, 8, u->blocked_until);
        return step_done (self->db, stmt, error);
      }

    case NATTERD_OP_DEVICES:
      {
        NatterdDevicesOp *d = (NatterdDevicesOp *) op;

        stmt = self->writer_stmts[W_UPSERT_DEVICE];
        for (guint i = 0; i < d->devices->len; i++)
          {
            NatterdDeviceRecord *device = &g_array_index (d->devices, NatterdDeviceRecord, i);

            sqlite3_bind_int64 (stmt, 1, device->user_id);
            bind_text (stmt, 2, device->device_id);
            bind_text (stmt, 3, device->platform != NULL ? device->platform : "");
            sqlite3_bind_int64 (stmt, 4, device->last_seen);
            sqlite3_bind_int64 (stmt, 5, (sqlite3_int64) device->acked_seq);
            if (!step_done (self->db, stmt, error))
              return FALSE;
          }
        return TRUE;
      }

    case NATTERD_OP_GROUP:
      {
        NatterdGroupOp *g = (NatterdGroupOp *) op;

        if (g->remove)
          {
            stmt = self->writer_stmts[W_DELETE_GROUP_MEMBERS];
            sqlite3_bind_int64 (stmt, 1, g->id);
            if (!step_done (self->db, stmt, error))
              return FALSE;
            stmt = self->writer_stmts[W_DELETE_GROUP];
            sqlite3_bind_int64 (stmt, 1, g->id);
            return step_done (self->db, stmt, error);
          }

        stmt = self->writer_stmts[W_UPSERT_GROUP];
        sqlite3_bind_int64 (stmt, 1, g->id);
        sqlite3_bind_int64 (stmt, 2, g->app_id);
        bind_text (stmt, 3, g->group_id);
        bind_text (stmt, 4, g->name != NULL ? g->name : "");
        sqlite3_bind_int64 (stmt, 5, g->created);
        return step_done (self->db, stmt, error);
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
            if (!step_done (self->db, stmt, error))
              return FALSE;
          }
        return TRUE;
      }

    case NATTERD_OP_CHATROOM:
      {
        NatterdChatroomOp *c = (NatterdChatroomOp *) op;

        if (c->remove)
          {
            stmt = self->writer_stmts[W_DELETE_CHATROOM];
            sqlite3_bind_int64 (stmt, 1, c->id);
            return step_done (self->db, stmt, error);
          }
        stmt = self->writer_stmts[W_UPSERT_CHATROOM];
        sqlite3_bind_int64 (stmt, 1, c->id);
        sqlite3_bind_int64 (stmt, 2, c->app_id);
        bind_text (stmt, 3, c->chatroom_id);
        bind_text (stmt, 4, c->name != NULL ? c->name : "");
        sqlite3_bind_int64 (stmt, 5, c->created);
        return step_done (self->db, stmt, error);
      }

    case NATTERD_OP_BLACKLIST:
      {
        NatterdBlacklistOp *b = (NatterdBlacklistOp *) op;

        stmt = self->writer_stmts[b->remove ? W_REMOVE_BLACKLIST : W_ADD_BLACKLIST];
        for (guint i = 0; i < b->blocked_ids->len; i++)
          {
            sqlite3_bind_int64 (stmt, 1, b->user_id);
            sqlite3_bind_int64 (stmt, 2, g_array_index (b->blocked_ids, gint64, i));
            if (!step_done (self->db, stmt, error))
              return FALSE;
          }
        return TRUE;
      }

    case NATTERD_OP_PRUNE:
      return write_prune (self, (NatterdPruneOp *) op, error);

    case NATTERD_OP_NONCE:
      {
        NatterdNonceOp *n = (NatterdNonceOp *) op;

        stmt = self->writer_stmts[W_INSERT_NONCE];
        sqlite3_bind_int64 (stmt, 1, n->app_id);
        bind_text (stmt, 2, n->nonce);
        sqlite3_bind_int64 (stmt, 3, n->expires);
        return step_done (self->db, stmt, error);
      }

    case NATTERD_OP_WEBHOOK_DONE:
      {
        GArray *ids = ((NatterdWebhookDoneOp *) op)->ids;

        stmt = self->writer_stmts[W_DELETE_WEBHOOK_EVENT];
        for (guint i = 0; i < ids->len; i++)
          {
            sqlite3_bind_int64 (stmt, 1, g_array_index (ids, gint64, i));
            if (!step_done (self->db, stmt, error))
              return FALSE;
          }
        return TRUE;
      }

    case NATTERD_OP_MEDIA:
      {
        NatterdMediaOp *m = (NatterdMediaOp *) op;

        stmt = self->writer_stmts[W_INSERT_MEDIA];
        sqlite3_bind_int64 (stmt, 1, m->app_id);
        bind_text (stmt, 2, m->hash);
        sqlite3_bind_int64 (stmt, 3, (sqlite3_int64) m->size);
        bind_text (stmt, 4, m->content_type);
        bind_text (stmt, 5, m->name != NULL ? m->name : "");
        sqlite3_bind_int64 (stmt, 6, m->uploader_id);
        sqlite3_bind_int64 (stmt, 7, m->created);
        return step_done (self->db, stmt, error);
      }

    default:
      g_assert_not_reached ();
    }
}

static gboolean
load_counters (NatterdStoreSqlite  *self,
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
    return fail (self->db, rc, "next message id", error);

  self->last_hour = -1;
  g_hash_table_remove_all (self->max_seqs);
  return TRUE;
}

static gboolean
natterd_store_sqlite_write (NatterdStore  *store,
                            NatterdOp    **ops,
                            guint          n_ops,
                            GError       **error)
{
  NatterdStoreSqlite *self = NATTERD_STORE_SQLITE (store);
  GHashTableIter iter;
  gint64 *user_id;

  if (!exec (self->db, "BEGIN IMMEDIATE", error))
    return FALSE;

  for (guint i = 0; i < n_ops; i++)
    if (!write_one (self, ops[i], error))
      goto failed;

  if (!flush_conversations (self, error))
    goto failed;

  g_hash_table_iter_init (&iter, self->dirty_seqs);
  while (g_hash_table_iter_next (&iter, (gpointer *) &user_id, NULL))
    {
      sqlite3_stmt *stmt = self->writer_stmts[W_SET_MAX_SEQ];
      guint64 *seq = g_hash_table_lookup (self->max_seqs, user_id);

      sqlite3_bind_int64 (stmt, 1, *user_id);
      sqlite3_bind_int64 (stmt, 2, (sqlite3_int64) *seq);
      if (!step_done (self->db, stmt, error))
        goto failed;
    }

  if (!exec (self->db, "COMMIT", error))
    goto failed;

  g_hash_table_remove_all (self->dirty_seqs);
  return TRUE;

failed:
  exec (self->db, "ROLLBACK", NULL);
  g_hash_table_remove_all (self->dirty_seqs);
  g_hash_table_remove_all (self->pending_conversations);
  /* The in-memory counters ran ahead of what was rolled back. */
  load_counters (self, NULL);
  for (guint i = 0; i < n_ops; i++)
    if (ops[i]->kind == NATTERD_OP_PUBLISH)
      {
        NatterdPublishOp *p = (NatterdPublishOp *) ops[i];

        p->duplicate = FALSE;
        g_clear_pointer (&p->webhook_body, g_free);
        for (guint r = 0; r < p->recipients->len; r++)
          g_array_index (p->recipients, NatterdRecipient, r).seq = 0;
      }
  return FALSE;
}

/* ------------------------------------------------------------------ reader */

static void
read_message (sqlite3_stmt   *stmt,
              int             first,
              NatterdMessage *m)
{
  m->id = sqlite3_column_int64 (stmt, first);
  m->uid = column_text (stmt, first + 1);
  m->conversation_type = sqlite3_column_int (stmt, first + 2);
  m->sender_user_id = column_text (stmt, first + 3);
  m->target_id = column_text (stmt, first + 4);
  m->object_name = column_text (stmt, first + 5);
  m->content = column_text (stmt, first + 6);
  m->push_content = column_text (stmt, first + 7);
  m->flags = (guint) sqlite3_column_int (stmt, first + 8);
  m->sent_time = sqlite3_column_int64 (stmt, first + 9);
}

static gboolean finish_rows (sqlite3 *db, sqlite3_stmt *stmt, int rc, GError **error);

/* How much of a latest message's content a conversation list reads: a
 * preview is made from its start. SQLite reads only the pages a blob read
 * touches: 300 latest messages of 128 KiB took 4 ms this way, 25-30 ms
 * read whole (one machine, warm cache). */
#define PREVIEW_READ_MAX (16 * 1024)

/* A conversation's latest message as a conversation list shows it, from
 * the columns of the message row that come before its content: reading a
 * column stored after 128 KiB of content follows its whole chain of
 * overflow pages. So sent_time is the conversation's updated_time (the
 * writer sets one from the other), and flags are those of the object name
 * when it is a known one (the only flags such messages are stored with);
 * a custom one's are read (rarely: the latest message of a conversation
 * with a big custom message). Content over 1 KiB becomes its preview here,
 * on the reader thread, from at most PREVIEW_READ_MAX bytes read through
 * *@blob (opened on first use, moved to each row); no push content.
 * @first: m.id, m.uid, m.conversation_type, u.user_id, m.target_id,
 * m.object_name. */
static gboolean
read_latest_message (NatterdStoreSqlite  *self,
                     sqlite3_stmt        *stmt,
                     int                  first,
                     gint64               sent_time,
                     NatterdMessage      *m,
                     sqlite3_blob       **blob,
                     GError             **error)
{
  g_autofree char *start = NULL;
  int size, length, rc;

  m->id = sqlite3_column_int64 (stmt, first);
  m->uid = column_text (stmt, first + 1);
  m->conversation_type = sqlite3_column_int (stmt, first + 2);
  m->sender_user_id = column_text (stmt, first + 3);
  m->target_id = column_text (stmt, first + 4);
  m->object_name = column_text (stmt, first + 5);
  m->sent_time = sent_time;

  if (natter_object_name_is_known (m->object_name))
    m->flags = natter_object_name_flags (m->object_name, 0);
  else
    {
      sqlite3_stmt *flags = self->reader_stmts[R_MESSAGE_FLAGS];

      sqlite3_bind_int64 (flags, 1, m->id);
      rc = sqlite3_step (flags);
      if (rc == SQLITE_ROW)
        {
          m->flags = (guint) sqlite3_column_int (flags, 0);
          rc = sqlite3_step (flags);
        }
      if (!finish_rows (self->reader_db, flags, rc, error))
        return FALSE;
    }

  rc = *blob == NULL ? sqlite3_blob_open (self->reader_db, "main", "messages", "content", m->id, 0, blob)
                     : sqlite3_blob_reopen (*blob, m->id);
  if (rc != SQLITE_OK)
    return fail (self->reader_db, rc, "latest message", error);

  /* An image's or voice message's other fields come after its thumbnail
   * or data: those are read whole (at most 128 KiB) to keep them. */
  size = sqlite3_blob_bytes (*blob);
  length = g_strcmp0 (m->object_name, NATTER_OBJECT_IMAGE) == 0 ||
           g_strcmp0 (m->object_name, NATTER_OBJECT_VOICE) == 0 ? size : MIN (size, PREVIEW_READ_MAX);
  start = g_malloc ((gsize) length + 1);
  rc = sqlite3_blob_read (*blob, start, length, 0);
  if (rc != SQLITE_OK)
    return fail (self->reader_db, rc, "latest message", error);
  start[length] = '\0';

  m->content = natter_content_preview (m->object_name, start, (gsize) length, (gsize) size);
  if (m->content != NULL)
    m->flags |= NATTER_MESSAGE_FLAG_PREVIEW;
  else
    m->content = g_steal_pointer (&start);
  return TRUE;
}

static gboolean
finish_rows (sqlite3       *db,
             sqlite3_stmt  *stmt,
             int            rc,
             GError       **error)
{
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  if (rc != SQLITE_DONE)
    return fail (db, rc, sqlite3_sql (stmt), error);
  return TRUE;
}

static gboolean
read_conversations (NatterdStoreSqlite        *self,
                    NatterdConversationsRead  *read,
                    GError                   **error)
{
  g_autoptr(GString) sql = g_string_new (NULL);
  sqlite3_stmt *stmt = NULL;
  sqlite3_blob *blob = NULL;
  int rc;

  /* The latest message's columns before its content only: see
   * read_latest_message(). */
  g_string_append (sql,
                   "SELECT c.conversation_type, c.target_id, c.unread, c.pinned, c.muted,"
                   " c.updated_time, m.id, m.uid, m.conversation_type, u.user_id, m.target_id,"
                   " m.object_name"
                   " FROM conversations c LEFT JOIN messages m ON m.id = c.latest_message_id"
                   " LEFT JOIN users u ON u.id = m.sender_id"
                   " WHERE c.user_id = ?1 AND c.hidden = 0");
  if (read->types->len > 0)
    {
      g_string_append (sql, " AND c.conversation_type IN (");
      for (guint i = 0; i < read->types->len; i++)
        g_string_append_printf (sql, "%s%d", i ? "," : "", g_array_index (read->types, int, i));
      g_string_append (sql, ")");
    }
  if (read->has_cursor)
    g_string_append (sql, " AND (c.pinned, c.updated_time, c.conversation_type, c.target_id)"
                          " < (?2, ?3, ?4, ?5)");
  g_string_append (sql, " ORDER BY c.pinned DESC, c.updated_time DESC,"
                        " c.conversation_type DESC, c.target_id DESC LIMIT ?6");

  rc = sqlite3_prepare_v2 (self->reader_db, sql->str, -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    return fail (self->reader_db, rc, "conversation list", error);

  sqlite3_bind_int64 (stmt, 1, read->user_id);
  if (read->has_cursor)
    {
      sqlite3_bind_int (stmt, 2, read->cursor_pinned ? 1 : 0);
      sqlite3_bind_int64 (stmt, 3, read->cursor_time);
      sqlite3_bind_int (stmt, 4, read->cursor_type);
      bind_text (stmt, 5, read->cursor_target);
    }
  sqlite3_bind_int (stmt, 6, (int) read->limit);

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      NatterdConversation *c = g_new0 (NatterdConversation, 1);

      g_ptr_array_add (read->conversations, c);

      c->conversation_type = sqlite3_column_int (stmt, 0);
      c->target_id = column_text (stmt, 1);
      c->unread = (guint) sqlite3_column_int (stmt, 2);
      c->pinned = sqlite3_column_int (stmt, 3) != 0;
      c->muted = sqlite3_column_int (stmt, 4) != 0;
      c->updated_time = sqlite3_column_int64 (stmt, 5);
      if (sqlite3_column_type (stmt, 6) != SQLITE_NULL && sqlite3_column_type (stmt, 9) != SQLITE_NULL)
        {
          c->latest = g_new0 (NatterdMessage, 1);
          if (!read_latest_message (self, stmt, 6, c->updated_time, c->latest, &blob, error))
            break;
        }
    }
  if (blob != NULL)
    sqlite3_blob_close (blob);
  sqlite3_finalize (stmt);
  if (rc == SQLITE_ROW)
    return FALSE;       /* read_latest_message() failed */
  if (rc != SQLITE_DONE)
    return fail (self->reader_db, rc, "conversation list", error);
  return TRUE;
}

static gint64
export_first_id (NatterdStoreSqlite  *self,
                 gint64               hour,
                 GError             **error)
{
  sqlite3_stmt *stmt = self->reader_stmts[R_EXPORT_FIRST_ID];
  gint64 id = G_MAXINT64;
  int rc;

  sqlite3_bind_int64 (stmt, 1, hour);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    {
      id = sqlite3_column_int64 (stmt, 0);
      rc = SQLITE_DONE;
    }
  if (!finish_rows (self->reader_db, stmt, rc, error))
    return -1;
  return id;
}

/* One JSON object a line in the shape of RongCloud's history files, gzip
 * compressed, written to a temporary name and renamed when complete. */
static gboolean
read_export (NatterdStoreSqlite  *self,
             NatterdExportRead   *read,
             GError             **error)
{
  sqlite3_stmt *stmt = self->reader_stmts[R_EXPORT];
  g_autofree char *partial = g_strconcat (read->path, ".partial", NULL);
  g_autoptr(GFile) file = g_file_new_for_path (partial);
  g_autoptr(GFileOutputStream) raw = NULL;
  g_autoptr(GZlibCompressor) compressor = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP, 6);
  g_autoptr(GOutputStream) out = NULL;
  g_autoptr(GString) line = g_string_new (NULL);
  gint64 from_hour = read->from_time / (3600 * 1000);
  gint64 to_hour = read->to_time / (3600 * 1000);
  gint64 first, last;
  int rc;

  /* A message's hour row may precede it by a little when clocks of
   * conversations were bumped; read one hour around and filter by time. */
  first = export_first_id (self, from_hour - 1, error);
  last = export_first_id (self, to_hour + 1, error);
  if (first < 0 || last < 0)
    return FALSE;

  raw = g_file_replace (file, NULL, FALSE, G_FILE_CREATE_PRIVATE, NULL, error);
  if (raw == NULL)
    return FALSE;
  out = g_converter_output_stream_new (G_OUTPUT_STREAM (raw), G_CONVERTER (compressor));

  sqlite3_bind_int64 (stmt, 1, first);
  sqlite3_bind_int64 (stmt, 2, last);
  sqlite3_bind_int64 (stmt, 3, read->app_id);
  sqlite3_bind_int64 (stmt, 4, read->from_time);
  sqlite3_bind_int64 (stmt, 5, read->to_time);

  read->count = 0;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      NatterdMessage m = { 0 };
      g_autoptr(GDateTime) time = NULL;
      g_autofree char *stamp = NULL;
      gboolean group;

      read_message (stmt, 0, &m);
      group = m.conversation_type == NATTER_CONVERSATION_GROUP ||
              m.conversation_type == NATTER_CONVERSATION_DISCUSSION;
      time = g_date_time_new_from_unix_utc (m.sent_time / 1000);
      stamp = g_date_time_format (time, "%Y-%m-%d %H:%M:%S");

      g_string_truncate (line, 0);
      g_string_append (line, "{\"fromUserId\":");
      natterd_json_append_string (line, m.sender_user_id);
      g_string_append (line, ",\"targetId\":");
      natterd_json_append_string (line, m.target_id);
      g_string_append_printf (line, ",\"targetType\":%d,\"GroupId\":", m.conversation_type);
      natterd_json_append_string (line, group ? m.target_id : "");
      g_string_append (line, ",\"classname\":");
      natterd_json_append_string (line, m.object_name);
      /* Content was checked to be a JSON object when it was published. */
      g_string_append_printf (line, ",\"content\":%s,\"dateTime\":\"%s.%03d\",\"msgUID\":",
                              m.content, stamp, (int) (m.sent_time % 1000));
      natterd_json_append_string (line, m.uid);
      g_string_append_printf (line, ",\"sentTime\":%" G_GINT64_FORMAT "}\n", m.sent_time);
      natterd_message_clear (&m);

      if (!g_output_stream_write_all (out, line->str, line->len, NULL, NULL, error))
        {
          sqlite3_reset (stmt);
          sqlite3_clear_bindings (stmt);
          return FALSE;
        }
      read->count++;
    }
  if (!finish_rows (self->reader_db, stmt, rc, error))
    return FALSE;

  if (!g_output_stream_close (out, NULL, error))
    return FALSE;
  if (g_rename (partial, read->path) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "%s: %s", read->path,
                   g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

static gboolean
read_replay (NatterdStoreSqlite  *self,
             NatterdReplayRead   *read,
             GError             **error)
{
  sqlite3_stmt *stmt = self->reader_stmts[R_REPLAY];
  gsize bytes = 0;
  int rc;

  sqlite3_bind_int64 (stmt, 1, read->user_id);
  sqlite3_bind_int64 (stmt, 2, (sqlite3_int64) read->after_seq);
  sqlite3_bind_int (stmt, 3, (int) read->limit);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      NatterdInboxEntry *entry = g_new0 (NatterdInboxEntry, 1);

      entry->seq = (guint64) sqlite3_column_int64 (stmt, 0);
      read_message (stmt, 1, &entry->message);
      g_ptr_array_add (read->entries, entry);
      bytes += entry->message.content != NULL ? strlen (entry->message.content) : 0;
      if (read->max_bytes > 0 && bytes >= read->max_bytes)
        {
          rc = SQLITE_DONE;  /* the page is full; the rest next time */
          break;
        }
    }
  return finish_rows (self->reader_db, stmt, rc, error);
}

static gboolean
read_history (NatterdStoreSqlite  *self,
              NatterdHistoryRead  *read,
              GError             **error)
{
  sqlite3_stmt *stmt = self->reader_stmts[R_HISTORY];
  int rc;

  sqlite3_bind_int64 (stmt, 1, read->app_id);
  bind_text (stmt, 2, read->channel);
  sqlite3_bind_int64 (stmt, 3, read->before_time > 0 ? read->before_time : G_MAXINT64);
  sqlite3_bind_int (stmt, 4, (int) read->limit);
  sqlite3_bind_int64 (stmt, 5, read->from_time);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      NatterdMessage *m = g_new0 (NatterdMessage, 1);

      read_message (stmt, 0, m);
      g_ptr_array_add (read->messages, m);
    }
  return finish_rows (self->reader_db, stmt, rc, error);
}

static gboolean
read_media (NatterdStoreSqlite  *self,
            NatterdMediaRead    *read,
            GError             **error)
{
  sqlite3_stmt *stmt = self->reader_stmts[R_MEDIA];
  int rc;

  sqlite3_bind_int64 (stmt, 1, read->app_id);
  bind_text (stmt, 2, read->hash);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    {
      read->found = TRUE;
      read->size = (guint64) sqlite3_column_int64 (stmt, 0);
      read->content_type = column_text (stmt, 1);
      read->name = column_text (stmt, 2);
      rc = SQLITE_DONE;
    }
  return finish_rows (self->reader_db, stmt, rc, error);
}

static gboolean
read_media_usage (NatterdStoreSqlite     *self,
                  NatterdMediaUsageRead  *read,
                  GError                **error)
{
  sqlite3_stmt *stmt = self->reader_stmts[R_MEDIA_USAGE];
  int rc;

  sqlite3_bind_int64 (stmt, 1, read->app_id);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      NatterdMediaUsage usage = {
        .uploader_id = sqlite3_column_int64 (stmt, 0),
        .bytes = (guint64) sqlite3_column_int64 (stmt, 1),
      };

      g_array_append_val (read->usage, usage);
    }
  return finish_rows (self->reader_db, stmt, rc, error);
}

static gboolean
read_webhook_events (NatterdStoreSqlite        *self,
                     NatterdWebhookEventsRead  *read,
                     GError                   **error)
{
  sqlite3_stmt *stmt = self->reader_stmts[R_WEBHOOK_EVENTS];
  gsize bytes = 0;
  int rc;

  sqlite3_bind_int64 (stmt, 1, read->after_id);
  sqlite3_bind_int (stmt, 2, (int) read->limit);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      NatterdWebhookEvent *event = g_new0 (NatterdWebhookEvent, 1);

      event->id = sqlite3_column_int64 (stmt, 0);
      event->app_id = sqlite3_column_int64 (stmt, 1);
      event->body = column_text (stmt, 2);
      if (event->body == NULL)
        event->body = g_strdup ("");
      g_ptr_array_add (read->events, event);
      bytes += strlen (event->body);
      if (read->max_bytes > 0 && bytes >= read->max_bytes)
        {
          rc = SQLITE_DONE;
          break;
        }
    }
  return finish_rows (self->reader_db, stmt, rc, error);
}

static gboolean read_apps (sqlite3 *db, GPtrArray *apps, GError **error);

static gboolean
natterd_store_sqlite_read (NatterdStore  *store,
                           NatterdRead   *read,
                           GError       **error)
{
  NatterdStoreSqlite *self = NATTERD_STORE_SQLITE (store);

  switch (read->kind)
    {
    case NATTERD_READ_REPLAY:
      return read_replay (self, (NatterdReplayRead *) read, error);
    case NATTERD_READ_HISTORY:
      return read_history (self, (NatterdHistoryRead *) read, error);
    case NATTERD_READ_CONVERSATIONS:
      return read_conversations (self, (NatterdConversationsRead *) read, error);
    case NATTERD_READ_MEDIA:
      return read_media (self, (NatterdMediaRead *) read, error);
    case NATTERD_READ_EXPORT:
      return read_export (self, (NatterdExportRead *) read, error);
    case NATTERD_READ_APPS:
      return read_apps (self->reader_db, ((NatterdAppsRead *) read)->apps, error);
    case NATTERD_READ_MEDIA_USAGE:
      return read_media_usage (self, (NatterdMediaUsageRead *) read, error);
    case NATTERD_READ_WEBHOOK_EVENTS:
      return read_webhook_events (self, (NatterdWebhookEventsRead *) read, error);
    default:
      g_assert_not_reached ();
    }
}

/* ------------------------------------------------------------------- load */

static gboolean
read_apps (sqlite3    *db,
           GPtrArray  *apps,
           GError    **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2 (db,
                               "SELECT id, app_key, app_secret, name, token_key, settings, created,"
                               " old_secret, old_secret_expires FROM apps ORDER BY id", -1, &stmt, NULL);

  if (rc != SQLITE_OK)
    return fail (db, rc, "apps", error);

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      NatterdAppRecord *app = g_new0 (NatterdAppRecord, 1);

      app->id = sqlite3_column_int64 (stmt, 0);
      app->app_key = column_text (stmt, 1);
      app->app_secret = column_text (stmt, 2);
      app->name = column_text (stmt, 3);
      app->token_key = g_bytes_new (sqlite3_column_blob (stmt, 4), (gsize) sqlite3_column_bytes (stmt, 4));
      app->settings = column_text (stmt, 5);
      app->created = sqlite3_column_int64 (stmt, 6);
      app->app_secret_old = column_text (stmt, 7);
      app->app_secret_old_expires = sqlite3_column_int64 (stmt, 8);
      g_ptr_array_add (apps, app);
    }
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    return fail (db, rc, "apps", error);
  return TRUE;
}

static gboolean
natterd_store_sqlite_load (NatterdStore           *store,
                           const NatterdLoadSink  *sink,
                           gpointer                data,
                           GError                **error)
{
  NatterdStoreSqlite *self = NATTERD_STORE_SQLITE (store);
  g_autoptr(GPtrArray) apps = g_ptr_array_new_with_free_func ((GDestroyNotify) natterd_app_record_free);
  static const char * const queries[] = {
    "SELECT id, app_id, user_id, name, portrait_uri, created, tokens_valid_after, blocked_until,"
    " max_seq FROM users",
    "SELECT id, app_id, group_id, name, created FROM groups",
    "SELECT group_id, user_id, joined, gag_until FROM group_members",
    "SELECT id, app_id, chatroom_id, name, created FROM chatrooms",
    "SELECT user_id, blocked_user_id FROM blacklist",
    "SELECT app_id, nonce, expires FROM api_nonces WHERE expires >= ?1",
  };

  if (!read_apps (self->db, apps, error))
    return FALSE;
  for (guint i = 0; i < apps->len; i++)
    sink->app (data, g_ptr_array_index (apps, i));

  for (guint q = 0; q < G_N_ELEMENTS (queries); q++)
    {
      sqlite3_stmt *stmt = NULL;
      int rc = sqlite3_prepare_v2 (self->db, queries[q], -1, &stmt, NULL);

      if (rc != SQLITE_OK)
        return fail (self->db, rc, queries[q], error);
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
        return fail (self->db, rc, queries[q], error);
    }

  return TRUE;
}

/* ------------------------------------------------------------------ admin */

static gboolean
natterd_store_sqlite_create_app (NatterdStore      *store,
                                 NatterdAppRecord  *record,
                                 GError           **error)
{
  NatterdStoreSqlite *self = NATTERD_STORE_SQLITE (store);
  sqlite3_stmt *stmt = NULL;
  gsize key_size;
  const void *key = g_bytes_get_data (record->token_key, &key_size);
  int rc = sqlite3_prepare_v2 (self->db,
                               "INSERT INTO apps (app_key, app_secret, name, token_key, settings, created)"
                               " VALUES (?1, ?2, ?3, ?4, ?5, ?6)", -1, &stmt, NULL);

  if (rc != SQLITE_OK)
    return fail (self->db, rc, "create app", error);

  bind_text (stmt, 1, record->app_key);
  bind_text (stmt, 2, record->app_secret);
  bind_text (stmt, 3, record->name);
  sqlite3_bind_blob (stmt, 4, key, (int) key_size, SQLITE_STATIC);
  bind_text (stmt, 5, record->settings != NULL ? record->settings : "{}");
  sqlite3_bind_int64 (stmt, 6, record->created);
  rc = sqlite3_step (stmt);
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    return fail (self->db, rc, "create app", error);

  record->id = sqlite3_last_insert_rowid (self->db);
  return TRUE;
}

static gboolean
natterd_store_sqlite_update_app (NatterdStore  *store,
                                 const char    *app_key,
                                 const char    *settings,
                                 GError       **error)
{
  NatterdStoreSqlite *self = NATTERD_STORE_SQLITE (store);
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2 (self->db, "UPDATE apps SET settings = ?2 WHERE app_key = ?1", -1,
                               &stmt, NULL);

  if (rc != SQLITE_OK)
    return fail (self->db, rc, "update app", error);
  bind_text (stmt, 1, app_key);
  bind_text (stmt, 2, settings);
  rc = sqlite3_step (stmt);
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    return fail (self->db, rc, "update app", error);
  if (sqlite3_changes (self->db) == 0)
    {
      g_set_error (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_NOT_FOUND,
                   "No app with key %s", app_key);
      return FALSE;
    }
  return TRUE;
}

/* One UPDATE of the app @app_key (?1) whose other parameters are bound by
 * @bind. */
static gboolean
update_app_row (NatterdStoreSqlite *self,
                const char         *sql,
                const char         *app_key,
                void              (*bind) (sqlite3_stmt *stmt, gpointer data),
                gpointer            data,
                GError            **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2 (self->db, sql, -1, &stmt, NULL);

  if (rc != SQLITE_OK)
    return fail (self->db, rc, "update app", error);
  bind_text (stmt, 1, app_key);
  bind (stmt, data);
  rc = sqlite3_step (stmt);
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    return fail (self->db, rc, "update app", error);
  if (sqlite3_changes (self->db) == 0)
    {
      g_set_error (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_NOT_FOUND,
                   "No app with key %s", app_key);
      return FALSE;
    }
  return TRUE;
}

typedef struct
{
  const char *secret;
  gint64      old_expires;
} SecretRotation;

static void
bind_secret_rotation (sqlite3_stmt *stmt,
                      gpointer      data)
{
  SecretRotation *rotation = data;

  bind_text (stmt, 2, rotation->secret);
  sqlite3_bind_int64 (stmt, 3, rotation->old_expires);
}

static gboolean
natterd_store_sqlite_rotate_secret (NatterdStore  *store,
                                    const char    *app_key,
                                    const char    *secret,
                                    gint64         old_expires,
                                    GError       **error)
{
  SecretRotation rotation = { secret, old_expires };

  /* One statement: a concurrent rotation cannot lose a secret between a
   * read and a write. */
  return update_app_row (NATTERD_STORE_SQLITE (store),
                         "UPDATE apps SET old_secret = app_secret, old_secret_expires = ?3,"
                         " app_secret = ?2 WHERE app_key = ?1",
                         app_key, bind_secret_rotation, &rotation, error);
}

static void
bind_token_key (sqlite3_stmt *stmt,
                gpointer      data)
{
  gsize size;
  const void *key = g_bytes_get_data (data, &size);

  sqlite3_bind_blob (stmt, 2, key, (int) size, SQLITE_TRANSIENT);
}

static gboolean
natterd_store_sqlite_set_token_key (NatterdStore  *store,
                                    const char    *app_key,
                                    GBytes        *token_key,
                                    GError       **error)
{
  return update_app_row (NATTERD_STORE_SQLITE (store), "UPDATE apps SET token_key = ?2 WHERE app_key = ?1",
                         app_key, bind_token_key, token_key, error);
}

static GPtrArray *
natterd_store_sqlite_list_apps (NatterdStore  *store,
                                GError       **error)
{
  NatterdStoreSqlite *self = NATTERD_STORE_SQLITE (store);
  g_autoptr(GPtrArray) apps = g_ptr_array_new_with_free_func ((GDestroyNotify) natterd_app_record_free);

  if (!read_apps (self->db, apps, error))
    return NULL;
  return g_steal_pointer (&apps);
}

/* ------------------------------------------------------------- checkpoints */

/* The WAL is copied back into the database by the checkpointer thread, on
 * its own connection, without blocking commits (PASSIVE): every half second,
 * or as soon as CHECKPOINT_WAKE_FRAMES new frames are in the WAL (at 5,000
 * messages/s that is every few tens of ms, so each pass is short).
 *
 * The WAL only starts over from its beginning when a write transaction
 * begins with every frame copied back. Short passes usually get there by
 * themselves; when they do not and the WAL passes [store] wal-size
 * (128 MiB), the writer copies the few frames the checkpointer has not,
 * between batches (their acks are already out); past four times that it
 * does so whatever the checkpointer is doing. Before, SQLite's
 * autocheckpoint did the whole copy inside COMMIT every 32 MiB of WAL
 * (every ~0.3 s at 5,000 msgs/s), stalling that commit and every publish
 * queued behind it by ~10 ms: that was natterd's p99. */
#define CHECKPOINT_INTERVAL_US (G_USEC_PER_SEC / 2)
#define CHECKPOINT_WAKE_FRAMES 1024
#define WAL_RESET_LEFTOVER 512
#define PAGE_SIZE_BYTES 4096            /* SQLite's default page size */

static int
wal_committed (void       *data,
               sqlite3    *db,
               const char *name,
               int         frames)
{
  NatterdStoreSqlite *self = data;

  /* Writer thread, after each commit: never waits for the checkpoint. */
  if (frames < g_atomic_int_get (&self->wal_frames))
    g_atomic_int_set (&self->backfilled, 0);  /* the WAL started over */
  g_atomic_int_set (&self->wal_frames, frames);
  if (frames - g_atomic_int_get (&self->backfilled) >= CHECKPOINT_WAKE_FRAMES &&
      !g_atomic_int_get (&self->checkpointing))
    {
      g_mutex_lock (&self->checkpoint_lock);
      self->checkpoint_wanted = TRUE;
      g_cond_signal (&self->checkpoint_wake);
      g_mutex_unlock (&self->checkpoint_lock);
    }
  return SQLITE_OK;
}

void
natterd_store_sqlite_set_wal_size (NatterdStoreSqlite *self,
                                   guint64             bytes)
{
  g_autofree char *limit = NULL;

  g_return_if_fail (NATTERD_IS_STORE_SQLITE (self));

  self->wal_reset_frames = (int) CLAMP (bytes / PAGE_SIZE_BYTES, 64, G_MAXINT / 8);
  /* A WAL that grew past it (the checkpointer fell behind) shrinks back
   * when it starts over. */
  limit = g_strdup_printf ("PRAGMA journal_size_limit = %" G_GUINT64_FORMAT,
                           (guint64) self->wal_reset_frames * PAGE_SIZE_BYTES);
  exec (self->db, limit, NULL);
}

static void
natterd_store_sqlite_maintain (NatterdStore *store)
{
  NatterdStoreSqlite *self = NATTERD_STORE_SQLITE (store);
  int frames = g_atomic_int_get (&self->wal_frames);
  int log = 0, copied = 0;

  if (frames < self->wal_reset_frames)
    return;
  /* Past four times the size, whatever the checkpointer is doing. */
  if (frames < 4 * self->wal_reset_frames && !g_atomic_int_get (&self->no_checkpointer) &&
      (g_atomic_int_get (&self->checkpointing) ||
       frames - g_atomic_int_get (&self->backfilled) > WAL_RESET_LEFTOVER))
    return;  /* the checkpointer is on it; try after the next batch */

  /* Nothing writes meanwhile: with every frame copied back, the next
   * transaction starts the WAL over. */
  if (sqlite3_wal_checkpoint_v2 (self->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied) == SQLITE_OK)
    {
      g_atomic_int_set (&self->backfilled, copied);
      g_atomic_int_set (&self->wal_frames, log);
    }
}

static gpointer
checkpoint_main (gpointer data)
{
  NatterdStoreSqlite *self = data;
  g_autoptr(GError) error = NULL;
  sqlite3 *db = open_connection (self->path, &error);

  if (db == NULL)
    {
      g_warning ("No checkpoint connection (%s); the writer checkpoints instead",
                 error->message);
      g_atomic_int_set (&self->no_checkpointer, TRUE);
      return NULL;
    }

  g_mutex_lock (&self->checkpoint_lock);
  while (!self->checkpoint_stop)
    {
      gint64 until = g_get_monotonic_time () + CHECKPOINT_INTERVAL_US;
      int log = 0, copied = 0;

      while (!self->checkpoint_wanted && !self->checkpoint_stop &&
             g_cond_wait_until (&self->checkpoint_wake, &self->checkpoint_lock, until))
        ;
      if (self->checkpoint_stop)
        break;
      self->checkpoint_wanted = FALSE;
      g_atomic_int_set (&self->checkpointing, TRUE);
      g_mutex_unlock (&self->checkpoint_lock);
      /* PASSIVE: copies what it can without blocking the writer or readers. */
      if (sqlite3_wal_checkpoint_v2 (db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied) == SQLITE_OK)
        g_atomic_int_set (&self->backfilled, copied);
      g_atomic_int_set (&self->checkpointing, FALSE);
      g_mutex_lock (&self->checkpoint_lock);
    }
  g_mutex_unlock (&self->checkpoint_lock);

  sqlite3_close (db);
  return NULL;
}

static void
natterd_store_sqlite_stop_checkpoints (NatterdStoreSqlite *self)
{
  if (self->checkpointer == NULL)
    return;
  g_mutex_lock (&self->checkpoint_lock);
  self->checkpoint_stop = TRUE;
  g_cond_signal (&self->checkpoint_wake);
  g_mutex_unlock (&self->checkpoint_lock);
  g_clear_pointer (&self->checkpointer, g_thread_join);
}

/* --------------------------------------------------------------- lifetime */

static void
natterd_store_sqlite_finalize (GObject *object)
{
  NatterdStoreSqlite *self = NATTERD_STORE_SQLITE (object);

  natterd_store_sqlite_stop_checkpoints (self);
  g_mutex_clear (&self->checkpoint_lock);
  g_cond_clear (&self->checkpoint_wake);

  for (guint i = 0; i < W_N_STATEMENTS; i++)
    sqlite3_finalize (self->writer_stmts[i]);
  for (guint i = 0; i < R_N_STATEMENTS; i++)
    sqlite3_finalize (self->reader_stmts[i]);

  if (self->db != NULL)
    {
      /* Leave a checkpointed database behind: the next start reads less WAL. */
      sqlite3_wal_checkpoint_v2 (self->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
      sqlite3_close (self->db);
    }
  sqlite3_close (self->reader_db);

  g_hash_table_unref (self->max_seqs);
  g_hash_table_unref (self->dirty_seqs);
  g_hash_table_unref (self->pending_conversations);
  g_free (self->path);

  G_OBJECT_CLASS (natterd_store_sqlite_parent_class)->finalize (object);
}

static void
natterd_store_sqlite_class_init (NatterdStoreSqliteClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  NatterdStoreClass *store_class = NATTERD_STORE_CLASS (klass);

  object_class->finalize = natterd_store_sqlite_finalize;
  store_class->load = natterd_store_sqlite_load;
  store_class->write = natterd_store_sqlite_write;
  store_class->maintain = natterd_store_sqlite_maintain;
  store_class->read = natterd_store_sqlite_read;
  store_class->create_app = natterd_store_sqlite_create_app;
  store_class->update_app = natterd_store_sqlite_update_app;
  store_class->list_apps = natterd_store_sqlite_list_apps;
  store_class->rotate_secret = natterd_store_sqlite_rotate_secret;
  store_class->set_token_key = natterd_store_sqlite_set_token_key;
}

static void
natterd_store_sqlite_init (NatterdStoreSqlite *self)
{
  self->max_seqs = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  self->dirty_seqs = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  self->pending_conversations = g_hash_table_new_full (pending_conversation_hash,
                                                       pending_conversation_equal,
                                                       pending_conversation_free, NULL);
  self->last_hour = -1;
  g_mutex_init (&self->checkpoint_lock);
  g_cond_init (&self->checkpoint_wake);
}

NatterdStore *
natterd_store_sqlite_open_at_version (const char  *data_dir,
                                      int          version,
                                      GError     **error)
{
  g_autoptr(NatterdStoreSqlite) self = g_object_new (NATTERD_TYPE_STORE_SQLITE, NULL);

  g_return_val_if_fail (version >= 0 && version <= NATTERD_STORE_SQLITE_SCHEMA_VERSION, NULL);

  if (g_mkdir_with_parents (data_dir, 0700) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "%s: %s", data_dir,
                   g_strerror (saved));
      return NULL;
    }

  self->path = g_build_filename (data_dir, "natterd.db", NULL);
  self->db = open_connection (self->path, error);
  if (self->db == NULL || !migrate (self->db, version, error))
    return NULL;

  if (version < NATTERD_STORE_SQLITE_SCHEMA_VERSION)
    return NATTERD_STORE (g_steal_pointer (&self));

  self->reader_db = open_connection (self->path, error);
  if (self->reader_db == NULL ||
      !prepare_all (self->db, writer_sql, self->writer_stmts, W_N_STATEMENTS, error) ||
      !prepare_all (self->reader_db, reader_sql, self->reader_stmts, R_N_STATEMENTS, error) ||
      !load_counters (self, error))
    return NULL;

  /* See "checkpoints" above: no checkpoint inside COMMIT. */
  sqlite3_wal_hook (self->db, wal_committed, self);
  natterd_store_sqlite_set_wal_size (self, 128 * 1024 * 1024);
  self->checkpointer = g_thread_new ("natterd-checkpoint", checkpoint_main, self);

  return NATTERD_STORE (g_steal_pointer (&self));
}

NatterdStore *
natterd_store_sqlite_open (const char  *data_dir,
                           GError     **error)
{
  return natterd_store_sqlite_open_at_version (data_dir, NATTERD_STORE_SQLITE_SCHEMA_VERSION, error);
}
