/* natterd-session.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-session.h"

#include "natter-codes.h"
#include "natterd-log.h"

#include <string.h>

/* Inbox entries sent but not acked before a session stops getting live
 * traffic and catches up from the store instead: a slow reader costs a
 * bounded amount of memory, never an unbounded send queue. */
#define DELIVERY_WINDOW 2048
#define REPLAY_PAGE 256
/* Bytes waiting for the kernel past which inbox traffic waits for the
 * socket to drain (then continues from the store): 256 offline images of
 * 100 KB must not be queued in one go. */
#define DELIVERY_BUDGET (1024 * 1024)
/* Requests a client may have waiting for their answers before its
 * connection is not read from (the server's queues stay short whatever a
 * client pipelines); reading resumes at half. */
#define MAX_REQUESTS 256

struct _NatterdSession
{
  GObject                   parent_instance;

  const NatterdSessionHost *host;       /* the server's; it outlives sessions */
  NatterdSocket            *socket;     /* ws:// and wss:// alike */
  NatterdUser              *user;
  char                     *device_id;
  char                     *platform;
  gint64                    token_issued;
  gint64                    created;    /* monotonic µs */
  guint64                   sent_seq;   /* highest inbox seq sent */
  guint64                   acked_seq;
  guint64                   saved_acked_seq;
  guint                     empty_replays : 2;
  guint                     replaying : 1;        /* offline replay (or lagging) */
  guint                     replay_in_flight : 1;
  guint                     connecting : 1;       /* waiting for the app lookup */
  guint                     logout : 1;           /* the client closed with NATTER_CLOSE_LOGOUT */
  guint                     orphan : 1;           /* natterd_session_forget_host() */
  guint                     requests;             /* publishes and queries not yet answered */
  guint                     queries;              /* of those, queries ([limits] max-queries) */
  NatterdSessionState       state;                /* here, not above: no padding hole */
  GHashTable               *fetched;    /* group target id → guint64* highest seq fetched; NULL if none */
  guint64                   fetched_max; /* the highest seq in fetched: a live message past it needs no lookup */
};

G_DEFINE_FINAL_TYPE (NatterdSession, natterd_session, G_TYPE_OBJECT)

G_DEFINE_ENUM_TYPE (NatterdSessionState, natterd_session_state,
                    G_DEFINE_ENUM_VALUE (NATTERD_SESSION_HANDSHAKE, "handshake"),
                    G_DEFINE_ENUM_VALUE (NATTERD_SESSION_CONNECTED, "connected"),
                    G_DEFINE_ENUM_VALUE (NATTERD_SESSION_CLOSED, "closed"))

static void
natterd_session_finalize (GObject *object)
{
  NatterdSession *self = NATTERD_SESSION (object);

  g_clear_pointer (&self->socket, natterd_socket_free);
  g_free (self->device_id);
  g_free (self->platform);
  g_clear_pointer (&self->fetched, g_hash_table_unref);

  G_OBJECT_CLASS (natterd_session_parent_class)->finalize (object);
}

static void
natterd_session_class_init (NatterdSessionClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = natterd_session_finalize;
}

static void
natterd_session_init (NatterdSession *self)
{
  self->created = g_get_monotonic_time ();
}

static void
set_state (NatterdSession      *self,
           NatterdSessionState  state)
{
  NatterdSessionState old = self->state;

  if (state == old)
    return;
  self->state = state;
  if (!self->orphan)
    self->host->state_changed (self->host->host, self, state, old);
}

static gboolean over_budget (NatterdSession *self);

/* ----------------------------------------------------------------- protocol */

void
natterd_message_to_proto (const NatterdMessage *m,
                          const char           *viewer_id,
                          Natter__Message      *out)
{
  out->message_uid = m->uid != NULL ? m->uid : (char *) "";
  out->conversation_type = m->conversation_type;
  out->target_id = (char *) natterd_message_target_for (m, viewer_id);
  out->sender_user_id = m->sender_user_id;
  out->object_name = m->object_name;
  out->content = m->content;
  out->sent_time = m->sent_time;
  out->flags = m->flags;
  out->push_content = m->push_content != NULL ? m->push_content : (char *) "";
  out->timeline_seq = m->timeline_seq;
  out->mentioned = m->mentioned;
}

/* ------------------------------------------------------------------ output */

typedef struct
{
  const NatterFrame *frame;
  NatterFrameSizes   sizes;
} FramePack;

static void
pack_frame (gconstpointer  data,
            guint8        *payload)
{
  const FramePack *p = data;

  natter_frame_pack_sized (p->frame, &p->sizes, payload);
}

