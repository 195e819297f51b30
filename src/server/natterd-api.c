/* natterd-api.c — the server API for the app's own server: its transport
 *
 * POST /<path>.json, form-encoded, signed with App-Key, Nonce, Timestamp and
 * Signature = hex SHA1(secret + nonce + timestamp) (also with an RC- prefix;
 * after natterd --rotate-secret the old secret too, for [server]
 * secret-grace),
 * replies {"code":200,...} or {"code":N,"errorMessage":"..."}: the RongCloud
 * server API shape, so an app server written for it works by changing the
 * host. Every change is committed before the reply.
 *
 * This file is the transport: a libsoup handler per path, the body
 * (collected by hand, bounded), the signature and its nonce, the app's
 * rate, form parameters, and replies, including ones that wait for several
 * store ops (parts). What each path does is in natterd-api-users.c,
 * -messages.c, -groups.c and -chatrooms.c (natterd-api-private.h).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-api-private.h"

#include "natterd-crypto.h"
#include "natterd-log.h"
#include "natterd-parse-private.h"

#include <string.h>

#define API_BODY_MAX (4 * 1024 * 1024)
#define SIGNATURE_WINDOW_S (5 * 60)
#define NONCE_MAX_LENGTH 128

NatterdApiRequest *
natterd_api_request_ref (NatterdApiRequest *request)
{
  g_atomic_ref_count_inc (&request->ref_count);
  return request;
}

void
natterd_api_request_unref (gpointer data)
{
  NatterdApiRequest *request = data;

  if (!g_atomic_ref_count_dec (&request->ref_count))
    return;
  g_object_unref (request->msg);
  g_object_unref (request->server);
  g_free (request->path);
  g_clear_pointer (&request->names, g_ptr_array_unref);
  g_clear_pointer (&request->values, g_ptr_array_unref);
  g_free (request->error_message);
  g_clear_object (&request->builder);
  g_free (request);
}

/* ------------------------------------------------------------------ replies */

static guint
http_status_for (int code)
{
  switch (code)
    {
    case NATTER_API_OK: return SOUP_STATUS_OK;
    case NATTER_API_INTERNAL_ERROR: return SOUP_STATUS_INTERNAL_SERVER_ERROR;
    case NATTER_API_APP_SECRET_MISMATCH:
    case NATTER_API_SIGNATURE_ERROR: return SOUP_STATUS_UNAUTHORIZED;
    case NATTER_API_LENGTH_OVER_LIMIT: return SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE;
    case NATTER_API_RATE_LIMITED: return 429;
    default: return SOUP_STATUS_BAD_REQUEST;
    }
}

static void
send_json (NatterdApiRequest *request,
           guint              status,
           JsonNode          *root)
{
  char *body;

  if (request->replied)
    return;
  request->replied = TRUE;
  body = json_to_string (root, FALSE);
  soup_server_message_set_status (request->msg, status, NULL);
  soup_server_message_set_response (request->msg, "application/json; charset=utf-8",
                                    SOUP_MEMORY_TAKE, body, strlen (body));
  soup_server_message_unpause (request->msg);
}

static void
reply_error_status (NatterdApiRequest *request,
                    guint              status,
                    int                code,
                    const char        *message)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  char code_text[16];

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "code");
  json_builder_add_int_value (builder, code);
  json_builder_set_member_name (builder, "errorMessage");
  json_builder_add_string_value (builder, message != NULL ? message : natter_code_to_string (code));
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);

  request->server->metrics->api_errors++;
  g_snprintf (code_text, sizeof code_text, "%d", code);
  natterd_log (G_LOG_LEVEL_INFO, "api-error", "path", request->path,
               "app", request->app != NULL ? request->app->key : NULL,
               "code", code_text, "reason", message, NULL);
  send_json (request, status != 0 ? status : http_status_for (code), root);
}

void
natterd_api_reply_error (NatterdApiRequest *request,
                         int                code,
                         const char        *message)
{
  reply_error_status (request, 0, code, message);
}

