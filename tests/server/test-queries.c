/* test-queries.c — natterd: history, conversation list, unread, pin/mute/
 * remove, recall, online status, TURN credentials
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-test-client.h"

#include "natter-json.h"

#include <string.h>

static NatterFrame *
history (NatterTestClient *client,
         int               type,
         const char       *target,
         gint64            before,
         guint             count)
{
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__HistoryRequest request = NATTER__HISTORY_REQUEST__INIT;

  request.conversation_type = type;
  request.target_id = (char *) target;
  request.before_time = before;
  request.count = count;
  query.method_case = NATTER__QUERY__METHOD_HISTORY;
  query.history = &request;
  return natter_test_client_query (client, &query);
}

static NatterFrame *
conversations (NatterTestClient *client,
               guint             limit,
               const char       *cursor,
               int              *types,
               gsize             n_types)
{
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__ConversationListRequest request = NATTER__CONVERSATION_LIST_REQUEST__INIT;

  request.limit = limit;
  request.cursor = (char *) (cursor != NULL ? cursor : "");
  request.types = types;
  request.n_types = n_types;
  query.method_case = NATTER__QUERY__METHOD_CONVERSATION_LIST;
  query.conversation_list = &request;
  return natter_test_client_query (client, &query);
}

static int
update (NatterTestClient                          *client,
        int                                        type,
        const char                                *target,
        Natter__ConversationUpdateRequest__Action  action)
{
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__ConversationUpdateRequest request = NATTER__CONVERSATION_UPDATE_REQUEST__INIT;
  g_autoptr(NatterFrame) result = NULL;

  request.conversation_type = type;
  request.target_id = (char *) target;
  request.action = action;
  query.method_case = NATTER__QUERY__METHOD_CONVERSATION_UPDATE;
  query.conversation_update = &request;
  result = natter_test_client_query (client, &query);
  return result->result->code;
}

static void
send_n (NatterTestClient *client,
        int               type,
        const char       *target,
        const char       *prefix,
        guint             n)
{
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *content = g_strdup_printf ("{\"content\":\"%s%u\"}", prefix, i);
      g_autoptr(NatterFrame) ack = natter_test_client_send_message (client, type, target, "RC:TxtMsg", content);

      g_assert_cmpint (ack->publish_ack->code, ==, 0);
    }
}

static void
test_history (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterTestClient) bob = natter_test_client_new_user (server, "bob", "b1");
  g_autoptr(NatterFrame) page = NULL;
  Natter__HistoryResult *h;
  gint64 oldest;

  /* 25 messages in both directions, plus noise in another conversation. */
  for (guint i = 0; i < 25; i++)
    {
      g_autofree char *content = g_strdup_printf ("{\"content\":\"%u\"}", i);
      g_autoptr(NatterFrame) ack = natter_test_client_send_message (i % 2 ? bob : alice, 1,
                                                                    i % 2 ? "alice" : "bob",
                                                                    "RC:TxtMsg", content);
      g_assert_cmpint (ack->publish_ack->code, ==, 0);
    }
  send_n (alice, 1, "carol", "other", 3);
  /* Status-only and command messages are not history. */
  natter_frame_free (natter_test_client_send_message (alice, 1, "bob", "RC:TypSts", "{}"));
  natter_frame_free (natter_test_client_send_message (alice, 1, "bob", "RC:CmdMsg", "{\"name\":\"x\"}"));

  page = history (bob, 1, "alice", 0, 20);
  g_assert_cmpint (page->result->code, ==, 0);
  h = page->result->history;
  g_assert_cmpuint (h->n_messages, ==, 20);
  g_assert_true (h->has_more);
  g_assert_cmpstr (h->messages[0]->content, ==, "{\"content\":\"24\"}");     /* newest first */
  g_assert_cmpstr (h->messages[19]->content, ==, "{\"content\":\"5\"}");
  /* Bob's view: the conversation is "alice" either way. */
  for (guint i = 0; i < h->n_messages; i++)
    {
      g_assert_cmpstr (h->messages[i]->target_id, ==, "alice");
      if (i > 0)
        g_assert_cmpint (h->messages[i]->sent_time, <, h->messages[i - 1]->sent_time);
    }
  oldest = h->messages[19]->sent_time;
  g_clear_pointer (&page, natter_frame_free);

  page = history (bob, 1, "alice", oldest, 20);
  h = page->result->history;
  g_assert_cmpuint (h->n_messages, ==, 5);
  g_assert_false (h->has_more);
  g_assert_cmpstr (h->messages[4]->content, ==, "{\"content\":\"0\"}");
  g_clear_pointer (&page, natter_frame_free);

  /* Alice's own sends show with the original target on her side. */
  page = history (alice, 1, "bob", 0, 2);
  g_assert_cmpuint (page->result->history->n_messages, ==, 2);
  g_assert_cmpstr (page->result->history->messages[0]->sender_user_id, ==, "alice");
  g_assert_cmpstr (page->result->history->messages[0]->target_id, ==, "bob");
  g_assert_cmpstr (page->result->history->messages[1]->sender_user_id, ==, "bob");
  g_assert_cmpstr (page->result->history->messages[1]->target_id, ==, "bob");
  g_clear_pointer (&page, natter_frame_free);

  /* Count outside 2..20 is refused in context. */
  page = history (alice, 1, "bob", 0, 21);
  g_assert_cmpint (page->result->code, ==, 33003);
  g_clear_pointer (&page, natter_frame_free);

  /* Groups: members only. */
  {
    g_autoptr(JsonObject) reply = natter_test_server_api (server, NULL, "group/create", "userId", "alice",
                                                          "groupId", "g", NULL);
    g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  }
  send_n (alice, 3, "g", "group", 3);
  page = history (alice, 3, "g", 0, 10);
  g_assert_cmpuint (page->result->history->n_messages, ==, 3);
  g_assert_cmpstr (page->result->history->messages[0]->target_id, ==, "g");
  g_clear_pointer (&page, natter_frame_free);
  page = history (bob, 3, "g", 0, 10);
  g_assert_cmpint (page->result->code, ==, 22406);
}

