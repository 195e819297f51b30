/* natter-call-bench.c — call setup time and CPU per peer
 *
 *   natter-call-bench [--calls N] [--cpu-seconds S] [--video WxH]
 *
 * Starts natterd on 127.0.0.1 and, N times, `natter-cli answer --auto` as bob
 * and `natter-cli call bob --video --duration 2` as alice (test sources,
 * 640×480@30, ICE on 127.0.0.1), and prints the median and p90 of alice's
 * setupMs: from starting the call (invite) to the first decoded remote
 * video frame, and each phase of the setup on both sides (the "phases" of
 * natter-cli's result: monotonic times, here in ms after alice placed the
 * call), p50 and p90 of each. Then one call of S seconds where each peer's CPU (utime +
 * stime from /proc) is sampled over the connected part, in % of one core.
 * --video 1280x720 measures the HD option (640x480 by default); the size
 * natter_call_media_get_video_size() would pick on this machine is printed
 * first, then what the test sources alone cost (a camera would not). Each
 * peer's threads follow, busiest first (the share of one core of each
 * name), and the context switches per second of all of them: where the CPU
 * goes. A benchmark: it prints figures, it asserts nothing.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "natter-call.h"
#include "natter-call-media.h"
#include "natter-test-server.h"

typedef struct
{
  GSubprocess      *process;
  GDataInputStream *out;
  GPtrArray        *lines;
  gboolean          eof;
} Peer;

static void
on_line (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Peer *peer = user_data;
  char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL, NULL);

  if (line == NULL)
    {
      peer->eof = TRUE;
      return;
    }
  g_ptr_array_add (peer->lines, line);
  g_data_input_stream_read_line_async (peer->out, G_PRIORITY_DEFAULT, NULL, on_line, peer);
}

static Peer *
peer_start (NatterTestServer *server,
            const char       *dir,
            const char       *user,
            const char       *a,
            const char       *b,
            const char       *c,
            const char       *d,
            const char       *e)
{
  g_autofree char *token = natter_test_server_get_token (server, user);
  g_autofree char *profile = g_build_filename (dir, user, NULL);
  g_autoptr(GError) error = NULL;
  Peer *peer = g_new0 (Peer, 1);

  peer->lines = g_ptr_array_new_with_free_func (g_free);
  peer->process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDIN_PIPE, &error,
                                    natter_test_program ("NATTER_CLI"),
                                    "--server", natter_test_server_get_url (server),
                                    "--app-key", natter_test_server_get_app_key (server),
                                    "--token", token, "--profile", profile,
                                    a, b, c, d, e, NULL);
  if (peer->process == NULL)
    g_error ("natter-cli: %s", error->message);
  peer->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (peer->process));
  g_data_input_stream_read_line_async (peer->out, G_PRIORITY_DEFAULT, NULL, on_line, peer);
  return peer;
}

static void
peer_free (Peer *peer)
{
  g_subprocess_force_exit (peer->process);
  g_subprocess_wait (peer->process, NULL, NULL);
  while (!peer->eof)
    g_main_context_iteration (NULL, TRUE);
  g_object_unref (peer->process);
  g_object_unref (peer->out);
  g_ptr_array_unref (peer->lines);
  g_free (peer);
}

static gboolean
has_line (Peer       *peer,
          const char *prefix)
{
  for (guint i = 0; i < peer->lines->len; i++)
    if (g_str_has_prefix (g_ptr_array_index (peer->lines, i), prefix))
      return TRUE;
  return FALSE;
}

static void
wait_line (Peer       *peer,
           const char *prefix)
{
  gint64 until = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  while (!has_line (peer, prefix))
    {
      if (peer->eof || g_get_monotonic_time () > until)
        g_error ("no \"%s\" line", prefix);
      g_main_context_iteration (NULL, TRUE);
    }
}

static JsonObject *
wait_result (Peer *peer)
{
  g_autoptr(JsonNode) node = NULL;

  while (!peer->eof)
    g_main_context_iteration (NULL, TRUE);
  g_subprocess_wait (peer->process, NULL, NULL);
  if (peer->lines->len == 0 ||
      (node = json_from_string (g_ptr_array_index (peer->lines, peer->lines->len - 1), NULL)) == NULL ||
      !JSON_NODE_HOLDS_OBJECT (node))
    g_error ("no result line");
  return json_object_ref (json_node_get_object (node));
}

/* utime + stime of a process, in clock ticks. */
static guint64
cpu_ticks (GSubprocess *process)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/stat", g_subprocess_get_identifier (process));
  g_autofree char *text = NULL;
  g_auto(GStrv) fields = NULL;
  const char *after_name;

  if (!g_file_get_contents (path, &text, NULL, NULL) || (after_name = strrchr (text, ')')) == NULL)
    return 0;
  fields = g_strsplit (after_name + 2, " ", -1);
  /* after "pid (comm) ": state is field 0, utime 11, stime 12 */
  if (g_strv_length (fields) < 13)
    return 0;
  return g_ascii_strtoull (fields[11], NULL, 10) + g_ascii_strtoull (fields[12], NULL, 10);
}

