/* test-presence.c — natterd: presence subscriptions (#16): the current
 * status in the answer, online/offline/logout pushed to the subscriber,
 * unsubscribe, blacklists, the limits with their codes, and a user who
 * hides their status (privacy.json showOnline=false)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-test-client.h"
#include "natter-object-names.h"

#include <libsoup/soup.h>
#include <string.h>

static NatterFrame *
subscribe (NatterTestClient   *client,
           const char * const *user_ids,
           guint               expiry,
           gboolean            unsubscribe)
{
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__SubscribeRequest request = NATTER__SUBSCRIBE_REQUEST__INIT;

  request.user_ids = (char **) user_ids;
  request.n_user_ids = g_strv_length ((char **) user_ids);
  request.expiry = expiry;
  request.unsubscribe = unsubscribe;
  query.method_case = NATTER__QUERY__METHOD_SUBSCRIBE;
  query.subscribe = &request;
  return natter_test_client_query (client, &query);
}

static void
assert_subscribe_code (NatterTestClient   *client,
                       const char * const *user_ids,
                       guint               expiry,
                       int                 code)
{
  g_autoptr(NatterFrame) result = subscribe (client, user_ids, expiry, FALSE);

  g_assert_cmpint (result->result->code, ==, code);
  if (code != 0)
    g_assert_cmpstr (result->result->error_message, !=, "");
  g_assert_true (natter_test_client_is_open (client));
}

static void
expect_presence (NatterTestClient *client,
                 const char       *user_id,
                 gboolean          online,
                 gboolean          logout)
{
  g_autoptr(NatterFrame) frame = natter_test_client_expect (client, NATTER__FRAME__BODY_PRESENCE_EVENT,
                                                            NATTER_TEST_TIMEOUT_MS);

  g_assert_nonnull (frame);
  g_assert_cmpstr (frame->presence_event->user_id, ==, user_id);
  g_assert_cmpint (frame->presence_event->online, ==, online);
  g_assert_cmpint (frame->presence_event->logout, ==, logout);
  g_assert_cmpstr (frame->presence_event->platform, ==, online ? "test" : "");
  g_assert_cmpint (ABS (frame->presence_event->time - g_get_real_time () / 1000), <, 60000);
}

/* POST /account/privacy.json as the holder of @token; the reply. */
static JsonObject *
privacy (NatterTestServer *server,
         const char       *token,
         const char       *form)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autofree char *url = g_strdup_printf ("%s/account/privacy.json", natter_test_server_get_url (server));
  g_autoptr(SoupMessage) message = soup_message_new ("POST", url);
  g_autofree char *authorization = g_strdup_printf ("Bearer %s", token);
  g_autoptr(GBytes) bytes = g_bytes_new (form, strlen (form));
  g_autoptr(GBytes) body = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  soup_message_set_request_body_from_bytes (message, "application/x-www-form-urlencoded", bytes);
  soup_message_headers_replace (soup_message_get_request_headers (message), "Authorization", authorization);
  body = soup_session_send_and_read (session, message, NULL, &error);
  g_assert_no_error (error);
  json_parser_load_from_data (parser, g_bytes_get_data (body, NULL), (gssize) g_bytes_get_size (body), &error);
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static void
assert_privacy (NatterTestServer *server,
                const char       *token,
                const char       *form,
                int               code)
{
  g_autoptr(JsonObject) reply = privacy (server, token, form);

  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, code);
}

static Natter__PresenceEvent *
next_presence (NatterTestClient *client,
               NatterFrame     **frame)
{
  *frame = natter_test_client_expect (client, NATTER__FRAME__BODY_PRESENCE_EVENT, NATTER_TEST_TIMEOUT_MS);
  g_assert_nonnull (*frame);
  return (*frame)->presence_event;
}

/* The answer says where each known user is now; changes are pushed to
 * every device of the subscriber; unsubscribing stops them. */
