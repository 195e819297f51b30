/* test-ui.c — the app against a real natterd, under Xvfb
 *
 * One app instance in this process, as a user would meet it: a first run
 * signs in (a wrong token first, then the right one), the conversation list
 * fills from messages natter-cli sent while alice was away, a message from
 * natter-cli appears live, alice answers from the composer and natter-cli
 * sees it, an image message shows as a picture. Screenshots of the sign-in
 * page, the main window and a chat go to the build dir. Nothing here
 * depends on exact pixels.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <locale.h>
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "natter-application.h"
#include "natter-chat-view.h"
#include "natter-composer.h"
#include "natter-sidebar.h"
#include "natter-test-server.h"
#include "natter-voice-player.h"
#include "natter-window.h"

/* How long a wait may take: NATTER_TEST_WAIT_SECONDS raises it for slow
 * runs (valgrind). */
static int
wait_seconds (void)
{
  const char *env = g_getenv ("NATTER_TEST_WAIT_SECONDS");
  return env != NULL && atoi (env) > 0 ? atoi (env) : 30;
}
#define WAIT_SECONDS (wait_seconds ())

static NatterTestServer *server;
static char *tmp_dir;
static NatterApplication *app;   /* one per process: every test's windows live in it */

static NatterApplication *
test_app_instance (void)
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

/* ------------------------------------------------- a notification server */

/* The session bus of the test has no notification server: this one, in the
 * test process, takes both names GNotification may talk to and keeps the
 * title and body of each notification. */
static GPtrArray *notifications;   /* "title\nbody" strings */
static GPtrArray *notification_params;   /* org.gtk.Notifications: each one's a{sv} */
static GPtrArray *withdrawn;   /* ids of the notifications taken back */

static const char notify_xml[] =
  "<node>"
  " <interface name='org.gtk.Notifications'>"
  "  <method name='AddNotification'><arg type='s' direction='in'/><arg type='s' direction='in'/>"
  "   <arg type='a{sv}' direction='in'/></method>"
  "  <method name='RemoveNotification'><arg type='s' direction='in'/><arg type='s' direction='in'/></method>"
  " </interface>"
  " <interface name='org.freedesktop.Notifications'>"
  "  <method name='Notify'><arg type='s' direction='in'/><arg type='u' direction='in'/>"
  "   <arg type='s' direction='in'/><arg type='s' direction='in'/><arg type='s' direction='in'/>"
  "   <arg type='as' direction='in'/><arg type='a{sv}' direction='in'/><arg type='i' direction='in'/>"
  "   <arg type='u' direction='out'/></method>"
  "  <method name='CloseNotification'><arg type='u' direction='in'/></method>"
  "  <method name='GetCapabilities'><arg type='as' direction='out'/></method>"
  "  <method name='GetServerInformation'><arg type='s' direction='out'/><arg type='s' direction='out'/>"
  "   <arg type='s' direction='out'/><arg type='s' direction='out'/></method>"
  " </interface>"
  "</node>";

static void
notify_method_cb (GDBusConnection       *connection,
                  const char            *sender,
                  const char            *object_path,
                  const char            *interface_name,
                  const char            *method_name,
                  GVariant              *parameters,
                  GDBusMethodInvocation *invocation,
                  gpointer               user_data)
{
  if (g_str_equal (method_name, "AddNotification"))
    {
      g_autoptr(GVariant) params = g_variant_get_child_value (parameters, 2);
      const char *title = "", *body = "";

      g_variant_lookup (params, "title", "&s", &title);
      g_variant_lookup (params, "body", "&s", &body);
      g_ptr_array_add (notifications, g_strdup_printf ("%s\n%s", title, body));
      g_ptr_array_add (notification_params, g_variant_ref (params));
      g_dbus_method_invocation_return_value (invocation, NULL);
    }
  else if (g_str_equal (method_name, "RemoveNotification"))
    {
      const char *id = "";

      g_variant_get_child (parameters, 1, "&s", &id);
      g_ptr_array_add (withdrawn, g_strdup (id));
      g_dbus_method_invocation_return_value (invocation, NULL);
    }
  else if (g_str_equal (method_name, "Notify"))
    {
      const char *title = "", *body = "";

      g_variant_get_child (parameters, 3, "&s", &title);
      g_variant_get_child (parameters, 4, "&s", &body);
      g_ptr_array_add (notifications, g_strdup_printf ("%s\n%s", title, body));
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(u)", notifications->len));
    }
  else if (g_str_equal (method_name, "GetCapabilities"))
    {
      const char *caps[] = { "body", "actions", NULL };
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(^as)", caps));
    }
  else if (g_str_equal (method_name, "GetServerInformation"))
    g_dbus_method_invocation_return_value (invocation, g_variant_new ("(ssss)", "test", "natter", "1", "1.2"));
  else
    g_dbus_method_invocation_return_value (invocation, NULL);
}

static void
start_notification_server (void)
{
  static const GDBusInterfaceVTable vtable = { notify_method_cb, NULL, NULL, { 0 } };
  g_autoptr(GDBusNodeInfo) info = g_dbus_node_info_new_for_xml (notify_xml, NULL);
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  const char *paths[] = { "/org/gtk/Notifications", "/org/freedesktop/Notifications" };

  notifications = g_ptr_array_new_with_free_func (g_free);
  notification_params = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  withdrawn = g_ptr_array_new_with_free_func (g_free);
  if (bus == NULL)
    return;
  for (guint i = 0; i < 2; i++)
    g_dbus_connection_register_object (bus, paths[i], info->interfaces[i], &vtable, NULL, NULL, NULL);
  g_bus_own_name_on_connection (bus, "org.gtk.Notifications", G_BUS_NAME_OWNER_FLAGS_NONE, NULL, NULL, NULL, NULL);
  g_bus_own_name_on_connection (bus, "org.freedesktop.Notifications", G_BUS_NAME_OWNER_FLAGS_NONE, NULL, NULL, NULL, NULL);
}

/* A notification whose id ends with @suffix was withdrawn. */
static gboolean
withdrawn_with_suffix (gpointer suffix)
{
  for (guint i = 0; i < withdrawn->len; i++)
    if (g_str_has_suffix (g_ptr_array_index (withdrawn, i), suffix))
      return TRUE;
  return FALSE;
}

static gboolean
notified (gpointer data)
{
  for (guint i = 0; i < notifications->len; i++)
    if (strstr (g_ptr_array_index (notifications, i), data) != NULL)
      return TRUE;
  return FALSE;
}

/* ---------------------------------------------------------------- helpers */

typedef gboolean (*Predicate) (gpointer data);

static gboolean
wake_cb (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

static void
wait_until (Predicate   predicate,
            gpointer    data,
            const char *what)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_SECONDS * G_USEC_PER_SEC;
  guint wake = g_timeout_add (50, wake_cb, NULL);

  while (!predicate (data))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("Timed out after %d s waiting for %s", WAIT_SECONDS, what);
      g_main_context_iteration (NULL, TRUE);
    }
  g_source_remove (wake);
}

static void
spin (guint ms)
{
  gint64 until = g_get_monotonic_time () + ms * 1000;
  guint wake = g_timeout_add (20, wake_cb, NULL);

  while (g_get_monotonic_time () < until)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (wake);
}

typedef gboolean (*WidgetMatch) (GtkWidget     *widget,
                                 gconstpointer  data);

/* The first mapped (on screen) widget under @widget, itself included, that
 * @match accepts. */
static GtkWidget *
find_widget (GtkWidget     *widget,
             WidgetMatch    match,
             gconstpointer  data)
{
  if (!gtk_widget_get_mapped (widget))
    return NULL;
  if (match (widget, data))
    return widget;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_widget (child, match, data);
      if (found != NULL)
        return found;
    }
  return NULL;
}

static gboolean
label_contains (GtkWidget     *widget,
                gconstpointer  text)
{
  return GTK_IS_LABEL (widget) && strstr (gtk_label_get_text (GTK_LABEL (widget)), text) != NULL;
}

/* A mapped (shown on screen) label under @widget whose text contains @text. */
static GtkWidget *
find_label (GtkWidget  *widget,
            const char *text)
{
  return find_widget (widget, label_contains, text);
}

static gboolean
is_big_picture (GtkWidget     *widget,
                gconstpointer  data)
{
  return GTK_IS_PICTURE (widget) && gtk_picture_get_paintable (GTK_PICTURE (widget)) != NULL &&
         gtk_widget_get_width (widget) > 40 && gtk_widget_get_height (widget) > 40;
}

static GtkWidget *
find_picture (GtkWidget *widget)
{
  return find_widget (widget, is_big_picture, NULL);
}

typedef struct {
  GtkWidget *root;
  const char *text;
} LabelQuery;

static gboolean
label_shown (gpointer data)
{
  LabelQuery *q = data;
  return find_label (q->root, q->text) != NULL;
}

