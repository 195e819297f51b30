/* test-connect.c — natterd: Connect, its refusals, kick, multi-device
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-test-admin.h"
#include "natter-test-client.h"

#include <libsoup/soup.h>
#include <signal.h>
#include <string.h>

static int
connect_code (NatterTestServer *server,
              const char       *app_key,
              const char       *token,
              gushort          *close_code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterTestClient) client = natter_test_client_open (server, &error);
  int code;

  g_assert_no_error (error);
  code = natter_test_client_connect (client, app_key, token, "dev1", 0);
  if (close_code != NULL)
    *close_code = natter_test_client_wait_closed (client, NATTER_TEST_TIMEOUT_MS);
  return code;
}

static void
test_connect_ok (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) client = natter_test_client_new_user (server, "alice", "dev1");

  g_assert_cmpstr (natter_test_client_get_user_id (client), ==, "alice");
  g_assert_cmpuint (natter_test_client_get_max_seq (client), ==, 0);
  g_assert_true (natter_test_client_is_open (client));
}

static void
test_connect_errors (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestServer) other = natter_test_server_new ();
  g_autofree char *token = natter_test_server_get_token (server, "alice");
  g_autofree char *tampered = g_strdup (token);
  g_autofree char *other_token = NULL;
  const char *key = natter_test_server_get_app_key (server);
  g_autoptr(JsonObject) reply = NULL;
  gushort close_code = 0;

  /* Unknown app key. */
  g_assert_cmpint (connect_code (server, "nosuchapp", token, &close_code), ==, 31002);
  g_assert_cmpuint (close_code, ==, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);

  /* Garbage and tampered tokens. */
  g_assert_cmpint (connect_code (server, key, "garbage", NULL), ==, 31004);
  g_assert_cmpint (connect_code (server, key, "Z2FyYmFnZQ.Z2FyYmFnZQ", NULL), ==, 31004);
  tampered[strlen (tampered) - 2] = tampered[strlen (tampered) - 2] == 'A' ? 'B' : 'A';
  g_assert_cmpint (connect_code (server, key, tampered, NULL), ==, 31004);

  /* A second app on the same server: its token with the first app's key. */
  {
    g_autofree char *second_dir = g_strdup (natter_test_server_get_data_dir (server));
    g_autoptr(GSubprocess) process = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *out = NULL;
    g_autoptr(JsonParser) parser = json_parser_new ();
    const char *second_key;
    JsonObject *app;

    process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                                natter_test_program ("NATTERD"), "--data-dir", second_dir,
                                "--create-app", "second", NULL);
    g_assert_no_error (error);
    g_subprocess_communicate_utf8 (process, NULL, NULL, &out, NULL, &error);
    g_assert_no_error (error);
    json_parser_load_from_data (parser, out, -1, &error);
    g_assert_no_error (error);
    app = json_node_get_object (json_parser_get_root (parser));
    second_key = json_object_get_string_member (app, "appKey");
    g_assert_nonnull (second_key);

    /* The running natterd learns of the app on first use. A token of the
     * second app presented with the first app's key is a mismatch. */
    g_assert_cmpint (connect_code (server, second_key, token, NULL), ==, 31005);
  }

  /* The other server's token is just incorrect here. */
  other_token = natter_test_server_get_token (other, "alice");
  g_assert_cmpint (connect_code (server, key, other_token, NULL), ==, 31004);

  /* Token expired through user/token/expire. */
  reply = natter_test_server_api (server, NULL, "user/token/expire", "userId", "alice",
                                  "time", "99999999999999", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_assert_cmpint (connect_code (server, key, token, NULL), ==, 31020);
  g_clear_pointer (&reply, json_object_unref);

  /* A token issued after that time works again. */
  reply = natter_test_server_api (server, NULL, "user/token/expire", "userId", "alice",
                                  "time", "1", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_clear_pointer (&reply, json_object_unref);
  {
    g_autofree char *fresh = natter_test_server_get_token (server, "alice");
    g_assert_cmpint (connect_code (server, key, fresh, NULL), ==, 0);
  }

  /* Blocked user. */
  reply = natter_test_server_api (server, NULL, "user/block", "userId", "alice", "minute", "10", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_clear_pointer (&reply, json_object_unref);
  {
    g_autofree char *fresh = natter_test_server_get_token (server, "alice");
    g_assert_cmpint (connect_code (server, key, fresh, NULL), ==, 31009);
  }
  reply = natter_test_server_api (server, NULL, "user/unblock", "userId", "alice", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_clear_pointer (&reply, json_object_unref);
  {
    g_autofree char *fresh = natter_test_server_get_token (server, "alice");
    g_assert_cmpint (connect_code (server, key, fresh, NULL), ==, 0);
  }
}

/* natterd --rotate-token-key revokes every token of the app: connects with
 * one are refused with 31004 from the SIGHUP on (restarts too), sessions
 * that logged in with one end with Kick 31004, new tokens work. Another
 * app is untouched. */
static void
test_token_key_rotation (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autofree char *bob_token = natter_test_server_get_token (server, "bob");
  g_autoptr(JsonObject) created = NULL;
  g_autoptr(JsonObject) rotated = NULL;
  g_autoptr(NatterFrame) kick = NULL;
  const char *key = natter_test_server_get_app_key (server);
  g_autofree char *fresh = NULL;

  created = natter_test_admin_run (server, "--create-app", "other", NULL);
  g_assert_cmpint (connect_code (server, key, bob_token, NULL), ==, 0);

  rotated = natter_test_admin_run (server, "--rotate-token-key", key, NULL);
  g_assert_cmpstr (json_object_get_string_member (rotated, "appKey"), ==, key);
  natter_test_admin_reload (server);

  kick = natter_test_client_expect (alice, NATTER__FRAME__BODY_KICK, NATTER_TEST_TIMEOUT_MS);
  g_assert_nonnull (kick);
  g_assert_cmpint (kick->kick->code, ==, 31004);
  g_assert_cmpuint (natter_test_client_wait_closed (alice, NATTER_TEST_TIMEOUT_MS), !=, 0);
  g_assert_cmpint (connect_code (server, key, bob_token, NULL), ==, 31004);

  fresh = natter_test_server_get_token (server, "bob");
  g_assert_cmpint (connect_code (server, key, fresh, NULL), ==, 0);

  natter_test_server_stop (server);
  natter_test_server_restart (server);
  g_assert_cmpint (connect_code (server, key, bob_token, NULL), ==, 31004);
  g_assert_cmpint (connect_code (server, key, fresh, NULL), ==, 0);

  /* The other app's secret still signs. */
  {
    g_autofree char *nonce = g_strdup_printf ("other-%u", (guint) getpid ());
    g_autofree char *stamp = g_strdup_printf ("%" G_GINT64_FORMAT, g_get_real_time () / G_USEC_PER_SEC);
    g_autofree char *signature = natter_test_api_signature (json_object_get_string_member (created, "appSecret"),
                                                            nonce, stamp);
    const char *other_key = json_object_get_string_member (created, "appKey");

    g_assert_cmpint (natter_test_admin_request (server, "user/getToken.json", other_key, nonce, stamp,
                                                signature, "userId=carol", NULL), ==, 200);
  }
}

static void
test_connect_expired_ttl (void)
{
  const char * const args[] = { "--app-setting", "token-ttl=1", NULL };
  g_autoptr(NatterTestServer) server = natter_test_server_new_full (NULL, args);
  g_autofree char *token = natter_test_server_get_token (server, "alice");
  const char *key = natter_test_server_get_app_key (server);

  g_assert_cmpint (connect_code (server, key, token, NULL), ==, 0);
  g_usleep (1100 * 1000);
  g_assert_cmpint (connect_code (server, key, token, NULL), ==, 31020);
}

static void
test_connect_app_blocked (void)
{
  const char * const args[] = { "--app-setting", "blocked=true", NULL };
  g_autoptr(NatterTestServer) server = natter_test_server_new_full (NULL, args);
  g_autoptr(JsonObject) reply = NULL;
  guint status = 0;

  /* The API refuses a blocked app too, so the token is made by hand. */
  reply = natter_test_server_api (server, &status, "user/getToken", "userId", "alice", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 1001);
  g_assert_cmpint (connect_code (server, natter_test_server_get_app_key (server), "x.y", NULL), ==, 31008);
}

static void
test_kick (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) first = natter_test_client_new_user (server, "alice", "laptop");
  g_autoptr(NatterTestClient) second = natter_test_client_new_user (server, "alice", "desktop");
  g_autoptr(NatterFrame) kick = natter_test_client_expect (first, NATTER__FRAME__BODY_KICK,
                                                           NATTER_TEST_TIMEOUT_MS);
  g_autoptr(NatterTestClient) bob = natter_test_client_new_user (server, "bob", "phone");
  g_autoptr(NatterFrame) ack = NULL;
  g_autoptr(NatterFrame) deliver = NULL;

  g_assert_nonnull (kick);
  g_assert_cmpint (kick->kick->code, ==, 31010);
  g_assert_cmpuint (natter_test_client_wait_closed (first, NATTER_TEST_TIMEOUT_MS), !=, 0);

  /* The new login keeps working and gets the messages. */
  ack = natter_test_client_send_message (bob, 1, "alice", "RC:TxtMsg", "{\"content\":\"hi\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);
  deliver = natter_test_client_expect (second, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
  g_assert_nonnull (deliver);
  g_assert_cmpstr (deliver->deliver->message->target_id, ==, "bob");
  g_assert_true (natter_test_client_is_open (second));
}

static void
test_multi_device (void)
{
  const char * const args[] = { "--app-setting", "multi-device=true", NULL };
  g_autoptr(NatterTestServer) server = natter_test_server_new_full (NULL, args);
  g_autoptr(NatterTestClient) laptop = natter_test_client_new_user (server, "alice", "laptop");
  g_autoptr(NatterTestClient) desktop = natter_test_client_new_user (server, "alice", "desktop");
  g_autoptr(NatterTestClient) bob = natter_test_client_new_user (server, "bob", "phone");
  g_autoptr(NatterFrame) ack = NULL;
  g_autoptr(NatterFrame) on_laptop = NULL;
  g_autoptr(NatterFrame) on_desktop = NULL;
  g_autoptr(NatterFrame) own_copy = NULL;
  g_autoptr(NatterFrame) on_bob = NULL;
  g_autoptr(NatterTestClient) third = NULL;

  natter_test_client_expect_none (laptop, NATTER__FRAME__BODY_KICK, 200);

  /* Every device gets what is sent to the user... */
  ack = natter_test_client_send_message (bob, 1, "alice", "RC:TxtMsg", "{\"content\":\"to both\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);
  on_laptop = natter_test_client_expect (laptop, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
  on_desktop = natter_test_client_expect (desktop, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
  g_assert_nonnull (on_laptop);
  g_assert_nonnull (on_desktop);
  g_assert_cmpstr (on_laptop->deliver->message->message_uid, ==, ack->publish_ack->message_uid);
  g_assert_cmpstr (on_desktop->deliver->message->message_uid, ==, ack->publish_ack->message_uid);
  g_clear_pointer (&ack, natter_frame_free);

  /* ...and what the user sends from another device, as seen by the sender. */
  ack = natter_test_client_send_message (laptop, 1, "bob", "RC:TxtMsg", "{\"content\":\"from laptop\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);
  own_copy = natter_test_client_expect (desktop, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
  g_assert_nonnull (own_copy);
  g_assert_cmpstr (own_copy->deliver->message->sender_user_id, ==, "alice");
  g_assert_cmpstr (own_copy->deliver->message->target_id, ==, "bob");
  on_bob = natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
  g_assert_cmpstr (on_bob->deliver->message->target_id, ==, "alice");
  /* Not echoed to the device that sent it. */
  natter_test_client_expect_none (laptop, NATTER__FRAME__BODY_DELIVER, 300);

  /* Read status goes to the reader's other devices only, conversation as is. */
  {
    g_autoptr(NatterFrame) sync_ack = natter_test_client_send_message (laptop, 1, "bob", "RC:SRSMsg",
                                                                  "{\"lastMessageSendTime\":1}");
    g_autoptr(NatterFrame) sync = natter_test_client_expect (desktop, NATTER__FRAME__BODY_DELIVER,
                                                             NATTER_TEST_TIMEOUT_MS);

    g_assert_cmpint (sync_ack->publish_ack->code, ==, 0);
    g_assert_nonnull (sync);
    g_assert_cmpstr (sync->deliver->message->object_name, ==, "RC:SRSMsg");
    g_assert_cmpstr (sync->deliver->message->target_id, ==, "bob");
    g_assert_cmpuint (sync->deliver->seq, ==, 0);
    natter_test_client_expect_none (bob, NATTER__FRAME__BODY_DELIVER, 300);
  }

  /* The same device connecting again replaces its old connection only. */
  third = natter_test_client_new_user (server, "alice", "desktop");
  g_assert_cmpuint (natter_test_client_wait_closed (desktop, NATTER_TEST_TIMEOUT_MS), !=, 0);
  g_assert_true (natter_test_client_is_open (laptop));
}

static void
test_first_frame (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterTestClient) client = natter_test_client_open (server, &error);
  g_autofree char *id = NULL;

  g_assert_no_error (error);
  id = natter_test_client_publish (client, 1, "bob", "RC:TxtMsg", "{\"content\":\"hi\"}");
  g_assert_cmpuint (natter_test_client_wait_closed (client, NATTER_TEST_TIMEOUT_MS), ==,
                    SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
  g_assert_true (g_str_has_prefix (natter_test_client_get_close_reason (client), "33003"));
}

static void
test_connect_timeout (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new_full ("[server]\nconnect-timeout=1\n", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterTestClient) client = natter_test_client_open (server, &error);

  g_assert_no_error (error);
  /* Nothing sent: closed within a few sweeps. */
  g_assert_cmpuint (natter_test_client_wait_closed (client, 5000), ==,
                    SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
}

static void
test_wrong_subprotocol (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autofree char *url = g_strdup_printf ("%s/ws", natter_test_server_get_url (server));
  g_autoptr(SoupMessage) message = soup_message_new ("GET", url);
  g_autoptr(GBytes) body = NULL;

  /* A plain GET is not an upgrade: refused, and natterd keeps serving. */
  body = soup_session_send_and_read (session, message, NULL, NULL);
  g_assert_cmpuint (soup_message_get_status (message), >=, 400);
  {
    g_autoptr(NatterTestClient) client = natter_test_client_new_user (server, "alice", "dev1");
    g_assert_true (natter_test_client_is_open (client));
  }
}

static void
test_set_app_and_reload (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) laptop = natter_test_client_new_user (server, "alice", "laptop");
  g_autoptr(GSubprocess) set = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;

  /* Change a setting of the running server's app, then SIGHUP. */
  set = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, natter_test_program ("NATTERD"),
                          "--data-dir", natter_test_server_get_data_dir (server),
                          "--set-app", natter_test_server_get_app_key (server),
                          "--app-setting", "multi-device=true", NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (set, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_successful (set));
  g_assert_nonnull (strstr (out, "\"multi-device\":true"));

  kill (natter_test_server_get_pid (server), SIGHUP);
  g_usleep (300 * 1000);

  /* A second device no longer kicks the first. */
  {
    g_autoptr(NatterTestClient) desktop = natter_test_client_new_user (server, "alice", "desktop");

    natter_test_client_expect_none (laptop, NATTER__FRAME__BODY_KICK, 300);
    g_assert_true (natter_test_client_is_open (laptop));
  }
}

static void
test_own_sends_replayed (void)
{
  const char * const args[] = { "--app-setting", "multi-device=true", NULL };
  g_autoptr(NatterTestServer) server = natter_test_server_new_full (NULL, args);
  g_autoptr(NatterTestClient) laptop = natter_test_client_new_user (server, "alice", "laptop");
  g_autoptr(NatterFrame) ack = natter_test_client_send_message (laptop, 1, "bob", "RC:TxtMsg",
                                                                "{\"content\":\"sent while the desktop was off\"}");
  g_autoptr(NatterTestClient) desktop = natter_test_client_new_user (server, "alice", "desktop");
  g_autoptr(NatterFrame) replayed = natter_test_client_expect (desktop, NATTER__FRAME__BODY_DELIVER,
                                                               NATTER_TEST_TIMEOUT_MS);

  /* A device that was off catches up with the user's own sends too. */
  g_assert_nonnull (replayed);
  g_assert_true (replayed->deliver->offline);
  g_assert_cmpstr (replayed->deliver->message->message_uid, ==, ack->publish_ack->message_uid);
  g_assert_cmpstr (replayed->deliver->message->target_id, ==, "bob");
  g_assert_cmpstr (replayed->deliver->message->sender_user_id, ==, "alice");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/server/connect/ok", test_connect_ok);
  g_test_add_func ("/server/connect/errors", test_connect_errors);
  g_test_add_func ("/server/connect/token-ttl", test_connect_expired_ttl);
  g_test_add_func ("/server/connect/token-key-rotation", test_token_key_rotation);
  g_test_add_func ("/server/connect/app-blocked", test_connect_app_blocked);
  g_test_add_func ("/server/connect/kick", test_kick);
  g_test_add_func ("/server/connect/multi-device", test_multi_device);
  g_test_add_func ("/server/connect/first-frame", test_first_frame);
  g_test_add_func ("/server/connect/timeout", test_connect_timeout);
  g_test_add_func ("/server/connect/not-websocket", test_wrong_subprotocol);
  g_test_add_func ("/server/connect/set-app-and-reload", test_set_app_and_reload);
  g_test_add_func ("/server/connect/own-sends-replayed", test_own_sends_replayed);

  return g_test_run ();
}
