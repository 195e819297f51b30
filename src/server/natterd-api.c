/* natterd-api.c — the server API for the app's own server
 *
 * POST /<path>.json, form-encoded, signed with App-Key, Nonce, Timestamp and
 * Signature = hex SHA1(secret + nonce + timestamp) (also with an RC- prefix;
 * after natterd --rotate-secret the old secret too, for [server]
 * secret-grace),
 * replies {"code":200,...} or {"code":N,"errorMessage":"..."}: the RongCloud
 * server API shape, so an app server written for it works by changing the
 * host. Every change is committed before the reply.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-server-private.h"

#include "natterd-crypto.h"
#include "natterd-log.h"
#include "natterd-parse-private.h"

#include <json-glib/json-glib.h>
#include <string.h>

#define API_BODY_MAX (4 * 1024 * 1024)
#define SIGNATURE_WINDOW_S (5 * 60)
#define NONCE_MAX_LENGTH 128

#define MAX_USERS_PER_CALL 1000
#define MAX_TOKEN_EXPIRE_USERS 20
#define MAX_GROUPS_PER_PUBLISH 3
#define MAX_CHATROOMS_PER_CALL 50
#define GAG_MAX_MINUTES 43200

typedef struct _ApiRequest ApiRequest;
typedef void (*ApiHandler) (ApiRequest *request);

struct _ApiRequest
{
  gatomicrefcount    ref_count;
  NatterdServer     *server;
  SoupServerMessage *msg;
  char              *path;
  NatterdApp        *app;
  GPtrArray         *names;
  GPtrArray         *values;
  ApiHandler         handler;
  gboolean           replied;
  int                error_code;      /* first failure of async parts */
  char              *error_message;
  guint              pending;         /* async parts still running */
  JsonBuilder       *builder;         /* success body under construction */
};

static ApiRequest *
api_request_ref (ApiRequest *request)
{
  g_atomic_ref_count_inc (&request->ref_count);
  return request;
}

