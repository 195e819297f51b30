/* test-webhook.c — natterd: persisted messages routed to the app server
 *
 * The app server is a SoupServer in this process on 127.0.0.1; what natterd
 * keeps of the events is read from its data dir with SQLite.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-test-admin.h"
#include "natter-test-client.h"

#include <libsoup/soup.h>
#include <signal.h>
#include <sqlite3.h>
#include <string.h>

typedef struct
{
  SoupServer *soup;
  char       *url;
  GPtrArray  *bodies;        /* GHashTable* form fields, per accepted request */
  guint       requests;
  guint       fail_first;    /* answer 500 to this many first requests */
  gboolean    hang;          /* never answer */
  GPtrArray  *hung;          /* SoupServerMessage* paused */
  GPtrArray  *hung_bodies;   /* GHashTable* form fields of those */
  GPtrArray  *queries;       /* GHashTable* query (the signing parameters), per accepted request */
  char       *secret;
  char       *old_secret;    /* after a rotation: previousSignature is made with it */
  gboolean    rongcloud;     /* webhook-signature=rongcloud */
} AppServer;

/* What README.md tells app servers to do: lowercase hex HMAC-SHA256, keyed
 * with the app secret, of "natter-webhook\n" nonce "\n" signTimestamp "\n"
 * and the raw body. */
static char *
webhook_signature (const char *secret,
                   const char *nonce,
                   const char *stamp,
                   GBytes     *body)
{
  g_autoptr(GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256, (const guchar *) secret, strlen (secret));

  g_hmac_update (hmac, (const guchar *) "natter-webhook\n", -1);
  g_hmac_update (hmac, (const guchar *) nonce, -1);
  g_hmac_update (hmac, (const guchar *) "\n", -1);
  g_hmac_update (hmac, (const guchar *) stamp, -1);
  g_hmac_update (hmac, (const guchar *) "\n", -1);
  g_hmac_update (hmac, g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  return g_strdup (g_hmac_get_string (hmac));
}

static GHashTable *
copy_query (GHashTable *query)
{
  GHashTable *copy = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GHashTableIter iter;
  gpointer name, value;

  g_hash_table_iter_init (&iter, query);
  while (g_hash_table_iter_next (&iter, &name, &value))
    g_hash_table_insert (copy, g_strdup (name), g_strdup (value));
  return copy;
}

static void
on_hook (SoupServer        *server,
         SoupServerMessage *msg,
         const char        *path,
         GHashTable        *query,
         gpointer           user_data)
{
  AppServer *app = user_data;
  g_autoptr(GBytes) body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  g_autofree char *text = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));

  app->requests++;
  if (app->hang)
    {
      soup_server_message_pause (msg);
      g_ptr_array_add (app->hung, g_object_ref (msg));
      g_ptr_array_add (app->hung_bodies, soup_form_decode (text));
      return;
    }
  if (app->fail_first > 0)
    {
      app->fail_first--;
      soup_server_message_set_status (msg, 500, NULL);
      return;
    }

  /* The signing parameters are in the query. */
  {
    const char *nonce = g_hash_table_lookup (query, "nonce");
    const char *stamp = g_hash_table_lookup (query, "signTimestamp");
    g_autofree char *rongcloud_input = g_strconcat (app->secret, nonce, stamp, NULL);
    g_autofree char *expected = app->rongcloud ? g_compute_checksum_for_string (G_CHECKSUM_SHA1, rongcloud_input, -1)
                                               : webhook_signature (app->secret, nonce, stamp, body);

    g_assert_nonnull (g_hash_table_lookup (query, "appKey"));
    g_assert_cmpuint (strlen (nonce), >=, 16);
    g_assert_cmpstr (g_hash_table_lookup (query, "signature"), ==, expected);
    if (app->old_secret != NULL)
      {
        g_autofree char *previous = webhook_signature (app->old_secret, nonce, stamp, body);

        g_assert_cmpstr (g_hash_table_lookup (query, "previousSignature"), ==, previous);
      }
    else
      g_assert_null (g_hash_table_lookup (query, "previousSignature"));
  }

  g_ptr_array_add (app->bodies, soup_form_decode (text));
  g_ptr_array_add (app->queries, copy_query (query));
  soup_server_message_set_status (msg, 200, NULL);
}

