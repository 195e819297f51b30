/* test-pg-nodes.c — several natterd nodes on one PostgreSQL
 *
 * Each test starts a private PostgreSQL 15 (natter-test-pg.h) and natterd
 * nodes configured with exactly the keys ([store] backend and
 * postgresql), then checks what must hold across nodes by looking at the
 * clients and at the database itself.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-codes.h"
#include "natter-test-client.h"
#include "natter-test-pg.h"
#include "natter-test-server.h"

#include <json-glib/json-glib.h>
#include <libpq-fe.h>
#include <libsoup/soup.h>
#include <stdio.h>
#include <string.h>

typedef struct
{
  NatterTestPg     *pg;
  char             *conninfo;
  NatterTestServer *a;
  NatterTestServer *b;
} Cluster;

static char *
node_config (const char *conninfo)
{
  return g_strdup_printf ("[store]\nbackend=postgresql\npostgresql=%s\n", conninfo);
}

/* Node A creates the app and the users; node B starts after them (its
 * directory is loaded from the store at start). */
static void
cluster_start (Cluster            *cluster,
               const char * const *users)
{
  g_autofree char *config = NULL;

  cluster->pg = natter_test_pg_start ();
  cluster->conninfo = natter_test_pg_create_database (cluster->pg, "natter");
  config = node_config (cluster->conninfo);
  cluster->a = natter_test_server_new_full (config, NULL);
  for (guint i = 0; users != NULL && users[i] != NULL; i++)
    g_free (natter_test_server_get_token (cluster->a, users[i]));
  cluster->b = natter_test_server_new_node (cluster->a, NULL);
}

static void
cluster_free (Cluster *cluster)
{
  g_clear_pointer (&cluster->a, natter_test_server_free);
  g_clear_pointer (&cluster->b, natter_test_server_free);
  g_clear_pointer (&cluster->pg, natter_test_pg_free);
  g_free (cluster->conninfo);
}

static char *
query (Cluster    *cluster,
       const char *sql)
{
  return natter_test_pg_query (cluster->pg, "natter", sql);
}

/* Two nodes publish to the same recipient at once: the recipient's inbox
 * is 1..N, every seq once. */
#define PER_NODE 150

static void
test_concurrent_seqs (void)
{
  static const char * const users[] = { "alice", "bob", "carol", NULL };
  Cluster cluster = { 0 };
  g_autoptr(NatterTestClient) bob = NULL;
  g_autoptr(NatterTestClient) carol = NULL;
  g_autofree char *inbox = NULL;
  g_autofree char *max_seq = NULL;
  g_autofree char *expected = NULL;

  cluster_start (&cluster, users);
  bob = natter_test_client_new_user (cluster.a, "bob", "b1");
  carol = natter_test_client_new_user (cluster.b, "carol", "c1");

  /* Interleaved, without waiting: both nodes' writers have batches for
   * alice in flight at the same time. */
  for (guint i = 0; i < PER_NODE; i++)
    {
      g_autofree char *from_bob = g_strdup_printf ("b-%u", i);
      g_autofree char *from_carol = g_strdup_printf ("c-%u", i);

      natter_test_client_publish_full (bob, from_bob, 1, "alice", "RC:TxtMsg", "{\"content\":\"b\"}", 0);
      natter_test_client_publish_full (carol, from_carol, 1, "alice", "RC:TxtMsg", "{\"content\":\"c\"}", 0);
    }
  for (guint i = 0; i < PER_NODE; i++)
    {
      g_autofree char *from_bob = g_strdup_printf ("b-%u", i);
      g_autofree char *from_carol = g_strdup_printf ("c-%u", i);
      g_autoptr(NatterFrame) ack_bob = natter_test_client_wait_ack (bob, from_bob);
      g_autoptr(NatterFrame) ack_carol = natter_test_client_wait_ack (carol, from_carol);

      g_assert_cmpint (ack_bob->publish_ack->code, ==, 0);
      g_assert_cmpint (ack_carol->publish_ack->code, ==, 0);
    }

  inbox = query (&cluster, "SELECT count (*), count (DISTINCT seq), min (seq), max (seq) FROM inbox"
                           " WHERE user_id = (SELECT id FROM users WHERE user_id = 'alice')");
  expected = g_strdup_printf ("%u|%u|1|%u", 2 * PER_NODE, 2 * PER_NODE, 2 * PER_NODE);
  g_assert_cmpstr (inbox, ==, expected);
  max_seq = query (&cluster, "SELECT max_seq FROM users WHERE user_id = 'alice'");
  g_free (expected);
  expected = g_strdup_printf ("%u", 2 * PER_NODE);
  g_assert_cmpstr (max_seq, ==, expected);

  /* Every entry names a stored message from a known sender: the replay's
   * join finds all of them. */
  g_free (inbox);
  inbox = query (&cluster, "SELECT count (*) FROM inbox i JOIN messages m ON m.id = i.message_id"
                           " JOIN users u ON u.id = m.sender_id"
                           " WHERE i.user_id = (SELECT id FROM users WHERE user_id = 'alice')");
  g_free (expected);
  expected = g_strdup_printf ("%u", 2 * PER_NODE);
  g_assert_cmpstr (inbox, ==, expected);

  /* alice, connecting afterwards, gets all of them in seq order. */
  {
    g_autoptr(NatterTestServer) c = natter_test_server_new_node (cluster.a, NULL);
    g_autoptr(NatterTestClient) alice = natter_test_client_new_user (c, "alice", "a1");
    guint64 next = 1;

    while (next <= 2 * PER_NODE)
      {
        g_autoptr(NatterFrame) deliver = natter_test_client_expect (alice, NATTER__FRAME__BODY_DELIVER,
                                                                    NATTER_TEST_TIMEOUT_MS);

        g_assert_nonnull (deliver);
        g_assert_cmpuint (deliver->deliver->seq, ==, next);
        next++;
      }
    natter_test_client_expect_none (alice, NATTER__FRAME__BODY_DELIVER, 300);
  }

  cluster_free (&cluster);
}

