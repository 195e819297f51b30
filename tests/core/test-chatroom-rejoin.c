/* test-chatroom-rejoin.c — libnatter joins its chatrooms again after a
 * reconnect (#16): natterd restarted (its rooms are in memory) and alice
 * still hears bob's room; a quit room is not rejoined; a room one was
 * banned from while away is dropped with a chatroom-event; whoever is in a
 * room keeps "X joined" / "X left" notices of the others (NT:ChrmNtf)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "test-helpers.h"

static void
join (Peer       *peer,
      const char *room,
      int         count)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GPtrArray) messages = NULL;
  g_autoptr(GError) error = NULL;

  natter_client_join_chatroom_async (peer->client, room, count, NULL, test_store_result_cb, &result);
  messages = natter_client_join_chatroom_finish (peer->client, test_wait_result (&result, 20), NULL, &error);
  g_assert_no_error (error);
}

static gboolean
not_connected (gpointer data)
{
  return natter_client_get_status (((Peer *) data)->client) != NATTER_CONNECTION_CONNECTED;
}

typedef struct {
  Peer       *peer;
  const char *text;
} Heard;

static gboolean
heard (gpointer data)
{
  Heard *h = data;

  for (guint i = 0; i < h->peer->received->len; i++)
    {
      NatterMessage *message = g_ptr_array_index (h->peer->received, i);

      if (g_strcmp0 (natter_message_get_text (message), h->text) == 0)
        return TRUE;
    }
  return FALSE;
}

static void
test_rejoin (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  Peer *alice = peer_new (server, "alice", NULL);
  Peer *bob = peer_new (server, "bob", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(NatterMessage) sent = NULL;
  Heard h = { alice, "after the restart" };

  peer_connect (alice);
  peer_connect (bob);
  join (alice, "lobby", -1);
  join (alice, "quiet", -1);
  natter_client_quit_chatroom_async (alice->client, "quiet", NULL, test_store_result_cb, &result);
  g_assert_true (natter_client_quit_chatroom_finish (alice->client, test_wait_result (&result, 20), &error));
  g_clear_object (&result);

  natter_test_server_stop (server);
  test_wait_until (not_connected, alice, 20, "alice to notice");
  test_wait_until (not_connected, bob, 20, "bob to notice");
  natter_test_server_restart (server);
  peer_wait_status (alice, NATTER_CONNECTION_CONNECTED, 30);
  peer_wait_status (bob, NATTER_CONNECTION_CONNECTED, 30);
  test_spin (500);

  join (bob, "lobby", -1);
  sent = peer_send_text (bob, NATTER_CONVERSATION_CHATROOM, "lobby", "after the restart", &error);
  g_assert_no_error (error);
  test_wait_until (heard, &h, 20, "alice to hear bob in the lobby");

  /* the quit room was not joined again: bob alone there */
  {
    guint members = 0;
    g_autoptr(GPtrArray) messages = NULL;

    natter_client_join_chatroom_async (bob->client, "quiet", -1, NULL, test_store_result_cb, &result);
    messages = natter_client_join_chatroom_finish (bob->client, test_wait_result (&result, 20), &members, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (members, ==, 1);
    g_clear_object (&result);
    natter_client_join_chatroom_async (bob->client, "lobby", -1, NULL, test_store_result_cb, &result);
    g_clear_pointer (&messages, g_ptr_array_unref);
    messages = natter_client_join_chatroom_finish (bob->client, test_wait_result (&result, 20), &members, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (members, ==, 2);
  }

  peer_free (bob, FALSE);
  peer_free (alice, FALSE);
}

static guint
count_notices (Peer       *peer,
               const char *room,
               GString    *said)
{
  g_autoptr(GPtrArray) page = peer_store_page (peer, NATTER_CONVERSATION_CHATROOM, room, 20);
  guint n = 0;

  for (guint i = 0; i < page->len; i++)
    {
      NatterMessage *message = g_ptr_array_index (page, i);

      if (natter_message_get_kind (message) != NATTER_MESSAGE_KIND_CHATROOM_NOTIFICATION)
        continue;
      n++;
      if (said != NULL)
        g_string_append_printf (said, "%s %s;", natter_message_get_notification_operator (message),
                                natter_message_get_notification_operation (message));
    }
  return n;
}

typedef struct {
  Peer       *peer;
  const char *room;
  guint       count;
} NoticeWait;

static gboolean
has_notices (gpointer data)
{
  NoticeWait *wait = data;

  return count_notices (wait->peer, wait->room, NULL) >= wait->count;
}

static void
test_notices (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  Peer *alice = peer_new (server, "alice", NULL);
  Peer *bob = peer_new (server, "bob", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(NatterMessage) sent = NULL;
  g_autoptr(GString) said = g_string_new (NULL);
  NoticeWait wait = { bob, "den", 2 };
  Heard h = { bob, "alice is back" };

  peer_connect (alice);
  peer_connect (bob);
  join (bob, "den", -1);
  join (alice, "den", -1);
  /* Joining again (as after a reconnect) is not news. */
  join (alice, "den", -1);
  natter_client_quit_chatroom_async (alice->client, "den", NULL, test_store_result_cb, &result);
  g_assert_true (natter_client_quit_chatroom_finish (alice->client, test_wait_result (&result, 20), &error));
  g_clear_object (&result);
  test_wait_until (has_notices, &wait, 20, "bob to keep alice's join and quit");

  /* Still in the room after her notice: the quit came after it. A message
   * of hers afterwards would be refused (23406) if the quit had not. */
  join (alice, "den", -1);
  sent = peer_send_text (alice, NATTER_CONVERSATION_CHATROOM, "den", "alice is back", &error);
  g_assert_no_error (error);
  test_wait_until (heard, &h, 20, "bob to hear alice again");
  g_assert_cmpuint (count_notices (bob, "den", said), ==, 3);
  g_assert_cmpstr (said->str, ==, "alice Join;alice Quit;alice Join;");
  /* One's own joins are not kept as notices. */
  g_assert_cmpuint (count_notices (alice, "den", NULL), ==, 0);

  peer_free (bob, FALSE);
  peer_free (alice, FALSE);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/chatroom/rejoin", test_rejoin);
  g_test_add_func ("/core/chatroom/notices", test_notices);

  return g_test_run ();
}