static void
app_server_start (AppServer *app)
{
  g_autoptr(GError) error = NULL;
  GSList *uris;

  app->soup = soup_server_new (NULL, NULL);
  app->bodies = g_ptr_array_new_with_free_func ((GDestroyNotify) g_hash_table_unref);
  app->hung = g_ptr_array_new_with_free_func (g_object_unref);
  app->hung_bodies = g_ptr_array_new_with_free_func ((GDestroyNotify) g_hash_table_unref);
  app->queries = g_ptr_array_new_with_free_func ((GDestroyNotify) g_hash_table_unref);
  soup_server_add_handler (app->soup, "/hook", on_hook, app, NULL);
  soup_server_listen_local (app->soup, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (app->soup);
  app->url = g_strdup_printf ("http://127.0.0.1:%d/hook", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
}

static void
app_server_stop (AppServer *app)
{
  for (guint i = 0; i < app->hung->len; i++)
    {
      soup_server_message_set_status (g_ptr_array_index (app->hung, i), 200, NULL);
      soup_server_message_unpause (g_ptr_array_index (app->hung, i));
    }
  g_ptr_array_unref (app->hung);
  g_ptr_array_unref (app->hung_bodies);
  g_ptr_array_unref (app->bodies);
  g_ptr_array_unref (app->queries);
  g_object_unref (app->soup);
  g_free (app->url);
  g_free (app->secret);
  g_free (app->old_secret);
}

static gboolean
bodies_at_least (gpointer data)
{
  AppServer *app = data;

  return app->bodies->len >= 3;
}

static gboolean
requested (gpointer data)
{
  return ((AppServer *) data)->requests >= 1;
}

static NatterTestServer *
server_with_hook (AppServer  *app,
                  const char *config)
{
  g_autofree char *setting = g_strconcat ("webhook-url=", app->url, NULL);
  const char * const args[] = { "--app-setting", setting, NULL };
  const char * const rongcloud_args[] = {
    "--app-setting", setting,
    "--app-setting", "webhook-signature=rongcloud",
    "--app-setting", "allow-reused-nonce=true",
    NULL
  };
  NatterTestServer *server = natter_test_server_new_full (config, app->rongcloud ? rongcloud_args : args);

  app->secret = g_strdup (natter_test_server_get_app_secret (server));
  return server;
}

static void
test_routing (void)
{
  AppServer app = { 0 };
  g_autoptr(NatterTestServer) server = NULL;
  g_autoptr(NatterTestClient) alice = NULL;

  app_server_start (&app);
  app.fail_first = 2;
  server = server_with_hook (&app, "[webhook]\nbackoff-initial=50\n");
  alice = natter_test_client_new_user (server, "alice", "a1");

  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *content = g_strdup_printf ("{\"content\":\"hook %u\"}", i);
      natter_frame_free (natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg", content));
    }
  /* Not persisted: not routed. */
  natter_frame_free (natter_test_client_send_message (alice, 1, "bob", "RC:TypSts", "{}"));

  /* Two failures are retried; then all three, in order. */
  g_assert_true (natter_test_wait (bodies_at_least, &app, NATTER_TEST_TIMEOUT_MS));
  g_assert_cmpuint (app.requests, ==, 5);
  for (guint i = 0; i < 3; i++)
    {
      GHashTable *form = g_ptr_array_index (app.bodies, i);
      g_autofree char *content = g_strdup_printf ("{\"content\":\"hook %u\"}", i);

      g_assert_cmpstr (g_hash_table_lookup (form, "fromUserId"), ==, "alice");
      g_assert_cmpstr (g_hash_table_lookup (form, "toUserId"), ==, "bob");
      g_assert_cmpstr (g_hash_table_lookup (form, "objectName"), ==, "RC:TxtMsg");
      g_assert_cmpstr (g_hash_table_lookup (form, "content"), ==, content);
      g_assert_cmpstr (g_hash_table_lookup (form, "channelType"), ==, "PERSON");
      g_assert_cmpuint (strlen (g_hash_table_lookup (form, "msgUID")), ==, 19);
    }
  g_usleep (200 * 1000);
  g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (app.bodies->len, ==, 3);

  natter_test_client_free (g_steal_pointer (&alice));
  natter_test_server_free (g_steal_pointer (&server));
  app_server_stop (&app);
}

static gboolean
bodies_at_least_one (gpointer data)
{
  return ((AppServer *) data)->bodies->len >= 1;
}

static gboolean
bodies_at_least_two (gpointer data)
{
  return ((AppServer *) data)->bodies->len >= 2;
}

/* A delivery's signing parameters, sent to the server API as its
 * headers (plain and RC- prefixed): refused as a bad signature. */
static void
assert_replay_refused (NatterTestServer *server,
                       GHashTable       *query)
{
  const char *prefixes[] = { "", "RC-" };

  for (guint i = 0; i < G_N_ELEMENTS (prefixes); i++)
    {
      g_autoptr(SoupSession) session = soup_session_new ();
      g_autofree char *url = g_strdup_printf ("%s/user/getToken.json", natter_test_server_get_url (server));
      g_autoptr(SoupMessage) message = soup_message_new ("POST", url);
      SoupMessageHeaders *headers = soup_message_get_request_headers (message);
      g_autoptr(GBytes) request = g_bytes_new_static ("userId=mallory", strlen ("userId=mallory"));
      g_autoptr(GBytes) reply = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *h_key = g_strconcat (prefixes[i], "App-Key", NULL);
      g_autofree char *h_nonce = g_strconcat (prefixes[i], "Nonce", NULL);
      g_autofree char *h_stamp = g_strconcat (prefixes[i], "Timestamp", NULL);
      g_autofree char *h_signature = g_strconcat (prefixes[i], "Signature", NULL);

      soup_message_headers_append (headers, h_key, g_hash_table_lookup (query, "appKey"));
      soup_message_headers_append (headers, h_nonce, g_hash_table_lookup (query, "nonce"));
      soup_message_headers_append (headers, h_stamp, g_hash_table_lookup (query, "signTimestamp"));
      soup_message_headers_append (headers, h_signature, g_hash_table_lookup (query, "signature"));
      soup_message_set_request_body_from_bytes (message, "application/x-www-form-urlencoded", request);
      reply = soup_session_send_and_read (session, message, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (soup_message_get_status (message), ==, 401);
      g_assert_nonnull (g_strstr_len (g_bytes_get_data (reply, NULL), (gssize) g_bytes_get_size (reply),
                                      "\"code\":1004"));
    }
}

/* The webhook signature made as RongCloud makes it, for app servers that
 * verify it so: SHA1(secret + nonce + signTimestamp). Its nonce is one the
 * API refuses, even for an app that accepts reused nonces. */
static void
test_rongcloud_signature (void)
{
  AppServer app = { .rongcloud = TRUE };
  g_autoptr(NatterTestServer) server = NULL;
  g_autoptr(NatterTestClient) alice = NULL;
  GHashTable *query;

  app_server_start (&app);
  server = server_with_hook (&app, NULL);
  alice = natter_test_client_new_user (server, "alice", "a1");
  natter_frame_free (natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg", "{\"content\":\"replay me\"}"));
  g_assert_true (natter_test_wait (bodies_at_least_one, &app, NATTER_TEST_TIMEOUT_MS));
  query = g_ptr_array_index (app.queries, 0);
  g_assert_true (g_str_has_prefix (g_hash_table_lookup (query, "nonce"), "natter-webhook-"));

  assert_replay_refused (server, query);

  natter_test_client_free (g_steal_pointer (&alice));
  natter_test_server_free (g_steal_pointer (&server));
  app_server_stop (&app);
}

/* A delivery's signing parameters, replayed as a server API request's
 * headers (as someone who saw one in a proxy log would), are refused: the
 * webhook signature is not the API's. */
static void
test_signature_not_replayable (void)
{
  AppServer app = { 0 };
  g_autoptr(NatterTestServer) server = NULL;
  g_autoptr(NatterTestClient) alice = NULL;
  g_autoptr(JsonObject) rotated = NULL;
  GHashTable *query;
  guint status = 0;

  app_server_start (&app);
  server = server_with_hook (&app, NULL);
  alice = natter_test_client_new_user (server, "alice", "a1");
  natter_frame_free (natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg", "{\"content\":\"replay me\"}"));
  g_assert_true (natter_test_wait (bodies_at_least_one, &app, NATTER_TEST_TIMEOUT_MS));
  query = g_ptr_array_index (app.queries, 0);

  assert_replay_refused (server, query);
  /* The same headers, minus what is replayed, with the right signature
   * work: the refusal was the signature's. */
  {
    g_autofree char *nonce = g_strdup_printf ("%s-fresh", (char *) g_hash_table_lookup (query, "nonce"));
    g_autofree char *signature = natter_test_api_signature (app.secret, nonce,
                                                            g_hash_table_lookup (query, "signTimestamp"));

    g_assert_cmpint (natter_test_admin_request (server, "user/getToken.json", g_hash_table_lookup (query, "appKey"),
                                                nonce, g_hash_table_lookup (query, "signTimestamp"), signature,
                                                "userId=mallory", &status), ==, 200);
  }

  /* After natterd --rotate-secret (and SIGHUP), deliveries are signed with
   * the new secret, and with the old one as previousSignature while the
   * app server may not have the new one yet. */
  rotated = natter_test_admin_run (server, "--rotate-secret", natter_test_server_get_app_key (server), NULL);
  natter_test_admin_reload (server);
  {
    SecretTry attempt = { server, json_object_get_string_member (rotated, "appSecret") };

    g_assert_true (natter_test_wait (secret_accepted, &attempt, NATTER_TEST_TIMEOUT_MS));
  }
  app.old_secret = g_steal_pointer (&app.secret);
  app.secret = g_strdup (json_object_get_string_member (rotated, "appSecret"));
  natter_frame_free (natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg", "{\"content\":\"after\"}"));
  g_assert_true (natter_test_wait (bodies_at_least_two, &app, NATTER_TEST_TIMEOUT_MS));
  g_assert_nonnull (g_hash_table_lookup (g_ptr_array_index (app.queries, 1), "previousSignature"));

  natter_test_client_free (g_steal_pointer (&alice));
  natter_test_server_free (g_steal_pointer (&server));
  app_server_stop (&app);
}

static void
test_never_blocks (void)
{
  AppServer app = { 0 };
  g_autoptr(NatterTestServer) server = NULL;
  g_autoptr(NatterTestClient) alice = NULL;
  g_autoptr(NatterTestClient) bob = NULL;
  g_autoptr(JsonObject) metrics = NULL;

  app_server_start (&app);
  app.hang = TRUE;
  server = server_with_hook (&app, "[webhook]\nqueue-size=5\ndrain-timeout=0\n");
  alice = natter_test_client_new_user (server, "alice", "a1");
  bob = natter_test_client_new_user (server, "bob", "b1");

  /* The app server never answers; delivery goes on regardless, and the
   * bounded queue drops what does not fit. */
  for (guint i = 0; i < 20; i++)
    {
      g_autoptr(NatterFrame) ack = natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg",
                                                                    "{\"content\":\"x\"}");
      g_autoptr(NatterFrame) deliver = natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER, 2000);

      g_assert_cmpint (ack->publish_ack->code, ==, 0);
      g_assert_nonnull (deliver);
    }
  /* The first event's request reaches the app server (this main context)
   * on its own time: wait for it, then there is that one only. */
  g_assert_true (natter_test_wait (requested, &app, NATTER_TEST_TIMEOUT_MS));
  g_assert_cmpuint (app.requests, ==, 1);

  {
    g_autoptr(SoupSession) session = soup_session_new ();
    g_autofree char *url = g_strdup_printf ("%s/metrics", natter_test_server_get_url (server));
    g_autoptr(SoupMessage) message = soup_message_new ("GET", url);
    g_autoptr(GBytes) body = soup_session_send_and_read (session, message, NULL, NULL);
    g_autofree char *text = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));

    g_assert_nonnull (strstr (text, "natterd_webhook_dropped_total 15\n"));
  }

  natter_test_client_free (g_steal_pointer (&alice));
  natter_test_client_free (g_steal_pointer (&bob));
  natter_test_server_free (g_steal_pointer (&server));
  app_server_stop (&app);
}