void
natterd_session_send_frame (NatterdSession     *self,
                            const NatterFrame *frame)
{
  FramePack p = { frame, { 0, 0 } };
  gsize size;

  /* Answers still coming for a connection that is gone are not encoded. */
  if (self->state == NATTERD_SESSION_CLOSED || !natterd_socket_is_open (self->socket))
    return;
  /* Packed straight into the socket's frame (natter_frame_encode() would
   * fill a buffer of its own, to be copied and freed: twice a message),
   * each message in it sized once. */
  size = natter_frame_packed_size (frame, &p.sizes);
  if (size > NATTER_FRAME_MAX_SIZE)
    {
      g_autofree char *text = g_strdup_printf ("Frame of %" G_GSIZE_FORMAT " bytes exceeds the %d byte limit",
                                               size, NATTER_FRAME_MAX_SIZE);

      natterd_log (G_LOG_LEVEL_WARNING, "encode-failed", "frame", natter_frame_type_name (frame),
                   "error", text, NULL);
      return;
    }
  natterd_socket_send_packed (self->socket, size, pack_frame, &p);
  self->host->metrics->frames_out++;
}

void
natterd_session_close (NatterdSession *self,
                       gushort         code,
                       const char     *reason)
{
  set_state (self, NATTERD_SESSION_CLOSED);
  natterd_socket_close (self->socket, code, reason);
}

static void
close_with_code (NatterdSession *self,
                 gushort         ws_code,
                 int             code,
                 const char     *message)
{
  g_autofree char *reason = g_strdup_printf ("%d %s", code, message);

  /* A close reason is at most 123 bytes. */
  if (strlen (reason) > 120)
    reason[120] = '\0';
  while (!g_utf8_validate (reason, -1, NULL))
    reason[strlen (reason) - 1] = '\0';
  natterd_session_close (self, ws_code, reason);
}

void
natterd_session_kick (NatterdSession *self,
                      int             code)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__Kick kick = NATTER__KICK__INIT;

  kick.code = code;
  kick.error_message = (char *) natter_code_to_string (code);
  frame.body_case = NATTER__FRAME__BODY_KICK;
  frame.kick = &kick;
  natterd_session_send_frame (self, &frame);
  self->host->metrics->kicks_total++;

  natterd_log (G_LOG_LEVEL_INFO, "kick", "app", self->user ? self->user->app->key : NULL,
               "user", self->user ? self->user->user_id : NULL, "device", self->device_id,
               "code", code == NATTER_CODE_KICKED_BY_OTHER_DEVICE ? "31010" : natter_code_to_string (code),
               NULL);
  close_with_code (self, SOUP_WEBSOCKET_CLOSE_NORMAL, code, natter_code_to_string (code));
}

static void
send_deliver (NatterdSession       *self,
              guint64               seq,
              const NatterdMessage *message,
              gboolean              offline)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__Deliver deliver = NATTER__DELIVER__INIT;
  Natter__Message proto = NATTER__MESSAGE__INIT;

  natterd_message_to_proto (message, self->user->user_id, &proto);
  deliver.seq = seq;
  deliver.message = &proto;
  deliver.offline = offline;
  frame.body_case = NATTER__FRAME__BODY_DELIVER;
  frame.deliver = &deliver;
  natterd_session_send_frame (self, &frame);
}

void
natterd_session_deliver_transient (NatterdSession       *self,
                                   const NatterdMessage *message)
{
  if (self->state != NATTERD_SESSION_CONNECTED)
    return;
  send_deliver (self, 0, message, FALSE);
  self->host->metrics->messages_delivered++;
}

/* A group message's Deliver, encoded once for every receiver of its form
 * (@frame is shared, not copied). A session whose client is not keeping
 * up gets none (as for its inbox, the slow-consumer rule): its device
 * fetches the gap from the timeline when it sees the next one, or at its
 * next sync. */
gboolean
natterd_session_deliver_shared (NatterdSession     *self,
                                NatterdSocketFrame *frame)
{
  if (self->state != NATTERD_SESSION_CONNECTED || !natterd_socket_is_open (self->socket))
    return FALSE;
  if (over_budget (self))
    {
      self->host->metrics->timeline_dropped++;
      return FALSE;
    }
  natterd_socket_send_frame (self->socket, frame);
  self->host->metrics->frames_out++;
  self->host->metrics->messages_delivered++;
  return TRUE;
}

