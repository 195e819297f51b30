/* test-ui-background.c — Natter with no window: the real `natter` process
 *
 * Each case runs the natter binary against a real natterd, on the test's
 * private session bus, where the test process is the notification server
 * (natter-test-ui.c). Its window is closed as a window manager closes it:
 * WM_DELETE_WINDOW sent over X11 to the window of that process.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>

#include "natter-test-ui.h"

#define APP_PATH "/im/natter/Natter"

typedef struct {
  NatterTestUi ui;
  GSubprocess *natter;
  gboolean exited;
  Display *display;
} Fixture;

static void
natter_exited_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Fixture *f = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (object), result, NULL);
  f->exited = TRUE;
}

static void
start_natter (Fixture    *f,
              gboolean    background)
{
  const char *argv[] = { natter_test_program ("NATTER_APP"), "--profile", f->ui.profile,
                         background ? "--background" : NULL, NULL };

  /* no profile given: the accounts in $XDG_DATA_HOME/natter */
  if (f->ui.profile == NULL)
    {
      argv[1] = "--background";
      argv[2] = NULL;
    }
  g_autoptr(GError) error = NULL;

  f->natter = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_NONE, &error);
  g_assert_no_error (error);
  f->exited = FALSE;
  g_subprocess_wait_async (f->natter, NULL, natter_exited_cb, f);
}

static void
setup (Fixture       *f,
       gconstpointer  data)
{
  natter_test_ui_setup (&f->ui, data);
  natter_test_ui_write_profile (&f->ui, "alice", f->ui.profile);
  f->display = XOpenDisplay (NULL);
  g_assert_nonnull (f->display);
}

static void
teardown (Fixture       *f,
          gconstpointer  data)
{
  g_autofree char *command = g_strdup_printf ("rm -rf '%s'", f->ui.dir);

  if (f->natter != NULL && !f->exited)
    {
      g_subprocess_force_exit (f->natter);
      natter_test_ui_wait_until (natter_test_ui_is_true, &f->exited, "natter to be killed");
    }
  g_clear_object (&f->natter);
  XCloseDisplay (f->display);
  natter_test_server_free (f->ui.server);
  g_hash_table_unref (f->ui.tokens);
  g_assert_cmpint (system (command), ==, 0);
  g_free (f->ui.profile);
  g_free (f->ui.dir);
}

/* ------------------------------------------------------------ the server */

static void
wait_user_online (Fixture    *f,
                  const char *user_id,
                  gboolean    online)
{
  natter_test_ui_wait_user_online (f->ui.server, user_id, online);
}

static void
wait_online (Fixture  *f,
             gboolean  online)
{
  wait_user_online (f, "alice", online);
}

/* --------------------------------------------------------------- X11 */

/* The mapped top-level window of natter's process, or None. */
static Window
natter_window (Fixture *f)
{
  Atom pid_atom = XInternAtom (f->display, "_NET_WM_PID", False);
  GPid pid = (GPid) g_ascii_strtoll (g_subprocess_get_identifier (f->natter), NULL, 10);
  Window root, parent, *children = NULL;
  unsigned int n = 0;
  Window found = None;

  XSync (f->display, False);
  if (!XQueryTree (f->display, DefaultRootWindow (f->display), &root, &parent, &children, &n))
    return None;
  for (unsigned int i = 0; i < n && found == None; i++)
    {
      Atom type;
      int format;
      unsigned long items, after;
      unsigned char *prop = NULL;
      XWindowAttributes attrs;

      if (XGetWindowProperty (f->display, children[i], pid_atom, 0, 1, False, XA_CARDINAL, &type,
                              &format, &items, &after, &prop) == Success &&
          prop != NULL && items == 1 && format == 32 && (GPid) * (unsigned long *) prop == pid &&
          XGetWindowAttributes (f->display, children[i], &attrs) && attrs.map_state == IsViewable)
        found = children[i];
      if (prop != NULL)
        XFree (prop);
    }
  if (children != NULL)
    XFree (children);
  return found;
}

static gboolean
window_shown (gpointer data)
{
  return natter_window (data) != None;
}

static gboolean
window_gone (gpointer data)
{
  return natter_window (data) == None;
}

/* What a window manager does for the title bar's close button. */
static void
close_as_window_manager (Fixture *f,
                         Window   window)
{
  XEvent event = { 0 };

  event.xclient.type = ClientMessage;
  event.xclient.window = window;
  event.xclient.message_type = XInternAtom (f->display, "WM_PROTOCOLS", False);
  event.xclient.format = 32;
  event.xclient.data.l[0] = (long) XInternAtom (f->display, "WM_DELETE_WINDOW", False);
  event.xclient.data.l[1] = CurrentTime;
  g_assert_true (XSendEvent (f->display, window, False, NoEventMask, &event));
  XFlush (f->display);
}

/* ----------------------------------------------------------------- calls */

/* natter-cli as bob: call @user_id (video, test sources), in the background. */
static void
call_user (Fixture          *f,
           const char       *user_id,
           NatterTestCliRun *run)
{
  natter_test_ui_cli_start (&f->ui, run, "bob", "call", user_id, "--video", "--duration", "5", NULL);
}

static void
assert_call_connected (NatterTestCliRun *run)
{
  g_autoptr(JsonObject) result = natter_test_cli_run_wait_result (run, "the call to end");

  /* connected for the whole call, and media flowed from the app (how many
   * frames depends on how busy the machine is: 147 alone, 14 with a load
   * of 10 on 2 cores) */
  g_assert_cmpint (json_object_get_int_member (result, "duration"), >=, 4);
  g_assert_cmpint (json_object_get_int_member (result, "videoFramesReceived"), >, 0);
  g_assert_cmpint (json_object_get_int_member (result, "audioBuffersReceived"), >, 0);
}

