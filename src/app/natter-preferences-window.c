/* natter-preferences-window.c — notifications, sounds, devices, look, account
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gi18n.h>

#include "natter-application.h"
#include "natter-call-module.h"
#include "natter-contacts-page.h"
#include "natter-format-accounts.h"
#include "natter-password-dialog.h"
#include "natter-presence-tracker.h"
#include "natter-window.h"
#include "natter-preferences-window.h"

struct _NatterPreferencesWindow
{
  AdwPreferencesWindow parent_instance;

  GSettings *settings;
  NatterAccount *account;
  GtkWindow *parent;      /* weak */
  GObject *monitor;  /* the call module's GstDeviceMonitor */
  guint monitor_id;

  GtkSwitch *notifications_switch;
  GtkSwitch *preview_switch;
  GtkSwitch *sounds_switch;
  GtkSwitch *enter_switch;
  GtkSwitch *background_switch;
  AdwActionRow *background_row;
  GtkSwitch *login_switch;
  AdwComboRow *style_row;
  AdwComboRow *camera_row;
  AdwComboRow *microphone_row;
  AdwComboRow *speaker_row;
  AdwPreferencesPage *account_page;
  AdwActionRow *user_row;
  AdwActionRow *server_row;
  AdwActionRow *profile_row;
  AdwActionRow *token_row;
  GtkWidget *token_icon;
  GtkWidget *privacy_group;
  GtkWidget *password_group;
  GtkSwitch *online_switch;
  AdwComboRow *messages_row;
  GCancellable *cancellable;
  gboolean setting_messages; /* the row moved by the server's answer */
  gboolean messages_loaded;  /* the server answered the first read */
  gboolean setting_online;   /* the switch moved by the server's answer */
  gboolean wrote_online;     /* the answer is to a change, not a read */
};

G_DEFINE_FINAL_TYPE (NatterPreferencesWindow, natter_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

/* ------------------------------------------------------------- devices */

typedef struct {
  NatterPreferencesWindow *self;
  AdwComboRow *row;
  const char *key;
} DeviceRow;

static void
device_selected_cb (AdwComboRow *row,
                    GParamSpec  *pspec,
                    GSettings   *settings)
{
  const char *key = g_object_get_data (G_OBJECT (row), "key");
  guint selected = adw_combo_row_get_selected (row);
  GListModel *model = adw_combo_row_get_model (row);
  g_autoptr(GtkStringObject) item = NULL;

  if (model == NULL || selected == GTK_INVALID_LIST_POSITION)
    return;
  /* the first entry is "System default" */
  if (selected == 0)
    {
      g_settings_set_string (settings, key, "");
      return;
    }
  item = g_list_model_get_item (model, selected);
  g_settings_set_string (settings, key, gtk_string_object_get_string (item));
}

static void
fill_devices (NatterPreferencesWindow *self,
              AdwComboRow             *row,
              const char              *klass,
              const char              *key)
{
  GtkStringList *names = gtk_string_list_new (NULL);
  g_autofree char *current = g_settings_get_string (self->settings, key);
  guint selected = 0;
  g_auto(GStrv) devices = NULL;

  gtk_string_list_append (names, _("System Default"));
  if (self->monitor != NULL)
    devices = natter_call_module_peek ()->devices_list (self->monitor, klass);
  for (guint i = 0; devices != NULL && devices[i] != NULL; i++)
    {
      gtk_string_list_append (names, devices[i]);
      if (g_strcmp0 (devices[i], current) == 0)
        selected = g_list_model_get_n_items (G_LIST_MODEL (names)) - 1;
    }

  /* a configured device that is unplugged right now stays chosen */
  if (selected == 0 && current != NULL && *current != '\0')
    {
      gtk_string_list_append (names, current);
      selected = g_list_model_get_n_items (G_LIST_MODEL (names)) - 1;
    }

  g_signal_handlers_disconnect_by_func (row, device_selected_cb, self->settings);
  adw_combo_row_set_model (row, G_LIST_MODEL (names));
  adw_combo_row_set_selected (row, selected);
  g_object_set_data (G_OBJECT (row), "key", (gpointer) key);
  g_signal_connect (row, "notify::selected", G_CALLBACK (device_selected_cb), self->settings);
  g_object_unref (names);
}

static void
fill_all_devices (NatterPreferencesWindow *self)
{
  fill_devices (self, self->camera_row, "Video/Source", "camera");
  fill_devices (self, self->microphone_row, "Audio/Source", "microphone");
  fill_devices (self, self->speaker_row, "Audio/Sink", "speaker");
  gtk_widget_set_sensitive (GTK_WIDGET (self->camera_row), TRUE);
  gtk_widget_set_sensitive (GTK_WIDGET (self->microphone_row), TRUE);
  gtk_widget_set_sensitive (GTK_WIDGET (self->speaker_row), TRUE);
}

static void
monitor_started_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  GObject *monitor = natter_call_module_peek ()->devices_monitor_new_finish (result, &error);

  /* closed meanwhile: @user_data is gone, the task stops the monitor */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  NATTER_PREFERENCES_WINDOW (user_data)->monitor = monitor;
  fill_all_devices (user_data);
}

