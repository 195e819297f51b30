/* natterd-accounts.c — end-user accounts (#14): /account/ over HTTP
 *
 *   GET  /account/settings.json?appKey=         no token
 *   POST /account/register.json, login.json     no token (appKey in the form)
 *   POST /account/password.json, profile.json, delete.json
 *   GET  /account/user.json?userId=
 *   ...  contacts, groups, blocking (natterd-accounts-people.c, -groups.c)
 *
 * Answers are the server API's ({"code":200,...} or {"code":N,
 * "errorMessage":...}), never cached. This file is the transport, the
 * state loaded at start and kept in step with other nodes, and the paths
 * without passwords; passwords are natterd-accounts-passwords.c's.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-accounts-private.h"

#include "natter-json.h"
#include "natterd-log.h"
#include "natterd-parse-private.h"

#include <sodium.h>
#include <string.h>

#define ACCOUNT_BODY_MAX (64 * 1024)

/* ------------------------------------------------------------------ state */

static void
accounts_app_free (gpointer data)
{
  NatterdAccountsApp *state = data;

  g_hash_table_unref (state->accounts);
  g_hash_table_unref (state->contacts);
  g_hash_table_unref (state->groups);
  g_free (state);
}

static void
account_free (gpointer data)
{
  NatterdAccount *account = data;
  NatterdApiRequest *request;

  while ((request = g_queue_pop_head (&account->privacy_waiting)) != NULL)
    {
      natterd_api_reply_error (request, NATTER_API_INTERNAL_ERROR, "The account is gone");
      natterd_api_request_unref (request);
    }
  g_free (account);
}

NatterdAccountsApp *
natterd_accounts_app (NatterdServer *server,
                      NatterdApp    *app)
{
  NatterdAccounts *self = server->accounts;
  NatterdAccountsApp *state = g_hash_table_lookup (self->apps, &app->id);

  if (state == NULL)
    {
      state = g_new0 (NatterdAccountsApp, 1);
      state->app_id = app->id;
      state->accounts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, account_free);
      state->contacts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                               (GDestroyNotify) g_hash_table_unref);
      state->groups = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, natterd_group_roles_free);
      g_hash_table_insert (self->apps, g_memdup2 (&app->id, sizeof app->id), state);
    }
  return state;
}

NatterdAccount *
natterd_accounts_account (NatterdAccountsApp *state,
                          const char         *user_id)
{
  NatterdAccount *account = g_hash_table_lookup (state->accounts, user_id);

  if (account == NULL)
    {
      account = g_new0 (NatterdAccount, 1);
      g_hash_table_insert (state->accounts, g_strdup (user_id), account);
    }
  return account;
}

static void
login_address_free (gpointer data)
{
  NatterdLoginAddress *address = data;

  g_free (address->address);
  g_free (address);
}

void
natterd_accounts_free (NatterdAccounts *self)
{
  GTask *task;

  if (self == NULL)
    return;
  g_hash_table_unref (self->apps);
  g_ptr_array_unref (self->waiting);
  while ((task = g_queue_pop_head (&self->hash_queue)) != NULL)
    g_object_unref (task);
  g_hash_table_unref (self->addresses);
  g_clear_pointer (&self->touched, g_hash_table_unref);
  g_free (self);
}

/* The key of a row kept in memory, for the read-back's touched set. */
static char *
row_key (gint64      app_id,
         const char *kind,
         const char *owner,
         const char *name)
{
  return g_strdup_printf ("%" G_GINT64_FORMAT "\n%s\n%s\n%s", app_id, kind, owner, name);
}

static void
touch (NatterdAccounts *self,
       gint64           app_id,
       const char      *kind,
       const char      *owner,
       const char      *name)
{
  if (self != NULL && self->touched != NULL)
    g_hash_table_add (self->touched, row_key (app_id, kind, owner, name));
}

void
natterd_accounts_touch (NatterdAccounts *self,
                        GPtrArray       *rows)
{
  for (guint i = 0; self != NULL && self->touched != NULL && i < rows->len; i++)
    {
      NatterdAccountRow *row = g_ptr_array_index (rows, i);

      touch (self, row->app_id, row->kind, row->owner, row->name);
    }
}

static gboolean
touched (NatterdAccounts *self,
         gint64           app_id,
         const char      *kind,
         const char      *owner,
         const char      *name)
{
  g_autofree char *key = NULL;

  if (self->touched == NULL || g_hash_table_size (self->touched) == 0)
    return FALSE;
  key = row_key (app_id, kind, owner, name);
  return g_hash_table_contains (self->touched, key);
}

/* -------------------------------------------------------------- transport */

NatterdUser *
natterd_account_user (NatterdApiRequest *request)
{
  return g_object_get_data (G_OBJECT (request->msg), "natterd-account-user");
}

typedef struct
{
  GByteArray *data;
  gboolean    too_large;
} AccountBody;

static void
account_body_free (gpointer data)
{
  AccountBody *body = data;

  g_byte_array_unref (body->data);
  g_free (body);
}

static void
on_account_chunk (SoupServerMessage *msg,
                  GBytes            *chunk,
                  gpointer           user_data)
{
  AccountBody *body = user_data;
  gsize size;
  const guint8 *data = g_bytes_get_data (chunk, &size);

  if (body->too_large || body->data->len + size > ACCOUNT_BODY_MAX)
    {
      body->too_large = TRUE;
      return;
    }
  g_byte_array_append (body->data, data, (guint) size);
}

