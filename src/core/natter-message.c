/* natter-message.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-message-private.h"
#include "natter-json.h"
#include "natter-content.h"

#include <glib/gi18n-lib.h>
#include <string.h>

struct _NatterMessage
{
  GObject parent_instance;

  gint64 message_id;
  char *message_uid;
  NatterConversationType conversation_type;
  char *target_id;
  char *sender_user_id;
  char *object_name;
  /* Rows from the store keep their content as text until something reads
   * it: the conversation list of a large profile parses only what it shows. */
  char *content_text;
  JsonObject *content;          /* sealed: shared freely, never modified */
  NatterMessageDirection direction;
  NatterSentStatus sent_status;
  gint64 sent_time;
  gint64 received_time;
  gboolean offline;
  int error_code;
  char *client_msg_id;
  guint flags;
  char *profile_name;           /* the sender's profile, from the store */
  char *profile_portrait_uri;
  guint64 timeline_seq;         /* groups: the position on the group's timeline */
};

G_DEFINE_FINAL_TYPE (NatterMessage, natter_message, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_MESSAGE_ID,
  PROP_MESSAGE_UID,
  PROP_CONVERSATION_TYPE,
  PROP_TARGET_ID,
  PROP_SENDER_USER_ID,
  PROP_OBJECT_NAME,
  PROP_CONTENT,
  PROP_DIRECTION,
  PROP_SENT_STATUS,
  PROP_SENT_TIME,
  PROP_RECEIVED_TIME,
  PROP_OFFLINE,
  PROP_ERROR_CODE,
  PROP_CLIENT_MSG_ID,
  PROP_FLAGS,
  PROP_KIND,
  PROP_SENDER_NAME,
  PROP_SENDER_PORTRAIT_URI,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* ------------------------------------------------------------ object names */

typedef struct {
  const char *object_name;
  const char *message_type;     /* the seed's messageType / content.messageName */
  NatterMessageKind kind;
} KnownName;

static const KnownName known_names[] = {
  { NATTER_OBJECT_TEXT, "TextMessage", NATTER_MESSAGE_KIND_TEXT },
  { NATTER_OBJECT_IMAGE, "ImageMessage", NATTER_MESSAGE_KIND_IMAGE },
  { NATTER_OBJECT_VOICE, "VoiceMessage", NATTER_MESSAGE_KIND_VOICE },
  { NATTER_OBJECT_HQ_VOICE, "HQVoiceMessage", NATTER_MESSAGE_KIND_HQ_VOICE },
  { NATTER_OBJECT_FILE, "FileMessage", NATTER_MESSAGE_KIND_FILE },
  { NATTER_OBJECT_INFO_NOTIFICATION, "InformationNotificationMessage", NATTER_MESSAGE_KIND_INFO },
  { NATTER_OBJECT_RECALL_COMMAND, "RecallCommandMessage", NATTER_MESSAGE_KIND_RECALL_COMMAND },
  { NATTER_OBJECT_RECALL_NOTIFICATION, "RecallNotificationMessage", NATTER_MESSAGE_KIND_RECALLED },
  { NATTER_OBJECT_COMMAND, "CommandMessage", NATTER_MESSAGE_KIND_COMMAND },
  { NATTER_OBJECT_TYPING_STATUS, "TypingStatusMessage", NATTER_MESSAGE_KIND_TYPING },
  { NATTER_OBJECT_READ_NOTIFICATION, "ReadReceiptMessage", NATTER_MESSAGE_KIND_READ_NOTIFICATION },
  { NATTER_OBJECT_SYNC_READ_STATUS, "SyncReadStatusMessage", NATTER_MESSAGE_KIND_SYNC_READ_STATUS },
  { NATTER_OBJECT_CS_HANDSHAKE, "HandShakeMessage", NATTER_MESSAGE_KIND_CS_HANDSHAKE },
  { NATTER_OBJECT_CALL_INVITE, "InviteMessage", NATTER_MESSAGE_KIND_CALL_SIGNAL },
  { NATTER_OBJECT_CALL_RINGING, "RingingMessage", NATTER_MESSAGE_KIND_CALL_SIGNAL },
  { NATTER_OBJECT_CALL_ACCEPT, "AcceptMessage", NATTER_MESSAGE_KIND_CALL_SIGNAL },
  { NATTER_OBJECT_CALL_HANGUP, "HungupMessage", NATTER_MESSAGE_KIND_CALL_SIGNAL },
  { NATTER_OBJECT_CALL_MODIFY_MEDIA, "MediaModifyMessage", NATTER_MESSAGE_KIND_CALL_SIGNAL },
  { NATTER_OBJECT_CALL_ICE, "IceCandidateMessage", NATTER_MESSAGE_KIND_CALL_SIGNAL },
  { NATTER_OBJECT_CALL_SUMMARY, "SummaryMessage", NATTER_MESSAGE_KIND_CALL_SUMMARY },
  { NATTER_OBJECT_CONTACT_NOTIFICATION, "ContactNotificationMessage", NATTER_MESSAGE_KIND_CONTACT_NOTIFICATION },
  { NATTER_OBJECT_GROUP_NOTIFICATION, "GroupNotificationMessage", NATTER_MESSAGE_KIND_GROUP_NOTIFICATION },
  { NATTER_OBJECT_REFERENCE, "ReferenceMessage", NATTER_MESSAGE_KIND_REFERENCE },
  { NATTER_OBJECT_EDIT_COMMAND, "EditCommandMessage", NATTER_MESSAGE_KIND_EDIT_COMMAND },
  { NATTER_OBJECT_EXPANSION_COMMAND, "ExpansionCommandMessage", NATTER_MESSAGE_KIND_EXPANSION_COMMAND },
  { NATTER_OBJECT_RECEIPT_REQUEST, "ReadReceiptRequestMessage", NATTER_MESSAGE_KIND_RECEIPT_REQUEST },
  { NATTER_OBJECT_RECEIPT_RESPONSE, "ReadReceiptResponseMessage", NATTER_MESSAGE_KIND_RECEIPT_RESPONSE },
  { NATTER_OBJECT_CLEAR_COMMAND, "ClearHistoryCommandMessage", NATTER_MESSAGE_KIND_CLEAR_COMMAND },
  { NATTER_OBJECT_DELETED_LOCALLY, "DeletedMessage", NATTER_MESSAGE_KIND_DELETED },
  { NATTER_OBJECT_CHATROOM_NOTIFICATION, "ChatroomNotificationMessage", NATTER_MESSAGE_KIND_CHATROOM_NOTIFICATION },
};

static const KnownName *
find_known_name (const char *object_name)
{
  if (object_name == NULL)
    return NULL;

  for (guint i = 0; i < G_N_ELEMENTS (known_names); i++)
    if (strcmp (known_names[i].object_name, object_name) == 0)
      return &known_names[i];

  return NULL;
}

/* ------------------------------------------------------------------- JSON */

static JsonNode *copy_node (JsonNode *node);

static JsonObject *
copy_object (JsonObject *object)
{
  JsonObject *copy = json_object_new ();
  JsonObjectIter iter;
  const char *name;
  JsonNode *member;

  json_object_iter_init (&iter, object);
  while (json_object_iter_next (&iter, &name, &member))
    json_object_set_member (copy, name, copy_node (member));

  return copy;
}

static JsonNode *
copy_node (JsonNode *node)
{
  switch (JSON_NODE_TYPE (node))
    {
    /* json_node_init_object/array take a reference of their own: ours
     * goes to the node (LSan found every copied array leaked). */
    case JSON_NODE_OBJECT:
      {
        JsonNode *copy = json_node_init (json_node_alloc (), JSON_NODE_OBJECT);

        json_node_take_object (copy, copy_object (json_node_get_object (node)));
        return copy;
      }

    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        JsonArray *elements = json_array_sized_new (json_array_get_length (array));
        JsonNode *copy = json_node_init (json_node_alloc (), JSON_NODE_ARRAY);

        for (guint i = 0; i < json_array_get_length (array); i++)
          json_array_add_element (elements, copy_node (json_array_get_element (array, i)));
        json_node_take_array (copy, elements);
        return copy;
      }

    case JSON_NODE_VALUE:
    case JSON_NODE_NULL:
    default:
      return json_node_copy (node);
    }
}

