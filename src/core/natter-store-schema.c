/* natter-store-schema.c — the database file: opening, schema versions, maintenance
 *
 * PRAGMA user_version is the schema version. Each version's SQL is kept
 * verbatim as it first shipped, because migrations start from it: a
 * database at version N runs the steps after N, each in a transaction of
 * its own, so a failed step leaves it at the version before (and the
 * tests migrate stored dumps of every old version). A database from a
 * newer Natter is refused (NATTER_STORE_ERROR_TOO_NEW), not touched.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-store-private.h"

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

/* Version 4 (natter.v2): group timelines. A message keeps its place on
 * its group's timeline; a group conversation keeps how far it holds the
 * timeline without a gap (timeline_seq: what to fetch after), the user's
 * read position on it (read_seq) and how far the server's unread count
 * already covers it (counted_seq: what the last sync counted). */
static const char schema_v4[] =
  "ALTER TABLE messages ADD COLUMN timeline_seq INTEGER NOT NULL DEFAULT 0;"
  "CREATE INDEX messages_by_timeline ON messages (conversation_id, timeline_seq)"
  "  WHERE timeline_seq > 0;"
  "ALTER TABLE conversations ADD COLUMN timeline_seq INTEGER NOT NULL DEFAULT 0;"
  "ALTER TABLE conversations ADD COLUMN read_seq INTEGER NOT NULL DEFAULT 0;"
  "ALTER TABLE conversations ADD COLUMN counted_seq INTEGER NOT NULL DEFAULT 0;";

/* The index of version 2 covers the messages version 1 stored. */
static gboolean
backfill_search (NatterStore  *self,
                 GError      **error)
{
  sqlite3_stmt *stmt = NULL;
  gboolean ok = TRUE;
  int rc;

  NATTER_STORE_ASSERT_WORKER (self);

  rc = sqlite3_prepare_v2 (self->db,
                           "SELECT " NATTER_STORE_MESSAGE_COLUMNS " FROM messages m"
                           " JOIN conversations c ON c.id = m.conversation_id",
                           -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    return natter_store_sql_failed (self, rc, "prepare backfill", error);

  while (ok && (rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      g_autoptr(NatterMessage) message = natter_store_message_from_row (stmt, 0);

      ok = natter_store_index_message (self, natter_message_get_message_id (message), message, error);
    }

  if (ok && rc != SQLITE_DONE)
    ok = natter_store_sql_failed (self, rc, "backfill", error);

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
  { schema_v4, NULL },
};

static gboolean
get_user_version (NatterStore  *self,
                  int          *version,
                  GError      **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc;

  NATTER_STORE_ASSERT_WORKER (self);

  rc = sqlite3_prepare_v2 (self->db, "PRAGMA user_version", -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    return natter_store_sql_failed (self, rc, "PRAGMA user_version", error);

  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    *version = sqlite3_column_int (stmt, 0);
  sqlite3_finalize (stmt);

  if (rc != SQLITE_ROW)
    return natter_store_sql_failed (self, rc, "PRAGMA user_version", error);
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

      if (!natter_store_begin (self, error))
        return FALSE;

      ok = natter_store_exec (self, migration->sql, error) &&
           (migration->after == NULL || migration->after (self, error)) &&
           natter_store_exec (self, set_version, error);

      if (!natter_store_commit_or_rollback (self, ok, error))
        {
          g_prefix_error (error, "Migrating %s to version %d: ", self->path, version + 1);
          return FALSE;
        }
    }

  return TRUE;
}

gboolean
natter_store_open_database (NatterStore  *self,
                            GError      **error)
{
  g_autoptr(GError) local_error = NULL;
  sqlite3_stmt *stmt = NULL;
  int rc;

  NATTER_STORE_ASSERT_WORKER (self);

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
    return natter_store_sql_failed (self, rc, "extended result codes", error);

  /* Another process with the same profile (a second natter-cli) waits. */
  rc = sqlite3_busy_timeout (self->db, 5000);
  if (rc != SQLITE_OK)
    return natter_store_sql_failed (self, rc, "busy timeout", error);

  /* WAL: readers never block the writer; NORMAL is durable across crashes of
   * the process (only a power cut may lose the last commits, which the
   * server still has; the outbox and drafts sync: natter_store_begin_synced()).
   * foreign_keys must be set outside any transaction. */
  rc = sqlite3_prepare_v2 (self->db, "PRAGMA journal_mode = WAL", -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    return natter_store_sql_failed (self, rc, "journal_mode", error);
  rc = sqlite3_step (stmt);
  sqlite3_finalize (stmt);
  if (rc != SQLITE_ROW)
    return natter_store_sql_failed (self, rc, "journal_mode", error);

  if (!natter_store_exec (self, "PRAGMA synchronous = NORMAL", error) ||
      !natter_store_exec (self, "PRAGMA foreign_keys = ON", error) ||
      !natter_store_exec (self, "PRAGMA temp_store = MEMORY", error))
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

/* ----------------------------------------------------------- maintenance */

/* A bulk import leaves the search index in many segments, each of which a
 * query walks, and the WAL as large as the import. */
static void
do_optimize (NatterStore    *self,
             NatterStoreJob *job)
{
  NATTER_STORE_ASSERT_WORKER (self);

  if (natter_store_exec (self, "PRAGMA wal_checkpoint(TRUNCATE)", &job->error))
    natter_store_exec (self, "INSERT INTO message_search (message_search) VALUES ('optimize')",
                       &job->error);
}

void
natter_store_optimize_async (NatterStore         *self,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_return_if_fail (NATTER_IS_STORE (self));
  natter_store_job_push (self, natter_store_job_new (self, sizeof (NatterStoreJob),
                                                     natter_store_optimize_async, do_optimize,
                                                     NULL, NATTER_STORE_RESULT_BOOLEAN,
                                                     cancellable, callback, user_data));
}

gboolean
natter_store_optimize_finish (NatterStore   *self,
                              GAsyncResult  *result,
                              GError       **error)
{
  NATTER_STORE_CHECK_FINISH (self, result, natter_store_optimize_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
