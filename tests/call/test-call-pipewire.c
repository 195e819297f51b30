/* test-call-pipewire.c — the Flatpak camera path on a real PipeWire
 *
 * Inside a sandbox the camera is pipewiresrc on the PipeWire remote the
 * Camera portal opened (natter_call_devices_set_camera_remote()). Here a
 * real `pipewire` daemon runs with a minimal configuration in a private
 * runtime directory; its camera is a `pipewiresink mode=provide` node of a
 * gst-launch-1.0 process, and the remote natter gets is a socket connected
 * to the daemon, as the portal's is. No session manager runs: the test
 * links natter's stream to the camera with pw-link, as WirePlumber would.
 * alice's side uses that camera (no test sources), bob's test sources.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "natter-call-devices.h"
#include "natter-test-call-pair.h"
#include "natter-test-netns.h"
#include "natter-test-stack.h"

#define CAMERA_NODE "natter-test-camera"
#define CAMERA_CAPS "video/x-raw,format=I420,width=320,height=240,framerate=15/1"

/* The least a daemon needs to serve streams: the native protocol, client
 * nodes and links, and a driver. */
static const char daemon_config[] =
  "context.properties = { core.daemon = true core.name = pipewire-0 }\n"
  "context.spa-libs = { support.* = support/libspa-support }\n"
  "context.modules = [\n"
  "  { name = libpipewire-module-protocol-native }\n"
  "  { name = libpipewire-module-metadata }\n"
  "  { name = libpipewire-module-spa-node-factory }\n"
  "  { name = libpipewire-module-client-node }\n"
  "  { name = libpipewire-module-access }\n"
  "  { name = libpipewire-module-adapter }\n"
  "  { name = libpipewire-module-link-factory }\n"
  "]\n"
  "context.objects = [\n"
  "  { factory = spa-node-factory args = { factory.name = support.node.driver node.name = Dummy-Driver\n"
  "                                        node.group = pipewire.dummy priority.driver = 20000 } }\n"
  "%s"
  "]\n";

typedef struct {
  Pair         pair;
  char        *dir;
  GSubprocess *daemon;
  GSubprocess *camera;
  GThread     *linker;
  gint         linking;  /* atomic: the linker runs */
  gint         links;    /* atomic */
} Fixture;

/* A test that fails leaves no daemon behind. */
static void
die_with_test (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static GSubprocess *
spawn (Fixture            *f,
       const char * const *argv)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_autoptr(GError) error = NULL;
  GSubprocess *process;

  g_subprocess_launcher_setenv (launcher, "PIPEWIRE_RUNTIME_DIR", f->dir, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_RUNTIME_DIR", f->dir, TRUE);
  g_subprocess_launcher_set_child_setup (launcher, die_with_test, NULL, NULL);
  process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  return process;
}

/* What a PipeWire tool prints (pw-link -o / -i: one port a line). */
static char *
run_tool (Fixture            *f,
          const char * const *argv)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                                       G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  char *out = NULL;

  g_subprocess_launcher_setenv (launcher, "PIPEWIRE_RUNTIME_DIR", f->dir, TRUE);
  process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  return out;
}

/* The camera node's output port ("node:port"), or NULL while there is none. */
static char *
camera_port (Fixture *f)
{
  const char * const argv[] = { "pw-link", "-o", NULL };
  g_autofree char *out = run_tool (f, argv);
  g_auto(GStrv) lines = g_strsplit (out != NULL ? out : "", "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], CAMERA_NODE ":"))
      return g_strdup (lines[i]);
  return NULL;
}

/* The ids of the input ports that have a link (pw-link -l -I: "  24   |->   22 c1:in_0"). */
static GHashTable *
linked_inputs (Fixture *f)
{
  const char * const argv[] = { "pw-link", "-l", "-I", NULL };
  g_autofree char *out = run_tool (f, argv);
  g_auto(GStrv) lines = g_strsplit (out != NULL ? out : "", "\n", -1);
  GHashTable *linked = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *arrow = strstr (lines[i], "|->");
      g_auto(GStrv) words = NULL;

      if (arrow == NULL)
        continue;
      words = g_strsplit (g_strstrip ((char *) arrow + 3), " ", 2);
      g_hash_table_add (linked, g_strdup (words[0]));
    }
  return linked;
}

