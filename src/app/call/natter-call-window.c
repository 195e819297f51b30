/* natter-call-window.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gi18n.h>

#include "natter-call-window.h"
#include "natter-call-devices.h"
#include "natter-video-paintable.h"

/* How long "Call ended" stays before the window closes itself. */
#define CLOSE_DELAY_MS 1500

struct _NatterCallWindow
{
  AdwWindow             parent_instance;

  NatterCall           *call;
  char                 *peer_name;
  NatterVideoPaintable *remote;
  NatterVideoPaintable *local;
  guint                 tick_id;
  guint                 close_id;
  GMenu                *devices_menu;  /* kept: refilled as devices come and go */
  gboolean              monitor_starting;
  char                 *camera_note;   /* why there is no camera, when known */

  GtkStack             *stage;
  AdwAvatar            *avatar;
  GtkLabel             *name_label;
  GtkPicture           *remote_picture;
  GtkPicture           *local_picture;
  GtkLabel             *status_label;
  GtkLabel             *missing_label;
  GtkToggleButton      *mute_button;
  GtkToggleButton      *camera_button;
  GtkMenuButton        *devices_button;
  GtkButton            *accept_button;
  GtkButton            *hangup_button;
};

G_DEFINE_FINAL_TYPE (NatterCallWindow, natter_call_window, ADW_TYPE_WINDOW)

enum {
  DEVICE_SELECTED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* The devices in use, as the device menu's radio items (property actions
 * call.camera and call.microphone). */
enum {
  PROP_0,
  PROP_CAMERA,
  PROP_MICROPHONE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static char *
format_duration (gint64 ms)
{
  gint64 seconds = ms / 1000;

  if (seconds >= 3600)
    return g_strdup_printf ("%" G_GINT64_FORMAT ":%02d:%02d", seconds / 3600,
                            (int) (seconds / 60 % 60), (int) (seconds % 60));
  return g_strdup_printf ("%02d:%02d", (int) (seconds / 60), (int) (seconds % 60));
}

static const char *
reason_text (NatterCallReason reason)
{
  switch (reason)
    {
    case NATTER_CALL_REASON_CANCEL:
      return _("Call cancelled");
    case NATTER_CALL_REASON_REJECT:
      return _("Call declined");
    case NATTER_CALL_REASON_REMOTE_REJECT:
      return _("Declined");
    case NATTER_CALL_REASON_REMOTE_BUSY:
    case NATTER_CALL_REASON_BUSY:
      return _("Busy");
    case NATTER_CALL_REASON_NO_RESPONSE:
    case NATTER_CALL_REASON_REMOTE_NO_RESPONSE:
      return _("No answer");
    case NATTER_CALL_REASON_REMOTE_CANCEL:
      return _("Missed call");
    case NATTER_CALL_REASON_NETWORK_ERROR:
    case NATTER_CALL_REASON_REMOTE_NETWORK_ERROR:
      return _("Connection lost");
    case NATTER_CALL_REASON_OTHER_DEVICE_HANDLED:
      return _("Answered on another device");
    case NATTER_CALL_REASON_ENGINE_UNSUPPORTED:
      return _("The other app cannot take this call");
    case NATTER_CALL_REASON_DEVICE_ERROR:
      return _("Camera or microphone unavailable");
    case NATTER_CALL_REASON_NONE:
    case NATTER_CALL_REASON_HANGUP:
    case NATTER_CALL_REASON_REMOTE_HANGUP:
    default:
      return _("Call ended");
    }
}

static gboolean
update_timer (gpointer user_data)
{
  NatterCallWindow *self = user_data;
  g_autofree char *text = format_duration (natter_call_get_duration (self->call));

  gtk_label_set_label (self->status_label, text);
  return G_SOURCE_CONTINUE;
}

/* Video when the call has it and the peer's camera is on. */
static void
update_stage (NatterCallWindow *self)
{
  gboolean video = natter_call_get_media_type (self->call) == NATTER_CALL_MEDIA_VIDEO;
  gboolean remote_video = video && natter_call_get_remote_camera_enabled (self->call) &&
                          natter_call_get_state (self->call) == NATTER_CALL_STATE_ACTIVE;

  natter_video_paintable_set_sink (self->remote, natter_call_get_remote_video (self->call));
  natter_video_paintable_set_sink (self->local, natter_call_get_local_video (self->call));
  gtk_stack_set_visible_child_name (self->stage, remote_video ? "video" : "avatar");
  gtk_widget_set_visible (GTK_WIDGET (self->local_picture),
                          video && natter_call_get_camera_enabled (self->call));
  gtk_widget_set_visible (GTK_WIDGET (self->camera_button), video);
}

static gboolean
close_later (gpointer user_data)
{
  NatterCallWindow *self = user_data;

  self->close_id = 0;
  gtk_window_destroy (GTK_WINDOW (self));
  return G_SOURCE_REMOVE;
}

static void update_missing (NatterCallWindow *self);

static void
update_state (NatterCallWindow *self)
{
  NatterCallState state = natter_call_get_state (self->call);
  gboolean video = natter_call_get_media_type (self->call) == NATTER_CALL_MEDIA_VIDEO;

  gtk_widget_set_visible (GTK_WIDGET (self->accept_button), state == NATTER_CALL_STATE_INCOMING);
  gtk_widget_set_visible (GTK_WIDGET (self->devices_button), state == NATTER_CALL_STATE_ACTIVE);
  gtk_widget_set_sensitive (GTK_WIDGET (self->hangup_button), state != NATTER_CALL_STATE_ENDED);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->hangup_button),
                               state == NATTER_CALL_STATE_INCOMING ? _("Decline") : _("Hang Up"));
  g_clear_handle_id (&self->tick_id, g_source_remove);

  switch (state)
    {
    case NATTER_CALL_STATE_IDLE:
    case NATTER_CALL_STATE_DIALING:
      gtk_label_set_label (self->status_label, _("Calling…"));
      break;
    case NATTER_CALL_STATE_RINGING:
      gtk_label_set_label (self->status_label, _("Ringing…"));
      break;
    case NATTER_CALL_STATE_INCOMING:
      gtk_label_set_label (self->status_label,
                           video ? _("Incoming video call") : _("Incoming voice call"));
      break;
    case NATTER_CALL_STATE_ACTIVE:
      update_timer (self);
      self->tick_id = g_timeout_add_seconds (1, update_timer, self);
      break;
    case NATTER_CALL_STATE_ENDED:
      gtk_label_set_label (self->status_label, reason_text (natter_call_get_reason (self->call)));
      if (self->close_id == 0)
        self->close_id = g_timeout_add (CLOSE_DELAY_MS, close_later, self);
      break;
    default:
      break;
    }
  update_stage (self);
  update_missing (self);
}

