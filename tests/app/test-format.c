/* test-format.c — how times, durations and errors read
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <locale.h>
#include <string.h>

#include "natter-format.h"
#include "natter-format-accounts.h"

static gint64
local_ms (int year, int month, int day, int hour, int minute)
{
  g_autoptr(GDateTime) t = g_date_time_new_local (year, month, day, hour, minute, 0);
  return g_date_time_to_unix (t) * 1000;
}

static void
test_duration (void)
{
  struct { gint64 seconds; const char *text; } cases[] = {
    { 0, "0:00" }, { 7, "0:07" }, { 201, "3:21" }, { 3723, "1:02:03" }, { -5, "0:00" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = natter_format_duration (cases[i].seconds);
      g_assert_cmpstr (text, ==, cases[i].text);
    }
}

static void
test_days (void)
{
  gint64 now = local_ms (2026, 3, 18, 15, 0);   /* a Wednesday */
  g_autofree char *today = natter_format_day (local_ms (2026, 3, 18, 0, 5), now);
  g_autofree char *yesterday = natter_format_day (local_ms (2026, 3, 17, 23, 59), now);
  g_autofree char *monday = natter_format_day (local_ms (2026, 3, 16, 9, 0), now);
  g_autofree char *older = natter_format_day (local_ms (2026, 1, 2, 9, 0), now);
  g_autofree char *last_year = natter_format_day (local_ms (2025, 12, 31, 9, 0), now);
  g_autofree char *clock = natter_format_list_time (local_ms (2026, 3, 18, 9, 5), now);
  g_autofree char *list_yesterday = natter_format_list_time (local_ms (2026, 3, 17, 9, 5), now);

  g_assert_cmpstr (today, ==, "Today");
  g_assert_cmpstr (yesterday, ==, "Yesterday");
  g_assert_cmpstr (monday, ==, "Monday");
  g_assert_cmpstr (older, ==, "January 2");
  g_assert_cmpstr (last_year, ==, "December 31, 2025");
  g_assert_cmpstr (clock, ==, "09:05");
  g_assert_cmpstr (list_yesterday, ==, "Yesterday");

  g_assert_true (natter_same_day (local_ms (2026, 3, 18, 0, 0), local_ms (2026, 3, 18, 23, 59)));
  g_assert_false (natter_same_day (local_ms (2026, 3, 18, 23, 59), local_ms (2026, 3, 19, 0, 0)));
}

/* Read once (GLib rereads /etc/localtime for each g_time_zone_new_local()
 * while TZ is unset), but a new TZ is followed. */
static void
test_local_zone (void)
{
  /* 2026-03-18 16:30 UTC: 00:30 the next day in Shanghai */
  gint64 a = 1773851400000, b = a - 60 * 60 * 1000;

  g_unsetenv ("TZ");
  g_assert_true (natter_format_local_zone () == natter_format_local_zone ());

  g_setenv ("TZ", "UTC", TRUE);
  g_assert_cmpstr (g_time_zone_get_identifier (natter_format_local_zone ()), ==, "UTC");
  g_assert_true (natter_same_day (a, b));
  g_setenv ("TZ", "Asia/Shanghai", TRUE);
  g_assert_cmpstr (g_time_zone_get_identifier (natter_format_local_zone ()), ==, "Asia/Shanghai");
  g_assert_true (natter_format_local_zone () == natter_format_local_zone ());
  g_assert_false (natter_same_day (a, b));
}

static void
test_errors (void)
{
  g_autoptr(GError) token = g_error_new (NATTER_CLIENT_ERROR, NATTER_CODE_TOKEN_INCORRECT, "x");
  g_autoptr(GError) gagged = g_error_new (NATTER_CLIENT_ERROR, NATTER_CODE_GAGGED_IN_GROUP, "x");
  g_autoptr(GError) other = g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED, "disk on fire");
  g_autofree char *a = natter_format_error (token);
  g_autofree char *b = natter_format_error (gagged);
  g_autofree char *c = natter_format_error (other);
  const int codes[] = { 31002, 31004, 31005, 31008, 31009, 31010, 31020, 405, 20604, 22406,
                        22408, 23406, 23408, 23409, 23410, 25101, 26010, 30016, 33003 };

  g_assert_true (g_str_has_suffix (a, "(31004)"));
  g_assert_nonnull (strstr (a, "token"));
  g_assert_true (g_str_has_suffix (b, "(22408)"));
  g_assert_cmpstr (c, ==, "disk on fire");
  /* every reference code a user can meet has its own explanation */
  for (guint i = 0; i < G_N_ELEMENTS (codes); i++)
    for (guint j = i + 1; j < G_N_ELEMENTS (codes); j++)
      g_assert_cmpstr (natter_format_code (codes[i]), !=, natter_format_code (codes[j]));
  for (guint i = 0; i < G_N_ELEMENTS (codes); i++)
    g_assert_nonnull (natter_format_code (codes[i]));
  g_assert_null (natter_format_code (12345));
}

