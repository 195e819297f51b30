/* test-start.c — what `natter` loads to start (issue #17)
 *
 * The natter binary on a signed-in profile (natter-cli generate-profile)
 * whose server is not there, as the app benchmark starts it: it shows the
 * conversation list and the offline banner's spinner, and with
 * NATTER_APP_BENCH=1 prints its figures 5 s after the map and quits
 * (src/app/natter-bench-probe.h).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "natter-test-server.h"

/* natter on a generated profile of @conversations, offline, as the
 * benchmark starts it: the probe's figures. */
static JsonObject *
start_figures_env (guint        conversations,
                   const char  *extra_env)
{
  g_autofree char *dir = g_dir_make_tmp ("natter-start-XXXXXX", NULL);
  g_autofree char *profile = g_build_filename (dir, "me", NULL);
  g_autofree char *ini = g_build_filename (profile, "account.ini", NULL);
  g_autofree char *token = g_build_filename (profile, "token", NULL);
  g_autofree char *n = g_strdup_printf ("%u", conversations);
  const char *generate[] = { natter_test_program ("NATTER_CLI"), "generate-profile", profile,
                             "--messages", "200", "--conversations", n, "--owner", "me", NULL };
  const char *natter[] = { natter_test_program ("NATTER_APP"), "--profile", profile, NULL };
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GSubprocess) app = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_auto(GStrv) lines = NULL;
  const char *line = NULL;

  g_assert_nonnull (dir);
  g_assert_true (g_spawn_sync (NULL, (char **) generate, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                               NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (ini, "[account]\nserver-url=http://127.0.0.1:9\napp-key=k\nuser-id=me\n", -1, NULL));
  g_assert_true (g_file_set_contents_full (token, "t", -1, G_FILE_SET_CONTENTS_NONE, 0600, NULL));

  g_subprocess_launcher_setenv (launcher, "NATTER_APP_BENCH", "1", TRUE);
  /* as the app suite and the benchmark run it */
  g_subprocess_launcher_setenv (launcher, "GSK_RENDERER", "cairo", TRUE);
  g_subprocess_launcher_unsetenv (launcher, "NATTER_APP_BENCH_OPEN");
  g_subprocess_launcher_unsetenv (launcher, "GDK_DEBUG");
  if (extra_env != NULL)
    g_subprocess_launcher_setenv (launcher, extra_env, "1", TRUE);
  app = g_subprocess_launcher_spawnv (launcher, natter, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (app, NULL, NULL, &out, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_successful (app));
  natter_test_remove_tree (dir);

  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i] != NULL && line == NULL; i++)
    if (lines[i][0] == '{')
      line = lines[i];
  g_assert_nonnull (line);
  g_assert_true (json_parser_load_from_data (parser, line, -1, &error));
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static JsonObject *
start_figures (guint conversations)
{
  return start_figures_env (conversations, NULL);
}

/* Started on 20 conversations, the probe's @member (what it found
 * mapped 5 s after the map) is FALSE. */
static void
assert_not_mapped (const char *member)
{
  g_autoptr(JsonObject) figures = start_figures (20);

  /* it did start: the stored list was on screen */
  g_assert_cmpint (json_object_get_int_member (figures, "conversations"), ==, 20);
  g_assert_true (json_object_has_member (figures, member));
  g_assert_false (json_object_get_boolean_member (figures, member));
}

/* A long list comes on screen with the rows the window's height shows
 * first (GTK 4.8's list view would make ~150 rows in that frame), two
 * screenfuls a frame or two later, and the rest only as it is scrolled
 * (tests/app/test-ui-window.c). */
static void
test_first_screen (void)
{
  g_autoptr(JsonObject) figures = start_figures (80);

  g_assert_cmpint (json_object_get_int_member (figures, "conversations"), ==, 80);
  g_assert_cmpint (json_object_get_int_member (figures, "listFrameShown"), >, 0);
  /* the probe's list frame is the first that draws the list (its first
   * page of 64 loaded): the window's default 720 px hold at most 12 rows
   * of 62 px (#17: it was 24, for the tallest window) */
  g_assert_cmpint (json_object_get_int_member (figures, "listFrameShown"), <=, 12);
  g_assert_cmpint (json_object_get_int_member (figures, "shownAtEnd"), >=, 2 * 24);
  g_assert_cmpint (json_object_get_int_member (figures, "shownAtEnd"), <, 80);
}

