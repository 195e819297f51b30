/* test-ui-portals.c — Natter inside Flatpak, through its portals
 *
 * NATTER_TEST_PORTALS=1 makes the app behave as in a sandbox; the test
 * process stands in for xdg-desktop-portal on the private session bus
 * (natter-test-portal.c). The calls go to bob's natter-cli (test sources);
 * alice's app uses its devices (none here), so her camera is the
 * portal's or none.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/stat.h>

#include "natter-call-devices.h"
#include "natter-call-window.h"
#include "natter-test-portal.h"
#include "natter-test-ui.h"

typedef struct {
  NatterTestUi      ui;
  NatterTestPortal *portal;
} Fixture;

static void
setup (Fixture       *f,
       gconstpointer  data)
{
  f->portal = natter_test_portal_new ();
  g_setenv ("NATTER_TEST_PORTALS", "1", TRUE);
  natter_test_ui_setup_signed_in (&f->ui, data);
}

static void
teardown (Fixture       *f,
          gconstpointer  data)
{
  natter_test_ui_teardown (&f->ui, data);
  g_unsetenv ("NATTER_TEST_PORTALS");
  g_setenv ("NATTER_CALL_TEST_SOURCES", "1", TRUE);
  natter_test_portal_free (f->portal);
}

/* ------------------------------------------------------------------ calls */

static gboolean
call_window_says (gpointer text)
{
  GtkWidget *window = natter_test_ui_call_window ();

  return window != NULL && natter_test_ui_find_label (window, text) != NULL;
}

static gboolean
frames_from_bob_or_ended (gpointer call)
{
  /* a second of bob's video: ICE and DTLS are up both ways */
  return natter_call_get_video_frames_received (call) >= 30 ||
         natter_call_get_state (call) == NATTER_CALL_STATE_ENDED;
}

/* alice video-calls bob, whose natter-cli answers (test sources); alice's
 * app has no test sources, so its camera comes from the portal. The call
 * window must say @camera_line; once bob's video flows to alice, she hangs
 * up (not on a timer: on a busy machine ICE alone can take seconds), and
 * bob must have received her media: black frames and silence at least. */
static void
video_call_bob (Fixture    *f,
                const char *camera_line)
{
  g_auto(NatterTestCliRun) run = { FALSE, NULL };
  g_autoptr(JsonObject) result = NULL;
  g_autoptr(NatterCall) call = NULL;

  natter_test_ui_cli_start (&f->ui, &run, "bob", "answer", "--auto", NULL);
  natter_test_ui_wait_user_online (f->ui.server, "bob", TRUE);

  /* alice's media without test sources: the portal's camera, or none */
  g_unsetenv ("NATTER_CALL_TEST_SOURCES");
  natter_window_start_call (f->ui.window, "bob", "Bob", TRUE);
  natter_test_ui_wait_until (natter_test_ui_call_window_shown, NULL, "the call window");
  natter_test_ui_wait_until (call_window_says, (gpointer) camera_line, camera_line);
  /* several accounts: the call window names the one in the call */
  if (natter_application_get_n_accounts (natter_test_ui_app ()) > 1)
    g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (natter_test_ui_call_window ())), ==, "alice — Video call with Bob");
  else
    g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (natter_test_ui_call_window ())), ==, "Video call with Bob");

  /* ours: a call that ends closes its window, which frees it (ASan saw
   * the wait read a freed call when a slow call ended first) */
  call = g_object_ref (natter_call_window_get_call (NATTER_CALL_WINDOW (natter_test_ui_call_window ())));
  natter_test_ui_wait_until (frames_from_bob_or_ended, call, "bob's video");
  g_assert_cmpint (natter_call_get_state (call), !=, NATTER_CALL_STATE_ENDED);
  natter_call_hangup (call);
  result = natter_test_cli_run_wait_result (&run, "bob's natter-cli to end the call");
  g_assert_cmpint (json_object_get_int_member (result, "mediaType"), ==, 2);
  g_assert_cmpint (json_object_get_int_member (result, "videoFramesReceived"), >, 0);
  g_assert_cmpint (json_object_get_int_member (result, "audioBuffersReceived"), >, 0);
}

/* The user said no: the portal is not asked for a remote, the call
 * connects without a camera and says why. */
static void
test_camera_denied (Fixture       *f,
                    gconstpointer  data)
{
  natter_test_portal_set_camera (f->portal, TRUE, 2);
  video_call_bob (f, "Camera access denied");
  g_assert_cmpstr (natter_test_portal_get_log (f->portal), ==, "IsCameraPresent AccessCamera");
  g_assert_cmpint (natter_call_devices_get_camera_remote (), ==, -1);
}

/* No camera: the user is not even asked. (carol is signed in too: the
 * call window names alice's account.) */
