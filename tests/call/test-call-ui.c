/* test-call-ui.c — the call window over two real in-process calls
 *
 * Remote video reaches the window's GdkPaintable, the buttons drive the
 * call, the incoming layout answers, and the window closes itself after the
 * call ended. Saves call-window.png (build dir) for a look. Needs a display:
 * build-aux/dev test runs the suites under xvfb-run.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <adwaita.h>
#include <string.h>

#include "natter-call-window.h"
#include "natter-test-call-pair.h"
#include "natter-video-paintable.h"
#include "natter-test-stack.h"
#include "natter-test-stall.h"
#include "natter-test-wait.h"

static NatterCallWindow *remote_window;

static gboolean
remote_frames_shown (Pair *pair)
{
  return natter_call_window_get_remote_frames (remote_window) >= 15;
}

static gboolean
bob_incoming (Pair *pair)
{
  return state_of (pair->bob) == NATTER_CALL_STATE_INCOMING;
}

static gboolean
both_active (Pair *pair)
{
  return state_of (pair->alice) == NATTER_CALL_STATE_ACTIVE &&
         state_of (pair->bob) == NATTER_CALL_STATE_ACTIVE;
}

static gboolean
alice_ringing (Pair *pair)
{
  return state_of (pair->alice) == NATTER_CALL_STATE_RINGING;
}

static gboolean
both_ended (Pair *pair)
{
  return state_of (pair->alice) == NATTER_CALL_STATE_ENDED &&
         state_of (pair->bob) == NATTER_CALL_STATE_ENDED;
}

static gboolean window_gone;

static gboolean
window_closed (Pair *pair)
{
  return window_gone;
}

static void
on_window_destroyed (GtkWidget *widget,
                     gpointer   user_data)
{
  window_gone = TRUE;
}

/* The widget of the call window whose name (the template's "name") is @name. */
static GtkWidget *
find_named (GtkWidget  *root,
            const char *name)
{
  if (g_strcmp0 (gtk_widget_get_name (root), name) == 0)
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_named (child, name);
      if (found != NULL)
        return found;
    }
  return NULL;
}

static void
save_screenshot (GtkWidget  *widget,
                 const char *name)
{
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autofree char *path = g_build_filename (g_getenv ("G_TEST_BUILDDIR") != NULL
                                              ? g_getenv ("G_TEST_BUILDDIR") : ".",
                                            name, NULL);
  int width = 0, height = 0;
  /* generous: under ASan on a loaded box the first frame takes seconds */
  gint64 until = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  /* Laid out and drawn: the paintable renders what the widget last drew,
   * nothing before its first frame. */
  while (node == NULL && g_get_monotonic_time () < until)
    {
      g_autoptr(GtkSnapshot) snapshot = gtk_snapshot_new ();
      gint64 turn = g_get_monotonic_time () + 100 * 1000;

      gtk_widget_queue_draw (widget);
      while (g_get_monotonic_time () < turn)
        g_main_context_iteration (NULL, FALSE);
      if (!gtk_widget_get_mapped (widget) || gtk_widget_get_width (widget) == 0)
        continue;
      width = gtk_widget_get_width (widget);
      height = gtk_widget_get_height (widget);
      gdk_paintable_snapshot (paintable, snapshot, width, height);
      node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
    }
  g_assert_cmpint (width, >, 0);
  g_assert_nonnull (node);
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (gtk_widget_get_native (widget)),
                                         node, &GRAPHENE_RECT_INIT (0, 0, width, height));
  g_assert_true (gdk_texture_save_to_png (texture, path));
  g_test_message ("screenshot: %s", path);
}

/* @paintable drawn at @width × @height as BGRA bytes (stride width * 4). */
static guchar *
render (GtkWidget    *widget,
        GdkPaintable *paintable,
        int           width,
        int           height)
{
  g_autoptr(GtkSnapshot) snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  guchar *pixels = g_malloc ((gsize) width * height * 4);

  gdk_paintable_snapshot (paintable, snapshot, width, height);
  node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  g_assert_nonnull (node);
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (gtk_widget_get_native (widget)),
                                         node, &GRAPHENE_RECT_INIT (0, 0, width, height));
  gdk_texture_download (texture, pixels, (gsize) width * 4);
  return pixels;
}

/* The self-view is drawn as in a mirror: each row reversed, the remote
 * video not. Both renderings in one main-loop turn: the same frame. */