static void
wait_for_label (GtkWidget  *root,
                const char *text)
{
  LabelQuery q = { root, text };
  g_autofree char *what = g_strdup_printf ("“%s” on screen", text);

  wait_until (label_shown, &q, what);
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

static void
screenshot (GtkWidget  *window,
            const char *name)
{
  /* the window's content (libadwaita draws the header bars in it) */
  GtkWidget *widget = adw_application_window_get_content (ADW_APPLICATION_WINDOW (window));
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  g_autoptr(GtkSnapshot) snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autofree char *path = NULL;
  int width, height;

  /* let transitions settle; the paintable renders what the next frame draws */
  if (dismiss_toasts (window))
    spin (600);
  gtk_widget_queue_draw (widget);
  spin (400);
  width = gtk_widget_get_width (widget);
  height = gtk_widget_get_height (widget);
  /* The window, not its content, draws the window background: without it,
   * the PNG is transparent there (white in viewers, hiding dark mode). */
  {
    GdkRGBA background;

    if (!gtk_style_context_lookup_color (gtk_widget_get_style_context (window),
                                         "window_bg_color", &background))
      g_assert_not_reached ();
    gtk_snapshot_append_color (snapshot, &background, &GRAPHENE_RECT_INIT (0, 0, width, height));
  }
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

static void
activate_action_done_cb (GObject      *object,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (object), result, NULL);
  *(gboolean *) user_data = TRUE;
}

static gboolean
file_exists (gpointer path)
{
  return g_file_test (path, G_FILE_TEST_EXISTS);
}

static gboolean
is_true (gpointer data)
{
  return *(gboolean *) data;
}

/* What the shell does when the notification that says @text is clicked
 * (@button NULL) or one of its buttons is: the action, over D-Bus, to the
 * app that sent it. */
static void
click_notification (const char *text,
                    const char *button)
{
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  GVariant *params = NULL;
  g_autoptr(GVariant) target = NULL;
  g_autoptr(GVariant) chosen = NULL;
  const char *action = NULL;
  GVariantBuilder parameter;
  gboolean done = FALSE;

  for (guint i = 0; i < notifications->len && i < notification_params->len; i++)
    if (strstr (g_ptr_array_index (notifications, i), text) != NULL)
      params = g_ptr_array_index (notification_params, i);
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
  g_dbus_connection_call (bus, g_dbus_connection_get_unique_name (bus),
                          g_application_get_dbus_object_path (G_APPLICATION (app)),
                          "org.freedesktop.Application", "ActivateAction",
                          g_variant_new ("(sava{sv})", action + strlen ("app."), &parameter, NULL),
                          NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, activate_action_done_cb, &done);
  wait_until (is_true, &done, "the notification's action");
}

/* natter-cli as @user; returns its stdout. */
static char *
cli (const char *token,
     const char *profile,
     ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  va_list args;
  const char *arg;

  g_ptr_array_add (argv, (char *) natter_test_program ("NATTER_CLI"));
  g_ptr_array_add (argv, (char *) "--server");
  g_ptr_array_add (argv, (char *) natter_test_server_get_url (server));
  g_ptr_array_add (argv, (char *) "--app-key");
  g_ptr_array_add (argv, (char *) natter_test_server_get_app_key (server));
  g_ptr_array_add (argv, (char *) "--token");
  g_ptr_array_add (argv, (char *) token);
  g_ptr_array_add (argv, (char *) "--profile");
  g_ptr_array_add (argv, (char *) profile);
  va_start (args, profile);
  while ((arg = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, (char *) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);

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

static char *
write_test_image (void)
{
  g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 480, 320);
  g_autoptr(GError) error = NULL;
  guchar *pixels = gdk_pixbuf_get_pixels (pixbuf);
  int stride = gdk_pixbuf_get_rowstride (pixbuf);
  char *path = g_build_filename (tmp_dir, "sunset.png", NULL);

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

static gboolean
page_is (gpointer data)
{
  NatterWindow *window = ((gpointer *) data)[0];
  const char *page = ((gpointer *) data)[1];
  return g_strcmp0 (natter_window_get_page (window), page) == 0;
}

static void
wait_for_page (NatterWindow *window,
               const char   *page)
{
  gpointer data[2] = { window, (gpointer) page };
  g_autofree char *what = g_strdup_printf ("page %s", page);

  wait_until (page_is, data, what);
}

static gboolean
is_entry_row_titled (GtkWidget     *widget,
                     gconstpointer  title)
{
  return ADW_IS_ENTRY_ROW (widget) &&
         g_strcmp0 (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (widget)), title) == 0;
}

static GtkWidget *
find_entry_row (GtkWidget  *widget,
                const char *title)
{
  return find_widget (widget, is_entry_row_titled, title);
}

static void
set_row_text (GtkWidget  *root,
              const char *title,
              const char *text)
{
  GtkWidget *row = find_entry_row (root, title);

  g_assert_nonnull (row);
  gtk_editable_set_text (GTK_EDITABLE (row), text);
}

static GtkWidget *
find_button_with_label (GtkWidget  *root,
                        const char *text)
{
  GtkWidget *label = find_label (root, text);
  return label != NULL ? gtk_widget_get_ancestor (label, GTK_TYPE_BUTTON) : NULL;
}

/* A key press as the key controllers that see it before @widget does (the
 * capture phase: the composer's) get it; TRUE if one handled it. */
static gboolean
press_key (GtkWidget       *widget,
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

/* Appends to @unnamed each mapped button under @widget that shows only an
 * icon and has no accessible label (nor its menu button). */
static void
check_icon_buttons_named (GtkWidget *widget,
                          GString   *unnamed)
{
  if (!gtk_widget_get_mapped (widget))
    return;
  if (GTK_IS_BUTTON (widget) && gtk_button_get_icon_name (GTK_BUTTON (widget)) != NULL)
    {
      GtkWidget *menu_button = gtk_widget_get_ancestor (widget, GTK_TYPE_MENU_BUTTON);

      if (!gtk_test_accessible_has_property (GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_PROPERTY_LABEL) &&
          !gtk_test_accessible_has_relation (GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_RELATION_LABELLED_BY) &&
          (menu_button == NULL ||
           !gtk_test_accessible_has_property (GTK_ACCESSIBLE (menu_button), GTK_ACCESSIBLE_PROPERTY_LABEL)))
        g_string_append_printf (unnamed, "%s(%s) in %s; ", G_OBJECT_TYPE_NAME (widget),
                                gtk_button_get_icon_name (GTK_BUTTON (widget)),
                                G_OBJECT_TYPE_NAME (gtk_widget_get_parent (widget)));
    }
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    check_icon_buttons_named (child, unnamed);
}

static gboolean
is_connected (gpointer data)
{
  NatterClient *client = natter_window_get_client (data);
  return client != NULL && natter_client_get_status (client) == NATTER_CONNECTION_CONNECTED;
}

static gboolean
has_conversations (gpointer data)
{
  NatterConversationList *list = natter_sidebar_get_conversations (natter_window_get_sidebar (data));
  return list != NULL && g_list_model_get_n_items (G_LIST_MODEL (list)) >= 2;
}

static gboolean
last_message_sent (gpointer data)
{
  NatterMessageList *list = natter_chat_view_get_messages (natter_window_get_chat_view (data));
  guint n = list != NULL ? g_list_model_get_n_items (G_LIST_MODEL (list)) : 0;
  g_autoptr(NatterMessage) last = n > 0 ? g_list_model_get_item (G_LIST_MODEL (list), n - 1) : NULL;

  return last != NULL && natter_message_get_direction (last) == NATTER_MESSAGE_DIRECTION_SEND &&
         natter_message_get_sent_status (last) >= NATTER_SENT_STATUS_SENT;
}

static gboolean
last_message_read (gpointer data)
{
  NatterMessageList *list = natter_chat_view_get_messages (natter_window_get_chat_view (data));
  guint n = list != NULL ? g_list_model_get_n_items (G_LIST_MODEL (list)) : 0;
  g_autoptr(NatterMessage) last = n > 0 ? g_list_model_get_item (G_LIST_MODEL (list), n - 1) : NULL;

  return last != NULL && natter_message_get_sent_status (last) == NATTER_SENT_STATUS_READ;
}

static gboolean
is_image_with_icon (GtkWidget     *widget,
                    gconstpointer  icon)
{
  return GTK_IS_IMAGE (widget) && g_strcmp0 (gtk_image_get_icon_name (GTK_IMAGE (widget)), icon) == 0;
}

static gboolean
read_tick_shown (gpointer data)
{
  return find_widget (data, is_image_with_icon, "natter-read-symbolic") != NULL;
}

static gboolean
is_menu_button_with_icon (GtkWidget     *widget,
                          gconstpointer  icon)
{
  return GTK_IS_MENU_BUTTON (widget) &&
         g_strcmp0 (gtk_menu_button_get_icon_name (GTK_MENU_BUTTON (widget)), icon) == 0;
}

static gboolean
is_button_with_icon (GtkWidget     *widget,
                     gconstpointer  icon)
{
  return GTK_IS_BUTTON (widget) && g_strcmp0 (gtk_button_get_icon_name (GTK_BUTTON (widget)), icon) == 0;
}

static GtkWidget *
find_button_with_icon (GtkWidget  *widget,
                       const char *icon)
{
  return find_widget (widget, is_button_with_icon, icon);
}

static gboolean
is_of_type (GtkWidget     *widget,
            gconstpointer  type)
{
  return g_type_is_a (G_OBJECT_TYPE (widget), (GType) GPOINTER_TO_SIZE (type));
}

static GtkWidget *
find_type (GtkWidget *widget,
           GType      type)
{
  return find_widget (widget, is_of_type, GSIZE_TO_POINTER (type));
}

/* A label on screen in any window (dialogs included). */
static gboolean
label_anywhere (gpointer data)
{
  GListModel *toplevels = gtk_window_get_toplevels ();  /* not ours */

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GtkWidget) window = g_list_model_get_item (toplevels, i);
      if (find_label (window, data) != NULL)
        return TRUE;
    }
  return FALSE;
}

static gboolean
label_gone (gpointer data)
{
  LabelQuery *q = data;
  return find_label (q->root, q->text) == NULL;
}

static NatterMessage *
last_message (NatterWindow *window)
{
  NatterMessageList *list = natter_chat_view_get_messages (natter_window_get_chat_view (window));
  guint n = list != NULL ? g_list_model_get_n_items (G_LIST_MODEL (list)) : 0;

  return n > 0 ? g_list_model_get_item (G_LIST_MODEL (list), n - 1) : NULL;
}

static gboolean
last_failed (gpointer data)
{
  g_autoptr(NatterMessage) last = last_message (data);
  return last != NULL && natter_message_get_sent_status (last) == NATTER_SENT_STATUS_FAILED;
}

static gboolean
last_is_voice_sent (gpointer data)
{
  g_autoptr(NatterMessage) last = last_message (data);
  return last != NULL && natter_message_get_kind (last) == NATTER_MESSAGE_KIND_HQ_VOICE &&
         natter_message_get_sent_status (last) >= NATTER_SENT_STATUS_SENT;
}

static gboolean
last_is_recalled (gpointer data)
{
  g_autoptr(NatterMessage) last = last_message (data);
  return last != NULL && natter_message_get_kind (last) == NATTER_MESSAGE_KIND_RECALLED;
}

static gboolean
last_is_image_sent (gpointer data)
{
  g_autoptr(NatterMessage) last = last_message (data);
  return last != NULL && natter_message_get_kind (last) == NATTER_MESSAGE_KIND_IMAGE &&
         natter_message_get_direction (last) == NATTER_MESSAGE_DIRECTION_SEND &&
         natter_message_get_sent_status (last) >= NATTER_SENT_STATUS_SENT;
}

static gboolean
is_kicked (gpointer data)
{
  NatterClient *client = natter_window_get_client (data);
  return client != NULL &&
         natter_client_get_status (client) == NATTER_CONNECTION_KICKED_OFFLINE_BY_OTHER_CLIENT;
}

static gboolean
carol_first_pinned_muted (gpointer data)
{
  GListModel *list = G_LIST_MODEL (natter_sidebar_get_conversations (data));
  g_autoptr(NatterConversation) first = g_list_model_get_item (list, 0);

  return first != NULL && g_str_equal (natter_conversation_get_target_id (first), "carol") &&
         natter_conversation_get_pinned (first) && natter_conversation_get_muted (first);
}

static gboolean
only_groups_listed (gpointer data)
{
  GListModel *list = G_LIST_MODEL (natter_sidebar_get_conversations (data));
  guint n = g_list_model_get_n_items (list);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(NatterConversation) c = g_list_model_get_item (list, i);
      if (natter_conversation_get_conversation_type (c) != NATTER_CONVERSATION_GROUP)
        return FALSE;
    }
  return n > 0 && find_label (data, "Dave Miller") == NULL;
}

/* The sidebar highlights the open chat. */
static gboolean
highlight_on_open_chat (gpointer data)
{
  NatterSidebar *sidebar = natter_window_get_sidebar (data);
  NatterChatView *chat = natter_window_get_chat_view (data);
  GtkSelectionModel *selection = gtk_list_view_get_model (natter_sidebar_get_list_view (sidebar));
  NatterConversation *selected = gtk_single_selection_get_selected_item (GTK_SINGLE_SELECTION (selection));

  return selected != NULL &&
         g_strcmp0 (natter_conversation_get_target_id (selected), natter_chat_view_get_target_id (chat)) == 0;
}

static gboolean
chat_has_conversation (gpointer data)
{
  return natter_chat_view_get_conversation (data) != NULL;
}

static gboolean
app_server_row_shown (gpointer data)
{
  return find_entry_row (data, "App Server Address") != NULL;
}

/* A label whose whole text is @text. */
static gboolean
label_is (GtkWidget     *widget,
          gconstpointer  text)
{
  return GTK_IS_LABEL (widget) && g_str_equal (gtk_label_get_text (GTK_LABEL (widget)), text);
}

static gboolean
has_exact_label (GtkWidget  *widget,
                 const char *text)
{
  return find_widget (widget, label_is, text) != NULL;
}

typedef struct {
  NatterConversationList *list;
  NatterConversationType type;
  const char *target_id;
} ConversationQuery;

static gboolean
conversation_read (gpointer data)
{
  ConversationQuery *q = data;
  guint pos = natter_conversation_list_find (q->list, q->type, q->target_id);
  g_autoptr(NatterConversation) conv = NULL;

  if (pos == G_MAXUINT)
    return FALSE;
  conv = g_list_model_get_item (G_LIST_MODEL (q->list), pos);
  return natter_conversation_get_unread_count (conv) == 0;
}

static gboolean
conversation_gone (gpointer data)
{
  ConversationQuery *q = data;
  return natter_conversation_list_find (q->list, q->type, q->target_id) == G_MAXUINT;
}

static gboolean
chat_closed (gpointer data)
{
  return natter_chat_view_get_target_id (data) == NULL;
}

static gboolean
mention_shown (gpointer data)
{
  return has_exact_label (data, "@");   /* the mark, not the message's text */
}

static gboolean
mention_gone (gpointer data)
{
  return !mention_shown (data);
}

static gboolean
is_folded (gpointer data)
{
  GtkWidget *leaflet = find_type (data, ADW_TYPE_LEAFLET);
  return leaflet != NULL && adw_leaflet_get_folded (ADW_LEAFLET (leaflet));
}

/* Some avatar on screen shows a picture instead of initials. */
static gboolean
is_avatar_with_picture (GtkWidget     *widget,
                        gconstpointer  data)
{
  return ADW_IS_AVATAR (widget) && adw_avatar_get_custom_image (ADW_AVATAR (widget)) != NULL;
}

static gboolean
has_portrait_in (GtkWidget *widget)
{
  return find_widget (widget, is_avatar_with_picture, NULL) != NULL;
}

static gboolean
has_portrait (gpointer data)
{
  return has_portrait_in (data);
}

static gboolean
voice_playing (gpointer data)
{
  GtkWidget *player = find_type (data, NATTER_TYPE_VOICE_PLAYER);
  return player != NULL && natter_voice_player_get_playing (NATTER_VOICE_PLAYER (player)) &&
         find_label (player, " / ") != NULL;   /* "0:01 / 0:02": position of duration */
}

static gboolean
has_search_entry (gpointer data)
{
  return find_type (GTK_WIDGET (natter_window_get_sidebar (data)), GTK_TYPE_SEARCH_ENTRY) != NULL;
}

static gboolean
search_closed (gpointer data)
{
  return !has_search_entry (data);
}

static gboolean
has_voice_player (gpointer data)
{
  return find_type (data, g_type_from_name ("NatterVoicePlayer")) != NULL;
}

static gboolean
has_search_results (gpointer data)
{
  NatterSidebar *sidebar = natter_window_get_sidebar (data);
  return find_type (GTK_WIDGET (sidebar), g_type_from_name ("NatterSearchRow")) != NULL;
}

static GtkWidget *
find_toplevel (GType type)
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

static void
close_windows_of_type (GType type)
{
  GListModel *toplevels = gtk_window_get_toplevels ();  /* not ours */

  for (guint i = g_list_model_get_n_items (toplevels); i > 0; i--)
    {
      g_autoptr(GtkWidget) w = g_list_model_get_item (toplevels, i - 1);
      if (g_type_is_a (G_OBJECT_TYPE (w), type))
        gtk_window_destroy (GTK_WINDOW (w));
    }
  spin (100);
}

static gboolean
file_chooser_shown (gpointer data)
{
  return find_toplevel (GTK_TYPE_FILE_CHOOSER_DIALOG) != NULL;
}

static gboolean
file_chooser_has_selection (gpointer data)
{
  g_autoptr(GListModel) files = gtk_file_chooser_get_files (data);
  return g_list_model_get_n_items (files) == 1;
}

/* Types @text into the entry of the dialog on screen. */
static void
set_dialog_entry_text (const char *text)
{
  GListModel *toplevels = gtk_window_get_toplevels ();  /* not ours */

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GtkWidget) w = g_list_model_get_item (toplevels, i);
      GtkWidget *entry = ADW_IS_MESSAGE_DIALOG (w) && gtk_widget_get_mapped (w) ? find_type (w, GTK_TYPE_ENTRY) : NULL;
      if (entry != NULL)
        gtk_editable_set_text (GTK_EDITABLE (entry), text);
    }
}

static void
respond_to_dialog (const char *response)
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

/* Preferences → Account says where the token is kept. */
static void
preferences_show_token_note (void)
{
  g_action_group_activate_action (G_ACTION_GROUP (test_app_instance ()), "preferences", NULL);
  wait_until (label_anywhere, (gpointer) "Show Notifications", "the preferences");
  {
    GListModel *toplevels = gtk_window_get_toplevels ();  /* not ours */
    for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
      {
        g_autoptr(GtkWidget) w = g_list_model_get_item (toplevels, i);
        if (ADW_IS_PREFERENCES_WINDOW (w))
          adw_preferences_window_set_visible_page_name (ADW_PREFERENCES_WINDOW (w), "account");
      }
  }
  wait_until (label_anywhere, (gpointer) "readable only by you (mode 0600)", "the token note");
  close_windows_of_type (g_type_from_name ("NatterPreferencesWindow"));
}

/* The default application for PDFs in the test's XDG dirs: it copies the
 * file it is given next to it, as “opened.pdf” (no real viewer starts). */
static void
install_pdf_opener (void)
{
  g_autofree char *apps = g_build_filename (tmp_dir, "applications", NULL);
  g_autofree char *desktop = g_build_filename (apps, "natter-test-opener.desktop", NULL);
  g_autofree char *mimeapps = g_build_filename (tmp_dir, "mimeapps.list", NULL);
  g_autofree char *opened = g_build_filename (tmp_dir, "opened.pdf", NULL);
  g_autofree char *entry = g_strdup_printf ("[Desktop Entry]\nType=Application\nName=Test Opener\n"
                                            "Exec=cp %%f %s\nMimeType=application/pdf;\nNoDisplay=true\n",
                                            opened);

  g_assert_cmpint (g_mkdir_with_parents (apps, 0700), ==, 0);
  g_assert_true (g_file_set_contents (desktop, entry, -1, NULL));
  g_assert_true (g_file_set_contents (mimeapps, "[Default Applications]\n"
                                                "application/pdf=natter-test-opener.desktop\n", -1, NULL));
}

/* ------------------------------------------------------------------ test */