static void
on_account_early (SoupServer        *server,
                  SoupServerMessage *msg,
                  const char        *path,
                  GHashTable        *query,
                  gpointer           user_data)
{
  AccountBody *body = g_new0 (AccountBody, 1);

  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
  body->data = g_byte_array_new ();
  body->too_large = soup_message_headers_get_content_length (soup_server_message_get_request_headers (msg)) >
                    ACCOUNT_BODY_MAX;
  g_signal_connect (msg, "got-chunk", G_CALLBACK (on_account_chunk), body);
  g_object_set_data_full (G_OBJECT (msg), "natterd-account-body", body, account_body_free);
}

static const NatterdAccountRoute *find_route       (const char                *name);
static const NatterdAccountRoute *route_for_method (const NatterdAccountRoute *route,
                                                    gboolean                   post);

static void
run_request (NatterdApiRequest *request)
{
  NatterdServer *self = request->server;

  if (request->replied)
    return;
  if (request->app->settings.blocked)
    {
      natterd_api_reply_error (request, NATTER_API_APP_SECRET_MISMATCH, "App blocked");
      return;
    }
  if (!self->accounts->loaded)
    {
      g_ptr_array_add (self->accounts->waiting, natterd_api_request_ref (request));
      return;
    }
  request->handler (request);
}

static void
dispatch_with_app (NatterdServer *self,
                   NatterdApp    *app,
                   gpointer       user_data)
{
  NatterdApiRequest *request = user_data;

  if (app == NULL)
    {
      natterd_api_reply_error (request, NATTER_CODE_APP_KEY_REJECTED, "Unknown appKey");
      return;
    }
  request->app = app;
  run_request (request);
}

const char *
natterd_bearer_token (SoupServerMessage *msg)
{
  const char *authorization = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                             "Authorization");

  if (authorization == NULL || g_ascii_strncasecmp (authorization, "Bearer ", 7) != 0)
    return NULL;
  return authorization + 7;
}

/* Once a user another node made is read (natterd_server_with_token_user()). */
static void
dispatch_with_token (gpointer user_data)
{
  NatterdApiRequest *request = user_data;
  const char *token = natterd_bearer_token (request->msg);
  NatterdUser *user = NULL;
  int code = NATTER_CODE_TOKEN_INCORRECT;

  if (token != NULL)
    code = natterd_token_check_any (request->server->directory, token, natterd_now_ms (), &user);
  if (code != NATTER_CODE_OK)
    natterd_api_reply_error (request, code, "A valid token is required (Authorization: Bearer TOKEN)");
  else
    {
      g_object_set_data (G_OBJECT (request->msg), "natterd-account-user", user);
      request->app = user->app;
      run_request (request);
    }
}

static void
on_account (SoupServer        *soup,
            SoupServerMessage *msg,
            const char        *path,
            GHashTable        *query,
            gpointer           user_data)
{
  NatterdServer *self = user_data;
  NatterdApiRequest *request = g_new0 (NatterdApiRequest, 1);
  const NatterdAccountRoute *route = NULL;
  AccountBody *body = g_object_get_data (G_OBJECT (msg), "natterd-account-body");
  gboolean post = soup_server_message_get_method (msg) == SOUP_METHOD_POST;
  g_autofree char *name = NULL;

  g_atomic_ref_count_init (&request->ref_count);
  request->server = g_object_ref (self);
  request->msg = g_object_ref (msg);
  request->path = g_strdup (path);
  request->names = g_ptr_array_new_with_free_func (g_free);
  request->values = g_ptr_array_new_with_free_func (g_free);
  soup_server_message_pause (msg);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Cache-Control", "no-store");

  if (g_str_has_prefix (path, "/account/") && g_str_has_suffix (path, ".json"))
    {
      name = g_strndup (path + strlen ("/account/"), strlen (path) - strlen ("/account/") - strlen (".json"));
      route = route_for_method (find_route (name), post);
    }

  if (route == NULL)
    natterd_api_reply_error (request, NATTER_API_BAD_PARAMETER, "Unknown account path");
  else if (route->post != post)
    natterd_api_reply_error (request, NATTER_API_BAD_PARAMETER, route->post ? "Use POST" : "Use GET");
  else if (body != NULL && body->too_large)
    natterd_api_reply_error (request, NATTER_API_LENGTH_OVER_LIMIT, "The body is over 64 KiB");
  else
    {
      g_autoptr(GBytes) form = NULL;
      const char *query_string = g_uri_get_query (soup_server_message_get_uri (msg));

      if (post)
        form = body != NULL ? g_bytes_new (body->data->data, body->data->len) : g_bytes_new (NULL, 0);
      else
        form = g_bytes_new (query_string != NULL ? query_string : "", query_string != NULL ? strlen (query_string) : 0);
      request->handler = route->handler;

      if (!natterd_api_parse_form (form, request->names, request->values))
        natterd_api_reply_error (request, NATTER_API_BAD_PARAMETER,
                                 "The parameters are not form data (name=value pairs, %-escaped UTF-8)");
      else if (route->token)
        natterd_server_with_token_user (self, natterd_bearer_token (msg), dispatch_with_token,
                                        natterd_api_request_ref (request), natterd_api_request_unref);
      else
        {
          const char *app_key = natterd_api_param (request, "appKey");

          if (app_key == NULL || *app_key == '\0')
            natterd_api_reply_error (request, NATTER_API_BAD_PARAMETER, "appKey is required");
          else
            natterd_server_with_app (self, app_key, dispatch_with_app, natterd_api_request_ref (request),
                                     natterd_api_request_unref);
        }
    }
  natterd_api_request_unref (request);
}

