/* natterd-accounts.c — end-user accounts (#14): /account/ over HTTP
 *
 *   GET  /account/settings.json?appKey=         no token
 *   POST /account/register.json, login.json     no token (appKey in the form)
 *   POST /account/password.json, profile.json, delete.json
 *   GET  /account/user.json?userId=
 *   ...  contacts, groups, blocking (natterd-accounts-people.c, -groups.c)
 *
 * Answers are the server API's ({"code":200,...} or {"code":N,
 * "errorMessage":...}), never cached. Passwords are hashed with Argon2id
 * (libsodium crypto_pwhash_str) in GTask threads, at most HASH_SLOTS at
 * once, the rest queued: a hash takes tens of ms, which the main loop
 * never waits for. Passwords are never logged; their buffers are wiped.
 *
 * Failed logins: each wrong password's answer waits [limits] login-backoff
 * ms times the failures so far, one check per account runs at a time
 * (26007 meanwhile), login-attempts wrong passwords in a row lock the
 * account for login-lockout s (26003, even for the right one), and one
 * client address may give login-address-limit wrong passwords per
 * login-lockout period (26007).
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
#define HASH_SLOTS 2

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
      state->accounts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
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
  g_free (self);
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
        {
          const char *authorization = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                                     "Authorization");
          NatterdUser *user = NULL;
          int code = NATTER_CODE_TOKEN_INCORRECT;

          if (authorization != NULL && g_ascii_strncasecmp (authorization, "Bearer ", 7) == 0)
            code = natterd_token_check_any (self->directory, authorization + 7, natterd_now_ms (), &user);
          if (code != NATTER_CODE_OK)
            natterd_api_reply_error (request, code, "A valid token is required (Authorization: Bearer TOKEN)");
          else
            {
              g_object_set_data (G_OBJECT (msg), "natterd-account-user", user);
              request->app = user->app;
              run_request (request);
            }
        }
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
static void
reply_retry (NatterdApiRequest *request,
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
  return g_strdup_printf ("{\"deleted\":%s,\"messagesFrom\":\"%s\"}", account->deleted ? "true" : "false",
                          account->contacts_only ? "contacts" : "anyone");
}

static void
add_account_row (NatterdAccountOp *op,
                 NatterdApp       *app,
                 const char       *user_id,
                 NatterdAccount   *account)
{
  g_autofree char *json = account_json (account);

  natterd_account_op_add (op, app->id, "account", user_id, "", json);
}

/* --------------------------------------------------------------- hashing */

typedef struct
{
  char     *password;           /* wiped when freed */
  char     *hash;               /* to verify against; NULL: make a new hash */
  char      out[crypto_pwhash_STRBYTES];
  gboolean  ok;
} HashJob;

static void
hash_job_free (gpointer data)
{
  HashJob *job = data;

  sodium_memzero (job->password, strlen (job->password));
  g_free (job->password);
  g_free (job->hash);
  sodium_memzero (job->out, sizeof job->out);
  g_free (job);
}

