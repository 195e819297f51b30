/* test-sched.c — natterd's main thread, its store's writer and its sync
 * threads ask for a 0.2 ms time slice (natterd-sched.c, #17, #18): with
 * NATTERD_SLICE_US=200 always, by default while natterd's message rate is
 * low (adaptive: off above NATTERD_SLICE_RATE, a few here), never with
 * NATTERD_SLICE_US=0; the fan-out writer, the readers and the others keep
 * the kernel's. Read
 * back with sched_getattr() on each thread of a running natterd. A kernel
 * without per-thread slices (before Linux 6.12) reports none for any
 * thread, and then none is asked of natterd's either. natterd-sched.c
 * is built into the test for natterd_sched_get_slice().
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define _GNU_SOURCE  /* SCHED_BATCH */

#include "natter-test-client.h"

#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "natterd-sched.h"

/* natterd's threads by name: the slice (ns) of the first one so named,
 * and its id in @tids if not NULL. */
static GHashTable *
thread_slices (GPid         pid,
               GHashTable **tids)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/task", (int) pid);
  g_autoptr(GDir) tasks = g_dir_open (path, 0, NULL);
  GHashTable *slices = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  const char *tid;

  g_assert_nonnull (tasks);
  if (tids != NULL)
    *tids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  while ((tid = g_dir_read_name (tasks)) != NULL)
    {
      g_autofree char *comm_file = g_build_filename (path, tid, "comm", NULL);
      g_autofree char *comm = NULL;
      gint64 slice;

      if (!g_file_get_contents (comm_file, &comm, NULL, NULL))
        continue;
      g_strstrip (comm);
      slice = natterd_sched_get_slice ((int) g_ascii_strtoll (tid, NULL, 10));
      g_assert_cmpint (slice, >=, 0);
      g_test_message ("%s (%s): slice %" G_GINT64_FORMAT " ns", comm, tid, slice);
      /* The main thread's name is the executable's. */
      if (g_ascii_strtoll (tid, NULL, 10) == (gint64) pid)
        g_hash_table_replace (slices, g_strdup ("main"), GSIZE_TO_POINTER ((gsize) slice));
      if (tids != NULL && !g_hash_table_contains (*tids, comm))
        g_hash_table_insert (*tids, g_strdup (comm), GSIZE_TO_POINTER ((gsize) g_ascii_strtoll (tid, NULL, 10)));
      if (!g_hash_table_contains (slices, comm))
        g_hash_table_insert (slices, g_strdup (comm), GSIZE_TO_POINTER ((gsize) slice));
    }
  return slices;
}

/* @slice_ns: what the latency threads should have, 0 for the kernel's. */
static void
check_slices (const char *env,
              gsize       slice_ns)
{
  g_autoptr(NatterTestServer) server = NULL;
  g_autoptr(NatterTestClient) alice = NULL;
  g_autoptr(NatterFrame) ack = NULL;
  g_autoptr(GHashTable) slices = NULL;
  const char *latency[] = { "main", "natterd-writer", "natterd-sync" };
  gsize fallback;

  /* natterd inherits the test's environment. */
  if (env != NULL)
    g_setenv ("NATTERD_SLICE_US", env, TRUE);
  else
    g_unsetenv ("NATTERD_SLICE_US");
  server = natter_test_server_new ();
  alice = natter_test_client_new_user (server, "alice", "a1");

  /* A message through: every thread is up. */
  ack = natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg", "{\"content\":\"hi\"}");
  g_assert_nonnull (ack);
  slices = thread_slices (natter_test_server_get_pid (server), NULL);

  g_assert_true (g_hash_table_contains (slices, "natterd-fanout"));
  fallback = GPOINTER_TO_SIZE (g_hash_table_lookup (slices, "natterd-fanout"));
  for (guint i = 0; i < G_N_ELEMENTS (latency); i++)
    {
      g_assert_true (g_hash_table_contains (slices, latency[i]));
      /* No slices on this kernel: none asked for. */
      if (fallback == 0)
        g_assert_cmpuint (GPOINTER_TO_SIZE (g_hash_table_lookup (slices, latency[i])), ==, 0);
      else
        g_assert_cmpuint (GPOINTER_TO_SIZE (g_hash_table_lookup (slices, latency[i])), ==,
                          slice_ns != 0 ? slice_ns : fallback);
    }
  g_assert_true (fallback == 0 || fallback > 200000);
}

static void
test_latency_slices (void)
{
  check_slices ("200", 200000);
}

