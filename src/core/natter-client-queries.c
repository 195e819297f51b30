/* natter-client-queries.c — Query/Result calls of NatterClient (and local messages)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-client-private.h"

#include "natter-message-private.h"
#include "natter-store-private.h"
#include "natter-json.h"

/* Each call sends its Query with a GTask of its own whose result is the
 * Result frame, then turns that frame into what its finish returns. */

typedef void (*ResultHandler) (GTask       *task,
                               NatterFrame *frame);

static void
query_done_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  ResultHandler handler = g_object_get_data (G_OBJECT (task), "natter-handler");
  g_autoptr(NatterFrame) frame = NULL;
  g_autoptr(GError) error = NULL;

  frame = g_task_propagate_pointer (G_TASK (result), &error);
  if (frame == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  handler (task, frame);
}

static void
run_query (NatterClient  *self,
           Natter__Query *query,
           GTask         *task,
           ResultHandler  handler)
{
  g_autoptr(GTask) inner = g_task_new (self, NULL, query_done_cb, g_object_ref (task));

  g_object_set_data (G_OBJECT (task), "natter-handler", handler);
  natter_client_send_query (self, query, inner);
}

static gboolean
check_conversation (GTask                  *task,
                    NatterConversationType  type,
                    const char             *target_id)
{
  if (!NATTER_CONVERSATION_TYPE_IS_VALID (type) || !natter_id_is_valid (target_id))
    {
      g_task_return_new_error (task, NATTER_CLIENT_ERROR, NATTER_CODE_INVALID_PARAMETER,
                               "Invalid parameter (%d): conversation %d:%s",
                               NATTER_CODE_INVALID_PARAMETER, type, target_id ? target_id : "");
      return FALSE;
    }
  return TRUE;
}

static GPtrArray *
messages_from_proto (NatterClient     *self,
                     Natter__Message **messages,
                     gsize             n_messages)
{
  GPtrArray *array = g_ptr_array_new_with_free_func (g_object_unref);

  for (gsize i = 0; i < n_messages; i++)
    {
      g_autoptr(GError) error = NULL;
      NatterMessage *message = natter_message_new_from_proto (messages[i],
                                                              natter_client_get_user_id (self),
                                                              FALSE, &error);

      if (message == NULL)
        g_warning ("Ignoring message %s: %s", messages[i]->message_uid, error->message);
      else
        {
          /* History and chatroom pages name their senders too. */
          if (natter_client_get_profile_fetcher (self) != NULL)
            natter_profile_fetcher_note (natter_client_get_profile_fetcher (self), message);
          g_ptr_array_add (array, message);
        }
    }

  return array;
}

/* ---------------------------------------------------------------- history */

static void
history_stored_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  GPtrArray *stored = natter_store_add_history_finish (NATTER_STORE (object), result, &error);

  if (stored == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  /* The server pages newest first; lists want oldest first. */
  for (guint i = 0; i < stored->len / 2; i++)
    {
      gpointer tmp = stored->pdata[i];

      stored->pdata[i] = stored->pdata[stored->len - 1 - i];
      stored->pdata[stored->len - 1 - i] = tmp;
    }

  g_task_return_pointer (task, stored, (GDestroyNotify) g_ptr_array_unref);
}

static void
history_result (GTask       *task,
                NatterFrame *frame)
{
  NatterClient *self = g_task_get_source_object (task);
  const Natter__Result *result = frame->result;
  g_autoptr(GPtrArray) messages = NULL;

  if (result->payload_case != NATTER__RESULT__PAYLOAD_HISTORY)
    {
      g_task_return_new_error (task, NATTER_CLIENT_ERROR, NATTER_CODE_SERVER_ERROR,
                               "Server answered a history query with something else");
      return;
    }

  g_object_set_data (G_OBJECT (task), "has-more", GINT_TO_POINTER (result->history->has_more));
  messages = messages_from_proto (self, result->history->messages, result->history->n_messages);
  natter_store_add_history_async (natter_client_get_store (self), messages, NULL,
                                  history_stored_cb, g_object_ref (task));
}

void
natter_client_get_history_async (NatterClient           *self,
                                 NatterConversationType  type,
                                 const char             *target_id,
                                 gint64                  before_time,
                                 guint                   count,
                                 GCancellable           *cancellable,
                                 GAsyncReadyCallback     callback,
                                 gpointer                user_data)
{
  g_autoptr(GTask) task = NULL;
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__HistoryRequest request = NATTER__HISTORY_REQUEST__INIT;

  g_return_if_fail (NATTER_IS_CLIENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_client_get_history_async);
  if (!check_conversation (task, type, target_id))
    return;

  request.conversation_type = type;
  request.target_id = (char *) target_id;
  request.before_time = MAX (before_time, 0);
  request.count = CLAMP (count, NATTER_HISTORY_MIN_COUNT, NATTER_HISTORY_MAX_COUNT);
  query.method_case = NATTER__QUERY__METHOD_HISTORY;
  query.history = &request;
  run_query (self, &query, task, history_result);
}

GPtrArray *
natter_client_get_history_finish (NatterClient  *self,
                                  GAsyncResult  *result,
                                  gboolean      *has_more,
                                  GError       **error)
{
  GPtrArray *messages;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  messages = g_task_propagate_pointer (G_TASK (result), error);
  if (has_more != NULL)
    *has_more = messages != NULL &&
                GPOINTER_TO_INT (g_object_get_data (G_OBJECT (result), "has-more"));
  return messages;
}

