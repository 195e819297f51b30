/* natter-client.c — the connection to natterd
 *
 * One WebSocket (natter.v2) at a time. Every frame from the server goes
 * through natter_frame_decode() as NATTER_PEER_SERVER; nothing else reads
 * the network. Incoming messages are stored before their inbox seq is
 * acked; group messages (no inbox seq) go to the client's
 * NatterTimelineSync (natter-timeline-sync.c), which also syncs the group
 * timelines once the inbox replay is stored. What is sent waits for its
 * ack in the client's NatterOutbox
 * (natter-outbox.c), which the client tells of every connect, lost
 * connection and PublishAck; it stores persisted messages before they are
 * published and publishes them again after every reconnect.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-client-private.h"

#include <libsoup/soup.h>
#include <string.h>

#include "natter-frame.h"
#include "natter-message-private.h"
#include "natter-outbox.h"
#include "natter-store-private.h"

G_DEFINE_QUARK (natter-client-error-quark, natter_client_error)

gboolean
natter_client_error_is_transient (const GError *error)
{
  return error != NULL && error->domain == NATTER_CLIENT_ERROR &&
         (error->code == NATTER_CODE_NOT_CONNECTED || error->code == NATTER_CODE_SERVER_ERROR ||
          error->code == NATTER_CODE_TIMEOUT);
}

#define CONNECT_TIMEOUT_S        15
#define QUERY_TIMEOUT_S          20
#define DEFAULT_PING_INTERVAL_S  30
#define RECONNECT_BASE_MS        1000
#define RECONNECT_MAX_MS         30000
#define TYPING_INTERVAL_US       (6 * G_USEC_PER_SEC)

typedef struct {
  guint32 request_id;
  GTask *task;
  guint timeout_source;
} PendingQuery;

typedef struct {
  guint64 seq;
  guint generation;
  gboolean done;
} DeliverItem;

struct _NatterClient
{
  GObject parent_instance;

  char *server_url;             /* as given: one URL or a comma-separated list */
  char *app_key;
  char *profile_dir;
  char *platform;
  NatterServerList *servers;    /* the nodes, and the one in use */

  NatterStore *store;
  SoupSession *session;
  GNetworkMonitor *monitor;

  char *token;
  char *user_id;
  char *device_id;
  guint64 last_seq;
  gboolean identity_loaded;
  gboolean identity_loading;

  NatterConnectionStatus status;
  GError *status_error;
  gboolean want_connected;      /* connect() called, no disconnect/kick/refusal since */
  gboolean handshake_done;
  guint generation;             /* one per connection attempt */
  guint attempt;                /* reconnects since the last success */

  SoupWebsocketConnection *ws;
  GCancellable *connect_cancellable;
  guint connect_timeout_source;
  guint reconnect_source;
  guint ping_source;
  guint ping_interval;
  guint edit_window;            /* s, the app's edit-window (ConnectAck) */
  gint64 last_frame_time;       /* monotonic µs */
  gint64 server_time_offset;    /* ms */
  gint64 latest_server_time;    /* ms: the latest sent_time delivered, not from the future */

  NatterOutbox *outbox;
  GHashTable *pending_queries;  /* request_id -> PendingQuery */
  guint32 next_request_id;
  GQueue delivers;              /* DeliverItem, in arrival order */
  guint64 acked_seq;
  guint64 max_seq;              /* inbox head when this connection was accepted */
  gboolean caught_up;

  GHashTable *typing_sent;      /* conversation key -> gint64* monotonic µs */
  NatterProfileFetcher *profiles;
  NatterTimelineSync *timelines;
  GHashTable *presence;         /* user id -> gint64* expiry (Unix ms), natter-client-presence.c */
  GHashTable *presence_known;   /* user id -> NatterPresence*, what natterd last said */
  gboolean signing_out;         /* the next close says logout (NATTER_CLOSE_LOGOUT) */
  GHashTable *chatrooms;        /* ids of the chatrooms joined, rejoined after a reconnect */
  gint64 offline_since;         /* monotonic µs the last connection went, 0 if never */
  GHashTable *notice_rates;     /* "room" or "room\x1fsender" -> NoticeRate, chat room notices kept */
};

G_DEFINE_FINAL_TYPE (NatterClient, natter_client, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_SERVER_URL,
  PROP_APP_KEY,
  PROP_PROFILE_DIR,
  PROP_STATUS,
  PROP_USER_ID,
  PROP_DEVICE_ID,
  PROP_STORE,
  PROP_CAUGHT_UP,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_STATUS_CHANGED,
  SIGNAL_MESSAGE_RECEIVED,
  SIGNAL_MESSAGE_UPDATED,
  SIGNAL_CHATROOM_EVENT,
  SIGNAL_PRESENCE_CHANGED,
  SIGNAL_UPLOAD_PROGRESS,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void start_connect        (NatterClient *self);
static gboolean ping_cb          (gpointer      user_data);
static void schedule_reconnect   (NatterClient *self);
static void drop_connection      (NatterClient *self);

static void
set_caught_up (NatterClient *self,
               gboolean      caught_up)
{
  if (self->caught_up == caught_up)
    return;
  self->caught_up = caught_up;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CAUGHT_UP]);
}

/* Caught up: the inbox replay is stored, then the group timelines synced. */
static void
update_caught_up (NatterClient *self)
{
  gboolean inbox = self->handshake_done && self->last_seq >= self->max_seq;

  if (inbox && self->timelines != NULL)
    natter_timeline_sync_start (self->timelines);
  set_caught_up (self, inbox && self->timelines != NULL && natter_timeline_sync_is_done (self->timelines));
}

void
natter_client_timelines_synced (NatterClient *self)
{
  update_caught_up (self);
}

void
natter_client_emit_message_received (NatterClient  *self,
                                     NatterMessage *message)
{
  g_signal_emit (self, signals[SIGNAL_MESSAGE_RECEIVED], 0, message);
}

NatterTimelineSync *
natter_client_get_timeline_sync (NatterClient *self)
{
  return self->timelines;
}

static inline gint64
now_ms (void)
{
  return g_get_real_time () / 1000;
}

/* After every message delivered: a reply sorts after what it answers. */
gint64
natter_client_server_now (NatterClient *self)
{
  return MAX (now_ms () + self->server_time_offset, self->latest_server_time + 1);
}

/* ----------------------------------------------------------------- errors */

GError *
natter_client_error_new (int         code,
                         const char *message)
{
  if (message != NULL && *message != '\0')
    return g_error_new (NATTER_CLIENT_ERROR, code, "%s (%d): %s",
                        natter_code_to_string (code), code, message);
  return g_error_new (NATTER_CLIENT_ERROR, code, "%s (%d)", natter_code_to_string (code), code);
}

static gboolean
is_connect_refusal (int code)
{
  switch (code)
    {
    case NATTER_CODE_APP_KEY_REJECTED:
    case NATTER_CODE_TOKEN_INCORRECT:
    case NATTER_CODE_APP_KEY_MISMATCH:
    case NATTER_CODE_APP_BLOCKED:
    case NATTER_CODE_USER_BLOCKED:
    case NATTER_CODE_TOKEN_EXPIRED:
      return TRUE;
    default:
      return FALSE;
    }
}

/* ---------------------------------------------------------------- status */

static void
set_status (NatterClient           *self,
            NatterConnectionStatus  status,
            const GError           *error)
{
  NatterConnectionStatus old = self->status;

  g_clear_error (&self->status_error);
  if (error != NULL)
    self->status_error = g_error_copy (error);

  if (old == status && error == NULL)
    return;

  self->status = status;
  if (old == NATTER_CONNECTION_CONNECTED)
    self->offline_since = g_get_monotonic_time ();
  if (old != status)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
  g_signal_emit (self, signals[SIGNAL_STATUS_CHANGED], 0, status, old, error);
}

/* ----------------------------------------------------------- pending queries */

static void
pending_query_free (PendingQuery *pending)
{
  g_clear_handle_id (&pending->timeout_source, g_source_remove);
  g_clear_object (&pending->task);
  g_free (pending);
}

static void
fail_pending_queries (NatterClient *self,
                      const GError *error)
{
  g_autoptr(GList) queries = g_hash_table_get_values (self->pending_queries);

  g_hash_table_steal_all (self->pending_queries);
  for (GList *l = queries; l != NULL; l = l->next)
    {
      PendingQuery *pending = l->data;

      g_task_return_error (pending->task, g_error_copy (error));
      pending_query_free (pending);
    }
}

/* ------------------------------------------------------------------ frames */

gboolean
natter_client_send_frame (NatterClient      *self,
                          const NatterFrame *frame)
{
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;

  if (self->ws == NULL ||
      soup_websocket_connection_get_state (self->ws) != SOUP_WEBSOCKET_STATE_OPEN)
    return FALSE;

  bytes = natter_frame_encode (frame, &error);
  if (bytes == NULL)
    {
      g_warning ("Cannot encode %s frame: %s", natter_frame_type_name (frame), error->message);
      return FALSE;
    }

  soup_websocket_connection_send_message (self->ws, SOUP_WEBSOCKET_DATA_BINARY, bytes);
  return TRUE;
}

