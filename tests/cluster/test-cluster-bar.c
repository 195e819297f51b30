/* test-cluster-bar.c — issue #13's bar, end to end: a private PostgreSQL
 * and nats-server, two natterd nodes configured with exactly the issue's
 * keys, the app made with --config … --create-app; alice (made on b)
 * listens on b and gets what bob (made on a) sends with natter-cli through
 * a; /navi.json on a lists both; a is SIGKILLed; `natter-cli --server A,B`
 * sends as bob and alice gets it; nothing arrives twice.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "test-cluster-common.h"

#include "natter-test-pg.h"

/* natter-cli as bob; returns its stdout, asserts exit 0. */
static char *
cli_send (const char *servers,
          const char *app_key,
          const char *token,
          const char *profile,
          const char *text)
{
  const char *argv[] = {
    natter_test_program ("NATTER_CLI"), "--server", servers, "--app-key", app_key, "--token", token,
    "--profile", profile, "send", "alice", text, NULL,
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) process = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                                      &error);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  if (g_subprocess_get_exit_status (process) != 0)
    g_printerr ("natter-cli: %s%s", out, err);
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 0);
  return g_steal_pointer (&out);
}

/* The messageUId of natter-cli send's one JSON line. */
static char *
sent_uid (const char *out)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  json_parser_load_from_data (parser, out, -1, &error);
  g_assert_no_error (error);
  return g_strdup (json_object_get_string_member (json_node_get_object (json_parser_get_root (parser)), "messageUId"));
}

static void
expect_text (NatterTestClient *alice,
             const char       *text,
             const char       *uid,
             guint64           seq)
{
  g_autoptr(NatterFrame) got = natter_test_client_expect (alice, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
  g_autofree char *content = g_strdup_printf ("{\"content\":\"%s\"}", text);

  g_assert_nonnull (got);
  g_assert_nonnull (strstr (got->deliver->message->content, text));
  g_assert_cmpstr (got->deliver->message->sender_user_id, ==, "bob");
  g_assert_cmpstr (got->deliver->message->message_uid, ==, uid);
  g_assert_cmpuint (got->deliver->seq, ==, seq);
}

static void
test_bar (void)
{
  g_autoptr(NatterTestPg) pg = natter_test_pg_start ();
  g_autofree char *conninfo = natter_test_pg_create_database (pg, "natter");
  g_autoptr(NatterTestNats) nats = natter_test_nats_start ();
  g_autofree char *media = g_dir_make_tmp ("natter-bar-media-XXXXXX", NULL);
  g_autofree char *profiles = g_dir_make_tmp ("natter-bar-cli-XXXXXX", NULL);
  g_autofree char *profile = g_build_filename (profiles, "bob", NULL);
  /* Exactly the keys (ping-interval only so a dead node shows soon). */
  g_autofree char *config = g_strdup_printf ("[server]\nping-interval=%u\n"
                                             "[store]\nbackend=postgresql\npostgresql=%s\n"
                                             "[media]\ndir=%s\n"
                                             "[cluster]\nnats=%s\nnode-name=a\n",
                                             PING_INTERVAL_S, conninfo, media, natter_test_nats_get_url (nats));
  g_autoptr(NatterTestServer) a = natter_test_server_new_full (config, NULL);
  g_autoptr(NatterTestServer) b = natter_test_server_new_node (a, "[cluster]\nnode-name=b\n");
  /* Each made on its own node: their ids come from the nodes' own shares. */
  g_autofree char *alice_token = natter_test_server_get_token (b, "alice");
  g_autofree char *bob_token = natter_test_server_get_token (a, "bob");
  g_autofree char *both = g_strdup_printf ("%s,%s", natter_test_server_get_url (a), natter_test_server_get_url (b));
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterTestClient) alice = natter_test_client_open (b, &error);
  g_autofree char *first = NULL;
  g_autofree char *first_uid = NULL;
  g_autofree char *second = NULL;
  g_autofree char *second_uid = NULL;

  g_assert_no_error (error);
  cluster_wait_navi (a, "a,b", NATTER_TEST_TIMEOUT_MS);
  cluster_wait_navi (b, "b,a", NATTER_TEST_TIMEOUT_MS);

  g_assert_cmpint (natter_test_client_connect (alice, natter_test_server_get_app_key (b), alice_token, "d1", 0), ==, 0);
  cluster_wait_online (a, "alice", TRUE, NATTER_TEST_TIMEOUT_MS);

  first = cli_send (natter_test_server_get_url (a), natter_test_server_get_app_key (a), bob_token, profile, "through a");
  first_uid = sent_uid (first);
  expect_text (alice, "through a", first_uid, 1);

  natter_test_server_kill (a);
  second = cli_send (both, natter_test_server_get_app_key (a), bob_token, profile, "a is gone");
  second_uid = sent_uid (second);
  g_assert_cmpstr (second_uid, !=, first_uid);
  expect_text (alice, "a is gone", second_uid, 2);

  /* Nothing twice, also after alice connects again and replays. */
  natter_test_client_expect_none (alice, NATTER__FRAME__BODY_DELIVER, 1000);
  g_clear_pointer (&alice, natter_test_client_free);
  alice = natter_test_client_open (b, &error);
  g_assert_no_error (error);
  g_assert_cmpint (natter_test_client_connect (alice, natter_test_server_get_app_key (b), alice_token, "d1", 2), ==, 0);
  natter_test_client_expect_none (alice, NATTER__FRAME__BODY_DELIVER, 1000);
  cluster_wait_navi (b, "b", 3 * PING_INTERVAL_S * 1000 + 1000);

  natter_test_remove_tree (media);
  natter_test_remove_tree (profiles);
}

