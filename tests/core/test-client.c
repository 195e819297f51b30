/* test-client.c — NatterClient against a real natterd on 127.0.0.1
 *
 * Connecting, delivery, the models over the store, read sync, recall,
 * chatrooms, groups and names. What is sent until natterd takes it is in
 * test-outbox.c, media and app server tokens in test-client-media.c; the
 * Peer helpers they share are in test-helpers.c.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gstdio.h>
#include <string.h>

#include "natter-client-private.h"
#include "test-helpers.h"

/* ------------------------------------------------------------- connecting */

static void
test_connect_errors (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(JsonObject) reply = NULL;
  Peer *peer;
  guint n_statuses;

  /* A token that is no token. */
  peer = peer_new (server, "alice", NULL);
  natter_client_connect (peer->client, "not-a-token");
  peer_wait_status (peer, NATTER_CONNECTION_DISCONNECTED, 20);
  g_assert_error (peer->last_error, NATTER_CLIENT_ERROR, NATTER_CODE_TOKEN_INCORRECT);
  g_assert_nonnull (strstr (peer->last_error->message, "31004"));
  g_assert_true (natter_client_get_status_error (peer->client) != NULL);

  /* It waits for the user: no reconnect by itself. */
  n_statuses = peer->statuses->len;
  test_spin (2500);
  g_assert_cmpuint (peer->statuses->len, ==, n_statuses);
  g_assert_cmpint (natter_client_get_status (peer->client), ==, NATTER_CONNECTION_DISCONNECTED);
  peer_free (peer, FALSE);

  /* An app key the server does not know. */
  {
    g_autofree char *profile = test_make_profile ();
    g_autofree char *token = natter_test_server_get_token (server, "alice");
    g_autoptr(NatterClient) client = natter_client_new (natter_test_server_get_url (server),
                                                        "nosuchapp", profile);

    natter_client_connect (client, token);
    /* Starts DISCONNECTED: wait for the refusal itself. */
    test_wait_until ((gboolean (*) (gpointer)) natter_client_get_status_error, client, 20, "a refusal");
    test_wait_status (client, NATTER_CONNECTION_DISCONNECTED, 20, "disconnected");
    g_assert_error ((GError *) natter_client_get_status_error (client), NATTER_CLIENT_ERROR,
                    NATTER_CODE_APP_KEY_REJECTED);
    g_clear_object (&client);
    test_spin (50);
    test_remove_tree (profile);
  }

  /* A token of another app on the same natterd: app key and token do not
   * match (31005). */
  {
    g_autoptr(GSubprocess) process = NULL;
    g_autoptr(JsonParser) parser = json_parser_new ();
    g_autoptr(GError) error = NULL;
    g_autofree char *out = NULL;
    g_autofree char *token = natter_test_server_get_token (server, "alice");
    g_autofree char *profile = test_make_profile ();
    g_autoptr(NatterClient) client = NULL;
    const char *second_key;

    process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, natter_test_program ("NATTERD"),
                                "--data-dir", natter_test_server_get_data_dir (server), "--create-app", "second",
                                NULL);
    g_assert_no_error (error);
    g_subprocess_communicate_utf8 (process, NULL, NULL, &out, NULL, &error);
    g_assert_no_error (error);
    json_parser_load_from_data (parser, out, -1, &error);
    g_assert_no_error (error);
    second_key = json_object_get_string_member (json_node_get_object (json_parser_get_root (parser)), "appKey");

    client = natter_client_new (natter_test_server_get_url (server), second_key, profile);
    natter_client_connect (client, token);
    test_wait_until ((gboolean (*) (gpointer)) natter_client_get_status_error, client, 20, "a refusal");
    g_assert_error ((GError *) natter_client_get_status_error (client), NATTER_CLIENT_ERROR,
                    NATTER_CODE_APP_KEY_MISMATCH);
    g_assert_nonnull (strstr (natter_client_get_status_error (client)->message, "31005"));
    g_assert_cmpint (natter_client_get_status (client), ==, NATTER_CONNECTION_DISCONNECTED);
    g_clear_object (&client);
    test_spin (50);
    test_remove_tree (profile);
  }

  /* A token the app server expired. */
  peer = peer_new (server, "carol", NULL);
  {
    g_autofree char *now = g_strdup_printf ("%" G_GINT64_FORMAT, g_get_real_time () / 1000 + 1000);

    reply = natter_test_server_api (server, NULL, "user/token/expire", "userId", "carol", "time", now, NULL);
    g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  }
  natter_client_connect (peer->client, peer->token);
  test_wait_until ((gboolean (*) (gpointer)) natter_client_get_status_error, peer->client, 20, "a refusal");
  g_assert_error (peer->last_error, NATTER_CLIENT_ERROR, NATTER_CODE_TOKEN_EXPIRED);
  g_assert_cmpint (natter_client_get_status (peer->client), ==, NATTER_CONNECTION_DISCONNECTED);
  peer_free (peer, FALSE);
}