gboolean
natter_client_is_connected (NatterClient *self)
{
  return self->status == NATTER_CONNECTION_CONNECTED && self->ws != NULL && self->handshake_done;
}

gboolean
natter_client_wants_connection (NatterClient *self)
{
  return self->want_connected;
}

/* ------------------------------------------------------------- delivering */

static void
ack_delivered (NatterClient *self)
{
  guint64 ack = 0;
  DeliverItem *item;

  /* Cumulative: only what is stored without a gap before it. */
  while ((item = g_queue_peek_head (&self->delivers)) != NULL && item->done)
    {
      if (item->generation == self->generation)
        ack = MAX (ack, item->seq);
      g_free (g_queue_pop_head (&self->delivers));
    }

  if (ack > self->acked_seq && natter_client_is_connected (self))
    {
      Natter__Frame frame = NATTER__FRAME__INIT;
      Natter__DeliverAck deliver_ack = NATTER__DELIVER_ACK__INIT;

      deliver_ack.seq = ack;
      frame.body_case = NATTER__FRAME__BODY_DELIVER_ACK;
      frame.deliver_ack = &deliver_ack;
      if (natter_client_send_frame (self, &frame))
        self->acked_seq = ack;
    }
}

typedef struct {
  NatterClient *self;
  DeliverItem *item;
  NatterMessage *message;       /* as it arrived */
} DeliverData;

static void
deliver_data_free (DeliverData *data)
{
  g_object_unref (data->self);
  g_clear_object (&data->message);
  g_free (data);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DeliverData, deliver_data_free)

static void
deliver_done (DeliverData *data,
              gboolean     stored)
{
  NatterClient *self = data->self;

  if (stored)
    {
      data->item->done = TRUE;
      if (data->item->seq > self->last_seq)
        self->last_seq = data->item->seq;
      update_caught_up (self);
    }
  else
    {
      /* Not stored: nothing after it may be acked, so this connection acks
       * nothing more; a new one gets the replay from the last ack. */
      data->item->done = TRUE;
      if (data->item->generation == self->generation && self->ws != NULL)
        {
          drop_connection (self);
          schedule_reconnect (self);
        }
      return;
    }
  ack_delivered (self);
}

static void
delivered_stored_cb (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(DeliverData) data = user_data;
  g_autoptr(NatterMessage) message = NULL;
  g_autoptr(GError) error = NULL;
  gboolean added = FALSE;

  message = natter_store_add_message_finish (NATTER_STORE (object), result, &added, &error);
  if (message == NULL)
    {
      g_warning ("Cannot store message %s: %s",
                 natter_message_get_message_uid (data->message), error->message);
      deliver_done (data, FALSE);
      return;
    }

  deliver_done (data, TRUE);

  /* A replay of what is already here (ack lost) is not news. */
  if (added)
    {
      if (data->self->profiles != NULL)
        natter_profile_fetcher_note (data->self->profiles, message);
      g_signal_emit (data->self, signals[SIGNAL_MESSAGE_RECEIVED], 0, message);
    }
}

static void
delivered_applied_cb (GObject      *object,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(DeliverData) data = user_data;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  /* Recall (get_message), read receipts and read sync (booleans). */
  if (g_task_get_source_tag (G_TASK (result)) == natter_store_get_message_async)
    {
      g_autoptr(NatterMessage) recalled = natter_store_get_message_finish (NATTER_STORE (object),
                                                                           result, &error);
      ok = error == NULL;
    }
  else if (g_task_get_source_tag (G_TASK (result)) == natter_store_mark_read_async)
    ok = natter_store_mark_read_finish (NATTER_STORE (object), result, &error);
  else if (g_task_get_source_tag (G_TASK (result)) == natter_store_clear_unread_async)
    ok = natter_store_clear_unread_finish (NATTER_STORE (object), result, &error);
  else if (g_task_get_source_tag (G_TASK (result)) == natter_store_clear_messages_async)
    ok = natter_store_clear_messages_finish (NATTER_STORE (object), result, &error);
  else
    ok = natter_store_set_value_finish (NATTER_STORE (object), result, &error);

  if (!ok)
    g_warning ("Cannot apply %s: %s", natter_message_get_object_name (data->message), error->message);

  deliver_done (data, ok);
  g_signal_emit (data->self, signals[SIGNAL_MESSAGE_RECEIVED], 0, data->message);
}

/* Someone joined or left a chat room this user is in: kept as a notice in
 * the room's chat. natterd stamps the sender; the content only says what
 * they did. */
static void
chatroom_notice_stored_cb (GObject      *object,
                           GAsyncResult *result,
                           gpointer      user_data)
{
  g_autoptr(DeliverData) data = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterMessage) stored = natter_client_insert_local_message_finish (NATTER_CLIENT (object),
                                                                               result, &error);

  /* A notice not kept loses no message: the connection goes on. */
  if (stored == NULL)
    g_warning ("Cannot keep a chat room notice: %s", error->message);
  deliver_done (data, TRUE);
  g_signal_emit (data->self, signals[SIGNAL_MESSAGE_RECEIVED], 0, data->message);
}

/* Chat room notices kept, at most: a member joining and leaving over and
 * over shows a few times (NOTICE_SENDER_MAX in NOTICE_SENDER_WINDOW), a
 * crowd arriving at once a few a second (NOTICE_ROOM_MAX; removals count
 * here only), so a flood cannot fill the room's timeline. What is over is
 * dropped, not queued. */
#define NOTICE_SENDER_MAX 3
#define NOTICE_SENDER_WINDOW (10 * G_USEC_PER_SEC)
#define NOTICE_ROOM_MAX 5
#define NOTICE_ROOM_WINDOW G_USEC_PER_SEC
#define NOTICE_RATES_MAX 1000

typedef struct
{
  gint64 window_start;          /* monotonic µs */
  guint  count;
} NoticeRate;

/* Counts one notice against @key, unless @max in @window were already. */
static gboolean
notice_rate_take (NatterClient *self,
                  char         *key,
                  guint         max,
                  gint64        window,
                  gint64        now)
{
  NoticeRate *rate = g_hash_table_lookup (self->notice_rates, key);

  if (rate == NULL)
    {
      rate = g_new0 (NoticeRate, 1);
      g_hash_table_insert (self->notice_rates, key, rate);
    }
  else
    g_free (key);
  if (now - rate->window_start >= window)
    {
      rate->window_start = now;
      rate->count = 0;
    }
  if (rate->count >= max)
    return FALSE;
  rate->count++;
  return TRUE;
}

static gboolean
notice_rate_expired (gpointer key,
                     gpointer value,
                     gpointer user_data)
{
  const NoticeRate *rate = value;

  return *(const gint64 *) user_data - rate->window_start >= NOTICE_SENDER_WINDOW;
}

/* @by_sender: the sender's own doing (a join or quit), not natterd's
 * word that they were removed. */
static gboolean
chatroom_notice_allowed (NatterClient *self,
                         const char   *room,
                         const char   *sender,
                         gboolean      by_sender)
{
  gint64 now = g_get_monotonic_time ();

  if (g_hash_table_size (self->notice_rates) >= NOTICE_RATES_MAX)
    g_hash_table_foreach_remove (self->notice_rates, notice_rate_expired, &now);
  /* The sender's burst first: one member's flood does not use up the room's. */
  if (by_sender &&
      !notice_rate_take (self, g_strconcat (room, "\x1f", sender, NULL), NOTICE_SENDER_MAX,
                         NOTICE_SENDER_WINDOW, now))
    return FALSE;
  return notice_rate_take (self, g_strdup (room), NOTICE_ROOM_MAX, NOTICE_ROOM_WINDOW, now);
}

static gboolean
keep_chatroom_notice (NatterClient *self,
                      DeliverData  *data)
{
  NatterMessage *message = data->message;
  const char *operation = natter_message_get_notification_operation (message);
  const char *sender = natter_message_get_sender_user_id (message);
  g_autoptr(JsonObject) content = NULL;

  /* Kicked: natterd tells the room someone was removed (a server API
   * block); the sender is who was removed. */
  if (natter_message_get_conversation_type (message) != NATTER_CONVERSATION_CHATROOM ||
      (g_strcmp0 (operation, "Join") != 0 && g_strcmp0 (operation, "Quit") != 0 &&
       g_strcmp0 (operation, "Kicked") != 0) ||
      g_strcmp0 (sender, self->user_id) == 0)
    return FALSE;
  if (!chatroom_notice_allowed (self, natter_message_get_target_id (message), sender,
                                g_strcmp0 (operation, "Kicked") != 0))
    return FALSE;

  content = json_object_new ();
  json_object_set_string_member (content, "operation", operation);
  json_object_set_string_member (content, "operatorUserId", sender);
  natter_client_insert_local_message_async (self, NATTER_CONVERSATION_CHATROOM,
                                            natter_message_get_target_id (message), sender,
                                            NATTER_OBJECT_CHATROOM_NOTIFICATION, content,
                                            NATTER_MESSAGE_DIRECTION_RECEIVE,
                                            natter_message_get_sent_time (message), NULL,
                                            chatroom_notice_stored_cb, data);
  return TRUE;
}

