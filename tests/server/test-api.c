/* test-api.c — natterd: the server API, its signature checks and every path
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-test-admin.h"
#include "natter-test-client.h"

#include <libsoup/soup.h>
#include <string.h>

#define assert_code(reply, expected) \
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, expected)

/* A request signed (or not) by hand. */
static JsonObject *
raw_request (NatterTestServer *server,
             const char       *method,
             const char       *path,
             const char       *prefix,
             const char       *app_key,
             const char       *secret,
             const char       *nonce,
             const char       *timestamp,
             const char       *body,
             guint            *status)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autofree char *url = g_strdup_printf ("%s/%s", natter_test_server_get_url (server), path);
  g_autoptr(SoupMessage) message = soup_message_new (method, url);
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  SoupMessageHeaders *headers = soup_message_get_request_headers (message);
  g_autofree char *signature = NULL;

#define H(name, value) \
  if (value != NULL) \
    { \
      g_autofree char *full = g_strconcat (prefix, name, NULL); \
      soup_message_headers_append (headers, full, value); \
    }
  H ("App-Key", app_key);
  H ("Nonce", nonce);
  H ("Timestamp", timestamp);
  if (secret != NULL && nonce != NULL && timestamp != NULL)
    {
      signature = natter_test_api_signature (secret, nonce, timestamp);
      H ("Signature", signature);
    }
#undef H

  if (body != NULL)
    {
      g_autoptr(GBytes) bytes = g_bytes_new (body, strlen (body));
      soup_message_set_request_body_from_bytes (message, "application/x-www-form-urlencoded", bytes);
    }

  reply = soup_session_send_and_read (session, message, NULL, &error);
  g_assert_no_error (error);
  *status = soup_message_get_status (message);
  json_parser_load_from_data (parser, g_bytes_get_data (reply, NULL), (gssize) g_bytes_get_size (reply), &error);
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static char *
now_seconds (gint64 offset)
{
  return g_strdup_printf ("%" G_GINT64_FORMAT, g_get_real_time () / G_USEC_PER_SEC + offset);
}

static void
test_signatures (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  const char *key = natter_test_server_get_app_key (server);
  const char *secret = natter_test_server_get_app_secret (server);
  g_autofree char *now = now_seconds (0);
  g_autofree char *now_ms = g_strdup_printf ("%" G_GINT64_FORMAT, g_get_real_time () / 1000);
  g_autofree char *old = now_seconds (-400);
  g_autofree char *future = now_seconds (400);
  const char *body = "userId=alice";
  JsonObject *reply;
  guint status = 0;

  /* Good, with RC- prefixed headers, with milliseconds. */
  reply = raw_request (server, "POST", "user/getToken.json", "", key, secret, "n1", now, body, &status);
  assert_code (reply, 200);
  g_assert_cmpuint (status, ==, 200);
  json_object_unref (reply);
  reply = raw_request (server, "POST", "user/getToken.json", "RC-", key, secret, "n2", now, body, &status);
  assert_code (reply, 200);
  json_object_unref (reply);
  reply = raw_request (server, "POST", "user/getToken.json", "", key, secret, "n3", now_ms, body, &status);
  assert_code (reply, 200);
  json_object_unref (reply);

  /* Reused nonce. */
  reply = raw_request (server, "POST", "user/getToken.json", "", key, secret, "n1", now, body, &status);
  assert_code (reply, 1004);
  g_assert_cmpuint (status, ==, 401);
  g_assert_nonnull (json_object_get_string_member (reply, "errorMessage"));
  json_object_unref (reply);

  /* Outside the window, both ways. */
  reply = raw_request (server, "POST", "user/getToken.json", "", key, secret, "n4", old, body, &status);
  assert_code (reply, 1004);
  json_object_unref (reply);
  reply = raw_request (server, "POST", "user/getToken.json", "", key, secret, "n5", future, body, &status);
  assert_code (reply, 1004);
  json_object_unref (reply);

  /* Wrong secret, missing signature, unknown app. */
  reply = raw_request (server, "POST", "user/getToken.json", "", key, "not-the-secret", "n6", now, body, &status);
  assert_code (reply, 1004);
  g_assert_cmpuint (status, ==, 401);
  json_object_unref (reply);
  reply = raw_request (server, "POST", "user/getToken.json", "", key, NULL, "n7", now, body, &status);
  assert_code (reply, 1004);
  json_object_unref (reply);
  reply = raw_request (server, "POST", "user/getToken.json", "", "nosuchapp", secret, "n8", now, body, &status);
  assert_code (reply, 1001);
  g_assert_cmpuint (status, ==, 401);
  json_object_unref (reply);

  /* Method, path, body. */
  reply = raw_request (server, "GET", "user/getToken.json", "", key, secret, "n9", now, NULL, &status);
  g_assert_cmpuint (status, ==, 405);
  json_object_unref (reply);
  reply = raw_request (server, "POST", "user/nothing.json", "", key, secret, "n10", now, body, &status);
  g_assert_cmpuint (status, ==, 404);
  json_object_unref (reply);
  reply = raw_request (server, "POST", "user/getToken.json", "", key, secret, "n11", now, "", &status);
  assert_code (reply, 1003);
  json_object_unref (reply);
}

