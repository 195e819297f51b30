/* natter-cli-call.c — `natter-cli call` and `natter-cli answer`
 *
 *   natter-cli call TARGET [--video] [--duration S] [--progress]
 *   natter-cli answer [--auto | --reject | --ignore] [--duration S] [--progress]
 *
 * --duration counts from the first decoded remote frame (audio for voice
 * calls), so the call shows S seconds of media however long ICE takes.
 * One line per state change ("dialing", "ringing", "incoming bob video ID",
 * "active", "ended 3 hangup"); with --progress, while active, a line
 * "frames VIDEO AUDIO" each second (the remote video frames and audio
 * buffers decoded so far: a test ends the call once enough came, however
 * slow the machine); then one JSON line:
 * {"callId","state","reason","mediaType","duration","setupMs",
 *  "videoFramesReceived","audioBuffersReceived","missingDevices","phases"} (duration
 * in seconds, setupMs from the start of the call to the first decoded
 * remote video frame, audio for audio calls, -1 if none; missingDevices
 * the devices the call went without: "microphone", "camera", "speaker";
 * phases: each phase of the setup reached, natter_call_phase_to_string()
 * → g_get_monotonic_time() in µs, comparable between the two peers'
 * processes on one machine: natter-call-bench takes the setup apart).
 * Without NATTER_CALL_TEST_SOURCES the real devices are used, and a
 * missing one is replaced by silence or black frames. The command returns once the
 * call's RC:VCSummary is stored. Exit status: 0 the call was connected,
 * 5 (refused) it ended before (rejected, busy, no answer...), 2 usage,
 * 1 it could not start, and the connect codes of natter-cli.h.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib-unix.h>
#include <gst/gst.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "natter-call.h"
#include "natter-call-media.h"
#include "natter-cli.h"

typedef enum {
  ANSWER_ASK,     /* read "y"/"n" from stdin */
  ANSWER_AUTO,
  ANSWER_REJECT,
  ANSWER_IGNORE,  /* let it ring out */
} AnswerMode;

typedef struct
{
  NatterCliContext  *ctx;
  NatterCallManager *manager;
  NatterCall        *call;
  double             duration;
  AnswerMode         answer_mode;
  gboolean           was_active;
  gboolean           progress;
  guint              progress_id;
  guint              hangup_id;
  guint              media_wait_id;
  guint              finish_id;
  guint              stdin_id;
  GString           *stdin_line;
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

/* --duration counts from the first decoded remote frame (first audio for
 * voice calls, as setupMs): ICE and DTLS may take seconds on a loaded
 * machine, and a call hung up before media flowed has shown nothing. If
 * media never comes the call's watchdog ends it. Polled because the call
 * has no signal for it; 50 ms is well below what a user can notice. */
static gboolean
wait_for_media (gpointer user_data)
{
  CallRun *run = user_data;

  if (run->call == NULL || natter_call_get_setup_time (run->call) < 0)
    return G_SOURCE_CONTINUE;
  run->media_wait_id = 0;
  run->hangup_id = g_timeout_add ((guint) (run->duration * 1000), hangup_now, run);
  return G_SOURCE_REMOVE;
}

static gboolean
print_progress (gpointer user_data)
{
  CallRun *run = user_data;

  if (run->call == NULL)
    return G_SOURCE_CONTINUE;
  print_line ("frames %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT,
              natter_call_get_video_frames_received (run->call),
              natter_call_get_audio_buffers_received (run->call));
  return G_SOURCE_CONTINUE;
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
      g_clear_handle_id (&run->media_wait_id, g_source_remove);
      g_clear_handle_id (&run->progress_id, g_source_remove);
      g_clear_handle_id (&run->stdin_id, g_source_remove);
      return;
    }

  print_line ("%s", natter_call_state_to_string (new_state));
  if (new_state == NATTER_CALL_STATE_ACTIVE)
    {
      run->was_active = TRUE;
      if (run->duration > 0 && run->media_wait_id == 0 && run->hangup_id == 0)
        run->media_wait_id = g_timeout_add (50, wait_for_media, run);
      if (run->progress && run->progress_id == 0)
        run->progress_id = g_timeout_add_seconds (1, print_progress, run);
    }
}

