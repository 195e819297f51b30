/* natterd-directory.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-directory.h"

#include "natter-codes.h"
#include "natterd-crypto.h"
#include "natterd-log.h"
#include "natterd-session.h"

#include <json-glib/json-glib.h>
#include <string.h>

#define TOKEN_VERSION "1"
#define TOKEN_MAC_LENGTH 16

struct _NatterdDirectory
{
  GHashTable *apps;             /* key → NatterdApp */
  GHashTable *apps_by_id;       /* gint64* → NatterdApp */
  GHashTable *users_by_id;      /* gint64* → NatterdUser */
  GHashTable *groups_by_id;     /* gint64* → NatterdGroup */
  gint64      next_user_id;
  gint64      next_group_id;
  gint64      next_chatroom_id;
  /* With a store shared by several nodes, this node hands out only ids
   * that are id_slot modulo id_stride (natterd_store_pg_load()). */
  gint64      id_stride;
  gint64      id_slot;
};

gint64
natterd_now_ms (void)
{
  return g_get_real_time () / 1000;
}

/* ------------------------------------------------------------- settings */

void
natterd_app_settings_clear (NatterdAppSettings *settings)
{
  g_clear_pointer (&settings->webhook_url, g_free);
  g_clear_pointer (&settings->presence_url, g_free);
}

static void
settings_defaults (NatterdAppSettings *settings)
{
  natterd_app_settings_clear (settings);
  memset (settings, 0, sizeof *settings);
  settings->send_rate = -1;
  settings->send_burst = -1;
  settings->api_rate = -1;
  settings->edit_window = 172800;
}

void
natterd_app_settings_parse (NatterdAppSettings *settings,
                            const char         *json)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *object;

  settings_defaults (settings);
  if (json == NULL || !json_parser_load_from_data (parser, json, -1, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return;

  object = json_node_get_object (json_parser_get_root (parser));
  settings->multi_device = json_object_get_boolean_member_with_default (object, "multi-device", FALSE);
  settings->allow_reused_nonce = json_object_get_boolean_member_with_default (object, "allow-reused-nonce", FALSE);
  settings->blocked = json_object_get_boolean_member_with_default (object, "blocked", FALSE);
  settings->token_ttl = (guint) CLAMP (json_object_get_int_member_with_default (object, "token-ttl", 0), 0, G_MAXUINT);
  settings->send_rate = (int) CLAMP (json_object_get_int_member_with_default (object, "send-rate", -1), -1, G_MAXINT);
  settings->send_burst = (int) CLAMP (json_object_get_int_member_with_default (object, "send-burst", -1), -1, G_MAXINT);
  settings->api_rate = (int) CLAMP (json_object_get_int_member_with_default (object, "api-rate", -1), -1, G_MAXINT);
  settings->recall_window = (guint) CLAMP (json_object_get_int_member_with_default (object, "recall-window", 0), 0, G_MAXUINT);
  settings->edit_window = (guint) CLAMP (json_object_get_int_member_with_default (object, "edit-window", 172800), 0,
                                         G_MAXUINT);
  settings->group_history_before_join =
    json_object_get_boolean_member_with_default (object, "group-history-before-join", FALSE);
  settings->webhook_rongcloud = g_strcmp0 (json_object_get_string_member_with_default (object, "webhook-signature", NULL),
                                           "rongcloud") == 0;
  {
    const char *accounts = json_object_get_string_member_with_default (object, "accounts", "off");

    settings->accounts = g_strcmp0 (accounts, "open") == 0 ? NATTERD_ACCOUNTS_OPEN :
                         g_strcmp0 (accounts, "invite") == 0 ? NATTERD_ACCOUNTS_INVITE : NATTERD_ACCOUNTS_OFF;
  }
  if (json_object_has_member (object, "webhook-url"))
    settings->webhook_url = g_strdup (json_object_get_string_member_with_default (object, "webhook-url", NULL));
  if (settings->webhook_url != NULL && *settings->webhook_url == '\0')
    g_clear_pointer (&settings->webhook_url, g_free);
  if (json_object_has_member (object, "presence-url"))
    settings->presence_url = g_strdup (json_object_get_string_member_with_default (object, "presence-url", NULL));
  if (settings->presence_url != NULL && *settings->presence_url == '\0')
    g_clear_pointer (&settings->presence_url, g_free);
}

const char *
natterd_accounts_mode_to_string (NatterdAccountsMode mode)
{
  switch (mode)
    {
    case NATTERD_ACCOUNTS_OPEN: return "open";
    case NATTERD_ACCOUNTS_INVITE: return "invite";
    case NATTERD_ACCOUNTS_OFF:
    default: return "off";
    }
}

char *
natterd_app_settings_to_json (const NatterdAppSettings *settings)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "multi-device");
  json_builder_add_boolean_value (builder, settings->multi_device);
  json_builder_set_member_name (builder, "allow-reused-nonce");
  json_builder_add_boolean_value (builder, settings->allow_reused_nonce);
  json_builder_set_member_name (builder, "blocked");
  json_builder_add_boolean_value (builder, settings->blocked);
  json_builder_set_member_name (builder, "token-ttl");
  json_builder_add_int_value (builder, settings->token_ttl);
  json_builder_set_member_name (builder, "send-rate");
  json_builder_add_int_value (builder, settings->send_rate);
  json_builder_set_member_name (builder, "send-burst");
  json_builder_add_int_value (builder, settings->send_burst);
  json_builder_set_member_name (builder, "api-rate");
  json_builder_add_int_value (builder, settings->api_rate);
  json_builder_set_member_name (builder, "recall-window");
  json_builder_add_int_value (builder, settings->recall_window);
  json_builder_set_member_name (builder, "group-history-before-join");
  json_builder_add_boolean_value (builder, settings->group_history_before_join);
  json_builder_set_member_name (builder, "webhook-signature");
  json_builder_add_string_value (builder, settings->webhook_rongcloud ? "rongcloud" : "hmac-sha256");
  json_builder_set_member_name (builder, "accounts");
  json_builder_add_string_value (builder, natterd_accounts_mode_to_string (settings->accounts));
  if (settings->webhook_url != NULL)
    {
      json_builder_set_member_name (builder, "webhook-url");
      json_builder_add_string_value (builder, settings->webhook_url);
    }
  json_builder_set_member_name (builder, "edit-window");
  json_builder_add_int_value (builder, settings->edit_window);
  if (settings->presence_url != NULL)
    {
      json_builder_set_member_name (builder, "presence-url");
      json_builder_add_string_value (builder, settings->presence_url);
    }
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  return json_to_string (root, FALSE);
}