static void
api_request_unref (gpointer data)
{
  ApiRequest *request = data;

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
send_json (ApiRequest *request,
           guint       status,
           JsonNode   *root)
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
reply_error_status (ApiRequest *request,
                    guint       status,
                    int         code,
                    const char *message)
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

static void
reply_error (ApiRequest *request,
             int         code,
             const char *message)
{
  reply_error_status (request, 0, code, message);
}

/* Starts a success body: {"code":200, then the handler adds members. */
static JsonBuilder *
ok_body (ApiRequest *request)
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

static void
reply_ok (ApiRequest *request)
{
  JsonBuilder *builder = ok_body (request);
  g_autoptr(JsonNode) root = NULL;

  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  send_json (request, SOUP_STATUS_OK, root);
}

/* Async parts: each began with begin_part() and ends with end_part(); the
 * reply goes out when the last one ends. */
static void
begin_part (ApiRequest *request)
{
  request->pending++;
}

static void
fail_part (ApiRequest *request,
           int         code,
           const char *message)
{
  if (request->error_code == 0)
    {
      request->error_code = code;
      request->error_message = g_strdup (message);
    }
}

static void
end_part (ApiRequest *request)
{
  g_assert (request->pending > 0);
  if (--request->pending > 0)
    return;

  if (request->error_code != 0)
    reply_error (request, request->error_code, request->error_message);
  else
    reply_ok (request);
}

static void
part_committed (NatterdOp *op,
                gpointer   user_data)
{
  ApiRequest *request = user_data;

  if (natterd_store_error_is_full (op->error))
    {
      /* The store logs running out of space once, not per request. */
      fail_part (request, NATTER_API_INTERNAL_ERROR, "Out of storage space; try again later");
    }
  else if (op->error != NULL)
    {
      natterd_log (G_LOG_LEVEL_WARNING, "store-failed", "path", request->path,
                   "error", op->error->message, NULL);
      fail_part (request, NATTER_API_INTERNAL_ERROR, "Could not store the change");
    }
  end_part (request);
}

/* Submits @op as a part of @request; @complete ends the part. */
static void
submit_part_full (ApiRequest    *request,
                  gpointer       op,
                  NatterdOpFunc  complete)
{
  ((NatterdOp *) op)->complete = complete;
  ((NatterdOp *) op)->user_data = api_request_ref (request);
  ((NatterdOp *) op)->destroy = api_request_unref;
  begin_part (request);
  natterd_store_submit (request->server->store, op);
}

static void
submit_part (ApiRequest *request,
             gpointer    op)
{
  submit_part_full (request, op, part_committed);
}

/* Replies once every part submitted so far is durable. */
static void
finish_when_stored (ApiRequest *request)
{
  submit_part (request, natterd_op_new (NATTERD_OP_BARRIER, NULL, NULL, NULL));
}

/* ------------------------------------------------------------------ params */

gboolean
natterd_api_parse_form (GBytes    *body,
                        GPtrArray *names,
                        GPtrArray *values)
{
  gsize size;
  const char *data = g_bytes_get_data (body, &size);
  g_autofree char *text = g_strndup (data, size);
  g_auto(GStrv) pairs = g_strsplit (text, "&", -1);

  for (guint i = 0; pairs[i] != NULL; i++)
    {
      char *eq;
      char *name, *value;

      if (*pairs[i] == '\0')
        continue;
      for (char *p = pairs[i]; *p != '\0'; p++)
        if (*p == '+')
          *p = ' ';
      eq = strchr (pairs[i], '=');
      if (eq != NULL)
        *eq = '\0';
      name = g_uri_unescape_string (pairs[i], NULL);
      value = g_uri_unescape_string (eq != NULL ? eq + 1 : "", NULL);
      if (name == NULL || value == NULL || !g_utf8_validate (name, -1, NULL) ||
          !g_utf8_validate (value, -1, NULL))
        {
          g_free (name);
          g_free (value);
          return FALSE;
        }
      g_ptr_array_add (names, name);
      g_ptr_array_add (values, value);
    }
  return TRUE;
}

static gboolean
parse_form (ApiRequest *request,
            GBytes     *body)
{
  request->names = g_ptr_array_new_with_free_func (g_free);
  request->values = g_ptr_array_new_with_free_func (g_free);
  return natterd_api_parse_form (body, request->names, request->values);
}

static const char *
param (ApiRequest *request,
       const char *name)
{
  for (guint i = 0; i < request->names->len; i++)
    if (g_str_equal (g_ptr_array_index (request->names, i), name))
      return g_ptr_array_index (request->values, i);
  return NULL;
}

/* Every value of a repeated name, borrowed. */
static GPtrArray *
params (ApiRequest *request,
        const char *name)
{
  GPtrArray *out = g_ptr_array_new ();

  for (guint i = 0; i < request->names->len; i++)
    if (g_str_equal (g_ptr_array_index (request->names, i), name))
      g_ptr_array_add (out, g_ptr_array_index (request->values, i));
  return out;
}

static gboolean
check_id (ApiRequest *request,
          const char *name,
          const char *value)
{
  g_autofree char *message = NULL;

  if (value == NULL || *value == '\0')
    message = g_strdup_printf ("%s is required", name);
  else if (strlen (value) > NATTER_ID_MAX_LENGTH)
    {
      message = g_strdup_printf ("%s is longer than %d bytes", name, NATTER_ID_MAX_LENGTH);
      reply_error (request, NATTER_API_LENGTH_OVER_LIMIT, message);
      return FALSE;
    }
  else if (!natter_id_is_valid (value))
    message = g_strdup_printf ("%s may only hold letters, digits and _.@=+-", name);
  else
    return TRUE;

  reply_error (request, NATTER_API_BAD_PARAMETER, message);
  return FALSE;
}

/* A required id parameter. */
static const char *
require_id (ApiRequest *request,
            const char *name)
{
  const char *value = param (request, name);

  return check_id (request, name, value) ? value : NULL;
}

/* A repeated id parameter with 1..@max values. */
static GPtrArray *
require_ids (ApiRequest *request,
             const char *name,
             guint       max)
{
  g_autoptr(GPtrArray) values = params (request, name);
  g_autofree char *message = NULL;

  if (values->len == 0)
    {
      message = g_strdup_printf ("%s is required", name);
      reply_error (request, NATTER_API_BAD_PARAMETER, message);
      return NULL;
    }
  if (values->len > max)
    {
      message = g_strdup_printf ("At most %u %s", max, name);
      reply_error (request, NATTER_API_COUNT_OVER_LIMIT, message);
      return NULL;
    }
  for (guint i = 0; i < values->len; i++)
    if (!check_id (request, name, g_ptr_array_index (values, i)))
      return NULL;
  return g_steal_pointer (&values);
}

static gboolean
optional_text (ApiRequest  *request,
               const char  *name,
               gsize        max,
               const char **out)
{
  const char *value = param (request, name);

  *out = value;
  if (value != NULL && strlen (value) > max)
    {
      g_autofree char *message = g_strdup_printf ("%s is longer than %" G_GSIZE_FORMAT " bytes",
                                                  name, max);
      reply_error (request, NATTER_API_LENGTH_OVER_LIMIT, message);
      return FALSE;
    }
  return TRUE;
}

/* An integer parameter in [min, max]; @fallback when absent (or required
 * when @required). */
static gboolean
int_param (ApiRequest *request,
           const char *name,
           gint64      min,
           gint64      max,
           gboolean    required,
           gint64      fallback,
           gint64     *out)
{
  const char *value = param (request, name);
  g_autofree char *message = NULL;

  if (value == NULL || *value == '\0')
    {
      if (!required)
        {
          *out = fallback;
          return TRUE;
        }
      message = g_strdup_printf ("%s is required", name);
      reply_error (request, NATTER_API_BAD_PARAMETER, message);
      return FALSE;
    }

  if (!g_ascii_string_to_signed (value, 10, G_MININT64, G_MAXINT64, out, NULL))
    {
      message = g_strdup_printf ("%s must be an integer", name);
      reply_error (request, NATTER_API_WRONG_PARAMETER_TYPE, message);
      return FALSE;
    }
  if (*out < min || *out > max)
    {
      message = g_strdup_printf ("%s must be between %" G_GINT64_FORMAT " and %" G_GINT64_FORMAT,
                                 name, min, max);
      reply_error (request, NATTER_API_BAD_PARAMETER, message);
      return FALSE;
    }
  return TRUE;
}

static char *
format_time (gint64 ms)
{
  g_autoptr(GDateTime) time = g_date_time_new_from_unix_local (ms / 1000);

  return g_date_time_format (time, "%Y-%m-%d %H:%M:%S");
}

/* -------------------------------------------------------------------- users */

static void
token_issued (NatterdOp *op,
              gpointer   user_data)
{
  ApiRequest *request = user_data;
  NatterdUser *user = natterd_directory_lookup_user (request->app, param (request, "userId"));
  g_autofree char *token = NULL;
  JsonBuilder *body;
  gint64 now = natterd_now_ms ();
  guint ttl = request->app->settings.token_ttl;

  if (op->error != NULL || user == NULL)
    {
      reply_error (request, NATTER_API_INTERNAL_ERROR, "Could not store the user");
      return;
    }

  token = natterd_token_issue (request->app, user->user_id, now,
                               ttl > 0 ? now + (gint64) ttl * 1000 : 0);
  body = ok_body (request);
  json_builder_set_member_name (body, "userId");
  json_builder_add_string_value (body, user->user_id);
  json_builder_set_member_name (body, "token");
  json_builder_add_string_value (body, token);
  reply_ok (request);
}

static gboolean
update_profile (ApiRequest  *request,
                NatterdUser *user)
{
  const char *name, *portrait;

  if (!optional_text (request, "name", NATTER_NAME_MAX_LENGTH, &name) ||
      !optional_text (request, "portraitUri", NATTER_PORTRAIT_MAX_LENGTH, &portrait))
    return FALSE;

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
  return TRUE;
}

static void
api_user_get_token (ApiRequest *request)
{
  NatterdServer *self = request->server;
  const char *user_id = require_id (request, "userId");
  NatterdUser *user;

  if (user_id == NULL)
    return;

  user = natterd_directory_lookup_user (request->app, user_id);
  if (user == NULL)
    user = natterd_directory_add_user (self->directory, request->app, user_id, natterd_now_ms ());
  if (!update_profile (request, user))
    return;

  /* The user row is durable before its first token exists. */
  natterd_server_save_user (self, user, token_issued, api_request_ref (request), api_request_unref);
}

static void
api_user_refresh (ApiRequest *request)
{
  const char *user_id = require_id (request, "userId");
  NatterdUser *user;

  if (user_id == NULL)
    return;
  user = natterd_directory_lookup_user (request->app, user_id);
  if (user == NULL)
    {
      reply_error (request, NATTER_API_BAD_PARAMETER, "No such user");
      return;
    }
  if (!update_profile (request, user))
    return;

  begin_part (request);
  natterd_server_save_user (request->server, user, part_committed, api_request_ref (request),
                            api_request_unref);
}

static void
api_user_check_online (ApiRequest *request)
{
  const char *user_id = require_id (request, "userId");
  NatterdUser *user;
  JsonBuilder *body;

  if (user_id == NULL)
    return;
  user = natterd_directory_lookup_user (request->app, user_id);
  body = ok_body (request);
  json_builder_set_member_name (body, "status");
  json_builder_add_string_value (body, user != NULL && natterd_user_is_online (user) ? "1" : "0");
  reply_ok (request);
}

/* Stores @user and closes its connections (with tokens issued before
 * @issued_before, when not 0) with @code, as part of @request. */
static void
save_and_kick (ApiRequest  *request,
               NatterdUser *user,
               int          code,
               gint64       issued_before)
{
  begin_part (request);
  natterd_server_save_user (request->server, user, part_committed, api_request_ref (request),
                            api_request_unref);
  if (code != 0)
    natterd_server_kick_user (request->server, user, code, issued_before);
}

static void
api_user_token_expire (ApiRequest *request)
{
  g_autoptr(GPtrArray) user_ids = require_ids (request, "userId", MAX_TOKEN_EXPIRE_USERS);
  gint64 time;

  if (user_ids == NULL ||
      !int_param (request, "time", 0, G_MAXINT64, TRUE, 0, &time))
    return;

  for (guint i = 0; i < user_ids->len; i++)
    {
      NatterdUser *user = natterd_directory_lookup_user (request->app, g_ptr_array_index (user_ids, i));

      if (user == NULL)
        continue;
      user->tokens_valid_after = time;
      save_and_kick (request, user, NATTER_CODE_TOKEN_EXPIRED, time);
    }
  finish_when_stored (request);
}

static void
api_user_block (ApiRequest *request)
{
  g_autoptr(GPtrArray) user_ids = require_ids (request, "userId", MAX_USERS_PER_CALL);
  gint64 minutes;

  if (user_ids == NULL ||
      !int_param (request, "minute", 1, GAG_MAX_MINUTES, TRUE, 0, &minutes))
    return;

  for (guint i = 0; i < user_ids->len; i++)
    {
      NatterdUser *user = natterd_server_ensure_user (request->server, request->app,
                                                      g_ptr_array_index (user_ids, i));

      user->blocked_until = natterd_now_ms () + minutes * 60 * 1000;
      save_and_kick (request, user, NATTER_CODE_USER_BLOCKED, 0);
    }
  finish_when_stored (request);
}

static void
api_user_unblock (ApiRequest *request)
{
  g_autoptr(GPtrArray) user_ids = require_ids (request, "userId", MAX_USERS_PER_CALL);

  if (user_ids == NULL)
    return;

  for (guint i = 0; i < user_ids->len; i++)
    {
      NatterdUser *user = natterd_directory_lookup_user (request->app, g_ptr_array_index (user_ids, i));

      if (user == NULL || user->blocked_until == 0)
        continue;
      user->blocked_until = 0;
      save_and_kick (request, user, 0, 0);
    }
  finish_when_stored (request);
}

static void
api_user_block_query (ApiRequest *request)
{
  JsonBuilder *body = ok_body (request);
  GHashTableIter iter;
  NatterdUser *user;
  gint64 now = natterd_now_ms ();

  json_builder_set_member_name (body, "users");
  json_builder_begin_array (body);
  g_hash_table_iter_init (&iter, request->app->users);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &user))
    if (user->blocked_until > now)
      {
        g_autofree char *end = format_time (user->blocked_until);

        json_builder_begin_object (body);
        json_builder_set_member_name (body, "userId");
        json_builder_add_string_value (body, user->user_id);
        json_builder_set_member_name (body, "blockEndTime");
        json_builder_add_string_value (body, end);
        json_builder_end_object (body);
      }
  json_builder_end_array (body);
  reply_ok (request);
}

