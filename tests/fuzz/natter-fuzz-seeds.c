/* natter-fuzz-seeds.c — writes the binary seeds of tests/fuzz/corpus:
 * frames (natter-fuzz-frame), runs of server frames (natter-fuzz-client),
 * WebSocket streams (natter-fuzz-websocket) and tokens
 * (natter-fuzz-token) and batches of deliveries between nodes
 * (natter-fuzz-cluster, natterd-cluster.proto). The text seeds of the
 * other targets are written by hand. After a change to natter.proto,
 * natterd-cluster.proto or the tokens:
 *
 *   _build/tests/fuzz/natter-fuzz-seeds tests/fuzz/corpus
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gio/gio.h>
#include <string.h>

#include "natter-codes.h"
#include "natter-frame.h"
#include "natter-fuzz.h"
#include "natter-object-names.h"
#include "natterd-cluster-wire.h"
#include "natterd-directory.h"

static const char *top;

static void
write_file (const char *target,
            const char *name,
            const void *data,
            gsize       length)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_build_filename (top, target, NULL);
  g_autofree char *path = g_build_filename (dir, name, NULL);

  g_mkdir_with_parents (dir, 0755);
  if (!g_file_set_contents (path, data, (gssize) length, &error))
    g_error ("%s", error->message);
}

static GBytes *
encode (const NatterFrame *frame)
{
  g_autoptr(GError) error = NULL;
  GBytes *bytes = natter_frame_encode (frame, &error);

  if (bytes == NULL)
    g_error ("%s", error->message);
  return bytes;
}

static void
write_frame (const char        *name,
             const NatterFrame *frame)
{
  g_autoptr(GBytes) bytes = encode (frame);

  write_file ("frame", name, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
}

/* natter-fuzz-client input: flags, then each frame with its length. */
static void
append_client_frame (GByteArray        *run,
                     const NatterFrame *frame)
{
  g_autoptr(GBytes) bytes = encode (frame);
  gsize size = g_bytes_get_size (bytes);
  guint8 length[2] = { (guint8) (size >> 8), (guint8) size };

  g_assert (size <= G_MAXUINT16);
  g_byte_array_append (run, length, 2);
  g_byte_array_append (run, g_bytes_get_data (bytes, NULL), (guint) size);
}

static void
write_client_run (const char         *name,
                  guint8              flags,
                  const NatterFrame **frames)
{
  g_autoptr(GByteArray) run = g_byte_array_new ();

  g_byte_array_append (run, &flags, 1);
  for (guint i = 0; frames[i] != NULL; i++)
    append_client_frame (run, frames[i]);
  write_file ("client", name, run->data, run->len);
}

/* A client's WebSocket frame: masked, as RFC 6455 wants from clients. */
static void
append_ws_frame (GByteArray   *stream,
                 gboolean      fin,
                 guint8        opcode,
                 const guint8 *payload,
                 gsize         length)
{
  static const guint8 mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
  guint8 header[14];
  guint n = 0;

  header[n++] = (fin ? 0x80 : 0) | opcode;
  if (length < 126)
    header[n++] = 0x80 | (guint8) length;
  else if (length <= G_MAXUINT16)
    {
      header[n++] = 0x80 | 126;
      header[n++] = (guint8) (length >> 8);
      header[n++] = (guint8) length;
    }
  else
    {
      header[n++] = 0x80 | 127;
      for (int i = 0; i < 8; i++)
        header[n++] = (guint8) ((guint64) length >> (56 - 8 * i));
    }
  memcpy (header + n, mask, 4);
  n += 4;
  g_byte_array_append (stream, header, n);
  for (gsize i = 0; i < length; i++)
    {
      guint8 b = payload[i] ^ mask[i & 3];
      g_byte_array_append (stream, &b, 1);
    }
}

static void
write_ws (const char *name,
          guint8      how,
          GByteArray *frames)
{
  g_autoptr(GByteArray) input = g_byte_array_new ();

  g_byte_array_append (input, &how, 1);
  g_byte_array_append (input, frames->data, frames->len);
  write_file ("websocket", name, input->data, input->len);
}

