/* natter-test-db-dir.h — a temporary directory for one natterd SQLite store
 * (natterd.db and its -wal and -shm), made and removed by the store tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>
#include <glib/gstdio.h>

/* A new empty directory under the temporary one, named after @prefix. */
static inline char *
natter_test_db_dir_new (const char *prefix)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *template = g_strconcat (prefix, "-XXXXXX", NULL);
  char *dir = g_dir_make_tmp (template, &error);

  g_assert_no_error (error);
  return dir;
}

/* Removes @dir and the store's files in it. */
static inline void
natter_test_db_dir_remove (const char *dir)
{
  g_autofree char *db = g_build_filename (dir, "natterd.db", NULL);
  g_autofree char *wal = g_strconcat (db, "-wal", NULL);
  g_autofree char *shm = g_strconcat (db, "-shm", NULL);

  g_unlink (db);
  g_unlink (wal);
  g_unlink (shm);
  g_rmdir (dir);
}
