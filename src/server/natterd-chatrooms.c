/* natterd-chatrooms.c — chatrooms live in memory: created on first join,
 * destroyed after an hour without messages or joins, members dropped 30 s
 * after their last connection went away
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-server-private.h"

#include "natterd-log.h"

#define CHATROOM_RECENT_MAX 50

/* A join waiting for its room's row. */
typedef struct
{
  NatterdUser          *user;
  NatterdChatroomJoined done;
  gpointer              user_data;
} Waiter;

typedef struct
{
  NatterdServer *server;
  gint64         app_id;
  gint64         room_id;
  char          *chatroom_id;
  char          *name;          /* a rename: the name to show once stored */
  gboolean       create;
} ChatroomWrite;

static void
chatroom_write_free (gpointer data)
{
  ChatroomWrite *write = data;

  g_object_unref (write->server);
  g_free (write->chatroom_id);
  g_free (write->name);
  g_free (write);
}

static int
join_now (NatterdServer   *self,
          NatterdChatroom *room,
          NatterdUser     *user)
{
  gint64 *banned_until = g_hash_table_lookup (room->banned, user);

  if (banned_until != NULL && *banned_until > natterd_now_ms ())
    return NATTER_CODE_KICKED_FROM_CHATROOM;

  room->last_activity = g_get_monotonic_time ();
  g_hash_table_remove (room->kicked, user);
  if (!g_hash_table_contains (room->members, user))
    {
      NatterdMember *member = g_new0 (NatterdMember, 1);

      member->user = user;
      member->joined = natterd_now_ms ();
      g_hash_table_insert (room->members, user, member);
      if (user->chatrooms == NULL)
        user->chatrooms = g_ptr_array_new ();
      g_ptr_array_add (user->chatrooms, room);
    }
  return NATTER_CODE_OK;
}

/* Answers the joins waiting for @room: joined once it is stored, @code
 * otherwise (and @room is about to go). */
static void
answer_waiters (NatterdServer   *self,
                NatterdChatroom *room,
                int              code)
{
  g_autoptr(GPtrArray) waiters = g_steal_pointer (&room->waiters);

  for (guint i = 0; waiters != NULL && i < waiters->len; i++)
    {
      Waiter *waiter = g_ptr_array_index (waiters, i);
      int result = code == NATTER_CODE_OK ? join_now (self, room, waiter->user) : code;

      waiter->done (self, result == NATTER_CODE_CHATROOM_NOT_EXIST ||
                          result == NATTER_CODE_SERVER_ERROR ? NULL : room,
                    result, waiter->user_data);
    }
}

static void
chatroom_written (NatterdOp *op,
                  gpointer   user_data)
{
  ChatroomWrite *write = user_data;
  NatterdServer *self = write->server;
  NatterdApp *app = natterd_directory_lookup_app_id (self->directory, write->app_id);
  NatterdChatroom *room = app != NULL ? g_hash_table_lookup (app->chatrooms, write->chatroom_id) : NULL;

  if (op->error != NULL && !natterd_store_error_is_full (op->error))
    natterd_log (G_LOG_LEVEL_WARNING, "store-failed", "op", "chatroom", "error", op->error->message,
                 NULL);

  /* Destroyed meanwhile (its joins were answered then), or another room
   * of the same id since. */
  if (room == NULL || room->id != write->room_id)
    return;

  if (!write->create)
    {
      if (op->error == NULL)
        {
          g_free (room->name);
          room->name = g_strdup (write->name);
        }
      return;
    }

  /* Another node's row of it stands (this one heard of it meanwhile). */
  if (room->stored)
    return;

  if (op->error != NULL)
    {
      /* Memory follows the disk: the room that could not be stored is
       * forgotten, and whoever waited to join hears why. */
      answer_waiters (self, room, NATTER_CODE_SERVER_ERROR);
      natterd_directory_remove_chatroom (self->directory, room);
      return;
    }
  room->stored = TRUE;
  answer_waiters (self, room, NATTER_CODE_OK);
  /* The other nodes know it now: joins there need not store it again. */
  if (self->cluster != NULL)
    natterd_server_cluster_chatroom (self, room);
}