/* A private, sealed copy: content objects are shared between threads and
 * message objects, so nobody may change one after this. */
static JsonObject *
sealed_copy (JsonObject *content)
{
  JsonObject *copy;

  if (content == NULL)
    copy = json_object_new ();
  else if (json_object_is_immutable (content))
    return json_object_ref (content);
  else
    copy = copy_object (content);

  json_object_seal (copy);
  return copy;
}

JsonObject *
natter_content_parse (const char  *content,
                      GError     **error)
{
  g_autoptr(JsonNode) root = natter_json_parse (content, -1, error);

  if (root == NULL)
    return NULL;

  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_INVALID_CONTENT,
                           "Message content is not a JSON object");
      return NULL;
    }

  return json_object_ref (json_node_get_object (root));
}

char *
natter_content_to_string (JsonObject *content)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), content);

  return json_to_string (node, FALSE);
}

/* Typed reads that tolerate anything the network may have put there. */
static const char *
content_string (JsonObject *object,
                const char *name)
{
  JsonNode *node;

  if (object == NULL || (node = json_object_get_member (object, name)) == NULL)
    return NULL;
  if (JSON_NODE_TYPE (node) != JSON_NODE_VALUE || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;

  return json_node_get_string (node);
}

static gint64
content_int (JsonObject *object,
             const char *name)
{
  JsonNode *node;
  GType type;

  if (object == NULL || (node = json_object_get_member (object, name)) == NULL ||
      JSON_NODE_TYPE (node) != JSON_NODE_VALUE)
    return 0;

  type = json_node_get_value_type (node);
  if (type == G_TYPE_INT64)
    return json_node_get_int (node);
  if (type == G_TYPE_DOUBLE)
    {
      double value = json_node_get_double (node);
      return (value > -9.2e18 && value < 9.2e18) ? (gint64) value : 0;
    }
  if (type == G_TYPE_STRING)
    return g_ascii_strtoll (json_node_get_string (node), NULL, 10);
  if (type == G_TYPE_BOOLEAN)
    return json_node_get_boolean (node);

  return 0;
}

static JsonObject *
content_object (JsonObject *object,
                const char *name)
{
  JsonNode *node;

  if (object == NULL || (node = json_object_get_member (object, name)) == NULL ||
      !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;

  return json_node_get_object (node);
}

/* --------------------------------------------------------------- GObject */

static JsonObject *
ensure_content (NatterMessage *self)
{
  if (self->content == NULL)
    {
      g_autoptr(GError) error = NULL;

      if (self->content_text != NULL)
        self->content = natter_content_parse (self->content_text, &error);
      if (self->content == NULL)
        {
          if (error != NULL)
            g_debug ("Stored content of message %" G_GINT64_FORMAT " is not JSON: %s",
                     self->message_id, error->message);
          self->content = json_object_new ();
        }
      json_object_seal (self->content);
    }

  return self->content;
}

static void
natter_message_finalize (GObject *object)
{
  NatterMessage *self = (NatterMessage *) object;

  g_free (self->message_uid);
  g_free (self->target_id);
  g_free (self->sender_user_id);
  g_free (self->object_name);
  g_free (self->content_text);
  g_clear_pointer (&self->content, json_object_unref);
  g_free (self->client_msg_id);
  g_free (self->profile_name);
  g_free (self->profile_portrait_uri);

  G_OBJECT_CLASS (natter_message_parent_class)->finalize (object);
}

static void
natter_message_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  NatterMessage *self = NATTER_MESSAGE (object);

  switch (prop_id)
    {
    case PROP_MESSAGE_ID:
      g_value_set_int64 (value, self->message_id);
      break;
    case PROP_MESSAGE_UID:
      g_value_set_string (value, self->message_uid);
      break;
    case PROP_CONVERSATION_TYPE:
      g_value_set_enum (value, self->conversation_type);
      break;
    case PROP_TARGET_ID:
      g_value_set_string (value, self->target_id);
      break;
    case PROP_SENDER_USER_ID:
      g_value_set_string (value, self->sender_user_id);
      break;
    case PROP_OBJECT_NAME:
      g_value_set_string (value, self->object_name);
      break;
    case PROP_CONTENT:
      g_value_set_boxed (value, ensure_content (self));
      break;
    case PROP_DIRECTION:
      g_value_set_enum (value, self->direction);
      break;
    case PROP_SENT_STATUS:
      g_value_set_enum (value, self->sent_status);
      break;
    case PROP_SENT_TIME:
      g_value_set_int64 (value, self->sent_time);
      break;
    case PROP_RECEIVED_TIME:
      g_value_set_int64 (value, self->received_time);
      break;
    case PROP_OFFLINE:
      g_value_set_boolean (value, self->offline);
      break;
    case PROP_ERROR_CODE:
      g_value_set_int (value, self->error_code);
      break;
    case PROP_CLIENT_MSG_ID:
      g_value_set_string (value, self->client_msg_id);
      break;
    case PROP_FLAGS:
      g_value_set_uint (value, self->flags);
      break;
    case PROP_KIND:
      g_value_set_enum (value, natter_message_get_kind (self));
      break;
    case PROP_SENDER_NAME:
      g_value_set_string (value, natter_message_get_sender_name (self));
      break;
    case PROP_SENDER_PORTRAIT_URI:
      g_value_set_string (value, natter_message_get_sender_portrait_uri (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_message_class_init (NatterMessageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = natter_message_finalize;
  object_class->get_property = natter_message_get_property;

  properties[PROP_MESSAGE_ID] =
    g_param_spec_int64 ("message-id", NULL, "Local row id, 0 until stored",
                        0, G_MAXINT64, 0, flags);
  properties[PROP_MESSAGE_UID] =
    g_param_spec_string ("message-uid", NULL, "Server id, NULL until acked", NULL, flags);
  properties[PROP_CONVERSATION_TYPE] =
    g_param_spec_enum ("conversation-type", NULL, NULL, NATTER_TYPE_CONVERSATION_TYPE,
                       NATTER_CONVERSATION_PRIVATE, flags);
  properties[PROP_TARGET_ID] =
    g_param_spec_string ("target-id", NULL, NULL, NULL, flags);
  properties[PROP_SENDER_USER_ID] =
    g_param_spec_string ("sender-user-id", NULL, NULL, NULL, flags);
  properties[PROP_OBJECT_NAME] =
    g_param_spec_string ("object-name", NULL, NULL, NULL, flags);
  properties[PROP_CONTENT] =
    g_param_spec_boxed ("content", NULL, "The content JSON object (read-only)",
                        JSON_TYPE_OBJECT, flags);
  properties[PROP_DIRECTION] =
    g_param_spec_enum ("direction", NULL, NULL, NATTER_TYPE_MESSAGE_DIRECTION,
                       NATTER_MESSAGE_DIRECTION_SEND, flags);
  properties[PROP_SENT_STATUS] =
    g_param_spec_enum ("sent-status", NULL, NULL, NATTER_TYPE_SENT_STATUS,
                       NATTER_SENT_STATUS_SENDING, flags);
  properties[PROP_SENT_TIME] =
    g_param_spec_int64 ("sent-time", NULL, "ms since the epoch", 0, G_MAXINT64, 0, flags);
  properties[PROP_RECEIVED_TIME] =
    g_param_spec_int64 ("received-time", NULL, "ms since the epoch", 0, G_MAXINT64, 0, flags);
  properties[PROP_OFFLINE] =
    g_param_spec_boolean ("offline", NULL, "Replayed from the inbox after connect", FALSE, flags);
  properties[PROP_ERROR_CODE] =
    g_param_spec_int ("error-code", NULL, "Refusal code of a FAILED message",
                      0, G_MAXINT, 0, flags);
  properties[PROP_CLIENT_MSG_ID] =
    g_param_spec_string ("client-msg-id", NULL, NULL, NULL, flags);
  properties[PROP_FLAGS] =
    g_param_spec_uint ("flags", NULL, "MessageFlag bits", 0, NATTER_MESSAGE_FLAGS_MASK, 0, flags);
  properties[PROP_KIND] =
    g_param_spec_enum ("kind", NULL, NULL, NATTER_TYPE_MESSAGE_KIND,
                       NATTER_MESSAGE_KIND_UNSUPPORTED, flags);
  properties[PROP_SENDER_NAME] =
    g_param_spec_string ("sender-name", NULL, "The sender's display name, NULL if unknown", NULL, flags);
  properties[PROP_SENDER_PORTRAIT_URI] =
    g_param_spec_string ("sender-portrait-uri", NULL, "The sender's portrait, NULL if unknown", NULL, flags);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
natter_message_init (NatterMessage *self)
{
  self->conversation_type = NATTER_CONVERSATION_PRIVATE;
  self->direction = NATTER_MESSAGE_DIRECTION_SEND;
  self->sent_status = NATTER_SENT_STATUS_SENDING;
}

NatterMessage *
natter_message_new_full (gint64                  message_id,
                         const char             *message_uid,
                         NatterConversationType  conversation_type,
                         const char             *target_id,
                         const char             *sender_user_id,
                         const char             *object_name,
                         JsonObject             *content,
                         NatterMessageDirection  direction,
                         NatterSentStatus        sent_status,
                         gint64                  sent_time,
                         gint64                  received_time,
                         gboolean                offline,
                         int                     error_code,
                         const char             *client_msg_id,
                         guint                   flags)
{
  NatterMessage *self = g_object_new (NATTER_TYPE_MESSAGE, NULL);

  self->message_id = message_id;
  self->message_uid = (message_uid && *message_uid) ? g_strdup (message_uid) : NULL;
  self->conversation_type = conversation_type;
  self->target_id = g_strdup (target_id);
  self->sender_user_id = g_strdup (sender_user_id);
  self->object_name = g_strdup (object_name);
  self->content = content ? sealed_copy (content) : NULL;
  self->direction = direction;
  self->sent_status = sent_status;
  self->sent_time = sent_time;
  self->received_time = received_time;
  self->offline = offline;
  self->error_code = error_code;
  self->client_msg_id = (client_msg_id && *client_msg_id) ? g_strdup (client_msg_id) : NULL;
  self->flags = flags & NATTER_MESSAGE_FLAGS_MASK;

  return self;
}

NatterMessage *
natter_message_new_row (gint64                  message_id,
                        const char             *message_uid,
                        NatterConversationType  conversation_type,
                        const char             *target_id,
                        const char             *sender_user_id,
                        const char             *object_name,
                        const char             *content_text,
                        NatterMessageDirection  direction,
                        NatterSentStatus        sent_status,
                        gint64                  sent_time,
                        gint64                  received_time,
                        gboolean                offline,
                        int                     error_code,
                        const char             *client_msg_id,
                        guint                   flags)
{
  NatterMessage *self = natter_message_new_full (message_id, message_uid, conversation_type,
                                                 target_id, sender_user_id, object_name, NULL,
                                                 direction, sent_status, sent_time,
                                                 received_time, offline, error_code,
                                                 client_msg_id, flags);

  self->content_text = g_strdup (content_text);
  return self;
}

NatterMessage *
natter_message_new (NatterConversationType  conversation_type,
                    const char             *target_id,
                    const char             *sender_user_id,
                    const char             *object_name,
                    JsonObject             *content)
{
  g_return_val_if_fail (object_name != NULL, NULL);

  return natter_message_new_full (0, NULL, conversation_type, target_id, sender_user_id,
                                  object_name, content, NATTER_MESSAGE_DIRECTION_SEND,
                                  NATTER_SENT_STATUS_SENDING, 0, 0, FALSE, 0, NULL,
                                  natter_object_name_flags (object_name,
                                                            NATTER_MESSAGE_FLAG_PERSISTED |
                                                            NATTER_MESSAGE_FLAG_COUNTED));
}

/* The local "receipt" object (see receipt_object()) with the readers
 * natterd gave. */
static void
add_readers (JsonObject            *content,
             const Natter__Message *message)
{
  JsonObject *receipt = json_object_new ();
  JsonArray *read_by = json_array_new ();

  for (gsize i = 0; i < message->n_readers; i++)
    json_array_add_string_element (read_by, message->readers[i]->user_id);
  json_object_set_boolean_member (receipt, "requested", TRUE);
  json_object_set_array_member (receipt, "readBy", read_by);
  json_object_set_object_member (content, "receipt", receipt);
}

NatterMessage *
natter_message_new_from_proto (const Natter__Message  *message,
                               const char             *own_user_id,
                               gboolean                offline,
                               GError                **error)
{
  g_autoptr(JsonObject) content = NULL;
  NatterMessage *self;
  gboolean own = own_user_id != NULL && g_strcmp0 (message->sender_user_id, own_user_id) == 0;
  guint flags = natter_object_name_flags (message->object_name, message->flags);

  content = natter_content_parse (message->content, error);
  if (content == NULL)
    return NULL;
  /* natterd keeps who read one's group messages and gives them with
   * history (#16): a device that was not there learns them so. */
  if (own && message->n_readers > 0 && NATTER_CONVERSATION_TYPE_HAS_TIMELINE (message->conversation_type))
    add_readers (content, message);

  /* The server already puts the receiver's view in target_id: the sender
   * for a private chat, the original target for the sender's own devices. */
  self = natter_message_new_full (0, message->message_uid,
                                  (NatterConversationType) message->conversation_type,
                                  message->target_id, message->sender_user_id,
                                  message->object_name, content,
                                  own ? NATTER_MESSAGE_DIRECTION_SEND : NATTER_MESSAGE_DIRECTION_RECEIVE,
                                  own ? NATTER_SENT_STATUS_SENT : NATTER_SENT_STATUS_RECEIVED,
                                  message->sent_time, g_get_real_time () / 1000, offline, 0, NULL,
                                  flags);
  if (NATTER_CONVERSATION_TYPE_HAS_TIMELINE (self->conversation_type))
    self->timeline_seq = message->timeline_seq;
  return self;
}

NatterMessage *
natter_message_copy (NatterMessage *self)
{
  NatterMessage *copy;

  g_return_val_if_fail (NATTER_IS_MESSAGE (self), NULL);

  copy = natter_message_new_full (self->message_id, self->message_uid, self->conversation_type,
                                  self->target_id, self->sender_user_id, self->object_name, NULL,
                                  self->direction, self->sent_status, self->sent_time,
                                  self->received_time, self->offline, self->error_code,
                                  self->client_msg_id, self->flags);
  /* The content is sealed (shared, never changed); a row's text stays
   * unparsed until something reads it. */
  copy->content = self->content != NULL ? json_object_ref (self->content) : NULL;
  copy->content_text = g_strdup (self->content_text);
  copy->profile_name = g_strdup (self->profile_name);
  copy->profile_portrait_uri = g_strdup (self->profile_portrait_uri);
  copy->timeline_seq = self->timeline_seq;
  return copy;
}

/* ------------------------------------------------------------- setters */

#define SET_SCALAR(field, value, prop)                                       \
  G_STMT_START {                                                             \
    if (self->field != (value))                                              \
      {                                                                      \
        self->field = (value);                                               \
        g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);        \
      }                                                                      \
  } G_STMT_END

#define SET_STRING(field, value, prop)                                       \
  G_STMT_START {                                                             \
    const char *v_ = ((value) && *(value)) ? (value) : NULL;                 \
    if (g_strcmp0 (self->field, v_) != 0)                                    \
      {                                                                      \
        g_free (self->field);                                                \
        self->field = g_strdup (v_);                                         \
        g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);        \
      }                                                                      \
  } G_STMT_END

void
natter_message_set_message_id (NatterMessage *self,
                               gint64         message_id)
{
  g_return_if_fail (NATTER_IS_MESSAGE (self));
  SET_SCALAR (message_id, message_id, PROP_MESSAGE_ID);
}

void
natter_message_set_message_uid (NatterMessage *self,
                                const char    *message_uid)
{
  g_return_if_fail (NATTER_IS_MESSAGE (self));
  SET_STRING (message_uid, message_uid, PROP_MESSAGE_UID);
}

void
natter_message_set_sender_user_id (NatterMessage *self,
                                   const char    *sender_user_id)
{
  g_return_if_fail (NATTER_IS_MESSAGE (self));
  SET_STRING (sender_user_id, sender_user_id, PROP_SENDER_USER_ID);
}

void
natter_message_set_sent_status (NatterMessage    *self,
                                NatterSentStatus  sent_status)
{
  g_return_if_fail (NATTER_IS_MESSAGE (self));
  SET_SCALAR (sent_status, sent_status, PROP_SENT_STATUS);
}

void
natter_message_set_sent_time (NatterMessage *self,
                              gint64         sent_time)
{
  g_return_if_fail (NATTER_IS_MESSAGE (self));
  SET_SCALAR (sent_time, sent_time, PROP_SENT_TIME);
}

void
natter_message_set_received_time (NatterMessage *self,
                                  gint64         received_time)
{
  g_return_if_fail (NATTER_IS_MESSAGE (self));
  SET_SCALAR (received_time, received_time, PROP_RECEIVED_TIME);
}

void
natter_message_set_error_code (NatterMessage *self,
                               int            error_code)
{
  g_return_if_fail (NATTER_IS_MESSAGE (self));
  SET_SCALAR (error_code, error_code, PROP_ERROR_CODE);
}

void
natter_message_set_client_msg_id (NatterMessage *self,
                                  const char    *client_msg_id)
{
  g_return_if_fail (NATTER_IS_MESSAGE (self));
  SET_STRING (client_msg_id, client_msg_id, PROP_CLIENT_MSG_ID);
}

void
natter_message_set_offline (NatterMessage *self,
                            gboolean       offline)
{
  g_return_if_fail (NATTER_IS_MESSAGE (self));
  offline = !!offline;
  SET_SCALAR (offline, offline, PROP_OFFLINE);
}

static gboolean
content_equal (JsonObject *a,
               JsonObject *b)
{
  if (a == b)
    return TRUE;
  if (a == NULL || b == NULL)
    return FALSE;
  return json_object_equal (a, b);
}

void
natter_message_set_content (NatterMessage *self,
                            const char    *object_name,
                            JsonObject    *content)
{
  NatterMessageKind old_kind;

  g_return_if_fail (NATTER_IS_MESSAGE (self));
  g_return_if_fail (object_name != NULL);

  old_kind = natter_message_get_kind (self);
  g_object_freeze_notify (G_OBJECT (self));

  SET_STRING (object_name, object_name, PROP_OBJECT_NAME);
  if (!content_equal (ensure_content (self), content))
    {
      g_clear_pointer (&self->content, json_object_unref);
      g_clear_pointer (&self->content_text, g_free);
      self->content = sealed_copy (content);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONTENT]);
    }
  if (natter_message_get_kind (self) != old_kind)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_KIND]);

  g_object_thaw_notify (G_OBJECT (self));
}

