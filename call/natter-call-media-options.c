/* natter-call-media-options.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <stdio.h>
#include <stdlib.h>

#include "natter-call-media-options.h"

static char *
non_empty (const char *variable)
{
  const char *value = g_getenv (variable);

  return value != NULL && *value != '\0' ? g_strdup (value) : NULL;
}

static GStrv
split_addresses (const char *value)
{
  g_autoptr(GStrvBuilder) builder = NULL;
  g_auto(GStrv) list = NULL;

  if (value == NULL || *value == '\0')
    return NULL;
  builder = g_strv_builder_new ();
  list = g_strsplit (value, ",", -1);
  for (guint i = 0; list[i] != NULL; i++)
    if (*g_strstrip (list[i]) != '\0')
      g_strv_builder_add (builder, list[i]);
  return g_strv_builder_end (builder);
}

static void
parse_video_caps (NatterCallMediaOptions *options)
{
  const char *value = g_getenv ("NATTER_CALL_VIDEO_CAPS");

  options->video_width = 640;
  options->video_height = 480;
  options->video_fps = 30;
  options->video_caps_set = value != NULL;
  if (value != NULL &&
      sscanf (value, "%dx%d@%d", &options->video_width, &options->video_height,
              &options->video_fps) != 3)
    {
      g_warning ("NATTER_CALL_VIDEO_CAPS=%s is not WxH@FPS", value);
      options->video_width = 640;
      options->video_height = 480;
      options->video_fps = 30;
    }
}

/* A fault injector's number; 0 when unset. */
static int
fault (const char *variable,
       int         min,
       int         max)
{
  const char *value = g_getenv (variable);

  return value != NULL ? CLAMP (atoi (value), min, max) : 0;
}

void
natter_call_media_options_load (NatterCallMediaOptions *options)
{
  const char *test_sources = g_getenv ("NATTER_CALL_TEST_SOURCES");

  g_return_if_fail (options != NULL);

  *options = (NatterCallMediaOptions) { 0 };
  options->test_sources = test_sources != NULL && *test_sources != '\0' &&
                          g_strcmp0 (test_sources, "0") != 0;
  parse_video_caps (options);
  options->stun_server = non_empty ("NATTER_CALL_STUN");
  options->turn_server = non_empty ("NATTER_CALL_TURN");
  options->ice_addresses = split_addresses (g_getenv ("NATTER_CALL_ICE_ADDRESSES"));
  options->relay_only = g_strcmp0 (g_getenv ("NATTER_CALL_ICE_POLICY"), "relay") == 0;
  options->debug_sdp = g_getenv ("NATTER_CALL_DEBUG_SDP") != NULL;

  /* Faults only ever reach test sources, never a real device or path. */
  if (!options->test_sources)
    return;
  options->drop_percent = fault ("NATTER_CALL_TEST_DROP_PERCENT", 0, 100);
  options->recv_drop_percent = fault ("NATTER_CALL_TEST_RECV_DROP_PERCENT", 0, 100);
  options->new_sources = fault ("NATTER_CALL_TEST_NEW_SOURCES", 0, 1) == 1;
  options->camera_fails_after = fault ("NATTER_CALL_TEST_CAMERA_FAILS_AFTER", 1, G_MAXINT);
  options->microphone_fails_after = fault ("NATTER_CALL_TEST_MICROPHONE_FAILS_AFTER", 1, G_MAXINT);
}

void
natter_call_media_options_clear (NatterCallMediaOptions *options)
{
  g_return_if_fail (options != NULL);

  g_clear_pointer (&options->stun_server, g_free);
  g_clear_pointer (&options->turn_server, g_free);
  g_clear_pointer (&options->ice_addresses, g_strfreev);
}