static void
api_user_blacklist_change (ApiRequest *request,
                           gboolean    remove)
{
  const char *user_id = require_id (request, "userId");
  g_autoptr(GPtrArray) black_ids = NULL;
  NatterdBlacklistOp *op;
  NatterdUser *user;

  if (user_id == NULL || (black_ids = require_ids (request, "blackUserId", MAX_USERS_PER_CALL)) == NULL)
    return;

  user = natterd_server_ensure_user (request->server, request->app, user_id);
  op = natterd_op_new (NATTERD_OP_BLACKLIST, NULL, NULL, NULL);
  op->user_id = user->id;
  op->remove = remove;
  if (user->blacklist == NULL)
    user->blacklist = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);

  for (guint i = 0; i < black_ids->len; i++)
    {
      NatterdUser *other = natterd_server_ensure_user (request->server, request->app,
                                                       g_ptr_array_index (black_ids, i));

      g_array_append_val (op->blocked_ids, other->id);
      if (remove)
        g_hash_table_remove (user->blacklist, &other->id);
      else
        g_hash_table_add (user->blacklist, g_memdup2 (&other->id, sizeof other->id));
    }
  submit_part (request, op);
}

static void
api_user_blacklist_add (ApiRequest *request)
{
  api_user_blacklist_change (request, FALSE);
}

static void
api_user_blacklist_remove (ApiRequest *request)
{
  api_user_blacklist_change (request, TRUE);
}

static void
api_user_blacklist_query (ApiRequest *request)
{
  const char *user_id = require_id (request, "userId");
  NatterdUser *user;
  JsonBuilder *body;

  if (user_id == NULL)
    return;
  user = natterd_directory_lookup_user (request->app, user_id);
  body = ok_body (request);
  json_builder_set_member_name (body, "users");
  json_builder_begin_array (body);
  if (user != NULL && user->blacklist != NULL)
    {
      GHashTableIter iter;
      gint64 *id;

      g_hash_table_iter_init (&iter, user->blacklist);
      while (g_hash_table_iter_next (&iter, (gpointer *) &id, NULL))
        {
          NatterdUser *other = natterd_directory_lookup_user_id (request->server->directory, *id);

          if (other != NULL)
            json_builder_add_string_value (body, other->user_id);
        }
    }
  json_builder_end_array (body);
  reply_ok (request);
}

/* ----------------------------------------------------------------- messages */

static void
message_published (int         code,
                   const char *message_uid,
                   gint64      sent_time,
                   gpointer    user_data)
{
  ApiRequest *request = user_data;

  if (code == NATTER_CODE_SERVER_ERROR)
    fail_part (request, NATTER_API_INTERNAL_ERROR, "Could not store the message");
  else if (code != NATTER_CODE_OK)
    fail_part (request, code, natter_code_to_string (code));
  end_part (request);
}

