/* natterd-store-pg.c
 *
 * Two connections, as with SQLite: the writer's (migrations, start-up load
 * and the administration commands happen on it before the writer thread
 * takes it over) and the reader's. Either one that is lost is connected
 * again by the thread that uses it, no sooner than a backoff after the
 * last attempt; meanwhile its work fails with
 * NATTERD_STORE_ERROR_UNAVAILABLE, which NatterdStore handles as it does a
 * full disk (refused with 30002, tried again a second later).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-store-pg-private.h"

#include <string.h>

G_DEFINE_FINAL_TYPE (NatterdStorePg, natterd_store_pg, NATTERD_TYPE_STORE)

#define BACKOFF_MIN_US (G_USEC_PER_SEC / 10)
#define BACKOFF_MAX_US (2 * G_USEC_PER_SEC)

/* ----------------------------------------------------------------- helpers */

void
natterd_pg_params_int (PgParams *params,
                       gint64    value)
{
  g_assert (params->n < PG_MAX_PARAMS);
  g_snprintf (params->numbers[params->n], sizeof params->numbers[0], "%" G_GINT64_FORMAT, value);
  params->values[params->n] = params->numbers[params->n];
  params->n++;
}

void
natterd_pg_params_text (PgParams   *params,
                        const char *value)
{
  g_assert (params->n < PG_MAX_PARAMS);
  params->values[params->n++] = value;
}

char *
natterd_pg_int_array (GArray *values)
{
  GString *text = g_string_new ("{");

  for (guint i = 0; i < values->len; i++)
    g_string_append_printf (text, "%s%" G_GINT64_FORMAT, i > 0 ? "," : "", g_array_index (values, gint64, i));
  g_string_append_c (text, '}');
  return g_string_free (text, FALSE);
}

/* What the SQLSTATE (or a missing result) says about trying again. */
static NatterdStoreError
error_code (PGconn         *conn,
            const PGresult *result)
{
  const char *state = result != NULL ? PQresultErrorField (result, PG_DIAG_SQLSTATE) : NULL;

  if (conn == NULL || PQstatus (conn) != CONNECTION_OK || state == NULL)
    return NATTERD_STORE_ERROR_UNAVAILABLE;
  if (g_str_equal (state, "53100"))                 /* disk_full */
    return NATTERD_STORE_ERROR_FULL;
  if (g_str_has_prefix (state, "08") ||             /* connection exceptions */
      g_str_has_prefix (state, "57P") ||            /* shutting down, cannot connect now */
      g_str_has_prefix (state, "53"))               /* out of memory, connections */
    return NATTERD_STORE_ERROR_UNAVAILABLE;
  return NATTERD_STORE_ERROR_FAILED;
}

gboolean
natterd_pg_fail (PGconn          *conn,
                 const PGresult  *result,
                 const char      *what,
                 GError         **error)
{
  const char *message = result != NULL ? PQresultErrorMessage (result) : NULL;
  g_autofree char *text = NULL;

  if (message == NULL || *message == '\0')
    message = conn != NULL ? PQerrorMessage (conn) : "no connection";
  text = g_strstrip (g_strdup (message));
  g_set_error (error, NATTERD_STORE_ERROR, error_code (conn, result), "%s: %s", what, text);
  return FALSE;
}

