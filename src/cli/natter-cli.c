/* natter-cli.c — a command-line client over libnatter
 *
 * natter-cli [--server URL --app-key KEY --token TOKEN --profile DIR] COMMAND ...
 *
 * Every received message prints as one line of JSON in the seed's message
 * format; errors go to stderr with their reference code, and the exit code
 * says what kind of failure it was (natter-cli.h, README).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-cli.h"
#include "natter-json.h"

#include <glib-unix.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_TIMEOUT 30

/* --------------------------------------------------------------- helpers */

int
natter_cli_exit_code_for (const GError *error)
{
  if (error == NULL)
    return NATTER_CLI_EXIT_OK;

  /* not connected, timed out, natterd failing for now: the outbox keeps it */
  if (natter_client_error_is_transient (error))
    return NATTER_CLI_EXIT_UNAVAILABLE;

  if (error->domain == NATTER_CLIENT_ERROR)
    {
      switch (error->code)
        {
        case NATTER_CODE_APP_KEY_REJECTED:
        case NATTER_CODE_TOKEN_INCORRECT:
        case NATTER_CODE_APP_KEY_MISMATCH:
        case NATTER_CODE_APP_BLOCKED:
        case NATTER_CODE_USER_BLOCKED:
        case NATTER_CODE_TOKEN_EXPIRED:
          return NATTER_CLI_EXIT_AUTH;
        case NATTER_CODE_KICKED_BY_OTHER_DEVICE:
          return NATTER_CLI_EXIT_KICKED;
        default:
          return NATTER_CLI_EXIT_REFUSED;
        }
    }

  if (error->domain == G_RESOLVER_ERROR ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_HOST_UNREACHABLE) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE))
    return NATTER_CLI_EXIT_UNAVAILABLE;

  return NATTER_CLI_EXIT_FAILURE;
}

void
natter_cli_finish (NatterCliContext *ctx,
                   int               code)
{
  if (ctx->done)
    return;
  ctx->exit_code = code;
  ctx->done = TRUE;
  g_main_context_wakeup (NULL);
}

void
natter_cli_fail (NatterCliContext *ctx,
                 const char       *what,
                 const GError     *error)
{
  g_printerr ("%s: %s: %s\n", ctx->program, what, error ? error->message : "failed");
  natter_cli_finish (ctx, error ? natter_cli_exit_code_for (error) : NATTER_CLI_EXIT_FAILURE);
}

static gboolean
run_timeout_cb (gpointer user_data)
{
  gboolean *expired = user_data;

  *expired = TRUE;
  return G_SOURCE_REMOVE;
}

int
natter_cli_run (NatterCliContext *ctx,
                int               timeout_s)
{
  gboolean expired = FALSE;
  guint source = 0;

  if (timeout_s > 0)
    source = g_timeout_add_seconds (timeout_s, run_timeout_cb, &expired);

  while (!ctx->done && !expired)
    g_main_context_iteration (NULL, TRUE);

  if (!ctx->done)
    {
      ctx->done = TRUE;
      ctx->exit_code = NATTER_CLI_EXIT_UNAVAILABLE;
      g_printerr ("%s: timed out after %d s\n", ctx->program, timeout_s);
    }
  else if (source != 0)
    {
      g_source_remove (source);
    }

  return ctx->exit_code;
}

void
natter_cli_print_json (JsonNode *node)
{
  g_autofree char *text = json_to_string (node, FALSE);

  fputs (text, stdout);
  fputc ('\n', stdout);
  fflush (stdout);
}

void
natter_cli_print_message (NatterMessage *message)
{
  g_autoptr(JsonNode) node = natter_message_to_json (message);

  natter_cli_print_json (node);
}

NatterConversationType
natter_cli_parse_type (const char *text)
{
  static const char * const names[] = {
    NULL, "private", "discussion", "group", "chatroom", "customer-service", "system",
    "app-public-service", "public-service",
  };
  char *end = NULL;
  gint64 number;

  if (text == NULL)
    return NATTER_CONVERSATION_PRIVATE;

  for (guint i = 1; i < G_N_ELEMENTS (names); i++)
    if (g_ascii_strcasecmp (text, names[i]) == 0)
      return i;

  number = g_ascii_strtoll (text, &end, 10);
  if (end != text && *end == '\0' && NATTER_CONVERSATION_TYPE_IS_VALID (number))
    return (NatterConversationType) number;

  return 0;
}

/* @latest: the full latest message (the conversation keeps a summary). */
static JsonNode *
conversation_to_json (NatterConversation *conversation,
                      NatterMessage      *latest)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  /* The reference's conversation object names where it has them. */
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "conversationType");
  json_builder_add_int_value (builder, natter_conversation_get_conversation_type (conversation));
  json_builder_set_member_name (builder, "targetId");
  json_builder_add_string_value (builder, natter_conversation_get_target_id (conversation));
  json_builder_set_member_name (builder, "conversationTitle");
  json_builder_add_string_value (builder, natter_conversation_get_title (conversation));
  json_builder_set_member_name (builder, "unreadMessageCount");
  json_builder_add_int_value (builder, natter_conversation_get_unread_count (conversation));
  json_builder_set_member_name (builder, "mentionedCount");
  json_builder_add_int_value (builder, natter_conversation_get_mention_count (conversation));
  json_builder_set_member_name (builder, "isTop");
  json_builder_add_boolean_value (builder, natter_conversation_get_pinned (conversation));
  json_builder_set_member_name (builder, "isMuted");
  json_builder_add_boolean_value (builder, natter_conversation_get_muted (conversation));
  json_builder_set_member_name (builder, "draft");
  json_builder_add_string_value (builder, natter_conversation_get_draft (conversation));
  json_builder_set_member_name (builder, "sentTime");
  json_builder_add_int_value (builder, natter_conversation_get_updated_time (conversation));
  json_builder_set_member_name (builder, "latestMessage");
  if (latest != NULL)
    json_builder_add_value (builder, natter_message_to_json (latest));
  else
    json_builder_add_null_value (builder);
  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

/* ------------------------------------------------------------- connecting */

/* The token crosses the network in the clear: said, not refused (a test
 * network or a VPN may be fine with it). */
static void
warn_if_unencrypted (NatterCliContext *ctx,
                     const char       *urls)
{
  g_auto(GStrv) list = urls != NULL ? g_strsplit (urls, ",", -1) : NULL;

  /* --server may name several nodes. */
  for (guint i = 0; list != NULL && list[i] != NULL; i++)
    {
      const char *url = g_strstrip (list[i]);

      if (natter_url_is_unencrypted_remote (url))
        g_printerr ("%s: warning: %s is not encrypted (http://): the token and the messages can be "
                    "read on the network; use https://\n", ctx->program, url);
    }
}

void
natter_cli_context_open (NatterCliContext *ctx)
{
  if (ctx->client != NULL)
    return;

  ctx->client = natter_client_new (ctx->server_url ? ctx->server_url : "http://127.0.0.1",
                                   ctx->app_key ? ctx->app_key : "none", ctx->profile_dir);
  natter_client_set_platform (ctx->client, "cli");
}

static void
connect_status_cb (NatterClient           *client,
                   NatterConnectionStatus  status,
                   NatterConnectionStatus  old_status,
                   const GError           *error,
                   NatterCliContext       *ctx)
{
  if (ctx->verbose)
    g_printerr ("%s: status %d%s%s\n", ctx->program, status, error ? ": " : "",
                error ? error->message : "");

  if (status == NATTER_CONNECTION_CONNECTED)
    natter_cli_finish (ctx, NATTER_CLI_EXIT_OK);
  else if (error != NULL)
    natter_cli_fail (ctx, "connect", error);
}

