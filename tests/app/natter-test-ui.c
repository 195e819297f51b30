/* natter-test-ui.c — what the app's UI tests share
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <locale.h>
#include <string.h>
#include <unistd.h>
#include <X11/Xlib.h>

#include <gst/gst.h>

#include "natter-call-media.h"
#include "natter-call-module-entry.h"
#include "natter-message-row.h"
#include "natter-sound.h"
#include "natter-test-gio-log.h"
#include "natter-test-notifications.h"
#include "natter-test-stack.h"
#include "natter-test-ui.h"

static char *tmp_dir;
static NatterApplication *app;   /* one per process: every case's windows live in it */
static const char *language;
static gboolean secret_service;

/* ------------------------------------------------- a notification server */

/* natter-test-notifications.c, started with the process */
gboolean
natter_test_ui_notified (gpointer text)
{
  return natter_test_notifications_has (text);
}

gboolean
natter_test_ui_withdrawn (NatterTestUi           *ui,
                          NatterConversationType  type,
                          const char             *target_id)
{
  g_autofree char *id = g_strdup_printf ("%s|%d|%s", ui->profile, type, target_id);

  return natter_test_notifications_withdrawn (id);
}

void
natter_test_ui_forget_notifications (void)
{
  natter_test_notifications_forget ();
}

static void
activate_action_done_cb (GObject      *object,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (object), result, NULL);
  *(gboolean *) user_data = TRUE;
}

void
natter_test_ui_click_notification (const char *text,
                                   const char *button)
{
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);

  natter_test_ui_click_notification_of (g_dbus_connection_get_unique_name (bus),
                                        g_application_get_dbus_object_path (G_APPLICATION (natter_test_ui_app ())),
                                        text, button);
}

void
natter_test_ui_click_notification_of (const char *bus_name,
                                      const char *object_path,
                                      const char *text,
                                      const char *button)
{
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  GVariant *params = natter_test_notifications_lookup (text);
  g_autoptr(GVariant) target = NULL;
  g_autoptr(GVariant) chosen = NULL;
  const char *action = NULL;
  GVariantBuilder parameter;
  gboolean done = FALSE;

  g_assert_nonnull (params);
  if (button == NULL)
    {
      g_assert_true (g_variant_lookup (params, "default-action", "&s", &action));
      target = g_variant_lookup_value (params, "default-action-target", NULL);
    }
  else
    {
      g_autoptr(GVariant) buttons = g_variant_lookup_value (params, "buttons", G_VARIANT_TYPE ("aa{sv}"));
      const char *label;

      g_assert_nonnull (buttons);
      for (gsize i = 0; i < g_variant_n_children (buttons) && chosen == NULL; i++)
        {
          g_autoptr(GVariant) b = g_variant_get_child_value (buttons, i);
          if (g_variant_lookup (b, "label", "&s", &label) && g_str_equal (label, button))
            chosen = g_steal_pointer (&b);
        }
      g_assert_nonnull (chosen);
      g_assert_true (g_variant_lookup (chosen, "action", "&s", &action));
      target = g_variant_lookup_value (chosen, "target", NULL);
    }
  g_assert_true (g_str_has_prefix (action, "app."));
  g_variant_builder_init (&parameter, G_VARIANT_TYPE ("av"));
  if (target != NULL)
    g_variant_builder_add (&parameter, "v", target);
  g_dbus_connection_call (bus, bus_name, object_path,
                          "org.freedesktop.Application", "ActivateAction",
                          g_variant_new ("(sava{sv})", action + strlen ("app."), &parameter, NULL),
                          NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, activate_action_done_cb, &done);
  natter_test_ui_wait_until (natter_test_ui_is_true, &done, "the notification's action");
}

/* ------------------------------------------------------------------ waits */

int
natter_test_ui_wait_seconds (void)
{
  const char *env = g_getenv ("NATTER_TEST_WAIT_SECONDS");
#if defined(__SANITIZE_ADDRESS__)
  /* ASan makes the app (and natterd, natter-cli) several times slower */
  const int fallback = 90;
#else
  const int fallback = 30;
#endif
  return env != NULL && atoi (env) > 0 ? atoi (env) : fallback;
}

static gboolean
wake_cb (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

void
natter_test_ui_wait_until (NatterTestUiPredicate  predicate,
                           gpointer               data,
                           const char            *what)
{
  int seconds = natter_test_ui_wait_seconds ();
  gint64 deadline = g_get_monotonic_time () + seconds * G_USEC_PER_SEC;
  guint wake = g_timeout_add (50, wake_cb, NULL);

  while (!predicate (data))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("Timed out after %d s waiting for %s", seconds, what);
      g_main_context_iteration (NULL, TRUE);
    }
  g_source_remove (wake);
}

void
natter_test_ui_spin (guint ms)
{
  gint64 until = g_get_monotonic_time () + ms * 1000;
  guint wake = g_timeout_add (20, wake_cb, NULL);

  while (g_get_monotonic_time () < until)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (wake);
}

typedef struct {
  GtkWidget  *root;
  const char *text;
} LabelQuery;

static gboolean
label_shown (gpointer data)
{
  LabelQuery *q = data;
  return natter_test_ui_find_label (q->root, q->text) != NULL;
}

static gboolean
label_gone (gpointer data)
{
  return !label_shown (data);
}

void
natter_test_ui_wait_for_label (GtkWidget  *root,
                               const char *text)
{
  LabelQuery q = { root, text };
  g_autofree char *what = g_strdup_printf ("“%s” on screen", text);

  natter_test_ui_wait_until (label_shown, &q, what);
}

void
natter_test_ui_wait_label_gone (GtkWidget  *root,
                                const char *text)
{
  LabelQuery q = { root, text };
  g_autofree char *what = g_strdup_printf ("“%s” gone", text);

  natter_test_ui_wait_until (label_gone, &q, what);
}

void
natter_test_ui_wait_anywhere (const char *text,
                              const char *what)
{
  natter_test_ui_wait_until (natter_test_ui_label_anywhere, (gpointer) text, what);
}

static gboolean
page_is (gpointer data)
{
  NatterWindow *window = ((gpointer *) data)[0];
  const char *page = ((gpointer *) data)[1];
  return g_strcmp0 (natter_window_get_page (window), page) == 0;
}

void
natter_test_ui_wait_for_page (NatterWindow *window,
                              const char   *page)
{
  gpointer data[2] = { window, (gpointer) page };
  g_autofree char *what = g_strdup_printf ("page %s", page);

  natter_test_ui_wait_until (page_is, data, what);
}

