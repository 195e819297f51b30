/* natter-test-stack.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-test-stack.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* gst-plugins-good 1.22.0's rtp_session_on_timeout() runs session_cleanup()
 * over the live table of sources, and session_cleanup() unlocks the session
 * to emit on-timeout / on-bye-timeout / on-sender-timeout: a receiving
 * thread that adds a new SSRC then bumps the table's version, and GLib's
 * check stops the iteration (no entry is read after the change; the next
 * RTCP round finishes the cleanup). Upstream has since iterated a copy of
 * the table. Only this message, from the session's RTCP thread, is let
 * through: any other critical still ends the test. Our own NACK path, which
 * hit the same check in schedule_remaining_nacks(), is avoided for real
 * (call/natter-call-nacks.h). */
static gboolean
is_gst_rtpsession_cleanup_race (const char *domain,
                                const char *message)
{
  char thread[17] = { 0 };

  if (g_strcmp0 (domain, "GLib") != 0 || message == NULL ||
      strstr (message, "g_hash_table_foreach: assertion 'version == hash_table->version' failed") == NULL)
    return FALSE;
  prctl (PR_GET_NAME, thread, 0, 0, 0);
  return g_str_has_prefix (thread, "rtpsession-rtcp");
}

static gboolean
fatal_handler (const char     *domain,
               GLogLevelFlags  level,
               const char     *message,
               gpointer        user_data)
{
  return !is_gst_rtpsession_cleanup_race (domain, message);
}

/* g_log_default_handler() says "Bail out!" (TAP) for a fatal message
 * before the fatal handler's verdict is acted on: the race is logged as
 * the plain critical it is in the app. */
static void
glib_handler (const char     *domain,
              GLogLevelFlags  level,
              const char     *message,
              gpointer        user_data)
{
  if (is_gst_rtpsession_cleanup_race (domain, message))
    level &= ~G_LOG_FLAG_FATAL;
  g_log_default_handler (domain, level, message, user_data);
}

static const char *
field_string (const GLogField *fields,
              gsize            n_fields,
              const char      *key)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_strcmp0 (fields[i].key, key) == 0 && fields[i].length < 0)
      return fields[i].value;
  return NULL;
}

/* Seconds gdb may take (NATTER_TEST_STACK_TIMEOUT, default 60): an attach
 * on a loaded box once took the whole test timeout, and the warning is
 * worth more failing fast with whatever gdb printed than a timeout. */
static guint
gdb_timeout (void)
{
  const char *env = g_getenv ("NATTER_TEST_STACK_TIMEOUT");
  guint64 seconds = 60;

  if (env != NULL && !g_ascii_string_to_unsigned (env, 10, 1, 3600, &seconds, NULL))
    seconds = 60;
  return (guint) seconds;
}

/* The bound is kept by other processes: while gdb is attached every thread
 * of this one is stopped, the one waiting here too. timeout(1) kills gdb
 * (the kernel then detaches it); the shell sends SIGCONT after it, in case
 * the attach's SIGSTOP was left as a group stop. */
static const char stack_script[] =
  "timeout -s KILL \"$1\" gdb -q -nx -batch -iex 'set debuginfod enabled off' "
  "-p \"$2\" -ex 'thread apply all bt 40' 2>/dev/null; "
  "rc=$?; kill -CONT \"$2\" 2>/dev/null; "
  "[ $rc -eq 137 ] && echo \"(gdb killed after $1 s)\"; exit 0";

static void
print_stacks (void)
{
  g_autofree char *pid = g_strdup_printf ("%d", (int) getpid ());
  g_autofree char *seconds = g_strdup_printf ("%u", gdb_timeout ());
  const char *argv[] = { "/bin/sh", "-c", stack_script, "sh", seconds, pid, NULL };
  g_autofree char *out = NULL;

  if (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL,
                    NULL, NULL, &out, NULL, NULL, NULL))
    g_printerr ("%s\n", out);
}

/* A writer sees GObject's and GStreamer's warnings too, which
 * g_test_log_set_fatal_handler() does not; it runs in the thread that
 * logged, so that thread is still inside the call that failed. */
static GLogWriterOutput
log_writer_with_stack (GLogLevelFlags   level,
                       const GLogField *fields,
                       gsize            n_fields,
                       gpointer         user_data)
{
  GLogWriterOutput ret = g_log_writer_default (level, fields, n_fields, user_data);

  if ((level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)) &&
      !is_gst_rtpsession_cleanup_race (field_string (fields, n_fields, "GLIB_DOMAIN"),
                                       field_string (fields, n_fields, "MESSAGE")))
    print_stacks ();
  return ret;
}

/* Made before a crash: the handler may not allocate. */
static char crash_pid[16];
static char crash_seconds[16];

/* A crash (a test that passed and then died in its exit, say) says where:
 * gdb prints every thread, then the signal's default action ends us. */
static void
crash_handler (int sig)
{
  const char *argv[] = { "/bin/sh", "-c", stack_script, "sh", crash_seconds, crash_pid, NULL };
  static const char header[] = "\n# crashed: the stacks of every thread follow\n";
  pid_t child;

  (void) !write (STDERR_FILENO, header, sizeof header - 1);
  child = fork ();
  if (child == 0)
    {
      dup2 (STDERR_FILENO, STDOUT_FILENO);
      execv (argv[0], (char **) argv);
      _exit (127);
    }
  if (child > 0)
    waitpid (child, NULL, 0);
  raise (sig);
}

void
natter_test_stack_init (void)
{
  struct sigaction action = { 0 };
  const int crashes[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL };

  g_snprintf (crash_pid, sizeof crash_pid, "%d", (int) getpid ());
  g_snprintf (crash_seconds, sizeof crash_seconds, "%u", gdb_timeout ());
  action.sa_handler = crash_handler;
  action.sa_flags = SA_RESETHAND | SA_NODEFER;
  sigemptyset (&action.sa_mask);
  for (guint i = 0; i < G_N_ELEMENTS (crashes); i++)
    sigaction (crashes[i], &action, NULL);

  /* under Yama's ptrace_scope 1 a child may not attach to its parent
   * unless the parent allows it */
  prctl (PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
  g_log_set_writer_func (log_writer_with_stack, NULL, NULL);
  g_log_set_handler ("GLib", G_LOG_LEVEL_CRITICAL | G_LOG_FLAG_FATAL, glib_handler, NULL);
}

void
natter_test_stack_allow_gst_rtpsession_race (void)
{
  g_test_log_set_fatal_handler (fatal_handler, NULL);
}
