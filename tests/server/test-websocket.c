/* test-websocket.c — natterd's own WebSocket framing (natterd-socket.c),
 * spoken byte by byte over TCP (and over TLS, for wss://): masking,
 * fragmentation, control frames, the close handshake, protocol errors,
 * back-pressure and bounded memory
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-test-client.h"

#include <libsoup/soup.h>
#include <string.h>

typedef struct
{
  GSocketConnection *connection;
  GIOStream         *tls;          /* over connection, for https servers */
  GInputStream      *in;
  GOutputStream     *out;
} Raw;

/* Only ever our own natterd on loopback, with the test's certificate. */
static gboolean
accept_test_certificate (GTlsConnection       *connection,
                         GTlsCertificate      *certificate,
                         GTlsCertificateFlags  errors,
                         gpointer              user_data)
{
  return TRUE;
}

static NatterTestServer *
new_server (gboolean            tls,
            const char         *config,
            const char * const *create_app_args)
{
  return tls ? natter_test_server_new_tls (config, create_app_args) :
               natter_test_server_new_full (config, create_app_args);
}

/* What natterd may hold for one connection, whatever its peer does: its
 * bounded queues and buffers, and slack for the allocator. libsoup's
 * WebSocket (which wss:// used to go through) held everything. */
#define MEMORY_BOUND (12 * 1024 * 1024)

static void
assert_memory_bounded (NatterTestServer *server,
                       guint64           before)
{
  guint64 peak = natter_test_server_get_peak_rss (server);

  if (!natter_test_memory_is_measured ())
    return;

  g_test_message ("natterd peak RSS %" G_GUINT64_FORMAT " KiB over %" G_GUINT64_FORMAT " KiB",
                  (peak - MIN (peak, before)) / 1024, before / 1024);
  g_assert_cmpuint (peak, <, before + MEMORY_BOUND);
}

static void
raw_write (Raw          *raw,
           const guint8 *data,
           gsize         length)
{
  g_autoptr(GError) error = NULL;

  g_output_stream_write_all (raw->out, data, length, NULL, NULL, &error);
  g_assert_no_error (error);
}

