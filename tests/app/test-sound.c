/* test-sound.c — the bundled sounds: in the GResource, and they play
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gst/gst.h>
#include <string.h>

#include "natter-sound.h"
#include "natter-test-gio-log.h"

static gboolean
wait_until (gboolean (*predicate) (NatterSound *), NatterSound *sound)
{
  gint64 end = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  while (!predicate (sound))
    {
      if (g_get_monotonic_time () > end)
        return FALSE;
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
  return TRUE;
}

static gboolean
ended_once (NatterSound *sound)
{
  return natter_sound_get_ends (sound) >= 1 && !natter_sound_get_playing (sound);
}

static gboolean
looped (NatterSound *sound)
{
  return natter_sound_get_ends (sound) >= 3;
}

static void
test_bundled (void)
{
  const char *paths[] = { NATTER_SOUND_MESSAGE, NATTER_SOUND_RINGTONE };

  for (guint i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      gsize size = 0;

      g_assert_true (g_resources_get_info (paths[i] + strlen ("resource://"), G_RESOURCE_LOOKUP_FLAGS_NONE,
                                           &size, NULL, NULL));
      /* small: short Vorbis files */
      g_assert_cmpuint (size, >, 1000);
      g_assert_cmpuint (size, <, 64 * 1024);
    }
}

/* The message sound plays to its end once, out of the GResource */
static void
test_message_plays_once (void)
{
  g_autoptr(NatterSound) sound = natter_sound_new (NATTER_SOUND_MESSAGE, "fakesink sync=false");

  natter_sound_play (sound, FALSE);
  g_assert_true (natter_sound_get_playing (sound));
  g_assert_true (wait_until (ended_once, sound));
  g_assert_cmpuint (natter_sound_get_ends (sound), ==, 1);
  natter_test_gio_log_assert_none ();
}

/* The ringtone loops until stopped. */
static void
test_ringtone_loops (void)
{
  g_autoptr(NatterSound) sound = natter_sound_new (NATTER_SOUND_RINGTONE, "fakesink sync=false");

  natter_sound_play (sound, TRUE);
  g_assert_true (wait_until (looped, sound));
  g_assert_true (natter_sound_get_playing (sound));
  natter_sound_stop (sound);
  g_assert_false (natter_sound_get_playing (sound));
  natter_test_gio_log_assert_none ();
}

/* A play while the last one still starts (two messages at once) plays
 * from the start, once, to its end. */
static void
test_play_again_while_starting (void)
{
  for (guint i = 0; i < 6; i++)
    {
      g_autoptr(NatterSound) sound = natter_sound_new (NATTER_SOUND_MESSAGE, "fakesink sync=false");

      natter_sound_play (sound, FALSE);
      natter_sound_play (sound, FALSE);
      g_assert_true (wait_until (ended_once, sound));
      g_assert_cmpuint (natter_sound_get_ends (sound), ==, 1);
    }
  natter_test_gio_log_assert_none ();
}

/* A sound dropped at any point of its start or its play (a message
 * notified as its window closes) stops without a warning; one played to
 * its end and played again ends again. */
static void
test_drop_at_any_point (void)
{
  for (guint i = 0; i < 12; i++)
    {
      g_autoptr(NatterSound) sound = natter_sound_new (NATTER_SOUND_MESSAGE, "fakesink sync=true");
      gint64 until = g_get_monotonic_time () + i * 40 * 1000;

      natter_sound_play (sound, FALSE);
      while (g_get_monotonic_time () < until)
        g_main_context_iteration (NULL, FALSE);
      if (i % 4 == 3)
        {
          g_assert_true (wait_until (ended_once, sound));
          natter_sound_play (sound, FALSE);
          g_assert_true (wait_until (ended_once, sound));
          g_assert_cmpuint (natter_sound_get_ends (sound), ==, 2);
        }
    }
  natter_test_gio_log_assert_none ();
}

/* The GIO source's log is seen (natter-test-gio-log.c): a resource that is
 * not there is an error it logs. The sounds no longer go through it; the
 * voice messages' playbin still may. */
static void
test_gio_log_seen (void)
{
  g_autoptr(GstElement) playbin = gst_element_factory_make ("playbin", NULL);
  g_autoptr(GstBus) bus = gst_element_get_bus (playbin);
  g_autoptr(GstMessage) message = NULL;

  g_object_set (playbin, "uri", "resource:///im/natter/Natter/sounds/none.oga",
                "audio-sink", gst_element_factory_make ("fakesink", NULL), NULL);
  gst_element_set_state (playbin, GST_STATE_PAUSED);
  message = gst_bus_timed_pop_filtered (bus, 20 * GST_SECOND, GST_MESSAGE_ERROR);
  g_assert_nonnull (message);
  gst_element_set_state (playbin, GST_STATE_NULL);
  g_assert_cmpuint (natter_test_gio_log_count (), >, 0);
  natter_test_gio_log_forget ();
}