static void
test_app (void)
{
  g_autofree char *alice = natter_test_server_get_token (server, "alice");
  g_autofree char *bob = natter_test_server_get_token (server, "bob");
  g_autofree char *carol = natter_test_server_get_token (server, "carol");
  g_autofree char *profile = g_build_filename (tmp_dir, "alice", NULL);
  g_autofree char *bob_profile = g_build_filename (tmp_dir, "bob-cli", NULL);
  g_autofree char *carol_profile = g_build_filename (tmp_dir, "carol-cli", NULL);
  g_autofree char *image = NULL;
  g_autofree char *token_path = NULL;
  g_autofree char *history = NULL;
  g_autoptr(GError) error = NULL;
  GtkWidget *root, *button;
  NatterWindow *window;
  NatterChatView *chat;
  struct stat st;

  /* Messages that wait for alice while she has never signed in. */
  g_free (cli (carol, carol_profile, "send", "alice", "Welcome to the team, Alice 🎉", NULL));
  g_free (cli (bob, bob_profile, "send", "alice", "Hi Alice! Are we still on for lunch?", NULL));
  g_free (cli (bob, bob_profile, "send", "alice", "I found a nice place near the station.", NULL));

  /* ---- first run: the sign-in page */
  window = NATTER_WINDOW (natter_application_open_profile (test_app_instance (), profile));
  gtk_window_set_default_size (GTK_WINDOW (window), 1100, 720);
  root = GTK_WIDGET (window);
  wait_for_page (window, "sign-in");
  wait_for_label (root, "Welcome to Natter");
  set_row_text (root, "Server Address", natter_test_server_get_url (server));
  set_row_text (root, "App Key", natter_test_server_get_app_key (server));
  screenshot (root, "screenshot-sign-in.png");

  /* a wrong token is refused with its reference code, and we stay here */
  set_row_text (root, "Token", "not-a-token");
  button = find_button_with_label (root, "Sign In");
  g_assert_nonnull (button);
  g_assert_true (gtk_widget_get_sensitive (button));
  gtk_widget_activate (button);
  wait_for_label (root, "31004");
  g_assert_cmpstr (natter_window_get_page (window), ==, "sign-in");

  /* the right one signs in; the token lands in the 0600 file (no keyring here) */
  set_row_text (root, "Token", alice);
  gtk_widget_activate (button);
  wait_for_page (window, "main");
  wait_until (is_connected, window, "alice connected");

  /* ---- the conversation list fills with what came while she was away */
  wait_until (has_conversations, window, "two conversations");
  wait_for_label (root, "bob");
  wait_for_label (root, "carol");
  wait_for_label (root, "I found a nice place near the station.");
  token_path = natter_account_dup_token_path (natter_window_get_account (window));
  g_assert_cmpint (g_stat (token_path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  /* ---- a message sent with natter-cli appears live in the sidebar */
  g_free (cli (bob, bob_profile, "send", "alice", "Ping from natter-cli", NULL));
  wait_for_label (root, "Ping from natter-cli");
  g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (window)), !=, "Natter");  /* unread count */
  screenshot (root, "screenshot-main.png");

  /* ---- open the chat: the history is there, in bubbles */
  natter_window_open_conversation (window, NATTER_CONVERSATION_PRIVATE, "bob", 0);
  chat = natter_window_get_chat_view (window);
  wait_for_label (GTK_WIDGET (chat), "Hi Alice! Are we still on for lunch?");
  wait_for_label (GTK_WIDGET (chat), "Ping from natter-cli");
  wait_for_label (GTK_WIDGET (chat), "Today");

  /* ---- alice answers from the composer; bob's natter-cli sees it */
  natter_composer_set_text (natter_chat_view_get_composer (chat), "Yes! 12:30 at the station?");
  natter_composer_send (natter_chat_view_get_composer (chat));
  wait_for_label (GTK_WIDGET (chat), "Yes! 12:30 at the station?");
  wait_until (last_message_sent, window, "the answer acked");
  history = cli (bob, bob_profile, "history", "alice", NULL);
  g_assert_nonnull (strstr (history, "Yes! 12:30 at the station?"));

  /* ---- Enter sends, Shift+Enter is left to the text view (a new line);
   *      with “Enter Sends” off, Ctrl+Enter sends */
  {
    NatterComposer *composer = natter_chat_view_get_composer (chat);
    GtkWidget *text_view = GTK_WIDGET (natter_composer_get_text_view (composer));
    GSettings *settings = natter_application_get_settings (test_app_instance ());
    g_autofree char *kept = NULL;
    g_autofree char *left = NULL;

    natter_composer_set_text (composer, "Two lines:\nthe second one");
    g_assert_false (press_key (text_view, GDK_KEY_Return, GDK_SHIFT_MASK));
    kept = natter_composer_dup_text (composer);
    g_assert_cmpstr (kept, ==, "Two lines:\nthe second one");
    g_assert_true (press_key (text_view, GDK_KEY_Return, 0));
    left = natter_composer_dup_text (composer);
    g_assert_cmpstr (left, ==, "");
    wait_for_label (GTK_WIDGET (chat), "the second one");
    wait_until (last_message_sent, window, "the two lines acked");

    g_settings_set_boolean (settings, "enter-sends", FALSE);
    natter_composer_set_text (composer, "Sent with Ctrl+Enter");
    g_assert_false (press_key (text_view, GDK_KEY_KP_Enter, 0));
    g_assert_true (press_key (text_view, GDK_KEY_Return, GDK_CONTROL_MASK));
    wait_for_label (GTK_WIDGET (chat), "Sent with Ctrl+Enter");
    g_settings_reset (settings, "enter-sends");
  }

  /* ---- the emoji chooser (made when first opened) inserts at the cursor */
  {
    NatterComposer *composer = natter_chat_view_get_composer (chat);
    GtkWidget *emoji = find_widget (GTK_WIDGET (composer), is_menu_button_with_icon, "face-smile-symbolic");
    GtkWidget *popover;
    g_autofree char *text = NULL;

    g_assert_nonnull (emoji);
    natter_composer_set_text (composer, "Party ");
    gtk_menu_button_popup (GTK_MENU_BUTTON (emoji));
    popover = GTK_WIDGET (gtk_menu_button_get_popover (GTK_MENU_BUTTON (emoji)));
    g_assert_true (GTK_IS_EMOJI_CHOOSER (popover));
    g_signal_emit_by_name (popover, "emoji-picked", "🎉");
    text = natter_composer_dup_text (composer);
    g_assert_cmpstr (text, ==, "Party 🎉");
    gtk_menu_button_popdown (GTK_MENU_BUTTON (emoji));
    natter_composer_set_text (composer, "");
  }

  /* ---- bob reads them (a read receipt): alice's messages get the read tick */
  wait_until (last_message_sent, window, "the Ctrl+Enter message acked");
  {
    g_autoptr(NatterMessage) last = last_message (window);
    g_autofree char *content = g_strdup_printf ("{\"lastMessageSendTime\":%" G_GINT64_FORMAT ",\"type\":1}",
                                                natter_message_get_sent_time (last));
    guint status = 0;
    g_autoptr(JsonObject) reply = natter_test_server_api (server, &status, "message/private/publish",
                                                          "fromUserId", "bob", "toUserId", "alice",
                                                          "objectName", "RC:ReadNtf", "content", content,
                                                          NULL);
    g_assert_cmpuint (status, ==, 200);
    wait_until (last_message_read, window, "the read receipt applied");
    wait_until (read_tick_shown, chat, "the read tick");
  }

  /* ---- an image message shows as a picture */
  image = write_test_image ();
  g_free (cli (bob, bob_profile, "send", "alice", "--image", image, NULL));
  g_free (cli (bob, bob_profile, "send", "alice", "The view from the terrace 🌅", NULL));
  wait_for_label (GTK_WIDGET (chat), "The view from the terrace");
  {
    gboolean shown = FALSE;
    gint64 deadline = g_get_monotonic_time () + WAIT_SECONDS * G_USEC_PER_SEC;
    while (!(shown = find_picture (GTK_WIDGET (chat)) != NULL) && g_get_monotonic_time () < deadline)
      spin (50);
    g_assert_true (shown);
  }
  screenshot (root, "screenshot-chat.png");

  /* ---- the same chat in dark mode: Preferences → Style → Dark (it follows
   *      the system by default) */
  {
    AdwStyleManager *style = adw_style_manager_get_default ();
    GtkWidget *prefs;
    AdwComboRow *row;

    g_assert_cmpint (adw_style_manager_get_color_scheme (style), ==, ADW_COLOR_SCHEME_DEFAULT);
    g_action_group_activate_action (G_ACTION_GROUP (test_app_instance ()), "preferences", NULL);
    wait_until (label_anywhere, (gpointer) "Style", "the preferences");
    prefs = find_toplevel (g_type_from_name ("NatterPreferencesWindow"));
    row = ADW_COMBO_ROW (gtk_widget_get_ancestor (find_label (prefs, "Style"), ADW_TYPE_COMBO_ROW));
    adw_combo_row_set_selected (row, 2);
    close_windows_of_type (g_type_from_name ("NatterPreferencesWindow"));
    spin (300);
    g_assert_true (adw_style_manager_get_dark (style));
    screenshot (root, "screenshot-chat-dark.png");
    g_settings_reset (natter_application_get_settings (test_app_instance ()), "color-scheme");
    spin (300);
    g_assert_cmpint (adw_style_manager_get_color_scheme (style), ==, ADW_COLOR_SCHEME_DEFAULT);
  }

  /* ---- the image opens in a viewer with the full image (480 × 320, the
   *      bubble only had the thumbnail) */
  {
    NatterMessageList *list = natter_chat_view_get_messages (chat);
    gint64 image_id = 0;

    for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (list)); i++)
      {
        g_autoptr(NatterMessage) m = g_list_model_get_item (G_LIST_MODEL (list), i);
        if (natter_message_get_kind (m) == NATTER_MESSAGE_KIND_IMAGE)
          image_id = natter_message_get_message_id (m);
      }
    gtk_widget_activate_action (GTK_WIDGET (chat), "chat.open-image", "x", image_id);
    wait_until (label_anywhere, (gpointer) "480 × 320", "the full image in the viewer");
    close_windows_of_type (g_type_from_name ("NatterImageViewer"));
  }

  /* ---- preferences: the settings, and where the token is kept */
  preferences_show_token_note ();

  /* ---- a new chat with someone not in the list yet (Ctrl+N) */
  gtk_widget_activate_action (root, "win.new-chat", NULL);
  wait_until (label_anywhere, (gpointer) "Enter the ID of a person or a group.", "the new chat dialog");
  set_dialog_entry_text ("frank");
  respond_to_dialog ("open");
  g_assert_cmpstr (natter_chat_view_get_target_id (chat), ==, "frank");
  wait_for_label (GTK_WIDGET (chat), "No messages here yet");
  natter_window_open_conversation (window, NATTER_CONVERSATION_PRIVATE, "bob", 0);
  wait_for_label (GTK_WIDGET (chat), "The view from the terrace");

  /* ---- the keyboard shortcuts of the issue, and their window */
  {
    struct { const char *action, *accel; } shortcuts[] = {
      { "win.search", "<Control>k" }, { "win.new-chat", "<Control>n" },
      { "win.next-conversation", "<Alt>Down" }, { "win.previous-conversation", "<Alt>Up" },
      { "win.escape", "Escape" },
    };
    for (guint i = 0; i < G_N_ELEMENTS (shortcuts); i++)
      {
        g_auto(GStrv) accels = gtk_application_get_accels_for_action (GTK_APPLICATION (test_app_instance ()),
                                                                      shortcuts[i].action);
        g_assert_true (g_strv_contains ((const char * const *) accels, shortcuts[i].accel));
      }
    g_assert_nonnull (gtk_application_window_get_help_overlay (GTK_APPLICATION_WINDOW (window)));
    /* Ctrl+? shows it, with the issue's shortcuts in it */
    gtk_widget_activate_action (root, "win.show-help-overlay", NULL);
    wait_until (label_anywhere, (gpointer) "Search messages", "the shortcuts window");
    g_assert_true (label_anywhere ((gpointer) "Next conversation"));
    g_assert_true (label_anywhere ((gpointer) "Close the chat or the search"));
    close_windows_of_type (GTK_TYPE_SHORTCUTS_WINDOW);
  }

  /* ---- every icon-only button on screen has a name for screen readers,
   *      and conversation rows read as “bob, …” */
  {
    g_autoptr(GString) unnamed = g_string_new (NULL);
    GtkWidget *probe = g_object_ref_sink (gtk_button_new_from_icon_name ("edit-copy-symbolic"));

    /* the check can fail: a bare icon button has no name */
    g_assert_false (gtk_test_accessible_has_property (GTK_ACCESSIBLE (probe), GTK_ACCESSIBLE_PROPERTY_LABEL));
    g_object_unref (probe);
    check_icon_buttons_named (root, unnamed);
    g_assert_cmpstr (unnamed->str, ==, "");
    g_assert_true (gtk_test_accessible_has_property (GTK_ACCESSIBLE (find_type (GTK_WIDGET (natter_window_get_sidebar (window)),
                                                                                 g_type_from_name ("NatterConversationRow"))),
                                                     GTK_ACCESSIBLE_PROPERTY_LABEL));
  }
  /* Alt+Down walks the list: from bob to the conversation below him */
  {
    g_autofree char *before = g_strdup (natter_chat_view_get_target_id (chat));
    gtk_widget_activate_action (root, "win.next-conversation", NULL);
    g_assert_cmpstr (natter_chat_view_get_target_id (chat), !=, before);
    gtk_widget_activate_action (root, "win.previous-conversation", NULL);
    g_assert_cmpstr (natter_chat_view_get_target_id (chat), ==, before);
    wait_for_label (GTK_WIDGET (chat), "The view from the terrace");
  }

  /* ---- a sender's name and picture (the app server's profile, also in the
   *      message's user info) show in the conversation list and on their
   *      messages */
  {
    g_autofree char *dave = natter_test_server_get_token (server, "dave");
    g_autofree char *dave_profile = g_build_filename (tmp_dir, "dave-cli", NULL);
    g_autofree char *content = NULL;
    const char *image_uri = NULL;
    NatterMessageList *list = natter_chat_view_get_messages (chat);

    for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (list)) && image_uri == NULL; i++)
      {
        g_autoptr(NatterMessage) m = g_list_model_get_item (G_LIST_MODEL (list), i);
        image_uri = natter_message_get_image_uri (m);
      }
    g_assert_nonnull (image_uri);
    /* the app server names him (what titles and avatars follow) */
    {
      guint status = 0;
      g_autoptr(JsonObject) reply = natter_test_server_api (server, &status, "user/refresh",
                                                            "userId", "dave", "name", "Dave Miller",
                                                            "portraitUri", image_uri, NULL);
      g_assert_cmpuint (status, ==, 200);
    }
    content = g_strdup_printf ("{\"content\":\"Hi, I am Dave\",\"user\":{\"id\":\"dave\","
                               "\"name\":\"Dave Miller\",\"portraitUri\":\"%s\"}}", image_uri);
    g_free (cli (dave, dave_profile, "send", "alice", "--object-name", "RC:TxtMsg", "--content", content, NULL));
    wait_for_label (GTK_WIDGET (natter_window_get_sidebar (window)), "Dave Miller");
    wait_until (has_portrait, natter_window_get_sidebar (window), "Dave's picture in the list");
  }

  /* ---- bob types: the header says so (natter-cli waits for its
   *      connection to send a status-only message) */
  g_free (cli (bob, bob_profile, "send", "alice", "--object-name", "RC:TypSts",
               "--content", "{\"typingContentType\":\"RC:TxtMsg\"}", NULL));
  wait_for_label (GTK_WIDGET (chat), "typing…");

  /* ---- a kind of message this app does not know is shown politely */
  g_free (cli (bob, bob_profile, "send", "alice", "--object-name", "ACME:Poll",
               "--content", "{\"question\":\"Pizza?\"}", NULL));
  wait_for_label (GTK_WIDGET (chat), "cannot be shown by this version");

  /* ---- a file arrives as a file row with its name and size */
  {
    g_autofree char *path = g_build_filename (tmp_dir, "agenda.pdf", NULL);
    g_assert_true (g_file_set_contents (path, "%PDF-1.4 agenda", -1, NULL));
    g_free (cli (bob, bob_profile, "send", "alice", "--file", path, NULL));
    wait_for_label (GTK_WIDGET (chat), "agenda.pdf");
    g_assert_nonnull (find_button_with_icon (GTK_WIDGET (chat), "folder-download-symbolic"));
  }

  /* ---- its button downloads it and opens it in the default application */
  {
    g_autofree char *opened = g_build_filename (tmp_dir, "opened.pdf", NULL);
    g_autofree char *contents = NULL;
    NatterMessageList *list = natter_chat_view_get_messages (chat);
    gint64 file_id = 0;

    for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (list)); i++)
      {
        g_autoptr(NatterMessage) m = g_list_model_get_item (G_LIST_MODEL (list), i);
        if (g_strcmp0 (natter_message_get_file_name (m), "agenda.pdf") == 0)
          file_id = natter_message_get_message_id (m);
      }
    g_assert_cmpint (file_id, !=, 0);
    gtk_widget_activate_action (GTK_WIDGET (chat), "chat.open-file", "x", file_id);
    wait_until (file_exists, opened, "the file opened");
    spin (200);   /* cp may still be writing */
    g_assert_true (g_file_get_contents (opened, &contents, NULL, NULL));
    g_assert_cmpstr (contents, ==, "%PDF-1.4 agenda");
  }

  /* ---- a voice message recorded in the composer (a test tone) is sent
   *      as Opus/Ogg and shows a player */
  gtk_widget_activate_action (GTK_WIDGET (natter_chat_view_get_composer (chat)), "composer.record", NULL);
  wait_for_label (GTK_WIDGET (chat), "Recording…");
  spin (1500);
  gtk_widget_activate_action (GTK_WIDGET (natter_chat_view_get_composer (chat)),
                              "composer.finish-recording", NULL);
  wait_until (last_is_voice_sent, window, "the voice message sent");
  wait_until (has_voice_player, chat, "a voice player on screen");
  /* it plays back: downloaded, decoded, the clock runs */
  natter_voice_player_toggle (NATTER_VOICE_PLAYER (find_type (GTK_WIDGET (chat), NATTER_TYPE_VOICE_PLAYER)));
  wait_until (voice_playing, chat, "the voice message playing");
  g_free (history);
  history = cli (bob, bob_profile, "history", "alice", NULL);
  g_assert_nonnull (strstr (history, "RC:HQVCMsg"));

  /* ---- a recording cancelled is not sent */
  {
    GListModel *messages = G_LIST_MODEL (natter_chat_view_get_messages (chat));
    guint n = g_list_model_get_n_items (messages);
    LabelQuery q = { GTK_WIDGET (chat), "Recording…" };

    gtk_widget_activate_action (GTK_WIDGET (natter_chat_view_get_composer (chat)), "composer.record", NULL);
    wait_for_label (GTK_WIDGET (chat), "Recording…");
    spin (700);
    gtk_widget_activate_action (GTK_WIDGET (natter_chat_view_get_composer (chat)),
                                "composer.cancel-recording", NULL);
    wait_until (label_gone, &q, "the recorder closed");
    spin (700);
    g_assert_cmpuint (g_list_model_get_n_items (messages), ==, n);
    g_assert_true (last_is_voice_sent (window));   /* still the one sent before */
  }

  /* ---- alice recalls her voice message: it becomes a notice, for bob too */
  {
    g_autoptr(NatterMessage) voice = last_message (window);
    gtk_widget_activate_action (GTK_WIDGET (chat), "chat.recall", "x",
                                natter_message_get_message_id (voice));
    wait_until (last_is_recalled, window, "the voice message recalled");
    wait_for_label (GTK_WIDGET (chat), "You recalled a message");
  }

  /* ---- a pasted image is sent as a photo */
  {
    g_autoptr(GdkTexture) texture = gdk_texture_new_from_filename (image, &error);
    GtkTextView *text_view = natter_composer_get_text_view (natter_chat_view_get_composer (chat));

    g_assert_no_error (error);
    gdk_clipboard_set_texture (gtk_widget_get_clipboard (GTK_WIDGET (text_view)), texture);
    g_signal_emit_by_name (text_view, "paste-clipboard");
    wait_until (last_is_image_sent, window, "the pasted image sent");
  }

  /* ---- a file dropped on the chat is sent as a file */
  {
    g_autofree char *path = g_build_filename (tmp_dir, "notes.txt", NULL);
    g_autoptr(GFile) file = g_file_new_for_path (path);
    g_autoptr(GListModel) controllers = gtk_widget_observe_controllers (GTK_WIDGET (chat));
    GSList *files = g_slist_append (NULL, file);
    GValue value = G_VALUE_INIT;
    gboolean handled = FALSE;

    g_assert_true (g_file_set_contents (path, "remember the milk", -1, NULL));
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
    wait_for_label (GTK_WIDGET (chat), "notes.txt");
  }

  /* ---- files copied in a file manager and pasted are sent as files */
  {
    g_autofree char *path = g_build_filename (tmp_dir, "minutes.txt", NULL);
    g_autoptr(GFile) file = g_file_new_for_path (path);
    GtkTextView *text_view = natter_composer_get_text_view (natter_chat_view_get_composer (chat));
    GSList *files = g_slist_append (NULL, file);
    GValue value = G_VALUE_INIT;

    g_assert_true (g_file_set_contents (path, "we met, we ate", -1, NULL));
    g_value_init (&value, GDK_TYPE_FILE_LIST);
    g_value_set_boxed (&value, files);
    gdk_clipboard_set_value (gtk_widget_get_clipboard (GTK_WIDGET (text_view)), &value);
    g_value_unset (&value);
    g_slist_free (files);
    g_signal_emit_by_name (text_view, "paste-clipboard");
    wait_for_label (GTK_WIDGET (chat), "minutes.txt");
    g_assert_cmpint (gtk_text_buffer_get_char_count (gtk_text_view_get_buffer (text_view)), ==, 0);
  }

  /* ---- the attach menu's “File…”: chosen in the file chooser, sent */
  {
    g_autofree char *path = g_build_filename (tmp_dir, "budget.csv", NULL);
    g_autoptr(GFile) file = g_file_new_for_path (path);
    GtkWidget *dialog;

    g_assert_true (g_file_set_contents (path, "lunch,12.50\n", -1, NULL));
    gtk_widget_activate_action (GTK_WIDGET (natter_chat_view_get_composer (chat)), "composer.attach-file", NULL);
    wait_until (file_chooser_shown, NULL, "the file chooser");
    dialog = find_toplevel (GTK_TYPE_FILE_CHOOSER_DIALOG);
    g_assert_true (gtk_file_chooser_set_file (GTK_FILE_CHOOSER (dialog), file, NULL));
    wait_until (file_chooser_has_selection, dialog, "the file selected");
    gtk_dialog_response (GTK_DIALOG (dialog), GTK_RESPONSE_ACCEPT);
    wait_for_label (GTK_WIDGET (chat), "budget.csv");
  }

  /* ---- search finds a message in any conversation and jumps to it */
  natter_window_open_conversation (window, NATTER_CONVERSATION_PRIVATE, "carol", 0);
  natter_sidebar_start_search (natter_window_get_sidebar (window));
  wait_until (has_search_entry, window, "the search entry");
  gtk_editable_set_text (GTK_EDITABLE (find_type (GTK_WIDGET (natter_window_get_sidebar (window)),
                                                  GTK_TYPE_SEARCH_ENTRY)),
                         "station");
  wait_until (has_search_results, window, "search results");
  g_assert_nonnull (find_label (GTK_WIDGET (natter_window_get_sidebar (window)), "station"));
  g_signal_emit_by_name (find_type (GTK_WIDGET (natter_window_get_sidebar (window)), GTK_TYPE_LIST_VIEW),
                         "activate", 0);
  g_assert_cmpstr (natter_chat_view_get_target_id (chat), ==, "bob");
  wait_for_label (GTK_WIDGET (chat), "near the station");
  g_assert_true (natter_sidebar_stop_search (natter_window_get_sidebar (window)));

  /* ---- a draft stays with its conversation */
  natter_window_open_conversation (window, NATTER_CONVERSATION_PRIVATE, "carol", 0);
  wait_for_label (GTK_WIDGET (chat), "Welcome to the team");
  natter_composer_set_text (natter_chat_view_get_composer (chat), "");
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (natter_composer_get_text_view (natter_chat_view_get_composer (chat))),
                            "half-written thought", -1);
  natter_window_open_conversation (window, NATTER_CONVERSATION_PRIVATE, "bob", 0);
  wait_for_label (GTK_WIDGET (natter_window_get_sidebar (window)), "half-written thought");
  natter_window_open_conversation (window, NATTER_CONVERSATION_PRIVATE, "carol", 0);
  {
    g_autofree char *draft = natter_composer_dup_text (natter_chat_view_get_composer (chat));
    g_assert_cmpstr (draft, ==, "half-written thought");
  }
  natter_composer_set_text (natter_chat_view_get_composer (chat), "");

  /* ---- a refused message is marked failed with a retry button */
  natter_window_open_conversation (window, NATTER_CONVERSATION_GROUP, "not-my-group", 0);
  natter_composer_set_text (natter_chat_view_get_composer (chat), "Hello group?");
  natter_composer_send (natter_chat_view_get_composer (chat));
  wait_until (last_failed, window, "the message refused (22406)");
  {
    g_autoptr(NatterMessage) failed = last_message (window);
    g_assert_cmpint (natter_message_get_error_code (failed), ==, 22406);
  }
  g_assert_nonnull (find_button_with_icon (GTK_WIDGET (chat), "view-refresh-symbolic"));
  /* the chat opened before its conversation existed: now it has it */
  wait_until (chat_has_conversation, chat, "the new chat's conversation");
  /* alice is added to the group; the retry button sends the message again */
  {
    guint status = 0;
    g_autoptr(JsonObject) reply = natter_test_server_api (server, &status, "group/create",
                                                          "userId", "alice", "groupId", "not-my-group",
                                                          "groupName", "Not my group", NULL);
    g_assert_cmpuint (status, ==, 200);
    gtk_widget_activate (find_button_with_icon (GTK_WIDGET (chat), "view-refresh-symbolic"));
    wait_until (last_message_sent, window, "the message sent again");
    spin (200);
    g_assert_null (find_button_with_icon (GTK_WIDGET (chat), "view-refresh-symbolic"));
  }

  /* ---- the context menu's pin and mute, and the type filter */
  {
    NatterSidebar *sidebar = natter_window_get_sidebar (window);
    GtkWidget *groups = find_button_with_label (GTK_WIDGET (sidebar), "Groups");
    GtkWidget *all = find_button_with_label (GTK_WIDGET (sidebar), "All");

    gtk_widget_activate_action (GTK_WIDGET (sidebar), "sidebar.toggle-pinned", "(is)", 1, "carol");
    gtk_widget_activate_action (GTK_WIDGET (sidebar), "sidebar.toggle-muted", "(is)", 1, "carol");
    wait_until (carol_first_pinned_muted, sidebar, "carol pinned on top and muted");

    g_assert_nonnull (groups);
    gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (groups), TRUE);
    wait_until (only_groups_listed, sidebar, "only groups listed");
    gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (all), TRUE);
    wait_for_label (GTK_WIDGET (sidebar), "Dave Miller");
  }

  /* ---- a mention in a group marks the conversation with “@” */
  {
    guint status = 0;
    g_autoptr(JsonObject) reply = natter_test_server_api (server, &status, "group/create",
                                                          "userId", "alice", "userId", "bob",
                                                          "groupId", "lunch", "groupName", "Lunch club", NULL);
    g_assert_cmpuint (status, ==, 200);
    g_free (cli (bob, bob_profile, "send", "lunch", "--type", "group", "--object-name", "RC:TxtMsg", "--content",
                 "{\"content\":\"@alice pizza or sushi?\",\"mentionedInfo\":{\"type\":2,\"userIdList\":[\"alice\"]}}",
                 NULL));
    wait_for_label (GTK_WIDGET (natter_window_get_sidebar (window)), "pizza or sushi?");
    wait_until (mention_shown, natter_window_get_sidebar (window), "the @ mark");
  }

  /* ---- the context menu's “Mark as Read”: the count and the “@” go, the
   *      title's count follows */
  {
    NatterSidebar *sidebar = natter_window_get_sidebar (window);
    NatterConversationList *list = natter_sidebar_get_conversations (sidebar);
    guint before = natter_conversation_list_get_unread_total (list);
    g_autofree char *title_before = g_strdup_printf ("Natter (%u)", before);
    g_autofree char *title_after = NULL;
    ConversationQuery q = { list, NATTER_CONVERSATION_GROUP, "lunch" };

    g_assert_cmpuint (before, >, 0);
    g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (window)), ==, title_before);
    gtk_widget_activate_action (GTK_WIDGET (sidebar), "sidebar.mark-read", "(is)",
                                NATTER_CONVERSATION_GROUP, "lunch");
    wait_until (conversation_read, &q, "lunch read");
    /* the row follows the conversation's notify, in the same turn or the next */
    wait_until (mention_gone, sidebar, "the @ mark gone");
    g_assert_cmpuint (natter_conversation_list_get_unread_total (list), <, before);
    title_after = natter_conversation_list_get_unread_total (list) > 0
                    ? g_strdup_printf ("Natter (%u)", natter_conversation_list_get_unread_total (list))
                    : g_strdup ("Natter");
    g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (window)), ==, title_after);
  }

  /* ---- a chat room joined from the menu's dialog: alice can write in it
   *      (natterd refuses messages from non-members with 23406) */
  gtk_widget_activate_action (root, "win.join-chatroom", NULL);
  wait_until (label_anywhere, (gpointer) "Enter the ID of the chat room", "the join dialog");
  set_dialog_entry_text ("lobby");
  respond_to_dialog ("open");
  g_assert_cmpstr (natter_chat_view_get_target_id (chat), ==, "lobby");
  g_assert_cmpint (natter_chat_view_get_conversation_type (chat), ==, NATTER_CONVERSATION_CHATROOM);
  spin (500);
  natter_composer_set_text (natter_chat_view_get_composer (chat), "Hello lobby");
  natter_composer_send (natter_chat_view_get_composer (chat));
  wait_until (last_message_sent, window, "a message in the chat room");

  /* ---- conversations overtake each other while the list is on screen
   *      with a highlighted row (GTK 4.8's list view once crashed on how
   *      the model reported a move); the highlight stays on the open chat */
  natter_window_open_conversation (window, NATTER_CONVERSATION_PRIVATE, "dave", 0);
  wait_until (highlight_on_open_chat, window, "dave highlighted");
  for (guint i = 0; i < 9; i++)
    {
      const char *from[] = { "bob", "dave", "erin" };
      g_autofree char *content = g_strdup_printf ("{\"content\":\"overtaking %u\"}", i);
      guint status = 0;
      g_autoptr(JsonObject) reply = natter_test_server_api (server, &status, "message/private/publish",
                                                            "fromUserId", from[i % 3], "toUserId", "alice",
                                                            "objectName", "RC:TxtMsg", "content", content,
                                                            NULL);
      g_assert_cmpuint (status, ==, 200);
      spin (i % 2 ? 0 : 30);
    }
  wait_for_label (GTK_WIDGET (natter_window_get_sidebar (window)), "overtaking 8");
  g_assert_true (highlight_on_open_chat (window));
  gtk_widget_activate_action (root, "win.next-conversation", NULL);
  wait_until (highlight_on_open_chat, window, "the highlight moved with Alt+Down");

  /* ---- the one-pane layout of a narrow window */
  natter_window_open_conversation (window, NATTER_CONVERSATION_PRIVATE, "bob", 0);
  gtk_window_set_default_size (GTK_WINDOW (window), 380, 700);
  wait_until (is_folded, window, "the narrow layout");
  screenshot (root, "screenshot-narrow.png");

  /* ---- a message for another chat while only bob's chat is on screen: a
   *      notification with its sender and text; none for the muted carol */
  {
    g_autofree char *dave = natter_test_server_get_token (server, "dave");
    g_autofree char *dave_profile = g_build_filename (tmp_dir, "dave-cli", NULL);

    g_free (cli (carol, carol_profile, "send", "alice", "Muted chats stay quiet", NULL));
    g_free (cli (dave, dave_profile, "send", "alice", "Are you free at three?", NULL));
    wait_until (notified, (gpointer) "Are you free at three?", "a notification");
    g_assert_true (notified ((gpointer) "Dave Miller"));
    g_assert_false (notified ((gpointer) "Muted chats stay quiet"));
    /* its action opens the chat */
    click_notification ("Are you free at three?", NULL);
    g_assert_cmpstr (natter_chat_view_get_target_id (chat), ==, "dave");
    wait_for_label (GTK_WIDGET (chat), "Are you free at three?");
    /* dave's two messages were not read: the chat marks where they start */
    wait_for_label (GTK_WIDGET (chat), "Unread Messages");
    screenshot (root, "screenshot-unread.png");
  }
  gtk_widget_activate_action (root, "win.back", NULL);
  wait_for_label (GTK_WIDGET (natter_window_get_sidebar (window)), "Dave Miller");

  /* ---- a notification's “Mark as Read”: read, without opening the chat */
  {
    g_autofree char *erin = natter_test_server_get_token (server, "erin");
    g_autofree char *erin_profile = g_build_filename (tmp_dir, "erin-cli", NULL);
    ConversationQuery q = { natter_sidebar_get_conversations (natter_window_get_sidebar (window)),
                            NATTER_CONVERSATION_PRIVATE, "erin" };

    g_free (cli (erin, erin_profile, "send", "alice", "Lunch tomorrow?", NULL));
    wait_until (notified, (gpointer) "Lunch tomorrow?", "erin's notification");
    g_assert_false (conversation_read (&q));
    click_notification ("Lunch tomorrow?", "Mark as Read");
    wait_until (conversation_read, &q, "erin's chat read");
    g_assert_cmpstr (natter_chat_view_get_target_id (chat), ==, "dave");
    wait_until (withdrawn_with_suffix, (gpointer) "|1|erin", "the notification taken back");

    /* read some other way (the sidebar's menu here; another device alike):
     * the notification goes too */
    g_ptr_array_set_size (withdrawn, 0);
    g_free (cli (erin, erin_profile, "send", "alice", "Still there?", NULL));
    wait_until (notified, (gpointer) "Still there?", "erin's second notification");
    g_assert_false (withdrawn_with_suffix ((gpointer) "|1|erin"));
    gtk_widget_activate_action (GTK_WIDGET (natter_window_get_sidebar (window)), "sidebar.mark-read", "(is)",
                                NATTER_CONVERSATION_PRIVATE, "erin");
    wait_until (withdrawn_with_suffix, (gpointer) "|1|erin", "erin's notification withdrawn");
  }
  gtk_window_set_default_size (GTK_WINDOW (window), 1100, 720);

  /* ---- deleting a chat asks first; the open chat closes with it */
  {
    NatterSidebar *sidebar = natter_window_get_sidebar (window);
    ConversationQuery q = { natter_sidebar_get_conversations (sidebar), NATTER_CONVERSATION_GROUP, "not-my-group" };

    natter_window_open_conversation (window, NATTER_CONVERSATION_GROUP, "not-my-group", 0);
    wait_until (chat_has_conversation, chat, "the group's conversation");
    gtk_widget_activate_action (GTK_WIDGET (sidebar), "sidebar.delete", "(is)",
                                NATTER_CONVERSATION_GROUP, "not-my-group");
    wait_until (label_anywhere, (gpointer) "Delete Chat?", "the delete dialog");
    respond_to_dialog ("delete");
    wait_until (conversation_gone, &q, "the conversation gone");
    wait_until (chat_closed, chat, "the chat closed");
    g_assert_null (find_label (GTK_WIDGET (sidebar), "Hello group?"));
  }

  /* ---- the server goes away: an unobtrusive banner; back: it goes */
  natter_test_server_stop (server);
  wait_for_label (root, "Reconnecting…");
  natter_test_server_restart (server);
  wait_until (is_connected, window, "alice reconnected");
  {
    LabelQuery q = { root, "Reconnecting…" };
    wait_until (label_gone, &q, "the banner gone");
  }

  /* ---- alice signs in elsewhere: a dialog, no reconnecting by itself */
  {
    g_autofree char *elsewhere = g_build_filename (tmp_dir, "alice-elsewhere", NULL);
    g_free (cli (alice, elsewhere, "sync", NULL));
  }
  wait_until (is_kicked, window, "alice kicked");
  wait_until (label_anywhere, (gpointer) "Signed In on Another Device", "the kicked dialog");
  spin (1500);
  g_assert_true (is_kicked (window));   /* still: it waits for the user */
  respond_to_dialog ("reconnect");
  wait_until (is_connected, window, "alice back after Use Here");

  /* ---- Escape closes the search first, then the chat */
  natter_window_open_conversation (window, NATTER_CONVERSATION_PRIVATE, "bob", 0);
  gtk_widget_activate_action (root, "win.search", NULL);
  wait_until (has_search_entry, window, "the search entry");
  gtk_widget_activate_action (root, "win.escape", NULL);
  wait_until (search_closed, window, "the search closed");
  g_assert_cmpstr (natter_chat_view_get_target_id (chat), ==, "bob");
  gtk_widget_activate_action (root, "win.escape", NULL);
  g_assert_null (natter_chat_view_get_target_id (chat));

  /* ---- signing out forgets the token and comes back to a filled-in form */
  gtk_widget_activate_action (root, "win.sign-out", NULL);
  wait_for_page (window, "sign-in");
  {
    GtkWidget *server_row = find_entry_row (root, "Server Address");
    g_assert_nonnull (server_row);
    g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (server_row)), ==, natter_test_server_get_url (server));
    spin (300);
    g_assert_false (g_file_test (token_path, G_FILE_TEST_EXISTS));
  }

  gtk_window_destroy (GTK_WINDOW (window));
  spin (100);
}