static void
test_subscribe (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new_full (NULL,
                                         (const char * const[]) { "--app-setting", "multi-device=true", NULL });
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterTestClient) alice_phone = natter_test_client_new_user (server, "alice", "a2");
  g_autoptr(NatterTestClient) bob = natter_test_client_new_user (server, "bob", "b1");
  g_autoptr(NatterTestClient) carol = NULL;
  g_autoptr(NatterFrame) result = NULL;
  g_autofree char *token = natter_test_server_get_token (server, "carol");

  result = subscribe (alice, (const char * const[]) { "bob", "carol", "nobody", NULL }, 60, FALSE);
  g_assert_cmpint (result->result->code, ==, 0);
  g_assert_cmpint (result->result->payload_case, ==, NATTER__RESULT__PAYLOAD_SUBSCRIBE);
  /* an unknown user is left out */
  g_assert_cmpuint (result->result->subscribe->n_statuses, ==, 2);
  g_assert_cmpstr (result->result->subscribe->statuses[0]->user_id, ==, "bob");
  g_assert_true (result->result->subscribe->statuses[0]->online);
  g_assert_cmpstr (result->result->subscribe->statuses[0]->platform, ==, "test");
  g_assert_cmpstr (result->result->subscribe->statuses[1]->user_id, ==, "carol");
  g_assert_false (result->result->subscribe->statuses[1]->online);

  carol = natter_test_client_new_user (server, "carol", "c1");
  expect_presence (alice, "carol", TRUE, FALSE);
  expect_presence (alice_phone, "carol", TRUE, FALSE);
  natter_test_client_expect_none (bob, NATTER__FRAME__BODY_PRESENCE_EVENT, 200);

  natter_test_client_free (g_steal_pointer (&carol));
  expect_presence (alice, "carol", FALSE, FALSE);
  expect_presence (alice_phone, "carol", FALSE, FALSE);

  /* signing out is a logout, not just offline */
  carol = natter_test_client_new_user (server, "carol", "c1");
  expect_presence (alice, "carol", TRUE, FALSE);
  natter_test_client_close (carol, NATTER_CLOSE_LOGOUT);
  expect_presence (alice, "carol", FALSE, TRUE);
  natter_test_client_free (g_steal_pointer (&carol));

  g_clear_pointer (&result, natter_frame_free);
  result = subscribe (alice, (const char * const[]) { "carol", NULL }, 0, TRUE);
  g_assert_cmpint (result->result->code, ==, 0);
  carol = natter_test_client_new_user (server, "carol", "c1");
  natter_test_client_expect_none (alice, NATTER__FRAME__BODY_PRESENCE_EVENT, 300);

  /* bob is still subscribed to */
  natter_test_client_free (g_steal_pointer (&bob));
  expect_presence (alice, "bob", FALSE, FALSE);
}

/* Whoever blacklisted the subscriber stays offline to them. */
static void
test_blacklist (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterTestClient) bob = NULL;
  g_autoptr(NatterFrame) result = NULL;
  g_autoptr(JsonObject) reply = NULL;
  g_autofree char *token = natter_test_server_get_token (server, "bob");

  reply = natter_test_server_api (server, NULL, "user/blacklist/add", "userId", "bob",
                                  "blackUserId", "alice", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  result = subscribe (alice, (const char * const[]) { "bob", NULL }, 3600, FALSE);
  g_assert_cmpint (result->result->code, ==, 0);
  bob = natter_test_client_new_user (server, "bob", "b1");
  natter_test_client_expect_none (alice, NATTER__FRAME__BODY_PRESENCE_EVENT, 300);
  g_clear_pointer (&result, natter_frame_free);
  result = subscribe (alice, (const char * const[]) { "bob", NULL }, 3600, FALSE);
  g_assert_false (result->result->subscribe->statuses[0]->online);
}

/* A block made while the blocked one follows the blocker's status tells
 * them at once: offline with no last seen; unblocking shows the truth
 * again. Blocking again changes nothing and tells nothing. */
