/* natterd-log.c
 *
 * Lines are formatted by the thread that logs and written by a thread of
 * their own: stderr may be a pipe nobody drains quickly, a file on a slow
 * disk or a terminal, and natterd's main loop must never wait for it. The
 * lines waiting are bounded (LOG_BUFFER_MAX); past that they are counted
 * and dropped, and a log-dropped line says how many. What is waiting is
 * written before the process exits (atexit) and before a fatal error.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_FIELDS 24
#define LOG_BUFFER_MAX (8 * 1024 * 1024)

static GLogLevelFlags threshold = G_LOG_LEVEL_INFO;
static gboolean json_format;

static GMutex   queue_lock;
static GCond    queue_cond;      /* lines came; or the writer is idle */
static GString *queue;           /* lines waiting for the writer */
static guint64  queue_dropped;   /* lines dropped since the last written */
static gboolean queue_writing;
/* The writer sleeps on queue_cond and no line woke it yet: only then is it
 * signalled (g_cond_broadcast() is a futex syscall even when nobody
 * waits, once per line: a connect logs one). */
static gboolean queue_sleeping;
static guint    queue_flushers;  /* natterd_log_flush() calls waiting */
/* natterd_log_batch_in_main_loop(): the main thread's lines wake the
 * writer once per main-loop iteration (see wake_prepare()), not once a
 * line: a burst of connects logs one line each. */
static GThread *batching_thread;
static gboolean batch_pending;   /* batching_thread only */

static void
write_fd (const char *data,
          gsize       length)
{
  while (length > 0)
    {
      ssize_t n = write (STDERR_FILENO, data, length);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return;  /* stderr is gone: nothing to tell anyone */
      data += n;
      length -= (gsize) n;
    }
}

static gpointer
writer_thread (gpointer data)
{
  GString *batch = g_string_sized_new (4096);

  g_mutex_lock (&queue_lock);
  for (;;)
    {
      guint64 dropped;

      while (queue->len == 0 && queue_dropped == 0)
        {
          queue_sleeping = TRUE;
          g_cond_wait (&queue_cond, &queue_lock);
          queue_sleeping = FALSE;
        }
      /* Take everything waiting (a swap: the lock is held for no copy);
       * log while it is written. */
      {
        GString *full = queue;

        queue = batch;
        batch = full;
      }
      dropped = queue_dropped;
      queue_dropped = 0;
      queue_writing = TRUE;
      g_mutex_unlock (&queue_lock);

      write_fd (batch->str, batch->len);
      if (dropped > 0)
        {
          char line[96];

          g_snprintf (line, sizeof line, "level=warning event=log-dropped lines=%" G_GUINT64_FORMAT "\n", dropped);
          write_fd (line, strlen (line));
        }
      /* A burst's buffer goes back: it is the next queue. */
      if (batch->allocated_len > 256 * 1024)
        {
          g_string_free (batch, TRUE);
          batch = g_string_sized_new (4096);
        }
      else
        g_string_truncate (batch, 0);

      g_mutex_lock (&queue_lock);
      queue_writing = FALSE;
      if (queue_flushers > 0)
        g_cond_broadcast (&queue_cond);
    }
  return NULL;
}

/* Under queue_lock: the writer, if it sleeps with lines waiting. */
static void
wake_writer (void)
{
  if (queue_sleeping && (queue->len > 0 || queue_dropped > 0))
    {
      queue_sleeping = FALSE;
      g_cond_broadcast (&queue_cond);
    }
}

/* Waits until every line logged so far is written, or a few seconds: a
 * stderr that takes nothing must not keep natterd from exiting. */
void
natterd_log_flush (void)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  if (queue == NULL)
    return;
  g_mutex_lock (&queue_lock);
  queue_flushers++;
  /* Lines whose wake was left for the next main-loop iteration. */
  wake_writer ();
  while (queue->len > 0 || queue_dropped > 0 || queue_writing)
    if (!g_cond_wait_until (&queue_cond, &queue_lock, deadline))
      break;
  queue_flushers--;
  g_mutex_unlock (&queue_lock);
}