static gboolean
parse_bool (const char *value,
            gboolean   *out)
{
  if (g_strcmp0 (value, "true") == 0 || g_strcmp0 (value, "1") == 0 || g_strcmp0 (value, "yes") == 0)
    *out = TRUE;
  else if (g_strcmp0 (value, "false") == 0 || g_strcmp0 (value, "0") == 0 || g_strcmp0 (value, "no") == 0)
    *out = FALSE;
  else
    return FALSE;
  return TRUE;
}

gboolean
natterd_app_settings_set (NatterdAppSettings  *settings,
                          const char          *assignment,
                          GError             **error)
{
  const char *eq = strchr (assignment, '=');
  g_autofree char *key = NULL;
  const char *value;
  gboolean ok = FALSE;
  guint64 number = 0;

  if (eq == NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "App setting %s is not KEY=VALUE", assignment);
      return FALSE;
    }
  key = g_strndup (assignment, (gsize) (eq - assignment));
  value = eq + 1;

  if (g_str_equal (key, "multi-device"))
    ok = parse_bool (value, &settings->multi_device);
  else if (g_str_equal (key, "allow-reused-nonce"))
    ok = parse_bool (value, &settings->allow_reused_nonce);
  else if (g_str_equal (key, "blocked"))
    ok = parse_bool (value, &settings->blocked);
  else if (g_str_equal (key, "group-history-before-join"))
    ok = parse_bool (value, &settings->group_history_before_join);
  else if (g_str_equal (key, "webhook-signature"))
    {
      ok = g_str_equal (value, "hmac-sha256") || g_str_equal (value, "rongcloud");
      if (ok)
        settings->webhook_rongcloud = g_str_equal (value, "rongcloud");
    }
  else if (g_str_equal (key, "accounts"))
    {
      ok = g_str_equal (value, "off") || g_str_equal (value, "open") || g_str_equal (value, "invite");
      if (ok)
        settings->accounts = g_str_equal (value, "open") ? NATTERD_ACCOUNTS_OPEN :
                             g_str_equal (value, "invite") ? NATTERD_ACCOUNTS_INVITE : NATTERD_ACCOUNTS_OFF;
    }
  else if (g_str_equal (key, "webhook-url"))
    {
      g_free (settings->webhook_url);
      settings->webhook_url = *value != '\0' ? g_strdup (value) : NULL;
      ok = TRUE;
    }
  else if (g_str_equal (key, "presence-url"))
    {
      g_free (settings->presence_url);
      settings->presence_url = *value != '\0' ? g_strdup (value) : NULL;
      ok = TRUE;
    }
  else if (g_str_equal (key, "token-ttl") || g_str_equal (key, "send-rate") ||
           g_str_equal (key, "send-burst") || g_str_equal (key, "api-rate") ||
           g_str_equal (key, "recall-window") || g_str_equal (key, "edit-window"))
    {
      ok = g_ascii_string_to_unsigned (value, 10, 0, G_MAXINT, &number, NULL);
      if (ok && g_str_equal (key, "token-ttl"))
        settings->token_ttl = (guint) number;
      else if (ok && g_str_equal (key, "send-rate"))
        settings->send_rate = (int) number;
      else if (ok && g_str_equal (key, "send-burst"))
        settings->send_burst = (int) number;
      else if (ok && g_str_equal (key, "api-rate"))
        settings->api_rate = (int) number;
      else if (ok && g_str_equal (key, "edit-window"))
        settings->edit_window = (guint) number;
      else if (ok)
        settings->recall_window = (guint) number;
    }
  else
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "Unknown app setting %s (multi-device, allow-reused-nonce, blocked, token-ttl, "
                   "send-rate, send-burst, api-rate, webhook-url, webhook-signature, recall-window, "
                   "group-history-before-join, accounts, presence-url, edit-window)", key);
      return FALSE;
    }

  if (!ok)
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "Bad value for app setting %s: %s", key, value);
  return ok;
}

/* App keys and secrets: lowercase letters and digits, as RongCloud's look. */
static char *
random_token (gsize bytes)
{
  return natterd_random_string ("abcdefghijklmnopqrstuvwxyz0123456789", bytes * 2);
}

char *
natterd_app_secret_generate (void)
{
  /* 24 characters of 36: 124 bits. */
  return random_token (12);
}

GBytes *
natterd_app_token_key_generate (void)
{
  guint8 key[32];

  natterd_random_bytes (key, sizeof key);
  return g_bytes_new (key, sizeof key);
}

void
natterd_app_record_generate (NatterdAppRecord *record,
                             const char       *name)
{
  record->app_key = random_token (8);
  record->app_secret = natterd_app_secret_generate ();
  record->name = g_strdup (name);
  record->token_key = natterd_app_token_key_generate ();
  record->created = natterd_now_ms ();
}

guint
natterd_app_get_secrets (NatterdApp *app,
                         gint64      now,
                         const char *secrets[2])
{
  secrets[0] = app->secret;
  if (app->old_secret != NULL && now < app->old_secret_expires)
    {
      secrets[1] = app->old_secret;
      return 2;
    }
  return 1;
}

/* ---------------------------------------------------------------- objects */

