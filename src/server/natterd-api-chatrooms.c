/* natterd-api-chatrooms.c — the server API's chatroom/ paths: create,
 * destroy, query, members, gags and blocks
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-api-private.h"

#include <string.h>

static void
api_chatroom_create (NatterdApiRequest *request)
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
      if (!natterd_api_check_id (request, "chatroom id", id))
        return;
      if (strlen (value) > NATTER_NAME_MAX_LENGTH)
        {
          natterd_api_reply_error (request, NATTER_API_LENGTH_OVER_LIMIT, "Chatroom name is too long");
          return;
        }
      created++;
    }
  if (created == 0)
    {
      natterd_api_reply_error (request, NATTER_API_BAD_PARAMETER, "chatroom[id]=name is required");
      return;
    }
  if (created > MAX_CHATROOMS_PER_CALL)
    {
      natterd_api_reply_error (request, NATTER_API_COUNT_OVER_LIMIT, "Too many chatrooms");
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
  natterd_api_finish_when_stored (request);
}

static void
api_chatroom_destroy (NatterdApiRequest *request)
{
  g_autoptr(GPtrArray) ids = natterd_api_require_ids (request, "chatroomId", MAX_CHATROOMS_PER_CALL);

  if (ids == NULL)
    return;
  for (guint i = 0; i < ids->len; i++)
    {
      NatterdChatroom *room = g_hash_table_lookup (request->app->chatrooms, g_ptr_array_index (ids, i));

      if (room != NULL)
        natterd_server_chatroom_destroy (request->server, room);
      if (request->server->cluster != NULL)
        natterd_server_cluster_chatroom_destroyed (request->server, request->app, g_ptr_array_index (ids, i));
    }
  natterd_api_finish_when_stored (request);
}

static void
api_chatroom_query (NatterdApiRequest *request)
{
  g_autoptr(GPtrArray) ids = natterd_api_require_ids (request, "chatroomId", MAX_CHATROOMS_PER_CALL);
  JsonBuilder *body;

  if (ids == NULL)
    return;
  body = natterd_api_ok_body (request);
  json_builder_set_member_name (body, "chatRooms");
  json_builder_begin_array (body);
  for (guint i = 0; i < ids->len; i++)
    {
      NatterdChatroom *room = g_hash_table_lookup (request->app->chatrooms, g_ptr_array_index (ids, i));
      g_autofree char *time = NULL;

      if (room == NULL)
        continue;
      time = natterd_api_format_time (room->created);
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
  natterd_api_reply_ok (request);
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
api_chatroom_user_query (NatterdApiRequest *request)
{
  const char *room_id = natterd_api_require_id (request, "chatroomId");
  g_autoptr(GPtrArray) members = g_ptr_array_new ();
  NatterdChatroom *room;
  JsonBuilder *body;
  gint64 count, order;

  if (room_id == NULL ||
      !natterd_api_int_param (request, "count", 1, 500, TRUE, 0, &count) ||
      !natterd_api_int_param (request, "order", 1, 2, FALSE, 1, &order))
    return;

  room = g_hash_table_lookup (request->app->chatrooms, room_id);
  if (room == NULL)
    {
      natterd_api_reply_error (request, NATTER_CODE_CHATROOM_NOT_EXIST, "Chatroom does not exist");
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

  body = natterd_api_ok_body (request);
  json_builder_set_member_name (body, "total");
  json_builder_add_int_value (body, members->len);
  json_builder_set_member_name (body, "users");
  json_builder_begin_array (body);
  for (guint i = 0; i < members->len && i < count; i++)
    {
      NatterdMember *member = g_ptr_array_index (members, order == 1 ? i : members->len - 1 - i);
      g_autofree char *time = natterd_api_format_time (member->joined);

      json_builder_begin_object (body);
      json_builder_set_member_name (body, "id");
      json_builder_add_string_value (body, member->user->user_id);
      json_builder_set_member_name (body, "time");
      json_builder_add_string_value (body, time);
      json_builder_end_object (body);
    }
  json_builder_end_array (body);
  natterd_api_reply_ok (request);
}

static void
api_chatroom_users_exist (NatterdApiRequest *request)
{
  const char *room_id = natterd_api_require_id (request, "chatroomId");
  g_autoptr(GPtrArray) user_ids = room_id != NULL ? natterd_api_require_ids (request, "userId", MAX_USERS_PER_CALL) : NULL;
  NatterdChatroom *room;
  JsonBuilder *body;

  if (user_ids == NULL)
    return;
  room = g_hash_table_lookup (request->app->chatrooms, room_id);
  body = natterd_api_ok_body (request);
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
  natterd_api_reply_ok (request);
}

/* chatroom/user/gag and chatroom/user/block: RongCloud paths; a block
 * also kicks (23409) and keeps the user out until it ends. */
