/* test-observability.c — natterd: /metrics, structured JSON logs, TLS,
 * signals
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-test-client.h"

#include <glib/gstdio.h>
#include <math.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <string.h>

static char *
get_metrics (NatterTestServer *server)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autofree char *url = g_strdup_printf ("%s/metrics", natter_test_server_get_url (server));
  g_autoptr(SoupMessage) message = soup_message_new ("GET", url);
  g_autoptr(GBytes) body = soup_session_send_and_read (session, message, NULL, NULL);

  g_assert_cmpuint (soup_message_get_status (message), ==, 200);
  g_assert_true (g_str_has_prefix (soup_message_headers_get_content_type (soup_message_get_response_headers (message), NULL),
                                   "text/plain"));
  return g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
}

static void
test_metrics (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterTestClient) bob = natter_test_client_new_user (server, "bob", "b1");
  g_autofree char *text = NULL;

  natter_frame_free (natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg", "{\"content\":\"1\"}"));
  natter_frame_free (natter_test_client_send_message (alice, 1, "bob", "RC:TypSts", "{}"));
  natter_frame_free (natter_test_client_send_message (alice, 3, "nogroup", "RC:TxtMsg", "{}"));
  natter_frame_free (natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS));

  text = get_metrics (server);
  g_assert_nonnull (strstr (text, "natterd_connections_authenticated 2\n"));
  g_assert_nonnull (strstr (text, "natterd_messages_published_total{type=\"private\"} 1\n"));
  g_assert_nonnull (strstr (text, "natterd_messages_published_total{type=\"status\"} 1\n"));
  g_assert_nonnull (strstr (text, "natterd_messages_refused_total 1\n"));
  g_assert_nonnull (strstr (text, "# TYPE natterd_publish_latency_seconds histogram\n"));
  g_assert_nonnull (strstr (text, "natterd_publish_latency_seconds_count 3\n"));
  g_assert_nonnull (strstr (text, "natterd_commit_duration_seconds_bucket{le=\"+Inf\"}"));
  g_assert_nonnull (strstr (text, "natterd_resident_memory_bytes "));
}

static double
stage_value (const char *text,
             const char *what,
             const char *stage)
{
  g_autofree char *key = g_strdup_printf ("natterd_publish_stage_seconds_%s{stage=\"%s\"} ", what, stage);
  const char *at = strstr (text, key);

  g_assert_nonnull (at);
  return g_ascii_strtod (at + strlen (key), NULL);
}

/* The value on the line that starts with @key (its name and labels). */
static double
line_value (const char *text,
            const char *key)
{
  g_autofree char *line = g_strdup_printf ("\n%s ", key);
  const char *at = strstr (text, line);

  g_assert_nonnull (at);
  return g_ascii_strtod (at + strlen (line), NULL);
}

/* The @n observations of @stage sit in buckets that hold them: every one
 * is at most the stage's sum, and at least one is at least its mean. */
static void
assert_stage_buckets (const char *text,
                      const char *stage,
                      guint       n)
{
  g_autofree char *prefix = g_strdup_printf ("natterd_publish_stage_seconds_bucket{stage=\"%s\",le=\"", stage);
  double sum = stage_value (text, "sum", stage);
  guint bounds = 0;

  for (const char *at = strstr (text, prefix); at != NULL; at = strstr (at + 1, prefix))
    {
      const char *le = at + strlen (prefix);
      const char *count = strstr (le, "} ");
      double bound;
      guint64 cumulative;

      g_assert_nonnull (count);
      cumulative = g_ascii_strtoull (count + 2, NULL, 10);
      if (g_str_has_prefix (le, "+Inf"))
        {
          g_assert_cmpuint (cumulative, ==, n);
          continue;
        }
      bound = g_ascii_strtod (le, NULL);
      if (bound >= sum)
        g_assert_cmpuint (cumulative, ==, n);
      if (bound < sum / n)
        g_assert_cmpuint (cumulative, <, n);
      bounds++;
    }
  g_assert_cmpuint (bounds, >, 10);
}

/* #17: every private message delivered is timed by stage, and the stages
 * add up to its whole time in natterd (frame read to Deliver written). */