static void
test_offline_flag (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  Peer *alice = peer_new (server, "alice", NULL);
  Peer *bob = peer_new (server, "bob", NULL);
  g_autoptr(NatterConversation) conversation = NULL;
  g_autoptr(GPtrArray) stored = NULL;
  NatterMessage *live;

  peer_connect (alice);
  for (int i = 0; i < 3; i++)
    {
      g_autofree char *text = g_strdup_printf ("while you were away %d", i);
      g_object_unref (peer_send_ok (alice, "bob", text));
    }

  /* Bob comes online: the replay is flagged offline, in order. */
  peer_connect (bob);
  peer_wait_received (bob, 3);
  test_wait_until (peer_caught_up, bob, 20, "bob caught up");
  for (guint i = 0; i < 3; i++)
    {
      NatterMessage *message = g_ptr_array_index (bob->received, i);
      g_autofree char *text = g_strdup_printf ("while you were away %u", i);

      g_assert_true (natter_message_get_offline (message));
      g_assert_cmpstr (natter_message_get_text (message), ==, text);
      g_assert_cmpstr (natter_message_get_target_id (message), ==, "alice");
      g_assert_cmpstr (natter_message_get_sender_user_id (message), ==, "alice");
      g_assert_cmpint (natter_message_get_direction (message), ==, NATTER_MESSAGE_DIRECTION_RECEIVE);
      g_assert_cmpint (natter_message_get_message_id (message), >, 0);
    }

  /* A live one is not. */
  g_object_unref (peer_send_ok (alice, "bob", "now live"));
  peer_wait_received (bob, 4);
  live = g_ptr_array_index (bob->received, 3);
  g_assert_false (natter_message_get_offline (live));
  g_assert_cmpstr (natter_message_get_text (live), ==, "now live");

  conversation = peer_store_conversation (bob, NATTER_CONVERSATION_PRIVATE, "alice");
  g_assert_cmpuint (natter_conversation_get_unread_count (conversation), ==, 4);

  /* Everything was acked: a reconnect replays nothing. */
  natter_client_disconnect (bob->client);
  peer_connect (bob);
  test_wait_until (peer_caught_up, bob, 20, "bob caught up again");
  test_spin (500);
  g_assert_cmpuint (peer_count_received (bob, TRUE), ==, 4);
  stored = peer_store_page (bob, NATTER_CONVERSATION_PRIVATE, "alice", 50);
  g_assert_cmpuint (stored->len, ==, 4);

  peer_free (alice, FALSE);
  peer_free (bob, FALSE);
}

static void
test_reconnect_after_restart (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  Peer *alice = peer_new (server, "alice", NULL);
  Peer *bob = peer_new (server, "bob", NULL);
  g_autoptr(NatterMessage) after = NULL;
  gboolean saw_closed = FALSE;

  peer_connect (alice);
  peer_connect (bob);
  g_array_set_size (alice->statuses, 0);

  natter_test_server_stop (server);
  peer_wait_status (alice, NATTER_CONNECTION_CLOSED, 20);
  natter_test_server_restart (server);

  /* Backoff retries find it again by themselves. */
  peer_wait_status (alice, NATTER_CONNECTION_CONNECTED, 40);
  peer_wait_status (bob, NATTER_CONNECTION_CONNECTED, 40);
  for (guint i = 0; i < alice->statuses->len; i++)
    if (g_array_index (alice->statuses, NatterConnectionStatus, i) == NATTER_CONNECTION_CLOSED)
      saw_closed = TRUE;
  g_assert_true (saw_closed);

  after = peer_send_ok (alice, "bob", "after the restart");
  peer_wait_received (bob, 1);
  g_assert_cmpstr (natter_message_get_text (g_ptr_array_index (bob->received, 0)), ==, "after the restart");

  peer_free (alice, FALSE);
  peer_free (bob, FALSE);
}

static void
test_kick (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  Peer *first = peer_new (server, "alice", NULL);
  Peer *second = peer_new (server, "alice", NULL);
  guint n_statuses;

  peer_connect (first);
  peer_connect (second);

  peer_wait_status (first, NATTER_CONNECTION_KICKED_OFFLINE_BY_OTHER_CLIENT, 20);
  g_assert_error (first->last_error, NATTER_CLIENT_ERROR, NATTER_CODE_KICKED_BY_OTHER_DEVICE);

  /* Two devices would kick each other forever: the kicked one waits. */
  n_statuses = first->statuses->len;
  test_spin (3000);
  g_assert_cmpuint (first->statuses->len, ==, n_statuses);
  g_assert_cmpint (natter_client_get_status (second->client), ==, NATTER_CONNECTION_CONNECTED);

  peer_free (first, FALSE);
  peer_free (second, FALSE);
}

/* -------------------------------------------------------- history merge */

typedef struct {
  NatterMessageList *list;
  gboolean loading;
} ListWait;

static gboolean
list_idle (gpointer data)
{
  return !natter_message_list_get_loading (((ListWait *) data)->list);
}

static void
test_history_merge (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  Peer *alice = peer_new (server, "alice", NULL);
  Peer *bob = peer_new (server, "bob", NULL);
  Peer *bob2 = NULL;
  g_autoptr(GHashTable) sent = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(NatterMessageList) list = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  ListWait wait;
  guint n;
  gint64 previous = 0;

  peer_connect (alice);
  peer_connect (bob);

  /* 25 each way, interleaved; bob sends from his first device. */
  for (int i = 0; i < 25; i++)
    {
      g_autofree char *a_text = g_strdup_printf ("alice %02d", i);
      g_autofree char *b_text = g_strdup_printf ("bob %02d", i);
      g_autoptr(NatterMessage) from_alice = peer_send_ok (alice, "bob", a_text);
      g_autoptr(NatterMessage) from_bob = peer_send_ok (bob, "alice", b_text);

      g_hash_table_add (sent, g_strdup (natter_message_get_message_uid (from_alice)));
      g_hash_table_add (sent, g_strdup (natter_message_get_message_uid (from_bob)));
    }
  peer_wait_received (bob, 25);

  /* A new device of bob's: the inbox replay brings alice's messages only;
   * his own from the first device exist only in server history. */
  peer_free (bob, FALSE);
  bob2 = peer_new (server, "bob", NULL);
  peer_connect (bob2);
  test_wait_until (peer_caught_up, bob2, 20, "bob's new device caught up");

  list = natter_message_list_new (bob2->client, NATTER_CONVERSATION_PRIVATE, "alice");
  wait.list = list;
  test_wait_until (list_idle, &wait, 20, "the first page");

  /* Page back to the beginning. */
  for (int guard = 0; natter_message_list_get_has_more (list) && guard < 20; guard++)
    {
      g_autoptr(GAsyncResult) result = NULL;
      g_autoptr(GError) error = NULL;

      natter_message_list_load_older_async (list, NULL, test_store_result_cb, &result);
      test_wait_result (&result, 20);
      natter_message_list_load_older_finish (list, result, &error);
      g_assert_no_error (error);
    }
  g_assert_false (natter_message_list_get_has_more (list));

  /* Every message once, in time order, nothing missing. */
  n = g_list_model_get_n_items (G_LIST_MODEL (list));
  g_assert_cmpuint (n, ==, 50);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(NatterMessage) message = g_list_model_get_item (G_LIST_MODEL (list), i);
      const char *uid = natter_message_get_message_uid (message);

      g_assert_true (g_hash_table_contains (sent, uid));
      g_assert_false (g_hash_table_contains (seen, uid));
      g_hash_table_add (seen, (gpointer) uid);
      g_assert_cmpint (natter_message_get_sent_time (message), >=, previous);
      previous = natter_message_get_sent_time (message);
      if (g_str_has_prefix (natter_message_get_text (message), "bob"))
        g_assert_cmpint (natter_message_get_direction (message), ==, NATTER_MESSAGE_DIRECTION_SEND);
    }

  /* A live message appends. */
  g_object_unref (peer_send_ok (alice, "bob", "one more"));
  peer_wait_received (bob2, 26);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, 51);

  g_clear_object (&list);
  peer_free (alice, FALSE);
  peer_free (bob2, FALSE);
}