static void
print_result (NatterCall *call)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *json = NULL;
  g_auto(GStrv) missing = natter_call_get_missing_devices (call);

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
  json_builder_set_member_name (builder, "missingDevices");
  json_builder_begin_array (builder);
  for (guint i = 0; missing[i] != NULL; i++)
    json_builder_add_string_value (builder, missing[i]);
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "phases");
  json_builder_begin_object (builder);
  for (NatterCallPhase phase = 0; phase < NATTER_CALL_N_PHASES; phase++)
    if (natter_call_get_phase_time (call, phase) != 0)
      {
        json_builder_set_member_name (builder, natter_call_phase_to_string (phase));
        json_builder_add_int_value (builder, natter_call_get_phase_time (call, phase));
      }
  json_builder_end_object (builder);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json = json_to_string (root, FALSE);
  print_line ("%s", json);
}

static void watch_call (CallRun    *run,
                        NatterCall *call);

/* After the manager handled the event that ended our call: a call that
 * replaced it (we both dialled each other and the peer's call won) is
 * followed instead; otherwise we are done. */
static gboolean
finish_or_follow (gpointer user_data)
{
  CallRun *run = user_data;
  NatterCall *current = natter_call_manager_get_current_call (run->manager);

  run->finish_id = 0;
  if (current != NULL && current != run->call &&
      g_strcmp0 (natter_call_get_peer_id (current), natter_call_get_peer_id (run->call)) == 0)
    {
      g_signal_handlers_disconnect_by_data (run->call, run);
      g_clear_object (&run->call);
      watch_call (run, current);
      print_line ("%s", natter_call_state_to_string (natter_call_get_state (current)));
      if (natter_call_get_state (current) == NATTER_CALL_STATE_ACTIVE)
        on_state_changed (current, NATTER_CALL_STATE_ACTIVE, NATTER_CALL_STATE_INCOMING, run);
      return G_SOURCE_REMOVE;
    }

  print_result (run->call);
  natter_cli_finish (run->ctx, run->was_active ? NATTER_CLI_EXIT_OK : NATTER_CLI_EXIT_REFUSED);
  return G_SOURCE_REMOVE;
}

static void
on_call_finished (NatterCallManager *manager,
                  NatterCall        *call,
                  NatterMessage     *summary,
                  CallRun           *run)
{
  if (call != run->call || run->finish_id != 0)
    return;
  run->finish_id = g_idle_add (finish_or_follow, run);
}

static gboolean
on_sigint (gpointer user_data)
{
  CallRun *run = user_data;

  if (run->call != NULL && natter_call_get_state (run->call) != NATTER_CALL_STATE_ENDED)
    natter_call_hangup (run->call);
  else
    natter_cli_finish (run->ctx, NATTER_CLI_EXIT_FAILURE);
  return G_SOURCE_CONTINUE;
}

/* "y" or "yes" on stdin answers; anything else (or end of input) declines. */
static gboolean
on_stdin (int          fd,
          GIOCondition condition,
          gpointer     user_data)
{
  CallRun *run = user_data;
  char buffer[256];
  ssize_t n = read (fd, buffer, sizeof buffer);
  char *newline;

  if (n > 0)
    {
      g_string_append_len (run->stdin_line, buffer, n);
      if ((newline = strchr (run->stdin_line->str, '\n')) == NULL)
        return G_SOURCE_CONTINUE;
      *newline = '\0';
    }

  run->stdin_id = 0;
  if (run->call == NULL || natter_call_get_state (run->call) != NATTER_CALL_STATE_INCOMING)
    return G_SOURCE_REMOVE;
  g_strstrip (run->stdin_line->str);
  if (g_ascii_strcasecmp (run->stdin_line->str, "y") == 0 ||
      g_ascii_strcasecmp (run->stdin_line->str, "yes") == 0)
    natter_call_accept (run->call);
  else
    natter_call_reject (run->call);
  return G_SOURCE_REMOVE;
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
      printf ("answer? [y/N] ");
      fflush (stdout);
      g_string_truncate (run->stdin_line, 0);
      run->stdin_id = g_unix_fd_add (STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, run);
      break;
    }
}

