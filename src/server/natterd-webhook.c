/* natterd-webhook.c — every persisted message POSTed to the app server
 *
 * RongCloud's message routing shape: form-encoded fromUserId, toUserId,
 * objectName, content, channelType, msgTimestamp, msgUID
 * (natterd_webhook_event_body()), signed in the query string with appKey,
 * nonce, signTimestamp and signature = hex HMAC-SHA256 keyed with the app
 * secret of "natter-webhook\n" nonce "\n" signTimestamp "\n" body
 * (webhook_signature()). Not RongCloud's SHA1(secret + nonce + timestamp):
 * that is also what signs the server API, so anyone who saw one delivery
 * (a log, a proxy) could have replayed its signature against natterd's own
 * API. The body is signed too. Apps whose servers verify the RongCloud
 * way set webhook-signature=rongcloud: then the signature is RongCloud's,
 * and its nonce starts with NATTERD_WEBHOOK_NONCE_PREFIX, which the server
 * API refuses, so it still cannot be replayed there. While a rotated secret's grace period
 * lasts, previousSignature is the same made with the old secret, for app
 * servers not yet given the new one. One request in flight per app, in
 * order; failures are retried with exponential backoff. Nothing here ever
 * waits: delivery to clients does not depend on the app server.
 *
 * Events are durable: the writer stores each with its message, in the same
 * transaction, and the row is deleted once the app server answered 2xx or
 * the event was dropped. Each start reads the rows left (in pages, on the
 * reader thread) and sends them before the events committed since, so a
 * crash loses none; one that was sent but not yet forgotten is sent again
 * (at least once: app servers dedupe by msgUID). The queue of an app, in
 * memory and in the table alike, is bounded in events and in bytes
 * (messages carry up to 128 KiB of content: 10,000 of them would be
 * gigabytes); the oldest waiting event is dropped and counted when it is
 * full.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-server-private.h"

#include "natterd-crypto.h"
#include "natterd-log.h"

#include <string.h>

/* A page of stored events read at start: about as much as a history page. */
#define LOAD_PAGE_EVENTS 256
#define LOAD_PAGE_BYTES (1024 * 1024)
/* Rows deleted in one op at most (the writer's batch takes many ops). */
#define FORGET_BATCH 4096

struct _NatterdWebhook
{
  NatterdServer *server;        /* not a ref */
  NatterdApp    *app;
  GQueue         queue;         /* NatterdWebhookEvent*, oldest first */
  GList         *first_live;    /* while loading: the first event committed since start */
  gsize          queued_bytes;
  gboolean       in_flight;
  guint          attempts;      /* of the head */
  guint          retry_id;
  GCancellable  *cancellable;
};

void
natterd_webhook_free (NatterdWebhook *webhook)
{
  if (webhook == NULL)
    return;
  g_cancellable_cancel (webhook->cancellable);
  g_clear_object (&webhook->cancellable);
  g_clear_handle_id (&webhook->retry_id, g_source_remove);
  g_queue_clear_full (&webhook->queue, (GDestroyNotify) natterd_webhook_event_free);
  g_free (webhook);
}

guint
natterd_webhook_get_pending (NatterdWebhook *webhook)
{
  return webhook != NULL ? g_queue_get_length (&webhook->queue) : 0;
}

static NatterdWebhook *
ensure_webhook (NatterdServer *self,
                NatterdApp    *app)
{
  if (app->webhook == NULL)
    {
      app->webhook = g_new0 (NatterdWebhook, 1);
      app->webhook->server = self;
      app->webhook->app = app;
      app->webhook->cancellable = g_cancellable_new ();
      g_queue_init (&app->webhook->queue);
    }
  return app->webhook;
}

guint
natterd_server_webhook_pending (NatterdServer *self)
{
  GList *apps = natterd_directory_get_apps (self->directory);
  guint pending = 0;

  for (GList *l = apps; l != NULL; l = l->next)
    pending += natterd_webhook_get_pending (((NatterdApp *) l->data)->webhook);
  g_list_free (apps);
  return pending;
}

/* ---------------------------------------------------------- forgetting rows */

static void submit_forget (NatterdServer *self);

