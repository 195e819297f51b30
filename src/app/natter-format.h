/* natter-format.h — how times, sizes, errors and message previews read
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <natter.h>

G_BEGIN_DECLS

/* Conversation list: "14:05", "Yesterday", "Mon", "Mar 5", "3/5/24". @now_ms 0 = now. */
char       *natter_format_list_time      (gint64        time_ms,
                                          gint64        now_ms);
/* Day separator: "Today", "Yesterday", "Monday", "March 5", "March 5, 2024". */
char       *natter_format_day            (gint64        time_ms,
                                          gint64        now_ms);
/* "14:05". */
char       *natter_format_clock          (gint64        time_ms);
/* Full date and time for tooltips. */
char       *natter_format_date_time      (gint64        time_ms);
/* "0:07", "3:21", "1:02:03". */
char       *natter_format_duration       (gint64        seconds);
/* The local time zone, kept while TZ stays the same (owned by natter-format). */
GTimeZone  *natter_format_local_zone     (void);
/* The same calendar day in local time. */
gboolean    natter_same_day              (gint64        a_ms,
                                          gint64        b_ms);

/* What went wrong, for people: connect refusals, send refusals, ... */
char       *natter_format_error          (const GError *error);
const char *natter_format_code           (int           code);

/* One line for the conversation list and notifications, translated. */
char       *natter_format_preview        (NatterMessage *message);
/* "Video call · 3:21", "Missed call", "Declined"...; *icon_name gets an icon. */
char       *natter_format_call_summary   (NatterMessage *message,
                                          const char   **icon_name);
/* "Private chat", "Group", "Chat room"... */
const char *natter_format_conversation_type (NatterConversationType type);

G_END_DECLS