static void
raw_read (Raw    *raw,
          guint8 *data,
          gsize   length)
{
  g_autoptr(GError) error = NULL;
  gsize got = 0;

  if (length == 0)
    return;
  g_input_stream_read_all (raw->in, data, length, &got, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (got, ==, length);
}

static Raw *
raw_open (NatterTestServer *server)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *request = NULL;
  g_autoptr(GString) reply = g_string_new (NULL);
  Raw *raw = g_new0 (Raw, 1);

  raw->connection = g_socket_client_connect_to_host (client, "127.0.0.1", natter_test_server_get_port (server),
                                                      NULL, &error);
  g_assert_no_error (error);
  if (g_str_has_prefix (natter_test_server_get_url (server), "https:"))
    {
      g_autoptr(GSocketConnectable) identity = g_network_address_new ("127.0.0.1",
                                                                       natter_test_server_get_port (server));

      raw->tls = g_tls_client_connection_new (G_IO_STREAM (raw->connection), identity, &error);
      g_assert_no_error (error);
      g_signal_connect (raw->tls, "accept-certificate", G_CALLBACK (accept_test_certificate), NULL);
      g_tls_connection_handshake (G_TLS_CONNECTION (raw->tls), NULL, &error);
      g_assert_no_error (error);
    }
  raw->in = g_io_stream_get_input_stream (raw->tls != NULL ? raw->tls : G_IO_STREAM (raw->connection));
  raw->out = g_io_stream_get_output_stream (raw->tls != NULL ? raw->tls : G_IO_STREAM (raw->connection));

  request = g_strdup_printf ("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                             "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                             "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: natter.v2\r\n\r\n");
  raw_write (raw, (const guint8 *) request, strlen (request));

  /* Read the 101 response up to the blank line. */
  while (!g_str_has_suffix (reply->str, "\r\n\r\n"))
    {
      guint8 c;

      raw_read (raw, &c, 1);
      g_string_append_c (reply, (char) c);
    }
  g_assert_true (g_str_has_prefix (reply->str, "HTTP/1.1 101"));
  /* RFC 6455's example key and answer. */
  g_assert_nonnull (strstr (reply->str, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
  return raw;
}

/* Closes TCP at once (over TLS too, as most clients do: no close_notify
 * that could wait for a server not reading). */
static void
raw_free (Raw *raw)
{
  g_io_stream_close (G_IO_STREAM (raw->connection), NULL, NULL);
  g_clear_object (&raw->tls);
  g_object_unref (raw->connection);
  g_free (raw);
}

static void
send_frame (Raw          *raw,
            guint8        first,
            const guint8 *payload,
            gsize         length,
            gboolean      masked)
{
  g_autoptr(GByteArray) frame = g_byte_array_new ();
  const guint8 mask[4] = { 0x12, 0x34, 0x56, 0x78 };
  guint8 header[2] = { first, (guint8) ((masked ? 0x80 : 0) | (length < 126 ? length : 126)) };

  g_byte_array_append (frame, header, 2);
  if (length >= 126)
    {
      guint8 extended[2] = { (guint8) (length >> 8), (guint8) length };
      g_assert_cmpuint (length, <=, G_MAXUINT16);
      g_byte_array_append (frame, extended, 2);
    }
  if (masked)
    g_byte_array_append (frame, mask, 4);
  for (gsize i = 0; i < length; i++)
    {
      guint8 b = payload[i] ^ (masked ? mask[i & 3] : 0);
      g_byte_array_append (frame, &b, 1);
    }
  raw_write (raw, frame->data, frame->len);
}

/* Reads one server frame; returns its opcode and payload. */
static guint8
read_frame (Raw         *raw,
            GByteArray **payload)
{
  guint8 header[2];
  guint64 length;

  raw_read (raw, header, 2);
  g_assert_true (header[0] & 0x80);          /* servers do not fragment */
  g_assert_false (header[1] & 0x80);         /* nor mask */
  length = header[1] & 0x7F;
  if (length == 126)
    {
      guint8 extended[2];
      raw_read (raw, extended, 2);
      length = (guint64) extended[0] << 8 | extended[1];
    }
  else if (length == 127)
    {
      guint8 extended[8];
      raw_read (raw, extended, 8);
      length = 0;
      for (int i = 0; i < 8; i++)
        length = length << 8 | extended[i];
    }
  *payload = g_byte_array_sized_new ((guint) length);
  g_byte_array_set_size (*payload, (guint) length);
  raw_read (raw, (*payload)->data, (gsize) length);
  return header[0] & 0x0F;
}

static GBytes *
connect_frame (NatterTestServer *server,
               const char       *token)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__Connect connect = NATTER__CONNECT__INIT;

  connect.app_key = (char *) natter_test_server_get_app_key (server);
  connect.token = (char *) token;
  connect.device_id = (char *) "raw";
  frame.body_case = NATTER__FRAME__BODY_CONNECT;
  frame.connect = &connect;
  return natter_frame_encode (&frame, NULL);
}

/* Reads one binary frame of natterd's and decodes it; asserts its kind. */
static NatterFrame *
read_server_frame (Raw                     *raw,
                   Natter__Frame__BodyCase  body)
{
  g_autoptr(GByteArray) payload = NULL;
  NatterFrame *frame;

  g_assert_cmpint (read_frame (raw, &payload), ==, 0x2);
  frame = natter_frame_decode (payload->data, payload->len, NATTER_PEER_SERVER, NULL);
  g_assert_nonnull (frame);
  g_assert_cmpint (frame->body_case, ==, body);
  return frame;
}

static void
send_client_frame (Raw               *raw,
                   const NatterFrame *frame)
{
  g_autoptr(GBytes) bytes = natter_frame_encode (frame, NULL);
  gsize length;
  const guint8 *data = g_bytes_get_data (bytes, &length);

  send_frame (raw, 0x82, data, length, TRUE);
}

/* Connects as @user_id (device "raw"); asserts natterd accepts. */
static void
raw_connect (Raw              *raw,
             NatterTestServer *server,
             const char       *user_id)
{
  g_autofree char *token = natter_test_server_get_token (server, user_id);
  g_autoptr(GBytes) connect = connect_frame (server, token);
  g_autoptr(NatterFrame) ack = NULL;
  gsize size;
  const guint8 *data = g_bytes_get_data (connect, &size);

  send_frame (raw, 0x82, data, size, TRUE);
  ack = read_server_frame (raw, NATTER__FRAME__BODY_CONNECT_ACK);
  g_assert_cmpint (ack->connect_ack->code, ==, 0);
}

static void
test_fragments_and_control (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autofree char *token = natter_test_server_get_token (server, "alice");
  g_autoptr(GBytes) connect = connect_frame (server, token);
  g_autoptr(GByteArray) payload = NULL;
  g_autoptr(NatterFrame) ack = NULL;
  gsize size;
  const guint8 *data = g_bytes_get_data (connect, &size);
  Raw *raw = raw_open (server);
  guint8 opcode;

  /* A ping before anything: answered with the same payload. */
  send_frame (raw, 0x89, (const guint8 *) "hey", 3, TRUE);
  opcode = read_frame (raw, &payload);
  g_assert_cmpint (opcode, ==, 0xA);
  g_assert_cmpint (memcmp (payload->data, "hey", 3), ==, 0);
  g_clear_pointer (&payload, g_byte_array_unref);

  /* Connect in three fragments, with a ping in the middle. */
  send_frame (raw, 0x02, data, 5, TRUE);
  send_frame (raw, 0x89, NULL, 0, TRUE);
  send_frame (raw, 0x00, data + 5, 10, TRUE);
  send_frame (raw, 0x80, data + 15, size - 15, TRUE);

  opcode = read_frame (raw, &payload);
  g_assert_cmpint (opcode, ==, 0xA);
  g_clear_pointer (&payload, g_byte_array_unref);
  opcode = read_frame (raw, &payload);
  g_assert_cmpint (opcode, ==, 0x2);
  ack = natter_frame_decode (payload->data, payload->len, NATTER_PEER_SERVER, NULL);
  g_assert_nonnull (ack);
  g_assert_cmpint (ack->body_case, ==, NATTER__FRAME__BODY_CONNECT_ACK);
  g_assert_cmpint (ack->connect_ack->code, ==, 0);
  g_clear_pointer (&payload, g_byte_array_unref);

  /* The client closes: the server answers with the same code. */
  {
    const guint8 going_away[2] = { 0x03, 0xE9 };

    send_frame (raw, 0x88, going_away, 2, TRUE);
    opcode = read_frame (raw, &payload);
    g_assert_cmpint (opcode, ==, 0x8);
    g_assert_cmpuint (payload->len, ==, 2);
    g_assert_cmpint (payload->data[0] << 8 | payload->data[1], ==, 1001);
  }
  raw_free (raw);
}

static void
test_protocol_errors (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  struct {
    guint8 first;
    gboolean masked;
    gsize length;
    int code;
  } cases[] = {
    { 0x82, FALSE, 4, 1002 },     /* unmasked */
    { 0xC2, TRUE, 4, 1002 },      /* reserved bit */
    { 0x80, TRUE, 4, 1002 },      /* continuation of nothing */
    { 0x09, TRUE, 0, 1002 },      /* fragmented ping */
    { 0x83, TRUE, 4, 1002 },      /* reserved opcode */
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Raw *raw = raw_open (server);
      g_autoptr(GByteArray) payload = NULL;
      guint8 opcode;

      send_frame (raw, cases[i].first, (const guint8 *) "abcd", cases[i].length, cases[i].masked);
      opcode = read_frame (raw, &payload);
      g_assert_cmpint (opcode, ==, 0x8);
      g_assert_cmpint (payload->data[0] << 8 | payload->data[1], ==, cases[i].code);
      raw_free (raw);
    }

  /* Over the limit, announced in the header: 1009 before the body. */
  {
    Raw *raw = raw_open (server);
    g_autoptr(GByteArray) payload = NULL;
    guint8 header[14] = { 0x82, 0x80 | 127, 0, 0, 0, 0, 0x7F, 0, 0, 0, 1, 2, 3, 4 };

    raw_write (raw, header, sizeof header);
    g_assert_cmpint (read_frame (raw, &payload), ==, 0x8);
    g_assert_cmpint (payload->data[0] << 8 | payload->data[1], ==, 1009);
    raw_free (raw);
  }

  /* Still serving. */
  {
    g_autoptr(NatterTestClient) client = natter_test_client_new_user (server, "bob", "b1");
    g_assert_true (natter_test_client_is_open (client));
  }
}

/* Close frames are checked too: a one-byte payload or a code nobody may
 * send is a protocol error (1002), a reason that is not UTF-8 is 1007, and
 * the server never echoes a code it must not send. */
static void
test_bad_close_frames (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  struct {
    const guint8 *payload;
    gsize length;
    int code;
  } cases[] = {
    { (const guint8 *) "\x03", 1, 1002 },               /* one byte */
    { (const guint8 *) "\x03\xED", 2, 1002 },           /* 1005 may not be sent */
    { (const guint8 *) "\x03\xEE", 2, 1002 },           /* 1006 neither */
    { (const guint8 *) "\x03\xE7", 2, 1002 },           /* 999 */
    { (const guint8 *) "\x13\x88", 2, 1002 },           /* 5000 */
    { (const guint8 *) "\x03\xE8\xC3\x28", 4, 1007 },   /* reason not UTF-8 */
    { (const guint8 *) "\x0F\xA0" "bye", 5, 4000 },     /* private use: echoed */
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Raw *raw = raw_open (server);
      g_autoptr(GByteArray) payload = NULL;

      send_frame (raw, 0x88, cases[i].payload, cases[i].length, TRUE);
      g_assert_cmpint (read_frame (raw, &payload), ==, 0x8);
      g_assert_cmpuint (payload->len, >=, 2);
      g_assert_cmpint (payload->data[0] << 8 | payload->data[1], ==, cases[i].code);
      raw_free (raw);
    }

  /* An empty close is answered with an empty one. */
  {
    Raw *raw = raw_open (server);
    g_autoptr(GByteArray) payload = NULL;

    send_frame (raw, 0x88, NULL, 0, TRUE);
    g_assert_cmpint (read_frame (raw, &payload), ==, 0x8);
    g_assert_cmpuint (payload->len, ==, 0);
    raw_free (raw);
  }
}

typedef struct
{
  Raw   *raw;
  guint  n;
} PingWriter;

static gpointer
write_pings (gpointer data)
{
  PingWriter *writer = data;
  guint8 payload[125];
  g_autoptr(GByteArray) batch = g_byte_array_new ();
  const guint8 mask[4] = { 1, 2, 3, 4 };

  memset (payload, 'p', sizeof payload);
  for (guint i = 0; i < 1000; i++)
    {
      guint8 header[2] = { 0x89, 0x80 | 125 };

      g_byte_array_append (batch, header, 2);
      g_byte_array_append (batch, mask, 4);
      for (guint j = 0; j < sizeof payload; j++)
        {
          guint8 b = payload[j] ^ mask[j & 3];
          g_byte_array_append (batch, &b, 1);
        }
    }
  for (guint i = 0; i < writer->n / 1000; i++)
    raw_write (writer->raw, batch->data, batch->len);
  return NULL;
}

/* A client that writes a lot and reads nothing for a while: natterd stops
 * reading from it once its answers pile up (back-pressure through TCP)
 * instead of buffering them until the connection has to be dropped, and the
 * client gets every answer once it reads. */
static void
test_back_pressure (gconstpointer data)
{
  g_autoptr(NatterTestServer) server = new_server (GPOINTER_TO_INT (data), NULL, NULL);
  Raw *raw = raw_open (server);
  /* ~38 MB of pongs: more than the kernel's buffers and than natterd
   * would ever hold for one peer. */
  PingWriter writer = { raw, 300000 };
  GThread *thread = NULL;
  g_autoptr(NatterTestClient) other = NULL;
  guint64 before;

  /* Connected first: connect-timeout (10 s) is for connections that never
   * send Connect, and the pings keep this one alive however long it takes. */
  raw_connect (raw, server, "alice");
  natter_test_server_reset_peak_rss (server);
  before = natter_test_server_get_rss (server);
  thread = g_thread_new ("pings", write_pings, &writer);

  /* Not reading yet; the server keeps serving others meanwhile. */
  g_usleep (2 * G_USEC_PER_SEC);
  other = natter_test_client_new_user (server, "bob", "b1");
  g_assert_true (natter_test_client_is_open (other));

  for (guint i = 0; i < writer.n; i++)
    {
      g_autoptr(GByteArray) payload = NULL;

      guint8 opcode = read_frame (raw, &payload);

      if (opcode == 0x8 && payload->len >= 2)
        g_test_message ("closed after %u pongs: %d %.*s", i, payload->data[0] << 8 | payload->data[1],
                        (int) payload->len - 2, (const char *) payload->data + 2);
      g_assert_cmpint (opcode, ==, 0xA);
      g_assert_cmpuint (payload->len, ==, 125);
    }
  g_thread_join (thread);
  assert_memory_bounded (server, before);
  raw_free (raw);
}

/* The status line natterd answers a WebSocket upgrade with; @protocol is
 * the Sec-WebSocket-Protocol header's value (NULL: no such header). With
 * @body, the response's body too (up to its Content-Length). */
static char *
upgrade_response_with (NatterTestServer *server,
                       const char       *protocol,
                       char            **body)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDataInputStream) in = NULL;
  g_autofree char *protocol_line = protocol != NULL ? g_strdup_printf ("Sec-WebSocket-Protocol: %s\r\n", protocol)
                                                    : g_strdup ("");
  g_autofree char *request = g_strdup_printf ("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                                              "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                              "Sec-WebSocket-Version: 13\r\n%s\r\n", protocol_line);
  gsize length = 0;
  char *line;

  connection = g_socket_client_connect_to_host (client, "127.0.0.1", natter_test_server_get_port (server),
                                                NULL, &error);
  g_assert_no_error (error);
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (connection)), request,
                             strlen (request), NULL, NULL, &error);
  g_assert_no_error (error);
  in = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  g_data_input_stream_set_newline_type (in, G_DATA_STREAM_NEWLINE_TYPE_CR_LF);
  line = g_data_input_stream_read_line (in, NULL, NULL, &error);
  g_assert_no_error (error);
  if (body == NULL)
    return line;
  for (;;)
    {
      g_autofree char *header = g_data_input_stream_read_line (in, NULL, NULL, &error);

      g_assert_no_error (error);
      g_assert_nonnull (header);
      if (*header == '\0')
        break;
      if (g_ascii_strncasecmp (header, "Content-Length:", 15) == 0)
        length = g_ascii_strtoull (header + 15, NULL, 10);
    }
  *body = g_malloc0 (length + 1);
  g_input_stream_read_all (G_INPUT_STREAM (in), *body, length, NULL, NULL, &error);
  g_assert_no_error (error);
  return line;
}

