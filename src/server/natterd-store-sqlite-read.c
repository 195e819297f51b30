/* natterd-store-sqlite-read.c — the reader thread: offline replay,
 * history, conversation lists, media, webhook events, the hourly export
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-store-sqlite-private.h"

#include "natter-codes.h"
#include "natter-frame.h"
#include "natter-object-names.h"
#include "natterd-log.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

#define MESSAGE_COLUMNS \
  "m.id, m.uid, m.conversation_type, u.user_id, m.target_id, m.object_name, m.content," \
  " m.push_content, m.flags, m.sent_time"

const char * const natterd_store_sqlite_reader_sql[R_N_STATEMENTS] = {
  [R_REPLAY] =
    "SELECT i.seq, " MESSAGE_COLUMNS " FROM inbox i JOIN messages m ON m.id = i.message_id"
    " JOIN users u ON u.id = m.sender_id WHERE i.user_id = ?1 AND i.seq > ?2"
    " ORDER BY i.seq LIMIT ?3",
  [R_HISTORY] =
    "SELECT " MESSAGE_COLUMNS ", m.timeline_seq FROM messages m JOIN users u ON u.id = m.sender_id"
    " WHERE m.channel_hash = ?10 AND m.app_id = ?1 AND m.channel = ?2 AND m.flags & 1 AND m.sent_time < ?3"
    " AND m.sent_time >= ?5 AND (?6 < 0 OR (m.timeline_seq >= ?6 AND m.timeline_seq <= ?7))"
    " AND m.object_name <> '" NATTER_OBJECT_CLEAR_COMMAND "' AND m.sent_time >= COALESCE ((SELECT"
    " c.cleared_time FROM conversations c WHERE c.user_id = ?8 AND c.conversation_type ="
    " m.conversation_type AND c.target_id = ?9), 0)"
    " ORDER BY m.sent_time DESC, m.id DESC LIMIT ?4",
  [R_MEDIA] = "SELECT size, content_type, name FROM media WHERE app_id = ?1 AND hash = ?2",
  [R_MEDIA_USAGE] = "SELECT uploader_id, sum(size) FROM media WHERE app_id = ?1 GROUP BY uploader_id",
  [R_EXPORT_FIRST_ID] =
    "SELECT first_message_id FROM hours WHERE hour >= ?1 ORDER BY hour LIMIT 1",
  [R_EXPORT] =
    "SELECT " MESSAGE_COLUMNS ", m.channel FROM messages m JOIN users u ON u.id = m.sender_id"
    " WHERE m.id >= ?1 AND m.id < ?2 AND m.app_id = ?3 AND m.flags & 1"
    " AND m.sent_time >= ?4 AND m.sent_time < ?5 ORDER BY m.id",
  [R_MESSAGE_FLAGS] = "SELECT flags FROM messages WHERE id = ?1",
  /* What the user may read of a timeline: [first, last] (last: the
   * latest while a member). */
  [R_TIMELINE_MEMBER] =
    "SELECT tm.first_seq, CASE WHEN tm.member THEN COALESCE (t.latest_seq, 0) ELSE tm.last_seq END,"
    " tm.read_seq, tm.member, tm.last_seq FROM timeline_members tm"
    " LEFT JOIN timelines t ON t.app_id = tm.app_id AND t.target_id = tm.target_id"
    " WHERE tm.user_id = ?1 AND tm.target_id = ?2 AND tm.app_id = ?3",
  [R_TIMELINE] =
    "SELECT " MESSAGE_COLUMNS ", m.timeline_seq,"
    " EXISTS (SELECT 1 FROM timeline_mentions x WHERE x.app_id = m.app_id AND x.target_id = m.target_id"
    "  AND x.timeline_seq = m.timeline_seq AND x.user_id IN (?5, 0) AND x.sender_id != ?5)"
    " FROM messages m JOIN users u ON u.id = m.sender_id"
    " WHERE m.app_id = ?1 AND m.target_id = ?2 AND m.timeline_seq > ?3 AND m.timeline_seq <= ?4"
    " ORDER BY m.timeline_seq LIMIT ?6",
  [R_TIMELINE_CLOCK] = "SELECT COALESCE (MAX (time), 0) FROM timeline_clock",
  /* Moved since: a membership change or read position (the member's
   * stamp), or a message while a member (the timeline's). Inclusive. */
  [R_TIMELINE_SYNC] =
    "SELECT tm.target_id, COALESCE (t.conversation_type, 2), tm.first_seq, tm.last_seq, tm.member,"
    " tm.read_seq, COALESCE (t.latest_seq, 0), COALESCE (t.updated_time, 0), tm.app_id"
    " FROM timeline_members tm LEFT JOIN timelines t ON t.app_id = tm.app_id AND t.target_id = tm.target_id"
    " WHERE tm.user_id = ?1 AND tm.target_id > ?2 AND (tm.member OR tm.last_seq > 0)"
    " AND (tm.changed >= ?3 OR (tm.member AND t.changed >= ?3))"
    " ORDER BY tm.target_id LIMIT ?4",
  /* Unread: counted messages not the user's own in (?3, ?4]. The covering
   * index messages_timeline answers both without reading a message. */
  [R_TIMELINE_UNREAD] =
    "SELECT COUNT (*) FROM (SELECT 1 FROM messages WHERE app_id = ?1 AND target_id = ?2"
    " AND timeline_seq > ?3 AND timeline_seq <= ?4 AND flags & 2 AND sender_id != ?5"
    " LIMIT " G_STRINGIFY (NATTERD_UNREAD_MAX) ")",
  [R_TIMELINE_MENTIONED] =
    "SELECT EXISTS (SELECT 1 FROM timeline_mentions WHERE app_id = ?1 AND target_id = ?2"
    " AND timeline_seq > ?3 AND timeline_seq <= ?4 AND user_id IN (?5, 0) AND sender_id != ?5)",
  [R_WEBHOOK_EVENTS] =
    "SELECT message_id, app_id, body FROM webhook_events WHERE message_id > ?1"
    " ORDER BY message_id LIMIT ?2",
  /* Who read message ?1, if ?2 sent it (#16). */
  [R_READERS] =
    "SELECT u.user_id, r.read_time FROM message_readers r JOIN messages m ON m.id = r.message_id"
    " JOIN users u ON u.id = r.reader_id WHERE r.message_id = ?1 AND m.sender_id = ?2"
    " ORDER BY r.read_time, r.reader_id",
  /* Any read of the database: begins the read transaction's snapshot. */
  [R_SNAPSHOT] = "SELECT 1 FROM sqlite_schema LIMIT 1",
};