void
natter_message_update_from (NatterMessage *self,
                            NatterMessage *other)
{
  g_return_if_fail (NATTER_IS_MESSAGE (self));
  g_return_if_fail (NATTER_IS_MESSAGE (other));

  if (self == other)
    return;

  g_object_freeze_notify (G_OBJECT (self));
  SET_SCALAR (message_id, other->message_id, PROP_MESSAGE_ID);
  SET_STRING (message_uid, other->message_uid, PROP_MESSAGE_UID);
  SET_SCALAR (conversation_type, other->conversation_type, PROP_CONVERSATION_TYPE);
  SET_STRING (target_id, other->target_id, PROP_TARGET_ID);
  SET_STRING (sender_user_id, other->sender_user_id, PROP_SENDER_USER_ID);
  natter_message_set_content (self, other->object_name, ensure_content (other));
  SET_SCALAR (direction, other->direction, PROP_DIRECTION);
  SET_SCALAR (sent_status, other->sent_status, PROP_SENT_STATUS);
  SET_SCALAR (sent_time, other->sent_time, PROP_SENT_TIME);
  SET_SCALAR (received_time, other->received_time, PROP_RECEIVED_TIME);
  SET_SCALAR (offline, other->offline, PROP_OFFLINE);
  SET_SCALAR (error_code, other->error_code, PROP_ERROR_CODE);
  SET_STRING (client_msg_id, other->client_msg_id, PROP_CLIENT_MSG_ID);
  SET_SCALAR (flags, other->flags, PROP_FLAGS);
  if (other->profile_name != NULL || other->profile_portrait_uri != NULL)
    natter_message_set_sender_profile (self, other->profile_name, other->profile_portrait_uri);
  g_object_thaw_notify (G_OBJECT (self));
}

