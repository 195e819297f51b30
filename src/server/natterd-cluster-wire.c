/* natterd-cluster-wire.c — deliveries between nodes as protobuf
 *
 * A batch is packed incrementally: its header, then each delivery as
 * field 3 (length-delimited), which is exactly what protobuf-c would write
 * for the repeated field; so a delivery for several nodes is packed once.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-cluster-wire.h"

#include <gio/gio.h>
#include <string.h>

#include "natter-frame.h"
#include "natterd-cluster.pb-c.h"
#include "natterd-log.h"

typedef Natterd__Cluster__Batch Batch;
typedef Natterd__Cluster__Delivery Delivery;
typedef Natterd__Cluster__Message WireMessage;

#define BATCH_DELIVERIES_TAG ((3 << 3) | PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED)

/* ------------------------------------------------------------ packing */

static char *
or_empty (const char *value)
{
  return (char *) (value != NULL ? value : "");
}

guint8 *
natterd_cluster_wire_pack (const NatterdClusterPayload *payload,
                           gsize                       *length)
{
  const NatterdMessage *m = &payload->message;
  WireMessage message = NATTERD__CLUSTER__MESSAGE__INIT;
  Delivery delivery = NATTERD__CLUSTER__DELIVERY__INIT;
  guint8 *packed;

  delivery.app = or_empty (payload->app);
  delivery.user = or_empty (payload->user);
  delivery.seq = payload->seq;
  switch (payload->type)
    {
    case NATTERD_CLUSTER_INBOX:
      delivery.kind = NATTERD__CLUSTER__DELIVERY__KIND__INBOX;
      break;
    case NATTERD_CLUSTER_TIMELINE:
      delivery.kind = NATTERD__CLUSTER__DELIVERY__KIND__TIMELINE;
      delivery.sender_devices = payload->sender_devices;
      break;
    case NATTERD_CLUSTER_ROOM:
      delivery.kind = NATTERD__CLUSTER__DELIVERY__KIND__ROOM;
      break;
    case NATTERD_CLUSTER_STATUS:
      delivery.kind = NATTERD__CLUSTER__DELIVERY__KIND__STATUS;
      delivery.multi_device = payload->multi_device;
      break;
    case NATTERD_CLUSTER_HEAD:
      delivery.kind = NATTERD__CLUSTER__DELIVERY__KIND__HEAD;
      break;
    default:
      g_return_val_if_reached (NULL);
    }
  if (payload->type != NATTERD_CLUSTER_HEAD)
    {
      message.id = m->id;
      message.uid = or_empty (m->uid);
      message.conversation_type = m->conversation_type;
      message.sender = or_empty (m->sender_user_id);
      message.target = or_empty (m->target_id);
      message.object_name = or_empty (m->object_name);
      message.content = or_empty (m->content);
      message.push_content = or_empty (m->push_content);
      message.flags = m->flags;
      message.sent_time = m->sent_time;
      message.timeline_seq = m->timeline_seq;
      delivery.message = &message;
    }
  *length = natterd__cluster__delivery__get_packed_size (&delivery);
  packed = g_malloc (MAX (*length, 1));
  natterd__cluster__delivery__pack (&delivery, packed);
  return packed;
}

static void
append_varint (GString *out,
               guint64  value)
{
  do
    {
      guint8 byte = value & 0x7f;

      value >>= 7;
      g_string_append_c (out, (char) (byte | (value != 0 ? 0x80 : 0)));
    }
  while (value != 0);
}

void
natterd_cluster_wire_begin (GString    *batch,
                            const char *node)
{
  Batch header = NATTERD__CLUSTER__BATCH__INIT;
  gsize length;

  header.version = NATTERD_CLUSTER_WIRE_VERSION;
  header.node = (char *) node;
  length = natterd__cluster__batch__get_packed_size (&header);
  g_string_set_size (batch, length);
  natterd__cluster__batch__pack (&header, (guint8 *) batch->str);
}

void
natterd_cluster_wire_append (GString      *batch,
                             const guint8 *packed,
                             gsize         length)
{
  append_varint (batch, BATCH_DELIVERIES_TAG);
  append_varint (batch, length);
  g_string_append_len (batch, (const char *) packed, (gssize) length);
}

GBytes *
natterd_cluster_wire_encode (const char *node,
                             GPtrArray  *payloads)
{
  GString *batch = g_string_new (NULL);

  natterd_cluster_wire_begin (batch, node);
  for (guint i = 0; i < payloads->len; i++)
    {
      gsize length;
      g_autofree guint8 *packed = natterd_cluster_wire_pack (g_ptr_array_index (payloads, i), &length);

      if (packed != NULL)
        natterd_cluster_wire_append (batch, packed, length);
    }
  return g_string_free_to_bytes (batch);
}

/* ----------------------------------------------------------- decoding */

static gboolean
text_is_valid (const char *value,
               gsize       max_length,
               gboolean    required)
{
  gsize length = value != NULL ? strlen (value) : 0;

  if (length == 0)
    return !required;
  return length <= max_length && g_utf8_validate (value, (gssize) length, NULL);
}

