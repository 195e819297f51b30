/* test-bad-input.c — natterd: bad input gets its code, natterd keeps serving
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-test-client.h"

#include <libsoup/soup.h>
#include <string.h>

/* natterd still serves a fresh client after each refusal. */
static void
assert_still_serving (NatterTestServer *server)
{
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "check");
  g_autoptr(NatterFrame) ack = natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg",
                                                                "{\"content\":\"still here\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);
}

static NatterTestClient *
connected (NatterTestServer *server)
{
  return natter_test_client_new_user (server, "mallory", "m1");
}

static GBytes *
pack (const NatterFrame *frame)
{
  gsize size = natter__frame__get_packed_size (frame);
  guint8 *data = g_malloc (size);

  /* Packed without natter_frame_encode() checks, as a broken client would. */
  natter__frame__pack (frame, data);
  return g_bytes_new_take (data, size);
}

static void
test_oversize_frame (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) client = connected (server);
  gsize size = NATTER_FRAME_MAX_SIZE + 1024;
  g_autoptr(GBytes) big = g_bytes_new_take (g_malloc0 (size), size);

  natter_test_client_send_bytes (client, big);
  g_assert_cmpuint (natter_test_client_wait_closed (client, NATTER_TEST_TIMEOUT_MS), ==,
                    SOUP_WEBSOCKET_CLOSE_TOO_BIG);
  g_assert_true (g_str_has_prefix (natter_test_client_get_close_reason (client), "30016"));
  assert_still_serving (server);
}

