/* natter-test-notifications.c — a notification server for the tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <string.h>

#include "natter-test-notifications.h"

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

typedef struct
{
  char     *text;    /* "title\nbody" */
  GVariant *params;  /* org.gtk.Notifications: its a{sv}; else NULL */
} Notification;

static GPtrArray *notifications;  /* Notification* */
static GPtrArray *withdrawn;      /* ids of the notifications taken back */
static gboolean on_bus;
static guint names_owned;

static void
notification_free (gpointer data)
{
  Notification *notification = data;

  g_free (notification->text);
  g_clear_pointer (&notification->params, g_variant_unref);
  g_free (notification);
}

static void
add (const char *title,
     const char *body,
     GVariant   *params)
{
  Notification *notification = g_new0 (Notification, 1);

  notification->text = g_strdup_printf ("%s\n%s", title, body);
  notification->params = params != NULL ? g_variant_ref (params) : NULL;
  g_ptr_array_add (notifications, notification);
}

static void
method_cb (GDBusConnection       *connection,
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
      add (title, body, params);
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
      add (title, body, NULL);
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
name_acquired_cb (GDBusConnection *connection,
                  const char      *name,
                  gpointer         user_data)
{
  names_owned++;
}

gboolean
natter_test_notifications_start (void)
{
  static const GDBusInterfaceVTable vtable = { method_cb, NULL, NULL, { 0 } };
  g_autoptr(GDBusNodeInfo) info = g_dbus_node_info_new_for_xml (notify_xml, NULL);
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  const char *paths[] = { "/org/gtk/Notifications", "/org/freedesktop/Notifications" };

  /* once a process: the names stay ours */
  if (notifications != NULL)
    return on_bus;
  notifications = g_ptr_array_new_with_free_func (notification_free);
  withdrawn = g_ptr_array_new_with_free_func (g_free);
  if (bus == NULL)
    return FALSE;
  on_bus = TRUE;
  for (guint i = 0; i < 2; i++)
    g_dbus_connection_register_object (bus, paths[i], info->interfaces[i], &vtable, NULL, NULL, NULL);
  g_bus_own_name_on_connection (bus, "org.gtk.Notifications", G_BUS_NAME_OWNER_FLAGS_NONE,
                                name_acquired_cb, NULL, NULL, NULL);
  g_bus_own_name_on_connection (bus, "org.freedesktop.Notifications", G_BUS_NAME_OWNER_FLAGS_NONE,
                                name_acquired_cb, NULL, NULL, NULL);
  return TRUE;
}

gboolean
natter_test_notifications_ready (void)
{
  return names_owned == 2;
}

guint
natter_test_notifications_count (void)
{
  return notifications->len;
}

gboolean
natter_test_notifications_has (const char *text)
{
  for (guint i = 0; i < notifications->len; i++)
    if (strstr (((Notification *) g_ptr_array_index (notifications, i))->text, text) != NULL)
      return TRUE;
  return FALSE;
}

GVariant *
natter_test_notifications_lookup (const char *text)
{
  for (guint i = notifications->len; i > 0; i--)
    {
      Notification *notification = g_ptr_array_index (notifications, i - 1);

      if (notification->params != NULL && (text == NULL || strstr (notification->text, text) != NULL))
        return notification->params;
    }
  return NULL;
}

guint
natter_test_notifications_n_withdrawn (void)
{
  return withdrawn->len;
}

gboolean
natter_test_notifications_withdrawn (const char *id)
{
  for (guint i = 0; i < withdrawn->len; i++)
    if (g_str_equal (g_ptr_array_index (withdrawn, i), id))
      return TRUE;
  return FALSE;
}

void
natter_test_notifications_forget (void)
{
  g_ptr_array_set_size (notifications, 0);
  g_ptr_array_set_size (withdrawn, 0);
}
