/* test-upgrade.c — natterd answers WebSocket upgrades on ws:// itself:
 * a bad upgrade (no key, a wrong version, not an upgrade, headers too
 * large...) gets a clear 400/426/431 and the connection ends; a request
 * that never finishes its headers (a byte at a time, or nothing) is closed
 * at header-timeout and counted; what is not an upgrade to /ws still goes
 * to natterd's HTTP server on the same port; and through all of it natterd
 * keeps serving
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-test-client.h"

#include <string.h>

#define GOOD_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define GOOD_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static GSocket *
raw_connect (NatterTestServer *server)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, natter_test_server_get_port (server));
  g_autoptr(GError) error = NULL;
  GSocket *socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);

  g_assert_no_error (error);
  g_socket_set_timeout (socket, 10);
  g_socket_connect (socket, address, NULL, &error);
  g_assert_no_error (error);
  return socket;
}

static void
raw_send (GSocket    *socket,
          const char *data,
          gsize       length)
{
  g_autoptr(GError) error = NULL;
  gsize sent = 0;

  while (sent < length)
    {
      gssize n = g_socket_send (socket, data + sent, length - sent, NULL, &error);

      g_assert_no_error (error);
      sent += (gsize) n;
    }
}

/* Everything natterd sends until it closes the connection; NULL if it did
 * not close it within the socket's timeout. */
static char *
read_to_end (GSocket *socket)
{
  g_autoptr(GString) answer = g_string_new (NULL);

  for (;;)
    {
      char buffer[4096];
      g_autoptr(GError) error = NULL;
      gssize n = g_socket_receive (socket, buffer, sizeof buffer, NULL, &error);

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        return NULL;
      if (n <= 0)
        break;  /* the end (or a reset after it) */
      g_string_append_len (answer, buffer, n);
    }
  return g_string_free (g_steal_pointer (&answer), FALSE);
}

/* The response head only (up to the blank line). */
static char *
read_head (GSocket *socket)
{
  g_autoptr(GString) head = g_string_new (NULL);

  while (!g_str_has_suffix (head->str, "\r\n\r\n"))
    {
      char c;
      g_autoptr(GError) error = NULL;
      gssize n = g_socket_receive (socket, &c, 1, NULL, &error);

      g_assert_no_error (error);
      if (n <= 0)
        break;
      g_string_append_c (head, c);
    }
  return g_string_free (g_steal_pointer (&head), FALSE);
}

static void
assert_still_serving (NatterTestServer *server,
                      const char       *user)
{
  g_autoptr(NatterTestClient) client = natter_test_client_new_user (server, user, "d1");

  g_assert_nonnull (client);
}

typedef struct
{
  const char *what;
  const char *request;
  const char *status;
  const char *text;      /* in the answer (head or body) */
} BadUpgrade;

