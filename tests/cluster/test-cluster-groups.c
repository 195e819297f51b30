/* test-cluster-groups.c — member changes of one group made on two nodes
 * at once: once they settle, both nodes keep the members PostgreSQL holds
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "test-cluster-common.h"

#define MEMBERS 8
#define ROUNDS 48

static gint
compare_ids (gconstpointer a,
             gconstpointer b)
{
  return g_strcmp0 (*(const char * const *) a, *(const char * const *) b);
}

static void
reply_ok (JsonObject *reply)
{
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  json_object_unref (reply);
}

/* The members @node keeps in memory (group/user/query), sorted, joined with ",". */
static char *
members_on (NatterTestServer *node,
            const char       *group_id)
{
  g_autoptr(JsonObject) reply = natter_test_server_api (node, NULL, "group/user/query", "groupId", group_id, NULL);
  JsonArray *users = json_object_get_array_member (reply, "users");
  g_autoptr(GPtrArray) ids = g_ptr_array_new ();
  g_autoptr(GString) joined = g_string_new (NULL);

  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  for (guint i = 0; i < json_array_get_length (users); i++)
    g_ptr_array_add (ids, (gpointer) json_object_get_string_member (json_array_get_object_element (users, i), "id"));
  g_ptr_array_sort (ids, compare_ids);
  for (guint i = 0; i < ids->len; i++)
    g_string_append_printf (joined, "%s%s", i > 0 ? "," : "", (const char *) g_ptr_array_index (ids, i));
  return g_string_free (g_steal_pointer (&joined), FALSE);
}

static char *
members_stored (ClusterPair *pair,
                const char  *group_id)
{
  g_autofree char *sql = g_strdup_printf ("SELECT COALESCE (string_agg (u.user_id, ',' ORDER BY u.user_id), '')"
                                          " FROM group_members m JOIN groups g ON g.id = m.group_id"
                                          " JOIN users u ON u.id = m.user_id WHERE g.group_id = '%s'",
                                          group_id);
  g_autofree char *out = natter_test_pg_query (pair->pg, "natter", sql);

  return g_strdup (g_strstrip (out));
}

typedef struct
{
  ClusterPair *pair;
  const char  *group_id;
} AgreeWait;

static gboolean
all_agree (gpointer data)
{
  AgreeWait *wait = data;
  g_autofree char *stored = members_stored (wait->pair, wait->group_id);
  g_autofree char *on_a = members_on (wait->pair->a, wait->group_id);
  g_autofree char *on_b = members_on (wait->pair->b, wait->group_id);

  return g_strcmp0 (stored, on_a) == 0 && g_strcmp0 (stored, on_b) == 0;
}

typedef struct
{
  NatterTestServer *node;
  const char       *user_id;
  gboolean          join;
} Change;

static gpointer
change_thread (gpointer data)
{
  Change *change = data;

  if (change->join)
    reply_ok (natter_test_server_api (change->node, NULL, "group/join", "userId", change->user_id,
                                      "groupId", "race", "groupName", "race", NULL));
  else
    reply_ok (natter_test_server_api (change->node, NULL, "group/quit", "userId", change->user_id,
                                      "groupId", "race", NULL));
  return NULL;
}

/* Each round one member leaves on a and joins again there while b takes
 * the same member out (or, every other round, the other way round), the
 * requests sent at the same moment; the nodes apply each other's changes
 * in the order NATS brings them, not the order PostgreSQL committed
 * them. After the rounds, and the changes settled, a, b and the store
 * hold the same members. */
