/* natter-test-stack.h — every thread's stack when a test logs a warning
 *
 * g_test_init() makes warnings and criticals fatal; a rare one (a race in
 * a GStreamer element, a GTK timer) is only worth something with the
 * stacks of all threads at that moment. natter_test_stack_init() installs
 * a log writer that, on a warning, critical or error, prints them (gdb
 * attached to the test, when gdb is installed) before the test aborts.
 * gdb gets NATTER_TEST_STACK_TIMEOUT seconds (default 60): then it is
 * killed and the test fails with what it had printed.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Before g_test_init(). */
void natter_test_stack_init (void);

/* gst-plugins-good 1.22.0's rtpsession cleanup race (see the .c): not
 * fatal from the session's RTCP thread. GLib clears the handler before
 * every test case, so a fixture's setup (or the test) calls this. */
void natter_test_stack_allow_gst_rtpsession_race (void);

G_END_DECLS
