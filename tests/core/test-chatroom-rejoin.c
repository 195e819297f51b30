/* test-chatroom-rejoin.c — libnatter joins its chatrooms again after a
 * reconnect (#16): natterd restarted (its rooms are in memory) and alice
 * still hears bob's room; a quit room is not rejoined; a room one was
 * banned from while away is dropped with a chatroom-event
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

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/chatroom/rejoin", test_rejoin);

  return g_test_run ();
}
