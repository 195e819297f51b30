/* test-cluster-pg.c — two natterd nodes on one PostgreSQL and one
 * nats-server, configured with exactly the keys: what only a shared
 * store gives (offline replay of what another node stored, the gap left by
 * a NATS outage read back from the store)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "test-cluster-common.h"

#include "natter-codes.h"

#include "natter-test-pg.h"

typedef struct
{
  NatterTestPg     *pg;
  NatterTestNats   *nats;
  NatterTestServer *a;
  NatterTestServer *b;
} Pair;

static void
pair_free (Pair *pair)
{
  natter_test_server_free (pair->b);
  natter_test_server_free (pair->a);
  natter_test_nats_free (pair->nats);
  natter_test_pg_free (pair->pg);
  g_free (pair);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Pair, pair_free)

static gboolean
b_online_on_a (gpointer data)
{
  Pair *pair = data;
  g_autoptr(JsonObject) reply = natter_test_server_api (pair->a, NULL, "user/checkOnline", "userId", "alice", NULL);

  return g_strcmp0 (json_object_get_string_member (reply, "status"), "1") == 0;
}

static gboolean
a_offline (gpointer data)
{
  return !b_online_on_a (data);
}

static Pair *
pair_new (void)
{
  Pair *pair = g_new0 (Pair, 1);
  g_autofree char *conninfo = NULL;
  g_autofree char *config = NULL;

  pair->pg = natter_test_pg_start ();
  conninfo = natter_test_pg_create_database (pair->pg, "natter");
  pair->nats = natter_test_nats_start ();
  config = cluster_pg_config (conninfo, pair->nats);
  pair->a = natter_test_server_new_full (config, NULL);
  pair->b = natter_test_server_new_node (pair->a, "[cluster]\nnode-name=b\n");
  cluster_wait_navi (pair->a, "a,b", NATTER_TEST_TIMEOUT_MS);
  cluster_wait_navi (pair->b, "b,a", NATTER_TEST_TIMEOUT_MS);
  return pair;
}

/* Stored through a, replayed by b: alice was offline when bob sent. */
static void
test_offline_replay (void)
{
  g_autoptr(Pair) pair = pair_new ();
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
  g_autoptr(Pair) pair = pair_new ();
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
 * reads them from the store when it reconnects. carol (b's) connects to a,
 * gets a private and a group message sent through a, and a second
 * user/getToken on a finds her row instead of adding another. */
static void
test_directory_after_outage (void)
{
  g_autoptr(Pair) pair = pair_new ();
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
  g_autoptr(GError) error = NULL;
  int code = -1;

  natter_test_nats_stop (pair->nats);
  cluster_wait_navi (pair->a, "a", NATTER_TEST_TIMEOUT_MS);
  carol_token = natter_test_server_get_token (pair->b, "carol");
  reply = natter_test_server_api (pair->b, NULL, "group/create", "userId", "carol", "userId", "bob",
                                  "groupId", "apart", "groupName", "apart", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  natter_test_server_kill (pair->b);
  natter_test_nats_restart (pair->nats);

  /* Once a is back on NATS it has read carol and the group: she is
   * refused (31004) until then. */
  carol = natter_test_client_open (pair->a, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < 100; i++)
    {
      code = natter_test_client_connect (carol, natter_test_server_get_app_key (pair->a), carol_token, "d1", 0);
      if (code == 0)
        break;
      g_clear_pointer (&carol, natter_test_client_free);
      g_usleep (100 * 1000);
      carol = natter_test_client_open (pair->a, &error);
      g_assert_no_error (error);
    }
  g_assert_cmpint (code, ==, 0);
  ack = natter_test_client_send_message (bob, 1, "carol", "RC:TxtMsg", "{\"content\":\"to carol\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);
  got = cluster_expect_deliver (carol, "{\"content\":\"to carol\"}");
  group_ack = natter_test_client_send_message (bob, 3, "apart", "RC:TxtMsg", "{\"content\":\"to the group\"}");
  g_assert_cmpint (group_ack->publish_ack->code, ==, 0);
  in_group = cluster_expect_deliver (carol, "{\"content\":\"to the group\"}");
  again = natter_test_server_get_token (pair->a, "carol");
  g_assert_nonnull (again);
}

typedef struct
{
  NatterTestClient *client;
  int               conversation_type;
  const char       *target;
  int               expected;
} SendWait;

/* Sends until the PublishAck's code is the expected one. */
static gboolean
send_gets (gpointer data)
{
  SendWait *wait = data;
  g_autoptr(NatterFrame) ack = natter_test_client_send_message (wait->client, wait->conversation_type, wait->target,
                                                                "RC:TxtMsg", "{\"content\":\"try\"}");

  if (ack->publish_ack->code == wait->expected)
    return TRUE;
  g_usleep (50 * 1000);
  return FALSE;
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
  g_autoptr(Pair) pair = pair_new ();
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

/* alice read seqs 1 and 2 on b while a heard nothing of them (NATS down);
 * connecting to a with last_seq 2, a reads her head from the store instead
 * of taking her back to the 0 it knows: the next message is seq 3, and 1
 * and 2 are not sent again. */
static void
test_connect_head (void)
{
  g_autoptr(Pair) pair = pair_new ();
  g_autofree char *alice_token = natter_test_server_get_token (pair->a, "alice");
  g_autofree char *bob_token = natter_test_server_get_token (pair->a, "bob");
  g_autoptr(NatterTestClient) bob_b = NULL;
  g_autoptr(NatterTestClient) alice_b = NULL;
  g_autoptr(NatterTestClient) alice_a = NULL;
  g_autoptr(NatterTestClient) bob_a = NULL;
  g_autoptr(NatterFrame) third = NULL;
  g_autoptr(GError) error = NULL;
  guint64 last_seq;

  natter_test_nats_stop (pair->nats);
  cluster_wait_navi (pair->a, "a", NATTER_TEST_TIMEOUT_MS);
  bob_b = cluster_connect (pair->b, bob_token);
  alice_b = cluster_connect (pair->b, alice_token);
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

  return g_test_run ();
}
