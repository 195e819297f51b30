/* natterd-uring.h — a small io_uring for batches of non-blocking sends
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>
#include <sys/socket.h>

G_BEGIN_DECLS

typedef struct _NatterdUring NatterdUring;

/* A ring for up to @entries sends at a time; NULL where the kernel has
 * no io_uring or a seccomp filter refuses it (the caller sends itself). */
NatterdUring *natterd_uring_new         (guint              entries);
void          natterd_uring_free        (NatterdUring      *self);
/* Queues a send() (@msg NULL: @data, @length) or a sendmsg() of @msg on
 * @fd, always MSG_NOSIGNAL | MSG_DONTWAIT; @slot comes back with its
 * result. FALSE when the ring is full. */
gboolean      natterd_uring_queue_send  (NatterdUring      *self,
                                         int                fd,
                                         gconstpointer      data,
                                         gsize              length,
                                         const struct msghdr *msg,
                                         guint              slot);
/* Runs every queued send in one system call and waits for them (with
 * MSG_DONTWAIT none waits for the peer); @results[slot] gets each one's
 * send() result (bytes, or -errno). FALSE if io_uring_enter() failed:
 * the results are then unknown (nothing is sent twice: the caller gives
 * up on these connections' writes this time). */
gboolean      natterd_uring_run         (NatterdUring      *self,
                                         gssize            *results);

G_END_DECLS
