/* natterd-accounts-passwords.c — the /account/ paths with a password:
 * register, login, password, delete; invite codes (natterd
 * --create-invite, the server API's account/invite/create)
 *
 * Passwords are hashed with Argon2id (libsodium crypto_pwhash_str) in
 * GTask threads, at most HASH_SLOTS at once, the rest queued: a hash takes
 * tens of ms, which the main loop never waits for. Passwords are never
 * logged; their buffers are wiped. Hashes are read from the store at every
 * check (never kept), so every node sharing a store checks the latest.
 *
 * Failed logins: each wrong password's answer waits [limits] login-backoff
 * ms times the failures so far, one check per account runs at a time (26007
 * meanwhile: per node, and on PostgreSQL across the nodes, claimed with the
 * read of the hash), login-attempts wrong passwords in a row lock the
 * account for login-lockout s (26003, even for the right one), and one
 * client address may give login-address-limit wrong passwords per
 * login-lockout period (26007; each node tells the others of its wrong
 * passwords over NATS, so the limit holds across nodes). Wrong passwords and lockouts
 * are counted in the store (account_logins), so they hold across the
 * nodes sharing it and across restarts.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-accounts-private.h"

#include "natterd-log.h"

#include <sodium.h>
#include <string.h>

#define HASH_SLOTS 2

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

/* What a password check calls on the right password. */
typedef void (*CheckDone) (NatterdApiRequest *request);

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
  if (password != NULL && !g_utf8_validate (password, -1, NULL))
    {
      natterd_api_reply_error (request, NATTER_CODE_INVALID_PARAMETER, "A password is UTF-8 text");
      return FALSE;
    }
  /* at least 8 characters, as people count them (a CJK character is
   * three bytes); at most 1,024 bytes, what the hash is given */
  if (password == NULL || g_utf8_strlen (password, -1) < NATTERD_PASSWORD_MIN ||
      strlen (password) > NATTERD_PASSWORD_MAX)
    {
      natterd_api_reply_error (request, NATTER_CODE_PASSWORD_LENGTH,
                               "A password has at least 8 characters and at most 1,024 bytes");
      return FALSE;
    }
  return TRUE;
}

/* Addresses with wrong passwords kept at most, before the ones whose
 * period is over are forgotten. */
#define ADDRESSES_KEPT 4096

/* The failures of the request's client address; NULL if it has none and
 * @create is FALSE. Only addresses that gave a wrong password are kept. */
static NatterdLoginAddress *
login_address (NatterdAccounts *self,
               const char      *host,
               gboolean         create)
{
  NatterdLoginAddress *address;

  if (host == NULL)
    host = "";
  address = g_hash_table_lookup (self->addresses, host);
  if (address == NULL && create)
    {
      if (g_hash_table_size (self->addresses) >= ADDRESSES_KEPT)
        {
          gint64 now = g_get_monotonic_time ();
          GHashTableIter iter;
          NatterdLoginAddress *old;

          g_hash_table_iter_init (&iter, self->addresses);
          while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &old))
            if (old->window_end <= now)
              g_hash_table_iter_remove (&iter);
        }
      address = g_new0 (NatterdLoginAddress, 1);
      address->address = g_strdup (host);
      g_hash_table_insert (self->addresses, address->address, address);
    }
  return address;
}

/* A wrong password from @address: counted in the period it falls in. */
static void
count_address (NatterdConfig       *config,
               NatterdLoginAddress *address,
               gint64               now)
{
  if (address->window_end <= now)
    {
      address->failures = 0;
      address->window_end = now + (gint64) config->login_lockout * G_USEC_PER_SEC;
    }
  address->failures++;
}

/* Nodes sharing a PostgreSQL count client addresses there too: while NATS
 * is down their counts over NATS do not arrive. */
static gboolean
addresses_in_store (NatterdServer *server)
{
  return server->cluster != NULL && g_strcmp0 (server->config->store_backend, "postgresql") == 0 &&
         server->config->login_address_limit > 0;
}

void
natterd_accounts_apply_address_failure (NatterdServer *server,
                                        JsonObject    *change)
{
  const char *host = json_object_get_string_member_with_default (change, "address", NULL);

  /* An IPv6 address is at most 45 characters. */
  if (server->accounts == NULL || host == NULL || strlen (host) > 64)
    return;
  count_address (server->config, login_address (server->accounts, host, TRUE), g_get_monotonic_time ());
}

typedef struct
{
  NatterdApiRequest *request;
  char              *user_id;
  char              *password;
  CheckDone          done;      /* on the right password */
  guint              failures;  /* wrong ones before, as the store counts them */
  gboolean           claimed;   /* the check is this node's across the cluster (NatterdLoginRead) */
  gboolean           matched;   /* the hash said so */
} PasswordCheck;

