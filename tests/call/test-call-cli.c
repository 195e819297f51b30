/* test-call-cli.c — calls between natter-cli processes through natterd
 *
 * A real natterd (tests/common/natter-test-server.h), natter-cli processes
 * with test sources (NATTER_CALL_TEST_SOURCES=1) gathering on 127.0.0.1
 * only, and coturn on loopback for the relay-only run. As root the whole
 * test runs in a fresh network namespace that has only loopback
 * (`unshare -n`), so nothing can leave the machine.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <natter.h>

#include "natter-format.h"
#include "natter-test-netns.h"
#include "natter-test-server.h"
#include "natter-test-stack.h"
#include "natter-test-wait.h"

typedef struct
{
  char             *name;
  GSubprocess      *process;
  GDataInputStream *out;
  GPtrArray        *lines;
  gboolean          eof;
} Peer;

typedef struct
{
  NatterTestServer *server;
  char             *dir;
  GPtrArray        *peers;
} Fixture;

/* --------------------------------------------------------------- peers */

static void read_next_line (Peer *peer);

static void
on_line (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Peer *peer = user_data;
  g_autoptr(GError) error = NULL;
  char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result,
                                                           NULL, &error);

  if (line == NULL)
    {
      peer->eof = TRUE;
      return;
    }
  g_test_message ("%s: %s", peer->name, line);
  g_ptr_array_add (peer->lines, line);
  read_next_line (peer);
}

static void
read_next_line (Peer *peer)
{
  g_data_input_stream_read_line_async (peer->out, G_PRIORITY_DEFAULT, NULL, on_line, peer);
}

static void
peer_free (Peer *peer)
{
  /* Still running (not yet reaped): stop it. */
  if (g_subprocess_get_identifier (peer->process) != NULL)
    g_subprocess_force_exit (peer->process);
  g_subprocess_wait (peer->process, NULL, NULL);
  while (!peer->eof)
    g_main_context_iteration (NULL, TRUE);
  g_free (peer->name);
  g_object_unref (peer->process);
  g_object_unref (peer->out);
  g_ptr_array_unref (peer->lines);
  g_free (peer);
}

/* natter-cli --server URL --app-key K --token T --profile DIR ARGS...
 * (@profile: a second device of @user when not @user) */
static Peer *
peer_start_device (Fixture            *fixture,
                   const char         *user,
                   const char         *profile_name,
                   const char * const *args,
                   const char * const *env)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                                       G_SUBPROCESS_FLAGS_STDIN_PIPE);
  g_autofree char *token = natter_test_server_get_token (fixture->server, user);
  g_autofree char *profile = g_build_filename (fixture->dir, profile_name, NULL);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  Peer *peer = g_new0 (Peer, 1);

  g_ptr_array_add (argv, (char *) natter_test_program ("NATTER_CLI"));
  g_ptr_array_add (argv, (char *) "--server");
  g_ptr_array_add (argv, (char *) natter_test_server_get_url (fixture->server));
  g_ptr_array_add (argv, (char *) "--app-key");
  g_ptr_array_add (argv, (char *) natter_test_server_get_app_key (fixture->server));
  g_ptr_array_add (argv, (char *) "--token");
  g_ptr_array_add (argv, token);
  g_ptr_array_add (argv, (char *) "--profile");
  g_ptr_array_add (argv, profile);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);

  /* an empty value unsets the variable */
  for (guint i = 0; env != NULL && env[i] != NULL; i += 2)
    if (*env[i + 1] == '\0')
      g_subprocess_launcher_unsetenv (launcher, env[i]);
    else
      g_subprocess_launcher_setenv (launcher, env[i], env[i + 1], TRUE);

  peer->name = g_strdup (profile_name);
  peer->lines = g_ptr_array_new_with_free_func (g_free);
  peer->process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  peer->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (peer->process));
  read_next_line (peer);
  g_ptr_array_add (fixture->peers, peer);
  return peer;
}

static Peer *
peer_start (Fixture            *fixture,
            const char         *user,
            const char * const *args,
            const char * const *env)
{
  return peer_start_device (fixture, user, user, args, env);
}

static gboolean
timed_out_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* The first line starting with @prefix, waiting up to @seconds. */
static const char *
peer_wait_line (Peer       *peer,
                const char *prefix,
                guint       seconds)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add_seconds (seconds * NATTER_TEST_WAIT_SCALE, timed_out_cb, &timed_out);
  guint seen = 0;

  while (!timed_out)
    {
      for (; seen < peer->lines->len; seen++)
        if (g_str_has_prefix (g_ptr_array_index (peer->lines, seen), prefix))
          {
            g_source_remove (id);
            return g_ptr_array_index (peer->lines, seen);
          }
      if (peer->eof)
        break;
      g_main_context_iteration (NULL, TRUE);
    }
  if (!timed_out)
    g_source_remove (id);
  g_error ("%s: no line \"%s\" within %u s", peer->name, prefix, seconds);
  return NULL;
}

static gboolean
peer_has_line (Peer       *peer,
               const char *prefix)
{
  for (guint i = 0; i < peer->lines->len; i++)
    if (g_str_has_prefix (g_ptr_array_index (peer->lines, i), prefix))
      return TRUE;
  return FALSE;
}

