/* natter-frame.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-frame.h"

#include "natter-json.h"

#include <json-glib/json-glib.h>
#include <string.h>

G_DEFINE_QUARK (natter-proto-error-quark, natter_proto_error)

#define PUSH_CONTENT_MAX_LENGTH 1024
#define PLATFORM_MAX_LENGTH     32
#define CURSOR_MAX_LENGTH       256
#define UID_MAX_LENGTH          64

/* ------------------------------------------------------------- structure */

typedef enum {
  CHECK_STRUCTURE,  /* field numbers of unknown fields */
  CHECK_UTF8,       /* every string */
} TreeCheck;

static gboolean check_tree (const ProtobufCMessage  *message,
                            TreeCheck                check,
                            GError                 **error);

static NatterFrame *
unpack (ProtobufCAllocator  *allocator,
        const guint8        *data,
        gsize                length,
        GError             **error)
{
  NatterFrame *frame;

  if (length > NATTER_FRAME_MAX_SIZE)
    {
      g_set_error (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_TOO_LARGE,
                   "Frame of %" G_GSIZE_FORMAT " bytes exceeds the %d byte limit",
                   length, NATTER_FRAME_MAX_SIZE);
      return NULL;
    }

  if (length == 0 || data == NULL)
    {
      g_set_error_literal (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_EMPTY,
                           "Empty frame");
      return NULL;
    }

  frame = natter__frame__unpack (allocator, length, data);
  if (frame == NULL)
    {
      g_set_error (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_MALFORMED,
                   "Frame of %" G_GSIZE_FORMAT " bytes is not a valid protocol frame",
                   length);
      return NULL;
    }

  if (frame->body_case == NATTER__FRAME__BODY__NOT_SET)
    {
      natter__frame__free_unpacked (frame, allocator);
      g_set_error_literal (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_EMPTY,
                           "Frame has no body");
      return NULL;
    }

  if (!check_tree (&frame->base, CHECK_STRUCTURE, error))
    {
      natter__frame__free_unpacked (frame, allocator);
      g_prefix_error (error, "Frame is not valid: ");
      return NULL;
    }

  return frame;
}

NatterFrame *
natter_frame_unpack (const guint8  *data,
                     gsize          length,
                     GError       **error)
{
  return unpack (NULL, data, length, error);
}

/* ----------------------------------------------------------------- arena */

#define ARENA_ALIGN (sizeof (max_align_t))

