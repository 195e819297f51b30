/* natterd-api-users.c — the server API's user/ paths: tokens, profiles,
 * online status, token expiry, blocking, blacklists
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-api-private.h"

static void
token_issued (NatterdOp *op,
              gpointer   user_data)
{
  NatterdApiRequest *request = user_data;
  NatterdUser *user = natterd_directory_lookup_user (request->app, natterd_api_param (request, "userId"));
  g_autofree char *token = NULL;
  JsonBuilder *body;
  gint64 now = natterd_now_ms ();
  guint ttl = request->app->settings.token_ttl;

  if (op->error != NULL || user == NULL)
    {
      natterd_api_reply_error (request, NATTER_API_INTERNAL_ERROR, "Could not store the user");
      return;
    }

  token = natterd_token_issue (request->app, user->user_id, now,
                               ttl > 0 ? now + (gint64) ttl * 1000 : 0);
  body = natterd_api_ok_body (request);
  json_builder_set_member_name (body, "userId");
  json_builder_add_string_value (body, user->user_id);
  json_builder_set_member_name (body, "token");
  json_builder_add_string_value (body, token);
  natterd_api_reply_ok (request);
}

static gboolean
update_profile (NatterdApiRequest *request,
                NatterdUser       *user)
{
  const char *name, *portrait;

  if (!natterd_api_optional_text (request, "name", NATTER_NAME_MAX_LENGTH, &name) ||
      !natterd_api_optional_text (request, "portraitUri", NATTER_PORTRAIT_MAX_LENGTH, &portrait))
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
api_user_get_token (NatterdApiRequest *request)
{
  NatterdServer *self = request->server;
  const char *user_id = natterd_api_require_id (request, "userId");
  NatterdUser *user;

  if (user_id == NULL)
    return;

  user = natterd_directory_lookup_user (request->app, user_id);
  if (user == NULL)
    user = natterd_directory_add_user (self->directory, request->app, user_id, natterd_now_ms ());
  if (!update_profile (request, user))
    return;

  /* The user row is durable before its first token exists. */
  natterd_server_save_user (self, user, token_issued, natterd_api_request_ref (request), natterd_api_request_unref);
}

static void
api_user_refresh (NatterdApiRequest *request)
{
  const char *user_id = natterd_api_require_id (request, "userId");
  const char *name, *portrait;
  NatterdUser *user;

  if (user_id == NULL)
    return;
  user = natterd_directory_lookup_user (request->app, user_id);
  if (user == NULL)
    {
      natterd_api_reply_error (request, NATTER_API_BAD_PARAMETER, "No such user");
      return;
    }
  if (!natterd_api_optional_text (request, "name", NATTER_NAME_MAX_LENGTH, &name) ||
      !natterd_api_optional_text (request, "portraitUri", NATTER_PORTRAIT_MAX_LENGTH, &portrait))
    return;
  natterd_api_save_profile (request, user, name, portrait);
}

static void
api_user_check_online (NatterdApiRequest *request)
{
  const char *user_id = natterd_api_require_id (request, "userId");
  NatterdUser *user;
  JsonBuilder *body;

  if (user_id == NULL)
    return;
  user = natterd_directory_lookup_user (request->app, user_id);
  body = natterd_api_ok_body (request);
  json_builder_set_member_name (body, "status");
  json_builder_add_string_value (body, user != NULL && natterd_user_is_online (user) ? "1" : "0");
  natterd_api_reply_ok (request);
}

/* Stores @user and closes its connections (with tokens issued before
 * @issued_before, when not 0) with @code, as part of @request. */
static void
save_and_kick (NatterdApiRequest *request,
               NatterdUser       *user,
               int                code,
               gint64             issued_before)
{
  natterd_api_begin_part (request);
  natterd_server_save_user (request->server, user, natterd_api_part_committed, natterd_api_request_ref (request),
                            natterd_api_request_unref);
  if (code != 0)
    natterd_server_kick_user (request->server, user, code, issued_before);
}