/* Waits for the process to end; returns its JSON result line. */
static JsonObject *
peer_wait_result (Peer *peer,
                  guint seconds,
                  int  *exit_status)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add_seconds (seconds * NATTER_TEST_WAIT_SCALE, timed_out_cb, &timed_out);
  g_autoptr(JsonNode) node = NULL;
  const char *last;

  while (!peer->eof && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (timed_out)
    g_error ("%s did not end within %u s", peer->name, seconds);
  g_source_remove (id);
  g_subprocess_wait (peer->process, NULL, NULL);
  if (exit_status != NULL)
    *exit_status = g_subprocess_get_if_exited (peer->process)
                     ? g_subprocess_get_exit_status (peer->process) : -1;

  g_assert_cmpuint (peer->lines->len, >, 0);
  last = g_ptr_array_index (peer->lines, peer->lines->len - 1);
  node = json_from_string (last, NULL);
  g_assert_nonnull (node);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  return json_object_ref (json_node_get_object (node));
}

static void
store_result (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

/* The RC:VCSummary message stored in @user's profile for the
 * conversation with @peer_id (NULL if none). */
static NatterMessage *
stored_summary_message (Fixture    *fixture,
                        const char *user,
                        const char *peer_id)
{
  g_autofree char *path = g_build_filename (fixture->dir, user, "natter.db", NULL);
  g_autoptr(NatterStore) store = natter_store_new (path);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GPtrArray) messages = NULL;
  g_autoptr(GError) error = NULL;

  natter_store_get_messages_async (store, NATTER_CONVERSATION_PRIVATE, peer_id, 0, 0, 20, NULL,
                                   store_result, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  messages = natter_store_get_messages_finish (store, result, &error);
  g_assert_no_error (error);
  for (guint i = messages->len; i > 0; i--)
    {
      NatterMessage *message = g_ptr_array_index (messages, i - 1);
      if (g_strcmp0 (natter_message_get_object_name (message), "RC:VCSummary") == 0)
        return g_object_ref (message);
    }
  return NULL;
}

static JsonObject *
stored_summary (Fixture    *fixture,
                const char *user,
                const char *peer_id)
{
  g_autoptr(NatterMessage) message = stored_summary_message (fixture, user, peer_id);

  return message != NULL ? json_object_ref (natter_message_get_content (message)) : NULL;
}

/* What the chat view shows for that summary (the app's own formatting). */
static void
assert_summary_text (Fixture    *fixture,
                     const char *user,
                     const char *peer_id,
                     const char *expected_prefix)
{
  g_autoptr(NatterMessage) message = stored_summary_message (fixture, user, peer_id);
  g_autofree char *text = NULL;

  g_assert_nonnull (message);
  text = natter_format_call_summary (message, NULL);
  g_test_message ("%s's chat with %s: “%s”", user, peer_id, text);
  if (!g_str_has_prefix (text, expected_prefix))
    g_error ("%s's chat with %s shows “%s”, expected “%s…”", user, peer_id, text, expected_prefix);
}

/* -------------------------------------------------------------- fixture */

static void
fixture_setup_full (Fixture            *fixture,
                    const char         *config,
                    const char * const *create_app_args)
{
  g_autoptr(GError) error = NULL;

  fixture->dir = g_dir_make_tmp ("natter-call-cli-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->server = natter_test_server_new_full (config, create_app_args);
  fixture->peers = g_ptr_array_new_with_free_func ((GDestroyNotify) peer_free);
}

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  data)
{
  fixture_setup_full (fixture, NULL, NULL);
}

/* @data: one app setting, "NAME=VALUE" */
static void
fixture_setup_setting (Fixture       *fixture,
                       gconstpointer  data)
{
  const char * const args[] = { "--app-setting", data, NULL };

  fixture_setup_full (fixture, NULL, args);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autofree char *command = g_strdup_printf ("rm -rf '%s'", fixture->dir);

  g_ptr_array_unref (fixture->peers);
  natter_test_server_free (fixture->server);
  g_assert_cmpint (system (command), ==, 0);
  g_free (fixture->dir);
}

#define ARGS(...) ((const char * const[]) { __VA_ARGS__, NULL })

/* A call's --duration when the test hangs up itself (SIGINT, as Ctrl+C)
 * once the media it asserts arrived: a bound, never reached. */
#define LONG_CALL_SECONDS "300"

static gint64
member_int (JsonObject *object,
            const char *name)
{
  g_assert_true (json_object_has_member (object, name));
  return json_object_get_int_member (object, name);
}

/* Until natterd has @n connections past Connect: the answering peers are
 * online, so the invite reaches them (a status-only invite sent before
 * reaches nobody). Each natter-cli runs gst_init and makes its DTLS key
 * before it connects, which takes far more than a second on a loaded
 * machine with a fresh GStreamer registry. */
static void
wait_connected (Fixture *fixture,
                guint    n)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  while (natter_test_server_get_metric (fixture->server, "natterd_connections_authenticated") < n)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("fewer than %u clients connected to natterd after 60 s", n);
      while (g_main_context_iteration (NULL, FALSE))
        ;
      g_usleep (50 * 1000);
    }
}

/* The last "frames VIDEO AUDIO" line of @peer (natter-cli --progress):
 * the remote video frames and audio buffers it decoded so far. */