/* A thread's "voluntary_ctxt_switches" + "nonvoluntary_ctxt_switches". */
static guint64
thread_switches (const char *status_path)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  guint64 switches = 0;

  if (!g_file_get_contents (status_path, &text, NULL, NULL))
    return 0;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (strstr (lines[i], "ctxt_switches:") != NULL)
      switches += g_ascii_strtoull (strchr (lines[i], ':') + 1, NULL, 10);
  return switches;
}

/* utime + stime of each thread of a process, in clock ticks, by thread id;
 * the name (GStreamer names its streaming threads after their pads, e.g.
 * "queue4:src") in @names; all its threads' context switches in
 * @switches. */
static GHashTable *
thread_ticks (GSubprocess *process,
              GHashTable  *names,
              guint64     *switches)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/task", g_subprocess_get_identifier (process));
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  GHashTable *ticks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  const char *tid;

  *switches = 0;
  while (dir != NULL && (tid = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *stat = g_build_filename (path, tid, "stat", NULL);
      g_autofree char *status = g_build_filename (path, tid, "status", NULL);
      g_autofree char *text = NULL;
      g_auto(GStrv) fields = NULL;
      const char *open, *close;

      if (!g_file_get_contents (stat, &text, NULL, NULL) || (open = strchr (text, '(')) == NULL ||
          (close = strrchr (text, ')')) == NULL)
        continue;
      fields = g_strsplit (close + 2, " ", -1);
      if (g_strv_length (fields) < 13)
        continue;
      *switches += thread_switches (status);
      g_hash_table_insert (names, g_strdup (tid), g_strndup (open + 1, close - open - 1));
      g_hash_table_insert (ticks, g_strdup (tid),
                           GSIZE_TO_POINTER (g_ascii_strtoull (fields[11], NULL, 10) +
                                             g_ascii_strtoull (fields[12], NULL, 10)));
    }
  return ticks;
}

static int
compare_busiest (gconstpointer a,
                 gconstpointer b,
                 gpointer      user_data)
{
  GHashTable *percent = user_data;
  double x = *(double *) g_hash_table_lookup (percent, *(const char **) a);
  double y = *(double *) g_hash_table_lookup (percent, *(const char **) b);

  return x < y ? 1 : x > y ? -1 : 0;
}

/* Each thread's share of one core between @before and @after, busiest
 * first, threads of the same name together. */
static void
print_threads (const char *side,
               GHashTable *names,
               GHashTable *before,
               GHashTable *after,
               guint64     switches,
               double      seconds,
               long        ticks_per_second)
{
  g_autoptr(GHashTable) percent = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  g_autoptr(GPtrArray) order = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer tid, ticks;

  g_hash_table_iter_init (&iter, after);
  while (g_hash_table_iter_next (&iter, &tid, &ticks))
    {
      const char *name = g_hash_table_lookup (names, tid);
      gpointer was = g_hash_table_lookup (before, tid);
      double *share = g_hash_table_lookup (percent, name);

      if (share == NULL)
        {
          share = g_new0 (double, 1);
          g_hash_table_insert (percent, (gpointer) name, share);
          g_ptr_array_add (order, (gpointer) name);
        }
      *share += 100.0 * (GPOINTER_TO_SIZE (ticks) - GPOINTER_TO_SIZE (was)) / ticks_per_second / seconds;
    }
  g_ptr_array_sort_with_data (order, compare_busiest, percent);
  g_print ("  %s: %.0f context switches/s; threads (%% of one core):", side, switches / seconds);
  for (guint i = 0; i < order->len; i++)
    {
      double share = *(double *) g_hash_table_lookup (percent, order->pdata[i]);

      if (share >= 0.05)
        g_print (" %s %.1f", (const char *) order->pdata[i], share);
    }
  g_print ("\n");
}

