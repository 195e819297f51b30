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

#include "natter-test-crash.h"

#include <string.h>

#define N_PAIRS 10
#define N_MESSAGES 10000
#define G_MESSAGES 3000

typedef NatterTestCrashSender Sender;
typedef NatterTestCrashReceiver Receiver;

static Sender senders[N_PAIRS];
static Receiver receivers[N_PAIRS];
static NatterTestServer *server;

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
      natter_test_client_set_frame_func (receiver->client, natter_test_crash_on_receiver_frame, receiver);
      g_assert_cmpint (natter_test_client_connect (receiver->client, key, receiver->token,
                                                   receiver->user_id, receiver->last_seq), ==, 0);

      g_clear_pointer (&sender->client, natter_test_client_free);
      sender->client = natter_test_client_open (server, &error);
      g_assert_no_error (error);
      natter_test_client_set_frame_func (sender->client, natter_test_crash_on_sender_frame, sender);
      g_assert_cmpint (natter_test_client_connect (sender->client, key, sender->token,
                                                   sender->user_id, 0), ==, 0);

      natter_test_crash_resend (sender);
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
      senders[i].total = N_MESSAGES;
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
    natter_test_crash_assert_delivered (&senders[i], &receivers[i]);

  for (guint i = 0; i < N_PAIRS; i++)
    {
      natter_test_crash_sender_clear (&senders[i]);
      natter_test_crash_receiver_clear (&receivers[i]);
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
      natter_test_client_set_frame_func (sender->client, natter_test_crash_on_sender_frame, sender);
      g_assert_cmpint (natter_test_client_connect (sender->client, key, sender->token,
                                                   sender->user_id, 0), ==, 0);
      natter_test_crash_resend (sender);
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
      gsenders[i].total = G_MESSAGES;
      gsenders[i].uids = g_new0 (char *, G_MESSAGES);
      gsenders[i].group = "crew";
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
    natter_test_crash_sender_clear (&gsenders[i]);
  for (guint i = 0; i < G_RECEIVERS; i++)
    natter_test_crash_receiver_clear (&greceivers[i]);
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