/* Starts a success body: {"code":200, then the handler adds members. */
JsonBuilder *
natterd_api_ok_body (NatterdApiRequest *request)
{
  if (request->builder == NULL)
    {
      request->builder = json_builder_new ();
      json_builder_begin_object (request->builder);
      json_builder_set_member_name (request->builder, "code");
      json_builder_add_int_value (request->builder, NATTER_API_OK);
    }
  return request->builder;
}

void
natterd_api_reply_ok (NatterdApiRequest *request)
{
  JsonBuilder *builder = natterd_api_ok_body (request);
  g_autoptr(JsonNode) root = NULL;

  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  send_json (request, SOUP_STATUS_OK, root);
}

/* Async parts: each began with begin_part() and ends with end_part(); the
 * reply goes out when the last one ends. */
void
natterd_api_begin_part (NatterdApiRequest *request)
{
  request->pending++;
}

void
natterd_api_fail_part (NatterdApiRequest *request,
                       int                code,
                       const char        *message)
{
  if (request->error_code == 0)
    {
      request->error_code = code;
      request->error_message = g_strdup (message);
    }
}

void
natterd_api_end_part (NatterdApiRequest *request)
{
  g_assert (request->pending > 0);
  if (--request->pending > 0)
    return;

  if (request->error_code != 0)
    natterd_api_reply_error (request, request->error_code, request->error_message);
  else
    natterd_api_reply_ok (request);
}

void
natterd_api_part_committed (NatterdOp *op,
                            gpointer   user_data)
{
  NatterdApiRequest *request = user_data;

  /* User rows reach the other nodes from natterd_server_save_user(). */
  if (op->error == NULL && request->server->cluster != NULL && request->app != NULL &&
      op->kind != NATTERD_OP_USER)
    natterd_server_cluster_committed (request->server, request->app, op);
  if (natterd_store_error_is_full (op->error))
    {
      /* The store logs running out of space once, not per request. */
      natterd_api_fail_part (request, NATTER_API_INTERNAL_ERROR, "Out of storage space; try again later");
    }
  else if (op->error != NULL)
    {
      natterd_log (G_LOG_LEVEL_WARNING, "store-failed", "path", request->path,
                   "error", op->error->message, NULL);
      natterd_api_fail_part (request, NATTER_API_INTERNAL_ERROR, "Could not store the change");
    }
  natterd_api_end_part (request);
}

/* Submits @op as a part of @request; @complete ends the part. */
void
natterd_api_submit_part_full (NatterdApiRequest *request,
                              gpointer           op,
                              NatterdOpFunc      complete)
{
  ((NatterdOp *) op)->complete = complete;
  ((NatterdOp *) op)->user_data = natterd_api_request_ref (request);
  ((NatterdOp *) op)->destroy = natterd_api_request_unref;
  natterd_api_begin_part (request);
  natterd_store_submit (request->server->store, op);
}

void
natterd_api_submit_part (NatterdApiRequest *request,
                         gpointer           op)
{
  natterd_api_submit_part_full (request, op, natterd_api_part_committed);
}

/* Replies once every part submitted so far is durable. */
void
natterd_api_finish_when_stored (NatterdApiRequest *request)
{
  natterd_api_submit_part (request, natterd_op_new (NATTERD_OP_BARRIER, NULL, NULL, NULL));
}

/* ------------------------------------------------------------------ params */

/* GLib's form parser: '+' is a space, every pair is name=value, and a bad
 * %-escape or what decodes to anything but UTF-8 (a NUL included) fails
 * the whole body. */
gboolean
natterd_api_parse_form (GBytes    *body,
                        GPtrArray *names,
                        GPtrArray *values)
{
  gsize size;
  const char *data = g_bytes_get_data (body, &size);
  g_autoptr(GError) error = NULL;
  GUriParamsIter iter;
  char *name, *value;

  if (size == 0)
    return TRUE;
  g_uri_params_iter_init (&iter, data, (gssize) size, "&", G_URI_PARAMS_WWW_FORM);
  while (g_uri_params_iter_next (&iter, &name, &value, &error))
    {
      g_ptr_array_add (names, name);
      g_ptr_array_add (values, value);
    }
  return error == NULL;
}