static void
test_conversations (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterTestClient) bob = natter_test_client_new_user (server, "bob", "b1");
  g_autoptr(NatterTestClient) carol = natter_test_client_new_user (server, "carol", "c1");
  g_autoptr(NatterFrame) list = NULL;
  Natter__ConversationListResult *r;
  int group_only[] = { 3 };

  {
    g_autoptr(JsonObject) reply = natter_test_server_api (server, NULL, "group/create", "userId", "alice",
                                                          "userId", "bob", "groupId", "g", NULL);
    g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  }
  /* Conversations updated in the same millisecond tie; keep them apart. */
  send_n (bob, 1, "alice", "from bob ", 3);
  g_usleep (5000);
  send_n (carol, 1, "alice", "from carol ", 2);
  g_usleep (5000);
  send_n (bob, 3, "g", "group ", 1);
  g_usleep (5000);
  /* Not counted: RC:InfoNtf. */
  natter_frame_free (natter_test_client_send_message (carol, 1, "alice", "RC:InfoNtf", "{\"message\":\"n\"}"));

  list = conversations (alice, 0, NULL, NULL, 0);
  r = list->result->conversation_list;
  g_assert_cmpuint (r->n_conversations, ==, 3);
  /* Newest first: carol (the notification), the group, bob. */
  g_assert_cmpstr (r->conversations[0]->target_id, ==, "carol");
  g_assert_cmpuint (r->conversations[0]->unread_count, ==, 2);
  g_assert_cmpstr (r->conversations[0]->latest_message->object_name, ==, "RC:InfoNtf");
  g_assert_cmpint (r->conversations[1]->conversation_type, ==, 3);
  g_assert_cmpstr (r->conversations[1]->target_id, ==, "g");
  g_assert_cmpuint (r->conversations[1]->unread_count, ==, 1);
  g_assert_cmpstr (r->conversations[2]->target_id, ==, "bob");
  g_assert_cmpuint (r->conversations[2]->unread_count, ==, 3);
  g_assert_cmpstr (r->conversations[2]->latest_message->content, ==, "{\"content\":\"from bob 2\"}");
  g_assert_cmpstr (r->conversations[2]->latest_message->target_id, ==, "bob");
  g_assert_cmpstr (r->next_cursor, ==, "");
  g_clear_pointer (&list, natter_frame_free);

  /* The sender's list has it too, without unread. */
  list = conversations (bob, 0, NULL, NULL, 0);
  g_assert_cmpuint (list->result->conversation_list->n_conversations, ==, 2);
  g_assert_cmpuint (list->result->conversation_list->conversations[1]->unread_count, ==, 0);
  g_clear_pointer (&list, natter_frame_free);

  /* Type filter. */
  list = conversations (alice, 0, NULL, group_only, 1);
  g_assert_cmpuint (list->result->conversation_list->n_conversations, ==, 1);
  g_clear_pointer (&list, natter_frame_free);

  /* Paging with a cursor. */
  list = conversations (alice, 2, NULL, NULL, 0);
  r = list->result->conversation_list;
  g_assert_cmpuint (r->n_conversations, ==, 2);
  g_assert_cmpstr (r->next_cursor, !=, "");
  {
    g_autoptr(NatterFrame) next = conversations (alice, 2, r->next_cursor, NULL, 0);

    g_assert_cmpuint (next->result->conversation_list->n_conversations, ==, 1);
    g_assert_cmpstr (next->result->conversation_list->conversations[0]->target_id, ==, "bob");
    g_assert_cmpstr (next->result->conversation_list->next_cursor, ==, "");
  }
  {
    g_autoptr(NatterFrame) bad = conversations (alice, 2, "garbage", NULL, 0);
    g_assert_cmpint (bad->result->code, ==, 33003);
  }
  g_clear_pointer (&list, natter_frame_free);

  /* Pin brings bob first; mute is remembered. */
  g_assert_cmpint (update (alice, 1, "bob", NATTER__CONVERSATION_UPDATE_REQUEST__ACTION__ACTION_PIN), ==, 0);
  g_assert_cmpint (update (alice, 1, "carol", NATTER__CONVERSATION_UPDATE_REQUEST__ACTION__ACTION_MUTE), ==, 0);
  list = conversations (alice, 0, NULL, NULL, 0);
  r = list->result->conversation_list;
  g_assert_cmpstr (r->conversations[0]->target_id, ==, "bob");
  g_assert_true (r->conversations[0]->pinned);
  g_assert_cmpstr (r->conversations[1]->target_id, ==, "carol");
  g_assert_true (r->conversations[1]->muted);
  g_clear_pointer (&list, natter_frame_free);

  /* Clear unread. */
  {
    Natter__Query query = NATTER__QUERY__INIT;
    Natter__ClearUnreadRequest clear = NATTER__CLEAR_UNREAD_REQUEST__INIT;
    g_autoptr(NatterFrame) result = NULL;

    clear.conversation_type = 1;
    clear.target_id = (char *) "bob";
    query.method_case = NATTER__QUERY__METHOD_CLEAR_UNREAD;
    query.clear_unread = &clear;
    result = natter_test_client_query (alice, &query);
    g_assert_cmpint (result->result->code, ==, 0);
  }
  list = conversations (alice, 0, NULL, NULL, 0);
  g_assert_cmpuint (list->result->conversation_list->conversations[0]->unread_count, ==, 0);
  g_clear_pointer (&list, natter_frame_free);

  /* Remove hides until the next message. */
  g_assert_cmpint (update (alice, 1, "carol", NATTER__CONVERSATION_UPDATE_REQUEST__ACTION__ACTION_REMOVE), ==, 0);
  list = conversations (alice, 0, NULL, NULL, 0);
  g_assert_cmpuint (list->result->conversation_list->n_conversations, ==, 2);
  g_clear_pointer (&list, natter_frame_free);
  g_usleep (5000);
  send_n (carol, 1, "alice", "again ", 1);
  list = conversations (alice, 0, NULL, NULL, 0);
  g_assert_cmpuint (list->result->conversation_list->n_conversations, ==, 3);
  g_assert_cmpuint (list->result->conversation_list->conversations[1]->unread_count, ==, 1);
}

static void
test_recall (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterTestClient) bob = natter_test_client_new_user (server, "bob", "b1");
  g_autoptr(NatterFrame) ack = natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg", "{\"content\":\"oops\"}");
  g_autoptr(NatterFrame) deliver = natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__RecallRequest recall = NATTER__RECALL_REQUEST__INIT;
  g_autoptr(NatterFrame) result = NULL;
  g_autoptr(NatterFrame) command = NULL;
  g_autoptr(NatterFrame) page = NULL;

  recall.message_uid = ack->publish_ack->message_uid;
  recall.conversation_type = 1;
  recall.target_id = (char *) "bob";
  recall.sent_time = ack->publish_ack->sent_time;
  query.method_case = NATTER__QUERY__METHOD_RECALL;
  query.recall = &recall;

  /* Only the sender. */
  recall.target_id = (char *) "alice";
  result = natter_test_client_query (bob, &query);
  g_assert_cmpint (result->result->code, ==, 25101);
  g_clear_pointer (&result, natter_frame_free);

  /* A uid that does not exist. */
  recall.target_id = (char *) "bob";
  recall.message_uid = (char *) "ZZZZ-ZZZZ-ZZZZ-ZZZZ";
  result = natter_test_client_query (alice, &query);
  g_assert_cmpint (result->result->code, ==, 25101);
  g_clear_pointer (&result, natter_frame_free);

  recall.message_uid = ack->publish_ack->message_uid;
  result = natter_test_client_query (alice, &query);
  g_assert_cmpint (result->result->code, ==, 0);
  g_assert_cmpstr (result->result->recall->recall_command->object_name, ==, "RC:RcCmd");
  g_assert_nonnull (strstr (result->result->recall->recall_command->content, ack->publish_ack->message_uid));

  command = natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
  g_assert_nonnull (command);
  g_assert_cmpstr (command->deliver->message->object_name, ==, "RC:RcCmd");
  g_assert_cmpuint (command->deliver->seq, ==, 2);

  /* The message is RC:RcNtf for everyone now. */
  page = history (bob, 1, "alice", 0, 20);
  g_assert_cmpuint (page->result->history->n_messages, ==, 2);
  g_assert_cmpstr (page->result->history->messages[1]->message_uid, ==, ack->publish_ack->message_uid);
  g_assert_cmpstr (page->result->history->messages[1]->object_name, ==, "RC:RcNtf");
  g_assert_nonnull (strstr (page->result->history->messages[1]->content, "\"originalObjectName\":\"RC:TxtMsg\""));
  g_assert_null (strstr (page->result->history->messages[1]->content, "oops"));
  g_clear_pointer (&result, natter_frame_free);

  /* Twice is a failure. */
  result = natter_test_client_query (alice, &query);
  g_assert_cmpint (result->result->code, ==, 25101);
  (void) deliver;

  /* The app server recalls for a user with message/recall. */
  {
    g_autoptr(NatterFrame) second = natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg",
                                                                     "{\"content\":\"again\"}");
    g_autoptr(NatterFrame) delivered = natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER,
                                                                  NATTER_TEST_TIMEOUT_MS);
    g_autofree char *sent_time = g_strdup_printf ("%" G_GINT64_FORMAT, second->publish_ack->sent_time);
    g_autoptr(JsonObject) reply = NULL;
    g_autoptr(NatterFrame) api_command = NULL;

    /* Not the sender. */
    reply = natter_test_server_api (server, NULL, "message/recall", "fromUserId", "bob",
                                    "conversationType", "1", "targetId", "alice",
                                    "messageUID", second->publish_ack->message_uid,
                                    "sentTime", sent_time, NULL);
    g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 25101);
    g_clear_pointer (&reply, json_object_unref);

    reply = natter_test_server_api (server, NULL, "message/recall", "fromUserId", "alice",
                                    "conversationType", "1", "targetId", "bob",
                                    "messageUID", second->publish_ack->message_uid,
                                    "sentTime", sent_time, NULL);
    g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
    api_command = natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
    g_assert_nonnull (api_command);
    g_assert_cmpstr (api_command->deliver->message->object_name, ==, "RC:RcCmd");
    g_assert_nonnull (delivered);
  }
}