static void
on_state_changed (NatterCall       *call,
                  NatterCallState   new_state,
                  NatterCallState   old_state,
                  NatterCallWindow *self)
{
  update_state (self);
}

static void
on_media_changed (NatterCallWindow *self)
{
  update_stage (self);
}

/* The camera went off without the button (it failed): the button follows. */
static void
on_camera_enabled_changed (NatterCallWindow *self)
{
  gtk_toggle_button_set_active (self->camera_button, !natter_call_get_camera_enabled (self->call));
}

/* "No microphone found", one line per device the call goes without: the
 * call works without them, the user should know why the peer hears or
 * sees nothing. */
static void
update_missing (NatterCallWindow *self)
{
  g_auto(GStrv) missing = natter_call_get_missing_devices (self->call);
  g_autoptr(GString) text = g_string_new (NULL);

  for (guint i = 0; missing[i] != NULL; i++)
    {
      const char *line = NULL;

      if (g_str_equal (missing[i], "microphone"))
        line = _("No microphone found");
      else if (g_str_equal (missing[i], "camera"))
        line = self->camera_note != NULL ? self->camera_note : _("No camera found");
      else if (g_str_equal (missing[i], "speaker"))
        line = _("No speaker found");
      if (line == NULL)
        continue;
      if (text->len > 0)
        g_string_append_c (text, '\n');
      g_string_append (text, line);
    }
  gtk_label_set_label (self->missing_label, text->str);
  gtk_widget_set_visible (GTK_WIDGET (self->missing_label),
                          text->len > 0 && natter_call_get_state (self->call) != NATTER_CALL_STATE_ENDED);
}

static void
on_mute_toggled (GtkToggleButton  *button,
                 NatterCallWindow *self)
{
  gboolean muted = gtk_toggle_button_get_active (button);

  natter_call_set_muted (self->call, muted);
  gtk_button_set_icon_name (GTK_BUTTON (button), muted ? "microphone-sensitivity-muted-symbolic"
                                                       : "audio-input-microphone-symbolic");
  gtk_widget_set_tooltip_text (GTK_WIDGET (button), muted ? _("Unmute Microphone") : _("Mute Microphone"));
}

static void
on_camera_toggled (GtkToggleButton  *button,
                   NatterCallWindow *self)
{
  gboolean off = gtk_toggle_button_get_active (button);

  natter_call_set_camera_enabled (self->call, !off);
  gtk_button_set_icon_name (GTK_BUTTON (button), off ? "camera-disabled-symbolic" : "camera-video-symbolic");
  gtk_widget_set_tooltip_text (GTK_WIDGET (button), off ? _("Turn Camera On") : _("Turn Camera Off"));
  update_stage (self);
}

