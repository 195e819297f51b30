/* natter-bench-send-order.c — what the order of a fan-out's sends costs
 *
 * natterd's fan-out writer sends one small frame to each member connection
 * through io_uring, 16 sends per io_uring_enter(). This opens N loopback
 * TCP connections and does the same, in rounds, each round in one of two
 * orders taken in turn: descriptor order (the order the connections were
 * opened, as the writer sorts its batches) and a random one (a group's
 * hash order), counting the thread's CPU time in the sends alone. No
 * natterd: the kernel's part only, where most of a delivery's CPU goes
 * (#18). Linux only, raw io_uring system calls.
 *
 *   natter-bench-send-order [CONNECTIONS [ROUNDS]]   (8000 40)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define _GNU_SOURCE  /* accept4() */

#include <glib.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BATCH 16
#define FRAME 200

typedef struct
{
  int                  fd;
  unsigned            *sq_tail;
  unsigned            *sq_mask;
  unsigned            *sq_array;
  unsigned            *cq_head;
  unsigned            *cq_tail;
  unsigned            *cq_mask;
  struct io_uring_sqe *sqes;
  struct io_uring_cqe *cqes;
} Ring;

static gboolean
ring_init (Ring *ring)
{
  struct io_uring_params params;
  gsize size;
  guint8 *sq;

  memset (&params, 0, sizeof params);
  ring->fd = (int) syscall (__NR_io_uring_setup, BATCH, &params);
  if (ring->fd < 0 || !(params.features & IORING_FEAT_SINGLE_MMAP))
    return FALSE;
  size = MAX (params.sq_off.array + params.sq_entries * sizeof (unsigned),
              params.cq_off.cqes + params.cq_entries * sizeof (struct io_uring_cqe));
  sq = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring->fd, IORING_OFF_SQ_RING);
  ring->sqes = mmap (NULL, params.sq_entries * sizeof (struct io_uring_sqe), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_POPULATE, ring->fd, IORING_OFF_SQES);
  if (sq == MAP_FAILED || ring->sqes == MAP_FAILED)
    return FALSE;
  ring->sq_tail = (unsigned *) (void *) (sq + params.sq_off.tail);
  ring->sq_mask = (unsigned *) (void *) (sq + params.sq_off.ring_mask);
  ring->sq_array = (unsigned *) (void *) (sq + params.sq_off.array);
  ring->cq_head = (unsigned *) (void *) (sq + params.cq_off.head);
  ring->cq_tail = (unsigned *) (void *) (sq + params.cq_off.tail);
  ring->cq_mask = (unsigned *) (void *) (sq + params.cq_off.ring_mask);
  ring->cqes = (struct io_uring_cqe *) (void *) (sq + params.cq_off.cqes);
  return TRUE;
}

/* One batch of sends of @frame, each to its own connection; FALSE if one
 * did not send it whole. */
static gboolean
ring_send (Ring         *ring,
           const int    *fds,
           guint         n,
           const guint8 *frame)
{
  unsigned tail = *ring->sq_tail, head;
  gboolean ok = TRUE;

  for (guint k = 0; k < n; k++)
    {
      unsigned index = (tail + k) & *ring->sq_mask;
      struct io_uring_sqe *sqe = &ring->sqes[index];

      memset (sqe, 0, sizeof *sqe);
      sqe->opcode = IORING_OP_SEND;
      sqe->fd = fds[k];
      sqe->addr = (guint64) (guintptr) frame;
      sqe->len = FRAME;
      sqe->msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL;
      ring->sq_array[index] = index;
    }
  __atomic_store_n (ring->sq_tail, tail + n, __ATOMIC_RELEASE);
  if (syscall (__NR_io_uring_enter, ring->fd, n, n, IORING_ENTER_GETEVENTS, NULL, (size_t) 0) < 0)
    return FALSE;
  head = *ring->cq_head;
  for (tail = __atomic_load_n (ring->cq_tail, __ATOMIC_ACQUIRE); head != tail; head++)
    ok = ok && ring->cqes[head & *ring->cq_mask].res == FRAME;
  __atomic_store_n (ring->cq_head, head, __ATOMIC_RELEASE);
  return ok;
}

static double
thread_cpu_us (void)
{
  struct timespec now;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &now);
  return (double) now.tv_sec * G_USEC_PER_SEC + (double) now.tv_nsec / 1000.0;
}

int
main (int    argc,
      char **argv)
{
  guint n = argc > 1 ? (guint) g_ascii_strtoull (argv[1], NULL, 10) : 8000;
  guint rounds = argc > 2 ? (guint) g_ascii_strtoull (argv[2], NULL, 10) : 40;
  struct sockaddr_in address = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t length = sizeof address;
  g_autofree int *senders = NULL;
  g_autofree int *readers = NULL;
  g_autofree int *shuffled = NULL;
  guint8 frame[FRAME], drain[65536];
  double cpu[2] = { 0, 0 };
  int listener, one = 1;
  Ring ring;

  if (n < 1 || rounds < 2)
    {
      g_printerr ("usage: natter-bench-send-order [CONNECTIONS [ROUNDS >= 2]]\n");
      return 2;
    }
  if (!ring_init (&ring))
    {
      g_printerr ("natter-bench-send-order: io_uring: %s\n", g_strerror (errno));
      return 1;
    }
  listener = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0 || bind (listener, (struct sockaddr *) &address, sizeof address) != 0 ||
      listen (listener, 4096) != 0 || getsockname (listener, (struct sockaddr *) &address, &length) != 0)
    {
      g_printerr ("natter-bench-send-order: listen: %s\n", g_strerror (errno));
      return 1;
    }

  senders = g_new (int, n);
  readers = g_new (int, n);
  for (guint i = 0; i < n; i++)
    {
      readers[i] = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (readers[i] < 0 || connect (readers[i], (struct sockaddr *) &address, sizeof address) != 0 ||
          (senders[i] = accept4 (listener, NULL, NULL, SOCK_CLOEXEC)) < 0)
        {
          g_printerr ("natter-bench-send-order: connection %u: %s\n", i, g_strerror (errno));
          return 1;
        }
      setsockopt (senders[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
  /* A group's hash order, for the kernel: any order but the opening one. */
  shuffled = g_memdup2 (senders, n * sizeof (int));
  for (guint i = n - 1; i > 0; i--)
    {
      guint j = (guint) g_random_int_range (0, (gint32) i + 1);
      int swap = shuffled[i];

      shuffled[i] = shuffled[j];
      shuffled[j] = swap;
    }
  memset (frame, 'x', sizeof frame);

  for (guint r = 0; r < rounds; r++)
    {
      const int *order = r % 2 == 0 ? senders : shuffled;
      double start = thread_cpu_us ();

      for (guint i = 0; i < n; i += BATCH)
        if (!ring_send (&ring, order + i, MIN (BATCH, n - i), frame))
          {
            g_printerr ("natter-bench-send-order: a send failed\n");
            return 1;
          }
      cpu[r % 2] += thread_cpu_us () - start;
      /* Read out (not counted), so no buffer fills. */
      for (guint i = 0; i < n; i++)
        while (recv (readers[i], drain, sizeof drain, MSG_DONTWAIT) > 0)
          ;
    }

  cpu[0] /= (double) n * ((rounds + 1) / 2);
  cpu[1] /= (double) n * (rounds / 2);
  g_print ("%u connections, %u rounds: %.3f us of CPU a send in the order they were opened, "
           "%.3f us in a random order (x %.3f)\n", n, rounds, cpu[0], cpu[1], cpu[1] / cpu[0]);
  return 0;
}