/* An error with "retryAfter" (s): 26003 and 26007. */
void
natterd_accounts_reply_retry (NatterdApiRequest *request,
             int                code,
             gint64             retry_after_us)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  char *body;

  if (request->replied)
    return;
  request->replied = TRUE;
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "code");
  json_builder_add_int_value (builder, code);
  json_builder_set_member_name (builder, "errorMessage");
  json_builder_add_string_value (builder, natter_code_to_string (code));
  json_builder_set_member_name (builder, "retryAfter");
  json_builder_add_int_value (builder, MAX (1, (retry_after_us + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC));
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  body = json_to_string (root, FALSE);
  natterd_log (G_LOG_LEVEL_INFO, "account-refused", "path", request->path,
               "app", request->app != NULL ? request->app->key : NULL,
               "code", code == NATTER_CODE_ACCOUNT_LOCKED ? "26003" : "26007", NULL);
  soup_server_message_set_status (request->msg, code == NATTER_CODE_ACCOUNT_LOCKED ? SOUP_STATUS_FORBIDDEN : 429, NULL);
  soup_server_message_set_response (request->msg, "application/json; charset=utf-8",
                                    SOUP_MEMORY_TAKE, body, strlen (body));
  soup_server_message_unpause (request->msg);
}

/* ---------------------------------------------------------------- helpers */

NatterdAccountOp *
natterd_accounts_op_new (void)
{
  return natterd_op_new (NATTERD_OP_ACCOUNT, NULL, NULL, NULL);
}

void
natterd_accounts_submit (NatterdApiRequest *request,
                         NatterdAccountOp  *op)
{
  natterd_accounts_touch (request->server->accounts, op->rows);
  natterd_api_submit_part (request, op);
}

const char *
natterd_accounts_display_name (NatterdUser *user)
{
  return user->name != NULL && *user->name != '\0' ? user->name : user->user_id;
}

static void
notification_published (int         code,
                        const char *message_uid,
                        gint64      sent_time,
                        guint64     timeline_seq,
                        gpointer    user_data)
{
  NatterdApiRequest *request = user_data;

  if (code != NATTER_CODE_OK)
    natterd_api_fail_part (request, NATTER_API_INTERNAL_ERROR, "Could not store the notification");
  natterd_api_end_part (request);
}

void
natterd_accounts_notify (NatterdApiRequest *request,
                         NatterdUser       *sender,
                         int                conversation_type,
                         const char        *target_id,
                         const char        *object_name,
                         guint              flags,
                         JsonBuilder       *content)
{
  g_autoptr(JsonNode) root = json_builder_get_root (content);
  g_autofree char *text = json_to_string (root, FALSE);
  NatterdPublishRequest publish = {
    .app = request->app,
    .sender = sender,
    .conversation_type = conversation_type,
    .target_id = target_id,
    .object_name = object_name,
    .content = text,
    .flags = flags,
    .from_api = TRUE,
    .include_sender = TRUE,
  };

  natterd_api_begin_part (request);
  natterd_server_publish (request->server, &publish, notification_published,
                          natterd_api_request_ref (request), natterd_api_request_unref);
}

NatterdUser *
natterd_accounts_require_user (NatterdApiRequest *request,
                               const char        *name)
{
  const char *user_id = natterd_api_require_id (request, name);
  NatterdUser *user;
  NatterdAccount *account;

  if (user_id == NULL)
    return NULL;
  user = natterd_directory_lookup_user (request->app, user_id);
  account = g_hash_table_lookup (natterd_accounts_app (request->server, request->app)->accounts, user_id);
  if (user == NULL || (account != NULL && account->deleted))
    {
      natterd_api_reply_error (request, NATTER_CODE_NO_SUCH_USER, "No such user");
      return NULL;
    }
  return user;
}

gboolean
natterd_accounts_bool_param (NatterdApiRequest *request,
                             const char        *name,
                             gboolean          *out)
{
  const char *value = natterd_api_param (request, name);
  g_autofree char *message = NULL;

  if (g_strcmp0 (value, "true") == 0 || g_strcmp0 (value, "1") == 0)
    *out = TRUE;
  else if (g_strcmp0 (value, "false") == 0 || g_strcmp0 (value, "0") == 0)
    *out = FALSE;
  else
    {
      message = g_strdup_printf ("%s must be true or false", name);
      natterd_api_reply_error (request, NATTER_API_BAD_PARAMETER, message);
      return FALSE;
    }
  return TRUE;
}

static char *
account_json (const NatterdAccount *account)
{
  return g_strdup_printf ("{\"deleted\":%s,\"messagesFrom\":\"%s\",\"revokedBefore\":%" G_GINT64_FORMAT
                          ",\"showOnline\":%s}",
                          account->deleted ? "true" : "false", account->contacts_only ? "contacts" : "anyone",
                          account->revoked_before, account->hide_online ? "false" : "true");
}

void
natterd_accounts_add_account_row (NatterdAccountOp *op,
                 NatterdApp       *app,
                 const char       *user_id,
                 NatterdAccount   *account)
{
  g_autofree char *json = account_json (account);

  natterd_account_op_add (op, app->id, "account", user_id, "", json);
}

void
natterd_accounts_add_account_patch (NatterdAccountOp *op,
                                    NatterdApp       *app,
                                    const char       *user_id,
                                    NatterdAccount   *account,
                                    const char       *patch)
{
  g_autofree char *json = account_json (account);

  natterd_account_op_add (op, app->id, "account", user_id, "", json)->patch = g_strdup (patch);
}

/* ------------------------------------------------------------------ paths */

static void
account_settings (NatterdApiRequest *request)
{
  JsonBuilder *body = natterd_api_ok_body (request);

  json_builder_set_member_name (body, "accounts");
  json_builder_add_string_value (body, natterd_accounts_mode_to_string (request->app->settings.accounts));
  json_builder_set_member_name (body, "minPasswordLength");
  json_builder_add_int_value (body, NATTERD_PASSWORD_MIN);
  natterd_api_reply_ok (request);
}

