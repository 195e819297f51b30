/* test-cluster-pg.c — two natterd nodes on one PostgreSQL and one
 * nats-server, configured with exactly the keys: what only a shared
 * store gives (offline replay of what another node stored, the gap left by
 * a NATS outage read back from the store)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "test-cluster-common.h"

#include "natter-codes.h"

#include <string.h>

static gboolean
b_online_on_a (gpointer data)
{
  ClusterPair *pair = data;
  g_autoptr(JsonObject) reply = natter_test_server_api (pair->a, NULL, "user/checkOnline", "userId", "alice", NULL);

  return g_strcmp0 (json_object_get_string_member (reply, "status"), "1") == 0;
}

static gboolean
a_offline (gpointer data)
{
  return !b_online_on_a (data);
}

/* Stored through a, replayed by b: alice was offline when bob sent. */
static void
test_offline_replay (void)
{
  g_autoptr(ClusterPair) pair = cluster_pair_new (NULL, NULL);
  g_autofree char *alice_token = natter_test_server_get_token (pair->a, "alice");
  g_autofree char *bob_token = natter_test_server_get_token (pair->a, "bob");
  g_autoptr(NatterTestClient) bob = cluster_connect (pair->a, bob_token);
  g_autoptr(NatterTestClient) alice = NULL;
  g_autoptr(NatterFrame) ack = NULL;
  g_autoptr(NatterFrame) got = NULL;

  ack = natter_test_client_send_message (bob, 1, "alice", "RC:TxtMsg", "{\"content\":\"while you were out\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);
  /* alice, made on a, connects to b with a's token. */
  alice = cluster_connect (pair->b, alice_token);
  got = natter_test_client_expect (alice, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
  g_assert_nonnull (got);
  g_assert_cmpstr (got->deliver->message->content, ==, "{\"content\":\"while you were out\"}");
  g_assert_cmpstr (got->deliver->message->message_uid, ==, ack->publish_ack->message_uid);
  natter_test_client_expect_none (alice, NATTER__FRAME__BODY_DELIVER, 300);
}

/* What a sent while NATS was down reaches alice on b once NATS is back:
 * the next live delivery shows the gap and b reads it from the store. */
static void
test_outage_gap (void)
{
  g_autoptr(ClusterPair) pair = cluster_pair_new (NULL, NULL);
  g_autofree char *alice_token = natter_test_server_get_token (pair->a, "alice");
  g_autofree char *bob_token = natter_test_server_get_token (pair->a, "bob");
  g_autoptr(NatterTestClient) bob = cluster_connect (pair->a, bob_token);
  g_autoptr(NatterTestClient) alice = cluster_connect (pair->b, alice_token);
  g_autoptr(NatterFrame) during = NULL;
  g_autoptr(NatterFrame) after = NULL;
  g_autoptr(NatterFrame) first = NULL;
  g_autoptr(NatterFrame) second = NULL;

  g_assert_true (natter_test_wait (b_online_on_a, pair, NATTER_TEST_TIMEOUT_MS));
  natter_test_nats_stop (pair->nats);
  /* a no longer knows where alice is. */
  g_assert_true (natter_test_wait (a_offline, pair, NATTER_TEST_TIMEOUT_MS));
  during = natter_test_client_send_message (bob, 1, "alice", "RC:TxtMsg", "{\"content\":\"during\"}");
  g_assert_cmpint (during->publish_ack->code, ==, 0);
  natter_test_client_expect_none (alice, NATTER__FRAME__BODY_DELIVER, 300);

  natter_test_nats_restart (pair->nats);
  g_assert_true (natter_test_wait (b_online_on_a, pair, NATTER_TEST_TIMEOUT_MS));
  after = natter_test_client_send_message (bob, 1, "alice", "RC:TxtMsg", "{\"content\":\"after\"}");
  g_assert_cmpint (after->publish_ack->code, ==, 0);

  first = natter_test_client_expect (alice, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
  second = natter_test_client_expect (alice, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
  g_assert_nonnull (first);
  g_assert_nonnull (second);
  g_assert_cmpstr (first->deliver->message->content, ==, "{\"content\":\"during\"}");
  g_assert_cmpstr (second->deliver->message->content, ==, "{\"content\":\"after\"}");
  g_assert_cmpuint (second->deliver->seq, ==, first->deliver->seq + 1);
  natter_test_client_expect_none (alice, NATTER__FRAME__BODY_DELIVER, 300);
}

/* A user and a group made on b while a and b could not talk (NATS down,
 * b gone before NATS came back, so nothing of it travels over NATS): a
 * reads carol from the store when her token comes, the group when it
 * reconnects. carol (b's) connects to a,
 * gets a private and a group message sent through a, and a second
 * user/getToken on a finds her row instead of adding another. */
static void
test_directory_after_outage (void)
{
  g_autoptr(ClusterPair) pair = cluster_pair_new (NULL, NULL);
  g_autofree char *bob_token = natter_test_server_get_token (pair->a, "bob");
  g_autoptr(NatterTestClient) bob = cluster_connect (pair->a, bob_token);
  g_autofree char *carol_token = NULL;
  g_autofree char *again = NULL;
  g_autoptr(NatterTestClient) carol = NULL;
  g_autoptr(JsonObject) reply = NULL;
  g_autoptr(NatterFrame) ack = NULL;
  g_autoptr(NatterFrame) group_ack = NULL;
  g_autoptr(NatterFrame) got = NULL;
  g_autoptr(NatterFrame) in_group = NULL;

  natter_test_nats_stop (pair->nats);
  cluster_wait_navi (pair->a, "a", NATTER_TEST_TIMEOUT_MS);
  carol_token = natter_test_server_get_token (pair->b, "carol");
  reply = natter_test_server_api (pair->b, NULL, "group/create", "userId", "carol", "userId", "bob",
                                  "groupId", "apart", "groupName", "apart", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  natter_test_server_kill (pair->b);
  natter_test_nats_restart (pair->nats);

  /* carol is read from the store at once (a valid token); the group
   * comes with the read-back once a is back on NATS: until then bob is
   * no member there (22406). */
  carol = cluster_connect (pair->a, carol_token);
  ack = natter_test_client_send_message (bob, 1, "carol", "RC:TxtMsg", "{\"content\":\"to carol\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);
  got = cluster_expect_deliver (carol, "{\"content\":\"to carol\"}");
  for (guint i = 0; i < 200; i++)
    {
      g_clear_pointer (&group_ack, natter_frame_free);
      group_ack = natter_test_client_send_message (bob, 3, "apart", "RC:TxtMsg", "{\"content\":\"to the group\"}");
      if (group_ack->publish_ack->code != 22406 && group_ack->publish_ack->code != 20604)
        break;
      g_usleep (100 * 1000);
    }
  g_assert_cmpint (group_ack->publish_ack->code, ==, 0);
  in_group = cluster_expect_deliver (carol, "{\"content\":\"to the group\"}");
  again = natter_test_server_get_token (pair->a, "carol");
  g_assert_nonnull (again);
}

static void
reply_ok (JsonObject *reply)
{
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  json_object_unref (reply);
}

/* Removals made on b while a and b could not talk (b gone before NATS came
 * back, so nothing of it travels over NATS) hold on a once it is back: a
 * member who quit, a gag lifted, an unblock, a dismissed group. */
static void
test_removals_after_outage (void)
{
  g_autoptr(ClusterPair) pair = cluster_pair_new (NULL, NULL);
  g_autofree char *bob_token = natter_test_server_get_token (pair->a, "bob");
  g_autofree char *carol_token = natter_test_server_get_token (pair->a, "carol");
  g_autoptr(NatterTestClient) bob = cluster_connect (pair->a, bob_token);
  g_autoptr(NatterTestClient) carol = cluster_connect (pair->a, carol_token);
  SendWait wait;

  g_free (natter_test_server_get_token (pair->a, "alice"));
  /* Made on b; a has them once its sends are refused or accepted so. */
  reply_ok (natter_test_server_api (pair->b, NULL, "group/create", "userId", "alice", "userId", "bob",
                                    "userId", "carol", "groupId", "crew", NULL));
  reply_ok (natter_test_server_api (pair->b, NULL, "group/create", "userId", "alice", "userId", "bob",
                                    "groupId", "gone", NULL));
  reply_ok (natter_test_server_api (pair->b, NULL, "group/user/gag/add", "userId", "bob", "groupId", "crew",
                                    "minute", "60", NULL));
  reply_ok (natter_test_server_api (pair->b, NULL, "user/blacklist/add", "userId", "alice",
                                    "blackUserId", "carol", NULL));
  wait = (SendWait) { bob, 3, "crew", NATTER_CODE_GAGGED_IN_GROUP };
  g_assert_true (natter_test_wait (send_gets, &wait, NATTER_TEST_TIMEOUT_MS));
  wait = (SendWait) { carol, 1, "alice", NATTER_CODE_REJECTED_BY_BLACKLIST };
  g_assert_true (natter_test_wait (send_gets, &wait, NATTER_TEST_TIMEOUT_MS));
  wait = (SendWait) { carol, 3, "crew", 0 };
  g_assert_true (natter_test_wait (send_gets, &wait, NATTER_TEST_TIMEOUT_MS));
  wait = (SendWait) { bob, 3, "gone", 0 };
  g_assert_true (natter_test_wait (send_gets, &wait, NATTER_TEST_TIMEOUT_MS));

  natter_test_nats_stop (pair->nats);
  cluster_wait_navi (pair->a, "a", NATTER_TEST_TIMEOUT_MS);
  reply_ok (natter_test_server_api (pair->b, NULL, "group/quit", "userId", "carol", "groupId", "crew", NULL));
  reply_ok (natter_test_server_api (pair->b, NULL, "group/user/gag/rollback", "userId", "bob", "groupId", "crew", NULL));
  reply_ok (natter_test_server_api (pair->b, NULL, "user/blacklist/remove", "userId", "alice",
                                    "blackUserId", "carol", NULL));
  reply_ok (natter_test_server_api (pair->b, NULL, "group/dismiss", "userId", "alice", "groupId", "gone", NULL));
  natter_test_server_kill (pair->b);
  natter_test_nats_restart (pair->nats);

  /* Once a read the store again, all of them hold there. */
  wait = (SendWait) { bob, 3, "crew", 0 };
  g_assert_true (natter_test_wait (send_gets, &wait, NATTER_TEST_TIMEOUT_MS));
  wait = (SendWait) { carol, 3, "crew", NATTER_CODE_NOT_IN_GROUP };
  g_assert_true (send_gets (&wait));
  wait = (SendWait) { carol, 1, "alice", 0 };
  g_assert_true (send_gets (&wait));
  wait = (SendWait) { bob, 3, "gone", NATTER_CODE_NOT_IN_GROUP };
  g_assert_true (send_gets (&wait));
}

static NatterFrame *
join_room (NatterTestClient *client,
           const char       *room)
{
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__ChatroomJoinRequest request = NATTER__CHATROOM_JOIN_REQUEST__INIT;

  request.chatroom_id = (char *) room;
  query.method_case = NATTER__QUERY__METHOD_CHATROOM_JOIN;
  query.chatroom_join = &request;
  return natter_test_client_query (client, &query);
}

static gboolean
joined_r1 (gpointer data)
{
  g_autoptr(NatterFrame) joined = join_room (data, "r1");

  return joined->result->code == 0;
}

/* A block from the server API on a of bob, a member on b: whoever is
 * still in the room hears "Kicked" once, on both nodes; bob hears 23409
 * and not the notice (#16). */
static void
test_kick_notice (void)
{
  g_autoptr(ClusterPair) pair = cluster_pair_new (NULL, NULL);
  g_autofree char *alice_token = natter_test_server_get_token (pair->a, "alice");
  g_autofree char *bob_token = natter_test_server_get_token (pair->a, "bob");
  g_autofree char *carol_token = natter_test_server_get_token (pair->a, "carol");
  g_autoptr(NatterTestClient) alice = cluster_connect (pair->a, alice_token);
  g_autoptr(NatterTestClient) bob = cluster_connect (pair->b, bob_token);
  g_autoptr(NatterTestClient) carol = cluster_connect (pair->b, carol_token);
  g_autoptr(JsonObject) reply = NULL;
  g_autoptr(NatterFrame) frame = NULL;
  NatterTestClient *listeners[] = { alice, carol };

  reply = natter_test_server_api (pair->a, NULL, "chatroom/create", "chatroom[r1]", "R1", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_clear_pointer (&reply, json_object_unref);
  g_assert_true (natter_test_wait (joined_r1, alice, NATTER_TEST_TIMEOUT_MS));
  /* b learns of the room over NATS. */
  g_assert_true (natter_test_wait (joined_r1, bob, NATTER_TEST_TIMEOUT_MS));
  g_assert_true (natter_test_wait (joined_r1, carol, NATTER_TEST_TIMEOUT_MS));

  reply = natter_test_server_api (pair->a, NULL, "chatroom/user/block/add", "chatroomId", "r1",
                                  "userId", "bob", "minute", "5", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  for (guint i = 0; i < G_N_ELEMENTS (listeners); i++)
    {
      Natter__Message *m;

      frame = natter_test_client_expect (listeners[i], NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
      g_assert_nonnull (frame);
      m = frame->deliver->message;
      g_assert_cmpstr (m->object_name, ==, "NT:ChrmNtf");
      g_assert_cmpstr (m->sender_user_id, ==, "bob");
      g_assert_cmpstr (m->target_id, ==, "r1");
      g_assert_cmpint (m->conversation_type, ==, 4);
      g_assert_true (m->flags & NATTER_MESSAGE_FLAG_STATUS);
      g_assert_nonnull (strstr (m->content, "\"Kicked\""));
      g_clear_pointer (&frame, natter_frame_free);
    }
  frame = natter_test_client_expect (bob, NATTER__FRAME__BODY_CHATROOM_EVENT, NATTER_TEST_TIMEOUT_MS);
  g_assert_nonnull (frame);
  g_assert_cmpint (frame->chatroom_event->code, ==, NATTER_CODE_KICKED_FROM_CHATROOM);
  /* Once: one node said it. */
  natter_test_client_expect_none (alice, NATTER__FRAME__BODY_DELIVER, 500);
  natter_test_client_expect_none (carol, NATTER__FRAME__BODY_DELIVER, 200);
  natter_test_client_expect_none (bob, NATTER__FRAME__BODY_DELIVER, 200);
}

/* bob's name as @client's node has it. */
static char *
profile_name (NatterTestClient *client,
              const char       *user_id)
{
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__ProfileRequest request = NATTER__PROFILE_REQUEST__INIT;
  char *ids[] = { (char *) user_id };
  g_autoptr(NatterFrame) result = NULL;

  request.n_user_ids = 1;
  request.user_ids = ids;
  query.method_case = NATTER__QUERY__METHOD_PROFILE;
  query.profile = &request;
  result = natter_test_client_query (client, &query);
  g_assert_cmpint (result->result->code, ==, 0);
  if (result->result->profile->n_users != 1)
    return NULL;
  return g_strdup (result->result->profile->users[0]->name);
}

/* The users user/block/query on @node lists, comma-separated. */
static char *
blocked_on (NatterTestServer *node)
{
  g_autoptr(JsonObject) reply = natter_test_server_api (node, NULL, "user/block/query", "page", "1", NULL);
  JsonArray *users = json_object_get_array_member (reply, "users");
  g_autoptr(GString) list = g_string_new (NULL);

  for (guint i = 0; users != NULL && i < json_array_get_length (users); i++)
    g_string_append_printf (list, "%s%s", i > 0 ? "," : "",
                            json_object_get_string_member (json_array_get_object_element (users, i), "userId"));
  return g_string_free (g_steal_pointer (&list), FALSE);
}

static gboolean
online_code_ok (gpointer data)
{
  NatterTestServer *node = data;
  g_autoptr(JsonObject) reply = natter_test_server_api (node, NULL, "user/getToken", "userId", "wren", NULL);

  return json_object_get_int_member (reply, "code") == 200;
}

/* @data's node lists both of the group "both"'s members: it read what
 * the other node stored while they were apart. */
static gboolean
both_members_known (gpointer data)
{
  g_autoptr(JsonObject) reply = natter_test_server_api (data, NULL, "group/user/query", "groupId", "both", NULL);

  return json_object_get_int_member (reply, "code") == 200 &&
         json_array_get_length (json_object_get_array_member (reply, "users")) == 2;
}

/* wren and the group "both" made on a and on b while they could not hear
 * each other: the second node's row clashed with the first's (another id
 * for the same user or group) and every later call about them failed on
 * that node. It takes the stored row's id instead: wren is usable on both
 * nodes, the group has both members, one row each. */
static void
test_same_rows_while_apart (void)
{
  g_autoptr(ClusterPair) pair = cluster_pair_new (NULL, NULL);
  g_autofree char *bob_token = natter_test_server_get_token (pair->a, "bob");
  g_autofree char *wren_a = NULL;
  g_autoptr(NatterTestClient) bob = cluster_connect (pair->a, bob_token);
  g_autoptr(NatterTestClient) wren = NULL;
  g_autoptr(NatterFrame) ack = NULL;
  g_autoptr(NatterFrame) group_ack = NULL;
  g_autoptr(NatterFrame) got = NULL;
  g_autoptr(NatterFrame) in_group = NULL;
  g_autofree char *users = NULL;
  g_autofree char *groups = NULL;
  g_autofree char *members = NULL;

  g_free (natter_test_server_get_token (pair->b, "bob"));
  natter_test_nats_stop (pair->nats);
  cluster_wait_navi (pair->a, "a", NATTER_TEST_TIMEOUT_MS);
  cluster_wait_navi (pair->b, "b", NATTER_TEST_TIMEOUT_MS);
  wren_a = natter_test_server_get_token (pair->a, "wren");
  reply_ok (natter_test_server_api (pair->a, NULL, "group/create", "userId", "bob",
                                    "groupId", "both", "groupName", "Both", NULL));
  /* b's first try may meet a's row: it answers once it took a's id. */
  g_assert_true (natter_test_wait (online_code_ok, pair->b, NATTER_TEST_TIMEOUT_MS));
  reply_ok (natter_test_server_api (pair->b, NULL, "group/create", "userId", "wren",
                                    "groupId", "both", "groupName", "Both", NULL));

  users = natter_test_pg_query (pair->pg, "natter", "SELECT count(*) FROM users WHERE user_id = 'wren'");
  g_assert_cmpstr (users, ==, "1");
  groups = natter_test_pg_query (pair->pg, "natter", "SELECT count(*) FROM groups WHERE group_id = 'both'");
  g_assert_cmpstr (groups, ==, "1");
  members = natter_test_pg_query (pair->pg, "natter",
                                  "SELECT count(*) FROM group_members m JOIN groups g ON g.id = m.group_id"
                                  " WHERE g.group_id = 'both'");
  g_assert_cmpstr (members, ==, "2");

  /* wren on b, with a's token, hears bob (on a) privately and in the group. */
  natter_test_nats_restart (pair->nats);
  cluster_wait_navi (pair->a, "a,b", NATTER_TEST_TIMEOUT_MS);
  g_assert_true (natter_test_wait (both_members_known, pair->a, NATTER_TEST_TIMEOUT_MS));
  wren = cluster_connect (pair->b, wren_a);
  ack = natter_test_client_send_message (bob, 1, "wren", "RC:TxtMsg", "{\"content\":\"to wren\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);
  got = cluster_expect_deliver (wren, "{\"content\":\"to wren\"}");
  group_ack = natter_test_client_send_message (bob, 3, "both", "RC:TxtMsg", "{\"content\":\"to both\"}");
  g_assert_cmpint (group_ack->publish_ack->code, ==, 0);
  in_group = cluster_expect_deliver (wren, "{\"content\":\"to both\"}");
}

typedef struct
{
  NatterTestPg *pg;
  gint64        at_least;
} SeenWait;

static gboolean
last_seen_stored (gpointer data)
{
  SeenWait *wait = data;
  g_autofree char *seen = natter_test_pg_query (wait->pg, "natter",
                                                "SELECT COALESCE (max (d.last_seen), 0) FROM devices d"
                                                " JOIN users u ON u.id = d.user_id WHERE u.user_id = 'alice'");

  return g_ascii_strtoll (seen, NULL, 10) >= wait->at_least;
}

/* A node started after alice went offline (on a) answers her last seen
 * as a does, from the store: it was 0 (unknown) there. */
static void
test_last_seen_from_store (void)
{
  g_autoptr(ClusterPair) pair = cluster_pair_new (NULL, NULL);
  g_autofree char *alice_token = natter_test_server_get_token (pair->a, "alice");
  g_autofree char *bob_token = natter_test_server_get_token (pair->a, "bob");
  g_autoptr(NatterTestClient) bob_a = cluster_connect (pair->a, bob_token);
  g_autoptr(NatterTestServer) c = NULL;
  g_autoptr(NatterTestClient) bob_c = NULL;
  NatterTestClient *alice = cluster_connect (pair->a, alice_token);
  SeenWait wait = { pair->pg, 0 };
  gint64 seen_a;

  g_assert_true (natter_test_wait (b_online_on_a, pair, NATTER_TEST_TIMEOUT_MS));
  natter_test_client_free (alice);
  g_assert_true (natter_test_wait (a_offline, pair, NATTER_TEST_TIMEOUT_MS));
  seen_a = last_seen_of (bob_a, "alice");
  g_assert_cmpint (seen_a, >, 0);
  /* Stored with her device's row (within the devices' flush interval). */
  wait.at_least = seen_a;
  g_assert_true (natter_test_wait (last_seen_stored, &wait, NATTER_TEST_TIMEOUT_MS));

  c = natter_test_server_new_node (pair->a, "[cluster]\nnode-name=c\n");
  cluster_wait_navi (c, "c,a,b", NATTER_TEST_TIMEOUT_MS);
  bob_c = cluster_connect (c, bob_token);
  g_assert_cmpint (last_seen_of (bob_c, "alice"), ==, seen_a);
}

typedef struct
{
  NatterTestServer *node;
  const char       *expected;
} BlockedWait;

static gboolean
blocked_is (gpointer data)
{
  BlockedWait *wait = data;
  g_autofree char *now = blocked_on (wait->node);

  return g_strcmp0 (now, wait->expected) == 0;
}

/* What b changed while a and b could not talk (b gone before NATS came
 * back) that is neither a group nor a blacklist: a block lifted, a
 * profile, a chatroom destroyed. a holds to the store once it is back:
 * alice may connect there, bob's new name shows, and carol, in the
 * chatroom on a, is told it is gone. */
static void
test_changes_after_outage (void)
{
  g_autoptr(ClusterPair) pair = cluster_pair_new (NULL, NULL);
  g_autofree char *alice_token = natter_test_server_get_token (pair->a, "alice");
  g_autofree char *bob_token = natter_test_server_get_token (pair->a, "bob");
  g_autofree char *carol_token = natter_test_server_get_token (pair->a, "carol");
  g_autoptr(NatterTestClient) carol = cluster_connect (pair->a, carol_token);
  g_autoptr(NatterTestClient) alice = NULL;
  g_autoptr(NatterFrame) joined = NULL;
  g_autoptr(NatterFrame) gone = NULL;
  g_autoptr(NatterFrame) refused = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;
  BlockedWait blocked = { pair->a, "alice" };
  int code = -1;

  reply_ok (natter_test_server_api (pair->b, NULL, "user/block", "userId", "alice", "minute", "60", NULL));
  reply_ok (natter_test_server_api (pair->b, NULL, "chatroom/create", "chatroom[hall]", "Hall", NULL));
  g_assert_true (natter_test_wait (blocked_is, &blocked, NATTER_TEST_TIMEOUT_MS));
  for (guint i = 0; i < 100; i++)
    {
      g_clear_pointer (&joined, natter_frame_free);
      joined = join_room (carol, "hall");
      if (joined->result->code == 0)
        break;
      g_usleep (50 * 1000);
    }
  g_assert_cmpint (joined->result->code, ==, 0);

  natter_test_nats_stop (pair->nats);
  cluster_wait_navi (pair->a, "a", NATTER_TEST_TIMEOUT_MS);
  reply_ok (natter_test_server_api (pair->b, NULL, "user/unblock", "userId", "alice", NULL));
  reply_ok (natter_test_server_api (pair->b, NULL, "user/refresh", "userId", "bob", "name", "Robert", NULL));
  reply_ok (natter_test_server_api (pair->b, NULL, "chatroom/destroy", "chatroomId", "hall", NULL));
  natter_test_server_kill (pair->b);
  natter_test_nats_restart (pair->nats);

  gone = natter_test_client_expect (carol, NATTER__FRAME__BODY_CHATROOM_EVENT, NATTER_TEST_TIMEOUT_MS);
  g_assert_nonnull (gone);
  g_assert_cmpint (gone->chatroom_event->code, ==, NATTER_CODE_CHATROOM_NOT_EXIST);
  refused = natter_test_client_send_message (carol, 4, "hall", "RC:TxtMsg", "{\"content\":\"anyone?\"}");
  g_assert_cmpint (refused->publish_ack->code, ==, NATTER_CODE_CHATROOM_NOT_EXIST);
  /* The refresh that dropped the room lifted the block and took the name. */
  blocked.expected = "";
  g_assert_true (blocked_is (&blocked));
  name = profile_name (carol, "bob");
  g_assert_cmpstr (name, ==, "Robert");
  alice = natter_test_client_open (pair->a, &error);
  g_assert_no_error (error);
  code = natter_test_client_connect (alice, natter_test_server_get_app_key (pair->a), alice_token, "d1", 0);
  g_assert_cmpint (code, ==, 0);
}

typedef struct
{
  NatterTestPg *pg;
  const char   *sql;
  const char   *expected;
} RowsWait;

static gboolean
rows_are (gpointer data)
{
  RowsWait *wait = data;
  g_autofree char *now = natter_test_pg_query (wait->pg, "natter", wait->sql);

  return g_strcmp0 (now, wait->expected) == 0;
}

/* A room b made while a could not hear of it is the one a joins, not a
 * second one (a's row clashed with b's: 30002 for every join, #13); a
 * destroys b's row, not the row of an id only a knows; a join does not
 * rename it. */
static void
test_chatroom_from_other_node (void)
{
  g_autoptr(ClusterPair) pair = cluster_pair_new (NULL, NULL);
  g_autofree char *carol_token = natter_test_server_get_token (pair->a, "carol");
  g_autoptr(NatterTestClient) carol = cluster_connect (pair->a, carol_token);
  g_autoptr(NatterFrame) joined = NULL;
  g_autofree char *name = NULL;
  RowsWait rows = { pair->pg, "SELECT count(*) FROM chatrooms WHERE chatroom_id = 'hall'", "0" };

  natter_test_nats_stop (pair->nats);
  cluster_wait_navi (pair->a, "a", NATTER_TEST_TIMEOUT_MS);
  reply_ok (natter_test_server_api (pair->b, NULL, "chatroom/create", "chatroom[hall]", "Hall", NULL));
  joined = join_room (carol, "hall");
  g_assert_cmpint (joined->result->code, ==, 0);
  name = natter_test_pg_query (pair->pg, "natter", "SELECT name FROM chatrooms WHERE chatroom_id = 'hall'");
  g_assert_cmpstr (name, ==, "Hall");

  natter_test_nats_restart (pair->nats);
  cluster_wait_navi (pair->a, "a,b", NATTER_TEST_TIMEOUT_MS);
  reply_ok (natter_test_server_api (pair->a, NULL, "chatroom/destroy", "chatroomId", "hall", NULL));
  g_assert_true (natter_test_wait (rows_are, &rows, NATTER_TEST_TIMEOUT_MS));
}

typedef struct
{
  NatterTestServer *node;
  guint             expected;
} MembersWait;

static gboolean
members_are (gpointer data)
{
  MembersWait *wait = data;
  g_autoptr(JsonObject) reply = natter_test_server_api (wait->node, NULL, "group/user/query", "groupId", "big", NULL);

  return json_object_has_member (reply, "users") &&
         json_array_get_length (json_object_get_array_member (reply, "users")) == wait->expected;
}

/* Rows that come into the store behind a's back (written there directly,
 * more than one page of the read-back each: 12,001 users, a group with
 * all of them) are all in a once it reads the store back after a NATS
 * outage, the blocks on either side of a page's end included. */
static void
test_paged_refresh (void)
{
  g_autoptr(ClusterPair) pair = cluster_pair_new (NULL, NULL);
  g_autofree char *app_id = natter_test_pg_query (pair->pg, "natter", "SELECT id FROM apps");
  g_autofree char *sql = NULL;
  g_autofree char *blocked = NULL;
  MembersWait wait = { pair->a, 12001 };

  sql = g_strdup_printf ("INSERT INTO users (id, app_id, user_id, created, blocked_until)"
                         " SELECT 10000000 + n, %s, 'u' || n, 0,"
                         "  CASE WHEN n %% 1000 IN (0, 999) THEN 32503680000000 ELSE 0 END"
                         " FROM generate_series (0, 12000) n;"
                         "INSERT INTO groups (id, app_id, group_id, created) VALUES (10000000, %s, 'big', 0);"
                         "INSERT INTO group_members (group_id, user_id, joined)"
                         " SELECT 10000000, 10000000 + n, 0 FROM generate_series (0, 12000) n",
                         app_id, app_id);
  g_free (natter_test_pg_query (pair->pg, "natter", sql));
  natter_test_nats_stop (pair->nats);
  cluster_wait_navi (pair->a, "a", NATTER_TEST_TIMEOUT_MS);
  natter_test_nats_restart (pair->nats);
  g_assert_true (natter_test_wait (members_are, &wait, NATTER_TEST_TIMEOUT_MS));
  blocked = blocked_on (pair->a);
  {
    g_auto(GStrv) users = g_strsplit (blocked, ",", -1);

    /* u0 and u999 … u12000: 13 + 12 */
    g_assert_cmpuint (g_strv_length (users), ==, 25);
    g_assert_true (g_strv_contains ((const char * const *) users, "u4999"));
    g_assert_true (g_strv_contains ((const char * const *) users, "u5000"));
    g_assert_true (g_strv_contains ((const char * const *) users, "u12000"));
  }
}

/* alice read seqs 1 and 2 on b while a heard nothing of them (NATS down);
 * connecting to a with last_seq 2, a reads her head from the store instead
 * of taking her back to the 0 it knows: the next message is seq 3, and 1
 * and 2 are not sent again. */
static void
test_connect_head (void)
{
  g_autoptr(ClusterPair) pair = cluster_pair_new (NULL, NULL);
  g_autofree char *alice_token = natter_test_server_get_token (pair->a, "alice");
  g_autofree char *bob_token = natter_test_server_get_token (pair->a, "bob");
  g_autoptr(NatterTestClient) bob_b = NULL;
  g_autoptr(NatterTestClient) alice_b = NULL;
  g_autoptr(NatterTestClient) alice_a = NULL;
  g_autoptr(NatterTestClient) bob_a = NULL;
  g_autoptr(NatterFrame) third = NULL;
  g_autoptr(GError) error = NULL;
  guint64 last_seq;

  /* b knows them before it hears nothing more. */
  bob_b = cluster_connect_as (pair->b, bob_token, "d1");
  alice_b = cluster_connect_as (pair->b, alice_token, "d1");
  natter_test_nats_stop (pair->nats);
  cluster_wait_navi (pair->a, "a", NATTER_TEST_TIMEOUT_MS);
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(NatterFrame) ack = natter_test_client_send_message (bob_b, 1, "alice", "RC:TxtMsg", "{\"content\":\"on b\"}");
      g_autoptr(NatterFrame) got = NULL;

      g_assert_cmpint (ack->publish_ack->code, ==, 0);
      got = cluster_expect_deliver (alice_b, "{\"content\":\"on b\"}");
    }
  last_seq = natter_test_client_get_last_seq (alice_b);
  g_assert_cmpuint (last_seq, ==, 2);
  g_clear_pointer (&alice_b, natter_test_client_free);

  alice_a = natter_test_client_open (pair->a, &error);
  g_assert_no_error (error);
  g_assert_cmpint (natter_test_client_connect (alice_a, natter_test_server_get_app_key (pair->a), alice_token,
                                               "d1", last_seq), ==, 0);
  g_assert_cmpuint (natter_test_client_get_max_seq (alice_a), ==, last_seq);
  bob_a = cluster_connect (pair->a, bob_token);
  {
    g_autoptr(NatterFrame) ack = natter_test_client_send_message (bob_a, 1, "alice", "RC:TxtMsg", "{\"content\":\"third\"}");

    g_assert_cmpint (ack->publish_ack->code, ==, 0);
  }
  third = cluster_expect_deliver (alice_a, "{\"content\":\"third\"}");
  g_assert_cmpuint (third->deliver->seq, ==, last_seq + 1);
  natter_test_client_expect_none (alice_a, NATTER__FRAME__BODY_DELIVER, 300);
}

typedef struct
{
  NatterTestServer *node;
  const char       *group;
  const char       *expected;   /* user ids, sorted, joined with "," */
} GroupMembersWait;

static int
compare_ids (gconstpointer a,
             gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static gboolean
group_members_are (gpointer data)
{
  GroupMembersWait *wait = data;
  g_autoptr(JsonObject) reply = natter_test_server_api (wait->node, NULL, "group/user/query", "groupId", wait->group,
                                                        NULL);
  g_autoptr(GPtrArray) ids = g_ptr_array_new ();
  g_autofree char *joined = NULL;
  JsonArray *users;

  if (!json_object_has_member (reply, "users"))
    return FALSE;
  users = json_object_get_array_member (reply, "users");
  for (guint i = 0; i < json_array_get_length (users); i++)
    g_ptr_array_add (ids, (gpointer) json_object_get_string_member (json_array_get_object_element (users, i), "id"));
  g_ptr_array_sort (ids, compare_ids);
  g_ptr_array_add (ids, NULL);
  joined = g_strjoinv (",", (char **) ids->pdata);
  return g_str_equal (joined, wait->expected);
}

/* group/sync on b of a group made on a (b knows it over NATS): the user's
 * groups are found by the store's index, and the leave is stored under
 * the group's row (b once gave a group it heard of an id of its own, so
 * the leave named no stored group and alice was back at a's restart). */
static void
test_group_sync_across_nodes (void)
{
  g_autoptr(ClusterPair) pair = cluster_pair_new (NULL, NULL);
  g_autofree char *stored = NULL;
  GroupMembersWait wait;

  reply_ok (natter_test_server_api (pair->a, NULL, "group/create", "userId", "alice", "userId", "bob",
                                    "groupId", "team", "groupName", "Team", NULL));
  wait = (GroupMembersWait) { pair->b, "team", "alice,bob" };
  g_assert_true (natter_test_wait (group_members_are, &wait, NATTER_TEST_TIMEOUT_MS));

  reply_ok (natter_test_server_api (pair->b, NULL, "group/sync", "userId", "alice", "group[other]", "Other", NULL));
  wait = (GroupMembersWait) { pair->b, "team", "bob" };
  g_assert_true (group_members_are (&wait));
  wait = (GroupMembersWait) { pair->a, "team", "bob" };
  g_assert_true (natter_test_wait (group_members_are, &wait, NATTER_TEST_TIMEOUT_MS));
  wait = (GroupMembersWait) { pair->a, "other", "alice" };
  g_assert_true (natter_test_wait (group_members_are, &wait, NATTER_TEST_TIMEOUT_MS));
  stored = natter_test_pg_query (pair->pg, "natter",
                                 "SELECT string_agg (g.group_id || ':' || u.user_id, ',' ORDER BY g.group_id, u.user_id)"
                                 " FROM group_members m JOIN groups g ON g.id = m.group_id"
                                 " JOIN users u ON u.id = m.user_id");
  g_assert_cmpstr (stored, ==, "other:alice,team:bob");

  /* Again without any group: alice leaves "other" too. */
  reply_ok (natter_test_server_api (pair->b, NULL, "group/sync", "userId", "alice", NULL));
  natter_test_server_stop (pair->a);
  natter_test_server_restart (pair->a);
  wait = (GroupMembersWait) { pair->a, "other", "" };
  g_assert_true (natter_test_wait (group_members_are, &wait, NATTER_TEST_TIMEOUT_MS));
  wait = (GroupMembersWait) { pair->a, "team", "bob" };
  g_assert_true (group_members_are (&wait));
}

/* A read-back of 50,001 users and a group of all of them is merged in
 * slices: a keeps answering meanwhile (its /metrics says it is merging,
 * and alice's messages are acked), where one main-loop step held it for
 * the whole merge. Prints the slowest ack seen while merging. */
static void
test_refresh_in_slices (void)
{
  g_autoptr(ClusterPair) pair = cluster_pair_new (NULL, NULL);
  g_autofree char *app_id = natter_test_pg_query (pair->pg, "natter", "SELECT id FROM apps");
  g_autofree char *alice_token = natter_test_server_get_token (pair->a, "alice");
  g_autofree char *sql = NULL;
  g_autoptr(NatterTestClient) alice = NULL;
  guint64 refreshes, slices;
  guint acked = 0, polls = 0, merging_seen = 0;
  gint64 slowest = 0;
  MembersWait wait = { pair->a, 50001 };

  g_free (natter_test_server_get_token (pair->a, "bob"));
  alice = cluster_connect (pair->a, alice_token);
  sql = g_strdup_printf ("INSERT INTO users (id, app_id, user_id, created)"
                         " SELECT 20000000 + n, %s, 'm' || n, 0 FROM generate_series (0, 50000) n;"
                         "INSERT INTO groups (id, app_id, group_id, created) VALUES (20000000, %s, 'big', 0);"
                         "INSERT INTO group_members (group_id, user_id, joined)"
                         " SELECT 20000000, 20000000 + n, 0 FROM generate_series (0, 50000) n",
                         app_id, app_id);
  g_free (natter_test_pg_query (pair->pg, "natter", sql));
  natter_test_nats_stop (pair->nats);
  cluster_wait_navi (pair->a, "a", NATTER_TEST_TIMEOUT_MS);
  refreshes = natter_test_server_get_metric (pair->a, "natterd_cluster_refreshes_total");
  slices = natter_test_server_get_metric (pair->a, "natterd_cluster_refresh_slices_total");
  natter_test_nats_restart (pair->nats);

  /* Until a has merged the read-back: each turn asks whether it is
   * merging, and while it is, sends a message. */
  for (gint64 deadline = g_get_monotonic_time () + NATTER_TEST_TIMEOUT_MS * 1000;
       natter_test_server_get_metric (pair->a, "natterd_cluster_refreshes_total") == refreshes;)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      polls++;
      if (natter_test_server_get_metric (pair->a, "natterd_cluster_merging") == 1)
        {
          gint64 sent = g_get_monotonic_time ();
          g_autoptr(NatterFrame) ack = natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg",
                                                                        "{\"content\":\"while merging\"}");

          g_assert_cmpint (ack->publish_ack->code, ==, 0);
          merging_seen++;
          /* Acked while the merge went on, not after it. */
          if (natter_test_server_get_metric (pair->a, "natterd_cluster_merging") == 1)
            {
              acked++;
              slowest = MAX (slowest, g_get_monotonic_time () - sent);
            }
        }
      else
        g_usleep (1000);
    }
  g_test_message ("%u polls, %u while merging, %u acks in the middle of it, the slowest %.1f ms, %" G_GUINT64_FORMAT
                  " slices", polls, merging_seen, acked, slowest / 1000.0,
                  natter_test_server_get_metric (pair->a, "natterd_cluster_refresh_slices_total") - slices);
  g_assert_cmpuint (acked, >, 0);
  g_assert_cmpuint (natter_test_server_get_metric (pair->a, "natterd_cluster_refresh_slices_total") - slices, >, 10);
  g_assert_true (natter_test_wait (members_are, &wait, NATTER_TEST_TIMEOUT_MS));
}

typedef struct
{
  NatterTestServer *node;
  guint64           refreshes;
  const char       *member;
} RefreshWait;

/* A read-back after the one counted in @refreshes, and @member in group
 * "few" on @node. */
static gboolean
refreshed_with_member (gpointer data)
{
  RefreshWait *wait = data;
  g_autoptr(JsonObject) reply = NULL;
  JsonArray *users;

  if (natter_test_server_get_metric (wait->node, "natterd_cluster_refreshes_total") <= wait->refreshes)
    return FALSE;
  reply = natter_test_server_api (wait->node, NULL, "group/user/query", "groupId", "few", NULL);
  users = json_object_get_array_member (reply, "users");
  for (guint i = 0; i < json_array_get_length (users); i++)
    if (g_strcmp0 (json_object_get_string_member (json_array_get_object_element (users, i), "id"),
                   wait->member) == 0)
      return TRUE;
  return FALSE;
}

#define MANY_USERS 120

/* What b changed while NATS was down (a user made, a member added, a
 * name changed) reaches a when it is back, and a reads back only the rows
 * those changes touched (schema 8's changes), not its 120 users again. */
static void
test_read_back_only_changes (void)
{
  g_autoptr(ClusterPair) pair = cluster_pair_new (NULL, NULL);
  RefreshWait wait = { pair->a, 0, "late" };
  g_autofree char *name = NULL;
  guint64 rows;
  g_autoptr(NatterTestClient) u0 = NULL;
  g_autofree char *u0_token = NULL;

  for (guint i = 0; i < MANY_USERS; i++)
    {
      g_autofree char *user_id = g_strdup_printf ("u%u", i);

      g_free (natter_test_server_get_token (pair->a, user_id));
    }
  reply_ok (natter_test_server_api (pair->a, NULL, "group/create", "userId", "u0", "userId", "u1",
                                    "groupId", "few", "groupName", "few", NULL));
  u0_token = natter_test_server_get_token (pair->a, "u0");
  cluster_wait_old_horizon (pair->a);
  /* Connected only now: the client answers no pings while the test sleeps. */
  u0 = cluster_connect (pair->a, u0_token);

  natter_test_nats_stop (pair->nats);
  cluster_wait_navi (pair->a, "a", NATTER_TEST_TIMEOUT_MS);
  wait.refreshes = natter_test_server_get_metric (pair->a, "natterd_cluster_refreshes_total");
  rows = natter_test_server_get_metric (pair->a, "natterd_cluster_refresh_rows_total");
  g_free (natter_test_server_get_token (pair->b, "late"));
  reply_ok (natter_test_server_api (pair->b, NULL, "group/join", "userId", "late", "groupId", "few",
                                    "groupName", "few", NULL));
  reply_ok (natter_test_server_api (pair->b, NULL, "user/refresh", "userId", "u1", "name", "Una", NULL));
  natter_test_server_kill (pair->b);
  natter_test_nats_restart (pair->nats);

  g_assert_true (natter_test_wait (refreshed_with_member, &wait, NATTER_TEST_TIMEOUT_MS));
  name = profile_name (u0, "u1");
  g_assert_cmpstr (name, ==, "Una");
  rows = natter_test_server_get_metric (pair->a, "natterd_cluster_refresh_rows_total") - rows;
  g_test_message ("rows read back: %" G_GUINT64_FORMAT, rows);
  /* late and u1 (and u0, connected there: its inbox head), the group and
   * its three members; a whole read-back reads every user. */
  g_assert_cmpuint (rows, >, 0);
  g_assert_cmpuint (rows, <, 20);
}

/* For a RowsWait: "t" once at least @n of natterd's sessions wait on
 * @event (pg_stat_activity.wait_event). */
#define SESSIONS_WAITING(event, n) \
  "SELECT count(*) >= " #n " FROM pg_stat_activity" \
  " WHERE application_name = 'natterd' AND wait_event = '" event "'"

/* Every COMMIT waits for a synchronous standby that never answers
 * (@hold), or commits as before. */
static void
hold_commits (NatterTestPg *pg,
              gboolean      hold)
{
  g_free (natter_test_pg_query (pg, "natter", hold ? "ALTER SYSTEM SET synchronous_standby_names = 'nobody'"
                                                   : "ALTER SYSTEM RESET synchronous_standby_names"));
  g_free (natter_test_pg_query (pg, "natter", "SELECT pg_reload_conf ()"));
}

/* Each sends once and has it acked: every row the test's messages name
 * (their users, devices, conversations) is committed, and the batches
 * held next are of publishes only (other ops wait for the COMMIT before). */
static void
warm_up (NatterTestClient *bob,
         NatterTestClient *carol)
{
  g_autoptr(NatterFrame) to_alice = natter_test_client_send_message (bob, 1, "alice", "RC:TxtMsg", "{\"content\":\"hi\"}");
  g_autoptr(NatterFrame) to_dave = natter_test_client_send_message (carol, 1, "dave", "RC:TxtMsg", "{\"content\":\"hi\"}");

  g_assert_cmpint (to_alice->publish_ack->code, ==, 0);
  g_assert_cmpint (to_dave->publish_ack->code, ==, 0);
  /* The devices' last seen and the like, written once after a login. */
  g_usleep (500 * G_TIME_SPAN_MILLISECOND);
}

/* Nodes a and b (@extra, @app_args as cluster_pair_new()), b stopped so
 * only a's sessions count: with every COMMIT held, bob's message to alice
 * waits for its COMMIT, then carol's to dave (no row lock in common) goes
 * as far as @second_waits says (a RowsWait query giving "t"); neither is
 * acked before the COMMITs return, both are after. */
static ClusterPair *
held_publishes (const char         *extra,
                const char * const *app_args,
                const char         *second_waits)
{
  ClusterPair *pair = cluster_pair_new (extra, app_args);
  g_autofree char *bob_token = natter_test_server_get_token (pair->a, "bob");
  g_autofree char *carol_token = natter_test_server_get_token (pair->a, "carol");
  g_autoptr(NatterTestClient) bob = cluster_connect (pair->a, bob_token);
  g_autoptr(NatterTestClient) carol = cluster_connect (pair->a, carol_token);
  g_autoptr(NatterFrame) first_ack = NULL;
  g_autoptr(NatterFrame) second_ack = NULL;
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  RowsWait wait = { pair->pg, SESSIONS_WAITING ("SyncRep", 1), "t" };

  g_clear_pointer (&pair->b, natter_test_server_free);
  warm_up (bob, carol);
  hold_commits (pair->pg, TRUE);
  first = natter_test_client_publish (bob, 1, "alice", "RC:TxtMsg", "{\"content\":\"first\"}");
  g_assert_true (natter_test_wait (rows_are, &wait, NATTER_TEST_TIMEOUT_MS));
  second = natter_test_client_publish (carol, 1, "dave", "RC:TxtMsg", "{\"content\":\"second\"}");
  wait.sql = second_waits;
  g_assert_true (natter_test_wait (rows_are, &wait, NATTER_TEST_TIMEOUT_MS));
  natter_test_client_expect_none (bob, NATTER__FRAME__BODY_PUBLISH_ACK, 300);
  natter_test_client_expect_none (carol, NATTER__FRAME__BODY_PUBLISH_ACK, 300);

  hold_commits (pair->pg, FALSE);
  first_ack = natter_test_client_wait_ack (bob, first);
  second_ack = natter_test_client_wait_ack (carol, second);
  g_assert_cmpint (first_ack->publish_ack->code, ==, 0);
  g_assert_cmpint (second_ack->publish_ack->code, ==, 0);
  return pair;
}

/* The writer runs the next batch while a COMMIT waits for the disk (a
 * synchronous standby that never answers makes every COMMIT wait): two
 * of a's transactions wait for it at once. */
static void
test_commit_overlaps_next_batch (void)
{
  g_autoptr(ClusterPair) pair = held_publishes (NULL, NULL, SESSIONS_WAITING ("SyncRep", 2));
}

/* An app's webhook events commit in the order of their batches: the next
 * batch, on the writer's other connection, waits for the app's lock
 * until the COMMIT before it returned (pollers on any node never see a
 * later event before an earlier one). */
static void
test_webhook_events_in_commit_order (void)
{
  const char * const args[] = { "--app-setting", "webhook-url=http://127.0.0.1:1/hook", NULL };
  g_autoptr(ClusterPair) pair = held_publishes ("[webhook]\ndrain-timeout=0\n", args,
                                                SESSIONS_WAITING ("advisory", 1));
  g_autofree char *events = natter_test_pg_query (pair->pg, "natter", "SELECT count(*) FROM webhook_events");

  /* The warm-up's two and the test's two. */
  g_assert_cmpstr (events, ==, "4");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/cluster/pg/offline-replay", test_offline_replay);
  g_test_add_func ("/cluster/pg/outage-gap", test_outage_gap);
  g_test_add_func ("/cluster/pg/directory-after-outage", test_directory_after_outage);
  g_test_add_func ("/cluster/pg/removals-after-outage", test_removals_after_outage);
  g_test_add_func ("/cluster/pg/connect-head", test_connect_head);
  g_test_add_func ("/cluster/pg/changes-after-outage", test_changes_after_outage);
  g_test_add_func ("/cluster/pg/chatroom-from-other-node", test_chatroom_from_other_node);
  g_test_add_func ("/cluster/pg/same-rows-while-apart", test_same_rows_while_apart);
  g_test_add_func ("/cluster/pg/last-seen-from-store", test_last_seen_from_store);
  g_test_add_func ("/cluster/pg/paged-refresh", test_paged_refresh);
  g_test_add_func ("/cluster/pg/group-sync-across-nodes", test_group_sync_across_nodes);
  g_test_add_func ("/cluster/pg/refresh-in-slices", test_refresh_in_slices);
  g_test_add_func ("/cluster/pg/kick-notice", test_kick_notice);
  g_test_add_func ("/cluster/pg/read-back-only-changes", test_read_back_only_changes);
  g_test_add_func ("/cluster/pg/commit-overlaps-next-batch", test_commit_overlaps_next_batch);
  g_test_add_func ("/cluster/pg/webhook-events-in-commit-order", test_webhook_events_in_commit_order);

  return g_test_run ();
}
