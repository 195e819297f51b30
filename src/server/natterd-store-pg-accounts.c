/* natterd-store-pg-accounts.c — the account_rows table on PostgreSQL:
 * NATTERD_OP_ACCOUNT in the writer's batch transaction, and
 * NATTERD_READ_ACCOUNT_ROWS. The first row's condition (only new, must
 * exist) is decided by the row count of its own statement, so two nodes
 * cannot both take one user id or one invite code.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-store-pg-private.h"

#include <stdlib.h>

gboolean
natterd_store_pg_write_account (PGconn            *conn,
                                NatterdAccountOp  *op,
                                GError           **error)
{
  op->conflict = FALSE;
  for (guint i = 0; i < op->rows->len; i++)
    {
      NatterdAccountRow *row = g_ptr_array_index (op->rows, i);
      PgParams params = { 0 };
      PGresult *result;
      const char *sql;

      natterd_pg_params_int (&params, row->app_id);
      natterd_pg_params_text (&params, row->kind);
      natterd_pg_params_text (&params, row->owner);
      natterd_pg_params_text (&params, row->name);
      if (row->value != NULL)
        {
          natterd_pg_params_text (&params, row->value);
          sql = i == 0 && row->only_new ?
                "INSERT INTO account_rows (app_id, kind, owner, name, value) VALUES ($1, $2, $3, $4, $5)"
                " ON CONFLICT DO NOTHING" :
                "INSERT INTO account_rows (app_id, kind, owner, name, value) VALUES ($1, $2, $3, $4, $5)"
                " ON CONFLICT (app_id, kind, owner, name) DO UPDATE SET value = EXCLUDED.value";
        }
      else
        sql = "DELETE FROM account_rows WHERE app_id = $1 AND kind = $2 AND owner = $3 AND name = $4";

      result = natterd_pg_query (conn, sql, &params, error);
      if (result == NULL)
        return FALSE;
      if (i == 0 && (row->only_new || row->must_exist) && atoi (PQcmdTuples (result)) == 0)
        {
          PQclear (result);
          op->conflict = TRUE;
          return TRUE;
        }
      PQclear (result);
    }
  return TRUE;
}

gboolean
natterd_store_pg_read_account_rows (PGconn                  *conn,
                                    NatterdAccountRowsRead  *read,
                                    GError                 **error)
{
  PgParams params = { 0 };
  PGresult *result;

  natterd_pg_params_int (&params, read->app_id);
  natterd_pg_params_text (&params, read->kind);
  natterd_pg_params_text (&params, read->owner);
  result = natterd_pg_query (conn, "SELECT app_id, kind, owner, name, value FROM account_rows"
                             " WHERE ($1::bigint = 0 OR app_id = $1) AND ($2::text IS NULL OR kind = $2)"
                             " AND ($3::text IS NULL OR owner = $3)", &params, error);
  if (result == NULL)
    return FALSE;
  for (int i = 0; i < PQntuples (result); i++)
    {
      NatterdAccountRow *row = g_new0 (NatterdAccountRow, 1);

      row->app_id = natterd_pg_int (result, i, 0);
      row->kind = natterd_pg_text (result, i, 1);
      row->owner = natterd_pg_text (result, i, 2);
      row->name = natterd_pg_text (result, i, 3);
      row->value = natterd_pg_text (result, i, 4);
      g_ptr_array_add (read->rows, row);
    }
  PQclear (result);
  return TRUE;
}