static void
token_fetched_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  NatterCliContext *ctx = user_data;
  g_autoptr(GError) error = NULL;

  ctx->token = natter_fetch_token_finish (result, &error);
  if (ctx->token == NULL)
    {
      g_printerr ("%s: token from the app server: %s\n", ctx->program, error->message);
      /* The app server said no (its code is in the message): a refused
       * login; unreachable: unavailable. */
      natter_cli_finish (ctx, error->domain == NATTER_CLIENT_ERROR ? NATTER_CLI_EXIT_AUTH
                                                                   : natter_cli_exit_code_for (error));
    }
  else
    natter_cli_finish (ctx, NATTER_CLI_EXIT_OK);
}

static int
ensure_token (NatterCliContext *ctx)
{
  int code;

  if (ctx->token != NULL)
    return NATTER_CLI_EXIT_OK;

  if (ctx->token_url == NULL || ctx->user_id == NULL)
    {
      g_printerr ("%s: give --token (or NATTER_TOKEN), or --token-url with --user\n", ctx->program);
      return NATTER_CLI_EXIT_USAGE;
    }

  warn_if_unencrypted (ctx, ctx->token_url);
  natter_fetch_token_async (ctx->token_url, ctx->user_id, NULL, NULL, token_fetched_cb, ctx);
  code = natter_cli_run (ctx, ctx->timeout);
  ctx->done = FALSE;
  return code;
}

int
natter_cli_context_connect (NatterCliContext *ctx)
{
  gulong handler;
  int code;

  if (ctx->server_url == NULL || ctx->app_key == NULL)
    {
      g_printerr ("%s: give --server and --app-key (or NATTER_SERVER, NATTER_APP_KEY)\n", ctx->program);
      return NATTER_CLI_EXIT_USAGE;
    }

  code = ensure_token (ctx);
  if (code != NATTER_CLI_EXIT_OK)
    return code;

  natter_cli_context_open (ctx);
  handler = g_signal_connect (ctx->client, "status-changed", G_CALLBACK (connect_status_cb), ctx);
  warn_if_unencrypted (ctx, ctx->server_url);
  natter_client_connect (ctx->client, ctx->token);
  code = natter_cli_run (ctx, ctx->timeout);
  g_signal_handler_disconnect (ctx->client, handler);
  ctx->done = FALSE;
  ctx->exit_code = 0;
  return code;
}

/* Status changes after connecting: a kick or refusal ends every command. */
static void
watch_status_cb (NatterClient           *client,
                 NatterConnectionStatus  status,
                 NatterConnectionStatus  old_status,
                 const GError           *error,
                 NatterCliContext       *ctx)
{
  if (ctx->verbose)
    g_printerr ("%s: status %d%s%s\n", ctx->program, status, error ? ": " : "",
                error ? error->message : "");
  if (error != NULL)
    natter_cli_fail (ctx, "connection", error);
}

/* -------------------------------------------------------------------- send */

static void
receipt_requested_cb (GObject      *object,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  NatterCliContext *ctx = user_data;
  g_autoptr(GError) error = NULL;

  if (!natter_client_request_read_receipts_finish (NATTER_CLIENT (object), result, &error))
    natter_cli_fail (ctx, "send --receipt", error);
  else
    natter_cli_finish (ctx, NATTER_CLI_EXIT_OK);
}

static void
sent_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  NatterCliContext *ctx = user_data;
  g_autoptr(NatterMessage) message = NULL;
  g_autoptr(GError) error = NULL;

  if (g_task_get_source_tag (G_TASK (result)) == natter_client_send_message_async)
    message = natter_client_send_message_finish (NATTER_CLIENT (object), result, &error);
  else
    message = natter_client_send_media_finish (NATTER_CLIENT (object), result, &error);

  if (message == NULL)
    {
      natter_cli_fail (ctx, "send", error);
      return;
    }

  natter_cli_print_message (message);
  if (ctx->request_receipts)
    {
      ctx->request_receipts = FALSE;
      natter_client_request_read_receipts_async (ctx->client, message, NULL, receipt_requested_cb, ctx);
      return;
    }
  natter_cli_finish (ctx, NATTER_CLI_EXIT_OK);
}

static void
connect_failed_cb (NatterClient           *client,
                   NatterConnectionStatus  status,
                   NatterConnectionStatus  old_status,
                   const GError           *error,
                   NatterCliContext       *ctx)
{
  if (error != NULL)
    natter_cli_fail (ctx, "connect", error);
}

typedef struct _MessageUpdate MessageUpdate;

/* send --reply-to, forward, recall, edit and react: a message as this
 * profile stored it, then a send to target_id (text only for a reply) or
 * an update. */
typedef struct {
  NatterCliContext *ctx;
  const MessageUpdate *update;
  NatterConversationType type;
  char *target_id;
  char *text;
  char *uid;
} StoredMessageJob;

static void
stored_message_job_free (StoredMessageJob *job)
{
  g_free (job->target_id);
  g_free (job->text);
  g_free (job->uid);
  g_free (job);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StoredMessageJob, stored_message_job_free)

static NatterMessage *
stored_message_job_finish (GObject          *object,
                           GAsyncResult     *result,
                           StoredMessageJob *job,
                           const char       *command)
{
  g_autoptr(GError) error = NULL;
  NatterMessage *message = natter_store_get_message_finish (NATTER_STORE (object), result, &error);

  if (message == NULL)
    {
      if (error == NULL)
        g_set_error (&error, NATTER_STORE_ERROR, NATTER_STORE_ERROR_NOT_FOUND,
                     "no message %s in this profile", job->uid);
      natter_cli_fail (job->ctx, command, error);
    }
  return message;
}

static void
reply_found_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(StoredMessageJob) data = user_data;
  g_autoptr(NatterMessage) quoted = NULL;
  g_autoptr(JsonObject) content = NULL;

  quoted = stored_message_job_finish (object, result, data, "send --reply-to");
  if (quoted == NULL)
    return;
  content = natter_message_new_reply_content (quoted, data->text);
  natter_client_send_message_async (data->ctx->client, data->type, data->target_id, NATTER_OBJECT_REFERENCE,
                                    content, NULL, sent_cb, data->ctx);
}

