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

/* Away under 30 s, natterd keeps alice in the room and she rejoins asking
 * for no messages: what was said meanwhile is not replayed. Away longer,
 * natterd dropped her ([chatroom] offline-timeout, 30 s) and she rejoins
 * with count 0, natterd's recent messages: she gets what she missed (#16). */
static void
test_rejoin_after_timeout (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  Peer *alice = peer_new (server, "alice", NULL);
  Peer *bob = peer_new (server, "bob", NULL);
  g_autoptr(GError) error = NULL;
  Heard back = { alice, "welcome back" };
  Heard short_absence = { alice, "said in a short absence" };
  Heard long_absence = { alice, "said in a long absence" };

  peer_connect (alice);
  peer_connect (bob);
  join (alice, "lobby", -1);
  join (bob, "lobby", -1);

  natter_client_disconnect (alice->client);
  g_object_unref (peer_send_text (bob, NATTER_CONVERSATION_CHATROOM, "lobby", short_absence.text, &error));
  g_assert_no_error (error);
  peer_connect (alice);
  g_object_unref (peer_send_text (bob, NATTER_CONVERSATION_CHATROOM, "lobby", back.text, &error));
  g_assert_no_error (error);
  test_wait_until (heard, &back, 20, "alice to hear bob again");
  test_spin (500);
  g_assert_false (heard (&short_absence));

  natter_client_disconnect (alice->client);
  /* past natterd's offline-timeout and the client's 30 s */
  test_spin (35 * 1000);
  g_object_unref (peer_send_text (bob, NATTER_CONVERSATION_CHATROOM, "lobby", long_absence.text, &error));
  g_assert_no_error (error);
  peer_connect (alice);
  test_wait_until (heard, &long_absence, 20, "alice to get what she missed");

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

/* NT:ChrmNtf that reached @peer (kept as notices or not). */
static guint
count_arrived (Peer *peer)
{
  guint n = 0;

  for (guint i = 0; i < peer->received->len; i++)
    if (natter_message_get_kind (g_ptr_array_index (peer->received, i)) ==
        NATTER_MESSAGE_KIND_CHATROOM_NOTIFICATION)
      n++;
  return n;
}

typedef struct {
  Peer  *peer;
  guint  count;
} ArrivedWait;

static gboolean
has_arrived (gpointer data)
{
  ArrivedWait *wait = data;

  return count_arrived (wait->peer) >= wait->count;
}

static void
flood_sent_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(NatterMessage) sent = natter_client_send_message_finish (NATTER_CLIENT (object), result, NULL);

  (*(guint *) user_data)++;
}

/* A flood of joins and quits fills no timeline: a few of each sender's
 * are kept, a few a second of the room's; a removal (a server API
 * block) is kept as "X was removed" (#16). */
static void
test_notice_flood (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  Peer *bob = peer_new (server, "bob", NULL);
  Peer *flooders[4];
  g_autoptr(GString) said = g_string_new (NULL);
  g_autoptr(JsonObject) reply = NULL;
  ArrivedWait arrived = { bob, 0 };
  NoticeWait kept = { bob, "den", 0 };
  guint sent = 0;
  guint flooded, notices;
  gint64 start, elapsed;

  peer_connect (bob);
  join (bob, "den", -1);
  for (guint f = 0; f < G_N_ELEMENTS (flooders); f++)
    {
      g_autofree char *user_id = g_strdup_printf ("flooder%u", f);

      flooders[f] = peer_new (server, user_id, NULL);
      peer_connect (flooders[f]);
      join (flooders[f], "den", -1);
    }
  arrived.count = G_N_ELEMENTS (flooders);
  test_wait_until (has_arrived, &arrived, 20, "bob to hear the joins");
  /* Past the room's window: the flood starts on a clean second. */
  g_usleep (1100 * 1000);
  g_assert_cmpuint (count_notices (bob, "den", NULL), ==, G_N_ELEMENTS (flooders));

  start = g_get_monotonic_time ();
  for (guint i = 0; i < 6; i++)
    for (guint f = 0; f < G_N_ELEMENTS (flooders); f++)
      {
        g_autoptr(JsonObject) content = json_object_new ();

        json_object_set_string_member (content, "operation", i % 2 == 0 ? "Quit" : "Join");
        natter_client_send_message_async (flooders[f]->client, NATTER_CONVERSATION_CHATROOM, "den",
                                          "NT:ChrmNtf", content, NULL, flood_sent_cb, &sent);
      }
  arrived.count = G_N_ELEMENTS (flooders) * 7;
  test_wait_until (has_arrived, &arrived, 30, "bob to hear the flood");
  elapsed = g_get_monotonic_time () - start;
  flooded = count_notices (bob, "den", said) - G_N_ELEMENTS (flooders);
  g_test_message ("%u of %u notices kept in %" G_GINT64_FORMAT " ms: %s", flooded,
                  (guint) G_N_ELEMENTS (flooders) * 6, elapsed / 1000, said->str);
  /* Each flooder's join before and at most two of the flood (3 in 10 s),
   * and at most 5 a second of the room's. */
  g_assert_cmpuint (flooded, <=, G_N_ELEMENTS (flooders) * 2);
  g_assert_cmpuint (flooded, <=, 5 * (elapsed / G_USEC_PER_SEC + 1));
  g_assert_cmpuint (flooded, >=, 1);

  /* Removed by the app server: kept (another sender, a new second). */
  g_usleep (1100 * 1000);
  reply = natter_test_server_api (server, NULL, "chatroom/user/block/add", "chatroomId", "den",
                                  "userId", "flooder0", "minute", "5", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  kept.count = G_N_ELEMENTS (flooders) + flooded + 1;
  test_wait_until (has_notices, &kept, 20, "bob to keep the removal");
  g_string_truncate (said, 0);
  notices = count_notices (bob, "den", said);
  g_assert_cmpuint (notices, ==, kept.count);
  g_assert_true (g_str_has_suffix (said->str, "flooder0 Kicked;"));

  for (guint f = 0; f < G_N_ELEMENTS (flooders); f++)
    peer_free (flooders[f], FALSE);
  peer_free (bob, FALSE);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/chatroom/rejoin", test_rejoin);
  g_test_add_func ("/core/chatroom/rejoin-after-timeout", test_rejoin_after_timeout);
  g_test_add_func ("/core/chatroom/notices", test_notices);
  g_test_add_func ("/core/chatroom/notice-flood", test_notice_flood);

  return g_test_run ();
}