/* A list read ahead (natter_message_list_prefetch()) shows the store's
 * page and asks the server nothing until it is activated (#17): bob's
 * new device has his own messages only in server history. */
static guint
count_sent (NatterMessageList *list)
{
  guint sent = 0;

  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (list)); i++)
    {
      g_autoptr(NatterMessage) message = g_list_model_get_item (G_LIST_MODEL (list), i);
      if (natter_message_get_direction (message) == NATTER_MESSAGE_DIRECTION_SEND)
        sent++;
    }
  return sent;
}

static void
test_message_list_prefetch (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  Peer *alice = peer_new (server, "alice", NULL);
  Peer *bob = peer_new (server, "bob", NULL);
  Peer *bob2 = NULL;
  g_autoptr(NatterMessageList) list = NULL;
  ListWait wait;

  peer_connect (alice);
  peer_connect (bob);
  for (int i = 0; i < 5; i++)
    {
      g_autofree char *a_text = g_strdup_printf ("alice %02d", i);
      g_autofree char *b_text = g_strdup_printf ("bob %02d", i);

      g_object_unref (peer_send_ok (alice, "bob", a_text));
      g_object_unref (peer_send_ok (bob, "alice", b_text));
    }
  peer_wait_received (bob, 5);
  peer_free (bob, FALSE);
  bob2 = peer_new (server, "bob", NULL);
  peer_connect (bob2);
  test_wait_until (peer_caught_up, bob2, 20, "bob's new device caught up");

  list = natter_message_list_prefetch (bob2->client, NATTER_CONVERSATION_PRIVATE, "alice");
  wait.list = list;
  test_wait_until (list_idle, &wait, 20, "the store's page");
  g_assert_false (natter_message_list_get_active (list));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, 5);
  /* connected, and still nothing asked of the server */
  test_spin (500);
  g_assert_cmpuint (count_sent (list), ==, 0);

  natter_message_list_activate (list);
  g_assert_true (natter_message_list_get_active (list));
  test_wait_until (list_idle, &wait, 20, "the server's page");
  g_assert_cmpuint (count_sent (list), ==, 5);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, 10);

  g_clear_object (&list);
  peer_free (alice, FALSE);
  peer_free (bob2, FALSE);
}

/* ------------------------------------------------ conversation list model */

static gboolean
list_loaded (gpointer data)
{
  return !natter_conversation_list_get_loading (data);
}

static const char *
target_at (NatterConversationList *list,
           guint                   position)
{
  g_autoptr(NatterConversation) conversation = g_list_model_get_item (G_LIST_MODEL (list), position);

  return conversation ? natter_conversation_get_target_id (conversation) : NULL;
}

typedef struct {
  NatterConversationList *list;
  const char *first;
  guint total;
} OrderWait;

static gboolean
order_is (gpointer data)
{
  OrderWait *wait = data;

  return g_strcmp0 (target_at (wait->list, 0), wait->first) == 0 &&
         natter_conversation_list_get_unread_total (wait->list) == wait->total;
}

static void
test_conversation_list (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  Peer *bob = peer_new (server, "bob", NULL);
  Peer *carol = peer_new (server, "carol", NULL);
  Peer *dave = peer_new (server, "dave", NULL);
  g_autoptr(NatterConversationList) list = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  OrderWait wait;

  peer_connect (bob);
  peer_connect (carol);
  peer_connect (dave);

  list = natter_conversation_list_new (bob->client);
  test_wait_until (list_loaded, list, 20, "the list");
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, 0);

  g_object_unref (peer_send_ok (carol, "bob", "one"));
  g_object_unref (peer_send_ok (dave, "bob", "two"));
  g_object_unref (peer_send_ok (carol, "bob", "three"));

  /* Live: newest first, unread counted. */
  wait = (OrderWait) { list, "carol", 3 };
  test_wait_until (order_is, &wait, 20, "carol first with 3 unread");
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, 2);
  g_assert_cmpstr (target_at (list, 1), ==, "dave");

  g_object_unref (peer_send_ok (dave, "bob", "four"));
  wait = (OrderWait) { list, "dave", 4 };
  test_wait_until (order_is, &wait, 20, "dave first");

  /* Pinned first, whatever the time. */
  natter_client_update_conversation_async (bob->client, NATTER_CONVERSATION_PRIVATE, "carol",
                                           NATTER_CONVERSATION_ACTION_PIN, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 20);
  g_assert_true (natter_client_update_conversation_finish (bob->client, result, &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  g_assert_cmpstr (target_at (list, 0), ==, "carol");

  /* Read: the total follows; muted ones do not count. */
  natter_client_clear_unread_async (bob->client, NATTER_CONVERSATION_PRIVATE, "dave", NULL,
                                    test_store_result_cb, &result);
  test_wait_result (&result, 20);
  g_assert_true (natter_client_clear_unread_finish (bob->client, result, &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  g_assert_cmpuint (natter_conversation_list_get_unread_total (list), ==, 2);

  natter_client_update_conversation_async (bob->client, NATTER_CONVERSATION_PRIVATE, "carol",
                                           NATTER_CONVERSATION_ACTION_MUTE, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 20);
  g_assert_true (natter_client_update_conversation_finish (bob->client, result, &error));
  g_clear_object (&result);
  g_assert_cmpuint (natter_conversation_list_get_unread_total (list), ==, 0);

  /* The server's list agrees, and a fresh device gets it from there. */
  {
    Peer *bob2 = NULL;
    g_autoptr(NatterConversationList) list2 = NULL;
    guint count;

    peer_free (bob, FALSE);
    bob = NULL;
    bob2 = peer_new (server, "bob", NULL);
    peer_connect (bob2);
    natter_client_sync_conversations_async (bob2->client, NULL, test_store_result_cb, &result);
    test_wait_result (&result, 20);
    count = natter_client_sync_conversations_finish (bob2->client, result, &error);
    g_assert_no_error (error);
    g_clear_object (&result);
    g_assert_cmpuint (count, ==, 2);
    list2 = natter_conversation_list_new (bob2->client);
    test_wait_until (list_loaded, list2, 20, "the list");
    g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list2)), ==, 2);
    g_assert_cmpstr (target_at (list2, 0), ==, "carol");
    {
      g_autoptr(NatterConversation) carol_c = g_list_model_get_item (G_LIST_MODEL (list2), 0);
      g_autoptr(NatterConversation) dave_c = g_list_model_get_item (G_LIST_MODEL (list2), 1);

      g_assert_true (natter_conversation_get_pinned (carol_c));
      g_assert_true (natter_conversation_get_muted (carol_c));
      g_assert_cmpuint (natter_conversation_get_unread_count (carol_c), ==, 2);
      g_assert_cmpuint (natter_conversation_get_unread_count (dave_c), ==, 0);
      g_assert_cmpstr (natter_message_get_text (natter_conversation_get_latest_message (dave_c)), ==, "four");
    }
    g_clear_object (&list2);
    peer_free (bob2, FALSE);
  }

  g_clear_object (&list);
  peer_free (carol, FALSE);
  peer_free (dave, FALSE);
}

