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
 * Adaptive by default (#17, round 11): on while natterd publishes and
 * delivers fewer than SLICE_RATE_ON messages a second, off above
 * SLICE_RATE_OFF. Below, latency is what matters (#17's open-loop
 * bounds: with the slices the quiet box met p99 < 3 ms at 2,000 msgs/s
 * and < 5 ms at 5,000 in 2 of 2 rounds, without in 1 of 2); above, the
 * CPU is the bound and the slices' extra preemptions cost the closed loop
 * ~10 % of its throughput. natterd_sched_note_rate() (the server's
 * sweep, each second) switches the latency threads' slices together,
 * setting them by thread id. NATTERD_SLICE_US=N asks for N µs always
 * (100 to 100000), 0 never: benchmarks compare the three with one
 * binary.
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

/* The adaptive mode's slice, and the rates (publishes or deliveries a
 * second, whichever is more) it switches at. */
#define SLICE_US 200
#define SLICE_RATE_ON 8000
#define SLICE_RATE_OFF 12000
G_STATIC_ASSERT (SLICE_RATE_ON == SLICE_RATE_OFF * 2 / 3);

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

/* NATTERD_SLICE_US: -1 unset (adaptive), else the slice always (0: none). */
static gint64
forced_slice_us (void)
{
  static gsize forced;

  if (g_once_init_enter (&forced))
    {
      const char *env = g_getenv ("NATTERD_SLICE_US");
      guint64 value = 0;
      gint64 mode = -1;

      if (env != NULL && g_ascii_string_to_unsigned (env, 10, 0, 100000, &value, NULL))
        mode = (gint64) value;
      g_once_init_leave (&forced, (gsize) (mode + 2));
    }
  return (gint64) forced - 2;
}

/* The latency threads' ids, and whether the adaptive slices are on. */
static GMutex latency_lock;
static GArray *latency_tids;
static gboolean adaptive_on = TRUE;

static void
set_slice_of (pid_t tid,
              guint us)
{
#ifdef SYS_sched_setattr
  struct natterd_sched_attr attr;

  /* The thread's policy and nice value stay as they are. Best effort: an
   * older kernel or a seccomp filter says no, and the thread keeps the
   * default slice. Runtime 0 gives the kernel's slice back. */
  memset (&attr, 0, sizeof attr);
  if (syscall (SYS_sched_getattr, tid, &attr, sizeof attr, 0) != 0 || attr.sched_policy != SCHED_OTHER)
    return;
  attr.size = sizeof attr;
  attr.sched_flags = 0;
  attr.sched_runtime = us == 0 ? 0 : (uint64_t) MAX (us, 100) * 1000;
  (void) syscall (SYS_sched_setattr, tid, &attr, 0);
#endif
}

void
natterd_sched_prefer_latency (void)
{
  gint64 forced = forced_slice_us ();
  pid_t tid = (pid_t) syscall (SYS_gettid);

  if (forced >= 0)
    {
      natterd_sched_set_slice ((guint) forced);
      return;
    }
  g_mutex_lock (&latency_lock);
  if (latency_tids == NULL)
    latency_tids = g_array_new (FALSE, FALSE, sizeof (pid_t));
  g_array_append_val (latency_tids, tid);
  if (adaptive_on)
    set_slice_of (tid, SLICE_US);
  g_mutex_unlock (&latency_lock);
}

void
natterd_sched_forget_latency (void)
{
  pid_t tid = (pid_t) syscall (SYS_gettid);

  g_mutex_lock (&latency_lock);
  for (guint i = 0; latency_tids != NULL && i < latency_tids->len; i++)
    if (g_array_index (latency_tids, pid_t, i) == tid)
      {
        g_array_remove_index_fast (latency_tids, i);
        break;
      }
  g_mutex_unlock (&latency_lock);
}

/* NATTERD_SLICE_RATE=N: off above N, on below 2/3 N (tests). */
static double
rate_off (void)
{
  static gsize rate;

  if (g_once_init_enter (&rate))
    {
      const char *env = g_getenv ("NATTERD_SLICE_RATE");
      guint64 value = SLICE_RATE_OFF;

      if (env == NULL || !g_ascii_string_to_unsigned (env, 10, 3, 10000000, &value, NULL))
        value = SLICE_RATE_OFF;
      g_once_init_leave (&rate, value);
    }
  return (double) rate;
}

gboolean
natterd_sched_note_rate (double messages_per_second)
{
  gboolean on;

  if (forced_slice_us () >= 0)
    return forced_slice_us () > 0;
  g_mutex_lock (&latency_lock);
  on = adaptive_on ? messages_per_second < rate_off () : messages_per_second < rate_off () * 2 / 3;
  if (on != adaptive_on)
    {
      adaptive_on = on;
      for (guint i = 0; latency_tids != NULL && i < latency_tids->len; i++)
        set_slice_of (g_array_index (latency_tids, pid_t, i), on ? SLICE_US : 0);
    }
  g_mutex_unlock (&latency_lock);
  return on;
}

void
natterd_sched_set_slice (guint us)
{
  if (us > 0)
    set_slice_of (0, us);
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