static int
cmd_send (NatterCliContext *ctx,
          int               argc,
          char            **argv)
{
  g_autofree char *type_name = NULL;
  g_autofree char *image = NULL;
  g_autofree char *file = NULL;
  g_autofree char *voice = NULL;
  g_autofree char *object_name = NULL;
  g_autofree char *content_json = NULL;
  g_autofree char *reply_to = NULL;
  gboolean expansion = FALSE;
  g_auto(GStrv) mentions = NULL;
  gboolean mention_all = FALSE;
  gboolean receipt = FALSE;
  int duration = 0;
  const GOptionEntry entries[] = {
    { "mention", 0, 0, G_OPTION_ARG_STRING_ARRAY, &mentions, "@mention this user (repeatable; mentionedInfo type 2)", "USER" },
    { "mention-all", 0, 0, G_OPTION_ARG_NONE, &mention_all, "@mention everyone (mentionedInfo type 1)", NULL },
    { "receipt", 0, 0, G_OPTION_ARG_NONE, &receipt, "Ask the group for read receipts (RC:RRReqMsg) once sent", NULL },
    { "expansion", 0, 0, G_OPTION_ARG_NONE, &expansion, "Let participants react (message expansion)", NULL },
    { "reply-to", 0, 0, G_OPTION_ARG_STRING, &reply_to, "Quote this stored message (RC:ReferenceMsg)", "UID" },
    { "type", 't', 0, G_OPTION_ARG_STRING, &type_name, "private (default), group, chatroom, … or 1-8", "TYPE" },
    { "image", 0, 0, G_OPTION_ARG_FILENAME, &image, "Send an image (thumbnail + upload)", "FILE" },
    { "file", 0, 0, G_OPTION_ARG_FILENAME, &file, "Send a file (upload)", "FILE" },
    { "voice", 0, 0, G_OPTION_ARG_FILENAME, &voice, "Send an Opus/Ogg voice message", "FILE" },
    { "duration", 0, 0, G_OPTION_ARG_INT, &duration, "Seconds of the voice message", "S" },
    { "object-name", 0, 0, G_OPTION_ARG_STRING, &object_name, "Send this object name with --content", "NAME" },
    { "content", 0, 0, G_OPTION_ARG_STRING, &content_json, "Message content as a JSON object", "JSON" },
    { NULL }
  };
  g_autoptr(GOptionContext) options = g_option_context_new ("TARGET [TEXT] — send a message");
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) content = NULL;
  gboolean persisted = TRUE;
  NatterConversationType type;
  int code;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("%s: send: %s\n", ctx->program, error->message);
      return NATTER_CLI_EXIT_USAGE;
    }

  type = natter_cli_parse_type (type_name);
  if (type == 0 || argc < 2 ||
      (argc < 3 && image == NULL && file == NULL && voice == NULL && content_json == NULL))
    {
      g_printerr ("%s: send TARGET TEXT (or --image/--file/--voice FILE, or --object-name N --content JSON)\n",
                  ctx->program);
      return NATTER_CLI_EXIT_USAGE;
    }

  if (content_json != NULL)
    {
      g_autoptr(JsonParser) parser = json_parser_new ();

      if (object_name == NULL ||
          !json_parser_load_from_data (parser, content_json, -1, NULL) ||
          !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        {
          g_printerr ("%s: send: --content needs a JSON object and --object-name\n", ctx->program);
          return NATTER_CLI_EXIT_USAGE;
        }
      content = json_object_ref (json_node_get_object (json_parser_get_root (parser)));
      persisted = (natter_object_name_flags (object_name, NATTER_MESSAGE_FLAG_PERSISTED |
                                                          NATTER_MESSAGE_FLAG_COUNTED) &
                   NATTER_MESSAGE_FLAG_PERSISTED) != 0;
    }

  if (persisted)
    {
      code = ensure_token (ctx);
      if (code != NATTER_CLI_EXIT_OK)
        return code;
      if (ctx->server_url == NULL || ctx->app_key == NULL)
        {
          g_printerr ("%s: give --server and --app-key (or NATTER_SERVER, NATTER_APP_KEY)\n", ctx->program);
          return NATTER_CLI_EXIT_USAGE;
        }

      /* The message goes to the outbox at once; it is published as soon as
       * a connection is up, now or by a later run with the same profile. */
      natter_cli_context_open (ctx);
      warn_if_unencrypted (ctx, ctx->server_url);
      natter_client_connect (ctx->client, ctx->token);
    }
  else
    {
      /* Status-only (typing, call signalling) and unstored (RC:CmdMsg)
       * messages have no outbox: they go out on a live connection or not
       * at all, so wait for it (--timeout, then exit 6). */
      code = natter_cli_context_connect (ctx);
      if (code != NATTER_CLI_EXIT_OK)
        {
          g_printerr ("%s: %s was not sent (it is not kept for later)\n", ctx->program, object_name);
          return code;
        }
    }
  g_signal_connect (ctx->client, "status-changed", G_CALLBACK (connect_failed_cb), ctx);

  if (image != NULL || file != NULL || voice != NULL)
    {
      g_autoptr(GFile) gfile = g_file_new_for_commandline_arg (image ? image : file ? file : voice);

      if (image != NULL)
        natter_client_send_image_async (ctx->client, type, argv[1], gfile, NULL, NULL, NULL, sent_cb, ctx);
      else if (file != NULL)
        natter_client_send_file_async (ctx->client, type, argv[1], gfile, NULL, NULL, NULL, sent_cb, ctx);
      else
        natter_client_send_voice_async (ctx->client, type, argv[1], gfile, duration, NULL, NULL, NULL,
                                        sent_cb, ctx);
    }
  else if (content != NULL)
    natter_client_send_message_async (ctx->client, type, argv[1], object_name, content, NULL, sent_cb, ctx);
  else if (reply_to != NULL)
    {
      StoredMessageJob *data = g_new0 (StoredMessageJob, 1);

      data->ctx = ctx;
      data->type = type;
      data->target_id = g_strdup (argv[1]);
      data->text = g_strdup (argv[2]);
      data->uid = g_strdup (reply_to);
      natter_store_get_message_by_uid_async (natter_client_get_store (ctx->client), reply_to, NULL,
                                             reply_found_cb, data);
    }
  else
    {
      g_autoptr(JsonObject) text = natter_content_new_text (argv[2]);

      /* natterd takes expansion updates for a message sent with the object. */
      if (expansion)
        json_object_set_object_member (text, "expansion", json_object_new ());
      if (mention_all || mentions != NULL)
        json_object_set_object_member (text, "mentionedInfo",
                                       natter_content_new_mentioned_info (mention_all,
                                                                          (const char * const *) mentions));
      ctx->request_receipts = receipt;
      natter_client_send_message_async (ctx->client, type, argv[1], NATTER_OBJECT_TEXT, text,
                                        NULL, sent_cb, ctx);
    }

  code = natter_cli_run (ctx, ctx->timeout);
  if (code == NATTER_CLI_EXIT_UNAVAILABLE && persisted)
    g_printerr ("%s: the message stays in the outbox of %s and goes with the next run\n",
                ctx->program, ctx->profile_dir ? ctx->profile_dir : "(memory)");
  return code;
}

/* ------------------------------------------------------------------ listen */

typedef struct {
  NatterCliContext *ctx;
  int remaining;                /* -1: forever */
  gboolean all;
} Listen;

static void
listen_message_cb (NatterClient  *client,
                   NatterMessage *message,
                   Listen        *listen)
{
  /* Typing and other status-only messages only with --all. */
  if (!listen->all && natter_message_is_status (message))
    return;

  natter_cli_print_message (message);
  if (listen->remaining > 0 && --listen->remaining == 0)
    natter_cli_finish (listen->ctx, NATTER_CLI_EXIT_OK);
}

static gboolean
quit_signal_cb (gpointer user_data)
{
  natter_cli_finish (user_data, NATTER_CLI_EXIT_OK);
  return G_SOURCE_REMOVE;
}

static int
cmd_listen (NatterCliContext *ctx,
            int               argc,
            char            **argv)
{
  int count = 0;
  int duration = 0;
  gboolean all = FALSE;
  const GOptionEntry entries[] = {
    { "count", 'n', 0, G_OPTION_ARG_INT, &count, "Exit after N messages", "N" },
    { "duration", 0, 0, G_OPTION_ARG_INT, &duration, "Exit after S seconds", "S" },
    { "all", 'a', 0, G_OPTION_ARG_NONE, &all, "Also print status-only messages (typing, call signalling) and presence changes", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) options = g_option_context_new ("— print every received message as a JSON line");
  g_autoptr(GError) error = NULL;
  Listen listen = { ctx, count > 0 ? count : -1, all };
  int code;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("%s: listen: %s\n", ctx->program, error->message);
      return NATTER_CLI_EXIT_USAGE;
    }
  listen.remaining = count > 0 ? count : -1;
  listen.all = all;

  natter_cli_context_open (ctx);
  /* Offline messages arrive right after the connect: listen before it. */
  g_signal_connect (ctx->client, "message-received", G_CALLBACK (listen_message_cb), &listen);
  if (all)
    natter_cli_watch_presence (ctx);

  code = natter_cli_context_connect (ctx);
  if (code != NATTER_CLI_EXIT_OK)
    return code;

  /* Lines printed so far are the offline replay; it may still be running. */
  g_signal_connect (ctx->client, "status-changed", G_CALLBACK (watch_status_cb), ctx);
  g_unix_signal_add (SIGINT, quit_signal_cb, ctx);
  g_unix_signal_add (SIGTERM, quit_signal_cb, ctx);

  if (listen.remaining == 0)
    return NATTER_CLI_EXIT_OK;

  /* --duration: the time being up is how listening ends, not an error. */
  if (duration > 0)
    g_timeout_add_seconds (duration, quit_signal_cb, ctx);
  return natter_cli_run (ctx, 0);
}

/* ----------------------------------------------------------------- history */

