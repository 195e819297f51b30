/* test-frame.c — natter-proto: round trips and rejection of bad frames
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <string.h>

#include "natter-frame.h"
#include "natter-json.h"

/* ------------------------------------------------------------ helpers */

static GBytes *
encode_ok (const NatterFrame *frame)
{
  g_autoptr(GError) error = NULL;
  GBytes *bytes = natter_frame_encode (frame, &error);

  g_assert_no_error (error);
  g_assert_nonnull (bytes);
  return bytes;
}

/* Encode, decode as @sender would receive it, encode again: the bytes must
 * match and the decoded frame is returned for field checks. */
static NatterFrame *
round_trip (const NatterFrame *frame,
            NatterPeer         sender)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) first = encode_ok (frame);
  g_autoptr(GBytes) second = NULL;
  NatterFrame *decoded;
  gsize size;
  const guint8 *data = g_bytes_get_data (first, &size);

  NatterFrameSizes sizes;
  g_autofree guint8 *packed = NULL;

  /* natter_frame_pack_sized() writes protobuf-c's bytes (#17). */
  g_assert_cmpuint (natter_frame_packed_size (frame, &sizes), ==, size);
  packed = g_malloc (MAX (size, 1));
  natter_frame_pack_sized (frame, &sizes, packed);
  g_assert_cmpmem (packed, size, data, size);

  decoded = natter_frame_decode (data, size, sender, &error);
  g_assert_no_error (error);
  g_assert_nonnull (decoded);
  g_assert_cmpint (decoded->body_case, ==, frame->body_case);

  second = encode_ok (decoded);
  g_assert_true (g_bytes_equal (first, second));

  return decoded;
}

static void
assert_rejected (const NatterFrame *frame,
                 NatterPeer         sender,
                 int                code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = encode_ok (frame);
  g_autoptr(NatterFrame) decoded = NULL;
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);

  decoded = natter_frame_decode (data, size, sender, &error);
  g_assert_null (decoded);
  g_assert_error (error, NATTER_PROTO_ERROR, code);
  g_assert_nonnull (error->message);
  g_assert_cmpstr (error->message, !=, "");
}

/* @frame with @publish as its body: a text to @target_id, pushed as "你好". */
static void
publish_frame (NatterFrame     *frame,
               Natter__Publish *publish,
               int              conversation_type,
               const char      *target_id,
               const char      *content)
{
  publish->client_msg_id = (char *) "m-000001";
  publish->conversation_type = conversation_type;
  publish->target_id = (char *) target_id;
  publish->object_name = (char *) NATTER_OBJECT_TEXT;
  publish->content = (char *) content;
  publish->push_content = (char *) "你好";
  frame->body_case = NATTER__FRAME__BODY_PUBLISH;
  frame->publish = publish;
}

static Natter__Message
text_message (const char *content)
{
  Natter__Message message = NATTER__MESSAGE__INIT;

  message.message_uid = (char *) "BC3D-4F5G-6H7J-8K9L";
  message.conversation_type = NATTER_CONVERSATION_PRIVATE;
  message.target_id = (char *) "alice";
  message.sender_user_id = (char *) "alice";
  message.object_name = (char *) NATTER_OBJECT_TEXT;
  message.content = (char *) content;
  message.sent_time = G_GINT64_CONSTANT (1484621850284);
  message.flags = NATTER_MESSAGE_FLAG_PERSISTED | NATTER_MESSAGE_FLAG_COUNTED;
  return message;
}

/* --------------------------------------------------------- round trips */

static void
test_round_trip_connect (void)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__Connect connect = NATTER__CONNECT__INIT;
  g_autoptr(NatterFrame) decoded = NULL;

  connect.app_key = (char *) "k3y-demo";
  connect.token = (char *) "dG9rZW4=@natter;alice;1700000000000";
  connect.device_id = (char *) "dev-7c1f";
  connect.platform = (char *) "linux";
  connect.last_seq = 4242;
  connect.client_version = (char *) "0.1.0";
  frame.body_case = NATTER__FRAME__BODY_CONNECT;
  frame.connect = &connect;

  decoded = round_trip (&frame, NATTER_PEER_CLIENT);
  g_assert_cmpstr (decoded->connect->app_key, ==, "k3y-demo");
  g_assert_cmpstr (decoded->connect->token, ==, connect.token);
  g_assert_cmpstr (decoded->connect->device_id, ==, "dev-7c1f");
  g_assert_cmpuint (decoded->connect->last_seq, ==, 4242);
  g_assert_cmpstr (natter_frame_type_name (decoded), ==, "connect");
}

static void
test_round_trip_connect_ack (void)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__ConnectAck ack = NATTER__CONNECT_ACK__INIT;
  g_autoptr(NatterFrame) decoded = NULL;

  ack.code = NATTER_CODE_OK;
  ack.user_id = (char *) "alice";
  ack.server_time = 1700000000123;
  ack.max_seq = 99;
  ack.ping_interval = 30;
  ack.multi_device = TRUE;
  frame.body_case = NATTER__FRAME__BODY_CONNECT_ACK;
  frame.connect_ack = &ack;

  decoded = round_trip (&frame, NATTER_PEER_SERVER);
  g_assert_cmpstr (decoded->connect_ack->user_id, ==, "alice");
  g_assert_cmpint (decoded->connect_ack->server_time, ==, 1700000000123);
  g_assert_cmpuint (decoded->connect_ack->max_seq, ==, 99);
  g_assert_true (decoded->connect_ack->multi_device);

  /* A refused connect carries no user id and is still valid. */
  ack.code = NATTER_CODE_TOKEN_EXPIRED;
  ack.user_id = (char *) "";
  ack.error_message = (char *) "Token expired";
  g_clear_pointer (&decoded, natter_frame_free);
  decoded = round_trip (&frame, NATTER_PEER_SERVER);
  g_assert_cmpint (decoded->connect_ack->code, ==, 31020);
}

static void
test_round_trip_publish (void)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__Publish publish = NATTER__PUBLISH__INIT;
  g_autoptr(NatterFrame) decoded = NULL;

  publish_frame (&frame, &publish, NATTER_CONVERSATION_GROUP, "group_1",
                 "{\"content\":\"你好, Natter\",\"extra\":\"RongCloud\"}");

  decoded = round_trip (&frame, NATTER_PEER_CLIENT);
  g_assert_cmpstr (decoded->publish->content, ==, publish.content);
  g_assert_cmpint (decoded->publish->conversation_type, ==, 3);
  g_assert_cmpstr (decoded->publish->push_content, ==, "你好");
}

/* @bytes, a client's frame, unpacked into @arena and valid. */
static NatterFrame *
unpack_in_ok (NatterFrameArena *arena,
              GBytes           *bytes)
{
  g_autoptr(GError) error = NULL;
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  NatterFrame *frame = natter_frame_unpack_in (arena, data, size, &error);

  g_assert_no_error (error);
  g_assert_nonnull (frame);
  g_assert_true (natter_frame_validate (frame, NATTER_PEER_CLIENT, &error));
  g_assert_no_error (error);
  return frame;
}

/* natter_frame_unpack_in() (#17): the same frame as natter_frame_unpack(),
 * a typical Publish entirely inside the arena's own block, a large one
 * spilling to blocks the clear frees, and a bad frame refused alike. */
static void
test_arena (void)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__Publish publish = NATTER__PUBLISH__INIT;
  g_auto(NatterFrameArena) arena;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GBytes) again = NULL;
  g_autoptr(GString) big = g_string_new ("{\"content\":\"");
  static const guint8 garbage[] = { 0xff, 0xff, 0xff, 0xff, 0x0f };
  NatterFrame *decoded;

  natter_frame_arena_init (&arena);
  publish_frame (&frame, &publish, NATTER_CONVERSATION_PRIVATE, "bob", "{\"content\":\"你好, Natter\"}");
  bytes = encode_ok (&frame);
  decoded = unpack_in_ok (&arena, bytes);
  g_assert_cmpstr (decoded->publish->content, ==, publish.content);
  g_assert_cmpstr (decoded->publish->push_content, ==, "你好");
  g_assert_cmpstr (decoded->publish->target_id, ==, "bob");
  g_assert_true ((const guint8 *) decoded >= arena.block &&
                 (const guint8 *) decoded < arena.block + sizeof arena.block);
  g_assert_cmpuint (arena.used, >, 0);
  g_assert_null (arena.spill);
  again = encode_ok (decoded);
  g_assert_true (g_bytes_equal (bytes, again));
  natter_frame_arena_clear (&arena);
  g_assert_cmpuint (arena.used, ==, 0);

  /* 100 KiB of content does not fit the block: it spills. */
  for (guint i = 0; i < 100 * 1024; i++)
    g_string_append_c (big, 'a' + (char) (i % 26));
  g_string_append (big, "\"}");
  publish.content = big->str;
  g_clear_pointer (&bytes, g_bytes_unref);
  bytes = encode_ok (&frame);
  decoded = unpack_in_ok (&arena, bytes);
  g_assert_cmpstr (decoded->publish->content, ==, big->str);
  g_assert_nonnull (arena.spill);
  natter_frame_arena_clear (&arena);
  g_assert_null (arena.spill);

  g_assert_null (natter_frame_unpack_in (&arena, garbage, sizeof garbage, &error));
  g_assert_error (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_MALFORMED);
}

static void
test_round_trip_publish_ack (void)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__PublishAck ack = NATTER__PUBLISH_ACK__INIT;
  g_autoptr(NatterFrame) decoded = NULL;

  ack.client_msg_id = (char *) "m-000001";
  ack.code = NATTER_CODE_GAGGED_IN_GROUP;
  ack.error_message = (char *) "Gagged until 2026-11-26 10:00:00";
  frame.body_case = NATTER__FRAME__BODY_PUBLISH_ACK;
  frame.publish_ack = &ack;

  decoded = round_trip (&frame, NATTER_PEER_SERVER);
  g_assert_cmpint (decoded->publish_ack->code, ==, 22408);
  g_assert_cmpstr (decoded->publish_ack->message_uid, ==, "");
}

static void
test_round_trip_deliver (void)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__Deliver deliver = NATTER__DELIVER__INIT;
  Natter__Message message = text_message ("{\"content\":\"hello\"}");
  g_autoptr(NatterFrame) decoded = NULL;

  deliver.seq = G_MAXUINT64 - 1;
  deliver.message = &message;
  deliver.offline = TRUE;
  frame.body_case = NATTER__FRAME__BODY_DELIVER;
  frame.deliver = &deliver;

  decoded = round_trip (&frame, NATTER_PEER_SERVER);
  g_assert_cmpuint (decoded->deliver->seq, ==, G_MAXUINT64 - 1);
  g_assert_true (decoded->deliver->offline);
  g_assert_cmpstr (decoded->deliver->message->message_uid, ==, "BC3D-4F5G-6H7J-8K9L");
  g_assert_cmpint (decoded->deliver->message->sent_time, ==, 1484621850284);
}

