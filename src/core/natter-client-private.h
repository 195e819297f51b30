/* natter-client-private.h — what the client's other files share
 *
 * natter-client.c: connection, delivery, the public sending calls;
 * natter-outbox.c: what was sent until natterd acks it;
 * natter-client-queries.c: Query/Result calls; natter-client-media.c:
 * upload, download, media messages, app server tokens;
 * natter-client-profiles.c and natter-profile-fetcher.c: names;
 * natter-client-presence.c: presence subscriptions.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <libsoup/soup.h>

#include "natter-client.h"
#include "natter-frame.h"
#include "natter-profile-fetcher.h"
#include "natter-server-list.h"
#include "natter-timeline-sync.h"

G_BEGIN_DECLS

/* ---- what natter-outbox.c asks of the client */

/* NATTER_CLIENT_ERROR @code, said as "Name (code): message". */
GError      *natter_client_error_new      (int            code,
                                           const char    *message);
/* Handshake done: frames may be published. */
gboolean     natter_client_is_connected   (NatterClient  *self);
/* connect() called, and no disconnect, kick or refusal since. */
gboolean     natter_client_wants_connection (NatterClient *self);
/* FALSE when there is no open connection (or @frame cannot be encoded). */
gboolean     natter_client_send_frame     (NatterClient      *self,
                                           const NatterFrame *frame);

/* ---- what the client's other files share */

/* Sends @query (its request_id is filled in); @task returns the Result
 * frame (NatterFrame*, natter_frame_free) or the error (30001 when not
 * connected, 30003 after 20 s, the Result's code otherwise). */
void         natter_client_send_query     (NatterClient  *self,
                                           Natter__Query *query,
                                           GTask         *task);
/* A binary message from natterd, as the connection received it: decoded
 * and handled (a frame that does not decode is dropped). */
void         natter_client_receive        (NatterClient  *self,
                                           const guint8  *data,
                                           gsize          size);
/* The wait before reconnect attempt @attempt (0 first): 1 s doubling to
 * 30 s, each a random time between half of that and all of it. */
guint        natter_client_reconnect_delay_ms (guint attempt);
/* Now on the server's clock (ms). */
gint64       natter_client_server_now     (NatterClient  *self);
SoupSession *natter_client_get_session    (NatterClient  *self);
/* http[s]://host:port/media */
const char  *natter_client_get_media_url  (NatterClient  *self);
const char  *natter_client_get_token      (NatterClient  *self);
/* natter-client-media.c: localhost, 127.0.0.0/8 or ::1. */
gboolean     natter_host_is_loopback      (const char    *host);
/* The nodes (natter-server-list.c), and the origins that get credentials. */
NatterServerList *natter_client_get_server_list (NatterClient *self);

/* Every node the client knows, the configured ones first. */
static inline GStrv
natter_client_dup_server_urls (NatterClient *self)
{
  return natter_server_list_dup_urls (natter_client_get_server_list (self));
}

/* natter_client_send_message_async() with an upload progress for a media
 * message that waits for its upload. */
void         natter_client_send_media_message_async  (NatterClient           *self,
                                                      NatterConversationType  type,
                                                      const char             *target_id,
                                                      const char             *object_name,
                                                      JsonObject             *content,
                                                      GFileProgressCallback   progress,
                                                      gpointer                progress_data,
                                                      GCancellable           *cancellable,
                                                      GAsyncReadyCallback     callback,
                                                      gpointer                user_data);
/* The outbox's upload of a message's file went on: ::upload-progress. */
void         natter_client_emit_upload_progress      (NatterClient           *self,
                                                      const char             *client_msg_id,
                                                      goffset                 current,
                                                      goffset                 total);
/* Uploads the local file of @message; returns its content with the URL in
 * place of the local path. */
void         natter_client_upload_message_async      (NatterClient           *self,
                                                      NatterMessage          *message,
                                                      GFileProgressCallback   progress,
                                                      gpointer                progress_data,
                                                      GCancellable           *cancellable,
                                                      GAsyncReadyCallback     callback,
                                                      gpointer                user_data);
JsonObject  *natter_client_upload_message_finish     (NatterClient           *self,
                                                      GAsyncResult           *result,
                                                      GError                **error);
/* An upload error that will not go away by trying again (the local file
 * is gone, natterd refused the file). */
gboolean     natter_upload_error_is_definite         (const GError           *error);

/* NULL once the client is disposed. */
NatterProfileFetcher *natter_client_get_profile_fetcher (NatterClient        *self);

/* ---- natter-client-presence.c: presence subscriptions (#16) */

/* user id → gint64* expiry (Unix ms) of this client's subscriptions */
GHashTable  *natter_client_get_presence_subscriptions (NatterClient *self);
/* Subscribes again for the time left (natterd keeps them in memory). */
void         natter_client_presence_connected         (NatterClient *self);
/* user id → NatterPresence*: natter_client_lookup_presence()'s table */
GHashTable  *natter_client_get_presence_known         (NatterClient *self);
/* natterd told of @user_id (a PresenceEvent, a subscribe answer). */
void         natter_client_presence_note              (NatterClient *self,
                                                       const char   *user_id,
                                                       gboolean      online,
                                                       gboolean      hidden,
                                                       gint64        last_seen);

/* ---- natter-client-queries.c: chatrooms rejoined after a reconnect */

/* natterd keeps a member this long offline ([chatroom] offline-timeout). */
#define NATTER_CHATROOM_KEPT_S 30

/* The ids of the chatrooms joined (and not quit, kicked from or gone). */
GHashTable  *natter_client_get_joined_chatrooms (NatterClient *self);
/* Joins them again: with no messages when natterd still has the
 * membership (@kept: offline under NATTER_CHATROOM_KEPT_S), else with
 * count 0 (natterd's default of recent messages), as the seed's SDK. */
void         natter_client_rejoin_chatrooms     (NatterClient *self,
                                                 gboolean      kept);

/* ---- natter-timeline-sync.c: group timelines */

/* ::message-received for @message (a group message stored). */
/* Applies a recall, edit, expansion update or receipt request (from the
 * inbox or a group timeline) to the store, queued after whatever the store
 * was given before. FALSE, with nothing queued, for other messages and for
 * a command that names no message. Finished with
 * natter_store_get_message_finish(). */
gboolean     natter_client_apply_update          (NatterClient        *self,
                                                  NatterMessage       *command,
                                                  GAsyncReadyCallback  callback,
                                                  gpointer             user_data);
void         natter_client_emit_message_received (NatterClient  *self,
                                                  NatterMessage *message);
/* The timeline sync of this connection is over: caught up, if the inbox is. */
void         natter_client_timelines_synced      (NatterClient  *self);
NatterTimelineSync *natter_client_get_timeline_sync (NatterClient *self);

G_END_DECLS
