/* natter-test-crash.h — senders and receivers that survive a SIGKILL:
 * what tests/server/test-crash.c and tests/cluster/test-cluster-crash.c share
 *
 * A sender keeps a window of messages in flight, each with its
 * client_msg_id ("s<index>-<n>"); after a reconnect (natter_test_crash_resend())
 * it sends again what was not acked, in order, with the same ids: an ack for
 * a message acked before names the same uid. A receiver asserts that what
 * comes is its sender's, exactly once, in the order sent, and remembers its
 * last seq to reconnect with.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "natter-test-client.h"

#include <stdio.h>

#define NATTER_TEST_CRASH_WINDOW 32

typedef struct
{
  guint             index;
  char             *user_id;
  char             *token;
  NatterTestClient *client;
  const char       *group;           /* to this group, else to "r<index>" */
  guint             total;           /* messages to send */
  guint             next;            /* next message number to send */
  GQueue            in_flight;       /* GUINT_TO_POINTER (n), oldest first */
  guint             acked;
  char            **uids;            /* per message, once acked */
  guint             home;            /* with several nodes: its node, and where it is now */
  guint             at;
} NatterTestCrashSender;

typedef struct
{
  guint             index;
  char             *user_id;
  char             *token;
  NatterTestClient *client;
  guint64           last_seq;
  GArray           *received;        /* guint n, in arrival order */
  GHashTable       *uids;            /* uid → n */
  guint             home;
  guint             at;
} NatterTestCrashReceiver;

static inline void
natter_test_crash_send (NatterTestCrashSender *sender,
                        guint                  n)
{
  g_autofree char *id = g_strdup_printf ("s%u-%u", sender->index, n);
  g_autofree char *content = g_strdup_printf ("{\"content\":\"%u:%u\"}", sender->index, n);
  g_autofree char *target = g_strdup_printf ("r%u", sender->index);

  if (sender->group != NULL)
    natter_test_client_publish_full (sender->client, id, 3, sender->group, "RC:TxtMsg", content, 0);
  else
    natter_test_client_publish_full (sender->client, id, 1, target, "RC:TxtMsg", content, 0);
}

static inline void
natter_test_crash_fill_window (NatterTestCrashSender *sender)
{
  while (g_queue_get_length (&sender->in_flight) < NATTER_TEST_CRASH_WINDOW && sender->next < sender->total)
    {
      g_queue_push_tail (&sender->in_flight, GUINT_TO_POINTER (sender->next));
      natter_test_crash_send (sender, sender->next);
      sender->next++;
    }
}

/* On a new connection: what was not acked goes again, in order, with its id. */
static inline void
natter_test_crash_resend (NatterTestCrashSender *sender)
{
  for (GList *l = sender->in_flight.head; l != NULL; l = l->next)
    natter_test_crash_send (sender, GPOINTER_TO_UINT (l->data));
  natter_test_crash_fill_window (sender);
}

/* A NatterTestFrameFunc; @user_data is the sender. */
static inline void
natter_test_crash_on_sender_frame (NatterTestClient  *client,
                                   const NatterFrame *frame,
                                   gpointer           user_data)
{
  NatterTestCrashSender *sender = user_data;
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
  natter_test_crash_fill_window (sender);
}

/* A NatterTestFrameFunc; @user_data is the receiver. */
static inline void
natter_test_crash_on_receiver_frame (NatterTestClient  *client,
                                     const NatterFrame *frame,
                                     gpointer           user_data)
{
  NatterTestCrashReceiver *receiver = user_data;
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

/* Every one of @sender's acked messages reached @receiver once, in order. */
static inline void
natter_test_crash_assert_delivered (NatterTestCrashSender   *sender,
                                    NatterTestCrashReceiver *receiver)
{
  g_assert_cmpuint (receiver->received->len, ==, sender->total);
  for (guint n = 0; n < sender->total; n++)
    {
      g_assert_cmpuint (g_array_index (receiver->received, guint, n), ==, n);
      g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (receiver->uids, sender->uids[n])), ==, n);
    }
}

static inline void
natter_test_crash_sender_clear (NatterTestCrashSender *sender)
{
  g_clear_pointer (&sender->client, natter_test_client_free);
  for (guint n = 0; sender->uids != NULL && n < sender->total; n++)
    g_free (sender->uids[n]);
  g_clear_pointer (&sender->uids, g_free);
  g_queue_clear (&sender->in_flight);
  g_clear_pointer (&sender->user_id, g_free);
  g_clear_pointer (&sender->token, g_free);
}

static inline void
natter_test_crash_receiver_clear (NatterTestCrashReceiver *receiver)
{
  g_clear_pointer (&receiver->client, natter_test_client_free);
  g_clear_pointer (&receiver->user_id, g_free);
  g_clear_pointer (&receiver->token, g_free);
  g_clear_pointer (&receiver->received, g_array_unref);
  g_clear_pointer (&receiver->uids, g_hash_table_unref);
}