/* The message parameters every publish path shares. */
static gboolean
message_params (ApiRequest            *request,
                NatterdPublishRequest *out)
{
  const char *object_name = param (request, "objectName");
  const char *content = param (request, "content");
  const char *push_content;
  g_autoptr(GError) error = NULL;
  gint64 persisted, counted, include_sender;

  if (object_name == NULL || *object_name == '\0')
    {
      reply_error (request, NATTER_API_BAD_PARAMETER, "objectName is required");
      return FALSE;
    }
  if (strlen (object_name) > NATTER_OBJECT_NAME_MAX_LENGTH)
    {
      reply_error (request, NATTER_API_LENGTH_OVER_LIMIT, "objectName is too long");
      return FALSE;
    }
  for (const char *p = object_name; *p != '\0'; p++)
    if (!g_ascii_isgraph (*p))
      {
        reply_error (request, NATTER_API_BAD_PARAMETER, "objectName must be printable ASCII");
        return FALSE;
      }
  if (!natter_content_is_valid (content, &error))
    {
      reply_error (request,
                   error->code == NATTER_PROTO_ERROR_CONTENT_TOO_LARGE ?
                   NATTER_API_LENGTH_OVER_LIMIT : NATTER_API_BAD_PARAMETER,
                   error->message);
      return FALSE;
    }
  if (!optional_text (request, "pushContent", 1024, &push_content) ||
      !int_param (request, "isPersisted", 0, 1, FALSE, 1, &persisted) ||
      !int_param (request, "isCounted", 0, 1, FALSE, 1, &counted) ||
      !int_param (request, "isIncludeSender", 0, 1, FALSE, 0, &include_sender))
    return FALSE;

  out->app = request->app;
  out->object_name = object_name;
  out->content = content;
  out->push_content = push_content;
  out->from_api = TRUE;
  out->include_sender = include_sender != 0;
  out->flags = natter_object_name_flags (object_name,
                                         (persisted ? NATTER_MESSAGE_FLAG_PERSISTED : 0) |
                                         (counted ? NATTER_MESSAGE_FLAG_COUNTED : 0));
  return TRUE;
}

static void
publish_to (ApiRequest *request,
            int         conversation_type,
            const char *targets_name,
            guint       max_targets)
{
  NatterdPublishRequest publish = { 0 };
  g_autoptr(GPtrArray) targets = NULL;
  const char *from_id = require_id (request, "fromUserId");

  if (from_id == NULL || (targets = require_ids (request, targets_name, max_targets)) == NULL ||
      !message_params (request, &publish))
    return;

  if (conversation_type == NATTER_CONVERSATION_CHATROOM)
    for (guint i = 0; i < targets->len; i++)
      if (!g_hash_table_contains (request->app->chatrooms, g_ptr_array_index (targets, i)))
        {
          reply_error (request, NATTER_CODE_CHATROOM_NOT_EXIST, "Chatroom does not exist");
          return;
        }

  publish.sender = natterd_server_ensure_user (request->server, request->app, from_id);
  publish.conversation_type = conversation_type;

  begin_part (request);
  for (guint i = 0; i < targets->len; i++)
    {
      publish.target_id = g_ptr_array_index (targets, i);
      begin_part (request);
      natterd_server_publish (request->server, &publish, message_published,
                              api_request_ref (request), api_request_unref);
    }
  end_part (request);
}

static void
api_message_private_publish (ApiRequest *request)
{
  publish_to (request, NATTER_CONVERSATION_PRIVATE, "toUserId", MAX_USERS_PER_CALL);
}

static void
api_message_system_publish (ApiRequest *request)
{
  publish_to (request, NATTER_CONVERSATION_SYSTEM, "toUserId", MAX_USERS_PER_CALL);
}

static void
api_message_group_publish (ApiRequest *request)
{
  publish_to (request, NATTER_CONVERSATION_GROUP, "toGroupId", MAX_GROUPS_PER_PUBLISH);
}

static void
api_message_chatroom_publish (ApiRequest *request)
{
  publish_to (request, NATTER_CONVERSATION_CHATROOM, "toChatroomId", MAX_CHATROOMS_PER_CALL);
}

static void
recalled (int                   code,
          const NatterdMessage *command,
          gpointer              user_data)
{
  ApiRequest *request = user_data;

  if (code != NATTER_CODE_OK)
    reply_error (request, code, natter_code_to_string (code));
  else
    reply_ok (request);
}

static void
api_message_recall (ApiRequest *request)
{
  const char *from_id = require_id (request, "fromUserId");
  const char *target_id = from_id != NULL ? require_id (request, "targetId") : NULL;
  const char *uid = param (request, "messageUID");
  gint64 type, sent_time;
  NatterdUser *sender;

  if (target_id == NULL ||
      !int_param (request, "conversationType", 1, 8, TRUE, 0, &type) ||
      !int_param (request, "sentTime", 0, G_MAXINT64, FALSE, 0, &sent_time))
    return;
  if (uid == NULL || *uid == '\0')
    {
      reply_error (request, NATTER_API_BAD_PARAMETER, "messageUID is required");
      return;
    }

  sender = natterd_directory_lookup_user (request->app, from_id);
  if (sender == NULL)
    {
      reply_error (request, NATTER_CODE_RECALL_FAILED, "No such message");
      return;
    }
  natterd_server_recall (request->server, request->app, sender, (int) type, target_id, uid,
                         sent_time, recalled, api_request_ref (request), api_request_unref);
}

static void
history_ready (const char   *url,
               const GError *error,
               gpointer      user_data)
{
  ApiRequest *request = user_data;
  JsonBuilder *body;

  if (error != NULL)
    {
      reply_error (request, NATTER_API_INTERNAL_ERROR, "The export could not be written");
      return;
    }
  body = ok_body (request);
  json_builder_set_member_name (body, "url");
  json_builder_add_string_value (body, url);
  json_builder_set_member_name (body, "date");
  json_builder_add_string_value (body, param (request, "date"));
  reply_ok (request);
}

static void
api_message_history (ApiRequest *request)
{
  const char *date = param (request, "date");
  gint64 hour_start;

  if (!natterd_history_parse_date (date, &hour_start))
    {
      reply_error (request, NATTER_API_BAD_PARAMETER, "date must be YYYYMMDDHH (UTC)");
      return;
    }
  natterd_server_history_export (request->server, request->app, hour_start, history_ready,
                                 api_request_ref (request), api_request_unref);
}

/* ------------------------------------------------------------------- groups */

/* A new group whose row could not be stored is forgotten (the request
 * answers 1000, and the store lets no member row name it). */
static void
group_created (NatterdOp *base,
               gpointer   user_data)
{
  NatterdGroupOp *op = (NatterdGroupOp *) base;
  ApiRequest *request = user_data;
  NatterdGroup *group = g_hash_table_lookup (request->app->groups, op->group_id);

  if (base->error != NULL && group != NULL && group->id == op->id)
    natterd_directory_remove_group (request->server->directory, group);
  part_committed (base, user_data);
}

static void
store_group (ApiRequest   *request,
             NatterdGroup *group,
             gboolean      remove)
{
  NatterdGroupOp *op = natterd_op_new (NATTERD_OP_GROUP, NULL, NULL, NULL);

  op->id = group->id;
  op->app_id = group->app->id;
  op->group_id = g_strdup (group->group_id);
  op->name = g_strdup (group->name);
  op->created = group->created;
  op->remove = remove;
  submit_part (request, op);
}