static gboolean
parse_form (NatterdApiRequest *request,
            GBytes            *body)
{
  request->names = g_ptr_array_new_with_free_func (g_free);
  request->values = g_ptr_array_new_with_free_func (g_free);
  return natterd_api_parse_form (body, request->names, request->values);
}

const char *
natterd_api_param (NatterdApiRequest *request,
                   const char        *name)
{
  for (guint i = 0; i < request->names->len; i++)
    if (g_str_equal (g_ptr_array_index (request->names, i), name))
      return g_ptr_array_index (request->values, i);
  return NULL;
}

/* Every value of a repeated name, borrowed. */
GPtrArray *
natterd_api_params (NatterdApiRequest *request,
                    const char        *name)
{
  GPtrArray *out = g_ptr_array_new ();

  for (guint i = 0; i < request->names->len; i++)
    if (g_str_equal (g_ptr_array_index (request->names, i), name))
      g_ptr_array_add (out, g_ptr_array_index (request->values, i));
  return out;
}

gboolean
natterd_api_check_id (NatterdApiRequest *request,
                      const char        *name,
                      const char        *value)
{
  g_autofree char *message = NULL;

  if (value == NULL || *value == '\0')
    message = g_strdup_printf ("%s is required", name);
  else if (strlen (value) > NATTER_ID_MAX_LENGTH)
    {
      message = g_strdup_printf ("%s is longer than %d bytes", name, NATTER_ID_MAX_LENGTH);
      natterd_api_reply_error (request, NATTER_API_LENGTH_OVER_LIMIT, message);
      return FALSE;
    }
  else if (!natter_id_is_valid (value))
    message = g_strdup_printf ("%s may only hold letters, digits and _.@=+-", name);
  else
    return TRUE;

  natterd_api_reply_error (request, NATTER_API_BAD_PARAMETER, message);
  return FALSE;
}

/* A required id parameter. */
const char *
natterd_api_require_id (NatterdApiRequest *request,
                        const char        *name)
{
  const char *value = natterd_api_param (request, name);

  return natterd_api_check_id (request, name, value) ? value : NULL;
}

/* A repeated id parameter with 1..@max values. */
GPtrArray *
natterd_api_require_ids (NatterdApiRequest *request,
                         const char        *name,
                         guint              max)
{
  g_autoptr(GPtrArray) values = natterd_api_params (request, name);
  g_autofree char *message = NULL;

  if (values->len == 0)
    {
      message = g_strdup_printf ("%s is required", name);
      natterd_api_reply_error (request, NATTER_API_BAD_PARAMETER, message);
      return NULL;
    }
  if (values->len > max)
    {
      message = g_strdup_printf ("At most %u %s", max, name);
      natterd_api_reply_error (request, NATTER_API_COUNT_OVER_LIMIT, message);
      return NULL;
    }
  for (guint i = 0; i < values->len; i++)
    if (!natterd_api_check_id (request, name, g_ptr_array_index (values, i)))
      return NULL;
  return g_steal_pointer (&values);
}

gboolean
natterd_api_optional_text (NatterdApiRequest  *request,
                           const char         *name,
                           gsize               max,
                           const char        **out)
{
  const char *value = natterd_api_param (request, name);

  *out = value;
  if (value != NULL && strlen (value) > max)
    {
      g_autofree char *message = g_strdup_printf ("%s is longer than %" G_GSIZE_FORMAT " bytes",
                                                  name, max);
      natterd_api_reply_error (request, NATTER_API_LENGTH_OVER_LIMIT, message);
      return FALSE;
    }
  return TRUE;
}

/* An integer parameter in [min, max]; @fallback when absent (or required
 * when @required). */