/* #17: NATTERD_SLICE_US=0, never. */
static void
test_no_slices (void)
{
  check_slices ("0", 0);
}

/* #17: by default, on while the rate is low (an idle natterd). */
static void
test_default_slices (void)
{
  check_slices (NULL, 200000);
}

/* The main thread's slice, as the kernel has it now. */
static gint64
main_slice (NatterTestServer *server)
{
  g_autoptr(GHashTable) slices = thread_slices (natter_test_server_get_pid (server), NULL);

  return (gint64) GPOINTER_TO_SIZE (g_hash_table_lookup (slices, "main"));
}

/* #17: the adaptive slices go off while messages flow faster than
 * NATTERD_SLICE_RATE a second (throughput matters then), and on again
 * once they slow down. natterd looks at its rate each second. */
static void
test_adaptive_slices (void)
{
  g_autoptr(NatterTestServer) server = NULL;
  g_autoptr(NatterTestClient) alice = NULL;
  g_autoptr(NatterTestClient) bob = NULL;
  gint64 deadline;

  g_unsetenv ("NATTERD_SLICE_US");
  g_setenv ("NATTERD_SLICE_RATE", "3", TRUE);
  server = natter_test_server_new ();
  g_unsetenv ("NATTERD_SLICE_RATE");
  alice = natter_test_client_new_user (server, "alice", "a1");
  bob = natter_test_client_new_user (server, "bob", "b1");
  /* No slices on this kernel (its own thread has none): none asked for. */
  if (natterd_sched_get_slice (0) == 0)
    {
      g_assert_cmpint (main_slice (server), ==, 0);
      return;
    }
  g_assert_cmpint (main_slice (server), ==, 200000);

  /* Tens to hundreds a second, one at a time, against 3: until natterd
   * sees it. */
  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (main_slice (server) == 200000)
    {
      for (guint i = 0; i < 50; i++)
        {
          g_autoptr(NatterFrame) ack = natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg",
                                                                        "{\"content\":\"hi\"}");

          g_assert_nonnull (ack);
        }
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    }
  /* Off: the kernel's (none on a kernel without them, never asked). */
  g_assert_cmpint (main_slice (server), !=, 200000);

  /* Quiet: on again within a couple of seconds. */
  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (main_slice (server) != 200000)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (100000);
    }
}

/* #17: the checkpointer yields the CPU (SCHED_BATCH) and the disk (the
 * idle I/O class) to the commits' threads, which keep the defaults. */
static void
test_checkpointer_background (void)
{
  g_autoptr(NatterTestServer) server = NULL;
  g_autoptr(NatterTestClient) alice = NULL;
  g_autoptr(NatterFrame) ack = NULL;
  g_autoptr(GHashTable) slices = NULL;
  g_autoptr(GHashTable) tids = NULL;
  int checkpointer, syncer;

  server = natter_test_server_new ();
  alice = natter_test_client_new_user (server, "alice", "a1");
  ack = natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg", "{\"content\":\"hi\"}");
  g_assert_nonnull (ack);
  slices = thread_slices (natter_test_server_get_pid (server), &tids);
  checkpointer = (int) GPOINTER_TO_SIZE (g_hash_table_lookup (tids, "natterd-ckpt"));
  syncer = (int) GPOINTER_TO_SIZE (g_hash_table_lookup (tids, "natterd-sync"));
  g_assert_cmpint (checkpointer, >, 0);
  g_assert_cmpint (syncer, >, 0);
  g_assert_cmpint (sched_getscheduler (checkpointer), ==, SCHED_BATCH);
  g_assert_cmpint (sched_getscheduler (syncer), ==, SCHED_OTHER);
  /* IOPRIO_WHO_PROCESS, a thread's id: the class is the top 3 of 16 bits. */
  g_assert_cmpint (syscall (SYS_ioprio_get, 1, checkpointer) >> 13, ==, 3 /* idle */);
  g_assert_cmpint (syscall (SYS_ioprio_get, 1, syncer) >> 13, !=, 3);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/server/sched/latency-slices", test_latency_slices);
  g_test_add_func ("/server/sched/no-slices", test_no_slices);
  g_test_add_func ("/server/sched/default-slices", test_default_slices);
  g_test_add_func ("/server/sched/adaptive-slices", test_adaptive_slices);
  g_test_add_func ("/server/sched/checkpointer-background", test_checkpointer_background);
  return g_test_run ();
}
