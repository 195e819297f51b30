/* natter-notifier.c — desktop notifications for a profile's messages
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gi18n.h>
#include <gtk/gtk.h>

#include "natter-application.h"
#include "natter-format.h"
#include "natter-notifier.h"
#include "natter-call-module.h"

struct _NatterNotifier
{
  GObject parent_instance;

  char *profile_dir;
  NatterClient *client;
  GSignalGroup *client_signals;
  GSettings *settings;
  GObject *sound;  /* the call module's NatterSound */
  gboolean sound_loading;  /* the call module is on its way for it */
  /* notification id → its NatterConversation, until read (here or on
   * another device) */
  GHashTable *notified;
};

G_DEFINE_FINAL_TYPE (NatterNotifier, natter_notifier, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_PROFILE_DIR,
  PROP_CLIENT,
  N_PROPS
};

enum {
  MESSAGE_IN_VIEW,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

/* Unique across profiles: alice's and bob's windows share the app. */
static char *
notification_id (NatterNotifier         *self,
                 NatterConversationType  type,
                 const char             *target_id)
{
  return g_strdup_printf ("%s|%d|%s", self->profile_dir, type, target_id);
}

static void unread_changed_cb (NatterNotifier     *self,
                               GParamSpec         *pspec,
                               NatterConversation *conversation);

static void
forget (NatterNotifier *self,
        const char     *id)
{
  NatterConversation *conversation = g_hash_table_lookup (self->notified, id);

  if (conversation != NULL)
    g_signal_handlers_disconnect_by_func (conversation, unread_changed_cb, self);
  g_hash_table_remove (self->notified, id);
}

/* Takes @id. */
static void
remember (NatterNotifier     *self,
          char               *id,
          NatterConversation *conversation)
{
  NatterConversation *old = g_hash_table_lookup (self->notified, id);

  if (old == conversation)
    {
      g_free (id);
      return;
    }
  if (old != NULL)
    g_signal_handlers_disconnect_by_func (old, unread_changed_cb, self);
  g_signal_connect_object (conversation, "notify::unread-count", G_CALLBACK (unread_changed_cb),
                           self, G_CONNECT_SWAPPED);
  g_hash_table_replace (self->notified, id, g_object_ref (conversation));
}

void
natter_notifier_withdraw (NatterNotifier         *self,
                          NatterConversationType  type,
                          const char             *target_id)
{
  g_autofree char *id = NULL;

  g_return_if_fail (NATTER_IS_NOTIFIER (self));

  id = notification_id (self, type, target_id);
  g_application_withdraw_notification (g_application_get_default (), id);
  forget (self, id);
}

static void
withdraw_all (NatterNotifier *self)
{
  GHashTableIter iter;
  gpointer id, conversation;

  g_hash_table_iter_init (&iter, self->notified);
  while (g_hash_table_iter_next (&iter, &id, &conversation))
    {
      g_signal_handlers_disconnect_by_func (conversation, unread_changed_cb, self);
      g_application_withdraw_notification (g_application_get_default (), id);
    }
  g_hash_table_remove_all (self->notified);
}

/* A chat read here or on another device: its notification goes. */
static void
unread_changed_cb (NatterNotifier     *self,
                   GParamSpec         *pspec,
                   NatterConversation *conversation)
{
  if (natter_conversation_get_unread_count (conversation) == 0)
    natter_notifier_withdraw (self, natter_conversation_get_conversation_type (conversation),
                              natter_conversation_get_target_id (conversation));
}

static void
mark_read_done_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!natter_client_clear_unread_finish (NATTER_CLIENT (object), result, &error))
    g_message ("Marking as read: %s", error->message);
}

void
natter_notifier_mark_read (NatterNotifier         *self,
                           NatterConversationType  type,
                           const char             *target_id)
{
  g_return_if_fail (NATTER_IS_NOTIFIER (self));

  if (self->client == NULL || target_id == NULL)
    return;
  natter_client_clear_unread_async (self->client, type, target_id, NULL, mark_read_done_cb, NULL);
  natter_notifier_withdraw (self, type, target_id);
}

/* --------------------------------------------------------------- notify */

typedef struct {
  NatterNotifier *self;
  NatterClient *client;
  NatterMessage *message;
} NotifyData;