static void
test_recall_window (void)
{
  const char * const args[] = { "--app-setting", "recall-window=1", NULL };
  g_autoptr(NatterTestServer) server = natter_test_server_new_full (NULL, args);
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterFrame) ack = natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg", "{\"content\":\"x\"}");
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__RecallRequest recall = NATTER__RECALL_REQUEST__INIT;
  g_autoptr(NatterFrame) result = NULL;

  /* One second to change one's mind, then the message stays. */
  g_usleep (1500 * 1000);
  recall.message_uid = ack->publish_ack->message_uid;
  recall.conversation_type = 1;
  recall.target_id = (char *) "bob";
  recall.sent_time = ack->publish_ack->sent_time;
  query.method_case = NATTER__QUERY__METHOD_RECALL;
  query.recall = &recall;
  result = natter_test_client_query (alice, &query);
  g_assert_cmpint (result->result->code, ==, 25101);
}

static void
test_online_and_turn (void)
{
  g_autoptr(NatterTestServer) server =
    natter_test_server_new_full ("[turn]\nsecret=s3cret\nuris=turn:127.0.0.1:3478?transport=udp;stun:127.0.0.1:3478\nttl=600\n", NULL);
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__OnlineStatusRequest online = NATTER__ONLINE_STATUS_REQUEST__INIT;
  Natter__TurnCredentialsRequest turn = NATTER__TURN_CREDENTIALS_REQUEST__INIT;
  char *ids[] = { (char *) "alice", (char *) "bob" };
  g_autoptr(NatterFrame) result = NULL;
  Natter__TurnCredentials *credentials;

  online.user_ids = ids;
  online.n_user_ids = 2;
  query.method_case = NATTER__QUERY__METHOD_ONLINE_STATUS;
  query.online_status = &online;
  result = natter_test_client_query (alice, &query);
  g_assert_cmpuint (result->result->online_status->n_statuses, ==, 2);
  g_assert_true (result->result->online_status->statuses[0]->online);
  g_assert_cmpstr (result->result->online_status->statuses[0]->platform, ==, "test");
  g_assert_false (result->result->online_status->statuses[1]->online);
  g_assert_cmpuint (result->result->online_status->statuses[0]->n_device_ids, ==, 0);   /* none asked */
  g_clear_pointer (&result, natter_frame_free);

  /* devices asked about (the one ringing for a call): only the asked ones
   * that are connected come back, per user */
  {
    char *devices[] = { (char *) "a2", (char *) "a1" };

    online.device_ids = devices;
    online.n_device_ids = 2;
    result = natter_test_client_query (alice, &query);
    g_assert_cmpuint (result->result->online_status->statuses[0]->n_device_ids, ==, 1);
    g_assert_cmpstr (result->result->online_status->statuses[0]->device_ids[0], ==, "a1");
    g_assert_cmpuint (result->result->online_status->statuses[1]->n_device_ids, ==, 0);
    g_clear_pointer (&result, natter_frame_free);
  }

  query.method_case = NATTER__QUERY__METHOD_TURN_CREDENTIALS;
  query.turn_credentials = &turn;
  result = natter_test_client_query (alice, &query);
  credentials = result->result->turn_credentials;
  g_assert_cmpuint (credentials->ttl, ==, 600);
  g_assert_cmpuint (credentials->n_uris, ==, 2);
  g_assert_cmpstr (credentials->uris[0], ==, "turn:127.0.0.1:3478?transport=udp");
  g_assert_true (g_str_has_suffix (credentials->username, ":alice"));
  {
    gint64 expiry = g_ascii_strtoll (credentials->username, NULL, 10);
    gint64 now = g_get_real_time () / G_USEC_PER_SEC;
    g_autoptr(GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA1, (const guchar *) "s3cret", 6);
    guint8 digest[20];
    gsize length = sizeof digest;
    g_autofree char *expected = NULL;

    g_assert_cmpint (expiry, >=, now + 590);
    g_assert_cmpint (expiry, <=, now + 610);
    g_hmac_update (hmac, (const guchar *) credentials->username, -1);
    g_hmac_get_digest (hmac, digest, &length);
    expected = g_base64_encode (digest, length);
    g_assert_cmpstr (credentials->password, ==, expected);
  }
}

/* Pages of big messages are cut where one frame is full (1 MiB), never
 * refused or left unanswered: history says has_more and paging gets
 * everything. The conversation list carries previews of them instead. */
static void
test_large_pages (void)
{
  const char * const args[] = { "--app-setting", "send-rate=0", NULL };
  g_autoptr(NatterTestServer) server = natter_test_server_new_full (NULL, args);
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autofree char *filler = g_strnfill (120 * 1000, 'x');
  g_autofree char *cursor = g_strdup ("");
  gint64 before = 0;
  guint seen = 0, pages = 0;

  for (guint i = 0; i < 20; i++)
    {
      g_autofree char *content = g_strdup_printf ("{\"content\":\"%u\",\"extra\":\"%s\"}", i, filler);
      g_autofree char *target = g_strdup_printf ("peer%u", i);
      g_autoptr(NatterFrame) ack = natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg", content);
      g_autoptr(NatterFrame) ack2 = natter_test_client_send_message (alice, 1, target, "RC:TxtMsg", content);

      g_assert_cmpint (ack->publish_ack->code, ==, 0);
      g_assert_cmpint (ack2->publish_ack->code, ==, 0);
    }

  for (gboolean more = TRUE; more; pages++)
    {
      g_autoptr(NatterFrame) page = history (alice, 1, "bob", before, 20);
      Natter__HistoryResult *h = page->result->history;

      g_assert_cmpint (page->result->code, ==, 0);
      g_assert_cmpuint (h->n_messages, >, 0);
      for (guint i = 0; i < h->n_messages; i++)
        {
          g_autofree char *start = g_strdup_printf ("{\"content\":\"%u\",", 19 - seen);

          g_assert_true (g_str_has_prefix (h->messages[i]->content, start));
          seen++;
        }
      before = h->messages[h->n_messages - 1]->sent_time;
      more = h->has_more;
    }
  g_assert_cmpuint (seen, ==, 20);
  g_assert_cmpuint (pages, >, 2);

  seen = 0;
  pages = 0;
  do
    {
      g_autoptr(NatterFrame) page = conversations (alice, 100, cursor, NULL, 0);
      Natter__ConversationListResult *list = page->result->conversation_list;

      g_assert_cmpint (page->result->code, ==, 0);
      g_assert_cmpuint (list->n_conversations, >, 0);
      seen += list->n_conversations;
      pages++;
      for (guint i = 0; i < list->n_conversations; i++)
        {
          Natter__Message *latest = list->conversations[i]->latest_message;

          /* Previews of the 120 KB messages, so every one fits one page. */
          g_assert_true (latest->flags & NATTER_MESSAGE_FLAG_PREVIEW);
          g_assert_cmpuint (strlen (latest->content), <=, NATTER_PREVIEW_MAX_SIZE);
          g_assert_true (g_str_has_prefix (latest->content, "{\"content\":\""));
        }
      g_free (cursor);
      cursor = g_strdup (list->next_cursor);
    }
  while (*cursor != '\0');
  g_assert_cmpuint (seen, ==, 21);
  g_assert_cmpuint (pages, ==, 1);
}

