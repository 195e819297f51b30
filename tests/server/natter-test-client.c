/* natter-test-client.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-test-client.h"

#include <libsoup/soup.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

struct _NatterTestClient
{
  SoupSession             *session;
  SoupWebsocketConnection *ws;
  GQueue                   frames;        /* NatterFrame*, oldest first */
  char                    *user_id;
  guint64                  last_seq;
  guint64                  max_seq;
  guint32                  next_request;
  guint                    next_message;
  gboolean                 auto_ack;
  NatterTestFrameFunc      frame_func;
  gpointer                 frame_data;
  gboolean                 closed;
  gushort                  close_code;
  char                    *close_reason;
};

/* ------------------------------------------------------------------ waiting */

static gboolean
wake_up (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

gboolean
natter_test_wait (gboolean (*done) (gpointer data),
                  gpointer   data,
                  guint      timeout_ms)
{
  gboolean timed_out = FALSE;
  guint timeout_id = g_timeout_add (timeout_ms, wake_up, &timed_out);
  gboolean met;

  /* done() is asked once per pass and its last answer returned: a check
   * that sends something (a message, a request) must not run a second
   * time after it said yes, and may answer differently when it does. */
  while (!(met = done (data)) && !timed_out)
    g_main_context_iteration (NULL, TRUE);

  if (!timed_out)
    g_source_remove (timeout_id);
  return met;
}

/* ------------------------------------------------------------------ frames */

static void
send_frame (NatterTestClient  *self,
            const NatterFrame *frame)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = natter_frame_encode (frame, &error);

  g_assert_no_error (error);
  natter_test_client_send_bytes (self, bytes);
}

static void
on_message (SoupWebsocketConnection *ws,
            SoupWebsocketDataType    type,
            GBytes                  *message,
            gpointer                 user_data)
{
  NatterTestClient *self = user_data;
  g_autoptr(GError) error = NULL;
  gsize size;
  const guint8 *data = g_bytes_get_data (message, &size);
  NatterFrame *frame;

  g_assert_cmpint (type, ==, SOUP_WEBSOCKET_DATA_BINARY);
  frame = natter_frame_decode (data, size, NATTER_PEER_SERVER, &error);
  g_assert_no_error (error);

  if (frame->body_case == NATTER__FRAME__BODY_DELIVER && frame->deliver->seq > 0)
    {
      /* Inbox seqs only grow, and each arrives once. */
      g_assert_cmpuint (frame->deliver->seq, >, self->last_seq);
      self->last_seq = frame->deliver->seq;
      if (self->auto_ack)
        {
          NatterFrame ack = NATTER__FRAME__INIT;
          Natter__DeliverAck deliver_ack = NATTER__DELIVER_ACK__INIT;

          deliver_ack.seq = frame->deliver->seq;
          ack.body_case = NATTER__FRAME__BODY_DELIVER_ACK;
          ack.deliver_ack = &deliver_ack;
          send_frame (self, &ack);
        }
    }

  /* ConnectAck stays for natter_test_client_connect(), whatever else the
   * frame func takes. */
  if (self->frame_func != NULL && frame->body_case != NATTER__FRAME__BODY_CONNECT_ACK)
    {
      self->frame_func (self, frame, self->frame_data);
      natter_frame_free (frame);
      return;
    }
  g_queue_push_tail (&self->frames, frame);
}

void
natter_test_client_set_frame_func (NatterTestClient    *self,
                                   NatterTestFrameFunc  func,
                                   gpointer             user_data)
{
  self->frame_func = func;
  self->frame_data = user_data;
}

static void
on_closed (SoupWebsocketConnection *ws,
           gpointer                 user_data)
{
  NatterTestClient *self = user_data;

  self->closed = TRUE;
  self->close_code = soup_websocket_connection_get_close_code (ws);
  g_free (self->close_reason);
  self->close_reason = g_strdup (soup_websocket_connection_get_close_data (ws));
}

/* ---------------------------------------------------------------- connect */

typedef struct
{
  SoupWebsocketConnection *ws;
  GError                  *error;
  gboolean                 done;
} OpenResult;

static void
opened (GObject      *source,
        GAsyncResult *result,
        gpointer      user_data)
{
  OpenResult *open = user_data;

  open->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &open->error);
  open->done = TRUE;
}

static gboolean
open_done (gpointer data)
{
  return ((OpenResult *) data)->done;
}

static gboolean
accept_test_certificate (SoupMessage          *message,
                         GTlsCertificate      *certificate,
                         GTlsCertificateFlags  errors,
                         gpointer              user_data)
{
  /* Only ever our own natterd on loopback (TLS tests use a self-signed
   * certificate). */
  return TRUE;
}