/* The session manager's part, on a thread of its own (natter's call may
 * hold the main loop while its pipeline starts): every input port without
 * a link (natter's stream) is linked to the camera, once there is one. By
 * id: a stream made again (the camera off and on) has a port of the same
 * name, and WirePlumber links it too. */
static gpointer
link_inputs (gpointer user_data)
{
  Fixture *f = user_data;

  while (g_atomic_int_get (&f->linking))
    {
      const char * const list[] = { "pw-link", "-I", "-i", NULL };
      g_autofree char *port = camera_port (f);
      g_autofree char *out = port != NULL ? run_tool (f, list) : NULL;
      g_autoptr(GHashTable) linked = port != NULL ? linked_inputs (f) : NULL;
      g_auto(GStrv) lines = g_strsplit (out != NULL ? out : "", "\n", -1);

      for (guint i = 0; lines[i] != NULL; i++)
        {
          g_auto(GStrv) words = g_strsplit (g_strstrip (lines[i]), " ", 2);

          if (words[0] != NULL && *words[0] != '\0' && !g_hash_table_contains (linked, words[0]))
            {
              const char * const link[] = { "pw-link", port, words[0], NULL };
              g_autofree char *ignored = run_tool (f, link);

              g_atomic_int_inc (&f->links);
            }
        }
      g_usleep (100 * 1000);
    }
  return NULL;
}

static void
wait_until_camera (Fixture *f)
{
  gint64 until = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  char *port;

  while ((port = camera_port (f)) == NULL)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, until);
      g_usleep (100 * 1000);
    }
  g_free (port);
}

/* The portal's answer: a socket connected to the daemon. */
static int
open_remote (Fixture *f)
{
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  g_autofree char *path = g_build_filename (f->dir, "pipewire-0", NULL);
  gint64 until = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  int fd;

  g_assert_cmpuint (strlen (path), <, sizeof address.sun_path);
  strcpy (address.sun_path, path);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (fd, >=, 0);
  while (connect (fd, (struct sockaddr *) &address, sizeof address) != 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, until);
      g_usleep (50 * 1000);
    }
  return fd;
}

/* A daemon (with @objects among its own), the remote natter gets, and the
 * linker. */
static void
setup_daemon (Fixture    *f,
              const char *objects)
{
  g_autofree char *config = NULL;
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;

  pair_setup (&f->pair, NULL);
  f->dir = g_dir_make_tmp ("natter-pipewire-XXXXXX", &error);
  g_assert_no_error (error);
  config = g_build_filename (f->dir, "natter-test.conf", NULL);
  contents = g_strdup_printf (daemon_config, objects);
  g_file_set_contents (config, contents, -1, &error);
  g_assert_no_error (error);
  {
    const char * const argv[] = { "pipewire", "-c", config, NULL };
    f->daemon = spawn (f, argv);
  }
  g_close (open_remote (f), NULL);
  natter_call_devices_set_camera_remote (open_remote (f));
  f->linking = TRUE;
  f->linker = g_thread_new ("pw-linker", link_inputs, f);
}

/* A camera node of a gst-launch-1.0 process whose frames pass @filter. */
static void
start_camera (Fixture    *f,
              const char *filter)
{
  g_autofree char *pipeline = NULL;

  pipeline = g_strdup_printf ("videotestsrc is-live=true pattern=smpte ! " CAMERA_CAPS " ! %s ! "
                              "pipewiresink mode=provide client-name=" CAMERA_NODE " "
                              "stream-properties=props,media.class=Video/Source",
                              filter);
  {
    g_auto(GStrv) words = g_strsplit (pipeline, " ", -1);
    g_autoptr(GStrvBuilder) argv = g_strv_builder_new ();
    g_auto(GStrv) args = NULL;

    g_strv_builder_add (argv, "gst-launch-1.0");
    g_strv_builder_add (argv, "-q");
    g_strv_builder_addv (argv, (const char **) words);
    args = g_strv_builder_end (argv);
    f->camera = spawn (f, (const char * const *) args);
  }
  wait_until_camera (f);
}