static void
test_bad_upgrades (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autofree char *huge = NULL;
  g_autofree char *padding = g_strnfill (16 * 1024, 'x');
  BadUpgrade cases[] = {
    { "missing key",
      "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: natter.v2\r\n\r\n",
      "HTTP/1.1 400", "Missing Sec-WebSocket-Key" },
    { "short key",
      "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: natter.v2\r\n\r\n",
      "HTTP/1.1 400", "Invalid Sec-WebSocket-Key" },
    { "two keys",
      "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: " GOOD_KEY "\r\nSec-WebSocket-Key: " GOOD_KEY "\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: natter.v2\r\n\r\n",
      "HTTP/1.1 400", "More than one Sec-WebSocket-Key" },
    { "wrong version",
      "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: " GOOD_KEY "\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Protocol: natter.v2\r\n\r\n",
      "HTTP/1.1 426", "Sec-WebSocket-Version: 13" },
    { "no version",
      "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: " GOOD_KEY "\r\nSec-WebSocket-Protocol: natter.v2\r\n\r\n",
      "HTTP/1.1 426", "Unsupported WebSocket version (none)" },
    { "not an upgrade",
      "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n",
      "HTTP/1.1 426", "Upgrade: websocket" },
    { "HTTP/1.0",
      "GET /ws HTTP/1.0\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: " GOOD_KEY "\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: natter.v2\r\n\r\n",
      "HTTP/1.1 400", "needs HTTP/1.1" },
    { "no host",
      "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: " GOOD_KEY "\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: natter.v2\r\n\r\n",
      "HTTP/1.1 400", "Missing Host" },
    { "folded header",
      "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n  , more\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: " GOOD_KEY "\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: natter.v2\r\n\r\n",
      "HTTP/1.1 400", "Malformed header" },
    { "oversized headers", NULL, "HTTP/1.1 431", "too large" },
  };

  huge = g_strdup_printf ("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "X-Padding: %s\r\n"
                          "Sec-WebSocket-Key: " GOOD_KEY "\r\nSec-WebSocket-Version: 13\r\n"
                          "Sec-WebSocket-Protocol: natter.v2\r\n\r\n", padding);
  cases[G_N_ELEMENTS (cases) - 1].request = huge;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GSocket) socket = raw_connect (server);
      g_autofree char *answer = NULL;

      raw_send (socket, cases[i].request, strlen (cases[i].request));
      answer = read_to_end (socket);
      g_test_message ("%s: %s", cases[i].what, answer != NULL ? answer : "(still open)");
      /* Answered, and the connection ends: nothing is left open. */
      g_assert_nonnull (answer);
      g_assert_true (g_str_has_prefix (answer, cases[i].status));
      g_assert_nonnull (strstr (answer, cases[i].text));
      g_assert_nonnull (strstr (answer, "Connection: close"));
    }

  /* A NUL byte in a header line: strings end there, and the parse once
   * ran past the line's end (natter-fuzz-upgrade found it). */
  {
    g_autoptr(GSocket) socket = raw_connect (server);
    static const char request[] = "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: web\0socket\r\n"
                                  "Connection: Upgrade\r\nSec-WebSocket-Key: " GOOD_KEY "\r\n"
                                  "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: natter.v2\r\n\r\n";
    g_autofree char *answer = NULL;

    raw_send (socket, request, sizeof request - 1);
    answer = read_to_end (socket);
    g_assert_nonnull (answer);
    g_assert_true (g_str_has_prefix (answer, "HTTP/1.1 400"));
    g_assert_nonnull (strstr (answer, "NUL byte"));
  }

  /* The good request on a bare socket: RFC 6455's example answer. */
  {
    g_autoptr(GSocket) socket = raw_connect (server);
    const char *request = "GET /ws?v=1 HTTP/1.1\r\nHost: a\r\nUpgrade: WebSocket\r\n"
                          "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: " GOOD_KEY "\r\n"
                          "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat\r\n"
                          "Sec-WebSocket-Protocol: natter.v2\r\n\r\n";
    g_autofree char *head = NULL;

    raw_send (socket, request, strlen (request));
    head = read_head (socket);
    g_assert_true (g_str_has_prefix (head, "HTTP/1.1 101"));
    g_assert_nonnull (strstr (head, "Sec-WebSocket-Accept: " GOOD_ACCEPT "\r\n"));
    g_assert_nonnull (strstr (head, "Sec-WebSocket-Protocol: natter.v2\r\n"));
  }

  assert_still_serving (server, "alice");
}

/* Requests that never finish their headers, a byte every 300 ms or none
 * at all, are closed at header-timeout (2 s here) and counted, while a
 * client connects and /metrics answers in the meantime. */
#define N_SLOW 20