/* A sound that is not in the GResource: a note, nothing plays. */
static void
test_missing (void)
{
  g_autoptr(NatterSound) sound = natter_sound_new ("resource:///im/natter/Natter/sounds/none.oga",
                                                   "fakesink sync=false");

  natter_sound_play (sound, FALSE);
  g_assert_false (natter_sound_get_playing (sound));
  g_assert_cmpuint (natter_sound_get_n_pipelines (), ==, 0);
}

static gboolean
not_playing (NatterSound *sound)
{
  return !natter_sound_get_playing (sound);
}

/* An output that cannot be made (no such sink): a note, and the sound
 * says it is not playing. */
static void
test_no_output (void)
{
  g_autoptr(NatterSound) sound = natter_sound_new (NATTER_SOUND_MESSAGE, "natter-no-such-sink");

  natter_sound_play (sound, FALSE);
  g_assert_true (wait_until (not_playing, sound));
  g_assert_cmpuint (natter_sound_get_ends (sound), ==, 0);
  g_assert_cmpuint (natter_sound_get_n_pipelines (), ==, 0);
}

/* What GStreamer logs of plugin loading, element making and state
 * changes, by thread: none of it may happen on the GTK main thread. */
static GThread *main_thread;
static gint on_main, off_main;

static void
log_thread (GstDebugCategory *category,
            GstDebugLevel     level,
            const char       *file,
            const char       *function,
            gint              line,
            GObject          *object,
            GstDebugMessage  *message,
            gpointer          user_data)
{
  const char *name = gst_debug_category_get_name (category);

  if (!g_str_equal (name, "GST_PLUGIN_LOADING") && !g_str_equal (name, "GST_ELEMENT_FACTORY") &&
      !g_str_equal (name, "GST_STATES"))
    return;
  if (g_thread_self () == main_thread)
    {
      if (g_atomic_int_add (&on_main, 1) < 5)
        g_test_message ("on the main thread: %s: %s", name, gst_debug_message_get (message));
    }
  else
    g_atomic_int_inc (&off_main);
}

static gboolean
no_pipelines (NatterSound *sound)
{
  return natter_sound_get_n_pipelines () == 0;
}

/* A sound's pipeline is made, started, looped and torn down off the main
 * thread (#15: playbin made and started there loaded plugins and opened
 * the sound card under the GTK main loop), and GStreamer's GIO source
 * is never loaded for it. */
static void
test_off_main_thread (void)
{
  g_autoptr(NatterSound) sound = natter_sound_new (NATTER_SOUND_MESSAGE, "fakesink sync=false");
  g_autoptr(NatterSound) ringtone = natter_sound_new (NATTER_SOUND_RINGTONE, "fakesink sync=false");
  g_autoptr(GstPlugin) gio = NULL;

  main_thread = g_thread_self ();
  gst_debug_set_active (TRUE);
  gst_debug_remove_log_function (gst_debug_log_default);
  gst_debug_add_log_function (log_thread, NULL, NULL);
  gst_debug_set_threshold_for_name ("GST_PLUGIN_LOADING", GST_LEVEL_DEBUG);
  gst_debug_set_threshold_for_name ("GST_ELEMENT_FACTORY", GST_LEVEL_DEBUG);
  gst_debug_set_threshold_for_name ("GST_STATES", GST_LEVEL_DEBUG);

  natter_sound_play (sound, FALSE);
  g_assert_true (wait_until (ended_once, sound));
  natter_sound_play (ringtone, TRUE);
  g_assert_true (wait_until (looped, ringtone));
  natter_sound_stop (ringtone);
  g_assert_true (wait_until (no_pipelines, sound));

  gst_debug_remove_log_function (log_thread);
  gst_debug_set_threshold_for_name ("GST_PLUGIN_LOADING", GST_LEVEL_NONE);
  gst_debug_set_threshold_for_name ("GST_ELEMENT_FACTORY", GST_LEVEL_NONE);
  gst_debug_set_threshold_for_name ("GST_STATES", GST_LEVEL_NONE);
  gst_debug_add_log_function (gst_debug_log_default, NULL, NULL);

  /* the hook saw the worker's work: it would see the main thread's */
  g_assert_cmpint (g_atomic_int_get (&off_main), >, 0);
  g_assert_cmpint (g_atomic_int_get (&on_main), ==, 0);
  gio = gst_registry_find_plugin (gst_registry_get (), "gio");
  g_assert_true (gio == NULL || !gst_plugin_is_loaded (gio));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  gst_init (&argc, &argv);
  natter_test_gio_log_watch ();

  g_test_add_func ("/sound/bundled", test_bundled);
  /* first: before any other case loaded the plugins */
  g_test_add_func ("/sound/off-main-thread", test_off_main_thread);
  g_test_add_func ("/sound/missing", test_missing);
  g_test_add_func ("/sound/no-output", test_no_output);
  g_test_add_func ("/sound/message-plays-once", test_message_plays_once);
  g_test_add_func ("/sound/ringtone-loops", test_ringtone_loops);
  g_test_add_func ("/sound/play-again-while-starting", test_play_again_while_starting);
  g_test_add_func ("/sound/drop-at-any-point", test_drop_at_any_point);
  g_test_add_func ("/sound/gio-log-seen", test_gio_log_seen);
  return g_test_run ();
}