static void
setup_with_camera (Fixture    *f,
                   const char *filter)
{
  setup_daemon (f, "");
  start_camera (f, filter);
}

static void
setup_camera (Fixture       *f,
              gconstpointer  data)
{
  setup_with_camera (f, "identity");
}

/* A node that takes its format and then never gives a frame: the first
 * one sleeps for an hour before it goes on. */
static void
setup_silent_camera (Fixture       *f,
                     gconstpointer  data)
{
  setup_with_camera (f, "identity sleep-time=3600000000");
}

/* No camera node yet: natter's stream waits unlinked, as for a camera that
 * takes a while to start; the test starts it. Its silence is let last
 * (120 s) so that only the test decides when frames come. */
static void
setup_late_camera (Fixture       *f,
                   gconstpointer  data)
{
  g_setenv ("NATTER_CALL_CAMERA_SILENCE_S", "120", TRUE);
  setup_daemon (f, "");
}

static void
stop (GSubprocess *process)
{
  if (process == NULL)
    return;
  g_subprocess_send_signal (process, SIGTERM);
  g_subprocess_wait (process, NULL, NULL);
}

static void
teardown (Fixture       *f,
          gconstpointer  data)
{
  g_atomic_int_set (&f->linking, FALSE);
  g_clear_pointer (&f->linker, g_thread_join);
  pair_teardown (&f->pair, NULL);
  g_unsetenv ("NATTER_CALL_CAMERA_SILENCE_S");
  natter_call_devices_set_camera_remote (-1);
  stop (f->camera);
  stop (f->daemon);
  g_clear_object (&f->camera);
  g_clear_object (&f->daemon);
  {
    g_autoptr(GDir) dir = g_dir_open (f->dir, 0, NULL);
    const char *name;

    while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
      {
        g_autofree char *path = g_build_filename (f->dir, name, NULL);
        g_unlink (path);
      }
  }
  g_rmdir (f->dir);
  g_free (f->dir);
}

/* ------------------------------------------------------------ conditions */

static gboolean
both_active (Pair *pair)
{
  return state_of (pair->alice) == NATTER_CALL_STATE_ACTIVE &&
         state_of (pair->bob) == NATTER_CALL_STATE_ACTIVE;
}

/* The middle of bob's last frame of alice (pair_remote_brightness()). */
static guint64 last_brightness;

static gboolean
bob_frame_is_dark (Pair *pair)
{
  return pair_remote_brightness (pair->bob->call, &last_brightness) && last_brightness < 24;
}

static gboolean
bob_sees_camera (Pair *pair)
{
  return natter_call_get_video_frames_received (pair->bob->call) >= 30 && !bob_frame_is_dark (pair);
}

static gboolean
bob_sees_black (Pair *pair)
{
  return natter_call_get_video_frames_received (pair->bob->call) >= 30 && bob_frame_is_dark (pair);
}

static char *
missing_of (NatterCall *call)
{
  g_auto(GStrv) missing = natter_call_get_missing_devices (call);

  return g_strjoinv (",", missing);
}

/* How many fds of this process are the camera remote's socket. */
static guint
remote_copies (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  struct stat remote, other;
  const char *name;
  guint copies = 0;

  g_assert_cmpint (fstat (natter_call_devices_get_camera_remote (), &remote), ==, 0);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (fstat (atoi (name), &other) == 0 && other.st_dev == remote.st_dev && other.st_ino == remote.st_ino)
      copies++;
  return copies;
}

static gboolean
only_our_remote (Pair *pair)
{
  return state_of (pair->alice) == NATTER_CALL_STATE_ENDED && remote_copies () == 1;
}