/* Big messages fill the queue by bytes long before its event count: 20
 * messages of 100 KB to an app server that never answers keep at most
 * [webhook] queue-bytes waiting, and delivery goes on. */
static void
test_bounded_bytes (void)
{
  AppServer app = { 0 };
  g_autoptr(NatterTestServer) server = NULL;
  g_autoptr(NatterTestClient) alice = NULL;
  g_autoptr(NatterTestClient) bob = NULL;
  g_autofree char *filler = g_strnfill (100 * 1000, 'x');
  g_autofree char *content = g_strdup_printf ("{\"content\":\"%s\"}", filler);

  app_server_start (&app);
  app.hang = TRUE;
  server = server_with_hook (&app, "[webhook]\nqueue-bytes=1000000\ndrain-timeout=0\n");
  alice = natter_test_client_new_user (server, "alice", "a1");
  bob = natter_test_client_new_user (server, "bob", "b1");

  for (guint i = 0; i < 20; i++)
    {
      g_autoptr(NatterFrame) ack = natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg", content);
      g_autoptr(NatterFrame) deliver = natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER, 2000);

      g_assert_cmpint (ack->publish_ack->code, ==, 0);
      g_assert_nonnull (deliver);
    }
  /* One in flight, at most ten of 100 KB waiting. */
  g_assert_cmpuint (natter_test_server_get_metric (server, "natterd_webhook_dropped_total"), >=, 9);
  g_assert_cmpuint (natter_test_server_get_metric (server, "natterd_webhook_queued_total"), ==, 20);

  natter_test_client_free (g_steal_pointer (&alice));
  natter_test_client_free (g_steal_pointer (&bob));
  natter_test_server_free (g_steal_pointer (&server));
  app_server_stop (&app);
}