static void
check_mirrored (GtkWidget            *widget,
                NatterVideoPaintable *local)
{
  const int width = 64, height = 48;
  g_autofree guchar *mirrored = render (widget, GDK_PAINTABLE (local), width, height);
  g_autofree guchar *plain = NULL;
  guint differences = 0;

  natter_video_paintable_set_mirrored (local, FALSE);
  plain = render (widget, GDK_PAINTABLE (local), width, height);
  natter_video_paintable_set_mirrored (local, TRUE);

  for (int y = 0; y < height; y += 4)
    for (int x = 0; x < width; x += 4)
      for (int c = 0; c < 3; c++)
        {
          int a = mirrored[(y * width + x) * 4 + c];
          int b = plain[(y * width + (width - 1 - x)) * 4 + c];
          if (ABS (a - b) > 24)
            differences++;
        }
  g_assert_cmpuint (differences, ==, 0);
  /* ... and not symmetric by chance: the picture itself differs. */
  g_assert_cmpint (memcmp (mirrored, plain, (gsize) width * height * 4), !=, 0);
}

static void
test_video_window (Pair          *pair,
                   gconstpointer  data)
{
  NatterCall *call;
  NatterCallWindow *window;
  GtkLabel *status;
  GtkStack *stage;
  GtkWidget *local_picture;

  pair->bob->auto_accept = TRUE;
  call = dial (pair, NATTER_CALL_MEDIA_VIDEO, "ui-video-1");
  window = natter_call_window_new (call, "Bob");
  remote_window = window;
  window_gone = FALSE;
  g_signal_connect (window, "destroy", G_CALLBACK (on_window_destroyed), NULL);
  gtk_window_present (GTK_WINDOW (window));

  g_assert_true (wait_for (pair, remote_frames_shown, 20));
  stage = GTK_STACK (find_named (GTK_WIDGET (window), "stage"));
  g_assert_cmpstr (gtk_stack_get_visible_child_name (stage), ==, "video");
  status = GTK_LABEL (find_named (GTK_WIDGET (window), "status"));
  /* The timer of an active call: "00:0N". */
  g_assert_true (g_str_has_prefix (gtk_label_get_label (status), "00:"));
  local_picture = find_named (GTK_WIDGET (window), "local");
  g_assert_true (gtk_widget_get_visible (local_picture));
  /* The preview keeps its small size, whatever the camera gives. */
  g_assert_cmpuint (natter_video_paintable_get_frames (NATTER_VIDEO_PAINTABLE (gtk_picture_get_paintable (GTK_PICTURE (local_picture)))),
                    >, 0);
  save_screenshot (adw_window_get_content (ADW_WINDOW (window)), "call-window.png");
  check_mirrored (GTK_WIDGET (window), NATTER_VIDEO_PAINTABLE (gtk_picture_get_paintable (GTK_PICTURE (local_picture))));
  g_assert_cmpint (gtk_widget_get_width (local_picture), >=, 160);
  g_assert_cmpint (gtk_widget_get_width (local_picture), <=, 200);

  /* Mute from the window: the call is muted, the button says how to undo it. */
  {
    GtkWidget *mute = find_named (GTK_WIDGET (window), "mute");

    gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (mute), TRUE);
    g_assert_true (natter_call_get_muted (call));
    g_assert_cmpstr (gtk_widget_get_tooltip_text (mute), ==, "Unmute Microphone");
    gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (mute), FALSE);
    g_assert_false (natter_call_get_muted (call));
  }

  /* Camera off from the window: no preview, the call goes on. */
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (find_named (GTK_WIDGET (window), "camera")), TRUE);
  g_assert_false (natter_call_get_camera_enabled (call));
  g_assert_false (gtk_widget_get_visible (local_picture));
  g_assert_cmpint (natter_call_get_state (call), ==, NATTER_CALL_STATE_ACTIVE);

  gtk_widget_activate_action (GTK_WIDGET (window), "call.hangup", NULL);
  g_assert_cmpint (natter_call_get_state (call), ==, NATTER_CALL_STATE_ENDED);
  g_assert_cmpint (natter_call_get_reason (call), ==, NATTER_CALL_REASON_HANGUP);
  g_assert_cmpstr (gtk_label_get_label (status), ==, "Call ended");

  /* It closes itself a moment later. */
  g_assert_true (wait_for (pair, window_closed, 5));
}

static GtkLabel *missing_label;

static gboolean
missing_shown (Pair *pair)
{
  return gtk_widget_get_visible (GTK_WIDGET (missing_label)) &&
         g_strcmp0 (gtk_label_get_label (missing_label), "No microphone found\nNo camera found") == 0;
}

/* The microphone and camera fail (as unplugged ones do) once the call
 * runs: the window says which devices are missing, the call goes on, and
 * nothing speaks of the network. */
