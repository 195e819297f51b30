/* natter-fuzz.h — what every fuzz target shares
 *
 * Each target defines LLVMFuzzerTestOneInput(). Built with -Dfuzzing=true
 * (clang) libFuzzer drives it; otherwise natter-fuzz-replay.c's main() runs
 * the inputs of its corpus once, as a test.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

/* Bad input is expected to be warned about: warnings and less are not
 * printed (that would be most of a run's time). A critical is a
 * g_return_if_fail() that failed, a bug: it aborts, so the input is kept. */
static GLogWriterOutput
natter_fuzz_log_writer (GLogLevelFlags   log_level,
                        const GLogField *fields,
                        gsize            n_fields,
                        gpointer         user_data)
{
  if (log_level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
    {
      g_log_writer_standard_streams (log_level, fields, n_fields, user_data);
      abort ();
    }
  return G_LOG_WRITER_HANDLED;
}

static inline void
natter_fuzz_quiet_logs (void)
{
  static gsize once;

  if (g_once_init_enter (&once))
    {
      g_log_set_writer_func (natter_fuzz_log_writer, NULL, NULL);
      g_once_init_leave (&once, 1);
    }
}

/* @data as the nul-terminated string a protobuf string field or an HTTP
 * header gives the parser: up to its first NUL. */
static inline char *
natter_fuzz_string (const guint8 *data,
                    size_t        size)
{
  return g_strndup ((const char *) data, size);
}

/* natter-fuzz-token: the app whose tokens its seeds are (natter-fuzz-seeds
 * issues them with the same key), and the time it checks them at. */
#define NATTER_FUZZ_APP_KEY   "fuzzapp"
#define NATTER_FUZZ_TOKEN_KEY "natter-fuzz-token-key-0123456789"
#define NATTER_FUZZ_NOW_MS    G_GINT64_CONSTANT (1700000000000)