static void *
arena_alloc (void   *data,
             size_t  size)
{
  NatterFrameArena *arena = data;
  gsize rounded = (size + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
  void *p;

  if (rounded <= sizeof arena->block - arena->used)
    {
      p = arena->block + arena->used;
      arena->used += rounded;
      return p;
    }
  /* Rare (large content): a block of its own, freed with the arena. */
  p = g_try_malloc (MAX (size, 1));
  if (p != NULL)
    arena->spill = g_slist_prepend (arena->spill, p);
  return p;
}

static void
arena_free (void *data,
            void *pointer)
{
  /* Everything goes at natter_frame_arena_clear(). */
}

void
natter_frame_arena_init (NatterFrameArena *arena)
{
  arena->allocator.alloc = arena_alloc;
  arena->allocator.free = arena_free;
  arena->allocator.allocator_data = arena;
  arena->used = 0;
  arena->spill = NULL;
}

void
natter_frame_arena_clear (NatterFrameArena *arena)
{
  g_slist_free_full (g_steal_pointer (&arena->spill), g_free);
  arena->used = 0;
}

/* Like natter_frame_unpack(), the frame's memory from @arena: it lives
 * until natter_frame_arena_clear(), and is not given to natter_frame_free(). */
NatterFrame *
natter_frame_unpack_in (NatterFrameArena  *arena,
                        const guint8      *data,
                        gsize              length,
                        GError           **error)
{
  return unpack (&arena->allocator, data, length, error);
}

void
natter_frame_free (NatterFrame *frame)
{
  if (frame != NULL)
    natter__frame__free_unpacked (frame, NULL);
}

/* ---------------------------------------------------- packing, sized once */

/* Wire types and field numbers of natter.proto (Frame: the body's case;
 * Deliver: seq = 1, message = 2, offline = 3). */
#define TAG(field, wire) ((guint) (((field) << 3) | (wire)))
#define WIRE_VARINT 0
#define WIRE_BYTES  2

gsize
natter_frame_varint_size (guint64 value)
{
  gsize n = 1;

  while (value >= 0x80)
    {
      value >>= 7;
      n++;
    }
  return n;
}

static guint8 *
put_varint (guint8  *out,
            guint64  value)
{
  while (value >= 0x80)
    {
      *out++ = (guint8) (value | 0x80);
      value >>= 7;
    }
  *out++ = (guint8) value;
  return out;
}

/* The frame's body (its oneof's message), NULL when none is set. */
static const ProtobufCMessage *
frame_body (const NatterFrame *frame)
{
  const ProtobufCFieldDescriptor *field;
  const void *member;

  if (frame->body_case == NATTER__FRAME__BODY__NOT_SET)
    return NULL;
  field = protobuf_c_message_descriptor_get_field (&natter__frame__descriptor, frame->body_case);
  /* the offset is the descriptor's: the member is aligned (through void *,
   * which clang's -Wcast-align does not second-guess) */
  member = (const guint8 *) frame + field->offset;
  return *(const ProtobufCMessage * const *) member;
}

/* The hot frames' fields packed by hand (#17: protobuf-c's generic
 * pack walks every field's descriptor, ~2,900 instructions a delivered
 * message for its Message and the sender's PublishAck). proto3 as
 * protobuf-c 1.4 packs it: fields in number order, a zero scalar, a
 * false bool and an empty or NULL string left out, an int32 sign-extended
 * to ten bytes. Every tag here is one byte (fields < 16). */
static inline gsize
string_field_size (const char *value)
{
  gsize length;

  if (value == NULL || value[0] == '\0')
    return 0;
  length = strlen (value);
  return 1 + natter_frame_varint_size (length) + length;
}

static inline guint8 *
put_string_field (guint8     *out,
                  guint       field,
                  const char *value)
{
  gsize length;

  if (value == NULL || value[0] == '\0')
    return out;
  length = strlen (value);
  *out++ = (guint8) TAG (field, WIRE_BYTES);
  out = put_varint (out, length);
  memcpy (out, value, length);
  return out + length;
}

static inline gsize
varint_field_size (guint64 value)
{
  return value != 0 ? 1 + natter_frame_varint_size (value) : 0;
}

static inline guint8 *
put_varint_field (guint8  *out,
                  guint    field,
                  guint64  value)
{
  if (value == 0)
    return out;
  *out++ = (guint8) TAG (field, WIRE_VARINT);
  return put_varint (out, value);
}

#define INT32_WIRE(value) ((guint64) (gint64) (value))

/* Readers (history answers only) and unknown fields go through protobuf-c. */
static inline gboolean
message_is_plain (const Natter__Message *message)
{
  return message->n_readers == 0 && message->base.n_unknown_fields == 0;
}

static gsize
message_size (const Natter__Message *message)
{
  if (!message_is_plain (message))
    return natter__message__get_packed_size (message);
  return string_field_size (message->message_uid) +
         varint_field_size (INT32_WIRE (message->conversation_type)) +
         string_field_size (message->target_id) +
         string_field_size (message->sender_user_id) +
         string_field_size (message->object_name) +
         string_field_size (message->content) +
         varint_field_size ((guint64) message->sent_time) +
         varint_field_size (message->flags) +
         string_field_size (message->push_content) +
         varint_field_size (message->timeline_seq) +
         (message->mentioned ? 2 : 0);
}

static guint8 *
message_pack (const Natter__Message *message,
              guint8                *out)
{
  if (!message_is_plain (message))
    return out + natter__message__pack (message, out);
  out = put_string_field (out, 1, message->message_uid);
  out = put_varint_field (out, 2, INT32_WIRE (message->conversation_type));
  out = put_string_field (out, 3, message->target_id);
  out = put_string_field (out, 4, message->sender_user_id);
  out = put_string_field (out, 5, message->object_name);
  out = put_string_field (out, 6, message->content);
  out = put_varint_field (out, 7, (guint64) message->sent_time);
  out = put_varint_field (out, 8, message->flags);
  out = put_string_field (out, 9, message->push_content);
  out = put_varint_field (out, 10, message->timeline_seq);
  if (message->mentioned)
    {
      *out++ = (guint8) TAG (11, WIRE_VARINT);
      *out++ = 1;
    }
  return out;
}

static gsize
publish_ack_size (const Natter__PublishAck *ack)
{
  if (ack->base.n_unknown_fields != 0)
    return natter__publish_ack__get_packed_size (ack);
  return string_field_size (ack->client_msg_id) +
         varint_field_size (INT32_WIRE (ack->code)) +
         string_field_size (ack->message_uid) +
         varint_field_size ((guint64) ack->sent_time) +
         string_field_size (ack->error_message) +
         varint_field_size (ack->timeline_seq);
}

static void
publish_ack_pack (const Natter__PublishAck *ack,
                  guint8                   *out)
{
  if (ack->base.n_unknown_fields != 0)
    {
      natter__publish_ack__pack (ack, out);
      return;
    }
  out = put_string_field (out, 1, ack->client_msg_id);
  out = put_varint_field (out, 2, INT32_WIRE (ack->code));
  out = put_string_field (out, 3, ack->message_uid);
  out = put_varint_field (out, 4, (guint64) ack->sent_time);
  out = put_string_field (out, 5, ack->error_message);
  put_varint_field (out, 6, ack->timeline_seq);
}

/* A Deliver's size, proto3 as protobuf-c packs it: zero scalars left
 * out, a message field present when set. */
static gsize
deliver_size (const Natter__Deliver *deliver,
              gsize                  message_size)
{
  gsize size = 0;

  if (deliver->seq != 0)
    size += 1 + natter_frame_varint_size (deliver->seq);
  if (deliver->message != NULL)
    size += 1 + natter_frame_varint_size (message_size) + message_size;
  if (deliver->offline)
    size += 2;
  return size;
}

static void
deliver_pack (const Natter__Deliver *deliver,
              gsize                  message_size,
              guint8                *out)
{
  if (deliver->seq != 0)
    {
      *out++ = (guint8) TAG (1, WIRE_VARINT);
      out = put_varint (out, deliver->seq);
    }
  if (deliver->message != NULL)
    {
      *out++ = (guint8) TAG (2, WIRE_BYTES);
      out = put_varint (out, message_size);
      out = message_pack (deliver->message, out);
    }
  if (deliver->offline)
    {
      *out++ = (guint8) TAG (3, WIRE_VARINT);
      *out = 1;
    }
}

gsize
natter_frame_packed_size (const NatterFrame *frame,
                          NatterFrameSizes  *sizes)
{
  const ProtobufCMessage *body = frame_body (frame);

  sizes->body = sizes->inner = 0;
  if (body == NULL)
    return 0;
  if (frame->body_case == NATTER__FRAME__BODY_DELIVER)
    {
      if (frame->deliver->message != NULL)
        sizes->inner = message_size (frame->deliver->message);
      sizes->body = deliver_size (frame->deliver, sizes->inner);
    }
  else if (frame->body_case == NATTER__FRAME__BODY_PUBLISH_ACK)
    sizes->body = publish_ack_size (frame->publish_ack);
  else
    sizes->body = protobuf_c_message_get_packed_size (body);
  return natter_frame_varint_size (TAG (frame->body_case, WIRE_BYTES)) +
         natter_frame_varint_size (sizes->body) + sizes->body;
}

void
natter_frame_pack_sized (const NatterFrame      *frame,
                         const NatterFrameSizes *sizes,
                         guint8                 *out)
{
  const ProtobufCMessage *body = frame_body (frame);

  if (body == NULL)
    return;
  out = put_varint (out, TAG (frame->body_case, WIRE_BYTES));
  out = put_varint (out, sizes->body);
  if (frame->body_case == NATTER__FRAME__BODY_DELIVER)
    deliver_pack (frame->deliver, sizes->inner, out);
  else if (frame->body_case == NATTER__FRAME__BODY_PUBLISH_ACK)
    publish_ack_pack (frame->publish_ack, out);
  else
    protobuf_c_message_pack (body, out);
}

GBytes *
natter_frame_encode (const NatterFrame  *frame,
                     GError            **error)
{
  gsize size;
  guint8 *buffer;

  g_return_val_if_fail (frame != NULL, NULL);

  size = natter__frame__get_packed_size (frame);
  if (size > NATTER_FRAME_MAX_SIZE)
    {
      g_set_error (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_TOO_LARGE,
                   "Frame of %" G_GSIZE_FORMAT " bytes exceeds the %d byte limit",
                   size, NATTER_FRAME_MAX_SIZE);
      return NULL;
    }

  buffer = g_malloc (MAX (size, 1));
  natter__frame__pack (frame, buffer);

  return g_bytes_new_take (buffer, size);
}

const char *
natter_frame_type_name (const NatterFrame *frame)
{
  const ProtobufCFieldDescriptor *field;

  if (frame == NULL || frame->body_case == NATTER__FRAME__BODY__NOT_SET)
    return "empty";

  field = protobuf_c_message_descriptor_get_field (&natter__frame__descriptor,
                                                   frame->body_case);
  return field != NULL ? field->name : "unknown";
}

/* ---------------------------------------------------------------- UTF-8 */

/* Offsets come from the descriptor, so the member is correctly aligned. */
static inline const void *
member_at (const ProtobufCMessage *message,
           unsigned                offset)
{
  return (const guint8 *) message + offset;
}

/* Walks a message and every message nested in it, however deep or repeated,
 * so a field added to natter.proto later is covered without touching this
 * file. The path to a bad field is put together only on failure. */
static gboolean
check_tree (const ProtobufCMessage  *message,
            TreeCheck                check,
            GError                 **error)
{
  const ProtobufCMessageDescriptor *desc = message->descriptor;

  /* protobuf-c accepts field number 0 in an over-long varint tag, but cannot
   * encode it back: such a frame would not survive a round trip. */
  if (check == CHECK_STRUCTURE)
    for (gsize i = 0; i < message->n_unknown_fields; i++)
      if (message->unknown_fields[i].tag == 0)
        {
          g_set_error_literal (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_MALFORMED,
                               "field number 0");
          return FALSE;
        }

  for (guint i = 0; i < desc->n_fields; i++)
    {
      const ProtobufCFieldDescriptor *field = &desc->fields[i];
      const void *base = member_at (message, field->offset);
      gsize n_values = 1;
      const void *values;

      if (field->type != PROTOBUF_C_TYPE_MESSAGE &&
          !(field->type == PROTOBUF_C_TYPE_STRING && check == CHECK_UTF8))
        continue;

      if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        {
          const guint32 *oneof_case = member_at (message, field->quantifier_offset);
          if (*oneof_case != field->id)
            continue;
        }

      if (field->label == PROTOBUF_C_LABEL_REPEATED)
        {
          const size_t *count = member_at (message, field->quantifier_offset);
          void * const *array = base;

          n_values = *count;
          values = *array;
        }
      else
        {
          values = base;
        }

      for (gsize j = 0; j < n_values; j++)
        {
          const void *value = ((void * const *) values)[j];

          if (value == NULL)
            continue;

          if (field->type == PROTOBUF_C_TYPE_STRING)
            {
              if (!natter_utf8_is_valid (value))
                {
                  g_set_error (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_INVALID_UTF8,
                               "%s is not valid UTF-8", field->name);
                  return FALSE;
                }
            }
          else if (!check_tree (value, check, error))
            {
              g_prefix_error (error, "%s.", field->name);
              return FALSE;
            }
        }
    }

  return TRUE;
}

/* ---------------------------------------------------------------- fields */

gboolean
natter_id_is_valid (const char *id)
{
  gsize length = 0;

  if (id == NULL)
    return FALSE;

  for (const char *p = id; *p != '\0'; p++, length++)
    {
      if (length >= NATTER_ID_MAX_LENGTH)
        return FALSE;

      if (!g_ascii_isalnum (*p) && strchr ("_.@=+-", *p) == NULL)
        return FALSE;
    }

  return length > 0;
}

gboolean
natter_content_is_valid (const char  *content,
                         GError     **error)
{
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) local_error = NULL;
  gsize length;

  if (content == NULL || *content == '\0')
    {
      g_set_error_literal (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_MISSING_FIELD,
                           "Message content is empty");
      return FALSE;
    }

  length = strlen (content);
  if (length > NATTER_CONTENT_MAX_SIZE)
    {
      g_set_error (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_CONTENT_TOO_LARGE,
                   "Message content of %" G_GSIZE_FORMAT " bytes exceeds the %d byte limit",
                   length, NATTER_CONTENT_MAX_SIZE);
      return FALSE;
    }

  /* Nearly every content is plain JSON: checked in one pass, not built
   * into a tree (that was a third of natterd's main thread per message).
   * Anything else is for json-glib to take or refuse, as before. */
  if (natter_json_is_object (content, (gssize) length))
    return TRUE;

  root = natter_json_parse (content, (gssize) length, &local_error);
  if (root == NULL)
    {
      g_set_error (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_INVALID_CONTENT,
                   "Message content is not valid: %s", local_error->message);
      return FALSE;
    }

  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_INVALID_CONTENT,
                           "Message content is not a JSON object");
      return FALSE;
    }

  return TRUE;
}