static gboolean timeline_range (NatterdStoreSqlite  *self,
                                gint64               user_id,
                                gint64               app_id,
                                const char          *target_id,
                                gboolean            *not_member,
                                guint64             *first,
                                guint64             *last,
                                guint64             *read_seq,
                                GError             **error);

static void
read_message (sqlite3_stmt   *stmt,
              int             first,
              NatterdMessage *m)
{
  m->id = sqlite3_column_int64 (stmt, first);
  m->uid = natterd_sqlite_column_text (stmt, first + 1);
  m->conversation_type = sqlite3_column_int (stmt, first + 2);
  m->sender_user_id = natterd_sqlite_column_text (stmt, first + 3);
  m->target_id = natterd_sqlite_column_text (stmt, first + 4);
  m->object_name = natterd_sqlite_column_text (stmt, first + 5);
  m->content = natterd_sqlite_column_text (stmt, first + 6);
  m->push_content = natterd_sqlite_column_text (stmt, first + 7);
  m->flags = (guint) sqlite3_column_int (stmt, first + 8);
  m->sent_time = sqlite3_column_int64 (stmt, first + 9);
}

/* How much of a latest message's content a conversation list reads: a
 * preview is made from its start. SQLite reads only the pages a blob read
 * touches: 300 latest messages of 128 KiB took 4 ms this way, 25-30 ms
 * read whole (one machine, warm cache). */
#define PREVIEW_READ_MAX (16 * 1024)

/* A conversation's latest message as a conversation list shows it, from
 * the columns of the message row that come before its content: reading a
 * column stored after 128 KiB of content follows its whole chain of
 * overflow pages. So sent_time is the conversation's updated_time (the
 * writer sets one from the other), and flags are those of the object name
 * when it is a known one (the only flags such messages are stored with);
 * a custom one's are read (rarely: the latest message of a conversation
 * with a big custom message). Content over 1 KiB becomes its preview here,
 * on the reader thread, from at most PREVIEW_READ_MAX bytes read through
 * *@blob (opened on first use, moved to each row); no push content.
 * @first: m.id, m.uid, m.conversation_type, u.user_id, m.target_id,
 * m.object_name. */
