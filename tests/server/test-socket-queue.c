/* test-socket-queue.c — natterd's per-connection output queue, linked
 * with libnatterd
 *
 * A real NatterdSocket in a real NatterdSocketLoop over one end of a
 * socketpair (plain, so shared frames go through the fan-out writer
 * thread). The queue keeps one frame in the connection itself and an
 * array only while more wait (#18: no allocation per group delivery);
 * these check that whatever the queue goes through (one frame, growing,
 * compacting, back to one) the peer gets every frame once, in the order
 * queued, plain and shared ones mixed, and every shared frame settles.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-socket.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#define TIMEOUT_US (60 * G_USEC_PER_SEC)

typedef struct
{
  NatterdSocketLoop *loop;
  NatterdSocket     *socket;
  int                peer;       /* our end */
  GByteArray        *in;         /* bytes read, not yet parsed */
  guint              next;       /* the frame number expected next */
  guint              settled;    /* shared frames settled */
} Fixture;

static void
on_message (gpointer  user_data,
            guint8   *payload,
            gsize     length,
            gboolean  binary)
{
}

static void
on_closed (gpointer user_data,
           gushort  code)
{
  g_error ("closed (%u) while the test still sends", code);
}

static const NatterdSocketHandlers handlers = {
  .message = on_message,
  .closed = on_closed,
};

static void
on_settled (gpointer user_data)
{
  Fixture *f = user_data;

  f->settled++;
}