static void
test_blacklist_mid_subscription (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterTestClient) bob = natter_test_client_new_user (server, "bob", "b1");
  g_autoptr(NatterFrame) result = NULL;
  g_autoptr(NatterFrame) frame = NULL;
  g_autoptr(JsonObject) reply = NULL;
  Natter__PresenceEvent *event;

  result = subscribe (alice, (const char * const[]) { "bob", NULL }, 3600, FALSE);
  g_assert_true (result->result->subscribe->statuses[0]->online);

  reply = natter_test_server_api (server, NULL, "user/blacklist/add", "userId", "bob",
                                  "blackUserId", "alice", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  event = next_presence (alice, &frame);
  g_assert_cmpstr (event->user_id, ==, "bob");
  g_assert_false (event->online);
  g_assert_false (event->logout);
  g_assert_false (event->hidden);
  g_assert_cmpstr (event->platform, ==, "");
  g_assert_cmpint (event->time, ==, 0);

  g_clear_pointer (&reply, json_object_unref);
  reply = natter_test_server_api (server, NULL, "user/blacklist/add", "userId", "bob",
                                  "blackUserId", "alice", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  natter_test_client_expect_none (alice, NATTER__FRAME__BODY_PRESENCE_EVENT, 300);

  g_clear_pointer (&reply, json_object_unref);
  reply = natter_test_server_api (server, NULL, "user/blacklist/remove", "userId", "bob",
                                  "blackUserId", "alice", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  expect_presence (alice, "bob", TRUE, FALSE);
}

/* At most 200 ids a request and an expiry of 60 s … 30 days (33003); so
 * many subscriptions per user (26030) and subscribers per user (26031),
 * small here by [limits]; a refused request subscribes to none of its ids. */
static void
test_limits (void)
{
  g_autoptr(NatterTestServer) server =
    natter_test_server_new_full ("[limits]\npresence-subscriptions=2\npresence-subscribers=1\n", NULL);
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterTestClient) bob = natter_test_client_new_user (server, "bob", "b1");
  g_autoptr(GPtrArray) many = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(NatterFrame) result = NULL;

  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *id = g_strdup_printf ("u%u", i);
      g_autofree char *token = natter_test_server_get_token (server, id);
    }
  for (guint i = 0; i < 201; i++)
    g_ptr_array_add (many, g_strdup_printf ("u%u", i));
  g_ptr_array_add (many, NULL);

  assert_subscribe_code (alice, (const char * const *) many->pdata, 60, NATTER_CODE_INVALID_PARAMETER);
  assert_subscribe_code (alice, (const char * const[]) { "u0", NULL }, 59, NATTER_CODE_INVALID_PARAMETER);
  assert_subscribe_code (alice, (const char * const[]) { "u0", NULL }, 2592001, NATTER_CODE_INVALID_PARAMETER);
  /* 200 ids are fine (the unknown ones left out) */
  g_free (g_ptr_array_steal_index (many, 200));
  many->pdata[200] = NULL;
  assert_subscribe_code (bob, (const char * const *) many->pdata + 2, 2592000, NATTER_CODE_OK);
  assert_subscribe_code (bob, (const char * const[]) { "u2", NULL }, 60, NATTER_CODE_OK);

  assert_subscribe_code (alice, (const char * const[]) { "u0", "u1", "bob", NULL }, 60, NATTER_CODE_SUBSCRIPTIONS_FULL);
  assert_subscribe_code (alice, (const char * const[]) { "u0", "u1", NULL }, 60, NATTER_CODE_OK);
  assert_subscribe_code (alice, (const char * const[]) { "u0", NULL }, 120, NATTER_CODE_OK);  /* renewal */
  assert_subscribe_code (alice, (const char * const[]) { "bob", NULL }, 60, NATTER_CODE_SUBSCRIPTIONS_FULL);
  g_clear_pointer (&result, natter_frame_free);
  result = subscribe (alice, (const char * const[]) { "u1", NULL }, 0, TRUE);
  g_assert_cmpint (result->result->code, ==, 0);
  /* u2 has bob already */
  assert_subscribe_code (alice, (const char * const[]) { "u2", NULL }, 60, NATTER_CODE_SUBSCRIBERS_FULL);
  g_clear_pointer (&result, natter_frame_free);
  result = subscribe (bob, (const char * const[]) { "u2", NULL }, 0, TRUE);
  assert_subscribe_code (alice, (const char * const[]) { "u2", NULL }, 60, NATTER_CODE_OK);
}

/* The online_status query about @user, naming @device if not NULL. */
static void
assert_online_status (NatterTestClient *client,
                      const char       *user,
                      const char       *device,
                      gboolean          online,
                      gboolean          hidden,
                      const char       *device_online)
{
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__OnlineStatusRequest request = NATTER__ONLINE_STATUS_REQUEST__INIT;
  char *users[] = { (char *) user };
  char *devices[] = { (char *) device };
  g_autoptr(NatterFrame) result = NULL;
  Natter__OnlineStatus *status;

  request.user_ids = users;
  request.n_user_ids = 1;
  request.device_ids = devices;
  request.n_device_ids = device != NULL ? 1 : 0;
  query.method_case = NATTER__QUERY__METHOD_ONLINE_STATUS;
  query.online_status = &request;
  result = natter_test_client_query (client, &query);
  g_assert_cmpint (result->result->code, ==, 0);
  g_assert_cmpuint (result->result->online_status->n_statuses, ==, 1);
  status = result->result->online_status->statuses[0];
  g_assert_cmpint (status->online, ==, online);
  g_assert_cmpint (status->hidden, ==, hidden);
  if (!online)
    g_assert_cmpstr (status->platform, ==, "");
  if (device_online != NULL)
    {
      g_assert_cmpuint (status->n_device_ids, ==, 1);
      g_assert_cmpstr (status->device_ids[0], ==, device_online);
    }
  else
    g_assert_cmpuint (status->n_device_ids, ==, 0);
}