/* At most this many of one's messages a receipt marks (natterd bounds
 * nothing in its content but the frame). */
#define RECEIPT_UIDS_MAX 200

/* A command with nothing to apply here still moves the seq forward. */
static void
apply_nothing (NatterClient          *self,
               const Natter__Deliver *deliver,
               DeliverData           *data)
{
  g_autofree char *seq = g_strdup_printf ("%" G_GUINT64_FORMAT, MAX (deliver->seq, self->last_seq));

  natter_store_set_value_async (self->store, "last-seq", seq, NULL, delivered_applied_cb, data);
}

gboolean
natter_client_apply_update (NatterClient        *self,
                            NatterMessage       *command,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  JsonObject *content = natter_message_get_content (command);
  const char *uid = json_object_get_string_member_with_default (content, "messageUId", NULL);
  const char *sender = natter_message_get_sender_user_id (command);

  if (uid == NULL || *uid == '\0')
    return FALSE;

  switch (natter_message_get_kind (command))
    {
    case NATTER_MESSAGE_KIND_RECALL_COMMAND:
      natter_store_recall_async (self->store, uid, sender, natter_message_get_sent_time (command), NULL,
                                 callback, user_data);
      return TRUE;

    case NATTER_MESSAGE_KIND_EXPANSION_COMMAND:
      {
        g_autofree char *text = natter_content_to_string (content);

        natter_store_expand_async (self->store, text, NULL, callback, user_data);
        return TRUE;
      }

    case NATTER_MESSAGE_KIND_EDIT_COMMAND:
      {
        JsonNode *edited = json_object_get_member (content, "content");
        g_autofree char *text = NULL;

        if (edited == NULL || !JSON_NODE_HOLDS_OBJECT (edited))
          return FALSE;
        text = json_to_string (edited, FALSE);
        natter_store_edit_async (self->store, uid, sender, text, NULL, callback, user_data);
        return TRUE;
      }

    case NATTER_MESSAGE_KIND_RECEIPT_REQUEST:
      natter_store_receipt_async (self->store, uid, sender, "requested", NULL, NULL, callback, user_data);
      return TRUE;

    default:
      return FALSE;
    }
}

static void
handle_deliver (NatterClient         *self,
                const Natter__Deliver *deliver)
{
  g_autoptr(NatterMessage) message = NULL;
  g_autoptr(GError) error = NULL;
  DeliverData *data;
  DeliverItem *item;

  message = natter_message_new_from_proto (deliver->message, self->user_id, deliver->offline, &error);
  if (message == NULL)
    {
      /* natter_frame_decode() checked the content already. */
      g_warning ("Ignoring message %s: %s", deliver->message->message_uid, error->message);
      return;
    }

  if (natter_message_get_sent_time (message) < now_ms () + self->server_time_offset + 60000)
    self->latest_server_time = MAX (self->latest_server_time, natter_message_get_sent_time (message));
  /* A group timeline's (never acked): stored there, or a command applied below. */
  if (deliver->seq == 0 && natter_message_get_timeline_seq (message) > 0 &&
      natter_timeline_sync_deliver (self->timelines, message))
    return;

  item = g_new0 (DeliverItem, 1);
  item->seq = deliver->seq;
  item->generation = self->generation;
  g_queue_push_tail (&self->delivers, item);

  data = g_new0 (DeliverData, 1);
  data->self = g_object_ref (self);
  data->item = item;
  data->message = g_object_ref (message);

  switch (natter_message_get_kind (message))
    {
    case NATTER_MESSAGE_KIND_RECALL_COMMAND:
    case NATTER_MESSAGE_KIND_EXPANSION_COMMAND:
    case NATTER_MESSAGE_KIND_EDIT_COMMAND:
      if (natter_client_apply_update (self, message, delivered_applied_cb, data))
        return;
      break;

    case NATTER_MESSAGE_KIND_RECEIPT_REQUEST:
      if (natter_client_apply_update (self, message, delivered_applied_cb, data))
        return;
      apply_nothing (self, deliver, data);
      return;

    case NATTER_MESSAGE_KIND_RECEIPT_RESPONSE:
      {
        /* receiptMessageDic names this user's messages that were read. */
        JsonObject *content = natter_message_get_content (message);
        JsonNode *dic = json_object_get_member (content, "receiptMessageDic");
        JsonNode *mine = dic != NULL && JSON_NODE_HOLDS_OBJECT (dic) ?
                         json_object_get_member (json_node_get_object (dic), self->user_id) : NULL;
        JsonArray *uids = mine != NULL && JSON_NODE_HOLDS_ARRAY (mine) ? json_node_get_array (mine) : NULL;
        guint n = uids != NULL ? MIN (json_array_get_length (uids), RECEIPT_UIDS_MAX) : 0;
        const char *last = NULL;

        for (guint i = 0; i < n; i++)
          {
            JsonNode *element = json_array_get_element (uids, i);
            const char *uid;

            if (!JSON_NODE_HOLDS_VALUE (element) || json_node_get_value_type (element) != G_TYPE_STRING)
              continue;
            uid = json_node_get_string (element);
            /* The store runs jobs in order: the last one says it is applied. */
            if (last != NULL)
              natter_store_receipt_async (self->store, last, self->user_id, "readBy",
                                          natter_message_get_sender_user_id (message), NULL, NULL, NULL);
            last = uid;
          }
        if (last != NULL)
          {
            natter_store_receipt_async (self->store, last, self->user_id, "readBy",
                                        natter_message_get_sender_user_id (message), NULL,
                                        delivered_applied_cb, data);
            return;
          }
        apply_nothing (self, deliver, data);
        return;
      }

    case NATTER_MESSAGE_KIND_CLEAR_COMMAND:
      /* This user cleared the conversation on another device; what came
       * before the command came before it in the inbox too. */
      natter_store_clear_messages_async (self->store, natter_message_get_conversation_type (message),
                                         natter_message_get_target_id (message), NULL,
                                         delivered_applied_cb, data);
      return;

    case NATTER_MESSAGE_KIND_CHATROOM_NOTIFICATION:
      if (keep_chatroom_notice (self, data))
        return;
      break;

    case NATTER_MESSAGE_KIND_SYNC_READ_STATUS:
      natter_store_clear_unread_async (self->store, natter_message_get_conversation_type (message),
                                       natter_message_get_target_id (message),
                                       natter_message_get_last_message_send_time (message), NULL,
                                       delivered_applied_cb, data);
      return;

    case NATTER_MESSAGE_KIND_READ_NOTIFICATION:
      natter_store_mark_read_async (self->store, natter_message_get_conversation_type (message),
                                    natter_message_get_target_id (message),
                                    natter_message_get_last_message_send_time (message), NULL,
                                    delivered_applied_cb, data);
      return;

    case NATTER_MESSAGE_KIND_UNSUPPORTED:
    case NATTER_MESSAGE_KIND_TEXT:
    case NATTER_MESSAGE_KIND_IMAGE:
    case NATTER_MESSAGE_KIND_VOICE:
    case NATTER_MESSAGE_KIND_HQ_VOICE:
    case NATTER_MESSAGE_KIND_FILE:
    case NATTER_MESSAGE_KIND_INFO:
    case NATTER_MESSAGE_KIND_RECALLED:
    case NATTER_MESSAGE_KIND_COMMAND:
    case NATTER_MESSAGE_KIND_TYPING:
    case NATTER_MESSAGE_KIND_CS_HANDSHAKE:
    case NATTER_MESSAGE_KIND_CALL_SIGNAL:
    case NATTER_MESSAGE_KIND_CALL_SUMMARY:
    default:
      break;
    }

  if (natter_message_is_persisted (message))
    {
      natter_store_add_delivered_async (self->store, message, deliver->seq, NULL,
                                        delivered_stored_cb, data);
      return;
    }

  /* Not stored, so not named by the store: "Bob is typing…", a caller. */
  {
    const NatterProfile *profile = natter_store_lookup_user (self->store,
                                                             natter_message_get_sender_user_id (message));

    if (profile != NULL)
      natter_message_set_sender_profile (message, profile->name, profile->portrait_uri);
  }

  /* Not stored: an inbox entry (RC:CmdMsg) still moves the seq forward. */
  if (deliver->seq > 0)
    {
      g_autofree char *seq = g_strdup_printf ("%" G_GUINT64_FORMAT, MAX (deliver->seq, self->last_seq));

      natter_store_set_value_async (self->store, "last-seq", seq, NULL, delivered_applied_cb, data);
      return;
    }

  if (self->profiles != NULL &&
      g_strcmp0 (natter_message_get_object_name (message), NATTER_OBJECT_PROFILE_NOTIFICATION) == 0)
    natter_profile_fetcher_changed (self->profiles, message);

  item->done = TRUE;
  ack_delivered (self);
  g_signal_emit (self, signals[SIGNAL_MESSAGE_RECEIVED], 0, message);
  deliver_data_free (data);
}

