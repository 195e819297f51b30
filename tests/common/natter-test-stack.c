/* natter-test-stack.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-test-stack.h"

#include <sys/prctl.h>
#include <unistd.h>

/* A writer sees GObject's and GStreamer's warnings too, which
 * g_test_log_set_fatal_handler() does not; it runs in the thread that
 * logged, so that thread is still inside the call that failed. */
static GLogWriterOutput
log_writer_with_stack (GLogLevelFlags   level,
                       const GLogField *fields,
                       gsize            n_fields,
                       gpointer         user_data)
{
  GLogWriterOutput ret = g_log_writer_default (level, fields, n_fields, user_data);

  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    {
      g_autofree char *pid = g_strdup_printf ("%d", (int) getpid ());
      const char *argv[] = { "gdb", "-q", "-batch", "-p", pid,
                             "-ex", "thread apply all bt 40", NULL };
      g_autofree char *out = NULL;

      if (g_spawn_sync (NULL, (char **) argv, NULL,
                        G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                        NULL, NULL, &out, NULL, NULL, NULL))
        g_printerr ("%s\n", out);
    }
  return ret;
}

void
natter_test_stack_init (void)
{
  /* under Yama's ptrace_scope 1 a child may not attach to its parent
   * unless the parent allows it */
  prctl (PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
  g_log_set_writer_func (log_writer_with_stack, NULL, NULL);
}