static void
test_missing_devices_window (Pair          *pair,
                             gconstpointer  data)
{
  NatterCall *call;
  NatterCallWindow *window;
  GtkLabel *status;

  g_setenv ("NATTER_CALL_TEST_MICROPHONE_FAILS_AFTER", "50", TRUE);
  g_setenv ("NATTER_CALL_TEST_CAMERA_FAILS_AFTER", "30", TRUE);
  pair->bob->auto_accept = TRUE;
  call = dial (pair, NATTER_CALL_MEDIA_VIDEO, "ui-missing-1");
  window = natter_call_window_new (call, "Bob");
  remote_window = window;
  window_gone = FALSE;
  g_signal_connect (window, "destroy", G_CALLBACK (on_window_destroyed), NULL);
  gtk_window_present (GTK_WINDOW (window));
  missing_label = GTK_LABEL (find_named (GTK_WIDGET (window), "missing-devices"));
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (missing_label)));

  g_assert_true (wait_for (pair, both_active, 20));
  g_assert_true (wait_for (pair, missing_shown, 20));
  g_unsetenv ("NATTER_CALL_TEST_MICROPHONE_FAILS_AFTER");
  g_unsetenv ("NATTER_CALL_TEST_CAMERA_FAILS_AFTER");
  g_assert_true (wait_for (pair, remote_frames_shown, 20));
  g_assert_true (both_active (pair));
  status = GTK_LABEL (find_named (GTK_WIDGET (window), "status"));
  g_assert_true (g_str_has_prefix (gtk_label_get_label (status), "00:"));

  gtk_widget_activate_action (GTK_WIDGET (window), "call.hangup", NULL);
  g_assert_cmpint (natter_call_get_reason (call), ==, NATTER_CALL_REASON_HANGUP);
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (missing_label)));
  g_assert_true (wait_for (pair, window_closed, 5));
}

/* Whether the device menu has an item labelled @label (sections inside). */
static gboolean
menu_has_label (GMenuModel *menu,
                const char *label)
{
  for (int i = 0; i < g_menu_model_get_n_items (menu); i++)
    {
      g_autofree char *text = NULL;
      g_autoptr(GMenuModel) section = g_menu_model_get_item_link (menu, i, G_MENU_LINK_SECTION);

      if (g_menu_model_get_item_attribute (menu, i, G_MENU_ATTRIBUTE_LABEL, "s", &text) &&
          g_strcmp0 (text, label) == 0)
        return TRUE;
      if (section != NULL && menu_has_label (section, label))
        return TRUE;
    }
  return FALSE;
}

static GMenuModel *devices_menu;

static gboolean
menu_lists_devices (Pair *pair)
{
  return menu_has_label (devices_menu, "No camera found");
}

static gboolean
camera_in_menu (Pair *pair)
{
  return menu_has_label (devices_menu, "Test Camera") && !menu_has_label (devices_menu, "No camera found");
}

static gboolean
camera_no_longer_missing (Pair *pair)
{
  return g_strcmp0 (gtk_label_get_label (missing_label), "No microphone found\nNo speaker found") == 0;
}

/* A video call from a machine without devices (the real path): the window
 * says what is missing and its device menu says "No camera found"; a
 * camera plugged in appears in the open menu, and choosing it there puts
 * it in the call. */
static void
test_devices_menu_window (Pair          *pair,
                          gconstpointer  data)
{
  NatterCall *call;
  NatterCallWindow *window;
  GtkMenuButton *devices;

  g_unsetenv ("NATTER_CALL_TEST_SOURCES");
  pair->bob->auto_accept = TRUE;
  call = dial (pair, NATTER_CALL_MEDIA_VIDEO, "ui-plug-1");
  g_setenv ("NATTER_CALL_TEST_SOURCES", "1", TRUE);
  window = natter_call_window_new (call, "Bob");
  remote_window = window;
  window_gone = FALSE;
  g_signal_connect (window, "destroy", G_CALLBACK (on_window_destroyed), NULL);
  gtk_window_present (GTK_WINDOW (window));
  missing_label = GTK_LABEL (find_named (GTK_WIDGET (window), "missing-devices"));
  g_assert_true (wait_for (pair, both_active, 20));
  g_assert_true (wait_for (pair, remote_frames_shown, 20));
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (missing_label)));
  g_assert_cmpstr (gtk_label_get_label (missing_label), ==,
                   "No microphone found\nNo camera found\nNo speaker found");

  devices = GTK_MENU_BUTTON (find_named (GTK_WIDGET (window), "devices"));
  gtk_menu_button_popup (devices);
  devices_menu = gtk_menu_button_get_menu_model (devices);
  g_assert_nonnull (devices_menu);
  g_assert_true (wait_for (pair, menu_lists_devices, 10));

  pair_plug_in ("Video/Source", "Test Camera", "videotestsrc is-live=true pattern=ball");
  g_assert_true (wait_for (pair, camera_in_menu, 10));
  gtk_widget_activate_action (GTK_WIDGET (window), "call.camera", "s", "Test Camera");
  g_assert_cmpstr (natter_call_get_device (call, NATTER_CALL_DEVICE_CAMERA), ==, "Test Camera");
  g_assert_true (wait_for (pair, camera_no_longer_missing, 5));
  gtk_menu_button_popdown (devices);
  g_assert_cmpint (natter_call_get_state (call), ==, NATTER_CALL_STATE_ACTIVE);

  gtk_widget_activate_action (GTK_WIDGET (window), "call.hangup", NULL);
  g_assert_true (wait_for (pair, window_closed, 5));
}