void
natterd_session_timeline_fetched (NatterdSession *self,
                                  const char     *target_id,
                                  guint64         seq)
{
  guint64 *fetched;

  if (self->fetched == NULL)
    self->fetched = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  fetched = g_hash_table_lookup (self->fetched, target_id);
  if (fetched == NULL)
    {
      fetched = g_new0 (guint64, 1);
      g_hash_table_insert (self->fetched, g_strdup (target_id), fetched);
    }
  *fetched = MAX (*fetched, seq);
  self->fetched_max = MAX (self->fetched_max, seq);
}

void
natterd_session_prefetch (NatterdSession *self)
{
  /* The session was prefetched a member earlier: reading its socket
   * pointer does not wait. */
  __builtin_prefetch (self->socket);
}

gboolean
natterd_session_timeline_was_fetched (NatterdSession *self,
                                      const char     *target_id,
                                      guint64         seq)
{
  guint64 *fetched;

  /* Asked per member and live group message (#18): the usual answer, a
   * message newer than anything fetched, without hashing the group id. */
  if (self->fetched == NULL || seq > self->fetched_max)
    return FALSE;
  fetched = g_hash_table_lookup (self->fetched, target_id);
  return fetched != NULL && seq <= *fetched;
}

void
natterd_session_send_chatroom_event (NatterdSession *self,
                                     const char     *chatroom_id,
                                     int             code)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__ChatroomEvent event = NATTER__CHATROOM_EVENT__INIT;

  event.chatroom_id = (char *) chatroom_id;
  event.code = code;
  frame.body_case = NATTER__FRAME__BODY_CHATROOM_EVENT;
  frame.chatroom_event = &event;
  natterd_session_send_frame (self, &frame);
}

/* ------------------------------------------------------------------ replay */

static gboolean
over_budget (NatterdSession *self)
{
  return natterd_socket_get_queued (self->socket) > DELIVERY_BUDGET;
}

/* Inbox seqs have no holes unless entries were pruned (inbox-retention-days). */
static void
log_gap (NatterdSession *self,
         const char     *how,
         guint64         seq)
{
  char expected[24], got[24];

  g_snprintf (expected, sizeof expected, "%" G_GUINT64_FORMAT, self->sent_seq + 1);
  g_snprintf (got, sizeof got, "%" G_GUINT64_FORMAT, seq);
  natterd_log (G_LOG_LEVEL_INFO, "inbox-gap", "user", self->user->user_id, "device", self->device_id,
               "how", how, "expected", expected, "seq", got, NULL);
}

/* A gap inside a replay page also names the page (the seq it was read
 * after, its first and its length): a page read with a hole in it and a
 * cursor moved while the page was read look alike otherwise. */
static void
log_replay_gap (NatterdSession    *self,
                NatterdReplayRead *read,
                guint64            seq)
{
  char expected[24], got[24], after[24], first[24], entries[16];

  g_snprintf (expected, sizeof expected, "%" G_GUINT64_FORMAT, self->sent_seq + 1);
  g_snprintf (got, sizeof got, "%" G_GUINT64_FORMAT, seq);
  g_snprintf (after, sizeof after, "%" G_GUINT64_FORMAT, read->after_seq);
  g_snprintf (first, sizeof first, "%" G_GUINT64_FORMAT,
              ((NatterdInboxEntry *) g_ptr_array_index (read->entries, 0))->seq);
  g_snprintf (entries, sizeof entries, "%u", read->entries->len);
  natterd_log (G_LOG_LEVEL_INFO, "inbox-gap", "user", self->user->user_id, "device", self->device_id,
               "how", "replay", "expected", expected, "seq", got, "page-after", after,
               "page-first", first, "page-entries", entries, NULL);
}

static void fetch_replay_page (NatterdSession *self);

static void
maybe_continue_replay (NatterdSession *self)
{
  if (!self->replaying || self->replay_in_flight || self->state != NATTERD_SESSION_CONNECTED)
    return;

  if (self->sent_seq >= self->user->max_seq)
    {
      /* Caught up: everything committed from now on is sent live. */
      self->replaying = FALSE;
      return;
    }

  /* The socket's drained handler comes back here. */
  if (self->sent_seq - self->acked_seq < DELIVERY_WINDOW / 2 && !over_budget (self))
    fetch_replay_page (self);
}