static void
start_monitor (NatterPreferencesWindow *self,
               const NatterCallModule  *module)
{
  /* the devices come from GStreamer, in the call module */
  if (module != NULL)
    module->devices_monitor_new_async (self->cancellable, monitor_started_cb, self);
  else
    fill_all_devices (self);
}

static void
devices_module_loaded_cb (GObject      *source,
                          GAsyncResult *result,
                          gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  const NatterCallModule *module = natter_call_module_load_finish (result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;  /* closed meanwhile: @user_data is gone */
  start_monitor (user_data, module);
}

static gboolean
load_devices_cb (gpointer user_data)
{
  NatterPreferencesWindow *self = user_data;
  const NatterCallModule *module = natter_call_module_peek ();

  self->monitor_id = 0;
  /* opened before the start's preload ended: loaded (or waited for) on a
   * worker, not on the main thread */
  if (module != NULL)
    start_monitor (self, module);
  else
    natter_call_module_load_async (self->cancellable, devices_module_loaded_cb, self);
  return G_SOURCE_REMOVE;
}

/* ------------------------------------------------------------- account */

/* The Background portal refused: the switch cannot do what it says. */
static void
update_background_row (NatterPreferencesWindow *self)
{
  gboolean denied = natter_application_get_background_denied (NATTER_APPLICATION (g_application_get_default ()));

  adw_action_row_set_subtitle (self->background_row,
                               denied ? _("Not allowed by the system (Background portal): closing the window "
                                          "quits Natter. Allow Natter to run in the background in Settings → Apps.")
                                      : _("Closing the window keeps Natter connected for messages and calls. "
                                          "Quit ends it."));
}

static void
update_account (NatterPreferencesWindow *self)
{
  NatterAccount *account = self->account;

  if (account == NULL)
    {
      gtk_widget_set_visible (GTK_WIDGET (self->account_page), FALSE);
      return;
    }
  adw_action_row_set_subtitle (self->user_row, natter_account_get_user_id (account));
  adw_action_row_set_subtitle (self->server_row, natter_account_get_server_url (account));
  adw_action_row_set_subtitle (self->profile_row, natter_account_get_profile_dir (account));
  if (natter_account_get_token_in_file (account))
    {
      g_autofree char *path = natter_account_dup_token_path (account);
      g_autofree char *text = g_strdup_printf (_("No keyring is running, so the token is kept in %s, readable only by you (mode 0600)."),
                                               path);
      adw_action_row_set_subtitle (self->token_row, text);
      gtk_widget_set_visible (self->token_icon, TRUE);
    }
  else
    {
      adw_action_row_set_subtitle (self->token_row, _("In the keyring (Secret Service)"));
      gtk_widget_set_visible (self->token_icon, FALSE);
    }
}

/* ------------------------------------------------------ privacy (#16) */

static void
show_online_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  NatterPreferencesWindow *self = user_data;
  g_autoptr(GError) error = NULL;
  gboolean shown = natter_account_service_show_online_finish (NATTER_ACCOUNT_SERVICE (object), result, &error);

  /* Not a ref: a window kept past its parent's end does harm; dispose
   * cancels, so self is only touched while it lives. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (error != NULL)
    {
      /* No accounts on this server (privacy.json refused): no setting. */
      if (!gtk_widget_get_sensitive (GTK_WIDGET (self->online_switch)))
        gtk_widget_set_visible (self->privacy_group, FALSE);
      else
        shown = !gtk_switch_get_active (self->online_switch);
      g_debug ("showOnline: %s", error->message);
      if (!gtk_widget_get_visible (self->privacy_group))
        return;
    }
  self->setting_online = TRUE;
  gtk_switch_set_active (self->online_switch, shown);
  self->setting_online = FALSE;
  gtk_widget_set_sensitive (GTK_WIDGET (self->online_switch), TRUE);

  /* Hiding one's own also hides the others' last seen: ask again. */
  if (error == NULL && self->wrote_online && self->parent != NULL && NATTER_IS_WINDOW (self->parent) &&
      natter_window_get_client (NATTER_WINDOW (self->parent)) != NULL)
    natter_presence_tracker_refresh (natter_presence_tracker_for (natter_window_get_client (NATTER_WINDOW (self->parent))));
}

