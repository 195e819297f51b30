/* natter-bench-ws.c — natter-bench's own WebSocket client, for many
 * connections at once
 *
 * The group mode holds thousands of connections that each get every group
 * message. Through libsoup every connection is a source in its worker's
 * GMainContext, and every main-loop iteration walks all of them: with
 * thousands per context the bench, not natterd, was the bottleneck (3,000
 * connections took 71 s to open). Here a worker keeps its connections in
 * one epoll set, a single fd in its GMainContext; frames are read straight
 * from the socket (RFC 6455: unmasked from the server, masked from us) and
 * handed to the same frame handling as libsoup's.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <errno.h>
#include <glib-unix.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "natter-bench-private.h"

#define READ_CHUNK 65536
/* Connections opening at once per worker: many in flight, so the rate
 * is natterd's, not one round trip after another; well under natterd's
 * listen backlog. */
#define RAW_WINDOW 64

enum {
  RAW_OPEN = 0,
  RAW_CONNECTING,
  RAW_UPGRADING,
};

static void raw_open_next (Worker *worker);

static void
raw_fail (Conn *conn)
{
  if (!conn->raw || conn->fd < 0)
    return;
  epoll_ctl (conn->worker->epoll_fd, EPOLL_CTL_DEL, conn->fd, NULL);
  close (conn->fd);
  conn->fd = -1;
  if (conn->connected)
    g_atomic_int_add (&conn->worker->connected, -1);
  conn->connected = FALSE;
  if (conn->raw_state != RAW_OPEN)
    {
      conn->raw_state = RAW_OPEN;
      conn->failed = TRUE;
      g_atomic_int_inc (&conn->worker->failed);
      conn->worker->raw_opening--;
      raw_open_next (conn->worker);
    }
}

static void
want_write (Conn     *conn,
            gboolean  want)
{
  struct epoll_event event = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = conn };

  if (conn->want_write == want)
    return;
  conn->want_write = want;
  epoll_ctl (conn->worker->epoll_fd, EPOLL_CTL_MOD, conn->fd, &event);
}

static void
flush_out (Conn *conn)
{
  while (conn->out->len > 0)
    {
      ssize_t n = send (conn->fd, conn->out->data, conn->out->len, MSG_NOSIGNAL);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return;
      if (n <= 0)
        {
          raw_fail (conn);
          return;
        }
      g_byte_array_remove_range (conn->out, 0, (guint) n);
    }
  want_write (conn, FALSE);
}

void
raw_send (Conn         *conn,
          const guint8 *data,
          gsize         size)
{
  guint8 header[14];
  gsize length = 0;
  guint32 key = g_random_int ();
  guint8 mask[4] = { key >> 24, key >> 16, key >> 8, key };
  g_autofree guint8 *masked = g_malloc (size);
  gsize queued;

  if (conn->fd < 0)
    return;

  header[length++] = 0x82;                      /* FIN, binary */
  if (size < 126)
    header[length++] = 0x80 | (guint8) size;
  else if (size < 65536)
    {
      header[length++] = 0x80 | 126;
      header[length++] = (guint8) (size >> 8);
      header[length++] = (guint8) size;
    }
  else
    {
      header[length++] = 0x80 | 127;
      for (int i = 7; i >= 0; i--)
        header[length++] = (guint8) ((guint64) size >> (8 * i));
    }
  memcpy (header + length, mask, 4);
  length += 4;
  for (gsize i = 0; i < size; i++)
    masked[i] = data[i] ^ mask[i % 4];

  queued = conn->out->len;
  g_byte_array_append (conn->out, header, (guint) length);
  g_byte_array_append (conn->out, masked, (guint) size);
  /* Something already waits for EPOLLOUT: keep the order. */
  if (queued == 0)
    {
      flush_out (conn);
      if (conn->fd >= 0 && conn->out->len > 0)
        want_write (conn, TRUE);
    }
}

static void
send_control (Conn         *conn,
              guint8        opcode,
              const guint8 *payload,
              gsize         size)
{
  guint8 frame[2 + 4 + 125] = { 0x80 | opcode, 0x80 | (guint8) size, 0, 0, 0, 0 };

  size = MIN (size, 125);
  frame[1] = 0x80 | (guint8) size;
  memcpy (frame + 6, payload, size);            /* mask 0: XOR changes nothing */
  g_byte_array_append (conn->out, frame, (guint) (6 + size));
  flush_out (conn);
}

/* Every complete WebSocket frame in conn->in, in order; natterd sends each
 * natter frame as one unfragmented binary message. */