typedef struct {
  GListModel *model;
  guint n;
} ItemsQuery;

static gboolean
has_items (gpointer data)
{
  ItemsQuery *q = data;
  return g_list_model_get_n_items (q->model) >= q->n;
}

static gboolean
chat_at_bottom (gpointer data)
{
  return natter_chat_view_get_at_bottom (data);
}

static gboolean
older_loaded (gpointer data)
{
  NatterMessageList *list = natter_chat_view_get_messages (data);
  return g_list_model_get_n_items (G_LIST_MODEL (list)) >= 2 * NATTER_MESSAGE_LIST_PAGE_SIZE &&
         !natter_message_list_get_loading (list);
}

/* The chat's list has a size and more rows than fit. */
static gboolean
history_laid_out (gpointer data)
{
  GtkListView *list_view = natter_chat_view_get_list_view (data);
  GtkAdjustment *adj = gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (list_view));

  return gtk_widget_get_height (GTK_WIDGET (list_view)) > 0 &&
         gtk_adjustment_get_upper (adj) > gtk_adjustment_get_page_size (adj);
}

/* A long local history: the newest at the bottom, older pages come when
 * scrolled to the top, and what was in view stays in view. */
static void
test_history (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *profile = g_build_filename (tmp_dir, "history", NULL);
  g_autofree char *ini = g_build_filename (profile, "account.ini", NULL);
  g_autofree char *token = g_build_filename (profile, "token", NULL);
  g_autofree char *anchor_text = NULL;
  g_autofree char *out = NULL;
  const char *argv[] = { natter_test_program ("NATTER_CLI"), "generate-profile", profile,
                         "--messages", "300", "--conversations", "1", "--owner", "me", NULL };
  NatterWindow *window;
  NatterChatView *chat;
  GtkAdjustment *adj;

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL, NULL, &error));
  g_assert_no_error (error);
  /* signed in to a server that is not there: the store is all there is */
  g_assert_true (g_file_set_contents (ini, "[account]\nserver-url=http://127.0.0.1:9\napp-key=k\nuser-id=me\n", -1, NULL));
  g_assert_true (g_file_set_contents_full (token, "t", -1, G_FILE_SET_CONTENTS_NONE, 0600, NULL));

  window = NATTER_WINDOW (natter_application_open_profile (test_app_instance (), profile));
  gtk_window_set_default_size (GTK_WINDOW (window), 900, 600);
  wait_for_page (window, "main");
  natter_window_open_conversation (window, NATTER_CONVERSATION_PRIVATE, "peer0", 0);
  chat = natter_window_get_chat_view (window);
  wait_for_label (GTK_WIDGET (chat), "#299");   /* the newest, at the bottom */
  /* on screen is not laid out yet on a slow machine */
  wait_until (history_laid_out, chat, "the history laid out");
  spin (300);
  g_assert_true (natter_chat_view_get_at_bottom (chat));

  /* to the top: the next page comes, and the message that was in view stays */
  adj = gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (natter_chat_view_get_list_view (chat)));
  g_assert_cmpfloat (gtk_adjustment_get_upper (adj), >, gtk_adjustment_get_page_size (adj));
  /* at the top, the oldest message loaded is in view; it must stay in
   * view while the older page goes in above it */
  {
    g_autoptr(NatterMessage) oldest = g_list_model_get_item (G_LIST_MODEL (natter_chat_view_get_messages (chat)), 0);
    anchor_text = g_strdup (natter_message_get_text (oldest));
  }
  /* a scroll to the end that waits for the layout (a message came in,
   * say) does not undo a scroll up meanwhile */
  natter_chat_view_scroll_to_bottom (chat);
  gtk_adjustment_set_value (adj, 0);   /* as a scroll wheel does */
  wait_until (older_loaded, chat, "an older page");
  spin (300);
  {
    LabelQuery q = { GTK_WIDGET (chat), anchor_text };
    g_assert_true (label_shown (&q));
  }
  g_assert_cmpfloat (gtk_adjustment_get_value (adj), >, 0);
  g_assert_false (natter_chat_view_get_at_bottom (chat));
  g_assert_null (find_label (GTK_WIDGET (chat), "#299"));

  /* messages that arrive while scrolled up go in below: what is in view
   * stays where it is, and the jump button is there */
  {
    GListModel *messages = G_LIST_MODEL (natter_chat_view_get_messages (chat));
    guint n = g_list_model_get_n_items (messages);
    double value = gtk_adjustment_get_value (adj);
    LabelQuery q = { GTK_WIDGET (chat), anchor_text };
    GtkWidget *jump;

    g_assert_true (label_shown (&q));
    for (guint i = 1; i <= 3; i++)
      {
        g_autofree char *text = g_strdup_printf ("arrived while scrolled up %u", i);
        g_autoptr(JsonObject) content = natter_content_new_text (text);
        natter_client_insert_local_message_async (natter_window_get_client (window),
                                                  NATTER_CONVERSATION_PRIVATE, "peer0", "peer0",
                                                  NATTER_OBJECT_TEXT, content,
                                                  NATTER_MESSAGE_DIRECTION_RECEIVE, 0,
                                                  NULL, NULL, NULL);
      }
    {
      ItemsQuery iq = { messages, n + 3 };
      wait_until (has_items, &iq, "three new messages");
    }
    spin (400);
    g_assert_true (label_shown (&q));
    g_assert_cmpfloat_with_epsilon (gtk_adjustment_get_value (adj), value, 1.0);
    g_assert_false (natter_chat_view_get_at_bottom (chat));
    g_assert_null (find_label (GTK_WIDGET (chat), "arrived while scrolled up"));

    /* and back down with the jump button (shown only while scrolled up) */
    jump = find_button_with_icon (GTK_WIDGET (chat), "go-bottom-symbolic");
    g_assert_nonnull (jump);
    gtk_widget_activate (jump);
    wait_for_label (GTK_WIDGET (chat), "arrived while scrolled up 3");
    wait_until (chat_at_bottom, chat, "the chat at the bottom");
    spin (400);
    g_assert_null (find_button_with_icon (GTK_WIDGET (chat), "go-bottom-symbolic"));

    /* one sender within minutes: one group, the avatar on its first bubble
     * only (after a message of ours, which starts a new group) */
    {
      const struct { const char *text; NatterMessageDirection direction; } in[] = {
        { "a word from me", NATTER_MESSAGE_DIRECTION_SEND },
        { "grouped one", NATTER_MESSAGE_DIRECTION_RECEIVE },
        { "grouped two", NATTER_MESSAGE_DIRECTION_RECEIVE },
      };
      for (guint i = 0; i < G_N_ELEMENTS (in); i++)
        {
          g_autoptr(JsonObject) content = natter_content_new_text (in[i].text);
          natter_client_insert_local_message_async (natter_window_get_client (window),
                                                    NATTER_CONVERSATION_PRIVATE, "peer0",
                                                    in[i].direction == NATTER_MESSAGE_DIRECTION_SEND ? "me" : "peer0",
                                                    NATTER_OBJECT_TEXT, content, in[i].direction, 0,
                                                    NULL, NULL, NULL);
        }
      /* each insert is on its own: all three, not only the last */
      for (guint i = 0; i < G_N_ELEMENTS (in); i++)
        wait_for_label (GTK_WIDGET (chat), in[i].text);
      spin (300);
      for (guint i = 1; i < G_N_ELEMENTS (in); i++)
        {
          GtkWidget *row = gtk_widget_get_ancestor (find_label (GTK_WIDGET (chat), in[i].text),
                                                    g_type_from_name ("NatterMessageRow"));
          g_assert_nonnull (row);
          if (i == 1)
            g_assert_nonnull (find_type (row, ADW_TYPE_AVATAR));
          else
            g_assert_null (find_type (row, ADW_TYPE_AVATAR));
        }
    }
  }

  /* call summaries (each side stores its own) read as what happened */
  {
    struct { int media, duration, status; gint64 connected; } calls[] = {
      { NATTER_CALL_MEDIA_VIDEO, 201, 3, 1 },
      { NATTER_CALL_MEDIA_AUDIO, 0, NATTER_CALL_REASON_REMOTE_NO_RESPONSE, 0 },
    };
    for (guint i = 0; i < G_N_ELEMENTS (calls); i++)
      {
        g_autoptr(JsonObject) content = json_object_new ();
        gint64 now = g_get_real_time () / 1000;

        json_object_set_string_member (content, "caller", "peer0");
        json_object_set_int_member (content, "mediaType", calls[i].media);
        json_object_set_int_member (content, "startTime", now - 300000);
        json_object_set_int_member (content, "connectedTime", calls[i].connected ? now - 290000 : 0);
        json_object_set_int_member (content, "duration", calls[i].duration);
        json_object_set_int_member (content, "status", calls[i].status);
        natter_client_insert_local_message_async (natter_window_get_client (window),
                                                  NATTER_CONVERSATION_PRIVATE, "peer0", "peer0",
                                                  NATTER_OBJECT_CALL_SUMMARY, content,
                                                  NATTER_MESSAGE_DIRECTION_RECEIVE, 0,
                                                  NULL, NULL, NULL);
      }
    wait_for_label (GTK_WIDGET (chat), "Video call · 3:21");
    wait_for_label (GTK_WIDGET (chat), "Missed call");
  }

  gtk_window_destroy (GTK_WINDOW (window));
  spin (100);
}