/* The PublishAck of a status-only call invite from @client to @target. */
static int
invite_code (NatterTestClient *client,
             const char       *target)
{
  g_autofree char *id = g_strdup_printf ("invite-%s-%" G_GINT64_FORMAT, target, g_get_monotonic_time ());
  g_autoptr(NatterFrame) ack = NULL;

  natter_test_client_publish_full (client, id, NATTER_CONVERSATION_PRIVATE, target, NATTER_OBJECT_CALL_INVITE,
                                   "{\"callId\":\"c1\",\"mediaType\":1}", NATTER_MESSAGE_FLAG_STATUS);
  ack = natter_test_client_wait_ack (client, id);
  g_assert_nonnull (ack);
  return ack->publish_ack->code;
}

/* A call invite's answer tells nothing of the callee's presence (#16
 * audit): status-only sends are acknowledged 0 whether the callee is
 * online, offline or unknown, and one who blacklisted the caller refuses
 * it with 405 online or not — and their device ids are not answered. */
static void
test_invite_answers (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterTestClient) bob = natter_test_client_new_user (server, "bob", "b1");
  g_autoptr(NatterTestClient) carol = natter_test_client_new_user (server, "carol", "c1");
  g_autoptr(NatterFrame) frame = NULL;
  g_autoptr(JsonObject) reply = NULL;

  g_assert_cmpint (invite_code (alice, "bob"), ==, 0);
  frame = natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
  g_assert_nonnull (frame);
  natter_test_client_free (g_steal_pointer (&bob));
  g_assert_cmpint (invite_code (alice, "bob"), ==, 0);
  g_assert_cmpint (invite_code (alice, "nobody-here"), ==, 0);

  reply = natter_test_server_api (server, NULL, "user/blacklist/add", "userId", "carol",
                                  "blackUserId", "alice", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_assert_cmpint (invite_code (alice, "carol"), ==, 405);
  natter_test_client_expect_none (carol, NATTER__FRAME__BODY_DELIVER, 300);
  assert_online_status (alice, "carol", "c1", FALSE, FALSE, NULL);
  natter_test_client_free (g_steal_pointer (&carol));
  g_assert_cmpint (invite_code (alice, "carol"), ==, 405);
  g_assert_true (natter_test_client_is_open (alice));
}

/* A user who hides their status is "hidden" to subscribers, not offline:
 * they are told when it is hidden, then of no change, and the answer to a
 * subscribe says hidden with no last seen; stored, so a restarted natterd
 * still hides it. Showing it again tells the truth at once, and an
 * offline user's last seen is in the answer. Telegram's rule: who hides
 * their own status sees the others' online but no one's last seen. */
