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

/* The readers of message @uid as @client's history and timeline give
 * them ("bob,carol"; "" for none), asserting both agree. */
static char *
readers_of (NatterTestClient *client,
            const char       *uid)
{
  g_autoptr(NatterFrame) page = history (client, 3, "team");
  g_autoptr(NatterFrame) timeline = natter_test_client_timeline (client, 3, "team", 0, 50);
  g_autoptr(GString) from_history = g_string_new (NULL);
  g_autoptr(GString) from_timeline = g_string_new (NULL);
  gint64 last_time = 0;

  g_assert_cmpint (page->result->code, ==, 0);
  g_assert_cmpint (timeline->result->code, ==, 0);
  for (gsize i = 0; i < page->result->history->n_messages; i++)
    {
      Natter__Message *m = page->result->history->messages[i];

      if (strcmp (m->message_uid, uid) != 0)
        {
          g_assert_cmpuint (m->n_readers, ==, 0);
          continue;
        }
      for (gsize r = 0; r < m->n_readers; r++)
        {
          /* First reader first, each with the time of their answer. */
          g_assert_cmpint (m->readers[r]->read_time, >=, last_time);
          g_assert_cmpint (m->readers[r]->read_time, >, m->sent_time);
          last_time = m->readers[r]->read_time;
          g_string_append_printf (from_history, "%s%s", r > 0 ? "," : "", m->readers[r]->user_id);
        }
    }
  for (gsize i = 0; i < timeline->result->timeline->n_messages; i++)
    {
      Natter__Message *m = timeline->result->timeline->messages[i];

      if (strcmp (m->message_uid, uid) != 0)
        {
          g_assert_cmpuint (m->n_readers, ==, 0);
          continue;
        }
      for (gsize r = 0; r < m->n_readers; r++)
        g_string_append_printf (from_timeline, "%s%s", r > 0 ? "," : "", m->readers[r]->user_id);
    }
  g_assert_cmpstr (from_history->str, ==, from_timeline->str);
  return g_string_free (g_steal_pointer (&from_history), FALSE);
}

/* natterd keeps who read a group message and gives it to its sender's
 * devices with history: a device that was not there learns it (#16). */
static void
test_readers_kept (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterTestClient) bob = natter_test_client_new_user (server, "bob", "b1");
  g_autoptr(NatterTestClient) carol = natter_test_client_new_user (server, "carol", "c1");
  g_autoptr(NatterTestClient) dave = natter_test_client_new_user (server, "dave", "d1");
  g_autoptr(NatterTestClient) erin = natter_test_client_new_user (server, "erin", "e1");
  g_autofree char *uid = NULL;
  g_autofree char *request = NULL;
  g_autofree char *bobs = NULL;
  g_autofree char *response = NULL;
  g_autofree char *forged = NULL;
  g_autofree char *readers = NULL;

  api_ok (server, "group/create", "userId", "alice", "userId", "bob", "groupId", "team");
  api_ok (server, "group/join", "userId", "carol", "groupId", "team", NULL, NULL);
  api_ok (server, "group/join", "userId", "dave", "groupId", "team", NULL, NULL);
  uid = send_ok (alice, 3, "team", "RC:TxtMsg", "{\"content\":\"lunch?\"}");
  bobs = send_ok (bob, 3, "team", "RC:TxtMsg", "{\"content\":\"yes\"}");
  request = g_strdup_printf ("{\"messageUId\":\"%s\"}", uid);
  g_free (send_ok (alice, 3, "team", "RC:RRReqMsg", request));
  api_ok (server, "group/join", "userId", "erin", "groupId", "team", NULL, NULL);

  /* carol answers first, bob twice (the first answer counts), erin joined
   * after the message; bob's own message is not alice's, and a uid with
   * the right id but other random bits is no message. */
  response = g_strdup_printf ("{\"receiptMessageDic\":{\"alice\":[\"%s\",\"%s\"]}}", uid, bobs);
  g_free (send_ok (carol, 3, "team", "RC:RRRspMsg", response));
  g_free (send_ok (bob, 3, "team", "RC:RRRspMsg", response));
  g_free (send_ok (bob, 3, "team", "RC:RRRspMsg", response));
  g_free (send_ok (erin, 3, "team", "RC:RRRspMsg", response));
  forged = g_strdup (uid);
  forged[18] = forged[18] == 'A' ? 'B' : 'A';
  g_free (response);
  response = g_strdup_printf ("{\"receiptMessageDic\":{\"alice\":[\"%s\"]}}", forged);
  g_free (send_ok (dave, 3, "team", "RC:RRRspMsg", response));

  readers = readers_of (alice, uid);
  g_assert_cmpstr (readers, ==, "carol,bob");
  g_clear_pointer (&readers, g_free);
  /* Only the sender reads the list. */
  readers = readers_of (bob, uid);
  g_assert_cmpstr (readers, ==, "");
  g_clear_pointer (&readers, g_free);
  readers = readers_of (bob, bobs);
  g_assert_cmpstr (readers, ==, "");
  g_clear_pointer (&readers, g_free);

  /* A new device of alice's, after a restart, learns it too. */
  natter_test_client_free (g_steal_pointer (&alice));
  natter_test_client_free (g_steal_pointer (&bob));
  natter_test_client_free (g_steal_pointer (&carol));
  natter_test_client_free (g_steal_pointer (&dave));
  natter_test_client_free (g_steal_pointer (&erin));
  natter_test_server_stop (server);
  natter_test_server_restart (server);
  alice = natter_test_client_new_user (server, "alice", "a2");
  readers = readers_of (alice, uid);
  g_assert_cmpstr (readers, ==, "carol,bob");
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
  g_test_add_func ("/server/receipts/readers-kept", test_readers_kept);

  return g_test_run ();
}
