/* natter-bench-probe.h — figures for the app benchmark (tests/app/bench-app)
 *
 * With NATTER_APP_BENCH=1 in the environment the window measures, from the
 * process's start: the map, the first frame, the first frame that shows the
 * filled conversation list, the RSS 5 s after the map, then
 * (NATTER_APP_BENCH_OPEN=TYPE:TARGET) at that moment (at least 1.5 s after
 * the list, as a person would click) the time from opening that chat to
 * the frame that shows its newest messages (NATTER_APP_BENCH_NEXT=N: then
 * N more chats of the list, one after the other, and their median;
 * NATTER_APP_BENCH_SCROLL=1: then a fling up to the chat's first message at
 * NATTER_APP_BENCH_SCROLL_SPEED px/s, default 12000, with the frame clock's
 * intervals and each frame's paint time; it ends at the top once
 * NATTER_APP_BENCH_SCROLL_MESSAGES are loaded, as offline the list cannot
 * know it has the first one), prints one JSON line with them
 * and the RSS, and quits (the next chats' median of the main thread's CPU
 * time too; NATTER_APP_BENCH_MARK=1 prints when the first chat was opened
 * and drawn, for perf; NATTER_APP_BENCH_OPEN_AFTER_MS=MS opens the chat
 * MS after the list's frame instead, for runs under valgrind; NATTER_APP_BENCH_CHILD_ENV=1 spawns `env` at the
 * end and prints the GDK_DEBUG it saw). Each open's redrawn pixels are
 * counted by the X server (natter-damage-meter.h): all, and outside the chat
 * view (NATTER_APP_BENCH_DAMAGE=1 prints their rectangles on stderr;
 * NATTER_APP_BENCH_NODES=DIR writes the window's render nodes at each open's
 * start and end there). Without it nothing happens.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

typedef struct _NatterWindow NatterWindow;

/* Called by the window when it is created. */
void natter_bench_probe_attach (NatterWindow *window);

G_END_DECLS
