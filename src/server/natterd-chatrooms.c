/* natterd-chatrooms.c — chatrooms live in memory: created on first join,
 * destroyed after an hour without messages or joins, members dropped 30 s
 * after their last connection went away
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-server-private.h"

#include "natterd-log.h"

#define CHATROOM_RECENT_MAX 50

static void
store_chatroom (NatterdServer   *self,
                NatterdChatroom *room,
                gboolean         remove)
{
  NatterdChatroomOp *op = natterd_op_new (NATTERD_OP_CHATROOM, NULL, NULL, NULL);

  op->id = room->id;
  op->app_id = room->app->id;
  op->chatroom_id = g_strdup (room->chatroom_id);
  op->name = g_strdup (room->name);
  op->created = room->created;
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
        {
          g_free (room->name);
          room->name = g_strdup (name);
          store_chatroom (self, room, FALSE);
        }
      return room;
    }

  room = natterd_directory_add_chatroom (self->directory, app, chatroom_id, name, natterd_now_ms ());
  room->recent_loaded = TRUE;
  store_chatroom (self, room, FALSE);
  natterd_log (G_LOG_LEVEL_INFO, "chatroom-created", "app", app->key, "chatroom", chatroom_id, NULL);
  return room;
}

int
natterd_server_chatroom_join (NatterdServer    *self,
                              NatterdApp       *app,
                              NatterdUser      *user,
                              const char       *chatroom_id,
                              NatterdChatroom **out_room)
{
  NatterdChatroom *room = natterd_server_chatroom_create (self, app, chatroom_id, NULL);
  gint64 *banned_until = g_hash_table_lookup (room->banned, user);

  *out_room = room;
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

void
natterd_server_chatroom_destroy (NatterdServer   *self,
                                 NatterdChatroom *room)
{
  GHashTableIter iter;
  NatterdUser *user;

  natterd_log (G_LOG_LEVEL_INFO, "chatroom-destroyed", "app", room->app->key,
               "chatroom", room->chatroom_id, NULL);

  g_hash_table_iter_init (&iter, room->members);
  while (g_hash_table_iter_next (&iter, (gpointer *) &user, NULL))
    tell_user (user, room, NATTER_CODE_CHATROOM_NOT_EXIST);

  store_chatroom (self, room, TRUE);
  natterd_directory_remove_chatroom (self->directory, room);
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