static void
create_group_row (ApiRequest   *request,
                  NatterdGroup *group)
{
  NatterdGroupOp *op = natterd_op_new (NATTERD_OP_GROUP, NULL, NULL, NULL);

  op->id = group->id;
  op->app_id = group->app->id;
  op->group_id = g_strdup (group->group_id);
  op->name = g_strdup (group->name);
  op->created = group->created;
  op->create = TRUE;
  submit_part_full (request, op, group_created);
}

static void
store_members (ApiRequest          *request,
               NatterdGroup        *group,
               NatterdMembersAction action,
               GPtrArray           *users,
               gint64               time)
{
  NatterdMembersOp *op;

  if (users->len == 0)
    return;
  op = natterd_op_new (NATTERD_OP_MEMBERS, NULL, NULL, NULL);
  op->group_id = group->id;
  op->action = action;
  op->time = time;
  for (guint i = 0; i < users->len; i++)
    g_array_append_val (op->user_ids, ((NatterdUser *) g_ptr_array_index (users, i))->id);
  submit_part (request, op);
}

static NatterdGroup *
ensure_group (ApiRequest *request,
              const char *group_id,
              const char *name)
{
  NatterdGroup *group = g_hash_table_lookup (request->app->groups, group_id);

  if (group == NULL)
    {
      group = natterd_directory_add_group (request->server->directory, request->app, group_id,
                                           name, natterd_now_ms ());
      create_group_row (request, group);
    }
  else if (name != NULL && g_strcmp0 (group->name, name) != 0)
    {
      g_free (group->name);
      group->name = g_strdup (name);
      store_group (request, group, FALSE);
    }
  return group;
}

static void
api_group_create (ApiRequest *request)
{
  g_autoptr(GPtrArray) user_ids = require_ids (request, "userId", MAX_USERS_PER_CALL);
  g_autoptr(GPtrArray) added = g_ptr_array_new ();
  const char *group_id = user_ids != NULL ? require_id (request, "groupId") : NULL;
  const char *name;
  NatterdGroup *group;
  gint64 now = natterd_now_ms ();
  guint new_members = 0;

  if (group_id == NULL || !optional_text (request, "groupName", NATTER_NAME_MAX_LENGTH, &name))
    return;

  group = g_hash_table_lookup (request->app->groups, group_id);
  for (guint i = 0; i < user_ids->len; i++)
    {
      NatterdUser *user = natterd_directory_lookup_user (request->app, g_ptr_array_index (user_ids, i));

      if (group == NULL || user == NULL || natterd_group_lookup_member (group, user) == NULL)
        new_members++;
    }
  if ((group != NULL ? g_hash_table_size (group->members) : 0) + new_members >
      request->server->config->group_max_members)
    {
      reply_error (request, NATTER_API_COUNT_OVER_LIMIT, "The group would be over its member limit");
      return;
    }

  group = ensure_group (request, group_id, name);
  for (guint i = 0; i < user_ids->len; i++)
    {
      NatterdUser *user = natterd_server_ensure_user (request->server, request->app,
                                                      g_ptr_array_index (user_ids, i));

      if (natterd_group_lookup_member (group, user) == NULL)
        {
          natterd_group_add_member (group, user, now);
          g_ptr_array_add (added, user);
        }
    }
  store_members (request, group, NATTERD_MEMBERS_ADD, added, now);
  finish_when_stored (request);
}

static void
api_group_quit (ApiRequest *request)
{
  g_autoptr(GPtrArray) user_ids = require_ids (request, "userId", MAX_USERS_PER_CALL);
  g_autoptr(GPtrArray) removed = g_ptr_array_new ();
  const char *group_id = user_ids != NULL ? require_id (request, "groupId") : NULL;
  NatterdGroup *group;

  if (group_id == NULL)
    return;

  group = g_hash_table_lookup (request->app->groups, group_id);
  if (group != NULL)
    {
      for (guint i = 0; i < user_ids->len; i++)
        {
          NatterdUser *user = natterd_directory_lookup_user (request->app, g_ptr_array_index (user_ids, i));

          if (user != NULL && natterd_group_remove_member (group, user))
            g_ptr_array_add (removed, user);
        }
      store_members (request, group, NATTERD_MEMBERS_REMOVE, removed, 0);
    }
  finish_when_stored (request);
}

static void
api_group_refresh (ApiRequest *request)
{
  const char *group_id = require_id (request, "groupId");
  const char *name;
  NatterdGroup *group;

  if (group_id == NULL || !optional_text (request, "groupName", NATTER_NAME_MAX_LENGTH, &name))
    return;
  group = g_hash_table_lookup (request->app->groups, group_id);
  if (group == NULL)
    {
      reply_error (request, NATTER_API_BAD_PARAMETER, "No such group");
      return;
    }
  ensure_group (request, group_id, name != NULL ? name : "");
  finish_when_stored (request);
}

static void
api_group_sync (ApiRequest *request)
{
  const char *user_id = require_id (request, "userId");
  g_autoptr(GHashTable) wanted = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTableIter iter;
  NatterdGroup *group;
  NatterdUser *user;
  gint64 now = natterd_now_ms ();

  if (user_id == NULL)
    return;

  /* group[ID]=NAME, repeated */
  for (guint i = 0; i < request->names->len; i++)
    {
      const char *name = g_ptr_array_index (request->names, i);
      g_autofree char *id = NULL;

      if (!g_str_has_prefix (name, "group[") || !g_str_has_suffix (name, "]"))
        continue;
      id = g_strndup (name + 6, strlen (name) - 7);
      if (!check_id (request, "group id", id))
        return;
      if (strlen (g_ptr_array_index (request->values, i)) > NATTER_NAME_MAX_LENGTH)
        {
          reply_error (request, NATTER_API_LENGTH_OVER_LIMIT, "Group name is too long");
          return;
        }
      g_hash_table_insert (wanted, g_steal_pointer (&id), g_ptr_array_index (request->values, i));
    }
  if (g_hash_table_size (wanted) > MAX_USERS_PER_CALL)
    {
      reply_error (request, NATTER_API_COUNT_OVER_LIMIT, "Too many groups");
      return;
    }

  user = natterd_server_ensure_user (request->server, request->app, user_id);

  /* Leave the groups not listed... */
  g_hash_table_iter_init (&iter, request->app->groups);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &group))
    {
      if (!g_hash_table_contains (wanted, group->group_id) && natterd_group_remove_member (group, user))
        {
          g_autoptr(GPtrArray) one = g_ptr_array_new ();

          g_ptr_array_add (one, user);
          store_members (request, group, NATTERD_MEMBERS_REMOVE, one, 0);
        }
    }

  /* ...and join the ones listed. */
  g_hash_table_iter_init (&iter, wanted);
  {
    const char *id, *name;

    while (g_hash_table_iter_next (&iter, (gpointer *) &id, (gpointer *) &name))
      {
        group = ensure_group (request, id, name);
        if (natterd_group_lookup_member (group, user) == NULL)
          {
            g_autoptr(GPtrArray) one = g_ptr_array_new ();

            natterd_group_add_member (group, user, now);
            g_ptr_array_add (one, user);
            store_members (request, group, NATTERD_MEMBERS_ADD, one, now);
          }
      }
  }
  finish_when_stored (request);
}