static void
peer_frames (Peer    *peer,
             guint64 *video,
             guint64 *audio)
{
  *video = *audio = 0;
  for (guint i = peer->lines->len; i > 0; i--)
    {
      const char *line = g_ptr_array_index (peer->lines, i - 1);

      if (g_str_has_prefix (line, "frames ") &&
          sscanf (line, "frames %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT, video, audio) == 2)
        return;
    }
}

/* Until both peers decoded @video frames and @audio buffers, and
 * @seconds passed: a call as long as the media need, not a fixed time a
 * starved machine may not fill (5 s brought 25 frames at load 25). */
static void
wait_media (Peer    *a,
            Peer    *b,
            guint64  video,
            guint64  audio,
            guint    seconds)
{
  gint64 start = g_get_monotonic_time ();
  gint64 deadline = start + 120 * NATTER_TEST_WAIT_SCALE * G_USEC_PER_SEC;

  for (;;)
    {
      guint64 a_video, a_audio, b_video, b_audio;

      peer_frames (a, &a_video, &a_audio);
      peer_frames (b, &b_video, &b_audio);
      if (a_video >= video && b_video >= video && a_audio >= audio && b_audio >= audio &&
          g_get_monotonic_time () - start >= seconds * G_USEC_PER_SEC)
        return;
      if (g_get_monotonic_time () > deadline || a->eof || b->eof)
        g_error ("media: %s %" G_GUINT64_FORMAT " frames %" G_GUINT64_FORMAT " buffers, "
                 "%s %" G_GUINT64_FORMAT " frames %" G_GUINT64_FORMAT " buffers after %" G_GINT64_FORMAT " s",
                 a->name, a_video, a_audio, b->name, b_video, b_audio,
                 (g_get_monotonic_time () - start) / G_USEC_PER_SEC);
      /* a line a second comes from each */
      g_main_context_iteration (NULL, TRUE);
    }
}

/* ---------------------------------------------------------------- tests */

static void
check_video_call (Fixture            *fixture,
                  const char * const *env)
{
  Peer *bob = peer_start (fixture, "bob", ARGS ("answer", "--auto", "--progress"), env);
  Peer *alice;
  gint64 active_since, seconds;
  g_autoptr(JsonObject) alice_result = NULL;
  g_autoptr(JsonObject) bob_result = NULL;
  g_autoptr(JsonObject) alice_summary = NULL;
  g_autoptr(JsonObject) bob_summary = NULL;
  int alice_status, bob_status;

  /* No pause after: in the relay-only run bob's TURN credentials may still
   * be on their way when alice's invite comes, and his answer waits for them. */
  wait_connected (fixture, 1);
  /* alice's --duration only bounds the call: the test hangs up */
  alice = peer_start (fixture, "alice", ARGS ("call", "bob", "--video", "--duration", LONG_CALL_SECONDS, "--progress"), env);

  peer_wait_line (alice, "dialing", 20);
  peer_wait_line (bob, "incoming alice video", 20);
  peer_wait_line (alice, "active", 20);
  active_since = g_get_monotonic_time ();
  /* 50 frames of 30 fps video and 100 audio packets (50 a second) both
   * ways, over at least five seconds, then alice hangs up (SIGINT) */
  wait_media (alice, bob, 50, 100, 5);
  g_subprocess_send_signal (alice->process, SIGINT);
  seconds = (g_get_monotonic_time () - active_since + G_USEC_PER_SEC / 2) / G_USEC_PER_SEC;
  alice_result = peer_wait_result (alice, 40, &alice_status);
  bob_result = peer_wait_result (bob, 20, &bob_status);
  peer_wait_line (alice, "ended 3 hangup", 1);
  peer_wait_line (bob, "ended 13 remote-hangup", 1);

  g_assert_cmpint (alice_status, ==, 0);
  g_assert_cmpint (bob_status, ==, 0);
  g_assert_cmpstr (json_object_get_string_member (alice_result, "callId"), ==,
                   json_object_get_string_member (bob_result, "callId"));
  g_assert_cmpint (member_int (alice_result, "state"), ==, 5);
  g_assert_cmpint (member_int (alice_result, "reason"), ==, 3);
  g_assert_cmpint (member_int (bob_result, "reason"), ==, 13);
  g_assert_cmpint (member_int (alice_result, "mediaType"), ==, 2);
  /* the call's duration is the time it was up: from the answer to the
   * hangup, give or take the signalling's second */
  g_assert_cmpint (member_int (alice_result, "duration"), >=, 4);
  g_assert_cmpint (member_int (alice_result, "duration"), <=, seconds + 1);
  g_assert_cmpint (ABS (member_int (alice_result, "duration") - member_int (bob_result, "duration")), <=, 1);
  g_assert_cmpint (member_int (alice_result, "videoFramesReceived"), >=, 50);
  g_assert_cmpint (member_int (bob_result, "videoFramesReceived"), >=, 50);
  g_assert_cmpint (member_int (alice_result, "audioBuffersReceived"), >=, 100);
  g_assert_cmpint (member_int (bob_result, "audioBuffersReceived"), >=, 100);
  g_assert_cmpint (member_int (alice_result, "setupMs"), >, 0);
  g_test_message ("setup: alice %" G_GINT64_FORMAT " ms, bob %" G_GINT64_FORMAT " ms",
                  member_int (alice_result, "setupMs"), member_int (bob_result, "setupMs"));

  /* Both sides stored their own summary of the same call. */
  alice_summary = stored_summary (fixture, "alice", "bob");
  bob_summary = stored_summary (fixture, "bob", "alice");
  g_assert_nonnull (alice_summary);
  g_assert_nonnull (bob_summary);
  g_assert_cmpstr (json_object_get_string_member (alice_summary, "caller"), ==, "alice");
  g_assert_cmpstr (json_object_get_string_member (bob_summary, "caller"), ==, "alice");
  g_assert_cmpint (member_int (alice_summary, "mediaType"), ==, 2);
  g_assert_cmpint (member_int (bob_summary, "mediaType"), ==, 2);
  g_assert_cmpint (member_int (alice_summary, "status"), ==, 3);
  g_assert_cmpint (member_int (bob_summary, "status"), ==, 13);
  g_assert_cmpint (member_int (alice_summary, "duration"), ==, member_int (alice_result, "duration"));
  g_assert_cmpint (member_int (bob_summary, "duration"), ==, member_int (bob_result, "duration"));
  g_assert_cmpint (member_int (alice_summary, "connectedTime"), >=, member_int (alice_summary, "startTime"));
  /* ... and both chats show it so: "Video call · 0:05". */
  {
    gint64 a = member_int (alice_summary, "duration"), b = member_int (bob_summary, "duration");
    g_autofree char *alice_text = g_strdup_printf ("Video call · %d:%02d", (int) (a / 60), (int) (a % 60));
    g_autofree char *bob_text = g_strdup_printf ("Video call · %d:%02d", (int) (b / 60), (int) (b % 60));

    assert_summary_text (fixture, "alice", "bob", alice_text);
    assert_summary_text (fixture, "bob", "alice", bob_text);
  }
}

static void
test_video_call (Fixture       *fixture,
                 gconstpointer  data)
{
  check_video_call (fixture, NULL);
}

static void
test_reject (Fixture       *fixture,
             gconstpointer  data)
{
  Peer *bob = peer_start (fixture, "bob", ARGS ("answer", "--reject"), NULL);
  Peer *alice;
  g_autoptr(JsonObject) alice_result = NULL;
  g_autoptr(JsonObject) bob_result = NULL;
  g_autoptr(JsonObject) summary = NULL;
  int status;

  wait_connected (fixture, 1);
  alice = peer_start (fixture, "alice", ARGS ("call", "bob", "--video"), NULL);
  alice_result = peer_wait_result (alice, 30, &status);
  bob_result = peer_wait_result (bob, 10, NULL);
  g_assert_cmpint (status, ==, 5);  /* refused */
  g_assert_cmpint (member_int (alice_result, "reason"), ==, 12);
  g_assert_cmpint (member_int (bob_result, "reason"), ==, 2);
  summary = stored_summary (fixture, "bob", "alice");
  g_assert_cmpint (member_int (summary, "status"), ==, 2);
  g_assert_cmpint (member_int (summary, "duration"), ==, 0);
  assert_summary_text (fixture, "bob", "alice", "Declined");
  assert_summary_text (fixture, "alice", "bob", "Declined");
}

static void
test_cancel (Fixture       *fixture,
             gconstpointer  data)
{
  Peer *bob = peer_start (fixture, "bob", ARGS ("answer", "--ignore"), NULL);
  Peer *alice;
  g_autoptr(JsonObject) alice_result = NULL;
  g_autoptr(JsonObject) bob_result = NULL;

  wait_connected (fixture, 1);
  alice = peer_start (fixture, "alice", ARGS ("call", "bob"), NULL);
  peer_wait_line (alice, "ringing", 20);
  peer_wait_line (bob, "incoming alice audio", 5);
  /* Ctrl+C while it rings is a cancel. */
  g_subprocess_send_signal (alice->process, SIGINT);
  alice_result = peer_wait_result (alice, 20, NULL);
  bob_result = peer_wait_result (bob, 20, NULL);
  g_assert_cmpint (member_int (alice_result, "reason"), ==, 1);
  g_assert_cmpint (member_int (bob_result, "reason"), ==, 11);
  assert_summary_text (fixture, "bob", "alice", "Missed call");
}

static void
test_busy (Fixture       *fixture,
           gconstpointer  data)
{
  Peer *alice, *bob, *carol;
  g_autoptr(JsonObject) alice_result = NULL;
  g_autoptr(JsonObject) bob_result = NULL;
  g_autoptr(JsonObject) carol_result = NULL;
  g_autoptr(JsonObject) summary = NULL;

  bob = peer_start (fixture, "bob", ARGS ("answer", "--auto"), NULL);
  wait_connected (fixture, 1);
  alice = peer_start (fixture, "alice", ARGS ("call", "bob", "--duration", "20"), NULL);
  peer_wait_line (alice, "active", 20);

  /* bob is in a call: carol hears busy, without ringing. */
  carol = peer_start (fixture, "carol", ARGS ("call", "bob"), NULL);
  carol_result = peer_wait_result (carol, 30, NULL);
  g_assert_cmpint (member_int (carol_result, "reason"), ==, 14);
  summary = stored_summary (fixture, "carol", "bob");
  g_assert_cmpint (member_int (summary, "status"), ==, 14);

  /* ... and the call in progress goes on. */
  g_assert_false (alice->eof);
  g_subprocess_send_signal (alice->process, SIGINT);
  alice_result = peer_wait_result (alice, 20, NULL);
  g_assert_cmpint (member_int (alice_result, "reason"), ==, 3);

  /* bob keeps a "busy" summary of the call he could not take. */
  bob_result = peer_wait_result (bob, 20, NULL);
  g_assert_cmpint (member_int (bob_result, "reason"), ==, 13);
  g_clear_pointer (&summary, json_object_unref);
  summary = stored_summary (fixture, "bob", "carol");
  g_assert_nonnull (summary);
  g_assert_cmpint (member_int (summary, "status"), ==, 4);
  g_assert_cmpstr (json_object_get_string_member (summary, "caller"), ==, "carol");
  g_assert_cmpint (member_int (summary, "duration"), ==, 0);
  assert_summary_text (fixture, "bob", "carol", "Busy");
  assert_summary_text (fixture, "carol", "bob", "Busy");
}

static void
test_no_answer (Fixture       *fixture,
                gconstpointer  data)
{
  Peer *bob = peer_start (fixture, "bob", ARGS ("answer", "--ignore"), NULL);
  Peer *alice;
  g_autoptr(JsonObject) alice_result = NULL;
  g_autoptr(JsonObject) bob_result = NULL;
  gint64 start;

  wait_connected (fixture, 1);
  start = g_get_monotonic_time ();
  alice = peer_start (fixture, "alice", ARGS ("call", "bob", "--video"), NULL);
  alice_result = peer_wait_result (alice, 60, NULL);
  bob_result = peer_wait_result (bob, 20, NULL);
  g_assert_cmpint (member_int (alice_result, "reason"), ==, 5);
  /* bob's own 30 s timer or alice's hangup(5), whichever came first. */
  g_assert_true (member_int (bob_result, "reason") == 5 || member_int (bob_result, "reason") == 15);
  assert_summary_text (fixture, "alice", "bob", "No answer");
  assert_summary_text (fixture, "bob", "alice", "Missed call");
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 29 * G_USEC_PER_SEC);
}

/* One side's process dies (SIGKILL: no hangup) while the call is active —
 * the media watchdog notices — or while bob's phone rings — there is no
 * media yet, natterd's presence tells. Either way the other side ends with
 * 7 within 10 s. */
static void
check_peer_dies (Fixture  *fixture,
                 gboolean  answered,
                 gboolean  kill_caller)
{
  Peer *bob = peer_start (fixture, "bob", ARGS ("answer", answered ? "--auto" : "--ignore"), NULL);
  Peer *alice;
  g_autoptr(JsonObject) result = NULL;
  gint64 killed;

  wait_connected (fixture, 1);
  alice = peer_start (fixture, "alice", ARGS ("call", "bob", "--video"), NULL);
  peer_wait_line (alice, answered ? "active" : "ringing", 20);
  peer_wait_line (bob, "incoming alice video", 5);
  if (answered)
    g_usleep (2 * G_USEC_PER_SEC);

  g_subprocess_send_signal ((kill_caller ? alice : bob)->process, SIGKILL);
  killed = g_get_monotonic_time ();
  result = peer_wait_result (kill_caller ? bob : alice, 20, NULL);
  g_test_message ("%s killed → ended after %" G_GINT64_FORMAT " ms", kill_caller ? "caller" : "callee",
                  (g_get_monotonic_time () - killed) / 1000);
  g_assert_cmpint (member_int (result, "reason"), ==, 7);
  g_assert_cmpint (g_get_monotonic_time () - killed, <=, 10 * G_USEC_PER_SEC);
}

static void
test_peer_killed (Fixture       *fixture,
                  gconstpointer  data)
{
  check_peer_dies (fixture, TRUE, FALSE);
}

static void
test_caller_vanishes (Fixture       *fixture,
                      gconstpointer  data)
{
  check_peer_dies (fixture, FALSE, TRUE);
}

static void
test_callee_vanishes (Fixture       *fixture,
                      gconstpointer  data)
{
  check_peer_dies (fixture, FALSE, FALSE);
}

/* Nobody to ring (dave is not connected anywhere): no answer within 10 s,
 * not after the full 30. */
static void
test_callee_offline (Fixture       *fixture,
                     gconstpointer  data)
{
  Peer *alice = peer_start (fixture, "alice", ARGS ("call", "dave", "--video"), NULL);
  g_autoptr(JsonObject) result = NULL;
  int status;

  peer_wait_line (alice, "dialing", 20);
  result = peer_wait_result (alice, 15, &status);
  g_assert_cmpint (status, ==, 5);
  g_assert_cmpint (member_int (result, "reason"), ==, NATTER_CALL_REASON_NO_RESPONSE);
  g_assert_false (peer_has_line (alice, "ringing"));
  assert_summary_text (fixture, "alice", "dave", "No answer");
}

/* POST /account/privacy.json FORM as @user; asserts it was taken. */
static void
set_privacy (Fixture    *fixture,
             const char *user,
             const char *form)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autofree char *url = g_strdup_printf ("%s/account/privacy.json", natter_test_server_get_url (fixture->server));
  g_autoptr(SoupMessage) message = soup_message_new ("POST", url);
  g_autofree char *token = natter_test_server_get_token (fixture->server, user);
  g_autofree char *authorization = g_strdup_printf ("Bearer %s", token);
  g_autoptr(GBytes) body = g_bytes_new (form, strlen (form));
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GError) error = NULL;

  soup_message_set_request_body_from_bytes (message, "application/x-www-form-urlencoded", body);
  soup_message_headers_replace (soup_message_get_request_headers (message), "Authorization", authorization);
  reply = soup_session_send_and_read (session, message, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (message), ==, 200);
}

