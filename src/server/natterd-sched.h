/* natterd-sched.h — the scheduling of natterd's latency-bound threads
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The calling thread is one a message waits on: it gets the time slice
 * NATTERD_SLICE_US sets, or, unset, the adaptive one (#17, #18): see
 * natterd-sched.c. Nothing happens where the kernel has no such request
 * (before Linux 6.12 the value is kept and has no effect). A thread that
 * called it forgets it before it ends. */
void natterd_sched_prefer_latency (void);
void natterd_sched_forget_latency (void);
/* The messages natterd published or delivered a second, whichever is
 * more, lately: the adaptive slices follow it. Returns whether they are
 * on. */
gboolean natterd_sched_note_rate  (double messages_per_second);
/* The same with a slice of @us (at least 100; 0 does nothing). */
void natterd_sched_set_slice      (guint us);
/* This thread's work is nobody's latency: it yields the CPU and the disk. */
void natterd_sched_prefer_background (void);
/* The slice of thread @tid (0: the calling one) in ns, as the kernel
 * reports it (0 where it has none per thread); -1 on error. */
gint64 natterd_sched_get_slice    (int   tid);

G_END_DECLS
