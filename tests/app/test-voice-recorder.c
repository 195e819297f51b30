/* test-voice-recorder.c — a voice message recorded from the chosen
 * microphone: the device is looked up off the main thread (#15)
 *
 * The machine's device providers are ranked out (no device is found, as on
 * a server: the test tone of NATTER_VOICE_TEST_SOURCE=1 stands in for the
 * default microphone), and their first probe is made to take 3 s.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gstdio.h>
#include <gst/gst.h>

#include "natter-test-stall.h"
#include "natter-voice-recorder.h"

#define PROBE_DELAY_MS 3000

typedef struct
{
  int      seconds;   /* ::finished's; 0 before */
  gboolean failed;
} Run;

static void
finished_cb (NatterVoiceRecorder *recorder,
             GFile               *file,
             int                  seconds,
             Run                 *run)
{
  run->seconds = seconds;
}

static void
failed_cb (NatterVoiceRecorder *recorder,
           GError              *error,
           Run                 *run)
{
  g_test_message ("failed: %s", error->message);
  run->failed = TRUE;
}

static void
spin_until (gboolean (*done) (NatterVoiceRecorder *, Run *),
            NatterVoiceRecorder *recorder,
            Run                 *run,
            const char          *what)
{
  gint64 end = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  while (!done (recorder, run))
    {
      if (g_get_monotonic_time () > end)
        g_error ("not %s after 60 s", what);
      g_main_context_iteration (NULL, TRUE);
    }
}

static gboolean
recorded_a_second (NatterVoiceRecorder *recorder,
                   Run                 *run)
{
  g_assert_false (run->failed);
  return natter_voice_recorder_get_elapsed (recorder) >= 1;
}

static gboolean
finished (NatterVoiceRecorder *recorder,
          Run                 *run)
{
  g_assert_false (run->failed);
  return run->seconds > 0;
}

/* The first recording is cancelled and dropped while its microphone is
 * looked up (the late lookup touches nothing of it); the second records
 * a second and finishes. The main loop never stalls for the probe. */
static void
test_chosen_microphone (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("natter-voice-recorder-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "voice.ogg", NULL);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(NatterVoiceRecorder) recorder = NULL;
  g_autoptr(GFileInfo) info = NULL;
  Run run = { 0, };
  NatterTestStall stall;
  gint64 begin, longest;

  g_assert_no_error (error);
  natter_test_stall_start (&stall);

  begin = g_get_monotonic_time ();
  recorder = natter_voice_recorder_new (file, "No Such Microphone");
  g_assert_true (natter_voice_recorder_start (recorder, &error));
  g_assert_no_error (error);
  natter_voice_recorder_cancel (recorder);
  g_clear_object (&recorder);

  recorder = natter_voice_recorder_new (file, "No Such Microphone");
  g_signal_connect (recorder, "finished", G_CALLBACK (finished_cb), &run);
  g_signal_connect (recorder, "failed", G_CALLBACK (failed_cb), &run);
  g_assert_true (natter_voice_recorder_start (recorder, &error));
  g_assert_no_error (error);
  /* both starts returned at once, long before the probe's end */
  g_assert_cmpint (g_get_monotonic_time () - begin, <, PROBE_DELAY_MS / 2 * 1000);

  spin_until (recorded_a_second, recorder, &run, "recording");
  natter_voice_recorder_stop (recorder);
  spin_until (finished, recorder, &run, "finished");
  longest = natter_test_stall_stop (&stall);
  g_test_message ("longest main-loop stall: %" G_GINT64_FORMAT " ms", longest / 1000);
  g_assert_cmpint (longest, <, PROBE_DELAY_MS / 2 * 1000);
  g_assert_cmpint (run.seconds, >=, 1);
  /* the test tone, in Ogg */
  info = g_file_query_info (file, G_FILE_ATTRIBUTE_STANDARD_SIZE, G_FILE_QUERY_INFO_NONE, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_file_info_get_size (info), >, 1000);

  g_assert_true (g_file_delete (file, NULL, NULL));
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* Stopped before its microphone was there: it still finishes, shortest. */
static void
test_stopped_while_opening (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("natter-voice-recorder-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "voice.ogg", NULL);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(NatterVoiceRecorder) recorder = natter_voice_recorder_new (file, "No Such Microphone");
  Run run = { 0, };

  g_assert_no_error (error);
  g_signal_connect (recorder, "finished", G_CALLBACK (finished_cb), &run);
  g_signal_connect (recorder, "failed", G_CALLBACK (failed_cb), &run);
  g_assert_true (natter_voice_recorder_start (recorder, &error));
  natter_voice_recorder_stop (recorder);
  spin_until (finished, recorder, &run, "finished");
  g_assert_cmpint (run.seconds, ==, 1);
  g_assert_true (g_file_delete (file, NULL, NULL));
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_setenv ("GST_PLUGIN_FEATURE_RANK",
            "pipewiredeviceprovider:NONE,pulsedeviceprovider:NONE,alsadeviceprovider:NONE,"
            "v4l2deviceprovider:NONE,uvch264deviceprovider:NONE,decklinkdeviceprovider:NONE,"
            "libcameraprovider:NONE,jackdeviceprovider:NONE", TRUE);
  g_setenv ("NATTER_VOICE_TEST_SOURCE", "1", TRUE);
  g_setenv ("NATTER_CALL_TEST_DEVICE_PROBE_DELAY_MS", G_STRINGIFY (PROBE_DELAY_MS), TRUE);
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/voice-recorder/chosen-microphone", test_chosen_microphone);
  g_test_add_func ("/voice-recorder/stopped-while-opening", test_stopped_while_opening);
  return g_test_run ();
}
