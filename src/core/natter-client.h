/* natter-client.h — one signed-in user's connection to natterd
 *
 * Signals (all in the main context the client was created in):
 *   status-changed (NatterConnectionStatus new, NatterConnectionStatus old,
 *                   GError *error)  error: connect refusal (31002...) or kick (31010)
 *   message-received (NatterMessage *message)  every incoming message, after it
 *                   is stored when persisted; status-only ones too
 *   message-updated (NatterMessage *message)   sent status / uid / content changed
 *   chatroom-event (const char *chatroom_id, int code)  kicked (23409) / destroyed (23410)
 *   presence-changed (const char *user_id, gboolean online, const char *platform,
 *                     gint64 time, gboolean logout)  a subscribed user came online / went
 *                     offline (logout: signed out), or hides their status (see
 *                     natter_client_lookup_presence()); natter_client_subscribe_presence_async()
 *
 * The store (natter_client_get_store()) emits what the models follow:
 * message-added, message-updated, messages-cleared, conversation-changed,
 * conversation-removed.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "natter-message.h"
#include "natter-server-list.h"
#include "natter-store.h"
#include "natter-turn-credentials.h"

G_BEGIN_DECLS

#define NATTER_TYPE_CLIENT (natter_client_get_type ())

G_DECLARE_FINAL_TYPE (NatterClient, natter_client, NATTER, CLIENT, GObject)

/* Error domain of the client: the code is the reference number (NatterCode:
 * 31004, 22408, 30001 not connected, 30003 timeout, ...). */
#define NATTER_CLIENT_ERROR (natter_client_error_quark ())
GQuark        natter_client_error_quark (void);
/* TRUE for a send's error that left its message in the outbox, to go by
 * itself once natterd takes it (30001 not connected, 30002 natterd failing
 * for now, 30003 timeout): nothing for the user to do. Any other error of a
 * send is final, and its message FAILED with the code. */
gboolean      natter_client_error_is_transient (const GError *error);

/* @server_url: what natterd prints (http[s]://host:port), or several
 * natterd nodes of one service separated by commas; the WebSocket
 * (ws[s]://host:port/ws) and media URLs are derived from the node in use.
 * Once connected, the client reads the node's /navi.json and adds the nodes
 * it names (same scheme); when a connection fails or drops it tries the
 * next node. @profile_dir holds the SQLite store, the device id and the
 * media cache; it is created if needed. NULL keeps everything in memory
 * (tests, one-shot tools). */
NatterClient *natter_client_new            (const char   *server_url,
                                            const char   *app_key,
                                            const char   *profile_dir);

/* Connect.platform: "linux" unless set before connecting ("cli", "bot"...). */
void          natter_client_set_platform   (NatterClient *self,
                                            const char   *platform);

/* Starts connecting (status CONNECTING); the outcome comes as
 * ::status-changed. While the network is reachable the client reconnects by
 * itself (exponential backoff with jitter, at most 30 s; at once when the
 * network comes back), except after a kick or a token/app key refusal. */
void          natter_client_connect        (NatterClient *self,
                                            const char   *token);
/* Closes the connection, stops reconnecting (status DISCONNECTED). */
void          natter_client_disconnect     (NatterClient *self);
/* Disconnect when the user signs out: natterd says "logout" (presence). */
void          natter_client_sign_out       (NatterClient *self);
/* Connect again at once with the last token (e.g. a "Retry" button). */
void          natter_client_reconnect      (NatterClient *self);

NatterConnectionStatus natter_client_get_status      (NatterClient *self);
/* The error behind the current status (refusal, kick), or NULL. */
const GError *natter_client_get_status_error (NatterClient *self);
/* NULL until the first successful connect (then kept by the profile). */
const char   *natter_client_get_user_id    (NatterClient *self);
/* Seconds after sending that the user may edit a text message, as the
 * server said on connecting (NATTER_EDIT_WINDOW_DEFAULT before, or from a
 * server that does not say); 0 = editing is off. */
#define NATTER_EDIT_WINDOW_DEFAULT 172800
guint         natter_client_get_edit_window (NatterClient *self);
/* The server URL(s) as given to natter_client_new(). */
const char   *natter_client_get_server_url (NatterClient *self);
/* The node in use (or tried next): one of the given URLs or one their
 * /navi.json named. */
