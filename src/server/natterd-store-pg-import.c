/* natterd-store-pg-import.c — natterd --migrate-to-postgresql: an SQLite
 * deployment copied into PostgreSQL
 *
 * The SQLite database is first migrated to this natterd's schema (as a
 * start would), then every table is copied with COPY, in one PostgreSQL
 * transaction, into a freshly created (empty) schema; the row counts of
 * every table are compared before the COMMIT, so a copy is whole or
 * absent. Ids are kept, and the sequences continue after them. Media
 * files stay where they are (their rows are copied): point [media] dir
 * at them, or copy DATA_DIR/media there.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-store-pg-private.h"
#include "natterd-store-sqlite.h"

#include <sqlite3.h>
#include <string.h>

typedef struct
{
  char *name;
  char *columns;                /* "a, b, c": every column SQLite has */
} Table;

static void
table_clear (gpointer data)
{
  Table *table = data;

  g_free (table->name);
  g_free (table->columns);
}

/* Tables only PostgreSQL has: a cluster's own state, nothing to copy
 * (login_addresses: a single node counts client addresses in memory;
 * changes, account_changes: what nodes changed, for each other's
 * read-backs). */
static const char * const pg_only_tables[] = { "natterd_schema", "node_slots", "webhook_leases", "login_addresses",
                                               "changes", "account_changes", NULL };

/* Columns only SQLite has, derived from others (messages.channel_hash:
 * its index key, schema 11; messages.dedup_key: its client_msg_id
 * idempotency key, schema 12); PostgreSQL indexes the columns
 * themselves. */
static const char * const sqlite_only_columns[] = { "messages.channel_hash", "messages.dedup_key", NULL };
/* ... and tables: store_keys holds the salt of messages.dedup_key (schema 13). */
static const char * const sqlite_only_tables[] = { "store_keys", NULL };

/* COPY's text format: \N is NULL; backslash, tab, newline, CR escaped. */
static void
append_copy_text (GString    *line,
                  const char *text,
                  gsize       length)
{
  for (gsize i = 0; i < length; i++)
    {
      switch (text[i])
        {
        case '\\': g_string_append (line, "\\\\"); break;
        case '\t': g_string_append (line, "\\t"); break;
        case '\n': g_string_append (line, "\\n"); break;
        case '\r': g_string_append (line, "\\r"); break;
        default: g_string_append_c (line, text[i]); break;
        }
    }
}

static gboolean
sqlite_fail (sqlite3     *db,
             const char  *what,
             GError     **error)
{
  g_set_error (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_FAILED, "SQLite %s: %s", what,
               sqlite3_errmsg (db));
  return FALSE;
}

static gint64
pg_count (PGconn      *conn,
          const char  *table,
          GError     **error)
{
  g_autofree char *sql = g_strdup_printf ("SELECT count (*) FROM %s", table);
  PGresult *result = natterd_pg_query (conn, sql, NULL, error);
  gint64 count;

  if (result == NULL)
    return -1;
  count = natterd_pg_int (result, 0, 0);
  PQclear (result);
  return count;
}

/* Copies @table, returns the rows copied or -1. */
static gint64
copy_table (sqlite3      *db,
            PGconn       *conn,
            const Table  *table,
            GError      **error)
{
  g_auto(GStrv) names = g_strsplit (table->columns, ", ", -1);
  g_autoptr(GString) expressions = g_string_new (NULL);
  g_autofree char *select = NULL;
  g_autofree char *copy = g_strdup_printf ("COPY %s (%s) FROM STDIN", table->name, table->columns);
  g_autoptr(GString) line = g_string_new (NULL);
  sqlite3_stmt *stmt = NULL;
  PGresult *result;
  gint64 rows = 0;
  int rc;

  /* A user's inbox head is users.max_seq or their last inbox entry's
   * seq, the larger (natterd-store-sqlite-write.c): PostgreSQL's
   * max_seq is the head itself. */
  for (guint i = 0; names[i] != NULL; i++)
    g_string_append_printf (expressions, "%s%s", i > 0 ? ", " : "",
                            g_str_equal (table->name, "users") && g_str_equal (names[i], "max_seq") ?
                            "max (max_seq, COALESCE ((SELECT max (seq) FROM inbox i WHERE i.user_id = users.id), 0))" :
                            names[i]);
  select = g_strdup_printf ("SELECT %s FROM %s", expressions->str, table->name);

  if (sqlite3_prepare_v2 (db, select, -1, &stmt, NULL) != SQLITE_OK)
    {
      sqlite_fail (db, select, error);
      return -1;
    }

  result = PQexec (conn, copy);
  if (PQresultStatus (result) != PGRES_COPY_IN)
    {
      natterd_pg_fail (conn, result, copy, error);
      PQclear (result);
      sqlite3_finalize (stmt);
      return -1;
    }
  PQclear (result);

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      int n = sqlite3_column_count (stmt);

      g_string_truncate (line, 0);
      for (int i = 0; i < n; i++)
        {
          if (i > 0)
            g_string_append_c (line, '\t');
          switch (sqlite3_column_type (stmt, i))
            {
            case SQLITE_NULL:
              g_string_append (line, "\\N");
              break;
            case SQLITE_BLOB:
              {
                const guint8 *blob = sqlite3_column_blob (stmt, i);
                int size = sqlite3_column_bytes (stmt, i);

                g_string_append (line, "\\\\x");
                for (int k = 0; k < size; k++)
                  g_string_append_printf (line, "%02x", blob[k]);
              }
              break;
            default:
              append_copy_text (line, (const char *) sqlite3_column_text (stmt, i),
                                (gsize) sqlite3_column_bytes (stmt, i));
              break;
            }
        }
      g_string_append_c (line, '\n');
      if (PQputCopyData (conn, line->str, (int) line->len) != 1)
        break;
      rows++;
    }
  sqlite3_finalize (stmt);

  if (rc != SQLITE_DONE)
    {
      PQputCopyEnd (conn, "SQLite read failed");
      PQclear (PQgetResult (conn));
      g_set_error (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_FAILED, "SQLite %s: %s",
                   table->name, sqlite3_errstr (rc));
      return -1;
    }
  if (PQputCopyEnd (conn, NULL) != 1)
    {
      natterd_pg_fail (conn, NULL, copy, error);
      return -1;
    }
  result = PQgetResult (conn);
  if (PQresultStatus (result) != PGRES_COMMAND_OK)
    {
      natterd_pg_fail (conn, result, copy, error);
      PQclear (result);
      return -1;
    }
  PQclear (result);
  while ((result = PQgetResult (conn)) != NULL)
    PQclear (result);
  return rows;
}