NatterTestClient *
natter_test_client_open (NatterTestServer  *server,
                         GError           **error)
{
  g_autoptr(SoupMessage) message = NULL;
  /* http→ws, https→wss */
  g_autofree char *url = g_strdup_printf ("ws%s/ws", natter_test_server_get_url (server) + 4);
  const char *protocols[] = { NATTER_PROTOCOL_NAME, NULL };
  NatterTestClient *self = g_new0 (NatterTestClient, 1);
  OpenResult open = { 0 };


  self->session = soup_session_new ();
  self->auto_ack = TRUE;
  g_queue_init (&self->frames);

  message = soup_message_new (SOUP_METHOD_GET, url);
  g_signal_connect (message, "accept-certificate", G_CALLBACK (accept_test_certificate), NULL);
  soup_session_websocket_connect_async (self->session, message, NULL, (char **) protocols,
                                        G_PRIORITY_DEFAULT, NULL, opened, &open);
  natter_test_wait (open_done, &open, NATTER_TEST_TIMEOUT_MS);
  g_assert_true (open.done);

  if (open.error != NULL)
    {
      g_propagate_error (error, open.error);
      natter_test_client_free (self);
      return NULL;
    }

  self->ws = open.ws;
  soup_websocket_connection_set_max_incoming_payload_size (self->ws, 2 * NATTER_FRAME_MAX_SIZE);
  g_signal_connect (self->ws, "message", G_CALLBACK (on_message), self);
  g_signal_connect (self->ws, "closed", G_CALLBACK (on_closed), self);
  return self;
}

int
natter_test_client_connect (NatterTestClient *self,
                            const char       *app_key,
                            const char       *token,
                            const char       *device_id,
                            guint64           last_seq)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__Connect connect = NATTER__CONNECT__INIT;
  g_autoptr(NatterFrame) ack = NULL;

  connect.app_key = (char *) app_key;
  connect.token = (char *) token;
  connect.device_id = (char *) device_id;
  connect.platform = (char *) "test";
  connect.last_seq = last_seq;
  frame.body_case = NATTER__FRAME__BODY_CONNECT;
  frame.connect = &connect;
  self->last_seq = last_seq;
  send_frame (self, &frame);

  ack = natter_test_client_expect (self, NATTER__FRAME__BODY_CONNECT_ACK, NATTER_TEST_TIMEOUT_MS);
  g_assert_nonnull (ack);
  if (ack->connect_ack->code == 0)
    {
      g_free (self->user_id);
      self->user_id = g_strdup (ack->connect_ack->user_id);
      self->max_seq = ack->connect_ack->max_seq;
    }
  return ack->connect_ack->code;
}

NatterTestClient *
natter_test_client_new_user (NatterTestServer *server,
                             const char       *user_id,
                             const char       *device_id)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *token = natter_test_server_get_token (server, user_id);
  NatterTestClient *self = natter_test_client_open (server, &error);

  g_assert_no_error (error);
  g_assert_cmpint (natter_test_client_connect (self, natter_test_server_get_app_key (server), token,
                                               device_id, 0), ==, 0);
  return self;
}

static gboolean
closed_done (gpointer data)
{
  return ((NatterTestClient *) data)->closed;
}

void
natter_test_client_close (NatterTestClient *self,
                          gushort           code)
{
  g_assert_true (soup_websocket_connection_get_state (self->ws) == SOUP_WEBSOCKET_STATE_OPEN);
  soup_websocket_connection_close (self->ws, code, NULL);
  g_assert_true (natter_test_wait (closed_done, self, NATTER_TEST_TIMEOUT_MS));
}