static void
replay_page_done (NatterdRead *base,
                  gpointer     user_data)
{
  NatterdReplayRead *read = (NatterdReplayRead *) base;
  NatterdSession *self = user_data;

  self->replay_in_flight = FALSE;
  if (self->state != NATTERD_SESSION_CONNECTED)
    return;

  if (base->error != NULL)
    {
      natterd_log (G_LOG_LEVEL_WARNING, "replay-failed", "user", self->user->user_id,
                   "error", base->error->message, NULL);
      close_with_code (self, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR, NATTER_CODE_SERVER_ERROR,
                       "Offline messages could not be read");
      return;
    }

  for (guint i = 0; i < read->entries->len; i++)
    {
      NatterdInboxEntry *entry = g_ptr_array_index (read->entries, i);

      if (entry->seq <= self->sent_seq)
        continue;
      if (over_budget (self))
        break;  /* the rest is read again once the socket drained */
      if (entry->seq != self->sent_seq + 1)
        log_replay_gap (self, read, entry->seq);
      send_deliver (self, entry->seq, &entry->message, TRUE);
      self->sent_seq = entry->seq;
      self->host->metrics->messages_replayed++;
    }

  /* A read that started before the latest commits misses them (and they
   * were not sent live either): read again. Only entries that no longer
   * exist would stay empty; skip such a gap after a few tries. */
  if (read->entries->len == 0 && self->sent_seq < self->user->max_seq &&
      ++self->empty_replays >= 3)
    {
      self->sent_seq = self->user->max_seq;
      self->empty_replays = 0;
    }
  else if (read->entries->len > 0)
    self->empty_replays = 0;
  maybe_continue_replay (self);
}

static void
fetch_replay_page (NatterdSession *self)
{
  NatterdReplayRead *read = natterd_read_new (NATTERD_READ_REPLAY, replay_page_done,
                                              g_object_ref (self), g_object_unref);

  read->user_id = self->user->id;
  read->after_seq = self->sent_seq;
  read->limit = REPLAY_PAGE;
  /* What the socket may queue: a page of big messages is not read whole
   * only to be dropped and read again. */
  read->max_bytes = DELIVERY_BUDGET;
  self->replay_in_flight = TRUE;
  natterd_store_read (self->host->store, read);
}

void
natterd_session_deliver_live (NatterdSession       *self,
                              guint64               seq,
                              const NatterdMessage *message)
{
  if (self->state != NATTERD_SESSION_CONNECTED || seq <= self->sent_seq)
    return;

  if (self->replaying)
    {
      maybe_continue_replay (self);
      return;
    }

  if (self->sent_seq - self->acked_seq >= DELIVERY_WINDOW || over_budget (self))
    {
      /* The client is not keeping up: stop queueing, catch up later. */
      self->replaying = TRUE;
      return;
    }

  /* With a store shared by several nodes, another node may have taken
   * the seqs in between: they are in the store, in order. */
  if (seq > self->sent_seq + 1)
    {
      log_gap (self, "live", seq);
      self->replaying = TRUE;
      maybe_continue_replay (self);
      return;
    }
  send_deliver (self, seq, message, FALSE);
  self->sent_seq = seq;
  self->host->metrics->messages_delivered++;
}

void
natterd_session_pass_own (NatterdSession *self,
                          guint64         seq)
{
  /* The device that sent it has it: its copy in the user's inbox is not
   * sent to it, and is no gap either. */
  if (self->state == NATTERD_SESSION_CONNECTED && !self->replaying && seq == self->sent_seq + 1)
    self->sent_seq = seq;
}

void
natterd_session_deliver_remote (NatterdSession       *self,
                                guint64               seq,
                                const NatterdMessage *message)
{
  /* Entries committed on another node before it knew this session was
   * here were not sent: natterd_session_deliver_live() reads the gap. */
  natterd_session_deliver_live (self, seq, message);
}

void
natterd_session_catch_up (NatterdSession *self)
{
  if (self->state == NATTERD_SESSION_CONNECTED && !self->replaying && self->sent_seq < self->user->max_seq)
    {
      self->replaying = TRUE;
      maybe_continue_replay (self);
    }
}

/* ----------------------------------------------------------------- connect */

typedef struct
{
  NatterdSession *session;
  char           *app_key;
  char           *token;
  char           *device_id;
  char           *platform;
  guint64         last_seq;
} ConnectRequest;

static void
connect_request_free (gpointer data)
{
  ConnectRequest *request = data;

  g_object_unref (request->session);
  g_free (request->app_key);
  g_free (request->token);
  g_free (request->device_id);
  g_free (request->platform);
  g_free (request);
}

static void
refuse_connect (NatterdSession *self,
                int             code,
                const char     *message)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__ConnectAck ack = NATTER__CONNECT_ACK__INIT;

  ack.code = code;
  ack.server_time = natterd_now_ms ();
  ack.error_message = (char *) message;
  frame.body_case = NATTER__FRAME__BODY_CONNECT_ACK;
  frame.connect_ack = &ack;
  natterd_session_send_frame (self, &frame);

  self->host->metrics->connect_refused[natterd_metrics_connect_index (code)]++;
  close_with_code (self, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, code, message);
}