typedef struct {
  AppServer *app;
  guint count;
} BodiesWait;

static gboolean
bodies_reach (gpointer data)
{
  BodiesWait *wait = data;

  return wait->app->bodies->len >= wait->count;
}

/* Every persisted message goes to the hook, whatever sent it: a member of a
 * group, the app server (private, system, chatroom); each with its channel. */
static void
test_every_kind (void)
{
  AppServer app = { 0 };
  g_autoptr(NatterTestServer) server = NULL;
  g_autoptr(NatterTestClient) alice = NULL;
  g_autoptr(JsonObject) reply = NULL;
  BodiesWait wait = { &app, 4 };
  const struct {
    const char *from, *to, *object_name, *channel;
  } expected[] = {
    { "alice", "g1", "RC:TxtMsg", "GROUP" },
    { "admin", "bob", "RC:TxtMsg", "PERSON" },
    { "sys", "bob", "RC:InfoNtf", "SYSTEM" },
    { "host", "r1", "RC:TxtMsg", "CHATROOM" },
  };

  app_server_start (&app);
  server = server_with_hook (&app, NULL);
  alice = natter_test_client_new_user (server, "alice", "a1");

  reply = natter_test_server_api (server, NULL, "group/create", "userId", "alice", "userId", "bob",
                                  "groupId", "g1", "groupName", "G", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_clear_pointer (&reply, json_object_unref);
  natter_frame_free (natter_test_client_send_message (alice, 3, "g1", "RC:TxtMsg", "{\"content\":\"to the group\"}"));
  g_assert_true (natter_test_wait (bodies_reach, &(BodiesWait) { &app, 1 }, NATTER_TEST_TIMEOUT_MS));

  reply = natter_test_server_api (server, NULL, "message/private/publish", "fromUserId", "admin",
                                  "toUserId", "bob", "objectName", "RC:TxtMsg",
                                  "content", "{\"content\":\"from the app server\"}", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_clear_pointer (&reply, json_object_unref);
  g_assert_true (natter_test_wait (bodies_reach, &(BodiesWait) { &app, 2 }, NATTER_TEST_TIMEOUT_MS));

  reply = natter_test_server_api (server, NULL, "message/system/publish", "fromUserId", "sys",
                                  "toUserId", "bob", "objectName", "RC:InfoNtf",
                                  "content", "{\"message\":\"welcome\"}", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_clear_pointer (&reply, json_object_unref);
  g_assert_true (natter_test_wait (bodies_reach, &(BodiesWait) { &app, 3 }, NATTER_TEST_TIMEOUT_MS));

  reply = natter_test_server_api (server, NULL, "chatroom/create", "chatroom[r1]", "Room", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_clear_pointer (&reply, json_object_unref);
  reply = natter_test_server_api (server, NULL, "message/chatroom/publish", "fromUserId", "host",
                                  "toChatroomId", "r1", "objectName", "RC:TxtMsg",
                                  "content", "{\"content\":\"in the room\"}", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_clear_pointer (&reply, json_object_unref);

  g_assert_true (natter_test_wait (bodies_reach, &wait, NATTER_TEST_TIMEOUT_MS));
  g_assert_cmpuint (app.bodies->len, ==, G_N_ELEMENTS (expected));
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      GHashTable *form = g_ptr_array_index (app.bodies, i);

      g_assert_cmpstr (g_hash_table_lookup (form, "fromUserId"), ==, expected[i].from);
      g_assert_cmpstr (g_hash_table_lookup (form, "toUserId"), ==, expected[i].to);
      g_assert_cmpstr (g_hash_table_lookup (form, "objectName"), ==, expected[i].object_name);
      g_assert_cmpstr (g_hash_table_lookup (form, "channelType"), ==, expected[i].channel);
      g_assert_cmpuint (strlen (g_hash_table_lookup (form, "msgUID")), ==, 19);
    }

  natter_test_client_free (g_steal_pointer (&alice));
  natter_test_server_free (g_steal_pointer (&server));
  app_server_stop (&app);
}

/* A clean stop (a restart, a deploy) delivers what the app server had not
 * taken yet, retries included, before natterd exits. */
static void
test_drained_on_stop (void)
{
  AppServer app = { 0 };
  g_autoptr(NatterTestServer) server = NULL;
  g_autoptr(NatterTestClient) alice = NULL;
  BodiesWait wait = { &app, 3 };

  app_server_start (&app);
  app.fail_first = 2;
  /* The retries come 1 s and 3 s after the first attempt: the three sends
   * below are done long before, even on a loaded machine (they iterate this
   * main context, where the app server answers); the drain has all the time
   * they take. */
  server = server_with_hook (&app, "[webhook]\nbackoff-initial=1000\ndrain-timeout=30\n");
  alice = natter_test_client_new_user (server, "alice", "a1");

  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *content = g_strdup_printf ("{\"content\":\"before the stop %u\"}", i);
      g_autoptr(NatterFrame) ack = natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg", content);

      g_assert_cmpint (ack->publish_ack->code, ==, 0);
    }

  /* Nothing was answered yet: the app server runs in this main context. */
  g_assert_cmpuint (app.bodies->len, ==, 0);
  g_assert_cmpint (kill (natter_test_server_get_pid (server), SIGTERM), ==, 0);
  g_assert_true (natter_test_wait (bodies_reach, &wait, NATTER_TEST_TIMEOUT_MS));
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *content = g_strdup_printf ("{\"content\":\"before the stop %u\"}", i);

      g_assert_cmpstr (g_hash_table_lookup (g_ptr_array_index (app.bodies, i), "content"), ==, content);
    }
  g_assert_cmpuint (app.requests, ==, 5);

  natter_test_client_free (g_steal_pointer (&alice));
  natter_test_server_stop (server);
  g_assert_cmpint (natter_test_server_get_exit_status (server), ==, 0);
  natter_test_server_free (g_steal_pointer (&server));
  app_server_stop (&app);
}

/* ------------------------------------------------------------- durability */

/* The msgUID of every event natterd keeps stored, oldest first. */
static GPtrArray *
stored_events (NatterTestServer *server)
{
  g_autofree char *path = g_build_filename (natter_test_server_get_data_dir (server), "natterd.db", NULL);
  GPtrArray *uids = g_ptr_array_new_with_free_func (g_free);
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  int rc;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT body FROM webhook_events ORDER BY message_id", -1,
                                       &stmt, NULL), ==, SQLITE_OK);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      g_autoptr(GHashTable) form = soup_form_decode ((const char *) sqlite3_column_text (stmt, 0));

      g_assert_nonnull (g_hash_table_lookup (form, "msgUID"));
      g_ptr_array_add (uids, g_strdup (g_hash_table_lookup (form, "msgUID")));
    }
  g_assert_cmpint (rc, ==, SQLITE_DONE);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return uids;
}

