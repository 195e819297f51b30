/* natterd-log.h — structured logging to stderr, one event a line
 *
 * Every line carries a timestamp, a level and an event name, then key=value
 * fields (text) or one JSON object (json), so operators can grep or feed it
 * to a log pipeline.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

gboolean natterd_log_init  (const char     *level,
                            const char     *format,
                            GError        **error);

/* natterd_log (G_LOG_LEVEL_INFO, "connect", "user", id, "app", key, NULL):
 * key/value string pairs, NULL-terminated; a NULL value is skipped. */
void     natterd_log       (GLogLevelFlags  level,
                            const char     *event,
                            ...) G_GNUC_NULL_TERMINATED;

gboolean natterd_log_enabled (GLogLevelFlags level);

/* Appends @value (NULL as "") as a JSON string. JSON log lines and the
 * history export are written by hand, a line at a time, with this. */
void     natterd_json_append_string (GString    *out,
                                     const char *value);

/* Lines are written by a thread of their own; this waits until every line
 * logged so far is written, 5 s at most (also done at exit). */
void     natterd_log_flush   (void);
/* The calling thread runs the default main context from now on: its lines
 * wake the writer thread once per main-loop iteration, not once each. */
void     natterd_log_batch_in_main_loop (void);
/* Its loop is done: each line wakes the writer again. */
void     natterd_log_batch_end          (void);

G_END_DECLS