void
natter_test_client_free (NatterTestClient *self)
{
  if (self == NULL)
    return;

  if (self->ws != NULL)
    {
      g_signal_handlers_disconnect_by_func (self->ws, on_message, self);
      if (soup_websocket_connection_get_state (self->ws) == SOUP_WEBSOCKET_STATE_OPEN)
        {
          soup_websocket_connection_close (self->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
          natter_test_wait (closed_done, self, 2000);
        }
      g_signal_handlers_disconnect_by_data (self->ws, self);
      g_clear_object (&self->ws);
    }
  g_queue_clear_full (&self->frames, (GDestroyNotify) natter_frame_free);
  g_clear_object (&self->session);
  g_free (self->user_id);
  g_free (self->close_reason);
  g_free (self);
}

/* ----------------------------------------------------------------- sending */

void
natter_test_client_set_auto_ack (NatterTestClient *self,
                                 gboolean          auto_ack)
{
  self->auto_ack = auto_ack;
}

guint64
natter_test_client_get_last_seq (NatterTestClient *self)
{
  return self->last_seq;
}

guint64
natter_test_client_get_max_seq (NatterTestClient *self)
{
  return self->max_seq;
}

const char *
natter_test_client_get_user_id (NatterTestClient *self)
{
  return self->user_id;
}

gboolean
natter_test_client_is_open (NatterTestClient *self)
{
  return !self->closed;
}

void
natter_test_client_send_bytes (NatterTestClient *self,
                               GBytes           *bytes)
{
  if (soup_websocket_connection_get_state (self->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_send_message (self->ws, SOUP_WEBSOCKET_DATA_BINARY, bytes);
}

void
natter_test_client_hold_output (NatterTestClient *self,
                                gboolean          hold)
{
  GIOStream *stream = soup_websocket_connection_get_io_stream (self->ws);
  g_autoptr(GIOStream) base = NULL;
  int on = hold;

  /* libsoup's SoupIOStream over the TCP connection */
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (stream), "base-iostream") != NULL)
    {
      g_object_get (stream, "base-iostream", &base, NULL);
      stream = base;
    }
  g_assert_true (G_IS_SOCKET_CONNECTION (stream));
  g_assert_no_errno (setsockopt (g_socket_get_fd (g_socket_connection_get_socket (G_SOCKET_CONNECTION (stream))),
                                 IPPROTO_TCP, TCP_CORK, &on, sizeof on));
}

void
natter_test_client_send_text (NatterTestClient *self,
                              const char       *text)
{
  soup_websocket_connection_send_text (self->ws, text);
}

void
natter_test_client_send (NatterTestClient  *self,
                         const NatterFrame *frame)
{
  send_frame (self, frame);
}

void
natter_test_client_publish_full (NatterTestClient *self,
                                 const char       *client_msg_id,
                                 int               conversation_type,
                                 const char       *target_id,
                                 const char       *object_name,
                                 const char       *content,
                                 guint             flags)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__Publish publish = NATTER__PUBLISH__INIT;

  publish.client_msg_id = (char *) client_msg_id;
  publish.conversation_type = conversation_type;
  publish.target_id = (char *) target_id;
  publish.object_name = (char *) object_name;
  publish.content = (char *) content;
  publish.flags = flags;
  frame.body_case = NATTER__FRAME__BODY_PUBLISH;
  frame.publish = &publish;
  send_frame (self, &frame);
}

char *
natter_test_client_publish (NatterTestClient *self,
                            int               conversation_type,
                            const char       *target_id,
                            const char       *object_name,
                            const char       *content)
{
  char *client_msg_id = g_strdup_printf ("m%u-%u", g_random_int (), ++self->next_message);

  natter_test_client_publish_full (self, client_msg_id, conversation_type, target_id,
                                   object_name, content, 0);
  return client_msg_id;
}

typedef struct
{
  NatterTestClient       *self;
  Natter__Frame__BodyCase body;
  const char             *client_msg_id;
  guint32                 request_id;
  NatterFrame            *found;
} Search;

static gboolean
matches (const Search      *search,
         const NatterFrame *frame)
{
  if (frame->body_case != search->body)
    return FALSE;
  if (search->client_msg_id != NULL)
    return g_strcmp0 (frame->publish_ack->client_msg_id, search->client_msg_id) == 0;
  if (search->request_id != 0)
    return frame->result->request_id == search->request_id;
  return TRUE;
}

static gboolean
search_done (gpointer data)
{
  Search *search = data;

  if (search->found != NULL)
    return TRUE;

  for (GList *l = search->self->frames.head; l != NULL; l = l->next)
    if (matches (search, l->data))
      {
        search->found = l->data;
        g_queue_delete_link (&search->self->frames, l);
        return TRUE;
      }
  return FALSE;
}

static NatterFrame *
find (Search *search,
      guint   timeout_ms)
{
  natter_test_wait (search_done, search, timeout_ms);
  return search->found;
}

NatterFrame *
natter_test_client_expect (NatterTestClient        *self,
                           Natter__Frame__BodyCase  body,
                           guint                    timeout_ms)
{
  Search search = { self, body, NULL, 0, NULL };

  return find (&search, timeout_ms);
}

void
natter_test_client_expect_none (NatterTestClient        *self,
                                Natter__Frame__BodyCase  body,
                                guint                    timeout_ms)
{
  g_autoptr(NatterFrame) frame = natter_test_client_expect (self, body, timeout_ms);

  if (frame != NULL)
    g_error ("Unexpected %s frame", natter_frame_type_name (frame));
}

NatterFrame *
natter_test_client_wait_ack (NatterTestClient *self,
                             const char       *client_msg_id)
{
  Search search = { self, NATTER__FRAME__BODY_PUBLISH_ACK, client_msg_id, 0, NULL };
  NatterFrame *frame = find (&search, NATTER_TEST_TIMEOUT_MS);

  g_assert_nonnull (frame);
  return frame;
}

NatterFrame *
natter_test_client_send_message (NatterTestClient *self,
                                 int               conversation_type,
                                 const char       *target_id,
                                 const char       *object_name,
                                 const char       *content)
{
  g_autofree char *id = natter_test_client_publish (self, conversation_type, target_id,
                                                    object_name, content);

  return natter_test_client_wait_ack (self, id);
}