static gboolean
read_latest_message (NatterdStoreSqlite  *self,
                     sqlite3_stmt        *stmt,
                     int                  first,
                     gint64               sent_time,
                     NatterdMessage      *m,
                     sqlite3_blob       **blob,
                     GError             **error)
{
  g_autofree char *start = NULL;
  int size, length, rc;

  m->id = sqlite3_column_int64 (stmt, first);
  m->uid = natterd_sqlite_column_text (stmt, first + 1);
  m->conversation_type = sqlite3_column_int (stmt, first + 2);
  m->sender_user_id = natterd_sqlite_column_text (stmt, first + 3);
  m->target_id = natterd_sqlite_column_text (stmt, first + 4);
  m->object_name = natterd_sqlite_column_text (stmt, first + 5);
  m->sent_time = sent_time;

  if (natter_object_name_is_known (m->object_name))
    m->flags = natter_object_name_flags (m->object_name, 0);
  else
    {
      sqlite3_stmt *flags = self->reader_stmts[R_MESSAGE_FLAGS];

      sqlite3_bind_int64 (flags, 1, m->id);
      rc = sqlite3_step (flags);
      if (rc == SQLITE_ROW)
        {
          m->flags = (guint) sqlite3_column_int (flags, 0);
          rc = sqlite3_step (flags);
        }
      if (!natterd_sqlite_finish_rows (self->reader_db, flags, rc, error))
        return FALSE;
    }

  rc = *blob == NULL ? sqlite3_blob_open (self->reader_db, "main", "messages", "content", m->id, 0, blob)
                     : sqlite3_blob_reopen (*blob, m->id);
  if (rc != SQLITE_OK)
    return natterd_sqlite_fail (self->reader_db, rc, "latest message", error);

  /* An image's or voice message's other fields come after its thumbnail
   * or data: those are read whole (at most 128 KiB) to keep them. */
  size = sqlite3_blob_bytes (*blob);
  length = g_strcmp0 (m->object_name, NATTER_OBJECT_IMAGE) == 0 ||
           g_strcmp0 (m->object_name, NATTER_OBJECT_VOICE) == 0 ? size : MIN (size, PREVIEW_READ_MAX);
  start = g_malloc ((gsize) length + 1);
  rc = sqlite3_blob_read (*blob, start, length, 0);
  if (rc != SQLITE_OK)
    return natterd_sqlite_fail (self->reader_db, rc, "latest message", error);
  start[length] = '\0';

  m->content = natter_content_preview (m->object_name, start, (gsize) length, (gsize) size);
  if (m->content != NULL)
    m->flags |= NATTER_MESSAGE_FLAG_PREVIEW;
  else
    m->content = g_steal_pointer (&start);
  return TRUE;
}