static gboolean
store_idle (gpointer data)
{
  return natter_test_server_get_metric (data, "natterd_store_queue") == 0;
}

/* A nonce stays used across a restart: a request captured and replayed
 * within its 5 minutes is refused. One that changed something was answered
 * once that was durable, and so is its nonce (natterd is SIGKILLed right
 * after the reply); one that only read has its nonce written with the next
 * commit (SIGKILLed once that is done), and a clean stop loses none. */
/* natterd --rotate-secret: the new secret signs from the next SIGHUP on, the
 * old one keeps working for [server] secret-grace, restarts included, then
 * stops. */
static void
test_rotate_secret (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new_full ("[server]\nsecret-grace=6\n", NULL);
  g_autofree char *old = g_strdup (natter_test_server_get_app_secret (server));
  g_autoptr(JsonObject) rotated = NULL;
  g_autoptr(JsonObject) again = NULL;
  SecretTry attempt = { server, NULL };
  const char *secret;
  gint64 until;

  rotated = natter_test_admin_run (server, "--rotate-secret", natter_test_server_get_app_key (server), NULL);
  secret = json_object_get_string_member (rotated, "appSecret");
  until = json_object_get_int_member (rotated, "oldSecretValidUntil");
  g_assert_cmpstr (json_object_get_string_member (rotated, "appKey"), ==,
                   natter_test_server_get_app_key (server));
  g_assert_cmpuint (strlen (secret), ==, strlen (old));
  g_assert_cmpstr (secret, !=, old);
  /* secret-grace from now, in ms. */
  g_assert_cmpint (ABS (until - (g_get_real_time () / 1000 + 6000)), <, 2000);

  /* Not yet known to the running natterd; after SIGHUP it is. */
  g_assert_cmpint (natter_test_admin_try_secret (server, secret), ==, 1004);
  natter_test_admin_reload (server);
  attempt.secret = secret;
  g_assert_true (natter_test_wait (secret_accepted, &attempt, NATTER_TEST_TIMEOUT_MS));
  g_assert_cmpint (natter_test_admin_try_secret (server, old), ==, 200);
  g_assert_cmpint (natter_test_admin_try_secret (server, "neither"), ==, 1004);

  /* Both are on disk. */
  natter_test_server_stop (server);
  natter_test_server_restart (server);
  g_assert_cmpint (natter_test_admin_try_secret (server, secret), ==, 200);
  if (g_get_real_time () / 1000 < until - 500)
    g_assert_cmpint (natter_test_admin_try_secret (server, old), ==, 200);
  else
    g_test_message ("the restart took the whole grace period: old secret not tried before it");

  /* The grace period ends: the old secret is refused, the new one goes on. */
  while (g_get_real_time () / 1000 < until + 100)
    g_usleep (100 * 1000);
  g_assert_cmpint (natter_test_admin_try_secret (server, old), ==, 1004);
  g_assert_cmpint (natter_test_admin_try_secret (server, secret), ==, 200);

  /* Rotating again retires the first new secret (after its own grace). */
  again = natter_test_admin_run (server, "--rotate-secret", natter_test_server_get_app_key (server), NULL);
  natter_test_admin_reload (server);
  attempt.secret = json_object_get_string_member (again, "appSecret");
  g_assert_true (natter_test_wait (secret_accepted, &attempt, NATTER_TEST_TIMEOUT_MS));
  g_assert_cmpint (natter_test_admin_try_secret (server, secret), ==, 200);
  g_assert_cmpint (natter_test_admin_try_secret (server, old), ==, 1004);
}