/* ---------------------------------------------------- toasts, one at a time */

/* Toasts on screen (shown or fading out) in the overlay. */
static guint
toasts_on_screen (GtkWidget *overlay)
{
  GtkWidget *content = adw_toast_overlay_get_child (ADW_TOAST_OVERLAY (overlay));
  guint n = 0;

  for (GtkWidget *child = gtk_widget_get_first_child (overlay); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (child != content)
      n++;
  return n;
}

/* Runs the main loop until @text is on screen (@text NULL: for @ms),
 * asserting in every turn that at most one toast is. */
static void
spin_one_toast (GtkWidget  *overlay,
                const char *text,
                guint       ms)
{
  gint64 until = g_get_monotonic_time () + (text != NULL ? (gint64) WAIT_SECONDS * 1000 : (gint64) ms) * 1000;
  guint wake = g_timeout_add (5, wake_cb, NULL);

  while (text != NULL ? find_label (overlay, text) == NULL : g_get_monotonic_time () < until)
    {
      if (text != NULL && g_get_monotonic_time () > until)
        g_error ("Timed out waiting for the toast “%s”", text);
      g_main_context_iteration (NULL, TRUE);
      g_assert_cmpuint (toasts_on_screen (overlay), <=, 1);
    }
  g_source_remove (wake);
}

/* The toast on screen that says @text. */
static GtkWidget *
find_toast (GtkWidget  *overlay,
            const char *text)
{
  GtkWidget *label = find_label (overlay, text);

  return label != NULL ? gtk_widget_get_ancestor (label, g_type_from_name ("AdwToastWidget")) : NULL;
}

/* Its close button clicked (now: gtk_widget_activate() clicks 250 ms later). */
static void
close_toast (GtkWidget  *overlay,
             const char *text)
{
  GtkWidget *toast = find_toast (overlay, text);
  GtkWidget *button = toast != NULL ? find_button_with_icon (toast, "window-close-symbolic") : NULL;

  g_assert_nonnull (button);
  g_signal_emit_by_name (button, "clicked");
}

/* libadwaita 1.2 (Debian 12) frees a toast when its fade-out ends; if its
 * slide-in has not ended by then (closed within a frame of appearing, or
 * within 200 ms of replacing one that was fading out), the slide-in's end
 * reads and writes the freed memory: the ui test's rare crash after the
 * dark-mode screenshot (screenshots close the toasts on screen, five take
 * turns by then). The window shows a toast once the one before has gone,
 * and a toast closed before it has slid in goes after. */
static void
test_toasts (void)
{
  g_autofree char *profile = g_build_filename (tmp_dir, "toasts", NULL);
  NatterWindow *window = NATTER_WINDOW (natter_application_open_profile (test_app_instance (), profile));
  GtkWidget *overlay;

  wait_for_page (window, "sign-in");
  overlay = find_type (GTK_WIDGET (window), ADW_TYPE_TOAST_OVERLAY);
  g_assert_nonnull (overlay);
  natter_window_add_toast (window, "First toast");
  natter_window_add_toast (window, "Second toast");
  natter_window_add_toast (window, "Third toast");
  spin_one_toast (overlay, "First toast", 0);
  g_assert_null (find_label (overlay, "Second toast"));   /* waits its turn */

  /* closed as soon as it is there: it stays until it has slid in (a
   * fading toast takes no clicks) */
  close_toast (overlay, "First toast");
  g_assert_true (gtk_widget_get_can_target (find_toast (overlay, "First toast")));
  /* the second once the first has gone, never over it; closed at once too */
  spin_one_toast (overlay, "Second toast", 0);
  g_assert_null (find_label (overlay, "First toast"));
  close_toast (overlay, "Second toast");
  g_assert_true (gtk_widget_get_can_target (find_toast (overlay, "Second toast")));
  spin_one_toast (overlay, "Third toast", 0);
  g_assert_null (find_label (overlay, "Second toast"));
  spin_one_toast (overlay, NULL, 600);
  close_toast (overlay, "Third toast");
  {
    LabelQuery q = { overlay, "Third toast" };
    wait_until (label_gone, &q, "the third toast gone");
  }

  gtk_window_destroy (GTK_WINDOW (window));
  spin (100);
}

typedef struct
{
  gboolean done;
  char    *out;
} CliResult;

static void
cli_done_cb (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  CliResult *cli_result = user_data;
  g_autoptr(GError) error = NULL;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (object), result, &cli_result->out, NULL, &error);
  g_assert_no_error (error);
  cli_result->done = TRUE;
}