/* Until every row is deleted: natterd's writer tells this process nothing,
 * so look every 20 ms rather than wait for the main context. */
static gboolean
wait_nothing_stored (NatterTestServer *server)
{
  gint64 deadline = g_get_monotonic_time () + NATTER_TEST_TIMEOUT_MS * 1000;

  for (;;)
    {
      g_autoptr(GPtrArray) stored = stored_events (server);

      if (stored->len == 0)
        return TRUE;
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      g_main_context_iteration (NULL, FALSE);
      g_usleep (20 * 1000);
    }
}

/* Sends @n texts "@prefix i" to bob without waiting between them; the
 * uids of their acks go to @uids, in order. */
static void
send_texts (NatterTestClient *client,
            const char       *prefix,
            guint             n,
            GPtrArray        *uids)
{
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *content = g_strdup_printf ("{\"content\":\"%s %u\"}", prefix, i);

      g_ptr_array_add (ids, natter_test_client_publish (client, 1, "bob", "RC:TxtMsg", content));
    }
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(NatterFrame) ack = natter_test_client_wait_ack (client, g_ptr_array_index (ids, i));

      g_assert_cmpint (ack->publish_ack->code, ==, 0);
      g_ptr_array_add (uids, g_strdup (ack->publish_ack->message_uid));
    }
}

/* The events the app server took, from @first on, are exactly @uids. */
static void
assert_bodies (AppServer *app,
               guint      first,
               GPtrArray *uids)
{
  g_assert_cmpuint (app->bodies->len, ==, first + uids->len);
  for (guint i = 0; i < uids->len; i++)
    g_assert_cmpstr (g_hash_table_lookup (g_ptr_array_index (app->bodies, first + i), "msgUID"), ==,
                     g_ptr_array_index (uids, i));
}