static void
test_garbage (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  const guint8 garbage[] = { 0xff, 0xff, 0xff, 0xff, 0x0f, 0x42, 0x13 };

  /* Before and after Connect. */
  for (guint round = 0; round < 2; round++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(NatterTestClient) client = round == 0 ? natter_test_client_open (server, &error) : connected (server);
      g_autoptr(GBytes) bytes = g_bytes_new_static (garbage, sizeof garbage);

      g_assert_no_error (error);
      natter_test_client_send_bytes (client, bytes);
      g_assert_cmpuint (natter_test_client_wait_closed (client, NATTER_TEST_TIMEOUT_MS), ==,
                        SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
      g_assert_true (g_str_has_prefix (natter_test_client_get_close_reason (client), "33003"));
    }

  /* A text frame. */
  {
    g_autoptr(NatterTestClient) client = connected (server);

    natter_test_client_send_text (client, "{\"hello\":1}");
    g_assert_cmpuint (natter_test_client_wait_closed (client, NATTER_TEST_TIMEOUT_MS), ==,
                      SOUP_WEBSOCKET_CLOSE_UNSUPPORTED_DATA);
  }

  /* A frame only servers send. */
  {
    g_autoptr(NatterTestClient) client = connected (server);
    NatterFrame frame = NATTER__FRAME__INIT;
    Natter__Kick kick = NATTER__KICK__INIT;
    g_autoptr(GBytes) bytes = NULL;

    kick.code = 31010;
    frame.body_case = NATTER__FRAME__BODY_KICK;
    frame.kick = &kick;
    bytes = pack (&frame);
    natter_test_client_send_bytes (client, bytes);
    g_assert_cmpuint (natter_test_client_wait_closed (client, NATTER_TEST_TIMEOUT_MS), ==,
                      SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
  }

  assert_still_serving (server);
}

static void
test_in_context (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) client = connected (server);
  const char *bad_targets[] = {
    "a'; DROP TABLE users;--",
    "../../etc/passwd",
    "a/b",
    "",
    "0123456789012345678901234567890123456789012345678901234567890123456789",
  };

  /* Ids with SQL or path characters never reach the store. */
  for (guint i = 0; i < G_N_ELEMENTS (bad_targets); i++)
    {
      g_autofree char *id = g_strdup_printf ("bad%u", i);
      g_autoptr(NatterFrame) ack = NULL;

      natter_test_client_publish_full (client, id, 1, bad_targets[i], "RC:TxtMsg", "{\"content\":\"x\"}", 0);
      ack = natter_test_client_wait_ack (client, id);
      g_assert_cmpint (ack->publish_ack->code, ==, 33003);
    }

  /* Invalid UTF-8 in content, answered in context. */
  {
    NatterFrame frame = NATTER__FRAME__INIT;
    Natter__Publish publish = NATTER__PUBLISH__INIT;
    g_autoptr(GBytes) bytes = NULL;
    g_autoptr(NatterFrame) ack = NULL;

    publish.client_msg_id = (char *) "utf8";
    publish.conversation_type = 1;
    publish.target_id = (char *) "bob";
    publish.object_name = (char *) "RC:TxtMsg";
    publish.content = (char *) "{\"content\":\"\xc3\x28\"}";
    frame.body_case = NATTER__FRAME__BODY_PUBLISH;
    frame.publish = &publish;
    bytes = pack (&frame);
    natter_test_client_send_bytes (client, bytes);
    ack = natter_test_client_wait_ack (client, "utf8");
    g_assert_cmpint (ack->publish_ack->code, ==, 33003);
  }

  /* An invalid query gets its Result. */
  {
    Natter__Query query = NATTER__QUERY__INIT;
    Natter__OnlineStatusRequest online = NATTER__ONLINE_STATUS_REQUEST__INIT;
    g_autoptr(NatterFrame) result = NULL;

    query.method_case = NATTER__QUERY__METHOD_ONLINE_STATUS;
    query.online_status = &online;
    result = natter_test_client_query (client, &query);
    g_assert_cmpint (result->result->code, ==, 33003);
  }

  /* Conversation type out of range. */
  {
    g_autoptr(NatterFrame) ack = NULL;

    natter_test_client_publish_full (client, "type9", 9, "bob", "RC:TxtMsg", "{\"content\":\"x\"}", 0);
    ack = natter_test_client_wait_ack (client, "type9");
    g_assert_cmpint (ack->publish_ack->code, ==, 33003);
  }

  g_assert_true (natter_test_client_is_open (client));
  assert_still_serving (server);
}

static void
test_bad_connect (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(GString) long_token = g_string_new (NULL);

  while (long_token->len <= NATTER_TOKEN_MAX_LENGTH)
    g_string_append (long_token, "abcdefgh");

  for (guint round = 0; round < 3; round++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(NatterTestClient) client = natter_test_client_open (server, &error);
      int code;

      g_assert_no_error (error);
      if (round == 0)
        code = natter_test_client_connect (client, natter_test_server_get_app_key (server), long_token->str, "d", 0);
      else if (round == 1)
        code = natter_test_client_connect (client, "bad key!", "x.y", "d", 0);
      else
        code = natter_test_client_connect (client, natter_test_server_get_app_key (server), "x.y", "bad device/", 0);
      g_assert_cmpint (code, ==, round == 0 ? 31004 : round == 1 ? 31002 : 33003);
      g_assert_cmpuint (natter_test_client_wait_closed (client, NATTER_TEST_TIMEOUT_MS), !=, 0);
    }
  assert_still_serving (server);
}

static void
test_http (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(SoupSession) session = soup_session_new ();
  const char *paths[] = {
    "/media/x/../../natterd.db",
    "/history/nosuchapp/2020010100-0123456789abcdef.json.gz",
    "/media/upload",
    "/nothing",
  };

  for (guint i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      g_autofree char *url = g_strconcat (natter_test_server_get_url (server), paths[i], NULL);
      g_autoptr(SoupMessage) message = soup_message_new ("GET", url);
      g_autoptr(GBytes) body = soup_session_send_and_read (session, message, NULL, NULL);

      g_assert_cmpuint (soup_message_get_status (message), >=, 400);
      g_assert_cmpuint (soup_message_get_status (message), <, 500);
    }
  assert_still_serving (server);
}

/* Posts 5 MiB of form data, with a Content-Length or chunked. */
static void
post_big (NatterTestServer *server,
          gboolean          chunked)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autofree char *url = g_strdup_printf ("%s/user/getToken.json", natter_test_server_get_url (server));
  g_autoptr(SoupMessage) message = soup_message_new ("POST", url);
  gsize size = 5 * 1024 * 1024;
  g_autoptr(GBytes) big = g_bytes_new_take (g_malloc0 (size), size);
  g_autoptr(GInputStream) stream = g_memory_input_stream_new_from_bytes (big);
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *nonce = g_strdup_printf ("big-%u", g_random_int ());
  g_autofree char *stamp = g_strdup_printf ("%" G_GINT64_FORMAT, g_get_real_time () / G_USEC_PER_SEC);
  g_autofree char *signature = natter_test_api_signature (natter_test_server_get_app_secret (server), nonce, stamp);
  SoupMessageHeaders *headers = soup_message_get_request_headers (message);

  soup_message_headers_append (headers, "App-Key", natter_test_server_get_app_key (server));
  soup_message_headers_append (headers, "Nonce", nonce);
  soup_message_headers_append (headers, "Timestamp", stamp);
  soup_message_headers_append (headers, "Signature", signature);
  soup_message_set_request_body (message, "application/x-www-form-urlencoded", stream,
                                 chunked ? -1 : (gssize) size);
  body = soup_session_send_and_read (session, message, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (message), ==, 413);
  g_assert_nonnull (g_strstr_len (g_bytes_get_data (body, NULL), (gssize) g_bytes_get_size (body), "1005"));
}