gboolean
natter_test_ui_is_connected (gpointer window)
{
  NatterClient *client = natter_window_get_client (window);
  return client != NULL && natter_client_get_status (client) == NATTER_CONNECTION_CONNECTED;
}

void
natter_test_ui_wait_connected (NatterWindow *window)
{
  natter_test_ui_wait_until (natter_test_ui_is_connected, window, "connected");
}

NatterConversation *
natter_test_ui_get_conversation (NatterConversationList *list,
                                 NatterConversationType  type,
                                 const char             *target_id)
{
  guint pos = list != NULL ? natter_conversation_list_find (list, type, target_id) : G_MAXUINT;

  return pos != G_MAXUINT ? g_list_model_get_item (G_LIST_MODEL (list), pos) : NULL;
}

NatterMessage *
natter_test_ui_last_own_message (NatterWindow *window)
{
  NatterMessageList *list = natter_chat_view_get_messages (natter_window_get_chat_view (window));
  guint n = list != NULL ? g_list_model_get_n_items (G_LIST_MODEL (list)) : 0;

  for (guint i = n; i > 0; i--)
    {
      g_autoptr(NatterMessage) m = g_list_model_get_item (G_LIST_MODEL (list), i - 1);
      /* not the protocol messages that follow it (a read receipt request) */
      if (natter_message_get_direction (m) == NATTER_MESSAGE_DIRECTION_SEND && natter_message_row_shows (m))
        return g_steal_pointer (&m);
    }
  return NULL;
}

gboolean
natter_test_ui_last_sent (gpointer window)
{
  g_autoptr(NatterMessage) last = natter_test_ui_last_own_message (window);

  return last != NULL && natter_message_get_sent_status (last) >= NATTER_SENT_STATUS_SENT;
}

gint64
natter_test_ui_message_id_of_kind (NatterChatView    *chat,
                                   NatterMessageKind  kind)
{
  NatterMessageList *list = natter_chat_view_get_messages (chat);

  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (list)); i++)
    {
      g_autoptr(NatterMessage) m = g_list_model_get_item (G_LIST_MODEL (list), i);
      if (natter_message_get_kind (m) == kind)
        return natter_message_get_message_id (m);
    }
  g_assert_not_reached ();
}

gboolean
natter_test_ui_label_anywhere (gpointer text)
{
  GListModel *toplevels = gtk_window_get_toplevels ();  /* not ours */

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GtkWidget) window = g_list_model_get_item (toplevels, i);
      if (natter_test_ui_find_label (window, text) != NULL)
        return TRUE;
    }
  return FALSE;
}

gboolean
natter_test_ui_file_exists (gpointer path)
{
  return g_file_test (path, G_FILE_TEST_EXISTS);
}

gboolean
natter_test_ui_is_true (gpointer data)
{
  return *(gboolean *) data;
}

/* ---------------------------------------------------------------- finders */

static GtkWidget *
find_under (GtkWidget         *widget,
            gboolean           mapped_only,
            NatterTestUiMatch  match,
            gconstpointer      data)
{
  if (mapped_only && !gtk_widget_get_mapped (widget))
    return NULL;
  if (match (widget, data))
    return widget;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_under (child, mapped_only, match, data);
      if (found != NULL)
        return found;
    }
  return NULL;
}

GtkWidget *
natter_test_ui_find (GtkWidget         *widget,
                     NatterTestUiMatch  match,
                     gconstpointer      data)
{
  return find_under (widget, TRUE, match, data);
}

GtkWidget *
natter_test_ui_find_any (GtkWidget         *widget,
                         NatterTestUiMatch  match,
                         gconstpointer      data)
{
  return find_under (widget, FALSE, match, data);
}

static gboolean
label_contains (GtkWidget     *widget,
                gconstpointer  text)
{
  return GTK_IS_LABEL (widget) && strstr (gtk_label_get_text (GTK_LABEL (widget)), text) != NULL;
}

GtkWidget *
natter_test_ui_find_label (GtkWidget  *widget,
                           const char *text)
{
  return natter_test_ui_find (widget, label_contains, text);
}

static gboolean
label_is (GtkWidget     *widget,
          gconstpointer  text)
{
  return GTK_IS_LABEL (widget) && g_str_equal (gtk_label_get_text (GTK_LABEL (widget)), text);
}

GtkWidget *
natter_test_ui_find_exact_label (GtkWidget  *widget,
                                 const char *text)
{
  return natter_test_ui_find (widget, label_is, text);
}

static gboolean
is_of_type (GtkWidget     *widget,
            gconstpointer  type)
{
  return g_type_is_a (G_OBJECT_TYPE (widget), (GType) GPOINTER_TO_SIZE (type));
}

GtkWidget *
natter_test_ui_find_type (GtkWidget *widget,
                          GType      type)
{
  return natter_test_ui_find (widget, is_of_type, GSIZE_TO_POINTER (type));
}

static gboolean
is_big_picture (GtkWidget     *widget,
                gconstpointer  data)
{
  return GTK_IS_PICTURE (widget) && gtk_picture_get_paintable (GTK_PICTURE (widget)) != NULL &&
         gtk_widget_get_width (widget) > 40 && gtk_widget_get_height (widget) > 40;
}

GtkWidget *
natter_test_ui_find_picture (GtkWidget *widget)
{
  return natter_test_ui_find (widget, is_big_picture, NULL);
}

gboolean
natter_test_ui_has_picture (gpointer widget)
{
  return natter_test_ui_find_picture (widget) != NULL;
}

static gboolean
is_entry_row_titled (GtkWidget     *widget,
                     gconstpointer  title)
{
  return ADW_IS_ENTRY_ROW (widget) &&
         g_strcmp0 (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (widget)), title) == 0;
}

GtkWidget *
natter_test_ui_find_entry_row (GtkWidget  *widget,
                               const char *title)
{
  return natter_test_ui_find (widget, is_entry_row_titled, title);
}

GtkWidget *
natter_test_ui_find_button_with_label (GtkWidget  *widget,
                                       const char *text)
{
  GtkWidget *label = natter_test_ui_find_label (widget, text);
  return label != NULL ? gtk_widget_get_ancestor (label, GTK_TYPE_BUTTON) : NULL;
}

static gboolean
is_button_with_icon (GtkWidget     *widget,
                     gconstpointer  icon)
{
  return GTK_IS_BUTTON (widget) && g_strcmp0 (gtk_button_get_icon_name (GTK_BUTTON (widget)), icon) == 0;
}