static gboolean
read_conversations (NatterdStoreSqlite        *self,
                    NatterdConversationsRead  *read,
                    GError                   **error)
{
  g_autoptr(GString) sql = g_string_new (NULL);
  sqlite3_stmt *stmt = NULL;
  sqlite3_blob *blob = NULL;
  int rc;

  /* The latest message's columns before its content only: see
   * read_latest_message(). */
  /* Inbox conversations from their rows; group timelines the user is or
   * was in from the timeline (latest persisted message they may read,
   * unread and "@" after their read position), with pin, mute and
   * removal from their conversation row if there is one. */
  g_string_append (sql,
                   "SELECT c.conversation_type, c.target_id, c.unread, c.pinned, c.muted,"
                   " c.updated_time, m.id, m.uid, m.conversation_type, u.user_id, m.target_id,"
                   " m.object_name, c.mentioned"
                   " FROM (SELECT conversation_type, target_id, unread, pinned, muted, updated_time,"
                   "   latest_message_id, 0 AS mentioned FROM conversations"
                   "   WHERE user_id = ?1 AND hidden = 0 AND conversation_type NOT IN (2, 3)"
                   "  UNION ALL"
                   "  SELECT g.conversation_type, g.target_id,"
                   "   (SELECT COUNT (*) FROM (SELECT 1 FROM messages WHERE app_id = g.app_id"
                   "    AND target_id = g.target_id AND timeline_seq > g.lo AND timeline_seq <= g.hi"
                   "    AND flags & 2 AND sender_id != ?1 LIMIT " G_STRINGIFY (NATTERD_UNREAD_MAX) ")),"
                   "   COALESCE (k.pinned, 0), COALESCE (k.muted, 0), g.latest_time, g.latest_id,"
                   "   EXISTS (SELECT 1 FROM timeline_mentions WHERE app_id = g.app_id AND target_id = g.target_id"
                   "    AND timeline_seq > g.lo AND timeline_seq <= g.hi AND user_id IN (?1, 0) AND sender_id != ?1)"
                   "  FROM (SELECT r.*,"
                   "    (SELECT id FROM messages WHERE app_id = r.app_id AND target_id = r.target_id"
                   "     AND timeline_seq >= r.first AND timeline_seq <= r.hi AND flags & 1"
                   "     ORDER BY timeline_seq DESC LIMIT 1) AS latest_id,"
                   "    (SELECT sent_time FROM messages WHERE app_id = r.app_id AND target_id = r.target_id"
                   "     AND timeline_seq >= r.first AND timeline_seq <= r.hi AND flags & 1"
                   "     ORDER BY timeline_seq DESC LIMIT 1) AS latest_time"
                   "   FROM (SELECT tm.app_id, tm.target_id, t.conversation_type, MAX (tm.first_seq, 1) AS first,"
                   "     MAX (tm.read_seq, tm.first_seq - 1) AS lo,"
                   "     CASE WHEN tm.member THEN t.latest_seq ELSE tm.last_seq END AS hi"
                   "     FROM timeline_members tm JOIN timelines t ON t.app_id = tm.app_id"
                   "     AND t.target_id = tm.target_id WHERE tm.user_id = ?1) r) g"
                   "  LEFT JOIN conversations k ON k.user_id = ?1 AND k.conversation_type = g.conversation_type"
                   "   AND k.target_id = g.target_id"
                   "  WHERE g.latest_id IS NOT NULL"
                   "   AND (k.hidden IS NULL OR k.hidden = 0 OR g.latest_time > k.updated_time)) c"
                   " LEFT JOIN messages m ON m.id = c.latest_message_id"
                   " LEFT JOIN users u ON u.id = m.sender_id WHERE 1");
  if (read->types->len > 0)
    {
      g_string_append (sql, " AND c.conversation_type IN (");
      for (guint i = 0; i < read->types->len; i++)
        g_string_append_printf (sql, "%s%d", i ? "," : "", g_array_index (read->types, int, i));
      g_string_append (sql, ")");
    }
  if (read->has_cursor)
    g_string_append (sql, " AND (c.pinned, c.updated_time, c.conversation_type, c.target_id)"
                          " < (?2, ?3, ?4, ?5)");
  g_string_append (sql, " ORDER BY c.pinned DESC, c.updated_time DESC,"
                        " c.conversation_type DESC, c.target_id DESC LIMIT ?6");

  rc = sqlite3_prepare_v2 (self->reader_db, sql->str, -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    return natterd_sqlite_fail (self->reader_db, rc, "conversation list", error);

  sqlite3_bind_int64 (stmt, 1, read->user_id);
  if (read->has_cursor)
    {
      sqlite3_bind_int (stmt, 2, read->cursor_pinned ? 1 : 0);
      sqlite3_bind_int64 (stmt, 3, read->cursor_time);
      sqlite3_bind_int (stmt, 4, read->cursor_type);
      natterd_sqlite_bind_text (stmt, 5, read->cursor_target);
    }
  sqlite3_bind_int (stmt, 6, (int) read->limit);

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      NatterdConversation *c = g_new0 (NatterdConversation, 1);

      g_ptr_array_add (read->conversations, c);

      c->conversation_type = sqlite3_column_int (stmt, 0);
      c->target_id = natterd_sqlite_column_text (stmt, 1);
      c->unread = (guint) sqlite3_column_int (stmt, 2);
      c->pinned = sqlite3_column_int (stmt, 3) != 0;
      c->muted = sqlite3_column_int (stmt, 4) != 0;
      c->updated_time = sqlite3_column_int64 (stmt, 5);
      c->mentioned = sqlite3_column_int (stmt, 12) != 0;
      if (sqlite3_column_type (stmt, 6) != SQLITE_NULL && sqlite3_column_type (stmt, 9) != SQLITE_NULL)
        {
          c->latest = g_new0 (NatterdMessage, 1);
          if (!read_latest_message (self, stmt, 6, c->updated_time, c->latest, &blob, error))
            break;
        }
    }
  if (blob != NULL)
    sqlite3_blob_close (blob);
  sqlite3_finalize (stmt);
  if (rc == SQLITE_ROW)
    return FALSE;       /* read_latest_message() failed */
  if (rc != SQLITE_DONE)
    return natterd_sqlite_fail (self->reader_db, rc, "conversation list", error);
  return TRUE;
}

static gint64
export_first_id (NatterdStoreSqlite  *self,
                 gint64               hour,
                 GError             **error)
{
  sqlite3_stmt *stmt = self->reader_stmts[R_EXPORT_FIRST_ID];
  gint64 id = G_MAXINT64;
  int rc;

  sqlite3_bind_int64 (stmt, 1, hour);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    {
      id = sqlite3_column_int64 (stmt, 0);
      rc = SQLITE_DONE;
    }
  if (!natterd_sqlite_finish_rows (self->reader_db, stmt, rc, error))
    return -1;
  return id;
}

/* One JSON object a line in the shape of RongCloud's history files, gzip
 * compressed, written to a temporary name and renamed when complete. */