static gboolean
result_ok (const PGresult *result)
{
  ExecStatusType status = result != NULL ? PQresultStatus (result) : PGRES_FATAL_ERROR;

  return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

gboolean
natterd_pg_exec (PGconn      *conn,
                 const char  *sql,
                 GError     **error)
{
  PGresult *result = PQexec (conn, sql);
  gboolean ok = result_ok (result);

  if (!ok)
    natterd_pg_fail (conn, result, "statement", error);
  PQclear (result);
  return ok;
}

PGresult *
natterd_pg_query (PGconn      *conn,
                  const char  *sql,
                  PgParams    *params,
                  GError     **error)
{
  PGresult *result = PQexecParams (conn, sql, params != NULL ? params->n : 0, NULL,
                                   params != NULL ? params->values : NULL, NULL, NULL, 0);

  if (!result_ok (result))
    {
      natterd_pg_fail (conn, result, "query", error);
      PQclear (result);
      return NULL;
    }
  return result;
}

PGresult *
natterd_pg_run (PgLink    *link,
                int        index,
                PgParams  *params,
                GError   **error)
{
  char name[16];
  PGresult *result;

  g_snprintf (name, sizeof name, "%c%d", link->prefix, index);
  result = PQexecPrepared (link->conn, name, params != NULL ? params->n : 0,
                           params != NULL ? params->values : NULL, NULL, NULL, 0);
  if (!result_ok (result))
    {
      g_autofree char *what = g_strndup (link->sql[index], 60);

      natterd_pg_fail (link->conn, result, what, error);
      PQclear (result);
      return NULL;
    }
  return result;
}

void
natterd_pg_params_copy (PgParams       *dest,
                        const PgParams *src)
{
  *dest = *src;
  for (int i = 0; i < src->n; i++)
    if (src->values[i] == src->numbers[i])
      dest->values[i] = dest->numbers[i];
}

PgCall *
natterd_pg_call_new (GPtrArray *calls,
                     int        index)
{
  PgCall *call = g_new0 (PgCall, 1);

  call->index = index;
  g_ptr_array_add (calls, call);
  return call;
}

/* Past this many statements a pipeline is synced and read before more
 * are sent: the server's results must not fill the socket while we are
 * still sending (blocking mode would then wait on each other). */
#define PIPELINE_CHUNK 512

/* Sends @calls and the sync; their results wait on the connection. */
static gboolean
pipeline_send (PgLink    *link,
               PgCall   **calls,
               guint      n,
               GError   **error)
{
  PGconn *conn = link->conn;

  if (!PQenterPipelineMode (conn))
    return natterd_pg_fail (conn, NULL, "pipeline", error);
  for (guint i = 0; i < n; i++)
    {
      char name[16];
      int sent;

      g_snprintf (name, sizeof name, "%c%d", link->prefix, calls[i]->index);
      if (calls[i]->index == PG_CALL_BEGIN || calls[i]->index == PG_CALL_COMMIT)
        sent = PQsendQueryParams (conn, calls[i]->index == PG_CALL_BEGIN ? "BEGIN" : "COMMIT",
                                  0, NULL, NULL, NULL, NULL, 0);
      else
        sent = PQsendQueryPrepared (conn, name, calls[i]->params.n, calls[i]->params.values, NULL, NULL, 0);
      if (!sent)
        return natterd_pg_fail (conn, NULL, "pipeline", error);
    }
  if (!PQpipelineSync (conn))
    return natterd_pg_fail (conn, NULL, "pipeline", error);
  return TRUE;
}

/* Reads the results of what pipeline_send() sent of @calls (@indexes:
 * their statements', for the error) into @results (NULL: dropped). */
static gboolean
pipeline_read (PGconn             *conn,
               const char * const *sql,
               const int          *indexes,
               guint               n,
               PGresult          **results,
               GError            **error)
{
  gboolean ok = TRUE;
  PGresult *result;

  for (guint i = 0; i < n; i++)
    {
      result = PQgetResult (conn);
      if (result == NULL)
        {
          if (ok)
            natterd_pg_fail (conn, NULL, "pipeline", error);
          return FALSE;
        }
      if (ok && !result_ok (result))
        {
          g_autofree char *what = g_strndup (indexes[i] < 0 ? "BEGIN/COMMIT" : sql[indexes[i]], 60);

          natterd_pg_fail (conn, result, what, error);
          ok = FALSE;
        }
      /* An aborted transaction's COMMIT says ROLLBACK. */
      else if (ok && indexes[i] == PG_CALL_COMMIT && g_strcmp0 (PQcmdStatus (result), "COMMIT") != 0)
        {
          g_set_error (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_FAILED, "COMMIT: %s", PQcmdStatus (result));
          ok = FALSE;
        }
      if (ok && results != NULL)
        results[i] = result;
      else
        PQclear (result);
      /* Each statement's results end with a NULL. */
      while ((result = PQgetResult (conn)) != NULL)
        PQclear (result);
    }
  /* The sync. */
  result = PQgetResult (conn);
  PQclear (result);
  if (!PQexitPipelineMode (conn) && ok)
    return natterd_pg_fail (conn, NULL, "pipeline", error);
  return ok;
}

static gboolean
pipeline_chunk (PgLink    *link,
                PgCall   **calls,
                guint      n,
                PGresult **results,
                GError   **error)
{
  g_autofree int *indexes = g_new (int, n);

  for (guint i = 0; i < n; i++)
    indexes[i] = calls[i]->index;
  /* A failed send: the connection is gone, nothing to read. */
  return pipeline_send (link, calls, n, error) &&
         pipeline_read (link->conn, link->sql, indexes, n, results, error);
}

gboolean
natterd_pg_run_pipeline (PgLink    *link,
                         GPtrArray *calls,
                         PGresult **results,
                         GError   **error)
{
  for (guint i = 0; i < calls->len; i += PIPELINE_CHUNK)
    if (!pipeline_chunk (link, (PgCall **) calls->pdata + i, MIN (PIPELINE_CHUNK, calls->len - i),
                         results + i, error))
      return FALSE;
  return TRUE;
}

PgUnread *
natterd_pg_send_pipeline (PgLink    *link,
                          GPtrArray *calls,
                          GError   **error)
{
  guint last = calls->len == 0 ? 0 : (calls->len - 1) / PIPELINE_CHUNK * PIPELINE_CHUNK;
  PgUnread *unread;

  for (guint i = 0; i < last; i += PIPELINE_CHUNK)
    {
      g_autofree PGresult **results = g_new0 (PGresult *, PIPELINE_CHUNK);
      gboolean ok = pipeline_chunk (link, (PgCall **) calls->pdata + i, PIPELINE_CHUNK, results, error);

      for (guint r = 0; r < PIPELINE_CHUNK; r++)
        PQclear (results[r]);
      if (!ok)
        return NULL;
    }
  if (!pipeline_send (link, (PgCall **) calls->pdata + last, calls->len - last, error))
    return NULL;
  unread = g_new0 (PgUnread, 1);
  unread->conn = link->conn;
  unread->sql = link->sql;
  unread->n = calls->len - last;
  unread->indexes = g_new (int, unread->n);
  for (guint i = 0; i < unread->n; i++)
    unread->indexes[i] = ((PgCall *) calls->pdata[last + i])->index;
  return unread;
}

gboolean
natterd_pg_read_pipeline (PgUnread  *unread,
                          GError   **error)
{
  return pipeline_read (unread->conn, unread->sql, unread->indexes, unread->n, NULL, error);
}

void
natterd_pg_unread_free (PgUnread *unread)
{
  g_free (unread->indexes);
  if (unread->ops != NULL)
    g_ptr_array_unref (unread->ops);
  g_free (unread);
}

gint64
natterd_pg_int (const PGresult *result,
                int             row,
                int             column)
{
  if (PQgetisnull (result, row, column))
    return 0;
  return g_ascii_strtoll (PQgetvalue (result, row, column), NULL, 10);
}

const char *
natterd_pg_value (const PGresult *result,
                  int             row,
                  int             column)
{
  return PQgetisnull (result, row, column) ? NULL : PQgetvalue (result, row, column);
}

char *
natterd_pg_text (const PGresult *result,
                 int             row,
                 int             column)
{
  return g_strdup (natterd_pg_value (result, row, column));
}

/* ------------------------------------------------------------ connections */

static void
ignore_notice (void       *data,
               const char *message)
{
}

static PGconn *
connect_to (const char  *conninfo,
            GError     **error)
{
  /* Earlier keywords are overridden by what the conninfo says. */
  const char * const keywords[] = { "connect_timeout", "application_name", "dbname", NULL };
  const char * const values[] = { "5", "natterd", conninfo, NULL };
  PGconn *conn = PQconnectdbParams (keywords, values, 1);

  if (PQstatus (conn) != CONNECTION_OK)
    {
      g_autofree char *text = g_strstrip (g_strdup (PQerrorMessage (conn)));

      g_set_error (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_UNAVAILABLE, "PostgreSQL: %s", text);
      PQfinish (conn);
      return NULL;
    }
  PQsetNoticeProcessor (conn, ignore_notice, NULL);
  /* A commit returns once it is on disk; natterd's ack follows it. */
  if (!natterd_pg_exec (conn, "SET synchronous_commit = on; SET client_min_messages = warning;"
                              " SET TIME ZONE 'UTC'", error))
    {
      PQfinish (conn);
      return NULL;
    }
  return conn;
}

static gboolean
link_prepare (PgLink  *link,
              GError **error)
{
  for (guint i = 0; i < link->n_sql; i++)
    {
      char name[16];
      PGresult *result;
      gboolean ok;

      g_snprintf (name, sizeof name, "%c%u", link->prefix, i);
      result = PQprepare (link->conn, name, link->sql[i], 0, NULL);
      ok = result_ok (result);
      if (!ok)
        natterd_pg_fail (link->conn, result, link->sql[i], error);
      PQclear (result);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

gboolean
natterd_pg_link_ready (PgLink      *link,
                       const char  *conninfo,
                       GError     **error)
{
  gint64 now;

  if (link->conn != NULL && PQstatus (link->conn) == CONNECTION_OK)
    return TRUE;
  g_clear_pointer (&link->conn, PQfinish);

  now = g_get_monotonic_time ();
  if (now < link->retry_at)
    {
      g_set_error_literal (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_UNAVAILABLE,
                           "PostgreSQL is unreachable; trying again shortly");
      return FALSE;
    }

  link->conn = connect_to (conninfo, error);
  if (link->conn == NULL || !link_prepare (link, error))
    {
      g_clear_pointer (&link->conn, PQfinish);
      link->backoff = CLAMP (link->backoff * 2, BACKOFF_MIN_US, BACKOFF_MAX_US);
      link->retry_at = now + link->backoff;
      return FALSE;
    }
  if (link->backoff > 0)
    g_message ("PostgreSQL connection (%c) is back", link->prefix);
  link->backoff = 0;
  link->retry_at = 0;
  return TRUE;
}

/* ----------------------------------------------------------------- admin */

static gboolean
admin_ready (NatterdStorePg  *self,
             GError         **error)
{
  return natterd_pg_link_ready (&self->writer, self->conninfo, error);
}

static gboolean
natterd_store_pg_create_app (NatterdStore      *store,
                             NatterdAppRecord  *record,
                             GError           **error)
{
  NatterdStorePg *self = NATTERD_STORE_PG (store);
  g_autoptr(GString) hex = g_string_new ("\\x");
  PgParams params = { 0 };
  gsize size;
  const guint8 *key = g_bytes_get_data (record->token_key, &size);
  PGresult *result;

  if (!admin_ready (self, error))
    return FALSE;
  for (gsize i = 0; i < size; i++)
    g_string_append_printf (hex, "%02x", key[i]);
  natterd_pg_params_text (&params, record->app_key);
  natterd_pg_params_text (&params, record->app_secret);
  natterd_pg_params_text (&params, record->name);
  natterd_pg_params_text (&params, hex->str);
  natterd_pg_params_text (&params, record->settings != NULL ? record->settings : "{}");
  natterd_pg_params_int (&params, record->created);
  result = natterd_pg_query (self->writer.conn,
                             "INSERT INTO apps (app_key, app_secret, name, token_key, settings, created)"
                             " VALUES ($1, $2, $3, $4::bytea, $5, $6) RETURNING id", &params, error);
  if (result == NULL)
    return FALSE;
  record->id = natterd_pg_int (result, 0, 0);
  PQclear (result);
  return TRUE;
}

static gboolean
update_app_row (NatterdStorePg  *self,
                const char      *sql,
                PgParams        *params,
                const char      *app_key,
                GError         **error)
{
  PGresult *result;
  gboolean found;

  if (!admin_ready (self, error))
    return FALSE;
  result = natterd_pg_query (self->writer.conn, sql, params, error);
  if (result == NULL)
    return FALSE;
  found = g_strcmp0 (PQcmdTuples (result), "0") != 0;
  PQclear (result);
  if (!found)
    {
      g_set_error (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_NOT_FOUND,
                   "No app with key %s", app_key);
      return FALSE;
    }
  return TRUE;
}

static gboolean
natterd_store_pg_update_app (NatterdStore  *store,
                             const char    *app_key,
                             const char    *settings,
                             GError       **error)
{
  PgParams params = { 0 };

  natterd_pg_params_text (&params, app_key);
  natterd_pg_params_text (&params, settings);
  return update_app_row (NATTERD_STORE_PG (store), "UPDATE apps SET settings = $2 WHERE app_key = $1",
                         &params, app_key, error);
}

static gboolean
natterd_store_pg_rotate_secret (NatterdStore  *store,
                                const char    *app_key,
                                const char    *secret,
                                gint64         old_expires,
                                GError       **error)
{
  PgParams params = { 0 };

  natterd_pg_params_text (&params, app_key);
  natterd_pg_params_text (&params, secret);
  natterd_pg_params_int (&params, old_expires);
  /* One statement: a concurrent rotation cannot lose a secret. */
  return update_app_row (NATTERD_STORE_PG (store),
                         "UPDATE apps SET old_secret = app_secret, old_secret_expires = $3,"
                         " app_secret = $2 WHERE app_key = $1", &params, app_key, error);
}

static gboolean
natterd_store_pg_set_token_key (NatterdStore  *store,
                                const char    *app_key,
                                GBytes        *token_key,
                                GError       **error)
{
  g_autoptr(GString) hex = g_string_new ("\\x");
  PgParams params = { 0 };
  gsize size;
  const guint8 *key = g_bytes_get_data (token_key, &size);

  for (gsize i = 0; i < size; i++)
    g_string_append_printf (hex, "%02x", key[i]);
  natterd_pg_params_text (&params, app_key);
  natterd_pg_params_text (&params, hex->str);
  return update_app_row (NATTERD_STORE_PG (store), "UPDATE apps SET token_key = $2::bytea WHERE app_key = $1",
                         &params, app_key, error);
}

static GPtrArray *
natterd_store_pg_list_apps (NatterdStore  *store,
                            GError       **error)
{
  NatterdStorePg *self = NATTERD_STORE_PG (store);
  g_autoptr(GPtrArray) apps = g_ptr_array_new_with_free_func ((GDestroyNotify) natterd_app_record_free);

  if (!admin_ready (self, error) || !natterd_store_pg_read_apps (&self->writer, apps, error))
    return NULL;
  return g_steal_pointer (&apps);
}

/* --------------------------------------------------------------- lifetime */

static void
natterd_store_pg_finalize (GObject *object)
{
  NatterdStorePg *self = NATTERD_STORE_PG (object);

  g_clear_pointer (&self->writer.conn, PQfinish);
  g_clear_pointer (&self->spare.conn, PQfinish);
  g_clear_pointer (&self->reader.conn, PQfinish);
  natterd_store_pg_writer_finalize (self);
  g_free (self->conninfo);
  g_free (self->node_name);

  G_OBJECT_CLASS (natterd_store_pg_parent_class)->finalize (object);
}

static void
natterd_store_pg_class_init (NatterdStorePgClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  NatterdStoreClass *store_class = NATTERD_STORE_CLASS (klass);

  object_class->finalize = natterd_store_pg_finalize;
  store_class->load = natterd_store_pg_load;
  store_class->write = natterd_store_pg_write;
  store_class->sync = natterd_store_pg_sync;
  store_class->read = natterd_store_pg_read;
  store_class->create_app = natterd_store_pg_create_app;
  store_class->update_app = natterd_store_pg_update_app;
  store_class->list_apps = natterd_store_pg_list_apps;
  store_class->rotate_secret = natterd_store_pg_rotate_secret;
  store_class->set_token_key = natterd_store_pg_set_token_key;
}

static void
natterd_store_pg_init (NatterdStorePg *self)
{
  self->writer.sql = natterd_store_pg_writer_sql;
  self->writer.n_sql = PW_N_STATEMENTS;
  self->writer.prefix = 'w';
  self->spare = self->writer;
  self->reader.sql = natterd_store_pg_reader_sql;
  self->reader.n_sql = PR_N_STATEMENTS;
  self->reader.prefix = 'r';
  natterd_store_pg_writer_init (self);
}

NatterdStore *
natterd_store_pg_open_at_version (const char  *conninfo,
                                  int          version,
                                  GError     **error)
{
  g_autoptr(NatterdStorePg) self = g_object_new (NATTERD_TYPE_STORE_PG, NULL);
  PGconn *conn;

  g_return_val_if_fail (version >= 0 && version <= NATTERD_STORE_PG_SCHEMA_VERSION, NULL);

  self->conninfo = g_strdup (conninfo);
  self->node_name = g_strdup ("");
  conn = connect_to (conninfo, error);
  if (conn == NULL)
    return NULL;
  if (!natterd_store_pg_migrate (conn, version, error))
    {
      PQfinish (conn);
      return NULL;
    }
  if (version < NATTERD_STORE_PG_SCHEMA_VERSION)
    {
      PQfinish (conn);
      return NATTERD_STORE (g_steal_pointer (&self));
    }

  self->writer.conn = conn;
  if (!link_prepare (&self->writer, error) ||
      !natterd_pg_link_ready (&self->reader, conninfo, error))
    return NULL;
  return NATTERD_STORE (g_steal_pointer (&self));
}

void
natterd_store_pg_set_node_name (NatterdStorePg *self,
                                const char     *name)
{
  g_return_if_fail (NATTERD_IS_STORE_PG (self));
  g_free (self->node_name);
  self->node_name = g_strdup (name != NULL ? name : "");
}

NatterdStore *
natterd_store_pg_open (const char  *conninfo,
                       GError     **error)
{
  return natterd_store_pg_open_at_version (conninfo, NATTERD_STORE_PG_SCHEMA_VERSION, error);
}