static void
online_switch_cb (NatterPreferencesWindow *self)
{
  g_autoptr(NatterAccountService) service = NULL;

  if (self->setting_online || self->account == NULL)
    return;
  service = natter_account_service_for (self->account);
  gtk_widget_set_sensitive (GTK_WIDGET (self->online_switch), FALSE);
  self->wrote_online = TRUE;
  natter_account_service_show_online_async (service, gtk_switch_get_active (self->online_switch),
                                            self->cancellable, show_online_cb, self);
}

/* Who may message me (privacy.json messagesFrom, #14): 0 anyone, 1
 * contacts only. */
static void
messages_from_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  NatterPreferencesWindow *self = user_data;
  g_autoptr(GError) error = NULL;
  gboolean contacts_only = natter_account_service_privacy_finish (NATTER_ACCOUNT_SERVICE (object), result, &error);

  /* dispose cancels: self is only touched while it lives */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (error != NULL && !self->messages_loaded)
    {
      /* the first read failed: no setting to show */
      g_debug ("messagesFrom: %s", error->message);
      return;
    }
  if (error != NULL)
    {
      g_autofree char *message = natter_format_account_error (error);

      adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), adw_toast_new (message));
      /* the change did not happen: back to what it was */
      contacts_only = adw_combo_row_get_selected (self->messages_row) != 1;
    }
  self->setting_messages = TRUE;
  adw_combo_row_set_selected (self->messages_row, contacts_only ? 1 : 0);
  self->setting_messages = FALSE;
  self->messages_loaded = TRUE;
  gtk_widget_set_sensitive (GTK_WIDGET (self->messages_row), TRUE);
}

static void
messages_row_cb (NatterPreferencesWindow *self)
{
  g_autoptr(NatterAccountService) service = NULL;

  if (self->setting_messages || self->account == NULL || !self->messages_loaded)
    return;
  service = natter_account_service_for (self->account);
  /* no second change until the server answers this one */
  gtk_widget_set_sensitive (GTK_WIDGET (self->messages_row), FALSE);
  natter_account_service_privacy_async (service, adw_combo_row_get_selected (self->messages_row) == 1,
                                        self->cancellable, messages_from_cb, self);
}

static void
load_privacy (NatterPreferencesWindow *self)
{
  g_autoptr(NatterAccountService) service = NULL;

  if (self->account == NULL || !natter_account_is_complete (self->account))
    return;
  service = natter_account_service_for (self->account);
  gtk_widget_set_visible (self->privacy_group, TRUE);
  /* When natterd's account API answers for this user (privacy is hidden
   * again when it does not) and the user signed in with a password: a
   * token's or an app server's user has none here. A profile from before
   * the sign-in mode was kept: as the server answers. */
  if (natter_account_get_app_server_url (self->account) == NULL &&
      (natter_account_get_sign_in_mode (self->account) == NULL ||
       g_strcmp0 (natter_account_get_sign_in_mode (self->account), "password") == 0))
    g_object_bind_property (self->privacy_group, "visible", self->password_group, "visible",
                            G_BINDING_SYNC_CREATE);
  natter_account_service_show_online_async (service, -1, self->cancellable, show_online_cb, self);
  /* here, not in the .ui: a combo row makes itself sensitive when its
   * model is set; no change until the server's value is shown */
  gtk_widget_set_sensitive (GTK_WIDGET (self->messages_row), FALSE);
  natter_account_service_privacy_async (service, -1, self->cancellable, messages_from_cb, self);
}

/* ------------------------------------------- password and deletion (#14) */

