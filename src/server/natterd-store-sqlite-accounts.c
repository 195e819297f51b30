/* natterd-store-sqlite-accounts.c — the account_rows table on SQLite:
 * NATTERD_OP_ACCOUNT on the writer thread, NATTERD_READ_ACCOUNT_ROWS on
 * the reader's; account_logins (NATTERD_OP_LOGIN, NATTERD_READ_LOGIN)
 * and a user's groups (NATTERD_READ_USER_GROUPS). Few and small
 * (sign-ups, contacts, group roles, logins): each statement is prepared
 * when it runs.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-store-sqlite-private.h"

static gboolean
row_exists (sqlite3                 *db,
            const NatterdAccountRow *row,
            gboolean                *exists,
            GError                 **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2 (db, "SELECT 1 FROM account_rows WHERE app_id = ?1 AND kind = ?2"
                               " AND owner = ?3 AND name = ?4", -1, &stmt, NULL);

  if (rc != SQLITE_OK)
    return natterd_sqlite_fail (db, rc, "account_rows", error);
  sqlite3_bind_int64 (stmt, 1, row->app_id);
  natterd_sqlite_bind_text (stmt, 2, row->kind);
  natterd_sqlite_bind_text (stmt, 3, row->owner);
  natterd_sqlite_bind_text (stmt, 4, row->name);
  rc = sqlite3_step (stmt);
  *exists = rc == SQLITE_ROW;
  sqlite3_finalize (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return natterd_sqlite_fail (db, rc, "account_rows", error);
  return TRUE;
}

gboolean
natterd_store_sqlite_write_account (NatterdStoreSqlite  *self,
                                    NatterdAccountOp    *op,
                                    GError             **error)
{
  op->conflict = FALSE;
  for (guint i = 0; i < op->rows->len; i++)
    {
      NatterdAccountRow *row = g_ptr_array_index (op->rows, i);
      sqlite3_stmt *stmt = NULL;
      int rc;

      if (i == 0 && (row->only_new || row->must_exist))
        {
          gboolean exists = FALSE;

          if (!row_exists (self->db, row, &exists, error))
            return FALSE;
          if (exists == row->only_new)
            {
              op->conflict = TRUE;
              return TRUE;
            }
        }

      if (row->value != NULL)
        rc = sqlite3_prepare_v2 (self->db, "INSERT OR REPLACE INTO account_rows"
                                 " (app_id, kind, owner, name, value) VALUES (?1, ?2, ?3, ?4, ?5)",
                                 -1, &stmt, NULL);
      else
        rc = sqlite3_prepare_v2 (self->db, "DELETE FROM account_rows WHERE app_id = ?1 AND kind = ?2"
                                 " AND owner = ?3 AND name = ?4", -1, &stmt, NULL);
      if (rc != SQLITE_OK)
        return natterd_sqlite_fail (self->db, rc, "account_rows", error);
      sqlite3_bind_int64 (stmt, 1, row->app_id);
      natterd_sqlite_bind_text (stmt, 2, row->kind);
      natterd_sqlite_bind_text (stmt, 3, row->owner);
      natterd_sqlite_bind_text (stmt, 4, row->name);
      if (row->value != NULL)
        natterd_sqlite_bind_text (stmt, 5, row->value);
      rc = sqlite3_step (stmt);
      sqlite3_finalize (stmt);
      if (rc != SQLITE_DONE)
        return natterd_sqlite_fail (self->db, rc, "account_rows", error);
    }
  return TRUE;
}

gboolean
natterd_store_sqlite_read_account_rows (NatterdStoreSqlite      *self,
                                        NatterdAccountRowsRead  *read,
                                        GError                 **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2 (self->reader_db,
                               "SELECT app_id, kind, owner, name, value FROM account_rows"
                               " WHERE (?1 = 0 OR app_id = ?1) AND (?2 IS NULL OR kind = ?2)"
                               " AND (?3 IS NULL OR owner = ?3)", -1, &stmt, NULL);

  if (rc != SQLITE_OK)
    return natterd_sqlite_fail (self->reader_db, rc, "account_rows", error);
  sqlite3_bind_int64 (stmt, 1, read->app_id);
  natterd_sqlite_bind_text (stmt, 2, read->kind);
  natterd_sqlite_bind_text (stmt, 3, read->owner);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      NatterdAccountRow *row = g_new0 (NatterdAccountRow, 1);

      row->app_id = sqlite3_column_int64 (stmt, 0);
      row->kind = natterd_sqlite_column_text (stmt, 1);
      row->owner = natterd_sqlite_column_text (stmt, 2);
      row->name = natterd_sqlite_column_text (stmt, 3);
      row->value = natterd_sqlite_column_text (stmt, 4);
      g_ptr_array_add (read->rows, row);
    }
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    return natterd_sqlite_fail (self->reader_db, rc, "account_rows", error);
  return TRUE;
}

/* A lock that lapsed (locked_until passed) starts a new run at 1. Every
 * SET expression reads the row as it was. */