static void
exec_ok (PGconn     *conn,
         const char *sql)
{
  PGresult *result = PQexec (conn, sql);

  if (PQresultStatus (result) != PGRES_COMMAND_OK)
    g_error ("%s: %s", sql, PQerrorMessage (conn));
  PQclear (result);
}

static gboolean
lock_waited_on (gpointer data)
{
  g_autofree char *waiting = query (data, "SELECT count (*) FROM pg_stat_activity"
                                          " WHERE datname = 'natter' AND wait_event_type = 'Lock'");

  return g_strcmp0 (waiting, "0") != 0;
}

static guint64
pruned (Cluster          *cluster,
        NatterTestServer *c)
{
  return natter_test_server_get_metric (cluster->a, "natterd_inbox_pruned_total") +
         natter_test_server_get_metric (cluster->b, "natterd_inbox_pruned_total") +
         natter_test_server_get_metric (c, "natterd_inbox_pruned_total");
}

/* Inbox entries go only past inbox-retention-days, however the nodes'
 * message ids interleave. Node A draws its ids, then its INSERT waits for
 * an open transaction holding its client_msg_id; node B draws higher ids
 * and commits the hour's first message meanwhile; A commits after. Its
 * entry is not taken for one older than B's (the flake of concurrent-seqs:
 * a third node's first prune took a batch out of alice's inbox). */