GtkWidget *
natter_test_ui_find_button_with_icon (GtkWidget  *widget,
                                      const char *icon_name)
{
  return natter_test_ui_find (widget, is_button_with_icon, icon_name);
}

GtkWidget *
natter_test_ui_find_toplevel (GType type)
{
  GListModel *toplevels = gtk_window_get_toplevels ();  /* not ours */

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GtkWidget) w = g_list_model_get_item (toplevels, i);
      if (g_type_is_a (G_OBJECT_TYPE (w), type) && gtk_widget_get_mapped (w))
        return w;
    }
  return NULL;
}

GtkWidget *
natter_test_ui_call_window (void)
{
  g_autoptr(GList) toplevels = gtk_window_list_toplevels ();

  for (GList *l = toplevels; l != NULL; l = l->next)
    if (g_str_equal (G_OBJECT_TYPE_NAME (l->data), "NatterCallWindow") && gtk_widget_get_visible (l->data))
      return l->data;
  return NULL;
}

gboolean
natter_test_ui_call_window_shown (gpointer data)
{
  return natter_test_ui_call_window () != NULL;
}

gboolean
natter_test_ui_call_window_gone (gpointer data)
{
  return natter_test_ui_call_window () == NULL;
}

GtkWidget *
natter_test_ui_find_message_dialog (void)
{
  return natter_test_ui_find_toplevel (ADW_TYPE_MESSAGE_DIALOG);
}

/* Some avatar shows a picture instead of initials. */
static gboolean
is_avatar_with_picture (GtkWidget     *widget,
                        gconstpointer  data)
{
  return (ADW_IS_AVATAR (widget) && adw_avatar_get_custom_image (ADW_AVATAR (widget)) != NULL) ||
         (NATTER_IS_AVATAR (widget) && natter_avatar_get_custom_image (NATTER_AVATAR (widget)) != NULL);
}

gboolean
natter_test_ui_has_portrait (gpointer widget)
{
  return natter_test_ui_find (widget, is_avatar_with_picture, NULL) != NULL;
}

/* ----------------------------------------------------------------- doing */

void
natter_test_ui_set_row_text (GtkWidget  *root,
                             const char *title,
                             const char *text)
{
  GtkWidget *row = natter_test_ui_find_entry_row (root, title);

  g_assert_nonnull (row);
  gtk_editable_set_text (GTK_EDITABLE (row), text);
}

void
natter_test_ui_show_advanced (GtkWidget *root)
{
  GtkWidget *expander = natter_test_ui_find_type (root, GTK_TYPE_EXPANDER);

  g_assert_nonnull (expander);
  gtk_expander_set_expanded (GTK_EXPANDER (expander), TRUE);
  natter_test_ui_spin (50);
}

void
natter_test_ui_set_dialog_text (const char *text)
{
  GListModel *toplevels = gtk_window_get_toplevels ();  /* not ours */

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GtkWidget) w = g_list_model_get_item (toplevels, i);
      GtkWidget *entry = ADW_IS_MESSAGE_DIALOG (w) && gtk_widget_get_mapped (w)
                           ? natter_test_ui_find_type (w, GTK_TYPE_ENTRY) : NULL;
      if (entry != NULL)
        gtk_editable_set_text (GTK_EDITABLE (entry), text);
    }
}

void
natter_test_ui_respond_to_dialog (const char *response)
{
  GListModel *toplevels = gtk_window_get_toplevels ();  /* not ours */

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GtkWidget) window = g_list_model_get_item (toplevels, i);
      if (ADW_IS_MESSAGE_DIALOG (window) && gtk_widget_get_mapped (window))
        {
          adw_message_dialog_response (ADW_MESSAGE_DIALOG (window), response);
          gtk_window_destroy (GTK_WINDOW (window));
          return;
        }
    }
  g_error ("no dialog on screen to answer %s", response);
}

void
natter_test_ui_close_windows_of_type (GType type)
{
  GListModel *toplevels = gtk_window_get_toplevels ();  /* not ours */

  for (guint i = g_list_model_get_n_items (toplevels); i > 0; i--)
    {
      g_autoptr(GtkWidget) w = g_list_model_get_item (toplevels, i - 1);
      if (g_type_is_a (G_OBJECT_TYPE (w), type))
        gtk_window_destroy (GTK_WINDOW (w));
    }
  natter_test_ui_spin (100);
}

gboolean
natter_test_ui_press_key (GtkWidget       *widget,
                          guint            keyval,
                          GdkModifierType  state)
{
  g_autoptr(GListModel) controllers = gtk_widget_observe_controllers (widget);
  gboolean handled = FALSE;

  for (guint i = 0; i < g_list_model_get_n_items (controllers) && !handled; i++)
    {
      g_autoptr(GtkEventController) controller = g_list_model_get_item (controllers, i);
      if (GTK_IS_EVENT_CONTROLLER_KEY (controller) &&
          gtk_event_controller_get_propagation_phase (controller) == GTK_PHASE_CAPTURE)
        g_signal_emit_by_name (controller, "key-pressed", keyval, 0, state, &handled);
    }
  return handled;
}

void
natter_test_ui_preferences_show_token_note (void)
{
  GListModel *toplevels = gtk_window_get_toplevels ();  /* not ours */

  g_action_group_activate_action (G_ACTION_GROUP (natter_test_ui_app ()), "preferences", NULL);
  natter_test_ui_wait_anywhere ("Show Notifications", "the preferences");
  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GtkWidget) w = g_list_model_get_item (toplevels, i);
      if (ADW_IS_PREFERENCES_WINDOW (w))
        adw_preferences_window_set_visible_page_name (ADW_PREFERENCES_WINDOW (w), "account");
    }
  natter_test_ui_wait_anywhere ("readable only by you (mode 0600)", "the token note");
  natter_test_ui_close_windows_of_type (g_type_from_name ("NatterPreferencesWindow"));
}

/* Closes the toasts on screen (the keyring note), so screenshots show the app. */
static gboolean
dismiss_toasts (GtkWidget *widget)
{
  gboolean any = FALSE;

  if (GTK_IS_BUTTON (widget) && gtk_widget_get_mapped (widget) &&
      g_strcmp0 (gtk_button_get_icon_name (GTK_BUTTON (widget)), "window-close-symbolic") == 0 &&
      g_str_equal (G_OBJECT_TYPE_NAME (gtk_widget_get_parent (widget)), "AdwToastWidget"))
    {
      gtk_widget_activate (widget);
      return TRUE;
    }
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    any |= dismiss_toasts (child);
  return any;
}