static char *
upgrade_status_with (NatterTestServer *server,
                     const char       *protocol)
{
  return upgrade_response_with (server, protocol, NULL);
}

static char *
upgrade_status (NatterTestServer *server)
{
  return upgrade_status_with (server, NATTER_PROTOCOL_NAME);
}

/* natter.v2 is the only protocol natterd speaks: an upgrade that does not
 * ask for it is refused before it becomes a connection (libsoup alone
 * would take one that names no subprotocol). A natter.v1 client (which
 * would miss group messages sent while it was away) is told to update. */
static void
test_subprotocol (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  struct {
    const char *protocol;
    const char *status;
    const char *body;
  } cases[] = {
    { NULL, "HTTP/1.1 400", "must be natter.v2" },
    { "chat", "HTTP/1.1 400", "must be natter.v2" },
    { "natter.v3", "HTTP/1.1 400", "must be natter.v2" },
    { "natter.v1", "HTTP/1.1 400", "natter.v1 is no longer served: update Natter" },
    { "chat, natter.v1", "HTTP/1.1 400", "natter.v1 is no longer served: update Natter" },
    { "natter.v1, natter.v2", "HTTP/1.1 101", NULL },
    { "chat, natter.v2", "HTTP/1.1 101", NULL },
    { NATTER_PROTOCOL_NAME, "HTTP/1.1 101", NULL },
  };

  g_assert_cmpstr (NATTER_PROTOCOL_NAME, ==, "natter.v2");
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *body = NULL;
      g_autofree char *status = upgrade_response_with (server, cases[i].protocol,
                                                       cases[i].body != NULL ? &body : NULL);

      g_test_message ("%s: %s %s", cases[i].protocol ? cases[i].protocol : "(none)", status,
                      body ? body : "");
      g_assert_true (g_str_has_prefix (status, cases[i].status));
      if (cases[i].body != NULL)
        g_assert_nonnull (strstr (body, cases[i].body));
    }
}