static void
test_prune_across_nodes (void)
{
  static const char * const users[] = { "alice", "bob", "carol", "dave", NULL };
  Cluster cluster = { 0 };
  g_autoptr(NatterTestClient) bob = NULL;
  g_autoptr(NatterTestClient) carol = NULL;
  g_autoptr(NatterTestServer) c = NULL;
  g_autoptr(NatterFrame) held_ack = NULL;
  g_autoptr(NatterFrame) ack = NULL;
  g_autofree char *lower = NULL;
  g_autofree char *inbox = NULL;
  gint64 deadline;
  PGconn *held;

  cluster_start (&cluster, users);
  bob = natter_test_client_new_user (cluster.a, "bob", "b1");
  carol = natter_test_client_new_user (cluster.b, "carol", "c1");

  held = PQconnectdb (cluster.conninfo);
  g_assert_cmpint (PQstatus (held), ==, CONNECTION_OK);
  exec_ok (held, "BEGIN");
  exec_ok (held, "INSERT INTO messages (id, app_id, conversation_type, sender_id, target_id, channel,"
                 " object_name, content, flags, sent_time, device_id, client_msg_id)"
                 " SELECT -1, app_id, 1, id, 'alice', '-', 'RC:TxtMsg', '{}', 0, 0, 'b1', 'held'"
                 " FROM users WHERE user_id = 'bob'");
  natter_test_client_publish_full (bob, "held", 1, "alice", "RC:TxtMsg", "{\"content\":\"b\"}", 0);
  g_assert_true (natter_test_wait (lock_waited_on, &cluster, NATTER_TEST_TIMEOUT_MS));
  ack = natter_test_client_send_message (carol, 1, "dave", "RC:TxtMsg", "{\"content\":\"c\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);
  exec_ok (held, "ROLLBACK");
  PQfinish (held);
  held_ack = natter_test_client_wait_ack (bob, "held");
  g_assert_cmpint (held_ack->publish_ack->code, ==, 0);

  /* What the test is about: bob's message has the lower id, and B's
   * message was committed first. */
  lower = query (&cluster, "SELECT (SELECT id FROM messages WHERE client_msg_id = 'held') <"
                           " (SELECT min (id) FROM messages WHERE sender_id ="
                           "  (SELECT id FROM users WHERE user_id = 'carol'))");
  g_assert_cmpstr (lower, ==, "t");

  /* An entry truly past retention (its message id below every stored
   * one): the prune that removes it has run after both commits. */
  g_free (query (&cluster, "INSERT INTO inbox (user_id, seq, message_id)"
                           " SELECT id, 1000, 0 FROM users WHERE user_id = 'dave'"));
  c = natter_test_server_new_node (cluster.a, NULL);
  deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (pruned (&cluster, c) < 1)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (50 * 1000);
    }
  g_assert_cmpuint (pruned (&cluster, c), ==, 1);
  inbox = query (&cluster, "SELECT count (*) FROM inbox WHERE user_id = (SELECT id FROM users WHERE user_id = 'alice')");
  g_assert_cmpstr (inbox, ==, "1");

  g_clear_pointer (&c, natter_test_server_free);
  cluster_free (&cluster);
}

/* The same client_msg_id sent through both nodes at once is stored once;
 * both acks name that message. */
static void
test_idempotent_across_nodes (void)
{
  static const char * const users[] = { "alice", "bob", NULL };
  Cluster cluster = { 0 };
  g_autoptr(NatterTestClient) on_a = NULL;
  g_autoptr(NatterTestClient) on_b = NULL;
  g_autofree char *count = NULL;

  cluster_start (&cluster, users);
  on_a = natter_test_client_new_user (cluster.a, "alice", "a1");
  on_b = natter_test_client_new_user (cluster.b, "alice", "a1");

  for (guint i = 0; i < 20; i++)
    {
      g_autofree char *id = g_strdup_printf ("same-%u", i);
      g_autoptr(NatterFrame) first = NULL;
      g_autoptr(NatterFrame) second = NULL;

      natter_test_client_publish_full (on_a, id, 1, "bob", "RC:TxtMsg", "{\"content\":\"once\"}", 0);
      natter_test_client_publish_full (on_b, id, 1, "bob", "RC:TxtMsg", "{\"content\":\"once\"}", 0);
      first = natter_test_client_wait_ack (on_a, id);
      second = natter_test_client_wait_ack (on_b, id);
      g_assert_cmpint (first->publish_ack->code, ==, 0);
      g_assert_cmpint (second->publish_ack->code, ==, 0);
      g_assert_cmpstr (first->publish_ack->message_uid, ==, second->publish_ack->message_uid);
      g_assert_cmpint (first->publish_ack->sent_time, ==, second->publish_ack->sent_time);
    }

  count = query (&cluster, "SELECT count (*), count (DISTINCT client_msg_id) FROM messages");
  g_assert_cmpstr (count, ==, "20|20");
  g_free (count);
  count = query (&cluster, "SELECT count (*) FROM inbox WHERE user_id = (SELECT id FROM users WHERE user_id = 'bob')");
  g_assert_cmpstr (count, ==, "20");
  g_free (count);
  /* The node that found the message stored gave back the seq it took
   * for bob with the row: his seqs run 1..20 without a gap. */
  count = query (&cluster, "SELECT min (seq), max (seq), (SELECT max_seq FROM users WHERE user_id = 'bob') FROM inbox"
                 " WHERE user_id = (SELECT id FROM users WHERE user_id = 'bob')");
  g_assert_cmpstr (count, ==, "1|20|20");

  cluster_free (&cluster);
}

