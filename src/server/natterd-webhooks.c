/* natterd-webhooks.c — every persisted message POSTed to the app server
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
 * Several nodes on one shared store: an app's events are sent by the one
 * node holding its lease (a row in the store, renewed by every poll), so
 * each is sent once and in order whichever node committed it. Such a node
 * does not queue what it commits itself: it polls the stored events of
 * the apps it holds (at once after a commit of its own, else every
 * POLL_INTERVAL_MS), skipping those it has queued already. A node that
 * dies lets its leases expire; another takes them and sends what is left
 * (at least once, as after a crash).
 *
 * Presence (the app setting presence-url): each user's online (status 0)
 * and offline (1) change, form-encoded userId, status, time, POSTed and
 * signed the same way, retried and bounded by the same [webhook] keys, one
 * request in flight per app so each user's changes arrive in order. They
 * are not stored (like chatroom messages' events): a crash loses the ones
 * not sent yet, and the user's next change says where they are.
 *
 * NatterdWebhooks owns all of it: a queue per app, the HTTP session,
 * reading the stored events at start and draining on stop. The server
 * hands it each committed event (natterd_webhooks_add()).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-webhooks.h"

#include "natterd-crypto.h"
#include "natterd-log.h"

#include <libsoup/soup.h>
#include <string.h>

/* A page of stored events read at start: about as much as a history page. */
#define LOAD_PAGE_EVENTS 256
#define LOAD_PAGE_BYTES (1024 * 1024)
/* Rows deleted in one op at most (the writer's batch takes many ops). */
#define FORGET_BATCH 4096
/* Several nodes: how often stored events are looked for, and how long an
 * app's lease lasts without being renewed. */
#define POLL_INTERVAL_MS 250
#define LEASE_MS 5000

struct _NatterdWebhooks
{
  GObject           parent_instance;

  NatterdConfig    *config;
  NatterdStore     *store;
  NatterdDirectory *directory;
  NatterdMetrics   *metrics;
  SoupSession      *http;          /* NULL until natterd listens */
  GHashTable       *queues;        /* gint64* app id → Queue */
  GHashTable       *presence_queues; /* gint64* app id → Queue of presence changes */

  gboolean          loading;       /* stored events still being read */
  gboolean          stopped;       /* drained: what is left stays stored */
  gint64            first_live;    /* id of the first event committed since start */
  gint64            last_loaded;
  GArray           *done;          /* gint64 ids of events whose rows go */
  gboolean          forgetting;    /* a NATTERD_OP_WEBHOOK_DONE is in the store */

  /* A store shared with other nodes (see the top). */
  gboolean          shared;
  char             *owner;         /* this node's lease name */
  /* gint64* ids queued or being forgotten → 0, or forgotten → 1 + the
   * number of polls issued by then */
  GHashTable       *known;
  guint             polls;
  guint             poll_id;
  guint             poll_soon_id;
  gboolean          polling;
};

G_DEFINE_FINAL_TYPE (NatterdWebhooks, natterd_webhooks, G_TYPE_OBJECT)

/* One app's events, sent one at a time in order. */
typedef struct
{
  NatterdWebhooks *owner;        /* not a ref: it frees its queues */
  NatterdApp      *app;          /* apps live as long as the directory */
  GQueue           queue;        /* NatterdWebhookEvent*, oldest first */
  GList           *first_live;   /* while loading: the first event committed since start */
  gsize            queued_bytes;
  gboolean         presence;     /* to presence-url, not webhook-url */
  gboolean         in_flight;
  guint            attempts;     /* of the head */
  guint            retry_id;
  GCancellable    *cancellable;
} Queue;

static void
queue_free (gpointer data)
{
  Queue *webhook = data;

  g_cancellable_cancel (webhook->cancellable);
  g_clear_object (&webhook->cancellable);
  g_clear_handle_id (&webhook->retry_id, g_source_remove);
  g_queue_clear_full (&webhook->queue, (GDestroyNotify) natterd_webhook_event_free);
  g_free (webhook);
}