/* Strings are borrowed from @m. */
static gboolean
read_message (const WireMessage *m,
              NatterdMessage    *out)
{
  if (m == NULL || m->conversation_type < 0 || m->conversation_type > 8 ||
      !natter_id_is_valid (m->sender) || !natter_id_is_valid (m->target) ||
      !text_is_valid (m->object_name, NATTER_OBJECT_NAME_MAX_LENGTH, TRUE) ||
      !text_is_valid (m->uid, NATTER_ID_MAX_LENGTH, FALSE) ||
      !text_is_valid (m->content, NATTER_CONTENT_MAX_SIZE, FALSE) ||
      !text_is_valid (m->push_content, NATTER_CONTENT_MAX_SIZE, FALSE))
    return FALSE;
  *out = (NatterdMessage) {
    .id = m->id,
    .uid = *m->uid != '\0' ? m->uid : NULL,
    .conversation_type = m->conversation_type,
    .sender_user_id = m->sender,
    .target_id = m->target,
    .object_name = m->object_name,
    .content = m->content,
    .push_content = *m->push_content != '\0' ? m->push_content : NULL,
    .flags = m->flags,
    .sent_time = m->sent_time,
    .timeline_seq = m->timeline_seq,
  };
  return TRUE;
}

/* NULL when @d is not a delivery this node understands (a kind from a
 * newer node included) or fails a check. */
static NatterdClusterPayload *
decode_delivery (const Delivery *d,
                 const char     *node)
{
  g_autofree NatterdClusterPayload *payload = g_new0 (NatterdClusterPayload, 1);
  gboolean has_user = FALSE, has_message = TRUE;

  switch (d->kind)
    {
    case NATTERD__CLUSTER__DELIVERY__KIND__INBOX:
      payload->type = NATTERD_CLUSTER_INBOX;
      has_user = TRUE;
      break;
    case NATTERD__CLUSTER__DELIVERY__KIND__HEAD:
      payload->type = NATTERD_CLUSTER_HEAD;
      has_user = TRUE;
      has_message = FALSE;
      break;
    case NATTERD__CLUSTER__DELIVERY__KIND__TIMELINE:
      payload->type = NATTERD_CLUSTER_TIMELINE;
      payload->sender_devices = d->sender_devices;
      break;
    case NATTERD__CLUSTER__DELIVERY__KIND__ROOM:
      payload->type = NATTERD_CLUSTER_ROOM;
      break;
    case NATTERD__CLUSTER__DELIVERY__KIND__STATUS:
      payload->type = NATTERD_CLUSTER_STATUS;
      payload->multi_device = d->multi_device;
      break;
    default:
      return NULL;
    }
  if (!natter_id_is_valid (d->app))
    return NULL;
  payload->node = node;
  payload->app = d->app;
  if (has_user)
    {
      if (!natter_id_is_valid (d->user) || d->seq == 0 || d->seq > G_MAXINT64)
        return NULL;
      payload->user = d->user;
      payload->seq = d->seq;
    }
  if (has_message && !read_message (d->message, &payload->message))
    return NULL;
  return g_steal_pointer (&payload);
}

static void
clear_batch (gpointer data)
{
  Batch **batch = data;

  natterd__cluster__batch__free_unpacked (*batch, NULL);
}

gboolean
natterd_cluster_wire_decode (const guint8  *data,
                             gsize          length,
                             GPtrArray     *payloads,
                             GError       **error)
{
  GError *refused = NULL;
  Batch *batch;
  Batch **owner;

  if (length > NATTERD_CLUSTER_BATCH_MAX_SIZE)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "batch of %" G_GSIZE_FORMAT " bytes", length);
      return FALSE;
    }
  batch = natterd__cluster__batch__unpack (NULL, length, data);
  if (batch == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "not a cluster batch");
      return FALSE;
    }
  if (batch->version == 0 || batch->version > NATTERD_CLUSTER_WIRE_VERSION)
    g_set_error (&refused, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "batch version %u (this node reads 1 to %u)",
                 batch->version, NATTERD_CLUSTER_WIRE_VERSION);
  else if (!natterd_cluster_node_name_is_valid (batch->node))
    g_set_error_literal (&refused, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "batch from an invalid node name");
  else if (batch->n_deliveries > NATTERD_CLUSTER_BATCH_MAX_DELIVERIES)
    g_set_error (&refused, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "batch of %" G_GSIZE_FORMAT " deliveries",
                 batch->n_deliveries);
  if (refused != NULL)
    {
      g_propagate_error (error, refused);
      natterd__cluster__batch__free_unpacked (batch, NULL);
      return FALSE;
    }
  /* The payloads borrow their strings from the batch: each holds a ref. */
  owner = g_rc_box_new (Batch *);
  *owner = batch;
  for (gsize i = 0; i < batch->n_deliveries; i++)
    {
      NatterdClusterPayload *payload = decode_delivery (batch->deliveries[i], batch->node);
      static guint dropped;

      /* Logged, not each time: whoever can publish on NATS can flood. */
      if (payload == NULL)
        {
          if (dropped++ % 1000 == 0)
            natterd_log (G_LOG_LEVEL_WARNING, "cluster-bad-delivery", "node", batch->node,
                         "error", "an unknown kind, or a field that fails its check", NULL);
          continue;
        }
      payload->owner = g_rc_box_acquire (owner);
      g_ptr_array_add (payloads, payload);
    }
  g_rc_box_release_full (owner, clear_batch);
  return TRUE;
}

void
natterd_cluster_payload_free (gpointer data)
{
  NatterdClusterPayload *payload = data;

  if (payload->object != NULL)
    json_object_unref (payload->object);
  if (payload->owner != NULL)
    g_rc_box_release_full (payload->owner, clear_batch);
  g_free (payload);
}