static void
test_publish_stages (void)
{
  static const char * const parts[] = { "parse", "wait", "sql", "wakeup", "deliver" };
  /* Each WAL sync 3 ms slower: every message is in the tail's rows. */
  gboolean slowed = g_setenv ("NATTERD_TEST_WAL_SYNC_DELAY_MS", "3", TRUE);
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterTestClient) bob = natter_test_client_new_user (server, "bob", "b1");
  g_autofree char *text = NULL;
  gint64 start = g_get_monotonic_time ();
  double total, sum = 0;

  g_assert_true (slowed);
  g_unsetenv ("NATTERD_TEST_WAL_SYNC_DELAY_MS");
  for (int i = 0; i < 3; i++)
    {
      natter_frame_free (natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg", "{\"content\":\"1\"}"));
      natter_frame_free (natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS));
    }
  /* Not timed: a typing status is never stored. */
  natter_frame_free (natter_test_client_send_message (alice, 1, "bob", "RC:TypSts", "{}"));

  text = get_metrics (server);
  g_assert_nonnull (strstr (text, "# TYPE natterd_publish_stage_seconds histogram\n"));
  total = stage_value (text, "sum", "total");
  /* Each message's sync is one of the two. */
  g_assert_cmpint ((int) (stage_value (text, "count", "sync") + stage_value (text, "count", "sync-checkpoint")), ==, 3);
  sum = stage_value (text, "sum", "sync") + stage_value (text, "sum", "sync-checkpoint");
  g_assert_cmpint ((int) stage_value (text, "count", "total"), ==, 3);
  g_assert_cmpfloat (total, >, 0);
  g_assert_cmpfloat (total, <=, (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC);
  for (guint i = 0; i < G_N_ELEMENTS (parts); i++)
    {
      g_assert_cmpint ((int) stage_value (text, "count", parts[i]), ==, 3);
      g_assert_cmpfloat (stage_value (text, "sum", parts[i]), >=, 0);
      sum += stage_value (text, "sum", parts[i]);
    }
  g_assert_cmpfloat (fabs (sum - total), <, 1e-6);
  assert_stage_buckets (text, "total", 3);
  assert_stage_buckets (text, "sql", 3);

  /* The slow ones (over 2 ms; on a quiet machine maybe none): their
   * stages add up to their total, and each has one largest stage. */
  {
    static const char * const stages[] = { "parse", "wait", "sql", "sync", "sync-checkpoint", "wakeup", "deliver" };
    double slow = line_value (text, "natterd_publish_slow_total");
    double largest = 0, slow_sum = 0, slow_total;

    g_assert_cmpfloat (slow, <=, 3);
    slow_total = line_value (text, "natterd_publish_slow_seconds_total{stage=\"total\"}");
    for (guint i = 0; i < G_N_ELEMENTS (stages); i++)
      {
        g_autofree char *seconds = g_strdup_printf ("natterd_publish_slow_seconds_total{stage=\"%s\"}", stages[i]);
        g_autofree char *most = g_strdup_printf ("natterd_publish_slow_largest_total{stage=\"%s\"}", stages[i]);

        slow_sum += line_value (text, seconds);
        largest += line_value (text, most);
      }
    g_assert_cmpint ((int) largest, ==, (int) slow);
    g_assert_cmpfloat (fabs (slow_sum - slow_total), <, 1e-6);
    g_assert_cmpfloat (slow_total, <=, total + 1e-6);
    g_assert_cmpfloat (slow_total, >=, slow * 0.002);
  }
  /* By the total's bucket: each row's stages add up to its total, and
   * each of its messages had one largest stage; with the slow syncs,
   * every message is in a row (on PostgreSQL, maybe not). */
  {
    static const char * const stages[] = { "parse", "wait", "sql", "sync", "sync-checkpoint", "wakeup", "deliver" };
    g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
    const char *prefix = "natterd_publish_tail_seconds_total{le=\"";
    double rows_total = 0, rows_largest = 0;

    for (guint l = 0; lines[l] != NULL; l++)
      {
        g_autofree char *le = NULL;
        double row_sum = 0, row_total;

        if (!g_str_has_prefix (lines[l], prefix) || strstr (lines[l], "stage=\"total\"") == NULL)
          continue;
        le = g_strndup (lines[l] + strlen (prefix), strcspn (lines[l] + strlen (prefix), "\""));
        row_total = g_ascii_strtod (strstr (lines[l], "} ") + 2, NULL);
        for (guint i = 0; i < G_N_ELEMENTS (stages); i++)
          {
            g_autofree char *seconds = g_strdup_printf ("natterd_publish_tail_seconds_total{le=\"%s\",stage=\"%s\"}",
                                                        le, stages[i]);
            g_autofree char *most = g_strdup_printf ("natterd_publish_tail_largest_total{le=\"%s\",stage=\"%s\"}",
                                                     le, stages[i]);

            row_sum += line_value (text, seconds);
            rows_largest += line_value (text, most);
          }
        g_assert_cmpfloat (fabs (row_sum - row_total), <, 1e-6);
        if (!g_str_equal (le, "+Inf"))
          g_assert_cmpfloat (row_total, <=, 3 * g_ascii_strtod (le, NULL) + 1e-9);
        rows_total += row_total;
      }
    g_assert_cmpfloat (rows_total, <=, total + 1e-6);
    if (g_strcmp0 (g_getenv ("NATTER_TEST_STORE"), "postgresql") != 0)
      {
        g_assert_cmpint ((int) rows_largest, ==, 3);
        g_assert_cmpfloat (fabs (rows_total - total), <, 1e-6);
      }
  }
  /* Each message was fsynced, by one fdatasync() or another; the main
   * loop was timed. */
  if (g_strcmp0 (g_getenv ("NATTER_TEST_STORE"), "postgresql") != 0)
    g_assert_cmpfloat (line_value (text, "natterd_wal_fdatasync_seconds_count"), >=, 1);
  g_assert_cmpfloat (line_value (text, "natterd_main_iteration_seconds_count"), >, 0);
}