static NatterSession *
session_of (NatterPreferencesWindow *self)
{
  if (self->parent == NULL || !NATTER_IS_WINDOW (self->parent))
    return NULL;
  return natter_window_get_session (NATTER_WINDOW (self->parent));
}

static void
change_password_cb (NatterPreferencesWindow *self)
{
  NatterSession *session = session_of (self);

  if (session != NULL)
    gtk_window_present (GTK_WINDOW (natter_password_dialog_new (GTK_WINDOW (self), session)));
}

static void
account_deleted_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(NatterPreferencesWindow) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!natter_session_delete_account_finish (NATTER_SESSION (object), result, &error))
    {
      g_autofree char *message = natter_format_account_error (error);

      adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), adw_toast_new (message));
      return;
    }
  /* signed out: the window shows the sign-in page */
  gtk_window_close (GTK_WINDOW (self));
}

static void
delete_response_cb (AdwMessageDialog        *dialog,
                    const char              *response,
                    NatterPreferencesWindow *self)
{
  GtkEditable *entry = GTK_EDITABLE (adw_message_dialog_get_extra_child (dialog));
  NatterSession *session = session_of (self);

  if (!g_str_equal (response, "delete") || session == NULL)
    return;
  natter_session_delete_account_async (session, gtk_editable_get_text (entry), NULL,
                                       account_deleted_cb, g_object_ref (self));
}