void
natter_message_set_sender_profile (NatterMessage *self,
                                   const char    *name,
                                   const char    *portrait_uri)
{
  g_return_if_fail (NATTER_IS_MESSAGE (self));

  /* The raw fields only: comparing what the getters return would parse
   * the content of every row the store hands out. */
  if (name != NULL && *name == '\0')
    name = NULL;
  if (portrait_uri != NULL && *portrait_uri == '\0')
    portrait_uri = NULL;
  if (g_strcmp0 (self->profile_name, name) != 0)
    {
      g_free (self->profile_name);
      self->profile_name = g_strdup (name);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SENDER_NAME]);
    }
  if (g_strcmp0 (self->profile_portrait_uri, portrait_uri) != 0)
    {
      g_free (self->profile_portrait_uri);
      self->profile_portrait_uri = g_strdup (portrait_uri);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SENDER_PORTRAIT_URI]);
    }
}

/* ------------------------------------------------------------- getters */

gint64
natter_message_get_message_id (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), 0);
  return self->message_id;
}

const char *
natter_message_get_message_uid (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), NULL);
  return self->message_uid;
}

NatterConversationType
natter_message_get_conversation_type (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), 0);
  return self->conversation_type;
}

const char *
natter_message_get_target_id (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), NULL);
  return self->target_id;
}

const char *
natter_message_get_sender_user_id (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), NULL);
  return self->sender_user_id;
}

const char *
natter_message_get_object_name (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), NULL);
  return self->object_name;
}

JsonObject *
natter_message_get_content (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), NULL);
  return ensure_content (self);
}

JsonObject *
natter_message_get_expansion (NatterMessage *self)
{
  JsonNode *member;

  g_return_val_if_fail (NATTER_IS_MESSAGE (self), NULL);
  member = json_object_get_member (ensure_content (self), "expansion");
  return member != NULL && JSON_NODE_HOLDS_OBJECT (member) ? json_node_get_object (member) : NULL;
}

/* The local "receipt" object the store keeps in a group message's content
 * (natter_store_receipt_async()): {requested, answered, readBy [ids]}. */
static JsonObject *
receipt_object (NatterMessage *self)
{
  JsonNode *member = json_object_get_member (ensure_content (self), "receipt");

  return member != NULL && JSON_NODE_HOLDS_OBJECT (member) ? json_node_get_object (member) : NULL;
}

gboolean
natter_message_get_receipt_requested (NatterMessage *self)
{
  JsonObject *receipt;

  g_return_val_if_fail (NATTER_IS_MESSAGE (self), FALSE);
  receipt = receipt_object (self);
  return receipt != NULL && json_object_get_boolean_member_with_default (receipt, "requested", FALSE);
}

gboolean
natter_message_get_receipt_answered (NatterMessage *self)
{
  JsonObject *receipt;

  g_return_val_if_fail (NATTER_IS_MESSAGE (self), FALSE);
  receipt = receipt_object (self);
  return receipt != NULL && json_object_get_boolean_member_with_default (receipt, "answered", FALSE);
}