static void
api_group_dismiss (ApiRequest *request)
{
  const char *user_id = require_id (request, "userId");
  const char *group_id = user_id != NULL ? require_id (request, "groupId") : NULL;
  NatterdGroup *group;

  if (group_id == NULL)
    return;

  group = g_hash_table_lookup (request->app->groups, group_id);
  if (group != NULL)
    {
      store_group (request, group, TRUE);
      natterd_directory_remove_group (request->server->directory, group);
    }
  finish_when_stored (request);
}

static void
api_group_user_query (ApiRequest *request)
{
  const char *group_id = require_id (request, "groupId");
  NatterdGroup *group;
  JsonBuilder *body;

  if (group_id == NULL)
    return;
  group = g_hash_table_lookup (request->app->groups, group_id);
  body = ok_body (request);
  json_builder_set_member_name (body, "users");
  json_builder_begin_array (body);
  if (group != NULL)
    {
      GHashTableIter iter;
      NatterdUser *user;

      g_hash_table_iter_init (&iter, group->members);
      while (g_hash_table_iter_next (&iter, (gpointer *) &user, NULL))
        {
          json_builder_begin_object (body);
          json_builder_set_member_name (body, "id");
          json_builder_add_string_value (body, user->user_id);
          json_builder_end_object (body);
        }
    }
  json_builder_end_array (body);
  reply_ok (request);
}

static void
group_gag (ApiRequest *request,
           gboolean    add)
{
  g_autoptr(GPtrArray) user_ids = require_ids (request, "userId", MAX_USERS_PER_CALL);
  g_autoptr(GPtrArray) changed = g_ptr_array_new ();
  const char *group_id = user_ids != NULL ? require_id (request, "groupId") : NULL;
  NatterdGroup *group;
  gint64 minutes = 0;
  gint64 until;

  if (group_id == NULL ||
      (add && !int_param (request, "minute", 1, GAG_MAX_MINUTES, TRUE, 0, &minutes)))
    return;

  group = g_hash_table_lookup (request->app->groups, group_id);
  if (group == NULL)
    {
      if (add)
        reply_error (request, NATTER_API_BAD_PARAMETER, "No such group");
      else
        reply_ok (request);
      return;
    }

  until = add ? natterd_now_ms () + minutes * 60 * 1000 : 0;
  for (guint i = 0; i < user_ids->len; i++)
    {
      NatterdUser *user = natterd_directory_lookup_user (request->app, g_ptr_array_index (user_ids, i));
      NatterdMember *member = user != NULL ? natterd_group_lookup_member (group, user) : NULL;

      if (member != NULL)
        {
          member->gag_until = until;
          g_ptr_array_add (changed, user);
        }
    }
  store_members (request, group, NATTERD_MEMBERS_GAG, changed, until);
  finish_when_stored (request);
}

static void
api_group_gag_add (ApiRequest *request)
{
  group_gag (request, TRUE);
}

static void
api_group_gag_rollback (ApiRequest *request)
{
  group_gag (request, FALSE);
}

static void
api_group_gag_list (ApiRequest *request)
{
  const char *group_id = require_id (request, "groupId");
  NatterdGroup *group;
  JsonBuilder *body;
  gint64 now = natterd_now_ms ();

  if (group_id == NULL)
    return;
  group = g_hash_table_lookup (request->app->groups, group_id);
  body = ok_body (request);
  json_builder_set_member_name (body, "users");
  json_builder_begin_array (body);
  if (group != NULL)
    {
      GHashTableIter iter;
      NatterdMember *member;

      g_hash_table_iter_init (&iter, group->members);
      while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &member))
        if (member->gag_until > now)
          {
            g_autofree char *time = format_time (member->gag_until);

            json_builder_begin_object (body);
            json_builder_set_member_name (body, "time");
            json_builder_add_string_value (body, time);
            json_builder_set_member_name (body, "userId");
            json_builder_add_string_value (body, member->user->user_id);
            json_builder_end_object (body);
          }
    }
  json_builder_end_array (body);
  reply_ok (request);
}

/* ---------------------------------------------------------------- chatrooms */

static void
api_chatroom_create (ApiRequest *request)
{
  guint created = 0;

  for (guint i = 0; i < request->names->len; i++)
    {
      const char *name = g_ptr_array_index (request->names, i);
      const char *value = g_ptr_array_index (request->values, i);
      g_autofree char *id = NULL;

      if (!g_str_has_prefix (name, "chatroom[") || !g_str_has_suffix (name, "]"))
        continue;
      id = g_strndup (name + 9, strlen (name) - 10);
      if (!check_id (request, "chatroom id", id))
        return;
      if (strlen (value) > NATTER_NAME_MAX_LENGTH)
        {
          reply_error (request, NATTER_API_LENGTH_OVER_LIMIT, "Chatroom name is too long");
          return;
        }
      created++;
    }
  if (created == 0)
    {
      reply_error (request, NATTER_API_BAD_PARAMETER, "chatroom[id]=name is required");
      return;
    }
  if (created > MAX_CHATROOMS_PER_CALL)
    {
      reply_error (request, NATTER_API_COUNT_OVER_LIMIT, "Too many chatrooms");
      return;
    }

  for (guint i = 0; i < request->names->len; i++)
    {
      const char *name = g_ptr_array_index (request->names, i);
      g_autofree char *id = NULL;

      if (!g_str_has_prefix (name, "chatroom[") || !g_str_has_suffix (name, "]"))
        continue;
      id = g_strndup (name + 9, strlen (name) - 10);
      natterd_server_chatroom_create (request->server, request->app, id,
                                      g_ptr_array_index (request->values, i));
    }
  finish_when_stored (request);
}

static void
api_chatroom_destroy (ApiRequest *request)
{
  g_autoptr(GPtrArray) ids = require_ids (request, "chatroomId", MAX_CHATROOMS_PER_CALL);

  if (ids == NULL)
    return;
  for (guint i = 0; i < ids->len; i++)
    {
      NatterdChatroom *room = g_hash_table_lookup (request->app->chatrooms, g_ptr_array_index (ids, i));

      if (room != NULL)
        natterd_server_chatroom_destroy (request->server, room);
    }
  finish_when_stored (request);
}