static Queue *
ensure_queue (NatterdWebhooks *self,
              NatterdApp      *app)
{
  Queue *webhook = g_hash_table_lookup (self->queues, &app->id);

  if (webhook == NULL)
    {
      webhook = g_new0 (Queue, 1);
      webhook->owner = self;
      webhook->app = app;
      webhook->cancellable = g_cancellable_new ();
      g_queue_init (&webhook->queue);
      g_hash_table_insert (self->queues, &app->id, webhook);
    }
  return webhook;
}

guint
natterd_webhooks_get_pending (NatterdWebhooks *self)
{
  GHashTableIter iter;
  Queue *webhook;
  guint pending = 0;

  g_return_val_if_fail (NATTERD_IS_WEBHOOKS (self), 0);

  g_hash_table_iter_init (&iter, self->queues);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &webhook))
    pending += g_queue_get_length (&webhook->queue);
  g_hash_table_iter_init (&iter, self->presence_queues);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &webhook))
    pending += g_queue_get_length (&webhook->queue);
  return pending;
}

/* ---------------------------------------------------------- forgetting rows */

static void submit_forget (NatterdWebhooks *self);
static void poll_soon (NatterdWebhooks *self);

static void
forgotten (NatterdOp *op,
           gpointer   user_data)
{
  NatterdWebhooks *self = user_data;
  GArray *ids = ((NatterdWebhookDoneOp *) op)->ids;

  self->forgetting = FALSE;
  /* Gone from the table: a poll issued from now on does not see them
   * (one issued before may still, so they stay known until it is back). */
  for (guint i = 0; i < ids->len; i++)
    if (g_hash_table_contains (self->known, &g_array_index (ids, gint64, i)))
      g_hash_table_insert (self->known, g_memdup2 (&g_array_index (ids, gint64, i), sizeof (gint64)),
                           GUINT_TO_POINTER (self->polls + 1));
  /* The rows stay: their events are sent again after a restart. */
  if (op->error != NULL)
    natterd_log (G_LOG_LEVEL_WARNING, "webhook-forget-failed", "error", op->error->message, NULL);
  if (self->done->len > 0 && !self->stopped)
    submit_forget (self);
}

static void
submit_forget (NatterdWebhooks *self)
{
  NatterdWebhookDoneOp *op = natterd_op_new (NATTERD_OP_WEBHOOK_DONE, forgotten,
                                             g_object_ref (self), g_object_unref);
  guint n = MIN (self->done->len, FORGET_BATCH);

  g_array_append_vals (op->ids, self->done->data, n);
  g_array_remove_range (self->done, 0, n);
  self->forgetting = TRUE;
  natterd_store_submit (self->store, op);
}

/* Deletes the row of a delivered or dropped event. One op at a time: the
 * ids that come meanwhile go together in the next one. */
static void
forget (NatterdWebhooks *self,
        gint64           id)
{
  /* Chatroom messages' events were never stored (id 0). */
  if (id <= 0)
    return;
  g_array_append_val (self->done, id);
  if (!self->forgetting && !self->stopped)
    submit_forget (self);
}

/* ------------------------------------------------------------------ queue */

static void
remove_link (Queue *webhook,
             GList *link)
{
  NatterdWebhookEvent *event = link->data;

  if (link == webhook->first_live)
    webhook->first_live = link->next;
  webhook->queued_bytes -= strlen (event->body);
  forget (webhook->owner, event->id);
  natterd_webhook_event_free (event);
  g_queue_delete_link (&webhook->queue, link);
}

static void
drop (Queue *webhook,
      guint  n)
{
  GList *link = g_queue_peek_nth_link (&webhook->queue, n);

  if (link != NULL)
    remove_link (webhook, link);
}

static void send_head (Queue *webhook);

static gboolean
retry (gpointer user_data)
{
  Queue *webhook = user_data;

  webhook->retry_id = 0;
  send_head (webhook);
  return G_SOURCE_REMOVE;
}

