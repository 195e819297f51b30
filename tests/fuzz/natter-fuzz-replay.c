/* natter-fuzz-replay.c — main() of a fuzz target built without libFuzzer:
 * runs every input given (files, or directories of files) once
 *
 * So the committed corpus, crashes found earlier included, is a test of
 * every build: `meson test` runs each target over tests/fuzz/corpus/NAME.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib.h>

#include "natter-fuzz.h"

static void
run_file (const char *path,
          guint      *count)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize length;

  /* Printed first: after a crash, the last name is the input. */
  g_print ("%s\n", path);
  if (!g_file_get_contents (path, &contents, &length, &error))
    g_error ("%s", error->message);
  LLVMFuzzerTestOneInput ((const guint8 *) contents, length);
  (*count)++;
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return g_strcmp0 (*(char * const *) a, *(char * const *) b);
}

int
main (int   argc,
      char *argv[])
{
  guint count = 0;

  for (int i = 1; i < argc; i++)
    {
      g_autoptr(GDir) dir = NULL;
      g_autoptr(GPtrArray) names = NULL;
      const char *name;

      if (!g_file_test (argv[i], G_FILE_TEST_IS_DIR))
        {
          run_file (argv[i], &count);
          continue;
        }

      dir = g_dir_open (argv[i], 0, NULL);
      names = g_ptr_array_new_with_free_func (g_free);
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        if (name[0] != '.')
          g_ptr_array_add (names, g_build_filename (argv[i], name, NULL));
      /* The same order everywhere: a failure names the same input. */
      g_ptr_array_sort (names, compare_names);
      for (guint j = 0; j < names->len; j++)
        run_file (g_ptr_array_index (names, j), &count);
    }

  g_print ("%u inputs\n", count);
  /* No input at all: the corpus is not where the test says. */
  return count > 0 ? 0 : 1;
}