static void
test_hidden (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new_full (NULL,
                                         (const char * const[]) { "--app-setting", "accounts=open", NULL });
  g_autofree char *alice_token = natter_test_server_get_token (server, "alice");
  g_autofree char *bob_token = natter_test_server_get_token (server, "bob");
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterTestClient) bob = natter_test_client_new_user (server, "bob", "b1");
  g_autoptr(NatterFrame) result = NULL;
  g_autoptr(NatterFrame) frame = NULL;
  g_autoptr(JsonObject) reply = NULL;
  Natter__PresenceEvent *event;
  Natter__OnlineStatus *status;

  result = subscribe (alice, (const char * const[]) { "bob", NULL }, 3600, FALSE);
  g_assert_true (result->result->subscribe->statuses[0]->online);
  g_assert_false (result->result->subscribe->statuses[0]->hidden);

  /* bad input: a clear error, the setting unchanged */
  assert_privacy (server, bob_token, "showOnline=maybe", NATTER_API_BAD_PARAMETER);
  assert_privacy (server, bob_token, "messagesFrom=everyone&showOnline=false", NATTER_API_BAD_PARAMETER);
  natter_test_client_expect_none (alice, NATTER__FRAME__BODY_PRESENCE_EVENT, 200);

  reply = privacy (server, bob_token, "showOnline=false");
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_assert_false (json_object_get_boolean_member (reply, "showOnline"));
  g_assert_cmpstr (json_object_get_string_member (reply, "messagesFrom"), ==, "anyone");
  event = next_presence (alice, &frame);
  g_assert_cmpstr (event->user_id, ==, "bob");
  g_assert_true (event->hidden);
  g_assert_false (event->online);
  g_assert_cmpint (event->time, ==, 0);

  /* the online_status query hides bob too, and his device ids, which
   * are no secret once one rang for a call, are not answered either... */
  assert_online_status (alice, "bob", NULL, FALSE, TRUE, NULL);
  assert_online_status (alice, "bob", "b1", FALSE, TRUE, NULL);
  /* ...until that device rings for alice's call: then the call can tell
   * whether it is still there (a call must ring to be answered) */
  natter_test_client_publish_full (bob, "ring1", NATTER_CONVERSATION_PRIVATE, "alice",
                                   NATTER_OBJECT_CALL_RINGING, "{\"callId\":\"c1\",\"deviceId\":\"b1\"}",
                                   NATTER_MESSAGE_FLAG_STATUS);
  g_clear_pointer (&frame, natter_frame_free);
  frame = natter_test_client_expect (alice, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
  g_assert_nonnull (frame);
  g_assert_cmpstr (frame->deliver->message->object_name, ==, NATTER_OBJECT_CALL_RINGING);
  assert_online_status (alice, "bob", "b1", FALSE, TRUE, "b1");

  /* no change of a hidden user comes through */
  natter_test_client_free (g_steal_pointer (&bob));
  natter_test_client_expect_none (alice, NATTER__FRAME__BODY_PRESENCE_EVENT, 300);
  g_clear_pointer (&result, natter_frame_free);
  result = subscribe (alice, (const char * const[]) { "bob", NULL }, 3600, FALSE);
  status = result->result->subscribe->statuses[0];
  g_assert_true (status->hidden);
  g_assert_false (status->online);
  g_assert_cmpint (status->last_seen, ==, 0);

  /* stored: a restarted natterd still hides bob */
  natter_test_client_free (g_steal_pointer (&alice));
  natter_test_server_stop (server);
  natter_test_server_restart (server);
  alice = natter_test_client_new_user (server, "alice", "a1");
  bob = natter_test_client_new_user (server, "bob", "b1");
  g_clear_pointer (&result, natter_frame_free);
  result = subscribe (alice, (const char * const[]) { "bob", NULL }, 3600, FALSE);
  g_assert_true (result->result->subscribe->statuses[0]->hidden);
  g_assert_false (result->result->subscribe->statuses[0]->online);

  /* shown again: the truth at once, then the changes with last seen */
  assert_privacy (server, bob_token, "showOnline=true", 200);
  g_clear_pointer (&frame, natter_frame_free);
  event = next_presence (alice, &frame);
  g_assert_false (event->hidden);
  g_assert_true (event->online);
  natter_test_client_free (g_steal_pointer (&bob));
  expect_presence (alice, "bob", FALSE, FALSE);
  g_clear_pointer (&result, natter_frame_free);
  result = subscribe (alice, (const char * const[]) { "bob", NULL }, 3600, FALSE);
  status = result->result->subscribe->statuses[0];
  g_assert_false (status->hidden);
  g_assert_cmpint (ABS (status->last_seen - g_get_real_time () / 1000), <, 60000);

  /* alice hides hers: bob's online still shows, his last seen no more */
  assert_privacy (server, alice_token, "showOnline=false", 200);
  bob = natter_test_client_new_user (server, "bob", "b1");
  g_clear_pointer (&frame, natter_frame_free);
  event = next_presence (alice, &frame);
  g_assert_true (event->online);
  natter_test_client_free (g_steal_pointer (&bob));
  g_clear_pointer (&frame, natter_frame_free);
  event = next_presence (alice, &frame);
  g_assert_false (event->online);
  g_assert_false (event->hidden);
  g_assert_cmpint (event->time, ==, 0);
  g_clear_pointer (&result, natter_frame_free);
  result = subscribe (alice, (const char * const[]) { "bob", NULL }, 3600, FALSE);
  g_assert_false (result->result->subscribe->statuses[0]->hidden);
  g_assert_cmpint (result->result->subscribe->statuses[0]->last_seen, ==, 0);
  g_assert_true (natter_test_client_is_open (alice));
}