static void
member_free (gpointer data)
{
  g_free (data);
}

static void
user_free (gpointer data)
{
  NatterdUser *user = data;

  g_free (user->user_id);
  g_free (user->name);
  g_free (user->portrait_uri);
  g_clear_pointer (&user->sessions, g_ptr_array_unref);
  g_clear_pointer (&user->blacklist, g_hash_table_unref);
  g_clear_pointer (&user->chatrooms, g_ptr_array_unref);
  g_clear_pointer (&user->subscriptions, g_hash_table_unref);
  g_clear_pointer (&user->subscribers, g_hash_table_unref);
  g_clear_pointer (&user->rang_by, g_hash_table_unref);
  g_free (user);
}

static void
group_free (gpointer data)
{
  NatterdGroup *group = data;

  g_free (group->group_id);
  g_free (group->name);
  g_hash_table_unref (group->members);
  g_free (group);
}

static void
chatroom_free (gpointer data)
{
  NatterdChatroom *room = data;

  g_free (room->chatroom_id);
  g_free (room->name);
  g_hash_table_unref (room->members);
  g_hash_table_unref (room->banned);
  g_hash_table_unref (room->gagged);
  g_hash_table_unref (room->kicked);
  g_queue_clear_full (&room->recent, (GDestroyNotify) natterd_message_free);
  g_clear_pointer (&room->waiters, g_ptr_array_unref);
  g_free (room);
}

static void
app_free (gpointer data)
{
  NatterdApp *app = data;

  g_free (app->key);
  g_free (app->secret);
  g_free (app->old_secret);
  g_free (app->name);
  g_bytes_unref (app->token_key);
  natterd_app_settings_clear (&app->settings);
  g_hash_table_unref (app->chatrooms);
  g_hash_table_unref (app->groups);
  g_hash_table_unref (app->users);
  g_hash_table_unref (app->nonces);
  g_clear_pointer (&app->media_usage, g_hash_table_unref);
  g_clear_pointer (&app->media_usage_waiters, g_ptr_array_unref);
  g_free (app);
}

NatterdDirectory *
natterd_directory_new (void)
{
  NatterdDirectory *self = g_new0 (NatterdDirectory, 1);

  self->apps = g_hash_table_new (g_str_hash, g_str_equal);
  self->apps_by_id = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, app_free);
  self->users_by_id = g_hash_table_new (g_int64_hash, g_int64_equal);
  self->groups_by_id = g_hash_table_new (g_int64_hash, g_int64_equal);
  self->next_user_id = 1;
  self->next_group_id = 1;
  self->next_chatroom_id = 1;
  self->id_stride = 1;
  return self;
}

void
natterd_directory_free (NatterdDirectory *self)
{
  if (self == NULL)
    return;
  g_hash_table_unref (self->apps);
  g_hash_table_unref (self->users_by_id);
  g_hash_table_unref (self->groups_by_id);
  g_hash_table_unref (self->apps_by_id);
  g_free (self);
}

void
natterd_app_update_settings (NatterdApp *app,
                             const char *json)
{
  natterd_app_settings_parse (&app->settings, json);
}

/* A new token key revokes every token of the app: the sessions that
 * logged in with one end as a refused connect would (31004). */
static void
end_sessions (NatterdApp *app)
{
  GHashTableIter iter;
  NatterdUser *user;

  g_hash_table_iter_init (&iter, app->users);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &user))
    for (guint i = user->sessions != NULL ? user->sessions->len : 0; i > 0; i--)
      natterd_session_kick (g_ptr_array_index (user->sessions, i - 1), NATTER_CODE_TOKEN_INCORRECT);
}

static void
set_credentials (NatterdApp             *app,
                 const NatterdAppRecord *record)
{
  g_free (app->secret);
  app->secret = g_strdup (record->app_secret);
  g_free (app->old_secret);
  app->old_secret = g_strdup (record->app_secret_old);
  app->old_secret_expires = record->app_secret_old_expires;
  if (app->token_key != NULL && !g_bytes_equal (app->token_key, record->token_key))
    {
      natterd_log (G_LOG_LEVEL_INFO, "token-key-rotated", "app", app->key, NULL);
      g_bytes_unref (app->token_key);
      app->token_key = g_bytes_ref (record->token_key);
      end_sessions (app);
    }
  else if (app->token_key == NULL)
    app->token_key = g_bytes_ref (record->token_key);
}

NatterdApp *
natterd_directory_add_app (NatterdDirectory       *self,
                           const NatterdAppRecord *record)
{
  NatterdApp *app = g_hash_table_lookup (self->apps_by_id, &record->id);

  if (app != NULL)
    {
      /* Reloaded: the settings or the credentials may have changed. */
      natterd_app_update_settings (app, record->settings);
      set_credentials (app, record);
      return app;
    }

  app = g_new0 (NatterdApp, 1);
  app->id = record->id;
  app->key = g_strdup (record->app_key);
  app->name = g_strdup (record->name);
  set_credentials (app, record);
  natterd_app_settings_parse (&app->settings, record->settings);
  app->users = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, user_free);
  app->groups = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, group_free);
  app->chatrooms = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, chatroom_free);
  app->nonces = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  g_hash_table_insert (self->apps, app->key, app);
  g_hash_table_insert (self->apps_by_id, &app->id, app);
  return app;
}

NatterdApp *
natterd_directory_lookup_app (NatterdDirectory *self,
                              const char       *app_key)
{
  return app_key != NULL ? g_hash_table_lookup (self->apps, app_key) : NULL;
}

NatterdApp *
natterd_directory_lookup_app_id (NatterdDirectory *self,
                                 gint64            id)
{
  return g_hash_table_lookup (self->apps_by_id, &id);
}

GList *
natterd_directory_get_apps (NatterdDirectory *self)
{
  return g_hash_table_get_values (self->apps_by_id);
}

