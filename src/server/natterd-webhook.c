/* natterd-webhook.c — every persisted message POSTed to the app server
 *
 * RongCloud's message routing shape: form-encoded fromUserId, toUserId,
 * objectName, content, channelType, msgTimestamp, msgUID, signed in the
 * query string with appKey, nonce, signTimestamp and signature =
 * hex SHA1(secret + nonce + signTimestamp). One request in flight per app,
 * in order; failures are retried with exponential backoff; the queue is
 * bounded in events and in bytes (messages carry up to 128 KiB of content:
 * 10,000 of them would be gigabytes); the oldest waiting event is dropped
 * and counted when it is full. Nothing
 * here ever waits: delivery to clients does not depend on the app server.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-server-private.h"

#include "natterd-log.h"

#include <string.h>

struct _NatterdWebhook
{
  NatterdServer *server;        /* not a ref */
  NatterdApp    *app;
  GQueue         queue;         /* char* form bodies */
  gsize          queued_bytes;
  gboolean       in_flight;
  guint          attempts;      /* of the head */
  guint          retry_id;
  GCancellable  *cancellable;
};

static const char *
channel_type (int conversation_type)
{
  switch (conversation_type)
    {
    case NATTER_CONVERSATION_PRIVATE: return "PERSON";
    case NATTER_CONVERSATION_DISCUSSION: return "TEMPGROUP";
    case NATTER_CONVERSATION_GROUP: return "GROUP";
    case NATTER_CONVERSATION_CHATROOM: return "CHATROOM";
    case NATTER_CONVERSATION_CUSTOMER_SERVICE: return "CUSTOMER_SERVICE";
    case NATTER_CONVERSATION_SYSTEM: return "SYSTEM";
    case NATTER_CONVERSATION_APP_PUBLIC_SERVICE: return "APP_PUBLIC_SERVICE";
    case NATTER_CONVERSATION_PUBLIC_SERVICE: return "PUBLIC_SERVICE";
    default: return "UNKNOWN";
    }
}

void
natterd_webhook_free (NatterdWebhook *webhook)
{
  if (webhook == NULL)
    return;
  g_cancellable_cancel (webhook->cancellable);
  g_clear_object (&webhook->cancellable);
  g_clear_handle_id (&webhook->retry_id, g_source_remove);
  g_queue_clear_full (&webhook->queue, g_free);
  g_free (webhook);
}

guint
natterd_webhook_get_pending (NatterdWebhook *webhook)
{
  return webhook != NULL ? g_queue_get_length (&webhook->queue) : 0;
}

static guint
pending_events (NatterdServer *self)
{
  GList *apps = natterd_directory_get_apps (self->directory);
  guint pending = 0;

  for (GList *l = apps; l != NULL; l = l->next)
    pending += natterd_webhook_get_pending (((NatterdApp *) l->data)->webhook);
  g_list_free (apps);
  return pending;
}

static gboolean
drain_deadline_cb (gpointer user_data)
{
  gboolean *passed = user_data;

  *passed = TRUE;
  return G_SOURCE_REMOVE;
}

void
natterd_server_drain_webhooks (NatterdServer *self)
{
  gboolean passed = FALSE;
  guint deadline_id;
  guint pending = pending_events (self);

  if (pending == 0)
    return;

  /* A restart should not lose what a slow app server had not taken yet;
   * retries go on meanwhile (their timers are in this main context). */
  deadline_id = g_timeout_add_seconds (self->config->webhook_drain_timeout, drain_deadline_cb, &passed);
  while (!passed && (pending = pending_events (self)) > 0)
    g_main_context_iteration (NULL, TRUE);
  if (!passed)
    g_source_remove (deadline_id);

  if (pending > 0)
    {
      char count[16];

      g_snprintf (count, sizeof count, "%u", pending);
      natterd_log (G_LOG_LEVEL_WARNING, "webhook-undelivered", "events", count, NULL);
    }
}

static void
drop (NatterdWebhook *webhook,
      guint           n)
{
  char *body = g_queue_pop_nth (&webhook->queue, n);

  if (body != NULL)
    webhook->queued_bytes -= strlen (body);
  g_free (body);
}

static void send_head (NatterdWebhook *webhook);

static gboolean
retry (gpointer user_data)
{
  NatterdWebhook *webhook = user_data;

  webhook->retry_id = 0;
  send_head (webhook);
  return G_SOURCE_REMOVE;
}

typedef struct
{
  NatterdWebhook *webhook;
  GCancellable   *cancellable;
} Attempt;