static void
account_profile (NatterdApiRequest *request)
{
  NatterdUser *user = natterd_account_user (request);
  const char *name, *portrait;
  JsonBuilder *body;

  if (!natterd_api_optional_text (request, "name", NATTER_NAME_MAX_LENGTH, &name) ||
      !natterd_api_optional_text (request, "portraitUri", NATTER_PORTRAIT_MAX_LENGTH, &portrait))
    return;
  if (portrait != NULL && *portrait != '\0')
    {
      g_autofree char *prefix = g_strdup_printf ("%s/media/%s/", request->server->public_url, request->app->key);
      const char *id = portrait + strlen (prefix);

      if (!g_str_has_prefix (portrait, prefix) || *id == '\0' || strchr (id, '/') != NULL ||
          strchr (id, '?') != NULL || strstr (id, "..") != NULL)
        {
          natterd_api_reply_error (request, NATTER_API_BAD_PARAMETER,
                                   "portraitUri must be a URL this server gave from /media/upload");
          return;
        }
    }
  if (name != NULL || portrait != NULL)
    natterd_api_save_profile (request, user, name, portrait);
  body = natterd_api_ok_body (request);
  json_builder_set_member_name (body, "name");
  json_builder_add_string_value (body, user->name != NULL ? user->name : "");
  json_builder_set_member_name (body, "portraitUri");
  json_builder_add_string_value (body, user->portrait_uri != NULL ? user->portrait_uri : "");
  if (name == NULL && portrait == NULL)
    natterd_api_reply_ok (request);
}

static void account_privacy (NatterdApiRequest *request);
static void apply_row (NatterdServer      *server,
                       NatterdAccountsApp *state,
                       NatterdApp         *app,
                       const char         *kind,
                       const char         *owner,
                       const char         *name,
                       const char         *value);

/* The POSTs that waited for the one just stored, in order, each from what
 * the one before stored. */
static void
privacy_next (NatterdAccount *account)
{
  NatterdApiRequest *next;

  while (!account->privacy_writing && (next = g_queue_pop_head (&account->privacy_waiting)) != NULL)
    {
      account_privacy (next);
      natterd_api_request_unref (next);
    }
}

/* The row is durable: now this node's account changes and subscribers
 * hear of it (a write the store refused changes and tells nothing, as
 * natterd_api_save_profile()). The settings are the request's, checked. */
static void
privacy_committed (NatterdOp *op,
                   gpointer   user_data)
{
  NatterdApiRequest *request = user_data;
  NatterdUser *user = natterd_account_user (request);
  NatterdAccount *account = natterd_accounts_account (natterd_accounts_app (request->server, request->app),
                                                      user->user_id);
  NatterdAccountRow *row = g_ptr_array_index (((NatterdAccountOp *) op)->rows, 0);

  /* The row as stored: on a shared store, with what other nodes changed
   * of it (the answer says so too). */
  if (op->error == NULL)
    apply_row (request->server, natterd_accounts_app (request->server, request->app), request->app,
               row->kind, row->owner, row->name, row->value);
  natterd_api_part_committed (op, request);
  account->privacy_writing = FALSE;
  privacy_next (account);
}

static void
account_privacy (NatterdApiRequest *request)
{
  NatterdUser *user = natterd_account_user (request);
  NatterdAccount *account = natterd_accounts_account (natterd_accounts_app (request->server, request->app),
                                                      user->user_id);
  const char *messages_from = natterd_api_param (request, "messagesFrom");
  gboolean contacts_only = account->contacts_only;
  gboolean show_online = !account->hide_online;
  g_autofree char *patch = NULL;
  JsonBuilder *body;

  if (soup_server_message_get_method (request->msg) == SOUP_METHOD_POST && account->privacy_writing)
    {
      /* Two at once would each write the row from what was there before
       * either: the later would undo the earlier's other setting. */
      g_queue_push_tail (&account->privacy_waiting, natterd_api_request_ref (request));
      return;
    }
  if (soup_server_message_get_method (request->msg) == SOUP_METHOD_POST)
    {
      NatterdAccountOp *op;
      NatterdAccount changed = *account;

      /* Either setting or both; one left out stays as it is. */
      if ((messages_from != NULL || natterd_api_param (request, "showOnline") == NULL) &&
          g_strcmp0 (messages_from, "anyone") != 0 && g_strcmp0 (messages_from, "contacts") != 0)
        {
          natterd_api_reply_error (request, NATTER_API_BAD_PARAMETER, "messagesFrom must be anyone or contacts");
          return;
        }
      if (natterd_api_param (request, "showOnline") != NULL &&
          !natterd_accounts_bool_param (request, "showOnline", &show_online))
        return;
      if (messages_from != NULL)
        contacts_only = g_str_equal (messages_from, "contacts");
      /* The row as it will be; this node's account changes once it is
       * stored (privacy_committed()). */
      changed.contacts_only = contacts_only;
      changed.hide_online = !show_online;
      op = natterd_accounts_op_new ();
      /* Only what this request sets: the other setting, changed on
       * another node meanwhile, stays as stored. */
      patch = g_strdup_printf ("{%s%s%s}",
                               messages_from != NULL ? (contacts_only ? "\"messagesFrom\":\"contacts\"" :
                                                        "\"messagesFrom\":\"anyone\"") : "",
                               messages_from != NULL && natterd_api_param (request, "showOnline") != NULL ? "," : "",
                               natterd_api_param (request, "showOnline") != NULL ?
                               (show_online ? "\"showOnline\":true" : "\"showOnline\":false") : "");
      natterd_accounts_add_account_patch (op, request->app, user->user_id, &changed, patch);
      account->privacy_writing = TRUE;
      natterd_api_submit_part_full (request, op, privacy_committed);
    }
  body = natterd_api_ok_body (request);
  json_builder_set_member_name (body, "messagesFrom");
  json_builder_add_string_value (body, contacts_only ? "contacts" : "anyone");
  json_builder_set_member_name (body, "showOnline");
  json_builder_add_boolean_value (body, show_online);
  if (soup_server_message_get_method (request->msg) == SOUP_METHOD_POST)
    natterd_api_finish_when_stored (request);
  else
    natterd_api_reply_ok (request);
}