/* bob hides his online status (#16): natterd answers "hidden", and his
 * device ids only to whom one of them rang for; alice's call asks about
 * the ringing device every 3 s and rings on (two "not connected" answers
 * would end it as offline, ~6 s) until she cancels. */
static void
test_hidden_callee (Fixture       *fixture,
                    gconstpointer  data)
{
  Peer *bob;
  Peer *alice;
  g_autoptr(JsonObject) alice_result = NULL;
  g_autoptr(JsonObject) bob_result = NULL;
  gboolean waited = FALSE;
  guint id;

  set_privacy (fixture, "bob", "showOnline=false");
  bob = peer_start (fixture, "bob", ARGS ("answer", "--ignore"), NULL);
  wait_connected (fixture, 1);
  alice = peer_start (fixture, "alice", ARGS ("call", "bob"), NULL);
  peer_wait_line (alice, "ringing", 20);
  peer_wait_line (bob, "incoming alice audio", 5);
  /* four presence rounds (3 s each): two misses would have ended it */
  id = g_timeout_add_seconds (12, timed_out_cb, &waited);
  while (!waited && !alice->eof)
    g_main_context_iteration (NULL, TRUE);
  if (!waited)
    g_source_remove (id);
  g_assert_false (alice->eof);
  g_subprocess_send_signal (alice->process, SIGINT);
  alice_result = peer_wait_result (alice, 20, NULL);
  bob_result = peer_wait_result (bob, 20, NULL);
  g_assert_cmpint (member_int (alice_result, "reason"), ==, 1);
  g_assert_cmpint (member_int (bob_result, "reason"), ==, 11);
}