static char *
group_notice (const char *operation,
              const char *operator_id,
              const char *targets_json)
{
  g_autofree char *text = g_strdup_printf ("{\"operatorUserId\":\"%s\",\"operation\":\"%s\","
                                           "\"data\":{\"operatorNickname\":\"\",\"targetUserIds\":%s}}",
                                           operator_id, operation, targets_json);
  g_autoptr(JsonNode) node = json_from_string (text, NULL);
  g_autoptr(NatterMessage) message = natter_message_new (NATTER_CONVERSATION_GROUP, "lunch", operator_id,
                                                         "RC:GrpNtf", json_node_get_object (node));

  return natter_format_notice (message, "me");
}

/* X joined / added / removed / left (#16), and "You" for oneself. */
static void
test_group_notices (void)
{
  struct { const char *operation, *operator_id, *targets, *text; } cases[] = {
    { "Add", "alice", "[\"alice\"]", "alice joined the group" },
    { "Add", "me", "[\"me\"]", "You joined the group" },
    { "Add", "alice", "[\"bob\",\"carol\"]", "alice added bob, carol" },
    { "Add", "alice", "[\"alice\",\"bob\"]", "alice added alice, bob" },
    { "Kicked", "alice", "[\"bob\"]", "alice removed bob" },
    { "Quit", "bob", "[\"bob\"]", "bob left the group" },
    /* oneself as the object reads naturally (#14) */
    { "Kicked", "alice", "[\"me\"]", "alice removed you from the group" },
    { "Add", "alice", "[\"bob\",\"me\"]", "alice added bob, you" },
    { "Transfer", "alice", "[\"me\"]", "alice made you the owner" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = group_notice (cases[i].operation, cases[i].operator_id, cases[i].targets);
      g_assert_cmpstr (text, ==, cases[i].text);
    }
}

/* "X joined / left the chat room" (NT:ChrmNtf, as libnatter keeps it). */
static void
test_chatroom_notices (void)
{
  struct { const char *operation, *operator_id, *text; } cases[] = {
    { "Join", "alice", "alice joined the chat room" },
    { "Quit", "alice", "alice left the chat room" },
    { "Join", "me", "You joined the chat room" },
    { "Kicked", "alice", "alice was removed from the chat room" },
    { "Kicked", "me", "You were removed from the chat room" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *json = g_strdup_printf ("{\"operatorUserId\":\"%s\",\"operation\":\"%s\"}",
                                               cases[i].operator_id, cases[i].operation);
      g_autoptr(JsonNode) node = json_from_string (json, NULL);
      g_autoptr(NatterMessage) message = natter_message_new (NATTER_CONVERSATION_CHATROOM, "den",
                                                             cases[i].operator_id, "NT:ChrmNtf",
                                                             json_node_get_object (node));
      g_autofree char *text = natter_format_notice (message, "me");

      g_assert_cmpstr (text, ==, cases[i].text);
    }
}

int
main (int argc, char *argv[])
{
  setlocale (LC_ALL, "C.UTF-8");
  g_setenv ("TZ", "Asia/Shanghai", TRUE);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/format/group-notices", test_group_notices);
  g_test_add_func ("/format/chatroom-notices", test_chatroom_notices);
  g_test_add_func ("/format/duration", test_duration);
  g_test_add_func ("/format/days", test_days);
  g_test_add_func ("/format/errors", test_errors);
  g_test_add_func ("/format/local-zone", test_local_zone);
  return g_test_run ();
}