static gboolean
never (gpointer data)
{
  return FALSE;
}

/* [limits] max-connections counts every WebSocket, connected or not; a
 * refused upgrade is 503, and a closed connection frees its place. */
static void
test_max_connections (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new_full ("[limits]\nmax-connections=2\n", NULL);
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  Raw *raw = raw_open (server);
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterTestClient) refused = natter_test_client_open (server, &error);
  g_autofree char *status = upgrade_status (server);

  g_assert_null (refused);
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_assert_true (g_str_has_prefix (status, "HTTP/1.1 503"));

  /* The raw one goes: its place is free again. */
  raw_free (raw);
  for (guint i = 0; i < 50; i++)
    {
      g_autoptr(NatterTestClient) bob = natter_test_client_open (server, &error);

      if (bob != NULL)
        {
          g_autofree char *token = natter_test_server_get_token (server, "bob");

          g_assert_cmpint (natter_test_client_connect (bob, natter_test_server_get_app_key (server),
                                                       token, "b1", 0), ==, 0);
          return;
        }
      g_clear_error (&error);
      natter_test_wait (never, NULL, 100);
    }
  g_assert_not_reached ();
}

/* A connected client that stops talking is closed after two missed pings
 * (plus 10 s of slack); one that pings stays, with natter Pings or with
 * WebSocket ping frames alone (RFC 6455 keep-alive). */