static int
run_call (NatterCliContext  *ctx,
          gboolean           answering,
          int                argc,
          char             **argv)
{
  gboolean video = FALSE, auto_answer = FALSE, reject = FALSE, ignore = FALSE, progress = FALSE;
  double duration = 0;
  const GOptionEntry call_entries[] = {
    { "video", 0, 0, G_OPTION_ARG_NONE, &video, "Video call (default: voice)", NULL },
    { "duration", 0, 0, G_OPTION_ARG_DOUBLE, &duration, "Hang up S seconds after the first remote frame (audio for voice calls)", "S" },
    { "progress", 0, 0, G_OPTION_ARG_NONE, &progress, "While active, print \"frames VIDEO AUDIO\" (received so far) each second", NULL },
    { NULL }
  };
  const GOptionEntry answer_entries[] = {
    { "auto", 0, 0, G_OPTION_ARG_NONE, &auto_answer, "Accept the first incoming call", NULL },
    { "reject", 0, 0, G_OPTION_ARG_NONE, &reject, "Decline the first incoming call", NULL },
    { "ignore", 0, 0, G_OPTION_ARG_NONE, &ignore, "Let the first incoming call ring out", NULL },
    { "duration", 0, 0, G_OPTION_ARG_DOUBLE, &duration, "Hang up S seconds after the first remote frame (audio for voice calls)", "S" },
    { "progress", 0, 0, G_OPTION_ARG_NONE, &progress, "While active, print \"frames VIDEO AUDIO\" (received so far) each second", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) options = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterCallManager) manager = NULL;
  g_autoptr(GString) stdin_line = g_string_new (NULL);
  CallRun run = { 0, };
  guint sigint_id, sigterm_id;
  int code;

  options = g_option_context_new (answering
                                  ? "— wait for a call and answer it"
                                  : "TARGET — call TARGET");
  g_option_context_set_description (options,
                                    "NATTER_CALL_TEST_SOURCES=1 uses test sources instead of the "
                                    "camera and microphone. Missing devices are replaced by "
                                    "silence and black frames (\"missingDevices\").");
  g_option_context_add_main_entries (options, answering ? answer_entries : call_entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("%s: %s: %s\n", ctx->program, answering ? "answer" : "call", error->message);
      return NATTER_CLI_EXIT_USAGE;
    }
  if ((!answering && argc != 2) || (answering && argc != 1) ||
      auto_answer + reject + ignore > 1 || duration < 0)
    {
      g_autofree char *help = g_option_context_get_help (options, TRUE, NULL);
      g_printerr ("%s", help);
      return NATTER_CLI_EXIT_USAGE;
    }

  gst_init (NULL, NULL);
  /* The DTLS certificate is made while we connect. */
  natter_call_media_prepare ();
  code = natter_cli_context_connect (ctx);
  if (code != NATTER_CLI_EXIT_OK)
    return code;

  natter_call_media_prepare_finish ();
  manager = natter_call_manager_new (ctx->client);
  run.ctx = ctx;
  run.manager = manager;
  run.duration = duration;
  run.progress = progress;
  run.stdin_line = stdin_line;
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
          g_printerr ("%s: call %s: %s (%d)\n", ctx->program, argv[1], error->message, error->code);
          return error->code == NATTER_CODE_NOT_CONNECTED ? NATTER_CLI_EXIT_UNAVAILABLE
                                                          : NATTER_CLI_EXIT_FAILURE;
        }
      watch_call (&run, call);
      /* IDLE while it waits briefly for TURN credentials: "dialing" follows. */
      if (natter_call_get_state (call) != NATTER_CALL_STATE_IDLE)
        print_line ("%s", natter_call_state_to_string (natter_call_get_state (call)));
    }

  sigint_id = g_unix_signal_add (SIGINT, on_sigint, &run);
  sigterm_id = g_unix_signal_add (SIGTERM, on_sigint, &run);
  code = natter_cli_run (ctx, 0);
  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);

  g_clear_handle_id (&run.stdin_id, g_source_remove);
  g_clear_handle_id (&run.hangup_id, g_source_remove);
  g_clear_handle_id (&run.media_wait_id, g_source_remove);
  g_clear_handle_id (&run.progress_id, g_source_remove);
  g_clear_handle_id (&run.finish_id, g_source_remove);
  if (run.call != NULL)
    {
      g_signal_handlers_disconnect_by_data (run.call, &run);
      g_clear_object (&run.call);
    }
  g_signal_handlers_disconnect_by_data (manager, &run);
  return code;
}

int
natter_cli_call (NatterCliContext  *ctx,
                 int                argc,
                 char             **argv)
{
  return run_call (ctx, FALSE, argc, argv);
}

int
natter_cli_answer (NatterCliContext  *ctx,
                   int                argc,
                   char             **argv)
{
  return run_call (ctx, TRUE, argc, argv);
}