/* A conversation list carries a bounded preview of each latest message
 * (natterd cuts anything over 1 KiB). A device that learns of a message
 * that way shows the preview in the list and the whole message in the
 * chat: opening it completes the row from server history, in place. */

typedef struct {
  NatterMessage *message;
  gsize length;
} TextWait;

static gboolean
text_is_whole (gpointer data)
{
  TextWait *wait = data;
  const char *text = natter_message_get_text (wait->message);

  return text != NULL && strlen (text) == wait->length;
}

static void
test_conversation_previews (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  Peer *alice = peer_new (server, "alice", NULL);
  Peer *alice2 = NULL;
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(NatterConversationList) conversations = NULL;
  g_autoptr(NatterConversation) conversation = NULL;
  g_autoptr(NatterMessageList) chat = NULL;
  g_autoptr(NatterMessage) item = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  NatterMessage *latest;
  ListWait list_wait;
  TextWait text_wait;

  while (text->len < 100 * 1000)
    g_string_append (text, "会议改到下午三点 meeting moved to 3pm. ");

  peer_connect (alice);
  g_object_unref (peer_send_ok (alice, "bob", text->str));
  peer_free (alice, FALSE);

  /* A new device of alice's: her own message is not in her inbox (one
   * device per user in this app); the conversation list brings it. */
  alice2 = peer_new (server, "alice", NULL);
  peer_connect (alice2);
  natter_client_sync_conversations_async (alice2->client, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 20);
  g_assert_cmpuint (natter_client_sync_conversations_finish (alice2->client, result, &error), ==, 1);
  g_assert_no_error (error);

  conversations = natter_conversation_list_new (alice2->client);
  test_wait_until (list_loaded, conversations, 20, "the list");
  conversation = g_list_model_get_item (G_LIST_MODEL (conversations), 0);
  latest = natter_conversation_get_latest_message (conversation);
  g_assert_cmpstr (natter_conversation_get_target_id (conversation), ==, "bob");
  g_assert_cmpint (natter_message_get_kind (latest), ==, NATTER_MESSAGE_KIND_TEXT);
  g_assert_cmpint (natter_message_get_direction (latest), ==, NATTER_MESSAGE_DIRECTION_SEND);
  line = natter_message_dup_preview (latest);
  g_assert_true (g_str_has_prefix (line, "会议改到下午三点 meeting moved to 3pm. 会议改到下午三点"));

  /* Opening the chat: the whole message, in the row's own object. */
  chat = natter_message_list_new (alice2->client, NATTER_CONVERSATION_PRIVATE, "bob");
  list_wait.list = chat;
  test_wait_until (list_idle, &list_wait, 20, "the chat's first page");
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (chat)), ==, 1);
  item = g_list_model_get_item (G_LIST_MODEL (chat), 0);
  text_wait = (TextWait) { item, text->len };
  test_wait_until (text_is_whole, &text_wait, 20, "the whole text");
  g_assert_cmpstr (natter_message_get_text (item), ==, text->str);
  g_assert_cmpint (natter_message_get_sent_status (item), ==, NATTER_SENT_STATUS_SENT);

  /* Stored whole: a fresh read of the store agrees. */
  {
    g_autoptr(GPtrArray) page = peer_store_page (alice2, NATTER_CONVERSATION_PRIVATE, "bob", 20);

    g_assert_cmpuint (page->len, ==, 1);
    g_assert_cmpuint (strlen (natter_message_get_text (g_ptr_array_index (page, 0))), ==, text->len);
  }

  g_clear_object (&item);
  g_clear_object (&chat);
  g_clear_object (&conversation);
  g_clear_object (&conversations);
  peer_free (alice2, FALSE);
}

/* ----------------------------------------------- read sync between devices */

static gboolean
unread_is_zero (gpointer data)
{
  return natter_conversation_get_unread_count (data) == 0;
}

static gboolean
is_read (gpointer data)
{
  return natter_message_get_sent_status (data) == NATTER_SENT_STATUS_READ;
}