/* ---------------------------------------------------------------- results */

static void
handle_result (NatterClient        *self,
               NatterFrame        **frame)
{
  const Natter__Result *result = (*frame)->result;
  PendingQuery *pending;

  if (!g_hash_table_steal_extended (self->pending_queries, GUINT_TO_POINTER (result->request_id),
                                    NULL, (gpointer *) &pending))
    {
      g_debug ("Result for unknown request %u", result->request_id);
      return;
    }

  if (result->code != NATTER_CODE_OK)
    g_task_return_error (pending->task,
                         natter_client_error_new (result->code, result->error_message));
  else
    g_task_return_pointer (pending->task, g_steal_pointer (frame), (GDestroyNotify) natter_frame_free);

  pending_query_free (pending);
}

static gboolean
query_timeout_cb (gpointer user_data)
{
  PendingQuery *pending = user_data;
  NatterClient *self = g_task_get_source_object (pending->task);

  pending->timeout_source = 0;
  if (g_hash_table_steal (self->pending_queries, GUINT_TO_POINTER (pending->request_id)))
    {
      g_task_return_error (pending->task, natter_client_error_new (NATTER_CODE_TIMEOUT, NULL));
      pending_query_free (pending);
    }
  return G_SOURCE_REMOVE;
}

/* Sends @query (request_id filled in here); @task returns the Result frame
 * (NatterFrame*, free with natter_frame_free) or the error. */
void
natter_client_send_query (NatterClient  *self,
                          Natter__Query *query,
                          GTask         *task)
{
  Natter__Frame frame = NATTER__FRAME__INIT;
  PendingQuery *pending;

  if (!natter_client_is_connected (self))
    {
      g_task_return_error (task, natter_client_error_new (NATTER_CODE_NOT_CONNECTED, NULL));
      return;
    }

  do
    self->next_request_id++;
  while (self->next_request_id == 0 ||
         g_hash_table_contains (self->pending_queries, GUINT_TO_POINTER (self->next_request_id)));

  query->request_id = self->next_request_id;
  frame.body_case = NATTER__FRAME__BODY_QUERY;
  frame.query = query;

  if (!natter_client_send_frame (self, &frame))
    {
      g_task_return_error (task, natter_client_error_new (NATTER_CODE_NOT_CONNECTED, NULL));
      return;
    }

  pending = g_new0 (PendingQuery, 1);
  pending->request_id = query->request_id;
  pending->task = g_object_ref (task);
  pending->timeout_source = g_timeout_add_seconds (QUERY_TIMEOUT_S, query_timeout_cb, pending);
  g_hash_table_insert (self->pending_queries, GUINT_TO_POINTER (pending->request_id), pending);
}

/* ------------------------------------------------------------- connection */

static void
handle_connect_ack (NatterClient              *self,
                    const Natter__ConnectAck  *ack)
{
  g_clear_handle_id (&self->connect_timeout_source, g_source_remove);

  if (ack->code != NATTER_CODE_OK)
    {
      g_autoptr(GError) error = natter_client_error_new (ack->code, ack->error_message);

      if (is_connect_refusal (ack->code))
        {
          /* A wrong token does not become right by retrying: wait for the user. */
          self->want_connected = FALSE;
          drop_connection (self);
          fail_pending_queries (self, error);
          natter_outbox_stop_waiting (self->outbox, error);
          set_status (self, NATTER_CONNECTION_DISCONNECTED, error);
        }
      else
        {
          g_debug ("Connect refused for now: %s", error->message);
          drop_connection (self);
          schedule_reconnect (self);
        }
      return;
    }

  /* One profile belongs to one user: its store must not mix two. */
  if (self->user_id != NULL && g_strcmp0 (self->user_id, ack->user_id) != 0)
    {
      g_autoptr(GError) error = g_error_new (NATTER_CLIENT_ERROR, NATTER_CODE_INVALID_PARAMETER,
                                             "This profile belongs to %s, the token to %s",
                                             self->user_id, ack->user_id);

      self->want_connected = FALSE;
      drop_connection (self);
      set_status (self, NATTER_CONNECTION_DISCONNECTED, error);
      return;
    }

  if (self->user_id == NULL)
    {
      self->user_id = g_strdup (ack->user_id);
      natter_store_set_own_user_id (self->store, self->user_id);
      natter_store_set_value_async (self->store, "user-id", self->user_id, NULL, NULL, NULL);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_USER_ID]);
    }

  if (ack->server_time > 0)
    self->server_time_offset = ack->server_time - now_ms ();
  self->ping_interval = ack->ping_interval > 0 ? ack->ping_interval : DEFAULT_PING_INTERVAL_S;
  self->edit_window = ack->app_settings != NULL ? ack->app_settings->edit_window : NATTER_EDIT_WINDOW_DEFAULT;
  g_clear_handle_id (&self->ping_source, g_source_remove);
  self->ping_source = g_timeout_add_seconds (self->ping_interval, ping_cb, self);
  self->handshake_done = TRUE;
  self->attempt = 0;
  self->acked_seq = self->last_seq;
  self->max_seq = ack->max_seq;

  set_status (self, NATTER_CONNECTION_CONNECTED, NULL);
  update_caught_up (self);
  natter_outbox_connected (self->outbox);
  natter_server_list_fetch_navi (self->servers);
  if (self->profiles != NULL)
    natter_profile_fetcher_connected (self->profiles);
  natter_client_presence_connected (self);
  natter_client_rejoin_chatrooms (self, self->offline_since != 0 &&
                                  g_get_monotonic_time () - self->offline_since <
                                  NATTER_CHATROOM_KEPT_S * G_USEC_PER_SEC);
}

static void
handle_kick (NatterClient       *self,
             const Natter__Kick *kick)
{
  g_autoptr(GError) error = natter_client_error_new (kick->code ? kick->code
                                                               : NATTER_CODE_KICKED_BY_OTHER_DEVICE,
                                                     kick->error_message);

  /* Two devices would kick each other forever: the user decides. */
  self->want_connected = FALSE;
  drop_connection (self);
  fail_pending_queries (self, error);
  natter_outbox_stop_waiting (self->outbox, error);
  set_status (self, NATTER_CONNECTION_KICKED_OFFLINE_BY_OTHER_CLIENT, error);
}

static void
handle_frame (NatterClient  *self,
              NatterFrame  **frame)
{
  const NatterFrame *f = *frame;

  self->last_frame_time = g_get_monotonic_time ();

  if (!self->handshake_done &&
      f->body_case != NATTER__FRAME__BODY_CONNECT_ACK &&
      f->body_case != NATTER__FRAME__BODY_KICK &&
      f->body_case != NATTER__FRAME__BODY_PING &&
      f->body_case != NATTER__FRAME__BODY_PONG)
    {
      g_warning ("Ignoring %s frame before the connect ack", natter_frame_type_name (f));
      return;
    }

  switch (f->body_case)
    {
    case NATTER__FRAME__BODY_CONNECT_ACK:
      if (self->handshake_done)
        g_warning ("Ignoring a second connect ack");
      else
        handle_connect_ack (self, f->connect_ack);
      break;

    case NATTER__FRAME__BODY_PUBLISH_ACK:
      natter_outbox_handle_ack (self->outbox, f->publish_ack);
      break;

    case NATTER__FRAME__BODY_DELIVER:
      handle_deliver (self, f->deliver);
      break;

    case NATTER__FRAME__BODY_RESULT:
      handle_result (self, frame);
      break;

    case NATTER__FRAME__BODY_KICK:
      handle_kick (self, f->kick);
      break;

    case NATTER__FRAME__BODY_PING:
      {
        Natter__Frame reply = NATTER__FRAME__INIT;
        Natter__Pong pong = NATTER__PONG__INIT;

        pong.time = f->ping->time;
        reply.body_case = NATTER__FRAME__BODY_PONG;
        reply.pong = &pong;
        natter_client_send_frame (self, &reply);
      }
      break;

    case NATTER__FRAME__BODY_PONG:
      break;

    case NATTER__FRAME__BODY_CHATROOM_EVENT:
      /* Kicked or destroyed: not rejoined after a reconnect. */
      g_hash_table_remove (self->chatrooms, f->chatroom_event->chatroom_id);
      g_signal_emit (self, signals[SIGNAL_CHATROOM_EVENT], 0,
                     f->chatroom_event->chatroom_id, f->chatroom_event->code);
      break;

    case NATTER__FRAME__BODY_PRESENCE_EVENT:
      natter_client_presence_note (self, f->presence_event->user_id, f->presence_event->online,
                                   f->presence_event->hidden,
                                   f->presence_event->online ? 0 : f->presence_event->time);
      g_signal_emit (self, signals[SIGNAL_PRESENCE_CHANGED], 0, f->presence_event->user_id,
                     f->presence_event->online, f->presence_event->platform,
                     f->presence_event->time, f->presence_event->logout);
      break;

    case NATTER__FRAME__BODY_CONNECT:
    case NATTER__FRAME__BODY_PUBLISH:
    case NATTER__FRAME__BODY_DELIVER_ACK:
    case NATTER__FRAME__BODY_QUERY:
    case NATTER__FRAME__BODY__NOT_SET:
    default:
      /* natter_frame_decode() refuses client frames from the server. */
      g_assert_not_reached ();
    }
}