/* natter_frame_pack_sized() (#17; in round_trip() too) writes the bytes
 * protobuf-c writes for the same Frame, a Deliver's: seq zero, small and past 2^35, offline or
 * not, no message, a message with every field, a 200 KiB one. */
static void
test_deliver_pack (void)
{
  g_autoptr(GString) big = g_string_new ("{\"content\":\"");
  guint64 seqs[] = { 0, 1, 127, 128, 300, G_GUINT64_CONSTANT (1) << 35, G_MAXUINT64 };

  NatterFrame presence = NATTER__FRAME__INIT;
  NatterFrame empty = NATTER__FRAME__INIT;
  Natter__PresenceEvent event = NATTER__PRESENCE_EVENT__INIT;
  g_autoptr(GBytes) presence_bytes = NULL;
  guint8 presence_packed[16];
  NatterFrameSizes sizes;

  /* Field 20 takes a two-byte tag; a frame with no body packs to nothing. */
  presence.body_case = NATTER__FRAME__BODY_PRESENCE_EVENT;
  presence.presence_event = &event;
  presence_bytes = encode_ok (&presence);
  g_assert_cmpuint (natter_frame_packed_size (&presence, &sizes), ==, g_bytes_get_size (presence_bytes));
  g_assert_cmpuint (g_bytes_get_size (presence_bytes), <=, sizeof presence_packed);
  natter_frame_pack_sized (&presence, &sizes, presence_packed);
  g_assert_cmpmem (presence_packed, g_bytes_get_size (presence_bytes),
                   g_bytes_get_data (presence_bytes, NULL), g_bytes_get_size (presence_bytes));
  g_assert_cmpuint (natter_frame_packed_size (&empty, &sizes), ==, natter__frame__get_packed_size (&empty));

  for (guint i = 0; i < 200 * 1024; i++)
    g_string_append_c (big, 'a' + (char) (i % 26));
  g_string_append (big, "\"}");

  for (guint m = 0; m < 4; m++)
    for (guint i = 0; i < G_N_ELEMENTS (seqs); i++)
      for (int offline = 0; offline <= 1; offline++)
        {
          NatterFrame frame = NATTER__FRAME__INIT;
          Natter__Deliver deliver = NATTER__DELIVER__INIT;
          Natter__Message message = text_message ("{\"content\":\"你好\"}");
          g_autoptr(GBytes) expected = NULL;
          g_autofree guint8 *packed = NULL;
          gsize size, expected_size;
          const guint8 *expected_data;

          if (m == 1)
            {
              message.push_content = (char *) "你好";
              message.timeline_seq = 42;
              message.mentioned = TRUE;
              message.conversation_type = NATTER_CONVERSATION_GROUP;
            }
          else if (m == 2)
            message.content = big->str;
          deliver.seq = seqs[i];
          deliver.message = m == 3 ? NULL : &message;
          deliver.offline = offline;
          frame.body_case = NATTER__FRAME__BODY_DELIVER;
          frame.deliver = &deliver;

          expected = encode_ok (&frame);
          expected_data = g_bytes_get_data (expected, &expected_size);
          size = natter_frame_packed_size (&frame, &sizes);
          g_assert_cmpuint (size, ==, expected_size);
          packed = g_malloc (size);
          natter_frame_pack_sized (&frame, &sizes, packed);
          g_assert_cmpmem (packed, size, expected_data, expected_size);
        }
}

/* natter_frame_pack_sized()'s bytes and size are protobuf-c's for @frame. */
static void
assert_packs_as_protobuf_c (const NatterFrame *frame)
{
  gsize expected_size = natter__frame__get_packed_size (frame);
  g_autofree guint8 *expected = g_malloc (expected_size + 1);
  g_autofree guint8 *packed = NULL;
  NatterFrameSizes sizes;
  gsize size;

  natter__frame__pack (frame, expected);
  size = natter_frame_packed_size (frame, &sizes);
  g_assert_cmpuint (size, ==, expected_size);
  /* One byte more, which the packing must leave alone. */
  packed = g_malloc (size + 1);
  packed[size] = 0xa5;
  natter_frame_pack_sized (frame, &sizes, packed);
  g_assert_cmpmem (packed, size, expected, expected_size);
  g_assert_cmphex (packed[size], ==, 0xa5);
}

/* The hand-written packing of a Deliver's Message and of a PublishAck
 * (#17) against protobuf-c's, every field on or off in every combination;
 * a field that is on takes one of several values in turn (negative
 * int32s: ten bytes; lengths and varints across one-byte boundaries), an
 * off string is NULL or empty. Readers and unknown fields take protobuf-c's
 * own path, checked too. */
static void
test_hot_frames_pack (void)
{
  g_autofree char *long_text = g_strnfill (300, 'x');
  const char *strings[] = { "a", "你好", long_text, "BC3D-4F5G-6H7J-8K9L" };
  const gint32 int32s[] = { 1, -1, 127, 128, G_MININT32, G_MAXINT32, 33003 };
  const gint64 int64s[] = { 1, -1, G_GINT64_CONSTANT (1484621850284), G_MININT64, G_MAXINT64 };
  const guint64 uint64s[] = { 1, 127, 128, G_GUINT64_CONSTANT (1) << 35, G_MAXUINT64 };
  const guint32 uint32s[] = { 1, 3, 128, G_MAXUINT32 };
  Natter__Reader reader = NATTER__READER__INIT;
  Natter__Reader *readers[] = { &reader };
  ProtobufCMessageUnknownField unknown = { .tag = 99, .wire_type = PROTOBUF_C_WIRE_TYPE_VARINT, .len = 1,
                                           .data = (guint8 *) "\x05" };

  reader.user_id = (char *) "bob";
  reader.read_time = 1484621850284;

  for (guint mask = 0; mask < (1u << 11); mask++)
    {
      NatterFrame frame = NATTER__FRAME__INIT;
      Natter__Deliver deliver = NATTER__DELIVER__INIT;
      Natter__Message message = NATTER__MESSAGE__INIT;
      const char *off = mask % 3 == 0 ? NULL : "";
      guint v = mask;

#define PICK(bit, values, none) ((mask & (1u << (bit))) ? (values)[v++ % G_N_ELEMENTS (values)] : (none))
      message.message_uid = (char *) PICK (0, strings, off);
      message.conversation_type = PICK (1, int32s, 0);
      message.target_id = (char *) PICK (2, strings, off);
      message.sender_user_id = (char *) PICK (3, strings, off);
      message.object_name = (char *) PICK (4, strings, off);
      message.content = (char *) PICK (5, strings, off);
      message.sent_time = PICK (6, int64s, 0);
      message.flags = PICK (7, uint32s, 0);
      message.push_content = (char *) PICK (8, strings, off);
      message.timeline_seq = PICK (9, uint64s, 0);
      message.mentioned = (mask & (1u << 10)) ? (mask % 2 ? 1 : 2) : 0;
#undef PICK
      deliver.seq = mask % 5 == 0 ? 0 : mask;
      deliver.offline = mask % 7 == 0;
      deliver.message = &message;
      frame.body_case = NATTER__FRAME__BODY_DELIVER;
      frame.deliver = &deliver;
      assert_packs_as_protobuf_c (&frame);

      if (mask % 64 == 0)
        {
          message.n_readers = 1;
          message.readers = readers;
          assert_packs_as_protobuf_c (&frame);
          message.n_readers = 0;
          message.base.n_unknown_fields = 1;
          message.base.unknown_fields = &unknown;
          assert_packs_as_protobuf_c (&frame);
        }
    }

  for (guint mask = 0; mask < (1u << 6); mask++)
    for (guint round = 0; round < 7; round++)
      {
        NatterFrame frame = NATTER__FRAME__INIT;
        Natter__PublishAck ack = NATTER__PUBLISH_ACK__INIT;
        const char *off = round % 2 ? NULL : "";
        guint v = round;

#define PICK(bit, values, none) ((mask & (1u << (bit))) ? (values)[v++ % G_N_ELEMENTS (values)] : (none))
        ack.client_msg_id = (char *) PICK (0, strings, off);
        ack.code = PICK (1, int32s, 0);
        ack.message_uid = (char *) PICK (2, strings, off);
        ack.sent_time = PICK (3, int64s, 0);
        ack.error_message = (char *) PICK (4, strings, off);
        ack.timeline_seq = PICK (5, uint64s, 0);
#undef PICK
        frame.body_case = NATTER__FRAME__BODY_PUBLISH_ACK;
        frame.publish_ack = &ack;
        assert_packs_as_protobuf_c (&frame);
        if (round == 0)
          {
            ack.base.n_unknown_fields = 1;
            ack.base.unknown_fields = &unknown;
            assert_packs_as_protobuf_c (&frame);
          }
      }
}

static void
test_round_trip_deliver_ack (void)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__DeliverAck ack = NATTER__DELIVER_ACK__INIT;
  g_autoptr(NatterFrame) decoded = NULL;

  ack.seq = 17;
  frame.body_case = NATTER__FRAME__BODY_DELIVER_ACK;
  frame.deliver_ack = &ack;

  decoded = round_trip (&frame, NATTER_PEER_CLIENT);
  g_assert_cmpuint (decoded->deliver_ack->seq, ==, 17);
}