static gboolean
allocated (gpointer widget)
{
  return gtk_widget_get_width (widget) > 0 && gtk_widget_get_height (widget) > 0;
}

void
natter_test_ui_screenshot (GtkWidget  *window,
                           const char *name)
{
  /* the window's content (libadwaita draws the header bars in it) */
  GtkWidget *widget = ADW_IS_WINDOW (window) ? adw_window_get_content (ADW_WINDOW (window))
                                             : adw_application_window_get_content (ADW_APPLICATION_WINDOW (window));
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  g_autoptr(GtkSnapshot) snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autofree char *path = NULL;
  GdkRGBA background;
  int width, height;

  /* let transitions settle; the paintable renders what the next frame draws */
  if (dismiss_toasts (window))
    natter_test_ui_spin (600);
  gtk_widget_queue_draw (widget);
  natter_test_ui_spin (400);
  /* a window just presented on a starved box may not be laid out yet
   * (ASan: a 0-wide texture, a critical) */
  natter_test_ui_wait_until (allocated, widget, "the window laid out");
  width = gtk_widget_get_width (widget);
  height = gtk_widget_get_height (widget);
  /* The window, not its content, draws the window background: without it,
   * the PNG is transparent there (white in viewers, hiding dark mode). */
  if (!gtk_style_context_lookup_color (gtk_widget_get_style_context (window), "window_bg_color", &background))
    g_assert_not_reached ();
  gtk_snapshot_append_color (snapshot, &background, &GRAPHENE_RECT_INIT (0, 0, width, height));
  gdk_paintable_snapshot (paintable, GDK_SNAPSHOT (snapshot), width, height);
  node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  g_assert_nonnull (node);
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (GTK_NATIVE (window)),
                                         node, &GRAPHENE_RECT_INIT (0, 0, width, height));
  path = g_build_filename (g_getenv ("G_TEST_BUILDDIR") != NULL ? g_getenv ("G_TEST_BUILDDIR") : ".",
                           name, NULL);
  g_assert_true (gdk_texture_save_to_png (texture, path));
  g_test_message ("screenshot: %s", path);
}

/* --------------------------------------------------------------- a case */

void
natter_test_ui_setup (NatterTestUi  *ui,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  natter_test_stack_allow_gst_rtpsession_race ();

  ui->dir = g_dir_make_tmp ("natter-test-ui-case-XXXXXX", &error);
  g_assert_no_error (error);
  ui->profile = g_build_filename (ui->dir, "alice", NULL);
  ui->server = natter_test_server_new ();
  ui->tokens = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  natter_test_ui_forget_notifications ();
}

void
natter_test_ui_setup_signed_in (NatterTestUi  *ui,
                                gconstpointer  data)
{
  natter_test_ui_setup (ui, data);
  natter_test_ui_sign_in (ui);
}

static gboolean
no_sound_pipelines (gpointer data)
{
  return natter_sound_get_n_pipelines () == 0;
}

void
natter_test_ui_teardown (NatterTestUi  *ui,
                         gconstpointer  data)
{
  GListModel *toplevels = gtk_window_get_toplevels ();  /* not ours */
  GSettings *settings = natter_application_get_settings (natter_test_ui_app ());
  g_autoptr(GSettingsSchema) schema = NULL;
  g_auto(GStrv) keys = NULL;
  g_autofree char *command = g_strdup_printf ("rm -rf '%s'", ui->dir);

  for (guint i = g_list_model_get_n_items (toplevels); i > 0; i--)
    {
      g_autoptr(GtkWidget) w = g_list_model_get_item (toplevels, i - 1);
      gtk_window_destroy (GTK_WINDOW (w));
    }
  natter_test_ui_spin (100);
  /* a message sound or ringtone stops with its window: none plays on
   * into the next case or the process's exit */
  natter_test_ui_wait_until (no_sound_pipelines, NULL, "every sound gone with its window");
  /* nor did one leave a warning behind as it went (#15: ui-mentions) */
  natter_test_gio_log_assert_none ();

  g_object_get (settings, "settings-schema", &schema, NULL);
  keys = g_settings_schema_list_keys (schema);
  for (guint i = 0; keys[i] != NULL; i++)
    g_settings_reset (settings, keys[i]);

  natter_test_server_free (ui->server);
  g_hash_table_unref (ui->tokens);
  g_assert_cmpint (system (command), ==, 0);
  g_free (ui->profile);
  g_free (ui->dir);
}

NatterWindow *
natter_test_ui_open (NatterTestUi *ui,
                     const char   *profile)
{
  ui->window = NATTER_WINDOW (natter_application_open_profile (natter_test_ui_app (), profile));
  gtk_window_set_default_size (GTK_WINDOW (ui->window), 1100, 720);
  ui->root = GTK_WIDGET (ui->window);
  ui->sidebar = natter_window_get_sidebar (ui->window);
  ui->chat = natter_window_get_chat_view (ui->window);
  return ui->window;
}

void
natter_test_ui_write_profile (NatterTestUi *ui,
                              const char   *user_id,
                              const char   *profile)
{
  g_autofree char *token = natter_test_ui_token (ui, user_id);
  g_autofree char *ini = g_build_filename (profile, "account.ini", NULL);
  g_autofree char *token_path = g_build_filename (profile, "token", NULL);
  g_autofree char *account = g_strdup_printf ("[account]\nserver-url=%s\napp-key=%s\nuser-id=%s\n",
                                              natter_test_server_get_url (ui->server),
                                              natter_test_server_get_app_key (ui->server), user_id);

  g_assert_cmpint (g_mkdir_with_parents (profile, 0700), ==, 0);
  g_assert_true (g_file_set_contents (ini, account, -1, NULL));
  g_assert_true (g_file_set_contents_full (token_path, token, -1, G_FILE_SET_CONTENTS_NONE, 0600, NULL));
}

void
natter_test_ui_sign_in (NatterTestUi *ui)
{
  natter_test_ui_write_profile (ui, "alice", ui->profile);
  natter_test_ui_open (ui, ui->profile);
  natter_test_ui_wait_for_page (ui->window, "main");
  natter_test_ui_wait_connected (ui->window);
}

