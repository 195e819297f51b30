/* natter-call-controller.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gi18n.h>
#include <gst/gst.h>

#include "natter-call-controller.h"

struct _NatterCallController
{
  GObject            parent_instance;

  GtkApplication    *application;   /* unowned: the app outlives its accounts */
  NatterCallManager *manager;
  NatterCallWindow  *window;        /* weak */
  NatterCall        *ringing_call;  /* the incoming call we ring for */
  AdwMessageDialog  *dialog;        /* weak */
  GSettings         *settings;      /* camera, microphone, speaker */
  GstElement        *ringtone;
  GstElement        *ringtone_volume;
  guint              ring_id;
  guint              ring_tick;
};

G_DEFINE_FINAL_TYPE (NatterCallController, natter_call_controller, G_TYPE_OBJECT)

/* Every controller of the process (one per window/profile): the app-wide
 * notification actions look for the call among them. */
static GList *controllers;

/* -------------------------------------------------------------- ringtone */

/* 1 s tone, 2 s pause, as phones ring. */
static gboolean
ring_tick (gpointer user_data)
{
  NatterCallController *self = user_data;

  self->ring_tick = (self->ring_tick + 1) % 3;
  g_object_set (self->ringtone_volume, "mute", self->ring_tick != 0, NULL);
  return G_SOURCE_CONTINUE;
}

static void
start_ringtone (NatterCallController *self)
{
  const char *test = g_getenv ("NATTER_CALL_TEST_SOURCES");
  gboolean quiet = test != NULL && *test != '\0' && g_strcmp0 (test, "0") != 0;
  g_autoptr(GError) error = NULL;

  if (self->ringtone != NULL)
    return;
  self->ringtone = gst_parse_launch (quiet
                                     ? "audiotestsrc is-live=true wave=sine freq=480 ! volume name=v ! fakesink"
                                     : "audiotestsrc is-live=true wave=sine freq=480 volume=0.25 ! "
                                       "volume name=v ! autoaudiosink",
                                     &error);
  if (self->ringtone == NULL)
    {
      g_message ("No ringtone: %s", error->message);
      return;
    }
  self->ringtone_volume = gst_bin_get_by_name (GST_BIN (self->ringtone), "v");
  self->ring_tick = 0;
  gst_element_set_state (self->ringtone, GST_STATE_PLAYING);
  self->ring_id = g_timeout_add (1000, ring_tick, self);
}

static void
stop_ringtone (NatterCallController *self)
{
  g_clear_handle_id (&self->ring_id, g_source_remove);
  if (self->ringtone != NULL)
    gst_element_set_state (self->ringtone, GST_STATE_NULL);
  gst_clear_object (&self->ringtone_volume);
  gst_clear_object (&self->ringtone);
}

/* ---------------------------------------------------------------- window */

static NatterCallWindow *
show_window (NatterCallController *self,
             NatterCall           *call,
             const char           *peer_name,
             GtkWindow            *parent)
{
  if (self->window != NULL && natter_call_window_get_call (self->window) == call)
    {
      gtk_window_present (GTK_WINDOW (self->window));
      return self->window;
    }

  if (self->window != NULL)
    g_object_remove_weak_pointer (G_OBJECT (self->window), (gpointer *) &self->window);
  self->window = natter_call_window_new (call, peer_name);
  g_object_add_weak_pointer (G_OBJECT (self->window), (gpointer *) &self->window);
  gtk_window_set_application (GTK_WINDOW (self->window), self->application);
  if (parent != NULL)
    gtk_window_set_transient_for (GTK_WINDOW (self->window), parent);
  gtk_window_present (GTK_WINDOW (self->window));
  return self->window;
}

/* -------------------------------------------------------------- incoming */

static char *
notification_id (NatterCall *call)
{
  return g_strdup_printf ("natter-call-%s", natter_call_get_call_id (call));
}

static void
stop_ringing (NatterCallController *self)
{
  stop_ringtone (self);
  if (self->ringing_call != NULL)
    {
      g_autofree char *id = notification_id (self->ringing_call);

      g_application_withdraw_notification (G_APPLICATION (self->application), id);
      g_signal_handlers_disconnect_by_data (self->ringing_call, self);
      g_clear_object (&self->ringing_call);
    }
  if (self->dialog != NULL)
    gtk_window_destroy (GTK_WINDOW (self->dialog));
}

static void
answer (NatterCallController *self,
        NatterCall           *call)
{
  g_autoptr(NatterCall) keep = g_object_ref (call);

  stop_ringing (self);
  natter_call_accept (call);
  show_window (self, call, NULL, gtk_application_get_active_window (self->application));
}

