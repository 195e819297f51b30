/* test-stack.c — the stack printer fails a warning fast, whatever gdb does
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gstdio.h>
#include <signal.h>

#include "natter-test-stack.h"

/* A gdb that prints its first line and then hangs, as the attach on a
 * loaded box once did for the whole test timeout. */
static char *
install_hanging_gdb (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("natter-test-stack-XXXXXX", &error);
  g_autofree char *path = NULL;

  g_assert_no_error (error);
  path = g_build_filename (dir, "gdb", NULL);
  g_assert_true (g_file_set_contents (path, "#!/bin/sh\necho 'Thread 1 (fake gdb)'\nexec sleep 600\n", -1, NULL));
  g_assert_cmpint (g_chmod (path, 0755), ==, 0);
  return dir;
}

static void
test_hanging_gdb (void)
{
  if (g_test_subprocess ())
    {
      natter_test_stack_init ();
      g_warning ("a warning in the test");
      return;
    }

  {
    g_autofree char *dir = install_hanging_gdb ();
    g_autofree char *path = g_strdup_printf ("%s:%s", dir, g_getenv ("PATH"));
    g_autofree char *command = g_strdup_printf ("rm -rf '%s'", dir);

    /* the subprocess inherits them */
    g_setenv ("PATH", path, TRUE);
    g_setenv ("NATTER_TEST_STACK_TIMEOUT", "3", TRUE);
    /* generous for a loaded box; the fake gdb alone would take 600 s */
    g_test_trap_subprocess (NULL, 120 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
    g_assert_false (g_test_trap_reached_timeout ());
    g_test_trap_assert_failed ();
    g_test_trap_assert_stderr ("*a warning in the test*Thread 1 (fake gdb)*gdb killed after 3 s*");
    g_assert_cmpint (system (command), ==, 0);
  }
}

/* Not inlined, not static: gdb names it from the symbol table alone. */
G_GNUC_NO_INLINE void natter_test_crash_here (void);

void
natter_test_crash_here (void)
{
  raise (SIGSEGV);
  /* not reached; keeps raise() from being a tail call without this frame */
  g_printerr ("survived a crash\n");
}

/* A crash, as in a test's exit after it passed: the stacks say where. */
static void
test_crash (void)
{
  if (g_test_subprocess ())
    {
      natter_test_stack_init ();
      natter_test_crash_here ();
      return;
    }

  g_setenv ("NATTER_TEST_STACK_TIMEOUT", "100", TRUE);
  g_test_trap_subprocess (NULL, 120 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_assert_false (g_test_trap_reached_timeout ());
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*crashed: the stacks of every thread follow*natter_test_crash_here*");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/stack/hanging-gdb", test_hanging_gdb);
  g_test_add_func ("/stack/crash", test_crash);
  return g_test_run ();
}