static gboolean
pg_has_column (PGconn      *conn,
               const char  *table,
               const char  *column,
               gboolean    *has,
               GError     **error)
{
  PgParams params = { 0 };
  PGresult *result;

  natterd_pg_params_text (&params, table);
  natterd_pg_params_text (&params, column);
  result = natterd_pg_query (conn, "SELECT count (*) FROM information_schema.columns"
                             " WHERE table_schema = current_schema () AND table_name = $1 AND column_name = $2",
                             &params, error);
  if (result == NULL)
    return FALSE;
  *has = natterd_pg_int (result, 0, 0) > 0;
  PQclear (result);
  return TRUE;
}

/* Every table of SQLite with every column it has, in the order they were
 * made (parents first): nothing stored is left behind when a column or a
 * table is added to both schemas, and one PostgreSQL lacks is an error
 * here rather than data lost. PostgreSQL's tables that SQLite lacks must
 * be its own (pg_only_tables). */
static GArray *
list_tables (sqlite3     *db,
             PGconn      *conn,
             GError     **error)
{
  g_autoptr(GArray) tables = g_array_new (FALSE, TRUE, sizeof (Table));
  g_autoptr(GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);
  sqlite3_stmt *stmt = NULL;
  PGresult *result;
  int rc;

  g_array_set_clear_func (tables, table_clear);
  if (sqlite3_prepare_v2 (db, "SELECT name FROM sqlite_master WHERE type = 'table'"
                          " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid", -1, &stmt, NULL) != SQLITE_OK)
    {
      sqlite_fail (db, "sqlite_master", error);
      return NULL;
    }
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      Table table = { g_strdup ((const char *) sqlite3_column_text (stmt, 0)), NULL };

      if (g_strv_contains (sqlite_only_tables, table.name))
        {
          g_free (table.name);
          continue;
        }
      g_array_append_val (tables, table);
    }
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    {
      sqlite_fail (db, "sqlite_master", error);
      return NULL;
    }

  for (guint t = 0; t < tables->len; t++)
    {
      Table *table = &g_array_index (tables, Table, t);
      g_autofree char *pragma = g_strdup_printf ("SELECT name FROM pragma_table_info ('%s') ORDER BY cid", table->name);
      g_autoptr(GString) columns = g_string_new (NULL);

      g_hash_table_add (names, table->name);
      if (sqlite3_prepare_v2 (db, pragma, -1, &stmt, NULL) != SQLITE_OK)
        {
          sqlite_fail (db, pragma, error);
          return NULL;
        }
      while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
        {
          const char *column = (const char *) sqlite3_column_text (stmt, 0);
          g_autofree char *qualified = g_strconcat (table->name, ".", column, NULL);
          gboolean has = FALSE;

          if (g_strv_contains (sqlite_only_columns, qualified))
            continue;
          if (!pg_has_column (conn, table->name, column, &has, error))
            {
              sqlite3_finalize (stmt);
              return NULL;
            }
          if (!has)
            {
              g_set_error (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_FAILED,
                           "SQLite's %s.%s has no column in PostgreSQL to go to", table->name, column);
              sqlite3_finalize (stmt);
              return NULL;
            }
          g_string_append_printf (columns, "%s%s", columns->len > 0 ? ", " : "", column);
        }
      sqlite3_finalize (stmt);
      if (rc != SQLITE_DONE)
        {
          sqlite_fail (db, pragma, error);
          return NULL;
        }
      table->columns = g_string_free (g_steal_pointer (&columns), FALSE);
    }

  result = natterd_pg_query (conn, "SELECT table_name FROM information_schema.tables"
                             " WHERE table_schema = current_schema () AND table_type = 'BASE TABLE'", NULL, error);
  if (result == NULL)
    return NULL;
  for (int i = 0; i < PQntuples (result); i++)
    {
      const char *name = PQgetvalue (result, i, 0);

      if (!g_hash_table_contains (names, name) && !g_strv_contains (pg_only_tables, name))
        {
          g_set_error (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_FAILED,
                       "PostgreSQL's table %s has no table in SQLite to come from", name);
          PQclear (result);
          return NULL;
        }
    }
  PQclear (result);
  return g_steal_pointer (&tables);
}

