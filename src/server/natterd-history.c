/* natterd-history.c — message/history: an hour of an app's persisted
 * messages as a gzip file of JSON lines, made once the hour has passed
 * (hourly, and on demand), kept history-retention-hours (72 by default)
 *
 * Files live in DATA_DIR/history/<app id>/<YYYYMMDDHH>.json.gz and are
 * served at /history/<appKey>/<YYYYMMDDHH>-<mac>.json.gz, where the mac is
 * keyed with the app's token key: the URL is the credential, as on the
 * reference platform, and cannot be guessed.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-server-private.h"

#include "natterd-crypto.h"
#include "natterd-log.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#define HOUR_MS (G_GINT64_CONSTANT (3600) * 1000)
/* Past the hour, so the last commits of the hour are in. */
#define EXPORT_DELAY_MS (60 * 1000)

static char *
export_dir (NatterdServer *self,
            NatterdApp    *app)
{
  g_autofree char *id = g_strdup_printf ("%" G_GINT64_FORMAT, app->id);

  return g_build_filename (self->data_dir, "history", id, NULL);
}

static char *
hour_name (gint64 hour_start)
{
  g_autoptr(GDateTime) time = g_date_time_new_from_unix_utc (hour_start / 1000);

  return g_date_time_format (time, "%Y%m%d%H");
}

static char *
url_mac (NatterdApp *app,
         const char *date)
{
  gsize key_length;
  const guint8 *key = g_bytes_get_data (app->token_key, &key_length);
  g_autofree char *hex = g_compute_hmac_for_string (G_CHECKSUM_SHA256, key, key_length, date, -1);

  return g_strndup (hex, 16);
}

static char *
export_url (NatterdServer *self,
            NatterdApp    *app,
            const char    *date)
{
  g_autofree char *mac = url_mac (app, date);

  return g_strdup_printf ("%s/history/%s/%s-%s.json.gz", self->public_url, app->key, date, mac);
}

gboolean
natterd_history_parse_date (const char *date,
                            gint64     *hour_start)
{
  g_autoptr(GDateTime) time = NULL;
  int y, m, d, h;

  if (date == NULL || strlen (date) != 10)
    return FALSE;
  for (const char *p = date; *p != '\0'; p++)
    if (!g_ascii_isdigit (*p))
      return FALSE;
  if (sscanf (date, "%4d%2d%2d%2d", &y, &m, &d, &h) != 4)
    return FALSE;
  time = g_date_time_new_utc (y, m, d, h, 0, 0);
  if (time == NULL)
    return FALSE;
  *hour_start = g_date_time_to_unix (time) * 1000;
  return TRUE;
}

typedef struct
{
  NatterdServer      *server;
  gint64              app_id;
  char               *date;
  NatterdHistoryDone  done;
  gpointer            user_data;
  GDestroyNotify      destroy;
} Export;

static void
export_free (gpointer data)
{
  Export *export = data;

  if (export->destroy != NULL)
    export->destroy (export->user_data);
  g_object_unref (export->server);
  g_free (export->date);
  g_free (export);
}

static void
exported (NatterdRead *base,
          gpointer     user_data)
{
  NatterdExportRead *read = (NatterdExportRead *) base;
  Export *export = user_data;
  NatterdApp *app = natterd_directory_lookup_app_id (export->server->directory, export->app_id);
  g_autofree char *url = NULL;

  if (base->error != NULL)
    {
      natterd_log (G_LOG_LEVEL_WARNING, "history-export-failed", "date", export->date,
                   "error", base->error->message, NULL);
      if (export->done != NULL)
        export->done (NULL, base->error, export->user_data);
      return;
    }

  if (read->count == 0)
    {
      /* Nothing in that hour: no file, an empty url, as the reference does. */
      g_unlink (read->path);
    }
  else if (app != NULL)
    {
      char count[16];

      url = export_url (export->server, app, export->date);
      g_snprintf (count, sizeof count, "%u", read->count);
      natterd_log (G_LOG_LEVEL_INFO, "history-exported", "app", app->key, "date", export->date,
                   "messages", count, NULL);
    }

  if (export->done != NULL)
    export->done (url != NULL ? url : "", NULL, export->user_data);
}