static void
history_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  NatterCliContext *ctx = user_data;
  g_autoptr(GPtrArray) messages = NULL;
  g_autoptr(GError) error = NULL;

  if (g_task_get_source_tag (G_TASK (result)) == natter_client_get_history_async)
    messages = natter_client_get_history_finish (NATTER_CLIENT (object), result, NULL, &error);
  else
    messages = natter_store_get_messages_finish (NATTER_STORE (object), result, &error);

  if (messages == NULL)
    {
      natter_cli_fail (ctx, "history", error);
      return;
    }

  for (guint i = 0; i < messages->len; i++)
    natter_cli_print_message (g_ptr_array_index (messages, i));
  natter_cli_finish (ctx, NATTER_CLI_EXIT_OK);
}

static int
cmd_history (NatterCliContext *ctx,
             int               argc,
             char            **argv)
{
  g_autofree char *type_name = NULL;
  gint64 before = 0;
  int count = 20;
  gboolean local = FALSE;
  const GOptionEntry entries[] = {
    { "type", 't', 0, G_OPTION_ARG_STRING, &type_name, "Conversation type", "TYPE" },
    { "before", 'b', 0, G_OPTION_ARG_INT64, &before, "Messages sent before this time (ms); 0 = newest", "TS" },
    { "count", 'n', 0, G_OPTION_ARG_INT, &count, "How many (2-20 from the server)", "N" },
    { "local", 'l', 0, G_OPTION_ARG_NONE, &local, "From the local store only, no connection", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) options = g_option_context_new ("TARGET — history of a conversation, oldest first");
  g_autoptr(GError) error = NULL;
  NatterConversationType type;
  int code;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("%s: history: %s\n", ctx->program, error->message);
      return NATTER_CLI_EXIT_USAGE;
    }
  type = natter_cli_parse_type (type_name);
  if (argc != 2 || type == 0 || count < 1)
    {
      g_printerr ("%s: history TARGET [--type TYPE] [--before TS] [--count N] [--local]\n", ctx->program);
      return NATTER_CLI_EXIT_USAGE;
    }

  if (local)
    {
      natter_cli_context_open (ctx);
      natter_store_get_messages_async (natter_client_get_store (ctx->client), type, argv[1], before,
                                       before > 0 ? G_MAXINT64 : 0, count, NULL, history_cb, ctx);
      return natter_cli_run (ctx, ctx->timeout);
    }

  if (count < NATTER_HISTORY_MIN_COUNT || count > NATTER_HISTORY_MAX_COUNT)
    {
      g_printerr ("%s: history: the server gives 2 to 20 messages a page\n", ctx->program);
      return NATTER_CLI_EXIT_USAGE;
    }

  code = natter_cli_context_connect (ctx);
  if (code != NATTER_CLI_EXIT_OK)
    return code;
  g_signal_connect (ctx->client, "status-changed", G_CALLBACK (watch_status_cb), ctx);
  natter_client_get_history_async (ctx->client, type, argv[1], before, count, NULL, history_cb, ctx);
  return natter_cli_run (ctx, ctx->timeout);
}

/* ----------------------------------------------------------- conversations */

typedef struct {
  NatterCliContext *ctx;
  GPtrArray *conversations;
  guint next;
} PrintConversations;

static void print_next_conversation (PrintConversations *print);

static void
latest_loaded_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  PrintConversations *print = user_data;
  g_autoptr(NatterMessage) latest = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GError) error = NULL;

  latest = natter_store_get_message_finish (NATTER_STORE (object), result, &error);
  if (error != NULL)
    {
      natter_cli_fail (print->ctx, "conversations", error);
      g_ptr_array_unref (print->conversations);
      g_free (print);
      return;
    }
  node = conversation_to_json (g_ptr_array_index (print->conversations, print->next - 1), latest);
  natter_cli_print_json (node);
  print_next_conversation (print);
}

/* One after the other, each with its full latest message. */
static void
print_next_conversation (PrintConversations *print)
{
  while (print->next < print->conversations->len)
    {
      NatterConversation *conversation = g_ptr_array_index (print->conversations, print->next++);
      NatterMessage *latest = natter_conversation_get_latest_message (conversation);
      g_autoptr(JsonNode) node = NULL;

      if (latest != NULL)
        {
          natter_store_get_message_async (natter_client_get_store (print->ctx->client),
                                          natter_message_get_message_id (latest), NULL,
                                          latest_loaded_cb, print);
          return;
        }
      node = conversation_to_json (conversation, NULL);
      natter_cli_print_json (node);
    }

  natter_cli_finish (print->ctx, NATTER_CLI_EXIT_OK);
  g_ptr_array_unref (print->conversations);
  g_free (print);
}

static void
conversations_listed_cb (GObject      *object,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  NatterCliContext *ctx = user_data;
  g_autoptr(GPtrArray) conversations = NULL;
  g_autoptr(GError) error = NULL;
  PrintConversations *print;

  conversations = natter_store_get_conversations_finish (NATTER_STORE (object), result, &error);
  if (conversations == NULL)
    {
      natter_cli_fail (ctx, "conversations", error);
      return;
    }

  print = g_new0 (PrintConversations, 1);
  print->ctx = ctx;
  print->conversations = g_steal_pointer (&conversations);
  print_next_conversation (print);
}

typedef struct {
  NatterCliContext *ctx;
  NatterConversationType types[8];
  gsize n_types;
  gboolean syncing;
} ListConversations;

static void
list_conversations (ListConversations *list)
{
  natter_store_get_conversations_async (natter_client_get_store (list->ctx->client), list->types,
                                        list->n_types, NULL, conversations_listed_cb, list->ctx);
}

static void
conversations_synced_cb (GObject      *object,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  ListConversations *list = user_data;
  g_autoptr(GError) error = NULL;

  natter_client_sync_conversations_finish (NATTER_CLIENT (object), result, &error);
  if (error != NULL)
    {
      natter_cli_fail (list->ctx, "conversations", error);
      return;
    }
  list_conversations (list);
}

/* Group timelines are synced once caught up (natter.v2): their messages and
 * unread counts are in the store before the list is. */
static void
conversations_caught_up_cb (NatterClient      *client,
                            GParamSpec        *pspec,
                            ListConversations *list)
{
  if (!natter_client_get_caught_up (client) || list->syncing)
    return;
  list->syncing = TRUE;
  natter_client_sync_conversations_async (client, NULL, conversations_synced_cb, list);
}

static int
cmd_conversations (NatterCliContext *ctx,
                   int               argc,
                   char            **argv)
{
  g_auto(GStrv) type_names = NULL;
  gboolean local = FALSE;
  const GOptionEntry entries[] = {
    { "type", 't', 0, G_OPTION_ARG_STRING_ARRAY, &type_names, "Only this type (repeatable)", "TYPE" },
    { "local", 'l', 0, G_OPTION_ARG_NONE, &local, "From the local store only, no connection", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) options = g_option_context_new ("— the conversation list, pinned first then newest");
  g_autoptr(GError) error = NULL;
  ListConversations list = { ctx };
  int code;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error) || argc != 1)
    {
      g_printerr ("%s: conversations [--type TYPE]... [--local]%s%s\n", ctx->program,
                  error ? ": " : "", error ? error->message : "");
      return NATTER_CLI_EXIT_USAGE;
    }

  for (guint i = 0; type_names != NULL && type_names[i] != NULL && list.n_types < 8; i++)
    {
      NatterConversationType type = natter_cli_parse_type (type_names[i]);

      if (type == 0)
        {
          g_printerr ("%s: conversations: unknown type %s\n", ctx->program, type_names[i]);
          return NATTER_CLI_EXIT_USAGE;
        }
      list.types[list.n_types++] = type;
    }

  if (local)
    {
      natter_cli_context_open (ctx);
      list_conversations (&list);
      return natter_cli_run (ctx, ctx->timeout);
    }

  code = natter_cli_context_connect (ctx);
  if (code != NATTER_CLI_EXIT_OK)
    return code;
  g_signal_connect (ctx->client, "status-changed", G_CALLBACK (watch_status_cb), ctx);
  g_signal_connect (ctx->client, "notify::caught-up", G_CALLBACK (conversations_caught_up_cb), &list);
  conversations_caught_up_cb (ctx->client, NULL, &list);
  code = natter_cli_run (ctx, ctx->timeout);
  g_signal_handlers_disconnect_by_data (ctx->client, &list);
  return code;
}

