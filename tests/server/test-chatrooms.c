/* test-chatrooms.c — natterd: chatrooms: join counts, live delivery,
 * refusals, offline drop, idle destruction, the server API
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-test-client.h"

#include <sqlite3.h>
#include <string.h>

#define assert_code(reply, expected) \
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, expected)

static NatterFrame *
join (NatterTestClient *client,
      const char       *room,
      int               count)
{
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__ChatroomJoinRequest request = NATTER__CHATROOM_JOIN_REQUEST__INIT;

  request.chatroom_id = (char *) room;
  request.count = count;
  query.method_case = NATTER__QUERY__METHOD_CHATROOM_JOIN;
  query.chatroom_join = &request;
  return natter_test_client_query (client, &query);
}

static int
quit (NatterTestClient *client,
      const char       *room)
{
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__ChatroomQuitRequest request = NATTER__CHATROOM_QUIT_REQUEST__INIT;
  g_autoptr(NatterFrame) result = NULL;

  request.chatroom_id = (char *) room;
  query.method_case = NATTER__QUERY__METHOD_CHATROOM_QUIT;
  query.chatroom_quit = &request;
  result = natter_test_client_query (client, &query);
  return result->result->code;
}

static void
test_join_and_talk (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterTestClient) bob = natter_test_client_new_user (server, "bob", "b1");
  g_autoptr(NatterTestClient) carol = natter_test_client_new_user (server, "carol", "c1");
  g_autoptr(NatterFrame) result = NULL;
  g_autoptr(NatterFrame) ack = NULL;

  /* Before anyone joined, the room does not exist. */
  ack = natter_test_client_send_message (alice, 4, "lobby", "RC:TxtMsg", "{\"content\":\"x\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 23410);
  g_clear_pointer (&ack, natter_frame_free);

  /* The first join creates it. */
  result = join (alice, "lobby", 10);
  g_assert_cmpint (result->result->code, ==, 0);
  g_assert_cmpuint (result->result->chatroom_join->n_messages, ==, 0);
  g_assert_cmpuint (result->result->chatroom_join->member_count, ==, 1);
  g_clear_pointer (&result, natter_frame_free);

  /* Not a member yet: 23406. */
  ack = natter_test_client_send_message (carol, 4, "lobby", "RC:TxtMsg", "{\"content\":\"x\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 23406);
  g_clear_pointer (&ack, natter_frame_free);

  for (guint i = 0; i < 60; i++)
    {
      g_autofree char *content = g_strdup_printf ("{\"content\":\"m%u\"}", i);

      natter_frame_free (natter_test_client_send_message (alice, 4, "lobby", "RC:TxtMsg", content));
    }

  /* Join counts: -1 none, 0 the default 10, at most 50, oldest first. */
  result = join (bob, "lobby", -1);
  g_assert_cmpuint (result->result->chatroom_join->n_messages, ==, 0);
  g_clear_pointer (&result, natter_frame_free);
  result = join (bob, "lobby", 0);
  g_assert_cmpuint (result->result->chatroom_join->n_messages, ==, 10);
  g_assert_cmpstr (result->result->chatroom_join->messages[0]->content, ==, "{\"content\":\"m50\"}");
  g_assert_cmpstr (result->result->chatroom_join->messages[9]->content, ==, "{\"content\":\"m59\"}");
  g_clear_pointer (&result, natter_frame_free);
  result = join (bob, "lobby", 50);
  g_assert_cmpuint (result->result->chatroom_join->n_messages, ==, 50);
  g_assert_cmpstr (result->result->chatroom_join->messages[0]->content, ==, "{\"content\":\"m10\"}");
  g_assert_cmpstr (result->result->chatroom_join->messages[0]->target_id, ==, "lobby");
  g_assert_cmpuint (result->result->chatroom_join->member_count, ==, 2);
  g_clear_pointer (&result, natter_frame_free);

  /* Live: to online members, outside the inbox (seq 0), not to the sender. */
  ack = natter_test_client_send_message (bob, 4, "lobby", "RC:TxtMsg", "{\"content\":\"hi all\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);
  {
    g_autoptr(NatterFrame) deliver = natter_test_client_expect (alice, NATTER__FRAME__BODY_DELIVER,
                                                                NATTER_TEST_TIMEOUT_MS);
    g_assert_nonnull (deliver);
    g_assert_cmpuint (deliver->deliver->seq, ==, 0);
    g_assert_cmpstr (deliver->deliver->message->target_id, ==, "lobby");
    g_assert_cmpstr (deliver->deliver->message->sender_user_id, ==, "bob");
  }
  natter_test_client_expect_none (bob, NATTER__FRAME__BODY_DELIVER, 200);
  natter_test_client_expect_none (carol, NATTER__FRAME__BODY_DELIVER, 100);
  g_clear_pointer (&ack, natter_frame_free);

  /* No history for chatrooms. */
  {
    Natter__Query query = NATTER__QUERY__INIT;
    Natter__HistoryRequest history = NATTER__HISTORY_REQUEST__INIT;
    g_autoptr(NatterFrame) reply = NULL;

    history.conversation_type = 4;
    history.target_id = (char *) "lobby";
    history.count = 20;
    query.method_case = NATTER__QUERY__METHOD_HISTORY;
    query.history = &history;
    reply = natter_test_client_query (bob, &query);
    g_assert_cmpint (reply->result->code, ==, 33003);
  }

  /* Quit. */
  g_assert_cmpint (quit (bob, "lobby"), ==, 0);
  ack = natter_test_client_send_message (bob, 4, "lobby", "RC:TxtMsg", "{\"content\":\"x\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 23406);
  g_clear_pointer (&ack, natter_frame_free);

  /* Chatrooms keep no history: their messages are never stored (nobody
   * waits for a commit), recent ones are kept in memory, and a restart
   * empties the room. */
  result = join (carol, "lobby", 3);
  g_assert_cmpuint (result->result->chatroom_join->n_messages, ==, 3);
  g_assert_cmpstr (result->result->chatroom_join->messages[2]->content, ==, "{\"content\":\"hi all\"}");
  g_assert_cmpuint (strlen (result->result->chatroom_join->messages[2]->message_uid), ==, 19);
  g_clear_pointer (&result, natter_frame_free);
  natter_test_server_stop (server);
  {
    g_autofree char *path = g_build_filename (natter_test_server_get_data_dir (server), "natterd.db", NULL);
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;

    g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
    g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT COUNT (*) FROM messages WHERE conversation_type = 4",
                                         -1, &stmt, NULL), ==, SQLITE_OK);
    g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
    g_assert_cmpint (sqlite3_column_int (stmt, 0), ==, 0);
    sqlite3_finalize (stmt);
    sqlite3_close (db);
  }
  natter_test_server_restart (server);
  natter_test_client_free (g_steal_pointer (&carol));
  carol = natter_test_client_new_user (server, "carol", "c1");
  result = join (carol, "lobby", 3);
  g_assert_cmpint (result->result->code, ==, 0);
  g_assert_cmpuint (result->result->chatroom_join->n_messages, ==, 0);
}

static void
test_timers (void)
{
  g_autoptr(NatterTestServer) server =
    natter_test_server_new_full ("[chatroom]\nidle-timeout=3\noffline-timeout=1\n", NULL);
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterTestClient) bob = natter_test_client_new_user (server, "bob", "b1");
  g_autoptr(NatterFrame) event = NULL;
  g_autoptr(NatterFrame) ack = NULL;

  natter_frame_free (join (alice, "room", -1));
  natter_frame_free (join (bob, "room", -1));

  /* Bob goes offline longer than offline-timeout: dropped, and told so
   * (23409) when he sends again without rejoining. */
  natter_test_client_free (g_steal_pointer (&bob));
  g_usleep (2500 * 1000);
  bob = natter_test_client_new_user (server, "bob", "b1");
  ack = natter_test_client_send_message (bob, 4, "room", "RC:TxtMsg", "{\"content\":\"back\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 23409);
  g_clear_pointer (&ack, natter_frame_free);

  /* A quick reconnect keeps the membership. */
  natter_frame_free (join (bob, "room", -1));
  natter_test_client_free (g_steal_pointer (&bob));
  bob = natter_test_client_new_user (server, "bob", "b1");
  ack = natter_test_client_send_message (bob, 4, "room", "RC:TxtMsg", "{\"content\":\"kept\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);

  /* Messages keep the room past idle-timeout (3 s) ... */
  for (guint i = 0; i < 4; i++)
    {
      g_usleep (900 * 1000);
      g_clear_pointer (&ack, natter_frame_free);
      ack = natter_test_client_send_message (bob, 4, "room", "RC:TxtMsg", "{\"content\":\"busy\"}");
      g_assert_cmpint (ack->publish_ack->code, ==, 0);
    }
  /* ... and so does a join: 4 s after the last message, 2 s after a join,
   * the room is still there. */
  g_usleep (2000 * 1000);
  natter_frame_free (join (alice, "room", -1));
  g_usleep (2000 * 1000);
  g_clear_pointer (&ack, natter_frame_free);
  ack = natter_test_client_send_message (bob, 4, "room", "RC:TxtMsg", "{\"content\":\"still here\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);

  /* No message and no join for idle-timeout: destroyed, members told. */
  event = natter_test_client_expect (alice, NATTER__FRAME__BODY_CHATROOM_EVENT, 8000);
  g_assert_nonnull (event);
  g_assert_cmpstr (event->chatroom_event->chatroom_id, ==, "room");
  g_assert_cmpint (event->chatroom_event->code, ==, 23410);
  g_clear_pointer (&ack, natter_frame_free);
  ack = natter_test_client_send_message (alice, 4, "room", "RC:TxtMsg", "{\"content\":\"x\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 23410);
}

static void
test_api (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterTestClient) bob = natter_test_client_new_user (server, "bob", "b1");
  g_autoptr(JsonObject) reply = NULL;
  JsonArray *array;

  reply = natter_test_server_api (server, NULL, "chatroom/create", "chatroom[r1]", "Room one",
                                  "chatroom[r2]", "Room two", NULL);
  assert_code (reply, 200);
  g_clear_pointer (&reply, json_object_unref);

  reply = natter_test_server_api (server, NULL, "chatroom/query", "chatroomId", "r1", "chatroomId", "r2",
                                  "chatroomId", "r3", NULL);
  array = json_object_get_array_member (reply, "chatRooms");
  g_assert_cmpuint (json_array_get_length (array), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (array, 0), "name"), ==, "Room one");
  g_assert_cmpuint (strlen (json_object_get_string_member (json_array_get_object_element (array, 0), "time")), ==, 19);
  g_clear_pointer (&reply, json_object_unref);

  natter_frame_free (join (alice, "r1", -1));
  g_usleep (20 * 1000);
  natter_frame_free (join (bob, "r1", -1));

  reply = natter_test_server_api (server, NULL, "chatroom/user/query", "chatroomId", "r1", "count", "10",
                                  "order", "2", NULL);
  assert_code (reply, 200);
  g_assert_cmpint (json_object_get_int_member (reply, "total"), ==, 2);
  array = json_object_get_array_member (reply, "users");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (array, 0), "id"), ==, "bob");
  g_clear_pointer (&reply, json_object_unref);

  reply = natter_test_server_api (server, NULL, "chatroom/users/exist", "chatroomId", "r1",
                                  "userId", "alice", "userId", "carol", NULL);
  array = json_object_get_array_member (reply, "result");
  g_assert_true (json_object_get_boolean_member (json_array_get_object_element (array, 0), "isInChrm"));
  g_assert_false (json_object_get_boolean_member (json_array_get_object_element (array, 1), "isInChrm"));
  g_clear_pointer (&reply, json_object_unref);

  /* The app server talks to the room. */
  reply = natter_test_server_api (server, NULL, "message/chatroom/publish", "fromUserId", "host",
                                  "toChatroomId", "r1", "objectName", "RC:TxtMsg",
                                  "content", "{\"content\":\"welcome\"}", NULL);
  assert_code (reply, 200);
  g_clear_pointer (&reply, json_object_unref);
  {
    g_autoptr(NatterFrame) to_alice = natter_test_client_expect (alice, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
    g_autoptr(NatterFrame) to_bob = natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
    g_assert_cmpstr (to_alice->deliver->message->sender_user_id, ==, "host");
    g_assert_nonnull (to_bob);
  }
  reply = natter_test_server_api (server, NULL, "message/chatroom/publish", "fromUserId", "host",
                                  "toChatroomId", "nope", "objectName", "RC:TxtMsg",
                                  "content", "{\"content\":\"x\"}", NULL);
  assert_code (reply, 23410);
  g_clear_pointer (&reply, json_object_unref);

  /* Gag: 23408. */
  reply = natter_test_server_api (server, NULL, "chatroom/user/gag/add", "chatroomId", "r1",
                                  "userId", "bob", "minute", "5", NULL);
  assert_code (reply, 200);
  g_clear_pointer (&reply, json_object_unref);
  {
    g_autoptr(NatterFrame) ack = natter_test_client_send_message (bob, 4, "r1", "RC:TxtMsg", "{\"content\":\"x\"}");
    g_assert_cmpint (ack->publish_ack->code, ==, 23408);
  }
  reply = natter_test_server_api (server, NULL, "chatroom/user/gag/list", "chatroomId", "r1", NULL);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (reply, "users")), ==, 1);
  g_clear_pointer (&reply, json_object_unref);
  reply = natter_test_server_api (server, NULL, "chatroom/user/gag/rollback", "chatroomId", "r1",
                                  "userId", "bob", NULL);
  assert_code (reply, 200);
  g_clear_pointer (&reply, json_object_unref);
  {
    g_autoptr(NatterFrame) ack = natter_test_client_send_message (bob, 4, "r1", "RC:TxtMsg", "{\"content\":\"ungagged\"}");
    g_assert_cmpint (ack->publish_ack->code, ==, 0);
  }
  reply = natter_test_server_api (server, NULL, "chatroom/user/gag/list", "chatroomId", "r1", NULL);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (reply, "users")), ==, 0);
  g_clear_pointer (&reply, json_object_unref);
  /* alice got bob's message. */
  natter_frame_free (natter_test_client_expect (alice, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS));

  /* Block: kicked (23409), and cannot rejoin until it ends. */
  reply = natter_test_server_api (server, NULL, "chatroom/user/block/add", "chatroomId", "r1",
                                  "userId", "bob", "minute", "5", NULL);
  assert_code (reply, 200);
  g_clear_pointer (&reply, json_object_unref);
  {
    g_autoptr(NatterFrame) event = natter_test_client_expect (bob, NATTER__FRAME__BODY_CHATROOM_EVENT, NATTER_TEST_TIMEOUT_MS);
    g_autoptr(NatterFrame) again = join (bob, "r1", -1);

    g_assert_cmpint (event->chatroom_event->code, ==, 23409);
    g_assert_cmpint (again->result->code, ==, 23409);
  }
  reply = natter_test_server_api (server, NULL, "chatroom/user/block/list", "chatroomId", "r1", NULL);
  assert_code (reply, 200);
  array = json_object_get_array_member (reply, "users");
  g_assert_cmpuint (json_array_get_length (array), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (array, 0), "userId"), ==, "bob");
  g_clear_pointer (&reply, json_object_unref);
  reply = natter_test_server_api (server, NULL, "chatroom/user/block/rollback", "chatroomId", "r1",
                                  "userId", "bob", NULL);
  assert_code (reply, 200);
  g_clear_pointer (&reply, json_object_unref);
  {
    g_autoptr(NatterFrame) again = join (bob, "r1", -1);
    g_assert_cmpint (again->result->code, ==, 0);
  }

  /* Destroy: members told 23410. */
  reply = natter_test_server_api (server, NULL, "chatroom/destroy", "chatroomId", "r1", NULL);
  assert_code (reply, 200);
  {
    g_autoptr(NatterFrame) event = natter_test_client_expect (alice, NATTER__FRAME__BODY_CHATROOM_EVENT, NATTER_TEST_TIMEOUT_MS);
    g_assert_cmpint (event->chatroom_event->code, ==, 23410);
  }
}