static void
api_user_token_expire (NatterdApiRequest *request)
{
  g_autoptr(GPtrArray) user_ids = natterd_api_require_ids (request, "userId", MAX_TOKEN_EXPIRE_USERS);
  gint64 time;

  if (user_ids == NULL ||
      !natterd_api_int_param (request, "time", 0, G_MAXINT64, TRUE, 0, &time))
    return;

  for (guint i = 0; i < user_ids->len; i++)
    {
      NatterdUser *user = natterd_directory_lookup_user (request->app, g_ptr_array_index (user_ids, i));

      if (user == NULL)
        continue;
      user->tokens_valid_after = time;
      save_and_kick (request, user, NATTER_CODE_TOKEN_EXPIRED, time);
    }
  natterd_api_finish_when_stored (request);
}

static void
api_user_block (NatterdApiRequest *request)
{
  g_autoptr(GPtrArray) user_ids = natterd_api_require_ids (request, "userId", MAX_USERS_PER_CALL);
  gint64 minutes;

  if (user_ids == NULL ||
      !natterd_api_int_param (request, "minute", 1, GAG_MAX_MINUTES, TRUE, 0, &minutes))
    return;

  for (guint i = 0; i < user_ids->len; i++)
    {
      NatterdUser *user = natterd_server_ensure_user (request->server, request->app,
                                                      g_ptr_array_index (user_ids, i));

      user->blocked_until = natterd_now_ms () + minutes * 60 * 1000;
      save_and_kick (request, user, NATTER_CODE_USER_BLOCKED, 0);
    }
  natterd_api_finish_when_stored (request);
}

static void
api_user_unblock (NatterdApiRequest *request)
{
  g_autoptr(GPtrArray) user_ids = natterd_api_require_ids (request, "userId", MAX_USERS_PER_CALL);

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
  natterd_api_finish_when_stored (request);
}

static void
api_user_block_query (NatterdApiRequest *request)
{
  JsonBuilder *body = natterd_api_ok_body (request);
  GHashTableIter iter;
  NatterdUser *user;
  gint64 now = natterd_now_ms ();

  json_builder_set_member_name (body, "users");
  json_builder_begin_array (body);
  g_hash_table_iter_init (&iter, request->app->users);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &user))
    if (user->blocked_until > now)
      {
        g_autofree char *end = natterd_api_format_time (user->blocked_until);

        json_builder_begin_object (body);
        json_builder_set_member_name (body, "userId");
        json_builder_add_string_value (body, user->user_id);
        json_builder_set_member_name (body, "blockEndTime");
        json_builder_add_string_value (body, end);
        json_builder_end_object (body);
      }
  json_builder_end_array (body);
  natterd_api_reply_ok (request);
}

static void
api_user_blacklist_change (NatterdApiRequest *request,
                           gboolean           remove)
{
  const char *user_id = natterd_api_require_id (request, "userId");
  g_autoptr(GPtrArray) black_ids = NULL;
  NatterdBlacklistOp *op;
  NatterdUser *user;

  if (user_id == NULL || (black_ids = natterd_api_require_ids (request, "blackUserId", MAX_USERS_PER_CALL)) == NULL)
    return;

  user = natterd_server_ensure_user (request->server, request->app, user_id);
  op = natterd_op_new (NATTERD_OP_BLACKLIST, NULL, NULL, NULL);
  op->user_id = user->id;
  op->remove = remove;
  for (guint i = 0; i < black_ids->len; i++)
    {
      NatterdUser *other = natterd_server_ensure_user (request->server, request->app,
                                                       g_ptr_array_index (black_ids, i));

      g_array_append_val (op->blocked_ids, other->id);
      natterd_server_set_blocking (request->server, user, other, !remove);
    }
  natterd_api_submit_part (request, op);
}

static void
api_user_blacklist_add (NatterdApiRequest *request)
{
  api_user_blacklist_change (request, FALSE);
}

static void
api_user_blacklist_remove (NatterdApiRequest *request)
{
  api_user_blacklist_change (request, TRUE);
}

static void
api_user_blacklist_query (NatterdApiRequest *request)
{
  const char *user_id = natterd_api_require_id (request, "userId");
  NatterdUser *user;
  JsonBuilder *body;

  if (user_id == NULL)
    return;
  user = natterd_directory_lookup_user (request->app, user_id);
  body = natterd_api_ok_body (request);
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
  natterd_api_reply_ok (request);
}


const NatterdApiRoute natterd_api_user_routes[] = {
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
  { NULL, NULL }
};