/* The first id >= @after that is this node's to hand out. */
static gint64
next_id (NatterdDirectory *self,
         gint64            after)
{
  gint64 r = after % self->id_stride;

  return after + (self->id_slot - r + self->id_stride) % self->id_stride;
}

static NatterdUser *
insert_user (NatterdDirectory *self,
             NatterdApp       *app,
             gint64            id,
             const char       *user_id,
             gint64            created)
{
  NatterdUser *user = g_new0 (NatterdUser, 1);

  user->id = id;
  user->app = app;
  user->user_id = g_strdup (user_id);
  user->name = g_strdup ("");
  user->portrait_uri = g_strdup ("");
  user->created = created;
  user->send_tokens = -1;       /* full bucket on first use */
  g_hash_table_insert (app->users, user->user_id, user);
  g_hash_table_insert (self->users_by_id, &user->id, user);
  self->next_user_id = next_id (self, MAX (self->next_user_id, id + 1));
  return user;
}

NatterdUser *
natterd_directory_add_user (NatterdDirectory *self,
                            NatterdApp       *app,
                            const char       *user_id,
                            gint64            created)
{
  g_return_val_if_fail (natterd_directory_lookup_user (app, user_id) == NULL, NULL);
  return insert_user (self, app, self->next_user_id, user_id, created);
}

NatterdUser *
natterd_directory_add_user_id (NatterdDirectory *self,
                               NatterdApp       *app,
                               gint64            id,
                               const char       *user_id,
                               gint64            created)
{
  g_return_val_if_fail (natterd_directory_lookup_user (app, user_id) == NULL, NULL);
  if (g_hash_table_contains (self->users_by_id, &id))
    return NULL;
  return insert_user (self, app, id, user_id, created);
}

gboolean
natterd_directory_rekey_user (NatterdDirectory *self,
                              NatterdUser      *user,
                              gint64            id)
{
  GHashTableIter iter;
  NatterdUser *other;
  gint64 old = user->id;

  if (id == old || g_hash_table_contains (self->users_by_id, &id))
    return id == old;
  g_hash_table_remove (self->users_by_id, &user->id);
  user->id = id;
  g_hash_table_insert (self->users_by_id, &user->id, user);
  /* Blacklists name users by id (rare: one pass over the app). */
  g_hash_table_iter_init (&iter, user->app->users);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &other))
    if (other->blacklist != NULL && g_hash_table_remove (other->blacklist, &old))
      g_hash_table_add (other->blacklist, g_memdup2 (&id, sizeof id));
  return TRUE;
}

NatterdUser *
natterd_directory_lookup_user (NatterdApp *app,
                               const char *user_id)
{
  return user_id != NULL ? g_hash_table_lookup (app->users, user_id) : NULL;
}

NatterdUser *
natterd_directory_lookup_user_id (NatterdDirectory *self,
                                  gint64            id)
{
  return g_hash_table_lookup (self->users_by_id, &id);
}

NatterdGroup *
natterd_directory_lookup_group_id (NatterdDirectory *self,
                                   gint64            id)
{
  return g_hash_table_lookup (self->groups_by_id, &id);
}

gboolean
natterd_user_is_blocking (NatterdUser *user,
                          NatterdUser *other)
{
  return user->blacklist != NULL && g_hash_table_contains (user->blacklist, &other->id);
}

gboolean
natterd_user_is_online (NatterdUser *user)
{
  return (user->sessions != NULL && user->sessions->len > 0) || user->remote_sessions > 0;
}

guint64
natterd_directory_stamp (void)
{
  static guint64 stamp;

  return ++stamp;
}

static NatterdGroup *
insert_group (NatterdDirectory *self,
              NatterdApp       *app,
              gint64            id,
              const char       *group_id,
              const char       *name,
              gint64            created)
{
  NatterdGroup *group = g_new0 (NatterdGroup, 1);

  group->id = id;
  group->app = app;
  group->group_id = g_strdup (group_id);
  group->name = g_strdup (name != NULL ? name : "");
  group->created = created;
  group->members = g_hash_table_new_full (NULL, NULL, NULL, member_free);
  group->changed = natterd_directory_stamp ();
  g_hash_table_insert (app->groups, group->group_id, group);
  g_hash_table_insert (self->groups_by_id, &group->id, group);
  self->next_group_id = next_id (self, MAX (self->next_group_id, id + 1));
  return group;
}

NatterdGroup *
natterd_directory_add_group (NatterdDirectory *self,
                             NatterdApp       *app,
                             const char       *group_id,
                             const char       *name,
                             gint64            created)
{
  return insert_group (self, app, self->next_group_id, group_id, name, created);
}

NatterdGroup *
natterd_directory_add_group_id (NatterdDirectory *self,
                                NatterdApp       *app,
                                gint64            id,
                                const char       *group_id,
                                const char       *name,
                                gint64            created)
{
  g_return_val_if_fail (g_hash_table_lookup (app->groups, group_id) == NULL, NULL);
  if (id <= 0 || g_hash_table_contains (self->groups_by_id, &id))
    return NULL;
  return insert_group (self, app, id, group_id, name, created);
}

void
natterd_directory_remove_group (NatterdDirectory *self,
                                NatterdGroup     *group)
{
  g_hash_table_remove (self->groups_by_id, &group->id);
  g_hash_table_remove (group->app->groups, group->group_id);
}

gboolean
natterd_directory_rekey_group (NatterdDirectory *self,
                               NatterdGroup     *group,
                               gint64            id)
{
  if (id == group->id || g_hash_table_contains (self->groups_by_id, &id))
    return id == group->id;
  g_hash_table_remove (self->groups_by_id, &group->id);
  group->id = id;
  g_hash_table_insert (self->groups_by_id, &group->id, group);
  return TRUE;
}

