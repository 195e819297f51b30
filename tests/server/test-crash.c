/* test-crash.c — natterd: SIGKILL three times under load, lose nothing
 *
 * 10 senders each send 10,000 messages to their own receiver, keeping a
 * window in flight. natterd is SIGKILLed at a quarter, half and three
 * quarters of the acks and restarted on the same data dir. Senders resend
 * what was not acked (same client_msg_id), receivers reconnect with the last
 * seq they stored. At the end every acked message was delivered exactly
 * once to its recipient, in the order it was sent.
 *
 * The same with a group (natter.v2 timelines): three senders to one group
 * of five, killed three times; members' devices take what comes live and,
 * at the end, the whole timeline: every acked message is on it exactly
 * once (resends after a kill add nothing), numbered 1, 2, 3, ... without
 * a gap, each sender's in sending order, and what came live is what the
 * timeline says at that seq.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-test-client.h"

#include <stdio.h>
#include <string.h>

#define N_PAIRS 10
#define N_MESSAGES 10000
#define G_MESSAGES 3000
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
  gboolean          group;           /* to the group "crew", G_MESSAGES of them */
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

  if (sender->group)
    natter_test_client_publish_full (sender->client, id, 3, "crew", "RC:TxtMsg", content, 0);
  else
    natter_test_client_publish_full (sender->client, id, 1, target, "RC:TxtMsg", content, 0);
}