static gboolean
read_export (NatterdStoreSqlite  *self,
             NatterdExportRead   *read,
             GError             **error)
{
  sqlite3_stmt *stmt = self->reader_stmts[R_EXPORT];
  g_autofree char *partial = g_strconcat (read->path, ".partial", NULL);
  g_autoptr(GFile) file = g_file_new_for_path (partial);
  g_autoptr(GFileOutputStream) raw = NULL;
  g_autoptr(GZlibCompressor) compressor = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP, 6);
  g_autoptr(GOutputStream) out = NULL;
  g_autoptr(GString) line = g_string_new (NULL);
  gint64 from_hour = read->from_time / (3600 * 1000);
  gint64 to_hour = read->to_time / (3600 * 1000);
  gint64 first, last;
  int rc;

  /* A message's hour row may precede it by a little when clocks of
   * conversations were bumped; read one hour around and filter by time. */
  first = export_first_id (self, from_hour - 1, error);
  last = export_first_id (self, to_hour + 1, error);
  if (first < 0 || last < 0)
    return FALSE;

  raw = g_file_replace (file, NULL, FALSE, G_FILE_CREATE_PRIVATE, NULL, error);
  if (raw == NULL)
    return FALSE;
  out = g_converter_output_stream_new (G_OUTPUT_STREAM (raw), G_CONVERTER (compressor));

  sqlite3_bind_int64 (stmt, 1, first);
  sqlite3_bind_int64 (stmt, 2, last);
  sqlite3_bind_int64 (stmt, 3, read->app_id);
  sqlite3_bind_int64 (stmt, 4, read->from_time);
  sqlite3_bind_int64 (stmt, 5, read->to_time);

  read->count = 0;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      NatterdMessage m = { 0 };

      read_message (stmt, 0, &m);
      g_string_truncate (line, 0);
      natterd_export_append_line (line, &m);
      natterd_message_clear (&m);

      if (!g_output_stream_write_all (out, line->str, line->len, NULL, NULL, error))
        {
          sqlite3_reset (stmt);
          sqlite3_clear_bindings (stmt);
          return FALSE;
        }
      read->count++;
    }
  if (!natterd_sqlite_finish_rows (self->reader_db, stmt, rc, error))
    return FALSE;

  if (!g_output_stream_close (out, NULL, error))
    return FALSE;
  if (g_rename (partial, read->path) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "%s: %s", read->path,
                   g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

static gboolean
read_replay (NatterdStoreSqlite  *self,
             NatterdReplayRead   *read,
             GError             **error)
{
  sqlite3_stmt *stmt = self->reader_stmts[R_REPLAY];
  gsize bytes = 0;
  int rc;

  sqlite3_bind_int64 (stmt, 1, read->user_id);
  sqlite3_bind_int64 (stmt, 2, (sqlite3_int64) read->after_seq);
  sqlite3_bind_int (stmt, 3, (int) read->limit);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      NatterdInboxEntry *entry = g_new0 (NatterdInboxEntry, 1);

      entry->seq = (guint64) sqlite3_column_int64 (stmt, 0);
      read_message (stmt, 1, &entry->message);
      g_ptr_array_add (read->entries, entry);
      bytes += entry->message.content != NULL ? strlen (entry->message.content) : 0;
      if (read->max_bytes > 0 && bytes >= read->max_bytes)
        {
          rc = SQLITE_DONE;  /* the page is full; the rest next time */
          break;
        }
    }
  return natterd_sqlite_finish_rows (self->reader_db, stmt, rc, error);
}