#define LOGIN_FAILED_SQL(param) \
  "INSERT INTO account_logins (app_id, user_id, failures, locked_until)" \
  " VALUES (" param "1, " param "2, 1, CASE WHEN " param "3 <= 1 THEN " param "4 + " param "5 ELSE 0 END)" \
  " ON CONFLICT (app_id, user_id) DO UPDATE SET" \
  " failures = CASE WHEN account_logins.locked_until <> 0 AND account_logins.locked_until <= " param "4" \
  "  THEN 1 ELSE account_logins.failures + 1 END," \
  " locked_until = CASE" \
  "  WHEN (CASE WHEN account_logins.locked_until <> 0 AND account_logins.locked_until <= " param "4" \
  "   THEN 1 ELSE account_logins.failures + 1 END) >= " param "3 THEN " param "4 + " param "5" \
  "  WHEN account_logins.locked_until <= " param "4 THEN 0" \
  "  ELSE account_logins.locked_until END" \
  " RETURNING failures, locked_until"

gboolean
natterd_store_sqlite_write_login (NatterdStoreSqlite  *self,
                                  NatterdLoginOp      *op,
                                  GError             **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2 (self->db, op->failed ? LOGIN_FAILED_SQL ("?") :
                               "DELETE FROM account_logins WHERE app_id = ?1 AND user_id = ?2", -1, &stmt, NULL);

  if (rc != SQLITE_OK)
    return natterd_sqlite_fail (self->db, rc, "account_logins", error);
  sqlite3_bind_int64 (stmt, 1, op->app_id);
  natterd_sqlite_bind_text (stmt, 2, op->user_id);
  if (op->failed)
    {
      sqlite3_bind_int64 (stmt, 3, MAX (1u, op->attempts));
      sqlite3_bind_int64 (stmt, 4, op->now);
      sqlite3_bind_int64 (stmt, 5, op->lockout);
    }
  op->failures = 0;
  op->locked_until = 0;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      op->failures = (guint) sqlite3_column_int64 (stmt, 0);
      op->locked_until = sqlite3_column_int64 (stmt, 1);
    }
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    return natterd_sqlite_fail (self->db, rc, "account_logins", error);
  return TRUE;
}

gboolean
natterd_store_sqlite_read_login (NatterdStoreSqlite  *self,
                                 NatterdLoginRead    *read,
                                 GError             **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc;

  if (read->release)
    return TRUE;
  rc = sqlite3_prepare_v2 (self->reader_db,
                               "SELECT (SELECT value FROM account_rows WHERE app_id = ?1 AND kind = 'password'"
                               "  AND owner = ?2 AND name = ''),"
                               " (SELECT failures FROM account_logins WHERE app_id = ?1 AND user_id = ?2),"
                               " (SELECT locked_until FROM account_logins WHERE app_id = ?1 AND user_id = ?2)",
                               -1, &stmt, NULL);

  if (rc != SQLITE_OK)
    return natterd_sqlite_fail (self->reader_db, rc, "account_logins", error);
  sqlite3_bind_int64 (stmt, 1, read->app_id);
  natterd_sqlite_bind_text (stmt, 2, read->user_id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    {
      read->hash = natterd_sqlite_column_text (stmt, 0);
      read->failures = (guint) sqlite3_column_int64 (stmt, 1);
      read->locked_until = sqlite3_column_int64 (stmt, 2);
    }
  sqlite3_finalize (stmt);
  if (rc != SQLITE_ROW)
    return natterd_sqlite_fail (self->reader_db, rc, "account_logins", error);
  return TRUE;
}

static gboolean
read_ids (sqlite3      *db,
          const char   *sql,
          gint64        user_id,
          GArray       *out,
          GError      **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL);

  if (rc != SQLITE_OK)
    return natterd_sqlite_fail (db, rc, "group_members", error);
  sqlite3_bind_int64 (stmt, 1, user_id);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (stmt, 0);

      g_array_append_val (out, id);
    }
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    return natterd_sqlite_fail (db, rc, "group_members", error);
  return TRUE;
}

gboolean
natterd_store_sqlite_read_user_groups (NatterdStoreSqlite     *self,
                                       NatterdUserGroupsRead  *read,
                                       GError                **error)
{
  if (!read_ids (self->reader_db, "SELECT group_id FROM group_members WHERE user_id = ?1",
                 read->user_id, read->group_ids, error))
    return FALSE;
  return !read->with_members ||
         read_ids (self->reader_db, "SELECT DISTINCT o.user_id FROM group_members m"
                   " JOIN group_members o ON o.group_id = m.group_id WHERE m.user_id = ?1",
                   read->user_id, read->member_ids, error);
}