/* natterd with JSON logs, stopped by @signum: a clean stop either way. */
static void
json_logs_until (int signum)
{
  g_autofree char *dir = g_dir_make_tmp ("natterd-log-XXXXXX", NULL);
  g_autofree char *config = g_build_filename (dir, "natterd.conf", NULL);
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GDataInputStream) err = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *first = NULL;
  char *line;
  guint events = 0;
  gboolean saw_listening = FALSE, saw_stopped = FALSE;

  g_file_set_contents (config, "[log]\nformat=json\nlevel=info\n[server]\nlisten=127.0.0.1:0\n", -1, &error);
  g_assert_no_error (error);
  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                              natter_test_program ("NATTERD"), "--data-dir", dir, "--config", config, NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (process));
  first = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (first, "listening on http://127.0.0.1:"));

  g_subprocess_send_signal (process, signum);
  err = g_data_input_stream_new (g_subprocess_get_stderr_pipe (process));
  while ((line = g_data_input_stream_read_line_utf8 (err, NULL, NULL, &error)) != NULL)
    {
      g_autoptr(JsonParser) parser = json_parser_new ();
      g_autoptr(GError) parse_error = NULL;
      JsonObject *object;

      json_parser_load_from_data (parser, line, -1, &parse_error);
      g_assert_no_error (parse_error);
      object = json_node_get_object (json_parser_get_root (parser));
      g_assert_nonnull (json_object_get_string_member (object, "ts"));
      g_assert_nonnull (json_object_get_string_member (object, "level"));
      if (g_strcmp0 (json_object_get_string_member (object, "event"), "listening") == 0)
        saw_listening = TRUE;
      if (g_strcmp0 (json_object_get_string_member (object, "event"), "stopped") == 0)
        saw_stopped = TRUE;
      events++;
      g_free (line);
    }
  g_subprocess_wait (process, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (process));
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 0);
  g_assert_true (saw_listening);
  g_assert_true (saw_stopped);
  g_assert_cmpuint (events, >=, 2);

  {
    g_autoptr(GSubprocess) rm = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, NULL, "rm", "-rf", dir, NULL);
    g_subprocess_wait (rm, NULL, NULL);
  }
}

static void
test_json_logs (void)
{
  json_logs_until (SIGTERM);
  json_logs_until (SIGINT);
}

static void
test_bad_config (void)
{
  g_autofree char *dir = g_dir_make_tmp ("natterd-config-XXXXXX", NULL);
  g_autofree char *config = g_build_filename (dir, "natterd.conf", NULL);
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *err_text = NULL;

  /* A misspelt key is refused, not ignored. */
  g_file_set_contents (config, "[limits]\nsend-rat=5\n", -1, &error);
  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDERR_PIPE, &error, natter_test_program ("NATTERD"),
                              "--data-dir", dir, "--config", config, "--listen", "127.0.0.1:0", NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, NULL, &err_text, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 2);
  g_assert_nonnull (strstr (err_text, "send-rat"));

  {
    g_autoptr(GSubprocess) rm = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, NULL, "rm", "-rf", dir, NULL);
    g_subprocess_wait (rm, NULL, NULL);
  }
}