static gboolean
fail (GError     **error,
      int          code,
      const char  *what,
      const char  *problem)
{
  g_set_error (error, NATTER_PROTO_ERROR, code, "%s: %s", what, problem);
  return FALSE;
}

static gboolean
check_id (const char  *value,
          const char  *what,
          GError     **error)
{
  if (value == NULL || *value == '\0')
    return fail (error, NATTER_PROTO_ERROR_MISSING_FIELD, what, "missing");
  if (!natter_id_is_valid (value))
    return fail (error, NATTER_PROTO_ERROR_INVALID_ID, what,
                 "not 1-64 bytes of letters, digits and _.@=+-");
  return TRUE;
}

static gboolean
check_text (const char  *value,
            gsize        max_length,
            gboolean     required,
            const char  *what,
            GError     **error)
{
  if (value == NULL || *value == '\0')
    return required ? fail (error, NATTER_PROTO_ERROR_MISSING_FIELD, what, "missing") : TRUE;
  if (strlen (value) > max_length)
    return fail (error, NATTER_PROTO_ERROR_INVALID_VALUE, what, "too long");
  return TRUE;
}

/* RongCloud's expansion keys: 1-32 of [A-Za-z0-9+=_-]. */
static gboolean
check_expansion_key (const char  *key,
                     const char  *what,
                     GError     **error)
{
  if (key == NULL || *key == '\0' || strlen (key) > NATTER_EXPANSION_KEY_MAX_LENGTH)
    return fail (error, NATTER_PROTO_ERROR_INVALID_VALUE, what, "not 1-32 characters");
  for (const char *c = key; *c != '\0'; c++)
    if (!g_ascii_isalnum (*c) && strchr ("+=_-", *c) == NULL)
      return fail (error, NATTER_PROTO_ERROR_INVALID_VALUE, what, "not of A-Za-z0-9+=_-");
  return TRUE;
}