static void
account_privacy_get (NatterdApiRequest *request)
{
  account_privacy (request);
}

/* privacy.json showOnline=false (#16), for natterd-presence.c. */
gboolean
natterd_server_hides_presence (NatterdServer *self,
                               NatterdUser   *user)
{
  NatterdAccountsApp *state;
  NatterdAccount *account;

  if (self->accounts == NULL || user == NULL)
    return FALSE;
  state = g_hash_table_lookup (self->accounts->apps, &user->app->id);
  account = state != NULL ? g_hash_table_lookup (state->accounts, user->user_id) : NULL;
  return account != NULL && account->hide_online;
}

static void
account_user (NatterdApiRequest *request)
{
  NatterdUser *user = natterd_accounts_require_user (request, "userId");
  JsonBuilder *body;

  if (user == NULL)
    return;
  body = natterd_api_ok_body (request);
  json_builder_set_member_name (body, "userId");
  json_builder_add_string_value (body, user->user_id);
  json_builder_set_member_name (body, "name");
  json_builder_add_string_value (body, user->name != NULL ? user->name : "");
  json_builder_set_member_name (body, "portraitUri");
  json_builder_add_string_value (body, user->portrait_uri != NULL ? user->portrait_uri : "");
  natterd_api_reply_ok (request);
}

static const NatterdAccountRoute account_routes[] = {
  { "settings", FALSE, FALSE, account_settings },
  { "profile", TRUE, TRUE, account_profile },
  { "user", FALSE, TRUE, account_user },
  { NULL, FALSE, FALSE, NULL }
};

static const NatterdAccountRoute privacy_routes[] = {
  { "privacy", TRUE, TRUE, account_privacy },
  { NULL, FALSE, FALSE, NULL }
};

static const NatterdAccountRoute privacy_get_route = { "privacy", FALSE, TRUE, account_privacy_get };

static const NatterdAccountRoute *
find_route (const char *name)
{
  static const NatterdAccountRoute * const tables[] = {
    account_routes,
    natterd_account_password_routes,
    privacy_routes,
    natterd_account_people_routes,
    natterd_account_group_routes,
  };

  for (guint t = 0; t < G_N_ELEMENTS (tables); t++)
    for (const NatterdAccountRoute *r = tables[t]; r->path != NULL; r++)
      if (g_str_equal (r->path, name))
        return r;
  return NULL;
}

/* privacy.json answers GET and POST: the route is picked by method. */
static const NatterdAccountRoute *
route_for_method (const NatterdAccountRoute *route,
                  gboolean                   post)
{
  if (route != NULL && route->handler == account_privacy && !post)
    return &privacy_get_route;
  return route;
}

/* ---------------------------------------------------------- other nodes */

/* Rows a node keeps in memory: what changes on one node is applied on the
 * others (natterd-cluster.c), as the server API's changes are. */
static gboolean
row_travels (const NatterdAccountRow *row)
{
  return g_str_equal (row->kind, "account") || g_str_equal (row->kind, "contact") ||
         g_str_equal (row->kind, "group");
}

gboolean
natterd_accounts_cluster_change (NatterdAccountOp *op,
                                 JsonBuilder      *builder)
{
  gboolean any = FALSE;

  json_builder_set_member_name (builder, "kind");
  json_builder_add_string_value (builder, "account");
  json_builder_set_member_name (builder, "rows");
  json_builder_begin_array (builder);
  for (guint i = 0; i < op->rows->len; i++)
    {
      NatterdAccountRow *row = g_ptr_array_index (op->rows, i);

      if (!row_travels (row))
        continue;
      any = TRUE;
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "kind");
      json_builder_add_string_value (builder, row->kind);
      json_builder_set_member_name (builder, "owner");
      json_builder_add_string_value (builder, row->owner);
      json_builder_set_member_name (builder, "name");
      json_builder_add_string_value (builder, row->name);
      json_builder_set_member_name (builder, "value");
      if (row->value != NULL)
        json_builder_add_string_value (builder, row->value);
      else
        json_builder_add_null_value (builder);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  return any;
}