NatterdMember *
natterd_group_add_member (NatterdGroup *group,
                          NatterdUser  *user,
                          gint64        joined)
{
  NatterdMember *member = g_hash_table_lookup (group->members, user);

  if (member == NULL)
    {
      member = g_new0 (NatterdMember, 1);
      member->user = user;
      member->joined = joined;
      g_hash_table_insert (group->members, user, member);
    }
  group->changed = natterd_directory_stamp ();
  return member;
}

gboolean
natterd_group_remove_member (NatterdGroup *group,
                             NatterdUser  *user)
{
  group->changed = natterd_directory_stamp ();
  return g_hash_table_remove (group->members, user);
}

NatterdMember *
natterd_group_lookup_member (NatterdGroup *group,
                             NatterdUser  *user)
{
  return g_hash_table_lookup (group->members, user);
}

static NatterdChatroom *
insert_chatroom (NatterdDirectory *self,
                 NatterdApp       *app,
                 gint64            id,
                 const char       *chatroom_id,
                 const char       *name,
                 gint64            created)
{
  NatterdChatroom *room = g_new0 (NatterdChatroom, 1);

  room->id = id;
  room->app = app;
  room->chatroom_id = g_strdup (chatroom_id);
  room->name = g_strdup (name != NULL ? name : "");
  room->created = created;
  room->last_activity = g_get_monotonic_time ();
  room->members = g_hash_table_new_full (NULL, NULL, NULL, member_free);
  room->banned = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  room->gagged = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  room->kicked = g_hash_table_new (NULL, NULL);
  g_queue_init (&room->recent);
  room->added = natterd_directory_stamp ();
  g_hash_table_insert (app->chatrooms, room->chatroom_id, room);
  self->next_chatroom_id = next_id (self, MAX (self->next_chatroom_id, id + 1));
  return room;
}

NatterdChatroom *
natterd_directory_add_chatroom (NatterdDirectory *self,
                                NatterdApp       *app,
                                const char       *chatroom_id,
                                const char       *name,
                                gint64            created)
{
  return insert_chatroom (self, app, self->next_chatroom_id, chatroom_id, name, created);
}

void
natterd_directory_remove_chatroom (NatterdDirectory *self,
                                   NatterdChatroom  *room)
{
  GHashTableIter iter;
  NatterdUser *user;

  g_hash_table_iter_init (&iter, room->members);
  while (g_hash_table_iter_next (&iter, (gpointer *) &user, NULL))
    if (user->chatrooms != NULL)
      g_ptr_array_remove_fast (user->chatrooms, room);

  g_hash_table_remove (room->app->chatrooms, room->chatroom_id);
}

/* ------------------------------------------------------------------- load */

static void
load_app (gpointer                data,
          const NatterdAppRecord *record)
{
  natterd_directory_add_app (data, record);
}

static void
load_user (gpointer                 data,
           const NatterdUserRecord *record)
{
  NatterdDirectory *self = data;
  NatterdApp *app = natterd_directory_lookup_app_id (self, record->app_id);
  NatterdUser *user;

  if (app == NULL)
    return;

  user = insert_user (self, app, record->id, record->user_id, record->created);
  g_free (user->name);
  user->name = g_strdup (record->name != NULL ? record->name : "");
  g_free (user->portrait_uri);
  user->portrait_uri = g_strdup (record->portrait_uri != NULL ? record->portrait_uri : "");
  user->tokens_valid_after = record->tokens_valid_after;
  user->blocked_until = record->blocked_until;
  user->max_seq = record->max_seq;
  user->last_seen = record->last_seen;
  user->stored = TRUE;
}

static void
load_group (gpointer    data,
            gint64      id,
            gint64      app_id,
            const char *group_id,
            const char *name,
            gint64      created)
{
  NatterdDirectory *self = data;
  NatterdApp *app = natterd_directory_lookup_app_id (self, app_id);

  if (app != NULL)
    insert_group (self, app, id, group_id, name, created);
}

static void
load_member (gpointer data,
             gint64   group_id,
             gint64   user_id,
             gint64   joined,
             gint64   gag_until)
{
  NatterdDirectory *self = data;
  NatterdGroup *group = g_hash_table_lookup (self->groups_by_id, &group_id);
  NatterdUser *user = natterd_directory_lookup_user_id (self, user_id);

  if (group != NULL && user != NULL)
    natterd_group_add_member (group, user, joined)->gag_until = gag_until;
}

static void
load_chatroom (gpointer    data,
               gint64      id,
               gint64      app_id,
               const char *chatroom_id,
               const char *name,
               gint64      created)
{
  NatterdDirectory *self = data;
  NatterdApp *app = natterd_directory_lookup_app_id (self, app_id);

  if (app != NULL)
    insert_chatroom (self, app, id, chatroom_id, name, created)->stored = TRUE;
}

static void
load_blacklist (gpointer data,
                gint64   user_id,
                gint64   blocked_user_id)
{
  NatterdUser *user = natterd_directory_lookup_user_id (data, user_id);

  if (user == NULL)
    return;
  if (user->blacklist == NULL)
    user->blacklist = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  g_hash_table_add (user->blacklist, g_memdup2 (&blocked_user_id, sizeof blocked_user_id));
}

static void
load_nonce (gpointer    data,
            gint64      app_id,
            const char *nonce,
            gint64      expires)
{
  NatterdApp *app = natterd_directory_lookup_app_id (data, app_id);

  if (app != NULL && nonce != NULL)
    g_hash_table_insert (app->nonces, g_strdup (nonce), g_memdup2 (&expires, sizeof expires));
}

static void
load_ids (gpointer data,
          gint64   stride,
          gint64   slot)
{
  NatterdDirectory *self = data;

  g_return_if_fail (stride > 0 && slot >= 0 && slot < stride);
  self->id_stride = stride;
  self->id_slot = slot;
  self->next_user_id = next_id (self, self->next_user_id);
  self->next_group_id = next_id (self, self->next_group_id);
  self->next_chatroom_id = next_id (self, self->next_chatroom_id);
}