static gboolean
check_expansion (const Natter__ExpansionRequest  *request,
                 GError                         **error)
{
  if (request->conversation_type != NATTER_CONVERSATION_PRIVATE &&
      request->conversation_type != NATTER_CONVERSATION_GROUP)
    return fail (error, NATTER_PROTO_ERROR_INVALID_VALUE, "expansion.conversation_type", "not private or group");
  if (request->n_set + request->n_remove == 0 || request->n_set + request->n_remove > NATTER_EXPANSION_UPDATE_MAX_KEYS)
    return fail (error, NATTER_PROTO_ERROR_INVALID_VALUE, "expansion", "not 1-20 keys");
  for (gsize i = 0; i < request->n_set; i++)
    {
      const char *value = request->set[i]->value != NULL ? request->set[i]->value : "";

      if (!check_expansion_key (request->set[i]->key, "expansion.set.key", error))
        return FALSE;
      if (strlen (value) > NATTER_EXPANSION_VALUE_MAX_SIZE || !g_utf8_validate (value, -1, NULL))
        return fail (error, NATTER_PROTO_ERROR_INVALID_VALUE, "expansion.set.value", "not UTF-8 of at most 4096 bytes");
    }
  for (gsize i = 0; i < request->n_remove; i++)
    if (!check_expansion_key (request->remove[i], "expansion.remove", error))
      return FALSE;
  return check_text (request->message_uid, UID_MAX_LENGTH, TRUE, "expansion.message_uid", error) &&
         check_id (request->target_id, "expansion.target_id", error);
}

static gboolean
check_conversation_type (int          type,
                         const char  *what,
                         GError     **error)
{
  if (!NATTER_CONVERSATION_TYPE_IS_VALID (type))
    return fail (error, NATTER_PROTO_ERROR_INVALID_VALUE, what, "conversation type not in 1..8");
  return TRUE;
}

static gboolean
check_object_name (const char  *value,
                   const char  *what,
                   GError     **error)
{
  if (!check_text (value, NATTER_OBJECT_NAME_MAX_LENGTH, TRUE, what, error))
    return FALSE;

  for (const char *p = value; *p != '\0'; p++)
    if (!g_ascii_isgraph (*p))
      return fail (error, NATTER_PROTO_ERROR_INVALID_VALUE, what,
                   "only printable ASCII without spaces");

  return TRUE;
}