static void
accept_connect (NatterdSession *self,
                NatterdUser    *user,
                gint64          issued,
                ConnectRequest *request)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__ConnectAck ack = NATTER__CONNECT_ACK__INIT;
  Natter__AppSettings app_settings = NATTER__APP_SETTINGS__INIT;

  self->user = user;
  self->token_issued = issued;
  self->device_id = g_steal_pointer (&request->device_id);
  self->platform = g_steal_pointer (&request->platform);
  set_state (self, NATTERD_SESSION_CONNECTED);

  /* A device that claims more than the server has talks to a server whose
   * data was reset: start over from what exists. */
  self->sent_seq = self->acked_seq = self->saved_acked_seq = MIN (request->last_seq, user->max_seq);

  ack.code = NATTER_CODE_OK;
  ack.user_id = user->user_id;
  ack.server_time = natterd_now_ms ();
  ack.max_seq = user->max_seq;
  ack.ping_interval = self->host->ping_interval;
  ack.multi_device = user->app->settings.multi_device;
  app_settings.edit_window = user->app->settings.edit_window;
  ack.app_settings = &app_settings;
  frame.body_case = NATTER__FRAME__BODY_CONNECT_ACK;
  frame.connect_ack = &ack;
  natterd_session_send_frame (self, &frame);

  if (self->sent_seq < user->max_seq)
    {
      self->replaying = TRUE;
      fetch_replay_page (self);
    }
}

typedef struct
{
  ConnectRequest *request;
  NatterdUser    *user;
  gint64          issued;
} HeadWait;

static void
head_wait_free (gpointer data)
{
  HeadWait *wait = data;

  connect_request_free (wait->request);
  g_free (wait);
}

static void
head_read (NatterdRead *base,
           gpointer     user_data)
{
  NatterdReplayRead *read = (NatterdReplayRead *) base;
  HeadWait *wait = user_data;
  NatterdSession *self = wait->request->session;

  self->connecting = FALSE;
  if (self->state != NATTERD_SESSION_HANDSHAKE)
    return;
  /* Failing that, the head known here: the device may be sent again
   * what it has (never less). */
  if (base->error != NULL)
    natterd_log (G_LOG_LEVEL_WARNING, "head-read-failed", "user", wait->user->user_id,
                 "error", base->error->message, NULL);
  else
    wait->user->max_seq = MAX (wait->user->max_seq, read->head);
  accept_connect (self, wait->user, wait->issued, wait->request);
}

static void
authenticated (int          code,
               NatterdUser *user,
               gint64       issued,
               gpointer     user_data)
{
  ConnectRequest *request = user_data;
  NatterdSession *self = request->session;

  self->connecting = FALSE;
  if (self->state != NATTERD_SESSION_HANDSHAKE)
    return;

  if (code != NATTER_CODE_OK)
    {
      char code_text[16];

      g_snprintf (code_text, sizeof code_text, "%d", code);
      natterd_log (G_LOG_LEVEL_INFO, "connect-refused", "app", request->app_key,
                   "code", code_text, "reason", natter_code_to_string (code), NULL);
      refuse_connect (self, code, natter_code_to_string (code));
      return;
    }

  /* With a store shared by several nodes, a device may have seen seqs
   * another node committed that this one has not heard of: read the head
   * there instead of taking the device back to what is known here. */
  if (self->host->shared_store && request->last_seq > user->max_seq)
    {
      NatterdReplayRead *read;
      HeadWait *wait = g_new0 (HeadWait, 1);

      wait->request = g_new0 (ConnectRequest, 1);
      wait->request->session = g_object_ref (self);
      wait->request->device_id = g_steal_pointer (&request->device_id);
      wait->request->platform = g_steal_pointer (&request->platform);
      wait->request->last_seq = request->last_seq;
      wait->user = user;
      wait->issued = issued;
      read = natterd_read_new (NATTERD_READ_REPLAY, head_read, wait, head_wait_free);
      read->user_id = user->id;
      read->after_seq = user->max_seq;
      read->limit = 0;
      read->read_head = TRUE;
      self->connecting = TRUE;
      natterd_store_read (self->host->store, read);
      return;
    }
  accept_connect (self, user, issued, request);
}

static void
handle_connect (NatterdSession        *self,
                const Natter__Connect *connect)
{
  ConnectRequest *request = g_new0 (ConnectRequest, 1);

  request->session = g_object_ref (self);
  request->app_key = g_strdup (connect->app_key);
  request->token = g_strdup (connect->token);
  request->device_id = g_strdup (connect->device_id);
  request->platform = g_strdup (connect->platform != NULL ? connect->platform : "");
  request->last_seq = connect->last_seq;

  self->connecting = TRUE;
  self->host->authenticate (self->host->host, connect->app_key, connect->token, authenticated,
                            request, connect_request_free);
}