/* A signed server API request replayed on the other node is refused. */
static void
test_nonce_across_nodes (void)
{
  Cluster cluster = { 0 };
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autofree char *signature = NULL;
  g_autofree char *timestamp = g_strdup_printf ("%" G_GINT64_FORMAT, g_get_real_time () / G_USEC_PER_SEC);
  NatterTestServer *nodes[2];
  guint statuses[2];
  g_autofree char *codes[2] = { NULL, NULL };

  cluster_start (&cluster, NULL);
  nodes[0] = cluster.a;
  nodes[1] = cluster.b;
  signature = natter_test_api_signature (natter_test_server_get_app_secret (cluster.a), "once-only", timestamp);

  for (guint i = 0; i < 2; i++)
    {
      g_autofree char *url = g_strdup_printf ("%s/user/getToken.json", natter_test_server_get_url (nodes[i]));
      g_autoptr(SoupMessage) message = soup_message_new ("POST", url);
      g_autoptr(GBytes) body = g_bytes_new_static ("userId=dave", strlen ("userId=dave"));
      g_autoptr(GBytes) reply = NULL;
      g_autoptr(GError) error = NULL;
      SoupMessageHeaders *headers = soup_message_get_request_headers (message);

      soup_message_headers_append (headers, "App-Key", natter_test_server_get_app_key (cluster.a));
      soup_message_headers_append (headers, "Nonce", "once-only");
      soup_message_headers_append (headers, "Timestamp", timestamp);
      soup_message_headers_append (headers, "Signature", signature);
      soup_message_set_request_body_from_bytes (message, "application/x-www-form-urlencoded", body);
      reply = soup_session_send_and_read (session, message, NULL, &error);
      g_assert_no_error (error);
      statuses[i] = soup_message_get_status (message);
      codes[i] = g_strndup (g_bytes_get_data (reply, NULL), g_bytes_get_size (reply));
    }

  g_assert_cmpuint (statuses[0], ==, 200);
  g_assert_nonnull (strstr (codes[0], "\"code\":200"));
  g_assert_nonnull (strstr (codes[1], "\"code\":1004"));
  g_assert_nonnull (strstr (codes[1], "Nonce already used"));

  cluster_free (&cluster);
}

/* POST /media/upload of @data to @node with @token: the HTTP status, the
 * reply in @reply. */
static guint
upload (NatterTestServer  *node,
        const char        *token,
        GBytes            *data,
        char             **reply)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autofree char *url = g_strdup_printf ("%s/media/upload", natter_test_server_get_url (node));
  g_autoptr(SoupMessage) message = soup_message_new ("POST", url);
  g_autofree char *bearer = g_strconcat ("Bearer ", token, NULL);
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GError) error = NULL;

  soup_message_headers_append (soup_message_get_request_headers (message), "Authorization", bearer);
  soup_message_set_request_body_from_bytes (message, "application/octet-stream", data);
  body = soup_session_send_and_read (session, message, NULL, &error);
  g_assert_no_error (error);
  *reply = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  g_test_message ("upload: %u %s", soup_message_get_status (message), *reply);
  return soup_message_get_status (message);
}

/* For natter_test_wait(): @data's /healthz is 503 for its store, 30002. */
static gboolean
unhealthy (gpointer data)
{
  g_autofree char *body = NULL;
  guint status = natter_test_server_healthz (data, &body);

  g_test_message ("/healthz: %u %s", status, body);
  /* Not "the disk is full": the operator is told what is wrong. */
  return status == 503 && strstr (body, "30002") != NULL && strstr (body, "store") != NULL &&
         strstr (body, "disk") == NULL;
}