static gboolean
check_content (const char  *content,
               GError     **error)
{
  g_autoptr(GError) local_error = NULL;

  if (!natter_content_is_valid (content, &local_error))
    {
      g_set_error (error, NATTER_PROTO_ERROR, local_error->code,
                   "content: %s", local_error->message);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_readers (const Natter__Message  *message,
               GError                **error)
{
  for (gsize i = 0; i < message->n_readers; i++)
    {
      if (message->readers[i] == NULL)
        return fail (error, NATTER_PROTO_ERROR_MISSING_FIELD, "message.readers", "missing");
      if (!check_id (message->readers[i]->user_id, "message.readers.user_id", error))
        return FALSE;
    }
  return TRUE;
}

/* @preview: the message is a Conversation.latest_message, which alone may
 * carry a bounded preview of its content. */
static gboolean
check_message_full (const Natter__Message  *message,
                    gboolean                preview,
                    GError                **error)
{
  if (message == NULL)
    return fail (error, NATTER_PROTO_ERROR_MISSING_FIELD, "message", "missing");

  if (message->flags & NATTER_MESSAGE_FLAG_PREVIEW)
    {
      if (!preview)
        return fail (error, NATTER_PROTO_ERROR_INVALID_VALUE, "message.flags",
                     "a preview outside a conversation list");
      if (message->content != NULL && strlen (message->content) > NATTER_PREVIEW_MAX_SIZE)
        return fail (error, NATTER_PROTO_ERROR_INVALID_VALUE, "message.content",
                     "preview over 1 KiB");
    }

  return check_conversation_type (message->conversation_type, "message.conversation_type", error) &&
         check_id (message->target_id, "message.target_id", error) &&
         check_id (message->sender_user_id, "message.sender_user_id", error) &&
         check_object_name (message->object_name, "message.object_name", error) &&
         check_text (message->message_uid, UID_MAX_LENGTH, FALSE, "message.message_uid", error) &&
         check_text (message->push_content, PUSH_CONTENT_MAX_LENGTH, FALSE, "message.push_content", error) &&
         check_content (message->content, error) &&
         check_readers (message, error);
}

static gboolean
check_message (const Natter__Message  *message,
               GError                **error)
{
  return check_message_full (message, FALSE, error);
}

static gboolean
check_messages (Natter__Message **messages,
                gsize             n_messages,
                GError          **error)
{
  for (gsize i = 0; i < n_messages; i++)
    if (!check_message (messages[i], error))
      return FALSE;
  return TRUE;
}

static gboolean
validate_connect (const Natter__Connect  *connect,
                  GError                **error)
{
  return check_id (connect->app_key, "connect.app_key", error) &&
         check_text (connect->token, NATTER_TOKEN_MAX_LENGTH, TRUE, "connect.token", error) &&
         check_id (connect->device_id, "connect.device_id", error) &&
         check_text (connect->platform, PLATFORM_MAX_LENGTH, FALSE, "connect.platform", error) &&
         check_text (connect->client_version, PLATFORM_MAX_LENGTH, FALSE, "connect.client_version", error);
}

static gboolean
validate_publish (const Natter__Publish  *publish,
                  GError                **error)
{
  return check_id (publish->client_msg_id, "publish.client_msg_id", error) &&
         check_conversation_type (publish->conversation_type, "publish.conversation_type", error) &&
         check_id (publish->target_id, "publish.target_id", error) &&
         check_object_name (publish->object_name, "publish.object_name", error) &&
         check_text (publish->push_content, PUSH_CONTENT_MAX_LENGTH, FALSE, "publish.push_content", error) &&
         check_content (publish->content, error);
}

static gboolean
validate_query (const Natter__Query  *query,
                GError              **error)
{
  if (query->request_id == 0)
    return fail (error, NATTER_PROTO_ERROR_MISSING_FIELD, "query.request_id", "missing");

  switch (query->method_case)
    {
    case NATTER__QUERY__METHOD_HISTORY:
      {
        const Natter__HistoryRequest *r = query->history;
        if (!check_conversation_type (r->conversation_type, "history.conversation_type", error) ||
            !check_id (r->target_id, "history.target_id", error))
          return FALSE;
        if (r->before_time < 0)
          return fail (error, NATTER_PROTO_ERROR_INVALID_VALUE, "history.before_time", "negative");
        if (r->count < NATTER_HISTORY_MIN_COUNT || r->count > NATTER_HISTORY_MAX_COUNT)
          return fail (error, NATTER_PROTO_ERROR_INVALID_VALUE, "history.count", "not in 2..20");
        return TRUE;
      }

    case NATTER__QUERY__METHOD_CONVERSATION_LIST:
      {
        const Natter__ConversationListRequest *r = query->conversation_list;
        /* Eight types exist: more entries only repeat them. */
        if (r->n_types > NATTER_CONVERSATION_LIST_MAX_TYPES)
          return fail (error, NATTER_PROTO_ERROR_INVALID_VALUE, "conversation_list.types", "more than 8");
        for (gsize i = 0; i < r->n_types; i++)
          if (!check_conversation_type (r->types[i], "conversation_list.types", error))
            return FALSE;
        if (r->limit > NATTER_CONVERSATION_LIST_MAX_LIMIT)
          return fail (error, NATTER_PROTO_ERROR_INVALID_VALUE, "conversation_list.limit", "over 1000");
        return check_text (r->cursor, CURSOR_MAX_LENGTH, FALSE, "conversation_list.cursor", error);
      }

    case NATTER__QUERY__METHOD_CHATROOM_JOIN:
      if (query->chatroom_join->count < -1 ||
          query->chatroom_join->count > NATTER_CHATROOM_JOIN_MAX_COUNT)
        return fail (error, NATTER_PROTO_ERROR_INVALID_VALUE, "chatroom_join.count", "not in -1..50");
      return check_id (query->chatroom_join->chatroom_id, "chatroom_join.chatroom_id", error);

    case NATTER__QUERY__METHOD_CHATROOM_QUIT:
      return check_id (query->chatroom_quit->chatroom_id, "chatroom_quit.chatroom_id", error);

    case NATTER__QUERY__METHOD_CLEAR_UNREAD:
      return check_conversation_type (query->clear_unread->conversation_type, "clear_unread.conversation_type", error) &&
             check_id (query->clear_unread->target_id, "clear_unread.target_id", error);

    case NATTER__QUERY__METHOD_RECALL:
      return check_text (query->recall->message_uid, UID_MAX_LENGTH, TRUE, "recall.message_uid", error) &&
             check_conversation_type (query->recall->conversation_type, "recall.conversation_type", error) &&
             check_id (query->recall->target_id, "recall.target_id", error);

    case NATTER__QUERY__METHOD_EDIT:
      return check_text (query->edit->message_uid, UID_MAX_LENGTH, TRUE, "edit.message_uid", error) &&
             check_conversation_type (query->edit->conversation_type, "edit.conversation_type", error) &&
             check_id (query->edit->target_id, "edit.target_id", error) &&
             check_text (query->edit->content, NATTER_CONTENT_MAX_SIZE, TRUE, "edit.content", error);

    case NATTER__QUERY__METHOD_EXPANSION:
      return check_expansion (query->expansion, error);

    case NATTER__QUERY__METHOD_TURN_CREDENTIALS:
      return TRUE;

    case NATTER__QUERY__METHOD_ONLINE_STATUS:
      {
        const Natter__OnlineStatusRequest *r = query->online_status;
        if (r->n_user_ids == 0)
          return fail (error, NATTER_PROTO_ERROR_MISSING_FIELD, "online_status.user_ids", "empty");
        if (r->n_user_ids > NATTER_ONLINE_STATUS_MAX_USERS)
          return fail (error, NATTER_PROTO_ERROR_INVALID_VALUE, "online_status.user_ids", "more than 100");
        for (gsize i = 0; i < r->n_user_ids; i++)
          if (!check_id (r->user_ids[i], "online_status.user_ids", error))
            return FALSE;
        if (r->n_device_ids > NATTER_ONLINE_STATUS_MAX_USERS)
          return fail (error, NATTER_PROTO_ERROR_INVALID_VALUE, "online_status.device_ids", "more than 100");
        for (gsize i = 0; i < r->n_device_ids; i++)
          if (!check_id (r->device_ids[i], "online_status.device_ids", error))
            return FALSE;
        return TRUE;
      }

    case NATTER__QUERY__METHOD_SUBSCRIBE:
      {
        const Natter__SubscribeRequest *r = query->subscribe;
        if (r->n_user_ids == 0)
          return fail (error, NATTER_PROTO_ERROR_MISSING_FIELD, "subscribe.user_ids", "empty");
        if (r->n_user_ids > NATTER_SUBSCRIBE_MAX_IDS)
          return fail (error, NATTER_PROTO_ERROR_INVALID_VALUE, "subscribe.user_ids", "more than 200");
        for (gsize i = 0; i < r->n_user_ids; i++)
          if (!check_id (r->user_ids[i], "subscribe.user_ids", error))
            return FALSE;
        if (!r->unsubscribe &&
            (r->expiry < NATTER_SUBSCRIBE_MIN_EXPIRY || r->expiry > NATTER_SUBSCRIBE_MAX_EXPIRY))
          return fail (error, NATTER_PROTO_ERROR_INVALID_VALUE, "subscribe.expiry", "not in 60..2592000");
        return TRUE;
      }

    case NATTER__QUERY__METHOD_CONVERSATION_UPDATE:
      {
        const Natter__ConversationUpdateRequest *r = query->conversation_update;
        if (r->action <= NATTER__CONVERSATION_UPDATE_REQUEST__ACTION__ACTION_NONE ||
            r->action > NATTER__CONVERSATION_UPDATE_REQUEST__ACTION__ACTION_REMOVE)
          return fail (error, NATTER_PROTO_ERROR_INVALID_VALUE, "conversation_update.action", "unknown");
        return check_conversation_type (r->conversation_type, "conversation_update.conversation_type", error) &&
               check_id (r->target_id, "conversation_update.target_id", error);
      }

    case NATTER__QUERY__METHOD_PROFILE:
      {
        const Natter__ProfileRequest *r = query->profile;
        if (r->n_user_ids + r->n_group_ids == 0)
          return fail (error, NATTER_PROTO_ERROR_MISSING_FIELD, "profile", "no user or group id");
        if (r->n_user_ids > NATTER_PROFILE_MAX_IDS)
          return fail (error, NATTER_PROTO_ERROR_INVALID_VALUE, "profile.user_ids", "more than 100");
        if (r->n_group_ids > NATTER_PROFILE_MAX_IDS)
          return fail (error, NATTER_PROTO_ERROR_INVALID_VALUE, "profile.group_ids", "more than 100");
        for (gsize i = 0; i < r->n_user_ids; i++)
          if (!check_id (r->user_ids[i], "profile.user_ids", error))
            return FALSE;
        for (gsize i = 0; i < r->n_group_ids; i++)
          if (!check_id (r->group_ids[i], "profile.group_ids", error))
            return FALSE;
        return TRUE;
      }

    /* natter.v2 group timelines: limits as docs/protocol.md says. */
    case NATTER__QUERY__METHOD_TIMELINE_SYNC:
      if (query->timeline_sync->since < 0)
        return fail (error, NATTER_PROTO_ERROR_INVALID_VALUE, "timeline_sync.since", "negative");
      if (query->timeline_sync->limit > 1000)
        return fail (error, NATTER_PROTO_ERROR_INVALID_VALUE, "timeline_sync.limit", "over 1000");
      return check_text (query->timeline_sync->cursor, CURSOR_MAX_LENGTH, FALSE, "timeline_sync.cursor", error);

    case NATTER__QUERY__METHOD_TIMELINE:
      if (query->timeline->conversation_type != NATTER_CONVERSATION_GROUP &&
          query->timeline->conversation_type != NATTER_CONVERSATION_DISCUSSION)
        return fail (error, NATTER_PROTO_ERROR_INVALID_VALUE, "timeline.conversation_type", "not 2 or 3");
      if (query->timeline->count < 1 || query->timeline->count > 200)
        return fail (error, NATTER_PROTO_ERROR_INVALID_VALUE, "timeline.count", "not in 1..200");
      return check_id (query->timeline->target_id, "timeline.target_id", error);

    case NATTER__QUERY__METHOD__NOT_SET:
    default:
      return fail (error, NATTER_PROTO_ERROR_MISSING_FIELD, "query.method", "missing or unknown");
    }
}

static gboolean
validate_result (const Natter__Result  *result,
                 GError               **error)
{
  if (result->request_id == 0)
    return fail (error, NATTER_PROTO_ERROR_MISSING_FIELD, "result.request_id", "missing");

  switch (result->payload_case)
    {
    case NATTER__RESULT__PAYLOAD_HISTORY:
      return check_messages (result->history->messages, result->history->n_messages, error);

    case NATTER__RESULT__PAYLOAD_CONVERSATION_LIST:
      for (gsize i = 0; i < result->conversation_list->n_conversations; i++)
        {
          const Natter__Conversation *c = result->conversation_list->conversations[i];
          if (!check_conversation_type (c->conversation_type, "conversation.conversation_type", error) ||
              !check_id (c->target_id, "conversation.target_id", error))
            return FALSE;
          if (c->latest_message != NULL && !check_message_full (c->latest_message, TRUE, error))
            return FALSE;
        }
      return TRUE;

    case NATTER__RESULT__PAYLOAD_CHATROOM_JOIN:
      return check_messages (result->chatroom_join->messages, result->chatroom_join->n_messages, error);

    case NATTER__RESULT__PAYLOAD_RECALL:
      return check_message (result->recall->recall_command, error);

    case NATTER__RESULT__PAYLOAD_EDIT:
      return check_message (result->edit->edit_command, error);

    case NATTER__RESULT__PAYLOAD_EXPANSION:
      return check_message (result->expansion->expansion_command, error);

    case NATTER__RESULT__PAYLOAD_PROFILE:
      {
        const Natter__ProfileResult *r = result->profile;
        if (r->n_users > NATTER_PROFILE_MAX_IDS || r->n_groups > NATTER_PROFILE_MAX_IDS)
          return fail (error, NATTER_PROTO_ERROR_INVALID_VALUE, "profile", "more than 100");
        for (gsize i = 0; i < r->n_users; i++)
          if (!check_id (r->users[i]->id, "profile.users.id", error) ||
              !check_text (r->users[i]->name, NATTER_NAME_MAX_LENGTH, FALSE, "profile.users.name", error) ||
              !check_text (r->users[i]->portrait_uri, NATTER_PORTRAIT_MAX_LENGTH, FALSE,
                           "profile.users.portrait_uri", error))
            return FALSE;
        for (gsize i = 0; i < r->n_groups; i++)
          if (!check_id (r->groups[i]->id, "profile.groups.id", error) ||
              !check_text (r->groups[i]->name, NATTER_NAME_MAX_LENGTH, FALSE, "profile.groups.name", error))
            return FALSE;
        return TRUE;
      }

    case NATTER__RESULT__PAYLOAD_TIMELINE:
      return check_messages (result->timeline->messages, result->timeline->n_messages, error);

    case NATTER__RESULT__PAYLOAD_TIMELINE_SYNC:
      for (gsize i = 0; i < result->timeline_sync->n_timelines; i++)
        if (!check_conversation_type (result->timeline_sync->timelines[i]->conversation_type,
                                      "timeline_sync.timelines.conversation_type", error) ||
            !check_id (result->timeline_sync->timelines[i]->target_id,
                       "timeline_sync.timelines.target_id", error))
          return FALSE;
      return check_text (result->timeline_sync->next_cursor, CURSOR_MAX_LENGTH, FALSE,
                         "timeline_sync.next_cursor", error);

    case NATTER__RESULT__PAYLOAD_SUBSCRIBE:
      for (gsize i = 0; i < result->subscribe->n_statuses; i++)
        if (!check_id (result->subscribe->statuses[i]->user_id, "subscribe.statuses.user_id", error))
          return FALSE;
      return TRUE;

    case NATTER__RESULT__PAYLOAD_TURN_CREDENTIALS:
    case NATTER__RESULT__PAYLOAD_ONLINE_STATUS:
    case NATTER__RESULT__PAYLOAD__NOT_SET:
    default:
      return TRUE;
    }
}

static gboolean
sender_may_send (Natter__Frame__BodyCase body,
                 NatterPeer            sender)
{
  switch (body)
    {
    case NATTER__FRAME__BODY_CONNECT:
    case NATTER__FRAME__BODY_PUBLISH:
    case NATTER__FRAME__BODY_DELIVER_ACK:
    case NATTER__FRAME__BODY_QUERY:
      return sender == NATTER_PEER_CLIENT;

    case NATTER__FRAME__BODY_CONNECT_ACK:
    case NATTER__FRAME__BODY_PUBLISH_ACK:
    case NATTER__FRAME__BODY_DELIVER:
    case NATTER__FRAME__BODY_RESULT:
    case NATTER__FRAME__BODY_KICK:
    case NATTER__FRAME__BODY_CHATROOM_EVENT:
    case NATTER__FRAME__BODY_PRESENCE_EVENT:
      return sender == NATTER_PEER_SERVER;

    case NATTER__FRAME__BODY_PING:
    case NATTER__FRAME__BODY_PONG:
      return TRUE;

    case NATTER__FRAME__BODY__NOT_SET:
    default:
      return FALSE;
    }
}

gboolean
natter_frame_validate (const NatterFrame  *frame,
                       NatterPeer          sender,
                       GError            **error)
{
  g_return_val_if_fail (frame != NULL, FALSE);

  if (frame->body_case == NATTER__FRAME__BODY__NOT_SET)
    {
      g_set_error_literal (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_EMPTY,
                           "Frame has no body");
      return FALSE;
    }

  if (!sender_may_send (frame->body_case, sender))
    {
      g_set_error (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_WRONG_DIRECTION,
                   "A %s never sends %s frames",
                   sender == NATTER_PEER_CLIENT ? "client" : "server",
                   natter_frame_type_name (frame));
      return FALSE;
    }

  if (!check_tree (&frame->base, CHECK_UTF8, error))
    return FALSE;

  switch (frame->body_case)
    {
    case NATTER__FRAME__BODY_CONNECT:
      return validate_connect (frame->connect, error);

    case NATTER__FRAME__BODY_CONNECT_ACK:
      if (frame->connect_ack->code == NATTER_CODE_OK)
        return check_id (frame->connect_ack->user_id, "connect_ack.user_id", error);
      return TRUE;

    case NATTER__FRAME__BODY_PUBLISH:
      return validate_publish (frame->publish, error);

    case NATTER__FRAME__BODY_PUBLISH_ACK:
      /* A refusal may echo an invalid id (the one the client sent). */
      if (frame->publish_ack->code != NATTER_CODE_OK)
        return check_text (frame->publish_ack->client_msg_id, NATTER_PUBLISH_ACK_ID_MAX_LENGTH, FALSE,
                           "publish_ack.client_msg_id", error) &&
               check_text (frame->publish_ack->message_uid, UID_MAX_LENGTH, FALSE,
                           "publish_ack.message_uid", error);
      return check_id (frame->publish_ack->client_msg_id, "publish_ack.client_msg_id", error) &&
             check_text (frame->publish_ack->message_uid, UID_MAX_LENGTH, FALSE,
                         "publish_ack.message_uid", error);

    case NATTER__FRAME__BODY_DELIVER:
      return check_message (frame->deliver->message, error);

    case NATTER__FRAME__BODY_DELIVER_ACK:
      if (frame->deliver_ack->seq == 0)
        return fail (error, NATTER_PROTO_ERROR_MISSING_FIELD, "deliver_ack.seq", "missing");
      return TRUE;

    case NATTER__FRAME__BODY_QUERY:
      return validate_query (frame->query, error);

    case NATTER__FRAME__BODY_RESULT:
      return validate_result (frame->result, error);

    case NATTER__FRAME__BODY_CHATROOM_EVENT:
      return check_id (frame->chatroom_event->chatroom_id, "chatroom_event.chatroom_id", error);

    case NATTER__FRAME__BODY_PRESENCE_EVENT:
      return check_id (frame->presence_event->user_id, "presence_event.user_id", error) &&
             check_text (frame->presence_event->platform, PLATFORM_MAX_LENGTH, FALSE,
                         "presence_event.platform", error);

    case NATTER__FRAME__BODY_KICK:
    case NATTER__FRAME__BODY_PING:
    case NATTER__FRAME__BODY_PONG:
      return TRUE;

    case NATTER__FRAME__BODY__NOT_SET:
    default:
      g_assert_not_reached ();
    }
}

NatterFrame *
natter_frame_decode (const guint8  *data,
                     gsize          length,
                     NatterPeer     sender,
                     GError       **error)
{
  g_autoptr(NatterFrame) frame = natter_frame_unpack (data, length, error);

  if (frame == NULL || !natter_frame_validate (frame, sender, error))
    return NULL;

  return g_steal_pointer (&frame);
}

int
natter_proto_error_to_code (const GError *error)
{
  if (error == NULL)
    return NATTER_CODE_OK;

  if (error->domain == NATTER_PROTO_ERROR &&
      (error->code == NATTER_PROTO_ERROR_CONTENT_TOO_LARGE ||
       error->code == NATTER_PROTO_ERROR_TOO_LARGE))
    return NATTER_CODE_MESSAGE_TOO_LARGE;

  return NATTER_CODE_INVALID_PARAMETER;
}

/* --------------------------------------------------------------- preview */

/* A conversation list carries up to 1000 latest messages of up to 128 KiB
 * each; it carries bounded previews of them instead. json-glib parses a
 * whole 128 KiB text (about 3 ms) for the 1 KiB kept, so the members are
 * found by a scan of the object's top level: strings are skipped with
 * memchr() and nested values by counting brackets, nothing recurses, and
 * only the kept bytes are looked at closely. It may see only the start of
 * the content (what a store read cheaply): members that begin there are
 * kept, a string cut by its end too. The result is checked with
 * natter_content_is_valid() before it leaves. */

#define PREVIEW_MAX_MEMBERS 32
#define PREVIEW_KEY_MAX     64    /* bytes of a kept member's key, quotes included */
#define PREVIEW_STRING_MAX  512   /* bytes of one string's text */
#define PREVIEW_NESTED_MAX  256   /* bytes of a kept object or array */

typedef enum {
  MEMBER_SCALAR,
  MEMBER_STRING,
  MEMBER_NESTED,
} MemberKind;

typedef struct
{
  const char *key;              /* with its quotes */
  gsize       key_length;
  const char *value;
  gsize       value_length;
  MemberKind  kind;
  gboolean    open;             /* a string the end of what was read cut */
} PreviewMember;

static const char *
skip_space (const char *p,
            const char *end)
{
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    p++;
  return p;
}

/* Past the JSON string that starts at @p ('"'), or NULL. A quote ends it
 * when an even number of backslashes precede it. */
static const char *
skip_string (const char *p,
             const char *end)
{
  const char *body = ++p;

  while (p < end)
    {
      const char *quote = memchr (p, '"', (gsize) (end - p));
      gsize backslashes = 0;

      if (quote == NULL)
        return NULL;
      for (const char *b = quote; b > body && b[-1] == '\\'; b--)
        backslashes++;
      if (backslashes % 2 == 0)
        return quote + 1;
      p = quote + 1;
    }
  return NULL;
}

/* Past the object or array that starts at @p, or NULL. */
static const char *
skip_nested (const char *p,
             const char *end)
{
  gsize depth = 0;

  while (p < end)
    {
      if (*p == '"')
        {
          p = skip_string (p, end);
          if (p == NULL)
            return NULL;
          continue;
        }
      if (*p == '{' || *p == '[')
        depth++;
      else if (*p == '}' || *p == ']')
        {
          if (depth == 0)
            return NULL;
          if (--depth == 0)
            return p + 1;
        }
      p++;
    }
  return NULL;
}

/* How many bytes of the string body @text (between its quotes) to keep for
 * at most @limit: never inside an escape or a UTF-8 sequence, never after
 * the first half of a surrogate pair. */
static gsize
cut_string_body (const char *text,
                 gsize       length,
                 gsize       limit)
{
  gsize at = 0;
  gboolean high_surrogate = FALSE;

  while (at < length)
    {
      gsize step;
      gboolean high = FALSE;

      if (text[at] == '\\')
        {
          step = at + 1 < length && text[at + 1] == 'u' ? 6 : 2;
          high = step == 6 && at + 2 < length && g_ascii_tolower (text[at + 2]) == 'd' &&
                 at + 3 < length && strchr ("89abAB", text[at + 3]) != NULL;
        }
      else
        step = (gsize) g_utf8_skip[(guchar) text[at]];

      if (at + step > MIN (limit, length))
        break;
      at += step;
      high_surrogate = high;
    }

  return high_surrogate ? at - 6 : at;
}

static void
append_member (GString             *out,
               const PreviewMember *member,
               const char          *value,
               gsize                value_length)
{
  if (out->len > 1)
    g_string_append_c (out, ',');
  g_string_append_len (out, member->key, (gssize) member->key_length);
  g_string_append_c (out, ':');
  g_string_append_len (out, value, (gssize) value_length);
}

/* Finds the top-level members of the object @content; FALSE if it is not
 * one. Past PREVIEW_MAX_MEMBERS the rest is not looked at. When @content is
 * only the start of the object (@complete FALSE), running out ends the
 * scan with the members found, the last one an open string if it was cut
 * there. */
static gboolean
scan_members (const char    *content,
              gsize          length,
              gboolean       complete,
              PreviewMember *members,
              guint         *n_members)
{
  const char *end = content + length;
  const char *p = skip_space (content, end);

  *n_members = 0;
  if (p == end || *p++ != '{')
    return FALSE;

  for (;;)
    {
      PreviewMember member = { 0 };

      p = skip_space (p, end);
      if (p == end && !complete)
        return TRUE;
      if (p < end && *p == '}' && *n_members == 0)
        return TRUE;
      if (p == end || *p != '"')
        return FALSE;
      member.key = p;
      p = skip_string (p, end);
      if (p == NULL)
        return !complete;
      member.key_length = (gsize) (p - member.key);

      p = skip_space (p, end);
      if (p < end && *p == ':')
        p = skip_space (p + 1, end);
      else
        return p == end && !complete;
      if (p == end)
        return !complete;

      member.value = p;
      if (*p == '"')
        {
          member.kind = MEMBER_STRING;
          p = skip_string (p, end);
          if (p == NULL && !complete)
            {
              member.open = TRUE;
              member.value_length = (gsize) (end - member.value);
              members[(*n_members)++] = member;
              return TRUE;
            }
        }
      else if (*p == '{' || *p == '[')
        {
          member.kind = MEMBER_NESTED;
          p = skip_nested (p, end);
        }
      else
        {
          member.kind = MEMBER_SCALAR;
          while (p < end && (g_ascii_isalnum (*p) || *p == '-' || *p == '+' || *p == '.'))
            p++;
          if (p == member.value || (p == end && !complete))
            return !complete;   /* a number the end may have cut */
        }
      if (p == NULL)
        return !complete;
      member.value_length = (gsize) (p - member.value);
      members[(*n_members)++] = member;
      if (*n_members == PREVIEW_MAX_MEMBERS)
        return TRUE;

      p = skip_space (p, end);
      if (p < end && *p == ',')
        {
          p++;
          continue;
        }
      if (p == end && !complete)
        return TRUE;
      return p < end && *p == '}';
    }
}

/* Image thumbnails and voice data: what a preview is kept small of. */
static gboolean
is_heavy_member (const char          *object_name,
                 const PreviewMember *member)
{
  return (g_strcmp0 (object_name, NATTER_OBJECT_IMAGE) == 0 ||
          g_strcmp0 (object_name, NATTER_OBJECT_VOICE) == 0) &&
         member->key_length == strlen ("\"content\"") &&
         memcmp (member->key, "\"content\"", member->key_length) == 0;
}

char *
natter_content_preview (const char *object_name,
                        const char *content,
                        gsize       length,
                        gsize       full_length)
{
  PreviewMember members[PREVIEW_MAX_MEMBERS];
  guint n_members = 0;
  g_autoptr(GString) out = NULL;

  g_return_val_if_fail (content != NULL || length == 0, NULL);
  g_return_val_if_fail (length <= full_length, NULL);

  if (full_length <= NATTER_PREVIEW_MAX_SIZE)
    return NULL;

  out = g_string_sized_new (NATTER_PREVIEW_MAX_SIZE + 1);
  g_string_append_c (out, '{');
  if (!scan_members (content, length, length == full_length, members, &n_members))
    n_members = 0;

  /* Numbers and flags first (a duration, a size), then texts, then small
   * nested objects (user, mentionedInfo) in the room left; 1 byte is kept
   * for the closing brace. */
  for (MemberKind kind = MEMBER_SCALAR; kind <= MEMBER_NESTED; kind++)
    for (guint i = 0; i < n_members; i++)
      {
        const PreviewMember *m = &members[i];
        gsize overhead = (out->len > 1 ? 1 : 0) + m->key_length + 1 + 1;
        gsize room;

        if (m->kind != kind || m->key_length > PREVIEW_KEY_MAX || is_heavy_member (object_name, m) ||
            out->len + overhead >= NATTER_PREVIEW_MAX_SIZE)
          continue;
        room = NATTER_PREVIEW_MAX_SIZE - out->len - overhead;

        if (kind == MEMBER_STRING)
          {
            gsize keep;

            if (room < 2)
              continue;
            keep = cut_string_body (m->value + 1, m->value_length - (m->open ? 1 : 2),
                                    MIN (room - 2, PREVIEW_STRING_MAX));
            append_member (out, m, m->value, keep + 1);
            g_string_append_c (out, '"');
          }
        else if (m->value_length <= room &&
                 (kind == MEMBER_SCALAR || m->value_length <= PREVIEW_NESTED_MAX))
          append_member (out, m, m->value, m->value_length);
      }
  g_string_append_c (out, '}');

  /* Stored content was checked when it was sent; this is a last guard. */
  if (out->len > NATTER_PREVIEW_MAX_SIZE || !natter_content_is_valid (out->str, NULL))
    return g_strdup ("{}");
  return g_string_free (g_steal_pointer (&out), FALSE);
}