static void
fill_window (Sender *sender)
{
  while (g_queue_get_length (&sender->in_flight) < WINDOW &&
         sender->next < (sender->group ? G_MESSAGES : N_MESSAGES))
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

  /* A group's senders get the others' messages live too: not counted. */
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

/* ----------------------------------------------------------------- groups */

#define G_SENDERS 3
#define G_RECEIVERS 2

static Sender gsenders[G_SENDERS];
static Receiver greceivers[G_RECEIVERS];

/* Live: seq 0, timeline_seq set; one seq is one message, whichever
 * connection brought it (uids: "seq" → uid). */
static void
on_group_receiver_frame (NatterTestClient  *client,
                         const NatterFrame *frame,
                         gpointer           user_data)
{
  Receiver *receiver = user_data;
  const Natter__Message *m;
  g_autofree char *key = NULL;
  const char *seen;

  if (frame->body_case != NATTER__FRAME__BODY_DELIVER)
    return;
  m = frame->deliver->message;
  g_assert_cmpuint (frame->deliver->seq, ==, 0);
  g_assert_cmpuint (m->timeline_seq, >, 0);
  key = g_strdup_printf ("%" G_GUINT64_FORMAT, m->timeline_seq);
  seen = g_hash_table_lookup (receiver->uids, key);
  g_assert_true (seen == NULL || g_str_equal (seen, m->message_uid));
  g_hash_table_insert (receiver->uids, g_steal_pointer (&key), g_strdup (m->message_uid));
}

static void
connect_group (void)
{
  const char *key = natter_test_server_get_app_key (server);

  for (guint i = 0; i < G_RECEIVERS; i++)
    {
      g_autoptr(GError) error = NULL;
      Receiver *receiver = &greceivers[i];

      g_clear_pointer (&receiver->client, natter_test_client_free);
      receiver->client = natter_test_client_open (server, &error);
      g_assert_no_error (error);
      natter_test_client_set_frame_func (receiver->client, on_group_receiver_frame, receiver);
      g_assert_cmpint (natter_test_client_connect (receiver->client, key, receiver->token,
                                                   receiver->user_id, 0), ==, 0);
    }
  for (guint i = 0; i < G_SENDERS; i++)
    {
      g_autoptr(GError) error = NULL;
      Sender *sender = &gsenders[i];

      g_clear_pointer (&sender->client, natter_test_client_free);
      sender->client = natter_test_client_open (server, &error);
      g_assert_no_error (error);
      natter_test_client_set_frame_func (sender->client, on_sender_frame, sender);
      g_assert_cmpint (natter_test_client_connect (sender->client, key, sender->token,
                                                   sender->user_id, 0), ==, 0);
      for (GList *l = sender->in_flight.head; l != NULL; l = l->next)
        send_message (sender, GPOINTER_TO_UINT (l->data));
      fill_window (sender);
    }
}

static guint
group_acked (void)
{
  guint total = 0;

  for (guint i = 0; i < G_SENDERS; i++)
    total += gsenders[i].acked;
  return total;
}

static void
test_crash_group (void)
{
  const char * const args[] = { "--app-setting", "send-rate=0", NULL };
  const guint total = G_SENDERS * G_MESSAGES;
  const guint kills_at[] = { total / 4, total / 2, total * 3 / 4 };
  guint kills = 0;
  gint64 deadline;

  server = natter_test_server_new_full (NULL, args);
  for (guint i = 0; i < G_SENDERS; i++)
    {
      gsenders[i].index = i;
      gsenders[i].user_id = g_strdup_printf ("gs%u", i);
      gsenders[i].token = natter_test_server_get_token (server, gsenders[i].user_id);
      gsenders[i].uids = g_new0 (char *, G_MESSAGES);
      gsenders[i].group = TRUE;
      g_queue_init (&gsenders[i].in_flight);
    }
  for (guint i = 0; i < G_RECEIVERS; i++)
    {
      greceivers[i].index = i;
      greceivers[i].user_id = g_strdup_printf ("gr%u", i);
      greceivers[i].token = natter_test_server_get_token (server, greceivers[i].user_id);
      greceivers[i].uids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
    }
  {
    g_autoptr(JsonObject) reply = natter_test_server_api (server, NULL, "group/create", "groupId", "crew",
                                                          "userId", "gs0", "userId", "gs1", "userId", "gs2",
                                                          "userId", "gr0", "userId", "gr1", NULL);

    g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  }

  connect_group ();
  deadline = g_get_monotonic_time () + 200 * G_USEC_PER_SEC;
  while (group_acked () < total)
    {
      g_main_context_iteration (NULL, TRUE);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      if (kills < G_N_ELEMENTS (kills_at) && group_acked () >= kills_at[kills])
        {
          g_test_message ("SIGKILL %u at %u acked", kills + 1, group_acked ());
          natter_test_server_kill (server);
          natter_test_server_restart (server);
          kills++;
          connect_group ();
        }
    }
  g_assert_cmpuint (kills, ==, 3);

  /* The whole timeline, as each receiver's device fetches it. */
  for (guint r = 0; r < G_RECEIVERS; r++)
    {
      Receiver *receiver = &greceivers[r];
      g_autoptr(GHashTable) by_uid = g_hash_table_new (g_str_hash, g_str_equal);
      guint last_n[G_SENDERS];
      guint64 after = 0;
      guint count = 0;

      for (guint i = 0; i < G_SENDERS; i++)
        last_n[i] = G_MAXUINT;
      natter_test_client_set_frame_func (receiver->client, NULL, NULL);
      for (;;)
        {
          g_autoptr(NatterFrame) page = natter_test_client_timeline (receiver->client, 3, "crew", after, 200);
          Natter__TimelineResult *result;

          g_assert_cmpint (page->result->code, ==, 0);
          result = page->result->timeline;
          for (gsize i = 0; i < result->n_messages; i++)
            {
              const Natter__Message *m = result->messages[i];
              g_autofree char *key = g_strdup_printf ("%" G_GUINT64_FORMAT, m->timeline_seq);
              const char *live = g_hash_table_lookup (receiver->uids, key);
              guint sender_index, n;

              /* 1, 2, 3, ...: no gap, no repeat. */
              g_assert_cmpuint (m->timeline_seq, ==, after + 1);
              after = m->timeline_seq;
              count++;
              g_assert_true (live == NULL || g_str_equal (live, m->message_uid));
              g_assert_cmpint (sscanf (m->content, "{\"content\":\"%u:%u\"}", &sender_index, &n), ==, 2);
              g_assert_cmpuint (sender_index, <, G_SENDERS);
              /* Each sender's in the order sent, each message once. */
              g_assert_true (last_n[sender_index] == G_MAXUINT || n > last_n[sender_index]);
              last_n[sender_index] = n;
              g_assert_cmpstr (gsenders[sender_index].uids[n], ==, m->message_uid);
              g_assert_false (g_hash_table_contains (by_uid, m->message_uid));
              g_hash_table_add (by_uid, (gpointer) gsenders[sender_index].uids[n]);
            }
          if (!result->has_more)
            break;
        }
      g_test_message ("receiver %u: %u on the timeline, %u came live", r, count,
                      g_hash_table_size (receiver->uids));
      g_assert_cmpuint (count, ==, total);
      g_assert_cmpuint (g_hash_table_size (receiver->uids), >, 0);
    }

  for (guint i = 0; i < G_SENDERS; i++)
    {
      g_clear_pointer (&gsenders[i].client, natter_test_client_free);
      for (guint n = 0; n < G_MESSAGES; n++)
        g_free (gsenders[i].uids[n]);
      g_free (gsenders[i].uids);
      g_queue_clear (&gsenders[i].in_flight);
      g_free (gsenders[i].user_id);
      g_free (gsenders[i].token);
    }
  for (guint i = 0; i < G_RECEIVERS; i++)
    {
      g_clear_pointer (&greceivers[i].client, natter_test_client_free);
      g_free (greceivers[i].user_id);
      g_free (greceivers[i].token);
      g_hash_table_unref (greceivers[i].uids);
    }
  natter_test_server_free (server);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/server/crash/sigkill-under-load", test_crash);
  g_test_add_func ("/server/crash/sigkill-under-group-load", test_crash_group);

  return g_test_run ();
}