static void
write_websocket_seeds (GBytes *connect)
{
  g_autoptr(GByteArray) session = g_byte_array_new ();
  g_autoptr(GByteArray) fragmented = g_byte_array_new ();
  g_autoptr(GByteArray) large = g_byte_array_new ();
  g_autoptr(GByteArray) text = g_byte_array_new ();
  const guint8 *frame = g_bytes_get_data (connect, NULL);
  gsize frame_size = g_bytes_get_size (connect);
  guint8 close_normal[] = { 0x03, 0xe8, 'b', 'y', 'e' };
  guint8 filler[300];

  memset (filler, 'x', sizeof filler);

  /* A session: connect, ping, a message, close. */
  append_ws_frame (session, TRUE, 0x2, frame, frame_size);
  append_ws_frame (session, TRUE, 0x9, (const guint8 *) "ping", 4);
  append_ws_frame (session, TRUE, 0xA, NULL, 0);
  append_ws_frame (session, TRUE, 0x2, frame, frame_size);
  append_ws_frame (session, TRUE, 0x8, close_normal, sizeof close_normal);
  write_ws ("session", 0, session);
  write_ws ("session-in-9-byte-writes", 3, session);
  write_ws ("session-unread", 0x80, session);

  /* One message in three fragments, a ping between them. */
  append_ws_frame (fragmented, FALSE, 0x2, frame, 3);
  append_ws_frame (fragmented, TRUE, 0x9, NULL, 0);
  append_ws_frame (fragmented, FALSE, 0x0, frame + 3, 4);
  append_ws_frame (fragmented, TRUE, 0x0, frame + 7, frame_size - 7);
  append_ws_frame (fragmented, TRUE, 0x8, NULL, 0);
  write_ws ("fragmented", 0, fragmented);
  write_ws ("fragmented-in-1-byte-writes", 1, fragmented);

  /* 16-bit lengths, and a text message. */
  append_ws_frame (large, TRUE, 0x2, filler, sizeof filler);
  append_ws_frame (large, TRUE, 0x1, (const guint8 *) "héllo", strlen ("héllo"));
  write_ws ("extended-length", 0, large);

  /* Text that is not UTF-8: closed with 1007. */
  append_ws_frame (text, TRUE, 0x1, (const guint8 *) "\xff\xfe", 2);
  write_ws ("bad-utf8", 0, text);
}