/* bob on two devices: the one that answers takes the call, the other
 * stops ringing with reason 8. */
static void
test_other_device (Fixture       *fixture,
                   gconstpointer  data)
{
  Peer *bob_phone = peer_start_device (fixture, "bob", "bob-phone", ARGS ("answer", "--ignore"), NULL);
  Peer *bob_desk = peer_start_device (fixture, "bob", "bob-desk", ARGS ("answer", "--auto", "--progress"),
                                      NULL);
  Peer *alice;
  g_autoptr(JsonObject) phone_result = NULL;
  g_autoptr(JsonObject) desk_result = NULL;
  g_autoptr(JsonObject) alice_result = NULL;
  g_autoptr(JsonObject) summary = NULL;

  wait_connected (fixture, 2);
  alice = peer_start (fixture, "alice",
                      ARGS ("call", "bob", "--video", "--duration", LONG_CALL_SECONDS, "--progress"), NULL);
  peer_wait_line (bob_phone, "incoming alice video", 20);
  phone_result = peer_wait_result (bob_phone, 20, NULL);
  g_assert_cmpint (member_int (phone_result, "reason"), ==, 8);
  summary = stored_summary (fixture, "bob-phone", "alice");
  g_assert_cmpint (member_int (summary, "status"), ==, 8);

  /* the desk's media flow both ways: 20 frames each, however long a
   * loaded machine takes for them (a fixed 6 s brought 19 at load 25) */
  peer_wait_line (alice, "active", 30);
  wait_media (alice, bob_desk, 20, 0, 0);
  g_subprocess_send_signal (alice->process, SIGINT);
  alice_result = peer_wait_result (alice, 30, NULL);
  desk_result = peer_wait_result (bob_desk, 20, NULL);
  g_assert_cmpint (member_int (alice_result, "reason"), ==, 3);
  g_assert_cmpint (member_int (desk_result, "reason"), ==, 13);
  g_assert_cmpint (member_int (alice_result, "videoFramesReceived"), >=, 20);
  g_assert_cmpint (member_int (desk_result, "videoFramesReceived"), >=, 20);
}

