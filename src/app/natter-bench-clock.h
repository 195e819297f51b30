/* natter-bench-clock.h — the clock and the RSS of the app benchmark
 *
 * Inline, so tests/app/bench-bare-window.c measures its bare window as the
 * bench probe measures natter without linking anything of natter's.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

G_BEGIN_DECLS

/* CLOCK_BOOTTIME, in ms: the clock of /proc/self/stat's start time. */
static inline double
natter_bench_boottime_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_BOOTTIME, &ts);
  return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* When this process started, from /proc/self/stat (field 22, in ticks since boot). */
static inline double
natter_bench_process_start_ms (void)
{
  g_autofree char *stat = NULL;
  const char *p;
  long ticks = sysconf (_SC_CLK_TCK);

  if (!g_file_get_contents ("/proc/self/stat", &stat, NULL, NULL) ||
      (p = strrchr (stat, ')')) == NULL)
    return natter_bench_boottime_ms ();
  p += 2;
  /* fields 3.. after the command name; starttime is field 22 */
  for (int field = 3; field < 22 && p != NULL; field++)
    {
      p = strchr (p, ' ');
      if (p != NULL)
        p++;
    }
  if (p == NULL)
    return natter_bench_boottime_ms ();
  return g_ascii_strtoull (p, NULL, 10) * 1000.0 / ticks;
}

static inline double
natter_bench_since_start_ms (void)
{
  return natter_bench_boottime_ms () - natter_bench_process_start_ms ();
}

/* The calling thread's CPU time, in ms: to the map, a figure a loaded box
 * moves far less than the wall clock (#17). */
static inline double
natter_bench_thread_cpu_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static inline long
natter_bench_rss_kib (void)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL) ||
      (line = strstr (status, "VmRSS:")) == NULL)
    return 0;
  return strtol (line + 6, NULL, 10);
}

G_END_DECLS