const char   *natter_client_get_current_server_url (NatterClient *self);
const char   *natter_client_get_app_key    (NatterClient *self);
/* NULL for an in-memory client. */
const char   *natter_client_get_profile_dir (NatterClient *self);
const char   *natter_client_get_device_id  (NatterClient *self);
NatterStore  *natter_client_get_store      (NatterClient *self);
/* Connected and every offline message stored: the inbox replay, then the
 * group timelines' sync (natter.v2; one that failed counts as done). */
gboolean      natter_client_get_caught_up  (NatterClient *self);
/* Messages sent from here still waiting for their ack (outbox in flight). */
guint         natter_client_get_n_pending  (NatterClient *self);
/* Server time minus local time, ms (from ConnectAck). */
gint64        natter_client_get_server_time_offset (NatterClient *self);

/* ------------------------------------------------------------- sending */

/* Persisted object names are stored SENDING first (the outbox, emitted as
 * message-added), sent, and become SENT on the ack or FAILED (error-code set)
 * on a definite refusal; the message is resent with the same client_msg_id
 * after reconnecting or restarting until then. finish returns the message
 * once acked, or the refusal as NATTER_CLIENT_ERROR; 30001 when the client
 * stops connecting while it waits (the message stays in the outbox).
 * Status-only names (RC:TypSts, RC:VC*, NT:VCIce, RC:ReadNtf...) are sent
 * without storing and need a connection (30001 otherwise). Custom object
 * names travel as persisted + counted. */
void           natter_client_send_message_async   (NatterClient           *self,
                                                   NatterConversationType  type,
                                                   const char             *target_id,
                                                   const char             *object_name,
                                                   JsonObject             *content,
                                                   GCancellable           *cancellable,
                                                   GAsyncReadyCallback     callback,
                                                   gpointer                user_data);
NatterMessage *natter_client_send_message_finish  (NatterClient           *self,
                                                   GAsyncResult           *result,
                                                   GError                **error);

/* Stops the upload of @message's file (a media message being sent): it
 * becomes FAILED, to be sent again, and nothing of it is published.
 * FALSE when its file is not being uploaded. While an upload goes on,
 * the client emits ::upload-progress (client_msg_id, current, total). */
gboolean       natter_client_cancel_upload        (NatterClient           *self,
                                                   NatterMessage          *message);

/* Sends a FAILED (or stuck SENDING) message again with a new client_msg_id. */
void           natter_client_resend_message_async (NatterClient           *self,
                                                   NatterMessage          *message,
                                                   GCancellable           *cancellable,
                                                   GAsyncReadyCallback     callback,
                                                   gpointer                user_data);
NatterMessage *natter_client_resend_message_finish (NatterClient          *self,
                                                   GAsyncResult           *result,
                                                   GError                **error);

/* Image: a JPEG thumbnail (gdk-pixbuf, ≤ 100 KB base64) plus an upload of
 * the original through natterd's media endpoint, then RC:ImgMsg. File:
 * upload, then RC:FileMsg. Voice: an Opus/Ogg file recorded elsewhere,
 * uploaded, then RC:HQVCMsg with @duration seconds. @progress (may be NULL)
 * reports upload bytes in the caller's main context. */
void           natter_client_send_image_async     (NatterClient           *self,
                                                   NatterConversationType  type,
                                                   const char             *target_id,
                                                   GFile                  *file,
                                                   GFileProgressCallback   progress,
                                                   gpointer                progress_data,
                                                   GCancellable           *cancellable,
                                                   GAsyncReadyCallback     callback,
                                                   gpointer                user_data);
void           natter_client_send_file_async      (NatterClient           *self,
                                                   NatterConversationType  type,
                                                   const char             *target_id,
                                                   GFile                  *file,
                                                   GFileProgressCallback   progress,
                                                   gpointer                progress_data,
                                                   GCancellable           *cancellable,
                                                   GAsyncReadyCallback     callback,
                                                   gpointer                user_data);
void           natter_client_send_voice_async     (NatterClient           *self,
                                                   NatterConversationType  type,
                                                   const char             *target_id,
                                                   GFile                  *file,
                                                   int                     duration,
                                                   GFileProgressCallback   progress,
                                                   gpointer                progress_data,
                                                   GCancellable           *cancellable,
                                                   GAsyncReadyCallback     callback,
                                                   gpointer                user_data);