static void
test_huge_api_body (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();

  /* Bodies over the limit are dropped as they arrive, never held. */
  post_big (server, FALSE);
  post_big (server, TRUE);
  assert_still_serving (server);
}

/* `{"a":` and 80,000 '[': json-glib 1.6 recursed once per bracket and
 * natterd died of it (SIGSEGV) on one unauthenticated frame. */
static char *
deep_json (void)
{
  g_autoptr(GString) deep = g_string_new ("{\"a\":");

  for (guint i = 0; i < 80000; i++)
    g_string_append_c (deep, '[');
  return g_string_free (g_steal_pointer (&deep), FALSE);
}

/* natterd still serves others: a message between two other users gets
 * through, and /metrics answers. */
static void
assert_others_served (NatterTestServer *server)
{
  g_autoptr(NatterTestClient) carol = natter_test_client_new_user (server, "carol", "c1");
  g_autoptr(NatterTestClient) dave = natter_test_client_new_user (server, "dave", "d1");
  g_autoptr(NatterFrame) ack = natter_test_client_send_message (carol, 1, "dave", "RC:TxtMsg",
                                                                "{\"content\":\"after the bomb\"}");
  g_autoptr(NatterFrame) deliver = natter_test_client_expect (dave, NATTER__FRAME__BODY_DELIVER,
                                                              NATTER_TEST_TIMEOUT_MS);

  g_assert_cmpint (ack->publish_ack->code, ==, 0);
  g_assert_nonnull (deliver);
  g_assert_cmpstr (deliver->deliver->message->content, ==, "{\"content\":\"after the bomb\"}");
  g_assert_cmpuint (natter_test_server_get_metric (server, "natterd_bad_frames_total"), >=, 1);
}

