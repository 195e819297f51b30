/* natter-cli-call.c — `natter-cli call` and `natter-cli answer`
 *
 *   natter-cli call TARGET [--video] [--duration S]
 *   natter-cli answer [--auto | --reject | --ignore] [--duration S]
 *
 * One line per state change ("dialing", "ringing", "incoming bob video ID",
 * "active", "ended 3 hangup"), then one JSON line:
 * {"callId","state","reason","mediaType","duration","setupMs",
 *  "videoFramesReceived","audioBuffersReceived"} (duration in seconds,
 * setupMs from the start of the call to the first decoded remote video
 * frame, audio for audio calls; -1 if none). The command returns once the
 * call's RC:VCSummary is stored. Exit status: 0 the call was connected,
 * 2 it ended before (rejected, busy, no answer...), 1 an error.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib-unix.h>
#include <gio/gunixinputstream.h>
#include <gst/gst.h>
#include <stdio.h>
#include <unistd.h>

#include "natter-call.h"
#include "natter-cli-call.h"

typedef enum {
  ANSWER_ASK,     /* read "y"/"n" from stdin */
  ANSWER_AUTO,
  ANSWER_REJECT,
  ANSWER_IGNORE,  /* let it ring out */
} AnswerMode;

typedef struct
{
  NatterCallManager *manager;
  NatterCall        *call;
  GMainLoop         *loop;
  double             duration;
  AnswerMode         answer_mode;
  gboolean           was_active;
  guint              hangup_id;
  int                status;
  GCancellable      *stdin_cancellable;
} CallRun;

static void
print_line (const char *format,
            ...) G_GNUC_PRINTF (1, 2);

static void
print_line (const char *format,
            ...)
{
  va_list args;

  va_start (args, format);
  vprintf (format, args);
  va_end (args);
  putchar ('\n');
  fflush (stdout);
}

static gboolean
hangup_now (gpointer user_data)
{
  CallRun *run = user_data;

  run->hangup_id = 0;
  if (run->call != NULL)
    natter_call_hangup (run->call);
  return G_SOURCE_REMOVE;
}

static void
on_state_changed (NatterCall      *call,
                  NatterCallState  new_state,
                  NatterCallState  old_state,
                  CallRun         *run)
{
  if (new_state == NATTER_CALL_STATE_ENDED)
    {
      NatterCallReason reason = natter_call_get_reason (call);
      print_line ("ended %d %s", reason, natter_call_reason_to_string (reason));
      g_clear_handle_id (&run->hangup_id, g_source_remove);
      g_cancellable_cancel (run->stdin_cancellable);
      return;
    }

  print_line ("%s", natter_call_state_to_string (new_state));
  if (new_state == NATTER_CALL_STATE_ACTIVE)
    {
      run->was_active = TRUE;
      if (run->duration > 0)
        run->hangup_id = g_timeout_add ((guint) (run->duration * 1000), hangup_now, run);
    }
}

static void
print_result (NatterCall *call)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *json = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "callId");
  json_builder_add_string_value (builder, natter_call_get_call_id (call));
  json_builder_set_member_name (builder, "state");
  json_builder_add_int_value (builder, natter_call_get_state (call));
  json_builder_set_member_name (builder, "reason");
  json_builder_add_int_value (builder, natter_call_get_reason (call));
  json_builder_set_member_name (builder, "mediaType");
  json_builder_add_int_value (builder, natter_call_get_media_type (call));
  json_builder_set_member_name (builder, "duration");
  json_builder_add_int_value (builder, (natter_call_get_duration (call) + 500) / 1000);
  json_builder_set_member_name (builder, "setupMs");
  json_builder_add_int_value (builder, natter_call_get_setup_time (call));
  json_builder_set_member_name (builder, "videoFramesReceived");
  json_builder_add_int_value (builder, natter_call_get_video_frames_received (call));
  json_builder_set_member_name (builder, "audioBuffersReceived");
  json_builder_add_int_value (builder, natter_call_get_audio_buffers_received (call));
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json = json_to_string (root, FALSE);
  print_line ("%s", json);
}

static void
on_call_finished (NatterCallManager *manager,
                  NatterCall        *call,
                  NatterMessage     *summary,
                  CallRun           *run)
{
  if (call != run->call)
    return;
  print_result (call);
  run->status = run->was_active ? 0 : 2;
  g_main_loop_quit (run->loop);
}

static gboolean
on_sigint (gpointer user_data)
{
  CallRun *run = user_data;

  if (run->call != NULL && natter_call_get_state (run->call) != NATTER_CALL_STATE_ENDED)
    natter_call_hangup (run->call);
  else
    {
      run->status = 1;
      g_main_loop_quit (run->loop);
    }
  return G_SOURCE_CONTINUE;
}

static void
on_answer_line (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  CallRun *run = user_data;
  g_autofree char *line = NULL;

  line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL, NULL);
  if (run->call == NULL || natter_call_get_state (run->call) != NATTER_CALL_STATE_INCOMING)
    return;
  if (line != NULL && (g_ascii_strcasecmp (g_strstrip (line), "y") == 0 ||
                       g_ascii_strcasecmp (line, "yes") == 0))
    natter_call_accept (run->call);
  else
    natter_call_reject (run->call);
}

