/* test-client.c — NatterClient against a real natterd on 127.0.0.1
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gstdio.h>
#include <string.h>

#include "natter.h"
#include "natter-test-server.h"
#include "test-helpers.h"

/* ---------------------------------------------------------------- helpers */

typedef struct {
  NatterClient *client;
  char *user_id;
  char *token;
  char *profile;
  GPtrArray *received;          /* NatterMessage, every message-received */
  GArray *statuses;             /* every status it went through */
  GError *last_error;
} Peer;

static void
peer_received_cb (NatterClient  *client,
                  NatterMessage *message,
                  Peer          *peer)
{
  g_ptr_array_add (peer->received, g_object_ref (message));
}

static void
peer_status_cb (NatterClient           *client,
                NatterConnectionStatus  status,
                NatterConnectionStatus  old_status,
                const GError           *error,
                Peer                   *peer)
{
  g_array_append_val (peer->statuses, status);
  if (error != NULL)
    {
      g_clear_error (&peer->last_error);
      peer->last_error = g_error_copy (error);
    }
}

static char *
make_profile (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("natter-client-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        remove_tree (child);
      else
        g_remove (child);
    }
  g_rmdir (path);
}

/* A client for @user_id with its own profile (or @profile when given). */
static Peer *
peer_new (NatterTestServer *server,
          const char       *user_id,
          const char       *profile)
{
  Peer *peer = g_new0 (Peer, 1);

  peer->user_id = g_strdup (user_id);
  peer->token = natter_test_server_get_token (server, user_id);
  peer->profile = profile ? g_strdup (profile) : make_profile ();
  peer->received = g_ptr_array_new_with_free_func (g_object_unref);
  peer->statuses = g_array_new (FALSE, FALSE, sizeof (NatterConnectionStatus));
  peer->client = natter_client_new (natter_test_server_get_url (server),
                                    natter_test_server_get_app_key (server), peer->profile);
  g_signal_connect (peer->client, "message-received", G_CALLBACK (peer_received_cb), peer);
  g_signal_connect (peer->client, "status-changed", G_CALLBACK (peer_status_cb), peer);
  return peer;
}

static void
peer_free (Peer     *peer,
           gboolean  keep_profile)
{
  if (peer == NULL)
    return;
  g_signal_handlers_disconnect_by_data (peer->client, peer);
  natter_client_disconnect (peer->client);
  g_clear_object (&peer->client);
  /* Let the worker finish what is queued. */
  test_spin (50);
  if (!keep_profile)
    remove_tree (peer->profile);
  g_ptr_array_unref (peer->received);
  g_array_unref (peer->statuses);
  g_clear_error (&peer->last_error);
  g_free (peer->user_id);
  g_free (peer->token);
  g_free (peer->profile);
  g_free (peer);
}

typedef struct {
  NatterClient *client;
  NatterConnectionStatus status;
} StatusWait;

static gboolean
has_status (gpointer data)
{
  StatusWait *wait = data;

  return natter_client_get_status (wait->client) == wait->status;
}

static void
wait_status (Peer                   *peer,
             NatterConnectionStatus  status,
             guint                   timeout_s)
{
  StatusWait wait = { peer->client, status };
  g_autofree char *what = g_strdup_printf ("%s to reach status %d", peer->user_id, status);

  test_wait_until (has_status, &wait, timeout_s, what);
}

static void
peer_connect (Peer *peer)
{
  natter_client_connect (peer->client, peer->token);
  wait_status (peer, NATTER_CONNECTION_CONNECTED, 20);
}

static gboolean
caught_up (gpointer data)
{
  return natter_client_get_caught_up (((Peer *) data)->client);
}

typedef struct {
  Peer *peer;
  guint count;
  gboolean persisted_only;
} CountWait;

static guint
count_received (Peer     *peer,
                gboolean  persisted_only)
{
  guint n = 0;

  for (guint i = 0; i < peer->received->len; i++)
    if (!persisted_only || natter_message_is_persisted (g_ptr_array_index (peer->received, i)))
      n++;
  return n;
}

