/* natter-test-gio-log.h — what GStreamer's GIO source logs, kept
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* From now on, every warning or error the GIO source elements (giosrc:
 * resource:// and file:// sounds) log is kept. After gst_init(). */
void  natter_test_gio_log_watch           (void);
/* How many were kept since the watch or the last forget. */
guint natter_test_gio_log_count           (void);
void  natter_test_gio_log_forget          (void);
/* Each kept one as a test message, and none was kept. */
void  natter_test_gio_log_assert_none     (void);

G_END_DECLS