void
natter_test_ui_sign_in_with_form (NatterTestUi *ui,
                                  const char   *server_url,
                                  const char   *token)
{
  natter_test_ui_wait_for_page (ui->window, "sign-in");
  natter_test_ui_wait_for_label (ui->root, "Welcome to Natter");
  natter_test_ui_set_row_text (ui->root, "Server Address", server_url);
  natter_test_ui_set_row_text (ui->root, "App Key", natter_test_server_get_app_key (ui->server));
  natter_test_ui_show_advanced (ui->root);
  natter_test_ui_set_row_text (ui->root, "Token", token);
  gtk_widget_activate (natter_test_ui_find_button_with_label (ui->root, "Sign In"));
}

char *
natter_test_ui_token (NatterTestUi *ui,
                      const char   *user_id)
{
  const char *token = g_hash_table_lookup (ui->tokens, user_id);

  if (token == NULL)
    {
      token = natter_test_server_get_token (ui->server, user_id);
      g_hash_table_insert (ui->tokens, g_strdup (user_id), (char *) token);
    }
  return g_strdup (token);
}

/* natter-cli's argv as @user_id (its profile in ui->dir), then @args
 * up to their NULL. */
static GPtrArray *
cli_argv (NatterTestUi *ui,
          const char   *user_id,
          va_list       args)
{
  g_autofree char *profile_name = g_strdup_printf ("%s-cli", user_id);
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);
  const char *arg;

  g_ptr_array_add (argv, g_strdup (natter_test_program ("NATTER_CLI")));
  g_ptr_array_add (argv, g_strdup ("--server"));
  g_ptr_array_add (argv, g_strdup (natter_test_server_get_url (ui->server)));
  g_ptr_array_add (argv, g_strdup ("--app-key"));
  g_ptr_array_add (argv, g_strdup (natter_test_server_get_app_key (ui->server)));
  g_ptr_array_add (argv, g_strdup ("--token"));
  g_ptr_array_add (argv, natter_test_ui_token (ui, user_id));
  g_ptr_array_add (argv, g_strdup ("--profile"));
  g_ptr_array_add (argv, g_build_filename (ui->dir, profile_name, NULL));
  while ((arg = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, g_strdup (arg));
  g_ptr_array_add (argv, NULL);
  return argv;
}

char *
natter_test_ui_cli (NatterTestUi *ui,
                    const char   *user_id,
                    ...)
{
  g_autoptr(GPtrArray) argv = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  va_list args;

  va_start (args, user_id);
  argv = cli_argv (ui, user_id, args);
  va_end (args);

  process = g_subprocess_newv ((const char * const *) argv->pdata,
                               G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                               &error);
  g_assert_no_error (error);
  /* the main loop keeps running for the app while natter-cli works */
  g_subprocess_communicate_utf8 (process, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  if (!g_subprocess_get_successful (process))
    g_error ("natter-cli failed: %s%s", out, err);
  return g_steal_pointer (&out);
}

static void
cli_run_done_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  NatterTestCliRun *run = user_data;
  g_autoptr(GError) error = NULL;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (object), result, &run->out, NULL, &error);
  g_assert_no_error (error);
  run->done = TRUE;
}

void
natter_test_ui_cli_start (NatterTestUi     *ui,
                          NatterTestCliRun *run,
                          const char       *user_id,
                          ...)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GPtrArray) argv = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  va_list args;

  va_start (args, user_id);
  argv = cli_argv (ui, user_id, args);
  va_end (args);

  run->done = FALSE;
  run->out = NULL;
  /* the other side of a call has test sources, whatever the app has */
  g_subprocess_launcher_setenv (launcher, "NATTER_CALL_TEST_SOURCES", "1", TRUE);
  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (process, NULL, NULL, cli_run_done_cb, run);
}

JsonObject *
natter_test_cli_run_wait_result (NatterTestCliRun *run,
                                 const char       *what)
{
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;

  natter_test_ui_wait_until (natter_test_ui_is_true, &run->done, what);
  g_assert_nonnull (run->out);
  /* the final JSON is the last line */
  lines = g_strsplit (g_strstrip (run->out), "\n", -1);
  g_test_message ("natter-cli: %s", lines[g_strv_length (lines) - 1]);
  node = json_from_string (lines[g_strv_length (lines) - 1], &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  return json_object_ref (json_node_get_object (node));
}

void
natter_test_cli_run_clear (NatterTestCliRun *run)
{
  g_clear_pointer (&run->out, g_free);
}

void
natter_test_ui_send (NatterTestUi *ui,
                     const char   *from_id,
                     const char   *to_id,
                     const char   *text)
{
  g_free (natter_test_ui_cli (ui, from_id, "send", to_id, text, NULL));
}

void
natter_test_ui_publish (NatterTestUi *ui,
                        const char   *from_id,
                        const char   *to_id,
                        const char   *text)
{
  g_autoptr(JsonObject) content = json_object_new ();
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  g_autofree char *json = NULL;
  g_autoptr(JsonObject) reply = NULL;
  guint status = 0;

  json_object_set_string_member (content, "content", text);
  json_node_set_object (node, content);
  json = json_to_string (node, FALSE);
  reply = natter_test_server_api (ui->server, &status, "message/private/publish",
                                  "fromUserId", from_id, "toUserId", to_id,
                                  "objectName", "RC:TxtMsg", "content", json, NULL);
  g_assert_cmpuint (status, ==, 200);
}

void
natter_test_ui_create_group (NatterTestUi *ui,
                             const char   *group_id,
                             const char   *group_name,
                             ...)
{
  g_autoptr(JsonObject) reply = NULL;
  const char *user_id;
  guint status = 0;
  va_list args;

  /* natterd's group/create takes the members as repeated userId */
  va_start (args, group_name);
  user_id = va_arg (args, const char *);
  g_assert_nonnull (user_id);
  reply = natter_test_server_api (ui->server, &status, "group/create", "userId", user_id,
                                  "groupId", group_id, "groupName", group_name, NULL);
  g_assert_cmpuint (status, ==, 200);
  while ((user_id = va_arg (args, const char *)) != NULL)
    {
      g_autoptr(JsonObject) joined = natter_test_server_api (ui->server, &status, "group/join",
                                                             "userId", user_id, "groupId", group_id,
                                                             "groupName", group_name, NULL);
      g_assert_cmpuint (status, ==, 200);
    }
  va_end (args);
}

void
natter_test_ui_set_user (NatterTestUi *ui,
                         const char   *user_id,
                         const char   *name,
                         const char   *portrait_uri)
{
  g_autofree char *token = natter_test_ui_token (ui, user_id);   /* natterd knows him from now on */
  guint status = 0;
  g_autoptr(JsonObject) reply = NULL;

  if (portrait_uri != NULL)
    reply = natter_test_server_api (ui->server, &status, "user/refresh", "userId", user_id, "name", name,
                                    "portraitUri", portrait_uri, NULL);
  else
    reply = natter_test_server_api (ui->server, &status, "user/refresh", "userId", user_id, "name", name, NULL);
  g_assert_cmpuint (status, ==, 200);
}

char *
natter_test_ui_write_image (NatterTestUi *ui)
{
  g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 480, 320);
  g_autoptr(GError) error = NULL;
  guchar *pixels = gdk_pixbuf_get_pixels (pixbuf);
  int stride = gdk_pixbuf_get_rowstride (pixbuf);
  char *path = g_build_filename (ui->dir, "sunset.png", NULL);

  /* a sunset: sky gradient, a sun, the sea */
  for (int y = 0; y < 320; y++)
    for (int x = 0; x < 480; x++)
      {
        guchar *p = pixels + y * stride + x * 3;
        int dx = x - 240, dy = y - 190;
        if (y > 200)
          p[0] = 30, p[1] = 60 + (y - 200) / 3, p[2] = 120 + (y - 200) / 2;
        else if (dx * dx + dy * dy < 60 * 60)
          p[0] = 255, p[1] = 200, p[2] = 80;
        else
          p[0] = 250, p[1] = 120 + y / 3, p[2] = 90 + y / 4;
      }
  gdk_pixbuf_save (pixbuf, path, "png", &error, NULL);
  g_assert_no_error (error);
  return path;
}

