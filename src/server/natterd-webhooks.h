/* natterd-webhooks.h — persisted messages POSTed to each app's webhook-url
 *
 * Owns a queue per app, the HTTP session that sends them, reading the
 * events a previous run left stored, and draining on stop; see
 * natterd-webhooks.c for the delivery rules and the signatures.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "natterd-config.h"
#include "natterd-directory.h"
#include "natterd-metrics.h"
#include "natterd-store.h"

G_BEGIN_DECLS

#define NATTERD_TYPE_WEBHOOKS (natterd_webhooks_get_type ())
G_DECLARE_FINAL_TYPE (NatterdWebhooks, natterd_webhooks, NATTERD, WEBHOOKS, GObject)

/* @config, @directory and @metrics must outlive it. */
NatterdWebhooks *natterd_webhooks_new         (NatterdConfig    *config,
                                               NatterdStore     *store,
                                               NatterdDirectory *directory,
                                               NatterdMetrics   *metrics);
/* Once the store runs: reads the events a previous run left stored, to
 * send them before the ones committed since. */
void             natterd_webhooks_load        (NatterdWebhooks  *self);
/* Once natterd listens: events are sent from now on. */
void             natterd_webhooks_start       (NatterdWebhooks  *self);
/* A committed event (NatterdPublishOp.webhook_body, taken) of message @id;
 * @id 0: a chatroom message's, never stored (sent once, lost on a crash). */
void             natterd_webhooks_add         (NatterdWebhooks  *self,
                                               NatterdApp       *app,
                                               gint64            id,
                                               char             *body);
/* presence-url: @user_id's change (0 online, 1 offline, 2 logout) as it
 * happened, sent in order after the ones before it (not stored). */
void             natterd_webhooks_add_presence (NatterdWebhooks *self,
                                                NatterdApp      *app,
                                                const char      *user_id,
                                                int              status);
/* Events not delivered yet (waiting, in flight or to be retried). */
guint            natterd_webhooks_get_pending (NatterdWebhooks  *self);
/* On shutdown, before the store stops: delivers what is queued for up to
 * [webhook] drain-timeout; what is left stays stored for the next start. */
void             natterd_webhooks_drain       (NatterdWebhooks  *self);

G_END_DECLS