static void
test_round_trip_queries (void)
{
  Natter__HistoryRequest history = NATTER__HISTORY_REQUEST__INIT;
  Natter__ConversationListRequest list = NATTER__CONVERSATION_LIST_REQUEST__INIT;
  Natter__ChatroomJoinRequest join = NATTER__CHATROOM_JOIN_REQUEST__INIT;
  Natter__ChatroomQuitRequest quit = NATTER__CHATROOM_QUIT_REQUEST__INIT;
  Natter__ClearUnreadRequest clear = NATTER__CLEAR_UNREAD_REQUEST__INIT;
  Natter__RecallRequest recall = NATTER__RECALL_REQUEST__INIT;
  Natter__TurnCredentialsRequest turn = NATTER__TURN_CREDENTIALS_REQUEST__INIT;
  Natter__OnlineStatusRequest online = NATTER__ONLINE_STATUS_REQUEST__INIT;
  Natter__ConversationUpdateRequest update = NATTER__CONVERSATION_UPDATE_REQUEST__INIT;
  Natter__ProfileRequest profile = NATTER__PROFILE_REQUEST__INIT;
  char *groups[] = { (char *) "group_1" };
  int32_t types[] = { 1, 3 };
  char *users[] = { (char *) "alice", (char *) "bob" };

  history.conversation_type = 1;
  history.target_id = (char *) "bob";
  history.before_time = 1700000000000;
  history.count = 20;
  list.n_types = G_N_ELEMENTS (types);
  list.types = types;
  list.limit = 50;
  list.cursor = (char *) "1700000000000:1:bob";
  join.chatroom_id = (char *) "lobby";
  join.count = -1;
  quit.chatroom_id = (char *) "lobby";
  clear.conversation_type = 1;
  clear.target_id = (char *) "bob";
  clear.last_read_time = 1700000000000;
  recall.message_uid = (char *) "BC3D-4F5G-6H7J-8K9L";
  recall.conversation_type = 1;
  recall.target_id = (char *) "bob";
  recall.sent_time = 1700000000000;
  online.n_user_ids = G_N_ELEMENTS (users);
  online.user_ids = users;
  update.conversation_type = 3;
  update.target_id = (char *) "group_1";
  update.action = NATTER__CONVERSATION_UPDATE_REQUEST__ACTION__ACTION_PIN;
  profile.n_user_ids = G_N_ELEMENTS (users);
  profile.user_ids = users;
  profile.n_group_ids = G_N_ELEMENTS (groups);
  profile.group_ids = groups;

  for (int method = NATTER__QUERY__METHOD_HISTORY;
       method <= NATTER__QUERY__METHOD_PROFILE;
       method++)
    {
      NatterFrame frame = NATTER__FRAME__INIT;
      Natter__Query query = NATTER__QUERY__INIT;
      g_autoptr(NatterFrame) decoded = NULL;

      query.request_id = (guint) method * 1000;
      query.method_case = method;
      switch (method)
        {
        case NATTER__QUERY__METHOD_HISTORY: query.history = &history; break;
        case NATTER__QUERY__METHOD_CONVERSATION_LIST: query.conversation_list = &list; break;
        case NATTER__QUERY__METHOD_CHATROOM_JOIN: query.chatroom_join = &join; break;
        case NATTER__QUERY__METHOD_CHATROOM_QUIT: query.chatroom_quit = &quit; break;
        case NATTER__QUERY__METHOD_CLEAR_UNREAD: query.clear_unread = &clear; break;
        case NATTER__QUERY__METHOD_RECALL: query.recall = &recall; break;
        case NATTER__QUERY__METHOD_TURN_CREDENTIALS: query.turn_credentials = &turn; break;
        case NATTER__QUERY__METHOD_ONLINE_STATUS: query.online_status = &online; break;
        case NATTER__QUERY__METHOD_CONVERSATION_UPDATE: query.conversation_update = &update; break;
        case NATTER__QUERY__METHOD_PROFILE: query.profile = &profile; break;
        default: g_assert_not_reached ();
        }
      frame.body_case = NATTER__FRAME__BODY_QUERY;
      frame.query = &query;

      decoded = round_trip (&frame, NATTER_PEER_CLIENT);
      g_assert_cmpint (decoded->query->method_case, ==, method);
      g_assert_cmpuint (decoded->query->request_id, ==, (guint) method * 1000);
    }
}

static void
test_round_trip_results (void)
{
  Natter__Message m1 = text_message ("{\"content\":\"one\"}");
  Natter__Message m2 = text_message ("{\"content\":\"two\"}");
  Natter__Message *messages[] = { &m1, &m2 };
  Natter__HistoryResult history = NATTER__HISTORY_RESULT__INIT;
  Natter__Conversation conversation = NATTER__CONVERSATION__INIT;
  Natter__Conversation *conversations[] = { &conversation };
  Natter__ConversationListResult list = NATTER__CONVERSATION_LIST_RESULT__INIT;
  Natter__ChatroomJoinResult join = NATTER__CHATROOM_JOIN_RESULT__INIT;
  Natter__RecallResult recall = NATTER__RECALL_RESULT__INIT;
  Natter__Message recall_command = NATTER__MESSAGE__INIT;
  Natter__TurnCredentials turn = NATTER__TURN_CREDENTIALS__INIT;
  char *uris[] = { (char *) "turn:127.0.0.1:3478?transport=udp" };
  Natter__OnlineStatus status = NATTER__ONLINE_STATUS__INIT;
  Natter__OnlineStatus *statuses[] = { &status };
  Natter__OnlineStatusResult online = NATTER__ONLINE_STATUS_RESULT__INIT;
  Natter__UserProfile user = NATTER__USER_PROFILE__INIT;
  Natter__UserProfile *users[] = { &user };
  Natter__GroupProfile group = NATTER__GROUP_PROFILE__INIT;
  Natter__GroupProfile *groups[] = { &group };
  Natter__ProfileResult profile = NATTER__PROFILE_RESULT__INIT;

  history.n_messages = 2;
  history.messages = messages;
  history.has_more = TRUE;
  conversation.conversation_type = 1;
  conversation.target_id = (char *) "bob";
  conversation.latest_message = &m1;
  conversation.unread_count = 3;
  conversation.pinned = TRUE;
  list.n_conversations = 1;
  list.conversations = conversations;
  list.next_cursor = (char *) "c2";
  join.n_messages = 2;
  join.messages = messages;
  join.member_count = 7;
  recall_command = text_message ("{\"messageUId\":\"BC3D-4F5G-6H7J-8K9L\",\"conversationType\":1,"
                                 "\"targetId\":\"bob\",\"sentTime\":1484621850284}");
  recall_command.object_name = (char *) NATTER_OBJECT_RECALL_COMMAND;
  recall.recall_command = &recall_command;
  turn.username = (char *) "1700000600:alice";
  turn.password = (char *) "dGVzdA==";
  turn.ttl = 600;
  turn.n_uris = 1;
  turn.uris = uris;
  status.user_id = (char *) "bob";
  status.online = TRUE;
  status.platform = (char *) "linux";
  online.n_statuses = 1;
  online.statuses = statuses;
  user.id = (char *) "alice";
  user.name = (char *) "爱丽丝 Alice";
  user.portrait_uri = (char *) "https://example.com/alice.png";
  group.id = (char *) "group_1";
  group.name = (char *) "产品组";
  group.member_count = 12;
  profile.n_users = 1;
  profile.users = users;
  profile.n_groups = 1;
  profile.groups = groups;

  for (int payload = NATTER__RESULT__PAYLOAD_HISTORY;
       payload <= NATTER__RESULT__PAYLOAD_PROFILE;
       payload++)
    {
      NatterFrame frame = NATTER__FRAME__INIT;
      Natter__Result result = NATTER__RESULT__INIT;
      g_autoptr(NatterFrame) decoded = NULL;

      result.request_id = 7;
      result.payload_case = payload;
      switch (payload)
        {
        case NATTER__RESULT__PAYLOAD_HISTORY: result.history = &history; break;
        case NATTER__RESULT__PAYLOAD_CONVERSATION_LIST: result.conversation_list = &list; break;
        case NATTER__RESULT__PAYLOAD_CHATROOM_JOIN: result.chatroom_join = &join; break;
        case NATTER__RESULT__PAYLOAD_RECALL: result.recall = &recall; break;
        case NATTER__RESULT__PAYLOAD_TURN_CREDENTIALS: result.turn_credentials = &turn; break;
        case NATTER__RESULT__PAYLOAD_ONLINE_STATUS: result.online_status = &online; break;
        case NATTER__RESULT__PAYLOAD_PROFILE: result.profile = &profile; break;
        default: g_assert_not_reached ();
        }
      frame.body_case = NATTER__FRAME__BODY_RESULT;
      frame.result = &result;

      decoded = round_trip (&frame, NATTER_PEER_SERVER);
      g_assert_cmpint (decoded->result->payload_case, ==, payload);
      if (payload == NATTER__RESULT__PAYLOAD_PROFILE)
        {
          g_assert_cmpstr (decoded->result->profile->users[0]->name, ==, "爱丽丝 Alice");
          g_assert_cmpstr (decoded->result->profile->groups[0]->name, ==, "产品组");
          g_assert_cmpuint (decoded->result->profile->groups[0]->member_count, ==, 12);
        }
    }

  /* An error result carries no payload. */
  {
    NatterFrame frame = NATTER__FRAME__INIT;
    Natter__Result result = NATTER__RESULT__INIT;
    g_autoptr(NatterFrame) decoded = NULL;

    result.request_id = 9;
    result.code = NATTER_CODE_CHATROOM_NOT_EXIST;
    result.error_message = (char *) "Chatroom does not exist";
    frame.body_case = NATTER__FRAME__BODY_RESULT;
    frame.result = &result;
    decoded = round_trip (&frame, NATTER_PEER_SERVER);
    g_assert_cmpint (decoded->result->code, ==, 23410);
  }
}

static void
test_round_trip_control (void)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__Kick kick = NATTER__KICK__INIT;
  Natter__Ping ping = NATTER__PING__INIT;
  Natter__Pong pong = NATTER__PONG__INIT;
  Natter__ChatroomEvent event = NATTER__CHATROOM_EVENT__INIT;
  g_autoptr(NatterFrame) k = NULL;
  g_autoptr(NatterFrame) p1 = NULL;
  g_autoptr(NatterFrame) p2 = NULL;
  g_autoptr(NatterFrame) p3 = NULL;
  g_autoptr(NatterFrame) e = NULL;

  kick.code = NATTER_CODE_KICKED_BY_OTHER_DEVICE;
  kick.error_message = (char *) "Logged in on another device";
  frame.body_case = NATTER__FRAME__BODY_KICK;
  frame.kick = &kick;
  k = round_trip (&frame, NATTER_PEER_SERVER);
  g_assert_cmpint (k->kick->code, ==, 31010);

  /* Ping and pong go both ways. */
  ping.time = 12345;
  frame.body_case = NATTER__FRAME__BODY_PING;
  frame.ping = &ping;
  p1 = round_trip (&frame, NATTER_PEER_CLIENT);
  p2 = round_trip (&frame, NATTER_PEER_SERVER);
  g_assert_cmpint (p2->ping->time, ==, 12345);

  pong.time = 12345;
  frame.body_case = NATTER__FRAME__BODY_PONG;
  frame.pong = &pong;
  p3 = round_trip (&frame, NATTER_PEER_CLIENT);
  g_assert_cmpint (p3->pong->time, ==, 12345);

  event.chatroom_id = (char *) "lobby";
  event.code = NATTER_CODE_CHATROOM_NOT_EXIST;
  frame.body_case = NATTER__FRAME__BODY_CHATROOM_EVENT;
  frame.chatroom_event = &event;
  e = round_trip (&frame, NATTER_PEER_SERVER);
  g_assert_cmpstr (e->chatroom_event->chatroom_id, ==, "lobby");
}

/* ----------------------------------------------------------- rejection */

static GBytes *
valid_publish_bytes (void)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__Publish publish = NATTER__PUBLISH__INIT;

  publish.client_msg_id = (char *) "m-1";
  publish.conversation_type = 1;
  publish.target_id = (char *) "bob";
  publish.object_name = (char *) NATTER_OBJECT_TEXT;
  publish.content = (char *) "{\"content\":\"a reasonably long text so that truncation hits many fields\"}";
  frame.body_case = NATTER__FRAME__BODY_PUBLISH;
  frame.publish = &publish;
  return encode_ok (&frame);
}