/* A user's last seen outlives a restart: it is stored with their device's
 * row when they go offline and read back at start (it was 0 after). */
static void
test_last_seen_after_restart (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterTestClient) bob = natter_test_client_new_user (server, "bob", "b1");
  g_autoptr(NatterFrame) before = NULL;
  g_autoptr(NatterFrame) after = NULL;
  gint64 seen;

  natter_test_client_free (g_steal_pointer (&bob));
  before = subscribe (alice, (const char * const[]) { "bob", NULL }, 3600, FALSE);
  g_assert_false (before->result->subscribe->statuses[0]->online);
  seen = before->result->subscribe->statuses[0]->last_seen;
  g_assert_cmpint (seen, >, 0);

  natter_test_client_free (g_steal_pointer (&alice));
  natter_test_server_stop (server);
  natter_test_server_restart (server);
  alice = natter_test_client_new_user (server, "alice", "a1");
  after = subscribe (alice, (const char * const[]) { "bob", NULL }, 3600, FALSE);
  g_assert_false (after->result->subscribe->statuses[0]->online);
  g_assert_cmpint (after->result->subscribe->statuses[0]->last_seen, ==, seen);
}

static NatterTestClient *
connect_with (NatterTestServer *server,
              const char       *token,
              const char       *device_id)
{
  g_autoptr(GError) error = NULL;
  NatterTestClient *client = natter_test_client_open (server, &error);

  g_assert_no_error (error);
  g_assert_cmpint (natter_test_client_connect (client, natter_test_server_get_app_key (server), token,
                                               device_id, 0), ==, 0);
  return client;
}

/* showOnline=false is told (and this node hides) only once the account
 * row is stored: a write the store refused changes nothing. */
static void
test_hidden_after_commit (void)
{
  /* (A configuration file, for the store's limit below.) */
  g_autoptr(NatterTestServer) server = natter_test_server_new_full ("[chatroom]\noffline-timeout=30\n",
                                         (const char * const[]) { "--app-setting", "accounts=open", NULL });
  g_autofree char *alice_token = natter_test_server_get_token (server, "alice");
  g_autofree char *bob_token = natter_test_server_get_token (server, "bob");
  g_autoptr(NatterTestClient) alice = NULL;
  g_autoptr(NatterTestClient) bob = NULL;
  g_autoptr(NatterFrame) result = NULL;
  g_autoptr(JsonObject) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *config = NULL;
  g_autofree char *full = NULL;

  /* Every write refused from now on. */
  natter_test_server_stop (server);
  g_assert_true (g_file_get_contents (natter_test_server_get_config_path (server), &config, NULL, &error));
  full = g_strconcat (config, "[store]\nmin-free=1152921504606846976\n", NULL);
  g_assert_true (g_file_set_contents (natter_test_server_get_config_path (server), full, -1, &error));
  natter_test_server_restart (server);

  alice = connect_with (server, alice_token, "a1");
  bob = connect_with (server, bob_token, "b1");
  result = subscribe (alice, (const char * const[]) { "bob", NULL }, 3600, FALSE);
  g_assert_true (result->result->subscribe->statuses[0]->online);
  g_assert_false (result->result->subscribe->statuses[0]->hidden);

  reply = privacy (server, bob_token, "showOnline=false");
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, NATTER_API_INTERNAL_ERROR);
  natter_test_client_expect_none (alice, NATTER__FRAME__BODY_PRESENCE_EVENT, 500);
  g_clear_pointer (&result, natter_frame_free);
  result = subscribe (alice, (const char * const[]) { "bob", NULL }, 3600, FALSE);
  g_assert_true (result->result->subscribe->statuses[0]->online);
  g_assert_false (result->result->subscribe->statuses[0]->hidden);
  g_assert_true (natter_test_client_is_open (bob));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/server/presence/subscribe", test_subscribe);
  g_test_add_func ("/server/presence/blacklist", test_blacklist);
  g_test_add_func ("/server/presence/blacklist-mid-subscription", test_blacklist_mid_subscription);
  g_test_add_func ("/server/presence/limits", test_limits);
  g_test_add_func ("/server/presence/hidden", test_hidden);
  g_test_add_func ("/server/presence/invite-answers", test_invite_answers);
  g_test_add_func ("/server/presence/last-seen-after-restart", test_last_seen_after_restart);
  g_test_add_func ("/server/presence/hidden-after-commit", test_hidden_after_commit);

  return g_test_run ();
}