/* ASan's slowness stalls the loop too: the delay grows with it, so that
 * half of it still tells a probe on the main thread from the rest */
#define PROBE_DELAY_MS (3000 * NATTER_TEST_WAIT_SCALE)

static void
set_delay (const char *variable)
{
  g_autofree char *value = g_strdup_printf ("%d", PROBE_DELAY_MS);

  g_setenv (variable, value, TRUE);
}

/* The device menu opened before the process's device monitor has started
 * (a call with test sources does not start it), while its providers' probe
 * takes 3 s (a hung sound server): the menu says it is looking and fills
 * itself once the probe is over; the main loop never stalls for half of
 * it (before, the menu probed on the main thread). First of the tests: the
 * monitor starts once per process. */
static void
test_devices_menu_before_monitor (Pair          *pair,
                                  gconstpointer  data)
{
  NatterCall *call;
  NatterCallWindow *window;
  GtkMenuButton *devices;
  NatterTestStall stall;
  gint64 longest;

  set_delay ("NATTER_CALL_TEST_DEVICE_PROBE_DELAY_MS");
  pair->bob->auto_accept = TRUE;
  call = dial (pair, NATTER_CALL_MEDIA_VIDEO, "ui-menu-early-1");
  window = natter_call_window_new (call, "Bob");
  window_gone = FALSE;
  g_signal_connect (window, "destroy", G_CALLBACK (on_window_destroyed), NULL);
  gtk_window_present (GTK_WINDOW (window));
  g_assert_true (wait_for (pair, both_active, 20));

  devices = GTK_MENU_BUTTON (find_named (GTK_WIDGET (window), "devices"));
  natter_test_stall_start (&stall);
  gtk_menu_button_popup (devices);
  devices_menu = gtk_menu_button_get_menu_model (devices);
  g_assert_nonnull (devices_menu);
  g_assert_true (menu_has_label (devices_menu, "Looking for devices…"));
  g_assert_true (wait_for (pair, menu_lists_devices, 20));
  longest = natter_test_stall_stop (&stall);
  g_test_message ("longest main-loop stall while the menu filled: %" G_GINT64_FORMAT " ms", longest / 1000);
  g_assert_cmpint (longest, <, PROBE_DELAY_MS / 2 * 1000);
  g_assert_false (menu_has_label (devices_menu, "Looking for devices…"));
  gtk_menu_button_popdown (devices);
  g_unsetenv ("NATTER_CALL_TEST_DEVICE_PROBE_DELAY_MS");

  gtk_widget_activate_action (GTK_WIDGET (window), "call.hangup", NULL);
  g_assert_true (wait_for (pair, window_closed, 5));
}