static void
ws_message_cb (SoupWebsocketConnection *ws,
               int                      type,
               GBytes                  *message,
               gpointer                 user_data)
{
  NatterClient *self = user_data;
  gsize size;
  const guint8 *data;

  if (type != SOUP_WEBSOCKET_DATA_BINARY)
    {
      g_warning ("Server sent a text WebSocket message: closing the connection");
      drop_connection (self);
      schedule_reconnect (self);
      return;
    }

  data = g_bytes_get_data (message, &size);
  natter_client_receive (self, data, size);
}

void
natter_client_receive (NatterClient *self,
                       const guint8 *data,
                       gsize         size)
{
  g_autoptr(NatterFrame) frame = NULL;
  g_autoptr(GError) error = NULL;

  frame = natter_frame_decode (data, size, NATTER_PEER_SERVER, &error);
  if (frame == NULL)
    {
      /* A bad frame is dropped; the connection and everything else go on. */
      g_warning ("Ignoring an invalid frame from the server: %s", error->message);
      return;
    }

  g_object_ref (self);
  handle_frame (self, &frame);
  g_object_unref (self);
}

static void
ws_closed_cb (SoupWebsocketConnection *ws,
              gpointer                 user_data)
{
  NatterClient *self = user_data;

  g_debug ("Connection closed (%u %s)", soup_websocket_connection_get_close_code (ws),
           soup_websocket_connection_get_close_data (ws) ?: "");
  if (ws != self->ws)
    return;

  drop_connection (self);
  if (self->want_connected)
    schedule_reconnect (self);
}

static void
ws_error_cb (SoupWebsocketConnection *ws,
             GError                  *error,
             gpointer                 user_data)
{
  g_debug ("WebSocket error: %s", error->message);
}

static void
closed_after_drop_cb (SoupWebsocketConnection *ws,
                      gpointer                 user_data)
{
  g_object_unref (ws);
}

/* Forgets the current connection (closing it politely); no status change. */
static void
drop_connection (NatterClient *self)
{
  g_autoptr(GError) error = NULL;

  g_clear_handle_id (&self->connect_timeout_source, g_source_remove);
  g_clear_handle_id (&self->ping_source, g_source_remove);
  if (self->connect_cancellable != NULL)
    {
      g_cancellable_cancel (self->connect_cancellable);
      g_clear_object (&self->connect_cancellable);
    }

  if (self->ws != NULL)
    {
      SoupWebsocketConnection *ws = g_steal_pointer (&self->ws);

      g_signal_handlers_disconnect_by_data (ws, self);
      if (soup_websocket_connection_get_state (ws) == SOUP_WEBSOCKET_STATE_OPEN)
        {
          /* Keep it alive until the close handshake ends. */
          g_signal_connect (ws, "closed", G_CALLBACK (closed_after_drop_cb), NULL);
          soup_websocket_connection_close (ws, self->signing_out ? NATTER_CLOSE_LOGOUT :
                                           SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
        }
      else
        {
          g_object_unref (ws);
        }
    }

  self->handshake_done = FALSE;
  self->generation++;
  set_caught_up (self, FALSE);
  if (self->timelines != NULL)
    natter_timeline_sync_stop (self->timelines);

  error = natter_client_error_new (NATTER_CODE_NOT_CONNECTED, NULL);
  fail_pending_queries (self, error);
  if (self->outbox != NULL)
    natter_outbox_connection_lost (self->outbox, error);
}

static gboolean
network_down (NatterClient *self)
{
  GUri *ws_uri = natter_server_list_get_ws_uri (self->servers);

  return !g_network_monitor_get_network_available (self->monitor) &&
         !natter_host_is_loopback (g_uri_get_host (ws_uri));
}

static gboolean
reconnect_cb (gpointer user_data)
{
  NatterClient *self = user_data;

  self->reconnect_source = 0;
  start_connect (self);
  return G_SOURCE_REMOVE;
}

/* Exponential backoff with jitter: many clients dropped together by a
 * server restart come back spread out, not all in the same second. */
guint
natter_client_reconnect_delay_ms (guint attempt)
{
  guint delay = MIN (RECONNECT_BASE_MS << MIN (attempt, 5u), RECONNECT_MAX_MS);

  return delay / 2 + (guint) g_random_int_range (0, (gint32) (delay / 2 + 1));
}

static void
schedule_reconnect (NatterClient *self)
{
  guint delay;

  if (!self->want_connected)
    return;

  g_clear_handle_id (&self->reconnect_source, g_source_remove);

  if (network_down (self))
    {
      /* The network monitor calls start_connect() when it comes back. */
      set_status (self, NATTER_CONNECTION_NETWORK_UNAVAILABLE, NULL);
      return;
    }

  /* The next node (the store is shared: the replay from the last ack and
   * the outbox sent again make up for the one that went), the backoff
   * growing once per round of them. */
  natter_server_list_next (self->servers);
  delay = natter_client_reconnect_delay_ms (self->attempt /
                                            natter_server_list_get_n_nodes (self->servers));
  self->attempt++;

  g_debug ("Reconnecting in %u ms (attempt %u)", delay, self->attempt);
  self->reconnect_source = g_timeout_add (delay, reconnect_cb, self);
  set_status (self, NATTER_CONNECTION_CLOSED, NULL);
}

static gboolean
ping_cb (gpointer user_data)
{
  NatterClient *self = user_data;
  gint64 silent = g_get_monotonic_time () - self->last_frame_time;
  Natter__Frame frame = NATTER__FRAME__INIT;
  Natter__Ping ping = NATTER__PING__INIT;

  /* Nothing heard for two intervals: the connection is gone even if TCP
   * has not noticed (a sleeping laptop, a dropped NAT mapping). */
  if (silent > (gint64) self->ping_interval * 2 * G_USEC_PER_SEC + 5 * G_USEC_PER_SEC)
    {
      g_debug ("No frame for %" G_GINT64_FORMAT " s: reconnecting", silent / G_USEC_PER_SEC);
      self->ping_source = 0;
      drop_connection (self);
      schedule_reconnect (self);
      return G_SOURCE_REMOVE;
    }

  ping.time = now_ms ();
  frame.body_case = NATTER__FRAME__BODY_PING;
  frame.ping = &ping;
  natter_client_send_frame (self, &frame);
  return G_SOURCE_CONTINUE;
}

static gboolean
connect_timeout_cb (gpointer user_data)
{
  NatterClient *self = user_data;

  self->connect_timeout_source = 0;
  g_debug ("Connect timed out");
  drop_connection (self);
  schedule_reconnect (self);
  return G_SOURCE_REMOVE;
}

static void
ws_connected_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(NatterClient) self = NULL;
  g_autoptr(SoupWebsocketConnection) ws = NULL;
  g_autoptr(GError) error = NULL;
  Natter__Frame frame = NATTER__FRAME__INIT;
  Natter__Connect connect = NATTER__CONNECT__INIT;

  ws = soup_session_websocket_connect_finish (SOUP_SESSION (object), result, &error);
  self = user_data;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  if (ws == NULL)
    {
      g_autofree char *url = g_uri_to_string (natter_server_list_get_ws_uri (self->servers));

      g_debug ("Cannot connect to %s: %s", url, error->message);
      drop_connection (self);
      schedule_reconnect (self);
      return;
    }

  g_clear_object (&self->connect_cancellable);
  self->ws = g_steal_pointer (&ws);
  soup_websocket_connection_set_max_incoming_payload_size (self->ws, NATTER_FRAME_MAX_SIZE);
  /* Our own Ping frames keep the connection alive and detect its loss. */
  soup_websocket_connection_set_keepalive_interval (self->ws, 0);
  g_signal_connect (self->ws, "message", G_CALLBACK (ws_message_cb), self);
  g_signal_connect (self->ws, "closed", G_CALLBACK (ws_closed_cb), self);
  g_signal_connect (self->ws, "error", G_CALLBACK (ws_error_cb), self);
  self->last_frame_time = g_get_monotonic_time ();

  connect.app_key = self->app_key;
  connect.token = self->token;
  connect.device_id = self->device_id;
  connect.platform = self->platform;
  connect.last_seq = self->last_seq;
  connect.client_version = (char *) PACKAGE_VERSION;
  frame.body_case = NATTER__FRAME__BODY_CONNECT;
  frame.connect = &connect;
  natter_client_send_frame (self, &frame);

  self->ping_interval = DEFAULT_PING_INTERVAL_S;
  self->ping_source = g_timeout_add_seconds (self->ping_interval, ping_cb, self);
}

