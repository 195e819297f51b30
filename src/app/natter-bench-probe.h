/* natter-bench-probe.h — figures for the app benchmark (tests/app/bench-app)
 *
 * With NATTER_APP_BENCH=1 in the environment the window measures, from the
 * process's start: the first frame, the first frame that shows the filled
 * conversation list, then (NATTER_APP_BENCH_OPEN=TYPE:TARGET) 1.5 s later, as
 * a person would click, the time from opening that chat to the frame that
 * shows its newest messages (NATTER_APP_BENCH_NEXT=N: then N more chats of
 * the list, one after the other, and their median), prints one JSON
 * line with them and the RSS, and quits. Without it nothing happens.
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