static void
forgotten (NatterdOp *op,
           gpointer   user_data)
{
  NatterdServer *self = user_data;

  self->webhook_forgetting = FALSE;
  /* The rows stay: their events are sent again after a restart. */
  if (op->error != NULL)
    natterd_log (G_LOG_LEVEL_WARNING, "webhook-forget-failed", "error", op->error->message, NULL);
  if (self->webhook_done->len > 0 && !self->webhooks_stopped)
    submit_forget (self);
}

static void
submit_forget (NatterdServer *self)
{
  NatterdWebhookDoneOp *op = natterd_op_new (NATTERD_OP_WEBHOOK_DONE, forgotten, self, NULL);
  guint n = MIN (self->webhook_done->len, FORGET_BATCH);

  g_array_append_vals (op->ids, self->webhook_done->data, n);
  g_array_remove_range (self->webhook_done, 0, n);
  self->webhook_forgetting = TRUE;
  natterd_store_submit (self->store, op);
}

/* Deletes the row of a delivered or dropped event. One op at a time: the
 * ids that come meanwhile go together in the next one. */
static void
forget (NatterdServer *self,
        gint64         id)
{
  g_array_append_val (self->webhook_done, id);
  if (!self->webhook_forgetting && !self->webhooks_stopped)
    submit_forget (self);
}

/* ------------------------------------------------------------------ queue */

static void
remove_link (NatterdWebhook *webhook,
             GList          *link)
{
  NatterdWebhookEvent *event = link->data;

  if (link == webhook->first_live)
    webhook->first_live = link->next;
  webhook->queued_bytes -= strlen (event->body);
  forget (webhook->server, event->id);
  natterd_webhook_event_free (event);
  g_queue_delete_link (&webhook->queue, link);
}

