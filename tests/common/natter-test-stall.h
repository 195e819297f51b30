/* natter-test-stall.h — the longest the main loop stalled, for the tests
 * that check slow work stays off the main thread (#15)
 *
 * A 20 ms timeout on the default main context notes the longest gap
 * between two of its runs, from natter_test_stall_start() on.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

typedef struct
{
  gint64 last;
  gint64 longest;   /* µs */
  guint  id;
} NatterTestStall;

static inline gboolean
natter_test_stall_tick (gpointer user_data)
{
  NatterTestStall *stall = user_data;
  gint64 now = g_get_monotonic_time ();

  stall->longest = MAX (stall->longest, now - stall->last);
  stall->last = now;
  return G_SOURCE_CONTINUE;
}

static inline void
natter_test_stall_start (NatterTestStall *stall)
{
  stall->last = g_get_monotonic_time ();
  stall->longest = 0;
  stall->id = g_timeout_add (20, natter_test_stall_tick, stall);
}

/* The longest stall in µs (the time since the last tick counts too). */
static inline gint64
natter_test_stall_stop (NatterTestStall *stall)
{
  natter_test_stall_tick (stall);
  g_clear_handle_id (&stall->id, g_source_remove);
  return stall->longest;
}
