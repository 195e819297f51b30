/* natterd-config.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-config.h"
#include "natterd-store-sqlite.h"

NatterdConfig *
natterd_config_new (void)
{
  NatterdConfig *self = g_new0 (NatterdConfig, 1);

  self->listen = g_strdup ("127.0.0.1:8470");
  self->ping_interval = 30;
  self->connect_timeout = 10;
  self->log_level = g_strdup ("info");
  self->log_format = g_strdup ("text");
  self->send_rate = 50;
  self->send_burst = 200;
  self->api_rate = 0;
  self->group_max_members = 3000;
  self->login_lockout = 900;
  self->login_attempts = 12;
  self->login_backoff = 100;
  self->login_address_limit = 100;
  self->query_rate = 20;
  self->query_burst = 100;
  self->max_queries = 32;
  self->chatroom_idle_timeout = 3600;
  self->chatroom_offline_timeout = 30;
  self->media_max_size = 100 * 1024 * 1024;
  self->webhook_queue_size = 10000;
  self->webhook_queue_bytes = 64 * 1024 * 1024;
  self->webhook_timeout = 10;
  self->webhook_max_attempts = 8;
  self->webhook_backoff_initial = 1000;
  self->webhook_backoff_max = 5 * 60 * 1000;
  self->webhook_drain_timeout = 5;
  self->turn_ttl = 24 * 3600;
  self->history_retention_hours = 72;
  self->store_batch_max = 4096;
  self->inbox_retention_days = 30;
  self->store_wal_size = NATTERD_STORE_SQLITE_WAL_MIB;
  self->secret_grace = 24 * 3600;
  self->media_user_quota = G_GUINT64_CONSTANT (1) << 30;
  self->media_app_quota = 0;
  self->header_timeout = 10;
  self->body_timeout = 30;
  self->store_min_free = 64 * 1024 * 1024;
  self->store_cache_size = 16;
  self->store_backend = g_strdup ("sqlite");
  self->fanout_stall = 2;
  self->presence_subscriptions = 1000;   /* RongCloud's limits (#16) */
  self->presence_subscribers = 5000;

  return self;
}

void
natterd_config_free (NatterdConfig *self)
{
  if (self == NULL)
    return;

  g_free (self->data_dir);
  g_free (self->listen);
  g_free (self->public_url);
  g_free (self->tls_cert);
  g_free (self->tls_key);
  g_free (self->log_level);
  g_free (self->log_format);
  g_free (self->turn_secret);
  g_strfreev (self->turn_uris);
  g_free (self->store_backend);
  g_free (self->store_postgresql);
  g_free (self->media_dir);
  g_free (self->cluster_nats);
  g_free (self->cluster_node_name);
  g_free (self);
}

typedef enum {
  KEY_STRING,
  KEY_PATH,
  KEY_UINT,
  KEY_UINT64,
  KEY_LIST,
} KeyType;

static const struct {
  const char *group;
  const char *key;
  KeyType type;
  gsize offset;
} keys[] = {
#define K(g, k, t, field) { g, k, t, G_STRUCT_OFFSET (NatterdConfig, field) }
  K ("server", "data-dir", KEY_PATH, data_dir),
  K ("server", "listen", KEY_STRING, listen),
  K ("server", "public-url", KEY_STRING, public_url),
  K ("server", "tls-cert", KEY_PATH, tls_cert),
  K ("server", "tls-key", KEY_PATH, tls_key),
  K ("server", "ping-interval", KEY_UINT, ping_interval),
  K ("server", "connect-timeout", KEY_UINT, connect_timeout),
  K ("log", "level", KEY_STRING, log_level),
  K ("log", "format", KEY_STRING, log_format),
  K ("limits", "send-rate", KEY_UINT, send_rate),
  K ("limits", "send-burst", KEY_UINT, send_burst),
  K ("limits", "api-rate", KEY_UINT, api_rate),
  K ("limits", "group-max-members", KEY_UINT, group_max_members),
  K ("limits", "max-connections", KEY_UINT, max_connections),
  K ("limits", "query-rate", KEY_UINT, query_rate),
  K ("limits", "query-burst", KEY_UINT, query_burst),
  K ("limits", "max-queries", KEY_UINT, max_queries),
  K ("limits", "fanout-stall", KEY_UINT, fanout_stall),
  K ("limits", "login-lockout", KEY_UINT, login_lockout),
  K ("limits", "login-attempts", KEY_UINT, login_attempts),
  K ("limits", "login-backoff", KEY_UINT, login_backoff),
  K ("limits", "login-address-limit", KEY_UINT, login_address_limit),
  K ("limits", "presence-subscriptions", KEY_UINT, presence_subscriptions),
  K ("limits", "presence-subscribers", KEY_UINT, presence_subscribers),
  K ("chatroom", "idle-timeout", KEY_UINT, chatroom_idle_timeout),
  K ("chatroom", "offline-timeout", KEY_UINT, chatroom_offline_timeout),
  K ("media", "max-size", KEY_UINT64, media_max_size),
  K ("webhook", "queue-size", KEY_UINT, webhook_queue_size),
  K ("webhook", "queue-bytes", KEY_UINT64, webhook_queue_bytes),
  K ("webhook", "timeout", KEY_UINT, webhook_timeout),
  K ("webhook", "max-attempts", KEY_UINT, webhook_max_attempts),
  K ("webhook", "backoff-initial", KEY_UINT, webhook_backoff_initial),
  K ("webhook", "backoff-max", KEY_UINT, webhook_backoff_max),
  K ("webhook", "drain-timeout", KEY_UINT, webhook_drain_timeout),
  K ("turn", "secret", KEY_STRING, turn_secret),
  K ("turn", "uris", KEY_LIST, turn_uris),
  K ("turn", "ttl", KEY_UINT, turn_ttl),
  K ("history", "retention-hours", KEY_UINT, history_retention_hours),
  K ("store", "batch-max", KEY_UINT, store_batch_max),
  K ("store", "inbox-retention-days", KEY_UINT, inbox_retention_days),
  K ("store", "wal-size", KEY_UINT, store_wal_size),
  K ("server", "secret-grace", KEY_UINT, secret_grace),
  K ("media", "user-quota", KEY_UINT64, media_user_quota),
  K ("media", "app-quota", KEY_UINT64, media_app_quota),
  K ("server", "header-timeout", KEY_UINT, header_timeout),
  K ("server", "body-timeout", KEY_UINT, body_timeout),
  K ("store", "min-free", KEY_UINT64, store_min_free),
  K ("store", "cache-size", KEY_UINT, store_cache_size),
  K ("store", "backend", KEY_STRING, store_backend),
  K ("store", "postgresql", KEY_STRING, store_postgresql),
  K ("media", "dir", KEY_PATH, media_dir),
  K ("cluster", "nats", KEY_STRING, cluster_nats),
  K ("cluster", "node-name", KEY_STRING, cluster_node_name),
#undef K
};