static void
drop (NatterdWebhook *webhook,
      guint           n)
{
  GList *link = g_queue_peek_nth_link (&webhook->queue, n);

  if (link != NULL)
    remove_link (webhook, link);
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
      /* The server is going away; the event stays stored. */
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
      webhook->server->metrics->webhook_sent++;
      drop (webhook, 0);
      webhook->attempts = 0;
      send_head (webhook);
      return;
    }

  webhook->server->metrics->webhook_failed++;
  webhook->attempts++;
  if (webhook->attempts >= config->webhook_max_attempts)
    {
      natterd_log (G_LOG_LEVEL_WARNING, "webhook-dropped", "app", webhook->app->key,
                   "reason", error != NULL ? error->message : soup_status_get_phrase (status), NULL);
      webhook->server->metrics->webhook_dropped++;
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

static char *
webhook_signature (const NatterdApp *app,
                   const char       *secret,
                   const char       *nonce,
                   const char       *stamp,
                   const char       *body)
{
  g_autofree char *signed_text = NULL;

  if (app->settings.webhook_rongcloud)
    {
      signed_text = g_strconcat (secret, nonce, stamp, NULL);
      return g_compute_checksum_for_string (G_CHECKSUM_SHA1, signed_text, -1);
    }

  signed_text = g_strconcat ("natter-webhook\n", nonce, "\n", stamp, "\n", body, NULL);
  return natterd_hmac_sha256_hex (secret, signed_text, strlen (signed_text));
}

static void
send_head (NatterdWebhook *webhook)
{
  GList *head = webhook->queue.head;
  NatterdWebhookEvent *event = head != NULL ? head->data : NULL;
  NatterdServer *server = webhook->server;
  NatterdApp *app = webhook->app;
  g_autoptr(SoupMessage) message = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autofree char *nonce = NULL;
  g_autofree char *stamp = NULL;
  g_autofree char *signature = NULL;
  g_autofree char *previous = NULL;
  g_autofree char *url = NULL;
  const char *secrets[2];
  Attempt *attempt;

  /* No HTTP session: natterd never listened (and is stopping). */
  if (event == NULL || webhook->in_flight || webhook->retry_id != 0 ||
      app->settings.webhook_url == NULL || server->webhooks_stopped || server->http == NULL)
    return;
  /* Older events of this app may still be on their way from the store. */
  if (server->webhooks_loading && head == webhook->first_live)
    return;

  {
    g_autofree char *random = natterd_random_hex (8);

    nonce = g_strconcat (app->settings.webhook_rongcloud ? NATTERD_WEBHOOK_NONCE_PREFIX : "", random, NULL);
  }
  stamp = g_strdup_printf ("%" G_GINT64_FORMAT, natterd_now_ms ());
  if (natterd_app_get_secrets (app, natterd_now_ms (), secrets) > 1)
    previous = webhook_signature (app, secrets[1], nonce, stamp, event->body);
  signature = webhook_signature (app, secrets[0], nonce, stamp, event->body);
  url = g_strdup_printf ("%s%cappKey=%s&nonce=%s&signTimestamp=%s&signature=%s%s%s",
                         app->settings.webhook_url,
                         strchr (app->settings.webhook_url, '?') != NULL ? '&' : '?',
                         app->key, nonce, stamp, signature,
                         previous != NULL ? "&previousSignature=" : "", previous != NULL ? previous : "");

  message = soup_message_new (SOUP_METHOD_POST, url);
  if (message == NULL)
    {
      natterd_log (G_LOG_LEVEL_WARNING, "webhook-bad-url", "app", app->key,
                   "url", app->settings.webhook_url, NULL);
      server->metrics->webhook_dropped += g_queue_get_length (&webhook->queue);
      while (webhook->queue.head != NULL)
        remove_link (webhook, webhook->queue.head);
      return;
    }
  bytes = g_bytes_new (event->body, strlen (event->body));
  soup_message_set_request_body_from_bytes (message, "application/x-www-form-urlencoded", bytes);

  webhook->in_flight = TRUE;
  attempt = g_new0 (Attempt, 1);
  attempt->webhook = webhook;
  attempt->cancellable = g_object_ref (webhook->cancellable);
  soup_session_send_and_read_async (server->http, message, G_PRIORITY_LOW,
                                    webhook->cancellable, sent, attempt);
}

/* Takes @event; @live: committed since start (else read from the store,
 * older than every live one). */
static void
enqueue (NatterdWebhook      *webhook,
         NatterdWebhookEvent *event,
         gboolean             live)
{
  NatterdConfig *config = webhook->server->config;
  /* A head in flight or waiting for its retry stays. */
  guint keep = webhook->in_flight || webhook->retry_id != 0 ? 1 : 0;

  if (!live && webhook->first_live != NULL)
    g_queue_insert_before (&webhook->queue, webhook->first_live, event);
  else
    g_queue_push_tail (&webhook->queue, event);
  if (live && webhook->first_live == NULL && webhook->server->webhooks_loading)
    webhook->first_live = webhook->queue.tail;
  webhook->queued_bytes += strlen (event->body);

  /* The newest event is always kept, so the queue holds at least it. */
  while (g_queue_get_length (&webhook->queue) > keep + 1 &&
         (g_queue_get_length (&webhook->queue) > config->webhook_queue_size ||
          webhook->queued_bytes > config->webhook_queue_bytes))
    {
      drop (webhook, keep);
      webhook->server->metrics->webhook_dropped++;
    }

  send_head (webhook);
}

void
natterd_server_webhook_event (NatterdServer *self,
                              NatterdApp    *app,
                              gint64         id,
                              char          *body)
{
  NatterdWebhookEvent *event;

  if (self->webhook_first_live == 0)
    self->webhook_first_live = id;
  /* The loader read its row before this completion ran: queued already. */
  if (id <= self->webhook_last_loaded)
    {
      g_free (body);
      return;
    }

  event = g_new0 (NatterdWebhookEvent, 1);
  event->id = id;
  event->app_id = app->id;
  event->body = body;
  enqueue (ensure_webhook (self, app), event, TRUE);
  self->metrics->webhook_queued++;
}

/* ---------------------------------------------------------------- loading */

static void load_page (NatterdServer *self,
                       gint64         after_id);

static void
loading_done (NatterdServer *self)
{
  GList *apps = natterd_directory_get_apps (self->directory);

  self->webhooks_loading = FALSE;
  for (GList *l = apps; l != NULL; l = l->next)
    {
      NatterdWebhook *webhook = ((NatterdApp *) l->data)->webhook;

      if (webhook != NULL)
        {
          webhook->first_live = NULL;
          send_head (webhook);
        }
    }
  g_list_free (apps);
}

static void
page_loaded (NatterdRead *base,
             gpointer     user_data)
{
  NatterdWebhookEventsRead *read = (NatterdWebhookEventsRead *) base;
  NatterdServer *self = user_data;
  gint64 after_id = self->webhook_last_loaded;
  gboolean finished = read->events->len == 0;

  if (self->webhooks_stopped)
    {
      self->webhooks_loading = FALSE;
      return;
    }
  if (base->error != NULL)
    {
      /* What was not read stays stored for the next start. */
      natterd_log (G_LOG_LEVEL_WARNING, "webhook-load-failed", "error", base->error->message, NULL);
      loading_done (self);
      return;
    }

  for (guint i = 0; i < read->events->len && !finished; i++)
    {
      NatterdWebhookEvent *event = g_ptr_array_index (read->events, i);
      NatterdApp *app;

      /* From here on every row is one this process committed, and queued
       * when it did. */
      if (self->webhook_first_live != 0 && event->id >= self->webhook_first_live)
        {
          finished = TRUE;
          break;
        }
      after_id = self->webhook_last_loaded = event->id;

      app = natterd_directory_lookup_app_id (self->directory, event->app_id);
      if (app == NULL)
        {
          /* Its app was deleted by hand: nobody to send it to. */
          forget (self, event->id);
          continue;
        }
      self->metrics->webhook_loaded++;
      enqueue (ensure_webhook (self, app), g_steal_pointer (&read->events->pdata[i]), FALSE);
    }

  if (!finished)
    {
      load_page (self, after_id);
      return;
    }

  if (self->metrics->webhook_loaded > 0)
    {
      char count[24];

      g_snprintf (count, sizeof count, "%" G_GUINT64_FORMAT, self->metrics->webhook_loaded);
      natterd_log (G_LOG_LEVEL_INFO, "webhook-loaded", "events", count, NULL);
    }
  loading_done (self);
}

static void
load_page (NatterdServer *self,
           gint64         after_id)
{
  NatterdWebhookEventsRead *read = natterd_read_new (NATTERD_READ_WEBHOOK_EVENTS, page_loaded, self, NULL);

  read->after_id = after_id;
  read->limit = LOAD_PAGE_EVENTS;
  read->max_bytes = LOAD_PAGE_BYTES;
  natterd_store_read (self->store, read);
}

void
natterd_server_load_webhooks (NatterdServer *self)
{
  self->webhooks_loading = TRUE;
  load_page (self, 0);
}

/* --------------------------------------------------------------- stopping */

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
  guint pending = natterd_server_webhook_pending (self);
  GList *apps;

  if (pending > 0 || self->webhooks_loading)
    {
      guint deadline_id;

      /* A restart should not make a slow app server wait for what it could
       * take now; retries go on meanwhile (their timers are in this main
       * context), and so do the store's reads and deletes. */
      deadline_id = g_timeout_add_seconds (self->config->webhook_drain_timeout, drain_deadline_cb, &passed);
      while (!passed && (natterd_server_webhook_pending (self) > 0 || self->webhooks_loading))
        g_main_context_iteration (NULL, TRUE);
      if (!passed)
        g_source_remove (deadline_id);
      pending = natterd_server_webhook_pending (self);
    }

  /* What is left stays stored for the next start: send nothing more, and
   * forget what was delivered before the store stops. */
  self->webhooks_stopped = TRUE;
  apps = natterd_directory_get_apps (self->directory);
  for (GList *l = apps; l != NULL; l = l->next)
    {
      NatterdWebhook *webhook = ((NatterdApp *) l->data)->webhook;

      if (webhook != NULL)
        {
          g_cancellable_cancel (webhook->cancellable);
          g_clear_handle_id (&webhook->retry_id, g_source_remove);
        }
    }
  g_list_free (apps);
  while (self->webhook_done->len > 0)
    submit_forget (self);

  if (pending > 0)
    {
      char count[16];

      g_snprintf (count, sizeof count, "%u", pending);
      natterd_log (G_LOG_LEVEL_WARNING, "webhook-undelivered", "events", count,
                   "kept", "for the next start", NULL);
    }
}