typedef struct
{
  Queue        *webhook;
  GCancellable *cancellable;
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
  Queue *webhook;
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

  config = webhook->owner->config;
  status = message != NULL ? soup_message_get_status (message) : 0;
  webhook->in_flight = FALSE;

  if (error == NULL && SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      webhook->owner->metrics->webhook_sent++;
      drop (webhook, 0);
      webhook->attempts = 0;
      send_head (webhook);
      return;
    }

  webhook->owner->metrics->webhook_failed++;
  webhook->attempts++;
  if (webhook->attempts >= config->webhook_max_attempts)
    {
      natterd_log (G_LOG_LEVEL_WARNING, "webhook-dropped", "app", webhook->app->key,
                   "reason", error != NULL ? error->message : soup_status_get_phrase (status), NULL);
      webhook->owner->metrics->webhook_dropped++;
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
send_head (Queue *webhook)
{
  GList *head = webhook->queue.head;
  NatterdWebhookEvent *event = head != NULL ? head->data : NULL;
  NatterdWebhooks *owner = webhook->owner;
  NatterdApp *app = webhook->app;
  g_autoptr(SoupMessage) message = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autofree char *nonce = NULL;
  g_autofree char *stamp = NULL;
  g_autofree char *signature = NULL;
  g_autofree char *previous = NULL;
  g_autofree char *url = NULL;
  const char *secrets[2];
  const char *base = webhook->presence ? app->settings.presence_url : app->settings.webhook_url;
  Attempt *attempt;

  /* No HTTP session: natterd never listened (and is stopping). */
  if (event == NULL || webhook->in_flight || webhook->retry_id != 0 ||
      base == NULL || owner->stopped || owner->http == NULL)
    return;
  /* Older events of this app may still be on their way from the store. */
  if (owner->loading && head == webhook->first_live)
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
                         base,
                         strchr (base, '?') != NULL ? '&' : '?',
                         app->key, nonce, stamp, signature,
                         previous != NULL ? "&previousSignature=" : "", previous != NULL ? previous : "");

  message = soup_message_new (SOUP_METHOD_POST, url);
  if (message == NULL)
    {
      natterd_log (G_LOG_LEVEL_WARNING, "webhook-bad-url", "app", app->key,
                   "url", base, NULL);
      owner->metrics->webhook_dropped += g_queue_get_length (&webhook->queue);
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
  soup_session_send_and_read_async (owner->http, message, G_PRIORITY_LOW,
                                    webhook->cancellable, sent, attempt);
}

/* Takes @event; @live: committed since start (else read from the store,
 * older than every live one). */
static void
enqueue (Queue               *webhook,
         NatterdWebhookEvent *event,
         gboolean             live)
{
  NatterdConfig *config = webhook->owner->config;
  /* A head in flight or waiting for its retry stays. */
  guint keep = webhook->in_flight || webhook->retry_id != 0 ? 1 : 0;

  if (!live && webhook->first_live != NULL)
    g_queue_insert_before (&webhook->queue, webhook->first_live, event);
  else
    g_queue_push_tail (&webhook->queue, event);
  if (live && webhook->first_live == NULL && webhook->owner->loading)
    webhook->first_live = webhook->queue.tail;
  webhook->queued_bytes += strlen (event->body);

  /* The newest event is always kept, so the queue holds at least it. */
  while (g_queue_get_length (&webhook->queue) > keep + 1 &&
         (g_queue_get_length (&webhook->queue) > config->webhook_queue_size ||
          webhook->queued_bytes > config->webhook_queue_bytes))
    {
      drop (webhook, keep);
      webhook->owner->metrics->webhook_dropped++;
    }

  send_head (webhook);
}

void
natterd_webhooks_add (NatterdWebhooks *self,
                      NatterdApp      *app,
                      gint64           id,
                      char            *body)
{
  NatterdWebhookEvent *event;

  g_return_if_fail (NATTERD_IS_WEBHOOKS (self));

  /* Stored: the node holding the app's lease sends it. */
  if (self->shared && id > 0)
    {
      g_free (body);
      poll_soon (self);
      return;
    }

  if (self->first_live == 0)
    self->first_live = id;
  /* The loader read its row before this completion ran: queued already. */
  if (id > 0 && id <= self->last_loaded)
    {
      g_free (body);
      return;
    }

  event = g_new0 (NatterdWebhookEvent, 1);
  event->id = id;
  event->app_id = app->id;
  event->body = body;
  enqueue (ensure_queue (self, app), event, TRUE);
  self->metrics->webhook_queued++;
}

void
natterd_webhooks_add_presence (NatterdWebhooks *self,
                               NatterdApp      *app,
                               const char      *user_id,
                               int              status)
{
  NatterdWebhookEvent *event;
  Queue *queue;
  g_autofree char *time = NULL;

  g_return_if_fail (NATTERD_IS_WEBHOOKS (self));

  if (app->settings.presence_url == NULL || self->stopped)
    return;

  queue = g_hash_table_lookup (self->presence_queues, &app->id);
  if (queue == NULL)
    {
      queue = g_new0 (Queue, 1);
      queue->owner = self;
      queue->app = app;
      queue->presence = TRUE;
      queue->cancellable = g_cancellable_new ();
      g_queue_init (&queue->queue);
      g_hash_table_insert (self->presence_queues, &app->id, queue);
    }

  time = g_strdup_printf ("%" G_GINT64_FORMAT, natterd_now_ms ());
  event = g_new0 (NatterdWebhookEvent, 1);
  event->app_id = app->id;
  event->body = soup_form_encode ("userId", user_id, "status", status == 0 ? "0" : status == 1 ? "1" : "2",
                                  "time", time, NULL);
  /* Never stored: live, and nothing older to wait for. */
  enqueue (queue, event, FALSE);
  self->metrics->webhook_queued++;
}

/* ------------------------------------------------------------ several nodes */

static void poll_events (NatterdWebhooks *self);

static void
polled (NatterdRead *base,
        gpointer     user_data)
{
  NatterdWebhookEventsRead *read = (NatterdWebhookEventsRead *) base;
  NatterdWebhooks *self = user_data;
  guint fresh = 0;

  self->polling = FALSE;
  if (self->stopped)
    return;
  if (base->error != NULL)
    {
      natterd_log (G_LOG_LEVEL_DEBUG, "webhook-poll-failed", "error", base->error->message, NULL);
      return;
    }
  for (guint i = 0; i < read->events->len; i++)
    {
      NatterdWebhookEvent *event = g_ptr_array_index (read->events, i);
      NatterdApp *app;

      if (g_hash_table_contains (self->known, &event->id))
        continue;
      g_hash_table_add (self->known, g_memdup2 (&event->id, sizeof (gint64)));
      fresh++;
      app = natterd_directory_lookup_app_id (self->directory, event->app_id);
      if (app == NULL)
        {
          forget (self, event->id);
          continue;
        }
      self->metrics->webhook_queued++;
      enqueue (ensure_queue (self, app), g_steal_pointer (&read->events->pdata[i]), TRUE);
    }
  /* Forgotten before this poll was issued: no later poll sees them. */
  {
    GHashTableIter iter;
    gpointer forgotten_at;

    g_hash_table_iter_init (&iter, self->known);
    while (g_hash_table_iter_next (&iter, NULL, &forgotten_at))
      if (GPOINTER_TO_UINT (forgotten_at) != 0 && GPOINTER_TO_UINT (forgotten_at) <= self->polls)
        g_hash_table_iter_remove (&iter);
  }
  /* A full page of new ones: more may wait. */
  if (fresh > 0 && read->events->len >= LOAD_PAGE_EVENTS)
    poll_soon (self);
}

static void
poll_events (NatterdWebhooks *self)
{
  NatterdWebhookEventsRead *read;

  if (self->polling || self->stopped)
    return;
  read = natterd_read_new (NATTERD_READ_WEBHOOK_EVENTS, polled, g_object_ref (self), g_object_unref);
  read->after_id = 0;
  read->limit = LOAD_PAGE_EVENTS;
  read->max_bytes = LOAD_PAGE_BYTES;
  read->claim = self->owner;
  read->lease_ms = LEASE_MS;
  self->polling = TRUE;
  self->polls++;
  natterd_store_read (self->store, read);
}

static gboolean
poll_cb (gpointer user_data)
{
  poll_events (user_data);
  return G_SOURCE_CONTINUE;
}

static gboolean
poll_soon_cb (gpointer user_data)
{
  NatterdWebhooks *self = user_data;

  self->poll_soon_id = 0;
  poll_events (self);
  return G_SOURCE_REMOVE;
}

static void
poll_soon (NatterdWebhooks *self)
{
  if (self->poll_soon_id == 0 && !self->stopped)
    self->poll_soon_id = g_idle_add (poll_soon_cb, self);
}

/* ---------------------------------------------------------------- loading */

static void load_page (NatterdWebhooks *self,
                       gint64           after_id);

static void
loading_done (NatterdWebhooks *self)
{
  GHashTableIter iter;
  Queue *webhook;

  self->loading = FALSE;
  g_hash_table_iter_init (&iter, self->queues);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &webhook))
    {
      webhook->first_live = NULL;
      send_head (webhook);
    }
}