static void
notify_data_free (NotifyData *data)
{
  g_object_unref (data->self);
  g_object_unref (data->client);
  g_object_unref (data->message);
  g_free (data);
}

static void
sound_module_ready (gpointer                object,
                    const NatterCallModule *module)
{
  NatterNotifier *self = object;

  self->sound_loading = FALSE;
  /* not after dispose (no settings then): the sound would outlive it */
  if (module == NULL || self->settings == NULL)
    return;
  if (self->sound == NULL)
    self->sound = module->sound_new (NATTER_CALL_MODULE_SOUND_MESSAGE);
  module->sound_play (self->sound, FALSE);
}

static void
play_sound (NatterNotifier *self)
{
  if (!g_settings_get_boolean (self->settings, "sounds") || self->sound_loading)
    return;
  /* ours, in the GResource: the same in Flatpak and outside it. The
   * first sound may come before the call module's preload ended: it
   * waits for the module, not opened on the main thread. */
  self->sound_loading = TRUE;
  natter_call_module_with (self, sound_module_ready);
}

static void
notify_conversation_cb (GObject      *object,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  NotifyData *data = user_data;
  NatterNotifier *self = data->self;
  NatterMessage *message = data->message;
  g_autoptr(NatterConversation) conv = NULL;
  g_autoptr(GNotification) notification = NULL;
  g_autoptr(GIcon) icon = NULL;
  g_autofree char *id = NULL;
  g_autofree char *body = NULL;
  g_autofree char *account_title = NULL;
  const char *title;

  conv = natter_store_get_conversation_finish (NATTER_STORE (object), result, NULL);
  /* muted (unless it @mentions this user), or signed out meanwhile */
  if ((conv != NULL && natter_conversation_get_muted (conv) &&
       !natter_message_mentions (message, natter_client_get_user_id (data->client))) ||
      data->client != self->client)
    goto out;

  title = conv != NULL ? natter_conversation_get_title (conv) : natter_message_get_target_id (message);
  /* several accounts: which one it came to */
  if (NATTER_IS_APPLICATION (g_application_get_default ()) &&
      natter_application_get_n_accounts (NATTER_APPLICATION (g_application_get_default ())) > 1)
    /* Translators: a notification's title: the chat, then the account it came to */
    title = account_title = g_strdup_printf (_("%s (%s)"), title, natter_client_get_user_id (self->client));
  if (!g_settings_get_boolean (self->settings, "notification-preview"))
    body = g_strdup (_("New message"));
  else
    {
      g_autofree char *preview = natter_format_preview (message);
      const char *sender = natter_message_get_sender_name (message);

      if (natter_message_get_conversation_type (message) != NATTER_CONVERSATION_PRIVATE)
        body = g_strdup_printf ("%s: %s", sender != NULL ? sender : natter_message_get_sender_user_id (message),
                                preview);
      else
        body = g_steal_pointer (&preview);
    }

  notification = g_notification_new (title);
  g_notification_set_body (notification, body);
  icon = g_themed_icon_new (APP_ID);
  g_notification_set_icon (notification, icon);
  g_notification_set_default_action_and_target (notification, "app.open-conversation", "(sis)",
                                                self->profile_dir,
                                                natter_message_get_conversation_type (message),
                                                natter_message_get_target_id (message));
  g_notification_add_button_with_target (notification, _("Mark as Read"), "app.mark-conversation-read",
                                         "(sis)", self->profile_dir,
                                         natter_message_get_conversation_type (message),
                                         natter_message_get_target_id (message));
  id = notification_id (self, natter_message_get_conversation_type (message),
                        natter_message_get_target_id (message));
  g_application_send_notification (g_application_get_default (), id, notification);
  if (conv != NULL)
    remember (self, g_steal_pointer (&id), conv);
  play_sound (self);

out:
  notify_data_free (data);
}