static void
sent (GObject      *source,
      GAsyncResult *result,
      gpointer      user_data)
{
  Attempt *attempt = user_data;
  SoupMessage *message = soup_session_get_async_result_message (SOUP_SESSION (source), result);
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GError) error = NULL;
  NatterdWebhook *webhook;
  NatterdConfig *config;
  guint status;

  reply = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  if (g_cancellable_is_cancelled (attempt->cancellable))
    {
      /* The app's webhook was reconfigured or the server is going away. */
      g_object_unref (attempt->cancellable);
      g_free (attempt);
      return;
    }
  webhook = attempt->webhook;
  g_object_unref (attempt->cancellable);
  g_free (attempt);

  config = webhook->server->config;
  status = message != NULL ? soup_message_get_status (message) : 0;
  webhook->in_flight = FALSE;

  if (error == NULL && SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      webhook->server->metrics.webhook_sent++;
      drop (webhook, 0);
      webhook->attempts = 0;
      send_head (webhook);
      return;
    }

  webhook->server->metrics.webhook_failed++;
  webhook->attempts++;
  if (webhook->attempts >= config->webhook_max_attempts)
    {
      natterd_log (G_LOG_LEVEL_WARNING, "webhook-dropped", "app", webhook->app->key,
                   "reason", error != NULL ? error->message : soup_status_get_phrase (status), NULL);
      webhook->server->metrics.webhook_dropped++;
      drop (webhook, 0);
      webhook->attempts = 0;
      send_head (webhook);
      return;
    }

  {
    guint64 delay = (guint64) config->webhook_backoff_initial << MIN (webhook->attempts - 1, 20u);

    delay = MIN (delay, config->webhook_backoff_max);
    natterd_log (G_LOG_LEVEL_INFO, "webhook-retry", "app", webhook->app->key,
                 "reason", error != NULL ? error->message : soup_status_get_phrase (status), NULL);
    webhook->retry_id = g_timeout_add ((guint) delay, retry, webhook);
  }
}

static void
send_head (NatterdWebhook *webhook)
{
  const char *body = g_queue_peek_head (&webhook->queue);
  NatterdApp *app = webhook->app;
  g_autoptr(SoupMessage) message = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autofree char *nonce = NULL;
  g_autofree char *stamp = NULL;
  g_autofree char *input = NULL;
  g_autofree char *signature = NULL;
  g_autofree char *url = NULL;
  Attempt *attempt;

  if (body == NULL || webhook->in_flight || webhook->retry_id != 0 || app->settings.webhook_url == NULL)
    return;

  nonce = g_strdup_printf ("%08x%08x", g_random_int (), g_random_int ());
  stamp = g_strdup_printf ("%" G_GINT64_FORMAT, natterd_now_ms ());
  input = g_strconcat (app->secret, nonce, stamp, NULL);
  signature = g_compute_checksum_for_string (G_CHECKSUM_SHA1, input, -1);
  url = g_strdup_printf ("%s%cappKey=%s&nonce=%s&signTimestamp=%s&signature=%s",
                         app->settings.webhook_url,
                         strchr (app->settings.webhook_url, '?') != NULL ? '&' : '?',
                         app->key, nonce, stamp, signature);

  message = soup_message_new (SOUP_METHOD_POST, url);
  if (message == NULL)
    {
      natterd_log (G_LOG_LEVEL_WARNING, "webhook-bad-url", "app", app->key,
                   "url", app->settings.webhook_url, NULL);
      webhook->server->metrics.webhook_dropped += g_queue_get_length (&webhook->queue);
      g_queue_clear_full (&webhook->queue, g_free);
      webhook->queued_bytes = 0;
      return;
    }
  bytes = g_bytes_new (body, strlen (body));
  soup_message_set_request_body_from_bytes (message, "application/x-www-form-urlencoded", bytes);

  webhook->in_flight = TRUE;
  attempt = g_new0 (Attempt, 1);
  attempt->webhook = webhook;
  attempt->cancellable = g_object_ref (webhook->cancellable);
  soup_session_send_and_read_async (webhook->server->http, message, G_PRIORITY_LOW,
                                    webhook->cancellable, sent, attempt);
}

static void
append_field (GString    *out,
              const char *name,
              const char *value)
{
  g_autofree char *escaped = g_uri_escape_string (value != NULL ? value : "", NULL, FALSE);

  if (out->len > 0)
    g_string_append_c (out, '&');
  g_string_append_printf (out, "%s=%s", name, escaped);
}

void
natterd_server_webhook_message (NatterdServer        *self,
                                NatterdApp           *app,
                                const NatterdMessage *message)
{
  NatterdWebhook *webhook = app->webhook;
  GString *body = g_string_sized_new (256 + strlen (message->content));
  char number[24];

  if (webhook == NULL)
    {
      webhook = app->webhook = g_new0 (NatterdWebhook, 1);
      webhook->server = self;
      webhook->app = app;
      webhook->cancellable = g_cancellable_new ();
      g_queue_init (&webhook->queue);
    }

  append_field (body, "fromUserId", message->sender_user_id);
  append_field (body, "toUserId", message->target_id);
  append_field (body, "objectName", message->object_name);
  append_field (body, "content", message->content);
  append_field (body, "channelType", channel_type (message->conversation_type));
  g_snprintf (number, sizeof number, "%" G_GINT64_FORMAT, message->sent_time);
  append_field (body, "msgTimestamp", number);
  append_field (body, "msgUID", message->uid);
  append_field (body, "source", "natterd");

  /* Never the head: it may be in flight. */
  while (g_queue_get_length (&webhook->queue) > 1 &&
         (g_queue_get_length (&webhook->queue) >= self->config->webhook_queue_size ||
          webhook->queued_bytes + body->len > self->config->webhook_queue_bytes))
    {
      drop (webhook, 1);
      self->metrics.webhook_dropped++;
    }
  webhook->queued_bytes += body->len;
  g_queue_push_tail (&webhook->queue, g_string_free (body, FALSE));
  self->metrics.webhook_queued++;
  send_head (webhook);
}