static void
test_tls (void)
{
  g_autofree char *dir = g_dir_make_tmp ("natterd-tls-XXXXXX", NULL);
  g_autofree char *cert = g_build_filename (dir, "cert.pem", NULL);
  g_autofree char *key = g_build_filename (dir, "key.pem", NULL);
  g_autofree char *config = NULL;
  g_autoptr(GSubprocess) openssl = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterTestServer) server = NULL;
  g_autoptr(NatterTestClient) alice = NULL;
  g_autoptr(NatterTestClient) bob = NULL;
  g_autoptr(NatterFrame) deliver = NULL;

  openssl = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error,
                              "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                              "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert, NULL);
  g_assert_no_error (error);
  g_subprocess_wait_check (openssl, NULL, &error);
  g_assert_no_error (error);

  config = g_strdup_printf ("[server]\ntls-cert=%s\ntls-key=%s\n", cert, key);
  server = natter_test_server_new_full (config, NULL);
  g_assert_true (g_str_has_prefix (natter_test_server_get_url (server), "https://127.0.0.1:"));

  /* wss end to end. */
  alice = natter_test_client_new_user (server, "alice", "a1");
  bob = natter_test_client_new_user (server, "bob", "b1");
  natter_frame_free (natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg", "{\"content\":\"secret\"}"));
  deliver = natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
  g_assert_nonnull (deliver);
  g_assert_cmpstr (deliver->deliver->message->content, ==, "{\"content\":\"secret\"}");

  g_unlink (cert);
  g_unlink (key);
  g_rmdir (dir);
}

/* Runs natterd with @... (NULL-terminated) after --data-dir @dir; returns
 * its exit status and its stdout in @out. */
static int
admin (const char  *dir,
       char       **out,
       ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  const char *arg;
  va_list args;

  g_ptr_array_add (argv, (gpointer) natter_test_program ("NATTERD"));
  g_ptr_array_add (argv, (gpointer) "--data-dir");
  g_ptr_array_add (argv, (gpointer) dir);
  va_start (args, out);
  while ((arg = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);

  process = g_subprocess_newv ((const char * const *) argv->pdata,
                               G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, out, NULL, &error);
  g_assert_no_error (error);
  return g_subprocess_get_exit_status (process);
}

/* The administration forms: --create-app twice, --set-app, --list-apps
 * showing both apps with their settings; an unknown app key is refused. */
static void
test_admin_commands (void)
{
  g_autofree char *dir = g_dir_make_tmp ("natterd-admin-XXXXXX", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *list = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  const char *key;

  g_assert_cmpint (admin (dir, &out, "--create-app", "first", NULL), ==, 0);
  g_assert_true (json_parser_load_from_data (parser, out, -1, &error));
  g_assert_no_error (error);
  key = json_object_get_string_member (json_node_get_object (json_parser_get_root (parser)), "appKey");
  g_assert_true (natter_id_is_valid (key));

  g_assert_cmpint (admin (dir, NULL, "--create-app", "second", NULL), ==, 0);
  g_assert_cmpint (admin (dir, NULL, "--set-app", key, "--app-setting", "multi-device=true", NULL), ==, 0);
  g_assert_cmpint (admin (dir, NULL, "--set-app", "nosuchapp", "--app-setting", "multi-device=true", NULL), !=, 0);

  g_assert_cmpint (admin (dir, &list, "--list-apps", NULL), ==, 0);
  g_assert_nonnull (strstr (list, key));
  g_assert_nonnull (strstr (list, "\tfirst\t"));
  g_assert_nonnull (strstr (list, "\tsecond\t"));
  g_assert_nonnull (strstr (list, "multi-device"));

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

  g_test_add_func ("/server/observability/metrics", test_metrics);
  g_test_add_func ("/server/observability/publish-stages", test_publish_stages);
  g_test_add_func ("/server/observability/json-logs", test_json_logs);
  g_test_add_func ("/server/observability/bad-config", test_bad_config);
  g_test_add_func ("/server/observability/admin-commands", test_admin_commands);
  g_test_add_func ("/server/observability/tls", test_tls);

  return g_test_run ();
}