static NatterFrame *
profile (NatterTestClient   *client,
         const char * const *user_ids,
         const char * const *group_ids)
{
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__ProfileRequest request = NATTER__PROFILE_REQUEST__INIT;

  request.n_user_ids = user_ids != NULL ? g_strv_length ((char **) user_ids) : 0;
  request.user_ids = (char **) user_ids;
  request.n_group_ids = group_ids != NULL ? g_strv_length ((char **) group_ids) : 0;
  request.group_ids = (char **) group_ids;
  query.method_case = NATTER__QUERY__METHOD_PROFILE;
  query.profile = &request;
  return natter_test_client_query (client, &query);
}

/* The name (or portrait) of @id in @result, NULL when left out. */
static const char *
user_field (const Natter__ProfileResult *result,
            const char                  *id,
            gboolean                     portrait)
{
  for (gsize i = 0; i < result->n_users; i++)
    if (g_strcmp0 (result->users[i]->id, id) == 0)
      return portrait ? result->users[i]->portrait_uri : result->users[i]->name;
  return NULL;
}

/* Names and portraits from user/getToken and user/refresh, group names from
 * group/create, group/refresh and group/sync; groups only for members,
 * unknown ids left out, everything still there after a restart. */
static void
test_profiles (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  const char * const users[] = { "alice", "carol", "nobody", NULL };
  const char * const groups[] = { "g1", "g2", "g3", "nogroup", NULL };
  g_autoptr(JsonObject) reply = NULL;
  g_autoptr(NatterFrame) result = NULL;
  const Natter__ProfileResult *p;

  reply = natter_test_server_api (server, NULL, "user/getToken", "userId", "carol", "name", "卡罗尔 Carol",
                                  "portraitUri", "http://127.0.0.1/carol.png", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_clear_pointer (&reply, json_object_unref);
  reply = natter_test_server_api (server, NULL, "user/refresh", "userId", "alice", "name", "Alice Liddell", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_clear_pointer (&reply, json_object_unref);
  reply = natter_test_server_api (server, NULL, "group/create", "userId", "alice", "userId", "carol",
                                  "groupId", "g1", "groupName", "Tea party", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_clear_pointer (&reply, json_object_unref);
  reply = natter_test_server_api (server, NULL, "group/refresh", "groupId", "g1", "groupName", "茶会", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_clear_pointer (&reply, json_object_unref);
  reply = natter_test_server_api (server, NULL, "group/sync", "userId", "alice", "group[g1]", "茶会",
                                  "group[g2]", "Croquet", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_clear_pointer (&reply, json_object_unref);
  /* alice is not in g3. */
  reply = natter_test_server_api (server, NULL, "group/create", "userId", "carol",
                                  "groupId", "g3", "groupName", "Secret", NULL);
  g_clear_pointer (&reply, json_object_unref);

  for (int round = 0; round < 2; round++)
    {
      result = profile (alice, users, groups);
      g_assert_cmpint (result->result->code, ==, 0);
      p = result->result->profile;
      g_assert_cmpuint (p->n_users, ==, 2);
      g_assert_cmpstr (user_field (p, "alice", FALSE), ==, "Alice Liddell");
      g_assert_cmpstr (user_field (p, "carol", FALSE), ==, "卡罗尔 Carol");
      g_assert_cmpstr (user_field (p, "carol", TRUE), ==, "http://127.0.0.1/carol.png");
      g_assert_null (user_field (p, "nobody", FALSE));
      g_assert_cmpuint (p->n_groups, ==, 2);
      g_assert_cmpstr (p->groups[0]->id, ==, "g1");
      g_assert_cmpstr (p->groups[0]->name, ==, "茶会");
      g_assert_cmpuint (p->groups[0]->member_count, ==, 2);
      g_assert_cmpstr (p->groups[1]->id, ==, "g2");
      g_assert_cmpstr (p->groups[1]->name, ==, "Croquet");
      g_assert_cmpuint (p->groups[1]->member_count, ==, 1);
      g_clear_pointer (&result, natter_frame_free);

      if (round == 0)
        {
          g_clear_pointer (&alice, natter_test_client_free);
          natter_test_server_stop (server);
          natter_test_server_restart (server);
          alice = natter_test_client_new_user (server, "alice", "a1");
          /* new_user's getToken named her "alice" again; carol and the
           * groups show what the restart kept. */
          reply = natter_test_server_api (server, NULL, "user/refresh", "userId", "alice", "name",
                                          "Alice Liddell", NULL);
          g_clear_pointer (&reply, json_object_unref);
        }
    }

  /* Empty and bad requests are answered in context; the connection stays. */
  {
    const char * const bad[] = { "x' OR '1'='1", NULL };

    result = profile (alice, NULL, NULL);
    g_assert_cmpint (result->result->code, ==, 33003);
    g_clear_pointer (&result, natter_frame_free);
    result = profile (alice, bad, NULL);
    g_assert_cmpint (result->result->code, ==, 33003);
    g_clear_pointer (&result, natter_frame_free);
    g_assert_true (natter_test_client_is_open (alice));
  }
}

static NatterFrame *
online_status (NatterTestClient *client,
               const char       *user_id,
               const char       *device_id)
{
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__OnlineStatusRequest online = NATTER__ONLINE_STATUS_REQUEST__INIT;
  char *users[] = { (char *) user_id };
  char *devices[] = { (char *) device_id };

  online.user_ids = users;
  online.n_user_ids = 1;
  online.device_ids = devices;
  online.n_device_ids = 1;
  query.method_case = NATTER__QUERY__METHOD_ONLINE_STATUS;
  query.online_status = &online;
  return natter_test_client_query (client, &query);
}

static void
assert_online (NatterTestClient *asker,
               const char       *user_id,
               const char       *device_id,
               gboolean          online)
{
  g_autoptr(NatterFrame) result = online_status (asker, user_id, device_id);
  Natter__OnlineStatus *status = result->result->online_status->statuses[0];

  g_assert_cmpint (result->result->code, ==, 0);
  g_assert_cmpint (status->online, ==, online);
  g_assert_cmpstr (status->platform, ==, online ? "test" : "");
  g_assert_cmpuint (status->n_device_ids, ==, online ? 1 : 0);
}

/* Someone who blacklisted the asker is offline to them (devices included);
 * to everyone else, and to the app server, they are what they are. */
static void
test_online_blacklist (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterTestClient) bob = natter_test_client_new_user (server, "bob", "b1");
  g_autoptr(NatterTestClient) carol = natter_test_client_new_user (server, "carol", "c1");
  g_autoptr(JsonObject) reply = NULL;

  assert_online (alice, "bob", "b1", TRUE);

  reply = natter_test_server_api (server, NULL, "user/blacklist/add", "userId", "bob",
                                  "blackUserId", "alice", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_clear_pointer (&reply, json_object_unref);

  assert_online (alice, "bob", "b1", FALSE);
  assert_online (carol, "bob", "b1", TRUE);
  assert_online (bob, "alice", "a1", TRUE);   /* not the other way round */
  reply = natter_test_server_api (server, NULL, "user/checkOnline", "userId", "bob", NULL);
  g_assert_cmpstr (json_object_get_string_member (reply, "status"), ==, "1");
  g_clear_pointer (&reply, json_object_unref);

  reply = natter_test_server_api (server, NULL, "user/blacklist/remove", "userId", "bob",
                                  "blackUserId", "alice", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  assert_online (alice, "bob", "b1", TRUE);
}

static void
assert_refused (NatterTestClient *client,
                Natter__Query    *query)
{
  g_autoptr(NatterFrame) result = natter_test_client_query (client, query);

  g_assert_cmpint (result->result->code, ==, NATTER_CODE_INVALID_PARAMETER);
  g_assert_cmpstr (result->result->error_message, !=, "");
  g_assert_true (natter_test_client_is_open (client));
}

/* Every count in a Query is capped: one past the cap is 33003, answered in
 * context, and the connection goes on. */
static void
test_caps (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__ConversationListRequest list = NATTER__CONVERSATION_LIST_REQUEST__INIT;
  Natter__HistoryRequest history_request = NATTER__HISTORY_REQUEST__INIT;
  Natter__ChatroomJoinRequest join = NATTER__CHATROOM_JOIN_REQUEST__INIT;
  Natter__OnlineStatusRequest online = NATTER__ONLINE_STATUS_REQUEST__INIT;
  Natter__ProfileRequest profile_request = NATTER__PROFILE_REQUEST__INIT;
  int types[NATTER_CONVERSATION_LIST_MAX_TYPES + 1];
  char *ids[101];
  char *one[] = { (char *) "bob" };
  g_autofree char *long_cursor = g_strnfill (257, '1');
  g_autoptr(NatterFrame) ok = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    types[i] = 1;
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    ids[i] = g_strdup_printf ("u%u", i);

  query.method_case = NATTER__QUERY__METHOD_CONVERSATION_LIST;
  query.conversation_list = &list;
  list.types = types;
  list.n_types = G_N_ELEMENTS (types);
  assert_refused (alice, &query);
  list.n_types = 1;
  list.limit = NATTER_CONVERSATION_LIST_MAX_LIMIT + 1;
  assert_refused (alice, &query);
  list.limit = 0;
  list.cursor = long_cursor;
  assert_refused (alice, &query);

  query.method_case = NATTER__QUERY__METHOD_HISTORY;
  query.history = &history_request;
  history_request.conversation_type = 1;
  history_request.target_id = (char *) "bob";
  history_request.count = NATTER_HISTORY_MAX_COUNT + 1;
  assert_refused (alice, &query);
  history_request.count = NATTER_HISTORY_MIN_COUNT - 1;
  assert_refused (alice, &query);

  query.method_case = NATTER__QUERY__METHOD_CHATROOM_JOIN;
  query.chatroom_join = &join;
  join.chatroom_id = (char *) "lobby";
  join.count = NATTER_CHATROOM_JOIN_MAX_COUNT + 1;
  assert_refused (alice, &query);

  query.method_case = NATTER__QUERY__METHOD_ONLINE_STATUS;
  query.online_status = &online;
  online.user_ids = ids;
  online.n_user_ids = NATTER_ONLINE_STATUS_MAX_USERS + 1;
  assert_refused (alice, &query);
  online.user_ids = one;
  online.n_user_ids = 1;
  online.device_ids = ids;
  online.n_device_ids = NATTER_ONLINE_STATUS_MAX_USERS + 1;
  assert_refused (alice, &query);

  query.method_case = NATTER__QUERY__METHOD_PROFILE;
  query.profile = &profile_request;
  profile_request.user_ids = ids;
  profile_request.n_user_ids = NATTER_PROFILE_MAX_IDS + 1;
  assert_refused (alice, &query);
  profile_request.n_user_ids = 0;
  profile_request.group_ids = ids;
  profile_request.n_group_ids = NATTER_PROFILE_MAX_IDS + 1;
  assert_refused (alice, &query);

  /* At the caps, all is well. */
  list.types = types;
  list.n_types = NATTER_CONVERSATION_LIST_MAX_TYPES;
  list.limit = NATTER_CONVERSATION_LIST_MAX_LIMIT;
  list.cursor = (char *) "";
  query.method_case = NATTER__QUERY__METHOD_CONVERSATION_LIST;
  query.conversation_list = &list;
  ok = natter_test_client_query (alice, &query);
  g_assert_cmpint (ok->result->code, ==, 0);
  g_clear_pointer (&ok, natter_frame_free);
  online.n_device_ids = NATTER_ONLINE_STATUS_MAX_USERS;
  online.user_ids = ids;
  online.n_user_ids = NATTER_ONLINE_STATUS_MAX_USERS;
  query.method_case = NATTER__QUERY__METHOD_ONLINE_STATUS;
  query.online_status = &online;
  ok = natter_test_client_query (alice, &query);
  g_assert_cmpint (ok->result->code, ==, 0);
  g_assert_cmpuint (ok->result->online_status->n_statuses, ==, NATTER_ONLINE_STATUS_MAX_USERS);

  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    g_free (ids[i]);
}

typedef struct
{
  guint answered;
  guint ok;
  guint refused;
  guint expected;
} Tally;

static void
tally_result (NatterTestClient  *client,
              const NatterFrame *frame,
              gpointer           user_data)
{
  Tally *tally = user_data;

  if (frame->body_case != NATTER__FRAME__BODY_RESULT)
    return;
  tally->answered++;
  if (frame->result->code == 0)
    tally->ok++;
  else
    {
      g_assert_cmpint (frame->result->code, ==, NATTER_CODE_SEND_TOO_FAST);
      tally->refused++;
    }
}

static gboolean
tally_done (gpointer data)
{
  Tally *tally = data;

  return tally->answered >= tally->expected;
}

/* Sends @n queries (history of alice/bob, or TURN credentials) at once,
 * request ids from 1000, and counts their answers. */
static void
send_burst (NatterTestClient *client,
            guint             history,   /* 0 turn credentials, 1 history, 2 timeline of "g1" */
            guint             n,
            Tally            *tally)
{
  memset (tally, 0, sizeof *tally);
  tally->expected = n;
  natter_test_client_set_frame_func (client, tally_result, tally);
  /* At once, as a fast client sends them: one by one, a fast natterd
   * answered each before the next came and no limit was ever met. */
  natter_test_client_hold_output (client, TRUE);
  for (guint i = 0; i < n; i++)
    {
      NatterFrame frame = NATTER__FRAME__INIT;
      Natter__Query query = NATTER__QUERY__INIT;
      Natter__HistoryRequest request = NATTER__HISTORY_REQUEST__INIT;
      Natter__TurnCredentialsRequest turn = NATTER__TURN_CREDENTIALS_REQUEST__INIT;
      Natter__TimelineRequest timeline = NATTER__TIMELINE_REQUEST__INIT;

      query.request_id = 1000 + i;
      if (history == 2)
        {
          timeline.conversation_type = 3;
          timeline.target_id = (char *) "g1";
          timeline.count = 1;
          query.method_case = NATTER__QUERY__METHOD_TIMELINE;
          query.timeline = &timeline;
        }
      else if (history)
        {
          request.conversation_type = 1;
          request.target_id = (char *) "bob";
          request.count = 20;
          query.method_case = NATTER__QUERY__METHOD_HISTORY;
          query.history = &request;
        }
      else
        {
          query.method_case = NATTER__QUERY__METHOD_TURN_CREDENTIALS;
          query.turn_credentials = &turn;
        }
      frame.body_case = NATTER__FRAME__BODY_QUERY;
      frame.query = &query;
      natter_test_client_send (client, &frame);
    }
  natter_test_client_hold_output (client, FALSE);
  g_assert_true (natter_test_wait (tally_done, tally, NATTER_TEST_TIMEOUT_MS));
  g_assert_cmpuint (tally->answered, ==, n);
  natter_test_client_set_frame_func (client, NULL, NULL);
}

/* A connection may have [limits] max-queries unanswered; one more is
 * answered 20604 at once, and once answers went out it may ask again. A
 * user may ask query-rate a second (query-burst at once), all devices
 * together; past that, 20604. Each answer is a Result: nothing is dropped. */
static void
test_query_limits (void)
{
  const char * const multi[] = { "--app-setting", "multi-device=true", NULL };

  {
    g_autoptr(NatterTestServer) server = natter_test_server_new_full ("[limits]\nmax-queries=4\nquery-rate=0\n", NULL);
    g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
    g_autoptr(NatterFrame) ack = natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg", "{\"content\":\"hi\"}");
    g_autoptr(NatterFrame) later = NULL;
    Tally tally;

    send_burst (alice, TRUE, 60, &tally);
    g_test_message ("in flight: %u answered, %u refused", tally.ok, tally.refused);
    g_assert_cmpuint (tally.ok, >=, 4);
    g_assert_cmpuint (tally.refused, >=, 1);
    g_assert_cmpuint (natter_test_server_get_metric (server, "natterd_queries_refused_total"), ==, tally.refused);
    later = history (alice, 1, "bob", 0, 20);
    g_assert_cmpint (later->result->code, ==, 0);
    g_assert_cmpuint (later->result->history->n_messages, ==, 1);
  }

  {
    g_autoptr(NatterTestServer) server = natter_test_server_new_full ("[limits]\nquery-rate=5\nquery-burst=10\n", multi);
    g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
    g_autoptr(NatterTestClient) alice2 = natter_test_client_new_user (server, "alice", "a2");
    g_autoptr(NatterTestClient) bob = natter_test_client_new_user (server, "bob", "b1");
    gint64 start = g_get_monotonic_time ();
    double elapsed;
    Tally tally;

    send_burst (alice, FALSE, 40, &tally);
    elapsed = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
    g_test_message ("rate: %u answered, %u refused in %.2f s", tally.ok, tally.refused, elapsed);
    g_assert_cmpuint (tally.ok, >=, 10);
    g_assert_cmpuint (tally.ok, <=, 10 + (guint) (5 * elapsed) + 1);
    g_assert_cmpuint (tally.refused, >=, 1);

    /* The same user's other device shares the bucket; another user not. */
    send_burst (alice2, FALSE, 10, &tally);
    g_assert_cmpuint (tally.refused, >=, 1);
    send_burst (bob, FALSE, 10, &tally);
    g_assert_cmpuint (tally.ok, ==, 10);

    /* It refills. */
    g_usleep (G_USEC_PER_SEC / 2);
    send_burst (alice2, FALSE, 1, &tally);
    g_assert_cmpuint (tally.ok, ==, 1);
  }

  {
    /* A timeline page costs a tenth of a token: a burst of 10 is 100
     * pages at once, and a flood of them is still refused past that.
     * One token a second, so that a loaded machine (PostgreSQL under the
     * burst) cannot refill a whole token before the last query. */
    g_autoptr(NatterTestServer) server = natter_test_server_new_full ("[limits]\nquery-rate=1\nquery-burst=10\nmax-queries=1000\n", NULL);
    g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
    g_autoptr(JsonObject) reply = natter_test_server_api (server, NULL, "group/create", "userId", "alice",
                                                          "groupId", "g1", "groupName", "g1", NULL);
    gint64 start = g_get_monotonic_time ();
    double elapsed;
    Tally tally;

    g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
    send_burst (alice, 2, 300, &tally);
    elapsed = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
    g_test_message ("timeline pages: %u answered, %u refused in %.2f s", tally.ok, tally.refused, elapsed);
    g_assert_cmpuint (tally.ok, >=, 95);  /* 0.1 is not exact in binary */
    g_assert_cmpuint (tally.ok, <=, 100 + (guint) (10 * elapsed) + 1);
    g_assert_cmpuint (tally.refused, >=, 1);
    /* Other queries still cost a whole token. */
    send_burst (alice, FALSE, 1, &tally);
    g_assert_cmpuint (tally.refused, ==, 1);
  }
}

/* 300 conversations whose latest messages are 128 KiB each (texts and
 * image thumbnails): one page holds them all, well within the frame limit,
 * each with a preview of at most 1 KiB that still says what it was. */
static void
test_conversation_previews (void)
{
  const char * const args[] = { "--app-setting", "send-rate=0", NULL };
  g_autoptr(NatterTestServer) server = natter_test_server_new_full (NULL, args);
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(NatterFrame) page = NULL;
  g_autofree char *cursor = NULL;
  Natter__ConversationListResult *list;
  const guint n = 300;
  gint64 start;
  guint pages = 0, seen = 0;

  while (text->len < NATTER_CONTENT_MAX_SIZE - 256)
    g_string_append (text, "今天的会议改到下午三点 meeting moved to 3pm. ");

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *target = g_strdup_printf ("u%u", i);
      g_autofree char *content = NULL;
      gboolean image = i % 10 == 0;

      content = image ? g_strdup_printf ("{\"content\":\"%s\",\"imageUri\":\"http://127.0.0.1/media/%u.jpg\"}",
                                         text->str, i)
                      : g_strdup_printf ("{\"content\":\"%u %s\"}", i, text->str);
      g_assert_cmpuint (strlen (content), <=, NATTER_CONTENT_MAX_SIZE);
      g_ptr_array_add (ids, natter_test_client_publish (alice, 1, target, image ? "RC:ImgMsg" : "RC:TxtMsg",
                                                        content));
    }
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(NatterFrame) ack = natter_test_client_wait_ack (alice, g_ptr_array_index (ids, i));

      g_assert_cmpint (ack->publish_ack->code, ==, 0);
    }

  start = g_get_monotonic_time ();
  page = conversations (alice, 1000, NULL, NULL, 0);
  g_test_message ("conversation list of %u latest messages of 128 KiB: %.1f ms, %" G_GSIZE_FORMAT " bytes",
                  n, (double) (g_get_monotonic_time () - start) / 1000, natter__frame__get_packed_size (page));
  g_assert_cmpint (page->result->code, ==, 0);
  list = page->result->conversation_list;
  g_assert_cmpuint (list->n_conversations, ==, n);
  g_assert_cmpstr (list->next_cursor, ==, "");
  g_assert_cmpuint (natter__frame__get_packed_size (page), <=, NATTER_FRAME_MAX_SIZE / 2);

  for (guint i = 0; i < n; i++)
    {
      Natter__Message *latest = list->conversations[i]->latest_message;
      g_autoptr(JsonNode) node = natter_json_parse (latest->content, -1, NULL);
      JsonObject *content = json_node_get_object (node);
      guint index = (guint) g_ascii_strtoull (list->conversations[i]->target_id + 1, NULL, 10);

      g_assert_true (latest->flags & NATTER_MESSAGE_FLAG_PREVIEW);
      g_assert_true (latest->flags & NATTER_MESSAGE_FLAG_PERSISTED);
      g_assert_cmpuint (strlen (latest->content), <=, NATTER_PREVIEW_MAX_SIZE);
      g_assert_cmpuint (strlen (latest->message_uid), >, 0);
      if (g_str_equal (latest->object_name, "RC:ImgMsg"))
        {
          g_autofree char *uri = g_strdup_printf ("http://127.0.0.1/media/%u.jpg", index);

          g_assert_false (json_object_has_member (content, "content"));
          g_assert_cmpstr (json_object_get_string_member (content, "imageUri"), ==, uri);
        }
      else
        {
          g_autofree char *start_text = g_strdup_printf ("%u 今天的会议改到下午三点 meeting", index);

          g_assert_true (g_str_has_prefix (json_object_get_string_member (content, "content"), start_text));
        }
    }

  /* Smaller pages still page through all of them. */
  cursor = g_strdup ("");
  do
    {
      g_autoptr(NatterFrame) part = conversations (alice, 128, cursor, NULL, 0);

      seen += part->result->conversation_list->n_conversations;
      pages++;
      g_free (cursor);
      cursor = g_strdup (part->result->conversation_list->next_cursor);
    }
  while (*cursor != '\0');
  g_assert_cmpuint (seen, ==, n);
  g_assert_cmpuint (pages, ==, 3);
}

static NatterFrame *
edit (NatterTestClient *client,
      NatterFrame      *ack,
      const char       *target,
      const char       *content)
{
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__EditRequest request = NATTER__EDIT_REQUEST__INIT;

  request.message_uid = ack->publish_ack->message_uid;
  request.conversation_type = 1;
  request.target_id = (char *) target;
  request.sent_time = ack->publish_ack->sent_time;
  request.content = (char *) content;
  query.method_case = NATTER__QUERY__METHOD_EDIT;
  query.edit = &request;
  return natter_test_client_query (client, &query);
}

/* Edit: the sender's text only, stored for everyone with editedTime, and
 * NT:EditCmd delivered to every participant device, offline ones too. */
static void
test_edit (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterTestClient) bob = natter_test_client_new_user (server, "bob", "b1");
  g_autoptr(NatterFrame) ack = natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg", "{\"content\":\"teh typo\"}");
  g_autoptr(NatterFrame) image = natter_test_client_send_message (alice, 1, "bob", "RC:ImgMsg",
                                                                  "{\"content\":\"\",\"imageUri\":\"http://x\"}");
  g_autoptr(NatterFrame) result = NULL;
  g_autoptr(NatterFrame) page = NULL;
  g_autoptr(NatterFrame) command = NULL;
  g_autoptr(NatterTestClient) carol = NULL;

  natter_frame_free (natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS));
  natter_frame_free (natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS));
  /* bob goes offline: the edit waits for him. */
  natter_test_client_free (g_steal_pointer (&bob));

  /* Someone else's message. */
  carol = natter_test_client_new_user (server, "carol", "c1");
  result = edit (carol, ack, "alice", "{\"content\":\"mine now\"}");
  g_assert_cmpint (result->result->code, ==, 25102);
  g_clear_pointer (&result, natter_frame_free);
  /* Not a text message. */
  result = edit (alice, image, "bob", "{\"content\":\"x\"}");
  g_assert_cmpint (result->result->code, ==, 25102);
  g_clear_pointer (&result, natter_frame_free);
  /* Not a content object. */
  result = edit (alice, ack, "bob", "[1]");
  g_assert_cmpint (result->result->code, ==, 33003);
  g_clear_pointer (&result, natter_frame_free);

  result = edit (alice, ack, "bob", "{\"content\":\"the typo, fixed\"}");
  g_assert_cmpint (result->result->code, ==, 0);
  g_assert_cmpstr (result->result->edit->edit_command->object_name, ==, "NT:EditCmd");
  g_assert_nonnull (strstr (result->result->edit->edit_command->content, ack->publish_ack->message_uid));
  g_assert_nonnull (strstr (result->result->edit->edit_command->content, "the typo, fixed"));
  g_clear_pointer (&result, natter_frame_free);

  /* bob's device replays what it did not ack, the edit last. */
  bob = natter_test_client_new_user (server, "bob", "b1");
  for (guint i = 0; i < 3; i++)
    {
      g_clear_pointer (&command, natter_frame_free);
      command = natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
      g_assert_nonnull (command);
    }
  g_assert_true (command->deliver->offline);
  g_assert_cmpstr (command->deliver->message->object_name, ==, "NT:EditCmd");
  g_assert_nonnull (strstr (command->deliver->message->content, "the typo, fixed"));

  /* Newest first: the NT:EditCmd, the image, the edited text. */
  page = history (bob, 1, "alice", 0, 20);
  g_assert_cmpuint (page->result->history->n_messages, ==, 3);
  g_assert_cmpstr (page->result->history->messages[0]->object_name, ==, "NT:EditCmd");
  g_assert_cmpstr (page->result->history->messages[2]->message_uid, ==, ack->publish_ack->message_uid);
  g_assert_cmpstr (page->result->history->messages[2]->object_name, ==, "RC:TxtMsg");
  g_assert_nonnull (strstr (page->result->history->messages[2]->content, "\"the typo, fixed\""));
  g_assert_nonnull (strstr (page->result->history->messages[2]->content, "\"editedTime\""));
}

/* A reply's text is edited like a text's; what it quotes stays, whatever
 * the edit says (#16). */
static void
test_edit_reply (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterFrame) ack =
    natter_test_client_send_message (alice, 1, "bob", "RC:ReferenceMsg",
                                     "{\"content\":\"at noun\",\"referMsgUserId\":\"bob\",\"objName\":\"RC:TxtMsg\","
                                     "\"referMsg\":{\"content\":\"lunch?\"}}");
  g_autoptr(NatterFrame) result = NULL;
  g_autoptr(NatterFrame) page = NULL;
  const char *content;

  result = edit (alice, ack, "bob", "{\"content\":\"at noon\",\"referMsg\":{\"content\":\"forged\"}}");
  g_assert_cmpint (result->result->code, ==, 0);
  page = history (alice, 1, "bob", 0, 20);
  g_assert_cmpuint (page->result->history->n_messages, ==, 2);
  g_assert_cmpstr (page->result->history->messages[1]->object_name, ==, "RC:ReferenceMsg");
  content = page->result->history->messages[1]->content;
  g_assert_nonnull (strstr (content, "\"at noon\""));
  g_assert_nonnull (strstr (content, "\"referMsg\":{\"content\":\"lunch?\"}"));
  g_assert_nonnull (strstr (content, "\"referMsgUserId\":\"bob\""));
  g_assert_null (strstr (content, "forged"));
}

