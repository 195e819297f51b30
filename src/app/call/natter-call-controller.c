/* natter-call-controller.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gi18n.h>
#include <gst/gst.h>

#include "natter-application.h"
#include "natter-call-controller.h"
#include "natter-call-devices.h"
#include "natter-camera-portal.h"
#include "natter-portal.h"
#include "natter-sound.h"

struct _NatterCallController
{
  GObject            parent_instance;

  GtkApplication    *application;   /* unowned: the app outlives its accounts */
  NatterClient      *client;
  NatterCallManager *manager;
  NatterCallWindow  *window;        /* weak */
  NatterCall        *ringing_call;  /* the incoming call we ring for */
  AdwMessageDialog  *dialog;        /* weak */
  AdwAvatar         *dialog_avatar; /* in the dialog */
  char              *caller_name;   /* of the ringing call: display name, else id */
  char              *caller_portrait_uri;
  GdkTexture        *caller_picture;
  GFile             *caller_picture_file;
  GSettings         *settings;      /* camera, microphone, speaker */
  NatterSound       *ringtone;
  char              *camera_note;   /* why the Camera portal gave none, or NULL */
};

G_DEFINE_FINAL_TYPE (NatterCallController, natter_call_controller, G_TYPE_OBJECT)

/* Every controller of the process (one per window/profile): the app-wide
 * notification actions look for the call among them. */
static GList *controllers;

/* -------------------------------------------------------------- ringtone */

/* Ours, in the GResource (build-aux/make-sounds): a 1 s phrase, a 2 s
 * pause, in a loop. The tests' test sources ring into a fakesink. */
static void
start_ringtone (NatterCallController *self)
{
  const char *test = g_getenv ("NATTER_CALL_TEST_SOURCES");
  gboolean quiet = test != NULL && *test != '\0' && g_strcmp0 (test, "0") != 0;

  if (self->settings != NULL && !g_settings_get_boolean (self->settings, "sounds"))
    return;
  if (self->ringtone == NULL)
    self->ringtone = natter_sound_new (NATTER_SOUND_RINGTONE, quiet ? "fakesink sync=true" : NULL);
  if (!natter_sound_get_playing (self->ringtone))
    natter_sound_play (self->ringtone, TRUE);
}

static void
stop_ringtone (NatterCallController *self)
{
  if (self->ringtone != NULL)
    natter_sound_stop (self->ringtone);
}

/* The device switch of the call window is the Preferences' choice too. */
static void
on_device_selected (NatterCallWindow     *window,
                    guint                 kind,
                    const char           *name,
                    NatterCallController *self)
{
  static const char * const keys[] = { "camera", "microphone", "speaker" };

  if (kind >= G_N_ELEMENTS (keys))
    return;
  if (self->settings != NULL)
    g_settings_set_string (self->settings, keys[kind], name);   /* → the manager, bound */
  else
    natter_call_manager_set_device (self->manager, kind, name);
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
  if (natter_call_get_media_type (call) == NATTER_CALL_MEDIA_VIDEO)
    natter_call_window_set_camera_note (self->window, self->camera_note);
  if (NATTER_IS_APPLICATION (self->application) &&
      natter_application_get_n_accounts (NATTER_APPLICATION (self->application)) > 1)
    natter_call_window_set_account (self->window, natter_client_get_user_id (self->client));
  if (self->caller_picture != NULL && peer_name != NULL && g_strcmp0 (peer_name, self->caller_name) == 0)
    natter_call_window_set_peer_picture (self->window, GDK_PAINTABLE (self->caller_picture));
  gtk_window_set_application (GTK_WINDOW (self->window), self->application);
  g_signal_connect_object (self->window, "device-selected", G_CALLBACK (on_device_selected), self, 0);
  if (parent != NULL)
    gtk_window_set_transient_for (GTK_WINDOW (self->window), parent);
  gtk_window_present (GTK_WINDOW (self->window));
  return self->window;
}

/* ---------------------------------------------------------- camera portal */

/* Inside Flatpak a video call first asks the Camera portal (the user may
 * be asked): the call is placed, or answered, once it said yes or no, so
 * its media is built with the portal's camera or knowingly without. */
