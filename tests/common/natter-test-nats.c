/* natter-test-nats.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-test-nats.h"

#include <signal.h>
#include <sys/prctl.h>

struct _NatterTestNats
{
  guint16      port;
  char        *url;
  GSubprocess *process;
};

static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static guint16
free_port (void)
{
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (socket);
  g_assert_true (g_socket_bind (socket, address, TRUE, &error));
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

static gboolean
accepts (guint16 port)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) connection = NULL;

  connection = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, NULL);
  return connection != NULL;
}

static void
start (NatterTestNats *self)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                                                       G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_autoptr(GError) error = NULL;
  g_autofree char *port = g_strdup_printf ("%u", self->port);
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  self->process = g_subprocess_launcher_spawn (launcher, &error, "nats-server", "-a", "127.0.0.1",
                                               "-p", port, NULL);
  g_assert_no_error (error);
  while (!accepts (self->port))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (20000);
    }
}

NatterTestNats *
natter_test_nats_start (void)
{
  NatterTestNats *self = g_new0 (NatterTestNats, 1);

  self->port = free_port ();
  self->url = g_strdup_printf ("nats://127.0.0.1:%u", self->port);
  start (self);
  return self;
}

const char *
natter_test_nats_get_url (NatterTestNats *self)
{
  return self->url;
}

void
natter_test_nats_stop (NatterTestNats *self)
{
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (self->process);
  g_subprocess_force_exit (self->process);
  g_subprocess_wait (self->process, NULL, &error);
  g_assert_no_error (error);
  g_clear_object (&self->process);
}

void
natter_test_nats_restart (NatterTestNats *self)
{
  start (self);
}

void
natter_test_nats_free (NatterTestNats *self)
{
  if (self == NULL)
    return;
  if (self->process != NULL)
    natter_test_nats_stop (self);
  g_free (self->url);
  g_free (self);
}