gboolean
natterd_api_int_param (NatterdApiRequest *request,
                       const char        *name,
                       gint64             min,
                       gint64             max,
                       gboolean           required,
                       gint64             fallback,
                       gint64            *out)
{
  const char *value = natterd_api_param (request, name);
  g_autofree char *message = NULL;

  if (value == NULL || *value == '\0')
    {
      if (!required)
        {
          *out = fallback;
          return TRUE;
        }
      message = g_strdup_printf ("%s is required", name);
      natterd_api_reply_error (request, NATTER_API_BAD_PARAMETER, message);
      return FALSE;
    }

  if (!g_ascii_string_to_signed (value, 10, G_MININT64, G_MAXINT64, out, NULL))
    {
      message = g_strdup_printf ("%s must be an integer", name);
      natterd_api_reply_error (request, NATTER_API_WRONG_PARAMETER_TYPE, message);
      return FALSE;
    }
  if (*out < min || *out > max)
    {
      message = g_strdup_printf ("%s must be between %" G_GINT64_FORMAT " and %" G_GINT64_FORMAT,
                                 name, min, max);
      natterd_api_reply_error (request, NATTER_API_BAD_PARAMETER, message);
      return FALSE;
    }
  return TRUE;
}

char *
natterd_api_format_time (gint64 ms)
{
  g_autoptr(GDateTime) time = g_date_time_new_from_unix_local (ms / 1000);

  return g_date_time_format (time, "%Y-%m-%d %H:%M:%S");
}

/* ------------------------------------------------------------------ routing */


static const char *
header (SoupMessageHeaders *headers,
        const char         *name)
{
  g_autofree char *prefixed = g_strconcat ("RC-", name, NULL);
  const char *value = soup_message_headers_get_one (headers, name);

  return value != NULL ? value : soup_message_headers_get_one (headers, prefixed);
}

static gboolean
check_rate (NatterdServer *self,
            NatterdApp    *app)
{
  double rate = app->settings.api_rate >= 0 ? (double) app->settings.api_rate : (double) self->config->api_rate;
  gint64 now = g_get_monotonic_time ();

  if (rate <= 0)
    return TRUE;
  if (app->api_refill == 0)
    app->api_tokens = rate;
  else
    app->api_tokens = MIN (rate, app->api_tokens + (double) (now - app->api_refill) * rate / G_USEC_PER_SEC);
  app->api_refill = now;
  if (app->api_tokens < 1)
    return FALSE;
  app->api_tokens -= 1;
  return TRUE;
}

static void
nonce_stored (NatterdOp *op,
              gpointer   user_data)
{
  if (op->error != NULL && !natterd_store_error_is_full (op->error))
    natterd_log (G_LOG_LEVEL_WARNING, "nonce-not-stored", "error", op->error->message, NULL);
}

/* The nonce is refused from now on (until @expires, Unix s: past it the
 * timestamp is refused): in memory at once, and on disk through the
 * returned op, which goes to the store before whatever the request changes.
 * A request that changed something (answered once that was durable) thus
 * has its nonce on disk too; reads are not made to wait for a commit. */
static NatterdNonceOp *
remember_nonce (NatterdApiRequest *request,
                const char        *nonce,
                gint64             expires)
{
  NatterdApp *app = request->app;
  NatterdNonceOp *op = natterd_op_new (NATTERD_OP_NONCE, nonce_stored, NULL, NULL);

  g_hash_table_insert (app->nonces, g_strdup (nonce), g_memdup2 (&expires, sizeof expires));
  op->app_id = app->id;
  op->nonce = g_strdup (nonce);
  op->expires = expires;
  return op;
}

/* Signature, time window, nonce: 0 or the code to refuse with; @nonce_op
 * is the nonce to store (NULL when the app allows reused nonces). */