void
natter_test_ui_open_chat (NatterTestUi *ui,
                          const char   *target_id,
                          const char   *text)
{
  natter_window_open_conversation (ui->window, NATTER_CONVERSATION_PRIVATE, target_id, 0);
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), text);
}

/* ------------------------------------------------------ a Secret Service */

static const char secrets_xml[] =
  "<node>"
  " <interface name='org.freedesktop.Secret.Service'>"
  "  <method name='OpenSession'><arg type='s' direction='in'/><arg type='v' direction='in'/>"
  "   <arg type='v' direction='out'/><arg type='o' direction='out'/></method>"
  "  <method name='SearchItems'><arg type='a{ss}' direction='in'/>"
  "   <arg type='ao' direction='out'/><arg type='ao' direction='out'/></method>"
  "  <method name='Unlock'><arg type='ao' direction='in'/>"
  "   <arg type='ao' direction='out'/><arg type='o' direction='out'/></method>"
  "  <method name='GetSecrets'><arg type='ao' direction='in'/><arg type='o' direction='in'/>"
  "   <arg type='a{o(oayays)}' direction='out'/></method>"
  "  <method name='ReadAlias'><arg type='s' direction='in'/><arg type='o' direction='out'/></method>"
  "  <property name='Collections' type='ao' access='read'/>"
  " </interface>"
  " <interface name='org.freedesktop.Secret.Collection'>"
  "  <method name='CreateItem'><arg type='a{sv}' direction='in'/><arg type='(oayays)' direction='in'/>"
  "   <arg type='b' direction='in'/><arg type='o' direction='out'/><arg type='o' direction='out'/></method>"
  " </interface>"
  " <interface name='org.freedesktop.Secret.Item'>"
  "  <method name='Delete'><arg type='o' direction='out'/></method>"
  " </interface>"
  "</node>";

#define SECRETS_COLLECTION "/org/freedesktop/secrets/collection/login"
#define SECRETS_ITEM SECRETS_COLLECTION "/1"
#define SECRETS_SESSION "/org/freedesktop/secrets/session/1"

typedef struct {
  NatterTestKeyring keyring;   /* first: what natter_test_ui_start_secret_service() returns */
  guint owner;
  guint objects[4];
} SecretService;

static gboolean
keyring_matches (NatterTestKeyring *keyring,
                 GVariant          *query)
{
  GVariantIter iter;
  const char *key, *value, *stored;

  if (keyring->attributes == NULL)
    return FALSE;
  g_variant_iter_init (&iter, query);
  while (g_variant_iter_next (&iter, "{&s&s}", &key, &value))
    if (!g_variant_lookup (keyring->attributes, key, "&s", &stored) || !g_str_equal (stored, value))
      return FALSE;
  return TRUE;
}

static void
secrets_method_cb (GDBusConnection       *connection,
                   const char            *sender,
                   const char            *object_path,
                   const char            *interface_name,
                   const char            *method_name,
                   GVariant              *parameters,
                   GDBusMethodInvocation *invocation,
                   gpointer               user_data)
{
  NatterTestKeyring *keyring = user_data;

  if (g_str_equal (method_name, "OpenSession"))
    {
      const char *algorithm;

      g_variant_get_child (parameters, 0, "&s", &algorithm);
      if (!g_str_equal (algorithm, "plain"))
        g_dbus_method_invocation_return_dbus_error (invocation, "org.freedesktop.DBus.Error.NotSupported",
                                                    "plain only");
      else
        g_dbus_method_invocation_return_value (invocation,
                                               g_variant_new ("(vo)", g_variant_new_string (""), SECRETS_SESSION));
    }
  else if (g_str_equal (method_name, "SearchItems"))
    {
      g_autoptr(GVariant) query = g_variant_get_child_value (parameters, 0);
      const char *found[] = { SECRETS_ITEM, NULL };
      const char *none[] = { NULL };

      g_dbus_method_invocation_return_value (invocation,
                                             g_variant_new ("(^ao^ao)",
                                                            keyring_matches (keyring, query) ? found : none, none));
    }
  else if (g_str_equal (method_name, "Unlock"))
    {
      g_autoptr(GVariant) paths = g_variant_get_child_value (parameters, 0);
      /* "@" takes its own reference of a non-floating value: ours is
       * dropped here, not stolen (that leaked the request's paths) */
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(@aoo)", paths, "/"));
    }
  else if (g_str_equal (method_name, "GetSecrets"))
    {
      GVariantBuilder secrets;

      g_variant_builder_init (&secrets, G_VARIANT_TYPE ("a{o(oayays)}"));
      if (keyring->secret != NULL)
        g_variant_builder_add (&secrets, "{o(o@ay@ays)}", SECRETS_ITEM, SECRETS_SESSION,
                               g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, "", 0, 1),
                               g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, keyring->secret,
                                                          strlen (keyring->secret), 1),
                               "text/plain");
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(a{o(oayays)})", &secrets));
    }
  else if (g_str_equal (method_name, "ReadAlias"))
    g_dbus_method_invocation_return_value (invocation, g_variant_new ("(o)", SECRETS_COLLECTION));
  else if (g_str_equal (method_name, "CreateItem"))
    {
      g_autoptr(GVariant) properties = g_variant_get_child_value (parameters, 0);
      g_autoptr(GVariant) secret = g_variant_get_child_value (parameters, 1);
      g_autoptr(GVariant) value = g_variant_get_child_value (secret, 2);
      gsize n = 0;
      const char *bytes = g_variant_get_fixed_array (value, &n, 1);

      g_clear_pointer (&keyring->attributes, g_variant_unref);
      keyring->attributes = g_variant_lookup_value (properties, "org.freedesktop.Secret.Item.Attributes",
                                                    G_VARIANT_TYPE ("a{ss}"));
      g_free (keyring->secret);
      keyring->secret = g_strndup (bytes, n);
      keyring->stores++;
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(oo)", SECRETS_ITEM, "/"));
    }
  else if (g_str_equal (method_name, "Delete"))
    {
      g_clear_pointer (&keyring->attributes, g_variant_unref);
      g_clear_pointer (&keyring->secret, g_free);
      keyring->deletes++;
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(o)", "/"));
    }
  else
    g_dbus_method_invocation_return_dbus_error (invocation, "org.freedesktop.DBus.Error.UnknownMethod",
                                                method_name);
}