/* ----------------------------------------------------------------- publish */

typedef struct
{
  NatterdSession *session;
  gint64          received;
  gboolean        has_client_msg_id;
  char            client_msg_id[];  /* in the context's allocation: one malloc a Publish, not two (#17) */
} PublishContext;

static void
request_started (NatterdSession *self)
{
  if (++self->requests == MAX_REQUESTS)
    {
      natterd_socket_hold (self->socket, TRUE);
      self->host->metrics->connections_held++;
    }
}

static void
request_finished (NatterdSession *self)
{
  g_return_if_fail (self->requests > 0);
  if (self->requests-- == MAX_REQUESTS / 2)
    natterd_socket_hold (self->socket, FALSE);
}

static void
publish_context_free (gpointer data)
{
  PublishContext *context = data;

  request_finished (context->session);
  g_object_unref (context->session);
  g_free (context);
}

static void
send_publish_ack (NatterdSession *self,
                  const char     *client_msg_id,
                  int             code,
                  const char     *message_uid,
                  gint64          sent_time,
                  guint64         timeline_seq,
                  const char     *error_message)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__PublishAck ack = NATTER__PUBLISH_ACK__INIT;

  ack.client_msg_id = (char *) client_msg_id;
  ack.code = code;
  ack.message_uid = (char *) (message_uid != NULL ? message_uid : "");
  ack.sent_time = sent_time;
  ack.timeline_seq = timeline_seq;
  ack.error_message = (char *) (error_message != NULL ? error_message :
                                code != 0 ? natter_code_to_string (code) : "");
  frame.body_case = NATTER__FRAME__BODY_PUBLISH_ACK;
  frame.publish_ack = &ack;
  natterd_session_send_frame (self, &frame);
}

static void
publish_done (int         code,
              const char *message_uid,
              gint64      sent_time,
              guint64     timeline_seq,
              gpointer    user_data)
{
  PublishContext *context = user_data;
  NatterdSession *self = context->session;

  natterd_histogram_observe (&self->host->metrics->publish_latency, natterd_latency_buckets,
                             (double) (g_get_monotonic_time () - context->received) / G_USEC_PER_SEC);
  send_publish_ack (self, context->has_client_msg_id ? context->client_msg_id : NULL, code, message_uid,
                    sent_time, timeline_seq, NULL);
}

static void
handle_publish (NatterdSession        *self,
                const Natter__Publish *publish)
{
  gsize length = publish->client_msg_id != NULL ? strlen (publish->client_msg_id) : 0;
  PublishContext *context = g_malloc (sizeof (PublishContext) + length + 1);

  context->session = g_object_ref (self);
  request_started (self);
  context->has_client_msg_id = publish->client_msg_id != NULL;
  memcpy (context->client_msg_id, publish->client_msg_id != NULL ? publish->client_msg_id : "", length + 1);
  context->received = g_get_monotonic_time ();
  self->host->publish (self->host->host, self, publish, publish_done, context, publish_context_free);
}

void
natterd_session_query_started (NatterdSession *self)
{
  request_started (self);
  self->queries++;
}

void
natterd_session_query_finished (NatterdSession *self)
{
  g_return_if_fail (self->queries > 0);
  request_finished (self);
  self->queries--;
}

guint
natterd_session_get_queries (NatterdSession *self)
{
  return self->queries;
}

/* -------------------------------------------------------------------- input */

static void
handle_deliver_ack (NatterdSession *self,
                    guint64         seq)
{
  seq = MIN (seq, self->sent_seq);
  if (seq > self->acked_seq)
    {
      self->acked_seq = seq;
      self->host->acked (self->host->host, self);
    }
  maybe_continue_replay (self);
}

static void
send_pong (NatterdSession *self,
           gint64          time)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__Pong pong = NATTER__PONG__INIT;

  pong.time = time;
  frame.body_case = NATTER__FRAME__BODY_PONG;
  frame.pong = &pong;
  natterd_session_send_frame (self, &frame);
}

/* A frame that parsed but did not validate is answered in its context when
 * it has one, so the client can tell which request failed and why. */