static void
open_websocket (NatterClient *self)
{
  g_autoptr(SoupMessage) message = NULL;
  const char *protocols[] = { NATTER_PROTOCOL_NAME, NULL };

  message = soup_message_new_from_uri (SOUP_METHOD_GET,
                                       natter_server_list_get_ws_uri (self->servers));
  /* A new connection: nothing is published on it yet (0 is never used). */
  if (++self->generation == 0)
    self->generation = 1;
  self->connect_cancellable = g_cancellable_new ();
  self->connect_timeout_source = g_timeout_add_seconds (CONNECT_TIMEOUT_S, connect_timeout_cb, self);
  soup_session_websocket_connect_async (self->session, message, NULL, (char **) protocols,
                                        G_PRIORITY_DEFAULT, self->connect_cancellable,
                                        ws_connected_cb, g_object_ref (self));
}

/* ---------------------------------------------------- identity of the device */

/* Device id, inbox position and owner of the profile come from the store
 * once, before the first connect: device-id -> last-seq -> user-id. */

static void identity_loaded (NatterClient *self);

static gboolean
identity_failed (NatterClient *self,
                 GError       *error)
{
  if (error == NULL)
    return FALSE;

  /* Without its store the client cannot keep anything it receives. */
  self->identity_loading = FALSE;
  self->want_connected = FALSE;
  set_status (self, NATTER_CONNECTION_DISCONNECTED, error);
  return TRUE;
}

static void
user_id_loaded_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(NatterClient) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *value = natter_store_get_value_finish (NATTER_STORE (object), result, &error);

  if (identity_failed (self, error))
    return;

  if (value != NULL && self->user_id == NULL)
    {
      self->user_id = g_steal_pointer (&value);
      natter_store_set_own_user_id (self->store, self->user_id);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_USER_ID]);
    }

  identity_loaded (self);
}

static void
last_seq_loaded_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(NatterClient) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *value = natter_store_get_value_finish (NATTER_STORE (object), result, &error);

  if (identity_failed (self, error))
    return;

  self->last_seq = value ? g_ascii_strtoull (value, NULL, 10) : 0;
  natter_store_get_value_async (self->store, "user-id", NULL, user_id_loaded_cb,
                                g_object_ref (self));
}

static void
device_id_loaded_cb (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(NatterClient) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *value = natter_store_get_value_finish (NATTER_STORE (object), result, &error);

  if (identity_failed (self, error))
    return;

  if (value == NULL || !natter_id_is_valid (value))
    {
      g_free (value);
      value = g_uuid_string_random ();
      natter_store_set_value_async (self->store, "device-id", value, NULL, NULL, NULL);
    }

  g_free (self->device_id);
  self->device_id = g_steal_pointer (&value);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DEVICE_ID]);

  natter_store_get_value_async (self->store, "last-seq", NULL, last_seq_loaded_cb,
                                g_object_ref (self));
}

static void
identity_loaded (NatterClient *self)
{
  self->identity_loading = FALSE;
  self->identity_loaded = TRUE;

  if (self->want_connected && self->status == NATTER_CONNECTION_CONNECTING &&
      self->ws == NULL && self->connect_cancellable == NULL)
    open_websocket (self);
}

static void
start_connect (NatterClient *self)
{
  g_clear_handle_id (&self->reconnect_source, g_source_remove);

  if (!self->want_connected || self->ws != NULL || self->connect_cancellable != NULL)
    return;

  if (network_down (self))
    {
      set_status (self, NATTER_CONNECTION_NETWORK_UNAVAILABLE, NULL);
      return;
    }

  set_status (self, NATTER_CONNECTION_CONNECTING, NULL);

  if (!self->identity_loaded)
    {
      if (!self->identity_loading)
        {
          self->identity_loading = TRUE;
          natter_store_get_value_async (self->store, "device-id", NULL, device_id_loaded_cb,
                                        g_object_ref (self));
        }
      return;
    }

  open_websocket (self);
}

static void
network_changed_cb (GNetworkMonitor *monitor,
                    gboolean         available,
                    gpointer         user_data)
{
  NatterClient *self = user_data;

  if (!self->want_connected)
    return;

  if (network_down (self))
    {
      if (self->status != NATTER_CONNECTION_CONNECTED && self->ws == NULL)
        {
          g_clear_handle_id (&self->reconnect_source, g_source_remove);
          set_status (self, NATTER_CONNECTION_NETWORK_UNAVAILABLE, NULL);
        }
      return;
    }

  /* The network is back (or changed): try now instead of waiting out the
   * backoff, and count from the start again. */
  if (self->status == NATTER_CONNECTION_NETWORK_UNAVAILABLE ||
      self->status == NATTER_CONNECTION_CLOSED)
    {
      self->attempt = 0;
      start_connect (self);
    }
}

/* ----------------------------------------------------------- public: life */

void
natter_client_connect (NatterClient *self,
                       const char   *token)
{
  g_return_if_fail (NATTER_IS_CLIENT (self));
  g_return_if_fail (token != NULL);

  if (g_strcmp0 (self->token, token) != 0)
    {
      g_free (self->token);
      self->token = g_strdup (token);
      /* A new token on a live connection: connect again with it. */
      if (self->ws != NULL || self->connect_cancellable != NULL)
        drop_connection (self);
    }

  self->want_connected = TRUE;
  self->attempt = 0;
  start_connect (self);
}

void
natter_client_reconnect (NatterClient *self)
{
  g_return_if_fail (NATTER_IS_CLIENT (self));

  if (self->token == NULL)
    return;

  self->want_connected = TRUE;
  self->attempt = 0;
  if (self->status != NATTER_CONNECTION_CONNECTED)
    {
      drop_connection (self);
      start_connect (self);
    }
}

void
natter_client_disconnect (NatterClient *self)
{
  g_autoptr(GError) error = NULL;

  g_return_if_fail (NATTER_IS_CLIENT (self));

  self->want_connected = FALSE;
  g_clear_handle_id (&self->reconnect_source, g_source_remove);
  natter_server_list_cancel_navi (self->servers);
  drop_connection (self);

  error = natter_client_error_new (NATTER_CODE_NOT_CONNECTED, NULL);
  natter_outbox_stop_waiting (self->outbox, error);
  set_status (self, NATTER_CONNECTION_DISCONNECTED, NULL);
}

/**
 * natter_client_sign_out:
 *
 * natter_client_disconnect() for a user who signs out: natterd tells the
 * app server (presence-url) and presence subscribers "logout", not
 * "offline"; the client's presence subscriptions are forgotten.
 */
void
natter_client_sign_out (NatterClient *self)
{
  g_return_if_fail (NATTER_IS_CLIENT (self));

  self->signing_out = TRUE;
  natter_client_disconnect (self);
  self->signing_out = FALSE;
  g_hash_table_remove_all (self->presence);
  g_hash_table_remove_all (self->presence_known);
  g_hash_table_remove_all (self->chatrooms);
}

GHashTable *
natter_client_get_presence_subscriptions (NatterClient *self)
{
  return self->presence;
}

GHashTable *
natter_client_get_presence_known (NatterClient *self)
{
  return self->presence_known;
}

GHashTable *
natter_client_get_joined_chatrooms (NatterClient *self)
{
  return self->chatrooms;
}

/* ----------------------------------------------------------------- GObject */

static void
natter_client_dispose (GObject *object)
{
  NatterClient *self = (NatterClient *) object;

  self->want_connected = FALSE;
  g_clear_handle_id (&self->reconnect_source, g_source_remove);
  natter_server_list_cancel_navi (self->servers);
  drop_connection (self);
  if (self->monitor != NULL)
    g_signal_handlers_disconnect_by_data (self->monitor, self);
  g_clear_object (&self->monitor);
  g_clear_object (&self->outbox);
  g_clear_object (&self->profiles);
  g_clear_object (&self->timelines);

  G_OBJECT_CLASS (natter_client_parent_class)->dispose (object);
}