/* PostgreSQL stops while natterd runs: publishes are refused with 30002
 * (not lost, not hanging), /healthz and media uploads answer 503, then
 * all work again once it is back, without restarting natterd. */
static void
test_postgresql_restart (void)
{
  static const char * const users[] = { "alice", "bob", NULL };
  Cluster cluster = { 0 };
  g_autoptr(NatterTestClient) alice = NULL;
  g_autoptr(NatterTestClient) bob = NULL;
  g_autoptr(NatterFrame) ack = NULL;
  gint64 deadline;
  g_autofree char *health = NULL;
  g_autofree char *token = NULL;
  guint refused = 0;
  int code = -1;

  cluster_start (&cluster, users);
  token = natter_test_server_get_token (cluster.a, "carol");
  alice = natter_test_client_new_user (cluster.a, "alice", "a1");
  bob = natter_test_client_new_user (cluster.a, "bob", "b1");

  ack = natter_test_client_send_message (bob, 1, "alice", "RC:TxtMsg", "{\"content\":\"before\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);
  g_clear_pointer (&ack, natter_frame_free);
  {
    g_autoptr(NatterFrame) deliver = natter_test_client_expect (alice, NATTER__FRAME__BODY_DELIVER,
                                                                NATTER_TEST_TIMEOUT_MS);
    g_assert_nonnull (deliver);
  }

  natter_test_pg_stop (cluster.pg);
  for (guint i = 0; i < 3; i++)
    {
      ack = natter_test_client_send_message (bob, 1, "alice", "RC:TxtMsg", "{\"content\":\"while down\"}");
      g_assert_cmpint (ack->publish_ack->code, ==, NATTER_CODE_SERVER_ERROR);
      g_clear_pointer (&ack, natter_frame_free);
    }
  natter_test_client_expect_none (alice, NATTER__FRAME__BODY_DELIVER, 300);
  /* And /healthz says so: the store is unreachable. */
  g_assert_true (natter_test_wait (unhealthy, cluster.a, NATTER_TEST_TIMEOUT_MS));
  /* A media upload meanwhile: 503 (try again), not 507 (out of space). */
  {
    g_autoptr(GBytes) data = g_bytes_new_static ("picture", 7);
    g_autofree char *reply = NULL;

    g_assert_cmpuint (upload (cluster.a, token, data, &reply), ==, 503);
    g_assert_nonnull (strstr (reply, "30002"));
  }

  natter_test_pg_restart (cluster.pg);
  deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  while (code != 0 && g_get_monotonic_time () < deadline)
    {
      ack = natter_test_client_send_message (bob, 1, "alice", "RC:TxtMsg", "{\"content\":\"after\"}");
      code = ack->publish_ack->code;
      g_clear_pointer (&ack, natter_frame_free);
      if (code != 0)
        {
          g_assert_cmpint (code, ==, NATTER_CODE_SERVER_ERROR);
          refused++;
          g_usleep (200 * 1000);
        }
    }
  g_assert_cmpint (code, ==, 0);
  {
    g_autoptr(NatterFrame) deliver = natter_test_client_expect (alice, NATTER__FRAME__BODY_DELIVER,
                                                                NATTER_TEST_TIMEOUT_MS);
    g_autofree char *stored = NULL;

    g_assert_nonnull (deliver);
    g_assert_nonnull (strstr (deliver->deliver->message->content, "after"));
    stored = query (&cluster, "SELECT count (*) FROM messages");
    g_assert_cmpstr (stored, ==, "2");
  }
  g_test_message ("refused %u times after the restart", refused);
  g_assert_cmpuint (natter_test_server_healthz (cluster.a, &health), ==, 200);

  cluster_free (&cluster);
}

/* Webhooks with two nodes: a receiver on loopback records every event. */
typedef struct
{
  SoupServer *soup;
  char       *url;
  GPtrArray  *uids;             /* msgUID of every request, in arrival order */
  GPtrArray  *contents;
} Receiver;

static void
on_hook (SoupServer        *server,
         SoupServerMessage *msg,
         const char        *path,
         GHashTable        *query,
         gpointer           user_data)
{
  Receiver *receiver = user_data;
  g_autoptr(GBytes) body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  g_autofree char *text = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  g_autoptr(GHashTable) form = soup_form_decode (text);

  g_ptr_array_add (receiver->uids, g_strdup (g_hash_table_lookup (form, "msgUID")));
  g_ptr_array_add (receiver->contents, g_strdup (g_hash_table_lookup (form, "content")));
  soup_server_message_set_status (msg, 200, NULL);
}

static gboolean
received_all (gpointer data)
{
  Receiver *receiver = data;

  return receiver->uids->len >= 2 * 40;
}

static void
test_webhooks_once (void)
{
  static const char * const users[] = { "alice", "bob", "carol", NULL };
  Receiver receiver = { 0 };
  Cluster cluster = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(NatterTestClient) bob = NULL;
  g_autoptr(NatterTestClient) carol = NULL;
  g_autofree char *config = NULL;
  g_autofree char *setting = NULL;
  g_autofree char *left = NULL;
  const char *create_args[3];
  GSList *uris;
  int last_bob = -1, last_carol = -1;

  receiver.soup = soup_server_new (NULL, NULL);
  receiver.uids = g_ptr_array_new_with_free_func (g_free);
  receiver.contents = g_ptr_array_new_with_free_func (g_free);
  soup_server_add_handler (receiver.soup, "/hook", on_hook, &receiver, NULL);
  soup_server_listen_local (receiver.soup, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (receiver.soup);
  setting = g_strdup_printf ("webhook-url=http://127.0.0.1:%d/hook", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  /* As cluster_start(), with the app's webhook-url. */
  create_args[0] = "--app-setting";
  create_args[1] = setting;
  create_args[2] = NULL;
  cluster.pg = natter_test_pg_start ();
  cluster.conninfo = natter_test_pg_create_database (cluster.pg, "natter");
  config = node_config (cluster.conninfo);
  cluster.a = natter_test_server_new_full (config, create_args);
  for (guint i = 0; users[i] != NULL; i++)
    g_free (natter_test_server_get_token (cluster.a, users[i]));
  cluster.b = natter_test_server_new_node (cluster.a, NULL);

  bob = natter_test_client_new_user (cluster.a, "bob", "b1");
  carol = natter_test_client_new_user (cluster.b, "carol", "c1");
  for (guint i = 0; i < 40; i++)
    {
      g_autofree char *b = g_strdup_printf ("{\"content\":\"bob %u\"}", i);
      g_autofree char *c = g_strdup_printf ("{\"content\":\"carol %u\"}", i);
      g_autoptr(NatterFrame) ack_b = NULL;
      g_autoptr(NatterFrame) ack_c = NULL;

      ack_b = natter_test_client_send_message (bob, 1, "alice", "RC:TxtMsg", b);
      ack_c = natter_test_client_send_message (carol, 1, "alice", "RC:TxtMsg", c);
      g_assert_cmpint (ack_b->publish_ack->code, ==, 0);
      g_assert_cmpint (ack_c->publish_ack->code, ==, 0);
    }

  /* Every event once (both nodes poll the same table), each sender's in
   * the order sent. */
  g_assert_true (natter_test_wait (received_all, &receiver, 3 * NATTER_TEST_TIMEOUT_MS));
  g_usleep (G_USEC_PER_SEC);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (receiver.uids->len, ==, 80);
  for (guint i = 0; i < receiver.uids->len; i++)
    {
      const char *content = g_ptr_array_index (receiver.contents, i);
      int n;

      g_assert_true (g_hash_table_add (seen, g_ptr_array_index (receiver.uids, i)));
      if (sscanf (content, "{\"content\":\"bob %d\"}", &n) == 1)
        {
          g_assert_cmpint (n, ==, last_bob + 1);
          last_bob = n;
        }
      else
        {
          g_assert_cmpint (sscanf (content, "{\"content\":\"carol %d\"}", &n), ==, 1);
          g_assert_cmpint (n, ==, last_carol + 1);
          last_carol = n;
        }
    }
  left = query (&cluster, "SELECT count (*) FROM webhook_events");
  g_assert_cmpstr (left, ==, "0");

  cluster_free (&cluster);
  g_object_unref (receiver.soup);
  g_ptr_array_unref (receiver.uids);
  g_ptr_array_unref (receiver.contents);
}

/* [media] dir shared by the nodes: a file uploaded through node A is
 * served by node B (its row is in the store, its bytes in the dir). */
static void
test_shared_media (void)
{
  Cluster cluster = { 0 };
  g_autoptr(GError) error = NULL;
  g_autofree char *media_dir = g_dir_make_tmp ("natter-test-media-XXXXXX", &error);
  g_autofree char *config = NULL;
  g_autofree char *token = NULL;
  g_autofree char *url_on_b = NULL;
  g_autofree char *find = NULL;
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autoptr(GBytes) data = g_bytes_new_take (g_strnfill (50000, 'm'), 50000);
  g_autoptr(GFile) dir = NULL;
  g_autoptr(GFileEnumerator) apps = NULL;
  const char *url;
  guint files = 0;

  g_assert_no_error (error);
  cluster.pg = natter_test_pg_start ();
  cluster.conninfo = natter_test_pg_create_database (cluster.pg, "natter");
  config = g_strdup_printf ("[store]\nbackend=postgresql\npostgresql=%s\n[media]\ndir=%s\n",
                            cluster.conninfo, media_dir);
  cluster.a = natter_test_server_new_full (config, NULL);
  token = natter_test_server_get_token (cluster.a, "alice");
  cluster.b = natter_test_server_new_node (cluster.a, NULL);

  {
    g_autofree char *reply = NULL;
    g_autoptr(JsonParser) parser = json_parser_new ();

    g_assert_cmpuint (upload (cluster.a, token, data, &reply), ==, 200);
    json_parser_load_from_data (parser, reply, -1, &error);
    g_assert_no_error (error);
    url = json_object_get_string_member (json_node_get_object (json_parser_get_root (parser)), "url");
    g_assert_true (g_str_has_prefix (url, natter_test_server_get_url (cluster.a)));
    url_on_b = g_strconcat (natter_test_server_get_url (cluster.b), url + strlen (natter_test_server_get_url (cluster.a)), NULL);
  }
  {
    g_autoptr(SoupMessage) message = soup_message_new ("GET", url_on_b);
    g_autofree char *bearer = g_strconcat ("Bearer ", token, NULL);
    g_autoptr(GBytes) body = NULL;

    soup_message_headers_append (soup_message_get_request_headers (message), "Authorization", bearer);
    body = soup_session_send_and_read (session, message, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (soup_message_get_status (message), ==, 200);
    g_assert_true (g_bytes_equal (body, data));
  }

  /* The bytes are under [media] dir, not under either data dir. */
  dir = g_file_new_for_path (media_dir);
  apps = g_file_enumerate_children (dir, G_FILE_ATTRIBUTE_STANDARD_NAME, G_FILE_QUERY_INFO_NONE, NULL, &error);
  g_assert_no_error (error);
  {
    GFileInfo *info;

    while (g_file_enumerator_iterate (apps, &info, NULL, NULL, NULL) && info != NULL)
      if (!g_str_equal (g_file_info_get_name (info), "tmp"))
        files++;
  }
  g_assert_cmpuint (files, ==, 1);
  find = query (&cluster, "SELECT count (*) FROM media");
  g_assert_cmpstr (find, ==, "1");

  cluster_free (&cluster);
  {
    g_autofree char *command = g_strdup_printf ("rm -rf %s", media_dir);

    g_assert_true (g_spawn_command_line_sync (command, NULL, NULL, NULL, NULL));
  }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/cluster/pg/concurrent-seqs", test_concurrent_seqs);
  g_test_add_func ("/cluster/pg/prune-across-nodes", test_prune_across_nodes);
  g_test_add_func ("/cluster/pg/idempotent-across-nodes", test_idempotent_across_nodes);
  g_test_add_func ("/cluster/pg/nonce-across-nodes", test_nonce_across_nodes);
  g_test_add_func ("/cluster/pg/postgresql-restart", test_postgresql_restart);
  g_test_add_func ("/cluster/pg/webhooks-once", test_webhooks_once);
  g_test_add_func ("/cluster/pg/shared-media", test_shared_media);

  return g_test_run ();
}
