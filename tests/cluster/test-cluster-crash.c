/* test-cluster-crash.c — two nodes on one PostgreSQL and one nats-server:
 * SIGKILL each in turn under load, lose nothing, double nothing
 *
 * 8 senders each send N_MESSAGES to their own receiver, keeping a window
 * in flight; senders and receivers sit on both nodes, so every pair of
 * (sender's node, receiver's node) is there twice. Four times a node is
 * SIGKILLed (a, b, a, b): its clients move to the other node at once and
 * resend what was not acked there (same client_msg_id: idempotency across
 * nodes), receivers reconnect with the last seq they have; once the node
 * is back (same PostgreSQL), the clients whose home it is move back, again
 * resending what was in flight. At the end every acked message reached its
 * recipient exactly once, in the order it was sent, with the uid its ack
 * named.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "test-cluster-common.h"

#include "natter-test-crash.h"
#include "natter-test-pg.h"

#define N_PAIRS 8
#define N_MESSAGES 3000

typedef NatterTestCrashSender Sender;
typedef NatterTestCrashReceiver Receiver;

static Sender senders[N_PAIRS];
static Receiver receivers[N_PAIRS];
static NatterTestServer *nodes[2];

static NatterTestClient *
open_on (guint                node,
         const char          *token,
         const char          *device_id,
         guint64              last_seq,
         NatterTestFrameFunc  func,
         gpointer             data)
{
  g_autoptr(GError) error = NULL;
  NatterTestClient *client = natter_test_client_open (nodes[node], &error);

  g_assert_no_error (error);
  natter_test_client_set_frame_func (client, func, data);
  g_assert_cmpint (natter_test_client_connect (client, natter_test_server_get_app_key (nodes[node]), token,
                                               device_id, last_seq), ==, 0);
  return client;
}

static void
move_receiver (Receiver *receiver,
               guint     node)
{
  g_clear_pointer (&receiver->client, natter_test_client_free);
  receiver->at = node;
  receiver->client = open_on (node, receiver->token, receiver->user_id, receiver->last_seq,
                              natter_test_crash_on_receiver_frame, receiver);
}

static void
move_sender (Sender *sender,
             guint   node)
{
  g_clear_pointer (&sender->client, natter_test_client_free);
  sender->at = node;
  sender->client = open_on (node, sender->token, sender->user_id, 0, natter_test_crash_on_sender_frame, sender);
  natter_test_crash_resend (sender);
}

static guint
total_acked (void)
{
  guint total = 0;

  for (guint i = 0; i < N_PAIRS; i++)
    total += senders[i].acked;
  return total;
}

static gboolean
all_delivered (gpointer data)
{
  for (guint i = 0; i < N_PAIRS; i++)
    if (receivers[i].received->len < N_MESSAGES)
      return FALSE;
  return TRUE;
}

static void
test_crash_across_nodes (void)
{
  const char * const args[] = { "--app-setting", "send-rate=0", NULL };
  const guint total = N_PAIRS * N_MESSAGES;
  /* The last one near the end: what the senders homed on the node send
   * right after it is back must still reach receivers on the other. */
  const guint kills_at[] = { total / 5, total * 2 / 5, total * 3 / 5, total * 19 / 20 };
  g_autoptr(NatterTestPg) pg = natter_test_pg_start ();
  g_autofree char *conninfo = natter_test_pg_create_database (pg, "natter");
  g_autoptr(NatterTestNats) nats = natter_test_nats_start ();
  g_autofree char *config = cluster_pg_config (conninfo, nats);
  guint kills = 0;
  gint64 deadline;

  nodes[0] = natter_test_server_new_full (config, args);
  for (guint i = 0; i < N_PAIRS; i++)
    {
      senders[i].index = receivers[i].index = i;
      /* (a→a), (b→a), (a→b), (b→b), twice. */
      senders[i].home = i % 2;
      receivers[i].home = (i / 2) % 2;
      senders[i].user_id = g_strdup_printf ("s%u", i);
      receivers[i].user_id = g_strdup_printf ("r%u", i);
      senders[i].token = natter_test_server_get_token (nodes[0], senders[i].user_id);
      receivers[i].token = natter_test_server_get_token (nodes[0], receivers[i].user_id);
      senders[i].total = N_MESSAGES;
      senders[i].uids = g_new0 (char *, N_MESSAGES);
      g_queue_init (&senders[i].in_flight);
      receivers[i].received = g_array_new (FALSE, FALSE, sizeof (guint));
      receivers[i].uids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    }
  /* b loads the users from the store. */
  nodes[1] = natter_test_server_new_node (nodes[0], "[cluster]\nnode-name=b\n");
  cluster_wait_navi (nodes[0], "a,b", NATTER_TEST_TIMEOUT_MS);
  cluster_wait_navi (nodes[1], "b,a", NATTER_TEST_TIMEOUT_MS);

  for (guint i = 0; i < N_PAIRS; i++)
    move_receiver (&receivers[i], receivers[i].home);
  for (guint i = 0; i < N_PAIRS; i++)
    move_sender (&senders[i], senders[i].home);

  deadline = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;
  while (total_acked () < total)
    {
      g_main_context_iteration (NULL, TRUE);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      if (kills < G_N_ELEMENTS (kills_at) && total_acked () >= kills_at[kills])
        {
          guint dead = kills % 2, other = 1 - dead;

          g_test_message ("SIGKILL %s at %u acked", dead == 0 ? "a" : "b", total_acked ());
          natter_test_server_kill (nodes[dead]);
          kills++;
          /* Fail over at once... */
          for (guint i = 0; i < N_PAIRS; i++)
            {
              if (receivers[i].at == dead)
                move_receiver (&receivers[i], other);
              if (senders[i].at == dead)
                move_sender (&senders[i], other);
            }
          /* ...and come home once the node is back. */
          natter_test_server_restart (nodes[dead]);
          for (guint i = 0; i < N_PAIRS; i++)
            {
              if (receivers[i].home == dead)
                move_receiver (&receivers[i], dead);
              if (senders[i].home == dead)
                move_sender (&senders[i], dead);
            }
        }
    }
  g_assert_cmpuint (kills, ==, G_N_ELEMENTS (kills_at));

  if (!natter_test_wait (all_delivered, NULL, 30000))
    for (guint i = 0; i < N_PAIRS; i++)
      g_test_message ("receiver %u on %u: %u received, last seq %" G_GUINT64_FORMAT, i, receivers[i].at,
                      receivers[i].received->len, receivers[i].last_seq);
  g_assert_true (all_delivered (NULL));
  for (guint i = 0; i < N_PAIRS; i++)
    natter_test_crash_assert_delivered (&senders[i], &receivers[i]);
  /* Nothing more comes: no late duplicate. */
  for (guint i = 0; i < N_PAIRS; i++)
    natter_test_client_set_frame_func (receivers[i].client, NULL, NULL);
  for (guint i = 0; i < N_PAIRS; i++)
    natter_test_client_expect_none (receivers[i].client, NATTER__FRAME__BODY_DELIVER, i == 0 ? 500 : 0);

  for (guint i = 0; i < N_PAIRS; i++)
    {
      natter_test_crash_sender_clear (&senders[i]);
      natter_test_crash_receiver_clear (&receivers[i]);
    }
  g_clear_pointer (&nodes[1], natter_test_server_free);
  g_clear_pointer (&nodes[0], natter_test_server_free);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/cluster/crash/sigkill-each-node", test_crash_across_nodes);

  return g_test_run ();
}