static void
test_reject_truncated (void)
{
  g_autoptr(GBytes) bytes = valid_publish_bytes ();
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);

  for (gsize cut = 0; cut < size; cut++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree guint8 *copy = g_memdup2 (data, MAX (cut, 1));
      g_autoptr(NatterFrame) frame = natter_frame_decode (copy, cut, NATTER_PEER_CLIENT, &error);

      g_assert_null (frame);
      g_assert_nonnull (error);
      g_assert_true (g_error_matches (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_MALFORMED) ||
                     g_error_matches (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_EMPTY));
    }
}

static void
test_reject_oversize (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *big = g_malloc0 (NATTER_FRAME_MAX_SIZE + 1);
  g_autofree char *huge = NULL;
  g_autofree char *content = NULL;
  g_autoptr(NatterFrame) decoded = NULL;
  g_autoptr(GBytes) bytes = NULL;
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__Publish publish = NATTER__PUBLISH__INIT;

  decoded = natter_frame_decode (big, NATTER_FRAME_MAX_SIZE + 1, NATTER_PEER_CLIENT, &error);
  g_assert_null (decoded);
  g_assert_error (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_TOO_LARGE);
  g_assert_cmpint (natter_proto_error_to_code (error), ==, NATTER_CODE_MESSAGE_TOO_LARGE);
  g_clear_error (&error);

  /* The encoder refuses to produce what the peer would refuse. */
  huge = g_strnfill (NATTER_FRAME_MAX_SIZE, 'x');
  publish.client_msg_id = (char *) "m-1";
  publish.conversation_type = 1;
  publish.target_id = (char *) "bob";
  publish.object_name = (char *) NATTER_OBJECT_TEXT;
  publish.content = huge;
  frame.body_case = NATTER__FRAME__BODY_PUBLISH;
  frame.publish = &publish;
  bytes = natter_frame_encode (&frame, &error);
  g_assert_null (bytes);
  g_assert_error (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_TOO_LARGE);
  g_clear_error (&error);

  /* Content over 128 KiB in a frame under 1 MiB: answerable as 30016. */
  huge[NATTER_CONTENT_MAX_SIZE] = '\0';
  content = g_strdup_printf ("{\"content\":\"%s\"}", huge);
  publish.content = content;
  assert_rejected (&frame, NATTER_PEER_CLIENT, NATTER_PROTO_ERROR_CONTENT_TOO_LARGE);
  {
    g_autoptr(GBytes) b = encode_ok (&frame);
    g_autoptr(NatterFrame) unpacked = natter_frame_unpack (g_bytes_get_data (b, NULL), g_bytes_get_size (b), &error);

    g_assert_no_error (error);
    g_assert_false (natter_frame_validate (unpacked, NATTER_PEER_CLIENT, &error));
    g_assert_cmpint (natter_proto_error_to_code (error), ==, NATTER_CODE_MESSAGE_TOO_LARGE);
    /* The frame stays usable for an answer in context. */
    g_assert_cmpstr (unpacked->publish->client_msg_id, ==, "m-1");
  }
}

static void
test_reject_garbage (void)
{
  static const guint8 all_ff[64] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
  };
  /* Field 3 (publish) with wire type varint instead of length-delimited. */
  static const guint8 wrong_wire_type[] = { 0x18, 0x01 };
  /* Field 3 claiming 100 bytes with 2 present. */
  static const guint8 short_length[] = { 0x1a, 0x64, 0x0a, 0x00 };
  /* Deeply nested unknown groups. */
  guint8 nested[4096];
  g_autoptr(GRand) rand = g_rand_new_with_seed (20261126);
  guint rejected = 0;
  const guint rounds = 20000;

  for (gsize i = 0; i < sizeof nested; i++)
    nested[i] = 0x0b; /* start group, field 1 */

  {
    g_autoptr(GError) error = NULL;
    g_assert_null (natter_frame_decode (all_ff, sizeof all_ff, NATTER_PEER_CLIENT, &error));
    g_assert_error (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_MALFORMED);
  }
  {
    g_autoptr(GError) error = NULL;
    g_assert_null (natter_frame_decode (wrong_wire_type, sizeof wrong_wire_type, NATTER_PEER_CLIENT, &error));
    g_assert_error (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_MALFORMED);
  }
  {
    g_autoptr(GError) error = NULL;
    g_assert_null (natter_frame_decode (short_length, sizeof short_length, NATTER_PEER_CLIENT, &error));
    g_assert_error (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_MALFORMED);
  }
  {
    g_autoptr(GError) error = NULL;
    g_assert_null (natter_frame_decode (nested, sizeof nested, NATTER_PEER_CLIENT, &error));
    g_assert_nonnull (error);
  }
  {
    /* Found by natter-fuzz-frame: an unknown field numbered 0 (tag written
     * as the over-long varint 80 00) parsed but could not be re-encoded. */
    static const guint8 field_zero[] = { 0x52, 0x00, 0x80, 0x00, 0x5a, 0x5a, 0x00, 0x5a, 0x00 };
    g_autoptr(GError) error = NULL;
    g_assert_null (natter_frame_decode (field_zero, sizeof field_zero, NATTER_PEER_CLIENT, &error));
    g_assert_error (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_MALFORMED);
  }

  /* Random bytes: never a crash, never a frame that fails re-validation. */
  for (guint round = 0; round < rounds; round++)
    {
      guint8 buffer[256];
      gsize size = g_rand_int_range (rand, 1, sizeof buffer);
      g_autoptr(GError) error = NULL;
      g_autoptr(NatterFrame) frame = NULL;

      for (gsize i = 0; i < size; i++)
        buffer[i] = (guint8) g_rand_int_range (rand, 0, 256);

      frame = natter_frame_decode (buffer, size, round % 2 ? NATTER_PEER_CLIENT : NATTER_PEER_SERVER, &error);
      if (frame == NULL)
        {
          g_assert_nonnull (error);
          g_assert_true (error->domain == NATTER_PROTO_ERROR);
          rejected++;
        }
      else
        {
          g_assert_no_error (error);
        }
    }
  g_assert_cmpuint (rejected, >, rounds * 9 / 10);
}

static void
test_reject_wrong_direction (void)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__ConnectAck ack = NATTER__CONNECT_ACK__INIT;
  Natter__DeliverAck deliver_ack = NATTER__DELIVER_ACK__INIT;
  NatterFrame empty = NATTER__FRAME__INIT;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;

  ack.user_id = (char *) "alice";
  frame.body_case = NATTER__FRAME__BODY_CONNECT_ACK;
  frame.connect_ack = &ack;
  assert_rejected (&frame, NATTER_PEER_CLIENT, NATTER_PROTO_ERROR_WRONG_DIRECTION);

  deliver_ack.seq = 3;
  frame.body_case = NATTER__FRAME__BODY_DELIVER_ACK;
  frame.deliver_ack = &deliver_ack;
  assert_rejected (&frame, NATTER_PEER_SERVER, NATTER_PROTO_ERROR_WRONG_DIRECTION);

  /* A Frame without a body encodes to zero bytes. */
  bytes = encode_ok (&empty);
  g_assert_cmpuint (g_bytes_get_size (bytes), ==, 0);
  g_assert_null (natter_frame_decode (g_bytes_get_data (bytes, NULL), 0, NATTER_PEER_CLIENT, &error));
  g_assert_error (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_EMPTY);
  g_clear_error (&error);

  /* Only unknown fields: parses, but there is no body. */
  {
    static const guint8 unknown_only[] = { 0xa0, 0x06, 0x01 }; /* field 100 varint */
    g_assert_null (natter_frame_decode (unknown_only, sizeof unknown_only, NATTER_PEER_CLIENT, &error));
    g_assert_error (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_EMPTY);
  }
}

static void
test_reject_fields (void)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__Publish publish = NATTER__PUBLISH__INIT;
  static const char bad_utf8[] = "{\"content\":\"\xc3\x28\"}";
  static const char *bad_ids[] = {
    "../../etc/passwd", "x' OR '1'='1", "a b", "bob\n", "用户",
    "0123456789012345678901234567890123456789012345678901234567890123456789",
  };

  publish.client_msg_id = (char *) "m-1";
  publish.conversation_type = 1;
  publish.target_id = (char *) "bob";
  publish.object_name = (char *) NATTER_OBJECT_TEXT;
  publish.content = (char *) "{\"content\":\"hi\"}";
  frame.body_case = NATTER__FRAME__BODY_PUBLISH;
  frame.publish = &publish;

  publish.client_msg_id = (char *) "";
  assert_rejected (&frame, NATTER_PEER_CLIENT, NATTER_PROTO_ERROR_MISSING_FIELD);
  publish.client_msg_id = (char *) "m-1";

  for (guint i = 0; i < G_N_ELEMENTS (bad_ids); i++)
    {
      publish.target_id = (char *) bad_ids[i];
      assert_rejected (&frame, NATTER_PEER_CLIENT,
                       g_utf8_validate (bad_ids[i], -1, NULL) ? NATTER_PROTO_ERROR_INVALID_ID
                                                              : NATTER_PROTO_ERROR_INVALID_UTF8);
    }
  publish.target_id = (char *) "bob";

  publish.conversation_type = 9;
  assert_rejected (&frame, NATTER_PEER_CLIENT, NATTER_PROTO_ERROR_INVALID_VALUE);
  publish.conversation_type = 0;
  assert_rejected (&frame, NATTER_PEER_CLIENT, NATTER_PROTO_ERROR_INVALID_VALUE);
  publish.conversation_type = 1;

  publish.content = (char *) bad_utf8;
  assert_rejected (&frame, NATTER_PEER_CLIENT, NATTER_PROTO_ERROR_INVALID_UTF8);
  publish.content = (char *) "not json";
  assert_rejected (&frame, NATTER_PEER_CLIENT, NATTER_PROTO_ERROR_INVALID_CONTENT);
  publish.content = (char *) "[1,2]";
  assert_rejected (&frame, NATTER_PEER_CLIENT, NATTER_PROTO_ERROR_INVALID_CONTENT);
  publish.content = (char *) "";
  assert_rejected (&frame, NATTER_PEER_CLIENT, NATTER_PROTO_ERROR_MISSING_FIELD);
  publish.content = (char *) "{\"content\":\"hi\"}";

  publish.object_name = (char *) "RC:Txt Msg";
  assert_rejected (&frame, NATTER_PEER_CLIENT, NATTER_PROTO_ERROR_INVALID_VALUE);
  publish.object_name = (char *) "RC:AVeryLongObjectNameThatNobodyUses";
  assert_rejected (&frame, NATTER_PEER_CLIENT, NATTER_PROTO_ERROR_INVALID_VALUE);
}