/* ------------------------------------------------------------------ search */

static void
searched_cb (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  NatterCliContext *ctx = user_data;
  g_autoptr(GPtrArray) messages = NULL;
  g_autoptr(GError) error = NULL;

  messages = natter_store_search_finish (NATTER_STORE (object), result, &error);
  if (messages == NULL)
    {
      natter_cli_fail (ctx, "search", error);
      return;
    }

  for (guint i = 0; i < messages->len; i++)
    natter_cli_print_message (g_ptr_array_index (messages, i));
  natter_cli_finish (ctx, NATTER_CLI_EXIT_OK);
}

static int
cmd_search (NatterCliContext *ctx,
            int               argc,
            char            **argv)
{
  int limit = 50;
  g_autofree char *type_name = NULL;
  g_autofree char *target = NULL;
  const GOptionEntry entries[] = {
    { "limit", 'n', 0, G_OPTION_ARG_INT, &limit, "At most N results (default 50)", "N" },
    { "type", 't', 0, G_OPTION_ARG_STRING, &type_name, "Only in a conversation of this type…", "TYPE" },
    { "target", 0, 0, G_OPTION_ARG_STRING, &target, "… with this target", "ID" },
    { NULL }
  };
  g_autoptr(GOptionContext) options = g_option_context_new ("TEXT — full-text search of the local store, newest first");
  g_autoptr(GError) error = NULL;
  g_autofree char *query = NULL;
  NatterConversationType type = 0;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error) || argc < 2 || limit < 1 ||
      (target != NULL && (type = natter_cli_parse_type (type_name)) == 0))
    {
      g_printerr ("%s: search TEXT [--limit N] [--type TYPE --target ID]\n", ctx->program);
      return NATTER_CLI_EXIT_USAGE;
    }

  query = g_strjoinv (" ", argv + 1);
  natter_cli_context_open (ctx);
  natter_store_search_async (natter_client_get_store (ctx->client), query, target ? type : 0, target,
                             limit, NULL, searched_cb, ctx);
  return natter_cli_run (ctx, ctx->timeout);
}

/* --------------------------------------------------------------- chatrooms */

typedef struct {
  NatterCliContext *ctx;
  char *chatroom_id;
  gboolean listen;
} Chatroom;

static void
chatroom_message_cb (NatterClient  *client,
                     NatterMessage *message,
                     Chatroom      *room)
{
  if (natter_message_get_conversation_type (message) == NATTER_CONVERSATION_CHATROOM &&
      g_strcmp0 (natter_message_get_target_id (message), room->chatroom_id) == 0 &&
      !natter_message_is_status (message))
    natter_cli_print_message (message);
}

static void
chatroom_event_cb (NatterClient *client,
                   const char   *chatroom_id,
                   int           code,
                   Chatroom     *room)
{
  if (g_strcmp0 (chatroom_id, room->chatroom_id) == 0)
    {
      g_autoptr(GError) error = g_error_new (NATTER_CLIENT_ERROR, code, "%s (%d)",
                                             natter_code_to_string (code), code);
      natter_cli_fail (room->ctx, room->chatroom_id, error);
    }
}

static void
joined_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  Chatroom *room = user_data;
  g_autoptr(GPtrArray) messages = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) node = NULL;
  guint members = 0;

  messages = natter_client_join_chatroom_finish (NATTER_CLIENT (object), result, &members, &error);
  if (messages == NULL)
    {
      natter_cli_fail (room->ctx, "join-chatroom", error);
      return;
    }

  for (guint i = 0; i < messages->len; i++)
    natter_cli_print_message (g_ptr_array_index (messages, i));

  /* Last line: the room. */
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "chatroomId");
  json_builder_add_string_value (builder, room->chatroom_id);
  json_builder_set_member_name (builder, "memberCount");
  json_builder_add_int_value (builder, members);
  json_builder_set_member_name (builder, "messageCount");
  json_builder_add_int_value (builder, messages->len);
  json_builder_end_object (builder);
  node = json_builder_get_root (builder);
  natter_cli_print_json (node);

  if (!room->listen)
    natter_cli_finish (room->ctx, NATTER_CLI_EXIT_OK);
  else
    g_signal_connect (object, "message-received", G_CALLBACK (chatroom_message_cb), room);
}

static int
cmd_join_chatroom (NatterCliContext *ctx,
                   int               argc,
                   char            **argv)
{
  int count = 10;
  gboolean listen = FALSE;
  const GOptionEntry entries[] = {
    { "count", 'n', 0, G_OPTION_ARG_INT, &count, "Recent messages wanted, -1 (none) to 50; default 10", "N" },
    { "listen", 0, 0, G_OPTION_ARG_NONE, &listen, "Stay and print the room's messages", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) options = g_option_context_new ("ID — join a chatroom (created on first join)");
  g_autoptr(GError) error = NULL;
  Chatroom room = { ctx };
  int code;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error) || argc != 2 ||
      count < -1 || count > NATTER_CHATROOM_JOIN_MAX_COUNT)
    {
      g_printerr ("%s: join-chatroom ID [--count -1..50] [--listen]\n", ctx->program);
      return NATTER_CLI_EXIT_USAGE;
    }

  room.chatroom_id = argv[1];
  room.listen = listen;

  code = natter_cli_context_connect (ctx);
  if (code != NATTER_CLI_EXIT_OK)
    return code;
  g_signal_connect (ctx->client, "status-changed", G_CALLBACK (watch_status_cb), ctx);
  g_signal_connect (ctx->client, "chatroom-event", G_CALLBACK (chatroom_event_cb), &room);
  g_unix_signal_add (SIGINT, quit_signal_cb, ctx);
  g_unix_signal_add (SIGTERM, quit_signal_cb, ctx);
  natter_client_join_chatroom_async (ctx->client, room.chatroom_id, count, NULL, joined_cb, &room);
  return natter_cli_run (ctx, listen ? 0 : ctx->timeout);
}

static void
boolean_done_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  NatterCliContext *ctx = user_data;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  if (g_task_get_source_tag (G_TASK (result)) == natter_client_quit_chatroom_async)
    ok = natter_client_quit_chatroom_finish (NATTER_CLIENT (object), result, &error);
  else if (g_task_get_source_tag (G_TASK (result)) == natter_client_clear_history_async)
    ok = natter_client_clear_history_finish (NATTER_CLIENT (object), result, &error);
  else if (g_task_get_source_tag (G_TASK (result)) == natter_client_send_read_receipts_async)
    ok = natter_client_send_read_receipts_finish (NATTER_CLIENT (object), result, &error);
  else if (g_task_get_source_tag (G_TASK (result)) == natter_client_clear_unread_async)
    ok = natter_client_clear_unread_finish (NATTER_CLIENT (object), result, &error);
  else
    ok = natter_client_update_conversation_finish (NATTER_CLIENT (object), result, &error);

  if (!ok)
    natter_cli_fail (ctx, "request", error);
  else
    natter_cli_finish (ctx, NATTER_CLI_EXIT_OK);
}

static int
cmd_quit_chatroom (NatterCliContext *ctx,
                   int               argc,
                   char            **argv)
{
  int code;

  if (argc != 2)
    {
      g_printerr ("%s: quit-chatroom ID\n", ctx->program);
      return NATTER_CLI_EXIT_USAGE;
    }

  code = natter_cli_context_connect (ctx);
  if (code != NATTER_CLI_EXIT_OK)
    return code;
  natter_client_quit_chatroom_async (ctx->client, argv[1], NULL, boolean_done_cb, ctx);
  return natter_cli_run (ctx, ctx->timeout);
}

/* ---------------------------------------------- read, recall, pin, online */