static void
api_chatroom_query (ApiRequest *request)
{
  g_autoptr(GPtrArray) ids = require_ids (request, "chatroomId", MAX_CHATROOMS_PER_CALL);
  JsonBuilder *body;

  if (ids == NULL)
    return;
  body = ok_body (request);
  json_builder_set_member_name (body, "chatRooms");
  json_builder_begin_array (body);
  for (guint i = 0; i < ids->len; i++)
    {
      NatterdChatroom *room = g_hash_table_lookup (request->app->chatrooms, g_ptr_array_index (ids, i));
      g_autofree char *time = NULL;

      if (room == NULL)
        continue;
      time = format_time (room->created);
      json_builder_begin_object (body);
      json_builder_set_member_name (body, "chrmId");
      json_builder_add_string_value (body, room->chatroom_id);
      json_builder_set_member_name (body, "name");
      json_builder_add_string_value (body, room->name);
      json_builder_set_member_name (body, "time");
      json_builder_add_string_value (body, time);
      json_builder_end_object (body);
    }
  json_builder_end_array (body);
  reply_ok (request);
}

static int
member_by_join (gconstpointer a,
                gconstpointer b)
{
  const NatterdMember *x = *(NatterdMember * const *) a;
  const NatterdMember *y = *(NatterdMember * const *) b;

  if (x->joined != y->joined)
    return x->joined < y->joined ? -1 : 1;
  return g_strcmp0 (x->user->user_id, y->user->user_id);
}

static void
api_chatroom_user_query (ApiRequest *request)
{
  const char *room_id = require_id (request, "chatroomId");
  g_autoptr(GPtrArray) members = g_ptr_array_new ();
  NatterdChatroom *room;
  JsonBuilder *body;
  gint64 count, order;

  if (room_id == NULL ||
      !int_param (request, "count", 1, 500, TRUE, 0, &count) ||
      !int_param (request, "order", 1, 2, FALSE, 1, &order))
    return;

  room = g_hash_table_lookup (request->app->chatrooms, room_id);
  if (room == NULL)
    {
      reply_error (request, NATTER_CODE_CHATROOM_NOT_EXIST, "Chatroom does not exist");
      return;
    }

  {
    GHashTableIter iter;
    NatterdMember *member;

    g_hash_table_iter_init (&iter, room->members);
    while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &member))
      g_ptr_array_add (members, member);
  }
  g_ptr_array_sort (members, member_by_join);

  body = ok_body (request);
  json_builder_set_member_name (body, "total");
  json_builder_add_int_value (body, members->len);
  json_builder_set_member_name (body, "users");
  json_builder_begin_array (body);
  for (guint i = 0; i < members->len && i < count; i++)
    {
      NatterdMember *member = g_ptr_array_index (members, order == 1 ? i : members->len - 1 - i);
      g_autofree char *time = format_time (member->joined);

      json_builder_begin_object (body);
      json_builder_set_member_name (body, "id");
      json_builder_add_string_value (body, member->user->user_id);
      json_builder_set_member_name (body, "time");
      json_builder_add_string_value (body, time);
      json_builder_end_object (body);
    }
  json_builder_end_array (body);
  reply_ok (request);
}

static void
api_chatroom_users_exist (ApiRequest *request)
{
  const char *room_id = require_id (request, "chatroomId");
  g_autoptr(GPtrArray) user_ids = room_id != NULL ? require_ids (request, "userId", MAX_USERS_PER_CALL) : NULL;
  NatterdChatroom *room;
  JsonBuilder *body;

  if (user_ids == NULL)
    return;
  room = g_hash_table_lookup (request->app->chatrooms, room_id);
  body = ok_body (request);
  json_builder_set_member_name (body, "result");
  json_builder_begin_array (body);
  for (guint i = 0; i < user_ids->len; i++)
    {
      NatterdUser *user = natterd_directory_lookup_user (request->app, g_ptr_array_index (user_ids, i));

      json_builder_begin_object (body);
      json_builder_set_member_name (body, "userId");
      json_builder_add_string_value (body, g_ptr_array_index (user_ids, i));
      json_builder_set_member_name (body, "isInChrm");
      json_builder_add_boolean_value (body, room != NULL && user != NULL &&
                                            g_hash_table_contains (room->members, user));
      json_builder_end_object (body);
    }
  json_builder_end_array (body);
  reply_ok (request);
}

/* chatroom/user/gag and chatroom/user/block: RongCloud paths; a block
 * also kicks (23409) and keeps the user out until it ends. */
static void
chatroom_restrict (ApiRequest *request,
                   gboolean    block,
                   gboolean    add)
{
  const char *room_id = require_id (request, "chatroomId");
  g_autoptr(GPtrArray) user_ids = room_id != NULL ? require_ids (request, "userId", MAX_USERS_PER_CALL) : NULL;
  NatterdChatroom *room;
  gint64 minutes = 0;

  if (user_ids == NULL ||
      (add && !int_param (request, "minute", 1, GAG_MAX_MINUTES, TRUE, 0, &minutes)))
    return;

  room = g_hash_table_lookup (request->app->chatrooms, room_id);
  if (room == NULL)
    {
      reply_error (request, NATTER_CODE_CHATROOM_NOT_EXIST, "Chatroom does not exist");
      return;
    }

  for (guint i = 0; i < user_ids->len; i++)
    {
      NatterdUser *user = natterd_server_ensure_user (request->server, request->app,
                                                      g_ptr_array_index (user_ids, i));
      GHashTable *table = block ? room->banned : room->gagged;

      if (add)
        {
          gint64 *until = g_new (gint64, 1);

          *until = natterd_now_ms () + minutes * 60 * 1000;
          g_hash_table_insert (table, user, until);
          if (block && g_hash_table_contains (room->members, user))
            natterd_server_chatroom_kick (request->server, room, user,
                                          NATTER_CODE_KICKED_FROM_CHATROOM);
        }
      else
        {
          g_hash_table_remove (table, user);
        }
    }
  reply_ok (request);
}