/* Lets natterd send what it would send by mistake. */
static void
settle (void)
{
  gint64 until = g_get_monotonic_time () + 300 * 1000;

  while (g_get_monotonic_time () < until)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (10 * 1000);
    }
}

/* An app server, natterd routing to it and alice sending to bob. */
typedef struct
{
  AppServer         app;
  NatterTestServer *server;
  NatterTestClient *alice;
  GPtrArray        *uids;        /* of alice's messages, in the order sent */
} Durable;

static void
durable_start (Durable    *d,
               const char *config)
{
  app_server_start (&d->app);
  d->server = server_with_hook (&d->app, config);
  d->alice = natter_test_client_new_user (d->server, "alice", "a1");
  d->uids = g_ptr_array_new_with_free_func (g_free);
}

/* SIGKILL and a start on the same data dir; alice connects again if
 * @reconnect. */
static void
durable_kill_restart (Durable  *d,
                      gboolean  reconnect)
{
  g_clear_pointer (&d->alice, natter_test_client_free);
  natter_test_server_kill (d->server);
  natter_test_server_restart (d->server);
  if (reconnect)
    d->alice = natter_test_client_new_user (d->server, "alice", "a1");
}

static void
durable_finish (Durable *d)
{
  g_clear_pointer (&d->alice, natter_test_client_free);
  natter_test_server_free (d->server);
  app_server_stop (&d->app);
  g_ptr_array_unref (d->uids);
}

/* The app server is broken while messages are sent, and natterd is
 * SIGKILLed: after the restart every event arrives, in order, before the
 * ones sent since. More than a page of them, so they are read in pages. */
static void
test_survives_kill (void)
{
  Durable d = { { 0 } };
  g_autoptr(GPtrArray) stored = NULL;

  durable_start (&d, "[limits]\nsend-rate=0\n[webhook]\nbackoff-initial=60000\n");
  d.app.fail_first = G_MAXUINT;
  send_texts (d.alice, "before the kill", 300, d.uids);

  /* One attempt failed; the next is a minute away. */
  g_assert_true (natter_test_wait (requested, &d.app, NATTER_TEST_TIMEOUT_MS));
  g_clear_pointer (&d.alice, natter_test_client_free);
  natter_test_server_kill (d.server);
  g_assert_cmpuint (d.app.bodies->len, ==, 0);
  stored = stored_events (d.server);
  g_assert_cmpuint (stored->len, ==, 300);
  for (guint i = 0; i < stored->len; i++)
    g_assert_cmpstr (g_ptr_array_index (stored, i), ==, g_ptr_array_index (d.uids, i));

  d.app.fail_first = 0;
  natter_test_server_restart (d.server);
  d.alice = natter_test_client_new_user (d.server, "alice", "a1");
  send_texts (d.alice, "after the restart", 2, d.uids);
  g_assert_true (natter_test_wait (bodies_reach, &(BodiesWait) { &d.app, 302 }, 3 * NATTER_TEST_TIMEOUT_MS));
  settle ();
  assert_bodies (&d.app, 0, d.uids);
  g_assert_cmpstr (g_hash_table_lookup (g_ptr_array_index (d.app.bodies, 299), "content"), ==,
                   "{\"content\":\"before the kill 299\"}");
  g_assert_cmpuint (natter_test_server_get_metric (d.server, "natterd_webhook_loaded_total"), ==, 300);
  g_assert_cmpuint (natter_test_server_get_metric (d.server, "natterd_webhook_dropped_total"), ==, 0);

  durable_finish (&d);
}

static gboolean
hung_at_least_one (gpointer data)
{
  return ((AppServer *) data)->hung_bodies->len >= 1;
}

/* At least once: an event the app server took but natterd never heard
 * back about (killed meanwhile) is sent again after the restart. */
static void
test_sent_again_after_kill (void)
{
  Durable d = { { 0 } };

  durable_start (&d, NULL);
  d.app.hang = TRUE;
  send_texts (d.alice, "in flight", 3, d.uids);
  g_assert_true (natter_test_wait (hung_at_least_one, &d.app, NATTER_TEST_TIMEOUT_MS));
  g_assert_cmpstr (g_hash_table_lookup (g_ptr_array_index (d.app.hung_bodies, 0), "msgUID"), ==,
                   g_ptr_array_index (d.uids, 0));

  d.app.hang = FALSE;
  durable_kill_restart (&d, FALSE);
  g_assert_true (natter_test_wait (bodies_reach, &(BodiesWait) { &d.app, 3 }, NATTER_TEST_TIMEOUT_MS));
  settle ();
  assert_bodies (&d.app, 0, d.uids);

  durable_finish (&d);
}

/* A delivered event's row goes: a SIGKILL right after sends nothing again,
 * and nothing is left after a clean stop. */
static void
test_forgotten_after_delivery (void)
{
  Durable d = { { 0 } };
  g_autoptr(GPtrArray) later = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) stored = NULL;

  durable_start (&d, NULL);
  send_texts (d.alice, "delivered", 5, d.uids);
  g_assert_true (natter_test_wait (bodies_reach, &(BodiesWait) { &d.app, 5 }, NATTER_TEST_TIMEOUT_MS));
  g_assert_true (wait_nothing_stored (d.server));

  durable_kill_restart (&d, TRUE);
  send_texts (d.alice, "after the restart", 1, later);
  g_assert_true (natter_test_wait (bodies_reach, &(BodiesWait) { &d.app, 6 }, NATTER_TEST_TIMEOUT_MS));
  settle ();
  assert_bodies (&d.app, 5, later);
  g_assert_cmpuint (natter_test_server_get_metric (d.server, "natterd_webhook_loaded_total"), ==, 0);

  g_clear_pointer (&d.alice, natter_test_client_free);
  natter_test_server_stop (d.server);
  stored = stored_events (d.server);
  g_assert_cmpuint (stored->len, ==, 0);

  durable_finish (&d);
}

