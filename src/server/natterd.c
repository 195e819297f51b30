/* natterd.c — the natterd command: serve, or administer apps
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib-unix.h>
#include <json-glib/json-glib.h>
#include <locale.h>
#include <stdio.h>
#include <sys/resource.h>

#include "natter-codes.h"
#include "natterd-backup.h"
#include "natterd-config.h"
#include "natterd-directory.h"
#include "natterd-log.h"
#include "natterd-notify.h"
#include "natterd-sched.h"
#include "natterd-server.h"
#include "natterd-store-pg.h"
#include "natterd-store-sqlite.h"

static gboolean
on_quit_signal (gpointer user_data)
{
  natterd_notify ("STOPPING=1");
  g_main_loop_quit (user_data);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_reload_signal (gpointer user_data)
{
  g_autofree char *reloading = g_strdup_printf ("RELOADING=1\nMONOTONIC_USEC=%" G_GINT64_FORMAT,
                                                g_get_monotonic_time ());

  /* The reload itself reads the apps on a store thread; we serve on. */
  natterd_notify (reloading);
  natterd_server_reload_apps (user_data);
  natterd_notify ("READY=1");
  return G_SOURCE_CONTINUE;
}

static int
create_app (NatterdStore *store,
            const char   *name,
            char        **settings_args)
{
  g_autoptr(NatterdAppRecord) record = g_new0 (NatterdAppRecord, 1);
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;
  NatterdAppSettings settings = { 0 };

  natterd_app_settings_parse (&settings, NULL);
  for (guint i = 0; settings_args != NULL && settings_args[i] != NULL; i++)
    if (!natterd_app_settings_set (&settings, settings_args[i], &error))
      {
        g_printerr ("natterd: %s\n", error->message);
        natterd_app_settings_clear (&settings);
        return 2;
      }

  natterd_app_record_generate (record, name);
  record->settings = natterd_app_settings_to_json (&settings);
  natterd_app_settings_clear (&settings);

  if (!natterd_store_create_app (store, record, &error))
    {
      g_printerr ("natterd: %s\n", error->message);
      return 1;
    }

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "appKey");
  json_builder_add_string_value (builder, record->app_key);
  json_builder_set_member_name (builder, "appSecret");
  json_builder_add_string_value (builder, record->app_secret);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json = json_to_string (root, FALSE);
  g_print ("%s\n", json);
  return 0;
}

static int
set_app (NatterdStore *store,
         const char   *app_key,
         char        **settings_args)
{
  g_autoptr(GPtrArray) apps = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;
  NatterdAppSettings settings = { 0 };
  gboolean found = FALSE;

  apps = natterd_store_list_apps (store, &error);
  if (apps == NULL)
    {
      g_printerr ("natterd: %s\n", error->message);
      return 1;
    }

  for (guint i = 0; i < apps->len; i++)
    {
      NatterdAppRecord *record = g_ptr_array_index (apps, i);

      if (g_strcmp0 (record->app_key, app_key) == 0)
        {
          natterd_app_settings_parse (&settings, record->settings);
          found = TRUE;
        }
    }
  if (!found)
    {
      g_printerr ("natterd: no app with key %s\n", app_key);
      return 1;
    }

  for (guint i = 0; settings_args != NULL && settings_args[i] != NULL; i++)
    if (!natterd_app_settings_set (&settings, settings_args[i], &error))
      {
        g_printerr ("natterd: %s\n", error->message);
        natterd_app_settings_clear (&settings);
        return 2;
      }

  json = natterd_app_settings_to_json (&settings);
  natterd_app_settings_clear (&settings);
  if (!natterd_store_update_app (store, app_key, json, &error))
    {
      g_printerr ("natterd: %s\n", error->message);
      return 1;
    }
  g_print ("%s\n", json);
  return 0;
}

/* The new secret is printed once; the old one signs for @grace s more. */
static int
rotate_secret (NatterdStore *store,
               const char   *app_key,
               guint         grace)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *secret = natterd_app_secret_generate ();
  g_autofree char *json = NULL;
  gint64 old_expires = natterd_now_ms () + (gint64) grace * 1000;

  if (!natterd_store_rotate_secret (store, app_key, secret, old_expires, &error))
    {
      g_printerr ("natterd: %s\n", error->message);
      return 1;
    }

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "appKey");
  json_builder_add_string_value (builder, app_key);
  json_builder_set_member_name (builder, "appSecret");
  json_builder_add_string_value (builder, secret);
  json_builder_set_member_name (builder, "oldSecretValidUntil");
  json_builder_add_int_value (builder, old_expires);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json = json_to_string (root, FALSE);
  g_print ("%s\n", json);
  return 0;
}

static int
rotate_token_key (NatterdStore *store,
                  const char   *app_key)
{
  g_autoptr(GBytes) key = natterd_app_token_key_generate ();
  g_autoptr(GError) error = NULL;

  if (!natterd_store_set_token_key (store, app_key, key, &error))
    {
      g_printerr ("natterd: %s\n", error->message);
      return 1;
    }
  g_print ("{\"appKey\":\"%s\",\"tokensRevoked\":true}\n", app_key);
  return 0;
}