static void
page_loaded (NatterdRead *base,
             gpointer     user_data)
{
  NatterdWebhookEventsRead *read = (NatterdWebhookEventsRead *) base;
  NatterdWebhooks *self = user_data;
  gint64 after_id = self->last_loaded;
  gboolean finished = read->events->len == 0;

  if (self->stopped)
    {
      self->loading = FALSE;
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
      if (self->first_live != 0 && event->id >= self->first_live)
        {
          finished = TRUE;
          break;
        }
      after_id = self->last_loaded = event->id;

      app = natterd_directory_lookup_app_id (self->directory, event->app_id);
      if (app == NULL)
        {
          /* Its app was deleted by hand: nobody to send it to. */
          forget (self, event->id);
          continue;
        }
      self->metrics->webhook_loaded++;
      enqueue (ensure_queue (self, app), g_steal_pointer (&read->events->pdata[i]), FALSE);
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
load_page (NatterdWebhooks *self,
           gint64           after_id)
{
  NatterdWebhookEventsRead *read = natterd_read_new (NATTERD_READ_WEBHOOK_EVENTS, page_loaded,
                                                     g_object_ref (self), g_object_unref);

  read->after_id = after_id;
  read->limit = LOAD_PAGE_EVENTS;
  read->max_bytes = LOAD_PAGE_BYTES;
  natterd_store_read (self->store, read);
}

void
natterd_webhooks_load (NatterdWebhooks *self)
{
  g_return_if_fail (NATTERD_IS_WEBHOOKS (self));

  if (self->shared)
    {
      self->poll_id = g_timeout_add (POLL_INTERVAL_MS, poll_cb, self);
      poll_events (self);
      return;
    }
  self->loading = TRUE;
  load_page (self, 0);
}

void
natterd_webhooks_start (NatterdWebhooks *self)
{
  GHashTableIter iter;
  Queue *webhook;

  g_return_if_fail (NATTERD_IS_WEBHOOKS (self));
  g_return_if_fail (self->http == NULL);

  self->http = soup_session_new_with_options ("timeout", self->config->webhook_timeout,
                                              "user-agent", "natterd/" PACKAGE_VERSION,
                                              NULL);
  /* What the store gave back before natterd listened goes now. */
  g_hash_table_iter_init (&iter, self->queues);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &webhook))
    send_head (webhook);
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
natterd_webhooks_drain (NatterdWebhooks *self)
{
  gboolean passed = FALSE;
  guint pending;
  GHashTableIter iter;
  Queue *webhook;

  g_return_if_fail (NATTERD_IS_WEBHOOKS (self));

  pending = natterd_webhooks_get_pending (self);
  if (pending > 0 || self->loading || self->shared)
    {
      guint deadline_id;

      /* A restart should not make a slow app server wait for what it could
       * take now; retries go on meanwhile (their timers are in this main
       * context), and so do the store's reads and deletes. */
      deadline_id = g_timeout_add_seconds (self->config->webhook_drain_timeout, drain_deadline_cb, &passed);
      if (self->shared)
        {
          /* Events this node committed are queued only once a poll reads
           * them (it may not have yet, or be reading from before their
           * commit): one poll issued from now on takes them too. */
          while (!passed && self->polling)
            g_main_context_iteration (NULL, TRUE);
          poll_events (self);
          while (!passed && self->polling)
            g_main_context_iteration (NULL, TRUE);
        }
      while (!passed && (natterd_webhooks_get_pending (self) > 0 || self->loading))
        g_main_context_iteration (NULL, TRUE);
      if (!passed)
        g_source_remove (deadline_id);
      pending = natterd_webhooks_get_pending (self);
    }

  /* What is left stays stored for the next start: send nothing more, and
   * forget what was delivered before the store stops. */
  self->stopped = TRUE;
  g_clear_handle_id (&self->poll_id, g_source_remove);
  g_clear_handle_id (&self->poll_soon_id, g_source_remove);
  g_hash_table_iter_init (&iter, self->queues);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &webhook))
    {
      g_cancellable_cancel (webhook->cancellable);
      g_clear_handle_id (&webhook->retry_id, g_source_remove);
    }
  g_hash_table_iter_init (&iter, self->presence_queues);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &webhook))
    {
      g_cancellable_cancel (webhook->cancellable);
      g_clear_handle_id (&webhook->retry_id, g_source_remove);
    }
  while (self->done->len > 0)
    submit_forget (self);

  if (pending > 0)
    {
      char count[16];

      g_snprintf (count, sizeof count, "%u", pending);
      natterd_log (G_LOG_LEVEL_WARNING, "webhook-undelivered", "events", count,
                   "kept", "for the next start", NULL);
    }
}