typedef struct {
  NatterCallController *self;
  GtkWindow            *parent;     /* weak */
  char                 *peer_id;    /* outgoing */
  char                 *peer_name;
  NatterCallMediaType   media_type;
  NatterCall           *call;       /* incoming: the call to accept */
} CameraWait;

static void
camera_wait_free (CameraWait *wait)
{
  g_clear_weak_pointer (&wait->parent);
  g_object_unref (wait->self);
  g_free (wait->peer_id);
  g_free (wait->peer_name);
  g_clear_object (&wait->call);
  g_free (wait);
}

static NatterCallWindow *start_call_now (NatterCallController *self,
                                         GtkWindow            *parent,
                                         const char           *peer_id,
                                         const char           *peer_name,
                                         NatterCallMediaType   media_type);
static void              accept_call    (NatterCallController *self,
                                         NatterCall           *call,
                                         const char           *peer_name);

static void
camera_asked_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  CameraWait *wait = user_data;
  NatterCallController *self = wait->self;
  g_autoptr(GError) error = NULL;
  int fd = natter_camera_portal_open_finish (result, &error);

  natter_call_devices_set_camera_remote (fd);
  g_clear_pointer (&self->camera_note, g_free);
  if (fd < 0)
    {
      g_message ("Camera portal: %s", error->message);
      if (g_error_matches (error, NATTER_CAMERA_PORTAL_ERROR, NATTER_CAMERA_PORTAL_ERROR_DENIED))
        self->camera_note = g_strdup (_("Camera access denied"));
    }
  /* the account went meanwhile */
  if (self->application != NULL)
    {
      if (wait->call == NULL)
        start_call_now (self, wait->parent, wait->peer_id, wait->peer_name, wait->media_type);
      else if (natter_call_get_state (wait->call) == NATTER_CALL_STATE_INCOMING)
        accept_call (self, wait->call, wait->peer_name);
    }
  camera_wait_free (wait);
}

/* TRUE when the portal is asked first (@call: accepted afterwards; else
 * the call is placed afterwards). */
static gboolean
ask_camera_first (NatterCallController *self,
                  NatterCallMediaType   media_type,
                  NatterCall           *call,
                  GtkWindow            *parent,
                  const char           *peer_id,
                  const char           *peer_name)
{
  GDBusConnection *bus = g_application_get_dbus_connection (G_APPLICATION (self->application));
  CameraWait *wait;

  if (media_type != NATTER_CALL_MEDIA_VIDEO || !natter_portal_in_sandbox ())
    return FALSE;
  if (bus == NULL)
    {
      natter_call_devices_set_camera_remote (-1);
      return FALSE;
    }
  wait = g_new0 (CameraWait, 1);
  wait->self = g_object_ref (self);
  g_set_weak_pointer (&wait->parent, parent);
  wait->peer_id = g_strdup (peer_id);
  wait->peer_name = g_strdup (peer_name);
  wait->media_type = media_type;
  wait->call = call != NULL ? g_object_ref (call) : NULL;
  natter_camera_portal_open_async (bus, NULL, camera_asked_cb, wait);
  return TRUE;
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
  self->dialog_avatar = NULL;
}

static void
forget_caller (NatterCallController *self)
{
  g_clear_pointer (&self->caller_name, g_free);
  g_clear_pointer (&self->caller_portrait_uri, g_free);
  g_clear_object (&self->caller_picture);
  g_clear_object (&self->caller_picture_file);
}

static void
accept_call (NatterCallController *self,
             NatterCall           *call,
             const char           *peer_name)
{
  natter_call_accept (call);
  show_window (self, call, peer_name, gtk_application_get_active_window (self->application));
}