/* ProfileRequest / ProfileResult limits: at least one id, at most 100 of
 * each kind, every id well-formed; names and portraits bounded and UTF-8. */
static void
test_reject_profile (void)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__ProfileRequest request = NATTER__PROFILE_REQUEST__INIT;
  char *ids[NATTER_PROFILE_MAX_IDS + 1];
  char *bad[] = { (char *) "alice", (char *) "x' OR '1'='1" };
  NatterFrame reply = NATTER__FRAME__INIT;
  Natter__Result result = NATTER__RESULT__INIT;
  Natter__ProfileResult profile = NATTER__PROFILE_RESULT__INIT;
  Natter__UserProfile user = NATTER__USER_PROFILE__INIT;
  Natter__UserProfile *users[] = { &user };
  g_autofree char *long_name = g_strnfill (NATTER_NAME_MAX_LENGTH + 1, 'n');
  g_autofree char *long_portrait = g_strnfill (NATTER_PORTRAIT_MAX_LENGTH + 1, 'p');

  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    ids[i] = g_strdup_printf ("u%u", i);

  query.request_id = 1;
  query.method_case = NATTER__QUERY__METHOD_PROFILE;
  query.profile = &request;
  frame.body_case = NATTER__FRAME__BODY_QUERY;
  frame.query = &query;

  assert_rejected (&frame, NATTER_PEER_CLIENT, NATTER_PROTO_ERROR_MISSING_FIELD);

  request.n_user_ids = NATTER_PROFILE_MAX_IDS;
  request.user_ids = ids;
  request.n_group_ids = NATTER_PROFILE_MAX_IDS;
  request.group_ids = ids;
  g_assert_true (natter_frame_validate (&frame, NATTER_PEER_CLIENT, NULL));
  request.n_user_ids = NATTER_PROFILE_MAX_IDS + 1;
  assert_rejected (&frame, NATTER_PEER_CLIENT, NATTER_PROTO_ERROR_INVALID_VALUE);
  request.n_user_ids = 0;
  request.n_group_ids = NATTER_PROFILE_MAX_IDS + 1;
  assert_rejected (&frame, NATTER_PEER_CLIENT, NATTER_PROTO_ERROR_INVALID_VALUE);
  request.n_group_ids = G_N_ELEMENTS (bad);
  request.group_ids = bad;
  assert_rejected (&frame, NATTER_PEER_CLIENT, NATTER_PROTO_ERROR_INVALID_ID);
  request.n_group_ids = 0;
  request.n_user_ids = G_N_ELEMENTS (bad);
  request.user_ids = bad;
  assert_rejected (&frame, NATTER_PEER_CLIENT, NATTER_PROTO_ERROR_INVALID_ID);
  /* A client never sends results. */
  result.request_id = 1;
  result.payload_case = NATTER__RESULT__PAYLOAD_PROFILE;
  result.profile = &profile;
  reply.body_case = NATTER__FRAME__BODY_RESULT;
  reply.result = &result;
  assert_rejected (&reply, NATTER_PEER_CLIENT, NATTER_PROTO_ERROR_WRONG_DIRECTION);

  profile.n_users = 1;
  profile.users = users;
  user.id = (char *) "alice";
  user.name = (char *) "Alice";
  g_assert_true (natter_frame_validate (&reply, NATTER_PEER_SERVER, NULL));
  user.name = long_name;
  assert_rejected (&reply, NATTER_PEER_SERVER, NATTER_PROTO_ERROR_INVALID_VALUE);
  user.name = (char *) "\xc3\x28";
  assert_rejected (&reply, NATTER_PEER_SERVER, NATTER_PROTO_ERROR_INVALID_UTF8);
  user.name = (char *) "Alice";
  user.portrait_uri = long_portrait;
  assert_rejected (&reply, NATTER_PEER_SERVER, NATTER_PROTO_ERROR_INVALID_VALUE);
  user.portrait_uri = (char *) "";
  user.id = (char *) "../alice";
  assert_rejected (&reply, NATTER_PEER_SERVER, NATTER_PROTO_ERROR_INVALID_ID);

  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    g_free (ids[i]);
}

/* OnlineStatusRequest: 1..100 users, at most 100 devices asked about,
 * every id well-formed. */
static void
test_reject_online_status (void)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__OnlineStatusRequest request = NATTER__ONLINE_STATUS_REQUEST__INIT;
  char *ids[NATTER_ONLINE_STATUS_MAX_USERS + 1];
  char *users[] = { (char *) "bob" };
  char *bad[] = { (char *) "phone-1", (char *) "x' OR '1'='1" };

  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    ids[i] = g_strdup_printf ("d%u", i);

  query.request_id = 1;
  query.method_case = NATTER__QUERY__METHOD_ONLINE_STATUS;
  query.online_status = &request;
  frame.body_case = NATTER__FRAME__BODY_QUERY;
  frame.query = &query;

  assert_rejected (&frame, NATTER_PEER_CLIENT, NATTER_PROTO_ERROR_MISSING_FIELD);
  request.n_user_ids = 1;
  request.user_ids = users;
  g_assert_true (natter_frame_validate (&frame, NATTER_PEER_CLIENT, NULL));
  request.n_device_ids = NATTER_ONLINE_STATUS_MAX_USERS;
  request.device_ids = ids;
  g_assert_true (natter_frame_validate (&frame, NATTER_PEER_CLIENT, NULL));
  request.n_device_ids = NATTER_ONLINE_STATUS_MAX_USERS + 1;
  assert_rejected (&frame, NATTER_PEER_CLIENT, NATTER_PROTO_ERROR_INVALID_VALUE);
  request.n_device_ids = G_N_ELEMENTS (bad);
  request.device_ids = bad;
  assert_rejected (&frame, NATTER_PEER_CLIENT, NATTER_PROTO_ERROR_INVALID_ID);

  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    g_free (ids[i]);
}

static void
test_reject_nested (void)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__Result result = NATTER__RESULT__INIT;
  Natter__HistoryResult history = NATTER__HISTORY_RESULT__INIT;
  Natter__Message good = text_message ("{\"content\":\"ok\"}");
  Natter__Message bad = text_message ("{\"content\":\"ok\"}");
  Natter__Message *messages[] = { &good, &bad };
  Natter__Deliver deliver = NATTER__DELIVER__INIT;
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__HistoryRequest history_request = NATTER__HISTORY_REQUEST__INIT;
  Natter__ChatroomJoinRequest join = NATTER__CHATROOM_JOIN_REQUEST__INIT;
  Natter__DeliverAck ack = NATTER__DELIVER_ACK__INIT;

  /* The server is not trusted either: a bad message deep in a result. */
  bad.sender_user_id = (char *) "\xff\xfe";
  history.n_messages = 2;
  history.messages = messages;
  result.request_id = 1;
  result.payload_case = NATTER__RESULT__PAYLOAD_HISTORY;
  result.history = &history;
  frame.body_case = NATTER__FRAME__BODY_RESULT;
  frame.result = &result;
  assert_rejected (&frame, NATTER_PEER_SERVER, NATTER_PROTO_ERROR_INVALID_UTF8);

  bad.sender_user_id = (char *) "eve/../../x";
  assert_rejected (&frame, NATTER_PEER_SERVER, NATTER_PROTO_ERROR_INVALID_ID);

  /* Deliver without a message. */
  frame.body_case = NATTER__FRAME__BODY_DELIVER;
  frame.deliver = &deliver;
  assert_rejected (&frame, NATTER_PEER_SERVER, NATTER_PROTO_ERROR_MISSING_FIELD);

  /* Query limits. */
  history_request.conversation_type = 1;
  history_request.target_id = (char *) "bob";
  history_request.count = 21;
  query.request_id = 5;
  query.method_case = NATTER__QUERY__METHOD_HISTORY;
  query.history = &history_request;
  frame.body_case = NATTER__FRAME__BODY_QUERY;
  frame.query = &query;
  assert_rejected (&frame, NATTER_PEER_CLIENT, NATTER_PROTO_ERROR_INVALID_VALUE);
  history_request.count = 1;
  assert_rejected (&frame, NATTER_PEER_CLIENT, NATTER_PROTO_ERROR_INVALID_VALUE);
  history_request.count = 2;
  query.request_id = 0;
  assert_rejected (&frame, NATTER_PEER_CLIENT, NATTER_PROTO_ERROR_MISSING_FIELD);

  query.request_id = 6;
  join.chatroom_id = (char *) "lobby";
  join.count = 51;
  query.method_case = NATTER__QUERY__METHOD_CHATROOM_JOIN;
  query.chatroom_join = &join;
  assert_rejected (&frame, NATTER_PEER_CLIENT, NATTER_PROTO_ERROR_INVALID_VALUE);
  join.count = -2;
  assert_rejected (&frame, NATTER_PEER_CLIENT, NATTER_PROTO_ERROR_INVALID_VALUE);

  frame.body_case = NATTER__FRAME__BODY_DELIVER_ACK;
  frame.deliver_ack = &ack;
  assert_rejected (&frame, NATTER_PEER_CLIENT, NATTER_PROTO_ERROR_MISSING_FIELD);
}

static void
test_ids (void)
{
  g_assert_true (natter_id_is_valid ("alice"));
  g_assert_true (natter_id_is_valid ("u_1999"));
  g_assert_true (natter_id_is_valid ("a.b@c=d+e-f"));
  g_assert_true (natter_id_is_valid ("0123456789012345678901234567890123456789012345678901234567890123"));
  g_assert_false (natter_id_is_valid ("01234567890123456789012345678901234567890123456789012345678901234"));
  g_assert_false (natter_id_is_valid (""));
  g_assert_false (natter_id_is_valid (NULL));
  g_assert_false (natter_id_is_valid ("a/b"));
  g_assert_false (natter_id_is_valid ("a;DROP TABLE users"));
}

static void
test_object_name_flags (void)
{
  const guint pc = NATTER_MESSAGE_FLAG_PERSISTED | NATTER_MESSAGE_FLAG_COUNTED;

  g_assert_cmpuint (natter_object_name_flags (NATTER_OBJECT_TEXT, 0), ==, pc);
  g_assert_cmpuint (natter_object_name_flags (NATTER_OBJECT_TEXT, NATTER_MESSAGE_FLAG_STATUS), ==, pc);
  g_assert_cmpuint (natter_object_name_flags (NATTER_OBJECT_TYPING_STATUS, pc), ==, NATTER_MESSAGE_FLAG_STATUS);
  g_assert_cmpuint (natter_object_name_flags (NATTER_OBJECT_CALL_INVITE, 0), ==, NATTER_MESSAGE_FLAG_STATUS);
  g_assert_cmpuint (natter_object_name_flags (NATTER_OBJECT_CALL_SUMMARY, 0), ==, pc);
  g_assert_cmpuint (natter_object_name_flags (NATTER_OBJECT_INFO_NOTIFICATION, 0), ==, NATTER_MESSAGE_FLAG_PERSISTED);
  g_assert_cmpuint (natter_object_name_flags (NATTER_OBJECT_COMMAND, pc), ==, NATTER_MESSAGE_FLAG_NONE);
  g_assert_true (natter_object_name_is_known (NATTER_OBJECT_SYNC_READ_STATUS));

  /* Custom object names travel with their sender's flags, cleaned up. */
  g_assert_false (natter_object_name_is_known ("App:Poll"));
  g_assert_cmpuint (natter_object_name_flags ("App:Poll", pc), ==, pc);
  g_assert_cmpuint (natter_object_name_flags ("App:Poll", 0xff), ==, NATTER_MESSAGE_FLAG_STATUS);
  g_assert_cmpuint (natter_object_name_flags ("App:Poll", NATTER_MESSAGE_FLAG_COUNTED), ==, 0);
}

