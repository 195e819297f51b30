/* natter-fuzz-cluster.c — libFuzzer target for what another natterd node
 * sends over NATS (natterd_cluster_decode())
 *
 * Anyone who can publish on the cluster's NATS subjects reaches this
 * decoder. Whatever the bytes: no crash, no leak; every payload it keeps
 * has what its type needs (a valid node name, the app, the user, a seq,
 * a message with sender, target, object name and a conversation type), and
 * a message it keeps encodes back to one that decodes the same.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-fuzz.h"

#include "natterd-cluster.h"

static void
check_node_name (const char *name)
{
  g_assert_nonnull (name);
  g_assert_cmpuint (strlen (name), >, 0);
  g_assert_cmpuint (strlen (name), <=, 64);
  for (const char *p = name; *p != '\0'; p++)
    g_assert_true (g_ascii_isalnum (*p) || *p == '-' || *p == '_');
}

static void
check_message_round_trip (const NatterdMessage *message)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  NatterdMessage again;

  json_builder_begin_object (builder);
  natterd_cluster_add_message (builder, message);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  g_assert_true (natterd_cluster_read_message (json_node_get_object (root), &again));
  g_assert_cmpint (again.id, ==, message->id);
  g_assert_cmpstr (again.uid, ==, message->uid);
  g_assert_cmpint (again.conversation_type, ==, message->conversation_type);
  g_assert_cmpstr (again.sender_user_id, ==, message->sender_user_id);
  g_assert_cmpstr (again.target_id, ==, message->target_id);
  g_assert_cmpstr (again.object_name, ==, message->object_name);
  g_assert_cmpstr (again.content, ==, message->content);
  g_assert_cmpstr (again.push_content, ==, message->push_content);
  g_assert_cmpuint (again.flags, ==, message->flags);
  g_assert_cmpint (again.sent_time, ==, message->sent_time);
  g_assert_cmpuint (again.timeline_seq, ==, message->timeline_seq);
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr(GPtrArray) payloads = NULL;
  g_autoptr(GError) error = NULL;

  natter_fuzz_quiet_logs ();
  payloads = natterd_cluster_decode ((const char *) data, size, &error);
  if (payloads == NULL)
    {
      g_assert_nonnull (error);
      return 0;
    }
  g_assert_null (error);
  for (guint i = 0; i < payloads->len; i++)
    {
      const NatterdClusterPayload *payload = g_ptr_array_index (payloads, i);

      g_assert_nonnull (payload->object);
      check_node_name (payload->node);
      switch (payload->type)
        {
        case NATTERD_CLUSTER_NODE:
        case NATTERD_CLUSTER_BYE:
        case NATTERD_CLUSTER_APPS:
          break;
        case NATTERD_CLUSTER_ON:
        case NATTERD_CLUSTER_OFF:
          g_assert_nonnull (payload->app);
          g_assert_nonnull (payload->user);
          break;
        case NATTERD_CLUSTER_HEAD:
        case NATTERD_CLUSTER_INBOX:
          g_assert_nonnull (payload->app);
          g_assert_nonnull (payload->user);
          g_assert_cmpuint (payload->seq, >, 0);
          if (payload->type == NATTERD_CLUSTER_HEAD)
            break;
          G_GNUC_FALLTHROUGH;
        case NATTERD_CLUSTER_TIMELINE:
        case NATTERD_CLUSTER_ROOM:
        case NATTERD_CLUSTER_STATUS:
          g_assert_nonnull (payload->app);
          g_assert_nonnull (payload->message.sender_user_id);
          g_assert_nonnull (payload->message.target_id);
          g_assert_nonnull (payload->message.object_name);
          g_assert_cmpint (payload->message.conversation_type, >=, 0);
          g_assert_cmpint (payload->message.conversation_type, <=, 8);
          check_message_round_trip (&payload->message);
          break;
        case NATTERD_CLUSTER_CHANGE:
          g_assert_nonnull (payload->app);
          g_assert_true (json_object_has_member (payload->object, "kind"));
          break;
        default:
          g_assert_not_reached ();
        }
    }
  return 0;
}
