/* natterd-backup.c — a consistent copy of natterd.db while natterd writes
 *
 * SQLite's online backup API, in steps, from a connection that holds one
 * read transaction for the whole copy: in WAL mode that is one snapshot,
 * natterd's writer goes on meanwhile (its WAL grows until the copy ends,
 * its checkpoints are passive), and the copy never restarts because of a
 * commit made by another connection between two steps.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <unistd.h>

#include "natterd-backup.h"

/* 4 MiB a step with 4 KiB pages. */
#define STEP_PAGES 1024

static gboolean
sqlite_failed (sqlite3     *db,
               const char  *what,
               const char  *path,
               GError     **error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s: %s", path, what,
               db != NULL ? sqlite3_errmsg (db) : "out of memory");
  return FALSE;
}

static gboolean
sync_path (const char  *path,
           gboolean     directory,
           GError     **error)
{
  int fd = open (path, (directory ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
  int saved;

  if (fd >= 0 && fsync (fd) == 0)
    {
      close (fd);
      return TRUE;
    }
  saved = errno;
  if (fd >= 0)
    close (fd);
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "fsync %s: %s", path, g_strerror (saved));
  return FALSE;
}

/* PRAGMA integrity_check answers one row, "ok", or the problems. */
static gboolean
check_integrity (sqlite3     *db,
                 const char  *path,
                 GError     **error)
{
  sqlite3_stmt *stmt = NULL;
  g_autoptr(GString) problems = g_string_new (NULL);
  int rc;

  if (sqlite3_prepare_v2 (db, "PRAGMA integrity_check", -1, &stmt, NULL) != SQLITE_OK)
    return sqlite_failed (db, "integrity_check", path, error);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      const char *row = (const char *) sqlite3_column_text (stmt, 0);

      if (g_strcmp0 (row, "ok") != 0)
        g_string_append_printf (problems, "%s%s", problems->len > 0 ? "; " : "", row);
    }
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    return sqlite_failed (db, "integrity_check", path, error);
  if (problems->len > 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: integrity_check: %s", path, problems->str);
      return FALSE;
    }
  return TRUE;
}

static gboolean
copy_database (sqlite3             *source,
               const char          *source_path,
               sqlite3             *dest,
               const char          *dest_path,
               NatterdBackupStats  *stats,
               GError             **error)
{
  sqlite3_backup *backup;
  int rc;

  /* One snapshot for every step (see the top of the file). */
  if (sqlite3_exec (source, "BEGIN; SELECT count(*) FROM sqlite_schema;", NULL, NULL, NULL) != SQLITE_OK)
    return sqlite_failed (source, "read transaction", source_path, error);

  /* The copy is fsynced once, at the end. */
  if (sqlite3_exec (dest, "PRAGMA synchronous = OFF;", NULL, NULL, NULL) != SQLITE_OK)
    return sqlite_failed (dest, "synchronous", dest_path, error);

  backup = sqlite3_backup_init (dest, "main", source, "main");
  if (backup == NULL)
    return sqlite_failed (dest, "backup", dest_path, error);
  do
    {
      rc = sqlite3_backup_step (backup, STEP_PAGES);
      stats->steps++;
      if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        sqlite3_sleep (10);
    }
  while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
  stats->pages = sqlite3_backup_pagecount (backup);
  sqlite3_backup_finish (backup);
  sqlite3_exec (source, "COMMIT;", NULL, NULL, NULL);
  if (rc != SQLITE_DONE)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s → %s: backup: %s", source_path, dest_path,
                   sqlite3_errstr (rc));
      return FALSE;
    }

  /* The copy is one file: natterd puts it back in WAL mode when it opens it. */
  if (sqlite3_exec (dest, "PRAGMA journal_mode = DELETE;", NULL, NULL, NULL) != SQLITE_OK)
    return sqlite_failed (dest, "journal_mode", dest_path, error);
  return check_integrity (dest, dest_path, error);
}

gboolean
natterd_backup_sqlite (const char          *data_dir,
                       const char          *path,
                       NatterdBackupStats  *stats,
                       GError             **error)
{
  g_autofree char *source_path = g_build_filename (data_dir, "natterd.db", NULL);
  g_autofree char *dest_dir = g_path_get_dirname (path);
  g_autofree char *tmp_path = g_strdup_printf ("%s.tmp-XXXXXX", path);
  sqlite3 *source = NULL;
  sqlite3 *dest = NULL;
  GStatBuf info;
  gint64 start = g_get_monotonic_time ();
  gboolean ok;
  int fd;

  *stats = (NatterdBackupStats) { 0 };

  /* Never a new empty database where there was none. */
  if (!g_file_test (source_path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "%s: no natterd database here", source_path);
      return FALSE;
    }
  fd = g_mkstemp_full (tmp_path, O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "%s: %s", tmp_path, g_strerror (saved));
      return FALSE;
    }
  close (fd);

  /* Not SQLITE_OPEN_READONLY: that cannot open a WAL database whose -shm
   * is gone (natterd stopped); query_only keeps it from writing. */
  if (sqlite3_open_v2 (source_path, &source, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
      sqlite3_exec (source, "PRAGMA query_only = 1;", NULL, NULL, NULL) != SQLITE_OK)
    ok = sqlite_failed (source, "open", source_path, error);
  else if (sqlite3_open_v2 (tmp_path, &dest, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
    ok = sqlite_failed (dest, "open", tmp_path, error);
  else
    {
      sqlite3_busy_timeout (source, 5000);
      ok = copy_database (source, source_path, dest, tmp_path, stats, error);
    }
  sqlite3_close (source);
  {
    int rc = sqlite3_close (dest);

    if (rc != SQLITE_OK && ok)
      {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: close: %s", tmp_path, sqlite3_errstr (rc));
        ok = FALSE;
      }
  }

  /* On disk before it takes the name, and the name on disk too. */
  ok = ok && sync_path (tmp_path, FALSE, error);
  if (ok && g_rename (tmp_path, path) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "rename %s → %s: %s", tmp_path, path,
                   g_strerror (saved));
      ok = FALSE;
    }
  ok = ok && sync_path (dest_dir, TRUE, error);
  if (!ok)
    {
      g_autofree char *journal = g_strconcat (tmp_path, "-journal", NULL);

      g_unlink (tmp_path);
      g_unlink (journal);
      return FALSE;
    }

  if (g_stat (path, &info) == 0)
    stats->bytes = info.st_size;
  stats->duration_us = g_get_monotonic_time () - start;
  return TRUE;
}