char **
natter_message_dup_read_by (NatterMessage *self)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  JsonObject *receipt;
  JsonNode *list;

  g_return_val_if_fail (NATTER_IS_MESSAGE (self), NULL);
  receipt = receipt_object (self);
  list = receipt != NULL ? json_object_get_member (receipt, "readBy") : NULL;
  if (list != NULL && JSON_NODE_HOLDS_ARRAY (list))
    for (guint i = 0; i < json_array_get_length (json_node_get_array (list)); i++)
      {
        JsonNode *element = json_array_get_element (json_node_get_array (list), i);

        if (JSON_NODE_HOLDS_VALUE (element) && json_node_get_value_type (element) == G_TYPE_STRING)
          g_strv_builder_add (builder, json_node_get_string (element));
      }
  return g_strv_builder_end (builder);
}

NatterMessageDirection
natter_message_get_direction (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), 0);
  return self->direction;
}

NatterSentStatus
natter_message_get_sent_status (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), 0);
  return self->sent_status;
}

gint64
natter_message_get_sent_time (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), 0);
  return self->sent_time;
}

gint64
natter_message_get_received_time (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), 0);
  return self->received_time;
}

gboolean
natter_message_get_offline (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), FALSE);
  return self->offline;
}

int
natter_message_get_error_code (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), 0);
  return self->error_code;
}

const char *
natter_message_get_client_msg_id (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), NULL);
  return self->client_msg_id;
}

guint
natter_message_get_flags (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), 0);
  return self->flags;
}

guint64
natter_message_get_timeline_seq (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), 0);
  return self->timeline_seq;
}

void
natter_message_set_timeline_seq (NatterMessage *self,
                                 guint64        timeline_seq)
{
  g_return_if_fail (NATTER_IS_MESSAGE (self));
  self->timeline_seq = timeline_seq;
}

NatterMessageKind
natter_message_get_kind (NatterMessage *self)
{
  const KnownName *known;

  g_return_val_if_fail (NATTER_IS_MESSAGE (self), NATTER_MESSAGE_KIND_UNSUPPORTED);

  known = find_known_name (self->object_name);
  return known ? known->kind : NATTER_MESSAGE_KIND_UNSUPPORTED;
}

gboolean
natter_message_is_editable_kind (NatterMessage *self)
{
  NatterMessageKind kind = natter_message_get_kind (self);

  return kind == NATTER_MESSAGE_KIND_TEXT || kind == NATTER_MESSAGE_KIND_REFERENCE;
}

const char *
natter_message_get_message_type (NatterMessage *self)
{
  const KnownName *known;

  g_return_val_if_fail (NATTER_IS_MESSAGE (self), NULL);

  known = find_known_name (self->object_name);
  return known ? known->message_type : "UnknownMessage";
}

gboolean
natter_message_is_supported (NatterMessage *self)
{
  return natter_message_get_kind (self) != NATTER_MESSAGE_KIND_UNSUPPORTED;
}

gboolean
natter_message_is_persisted (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), FALSE);
  return (self->flags & NATTER_MESSAGE_FLAG_PERSISTED) != 0 &&
         (self->flags & NATTER_MESSAGE_FLAG_STATUS) == 0;
}

gboolean
natter_message_is_status (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), FALSE);
  return (self->flags & NATTER_MESSAGE_FLAG_STATUS) != 0;
}

/* ------------------------------------------------------ JSON of a message */

JsonNode *
natter_message_to_json (NatterMessage *self)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  JsonObjectIter iter;
  const char *name;
  JsonNode *member;

  g_return_val_if_fail (NATTER_IS_MESSAGE (self), NULL);

  json_builder_begin_object (builder);

  json_builder_set_member_name (builder, "content");
  json_builder_begin_object (builder);
  json_object_iter_init (&iter, ensure_content (self));
  while (json_object_iter_next (&iter, &name, &member))
    {
      if (g_str_equal (name, "messageName"))
        continue;
      json_builder_set_member_name (builder, name);
      json_builder_add_value (builder, json_node_copy (member));
    }
  json_builder_set_member_name (builder, "messageName");
  json_builder_add_string_value (builder, natter_message_get_message_type (self));
  json_builder_end_object (builder);

  json_builder_set_member_name (builder, "conversationType");
  json_builder_add_int_value (builder, self->conversation_type);
  json_builder_set_member_name (builder, "objectName");
  json_builder_add_string_value (builder, self->object_name);
  json_builder_set_member_name (builder, "messageDirection");
  json_builder_add_int_value (builder, self->direction);
  json_builder_set_member_name (builder, "messageId");
  json_builder_add_int_value (builder, self->message_id);
  json_builder_set_member_name (builder, "senderUserId");
  json_builder_add_string_value (builder, self->sender_user_id);
  json_builder_set_member_name (builder, "sentStatus");
  json_builder_add_int_value (builder, self->sent_status);
  json_builder_set_member_name (builder, "sentTime");
  json_builder_add_int_value (builder, self->sent_time);
  json_builder_set_member_name (builder, "targetId");
  json_builder_add_string_value (builder, self->target_id);
  json_builder_set_member_name (builder, "messageType");
  json_builder_add_string_value (builder, natter_message_get_message_type (self));
  json_builder_set_member_name (builder, "messageUId");
  if (self->message_uid != NULL)
    json_builder_add_string_value (builder, self->message_uid);
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "receivedTime");
  json_builder_add_int_value (builder, self->received_time);
  json_builder_set_member_name (builder, "offLineMessage");
  json_builder_add_boolean_value (builder, self->offline);
  if (self->error_code != 0)
    {
      json_builder_set_member_name (builder, "errorCode");
      json_builder_add_int_value (builder, self->error_code);
    }

  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

char *
natter_message_to_json_string (NatterMessage *self)
{
  g_autoptr(JsonNode) node = natter_message_to_json (self);

  return json_to_string (node, FALSE);
}

char *
natter_message_dup_content_string (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), NULL);
  if (self->content_text != NULL)
    return g_strdup (self->content_text);
  return natter_content_to_string (ensure_content (self));
}

/* ------------------------------------------------ media waiting for upload */

/* The content member of @self's kind that holds its file's URL. */
static const char *
url_member (NatterMessage *self)
{
  switch (natter_message_get_kind (self))
    {
    case NATTER_MESSAGE_KIND_IMAGE:
      return "imageUri";
    case NATTER_MESSAGE_KIND_FILE:
      return "fileUrl";
    case NATTER_MESSAGE_KIND_HQ_VOICE:
      return "remoteUrl";
    default:
      return NULL;
    }
}

gboolean
natter_message_needs_upload (NatterMessage *self)
{
  JsonObject *content = natter_message_get_content (self);
  const char *member = url_member (self);
  const char *path;
  const char *url;

  if (content == NULL || member == NULL)
    return FALSE;
  path = json_object_get_string_member_with_default (content, NATTER_CONTENT_LOCAL_PATH, NULL);
  url = json_object_get_string_member_with_default (content, member, NULL);
  return path != NULL && *path != '\0' && (url == NULL || *url == '\0');
}

/* @content without the local path: a new object, the members shared. */
static JsonObject *
content_without_local_path (JsonObject *content)
{
  JsonObject *copy = json_object_new ();
  JsonObjectIter iter;
  const char *name;
  JsonNode *node;

  json_object_iter_init (&iter, content);
  while (json_object_iter_next (&iter, &name, &node))
    if (!g_str_equal (name, NATTER_CONTENT_LOCAL_PATH))
      json_object_set_member (copy, name, json_node_copy (node));
  return copy;
}

char *
natter_message_dup_published_content (NatterMessage *self)
{
  JsonObject *content = natter_message_get_content (self);
  g_autoptr(JsonObject) published = NULL;

  if (content == NULL || !json_object_has_member (content, NATTER_CONTENT_LOCAL_PATH))
    return natter_message_dup_content_string (self);

  published = content_without_local_path (content);
  return natter_content_to_string (published);
}

JsonObject *
natter_message_dup_uploaded_content (NatterMessage *self,
                                     const char    *url)
{
  /* A new object: the message's own is sealed and shared with the UI. */
  JsonObject *content = content_without_local_path (natter_message_get_content (self));

  g_return_val_if_fail (url_member (self) != NULL, content);

  json_object_set_string_member (content, url_member (self), url);
  return content;
}