static void
store_chatroom (NatterdServer   *self,
                NatterdChatroom *room,
                const char      *name,
                gboolean         create,
                gboolean         remove)
{
  NatterdChatroomOp *op;
  ChatroomWrite *write = NULL;

  if (!remove)
    {
      write = g_new0 (ChatroomWrite, 1);
      write->server = g_object_ref (self);
      write->app_id = room->app->id;
      write->room_id = room->id;
      write->chatroom_id = g_strdup (room->chatroom_id);
      write->name = g_strdup (name);
      write->create = create;
    }
  op = natterd_op_new (NATTERD_OP_CHATROOM, remove ? NULL : chatroom_written, write,
                       remove ? NULL : chatroom_write_free);
  op->id = room->id;
  op->app_id = room->app->id;
  op->chatroom_id = g_strdup (room->chatroom_id);
  op->name = g_strdup (name);
  op->created = room->created;
  op->create = create;
  op->remove = remove;
  natterd_store_submit (self->store, op);
}

NatterdChatroom *
natterd_server_chatroom_create (NatterdServer *self,
                                NatterdApp    *app,
                                const char    *chatroom_id,
                                const char    *name)
{
  NatterdChatroom *room = g_hash_table_lookup (app->chatrooms, chatroom_id);

  if (room != NULL)
    {
      if (name != NULL && g_strcmp0 (room->name, name) != 0)
        store_chatroom (self, room, name, FALSE, FALSE);
      return room;
    }

  /* In the directory at once (its id taken, and joins wait on it), a
   * member of nothing until its row is durable. */
  room = natterd_directory_add_chatroom (self->directory, app, chatroom_id, name, natterd_now_ms ());
  store_chatroom (self, room, room->name, TRUE, FALSE);
  natterd_log (G_LOG_LEVEL_INFO, "chatroom-created", "app", app->key, "chatroom", chatroom_id, NULL);
  return room;
}

void
natterd_server_chatroom_join (NatterdServer         *self,
                              NatterdApp            *app,
                              NatterdUser           *user,
                              const char            *chatroom_id,
                              NatterdChatroomJoined  done,
                              gpointer               user_data)
{
  NatterdChatroom *room = natterd_server_chatroom_create (self, app, chatroom_id, NULL);
  Waiter *waiter;
  int code;

  if (room->stored)
    {
      code = join_now (self, room, user);
      done (self, room, code, user_data);
      return;
    }

  waiter = g_new0 (Waiter, 1);
  waiter->user = user;
  waiter->done = done;
  waiter->user_data = user_data;
  if (room->waiters == NULL)
    room->waiters = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (room->waiters, waiter);
}

/* Another node stored @room: the joins waiting for this node's own row
 * of it need not wait. */
void
natterd_server_chatroom_stored_elsewhere (NatterdServer   *self,
                                          NatterdChatroom *room)
{
  if (room->stored)
    return;
  room->stored = TRUE;
  answer_waiters (self, room, NATTER_CODE_OK);
}

void
natterd_server_chatroom_quit (NatterdServer   *self,
                              NatterdChatroom *room,
                              NatterdUser     *user)
{
  if (g_hash_table_remove (room->members, user) && user->chatrooms != NULL)
    g_ptr_array_remove_fast (user->chatrooms, room);
}

static void
tell_user (NatterdUser     *user,
           NatterdChatroom *room,
           int              code)
{
  if (user->sessions == NULL)
    return;
  for (guint i = 0; i < user->sessions->len; i++)
    natterd_session_send_chatroom_event (g_ptr_array_index (user->sessions, i), room->chatroom_id,
                                         code);
}

void
natterd_server_chatroom_kick (NatterdServer   *self,
                              NatterdChatroom *room,
                              NatterdUser     *user,
                              int              code)
{
  natterd_server_chatroom_quit (self, room, user);
  /* Until they join again, their sends are answered 23409. */
  g_hash_table_add (room->kicked, user);
  tell_user (user, room, code);
}

static void
kick_notice_published (int         code,
                       const char *message_uid,
                       gint64      sent_time,
                       guint64     timeline_seq,
                       gpointer    user_data)
{
  /* Status-only: nothing to store, nothing to wait for. */
}

