/* natter-format.c — how times, sizes, errors and message previews read
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gi18n.h>

#include "natter-format.h"
#include "natter-format-accounts.h"

/* The local time zone, read again when TZ changes or a minute has passed:
 * with TZ unset, GLib 2.74's g_time_zone_new_local() reads and parses
 * /etc/localtime on every call, and a chat's rows ask for it several times
 * each (day separators, times); a minute still follows a laptop that
 * travels (the system's zone set anew). */
GTimeZone *
natter_format_local_zone (void)
{
  static GTimeZone *zone;
  static char *zone_tz;
  static gint64 zone_read;
  const char *tz = g_getenv ("TZ");
  gint64 now = g_get_monotonic_time ();

  if (zone == NULL || g_strcmp0 (tz, zone_tz) != 0 || now - zone_read > 60 * G_USEC_PER_SEC)
    {
      g_clear_pointer (&zone, g_time_zone_unref);
      g_free (zone_tz);
      zone = g_time_zone_new_local ();
      zone_tz = g_strdup (tz);
      zone_read = now;
    }
  return zone;
}

static GDateTime *
local_time (gint64 ms)
{
  g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc (ms / 1000);

  return utc != NULL ? g_date_time_to_timezone (utc, natter_format_local_zone ()) : NULL;
}

static int
days_between (GDateTime *earlier,
              GDateTime *later)
{
  g_autoptr(GDate) a = g_date_new_dmy (g_date_time_get_day_of_month (earlier),
                                       g_date_time_get_month (earlier),
                                       g_date_time_get_year (earlier));
  g_autoptr(GDate) b = g_date_new_dmy (g_date_time_get_day_of_month (later),
                                       g_date_time_get_month (later),
                                       g_date_time_get_year (later));
  return g_date_days_between (a, b);
}

static gint64
now_or (gint64 now_ms)
{
  return now_ms != 0 ? now_ms : g_get_real_time () / 1000;
}

gboolean
natter_same_day (gint64 a_ms,
                 gint64 b_ms)
{
  g_autoptr(GDateTime) a = local_time (a_ms);
  g_autoptr(GDateTime) b = local_time (b_ms);

  return a != NULL && b != NULL && days_between (a, b) == 0;
}

char *
natter_format_clock (gint64 time_ms)
{
  g_autoptr(GDateTime) t = local_time (time_ms);

  if (t == NULL)
    return g_strdup ("");
  /* Translators: time of a message, see g_date_time_format() */
  return g_date_time_format (t, _("%H:%M"));
}

char *
natter_format_date_time (gint64 time_ms)
{
  g_autoptr(GDateTime) t = local_time (time_ms);

  if (t == NULL)
    return g_strdup ("");
  /* Translators: full date and time in a tooltip, see g_date_time_format() */
  return g_date_time_format (t, _("%A, %B %-e, %Y %H:%M:%S"));
}

char *
natter_format_list_time (gint64 time_ms,
                         gint64 now_ms)
{
  g_autoptr(GDateTime) t = local_time (time_ms);
  g_autoptr(GDateTime) now = local_time (now_or (now_ms));
  int days;

  if (t == NULL || now == NULL || time_ms <= 0)
    return g_strdup ("");

  days = days_between (t, now);
  if (days <= 0)
    return natter_format_clock (time_ms);
  if (days == 1)
    return g_strdup (_("Yesterday"));
  if (days < 7)
    /* Translators: abbreviated weekday in the conversation list, see g_date_time_format() */
    return g_date_time_format (t, _("%a"));
  if (g_date_time_get_year (t) == g_date_time_get_year (now))
    /* Translators: day and month in the conversation list, see g_date_time_format() */
    return g_date_time_format (t, _("%b %-e"));
  /* Translators: a date in another year in the conversation list, see g_date_time_format() */
  return g_date_time_format (t, _("%x"));
}

char *
natter_format_day (gint64 time_ms,
                   gint64 now_ms)
{
  g_autoptr(GDateTime) t = local_time (time_ms);
  g_autoptr(GDateTime) now = local_time (now_or (now_ms));
  int days;

  if (t == NULL || now == NULL)
    return g_strdup ("");

  days = days_between (t, now);
  if (days == 0)
    return g_strdup (_("Today"));
  if (days == 1)
    return g_strdup (_("Yesterday"));
  if (days > 1 && days < 7)
    /* Translators: weekday of a day separator in a chat, see g_date_time_format() */
    return g_date_time_format (t, _("%A"));
  if (g_date_time_get_year (t) == g_date_time_get_year (now))
    /* Translators: day separator in a chat, this year, see g_date_time_format() */
    return g_date_time_format (t, _("%B %-e"));
  /* Translators: day separator in a chat, another year, see g_date_time_format() */
  return g_date_time_format (t, _("%B %-e, %Y"));
}

