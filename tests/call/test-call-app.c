/* test-call-app.c — an incoming call in the app, end to end
 *
 * A real natterd; bob is a NatterClient with the app's NatterCallController
 * in a GtkApplication; alice is `natter-cli call bob --video`, named "Alice
 * Liddell" with a picture by the app server, and bob has never met her. The
 * call rings (in-app dialog and notification with her name and picture,
 * ringtone), is answered through the
 * notification's app action, shows alice's video in the call window, and
 * the window closes itself when alice hangs up; bob's summary is stored.
 * Her second call is declined with the notification's other button.
 * Needs a display and a session bus: build-aux/dev test provides both.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <adwaita.h>
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <signal.h>
#include <string.h>

#include "natter-call-media.h"
#include "natter-call-controller.h"
#include "natter-sound.h"
#include "natter-test-notifications.h"
#include "natter-test-server.h"
#include "natter-test-wait.h"
#include "natter-test-stack.h"

typedef struct
{
  NatterTestServer     *server;
  char                 *dir;
  GtkApplication       *application;
  NatterClient         *client;
  NatterCallController *controller;
  guint                 frames_wanted;
} Fixture;

/* Alice's video call lasts until the test hangs it up (SIGINT: natter-cli
 * hangs up) once bob's window showed its frames: a fixed length was a
 * bet on the box's speed (10 s were not enough under CPU starvation:
 * media started 2.7 s after the answer, then < 15 frames came). Her
 * --duration only bounds it, should the test die first. */
#define CALL_SECONDS "300"
/* Frames bob's window must show, at first and again after a camera
 * switch (video keeps flowing, however slowly the box runs). */
#define FRAMES 15

typedef gboolean (*Condition) (Fixture *fixture);

static gboolean
settings_camera_is_snow (gpointer settings)
{
  g_autofree char *camera = g_settings_get_string (settings, "camera");

  return g_strcmp0 (camera, "snow") == 0;
}

static gboolean
wait_for (Fixture   *fixture,
          Condition  condition,
          guint      seconds)
{
  return natter_test_wait ((NatterTestCondition) condition, fixture, seconds);
}

/* natter-test-notifications.c: GNOME Shell's part */
static gboolean
notification_server_ready (Fixture *fixture)
{
  return natter_test_notifications_ready ();
}

static gboolean
notified (Fixture *fixture)
{
  return natter_test_notifications_count () > 0;
}

static gboolean
notification_withdrawn (Fixture *fixture)
{
  return natter_test_notifications_n_withdrawn () > 0;
}

static gboolean
connected (Fixture *fixture)
{
  return natter_client_get_status (fixture->client) == NATTER_CONNECTION_CONNECTED;
}

static NatterCall *
current_call (Fixture *fixture)
{
  return natter_call_manager_get_current_call (natter_call_controller_get_manager (fixture->controller));
}

static gboolean
ringing (Fixture *fixture)
{
  return current_call (fixture) != NULL &&
         natter_call_get_state (current_call (fixture)) == NATTER_CALL_STATE_INCOMING;
}

static AdwMessageDialog *
find_dialog (void)
{
  GListModel *toplevels = gtk_window_get_toplevels ();  /* transfer none */

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GObject) window = g_list_model_get_item (toplevels, i);
      if (ADW_IS_MESSAGE_DIALOG (window) && gtk_widget_get_visible (GTK_WIDGET (window)))
        return ADW_MESSAGE_DIALOG (window);
    }
  return NULL;
}

static gboolean
dialog_names_caller (Fixture *fixture)
{
  AdwMessageDialog *dialog = find_dialog ();

  return dialog != NULL && g_strcmp0 (adw_message_dialog_get_heading (dialog), "Alice Liddell") == 0;
}

static gboolean
dialog_shows_picture (Fixture *fixture)
{
  AdwMessageDialog *dialog = find_dialog ();
  GtkWidget *extra = dialog != NULL ? adw_message_dialog_get_extra_child (dialog) : NULL;

  return extra != NULL && ADW_IS_AVATAR (extra) &&
         adw_avatar_get_custom_image (ADW_AVATAR (extra)) != NULL;
}

static gboolean
notification_names_caller (Fixture *fixture)
{
  GVariant *last = natter_test_notifications_lookup (NULL);
  g_autofree char *text = last != NULL ? g_variant_print (last, FALSE) : NULL;

  /* her name, and her picture as the icon (a file, not a themed icon) */
  return text != NULL && strstr (text, "Alice Liddell is calling you") != NULL &&
         strstr (text, "'file'") != NULL;
}