static gint
is_remote_camera (const GValue  *element,
                  gconstpointer  unused)
{
  return g_object_get_data (g_value_get_object (element), "natter-remote-camera") != NULL ? 0 : 1;
}

/* The element of @media's pipeline that is the portal's camera (a new
 * reference), found from the local preview's sink up. */
static GstElement *
find_remote_camera (NatterCallMedia *media)
{
  GstElement *top = gst_object_ref (natter_video_sink_get_element (natter_call_media_get_local_video (media)));
  GstObject *parent;
  g_autoptr(GstIterator) children = NULL;
  GValue found = G_VALUE_INIT;
  GstElement *camera = NULL;

  while ((parent = gst_object_get_parent (GST_OBJECT (top))) != NULL)
    {
      gst_object_unref (top);
      top = GST_ELEMENT (parent);
    }
  children = gst_bin_iterate_recurse (GST_BIN (top));
  if (gst_iterator_find_custom (children, (GCompareFunc) is_remote_camera, &found, NULL))
    {
      camera = g_value_dup_object (&found);
      g_value_unset (&found);
    }
  gst_object_unref (top);
  return camera;
}

/* alice video-calls bob without test sources: her camera is pipewiresrc
 * on the remote. */
static NatterCall *
dial_from_remote_camera (Fixture    *f,
                         const char *call_id)
{
  NatterCall *call;

  g_unsetenv ("NATTER_CALL_TEST_SOURCES");
  f->pair.bob->auto_accept = TRUE;
  call = dial (&f->pair, NATTER_CALL_MEDIA_VIDEO, call_id);
  g_setenv ("NATTER_CALL_TEST_SOURCES", "1", TRUE);
  return call;
}

/* ----------------------------------------------------------------- tests */

/* The camera node's frames reach bob through the call; the camera is not
 * missing. */
static void
test_camera (Fixture       *f,
             gconstpointer  data)
{
  NatterCall *call = dial_from_remote_camera (f, "pipewire-1");
  g_autoptr(GstElement) held = NULL;

  g_assert_true (wait_for (&f->pair, both_active, 30));
  if (!wait_for (&f->pair, bob_sees_camera, 40))
    g_error ("bob got %" G_GUINT64_FORMAT " frames, the last one's brightness %" G_GUINT64_FORMAT,
             natter_call_get_video_frames_received (f->pair.bob->call), last_brightness);
  g_test_message ("bob sees the camera, brightness %" G_GUINT64_FORMAT, last_brightness);
  g_assert_cmpint (g_atomic_int_get (&f->links), ==, 1);
  g_assert_true (natter_call_media_get_camera_open (f->pair.alice->media));
  {
    g_autofree char *missing = missing_of (call);
    g_assert_null (strstr (missing, "camera"));
  }
  /* the call's end lets go of the camera: no copy of the remote stays,
   * even while something still holds the camera's element (as a bus
   * message or a pending event may: #15, the copy stayed then) */
  g_assert_cmpuint (remote_copies (), >, 1);
  held = find_remote_camera (f->pair.alice->media);
  g_assert_nonnull (held);
  natter_call_hangup (call);
  g_assert_true (wait_for (&f->pair, only_our_remote, 10));
}

static gboolean
alice_camera_missing (Pair *pair)
{
  g_autofree char *missing = missing_of (pair->alice->call);

  return strstr (missing, "camera") != NULL;
}

/* A node that never gives a frame does not hold the call's video (pipewiresrc
 * alone would wait for ever): bob gets black frames from the start, after a
 * few seconds alice's camera counts as missing, the call goes on. */