static void
enqueue (const char *line,
         gsize       length)
{
  static gsize started;

  if (g_once_init_enter (&started))
    {
      queue = g_string_sized_new (64 * 1024);
      g_thread_unref (g_thread_new ("natterd-log", writer_thread, NULL));
      atexit (natterd_log_flush);
      g_once_init_leave (&started, 1);
    }

  g_mutex_lock (&queue_lock);
  if (queue->len + length > LOG_BUFFER_MAX)
    queue_dropped++;
  else
    g_string_append_len (queue, line, (gssize) length);
  if (batching_thread != NULL && g_thread_self () == batching_thread)
    batch_pending = TRUE;
  else
    wake_writer ();
  g_mutex_unlock (&queue_lock);
}

/* Before the main loop polls: what this iteration logged goes to the
 * writer, with one wake. */
static gboolean
wake_prepare (GSource *source,
              gint    *timeout)
{
  *timeout = -1;
  if (!batch_pending)
    return FALSE;
  batch_pending = FALSE;
  g_mutex_lock (&queue_lock);
  wake_writer ();
  g_mutex_unlock (&queue_lock);
  return FALSE;
}

static GSourceFuncs wake_funcs = {
  .prepare = wake_prepare,
};

void
natterd_log_batch_in_main_loop (void)
{
  GSource *source;

  g_return_if_fail (batching_thread == NULL);

  source = g_source_new (&wake_funcs, sizeof (GSource));
  g_source_set_name (source, "natterd-log wake");
  g_source_attach (source, NULL);
  g_source_unref (source);
  g_mutex_lock (&queue_lock);
  batching_thread = g_thread_self ();
  g_mutex_unlock (&queue_lock);
}

void
natterd_log_batch_end (void)
{
  g_return_if_fail (batching_thread == g_thread_self ());

  g_mutex_lock (&queue_lock);
  batching_thread = NULL;
  batch_pending = FALSE;
  wake_writer ();
  g_mutex_unlock (&queue_lock);
}

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

void
natterd_json_append_string (GString    *out,
                            const char *value)
{
  g_string_append_c (out, '"');
  for (const char *p = value != NULL ? value : ""; *p != '\0'; p++)
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
  /* The seconds' part is formatted once a second per thread: a
   * GDateTime and its format per line were most of a connect's log cost. */
  static _Thread_local gint64 stamp_second = -1;
  static _Thread_local char stamp[32];
  gint64 now = g_get_real_time ();
  g_autoptr(GString) out = g_string_sized_new (256);
  char ms[8];

  if (now / G_USEC_PER_SEC != stamp_second)
    {
      g_autoptr(GDateTime) time = g_date_time_new_from_unix_utc (now / G_USEC_PER_SEC);
      g_autofree char *text = g_date_time_format (time, "%Y-%m-%dT%H:%M:%S");

      g_strlcpy (stamp, text, sizeof stamp);
      stamp_second = now / G_USEC_PER_SEC;
    }
  g_snprintf (ms, sizeof ms, ".%03dZ", (int) (now % G_USEC_PER_SEC / 1000));

  if (json_format)
    {
      g_string_append_printf (out, "{\"ts\":\"%s%s\",\"level\":\"%s\",\"event\":", stamp, ms,
                              level_name (level));
      natterd_json_append_string (out, event);
      for (guint i = 0; i < n; i++)
        {
          g_string_append_c (out, ',');
          natterd_json_append_string (out, names[i]);
          g_string_append_c (out, ':');
          natterd_json_append_string (out, values[i]);
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

  /* Whole lines go to the writer, so lines of threads logging at once
   * never mix. A fatal error is written before abort() can lose it. */
  enqueue (out->str, out->len);
  if (level & G_LOG_LEVEL_ERROR)
    natterd_log_flush ();
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
  /* G_DEBUG=fatal-warnings and fatal-criticals abort after this returns. */
  if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    natterd_log_flush ();

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