JsonObject *
natter_message_dup_forward_content (NatterMessage *self)
{
  const char *member;
  const char *url;

  g_return_val_if_fail (NATTER_IS_MESSAGE (self), NULL);

  switch (natter_message_get_kind (self))
    {
    case NATTER_MESSAGE_KIND_RECALLED:
    case NATTER_MESSAGE_KIND_RECALL_COMMAND:
      return NULL;
    default:
      break;
    }
  if (!natter_message_is_persisted (self))
    return NULL;

  /* Media goes by reference: only once its upload has a remote URL. */
  member = url_member (self);
  url = member ? content_string (ensure_content (self), member) : NULL;
  if (member != NULL && (url == NULL || *url == '\0'))
    return NULL;
  {
    JsonObject *content = content_without_local_path (natter_message_get_content (self));

    /* The copy is a new message: not edited, nobody has reacted to it yet
     * (reactions stay enabled) or read it (the local "receipt" names who
     * read the original), and it @mentions nobody in its new chat. */
    json_object_remove_member (content, "editedTime");
    json_object_remove_member (content, "mentionedInfo");
    json_object_remove_member (content, "receipt");
    if (json_object_has_member (content, "expansion"))
      json_object_set_object_member (content, "expansion", json_object_new ());
    return content;
  }
}

/* ------------------------------------------------------- typed accessors */

const char *
natter_message_get_text (NatterMessage *self)
{
  switch (natter_message_get_kind (self))
    {
    case NATTER_MESSAGE_KIND_TEXT:
    case NATTER_MESSAGE_KIND_REFERENCE:
      return content_string (ensure_content (self), "content");
    case NATTER_MESSAGE_KIND_INFO:
    case NATTER_MESSAGE_KIND_CONTACT_NOTIFICATION:
    case NATTER_MESSAGE_KIND_GROUP_NOTIFICATION:
      return content_string (ensure_content (self), "message");
    case NATTER_MESSAGE_KIND_UNSUPPORTED:
    case NATTER_MESSAGE_KIND_IMAGE:
    case NATTER_MESSAGE_KIND_VOICE:
    case NATTER_MESSAGE_KIND_HQ_VOICE:
    case NATTER_MESSAGE_KIND_FILE:
    case NATTER_MESSAGE_KIND_RECALLED:
    case NATTER_MESSAGE_KIND_RECALL_COMMAND:
    case NATTER_MESSAGE_KIND_COMMAND:
    case NATTER_MESSAGE_KIND_TYPING:
    case NATTER_MESSAGE_KIND_READ_NOTIFICATION:
    case NATTER_MESSAGE_KIND_SYNC_READ_STATUS:
    case NATTER_MESSAGE_KIND_CS_HANDSHAKE:
    case NATTER_MESSAGE_KIND_CALL_SIGNAL:
    case NATTER_MESSAGE_KIND_CALL_SUMMARY:
    default:
      return NULL;
    }
}

const char *
natter_message_get_referred_user_id (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), NULL);
  if (natter_message_get_kind (self) != NATTER_MESSAGE_KIND_REFERENCE)
    return NULL;
  return content_string (ensure_content (self), "referMsgUserId");
}

const char *
natter_message_get_referred_object_name (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), NULL);
  if (natter_message_get_kind (self) != NATTER_MESSAGE_KIND_REFERENCE)
    return NULL;
  return content_string (ensure_content (self), "objName");
}

JsonObject *
natter_message_get_referred_content (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), NULL);
  if (natter_message_get_kind (self) != NATTER_MESSAGE_KIND_REFERENCE)
    return NULL;
  return content_object (ensure_content (self), "referMsg");
}

const char *
natter_message_get_referred_message_uid (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), NULL);
  if (natter_message_get_kind (self) != NATTER_MESSAGE_KIND_REFERENCE)
    return NULL;
  return content_string (ensure_content (self), "referMsgUid");
}

JsonObject *
natter_message_new_reply_content (NatterMessage *self,
                                  const char    *text)
{
  JsonObject *content;
  g_autoptr(JsonObject) quoted = NULL;

  g_return_val_if_fail (NATTER_IS_MESSAGE (self), NULL);

  /* The quote without the original's reactions (they would go stale in
   * it, and 300 of them would make the reply too large to send) or the
   * local "receipt" (who read it is not the chat's business). */
  quoted = content_without_local_path (natter_message_get_content (self));
  json_object_remove_member (quoted, "expansion");
  json_object_remove_member (quoted, "receipt");
  content = natter_content_new_reference (text, natter_message_get_sender_user_id (self),
                                          natter_message_get_object_name (self), quoted);
  /* RongCloud's referMsgUid: the reply can lead to the original. */
  if (natter_message_get_message_uid (self) != NULL)
    json_object_set_string_member (content, "referMsgUid", natter_message_get_message_uid (self));
  return content;
}

gint64
natter_message_get_edited_time (NatterMessage *self)
{
  JsonNode *member;

  g_return_val_if_fail (NATTER_IS_MESSAGE (self), 0);
  member = json_object_get_member (ensure_content (self), "editedTime");
  if (member == NULL || !JSON_NODE_HOLDS_VALUE (member) || json_node_get_value_type (member) != G_TYPE_INT64)
    return 0;
  return json_node_get_int (member);
}

const char *
natter_message_get_extra (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), NULL);
  return content_string (ensure_content (self), "extra");
}

int
natter_message_get_mention_type (NatterMessage *self)
{
  JsonObject *info;
  gint64 type;

  g_return_val_if_fail (NATTER_IS_MESSAGE (self), 0);

  info = content_object (ensure_content (self), "mentionedInfo");
  type = content_int (info, "type");
  return (type == 1 || type == 2) ? (int) type : 0;
}

char **
natter_message_dup_mentioned_user_ids (NatterMessage *self)
{
  g_autoptr(GStrvBuilder) builder = NULL;
  JsonObject *info;
  JsonNode *list;
  JsonArray *array;

  g_return_val_if_fail (NATTER_IS_MESSAGE (self), NULL);

  info = content_object (ensure_content (self), "mentionedInfo");
  if (info == NULL || (list = json_object_get_member (info, "userIdList")) == NULL ||
      !JSON_NODE_HOLDS_ARRAY (list))
    return NULL;

  array = json_node_get_array (list);
  builder = g_strv_builder_new ();
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);

      if (JSON_NODE_HOLDS_VALUE (element) && json_node_get_value_type (element) == G_TYPE_STRING)
        g_strv_builder_add (builder, json_node_get_string (element));
    }

  return g_strv_builder_end (builder);
}

gboolean
natter_message_mentions (NatterMessage *self,
                         const char    *user_id)
{
  g_auto(GStrv) ids = NULL;
  int type = natter_message_get_mention_type (self);

  if (type == 1)
    return TRUE;
  if (type != 2 || user_id == NULL)
    return FALSE;

  ids = natter_message_dup_mentioned_user_ids (self);
  return ids != NULL && g_strv_contains ((const char * const *) ids, user_id);
}

const char *
natter_message_get_user_name (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), NULL);
  return content_string (content_object (ensure_content (self), "user"), "name");
}

const char *
natter_message_get_user_portrait_uri (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), NULL);
  return content_string (content_object (ensure_content (self), "user"), "portraitUri");
}

const char *
natter_message_get_sender_name (NatterMessage *self)
{
  const char *name;

  g_return_val_if_fail (NATTER_IS_MESSAGE (self), NULL);

  if (self->profile_name != NULL)
    return self->profile_name;
  name = natter_message_get_user_name (self);
  return name != NULL && *name != '\0' ? name : NULL;
}

const char *
natter_message_get_sender_portrait_uri (NatterMessage *self)
{
  const char *portrait;

  g_return_val_if_fail (NATTER_IS_MESSAGE (self), NULL);

  if (self->profile_portrait_uri != NULL)
    return self->profile_portrait_uri;
  portrait = natter_message_get_user_portrait_uri (self);
  return portrait != NULL && *portrait != '\0' ? portrait : NULL;
}

