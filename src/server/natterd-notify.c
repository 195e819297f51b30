/* natterd-notify.c — sd_notify(3) without libsystemd
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <string.h>
#include <unistd.h>

#include "natterd-log.h"
#include "natterd-notify.h"

typedef struct
{
  GSocket        *socket;
  GSocketAddress *address;
} Notifier;

/* Made once: the socket is the process's for its whole life. */
static Notifier *
notifier_get (void)
{
  static Notifier *notifier;

  if (g_once_init_enter (&notifier))
    {
      Notifier *made = g_new0 (Notifier, 1);
      const char *path = g_getenv ("NOTIFY_SOCKET");
      g_autoptr(GError) error = NULL;

      if (path != NULL && (path[0] == '/' || (path[0] == '@' && path[1] != '\0')))
        {
          /* "@name": Linux's abstract namespace, without the '@'. */
          if (path[0] == '@')
            made->address = g_unix_socket_address_new_with_type (path + 1, -1, G_UNIX_SOCKET_ADDRESS_ABSTRACT);
          else
            made->address = g_unix_socket_address_new (path);
          made->socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_DATAGRAM,
                                       G_SOCKET_PROTOCOL_DEFAULT, &error);
          if (made->socket == NULL)
            {
              natterd_log (G_LOG_LEVEL_WARNING, "notify-failed", "reason", error->message, NULL);
              g_clear_object (&made->address);
            }
          else
            {
              g_socket_set_blocking (made->socket, FALSE);
            }
        }
      else if (path != NULL && *path != '\0')
        {
          natterd_log (G_LOG_LEVEL_WARNING, "notify-failed", "reason", "NOTIFY_SOCKET is neither a path nor @name",
                       "socket", path, NULL);
        }
      g_once_init_leave (&notifier, made);
    }
  return notifier;
}

gboolean
natterd_notify (const char *state)
{
  Notifier *notifier = notifier_get ();
  g_autoptr(GError) error = NULL;

  g_return_val_if_fail (state != NULL, FALSE);

  if (notifier->socket == NULL)
    return FALSE;
  /* Non-blocking: a full queue at systemd's end costs one message, never
   * the main loop. */
  if (g_socket_send_to (notifier->socket, notifier->address, state, strlen (state), NULL, &error) < 0)
    {
      natterd_log (G_LOG_LEVEL_DEBUG, "notify-failed", "reason", error->message, NULL);
      return FALSE;
    }
  return TRUE;
}

static gboolean
watchdog_ping (gpointer user_data)
{
  natterd_notify ("WATCHDOG=1");
  return G_SOURCE_CONTINUE;
}

guint
natterd_notify_watchdog_add (void)
{
  const char *usec_text = g_getenv ("WATCHDOG_USEC");
  const char *pid_text = g_getenv ("WATCHDOG_PID");
  guint64 usec = 0;
  guint64 pid = 0;
  GSource *source;
  guint id;

  if (notifier_get ()->socket == NULL || usec_text == NULL ||
      !g_ascii_string_to_unsigned (usec_text, 10, 1, G_MAXUINT64, &usec, NULL))
    return 0;
  /* Meant for another process (one we were exec'd from, say). */
  if (pid_text != NULL &&
      (!g_ascii_string_to_unsigned (pid_text, 10, 1, G_MAXUINT64, &pid, NULL) || pid != (guint64) getpid ()))
    return 0;

  /* From the main loop, so that a stuck loop stops the pings; high
   * priority, so that a busy one does not. */
  source = g_timeout_source_new ((guint) MAX (usec / 2 / 1000, 1));
  g_source_set_priority (source, G_PRIORITY_HIGH);
  g_source_set_callback (source, watchdog_ping, NULL, NULL);
  g_source_set_static_name (source, "[natterd] watchdog");
  id = g_source_attach (source, NULL);
  g_source_unref (source);
  return id;
}