const NatterdLoadSink *
natterd_directory_load_sink (void)
{
  static const NatterdLoadSink sink = {
    .app = load_app,
    .user = load_user,
    .group = load_group,
    .member = load_member,
    .chatroom = load_chatroom,
    .blacklist = load_blacklist,
    .nonce = load_nonce,
    .ids = load_ids,
  };
  return &sink;
}

/* ----------------------------------------------------------------- export */

void
natterd_export_append_line (GString              *line,
                            const NatterdMessage *m)
{
  gboolean group = m->conversation_type == NATTER_CONVERSATION_GROUP ||
                   m->conversation_type == NATTER_CONVERSATION_DISCUSSION;
  g_autoptr(GDateTime) time = g_date_time_new_from_unix_utc (m->sent_time / 1000);
  g_autofree char *stamp = g_date_time_format (time, "%Y-%m-%d %H:%M:%S");

  g_string_append (line, "{\"fromUserId\":");
  natterd_json_append_string (line, m->sender_user_id);
  g_string_append (line, ",\"targetId\":");
  natterd_json_append_string (line, m->target_id);
  g_string_append_printf (line, ",\"targetType\":%d,\"GroupId\":", m->conversation_type);
  natterd_json_append_string (line, group ? m->target_id : "");
  g_string_append (line, ",\"classname\":");
  natterd_json_append_string (line, m->object_name);
  /* Content was checked to be a JSON object when it was published. */
  g_string_append_printf (line, ",\"content\":%s,\"dateTime\":\"%s.%03d\",\"msgUID\":",
                          m->content, stamp, (int) (m->sent_time % 1000));
  natterd_json_append_string (line, m->uid);
  g_string_append_printf (line, ",\"sentTime\":%" G_GINT64_FORMAT "}\n", m->sent_time);
}

/* --------------------------------------------------------------- load log */

typedef enum {
  LOG_USER,
  LOG_GROUP,
  LOG_MEMBER,
  LOG_CHATROOM,
  LOG_BLACKLIST,
} LogKind;

typedef struct
{
  LogKind     kind;
  gint64      n[8];
  const char *s[3];             /* in the log's string chunk */
} LogRow;

struct _NatterdLoadLog
{
  GArray       *rows;           /* LogRow */
  GStringChunk *strings;
};

NatterdLoadLog *
natterd_load_log_new (void)
{
  NatterdLoadLog *log = g_new0 (NatterdLoadLog, 1);

  log->rows = g_array_new (FALSE, FALSE, sizeof (LogRow));
  log->strings = g_string_chunk_new (4096);
  return log;
}

void
natterd_load_log_free (NatterdLoadLog *log)
{
  if (log == NULL)
    return;
  g_array_unref (log->rows);
  g_string_chunk_free (log->strings);
  g_free (log);
}

static LogRow *
log_add (NatterdLoadLog *log,
         LogKind         kind)
{
  LogRow row = { .kind = kind };

  g_array_append_val (log->rows, row);
  return &g_array_index (log->rows, LogRow, log->rows->len - 1);
}

static const char *
log_string (NatterdLoadLog *log,
            const char     *text)
{
  return text != NULL ? g_string_chunk_insert (log->strings, text) : NULL;
}

static void
log_user (gpointer                 data,
          const NatterdUserRecord *user)
{
  LogRow *row = log_add (data, LOG_USER);

  row->n[0] = user->id;
  row->n[1] = user->app_id;
  row->n[2] = user->created;
  row->n[3] = user->tokens_valid_after;
  row->n[4] = user->blocked_until;
  row->n[5] = (gint64) user->max_seq;
  row->s[0] = log_string (data, user->user_id);
  row->s[1] = log_string (data, user->name);
  row->s[2] = log_string (data, user->portrait_uri);
}

/* A group's or a chatroom's row. */
static void
log_named (gpointer    data,
           LogKind     kind,
           gint64      id,
           gint64      app_id,
           const char *named_id,
           const char *name,
           gint64      created)
{
  LogRow *row = log_add (data, kind);

  row->n[0] = id;
  row->n[1] = app_id;
  row->n[2] = created;
  row->s[0] = log_string (data, named_id);
  row->s[1] = log_string (data, name);
}

static void
log_group (gpointer    data,
           gint64      id,
           gint64      app_id,
           const char *group_id,
           const char *name,
           gint64      created)
{
  log_named (data, LOG_GROUP, id, app_id, group_id, name, created);
}

static void
log_member (gpointer data,
            gint64   group_id,
            gint64   user_id,
            gint64   joined,
            gint64   gag_until)
{
  LogRow *row = log_add (data, LOG_MEMBER);

  row->n[0] = group_id;
  row->n[1] = user_id;
  row->n[2] = joined;
  row->n[3] = gag_until;
}

static void
log_chatroom (gpointer    data,
              gint64      id,
              gint64      app_id,
              const char *chatroom_id,
              const char *name,
              gint64      created)
{
  log_named (data, LOG_CHATROOM, id, app_id, chatroom_id, name, created);
}

static void
log_blacklist (gpointer data,
               gint64   user_id,
               gint64   blocked_user_id)
{
  LogRow *row = log_add (data, LOG_BLACKLIST);

  row->n[0] = user_id;
  row->n[1] = blocked_user_id;
}

const NatterdLoadSink *
natterd_load_log_sink (void)
{
  static const NatterdLoadSink sink = {
    .user = log_user,
    .group = log_group,
    .member = log_member,
    .chatroom = log_chatroom,
    .blacklist = log_blacklist,
  };
  return &sink;
}

guint
natterd_load_log_get_length (NatterdLoadLog *log)
{
  return log->rows->len;
}

void
natterd_load_log_replay (NatterdLoadLog        *log,
                         const NatterdLoadSink *sink,
                         gpointer               data)
{
  natterd_load_log_replay_some (log, sink, data, 0, log->rows->len);
}