static void
answer_invalid (NatterdSession    *self,
                const NatterFrame *frame,
                const GError      *error)
{
  int code = natter_proto_error_to_code (error);

  self->host->metrics->bad_frames++;
  natterd_log (G_LOG_LEVEL_DEBUG, "bad-frame", "frame", natter_frame_type_name (frame),
               "error", error->message, NULL);

  switch (frame->body_case)
    {
    case NATTER__FRAME__BODY_PUBLISH:
      /* Refused, never closed for: a closed connection would have the
       * client's outbox send it again forever. Its id comes back as sent
       * when it can (UTF-8, not too long) so the client can match it. */
      if (self->state == NATTERD_SESSION_CONNECTED)
        {
          const char *id = frame->publish->client_msg_id;

          if (id == NULL || strlen (id) > NATTER_PUBLISH_ACK_ID_MAX_LENGTH ||
              !g_utf8_validate (id, -1, NULL))
            id = "";
          send_publish_ack (self, id, code, NULL, 0, 0, error->message);
          return;
        }
      break;

    case NATTER__FRAME__BODY_QUERY:
      if (self->state == NATTERD_SESSION_CONNECTED && frame->query->request_id != 0)
        {
          NatterFrame reply = NATTER__FRAME__INIT;
          Natter__Result result = NATTER__RESULT__INIT;

          result.request_id = frame->query->request_id;
          result.code = code;
          result.error_message = error->message;
          reply.body_case = NATTER__FRAME__BODY_RESULT;
          reply.result = &result;
          natterd_session_send_frame (self, &reply);
          return;
        }
      break;

    case NATTER__FRAME__BODY_CONNECT:
      if (self->state == NATTERD_SESSION_HANDSHAKE)
        {
          const Natter__Connect *c = frame->connect;

          if (!natter_id_is_valid (c->app_key))
            refuse_connect (self, NATTER_CODE_APP_KEY_REJECTED, error->message);
          else if (c->token == NULL || *c->token == '\0' ||
                   strlen (c->token) > NATTER_TOKEN_MAX_LENGTH ||
                   !g_utf8_validate (c->token, -1, NULL))
            refuse_connect (self, NATTER_CODE_TOKEN_INCORRECT, error->message);
          else
            refuse_connect (self, NATTER_CODE_INVALID_PARAMETER, error->message);
          return;
        }
      break;

    default:
      break;
    }

  close_with_code (self, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, code, error->message);
}

static void
handle_message (NatterdSession *self,
                const guint8   *data,
                gsize           size,
                gboolean        binary)
{
  /* The frame lives on the stack for this call (nothing keeps it): one
   * clear instead of a free per string (#17). */
  g_auto(NatterFrameArena) arena;
  NatterFrame *frame;
  g_autoptr(GError) error = NULL;

  natter_frame_arena_init (&arena);

  /* Shutting down: what arrives now would not be acknowledged anyway. */
  if (self->state == NATTERD_SESSION_CLOSED || self->host->stopping)
    return;

  self->host->metrics->frames_in++;

  if (!binary)
    {
      self->host->metrics->bad_frames++;
      close_with_code (self, SOUP_WEBSOCKET_CLOSE_UNSUPPORTED_DATA, NATTER_CODE_INVALID_PARAMETER,
                       "natter.v2 frames are binary");
      return;
    }

  frame = natter_frame_unpack_in (&arena, data, size, &error);
  if (frame == NULL)
    {
      int code = natter_proto_error_to_code (error);

      self->host->metrics->bad_frames++;
      natterd_log (G_LOG_LEVEL_DEBUG, "bad-frame", "error", error->message, NULL);
      close_with_code (self,
                       code == NATTER_CODE_MESSAGE_TOO_LARGE ? SOUP_WEBSOCKET_CLOSE_TOO_BIG :
                       SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION,
                       code, error->message);
      return;
    }

  if (!natter_frame_validate (frame, NATTER_PEER_CLIENT, &error))
    {
      answer_invalid (self, frame, error);
      return;
    }

  if (self->state == NATTERD_SESSION_HANDSHAKE)
    {
      if (frame->body_case == NATTER__FRAME__BODY_CONNECT && !self->connecting)
        handle_connect (self, frame->connect);
      else if (frame->body_case == NATTER__FRAME__BODY_PING)
        send_pong (self, frame->ping->time);
      else
        close_with_code (self, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, NATTER_CODE_INVALID_PARAMETER,
                         "The first frame must be Connect");
      return;
    }

  switch (frame->body_case)
    {
    case NATTER__FRAME__BODY_PUBLISH:
      handle_publish (self, frame->publish);
      break;

    case NATTER__FRAME__BODY_DELIVER_ACK:
      handle_deliver_ack (self, frame->deliver_ack->seq);
      break;

    case NATTER__FRAME__BODY_QUERY:
      self->host->query (self->host->host, self, frame->query);
      break;

    case NATTER__FRAME__BODY_PING:
      send_pong (self, frame->ping->time);
      break;

    case NATTER__FRAME__BODY_PONG:
      break;

    case NATTER__FRAME__BODY_CONNECT:
      close_with_code (self, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, NATTER_CODE_INVALID_PARAMETER,
                       "Already connected");
      break;

    default:
      /* natter_frame_validate() refused the other directions. */
      g_assert_not_reached ();
    }
}

