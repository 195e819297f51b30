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

#include "natter-test-pg.h"

#include <stdio.h>

#define N_PAIRS 8
#define N_MESSAGES 3000
#define WINDOW 32

typedef struct
{
  guint             index;
  guint             home;            /* node index */
  guint             at;              /* the node it is connected to */
  char             *user_id;
  char             *token;
  NatterTestClient *client;
  guint             next;
  GQueue            in_flight;       /* GUINT_TO_POINTER (n), oldest first */
  guint             acked;
  char            **uids;            /* per message, once acked */
} Sender;

typedef struct
{
  guint             index;
  guint             home;
  guint             at;
  char             *user_id;
  char             *token;
  NatterTestClient *client;
  guint64           last_seq;
  GArray           *received;        /* guint n, in arrival order */
  GHashTable       *uids;            /* uid → n */
} Receiver;

static Sender senders[N_PAIRS];
static Receiver receivers[N_PAIRS];
static NatterTestServer *nodes[2];

static void
send_message (Sender *sender,
              guint   n)
{
  g_autofree char *id = g_strdup_printf ("s%u-%u", sender->index, n);
  g_autofree char *content = g_strdup_printf ("{\"content\":\"%u:%u\"}", sender->index, n);
  g_autofree char *target = g_strdup_printf ("r%u", sender->index);

  natter_test_client_publish_full (sender->client, id, 1, target, "RC:TxtMsg", content, 0);
}

static void
fill_window (Sender *sender)
{
  while (g_queue_get_length (&sender->in_flight) < WINDOW && sender->next < N_MESSAGES)
    {
      g_queue_push_tail (&sender->in_flight, GUINT_TO_POINTER (sender->next));
      send_message (sender, sender->next);
      sender->next++;
    }
}

static void
on_sender_frame (NatterTestClient  *client,
                 const NatterFrame *frame,
                 gpointer           user_data)
{
  Sender *sender = user_data;
  const Natter__PublishAck *ack;
  guint sender_index, n;

  if (frame->body_case != NATTER__FRAME__BODY_PUBLISH_ACK)
    return;
  ack = frame->publish_ack;
  g_assert_cmpint (ack->code, ==, 0);
  g_assert_cmpint (sscanf (ack->client_msg_id, "s%u-%u", &sender_index, &n), ==, 2);
  g_assert_cmpuint (sender_index, ==, sender->index);
  /* Acks come in the order of sending, on each connection. */
  g_assert_cmpuint (GPOINTER_TO_UINT (g_queue_peek_head (&sender->in_flight)), ==, n);
  g_queue_pop_head (&sender->in_flight);
  if (sender->uids[n] == NULL)
    {
      sender->uids[n] = g_strdup (ack->message_uid);
      sender->acked++;
    }
  else
    {
      /* Sent again, whichever node took it: the same message. */
      g_assert_cmpstr (sender->uids[n], ==, ack->message_uid);
    }
  fill_window (sender);
}

static void
on_receiver_frame (NatterTestClient  *client,
                   const NatterFrame *frame,
                   gpointer           user_data)
{
  Receiver *receiver = user_data;
  const Natter__Message *m;
  guint sender_index, n;

  if (frame->body_case != NATTER__FRAME__BODY_DELIVER)
    return;
  m = frame->deliver->message;
  g_assert_cmpuint (frame->deliver->seq, >, receiver->last_seq);
  receiver->last_seq = frame->deliver->seq;
  g_assert_cmpint (sscanf (m->content, "{\"content\":\"%u:%u\"}", &sender_index, &n), ==, 2);
  g_assert_cmpuint (sender_index, ==, receiver->index);
  /* Exactly once, in order. */
  g_assert_false (g_hash_table_contains (receiver->uids, m->message_uid));
  g_hash_table_insert (receiver->uids, g_strdup (m->message_uid), GUINT_TO_POINTER (n));
  if (receiver->received->len > 0)
    g_assert_cmpuint (n, >, g_array_index (receiver->received, guint, receiver->received->len - 1));
  g_array_append_val (receiver->received, n);
}

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
                              on_receiver_frame, receiver);
}

static void
move_sender (Sender *sender,
             guint   node)
{
  g_clear_pointer (&sender->client, natter_test_client_free);
  sender->at = node;
  sender->client = open_on (node, sender->token, sender->user_id, 0, on_sender_frame, sender);
  /* What was not acked goes again, in order, with its id. */
  for (GList *l = sender->in_flight.head; l != NULL; l = l->next)
    send_message (sender, GPOINTER_TO_UINT (l->data));
  fill_window (sender);
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
  g_autofree char *config = g_strdup_printf ("[server]\nping-interval=%u\n"
                                             "[store]\nbackend=postgresql\npostgresql=%s\n"
                                             "[cluster]\nnats=%s\nnode-name=a\n",
                                             PING_INTERVAL_S, conninfo, natter_test_nats_get_url (nats));
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
    {
      g_assert_cmpuint (receivers[i].received->len, ==, N_MESSAGES);
      for (guint n = 0; n < N_MESSAGES; n++)
        {
          g_assert_cmpuint (g_array_index (receivers[i].received, guint, n), ==, n);
          g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (receivers[i].uids, senders[i].uids[n])), ==, n);
        }
    }
  /* Nothing more comes: no late duplicate. */
  for (guint i = 0; i < N_PAIRS; i++)
    natter_test_client_set_frame_func (receivers[i].client, NULL, NULL);
  for (guint i = 0; i < N_PAIRS; i++)
    natter_test_client_expect_none (receivers[i].client, NATTER__FRAME__BODY_DELIVER, i == 0 ? 500 : 0);

  for (guint i = 0; i < N_PAIRS; i++)
    {
      g_clear_pointer (&senders[i].client, natter_test_client_free);
      g_clear_pointer (&receivers[i].client, natter_test_client_free);
      for (guint n = 0; n < N_MESSAGES; n++)
        g_free (senders[i].uids[n]);
      g_free (senders[i].uids);
      g_queue_clear (&senders[i].in_flight);
      g_free (senders[i].user_id);
      g_free (senders[i].token);
      g_free (receivers[i].user_id);
      g_free (receivers[i].token);
      g_array_unref (receivers[i].received);
      g_hash_table_unref (receivers[i].uids);
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
