/* natter-bench-send-order.c — what the order of a fan-out's sends costs
 *
 * natterd's fan-out writer sends one small frame to each member connection
 * through io_uring, 16 sends per io_uring_enter(). This opens N loopback
 * TCP connections and does the same, in rounds, each round in one of two
 * orders taken in turn: descriptor order (the order the connections were
 * opened, as the writer sorts its batches) and a random one (a group's
 * hash order), counting the thread's CPU time in the sends alone. No
 * natterd: the kernel's part only, where most of a delivery's CPU goes
 * (#18), through natterd's io_uring (natterd-uring.c).
 *
 *   natter-bench-send-order [CONNECTIONS [ROUNDS]]   (8000 40)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define _GNU_SOURCE  /* accept4() */

#include "natterd-uring.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 16
#define FRAME 200

/* One batch of sends of @frame, each to its own connection, through
 * natterd's own ring (natterd-uring.c); FALSE if one did not send it
 * whole. */
static gboolean
ring_send (NatterdUring *ring,
           const int    *fds,
           guint         n,
           const guint8 *frame)
{
  gssize results[BATCH];

  for (guint k = 0; k < n; k++)
    natterd_uring_queue_send (ring, fds[k], frame, FRAME, NULL, k);
  if (!natterd_uring_run (ring, results))
    return FALSE;
  for (guint k = 0; k < n; k++)
    if (results[k] != FRAME)
      return FALSE;
  return TRUE;
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
  NatterdUring *ring;

  if (n < 1 || rounds < 2)
    {
      g_printerr ("usage: natter-bench-send-order [CONNECTIONS [ROUNDS >= 2]]\n");
      return 2;
    }
  ring = natterd_uring_new (BATCH);
  if (ring == NULL)
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
        if (!ring_send (ring, order + i, MIN (BATCH, n - i), frame))
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
  natterd_uring_free (ring);
  return 0;
}