static void
test_read_sync (void)
{
  const char * const multi_device[] = { "--app-setting", "multi-device=true", NULL };
  g_autoptr(NatterTestServer) server = natter_test_server_new_full (NULL, multi_device);
  Peer *alice = peer_new (server, "alice", NULL);
  Peer *phone = peer_new (server, "bob", NULL);
  Peer *laptop = peer_new (server, "bob", NULL);
  g_autoptr(NatterMessage) first = NULL;
  g_autoptr(NatterMessage) second = NULL;
  g_autoptr(NatterConversation) on_laptop = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  peer_connect (alice);
  peer_connect (phone);
  peer_connect (laptop);

  first = peer_send_ok (alice, "bob", "did you see this");
  second = peer_send_ok (alice, "bob", "and this");
  peer_wait_received (phone, 2);
  peer_wait_received (laptop, 2);

  on_laptop = peer_store_conversation (laptop, NATTER_CONVERSATION_PRIVATE, "alice");
  g_assert_cmpuint (natter_conversation_get_unread_count (on_laptop), ==, 2);

  /* Read on the phone: the laptop clears, alice sees her messages read. */
  natter_client_clear_unread_async (phone->client, NATTER_CONVERSATION_PRIVATE, "alice", NULL,
                                    test_store_result_cb, &result);
  test_wait_result (&result, 20);
  g_assert_true (natter_client_clear_unread_finish (phone->client, result, &error));
  g_assert_no_error (error);

  test_wait_until (unread_is_zero, on_laptop, 20, "the laptop to clear its unread count");
  test_wait_until (is_read, second, 20, "alice's message to be read");
  g_assert_cmpint (natter_message_get_sent_status (first), ==, NATTER_SENT_STATUS_READ);

  /* A device's own sends reach its other devices, as sent by bob. */
  {
    g_autoptr(NatterMessage) reply = peer_send_ok (phone, "alice", "yes");
    NatterMessage *copy;

    peer_wait_received (laptop, 3);
    copy = g_ptr_array_index (laptop->received, laptop->received->len - 1);
    g_assert_cmpstr (natter_message_get_message_uid (copy), ==, natter_message_get_message_uid (reply));
    g_assert_cmpint (natter_message_get_direction (copy), ==, NATTER_MESSAGE_DIRECTION_SEND);
    g_assert_cmpstr (natter_message_get_target_id (copy), ==, "alice");
  }

  peer_free (alice, FALSE);
  peer_free (phone, FALSE);
  peer_free (laptop, FALSE);
}

/* ------------------------------------------------------------------ recall */

static gboolean
is_recalled (gpointer data)
{
  return natter_message_get_kind (data) == NATTER_MESSAGE_KIND_RECALLED;
}

static void
count_items_changed (GListModel *model,
                     guint       position,
                     guint       removed,
                     guint       added,
                     guint      *count)
{
  if (removed == 1 && added == 1)
    (*count)++;
}

static void
test_recall (void)
{
  g_autoptr(NatterMessageList) list = NULL;
  guint rows_replaced = 0;
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  Peer *alice = peer_new (server, "alice", NULL);
  Peer *bob = peer_new (server, "bob", NULL);
  g_autoptr(NatterMessage) sent = NULL;
  g_autoptr(NatterMessage) recalled = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  NatterMessage *on_bob;

  peer_connect (alice);
  peer_connect (bob);
  sent = peer_send_ok (alice, "bob", "wrong chat, sorry");
  peer_wait_received (bob, 1);
  on_bob = g_ptr_array_index (bob->received, 0);

  /* Bob has the chat open. */
  list = natter_message_list_new (bob->client, NATTER_CONVERSATION_PRIVATE, "alice");
  test_wait_until (list_idle, &(ListWait) { list }, 20, "bob's chat");
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, 1);
  g_signal_connect (list, "items-changed", G_CALLBACK (count_items_changed), &rows_replaced);

  /* Only the sender may recall. */
  natter_client_recall_message_async (bob->client, on_bob, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 20);
  g_assert_null (natter_client_recall_message_finish (bob->client, result, &error));
  g_assert_error (error, NATTER_CLIENT_ERROR, NATTER_CODE_RECALL_FAILED);
  g_clear_error (&error);
  g_clear_object (&result);

  natter_client_recall_message_async (alice->client, sent, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 20);
  recalled = natter_client_recall_message_finish (alice->client, result, &error);
  g_assert_no_error (error);
  g_assert_true (recalled == sent);
  g_assert_cmpint (natter_message_get_kind (sent), ==, NATTER_MESSAGE_KIND_RECALLED);

  /* Bob's copy changes in place. */
  test_wait_until (is_recalled, on_bob, 20, "bob's copy to be recalled");
  g_assert_cmpstr (natter_message_get_recall_operator_id (on_bob), ==, "alice");
  g_assert_cmpstr (natter_message_get_recalled_object_name (on_bob), ==, NATTER_OBJECT_TEXT);
  /* ... and its row is rebuilt as a recall notice. */
  g_assert_cmpuint (rows_replaced, ==, 1);
  g_clear_object (&list);

  peer_free (alice, FALSE);
  peer_free (bob, FALSE);
}

/* --------------------------------------------------------------- chatroom */

static GPtrArray *
join (Peer  *peer,
      const char *room,
      int    count,
      guint *members)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *messages;

  natter_client_join_chatroom_async (peer->client, room, count, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 20);
  messages = natter_client_join_chatroom_finish (peer->client, result, members, &error);
  g_assert_no_error (error);
  return messages;
}

