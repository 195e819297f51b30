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

/* The message sound plays to its end once, from resource:// */
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

static gboolean
stopped (NatterSound *sound)
{
  return !natter_sound_get_playing (sound);
}

/* The GIO source's log is seen (natter-test-gio-log.c): a resource that is not
 * there is an error it logs (the sound stops, with a note). */
static void
test_gio_log_seen (void)
{
  g_autoptr(NatterSound) sound = natter_sound_new ("resource:///im/natter/Natter/sounds/none.oga",
                                                   "fakesink sync=false");

  natter_sound_play (sound, FALSE);
  g_assert_true (wait_until (stopped, sound));
  g_assert_cmpuint (natter_test_gio_log_count (), >, 0);
  natter_test_gio_log_forget ();
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  gst_init (&argc, &argv);
  natter_test_gio_log_watch ();

  g_test_add_func ("/sound/bundled", test_bundled);
  g_test_add_func ("/sound/message-plays-once", test_message_plays_once);
  g_test_add_func ("/sound/ringtone-loops", test_ringtone_loops);
  g_test_add_func ("/sound/play-again-while-starting", test_play_again_while_starting);
  g_test_add_func ("/sound/drop-at-any-point", test_drop_at_any_point);
  g_test_add_func ("/sound/gio-log-seen", test_gio_log_seen);
  return g_test_run ();
}