static void
test_nonce_after_restart (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  const char *key = natter_test_server_get_app_key (server);
  const char *secret = natter_test_server_get_app_secret (server);
  g_autofree char *now = now_seconds (0);
  const struct {
    const char *path;
    const char *body;
    const char *nonce;
  } requests[] = {
    { "user/getToken.json", "userId=carol", "once-1" },       /* a new user: a change */
    { "user/checkOnline.json", "userId=alice", "once-2" },    /* a read */
    { "user/checkOnline.json", "userId=bob", "once-3" },
  };
  JsonObject *reply;
  guint status;

  for (guint i = 0; i < G_N_ELEMENTS (requests); i++)
    {
      reply = raw_request (server, "POST", requests[i].path, "", key, secret, requests[i].nonce, now,
                           requests[i].body, &status);
      assert_code (reply, 200);
      json_object_unref (reply);

      if (i == 1)
        g_assert_true (natter_test_wait (store_idle, server, 5000));
      if (i < 2)
        natter_test_server_kill (server);
      else
        natter_test_server_stop (server);
      natter_test_server_restart (server);
    }

  for (guint i = 0; i < G_N_ELEMENTS (requests); i++)
    {
      reply = raw_request (server, "POST", requests[i].path, "", key, secret, requests[i].nonce, now,
                           requests[i].body, &status);
      assert_code (reply, 1004);
      g_assert_cmpuint (status, ==, 401);
      g_assert_cmpstr (json_object_get_string_member (reply, "errorMessage"), ==, "Nonce already used");
      json_object_unref (reply);
    }

  /* A fresh nonce goes through. */
  reply = raw_request (server, "POST", "user/checkOnline.json", "", key, secret, "once-4", now,
                       "userId=alice", &status);
  assert_code (reply, 200);
  json_object_unref (reply);
}

static void
test_reused_nonce_setting (void)
{
  const char * const args[] = { "--app-setting", "allow-reused-nonce=true", NULL };
  g_autoptr(NatterTestServer) server = natter_test_server_new_full (NULL, args);
  const char *key = natter_test_server_get_app_key (server);
  const char *secret = natter_test_server_get_app_secret (server);
  /* Signed once, long ago, as some SDKs do at start-up. */
  const char *stamp = "1500000000";
  JsonObject *reply;
  guint status;

  for (guint i = 0; i < 3; i++)
    {
      reply = raw_request (server, "POST", "user/getToken.json", "", key, secret, "fixed", stamp,
                           "userId=alice", &status);
      assert_code (reply, 200);
      json_object_unref (reply);
    }
  /* The secret is still checked. */
  reply = raw_request (server, "POST", "user/getToken.json", "", key, "wrong", "fixed", stamp,
                       "userId=alice", &status);
  assert_code (reply, 1004);
  json_object_unref (reply);
}

static void
test_rate_limit (void)
{
  const char * const args[] = { "--app-setting", "api-rate=5", NULL };
  g_autoptr(NatterTestServer) server = natter_test_server_new_full (NULL, args);
  guint limited = 0;

  for (guint i = 0; i < 20; i++)
    {
      g_autoptr(JsonObject) reply = natter_test_server_api (server, NULL, "user/checkOnline",
                                                            "userId", "alice", NULL);
      if (json_object_get_int_member (reply, "code") == 1008)
        limited++;
    }
  g_assert_cmpuint (limited, >=, 10);
}

