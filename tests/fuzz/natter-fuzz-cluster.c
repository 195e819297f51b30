/* natter-fuzz-cluster.c — libFuzzer target for what another natterd node
 * sends over NATS (natterd_cluster_decode(): JSON, and the protobuf
 * batches of deliveries of natterd-cluster.proto)
 *
 * Anyone who can publish on the cluster's NATS subjects reaches this
 * decoder. Whatever the bytes: no crash, no leak; every payload it keeps
 * has what its type needs (a valid node name, the app, the user, a seq,
 * a message with sender, target, object name and a conversation type), a
 * message it keeps encodes back to one that decodes the same, and a
 * delivery from a batch passes the batch's checks (ids, sizes, UTF-8) and
 * packs back to one that decodes the same.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-fuzz.h"

#include "natter-frame.h"
#include "natterd-cluster-wire.h"

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
check_same_message (const NatterdMessage *again,
                    const NatterdMessage *message)
{
  g_assert_cmpint (again->id, ==, message->id);
  g_assert_cmpstr (again->uid, ==, message->uid);
  g_assert_cmpint (again->conversation_type, ==, message->conversation_type);
  g_assert_cmpstr (again->sender_user_id, ==, message->sender_user_id);
  g_assert_cmpstr (again->target_id, ==, message->target_id);
  g_assert_cmpstr (again->object_name, ==, message->object_name);
  g_assert_cmpstr (again->content, ==, message->content);
  g_assert_cmpstr (again->push_content, ==, message->push_content);
  g_assert_cmpuint (again->flags, ==, message->flags);
  g_assert_cmpint (again->sent_time, ==, message->sent_time);
  g_assert_cmpuint (again->timeline_seq, ==, message->timeline_seq);
}

static gboolean
text_ok (const char *text,
         gsize       max_length)
{
  return text == NULL || (strlen (text) <= max_length && g_utf8_validate (text, -1, NULL));
}

/* A delivery from a batch: checked, and the same after packing again. */
static void
check_batch_delivery (const NatterdClusterPayload *payload)
{
  g_autoptr(GPtrArray) one = g_ptr_array_new ();
  g_autoptr(GPtrArray) again = g_ptr_array_new_with_free_func (natterd_cluster_payload_free);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  const NatterdClusterPayload *back;

  g_assert_true (natter_id_is_valid (payload->app));
  if (payload->user != NULL)
    g_assert_true (natter_id_is_valid (payload->user));
  if (payload->type != NATTERD_CLUSTER_HEAD)
    {
      g_assert_true (natter_id_is_valid (payload->message.sender_user_id));
      g_assert_true (natter_id_is_valid (payload->message.target_id));
      g_assert_true (text_ok (payload->message.object_name, NATTER_OBJECT_NAME_MAX_LENGTH));
      g_assert_true (text_ok (payload->message.uid, NATTER_ID_MAX_LENGTH));
      g_assert_true (text_ok (payload->message.content, NATTER_CONTENT_MAX_SIZE));
      g_assert_true (text_ok (payload->message.push_content, NATTER_CONTENT_MAX_SIZE));
    }
  g_ptr_array_add (one, (gpointer) payload);
  bytes = natterd_cluster_wire_encode (payload->node, one);
  g_assert_true (natterd_cluster_wire_decode (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                                              again, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (again->len, ==, 1);
  back = g_ptr_array_index (again, 0);
  g_assert_cmpint (back->type, ==, payload->type);
  g_assert_cmpstr (back->node, ==, payload->node);
  g_assert_cmpstr (back->app, ==, payload->app);
  g_assert_cmpstr (back->user, ==, payload->user);
  g_assert_cmpuint (back->seq, ==, payload->seq);
  g_assert_cmpint (back->sender_devices, ==, payload->sender_devices);
  g_assert_cmpint (back->multi_device, ==, payload->multi_device);
  if (payload->type != NATTERD_CLUSTER_HEAD)
    check_same_message (&back->message, &payload->message);
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
  check_same_message (&again, message);
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

      /* JSON, or a delivery from a batch: never both. */
      g_assert_true ((payload->object != NULL) != (payload->owner != NULL));
      check_node_name (payload->node);
      if (payload->owner != NULL)
        {
          g_assert_true (payload->type == NATTERD_CLUSTER_INBOX || payload->type == NATTERD_CLUSTER_HEAD ||
                         payload->type == NATTERD_CLUSTER_TIMELINE || payload->type == NATTERD_CLUSTER_ROOM ||
                         payload->type == NATTERD_CLUSTER_STATUS);
          check_batch_delivery (payload);
        }
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