static gboolean
received_enough (gpointer data)
{
  CountWait *wait = data;

  return count_received (wait->peer, wait->persisted_only) >= wait->count;
}

static void
wait_received (Peer  *peer,
               guint  count)
{
  CountWait wait = { peer, count, TRUE };
  g_autofree char *what = g_strdup_printf ("%s to receive %u messages", peer->user_id, count);

  test_wait_until (received_enough, &wait, 20, what);
}

static NatterMessage *
send_text (Peer                   *peer,
           NatterConversationType  type,
           const char             *target,
           const char             *text,
           GError                **error)
{
  g_autoptr(JsonObject) content = natter_content_new_text (text);
  g_autoptr(GAsyncResult) result = NULL;

  natter_client_send_message_async (peer->client, type, target, NATTER_OBJECT_TEXT, content, NULL,
                                    test_store_result_cb, &result);
  test_wait_result (&result, 20);
  return natter_client_send_message_finish (peer->client, result, error);
}

static NatterMessage *
send_ok (Peer       *peer,
         const char *target,
         const char *text)
{
  g_autoptr(GError) error = NULL;
  NatterMessage *message = send_text (peer, NATTER_CONVERSATION_PRIVATE, target, text, &error);

  g_assert_no_error (error);
  g_assert_nonnull (natter_message_get_message_uid (message));
  g_assert_cmpint (natter_message_get_sent_status (message), ==, NATTER_SENT_STATUS_SENT);
  return message;
}

static GPtrArray *
store_page (Peer                   *peer,
            NatterConversationType  type,
            const char             *target,
            guint                   limit)
{
  NatterStore *store = natter_client_get_store (peer->client);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *messages;

  natter_store_get_messages_async (store, type, target, 0, 0, limit, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  messages = natter_store_get_messages_finish (store, result, &error);
  g_assert_no_error (error);
  return messages;
}

static NatterConversation *
store_conversation (Peer                   *peer,
                    NatterConversationType  type,
                    const char             *target)
{
  NatterStore *store = natter_client_get_store (peer->client);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  NatterConversation *conversation;

  natter_store_get_conversation_async (store, type, target, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  conversation = natter_store_get_conversation_finish (store, result, &error);
  g_assert_no_error (error);
  return conversation;
}

/* ------------------------------------------------------------------ tests */

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
  wait_status (peer, NATTER_CONNECTION_DISCONNECTED, 20);
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
    g_autofree char *profile = make_profile ();
    g_autofree char *token = natter_test_server_get_token (server, "alice");
    g_autoptr(NatterClient) client = natter_client_new (natter_test_server_get_url (server),
                                                        "nosuchapp", profile);
    StatusWait wait = { client, NATTER_CONNECTION_DISCONNECTED };

    natter_client_connect (client, token);
    /* Starts DISCONNECTED: wait for the refusal itself. */
    test_wait_until ((gboolean (*) (gpointer)) natter_client_get_status_error, client, 20, "a refusal");
    test_wait_until (has_status, &wait, 20, "disconnected");
    g_assert_error ((GError *) natter_client_get_status_error (client), NATTER_CLIENT_ERROR,
                    NATTER_CODE_APP_KEY_REJECTED);
    g_clear_object (&client);
    test_spin (50);
    remove_tree (profile);
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
      g_object_unref (send_ok (alice, "bob", text));
    }

  /* Bob comes online: the replay is flagged offline, in order. */
  peer_connect (bob);
  wait_received (bob, 3);
  test_wait_until (caught_up, bob, 20, "bob caught up");
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
  g_object_unref (send_ok (alice, "bob", "now live"));
  wait_received (bob, 4);
  live = g_ptr_array_index (bob->received, 3);
  g_assert_false (natter_message_get_offline (live));
  g_assert_cmpstr (natter_message_get_text (live), ==, "now live");

  conversation = store_conversation (bob, NATTER_CONVERSATION_PRIVATE, "alice");
  g_assert_cmpuint (natter_conversation_get_unread_count (conversation), ==, 4);

  /* Everything was acked: a reconnect replays nothing. */
  natter_client_disconnect (bob->client);
  peer_connect (bob);
  test_wait_until (caught_up, bob, 20, "bob caught up again");
  test_spin (500);
  g_assert_cmpuint (count_received (bob, TRUE), ==, 4);
  stored = store_page (bob, NATTER_CONVERSATION_PRIVATE, "alice", 50);
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
  wait_status (alice, NATTER_CONNECTION_CLOSED, 20);
  natter_test_server_restart (server);

  /* Backoff retries find it again by themselves. */
  wait_status (alice, NATTER_CONNECTION_CONNECTED, 40);
  wait_status (bob, NATTER_CONNECTION_CONNECTED, 40);
  for (guint i = 0; i < alice->statuses->len; i++)
    if (g_array_index (alice->statuses, NatterConnectionStatus, i) == NATTER_CONNECTION_CLOSED)
      saw_closed = TRUE;
  g_assert_true (saw_closed);

  after = send_ok (alice, "bob", "after the restart");
  wait_received (bob, 1);
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

  wait_status (first, NATTER_CONNECTION_KICKED_OFFLINE_BY_OTHER_CLIENT, 20);
  g_assert_error (first->last_error, NATTER_CLIENT_ERROR, NATTER_CODE_KICKED_BY_OTHER_DEVICE);

  /* Two devices would kick each other forever: the kicked one waits. */
  n_statuses = first->statuses->len;
  test_spin (3000);
  g_assert_cmpuint (first->statuses->len, ==, n_statuses);
  g_assert_cmpint (natter_client_get_status (second->client), ==, NATTER_CONNECTION_CONNECTED);

  peer_free (first, FALSE);
  peer_free (second, FALSE);
}