/* bob on two devices, only his phone rings (his desk runs `listen`, which
 * takes no calls); the phone dies while ringing: alice ends with 7 within
 * 10 s although bob stays online on his desk, not after the full 30. */
static void
test_ringing_device_vanishes (Fixture       *fixture,
                              gconstpointer  data)
{
  Peer *bob_phone = peer_start_device (fixture, "bob", "bob-phone", ARGS ("answer", "--ignore"), NULL);
  Peer *bob_desk = peer_start_device (fixture, "bob", "bob-desk", ARGS ("listen"), NULL);
  Peer *alice;
  g_autoptr(JsonObject) result = NULL;
  gint64 killed;

  wait_connected (fixture, 2);
  alice = peer_start (fixture, "alice", ARGS ("call", "bob", "--video"), NULL);
  peer_wait_line (alice, "ringing", 20);
  peer_wait_line (bob_phone, "incoming alice video", 5);

  g_subprocess_send_signal (bob_phone->process, SIGKILL);
  killed = g_get_monotonic_time ();
  result = peer_wait_result (alice, 40, NULL);
  g_test_message ("ringing device killed → ended after %" G_GINT64_FORMAT " ms",
                  (g_get_monotonic_time () - killed) / 1000);
  g_assert_cmpint (member_int (result, "reason"), ==, 7);
  g_assert_cmpint (g_get_monotonic_time () - killed, <=, 10 * G_USEC_PER_SEC);
  /* the desk was online all along: presence by user alone would have waited */
  g_assert_nonnull (g_subprocess_get_identifier (bob_desk->process));
}

static void
assert_missing (JsonObject         *result,
                const char * const *expected)
{
  JsonArray *missing;
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) names = NULL;
  g_autofree char *joined = NULL;
  g_autofree char *wanted = g_strjoinv (",", (char **) expected);

  g_assert_true (json_object_has_member (result, "missingDevices"));
  missing = json_object_get_array_member (result, "missingDevices");
  for (guint i = 0; i < json_array_get_length (missing); i++)
    g_strv_builder_add (builder, json_array_get_string_element (missing, i));
  names = g_strv_builder_end (builder);
  joined = g_strjoinv (",", names);
  g_assert_cmpstr (joined, ==, wanted);
}

/* The devices GStreamer would find are hidden from alice's natter-cli (its
 * device providers ranked out): on a machine without sound card and
 * camera, as this test's, that changes nothing; on others it makes one. */
#define NO_DEVICES \
  "NATTER_CALL_TEST_SOURCES", "", \
  "GST_PLUGIN_FEATURE_RANK", "pipewiredeviceprovider:NONE,pulsedeviceprovider:NONE," \
    "alsadeviceprovider:NONE,v4l2deviceprovider:NONE,uvch264deviceprovider:NONE," \
    "decklinkdeviceprovider:NONE,libcameraprovider:NONE,jackdeviceprovider:NONE," \
    "osxaudiodeviceprovider:NONE,avfdeviceprovider:NONE"

/* #15's bar: `natter-cli call bob --video --duration 5` from a side with
 * no camera, no microphone, no speaker and no test sources (the real
 * device path finds nothing) to an `answer --auto` with test sources: it
 * connects (silence and black frames go out), lasts ≥ 4 s, both sides
 * receive ≥ 30 video frames, and alice's result names what was missing. */