static gboolean
user_online (gpointer user_id)
{
  g_autoptr(JsonObject) reply = natter_test_server_api (server, NULL, "user/checkOnline", "userId", user_id, NULL);

  return g_strcmp0 (json_object_get_string_member_with_default (reply, "status", "0"), "1") == 0;
}

static GtkWidget *
call_window (void)
{
  g_autoptr(GList) toplevels = gtk_window_list_toplevels ();

  for (GList *l = toplevels; l != NULL; l = l->next)
    if (g_str_equal (G_OBJECT_TYPE_NAME (l->data), "NatterCallWindow") && gtk_widget_get_visible (l->data))
      return l->data;
  return NULL;
}

static gboolean
call_window_shown (gpointer data)
{
  return call_window () != NULL;
}

static gboolean
call_window_gone (gpointer data)
{
  return call_window () == NULL;
}

/* The chat header's voice call button places a real call: natter-cli
 * answers it, media flows both ways (test sources), natter-cli hangs up
 * after 2 s, the call window goes and the chat shows the summary. */
static void
test_call_from_header (void)
{
  g_autofree char *token = natter_test_server_get_token (server, "dora");
  g_autofree char *frank = natter_test_server_get_token (server, "frank");
  g_autofree char *profile = g_build_filename (tmp_dir, "dora", NULL);
  g_autofree char *frank_profile = g_build_filename (tmp_dir, "frank-cli", NULL);
  g_autofree char *ini = g_build_filename (profile, "account.ini", NULL);
  g_autofree char *token_path = g_build_filename (profile, "token", NULL);
  g_autofree char *account = g_strdup_printf ("[account]\nserver-url=%s\napp-key=%s\nuser-id=dora\n",
                                              natter_test_server_get_url (server),
                                              natter_test_server_get_app_key (server));
  g_autoptr(GSubprocess) answer = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_auto(GStrv) lines = NULL;
  CliResult answered = { FALSE, NULL };
  JsonObject *result;
  NatterWindow *window;
  NatterChatView *chat;
  GtkWidget *button;

  /* frank has written first, so dora's chat with him has a name */
  g_free (cli (frank, frank_profile, "send", "dora", "Call me when you can", NULL));

  g_assert_cmpint (g_mkdir_with_parents (profile, 0700), ==, 0);
  g_assert_true (g_file_set_contents (ini, account, -1, NULL));
  g_assert_true (g_file_set_contents_full (token_path, token, -1, G_FILE_SET_CONTENTS_NONE, 0600, NULL));
  window = NATTER_WINDOW (natter_application_open_profile (test_app_instance (), profile));
  gtk_window_set_default_size (GTK_WINDOW (window), 1000, 700);
  wait_for_page (window, "main");
  wait_until (is_connected, window, "dora connected");
  natter_window_open_conversation (window, NATTER_CONVERSATION_PRIVATE, "frank", 0);
  chat = natter_window_get_chat_view (window);
  wait_for_label (GTK_WIDGET (chat), "Call me when you can");

  answer = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                             natter_test_program ("NATTER_CLI"),
                             "--server", natter_test_server_get_url (server),
                             "--app-key", natter_test_server_get_app_key (server),
                             "--token", frank, "--profile", frank_profile,
                             "answer", "--auto", "--duration", "2", NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (answer, NULL, NULL, cli_done_cb, &answered);
  wait_until (user_online, (gpointer) "frank", "frank's natter-cli online");

  button = find_button_with_icon (GTK_WIDGET (chat), "call-start-symbolic");
  g_assert_nonnull (button);
  g_assert_true (gtk_widget_is_sensitive (button));
  g_assert_true (gtk_widget_activate (button));
  wait_until (call_window_shown, NULL, "the call window");
  wait_until (is_true, &answered.done, "frank's natter-cli to end the call");

  /* frank's last line: the call, from his side */
  lines = g_strsplit (g_strstrip (answered.out), "\n", -1);
  node = json_from_string (lines[g_strv_length (lines) - 1], &error);
  g_assert_no_error (error);
  result = json_node_get_object (node);
  g_assert_cmpint (json_object_get_int_member (result, "mediaType"), ==, NATTER_CALL_MEDIA_AUDIO);
  g_assert_cmpint (json_object_get_int_member (result, "reason"), ==, 3);
  g_assert_cmpint (json_object_get_int_member (result, "duration"), >=, 1);
  g_assert_cmpint (json_object_get_int_member (result, "audioBuffersReceived"), >=, 20);
  g_assert_cmpint (json_object_get_int_member (result, "videoFramesReceived"), ==, 0);

  /* dora's side: the window goes, the chat says what happened */
  wait_until (call_window_gone, NULL, "the call window to close");
  wait_for_label (GTK_WIDGET (chat), "Voice call · 0:0");
  g_free (answered.out);

  gtk_window_destroy (GTK_WINDOW (window));
  spin (100);
}

/* An app server as the seed describes it: POST userId (form-encoded), get
 * {"code":200,"token":...} back. This one knows erin only. */
static void
app_server_cb (SoupServer        *soup_server,
               SoupServerMessage *msg,
               const char        *path,
               GHashTable        *query,
               gpointer           user_data)
{
  const char *token = user_data;
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr(GBytes) bytes = soup_message_body_flatten (body);
  g_autofree char *form_text = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  g_autoptr(GHashTable) form = soup_form_decode (form_text);
  g_autofree char *reply = NULL;

  if (g_strcmp0 (g_hash_table_lookup (form, "userId"), "erin") == 0)
    reply = g_strdup_printf ("{\"code\":200,\"userId\":\"erin\",\"token\":\"%s\"}", token);
  else
    reply = g_strdup ("{\"code\":1002,\"errorMessage\":\"unknown user\"}");
  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, reply, strlen (reply));
}