static int
parse_target (NatterCliContext        *ctx,
              const char              *command,
              int                     *argc,
              char                  ***argv,
              NatterConversationType  *type)
{
  g_autofree char *type_name = NULL;
  const GOptionEntry entries[] = {
    { "type", 't', 0, G_OPTION_ARG_STRING, &type_name, "Conversation type", "TYPE" },
    { NULL }
  };
  g_autoptr(GOptionContext) options = g_option_context_new ("TARGET");
  g_autoptr(GError) error = NULL;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, argc, argv, &error) || *argc != 2 ||
      (*type = natter_cli_parse_type (type_name)) == 0)
    {
      g_printerr ("%s: %s TARGET [--type TYPE]\n", ctx->program, command);
      return NATTER_CLI_EXIT_USAGE;
    }
  return NATTER_CLI_EXIT_OK;
}

static int
cmd_clear_unread (NatterCliContext *ctx,
                  int               argc,
                  char            **argv)
{
  NatterConversationType type;
  int code = parse_target (ctx, "clear-unread", &argc, &argv, &type);

  if (code != NATTER_CLI_EXIT_OK || (code = natter_cli_context_connect (ctx)) != NATTER_CLI_EXIT_OK)
    return code;
  natter_client_clear_unread_async (ctx->client, type, argv[1], NULL, boolean_done_cb, ctx);
  return natter_cli_run (ctx, ctx->timeout);
}

static int
cmd_clear_history (NatterCliContext *ctx,
                   int               argc,
                   char            **argv)
{
  NatterConversationType type;
  int code = parse_target (ctx, "clear-history", &argc, &argv, &type);

  if (code != NATTER_CLI_EXIT_OK || (code = natter_cli_context_connect (ctx)) != NATTER_CLI_EXIT_OK)
    return code;
  natter_client_clear_history_async (ctx->client, type, argv[1], NULL, boolean_done_cb, ctx);
  return natter_cli_run (ctx, ctx->timeout);
}

static void
receipt_messages_cb (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  NatterCliContext *ctx = user_data;
  g_autoptr(GPtrArray) messages = NULL;
  g_autoptr(GError) error = NULL;

  messages = natter_store_get_messages_finish (NATTER_STORE (object), result, &error);
  if (messages == NULL)
    {
      natter_cli_fail (ctx, "send-receipts", error);
      return;
    }
  natter_client_send_read_receipts_async (ctx->client, messages, NULL, boolean_done_cb, ctx);
}

/* Answers the read receipt requests among the conversation's last 100
 * messages stored in this profile (run `sync` or `listen` first). */
static int
cmd_send_receipts (NatterCliContext *ctx,
                   int               argc,
                   char            **argv)
{
  NatterConversationType type;
  int code = parse_target (ctx, "send-receipts", &argc, &argv, &type);

  if (code != NATTER_CLI_EXIT_OK || (code = natter_cli_context_connect (ctx)) != NATTER_CLI_EXIT_OK)
    return code;
  natter_store_get_messages_async (natter_client_get_store (ctx->client), type, argv[1], 0, 0, 100, NULL,
                                   receipt_messages_cb, ctx);
  return natter_cli_run (ctx, ctx->timeout);
}

static int
conversation_action (NatterCliContext         *ctx,
                     const char               *command,
                     NatterConversationAction  action,
                     int                       argc,
                     char                    **argv)
{
  NatterConversationType type;
  int code = parse_target (ctx, command, &argc, &argv, &type);

  if (code != NATTER_CLI_EXIT_OK || (code = natter_cli_context_connect (ctx)) != NATTER_CLI_EXIT_OK)
    return code;
  natter_client_update_conversation_async (ctx->client, type, argv[1], action, NULL,
                                           boolean_done_cb, ctx);
  return natter_cli_run (ctx, ctx->timeout);
}

static int
cmd_pin (NatterCliContext *ctx, int argc, char **argv)
{
  return conversation_action (ctx, "pin", NATTER_CONVERSATION_ACTION_PIN, argc, argv);
}

static int
cmd_unpin (NatterCliContext *ctx, int argc, char **argv)
{
  return conversation_action (ctx, "unpin", NATTER_CONVERSATION_ACTION_UNPIN, argc, argv);
}

static int
cmd_mute (NatterCliContext *ctx, int argc, char **argv)
{
  return conversation_action (ctx, "mute", NATTER_CONVERSATION_ACTION_MUTE, argc, argv);
}

static int
cmd_unmute (NatterCliContext *ctx, int argc, char **argv)
{
  return conversation_action (ctx, "unmute", NATTER_CONVERSATION_ACTION_UNMUTE, argc, argv);
}

static int
cmd_remove (NatterCliContext *ctx, int argc, char **argv)
{
  return conversation_action (ctx, "remove", NATTER_CONVERSATION_ACTION_REMOVE, argc, argv);
}

/* ------------------------------------------------ recall, edit, react */

/* recall, edit, react and unreact: a message of this profile's store,
 * changed through the client, printed as it is then. */
struct _MessageUpdate {
  const char *command;
  const char *usage;            /* after "COMMAND MESSAGE_UID" */
  int         argc;
  void (*start) (StoredMessageJob *job, NatterMessage *message, GAsyncReadyCallback callback);
  NatterMessage *(*finish) (NatterClient *client, GAsyncResult *result, GError **error);
};

static void
message_updated_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(StoredMessageJob) job = user_data;
  g_autoptr(NatterMessage) message = NULL;
  g_autoptr(GError) error = NULL;

  message = job->update->finish (NATTER_CLIENT (object), result, &error);
  if (message == NULL)
    {
      natter_cli_fail (job->ctx, job->update->command, error);
      return;
    }
  natter_cli_print_message (message);
  natter_cli_finish (job->ctx, NATTER_CLI_EXIT_OK);
}

static void
update_found_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  StoredMessageJob *job = user_data;
  g_autoptr(NatterMessage) message = stored_message_job_finish (object, result, job, job->update->command);

  if (message == NULL)
    {
      stored_message_job_free (job);
      return;
    }
  job->update->start (job, message, message_updated_cb);
}

static int
update_message (NatterCliContext    *ctx,
                const MessageUpdate *update,
                int                  argc,
                char               **argv)
{
  StoredMessageJob *job;
  int code;

  if (argc != update->argc)
    {
      g_printerr ("%s: %s MESSAGE_UID%s\n", ctx->program, update->command, update->usage);
      return NATTER_CLI_EXIT_USAGE;
    }

  code = natter_cli_context_connect (ctx);
  if (code != NATTER_CLI_EXIT_OK)
    return code;
  job = g_new0 (StoredMessageJob, 1);
  job->ctx = ctx;
  job->update = update;
  job->uid = g_strdup (argv[1]);
  job->text = g_strdup (argv[2]);
  natter_store_get_message_by_uid_async (natter_client_get_store (ctx->client), argv[1], NULL,
                                         update_found_cb, job);
  return natter_cli_run (ctx, ctx->timeout);
}

static void
recall_start (StoredMessageJob    *job,
              NatterMessage       *message,
              GAsyncReadyCallback  callback)
{
  natter_client_recall_message_async (job->ctx->client, message, NULL, callback, job);
}

static void
edit_start (StoredMessageJob    *job,
            NatterMessage       *message,
            GAsyncReadyCallback  callback)
{
  g_autoptr(JsonObject) content = natter_content_new_text (job->text);

  natter_client_edit_message_async (job->ctx->client, message, content, NULL, callback, job);
}

/* react adds the emoji, unreact takes it back. */
static void
react_start (StoredMessageJob    *job,
             NatterMessage       *message,
             GAsyncReadyCallback  callback)
{
  gboolean add = g_strcmp0 (job->update->command, "react") == 0;

  natter_client_react_async (job->ctx->client, message, job->text, add, NULL, callback, job);
}