static void
release_done (NatterdRead *base,
              gpointer     user_data)
{
  /* Failed: the connection is gone, and the claim with it. */
}

/* The check of @check's account is over: another node may check it.
 * @released runs once it may. */
static void
release_check_then (PasswordCheck   *check,
                    NatterdReadFunc  released,
                    gpointer         data,
                    GDestroyNotify   destroy)
{
  NatterdApiRequest *request = check->request;
  NatterdLoginRead *read;

  check->claimed = FALSE;
  read = natterd_read_new (NATTERD_READ_LOGIN, released, data, destroy);
  read->app_id = request->app->id;
  read->user_id = g_strdup (check->user_id);
  read->release = TRUE;
  natterd_store_read (request->server->store, read);
}

static void
release_check (PasswordCheck *check)
{
  if (check->claimed)
    release_check_then (check, release_done, NULL, NULL);
}

static void
password_check_free (PasswordCheck *check)
{
  /* Whatever ended the check (e.g. the store failing on the way). */
  release_check (check);
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

/* Backoff: the answer to a wrong password comes later the more there were. */
static void
reply_wrong_password_later (NatterdApiRequest *request,
                            guint              failures)
{
  g_timeout_add_full (G_PRIORITY_DEFAULT, MIN ((guint64) request->server->config->login_backoff * failures, 5000),
                      reply_wrong_password, natterd_api_request_ref (request), natterd_api_request_unref);
}

static NatterdAccount *
check_account (NatterdApiRequest *request,
               const char        *user_id)
{
  return g_hash_table_lookup (natterd_accounts_app (request->server, request->app)->accounts, user_id);
}

static void
address_counted (NatterdOp *base,
                 gpointer   user_data)
{
  if (base->error != NULL)
    natterd_log (G_LOG_LEVEL_WARNING, "login-not-counted", "error", base->error->message, NULL);
  reply_wrong_password_later (user_data, 1);
}

static void
failure_counted (NatterdOp *base,
                 gpointer   user_data)
{
  NatterdLoginOp *op = (NatterdLoginOp *) base;
  NatterdApiRequest *request = user_data;
  NatterdAccount *account = check_account (request, op->user_id);
  guint failures = op->failures;

  if (base->error != NULL)
    {
      /* Counted here alone until the store is back. */
      natterd_log (G_LOG_LEVEL_WARNING, "login-not-counted", "error", base->error->message, NULL);
      failures = account != NULL ? ++account->failures : 1;
      if (account != NULL && failures >= MAX (1u, request->server->config->login_attempts))
        account->locked_until = op->now + op->lockout;
    }
  else if (account != NULL)
    {
      account->failures = failures;
      account->locked_until = op->locked_until;
    }
  if (account != NULL && account->locked_until > op->now && failures >= MAX (1u, op->attempts))
    natterd_log (G_LOG_LEVEL_MESSAGE, "account-locked", "app", request->app->key, "user", op->user_id, NULL);
  reply_wrong_password_later (request, MAX (1u, failures));
}

/* A login's outcome for @user_id, counted in the store every node shares
 * (NatterdLoginOp); @complete gets the count, if any. */
static void
count_login (NatterdApiRequest *request,
             const char        *user_id,
             gboolean           failed,
             NatterdOpFunc      complete)
{
  NatterdConfig *config = request->server->config;
  NatterdLoginOp *op = natterd_op_new (NATTERD_OP_LOGIN, complete,
                                       complete != NULL ? natterd_api_request_ref (request) : NULL,
                                       complete != NULL ? natterd_api_request_unref : NULL);

  op->app_id = request->app->id;
  op->user_id = g_strdup (user_id);
  op->failed = failed;
  op->attempts = config->login_attempts;
  op->now = natterd_now_ms ();
  op->lockout = (gint64) config->login_lockout * 1000;
  if (failed && addresses_in_store (request->server))
    {
      const char *host = soup_server_message_get_remote_host (request->msg);

      op->address = g_strdup (host != NULL ? host : "");
      op->address_window = (gint64) config->login_lockout * 1000;
    }
  natterd_store_submit (request->server->store, op);
}

static void
answer_check (NatterdApiRequest *request,
              PasswordCheck     *check)
{
  NatterdServer *server = request->server;
  NatterdConfig *config = server->config;
  NatterdAccount *account = check_account (request, check->user_id);
  NatterdLoginAddress *address;
  gint64 now = g_get_monotonic_time ();

  if (check->matched && account != NULL)
    {
      account->failures = 0;
      if (check->failures > 0)
        count_login (request, check->user_id, FALSE, NULL);
      check->done (request);
      return;
    }

  address = login_address (server->accounts, soup_server_message_get_remote_host (request->msg), TRUE);
  count_address (config, address, now);
  /* The other nodes count it too: a guesser spreading over them meets
   * one limit (over NATS: cheap, and while NATS is down, per node). */
  if (server->cluster != NULL)
    {
      g_autoptr(JsonBuilder) change = json_builder_new ();

      json_builder_begin_object (change);
      json_builder_set_member_name (change, "kind");
      json_builder_add_string_value (change, "login-address");
      json_builder_set_member_name (change, "address");
      json_builder_add_string_value (change, address->address);
      natterd_cluster_send_change (server->cluster, request->app, change);
    }
  if (account == NULL)
    {
      /* No account to count: the address still is, answered once stored
       * (the client's next try may go to another node). */
      if (addresses_in_store (server))
        count_login (request, NULL, TRUE, address_counted);
      else
        reply_wrong_password_later (request, 1);
      return;
    }
  count_login (request, check->user_id, TRUE, failure_counted);
}

static void
claim_released (NatterdRead *base,
                gpointer     user_data)
{
  NatterdApiRequest *request = user_data;
  PasswordCheck *check = g_object_get_data (G_OBJECT (request->msg), "natterd-password-check");

  /* Failed: the connection is gone, and the claim with it. */
  if (check != NULL)
    answer_check (request, check);
}

static void
password_checked (NatterdApiRequest *request,
                  HashJob           *job)
{
  PasswordCheck *check = g_object_get_data (G_OBJECT (request->msg), "natterd-password-check");
  NatterdAccount *account = check_account (request, check->user_id);

  if (account != NULL)
    account->checking = FALSE;
  /* A hash made for an unknown user is never a match. */
  check->matched = job->ok && job->hash != NULL;
  /* Answered once the claim is given back: whoever has an answer may
   * log in again on any node at once, not be told another check runs. */
  if (check->claimed)
    {
      release_check_then (check, claim_released, natterd_api_request_ref (request),
                          (GDestroyNotify) natterd_api_request_unref);
      return;
    }
  answer_check (request, check);
}

static void
login_read (NatterdRead *base,
            gpointer     user_data)
{
  NatterdLoginRead *read = (NatterdLoginRead *) base;
  PasswordCheck *check = user_data;
  NatterdApiRequest *request = check->request;
  NatterdAccount *account = check_account (request, check->user_id);
  const char *hash = NULL;
  gint64 now = natterd_now_ms ();

  if (base->error != NULL)
    {
      if (account != NULL)
        account->checking = FALSE;
      natterd_api_reply_error (request, NATTER_API_INTERNAL_ERROR, "The store is unavailable; try again later");
      password_check_free (check);
      return;
    }
  check->claimed = read->claimed;
  /* The client address gave too many wrong passwords, on any node. */
  if (read->address_window_end > now && read->address_failures >= request->server->config->login_address_limit &&
      request->server->config->login_address_limit > 0)
    {
      NatterdLoginAddress *address = login_address (request->server->accounts, read->address, TRUE);
      gint64 left_us = (read->address_window_end - now) * 1000;

      /* Refused here at once from now on, without a read. */
      address->failures = MAX (address->failures, read->address_failures);
      address->window_end = MAX (address->window_end, g_get_monotonic_time () + left_us);
      if (account != NULL)
        account->checking = FALSE;
      release_check (check);
      natterd_accounts_reply_retry (request, NATTER_CODE_LOGIN_BACK_OFF, left_us);
      password_check_free (check);
      return;
    }
  /* Another node checks a password of this account now. */
  if (read->busy)
    {
      if (account != NULL)
        account->checking = FALSE;
      natterd_accounts_reply_retry (request, NATTER_CODE_LOGIN_BACK_OFF, G_USEC_PER_SEC);
      password_check_free (check);
      return;
    }
  /* The store is the truth: a node that has not heard of an account made
   * on another node yet (NATS lags behind the commit) still finds its row. */
  if (read->hash != NULL && account == NULL)
    account = natterd_accounts_account (natterd_accounts_app (request->server, request->app), check->user_id);
  if (account != NULL)
    {
      /* Wrong passwords given on any node sharing the store count. */
      account->failures = read->failures;
      account->locked_until = read->locked_until;
      if (read->locked_until > now)
        {
          account->checking = FALSE;
          release_check (check);
          natterd_accounts_reply_retry (request, NATTER_CODE_ACCOUNT_LOCKED, (read->locked_until - now) * 1000);
          password_check_free (check);
          return;
        }
    }
  if (read->hash != NULL && !account->deleted)
    hash = read->hash;
  /* Cleared by the right password, a lapsed lock's count too. */
  check->failures = read->failures;

  g_object_set_data_full (G_OBJECT (request->msg), "natterd-password-check",
                          check, (GDestroyNotify) password_check_free);
  /* An unknown user costs a hash too: the time taken tells nothing. */
  run_hash (request, check->password, hash, password_checked);
}

/* Checks @password of @user_id within the lockout and backoff rules; calls
 * @done on the right one, answers every refusal itself. Lockouts are
 * counted in the store (NatterdLoginOp), so wrong passwords spread over
 * nodes sharing it lock the account as they would on one; the copy here
 * refuses a locked account without a read. */
static void
check_password (NatterdApiRequest *request,
                const char        *user_id,
                const char        *password,
                CheckDone          done)
{
  NatterdServer *server = request->server;
  NatterdAccountsApp *state = natterd_accounts_app (server, request->app);
  NatterdAccount *account = NULL;
  NatterdLoginAddress *address = login_address (server->accounts, soup_server_message_get_remote_host (request->msg),
                                                 FALSE);
  NatterdLoginRead *read;
  PasswordCheck *check;
  gint64 now = g_get_monotonic_time ();

  if (address != NULL && address->window_end > now && address->failures >= server->config->login_address_limit &&
      server->config->login_address_limit > 0)
    {
      natterd_accounts_reply_retry (request, NATTER_CODE_LOGIN_BACK_OFF, address->window_end - now);
      return;
    }
  if (natterd_directory_lookup_user (request->app, user_id) != NULL)
    account = natterd_accounts_account (state, user_id);
  if (account != NULL && account->locked_until > natterd_now_ms ())
    {
      natterd_accounts_reply_retry (request, NATTER_CODE_ACCOUNT_LOCKED,
                                    (account->locked_until - natterd_now_ms ()) * 1000);
      return;
    }
  if (account != NULL && account->checking)
    {
      natterd_accounts_reply_retry (request, NATTER_CODE_LOGIN_BACK_OFF, G_USEC_PER_SEC);
      return;
    }
  if (account != NULL)
    account->checking = TRUE;

  check = g_new0 (PasswordCheck, 1);
  check->request = natterd_api_request_ref (request);
  check->user_id = g_strdup (user_id);
  check->password = g_strdup (password);
  check->done = done;
  read = natterd_read_new (NATTERD_READ_LOGIN, login_read, check, NULL);
  read->app_id = request->app->id;
  read->user_id = g_strdup (user_id);
  if (addresses_in_store (server))
    read->address = g_strdup (soup_server_message_get_remote_host (request->msg));
  natterd_store_read (server->store, read);
}

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
  natterd_accounts_add_account_row (op, request->app, natterd_api_param (request, "userId"), &fresh);
  natterd_accounts_touch (request->server->accounts, op->rows);
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
login_checked (NatterdApiRequest *request)
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
  NatterdAccount *account = natterd_accounts_account (natterd_accounts_app (request->server, request->app),
                                                      user->user_id);
  NatterdAccountOp *op = natterd_accounts_op_new ();
  g_autofree char *patch = NULL;

  /* Refused with 31004 from now on (31020 where another node has not
   * heard of it yet: the user row says they expired). */
  account->revoked_before = now;
  user->tokens_revoked_after = now;
  patch = g_strdup_printf ("{\"revokedBefore\":%" G_GINT64_FORMAT "}", now);
  natterd_accounts_add_account_patch (op, request->app, user->user_id, account, patch);
  natterd_accounts_submit (request, op);
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
old_password_checked (NatterdApiRequest *request)
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
delete_checked (NatterdApiRequest *request)
{
  NatterdUser *user = natterd_account_user (request);
  NatterdAccount *account = natterd_accounts_account (natterd_accounts_app (request->server, request->app),
                                                      user->user_id);
  NatterdAccountOp *op = natterd_accounts_op_new ();

  account->deleted = TRUE;
  natterd_account_op_add (op, request->app->id, "password", user->user_id, "", NULL);
  natterd_accounts_add_account_patch (op, request->app, user->user_id, account, "{\"deleted\":true}");
  natterd_accounts_submit (request, op);
  revoke_tokens (request, user, natterd_now_ms ());
  /* No group keeps a deleted account, nor one it owned without an owner. */
  natterd_accounts_leave_groups (request);
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

const NatterdAccountRoute natterd_account_password_routes[] = {
  { "register", TRUE, FALSE, account_register },
  { "login", TRUE, FALSE, account_login },
  { "password", TRUE, TRUE, account_password },
  { "delete", TRUE, TRUE, account_delete },
  { NULL, FALSE, FALSE, NULL }
};

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