static GVariant *
secrets_get_property_cb (GDBusConnection  *connection,
                         const char       *sender,
                         const char       *object_path,
                         const char       *interface_name,
                         const char       *property_name,
                         GError          **error,
                         gpointer          user_data)
{
  const char *collections[] = { SECRETS_COLLECTION, NULL };
  return g_variant_new_objv (collections, -1);
}

static gboolean
name_owned (gpointer data)
{
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  g_autoptr(GVariant) reply = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                                           "org.freedesktop.DBus", "NameHasOwner",
                                                           g_variant_new ("(s)", (const char *) data),
                                                           G_VARIANT_TYPE ("(b)"), G_DBUS_CALL_FLAGS_NONE,
                                                           -1, NULL, NULL);
  gboolean owned = FALSE;

  if (reply != NULL)
    g_variant_get (reply, "(b)", &owned);
  return owned;
}

NatterTestKeyring *
natter_test_ui_start_secret_service (void)
{
  static const GDBusInterfaceVTable vtable = { secrets_method_cb, secrets_get_property_cb, NULL, { 0 } };
  g_autoptr(GDBusNodeInfo) info = g_dbus_node_info_new_for_xml (secrets_xml, NULL);
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  SecretService *service = g_new0 (SecretService, 1);
  /* libsecret stores through the “default” alias's path */
  struct { const char *path; guint interface; } objects[] = {
    { "/org/freedesktop/secrets", 0 }, { SECRETS_COLLECTION, 1 },
    { "/org/freedesktop/secrets/aliases/default", 1 }, { SECRETS_ITEM, 2 },
  };

  G_STATIC_ASSERT (G_N_ELEMENTS (objects) == G_N_ELEMENTS (service->objects));
  for (guint i = 0; i < G_N_ELEMENTS (objects); i++)
    {
      service->objects[i] = g_dbus_connection_register_object (bus, objects[i].path,
                                                               info->interfaces[objects[i].interface], &vtable,
                                                               &service->keyring, NULL, NULL);
      g_assert_cmpuint (service->objects[i], !=, 0);
    }
  service->owner = g_bus_own_name_on_connection (bus, "org.freedesktop.secrets", G_BUS_NAME_OWNER_FLAGS_NONE,
                                                 NULL, NULL, NULL, NULL);
  natter_test_ui_wait_until (name_owned, (gpointer) "org.freedesktop.secrets", "the Secret Service on the bus");
  return &service->keyring;
}

void
natter_test_ui_stop_secret_service (NatterTestKeyring *keyring)
{
  SecretService *service = (SecretService *) keyring;
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);

  g_bus_unown_name (service->owner);
  for (guint i = 0; i < G_N_ELEMENTS (service->objects); i++)
    g_dbus_connection_unregister_object (bus, service->objects[i]);
  natter_test_ui_spin (100);
  g_clear_pointer (&keyring->attributes, g_variant_unref);
  g_free (keyring->secret);
  g_free (service);
}

/* ------------------------------------------------------------ the process */

NatterApplication *
natter_test_ui_app (void)
{
  g_autoptr(GError) error = NULL;

  if (app == NULL)
    {
      app = natter_application_new_full (G_APPLICATION_NON_UNIQUE);
      g_application_register (G_APPLICATION (app), NULL, &error);
      g_assert_no_error (error);
      g_application_hold (G_APPLICATION (app));
    }
  return app;
}

const char *
natter_test_ui_get_tmp_dir (void)
{
  return tmp_dir;
}

const char *
natter_test_ui_get_language (void)
{
  return language;
}

gboolean
natter_test_ui_get_secret_service (void)
{
  return secret_service;
}

char *
natter_test_ui_dup_opened_path (void)
{
  return g_build_filename (tmp_dir, "opened.pdf", NULL);
}

/* The default application for PDFs in the test's XDG dirs: it copies the
 * file it is given next to it, as “opened.pdf” (no real viewer starts). */
static void
install_pdf_opener (void)
{
  g_autofree char *apps = g_build_filename (tmp_dir, "applications", NULL);
  g_autofree char *desktop = g_build_filename (apps, "natter-test-opener.desktop", NULL);
  g_autofree char *mimeapps = g_build_filename (tmp_dir, "mimeapps.list", NULL);
  g_autofree char *opened = natter_test_ui_dup_opened_path ();
  g_autofree char *entry = g_strdup_printf ("[Desktop Entry]\nType=Application\nName=Test Opener\n"
                                            "Exec=cp %%f %s\nMimeType=application/pdf;\nNoDisplay=true\n",
                                            opened);

  g_assert_cmpint (g_mkdir_with_parents (apps, 0700), ==, 0);
  g_assert_true (g_file_set_contents (desktop, entry, -1, NULL));
  g_assert_true (g_file_set_contents (mimeapps, "[Default Applications]\n"
                                                "application/pdf=natter-test-opener.desktop\n", -1, NULL));
}

/* The private bus of --secret-service is stopped at the end, not taken
 * down: g_test_dbus_down() waits for every holder of the session bus
 * connection (GTK, libsecret) to let it go. */