static void
watch_call (CallRun    *run,
            NatterCall *call)
{
  run->call = g_object_ref (call);
  g_signal_connect (call, "state-changed", G_CALLBACK (on_state_changed), run);
}

static void
on_incoming_call (NatterCallManager *manager,
                  NatterCall        *call,
                  CallRun           *run)
{
  if (run->call != NULL)
    return;  /* the manager answers busy for us */

  watch_call (run, call);
  print_line ("incoming %s %s %s", natter_call_get_peer_id (call),
              natter_call_get_media_type (call) == NATTER_CALL_MEDIA_VIDEO ? "video" : "audio",
              natter_call_get_call_id (call));

  switch (run->answer_mode)
    {
    case ANSWER_AUTO:
      natter_call_accept (call);
      break;
    case ANSWER_REJECT:
      natter_call_reject (call);
      break;
    case ANSWER_IGNORE:
      break;
    case ANSWER_ASK:
    default:
      {
        g_autoptr(GInputStream) in = g_unix_input_stream_new (STDIN_FILENO, FALSE);
        g_autoptr(GDataInputStream) data = g_data_input_stream_new (in);

        printf ("answer? [y/N] ");
        fflush (stdout);
        g_data_input_stream_read_line_async (data, G_PRIORITY_DEFAULT, run->stdin_cancellable,
                                             on_answer_line, run);
      }
      break;
    }
}

static int
run_call (NatterClient *client,
          gboolean      answering,
          int           argc,
          char        **argv)
{
  gboolean video = FALSE, auto_answer = FALSE, reject = FALSE, ignore = FALSE;
  double duration = 0;
  const GOptionEntry entries[] = {
    { "video", 0, 0, G_OPTION_ARG_NONE, &video, "Video call (default: voice)", NULL },
    { "duration", 0, 0, G_OPTION_ARG_DOUBLE, &duration, "Hang up S seconds after the call connects", "S" },
    { "auto", 0, 0, G_OPTION_ARG_NONE, &auto_answer, "Accept the first incoming call", NULL },
    { "reject", 0, 0, G_OPTION_ARG_NONE, &reject, "Decline the first incoming call", NULL },
    { "ignore", 0, 0, G_OPTION_ARG_NONE, &ignore, "Let the first incoming call ring out", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) options = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(NatterCallManager) manager = NULL;
  g_autoptr(GCancellable) stdin_cancellable = g_cancellable_new ();
  CallRun run = { 0, };
  guint sigint_id, sigterm_id;

  options = g_option_context_new (answering ? "" : "TARGET");
  g_option_context_set_summary (options, answering
                                ? "Wait for a call and answer it (test sources with NATTER_CALL_TEST_SOURCES=1)."
                                : "Call TARGET (test sources with NATTER_CALL_TEST_SOURCES=1).");
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  if ((!answering && argc != 2) || (answering && (argc != 1 || video)) ||
      (!answering && (auto_answer || reject || ignore)) || auto_answer + reject + ignore > 1 ||
      duration < 0)
    {
      g_autofree char *help = g_option_context_get_help (options, TRUE, NULL);
      g_printerr ("%s", help);
      return 1;
    }

  gst_init (NULL, NULL);

  manager = natter_call_manager_new (client);
  run.manager = manager;
  run.loop = loop;
  run.duration = duration;
  run.status = 1;
  run.stdin_cancellable = stdin_cancellable;
  run.answer_mode = auto_answer ? ANSWER_AUTO : reject ? ANSWER_REJECT : ignore ? ANSWER_IGNORE : ANSWER_ASK;
  g_signal_connect (manager, "call-finished", G_CALLBACK (on_call_finished), &run);

  if (answering)
    g_signal_connect (manager, "incoming-call", G_CALLBACK (on_incoming_call), &run);
  else
    {
      NatterCall *call = natter_call_manager_start_call (manager, argv[1],
                                                         video ? NATTER_CALL_MEDIA_VIDEO
                                                               : NATTER_CALL_MEDIA_AUDIO,
                                                         &error);
      if (call == NULL)
        {
          g_printerr ("Cannot call %s: %s (%d)\n", argv[1], error->message, error->code);
          return 1;
        }
      watch_call (&run, call);
      print_line ("%s", natter_call_state_to_string (natter_call_get_state (call)));
    }

  sigint_id = g_unix_signal_add (SIGINT, on_sigint, &run);
  sigterm_id = g_unix_signal_add (SIGTERM, on_sigint, &run);
  g_main_loop_run (loop);
  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);

  if (run.call != NULL)
    {
      g_signal_handlers_disconnect_by_data (run.call, &run);
      g_clear_object (&run.call);
    }
  g_signal_handlers_disconnect_by_data (manager, &run);
  return run.status;
}

int
natter_cli_call_run (NatterClient  *client,
                     int            argc,
                     char         **argv)
{
  return run_call (client, FALSE, argc, argv);
}

int
natter_cli_answer_run (NatterClient  *client,
                       int            argc,
                       char         **argv)
{
  return run_call (client, TRUE, argc, argv);
}
