/* natter-cli-presence.c — `natter-cli subscribe` and the presence lines of
 * `listen --all` (#16)
 *
 *   natter-cli subscribe USER… [--expiry S] [--unsubscribe]
 *
 * prints {"USER": online, …} of the users natterd knows (now subscribed to)
 * and exits; `listen --all` prints each change of a subscribed user as
 * {"event": "presence", "userId", "online", "platform", "time", "logout"}.
 * natterd keeps the subscription for the user, whichever device listens.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-cli.h"

static void
presence_changed_cb (NatterClient *client,
                     const char   *user_id,
                     gboolean      online,
                     const char   *platform,
                     gint64        time,
                     gboolean      logout,
                     gpointer      user_data)
{
  g_autoptr(JsonObject) object = json_object_new ();
  g_autoptr(JsonNode) node = NULL;

  json_object_set_string_member (object, "event", "presence");
  json_object_set_string_member (object, "userId", user_id);
  json_object_set_boolean_member (object, "online", online);
  json_object_set_string_member (object, "platform", platform != NULL ? platform : "");
  json_object_set_int_member (object, "time", time);
  json_object_set_boolean_member (object, "logout", logout);
  node = json_node_init_object (json_node_alloc (), object);
  natter_cli_print_json (node);
}

void
natter_cli_watch_presence (NatterCliContext *ctx)
{
  g_signal_connect (ctx->client, "presence-changed", G_CALLBACK (presence_changed_cb), NULL);
}

static void
subscribed_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  NatterCliContext *ctx = user_data;
  g_autoptr(GHashTable) statuses = NULL;
  g_autoptr(GError) error = NULL;

  if (g_task_get_source_tag (G_TASK (result)) == natter_client_unsubscribe_presence_async)
    {
      if (!natter_client_unsubscribe_presence_finish (NATTER_CLIENT (object), result, &error))
        natter_cli_fail (ctx, "subscribe", error);
      else
        natter_cli_finish (ctx, NATTER_CLI_EXIT_OK);
      return;
    }

  statuses = natter_client_subscribe_presence_finish (NATTER_CLIENT (object), result, &error);
  natter_cli_finish_statuses (ctx, "subscribe", statuses, error);
}

int
natter_cli_subscribe (NatterCliContext *ctx,
                      int               argc,
                      char            **argv)
{
  int expiry = 86400;
  gboolean unsubscribe = FALSE;
  const GOptionEntry entries[] = {
    { "expiry", 'e', 0, G_OPTION_ARG_INT, &expiry, "Seconds, 60 to 2592000 (default a day)", "S" },
    { "unsubscribe", 'u', 0, G_OPTION_ARG_NONE, &unsubscribe, "Stop the subscriptions", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) options = g_option_context_new ("USER… — subscribe to users' online status");
  g_autoptr(GError) error = NULL;
  int code;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error) || argc < 2 || expiry <= 0)
    {
      g_printerr ("%s: subscribe USER… [--expiry S] [--unsubscribe]%s%s\n", ctx->program,
                  error != NULL ? ": " : "", error != NULL ? error->message : "");
      return NATTER_CLI_EXIT_USAGE;
    }

  code = natter_cli_context_connect (ctx);
  if (code != NATTER_CLI_EXIT_OK)
    return code;
  if (unsubscribe)
    natter_client_unsubscribe_presence_async (ctx->client, (const char * const *) argv + 1, NULL,
                                              subscribed_cb, ctx);
  else
    natter_client_subscribe_presence_async (ctx->client, (const char * const *) argv + 1, (guint) expiry,
                                            NULL, subscribed_cb, ctx);
  return natter_cli_run (ctx, ctx->timeout);
}