static void
test_codes (void)
{
  g_assert_cmpstr (natter_code_to_string (31004), ==, "Token incorrect");
  g_assert_cmpstr (natter_code_to_string (22408), ==, "Gagged in group");
  g_assert_cmpstr (natter_code_to_string (1004), ==, "Signature error");
  g_assert_cmpstr (natter_code_to_string (-5), ==, "Unknown error");
}

/* json-glib recurses per level: 80 KB of '[' used to overflow its stack.
 * The bound is checked before it parses, on both sides of the wire. */
static void
test_reject_deep_json (void)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__Publish publish = NATTER__PUBLISH__INIT;
  Natter__Deliver deliver = NATTER__DELIVER__INIT;
  g_autoptr(GString) deep = g_string_new ("{\"a\":");
  g_autoptr(GString) limit = g_string_new ("{\"a\":");
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  Natter__Message message;

  for (guint i = 0; i < 80000; i++)
    g_string_append_c (deep, '[');
  g_assert_cmpuint (deep->len, <, NATTER_CONTENT_MAX_SIZE);

  /* 32 levels with the object itself; brackets in strings do not count. */
  for (guint i = 1; i < NATTER_JSON_MAX_DEPTH; i++)
    g_string_append_c (limit, '[');
  g_string_append (limit, "\"[[[{{{\\\"[[\"");
  for (guint i = 1; i < NATTER_JSON_MAX_DEPTH; i++)
    g_string_append_c (limit, ']');
  g_string_append_c (limit, '}');

  g_assert_true (natter_content_is_valid (limit->str, &error));
  g_assert_no_error (error);
  g_assert_true (natter_json_check_depth (limit->str, -1, NATTER_JSON_MAX_DEPTH, NULL));
  g_assert_false (natter_json_check_depth (limit->str, -1, NATTER_JSON_MAX_DEPTH - 1, &error));
  g_assert_error (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_INVALID_CONTENT);
  g_clear_error (&error);

  g_assert_false (natter_content_is_valid (deep->str, &error));
  g_assert_error (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_INVALID_CONTENT);
  g_assert_cmpint (natter_proto_error_to_code (error), ==, NATTER_CODE_INVALID_PARAMETER);
  g_clear_error (&error);

  node = natter_json_parse (deep->str, (gssize) deep->len, &error);
  g_assert_null (node);
  g_assert_error (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_INVALID_CONTENT);
  g_clear_error (&error);

  publish.client_msg_id = (char *) "m-1";
  publish.conversation_type = 1;
  publish.target_id = (char *) "bob";
  publish.object_name = (char *) NATTER_OBJECT_TEXT;
  publish.content = deep->str;
  frame.body_case = NATTER__FRAME__BODY_PUBLISH;
  frame.publish = &publish;
  assert_rejected (&frame, NATTER_PEER_CLIENT, NATTER_PROTO_ERROR_INVALID_CONTENT);

  message = text_message (deep->str);
  deliver.seq = 1;
  deliver.message = &message;
  frame.body_case = NATTER__FRAME__BODY_DELIVER;
  frame.deliver = &deliver;
  assert_rejected (&frame, NATTER_PEER_SERVER, NATTER_PROTO_ERROR_INVALID_CONTENT);
}

/* natter_json_is_object(), the one-pass reading natter_content_is_valid()
 * tries first: it takes what messages carry, and nothing it takes is
 * refused by json-glib (natter_json_parse()) or is not an object there. */
static void
test_json_one_pass (void)
{
  static const char *plain[] = {
    "{}",
    " {\"content\":\"hello\"} \n",
    "{\"content\":\"h\u00e9llo \\ud83d\\ude00 \\\" \\n\",\"extra\":null}",
    "{\"content\":\"\xc3\xa9\",\"mentionedInfo\":{\"type\":2,\"userIdList\":[\"a\",\"b\"]}}",
    "{\"\xe4\xbd\xa0\xe5\xa5\xbd\":\"\xf0\x9f\x98\x80 \xe2\x82\xac\",\"k\":[\"\xc3\xa9\"]}",
    "{\"n\":[0,-0,1.5,-2e10,3E+2,4e-2,12345678901234,true,false,null,[],{}]}",
    "{\"a\":{\"b\":[{\"c\":[]}]},\"a\":1}",
    "{\"big\":1e999,\"long\":-99999999999999999999999,\"nul\":\"\\u0000\",\"\":\"\\/\"}",
  };
  static const char *strict_no[] = {
    "", " ", "[]", "\"s\"", "1", "{", "}", "{}{}", "{} x", "{\"a\"}", "{\"a\":}",
    "{\"a\":1,}", "{,}", "[1,]", "{\"a\":[1 2]}", "{\"a\" 1}", "{a:1}", "{'a':1}",
    "{\"a\":'b'}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":+1}", "{\"a\":1e}",
    "{\"a\":-}", "{\"a\":0x10}", "{\"a\":tru}", "{\"a\":nul}", "{\"a\":True}",
    "{\"a\":\"\\x41\"}", "{\"a\":\"\\101\"}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}",
    "{\"a\":\"\\ud800\\u0041\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"tab\there\"}",
    "{\"a\":\"line\nbreak\"}", "{\"a\":\"\xff\"}", "{\"a\":\"open}", "{\"a\":1 /* c */}",
    "{\"a\":[}", "{\"a\":{]}", "{\"a\":[1]]}", "\xef\xbb\xbf{}",
    /* Not UTF-8 in a key or a value (overlong, a surrogate, cut short,
     * past U+10FFFF), or any byte past ASCII outside a string. */
    "{\"\xff\":1}", "{\"a\":\"\xc0\xaf\"}", "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xe2\x82\"}",
    "{\"a\":\"\xf4\x90\x80\x80\"}", "{\"a\":\"\xc3\"}", "{\"a\":1\xc2\xa0}", "{\xc2\xa0\"a\":1}",
  };
  g_autoptr(GString) limit = g_string_new ("{\"a\":");
  g_autoptr(GString) past = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (plain); i++)
    {
      g_autoptr(JsonNode) node = natter_json_parse (plain[i], -1, NULL);

      g_test_message ("%s", plain[i]);
      g_assert_true (natter_json_is_object (plain[i], -1));
      g_assert_nonnull (node);
      g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
      g_assert_true (natter_content_is_valid (plain[i], NULL));
    }

  for (guint i = 0; i < G_N_ELEMENTS (strict_no); i++)
    {
      g_test_message ("%s", strict_no[i]);
      g_assert_false (natter_json_is_object (strict_no[i], -1));
    }
  /* The length given is the text: what follows is not read. */
  g_assert_true (natter_json_is_object ("{}garbage", 2));
  g_assert_false (natter_json_is_object ("{\"a\":1}", 6));

  for (guint i = 1; i < NATTER_JSON_MAX_DEPTH; i++)
    g_string_append_c (limit, '[');
  for (guint i = 1; i < NATTER_JSON_MAX_DEPTH; i++)
    g_string_append_c (limit, ']');
  g_string_append_c (limit, '}');
  g_assert_true (natter_json_is_object (limit->str, -1));
  past = g_string_new (limit->str);
  g_string_insert (past, 5, "[");
  g_string_insert (past, past->len - 1, "]");
  g_assert_false (natter_json_is_object (past->str, -1));
  g_assert_null (natter_json_parse (past->str, -1, NULL));
}

/* Every count a Query carries is bounded, at the limit and one past it. */
static void
test_reject_query_caps (void)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__ConversationListRequest list = NATTER__CONVERSATION_LIST_REQUEST__INIT;
  Natter__HistoryRequest history = NATTER__HISTORY_REQUEST__INIT;
  Natter__ChatroomJoinRequest join = NATTER__CHATROOM_JOIN_REQUEST__INIT;
  int32_t types[NATTER_CONVERSATION_LIST_MAX_TYPES + 1];
  g_autofree char *long_cursor = g_strnfill (257, 'c');

  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    types[i] = (int32_t) (i % 8) + 1;

  query.request_id = 7;
  query.method_case = NATTER__QUERY__METHOD_CONVERSATION_LIST;
  query.conversation_list = &list;
  frame.body_case = NATTER__FRAME__BODY_QUERY;
  frame.query = &query;

  list.types = types;
  list.n_types = NATTER_CONVERSATION_LIST_MAX_TYPES;
  list.limit = NATTER_CONVERSATION_LIST_MAX_LIMIT;
  g_assert_true (natter_frame_validate (&frame, NATTER_PEER_CLIENT, NULL));
  list.n_types = NATTER_CONVERSATION_LIST_MAX_TYPES + 1;
  assert_rejected (&frame, NATTER_PEER_CLIENT, NATTER_PROTO_ERROR_INVALID_VALUE);
  list.n_types = 1;
  list.limit = NATTER_CONVERSATION_LIST_MAX_LIMIT + 1;
  assert_rejected (&frame, NATTER_PEER_CLIENT, NATTER_PROTO_ERROR_INVALID_VALUE);
  list.limit = 0;
  list.cursor = long_cursor;
  assert_rejected (&frame, NATTER_PEER_CLIENT, NATTER_PROTO_ERROR_INVALID_VALUE);

  query.method_case = NATTER__QUERY__METHOD_HISTORY;
  query.history = &history;
  history.conversation_type = 1;
  history.target_id = (char *) "bob";
  history.count = NATTER_HISTORY_MAX_COUNT;
  g_assert_true (natter_frame_validate (&frame, NATTER_PEER_CLIENT, NULL));
  history.count = NATTER_HISTORY_MAX_COUNT + 1;
  assert_rejected (&frame, NATTER_PEER_CLIENT, NATTER_PROTO_ERROR_INVALID_VALUE);

  query.method_case = NATTER__QUERY__METHOD_CHATROOM_JOIN;
  query.chatroom_join = &join;
  join.chatroom_id = (char *) "lobby";
  join.count = NATTER_CHATROOM_JOIN_MAX_COUNT;
  g_assert_true (natter_frame_validate (&frame, NATTER_PEER_CLIENT, NULL));
  join.count = NATTER_CHATROOM_JOIN_MAX_COUNT + 1;
  assert_rejected (&frame, NATTER_PEER_CLIENT, NATTER_PROTO_ERROR_INVALID_VALUE);
}

