/* test-hostile.c — the client against a server that sends nonsense
 *
 * A fake natter.v1 server (SoupServer on 127.0.0.1) answers the connect and
 * then sends garbage, frames of the wrong direction, invalid content and
 * UTF-8, a stray result and a second connect ack, content nested 80,000
 * deep, a preview passed off as a message and a refusal of a message it
 * never sent, between valid frames; and one whose clock runs ahead of the
 * client's estimate. The
 * client drops each bad frame, stays connected, stores and acks the good
 * ones, and reconnects (with its stored inbox position) after a protocol
 * violation of the WebSocket itself.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <libsoup/soup.h>
#include <string.h>

#include "natter.h"
#include "natter-frame.h"
#include "test-helpers.h"

typedef struct {
  SoupServer *server;
  SoupWebsocketConnection *ws;
  guint connects;
  guint64 last_connect_seq;
  guint64 acked;
  gint64 clock_lag_ms;          /* ConnectAck's server_time this far behind */
} Fake;

static void
send_packed (SoupWebsocketConnection *ws,
             const Natter__Frame     *frame)
{
  gsize size = natter__frame__get_packed_size (frame);
  g_autofree guint8 *buffer = g_malloc (size);

  natter__frame__pack (frame, buffer);
  soup_websocket_connection_send_binary (ws, buffer, size);
}

static void
send_deliver_flags (SoupWebsocketConnection *ws,
                    guint64                  seq,
                    const char              *target,
                    const char              *content,
                    guint                    flags)
{
  Natter__Frame frame = NATTER__FRAME__INIT;
  Natter__Deliver deliver = NATTER__DELIVER__INIT;
  Natter__Message message = NATTER__MESSAGE__INIT;

  message.message_uid = (char *) "FAKE-0000-0000-0001";
  message.conversation_type = 1;
  message.target_id = (char *) target;
  message.sender_user_id = (char *) "mallory";
  message.object_name = (char *) NATTER_OBJECT_TEXT;
  message.content = (char *) content;
  message.sent_time = 1700000000000;
  message.flags = flags;
  deliver.seq = seq;
  deliver.message = &message;
  frame.body_case = NATTER__FRAME__BODY_DELIVER;
  frame.deliver = &deliver;
  send_packed (ws, &frame);
}

static void
send_deliver (SoupWebsocketConnection *ws,
              guint64                  seq,
              const char              *target,
              const char              *content)
{
  send_deliver_flags (ws, seq, target, content, 3);
}

/* A message stamped with the real time, as a server whose clock the
 * client's estimate lags would stamp it. */
static void
send_deliver_now (SoupWebsocketConnection *ws)
{
  Natter__Frame frame = NATTER__FRAME__INIT;
  Natter__Deliver deliver = NATTER__DELIVER__INIT;
  Natter__Message message = NATTER__MESSAGE__INIT;

  message.message_uid = (char *) "FAKE-0000-0000-0002";
  message.conversation_type = 1;
  message.target_id = (char *) "alice";
  message.sender_user_id = (char *) "alice";
  message.object_name = (char *) NATTER_OBJECT_TEXT;
  message.content = (char *) "{\"content\":\"Lunch?\"}";
  message.sent_time = g_get_real_time () / 1000;
  message.flags = 3;
  deliver.seq = 1;
  deliver.message = &message;
  frame.body_case = NATTER__FRAME__BODY_DELIVER;
  frame.deliver = &deliver;
  send_packed (ws, &frame);
}

static void
send_hostile_sequence (SoupWebsocketConnection *ws)
{
  static const guint8 garbage[] = { 0xff, 0xff, 0x00, 'j', 'u', 'n', 'k' };
  Natter__Frame frame = NATTER__FRAME__INIT;

  /* 1. Not a protobuf frame at all. */
  soup_websocket_connection_send_binary (ws, garbage, sizeof garbage);

  /* 2. A frame only clients send. */
  {
    Natter__Publish publish = NATTER__PUBLISH__INIT;

    publish.client_msg_id = (char *) "x";
    publish.conversation_type = 1;
    publish.target_id = (char *) "bob";
    publish.object_name = (char *) NATTER_OBJECT_TEXT;
    publish.content = (char *) "{}";
    frame.body_case = NATTER__FRAME__BODY_PUBLISH;
    frame.publish = &publish;
    send_packed (ws, &frame);
  }

  /* 3. Content that is not a JSON object; 4. an id that is not UTF-8. */
  send_deliver (ws, 5, "mallory", "[1, 2");
  send_deliver (ws, 6, "mall\xc3\x28ory", "{\"content\":\"x\"}");

  /* 5. An answer to nothing asked, 6. a second connect ack. */
  {
    Natter__Result result = NATTER__RESULT__INIT;

    result.request_id = 4242;
    frame.body_case = NATTER__FRAME__BODY_RESULT;
    frame.result = &result;
    send_packed (ws, &frame);
  }
  {
    Natter__ConnectAck ack = NATTER__CONNECT_ACK__INIT;

    ack.code = 0;
    ack.user_id = (char *) "eve";
    frame.body_case = NATTER__FRAME__BODY_CONNECT_ACK;
    frame.connect_ack = &ack;
    send_packed (ws, &frame);
  }

  /* 7. `{"a":` and 80,000 '[': json-glib 1.6 would recurse once per
   * bracket and overflow its stack; the message is dropped unparsed. */
  {
    g_autoptr(GString) deep = g_string_new ("{\"a\":");

    for (guint i = 0; i < 80000; i++)
      g_string_append_c (deep, '[');
    send_deliver (ws, 5, "mallory", deep->str);
  }

  /* 8. A preview (conversation lists only) passed off as a message. */
  send_deliver_flags (ws, 6, "mallory", "{\"content\":\"cut\"}", 3 | NATTER_MESSAGE_FLAG_PREVIEW);

  /* 9. A refusal echoing an invalid client_msg_id (as natterd answers a
   * Publish whose id is bad): a valid frame, matched to nothing here. */
  {
    Natter__PublishAck ack = NATTER__PUBLISH_ACK__INIT;

    ack.client_msg_id = (char *) "not an id/";
    ack.code = NATTER_CODE_INVALID_PARAMETER;
    ack.error_message = (char *) "publish.client_msg_id: not 1-64 bytes of letters, digits and _.@=+-";
    frame.body_case = NATTER__FRAME__BODY_PUBLISH_ACK;
    frame.publish_ack = &ack;
    send_packed (ws, &frame);
  }

  /* And one good message after all that. */
  send_deliver (ws, 7, "mallory", "{\"content\":\"the real one\"}");
}