static void
parse_frames (Conn *conn)
{
  gsize done = 0;

  while (conn->fd >= 0)
    {
      const guint8 *p = conn->in->data + done;
      gsize avail = conn->in->len - done;
      gsize header = 2;
      guint64 length;
      guint8 opcode;

      if (avail < 2)
        break;
      opcode = p[0] & 0x0f;
      length = p[1] & 0x7f;
      if (length == 126)
        {
          if (avail < 4)
            break;
          length = ((guint64) p[2] << 8) | p[3];
          header = 4;
        }
      else if (length == 127)
        {
          if (avail < 10)
            break;
          length = 0;
          for (int i = 0; i < 8; i++)
            length = (length << 8) | p[2 + i];
          header = 10;
        }
      if (p[1] & 0x80 || length > NATTER_FRAME_MAX_SIZE)
        {
          raw_fail (conn);                      /* a server never masks */
          break;
        }
      if (avail < header + length)
        break;

      switch (opcode)
        {
        case 0x2:
          conn_on_data (conn, p + header, (gsize) length);
          break;
        case 0x8:
          raw_fail (conn);
          break;
        case 0x9:
          send_control (conn, 0xA, p + header, (gsize) length);
          break;
        default:
          break;
        }
      done += header + (gsize) length;
    }
  if (conn->fd >= 0 && done > 0)
    g_byte_array_remove_range (conn->in, 0, (guint) done);
}

static void
send_upgrade (Conn *conn)
{
  guint8 nonce[16];
  g_autofree char *key = NULL;
  g_autofree char *request = NULL;

  for (guint i = 0; i < sizeof nonce; i++)
    nonce[i] = (guint8) g_random_int ();
  key = g_base64_encode (nonce, sizeof nonce);
  request = g_strdup_printf ("GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                             "Sec-WebSocket-Protocol: %s\r\n\r\n",
                             conn->worker->raw_host, key, bench.protocol);
  conn->raw_state = RAW_UPGRADING;
  /* A fresh socket's buffer takes it whole. */
  if (send (conn->fd, request, strlen (request), MSG_NOSIGNAL) != (ssize_t) strlen (request))
    raw_fail (conn);
}

/* RAW_UPGRADING: whether the 101 is complete in conn->in (then the rest is
 * WebSocket, and Connect goes out). */
static gboolean
upgrade_answered (Conn *conn)
{
  const char *data = (const char *) conn->in->data;
  const char *end = g_strstr_len (data, conn->in->len, "\r\n\r\n");

  if (end == NULL)
    {
      if (conn->in->len > 4096)
        raw_fail (conn);
      return FALSE;
    }
  if (!g_str_has_prefix (data, "HTTP/1.1 101"))
    {
      g_printerr ("natter-bench: %s: upgrade refused: %.*s\n", conn->user_id,
                  (int) strcspn (data, "\r\n"), data);
      raw_fail (conn);
      return FALSE;
    }
  g_byte_array_remove_range (conn->in, 0, (guint) (end + 4 - data));
  conn->raw_state = RAW_OPEN;
  conn->worker->raw_opening--;
  conn_send_connect (conn);
  raw_open_next (conn->worker);
  return TRUE;
}

static void
on_readable (Conn   *conn,
             guint8 *buffer)
{
  for (;;)
    {
      ssize_t n = recv (conn->fd, buffer, READ_CHUNK, 0);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return;
      if (n <= 0)
        {
          raw_fail (conn);
          return;
        }
      g_byte_array_append (conn->in, buffer, (guint) n);
      if (conn->raw_state == RAW_UPGRADING && !upgrade_answered (conn))
        {
          if (conn->fd < 0)
            return;
          continue;
        }
      parse_frames (conn);
      if (conn->fd < 0 || n < READ_CHUNK)
        return;
    }
}