/* --------------------------------------------------------- conversation list */

typedef struct {
  GPtrArray *conversations;     /* NatterServerConversation */
  char *cursor;
} SyncData;

static void
sync_data_free (SyncData *data)
{
  g_ptr_array_unref (data->conversations);
  g_free (data->cursor);
  g_free (data);
}

static void sync_next_page (GTask *task);

static void
sync_merged_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  SyncData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (!natter_store_merge_conversations_finish (NATTER_STORE (object), result, &error))
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_int (task, data->conversations->len);
}

static void
sync_page_result (GTask       *task,
                  NatterFrame *frame)
{
  NatterClient *self = g_task_get_source_object (task);
  SyncData *data = g_task_get_task_data (task);
  const Natter__ConversationListResult *list;

  if (frame->result->payload_case != NATTER__RESULT__PAYLOAD_CONVERSATION_LIST)
    {
      g_task_return_new_error (task, NATTER_CLIENT_ERROR, NATTER_CODE_SERVER_ERROR,
                               "Server answered a conversation list query with something else");
      return;
    }

  list = frame->result->conversation_list;
  for (gsize i = 0; i < list->n_conversations; i++)
    {
      const Natter__Conversation *c = list->conversations[i];
      NatterServerConversation *conversation = g_new0 (NatterServerConversation, 1);

      conversation->type = c->conversation_type;
      conversation->target_id = g_strdup (c->target_id);
      conversation->unread_count = c->unread_count;
      conversation->pinned = c->pinned;
      conversation->muted = c->muted;
      conversation->updated_time = c->updated_time;
      if (c->latest_message != NULL)
        {
          conversation->latest_message = natter_message_new_from_proto (c->latest_message,
                                                                        natter_client_get_user_id (self),
                                                                        FALSE, NULL);
          conversation->latest_is_preview = (c->latest_message->flags & NATTER_MESSAGE_FLAG_PREVIEW) != 0;
        }
      g_ptr_array_add (data->conversations, conversation);
    }

  g_free (data->cursor);
  data->cursor = g_strdup (list->next_cursor);

  /* A cursor that does not move would loop forever. */
  if (data->cursor != NULL && *data->cursor != '\0' && list->n_conversations > 0)
    {
      sync_next_page (task);
      return;
    }

  natter_store_merge_conversations_async (natter_client_get_store (self), data->conversations, NULL,
                                          sync_merged_cb, g_object_ref (task));
}

static void
sync_next_page (GTask *task)
{
  NatterClient *self = g_task_get_source_object (task);
  SyncData *data = g_task_get_task_data (task);
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__ConversationListRequest request = NATTER__CONVERSATION_LIST_REQUEST__INIT;

  request.limit = NATTER_CONVERSATION_LIST_MAX_LIMIT;
  request.cursor = data->cursor;
  query.method_case = NATTER__QUERY__METHOD_CONVERSATION_LIST;
  query.conversation_list = &request;
  run_query (self, &query, task, sync_page_result);
}

void
natter_client_sync_conversations_async (NatterClient        *self,
                                        GCancellable        *cancellable,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  SyncData *data;

  g_return_if_fail (NATTER_IS_CLIENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_client_sync_conversations_async);
  data = g_new0 (SyncData, 1);
  data->conversations = g_ptr_array_new_with_free_func ((GDestroyNotify) natter_server_conversation_free);
  g_task_set_task_data (task, data, (GDestroyNotify) sync_data_free);
  sync_next_page (task);
}

guint
natter_client_sync_conversations_finish (NatterClient  *self,
                                         GAsyncResult  *result,
                                         GError       **error)
{
  g_autoptr(GError) local_error = NULL;
  gssize count;

  g_return_val_if_fail (g_task_is_valid (result, self), 0);

  count = g_task_propagate_int (G_TASK (result), &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return 0;
    }
  return (guint) count;
}

/* ----------------------------------------------------------- local messages */

static void
local_stored_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  NatterMessage *message = natter_store_add_message_finish (NATTER_STORE (object), result, NULL, &error);

  if (message == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, message, g_object_unref);
}

void
natter_client_insert_local_message_async (NatterClient           *self,
                                          NatterConversationType  type,
                                          const char             *target_id,
                                          const char             *sender_user_id,
                                          const char             *object_name,
                                          JsonObject             *content,
                                          NatterMessageDirection  direction,
                                          gint64                  sent_time,
                                          GCancellable           *cancellable,
                                          GAsyncReadyCallback     callback,
                                          gpointer                user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(NatterMessage) message = NULL;
  gint64 now = natter_client_server_now (self);
  const char *own = natter_client_get_user_id (self);

  g_return_if_fail (NATTER_IS_CLIENT (self));
  g_return_if_fail (target_id != NULL);
  g_return_if_fail (object_name != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_client_insert_local_message_async);

  if (!NATTER_CONVERSATION_TYPE_IS_VALID (type))
    {
      g_task_return_new_error (task, NATTER_CLIENT_ERROR, NATTER_CODE_INVALID_PARAMETER,
                               "Invalid conversation type %d", type);
      return;
    }

  message = natter_message_new_full (0, NULL, type, target_id,
                                     sender_user_id ? sender_user_id : (own ? own : ""),
                                     object_name, content, direction,
                                     direction == NATTER_MESSAGE_DIRECTION_SEND ? NATTER_SENT_STATUS_SENT
                                                                                : NATTER_SENT_STATUS_READ,
                                     sent_time > 0 ? sent_time : now, g_get_real_time () / 1000, FALSE, 0,
                                     NULL, NATTER_MESSAGE_FLAG_PERSISTED);
  natter_store_add_message_async (natter_client_get_store (self), message, cancellable, local_stored_cb,
                                  g_steal_pointer (&task));
}