static void
test_concurrent_members (void)
{
  g_autoptr(ClusterPair) pair = cluster_pair_new (NULL, NULL);
  g_autofree char *first = NULL;
  g_autofree char *stored = NULL;
  g_autofree char *on_a = NULL;
  g_autofree char *on_b = NULL;
  AgreeWait wait = { pair, "race" };

  for (guint i = 0; i < MEMBERS; i++)
    {
      g_autofree char *user_id = g_strdup_printf ("m%u", i);

      g_free (natter_test_server_get_token (pair->a, user_id));
    }
  reply_ok (natter_test_server_api (pair->a, NULL, "group/create", "userId", "m0", "userId", "m1", "userId", "m2",
                                    "userId", "m3", "userId", "m4", "userId", "m5", "userId", "m6", "userId", "m7",
                                    "groupId", "race", "groupName", "race", NULL));
  g_assert_true (natter_test_wait (all_agree, &wait, NATTER_TEST_TIMEOUT_MS));
  first = members_on (pair->b, "race");
  g_assert_cmpstr (first, ==, "m0,m1,m2,m3,m4,m5,m6,m7");

  for (guint round = 0; round < ROUNDS; round++)
    {
      g_autofree char *member = g_strdup_printf ("m%u", round % MEMBERS);
      NatterTestServer *twice = round % 2 == 0 ? pair->a : pair->b;
      NatterTestServer *once = round % 2 == 0 ? pair->b : pair->a;
      Change quit_once = { once, member, FALSE };
      Change quit_twice = { twice, member, FALSE };
      Change join_twice = { twice, member, TRUE };
      GThread *thread = g_thread_new ("change", change_thread, &quit_once);

      change_thread (&quit_twice);
      change_thread (&join_twice);
      g_thread_join (thread);
    }

  if (!natter_test_wait (all_agree, &wait, NATTER_TEST_TIMEOUT_MS))
    {
      stored = members_stored (pair, "race");
      on_a = members_on (pair->a, "race");
      on_b = members_on (pair->b, "race");
      g_assert_cmpstr (on_a, ==, stored);
      g_assert_cmpstr (on_b, ==, stored);
    }
  g_test_message ("checked on a %" G_GUINT64_FORMAT ", on b %" G_GUINT64_FORMAT "; corrected on a %"
                  G_GUINT64_FORMAT ", on b %" G_GUINT64_FORMAT,
                  natter_test_server_get_metric (pair->a, "natterd_cluster_members_checked_total"),
                  natter_test_server_get_metric (pair->b, "natterd_cluster_members_checked_total"),
                  natter_test_server_get_metric (pair->a, "natterd_cluster_members_corrected_total"),
                  natter_test_server_get_metric (pair->b, "natterd_cluster_members_corrected_total"));
  /* Each node heard the other's changes and read them back. */
  g_assert_cmpuint (natter_test_server_get_metric (pair->a, "natterd_cluster_members_checked_total"), >, 0);
  g_assert_cmpuint (natter_test_server_get_metric (pair->b, "natterd_cluster_members_checked_total"), >, 0);
}

/* carol, removed from crew on a while NATS is down and stays down, is
 * refused (22406) on b once b reads back what changed meanwhile (every
 * 4 ping intervals and 10 s while apart), with no other member of crew
 * read on b for its token. */
static void
test_removal_while_apart (void)
{
  g_autoptr(ClusterPair) pair = cluster_pair_new (NULL, NULL);
  g_autofree char *alice = natter_test_server_get_token (pair->a, "alice");
  g_autofree char *carol = natter_test_server_get_token (pair->a, "carol");
  g_autofree char *on_b = NULL;
  g_autoptr(NatterTestClient) alice_b = NULL;
  g_autoptr(NatterTestClient) carol_b = NULL;
  g_autoptr(NatterFrame) ack = NULL;
  AgreeWait agree = { pair, "crew" };
  MetricWait refreshed;
  guint64 users_read;

  reply_ok (natter_test_server_api (pair->a, NULL, "group/create", "userId", "alice", "userId", "carol",
                                    "groupId", "crew", "groupName", "Crew", NULL));
  g_assert_true (natter_test_wait (all_agree, &agree, NATTER_TEST_TIMEOUT_MS));
  carol_b = cluster_connect_as (pair->b, carol, "c1");
  ack = natter_test_client_send_message (carol_b, 3, "crew", "RC:TxtMsg", "{\"content\":\"still here\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);
  g_clear_pointer (&ack, natter_frame_free);
  /* Closed: a test client answers no pings while the test waits. */
  g_clear_pointer (&carol_b, natter_test_client_free);

  natter_test_nats_stop (pair->nats);
  cluster_wait_navi (pair->a, "a", NATTER_TEST_TIMEOUT_MS);
  cluster_wait_navi (pair->b, "b", NATTER_TEST_TIMEOUT_MS);
  users_read = natter_test_server_get_metric (pair->b, "natterd_cluster_users_read_total");
  refreshed = (MetricWait) { pair->b, "natterd_cluster_refreshes_total",
                             natter_test_server_get_metric (pair->b, "natterd_cluster_refreshes_total") + 1 };
  reply_ok (natter_test_server_api (pair->a, NULL, "group/quit", "userId", "carol", "groupId", "crew", NULL));

  /* The first read-back while apart begins after the quit is committed. */
  g_assert_true (natter_test_wait (metric_reaches, &refreshed, 4 * NATTER_TEST_TIMEOUT_MS));
  on_b = members_on (pair->b, "crew");
  g_assert_cmpstr (on_b, ==, "alice");
  carol_b = cluster_connect_as (pair->b, carol, "c1");
  alice_b = cluster_connect_as (pair->b, alice, "a1");
  ack = natter_test_client_send_message (carol_b, 3, "crew", "RC:TxtMsg", "{\"content\":\"gone\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 22406);
  g_clear_pointer (&ack, natter_frame_free);
  ack = natter_test_client_send_message (alice_b, 3, "crew", "RC:TxtMsg", "{\"content\":\"still here\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);
  /* Nobody read for a token brought it. */
  g_assert_cmpuint (natter_test_server_get_metric (pair->b, "natterd_cluster_users_read_total"), ==, users_read);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cluster/groups/concurrent-members", test_concurrent_members);
  g_test_add_func ("/cluster/groups/removal-while-apart", test_removal_while_apart);
  return g_test_run ();
}