static void
test_silent_camera (Fixture       *f,
                    gconstpointer  data)
{
  gint64 active;

  dial_from_remote_camera (f, "pipewire-2");
  g_assert_true (wait_for (&f->pair, both_active, 30));
  active = g_get_monotonic_time ();
  g_assert_true (wait_for (&f->pair, bob_sees_black, 40));
  g_test_message ("black frames %.1f s after the call connected",
                  (g_get_monotonic_time () - active) / (double) G_USEC_PER_SEC);
  g_assert_cmpint (g_atomic_int_get (&f->links), ==, 1);
  g_assert_true (wait_for (&f->pair, alice_camera_missing, 40));
  g_assert_false (natter_call_media_get_camera_open (f->pair.alice->media));
  g_assert_cmpint (state_of (f->pair.alice), ==, NATTER_CALL_STATE_ACTIVE);
  g_assert_cmpint (state_of (f->pair.bob), ==, NATTER_CALL_STATE_ACTIVE);
}

/* #15: a camera that gives no frame yet does not hold the call up (the
 * call's video used to wait for it until its silence ran out, 5 s): bob
 * gets black frames while alice's camera is neither open nor missing, and
 * its frames once it gives them. */
static void
test_late_camera (Fixture       *f,
                  gconstpointer  data)
{
  NatterCall *call = dial_from_remote_camera (f, "pipewire-3");

  g_assert_true (wait_for (&f->pair, both_active, 30));
  if (!wait_for (&f->pair, bob_sees_black, 40))
    g_error ("bob got %" G_GUINT64_FORMAT " frames while the camera was silent",
             natter_call_get_video_frames_received (f->pair.bob->call));
  g_assert_false (natter_call_media_get_camera_open (f->pair.alice->media));
  g_assert_false (alice_camera_missing (&f->pair));
  g_assert_cmpint (g_atomic_int_get (&f->links), ==, 0);

  /* the camera starts: its frames from its first one on */
  start_camera (f, "identity");
  if (!wait_for (&f->pair, bob_sees_camera, 40))
    g_error ("bob's last frame of alice has brightness %" G_GUINT64_FORMAT, last_brightness);
  g_assert_cmpint (g_atomic_int_get (&f->links), ==, 1);
  g_assert_true (natter_call_media_get_camera_open (f->pair.alice->media));
  g_assert_false (alice_camera_missing (&f->pair));
  g_assert_cmpint (state_of (f->pair.alice), ==, NATTER_CALL_STATE_ACTIVE);
  natter_call_hangup (call);
  g_assert_true (wait_for (&f->pair, only_our_remote, 10));
}

/* #15: the camera switched off and on again through the portal: bob sees
 * black frames while it is off, and the camera's frames again once it is
 * on (a second stream on the portal's remote used to give nothing). */
static void
test_camera_off_on (Fixture       *f,
                    gconstpointer  data)
{
  NatterCall *call = dial_from_remote_camera (f, "pipewire-4");

  g_assert_true (wait_for (&f->pair, both_active, 30));
  if (!wait_for (&f->pair, bob_sees_camera, 40))
    g_error ("bob's last frame of alice has brightness %" G_GUINT64_FORMAT, last_brightness);

  for (guint round = 0; round < 2; round++)
    {
      natter_call_set_camera_enabled (call, FALSE);
      if (!wait_for (&f->pair, bob_sees_black, 40))
        g_error ("round %u: bob still sees the camera while it is off", round);
      g_assert_false (natter_call_media_get_camera_open (f->pair.alice->media));

      /* A camera of its own for the next stream: a gst-launch-1.0 node
       * gives no frame to a second one (PipeWire's own cameras do, but
       * its videotestsrc node runs out of buffers on a loaded machine).
       * What is tested is natter's side: a new stream on the same remote. */
      stop (f->camera);
      g_clear_object (&f->camera);
      start_camera (f, "identity");

      natter_call_set_camera_enabled (call, TRUE);
      if (!wait_for (&f->pair, bob_sees_camera, 40))
        g_error ("round %u: the camera on again, bob's last frame of alice has brightness %" G_GUINT64_FORMAT,
                 round, last_brightness);
      g_assert_true (natter_call_media_get_camera_open (f->pair.alice->media));
      g_assert_false (alice_camera_missing (&f->pair));
      g_test_message ("round %u: the camera's frames again, brightness %" G_GUINT64_FORMAT, round, last_brightness);
    }
  g_assert_cmpint (state_of (f->pair.alice), ==, NATTER_CALL_STATE_ACTIVE);
  natter_call_hangup (call);
  g_assert_true (wait_for (&f->pair, only_our_remote, 10));
}

