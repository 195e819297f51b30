/* natterd-uring.c — a small io_uring for batches of non-blocking sends
 *
 * A group's fan-out is one send() per member connection and message. On
 * loopback and on a busy machine each send() wakes a reader, and that
 * woken reader preempts the sender on its way back to user space: ~0.2
 * context switches per delivery for natterd's fan-out writer (#18). One
 * io_uring_enter() for a batch of sends runs them back to back in the
 * kernel (each still non-blocking, each its own socket), so the writer is
 * preempted at most once per batch and pays one system call's entry and
 * exit for all of them. Raw system calls: no liburing dependency.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-uring.h"

#include <errno.h>
#include <linux/io_uring.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

struct _NatterdUring
{
  int                  fd;
  guint                entries;
  guint                queued;       /* SQEs filled, not yet submitted */
  unsigned            *sq_head;
  unsigned            *sq_tail;
  unsigned            *sq_mask;
  unsigned            *sq_array;
  unsigned            *cq_head;
  unsigned            *cq_tail;
  unsigned            *cq_mask;
  struct io_uring_sqe *sqes;
  struct io_uring_cqe *cqes;
  void                *sq_ring;
  gsize                sq_ring_size;
  void                *cq_ring;      /* sq_ring with IORING_FEAT_SINGLE_MMAP */
  gsize                cq_ring_size;
  gsize                sqes_size;
};

void
natterd_uring_free (NatterdUring *self)
{
  if (self == NULL)
    return;
  if (self->sqes != NULL && self->sqes != MAP_FAILED)
    munmap (self->sqes, self->sqes_size);
  if (self->cq_ring != NULL && self->cq_ring != MAP_FAILED && self->cq_ring != self->sq_ring)
    munmap (self->cq_ring, self->cq_ring_size);
  if (self->sq_ring != NULL && self->sq_ring != MAP_FAILED)
    munmap (self->sq_ring, self->sq_ring_size);
  if (self->fd >= 0)
    close (self->fd);
  g_free (self);
}

NatterdUring *
natterd_uring_new (guint entries)
{
#if defined(__NR_io_uring_setup) && defined(__NR_io_uring_enter)
  struct io_uring_params params;
  NatterdUring *self;
  guint8 *sq, *cq;

  memset (&params, 0, sizeof params);
  /* Every completion is waited for in the same call: the CQ ring never
   * holds more than one batch. */
  self = g_new0 (NatterdUring, 1);
  self->fd = (int) syscall (__NR_io_uring_setup, entries, &params);
  if (self->fd < 0)
    {
      g_debug ("natterd io_uring: %s", g_strerror (errno));
      self->fd = -1;
      natterd_uring_free (self);
      return NULL;
    }
  self->entries = params.sq_entries;
  self->sq_ring_size = params.sq_off.array + params.sq_entries * sizeof (unsigned);
  self->cq_ring_size = params.cq_off.cqes + params.cq_entries * sizeof (struct io_uring_cqe);
  if (params.features & IORING_FEAT_SINGLE_MMAP)
    self->sq_ring_size = self->cq_ring_size = MAX (self->sq_ring_size, self->cq_ring_size);
  self->sq_ring = mmap (NULL, self->sq_ring_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                        self->fd, IORING_OFF_SQ_RING);
  if (self->sq_ring == MAP_FAILED)
    goto failed;
  if (params.features & IORING_FEAT_SINGLE_MMAP)
    self->cq_ring = self->sq_ring;
  else
    self->cq_ring = mmap (NULL, self->cq_ring_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                          self->fd, IORING_OFF_CQ_RING);
  if (self->cq_ring == MAP_FAILED)
    goto failed;
  self->sqes_size = params.sq_entries * sizeof (struct io_uring_sqe);
  self->sqes = mmap (NULL, self->sqes_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                     self->fd, IORING_OFF_SQES);
  if (self->sqes == MAP_FAILED)
    goto failed;

  sq = self->sq_ring;
  cq = self->cq_ring;
  self->sq_head = (unsigned *) (void *) (sq + params.sq_off.head);
  self->sq_tail = (unsigned *) (void *) (sq + params.sq_off.tail);
  self->sq_mask = (unsigned *) (void *) (sq + params.sq_off.ring_mask);
  self->sq_array = (unsigned *) (void *) (sq + params.sq_off.array);
  self->cq_head = (unsigned *) (void *) (cq + params.cq_off.head);
  self->cq_tail = (unsigned *) (void *) (cq + params.cq_off.tail);
  self->cq_mask = (unsigned *) (void *) (cq + params.cq_off.ring_mask);
  self->cqes = (struct io_uring_cqe *) (void *) (cq + params.cq_off.cqes);
  return self;

failed:
  g_debug ("natterd io_uring: mmap: %s", g_strerror (errno));
  natterd_uring_free (self);
  return NULL;
#else
  return NULL;
#endif
}

gboolean
natterd_uring_queue_send (NatterdUring        *self,
                          int                  fd,
                          gconstpointer        data,
                          gsize                length,
                          const struct msghdr *msg,
                          guint                slot)
{
  unsigned tail = *self->sq_tail + self->queued;
  unsigned index = tail & *self->sq_mask;
  struct io_uring_sqe *sqe = &self->sqes[index];

  if (self->queued >= self->entries)
    return FALSE;
  memset (sqe, 0, sizeof *sqe);
  sqe->fd = fd;
  /* MSG_DONTWAIT: a full socket buffer completes with -EAGAIN at once
   * (io_uring does not wait for it), as send() would. */
  sqe->msg_flags = MSG_NOSIGNAL | MSG_DONTWAIT;
  sqe->user_data = slot;
  if (msg != NULL)
    {
      sqe->opcode = IORING_OP_SENDMSG;
      sqe->addr = (guint64) (guintptr) msg;
      sqe->len = 1;
    }
  else
    {
      sqe->opcode = IORING_OP_SEND;
      sqe->addr = (guint64) (guintptr) data;
      sqe->len = (guint32) length;
    }
  self->sq_array[index] = index;
  self->queued++;
  return TRUE;
}

gboolean
natterd_uring_run (NatterdUring *self,
                   gssize       *results)
{
  guint n = self->queued, done = 0, to_submit = n;

  if (n == 0)
    return TRUE;
  __atomic_store_n (self->sq_tail, *self->sq_tail + n, __ATOMIC_RELEASE);
  self->queued = 0;
  while (done < n)
    {
      unsigned head, tail;
      int ret;

      /* Submits what the kernel has not taken yet and waits for the
       * rest: with MSG_DONTWAIT each completes inline, in this call. */
      ret = (int) syscall (__NR_io_uring_enter, self->fd, to_submit, n - done,
                           IORING_ENTER_GETEVENTS, NULL, (size_t) 0);
      if (ret < 0 && errno == EINTR)
        continue;
      if (ret < 0)
        return FALSE;
      to_submit -= MIN ((guint) ret, to_submit);
      head = *self->cq_head;
      tail = __atomic_load_n (self->cq_tail, __ATOMIC_ACQUIRE);
      for (; head != tail; head++, done++)
        {
          struct io_uring_cqe *cqe = &self->cqes[head & *self->cq_mask];

          results[cqe->user_data] = cqe->res;
        }
      __atomic_store_n (self->cq_head, head, __ATOMIC_RELEASE);
    }
  return TRUE;
}