GBytes *
natter_message_dup_image_thumbnail (NatterMessage *self)
{
  const char *base64;
  guchar *data;
  gsize length = 0;

  if (natter_message_get_kind (self) != NATTER_MESSAGE_KIND_IMAGE)
    return NULL;

  base64 = content_string (ensure_content (self), "content");
  if (base64 == NULL || *base64 == '\0')
    return NULL;

  /* Tolerate a data: URL prefix from senders that add one. */
  if (g_str_has_prefix (base64, "data:") && strchr (base64, ',') != NULL)
    base64 = strchr (base64, ',') + 1;

  for (const char *p = base64; *p; p++)
    if (!g_ascii_isalnum (*p) && strchr ("+/=\r\n", *p) == NULL)
      return NULL;

  data = g_base64_decode (base64, &length);
  if (length == 0)
    {
      g_free (data);
      return NULL;
    }

  return g_bytes_new_take (data, length);
}

const char *
natter_message_get_image_uri (NatterMessage *self)
{
  if (natter_message_get_kind (self) != NATTER_MESSAGE_KIND_IMAGE)
    return NULL;
  return content_string (ensure_content (self), "imageUri");
}

const char *
natter_message_get_file_name (NatterMessage *self)
{
  if (natter_message_get_kind (self) != NATTER_MESSAGE_KIND_FILE)
    return NULL;
  return content_string (ensure_content (self), "name");
}

gint64
natter_message_get_file_size (NatterMessage *self)
{
  if (natter_message_get_kind (self) != NATTER_MESSAGE_KIND_FILE)
    return 0;
  return MAX (content_int (ensure_content (self), "size"), 0);
}

const char *
natter_message_get_file_type (NatterMessage *self)
{
  if (natter_message_get_kind (self) != NATTER_MESSAGE_KIND_FILE)
    return NULL;
  return content_string (ensure_content (self), "type");
}

const char *
natter_message_get_file_url (NatterMessage *self)
{
  if (natter_message_get_kind (self) != NATTER_MESSAGE_KIND_FILE)
    return NULL;
  return content_string (ensure_content (self), "fileUrl");
}

const char *
natter_message_get_voice_url (NatterMessage *self)
{
  if (natter_message_get_kind (self) != NATTER_MESSAGE_KIND_HQ_VOICE)
    return NULL;
  return content_string (ensure_content (self), "remoteUrl");
}

int
natter_message_get_voice_duration (NatterMessage *self)
{
  NatterMessageKind kind = natter_message_get_kind (self);

  if (kind != NATTER_MESSAGE_KIND_HQ_VOICE && kind != NATTER_MESSAGE_KIND_VOICE)
    return 0;
  return (int) CLAMP (content_int (ensure_content (self), "duration"), 0, G_MAXINT);
}

const char *
natter_message_get_recall_operator_id (NatterMessage *self)
{
  if (natter_message_get_kind (self) != NATTER_MESSAGE_KIND_RECALLED)
    return NULL;
  return content_string (ensure_content (self), "operatorId");
}

gint64
natter_message_get_recall_time (NatterMessage *self)
{
  if (natter_message_get_kind (self) != NATTER_MESSAGE_KIND_RECALLED)
    return 0;
  return content_int (ensure_content (self), "recallTime");
}

const char *
natter_message_get_recalled_object_name (NatterMessage *self)
{
  if (natter_message_get_kind (self) != NATTER_MESSAGE_KIND_RECALLED)
    return NULL;
  return content_string (ensure_content (self), "originalObjectName");
}

static gboolean
is_account_notification (NatterMessage *self)
{
  NatterMessageKind kind = natter_message_get_kind (self);

  return kind == NATTER_MESSAGE_KIND_CONTACT_NOTIFICATION ||
         kind == NATTER_MESSAGE_KIND_GROUP_NOTIFICATION ||
         kind == NATTER_MESSAGE_KIND_CHATROOM_NOTIFICATION;
}

const char *
natter_message_get_notification_operation (NatterMessage *self)
{
  if (!is_account_notification (self))
    return NULL;
  return content_string (ensure_content (self), "operation");
}

const char *
natter_message_get_notification_operator (NatterMessage *self)
{
  if (!is_account_notification (self))
    return NULL;
  return content_string (ensure_content (self),
                         natter_message_get_kind (self) == NATTER_MESSAGE_KIND_CONTACT_NOTIFICATION
                         ? "sourceUserId" : "operatorUserId");
}

/* RC:GrpNtf data is an object, or (as RongCloud's SDKs send it) the JSON
 * text of one: that goes through the bounded parser like any content. */
static JsonObject *
dup_group_notification_data (NatterMessage *self)
{
  JsonNode *node;

  if (natter_message_get_kind (self) != NATTER_MESSAGE_KIND_GROUP_NOTIFICATION ||
      (node = json_object_get_member (ensure_content (self), "data")) == NULL)
    return NULL;
  if (JSON_NODE_HOLDS_OBJECT (node))
    return json_object_ref (json_node_get_object (node));
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    return natter_content_parse (json_node_get_string (node), NULL);
  return NULL;
}

char *
natter_message_dup_notification_detail (NatterMessage *self,
                                        const char    *name)
{
  g_autoptr(JsonObject) data = dup_group_notification_data (self);

  return g_strdup (content_string (data, name));
}

/* The strings of @array, or NULL when it is not an array of strings. */
static GStrv
strings_of (JsonObject *object,
            const char *name)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  JsonNode *node = object != NULL ? json_object_get_member (object, name) : NULL;
  JsonArray *array;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return NULL;
  array = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);

      if (!JSON_NODE_HOLDS_VALUE (element) || json_node_get_value_type (element) != G_TYPE_STRING)
        return NULL;
      g_strv_builder_add (builder, json_node_get_string (element));
    }
  return g_strv_builder_end (builder);
}

GStrv
natter_message_dup_notification_targets (NatterMessage   *self,
                                         GStrv           *display_names)
{
  g_autoptr(JsonObject) data = NULL;
  g_auto(GStrv) ids = NULL;
  g_auto(GStrv) names = NULL;
  const char *target;

  if (display_names != NULL)
    *display_names = NULL;
  if (natter_message_get_kind (self) == NATTER_MESSAGE_KIND_CONTACT_NOTIFICATION)
    {
      target = content_string (ensure_content (self), "targetUserId");
      if (target == NULL)
        return NULL;
      ids = g_new0 (char *, 2);
      ids[0] = g_strdup (target);
      return g_steal_pointer (&ids);
    }

  data = dup_group_notification_data (self);
  ids = strings_of (data, "targetUserIds");
  names = strings_of (data, "targetUserDisplayNames");
  /* Names only when there is one for each id. */
  if (display_names != NULL && ids != NULL && names != NULL &&
      g_strv_length (ids) == g_strv_length (names))
    *display_names = g_steal_pointer (&names);
  return g_steal_pointer (&ids);
}

gint64
natter_message_get_last_message_send_time (NatterMessage *self)
{
  NatterMessageKind kind = natter_message_get_kind (self);

  if (kind != NATTER_MESSAGE_KIND_READ_NOTIFICATION && kind != NATTER_MESSAGE_KIND_SYNC_READ_STATUS)
    return 0;
  return content_int (ensure_content (self), "lastMessageSendTime");
}

const char *
natter_message_get_call_id (NatterMessage *self)
{
  NatterMessageKind kind = natter_message_get_kind (self);

  if (kind != NATTER_MESSAGE_KIND_CALL_SIGNAL && kind != NATTER_MESSAGE_KIND_CALL_SUMMARY)
    return NULL;
  return content_string (ensure_content (self), "callId");
}

NatterCallMediaType
natter_message_get_call_media_type (NatterMessage *self)
{
  NatterMessageKind kind = natter_message_get_kind (self);
  gint64 media;

  if (kind != NATTER_MESSAGE_KIND_CALL_SIGNAL && kind != NATTER_MESSAGE_KIND_CALL_SUMMARY)
    return 0;
  media = content_int (ensure_content (self), "mediaType");
  return media == NATTER_CALL_MEDIA_VIDEO ? NATTER_CALL_MEDIA_VIDEO : NATTER_CALL_MEDIA_AUDIO;
}