/* finish for send_image/send_file/send_voice. */
NatterMessage *natter_client_send_media_finish    (NatterClient           *self,
                                                   GAsyncResult           *result,
                                                   GError                **error);

/* Stores a message without sending it (each side's RC:VCSummary); emits
 * message-added. @sent_time 0 = now. */
void           natter_client_insert_local_message_async  (NatterClient           *self,
                                                          NatterConversationType  type,
                                                          const char             *target_id,
                                                          const char             *sender_user_id,
                                                          const char             *object_name,
                                                          JsonObject             *content,
                                                          NatterMessageDirection  direction,
                                                          gint64                  sent_time,
                                                          GCancellable           *cancellable,
                                                          GAsyncReadyCallback     callback,
                                                          gpointer                user_data);
NatterMessage *natter_client_insert_local_message_finish (NatterClient           *self,
                                                          GAsyncResult           *result,
                                                          GError                **error);

/* Tells the peer (private chats) or the conversation that the user types;
 * rate-limited to one RC:TypSts every 6 s per conversation. Fire and forget. */
void           natter_client_send_typing          (NatterClient           *self,
                                                   NatterConversationType  type,
                                                   const char             *target_id);

/* --------------------------------------------------------------- media */

/* POSTs a file to natterd's media endpoint; returns its URL. */
void           natter_client_upload_async         (NatterClient           *self,
                                                   GFile                  *file,
                                                   const char             *content_type,
                                                   GFileProgressCallback   progress,
                                                   gpointer                progress_data,
                                                   GCancellable           *cancellable,
                                                   GAsyncReadyCallback     callback,
                                                   gpointer                user_data);
char          *natter_client_upload_finish        (NatterClient           *self,
                                                   GAsyncResult           *result,
                                                   GError                **error);

/* What a download is for: each kind has its own size limit. */
typedef enum {
  NATTER_MEDIA_KIND_FILE,       /* 100 MiB: natterd's default [media] max-size */
  NATTER_MEDIA_KIND_IMAGE,      /* 40 MiB */
  NATTER_MEDIA_KIND_VOICE,      /* 20 MiB: over an hour of Opus */
  NATTER_MEDIA_KIND_PORTRAIT,   /* 2 MiB */
} NatterMediaKind;

goffset        natter_media_kind_max_size         (NatterMediaKind         kind);

/* Whether @url is on natterd's own media origin (scheme, host and port of
 * the server URL the client was made with, or of the media URLs natterd
 * handed out for its uploads). Only those get the token and the app key;
 * any other URL is fetched without credentials or cookies, and a redirect
 * is followed by the same rule, hop by hop. */
gboolean       natter_client_is_own_origin        (NatterClient           *self,
                                                   const char             *url);

/* Downloads a media URL into the profile's cache (once: a cached file is
 * returned at once) and returns the local file. A download larger than
 * @kind allows stops there (G_IO_ERROR_MESSAGE_TOO_LARGE) and leaves
 * nothing behind. natter_client_download_async() is a FILE. */
void           natter_client_download_media_async (NatterClient           *self,
                                                   const char             *url,
                                                   NatterMediaKind         kind,
                                                   GFileProgressCallback   progress,
                                                   gpointer                progress_data,
                                                   GCancellable           *cancellable,
                                                   GAsyncReadyCallback     callback,
                                                   gpointer                user_data);
void           natter_client_download_async       (NatterClient           *self,
                                                   const char             *url,
                                                   GFileProgressCallback   progress,
                                                   gpointer                progress_data,
                                                   GCancellable           *cancellable,
                                                   GAsyncReadyCallback     callback,
                                                   gpointer                user_data);
GFile         *natter_client_download_finish      (NatterClient           *self,
                                                   GAsyncResult           *result,
                                                   GError                **error);

/* ------------------------------------------------------------- queries */

/* Server history of a conversation: up to @count (2..20) persisted messages
 * sent before @before_time (0 = newest), stored locally (deduplicated) and
 * returned oldest first. */
void           natter_client_get_history_async    (NatterClient           *self,
                                                   NatterConversationType  type,
                                                   const char             *target_id,
                                                   gint64                  before_time,
                                                   guint                   count,
                                                   GCancellable           *cancellable,
                                                   GAsyncReadyCallback     callback,
                                                   gpointer                user_data);