guint
natterd_load_log_replay_some (NatterdLoadLog        *log,
                              const NatterdLoadSink *sink,
                              gpointer               data,
                              guint                  from,
                              guint                  count)
{
  guint end = (guint) MIN ((guint64) from + count, (guint64) log->rows->len);

  for (guint i = from; i < end; i++)
    {
      const LogRow *row = &g_array_index (log->rows, LogRow, i);

      switch (row->kind)
        {
        case LOG_USER:
          {
            NatterdUserRecord user = {
              .id = row->n[0],
              .app_id = row->n[1],
              .user_id = row->s[0],
              .name = row->s[1],
              .portrait_uri = row->s[2],
              .created = row->n[2],
              .tokens_valid_after = row->n[3],
              .blocked_until = row->n[4],
              .max_seq = (guint64) row->n[5],
            };
            sink->user (data, &user);
          }
          break;
        case LOG_GROUP:
          sink->group (data, row->n[0], row->n[1], row->s[0], row->s[1], row->n[2]);
          break;
        case LOG_MEMBER:
          sink->member (data, row->n[0], row->n[1], row->n[2], row->n[3]);
          break;
        case LOG_CHATROOM:
          sink->chatroom (data, row->n[0], row->n[1], row->s[0], row->s[1], row->n[2]);
          break;
        case LOG_BLACKLIST:
          sink->blacklist (data, row->n[0], row->n[1]);
          break;
        default:
          g_assert_not_reached ();
        }
    }
  return end;
}

/* ----------------------------------------------------------------- tokens */

static char *
base64url_encode (const guint8 *data,
                  gsize         length)
{
  char *text = g_base64_encode (data, length);
  char *end = text + strlen (text);

  for (char *p = text; *p != '\0'; p++)
    if (*p == '+')
      *p = '-';
    else if (*p == '/')
      *p = '_';
  while (end > text && end[-1] == '=')
    *--end = '\0';
  return text;
}

static guint8 *
base64url_decode (const char *text,
                  gsize       length,
                  gsize      *out_length)
{
  g_autoptr(GString) padded = g_string_sized_new (length + 3);

  for (gsize i = 0; i < length; i++)
    {
      char c = text[i];

      if (c == '-')
        c = '+';
      else if (c == '_')
        c = '/';
      else if (!g_ascii_isalnum (c))
        return NULL;
      g_string_append_c (padded, c);
    }
  while (padded->len % 4 != 0)
    g_string_append_c (padded, '=');

  return g_base64_decode (padded->str, out_length);
}

static void
token_mac (GBytes     *key,
           const char *payload,
           guint8      out[32])
{
  gsize key_length;
  const guint8 *key_data = g_bytes_get_data (key, &key_length);
  g_autoptr(GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256, key_data, key_length);
  gsize length = 32;

  g_hmac_update (hmac, (const guchar *) payload, -1);
  g_hmac_get_digest (hmac, out, &length);
}

char *
natterd_token_issue (NatterdApp *app,
                     const char *user_id,
                     gint64      issued,
                     gint64      expires)
{
  g_autofree char *payload = g_strdup_printf (TOKEN_VERSION ":%s:%s:%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT,
                                              app->key, user_id, issued, expires);
  g_autofree char *encoded = base64url_encode ((const guint8 *) payload, strlen (payload));
  g_autofree char *mac_text = NULL;
  guint8 mac[32];

  token_mac (app->token_key, payload, mac);
  mac_text = base64url_encode (mac, TOKEN_MAC_LENGTH);
  return g_strconcat (encoded, ".", mac_text, NULL);
}

static gboolean
mac_matches (GBytes       *key,
             const char   *payload,
             const guint8 *mac,
             gsize         mac_length)
{
  guint8 expected[32];

  token_mac (key, payload, expected);
  return natterd_secret_equal (expected, TOKEN_MAC_LENGTH, mac, mac_length);
}

/* The fields of a well-formed token's payload ("v1", app key, user id,
 * issued, expires), the payload and its MAC; NULL for anything else. */
static GStrv
token_split (const char  *token,
             char       **out_payload,
             guint8     **out_mac,
             gsize       *out_mac_length)
{
  const char *dot = token != NULL ? strchr (token, '.') : NULL;
  g_autofree guint8 *payload_data = NULL;
  g_autofree guint8 *mac = NULL;
  g_autofree char *payload = NULL;
  g_auto(GStrv) fields = NULL;
  gsize payload_length = 0;

  if (dot == NULL)
    return NULL;
  payload_data = base64url_decode (token, (gsize) (dot - token), &payload_length);
  mac = base64url_decode (dot + 1, strlen (dot + 1), out_mac_length);
  if (payload_data == NULL || mac == NULL || payload_length == 0 ||
      memchr (payload_data, '\0', payload_length) != NULL)
    return NULL;
  payload = g_strndup ((const char *) payload_data, payload_length);
  fields = g_strsplit (payload, ":", -1);
  if (g_strv_length (fields) != 5 || !g_str_equal (fields[0], TOKEN_VERSION))
    return NULL;
  *out_payload = g_steal_pointer (&payload);
  *out_mac = g_steal_pointer (&mac);
  return g_steal_pointer (&fields);
}

/* @token (split by token_split(); @fields NULL: malformed) checked for
 * @app, the app the client named. */