static void
natter_client_finalize (GObject *object)
{
  NatterClient *self = (NatterClient *) object;

  g_hash_table_unref (self->pending_queries);
  g_hash_table_unref (self->typing_sent);
  g_hash_table_unref (self->presence);
  g_hash_table_unref (self->presence_known);
  g_hash_table_unref (self->chatrooms);
  g_hash_table_unref (self->notice_rates);
  g_queue_clear_full (&self->delivers, g_free);
  g_clear_error (&self->status_error);
  g_clear_object (&self->store);
  g_clear_object (&self->session);
  g_clear_object (&self->servers);
  g_free (self->server_url);
  g_free (self->app_key);
  g_free (self->profile_dir);
  g_free (self->platform);
  g_free (self->token);
  g_free (self->user_id);
  g_free (self->device_id);

  G_OBJECT_CLASS (natter_client_parent_class)->finalize (object);
}

static void
natter_client_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  NatterClient *self = NATTER_CLIENT (object);

  switch (prop_id)
    {
    case PROP_SERVER_URL:
      g_value_set_string (value, self->server_url);
      break;
    case PROP_APP_KEY:
      g_value_set_string (value, self->app_key);
      break;
    case PROP_PROFILE_DIR:
      g_value_set_string (value, self->profile_dir);
      break;
    case PROP_STATUS:
      g_value_set_enum (value, self->status);
      break;
    case PROP_USER_ID:
      g_value_set_string (value, self->user_id);
      break;
    case PROP_DEVICE_ID:
      g_value_set_string (value, self->device_id);
      break;
    case PROP_STORE:
      g_value_set_object (value, self->store);
      break;
    case PROP_CAUGHT_UP:
      g_value_set_boolean (value, self->caught_up);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_client_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  NatterClient *self = NATTER_CLIENT (object);

  switch (prop_id)
    {
    case PROP_SERVER_URL:
      self->server_url = g_value_dup_string (value);
      break;
    case PROP_APP_KEY:
      self->app_key = g_value_dup_string (value);
      break;
    case PROP_PROFILE_DIR:
      self->profile_dir = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
store_message_updated_cb (NatterStore   *store,
                          NatterMessage *message,
                          NatterClient  *self)
{
  g_signal_emit (self, signals[SIGNAL_MESSAGE_UPDATED], 0, message);
}

static void
natter_client_constructed (GObject *object)
{
  NatterClient *self = (NatterClient *) object;
  g_autofree char *db_path = NULL;

  G_OBJECT_CLASS (natter_client_parent_class)->constructed (object);

  self->servers = natter_server_list_new (self->server_url);

  if (self->profile_dir != NULL)
    {
      /* One mkdir at start-up; everything else in the profile is async. */
      if (g_mkdir_with_parents (self->profile_dir, 0700) != 0)
        g_warning ("Cannot create %s: %s", self->profile_dir, g_strerror (errno));
      db_path = g_build_filename (self->profile_dir, "natter.db", NULL);
    }

  self->store = natter_store_new (db_path ? db_path : ":memory:");
  g_signal_connect_object (self->store, "message-updated",
                           G_CALLBACK (store_message_updated_cb), self, 0);

  self->session = soup_session_new_with_options ("user-agent", "natter/" PACKAGE_VERSION,
                                                 "timeout", 0, NULL);
  self->monitor = g_object_ref (g_network_monitor_get_default ());
  g_signal_connect (self->monitor, "network-changed", G_CALLBACK (network_changed_cb), self);
  self->outbox = natter_outbox_new (self, self->store);
  self->profiles = natter_profile_fetcher_new (self);
  self->timelines = natter_timeline_sync_new (self);
}

static void
natter_client_class_init (NatterClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
  const GParamFlags co = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_EXPLICIT_NOTIFY |
                         G_PARAM_STATIC_STRINGS;

  object_class->constructed = natter_client_constructed;
  object_class->dispose = natter_client_dispose;
  object_class->finalize = natter_client_finalize;
  object_class->get_property = natter_client_get_property;
  object_class->set_property = natter_client_set_property;

  properties[PROP_SERVER_URL] =
    g_param_spec_string ("server-url", NULL, "Base URL natterd prints", NULL, co);
  properties[PROP_APP_KEY] =
    g_param_spec_string ("app-key", NULL, NULL, NULL, co);
  properties[PROP_PROFILE_DIR] =
    g_param_spec_string ("profile-dir", NULL, "Store, device id, media cache; NULL in memory",
                         NULL, co);
  properties[PROP_STATUS] =
    g_param_spec_enum ("status", NULL, NULL, NATTER_TYPE_CONNECTION_STATUS,
                       NATTER_CONNECTION_DISCONNECTED, ro);
  properties[PROP_USER_ID] =
    g_param_spec_string ("user-id", NULL, NULL, NULL, ro);
  properties[PROP_DEVICE_ID] =
    g_param_spec_string ("device-id", NULL, NULL, NULL, ro);
  properties[PROP_STORE] =
    g_param_spec_object ("store", NULL, NULL, NATTER_TYPE_STORE, ro);
  properties[PROP_CAUGHT_UP] =
    g_param_spec_boolean ("caught-up", NULL, "Connected, and every offline message is stored",
                          FALSE, ro);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_STATUS_CHANGED] =
    g_signal_new ("status-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 3,
                  NATTER_TYPE_CONNECTION_STATUS, NATTER_TYPE_CONNECTION_STATUS, G_TYPE_ERROR);
  signals[SIGNAL_MESSAGE_RECEIVED] =
    g_signal_new ("message-received", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, NATTER_TYPE_MESSAGE);
  signals[SIGNAL_MESSAGE_UPDATED] =
    g_signal_new ("message-updated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, NATTER_TYPE_MESSAGE);
  signals[SIGNAL_CHATROOM_EVENT] =
    g_signal_new ("chatroom-event", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_INT);
  signals[SIGNAL_PRESENCE_CHANGED] =
    g_signal_new ("presence-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 5, G_TYPE_STRING, G_TYPE_BOOLEAN, G_TYPE_STRING,
                  G_TYPE_INT64, G_TYPE_BOOLEAN);
  signals[SIGNAL_UPLOAD_PROGRESS] =
    g_signal_new ("upload-progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_INT64, G_TYPE_INT64);
}

static void
natter_client_init (NatterClient *self)
{
  self->status = NATTER_CONNECTION_DISCONNECTED;
  self->platform = g_strdup ("linux");
  self->edit_window = NATTER_EDIT_WINDOW_DEFAULT;
  self->pending_queries = g_hash_table_new (g_direct_hash, g_direct_equal);
  self->typing_sent = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->presence = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->presence_known = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->chatrooms = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->notice_rates = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_queue_init (&self->delivers);
}

NatterClient *
natter_client_new (const char *server_url,
                   const char *app_key,
                   const char *profile_dir)
{
  g_return_val_if_fail (server_url != NULL, NULL);
  g_return_val_if_fail (app_key != NULL, NULL);

  return g_object_new (NATTER_TYPE_CLIENT,
                       "server-url", server_url,
                       "app-key", app_key,
                       "profile-dir", profile_dir,
                       NULL);
}

void
natter_client_set_platform (NatterClient *self,
                            const char   *platform)
{
  g_return_if_fail (NATTER_IS_CLIENT (self));
  g_free (self->platform);
  self->platform = g_strdup (platform);
}

NatterConnectionStatus
natter_client_get_status (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NATTER_CONNECTION_DISCONNECTED);
  return self->status;
}

const GError *
natter_client_get_status_error (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  return self->status_error;
}

guint
natter_client_get_edit_window (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NATTER_EDIT_WINDOW_DEFAULT);
  return self->edit_window;
}

const char *
natter_client_get_user_id (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  return self->user_id;
}

const char *
natter_client_get_server_url (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  return self->server_url;
}

const char *
natter_client_get_current_server_url (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  return natter_server_list_get_url (self->servers);
}

const char *
natter_client_get_app_key (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  return self->app_key;
}

const char *
natter_client_get_profile_dir (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  return self->profile_dir;
}

const char *
natter_client_get_device_id (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  return self->device_id;
}

NatterProfileFetcher *
natter_client_get_profile_fetcher (NatterClient *self)
{
  return self->profiles;
}

NatterStore *
natter_client_get_store (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  return self->store;
}

gboolean
natter_client_get_caught_up (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);
  return self->caught_up;
}

guint
natter_client_get_n_pending (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), 0);
  return self->outbox != NULL ? natter_outbox_get_n_pending (self->outbox) : 0;
}

gint64
natter_client_get_server_time_offset (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), 0);
  return self->server_time_offset;
}

SoupSession *
natter_client_get_session (NatterClient *self)
{
  return self->session;
}

const char *
natter_client_get_media_url (NatterClient *self)
{
  return natter_server_list_get_media_url (self->servers);
}

NatterServerList *
natter_client_get_server_list (NatterClient *self)
{
  return self->servers;
}

