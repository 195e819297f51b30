/* natterd-api-messages.c — the server API's message/ paths: publishing to
 * users, groups, chatrooms and as the system, recall, hourly history files
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-api-private.h"

#include <string.h>

static void
message_published (int         code,
                   const char *message_uid,
                   gint64      sent_time,
                   guint64     timeline_seq,
                   gpointer    user_data)
{
  NatterdApiRequest *request = user_data;

  if (code == NATTER_CODE_SERVER_ERROR)
    natterd_api_fail_part (request, NATTER_API_INTERNAL_ERROR, "Could not store the message");
  else if (code != NATTER_CODE_OK)
    natterd_api_fail_part (request, code, natter_code_to_string (code));
  natterd_api_end_part (request);
}

/* The message parameters every publish path shares. */
static gboolean
message_params (NatterdApiRequest     *request,
                NatterdPublishRequest *out)
{
  const char *object_name = natterd_api_param (request, "objectName");
  const char *content = natterd_api_param (request, "content");
  const char *push_content;
  g_autoptr(GError) error = NULL;
  gint64 persisted, counted, include_sender;

  if (object_name == NULL || *object_name == '\0')
    {
      natterd_api_reply_error (request, NATTER_API_BAD_PARAMETER, "objectName is required");
      return FALSE;
    }
  if (strlen (object_name) > NATTER_OBJECT_NAME_MAX_LENGTH)
    {
      natterd_api_reply_error (request, NATTER_API_LENGTH_OVER_LIMIT, "objectName is too long");
      return FALSE;
    }
  for (const char *p = object_name; *p != '\0'; p++)
    if (!g_ascii_isgraph (*p))
      {
        natterd_api_reply_error (request, NATTER_API_BAD_PARAMETER, "objectName must be printable ASCII");
        return FALSE;
      }
  if (!natter_content_is_valid (content, &error))
    {
      natterd_api_reply_error (request,
                   error->code == NATTER_PROTO_ERROR_CONTENT_TOO_LARGE ?
                   NATTER_API_LENGTH_OVER_LIMIT : NATTER_API_BAD_PARAMETER,
                   error->message);
      return FALSE;
    }
  if (!natterd_api_optional_text (request, "pushContent", 1024, &push_content) ||
      !natterd_api_int_param (request, "isPersisted", 0, 1, FALSE, 1, &persisted) ||
      !natterd_api_int_param (request, "isCounted", 0, 1, FALSE, 1, &counted) ||
      !natterd_api_int_param (request, "isIncludeSender", 0, 1, FALSE, 0, &include_sender))
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
publish_to (NatterdApiRequest *request,
            int                conversation_type,
            const char        *targets_name,
            guint              max_targets)
{
  NatterdPublishRequest publish = { 0 };
  g_autoptr(GPtrArray) targets = NULL;
  const char *from_id = natterd_api_require_id (request, "fromUserId");

  if (from_id == NULL || (targets = natterd_api_require_ids (request, targets_name, max_targets)) == NULL ||
      !message_params (request, &publish))
    return;

  if (conversation_type == NATTER_CONVERSATION_CHATROOM)
    for (guint i = 0; i < targets->len; i++)
      if (!g_hash_table_contains (request->app->chatrooms, g_ptr_array_index (targets, i)))
        {
          natterd_api_reply_error (request, NATTER_CODE_CHATROOM_NOT_EXIST, "Chatroom does not exist");
          return;
        }

  publish.sender = natterd_server_ensure_user (request->server, request->app, from_id);
  publish.conversation_type = conversation_type;

  natterd_api_begin_part (request);
  for (guint i = 0; i < targets->len; i++)
    {
      publish.target_id = g_ptr_array_index (targets, i);
      natterd_api_begin_part (request);
      natterd_server_publish (request->server, &publish, message_published,
                              natterd_api_request_ref (request), natterd_api_request_unref);
    }
  natterd_api_end_part (request);
}

static void
api_message_private_publish (NatterdApiRequest *request)
{
  publish_to (request, NATTER_CONVERSATION_PRIVATE, "toUserId", MAX_USERS_PER_CALL);
}

static void
api_message_system_publish (NatterdApiRequest *request)
{
  publish_to (request, NATTER_CONVERSATION_SYSTEM, "toUserId", MAX_USERS_PER_CALL);
}

static void
api_message_group_publish (NatterdApiRequest *request)
{
  publish_to (request, NATTER_CONVERSATION_GROUP, "toGroupId", MAX_GROUPS_PER_PUBLISH);
}

static void
api_message_chatroom_publish (NatterdApiRequest *request)
{
  publish_to (request, NATTER_CONVERSATION_CHATROOM, "toChatroomId", MAX_CHATROOMS_PER_CALL);
}

static void
recalled (int                   code,
          const NatterdMessage *command,
          gpointer              user_data)
{
  NatterdApiRequest *request = user_data;

  if (code != NATTER_CODE_OK)
    natterd_api_reply_error (request, code, natter_code_to_string (code));
  else
    natterd_api_reply_ok (request);
}

static void
api_message_recall (NatterdApiRequest *request)
{
  const char *from_id = natterd_api_require_id (request, "fromUserId");
  const char *target_id = from_id != NULL ? natterd_api_require_id (request, "targetId") : NULL;
  const char *uid = natterd_api_param (request, "messageUID");
  gint64 type, sent_time;
  NatterdUser *sender;

  if (target_id == NULL ||
      !natterd_api_int_param (request, "conversationType", 1, 8, TRUE, 0, &type) ||
      !natterd_api_int_param (request, "sentTime", 0, G_MAXINT64, FALSE, 0, &sent_time))
    return;
  if (uid == NULL || *uid == '\0')
    {
      natterd_api_reply_error (request, NATTER_API_BAD_PARAMETER, "messageUID is required");
      return;
    }

  sender = natterd_directory_lookup_user (request->app, from_id);
  if (sender == NULL)
    {
      natterd_api_reply_error (request, NATTER_CODE_RECALL_FAILED, "No such message");
      return;
    }
  natterd_server_recall (request->server, request->app, sender, (int) type, target_id, uid,
                         sent_time, recalled, natterd_api_request_ref (request), natterd_api_request_unref);
}

static void
history_ready (const char   *url,
               const GError *error,
               gpointer      user_data)
{
  NatterdApiRequest *request = user_data;
  JsonBuilder *body;

  if (error != NULL)
    {
      natterd_api_reply_error (request, NATTER_API_INTERNAL_ERROR, "The export could not be written");
      return;
    }
  body = natterd_api_ok_body (request);
  json_builder_set_member_name (body, "url");
  json_builder_add_string_value (body, url);
  json_builder_set_member_name (body, "date");
  json_builder_add_string_value (body, natterd_api_param (request, "date"));
  natterd_api_reply_ok (request);
}

static void
api_message_history (NatterdApiRequest *request)
{
  const char *date = natterd_api_param (request, "date");
  gint64 hour_start;

  if (!natterd_history_parse_date (date, &hour_start))
    {
      natterd_api_reply_error (request, NATTER_API_BAD_PARAMETER, "date must be YYYYMMDDHH (UTC)");
      return;
    }
  natterd_server_history_export (request->server, request->app, hour_start, history_ready,
                                 natterd_api_request_ref (request), natterd_api_request_unref);
}


const NatterdApiRoute natterd_api_message_routes[] = {
  { "message/private/publish", api_message_private_publish },
  { "message/group/publish", api_message_group_publish },
  { "message/system/publish", api_message_system_publish },
  { "message/chatroom/publish", api_message_chatroom_publish },
  { "message/recall", api_message_recall },
  { "message/history", api_message_history },
  { NULL, NULL }
};
