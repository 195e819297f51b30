/* test-notify.c — natterd under systemd's Type=notify: it tells a datagram
 * socket the test owns (as $NOTIFY_SOCKET) READY=1 once its port answers,
 * WATCHDOG=1 every $WATCHDOG_USEC / 2, RELOADING=1 and READY=1 around a
 * SIGHUP reload, and STOPPING=1 on SIGTERM.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-test-client.h"

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/prctl.h>
#include <string.h>

typedef struct
{
  NatterTestServer *server;     /* made the data dir and the app; stopped */
  GSocket          *socket;     /* ours: systemd's end */
  char             *dir;
  char             *notify_socket;
  GSubprocess      *natterd;
} Fixture;

static void
fixture_setup (Fixture  *fixture,
               gboolean  abstract)
{
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GError) error = NULL;

  fixture->server = natter_test_server_new ();
  natter_test_server_stop (fixture->server);

  fixture->dir = g_dir_make_tmp ("natterd-notify-XXXXXX", &error);
  g_assert_no_error (error);
  if (abstract)
    {
      g_autofree char *name = g_strdup_printf ("natterd-notify-test-%d", (int) getpid ());

      fixture->notify_socket = g_strconcat ("@", name, NULL);
      address = g_unix_socket_address_new_with_type (name, -1, G_UNIX_SOCKET_ADDRESS_ABSTRACT);
    }
  else
    {
      fixture->notify_socket = g_build_filename (fixture->dir, "notify", NULL);
      address = g_unix_socket_address_new (fixture->notify_socket);
    }
  fixture->socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_DATAGRAM,
                                  G_SOCKET_PROTOCOL_DEFAULT, &error);
  g_assert_no_error (error);
  g_socket_bind (fixture->socket, address, FALSE, &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture *fixture)
{
  if (fixture->natterd != NULL)
    {
      g_subprocess_force_exit (fixture->natterd);
      g_subprocess_wait (fixture->natterd, NULL, NULL);
      g_clear_object (&fixture->natterd);
    }
  g_clear_object (&fixture->socket);
  if (fixture->notify_socket[0] == '/')
    g_unlink (fixture->notify_socket);
  g_rmdir (fixture->dir);
  g_free (fixture->dir);
  g_free (fixture->notify_socket);
  natter_test_server_free (fixture->server);
}

static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/* natterd on the fixture's data dir and port, with $NOTIFY_SOCKET and
 * (when not NULL) $WATCHDOG_USEC set. */
static void
start_natterd (Fixture    *fixture,
               const char *watchdog_usec)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_autofree char *listen = g_strdup_printf ("127.0.0.1:%u", natter_test_server_get_port (fixture->server));
  g_autoptr(GError) error = NULL;

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  g_subprocess_launcher_setenv (launcher, "NOTIFY_SOCKET", fixture->notify_socket, TRUE);
  if (watchdog_usec != NULL)
    g_subprocess_launcher_setenv (launcher, "WATCHDOG_USEC", watchdog_usec, TRUE);
  else
    g_subprocess_launcher_unsetenv (launcher, "WATCHDOG_USEC");
  fixture->natterd = g_subprocess_launcher_spawn (launcher, &error, natter_test_program ("NATTERD"),
                                                  "--data-dir", natter_test_server_get_data_dir (fixture->server),
                                                  "--listen", listen, NULL);
  g_assert_no_error (error);
}

/* The next datagram, or NULL after @timeout_ms. */
static char *
receive (Fixture *fixture,
         guint    timeout_ms)
{
  g_autoptr(GError) error = NULL;
  char buffer[4096];
  gssize n;

  if (!g_socket_condition_timed_wait (fixture->socket, G_IO_IN, (gint64) timeout_ms * 1000, NULL, &error))
    {
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
      return NULL;
    }
  n = g_socket_receive (fixture->socket, buffer, sizeof buffer, NULL, &error);
  g_assert_no_error (error);
  g_test_message ("notify: %.*s", (int) n, buffer);
  return g_strndup (buffer, (gsize) n);
}

/* The next datagram that is not a watchdog ping; fails after @timeout_ms. */
static char *
receive_state (Fixture *fixture,
               guint    timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  for (;;)
    {
      gint64 left = deadline - g_get_monotonic_time ();
      g_autofree char *message = receive (fixture, (guint) MAX (left / 1000, 1));

      if (message == NULL)
        g_error ("no notification in %u ms", timeout_ms);
      if (!g_str_equal (message, "WATCHDOG=1"))
        return g_steal_pointer (&message);
    }
}

