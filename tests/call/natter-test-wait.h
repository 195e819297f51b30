/* natter-test-wait.h — run the main loop until a condition holds
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef gboolean (*NatterTestCondition) (gpointer data);

static gboolean
natter_test_wait_timed_out (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* ASan makes encoding, decoding and the rest several times slower: the
 * same conditions get more time (build-aux/dev --asan multiplies meson's
 * timeouts too). */
#if defined(__SANITIZE_ADDRESS__)
#define NATTER_TEST_WAIT_SCALE 4
#else
#define NATTER_TEST_WAIT_SCALE 1
#endif

/* Iterates the default main context until @condition (@data) is TRUE or
 * @seconds (times NATTER_TEST_WAIT_SCALE) passed; FALSE on timeout. */
static inline gboolean
natter_test_wait (NatterTestCondition condition,
                  gpointer            data,
                  guint               seconds)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add_seconds (seconds * NATTER_TEST_WAIT_SCALE, natter_test_wait_timed_out, &timed_out);

  while (!condition (data) && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (id);
  return !timed_out;
}

G_END_DECLS