static void
apply_row (NatterdServer      *server,
           NatterdAccountsApp *state,
           NatterdApp         *app,
           const char         *kind,
           const char         *owner,
           const char         *name,
           const char         *value)
{
  if (g_str_equal (kind, "account"))
    {
      NatterdAccount *account = natterd_accounts_account (state, owner);
      g_autoptr(JsonNode) node = value != NULL ? natter_json_parse (value, -1, NULL) : NULL;
      NatterdUser *user;
      gboolean hide_online;

      if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
        {
          JsonObject *object = json_node_get_object (node);
          gint64 version = json_object_get_int_member_with_default (object, "v", 0);

          /* Older than the row this node has (a change late over NATS, or
           * a read-back from before this node's own write): the same row
           * wins on every node, the last stored. */
          if (version > 0 && version <= account->version)
            return;
          account->version = MAX (account->version, version);
          account->deleted = json_object_get_boolean_member_with_default (object, "deleted", FALSE);
          account->contacts_only = g_strcmp0 (json_object_get_string_member_with_default (object, "messagesFrom",
                                                                                          "anyone"),
                                              "contacts") == 0;
          account->revoked_before = json_object_get_int_member_with_default (object, "revokedBefore", 0);
          hide_online = !json_object_get_boolean_member_with_default (object, "showOnline", TRUE);
          user = natterd_directory_lookup_user (app, owner);
          if (user != NULL)
            user->tokens_revoked_after = MAX (user->tokens_revoked_after, account->revoked_before);
          /* Another node's change: subscribers here hear of it too. */
          if (account->hide_online != hide_online)
            {
              account->hide_online = hide_online;
              if (user != NULL)
                natterd_server_presence_privacy_changed (server, user);
            }
        }
    }
  else if (g_str_equal (kind, "contact"))
    {
      if (value != NULL)
        natterd_accounts_load_contact (state, owner, name, value);
      else if (g_hash_table_lookup (state->contacts, owner) != NULL)
        g_hash_table_remove (g_hash_table_lookup (state->contacts, owner), name);
    }
  else if (g_str_equal (kind, "group"))
    {
      if (value != NULL)
        natterd_accounts_load_group (state, owner, value);
      else
        g_hash_table_remove (state->groups, owner);
    }
}

void
natterd_accounts_committed (NatterdServer    *server,
                            NatterdApp       *app,
                            NatterdAccountOp *op)
{
  NatterdAccountsApp *state;

  if (server->accounts == NULL)
    return;
  state = natterd_accounts_app (server, app);
  for (guint i = 0; i < op->rows->len; i++)
    {
      NatterdAccountRow *row = g_ptr_array_index (op->rows, i);
      g_autoptr(JsonNode) node = NULL;

      if (!g_str_equal (row->kind, "account") || row->value == NULL)
        continue;
      node = natter_json_parse (row->value, -1, NULL);
      if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
        {
          NatterdAccount *account = natterd_accounts_account (state, row->owner);

          account->version = MAX (account->version,
                                  json_object_get_int_member_with_default (json_node_get_object (node), "v", 0));
        }
    }
}

void
natterd_accounts_apply_rows (NatterdServer *self,
                             NatterdApp    *app,
                             GPtrArray     *rows)
{
  NatterdAccountsApp *state;

  if (self->accounts == NULL || rows == NULL)
    return;
  state = natterd_accounts_app (self, app);
  for (guint i = 0; i < rows->len; i++)
    {
      NatterdAccountRow *row = g_ptr_array_index (rows, i);

      if (row_travels (row))
        apply_row (self, state, app, row->kind, row->owner, row->name, row->value);
    }
}

void
natterd_accounts_apply_change (NatterdServer *self,
                               NatterdApp    *app,
                               JsonObject    *change)
{
  NatterdAccountsApp *state;
  JsonNode *rows = json_object_get_member (change, "rows");

  if (self->accounts == NULL || rows == NULL || !JSON_NODE_HOLDS_ARRAY (rows))
    return;
  state = natterd_accounts_app (self, app);
  for (guint i = 0; i < json_array_get_length (json_node_get_array (rows)); i++)
    {
      JsonNode *element = json_array_get_element (json_node_get_array (rows), i);
      JsonObject *row;
      const char *kind, *owner, *name;

      if (!JSON_NODE_HOLDS_OBJECT (element))
        continue;
      row = json_node_get_object (element);
      kind = json_object_get_string_member_with_default (row, "kind", NULL);
      owner = json_object_get_string_member_with_default (row, "owner", NULL);
      name = json_object_get_string_member_with_default (row, "name", NULL);
      if (kind == NULL || owner == NULL || name == NULL)
        continue;
      touch (self->accounts, app->id, kind, owner, name);
      apply_row (self, state, app, kind, owner, name, json_object_get_null_member (row, "value") ? NULL :
                 json_object_get_string_member_with_default (row, "value", NULL));
    }
}

/* ------------------------------------------------------------------ setup */

static void
apply_rows (NatterdServer *server,
            GPtrArray     *rows)
{
  for (guint i = 0; i < rows->len; i++)
    {
      NatterdAccountRow *row = g_ptr_array_index (rows, i);
      NatterdApp *app = natterd_directory_lookup_app_id (server->directory, row->app_id);

      if (app != NULL)
        apply_row (server, natterd_accounts_app (server, app), app, row->kind, row->owner, row->name, row->value);
    }
}

static void
rows_loaded (NatterdRead *base,
             gpointer     user_data)
{
  NatterdServer *server = user_data;
  NatterdAccounts *self = server->accounts;
  NatterdAccountRowsRead *read = (NatterdAccountRowsRead *) base;
  g_autoptr(GPtrArray) waiting = NULL;

  if (base->error != NULL)
    {
      /* Tried again: nothing of /account/ may answer from half a state. */
      natterd_log (G_LOG_LEVEL_WARNING, "accounts-not-loaded", "error", base->error->message, NULL);
      natterd_server_load_accounts (server);
      return;
    }

  apply_rows (server, read->rows);

  self->loaded = TRUE;
  waiting = g_steal_pointer (&self->waiting);
  self->waiting = g_ptr_array_new_with_free_func (natterd_api_request_unref);
  for (guint i = 0; i < waiting->len; i++)
    run_request (g_ptr_array_index (waiting, i));
  g_ptr_array_set_free_func (waiting, natterd_api_request_unref);
}

void
natterd_server_load_accounts (NatterdServer *self)
{
  NatterdAccountRowsRead *read = natterd_read_new (NATTERD_READ_ACCOUNT_ROWS, rows_loaded,
                                                   g_object_ref (self), g_object_unref);

  /* Passwords are read when checked, never kept. */
  natterd_store_read (self->store, read);
}