/* First run through an app server instead of a token. */
static void
test_app_server (void)
{
  g_autofree char *token = natter_test_server_get_token (server, "erin");
  g_autofree char *profile = g_build_filename (tmp_dir, "erin", NULL);
  g_autofree char *ini_path = g_build_filename (profile, "account.ini", NULL);
  g_autofree char *ini = NULL;
  g_autofree char *app_server_url = NULL;
  g_autoptr(SoupServer) app_server = soup_server_new (NULL, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSList) uris = NULL;
  NatterWindow *window;
  GtkWidget *root, *toggle;

  soup_server_add_handler (app_server, "/token", app_server_cb, token, NULL);
  g_assert_true (soup_server_listen_local (app_server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  g_assert_no_error (error);
  uris = soup_server_get_uris (app_server);
  app_server_url = g_strdup_printf ("http://127.0.0.1:%d/token", g_uri_get_port (uris->data));
  g_slist_foreach (uris, (GFunc) g_uri_unref, NULL);

  window = NATTER_WINDOW (natter_application_open_profile (test_app_instance (), profile));
  root = GTK_WIDGET (window);
  wait_for_page (window, "sign-in");
  wait_for_label (root, "Through an App Server");
  toggle = find_button_with_label (root, "Through an App Server");
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (toggle), TRUE);
  wait_until (app_server_row_shown, root, "the app server rows");
  set_row_text (root, "Server Address", natter_test_server_get_url (server));
  set_row_text (root, "App Key", natter_test_server_get_app_key (server));
  set_row_text (root, "App Server Address", app_server_url);

  /* a user the app server does not know: its answer is shown */
  set_row_text (root, "User ID", "mallory");
  gtk_widget_activate (find_button_with_label (root, "Sign In"));
  wait_for_label (root, "did not give a token");
  g_assert_cmpstr (natter_window_get_page (window), ==, "sign-in");

  set_row_text (root, "User ID", "erin");
  gtk_widget_activate (find_button_with_label (root, "Sign In"));
  wait_for_page (window, "main");
  wait_until (is_connected, window, "erin connected");
  g_assert_cmpstr (natter_client_get_user_id (natter_window_get_client (window)), ==, "erin");

  /* the app server is remembered for next time */
  spin (300);
  g_assert_true (g_file_get_contents (ini_path, &ini, NULL, NULL));
  g_assert_nonnull (strstr (ini, app_server_url));

  gtk_window_destroy (GTK_WINDOW (window));
  spin (100);
}

/* ------------------------------------- another server, and plain http */

typedef struct {
  GPtrArray *requests;   /* "path?query\nheaders" */
  GBytes *png;
} Foreign;

static void
foreign_cb (SoupServer        *soup_server,
            SoupServerMessage *msg,
            const char        *path,
            GHashTable        *query,
            gpointer           user_data)
{
  Foreign *foreign = user_data;
  GUri *uri = soup_server_message_get_uri (msg);
  GString *request = g_string_new (path);
  SoupMessageHeadersIter iter;
  const char *name, *value;

  if (g_uri_get_query (uri) != NULL)
    g_string_append_printf (request, "?%s", g_uri_get_query (uri));
  g_string_append_c (request, '\n');
  soup_message_headers_iter_init (&iter, soup_server_message_get_request_headers (msg));
  while (soup_message_headers_iter_next (&iter, &name, &value))
    g_string_append_printf (request, "%s: %s\n", name, value);
  g_ptr_array_add (foreign->requests, g_string_free (request, FALSE));

  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  if (g_str_has_suffix (path, ".png"))
    soup_server_message_set_response (msg, "image/png", SOUP_MEMORY_COPY,
                                      g_bytes_get_data (foreign->png, NULL), g_bytes_get_size (foreign->png));
  else
    soup_server_message_set_response (msg, "application/pdf", SOUP_MEMORY_STATIC, "%PDF-1.4 x", 10);
}

typedef struct {
  Foreign *foreign;
  const char *path;
} ForeignQuery;

static gboolean
foreign_was_asked (gpointer data)
{
  ForeignQuery *q = data;

  for (guint i = 0; i < q->foreign->requests->len; i++)
    if (g_str_has_prefix (g_ptr_array_index (q->foreign->requests, i), q->path))
      return TRUE;
  return FALSE;
}

static void
wait_foreign_asked (Foreign    *foreign,
                    const char *path)
{
  ForeignQuery q = { foreign, path };
  g_autofree char *what = g_strdup_printf ("a request for %s", path);

  wait_until (foreign_was_asked, &q, what);
}

static void
sign_in_with_token (NatterWindow *window,
                    const char   *server_url,
                    const char   *token)
{
  GtkWidget *root = GTK_WIDGET (window);

  wait_for_page (window, "sign-in");
  wait_for_label (root, "Welcome to Natter");
  set_row_text (root, "Server Address", server_url);
  set_row_text (root, "App Key", natter_test_server_get_app_key (server));
  set_row_text (root, "Token", token);
  gtk_widget_activate (find_button_with_label (root, "Sign In"));
}

static gint64
message_id_of_kind (NatterChatView    *chat,
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

/* A sender whose portrait and message URLs point at another server (a
 * loopback SoupServer here): the app shows him, his picture, his image,
 * file and voice message, fetching each from there, and that server never
 * sees the token or the app key. */
static void
test_foreign_urls (void)
{
  g_autofree char *grace = natter_test_server_get_token (server, "grace");
  g_autofree char *frank = natter_test_server_get_token (server, "frank");
  g_autofree char *profile = g_build_filename (tmp_dir, "grace", NULL);
  g_autofree char *frank_profile = g_build_filename (tmp_dir, "frank-cli", NULL);
  g_autoptr(SoupServer) soup_server = soup_server_new (NULL, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 64, 48);
  g_autofree char *base = NULL;
  g_autofree char *thumbnail = NULL;
  g_autofree char *content = NULL;
  Foreign foreign = { g_ptr_array_new_with_free_func (g_free), NULL };
  NatterWindow *window;
  NatterChatView *chat;
  GtkWidget *root;

  {
    char *buffer = NULL;
    gsize size = 0;
    GSList *uris;

    gdk_pixbuf_fill (pixbuf, 0xc04080ff);
    g_assert_true (gdk_pixbuf_save_to_buffer (pixbuf, &buffer, &size, "png", NULL, NULL));
    foreign.png = g_bytes_new_take (buffer, size);
    g_assert_true (gdk_pixbuf_save_to_buffer (pixbuf, &buffer, &size, "jpeg", NULL, NULL));
    thumbnail = g_base64_encode ((const guchar *) buffer, size);
    g_free (buffer);

    soup_server_add_handler (soup_server, NULL, foreign_cb, &foreign, NULL);
    g_assert_true (soup_server_listen_local (soup_server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
    g_assert_no_error (error);
    uris = soup_server_get_uris (soup_server);
    base = g_strdup_printf ("http://127.0.0.1:%d", g_uri_get_port (uris->data));
    g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  }

  /* the app server sets his portrait there; his messages name it too */
  {
    g_autofree char *portrait = g_strdup_printf ("%s/portrait.png?user=frank", base);
    guint status = 0;
    g_autoptr(JsonObject) reply = natter_test_server_api (server, &status, "user/refresh",
                                                          "userId", "frank", "name", "Frank",
                                                          "portraitUri", portrait, NULL);
    g_assert_cmpuint (status, ==, 200);
  }
  content = g_strdup_printf ("{\"content\":\"Hello from Frank\",\"user\":{\"id\":\"frank\","
                             "\"name\":\"Frank\",\"portraitUri\":\"%s/sender.png\"}}", base);
  g_free (cli (frank, frank_profile, "send", "grace", "--object-name", "RC:TxtMsg", "--content", content, NULL));
  g_free (content);
  content = g_strdup_printf ("{\"content\":\"%s\",\"imageUri\":\"%s/image.png\"}", thumbnail, base);
  g_free (cli (frank, frank_profile, "send", "grace", "--object-name", "RC:ImgMsg", "--content", content, NULL));
  g_free (content);
  content = g_strdup_printf ("{\"name\":\"minutes.pdf\",\"size\":10,\"type\":\"application/pdf\","
                             "\"fileUrl\":\"%s/minutes.pdf\"}", base);
  g_free (cli (frank, frank_profile, "send", "grace", "--object-name", "RC:FileMsg", "--content", content, NULL));
  g_free (content);
  content = g_strdup_printf ("{\"remoteUrl\":\"%s/voice.ogg\",\"duration\":2,\"type\":\"ogg\"}", base);
  g_free (cli (frank, frank_profile, "send", "grace", "--object-name", "RC:HQVCMsg", "--content", content, NULL));

  window = NATTER_WINDOW (natter_application_open_profile (test_app_instance (), profile));
  root = GTK_WIDGET (window);
  sign_in_with_token (window, natter_test_server_get_url (server), grace);
  wait_for_page (window, "main");
  wait_until (is_connected, window, "grace connected");

  natter_window_open_conversation (window, NATTER_CONVERSATION_PRIVATE, "frank", 0);
  chat = natter_window_get_chat_view (window);
  wait_for_label (GTK_WIDGET (chat), "Hello from Frank");
  wait_for_label (GTK_WIDGET (chat), "minutes.pdf");

  /* shown without a click: his picture (list and chat) and the thumbnail */
  wait_until (has_portrait, natter_window_get_sidebar (window), "Frank's picture in the list");
  wait_until (has_portrait, chat, "Frank's picture in the chat");
  wait_foreign_asked (&foreign, "/portrait.png");
  g_assert_nonnull (find_picture (GTK_WIDGET (chat)));

  /* opened: the image, the file, the voice message */
  gtk_widget_activate_action (GTK_WIDGET (chat), "chat.open-image", "x",
                              message_id_of_kind (chat, NATTER_MESSAGE_KIND_IMAGE));
  wait_foreign_asked (&foreign, "/image.png");
  wait_until (label_anywhere, (gpointer) "64 × 48", "the full image in the viewer");
  close_windows_of_type (g_type_from_name ("NatterImageViewer"));
  gtk_widget_activate_action (GTK_WIDGET (chat), "chat.open-file", "x",
                              message_id_of_kind (chat, NATTER_MESSAGE_KIND_FILE));
  wait_foreign_asked (&foreign, "/minutes.pdf");
  wait_until (has_voice_player, chat, "a voice player on screen");
  natter_voice_player_toggle (NATTER_VOICE_PLAYER (find_type (GTK_WIDGET (chat), NATTER_TYPE_VOICE_PLAYER)));
  wait_foreign_asked (&foreign, "/voice.ogg");
  spin (500);

  /* nothing of grace's went there */
  for (guint i = 0; i < foreign.requests->len; i++)
    {
      const char *request = g_ptr_array_index (foreign.requests, i);
      g_autofree char *lower = g_ascii_strdown (request, -1);

      g_test_message ("foreign server: %s", request);
      g_assert_null (strstr (lower, "\nauthorization:"));
      g_assert_null (strstr (lower, "\napp-key:"));
      g_assert_null (strstr (lower, "\ncookie:"));
      g_assert_null (strstr (request, grace));
      g_assert_null (strstr (request, natter_test_server_get_app_key (server)));
    }
  g_assert_cmpuint (foreign.requests->len, >=, 4);

  (void) root;
  gtk_window_destroy (GTK_WINDOW (window));
  spin (100);
  soup_server_disconnect (soup_server);
  g_ptr_array_unref (foreign.requests);
  g_bytes_unref (foreign.png);
}

static GtkWidget *
find_message_dialog (void)
{
  return find_toplevel (ADW_TYPE_MESSAGE_DIALOG);
}

static gboolean
message_dialog_shown (gpointer data)
{
  return find_message_dialog () != NULL;
}

static gboolean
message_dialog_gone (gpointer data)
{
  return find_message_dialog () == NULL;
}

/* Signing in to a server over plain http:// that is not on this machine
 * asks first (the token would cross the network readable); loopback does
 * not ask. 0.0.0.0 is not loopback, yet connecting to it stays here. */
static void
test_unencrypted_sign_in (void)
{
  g_autofree char *ivan = natter_test_server_get_token (server, "ivan");
  g_autofree char *profile = g_build_filename (tmp_dir, "ivan", NULL);
  NatterWindow *window;
  GtkWidget *root, *dialog, *button;

  window = NATTER_WINDOW (natter_application_open_profile (test_app_instance (), profile));
  root = GTK_WIDGET (window);
  sign_in_with_token (window, "http://0.0.0.0:1", ivan);

  /* it asks; cancelled, nothing happens */
  wait_until (message_dialog_shown, NULL, "the unencrypted connection dialog");
  dialog = find_message_dialog ();
  g_assert_cmpstr (adw_message_dialog_get_heading (ADW_MESSAGE_DIALOG (dialog)), ==,
                   "Sign In Without Encryption?");
  g_assert_nonnull (strstr (adw_message_dialog_get_body (ADW_MESSAGE_DIALOG (dialog)), "0.0.0.0"));
  button = find_button_with_label (dialog, "Cancel");
  g_assert_nonnull (button);
  gtk_widget_activate (button);
  wait_until (message_dialog_gone, NULL, "the dialog closed");
  spin (200);
  g_assert_cmpstr (natter_window_get_page (window), ==, "sign-in");
  g_assert_null (natter_window_get_client (window));
  g_assert_true (gtk_widget_get_sensitive (find_button_with_label (root, "Sign In")));

  /* agreed to, it signs in (and finds nobody there) */
  gtk_widget_activate (find_button_with_label (root, "Sign In"));
  wait_until (message_dialog_shown, NULL, "the dialog again");
  gtk_widget_activate (find_button_with_label (find_message_dialog (), "Sign In Anyway"));
  wait_for_label (root, "0.0.0.0");
  g_assert_cmpstr (natter_window_get_page (window), ==, "sign-in");

  /* a loopback server: no question */
  set_row_text (root, "Server Address", natter_test_server_get_url (server));
  gtk_widget_activate (find_button_with_label (root, "Sign In"));
  wait_for_page (window, "main");
  g_assert_null (find_message_dialog ());

  gtk_window_destroy (GTK_WINDOW (window));
  spin (100);
}

/* ------------------------------------------------ a Secret Service */

/* Enough of org.freedesktop.secrets for libsecret's password calls (plain
 * sessions, one unlocked collection, no prompts): what a keyring such as
 * gnome-keyring does for Natter. One item at most, as Natter stores one
 * token per profile. */
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

static struct {
  GVariant *attributes;   /* a{ss} of the stored item, NULL: none */
  char *secret;
  guint stores, deletes;
} keyring;

static gboolean
keyring_matches (GVariant *query)
{
  GVariantIter iter;
  const char *key, *value, *stored;

  if (keyring.attributes == NULL)
    return FALSE;
  g_variant_iter_init (&iter, query);
  while (g_variant_iter_next (&iter, "{&s&s}", &key, &value))
    if (!g_variant_lookup (keyring.attributes, key, "&s", &stored) || !g_str_equal (stored, value))
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
                                             g_variant_new ("(^ao^ao)", keyring_matches (query) ? found : none, none));
    }
  else if (g_str_equal (method_name, "Unlock"))
    {
      g_autoptr(GVariant) paths = g_variant_get_child_value (parameters, 0);
      g_dbus_method_invocation_return_value (invocation,
                                             g_variant_new ("(@aoo)", g_steal_pointer (&paths), "/"));
    }
  else if (g_str_equal (method_name, "GetSecrets"))
    {
      GVariantBuilder secrets;

      g_variant_builder_init (&secrets, G_VARIANT_TYPE ("a{o(oayays)}"));
      if (keyring.secret != NULL)
        g_variant_builder_add (&secrets, "{o(o@ay@ays)}", SECRETS_ITEM, SECRETS_SESSION,
                               g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, "", 0, 1),
                               g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, keyring.secret,
                                                          strlen (keyring.secret), 1),
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

      g_clear_pointer (&keyring.attributes, g_variant_unref);
      keyring.attributes = g_variant_lookup_value (properties, "org.freedesktop.Secret.Item.Attributes",
                                                   G_VARIANT_TYPE ("a{ss}"));
      g_free (keyring.secret);
      keyring.secret = g_strndup (bytes, n);
      keyring.stores++;
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(oo)", SECRETS_ITEM, "/"));
    }
  else if (g_str_equal (method_name, "Delete"))
    {
      g_clear_pointer (&keyring.attributes, g_variant_unref);
      g_clear_pointer (&keyring.secret, g_free);
      keyring.deletes++;
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

/* Registers the objects and takes the name; returns the name's owner id. */
static guint
start_secret_service (GDBusConnection *bus)
{
  static const GDBusInterfaceVTable vtable = { secrets_method_cb, secrets_get_property_cb, NULL, { 0 } };
  g_autoptr(GDBusNodeInfo) info = g_dbus_node_info_new_for_xml (secrets_xml, NULL);
  /* libsecret stores through the “default” alias's path */
  struct { const char *path; guint interface; } objects[] = {
    { "/org/freedesktop/secrets", 0 }, { SECRETS_COLLECTION, 1 },
    { "/org/freedesktop/secrets/aliases/default", 1 }, { SECRETS_ITEM, 2 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (objects); i++)
    g_assert_cmpuint (g_dbus_connection_register_object (bus, objects[i].path,
                                                         info->interfaces[objects[i].interface], &vtable,
                                                         NULL, NULL, NULL), !=, 0);
  return g_bus_own_name_on_connection (bus, "org.freedesktop.secrets", G_BUS_NAME_OWNER_FLAGS_NONE,
                                       NULL, NULL, NULL, NULL);
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

static gboolean
keyring_empty (gpointer data)
{
  return keyring.secret == NULL;
}

/* With a Secret Service (test-ui --secret-service, after the fallback
 * test): the token goes there and nowhere else, no note; the next start
 * reads it from there; signing out deletes it. */
static void
test_secret_service_keyring (void)
{
  g_autofree char *token = natter_test_server_get_token (server, "heidi");
  g_autofree char *profile = g_build_filename (tmp_dir, "heidi", NULL);
  g_autofree char *token_path = g_build_filename (profile, "token", NULL);
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  const char *stored_profile = NULL;
  NatterWindow *window;
  GtkWidget *root;
  guint owner;

  owner = start_secret_service (bus);
  wait_until (name_owned, (gpointer) "org.freedesktop.secrets", "the Secret Service on the bus");

  window = NATTER_WINDOW (natter_application_open_profile (test_app_instance (), profile));
  gtk_window_set_default_size (GTK_WINDOW (window), 1000, 700);
  root = GTK_WIDGET (window);
  wait_for_page (window, "sign-in");
  set_row_text (root, "Server Address", natter_test_server_get_url (server));
  set_row_text (root, "App Key", natter_test_server_get_app_key (server));
  set_row_text (root, "Token", token);
  gtk_widget_activate (find_button_with_label (root, "Sign In"));
  wait_for_page (window, "main");
  wait_until (is_connected, window, "heidi connected");

  /* in the keyring, under this profile, and in no file */
  {
    gint64 deadline = g_get_monotonic_time () + WAIT_SECONDS * G_USEC_PER_SEC;
    while (keyring.stores == 0 && g_get_monotonic_time () < deadline)
      spin (50);
  }
  g_assert_cmpuint (keyring.stores, ==, 1);
  g_assert_cmpstr (keyring.secret, ==, token);
  g_assert_true (g_variant_lookup (keyring.attributes, "profile", "&s", &stored_profile));
  g_assert_cmpstr (stored_profile, ==, natter_account_get_profile_dir (natter_window_get_account (window)));
  spin (300);
  g_assert_false (natter_account_get_token_in_file (natter_window_get_account (window)));
  g_assert_false (g_file_test (token_path, G_FILE_TEST_EXISTS));
  g_assert_null (find_label (root, "No keyring is running"));

  /* the next start reads it from the keyring */
  gtk_window_destroy (GTK_WINDOW (window));
  spin (300);
  window = NATTER_WINDOW (natter_application_open_profile (test_app_instance (), profile));
  root = GTK_WIDGET (window);
  wait_for_page (window, "main");
  wait_until (is_connected, window, "heidi connected again");
  g_assert_false (natter_account_get_token_in_file (natter_window_get_account (window)));

  /* signing out deletes it */
  gtk_widget_activate_action (root, "win.sign-out", NULL);
  wait_for_page (window, "sign-in");
  wait_until (keyring_empty, NULL, "the token deleted from the keyring");
  g_assert_cmpuint (keyring.deletes, ==, 1);

  gtk_window_destroy (GTK_WINDOW (window));
  g_bus_unown_name (owner);
  spin (100);
}

/* With the Secret Service path on (test-ui --secret-service) but no Secret
 * Service on the bus (a private one, so a keyring installed on the machine
 * cannot be activated): signing in works, the token lands in the 0600
 * file, the note about it is shown; the next start reads it back through
 * the same path (a lookup that fails), and signing out removes it. */
static void
test_secret_service_fallback (void)
{
  g_autofree char *token = natter_test_server_get_token (server, "grace");
  g_autofree char *profile = g_build_filename (tmp_dir, "grace", NULL);
  g_autofree char *token_path = NULL;
  g_autofree char *stored = NULL;
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) activatable = NULL;
  NatterWindow *window;
  GtkWidget *root;
  struct stat st;

  g_assert_cmpstr (g_getenv ("NATTER_SECRET_SERVICE"), !=, "0");
  /* the precondition: nobody owns or can start the Secret Service here */
  g_assert_nonnull (bus);
  reply = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "NameHasOwner",
                                       g_variant_new ("(s)", "org.freedesktop.secrets"),
                                       G_VARIANT_TYPE ("(b)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
  g_assert_nonnull (reply);
  g_assert_false (g_variant_get_boolean (g_variant_get_child_value (reply, 0)));
  activatable = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                             "org.freedesktop.DBus", "ListActivatableNames", NULL,
                                             G_VARIANT_TYPE ("(as)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
  g_assert_nonnull (activatable);
  {
    g_autofree const char **names = NULL;
    g_autoptr(GVariant) list = g_variant_get_child_value (activatable, 0);
    names = g_variant_get_strv (list, NULL);
    g_assert_false (g_strv_contains (names, "org.freedesktop.secrets"));
  }

  window = NATTER_WINDOW (natter_application_open_profile (test_app_instance (), profile));
  gtk_window_set_default_size (GTK_WINDOW (window), 1000, 700);
  root = GTK_WIDGET (window);
  wait_for_page (window, "sign-in");
  set_row_text (root, "Server Address", natter_test_server_get_url (server));
  set_row_text (root, "App Key", natter_test_server_get_app_key (server));
  set_row_text (root, "Token", token);
  gtk_widget_activate (find_button_with_label (root, "Sign In"));
  wait_for_page (window, "main");
  wait_until (is_connected, window, "grace connected");

  /* the note, as a toast in the window */
  wait_for_label (root, "No keyring is running");
  g_assert_true (natter_account_get_token_in_file (natter_window_get_account (window)));
  token_path = natter_account_dup_token_path (natter_window_get_account (window));
  g_assert_true (g_str_has_prefix (token_path, profile));
  g_assert_cmpint (g_stat (token_path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_true (g_file_get_contents (token_path, &stored, NULL, NULL));
  g_assert_cmpstr (stored, ==, token);
  g_assert_nonnull (find_label (root, token_path));

  /* and in Preferences → Account */
  preferences_show_token_note ();

  /* the next start: the lookup fails, the file is read, grace is signed in.
   * It starts as a notification's action does when no window is open: the
   * chat asked for opens once the profile is read. */
  gtk_window_destroy (GTK_WINDOW (window));
  spin (300);
  g_action_group_activate_action (G_ACTION_GROUP (test_app_instance ()), "open-conversation",
                                  g_variant_new ("(sis)", profile, NATTER_CONVERSATION_PRIVATE, "alice"));
  window = NATTER_WINDOW (natter_application_open_profile (test_app_instance (), profile));
  root = GTK_WIDGET (window);
  wait_for_page (window, "main");
  wait_until (is_connected, window, "grace connected again");
  g_assert_true (natter_account_get_token_in_file (natter_window_get_account (window)));
  g_assert_cmpstr (natter_chat_view_get_target_id (natter_window_get_chat_view (window)), ==, "alice");

  /* signing out: the clear fails too, the file goes */
  gtk_widget_activate_action (root, "win.sign-out", NULL);
  wait_for_page (window, "sign-in");
  {
    gint64 deadline = g_get_monotonic_time () + WAIT_SECONDS * G_USEC_PER_SEC;
    while (g_file_test (token_path, G_FILE_TEST_EXISTS) && g_get_monotonic_time () < deadline)
      spin (50);
  }
  g_assert_false (g_file_test (token_path, G_FILE_TEST_EXISTS));

  gtk_window_destroy (GTK_WINDOW (window));
  spin (100);
}

/* The first run in Simplified Chinese (test-ui --language zh_CN). */
static void
test_translated (void)
{
  g_autofree char *profile = g_build_filename (tmp_dir, "zh", NULL);
  NatterWindow *window;

  window = NATTER_WINDOW (natter_application_open_profile (test_app_instance (), profile));
  gtk_window_set_default_size (GTK_WINDOW (window), 1100, 720);
  wait_for_page (window, "sign-in");
  wait_for_label (GTK_WIDGET (window), "欢迎使用 Natter");
  wait_for_label (GTK_WIDGET (window), "登录你的 Natter 服务器");
  g_assert_nonnull (find_entry_row (GTK_WIDGET (window), "服务器地址"));
  g_assert_nonnull (find_entry_row (GTK_WIDGET (window), "令牌"));
  screenshot (GTK_WIDGET (window), "screenshot-sign-in-zh_CN.png");
  gtk_window_destroy (GTK_WINDOW (window));
  spin (100);
}

/* A warning or critical ends the test (g_test_init makes them fatal): print
 * every thread's stack first (gdb, when there is one), so a rare one can be
 * found from the log.  A writer sees GObject's warnings too, which
 * g_test_log_set_fatal_handler() does not. */
static GLogWriterOutput
log_writer_with_stack (GLogLevelFlags   level,
                       const GLogField *fields,
                       gsize            n_fields,
                       gpointer         user_data)
{
  GLogWriterOutput ret = g_log_writer_default (level, fields, n_fields, user_data);

  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    {
      g_autofree char *pid = g_strdup_printf ("%d", (int) getpid ());
      const char *argv[] = { "gdb", "-q", "-batch", "-p", pid,
                             "-ex", "thread apply all bt 40", NULL };
      g_autofree char *out = NULL;

      if (g_spawn_sync (NULL, (char **) argv, NULL,
                        G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                        NULL, NULL, &out, NULL, NULL, NULL))
        g_printerr ("%s\n", out);
    }
  return ret;
}

int
main (int argc, char *argv[])
{
  const char *language = NULL;
  gboolean secret_service = FALSE;
  GTestDBus *bus = NULL;   /* not taken down: see the end */
  int ret;

  g_setenv ("LC_ALL", "C.UTF-8", TRUE);
  /* GTK's in-process accessibility backend: no bus, and the accessible
   * names and roles can be checked */
  g_setenv ("GTK_A11Y", "test", TRUE);
  if (argc >= 3 && g_str_equal (argv[1], "--language"))
    {
      /* LANGUAGE picks the catalog even in the C.UTF-8 locale */
      language = argv[2];
      g_setenv ("LANGUAGE", language, TRUE);
      setlocale (LC_ALL, "");
      bindtextdomain (GETTEXT_PACKAGE, NATTER_BUILD_LOCALE_DIR);
      bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
      textdomain (GETTEXT_PACKAGE);
      argv[2] = argv[0];
      argv += 2;
      argc -= 2;
    }
  else if (argc >= 2 && g_str_equal (argv[1], "--secret-service"))
    {
      /* the Secret Service path on, on a private bus that has none */
      secret_service = TRUE;
      g_setenv ("NATTER_SECRET_SERVICE", "1", TRUE);
      g_autofree char *display = g_strdup (g_getenv ("DISPLAY"));
      g_autofree char *runtime_dir = g_strdup (g_getenv ("XDG_RUNTIME_DIR"));

      bus = g_test_dbus_new (G_TEST_DBUS_NONE);
      g_test_dbus_up (bus);
      /* GTestDBus unsets these; the app needs the X server */
      if (display != NULL)
        g_setenv ("DISPLAY", display, TRUE);
      if (runtime_dir != NULL)
        g_setenv ("XDG_RUNTIME_DIR", runtime_dir, TRUE);
      argv[1] = argv[0];
      argv += 1;
      argc -= 1;
    }
  g_log_set_writer_func (log_writer_with_stack, NULL, NULL);
  g_test_init (&argc, &argv, NULL);

  tmp_dir = g_dir_make_tmp ("natter-test-ui-XXXXXX", NULL);
  g_setenv ("XDG_DATA_HOME", tmp_dir, TRUE);
  g_setenv ("XDG_CACHE_HOME", tmp_dir, TRUE);
  g_setenv ("XDG_CONFIG_HOME", tmp_dir, TRUE);
  install_pdf_opener ();
  server = natter_test_server_new ();
  start_notification_server ();

  if (language != NULL)
    g_test_add_func ("/ui/translated-first-run", test_translated);
  else if (secret_service)
    {
      g_test_add_func ("/ui/secret-service-fallback", test_secret_service_fallback);
      g_test_add_func ("/ui/secret-service-keyring", test_secret_service_keyring);
    }
  else
    {
      g_test_add_func ("/ui/first-run-and-chat", test_app);
      g_test_add_func ("/ui/app-server-sign-in", test_app_server);
      g_test_add_func ("/ui/toasts-one-at-a-time", test_toasts);
      g_test_add_func ("/ui/history", test_history);
      g_test_add_func ("/ui/call-from-chat-header", test_call_from_header);
      g_test_add_func ("/ui/foreign-urls-get-no-credentials", test_foreign_urls);
      g_test_add_func ("/ui/unencrypted-sign-in", test_unencrypted_sign_in);
    }
  ret = g_test_run ();

  if (app != NULL)
    {
      g_application_release (G_APPLICATION (app));
      g_clear_object (&app);
    }
  natter_test_server_free (server);
  /* The private bus is not taken down: g_test_dbus_down() waits for every
   * holder of the session bus connection (GTK, libsecret) to let it go.
   * GTestDBus's watcher process stops its dbus-daemon when this one ends. */
  (void) bus;
  {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", tmp_dir);
    (void) system (cmd);
  }
  g_free (tmp_dir);
  return ret;
}