static gboolean recheck_done;

static void
on_rechecked (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_assert_true (natter_call_devices_recheck_finish (result, NULL));
  recheck_done = TRUE;
}

static gboolean
rechecked (Pair *pair)
{
  return recheck_done;
}

static gboolean
camera_listed (Pair *pair)
{
  g_auto(GStrv) cameras = natter_call_list_devices (NATTER_CALL_DEVICE_CAMERA);

  return cameras[0] != NULL;
}

/* #15: the PipeWire daemon (with a camera node) starts after the device
 * monitor did: PipeWire's provider "started" without it and would never
 * connect. Asking for the device list starts it again on a worker, and
 * the camera comes as the monitor's device-added. First of the tests: the
 * monitor starts once per process. */
static void
test_late_daemon (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GstDeviceProviderFactory) factory = gst_device_provider_factory_find ("pipewiredeviceprovider");
  g_autoptr(GstDeviceMonitor) monitor = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *config = NULL;
  g_autofree char *contents = NULL;

  if (factory == NULL)
    {
      g_test_fail_printf ("no pipewiredeviceprovider (gstreamer1.0-pipewire)");
      return;
    }
  pair_setup (&f->pair, NULL);
  f->dir = g_dir_make_tmp ("natter-pipewire-XXXXXX", &error);
  g_assert_no_error (error);
  /* the monitor's PipeWire provider looks here, where no daemon runs yet */
  g_setenv ("PIPEWIRE_RUNTIME_DIR", f->dir, TRUE);
  gst_plugin_feature_set_rank (GST_PLUGIN_FEATURE (factory), GST_RANK_PRIMARY);
  monitor = natter_call_devices_get_monitor ();
  g_assert_nonnull (monitor);
  g_assert_false (camera_listed (&f->pair));

  config = g_build_filename (f->dir, "natter-test.conf", NULL);
  contents = g_strdup_printf (daemon_config, "");
  g_file_set_contents (config, contents, -1, &error);
  g_assert_no_error (error);
  {
    const char * const argv[] = { "pipewire", "-c", config, NULL };
    f->daemon = spawn (f, argv);
  }
  g_close (open_remote (f), NULL);
  start_camera (f, "identity");
  /* the daemon and its camera are there, the monitor does not know */
  g_assert_false (camera_listed (&f->pair));

  natter_call_devices_recheck_async (NULL, on_rechecked, NULL);
  g_assert_true (wait_for (&f->pair, rechecked, 30));
  g_assert_true (wait_for (&f->pair, camera_listed, 20));
  {
    g_auto(GStrv) cameras = natter_call_list_devices (NATTER_CALL_DEVICE_CAMERA);
    g_autofree char *names = g_strjoinv (", ", cameras);

    g_test_message ("cameras once the daemon runs: %s", names);
  }
  g_unsetenv ("PIPEWIRE_RUNTIME_DIR");
  gst_plugin_feature_set_rank (GST_PLUGIN_FEATURE (factory), GST_RANK_NONE);
}

int
main (int   argc,
      char *argv[])
{
  natter_test_enter_loopback_namespace (argc, argv);
  gst_init (&argc, &argv);
  pair_use_test_devices_only ();
  natter_test_stack_init ();
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/call/pipewire/late-daemon", Fixture, NULL, NULL, test_late_daemon, teardown);
  g_test_add ("/call/pipewire/camera", Fixture, NULL, setup_camera, test_camera, teardown);
  g_test_add ("/call/pipewire/silent-camera", Fixture, NULL, setup_silent_camera, test_silent_camera, teardown);
  g_test_add ("/call/pipewire/late-camera", Fixture, NULL, setup_late_camera, test_late_camera, teardown);
  g_test_add ("/call/pipewire/camera-off-on", Fixture, NULL, setup_camera, test_camera_off_on, teardown);

  return g_test_run ();
}
