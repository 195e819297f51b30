/* natter-conversation.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-conversation-private.h"

struct _NatterConversation
{
  GObject parent_instance;

  NatterConversationType type;
  char *target_id;
  char *title;
  char *portrait_uri;
  NatterMessage *latest_message;
  guint unread_count;
  guint mention_count;
  gboolean pinned;
  gboolean muted;
  char *draft;
  gint64 updated_time;
};

G_DEFINE_FINAL_TYPE (NatterConversation, natter_conversation, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_CONVERSATION_TYPE,
  PROP_TARGET_ID,
  PROP_TITLE,
  PROP_PORTRAIT_URI,
  PROP_LATEST_MESSAGE,
  PROP_UNREAD_COUNT,
  PROP_MENTION_COUNT,
  PROP_PINNED,
  PROP_MUTED,
  PROP_DRAFT,
  PROP_UPDATED_TIME,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
natter_conversation_finalize (GObject *object)
{
  NatterConversation *self = (NatterConversation *) object;

  g_free (self->target_id);
  g_free (self->title);
  g_free (self->portrait_uri);
  g_clear_object (&self->latest_message);
  g_free (self->draft);

  G_OBJECT_CLASS (natter_conversation_parent_class)->finalize (object);
}

static void
natter_conversation_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  NatterConversation *self = NATTER_CONVERSATION (object);

  switch (prop_id)
    {
    case PROP_CONVERSATION_TYPE:
      g_value_set_enum (value, self->type);
      break;
    case PROP_TARGET_ID:
      g_value_set_string (value, self->target_id);
      break;
    case PROP_TITLE:
      g_value_set_string (value, natter_conversation_get_title (self));
      break;
    case PROP_PORTRAIT_URI:
      g_value_set_string (value, self->portrait_uri);
      break;
    case PROP_LATEST_MESSAGE:
      g_value_set_object (value, self->latest_message);
      break;
    case PROP_UNREAD_COUNT:
      g_value_set_uint (value, self->unread_count);
      break;
    case PROP_MENTION_COUNT:
      g_value_set_uint (value, self->mention_count);
      break;
    case PROP_PINNED:
      g_value_set_boolean (value, self->pinned);
      break;
    case PROP_MUTED:
      g_value_set_boolean (value, self->muted);
      break;
    case PROP_DRAFT:
      g_value_set_string (value, natter_conversation_get_draft (self));
      break;
    case PROP_UPDATED_TIME:
      g_value_set_int64 (value, self->updated_time);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_conversation_class_init (NatterConversationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = natter_conversation_finalize;
  object_class->get_property = natter_conversation_get_property;

  properties[PROP_CONVERSATION_TYPE] =
    g_param_spec_enum ("conversation-type", NULL, NULL, NATTER_TYPE_CONVERSATION_TYPE,
                       NATTER_CONVERSATION_PRIVATE, flags);
  properties[PROP_TARGET_ID] =
    g_param_spec_string ("target-id", NULL, NULL, NULL, flags);
  properties[PROP_TITLE] =
    g_param_spec_string ("title", NULL, "Name when known, else the target id", NULL, flags);
  properties[PROP_PORTRAIT_URI] =
    g_param_spec_string ("portrait-uri", NULL, NULL, NULL, flags);
  properties[PROP_LATEST_MESSAGE] =
    g_param_spec_object ("latest-message", NULL, NULL, NATTER_TYPE_MESSAGE, flags);
  properties[PROP_UNREAD_COUNT] =
    g_param_spec_uint ("unread-count", NULL, NULL, 0, G_MAXUINT, 0, flags);
  properties[PROP_MENTION_COUNT] =
    g_param_spec_uint ("mention-count", NULL, NULL, 0, G_MAXUINT, 0, flags);
  properties[PROP_PINNED] =
    g_param_spec_boolean ("pinned", NULL, NULL, FALSE, flags);
  properties[PROP_MUTED] =
    g_param_spec_boolean ("muted", NULL, NULL, FALSE, flags);
  properties[PROP_DRAFT] =
    g_param_spec_string ("draft", NULL, NULL, "", flags);
  properties[PROP_UPDATED_TIME] =
    g_param_spec_int64 ("updated-time", NULL, "ms since the epoch", 0, G_MAXINT64, 0, flags);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
natter_conversation_init (NatterConversation *self)
{
  self->type = NATTER_CONVERSATION_PRIVATE;
}

static gboolean
set_string (char       **field,
            const char  *value)
{
  const char *v = (value && *value) ? value : NULL;

  if (g_strcmp0 (*field, v) == 0)
    return FALSE;
  g_free (*field);
  *field = g_strdup (v);
  return TRUE;
}

void
natter_conversation_update (NatterConversation           *self,
                            const NatterConversationData *data)
{
  GObject *object = G_OBJECT (self);

  g_return_if_fail (NATTER_IS_CONVERSATION (self));

  g_object_freeze_notify (object);

  if (self->type != data->type)
    {
      self->type = data->type;
      g_object_notify_by_pspec (object, properties[PROP_CONVERSATION_TYPE]);
    }
  if (set_string (&self->target_id, data->target_id))
    g_object_notify_by_pspec (object, properties[PROP_TARGET_ID]);
  if (set_string (&self->title, data->title))
    g_object_notify_by_pspec (object, properties[PROP_TITLE]);
  if (set_string (&self->portrait_uri, data->portrait_uri))
    g_object_notify_by_pspec (object, properties[PROP_PORTRAIT_URI]);
  if (g_set_object (&self->latest_message, data->latest_message))
    g_object_notify_by_pspec (object, properties[PROP_LATEST_MESSAGE]);
  if (self->unread_count != data->unread_count)
    {
      self->unread_count = data->unread_count;
      g_object_notify_by_pspec (object, properties[PROP_UNREAD_COUNT]);
    }
  if (self->mention_count != data->mention_count)
    {
      self->mention_count = data->mention_count;
      g_object_notify_by_pspec (object, properties[PROP_MENTION_COUNT]);
    }
  if (self->pinned != !!data->pinned)
    {
      self->pinned = !!data->pinned;
      g_object_notify_by_pspec (object, properties[PROP_PINNED]);
    }
  if (self->muted != !!data->muted)
    {
      self->muted = !!data->muted;
      g_object_notify_by_pspec (object, properties[PROP_MUTED]);
    }
  if (set_string (&self->draft, data->draft))
    g_object_notify_by_pspec (object, properties[PROP_DRAFT]);
  if (self->updated_time != data->updated_time)
    {
      self->updated_time = data->updated_time;
      g_object_notify_by_pspec (object, properties[PROP_UPDATED_TIME]);
    }

  g_object_thaw_notify (object);
}

NatterConversation *
natter_conversation_new (const NatterConversationData *data)
{
  NatterConversation *self = g_object_new (NATTER_TYPE_CONVERSATION, NULL);

  natter_conversation_update (self, data);
  return self;
}

void
natter_conversation_update_from (NatterConversation *self,
                                 NatterConversation *other)
{
  NatterConversationData data = {
    .type = other->type,
    .target_id = other->target_id,
    .title = other->title,
    .portrait_uri = other->portrait_uri,
    .latest_message = other->latest_message,
    .unread_count = other->unread_count,
    .mention_count = other->mention_count,
    .pinned = other->pinned,
    .muted = other->muted,
    .draft = other->draft,
    .updated_time = other->updated_time,
  };

  if (self != other)
    natter_conversation_update (self, &data);
}

void
natter_conversation_latest_changed (NatterConversation *self)
{
  g_return_if_fail (NATTER_IS_CONVERSATION (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LATEST_MESSAGE]);
}

NatterConversationType
natter_conversation_get_conversation_type (NatterConversation *self)
{
  g_return_val_if_fail (NATTER_IS_CONVERSATION (self), 0);
  return self->type;
}

const char *
natter_conversation_get_target_id (NatterConversation *self)
{
  g_return_val_if_fail (NATTER_IS_CONVERSATION (self), NULL);
  return self->target_id;
}

const char *
natter_conversation_get_title (NatterConversation *self)
{
  g_return_val_if_fail (NATTER_IS_CONVERSATION (self), NULL);
  return self->title ? self->title : (self->target_id ? self->target_id : "");
}

const char *
natter_conversation_get_portrait_uri (NatterConversation *self)
{
  g_return_val_if_fail (NATTER_IS_CONVERSATION (self), NULL);
  return self->portrait_uri;
}

NatterMessage *
natter_conversation_get_latest_message (NatterConversation *self)
{
  g_return_val_if_fail (NATTER_IS_CONVERSATION (self), NULL);
  return self->latest_message;
}

guint
natter_conversation_get_unread_count (NatterConversation *self)
{
  g_return_val_if_fail (NATTER_IS_CONVERSATION (self), 0);
  return self->unread_count;
}

guint
natter_conversation_get_mention_count (NatterConversation *self)
{
  g_return_val_if_fail (NATTER_IS_CONVERSATION (self), 0);
  return self->mention_count;
}

gboolean
natter_conversation_get_pinned (NatterConversation *self)
{
  g_return_val_if_fail (NATTER_IS_CONVERSATION (self), FALSE);
  return self->pinned;
}

gboolean
natter_conversation_get_muted (NatterConversation *self)
{
  g_return_val_if_fail (NATTER_IS_CONVERSATION (self), FALSE);
  return self->muted;
}

const char *
natter_conversation_get_draft (NatterConversation *self)
{
  g_return_val_if_fail (NATTER_IS_CONVERSATION (self), NULL);
  return self->draft ? self->draft : "";
}

gint64
natter_conversation_get_updated_time (NatterConversation *self)
{
  g_return_val_if_fail (NATTER_IS_CONVERSATION (self), 0);
  return self->updated_time;
}

char *
natter_conversation_key (NatterConversationType  type,
                         const char             *target_id)
{
  return g_strdup_printf ("%d:%s", (int) type, target_id ? target_id : "");
}

char *
natter_conversation_dup_key (NatterConversation *self)
{
  g_return_val_if_fail (NATTER_IS_CONVERSATION (self), NULL);
  return natter_conversation_key (self->type, self->target_id);
}