static GTestDBus *private_bus;

/* Xvfb starts with the pointer in the middle of the screen, over the
 * windows the tests open at (0, 0): every widget that passed under it
 * started GTK's tooltip timer, and GTK 4.8's tooltip_popup_timeout reads
 * the surface of the window it hovered without checking that it still has
 * one: once the test had destroyed that window, Gdk-CRITICAL
 * gdk_surface_get_device_position: assertion 'GDK_IS_SURFACE (surface)'
 * (ui-conversations, 1 run in 1 of the app suite). The tests click with
 * signals and never hover: the pointer waits in the bottom-right corner,
 * where no window reaches. */
static void
park_pointer (void)
{
  Display *display = XOpenDisplay (NULL);

  if (display == NULL)
    return;
  XWarpPointer (display, None, DefaultRootWindow (display), 0, 0, 0, 0,
                DisplayWidth (display, DefaultScreen (display)) - 1,
                DisplayHeight (display, DefaultScreen (display)) - 1);
  XCloseDisplay (display);
}

void
natter_test_ui_init (int    *argc,
                     char ***argv)
{
  g_setenv ("LC_ALL", "C.UTF-8", TRUE);
  /* GTK's in-process accessibility backend: no bus, and the accessible
   * names and roles can be checked */
  g_setenv ("GTK_A11Y", "test", TRUE);
  if (*argc >= 3 && g_str_equal ((*argv)[1], "--language"))
    {
      /* LANGUAGE picks the catalog even in the C.UTF-8 locale */
      language = (*argv)[2];
      g_setenv ("LANGUAGE", language, TRUE);
      setlocale (LC_ALL, "");
      bindtextdomain (GETTEXT_PACKAGE, NATTER_BUILD_LOCALE_DIR);
      bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
      textdomain (GETTEXT_PACKAGE);
      (*argv)[2] = (*argv)[0];
      *argv += 2;
      *argc -= 2;
    }
  else if (*argc >= 2 && g_str_equal ((*argv)[1], "--secret-service"))
    {
      g_autofree char *display = g_strdup (g_getenv ("DISPLAY"));
      g_autofree char *runtime_dir = g_strdup (g_getenv ("XDG_RUNTIME_DIR"));

      /* the Secret Service path on, on a private bus that has none */
      secret_service = TRUE;
      g_setenv ("NATTER_SECRET_SERVICE", "1", TRUE);
      private_bus = g_test_dbus_new (G_TEST_DBUS_NONE);
      g_test_dbus_up (private_bus);
      /* GTestDBus unsets these; the app needs the X server */
      if (display != NULL)
        g_setenv ("DISPLAY", display, TRUE);
      if (runtime_dir != NULL)
        g_setenv ("XDG_RUNTIME_DIR", runtime_dir, TRUE);
      (*argv)[1] = (*argv)[0];
      *argv += 1;
      *argc -= 1;
    }
  natter_test_stack_init ();
  g_test_init (argc, argv, NULL);

  tmp_dir = g_dir_make_tmp ("natter-test-ui-XXXXXX", NULL);
  g_setenv ("XDG_DATA_HOME", tmp_dir, TRUE);
  g_setenv ("XDG_CACHE_HOME", tmp_dir, TRUE);
  g_setenv ("XDG_CONFIG_HOME", tmp_dir, TRUE);
  install_pdf_opener ();
  natter_test_notifications_start ();
  park_pointer ();
  /* the sounds' GStreamer, early (after the XDG directories: it reads
   * them, and GLib keeps what was read first): what its GIO source logs
   * is checked */
  gst_init (NULL, NULL);
  natter_test_gio_log_watch ();
  /* the call module's code is linked in: nothing to load */
  natter_call_module_use (natter_call_module_entry ());
}

int
natter_test_ui_run (void)
{
  g_autofree char *command = NULL;
  int ret = g_test_run ();

  /* The app is held, never run: no shutdown waits for the calls' DTLS
   * key thread or the encoder timing after a call, and exiting under them
   * crashes (OpenSSL's exit handlers, GStreamer torn down; seen after
   * /ui/accounts/contacts-and-group's call on a loaded box). */
  natter_call_media_prepare_wait ();
  if (app != NULL)
    {
      g_application_release (G_APPLICATION (app));
      g_clear_object (&app);
    }
  if (private_bus != NULL)
    {
      g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);

      /* its daemon gone, the connection closes: that must not end us */
      if (bus != NULL)
        g_dbus_connection_set_exit_on_close (bus, FALSE);
      g_test_dbus_stop (private_bus);
    }
  command = g_strdup_printf ("rm -rf '%s'", tmp_dir);
  (void) system (command);
  g_clear_pointer (&tmp_dir, g_free);
  return ret;
}

typedef struct {
  NatterTestServer *server;
  const char       *user_id;
  gboolean          online;
} OnlineCheck;

static gboolean
online_is (gpointer data)
{
  OnlineCheck *check = data;
  g_autoptr(JsonObject) reply = natter_test_server_api (check->server, NULL, "user/checkOnline",
                                                        "userId", check->user_id, NULL);

  return g_strcmp0 (json_object_get_string_member_with_default (reply, "status", "0"),
                    check->online ? "1" : "0") == 0;
}

void
natter_test_ui_wait_user_online (NatterTestServer *server,
                                 const char       *user_id,
                                 gboolean          online)
{
  OnlineCheck check = { server, user_id, online };
  g_autofree char *what = g_strdup_printf ("%s %s", user_id, online ? "online" : "offline");

  natter_test_ui_wait_until (online_is, &check, what);
}

/* Drops the file at @path on the open chat, as a file manager would. */
void
natter_test_ui_drop_file (NatterTestUi *ui,
                          const char   *path)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GListModel) controllers = gtk_widget_observe_controllers (GTK_WIDGET (ui->chat));
  GSList *files = g_slist_append (NULL, file);
  GValue value = G_VALUE_INIT;
  gboolean handled = FALSE;

  g_value_init (&value, GDK_TYPE_FILE_LIST);
  g_value_set_boxed (&value, files);
  for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr(GtkEventController) controller = g_list_model_get_item (controllers, i);
      if (GTK_IS_DROP_TARGET (controller))
        g_signal_emit_by_name (controller, "drop", &value, 100.0, 100.0, &handled);
    }
  g_value_unset (&value);
  g_slist_free (files);
  g_assert_true (handled);
}