static void
test_camera_absent (Fixture       *f,
                    gconstpointer  data)
{
  g_autofree char *carol_profile = g_build_filename (f->ui.dir, "carol", NULL);
  NatterWindow *carol;

  natter_test_ui_write_profile (&f->ui, "carol", carol_profile);
  carol = NATTER_WINDOW (natter_application_load_profile (natter_test_ui_app (), carol_profile));
  natter_test_ui_wait_connected (carol);
  natter_test_portal_set_camera (f->portal, FALSE, 0);
  video_call_bob (f, "No camera found");
  g_assert_cmpstr (natter_test_portal_get_log (f->portal), ==, "IsCameraPresent");
  g_assert_cmpint (natter_call_devices_get_camera_remote (), ==, -1);
}

static gboolean
same_socket (int a,
             int b)
{
  struct stat sa, sb;

  return a >= 0 && b >= 0 && fstat (a, &sa) == 0 && fstat (b, &sb) == 0 &&
         sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Granted: the camera is pipewiresrc on the remote the portal opened. Here
 * that remote is a socket whose far end is already closed (no PipeWire):
 * the call does not wait for it, it goes on with black frames at once. */
static void
test_camera_granted (Fixture       *f,
                     gconstpointer  data)
{
  natter_test_portal_set_camera (f->portal, TRUE, 0);
  video_call_bob (f, "No camera found");
  g_assert_cmpstr (natter_test_portal_get_log (f->portal), ==,
                   "IsCameraPresent AccessCamera OpenPipeWireRemote");
  g_assert_true (same_socket (natter_call_devices_get_camera_remote (), natter_test_portal_get_sent_fd (f->portal)));
  g_assert_null (natter_call_device_make_element (NATTER_CALL_DEVICE_CAMERA, NULL));
}

/* ------------------------------------------------------------ background */

static gboolean
background_denied_is (gpointer expected)
{
  return natter_application_get_background_denied (natter_test_ui_app ()) == GPOINTER_TO_INT (expected);
}

/* Asks the Background portal again, as switching Run in Background on
 * does, and waits for its answer. */
static void
request_background (Fixture  *f,
                    guint32   response)
{
  GSettings *settings = natter_application_get_settings (natter_test_ui_app ());
  guint requests = natter_test_portal_get_background_requests (f->portal);

  natter_test_portal_set_background (f->portal, response);
  g_settings_set_boolean (settings, "run-in-background", FALSE);
  g_settings_set_boolean (settings, "run-in-background", TRUE);
  natter_test_ui_wait_until (background_denied_is, GINT_TO_POINTER (response != 0),
                             response != 0 ? "the refusal" : "the permission");
  g_assert_cmpuint (natter_test_portal_get_background_requests (f->portal), ==, requests + 1);
}

static void
preferences_say (const char *text)
{
  g_action_group_activate_action (G_ACTION_GROUP (natter_test_ui_app ()), "preferences", NULL);
  natter_test_ui_wait_anywhere (text, "the preferences");
  natter_test_ui_close_windows_of_type (g_type_from_name ("NatterPreferencesWindow"));
}

static gboolean
window_gone (gpointer window_pointer)
{
  return *(GtkWidget **) window_pointer == NULL;
}

static gboolean
window_hidden_or_gone (gpointer window_pointer)
{
  return window_gone (window_pointer) || !gtk_widget_get_visible (*(GtkWidget **) window_pointer);
}

/* The Background portal's answer is read: refused, closing the window
 * closes it (nothing keeps Natter), and Preferences says why; allowed
 * again, the window only hides. */
static void
test_background_denied (Fixture       *f,
                        gconstpointer  data)
{
  GtkWidget *window = GTK_WIDGET (f->ui.window);
  GVariant *options;
  gboolean autostart = TRUE;

  request_background (f, 1);
  options = natter_test_portal_get_background_options (f->portal);
  g_assert_true (g_variant_lookup (options, "autostart", "b", &autostart));
  g_assert_false (autostart);
  preferences_say ("Not allowed by the system");

  /* allowed again: the window only hides */
  request_background (f, 0);
  preferences_say ("Closing the window keeps Natter connected");
  g_object_add_weak_pointer (G_OBJECT (window), (gpointer *) &window);
  gtk_window_close (GTK_WINDOW (window));
  natter_test_ui_wait_until (window_hidden_or_gone, &window, "the window hidden");
  /* and kept a while after (a slow box can only hide a wrong close) */
  natter_test_ui_spin (300);
  g_assert_nonnull (window);
  g_assert_false (gtk_widget_get_visible (window));
  natter_application_open_profile (natter_test_ui_app (), f->ui.profile);

  /* refused: the close button really closes (its last reference may go
   * some main loop turns later, on a slow box or under ASan) */
  request_background (f, 2);
  gtk_window_close (GTK_WINDOW (window));
  natter_test_ui_wait_until (window_gone, &window, "the window destroyed");

  request_background (f, 0);
}

int
main (int   argc,
      char *argv[])
{
  natter_test_ui_init (&argc, &argv);

  g_test_add ("/portals/camera-denied", Fixture, NULL, setup, test_camera_denied, teardown);
  g_test_add ("/portals/camera-absent", Fixture, NULL, setup, test_camera_absent, teardown);
  g_test_add ("/portals/camera-granted", Fixture, NULL, setup, test_camera_granted, teardown);

  g_test_add ("/portals/background-denied", Fixture, NULL, setup, test_background_denied, teardown);

  return natter_test_ui_run ();
}