/* ------------------------------------------------------------------ quit */

static void
quit_natter (Fixture *f)
{
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;

  reply = g_dbus_connection_call_sync (bus, APP_ID, APP_PATH, "org.freedesktop.Application",
                                       "ActivateAction", g_variant_new ("(sava{sv})", "quit", NULL, NULL),
                                       NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error (error);
  natter_test_ui_wait_until (natter_test_ui_is_true, &f->exited, "natter to quit");
  if (g_subprocess_get_if_signaled (f->natter))
    g_error ("natter ended by signal %d", g_subprocess_get_term_sig (f->natter));
  g_assert_true (g_subprocess_get_if_exited (f->natter));
  g_assert_cmpint (g_subprocess_get_exit_status (f->natter), ==, 0);
  wait_online (f, FALSE);
}

/* ------------------------------------------------------------------ cases */

/* The bar: the window closed as a window manager closes it,
 * natter runs on, alice online; bob's message is a notification, bob's
 * call rings and Answer connects it; Quit ends natter. */
static void
test_window_closed (Fixture       *f,
                    gconstpointer  data)
{
  g_auto(NatterTestCliRun) run = { FALSE, NULL };
  Window window;

  start_natter (f, FALSE);
  natter_test_ui_wait_until (window_shown, f, "natter's window");
  wait_online (f, TRUE);

  window = natter_window (f);
  close_as_window_manager (f, window);
  natter_test_ui_wait_until (window_gone, f, "the window to close");
  natter_test_ui_spin (1000);
  g_assert_false (f->exited);
  wait_online (f, TRUE);

  natter_test_ui_send (&f->ui, "bob", "alice", "still there with the window closed?");
  natter_test_ui_wait_until (natter_test_ui_notified, (gpointer) "still there with the window closed?",
                             "the message's notification");

  call_user (f, "alice", &run);
  natter_test_ui_wait_until (natter_test_ui_notified, (gpointer) "is calling you", "the ringing notification");
  natter_test_ui_click_notification_of (APP_ID, APP_PATH, "is calling you", "Answer");
  assert_call_connected (&run);

  quit_natter (f);
}

/* natter --background (the autostart entry): connected, no window; a
 * notification's action opens the window at that chat. */
static void
test_start_in_background (Fixture       *f,
                          gconstpointer  data)
{
  start_natter (f, TRUE);
  wait_online (f, TRUE);
  natter_test_ui_spin (500);
  g_assert_true (natter_window (f) == None);
  g_assert_false (f->exited);

  natter_test_ui_send (&f->ui, "bob", "alice", "good morning from bob");
  natter_test_ui_wait_until (natter_test_ui_notified, (gpointer) "good morning from bob", "the notification");
  g_assert_true (natter_window (f) == None);

  natter_test_ui_click_notification_of (APP_ID, APP_PATH, "good morning from bob", NULL);
  natter_test_ui_wait_until (window_shown, f, "the window from the notification");

  quit_natter (f);
}

/* natter --background without --profile (the autostart entry): every
 * account in $XDG_DATA_HOME/natter connects, each one's notifications
 * name it; Quit takes both offline. */
static void
test_all_accounts (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *accounts = g_build_filename (natter_test_ui_get_tmp_dir (), "natter", NULL);
  g_autofree char *alice = g_build_filename (accounts, "default", NULL);
  g_autofree char *carol = g_build_filename (accounts, "carol", NULL);
  g_auto(NatterTestCliRun) run = { FALSE, NULL };

  natter_test_ui_write_profile (&f->ui, "alice", alice);
  natter_test_ui_write_profile (&f->ui, "carol", carol);
  g_clear_pointer (&f->ui.profile, g_free);
  start_natter (f, TRUE);
  wait_user_online (f, "alice", TRUE);
  wait_user_online (f, "carol", TRUE);
  g_assert_true (natter_window (f) == None);

  natter_test_ui_send (&f->ui, "bob", "carol", "carol, are you there?");
  natter_test_ui_wait_until (natter_test_ui_notified, (gpointer) "bob (carol)\ncarol, are you there?",
                             "carol's notification");

  /* a call names the account it rings for; declined, it never connects */
  call_user (f, "carol", &run);
  natter_test_ui_wait_until (natter_test_ui_notified, (gpointer) "bob is calling you (carol)",
                             "carol's ringing notification");
  natter_test_ui_click_notification_of (APP_ID, APP_PATH, "is calling you (carol)", "Decline");
  natter_test_ui_wait_until (natter_test_ui_is_true, &run.done, "the declined call to end");
  g_assert_nonnull (strstr (run.out, "\"videoFramesReceived\":0,"));

  quit_natter (f);
  wait_user_online (f, "carol", FALSE);
  natter_test_remove_tree (accounts);
}

int
main (int   argc,
      char *argv[])
{
  natter_test_ui_init (&argc, &argv);

  g_test_add ("/background/window-closed", Fixture, NULL, setup, test_window_closed, teardown);
  g_test_add ("/background/start-in-background", Fixture, NULL, setup, test_start_in_background, teardown);

  g_test_add ("/background/all-accounts", Fixture, NULL, setup, test_all_accounts, teardown);

  return natter_test_ui_run ();
}