static void
send_to_z (NatterTestClient *from,
           const char       *text)
{
  g_autoptr(NatterFrame) ack = natter_test_client_send_message (from, 1, "z", "RC:TxtMsg", text);

  g_assert_cmpint (ack->publish_ack->code, ==, 0);
}

/* Users made on two nodes that cannot hear each other (NATS down) still
 * get distinct ids: each node hands out its own share (node_slots). Both
 * rows are stored, and both users can write to z, known to both nodes. */
static void
test_ids_while_apart (void)
{
  g_autoptr(ClusterPair) pair = cluster_pair_new (NULL, NULL);
  NatterTestServer *a = pair->a;
  NatterTestServer *b = pair->b;
  NatterTestNats *nats = pair->nats;
  g_autofree char *z_token = NULL;
  g_autofree char *x_token = NULL;
  g_autofree char *y_token = NULL;
  g_autoptr(NatterTestClient) z = NULL;
  g_autoptr(NatterTestClient) x = NULL;
  g_autoptr(NatterTestClient) y = NULL;
  g_autoptr(NatterFrame) first = NULL;
  g_autoptr(NatterFrame) second = NULL;

  z_token = natter_test_server_get_token (a, "z");
  cluster_wait_online (b, "z", FALSE, NATTER_TEST_TIMEOUT_MS);
  z = cluster_connect (a, z_token);
  cluster_wait_online (b, "z", TRUE, NATTER_TEST_TIMEOUT_MS);

  natter_test_nats_stop (nats);
  x_token = natter_test_server_get_token (a, "x");
  y_token = natter_test_server_get_token (b, "y");
  x = cluster_connect (a, x_token);
  y = cluster_connect (b, y_token);
  send_to_z (x, "{\"content\":\"from x\"}");
  send_to_z (y, "{\"content\":\"from y\"}");
  natter_test_nats_restart (nats);

  first = natter_test_client_expect (z, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
  g_assert_nonnull (first);
  g_assert_cmpstr (first->deliver->message->sender_user_id, ==, "x");
  /* y's, stored by b while apart, arrives once a hears of it again (the
   * gap is read back from the store). */
  send_to_z (x, "{\"content\":\"again from x\"}");
  second = natter_test_client_expect (z, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
  g_assert_nonnull (second);
  g_assert_cmpstr (second->deliver->message->sender_user_id, ==, "y");
  g_assert_cmpuint (second->deliver->seq, ==, first->deliver->seq + 1);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/cluster/bar", test_bar);
  g_test_add_func ("/cluster/ids-while-apart", test_ids_while_apart);

  return g_test_run ();
}