static gboolean
known_key (const char *group,
           const char *key)
{
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    if (g_str_equal (keys[i].group, group) && g_str_equal (keys[i].key, key))
      return TRUE;
  return FALSE;
}

gboolean
natterd_config_load_file (NatterdConfig  *self,
                          const char     *path,
                          GError        **error)
{
  g_autoptr(GKeyFile) file = g_key_file_new ();
  g_autofree char *dir = g_path_get_dirname (path);
  g_auto(GStrv) groups = NULL;

  if (!g_key_file_load_from_file (file, path, G_KEY_FILE_NONE, error))
    {
      g_prefix_error (error, "%s: ", path);
      return FALSE;
    }

  /* A misspelt key would silently keep its default: refuse it instead. */
  groups = g_key_file_get_groups (file, NULL);
  for (guint g = 0; groups[g] != NULL; g++)
    {
      g_auto(GStrv) names = g_key_file_get_keys (file, groups[g], NULL, NULL);

      for (guint k = 0; names != NULL && names[k] != NULL; k++)
        if (!known_key (groups[g], names[k]))
          {
            g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND,
                         "%s: unknown key [%s] %s", path, groups[g], names[k]);
            return FALSE;
          }
    }

  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      gpointer field = G_STRUCT_MEMBER_P (self, keys[i].offset);
      g_autoptr(GError) local_error = NULL;

      if (!g_key_file_has_key (file, keys[i].group, keys[i].key, NULL))
        continue;

      switch (keys[i].type)
        {
        case KEY_STRING:
        case KEY_PATH:
          {
            g_autofree char *value = g_key_file_get_string (file, keys[i].group, keys[i].key, &local_error);
            char **slot = field;

            if (value == NULL)
              break;
            g_free (*slot);
            /* Relative paths are relative to the config file. */
            if (keys[i].type == KEY_PATH && !g_path_is_absolute (value))
              *slot = g_build_filename (dir, value, NULL);
            else
              *slot = g_steal_pointer (&value);
          }
          break;

        case KEY_UINT:
        case KEY_UINT64:
          {
            guint64 value = g_key_file_get_uint64 (file, keys[i].group, keys[i].key, &local_error);

            if (local_error != NULL)
              break;
            if (keys[i].type == KEY_UINT)
              {
                if (value > G_MAXUINT)
                  {
                    g_set_error (&local_error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                                 "value too large");
                    break;
                  }
                *(guint *) field = (guint) value;
              }
            else
              {
                *(guint64 *) field = value;
              }
          }
          break;

        case KEY_LIST:
          {
            char ***slot = field;
            char **value = g_key_file_get_string_list (file, keys[i].group, keys[i].key, NULL, &local_error);

            if (value == NULL)
              break;
            g_strfreev (*slot);
            *slot = value;
          }
          break;

        default:
          g_assert_not_reached ();
        }

      if (local_error != NULL)
        {
          g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                       "%s: [%s] %s: %s", path, keys[i].group, keys[i].key, local_error->message);
          return FALSE;
        }
    }

  if (self->fanout_stall == 0)
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                   "%s: [limits] fanout-stall: at least 1 second", path);
      return FALSE;
    }
  if (!g_str_equal (self->store_backend, "sqlite") && !g_str_equal (self->store_backend, "postgresql"))
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                   "%s: [store] backend: \"%s\" is neither sqlite nor postgresql", path, self->store_backend);
      return FALSE;
    }
  if (g_str_equal (self->store_backend, "postgresql") && (self->store_postgresql == NULL || *self->store_postgresql == '\0'))
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                   "%s: [store] backend=postgresql needs [store] postgresql (a libpq conninfo string)", path);
      return FALSE;
    }
  if (self->cluster_nats != NULL && (self->cluster_node_name == NULL || *self->cluster_node_name == '\0'))
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                   "%s: [cluster] nats needs [cluster] node-name, unique per node", path);
      return FALSE;
    }

  return TRUE;
}

gboolean
natterd_config_get_key (guint        index,
                        const char **group,
                        const char **key)
{
  if (index >= G_N_ELEMENTS (keys))
    return FALSE;
  *group = keys[index].group;
  *key = keys[index].key;
  return TRUE;
}