static void
test_no_devices (Fixture       *fixture,
                 gconstpointer  data)
{
  Peer *bob = peer_start (fixture, "bob", ARGS ("answer", "--auto", "--progress"), NULL);
  Peer *alice;
  g_autoptr(JsonObject) alice_result = NULL;
  g_autoptr(JsonObject) bob_result = NULL;
  int alice_status, bob_status;

  wait_connected (fixture, 1);
  alice = peer_start (fixture, "alice",
                      ARGS ("call", "bob", "--video", "--duration", LONG_CALL_SECONDS, "--progress"),
                      ARGS (NO_DEVICES));
  peer_wait_line (bob, "incoming alice video", 20);
  peer_wait_line (alice, "active", 30);
  /* the bar's 5 s call, lasting until its 30 frames both ways and bob's
   * 100 packets of alice's silence came, as a loaded machine may take
   * longer for them; then alice hangs up */
  wait_media (alice, bob, 30, 0, 5);
  wait_media (bob, bob, 0, 100, 0);
  g_subprocess_send_signal (alice->process, SIGINT);
  alice_result = peer_wait_result (alice, 40, &alice_status);
  bob_result = peer_wait_result (bob, 20, &bob_status);
  g_assert_true (peer_has_line (alice, "active"));
  g_assert_cmpint (alice_status, ==, 0);
  g_assert_cmpint (bob_status, ==, 0);
  g_assert_cmpint (member_int (alice_result, "reason"), ==, 3);
  g_assert_cmpint (member_int (bob_result, "reason"), ==, 13);
  g_assert_cmpint (member_int (alice_result, "duration"), >=, 4);
  g_assert_cmpint (member_int (alice_result, "videoFramesReceived"), >=, 30);
  g_assert_cmpint (member_int (bob_result, "videoFramesReceived"), >=, 30);
  /* alice's silence reaches bob as sound packets */
  g_assert_cmpint (member_int (bob_result, "audioBuffersReceived"), >=, 100);
  assert_missing (alice_result, ARGS ("microphone", "camera", "speaker"));
  assert_missing (bob_result, (const char * const[]) { NULL });
}

/* The same for a voice call: the camera is of no concern there. */
static void
test_no_devices_voice (Fixture       *fixture,
                       gconstpointer  data)
{
  Peer *bob = peer_start (fixture, "bob", ARGS ("answer", "--auto", "--progress"), NULL);
  Peer *alice;
  g_autoptr(JsonObject) alice_result = NULL;
  g_autoptr(JsonObject) bob_result = NULL;
  int alice_status;

  wait_connected (fixture, 1);
  alice = peer_start (fixture, "alice", ARGS ("call", "bob", "--duration", LONG_CALL_SECONDS, "--progress"),
                      ARGS (NO_DEVICES));
  peer_wait_line (alice, "active", 30);
  wait_media (alice, bob, 0, 60, 0);
  g_subprocess_send_signal (alice->process, SIGINT);
  alice_result = peer_wait_result (alice, 40, &alice_status);
  bob_result = peer_wait_result (bob, 20, NULL);
  g_assert_cmpint (alice_status, ==, 0);
  g_assert_cmpint (member_int (alice_result, "reason"), ==, 3);
  g_assert_cmpint (member_int (alice_result, "audioBuffersReceived"), >=, 60);
  g_assert_cmpint (member_int (bob_result, "audioBuffersReceived"), >=, 60);
  assert_missing (alice_result, ARGS ("microphone", "speaker"));
}

/* bob's microphone and camera fail (as unplugged ones do) a second into
 * the call: silence and black frames take their place, the call lasts its
 * five seconds and ends by alice's hangup, and bob's result names both. */
static void
test_devices_fail_mid_call (Fixture       *fixture,
                            gconstpointer  data)
{
  Peer *bob = peer_start (fixture, "bob", ARGS ("answer", "--auto"),
                          ARGS ("NATTER_CALL_TEST_MICROPHONE_FAILS_AFTER", "100",
                                "NATTER_CALL_TEST_CAMERA_FAILS_AFTER", "30"));
  Peer *alice;
  g_autoptr(JsonObject) alice_result = NULL;
  g_autoptr(JsonObject) bob_result = NULL;
  int alice_status, bob_status;

  wait_connected (fixture, 1);
  alice = peer_start (fixture, "alice",
                      ARGS ("call", "bob", "--video", "--duration", LONG_CALL_SECONDS, "--progress"), NULL);
  peer_wait_line (alice, "active", 30);
  /* five seconds at least, and the frames and packets asserted below */
  wait_media (alice, alice, 40, 120, 5);
  g_subprocess_send_signal (alice->process, SIGINT);
  alice_result = peer_wait_result (alice, 40, &alice_status);
  bob_result = peer_wait_result (bob, 20, &bob_status);
  g_assert_cmpint (alice_status, ==, 0);
  g_assert_cmpint (bob_status, ==, 0);
  g_assert_cmpint (member_int (alice_result, "reason"), ==, 3);
  g_assert_cmpint (member_int (bob_result, "reason"), ==, 13);
  g_assert_cmpint (member_int (alice_result, "duration"), >=, 4);
  /* black frames after the camera failed (30 frames = 1 s of camera),
   * silence after the microphone (100 buffers) */
  g_assert_cmpint (member_int (alice_result, "videoFramesReceived"), >=, 40);
  g_assert_cmpint (member_int (alice_result, "audioBuffersReceived"), >=, 120);
  assert_missing (bob_result, ARGS ("microphone", "camera"));
  assert_missing (alice_result, (const char * const[]) { NULL });
}

/* Until coturn listens and its auth threads run (it logs them, in this
 * order): relay candidates gathered before are none, and the call has no
 * media. Its start takes its time on a loaded machine. */
