/* test-crash.c — natterd: SIGKILL three times under load, lose nothing
 *
 * 10 senders each send 10,000 messages to their own receiver, keeping a
 * window in flight. natterd is SIGKILLed at a quarter, half and three
 * quarters of the acks and restarted on the same data dir. Senders resend
 * what was not acked (same client_msg_id), receivers reconnect with the last
 * seq they stored. At the end every acked message was delivered exactly
 * once to its recipient, in the order it was sent.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-test-client.h"

#include <stdio.h>
#include <string.h>

#define N_PAIRS 10
#define N_MESSAGES 10000
#define WINDOW 32

typedef struct
{
  guint             index;
  char             *user_id;
  char             *token;
  NatterTestClient *client;
  guint             next;            /* next message number to send */
  GQueue            in_flight;       /* GUINT_TO_POINTER (n), oldest first */
  guint             acked;
  char            **uids;            /* per message, once acked */
} Sender;

typedef struct
{
  guint             index;
  char             *user_id;
  char             *token;
  NatterTestClient *client;
  guint64           last_seq;
  GArray           *received;        /* guint n, in arrival order */
  GHashTable       *uids;            /* uid → n */
} Receiver;

static Sender senders[N_PAIRS];
static Receiver receivers[N_PAIRS];
static NatterTestServer *server;

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

  /* Acks come in the order of sending. */
  g_assert_cmpuint (GPOINTER_TO_UINT (g_queue_peek_head (&sender->in_flight)), ==, n);
  g_queue_pop_head (&sender->in_flight);

  if (sender->uids[n] == NULL)
    {
      sender->uids[n] = g_strdup (ack->message_uid);
      sender->acked++;
    }
  else
    {
      /* A resend of something acked before the kill: the same message. */
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

static void
connect_all (void)
{
  const char *key = natter_test_server_get_app_key (server);

  for (guint i = 0; i < N_PAIRS; i++)
    {
      g_autoptr(GError) error = NULL;
      Receiver *receiver = &receivers[i];
      Sender *sender = &senders[i];

      g_clear_pointer (&receiver->client, natter_test_client_free);
      receiver->client = natter_test_client_open (server, &error);
      g_assert_no_error (error);
      natter_test_client_set_frame_func (receiver->client, on_receiver_frame, receiver);
      g_assert_cmpint (natter_test_client_connect (receiver->client, key, receiver->token,
                                                   receiver->user_id, receiver->last_seq), ==, 0);

      g_clear_pointer (&sender->client, natter_test_client_free);
      sender->client = natter_test_client_open (server, &error);
      g_assert_no_error (error);
      natter_test_client_set_frame_func (sender->client, on_sender_frame, sender);
      g_assert_cmpint (natter_test_client_connect (sender->client, key, sender->token,
                                                   sender->user_id, 0), ==, 0);

      /* Whatever was not acked is sent again, in order, with its id. */
      for (GList *l = sender->in_flight.head; l != NULL; l = l->next)
        send_message (sender, GPOINTER_TO_UINT (l->data));
      fill_window (sender);
    }
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
test_crash (void)
{
  const char * const args[] = { "--app-setting", "send-rate=0", NULL };
  const guint kills_at[] = { N_PAIRS * N_MESSAGES / 4, N_PAIRS * N_MESSAGES / 2, N_PAIRS * N_MESSAGES * 3 / 4 };
  guint kills = 0;
  gint64 deadline;

  server = natter_test_server_new_full (NULL, args);

  for (guint i = 0; i < N_PAIRS; i++)
    {
      senders[i].index = receivers[i].index = i;
      senders[i].user_id = g_strdup_printf ("s%u", i);
      receivers[i].user_id = g_strdup_printf ("r%u", i);
      senders[i].token = natter_test_server_get_token (server, senders[i].user_id);
      receivers[i].token = natter_test_server_get_token (server, receivers[i].user_id);
      senders[i].uids = g_new0 (char *, N_MESSAGES);
      g_queue_init (&senders[i].in_flight);
      receivers[i].received = g_array_new (FALSE, FALSE, sizeof (guint));
      receivers[i].uids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    }

  connect_all ();

  deadline = g_get_monotonic_time () + 200 * G_USEC_PER_SEC;
  while (total_acked () < N_PAIRS * N_MESSAGES)
    {
      g_main_context_iteration (NULL, TRUE);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);

      if (kills < G_N_ELEMENTS (kills_at) && total_acked () >= kills_at[kills])
        {
          g_test_message ("SIGKILL %u at %u acked", kills + 1, total_acked ());
          natter_test_server_kill (server);
          natter_test_server_restart (server);
          kills++;
          connect_all ();
        }
    }
  g_assert_cmpuint (kills, ==, 3);

  /* Every acked message reaches its recipient. */
  if (!natter_test_wait (all_delivered, NULL, 60000))
    for (guint i = 0; i < N_PAIRS; i++)
      g_test_message ("receiver %u: %u received, last seq %" G_GUINT64_FORMAT ", open %d", i,
                      receivers[i].received->len, receivers[i].last_seq,
                      natter_test_client_is_open (receivers[i].client));
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
  natter_test_server_free (server);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/server/crash/sigkill-under-load", test_crash);

  return g_test_run ();
}