static int
list_apps (NatterdStore *store)
{
  g_autoptr(GPtrArray) apps = NULL;
  g_autoptr(GError) error = NULL;

  apps = natterd_store_list_apps (store, &error);
  if (apps == NULL)
    {
      g_printerr ("natterd: %s\n", error->message);
      return 1;
    }
  for (guint i = 0; i < apps->len; i++)
    {
      NatterdAppRecord *record = g_ptr_array_index (apps, i);

      g_print ("%s\t%s\t%s\n", record->app_key, record->name, record->settings);
    }
  return 0;
}

/* Not through the store: it only reads, and natterd may be running. */
static int
backup (NatterdConfig *config,
        const char    *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) line = NULL;
  NatterdBackupStats stats;

  if (!g_str_equal (config->store_backend, "sqlite"))
    {
      g_printerr ("natterd: --backup copies the SQLite store; back up PostgreSQL with pg_dump or "
                  "base backups and WAL archiving (docs/operations.md)\n");
      return 2;
    }
  if (!natterd_backup_sqlite (config->data_dir, path, &stats, &error))
    {
      g_printerr ("natterd: %s\n", error->message);
      return 1;
    }
  line = g_string_new ("{\"backup\":");
  natterd_json_append_string (line, path);
  g_string_append_printf (line, ",\"bytes\":%" G_GINT64_FORMAT ",\"pages\":%" G_GINT64_FORMAT
                          ",\"steps\":%u,\"ms\":%" G_GINT64_FORMAT "}",
                          stats.bytes, stats.pages, stats.steps, stats.duration_us / 1000);
  g_print ("%s\n", line->str);
  return 0;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterdConfig) config = natterd_config_new ();
  g_autoptr(NatterdStore) store = NULL;
  g_autoptr(NatterdServer) server = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autofree char *config_path = NULL;
  g_autofree char *data_dir = NULL;
  g_autofree char *listen = NULL;
  g_autofree char *tls_cert = NULL;
  g_autofree char *tls_key = NULL;
  g_autofree char *create_app_name = NULL;
  g_autofree char *set_app_key = NULL;
  g_autofree char *rotate_secret_key = NULL;
  g_autofree char *rotate_token_key_key = NULL;
  g_autofree char *create_invite_key = NULL;
  g_autofree char *backup_path = NULL;
  g_autofree char *migrate_conninfo = NULL;
  g_auto(GStrv) app_settings = NULL;
  gboolean list = FALSE;
  gboolean version = FALSE;
  GOptionEntry entries[] = {
    { "data-dir", 0, 0, G_OPTION_ARG_FILENAME, &data_dir, "Where natterd keeps its database and media", "DIR" },
    { "listen", 0, 0, G_OPTION_ARG_STRING, &listen, "Address and port to serve on (port 0 picks a free one)", "IP:PORT" },
    { "config", 0, 0, G_OPTION_ARG_FILENAME, &config_path, "Settings file (GKeyFile)", "FILE" },
    { "tls-cert", 0, 0, G_OPTION_ARG_FILENAME, &tls_cert, "PEM certificate: serve https and wss", "FILE" },
    { "tls-key", 0, 0, G_OPTION_ARG_FILENAME, &tls_key, "PEM private key of --tls-cert", "FILE" },
    { "create-app", 0, 0, G_OPTION_ARG_STRING, &create_app_name, "Create an app, print its key and secret as JSON, exit", "NAME" },
    { "set-app", 0, 0, G_OPTION_ARG_STRING, &set_app_key, "Change settings of an app (with --app-setting), exit", "APPKEY" },
    { "app-setting", 0, 0, G_OPTION_ARG_STRING_ARRAY, &app_settings, "With --create-app or --set-app: one app setting", "KEY=VALUE" },
    { "list-apps", 0, 0, G_OPTION_ARG_NONE, &list, "List apps and their settings, exit", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version", NULL },
    { "rotate-secret", 0, 0, G_OPTION_ARG_STRING, &rotate_secret_key, "New app secret, printed as JSON; the old one works for [server] secret-grace more seconds; exit", "APPKEY" },
    { "migrate-to-postgresql", 0, 0, G_OPTION_ARG_STRING, &migrate_conninfo, "Copy the SQLite database of --data-dir into an empty PostgreSQL database, compare row counts, exit", "CONNINFO" },
    { "rotate-token-key", 0, 0, G_OPTION_ARG_STRING, &rotate_token_key_key, "New token key: every token of the app is refused (31004) from the next SIGHUP on; exit", "APPKEY" },
    { "create-invite", 0, 0, G_OPTION_ARG_STRING, &create_invite_key, "Print a one-use invite code for an app with accounts=invite, exit", "APPKEY" },
    { "backup", 0, 0, G_OPTION_ARG_FILENAME, &backup_path, "Copy the database to FILE, consistent while natterd runs (not media: copy DIR/media); exit", "FILE" },
    { NULL }
  };
  int status = 0;

  setlocale (LC_ALL, "");

  /* Each connection is a descriptor: allow as many as the system lets us. */
  {
    struct rlimit limit;

    if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max)
      {
        limit.rlim_cur = limit.rlim_max;
        setrlimit (RLIMIT_NOFILE, &limit);
      }
  }

  context = g_option_context_new ("— the Natter messaging server");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
                                    "Serve:   natterd --data-dir DIR --listen 127.0.0.1:8470 [--config FILE]\n"
                                    "Apps:    natterd --data-dir DIR --create-app NAME [--app-setting multi-device=true]\n"
                                    "SIGTERM/SIGINT stop cleanly; SIGHUP reloads app settings.\n");
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("natterd: %s\n", error->message);
      return 2;
    }

  if (version)
    {
      g_print ("natterd %s (protocol %s)\n", PACKAGE_VERSION, NATTER_PROTOCOL_NAME);
      return 0;
    }

  if (config_path != NULL && !natterd_config_load_file (config, config_path, &error))
    {
      g_printerr ("natterd: %s\n", error->message);
      return 2;
    }
  /* The command line wins over the file. */
  if (data_dir != NULL)
    { g_free (config->data_dir); config->data_dir = g_strdup (data_dir); }
  if (listen != NULL)
    { g_free (config->listen); config->listen = g_strdup (listen); }
  if (tls_cert != NULL)
    { g_free (config->tls_cert); config->tls_cert = g_strdup (tls_cert); }
  if (tls_key != NULL)
    { g_free (config->tls_key); config->tls_key = g_strdup (tls_key); }

  if (config->data_dir == NULL)
    {
      g_printerr ("natterd: --data-dir is required\n");
      return 2;
    }

  if (backup_path != NULL)
    return backup (config, backup_path);

  if (!natterd_log_init (config->log_level, config->log_format, &error))
    {
      g_printerr ("natterd: %s\n", error->message);
      return 2;
    }

  if (migrate_conninfo != NULL)
    {
      g_autoptr(GString) report = g_string_new (NULL);

      if (!natterd_store_pg_import_sqlite (config->data_dir, migrate_conninfo, report, &error))
        {
          g_printerr ("%snatterd: %s\n", report->str, error->message);
          return 1;
        }
      g_print ("%sMigrated %s to PostgreSQL; every table's row count matches.\n", report->str, config->data_dir);
      return 0;
    }

  if (g_str_equal (config->store_backend, "postgresql"))
    {
      store = natterd_store_pg_open (config->store_postgresql, &error);
      if (store != NULL)
        natterd_store_pg_set_node_name (NATTERD_STORE_PG (store), config->cluster_node_name);
    }
  else
    store = natterd_store_sqlite_open (config->data_dir, &error);
  if (store == NULL)
    {
      g_printerr ("natterd: %s\n", error->message);
      return 1;
    }
  if (NATTERD_IS_STORE_SQLITE (store))
    {
      natterd_store_sqlite_set_wal_size (NATTERD_STORE_SQLITE (store),
                                         (guint64) MAX (config->store_wal_size, 1) * 1024 * 1024);
      natterd_store_sqlite_set_cache_size (NATTERD_STORE_SQLITE (store),
                                           (guint64) MAX (config->store_cache_size, 1) * 1024 * 1024);
    }

  if (create_app_name != NULL)
    return create_app (store, create_app_name, app_settings);
  if (set_app_key != NULL)
    return set_app (store, set_app_key, app_settings);
  if (list)
    return list_apps (store);
  if (rotate_secret_key != NULL)
    return rotate_secret (store, rotate_secret_key, config->secret_grace);
  if (rotate_token_key_key != NULL)
    return rotate_token_key (store, rotate_token_key_key);
  if (create_invite_key != NULL)
    return natterd_accounts_create_invite (store, create_invite_key);

  server = natterd_server_new (config, store, &error);
  if (server == NULL || !natterd_server_listen (server, &error))
    {
      g_printerr ("natterd: %s\n", error->message);
      if (server != NULL)
        natterd_server_shutdown (server);
      return 1;
    }

  /* Signals are handled before anyone learns where we listen. */
  loop = g_main_loop_new (NULL, FALSE);
  natterd_log_batch_in_main_loop ();
  g_unix_signal_add (SIGTERM, on_quit_signal, loop);
  g_unix_signal_add (SIGINT, on_quit_signal, loop);
  g_unix_signal_add (SIGHUP, on_reload_signal, server);

  /* Scripts and tests wait for exactly this line. */
  printf ("listening on %s\n", natterd_server_get_url (server));
  fflush (stdout);

  /* systemd (Type=notify): we answer on the port from now on. */
  {
    g_autofree char *ready = g_strdup_printf ("READY=1\nSTATUS=Serving on %s", natterd_server_get_url (server));

    natterd_notify (ready);
    natterd_notify_watchdog_add ();
  }

  /* The main thread reads, acks and delivers: see natterd-sched.c. */
  natterd_sched_prefer_latency ();
  natterd_server_time_iterations (server);
  g_main_loop_run (loop);
  natterd_log_batch_end ();

  natterd_server_shutdown (server);
  natterd_log (G_LOG_LEVEL_INFO, "stopped", NULL);
  return status;
}
