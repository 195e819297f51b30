/* test-receipts.c — natterd: group read receipts (RC:RRReqMsg,
 * RC:RRRspMsg) and clearing one's own history (NT:ClearCmd), #16
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-test-client.h"

#include <string.h>

static void
api_ok (NatterTestServer *server,
        const char       *path,
        const char       *a,
        const char       *b,
        const char       *c,
        const char       *d,
        const char       *e,
        const char       *f)
{
  g_autoptr(JsonObject) reply = natter_test_server_api (server, NULL, path, a, b, c, d, e, f, NULL);

  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
}

static NatterFrame *
history (NatterTestClient *client,
         int               type,
         const char       *target)
{
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__HistoryRequest request = NATTER__HISTORY_REQUEST__INIT;

  request.conversation_type = type;
  request.target_id = (char *) target;
  request.count = 20;
  query.method_case = NATTER__QUERY__METHOD_HISTORY;
  query.history = &request;
  return natter_test_client_query (client, &query);
}

static char *
send_ok (NatterTestClient *client,
         int               type,
         const char       *target,
         const char       *object_name,
         const char       *content)
{
  g_autoptr(NatterFrame) ack = natter_test_client_send_message (client, type, target, object_name, content);

  g_assert_cmpint (ack->publish_ack->code, ==, 0);
  return g_strdup (ack->publish_ack->message_uid);
}

static int
send_code (NatterTestClient *client,
           int               type,
           const char       *target,
           const char       *object_name,
           const char       *content)
{
  g_autoptr(NatterFrame) ack = natter_test_client_send_message (client, type, target, object_name, content);

  return ack->publish_ack->code;
}

/* The next delivered message of @object_name, skipping others. */
static NatterFrame *
expect_object (NatterTestClient *client,
               const char       *object_name)
{
  for (;;)
    {
      NatterFrame *frame = natter_test_client_expect (client, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);

      g_assert_nonnull (frame);
      if (strcmp (frame->deliver->message->object_name, object_name) == 0)
        return frame;
      natter_frame_free (frame);
    }
}

static void
test_group_receipts (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterTestClient) bob = natter_test_client_new_user (server, "bob", "b1");
  g_autoptr(NatterTestClient) carol = natter_test_client_new_user (server, "carol", "c1");
  g_autoptr(NatterTestClient) dave = natter_test_client_new_user (server, "dave", "d1");
  g_autoptr(NatterFrame) frame = NULL;
  g_autoptr(GPtrArray) contents = NULL;
  g_autofree char *uid = NULL;
  g_autofree char *request = NULL;
  g_autofree char *response = NULL;

  api_ok (server, "group/create", "userId", "alice", "userId", "bob", "groupId", "team");
  api_ok (server, "group/join", "userId", "carol", "groupId", "team", NULL, NULL);
  uid = send_ok (alice, 3, "team", "RC:TxtMsg", "{\"content\":\"lunch?\"}");
  request = g_strdup_printf ("{\"messageUId\":\"%s\"}", uid);
  g_free (send_ok (alice, 3, "team", "RC:RRReqMsg", request));

  /* Every member learns of the request, on the timeline. */
  frame = expect_object (bob, "RC:RRReqMsg");
  g_assert_nonnull (strstr (frame->deliver->message->content, uid));
  g_clear_pointer (&frame, natter_frame_free);
  frame = expect_object (carol, "RC:RRReqMsg");
  g_clear_pointer (&frame, natter_frame_free);

  /* alice is offline when bob and then carol answer. */
  natter_test_client_free (g_steal_pointer (&alice));
  response = g_strdup_printf ("{\"receiptMessageDic\":{\"alice\":[\"%s\"]}}", uid);
  g_free (send_ok (bob, 3, "team", "RC:RRRspMsg", response));
  g_free (send_ok (carol, 3, "team", "RC:RRRspMsg", response));
  /* Nobody else hears who read whose message. */
  natter_test_client_expect_none (bob, NATTER__FRAME__BODY_DELIVER, 500);
  natter_test_client_expect_none (dave, NATTER__FRAME__BODY_DELIVER, 100);
  contents = natter_test_client_fetch_timeline (bob, 3, "team", 0);
  for (guint i = 0; i < contents->len; i++)
    g_assert_null (strstr (g_ptr_array_index (contents, i), "receiptMessageDic"));

  /* Refused: not a group's, not an object of senders, not a member. */
  g_assert_cmpint (send_code (bob, 1, "alice", "RC:RRRspMsg", response), ==, 33003);
  g_assert_cmpint (send_code (bob, 1, "alice", "RC:RRReqMsg", request), ==, 33003);
  g_assert_cmpint (send_code (bob, 3, "team", "RC:RRRspMsg", "{\"receiptMessageDic\":[]}"), ==, 33003);
  g_assert_cmpint (send_code (bob, 3, "team", "RC:RRRspMsg", "{}"), ==, 33003);
  g_assert_cmpint (send_code (dave, 3, "team", "RC:RRRspMsg", response), ==, 22406);

  /* alice's device gets both answers on connecting, in order. */
  alice = natter_test_client_new_user (server, "alice", "a1");
  frame = expect_object (alice, "RC:RRRspMsg");
  g_assert_cmpstr (frame->deliver->message->sender_user_id, ==, "bob");
  g_assert_cmpstr (frame->deliver->message->target_id, ==, "team");
  g_assert_cmpint (frame->deliver->message->conversation_type, ==, 3);
  g_assert_nonnull (strstr (frame->deliver->message->content, uid));
  g_clear_pointer (&frame, natter_frame_free);
  frame = expect_object (alice, "RC:RRRspMsg");
  g_assert_cmpstr (frame->deliver->message->sender_user_id, ==, "carol");
  g_clear_pointer (&frame, natter_frame_free);
  natter_test_client_expect_none (alice, NATTER__FRAME__BODY_DELIVER, 300);
}

