/* test-helpers.h — waiting for async results in tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* A GAsyncReadyCallback that stores the result in *(GAsyncResult **) user_data. */
void          test_store_result_cb (GObject      *object,
                                    GAsyncResult *result,
                                    gpointer      user_data);
/* Iterates the thread-default main context until *result is set (or the
 * timeout in seconds passes: then the test fails). Returns *result (still
 * owned by the caller's variable: clear it before the next call). */
GAsyncResult *test_wait_result     (GAsyncResult **result,
                                    guint          timeout_s);
/* Iterates until @condition returns TRUE or the timeout fails the test. */
void          test_wait_until      (gboolean     (*condition) (gpointer data),
                                    gpointer       data,
                                    guint          timeout_s,
                                    const char    *what);
/* Runs the main context for @ms milliseconds. */
void          test_spin            (guint          ms);

G_END_DECLS