char *
natter_format_duration (gint64 seconds)
{
  if (seconds < 0)
    seconds = 0;
  if (seconds >= 3600)
    return g_strdup_printf ("%d:%02d:%02d", (int) (seconds / 3600),
                            (int) (seconds / 60 % 60), (int) (seconds % 60));
  return g_strdup_printf ("%d:%02d", (int) (seconds / 60), (int) (seconds % 60));
}

const char *
natter_format_code (int code)
{
  switch (code)
    {
    case NATTER_CODE_APP_KEY_REJECTED:
      return _("The server does not know this app key. Check the app key.");
    case NATTER_CODE_TOKEN_INCORRECT:
      return _("The token is not valid. Get a new token from your app server.");
    case NATTER_CODE_APP_KEY_MISMATCH:
      return _("The token belongs to another app key.");
    case NATTER_CODE_APP_BLOCKED:
      return _("This app has been blocked on the server.");
    case NATTER_CODE_USER_BLOCKED:
      return _("Your account has been blocked on this server.");
    case NATTER_CODE_KICKED_BY_OTHER_DEVICE:
      return _("You signed in on another device.");
    case NATTER_CODE_TOKEN_EXPIRED:
      return _("The token has expired. Sign in again.");
    case NATTER_CODE_REJECTED_BY_BLACKLIST:
      return _("The recipient has blocked you.");
    /* the one account code a message can meet (#14); the others come
     * through natter_format_account_error() */
    case NATTER_CODE_CONTACTS_ONLY:
      return _("This person accepts messages from contacts only.");
    case NATTER_CODE_SEND_TOO_FAST:
      return _("You are sending too fast. Wait a moment.");
    case NATTER_CODE_NOT_IN_GROUP:
      return _("You are not a member of this group.");
    case NATTER_CODE_GAGGED_IN_GROUP:
      return _("You have been muted in this group.");
    case NATTER_CODE_NOT_IN_CHATROOM:
      return _("You are not in this chat room.");
    case NATTER_CODE_GAGGED_IN_CHATROOM:
      return _("You have been muted in this chat room.");
    case NATTER_CODE_KICKED_FROM_CHATROOM:
      return _("You were removed from this chat room.");
    case NATTER_CODE_CHATROOM_NOT_EXIST:
      return _("This chat room does not exist.");
    case NATTER_CODE_RECALL_FAILED:
      return _("The message could not be recalled.");
    case NATTER_CODE_EDIT_FAILED:
      return _("Only your own text messages can be edited.");
    case NATTER_CODE_EDIT_WINDOW_PASSED:
      return _("This message is too old to be edited.");
    case NATTER_CODE_EXPANSION_NOT_ENABLED:
      return _("This message does not take reactions.");
    case NATTER_CODE_MESSAGE_TOO_LARGE:
      return _("The message is too large.");
    case NATTER_CODE_MEDIA_QUOTA_EXCEEDED:
      return _("Your storage space on the server is full.");
    case NATTER_CODE_INVALID_PARAMETER:
      return _("The server refused the request as invalid.");
    case NATTER_CODE_TIMEOUT:
      return _("The server did not answer in time.");
    case NATTER_CODE_NOT_CONNECTED:
      return _("Not connected to the server.");
    case NATTER_CODE_SERVER_ERROR:
      return _("The server had an internal error.");
    default:
      return NULL;
    }
}

char *
natter_format_error (const GError *error)
{
  const char *known = NULL;

  if (error == NULL)
    return g_strdup (_("Unknown error"));

  if (error->domain == NATTER_CLIENT_ERROR)
    known = natter_format_code (error->code);
  if (known != NULL)
    /* Translators: an explanation and the server's reference code, e.g. "The token is not valid. (31004)" */
    return g_strdup_printf (_("%s (%d)"), known, error->code);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED) ||
      g_error_matches (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_HOST_NOT_FOUND))
    return g_strdup_printf (_("Could not reach the server: %s"), error->message);

  return g_strdup (error->message);
}