static int
check_signature (NatterdApiRequest  *request,
                 NatterdNonceOp    **nonce_op,
                 const char        **reason)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (request->msg);
  const char *nonce = header (headers, "Nonce");
  const char *timestamp = header (headers, "Timestamp");
  const char *signature = header (headers, "Signature");
  NatterdApp *app = request->app;
  g_autofree char *given = NULL;
  const char *secrets[2];
  guint n_secrets;
  gboolean matched = FALSE;
  gint64 stamp;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  if (nonce == NULL || timestamp == NULL || signature == NULL || *nonce == '\0')
    {
      *reason = "Nonce, Timestamp and Signature headers are required";
      return NATTER_API_SIGNATURE_ERROR;
    }
  if (strlen (nonce) > NONCE_MAX_LENGTH)
    {
      *reason = "Nonce is too long";
      return NATTER_API_SIGNATURE_ERROR;
    }
  /* A webhook signed the RongCloud way, replayed here (even for apps that
   * allow reused nonces). */
  if (g_str_has_prefix (nonce, NATTERD_WEBHOOK_NONCE_PREFIX))
    {
      *reason = "Nonce is reserved for webhooks";
      return NATTER_API_SIGNATURE_ERROR;
    }

  /* The current secret, or the one before it while its grace period
   * after natterd --rotate-secret lasts; every candidate is computed and
   * compared in full, so the time taken says nothing about either. */
  given = g_ascii_strdown (signature, -1);
  n_secrets = natterd_app_get_secrets (app, natterd_now_ms (), secrets);
  for (guint i = 0; i < n_secrets; i++)
    {
      g_autofree char *input = g_strconcat (secrets[i], nonce, timestamp, NULL);
      g_autofree char *expected = g_compute_checksum_for_string (G_CHECKSUM_SHA1, input, -1);

      matched |= natterd_secret_str_equal (expected, given);
    }
  if (!matched)
    {
      *reason = "Signature does not match";
      return NATTER_API_SIGNATURE_ERROR;
    }

  if (app->settings.allow_reused_nonce)
    return NATTER_API_OK;

  if (!g_ascii_string_to_signed (timestamp, 10, 0, G_MAXINT64, &stamp, NULL))
    {
      *reason = "Timestamp must be seconds or milliseconds since 1970";
      return NATTER_API_SIGNATURE_ERROR;
    }
  if (stamp > G_GINT64_CONSTANT (100000000000))
    stamp /= 1000;
  if (ABS (now - stamp) > SIGNATURE_WINDOW_S)
    {
      *reason = "Timestamp outside the 5 minute window";
      return NATTER_API_SIGNATURE_ERROR;
    }

  if (g_hash_table_contains (app->nonces, nonce))
    {
      *reason = "Nonce already used";
      return NATTER_API_SIGNATURE_ERROR;
    }
  *nonce_op = remember_nonce (request, nonce, MAX (stamp, now) + SIGNATURE_WINDOW_S);
  return NATTER_API_OK;
}

void
natterd_server_prune_nonces (NatterdServer *self)
{
  static gint64 last;
  gint64 now = g_get_monotonic_time ();
  gint64 wall = g_get_real_time () / G_USEC_PER_SEC;
  GList *apps;

  if (now - last < 10 * G_USEC_PER_SEC)
    return;
  last = now;

  /* The store forgets them too, in natterd-server.c's prune. */
  apps = natterd_directory_get_apps (self->directory);
  for (GList *l = apps; l != NULL; l = l->next)
    {
      NatterdApp *app = l->data;
      GHashTableIter iter;
      gint64 *expires;

      g_hash_table_iter_init (&iter, app->nonces);
      while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &expires))
        if (*expires < wall)
          g_hash_table_iter_remove (&iter);
    }
  g_list_free (apps);
}

/* The body is collected here, at most API_BODY_MAX of it, instead of
 * libsoup holding whatever a client sends in memory. */
typedef struct
{
  GByteArray *data;
  gboolean    too_large;
} ApiBody;

static void
api_body_free (gpointer data)
{
  ApiBody *body = data;

  g_byte_array_unref (body->data);
  g_free (body);
}