static void
wait_turnserver (const char *log_path)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  for (;;)
    {
      g_autofree char *log = NULL;
      const char *listening;

      if (g_file_get_contents (log_path, &log, NULL, NULL) &&
          (listening = strstr (log, "UDP listener opened on")) != NULL &&
          strstr (listening, "(auth thread)") != NULL)
        return;
      if (g_get_monotonic_time () > deadline)
        g_error ("coturn did not start within 30 s: %s", log != NULL ? log : "(no log)");
      g_usleep (50 * 1000);
    }
}

/* coturn on 127.0.0.1 with the REST secret natterd signs with. */
static void
test_relay_only (void)
{
  const char *secret = "natter-test-turn-secret";
  g_autoptr(GSocket) probe = NULL;
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSubprocess) turnserver = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *config = NULL;
  g_autofree char *port_arg = NULL;
  g_autofree char *log_dir = NULL;
  g_autofree char *log_path = NULL;
  g_autofree char *log_arg = NULL;
  g_autofree char *log = NULL;
  g_autofree char *remove = NULL;
  guint16 port;
  Fixture fixture = { 0, };

  /* A free UDP port for coturn. */
  probe = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error (error);
  g_socket_bind (probe, any, TRUE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (probe, &error);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_socket_close (probe, NULL);

  log_dir = g_dir_make_tmp ("natter-turn-XXXXXX", &error);
  g_assert_no_error (error);
  log_path = g_build_filename (log_dir, "turn.log", NULL);
  log_arg = g_strdup_printf ("--log-file=%s", log_path);
  port_arg = g_strdup_printf ("--listening-port=%u", port);
  turnserver = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                                 &error, "turnserver", "-n", "--no-cli", "--no-tls", "--no-dtls",
                                 "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1",
                                 port_arg, "--min-port=49200", "--max-port=49400",
                                 "--use-auth-secret", "--static-auth-secret=natter-test-turn-secret",
                                 "--realm=natter.test", "--allow-loopback-peers",
                                 "--no-multicast-peers", log_arg, "--simple-log", "--verbose",
                                 "--pidfile=/dev/null", NULL);
  g_assert_no_error (error);
  wait_turnserver (log_path);

  config = g_strdup_printf ("[turn]\nsecret=%s\nuris=turn:127.0.0.1:%u?transport=udp\nttl=600\n",
                            secret, port);
  fixture_setup_full (&fixture, config, NULL);
  check_video_call (&fixture, ARGS ("NATTER_CALL_ICE_POLICY", "relay"));
  fixture_teardown (&fixture, NULL);

  g_subprocess_send_signal (turnserver, SIGTERM);
  g_subprocess_wait (turnserver, NULL, NULL);

  /* The media really went through the relay: coturn allocated for both. */
  g_assert_true (g_file_get_contents (log_path, &log, NULL, NULL));
  g_assert_nonnull (strstr (log, "ALLOCATE processed, success"));
  g_assert_nonnull (strstr (log, "CREATE_PERMISSION processed, success"));
  remove = g_strdup_printf ("rm -rf '%s'", log_dir);
  g_assert_cmpint (system (remove), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  natter_test_enter_loopback_namespace (argc, argv);
  natter_test_stack_init ();
  g_test_init (&argc, &argv, NULL);
  g_test_message ("network: %s", g_getenv ("NATTER_CALL_NETNS") != NULL
                                   ? "own namespace with loopback only" : "the host's (not root)");

  g_test_add ("/call/cli/video-call", Fixture, NULL, fixture_setup, test_video_call, fixture_teardown);
  g_test_add ("/call/cli/reject", Fixture, NULL, fixture_setup, test_reject, fixture_teardown);
  g_test_add ("/call/cli/cancel", Fixture, NULL, fixture_setup, test_cancel, fixture_teardown);
  g_test_add ("/call/cli/busy", Fixture, NULL, fixture_setup, test_busy, fixture_teardown);
  g_test_add ("/call/cli/peer-killed", Fixture, NULL, fixture_setup, test_peer_killed, fixture_teardown);
  g_test_add ("/call/cli/caller-vanishes", Fixture, NULL, fixture_setup, test_caller_vanishes,
              fixture_teardown);
  g_test_add ("/call/cli/callee-offline", Fixture, NULL, fixture_setup, test_callee_offline,
              fixture_teardown);
  g_test_add ("/call/cli/callee-vanishes", Fixture, NULL, fixture_setup, test_callee_vanishes,
              fixture_teardown);
  g_test_add ("/call/cli/other-device", Fixture, "multi-device=true", fixture_setup_setting, test_other_device,
              fixture_teardown);
  g_test_add ("/call/cli/ringing-device-vanishes", Fixture, "multi-device=true", fixture_setup_setting,
              test_ringing_device_vanishes, fixture_teardown);
  g_test_add ("/call/cli/no-answer", Fixture, NULL, fixture_setup, test_no_answer, fixture_teardown);
  g_test_add ("/call/cli/hidden-callee", Fixture, "accounts=open", fixture_setup_setting, test_hidden_callee,
              fixture_teardown);
  g_test_add_func ("/call/cli/relay-only", test_relay_only);
  g_test_add ("/call/cli/no-devices", Fixture, NULL, fixture_setup, test_no_devices, fixture_teardown);
  g_test_add ("/call/cli/no-devices-voice", Fixture, NULL, fixture_setup, test_no_devices_voice,
              fixture_teardown);
  g_test_add ("/call/cli/devices-fail-mid-call", Fixture, NULL, fixture_setup, test_devices_fail_mid_call,
              fixture_teardown);

  return g_test_run ();
}