static void
uploaded_cb (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  *(char **) user_data = natter_client_upload_finish (NATTER_CLIENT (object), result, &error);
  g_assert_no_error (error);
}

/* alice's picture, on the server's media store; her name and picture set by
 * the app server. */
static void
name_alice (Fixture *fixture)
{
  g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 64, 64);
  g_autofree char *path = g_build_filename (fixture->dir, "alice.png", NULL);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) reply = NULL;
  char *url = NULL;

  gdk_pixbuf_fill (pixbuf, 0xe66100ff);
  gdk_pixbuf_save (pixbuf, path, "png", &error, NULL);
  g_assert_no_error (error);
  natter_client_upload_async (fixture->client, file, "image/png", NULL, NULL, NULL, uploaded_cb, &url);
  while (url == NULL)
    g_main_context_iteration (NULL, TRUE);
  reply = natter_test_server_api (fixture->server, NULL, "user/refresh", "userId", "alice",
                                  "name", "Alice Liddell", "portraitUri", url, NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_free (url);
}

static gboolean
ringtone_playing (Fixture *fixture)
{
  return natter_call_controller_get_ringing (fixture->controller);
}

static guint
remote_frames (Fixture *fixture)
{
  NatterCallWindow *window = natter_call_controller_get_window (fixture->controller);

  return window != NULL ? natter_call_window_get_remote_frames (window) : 0;
}

static gboolean
frames_shown (Fixture *fixture)
{
  return remote_frames (fixture) >= fixture->frames_wanted;
}

static gboolean
window_gone (Fixture *fixture)
{
  return natter_call_controller_get_window (fixture->controller) == NULL;
}

static gboolean
summary_stored (Fixture *fixture)
{
  return g_object_get_data (G_OBJECT (fixture->client), "summary") != NULL;
}

static void
on_message_added (NatterStore   *store,
                  NatterMessage *message,
                  Fixture       *fixture)
{
  if (g_strcmp0 (natter_message_get_object_name (message), "RC:VCSummary") == 0)
    g_object_set_data_full (G_OBJECT (fixture->client), "summary", g_object_ref (message), g_object_unref);
}