/* --------------------------------------------------- read-back after an outage */

/* At most this long per main-loop iteration: a node with many accounts
 * keeps serving while it applies them. */
#define REFRESH_SLICE_US 1000

typedef struct
{
  NatterdServer *server;
  GPtrArray     *rows;            /* NatterdAccountRow as stored */
  guint          next_row;
  /* "app\nkind\nowner" → set of names stored (borrowed from rows), of
   * the kinds that can be deleted: contact, group */
  GHashTable    *stored;
  GPtrArray     *kept;            /* RefreshKey of the rows in memory of those kinds */
  GPtrArray     *deleted;         /* NatterdAccountRow changed, without a row; NULL: all rows read */
  guint          next_kept;
  NatterdRefreshDone done;
  gpointer       done_data;
} Refresh;

typedef struct
{
  gint64  app_id;
  char   *kind;                   /* static: "contact" or "group" */
  char   *owner;
  char   *name;                   /* NULL for a group */
} RefreshKey;

static void
refresh_key_free (gpointer data)
{
  RefreshKey *key = data;

  g_free (key->owner);
  g_free (key->name);
  g_free (key);
}

static void
refresh_free (gpointer data)
{
  Refresh *refresh = data;

  g_clear_pointer (&refresh->rows, g_ptr_array_unref);
  g_clear_pointer (&refresh->stored, g_hash_table_unref);
  g_clear_pointer (&refresh->kept, g_ptr_array_unref);
  g_clear_pointer (&refresh->deleted, g_ptr_array_unref);
  g_object_unref (refresh->server);
  g_free (refresh);
}

static gboolean
row_deletable (const char *kind)
{
  return g_str_equal (kind, "contact") || g_str_equal (kind, "group");
}

static void
refresh_stored_add (Refresh                 *refresh,
                    const NatterdAccountRow *row)
{
  g_autofree char *key = g_strdup_printf ("%" G_GINT64_FORMAT "\n%s\n%s", row->app_id, row->kind, row->owner);
  GHashTable *names = g_hash_table_lookup (refresh->stored, key);

  if (names == NULL)
    {
      names = g_hash_table_new (g_str_hash, g_str_equal);
      g_hash_table_insert (refresh->stored, g_steal_pointer (&key), names);
    }
  g_hash_table_add (names, row->name);
}

static gboolean
refresh_is_stored (Refresh    *refresh,
                   RefreshKey *key)
{
  g_autofree char *owner = g_strdup_printf ("%" G_GINT64_FORMAT "\n%s\n%s", key->app_id, key->kind, key->owner);
  GHashTable *names = g_hash_table_lookup (refresh->stored, owner);

  return names != NULL && g_hash_table_contains (names, key->name != NULL ? key->name : "");
}

/* The contacts and group roles in memory, as keys: the slices that check
 * them against the store may run while they change. */
static GPtrArray *
refresh_collect_kept (NatterdAccounts *self)
{
  GPtrArray *kept = g_ptr_array_new_with_free_func (refresh_key_free);
  GHashTableIter apps;
  NatterdAccountsApp *state;

  g_hash_table_iter_init (&apps, self->apps);
  while (g_hash_table_iter_next (&apps, NULL, (gpointer *) &state))
    {
      GHashTableIter iter;
      const char *owner;
      GHashTable *contacts;

      g_hash_table_iter_init (&iter, state->contacts);
      while (g_hash_table_iter_next (&iter, (gpointer *) &owner, (gpointer *) &contacts))
        {
          GHashTableIter others;
          const char *other;

          g_hash_table_iter_init (&others, contacts);
          while (g_hash_table_iter_next (&others, (gpointer *) &other, NULL))
            {
              RefreshKey *key = g_new0 (RefreshKey, 1);

              key->app_id = state->app_id;
              key->kind = (char *) "contact";
              key->owner = g_strdup (owner);
              key->name = g_strdup (other);
              g_ptr_array_add (kept, key);
            }
        }
      g_hash_table_iter_init (&iter, state->groups);
      while (g_hash_table_iter_next (&iter, (gpointer *) &owner, NULL))
        {
          RefreshKey *key = g_new0 (RefreshKey, 1);

          key->app_id = state->app_id;
          key->kind = (char *) "group";
          key->owner = g_strdup (owner);
          g_ptr_array_add (kept, key);
        }
    }
  return kept;
}

/* The contacts and group roles changed that the store no longer has, as
 * keys: a read-back of only what changed drops these, not every row here
 * the store lacks (it read only some). */
static GPtrArray *
refresh_collect_deleted (GPtrArray *deleted)
{
  GPtrArray *kept = g_ptr_array_new_with_free_func (refresh_key_free);

  for (guint i = 0; i < deleted->len; i++)
    {
      NatterdAccountRow *row = g_ptr_array_index (deleted, i);
      RefreshKey *key;

      if (!row_deletable (row->kind))
        continue;
      key = g_new0 (RefreshKey, 1);
      key->app_id = row->app_id;
      key->kind = g_str_equal (row->kind, "contact") ? (char *) "contact" : (char *) "group";
      key->owner = g_strdup (row->owner);
      key->name = g_str_equal (row->kind, "contact") ? g_strdup (row->name) : NULL;
      g_ptr_array_add (kept, key);
    }
  return kept;
}

/* A contact or group role here the store no longer has, untouched since
 * the read-back began: deleted while this node did not hear of it. */