/* A restored account's window is on screen before it makes the pages it
 * does not show: the sign-in page (made when first shown) and the chat
 * view (after the list's frame, or when a chat opens) (#17). */
static void
test_pages_made_later (void)
{
  g_autoptr(JsonObject) figures = start_figures (20);

  g_assert_cmpint (json_object_get_int_member (figures, "conversations"), ==, 20);
  g_assert_true (json_object_has_member (figures, "signInPageAtMap"));
  g_assert_false (json_object_get_boolean_member (figures, "signInPageAtMap"));
  g_assert_false (json_object_get_boolean_member (figures, "chatViewAtMap"));
}

/* No SVG is drawn at start: the icons on screen (the status icons, the
 * empty chat's logo, the window icon, the spinner) are PNGs in the app's
 * GResource, so librsvg (~6.5 MiB of RSS) is not loaded. */
static void
test_no_svg_at_start (void)
{
  g_autoptr(JsonObject) figures = start_figures (20);

  /* it did start: the stored list was on screen */
  g_assert_cmpint (json_object_get_int_member (figures, "conversations"), ==, 20);
  g_assert_false (json_object_get_boolean_member (figures, "librsvgMapped"));
}

/* With the cairo renderer no GL driver is loaded: GDK 4.8 loads one when
 * it opens an X11 display, whichever renderer draws (Mesa's llvmpipe and
 * LLVM: 57 MiB of RSS, a quarter of the CPU time to the first frame). */
static void
test_no_gl_with_cairo (void)
{
  assert_not_mapped ("glDriverMapped");
}

/* The calls' machinery (GStreamer's plugins, the DTLS key, the encoder
 * probe: ~20 MiB and CPU time on the other core while the list loads)
 * comes with the first call, not at start. */
static void
test_no_call_media_at_start (void)
{
  assert_not_mapped ("callMediaMapped");
}

/* libnice is not linked into the app: it comes with a call's ICE agent.
 * Linked, it and what it links (GnuTLS and p11-kit, GUPnP, libxml2, ICU)
 * were loaded and initialised at every start: ~5 MiB of RSS and 13
 * libraries for the dynamic linker. */
static void
test_no_ice_stack_at_start (void)
{
  assert_not_mapped ("iceStackMapped");
}

/* libnatter-call, the call window and the sounds are in the call module
 * (libnatter-calls.so), loaded when first needed, after the first frame:
 * at the map neither it nor the GStreamer libraries that only it links
 * (webrtc, SDP, RTP, app) are loaded. Linked into natter they were, and
 * relocated before the window could map. */
static void
test_no_call_module_at_map (void)
{
  assert_not_mapped ("callModuleAtMap");
}

/* GL is disabled for GDK only: a process the app spawns (a sound player,
 * a portal helper, the app a file opens with) does not inherit
 * GDK_DEBUG=gl-disable, which would take GL from it too. */
static void
test_no_gl_for_children (void)
{
  g_autoptr(JsonObject) figures = start_figures_env (20, "NATTER_APP_BENCH_CHILD_ENV");

  /* the app did run without GL, and its child did run */
  g_assert_false (json_object_get_boolean_member (figures, "glDriverMapped"));
  g_assert_true (json_object_get_boolean_member (figures, "childEnvRead"));
  g_assert_true (json_object_get_boolean_member (figures, "childSawBench"));
  g_assert_cmpstr (json_object_get_string_member (figures, "childGdkDebug"), ==, "");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/start/no-svg", test_no_svg_at_start);
  g_test_add_func ("/start/first-screen", test_first_screen);
  g_test_add_func ("/start/pages-made-later", test_pages_made_later);
  g_test_add_func ("/start/no-gl-with-cairo", test_no_gl_with_cairo);
  g_test_add_func ("/start/no-call-media", test_no_call_media_at_start);
  g_test_add_func ("/start/no-ice-stack", test_no_ice_stack_at_start);
  g_test_add_func ("/start/no-call-module-at-map", test_no_call_module_at_map);
  g_test_add_func ("/start/no-gl-for-children", test_no_gl_for_children);
  return g_test_run ();
}