/* After the signature: the app's state, the rate, the body, the handler. */
static void
run_handler (NatterdServer     *self,
             NatterdApiRequest *request)
{
  NatterdApp *app = request->app;
  ApiBody *collected;
  g_autoptr(GBytes) bytes = NULL;

  if (app->settings.blocked)
    {
      natterd_api_reply_error (request, NATTER_API_APP_SECRET_MISMATCH, "App blocked");
      return;
    }
  if (!check_rate (self, app))
    {
      natterd_api_reply_error (request, NATTER_API_RATE_LIMITED, "Too many requests");
      return;
    }

  collected = g_object_get_data (G_OBJECT (request->msg), "natterd-api-body");
  if (collected == NULL)
    bytes = soup_message_body_flatten (soup_server_message_get_request_body (request->msg));
  else if (collected->too_large)
    {
      natterd_api_reply_error (request, NATTER_API_LENGTH_OVER_LIMIT, "The body is too large");
      return;
    }
  else
    bytes = g_bytes_new (collected->data->data, collected->data->len);
  if (g_bytes_get_size (bytes) == 0)
    {
      natterd_api_reply_error (request, NATTER_API_NO_POST_DATA, "No POST data");
      return;
    }
  if (!parse_form (request, bytes))
    {
      natterd_api_reply_error (request, NATTER_API_BAD_PARAMETER,
                               "The body is not form data (name=value pairs, %-escaped UTF-8)");
      return;
    }

  request->handler (request);
}

static void
nonce_checked (NatterdOp *op,
               gpointer   user_data)
{
  NatterdApiRequest *request = user_data;

  if (natterd_store_error_is_full (op->error))
    natterd_api_reply_error (request, NATTER_API_INTERNAL_ERROR, "The store is unavailable; try again later");
  else if (op->error != NULL)
    {
      natterd_log (G_LOG_LEVEL_WARNING, "nonce-not-stored", "error", op->error->message, NULL);
      natterd_api_reply_error (request, NATTER_API_INTERNAL_ERROR, "Could not store the nonce");
    }
  else if (((NatterdNonceOp *) op)->duplicate)
    natterd_api_reply_error (request, NATTER_API_SIGNATURE_ERROR, "Nonce already used");
  else
    run_handler (request->server, request);
}

static void
dispatch_with_app (NatterdServer *self,
                   NatterdApp    *app,
                   gpointer       user_data)
{
  NatterdApiRequest *request = user_data;
  NatterdNonceOp *nonce_op = NULL;
  const char *reason = NULL;
  int code;

  request->app = app;
  if (app == NULL)
    {
      natterd_api_reply_error (request, NATTER_API_APP_SECRET_MISMATCH, "Unknown App-Key");
      return;
    }

  code = check_signature (request, &nonce_op, &reason);
  if (code != NATTER_API_OK)
    {
      natterd_api_reply_error (request, code, reason);
      return;
    }

  /* A store other nodes share: only it knows whether another node took
   * the nonce, so the request waits for the nonce's commit. */
  if (nonce_op != NULL && g_str_equal (self->config->store_backend, "postgresql"))
    {
      nonce_op->base.complete = nonce_checked;
      nonce_op->base.user_data = natterd_api_request_ref (request);
      nonce_op->base.destroy = (GDestroyNotify) natterd_api_request_unref;
      natterd_store_submit (self->store, nonce_op);
      return;
    }

  /* The nonce goes first, and in one commit with what the handler
   * changes at once (one fsync, not two). */
  natterd_store_hold (self->store);
  if (nonce_op != NULL)
    natterd_store_submit (self->store, nonce_op);
  run_handler (self, request);
  natterd_store_release (self->store);
}

static void
on_api_chunk (SoupServerMessage *msg,
              GBytes            *chunk,
              gpointer           user_data)
{
  ApiBody *body = user_data;
  gsize size;
  const guint8 *data = g_bytes_get_data (chunk, &size);

  if (body->too_large || body->data->len + size > API_BODY_MAX)
    {
      body->too_large = TRUE;
      return;
    }
  g_byte_array_append (body->data, data, (guint) size);
}

static void
on_request_early (SoupServer        *server,
                  SoupServerMessage *msg,
                  const char        *path,
                  GHashTable        *query,
                  gpointer           user_data)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  ApiBody *body;

  /* libsoup still reads a refused body before answering: it is dropped
   * chunk by chunk instead of being kept. */
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);

  if (soup_message_headers_get_content_length (headers) > API_BODY_MAX)
    {
      const char *reply = "{\"code\":1005,\"errorMessage\":\"The body is too large\"}";

      soup_server_message_set_status (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, NULL);
      soup_server_message_set_response (msg, "application/json; charset=utf-8", SOUP_MEMORY_STATIC,
                                        reply, strlen (reply));
      return;
    }

  body = g_new0 (ApiBody, 1);
  body->data = g_byte_array_new ();
  g_signal_connect (msg, "got-chunk", G_CALLBACK (on_api_chunk), body);
  g_object_set_data_full (G_OBJECT (msg), "natterd-api-body", body, api_body_free);
}