static void
test_edit_window (void)
{
  const char * const args[] = { "--app-setting", "edit-window=1", NULL };
  g_autoptr(NatterTestServer) server = natter_test_server_new_full (NULL, args);
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterFrame) ack = natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg", "{\"content\":\"x\"}");
  g_autoptr(NatterFrame) result = NULL;
  g_autoptr(NatterTestServer) never = NULL;
  g_autoptr(NatterTestClient) dave = NULL;
  g_autoptr(NatterFrame) dave_ack = NULL;

  g_usleep (1500 * 1000);
  result = edit (alice, ack, "bob", "{\"content\":\"y\"}");
  g_assert_cmpint (result->result->code, ==, 25103);
  g_clear_pointer (&result, natter_frame_free);

  /* 0: never. */
  never = natter_test_server_new_full (NULL, (const char * const[]) { "--app-setting", "edit-window=0", NULL });
  dave = natter_test_client_new_user (never, "dave", "d1");
  dave_ack = natter_test_client_send_message (dave, 1, "bob", "RC:TxtMsg", "{\"content\":\"x\"}");
  result = edit (dave, dave_ack, "bob", "{\"content\":\"y\"}");
  g_assert_cmpint (result->result->code, ==, 25102);
}

static NatterFrame *
expand (NatterTestClient   *client,
        NatterFrame        *ack,
        int                 type,
        const char         *target,
        const char * const *set,
        const char * const *remove)
{
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__ExpansionRequest request = NATTER__EXPANSION_REQUEST__INIT;
  g_autofree Natter__ExpansionEntry *entries = NULL;
  g_autofree Natter__ExpansionEntry **entry_pointers = NULL;
  gsize n_set = set != NULL ? g_strv_length ((char **) set) / 2 : 0;

  entries = g_new0 (Natter__ExpansionEntry, n_set + 1);
  entry_pointers = g_new0 (Natter__ExpansionEntry *, n_set + 1);
  for (gsize i = 0; i < n_set; i++)
    {
      natter__expansion_entry__init (&entries[i]);
      entries[i].key = (char *) set[2 * i];
      entries[i].value = (char *) set[2 * i + 1];
      entry_pointers[i] = &entries[i];
    }
  request.message_uid = ack->publish_ack->message_uid;
  request.conversation_type = type;
  request.target_id = (char *) target;
  request.n_set = n_set;
  request.set = entry_pointers;
  request.n_remove = remove != NULL ? g_strv_length ((char **) remove) : 0;
  request.remove = (char **) remove;
  query.method_case = NATTER__QUERY__METHOD_EXPANSION;
  query.expansion = &request;
  return natter_test_client_query (client, &query);
}

