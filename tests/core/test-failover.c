/* test-failover.c — a client that knows several natterd nodes moves to
 * another when its own is gone, losing and doubling nothing
 *
 * Until the cluster layer shares one store, two nodes of "one service" are
 * two natterd processes on byte copies of a data dir made after the app
 * and the users were created (tests/common: natter_test_server_new_copy):
 * same app, keys and users, which is what a client's failover needs.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <libsoup/soup.h>
#include <signal.h>
#include <string.h>

#include "natter-client-private.h"
#include "test-helpers.h"

/* http://127.0.0.1:PORT where nothing listens (the port was free a moment ago). */
static char *
dead_url (void)
{
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;

  g_socket_bind (socket, address, FALSE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  return g_strdup_printf ("http://127.0.0.1:%u",
                          g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
}

/* Node A with alice and bob, stopped, copied to node B; both running. */
static void
start_two_nodes (const char        *config_a,
                 NatterTestServer **a,
                 NatterTestServer **b)
{
  g_autofree char *alice = NULL;
  g_autofree char *bob = NULL;

  *a = natter_test_server_new_full (config_a, NULL);
  alice = natter_test_server_get_token (*a, "alice");
  bob = natter_test_server_get_token (*a, "bob");
  natter_test_server_stop (*a);
  *b = natter_test_server_new_copy (*a, NULL);
  natter_test_server_restart (*a);
}

static gboolean
strv_has (GStrv        strv,
          const char  *url)
{
  return strv != NULL && g_strv_contains ((const char * const *) strv, url);
}

typedef struct {
  NatterClient *client;
  const char *url;
} KnowsWait;

static gboolean
client_knows (gpointer data)
{
  KnowsWait *wait = data;
  g_auto(GStrv) urls = natter_client_dup_server_urls (wait->client);

  return strv_has (urls, wait->url);
}

/* (a) The first node of the list is not there: the client uses the next. */
static void
test_dead_then_live (void)
{
  g_autoptr(NatterTestServer) live = natter_test_server_new ();
  g_autofree char *dead = dead_url ();
  g_autofree char *list = g_strdup_printf ("%s,%s", dead, natter_test_server_get_url (live));
  Peer *bob = peer_new_for_url (live, "bob", list);
  Peer *alice = peer_new (live, "alice", NULL);
  gboolean closed = FALSE;
  g_autoptr(NatterMessage) sent = NULL;

  g_assert_cmpstr (natter_client_get_server_url (bob->client), ==, list);
  g_assert_cmpstr (natter_client_get_current_server_url (bob->client), ==, dead);

  peer_connect (bob);
  g_assert_cmpstr (natter_client_get_current_server_url (bob->client), ==,
                   natter_test_server_get_url (live));
  /* It did try the dead one first. */
  for (guint i = 0; i < bob->statuses->len; i++)
    closed |= g_array_index (bob->statuses, NatterConnectionStatus, i) == NATTER_CONNECTION_CLOSED;
  g_assert_true (closed);

  peer_connect (alice);
  sent = peer_send_ok (bob, "alice", "over the live node");
  peer_wait_received (alice, 1);

  peer_free (alice, FALSE);
  peer_free (bob, FALSE);
}

/* (b) The node dies (SIGKILL) with a message in the outbox: the client
 * moves to the other node, sends it there once, and the receiver has it
 * exactly once. */
static void
test_node_killed_with_outbox (void)
{
  g_autoptr(NatterTestServer) a = NULL;
  g_autoptr(NatterTestServer) b = NULL;
  g_autofree char *list = NULL;
  g_autoptr(JsonObject) content = natter_content_new_text ("in flight when A died");
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(NatterMessage) sent = NULL;
  g_autoptr(GPtrArray) page = NULL;
  g_autoptr(GError) error = NULL;
  gint64 killed;
  Peer *bob, *alice;

  start_two_nodes (NULL, &a, &b);
  list = g_strdup_printf ("%s,%s", natter_test_server_get_url (a), natter_test_server_get_url (b));
  bob = peer_new_for_url (a, "bob", list);
  alice = peer_new (b, "alice", NULL);
  peer_connect (alice);
  peer_connect (bob);
  g_assert_cmpstr (natter_client_get_current_server_url (bob->client), ==, natter_test_server_get_url (a));

  /* A stops answering (frozen): the message goes out and no ack comes. */
  g_assert_cmpint (kill (natter_test_server_get_pid (a), SIGSTOP), ==, 0);
  natter_client_send_message_async (bob->client, NATTER_CONVERSATION_PRIVATE, "alice",
                                    NATTER_OBJECT_TEXT, content, NULL, test_store_result_cb, &result);
  test_spin (500);
  g_assert_null (result);
  g_assert_cmpuint (natter_client_get_n_pending (bob->client), ==, 1);

  natter_test_server_kill (a);
  killed = g_get_monotonic_time ();
  test_wait_result (&result, 30);
  g_test_message ("SIGKILL of node A to the ack from node B: %.0f ms",
                  (g_get_monotonic_time () - killed) / 1000.0);
  sent = natter_client_send_message_finish (bob->client, result, &error);
  g_assert_no_error (error);
  g_assert_cmpint (natter_message_get_sent_status (sent), ==, NATTER_SENT_STATUS_SENT);
  g_assert_nonnull (natter_message_get_message_uid (sent));
  g_assert_cmpstr (natter_client_get_current_server_url (bob->client), ==, natter_test_server_get_url (b));
  g_assert_cmpuint (natter_client_get_n_pending (bob->client), ==, 0);

  peer_wait_received (alice, 1);
  /* Nothing more comes, not even after alice reconnects (a replay). */
  test_spin (1000);
  natter_client_disconnect (alice->client);
  peer_connect (alice);
  test_wait_until (peer_caught_up, alice, 20, "alice to catch up");
  test_spin (500);
  g_assert_cmpuint (peer_count_received (alice, TRUE), ==, 1);
  g_assert_cmpstr (natter_message_get_message_uid (g_ptr_array_index (alice->received, 0)), ==,
                   natter_message_get_message_uid (sent));
  page = peer_store_page (alice, NATTER_CONVERSATION_PRIVATE, "bob", 10);
  g_assert_cmpuint (page->len, ==, 1);
  g_clear_pointer (&page, g_ptr_array_unref);
  page = peer_store_page (bob, NATTER_CONVERSATION_PRIVATE, "alice", 10);
  g_assert_cmpuint (page->len, ==, 1);

  /* Media follows the node in use: an upload now goes to B. */
  {
    g_autofree char *path = g_build_filename (bob->profile, "note.txt", NULL);
    g_autoptr(GFile) file = g_file_new_for_path (path);
    g_autoptr(GAsyncResult) upload = NULL;
    g_autofree char *url = NULL;
    g_autofree char *b_media = g_strdup_printf ("%s/media/", natter_test_server_get_url (b));

    g_assert_true (g_file_set_contents (path, "uploaded after the move", -1, NULL));
    natter_client_upload_async (bob->client, file, "text/plain", NULL, NULL, NULL,
                                test_store_result_cb, &upload);
    test_wait_result (&upload, 30);
    url = natter_client_upload_finish (bob->client, upload, &error);
    g_assert_no_error (error);
    g_assert_true (g_str_has_prefix (url, b_media));
  }

  peer_free (alice, FALSE);
  peer_free (bob, FALSE);
}

/* (c) Navi: a client configured with node A alone learns node B from A's
 * /navi.json (A's public-url names B here, as a single natterd lists its
 * public-url) and moves to it when A dies. */
static void
test_navi_learns_other_node (void)
{
  g_autoptr(NatterTestServer) a = NULL;
  g_autoptr(NatterTestServer) b = NULL;
  g_autoptr(NatterTestServer) a_config = NULL;
  g_autofree char *config = NULL;
  g_autoptr(NatterMessage) sent = NULL;
  g_auto(GStrv) before = NULL;
  KnowsWait wait;
  Peer *bob, *alice;

  start_two_nodes (NULL, &a, &b);
  /* A again, its public-url being B's URL. */
  natter_test_server_stop (a);
  config = g_strdup_printf ("[server]\npublic-url=%s\n", natter_test_server_get_url (b));
  a_config = natter_test_server_new_copy (a, config);

  bob = peer_new_for_url (b, "bob", natter_test_server_get_url (a_config));
  alice = peer_new (b, "alice", NULL);
  before = natter_client_dup_server_urls (bob->client);
  g_assert_cmpuint (g_strv_length (before), ==, 1);
  g_assert_false (natter_client_is_own_origin (bob->client, natter_test_server_get_url (b)));

  peer_connect (alice);
  peer_connect (bob);
  wait.client = bob->client;
  wait.url = natter_test_server_get_url (b);
  test_wait_until (client_knows, &wait, 20, "bob to learn node B from navi");
  /* A node navi named is one of the client's own origins now. */
  g_assert_true (natter_client_is_own_origin (bob->client, natter_test_server_get_url (b)));

  natter_test_server_kill (a_config);
  peer_wait_status (bob, NATTER_CONNECTION_CLOSED, 20);
  peer_wait_status (bob, NATTER_CONNECTION_CONNECTED, 30);
  g_assert_cmpstr (natter_client_get_current_server_url (bob->client), ==, natter_test_server_get_url (b));
  sent = peer_send_ok (bob, "alice", "over the node navi named");
  peer_wait_received (alice, 1);

  peer_free (alice, FALSE);
  peer_free (bob, FALSE);
}

/* ------------------------------------------------ a navi of the test's own */

/* A loopback HTTP server standing for a node: /ws goes through to a real
 * natterd, /navi.json is what the test says. */
typedef struct {
  SoupServer *server;
  SoupSession *session;
  char *base;
  char *upstream_ws;
  char *navi;
  guint navi_requests;
  gboolean navi_had_credentials;
} NaviNode;

typedef struct {
  SoupWebsocketConnection *down;
  SoupWebsocketConnection *up;
  GPtrArray *waiting;           /* GBytes from down before up is open */
} Relay;

static void
relay_close (Relay *relay)
{
  if (relay->down != NULL &&
      soup_websocket_connection_get_state (relay->down) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (relay->down, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
  if (relay->up != NULL &&
      soup_websocket_connection_get_state (relay->up) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (relay->up, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
}

static void
relay_down_message_cb (SoupWebsocketConnection *ws,
                       int                      type,
                       GBytes                  *message,
                       Relay                   *relay)
{
  if (relay->up == NULL)
    g_ptr_array_add (relay->waiting, g_bytes_ref (message));
  else
    soup_websocket_connection_send_message (relay->up, SOUP_WEBSOCKET_DATA_BINARY, message);
}

static void
relay_up_message_cb (SoupWebsocketConnection *ws,
                     int                      type,
                     GBytes                  *message,
                     Relay                   *relay)
{
  soup_websocket_connection_send_message (relay->down, SOUP_WEBSOCKET_DATA_BINARY, message);
}

static void
relay_closed_cb (SoupWebsocketConnection *ws,
                 Relay                   *relay)
{
  relay_close (relay);
}

static void
relay_up_cb (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  Relay *relay = user_data;

  relay->up = soup_session_websocket_connect_finish (SOUP_SESSION (object), result, NULL);
  if (relay->up == NULL)
    {
      relay_close (relay);
      return;
    }
  g_signal_connect (relay->up, "message", G_CALLBACK (relay_up_message_cb), relay);
  g_signal_connect (relay->up, "closed", G_CALLBACK (relay_closed_cb), relay);
  for (guint i = 0; i < relay->waiting->len; i++)
    soup_websocket_connection_send_message (relay->up, SOUP_WEBSOCKET_DATA_BINARY,
                                            g_ptr_array_index (relay->waiting, i));
  g_ptr_array_set_size (relay->waiting, 0);
}

static void
navi_node_ws_cb (SoupServer              *server,
                 SoupServerMessage       *msg,
                 const char              *path,
                 SoupWebsocketConnection *connection,
                 gpointer                 user_data)
{
  NaviNode *node = user_data;
  const char *protocols[] = { "natter.v2", NULL };
  g_autoptr(SoupMessage) up = soup_message_new (SOUP_METHOD_GET, node->upstream_ws);
  /* Lives as long as the test process: a handful per test. */
  Relay *relay = g_new0 (Relay, 1);

  relay->down = g_object_ref (connection);
  relay->waiting = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_signal_connect (relay->down, "message", G_CALLBACK (relay_down_message_cb), relay);
  g_signal_connect (relay->down, "closed", G_CALLBACK (relay_closed_cb), relay);
  soup_session_websocket_connect_async (node->session, up, NULL, (char **) protocols,
                                        G_PRIORITY_DEFAULT, NULL, relay_up_cb, relay);
}

static void
navi_node_navi_cb (SoupServer        *server,
                   SoupServerMessage *msg,
                   const char        *path,
                   GHashTable        *query,
                   gpointer           user_data)
{
  NaviNode *node = user_data;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);

  node->navi_requests++;
  if (soup_message_headers_get_one (headers, "Authorization") != NULL ||
      soup_message_headers_get_one (headers, "App-Key") != NULL ||
      soup_message_headers_get_one (headers, "Cookie") != NULL)
    node->navi_had_credentials = TRUE;
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, node->navi,
                                    strlen (node->navi));
}

static NaviNode *
navi_node_new (NatterTestServer *upstream)
{
  NaviNode *node = g_new0 (NaviNode, 1);
  const char *protocols[] = { "natter.v2", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GUri) up = g_uri_parse (natter_test_server_get_url (upstream), G_URI_FLAGS_NONE, NULL);
  GSList *uris;

  node->server = soup_server_new (NULL, NULL);
  node->session = soup_session_new ();
  node->upstream_ws = g_strdup_printf ("ws://127.0.0.1:%d/ws", g_uri_get_port (up));
  soup_server_add_websocket_handler (node->server, "/ws", NULL, (char **) protocols,
                                     navi_node_ws_cb, node, NULL);
  soup_server_add_handler (node->server, "/navi.json", navi_node_navi_cb, node, NULL);
  soup_server_listen_local (node->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (node->server);
  node->base = g_strdup_printf ("http://127.0.0.1:%d", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return node;
}

static void
navi_node_free (NaviNode *node)
{
  soup_server_disconnect (node->server);
  g_object_unref (node->server);
  g_object_unref (node->session);
  g_free (node->base);
  g_free (node->upstream_ws);
  g_free (node->navi);
  g_free (node);
}

static gboolean
navi_asked (gpointer data)
{
  return ((NaviNode *) data)->navi_requests > 0;
}

/* What a configured node's navi names joins the list only when it is a
 * client URL of the same scheme; anything else is ignored, never an own
 * origin (so never sent the token or the App-Key), and the navi request
 * carries no credentials. */
static void
test_navi_filter (void)
{
  g_autoptr(NatterTestServer) a = NULL;
  g_autoptr(NatterTestServer) b = NULL;
  g_autoptr(NatterMessage) sent = NULL;
  g_auto(GStrv) urls = NULL;
  NaviNode *node;
  Peer *bob, *alice;
  const char *b_url;

  start_two_nodes (NULL, &a, &b);
  b_url = natter_test_server_get_url (b);
  node = navi_node_new (a);
  node->navi = g_strdup_printf ("{\"code\":200,\"nodes\":["
                                "{\"name\":\"self\",\"url\":\"%s\"},"
                                "{\"name\":\"tls\",\"url\":\"https://127.0.0.1:7\"},"
                                "{\"name\":\"ftp\",\"url\":\"ftp://127.0.0.1:8\"},"
                                "{\"name\":\"ws\",\"url\":\"ws://127.0.0.1:9\"},"
                                "{\"name\":\"user\",\"url\":\"http://u:p@127.0.0.1:10\"},"
                                "{\"name\":\"nourl\"},42,\"http://127.0.0.1:11\",{\"url\":12},"
                                "{\"name\":\"b\",\"url\":\"%s\"},"
                                "{\"name\":\"b-again\",\"url\":\"%s/\"}]}",
                                node->base, b_url, b_url);

  bob = peer_new_for_url (a, "bob", node->base);
  alice = peer_new (b, "alice", NULL);
  peer_connect (alice);
  peer_connect (bob);
  test_wait_until (navi_asked, node, 20, "the client to ask the node's navi");
  {
    KnowsWait wait = { bob->client, b_url };

    test_wait_until (client_knows, &wait, 20, "bob to learn node B");
  }
  test_spin (200);

  urls = natter_client_dup_server_urls (bob->client);
  g_assert_cmpuint (g_strv_length (urls), ==, 2);
  g_assert_cmpstr (urls[0], ==, node->base);
  g_assert_cmpstr (urls[1], ==, b_url);
  g_assert_false (node->navi_had_credentials);
  g_assert_true (natter_client_is_own_origin (bob->client, b_url));
  g_assert_false (natter_client_is_own_origin (bob->client, "https://127.0.0.1:7/media/x"));
  g_assert_false (natter_client_is_own_origin (bob->client, "http://127.0.0.1:9/media/x"));
  g_assert_false (natter_client_is_own_origin (bob->client, "http://127.0.0.1:10/media/x"));
  g_assert_false (natter_client_is_own_origin (bob->client, "http://127.0.0.1:11/media/x"));

  /* The configured node goes: the client moves to the one navi named. */
  natter_test_server_kill (a);
  peer_wait_status (bob, NATTER_CONNECTION_CLOSED, 20);
  peer_wait_status (bob, NATTER_CONNECTION_CONNECTED, 30);
  g_assert_cmpstr (natter_client_get_current_server_url (bob->client), ==, b_url);
  sent = peer_send_ok (bob, "alice", "over the node the test's navi named");
  peer_wait_received (alice, 1);

  peer_free (alice, FALSE);
  peer_free (bob, FALSE);
  navi_node_free (node);
}

/* A navi document over 64 KiB is not read: nothing is learnt from it. */
static void
test_navi_too_large (void)
{
  g_autoptr(NatterTestServer) a = natter_test_server_new ();
  g_autoptr(GString) doc = g_string_new ("{\"code\":200,\"nodes\":[");
  g_auto(GStrv) urls = NULL;
  NaviNode *node = navi_node_new (a);
  Peer *bob;

  for (guint i = 0; doc->len < 80 * 1024; i++)
    g_string_append_printf (doc, "%s{\"name\":\"n%u\",\"url\":\"http://127.0.0.1:%u\"}",
                            i > 0 ? "," : "", i, 1000 + i % 60000);
  g_string_append (doc, "]}");
  node->navi = g_string_free (g_steal_pointer (&doc), FALSE);

  bob = peer_new_for_url (a, "bob", node->base);
  peer_connect (bob);
  test_wait_until (navi_asked, node, 20, "the client to ask the node's navi");
  test_spin (500);
  urls = natter_client_dup_server_urls (bob->client);
  g_assert_cmpuint (g_strv_length (urls), ==, 1);

  peer_free (bob, FALSE);
  navi_node_free (node);
}

/* The list as the app and natter-cli take it: each URL checked. */
static void
test_parse_list (void)
{
  g_auto(GStrv) urls = NULL;
  g_autoptr(GError) error = NULL;

  urls = natter_server_urls_parse (" http://127.0.0.1:1 , https://chat.example.org/natter,", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (urls), ==, 2);
  g_assert_cmpstr (urls[0], ==, "http://127.0.0.1:1");
  g_assert_cmpstr (urls[1], ==, "https://chat.example.org/natter");
  g_clear_pointer (&urls, g_strfreev);

  urls = natter_server_urls_parse ("http://127.0.0.1:1,ftp://127.0.0.1:2", &error);
  g_assert_null (urls);
  g_assert_error (error, NATTER_CLIENT_ERROR, NATTER_CODE_INVALID_PARAMETER);
  g_assert_nonnull (strstr (error->message, "ftp://127.0.0.1:2"));
  g_clear_error (&error);

  urls = natter_server_urls_parse ("http://127.0.0.1:1,not a url", &error);
  g_assert_null (urls);
  g_assert_error (error, NATTER_CLIENT_ERROR, NATTER_CODE_INVALID_PARAMETER);
  g_assert_nonnull (strstr (error->message, "not a url"));
  g_clear_error (&error);

  urls = natter_server_urls_parse ("http://user:secret@127.0.0.1:1", &error);
  g_assert_null (urls);
  g_assert_error (error, NATTER_CLIENT_ERROR, NATTER_CODE_INVALID_PARAMETER);
  g_clear_error (&error);

  urls = natter_server_urls_parse (" , ", &error);
  g_assert_null (urls);
  g_assert_error (error, NATTER_CLIENT_ERROR, NATTER_CODE_INVALID_PARAMETER);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/failover/parse-list", test_parse_list);
  g_test_add_func ("/core/failover/dead-then-live", test_dead_then_live);
  g_test_add_func ("/core/failover/node-killed-with-outbox", test_node_killed_with_outbox);
  g_test_add_func ("/core/failover/navi-learns-other-node", test_navi_learns_other_node);
  g_test_add_func ("/core/failover/navi-filter", test_navi_filter);
  g_test_add_func ("/core/failover/navi-too-large", test_navi_too_large);

  return g_test_run ();
}
