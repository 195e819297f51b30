/* test-call-manager.c — two NatterCallManagers over a real natterd
 *
 * alice and bob are NatterClients of one process, each with its call
 * manager and real media (test sources, gathering on 127.0.0.1), talking
 * through a real natterd (tests/common/natter-test-server.h). As root the
 * test runs in a network namespace with only loopback.
 *
 * Glare: both dial each other in the same main-loop turn, so each invite
 * crosses the other's. The call with the smaller id must survive on both
 * sides and connect at once, the other must leave no trace and neither side
 * may answer "busy".
 *
 * Devices: the first call without test sources starts the device monitor,
 * whose providers' probe may hang (a stuck sound server); the main loop
 * keeps running meanwhile (#15).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <string.h>

#include "natter-call-media.h"
#include "natter-call.h"
#include "natter-test-netns.h"
#include "natter-test-server.h"
#include "natter-test-stall.h"
#include "natter-test-wait.h"
#include "natter-test-stack.h"

typedef struct
{
  const char        *name;
  NatterClient      *client;
  NatterCallManager *manager;
  GPtrArray         *finished;   /* "callId status" of every call-finished */
} Side;

typedef struct
{
  NatterTestServer *server;
  char             *dir;
  Side              alice;
  Side              bob;
} Fixture;

typedef gboolean (*Condition) (Fixture *fixture);

static gboolean
wait_for (Fixture   *fixture,
          Condition  condition,
          guint      seconds)
{
  return natter_test_wait ((NatterTestCondition) condition, fixture, seconds);
}

static void
on_call_finished (NatterCallManager *manager,
                  NatterCall        *call,
                  NatterMessage     *summary,
                  Side              *side)
{
  /* "-" for a call that left no summary */
  g_ptr_array_add (side->finished,
                   summary != NULL
                     ? g_strdup_printf ("%s %d", natter_message_get_call_id (summary),
                                        natter_message_get_call_reason (summary))
                     : g_strdup_printf ("%s -", natter_call_get_call_id (call)));
}

static void
side_start (Fixture    *fixture,
            Side       *side,
            const char *name)
{
  g_autofree char *token = natter_test_server_get_token (fixture->server, name);
  g_autofree char *profile = g_build_filename (fixture->dir, name, NULL);

  side->name = name;
  side->finished = g_ptr_array_new_with_free_func (g_free);
  side->client = natter_client_new (natter_test_server_get_url (fixture->server),
                                    natter_test_server_get_app_key (fixture->server), profile);
  side->manager = natter_call_manager_new (side->client);
  g_signal_connect (side->manager, "call-finished", G_CALLBACK (on_call_finished), side);
  natter_client_connect (side->client, token);
}

static void
side_stop (Side *side)
{
  g_signal_handlers_disconnect_by_data (side->manager, side);
  g_clear_object (&side->manager);
  natter_client_disconnect (side->client);
  g_clear_object (&side->client);
  g_ptr_array_unref (side->finished);
}

/* Both sides stopped, natterd stopped and its data dir removed. */
static void
fixture_teardown (Fixture *fixture)
{
  g_autofree char *remove = g_strdup_printf ("rm -rf '%s'", fixture->dir);

  side_stop (&fixture->alice);
  side_stop (&fixture->bob);
  natter_test_server_free (fixture->server);
  g_assert_cmpint (system (remove), ==, 0);
  g_free (fixture->dir);
}

static gboolean
both_connected (Fixture *fixture)
{
  return natter_client_get_status (fixture->alice.client) == NATTER_CONNECTION_CONNECTED &&
         natter_client_get_status (fixture->bob.client) == NATTER_CONNECTION_CONNECTED;
}

static NatterCall *
current (Side *side)
{
  return natter_call_manager_get_current_call (side->manager);
}

/* One call, the same on both sides, connected with video both ways. */
static gboolean
one_call_up (Fixture *fixture)
{
  NatterCall *a = current (&fixture->alice);
  NatterCall *b = current (&fixture->bob);

  return a != NULL && b != NULL &&
         g_strcmp0 (natter_call_get_call_id (a), natter_call_get_call_id (b)) == 0 &&
         natter_call_get_state (a) == NATTER_CALL_STATE_ACTIVE &&
         natter_call_get_state (b) == NATTER_CALL_STATE_ACTIVE &&
         natter_call_get_video_frames_received (a) >= 30 &&
         natter_call_get_video_frames_received (b) >= 30;
}

static gboolean
both_summaries (Fixture *fixture)
{
  /* the winner's two summaries and the loser's quiet end */
  return fixture->alice.finished->len + fixture->bob.finished->len >= 3 &&
         current (&fixture->alice) == NULL && current (&fixture->bob) == NULL;
}

static gboolean
has_entry (Side       *side,
           const char *entry)
{
  for (guint i = 0; i < side->finished->len; i++)
    if (g_str_equal (g_ptr_array_index (side->finished, i), entry))
      return TRUE;
  return FALSE;
}