static void
test_slowloris (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new_full ("[server]\nheader-timeout=2\n", NULL);
  const char *start = "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nX-Slow: ";
  GSocket *slow[N_SLOW];
  GSocket *silent[N_SLOW];
  gint64 opened = g_get_monotonic_time ();
  gint64 closed_by = 0;
  guint64 timeouts_before = natter_test_server_get_metric (server, "natterd_http_timeouts_total{timeout=\"header\"}");
  gboolean all_closed = FALSE;

  for (guint i = 0; i < N_SLOW; i++)
    {
      slow[i] = raw_connect (server);
      silent[i] = raw_connect (server);
      g_socket_set_blocking (slow[i], FALSE);
      g_socket_set_blocking (silent[i], FALSE);
      raw_send (slow[i], start, strlen (start));
    }

  /* Meanwhile natterd serves. */
  assert_still_serving (server, "alice");
  g_assert_cmpuint (natter_test_server_get_metric (server, "natterd_http_connections"), >=, 2 * N_SLOW);

  while (!all_closed && g_get_monotonic_time () - opened < 10 * G_USEC_PER_SEC)
    {
      all_closed = TRUE;
      for (guint i = 0; i < N_SLOW; i++)
        {
          GSocket *pair[2] = { slow[i], silent[i] };

          for (guint j = 0; j < 2; j++)
            {
              char byte = 'a';
              char buffer[256];
              gssize n;

              if (pair[j] == NULL)
                continue;
              n = g_socket_receive (pair[j], buffer, sizeof buffer, NULL, NULL);
              if (n == 0 || (n < 0 && !g_socket_condition_check (pair[j], G_IO_OUT)))
                {
                  g_clear_object (j == 0 ? &slow[i] : &silent[i]);
                  closed_by = g_get_monotonic_time ();
                  continue;
                }
              g_assert_cmpint (n, <, 0);  /* nothing is answered to half a request */
              if (j == 0)
                g_socket_send (pair[j], &byte, 1, NULL, NULL);
              all_closed = FALSE;
            }
        }
      g_usleep (300 * 1000);
    }

  g_test_message ("closed after %" G_GINT64_FORMAT " ms", (closed_by - opened) / 1000);
  g_assert_true (all_closed);
  /* Not before the timeout, not long after it (the sweep is precise to
   * the millisecond, the test's polling to 300 ms). */
  g_assert_cmpint (closed_by - opened, >=, 2 * G_USEC_PER_SEC - 100 * 1000);
  g_assert_cmpint (closed_by - opened, <, 5 * G_USEC_PER_SEC);
  g_assert_cmpuint (natter_test_server_get_metric (server, "natterd_http_timeouts_total{timeout=\"header\"}") -
                    timeouts_before, >=, 2 * N_SLOW);
  assert_still_serving (server, "bob");
}

/* The same port serves HTTP: what is not an upgrade to /ws goes to
 * natterd's HTTP server, a kept-alive connection included. */
static void
test_http_on_the_same_port (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(GSocket) socket = raw_connect (server);
  const char *requests = "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n";
  const char *last = "GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
  g_autofree char *head = NULL;
  g_autofree char *rest = NULL;

  raw_send (socket, requests, strlen (requests));
  head = read_head (socket);
  g_assert_true (g_str_has_prefix (head, "HTTP/1.1 200"));
  g_assert_cmpuint (natter_test_server_get_metric (server, "natterd_connections"), ==, 0);

  /* The same connection, once more: libsoup has it, not the upgrade path. */
  raw_send (socket, last, strlen (last));
  rest = read_to_end (socket);
  g_assert_nonnull (rest);
  g_assert_nonnull (strstr (rest, "HTTP/1.1 200"));
  g_assert_nonnull (strstr (rest, "natterd_http_connections"));
  assert_still_serving (server, "alice");
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/server/upgrade/bad-upgrades", test_bad_upgrades);
  g_test_add_func ("/server/upgrade/slowloris", test_slowloris);
  g_test_add_func ("/server/upgrade/http-on-the-same-port", test_http_on_the_same_port);

  return g_test_run ();
}