/* queue-size bounds what is stored too: the oldest waiting events are
 * dropped, counted and forgotten; a clean stop that could not deliver the
 * rest keeps it for the next start, which delivers exactly that. */
static void
test_bounded_durable (void)
{
  Durable d = { { 0 } };
  g_autoptr(GPtrArray) kept = g_ptr_array_new ();
  g_autoptr(GPtrArray) stored = NULL;

  durable_start (&d, "[webhook]\nqueue-size=5\ndrain-timeout=0\n");
  d.app.hang = TRUE;
  send_texts (d.alice, "bounded", 20, d.uids);

  /* The first is in flight (the app server holds it); the four newest wait. */
  g_assert_true (natter_test_wait (hung_at_least_one, &d.app, NATTER_TEST_TIMEOUT_MS));
  g_assert_cmpuint (natter_test_server_get_metric (d.server, "natterd_webhook_dropped_total"), ==, 15);
  g_assert_cmpuint (natter_test_server_get_metric (d.server, "natterd_webhook_pending"), ==, 5);
  g_ptr_array_add (kept, g_ptr_array_index (d.uids, 0));
  for (guint i = 16; i < 20; i++)
    g_ptr_array_add (kept, g_ptr_array_index (d.uids, i));

  g_clear_pointer (&d.alice, natter_test_client_free);
  natter_test_server_stop (d.server);
  g_assert_cmpint (natter_test_server_get_exit_status (d.server), ==, 0);
  stored = stored_events (d.server);
  g_assert_cmpuint (stored->len, ==, kept->len);
  for (guint i = 0; i < kept->len; i++)
    g_assert_cmpstr (g_ptr_array_index (stored, i), ==, g_ptr_array_index (kept, i));

  d.app.hang = FALSE;
  natter_test_server_restart (d.server);
  g_assert_true (natter_test_wait (bodies_reach, &(BodiesWait) { &d.app, 5 }, NATTER_TEST_TIMEOUT_MS));
  settle ();
  assert_bodies (&d.app, 0, kept);
  g_assert_true (wait_nothing_stored (d.server));

  durable_finish (&d);
}

static gboolean
bodies_at_least_two_presence (gpointer data)
{
  return ((AppServer *) data)->bodies->len >= 2;
}

/* presence-url: each user's online (0) and offline (1) change, signed like
 * the webhook, retried and in order. */
static void
test_presence (void)
{
  AppServer app = { 0 };
  g_autoptr(NatterTestServer) server = NULL;
  g_autoptr(NatterTestClient) alice = NULL;
  g_autoptr(NatterTestClient) alice_phone = NULL;
  g_autofree char *setting = NULL;

  app_server_start (&app);
  app.fail_first = 1;
  setting = g_strconcat ("presence-url=", app.url, NULL);
  server = natter_test_server_new_full ("[webhook]\nbackoff-initial=50\n",
                                        (const char * const[]) { "--app-setting", setting,
                                                                 "--app-setting", "multi-device=true", NULL });
  app.secret = g_strdup (natter_test_server_get_app_secret (server));

  alice = natter_test_client_new_user (server, "alice", "a1");
  /* A second device of an online user is no change. */
  alice_phone = natter_test_client_new_user (server, "alice", "a2");
  natter_test_client_free (g_steal_pointer (&alice_phone));
  natter_test_client_free (g_steal_pointer (&alice));

  g_assert_true (natter_test_wait (bodies_at_least_two_presence, &app, NATTER_TEST_TIMEOUT_MS));
  g_assert_cmpuint (app.requests, ==, 3);
  g_assert_cmpstr (g_hash_table_lookup (g_ptr_array_index (app.bodies, 0), "userId"), ==, "alice");
  g_assert_cmpstr (g_hash_table_lookup (g_ptr_array_index (app.bodies, 0), "status"), ==, "0");
  g_assert_cmpstr (g_hash_table_lookup (g_ptr_array_index (app.bodies, 1), "userId"), ==, "alice");
  g_assert_cmpstr (g_hash_table_lookup (g_ptr_array_index (app.bodies, 1), "status"), ==, "1");
  g_assert_nonnull (g_hash_table_lookup (g_ptr_array_index (app.bodies, 1), "time"));
  g_usleep (200 * 1000);
  g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (app.bodies->len, ==, 2);

  natter_test_server_free (g_steal_pointer (&server));
  app_server_stop (&app);
}

static gboolean
metric_reaches_twenty (gpointer server)
{
  return natter_test_server_get_metric (server, "natterd_webhook_queued_total") >= 20;
}

/* presence-url is bounded like the webhook (#16): while the app server
 * never answers, natterd keeps at most [webhook] queue-size changes (the
 * one in flight among them), drops the older ones and keeps serving. */
