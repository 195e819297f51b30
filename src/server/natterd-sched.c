/* natterd-sched.c — short time slices for the threads a message waits on
 *
 * On two cores shared with the clients (and, at #18's load, with the
 * fan-out writer's thousands of sends), a thread that wakes up, its
 * message in hand, found both CPUs taken and waited for one to finish
 * its slice: 1.4 ms by default here (EEVDF: 0.7 ms × (1 + log2 CPUs)),
 * at each of the four hand-overs of a message (the main thread reads it,
 * the store's writer commits it, a sync thread syncs it, the main thread
 * acks and delivers it). Linux 6.12's EEVDF lets a thread ask for a
 * shorter slice (sched_setattr()'s sched_runtime for SCHED_OTHER): its
 * deadline comes sooner, so on waking it preempts a thread with the
 * default slice instead of queueing behind it. Its share of the CPU is
 * unchanged (that is its weight, its nice value); only the waits are
 * shorter. The fan-out writer, the checkpointer and the readers keep the
 * default: throughput, not latency.
 *
 * Off by default (#17): over two quiet-box rounds the 0.2 ms slices
 * bought no p99 at 2,000 or 5,000 msgs/s and cost p99.9 at 5,000 (12-17
 * against 9-10 ms), the head-of-line ratio moved within its noise, and
 * eight interleaved rounds on a loaded box split both ways (README,
 * round 9 of #17). NATTERD_SLICE_US=N asks for N µs (100 to 100000; 200
 * is what was measured), 0 or unset leaves the kernel's: benchmarks
 * compare both with one binary.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define _GNU_SOURCE  /* SCHED_BATCH */

#include "natterd-sched.h"

#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SLICE_US 0

/* <linux/sched/types.h>'s, which glibc does not wrap. */
struct natterd_sched_attr
{
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t  sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime;
  uint64_t sched_deadline;
  uint64_t sched_period;
};

static guint
slice_us (void)
{
  static gsize slice;

  if (g_once_init_enter (&slice))
    {
      const char *env = g_getenv ("NATTERD_SLICE_US");
      guint64 value = SLICE_US;

      if (env != NULL && !g_ascii_string_to_unsigned (env, 10, 0, 100000, &value, NULL))
        value = SLICE_US;
      g_once_init_leave (&slice, value + 1);
    }
  return (guint) (slice - 1);
}

void
natterd_sched_prefer_latency (void)
{
  natterd_sched_set_slice (slice_us ());
}

void
natterd_sched_set_slice (guint us)
{
#ifdef SYS_sched_setattr
  struct natterd_sched_attr attr;

  if (us == 0)
    return;
  /* The thread's policy and nice value stay as they are. Best effort: an
   * older kernel or a seccomp filter says no, and the thread keeps the
   * default slice. */
  memset (&attr, 0, sizeof attr);
  if (syscall (SYS_sched_getattr, 0, &attr, sizeof attr, 0) != 0 || attr.sched_policy != SCHED_OTHER)
    return;
  attr.size = sizeof attr;
  attr.sched_flags = 0;
  attr.sched_runtime = (uint64_t) MAX (us, 100) * 1000;
  (void) syscall (SYS_sched_setattr, 0, &attr, 0);
#endif
}

/* The checkpointer (#17): its page copies and database writes are the
 * WAL's bound, not anyone's latency, yet on two cores and one disk they
 * ran beside the commits' syncs. SCHED_BATCH keeps its share of the CPU
 * but lets it preempt no one on waking; the idle I/O class makes the
 * block layer's scheduler (mq-deadline here, which ages a waiting request
 * past 10 s into the queue anyway) send the commits' writes first. Best
 * effort, like the slices; NATTERD_CHECKPOINT_BACKGROUND=0 leaves both. */
#define IOPRIO_CLASS_IDLE 3
#define IOPRIO_CLASS_SHIFT 13
#define IOPRIO_WHO_PROCESS 1

void
natterd_sched_prefer_background (void)
{
  struct sched_param param = { 0 };

  if (g_strcmp0 (g_getenv ("NATTERD_CHECKPOINT_BACKGROUND"), "0") == 0)
    return;
  (void) sched_setscheduler (0, SCHED_BATCH, &param);
#ifdef SYS_ioprio_set
  (void) syscall (SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT);
#endif
}

gint64
natterd_sched_get_slice (int tid)
{
#ifdef SYS_sched_getattr
  struct natterd_sched_attr attr;

  memset (&attr, 0, sizeof attr);
  if (syscall (SYS_sched_getattr, tid, &attr, sizeof attr, 0) != 0)
    return -1;
  return (gint64) attr.sched_runtime;
#else
  return 0;
#endif
}