static void
hash_thread (GTask        *task,
             gpointer      source,
             gpointer      data,
             GCancellable *cancellable)
{
  HashJob *job = data;

  if (job->hash != NULL)
    job->ok = crypto_pwhash_str_verify (job->hash, job->password, strlen (job->password)) == 0;
  else
    job->ok = crypto_pwhash_str (job->out, job->password, strlen (job->password),
                                 crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0;
  g_task_return_boolean (task, TRUE);
}

typedef void (*HashDone) (NatterdApiRequest *request,
                          HashJob           *job);

typedef struct
{
  NatterdApiRequest *request;
  HashDone           done;
} HashCaller;

static void
start_next_hash (NatterdAccounts *self)
{
  while (self->hashing < HASH_SLOTS && !g_queue_is_empty (&self->hash_queue))
    {
      g_autoptr(GTask) task = g_queue_pop_head (&self->hash_queue);

      self->hashing++;
      g_task_run_in_thread (task, hash_thread);
    }
}

static void
hash_finished (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  NatterdServer *server = NATTERD_SERVER (source);
  HashCaller *caller = user_data;

  server->accounts->hashing--;
  start_next_hash (server->accounts);
  caller->done (caller->request, g_task_get_task_data (G_TASK (result)));
  natterd_api_request_unref (caller->request);
  g_free (caller);
}

/* Hashes @password (or checks it against @hash) on a thread, then calls
 * @done on the main context. */
static void
run_hash (NatterdApiRequest *request,
          const char        *password,
          const char        *hash,
          HashDone           done)
{
  NatterdAccounts *self = request->server->accounts;
  HashCaller *caller = g_new0 (HashCaller, 1);
  HashJob *job = g_new0 (HashJob, 1);
  GTask *task;

  caller->request = natterd_api_request_ref (request);
  caller->done = done;
  job->password = g_strdup (password);
  job->hash = g_strdup (hash);
  task = g_task_new (request->server, NULL, hash_finished, caller);
  g_task_set_source_tag (task, run_hash);
  g_task_set_task_data (task, job, hash_job_free);
  g_queue_push_tail (&self->hash_queue, task);
  start_next_hash (self);
}

/* -------------------------------------------------------- password checks */

static gboolean
password_length_ok (NatterdApiRequest *request,
                    const char        *password)
{
  if (password == NULL || strlen (password) < NATTERD_PASSWORD_MIN || strlen (password) > NATTERD_PASSWORD_MAX)
    {
      natterd_api_reply_error (request, NATTER_CODE_PASSWORD_LENGTH, "A password has 8 to 1,024 bytes");
      return FALSE;
    }
  return TRUE;
}

static NatterdLoginAddress *
login_address (NatterdApiRequest *request)
{
  NatterdAccounts *self = request->server->accounts;
  const char *host = soup_server_message_get_remote_host (request->msg);
  NatterdLoginAddress *address;

  if (host == NULL)
    host = "";
  address = g_hash_table_lookup (self->addresses, host);
  if (address == NULL)
    {
      address = g_new0 (NatterdLoginAddress, 1);
      address->address = g_strdup (host);
      g_hash_table_insert (self->addresses, address->address, address);
    }
  return address;
}

typedef struct
{
  NatterdApiRequest *request;
  char              *user_id;
  char              *password;
  HashDone           done;      /* on the right password */
} PasswordCheck;

static void
password_check_free (PasswordCheck *check)
{
  natterd_api_request_unref (check->request);
  g_free (check->user_id);
  if (check->password != NULL)
    sodium_memzero (check->password, strlen (check->password));
  g_free (check->password);
  g_free (check);
}

static gboolean
reply_wrong_password (gpointer data)
{
  NatterdApiRequest *request = data;

  natterd_api_reply_error (request, NATTER_CODE_WRONG_PASSWORD, "Wrong user id or password");
  return G_SOURCE_REMOVE;
}

static void
password_checked (NatterdApiRequest *request,
                  HashJob           *job)
{
  NatterdServer *server = request->server;
  NatterdConfig *config = server->config;
  PasswordCheck *check = g_object_get_data (G_OBJECT (request->msg), "natterd-password-check");
  NatterdAccount *account = g_hash_table_lookup (natterd_accounts_app (server, request->app)->accounts,
                                                 check->user_id);
  NatterdLoginAddress *address;
  gint64 now = g_get_monotonic_time ();
  guint failures;

  if (account != NULL)
    account->checking = FALSE;
  /* A hash made for an unknown user is never a match. */
  if (job->ok && job->hash != NULL && account != NULL)
    {
      account->failures = 0;
      check->done (request, job);
      return;
    }

  address = login_address (request);
  if (address->window_end <= now)
    {
      address->failures = 0;
      address->window_end = now + (gint64) config->login_lockout * G_USEC_PER_SEC;
    }
  address->failures++;
  failures = 1;
  if (account != NULL)
    {
      failures = ++account->failures;
      if (account->failures >= MAX (1u, config->login_attempts))
        {
          account->locked_until = now + (gint64) config->login_lockout * G_USEC_PER_SEC;
          natterd_log (G_LOG_LEVEL_MESSAGE, "account-locked", "app", request->app->key,
                       "user", check->user_id, NULL);
        }
    }
  /* Backoff: the answer to a wrong password comes later the more there were. */
  g_timeout_add_full (G_PRIORITY_DEFAULT, MIN ((guint64) config->login_backoff * failures, 5000),
                      reply_wrong_password, natterd_api_request_ref (request), natterd_api_request_unref);
}

static void
password_row_read (NatterdRead *base,
                   gpointer     user_data)
{
  NatterdAccountRowsRead *read = (NatterdAccountRowsRead *) base;
  PasswordCheck *check = user_data;
  NatterdApiRequest *request = check->request;
  NatterdAccount *account = g_hash_table_lookup (natterd_accounts_app (request->server, request->app)->accounts,
                                                 check->user_id);
  const char *hash = NULL;

  if (base->error != NULL)
    {
      if (account != NULL)
        account->checking = FALSE;
      natterd_api_reply_error (request, NATTER_API_INTERNAL_ERROR, "The store is unavailable; try again later");
      password_check_free (check);
      return;
    }
  if (read->rows->len > 0 && account != NULL && !account->deleted)
    hash = ((NatterdAccountRow *) g_ptr_array_index (read->rows, 0))->value;

  g_object_set_data_full (G_OBJECT (request->msg), "natterd-password-check",
                          g_steal_pointer (&check), (GDestroyNotify) password_check_free);
  check = g_object_get_data (G_OBJECT (request->msg), "natterd-password-check");
  /* An unknown user costs a hash too: the time taken tells nothing. */
  run_hash (request, check->password, hash, password_checked);
}

/* Checks @password of @user_id within the lockout and backoff rules; calls
 * @done on the right one, answers every refusal itself. */
static void
check_password (NatterdApiRequest *request,
                const char        *user_id,
                const char        *password,
                HashDone           done)
{
  NatterdServer *server = request->server;
  NatterdAccountsApp *state = natterd_accounts_app (server, request->app);
  NatterdAccount *account = NULL;
  NatterdLoginAddress *address = login_address (request);
  NatterdAccountRowsRead *read;
  PasswordCheck *check;
  gint64 now = g_get_monotonic_time ();

  if (address->window_end > now && address->failures >= server->config->login_address_limit &&
      server->config->login_address_limit > 0)
    {
      reply_retry (request, NATTER_CODE_LOGIN_BACK_OFF, address->window_end - now);
      return;
    }
  if (natterd_directory_lookup_user (request->app, user_id) != NULL)
    account = natterd_accounts_account (state, user_id);
  if (account != NULL && account->locked_until > now)
    {
      reply_retry (request, NATTER_CODE_ACCOUNT_LOCKED, account->locked_until - now);
      return;
    }
  if (account != NULL && account->locked_until != 0)
    {
      /* The lockout lapsed: a new run of attempts. */
      account->locked_until = 0;
      account->failures = 0;
    }
  if (account != NULL && account->checking)
    {
      reply_retry (request, NATTER_CODE_LOGIN_BACK_OFF, G_USEC_PER_SEC);
      return;
    }
  if (account != NULL)
    account->checking = TRUE;

  check = g_new0 (PasswordCheck, 1);
  check->request = natterd_api_request_ref (request);
  check->user_id = g_strdup (user_id);
  check->password = g_strdup (password);
  check->done = done;
  read = natterd_read_new (NATTERD_READ_ACCOUNT_ROWS, password_row_read, check, NULL);
  read->app_id = request->app->id;
  read->kind = g_strdup ("password");
  read->owner = g_strdup (user_id);
  natterd_store_read (server->store, read);
}

/* ------------------------------------------------------------------ paths */

static void
add_token (NatterdApiRequest *request,
           NatterdUser       *user,
           gint64             issued)
{
  JsonBuilder *body = natterd_api_ok_body (request);
  guint ttl = request->app->settings.token_ttl;
  g_autofree char *token = natterd_token_issue (request->app, user->user_id, issued,
                                                ttl > 0 ? issued + (gint64) ttl * 1000 : 0);

  json_builder_set_member_name (body, "userId");
  json_builder_add_string_value (body, user->user_id);
  json_builder_set_member_name (body, "token");
  json_builder_add_string_value (body, token);
}

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

/* register: the hash, the invite, the password row, the user, the token */

static void
registered_user_saved (NatterdOp *op,
                       gpointer   user_data)
{
  NatterdApiRequest *request = user_data;
  NatterdUser *user = natterd_directory_lookup_user (request->app, natterd_api_param (request, "userId"));

  if (op->error != NULL || user == NULL)
    {
      natterd_api_reply_error (request, NATTER_API_INTERNAL_ERROR, "Could not store the user");
      return;
    }
  natterd_log (G_LOG_LEVEL_INFO, "account-registered", "app", request->app->key, "user", user->user_id, NULL);
  add_token (request, user, natterd_now_ms ());
  natterd_api_reply_ok (request);
}

static void
password_row_stored (NatterdOp *base,
                     gpointer   user_data)
{
  NatterdAccountOp *op = (NatterdAccountOp *) base;
  NatterdApiRequest *request = user_data;
  const char *user_id = natterd_api_param (request, "userId");
  const char *name = natterd_api_param (request, "name");
  NatterdUser *user;

  if (base->error != NULL)
    {
      natterd_api_reply_error (request, NATTER_API_INTERNAL_ERROR, "Could not store the account");
      return;
    }
  if (op->conflict || natterd_directory_lookup_user (request->app, user_id) != NULL)
    {
      natterd_api_reply_error (request, NATTER_CODE_USER_ID_TAKEN, "User id taken");
      return;
    }
  natterd_accounts_account (natterd_accounts_app (request->server, request->app), user_id);
  user = natterd_directory_add_user (request->server->directory, request->app, user_id, natterd_now_ms ());
  g_free (user->name);
  user->name = g_strdup (name != NULL ? name : "");
  natterd_server_save_user (request->server, user, registered_user_saved, natterd_api_request_ref (request),
                            natterd_api_request_unref);
}

static void
store_password_row (NatterdApiRequest *request)
{
  const char *hash = g_object_get_data (G_OBJECT (request->msg), "natterd-new-hash");
  NatterdAccountOp *op = natterd_accounts_op_new ();
  NatterdAccount fresh = { 0 };

  natterd_account_op_add (op, request->app->id, "password", natterd_api_param (request, "userId"), "", hash)
    ->only_new = TRUE;
  add_account_row (op, request->app, natterd_api_param (request, "userId"), &fresh);
  op->base.complete = password_row_stored;
  op->base.user_data = natterd_api_request_ref (request);
  op->base.destroy = natterd_api_request_unref;
  natterd_store_submit (request->server->store, op);
}

static void
invite_taken (NatterdOp *base,
              gpointer   user_data)
{
  NatterdApiRequest *request = user_data;

  if (base->error != NULL)
    natterd_api_reply_error (request, NATTER_API_INTERNAL_ERROR, "Could not store the account");
  else if (((NatterdAccountOp *) base)->conflict)
    natterd_api_reply_error (request, NATTER_CODE_INVITE_INVALID, "Invite code invalid or used");
  else
    store_password_row (request);
}

static void
register_hashed (NatterdApiRequest *request,
                 HashJob           *job)
{
  const char *invite = natterd_api_param (request, "inviteCode");

  if (!job->ok)
    {
      natterd_api_reply_error (request, NATTER_API_INTERNAL_ERROR, "Could not hash the password");
      return;
    }
  g_object_set_data_full (G_OBJECT (request->msg), "natterd-new-hash", g_strdup (job->out), g_free);
  if (natterd_directory_lookup_user (request->app, natterd_api_param (request, "userId")) != NULL)
    {
      natterd_api_reply_error (request, NATTER_CODE_USER_ID_TAKEN, "User id taken");
      return;
    }
  if (request->app->settings.accounts == NATTERD_ACCOUNTS_INVITE)
    {
      NatterdAccountOp *op = natterd_accounts_op_new ();

      natterd_account_op_add (op, request->app->id, "invite", "", invite, NULL)->must_exist = TRUE;
      op->base.complete = invite_taken;
      op->base.user_data = natterd_api_request_ref (request);
      op->base.destroy = natterd_api_request_unref;
      natterd_store_submit (request->server->store, op);
    }
  else
    store_password_row (request);
}

static void
account_register (NatterdApiRequest *request)
{
  const char *user_id, *name, *invite;
  const char *password = natterd_api_param (request, "password");

  if (request->app->settings.accounts == NATTERD_ACCOUNTS_OFF)
    {
      natterd_api_reply_error (request, NATTER_CODE_REGISTRATION_CLOSED, "Registration closed");
      return;
    }
  if ((user_id = natterd_api_require_id (request, "userId")) == NULL ||
      !natterd_api_optional_text (request, "name", NATTER_NAME_MAX_LENGTH, &name) ||
      !password_length_ok (request, password))
    return;
  invite = natterd_api_param (request, "inviteCode");
  if (request->app->settings.accounts == NATTERD_ACCOUNTS_INVITE &&
      (invite == NULL || *invite == '\0' || strlen (invite) > 64))
    {
      natterd_api_reply_error (request, NATTER_CODE_INVITE_INVALID, "Invite code invalid or used");
      return;
    }
  if (natterd_directory_lookup_user (request->app, user_id) != NULL)
    {
      natterd_api_reply_error (request, NATTER_CODE_USER_ID_TAKEN, "User id taken");
      return;
    }
  run_hash (request, password, NULL, register_hashed);
}

static void
login_checked (NatterdApiRequest *request,
               HashJob           *job)
{
  NatterdUser *user = natterd_server_ensure_user (request->server, request->app,
                                                  natterd_api_param (request, "userId"));

  add_token (request, user, natterd_now_ms ());
  natterd_api_reply_ok (request);
}

static void
account_login (NatterdApiRequest *request)
{
  const char *user_id;
  const char *password = natterd_api_param (request, "password");

  if (request->app->settings.accounts == NATTERD_ACCOUNTS_OFF)
    {
      natterd_api_reply_error (request, NATTER_CODE_REGISTRATION_CLOSED, "Accounts are off for this app");
      return;
    }
  if ((user_id = natterd_api_require_id (request, "userId")) == NULL)
    return;
  if (password == NULL || *password == '\0' || strlen (password) > NATTERD_PASSWORD_MAX)
    {
      natterd_api_reply_error (request, NATTER_CODE_WRONG_PASSWORD, "Wrong user id or password");
      return;
    }
  check_password (request, user_id, password, login_checked);
}

/* password: the old one checked, the new one hashed and stored, every
 * token issued before revoked */

static void
revoke_tokens (NatterdApiRequest *request,
               NatterdUser       *user,
               gint64             now)
{
  user->tokens_valid_after = now;
  natterd_api_begin_part (request);
  natterd_server_save_user (request->server, user, natterd_api_part_committed, natterd_api_request_ref (request),
                            natterd_api_request_unref);
  natterd_server_kick_user (request->server, user, NATTER_CODE_TOKEN_INCORRECT, now);
}

static void
new_password_hashed (NatterdApiRequest *request,
                     HashJob           *job)
{
  NatterdUser *user = natterd_account_user (request);
  NatterdAccountOp *op;
  gint64 now = natterd_now_ms ();

  if (!job->ok)
    {
      natterd_api_reply_error (request, NATTER_API_INTERNAL_ERROR, "Could not hash the password");
      return;
    }
  op = natterd_accounts_op_new ();
  natterd_account_op_add (op, request->app->id, "password", user->user_id, "", job->out);
  natterd_accounts_submit (request, op);
  revoke_tokens (request, user, now);
  add_token (request, user, now);
  natterd_api_finish_when_stored (request);
}

static void
old_password_checked (NatterdApiRequest *request,
                      HashJob           *job)
{
  run_hash (request, natterd_api_param (request, "newPassword"), NULL, new_password_hashed);
}

static void
account_password (NatterdApiRequest *request)
{
  NatterdUser *user = natterd_account_user (request);
  const char *old_password = natterd_api_param (request, "oldPassword");

  if (!password_length_ok (request, natterd_api_param (request, "newPassword")))
    return;
  if (old_password == NULL || *old_password == '\0' || strlen (old_password) > NATTERD_PASSWORD_MAX)
    {
      natterd_api_reply_error (request, NATTER_CODE_WRONG_PASSWORD, "Wrong user id or password");
      return;
    }
  check_password (request, user->user_id, old_password, old_password_checked);
}

static void
delete_checked (NatterdApiRequest *request,
                HashJob           *job)
{
  NatterdUser *user = natterd_account_user (request);
  NatterdAccount *account = natterd_accounts_account (natterd_accounts_app (request->server, request->app),
                                                      user->user_id);
  NatterdAccountOp *op = natterd_accounts_op_new ();

  account->deleted = TRUE;
  natterd_account_op_add (op, request->app->id, "password", user->user_id, "", NULL);
  add_account_row (op, request->app, user->user_id, account);
  natterd_accounts_submit (request, op);
  revoke_tokens (request, user, natterd_now_ms ());
  natterd_log (G_LOG_LEVEL_INFO, "account-deleted", "app", request->app->key, "user", user->user_id, NULL);
  natterd_api_finish_when_stored (request);
}

static void
account_delete (NatterdApiRequest *request)
{
  const char *password = natterd_api_param (request, "password");

  if (password == NULL || *password == '\0' || strlen (password) > NATTERD_PASSWORD_MAX)
    {
      natterd_api_reply_error (request, NATTER_CODE_WRONG_PASSWORD, "Wrong user id or password");
      return;
    }
  check_password (request, natterd_account_user (request)->user_id, password, delete_checked);
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
  if (name != NULL)
    {
      g_free (user->name);
      user->name = g_strdup (name);
    }
  if (portrait != NULL)
    {
      g_free (user->portrait_uri);
      user->portrait_uri = g_strdup (portrait);
    }
  natterd_api_begin_part (request);
  natterd_server_save_user (request->server, user, natterd_api_part_committed, natterd_api_request_ref (request),
                            natterd_api_request_unref);
  body = natterd_api_ok_body (request);
  json_builder_set_member_name (body, "name");
  json_builder_add_string_value (body, user->name != NULL ? user->name : "");
  json_builder_set_member_name (body, "portraitUri");
  json_builder_add_string_value (body, user->portrait_uri != NULL ? user->portrait_uri : "");
}

static void
account_privacy (NatterdApiRequest *request)
{
  NatterdUser *user = natterd_account_user (request);
  NatterdAccount *account = natterd_accounts_account (natterd_accounts_app (request->server, request->app),
                                                      user->user_id);
  const char *messages_from = natterd_api_param (request, "messagesFrom");
  JsonBuilder *body;

  if (soup_server_message_get_method (request->msg) == SOUP_METHOD_POST)
    {
      NatterdAccountOp *op;

      if (g_strcmp0 (messages_from, "anyone") != 0 && g_strcmp0 (messages_from, "contacts") != 0)
        {
          natterd_api_reply_error (request, NATTER_API_BAD_PARAMETER, "messagesFrom must be anyone or contacts");
          return;
        }
      account->contacts_only = g_str_equal (messages_from, "contacts");
      op = natterd_accounts_op_new ();
      add_account_row (op, request->app, user->user_id, account);
      natterd_accounts_submit (request, op);
    }
  body = natterd_api_ok_body (request);
  json_builder_set_member_name (body, "messagesFrom");
  json_builder_add_string_value (body, account->contacts_only ? "contacts" : "anyone");
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
  { "register", TRUE, FALSE, account_register },
  { "login", TRUE, FALSE, account_login },
  { "password", TRUE, TRUE, account_password },
  { "profile", TRUE, TRUE, account_profile },
  { "delete", TRUE, TRUE, account_delete },
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

/* ------------------------------------------------------------ invite codes */

static char *
invite_code_new (void)
{
  guint8 bytes[10];

  randombytes_buf (bytes, sizeof bytes);
  return g_base64_encode (bytes, sizeof bytes);
}

/* Base64 may hold '+' and '/': a code a person types is letters and digits. */
static char *
invite_code_generate (void)
{
  g_autofree char *raw = NULL;
  GString *code = g_string_new (NULL);

  while (code->len < 12)
    {
      g_free (raw);
      raw = invite_code_new ();
      for (const char *p = raw; *p != '\0' && code->len < 12; p++)
        if (g_ascii_isalnum (*p))
          g_string_append_c (code, g_ascii_toupper (*p));
    }
  return g_string_free (code, FALSE);
}

static void
api_invite_create (NatterdApiRequest *request)
{
  g_autofree char *code = invite_code_generate ();
  NatterdAccountOp *op = natterd_accounts_op_new ();
  JsonBuilder *body;

  natterd_account_op_add (op, request->app->id, "invite", "", code, "");
  natterd_api_submit_part (request, op);
  body = natterd_api_ok_body (request);
  json_builder_set_member_name (body, "inviteCode");
  json_builder_add_string_value (body, code);
  natterd_api_finish_when_stored (request);
}

const NatterdApiRoute natterd_api_account_routes[] = {
  { "account/invite/create", api_invite_create },
  { NULL, NULL }
};

static void
invite_stored (NatterdOp *op,
               gpointer   user_data)
{
  gboolean *stored = user_data;

  *stored = op->error == NULL;
}

/* natterd --create-invite APPKEY: one code, stored before it is printed. */
int
natterd_accounts_create_invite (NatterdStore *store,
                                const char   *app_key)
{
  g_autoptr(GPtrArray) apps = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *code = NULL;
  NatterdAccountOp *op;
  gint64 app_id = 0;
  gboolean stored = FALSE;

  apps = natterd_store_list_apps (store, &error);
  if (apps == NULL)
    {
      g_printerr ("natterd: %s\n", error->message);
      return 1;
    }
  for (guint i = 0; i < apps->len; i++)
    if (g_str_equal (((NatterdAppRecord *) g_ptr_array_index (apps, i))->app_key, app_key))
      app_id = ((NatterdAppRecord *) g_ptr_array_index (apps, i))->id;
  if (app_id == 0)
    {
      g_printerr ("natterd: no app %s\n", app_key);
      return 1;
    }

  code = invite_code_generate ();
  op = natterd_accounts_op_new ();
  natterd_account_op_add (op, app_id, "invite", "", code, "");
  op->base.complete = invite_stored;
  op->base.user_data = &stored;
  natterd_store_start (store, 16);
  natterd_store_submit (store, op);
  /* Dispatches the completion before it returns. */
  natterd_store_stop (store);
  if (!stored)
    {
      g_printerr ("natterd: could not store the invite code\n");
      return 1;
    }
  g_print ("{\"appKey\":\"%s\",\"inviteCode\":\"%s\"}\n", app_key, code);
  return 0;
}

/* ------------------------------------------------------------------ setup */

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

  for (guint i = 0; i < read->rows->len; i++)
    {
      NatterdAccountRow *row = g_ptr_array_index (read->rows, i);
      NatterdApp *app = natterd_directory_lookup_app_id (server->directory, row->app_id);
      NatterdAccountsApp *state;

      if (app == NULL)
        continue;
      state = natterd_accounts_app (server, app);
      if (g_str_equal (row->kind, "account"))
        {
          NatterdAccount *account = natterd_accounts_account (state, row->owner);
          g_autoptr(JsonNode) node = natter_json_parse (row->value, -1, NULL);

          if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
            {
              JsonObject *object = json_node_get_object (node);

              account->deleted = json_object_get_boolean_member_with_default (object, "deleted", FALSE);
              account->contacts_only = g_strcmp0 (json_object_get_string_member_with_default (object, "messagesFrom",
                                                                                              "anyone"),
                                                  "contacts") == 0;
            }
        }
      else if (g_str_equal (row->kind, "contact"))
        natterd_accounts_load_contact (state, row->owner, row->name, row->value);
      else if (g_str_equal (row->kind, "group"))
        natterd_accounts_load_group (state, row->owner, row->value);
    }

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