/* Expansion: any participant sets and removes keys of a message sent with
 * an "expansion" object; every update reaches offline devices in order and
 * history returns the message's current expansion. */
static void
test_expansion (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterTestClient) bob = natter_test_client_new_user (server, "bob", "b1");
  g_autoptr(NatterFrame) ack = natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg",
                                                                "{\"content\":\"hi\",\"expansion\":{}}");
  g_autoptr(NatterFrame) plain = natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg", "{\"content\":\"x\"}");
  g_autoptr(NatterFrame) result = NULL;
  g_autoptr(NatterFrame) page = NULL;
  g_autoptr(NatterFrame) command = NULL;
  g_autoptr(NatterTestClient) carol = NULL;
  g_autoptr(GPtrArray) many = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *big = g_strnfill (4097, 'v');
  g_autofree char *longest_value = g_strnfill (4096, 'v');
  g_autofree char *longest_key = g_strnfill (32, 'k');
  g_autofree char *long_key = g_strnfill (33, 'k');

  natter_frame_free (natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS));
  natter_frame_free (natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS));
  /* alice goes offline: bob's updates wait for her. */
  natter_test_client_free (g_steal_pointer (&alice));

  /* Not enabled; not a participant; a chatroom. */
  result = expand (bob, plain, 1, "alice", (const char *[]) { "k", "v", NULL }, NULL);
  g_assert_cmpint (result->result->code, ==, 25104);
  g_clear_pointer (&result, natter_frame_free);
  carol = natter_test_client_new_user (server, "carol", "c1");
  result = expand (carol, ack, 1, "alice", (const char *[]) { "k", "v", NULL }, NULL);
  g_assert_cmpint (result->result->code, ==, 25104);
  g_clear_pointer (&result, natter_frame_free);
  result = expand (bob, ack, 4, "room", (const char *[]) { "k", "v", NULL }, NULL);
  g_assert_cmpint (result->result->code, ==, 33003);
  g_clear_pointer (&result, natter_frame_free);
  /* Frame limits: a bad key, a long value, 21 keys. */
  result = expand (bob, ack, 1, "alice", (const char *[]) { "no/slash", "v", NULL }, NULL);
  g_assert_cmpint (result->result->code, ==, 33003);
  g_clear_pointer (&result, natter_frame_free);
  result = expand (bob, ack, 1, "alice", (const char *[]) { "k", big, NULL }, NULL);
  g_assert_cmpint (result->result->code, ==, 33003);
  g_clear_pointer (&result, natter_frame_free);
  result = expand (bob, ack, 1, "alice", (const char *[]) { long_key, "v", NULL }, NULL);
  g_assert_cmpint (result->result->code, ==, 33003);
  g_clear_pointer (&result, natter_frame_free);
  /* A 32-character key, a 4,096-byte value, each character RongCloud
   * allows: past the frame checks (to the message without expansion). */
  result = expand (bob, plain, 1, "alice", (const char *[]) { longest_key, longest_value, "Az09+=_-", "v", NULL },
                   NULL);
  g_assert_cmpint (result->result->code, ==, 25104);
  g_clear_pointer (&result, natter_frame_free);
  for (guint i = 0; i < 21; i++)
    {
      g_ptr_array_add (many, g_strdup_printf ("k%u", i));
      g_ptr_array_add (many, g_strdup ("v"));
    }
  g_ptr_array_add (many, NULL);
  result = expand (bob, ack, 1, "alice", (const char * const *) many->pdata, NULL);
  g_assert_cmpint (result->result->code, ==, 33003);
  g_clear_pointer (&result, natter_frame_free);
  result = expand (bob, ack, 1, "alice", (const char *[]) { "r1", "[\"bob\"]", "r2", "x", NULL }, NULL);
  g_assert_cmpint (result->result->code, ==, 0);
  g_assert_cmpstr (result->result->expansion->expansion_command->object_name, ==, "NT:ExpansionCmd");
  g_assert_nonnull (strstr (result->result->expansion->expansion_command->content, ack->publish_ack->message_uid));
  g_clear_pointer (&result, natter_frame_free);
  result = expand (bob, ack, 1, "alice", NULL, (const char *[]) { "r2", NULL });
  g_assert_cmpint (result->result->code, ==, 0);
  g_clear_pointer (&result, natter_frame_free);

  /* alice's device replays both updates, in order. */
  alice = natter_test_client_new_user (server, "alice", "a1");
  command = natter_test_client_expect (alice, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
  g_assert_cmpstr (command->deliver->message->object_name, ==, "NT:ExpansionCmd");
  g_assert_nonnull (strstr (command->deliver->message->content, "\"set\":{\"r1\":\"[\\\"bob\\\"]\",\"r2\":\"x\"}"));
  g_clear_pointer (&command, natter_frame_free);
  command = natter_test_client_expect (alice, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
  g_assert_cmpstr (command->deliver->message->object_name, ==, "NT:ExpansionCmd");
  g_assert_nonnull (strstr (command->deliver->message->content, "\"remove\":[\"r2\"]"));

  page = history (alice, 1, "bob", 0, 20);
  g_assert_cmpuint (page->result->history->n_messages, ==, 4);
  g_assert_cmpstr (page->result->history->messages[3]->message_uid, ==, ack->publish_ack->message_uid);
  g_assert_nonnull (strstr (page->result->history->messages[3]->content, "\"expansion\":{\"r1\":\"[\\\"bob\\\"]\"}"));
  g_clear_pointer (&page, natter_frame_free);

  /* An edit keeps the expansion. */
  result = edit (alice, ack, "bob", "{\"content\":\"hello\"}");
  g_assert_cmpint (result->result->code, ==, 0);
  page = history (alice, 1, "bob", 0, 20);
  g_assert_cmpstr (page->result->history->messages[4]->message_uid, ==, ack->publish_ack->message_uid);
  g_assert_nonnull (strstr (page->result->history->messages[4]->content, "\"hello\""));
  g_assert_nonnull (strstr (page->result->history->messages[4]->content, "\"expansion\":{\"r1\""));
}

static void
test_expansion_max_keys (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterFrame) ack = natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg",
                                                                "{\"content\":\"hi\",\"expansion\":{}}");
  g_autoptr(NatterFrame) result = NULL;

  /* 300 keys per message: 15 updates of 20, then one more key. */
  for (guint u = 0; u < 15; u++)
    {
      g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);

      for (guint i = 0; i < 20; i++)
        {
          g_ptr_array_add (keys, g_strdup_printf ("n%u", u * 20 + i));
          g_ptr_array_add (keys, g_strdup ("1"));
        }
      g_ptr_array_add (keys, NULL);
      result = expand (alice, ack, 1, "bob", (const char * const *) keys->pdata, NULL);
      g_assert_cmpint (result->result->code, ==, 0);
      g_clear_pointer (&result, natter_frame_free);
    }
  result = expand (alice, ack, 1, "bob", (const char *[]) { "one-more", "1", NULL }, NULL);
  g_assert_cmpint (result->result->code, ==, 25105);
  g_clear_pointer (&result, natter_frame_free);
  /* Replacing a key keeps 300. */
  result = expand (alice, ack, 1, "bob", (const char *[]) { "n0", "2", NULL }, NULL);
  g_assert_cmpint (result->result->code, ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/server/queries/history", test_history);
  g_test_add_func ("/server/queries/large-pages", test_large_pages);
  g_test_add_func ("/server/queries/conversations", test_conversations);
  g_test_add_func ("/server/queries/recall", test_recall);
  g_test_add_func ("/server/queries/recall-window", test_recall_window);
  g_test_add_func ("/server/queries/online-and-turn", test_online_and_turn);
  g_test_add_func ("/server/queries/profiles", test_profiles);
  g_test_add_func ("/server/queries/online-blacklist", test_online_blacklist);
  g_test_add_func ("/server/queries/edit", test_edit);
  g_test_add_func ("/server/queries/edit-reply", test_edit_reply);
  g_test_add_func ("/server/queries/edit-window", test_edit_window);
  g_test_add_func ("/server/queries/expansion", test_expansion);
  g_test_add_func ("/server/queries/expansion-max-keys", test_expansion_max_keys);
  g_test_add_func ("/server/queries/caps", test_caps);
  g_test_add_func ("/server/queries/limits", test_query_limits);
  g_test_add_func ("/server/queries/conversation-previews", test_conversation_previews);

  return g_test_run ();
}