/* A refused Publish may have had an invalid client_msg_id: its PublishAck
 * echoes it (so the client can match it), and a client's decoder takes
 * that ack instead of dropping it. An accepted one carries a valid id. */
static void
test_publish_ack_refusal (void)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__PublishAck ack = NATTER__PUBLISH_ACK__INIT;
  g_autofree char *longest = g_strnfill (NATTER_PUBLISH_ACK_ID_MAX_LENGTH, 'x');
  g_autofree char *too_long = g_strnfill (NATTER_PUBLISH_ACK_ID_MAX_LENGTH + 1, 'x');
  const char *echoed[] = { "", "bad id/", "用户", longest };

  frame.body_case = NATTER__FRAME__BODY_PUBLISH_ACK;
  frame.publish_ack = &ack;
  ack.code = NATTER_CODE_INVALID_PARAMETER;
  for (guint i = 0; i < G_N_ELEMENTS (echoed); i++)
    {
      g_autoptr(NatterFrame) decoded = NULL;

      ack.client_msg_id = (char *) echoed[i];
      decoded = round_trip (&frame, NATTER_PEER_SERVER);
      g_assert_cmpstr (decoded->publish_ack->client_msg_id, ==, echoed[i]);
    }
  ack.client_msg_id = too_long;
  assert_rejected (&frame, NATTER_PEER_SERVER, NATTER_PROTO_ERROR_INVALID_VALUE);

  ack.code = NATTER_CODE_OK;
  ack.client_msg_id = (char *) "bad id/";
  assert_rejected (&frame, NATTER_PEER_SERVER, NATTER_PROTO_ERROR_INVALID_ID);
  ack.client_msg_id = (char *) "";
  assert_rejected (&frame, NATTER_PEER_SERVER, NATTER_PROTO_ERROR_MISSING_FIELD);
}

static JsonObject *
parse_object (const char *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = natter_json_parse (text, -1, &error);

  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  return json_object_ref (json_node_get_object (node));
}

static char *
assert_preview (const char *object_name,
                const char *content)
{
  char *preview = natter_content_preview (object_name, content, strlen (content), strlen (content));

  g_assert_nonnull (preview);
  g_assert_cmpuint (strlen (preview), <=, NATTER_PREVIEW_MAX_SIZE);
  g_assert_true (natter_content_is_valid (preview, NULL));
  return preview;
}

/* Latest messages in a conversation list: at most 1 KiB each, valid JSON
 * objects with what a preview line shows. */
static void
test_preview (void)
{
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(GString) content = NULL;
  g_autofree char *preview = NULL;
  g_autoptr(JsonObject) object = NULL;
  const char *small = "{\"content\":\"hi\",\"user\":{\"id\":\"bob\"}}";
  gint64 start;

  /* Small content is its own preview. */
  g_assert_null (natter_content_preview (NATTER_OBJECT_TEXT, small, strlen (small), strlen (small)));

  /* 128 KiB of text: cut at a character, with the small members kept. */
  while (text->len < NATTER_CONTENT_MAX_SIZE - 200)
    g_string_append (text, "会议 at 10, \\\"ok\\\"\\n ");
  content = g_string_new (NULL);
  g_string_printf (content, "{\"content\":\"%s\",\"extra\":\"x\",\"user\":{\"id\":\"bob\",\"name\":\"Bob\"},"
                            "\"mentionedInfo\":{\"type\":1}}", text->str);
  g_assert_true (natter_content_is_valid (content->str, NULL));
  preview = assert_preview (NATTER_OBJECT_TEXT, content->str);
  object = parse_object (preview);
  g_assert_true (g_str_has_prefix (json_object_get_string_member (object, "content"), "会议 at 10, \"ok\"\n 会议"));
  g_assert_cmpuint (strlen (json_object_get_string_member (object, "content")), >=, 400);
  g_assert_cmpstr (json_object_get_string_member (object, "extra"), ==, "x");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (object, "user"), "name"), ==, "Bob");
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (object, "mentionedInfo"), "type"), ==, 1);
  g_clear_pointer (&preview, g_free);
  g_clear_pointer (&object, json_object_unref);

  /* The same text as an image's thumbnail or voice data: left out. */
  g_string_printf (content, "{\"content\":\"%s\",\"imageUri\":\"http://h/m/1.jpg\"}", text->str);
  preview = assert_preview (NATTER_OBJECT_IMAGE, content->str);
  object = parse_object (preview);
  g_assert_false (json_object_has_member (object, "content"));
  g_assert_cmpstr (json_object_get_string_member (object, "imageUri"), ==, "http://h/m/1.jpg");
  g_clear_pointer (&preview, g_free);
  g_clear_pointer (&object, json_object_unref);

  g_string_printf (content, "{\"content\":\"%s\",\"duration\":7}", text->str);
  preview = assert_preview (NATTER_OBJECT_VOICE, content->str);
  g_assert_cmpstr (preview, ==, "{\"duration\":7}");
  g_clear_pointer (&preview, g_free);

  /* Big nested values, huge keys and too many members stay out; a custom
   * object name keeps its scalars. */
  g_string_printf (content, "{\"big\":[\"%s\"],\"%s\":1,\"n\":-1.5e3,\"ok\":true,\"nothing\":null",
                   text->str, "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk");
  for (guint i = 0; i < 100; i++)
    g_string_append_printf (content, ",\"m%u\":%u", i, i);
  g_string_append_c (content, '}');
  preview = assert_preview ("App:Poll", content->str);
  object = parse_object (preview);
  g_assert_false (json_object_has_member (object, "big"));
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (object, "n"), -1500.0, 0.001);
  g_assert_true (json_object_get_boolean_member (object, "ok"));
  g_assert_true (json_object_get_null_member (object, "nothing"));
  g_assert_true (json_object_has_member (object, "m0"));
  g_assert_false (json_object_has_member (object, "m99"));
  g_clear_pointer (&preview, g_free);
  g_clear_pointer (&object, json_object_unref);

  /* Every cut position through escapes, surrogate pairs and 4-byte UTF-8
   * gives valid JSON without half a character. */
  for (guint pad = 0; pad < 16; pad++)
    {
      g_autofree char *padding = g_strnfill (pad, 'a');
      g_autoptr(GString) tricky = g_string_new (NULL);
      const char *kept;

      g_string_printf (tricky, "{\"content\":\"%s", padding);
      while (tricky->len < 4096)
        g_string_append (tricky, "\\ud83d\\ude00😀\\\\\\\"\\u00e9");
      g_string_append (tricky, "\"}");
      g_assert_true (natter_content_is_valid (tricky->str, NULL));
      preview = assert_preview (NATTER_OBJECT_TEXT, tricky->str);
      object = parse_object (preview);
      kept = json_object_get_string_member (object, "content");
      g_assert_true (g_utf8_validate (kept, -1, NULL));
      g_assert_cmpuint (strlen (kept), >, 128);
      g_assert_null (strstr (kept, "\xef\xbf\xbd"));  /* no U+FFFD from a split pair */
      g_clear_pointer (&preview, g_free);
      g_clear_pointer (&object, json_object_unref);
    }

  /* Not an object (stored data is checked when sent; this is a guard). */
  g_string_printf (content, "[\"%s\"]", text->str);
  preview = assert_preview (NATTER_OBJECT_TEXT, content->str);
  g_assert_cmpstr (preview, ==, "{}");
  g_clear_pointer (&preview, g_free);
  g_string_printf (content, "{\"content\":\"%s", text->str);
  preview = assert_preview (NATTER_OBJECT_TEXT, content->str);
  g_assert_cmpstr (preview, ==, "{}");
  g_clear_pointer (&preview, g_free);

  /* From the start of it only (what a store reads cheaply): the members
   * that begin there, a string cut at its end, a number cut there left
   * out; cut anywhere, a valid object. */
  g_string_printf (content, "{\"n\":1,\"content\":\"%s\",\"user\":{\"id\":\"bob\"}}", text->str);
  preview = natter_content_preview (NATTER_OBJECT_TEXT, content->str, 4096, content->len);
  object = parse_object (preview);
  g_assert_cmpint (json_object_get_int_member (object, "n"), ==, 1);
  g_assert_true (g_str_has_prefix (json_object_get_string_member (object, "content"), "会议 at 10"));
  g_assert_false (json_object_has_member (object, "user"));
  g_clear_pointer (&preview, g_free);
  g_clear_pointer (&object, json_object_unref);
  for (gsize cut = 0; cut < 40; cut++)
    {
      preview = natter_content_preview (NATTER_OBJECT_TEXT, content->str, cut, content->len);
      g_assert_nonnull (preview);
      g_assert_true (natter_content_is_valid (preview, NULL));
      if (cut < strlen ("{\"n\":1,"))
        g_assert_cmpstr (preview, ==, "{}");
      g_clear_pointer (&preview, g_free);
    }

  /* Linear, without parsing the whole text: 1,000 of them. */
  g_string_printf (content, "{\"content\":\"%s\",\"user\":{\"id\":\"bob\"}}", text->str);
  start = g_get_monotonic_time ();
  for (guint i = 0; i < 1000; i++)
    g_free (natter_content_preview (NATTER_OBJECT_TEXT, content->str, content->len, content->len));
  g_test_message ("1000 previews of %u KiB: %.1f ms", (guint) (content->len / 1024),
                  (double) (g_get_monotonic_time () - start) / 1000);
}

/* The preview flag belongs to conversation lists, with content that fits
 * it; anywhere else (a Deliver, history) a frame carrying it is refused. */