GPtrArray     *natter_client_get_history_finish   (NatterClient           *self,
                                                   GAsyncResult           *result,
                                                   gboolean               *has_more,
                                                   GError                **error);

/* Fetches the server's conversation list (every page) into the store:
 * unread counts, pinned/muted, latest messages. Returns how many. */
void           natter_client_sync_conversations_async  (NatterClient          *self,
                                                        GCancellable          *cancellable,
                                                        GAsyncReadyCallback    callback,
                                                        gpointer               user_data);
guint          natter_client_sync_conversations_finish (NatterClient          *self,
                                                        GAsyncResult          *result,
                                                        GError               **error);

/* Joins (creating it if needed) a chatroom; @count recent messages -1 (none)
 * ... 50. Returns them oldest first (also emitted as message-received) and
 * the member count. Chatrooms have no history. */
void           natter_client_join_chatroom_async  (NatterClient           *self,
                                                   const char             *chatroom_id,
                                                   int                     count,
                                                   GCancellable           *cancellable,
                                                   GAsyncReadyCallback     callback,
                                                   gpointer                user_data);
GPtrArray     *natter_client_join_chatroom_finish (NatterClient           *self,
                                                   GAsyncResult           *result,
                                                   guint                  *member_count,
                                                   GError                **error);
void           natter_client_quit_chatroom_async  (NatterClient           *self,
                                                   const char             *chatroom_id,
                                                   GCancellable           *cancellable,
                                                   GAsyncReadyCallback     callback,
                                                   gpointer                user_data);
gboolean       natter_client_quit_chatroom_finish (NatterClient           *self,
                                                   GAsyncResult           *result,
                                                   GError                **error);

/* Unread to zero here and on the server, RC:SRSMsg to the user's other
 * devices and, for private chats, RC:ReadNtf to the peer. Works offline for
 * the local part (the server part then fails with 30001 but the local
 * count is already zero). */
void           natter_client_clear_unread_async   (NatterClient           *self,
                                                   NatterConversationType  type,
                                                   const char             *target_id,
                                                   GCancellable           *cancellable,
                                                   GAsyncReadyCallback     callback,
                                                   gpointer                user_data);
gboolean       natter_client_clear_unread_finish  (NatterClient           *self,
                                                   GAsyncResult           *result,
                                                   GError                **error);

/* Recalls a message the user sent: it becomes RC:RcNtf here and for
 * everyone (25101 when not allowed). Returns the updated message. */
void           natter_client_recall_message_async (NatterClient           *self,
                                                   NatterMessage          *message,
                                                   GCancellable           *cancellable,
                                                   GAsyncReadyCallback     callback,
                                                   gpointer                user_data);
NatterMessage *natter_client_recall_message_finish (NatterClient          *self,
                                                   GAsyncResult           *result,
                                                   GError                **error);

/* Edits a text message the user sent (@content: the new RC:TxtMsg content):
 * natterd stores it with editedTime and tells every participant device
 * (NT:EditCmd); 25102 when not allowed, 25103 after the app's edit-window.
 * Returns the updated message. */
void           natter_client_edit_message_async   (NatterClient           *self,
                                                   NatterMessage          *message,
                                                   JsonObject             *content,
                                                   GCancellable           *cancellable,
                                                   GAsyncReadyCallback     callback,
                                                   gpointer                user_data);
NatterMessage *natter_client_edit_message_finish  (NatterClient           *self,
                                                   GAsyncResult           *result,
                                                   GError                **error);

/* Sets (@set: string values) and removes (@remove) keys of the expansion
 * of a private or group message sent with one (25104 otherwise, 25105 over
 * 300 keys): natterd tells every participant device (NT:ExpansionCmd).
 * Returns the updated message. */
