/* test-slow-clients.c — clients that send half a request a byte a second,
 * or nothing at all, are closed after [server] header-timeout (a stalled
 * upload after body-timeout, an idle kept-alive connection after
 * header-timeout) while /metrics answers and WebSocket clients connect and
 * send, over http and https; connections beyond what the open-file limit
 * allows are closed at once and service comes back when they are gone
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-test-client.h"

#include <libsoup/soup.h>
#include <string.h>
#include <sys/resource.h>

#define N_SLOW 30
#define N_SILENT 30

typedef enum {
  SILENT,          /* connects, sends nothing (no TLS handshake either) */
  SILENT_TLS,      /* completes the TLS handshake, then sends nothing */
  SLOW,            /* a request that never ends, a byte a second */
  STALLED_UPLOAD,  /* full headers, a little of a long body, then nothing */
  STALLED_DOWNLOAD, /* asks for a big file and does not read it (for a while) */
  KEPT_ALIVE,      /* one whole request, then nothing on the same connection */
} Kind;

typedef struct
{
  Kind               kind;
  GSocketConnection *tcp;
  GIOStream         *stream;       /* tcp, or TLS over it */
  GCancellable      *cancellable;
  guint8             buffer[4096];
  char              *request;      /* what is trickled (SLOW) */
  gsize              sent;
  guint              timer;
  gint64             opened;       /* monotonic µs */
  gint64             stalled;      /* the last byte sent */
  gint64             closed;       /* 0 while open */
  gsize              received;     /* bytes natterd answered */
  GString           *answer;       /* their start */
} Attacker;

/* Only ever our own natterd on loopback, with the test's certificate. */
static gboolean
accept_certificate (GTlsConnection       *connection,
                    GTlsCertificate      *certificate,
                    GTlsCertificateFlags  errors,
                    gpointer              user_data)
{
  return TRUE;
}

static gboolean
accept_message_certificate (SoupMessage          *message,
                            GTlsCertificate      *certificate,
                            GTlsCertificateFlags  errors,
                            gpointer              user_data)
{
  return TRUE;
}

static void read_more (Attacker *self);

static void
read_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  Attacker *self = user_data;
  g_autoptr(GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (object), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (n <= 0)
    {
      /* End of stream or reset: natterd closed it. */
      self->closed = g_get_monotonic_time ();
      g_clear_handle_id (&self->timer, g_source_remove);
      return;
    }
  self->received += (gsize) n;
  if (self->answer->len < 4096)
    g_string_append_len (self->answer, (const char *) self->buffer, n);
  read_more (self);
}

static void
read_more (Attacker *self)
{
  g_input_stream_read_async (g_io_stream_get_input_stream (self->stream), self->buffer,
                             sizeof self->buffer, G_PRIORITY_DEFAULT, self->cancellable, read_cb,
                             self);
}

static void
send_now (Attacker   *self,
          const void *data,
          gsize       size)
{
  /* Small writes to a loopback socket with room: they go at once. Once
   * natterd shut the connection they may fail; the read notices. */
  g_output_stream_write_all (g_io_stream_get_output_stream (self->stream), data, size, NULL,
                             NULL, NULL);
  self->stalled = g_get_monotonic_time ();
}

static gboolean
trickle (gpointer user_data)
{
  Attacker *self = user_data;
  char next = self->request[self->sent] != '\0' ? self->request[self->sent++] : 'a';

  if (self->closed != 0)
    {
      self->timer = 0;
      return G_SOURCE_REMOVE;
    }
  send_now (self, &next, 1);
  return G_SOURCE_CONTINUE;
}