static void
accept_activated (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  natter_call_accept (NATTER_CALL_WINDOW (widget)->call);
}

static void
hangup_activated (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  natter_call_hangup (NATTER_CALL_WINDOW (widget)->call);
}

typedef struct
{
  NatterCallWindow *window;
  NatterCallDevice  kind;
  char             *name;
} DeviceChoice;

static void
on_device_set (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  DeviceChoice *choice = user_data;
  NatterCallWindow *self = choice->window;
  g_autoptr(GError) error = NULL;

  if (!natter_call_set_device_finish (NATTER_CALL (object), result, &error))
    {
      g_debug ("device not switched: %s", error->message);
      if (self->call != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED))
        gtk_label_set_label (self->status_label, _("That device cannot be opened"));
    }
  else if (self->call != NULL)
    g_signal_emit (self, signals[DEVICE_SELECTED], 0, (guint) choice->kind, choice->name);
  g_object_unref (choice->window);
  g_free (choice->name);
  g_free (choice);
}

/* The device opens on a worker (it may take seconds); the choice shows at
 * once, and the old device stays when the new one cannot be opened. */
static void
select_device (NatterCallWindow *self,
               NatterCallDevice  kind,
               const char       *name)
{
  DeviceChoice *choice;

  if (g_strcmp0 (name, natter_call_get_device (self->call, kind)) == 0)
    return;
  choice = g_new0 (DeviceChoice, 1);
  choice->window = g_object_ref (self);
  choice->kind = kind;
  choice->name = g_strdup (name);
  natter_call_set_device_async (self->call, kind, name, NULL, on_device_set, choice);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CAMERA + kind]);
}