static int
compare_int64 (gconstpointer a,
               gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

static gint64
percentile (GArray *values,
            int     percent)
{
  if (values->len == 0)
    return -1;
  g_array_sort (values, compare_int64);
  return g_array_index (values, gint64, MAX ((values->len * percent + 99) / 100, 1) - 1);
}

/* @phases[side][phase]: ms after the caller's start, for each call. */
static void
add_phases (GArray     *phases[2][NATTER_CALL_N_PHASES],
            int         side,
            JsonObject *result,
            gint64      origin)
{
  JsonObject *times = json_object_get_object_member (result, "phases");

  for (NatterCallPhase phase = 0; phase < NATTER_CALL_N_PHASES; phase++)
    {
      const char *name = natter_call_phase_to_string (phase);
      gint64 ms;

      if (times == NULL || !json_object_has_member (times, name))
        continue;
      ms = (json_object_get_int_member (times, name) - origin) / 1000;
      g_array_append_val (phases[side][phase], ms);
    }
}

static void
print_phases (GArray *phases[2][NATTER_CALL_N_PHASES])
{
  g_print ("phase (ms after the call was placed)   caller p50   p90   callee p50   p90\n");
  for (NatterCallPhase phase = 0; phase < NATTER_CALL_N_PHASES; phase++)
    {
      g_print ("  %-36s", natter_call_phase_to_string (phase));
      for (int side = 0; side < 2; side++)
        if (phases[side][phase]->len > 0)
          g_print ("  %9" G_GINT64_FORMAT " %5" G_GINT64_FORMAT, percentile (phases[side][phase], 50),
                   percentile (phases[side][phase], 90));
        else
          g_print ("  %9s %5s", "-", "-");
      g_print ("\n");
    }
}

static void
run_until (gint64 deadline)
{
  while (g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE), g_usleep (10 * 1000);
}

static double
self_cpu_seconds (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

/* What the test sources alone cost, in % of one core: a camera's and a
 * microphone's frames cost next to nothing to produce, videotestsrc's
 * moving SMPTE bars do not. The same sources and capture caps as
 * NatterCallMedia's, into fakesinks, in this (otherwise idle) process. */
static double
source_cpu_percent (const char *caps,
                    int         seconds)
{
  int width = 640, height = 480;
  g_autofree char *description = NULL;
  g_autoptr(GstElement) pipeline = NULL;
  double cpu0;
  gint64 t0;

  sscanf (caps, "%dx%d", &width, &height);
  description = g_strdup_printf ("videotestsrc is-live=true pattern=smpte horizontal-speed=4 ! "
                                 "videoconvert ! videoscale ! videorate ! video/x-raw,format=I420,"
                                 "width=%d,height=%d,framerate=30/1,pixel-aspect-ratio=1/1 ! "
                                 "fakesink sync=true "
                                 "audiotestsrc is-live=true wave=sine freq=440 volume=0.2 "
                                 "samplesperbuffer=480 ! audioconvert ! audioresample ! "
                                 "audio/x-raw,format=S16LE,rate=48000,channels=1 ! fakesink sync=true",
                                 width, height);
  pipeline = gst_parse_launch (description, NULL);
  if (pipeline == NULL)
    return -1;
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  g_usleep (G_USEC_PER_SEC / 2);
  cpu0 = self_cpu_seconds ();
  t0 = g_get_monotonic_time ();
  g_usleep ((gulong) seconds * G_USEC_PER_SEC);
  cpu0 = (self_cpu_seconds () - cpu0) / ((g_get_monotonic_time () - t0) / (double) G_USEC_PER_SEC);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  return 100.0 * cpu0;
}

int
main (int   argc,
      char *argv[])
{
  int calls = 10;
  int cpu_seconds = 10;
  g_autofree char *video = NULL;
  g_autofree char *caps = NULL;
  const GOptionEntry entries[] = {
    { "calls", 0, 0, G_OPTION_ARG_INT, &calls, "Calls to time (10)", "N" },
    { "cpu-seconds", 0, 0, G_OPTION_ARG_INT, &cpu_seconds, "Length of the CPU sample (10)", "S" },
    { "video", 0, 0, G_OPTION_ARG_STRING, &video, "Video size (640x480)", "WxH" },
    { NULL }
  };
  g_autoptr(GOptionContext) options = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) setups = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(NatterTestServer) server = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *duration = NULL;
  g_autofree char *remove = NULL;
  long ticks_per_second = sysconf (_SC_CLK_TCK);
  GArray *phases[2][NATTER_CALL_N_PHASES];

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error) || calls < 1 || cpu_seconds < 2)
    {
      g_printerr ("%s\n", error != NULL ? error->message : "bad arguments");
      return 1;
    }

  /* Run straight from the build dir: the programs meson built. */
  g_setenv ("NATTERD", NATTERD_PATH, FALSE);
  g_setenv ("NATTER_CLI", NATTER_CLI_PATH, FALSE);
  g_setenv ("NATTER_CALL_TEST_SOURCES", "1", TRUE);
  caps = g_strdup_printf ("%s@30", video != NULL ? video : "640x480");
  g_setenv ("NATTER_CALL_VIDEO_CAPS", caps, TRUE);
  {
    int width, height;
    gint64 cpu;

    gst_init (NULL, NULL);
    natter_call_media_prepare_finish ();
    natter_call_media_get_video_size (&width, &height, &cpu);
    g_print ("video size by capacity: %dx%d (a 1280x720 frame takes %" G_GINT64_FORMAT
             " us of encoder CPU; 1280x720 at <= 4000 us); measuring %s\n", width, height, cpu, caps);
    g_print ("test sources alone (in each peer's figure below): %.1f %% of one core\n",
             source_cpu_percent (caps, MIN (cpu_seconds, 5)));
  }
  if (g_getenv ("NATTER_CALL_ICE_ADDRESSES") == NULL)
    g_setenv ("NATTER_CALL_ICE_ADDRESSES", "127.0.0.1", TRUE);

  for (int side = 0; side < 2; side++)
    for (int phase = 0; phase < NATTER_CALL_N_PHASES; phase++)
      phases[side][phase] = g_array_new (FALSE, FALSE, sizeof (gint64));

  dir = g_dir_make_tmp ("natter-call-bench-XXXXXX", &error);
  g_assert_no_error (error);
  server = natter_test_server_new ();

  for (int i = 0; i < calls; i++)
    {
      Peer *bob = peer_start (server, dir, "bob", "answer", "--auto", NULL, NULL, NULL);
      Peer *alice;
      g_autoptr(JsonObject) result = NULL;
      gint64 setup;

      run_until (g_get_monotonic_time () + G_USEC_PER_SEC / 2);
      alice = peer_start (server, dir, "alice", "call", "bob", "--video", "--duration", "2");
      result = wait_result (alice);
      g_autoptr(JsonObject) bob_result = wait_result (bob);
      JsonObject *alice_phases = json_object_get_object_member (result, "phases");
      gint64 origin = alice_phases != NULL ? json_object_get_int_member_with_default (alice_phases, "started", 0) : 0;

      setup = json_object_get_int_member (result, "setupMs");
      if (json_object_get_int_member (result, "reason") != 3 || setup <= 0)
        g_error ("call %d did not connect (reason %" G_GINT64_FORMAT ")", i + 1,
                 json_object_get_int_member (result, "reason"));
      g_array_append_val (setups, setup);
      add_phases (phases, 0, result, origin);
      add_phases (phases, 1, bob_result, origin);
      g_print ("call %2d: setup %" G_GINT64_FORMAT " ms\n", i + 1, setup);
      peer_free (alice);
      peer_free (bob);
    }

  g_array_sort (setups, compare_int64);
  g_print ("setup (invite -> first remote video frame) over %d calls: median %" G_GINT64_FORMAT
           " ms, p90 %" G_GINT64_FORMAT " ms\n",
           calls, g_array_index (setups, gint64, (setups->len - 1) / 2),
           g_array_index (setups, gint64, (setups->len * 9 + 9) / 10 - 1));
  print_phases (phases);

  /* CPU: sample the connected part of one longer call. */
  {
    Peer *bob = peer_start (server, dir, "bob", "answer", "--auto", NULL, NULL, NULL);
    Peer *alice;
    guint64 alice0, bob0, alice1, bob1;
    guint64 alice_switches0, bob_switches0, alice_switches1, bob_switches1;
    g_autoptr(GHashTable) names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
    g_autoptr(GHashTable) alice_threads0 = NULL;
    g_autoptr(GHashTable) bob_threads0 = NULL;
    g_autoptr(GHashTable) alice_threads1 = NULL;
    g_autoptr(GHashTable) bob_threads1 = NULL;
    gint64 t0, t1;
    g_autoptr(JsonObject) alice_result = NULL;
    g_autoptr(JsonObject) bob_result = NULL;

    run_until (g_get_monotonic_time () + G_USEC_PER_SEC / 2);
    duration = g_strdup_printf ("%d", cpu_seconds + 2);
    alice = peer_start (server, dir, "alice", "call", "bob", "--video", "--duration", duration);
    wait_line (alice, "active");
    run_until (g_get_monotonic_time () + G_USEC_PER_SEC);
    alice0 = cpu_ticks (alice->process);
    bob0 = cpu_ticks (bob->process);
    alice_threads0 = thread_ticks (alice->process, names, &alice_switches0);
    bob_threads0 = thread_ticks (bob->process, names, &bob_switches0);
    t0 = g_get_monotonic_time ();
    run_until (t0 + (gint64) cpu_seconds * G_USEC_PER_SEC);
    alice1 = cpu_ticks (alice->process);
    bob1 = cpu_ticks (bob->process);
    alice_threads1 = thread_ticks (alice->process, names, &alice_switches1);
    bob_threads1 = thread_ticks (bob->process, names, &bob_switches1);
    t1 = g_get_monotonic_time ();
    alice_result = wait_result (alice);
    bob_result = wait_result (bob);

    g_print ("CPU per peer, %s VP8 + Opus, %d s connected: caller %.1f %%, callee %.1f %% of one core "
             "(frames received: %" G_GINT64_FORMAT " / %" G_GINT64_FORMAT ")\n",
             caps, cpu_seconds,
             100.0 * (alice1 - alice0) / ticks_per_second / ((t1 - t0) / (double) G_USEC_PER_SEC),
             100.0 * (bob1 - bob0) / ticks_per_second / ((t1 - t0) / (double) G_USEC_PER_SEC),
             json_object_get_int_member (alice_result, "videoFramesReceived"),
             json_object_get_int_member (bob_result, "videoFramesReceived"));
    /* On a loaded box frames are dropped, and CPU falls with them: the
     * frames each peer sent and received a second (over the call after its
     * first frame, --duration), and CPU per such frame, compare runs. */
    {
      double seconds = cpu_seconds + 2;
      double alice_fps = json_object_get_int_member (alice_result, "videoFramesReceived") / seconds;
      double bob_fps = json_object_get_int_member (bob_result, "videoFramesReceived") / seconds;
      double per_frame = (alice_fps + bob_fps) / 2;

      g_print ("frames a second, sent and received, averaged: %.1f (30 when none is dropped); "
               "CPU per frame: caller %.2f ms, callee %.2f ms\n",
               per_frame,
               per_frame > 0 ? 1000.0 * (alice1 - alice0) / ticks_per_second / ((t1 - t0) / (double) G_USEC_PER_SEC) / per_frame : 0,
               per_frame > 0 ? 1000.0 * (bob1 - bob0) / ticks_per_second / ((t1 - t0) / (double) G_USEC_PER_SEC) / per_frame : 0);
    }
    print_threads ("caller", names, alice_threads0, alice_threads1, alice_switches1 - alice_switches0, (t1 - t0) / (double) G_USEC_PER_SEC,
                   ticks_per_second);
    print_threads ("callee", names, bob_threads0, bob_threads1, bob_switches1 - bob_switches0, (t1 - t0) / (double) G_USEC_PER_SEC,
                   ticks_per_second);
    peer_free (alice);
    peer_free (bob);
  }

  for (int side = 0; side < 2; side++)
    for (int phase = 0; phase < NATTER_CALL_N_PHASES; phase++)
      g_array_unref (phases[side][phase]);
  natter_test_server_free (g_steal_pointer (&server));
  remove = g_strdup_printf ("rm -rf '%s'", dir);
  if (system (remove) != 0)
    g_printerr ("could not remove %s\n", dir);
  return 0;
}
