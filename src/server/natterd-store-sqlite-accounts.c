/* natterd-store-sqlite-accounts.c — the account_rows table on SQLite:
 * NATTERD_OP_ACCOUNT on the writer thread, NATTERD_READ_ACCOUNT_ROWS on
 * the reader's. Few and small (sign-ups, contacts, group roles): each
 * statement is prepared when it runs.
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