/* A connection on @loop (a new loop when NULL). */
static void
fixture_init_on (Fixture           *f,
                 NatterdSocketLoop *loop)
{
  g_autoptr(GError) error = NULL;
  int fds[2], small = 4096;

  memset (f, 0, sizeof *f);
  f->loop = loop != NULL ? loop : natterd_socket_loop_new (1024 * 1024, &error);
  g_assert_no_error (error);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  /* Small buffers: the kernel soon takes no more, and frames queue. */
  g_assert_cmpint (setsockopt (fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), ==, 0);
  g_assert_cmpint (setsockopt (fds[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small), ==, 0);
  g_assert_cmpint (fcntl (fds[0], F_SETFL, O_NONBLOCK), ==, 0);
  g_assert_cmpint (fcntl (fds[1], F_SETFL, O_NONBLOCK), ==, 0);
  f->socket = natterd_socket_new_for_fd (f->loop, fds[0], &handlers, f, &error);
  g_assert_no_error (error);
  f->peer = fds[1];
  f->in = g_byte_array_new ();
}

static void
fixture_init (Fixture *f)
{
  fixture_init_on (f, NULL);
}

static void
fixture_clear (Fixture *f)
{
  g_clear_pointer (&f->socket, natterd_socket_free);
  for (int i = 0; i < 5; i++)
    g_main_context_iteration (NULL, FALSE);
  natterd_socket_loop_free (f->loop);
  close (f->peer);
  g_byte_array_unref (f->in);
}

/* Frame @n's payload: its number, then filler of a size that varies, so
 * the kernel's buffer ends inside frames too. */
static GBytes *
payload_for (guint n)
{
  gsize size = 16 + (n * 7919) % 3000;
  guint8 *data = g_malloc (size);

  memset (data, 'a' + n % 26, size);
  memcpy (data, &n, sizeof n);
  return g_bytes_new_take (data, size);
}

/* Parses what was read: server frames are unmasked binary ones. */
static void
parse (Fixture *f)
{
  for (;;)
    {
      const guint8 *p = f->in->data;
      gsize header = 2, length;
      g_autoptr(GBytes) expected = NULL;
      guint n;

      if (f->in->len < 2)
        return;
      g_assert_cmpuint (p[0], ==, 0x82);
      length = p[1] & 0x7F;
      if (length == 126)
        {
          if (f->in->len < 4)
            return;
          length = (gsize) p[2] << 8 | p[3];
          header = 4;
        }
      g_assert_cmpuint (length, <, 126 * 1000);
      if (f->in->len < header + length)
        return;
      expected = payload_for (f->next);
      g_assert_cmpuint (length, ==, g_bytes_get_size (expected));
      memcpy (&n, p + header, sizeof n);
      g_assert_cmpuint (n, ==, f->next);
      g_assert_cmpmem (p + header, length, g_bytes_get_data (expected, NULL), length);
      f->next++;
      g_byte_array_remove_range (f->in, 0, (guint) (header + length));
    }
}

static void
read_some (Fixture *f)
{
  guint8 buffer[8192];
  gssize n;

  while ((n = read (f->peer, buffer, sizeof buffer)) > 0)
    g_byte_array_append (f->in, buffer, (guint) n);
  g_assert_true (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
  parse (f);
}

static void
pack_copy (gconstpointer  data,
           guint8        *payload)
{
  GBytes *bytes = (GBytes *) data;

  memcpy (payload, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
}

/* Frame @n: odd ones shared (through the writer thread), even ones plain,
 * every other of those packed in place (natterd_socket_send_packed()). */
static void
queue_frame (Fixture *f,
             guint    n)
{
  g_autoptr(GBytes) payload = payload_for (n);
  gsize size;
  const guint8 *data = g_bytes_get_data (payload, &size);

  if (n % 2 == 1)
    {
      NatterdSocketFrame *frame = natterd_socket_frame_new (data, size, on_settled, f);

      natterd_socket_send_frame (f->socket, frame);
      natterd_socket_frame_release (frame);
    }
  else if (n % 4 == 2)
    natterd_socket_send_packed (f->socket, size, pack_copy, payload);
  else
    natterd_socket_send (f->socket, data, size);
}

static void
read_until (Fixture *f,
            guint    count)
{
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_US;

  while (f->next < count || f->settled < count / 2)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
      read_some (f);
      if (f->next < count)
        g_usleep (200);
    }
}

/* A reader keeping up: one frame at a time, the queue's own slot. */
static void
test_one_at_a_time (void)
{
  Fixture f;

  fixture_init (&f);
  for (guint n = 0; n < 200; n++)
    {
      queue_frame (&f, n);
      read_until (&f, n + 1);
    }
  g_assert_cmpuint (natterd_socket_get_queued (f.socket), ==, 0);
  fixture_clear (&f);
}

/* A reader that stops, then reads in bursts: the queue grows past one,
 * is written from its middle, compacted and grown while frames keep
 * coming, and goes back to empty more than once. */
static void
test_bursts (void)
{
  Fixture f;
  guint n = 0;

  fixture_init (&f);
  for (guint round = 0; round < 6; round++)
    {
      guint burst = 20 + round * 37;

      for (guint i = 0; i < burst; i++, n++)
        {
          queue_frame (&f, n);
          if (i % 5 == 4)
            {
              /* Some of it is written meanwhile, and some read. */
              g_main_context_iteration (NULL, FALSE);
              if (round % 2 == 1)
                read_some (&f);
            }
        }
      if (round % 2 == 0)
        g_assert_cmpuint (natterd_socket_get_queued (f.socket), >, 0);
      read_until (&f, n);
      g_assert_cmpuint (natterd_socket_get_queued (f.socket), ==, 0);
    }
  g_assert_cmpuint (f.next, ==, n);
  g_assert_cmpuint (f.settled, ==, n / 2);
  fixture_clear (&f);
}

/* A connection that goes with frames still queued (its peer read
 * nothing): every shared frame settles once, whether one waited in the
 * connection's own slot or many in a queue, and the loop counts no byte
 * of them as queued any more. */
static void
test_close_settles (void)
{
  static const guint counts[] = { 1, 2, 3, 9, 40, 300 };

  /* Closed at once (nothing written), or after an iteration wrote what
   * the kernel took. */
  for (guint c = 0; c < 2 * G_N_ELEMENTS (counts); c++)
    {
      Fixture f;

      fixture_init (&f);
      for (guint n = 1; n <= counts[c / 2]; n++)
        queue_frame (&f, n);
      if (c % 2 == 1)
        g_main_context_iteration (NULL, FALSE);
      g_clear_pointer (&f.socket, natterd_socket_free);
      for (int i = 0; i < 5; i++)
        g_main_context_iteration (NULL, FALSE);
      g_assert_cmpuint (f.settled, ==, (counts[c / 2] + 1) / 2);
      g_assert_cmpuint (natterd_socket_loop_get_queued (f.loop), ==, 0);
      fixture_clear (&f);
    }
}

/* A group's fan-out: each shared frame queued to many connections, more
 * than the fan-out writer sends to in one io_uring batch, a third of
 * whose peers read nothing for a while (their kernel buffers fill: sends
 * that take part of a frame, or nothing). Every peer gets every frame
 * once, in order, and each frame settles once every connection took it.
 * fan-out-send does the same with one send() per connection, as where
 * io_uring is refused (NATTERD_FANOUT_URING=0, read as the loop starts). */
static void
fan_out (gboolean uring)
{
  enum { CONNECTIONS = 41, FRAMES = 120 };
  Fixture conns[CONNECTIONS];
  guint settled = 0;
  gint64 deadline;

  g_setenv ("NATTERD_FANOUT_URING", uring ? "16" : "0", TRUE);
  fixture_init_on (&conns[0], NULL);
  g_unsetenv ("NATTERD_FANOUT_URING");
  for (guint c = 1; c < CONNECTIONS; c++)
    fixture_init_on (&conns[c], conns[0].loop);

  for (guint n = 0; n < FRAMES; n++)
    {
      g_autoptr(GBytes) payload = payload_for (n);
      gsize size;
      const guint8 *data = g_bytes_get_data (payload, &size);
      NatterdSocketFrame *frame = natterd_socket_frame_new (data, size, on_settled, &conns[0]);

      for (guint c = 0; c < CONNECTIONS; c++)
        natterd_socket_send_frame (conns[c].socket, frame);
      natterd_socket_frame_release (frame);
      g_main_context_iteration (NULL, FALSE);
      for (guint c = 0; c < CONNECTIONS; c++)
        if (c % 3 != 0 || n > FRAMES / 2)
          read_some (&conns[c]);
    }

  deadline = g_get_monotonic_time () + TIMEOUT_US;
  for (;;)
    {
      guint done = 0;

      for (guint c = 0; c < CONNECTIONS; c++)
        {
          read_some (&conns[c]);
          done += conns[c].next == FRAMES;
        }
      settled = conns[0].settled;
      if (done == CONNECTIONS && settled == FRAMES)
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (200);
    }
  for (guint c = 0; c < CONNECTIONS; c++)
    {
      g_assert_cmpuint (conns[c].next, ==, FRAMES);
      g_assert_cmpuint (conns[c].in->len, ==, 0);
      g_assert_cmpuint (natterd_socket_get_queued (conns[c].socket), ==, 0);
    }
  g_assert_cmpuint (settled, ==, FRAMES);

  for (guint c = CONNECTIONS; c-- > 1;)
    {
      g_clear_pointer (&conns[c].socket, natterd_socket_free);
      close (conns[c].peer);
      g_byte_array_unref (conns[c].in);
    }
  fixture_clear (&conns[0]);
}

static void
test_fan_out (void)
{
  fan_out (TRUE);
}

static void
test_fan_out_send (void)
{
  fan_out (FALSE);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/server/socket-queue/one-at-a-time", test_one_at_a_time);
  g_test_add_func ("/server/socket-queue/bursts", test_bursts);
  g_test_add_func ("/server/socket-queue/close-settles", test_close_settles);
  g_test_add_func ("/server/socket-queue/fan-out", test_fan_out);
  g_test_add_func ("/server/socket-queue/fan-out-send", test_fan_out_send);
  return g_test_run ();
}