static void
natter_call_window_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  NatterCallWindow *self = NATTER_CALL_WINDOW (object);
  const char *device;

  switch (prop_id)
    {
    case PROP_CAMERA:
    case PROP_MICROPHONE:
      device = self->call != NULL ? natter_call_get_device (self->call, prop_id - PROP_CAMERA) : NULL;
      g_value_set_string (value, device != NULL ? device : "");
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_call_window_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  NatterCallWindow *self = NATTER_CALL_WINDOW (object);

  switch (prop_id)
    {
    case PROP_CAMERA:
    case PROP_MICROPHONE:
      if (self->call != NULL)
        select_device (self, prop_id - PROP_CAMERA, g_value_get_string (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
add_device_section (GMenu            *menu,
                    NatterCallDevice  kind,
                    const char       *title)
{
  g_auto(GStrv) names = natter_call_list_devices (kind);
  g_autoptr(GMenu) section = g_menu_new ();

  for (guint i = 0; names != NULL && names[i] != NULL; i++)
    {
      g_autoptr(GMenuItem) item = g_menu_item_new (names[i], NULL);

      /* a radio item: the one in use is checked */
      g_menu_item_set_action_and_target (item, kind == NATTER_CALL_DEVICE_CAMERA ? "call.camera"
                                                                                 : "call.microphone",
                                         "s", names[i]);
      g_menu_append_item (section, item);
    }
  if (names == NULL || names[0] == NULL)
    g_menu_append (section, kind == NATTER_CALL_DEVICE_CAMERA ? _("No camera found")
                                                              : _("No microphone found"), "call.none");
  g_menu_append_section (menu, title, G_MENU_MODEL (section));
}

static void fill_devices_menu (NatterCallWindow *self);

static void
on_monitor_started (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(NatterCallWindow) self = user_data;

  natter_call_devices_start_monitor_finish (result, NULL);
  if (self->call != NULL)
    fill_devices_menu (self);
}

/* The device menu lists what the device monitor knows now; it is refilled
 * in place when devices are plugged in or removed, even while open. The
 * monitor's first start probes the providers (seconds with a hung sound
 * server): on a worker, the menu says it is looking meanwhile. */
static void
fill_devices_menu (NatterCallWindow *self)
{
  g_menu_remove_all (self->devices_menu);
  if (!natter_call_devices_monitor_ready ())
    {
      g_menu_append (self->devices_menu, _("Looking for devices…"), "call.none");
      if (!self->monitor_starting)
        {
          self->monitor_starting = TRUE;
          natter_call_devices_start_monitor_async (NULL, on_monitor_started, g_object_ref (self));
        }
      return;
    }
  if (natter_call_get_media_type (self->call) == NATTER_CALL_MEDIA_VIDEO)
    add_device_section (self->devices_menu, NATTER_CALL_DEVICE_CAMERA, _("Camera"));
  add_device_section (self->devices_menu, NATTER_CALL_DEVICE_MICROPHONE, _("Microphone"));
}

static void
create_devices_popup (GtkMenuButton *button,
                      gpointer       user_data)
{
  NatterCallWindow *self = user_data;

  /* a sound server or camera service started since: its devices come
   * (devices-changed refills the menu) */
  natter_call_devices_recheck_async (NULL, NULL, NULL);
  fill_devices_menu (self);
  if (gtk_menu_button_get_menu_model (button) != G_MENU_MODEL (self->devices_menu))
    gtk_menu_button_set_menu_model (button, G_MENU_MODEL (self->devices_menu));
}

static void
on_devices_changed (NatterCallWindow *self)
{
  fill_devices_menu (self);
}

/* Closing the window ends the call. */
static gboolean
natter_call_window_close_request (GtkWindow *window)
{
  NatterCallWindow *self = NATTER_CALL_WINDOW (window);

  if (self->call != NULL)
    natter_call_hangup (self->call);
  return GTK_WINDOW_CLASS (natter_call_window_parent_class)->close_request (window);
}

static void
natter_call_window_dispose (GObject *object)
{
  NatterCallWindow *self = NATTER_CALL_WINDOW (object);

  /* Quiet first: the hangup must not reach this window's handlers. */
  if (self->call != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->call, self);
      natter_call_hangup (self->call);
      g_clear_object (&self->call);
    }
  g_clear_handle_id (&self->tick_id, g_source_remove);
  g_clear_handle_id (&self->close_id, g_source_remove);
  g_clear_object (&self->remote);
  g_clear_object (&self->local);
  g_clear_object (&self->devices_menu);
  gtk_widget_dispose_template (GTK_WIDGET (self), NATTER_TYPE_CALL_WINDOW);

  G_OBJECT_CLASS (natter_call_window_parent_class)->dispose (object);
}

static void
natter_call_window_finalize (GObject *object)
{
  NatterCallWindow *self = NATTER_CALL_WINDOW (object);

  g_free (self->peer_name);
  g_free (self->camera_note);
  G_OBJECT_CLASS (natter_call_window_parent_class)->finalize (object);
}

static void
natter_call_window_class_init (NatterCallWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = natter_call_window_dispose;
  object_class->finalize = natter_call_window_finalize;
  object_class->get_property = natter_call_window_get_property;
  object_class->set_property = natter_call_window_set_property;
  window_class->close_request = natter_call_window_close_request;

  /* A camera or microphone chosen here (and working): the next calls and
   * Preferences take it too. */
  signals[DEVICE_SELECTED] =
    g_signal_new ("device-selected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_UINT, G_TYPE_STRING);

  properties[PROP_CAMERA] =
    g_param_spec_string ("camera", NULL, NULL, "",
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_MICROPHONE] =
    g_param_spec_string ("microphone", NULL, NULL, "",
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/im/natter/Natter/call/natter-call-window.ui");
  gtk_widget_class_bind_template_child (widget_class, NatterCallWindow, stage);
  gtk_widget_class_bind_template_child (widget_class, NatterCallWindow, avatar);
  gtk_widget_class_bind_template_child (widget_class, NatterCallWindow, name_label);
  gtk_widget_class_bind_template_child (widget_class, NatterCallWindow, remote_picture);
  gtk_widget_class_bind_template_child (widget_class, NatterCallWindow, local_picture);
  gtk_widget_class_bind_template_child (widget_class, NatterCallWindow, status_label);
  gtk_widget_class_bind_template_child (widget_class, NatterCallWindow, missing_label);
  gtk_widget_class_bind_template_child (widget_class, NatterCallWindow, mute_button);
  gtk_widget_class_bind_template_child (widget_class, NatterCallWindow, camera_button);
  gtk_widget_class_bind_template_child (widget_class, NatterCallWindow, devices_button);
  gtk_widget_class_bind_template_child (widget_class, NatterCallWindow, accept_button);
  gtk_widget_class_bind_template_child (widget_class, NatterCallWindow, hangup_button);

  gtk_widget_class_install_action (widget_class, "call.accept", NULL, accept_activated);
  gtk_widget_class_install_action (widget_class, "call.hangup", NULL, hangup_activated);
  gtk_widget_class_install_property_action (widget_class, "call.camera", "camera");
  gtk_widget_class_install_property_action (widget_class, "call.microphone", "microphone");
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "call.hangup", NULL);
}

static void
natter_call_window_init (NatterCallWindow *self)
{
  static gsize css_loaded = 0;

  if (g_once_init_enter (&css_loaded))
    {
      g_autoptr(GtkCssProvider) css = gtk_css_provider_new ();

      gtk_css_provider_load_from_resource (css, "/im/natter/Natter/call/natter-call.css");
      gtk_style_context_add_provider_for_display (gdk_display_get_default (), GTK_STYLE_PROVIDER (css),
                                                  GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
      g_once_init_leave (&css_loaded, 1);
    }

  gtk_widget_init_template (GTK_WIDGET (self));

  self->remote = natter_video_paintable_new ();
  self->local = natter_video_paintable_new ();
  self->devices_menu = g_menu_new ();
  natter_video_paintable_set_sized_by_widget (self->local, TRUE);
  /* the self-view, as every call app shows it */
  natter_video_paintable_set_mirrored (self->local, TRUE);
  gtk_picture_set_paintable (self->remote_picture, GDK_PAINTABLE (self->remote));
  gtk_picture_set_paintable (self->local_picture, GDK_PAINTABLE (self->local));
  g_signal_connect (self->mute_button, "toggled", G_CALLBACK (on_mute_toggled), self);
  g_signal_connect (self->camera_button, "toggled", G_CALLBACK (on_camera_toggled), self);
  gtk_menu_button_set_create_popup_func (self->devices_button, create_devices_popup, self, NULL);
}

NatterCallWindow *
natter_call_window_new (NatterCall *call,
                        const char *peer_name)
{
  NatterCallWindow *self;
  g_autofree char *title = NULL;

  g_return_val_if_fail (NATTER_IS_CALL (call), NULL);

  self = g_object_new (NATTER_TYPE_CALL_WINDOW, NULL);
  self->call = g_object_ref (call);
  self->peer_name = g_strdup (peer_name != NULL && *peer_name != '\0' ? peer_name
                                                                      : natter_call_get_peer_id (call));

  title = g_strdup_printf (natter_call_get_media_type (call) == NATTER_CALL_MEDIA_VIDEO
                             ? _("Video call with %s") : _("Voice call with %s"),
                           self->peer_name);
  gtk_window_set_title (GTK_WINDOW (self), title);
  adw_avatar_set_text (self->avatar, self->peer_name);
  gtk_label_set_label (self->name_label, self->peer_name);

  g_signal_connect_object (call, "state-changed", G_CALLBACK (on_state_changed), self, 0);
  g_signal_connect_object (call, "notify::remote-video", G_CALLBACK (on_media_changed), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (call, "notify::remote-camera-enabled", G_CALLBACK (on_media_changed), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (call, "notify::camera-enabled", G_CALLBACK (on_camera_enabled_changed), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (call, "notify::missing-devices", G_CALLBACK (update_missing), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (call, "devices-changed", G_CALLBACK (on_devices_changed), self,
                           G_CONNECT_SWAPPED);
  /* a sound server or camera service started since the monitor did: its
   * devices come as devices-changed */
  natter_call_devices_recheck_async (NULL, NULL, NULL);
  update_state (self);
  return self;
}

void
natter_call_window_set_camera_note (NatterCallWindow *self,
                                    const char       *note)
{
  g_return_if_fail (NATTER_IS_CALL_WINDOW (self));
  g_free (self->camera_note);
  self->camera_note = g_strdup (note);
  update_missing (self);
}

void
natter_call_window_set_account (NatterCallWindow *self,
                                const char       *account)
{
  g_autofree char *title = NULL;

  g_return_if_fail (NATTER_IS_CALL_WINDOW (self));
  g_return_if_fail (account != NULL);

  title = g_strdup_printf (natter_call_get_media_type (self->call) == NATTER_CALL_MEDIA_VIDEO
                             /* Translators: the account in the call, then the peer */
                             ? _("%s — Video call with %s") : _("%s — Voice call with %s"),
                           account, self->peer_name);
  gtk_window_set_title (GTK_WINDOW (self), title);
}

void
natter_call_window_set_peer_picture (NatterCallWindow *self,
                                     GdkPaintable     *picture)
{
  g_return_if_fail (NATTER_IS_CALL_WINDOW (self));
  adw_avatar_set_custom_image (self->avatar, picture);
}

NatterCall *
natter_call_window_get_call (NatterCallWindow *self)
{
  g_return_val_if_fail (NATTER_IS_CALL_WINDOW (self), NULL);
  return self->call;
}

guint
natter_call_window_get_remote_frames (NatterCallWindow *self)
{
  g_return_val_if_fail (NATTER_IS_CALL_WINDOW (self), 0);
  return natter_video_paintable_get_frames (self->remote);
}