static void
test_incoming_window (Pair          *pair,
                      gconstpointer  data)
{
  NatterCallWindow *window;
  GtkWidget *accept;

  dial (pair, NATTER_CALL_MEDIA_AUDIO, "ui-audio-1");
  g_assert_true (wait_for (pair, bob_incoming, 10));

  window = natter_call_window_new (pair->bob->call, "Alice");
  window_gone = FALSE;
  g_signal_connect (window, "destroy", G_CALLBACK (on_window_destroyed), NULL);
  gtk_window_present (GTK_WINDOW (window));

  /* A voice call: the avatar, an Answer button. */
  g_assert_cmpstr (gtk_stack_get_visible_child_name (GTK_STACK (find_named (GTK_WIDGET (window), "stage"))),
                   ==, "avatar");
  accept = find_named (GTK_WIDGET (window), "accept");
  g_assert_true (gtk_widget_get_visible (accept));
  save_screenshot (adw_window_get_content (ADW_WINDOW (window)), "call-window-incoming.png");
  gtk_widget_activate_action (GTK_WIDGET (window), "call.accept", NULL);
  g_assert_true (wait_for (pair, both_active, 10));
  g_assert_false (gtk_widget_get_visible (accept));

  /* Closing the window hangs up, for alice too. */
  gtk_window_close (GTK_WINDOW (window));
  g_assert_true (window_gone);
  g_assert_cmpint (state_of (pair->bob), ==, NATTER_CALL_STATE_ENDED);
  g_assert_cmpint (natter_call_get_reason (pair->bob->call), ==, NATTER_CALL_REASON_HANGUP);
  g_assert_true (wait_for (pair, both_ended, 10));
  g_assert_cmpint (natter_call_get_reason (pair->alice->call), ==, NATTER_CALL_REASON_REMOTE_HANGUP);
}

static void
test_outgoing_window (Pair          *pair,
                      gconstpointer  data)
{
  NatterCall *call;
  NatterCallWindow *window;
  GtkWidget *header;
  GtkLabel *status;

  call = dial (pair, NATTER_CALL_MEDIA_VIDEO, "ui-outgoing-1");
  window = natter_call_window_new (call, "Bob");
  window_gone = FALSE;
  g_signal_connect (window, "destroy", G_CALLBACK (on_window_destroyed), NULL);
  gtk_window_present (GTK_WINDOW (window));

  /* The window can be moved and closed like any other: a header bar with
   * the window buttons, titled with whom the call is. */
  header = find_named (GTK_WIDGET (window), "header");
  g_assert_true (ADW_IS_HEADER_BAR (header));
  g_assert_true (gtk_widget_get_visible (header));
  g_assert_true (adw_header_bar_get_show_end_title_buttons (ADW_HEADER_BAR (header)));
  g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (window)), ==, "Video call with Bob");

  /* Calling, then ringing at bob's: the avatar (no video yet), no Answer. */
  status = GTK_LABEL (find_named (GTK_WIDGET (window), "status"));
  g_assert_true (wait_for (pair, alice_ringing, 10));
  g_assert_cmpstr (gtk_label_get_label (status), ==, "Ringing…");
  g_assert_cmpstr (gtk_stack_get_visible_child_name (GTK_STACK (find_named (GTK_WIDGET (window), "stage"))),
                   ==, "avatar");
  g_assert_false (gtk_widget_get_visible (find_named (GTK_WIDGET (window), "accept")));
  save_screenshot (adw_window_get_content (ADW_WINDOW (window)), "call-window-outgoing.png");

  /* Closing the window while it rings cancels the call, for bob too. */
  gtk_window_close (GTK_WINDOW (window));
  g_assert_true (window_gone);
  g_assert_true (wait_for (pair, both_ended, 10));
  g_assert_cmpint (natter_call_get_reason (call), ==, NATTER_CALL_REASON_CANCEL);
  g_assert_cmpint (natter_call_get_reason (pair->bob->call), ==, NATTER_CALL_REASON_REMOTE_CANCEL);
  g_assert_cmpint (json_object_get_int_member (pair->alice->summary, "status"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (pair->bob->summary, "status"), ==, 11);
}

int
main (int   argc,
      char *argv[])
{
  natter_test_stack_init ();
  g_test_init (&argc, &argv, NULL);
  gst_init (&argc, &argv);
  pair_use_test_devices_only ();

  if (!gtk_init_check ())
    {
      g_test_skip ("No display: run under xvfb-run (build-aux/dev test does)");
      return g_test_run ();
    }
  adw_init ();

  g_test_add ("/call/ui/devices-menu-before-monitor", Pair, NULL, pair_setup, test_devices_menu_before_monitor,
              pair_teardown);
  g_test_add ("/call/ui/video-window", Pair, NULL, pair_setup, test_video_window, pair_teardown);
  g_test_add ("/call/ui/missing-devices-window", Pair, NULL, pair_setup, test_missing_devices_window,
              pair_teardown);
  g_test_add ("/call/ui/devices-menu-window", Pair, NULL, pair_setup, test_devices_menu_window,
              pair_teardown);
  g_test_add ("/call/ui/incoming-window", Pair, NULL, pair_setup, test_incoming_window, pair_teardown);
  g_test_add ("/call/ui/outgoing-window", Pair, NULL, pair_setup, test_outgoing_window, pair_teardown);

  return g_test_run ();
}