/* The readers of @user_id's own group messages among @messages (#16). */
static gboolean
read_readers (NatterdStoreSqlite  *self,
              GPtrArray           *messages,
              gint64               user_id,
              GError             **error)
{
  sqlite3_stmt *stmt = self->reader_stmts[R_READERS];

  for (guint i = 0; i < messages->len; i++)
    {
      NatterdMessage *m = g_ptr_array_index (messages, i);
      int rc;

      if (m->uid == NULL || m->timeline_seq == 0)
        continue;
      sqlite3_bind_int64 (stmt, 1, m->id);
      sqlite3_bind_int64 (stmt, 2, user_id);
      while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
        {
          NatterdReader *reader = g_new (NatterdReader, 1);

          reader->user_id = natterd_sqlite_column_text (stmt, 0);
          reader->read_time = sqlite3_column_int64 (stmt, 1);
          if (m->readers == NULL)
            m->readers = g_ptr_array_new_with_free_func ((GDestroyNotify) natterd_reader_free);
          g_ptr_array_add (m->readers, reader);
        }
      if (!natterd_sqlite_finish_rows (self->reader_db, stmt, rc, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
read_history (NatterdStoreSqlite  *self,
              NatterdHistoryRead  *read,
              GError             **error)
{
  sqlite3_stmt *stmt = self->reader_stmts[R_HISTORY];
  gint64 first = -1, last = 0;
  int rc;

  if (read->timeline_id != NULL)
    {
      guint64 lo, hi, unused;

      if (!timeline_range (self, read->member_id, read->app_id, read->timeline_id, &read->not_member,
                           &lo, &hi, &unused, error))
        return FALSE;
      if (read->not_member)
        return TRUE;
      first = (gint64) lo;
      last = (gint64) hi;
    }

  sqlite3_bind_int64 (stmt, 6, first);
  sqlite3_bind_int64 (stmt, 7, last);
  sqlite3_bind_int64 (stmt, 1, read->app_id);
  natterd_sqlite_bind_text (stmt, 2, read->channel);
  sqlite3_bind_int64 (stmt, 3, read->before_time > 0 ? read->before_time : G_MAXINT64);
  sqlite3_bind_int (stmt, 4, (int) read->limit);
  sqlite3_bind_int64 (stmt, 5, read->from_time);
  sqlite3_bind_int64 (stmt, 8, read->user_id);
  natterd_sqlite_bind_text (stmt, 9, read->target_id);
  sqlite3_bind_int64 (stmt, 10, read->channel != NULL ? natterd_sqlite_channel_hash (read->app_id, read->channel) : -1);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      NatterdMessage *m = g_new0 (NatterdMessage, 1);

      read_message (stmt, 0, m);
      m->timeline_seq = (guint64) sqlite3_column_int64 (stmt, 10);   /* NULL: 0 */
      g_ptr_array_add (read->messages, m);
    }
  return natterd_sqlite_finish_rows (self->reader_db, stmt, rc, error) &&
         read_readers (self, read->messages, read->user_id, error);
}

/* ------------------------------------------------------------- timelines */

/* The part of a timeline @user_id may read, [*first, *last] (nothing if
 * *last < *first), and their read position; *not_member if they never
 * were one. */
static gboolean
timeline_range (NatterdStoreSqlite  *self,
                gint64               user_id,
                gint64               app_id,
                const char          *target_id,
                gboolean            *not_member,
                guint64             *first,
                guint64             *last,
                guint64             *read_seq,
                GError             **error)
{
  sqlite3_stmt *stmt = self->reader_stmts[R_TIMELINE_MEMBER];
  int rc;

  sqlite3_bind_int64 (stmt, 1, user_id);
  natterd_sqlite_bind_text (stmt, 2, target_id);
  sqlite3_bind_int64 (stmt, 3, app_id);
  rc = sqlite3_step (stmt);
  *not_member = rc != SQLITE_ROW;
  if (rc == SQLITE_ROW)
    {
      *first = MAX ((guint64) sqlite3_column_int64 (stmt, 0), 1);
      *last = (guint64) sqlite3_column_int64 (stmt, 1);
      *read_seq = (guint64) sqlite3_column_int64 (stmt, 2);
      /* Left when the timeline was empty: nothing is theirs. */
      if (sqlite3_column_int (stmt, 3) == 0 && sqlite3_column_int64 (stmt, 4) == 0)
        *not_member = TRUE;
      rc = SQLITE_DONE;
    }
  return natterd_sqlite_finish_rows (self->reader_db, stmt, rc, error);
}

static gboolean
read_timeline (NatterdStoreSqlite   *self,
               NatterdTimelineRead  *read,
               GError              **error)
{
  sqlite3_stmt *stmt = self->reader_stmts[R_TIMELINE];
  gboolean not_member;
  guint64 first, last, read_seq;
  gsize bytes = 0;
  int rc;

  if (!timeline_range (self, read->user_id, read->app_id, read->target_id, &not_member, &first, &last,
                       &read_seq, error))
    return FALSE;
  read->found = !not_member;
  read->last_seq = last;
  if (not_member)
    return TRUE;

  sqlite3_bind_int64 (stmt, 1, read->app_id);
  natterd_sqlite_bind_text (stmt, 2, read->target_id);
  sqlite3_bind_int64 (stmt, 3, (sqlite3_int64) MAX (read->after_seq, first - 1));
  sqlite3_bind_int64 (stmt, 4, (sqlite3_int64) last);
  sqlite3_bind_int64 (stmt, 5, read->user_id);
  sqlite3_bind_int (stmt, 6, (int) read->limit);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      NatterdMessage *m = g_new0 (NatterdMessage, 1);

      read_message (stmt, 0, m);
      m->timeline_seq = (guint64) sqlite3_column_int64 (stmt, 10);
      m->mentioned = sqlite3_column_int (stmt, 11) != 0;
      g_ptr_array_add (read->messages, m);
      bytes += m->content != NULL ? strlen (m->content) : 0;
      if (read->max_bytes > 0 && bytes >= read->max_bytes)
        {
          rc = SQLITE_DONE;  /* the page is full; the rest next time */
          break;
        }
    }
  /* Readers are bounded by the group's size: natterd cuts the page at
   * one frame with them (natterd-queries.c). */
  return natterd_sqlite_finish_rows (self->reader_db, stmt, rc, error) &&
         read_readers (self, read->messages, read->user_id, error);
}

/* Unread count and "@" mark of a member in (@after, @last]. */
static gboolean
timeline_unread (NatterdStoreSqlite  *self,
                 gint64               user_id,
                 gint64               app_id,
                 const char          *target_id,
                 guint64              after,
                 guint64              last,
                 guint               *unread,
                 gboolean            *mentioned,
                 GError             **error)
{
  for (int i = 0; i < 2; i++)
    {
      sqlite3_stmt *stmt = self->reader_stmts[i == 0 ? R_TIMELINE_UNREAD : R_TIMELINE_MENTIONED];
      int rc;

      sqlite3_bind_int64 (stmt, 1, app_id);
      natterd_sqlite_bind_text (stmt, 2, target_id);
      sqlite3_bind_int64 (stmt, 3, (sqlite3_int64) after);
      sqlite3_bind_int64 (stmt, 4, (sqlite3_int64) last);
      sqlite3_bind_int64 (stmt, 5, user_id);
      rc = sqlite3_step (stmt);
      if (rc == SQLITE_ROW)
        {
          if (i == 0)
            *unread = (guint) sqlite3_column_int64 (stmt, 0);
          else
            *mentioned = sqlite3_column_int (stmt, 0) != 0;
          rc = SQLITE_DONE;
        }
      if (!natterd_sqlite_finish_rows (self->reader_db, stmt, rc, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
read_timeline_sync_locked (NatterdStoreSqlite       *self,
                           NatterdTimelineSyncRead  *read,
                           GError                  **error)
{
  sqlite3_stmt *stmt;
  int rc;

  /* Read first, in the same transaction as the page: every change this
   * snapshot misses was stamped at or after it. */
  if (read->sync_time == 0)
    {
      stmt = self->reader_stmts[R_TIMELINE_CLOCK];
      rc = sqlite3_step (stmt);
      if (rc == SQLITE_ROW)
        {
          read->sync_time = sqlite3_column_int64 (stmt, 0);
          rc = SQLITE_DONE;
        }
      if (!natterd_sqlite_finish_rows (self->reader_db, stmt, rc, error))
        return FALSE;
    }

  stmt = self->reader_stmts[R_TIMELINE_SYNC];
  sqlite3_bind_int64 (stmt, 1, read->user_id);
  natterd_sqlite_bind_text (stmt, 2, read->after_target != NULL ? read->after_target : "");
  sqlite3_bind_int64 (stmt, 3, read->since);
  sqlite3_bind_int (stmt, 4, (int) read->limit);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      NatterdTimelineState *state = g_new0 (NatterdTimelineState, 1);
      gboolean member = sqlite3_column_int (stmt, 4) != 0;

      state->target_id = natterd_sqlite_column_text (stmt, 0);
      state->conversation_type = sqlite3_column_int (stmt, 1);
      state->first_seq = (guint64) sqlite3_column_int64 (stmt, 2);
      state->last_seq = member ? 0 : (guint64) sqlite3_column_int64 (stmt, 3);
      state->read_seq = (guint64) sqlite3_column_int64 (stmt, 5);
      state->latest_seq = member ? (guint64) sqlite3_column_int64 (stmt, 6) : state->last_seq;
      state->updated_time = sqlite3_column_int64 (stmt, 7);
      g_ptr_array_add (read->timelines, state);
    }
  if (!natterd_sqlite_finish_rows (self->reader_db, stmt, rc, error))
    return FALSE;

  for (guint i = 0; i < read->timelines->len; i++)
    {
      NatterdTimelineState *state = g_ptr_array_index (read->timelines, i);
      guint64 after = MAX (state->read_seq, state->first_seq > 0 ? state->first_seq - 1 : 0);

      if (state->latest_seq > after &&
          !timeline_unread (self, read->user_id, read->app_id, state->target_id, after, state->latest_seq,
                            &state->unread, &state->mentioned, error))
        return FALSE;
    }
  return TRUE;
}


static gboolean
read_media (NatterdStoreSqlite  *self,
            NatterdMediaRead    *read,
            GError             **error)
{
  sqlite3_stmt *stmt = self->reader_stmts[R_MEDIA];
  int rc;

  sqlite3_bind_int64 (stmt, 1, read->app_id);
  natterd_sqlite_bind_text (stmt, 2, read->hash);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    {
      read->found = TRUE;
      read->size = (guint64) sqlite3_column_int64 (stmt, 0);
      read->content_type = natterd_sqlite_column_text (stmt, 1);
      read->name = natterd_sqlite_column_text (stmt, 2);
      rc = SQLITE_DONE;
    }
  return natterd_sqlite_finish_rows (self->reader_db, stmt, rc, error);
}

static gboolean
read_media_usage (NatterdStoreSqlite     *self,
                  NatterdMediaUsageRead  *read,
                  GError                **error)
{
  sqlite3_stmt *stmt = self->reader_stmts[R_MEDIA_USAGE];
  int rc;

  sqlite3_bind_int64 (stmt, 1, read->app_id);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      NatterdMediaUsage usage = {
        .uploader_id = sqlite3_column_int64 (stmt, 0),
        .bytes = (guint64) sqlite3_column_int64 (stmt, 1),
      };

      g_array_append_val (read->usage, usage);
    }
  return natterd_sqlite_finish_rows (self->reader_db, stmt, rc, error);
}

static gboolean
read_webhook_events (NatterdStoreSqlite        *self,
                     NatterdWebhookEventsRead  *read,
                     GError                   **error)
{
  sqlite3_stmt *stmt = self->reader_stmts[R_WEBHOOK_EVENTS];
  gsize bytes = 0;
  int rc;

  sqlite3_bind_int64 (stmt, 1, read->after_id);
  sqlite3_bind_int (stmt, 2, (int) read->limit);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      NatterdWebhookEvent *event = g_new0 (NatterdWebhookEvent, 1);

      event->id = sqlite3_column_int64 (stmt, 0);
      event->app_id = sqlite3_column_int64 (stmt, 1);
      event->body = natterd_sqlite_column_text (stmt, 2);
      if (event->body == NULL)
        event->body = g_strdup ("");
      g_ptr_array_add (read->events, event);
      bytes += strlen (event->body);
      if (read->max_bytes > 0 && bytes >= read->max_bytes)
        {
          rc = SQLITE_DONE;
          break;
        }
    }
  return natterd_sqlite_finish_rows (self->reader_db, stmt, rc, error);
}

/* A read sees only what is durable: its snapshot is begun, then every
 * COMMIT begun by then (so every one the snapshot can hold) is waited
 * for to be synced; the writer's next commits stay out of it. An offline
 * device never gets a message whose sender was not acked. */
static gboolean
begin_durable_snapshot (NatterdStoreSqlite  *self,
                        GError             **error)
{
  sqlite3_stmt *stmt = self->reader_stmts[R_SNAPSHOT];
  gint64 begun;
  int rc;

  if (!natterd_sqlite_exec (self->reader_db, "BEGIN", error))
    return FALSE;
  rc = sqlite3_step (stmt);
  sqlite3_reset (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    {
      natterd_sqlite_exec (self->reader_db, "ROLLBACK", NULL);
      return natterd_sqlite_fail (self->reader_db, rc, "snapshot", error);
    }
  begun = __atomic_load_n (&self->commits_begun, __ATOMIC_SEQ_CST);
  g_mutex_lock (&self->durable_lock);
  while (self->durable < begun)
    g_cond_wait (&self->durable_wake, &self->durable_lock);
  g_mutex_unlock (&self->durable_lock);
  return TRUE;
}

static gboolean
read_in_snapshot (NatterdStoreSqlite  *self,
                  NatterdRead         *read,
                  GError             **error)
{
  switch (read->kind)
    {
    case NATTERD_READ_REPLAY:
      return read_replay (self, (NatterdReplayRead *) read, error);
    case NATTERD_READ_HISTORY:
      return read_history (self, (NatterdHistoryRead *) read, error);
    case NATTERD_READ_CONVERSATIONS:
      return read_conversations (self, (NatterdConversationsRead *) read, error);
    case NATTERD_READ_MEDIA:
      return read_media (self, (NatterdMediaRead *) read, error);
    case NATTERD_READ_EXPORT:
      return read_export (self, (NatterdExportRead *) read, error);
    case NATTERD_READ_APPS:
      return natterd_store_sqlite_read_apps (self->reader_db, ((NatterdAppsRead *) read)->apps, error);
    case NATTERD_READ_MEDIA_USAGE:
      return read_media_usage (self, (NatterdMediaUsageRead *) read, error);
    case NATTERD_READ_WEBHOOK_EVENTS:
      return read_webhook_events (self, (NatterdWebhookEventsRead *) read, error);
    case NATTERD_READ_TIMELINE_SYNC:
      return read_timeline_sync_locked (self, (NatterdTimelineSyncRead *) read, error);
    case NATTERD_READ_TIMELINE:
      return read_timeline (self, (NatterdTimelineRead *) read, error);
    case NATTERD_READ_ACCOUNT_ROWS:
      return natterd_store_sqlite_read_account_rows (self, (NatterdAccountRowsRead *) read, error);
    case NATTERD_READ_LOGIN:
      return natterd_store_sqlite_read_login (self, (NatterdLoginRead *) read, error);
    case NATTERD_READ_USER_GROUPS:
      return natterd_store_sqlite_read_user_groups (self, (NatterdUserGroupsRead *) read, error);
    default:
      g_assert_not_reached ();
    }
}

gboolean
natterd_store_sqlite_read (NatterdStore  *store,
                           NatterdRead   *read,
                           GError       **error)
{
  NatterdStoreSqlite *self = NATTERD_STORE_SQLITE (store);
  gboolean ok;

  /* An hour that ended: durable long ago, and one long read
   * transaction would hold the WAL from starting over. */
  if (read->kind == NATTERD_READ_EXPORT)
    return read_export (self, (NatterdExportRead *) read, error);

  if (!begin_durable_snapshot (self, error))
    return FALSE;
  ok = read_in_snapshot (self, read, error);
  natterd_sqlite_exec (self->reader_db, ok ? "COMMIT" : "ROLLBACK", NULL);
  return ok;
}
