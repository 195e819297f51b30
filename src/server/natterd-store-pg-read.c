/* natterd-store-pg-read.c — the reader thread: offline replay, history,
 * conversation lists, media, webhook events, timelines, the hourly export
 *
 * The same reads as natterd-store-sqlite-read.c, on the reader's own
 * connection; what another node committed is seen as soon as it is.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-store-pg-private.h"

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

/* How much of a latest message's content a conversation list reads (its
 * preview is made from the start; images and voice are read whole). */
#define PREVIEW_READ_MAX 16384

/* The database's clock in ms: leases compare times of several nodes. */
#define NOW_MS "(extract (epoch FROM clock_timestamp ()) * 1000)::bigint"

const char * const natterd_store_pg_reader_sql[PR_N_STATEMENTS] = {
  /* A page ends with the message that takes it past $4 bytes of content:
   * libpq holds a whole result, so the bound is kept by the query
   * (octet_length() reads no content). */
  [PR_REPLAY] =
    "SELECT * FROM (SELECT i.seq, " MESSAGE_COLUMNS ","
    "  sum (octet_length (m.content)) OVER (ORDER BY i.seq) - octet_length (m.content) AS skipped"
    "  FROM inbox i JOIN messages m ON m.id = i.message_id"
    "  JOIN users u ON u.id = m.sender_id WHERE i.user_id = $1 AND i.seq > $2"
    "  ORDER BY i.seq LIMIT $3) x WHERE skipped < $4 ORDER BY seq",
  [PR_HISTORY] =
    "SELECT " MESSAGE_COLUMNS ", m.timeline_seq FROM messages m JOIN users u ON u.id = m.sender_id"
    " WHERE m.app_id = $1 AND m.channel = $2 AND m.flags & 1 <> 0 AND m.sent_time < $3"
    " AND m.sent_time >= $5 AND ($6::bigint < 0 OR (m.timeline_seq >= $6 AND m.timeline_seq <= $7))"
    " AND m.object_name <> '" NATTER_OBJECT_CLEAR_COMMAND "' AND m.sent_time >= COALESCE ((SELECT"
    " c.cleared_time FROM conversations c WHERE c.user_id = $8 AND c.conversation_type ="
    " m.conversation_type AND c.target_id = $9), 0)"
    " ORDER BY m.sent_time DESC, m.id DESC LIMIT $4",
  [PR_MEDIA] = "SELECT size, content_type, name FROM media WHERE app_id = $1 AND hash = $2",
  [PR_MEDIA_USAGE] = "SELECT uploader_id, sum (size) FROM media WHERE app_id = $1 GROUP BY uploader_id",
  [PR_EXPORT_FIRST_ID] =
    "SELECT COALESCE ((SELECT first_message_id FROM hours WHERE hour >= $1 ORDER BY hour LIMIT 1),"
    " 9223372036854775807)",
  [PR_EXPORT] =
    "SELECT " MESSAGE_COLUMNS ", m.channel FROM messages m JOIN users u ON u.id = m.sender_id"
    " WHERE m.id >= $1 AND m.id < $2 AND m.app_id = $3 AND m.flags & 1 <> 0"
    " AND m.sent_time >= $4 AND m.sent_time < $5 ORDER BY m.id",
  [PR_TIMELINE_MEMBER] =
    "SELECT tm.first_seq, CASE WHEN tm.member <> 0 THEN COALESCE (t.latest_seq, 0) ELSE tm.last_seq END,"
    " tm.read_seq, tm.member, tm.last_seq FROM timeline_members tm"
    " LEFT JOIN timelines t ON t.app_id = tm.app_id AND t.target_id = tm.target_id"
    " WHERE tm.user_id = $1 AND tm.target_id = $2 AND tm.app_id = $3",
  [PR_TIMELINE] =
    "SELECT * FROM (SELECT " MESSAGE_COLUMNS ", m.timeline_seq,"
    " EXISTS (SELECT 1 FROM timeline_mentions x WHERE x.app_id = m.app_id AND x.target_id = m.target_id"
    "  AND x.timeline_seq = m.timeline_seq AND x.user_id IN ($5, 0) AND x.sender_id <> $5) AS mentioned,"
    " sum (octet_length (m.content)) OVER (ORDER BY m.timeline_seq) - octet_length (m.content) AS skipped"
    " FROM messages m JOIN users u ON u.id = m.sender_id"
    " WHERE m.app_id = $1 AND m.target_id = $2 AND m.timeline_seq > $3 AND m.timeline_seq <= $4"
    " ORDER BY m.timeline_seq LIMIT $6) x WHERE skipped < $7 ORDER BY timeline_seq",
  [PR_TIMELINE_CLOCK] = "SELECT COALESCE (max (time), 0) FROM timeline_clock",
  [PR_TIMELINE_SYNC] =
    "SELECT tm.target_id, COALESCE (t.conversation_type, 2), tm.first_seq, tm.last_seq, tm.member,"
    " tm.read_seq, COALESCE (t.latest_seq, 0), COALESCE (t.updated_time, 0), tm.app_id"
    " FROM timeline_members tm LEFT JOIN timelines t ON t.app_id = tm.app_id AND t.target_id = tm.target_id"
    " WHERE tm.user_id = $1 AND tm.target_id > $2 AND (tm.member <> 0 OR tm.last_seq > 0)"
    " AND (tm.changed >= $3 OR (tm.member <> 0 AND t.changed >= $3))"
    " ORDER BY tm.target_id LIMIT $4",
  [PR_TIMELINE_UNREAD] =
    "SELECT count (*) FROM (SELECT 1 FROM messages WHERE app_id = $1 AND target_id = $2"
    " AND timeline_seq > $3 AND timeline_seq <= $4 AND flags & 2 <> 0 AND sender_id <> $5"
    " LIMIT " G_STRINGIFY (NATTERD_UNREAD_MAX) ") x",
  [PR_TIMELINE_MENTIONED] =
    "SELECT EXISTS (SELECT 1 FROM timeline_mentions WHERE app_id = $1 AND target_id = $2"
    " AND timeline_seq > $3 AND timeline_seq <= $4 AND user_id IN ($5, 0) AND sender_id <> $5)",
  /* Inbox conversations from their rows; group timelines the user is or
   * was in from the timeline, as natterd-store-sqlite-read.c does. $6:
   * the conversation types (empty: all); $7: a cursor is given. */
  [PR_CONVERSATIONS] =
    "SELECT c.conversation_type, c.target_id, c.unread, c.pinned, c.muted,"
    " c.updated_time, m.id, m.uid, m.conversation_type, u.user_id, m.target_id,"
    " m.object_name, c.mentioned, m.flags, octet_length (m.content),"
    " CASE WHEN m.object_name IN ($9, $10) THEN m.content ELSE substr (m.content, 1, $8) END"
    " FROM (SELECT conversation_type, target_id, unread, pinned, muted, updated_time,"
    "   latest_message_id, false AS mentioned FROM conversations"
    "   WHERE user_id = $1 AND hidden = 0 AND conversation_type NOT IN (2, 3)"
    "  UNION ALL"
    "  SELECT g.conversation_type, g.target_id,"
    "   (SELECT count (*) FROM (SELECT 1 FROM messages WHERE app_id = g.app_id"
    "    AND target_id = g.target_id AND timeline_seq > g.lo AND timeline_seq <= g.hi"
    "    AND flags & 2 <> 0 AND sender_id <> $1 LIMIT " G_STRINGIFY (NATTERD_UNREAD_MAX) ") x)::integer,"
    "   COALESCE (k.pinned, 0), COALESCE (k.muted, 0), g.latest_time, g.latest_id,"
    "   EXISTS (SELECT 1 FROM timeline_mentions WHERE app_id = g.app_id AND target_id = g.target_id"
    "    AND timeline_seq > g.lo AND timeline_seq <= g.hi AND user_id IN ($1, 0) AND sender_id <> $1)"
    "  FROM (SELECT r.*, l.id AS latest_id, l.sent_time AS latest_time"
    "   FROM (SELECT tm.app_id, tm.target_id, t.conversation_type, GREATEST (tm.first_seq, 1) AS first,"
    "     GREATEST (tm.read_seq, tm.first_seq - 1) AS lo,"
    "     CASE WHEN tm.member <> 0 THEN t.latest_seq ELSE tm.last_seq END AS hi"
    "     FROM timeline_members tm JOIN timelines t ON t.app_id = tm.app_id"
    "     AND t.target_id = tm.target_id WHERE tm.user_id = $1) r"
    "   LEFT JOIN LATERAL (SELECT id, sent_time FROM messages WHERE app_id = r.app_id"
    "     AND target_id = r.target_id AND timeline_seq >= r.first AND timeline_seq <= r.hi"
    "     AND flags & 1 <> 0 ORDER BY timeline_seq DESC LIMIT 1) l ON true) g"
    "  LEFT JOIN conversations k ON k.user_id = $1 AND k.conversation_type = g.conversation_type"
    "   AND k.target_id = g.target_id"
    "  WHERE g.latest_id IS NOT NULL"
    "   AND (k.hidden IS NULL OR k.hidden = 0 OR g.latest_time > k.updated_time)) c"
    " LEFT JOIN messages m ON m.id = c.latest_message_id"
    " LEFT JOIN users u ON u.id = m.sender_id"
    " WHERE (cardinality ($6::integer[]) = 0 OR c.conversation_type = ANY ($6::integer[]))"
    " AND (NOT $7::boolean OR (c.pinned, c.updated_time, c.conversation_type, c.target_id)"
    "  < ($2::integer, $3::bigint, $4::integer, $5::text))"
    " ORDER BY c.pinned DESC, c.updated_time DESC, c.conversation_type DESC,"
    " c.target_id DESC LIMIT $11",
  [PR_WEBHOOK_EVENTS] =
    "SELECT * FROM (SELECT message_id, app_id, body,"
    "  sum (octet_length (body)) OVER (ORDER BY message_id) - octet_length (body) AS skipped"
    "  FROM webhook_events WHERE message_id > $1 ORDER BY message_id LIMIT $2) x"
    " WHERE skipped < $3 ORDER BY message_id",
  [PR_WEBHOOK_CLAIM] =
    "INSERT INTO webhook_leases (app_id, owner, expires)"
    " SELECT DISTINCT app_id, $1, " NOW_MS " + $2 FROM webhook_events"
    " ON CONFLICT (app_id) DO UPDATE SET owner = excluded.owner, expires = excluded.expires"
    " WHERE webhook_leases.owner = excluded.owner OR webhook_leases.expires < " NOW_MS,
  [PR_WEBHOOK_CLAIMED_EVENTS] =
    "SELECT * FROM (SELECT message_id, app_id, body,"
    "  sum (octet_length (body)) OVER (ORDER BY message_id) - octet_length (body) AS skipped"
    "  FROM webhook_events WHERE message_id > $1 AND app_id IN (SELECT app_id FROM webhook_leases"
    "   WHERE owner = $4 AND expires > " NOW_MS ")"
    "  ORDER BY message_id LIMIT $2) x"
    " WHERE skipped < $3 ORDER BY message_id",
  /* Who read which of messages $1, those that $2 sent (#16). */
  [PR_READERS] =
    "SELECT r.message_id, u.user_id, r.read_time FROM message_readers r"
    " JOIN messages m ON m.id = r.message_id JOIN users u ON u.id = r.reader_id"
    " WHERE r.message_id = ANY ($1::bigint[]) AND m.sender_id = $2::bigint"
    " ORDER BY r.message_id, r.read_time, r.reader_id",
};