static gboolean
import_locked (sqlite3     *db,
               PGconn      *conn,
               GString     *report,
               GError     **error)
{
  gint64 apps = pg_count (conn, "apps", error);
  g_autoptr(GArray) tables = NULL;

  if (apps < 0)
    return FALSE;
  if (apps > 0 || pg_count (conn, "messages", error) != 0)
    {
      if (error != NULL && *error == NULL)
        g_set_error_literal (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_FAILED,
                             "The PostgreSQL database has data already; migrate into an empty one");
      return FALSE;
    }
  /* The schema's own clock row makes way for the deployment's. */
  if (!natterd_pg_exec (conn, "DELETE FROM timeline_clock", error))
    return FALSE;
  tables = list_tables (db, conn, error);
  if (tables == NULL)
    return FALSE;

  for (guint t = 0; t < tables->len; t++)
    {
      const Table *table = &g_array_index (tables, Table, t);
      g_autofree char *count_sql = g_strdup_printf ("SELECT count (*) FROM %s", table->name);
      sqlite3_stmt *stmt = NULL;
      gint64 source = -1, copied, target;

      if (sqlite3_prepare_v2 (db, count_sql, -1, &stmt, NULL) != SQLITE_OK)
        return sqlite_fail (db, count_sql, error);
      if (sqlite3_step (stmt) == SQLITE_ROW)
        source = sqlite3_column_int64 (stmt, 0);
      sqlite3_finalize (stmt);
      if (source < 0)
        return sqlite_fail (db, count_sql, error);

      copied = copy_table (db, conn, table, error);
      if (copied < 0)
        return FALSE;
      target = pg_count (conn, table->name, error);
      if (target < 0)
        return FALSE;
      g_string_append_printf (report, "%-18s sqlite %" G_GINT64_FORMAT " postgresql %" G_GINT64_FORMAT "\n",
                              table->name, source, target);
      if (source != target || copied != source)
        {
          g_set_error (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_FAILED,
                       "%s: %" G_GINT64_FORMAT " rows in SQLite, %" G_GINT64_FORMAT " in PostgreSQL",
                       table->name, source, target);
          return FALSE;
        }
    }

  /* New ids follow the copied ones. */
  return natterd_pg_exec (conn,
                          "SELECT setval ('messages_id_seq', GREATEST ((SELECT max (id) FROM messages), 1));"
                          "SELECT setval (pg_get_serial_sequence ('apps', 'id'),"
                          " GREATEST ((SELECT max (id) FROM apps), 1));"
                          "INSERT INTO timeline_clock (id, time)"
                          " SELECT 0, (extract (epoch FROM clock_timestamp ()) * 1000)::bigint"
                          " WHERE NOT EXISTS (SELECT 1 FROM timeline_clock)",
                          error);
}

gboolean
natterd_store_pg_import_sqlite (const char  *data_dir,
                                const char  *conninfo,
                                GString     *report,
                                GError     **error)
{
  g_autoptr(NatterdStore) source = NULL;
  g_autoptr(NatterdStore) target = NULL;
  g_autofree char *path = g_build_filename (data_dir, "natterd.db", NULL);
  NatterdStorePg *pg;
  sqlite3 *db = NULL;
  gboolean ok;

  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "%s: no natterd database there", path);
      return FALSE;
    }
  /* Brought to this natterd's SQLite schema first, as a start would. */
  source = natterd_store_sqlite_open (data_dir, error);
  if (source == NULL)
    return FALSE;
  g_clear_object (&source);

  target = natterd_store_pg_open (conninfo, error);
  if (target == NULL)
    return FALSE;
  pg = NATTERD_STORE_PG (target);

  if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
    {
      sqlite_fail (db, path, error);
      sqlite3_close (db);
      return FALSE;
    }
  /* One snapshot of SQLite, one transaction in PostgreSQL. */
  ok = sqlite3_exec (db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK &&
       natterd_pg_exec (pg->writer.conn, "BEGIN", error);
  if (ok)
    ok = import_locked (db, pg->writer.conn, report, error) &&
         natterd_pg_exec (pg->writer.conn, "COMMIT", error);
  if (!ok)
    natterd_pg_exec (pg->writer.conn, "ROLLBACK", NULL);
  sqlite3_exec (db, "COMMIT", NULL, NULL, NULL);
  sqlite3_close (db);
  return ok;
}