static void
message_received_cb (NatterNotifier *self,
                     NatterMessage  *message)
{
  NotifyData *data;
  gboolean in_view = FALSE;

  if (natter_message_get_direction (message) != NATTER_MESSAGE_DIRECTION_RECEIVE ||
      !natter_message_is_persisted (message) ||
      (natter_message_get_flags (message) & NATTER_MESSAGE_FLAG_COUNTED) == 0 ||
      natter_message_get_offline (message) ||
      !g_settings_get_boolean (self->settings, "notifications"))
    return;

  g_signal_emit (self, signals[MESSAGE_IN_VIEW], 0, message, &in_view);
  if (in_view)
    return;

  data = g_new0 (NotifyData, 1);
  data->self = g_object_ref (self);
  data->client = g_object_ref (self->client);
  data->message = g_object_ref (message);
  natter_store_get_conversation_async (natter_client_get_store (self->client),
                                       natter_message_get_conversation_type (message),
                                       natter_message_get_target_id (message),
                                       NULL, notify_conversation_cb, data);
}

/* --------------------------------------------------------------- object */

NatterClient *
natter_notifier_get_client (NatterNotifier *self)
{
  g_return_val_if_fail (NATTER_IS_NOTIFIER (self), NULL);
  return self->client;
}

/* Nothing of the account before stays on screen. */
void
natter_notifier_set_client (NatterNotifier *self,
                            NatterClient   *client)
{
  g_return_if_fail (NATTER_IS_NOTIFIER (self));
  g_return_if_fail (client == NULL || NATTER_IS_CLIENT (client));

  if (self->client == client)
    return;
  withdraw_all (self);
  g_set_object (&self->client, client);
  g_signal_group_set_target (self->client_signals, client);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CLIENT]);
}

static void
natter_notifier_dispose (GObject *object)
{
  NatterNotifier *self = (NatterNotifier *) object;

  if (self->notified != NULL)
    {
      GHashTableIter iter;
      gpointer conversation;

      /* they stay on the desktop: their actions open the profile again */
      g_hash_table_iter_init (&iter, self->notified);
      while (g_hash_table_iter_next (&iter, NULL, &conversation))
        g_signal_handlers_disconnect_by_func (conversation, unread_changed_cb, self);
      g_hash_table_remove_all (self->notified);
    }
  if (self->client_signals != NULL)
    g_signal_group_set_target (self->client_signals, NULL);
  g_clear_object (&self->client_signals);
  g_clear_object (&self->client);
  g_clear_object (&self->sound);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (natter_notifier_parent_class)->dispose (object);
}

static void
natter_notifier_finalize (GObject *object)
{
  NatterNotifier *self = (NatterNotifier *) object;

  g_clear_pointer (&self->notified, g_hash_table_unref);
  g_free (self->profile_dir);

  G_OBJECT_CLASS (natter_notifier_parent_class)->finalize (object);
}

static void
natter_notifier_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  NatterNotifier *self = NATTER_NOTIFIER (object);

  switch (prop_id)
    {
    case PROP_PROFILE_DIR:
      g_value_set_string (value, self->profile_dir);
      break;
    case PROP_CLIENT:
      g_value_set_object (value, self->client);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_notifier_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  NatterNotifier *self = NATTER_NOTIFIER (object);

  switch (prop_id)
    {
    case PROP_PROFILE_DIR:
      self->profile_dir = g_value_dup_string (value);
      break;
    case PROP_CLIENT:
      natter_notifier_set_client (self, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_notifier_class_init (NatterNotifierClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = natter_notifier_dispose;
  object_class->finalize = natter_notifier_finalize;
  object_class->get_property = natter_notifier_get_property;
  object_class->set_property = natter_notifier_set_property;

  properties[PROP_PROFILE_DIR] =
    g_param_spec_string ("profile-dir", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CLIENT] =
    g_param_spec_object ("client", NULL, NULL, NATTER_TYPE_CLIENT,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[MESSAGE_IN_VIEW] =
    g_signal_new ("message-in-view", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, g_signal_accumulator_true_handled, NULL, NULL,
                  G_TYPE_BOOLEAN, 1, NATTER_TYPE_MESSAGE);
}

static void
natter_notifier_init (NatterNotifier *self)
{
  self->notified = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->settings = g_settings_new (APP_ID);
  self->client_signals = g_signal_group_new (NATTER_TYPE_CLIENT);
  g_signal_group_connect_object (self->client_signals, "message-received",
                                 G_CALLBACK (message_received_cb), self, G_CONNECT_SWAPPED);
}

NatterNotifier *
natter_notifier_new (const char *profile_dir)
{
  g_return_val_if_fail (profile_dir != NULL, NULL);
  return g_object_new (NATTER_TYPE_NOTIFIER, "profile-dir", profile_dir, NULL);
}