static NatterdApiRequest *
request_new (NatterdServer     *server,
             SoupServerMessage *msg,
             const char        *path)
{
  NatterdApiRequest *request = g_new0 (NatterdApiRequest, 1);

  g_atomic_ref_count_init (&request->ref_count);
  request->server = g_object_ref (server);
  request->msg = g_object_ref (msg);
  request->path = g_strdup (path);
  soup_server_message_pause (msg);
  server->metrics->api_requests++;
  return request;
}

/* One path: what natterd_server_setup_api() registered its handler with. */
typedef struct
{
  NatterdServer     *server;
  char              *path;      /* "/user/getToken.json" */
  NatterdApiHandler  handler;
} Route;

static void
route_free (gpointer data)
{
  Route *route = data;

  g_free (route->path);
  g_free (route);
}

static void
on_request (SoupServer        *soup,
            SoupServerMessage *msg,
            const char        *path,
            GHashTable        *query,
            gpointer           user_data)
{
  Route *route = user_data;
  NatterdServer *self = route->server;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  NatterdApiRequest *request = request_new (self, msg, path);

  /* libsoup hands a handler the paths below its own too
   * ("/user/block.json/query"): those are not API paths. */
  if (!g_str_equal (path, route->path))
    {
      reply_error_status (request, SOUP_STATUS_NOT_FOUND, NATTER_API_BAD_PARAMETER,
                          "Unknown API path");
    }
  else if (soup_server_message_get_method (msg) != SOUP_METHOD_POST)
    {
      reply_error_status (request, SOUP_STATUS_METHOD_NOT_ALLOWED, NATTER_API_BAD_PARAMETER,
                          "Use POST");
    }
  else
    {
      const char *app_key = header (headers, "App-Key");

      request->handler = route->handler;
      natterd_server_with_app (self, app_key, dispatch_with_app, natterd_api_request_ref (request),
                               natterd_api_request_unref);
    }

  natterd_api_request_unref (request);
}

/* Whatever path no handler took: the API answers it. */
static void
on_unknown_path (SoupServer        *soup,
                 SoupServerMessage *msg,
                 const char        *path,
                 GHashTable        *query,
                 gpointer           user_data)
{
  NatterdApiRequest *request = request_new (user_data, msg, path);

  reply_error_status (request, SOUP_STATUS_NOT_FOUND, NATTER_API_BAD_PARAMETER, "Unknown API path");
  natterd_api_request_unref (request);
}

void
natterd_server_setup_api (NatterdServer *self)
{
  static const NatterdApiRoute * const tables[] = {
    natterd_api_user_routes,
    natterd_api_message_routes,
    natterd_api_group_routes,
    natterd_api_chatroom_routes,
    natterd_api_account_routes,
  };

  /* libsoup runs the early handler registered with the path it routes a
   * request to: every API path (and "/", the unknown ones) collects its
   * body itself (on_request_early()). */
  soup_server_add_early_handler (self->soup, "/", on_request_early, self, NULL);
  soup_server_add_handler (self->soup, "/", on_unknown_path, self, NULL);
  for (guint t = 0; t < G_N_ELEMENTS (tables); t++)
    for (const NatterdApiRoute *r = tables[t]; r->path != NULL; r++)
      {
        Route *route = g_new0 (Route, 1);

        route->server = self;
        route->path = g_strconcat ("/", r->path, ".json", NULL);
        route->handler = r->handler;
        soup_server_add_early_handler (self->soup, route->path, on_request_early, self, NULL);
        soup_server_add_handler (self->soup, route->path, on_request, route, route_free);
      }
}
