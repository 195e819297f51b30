/* natter-portal.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <unistd.h>

#include "natter-portal.h"

gboolean
natter_portal_in_sandbox (void)
{
  return g_strcmp0 (g_getenv ("NATTER_TEST_PORTALS"), "1") == 0 ||
         g_file_test ("/.flatpak-info", G_FILE_TEST_EXISTS);
}

typedef struct {
  GDBusConnection *bus;
  char            *path;           /* the Request object's */
  guint            subscription;
  gboolean         called;         /* the method returned */
  gboolean         responded;
  guint32          response;
  GVariant        *results;
} Request;

static void
request_free (Request *request)
{
  if (request->subscription != 0)
    g_dbus_connection_signal_unsubscribe (request->bus, request->subscription);
  g_clear_object (&request->bus);
  g_free (request->path);
  g_clear_pointer (&request->results, g_variant_unref);
  g_free (request);
}

typedef struct {
  guint32   response;
  GVariant *results;
} Answer;

static void
answer_free (Answer *answer)
{
  g_clear_pointer (&answer->results, g_variant_unref);
  g_free (answer);
}

/* Both the method's return and the Response are in: done. (A portal may
 * answer before the return reaches us.) */
static void
request_complete (GTask *task)
{
  Request *request = g_task_get_task_data (task);
  Answer *answer;

  if (!request->called || !request->responded)
    return;
  answer = g_new0 (Answer, 1);
  answer->response = request->response;
  answer->results = g_steal_pointer (&request->results);
  g_dbus_connection_signal_unsubscribe (request->bus, request->subscription);
  request->subscription = 0;
  g_task_return_pointer (task, answer, (GDestroyNotify) answer_free);
  g_object_unref (task);
}

static void
response_cb (GDBusConnection *bus,
             const char      *sender,
             const char      *path,
             const char      *interface,
             const char      *signal,
             GVariant        *parameters,
             gpointer         user_data)
{
  GTask *task = user_data;
  Request *request = g_task_get_task_data (task);

  if (request->responded || !g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(ua{sv})")))
    return;
  request->responded = TRUE;
  g_variant_get (parameters, "(u@a{sv})", &request->response, &request->results);
  request_complete (task);
}

static void
subscribe (GTask      *task,
           const char *path)
{
  Request *request = g_task_get_task_data (task);

  if (request->subscription != 0)
    g_dbus_connection_signal_unsubscribe (request->bus, request->subscription);
  g_free (request->path);
  request->path = g_strdup (path);
  request->subscription = g_dbus_connection_signal_subscribe (request->bus, NATTER_PORTAL_BUS_NAME,
                                                              "org.freedesktop.portal.Request", "Response",
                                                              path, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                              response_cb, task, NULL);
}

static void
called_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  GTask *task = user_data;
  Request *request = g_task_get_task_data (task);
  g_autoptr(GVariant) reply = NULL;
  GError *error = NULL;
  const char *path;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (object), result, &error);
  if (reply == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  /* portals before 0.9 chose another path than the token's */
  g_variant_get (reply, "(&o)", &path);
  if (!request->responded && g_strcmp0 (path, request->path) != 0)
    subscribe (task, path);
  request->called = TRUE;
  request_complete (task);
}

void
natter_portal_request_async (GDBusConnection     *bus,
                             const char          *interface,
                             const char          *method,
                             GVariant            *parameters,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  static guint counter;
  g_autoptr(GVariant) sunk = g_variant_ref_sink (parameters);
  g_autofree char *token = g_strdup_printf ("natter%u_%u", (guint) getpid (), ++counter);
  g_autofree char *sender = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GPtrArray) members = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  g_autoptr(GVariant) options = NULL;
  GVariantBuilder builder;
  GVariantIter iter;
  GVariant *member;
  GTask *task;
  Request *request;
  gsize n;

  g_return_if_fail (G_IS_DBUS_CONNECTION (bus));
  g_return_if_fail (g_variant_is_of_type (sunk, G_VARIANT_TYPE_TUPLE));
  n = g_variant_n_children (sunk);
  g_return_if_fail (n > 0);

  task = g_task_new (bus, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_portal_request_async);
  request = g_new0 (Request, 1);
  request->bus = g_object_ref (bus);
  g_task_set_task_data (task, request, (GDestroyNotify) request_free);

  /* :1.42 → 1_42 */
  sender = g_strdup (g_dbus_connection_get_unique_name (bus) + 1);
  g_strdelimit (sender, ".", '_');
  path = g_strdup_printf (NATTER_PORTAL_OBJECT_PATH "/request/%s/%s", sender, token);
  subscribe (task, path);

  /* the same parameters, the handle_token added to the options */
  g_variant_iter_init (&iter, sunk);
  while ((member = g_variant_iter_next_value (&iter)) != NULL)
    g_ptr_array_add (members, member);
  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  g_variant_iter_init (&iter, g_ptr_array_index (members, n - 1));
  {
    const char *key;
    GVariant *value;

    while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
      {
        g_variant_builder_add (&builder, "{sv}", key, value);
        g_variant_unref (value);
      }
  }
  g_variant_builder_add (&builder, "{sv}", "handle_token", g_variant_new_string (token));
  g_variant_unref (members->pdata[n - 1]);
  members->pdata[n - 1] = g_variant_ref_sink (g_variant_builder_end (&builder));
  options = g_variant_ref_sink (g_variant_new_tuple ((GVariant * const *) members->pdata, n));

  g_dbus_connection_call (bus, NATTER_PORTAL_BUS_NAME, NATTER_PORTAL_OBJECT_PATH, interface, method,
                          options, G_VARIANT_TYPE ("(o)"), G_DBUS_CALL_FLAGS_NONE, -1, cancellable,
                          called_cb, task);
}

gboolean
natter_portal_request_finish (GAsyncResult  *result,
                              guint32       *response,
                              GVariant     **results,
                              GError       **error)
{
  Answer *answer;

  g_return_val_if_fail (g_async_result_is_tagged (result, natter_portal_request_async), FALSE);

  answer = g_task_propagate_pointer (G_TASK (result), error);
  if (answer == NULL)
    return FALSE;
  if (response != NULL)
    *response = answer->response;
  if (results != NULL)
    *results = g_steal_pointer (&answer->results);
  answer_free (answer);
  return TRUE;
}