static void
test_keepalive (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new_full ("[server]\nping-interval=1\n", NULL);
  g_autoptr(NatterTestClient) quiet = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterTestClient) talker = natter_test_client_new_user (server, "bob", "b1");
  g_autoptr(GByteArray) payload = NULL;
  Raw *pinger = raw_open (server);
  gint64 start = g_get_monotonic_time ();

  raw_connect (pinger, server, "carol");

  while (natter_test_client_is_open (quiet) && g_get_monotonic_time () - start < 20 * G_USEC_PER_SEC)
    {
      NatterFrame frame = NATTER__FRAME__INIT;
      Natter__Ping ping = NATTER__PING__INIT;

      ping.time = g_get_real_time () / 1000;
      frame.body_case = NATTER__FRAME__BODY_PING;
      frame.ping = &ping;
      natter_test_client_send (talker, &frame);
      natter_frame_free (natter_test_client_expect (talker, NATTER__FRAME__BODY_PONG, 2000));

      send_frame (pinger, 0x89, (const guint8 *) "alive", 5, TRUE);
      g_assert_cmpint (read_frame (pinger, &payload), ==, 0xA);
      g_clear_pointer (&payload, g_byte_array_unref);

      natter_test_wait (never, NULL, 500);
    }

  g_assert_false (natter_test_client_is_open (quiet));
  g_assert_cmpint (natter_test_client_wait_closed (quiet, 1000), ==, 1008);
  g_assert_nonnull (strstr (natter_test_client_get_close_reason (quiet), "30003"));
  /* Not before two intervals and the slack. */
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 11 * G_USEC_PER_SEC);
  g_assert_true (natter_test_client_is_open (talker));

  /* Still connected: a ping is answered, not a close frame. */
  send_frame (pinger, 0x89, (const guint8 *) "still", 5, TRUE);
  g_assert_cmpint (read_frame (pinger, &payload), ==, 0xA);
  raw_free (pinger);
}