static void
test_incoming_call (void)
{
  Fixture fixture = { 0, };
  g_autoptr(GError) error = NULL;

  natter_test_stack_allow_gst_rtpsession_race ();
  g_autofree char *bob_token = NULL;
  g_autofree char *alice_token = NULL;
  g_autofree char *bob_profile = NULL;
  g_autofree char *alice_profile = NULL;
  g_autofree char *remove = NULL;
  g_autoptr(GSubprocess) alice = NULL;
  g_autoptr(GBytes) alice_out = NULL;
  g_autoptr(NatterCall) call = NULL;
  g_autoptr(GSettings) settings = NULL;
  NatterMessage *summary;
  AdwMessageDialog *dialog;

  if (!natter_test_notifications_start () || !wait_for (&fixture, notification_server_ready, 5))
    {
      g_test_skip ("No session bus: run under dbus-run-session");
      return;
    }

  fixture.application = gtk_application_new ("im.natter.Natter.CallTest", G_APPLICATION_NON_UNIQUE);
  if (!g_application_register (G_APPLICATION (fixture.application), NULL, &error))
    {
      g_test_message ("%s", error->message);
      g_test_skip ("No session bus for the application: run under dbus-run-session");
      g_object_unref (fixture.application);
      return;
    }

  fixture.dir = g_dir_make_tmp ("natter-call-app-XXXXXX", &error);
  g_assert_no_error (error);
  fixture.server = natter_test_server_new ();
  bob_token = natter_test_server_get_token (fixture.server, "bob");
  alice_token = natter_test_server_get_token (fixture.server, "alice");
  bob_profile = g_build_filename (fixture.dir, "bob", NULL);
  alice_profile = g_build_filename (fixture.dir, "alice", NULL);

  fixture.client = natter_client_new (natter_test_server_get_url (fixture.server),
                                      natter_test_server_get_app_key (fixture.server), bob_profile);
  g_signal_connect (natter_client_get_store (fixture.client), "message-added",
                    G_CALLBACK (on_message_added), &fixture);
  fixture.controller = natter_call_controller_new (fixture.application, fixture.client);
  natter_client_connect (fixture.client, bob_token);
  g_assert_true (wait_for (&fixture, connected, 20));
  name_alice (&fixture);

  /* Preferences chose a camera and a microphone (test pattern and wave
   * names stand for devices here): the call's media takes them. */
  settings = g_settings_new (APP_ID);
  g_settings_set_string (settings, "camera", "ball");
  g_settings_set_string (settings, "microphone", "pink-noise");

  /* The app loads the call machinery (plugins, DTLS key) when the invite
   * comes (#17), and the test answers at once: its media start later than a
   * prepared peer's, seconds later on a loaded box. */
  alice = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                            natter_test_program ("NATTER_CLI"),
                            "--server", natter_test_server_get_url (fixture.server),
                            "--app-key", natter_test_server_get_app_key (fixture.server),
                            "--token", alice_token, "--profile", alice_profile,
                            "call", "bob", "--video", "--duration", CALL_SECONDS, NULL);
  g_assert_no_error (error);

  /* It rings: the in-app dialog names the caller as the app server does,
   * with her picture (asked for: bob has never met her). */
  g_assert_true (wait_for (&fixture, ringing, 20));
  call = g_object_ref (current_call (&fixture));
  dialog = find_dialog ();
  g_assert_nonnull (dialog);
  g_assert_true (wait_for (&fixture, dialog_names_caller, 10));
  g_assert_true (wait_for (&fixture, dialog_shows_picture, 10));
  g_assert_null (natter_call_controller_get_window (fixture.controller));
  g_assert_true (wait_for (&fixture, notification_names_caller, 10));
  /* ... and it rings aloud (the ringtone pipeline plays; a fakesink here). */
  g_assert_true (wait_for (&fixture, ringtone_playing, 10));

  /* ... and the desktop got a notification with Decline and Answer. */
  g_assert_true (wait_for (&fixture, notified, 10));
  {
    g_autofree char *text = g_variant_print (natter_test_notifications_lookup (NULL), FALSE);

    g_test_message ("notification: %s", text);
    g_assert_nonnull (strstr (text, "Incoming video call"));
    g_assert_nonnull (strstr (text, "app.call-answer"));
    g_assert_nonnull (strstr (text, "app.call-decline"));
    g_assert_nonnull (strstr (text, natter_call_get_call_id (call)));
  }

  /* Answer from the notification's button: the app action with the call id. */
  g_action_group_activate_action (G_ACTION_GROUP (fixture.application), "call-answer",
                                  g_variant_new_string (natter_call_get_call_id (call)));
  g_assert_cmpint (natter_call_get_state (call), ==, NATTER_CALL_STATE_ACTIVE);
  g_assert_nonnull (natter_call_controller_get_window (fixture.controller));
  /* Answered: the dialog, the ringtone and the notification are gone. */
  g_assert_null (find_dialog ());
  g_assert_false (natter_call_controller_get_ringing (fixture.controller));
  g_assert_true (wait_for (&fixture, notification_withdrawn, 5));
  g_test_message ("answered");
  /* counted from the answer, not timed: however late media start */
  fixture.frames_wanted = FRAMES;
  g_assert_true (wait_for (&fixture, frames_shown, 90));
  g_test_message ("video shown");
  g_assert_cmpstr (natter_call_get_device (call, NATTER_CALL_DEVICE_CAMERA), ==, "ball");
  g_assert_cmpstr (natter_call_get_device (call, NATTER_CALL_DEVICE_MICROPHONE), ==, "pink-noise");

  /* The call window's device switch is the same choice: kept for the next
   * calls and shown in Preferences. */
  {
    GtkWidget *window = GTK_WIDGET (natter_call_controller_get_window (fixture.controller));
    g_autofree char *checked = NULL;
    g_autofree char *camera = NULL;

    /* the menu's radio items show what is in use */
    g_object_get (window, "camera", &checked, NULL);
    g_assert_cmpstr (checked, ==, "ball");
    g_clear_pointer (&checked, g_free);
    gtk_widget_activate_action (window, "call.camera", "s", "snow");
    g_assert_cmpstr (natter_call_get_device (call, NATTER_CALL_DEVICE_CAMERA), ==, "snow");
    g_object_get (window, "camera", &checked, NULL);
    g_assert_cmpstr (checked, ==, "snow");
    /* kept once the switch is done (devices open on a worker) */
    g_assert_true (natter_test_wait (settings_camera_is_snow, settings, 10));
    camera = g_settings_get_string (settings, "camera");
    g_assert_cmpstr (camera, ==, "snow");
  }
  /* ... and alice's video keeps coming in after the switch. */
  fixture.frames_wanted = remote_frames (&fixture) + FRAMES;
  g_assert_true (wait_for (&fixture, frames_shown, 90));

  /* alice hangs up; the window closes by itself. */
  g_subprocess_send_signal (alice, SIGINT);
  g_assert_true (wait_for (&fixture, window_gone, 20));
  g_assert_cmpint (natter_call_get_reason (call), ==, NATTER_CALL_REASON_REMOTE_HANGUP);
  g_assert_true (wait_for (&fixture, summary_stored, 10));
  summary = g_object_get_data (G_OBJECT (fixture.client), "summary");
  g_assert_cmpint (natter_message_get_call_reason (summary), ==, NATTER_CALL_REASON_REMOTE_HANGUP);
  g_assert_cmpstr (natter_message_get_call_caller (summary), ==, "alice");
  g_assert_cmpint (natter_message_get_direction (summary), ==, NATTER_MESSAGE_DIRECTION_RECEIVE);

  g_subprocess_communicate (alice, NULL, NULL, &alice_out, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (g_bytes_get_data (alice_out, NULL), "\"reason\":3"));

  /* She calls again; bob declines with the notification's other button. */
  g_clear_object (&alice);
  g_clear_pointer (&alice_out, g_bytes_unref);
  g_clear_object (&call);
  natter_test_notifications_forget ();
  alice = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                            natter_test_program ("NATTER_CLI"),
                            "--server", natter_test_server_get_url (fixture.server),
                            "--app-key", natter_test_server_get_app_key (fixture.server),
                            "--token", alice_token, "--profile", alice_profile,
                            "call", "bob", NULL);
  g_assert_no_error (error);
  g_assert_true (wait_for (&fixture, ringing, 20));
  call = g_object_ref (current_call (&fixture));
  g_assert_true (wait_for (&fixture, notified, 10));
  g_assert_true (wait_for (&fixture, ringtone_playing, 10));
  {
    g_autofree char *text = g_variant_print (natter_test_notifications_lookup (NULL), FALSE);
    g_assert_nonnull (strstr (text, "Incoming voice call"));
  }
  g_action_group_activate_action (G_ACTION_GROUP (fixture.application), "call-decline",
                                  g_variant_new_string (natter_call_get_call_id (call)));
  g_assert_cmpint (natter_call_get_state (call), ==, NATTER_CALL_STATE_ENDED);
  g_assert_cmpint (natter_call_get_reason (call), ==, NATTER_CALL_REASON_REJECT);
  g_assert_null (natter_call_controller_get_window (fixture.controller));
  g_assert_null (find_dialog ());
  g_assert_false (natter_call_controller_get_ringing (fixture.controller));
  g_assert_true (wait_for (&fixture, notification_withdrawn, 5));
  g_subprocess_communicate (alice, NULL, NULL, &alice_out, NULL, &error);
  g_assert_no_error (error);
  {
    g_autofree char *out = g_strndup (g_bytes_get_data (alice_out, NULL), g_bytes_get_size (alice_out));
    g_assert_nonnull (strstr (out, "\"reason\":12"));
  }

  g_clear_object (&call);
  g_clear_object (&fixture.controller);
  natter_client_disconnect (fixture.client);
  g_clear_object (&fixture.client);
  g_clear_object (&fixture.application);
  natter_test_server_free (fixture.server);
  remove = g_strdup_printf ("rm -rf '%s'", fixture.dir);
  g_assert_cmpint (system (remove), ==, 0);
  g_free (fixture.dir);
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  /* The test session has no notification daemon: the freedesktop backend
   * would warn that the notification went nowhere, the gtk one does not. */
  g_setenv ("GNOTIFICATION_BACKEND", "gtk", TRUE);
  natter_test_stack_init ();
  g_test_init (&argc, &argv, NULL);
  gst_init (&argc, &argv);

  if (!gtk_init_check ())
    {
      g_test_skip ("No display: run under xvfb-run (build-aux/dev test does)");
      return g_test_run ();
    }
  adw_init ();

  g_test_add_func ("/call/app/incoming-call", test_incoming_call);
  ret = g_test_run ();
  /* The manager times the encoder on a thread once a call ends: GStreamer
   * torn down under it at exit crashes (#15). */
  natter_call_media_prepare_wait ();
  natter_sound_wait ();
  return ret;
}