static void
on_ringing_state_changed (NatterCall           *call,
                          NatterCallState       new_state,
                          NatterCallState       old_state,
                          NatterCallController *self)
{
  if (new_state != NATTER_CALL_STATE_INCOMING)
    stop_ringing (self);
}

static void
on_dialog_response (AdwMessageDialog     *dialog,
                    const char           *response,
                    NatterCallController *self)
{
  NatterCall *call = self->ringing_call;

  if (call == NULL)
    return;
  if (g_str_equal (response, "answer"))
    answer (self, call);
  else
    natter_call_reject (call);
}

static void
on_incoming_call (NatterCallManager    *manager,
                  NatterCall           *call,
                  NatterCallController *self)
{
  gboolean video = natter_call_get_media_type (call) == NATTER_CALL_MEDIA_VIDEO;
  const char *peer = natter_call_get_peer_id (call);
  const char *kind = video ? _("Incoming video call") : _("Incoming voice call");
  g_autoptr(GNotification) notification = g_notification_new (kind);
  g_autofree char *body = g_strdup_printf (_("%s is calling you"), peer);
  g_autofree char *id = notification_id (call);
  GtkWindow *parent = gtk_application_get_active_window (self->application);
  g_autoptr(GIcon) icon = g_themed_icon_new (video ? "camera-video-symbolic" : "call-start-symbolic");

  stop_ringing (self);

  /* Both dialled each other and theirs won: it is already accepted. */
  if (natter_call_get_state (call) == NATTER_CALL_STATE_ACTIVE)
    {
      show_window (self, call, NULL, parent);
      return;
    }

  self->ringing_call = g_object_ref (call);
  g_signal_connect (call, "state-changed", G_CALLBACK (on_ringing_state_changed), self);

  g_notification_set_body (notification, body);
  g_notification_set_priority (notification, G_NOTIFICATION_PRIORITY_URGENT);
  g_notification_set_icon (notification, icon);
  g_notification_add_button_with_target (notification, _("Decline"), "app.call-decline", "s",
                                         natter_call_get_call_id (call));
  g_notification_add_button_with_target (notification, _("Answer"), "app.call-answer", "s",
                                         natter_call_get_call_id (call));
  g_notification_set_default_action_and_target (notification, "app.call-answer", "s",
                                                natter_call_get_call_id (call));
  g_application_send_notification (G_APPLICATION (self->application), id, notification);

  self->dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (parent, peer, kind));
  g_object_add_weak_pointer (G_OBJECT (self->dialog), (gpointer *) &self->dialog);
  adw_message_dialog_add_responses (self->dialog,
                                    "decline", _("_Decline"),
                                    "answer", _("_Answer"),
                                    NULL);
  adw_message_dialog_set_response_appearance (self->dialog, "decline", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_response_appearance (self->dialog, "answer", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (self->dialog, "answer");
  adw_message_dialog_set_close_response (self->dialog, "decline");
  g_signal_connect_object (self->dialog, "response", G_CALLBACK (on_dialog_response), self, 0);
  gtk_window_present (GTK_WINDOW (self->dialog));

  start_ringtone (self);
}

static NatterCallController *
controller_ringing_for (GVariant *parameter)
{
  for (GList *l = controllers; l != NULL; l = l->next)
    {
      NatterCallController *self = l->data;
      if (self->ringing_call != NULL &&
          g_strcmp0 (natter_call_get_call_id (self->ringing_call),
                     g_variant_get_string (parameter, NULL)) == 0)
        return self;
    }
  return NULL;
}

static void
answer_activated (GSimpleAction *action,
                  GVariant      *parameter,
                  gpointer       user_data)
{
  NatterCallController *self = controller_ringing_for (parameter);

  if (self != NULL)
    answer (self, self->ringing_call);
}

static void
decline_activated (GSimpleAction *action,
                   GVariant      *parameter,
                   gpointer       user_data)
{
  NatterCallController *self = controller_ringing_for (parameter);

  if (self != NULL)
    natter_call_reject (self->ringing_call);
}

/* ---------------------------------------------------------------- GObject */

static void
natter_call_controller_dispose (GObject *object)
{
  NatterCallController *self = NATTER_CALL_CONTROLLER (object);

  stop_ringing (self);
  if (self->window != NULL)
    {
      g_object_remove_weak_pointer (G_OBJECT (self->window), (gpointer *) &self->window);
      gtk_window_destroy (GTK_WINDOW (self->window));
      self->window = NULL;
    }
  controllers = g_list_remove (controllers, self);
  if (self->application != NULL && controllers == NULL)
    {
      g_action_map_remove_action (G_ACTION_MAP (self->application), "call-answer");
      g_action_map_remove_action (G_ACTION_MAP (self->application), "call-decline");
    }
  self->application = NULL;
  g_clear_object (&self->settings);
  if (self->manager != NULL)
    g_signal_handlers_disconnect_by_data (self->manager, self);
  g_clear_object (&self->manager);

  G_OBJECT_CLASS (natter_call_controller_parent_class)->dispose (object);
}

static void
natter_call_controller_class_init (NatterCallControllerClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = natter_call_controller_dispose;
}

static void
natter_call_controller_init (NatterCallController *self)
{
}

NatterCallController *
natter_call_controller_new (GtkApplication *application,
                            NatterClient   *client)
{
  const GActionEntry actions[] = {
    { "call-answer", answer_activated, "s" },
    { "call-decline", decline_activated, "s" },
  };
  NatterCallController *self;
  GSettingsSchema *schema;

  g_return_val_if_fail (GTK_IS_APPLICATION (application), NULL);
  g_return_val_if_fail (NATTER_IS_CLIENT (client), NULL);

  gst_init (NULL, NULL);

  self = g_object_new (NATTER_TYPE_CALL_CONTROLLER, NULL);
  self->application = application;
  self->manager = natter_call_manager_new (client);
  g_signal_connect_object (self->manager, "incoming-call", G_CALLBACK (on_incoming_call), self, 0);

  /* The devices chosen in Preferences (when the schema is installed). */
  schema = g_settings_schema_source_lookup (g_settings_schema_source_get_default (), APP_ID, TRUE);
  if (schema != NULL && g_settings_schema_has_key (schema, "camera") &&
      g_settings_schema_has_key (schema, "microphone") && g_settings_schema_has_key (schema, "speaker"))
    {
      self->settings = g_settings_new (APP_ID);
      g_settings_bind (self->settings, "camera", self->manager, "camera", G_SETTINGS_BIND_GET);
      g_settings_bind (self->settings, "microphone", self->manager, "microphone", G_SETTINGS_BIND_GET);
      g_settings_bind (self->settings, "speaker", self->manager, "speaker", G_SETTINGS_BIND_GET);
    }
  g_clear_pointer (&schema, g_settings_schema_unref);
  if (g_action_map_lookup_action (G_ACTION_MAP (application), "call-answer") == NULL)
    g_action_map_add_action_entries (G_ACTION_MAP (application), actions, G_N_ELEMENTS (actions), NULL);
  controllers = g_list_prepend (controllers, self);
  return self;
}

NatterCallManager *
natter_call_controller_get_manager (NatterCallController *self)
{
  g_return_val_if_fail (NATTER_IS_CALL_CONTROLLER (self), NULL);
  return self->manager;
}

NatterCallWindow *
natter_call_controller_get_window (NatterCallController *self)
{
  g_return_val_if_fail (NATTER_IS_CALL_CONTROLLER (self), NULL);
  return self->window;
}

NatterCallWindow *
natter_call_controller_start_call (NatterCallController *self,
                                   GtkWindow            *parent,
                                   const char           *peer_id,
                                   const char           *peer_name,
                                   NatterCallMediaType   media_type)
{
  g_autoptr(GError) error = NULL;
  NatterCall *call;

  g_return_val_if_fail (NATTER_IS_CALL_CONTROLLER (self), NULL);
  g_return_val_if_fail (peer_id != NULL, NULL);

  call = natter_call_manager_start_call (self->manager, peer_id, media_type, &error);
  if (call == NULL)
    {
      AdwMessageDialog *dialog;
      const char *body = error->code == NATTER_CALL_ERROR_ALREADY_IN_USE
                           ? _("You are already in a call.")
                           : error->code == NATTER_CODE_NOT_CONNECTED
                           ? _("Natter is not connected. Try again once it is back online.")
                           : error->message;

      if (self->window != NULL && error->code == NATTER_CALL_ERROR_ALREADY_IN_USE)
        {
          gtk_window_present (GTK_WINDOW (self->window));
          return NULL;
        }
      dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (parent, _("Cannot Start the Call"), body));
      adw_message_dialog_add_response (dialog, "close", _("_Close"));
      gtk_window_present (GTK_WINDOW (dialog));
      return NULL;
    }
  return show_window (self, call, peer_name, parent);
}