NatterMessage *
natter_client_insert_local_message_finish (NatterClient  *self,
                                           GAsyncResult  *result,
                                           GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* --------------------------------------------------------------- chatrooms */

/* A member tells a room it joined and left (NT:ChrmNtf, status-only) only
 * while the room has at most this many members: in a big room the notices
 * would drown the talk and cost every member a delivery per join. */
#define CHATROOM_NOTICE_MEMBERS_MAX 500

static void quit_now (GTask *task);

static void
chatroom_notice_sent_cb (GObject      *object,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  g_autoptr(GTask) quit = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterMessage) sent = natter_client_send_message_finish (NATTER_CLIENT (object), result, &error);

  if (sent == NULL)
    g_debug ("Chat room notice not sent: %s", error->message);
  /* A quit waits for its notice, sent while still a member. */
  if (quit != NULL)
    quit_now (quit);
}

static void
send_chatroom_notice (NatterClient *self,
                      const char   *chatroom_id,
                      const char   *operation,
                      GTask        *quit)
{
  g_autoptr(JsonObject) content = json_object_new ();

  json_object_set_string_member (content, "operation", operation);
  natter_client_send_message_async (self, NATTER_CONVERSATION_CHATROOM, chatroom_id,
                                    NATTER_OBJECT_CHATROOM_NOTIFICATION, content, NULL,
                                    chatroom_notice_sent_cb, quit != NULL ? g_object_ref (quit) : NULL);
}

static void
chatroom_stored_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  NatterClient *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;
  GPtrArray *stored = natter_store_add_history_finish (NATTER_STORE (object), result, &error);

  if (stored == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  /* The recent messages of a room arrive like any other. */
  for (guint i = 0; i < stored->len; i++)
    g_signal_emit_by_name (self, "message-received", g_ptr_array_index (stored, i));

  g_task_return_pointer (task, stored, (GDestroyNotify) g_ptr_array_unref);
}

static void
chatroom_join_result (GTask       *task,
                      NatterFrame *frame)
{
  NatterClient *self = g_task_get_source_object (task);
  g_autoptr(GPtrArray) messages = NULL;
  const Natter__ChatroomJoinResult *join;

  if (frame->result->payload_case != NATTER__RESULT__PAYLOAD_CHATROOM_JOIN)
    {
      g_task_return_new_error (task, NATTER_CLIENT_ERROR, NATTER_CODE_SERVER_ERROR,
                               "Server answered a chatroom join with something else");
      return;
    }

  join = frame->result->chatroom_join;
  /* Joined by the user (not rejoined after a reconnect): the room hears of
   * it, and of the quit later, when it is small (the value says so). */
  if (!g_hash_table_contains (natter_client_get_joined_chatrooms (self), g_task_get_task_data (task)))
    {
      gboolean announce = join->member_count <= CHATROOM_NOTICE_MEMBERS_MAX;

      g_hash_table_insert (natter_client_get_joined_chatrooms (self), g_strdup (g_task_get_task_data (task)),
                           GINT_TO_POINTER (announce));
      if (announce)
        send_chatroom_notice (self, g_task_get_task_data (task), "Join", NULL);
    }
  g_object_set_data (G_OBJECT (task), "member-count", GUINT_TO_POINTER (join->member_count));
  messages = messages_from_proto (self, join->messages, join->n_messages);
  natter_store_add_history_async (natter_client_get_store (self), messages, NULL,
                                  chatroom_stored_cb, g_object_ref (task));
}

void
natter_client_join_chatroom_async (NatterClient        *self,
                                   const char          *chatroom_id,
                                   int                  count,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__ChatroomJoinRequest request = NATTER__CHATROOM_JOIN_REQUEST__INIT;

  g_return_if_fail (NATTER_IS_CLIENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_client_join_chatroom_async);
  if (!check_conversation (task, NATTER_CONVERSATION_CHATROOM, chatroom_id))
    return;
  if (count < -1 || count > NATTER_CHATROOM_JOIN_MAX_COUNT)
    {
      g_task_return_new_error (task, NATTER_CLIENT_ERROR, NATTER_CODE_INVALID_PARAMETER,
                               "Invalid parameter (%d): count %d is not in -1..50",
                               NATTER_CODE_INVALID_PARAMETER, count);
      return;
    }

  g_task_set_task_data (task, g_strdup (chatroom_id), g_free);
  request.chatroom_id = (char *) chatroom_id;
  request.count = count;
  query.method_case = NATTER__QUERY__METHOD_CHATROOM_JOIN;
  query.chatroom_join = &request;
  run_query (self, &query, task, chatroom_join_result);
}

GPtrArray *
natter_client_join_chatroom_finish (NatterClient  *self,
                                    GAsyncResult  *result,
                                    guint         *member_count,
                                    GError       **error)
{
  GPtrArray *messages;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  messages = g_task_propagate_pointer (G_TASK (result), error);
  if (member_count != NULL)
    *member_count = messages ? GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (result), "member-count")) : 0;
  return messages;
}

