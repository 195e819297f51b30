/* test-cluster-delivery.c — live delivery between natterd nodes over NATS:
 * private (and the sender's own devices and read syncs elsewhere), group, chatroom,
 * typing; and again once nats-server restarted
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "test-cluster-common.h"

#include "natter-object-names.h"
#include "natterd-cluster-wire.h"

#include <nats/nats.h>

#include <string.h>

static void
test_private (void)
{
  const char * const app_args[] = { "--app-setting", "multi-device=true", NULL };
  const char * const users[] = { "alice", "bob", "carol", NULL };
  g_autoptr(Cluster) cluster = cluster_new (2, app_args, users);
  NatterTestServer *a = cluster->nodes[0], *b = cluster->nodes[1];
  g_autoptr(NatterTestClient) alice = cluster_client (cluster, b, "alice", "alice-phone");
  g_autoptr(NatterTestClient) bob = cluster_client (cluster, a, "bob", "bob-phone");
  g_autoptr(NatterTestClient) bob_desk = cluster_client (cluster, b, "bob", "bob-desk");
  g_autoptr(NatterFrame) ack = NULL;
  g_autoptr(NatterFrame) got = NULL;
  g_autoptr(NatterFrame) own = NULL;

  /* Node a knows alice and bob's desk are on b. */
  g_assert_true (cluster_wait_online (a, "alice", TRUE, NATTER_TEST_TIMEOUT_MS));

  ack = natter_test_client_send_message (bob, 1, "alice", "RC:TxtMsg", "{\"content\":\"hi from a\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);
  got = cluster_expect_deliver (alice, "{\"content\":\"hi from a\"}");
  g_assert_cmpstr (got->deliver->message->sender_user_id, ==, "bob");
  g_assert_cmpuint (got->deliver->seq, >, 0);
  g_assert_cmpstr (got->deliver->message->message_uid, ==, ack->publish_ack->message_uid);
  /* Multi-device: bob's desk on b gets what his phone on a sent. */
  own = cluster_expect_deliver (bob_desk, "{\"content\":\"hi from a\"}");
  g_assert_cmpstr (own->deliver->message->message_uid, ==, ack->publish_ack->message_uid);
  /* Exactly once. */
  natter_test_client_expect_none (alice, NATTER__FRAME__BODY_DELIVER, 300);

  /* Read sync: bob read carol's messages on his phone (a); his desk (b)
   * follows, nobody else (carol is offline: only bob's nodes matter). */
  {
    g_autoptr(NatterFrame) sync_ack = natter_test_client_send_message (bob, 1, "carol", "RC:SRSMsg",
                                                                      "{\"lastMessageSendTime\":1}");
    g_autoptr(NatterFrame) sync = cluster_expect_deliver (bob_desk, "{\"lastMessageSendTime\":1}");

    g_assert_cmpint (sync_ack->publish_ack->code, ==, 0);
    g_assert_cmpstr (sync->deliver->message->object_name, ==, "RC:SRSMsg");
    g_assert_cmpstr (sync->deliver->message->target_id, ==, "carol");
    g_assert_cmpuint (sync->deliver->seq, ==, 0);
    natter_test_client_expect_none (alice, NATTER__FRAME__BODY_DELIVER, 300);
  }
}