static void
test_parameters (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(GString) long_name = g_string_new (NULL);
  g_autoptr(GPtrArray) many = g_ptr_array_new_with_free_func (g_free);
  struct {
    const char *path;
    const char *name1, *value1, *name2, *value2;
    int code;
  } cases[] = {
    { "user/getToken", "name", "x", NULL, NULL, 1002 },                       /* no userId */
    { "user/getToken", "userId", "a'; DROP TABLE users;--", NULL, NULL, 1002 },
    { "user/getToken", "userId", "../../etc/passwd", NULL, NULL, 1002 },
    { "user/getToken", "userId", "0123456789012345678901234567890123456789012345678901234567890123456789", NULL, NULL, 1005 },
    { "user/token/expire", "userId", "alice", "time", "soon", 1501 },
    { "group/user/gag/add", "userId", "alice", "groupId", "g1", 1002 },      /* no minute */
    { "message/private/publish", "fromUserId", "alice", "toUserId", "bob", 1002 }, /* no objectName */
    { "message/history", "date", "2024133199", NULL, NULL, 1002 },
    { "chatroom/user/query", "chatroomId", "r1", "count", "1000", 1002 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(JsonObject) reply = natter_test_server_api (server, NULL, cases[i].path,
                                                            cases[i].name1, cases[i].value1,
                                                            cases[i].name2, cases[i].value2, NULL);
      if (json_object_get_int_member (reply, "code") != cases[i].code)
        g_error ("%s: expected %d, got %" G_GINT64_FORMAT, cases[i].path, cases[i].code,
                 json_object_get_int_member (reply, "code"));
    }

  /* Name over 128 bytes. */
  while (long_name->len <= 128)
    g_string_append (long_name, "名");
  {
    g_autoptr(JsonObject) reply = natter_test_server_api (server, NULL, "user/getToken", "userId", "bob",
                                                          "name", long_name->str, NULL);
    assert_code (reply, 1005);
  }

  /* Content must be a JSON object. */
  {
    g_autoptr(JsonObject) reply = natter_test_server_api (server, NULL, "message/private/publish",
                                                          "fromUserId", "alice", "toUserId", "bob",
                                                          "objectName", "RC:TxtMsg", "content", "hello",
                                                          NULL);
    assert_code (reply, 1002);
  }

  /* More than 20 users for token/expire. */
  {
    g_autoptr(GString) body = g_string_new (NULL);
    g_autofree char *now = now_seconds (0);
    JsonObject *reply;
    guint status;

    for (guint i = 0; i < 21; i++)
      g_string_append_printf (body, "%suserId=u%u", i ? "&" : "", i);
    g_string_append (body, "&time=1");
    reply = raw_request (server, "POST", "user/token/expire.json", "",
                         natter_test_server_get_app_key (server),
                         natter_test_server_get_app_secret (server), "many", now, body->str, &status);
    assert_code (reply, 1502);
    json_object_unref (reply);
  }

  /* Still serving. */
  {
    g_autofree char *token = natter_test_server_get_token (server, "alice");
    g_assert_nonnull (token);
  }
}

static void
test_users (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(JsonObject) reply = NULL;
  g_autoptr(NatterTestClient) alice = NULL;
  g_autoptr(NatterFrame) kick = NULL;

  reply = natter_test_server_api (server, NULL, "user/refresh", "userId", "nobody", "name", "N", NULL);
  assert_code (reply, 1002);
  g_clear_pointer (&reply, json_object_unref);

  alice = natter_test_client_new_user (server, "alice", "a1");
  reply = natter_test_server_api (server, NULL, "user/refresh", "userId", "alice", "name", "Alice",
                                  "portraitUri", "https://example.invalid/a.png", NULL);
  assert_code (reply, 200);
  g_clear_pointer (&reply, json_object_unref);

  reply = natter_test_server_api (server, NULL, "user/checkOnline", "userId", "alice", NULL);
  assert_code (reply, 200);
  g_assert_cmpstr (json_object_get_string_member (reply, "status"), ==, "1");
  g_clear_pointer (&reply, json_object_unref);
  reply = natter_test_server_api (server, NULL, "user/checkOnline", "userId", "bob", NULL);
  g_assert_cmpstr (json_object_get_string_member (reply, "status"), ==, "0");
  g_clear_pointer (&reply, json_object_unref);

  /* Blocking kicks the connection with 31009 and shows in the list. */
  reply = natter_test_server_api (server, NULL, "user/block", "userId", "alice", "minute", "5", NULL);
  assert_code (reply, 200);
  g_clear_pointer (&reply, json_object_unref);
  kick = natter_test_client_expect (alice, NATTER__FRAME__BODY_KICK, NATTER_TEST_TIMEOUT_MS);
  g_assert_nonnull (kick);
  g_assert_cmpint (kick->kick->code, ==, 31009);
  reply = natter_test_server_api (server, NULL, "user/block/query", "page", "1", NULL);
  assert_code (reply, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (reply, "users")), ==, 1);
  g_clear_pointer (&reply, json_object_unref);

  /* Revoking tokens kicks connections made with older tokens (31020). */
  {
    g_autoptr(NatterTestClient) bob = natter_test_client_new_user (server, "bob", "b1");
    g_autoptr(NatterFrame) expired = NULL;
    g_autofree char *time = g_strdup_printf ("%" G_GINT64_FORMAT, g_get_real_time () / 1000 + 1000);

    reply = natter_test_server_api (server, NULL, "user/token/expire", "userId", "bob", "time", time, NULL);
    assert_code (reply, 200);
    g_clear_pointer (&reply, json_object_unref);
    expired = natter_test_client_expect (bob, NATTER__FRAME__BODY_KICK, NATTER_TEST_TIMEOUT_MS);
    g_assert_nonnull (expired);
    g_assert_cmpint (expired->kick->code, ==, 31020);
  }
}