static gboolean
on_epoll (gint         fd,
          GIOCondition condition,
          gpointer     user_data)
{
  Worker *worker = user_data;
  struct epoll_event events[256];
  static __thread guint8 *buffer;
  int n;

  if (buffer == NULL)
    buffer = g_malloc (READ_CHUNK);
  n = epoll_wait (fd, events, G_N_ELEMENTS (events), 0);
  for (int i = 0; i < n; i++)
    {
      Conn *conn = events[i].data.ptr;

      if (conn->fd < 0)
        continue;
      if (conn->raw_state == RAW_CONNECTING)
        {
          struct epoll_event event = { .events = EPOLLIN, .data.ptr = conn };
          int error = 0;
          socklen_t length = sizeof error;

          if (getsockopt (conn->fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error != 0)
            {
              raw_fail (conn);
              continue;
            }
          epoll_ctl (conn->worker->epoll_fd, EPOLL_CTL_MOD, conn->fd, &event);
          send_upgrade (conn);
          continue;
        }
      if (events[i].events & EPOLLOUT)
        flush_out (conn);
      if (conn->fd >= 0 && events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        on_readable (conn, buffer);
    }
  /* One cumulative DeliverAck per connection and round. */
  for (guint i = 0; i < worker->acks_pending->len; i++)
    {
      Conn *conn = g_ptr_array_index (worker->acks_pending, i);

      conn->ack_pending = FALSE;
      send_ack_now (conn);
    }
  g_ptr_array_set_size (worker->acks_pending, 0);
  return G_SOURCE_CONTINUE;
}

static gboolean
keepalive (gpointer user_data)
{
  Worker *worker = user_data;
  gint64 now = g_get_monotonic_time ();

  /* natterd closes a connection after 2 ping intervals and 10 s without
   * a frame from it: members idle through a long sweep ping every
   * interval ConnectAck gave, as a client would. */
  for (guint i = 0; i < worker->conns->len; i++)
    {
      Conn *conn = g_ptr_array_index (worker->conns, i);
      NatterFrame frame = NATTER__FRAME__INIT;
      Natter__Ping ping = NATTER__PING__INIT;

      if (!conn->raw || !conn->connected || conn->ping_interval == 0)
        continue;
      if (conn->last_ping == 0)
        conn->last_ping = now;
      if (now - conn->last_ping < (gint64) conn->ping_interval * G_USEC_PER_SEC)
        continue;
      conn->last_ping = now;
      ping.time = g_get_real_time () / 1000;
      frame.body_case = NATTER__FRAME__BODY_PING;
      frame.ping = &ping;
      send_frame (conn, &frame);
    }
  return G_SOURCE_CONTINUE;
}

void
raw_worker_init (Worker *worker)
{
  g_autoptr(GSource) timer = g_timeout_source_new_seconds (1);

  g_source_set_callback (timer, keepalive, worker, NULL);
  g_source_attach (timer, worker->context);
  worker->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
  worker->epoll_source = g_unix_fd_source_new (worker->epoll_fd, G_IO_IN);
  g_source_set_callback (worker->epoll_source, G_SOURCE_FUNC (on_epoll), worker, NULL);
  g_source_attach (worker->epoll_source, worker->context);
}

/* Starts connections until RAW_WINDOW are opening: connect without
 * blocking, the upgrade request, its answer and Connect all in the epoll
 * set, so thousands open with many in flight. */
static void
raw_open_next (Worker *worker)
{
  while (worker->raw_to_open != NULL && worker->raw_opening < RAW_WINDOW &&
         worker->raw_next < worker->raw_to_open->len)
    {
      Conn *conn = g_ptr_array_index (worker->raw_to_open, worker->raw_next++);
      struct epoll_event event = { .events = EPOLLIN, .data.ptr = conn };
      int one = 1;
      int result;

      conn->fd = socket (worker->raw_address.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (conn->fd < 0)
        {
          conn->failed = TRUE;
          g_atomic_int_inc (&worker->failed);
          continue;
        }
      setsockopt (conn->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      worker->raw_opening++;
      conn->raw_state = RAW_CONNECTING;
      result = connect (conn->fd, (struct sockaddr *) &worker->raw_address, worker->raw_address_length);
      if (result < 0 && errno != EINPROGRESS)
        {
          epoll_ctl (worker->epoll_fd, EPOLL_CTL_ADD, conn->fd, &event);
          raw_fail (conn);
          continue;
        }
      if (result < 0)
        event.events = EPOLLOUT;
      if (epoll_ctl (worker->epoll_fd, EPOLL_CTL_ADD, conn->fd, &event) < 0)
        {
          raw_fail (conn);
          continue;
        }
      if (result == 0)
        send_upgrade (conn);
    }
  if (worker->raw_to_open != NULL && worker->raw_next >= worker->raw_to_open->len)
    {
      g_clear_pointer (&worker->raw_to_open, g_ptr_array_unref);
      worker->raw_next = 0;
    }
}

void
raw_open_conns (Worker  *worker,
                gpointer data)
{
  const OpenSpec *spec = data;
  guint index, stride;
  g_autoptr(GUri) uri = g_uri_parse (bench.url, G_URI_FLAGS_NONE, NULL);
  g_autoptr(GSocketAddress) address = NULL;

  if (uri == NULL || !spec_share (spec, worker, &index, &stride))
    return;
  address = g_inet_socket_address_new_from_string (g_uri_get_host (uri), (guint) g_uri_get_port (uri));
  if (address == NULL || !g_socket_address_to_native (address, &worker->raw_address,
                                                      sizeof worker->raw_address, NULL))
    return;
  worker->raw_address_length = (guint) g_socket_address_get_native_size (address);
  g_free (worker->raw_host);
  worker->raw_host = g_strdup_printf ("%s:%d", g_uri_get_host (uri), g_uri_get_port (uri));

  if (worker->raw_to_open == NULL)
    worker->raw_to_open = g_ptr_array_new ();
  for (guint i = spec->first_user + index; i < spec->first_user + spec->count; i += stride)
    {
      Conn *conn = conn_new (worker, spec, i);

      conn->raw = TRUE;
      conn->fd = -1;
      conn->in = g_byte_array_new ();
      conn->out = g_byte_array_new ();
      g_ptr_array_add (worker->raw_to_open, conn);
    }
  raw_open_next (worker);
}

void
raw_conn_free (Conn *conn)
{
  if (conn->ack_pending)
    g_ptr_array_remove_fast (conn->worker->acks_pending, conn);
  if (conn->fd >= 0)
    {
      epoll_ctl (conn->worker->epoll_fd, EPOLL_CTL_DEL, conn->fd, NULL);
      close (conn->fd);
    }
  g_clear_pointer (&conn->in, g_byte_array_unref);
  g_clear_pointer (&conn->out, g_byte_array_unref);
}