void
natterd_server_history_export (NatterdServer      *self,
                               NatterdApp         *app,
                               gint64              hour_start,
                               NatterdHistoryDone  done,
                               gpointer            user_data,
                               GDestroyNotify      destroy)
{
  g_autofree char *dir = export_dir (self, app);
  g_autofree char *date = hour_name (hour_start);
  g_autofree char *file = g_strconcat (date, ".json.gz", NULL);
  g_autofree char *path = g_build_filename (dir, file, NULL);
  gint64 now = natterd_now_ms ();
  Export *export;
  NatterdExportRead *read;

  /* Not over yet, or past retention: nothing to give. */
  if (hour_start + HOUR_MS > now ||
      hour_start + HOUR_MS < now - (gint64) self->config->history_retention_hours * HOUR_MS)
    {
      if (done != NULL)
        done ("", NULL, user_data);
      if (destroy != NULL)
        destroy (user_data);
      return;
    }

  if (g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_autofree char *url = export_url (self, app, date);

      if (done != NULL)
        done (url, NULL, user_data);
      if (destroy != NULL)
        destroy (user_data);
      return;
    }

  g_mkdir_with_parents (dir, 0700);
  export = g_new0 (Export, 1);
  export->server = g_object_ref (self);
  export->app_id = app->id;
  export->date = g_steal_pointer (&date);
  export->done = done;
  export->user_data = user_data;
  export->destroy = destroy;

  read = natterd_read_new (NATTERD_READ_EXPORT, exported, export, export_free);
  read->app_id = app->id;
  read->from_time = hour_start;
  read->to_time = hour_start + HOUR_MS;
  read->path = g_steal_pointer (&path);
  natterd_store_read (self->store, read);
}

/* ------------------------------------------------------------------- hourly */

typedef struct
{
  char   *dir_path;
  gint64  oldest;
} Prune;

static void
prune_free (gpointer data)
{
  Prune *prune = data;

  g_free (prune->dir_path);
  g_free (prune);
}

/* Listing and unlinking are disk I/O: on a worker thread. */
static void
prune_in_thread (GTask        *task,
                 gpointer      source_object,
                 gpointer      task_data,
                 GCancellable *cancellable)
{
  Prune *prune = task_data;
  g_autoptr(GDir) dir = g_dir_open (prune->dir_path, 0, NULL);
  const char *name;
  const char *dir_path = prune->dir_path;
  gint64 oldest = prune->oldest;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *date = g_strndup (name, 10);
      gint64 start;

      if (g_str_has_suffix (name, ".json.gz") && natterd_history_parse_date (date, &start) &&
          start + HOUR_MS < oldest)
        {
          g_autofree char *path = g_build_filename (dir_path, name, NULL);
          g_unlink (path);
        }
    }
  g_task_return_boolean (task, TRUE);
}

static void
prune (NatterdServer *self,
       NatterdApp    *app,
       gint64         now)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, NULL, NULL);
  Prune *data = g_new0 (Prune, 1);

  data->dir_path = export_dir (self, app);
  data->oldest = now - (gint64) self->config->history_retention_hours * HOUR_MS;
  g_task_set_task_data (task, data, prune_free);
  g_task_run_in_thread (task, prune_in_thread);
}

static gboolean hourly (gpointer user_data);

static void
schedule_hourly (NatterdServer *self)
{
  gint64 now = natterd_now_ms ();
  gint64 next = (now / HOUR_MS + 1) * HOUR_MS + EXPORT_DELAY_MS;

  self->history_id = g_timeout_add_seconds ((guint) ((next - now) / 1000) + 1, hourly, self);
}

static gboolean
hourly (gpointer user_data)
{
  NatterdServer *self = user_data;
  gint64 now = natterd_now_ms ();
  gint64 previous = (now / HOUR_MS - 1) * HOUR_MS;
  GList *apps = natterd_directory_get_apps (self->directory);

  for (GList *l = apps; l != NULL; l = l->next)
    {
      prune (self, l->data, now);
      natterd_server_history_export (self, l->data, previous, NULL, NULL, NULL);
    }
  g_list_free (apps);

  schedule_hourly (self);
  return G_SOURCE_REMOVE;
}

/* ---------------------------------------------------------------- download */

static void
on_history (SoupServer        *server,
            SoupServerMessage *msg,
            const char        *path,
            GHashTable        *query,
            gpointer           user_data)
{
  NatterdServer *self = user_data;
  g_auto(GStrv) parts = g_strsplit (path, "/", 0);
  g_autofree char *date = NULL;
  g_autofree char *mac = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *file_name = NULL;
  g_autofree char *file_path = NULL;
  NatterdApp *app;
  gint64 start;

  soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
  if (soup_server_message_get_method (msg) != SOUP_METHOD_GET)
    return;

  /* "", "history", app key, "YYYYMMDDHH-MAC.json.gz" */
  if (g_strv_length (parts) != 4 || !g_str_has_suffix (parts[3], ".json.gz") ||
      strlen (parts[3]) != 10 + 1 + 16 + strlen (".json.gz"))
    return;
  app = natterd_directory_lookup_app (self->directory, parts[2]);
  date = g_strndup (parts[3], 10);
  mac = g_strndup (parts[3] + 11, 16);
  if (app == NULL || !natterd_history_parse_date (date, &start))
    return;
  expected = url_mac (app, date);
  if (!natterd_secret_str_equal (expected, mac))
    return;

  dir = export_dir (self, app);
  file_name = g_strconcat (date, ".json.gz", NULL);
  file_path = g_build_filename (dir, file_name, NULL);
  natterd_server_serve_file (self, msg, file_path, "application/gzip");
}

void
natterd_server_setup_history (NatterdServer *self)
{
  soup_server_add_handler (self->soup, "/history", on_history, self, NULL);
  schedule_hourly (self);
}
