/* test-cluster-common.h — two or three natterd nodes on one nats-server
 *
 * Node "a" is a natter-test-server with the app and every user of the test
 * created; the others are byte copies of its data dir (same app, keys and
 * users), each with its own [cluster] node-name. ping-interval is 1 s so
 * node death shows within seconds.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <libsoup/soup.h>

#include "natter-test-client.h"
#include "natter-test-nats.h"
#include "natter-test-pg.h"
#include "natter-test-server.h"

#define PING_INTERVAL_S 1
#define MAX_NODES 3

typedef struct
{
  NatterTestNats   *nats;
  NatterTestServer *nodes[MAX_NODES];
  guint             n_nodes;
} Cluster;

static inline char *
cluster_config (Cluster    *cluster,
                const char *name)
{
  return g_strdup_printf ("[server]\nping-interval=%u\n[cluster]\nnats=%s\nnode-name=%s\n",
                          PING_INTERVAL_S, natter_test_nats_get_url (cluster->nats), name);
}

static inline JsonObject *
cluster_get_json (NatterTestServer *node,
                  const char       *path)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autofree char *url = g_strdup_printf ("%s%s", natter_test_server_get_url (node), path);
  g_autoptr(SoupMessage) message = soup_message_new ("GET", url);
  g_autoptr(GBytes) body = soup_session_send_and_read (session, message, NULL, NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();

  g_assert_nonnull (body);
  g_assert_cmpuint (soup_message_get_status (message), ==, 200);
  g_assert_true (json_parser_load_from_data (parser, g_bytes_get_data (body, NULL),
                                             (gssize) g_bytes_get_size (body), NULL));
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

/* The node names /navi.json on @node lists, in order, joined with ",". */
static inline char *
cluster_navi (NatterTestServer *node)
{
  g_autoptr(JsonObject) navi = cluster_get_json (node, "/navi.json");
  JsonArray *nodes = json_object_get_array_member (navi, "nodes");
  g_autoptr(GString) names = g_string_new (NULL);

  g_assert_cmpint (json_object_get_int_member (navi, "code"), ==, 200);
  for (guint i = 0; i < json_array_get_length (nodes); i++)
    {
      JsonObject *entry = json_array_get_object_element (nodes, i);

      g_assert_true (g_str_has_prefix (json_object_get_string_member (entry, "url"), "http://127.0.0.1:"));
      g_string_append_printf (names, "%s%s", i > 0 ? "," : "", json_object_get_string_member (entry, "name"));
    }
  return g_string_free (g_steal_pointer (&names), FALSE);
}

typedef struct
{
  NatterTestServer *node;
  const char       *expected;
} NaviWait;

static inline gboolean
navi_is (gpointer data)
{
  NaviWait *wait = data;
  g_autofree char *names = cluster_navi (wait->node);

  return g_strcmp0 (names, wait->expected) == 0;
}

static inline void
cluster_wait_navi (NatterTestServer *node,
                   const char       *expected,
                   guint             timeout_ms)
{
  NaviWait wait = { node, expected };
  g_autofree char *names = NULL;

  if (natter_test_wait (navi_is, &wait, timeout_ms))
    return;
  names = cluster_navi (node);
  g_assert_cmpstr (names, ==, expected);
}

/* user/checkOnline on @node: "1" or "0". */
static inline char *
cluster_check_online (NatterTestServer *node,
                      const char       *user_id)
{
  g_autoptr(JsonObject) reply = natter_test_server_api (node, NULL, "user/checkOnline", "userId", user_id, NULL);

  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  return g_strdup (json_object_get_string_member (reply, "status"));
}

typedef struct
{
  NatterTestServer *node;
  const char       *user_id;
  const char       *status;
} OnlineWait;

static inline gboolean
online_is (gpointer data)
{
  OnlineWait *wait = data;
  g_autofree char *status = cluster_check_online (wait->node, wait->user_id);

  return g_strcmp0 (status, wait->status) == 0;
}

/* Waits until @node says @user_id is (@online) or is not online; FALSE on timeout. */
static inline gboolean
cluster_wait_online (NatterTestServer *node,
                     const char       *user_id,
                     gboolean          online,
                     guint             timeout_ms)
{
  OnlineWait wait = { node, user_id, online ? "1" : "0" };

  return natter_test_wait (online_is, &wait, timeout_ms);
}

/* nats-server, node "a" (the app created with @app_args, then @users), and
 * @n_nodes - 1 copies "b", "c"; returns once every node lists every other. */