static void
test_chatroom_counts (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  Peer *alice = peer_new (server, "alice", NULL);
  Peer *bob = peer_new (server, "bob", NULL);
  Peer *carol = peer_new (server, "carol", NULL);
  g_autoptr(GPtrArray) none = NULL;
  g_autoptr(GPtrArray) three = NULL;
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  guint members = 0;

  peer_connect (alice);
  peer_connect (bob);
  peer_connect (carol);

  none = join (alice, "lobby", -1, &members);
  g_assert_cmpuint (none->len, ==, 0);
  g_assert_cmpuint (members, ==, 1);

  for (int i = 0; i < 5; i++)
    {
      g_autofree char *text = g_strdup_printf ("room message %d", i);
      g_autoptr(NatterMessage) message = peer_send_text (alice, NATTER_CONVERSATION_CHATROOM, "lobby", text, &error);

      g_assert_no_error (error);
      g_assert_nonnull (message);
    }

  three = join (bob, "lobby", 3, &members);
  g_assert_cmpuint (members, ==, 2);
  g_assert_cmpuint (three->len, ==, 3);
  g_assert_cmpstr (natter_message_get_text (g_ptr_array_index (three, 0)), ==, "room message 2");
  g_assert_cmpstr (natter_message_get_text (g_ptr_array_index (three, 2)), ==, "room message 4");

  all = join (carol, "lobby", 50, &members);
  g_assert_cmpuint (members, ==, 3);
  g_assert_cmpuint (all->len, ==, 5);

  /* Members get what is said next. */
  g_object_unref (peer_send_text (alice, NATTER_CONVERSATION_CHATROOM, "lobby", "everyone?", &error));
  g_assert_no_error (error);
  peer_wait_received (carol, 6);

  /* Not a member: the reference code. */
  {
    Peer *dave = peer_new (server, "dave", NULL);
    g_autoptr(NatterMessage) refused = NULL;

    peer_connect (dave);
    refused = peer_send_text (dave, NATTER_CONVERSATION_CHATROOM, "lobby", "let me in", &error);
    g_assert_null (refused);
    g_assert_error (error, NATTER_CLIENT_ERROR, NATTER_CODE_NOT_IN_CHATROOM);
    g_clear_error (&error);
    peer_free (dave, FALSE);
  }

  natter_client_quit_chatroom_async (bob->client, "lobby", NULL, test_store_result_cb, &result);
  test_wait_result (&result, 20);
  g_assert_true (natter_client_quit_chatroom_finish (bob->client, result, &error));
  g_assert_no_error (error);

  peer_free (alice, FALSE);
  peer_free (bob, FALSE);
  peer_free (carol, FALSE);
}

/* ------------------------------------------------------ group gag, search */