static void
chatroom_restrict (NatterdApiRequest *request,
                   gboolean           block,
                   gboolean           add)
{
  const char *room_id = natterd_api_require_id (request, "chatroomId");
  g_autoptr(GPtrArray) user_ids = room_id != NULL ? natterd_api_require_ids (request, "userId", MAX_USERS_PER_CALL) : NULL;
  NatterdChatroom *room;
  gint64 minutes = 0;
  gint64 until = 0;

  if (user_ids == NULL ||
      (add && !natterd_api_int_param (request, "minute", 1, GAG_MAX_MINUTES, TRUE, 0, &minutes)))
    return;

  room = g_hash_table_lookup (request->app->chatrooms, room_id);
  if (room == NULL)
    {
      natterd_api_reply_error (request, NATTER_CODE_CHATROOM_NOT_EXIST, "Chatroom does not exist");
      return;
    }

  for (guint i = 0; i < user_ids->len; i++)
    {
      NatterdUser *user = natterd_server_ensure_user (request->server, request->app,
                                                      g_ptr_array_index (user_ids, i));
      GHashTable *table = block ? room->banned : room->gagged;

      if (add)
        {
          until = natterd_now_ms () + minutes * 60 * 1000;
          g_hash_table_insert (table, user, g_memdup2 (&until, sizeof until));
          if (block && g_hash_table_contains (room->members, user))
            {
              natterd_server_chatroom_kick (request->server, room, user,
                                            NATTER_CODE_KICKED_FROM_CHATROOM);
              natterd_server_chatroom_tell_kicked (request->server, room, user);
            }
        }
      else
        {
          g_hash_table_remove (table, user);
        }
    }
  if (request->server->cluster != NULL)
    natterd_server_cluster_chatroom_restrict (request->server, room, user_ids, block, until);
  natterd_api_reply_ok (request);
}

static void
chatroom_restrict_list (NatterdApiRequest *request,
                        gboolean           block)
{
  const char *room_id = natterd_api_require_id (request, "chatroomId");
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
      natterd_api_reply_error (request, NATTER_CODE_CHATROOM_NOT_EXIST, "Chatroom does not exist");
      return;
    }

  body = natterd_api_ok_body (request);
  json_builder_set_member_name (body, "users");
  json_builder_begin_array (body);
  g_hash_table_iter_init (&iter, block ? room->banned : room->gagged);
  while (g_hash_table_iter_next (&iter, (gpointer *) &user, (gpointer *) &until))
    if (*until > now)
      {
        g_autofree char *time = natterd_api_format_time (*until);

        json_builder_begin_object (body);
        json_builder_set_member_name (body, "time");
        json_builder_add_string_value (body, time);
        json_builder_set_member_name (body, "userId");
        json_builder_add_string_value (body, user->user_id);
        json_builder_end_object (body);
      }
  json_builder_end_array (body);
  natterd_api_reply_ok (request);
}

static void api_chatroom_gag_add (NatterdApiRequest *r) { chatroom_restrict (r, FALSE, TRUE); }
static void api_chatroom_gag_rollback (NatterdApiRequest *r) { chatroom_restrict (r, FALSE, FALSE); }
static void api_chatroom_gag_list (NatterdApiRequest *r) { chatroom_restrict_list (r, FALSE); }
static void api_chatroom_block_add (NatterdApiRequest *r) { chatroom_restrict (r, TRUE, TRUE); }
static void api_chatroom_block_rollback (NatterdApiRequest *r) { chatroom_restrict (r, TRUE, FALSE); }
static void api_chatroom_block_list (NatterdApiRequest *r) { chatroom_restrict_list (r, TRUE); }


const NatterdApiRoute natterd_api_chatroom_routes[] = {
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
  { NULL, NULL }
};
