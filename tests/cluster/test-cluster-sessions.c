/* test-cluster-sessions.c — sessions and the directory across natterd
 * nodes: single-device kick (31010) when the new login lands on another
 * node, user/checkOnline and /navi.json for the whole cluster, a SIGKILLed
 * node's users offline within 2 ping intervals, a gag set on one node
 * refusing a publish on another, chatroom bans and destruction
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "test-cluster-common.h"

#include <nats/nats.h>

static void
test_kick (void)
{
  const char * const users[] = { "alice", NULL };
  g_autoptr(Cluster) cluster = cluster_new (2, NULL, users);
  NatterTestServer *a = cluster->nodes[0], *b = cluster->nodes[1];
  g_autoptr(NatterTestClient) first = cluster_client (cluster, a, "alice", "phone");
  g_autoptr(NatterTestClient) second = NULL;
  g_autoptr(NatterFrame) kick = NULL;

  g_assert_true (cluster_wait_online (b, "alice", TRUE, NATTER_TEST_TIMEOUT_MS));
  /* One device at a time (no multi-device): the newer login, on b, wins. */
  second = cluster_client (cluster, b, "alice", "laptop");
  kick = natter_test_client_expect (first, NATTER__FRAME__BODY_KICK, NATTER_TEST_TIMEOUT_MS);
  g_assert_nonnull (kick);
  g_assert_cmpint (kick->kick->code, ==, 31010);
  natter_test_client_wait_closed (first, NATTER_TEST_TIMEOUT_MS);
  g_assert_true (natter_test_client_is_open (second));
  natter_test_client_expect_none (second, NATTER__FRAME__BODY_KICK, 500);
  /* Still online everywhere: on b. */
  g_assert_true (cluster_wait_online (a, "alice", TRUE, NATTER_TEST_TIMEOUT_MS));
}

static void
test_presence (void)
{
  const char * const users[] = { "alice", "bob", NULL };
  g_autoptr(Cluster) cluster = cluster_new (3, NULL, users);
  NatterTestServer *a = cluster->nodes[0], *b = cluster->nodes[1], *c = cluster->nodes[2];
  g_autoptr(NatterTestClient) alice = cluster_client (cluster, b, "alice", "d1");
  g_autoptr(NatterTestClient) bob = cluster_client (cluster, c, "bob", "d1");
  gint64 killed;

  g_assert_true (cluster_wait_online (a, "alice", TRUE, NATTER_TEST_TIMEOUT_MS));
  g_assert_true (cluster_wait_online (a, "bob", TRUE, NATTER_TEST_TIMEOUT_MS));
  g_assert_true (cluster_wait_online (c, "alice", TRUE, NATTER_TEST_TIMEOUT_MS));

  /* A clean disconnect shows at once. */
  g_clear_pointer (&bob, natter_test_client_free);
  g_assert_true (cluster_wait_online (a, "bob", FALSE, NATTER_TEST_TIMEOUT_MS));

  /* b dies without a word: its users are offline within 2 ping intervals
   * (and the sweep's quarter second) of its last announcement. */
  natter_test_server_kill (b);
  killed = g_get_monotonic_time ();
  g_assert_true (cluster_wait_online (a, "alice", FALSE, NATTER_TEST_TIMEOUT_MS));
  g_assert_true (cluster_wait_online (c, "alice", FALSE, NATTER_TEST_TIMEOUT_MS));
  g_assert_cmpint (g_get_monotonic_time () - killed, <=,
                   (2 * PING_INTERVAL_S * G_USEC_PER_SEC) + G_USEC_PER_SEC / 2 + G_USEC_PER_SEC / 2);
  cluster_wait_navi (a, "a,c", 1000);
  cluster_wait_navi (c, "c,a", 1000);
  /* The node comes back: listed again. */
  natter_test_server_restart (b);
  cluster_wait_navi (a, "a,b,c", NATTER_TEST_TIMEOUT_MS);
}