static Attacker *
attacker_new (NatterTestServer *server,
              Kind              kind,
              gboolean          tls,
              const char       *token)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GError) error = NULL;
  Attacker *self = g_new0 (Attacker, 1);

  self->kind = kind;
  self->cancellable = g_cancellable_new ();
  self->answer = g_string_new (NULL);
  self->opened = g_get_monotonic_time ();
  self->tcp = g_socket_client_connect_to_host (client, "127.0.0.1",
                                               natter_test_server_get_port (server), NULL, &error);
  g_assert_no_error (error);

  if (tls && kind != SILENT)
    {
      self->stream = g_tls_client_connection_new (G_IO_STREAM (self->tcp), NULL, &error);
      g_assert_no_error (error);
      g_signal_connect (self->stream, "accept-certificate", G_CALLBACK (accept_certificate), NULL);
      g_assert_true (g_tls_connection_handshake (G_TLS_CONNECTION (self->stream), NULL, &error));
      g_assert_no_error (error);
    }
  else
    {
      self->stream = g_object_ref (G_IO_STREAM (self->tcp));
    }

  switch (kind)
    {
    case SLOW:
      self->request = g_strdup ("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
      trickle (self);
      self->timer = g_timeout_add (1000, trickle, self);
      break;

    case STALLED_UPLOAD:
      {
        g_autofree char *head = g_strdup_printf ("POST /media/upload?name=big.bin HTTP/1.1\r\n"
                                                 "Host: 127.0.0.1\r\n"
                                                 "Authorization: Bearer %s\r\n"
                                                 "Content-Type: application/octet-stream\r\n"
                                                 "Content-Length: 1000000\r\n\r\n", token);
        char body[1000];

        memset (body, 'x', sizeof body);
        send_now (self, head, strlen (head));
        send_now (self, body, sizeof body);
      }
      break;

    case KEPT_ALIVE:
      {
        const char *request = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

        send_now (self, request, strlen (request));
      }
      break;

    case STALLED_DOWNLOAD:
      {
        /* @token is "PATH TOKEN" here. */
        g_auto(GStrv) parts = g_strsplit (token, " ", 2);
        g_autofree char *request = g_strdup_printf ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                                    "Authorization: Bearer %s\r\n\r\n",
                                                    parts[0], parts[1]);

        send_now (self, request, strlen (request));
      }
      return self;  /* not read from until the test says */

    case SILENT:
    case SILENT_TLS:
    default:
      break;
    }

  read_more (self);
  return self;
}

static void
attacker_free (gpointer data)
{
  Attacker *self = data;

  g_clear_handle_id (&self->timer, g_source_remove);
  g_cancellable_cancel (self->cancellable);
  /* Let the cancelled read finish before its buffer goes. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_io_stream_close (G_IO_STREAM (self->tcp), NULL, NULL);
  g_object_unref (self->stream);
  g_object_unref (self->tcp);
  g_object_unref (self->cancellable);
  g_free (self->request);
  g_string_free (self->answer, TRUE);
  g_free (self);
}

static gboolean
all_closed (gpointer data)
{
  GPtrArray *attackers = data;

  for (guint i = 0; i < attackers->len; i++)
    if (((Attacker *) g_ptr_array_index (attackers, i))->closed == 0)
      return FALSE;
  return TRUE;
}

static gboolean
never (gpointer data)
{
  return FALSE;
}

/* More than loopback's socket buffers hold, both ends together. */
#define BIG_FILE (16 * 1024 * 1024)

/* Uploads @data as @token's user; returns the path to download it. */
static char *
upload (NatterTestServer *server,
        const char       *token,
        GBytes           *data)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autofree char *url = g_strdup_printf ("%s/media/upload?name=big.bin", natter_test_server_get_url (server));
  g_autoptr(SoupMessage) message = soup_message_new ("POST", url);
  g_autofree char *authorization = g_strconcat ("Bearer ", token, NULL);
  g_autoptr(GBytes) body = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GUri) uri = NULL;
  g_autoptr(GError) error = NULL;

  g_signal_connect (message, "accept-certificate", G_CALLBACK (accept_message_certificate), NULL);
  soup_message_headers_append (soup_message_get_request_headers (message), "Authorization", authorization);
  soup_message_set_request_body_from_bytes (message, "application/octet-stream", data);
  body = soup_session_send_and_read (session, message, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (message), ==, 200);
  json_parser_load_from_data (parser, g_bytes_get_data (body, NULL), (gssize) g_bytes_get_size (body), &error);
  g_assert_no_error (error);
  uri = g_uri_parse (json_object_get_string_member (json_node_get_object (json_parser_get_root (parser)), "url"),
                     G_URI_FLAGS_NONE, &error);
  g_assert_no_error (error);
  return g_strdup (g_uri_get_path (uri));
}

static gboolean
got_answer (gpointer data)
{
  return ((Attacker *) data)->received > 0;
}