static guint
count_fds (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/fd", (int) pid);
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

typedef struct
{
  GPid  pid;
  guint limit;
} FdWait;

static gboolean
fds_at_most (gpointer data)
{
  FdWait *wait = data;

  return count_fds (wait->pid) <= wait->limit;
}

/* Connections that end in every way (EOF mid-frame, a protocol error, a
 * close handshake, gone with pongs unread, the upgrade and nothing more)
 * leave no descriptor behind. */
static void
test_no_fd_leak (gconstpointer tls)
{
  g_autoptr(NatterTestServer) server = new_server (GPOINTER_TO_INT (tls), NULL, NULL);
  g_autofree char *token = natter_test_server_get_token (server, "alice");
  g_autoptr(GBytes) connect = connect_frame (server, token);
  GPid pid = natter_test_server_get_pid (server);
  guint before;
  FdWait wait;

  /* One full client first, so lazily opened files (the reader's database
   * connection...) are counted in the baseline. */
  {
    g_autoptr(NatterTestClient) warm = natter_test_client_new_user (server, "bob", "b1");
  }
  natter_test_wait (never, NULL, 300);
  before = count_fds (pid);

  for (guint i = 0; i < 40; i++)
    {
      Raw *raw = raw_open (server);
      gsize size;
      const guint8 *data = g_bytes_get_data (connect, &size);

      switch (i % 5)
        {
        case 0:   /* half a frame, then EOF */
          send_frame (raw, 0x82, data, size, TRUE);
          raw_write (raw, (const guint8 *) "\x82\xfe\x10", 3);
          break;
        case 1:   /* protocol error */
          send_frame (raw, 0x82, data, size, FALSE);
          break;
        case 2:   /* clean close */
          send_frame (raw, 0x88, (const guint8 *) "\x03\xe8", 2, TRUE);
          break;
        case 3:   /* connected, pinging, gone without reading the pongs */
          send_frame (raw, 0x82, data, size, TRUE);
          for (guint j = 0; j < 100; j++)
            send_frame (raw, 0x89, (const guint8 *) "ping", 4, TRUE);
          break;
        default:  /* the upgrade and nothing more */
          break;
        }
      raw_free (raw);
    }

  wait.pid = pid;
  wait.limit = before;
  g_assert_true (natter_test_wait (fds_at_most, &wait, 5000));

  /* And it still serves. */
  {
    g_autoptr(NatterTestClient) carol = natter_test_client_new_user (server, "carol", "c1");
    g_assert_true (natter_test_client_is_open (carol));
  }
}

/* A client that pipelines a thousand publishes in one write: natterd stops
 * reading it while 256 wait for their commit (its queues stay short), then
 * reads on, and every publish is acked once, in order. */
static void
test_pipelined_requests (gconstpointer tls)
{
  const char * const args[] = { "--app-setting", "send-rate=0", NULL };
  g_autoptr(NatterTestServer) server = new_server (GPOINTER_TO_INT (tls), NULL, args);
  g_autoptr(GByteArray) burst = g_byte_array_new ();
  const guint n = 1000;
  Raw *raw = raw_open (server);

  raw_connect (raw, server, "alice");

  for (guint i = 0; i < n; i++)
    {
      NatterFrame frame = NATTER__FRAME__INIT;
      Natter__Publish publish = NATTER__PUBLISH__INIT;
      g_autofree char *id = g_strdup_printf ("m%u", i);
      g_autoptr(GBytes) bytes = NULL;
      const guint8 *p;
      gsize length;
      guint8 header[2] = { 0x82, 0x80 };
      const guint8 mask[4] = { 0, 0, 0, 0 };

      publish.client_msg_id = id;
      publish.conversation_type = 1;
      publish.target_id = (char *) "bob";
      publish.object_name = (char *) "RC:TxtMsg";
      publish.content = (char *) "{\"content\":\"hi\"}";
      frame.body_case = NATTER__FRAME__BODY_PUBLISH;
      frame.publish = &publish;
      bytes = natter_frame_encode (&frame, NULL);
      p = g_bytes_get_data (bytes, &length);
      g_assert_cmpuint (length, <, 126);
      header[1] |= (guint8) length;
      g_byte_array_append (burst, header, 2);
      g_byte_array_append (burst, mask, 4);  /* masked with zeros */
      g_byte_array_append (burst, p, (guint) length);
    }
  raw_write (raw, burst->data, burst->len);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(NatterFrame) ack = read_server_frame (raw, NATTER__FRAME__BODY_PUBLISH_ACK);
      g_autofree char *id = g_strdup_printf ("m%u", i);

      g_assert_cmpstr (ack->publish_ack->client_msg_id, ==, id);
      g_assert_cmpint (ack->publish_ack->code, ==, 0);
    }
  g_assert_cmpuint (natter_test_server_get_metric (server, "natterd_connections_held_total"), >=, 1);
  raw_free (raw);
}

/* RFC 6455 8.1: a text message that is not UTF-8 fails the connection
 * with 1007 (invalid data); valid text is only the wrong kind for
 * natter.v2, 1003. Fragmented text is judged as a whole. */
static void
test_text_frames (gconstpointer data)
{
  g_autoptr(NatterTestServer) server = new_server (GPOINTER_TO_INT (data), NULL, NULL);
  struct {
    const char *first;
    const char *rest;   /* a continuation frame, or NULL */
    int code;
  } cases[] = {
    { "hello", NULL, 1003 },
    { "\xe4\xbd\xa0\xe5\xa5\xbd", NULL, 1003 },       /* 你好 */
    { "bad \xc3\x28", NULL, 1007 },
    { "\xed\xa0\x80", NULL, 1007 },                    /* a UTF-16 surrogate */
    { "\xe4\xbd", "\xa0", 1003 },                       /* 你, split across fragments */
    { "\xe4\xbd", "\x28", 1007 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Raw *raw = raw_open (server);
      g_autoptr(GByteArray) payload = NULL;

      if (cases[i].rest == NULL)
        send_frame (raw, 0x81, (const guint8 *) cases[i].first, strlen (cases[i].first), TRUE);
      else
        {
          send_frame (raw, 0x01, (const guint8 *) cases[i].first, strlen (cases[i].first), TRUE);
          send_frame (raw, 0x80, (const guint8 *) cases[i].rest, strlen (cases[i].rest), TRUE);
        }
      g_assert_cmpint (read_frame (raw, &payload), ==, 0x8);
      g_assert_cmpuint (payload->len, >=, 2);
      g_assert_cmpint (payload->data[0] << 8 | payload->data[1], ==, cases[i].code);
      raw_free (raw);
    }

  /* Still serving. */
  {
    g_autoptr(NatterTestClient) bob = natter_test_client_new_user (server, "bob", "b1");
    g_assert_true (natter_test_client_is_open (bob));
  }
}

#define SLOW_READER_MESSAGES 300

static void
send_big_messages (NatterTestClient *sender,
                   const char       *target,
                   guint             n)
{
  g_autofree char *filler = g_strnfill (100 * 1000, 'x');
  g_autofree char *last = NULL;

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *content = g_strdup_printf ("{\"content\":\"%u\",\"extra\":\"%s\"}", i, filler);

      g_free (last);
      last = natter_test_client_publish (sender, 1, target, "RC:TxtMsg", content);
      /* A few in flight: what the sender costs stays small. */
      if (i % 5 == 4 || i + 1 == n)
        {
          g_autoptr(NatterFrame) ack = natter_test_client_wait_ack (sender, last);
          g_assert_cmpint (ack->publish_ack->code, ==, 0);
        }
    }
}

