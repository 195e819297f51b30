/* natter-fuzz-cursor.c — libFuzzer target for the cursors natterd hands
 * out and takes back: the conversation list page cursor and the hour of a
 * message/history link
 *
 * Both come back from clients and app servers as they like. Whatever the
 * bytes: no crash, no leak; a cursor that parses formats to one that parses
 * the same, and an hour that parses is the hour it names.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-fuzz.h"

#include "natterd-parse-private.h"
#include "natterd-server-private.h"

static void
fuzz_conversation_cursor (const char *text)
{
  NatterdConversationsRead *read = natterd_read_new (NATTERD_READ_CONVERSATIONS, NULL, NULL, NULL);
  NatterdConversationsRead *again = natterd_read_new (NATTERD_READ_CONVERSATIONS, NULL, NULL, NULL);
  NatterdConversation conversation = { 0 };
  g_autofree char *formatted = NULL;

  if (natterd_conversation_cursor_parse (text, read))
    {
      g_assert_true (read->has_cursor);
      g_assert_true (natter_id_is_valid (read->cursor_target));
      g_assert_cmpint (read->cursor_type, >=, 1);
      g_assert_cmpint (read->cursor_type, <=, 8);

      conversation.pinned = read->cursor_pinned;
      conversation.updated_time = read->cursor_time;
      conversation.conversation_type = read->cursor_type;
      conversation.target_id = read->cursor_target;
      formatted = natterd_conversation_cursor_format (&conversation);
      g_assert_true (natterd_conversation_cursor_parse (formatted, again));
      g_assert_true (again->cursor_pinned == read->cursor_pinned);
      g_assert_cmpint (again->cursor_time, ==, read->cursor_time);
      g_assert_cmpint (again->cursor_type, ==, read->cursor_type);
      g_assert_cmpstr (again->cursor_target, ==, read->cursor_target);
    }
  else
    g_assert_false (read->has_cursor);

  natterd_read_free (&read->base);
  natterd_read_free (&again->base);
}

static void
fuzz_history_hour (const char *text)
{
  g_autoptr(GDateTime) time = NULL;
  g_autofree char *name = NULL;
  gint64 start;

  if (!natterd_history_parse_date (text, &start))
    return;
  g_assert_cmpint (start % (3600 * 1000), ==, 0);
  time = g_date_time_new_from_unix_utc (start / 1000);
  g_assert_nonnull (time);
  name = g_date_time_format (time, "%Y%m%d%H");
  /* (%Y has no leading zero: years before 1000 name no link anyway.) */
  if (text[0] != '0')
    g_assert_cmpstr (name, ==, text);
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autofree char *text = natter_fuzz_string (data, size);

  natter_fuzz_quiet_logs ();
  fuzz_conversation_cursor (text);
  fuzz_history_hour (text);
  return 0;
}