char *
natter_format_call_summary (NatterMessage  *message,
                            const char    **icon_name)
{
  NatterCallReason reason = natter_message_get_call_reason (message);
  gboolean video = natter_message_get_call_media_type (message) == NATTER_CALL_MEDIA_VIDEO;
  gboolean outgoing = natter_message_get_direction (message) == NATTER_MESSAGE_DIRECTION_SEND;
  gint64 duration = natter_message_get_call_duration (message);
  const char *icon = outgoing ? "call-outgoing-symbolic" : "call-incoming-symbolic";
  char *text = NULL;

  if (natter_message_get_call_connected_time (message) > 0 || duration > 0)
    {
      g_autofree char *length = natter_format_duration (duration);
      /* Translators: a call that took place, with its length */
      text = g_strdup_printf (video ? _("Video call · %s") : _("Voice call · %s"), length);
    }
  else
    {
      switch ((int) reason)
        {
        case NATTER_CALL_REASON_REJECT:
        case NATTER_CALL_REASON_REMOTE_REJECT:
          text = g_strdup (_("Declined"));
          break;
        case NATTER_CALL_REASON_BUSY:
        case NATTER_CALL_REASON_REMOTE_BUSY:
          text = g_strdup (_("Busy"));
          break;
        case NATTER_CALL_REASON_CANCEL:
          text = g_strdup (_("Cancelled call"));
          break;
        case NATTER_CALL_REASON_OTHER_DEVICE_HANDLED:
          text = g_strdup (_("Answered on another device"));
          break;
        case NATTER_CALL_REASON_NETWORK_ERROR:
        case NATTER_CALL_REASON_REMOTE_NETWORK_ERROR:
          text = g_strdup (_("Call failed: network error"));
          break;
        case NATTER_CALL_REASON_ENGINE_UNSUPPORTED:
        case NATTER_CALL_REASON_DEVICE_ERROR:
          text = g_strdup (_("Call failed: no camera or microphone"));
          break;
        default:
          if (outgoing)
            text = g_strdup (_("No answer"));
          else
            {
              text = g_strdup (_("Missed call"));
              icon = "call-missed-symbolic";
            }
          break;
        }
    }

  if (icon_name != NULL)
    *icon_name = icon;
  return text;
}

char *
natter_format_preview (NatterMessage *message)
{
  if (message == NULL)
    return g_strdup ("");

  switch (natter_message_get_kind (message))
    {
    case NATTER_MESSAGE_KIND_TEXT:
    case NATTER_MESSAGE_KIND_INFO:
    case NATTER_MESSAGE_KIND_REFERENCE:
      {
        const char *text = natter_message_get_text (message);
        g_autofree char *line = g_strdup (text != NULL ? text : "");
        /* one line: newlines become spaces */
        g_strdelimit (line, "\r\n\t", ' ');
        return g_steal_pointer (&line);
      }
    case NATTER_MESSAGE_KIND_IMAGE:
      return g_strdup (_("Photo"));
    case NATTER_MESSAGE_KIND_VOICE:
    case NATTER_MESSAGE_KIND_HQ_VOICE:
      {
        g_autofree char *length = natter_format_duration (natter_message_get_voice_duration (message));
        /* Translators: preview of a voice message with its length */
        return g_strdup_printf (_("Voice message (%s)"), length);
      }
    case NATTER_MESSAGE_KIND_FILE:
      {
        const char *name = natter_message_get_file_name (message);
        /* Translators: preview of a file message */
        return g_strdup_printf (_("File: %s"), name != NULL ? name : "");
      }
    case NATTER_MESSAGE_KIND_RECALLED:
      return g_strdup (natter_message_get_direction (message) == NATTER_MESSAGE_DIRECTION_SEND
                       ? _("You recalled a message")
                       : _("A message was recalled"));
    case NATTER_MESSAGE_KIND_CALL_SUMMARY:
      return natter_format_call_summary (message, NULL);
    case NATTER_MESSAGE_KIND_UNSUPPORTED:
      return g_strdup (_("Unsupported message"));
    case NATTER_MESSAGE_KIND_CONTACT_NOTIFICATION:
    case NATTER_MESSAGE_KIND_GROUP_NOTIFICATION:
    case NATTER_MESSAGE_KIND_CHATROOM_NOTIFICATION:
      return natter_format_notice (message, NULL);
    case NATTER_MESSAGE_KIND_RECALL_COMMAND:
    case NATTER_MESSAGE_KIND_COMMAND:
    case NATTER_MESSAGE_KIND_TYPING:
    case NATTER_MESSAGE_KIND_READ_NOTIFICATION:
    case NATTER_MESSAGE_KIND_SYNC_READ_STATUS:
    case NATTER_MESSAGE_KIND_CS_HANDSHAKE:
    case NATTER_MESSAGE_KIND_CALL_SIGNAL:
    default:
      return g_strdup ("");
    }
}

const char *
natter_format_conversation_type (NatterConversationType type)
{
  switch (type)
    {
    case NATTER_CONVERSATION_PRIVATE:
      return _("Private chat");
    case NATTER_CONVERSATION_DISCUSSION:
      return _("Discussion");
    case NATTER_CONVERSATION_GROUP:
      return _("Group");
    case NATTER_CONVERSATION_CHATROOM:
      return _("Chat room");
    case NATTER_CONVERSATION_CUSTOMER_SERVICE:
      return _("Customer service");
    case NATTER_CONVERSATION_SYSTEM:
      return _("System");
    case NATTER_CONVERSATION_APP_PUBLIC_SERVICE:
    case NATTER_CONVERSATION_PUBLIC_SERVICE:
      return _("Public service");
    default:
      return "";
    }
}