static guint
n_history (NatterTestClient *client,
           int               type,
           const char       *target)
{
  g_autoptr(NatterFrame) page = history (client, type, target);

  g_assert_cmpint (page->result->code, ==, 0);
  for (gsize i = 0; i < page->result->history->n_messages; i++)
    g_assert_cmpstr (page->result->history->messages[i]->object_name, !=, "NT:ClearCmd");
  return (guint) page->result->history->n_messages;
}

static void
test_clear_private (void)
{
  const char * const args[] = { "--app-setting", "multi-device=true", NULL };
  g_autoptr(NatterTestServer) server = natter_test_server_new_full (NULL, args);
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterTestClient) alice2 = natter_test_client_new_user (server, "alice", "a2");
  g_autoptr(NatterTestClient) bob = natter_test_client_new_user (server, "bob", "b1");
  g_autoptr(NatterFrame) frame = NULL;
  g_autoptr(NatterFrame) replayed = NULL;

  g_free (send_ok (alice, 1, "bob", "RC:TxtMsg", "{\"content\":\"one\"}"));
  g_free (send_ok (alice, 1, "bob", "RC:TxtMsg", "{\"content\":\"two\"}"));
  g_free (send_ok (bob, 1, "alice", "RC:TxtMsg", "{\"content\":\"three\"}"));
  g_assert_cmpuint (n_history (alice, 1, "bob"), ==, 3);

  /* alice's second device is offline when she clears on the first. */
  natter_test_client_free (g_steal_pointer (&alice2));
  g_free (send_ok (alice, 1, "bob", "NT:ClearCmd", "{}"));
  g_assert_cmpuint (n_history (alice, 1, "bob"), ==, 0);
  /* bob's stays, and he hears nothing of it. */
  g_assert_cmpuint (n_history (bob, 1, "alice"), ==, 3);
  frame = expect_object (bob, "RC:TxtMsg");
  g_clear_pointer (&frame, natter_frame_free);
  frame = expect_object (bob, "RC:TxtMsg");
  g_clear_pointer (&frame, natter_frame_free);
  natter_test_client_expect_none (bob, NATTER__FRAME__BODY_DELIVER, 500);

  /* What comes after is history again. */
  g_free (send_ok (bob, 1, "alice", "RC:TxtMsg", "{\"content\":\"four\"}"));
  g_assert_cmpuint (n_history (alice, 1, "bob"), ==, 1);

  /* The other device learns of the clear in order: after "three", before "four". */
  alice2 = natter_test_client_new_user (server, "alice", "a2");
  frame = expect_object (alice2, "NT:ClearCmd");
  g_assert_cmpint (frame->deliver->message->conversation_type, ==, 1);
  g_assert_cmpstr (frame->deliver->message->target_id, ==, "bob");
  g_assert_nonnull (strstr (frame->deliver->message->content, "\"clearTime\":"));
  replayed = natter_test_client_expect (alice2, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
  g_assert_nonnull (strstr (replayed->deliver->message->content, "four"));

  /* Chatrooms keep no history to clear. */
  g_assert_cmpint (send_code (alice, 4, "room", "NT:ClearCmd", "{}"), !=, 0);
}

static void
test_clear_group (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterTestClient) bob = natter_test_client_new_user (server, "bob", "b1");
  g_autoptr(GPtrArray) contents = NULL;

  api_ok (server, "group/create", "userId", "alice", "userId", "bob", "groupId", "team");
  g_free (send_ok (alice, 3, "team", "RC:TxtMsg", "{\"content\":\"one\"}"));
  g_free (send_ok (bob, 3, "team", "RC:TxtMsg", "{\"content\":\"two\"}"));
  g_assert_cmpuint (n_history (alice, 3, "team"), ==, 2);

  g_free (send_ok (alice, 3, "team", "NT:ClearCmd", "{}"));
  g_assert_cmpuint (n_history (alice, 3, "team"), ==, 0);
  /* A device syncing the timeline does not get them back either. */
  contents = natter_test_client_fetch_timeline (alice, 3, "team", 0);
  g_assert_cmpuint (contents->len, ==, 0);
  g_clear_pointer (&contents, g_ptr_array_unref);
  g_assert_cmpuint (n_history (bob, 3, "team"), ==, 2);

  g_free (send_ok (bob, 3, "team", "RC:TxtMsg", "{\"content\":\"three\"}"));
  g_assert_cmpuint (n_history (alice, 3, "team"), ==, 1);
  contents = natter_test_client_fetch_timeline (alice, 3, "team", 0);
  g_assert_cmpuint (contents->len, ==, 1);
  g_assert_nonnull (strstr (g_ptr_array_index (contents, 0), "three"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/server/receipts/group", test_group_receipts);
  g_test_add_func ("/server/receipts/clear-private", test_clear_private);
  g_test_add_func ("/server/receipts/clear-group", test_clear_group);

  return g_test_run ();
}