static void
test_deep_json (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autofree char *deep = deep_json ();

  /* Before Connect: the first frame must be Connect; refused, closed. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(NatterTestClient) stranger = natter_test_client_open (server, &error);

    g_assert_no_error (error);
    natter_test_client_publish_full (stranger, "deep", 1, "bob", "RC:TxtMsg", deep, 0);
    g_assert_cmpuint (natter_test_client_wait_closed (stranger, NATTER_TEST_TIMEOUT_MS), ==,
                      SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
    g_assert_true (g_str_has_prefix (natter_test_client_get_close_reason (stranger), "33003"));
  }
  assert_others_served (server);

  /* After Connect: answered in context, the connection goes on. */
  {
    g_autoptr(NatterTestClient) client = connected (server);
    g_autoptr(NatterFrame) ack = NULL;
    g_autoptr(NatterFrame) next = NULL;

    natter_test_client_publish_full (client, "deep", 1, "bob", "RC:TxtMsg", deep, 0);
    ack = natter_test_client_wait_ack (client, "deep");
    g_assert_cmpint (ack->publish_ack->code, ==, NATTER_CODE_INVALID_PARAMETER);
    g_assert_cmpstr (ack->publish_ack->message_uid, ==, "");
    next = natter_test_client_send_message (client, 1, "bob", "RC:TxtMsg", "{\"content\":\"fine\"}");
    g_assert_cmpint (next->publish_ack->code, ==, 0);
    g_assert_true (natter_test_client_is_open (client));
  }
  assert_others_served (server);

  /* Through the server API. */
  {
    guint status = 0;
    g_autoptr(JsonObject) reply = natter_test_server_api (server, &status, "message/private/publish",
                                                          "fromUserId", "alice", "toUserId", "bob",
                                                          "objectName", "RC:TxtMsg", "content", deep,
                                                          NULL);

    g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, NATTER_API_BAD_PARAMETER);
  }
  assert_others_served (server);
}

/* A bad client_msg_id is refused like any bad field (33003), not with a
 * closed connection (the client's outbox would send it again forever);
 * the ack echoes the id as sent, when it is not too long, so the client
 * can match it. */
static void
test_bad_client_msg_id (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) client = connected (server);
  g_autofree char *long_id = g_strnfill (NATTER_ID_MAX_LENGTH + 1, 'i');
  g_autofree char *very_long_id = g_strnfill (NATTER_PUBLISH_ACK_ID_MAX_LENGTH + 1, 'v');
  struct {
    const char *sent;
    const char *echoed;
  } cases[] = {
    { "", "" },
    { long_id, long_id },
    { "bad id/", "bad id/" },
    { "x' OR '1'='1", "x' OR '1'='1" },
    { very_long_id, "" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(NatterFrame) ack = NULL;

      natter_test_client_publish_full (client, cases[i].sent, 1, "bob", "RC:TxtMsg", "{\"content\":\"x\"}", 0);
      ack = natter_test_client_wait_ack (client, cases[i].echoed);
      g_assert_cmpint (ack->publish_ack->code, ==, NATTER_CODE_INVALID_PARAMETER);
      g_assert_cmpstr (ack->publish_ack->message_uid, ==, "");
      g_assert_true (natter_test_client_is_open (client));
    }

  /* Invalid UTF-8 cannot come back: an empty id. */
  {
    NatterFrame frame = NATTER__FRAME__INIT;
    Natter__Publish publish = NATTER__PUBLISH__INIT;
    g_autoptr(GBytes) bytes = NULL;
    g_autoptr(NatterFrame) ack = NULL;

    publish.client_msg_id = (char *) "\xc3\x28";
    publish.conversation_type = 1;
    publish.target_id = (char *) "bob";
    publish.object_name = (char *) "RC:TxtMsg";
    publish.content = (char *) "{\"content\":\"x\"}";
    frame.body_case = NATTER__FRAME__BODY_PUBLISH;
    frame.publish = &publish;
    bytes = pack (&frame);
    natter_test_client_send_bytes (client, bytes);
    ack = natter_test_client_wait_ack (client, "");
    g_assert_cmpint (ack->publish_ack->code, ==, NATTER_CODE_INVALID_PARAMETER);
  }

  g_assert_true (natter_test_client_is_open (client));
  assert_still_serving (server);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/server/bad-input/oversize-frame", test_oversize_frame);
  g_test_add_func ("/server/bad-input/garbage", test_garbage);
  g_test_add_func ("/server/bad-input/in-context", test_in_context);
  g_test_add_func ("/server/bad-input/connect", test_bad_connect);
  g_test_add_func ("/server/bad-input/http", test_http);
  g_test_add_func ("/server/bad-input/huge-api-body", test_huge_api_body);
  g_test_add_func ("/server/bad-input/deep-json", test_deep_json);
  g_test_add_func ("/server/bad-input/client-msg-id", test_bad_client_msg_id);

  return g_test_run ();
}
