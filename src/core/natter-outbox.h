/* natter-outbox.h — what the client has sent and natterd not yet taken
 *
 * Private to libnatter: NatterClient owns one and forwards to it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "natter-client-private.h"

G_BEGIN_DECLS

#define NATTER_TYPE_OUTBOX (natter_outbox_get_type ())

G_DECLARE_FINAL_TYPE (NatterOutbox, natter_outbox, NATTER, OUTBOX, GObject)

/* @client owns the outbox (and is not owned by it). */
NatterOutbox *natter_outbox_new             (NatterClient             *client,
                                             NatterStore              *store);

/* Checks what natterd would refuse, then publishes a new message of
 * @object_name with @content (NULL: {}) under a new client_msg_id, stored
 * first (SENDING) when it is persisted, and returns @task (the client's)
 * with the message once natterd took it, or the error. @progress follows
 * its file's upload while @task waits. */
void          natter_outbox_send            (NatterOutbox             *self,
                                             NatterConversationType    type,
                                             const char               *target_id,
                                             const char               *object_name,
                                             JsonObject               *content,
                                             GFileProgressCallback     progress,
                                             gpointer                  progress_data,
                                             GTask                    *task);
/* Sends a stored message of ours that failed (or is stuck SENDING) again,
 * as a new send (a new client_msg_id). */
void          natter_outbox_resend          (NatterOutbox             *self,
                                             NatterMessage            *message,
                                             GTask                    *task);

/* The client is connected: what waits in the store is published. */
void          natter_outbox_connected       (NatterOutbox             *self);
/* Stops the upload of that pending send's file: it fails for good. */
gboolean      natter_outbox_cancel_upload   (NatterOutbox             *self,
                                             const char               *client_msg_id);
/* The connection is gone: nothing counts as published on it any more;
 * status-only sends fail with @error. */
void          natter_outbox_connection_lost (NatterOutbox             *self,
                                             const GError             *error);
/* The client stopped (disconnect, kick, refusal): every waiting sender
 * gets @error; persisted messages stay in the outbox. */
void          natter_outbox_stop_waiting    (NatterOutbox             *self,
                                             const GError             *error);
void          natter_outbox_handle_ack      (NatterOutbox             *self,
                                             const Natter__PublishAck *ack);

/* Sends waiting for their ack (status-only ones included). */
guint         natter_outbox_get_n_pending   (NatterOutbox             *self);

G_END_DECLS
