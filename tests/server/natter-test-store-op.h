/* natter-test-store-op.h — a Publish op for the store tests: alice
 * (users.id 1) to bob (2), into bob's inbox; shared by the store and
 * migration tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "natter-codes.h"
#include "natterd-store.h"

/* A persisted message from alice to bob with @client_msg_id, @content and
 * @sent_time, with no recipient yet. */
static inline NatterdPublishOp *
natter_test_store_message_op (const char    *client_msg_id,
                              const char    *content,
                              gint64         sent_time,
                              NatterdOpFunc  complete,
                              gpointer       user_data)
{
  NatterdPublishOp *op = natterd_op_new (NATTERD_OP_PUBLISH, complete, user_data, NULL);

  op->app_id = 1;
  op->sender_id = 1;
  op->device_id = g_strdup ("d1");
  op->client_msg_id = g_strdup (client_msg_id);
  op->channel = g_strdup ("1/alice/bob");
  op->message.conversation_type = 1;
  op->message.sender_user_id = g_strdup ("alice");
  op->message.target_id = g_strdup ("bob");
  op->message.object_name = g_strdup ("RC:TxtMsg");
  op->message.content = g_strdup (content);
  op->message.flags = NATTER_MESSAGE_FLAG_PERSISTED;
  op->message.sent_time = sent_time;
  return op;
}

/* Message @n (its client_msg_id @prefix and @n) with @content. */
static inline NatterdPublishOp *
natter_test_store_publish_op (guint          n,
                              const char    *prefix,
                              const char    *content,
                              NatterdOpFunc  complete,
                              gpointer       user_data)
{
  g_autofree char *client_msg_id = g_strdup_printf ("%s%u", prefix, n);
  NatterdPublishOp *op = natter_test_store_message_op (client_msg_id, content, 1000 + n, complete, user_data);
  NatterdRecipient bob = { .user_id = 2, .target_id = "alice", .inbox = TRUE, .conversation = TRUE, .counted = TRUE };

  g_array_append_val (op->recipients, bob);
  return op;
}