static const MessageUpdate recall_update = {
  "recall", " (a message of yours stored in this profile)", 2,
  recall_start, natter_client_recall_message_finish
};
static const MessageUpdate edit_update = {
  "edit", " TEXT (a text message of yours stored in this profile)", 3,
  edit_start, natter_client_edit_message_finish
};
static const MessageUpdate react_update = {
  "react", " EMOJI (a message sent with --expansion, stored in this profile)", 3,
  react_start, natter_client_react_finish
};
static const MessageUpdate unreact_update = {
  "unreact", " EMOJI (a message sent with --expansion, stored in this profile)", 3,
  react_start, natter_client_react_finish
};

static int
cmd_recall (NatterCliContext *ctx, int argc, char **argv)
{
  return update_message (ctx, &recall_update, argc, argv);
}

static int
cmd_edit (NatterCliContext *ctx, int argc, char **argv)
{
  return update_message (ctx, &edit_update, argc, argv);
}

static int
cmd_react (NatterCliContext *ctx, int argc, char **argv)
{
  return update_message (ctx, &react_update, argc, argv);
}

static int
cmd_unreact (NatterCliContext *ctx, int argc, char **argv)
{
  return update_message (ctx, &unreact_update, argc, argv);
}

/* ----------------------------------------------------------------- forward */

static void
forward_found_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(StoredMessageJob) data = user_data;
  g_autoptr(NatterMessage) message = NULL;
  g_autoptr(JsonObject) content = NULL;

  message = stored_message_job_finish (object, result, data, "forward");
  if (message == NULL)
    return;
  content = natter_message_dup_forward_content (message);
  if (content == NULL)
    {
      g_autoptr(GError) error = NULL;

      g_set_error (&error, NATTER_STORE_ERROR, NATTER_STORE_ERROR_NOT_FOUND,
                   "message %s cannot be forwarded (recalled, not stored or not uploaded)", data->uid);
      natter_cli_fail (data->ctx, "forward", error);
      return;
    }
  natter_client_send_message_async (data->ctx->client, data->type, data->target_id,
                                    natter_message_get_object_name (message), content, NULL, sent_cb, data->ctx);
}

static int
cmd_forward (NatterCliContext *ctx,
             int               argc,
             char            **argv)
{
  g_autofree char *type_name = NULL;
  const GOptionEntry entries[] = {
    { "type", 't', 0, G_OPTION_ARG_STRING, &type_name, "private (default), group, chatroom, … or 1-8", "TYPE" },
    { NULL }
  };
  g_autoptr(GOptionContext) options = g_option_context_new ("UID TARGET — forward a stored message");
  g_autoptr(GError) error = NULL;
  NatterConversationType type;
  StoredMessageJob *data;
  int code;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("%s: forward: %s\n", ctx->program, error->message);
      return NATTER_CLI_EXIT_USAGE;
    }
  type = natter_cli_parse_type (type_name);
  if (type == 0 || argc != 3)
    {
      g_printerr ("%s: forward MESSAGE_UID TARGET [--type T] (a message stored in this profile)\n", ctx->program);
      return NATTER_CLI_EXIT_USAGE;
    }

  code = ensure_token (ctx);
  if (code != NATTER_CLI_EXIT_OK)
    return code;
  if (ctx->server_url == NULL || ctx->app_key == NULL)
    {
      g_printerr ("%s: give --server and --app-key (or NATTER_SERVER, NATTER_APP_KEY)\n", ctx->program);
      return NATTER_CLI_EXIT_USAGE;
    }
  /* Like send: the copy waits in the outbox for a connection. */
  natter_cli_context_open (ctx);
  warn_if_unencrypted (ctx, ctx->server_url);
  natter_client_connect (ctx->client, ctx->token);
  g_signal_connect (ctx->client, "status-changed", G_CALLBACK (connect_failed_cb), ctx);

  data = g_new0 (StoredMessageJob, 1);
  data->ctx = ctx;
  data->type = type;
  data->target_id = g_strdup (argv[2]);
  data->uid = g_strdup (argv[1]);
  natter_store_get_message_by_uid_async (natter_client_get_store (ctx->client), argv[1], NULL,
                                         forward_found_cb, data);
  return natter_cli_run (ctx, ctx->timeout);
}

/* Prints {"USER": online, …} and exits (online, subscribe). */
void
natter_cli_finish_statuses (NatterCliContext *ctx,
                            const char       *command,
                            GHashTable       *statuses,
                            const GError     *error)
{
  g_autoptr(JsonObject) object = json_object_new ();
  g_autoptr(JsonNode) node = NULL;
  GHashTableIter iter;
  gpointer key, value;

  if (statuses == NULL)
    {
      natter_cli_fail (ctx, command, error);
      return;
    }

  g_hash_table_iter_init (&iter, statuses);
  while (g_hash_table_iter_next (&iter, &key, &value))
    json_object_set_boolean_member (object, key, GPOINTER_TO_INT (value));
  node = json_node_init_object (json_node_alloc (), object);
  natter_cli_print_json (node);
  natter_cli_finish (ctx, NATTER_CLI_EXIT_OK);
}

static void
online_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GHashTable) statuses = NULL;
  g_autoptr(GError) error = NULL;

  statuses = natter_client_get_online_status_finish (NATTER_CLIENT (object), result, &error);
  natter_cli_finish_statuses (user_data, "online", statuses, error);
}

static int
cmd_online (NatterCliContext *ctx,
            int               argc,
            char            **argv)
{
  int code;

  if (argc < 2)
    {
      g_printerr ("%s: online USER...\n", ctx->program);
      return NATTER_CLI_EXIT_USAGE;
    }

  code = natter_cli_context_connect (ctx);
  if (code != NATTER_CLI_EXIT_OK)
    return code;
  natter_client_get_online_status_async (ctx->client, (const char * const *) argv + 1, NULL,
                                         online_cb, ctx);
  return natter_cli_run (ctx, ctx->timeout);
}

/* -------------------------------------------------------------------- sync */

static void check_synced (NatterCliContext *ctx);

static void
outbox_checked_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  NatterCliContext *ctx = user_data;
  g_autoptr(GPtrArray) outbox = NULL;
  g_autoptr(GError) error = NULL;

  outbox = natter_store_get_outbox_finish (NATTER_STORE (object), result, &error);
  if (outbox == NULL)
    natter_cli_fail (ctx, "sync", error);
  else if (outbox->len == 0 && natter_client_get_caught_up (ctx->client))
    natter_cli_finish (ctx, NATTER_CLI_EXIT_OK);
}

static void
check_synced (NatterCliContext *ctx)
{
  if (natter_client_get_caught_up (ctx->client))
    natter_store_get_outbox_async (natter_client_get_store (ctx->client), NULL, outbox_checked_cb, ctx);
}

static void
sync_changed_cb (GObject          *object,
                 gpointer          arg,
                 NatterCliContext *ctx)
{
  check_synced (ctx);
}

static int
cmd_sync (NatterCliContext *ctx,
          int               argc,
          char            **argv)
{
  int code;

  if (argc != 1)
    {
      g_printerr ("%s: sync — send the outbox, store offline messages, exit when done\n", ctx->program);
      return NATTER_CLI_EXIT_USAGE;
    }

  code = natter_cli_context_connect (ctx);
  if (code != NATTER_CLI_EXIT_OK)
    return code;

  g_signal_connect (ctx->client, "status-changed", G_CALLBACK (watch_status_cb), ctx);
  g_signal_connect (ctx->client, "notify::caught-up", G_CALLBACK (sync_changed_cb), ctx);
  g_signal_connect (ctx->client, "message-updated", G_CALLBACK (sync_changed_cb), ctx);
  check_synced (ctx);
  return natter_cli_run (ctx, ctx->timeout);
}

/* -------------------------------------------------------------- main */

typedef struct {
  const char *name;
  int (*run) (NatterCliContext *ctx, int argc, char **argv);
  const char *summary;
} Command;