static void
test_gag (void)
{
  const char * const users[] = { "alice", "bob", NULL };
  g_autoptr(Cluster) cluster = cluster_new (2, NULL, users);
  NatterTestServer *a = cluster->nodes[0], *b = cluster->nodes[1];
  g_autoptr(NatterTestClient) alice = NULL;
  g_autoptr(JsonObject) reply = NULL;
  g_autoptr(NatterFrame) ack = NULL;
  g_autoptr(NatterFrame) refused = NULL;

  reply = natter_test_server_api (a, NULL, "group/create", "userId", "alice", "userId", "bob",
                                  "groupId", "g1", "groupName", "g1", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_clear_pointer (&reply, json_object_unref);
  alice = cluster_client (cluster, b, "alice", "d1");
  /* b learnt the group made on a. */
  ack = natter_test_client_send_message (alice, 3, "g1", "RC:TxtMsg", "{\"content\":\"before\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);

  reply = natter_test_server_api (a, NULL, "group/user/gag/add", "userId", "alice", "groupId", "g1",
                                  "minute", "10", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  /* NATS on loopback: b applied it within milliseconds of a's reply. */
  g_usleep (200 * 1000);
  refused = natter_test_client_send_message (alice, 3, "g1", "RC:TxtMsg", "{\"content\":\"gagged\"}");
  g_assert_cmpint (refused->publish_ack->code, ==, 22408);
}

/* The online-status query (call presence: is the callee's device up?)
 * answers for the whole cluster. */
static void
test_online_query (void)
{
  const char * const users[] = { "alice", "bob", "carol", NULL };
  g_autoptr(Cluster) cluster = cluster_new (2, NULL, users);
  NatterTestServer *a = cluster->nodes[0], *b = cluster->nodes[1];
  g_autoptr(NatterTestClient) alice = cluster_client (cluster, a, "alice", "a1");
  g_autoptr(NatterTestClient) bob = cluster_client (cluster, b, "bob", "phone");
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__OnlineStatusRequest online = NATTER__ONLINE_STATUS_REQUEST__INIT;
  char *ids[] = { (char *) "bob", (char *) "carol" };
  char *devices[] = { (char *) "laptop", (char *) "phone" };
  g_autoptr(NatterFrame) result = NULL;
  Natter__OnlineStatus *status;

  g_assert_true (cluster_wait_online (a, "bob", TRUE, NATTER_TEST_TIMEOUT_MS));
  online.user_ids = ids;
  online.n_user_ids = 2;
  online.device_ids = devices;
  online.n_device_ids = 2;
  query.method_case = NATTER__QUERY__METHOD_ONLINE_STATUS;
  query.online_status = &online;
  result = natter_test_client_query (alice, &query);
  g_assert_cmpuint (result->result->online_status->n_statuses, ==, 2);
  status = result->result->online_status->statuses[0];
  g_assert_true (status->online);
  g_assert_cmpstr (status->platform, ==, "test");
  g_assert_cmpuint (status->n_device_ids, ==, 1);
  g_assert_cmpstr (status->device_ids[0], ==, "phone");
  g_assert_false (result->result->online_status->statuses[1]->online);
}

/* Last seen is the time the node that held the last session says it
 * went: every node answers the same (#16), also for a session held by a
 * node that says so over NATS. */
static void
test_last_seen (void)
{
  const char * const users[] = { "alice", "bob", "carol", NULL };
  g_autoptr(Cluster) cluster = cluster_new (2, NULL, users);
  NatterTestServer *a = cluster->nodes[0], *b = cluster->nodes[1];
  g_autoptr(NatterTestClient) bob = cluster_client (cluster, a, "bob", "b1");
  g_autoptr(NatterTestClient) carol = cluster_client (cluster, b, "carol", "c1");
  NatterTestClient *alice = cluster_client (cluster, b, "alice", "a1");
  const char *app = natter_test_server_get_app_key (a);
  g_autofree char *on_x = g_strdup_printf ("{\"t\":\"on\",\"node\":\"x\",\"app\":\"%s\",\"user\":\"alice\","
                                           "\"device\":\"x1\",\"platform\":\"web\",\"at\":1}", app);
  g_autofree char *off_x = g_strdup_printf ("{\"t\":\"off\",\"node\":\"x\",\"app\":\"%s\",\"user\":\"alice\","
                                            "\"device\":\"x1\",\"at\":1700000000123}", app);
  natsConnection *connection = NULL;
  gint64 seen_a, seen_b;

  g_assert_true (cluster_wait_online (a, "alice", TRUE, NATTER_TEST_TIMEOUT_MS));
  natter_test_client_free (alice);
  g_assert_true (cluster_wait_online (a, "alice", FALSE, NATTER_TEST_TIMEOUT_MS));
  g_assert_true (cluster_wait_online (b, "alice", FALSE, NATTER_TEST_TIMEOUT_MS));
  seen_a = last_seen_of (bob, "alice");
  seen_b = last_seen_of (carol, "alice");
  g_assert_cmpint (seen_b, >, 0);
  g_assert_cmpint (seen_a, ==, seen_b);

  /* A session on node x (another natterd, seen over NATS): a takes x's
   * time, not its own. */
  g_assert_cmpint (natsConnection_ConnectTo (&connection, natter_test_nats_get_url (cluster->nats)), ==, NATS_OK);
  g_assert_cmpint (natsConnection_PublishString (connection, "natter.default.all", on_x), ==, NATS_OK);
  g_assert_true (cluster_wait_online (a, "alice", TRUE, NATTER_TEST_TIMEOUT_MS));
  g_assert_cmpint (natsConnection_PublishString (connection, "natter.default.all", off_x), ==, NATS_OK);
  g_assert_cmpint (natsConnection_FlushTimeout (connection, 5000), ==, NATS_OK);
  g_assert_true (cluster_wait_online (a, "alice", FALSE, NATTER_TEST_TIMEOUT_MS));
  g_assert_true (cluster_wait_online (b, "alice", FALSE, NATTER_TEST_TIMEOUT_MS));
  g_assert_cmpint (last_seen_of (bob, "alice"), ==, 1700000000123);
  g_assert_cmpint (last_seen_of (carol, "alice"), ==, 1700000000123);
  natsConnection_Destroy (connection);
}

/* A user created through the API on a after the nodes started: b knows
 * it at once, its token works there, and a message from a reaches it. */
static void
test_new_user (void)
{
  const char * const users[] = { "bob", NULL };
  g_autoptr(Cluster) cluster = cluster_new (2, NULL, users);
  NatterTestServer *a = cluster->nodes[0], *b = cluster->nodes[1];
  g_autofree char *token = natter_test_server_get_token (a, "dora");
  g_autoptr(NatterTestClient) bob = cluster_client (cluster, a, "bob", "d1");
  g_autoptr(NatterTestClient) dora = NULL;
  g_autoptr(NatterFrame) ack = NULL;
  g_autoptr(NatterFrame) got = NULL;
  g_autoptr(GError) error = NULL;

  g_usleep (200 * 1000);
  dora = natter_test_client_open (b, &error);
  g_assert_no_error (error);
  g_assert_cmpint (natter_test_client_connect (dora, natter_test_server_get_app_key (b), token, "d1", 0), ==, 0);
  g_assert_true (cluster_wait_online (a, "dora", TRUE, NATTER_TEST_TIMEOUT_MS));
  ack = natter_test_client_send_message (bob, 1, "dora", "RC:TxtMsg", "{\"content\":\"welcome\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);
  got = cluster_expect_deliver (dora, "{\"content\":\"welcome\"}");
}

/* Whatever arrives on the cluster subjects is checked: junk, wrong types,
 * unknown apps and users, deep nesting are dropped (logged) and the node
 * keeps serving, its view of the cluster unchanged. */
static void
test_bad_input (void)
{
  const char * const users[] = { "alice", "bob", NULL };
  g_autoptr(Cluster) cluster = cluster_new (2, NULL, users);
  NatterTestServer *a = cluster->nodes[0], *b = cluster->nodes[1];
  g_autoptr(NatterTestClient) alice = cluster_client (cluster, b, "alice", "d1");
  g_autoptr(NatterTestClient) bob = cluster_client (cluster, a, "bob", "d1");
  g_autoptr(GString) deep = g_string_new (NULL);
  g_autofree char *app = g_strdup (natter_test_server_get_app_key (a));
  g_autofree char *inbox_bad_type = g_strdup_printf ("{\"t\":\"inbox\",\"node\":\"x\",\"app\":\"%s\",\"user\":\"alice\","
                                                     "\"seq\":\"7\",\"m\":{\"ct\":99,\"from\":1}}", app);
  g_autofree char *inbox_no_message = g_strdup_printf ("{\"t\":\"inbox\",\"node\":\"x\",\"app\":\"%s\",\"user\":\"alice\"}", app);
  g_autofree char *change_bad = g_strdup_printf ("{\"t\":\"change\",\"node\":\"x\",\"app\":\"%s\",\"kind\":\"members\","
                                                 "\"group\":[],\"users\":{\"a\":1}}", app);
  g_autofree char *presence_bad = g_strdup_printf ("{\"t\":\"node\",\"node\":\"x\",\"sessions\":[1,[2],[\"%s\"],{}]}", app);
  const char *junk[] = {
    "", "not json", "[1,2,3]", "null", "{\"t\":1}", "{\"t\":\"inbox\"}",
    "{\"t\":\"bye\",\"node\":\"nobody\"}", "{\"t\":\"apps\",\"node\":[]}",
    "{\"t\":\"room\",\"node\":\"x\",\"app\":\"no-such-app\",\"m\":{}}",
    inbox_bad_type, inbox_no_message, change_bad, presence_bad, NULL, NULL,
  };
  natsConnection *connection = NULL;
  g_autoptr(NatterFrame) ack = NULL;
  g_autoptr(NatterFrame) got = NULL;

  for (guint i = 0; i < 100000; i++)
    g_string_append_c (deep, '[');
  junk[G_N_ELEMENTS (junk) - 2] = deep->str;
  g_assert_cmpint (natsConnection_ConnectTo (&connection, natter_test_nats_get_url (cluster->nats)), ==, NATS_OK);
  for (guint i = 0; junk[i] != NULL; i++)
    {
      g_assert_cmpint (natsConnection_PublishString (connection, "natter.default.all", junk[i]), ==, NATS_OK);
      g_assert_cmpint (natsConnection_PublishString (connection, "natter.default.node.b", junk[i]), ==, NATS_OK);
    }
  g_assert_cmpint (natsConnection_FlushTimeout (connection, 5000), ==, NATS_OK);
  natsConnection_Destroy (connection);

  /* b still serves, delivers, and lists only the real nodes (a node that
   * sent junk with a name shows nowhere without a URL). */
  g_assert_true (cluster_wait_online (a, "alice", TRUE, NATTER_TEST_TIMEOUT_MS));
  ack = natter_test_client_send_message (bob, 1, "alice", "RC:TxtMsg", "{\"content\":\"still here\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);
  got = cluster_expect_deliver (alice, "{\"content\":\"still here\"}");
  cluster_wait_navi (b, "b,a", NATTER_TEST_TIMEOUT_MS);
  g_assert_cmpuint (natter_test_server_get_metric (b, "natterd_cluster_received_total"), ==, 1);
}

static NatterFrame *
join (NatterTestClient *client,
      const char       *room)
{
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__ChatroomJoinRequest request = NATTER__CHATROOM_JOIN_REQUEST__INIT;

  request.chatroom_id = (char *) room;
  query.method_case = NATTER__QUERY__METHOD_CHATROOM_JOIN;
  query.chatroom_join = &request;
  return natter_test_client_query (client, &query);
}

/* A chatroom made through the API on a; a ban and its destruction there
 * reach its member on b. */
static void
test_chatroom_ban_and_destroy (void)
{
  const char * const users[] = { "alice", "bob", NULL };
  g_autoptr(Cluster) cluster = cluster_new (2, NULL, users);
  NatterTestServer *a = cluster->nodes[0], *b = cluster->nodes[1];
  g_autoptr(NatterTestClient) alice = cluster_client (cluster, b, "alice", "d1");
  g_autoptr(NatterTestClient) bob = cluster_client (cluster, b, "bob", "d1");
  g_autoptr(JsonObject) reply = NULL;
  g_autoptr(NatterFrame) joined = NULL;
  g_autoptr(NatterFrame) kicked = NULL;
  g_autoptr(NatterFrame) refused = NULL;
  g_autoptr(NatterFrame) gone = NULL;
  g_autoptr(NatterFrame) ack = NULL;

  reply = natter_test_server_api (a, NULL, "chatroom/create", "chatroom[hall]", "Hall", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_clear_pointer (&reply, json_object_unref);
  g_usleep (200 * 1000);
  joined = join (alice, "hall");
  g_assert_cmpint (joined->result->code, ==, 0);
  g_clear_pointer (&joined, natter_frame_free);
  joined = join (bob, "hall");
  g_assert_cmpint (joined->result->code, ==, 0);

  reply = natter_test_server_api (a, NULL, "chatroom/user/block/add", "chatroomId", "hall",
                                  "userId", "alice", "minute", "10", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_clear_pointer (&reply, json_object_unref);
  kicked = natter_test_client_expect (alice, NATTER__FRAME__BODY_CHATROOM_EVENT, NATTER_TEST_TIMEOUT_MS);
  g_assert_nonnull (kicked);
  g_assert_cmpint (kicked->chatroom_event->code, ==, 23409);
  refused = natter_test_client_send_message (alice, 4, "hall", "RC:TxtMsg", "{\"content\":\"banned\"}");
  g_assert_cmpint (refused->publish_ack->code, ==, 23409);

  reply = natter_test_server_api (a, NULL, "chatroom/destroy", "chatroomId", "hall", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  gone = natter_test_client_expect (bob, NATTER__FRAME__BODY_CHATROOM_EVENT, NATTER_TEST_TIMEOUT_MS);
  g_assert_nonnull (gone);
  g_assert_cmpint (gone->chatroom_event->code, ==, 23410);
  ack = natter_test_client_send_message (bob, 4, "hall", "RC:TxtMsg", "{\"content\":\"anyone?\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 23410);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/cluster/sessions/kick", test_kick);
  g_test_add_func ("/cluster/sessions/presence", test_presence);
  g_test_add_func ("/cluster/sessions/gag", test_gag);
  g_test_add_func ("/cluster/sessions/new-user", test_new_user);
  g_test_add_func ("/cluster/sessions/online-query", test_online_query);
  g_test_add_func ("/cluster/sessions/last-seen", test_last_seen);
  g_test_add_func ("/cluster/sessions/bad-input", test_bad_input);
  g_test_add_func ("/cluster/sessions/chatroom-ban-and-destroy", test_chatroom_ban_and_destroy);

  return g_test_run ();
}
