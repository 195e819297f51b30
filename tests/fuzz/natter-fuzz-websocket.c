/* natter-fuzz-websocket.c — libFuzzer target for natterd's WebSocket
 * framing (RFC 6455, server side)
 *
 * A real NatterdSocket in a real NatterdSocketLoop, over one end of a
 * socketpair: the input goes in at the other end as a client's bytes would,
 * so the code under test is exactly natterd's, reads, partial frames,
 * fragments, control frames, closes and the replies included. Input: one
 * byte of how to send, then the bytes. Its low 7 bits are the size of the
 * writes (0: all at once, else that squared; at most 64 writes), each
 * followed by one turn of the loop; its high bit: the peer never reads
 * what natterd sends (else it reads after every turn). Each complete binary
 * message is echoed, as a session answers.
 *
 * Whatever the bytes: no crash, no leak, the close handler at most once.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-fuzz.h"

#include "natter-codes.h"
#include "natterd-socket.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_WRITES 64

typedef struct
{
  NatterdSocket *socket;
  guint          messages;
  guint          closes;
  guint8         sum;
} Peer;

static NatterdSocketLoop *loop;

static void
on_message (gpointer  user_data,
            guint8   *payload,
            gsize     length,
            gboolean  binary)
{
  Peer *peer = user_data;

  /* Every byte is read, so ASan sees any that is not the message's. */
  for (gsize i = 0; i < length; i++)
    peer->sum ^= payload[i];
  peer->messages++;
  if (binary)
    natterd_socket_send (peer->socket, payload, length);
}

static void
on_closed (gpointer user_data,
           gushort  code)
{
  Peer *peer = user_data;

  peer->closes++;
  g_assert_cmpuint (peer->closes, ==, 1);
}

static const NatterdSocketHandlers handlers = {
  .message = on_message,
  .closed = on_closed,
};

static void
run_loop (int      fd,
          gboolean reads)
{
  guint8 buffer[4096];

  /* A turn reads, parses, writes and tells; the next ones free what
   * closed. (Not "until idle": a connection waiting for the peer's close
   * keeps the loop ready for seconds.) */
  for (int i = 0; i < 3; i++)
    g_main_context_iteration (NULL, FALSE);
  while (reads && read (fd, buffer, sizeof buffer) > 0)
    ;
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  Peer peer = { 0 };
  int fds[2];
  gsize chunk, offset;
  gboolean reads;

  natter_fuzz_quiet_logs ();
  if (size < 1)
    return 0;
  if (loop == NULL)
    loop = natterd_socket_loop_new (2 * NATTER_FRAME_MAX_SIZE, &error);
  g_assert_no_error (error);

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  g_assert_cmpint (fcntl (fds[1], F_SETFL, O_NONBLOCK), ==, 0);
  socket = g_socket_new_from_fd (fds[0], &error);
  g_assert_no_error (error);
  connection = g_socket_connection_factory_create_connection (socket);
  peer.socket = natterd_socket_new (loop, G_IO_STREAM (connection), socket, FALSE, &handlers,
                                    &peer, &error);
  g_assert_no_error (error);

  reads = (data[0] & 0x80) == 0;
  chunk = (gsize) (data[0] & 0x7F) * (data[0] & 0x7F);
  data++;
  size--;
  if (chunk == 0)
    chunk = MAX (size, 1);
  chunk = MAX (chunk, (size + MAX_WRITES - 1) / MAX_WRITES);

  for (offset = 0; offset < size;)
    {
      gssize n = send (fds[1], data + offset, MIN (chunk, size - offset), MSG_NOSIGNAL);

      if (n < 0)
        {
          /* Full: natterd stopped reading (output piled up), or it is gone. */
          g_assert_true (errno == EAGAIN || errno == EPIPE || errno == ECONNRESET);
          break;
        }
      offset += (gsize) n;
      run_loop (fds[1], reads);
    }
  run_loop (fds[1], reads);

  natterd_socket_free (peer.socket);
  run_loop (fds[1], reads);
  close (fds[1]);
  return 0;
}