static void
test_outbox_survives_restart (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  Peer *alice = peer_new (server, "alice", NULL);
  Peer *bob = peer_new (server, "bob", NULL);
  g_autofree char *profile = g_strdup (alice->profile);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) outbox = NULL;
  g_autoptr(JsonObject) content = natter_content_new_text ("written offline");
  NatterStore *store;

  peer_connect (alice);
  natter_test_server_stop (server);
  wait_status (alice, NATTER_CONNECTION_CLOSED, 20);

  /* Sent while the server is away: stored SENDING, waiting. */
  natter_client_send_message_async (alice->client, NATTER_CONVERSATION_PRIVATE, "bob",
                                    NATTER_OBJECT_TEXT, content, NULL, test_store_result_cb, &result);
  test_spin (300);
  g_assert_null (result);
  store = natter_client_get_store (alice->client);
  {
    g_autoptr(GAsyncResult) r = NULL;

    natter_store_get_outbox_async (store, NULL, test_store_result_cb, &r);
    test_wait_result (&r, 10);
    outbox = natter_store_get_outbox_finish (store, r, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (outbox->len, ==, 1);
  }

  /* The app quits: the send is abandoned, the message is not. */
  peer_free (alice, TRUE);
  test_wait_result (&result, 10);
  g_assert_null (g_task_propagate_pointer (G_TASK (result), &error));
  g_assert_error (error, NATTER_CLIENT_ERROR, NATTER_CODE_NOT_CONNECTED);
  g_clear_error (&error);
  g_clear_object (&result);

  natter_test_server_restart (server);
  alice = peer_new (server, "alice", profile);
  peer_connect (alice);
  peer_connect (bob);
  wait_received (bob, 1);
  test_spin (1000);
  g_assert_cmpuint (count_received (bob, TRUE), ==, 1);
  g_assert_cmpstr (natter_message_get_text (g_ptr_array_index (bob->received, 0)), ==, "written offline");

  peer_free (alice, FALSE);
  peer_free (bob, FALSE);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/client/connect-errors", test_connect_errors);
  g_test_add_func ("/client/offline-flag", test_offline_flag);
  g_test_add_func ("/client/reconnect-after-restart", test_reconnect_after_restart);
  g_test_add_func ("/client/kick", test_kick);
  g_test_add_func ("/client/outbox-survives-restart", test_outbox_survives_restart);

  return g_test_run ();
}
