/* test-queries.c — natterd: history, conversation list, unread, pin/mute/
 * remove, recall, online status, TURN credentials
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-test-client.h"

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
 * refused or left unanswered: history says has_more, the conversation list
 * gives a cursor where it stopped, and paging gets everything. */
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
      g_free (cursor);
      cursor = g_strdup (list->next_cursor);
    }
  while (*cursor != '\0');
  g_assert_cmpuint (seen, ==, 21);
  g_assert_cmpuint (pages, >, 2);
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

  return g_test_run ();
}