NatterFrame *
natter_test_client_query (NatterTestClient *self,
                          Natter__Query    *query)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Search search = { self, NATTER__FRAME__BODY_RESULT, NULL, 0, NULL };
  NatterFrame *result;

  query->request_id = ++self->next_request;
  frame.body_case = NATTER__FRAME__BODY_QUERY;
  frame.query = query;
  send_frame (self, &frame);

  search.request_id = query->request_id;
  result = find (&search, NATTER_TEST_TIMEOUT_MS);
  g_assert_nonnull (result);
  return result;
}

NatterFrame *
natter_test_client_timeline_sync (NatterTestClient *self,
                                  gint64            since,
                                  const char       *cursor,
                                  guint             limit)
{
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__TimelineSyncRequest sync = NATTER__TIMELINE_SYNC_REQUEST__INIT;

  sync.since = since;
  sync.cursor = (char *) (cursor != NULL ? cursor : "");
  sync.limit = limit;
  query.method_case = NATTER__QUERY__METHOD_TIMELINE_SYNC;
  query.timeline_sync = &sync;
  return natter_test_client_query (self, &query);
}

NatterFrame *
natter_test_client_timeline (NatterTestClient *self,
                             int               conversation_type,
                             const char       *target_id,
                             guint64           after_seq,
                             guint             count)
{
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__TimelineRequest timeline = NATTER__TIMELINE_REQUEST__INIT;

  timeline.conversation_type = conversation_type;
  timeline.target_id = (char *) target_id;
  timeline.after_seq = after_seq;
  timeline.count = count;
  query.method_case = NATTER__QUERY__METHOD_TIMELINE;
  query.timeline = &timeline;
  return natter_test_client_query (self, &query);
}

GPtrArray *
natter_test_client_fetch_timeline (NatterTestClient *self,
                                   int               conversation_type,
                                   const char       *target_id,
                                   guint64           after_seq)
{
  GPtrArray *contents = g_ptr_array_new_with_free_func (g_free);

  for (;;)
    {
      g_autoptr(NatterFrame) page = natter_test_client_timeline (self, conversation_type, target_id,
                                                                 after_seq, 200);
      Natter__TimelineResult *result;

      g_assert_cmpint (page->result->code, ==, 0);
      g_assert_cmpint (page->result->payload_case, ==, NATTER__RESULT__PAYLOAD_TIMELINE);
      result = page->result->timeline;
      for (gsize i = 0; i < result->n_messages; i++)
        {
          g_assert_cmpuint (result->messages[i]->timeline_seq, >, after_seq);
          after_seq = result->messages[i]->timeline_seq;
          g_ptr_array_add (contents, g_strdup (result->messages[i]->content));
        }
      if (!result->has_more)
        return contents;
      g_assert_cmpuint (result->n_messages, >, 0);
    }
}

Natter__TimelineState *
natter_test_client_sync_state (NatterTestClient *self,
                               gint64            since,
                               const char       *target_id,
                               gint64           *sync_time)
{
  g_autofree char *cursor = NULL;
  Natter__TimelineState *found = NULL;
  gint64 first_sync_time = -1;

  for (;;)
    {
      g_autoptr(NatterFrame) page = natter_test_client_timeline_sync (self, since, cursor, 0);
      Natter__TimelineSyncResult *result;

      g_assert_cmpint (page->result->code, ==, 0);
      g_assert_cmpint (page->result->payload_case, ==, NATTER__RESULT__PAYLOAD_TIMELINE_SYNC);
      result = page->result->timeline_sync;
      if (first_sync_time < 0)
        first_sync_time = result->sync_time;
      g_assert_cmpint (result->sync_time, ==, first_sync_time);
      for (gsize i = 0; i < result->n_timelines; i++)
        if (g_strcmp0 (result->timelines[i]->target_id, target_id) == 0)
          {
            gsize size = natter__timeline_state__get_packed_size (result->timelines[i]);
            g_autofree guint8 *buffer = g_malloc (size);

            g_assert_null (found);
            natter__timeline_state__pack (result->timelines[i], buffer);
            found = natter__timeline_state__unpack (NULL, size, buffer);
          }
      g_free (cursor);
      cursor = g_strdup (result->next_cursor);
      if (*cursor == '\0')
        break;
    }
  if (sync_time != NULL)
    *sync_time = first_sync_time;
  return found;
}

gushort
natter_test_client_wait_closed (NatterTestClient *self,
                                guint             timeout_ms)
{
  natter_test_wait (closed_done, self, timeout_ms);
  return self->closed ? self->close_code : 0;
}

const char *
natter_test_client_get_close_reason (NatterTestClient *self)
{
  return self->close_reason;
}