static guint
count_open (GPtrArray *attackers)
{
  guint n = 0;

  for (guint i = 0; i < attackers->len; i++)
    if (((Attacker *) g_ptr_array_index (attackers, i))->closed == 0)
      n++;
  return n;
}

/* While the attackers hold their connections: /metrics answers at once,
 * and two WebSocket clients connect and exchange a message. */
static void
assert_serving (NatterTestServer *server,
                GPtrArray        *attackers,
                const char       *sender,
                const char       *receiver)
{
  g_autoptr(NatterTestClient) alice = NULL;
  g_autoptr(NatterTestClient) bob = NULL;
  g_autoptr(NatterFrame) ack = NULL;
  g_autoptr(NatterFrame) deliver = NULL;
  gint64 start = g_get_monotonic_time ();
  guint64 open = natter_test_server_get_metric (server, "natterd_http_connections");
  gint64 took = g_get_monotonic_time () - start;

  g_test_message ("/metrics answered in %" G_GINT64_FORMAT " ms with %" G_GUINT64_FORMAT
                  " connections open", took / 1000, open);
  g_assert_cmpint (took, <, 2 * G_USEC_PER_SEC);
  /* The attack is really on: natterd holds every attacker's connection. */
  g_assert_cmpuint (count_open (attackers), ==, attackers->len);
  g_assert_cmpuint (open, >=, attackers->len);

  alice = natter_test_client_new_user (server, sender, "d1");
  bob = natter_test_client_new_user (server, receiver, "d1");
  ack = natter_test_client_send_message (alice, 1, receiver, "RC:TxtMsg", "{\"content\":\"still here\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);
  deliver = natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
  g_assert_nonnull (deliver);
  g_assert_cmpstr (deliver->deliver->message->message_uid, ==, ack->publish_ack->message_uid);
  g_assert_cmpuint (count_open (attackers), ==, attackers->len);
}

/* Every attacker closed no sooner than @timeout s after it went quiet
 * (opened, for those whose deadline counts from the accept) and within
 * @bound s. */
static void
assert_closed_in_time (GPtrArray *attackers,
                       guint      timeout,
                       guint      bound)
{
  gint64 earliest = G_MAXINT64, latest = 0;

  g_assert_true (natter_test_wait (all_closed, attackers, bound * 1000));
  for (guint i = 0; i < attackers->len; i++)
    {
      Attacker *a = g_ptr_array_index (attackers, i);
      gint64 from = a->kind == STALLED_UPLOAD || a->kind == KEPT_ALIVE ? a->stalled : a->opened;
      gint64 after = a->closed - from;

      earliest = MIN (earliest, after);
      latest = MAX (latest, a->closed - a->opened);
      g_assert_cmpint (after, >=, (gint64) timeout * G_USEC_PER_SEC - G_USEC_PER_SEC / 2);
      g_assert_cmpint (a->closed - a->opened, <=, (gint64) bound * G_USEC_PER_SEC);
    }
  g_test_message ("%u connections closed %.1f to %.1f s after they went quiet (timeout %u s, bound %u s)",
                  attackers->len, earliest / 1e6, latest / 1e6, timeout, bound);
}

static void
attack (NatterTestServer *server,
        GPtrArray        *attackers,
        gboolean          tls)
{
  for (guint i = 0; i < N_SLOW; i++)
    g_ptr_array_add (attackers, attacker_new (server, SLOW, tls, NULL));
  for (guint i = 0; i < N_SILENT; i++)
    g_ptr_array_add (attackers, attacker_new (server, tls && i % 2 == 1 ? SILENT_TLS : SILENT, tls,
                                              NULL));
}

/* The bar with the defaults: header-timeout 10 s, 30 slow and 30 silent
 * clients all gone within 45 s. */
static void
test_default_timeout (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(GPtrArray) attackers = g_ptr_array_new_with_free_func (attacker_free);
  guint64 before = natter_test_server_get_metric (server, "natterd_http_timeouts_total{timeout=\"header\"}");

  attack (server, attackers, FALSE);
  natter_test_wait (never, NULL, 2000);
  assert_serving (server, attackers, "alice", "bob");

  assert_closed_in_time (attackers, 10, 45);
  g_assert_cmpuint (natter_test_server_get_metric (server, "natterd_http_timeouts_total{timeout=\"header\"}"),
                    >=, before + N_SLOW + N_SILENT);
}

/* Lower timeouts, and the other ways to hold a connection: an upload that
 * stalls (body-timeout) and an idle kept-alive connection (header-timeout
 * again). Over http and https. */
static void
test_lower_timeouts (gconstpointer data)
{
  gboolean tls = GPOINTER_TO_INT (data);
  /* TLS handshakes of 60 clients take a while on a busy machine: the
   * deadline counts from each accept, so they all must be up before. */
  guint header_timeout = tls ? 6 : 3;
  guint body_timeout = 3;
  g_autofree char *config = g_strdup_printf ("[server]\nheader-timeout=%u\nbody-timeout=%u\n",
                                             header_timeout, body_timeout);
  g_autoptr(NatterTestServer) server = tls ? natter_test_server_new_tls (config, NULL) :
                                             natter_test_server_new_full (config, NULL);
  g_autoptr(GPtrArray) attackers = g_ptr_array_new_with_free_func (attacker_free);
  g_autoptr(GPtrArray) uploads = g_ptr_array_new_with_free_func (attacker_free);
  g_autoptr(GPtrArray) kept = g_ptr_array_new_with_free_func (attacker_free);
  g_autofree char *token = natter_test_server_get_token (server, "uploader");
  guint64 body_before = natter_test_server_get_metric (server, "natterd_http_timeouts_total{timeout=\"body\"}");
  Attacker *idle;

  attack (server, attackers, tls);
  natter_test_wait (never, NULL, 500);
  assert_serving (server, attackers, "carol", "dave");
  assert_closed_in_time (attackers, header_timeout, header_timeout * 9 / 2);

  g_ptr_array_add (uploads, attacker_new (server, STALLED_UPLOAD, tls, token));
  idle = attacker_new (server, KEPT_ALIVE, tls, NULL);
  g_ptr_array_add (kept, idle);
  /* The kept-alive one gets its answer; its quiet time starts there. */
  g_assert_true (natter_test_wait (got_answer, idle, NATTER_TEST_TIMEOUT_MS));
  idle->stalled = g_get_monotonic_time ();

  if (tls)
    {
      /* Over https every answer closes its connection. */
      g_assert_true (natter_test_wait (all_closed, kept, NATTER_TEST_TIMEOUT_MS));
      g_assert_nonnull (strstr (idle->answer->str, "Connection: close"));
    }
  else
    {
      assert_closed_in_time (kept, header_timeout, header_timeout * 9 / 2);
    }
  assert_closed_in_time (uploads, body_timeout, body_timeout * 9 / 2);
  g_assert_cmpuint (natter_test_server_get_metric (server, "natterd_http_timeouts_total{timeout=\"body\"}"),
                    ==, body_before + 1);

  /* A download nobody reads: natterd's writes stall once the socket
   * buffers are full, and body-timeout later the rest is not sent. */
  {
    g_autoptr(GBytes) big = g_bytes_new_take (g_malloc0 (BIG_FILE), BIG_FILE);
    g_autofree char *path = upload (server, token, big);
    g_autofree char *what = g_strdup_printf ("%s %s", path, token);
    Attacker *reader = attacker_new (server, STALLED_DOWNLOAD, tls, what);

    g_ptr_array_add (uploads, reader);
    natter_test_wait (never, NULL, (body_timeout + 2) * 1000);
    read_more (reader);
    g_assert_true (natter_test_wait (all_closed, uploads, NATTER_TEST_TIMEOUT_MS));
    g_test_message ("a reader that stalled got %" G_GSIZE_FORMAT " of %d bytes", reader->received, BIG_FILE);
    g_assert_cmpuint (reader->received, <, BIG_FILE);
    g_assert_cmpuint (natter_test_server_get_metric (server, "natterd_http_timeouts_total{timeout=\"body\"}"),
                      ==, body_before + 2);
  }
}

/* libsoup 3.2 kept every kept-alive connection its client closed (a
 * descriptor in CLOSE-WAIT and the connection, for ever): 40 clients that
 * each make a request and go leave nothing behind. */
static void
test_closed_keep_alive (gconstpointer data)
{
  gboolean tls = GPOINTER_TO_INT (data);
  g_autoptr(NatterTestServer) server = tls ? natter_test_server_new_tls (NULL, NULL) :
                                             natter_test_server_new_full (NULL, NULL);
  guint64 before, after;

  natter_test_wait (never, NULL, 1200);
  before = natter_test_server_get_metric (server, "process_open_fds");
  for (guint i = 0; i < 40; i++)
    natter_test_server_get_metric (server, "natterd_http_connections");
  natter_test_wait (never, NULL, 1200);
  after = natter_test_server_get_metric (server, "process_open_fds");
  g_test_message ("natterd's descriptors: %" G_GUINT64_FORMAT " before, %" G_GUINT64_FORMAT " after",
                  before, after);
  g_assert_cmpuint (after, <=, before + 2);
  g_assert_cmpuint (natter_test_server_get_metric (server, "natterd_http_connections"), <=, 2);
}

/* With a low open-file limit natterd raises its soft limit to the hard one,
 * derives how many connections it takes from it, and closes any beyond at
 * once (instead of running out of descriptors, which ends libsoup's
 * accepting for good); once the held ones time out it serves again. */
static void
test_connection_limit (void)
{
  struct rlimit saved, low = { 300, 400 };
  g_autoptr(NatterTestServer) server = NULL;
  g_autoptr(GPtrArray) attackers = g_ptr_array_new_with_free_func (attacker_free);
  g_autoptr(NatterTestClient) alice = NULL;
  guint max, refused = 0, held = 0;
  guint64 fds;

  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &saved), ==, 0);
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &low), ==, 0);
  server = natter_test_server_new_full ("[server]\nheader-timeout=3\n", NULL);
  /* Back up (root may raise the hard limit again; others keep 400). */
  setrlimit (RLIMIT_NOFILE, &saved);

  fds = natter_test_server_get_metric (server, "process_max_fds");
  max = (guint) natter_test_server_get_metric (server, "natterd_max_http_connections");
  g_test_message ("open-file limit %" G_GUINT64_FORMAT ", %u connections", fds, max);
  g_assert_cmpuint (fds, ==, 400);                /* soft raised to hard */
  g_assert_cmpuint (max, ==, (400 - 256) / 2);
  g_assert_cmpuint (natter_test_server_get_metric (server, "natterd_max_connections"), ==, max);

  /* The metrics connections are forgotten within the sweep's second. */
  natter_test_wait (never, NULL, 1500);
  for (guint i = 0; i < max + 10; i++)
    g_ptr_array_add (attackers, attacker_new (server, SILENT, FALSE, NULL));
  natter_test_wait (never, NULL, 1500);

  for (guint i = 0; i < attackers->len; i++)
    {
      Attacker *a = g_ptr_array_index (attackers, i);

      if (a->closed == 0)
        held++;
      else if (a->closed - a->opened < G_USEC_PER_SEC)
        refused++;
    }
  g_test_message ("%u held, %u closed at once", held, refused);
  g_assert_cmpuint (refused, >=, 10);
  g_assert_cmpuint (held, >=, max - 2);
  g_assert_cmpuint (held + refused, ==, attackers->len);

  /* Once the held ones are gone, natterd accepts again. */
  g_assert_true (natter_test_wait (all_closed, attackers, 10000));
  natter_test_wait (never, NULL, 1500);
  alice = natter_test_client_new_user (server, "alice", "a1");
  g_assert_cmpuint (natter_test_server_get_metric (server, "natterd_connections_over_limit_total"),
                    >=, refused);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/server/slow-clients/default-timeout", test_default_timeout);
  g_test_add_data_func ("/server/slow-clients/lower-timeouts", GINT_TO_POINTER (FALSE),
                        test_lower_timeouts);
  g_test_add_data_func ("/server/slow-clients/tls-lower-timeouts", GINT_TO_POINTER (TRUE),
                        test_lower_timeouts);
  g_test_add_data_func ("/server/slow-clients/closed-keep-alive", GINT_TO_POINTER (FALSE),
                        test_closed_keep_alive);
  g_test_add_data_func ("/server/slow-clients/tls-closed-keep-alive", GINT_TO_POINTER (TRUE),
                        test_closed_keep_alive);
  /* Last: it lowers this process's open-file limit. */
  g_test_add_func ("/server/slow-clients/connection-limit", test_connection_limit);

  return g_test_run ();
}