static inline Cluster *
cluster_new (guint               n_nodes,
             const char * const *app_args,
             const char * const *users)
{
  Cluster *cluster = g_new0 (Cluster, 1);
  g_autofree char *config = NULL;
  const char *names[MAX_NODES] = { "a", "b", "c" };

  g_assert_cmpuint (n_nodes, <=, MAX_NODES);
  cluster->nats = natter_test_nats_start ();
  config = cluster_config (cluster, "a");
  cluster->nodes[0] = natter_test_server_new_full (config, app_args);
  for (guint i = 0; users != NULL && users[i] != NULL; i++)
    g_free (natter_test_server_get_token (cluster->nodes[0], users[i]));
  /* The copies are made of a's data dir at rest. */
  natter_test_server_stop (cluster->nodes[0]);
  for (guint i = 1; i < n_nodes; i++)
    {
      g_autofree char *node_config = cluster_config (cluster, names[i]);

      cluster->nodes[i] = natter_test_server_new_copy (cluster->nodes[0], node_config);
    }
  natter_test_server_restart (cluster->nodes[0]);
  cluster->n_nodes = n_nodes;
  /* Each node lists itself first, then the others by name. */
  for (guint i = 0; i < n_nodes; i++)
    {
      g_autoptr(GString) expected = g_string_new (names[i]);

      for (guint j = 0; j < n_nodes; j++)
        if (j != i)
          g_string_append_printf (expected, ",%s", names[j]);
      cluster_wait_navi (cluster->nodes[i], expected->str, NATTER_TEST_TIMEOUT_MS);
    }
  return cluster;
}

static inline void
cluster_free (Cluster *cluster)
{
  for (guint i = 0; i < cluster->n_nodes; i++)
    natter_test_server_free (cluster->nodes[i]);
  natter_test_nats_free (cluster->nats);
  g_free (cluster);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Cluster, cluster_free)

/* Node "a" of nodes on the PostgreSQL @conninfo: the keys (and
 * ping-interval, so a dead node shows soon). */
static inline char *
cluster_pg_config (const char     *conninfo,
                   NatterTestNats *nats)
{
  return g_strdup_printf ("[server]\nping-interval=%u\n[store]\nbackend=postgresql\npostgresql=%s\n"
                          "[cluster]\nnats=%s\nnode-name=a\n",
                          PING_INTERVAL_S, conninfo, natter_test_nats_get_url (nats));
}

/* Nodes a and b on one private PostgreSQL and one nats-server, with the
 * issue's keys: what most cluster tests start from. */
typedef struct
{
  NatterTestPg     *pg;
  NatterTestNats   *nats;
  NatterTestServer *a;
  NatterTestServer *b;
} ClusterPair;

static inline void
cluster_pair_free (ClusterPair *pair)
{
  g_clear_pointer (&pair->b, natter_test_server_free);
  g_clear_pointer (&pair->a, natter_test_server_free);
  natter_test_nats_free (pair->nats);
  natter_test_pg_free (pair->pg);
  g_free (pair);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ClusterPair, cluster_pair_free)

/* @extra: more configuration for both nodes (or NULL); @app_args: the
 * app's (--app-setting …, or NULL). Returns once each lists the other. */
static inline ClusterPair *
cluster_pair_new (const char         *extra,
                  const char * const *app_args)
{
  ClusterPair *pair = g_new0 (ClusterPair, 1);
  g_autofree char *conninfo = NULL;
  g_autofree char *base = NULL;
  g_autofree char *config = NULL;

  pair->pg = natter_test_pg_start ();
  conninfo = natter_test_pg_create_database (pair->pg, "natter");
  pair->nats = natter_test_nats_start ();
  base = cluster_pg_config (conninfo, pair->nats);
  config = g_strconcat (base, extra, NULL);
  pair->a = natter_test_server_new_full (config, app_args);
  pair->b = natter_test_server_new_node (pair->a, "[cluster]\nnode-name=b\n");
  cluster_wait_navi (pair->a, "a,b", NATTER_TEST_TIMEOUT_MS);
  cluster_wait_navi (pair->b, "b,a", NATTER_TEST_TIMEOUT_MS);
  return pair;
}

/* A client of @node connected with @token as @device_id. An account
 * made on another node sharing the store is taken at once: the node reads
 * it from the store when NATS has not told it yet. */
