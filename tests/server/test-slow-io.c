/* test-slow-io.c — natterd: a log nobody reads does not stop the server
 *
 * natterd's stderr is a pipe this test never reads while it makes natterd
 * log far more than a pipe holds (64 KiB). Writing the log on the main loop
 * would block it at the first full pipe and every client would wait; the
 * log's own thread lets the main loop go on. Then the pipe is read: every
 * line is there.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-test-client.h"

#include <libsoup/soup.h>
#include <string.h>

#define REQUESTS 300
#define PATH_LENGTH 2000

static void
test_stderr_not_drained (void)
{
  g_autofree char *dir = g_dir_make_tmp ("natterd-slow-io-XXXXXX", NULL);
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GDataInputStream) err = NULL;
  g_autoptr(SoupSession) session = soup_session_new_with_options ("timeout", 10, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *first = NULL;
  g_autofree char *long_name = g_strnfill (PATH_LENGTH, 'x');
  const char *base;
  gint64 started = g_get_monotonic_time ();
  guint logged = 0;
  char *line;

  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                              natter_test_program ("NATTERD"), "--data-dir", dir,
                              "--listen", "127.0.0.1:0", NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (process));
  first = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (first, "listening on http://127.0.0.1:"));
  base = first + strlen ("listening on ");

  /* Each refused request is an api-error line of over PATH_LENGTH bytes:
   * about 600 KB of log in all, ten times what the pipe holds. */
  for (guint i = 0; i < REQUESTS; i++)
    {
      g_autofree char *url = g_strdup_printf ("%s/%s-%u.json", base, long_name, i);
      g_autoptr(SoupMessage) message = soup_message_new ("POST", url);
      g_autoptr(GBytes) reply = soup_session_send_and_read (session, message, NULL, &error);

      g_assert_no_error (error);
      g_assert_cmpuint (soup_message_get_status (message), ==, 404);
    }
  g_test_message ("%u refused requests answered in %.2f s with nobody reading the log", REQUESTS,
                  (double) (g_get_monotonic_time () - started) / G_USEC_PER_SEC);

  /* Nothing was lost: every line comes once the pipe is read. */
  g_subprocess_send_signal (process, SIGTERM);
  err = g_data_input_stream_new (g_subprocess_get_stderr_pipe (process));
  while ((line = g_data_input_stream_read_line_utf8 (err, NULL, NULL, &error)) != NULL)
    {
      if (strstr (line, "event=api-error") != NULL && strstr (line, long_name) != NULL)
        logged++;
      g_assert_null (strstr (line, "log-dropped"));
      g_free (line);
    }
  g_assert_no_error (error);
  g_subprocess_wait (process, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 0);
  g_assert_cmpuint (logged, ==, REQUESTS);

  {
    g_autoptr(GSubprocess) rm = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, NULL, "rm", "-rf", dir, NULL);
    g_subprocess_wait (rm, NULL, NULL);
  }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/server/slow-io/stderr-not-drained", test_stderr_not_drained);

  return g_test_run ();
}