static const Command commands[] = {
  { "send", cmd_send, "TARGET TEXT | --image/--file/--voice FILE — send a message" },
  { "listen", cmd_listen, "print each received message as a JSON line" },
  { "history", cmd_history, "TARGET [--before TS] [--count N] — server history" },
  { "conversations", cmd_conversations, "the conversation list" },
  { "search", cmd_search, "TEXT — full-text search of the local store" },
  { "join-chatroom", cmd_join_chatroom, "ID [--count N] [--listen] — join a chatroom" },
  { "quit-chatroom", cmd_quit_chatroom, "ID — leave a chatroom" },
  { "clear-unread", cmd_clear_unread, "TARGET — mark a conversation read (all devices, read receipt)" },
  { "recall", cmd_recall, "MESSAGE_UID — recall a message you sent" },
  { "edit", cmd_edit, "MESSAGE_UID TEXT — edit a text message you sent" },
  { "react", cmd_react, "MESSAGE_UID EMOJI — react to a message sent with --expansion" },
  { "unreact", cmd_unreact, "MESSAGE_UID EMOJI — take your reaction back" },
  { "forward", cmd_forward, "MESSAGE_UID TARGET [--type T] — send a stored message again elsewhere" },
  { "clear-history", cmd_clear_history, "TARGET [--type T] — clear a conversation's history for you on all your devices" },
  { "send-receipts", cmd_send_receipts, "TARGET [--type T] — answer the group's read receipt requests stored here" },
  { "pin", cmd_pin, "TARGET — pin a conversation" },
  { "unpin", cmd_unpin, "TARGET — unpin a conversation" },
  { "mute", cmd_mute, "TARGET — mute a conversation" },
  { "unmute", cmd_unmute, "TARGET — unmute a conversation" },
  { "remove", cmd_remove, "TARGET — remove a conversation from the list" },
  { "online", cmd_online, "USER... — who is online" },
  { "subscribe", natter_cli_subscribe, "USER... [--expiry S] [--unsubscribe] — presence subscriptions" },
  { "sync", cmd_sync, "send the outbox and store offline messages, then exit" },
#ifdef NATTER_CLI_HAVE_CALLS
  { "call", natter_cli_call, "TARGET [--video] [--duration S] — make a call" },
  { "answer", natter_cli_answer, "[--auto] [--duration S] — answer a call" },
#endif
  { "generate-profile", natter_cli_generate_profile, "DIR [--messages N] [--conversations N] — benchmark profile" },
  { "bench", natter_cli_bench, "[--profile DIR] — time the store on a large profile" },
};

static char *
commands_help (void)
{
  GString *help = g_string_new ("Commands:\n");

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    g_string_append_printf (help, "  %-17s %s\n", commands[i].name, commands[i].summary);
#ifdef NATTER_CLI_HAVE_ACCOUNTS
  natter_cli_accounts_help (help);
#endif
  g_string_append (help, "\nExit codes: 0 ok, 1 failure, 2 usage, 3 connect or sign-in refused (token, app key, password),\n"
                         "4 kicked by another device, 5 refused by the server, 6 server unreachable\n"
                         "or timed out (a message stays in the outbox).\n"
                         "Environment: NATTER_SERVER, NATTER_APP_KEY, NATTER_TOKEN, NATTER_PROFILE.");
  return g_string_free (help, FALSE);
}

static char *
default_profile (NatterCliContext *ctx)
{
  g_autofree char *key = NULL;
  g_autofree char *hash = NULL;

  /* One profile per server, app and token unless --profile says otherwise. */
  key = g_strdup_printf ("%s\n%s\n%s", ctx->server_url ? ctx->server_url : "",
                         ctx->app_key ? ctx->app_key : "", ctx->token ? ctx->token : ctx->user_id ? ctx->user_id : "");
  hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, key, -1);
  hash[16] = '\0';
  return g_build_filename (g_get_user_data_dir (), "natter-cli", hash, NULL);
}

int
main (int   argc,
      char *argv[])
{
  NatterCliContext ctx = { 0 };
  g_autofree char *help = commands_help ();
  const GOptionEntry entries[] = {
    { "server", 's', 0, G_OPTION_ARG_STRING, &ctx.server_url, "natterd base URL, as it prints (http://host:port); several nodes: URL1,URL2", "URL" },
    { "app-key", 'k', 0, G_OPTION_ARG_STRING, &ctx.app_key, "App key", "KEY" },
    { "token", 'T', 0, G_OPTION_ARG_STRING, &ctx.token, "Token for the user (from the app server)", "TOKEN" },
    { "token-url", 0, 0, G_OPTION_ARG_STRING, &ctx.token_url, "Fetch the token from this app server URL…", "URL" },
    { "user", 'u', 0, G_OPTION_ARG_STRING, &ctx.user_id, "… for this user id", "ID" },
    { "profile", 'p', 0, G_OPTION_ARG_FILENAME, &ctx.profile_dir, "Local store directory", "DIR" },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &ctx.timeout, "Seconds to wait for the server (default 30)", "S" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &ctx.verbose, "Print connection changes on stderr", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) options = g_option_context_new ("COMMAND [ARGS…]");
  g_autoptr(GError) error = NULL;
  int code;

  setlocale (LC_ALL, "");
  ctx.program = "natter-cli";
  ctx.timeout = DEFAULT_TIMEOUT;

  g_option_context_add_main_entries (options, entries, NULL);
  g_option_context_set_strict_posix (options, TRUE);
  g_option_context_set_description (options, help);
  g_option_context_set_summary (options, "A command-line Natter client: messages as JSON lines.");
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("%s: %s\n", ctx.program, error->message);
      return NATTER_CLI_EXIT_USAGE;
    }

  if (argc < 2)
    {
      g_autofree char *text = g_option_context_get_help (options, TRUE, NULL);
      g_printerr ("%s", text);
      return NATTER_CLI_EXIT_USAGE;
    }

#define FROM_ENV(field, name) \
  if (ctx.field == NULL && g_getenv (name) != NULL && *g_getenv (name) != '\0') \
    ctx.field = g_strdup (g_getenv (name))
  FROM_ENV (server_url, "NATTER_SERVER");
  FROM_ENV (app_key, "NATTER_APP_KEY");
  FROM_ENV (token, "NATTER_TOKEN");
  FROM_ENV (profile_dir, "NATTER_PROFILE");
#undef FROM_ENV

  if (ctx.timeout <= 0)
    ctx.timeout = DEFAULT_TIMEOUT;

  if (ctx.server_url != NULL)
    {
      g_autoptr(GError) url_error = NULL;
      g_auto(GStrv) urls = natter_server_urls_parse (ctx.server_url, &url_error);

      if (urls == NULL)
        {
          g_printerr ("%s: --server: %s\n", ctx.program, url_error->message);
          return NATTER_CLI_EXIT_USAGE;
        }
    }

#ifdef NATTER_CLI_HAVE_ACCOUNTS
  /* A profile that signed in (register, login) remembers where and who. */
  natter_cli_accounts_load_profile (&ctx);
#endif

  code = -1;
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (argv[1], commands[i].name))
      {
        gboolean local_only = commands[i].run == natter_cli_bench ||
                              commands[i].run == natter_cli_generate_profile;

        if (ctx.profile_dir == NULL && !local_only)
          ctx.profile_dir = default_profile (&ctx);
        code = commands[i].run (&ctx, argc - 1, argv + 1);
        break;
      }

#ifdef NATTER_CLI_HAVE_ACCOUNTS
  if (code < 0)
    {
      if (ctx.profile_dir == NULL)
        ctx.profile_dir = default_profile (&ctx);
      code = natter_cli_accounts_run (&ctx, argc - 1, argv + 1);
    }
#endif

  if (code < 0)
    {
      g_printerr ("%s: unknown command %s\n\n%s\n", ctx.program, argv[1], help);
      code = NATTER_CLI_EXIT_USAGE;
    }

  if (ctx.client != NULL)
    {
      /* Let the close frame and the last store writes go out. */
      natter_client_disconnect (ctx.client);
      g_clear_object (&ctx.client);
      while (g_main_context_iteration (NULL, FALSE))
        ;
    }

  g_free (ctx.server_url);
  g_free (ctx.app_key);
  g_free (ctx.token);
  g_free (ctx.profile_dir);
  g_free (ctx.user_id);
  g_free (ctx.token_url);
  return code;
}
