/* natterd-backup.h — `natterd --data-dir DIR --backup FILE`: a consistent
 * copy of the SQLite store while natterd runs (docs/operations.md)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  gint64 pages;
  gint64 bytes;
  guint  steps;
  gint64 duration_us;
} NatterdBackupStats;

/* Copies @data_dir's natterd.db as of one moment to @path, which is
 * replaced only once the copy is complete, on disk and passes
 * PRAGMA integrity_check. Media files are not in it. */
gboolean natterd_backup_sqlite (const char          *data_dir,
                                const char          *path,
                                NatterdBackupStats  *stats,
                                GError             **error);

G_END_DECLS