NatterCallReason
natter_message_get_call_reason (NatterMessage *self)
{
  const char *name = self ? self->object_name : NULL;

  if (g_strcmp0 (name, NATTER_OBJECT_CALL_HANGUP) == 0)
    return (NatterCallReason) CLAMP (content_int (ensure_content (self), "reason"), 0, 100);
  if (g_strcmp0 (name, NATTER_OBJECT_CALL_SUMMARY) == 0)
    return (NatterCallReason) CLAMP (content_int (ensure_content (self), "status"), 0, 100);
  return NATTER_CALL_REASON_NONE;
}

const char *
natter_message_get_call_caller (NatterMessage *self)
{
  if (natter_message_get_kind (self) != NATTER_MESSAGE_KIND_CALL_SUMMARY)
    return NULL;
  return content_string (ensure_content (self), "caller");
}

gint64
natter_message_get_call_start_time (NatterMessage *self)
{
  if (natter_message_get_kind (self) != NATTER_MESSAGE_KIND_CALL_SUMMARY)
    return 0;
  return content_int (ensure_content (self), "startTime");
}

gint64
natter_message_get_call_connected_time (NatterMessage *self)
{
  if (natter_message_get_kind (self) != NATTER_MESSAGE_KIND_CALL_SUMMARY)
    return 0;
  return content_int (ensure_content (self), "connectedTime");
}

gint64
natter_message_get_call_duration (NatterMessage *self)
{
  if (natter_message_get_kind (self) != NATTER_MESSAGE_KIND_CALL_SUMMARY)
    return 0;
  return MAX (content_int (ensure_content (self), "duration"), 0);
}

static char *
one_line (const char *text)
{
  GString *line = g_string_new (NULL);

  for (const char *p = text; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c == '\n' || c == '\r' || c == '\t')
        c = ' ';
      g_string_append_unichar (line, c);
      if (line->len > 300)
        break;
    }

  return g_string_free (line, FALSE);
}

char *
natter_message_dup_preview (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), NULL);

  switch (natter_message_get_kind (self))
    {
    case NATTER_MESSAGE_KIND_TEXT:
    case NATTER_MESSAGE_KIND_REFERENCE:
    case NATTER_MESSAGE_KIND_INFO:
      return one_line (natter_message_get_text (self) ? natter_message_get_text (self) : "");
    case NATTER_MESSAGE_KIND_IMAGE:
      return g_strdup (_("[Image]"));
    case NATTER_MESSAGE_KIND_VOICE:
    case NATTER_MESSAGE_KIND_HQ_VOICE:
      /* TRANSLATORS: a voice message of %d seconds in the conversation list */
      return g_strdup_printf (_("[Voice] %d″"), natter_message_get_voice_duration (self));
    case NATTER_MESSAGE_KIND_FILE:
      return g_strdup_printf (_("[File] %s"),
                              natter_message_get_file_name (self) ? natter_message_get_file_name (self) : "");
    case NATTER_MESSAGE_KIND_RECALLED:
      return g_strdup (self->direction == NATTER_MESSAGE_DIRECTION_SEND
                       ? _("You recalled a message")
                       : _("A message was recalled"));
    case NATTER_MESSAGE_KIND_CALL_SUMMARY:
      return g_strdup (natter_message_get_call_media_type (self) == NATTER_CALL_MEDIA_VIDEO
                       ? _("[Video call]") : _("[Voice call]"));
    case NATTER_MESSAGE_KIND_CONTACT_NOTIFICATION:
    case NATTER_MESSAGE_KIND_GROUP_NOTIFICATION:
    case NATTER_MESSAGE_KIND_CHATROOM_NOTIFICATION:
      /* The app words these itself (natter_format_notice()). */
      return g_strdup_printf ("[%s]", natter_message_get_notification_operation (self) ?: "");
    case NATTER_MESSAGE_KIND_RECALL_COMMAND:
    case NATTER_MESSAGE_KIND_EDIT_COMMAND:
    case NATTER_MESSAGE_KIND_EXPANSION_COMMAND:
    case NATTER_MESSAGE_KIND_RECEIPT_REQUEST:
    case NATTER_MESSAGE_KIND_RECEIPT_RESPONSE:
    case NATTER_MESSAGE_KIND_CLEAR_COMMAND:
    case NATTER_MESSAGE_KIND_COMMAND:
    case NATTER_MESSAGE_KIND_TYPING:
    case NATTER_MESSAGE_KIND_READ_NOTIFICATION:
    case NATTER_MESSAGE_KIND_SYNC_READ_STATUS:
    case NATTER_MESSAGE_KIND_CS_HANDSHAKE:
    case NATTER_MESSAGE_KIND_CALL_SIGNAL:
      return g_strdup ("");
    case NATTER_MESSAGE_KIND_UNSUPPORTED:
    default:
      return g_strdup (_("[Unsupported message]"));
    }
}

#define SUMMARY_KEEP_BYTES 512
#define SUMMARY_TEXT_CHARS 200

char *
natter_message_summary_content (const char *object_name,
                                const char *content_text)
{
  const KnownName *known = find_known_name (object_name);
  g_autoptr(JsonObject) content = NULL;
  g_autoptr(JsonObject) summary = NULL;
  g_autoptr(GList) members = NULL;

  /* a preview says "Photo": the thumbnail (up to 100 KB) stays in the store */
  if (known != NULL && known->kind == NATTER_MESSAGE_KIND_IMAGE)
    return g_strdup ("{}");
  if (content_text == NULL || strlen (content_text) <= SUMMARY_KEEP_BYTES)
    return NULL;

  content = natter_content_parse (content_text, NULL);
  summary = json_object_new ();
  if (content == NULL)
    return natter_content_to_string (summary);

  /* scalars only, strings cut to what one line can show */
  members = json_object_get_members (content);
  for (GList *l = members; l != NULL; l = l->next)
    {
      JsonNode *node = json_object_get_member (content, l->data);

      if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
        {
          const char *text = json_node_get_string (node);

          if (g_utf8_strlen (text, -1) > SUMMARY_TEXT_CHARS)
            {
              g_autofree char *cut = g_utf8_substring (text, 0, SUMMARY_TEXT_CHARS);
              json_object_set_string_member (summary, l->data, cut);
            }
          else
            json_object_set_string_member (summary, l->data, text);
        }
      else if (JSON_NODE_HOLDS_VALUE (node))
        json_object_set_member (summary, l->data, json_node_copy (node));
    }

  return natter_content_to_string (summary);
}

char *
natter_message_dup_search_text (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), NULL);

  switch (natter_message_get_kind (self))
    {
    case NATTER_MESSAGE_KIND_TEXT:
    case NATTER_MESSAGE_KIND_REFERENCE:
    case NATTER_MESSAGE_KIND_INFO:
      return g_strdup (natter_message_get_text (self));
    case NATTER_MESSAGE_KIND_FILE:
      return g_strdup (natter_message_get_file_name (self));
    case NATTER_MESSAGE_KIND_UNSUPPORTED:
    case NATTER_MESSAGE_KIND_IMAGE:
    case NATTER_MESSAGE_KIND_VOICE:
    case NATTER_MESSAGE_KIND_HQ_VOICE:
    case NATTER_MESSAGE_KIND_RECALLED:
    case NATTER_MESSAGE_KIND_RECALL_COMMAND:
    case NATTER_MESSAGE_KIND_COMMAND:
    case NATTER_MESSAGE_KIND_TYPING:
    case NATTER_MESSAGE_KIND_READ_NOTIFICATION:
    case NATTER_MESSAGE_KIND_SYNC_READ_STATUS:
    case NATTER_MESSAGE_KIND_CS_HANDSHAKE:
    case NATTER_MESSAGE_KIND_CALL_SIGNAL:
    case NATTER_MESSAGE_KIND_CALL_SUMMARY:
    default:
      return NULL;
    }
}