static inline NatterTestClient *
cluster_connect_as (NatterTestServer *node,
                    const char       *token,
                    const char       *device_id)
{
  g_autoptr(GError) error = NULL;
  NatterTestClient *client = natter_test_client_open (node, &error);

  g_assert_no_error (error);
  g_assert_cmpint (natter_test_client_connect (client, natter_test_server_get_app_key (node), token, device_id, 0),
                   ==, 0);
  return client;
}

/* The same as device "d1". */
static inline NatterTestClient *
cluster_connect (NatterTestServer *node,
                 const char       *token)
{
  return cluster_connect_as (node, token, "d1");
}

/* A client of @node as @user_id: token from node "a" (all nodes share the
 * app's token key). */
static inline NatterTestClient *
cluster_client (Cluster          *cluster,
                NatterTestServer *node,
                const char       *user_id,
                const char       *device_id)
{
  g_autofree char *token = natter_test_server_get_token (cluster->nodes[0], user_id);
  g_autoptr(GError) error = NULL;
  NatterTestClient *client = natter_test_client_open (node, &error);

  g_assert_no_error (error);
  g_assert_cmpint (natter_test_client_connect (client, natter_test_server_get_app_key (node), token,
                                               device_id, 0), ==, 0);
  return client;
}

/* @user's last seen as @client's node answers a subscription (0:
 * unknown). */
static inline gint64
last_seen_of (NatterTestClient *client,
              const char       *user)
{
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__SubscribeRequest subscribe = NATTER__SUBSCRIBE_REQUEST__INIT;
  char *ids[] = { (char *) user };
  g_autoptr(NatterFrame) result = NULL;

  subscribe.user_ids = ids;
  subscribe.n_user_ids = 1;
  subscribe.expiry = 3600;
  query.method_case = NATTER__QUERY__METHOD_SUBSCRIBE;
  query.subscribe = &subscribe;
  result = natter_test_client_query (client, &query);
  g_assert_cmpint (result->result->code, ==, 0);
  g_assert_cmpuint (result->result->subscribe->n_statuses, ==, 1);
  g_assert_false (result->result->subscribe->statuses[0]->online);
  return result->result->subscribe->statuses[0]->last_seen;
}

/* The next Deliver on @client, skipping other frames; asserts its content. */
static inline NatterFrame *
cluster_expect_deliver (NatterTestClient *client,
                        const char       *content)
{
  NatterFrame *frame = natter_test_client_expect (client, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);

  g_assert_nonnull (frame);
  g_assert_cmpstr (frame->deliver->message->content, ==, content);
  return frame;
}

typedef struct
{
  NatterTestClient *client;
  int               conversation_type;
  const char       *target;
  int               expected;
} SendWait;

/* For natter_test_wait(): sends until the PublishAck's code is the
 * expected one (a change reaching the sender's node over NATS, shortly). */
static inline gboolean
send_gets (gpointer data)
{
  SendWait *wait = data;
  g_autoptr(NatterFrame) ack = natter_test_client_send_message (wait->client, wait->conversation_type, wait->target,
                                                                "RC:TxtMsg", "{\"content\":\"try\"}");

  if (ack->publish_ack->code == wait->expected)
    return TRUE;
  /* Retried as fast as the loop spins, the sends would soon meet the rate
   * limit (20604): a pause keeps the check about the code waited for. */
  g_usleep (50 * G_TIME_SPAN_MILLISECOND);
  return FALSE;
}

typedef struct
{
  NatterTestServer *node;
  const char       *metric;
  guint64           at_least;
} MetricWait;

/* For natter_test_wait(): @metric of @node at @at_least. */
static inline gboolean
metric_reaches (gpointer data)
{
  MetricWait *wait = data;

  return natter_test_server_get_metric (wait->node, wait->metric) >= wait->at_least;
}

/* Returns once @node holds a horizon sampled from now on and older than a
 * change takes over NATS (4 ping intervals and 5 s): a read-back after an
 * outage that begins now reads only what changed from there. */
static inline void
cluster_wait_old_horizon (NatterTestServer *node)
{
  MetricWait wait = { node, "natterd_cluster_horizons_total",
                      natter_test_server_get_metric (node, "natterd_cluster_horizons_total") + 1 };

  g_assert_true (natter_test_wait (metric_reaches, &wait, NATTER_TEST_TIMEOUT_MS));
  g_usleep ((4 * PING_INTERVAL_S + 6) * G_USEC_PER_SEC);
}