static gboolean
got_all (gpointer data)
{
  return natter_test_client_get_last_seq (data) >= SLOW_READER_MESSAGES;
}

/* A connected client that stops reading while 30 MB of messages come for
 * it: natterd keeps about a MiB queued for it (not the whole delivery
 * window), catches up from the store once it reads again, and the client
 * gets every message, in order, without being dropped. */
static void
test_slow_reader (gconstpointer data)
{
  const char * const args[] = { "--app-setting", "send-rate=0", NULL };
  g_autoptr(NatterTestServer) server = new_server (GPOINTER_TO_INT (data), NULL, args);
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  guint64 before, heap_before, heap;
  Raw *raw;

  /* First the same traffic to carol, who reads it all: SQLite's page
   * caches are as full as they get before memory is measured. */
  send_big_messages (alice, "carol", SLOW_READER_MESSAGES);
  {
    g_autoptr(NatterTestClient) carol = natter_test_client_new_user (server, "carol", "c1");

    g_assert_true (natter_test_wait (got_all, carol, 30000));
  }

  raw = raw_open (server);
  raw_connect (raw, server, "bob");

  natter_test_server_reset_peak_rss (server);
  before = natter_test_server_get_rss (server);
  heap_before = natter_test_server_get_metric (server, "natterd_heap_bytes");

  /* bob reads nothing meanwhile: what natterd keeps for him is what the
   * kernel does not hold, about a MiB, not 30 MB. (The heap shows it
   * even where freed memory is reused, which the RSS hides.) */
  send_big_messages (alice, "bob", SLOW_READER_MESSAGES);
  heap = natter_test_server_get_metric (server, "natterd_heap_bytes");
  g_test_message ("natterd heap %" G_GUINT64_FORMAT " KiB over %" G_GUINT64_FORMAT " KiB with bob not reading",
                  (heap - MIN (heap, heap_before)) / 1024, heap_before / 1024);
  if (natter_test_memory_is_measured ())
    g_assert_cmpuint (heap, <, heap_before + MEMORY_BOUND);
  g_assert_cmpuint (natter_test_server_get_metric (server, "natterd_socket_queued_bytes"), <, 2 * 1024 * 1024);

  for (guint i = 0; i < SLOW_READER_MESSAGES; i++)
    {
      g_autoptr(NatterFrame) frame = read_server_frame (raw, NATTER__FRAME__BODY_DELIVER);
      g_autofree char *start = g_strdup_printf ("{\"content\":\"%u\",", i);

      g_assert_cmpuint (frame->deliver->seq, ==, i + 1);
      g_assert_true (g_str_has_prefix (frame->deliver->message->content, start));

      if (i % 50 == 49)
        {
          NatterFrame ack = NATTER__FRAME__INIT;
          Natter__DeliverAck deliver_ack = NATTER__DELIVER_ACK__INIT;

          deliver_ack.seq = frame->deliver->seq;
          ack.body_case = NATTER__FRAME__BODY_DELIVER_ACK;
          ack.deliver_ack = &deliver_ack;
          send_client_frame (raw, &ack);
        }
    }

  assert_memory_bounded (server, before);
  raw_free (raw);
}

/* The next frame of natterd's, whatever it is. */
static NatterFrame *
read_any_server_frame (Raw *raw)
{
  g_autoptr(GByteArray) payload = NULL;
  NatterFrame *frame;

  g_assert_cmpint (read_frame (raw, &payload), ==, 0x2);
  frame = natter_frame_decode (payload->data, payload->len, NATTER_PEER_SERVER, NULL);
  g_assert_nonnull (frame);
  return frame;
}

/* Sends @query (request id 1, 2, ...) and reads until its Result: the live
 * frames before it go to @live (timeline_seq of each Deliver). */
static NatterFrame *
raw_query (Raw           *raw,
           Natter__Query *query,
           GArray        *live)
{
  static guint32 request_id;
  NatterFrame frame = NATTER__FRAME__INIT;

  query->request_id = ++request_id;
  frame.body_case = NATTER__FRAME__BODY_QUERY;
  frame.query = query;
  send_client_frame (raw, &frame);
  for (;;)
    {
      NatterFrame *reply = read_any_server_frame (raw);

      if (reply->body_case == NATTER__FRAME__BODY_RESULT && reply->result->request_id == query->request_id)
        return reply;
      g_assert_cmpint (reply->body_case, ==, NATTER__FRAME__BODY_DELIVER);
      g_assert_cmpuint (reply->deliver->seq, ==, 0);
      g_array_append_val (live, reply->deliver->message->timeline_seq);
      natter_frame_free (reply);
    }
}

