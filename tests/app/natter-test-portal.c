/* natter-test-portal.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gio/gunixfdlist.h>
#include <glib/gstdio.h>
#include <sys/socket.h>

#include "natter-test-portal.h"

struct _NatterTestPortal {
  GDBusConnection *bus;
  guint            objects[2];
  guint            owner;
  gboolean         owned;
  gboolean         camera_present;
  guint32          camera_response;
  guint32          background_response;
  GString         *log;
  int              sent_fd;
  GVariant        *background_options;
  guint            background_requests;
};

static const char portal_xml[] =
  "<node>"
  " <interface name='org.freedesktop.portal.Camera'>"
  "  <method name='AccessCamera'><arg type='a{sv}' direction='in'/><arg type='o' direction='out'/></method>"
  "  <method name='OpenPipeWireRemote'><arg type='a{sv}' direction='in'/><arg type='h' direction='out'/></method>"
  "  <property name='IsCameraPresent' type='b' access='read'/>"
  "  <property name='version' type='u' access='read'/>"
  " </interface>"
  " <interface name='org.freedesktop.portal.Background'>"
  "  <method name='RequestBackground'><arg type='s' direction='in'/><arg type='a{sv}' direction='in'/>"
  "   <arg type='o' direction='out'/></method>"
  "  <property name='version' type='u' access='read'/>"
  " </interface>"
  "</node>";

static void
log_call (NatterTestPortal *portal,
          const char       *what)
{
  if (portal->log->len > 0)
    g_string_append_c (portal->log, ' ');
  g_string_append (portal->log, what);
}

/* The Request object's path (from the caller's name and handle_token),
 * returned at once; the Response follows as a signal, as the real portal
 * sends it once the user answered. */
static void
respond (GDBusMethodInvocation *invocation,
         GVariant              *options,
         guint32                response,
         GVariant              *results)
{
  GDBusConnection *bus = g_dbus_method_invocation_get_connection (invocation);
  g_autofree char *sender = g_strdup (g_dbus_method_invocation_get_sender (invocation) + 1);
  g_autofree char *path = NULL;
  const char *token = "t";

  g_variant_lookup (options, "handle_token", "&s", &token);
  g_strdelimit (sender, ".", '_');
  path = g_strdup_printf ("/org/freedesktop/portal/desktop/request/%s/%s", sender, token);
  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(o)", path));
  g_dbus_connection_emit_signal (bus, NULL, path, "org.freedesktop.portal.Request", "Response",
                                 g_variant_new ("(u@a{sv})", response, results), NULL);
}

static void
method_call (GDBusConnection       *bus,
             const char            *sender,
             const char            *path,
             const char            *interface,
             const char            *method,
             GVariant              *parameters,
             GDBusMethodInvocation *invocation,
             gpointer               user_data)
{
  NatterTestPortal *portal = user_data;
  g_autoptr(GVariant) options = g_variant_get_child_value (parameters, g_variant_n_children (parameters) - 1);
  GVariantDict results;

  if (g_str_equal (interface, "org.freedesktop.portal.Camera"))
    log_call (portal, method);
  g_variant_dict_init (&results, NULL);
  if (g_str_equal (method, "AccessCamera"))
    respond (invocation, options, portal->camera_response, g_variant_dict_end (&results));
  else if (g_str_equal (method, "OpenPipeWireRemote"))
    {
      g_autoptr(GUnixFDList) fds = g_unix_fd_list_new ();
      int pair[2];

      g_variant_dict_clear (&results);
      g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), ==, 0);
      g_assert_cmpint (g_unix_fd_list_append (fds, pair[0], NULL), ==, 0);
      if (portal->sent_fd >= 0)
        g_close (portal->sent_fd, NULL);
      portal->sent_fd = pair[0];
      g_close (pair[1], NULL);
      g_dbus_method_invocation_return_value_with_unix_fd_list (invocation, g_variant_new ("(h)", 0), fds);
    }
  else if (g_str_equal (method, "RequestBackground"))
    {
      gboolean autostart = FALSE;

      portal->background_requests++;
      g_clear_pointer (&portal->background_options, g_variant_unref);
      portal->background_options = g_variant_ref (options);
      g_variant_lookup (options, "autostart", "b", &autostart);
      g_variant_dict_insert (&results, "background", "b", portal->background_response == 0);
      g_variant_dict_insert (&results, "autostart", "b", portal->background_response == 0 && autostart);
      respond (invocation, options, portal->background_response, g_variant_dict_end (&results));
    }
  else
    {
      g_variant_dict_clear (&results);
      g_dbus_method_invocation_return_dbus_error (invocation, "org.freedesktop.DBus.Error.UnknownMethod", method);
    }
}

static GVariant *
get_property (GDBusConnection *bus,
              const char      *sender,
              const char      *path,
              const char      *interface,
              const char      *property,
              GError         **error,
              gpointer         user_data)
{
  NatterTestPortal *portal = user_data;

  if (g_str_equal (property, "IsCameraPresent"))
    {
      log_call (portal, property);
      return g_variant_new_boolean (portal->camera_present);
    }
  return g_variant_new_uint32 (1);
}

static void
name_acquired (GDBusConnection *bus,
               const char      *name,
               gpointer         user_data)
{
  NatterTestPortal *portal = user_data;

  portal->owned = TRUE;
}

NatterTestPortal *
natter_test_portal_new (void)
{
  static const GDBusInterfaceVTable vtable = { method_call, get_property, NULL };
  g_autoptr(GDBusNodeInfo) info = g_dbus_node_info_new_for_xml (portal_xml, NULL);
  NatterTestPortal *portal = g_new0 (NatterTestPortal, 1);

  portal->bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  portal->log = g_string_new (NULL);
  portal->sent_fd = -1;
  portal->camera_present = TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (portal->objects); i++)
    portal->objects[i] = g_dbus_connection_register_object (portal->bus, "/org/freedesktop/portal/desktop",
                                                            info->interfaces[i], &vtable, portal, NULL, NULL);
  portal->owner = g_bus_own_name_on_connection (portal->bus, "org.freedesktop.portal.Desktop",
                                                G_BUS_NAME_OWNER_FLAGS_NONE, name_acquired, NULL, portal, NULL);
  while (!portal->owned)
    g_main_context_iteration (NULL, TRUE);
  return portal;
}

void
natter_test_portal_free (NatterTestPortal *portal)
{
  g_bus_unown_name (portal->owner);
  for (guint i = 0; i < G_N_ELEMENTS (portal->objects); i++)
    g_dbus_connection_unregister_object (portal->bus, portal->objects[i]);
  if (portal->sent_fd >= 0)
    g_close (portal->sent_fd, NULL);
  g_clear_pointer (&portal->background_options, g_variant_unref);
  g_string_free (portal->log, TRUE);
  g_object_unref (portal->bus);
  g_free (portal);
}

void
natter_test_portal_set_camera (NatterTestPortal *portal,
                               gboolean          present,
                               guint32           response)
{
  portal->camera_present = present;
  portal->camera_response = response;
}

void
natter_test_portal_set_background (NatterTestPortal *portal,
                                   guint32           response)
{
  portal->background_response = response;
}

const char *
natter_test_portal_get_log (NatterTestPortal *portal)
{
  return portal->log->str;
}

int
natter_test_portal_get_sent_fd (NatterTestPortal *portal)
{
  return portal->sent_fd;
}

guint
natter_test_portal_get_background_requests (NatterTestPortal *portal)
{
  return portal->background_requests;
}

GVariant *
natter_test_portal_get_background_options (NatterTestPortal *portal)
{
  return portal->background_options;
}