static PGresult *
run (NatterdStorePg  *self,
     int              index,
     PgParams        *params,
     GError         **error)
{
  return natterd_pg_run (&self->reader, index, params, error);
}

static void
read_message (const PGresult *r,
              int             row,
              int             first,
              NatterdMessage *m)
{
  m->id = natterd_pg_int (r, row, first);
  m->uid = natterd_pg_text (r, row, first + 1);
  m->conversation_type = (int) natterd_pg_int (r, row, first + 2);
  m->sender_user_id = natterd_pg_text (r, row, first + 3);
  m->target_id = natterd_pg_text (r, row, first + 4);
  m->object_name = natterd_pg_text (r, row, first + 5);
  m->content = natterd_pg_text (r, row, first + 6);
  m->push_content = natterd_pg_text (r, row, first + 7);
  m->flags = (guint) natterd_pg_int (r, row, first + 8);
  m->sent_time = natterd_pg_int (r, row, first + 9);
}

/* Reads between the two see one snapshot of the database. */
static gboolean
snapshot_begin (NatterdStorePg  *self,
                GError         **error)
{
  return natterd_pg_exec (self->reader.conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", error);
}

static gboolean
snapshot_end (NatterdStorePg *self,
              gboolean        ok)
{
  if (PQstatus (self->reader.conn) == CONNECTION_OK)
    natterd_pg_exec (self->reader.conn, ok ? "COMMIT" : "ROLLBACK", NULL);
  return ok;
}

static gboolean
read_replay (NatterdStorePg     *self,
             NatterdReplayRead  *read,
             GError            **error)
{
  PgParams params = { 0 };
  PGresult *r;
  gsize bytes = 0;

  if (read->read_head)
    {
      natterd_pg_params_int (&params, read->user_id);
      r = natterd_pg_query (self->reader.conn, "SELECT max_seq FROM users WHERE id = $1", &params, error);
      if (r == NULL)
        return FALSE;
      read->head = PQntuples (r) == 1 ? (guint64) natterd_pg_int (r, 0, 0) : 0;
      PQclear (r);
      params = (PgParams) { 0 };
    }
  natterd_pg_params_int (&params, read->user_id);
  natterd_pg_params_int (&params, (gint64) read->after_seq);
  natterd_pg_params_int (&params, read->limit);
  natterd_pg_params_int (&params, read->max_bytes > 0 ? (gint64) read->max_bytes : G_MAXINT64);
  r = run (self, PR_REPLAY, &params, error);
  if (r == NULL)
    return FALSE;
  for (int i = 0; i < PQntuples (r); i++)
    {
      NatterdInboxEntry *entry = g_new0 (NatterdInboxEntry, 1);

      entry->seq = (guint64) natterd_pg_int (r, i, 0);
      read_message (r, i, 1, &entry->message);
      g_ptr_array_add (read->entries, entry);
      bytes += entry->message.content != NULL ? strlen (entry->message.content) : 0;
      if (read->max_bytes > 0 && bytes >= read->max_bytes)
        break;  /* the page is full; the rest next time */
    }
  PQclear (r);
  return TRUE;
}

/* The readers of @user_id's own group messages among @messages (#16),
 * in one query. */
static gboolean
read_readers (NatterdStorePg  *self,
              GPtrArray       *messages,
              gint64           user_id,
              GError         **error)
{
  g_autoptr(GHashTable) by_id = g_hash_table_new (g_int64_hash, g_int64_equal);
  g_autoptr(GString) ids = g_string_new ("{");
  PgParams params = { 0 };
  PGresult *r;

  for (guint i = 0; i < messages->len; i++)
    {
      NatterdMessage *m = g_ptr_array_index (messages, i);

      if (m->uid == NULL || m->timeline_seq == 0)
        continue;
      g_string_append_printf (ids, "%s%" G_GINT64_FORMAT, ids->len > 1 ? "," : "", m->id);
      g_hash_table_insert (by_id, &m->id, m);
    }
  if (g_hash_table_size (by_id) == 0)
    return TRUE;
  g_string_append_c (ids, '}');
  natterd_pg_params_text (&params, ids->str);
  natterd_pg_params_int (&params, user_id);
  r = run (self, PR_READERS, &params, error);
  if (r == NULL)
    return FALSE;
  for (int i = 0; i < PQntuples (r); i++)
    {
      gint64 id = natterd_pg_int (r, i, 0);
      NatterdMessage *m = g_hash_table_lookup (by_id, &id);
      NatterdReader *reader;

      if (m == NULL)
        continue;
      reader = g_new (NatterdReader, 1);
      reader->user_id = natterd_pg_text (r, i, 1);
      reader->read_time = natterd_pg_int (r, i, 2);
      if (m->readers == NULL)
        m->readers = g_ptr_array_new_with_free_func ((GDestroyNotify) natterd_reader_free);
      g_ptr_array_add (m->readers, reader);
    }
  PQclear (r);
  return TRUE;
}

/* The part of a timeline @user_id may read, as in the SQLite backend. */
static gboolean
timeline_range (NatterdStorePg  *self,
                gint64           user_id,
                gint64           app_id,
                const char      *target_id,
                gboolean        *not_member,
                guint64         *first,
                guint64         *last,
                guint64         *read_seq,
                GError         **error)
{
  PgParams params = { 0 };
  PGresult *r;

  natterd_pg_params_int (&params, user_id);
  natterd_pg_params_text (&params, target_id);
  natterd_pg_params_int (&params, app_id);
  r = run (self, PR_TIMELINE_MEMBER, &params, error);
  if (r == NULL)
    return FALSE;
  *not_member = PQntuples (r) != 1;
  if (!*not_member)
    {
      *first = MAX ((guint64) natterd_pg_int (r, 0, 0), 1);
      *last = (guint64) natterd_pg_int (r, 0, 1);
      *read_seq = (guint64) natterd_pg_int (r, 0, 2);
      /* Left when the timeline was empty: nothing is theirs. */
      if (natterd_pg_int (r, 0, 3) == 0 && natterd_pg_int (r, 0, 4) == 0)
        *not_member = TRUE;
    }
  PQclear (r);
  return TRUE;
}

static gboolean
read_history (NatterdStorePg      *self,
              NatterdHistoryRead  *read,
              GError             **error)
{
  PgParams params = { 0 };
  gint64 first = -1, last = 0;
  PGresult *r;

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

  natterd_pg_params_int (&params, read->app_id);
  natterd_pg_params_text (&params, read->channel);
  natterd_pg_params_int (&params, read->before_time > 0 ? read->before_time : G_MAXINT64);
  natterd_pg_params_int (&params, read->limit);
  natterd_pg_params_int (&params, read->from_time);
  natterd_pg_params_int (&params, first);
  natterd_pg_params_int (&params, last);
  natterd_pg_params_int (&params, read->user_id);
  natterd_pg_params_text (&params, read->target_id != NULL ? read->target_id : "");
  r = run (self, PR_HISTORY, &params, error);
  if (r == NULL)
    return FALSE;
  for (int i = 0; i < PQntuples (r); i++)
    {
      NatterdMessage *m = g_new0 (NatterdMessage, 1);

      read_message (r, i, 0, m);
      m->timeline_seq = (guint64) natterd_pg_int (r, i, 10);
      g_ptr_array_add (read->messages, m);
    }
  PQclear (r);
  return read_readers (self, read->messages, read->user_id, error);
}

static gboolean
read_conversations (NatterdStorePg            *self,
                    NatterdConversationsRead  *read,
                    GError                   **error)
{
  g_autoptr(GString) types = g_string_new ("{");
  PgParams params = { 0 };
  PGresult *r;

  for (guint i = 0; i < read->types->len; i++)
    g_string_append_printf (types, "%s%d", i ? "," : "", g_array_index (read->types, int, i));
  g_string_append_c (types, '}');

  natterd_pg_params_int (&params, read->user_id);
  natterd_pg_params_int (&params, read->has_cursor && read->cursor_pinned ? 1 : 0);
  natterd_pg_params_int (&params, read->has_cursor ? read->cursor_time : 0);
  natterd_pg_params_int (&params, read->has_cursor ? read->cursor_type : 0);
  natterd_pg_params_text (&params, read->has_cursor && read->cursor_target != NULL ? read->cursor_target : "");
  natterd_pg_params_text (&params, types->str);
  natterd_pg_params_text (&params, read->has_cursor ? "true" : "false");
  natterd_pg_params_int (&params, PREVIEW_READ_MAX);
  natterd_pg_params_text (&params, NATTER_OBJECT_IMAGE);
  natterd_pg_params_text (&params, NATTER_OBJECT_VOICE);
  natterd_pg_params_int (&params, read->limit);
  r = run (self, PR_CONVERSATIONS, &params, error);
  if (r == NULL)
    return FALSE;

  for (int i = 0; i < PQntuples (r); i++)
    {
      NatterdConversation *c = g_new0 (NatterdConversation, 1);

      g_ptr_array_add (read->conversations, c);
      c->conversation_type = (int) natterd_pg_int (r, i, 0);
      c->target_id = natterd_pg_text (r, i, 1);
      c->unread = (guint) natterd_pg_int (r, i, 2);
      c->pinned = natterd_pg_int (r, i, 3) != 0;
      c->muted = natterd_pg_int (r, i, 4) != 0;
      c->updated_time = natterd_pg_int (r, i, 5);
      c->mentioned = g_strcmp0 (natterd_pg_value (r, i, 12), "t") == 0;
      if (!PQgetisnull (r, i, 6) && !PQgetisnull (r, i, 9))
        {
          NatterdMessage *m = g_new0 (NatterdMessage, 1);
          const char *start = natterd_pg_value (r, i, 15);
          gsize length = start != NULL ? strlen (start) : 0;

          c->latest = m;
          m->id = natterd_pg_int (r, i, 6);
          m->uid = natterd_pg_text (r, i, 7);
          m->conversation_type = (int) natterd_pg_int (r, i, 8);
          m->sender_user_id = natterd_pg_text (r, i, 9);
          m->target_id = natterd_pg_text (r, i, 10);
          m->object_name = natterd_pg_text (r, i, 11);
          m->flags = (guint) natterd_pg_int (r, i, 13);
          m->sent_time = c->updated_time;
          m->content = natter_content_preview (m->object_name, start != NULL ? start : "", length,
                                               (gsize) natterd_pg_int (r, i, 14));
          if (m->content != NULL)
            m->flags |= NATTER_MESSAGE_FLAG_PREVIEW;
          else
            m->content = g_strdup (start != NULL ? start : "");
        }
    }
  PQclear (r);
  return TRUE;
}

static gint64
export_first_id (NatterdStorePg  *self,
                 gint64           hour,
                 GError         **error)
{
  PgParams params = { 0 };
  PGresult *r;
  gint64 id;

  natterd_pg_params_int (&params, hour);
  r = run (self, PR_EXPORT_FIRST_ID, &params, error);
  if (r == NULL)
    return -1;
  id = natterd_pg_int (r, 0, 0);
  PQclear (r);
  return id;
}

/* One JSON object a line in the shape of RongCloud's history files, as
 * the SQLite backend writes them. */
static gboolean
read_export (NatterdStorePg     *self,
             NatterdExportRead  *read,
             GError            **error)
{
  g_autofree char *partial = g_strconcat (read->path, ".partial", NULL);
  g_autoptr(GFile) file = g_file_new_for_path (partial);
  g_autoptr(GFileOutputStream) raw = NULL;
  g_autoptr(GZlibCompressor) compressor = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP, 6);
  g_autoptr(GOutputStream) out = NULL;
  g_autoptr(GString) line = g_string_new (NULL);
  PgParams params = { 0 };
  gint64 first, last;
  PGresult *r;

  /* Ids come from a sequence several nodes draw from: read an hour more
   * on each side and filter by time. */
  first = export_first_id (self, read->from_time / (3600 * 1000) - 2, error);
  if (first < 0)
    return FALSE;
  last = export_first_id (self, read->to_time / (3600 * 1000) + 2, error);
  if (last < 0)
    return FALSE;

  raw = g_file_replace (file, NULL, FALSE, G_FILE_CREATE_PRIVATE, NULL, error);
  if (raw == NULL)
    return FALSE;
  out = g_converter_output_stream_new (G_OUTPUT_STREAM (raw), G_CONVERTER (compressor));

  natterd_pg_params_int (&params, first == G_MAXINT64 ? 0 : first);
  natterd_pg_params_int (&params, last);
  natterd_pg_params_int (&params, read->app_id);
  natterd_pg_params_int (&params, read->from_time);
  natterd_pg_params_int (&params, read->to_time);
  r = run (self, PR_EXPORT, &params, error);
  if (r == NULL)
    return FALSE;

  read->count = 0;
  for (int i = 0; i < PQntuples (r); i++)
    {
      NatterdMessage m = { 0 };

      read_message (r, i, 0, &m);
      g_string_truncate (line, 0);
      natterd_export_append_line (line, &m);
      natterd_message_clear (&m);

      if (!g_output_stream_write_all (out, line->str, line->len, NULL, NULL, error))
        {
          PQclear (r);
          return FALSE;
        }
      read->count++;
    }
  PQclear (r);

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
read_timeline (NatterdStorePg       *self,
               NatterdTimelineRead  *read,
               GError              **error)
{
  PgParams params = { 0 };
  gboolean not_member;
  guint64 first = 0, last = 0, read_seq;
  gsize bytes = 0;
  PGresult *r;

  if (!timeline_range (self, read->user_id, read->app_id, read->target_id, &not_member, &first, &last,
                       &read_seq, error))
    return FALSE;
  read->found = !not_member;
  read->last_seq = last;
  if (not_member)
    return TRUE;

  natterd_pg_params_int (&params, read->app_id);
  natterd_pg_params_text (&params, read->target_id);
  natterd_pg_params_int (&params, (gint64) MAX (read->after_seq, first - 1));
  natterd_pg_params_int (&params, (gint64) last);
  natterd_pg_params_int (&params, read->user_id);
  natterd_pg_params_int (&params, read->limit);
  natterd_pg_params_int (&params, read->max_bytes > 0 ? (gint64) read->max_bytes : G_MAXINT64);
  r = run (self, PR_TIMELINE, &params, error);
  if (r == NULL)
    return FALSE;
  for (int i = 0; i < PQntuples (r); i++)
    {
      NatterdMessage *m = g_new0 (NatterdMessage, 1);

      read_message (r, i, 0, m);
      m->timeline_seq = (guint64) natterd_pg_int (r, i, 10);
      m->mentioned = g_strcmp0 (natterd_pg_value (r, i, 11), "t") == 0;
      g_ptr_array_add (read->messages, m);
      bytes += m->content != NULL ? strlen (m->content) : 0;
      if (read->max_bytes > 0 && bytes >= read->max_bytes)
        break;
    }
  PQclear (r);
  return read_readers (self, read->messages, read->user_id, error);
}

static gboolean
timeline_unread (NatterdStorePg  *self,
                 gint64           user_id,
                 gint64           app_id,
                 const char      *target_id,
                 guint64          after,
                 guint64          last,
                 guint           *unread,
                 gboolean        *mentioned,
                 GError         **error)
{
  for (int i = 0; i < 2; i++)
    {
      PgParams params = { 0 };
      PGresult *r;

      natterd_pg_params_int (&params, app_id);
      natterd_pg_params_text (&params, target_id);
      natterd_pg_params_int (&params, (gint64) after);
      natterd_pg_params_int (&params, (gint64) last);
      natterd_pg_params_int (&params, user_id);
      r = run (self, i == 0 ? PR_TIMELINE_UNREAD : PR_TIMELINE_MENTIONED, &params, error);
      if (r == NULL)
        return FALSE;
      if (i == 0)
        *unread = (guint) natterd_pg_int (r, 0, 0);
      else
        *mentioned = g_strcmp0 (natterd_pg_value (r, 0, 0), "t") == 0;
      PQclear (r);
    }
  return TRUE;
}

static gboolean
read_timeline_sync_locked (NatterdStorePg           *self,
                           NatterdTimelineSyncRead  *read,
                           GError                  **error)
{
  PgParams params = { 0 };
  PGresult *r;

  /* In the page's snapshot: every change it misses was stamped at or
   * after this (the writers hold the clock row until they commit). */
  if (read->sync_time == 0)
    {
      r = run (self, PR_TIMELINE_CLOCK, NULL, error);
      if (r == NULL)
        return FALSE;
      read->sync_time = natterd_pg_int (r, 0, 0);
      PQclear (r);
    }

  natterd_pg_params_int (&params, read->user_id);
  natterd_pg_params_text (&params, read->after_target != NULL ? read->after_target : "");
  natterd_pg_params_int (&params, read->since);
  natterd_pg_params_int (&params, read->limit);
  r = run (self, PR_TIMELINE_SYNC, &params, error);
  if (r == NULL)
    return FALSE;
  for (int i = 0; i < PQntuples (r); i++)
    {
      NatterdTimelineState *state = g_new0 (NatterdTimelineState, 1);
      gboolean member = natterd_pg_int (r, i, 4) != 0;

      state->target_id = natterd_pg_text (r, i, 0);
      state->conversation_type = (int) natterd_pg_int (r, i, 1);
      state->first_seq = (guint64) natterd_pg_int (r, i, 2);
      state->last_seq = member ? 0 : (guint64) natterd_pg_int (r, i, 3);
      state->read_seq = (guint64) natterd_pg_int (r, i, 5);
      state->latest_seq = member ? (guint64) natterd_pg_int (r, i, 6) : state->last_seq;
      state->updated_time = natterd_pg_int (r, i, 7);
      g_ptr_array_add (read->timelines, state);
    }
  PQclear (r);

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
read_timeline_sync (NatterdStorePg           *self,
                    NatterdTimelineSyncRead  *read,
                    GError                  **error)
{
  /* One snapshot for the clock and the page. */
  return snapshot_begin (self, error) &&
         snapshot_end (self, read_timeline_sync_locked (self, read, error));
}

static gboolean
read_media (NatterdStorePg    *self,
            NatterdMediaRead  *read,
            GError           **error)
{
  PgParams params = { 0 };
  PGresult *r;

  natterd_pg_params_int (&params, read->app_id);
  natterd_pg_params_text (&params, read->hash);
  r = run (self, PR_MEDIA, &params, error);
  if (r == NULL)
    return FALSE;
  if (PQntuples (r) == 1)
    {
      read->found = TRUE;
      read->size = (guint64) natterd_pg_int (r, 0, 0);
      read->content_type = natterd_pg_text (r, 0, 1);
      read->name = natterd_pg_text (r, 0, 2);
    }
  PQclear (r);
  return TRUE;
}

static gboolean
read_media_usage (NatterdStorePg         *self,
                  NatterdMediaUsageRead  *read,
                  GError                **error)
{
  PgParams params = { 0 };
  PGresult *r;

  natterd_pg_params_int (&params, read->app_id);
  r = run (self, PR_MEDIA_USAGE, &params, error);
  if (r == NULL)
    return FALSE;
  for (int i = 0; i < PQntuples (r); i++)
    {
      NatterdMediaUsage usage = {
        .uploader_id = natterd_pg_int (r, i, 0),
        .bytes = (guint64) natterd_pg_int (r, i, 1),
      };

      g_array_append_val (read->usage, usage);
    }
  PQclear (r);
  return TRUE;
}

static gboolean
read_webhook_events (NatterdStorePg            *self,
                     NatterdWebhookEventsRead  *read,
                     GError                   **error)
{
  PgParams params = { 0 };
  PGresult *r;
  gsize bytes = 0;

  if (read->claim != NULL)
    {
      PgParams claim = { 0 };

      natterd_pg_params_text (&claim, read->claim);
      natterd_pg_params_int (&claim, read->lease_ms);
      r = run (self, PR_WEBHOOK_CLAIM, &claim, error);
      if (r == NULL)
        return FALSE;
      PQclear (r);
    }

  natterd_pg_params_int (&params, read->after_id);
  natterd_pg_params_int (&params, read->limit);
  natterd_pg_params_int (&params, read->max_bytes > 0 ? (gint64) read->max_bytes : G_MAXINT64);
  if (read->claim != NULL)
    natterd_pg_params_text (&params, read->claim);
  r = run (self, read->claim != NULL ? PR_WEBHOOK_CLAIMED_EVENTS : PR_WEBHOOK_EVENTS, &params, error);
  if (r == NULL)
    return FALSE;
  for (int i = 0; i < PQntuples (r); i++)
    {
      NatterdWebhookEvent *event = g_new0 (NatterdWebhookEvent, 1);

      event->id = natterd_pg_int (r, i, 0);
      event->app_id = natterd_pg_int (r, i, 1);
      event->body = g_strdup (PQgetvalue (r, i, 2));
      g_ptr_array_add (read->events, event);
      bytes += strlen (event->body);
      if (read->max_bytes > 0 && bytes >= read->max_bytes)
        break;
    }
  PQclear (r);
  return TRUE;
}

/* The directory's rows from one snapshot: a member is read with its user. */
static gboolean
read_apps (NatterdStorePg   *self,
           NatterdAppsRead  *read,
           GError          **error)
{
  if (read->directory == NULL)
    return natterd_store_pg_read_apps (&self->reader, read->apps, error) &&
           (!read->want_horizon || natterd_store_pg_read_horizon (self->reader.conn, &read->horizon, error));
  return snapshot_begin (self, error) &&
         snapshot_end (self, natterd_store_pg_read_apps (&self->reader, read->apps, error) &&
                             natterd_store_pg_read_horizon (self->reader.conn, &read->horizon, error) &&
                             (read->since == NULL ?
                              natterd_store_pg_load_rows (self->reader.conn, natterd_load_log_sink (),
                                                          read->directory, error) :
                              natterd_store_pg_load_changed_rows (self->reader.conn, natterd_load_log_sink (),
                                                                  read->directory, read->since, read->user_ids,
                                                                  read->changed, error)));
}

gboolean
natterd_store_pg_read (NatterdStore  *store,
                       NatterdRead   *read,
                       GError       **error)
{
  NatterdStorePg *self = NATTERD_STORE_PG (store);

  if (!natterd_pg_link_ready (&self->reader, self->conninfo, error))
    return FALSE;

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
      return read_apps (self, (NatterdAppsRead *) read, error);
    case NATTERD_READ_MEDIA_USAGE:
      return read_media_usage (self, (NatterdMediaUsageRead *) read, error);
    case NATTERD_READ_ACCOUNT_ROWS:
      return natterd_store_pg_read_account_rows (self->reader.conn, (NatterdAccountRowsRead *) read, error);
    case NATTERD_READ_LOGIN:
      return natterd_store_pg_read_login (self->reader.conn, (NatterdLoginRead *) read, error);
    case NATTERD_READ_USER_GROUPS:
      return natterd_store_pg_read_user_groups (self->reader.conn, (NatterdUserGroupsRead *) read, error);
    case NATTERD_READ_USER:
      return snapshot_begin (self, error) &&
             snapshot_end (self, natterd_store_pg_read_user (self->reader.conn, (NatterdUserRead *) read, error));
    case NATTERD_READ_MEMBERS:
      return natterd_store_pg_read_members (self->reader.conn, (NatterdMembersRead *) read, error);
    case NATTERD_READ_WEBHOOK_EVENTS:
      return read_webhook_events (self, (NatterdWebhookEventsRead *) read, error);
    case NATTERD_READ_TIMELINE_SYNC:
      return read_timeline_sync (self, (NatterdTimelineSyncRead *) read, error);
    case NATTERD_READ_TIMELINE:
      return read_timeline (self, (NatterdTimelineRead *) read, error);
    default:
      g_assert_not_reached ();
    }
}