static void
fake_message_cb (SoupWebsocketConnection *ws,
                 int                      type,
                 GBytes                  *bytes,
                 Fake                    *fake)
{
  g_autoptr(GError) error = NULL;
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  g_autoptr(NatterFrame) frame = natter_frame_decode (data, size, NATTER_PEER_CLIENT, &error);

  /* The client's frames are valid, every one of them. */
  g_assert_no_error (error);

  if (frame->body_case == NATTER__FRAME__BODY_CONNECT)
    {
      Natter__Frame reply = NATTER__FRAME__INIT;
      Natter__ConnectAck ack = NATTER__CONNECT_ACK__INIT;

      fake->connects++;
      fake->last_connect_seq = frame->connect->last_seq;
      g_assert_cmpstr (frame->connect->app_key, ==, "fakeapp");
      g_assert_cmpstr (frame->connect->token, ==, "fake-token");

      ack.code = 0;
      ack.user_id = (char *) "bob";
      ack.server_time = g_get_real_time () / 1000 - fake->clock_lag_ms;
      ack.max_seq = 7;
      ack.ping_interval = 30;
      reply.body_case = NATTER__FRAME__BODY_CONNECT_ACK;
      reply.connect_ack = &ack;
      send_packed (ws, &reply);

      if (fake->clock_lag_ms > 0)
        send_deliver_now (ws);
      else if (fake->connects == 1)
        send_hostile_sequence (ws);
    }
  else if (frame->body_case == NATTER__FRAME__BODY_DELIVER_ACK)
    {
      fake->acked = frame->deliver_ack->seq;
    }
}

static void
fake_ws_cb (SoupServer              *server,
            SoupServerMessage       *msg,
            const char              *path,
            SoupWebsocketConnection *connection,
            gpointer                 user_data)
{
  Fake *fake = user_data;

  g_set_object (&fake->ws, connection);
  g_signal_connect (connection, "message", G_CALLBACK (fake_message_cb), fake);
}

typedef struct {
  guint received;
  guint connected;
  NatterMessage *last;
} Seen;

static void
received_cb (NatterClient  *client,
             NatterMessage *message,
             Seen          *seen)
{
  seen->received++;
  g_set_object (&seen->last, message);
}

static void
status_cb (NatterClient           *client,
           NatterConnectionStatus  status,
           NatterConnectionStatus  old_status,
           const GError           *error,
           Seen                   *seen)
{
  if (status == NATTER_CONNECTION_CONNECTED)
    seen->connected++;
}

static gboolean
acked_7 (gpointer data)
{
  return ((Fake *) data)->acked == 7;
}

static gboolean
connected_twice (gpointer data)
{
  return ((Seen *) data)->connected == 2;
}