/* The port answers HTTP: GET /metrics gets a status line. */
static void
assert_port_answers (Fixture *fixture)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  const char *request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  char status[13] = { 0 };
  gsize n = 0;

  g_socket_client_set_enable_proxy (client, FALSE);
  connection = g_socket_client_connect_to_host (client, "127.0.0.1", natter_test_server_get_port (fixture->server),
                                                NULL, &error);
  g_assert_no_error (error);
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (connection)),
                             request, strlen (request), NULL, NULL, &error);
  g_assert_no_error (error);
  g_input_stream_read_all (g_io_stream_get_input_stream (G_IO_STREAM (connection)),
                           status, sizeof status - 1, &n, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (status, "HTTP/1."));
  g_assert_cmpstr (status + 8, ==, " 200");
}

static void
stop_natterd (Fixture *fixture)
{
  g_autofree char *stopping = NULL;
  g_autoptr(GError) error = NULL;

  g_subprocess_send_signal (fixture->natterd, SIGTERM);
  stopping = receive_state (fixture, 10000);
  g_assert_cmpstr (stopping, ==, "STOPPING=1");
  g_subprocess_wait_check (fixture->natterd, NULL, &error);
  g_assert_no_error (error);
  g_clear_object (&fixture->natterd);
}

static void
test_lifecycle (void)
{
  Fixture fixture = { 0 };
  g_autofree char *ready = NULL;
  g_autofree char *status = NULL;
  g_autofree char *reloading = NULL;
  g_autofree char *ready_again = NULL;
  gint64 pings[6];

  fixture_setup (&fixture, FALSE);
  start_natterd (&fixture, "400000");

  /* READY=1 comes first, and by then the port answers. */
  ready = receive (&fixture, 30000);
  g_assert_nonnull (ready);
  assert_port_answers (&fixture);
  status = g_strdup_printf ("READY=1\nSTATUS=Serving on http://127.0.0.1:%u",
                            natter_test_server_get_port (fixture.server));
  g_assert_cmpstr (ready, ==, status);

  /* WATCHDOG=1 every 200 ms (half of WATCHDOG_USEC). */
  for (guint i = 0; i < G_N_ELEMENTS (pings); i++)
    {
      g_autofree char *ping = receive (&fixture, 2000);

      g_assert_cmpstr (ping, ==, "WATCHDOG=1");
      pings[i] = g_get_monotonic_time ();
    }
  {
    gint64 mean = (pings[G_N_ELEMENTS (pings) - 1] - pings[0]) / (gint64) (G_N_ELEMENTS (pings) - 1);

    g_test_message ("watchdog: one ping every %" G_GINT64_FORMAT " µs", mean);
    g_assert_cmpint (mean, >=, 150000);
    g_assert_cmpint (mean, <=, 350000);
  }

  /* A reload is announced, and done. */
  g_subprocess_send_signal (fixture.natterd, SIGHUP);
  reloading = receive_state (&fixture, 5000);
  g_assert_true (g_str_has_prefix (reloading, "RELOADING=1\nMONOTONIC_USEC="));
  ready_again = receive_state (&fixture, 5000);
  g_assert_cmpstr (ready_again, ==, "READY=1");
  assert_port_answers (&fixture);

  stop_natterd (&fixture);
  fixture_teardown (&fixture);
}

/* "@name" is an abstract socket; without WATCHDOG_USEC there are no pings. */
static void
test_abstract_no_watchdog (void)
{
  Fixture fixture = { 0 };
  g_autofree char *ready = NULL;
  g_autofree char *more = NULL;

  fixture_setup (&fixture, TRUE);
  start_natterd (&fixture, NULL);

  ready = receive (&fixture, 30000);
  g_assert_nonnull (ready);
  g_assert_true (g_str_has_prefix (ready, "READY=1\n"));
  more = receive (&fixture, 1000);
  g_assert_null (more);

  stop_natterd (&fixture);
  fixture_teardown (&fixture);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/server/notify/lifecycle", test_lifecycle);
  g_test_add_func ("/server/notify/abstract-no-watchdog", test_abstract_no_watchdog);

  return g_test_run ();
}