static void
write_token_seeds (void)
{
  g_autoptr(GBytes) key = g_bytes_new_static (NATTER_FUZZ_TOKEN_KEY, strlen (NATTER_FUZZ_TOKEN_KEY));
  NatterdApp app = { .key = (char *) NATTER_FUZZ_APP_KEY, .token_key = key };
  struct {
    const char *name, *user;
    gint64 issued, expires;
  } tokens[] = {
    { "alice", "alice", NATTER_FUZZ_NOW_MS - 1000, 0 },
    { "alice-expiring", "alice", NATTER_FUZZ_NOW_MS - 1000, NATTER_FUZZ_NOW_MS + 1000 },
    { "alice-expired", "alice", NATTER_FUZZ_NOW_MS - 2000, NATTER_FUZZ_NOW_MS - 1000 },
    { "bob-blocked", "bob", NATTER_FUZZ_NOW_MS - 1000, 0 },
    { "carol-revoked", "carol", NATTER_FUZZ_NOW_MS - 1000, 0 },
    { "nobody", "nobody", NATTER_FUZZ_NOW_MS - 1000, 0 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (tokens); i++)
    {
      g_autofree char *token = natterd_token_issue (&app, tokens[i].user, tokens[i].issued,
                                                    tokens[i].expires);

      write_file ("token", tokens[i].name, token, strlen (token));
    }
  write_file ("token", "no-mac", "MTpmdXp6YXBwOmFsaWNlOjA6MA", strlen ("MTpmdXp6YXBwOmFsaWNlOjA6MA"));
}

static void
write_batch (const char *name,
             const char *node,
             GPtrArray  *payloads)
{
  g_autoptr(GBytes) bytes = natterd_cluster_wire_encode (node, payloads);

  write_file ("cluster", name, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
}

/* One batch of each kind of delivery, one of several, and some that the
 * checks refuse (a newer version, a bad node name, a bad sender id). */
static void
write_cluster_seeds (void)
{
  NatterdMessage text = {
    .id = 1, .uid = (char *) "0000-0001-A2WV-TN0M", .conversation_type = 1,
    .sender_user_id = (char *) "bob", .target_id = (char *) "alice",
    .object_name = (char *) NATTER_OBJECT_TEXT, .content = (char *) "{\"content\":\"hi from a\"}",
    .push_content = (char *) "hi", .flags = 3, .sent_time = NATTER_FUZZ_NOW_MS,
  };
  NatterdMessage group = text, typing = text;
  NatterdClusterPayload inbox = { .type = NATTERD_CLUSTER_INBOX, .app = "uk2zolqfvd4cmfcs",
                                  .user = "alice", .seq = 1, .message = text };
  NatterdClusterPayload inbox_bob = inbox;
  NatterdClusterPayload timeline = { .type = NATTERD_CLUSTER_TIMELINE, .app = "uk2zolqfvd4cmfcs",
                                     .sender_devices = TRUE };
  NatterdClusterPayload room = { .type = NATTERD_CLUSTER_ROOM, .app = "uk2zolqfvd4cmfcs" };
  NatterdClusterPayload status = { .type = NATTERD_CLUSTER_STATUS, .app = "uk2zolqfvd4cmfcs",
                                   .multi_device = TRUE };
  NatterdClusterPayload head = { .type = NATTERD_CLUSTER_HEAD, .app = "uk2zolqfvd4cmfcs",
                                 .user = "alice", .seq = 7 };
  NatterdClusterPayload bad_sender = inbox;
  const struct {
    const char *name;
    NatterdClusterPayload *payload;
  } single[] = {
    { "batch-inbox", &inbox }, { "batch-timeline", &timeline }, { "batch-room", &room },
    { "batch-status", &status }, { "batch-head", &head }, { "batch-bad-sender", &bad_sender },
  };
  g_autoptr(GPtrArray) payloads = g_ptr_array_new ();
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GByteArray) newer = NULL;

  group.conversation_type = 3;
  group.target_id = (char *) "g1";
  group.timeline_seq = 4;
  timeline.message = group;
  room.message = group;
  room.message.conversation_type = 4;
  room.message.target_id = (char *) "room1";
  typing.uid = NULL;
  typing.object_name = (char *) NATTER_OBJECT_TYPING_STATUS;
  typing.content = (char *) "{\"typingContentType\":\"RC:TxtMsg\"}";
  typing.push_content = NULL;
  typing.flags = NATTER_MESSAGE_FLAG_STATUS;
  status.message = typing;
  inbox_bob.user = "bob";
  inbox_bob.seq = 2;
  bad_sender.message.sender_user_id = (char *) "bob smith";

  for (guint i = 0; i < G_N_ELEMENTS (single); i++)
    {
      g_ptr_array_set_size (payloads, 0);
      g_ptr_array_add (payloads, single[i].payload);
      write_batch (single[i].name, "a", payloads);
    }
  g_ptr_array_set_size (payloads, 0);
  g_ptr_array_add (payloads, &inbox);
  g_ptr_array_add (payloads, &inbox_bob);
  g_ptr_array_add (payloads, &timeline);
  g_ptr_array_add (payloads, &status);
  write_batch ("batch-several", "node-b_2", payloads);
  write_batch ("batch-bad-node-name", "a.b", payloads);

  /* Version 2: the tag of field 1 and a varint. */
  bytes = natterd_cluster_wire_encode ("a", payloads);
  newer = g_byte_array_new ();
  g_byte_array_append (newer, g_bytes_get_data (bytes, NULL), (guint) g_bytes_get_size (bytes));
  g_assert (newer->data[0] == 0x08 && newer->data[1] == NATTERD_CLUSTER_WIRE_VERSION);
  newer->data[1] = NATTERD_CLUSTER_WIRE_VERSION + 1;
  write_file ("cluster", "batch-newer-version", newer->data, newer->len);
}

int
main (int   argc,
      char *argv[])
{
  NatterFrame frame = NATTER__FRAME__INIT;
  NatterFrame connect_ack_frame = NATTER__FRAME__INIT;
  NatterFrame refused_frame = NATTER__FRAME__INIT;
  NatterFrame deliver_frame = NATTER__FRAME__INIT;
  NatterFrame image_frame = NATTER__FRAME__INIT;
  NatterFrame recall_frame = NATTER__FRAME__INIT;
  NatterFrame read_frame = NATTER__FRAME__INIT;
  NatterFrame typing_frame = NATTER__FRAME__INIT;
  NatterFrame ack_frame = NATTER__FRAME__INIT;
  NatterFrame kick_frame = NATTER__FRAME__INIT;
  NatterFrame ping_frame = NATTER__FRAME__INIT;
  NatterFrame room_frame = NATTER__FRAME__INIT;
  Natter__Connect connect = NATTER__CONNECT__INIT;
  Natter__ConnectAck connect_ack = NATTER__CONNECT_ACK__INIT;
  Natter__ConnectAck refused = NATTER__CONNECT_ACK__INIT;
  Natter__Publish publish = NATTER__PUBLISH__INIT;
  Natter__PublishAck publish_ack = NATTER__PUBLISH_ACK__INIT;
  Natter__Deliver deliver = NATTER__DELIVER__INIT;
  Natter__Deliver image = NATTER__DELIVER__INIT;
  Natter__Deliver recall = NATTER__DELIVER__INIT;
  Natter__Deliver read = NATTER__DELIVER__INIT;
  Natter__Deliver typing = NATTER__DELIVER__INIT;
  Natter__Message message = NATTER__MESSAGE__INIT;
  Natter__Message image_message = NATTER__MESSAGE__INIT;
  Natter__Message recall_message = NATTER__MESSAGE__INIT;
  Natter__Message read_message = NATTER__MESSAGE__INIT;
  Natter__Message typing_message = NATTER__MESSAGE__INIT;
  Natter__Kick kick = NATTER__KICK__INIT;
  Natter__Ping ping = NATTER__PING__INIT;
  Natter__ChatroomEvent room = NATTER__CHATROOM_EVENT__INIT;
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__HistoryRequest history = NATTER__HISTORY_REQUEST__INIT;
  Natter__Result result = NATTER__RESULT__INIT;
  Natter__HistoryResult history_result = NATTER__HISTORY_RESULT__INIT;
  Natter__Message *messages[] = { &message };
  g_autoptr(GBytes) connect_bytes = NULL;

  if (argc != 2)
    {
      g_printerr ("usage: %s DIR\n", argv[0]);
      return 2;
    }
  top = argv[1];

  /* ------------------------------------------------------------ frames */

  connect.app_key = (char *) "appkey";
  connect.token = (char *) "token";
  connect.device_id = (char *) "device";
  connect.last_seq = 10;
  frame.body_case = NATTER__FRAME__BODY_CONNECT;
  frame.connect = &connect;
  write_frame ("connect", &frame);
  connect_bytes = encode (&frame);

  publish.client_msg_id = (char *) "m1";
  publish.conversation_type = 1;
  publish.target_id = (char *) "bob";
  publish.object_name = (char *) NATTER_OBJECT_TEXT;
  publish.content = (char *) "{\"content\":\"hello\",\"user\":{\"id\":\"alice\"}}";
  frame.body_case = NATTER__FRAME__BODY_PUBLISH;
  frame.publish = &publish;
  write_frame ("publish", &frame);

  message.message_uid = (char *) "AAAA-BBBB-CCCC-DDDD";
  message.conversation_type = 3;
  message.target_id = (char *) "g1";
  message.sender_user_id = (char *) "alice";
  message.object_name = (char *) NATTER_OBJECT_TEXT;
  message.content = (char *) "{\"content\":\"hi @me\",\"mentionedInfo\":{\"type\":2,\"userIdList\":[\"me\"]}}";
  message.sent_time = NATTER_FUZZ_NOW_MS - 5000;
  message.flags = NATTER_MESSAGE_FLAG_PERSISTED | NATTER_MESSAGE_FLAG_COUNTED;
  deliver.seq = 5;
  deliver.message = &message;
  deliver_frame.body_case = NATTER__FRAME__BODY_DELIVER;
  deliver_frame.deliver = &deliver;
  write_frame ("deliver", &deliver_frame);

  history.conversation_type = 1;
  history.target_id = (char *) "bob";
  history.count = 20;
  query.request_id = 1;
  query.method_case = NATTER__QUERY__METHOD_HISTORY;
  query.history = &history;
  frame.body_case = NATTER__FRAME__BODY_QUERY;
  frame.query = &query;
  write_frame ("query-history", &frame);

  history_result.n_messages = 1;
  history_result.messages = messages;
  result.request_id = 1;
  result.payload_case = NATTER__RESULT__PAYLOAD_HISTORY;
  result.history = &history_result;
  frame.body_case = NATTER__FRAME__BODY_RESULT;
  frame.result = &result;
  write_frame ("result-history", &frame);

  /* ---------------------------------------------- runs of server frames */

  connect_ack.user_id = (char *) "me";
  connect_ack.server_time = NATTER_FUZZ_NOW_MS;
  connect_ack.max_seq = 7;
  connect_ack.ping_interval = 30;
  connect_ack_frame.body_case = NATTER__FRAME__BODY_CONNECT_ACK;
  connect_ack_frame.connect_ack = &connect_ack;

  refused.code = NATTER_CODE_TOKEN_INCORRECT;
  refused.error_message = (char *) "Token incorrect";
  refused_frame.body_case = NATTER__FRAME__BODY_CONNECT_ACK;
  refused_frame.connect_ack = &refused;

  image_message = message;
  image_message.message_uid = (char *) "AAAA-BBBB-CCCC-EEEE";
  image_message.conversation_type = 1;
  image_message.target_id = (char *) "me";
  image_message.object_name = (char *) NATTER_OBJECT_IMAGE;
  image_message.content = (char *) "{\"content\":\"/9j/4AAQSkZJRgABAQ==\",\"imageUri\":\"http://127.0.0.1/media/x\"}";
  image.seq = 6;
  image.offline = TRUE;
  image.message = &image_message;
  image_frame.body_case = NATTER__FRAME__BODY_DELIVER;
  image_frame.deliver = &image;

  recall_message = message;
  recall_message.message_uid = (char *) "AAAA-BBBB-CCCC-FFFF";
  recall_message.object_name = (char *) NATTER_OBJECT_RECALL_COMMAND;
  recall_message.content = (char *) "{\"messageUId\":\"AAAA-BBBB-CCCC-DDDD\",\"conversationType\":3,\"targetId\":\"g1\"}";
  recall_message.flags = NATTER_MESSAGE_FLAG_NONE;
  recall.seq = 7;
  recall.message = &recall_message;
  recall_frame.body_case = NATTER__FRAME__BODY_DELIVER;
  recall_frame.deliver = &recall;

  read_message = message;
  read_message.message_uid = (char *) "";
  read_message.conversation_type = 1;
  read_message.target_id = (char *) "me";
  read_message.sender_user_id = (char *) "bob";
  read_message.object_name = (char *) NATTER_OBJECT_READ_NOTIFICATION;
  read_message.content = (char *) "{\"lastMessageSendTime\":1700000000000,\"type\":1}";
  read_message.flags = NATTER_MESSAGE_FLAG_NONE;
  read.seq = 8;
  read.message = &read_message;
  read_frame.body_case = NATTER__FRAME__BODY_DELIVER;
  read_frame.deliver = &read;

  typing_message = read_message;
  typing_message.object_name = (char *) NATTER_OBJECT_TYPING_STATUS;
  typing_message.content = (char *) "{\"typingContentType\":\"RC:TxtMsg\"}";
  typing_message.flags = NATTER_MESSAGE_FLAG_STATUS;
  typing.message = &typing_message;
  typing_frame.body_case = NATTER__FRAME__BODY_DELIVER;
  typing_frame.deliver = &typing;

  publish_ack.client_msg_id = (char *) "m1";
  publish_ack.message_uid = (char *) "AAAA-BBBB-CCCC-0000";
  publish_ack.sent_time = NATTER_FUZZ_NOW_MS;
  ack_frame.body_case = NATTER__FRAME__BODY_PUBLISH_ACK;
  ack_frame.publish_ack = &publish_ack;

  kick.code = NATTER_CODE_KICKED_BY_OTHER_DEVICE;
  kick.error_message = (char *) "Logged in elsewhere";
  kick_frame.body_case = NATTER__FRAME__BODY_KICK;
  kick_frame.kick = &kick;

  ping.time = NATTER_FUZZ_NOW_MS;
  ping_frame.body_case = NATTER__FRAME__BODY_PING;
  ping_frame.ping = &ping;

  room.chatroom_id = (char *) "room1";
  room.code = NATTER_CODE_KICKED_FROM_CHATROOM;
  room_frame.body_case = NATTER__FRAME__BODY_CHATROOM_EVENT;
  room_frame.chatroom_event = &room;

  {
    const NatterFrame *accepted[] = { &connect_ack_frame, &deliver_frame, &image_frame,
                                      &recall_frame, &read_frame, &typing_frame, &ping_frame,
                                      &ack_frame, &room_frame, &frame, &kick_frame, NULL };
    const NatterFrame *messages_only[] = { &deliver_frame, &image_frame, &recall_frame,
                                           &typing_frame, NULL };
    const NatterFrame *before_ack[] = { &deliver_frame, &ping_frame, &connect_ack_frame,
                                        &deliver_frame, &connect_ack_frame, NULL };
    const NatterFrame *refusal[] = { &refused_frame, &deliver_frame, NULL };

    write_client_run ("session", 0, accepted);
    write_client_run ("messages", 1, messages_only);
    write_client_run ("before-connect-ack", 0, before_ack);
    write_client_run ("refused", 0, refusal);
  }

  /* Group timelines (natter.v2): a live message past a gap, the sync's
   * states and a fetched page (answers to the client's first queries),
   * and a group message's PublishAck with its timeline_seq. */
  {
    Natter__Message live_message = message, page_message = message;
    Natter__Message *page_messages[] = { &page_message, &live_message };
    Natter__Deliver live = NATTER__DELIVER__INIT;
    NatterFrame live_frame = NATTER__FRAME__INIT;
    Natter__TimelineState state = NATTER__TIMELINE_STATE__INIT, left = NATTER__TIMELINE_STATE__INIT;
    Natter__TimelineState *states[] = { &state, &left };
    Natter__TimelineSyncResult sync = NATTER__TIMELINE_SYNC_RESULT__INIT;
    Natter__TimelineResult page = NATTER__TIMELINE_RESULT__INIT;
    Natter__Result sync_result = NATTER__RESULT__INIT, page_result = NATTER__RESULT__INIT;
    NatterFrame sync_frame = NATTER__FRAME__INIT, page_frame = NATTER__FRAME__INIT;
    Natter__PublishAck group_ack = NATTER__PUBLISH_ACK__INIT;
    NatterFrame group_ack_frame = NATTER__FRAME__INIT;

    live_message.message_uid = (char *) "AAAA-BBBB-CCCC-1111";
    live_message.timeline_seq = 4;
    live.seq = 0;
    live.message = &live_message;
    live_frame.body_case = NATTER__FRAME__BODY_DELIVER;
    live_frame.deliver = &live;

    state.conversation_type = 3;
    state.target_id = (char *) "g1";
    state.latest_seq = 4;
    state.read_seq = 1;
    state.unread_count = 3;
    state.mentioned = TRUE;
    state.updated_time = NATTER_FUZZ_NOW_MS - 1000;
    left = state;
    left.target_id = (char *) "g2";
    left.first_seq = 2;
    left.last_seq = 3;
    sync.n_timelines = G_N_ELEMENTS (states);
    sync.timelines = states;
    sync.sync_time = NATTER_FUZZ_NOW_MS;
    sync_result.request_id = 1;
    sync_result.payload_case = NATTER__RESULT__PAYLOAD_TIMELINE_SYNC;
    sync_result.timeline_sync = &sync;
    sync_frame.body_case = NATTER__FRAME__BODY_RESULT;
    sync_frame.result = &sync_result;

    page_message.timeline_seq = 3;
    page.n_messages = G_N_ELEMENTS (page_messages);
    page.messages = page_messages;
    page_result.request_id = 2;
    page_result.payload_case = NATTER__RESULT__PAYLOAD_TIMELINE;
    page_result.timeline = &page;
    page_frame.body_case = NATTER__FRAME__BODY_RESULT;
    page_frame.result = &page_result;

    group_ack = publish_ack;
    group_ack.timeline_seq = 5;
    group_ack_frame.body_case = NATTER__FRAME__BODY_PUBLISH_ACK;
    group_ack_frame.publish_ack = &group_ack;

    {
      const NatterFrame *timelines[] = { &connect_ack_frame, &live_frame, &sync_frame, &page_frame,
                                         &group_ack_frame, &live_frame, NULL };

      write_client_run ("timelines", 0, timelines);
    }
  }

  /* ---------------------------------------------------------- the rest */

  write_websocket_seeds (connect_bytes);
  write_token_seeds ();
  write_cluster_seeds ();
  return 0;
}