static void
delete_account_cb (NatterPreferencesWindow *self)
{
  AdwMessageDialog *dialog;
  /* a GtkEntry: GTK 4.8's GtkPasswordEntry warns when its dialog goes */
  GtkWidget *entry = gtk_entry_new ();

  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (GTK_WINDOW (self), _("Delete Account?"),
                                                       _("Your account, your contacts and your place in "
                                                         "groups are removed from the server, and this "
                                                         "device signs out. This cannot be undone. Enter "
                                                         "your password to confirm.")));
  gtk_entry_set_visibility (GTK_ENTRY (entry), FALSE);
  gtk_entry_set_input_purpose (GTK_ENTRY (entry), GTK_INPUT_PURPOSE_PASSWORD);
  gtk_entry_set_placeholder_text (GTK_ENTRY (entry), _("Password"));
  adw_message_dialog_set_extra_child (dialog, entry);
  adw_message_dialog_add_responses (dialog, "cancel", _("_Cancel"), "delete", _("_Delete Account"), NULL);
  adw_message_dialog_set_response_appearance (dialog, "delete", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (dialog, "cancel");
  adw_message_dialog_set_close_response (dialog, "cancel");
  g_signal_connect_object (dialog, "response", G_CALLBACK (delete_response_cb), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
sign_out_clicked_cb (NatterPreferencesWindow *self)
{
  if (self->parent != NULL)
    gtk_widget_activate_action (GTK_WIDGET (self->parent), "win.sign-out", NULL);
  gtk_window_close (GTK_WINDOW (self));
}

static gboolean
style_to_row (GValue   *value,
              GVariant *variant,
              gpointer  user_data)
{
  const char *nick = g_variant_get_string (variant, NULL);
  g_value_set_uint (value, g_str_equal (nick, "light") ? 1 : g_str_equal (nick, "dark") ? 2 : 0);
  return TRUE;
}

static GVariant *
row_to_style (const GValue       *value,
              const GVariantType *type,
              gpointer            user_data)
{
  static const char *nicks[] = { "default", "light", "dark" };
  guint i = g_value_get_uint (value);
  return g_variant_new_string (nicks[i < G_N_ELEMENTS (nicks) ? i : 0]);
}

static void
natter_preferences_window_dispose (GObject *object)
{
  NatterPreferencesWindow *self = (NatterPreferencesWindow *) object;

  g_clear_handle_id (&self->monitor_id, g_source_remove);
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->monitor != NULL)
    natter_call_module_peek ()->devices_monitor_stop (self->monitor);
  g_clear_object (&self->monitor);
  g_clear_weak_pointer (&self->parent);
  g_clear_object (&self->account);
  g_clear_object (&self->settings);
  gtk_widget_dispose_template (GTK_WIDGET (self), NATTER_TYPE_PREFERENCES_WINDOW);

  G_OBJECT_CLASS (natter_preferences_window_parent_class)->dispose (object);
}

static void
natter_preferences_window_class_init (NatterPreferencesWindowClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = natter_preferences_window_dispose;

  gtk_widget_class_set_template_from_resource (widget_class, "/im/natter/Natter/natter-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, NatterPreferencesWindow, notifications_switch);
  gtk_widget_class_bind_template_child (widget_class, NatterPreferencesWindow, preview_switch);
  gtk_widget_class_bind_template_child (widget_class, NatterPreferencesWindow, sounds_switch);
  gtk_widget_class_bind_template_child (widget_class, NatterPreferencesWindow, enter_switch);
  gtk_widget_class_bind_template_child (widget_class, NatterPreferencesWindow, background_switch);
  gtk_widget_class_bind_template_child (widget_class, NatterPreferencesWindow, background_row);
  gtk_widget_class_bind_template_child (widget_class, NatterPreferencesWindow, login_switch);
  gtk_widget_class_bind_template_child (widget_class, NatterPreferencesWindow, style_row);
  gtk_widget_class_bind_template_child (widget_class, NatterPreferencesWindow, camera_row);
  gtk_widget_class_bind_template_child (widget_class, NatterPreferencesWindow, microphone_row);
  gtk_widget_class_bind_template_child (widget_class, NatterPreferencesWindow, speaker_row);
  gtk_widget_class_bind_template_child (widget_class, NatterPreferencesWindow, account_page);
  gtk_widget_class_bind_template_child (widget_class, NatterPreferencesWindow, privacy_group);
  gtk_widget_class_bind_template_child (widget_class, NatterPreferencesWindow, online_switch);
  gtk_widget_class_bind_template_callback (widget_class, online_switch_cb);
  gtk_widget_class_bind_template_child (widget_class, NatterPreferencesWindow, messages_row);
  gtk_widget_class_bind_template_callback (widget_class, messages_row_cb);
  gtk_widget_class_bind_template_child (widget_class, NatterPreferencesWindow, user_row);
  gtk_widget_class_bind_template_child (widget_class, NatterPreferencesWindow, server_row);
  gtk_widget_class_bind_template_child (widget_class, NatterPreferencesWindow, profile_row);
  gtk_widget_class_bind_template_child (widget_class, NatterPreferencesWindow, token_row);
  gtk_widget_class_bind_template_child (widget_class, NatterPreferencesWindow, token_icon);
  gtk_widget_class_bind_template_callback (widget_class, sign_out_clicked_cb);
  gtk_widget_class_bind_template_child (widget_class, NatterPreferencesWindow, password_group);
  gtk_widget_class_bind_template_callback (widget_class, change_password_cb);
  gtk_widget_class_bind_template_callback (widget_class, delete_account_cb);
}

static void
natter_preferences_window_init (NatterPreferencesWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
}

NatterPreferencesWindow *
natter_preferences_window_new (GSettings     *settings,
                               GtkWindow     *parent,
                               NatterAccount *account)
{
  NatterPreferencesWindow *self;

  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);
  g_return_val_if_fail (account == NULL || NATTER_IS_ACCOUNT (account), NULL);

  self = g_object_new (NATTER_TYPE_PREFERENCES_WINDOW,
                       "transient-for", parent,
                       NULL);
  self->settings = g_object_ref (settings);
  g_set_object (&self->account, account);
  g_set_weak_pointer (&self->parent, parent);

  g_settings_bind (settings, "notifications", self->notifications_switch, "active", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "notification-preview", self->preview_switch, "active", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "notifications", self->preview_switch, "sensitive", G_SETTINGS_BIND_GET);
  g_settings_bind (settings, "sounds", self->sounds_switch, "active", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "enter-sends", self->enter_switch, "active", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "run-in-background", self->background_switch, "active", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "start-on-login", self->login_switch, "active", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind_with_mapping (settings, "color-scheme", self->style_row, "selected",
                                G_SETTINGS_BIND_DEFAULT, style_to_row, row_to_style, NULL, NULL);

  if (NATTER_IS_APPLICATION (g_application_get_default ()))
    {
      g_signal_connect_object (g_application_get_default (), "notify::background-denied",
                               G_CALLBACK (update_background_row), self, G_CONNECT_SWAPPED);
      update_background_row (self);
    }
  update_account (self);
  load_privacy (self);
  /* probing devices can take a moment: after the window is up */
  self->monitor_id = g_idle_add (load_devices_cb, self);
  return self;
}