/* NT:ChrmNtf "Kicked", status-only, sent as @user as their own "Quit"
 * would be; its status fan-out reaches the room's members on the other
 * nodes. The sweep that drops offline members says nothing (#16). */
void
natterd_server_chatroom_tell_kicked (NatterdServer   *server,
                                     NatterdChatroom *room,
                                     NatterdUser     *user)
{
  NatterdPublishRequest publish = {
    .app = room->app,
    .sender = user,
    .conversation_type = NATTER_CONVERSATION_CHATROOM,
    .target_id = room->chatroom_id,
    .object_name = NATTER_OBJECT_CHATROOM_NOTIFICATION,
    .content = "{\"operation\":\"Kicked\"}",
    .flags = NATTER_MESSAGE_FLAG_STATUS,
    .from_api = TRUE,
  };

  natterd_server_publish (server, &publish, kick_notice_published, NULL, NULL);
}

void
natterd_server_chatroom_forget (NatterdServer   *self,
                                NatterdChatroom *room)
{
  GHashTableIter iter;
  NatterdUser *user;

  natterd_log (G_LOG_LEVEL_INFO, "chatroom-destroyed", "app", room->app->key,
               "chatroom", room->chatroom_id, NULL);

  g_hash_table_iter_init (&iter, room->members);
  while (g_hash_table_iter_next (&iter, (gpointer *) &user, NULL))
    tell_user (user, room, NATTER_CODE_CHATROOM_NOT_EXIST);

  answer_waiters (self, room, NATTER_CODE_CHATROOM_NOT_EXIST);
  natterd_directory_remove_chatroom (self->directory, room);
}

void
natterd_server_chatroom_destroy (NatterdServer   *self,
                                 NatterdChatroom *room)
{
  store_chatroom (self, room, room->name, FALSE, TRUE);
  natterd_server_chatroom_forget (self, room);
}

void
natterd_server_chatroom_add_recent (NatterdChatroom      *room,
                                    const NatterdMessage *message)
{
  g_queue_push_tail (&room->recent, natterd_message_copy (message));
  while (g_queue_get_length (&room->recent) > CHATROOM_RECENT_MAX)
    natterd_message_free (g_queue_pop_head (&room->recent));
}

void
natterd_server_chatroom_user_offline (NatterdServer *self,
                                      NatterdUser   *user)
{
  /* The sweep drops them once chatroom offline-timeout has passed; a
   * reconnect before that clears offline_since and keeps the rooms. */
}

void
natterd_server_chatroom_sweep (NatterdServer *self)
{
  gint64 now = g_get_monotonic_time ();
  gint64 idle_limit = (gint64) self->config->chatroom_idle_timeout * G_USEC_PER_SEC;
  gint64 offline_limit = (gint64) self->config->chatroom_offline_timeout * G_USEC_PER_SEC;
  GList *apps = natterd_directory_get_apps (self->directory);

  for (GList *l = apps; l != NULL; l = l->next)
    {
      NatterdApp *app = l->data;
      g_autoptr(GPtrArray) idle = g_ptr_array_new ();
      GHashTableIter iter;
      NatterdChatroom *room;

      g_hash_table_iter_init (&iter, app->chatrooms);
      while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &room))
        {
          g_autoptr(GPtrArray) gone = g_ptr_array_new ();
          GHashTableIter members;
          NatterdUser *user;

          if (now - room->last_activity >= idle_limit)
            {
              g_ptr_array_add (idle, room);
              continue;
            }

          g_hash_table_iter_init (&members, room->members);
          while (g_hash_table_iter_next (&members, (gpointer *) &user, NULL))
            if (user->offline_since != 0 && now - user->offline_since >= offline_limit)
              g_ptr_array_add (gone, user);
          for (guint i = 0; i < gone->len; i++)
            natterd_server_chatroom_kick (self, room, g_ptr_array_index (gone, i),
                                          NATTER_CODE_KICKED_FROM_CHATROOM);
        }

      for (guint i = 0; i < idle->len; i++)
        natterd_server_chatroom_destroy (self, g_ptr_array_index (idle, i));
    }
  g_list_free (apps);
}