const char *
natter_client_get_token (NatterClient *self)
{
  return self->token;
}

/* ---------------------------------------------------------------- sending */

void
natter_client_send_message_async (NatterClient           *self,
                                  NatterConversationType  type,
                                  const char             *target_id,
                                  const char             *object_name,
                                  JsonObject             *content,
                                  GCancellable           *cancellable,
                                  GAsyncReadyCallback     callback,
                                  gpointer                user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (NATTER_IS_CLIENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_client_send_message_async);
  natter_outbox_send (self->outbox, type, target_id, object_name, content, NULL, NULL, task);
}

void
natter_client_send_media_message_async (NatterClient           *self,
                                        NatterConversationType  type,
                                        const char             *target_id,
                                        const char             *object_name,
                                        JsonObject             *content,
                                        GFileProgressCallback   progress,
                                        gpointer                progress_data,
                                        GCancellable           *cancellable,
                                        GAsyncReadyCallback     callback,
                                        gpointer                user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (NATTER_IS_CLIENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_client_send_message_async);
  natter_outbox_send (self->outbox, type, target_id, object_name, content, progress, progress_data, task);
}

NatterMessage *
natter_client_send_message_finish (NatterClient  *self,
                                   GAsyncResult  *result,
                                   GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
natter_client_emit_upload_progress (NatterClient *self,
                                    const char   *client_msg_id,
                                    goffset       current,
                                    goffset       total)
{
  g_signal_emit (self, signals[SIGNAL_UPLOAD_PROGRESS], 0, client_msg_id, (gint64) current, (gint64) total);
}

gboolean
natter_client_cancel_upload (NatterClient  *self,
                             NatterMessage *message)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);
  g_return_val_if_fail (NATTER_IS_MESSAGE (message), FALSE);

  return self->outbox != NULL &&
         natter_outbox_cancel_upload (self->outbox, natter_message_get_client_msg_id (message));
}

void
natter_client_resend_message_async (NatterClient        *self,
                                    NatterMessage       *message,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (NATTER_IS_CLIENT (self));
  g_return_if_fail (NATTER_IS_MESSAGE (message));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_client_send_message_async);
  natter_outbox_resend (self->outbox, message, task);
}

NatterMessage *
natter_client_resend_message_finish (NatterClient  *self,
                                     GAsyncResult  *result,
                                     GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
typing_sent_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(NatterMessage) message = natter_client_send_message_finish (NATTER_CLIENT (object),
                                                                        result, NULL);
}

void
natter_client_send_typing (NatterClient           *self,
                           NatterConversationType  type,
                           const char             *target_id)
{
  g_autofree char *key = NULL;
  g_autoptr(JsonObject) content = NULL;
  gint64 *last;
  gint64 now = g_get_monotonic_time ();

  g_return_if_fail (NATTER_IS_CLIENT (self));
  g_return_if_fail (target_id != NULL);

  if (!natter_client_is_connected (self))
    return;

  key = natter_conversation_key (type, target_id);
  last = g_hash_table_lookup (self->typing_sent, key);
  if (last != NULL && now - *last < TYPING_INTERVAL_US)
    return;

  if (last == NULL)
    {
      last = g_new (gint64, 1);
      g_hash_table_insert (self->typing_sent, g_steal_pointer (&key), last);
    }
  *last = now;

  content = natter_content_new_typing (NATTER_OBJECT_TEXT);
  natter_client_send_message_async (self, type, target_id, NATTER_OBJECT_TYPING_STATUS, content,
                                    NULL, typing_sent_cb, NULL);
}

/* --------------------------------------------------------- read receipts */

static void
receipt_sent_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(NatterMessage) sent = NULL;
  GError *error = NULL;

  sent = natter_client_send_message_finish (NATTER_CLIENT (object), result, &error);
  if (sent == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

void
natter_client_request_read_receipts_async (NatterClient        *self,
                                           NatterMessage       *message,
                                           GCancellable        *cancellable,
                                           GAsyncReadyCallback  callback,
                                           gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(JsonObject) content = json_object_new ();
  const char *uid;

  g_return_if_fail (NATTER_IS_CLIENT (self));
  g_return_if_fail (NATTER_IS_MESSAGE (message));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_client_request_read_receipts_async);
  uid = natter_message_get_message_uid (message);
  if (uid == NULL || natter_message_get_direction (message) != NATTER_MESSAGE_DIRECTION_SEND ||
      (natter_message_get_conversation_type (message) != NATTER_CONVERSATION_GROUP &&
       natter_message_get_conversation_type (message) != NATTER_CONVERSATION_DISCUSSION))
    {
      g_task_return_new_error (task, NATTER_CLIENT_ERROR, NATTER_CODE_INVALID_PARAMETER,
                               "Read receipts are for one's own sent group messages (%d)",
                               NATTER_CODE_INVALID_PARAMETER);
      return;
    }

  /* Marked here first: receipts may come back before the ack. */
  natter_store_receipt_async (self->store, uid, natter_message_get_sender_user_id (message),
                              "requested", NULL, NULL, NULL, NULL);
  json_object_set_string_member (content, "messageUId", uid);
  natter_client_send_message_async (self, natter_message_get_conversation_type (message),
                                    natter_message_get_target_id (message), NATTER_OBJECT_RECEIPT_REQUEST,
                                    content, cancellable, receipt_sent_cb, g_steal_pointer (&task));
}

gboolean
natter_client_request_read_receipts_finish (NatterClient  *self,
                                            GAsyncResult  *result,
                                            GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
natter_client_send_read_receipts_async (NatterClient        *self,
                                        GPtrArray           *messages,
                                        GCancellable        *cancellable,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(JsonObject) content = NULL;
  JsonObject *dic = json_object_new ();
  NatterMessage *first = NULL;
  guint n = 0;

  g_return_if_fail (NATTER_IS_CLIENT (self));
  g_return_if_fail (messages != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_client_send_read_receipts_async);
  content = json_object_new ();
  json_object_set_object_member (content, "receiptMessageDic", dic);
  for (guint i = 0; i < messages->len; i++)
    {
      NatterMessage *message = g_ptr_array_index (messages, i);
      const char *sender = natter_message_get_sender_user_id (message);
      const char *uid = natter_message_get_message_uid (message);

      if (uid == NULL || natter_message_get_direction (message) != NATTER_MESSAGE_DIRECTION_RECEIVE ||
          !natter_message_get_receipt_requested (message) || natter_message_get_receipt_answered (message))
        continue;
      if (first == NULL)
        first = message;
      else if (natter_message_get_conversation_type (message) != natter_message_get_conversation_type (first) ||
               g_strcmp0 (natter_message_get_target_id (message), natter_message_get_target_id (first)) != 0)
        continue;
      if (!json_object_has_member (dic, sender))
        json_object_set_array_member (dic, sender, json_array_new ());
      json_array_add_string_element (json_object_get_array_member (dic, sender), uid);
      /* Answered once, also if the answer waits in the outbox. */
      natter_store_receipt_async (self->store, uid, sender, "answered", NULL, NULL, NULL, NULL);
      n++;
    }

  if (n == 0)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  natter_client_send_message_async (self, natter_message_get_conversation_type (first),
                                    natter_message_get_target_id (first), NATTER_OBJECT_RECEIPT_RESPONSE,
                                    content, cancellable, receipt_sent_cb, g_steal_pointer (&task));
}

gboolean
natter_client_send_read_receipts_finish (NatterClient  *self,
                                         GAsyncResult  *result,
                                         GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* --------------------------------------------------------- clear history */

static void
history_cleared_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (!natter_store_clear_messages_finish (NATTER_STORE (object), result, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
clear_sent_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(NatterMessage) sent = NULL;
  NatterClient *self = NATTER_CLIENT (object);
  GError *error = NULL;

  sent = natter_client_send_message_finish (self, result, &error);
  if (sent == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  natter_store_clear_messages_async (self->store, natter_message_get_conversation_type (sent),
                                     natter_message_get_target_id (sent), NULL,
                                     history_cleared_cb, g_steal_pointer (&task));
}

void
natter_client_clear_history_async (NatterClient           *self,
                                   NatterConversationType  type,
                                   const char             *target_id,
                                   GCancellable           *cancellable,
                                   GAsyncReadyCallback     callback,
                                   gpointer                user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(JsonObject) content = json_object_new ();

  g_return_if_fail (NATTER_IS_CLIENT (self));
  g_return_if_fail (target_id != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_client_clear_history_async);
  /* natterd fills in the rest (clearTime is its sentTime). */
  natter_client_send_message_async (self, type, target_id, NATTER_OBJECT_CLEAR_COMMAND, content,
                                    cancellable, clear_sent_cb, g_steal_pointer (&task));
}

gboolean
natter_client_clear_history_finish (NatterClient  *self,
                                    GAsyncResult  *result,
                                    GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
