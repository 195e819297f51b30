/* natter-camera-portal.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gio/gunixfdlist.h>

#include "natter-camera-portal.h"
#include "natter-portal.h"

#define CAMERA_INTERFACE "org.freedesktop.portal.Camera"

G_DEFINE_QUARK (natter-camera-portal-error-quark, natter_camera_portal_error)

static void
remote_opened_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GUnixFDList) fds = NULL;
  g_autoptr(GVariant) reply = NULL;
  GError *error = NULL;
  gint32 handle;
  int fd;

  reply = g_dbus_connection_call_with_unix_fd_list_finish (G_DBUS_CONNECTION (object), &fds, result, &error);
  if (reply == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  g_variant_get (reply, "(h)", &handle);
  fd = fds != NULL ? g_unix_fd_list_get (fds, handle, &error) : -1;
  if (fd < 0)
    {
      if (error == NULL)
        error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "No PipeWire remote in the answer");
      g_task_return_error (task, error);
      return;
    }
  g_task_return_int (task, fd);
}

static void
access_answered_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  guint32 response;

  if (!natter_portal_request_finish (result, &response, NULL, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  if (response != NATTER_PORTAL_RESPONSE_GRANTED)
    {
      g_task_return_new_error (task, NATTER_CAMERA_PORTAL_ERROR, NATTER_CAMERA_PORTAL_ERROR_DENIED,
                               "Camera access denied (%u)", response);
      return;
    }
  g_dbus_connection_call_with_unix_fd_list (G_DBUS_CONNECTION (object), NATTER_PORTAL_BUS_NAME,
                                            NATTER_PORTAL_OBJECT_PATH, CAMERA_INTERFACE, "OpenPipeWireRemote",
                                            g_variant_new ("(a{sv})", NULL), G_VARIANT_TYPE ("(h)"),
                                            G_DBUS_CALL_FLAGS_NONE, -1, NULL, g_task_get_cancellable (task),
                                            remote_opened_cb, g_object_ref (task));
}

static void
presence_cb (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) present = NULL;
  g_autoptr(GError) error = NULL;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (object), result, &error);
  if (reply != NULL)
    g_variant_get (reply, "(v)", &present);
  if (present == NULL || !g_variant_is_of_type (present, G_VARIANT_TYPE_BOOLEAN) ||
      !g_variant_get_boolean (present))
    {
      g_task_return_new_error (task, NATTER_CAMERA_PORTAL_ERROR, NATTER_CAMERA_PORTAL_ERROR_ABSENT,
                               "No camera (%s)", error != NULL ? error->message : "the portal says so");
      return;
    }
  natter_portal_request_async (G_DBUS_CONNECTION (object), CAMERA_INTERFACE, "AccessCamera",
                               g_variant_new ("(a{sv})", NULL), g_task_get_cancellable (task),
                               access_answered_cb, g_object_ref (task));
}

void
natter_camera_portal_open_async (GDBusConnection     *bus,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (G_IS_DBUS_CONNECTION (bus));

  task = g_task_new (bus, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_camera_portal_open_async);
  g_dbus_connection_call (bus, NATTER_PORTAL_BUS_NAME, NATTER_PORTAL_OBJECT_PATH,
                          "org.freedesktop.DBus.Properties", "Get",
                          g_variant_new ("(ss)", CAMERA_INTERFACE, "IsCameraPresent"), G_VARIANT_TYPE ("(v)"),
                          G_DBUS_CALL_FLAGS_NONE, -1, cancellable, presence_cb, task);
}

int
natter_camera_portal_open_finish (GAsyncResult  *result,
                                  GError       **error)
{
  g_return_val_if_fail (g_async_result_is_tagged (result, natter_camera_portal_open_async), -1);
  return (int) g_task_propagate_int (G_TASK (result), error);
}