static void
test_reject_preview_flag (void)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__Result result = NATTER__RESULT__INIT;
  Natter__ConversationListResult list = NATTER__CONVERSATION_LIST_RESULT__INIT;
  Natter__Conversation conversation = NATTER__CONVERSATION__INIT;
  Natter__Conversation *conversations[] = { &conversation };
  Natter__HistoryResult history = NATTER__HISTORY_RESULT__INIT;
  Natter__Deliver deliver = NATTER__DELIVER__INIT;
  g_autofree char *big_text = g_strnfill (NATTER_PREVIEW_MAX_SIZE, 'x');
  g_autofree char *big = g_strdup_printf ("{\"content\":\"%s\"}", big_text);
  Natter__Message message = text_message ("{\"content\":\"hi\"}");
  Natter__Message *messages[] = { &message };

  message.flags |= NATTER_MESSAGE_FLAG_PREVIEW;
  conversation.conversation_type = 1;
  conversation.target_id = (char *) "alice";
  conversation.latest_message = &message;
  list.n_conversations = 1;
  list.conversations = conversations;
  result.request_id = 3;
  result.payload_case = NATTER__RESULT__PAYLOAD_CONVERSATION_LIST;
  result.conversation_list = &list;
  frame.body_case = NATTER__FRAME__BODY_RESULT;
  frame.result = &result;
  g_assert_true (natter_frame_validate (&frame, NATTER_PEER_SERVER, NULL));
  message.content = big;
  assert_rejected (&frame, NATTER_PEER_SERVER, NATTER_PROTO_ERROR_INVALID_VALUE);
  /* Unflagged, the whole message may be there. */
  message.flags &= ~NATTER_MESSAGE_FLAG_PREVIEW;
  g_assert_true (natter_frame_validate (&frame, NATTER_PEER_SERVER, NULL));
  message.content = (char *) "{\"content\":\"hi\"}";
  message.flags |= NATTER_MESSAGE_FLAG_PREVIEW;

  history.n_messages = 1;
  history.messages = messages;
  result.payload_case = NATTER__RESULT__PAYLOAD_HISTORY;
  result.history = &history;
  assert_rejected (&frame, NATTER_PEER_SERVER, NATTER_PROTO_ERROR_INVALID_VALUE);

  deliver.seq = 1;
  deliver.message = &message;
  frame.body_case = NATTER__FRAME__BODY_DELIVER;
  frame.deliver = &deliver;
  assert_rejected (&frame, NATTER_PEER_SERVER, NATTER_PROTO_ERROR_INVALID_VALUE);
}

/* The word-at-a-time scans (#17) see every byte of every eight: a
 * quote, a backslash, a control character or bytes that are not UTF-8 at
 * any place of a string's words, and text that is fine there, read as the
 * byte loop read them. */
static void
test_json_word_at_a_time (void)
{
  static const struct { const char *bytes; gboolean json; gboolean utf8; } cases[] = {
    { "\x01", FALSE, TRUE }, { "\x1f", FALSE, TRUE }, { "\"", FALSE, TRUE }, { "\\q", FALSE, TRUE },
    { "\xff", FALSE, FALSE }, { "\xc3" "a", FALSE, FALSE }, { "\xed\xa0\x80", FALSE, FALSE },
    { " ", TRUE, TRUE }, { "\x7f", TRUE, TRUE }, { "\\\"", TRUE, TRUE }, { "\\u00e9", TRUE, TRUE },
    { "\xc3\xa9", TRUE, TRUE }, { "\xe4\xbd\xa0\xe5\xa5\xbd", TRUE, TRUE }, { "\xf0\x9f\x98\x80", TRUE, TRUE },
  };

  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    for (guint at = 0; at < 26; at++)
      {
        g_autoptr(GString) text = g_string_new (NULL);
        g_autofree char *content = NULL;
        g_autofree char *wide = NULL;

        g_string_append_len (text, "abcdefghijklmnopqrstuvwxyz", at);
        g_string_append (text, cases[c].bytes);
        g_string_append (text, "ABCDEFGHIJKLMNOPQRSTUVWXYZ" + at);
        content = g_strdup_printf ("{\"k\":\"%s\"}", text->str);
        g_assert_cmpint (natter_json_is_object (content, -1), ==, cases[c].json);
        g_assert_cmpint (natter_utf8_is_valid (text->str), ==, cases[c].utf8);
        g_assert_cmpint (natter_utf8_is_valid (text->str), ==, g_utf8_validate (text->str, -1, NULL));
        /* Past a first wide character, the rest is read by word too. */
        wide = g_strdup_printf ("{\"k\":\"\xc3\xa9%s\"}", text->str);
        g_assert_cmpint (natter_json_is_object (wide, -1), ==, cases[c].json);
      }
}

/* json-glib's scanner also reads 'single-quoted' strings and C comments,
 * which JSON has not: a '"' in either hid the brackets after it from the
 * depth count (natter-fuzz-json checks the bound), so it did not hold.
 * Neither is accepted outside a string; inside one they are text. */
static void
test_reject_hidden_depth (void)
{
  const char *openers[] = { "['\"',", "[/* \" */", "['[[[',", "[/*[[[*/" };
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (openers); i++)
    {
      g_autoptr(GString) hidden = g_string_new ("{\"a\":");
      g_autoptr(JsonNode) node = NULL;

      g_string_append (hidden, openers[i]);
      for (guint j = 0; j < 10000; j++)
        g_string_append_c (hidden, '[');
      for (guint j = 0; j < 10000; j++)
        g_string_append_c (hidden, ']');
      g_string_append (hidden, "]}");

      g_assert_false (natter_content_is_valid (hidden->str, &error));
      g_assert_error (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_INVALID_CONTENT);
      g_clear_error (&error);
      node = natter_json_parse (hidden->str, -1, &error);
      g_assert_null (node);
      g_assert_error (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_INVALID_CONTENT);
      g_clear_error (&error);
    }

  /* Quotes, slashes and stars in strings are still text. */
  g_assert_true (natter_content_is_valid ("{\"content\":\"it's 1/2 /* no */ 'x'\",\"u\":\"a\\\"'\"}",
                                          &error));
  g_assert_no_error (error);
}

/* json-glib 1.6 turns an unpaired surrogate escape into bytes that are not
 * UTF-8 ("\ud83dx" gives ED A0 BD), and an octal one too ("\377"): a
 * text, a name, a file name the app would show or hand on (found by
 * natter-fuzz-json). A high surrogate and another \u escape made it leak
 * the string read so far, up to 128 KiB a message: the valgrind run of
 * this suite fails if it still does. */
static void
test_reject_surrogate_escape (void)
{
  const char *bad[] = {
    "{\"content\":\"\\ud83dx\"}",
    "{\"content\":\"a\\udbff\\u0041\"}",
    "{\"content\":\"some text before it\\ud800\\ud800\"}",
    "{\"content\":\"\\ud800\\u\"}",
    "{\"content\":\"\\udc00\"}",
    "{\"user\":{\"name\":[\"\\ud800 \"]}}",
    "{\"\\ud800x\":1}",
    "{\"content\":\"\\377\"}",
    "{\"content\":\"\\v\"}",
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(JsonNode) bad_node = NULL;

      g_assert_false (natter_content_is_valid (bad[i], &error));
      g_assert_error (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_INVALID_CONTENT);
      g_clear_error (&error);
      bad_node = natter_json_parse (bad[i], -1, &error);
      g_assert_null (bad_node);
      g_assert_error (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_INVALID_CONTENT);
      g_clear_error (&error);
    }

  /* A pair is one character; JSON's escapes are still read. */
  node = natter_json_parse ("{\"content\":\"\\ud83d\\ude00\\u00e9\\\"\\\\\\/\\b\\f\\n\\r\\t\"}", -1,
                            &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (node), "content"), ==,
                   "\xf0\x9f\x98\x80\xc3\xa9\"\\/\b\f\n\r\t");
}

/* json-glib 1.6 reads every value of "{...}{...}" or "2[...]", returns the
 * first and leaks the others: content a client would not read, and memory
 * natterd never got back, up to 128 KiB a message (found by
 * natter-fuzz-json; the valgrind run of this suite checks the leak). JSON
 * from the network is one array or object. */
static void
test_reject_more_than_one_value (void)
{
  const char *bad[] = {
    "{\"a\":1}{\"b\":[2,{\"c\":\"a text that would be lost\"}]}",
    "{} []",
    "{\"a\":1}\n{\"b\":2}",
    "{\"a\":1} 3",
    "2[{\"b\":\"lost\"}]",
    "\"text\"{}",
    "null",
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(JsonNode) bad_node = NULL;

      g_assert_false (natter_content_is_valid (bad[i], &error));
      g_assert_error (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_INVALID_CONTENT);
      g_clear_error (&error);
      bad_node = natter_json_parse (bad[i], -1, &error);
      g_assert_null (bad_node);
      g_assert_error (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_INVALID_CONTENT);
      g_clear_error (&error);
    }

  /* Whitespace around the value is still JSON. */
  g_assert_true (natter_content_is_valid (" \r\n{\"content\":\"}{\"}\t\r\n ", &error));
  g_assert_no_error (error);
  node = natter_json_parse ("[1,[2]]\n", -1, &error);
  g_assert_no_error (error);
  g_assert_nonnull (node);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/proto/round-trip/connect", test_round_trip_connect);
  g_test_add_func ("/proto/round-trip/connect-ack", test_round_trip_connect_ack);
  g_test_add_func ("/proto/round-trip/publish", test_round_trip_publish);
  g_test_add_func ("/proto/round-trip/publish-ack", test_round_trip_publish_ack);
  g_test_add_func ("/proto/arena", test_arena);
  g_test_add_func ("/proto/round-trip/deliver", test_round_trip_deliver);
  g_test_add_func ("/proto/deliver-pack", test_deliver_pack);
  g_test_add_func ("/proto/hot-frames-pack", test_hot_frames_pack);
  g_test_add_func ("/proto/round-trip/deliver-ack", test_round_trip_deliver_ack);
  g_test_add_func ("/proto/round-trip/queries", test_round_trip_queries);
  g_test_add_func ("/proto/round-trip/results", test_round_trip_results);
  g_test_add_func ("/proto/round-trip/control", test_round_trip_control);
  g_test_add_func ("/proto/reject/truncated", test_reject_truncated);
  g_test_add_func ("/proto/reject/oversize", test_reject_oversize);
  g_test_add_func ("/proto/reject/garbage", test_reject_garbage);
  g_test_add_func ("/proto/reject/wrong-direction", test_reject_wrong_direction);
  g_test_add_func ("/proto/reject/fields", test_reject_fields);
  g_test_add_func ("/proto/reject/nested", test_reject_nested);
  g_test_add_func ("/proto/reject/deep-json", test_reject_deep_json);
  g_test_add_func ("/proto/json/one-pass", test_json_one_pass);
  g_test_add_func ("/proto/json/word-at-a-time", test_json_word_at_a_time);
  g_test_add_func ("/proto/reject/hidden-depth", test_reject_hidden_depth);
  g_test_add_func ("/proto/reject/surrogate-escape", test_reject_surrogate_escape);
  g_test_add_func ("/proto/reject/more-than-one-value", test_reject_more_than_one_value);
  g_test_add_func ("/proto/reject/profile", test_reject_profile);
  g_test_add_func ("/proto/reject/online-status", test_reject_online_status);
  g_test_add_func ("/proto/reject/query-caps", test_reject_query_caps);
  g_test_add_func ("/proto/reject/preview-flag", test_reject_preview_flag);
  g_test_add_func ("/proto/publish-ack-refusal", test_publish_ack_refusal);
  g_test_add_func ("/proto/preview", test_preview);
  g_test_add_func ("/proto/ids", test_ids);
  g_test_add_func ("/proto/object-name-flags", test_object_name_flags);
  g_test_add_func ("/proto/codes", test_codes);

  return g_test_run ();
}