static void
test_glare (void)
{
  Fixture fixture = { 0, };
  g_autoptr(GError) error = NULL;

  natter_test_stack_allow_gst_rtpsession_race ();
  g_autoptr(NatterCall) alice_call = NULL;
  g_autoptr(NatterCall) bob_call = NULL;
  g_autofree char *alice_id = NULL;
  g_autofree char *bob_id = NULL;
  g_autofree char *winner_hangup = NULL;
  g_autofree char *winner_remote = NULL;
  const char *winner, *loser;
  Side *loser_side;

  fixture.dir = g_dir_make_tmp ("natter-call-manager-XXXXXX", &error);
  g_assert_no_error (error);
  fixture.server = natter_test_server_new ();
  side_start (&fixture, &fixture.alice, "alice");
  side_start (&fixture, &fixture.bob, "bob");
  g_assert_true (wait_for (&fixture, both_connected, 20));

  /* Both dial before either hears of the other. */
  alice_call = g_object_ref (natter_call_manager_start_call (fixture.alice.manager, "bob",
                                                            NATTER_CALL_MEDIA_VIDEO, &error));
  g_assert_no_error (error);
  bob_call = g_object_ref (natter_call_manager_start_call (fixture.bob.manager, "alice",
                                                          NATTER_CALL_MEDIA_VIDEO, &error));
  g_assert_no_error (error);
  alice_id = g_strdup (natter_call_get_call_id (alice_call));
  bob_id = g_strdup (natter_call_get_call_id (bob_call));
  winner = strcmp (alice_id, bob_id) < 0 ? alice_id : bob_id;
  loser = winner == alice_id ? bob_id : alice_id;
  loser_side = winner == alice_id ? &fixture.bob : &fixture.alice;
  g_test_message ("alice dials %s, bob dials %s: %s must win", alice_id, bob_id, winner);

  /* One call connects, the smaller id, at once (nobody answers by hand). */
  g_assert_true (wait_for (&fixture, one_call_up, 30));
  g_assert_cmpstr (natter_call_get_call_id (current (&fixture.alice)), ==, winner);
  /* The loser's own call ended quietly: no summary, no busy. */
  g_assert_cmpint (natter_call_get_state (winner == alice_id ? bob_call : alice_call), ==,
                   NATTER_CALL_STATE_ENDED);
  g_assert_cmpuint (loser_side->finished->len, ==, 1);
  {
    g_autofree char *quiet = g_strdup_printf ("%s -", loser);
    g_assert_true (has_entry (loser_side, quiet));
  }

  /* Hang up: each side has one summary of the call that took place. */
  natter_call_hangup (current (&fixture.alice));
  g_assert_true (wait_for (&fixture, both_summaries, 20));
  winner_hangup = g_strdup_printf ("%s %d", winner, NATTER_CALL_REASON_HANGUP);
  winner_remote = g_strdup_printf ("%s %d", winner, NATTER_CALL_REASON_REMOTE_HANGUP);
  g_assert_true (has_entry (&fixture.alice, winner_hangup));
  g_assert_true (has_entry (&fixture.bob, winner_remote));
  /* Nothing of the losing call on the side that won, nothing busy anywhere. */
  for (guint i = 0; i < fixture.alice.finished->len + fixture.bob.finished->len; i++)
    {
      const char *entry = i < fixture.alice.finished->len
                            ? g_ptr_array_index (fixture.alice.finished, i)
                            : g_ptr_array_index (fixture.bob.finished, i - fixture.alice.finished->len);
      g_assert_true (g_str_has_prefix (entry, winner) || g_str_has_prefix (entry, loser));
      g_assert_false (g_str_has_suffix (entry, " 4") || g_str_has_suffix (entry, " 14"));
    }
  g_assert_cmpuint (fixture.alice.finished->len + fixture.bob.finished->len, ==, 3);

  g_clear_object (&alice_call);
  g_clear_object (&bob_call);
  fixture_teardown (&fixture);
}

static void
accept_call (NatterCallManager *manager,
             NatterCall        *call,
             gpointer           user_data)
{
  natter_call_accept (call);
}

static gboolean
both_ended (Fixture *fixture)
{
  return current (&fixture->alice) == NULL && current (&fixture->bob) == NULL;
}

/* ASan's slowness stalls the loop too: the delay grows with it, so that
 * half of it still tells a probe on the main thread from the rest */
#define PROBE_DELAY_MS (4000 * NATTER_TEST_WAIT_SCALE)

static void
set_delay (const char *variable)
{
  g_autofree char *value = g_strdup_printf ("%d", PROBE_DELAY_MS);

  g_setenv (variable, value, TRUE);
}

static GError *switched;
static gboolean switch_done;

static void
on_device_set (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  switch_done = TRUE;
  natter_call_set_device_finish (NATTER_CALL (object), result, user_data);
}

static gboolean
device_set (Fixture *fixture)
{
  return switch_done;
}

/* A call with the real device path, whose device probe takes 4 s: the
 * call waits for it and connects, while the main loop never stalls for
 * half of that (before, the media's pipeline probed on the main thread).
 * Then devices switched mid-call, opening slowly, do not stall it either
 * (before, they opened on the main thread). */