static void
test_group_gag_and_search (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  Peer *alice = peer_new (server, "alice", NULL);
  Peer *bob = peer_new (server, "bob", NULL);
  g_autoptr(JsonObject) reply = NULL;
  g_autoptr(NatterMessage) ok = NULL;
  g_autoptr(NatterMessage) refused = NULL;
  g_autoptr(GPtrArray) stored = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GPtrArray) found = NULL;
  g_autoptr(GError) error = NULL;
  NatterMessage *failed;

  reply = natter_test_server_api (server, NULL, "group/create", "userId", "alice", "userId", "bob",
                                  "groupId", "team", "groupName", "Team", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_clear_pointer (&reply, json_object_unref);

  peer_connect (alice);
  peer_connect (bob);

  ok = peer_send_text (alice, NATTER_CONVERSATION_GROUP, "team", "会议改到明天下午三点", &error);
  g_assert_no_error (error);
  peer_wait_received (bob, 1);
  g_assert_cmpstr (natter_message_get_target_id (g_ptr_array_index (bob->received, 0)), ==, "team");

  reply = natter_test_server_api (server, NULL, "group/user/gag/add", "userId", "bob", "groupId", "team",
                                  "minute", "10", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);

  refused = peer_send_text (bob, NATTER_CONVERSATION_GROUP, "team", "can I speak?", &error);
  g_assert_null (refused);
  g_assert_error (error, NATTER_CLIENT_ERROR, NATTER_CODE_GAGGED_IN_GROUP);
  g_clear_error (&error);

  /* The refused message stays, FAILED with its code, for the UI. */
  stored = peer_store_page (bob, NATTER_CONVERSATION_GROUP, "team", 10);
  g_assert_cmpuint (stored->len, ==, 2);
  failed = g_ptr_array_index (stored, 1);
  g_assert_cmpint (natter_message_get_sent_status (failed), ==, NATTER_SENT_STATUS_FAILED);
  g_assert_cmpint (natter_message_get_error_code (failed), ==, NATTER_CODE_GAGGED_IN_GROUP);

  /* Ungagged, the user retries the failed message: same row, sent now. */
  g_clear_pointer (&reply, json_object_unref);
  reply = natter_test_server_api (server, NULL, "group/user/gag/rollback", "userId", "bob", "groupId", "team",
                                  NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  {
    g_autoptr(NatterMessage) resent = NULL;

    natter_client_resend_message_async (bob->client, failed, NULL, test_store_result_cb, &result);
    test_wait_result (&result, 20);
    resent = natter_client_resend_message_finish (bob->client, result, &error);
    g_assert_no_error (error);
    g_clear_object (&result);
    g_assert_true (resent == failed);
    g_assert_cmpint (natter_message_get_sent_status (failed), ==, NATTER_SENT_STATUS_SENT);
    g_assert_cmpint (natter_message_get_error_code (failed), ==, 0);
    g_assert_nonnull (natter_message_get_message_uid (failed));
    peer_wait_received (alice, 1);
    g_assert_cmpstr (natter_message_get_text (g_ptr_array_index (alice->received, 0)), ==, "can I speak?");
  }

  /* Search finds Chinese words inside a sentence. */
  natter_store_search_async (natter_client_get_store (bob->client), "明天下午", 0, NULL, 10, NULL,
                             test_store_result_cb, &result);
  test_wait_result (&result, 10);
  found = natter_store_search_finish (natter_client_get_store (bob->client), result, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (found->len, ==, 1);
  g_assert_cmpstr (natter_message_get_message_uid (g_ptr_array_index (found, 0)), ==,
                   natter_message_get_message_uid (ok));

  peer_free (alice, FALSE);
  peer_free (bob, FALSE);
}

/* ------------------------------------------------------------------ names */

typedef struct {
  GObject    *object;
  const char *property;
  const char *expected;
} PropertyWait;

static gboolean
has_string (gpointer data)
{
  PropertyWait *wait = data;
  g_autofree char *value = NULL;

  g_object_get (wait->object, wait->property, &value, NULL);
  return g_strcmp0 (value, wait->expected) == 0;
}

static void
wait_string (gpointer    object,
             const char *property,
             const char *expected)
{
  PropertyWait wait = { object, property, expected };
  g_autofree char *what = g_strdup_printf ("%s to become %s", property, expected);

  test_wait_until (has_string, &wait, 20, what);
}

/* Display names from the server's profiles: group conversations show the
 * group's name, private ones the peer's, messages their sender's; fetched
 * by the client on its own, once and not per message, kept in the store,
 * and followed in place when asked again after a rename. */
static void
test_profiles (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  Peer *alice = peer_new (server, "alice", NULL);
  Peer *bob = peer_new (server, "bob", NULL);
  g_autoptr(JsonObject) reply = NULL;
  g_autoptr(NatterConversation) group = NULL;
  g_autoptr(NatterConversation) chat = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *bob_profile = g_strdup (bob->profile);
  NatterMessage *from_alice;
  guint64 queries;

  reply = natter_test_server_api (server, NULL, "user/refresh", "userId", "alice", "name", "Alice Liddell",
                                  "portraitUri", "http://127.0.0.1/alice.png", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_clear_pointer (&reply, json_object_unref);
  reply = natter_test_server_api (server, NULL, "group/create", "userId", "alice", "userId", "bob",
                                  "groupId", "team", "groupName", "茶会", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_clear_pointer (&reply, json_object_unref);

  peer_connect (alice);
  peer_connect (bob);
  g_object_unref (peer_send_text (alice, NATTER_CONVERSATION_GROUP, "team", "hello team", &error));
  g_assert_no_error (error);
  g_object_unref (peer_send_text (alice, NATTER_CONVERSATION_PRIVATE, "bob", "hello bob", &error));
  g_assert_no_error (error);
  peer_wait_received (bob, 2);

  from_alice = g_ptr_array_index (bob->received, 0);
  wait_string (from_alice, "sender-name", "Alice Liddell");
  g_assert_cmpstr (natter_message_get_sender_portrait_uri (from_alice), ==, "http://127.0.0.1/alice.png");
  group = peer_store_conversation (bob, NATTER_CONVERSATION_GROUP, "team");
  chat = peer_store_conversation (bob, NATTER_CONVERSATION_PRIVATE, "alice");
  wait_string (group, "title", "茶会");
  wait_string (chat, "title", "Alice Liddell");
  g_assert_cmpstr (natter_conversation_get_portrait_uri (chat), ==, "http://127.0.0.1/alice.png");

  /* More messages from known names: no more queries. */
  test_spin (400);
  queries = natter_test_server_get_metric (server, "natterd_query_latency_seconds_count");
  for (guint i = 0; i < 5; i++)
    g_object_unref (peer_send_text (alice, NATTER_CONVERSATION_GROUP, "team", "again", &error));
  peer_wait_received (bob, 7);
  test_spin (400);
  g_assert_cmpuint (natter_test_server_get_metric (server, "natterd_query_latency_seconds_count"), ==, queries);

  /* Renamed by the app server; asked again, the objects follow in place. */
  reply = natter_test_server_api (server, NULL, "user/refresh", "userId", "alice", "name", "爱丽丝", NULL);
  g_clear_pointer (&reply, json_object_unref);
  reply = natter_test_server_api (server, NULL, "group/refresh", "groupId", "team", "groupName", "Tea party",
                                  NULL);
  g_clear_pointer (&reply, json_object_unref);
  {
    const char * const users[] = { "alice", NULL };
    const char * const groups[] = { "team", NULL };

    natter_client_get_profiles_async (bob->client, users, groups, NULL, test_store_result_cb, &result);
    test_wait_result (&result, 20);
    g_assert_true (natter_client_get_profiles_finish (bob->client, result, &error));
    g_assert_no_error (error);
    g_clear_object (&result);
  }
  g_assert_cmpstr (natter_message_get_sender_name (from_alice), ==, "爱丽丝");
  g_assert_cmpstr (natter_conversation_get_title (group), ==, "Tea party");
  g_assert_cmpstr (natter_conversation_get_title (chat), ==, "爱丽丝");

  /* Bad requests fail at once, in context. */
  natter_client_get_profiles_async (bob->client, NULL, NULL, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 20);
  g_assert_false (natter_client_get_profiles_finish (bob->client, result, &error));
  g_assert_error (error, NATTER_CLIENT_ERROR, NATTER_CODE_INVALID_PARAMETER);
  g_clear_error (&error);
  g_clear_object (&result);

  /* Kept in the profile: offline, a new client shows the names at once. */
  g_clear_object (&group);
  g_clear_object (&chat);
  peer_free (bob, TRUE);
  bob = peer_new (server, "bob", bob_profile);
  group = peer_store_conversation (bob, NATTER_CONVERSATION_GROUP, "team");
  g_assert_cmpstr (natter_conversation_get_title (group), ==, "Tea party");
  {
    g_autoptr(GPtrArray) page = peer_store_page (bob, NATTER_CONVERSATION_GROUP, "team", 10);

    g_assert_cmpuint (page->len, ==, 6);
    g_assert_cmpstr (natter_message_get_sender_name (g_ptr_array_index (page, 0)), ==, "爱丽丝");
  }

  peer_free (alice, FALSE);
  peer_free (bob, FALSE);
}

static gboolean
latest_sender_named (gpointer data)
{
  NatterMessage *latest = natter_conversation_get_latest_message (((gpointer *) data)[0]);

  return latest != NULL && g_strcmp0 (natter_message_get_sender_name (latest), ((gpointer *) data)[1]) == 0;
}

/* A rename by the app server reaches the client with no message needed:
 * a user's at once (natterd's NT:ProfileNtf to its co-members online); a
 * group's with the newest conversations when it connects, a chat when it
 * is opened, if their names are older than the refresh age (10 minutes; 0
 * here, as if that long had passed). Messages alone never ask again. */
static void
test_profiles_refresh (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  Peer *alice = peer_new (server, "alice", NULL);
  Peer *bob = peer_new (server, "bob", NULL);
  g_autoptr(JsonObject) reply = NULL;
  g_autoptr(NatterConversation) group = NULL;
  g_autoptr(NatterConversation) chat = NULL;
  g_autoptr(NatterMessageList) list = NULL;
  g_autoptr(GError) error = NULL;

  reply = natter_test_server_api (server, NULL, "user/refresh", "userId", "alice", "name", "Alice", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_clear_pointer (&reply, json_object_unref);
  reply = natter_test_server_api (server, NULL, "group/create", "userId", "alice", "userId", "bob",
                                  "groupId", "team", "groupName", "Team", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_clear_pointer (&reply, json_object_unref);

  peer_connect (alice);
  peer_connect (bob);
  g_object_unref (peer_send_text (alice, NATTER_CONVERSATION_PRIVATE, "bob", "hi bob", &error));
  g_object_unref (peer_send_text (alice, NATTER_CONVERSATION_GROUP, "team", "hi team", &error));
  g_assert_no_error (error);
  peer_wait_received (bob, 2);
  chat = peer_store_conversation (bob, NATTER_CONVERSATION_PRIVATE, "alice");
  group = peer_store_conversation (bob, NATTER_CONVERSATION_GROUP, "team");
  wait_string (chat, "title", "Alice");
  wait_string (group, "title", "Team");

  /* Renamed: alice's name comes at once, the group's not; more messages
   * do not ask again. */
  reply = natter_test_server_api (server, NULL, "user/refresh", "userId", "alice", "name", "Alice Liddell", NULL);
  g_clear_pointer (&reply, json_object_unref);
  wait_string (chat, "title", "Alice Liddell");
  reply = natter_test_server_api (server, NULL, "group/refresh", "groupId", "team", "groupName", "Tea party",
                                  NULL);
  g_clear_pointer (&reply, json_object_unref);
  for (guint i = 0; i < 3; i++)
    g_object_unref (peer_send_text (alice, NATTER_CONVERSATION_GROUP, "team", "again", &error));
  peer_wait_received (bob, 5);
  test_spin (500);
  g_assert_cmpstr (natter_conversation_get_title (group), ==, "Team");

  /* Connecting again asks for the newest conversations' old names. */
  natter_profile_fetcher_set_refresh_age (natter_client_get_profile_fetcher (bob->client), 0);
  natter_client_disconnect (bob->client);
  peer_connect (bob);
  wait_string (group, "title", "Tea party");
  /* the group's preview ("Alice Liddell: again") follows too */
  test_wait_until (latest_sender_named, (gpointer[]) { group, (gpointer) "Alice Liddell" }, 20,
                   "the preview's sender renamed");

  /* Opening a chat asks for its name. */
  reply = natter_test_server_api (server, NULL, "group/refresh", "groupId", "team", "groupName", "茶会", NULL);
  g_clear_pointer (&reply, json_object_unref);
  list = natter_message_list_new (bob->client, NATTER_CONVERSATION_GROUP, "team");
  wait_string (group, "title", "茶会");
  reply = natter_test_server_api (server, NULL, "user/refresh", "userId", "alice", "name", "爱丽丝", NULL);
  g_clear_pointer (&reply, json_object_unref);
  wait_string (chat, "title", "爱丽丝");

  /* Messages that are not stored carry the name too ("爱丽丝 is typing…"). */
  natter_client_send_typing (alice->client, NATTER_CONVERSATION_GROUP, "team");
  test_wait_until (peer_got_typing, bob, 20, "the typing notice");
  for (guint i = 0; i < bob->received->len; i++)
    {
      NatterMessage *message = g_ptr_array_index (bob->received, i);

      if (natter_message_get_kind (message) == NATTER_MESSAGE_KIND_TYPING)
        g_assert_cmpstr (natter_message_get_sender_name (message), ==, "爱丽丝");
    }

  peer_free (alice, FALSE);
  peer_free (bob, FALSE);
}

/* The client acts on the app's edit-window as natterd says it on
 * connecting: 0 turns editing off, another value is kept as it is. */
static void
test_edit_window (void)
{
  const char * const windows[] = { NULL, "0", "60" };
  const guint expected[] = { NATTER_EDIT_WINDOW_DEFAULT, 0, 60 };

  for (guint i = 0; i < G_N_ELEMENTS (windows); i++)
    {
      g_autofree char *setting = windows[i] != NULL ? g_strdup_printf ("edit-window=%s", windows[i]) : NULL;
      g_autoptr(NatterTestServer) server =
        natter_test_server_new_full (NULL, setting != NULL ? (const char * const[]) { "--app-setting", setting, NULL }
                                                           : NULL);
      Peer *alice = peer_new (server, "alice", NULL);

      g_assert_cmpuint (natter_client_get_edit_window (alice->client), ==, NATTER_EDIT_WINDOW_DEFAULT);
      peer_connect (alice);
      g_assert_cmpuint (natter_client_get_edit_window (alice->client), ==, expected[i]);
      peer_free (alice, FALSE);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/client/connect-errors", test_connect_errors);
  g_test_add_func ("/client/edit-window", test_edit_window);
  g_test_add_func ("/client/offline-flag", test_offline_flag);
  g_test_add_func ("/client/reconnect-after-restart", test_reconnect_after_restart);
  g_test_add_func ("/client/kick", test_kick);
  g_test_add_func ("/client/history-merge", test_history_merge);
  g_test_add_func ("/client/message-list-prefetch", test_message_list_prefetch);
  g_test_add_func ("/client/conversation-list", test_conversation_list);
  g_test_add_func ("/client/conversation-previews", test_conversation_previews);
  g_test_add_func ("/client/read-sync", test_read_sync);
  g_test_add_func ("/client/recall", test_recall);
  g_test_add_func ("/client/chatroom-counts", test_chatroom_counts);
  g_test_add_func ("/client/group-gag-and-search", test_group_gag_and_search);
  g_test_add_func ("/client/profiles", test_profiles);
  g_test_add_func ("/client/profiles-refresh", test_profiles_refresh);

  return g_test_run ();
}