static void
rejoined_cb (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  NatterClient *self = NATTER_CLIENT (object);
  g_autofree char *chatroom_id = user_data;
  g_autoptr(GPtrArray) messages = NULL;
  g_autoptr(GError) error = NULL;

  messages = natter_client_join_chatroom_finish (self, result, NULL, &error);
  if (messages != NULL || g_error_matches (error, NATTER_CLIENT_ERROR, NATTER_CODE_NOT_CONNECTED) ||
      g_error_matches (error, NATTER_CLIENT_ERROR, NATTER_CODE_TIMEOUT))
    return;

  /* Refused (kicked and banned, say): the app hears of it as of a kick. */
  g_hash_table_remove (natter_client_get_joined_chatrooms (self), chatroom_id);
  g_signal_emit_by_name (self, "chatroom-event", chatroom_id,
                         error->domain == NATTER_CLIENT_ERROR ? error->code : NATTER_CODE_SERVER_ERROR);
}

void
natter_client_rejoin_chatrooms (NatterClient *self,
                                gboolean      kept)
{
  g_autofree char **ids = (char **) g_hash_table_get_keys_as_array (natter_client_get_joined_chatrooms (self),
                                                                    NULL);

  for (guint i = 0; ids[i] != NULL; i++)
    natter_client_join_chatroom_async (self, ids[i], kept ? -1 : 0, NULL, rejoined_cb, g_strdup (ids[i]));
}

static void
boolean_result (GTask       *task,
                NatterFrame *frame)
{
  g_task_return_boolean (task, TRUE);
}

static void
quit_now (GTask *task)
{
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__ChatroomQuitRequest request = NATTER__CHATROOM_QUIT_REQUEST__INIT;

  request.chatroom_id = g_task_get_task_data (task);
  query.method_case = NATTER__QUERY__METHOD_CHATROOM_QUIT;
  query.chatroom_quit = &request;
  run_query (g_task_get_source_object (task), &query, task, boolean_result);
}

void
natter_client_quit_chatroom_async (NatterClient        *self,
                                   const char          *chatroom_id,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  gpointer announced = NULL;

  g_return_if_fail (NATTER_IS_CLIENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_client_quit_chatroom_async);
  if (!check_conversation (task, NATTER_CONVERSATION_CHATROOM, chatroom_id))
    return;

  g_task_set_task_data (task, g_strdup (chatroom_id), g_free);
  /* Not rejoined after a reconnect, whatever natterd answers. */
  g_hash_table_lookup_extended (natter_client_get_joined_chatrooms (self), chatroom_id, NULL, &announced);
  g_hash_table_remove (natter_client_get_joined_chatrooms (self), chatroom_id);
  if (GPOINTER_TO_INT (announced) && natter_client_is_connected (self))
    send_chatroom_notice (self, chatroom_id, "Quit", task);
  else
    quit_now (task);
}

gboolean
natter_client_quit_chatroom_finish (NatterClient  *self,
                                    GAsyncResult  *result,
                                    GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ------------------------------------------------------------ clear unread */

typedef struct {
  NatterConversationType type;
  char *target_id;
  gint64 read_time;
  char *latest_uid;
} ClearData;

static void
clear_data_free (ClearData *data)
{
  g_free (data->target_id);
  g_free (data->latest_uid);
  g_free (data);
}

static void
ignore_send_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterMessage) message = natter_client_send_message_finish (NATTER_CLIENT (object),
                                                                        result, &error);

  if (message == NULL)
    g_debug ("Read notice not sent: %s", error->message);
}

static void
clear_unread_server_result (GTask       *task,
                            NatterFrame *frame)
{
  NatterClient *self = g_task_get_source_object (task);
  ClearData *data = g_task_get_task_data (task);
  g_autoptr(JsonObject) sync = json_object_new ();

  /* The user's other devices clear the same conversation ... */
  json_object_set_int_member (sync, "lastMessageSendTime", data->read_time);
  natter_client_send_message_async (self, data->type, data->target_id,
                                    NATTER_OBJECT_SYNC_READ_STATUS, sync, NULL, ignore_send_cb, NULL);

  /* ... and in a private chat the peer sees its messages read. */
  if (data->type == NATTER_CONVERSATION_PRIVATE)
    {
      g_autoptr(JsonObject) receipt = json_object_new ();

      json_object_set_int_member (receipt, "lastMessageSendTime", data->read_time);
      json_object_set_string_member (receipt, "messageUId", data->latest_uid ? data->latest_uid : "");
      json_object_set_int_member (receipt, "type", 1);
      natter_client_send_message_async (self, data->type, data->target_id,
                                        NATTER_OBJECT_READ_NOTIFICATION, receipt, NULL,
                                        ignore_send_cb, NULL);
    }

  g_task_return_boolean (task, TRUE);
}