static void
test_slow_device_probe (void)
{
  Fixture fixture = { 0, };
  g_autoptr(GError) error = NULL;
  g_autofree char *test_sources = g_strdup (g_getenv ("NATTER_CALL_TEST_SOURCES"));
  NatterTestStall stall;
  gint64 longest;
  NatterCall *call;

  natter_test_stack_allow_gst_rtpsession_race ();
  g_setenv ("NATTER_CALL_TEST_SOURCES", "", TRUE);
  set_delay ("NATTER_CALL_TEST_DEVICE_PROBE_DELAY_MS");
  fixture.dir = g_dir_make_tmp ("natter-call-manager-XXXXXX", &error);
  g_assert_no_error (error);
  fixture.server = natter_test_server_new ();
  side_start (&fixture, &fixture.alice, "alice");
  side_start (&fixture, &fixture.bob, "bob");
  g_signal_connect (fixture.bob.manager, "incoming-call", G_CALLBACK (accept_call), NULL);
  g_assert_true (wait_for (&fixture, both_connected, 20));

  natter_test_stall_start (&stall);
  natter_call_manager_start_call (fixture.alice.manager, "bob", NATTER_CALL_MEDIA_VIDEO, &error);
  g_assert_no_error (error);
  /* black frames both ways: neither side has a camera */
  g_assert_true (wait_for (&fixture, one_call_up, 60));
  longest = natter_test_stall_stop (&stall);
  g_test_message ("longest main-loop stall while the call set up: %" G_GINT64_FORMAT " ms", longest / 1000);
  g_assert_cmpint (longest, <, PROBE_DELAY_MS / 2 * 1000);

  /* Mid-call, a microphone chosen and the camera turned on again open
   * their devices on a worker: opening takes 4 s here (a hung driver),
   * the main loop runs on, and the switch says it failed (no devices). */
  set_delay ("NATTER_CALL_TEST_DEVICE_OPEN_DELAY_MS");
  call = current (&fixture.alice);
  natter_test_stall_start (&stall);
  g_assert_true (natter_call_set_device (call, NATTER_CALL_DEVICE_MICROPHONE, "USB Microphone"));
  natter_call_set_camera_enabled (call, FALSE);
  natter_call_set_camera_enabled (call, TRUE);
  natter_call_set_device_async (call, NATTER_CALL_DEVICE_CAMERA, "Front Camera", NULL, on_device_set, &switched);
  g_assert_true (wait_for (&fixture, device_set, 60));
  longest = natter_test_stall_stop (&stall);
  g_test_message ("longest main-loop stall while devices opened: %" G_GINT64_FORMAT " ms", longest / 1000);
  g_assert_cmpint (longest, <, PROBE_DELAY_MS / 2 * 1000);
  g_assert_error (switched, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_cmpstr (natter_call_get_device (call, NATTER_CALL_DEVICE_CAMERA), ==, "Front Camera");
  g_assert_cmpint (natter_call_get_state (call), ==, NATTER_CALL_STATE_ACTIVE);
  g_unsetenv ("NATTER_CALL_TEST_DEVICE_OPEN_DELAY_MS");
  g_clear_error (&switched);

  natter_call_hangup (current (&fixture.alice));
  g_assert_true (wait_for (&fixture, both_ended, 20));
  fixture_teardown (&fixture);
  g_unsetenv ("NATTER_CALL_TEST_DEVICE_PROBE_DELAY_MS");
  if (test_sources != NULL)
    g_setenv ("NATTER_CALL_TEST_SOURCES", test_sources, TRUE);
}

/* The machine's own devices stay out of the test (the providers ranked
 * out, read by gst_init): the call above finds none, as on a server. */
#define NO_DEVICE_PROVIDERS \
  "pipewiredeviceprovider:NONE,pulsedeviceprovider:NONE,alsadeviceprovider:NONE," \
  "v4l2deviceprovider:NONE,uvch264deviceprovider:NONE,decklinkdeviceprovider:NONE," \
  "libcameraprovider:NONE,jackdeviceprovider:NONE"

int
main (int   argc,
      char *argv[])
{
  int ret;

  natter_test_enter_loopback_namespace (argc, argv);
  g_setenv ("GST_PLUGIN_FEATURE_RANK", NO_DEVICE_PROVIDERS, TRUE);
  gst_init (&argc, &argv);
  natter_test_stack_init ();
  g_test_init (&argc, &argv, NULL);
  g_test_message ("network: %s", g_getenv ("NATTER_CALL_NETNS") != NULL
                                   ? "own namespace with loopback only" : "the host's (not root)");

  g_test_add_func ("/call/manager/glare", test_glare);
  g_test_add_func ("/call/manager/slow-device-probe", test_slow_device_probe);

  ret = g_test_run ();
  /* The manager times the encoder on a thread once a call ends: GStreamer
   * torn down under it at exit crashes (#15). */
  natter_call_media_prepare_wait ();
  return ret;
}