void           natter_client_update_expansion_async  (NatterClient        *self,
                                                      NatterMessage       *message,
                                                      JsonObject          *set,
                                                      const char * const  *remove,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
NatterMessage *natter_client_update_expansion_finish (NatterClient        *self,
                                                      GAsyncResult        *result,
                                                      GError             **error);

/* Group read receipts (#16). request: asks the group for receipts of
 * @message (the user's own group message: RC:RRReqMsg); once asked,
 * natter_message_dup_read_by() fills as members' RC:RRRspMsg come, with
 * ::message-updated from the store. send: answers the requests among
 * @messages (a GPtrArray of NatterMessage of one group, others' messages
 * asking for receipts and not answered yet; the rest are skipped) with
 * one RC:RRRspMsg; TRUE with nothing to answer. Both go through the
 * outbox (sent on the next connection when offline). */
void           natter_client_request_read_receipts_async  (NatterClient        *self,
                                                           NatterMessage       *message,
                                                           GCancellable        *cancellable,
                                                           GAsyncReadyCallback  callback,
                                                           gpointer             user_data);
gboolean       natter_client_request_read_receipts_finish (NatterClient        *self,
                                                           GAsyncResult        *result,
                                                           GError             **error);
void           natter_client_send_read_receipts_async     (NatterClient        *self,
                                                           GPtrArray           *messages,
                                                           GCancellable        *cancellable,
                                                           GAsyncReadyCallback  callback,
                                                           gpointer             user_data);
gboolean       natter_client_send_read_receipts_finish    (NatterClient        *self,
                                                           GAsyncResult        *result,
                                                           GError             **error);

/* Clears the conversation's history for this user on every device of
 * theirs (NT:ClearCmd): natterd never returns the older messages to them
 * again (the other side's history stays), their other devices clear it
 * too, and this device clears it once natterd has it. */
void           natter_client_clear_history_async   (NatterClient           *self,
                                                    NatterConversationType  type,
                                                    const char             *target_id,
                                                    GCancellable           *cancellable,
                                                    GAsyncReadyCallback     callback,
                                                    gpointer                user_data);
gboolean       natter_client_clear_history_finish  (NatterClient           *self,
                                                    GAsyncResult           *result,
                                                    GError                **error);
/* Delete for me: the local copy's content is dropped (the row keeps its uid
 * and time, so history fetched again does not bring it back; it becomes
 * NT:DeletedLocally, shown by nobody); the other side keeps theirs.
 * Emits the store's message-updated. Returns the updated message. */
void           natter_client_delete_message_locally_async  (NatterClient        *self,
                                                            NatterMessage       *message,
                                                            GCancellable        *cancellable,
                                                            GAsyncReadyCallback  callback,
                                                            gpointer             user_data);
NatterMessage *natter_client_delete_message_locally_finish (NatterClient        *self,
                                                            GAsyncResult        *result,
                                                            GError             **error);

void           natter_client_get_turn_credentials_async  (NatterClient          *self,
                                                          GCancellable          *cancellable,
                                                          GAsyncReadyCallback    callback,
                                                          gpointer               user_data);
NatterTurnCredentials *natter_client_get_turn_credentials_finish (NatterClient  *self,
                                                          GAsyncResult          *result,
                                                          GError               **error);

/* Presence subscriptions (#16): @user_ids 1..200, @expiry 60..2592000 s;
 * the result is a GHashTable user id → GINT_TO_POINTER (online) of the
 * known users, now subscribed to (26030, 26031 over natterd's limits).
 * The client subscribes again after each reconnect until they expire. */
void           natter_client_subscribe_presence_async    (NatterClient        *self,
                                                          const char * const  *user_ids,
                                                          guint                expiry,
                                                          GCancellable        *cancellable,
                                                          GAsyncReadyCallback  callback,
                                                          gpointer             user_data);
GHashTable    *natter_client_subscribe_presence_finish   (NatterClient        *self,
                                                          GAsyncResult        *result,
                                                          GError             **error);
void           natter_client_unsubscribe_presence_async  (NatterClient        *self,
                                                          const char * const  *user_ids,
                                                          GCancellable        *cancellable,
                                                          GAsyncReadyCallback  callback,
                                                          gpointer             user_data);
gboolean       natter_client_unsubscribe_presence_finish (NatterClient        *self,
                                                          GAsyncResult        *result,
                                                          GError             **error);

/* What natterd last said of a subscribed user (#16): @hidden, the user
 * hides their status (privacy.json showOnline=false; then not online and
 * no last seen); @last_seen, Unix ms they went offline, 0 if unknown or
 * not shown to this user. Up to date when ::presence-changed is emitted
 * and when natter_client_subscribe_presence_finish() returns. */
typedef struct
{
  gboolean online;
  gboolean hidden;
  gint64   last_seen;
} NatterPresence;

gboolean       natter_client_lookup_presence             (NatterClient        *self,
                                                          const char          *user_id,
                                                          NatterPresence      *presence);

/* Returns a GHashTable user id → GINT_TO_POINTER (online). */
void           natter_client_get_online_status_async  (NatterClient          *self,
                                                       const char * const    *user_ids,
                                                       GCancellable          *cancellable,
                                                       GAsyncReadyCallback    callback,
                                                       gpointer               user_data);
GHashTable    *natter_client_get_online_status_finish (NatterClient          *self,
                                                       GAsyncResult          *result,
                                                       GError               **error);

/* Which of @device_ids (1..100, e.g. the device ringing for a call) @user_id
 * has connected now: a NULL-terminated array, empty when none. */
void           natter_client_get_online_devices_async  (NatterClient          *self,
                                                        const char            *user_id,
                                                        const char * const    *device_ids,
                                                        GCancellable          *cancellable,
                                                        GAsyncReadyCallback    callback,
                                                        gpointer               user_data);
GStrv          natter_client_get_online_devices_finish (NatterClient          *self,
                                                        GAsyncResult          *result,
                                                        GError               **error);

/* Fetches display names and portraits of users and groups (ProfileRequest:
 * 1..100 of each; groups only the user is in) and stores them: conversation
 * titles and portraits and messages' sender-name follow. The client also
 * does this by itself, batched, for what it stores and shows. */
void           natter_client_get_profiles_async       (NatterClient          *self,
                                                       const char * const    *user_ids,
                                                       const char * const    *group_ids,
                                                       GCancellable          *cancellable,
                                                       GAsyncReadyCallback    callback,
                                                       gpointer               user_data);
gboolean       natter_client_get_profiles_finish      (NatterClient          *self,
                                                       GAsyncResult          *result,
                                                       GError               **error);

typedef enum {
  NATTER_CONVERSATION_ACTION_PIN = 1,
  NATTER_CONVERSATION_ACTION_UNPIN = 2,
  NATTER_CONVERSATION_ACTION_MUTE = 3,
  NATTER_CONVERSATION_ACTION_UNMUTE = 4,
  NATTER_CONVERSATION_ACTION_REMOVE = 5,  /* hide until the next message */
} NatterConversationAction;

/* Pin/mute/remove on the server (so other devices follow) and here. */
void           natter_client_update_conversation_async  (NatterClient             *self,
                                                         NatterConversationType    type,
                                                         const char               *target_id,
                                                         NatterConversationAction  action,
                                                         GCancellable             *cancellable,
                                                         GAsyncReadyCallback       callback,
                                                         gpointer                  user_data);
gboolean       natter_client_update_conversation_finish (NatterClient             *self,
                                                         GAsyncResult             *result,
                                                         GError                  **error);

/* Removes a conversation from the list on the server (so the user's other
 * devices and the next sync agree) and deletes it with its messages here.
 * Offline, the local part is done and 30001 is returned. */
void           natter_client_delete_conversation_async  (NatterClient           *self,
                                                         NatterConversationType  type,
                                                         const char             *target_id,
                                                         GCancellable           *cancellable,
                                                         GAsyncReadyCallback     callback,
                                                         gpointer                user_data);
gboolean       natter_client_delete_conversation_finish (NatterClient           *self,
                                                         GAsyncResult           *result,
                                                         GError                **error);

/* --------------------------------------------------------------- addresses */

/* TRUE for an http:// (or ws://) URL whose host is not loopback
 * (127.0.0.0/8, ::1, localhost): the token would cross the network in the
 * clear. The app asks before signing in to one; natter-cli warns. */
gboolean       natter_url_is_unencrypted_remote  (const char           *url);

/* ------------------------------------------------------- app server token */

/* The seed's "the token comes from your app server": POSTs userId (and
 * name) form-encoded to @app_server_url and reads "token" from its JSON
 * reply ({"code":200,"token":...} as natterd's user/getToken answers). */
void           natter_fetch_token_async   (const char           *app_server_url,
                                           const char           *user_id,
                                           const char           *name,
                                           GCancellable         *cancellable,
                                           GAsyncReadyCallback   callback,
                                           gpointer              user_data);
char          *natter_fetch_token_finish  (GAsyncResult         *result,
                                           GError              **error);

G_END_DECLS