static void
test_hostile_server (void)
{
  const char *protocols[] = { NATTER_PROTOCOL_NAME, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterClient) client = NULL;
  g_autoslist(GUri) uris = NULL;
  g_autofree char *url = NULL;
  Fake fake = { 0 };
  Seen seen = { 0 };

  fake.server = soup_server_new (NULL, NULL);
  soup_server_add_websocket_handler (fake.server, "/ws", NULL, (char **) protocols, fake_ws_cb, &fake, NULL);
  soup_server_listen_local (fake.server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (fake.server);
  url = g_strdup_printf ("http://127.0.0.1:%d", g_uri_get_port (uris->data));

  client = natter_client_new (url, "fakeapp", NULL);
  g_signal_connect (client, "message-received", G_CALLBACK (received_cb), &seen);
  g_signal_connect (client, "status-changed", G_CALLBACK (status_cb), &seen);

  g_test_expect_message ("natter", G_LOG_LEVEL_WARNING, "*invalid frame*not a valid protocol frame*");
  g_test_expect_message ("natter", G_LOG_LEVEL_WARNING, "*invalid frame*never sends publish*");
  g_test_expect_message ("natter", G_LOG_LEVEL_WARNING, "*invalid frame*content*");
  g_test_expect_message ("natter", G_LOG_LEVEL_WARNING, "*invalid frame*UTF-8*");
  g_test_expect_message ("natter", G_LOG_LEVEL_WARNING, "*second connect ack*");
  g_test_expect_message ("natter", G_LOG_LEVEL_WARNING, "*invalid frame*content*nested deeper*");
  g_test_expect_message ("natter", G_LOG_LEVEL_WARNING, "*invalid frame*preview*");

  natter_client_connect (client, "fake-token");
  test_wait_until (acked_7, &fake, 20, "the ack of the good message");
  g_test_assert_expected_messages ();

  /* One message got through, stored; the connection never dropped. */
  g_assert_cmpuint (seen.received, ==, 1);
  g_assert_cmpstr (natter_message_get_text (seen.last), ==, "the real one");
  g_assert_cmpint (natter_message_get_message_id (seen.last), >, 0);
  g_assert_cmpuint (seen.connected, ==, 1);
  g_assert_cmpstr (natter_client_get_user_id (client), ==, "bob");

  /* A text WebSocket message breaks the protocol: the client reconnects and
   * asks only for what comes after what it stored. */
  g_test_expect_message ("natter", G_LOG_LEVEL_WARNING, "*text WebSocket message*");
  soup_websocket_connection_send_text (fake.ws, "hello?");
  test_wait_until (connected_twice, &seen, 20, "the reconnect");
  g_test_assert_expected_messages ();
  g_assert_cmpuint (fake.connects, ==, 2);
  g_assert_cmpuint (fake.last_connect_seq, ==, 7);

  natter_client_disconnect (client);
  g_clear_object (&seen.last);
  g_clear_object (&client);
  /* Let both ends finish their close handshakes before the server goes. */
  test_spin (300);
  g_clear_object (&fake.ws);
  soup_server_disconnect (fake.server);
  g_clear_object (&fake.server);
  test_spin (100);
}

static void
added_cb (NatterStore   *store,
          NatterMessage *message,
          Seen          *seen)
{
  if (natter_message_get_direction (message) == NATTER_MESSAGE_DIRECTION_SEND)
    g_set_object (&seen->last, message);
}

static gboolean
reply_stored (gpointer data)
{
  return ((Seen *) data)->last != NULL;
}

static gboolean
received_one (gpointer data)
{
  return ((Seen *) data)->received == 1;
}

/* The time the client gives a message it sends comes from ConnectAck's
 * server_time, which lags by the ack's way over (here 5 s, as on a loaded
 * server): a reply must still sort after the message it answers, or a
 * chat showing that message leaves the reply out as older than its page. */
static void
test_reply_after_what_it_answers (void)
{
  const char *protocols[] = { NATTER_PROTOCOL_NAME, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterClient) client = NULL;
  g_autoptr(JsonObject) content = json_object_new ();
  g_autoslist(GUri) uris = NULL;
  g_autofree char *url = NULL;
  Fake fake = { .clock_lag_ms = 5000 };
  Seen seen = { 0 };
  gint64 answered;

  fake.server = soup_server_new (NULL, NULL);
  soup_server_add_websocket_handler (fake.server, "/ws", NULL, (char **) protocols, fake_ws_cb, &fake, NULL);
  soup_server_listen_local (fake.server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (fake.server);
  url = g_strdup_printf ("http://127.0.0.1:%d", g_uri_get_port (uris->data));

  client = natter_client_new (url, "fakeapp", NULL);
  g_signal_connect (client, "message-received", G_CALLBACK (received_cb), &seen);
  natter_client_connect (client, "fake-token");
  test_wait_until (received_one, &seen, 20, "the message to answer");
  answered = natter_message_get_sent_time (seen.last);
  g_clear_object (&seen.last);

  g_signal_connect (natter_client_get_store (client), "message-added", G_CALLBACK (added_cb), &seen);
  json_object_set_string_member (content, "content", "Yes!");
  natter_client_send_message_async (client, NATTER_CONVERSATION_PRIVATE, "alice", NATTER_OBJECT_TEXT,
                                    content, NULL, NULL, NULL);
  test_wait_until (reply_stored, &seen, 20, "the reply stored");
  g_assert_cmpint (natter_message_get_sent_time (seen.last), >, answered);

  natter_client_disconnect (client);
  g_clear_object (&seen.last);
  g_clear_object (&client);
  test_spin (300);
  g_clear_object (&fake.ws);
  soup_server_disconnect (fake.server);
  g_clear_object (&fake.server);
  test_spin (100);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/client/hostile-server", test_hostile_server);
  g_test_add_func ("/client/reply-after-what-it-answers", test_reply_after_what_it_answers);

  return g_test_run ();
}