static void
answer (NatterCallController *self,
        NatterCall           *call)
{
  g_autoptr(NatterCall) keep = g_object_ref (call);

  g_autofree char *name = g_strdup (self->caller_name);

  stop_ringing (self);
  if (!ask_camera_first (self, natter_call_get_media_type (call), call, NULL, NULL, name))
    accept_call (self, call, name);
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

/* The notification of the ringing call, with what is known of the caller
 * (sent again, under the same id, when their name or picture arrives). */
static void
notify_ringing (NatterCallController *self)
{
  NatterCall *call = self->ringing_call;
  gboolean video = natter_call_get_media_type (call) == NATTER_CALL_MEDIA_VIDEO;
  g_autoptr(GNotification) notification =
    g_notification_new (video ? _("Incoming video call") : _("Incoming voice call"));
  GApplication *app = G_APPLICATION (self->application);
  /* several accounts: which one is called */
  g_autofree char *body = NATTER_IS_APPLICATION (app) && natter_application_get_n_accounts (NATTER_APPLICATION (app)) > 1
                            /* Translators: the caller, then the account called */
                            ? g_strdup_printf (_("%s is calling you (%s)"), self->caller_name,
                                               natter_client_get_user_id (self->client))
                            : g_strdup_printf (_("%s is calling you"), self->caller_name);
  g_autofree char *id = notification_id (call);
  g_autoptr(GIcon) icon = self->caller_picture_file != NULL
                            ? g_file_icon_new (self->caller_picture_file)
                            : g_themed_icon_new (video ? "camera-video-symbolic" : "call-start-symbolic");

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
}

typedef struct {
  NatterCallController *self;
  char *call_id;
  GFile *file;
} CallerLoad;

static void
caller_load_free (CallerLoad *load)
{
  g_object_unref (load->self);
  g_free (load->call_id);
  g_clear_object (&load->file);
  g_free (load);
}

/* Still ringing for the call this was started for? */
static gboolean
caller_load_current (CallerLoad *load)
{
  return load->self->ringing_call != NULL &&
         g_strcmp0 (natter_call_get_call_id (load->self->ringing_call), load->call_id) == 0;
}

static void
caller_picture_loaded_cb (GObject      *object,
                          GAsyncResult *result,
                          gpointer      user_data)
{
  CallerLoad *load = user_data;
  NatterCallController *self = load->self;
  g_autoptr(GdkPixbuf) pixbuf = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autoptr(GError) error = NULL;

  /* the caller chose it: decoded off the main thread (natter-image.h) */
  pixbuf = natter_image_decode_finish (result, &error);
  if (pixbuf != NULL)
    texture = gdk_texture_new_for_pixbuf (pixbuf);
  if (texture == NULL)
    g_debug ("Caller's picture: %s", error->message);
  else if (caller_load_current (load))
    {
      g_set_object (&self->caller_picture, texture);
      g_set_object (&self->caller_picture_file, load->file);
      if (self->dialog_avatar != NULL)
        adw_avatar_set_custom_image (self->dialog_avatar, GDK_PAINTABLE (texture));
      notify_ringing (self);
    }
  caller_load_free (load);
}

static void
caller_picture_downloaded_cb (GObject      *object,
                              GAsyncResult *result,
                              gpointer      user_data)
{
  CallerLoad *load = user_data;
  g_autoptr(GError) error = NULL;

  load->file = natter_client_download_finish (NATTER_CLIENT (object), result, &error);
  if (load->file == NULL || !caller_load_current (load))
    {
      if (error != NULL)
        g_debug ("Caller's picture: %s", error->message);
      caller_load_free (load);
      return;
    }
  natter_image_decode_file_async (load->file, natter_media_kind_max_size (NATTER_MEDIA_KIND_PORTRAIT),
                                  256, NULL, caller_picture_loaded_cb, load);
}

static CallerLoad *
caller_load_new (NatterCallController *self)
{
  CallerLoad *load = g_new0 (CallerLoad, 1);

  load->self = g_object_ref (self);
  load->call_id = g_strdup (natter_call_get_call_id (self->ringing_call));
  return load;
}

/* Name and picture from the store's profile; FALSE when it knows neither. */
static gboolean
caller_from_profile (NatterCallController *self)
{
  const char *peer = natter_call_get_peer_id (self->ringing_call);
  const NatterProfile *profile = natter_store_lookup_user (natter_client_get_store (self->client), peer);
  const char *name = profile != NULL && profile->name != NULL && *profile->name != '\0' ? profile->name : peer;
  const char *uri = profile != NULL ? profile->portrait_uri : NULL;

  g_free (self->caller_name);
  self->caller_name = g_strdup (name);
  if (self->dialog != NULL)
    adw_message_dialog_set_heading (self->dialog, name);
  if (self->dialog_avatar != NULL)
    adw_avatar_set_text (self->dialog_avatar, name);

  if (uri != NULL && *uri != '\0' && g_strcmp0 (uri, self->caller_portrait_uri) != 0)
    {
      g_free (self->caller_portrait_uri);
      self->caller_portrait_uri = g_strdup (uri);
      natter_client_download_media_async (self->client, uri, NATTER_MEDIA_KIND_PORTRAIT, NULL, NULL,
                                          NULL, caller_picture_downloaded_cb, caller_load_new (self));
    }
  return profile != NULL;
}

static void
caller_profile_fetched_cb (GObject      *object,
                           GAsyncResult *result,
                           gpointer      user_data)
{
  CallerLoad *load = user_data;
  g_autoptr(GError) error = NULL;

  if (!natter_client_get_profiles_finish (NATTER_CLIENT (object), result, &error))
    g_debug ("Caller's profile: %s", error->message);
  else if (caller_load_current (load))
    {
      caller_from_profile (load->self);
      notify_ringing (load->self);
    }
  caller_load_free (load);
}

static void
on_incoming_call (NatterCallManager    *manager,
                  NatterCall           *call,
                  NatterCallController *self)
{
  gboolean video = natter_call_get_media_type (call) == NATTER_CALL_MEDIA_VIDEO;
  const char *kind = video ? _("Incoming video call") : _("Incoming voice call");
  GtkWindow *parent = gtk_application_get_active_window (self->application);
  GtkWidget *avatar;
  gboolean known;

  stop_ringing (self);
  forget_caller (self);
  self->ringing_call = g_object_ref (call);
  known = caller_from_profile (self);

  /* Both dialled each other and theirs won: it is already accepted. */
  if (natter_call_get_state (call) == NATTER_CALL_STATE_ACTIVE)
    {
      g_autofree char *name = g_strdup (self->caller_name);

      g_clear_object (&self->ringing_call);
      show_window (self, call, name, parent);
      return;
    }

  g_signal_connect (call, "state-changed", G_CALLBACK (on_ringing_state_changed), self);
  notify_ringing (self);

  /* who is calling, as the chat list shows them: picture (or initials) and name */
  self->dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (parent, self->caller_name, kind));
  g_object_add_weak_pointer (G_OBJECT (self->dialog), (gpointer *) &self->dialog);
  avatar = adw_avatar_new (96, self->caller_name, TRUE);
  gtk_widget_set_halign (avatar, GTK_ALIGN_CENTER);
  self->dialog_avatar = ADW_AVATAR (avatar);
  if (self->caller_picture != NULL)
    adw_avatar_set_custom_image (self->dialog_avatar, GDK_PAINTABLE (self->caller_picture));
  adw_message_dialog_set_extra_child (self->dialog, avatar);
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

  /* a caller never met: ask the server (the dialog and notification follow) */
  if (!known)
    {
      const char *ids[] = { natter_call_get_peer_id (call), NULL };

      natter_client_get_profiles_async (self->client, ids, NULL, NULL, caller_profile_fetched_cb,
                                        caller_load_new (self));
    }
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
  g_clear_object (&self->ringtone);
  g_clear_pointer (&self->camera_note, g_free);
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
  forget_caller (self);
  g_clear_object (&self->client);
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

  self = g_object_new (NATTER_TYPE_CALL_CONTROLLER, NULL);
  self->application = application;
  self->client = g_object_ref (client);
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

gboolean
natter_call_controller_get_ringing (NatterCallController *self)
{
  g_return_val_if_fail (NATTER_IS_CALL_CONTROLLER (self), FALSE);
  return self->ringtone != NULL && natter_sound_get_playing (self->ringtone);
}

NatterCallWindow *
natter_call_controller_start_call (NatterCallController *self,
                                   GtkWindow            *parent,
                                   const char           *peer_id,
                                   const char           *peer_name,
                                   NatterCallMediaType   media_type)
{
  g_return_val_if_fail (NATTER_IS_CALL_CONTROLLER (self), NULL);
  g_return_val_if_fail (peer_id != NULL, NULL);

  if (ask_camera_first (self, media_type, NULL, parent, peer_id, peer_name))
    return NULL;
  return start_call_now (self, parent, peer_id, peer_name, media_type);
}

static NatterCallWindow *
start_call_now (NatterCallController *self,
                GtkWindow            *parent,
                const char           *peer_id,
                const char           *peer_name,
                NatterCallMediaType   media_type)
{
  g_autoptr(GError) error = NULL;
  NatterCall *call;

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