/* A block from the server API tells whoever is in the room that the
 * member was removed (NT:ChrmNtf "Kicked", status-only); the sweep that
 * drops an offline member says nothing; a client cannot say it (#16). */
static void
test_kick_notice (void)
{
  g_autoptr(NatterTestServer) server =
    natter_test_server_new_full ("[chatroom]\noffline-timeout=1\n", NULL);
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterTestClient) bob = natter_test_client_new_user (server, "bob", "b1");
  g_autoptr(NatterTestClient) carol = natter_test_client_new_user (server, "carol", "c1");
  g_autoptr(NatterFrame) frame = NULL;
  g_autoptr(NatterFrame) ack = NULL;
  g_autoptr(JsonObject) reply = NULL;
  Natter__Message *m;

  natter_frame_free (join (alice, "r1", -1));
  natter_frame_free (join (bob, "r1", -1));
  natter_frame_free (join (carol, "r1", -1));

  reply = natter_test_server_api (server, NULL, "chatroom/user/block/add", "chatroomId", "r1",
                                  "userId", "bob", "minute", "5", NULL);
  assert_code (reply, 200);
  frame = natter_test_client_expect (alice, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
  g_assert_nonnull (frame);
  m = frame->deliver->message;
  g_assert_cmpstr (m->object_name, ==, "NT:ChrmNtf");
  g_assert_cmpstr (m->sender_user_id, ==, "bob");
  g_assert_cmpstr (m->target_id, ==, "r1");
  g_assert_cmpint (m->conversation_type, ==, 4);
  g_assert_true (m->flags & 4);
  g_assert_nonnull (strstr (m->content, "\"Kicked\""));
  g_clear_pointer (&frame, natter_frame_free);
  frame = natter_test_client_expect (carol, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
  g_assert_nonnull (frame);
  g_assert_cmpstr (frame->deliver->message->object_name, ==, "NT:ChrmNtf");
  g_clear_pointer (&frame, natter_frame_free);
  /* bob hears 23409, not the notice. */
  frame = natter_test_client_expect (bob, NATTER__FRAME__BODY_CHATROOM_EVENT, NATTER_TEST_TIMEOUT_MS);
  g_assert_cmpint (frame->chatroom_event->code, ==, 23409);
  g_clear_pointer (&frame, natter_frame_free);
  natter_test_client_expect_none (bob, NATTER__FRAME__BODY_DELIVER, 200);

  /* Only natterd says "removed"; a member's own join and quit pass. */
  ack = natter_test_client_send_message (alice, 4, "r1", "NT:ChrmNtf", "{\"operation\":\"Kicked\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 33003);
  g_clear_pointer (&ack, natter_frame_free);
  ack = natter_test_client_send_message (alice, 4, "r1", "NT:ChrmNtf", "{\"operation\":[]}");
  g_assert_cmpint (ack->publish_ack->code, ==, 33003);
  g_clear_pointer (&ack, natter_frame_free);
  ack = natter_test_client_send_message (alice, 4, "r1", "NT:ChrmNtf", "{\"operation\":\"Join\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);
  frame = natter_test_client_expect (carol, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
  g_assert_nonnull (strstr (frame->deliver->message->content, "\"Join\""));
  g_clear_pointer (&frame, natter_frame_free);

  /* carol is dropped by the sweep (offline past offline-timeout): alice
   * hears nothing of it. */
  natter_test_client_free (g_steal_pointer (&carol));
  natter_test_client_expect_none (alice, NATTER__FRAME__BODY_DELIVER, 2500);
  carol = natter_test_client_new_user (server, "carol", "c1");
  g_clear_pointer (&ack, natter_frame_free);
  ack = natter_test_client_send_message (carol, 4, "r1", "RC:TxtMsg", "{\"content\":\"back\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 23409);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/server/chatrooms/join-and-talk", test_join_and_talk);
  g_test_add_func ("/server/chatrooms/timers", test_timers);
  g_test_add_func ("/server/chatrooms/api", test_api);
  g_test_add_func ("/server/chatrooms/kick-notice", test_kick_notice);

  return g_test_run ();
}