static void
clear_unread_local_cb (GObject      *object,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  NatterClient *self = g_task_get_source_object (task);
  ClearData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__ClearUnreadRequest request = NATTER__CLEAR_UNREAD_REQUEST__INIT;

  if (!natter_store_clear_unread_finish (NATTER_STORE (object), result, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  request.conversation_type = data->type;
  request.target_id = data->target_id;
  request.last_read_time = data->read_time;
  /* Groups: the read position on the timeline (natter.v2), the newest read here. */
  request.read_seq = natter_store_clear_unread_get_read_seq (result);
  query.method_case = NATTER__QUERY__METHOD_CLEAR_UNREAD;
  query.clear_unread = &request;
  run_query (self, &query, task, clear_unread_server_result);
}

static void
clear_unread_conversation_cb (GObject      *object,
                              GAsyncResult *result,
                              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  ClearData *data = g_task_get_task_data (task);
  g_autoptr(NatterConversation) conversation = NULL;
  g_autoptr(GError) error = NULL;
  NatterMessage *latest;

  conversation = natter_store_get_conversation_finish (NATTER_STORE (object), result, &error);
  if (error != NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  /* Read up to the newest message here (server time); never in the future. */
  latest = conversation ? natter_conversation_get_latest_message (conversation) : NULL;
  data->read_time = MAX (data->read_time, latest ? natter_message_get_sent_time (latest) : 0);
  if (latest != NULL)
    data->latest_uid = g_strdup (natter_message_get_message_uid (latest));

  natter_store_clear_unread_async (NATTER_STORE (object), data->type, data->target_id,
                                   data->read_time, NULL, clear_unread_local_cb,
                                   g_object_ref (task));
}

void
natter_client_clear_unread_async (NatterClient           *self,
                                  NatterConversationType  type,
                                  const char             *target_id,
                                  GCancellable           *cancellable,
                                  GAsyncReadyCallback     callback,
                                  gpointer                user_data)
{
  g_autoptr(GTask) task = NULL;
  ClearData *data;

  g_return_if_fail (NATTER_IS_CLIENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_client_clear_unread_async);
  if (!check_conversation (task, type, target_id))
    return;

  data = g_new0 (ClearData, 1);
  data->type = type;
  data->target_id = g_strdup (target_id);
  g_task_set_task_data (task, data, (GDestroyNotify) clear_data_free);
  natter_store_get_conversation_async (natter_client_get_store (self), type, target_id, NULL,
                                       clear_unread_conversation_cb, g_object_ref (task));
}

gboolean
natter_client_clear_unread_finish (NatterClient  *self,
                                   GAsyncResult  *result,
                                   GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ------------------------------------------------------------------ recall */

static void
recall_stored_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  NatterMessage *message = natter_store_get_message_finish (NATTER_STORE (object), result, &error);

  if (message == NULL && error == NULL)
    g_set_error (&error, NATTER_CLIENT_ERROR, NATTER_CODE_RECALL_FAILED,
                 "The recalled message is no longer stored here");
  if (message == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, message, g_object_unref);
}

static void
recall_result (GTask       *task,
               NatterFrame *frame)
{
  NatterClient *self = g_task_get_source_object (task);
  NatterMessage *message = g_task_get_task_data (task);
  gint64 recall_time = natter_client_server_now (self);

  if (frame->result->payload_case == NATTER__RESULT__PAYLOAD_RECALL &&
      frame->result->recall->recall_command != NULL)
    recall_time = frame->result->recall->recall_command->sent_time;

  natter_store_recall_async (natter_client_get_store (self), natter_message_get_message_uid (message),
                             natter_client_get_user_id (self), recall_time, NULL,
                             recall_stored_cb, g_object_ref (task));
}

void
natter_client_recall_message_async (NatterClient        *self,
                                    NatterMessage       *message,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__RecallRequest request = NATTER__RECALL_REQUEST__INIT;

  g_return_if_fail (NATTER_IS_CLIENT (self));
  g_return_if_fail (NATTER_IS_MESSAGE (message));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_client_recall_message_async);
  g_task_set_task_data (task, g_object_ref (message), g_object_unref);

  if (natter_message_get_message_uid (message) == NULL)
    {
      g_task_return_new_error (task, NATTER_CLIENT_ERROR, NATTER_CODE_RECALL_FAILED,
                               "Recall failed (%d): the message was never sent",
                               NATTER_CODE_RECALL_FAILED);
      return;
    }

  request.message_uid = (char *) natter_message_get_message_uid (message);
  request.conversation_type = natter_message_get_conversation_type (message);
  request.target_id = (char *) natter_message_get_target_id (message);
  request.sent_time = natter_message_get_sent_time (message);
  query.method_case = NATTER__QUERY__METHOD_RECALL;
  query.recall = &request;
  run_query (self, &query, task, recall_result);
}

NatterMessage *
natter_client_recall_message_finish (NatterClient  *self,
                                     GAsyncResult  *result,
                                     GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* -------------------------------------------------------------------- edit */

static void
edit_stored_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  NatterMessage *message = natter_store_get_message_finish (NATTER_STORE (object), result, &error);

  if (message == NULL && error == NULL)
    g_set_error (&error, NATTER_CLIENT_ERROR, NATTER_CODE_EDIT_FAILED,
                 "The edited message is no longer stored here");
  if (message == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, message, g_object_unref);
}

static void
edit_result (GTask       *task,
             NatterFrame *frame)
{
  NatterClient *self = g_task_get_source_object (task);
  NatterMessage *message = g_task_get_task_data (task);
  g_autoptr(JsonNode) root = NULL;
  JsonNode *edited = NULL;
  g_autofree char *text = NULL;

  /* The content as natterd stored it (with editedTime). */
  if (frame->result->payload_case == NATTER__RESULT__PAYLOAD_EDIT && frame->result->edit->edit_command != NULL)
    root = natter_json_parse (frame->result->edit->edit_command->content, -1, NULL);
  if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
    edited = json_object_get_member (json_node_get_object (root), "content");
  if (edited == NULL || !JSON_NODE_HOLDS_OBJECT (edited))
    {
      g_task_return_new_error (task, NATTER_CLIENT_ERROR, NATTER_CODE_SERVER_ERROR,
                               "The server's answer to the edit has no content");
      return;
    }
  text = json_to_string (edited, FALSE);
  natter_store_edit_async (natter_client_get_store (self), natter_message_get_message_uid (message),
                           natter_message_get_sender_user_id (message), text, NULL,
                           edit_stored_cb, g_object_ref (task));
}

void
natter_client_edit_message_async (NatterClient        *self,
                                  NatterMessage       *message,
                                  JsonObject          *content,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *text = NULL;
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__EditRequest request = NATTER__EDIT_REQUEST__INIT;

  g_return_if_fail (NATTER_IS_CLIENT (self));
  g_return_if_fail (NATTER_IS_MESSAGE (message));
  g_return_if_fail (content != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_client_edit_message_async);
  g_task_set_task_data (task, g_object_ref (message), g_object_unref);

  if (natter_message_get_message_uid (message) == NULL)
    {
      g_task_return_new_error (task, NATTER_CLIENT_ERROR, NATTER_CODE_EDIT_FAILED,
                               "Edit not allowed (%d): the message was never sent", NATTER_CODE_EDIT_FAILED);
      return;
    }

  text = natter_content_to_string (content);
  request.message_uid = (char *) natter_message_get_message_uid (message);
  request.conversation_type = natter_message_get_conversation_type (message);
  request.target_id = (char *) natter_message_get_target_id (message);
  request.sent_time = natter_message_get_sent_time (message);
  request.content = text;
  query.method_case = NATTER__QUERY__METHOD_EDIT;
  query.edit = &request;
  run_query (self, &query, task, edit_result);
}

NatterMessage *
natter_client_edit_message_finish (NatterClient  *self,
                                   GAsyncResult  *result,
                                   GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* --------------------------------------------------------------- expansion */

static void
expansion_result (GTask       *task,
                  NatterFrame *frame)
{
  NatterClient *self = g_task_get_source_object (task);

  if (frame->result->payload_case != NATTER__RESULT__PAYLOAD_EXPANSION ||
      frame->result->expansion->expansion_command == NULL)
    {
      g_task_return_new_error (task, NATTER_CLIENT_ERROR, NATTER_CODE_SERVER_ERROR,
                               "The server's answer to the expansion update has no command");
      return;
    }
  natter_store_expand_async (natter_client_get_store (self), frame->result->expansion->expansion_command->content,
                             NULL, edit_stored_cb, g_object_ref (task));
}

void
natter_client_update_expansion_async (NatterClient        *self,
                                      NatterMessage       *message,
                                      JsonObject          *set,
                                      const char * const  *remove,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GList) keys = NULL;
  g_autofree Natter__ExpansionEntry *entries = NULL;
  g_autofree Natter__ExpansionEntry **pointers = NULL;
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__ExpansionRequest request = NATTER__EXPANSION_REQUEST__INIT;
  guint i = 0;

  g_return_if_fail (NATTER_IS_CLIENT (self));
  g_return_if_fail (NATTER_IS_MESSAGE (message));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_client_update_expansion_async);
  g_task_set_task_data (task, g_object_ref (message), g_object_unref);

  if (natter_message_get_message_uid (message) == NULL)
    {
      g_task_return_new_error (task, NATTER_CLIENT_ERROR, NATTER_CODE_EXPANSION_NOT_ENABLED,
                               "Expansion not enabled (%d): the message was never sent",
                               NATTER_CODE_EXPANSION_NOT_ENABLED);
      return;
    }

  keys = set != NULL ? json_object_get_members (set) : NULL;
  entries = g_new0 (Natter__ExpansionEntry, g_list_length (keys) + 1);
  pointers = g_new0 (Natter__ExpansionEntry *, g_list_length (keys) + 1);
  for (GList *l = keys; l != NULL; l = l->next, i++)
    {
      natter__expansion_entry__init (&entries[i]);
      entries[i].key = l->data;
      entries[i].value = (char *) json_object_get_string_member_with_default (set, l->data, "");
      pointers[i] = &entries[i];
    }
  request.message_uid = (char *) natter_message_get_message_uid (message);
  request.conversation_type = natter_message_get_conversation_type (message);
  request.target_id = (char *) natter_message_get_target_id (message);
  request.n_set = i;
  request.set = pointers;
  request.n_remove = remove != NULL ? g_strv_length ((char **) remove) : 0;
  request.remove = (char **) remove;
  query.method_case = NATTER__QUERY__METHOD_EXPANSION;
  query.expansion = &request;
  run_query (self, &query, task, expansion_result);
}

NatterMessage *
natter_client_update_expansion_finish (NatterClient  *self,
                                       GAsyncResult  *result,
                                       GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---------------------------------------------------------- TURN, presence */

static void
turn_result (GTask       *task,
             NatterFrame *frame)
{
  const Natter__TurnCredentials *turn;

  if (frame->result->payload_case != NATTER__RESULT__PAYLOAD_TURN_CREDENTIALS)
    {
      g_task_return_new_error (task, NATTER_CLIENT_ERROR, NATTER_CODE_SERVER_ERROR,
                               "Server answered a TURN query with something else");
      return;
    }

  turn = frame->result->turn_credentials;
  g_task_return_pointer (task,
                         natter_turn_credentials_new (turn->username, turn->password, turn->ttl,
                                                      (const char * const *) turn->uris),
                         (GDestroyNotify) natter_turn_credentials_free);
}

void
natter_client_get_turn_credentials_async (NatterClient        *self,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__TurnCredentialsRequest request = NATTER__TURN_CREDENTIALS_REQUEST__INIT;

  g_return_if_fail (NATTER_IS_CLIENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_client_get_turn_credentials_async);
  query.method_case = NATTER__QUERY__METHOD_TURN_CREDENTIALS;
  query.turn_credentials = &request;
  run_query (self, &query, task, turn_result);
}

NatterTurnCredentials *
natter_client_get_turn_credentials_finish (NatterClient  *self,
                                           GAsyncResult  *result,
                                           GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
online_result (GTask       *task,
               NatterFrame *frame)
{
  GHashTable *statuses = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  if (frame->result->payload_case == NATTER__RESULT__PAYLOAD_ONLINE_STATUS)
    for (gsize i = 0; i < frame->result->online_status->n_statuses; i++)
      {
        const Natter__OnlineStatus *status = frame->result->online_status->statuses[i];

        /* Hidden (privacy, #16) is unknown, not offline: left out. */
        if (status->user_id != NULL && !status->hidden)
          g_hash_table_insert (statuses, g_strdup (status->user_id), GINT_TO_POINTER (status->online));
      }

  g_task_return_pointer (task, statuses, (GDestroyNotify) g_hash_table_unref);
}

void
natter_client_get_online_status_async (NatterClient        *self,
                                       const char * const  *user_ids,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__OnlineStatusRequest request = NATTER__ONLINE_STATUS_REQUEST__INIT;
  guint n = user_ids ? g_strv_length ((char **) user_ids) : 0;

  g_return_if_fail (NATTER_IS_CLIENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_client_get_online_status_async);

  if (n == 0 || n > NATTER_ONLINE_STATUS_MAX_USERS)
    {
      g_task_return_new_error (task, NATTER_CLIENT_ERROR, NATTER_CODE_INVALID_PARAMETER,
                               "Invalid parameter (%d): 1 to 100 user ids",
                               NATTER_CODE_INVALID_PARAMETER);
      return;
    }

  request.n_user_ids = n;
  request.user_ids = (char **) user_ids;
  query.method_case = NATTER__QUERY__METHOD_ONLINE_STATUS;
  query.online_status = &request;
  run_query (self, &query, task, online_result);
}

GHashTable *
natter_client_get_online_status_finish (NatterClient  *self,
                                        GAsyncResult  *result,
                                        GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Only what was asked: a device the server names unasked is not believed. */
static void
online_devices_result (GTask       *task,
                       NatterFrame *frame)
{
  const char * const *asked = g_task_get_task_data (task);
  g_autoptr(GStrvBuilder) online = g_strv_builder_new ();

  if (frame->result->payload_case == NATTER__RESULT__PAYLOAD_ONLINE_STATUS &&
      frame->result->online_status->n_statuses == 1)
    {
      const Natter__OnlineStatus *status = frame->result->online_status->statuses[0];

      for (gsize i = 0; i < status->n_device_ids; i++)
        if (status->device_ids[i] != NULL && g_strv_contains (asked, status->device_ids[i]))
          g_strv_builder_add (online, status->device_ids[i]);
    }
  g_task_return_pointer (task, g_strv_builder_end (online), (GDestroyNotify) g_strfreev);
}

void
natter_client_get_online_devices_async (NatterClient        *self,
                                        const char          *user_id,
                                        const char * const  *device_ids,
                                        GCancellable        *cancellable,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__OnlineStatusRequest request = NATTER__ONLINE_STATUS_REQUEST__INIT;
  guint n = device_ids ? g_strv_length ((char **) device_ids) : 0;
  char *user_ids[] = { (char *) user_id, NULL };

  g_return_if_fail (NATTER_IS_CLIENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_client_get_online_devices_async);

  if (user_id == NULL || n == 0 || n > NATTER_ONLINE_STATUS_MAX_USERS)
    {
      g_task_return_new_error (task, NATTER_CLIENT_ERROR, NATTER_CODE_INVALID_PARAMETER,
                               "Invalid parameter (%d): a user and 1 to 100 device ids",
                               NATTER_CODE_INVALID_PARAMETER);
      return;
    }

  g_task_set_task_data (task, g_strdupv ((char **) device_ids), (GDestroyNotify) g_strfreev);
  request.n_user_ids = 1;
  request.user_ids = user_ids;
  request.n_device_ids = n;
  request.device_ids = (char **) device_ids;
  query.method_case = NATTER__QUERY__METHOD_ONLINE_STATUS;
  query.online_status = &request;
  run_query (self, &query, task, online_devices_result);
}

GStrv
natter_client_get_online_devices_finish (NatterClient  *self,
                                         GAsyncResult  *result,
                                         GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* --------------------------------------------------- pin, mute, remove */

static void
update_local_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;

  if (!natter_store_set_conversation_flag_finish (NATTER_STORE (object), result, &error))
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, TRUE);
}

static void
update_result (GTask       *task,
               NatterFrame *frame)
{
  NatterClient *self = g_task_get_source_object (task);
  Natter__ConversationUpdateRequest *request = g_task_get_task_data (task);
  NatterConversationField field;
  gboolean value;

  switch ((NatterConversationAction) request->action)
    {
    case NATTER_CONVERSATION_ACTION_PIN:
      field = NATTER_CONVERSATION_FIELD_PINNED, value = TRUE;
      break;
    case NATTER_CONVERSATION_ACTION_UNPIN:
      field = NATTER_CONVERSATION_FIELD_PINNED, value = FALSE;
      break;
    case NATTER_CONVERSATION_ACTION_MUTE:
      field = NATTER_CONVERSATION_FIELD_MUTED, value = TRUE;
      break;
    case NATTER_CONVERSATION_ACTION_UNMUTE:
      field = NATTER_CONVERSATION_FIELD_MUTED, value = FALSE;
      break;
    case NATTER_CONVERSATION_ACTION_REMOVE:
    default:
      field = NATTER_CONVERSATION_FIELD_HIDDEN, value = TRUE;
      break;
    }

  natter_store_set_conversation_flag_async (natter_client_get_store (self), request->conversation_type,
                                            request->target_id, field, value, NULL,
                                            update_local_cb, g_object_ref (task));
}

static void
update_request_free (Natter__ConversationUpdateRequest *request)
{
  g_free (request->target_id);
  g_free (request);
}

void
natter_client_update_conversation_async (NatterClient             *self,
                                         NatterConversationType    type,
                                         const char               *target_id,
                                         NatterConversationAction  action,
                                         GCancellable             *cancellable,
                                         GAsyncReadyCallback       callback,
                                         gpointer                  user_data)
{
  g_autoptr(GTask) task = NULL;
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__ConversationUpdateRequest *request;

  g_return_if_fail (NATTER_IS_CLIENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_client_update_conversation_async);
  if (!check_conversation (task, type, target_id))
    return;
  if (action < NATTER_CONVERSATION_ACTION_PIN || action > NATTER_CONVERSATION_ACTION_REMOVE)
    {
      g_task_return_new_error (task, NATTER_CLIENT_ERROR, NATTER_CODE_INVALID_PARAMETER,
                               "Invalid parameter (%d): unknown action %d",
                               NATTER_CODE_INVALID_PARAMETER, action);
      return;
    }

  request = g_new (Natter__ConversationUpdateRequest, 1);
  natter__conversation_update_request__init (request);
  request->conversation_type = type;
  request->target_id = g_strdup (target_id);
  request->action = (Natter__ConversationUpdateRequest__Action) action;
  g_task_set_task_data (task, request, (GDestroyNotify) update_request_free);

  query.method_case = NATTER__QUERY__METHOD_CONVERSATION_UPDATE;
  query.conversation_update = request;
  run_query (self, &query, task, update_result);
}

gboolean
natter_client_update_conversation_finish (NatterClient  *self,
                                          GAsyncResult  *result,
                                          GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ------------------------------------------------------ delete conversation */

static void
deleted_locally_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *server_error = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (!natter_store_delete_conversation_finish (NATTER_STORE (object), result, &error))
    g_task_return_error (task, g_steal_pointer (&error));
  else if (server_error != NULL)
    g_task_return_error (task, g_error_copy (server_error));
  else
    g_task_return_boolean (task, TRUE);
}

static void
removed_on_server_cb (GObject      *object,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  NatterClient *self = NATTER_CLIENT (object);
  const char *target_id = g_object_get_data (G_OBJECT (task), "target-id");
  NatterConversationType type = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (task), "type"));
  g_autoptr(GError) error = NULL;

  /* Whatever the server said, the user asked for it to go from here. */
  if (!natter_client_update_conversation_finish (self, result, &error))
    g_task_set_task_data (task, g_steal_pointer (&error), (GDestroyNotify) g_error_free);

  natter_store_delete_conversation_async (natter_client_get_store (self), type, target_id, NULL,
                                          deleted_locally_cb, g_object_ref (task));
}

void
natter_client_delete_conversation_async (NatterClient           *self,
                                         NatterConversationType  type,
                                         const char             *target_id,
                                         GCancellable           *cancellable,
                                         GAsyncReadyCallback     callback,
                                         gpointer                user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (NATTER_IS_CLIENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_client_delete_conversation_async);
  if (!check_conversation (task, type, target_id))
    return;

  g_object_set_data_full (G_OBJECT (task), "target-id", g_strdup (target_id), g_free);
  g_object_set_data (G_OBJECT (task), "type", GINT_TO_POINTER (type));
  natter_client_update_conversation_async (self, type, target_id, NATTER_CONVERSATION_ACTION_REMOVE,
                                           NULL, removed_on_server_cb, g_object_ref (task));
}

gboolean
natter_client_delete_conversation_finish (NatterClient  *self,
                                          GAsyncResult  *result,
                                          GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---------------------------------------------------------- delete for me */

static void
message_deleted_locally_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  NatterMessage *message;

  message = natter_store_update_message_finish (NATTER_STORE (object), result, &error);
  if (message == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, message, g_object_unref);
}

void
natter_client_delete_message_locally_async (NatterClient        *self,
                                            NatterMessage       *message,
                                            GCancellable        *cancellable,
                                            GAsyncReadyCallback  callback,
                                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(NatterMessage) copy = NULL;
  g_autoptr(JsonObject) nothing = json_object_new ();

  g_return_if_fail (NATTER_IS_CLIENT (self));
  g_return_if_fail (NATTER_IS_MESSAGE (message));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_client_delete_message_locally_async);
  if (natter_message_get_message_id (message) == 0)
    {
      g_task_return_new_error (task, NATTER_STORE_ERROR, NATTER_STORE_ERROR_NOT_FOUND,
                               "The message is not stored");
      return;
    }
  copy = natter_message_copy (message);
  natter_message_set_content (copy, NATTER_OBJECT_DELETED_LOCALLY, nothing);
  natter_store_update_message_async (natter_client_get_store (self), copy, cancellable,
                                     message_deleted_locally_cb, g_steal_pointer (&task));
}

NatterMessage *
natter_client_delete_message_locally_finish (NatterClient  *self,
                                             GAsyncResult  *result,
                                             GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