static void
transport_closed (NatterdSession *self)
{
  g_object_ref (self);
  set_state (self, NATTERD_SESSION_CLOSED);
  /* The server drops its reference; pending ops may still hold their own. */
  if (!self->orphan)
    self->host->closed (self->host->host, self);
  g_object_unref (self);
}

static void
on_socket_message (gpointer  user_data,
                   guint8   *payload,
                   gsize     length,
                   gboolean  binary)
{
  handle_message (user_data, payload, length, binary);
}

static void
on_socket_closed (gpointer user_data,
                  gushort  code)
{
  NatterdSession *self = user_data;

  /* Its user signed out: presence says logout, not offline. */
  self->logout = code == NATTER_CLOSE_LOGOUT;
  transport_closed (self);
}

static void
on_socket_drained (gpointer user_data)
{
  maybe_continue_replay (user_data);
}

static const NatterdSocketHandlers socket_handlers = {
  .message = on_socket_message,
  .closed = on_socket_closed,
  .drained = on_socket_drained,
};

NatterdSession *
natterd_session_new (const NatterdSessionHost  *host,
                     NatterdSocketLoop         *loop,
                     GIOStream                 *stream,
                     GSocket                   *socket,
                     gboolean                   tls,
                     GError                   **error)
{
  g_autoptr(NatterdSession) self = g_object_new (NATTERD_TYPE_SESSION, NULL);

  self->host = host;
  self->socket = natterd_socket_new (loop, stream, socket, tls, &socket_handlers, self, error);
  if (self->socket == NULL)
    return NULL;
  return g_steal_pointer (&self);
}

NatterdSession *
natterd_session_new_for_fd (const NatterdSessionHost  *host,
                            NatterdSocketLoop         *loop,
                            int                        fd,
                            GError                   **error)
{
  g_autoptr(NatterdSession) self = g_object_new (NATTERD_TYPE_SESSION, NULL);

  self->host = host;
  self->socket = natterd_socket_new_for_fd (loop, fd, &socket_handlers, self, error);
  if (self->socket == NULL)
    return NULL;
  return g_steal_pointer (&self);
}

/* --------------------------------------------------------------- accessors */

void
natterd_session_forget_host (NatterdSession *self)
{
  self->orphan = TRUE;
}

NatterdSessionState
natterd_session_get_state (NatterdSession *self)
{
  return self->state;
}

NatterdUser *
natterd_session_get_user (NatterdSession *self)
{
  return self->user;
}

const char *
natterd_session_get_device_id (NatterdSession *self)
{
  return self->device_id;
}

gint64
natterd_session_get_read_time (NatterdSession *self)
{
  return self->socket != NULL ? natterd_socket_get_read_time (self->socket) : 0;
}

const char *
natterd_session_get_platform (NatterdSession *self)
{
  return self->platform;
}

gboolean
natterd_session_is_logout (NatterdSession *self)
{
  return self->logout;
}

gint64
natterd_session_get_token_issued (NatterdSession *self)
{
  return self->token_issued;
}

gint64
natterd_session_get_last_input (NatterdSession *self)
{
  return natterd_socket_get_last_input (self->socket);
}

const char *
natterd_session_check_deadlines (NatterdSession *self,
                                 gint64          connect_deadline,
                                 gint64          idle_deadline)
{
  /* A Connect waiting for its app to be read again is not late. */
  if (self->state == NATTERD_SESSION_HANDSHAKE && !self->connecting &&
      self->created < connect_deadline)
    return "30003 No Connect frame in time";
  if (self->state == NATTERD_SESSION_CONNECTED &&
      natterd_session_get_last_input (self) < idle_deadline)
    return "30003 Keep-alive timed out";
  return NULL;
}

guint64
natterd_session_get_acked_seq (NatterdSession *self)
{
  return self->acked_seq;
}

gboolean
natterd_session_has_unsaved_ack (NatterdSession *self)
{
  return self->acked_seq != self->saved_acked_seq;
}

void
natterd_session_ack_saved (NatterdSession *self,
                           guint64         seq)
{
  self->saved_acked_seq = MAX (self->saved_acked_seq, seq);
}
