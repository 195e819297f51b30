/* natterd-log.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-log.h"

#include <stdio.h>
#include <string.h>

#define MAX_FIELDS 24

static GLogLevelFlags threshold = G_LOG_LEVEL_INFO;
static gboolean json_format;

static const char *
level_name (GLogLevelFlags level)
{
  if (level & G_LOG_LEVEL_ERROR)
    return "error";
  if (level & G_LOG_LEVEL_CRITICAL)
    return "critical";
  if (level & G_LOG_LEVEL_WARNING)
    return "warning";
  if (level & G_LOG_LEVEL_MESSAGE)
    return "message";
  if (level & G_LOG_LEVEL_INFO)
    return "info";
  return "debug";
}

/* Lower is more severe, as in GLogLevelFlags. */
static guint
level_rank (GLogLevelFlags level)
{
  /* G_LOG_LEVEL_ERROR is bit 2, G_LOG_LEVEL_DEBUG bit 7. */
  for (guint bit = 2; bit < G_LOG_LEVEL_USER_SHIFT; bit++)
    if (level & (1u << bit))
      return bit;
  return G_LOG_LEVEL_USER_SHIFT;
}

gboolean
natterd_log_enabled (GLogLevelFlags level)
{
  return level_rank (level) <= level_rank (threshold);
}

static void
append_text_value (GString    *out,
                   const char *value)
{
  gboolean plain = *value != '\0';

  for (const char *p = value; *p != '\0' && plain; p++)
    if (*p == ' ' || *p == '"' || *p == '=' || *p == '\\' || (guchar) *p < 0x20)
      plain = FALSE;

  if (plain)
    {
      g_string_append (out, value);
      return;
    }

  g_string_append_c (out, '"');
  for (const char *p = value; *p != '\0'; p++)
    {
      if (*p == '"' || *p == '\\')
        g_string_append_c (out, '\\');
      if ((guchar) *p < 0x20)
        g_string_append_printf (out, "\\x%02x", (guchar) *p);
      else
        g_string_append_c (out, *p);
    }
  g_string_append_c (out, '"');
}

static void
append_json_string (GString    *out,
                    const char *value)
{
  g_string_append_c (out, '"');
  for (const char *p = value; *p != '\0'; p++)
    {
      switch (*p)
        {
        case '"': g_string_append (out, "\\\""); break;
        case '\\': g_string_append (out, "\\\\"); break;
        case '\n': g_string_append (out, "\\n"); break;
        case '\t': g_string_append (out, "\\t"); break;
        default:
          if ((guchar) *p < 0x20)
            g_string_append_printf (out, "\\u%04x", (guchar) *p);
          else
            g_string_append_c (out, *p);
        }
    }
  g_string_append_c (out, '"');
}

static void
write_line (GLogLevelFlags  level,
            const char     *event,
            const char    **names,
            const char    **values,
            guint           n)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *stamp = g_date_time_format (now, "%Y-%m-%dT%H:%M:%S");
  g_autoptr(GString) out = g_string_sized_new (256);
  char ms[8];

  g_snprintf (ms, sizeof ms, ".%03dZ", g_date_time_get_microsecond (now) / 1000);

  if (json_format)
    {
      g_string_append_printf (out, "{\"ts\":\"%s%s\",\"level\":\"%s\",\"event\":", stamp, ms,
                              level_name (level));
      append_json_string (out, event);
      for (guint i = 0; i < n; i++)
        {
          g_string_append_c (out, ',');
          append_json_string (out, names[i]);
          g_string_append_c (out, ':');
          append_json_string (out, values[i]);
        }
      g_string_append (out, "}\n");
    }
  else
    {
      g_string_append_printf (out, "ts=%s%s level=%s event=", stamp, ms, level_name (level));
      append_text_value (out, event);
      for (guint i = 0; i < n; i++)
        {
          g_string_append_c (out, ' ');
          g_string_append (out, names[i]);
          g_string_append_c (out, '=');
          append_text_value (out, values[i]);
        }
      g_string_append_c (out, '\n');
    }

  /* One write per line keeps lines whole when threads log at once. */
  fwrite (out->str, 1, out->len, stderr);
  fflush (stderr);
}

void
natterd_log (GLogLevelFlags  level,
             const char     *event,
             ...)
{
  const char *names[MAX_FIELDS];
  const char *values[MAX_FIELDS];
  const char *name;
  guint n = 0;
  va_list args;

  if (!natterd_log_enabled (level))
    return;

  va_start (args, event);
  while ((name = va_arg (args, const char *)) != NULL)
    {
      const char *value = va_arg (args, const char *);

      if (value == NULL || n == MAX_FIELDS)
        continue;
      names[n] = name;
      values[n] = value;
      n++;
    }
  va_end (args);

  write_line (level, event, names, values, n);
}

/* g_warning() and friends from GLib, libsoup or our own code end up in the
 * same stream and format. */
static GLogWriterOutput
log_writer (GLogLevelFlags   level,
            const GLogField *fields,
            gsize            n_fields,
            gpointer         user_data)
{
  const char *message = NULL;
  const char *domain = NULL;

  if (!natterd_log_enabled (level))
    return G_LOG_WRITER_HANDLED;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_str_equal (fields[i].key, "MESSAGE"))
        message = fields[i].value;
      else if (g_str_equal (fields[i].key, "GLIB_DOMAIN"))
        domain = fields[i].value;
    }

  {
    const char *names[] = { "domain", "msg" };
    const char *values[] = { domain ? domain : "natterd", message ? message : "" };

    write_line (level, "log", names, values, 2);
  }

  if (level & G_LOG_LEVEL_ERROR)
    return G_LOG_WRITER_UNHANDLED;
  return G_LOG_WRITER_HANDLED;
}

gboolean
natterd_log_init (const char  *level,
                  const char  *format,
                  GError     **error)
{
  static const struct {
    const char *name;
    GLogLevelFlags level;
  } levels[] = {
    { "debug", G_LOG_LEVEL_DEBUG },
    { "info", G_LOG_LEVEL_INFO },
    { "message", G_LOG_LEVEL_MESSAGE },
    { "warning", G_LOG_LEVEL_WARNING },
  };
  gboolean found = FALSE;

  for (guint i = 0; i < G_N_ELEMENTS (levels); i++)
    if (g_strcmp0 (levels[i].name, level) == 0)
      {
        threshold = levels[i].level;
        found = TRUE;
      }

  if (!found)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "log level must be debug, info, message or warning, not %s", level);
      return FALSE;
    }

  if (g_strcmp0 (format, "json") == 0)
    json_format = TRUE;
  else if (g_strcmp0 (format, "text") == 0)
    json_format = FALSE;
  else
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "log format must be text or json, not %s", format);
      return FALSE;
    }

  g_log_set_writer_func (log_writer, NULL, NULL);
  return TRUE;
}