static int
token_verify (NatterdDirectory  *self,
              NatterdApp        *app,
              GStrv              fields,
              const char        *payload,
              const guint8      *mac,
              gsize              mac_length,
              gint64             now,
              NatterdUser      **out_user,
              gint64            *out_issued)
{
  NatterdApp *token_app;
  gint64 issued, expires;
  NatterdUser *user;

  *out_user = NULL;

  if (app == NULL)
    return NATTER_CODE_APP_KEY_REJECTED;
  if (app->settings.blocked)
    return NATTER_CODE_APP_BLOCKED;

  if (fields == NULL ||
      !g_ascii_string_to_signed (fields[3], 10, 0, G_MAXINT64, &issued, NULL) ||
      !g_ascii_string_to_signed (fields[4], 10, 0, G_MAXINT64, &expires, NULL))
    return NATTER_CODE_TOKEN_INCORRECT;

  if (!g_str_equal (fields[1], app->key))
    {
      /* A real token, but of another app. */
      token_app = natterd_directory_lookup_app (self, fields[1]);
      if (token_app != NULL && mac_matches (token_app->token_key, payload, mac, mac_length))
        return NATTER_CODE_APP_KEY_MISMATCH;
      return NATTER_CODE_TOKEN_INCORRECT;
    }

  if (!mac_matches (app->token_key, payload, mac, mac_length))
    return NATTER_CODE_TOKEN_INCORRECT;

  user = natterd_directory_lookup_user (app, fields[2]);
  if (user == NULL)
    return NATTER_CODE_TOKEN_INCORRECT;

  if (issued < user->tokens_revoked_after)
    return NATTER_CODE_TOKEN_INCORRECT;
  if ((expires != 0 && now >= expires) || issued < user->tokens_valid_after)
    return NATTER_CODE_TOKEN_EXPIRED;

  if (user->blocked_until > now)
    return NATTER_CODE_USER_BLOCKED;

  *out_user = user;
  if (out_issued != NULL)
    *out_issued = issued;
  return NATTER_CODE_OK;
}

int
natterd_token_check (NatterdDirectory  *self,
                     const char        *app_key,
                     const char        *token,
                     gint64             now,
                     NatterdUser      **out_user,
                     gint64            *out_issued)
{
  g_autofree guint8 *mac = NULL;
  g_autofree char *payload = NULL;
  gsize mac_length = 0;
  g_auto(GStrv) fields = token_split (token, &payload, &mac, &mac_length);

  return token_verify (self, natterd_directory_lookup_app (self, app_key), fields, payload, mac, mac_length, now,
                       out_user, out_issued);
}

/* A token this node would take but for its user, unknown here: of a
 * known app, its MAC right. The user's id in @out_user_id. */
gboolean
natterd_token_names_unknown_user (NatterdDirectory  *self,
                                  const char        *token,
                                  NatterdApp       **out_app,
                                  char             **out_user_id)
{
  g_autofree guint8 *mac = NULL;
  g_autofree char *payload = NULL;
  gsize mac_length = 0;
  g_auto(GStrv) fields = token_split (token, &payload, &mac, &mac_length);
  NatterdApp *app;

  if (fields == NULL)
    return FALSE;
  app = natterd_directory_lookup_app (self, fields[1]);
  if (app == NULL || !mac_matches (app->token_key, payload, mac, mac_length) ||
      natterd_directory_lookup_user (app, fields[2]) != NULL)
    return FALSE;
  *out_app = app;
  *out_user_id = g_strdup (fields[2]);
  return TRUE;
}

int
natterd_token_check_any (NatterdDirectory  *self,
                         const char        *token,
                         gint64             now,
                         NatterdUser      **out_user)
{
  g_autofree guint8 *mac = NULL;
  g_autofree char *payload = NULL;
  gsize mac_length = 0;
  g_auto(GStrv) fields = token_split (token, &payload, &mac, &mac_length);
  NatterdApp *app = fields != NULL ? natterd_directory_lookup_app (self, fields[1]) : NULL;

  *out_user = NULL;
  /* The app is the one the token names: none, and the token is wrong
   * (the client named no app key to reject). */
  if (app == NULL)
    return NATTER_CODE_TOKEN_INCORRECT;
  return token_verify (self, app, fields, payload, mac, mac_length, now, out_user, NULL);
}

/* --------------------------------------------------------------- channels */

gboolean
natterd_conversation_is_private (int conversation_type)
{
  switch (conversation_type)
    {
    case NATTER_CONVERSATION_PRIVATE:
    case NATTER_CONVERSATION_CUSTOMER_SERVICE:
    case NATTER_CONVERSATION_SYSTEM:
    case NATTER_CONVERSATION_APP_PUBLIC_SERVICE:
    case NATTER_CONVERSATION_PUBLIC_SERVICE:
      return TRUE;
    default:
      return FALSE;
    }
}

char *
natterd_channel_key (int         conversation_type,
                     const char *sender_id,
                     const char *target_id)
{
  char type[16];
  const char *first = target_id, *second = NULL;
  gsize type_length, first_length, second_length = 0;
  char *key, *at;

  /* Ids never contain '/', so the key is unambiguous. */
  if (natterd_conversation_is_private (conversation_type))
    {
      gboolean swap = strcmp (sender_id, target_id) > 0;

      first = swap ? target_id : sender_id;
      second = swap ? sender_id : target_id;
      second_length = strlen (second) + 1;
    }
  /* Once per Publish: joined by hand, printf was ~1,500 instructions. */
  if (conversation_type >= 0 && conversation_type < 10)
    {
      type[0] = (char) ('0' + conversation_type);
      type[1] = '/';
      type_length = 2;
    }
  else
    type_length = (gsize) g_snprintf (type, sizeof type, "%d/", conversation_type);
  first_length = strlen (first);
  key = at = g_malloc (type_length + first_length + second_length + 1);
  memcpy (at, type, type_length);
  at += type_length;
  memcpy (at, first, first_length);
  at += first_length;
  if (second != NULL)
    {
      *at++ = '/';
      memcpy (at, second, second_length - 1);
      at += second_length - 1;
    }
  *at = '\0';
  return key;
}

const char *
natterd_message_target_for (const NatterdMessage *message,
                            const char           *viewer_id)
{
  if (natterd_conversation_is_private (message->conversation_type) &&
      g_strcmp0 (viewer_id, message->sender_user_id) != 0)
    return message->sender_user_id;
  return message->target_id;
}