static void
create_group (NatterTestServer *node,
              const char       *group_id,
              const char       *first,
              ...)
{
  g_autoptr(JsonObject) reply = NULL;
  const char *members[8] = { NULL, };
  const char *user = first;
  va_list args;
  guint n = 0;

  va_start (args, first);
  while (user != NULL && n < G_N_ELEMENTS (members))
    {
      members[n++] = user;
      user = va_arg (args, const char *);
    }
  va_end (args);
  g_assert_cmpuint (n, ==, 3);
  reply = natter_test_server_api (node, NULL, "group/create", "userId", members[0], "userId", members[1],
                                  "userId", members[2], "groupId", group_id, "groupName", group_id, NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
}

static void
test_group (void)
{
  const char * const users[] = { "alice", "bob", "carol", NULL };
  g_autoptr(Cluster) cluster = cluster_new (2, NULL, users);
  NatterTestServer *a = cluster->nodes[0], *b = cluster->nodes[1];
  g_autoptr(NatterTestClient) alice = NULL;
  g_autoptr(NatterTestClient) bob = NULL;
  g_autoptr(NatterTestClient) carol = NULL;
  g_autoptr(NatterFrame) ack = NULL;
  g_autoptr(NatterFrame) on_b = NULL;
  g_autoptr(NatterFrame) on_a = NULL;

  /* Made through the API on a: b learns the group from a. */
  create_group (a, "team", "alice", "bob", "carol", NULL);
  alice = cluster_client (cluster, b, "alice", "d1");
  bob = cluster_client (cluster, a, "bob", "d1");
  carol = cluster_client (cluster, a, "carol", "d1");
  g_assert_true (cluster_wait_online (a, "alice", TRUE, NATTER_TEST_TIMEOUT_MS));

  ack = natter_test_client_send_message (bob, 3, "team", "RC:TxtMsg", "{\"content\":\"to the team\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);
  on_b = cluster_expect_deliver (alice, "{\"content\":\"to the team\"}");
  on_a = cluster_expect_deliver (carol, "{\"content\":\"to the team\"}");
  g_assert_cmpstr (on_b->deliver->message->target_id, ==, "team");
  g_assert_cmpuint (on_b->deliver->message->timeline_seq, ==, on_a->deliver->message->timeline_seq);
  g_assert_cmpstr (on_b->deliver->message->message_uid, ==, ack->publish_ack->message_uid);
  natter_test_client_expect_none (alice, NATTER__FRAME__BODY_DELIVER, 300);
  natter_test_client_expect_none (bob, NATTER__FRAME__BODY_DELIVER, 0);
}

static NatterFrame *
join (NatterTestClient *client,
      const char       *room)
{
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__ChatroomJoinRequest request = NATTER__CHATROOM_JOIN_REQUEST__INIT;

  request.chatroom_id = (char *) room;
  request.count = 0;
  query.method_case = NATTER__QUERY__METHOD_CHATROOM_JOIN;
  query.chatroom_join = &request;
  return natter_test_client_query (client, &query);
}

static void
test_chatroom (void)
{
  const char * const users[] = { "alice", "bob", "carol", NULL };
  g_autoptr(Cluster) cluster = cluster_new (3, NULL, users);
  NatterTestServer *a = cluster->nodes[0], *b = cluster->nodes[1], *c = cluster->nodes[2];
  g_autoptr(NatterTestClient) alice = cluster_client (cluster, b, "alice", "d1");
  g_autoptr(NatterTestClient) bob = cluster_client (cluster, a, "bob", "d1");
  g_autoptr(NatterTestClient) carol = cluster_client (cluster, c, "carol", "d1");
  g_autoptr(NatterFrame) joined = NULL;
  g_autoptr(NatterFrame) ack = NULL;
  g_autoptr(NatterFrame) got = NULL;
  g_autoptr(NatterFrame) got_c = NULL;

  joined = join (alice, "lobby");
  g_assert_cmpint (joined->result->code, ==, 0);
  g_clear_pointer (&joined, natter_frame_free);
  joined = join (bob, "lobby");
  g_assert_cmpint (joined->result->code, ==, 0);
  g_clear_pointer (&joined, natter_frame_free);
  joined = join (carol, "lobby");
  g_assert_cmpint (joined->result->code, ==, 0);

  ack = natter_test_client_send_message (bob, 4, "lobby", "RC:TxtMsg", "{\"content\":\"lobby talk\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);
  got = cluster_expect_deliver (alice, "{\"content\":\"lobby talk\"}");
  g_assert_cmpint (got->deliver->message->conversation_type, ==, 4);
  got_c = cluster_expect_deliver (carol, "{\"content\":\"lobby talk\"}");
  natter_test_client_expect_none (alice, NATTER__FRAME__BODY_DELIVER, 300);
  natter_test_client_expect_none (bob, NATTER__FRAME__BODY_DELIVER, 0);
}

static void
test_typing (void)
{
  const char * const users[] = { "alice", "bob", NULL };
  g_autoptr(Cluster) cluster = cluster_new (2, NULL, users);
  NatterTestServer *a = cluster->nodes[0], *b = cluster->nodes[1];
  g_autoptr(NatterTestClient) alice = cluster_client (cluster, b, "alice", "d1");
  g_autoptr(NatterTestClient) bob = cluster_client (cluster, a, "bob", "d1");
  g_autoptr(NatterFrame) ack = NULL;
  g_autoptr(NatterFrame) got = NULL;

  g_assert_true (cluster_wait_online (a, "alice", TRUE, NATTER_TEST_TIMEOUT_MS));
  ack = natter_test_client_send_message (bob, 1, "alice", "RC:TypSts", "{\"typingContentType\":\"RC:TxtMsg\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);
  got = cluster_expect_deliver (alice, "{\"typingContentType\":\"RC:TxtMsg\"}");
  g_assert_cmpuint (got->deliver->message->flags, ==, NATTER_MESSAGE_FLAG_STATUS);
  g_assert_cmpuint (got->deliver->seq, ==, 0);
  /* Nothing was stored: the metrics of a say one status-only publish, and
   * b delivered it from NATS. */
  g_assert_cmpuint (natter_test_server_get_metric (b, "natterd_cluster_received_total"), ==, 1);
}

/* The next message on @sub whose data holds @needle (others skipped). */
static natsMsg *
next_with (natsSubscription *sub,
           const char       *needle)
{
  gint64 deadline = g_get_monotonic_time () + NATTER_TEST_TIMEOUT_MS * 1000;

  while (g_get_monotonic_time () < deadline)
    {
      natsMsg *msg = NULL;

      if (natsSubscription_NextMsg (&msg, sub, 1000) != NATS_OK)
        continue;
      if (g_strstr_len (natsMsg_GetData (msg), natsMsg_GetDataLength (msg), needle) != NULL)
        return msg;
      natsMsg_Destroy (msg);
    }
  g_error ("nothing with %s on %s", needle, natsSubscription_GetSubject (sub));
  return NULL;
}

static void
publish_batch (natsConnection        *connection,
               const char            *node,
               NatterdClusterPayload *payload)
{
  g_autoptr(GPtrArray) payloads = g_ptr_array_new ();
  g_autoptr(GBytes) bytes = NULL;

  g_ptr_array_add (payloads, payload);
  bytes = natterd_cluster_wire_encode (node, payloads);
  g_assert_cmpint (natsConnection_Publish (connection, "natter.default.node.b", g_bytes_get_data (bytes, NULL),
                                           (int) g_bytes_get_size (bytes)), ==, NATS_OK);
}

/* Deliveries travel as protobuf batches (natterd-cluster.proto) to a node
 * that announced the version it reads, as JSON to one that announced none
 * (an older natterd), whose JSON deliveries are still taken; a batch or a
 * delivery that fails the checks is dropped and the node keeps serving. */
static void
test_wire (void)
{
  const char * const users[] = { "alice", "bob", "carol", NULL };
  g_autoptr(Cluster) cluster = cluster_new (2, NULL, users);
  NatterTestServer *a = cluster->nodes[0], *b = cluster->nodes[1];
  g_autoptr(NatterTestClient) alice = cluster_client (cluster, b, "alice", "d1");
  g_autoptr(NatterTestClient) bob = cluster_client (cluster, a, "bob", "d1");
  const char *app = natter_test_server_get_app_key (a);
  g_autofree char *old_node = g_strdup_printf ("{\"t\":\"node\",\"node\":\"old\",\"started\":1,"
                                               "\"sessions\":[[\"%s\",\"carol\",\"c1\",\"web\"]]}", app);
  g_autofree char *old_typing = g_strdup_printf ("[{\"t\":\"status\",\"node\":\"old\",\"app\":\"%s\",\"md\":false,"
                                                 "\"m\":{\"ct\":1,\"from\":\"carol\",\"to\":\"alice\",\"obj\":\"RC:TypSts\","
                                                 "\"content\":\"{\\\"typingContentType\\\":\\\"json\\\"}\",\"flags\":4}}]", app);
  NatterdMessage typing = {
    .conversation_type = 1, .sender_user_id = (char *) "carol", .target_id = (char *) "alice",
    .object_name = (char *) "RC:TypSts", .flags = NATTER_MESSAGE_FLAG_STATUS,
  };
  NatterdClusterPayload status = { .type = NATTERD_CLUSTER_STATUS, .app = app, .message = typing };
  natsConnection *connection = NULL;
  natsSubscription *to_b = NULL, *to_old = NULL;
  natsMsg *msg;
  g_autoptr(GPtrArray) payloads = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterFrame) ack = NULL;
  g_autoptr(NatterFrame) got = NULL;
  const NatterdClusterPayload *inbox;

  g_assert_cmpint (natsConnection_ConnectTo (&connection, natter_test_nats_get_url (cluster->nats)), ==, NATS_OK);
  g_assert_cmpint (natsConnection_SubscribeSync (&to_b, connection, "natter.default.node.b"), ==, NATS_OK);
  g_assert_cmpint (natsConnection_SubscribeSync (&to_old, connection, "natter.default.node.old"), ==, NATS_OK);
  g_assert_cmpint (natsConnection_FlushTimeout (connection, 5000), ==, NATS_OK);

  /* a to b: one batch, alice's inbox entry in it, checked on the way in. */
  g_assert_true (cluster_wait_online (a, "alice", TRUE, NATTER_TEST_TIMEOUT_MS));
  ack = natter_test_client_send_message (bob, 1, "alice", "RC:TxtMsg", "{\"content\":\"as protobuf\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);
  got = cluster_expect_deliver (alice, "{\"content\":\"as protobuf\"}");
  msg = next_with (to_b, "as protobuf");
  g_assert_cmpint (natsMsg_GetData (msg)[0], ==, 0x08);
  payloads = natterd_cluster_decode (natsMsg_GetData (msg), (gsize) natsMsg_GetDataLength (msg), &error);
  g_assert_no_error (error);
  natsMsg_Destroy (msg);
  g_assert_cmpuint (payloads->len, >=, 1);
  inbox = g_ptr_array_index (payloads, 0);
  g_assert_cmpint (inbox->type, ==, NATTERD_CLUSTER_INBOX);
  g_assert_cmpstr (inbox->node, ==, "a");
  g_assert_cmpstr (inbox->user, ==, "alice");
  g_assert_cmpuint (inbox->seq, ==, got->deliver->seq);
  g_assert_cmpstr (inbox->message.uid, ==, ack->publish_ack->message_uid);
  g_assert_cmpstr (inbox->message.content, ==, "{\"content\":\"as protobuf\"}");
  g_clear_pointer (&ack, natter_frame_free);

  /* A node of an older natterd (no "wire" in its announcement) holding
   * carol: a sends it JSON. */
  g_assert_cmpint (natsConnection_PublishString (connection, "natter.default.all", old_node), ==, NATS_OK);
  g_assert_true (cluster_wait_online (a, "carol", TRUE, NATTER_TEST_TIMEOUT_MS));
  g_assert_cmpint (natsConnection_PublishString (connection, "natter.default.all", old_node), ==, NATS_OK);
  ack = natter_test_client_send_message (bob, 1, "carol", "RC:TxtMsg", "{\"content\":\"as json\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);
  msg = next_with (to_old, "as json");
  g_assert_cmpint (natsMsg_GetData (msg)[0], ==, '[');
  natsMsg_Destroy (msg);

  /* b takes that node's JSON deliveries; then batches that fail the
   * checks (a newer version, cut short, a bad node name, a bad sender)
   * deliver nothing, and the good one after them arrives. */
  g_assert_cmpint (natsConnection_PublishString (connection, "natter.default.node.b", old_typing), ==, NATS_OK);
  g_clear_pointer (&got, natter_frame_free);
  got = cluster_expect_deliver (alice, "{\"typingContentType\":\"json\"}");
  g_assert_cmpstr (got->deliver->message->sender_user_id, ==, "carol");
  {
    g_autoptr(GPtrArray) one = g_ptr_array_new ();
    g_autoptr(GBytes) bytes = NULL;
    g_autofree guint8 *newer = NULL;
    gsize size;

    status.message.content = (char *) "{\"typingContentType\":\"newer\"}";
    g_ptr_array_add (one, &status);
    bytes = natterd_cluster_wire_encode ("x", one);
    size = g_bytes_get_size (bytes);
    newer = g_memdup2 (g_bytes_get_data (bytes, NULL), size);
    g_assert_cmpint (newer[0], ==, 0x08);
    g_assert_cmpint (newer[1], ==, NATTERD_CLUSTER_WIRE_VERSION);
    newer[1] = NATTERD_CLUSTER_WIRE_VERSION + 1;
    g_assert_cmpint (natsConnection_Publish (connection, "natter.default.node.b", newer, (int) size), ==, NATS_OK);
    g_assert_cmpint (natsConnection_Publish (connection, "natter.default.node.b", g_bytes_get_data (bytes, NULL),
                                             (int) size - 3), ==, NATS_OK);
  }
  status.message.content = (char *) "{\"typingContentType\":\"bad node\"}";
  publish_batch (connection, "x.y", &status);
  status.message.content = (char *) "{\"typingContentType\":\"bad sender\"}";
  status.message.sender_user_id = (char *) "carol smith";
  publish_batch (connection, "x", &status);
  status.message.sender_user_id = (char *) "carol";
  status.message.content = (char *) "{\"typingContentType\":\"protobuf\"}";
  publish_batch (connection, "x", &status);
  g_assert_cmpint (natsConnection_FlushTimeout (connection, 5000), ==, NATS_OK);
  g_clear_pointer (&got, natter_frame_free);
  got = cluster_expect_deliver (alice, "{\"typingContentType\":\"protobuf\"}");
  g_assert_cmpuint (got->deliver->message->flags, ==, NATTER_MESSAGE_FLAG_STATUS);
  natter_test_client_expect_none (alice, NATTER__FRAME__BODY_DELIVER, 300);

  natsSubscription_Destroy (to_b);
  natsSubscription_Destroy (to_old);
  natsConnection_Destroy (connection);
}

typedef struct
{
  GHashTable *uids;             /* message uids received */
  guint       delivers;
} Burst;

static void
on_burst_frame (NatterTestClient  *client,
                const NatterFrame *frame,
                gpointer           user_data)
{
  Burst *burst = user_data;

  if (frame->body_case != NATTER__FRAME__BODY_DELIVER)
    return;
  burst->delivers++;
  g_hash_table_add (burst->uids, g_strdup (frame->deliver->message->message_uid));
}

static gboolean
burst_done (gpointer data)
{
  return ((Burst *) data)->delivers >= 2000;
}

/* 2,000 messages sent as fast as they go: each arrives live on the other
 * node exactly once. */
static void
test_burst (void)
{
  const char * const app_args[] = { "--app-setting", "send-rate=0", NULL };
  const char * const users[] = { "alice", "bob", NULL };
  g_autoptr(Cluster) cluster = cluster_new (2, app_args, users);
  NatterTestServer *a = cluster->nodes[0], *b = cluster->nodes[1];
  g_autoptr(NatterTestClient) alice = cluster_client (cluster, b, "alice", "d1");
  g_autoptr(NatterTestClient) bob = cluster_client (cluster, a, "bob", "d1");
  Burst burst = { g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL), 0 };

  g_assert_true (cluster_wait_online (a, "alice", TRUE, NATTER_TEST_TIMEOUT_MS));
  natter_test_client_set_frame_func (alice, on_burst_frame, &burst);
  for (guint i = 0; i < 2000; i++)
    {
      g_autofree char *id = g_strdup_printf ("burst-%u", i);

      natter_test_client_publish_full (bob, id, 1, "alice", "RC:TxtMsg", "{\"content\":\"burst\"}",
                                       NATTER_MESSAGE_FLAG_PERSISTED | NATTER_MESSAGE_FLAG_COUNTED);
    }
  natter_test_wait (burst_done, &burst, 30000);
  g_assert_cmpuint (burst.delivers, ==, 2000);
  g_assert_cmpuint (g_hash_table_size (burst.uids), ==, 2000);
  natter_test_client_set_frame_func (alice, NULL, NULL);
  natter_test_client_expect_none (alice, NATTER__FRAME__BODY_DELIVER, 300);
  g_hash_table_unref (burst.uids);
}

/* nats-server goes away and comes back: the nodes reconnect by themselves
 * and live delivery resumes. */
static void
test_nats_restart (void)
{
  const char * const users[] = { "alice", "bob", NULL };
  g_autoptr(Cluster) cluster = cluster_new (2, NULL, users);
  NatterTestServer *a = cluster->nodes[0], *b = cluster->nodes[1];
  g_autoptr(NatterTestClient) alice = cluster_client (cluster, b, "alice", "d1");
  g_autoptr(NatterTestClient) bob = cluster_client (cluster, a, "bob", "d1");
  g_autoptr(NatterFrame) ack = NULL;
  g_autoptr(NatterFrame) got = NULL;
  g_autofree char *reason = NULL;

  g_assert_true (cluster_wait_online (a, "alice", TRUE, NATTER_TEST_TIMEOUT_MS));
  g_assert_cmpuint (natter_test_server_healthz (a, &reason), ==, 200);
  natter_test_nats_stop (cluster->nats);
  /* Long enough that each node took the other for dead. */
  cluster_wait_navi (a, "a", NATTER_TEST_TIMEOUT_MS);
  g_assert_true (cluster_wait_online (a, "alice", FALSE, NATTER_TEST_TIMEOUT_MS));
  /* Meanwhile a says it cannot reach the cluster. */
  g_clear_pointer (&reason, g_free);
  g_assert_cmpuint (natter_test_server_healthz (a, &reason), ==, 503);
  g_assert_nonnull (strstr (reason, "30002"));
  g_assert_nonnull (strstr (reason, "NATS"));
  natter_test_nats_restart (cluster->nats);
  cluster_wait_navi (a, "a,b", NATTER_TEST_TIMEOUT_MS);
  g_assert_true (cluster_wait_online (a, "alice", TRUE, NATTER_TEST_TIMEOUT_MS));
  g_clear_pointer (&reason, g_free);
  g_assert_cmpuint (natter_test_server_healthz (a, &reason), ==, 200);

  ack = natter_test_client_send_message (bob, 1, "alice", "RC:TxtMsg", "{\"content\":\"after the restart\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);
  got = cluster_expect_deliver (alice, "{\"content\":\"after the restart\"}");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/cluster/delivery/private", test_private);
  g_test_add_func ("/cluster/delivery/group", test_group);
  g_test_add_func ("/cluster/delivery/chatroom", test_chatroom);
  g_test_add_func ("/cluster/delivery/typing", test_typing);
  g_test_add_func ("/cluster/delivery/burst", test_burst);
  g_test_add_func ("/cluster/delivery/nats-restart", test_nats_restart);
  g_test_add_func ("/cluster/delivery/wire", test_wire);

  return g_test_run ();
}