static void
chatroom_restrict_list (ApiRequest *request,
                        gboolean    block)
{
  const char *room_id = require_id (request, "chatroomId");
  NatterdChatroom *room;
  JsonBuilder *body;
  GHashTableIter iter;
  NatterdUser *user;
  gint64 *until;
  gint64 now = natterd_now_ms ();

  if (room_id == NULL)
    return;
  room = g_hash_table_lookup (request->app->chatrooms, room_id);
  if (room == NULL)
    {
      reply_error (request, NATTER_CODE_CHATROOM_NOT_EXIST, "Chatroom does not exist");
      return;
    }

  body = ok_body (request);
  json_builder_set_member_name (body, "users");
  json_builder_begin_array (body);
  g_hash_table_iter_init (&iter, block ? room->banned : room->gagged);
  while (g_hash_table_iter_next (&iter, (gpointer *) &user, (gpointer *) &until))
    if (*until > now)
      {
        g_autofree char *time = format_time (*until);

        json_builder_begin_object (body);
        json_builder_set_member_name (body, "time");
        json_builder_add_string_value (body, time);
        json_builder_set_member_name (body, "userId");
        json_builder_add_string_value (body, user->user_id);
        json_builder_end_object (body);
      }
  json_builder_end_array (body);
  reply_ok (request);
}

static void api_chatroom_gag_add (ApiRequest *r) { chatroom_restrict (r, FALSE, TRUE); }
static void api_chatroom_gag_rollback (ApiRequest *r) { chatroom_restrict (r, FALSE, FALSE); }
static void api_chatroom_gag_list (ApiRequest *r) { chatroom_restrict_list (r, FALSE); }
static void api_chatroom_block_add (ApiRequest *r) { chatroom_restrict (r, TRUE, TRUE); }
static void api_chatroom_block_rollback (ApiRequest *r) { chatroom_restrict (r, TRUE, FALSE); }
static void api_chatroom_block_list (ApiRequest *r) { chatroom_restrict_list (r, TRUE); }

/* ------------------------------------------------------------------ routing */

static const struct {
  const char *path;
  ApiHandler handler;
} routes[] = {
  { "user/getToken", api_user_get_token },
  { "user/refresh", api_user_refresh },
  { "user/checkOnline", api_user_check_online },
  { "user/token/expire", api_user_token_expire },
  { "user/block", api_user_block },
  { "user/unblock", api_user_unblock },
  { "user/block/query", api_user_block_query },
  { "user/blacklist/add", api_user_blacklist_add },
  { "user/blacklist/remove", api_user_blacklist_remove },
  { "user/blacklist/query", api_user_blacklist_query },
  { "message/private/publish", api_message_private_publish },
  { "message/group/publish", api_message_group_publish },
  { "message/system/publish", api_message_system_publish },
  { "message/chatroom/publish", api_message_chatroom_publish },
  { "message/recall", api_message_recall },
  { "message/history", api_message_history },
  { "group/create", api_group_create },
  { "group/join", api_group_create },
  { "group/quit", api_group_quit },
  { "group/refresh", api_group_refresh },
  { "group/sync", api_group_sync },
  { "group/dismiss", api_group_dismiss },
  { "group/user/query", api_group_user_query },
  { "group/user/gag/add", api_group_gag_add },
  { "group/user/gag/rollback", api_group_gag_rollback },
  { "group/user/gag/list", api_group_gag_list },
  { "chatroom/create", api_chatroom_create },
  { "chatroom/destroy", api_chatroom_destroy },
  { "chatroom/query", api_chatroom_query },
  { "chatroom/user/query", api_chatroom_user_query },
  { "chatroom/users/exist", api_chatroom_users_exist },
  { "chatroom/user/gag/add", api_chatroom_gag_add },
  { "chatroom/user/gag/rollback", api_chatroom_gag_rollback },
  { "chatroom/user/gag/list", api_chatroom_gag_list },
  { "chatroom/user/block/add", api_chatroom_block_add },
  { "chatroom/user/block/rollback", api_chatroom_block_rollback },
  { "chatroom/user/block/list", api_chatroom_block_list },
};

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
remember_nonce (ApiRequest *request,
                const char *nonce,
                gint64      expires)
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
check_signature (ApiRequest      *request,
                 NatterdNonceOp **nonce_op,
                 const char     **reason)
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
run_handler (NatterdServer *self,
             ApiRequest    *request)
{
  NatterdApp *app = request->app;
  ApiBody *collected;
  g_autoptr(GBytes) bytes = NULL;

  if (app->settings.blocked)
    {
      reply_error (request, NATTER_API_APP_SECRET_MISMATCH, "App blocked");
      return;
    }
  if (!check_rate (self, app))
    {
      reply_error (request, NATTER_API_RATE_LIMITED, "Too many requests");
      return;
    }

  collected = g_object_get_data (G_OBJECT (request->msg), "natterd-api-body");
  if (collected == NULL)
    bytes = soup_message_body_flatten (soup_server_message_get_request_body (request->msg));
  else if (collected->too_large)
    {
      reply_error (request, NATTER_API_LENGTH_OVER_LIMIT, "The body is too large");
      return;
    }
  else
    bytes = g_bytes_new (collected->data->data, collected->data->len);
  if (g_bytes_get_size (bytes) == 0)
    {
      reply_error (request, NATTER_API_NO_POST_DATA, "No POST data");
      return;
    }
  if (!parse_form (request, bytes))
    {
      reply_error (request, NATTER_API_BAD_PARAMETER, "The body is not valid UTF-8 form data");
      return;
    }

  request->handler (request);
}

static void
dispatch_with_app (NatterdServer *self,
                   NatterdApp    *app,
                   gpointer       user_data)
{
  ApiRequest *request = user_data;
  NatterdNonceOp *nonce_op = NULL;
  const char *reason = NULL;
  int code;

  request->app = app;
  if (app == NULL)
    {
      reply_error (request, NATTER_API_APP_SECRET_MISMATCH, "Unknown App-Key");
      return;
    }

  code = check_signature (request, &nonce_op, &reason);
  if (code != NATTER_API_OK)
    {
      reply_error (request, code, reason);
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

static void
on_request (SoupServer        *server,
            SoupServerMessage *msg,
            const char        *path,
            GHashTable        *query,
            gpointer           user_data)
{
  NatterdServer *self = user_data;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  ApiRequest *request;
  ApiHandler handler = NULL;

  request = g_new0 (ApiRequest, 1);
  g_atomic_ref_count_init (&request->ref_count);
  request->server = g_object_ref (self);
  request->msg = g_object_ref (msg);
  request->path = g_strdup (path);
  soup_server_message_pause (msg);
  self->metrics->api_requests++;

  for (guint i = 0; i < G_N_ELEMENTS (routes); i++)
    {
      g_autofree char *expected = g_strconcat ("/", routes[i].path, ".json", NULL);

      if (g_str_equal (path, expected))
        handler = routes[i].handler;
    }

  if (handler == NULL)
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

      request->handler = handler;
      natterd_server_with_app (self, app_key, dispatch_with_app, api_request_ref (request),
                               api_request_unref);
    }

  api_request_unref (request);
}

void
natterd_server_setup_api (NatterdServer *self)
{
  soup_server_add_early_handler (self->soup, "/", on_request_early, self, NULL);
  soup_server_add_handler (self->soup, "/", on_request, self, NULL);
}