/* A member's device that stops reading while 30 MB of group messages come:
 * natterd keeps about a MiB queued for it and sends it no more live group
 * messages past that (counted as dropped), and the device, reading again,
 * fetches every one from the timeline, in order. */
static void
test_slow_group_reader (void)
{
  const char * const args[] = { "--app-setting", "send-rate=0", NULL };
  g_autoptr(NatterTestServer) server = natter_test_server_new_full (NULL, args);
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(JsonObject) reply = NULL;
  g_autoptr(GArray) live = g_array_new (FALSE, FALSE, sizeof (guint64));
  g_autofree char *filler = g_strnfill (100 * 1000, 'x');
  g_autofree char *last = NULL;
  guint64 after = 0, dropped;
  Raw *raw;

  reply = natter_test_server_api (server, NULL, "group/create", "userId", "alice", "userId", "bob",
                                  "groupId", "g", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  raw = raw_open (server);
  raw_connect (raw, server, "bob");

  for (guint i = 0; i < SLOW_READER_MESSAGES; i++)
    {
      g_autofree char *content = g_strdup_printf ("{\"content\":\"%u\",\"extra\":\"%s\"}", i, filler);

      g_free (last);
      last = natter_test_client_publish (alice, 3, "g", "RC:TxtMsg", content);
      if (i % 5 == 4 || i + 1 == SLOW_READER_MESSAGES)
        {
          g_autoptr(NatterFrame) ack = natter_test_client_wait_ack (alice, last);
          g_assert_cmpint (ack->publish_ack->code, ==, 0);
        }
    }
  g_assert_cmpuint (natter_test_server_get_metric (server, "natterd_socket_queued_bytes"), <, 2 * 1024 * 1024);
  dropped = natter_test_server_get_metric (server, "natterd_timeline_dropped_total");
  g_test_message ("%" G_GUINT64_FORMAT " of %u not sent live", dropped, SLOW_READER_MESSAGES);
  g_assert_cmpuint (dropped, >, 0);

  /* Reading again: what was queued, then the whole timeline in pages. */
  for (;;)
    {
      Natter__Query query = NATTER__QUERY__INIT;
      Natter__TimelineRequest timeline = NATTER__TIMELINE_REQUEST__INIT;
      g_autoptr(NatterFrame) page = NULL;

      timeline.conversation_type = 3;
      timeline.target_id = (char *) "g";
      timeline.after_seq = after;
      timeline.count = 200;
      query.method_case = NATTER__QUERY__METHOD_TIMELINE;
      query.timeline = &timeline;
      page = raw_query (raw, &query, live);
      g_assert_cmpint (page->result->code, ==, 0);
      for (gsize i = 0; i < page->result->timeline->n_messages; i++)
        {
          g_autofree char *start = g_strdup_printf ("{\"content\":\"%" G_GUINT64_FORMAT "\",", after);

          g_assert_cmpuint (page->result->timeline->messages[i]->timeline_seq, ==, after + 1);
          g_assert_true (g_str_has_prefix (page->result->timeline->messages[i]->content, start));
          after++;
        }
      if (!page->result->timeline->has_more)
        break;
    }
  g_assert_cmpuint (after, ==, SLOW_READER_MESSAGES);
  /* Those that came live came in order, and none of the dropped ones. */
  g_assert_cmpuint (live->len + dropped, ==, SLOW_READER_MESSAGES);
  for (guint i = 1; i < live->len; i++)
    g_assert_cmpuint (g_array_index (live, guint64, i), >, g_array_index (live, guint64, i - 1));
  raw_free (raw);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/server/websocket/fragments-and-control", test_fragments_and_control);
  g_test_add_func ("/server/websocket/protocol-errors", test_protocol_errors);
  g_test_add_func ("/server/websocket/bad-close-frames", test_bad_close_frames);
  g_test_add_func ("/server/websocket/max-connections", test_max_connections);
  g_test_add_func ("/server/websocket/keepalive", test_keepalive);
  g_test_add_func ("/server/websocket/subprotocol", test_subprotocol);
  g_test_add_func ("/server/websocket/slow-group-reader", test_slow_group_reader);

  /* The same framing and bounds for ws:// and wss://. */
  for (int tls = 0; tls <= 1; tls++)
    {
      const char *prefix = tls ? "/server/websocket/tls" : "/server/websocket";
      g_autofree char *text_frames = g_strconcat (prefix, "/text-frames", NULL);
      g_autofree char *back_pressure = g_strconcat (prefix, "/back-pressure", NULL);
      g_autofree char *pipelined = g_strconcat (prefix, "/pipelined-requests", NULL);
      g_autofree char *slow_reader = g_strconcat (prefix, "/slow-reader", NULL);
      g_autofree char *no_fd_leak = g_strconcat (prefix, "/no-fd-leak", NULL);

      g_test_add_data_func (text_frames, GINT_TO_POINTER (tls), test_text_frames);
      g_test_add_data_func (back_pressure, GINT_TO_POINTER (tls), test_back_pressure);
      g_test_add_data_func (pipelined, GINT_TO_POINTER (tls), test_pipelined_requests);
      g_test_add_data_func (slow_reader, GINT_TO_POINTER (tls), test_slow_reader);
      g_test_add_data_func (no_fd_leak, GINT_TO_POINTER (tls), test_no_fd_leak);
    }

  return g_test_run ();
}