static void
test_presence_bounded (void)
{
  AppServer app = { 0 };
  g_autoptr(NatterTestServer) server = NULL;
  g_autofree char *setting = NULL;

  app_server_start (&app);
  app.hang = TRUE;
  setting = g_strconcat ("presence-url=", app.url, NULL);
  server = natter_test_server_new_full ("[webhook]\nqueue-size=3\ndrain-timeout=0\n",
                                        (const char * const[]) { "--app-setting", setting, NULL });

  /* ten users come and go: 20 changes */
  for (guint i = 0; i < 10; i++)
    {
      g_autofree char *user = g_strdup_printf ("u%u", i);
      NatterTestClient *client = natter_test_client_new_user (server, user, "d1");

      natter_test_client_free (client);
    }
  g_assert_true (natter_test_wait (metric_reaches_twenty, server, NATTER_TEST_TIMEOUT_MS));
  /* at most three kept, the one in flight among them */
  g_assert_cmpuint (natter_test_server_get_metric (server, "natterd_webhook_dropped_total"), >=, 16);
  g_assert_true (natter_test_wait (requested, &app, NATTER_TEST_TIMEOUT_MS));
  /* still serving */
  natter_test_client_free (natter_test_client_new_user (server, "alice", "a1"));

  natter_test_server_free (g_steal_pointer (&server));
  app_server_stop (&app);
}

/* One device replacing another (not multi-device) is no change either:
 * the kick of the older one does not say offline. */
static void
test_presence_replaced (void)
{
  AppServer app = { 0 };
  g_autoptr(NatterTestServer) server = NULL;
  g_autoptr(NatterTestClient) alice = NULL;
  g_autoptr(NatterTestClient) alice_phone = NULL;
  g_autofree char *setting = NULL;

  app_server_start (&app);
  setting = g_strconcat ("presence-url=", app.url, NULL);
  server = natter_test_server_new_full (NULL, (const char * const[]) { "--app-setting", setting, NULL });
  app.secret = g_strdup (natter_test_server_get_app_secret (server));

  alice = natter_test_client_new_user (server, "alice", "a1");
  alice_phone = natter_test_client_new_user (server, "alice", "a2");
  natter_test_client_free (g_steal_pointer (&alice_phone));
  natter_test_client_free (g_steal_pointer (&alice));

  g_assert_true (natter_test_wait (bodies_at_least_two_presence, &app, NATTER_TEST_TIMEOUT_MS));
  g_usleep (200 * 1000);
  g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (app.bodies->len, ==, 2);
  g_assert_cmpstr (g_hash_table_lookup (g_ptr_array_index (app.bodies, 0), "status"), ==, "0");
  g_assert_cmpstr (g_hash_table_lookup (g_ptr_array_index (app.bodies, 1), "status"), ==, "1");

  natter_test_server_free (g_steal_pointer (&server));
  app_server_stop (&app);
}

/* A client that signs out closes with NATTER_CLOSE_LOGOUT: status 2
 * (logout), not 1 (offline). */
static void
test_presence_logout (void)
{
  AppServer app = { 0 };
  g_autoptr(NatterTestServer) server = NULL;
  g_autoptr(NatterTestClient) alice = NULL;
  g_autofree char *setting = NULL;

  app_server_start (&app);
  setting = g_strconcat ("presence-url=", app.url, NULL);
  server = natter_test_server_new_full (NULL, (const char * const[]) { "--app-setting", setting, NULL });
  app.secret = g_strdup (natter_test_server_get_app_secret (server));

  alice = natter_test_client_new_user (server, "alice", "a1");
  natter_test_client_close (alice, NATTER_CLOSE_LOGOUT);

  g_assert_true (natter_test_wait (bodies_at_least_two_presence, &app, NATTER_TEST_TIMEOUT_MS));
  g_assert_cmpstr (g_hash_table_lookup (g_ptr_array_index (app.bodies, 0), "status"), ==, "0");
  g_assert_cmpstr (g_hash_table_lookup (g_ptr_array_index (app.bodies, 1), "userId"), ==, "alice");
  g_assert_cmpstr (g_hash_table_lookup (g_ptr_array_index (app.bodies, 1), "status"), ==, "2");

  natter_test_client_free (g_steal_pointer (&alice));
  natter_test_server_free (g_steal_pointer (&server));
  app_server_stop (&app);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/server/webhook/routing", test_routing);
  g_test_add_func ("/server/webhook/signature-not-replayable", test_signature_not_replayable);
  g_test_add_func ("/server/webhook/rongcloud-signature", test_rongcloud_signature);
  g_test_add_func ("/server/webhook/every-kind", test_every_kind);
  g_test_add_func ("/server/webhook/drained-on-stop", test_drained_on_stop);
  g_test_add_func ("/server/webhook/never-blocks", test_never_blocks);
  g_test_add_func ("/server/webhook/bounded-bytes", test_bounded_bytes);
  g_test_add_func ("/server/webhook/survives-kill", test_survives_kill);
  g_test_add_func ("/server/webhook/sent-again-after-kill", test_sent_again_after_kill);
  g_test_add_func ("/server/webhook/forgotten-after-delivery", test_forgotten_after_delivery);
  g_test_add_func ("/server/webhook/bounded-durable", test_bounded_durable);
  g_test_add_func ("/server/webhook/presence", test_presence);
  g_test_add_func ("/server/webhook/presence-bounded", test_presence_bounded);
  g_test_add_func ("/server/webhook/presence-replaced", test_presence_replaced);
  g_test_add_func ("/server/webhook/presence-logout", test_presence_logout);

  return g_test_run ();
}