static void
refresh_drop (Refresh    *refresh,
              RefreshKey *key)
{
  NatterdAccounts *self = refresh->server->accounts;
  NatterdAccountsApp *state = g_hash_table_lookup (self->apps, &key->app_id);

  if (state == NULL || refresh_is_stored (refresh, key) ||
      touched (self, key->app_id, key->kind, key->owner, key->name != NULL ? key->name : ""))
    return;
  if (key->name != NULL)
    {
      GHashTable *contacts = g_hash_table_lookup (state->contacts, key->owner);

      if (contacts != NULL)
        g_hash_table_remove (contacts, key->name);
    }
  else
    g_hash_table_remove (state->groups, key->owner);
}

static gboolean
refresh_slice (gpointer data)
{
  Refresh *refresh = data;
  NatterdServer *server = refresh->server;
  NatterdAccounts *self = server->accounts;
  gint64 end = g_get_monotonic_time () + REFRESH_SLICE_US;
  guint n = 0;

  while (refresh->next_row < refresh->rows->len)
    {
      NatterdAccountRow *row = g_ptr_array_index (refresh->rows, refresh->next_row++);
      NatterdApp *app = natterd_directory_lookup_app_id (server->directory, row->app_id);

      if (row_deletable (row->kind))
        refresh_stored_add (refresh, row);
      /* Changed here or over NATS meanwhile: newer than this snapshot. */
      if (app != NULL && row_travels (row) && !touched (self, row->app_id, row->kind, row->owner, row->name))
        apply_row (server, natterd_accounts_app (server, app), app, row->kind, row->owner, row->name, row->value);
      if (++n % 64 == 0 && g_get_monotonic_time () >= end)
        return G_SOURCE_CONTINUE;
    }
  if (refresh->kept == NULL)
    {
      refresh->kept = refresh->deleted != NULL ? refresh_collect_deleted (refresh->deleted)
                                               : refresh_collect_kept (self);
      return G_SOURCE_CONTINUE;
    }
  while (refresh->next_kept < refresh->kept->len)
    {
      refresh_drop (refresh, g_ptr_array_index (refresh->kept, refresh->next_kept++));
      if (++n % 64 == 0 && g_get_monotonic_time () >= end)
        return G_SOURCE_CONTINUE;
    }

  g_clear_pointer (&self->touched, g_hash_table_unref);
  if (refresh->done != NULL)
    refresh->done (TRUE, refresh->done_data);
  return G_SOURCE_REMOVE;
}

static void
rows_refreshed (NatterdRead *base,
                gpointer     user_data)
{
  Refresh *refresh = user_data;
  NatterdServer *server = refresh->server;

  if (base->error != NULL || server->accounts == NULL)
    {
      /* What changes here meanwhile stays touched: the caller reads again
       * (these changes would be read by nothing else). */
      if (base->error != NULL)
        natterd_log (G_LOG_LEVEL_WARNING, "accounts-refresh-failed", "error", base->error->message, NULL);
      if (refresh->done != NULL)
        refresh->done (base->error == NULL, refresh->done_data);
      refresh_free (refresh);
      return;
    }
  refresh->rows = g_ptr_array_ref (((NatterdAccountRowsRead *) base)->rows);
  if (((NatterdAccountRowsRead *) base)->since != NULL)
    refresh->deleted = g_ptr_array_ref (((NatterdAccountRowsRead *) base)->deleted);
  /* Counted with the directory rows (natterd_cluster_refresh_rows_total). */
  server->metrics->cluster_refresh_rows += refresh->rows->len + (refresh->deleted != NULL ? refresh->deleted->len : 0);
  refresh->stored = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_hash_table_unref);
  g_source_set_static_name (g_main_context_find_source_by_id (NULL, g_idle_add_full (G_PRIORITY_DEFAULT,
                                                                                       refresh_slice, refresh,
                                                                                       refresh_free)),
                            "natterd-accounts-refresh");
}

void
natterd_server_refresh_accounts_begin (NatterdServer *self)
{
  if (self->accounts != NULL && self->accounts->touched == NULL)
    self->accounts->touched = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

/* After a NATS outage (natterd-cluster.c): contacts, privacy and group
 * roles changed on other nodes meanwhile never came over NATS. Rows are
 * applied as stored and contacts and group roles the store no longer has
 * are dropped, except those changed here or over NATS since the
 * read-back began (the snapshot may predate them). */
void
natterd_server_refresh_accounts (NatterdServer      *self,
                                 const char         *since,
                                 NatterdRefreshDone  done,
                                 gpointer            data)
{
  NatterdAccountRowsRead *read;
  Refresh *refresh;

  if (self->accounts == NULL || !self->accounts->loaded)
    {
      if (self->accounts != NULL)
        g_clear_pointer (&self->accounts->touched, g_hash_table_unref);
      if (done != NULL)
        done (TRUE, data);
      return;
    }
  refresh = g_new0 (Refresh, 1);
  refresh->server = g_object_ref (self);
  refresh->done = done;
  refresh->done_data = data;
  read = natterd_read_new (NATTERD_READ_ACCOUNT_ROWS, rows_refreshed, refresh, NULL);
  read->since = g_strdup (since);
  natterd_store_read (self->store, read);
}

void
natterd_server_setup_accounts (NatterdServer *self)
{
  if (sodium_init () < 0)
    g_error ("libsodium could not be initialised");

  self->accounts = g_new0 (NatterdAccounts, 1);
  self->accounts->apps = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, accounts_app_free);
  self->accounts->waiting = g_ptr_array_new_with_free_func (natterd_api_request_unref);
  g_queue_init (&self->accounts->hash_queue);
  self->accounts->addresses = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, login_address_free);

  soup_server_add_early_handler (self->soup, "/account", on_account_early, self, NULL);
  soup_server_add_handler (self->soup, "/account", on_account, self, NULL);
  natterd_server_load_accounts (self);
}