static void
test_blacklist (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(JsonObject) reply = NULL;
  g_autoptr(NatterFrame) ack = NULL;

  reply = natter_test_server_api (server, NULL, "user/blacklist/add", "userId", "bob",
                                  "blackUserId", "alice", NULL);
  assert_code (reply, 200);
  g_clear_pointer (&reply, json_object_unref);
  reply = natter_test_server_api (server, NULL, "user/blacklist/query", "userId", "bob", NULL);
  g_assert_cmpstr (json_array_get_string_element (json_object_get_array_member (reply, "users"), 0), ==, "alice");
  g_clear_pointer (&reply, json_object_unref);

  ack = natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg", "{\"content\":\"hi\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 405);
  g_clear_pointer (&ack, natter_frame_free);

  /* Survives a restart. */
  natter_test_server_kill (server);
  natter_test_server_restart (server);
  natter_test_client_free (g_steal_pointer (&alice));
  alice = natter_test_client_new_user (server, "alice", "a1");
  ack = natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg", "{\"content\":\"hi\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 405);
  g_clear_pointer (&ack, natter_frame_free);

  reply = natter_test_server_api (server, NULL, "user/blacklist/remove", "userId", "bob",
                                  "blackUserId", "alice", NULL);
  assert_code (reply, 200);
  ack = natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg", "{\"content\":\"hi\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);
}

static void
test_message_publish (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) bob = natter_test_client_new_user (server, "bob", "b1");
  g_autoptr(NatterTestClient) carol = natter_test_client_new_user (server, "carol", "c1");
  g_autoptr(JsonObject) reply = NULL;
  g_autoptr(NatterFrame) to_bob = NULL;
  g_autoptr(NatterFrame) to_carol = NULL;
  g_autoptr(NatterFrame) system = NULL;
  g_autoptr(NatterFrame) group = NULL;

  /* Private, to two users at once. */
  reply = natter_test_server_api (server, NULL, "message/private/publish", "fromUserId", "alice",
                                  "toUserId", "bob", "toUserId", "carol", "objectName", "RC:TxtMsg",
                                  "content", "{\"content\":\"from the app server\"}",
                                  "pushContent", "hello", NULL);
  assert_code (reply, 200);
  g_clear_pointer (&reply, json_object_unref);
  to_bob = natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
  to_carol = natter_test_client_expect (carol, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
  g_assert_nonnull (to_bob);
  g_assert_nonnull (to_carol);
  g_assert_cmpstr (to_bob->deliver->message->sender_user_id, ==, "alice");
  g_assert_cmpstr (to_bob->deliver->message->target_id, ==, "alice");
  g_assert_cmpstr (to_bob->deliver->message->push_content, ==, "hello");
  g_assert_cmpint (to_bob->deliver->message->conversation_type, ==, 1);

  /* System. */
  reply = natter_test_server_api (server, NULL, "message/system/publish", "fromUserId", "admin",
                                  "toUserId", "bob", "objectName", "RC:InfoNtf",
                                  "content", "{\"message\":\"welcome\"}", NULL);
  assert_code (reply, 200);
  g_clear_pointer (&reply, json_object_unref);
  system = natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
  g_assert_cmpint (system->deliver->message->conversation_type, ==, 6);
  g_assert_cmpstr (system->deliver->message->target_id, ==, "admin");
  g_assert_cmpuint (system->deliver->message->flags, ==, NATTER_MESSAGE_FLAG_PERSISTED);

  /* Group. */
  reply = natter_test_server_api (server, NULL, "group/create", "userId", "bob", "userId", "carol",
                                  "groupId", "g1", "groupName", "Group one", NULL);
  assert_code (reply, 200);
  g_clear_pointer (&reply, json_object_unref);
  reply = natter_test_server_api (server, NULL, "message/group/publish", "fromUserId", "carol",
                                  "toGroupId", "g1", "objectName", "RC:TxtMsg",
                                  "content", "{\"content\":\"to the group\"}", NULL);
  assert_code (reply, 200);
  g_clear_pointer (&reply, json_object_unref);
  group = natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
  g_assert_cmpint (group->deliver->message->conversation_type, ==, 3);
  g_assert_cmpstr (group->deliver->message->target_id, ==, "g1");
  g_assert_cmpstr (group->deliver->message->sender_user_id, ==, "carol");
  /* natter.v2: on the group's timeline, not in bob's inbox. */
  g_assert_cmpuint (group->deliver->seq, ==, 0);
  g_assert_cmpuint (group->deliver->message->timeline_seq, ==, 1);
  /* Not to the sender unless isIncludeSender. */
  natter_test_client_expect_none (carol, NATTER__FRAME__BODY_DELIVER, 300);

  reply = natter_test_server_api (server, NULL, "message/group/publish", "fromUserId", "carol",
                                  "toGroupId", "g1", "objectName", "RC:TxtMsg", "isIncludeSender", "1",
                                  "content", "{\"content\":\"include me\"}", NULL);
  assert_code (reply, 200);
  {
    g_autoptr(NatterFrame) own = natter_test_client_expect (carol, NATTER__FRAME__BODY_DELIVER,
                                                            NATTER_TEST_TIMEOUT_MS);
    g_autoptr(NatterFrame) to_member = natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER,
                                                                  NATTER_TEST_TIMEOUT_MS);

    g_assert_nonnull (own);
    g_assert_cmpstr (own->deliver->message->sender_user_id, ==, "carol");
    g_assert_nonnull (to_member);
    g_assert_cmpstr (to_member->deliver->message->message_uid, ==, own->deliver->message->message_uid);
  }
  g_clear_pointer (&reply, json_object_unref);

  /* Custom object names take isPersisted / isCounted. */
  reply = natter_test_server_api (server, NULL, "message/private/publish", "fromUserId", "alice",
                                  "toUserId", "bob", "objectName", "APP:Notice", "isPersisted", "0",
                                  "isCounted", "0", "content", "{}", NULL);
  assert_code (reply, 200);
  {
    g_autoptr(NatterFrame) custom = natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER,
                                                               NATTER_TEST_TIMEOUT_MS);
    g_assert_cmpuint (custom->deliver->message->flags, ==, 0);
    g_assert_cmpstr (custom->deliver->message->message_uid, ==, "");
  }
}

/* A raw form @body POSTed to @path, signed; the reply's code. */
static int
post_form (NatterTestServer *server,
           const char       *path,
           const char       *body,
           guint            *status)
{
  static guint n;
  g_autofree char *nonce = g_strdup_printf ("form-%u", ++n);
  g_autofree char *now = now_seconds (0);
  g_autofree char *full = g_strconcat (path, ".json", NULL);
  g_autoptr(JsonObject) reply = raw_request (server, "POST", full, "",
                                             natter_test_server_get_app_key (server),
                                             natter_test_server_get_app_secret (server),
                                             nonce, now, body, status);

  return (int) json_object_get_int_member (reply, "code");
}

/* Form bodies as app servers write them: '+' and %-escapes decode,
 * repeated names are lists, group[id]= and chatroom[id]= name ids; a body
 * that is not form data (a bad escape, what is not UTF-8, a pair without
 * '=') is refused whole with 1002, nothing done. */
static void
test_form_bodies (void)
{
  /* Each would expire alice's tokens if it were taken. */
  static const char * const refused[] = {
    "userId=alice&time=9999999999999&x=%ZZ",    /* not an escape */
    "userId=alice&time=9999999999999&x=%4",     /* cut short */
    "userId=alice&time=9999999999999&x=%FF%FE", /* not UTF-8 */
    "userId=alice&time=9999999999999&x=a%00b",  /* NUL */
    "userId=alice&&time=9999999999999",         /* an empty pair */
    "userId=alice&time=9999999999999&x",        /* a name alone */
  };
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) alice = NULL;
  g_autofree char *token = NULL;
  guint status = 0;

  /* Repeated names: both users are blocked. */
  g_assert_cmpint (post_form (server, "user/block", "userId=u1&userId=u2&minute=10", &status), ==, 200);
  {
    g_autoptr(JsonObject) reply = natter_test_server_api (server, NULL, "user/block/query", "page", "1", NULL);
    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (reply, "users")), ==, 2);
  }

  /* chatroom[id]=name with '+' and escapes in both. */
  g_assert_cmpint (post_form (server, "chatroom/create", "chatroom%5Br1%5D=Room+One%21&chatroom[r2]=%E8%81%8A", &status),
                   ==, 200);
  {
    g_autoptr(JsonObject) reply = natter_test_server_api (server, NULL, "chatroom/query",
                                                          "chatroomId", "r1", "chatroomId", "r2", NULL);
    JsonArray *rooms = json_object_get_array_member (reply, "chatRooms");

    g_assert_cmpuint (json_array_get_length (rooms), ==, 2);
    g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (rooms, 0), "name"), ==,
                     "Room One!");
    g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (rooms, 1), "name"), ==,
                     "聊");
  }

  /* group[id]=name: the user is in both groups. */
  g_assert_cmpint (post_form (server, "group/sync", "userId=alice&group[g1]=One&group[g2]=Two+2", &status), ==, 200);
  {
    g_autoptr(JsonObject) reply = natter_test_server_api (server, NULL, "group/user/query", "groupId", "g2", NULL);
    JsonArray *users = json_object_get_array_member (reply, "users");

    g_assert_cmpuint (json_array_get_length (users), ==, 1);
    g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (users, 0), "id"), ==, "alice");
  }

  token = natter_test_server_get_token (server, "alice");
  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_test_message ("%s", refused[i]);
      g_assert_cmpint (post_form (server, "user/token/expire", refused[i], &status), ==, 1002);
      g_assert_cmpuint (status, ==, 400);
    }
  /* Nothing was done: alice's token still works. */
  alice = natter_test_client_open (server, NULL);
  g_assert_nonnull (alice);
  g_assert_cmpint (natter_test_client_connect (alice, natter_test_server_get_app_key (server), token, "a1", 0),
                   ==, 0);
}

