/* natterd-store-sqlite-admin.c — what natterd --create-app, --app-setting,
 * --rotate-secret, --rotate-token-key and --list-apps do: synchronous, on
 * the writer's connection of a natterd process of their own, which never
 * starts the writer thread. A running natterd sees the change when it
 * reads the apps table again (SIGHUP, or an unknown app key).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-store-sqlite-private.h"

gboolean
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
    return natterd_sqlite_fail (self->db, rc, "create app", error);

  natterd_sqlite_bind_text (stmt, 1, record->app_key);
  natterd_sqlite_bind_text (stmt, 2, record->app_secret);
  natterd_sqlite_bind_text (stmt, 3, record->name);
  sqlite3_bind_blob (stmt, 4, key, (int) key_size, SQLITE_STATIC);
  natterd_sqlite_bind_text (stmt, 5, record->settings != NULL ? record->settings : "{}");
  sqlite3_bind_int64 (stmt, 6, record->created);
  rc = sqlite3_step (stmt);
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    return natterd_sqlite_fail (self->db, rc, "create app", error);

  record->id = sqlite3_last_insert_rowid (self->db);
  return TRUE;
}

gboolean
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
    return natterd_sqlite_fail (self->db, rc, "update app", error);
  natterd_sqlite_bind_text (stmt, 1, app_key);
  natterd_sqlite_bind_text (stmt, 2, settings);
  rc = sqlite3_step (stmt);
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    return natterd_sqlite_fail (self->db, rc, "update app", error);
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
    return natterd_sqlite_fail (self->db, rc, "update app", error);
  natterd_sqlite_bind_text (stmt, 1, app_key);
  bind (stmt, data);
  rc = sqlite3_step (stmt);
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    return natterd_sqlite_fail (self->db, rc, "update app", error);
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

  natterd_sqlite_bind_text (stmt, 2, rotation->secret);
  sqlite3_bind_int64 (stmt, 3, rotation->old_expires);
}

gboolean
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

gboolean
natterd_store_sqlite_set_token_key (NatterdStore  *store,
                                    const char    *app_key,
                                    GBytes        *token_key,
                                    GError       **error)
{
  return update_app_row (NATTERD_STORE_SQLITE (store), "UPDATE apps SET token_key = ?2 WHERE app_key = ?1",
                         app_key, bind_token_key, token_key, error);
}

GPtrArray *
natterd_store_sqlite_list_apps (NatterdStore  *store,
                                GError       **error)
{
  NatterdStoreSqlite *self = NATTERD_STORE_SQLITE (store);
  g_autoptr(GPtrArray) apps = g_ptr_array_new_with_free_func ((GDestroyNotify) natterd_app_record_free);

  if (!natterd_store_sqlite_read_apps (self->db, apps, error))
    return NULL;
  return g_steal_pointer (&apps);
}