/* --------------------------------------------------------------- lifetime */

static void
natterd_webhooks_finalize (GObject *object)
{
  NatterdWebhooks *self = NATTERD_WEBHOOKS (object);

  g_clear_handle_id (&self->poll_id, g_source_remove);
  g_clear_handle_id (&self->poll_soon_id, g_source_remove);
  g_hash_table_unref (self->queues);
  g_hash_table_unref (self->presence_queues);
  g_hash_table_unref (self->known);
  g_free (self->owner);
  g_array_unref (self->done);
  g_clear_object (&self->http);
  g_clear_object (&self->store);

  G_OBJECT_CLASS (natterd_webhooks_parent_class)->finalize (object);
}

static void
natterd_webhooks_class_init (NatterdWebhooksClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = natterd_webhooks_finalize;
}

static void
natterd_webhooks_init (NatterdWebhooks *self)
{
  self->queues = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, queue_free);
  self->presence_queues = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, queue_free);
  self->done = g_array_new (FALSE, FALSE, sizeof (gint64));
  self->known = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
}

NatterdWebhooks *
natterd_webhooks_new (NatterdConfig    *config,
                      NatterdStore     *store,
                      NatterdDirectory *directory,
                      NatterdMetrics   *metrics)
{
  NatterdWebhooks *self = g_object_new (NATTERD_TYPE_WEBHOOKS, NULL);

  self->config = config;
  self->store = g_object_ref (store);
  self->directory = directory;
  self->metrics = metrics;
  self->shared = g_strcmp0 (config->store_backend, "postgresql") == 0;
  if (self->shared)
    {
      g_autofree char *uuid = g_uuid_string_random ();

      self->owner = g_strdup_printf ("%s/%s", config->cluster_node_name != NULL ? config->cluster_node_name : "node",
                                     uuid);
    }
  return self;
}