/* Every path of the server API checks the signature before anything else
 * (1004, HTTP 401, nothing done), and with a good signature but no
 * parameters answers 200 or 1002, never 404 or a dropped request. */
static void
test_every_path_signed (void)
{
  static const char * const paths[] = {
    "user/getToken", "user/refresh", "user/checkOnline", "user/token/expire", "user/block",
    "user/unblock", "user/block/query", "user/blacklist/add", "user/blacklist/remove",
    "user/blacklist/query", "message/private/publish", "message/group/publish",
    "message/system/publish", "message/chatroom/publish", "message/recall", "message/history",
    "group/create", "group/join", "group/quit", "group/refresh", "group/sync", "group/dismiss",
    "group/user/query", "group/user/gag/add", "group/user/gag/rollback", "group/user/gag/list",
    "chatroom/create", "chatroom/destroy", "chatroom/query", "chatroom/user/query",
    "chatroom/users/exist", "chatroom/user/gag/add", "chatroom/user/gag/rollback",
    "chatroom/user/gag/list", "chatroom/user/block/add", "chatroom/user/block/rollback",
    "chatroom/user/block/list", "account/invite/create",
  };
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  const char *key = natter_test_server_get_app_key (server);
  const char *secret = natter_test_server_get_app_secret (server);
  g_autofree char *now = now_seconds (0);

  for (guint i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      g_autofree char *path = g_strconcat (paths[i], ".json", NULL);
      g_autofree char *nonce_bad = g_strdup_printf ("bad%u", i);
      g_autofree char *nonce_none = g_strdup_printf ("none%u", i);
      g_autofree char *nonce_good = g_strdup_printf ("good%u", i);
      const char *body = "userId=zed&groupId=g1&chatroomId=r1&fromUserId=zed&toUserId=zed";
      guint status = 0;
      JsonObject *reply;
      int code;

      reply = raw_request (server, "POST", path, "", key, "wrong-secret", nonce_bad, now, body, &status);
      assert_code (reply, 1004);
      g_assert_cmpuint (status, ==, 401);
      json_object_unref (reply);

      reply = raw_request (server, "POST", path, "", key, NULL, nonce_none, now, body, &status);
      assert_code (reply, 1004);
      json_object_unref (reply);

      reply = raw_request (server, "POST", path, "", key, secret, nonce_good, now, "unused=1", &status);
      code = (int) json_object_get_int_member (reply, "code");
      if (code != 200 && code != 1002)
        g_error ("%s without parameters: %d", paths[i], code);
      json_object_unref (reply);
    }

  /* Nothing was done by the refused requests: zed was never blocked. */
  {
    g_autoptr(JsonObject) reply = natter_test_server_api (server, NULL, "user/block/query", "page", "1", NULL);
    assert_code (reply, 200);
    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (reply, "users")), ==, 0);
  }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/server/api/signatures", test_signatures);
  g_test_add_func ("/server/api/every-path-signed", test_every_path_signed);
  g_test_add_func ("/server/api/nonce-after-restart", test_nonce_after_restart);
  g_test_add_func ("/server/api/rotate-secret", test_rotate_secret);
  g_test_add_func ("/server/api/reused-nonce-setting", test_reused_nonce_setting);
  g_test_add_func ("/server/api/rate-limit", test_rate_limit);
  g_test_add_func ("/server/api/parameters", test_parameters);
  g_test_add_func ("/server/api/form-bodies", test_form_bodies);
  g_test_add_func ("/server/api/users", test_users);
  g_test_add_func ("/server/api/blacklist", test_blacklist);
  g_test_add_func ("/server/api/message-publish", test_message_publish);

  return g_test_run ();
}
