/* test-cluster-accounts.c — end-user accounts (#14) on two natterd nodes
 * sharing one PostgreSQL over NATS: an account made on one node logs in on
 * the other, a contact request made on one is accepted on the other,
 * contacts-only and mute-all hold on the node the sender is on, group
 * notifications reach members on the other node, wrong passwords spread
 * over both lock the account, and a password changed on one revokes the
 * tokens on the other
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "test-cluster-common.h"

#include <string.h>

G_GNUC_NULL_TERMINATED static JsonObject *
account (NatterTestServer *node,
         const char       *method,
         const char       *token,
         const char       *path,
         ...)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autoptr(GString) form = g_string_new (NULL);
  g_autoptr(SoupMessage) message = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *url = NULL;
  const char *name;
  va_list args;

  va_start (args, path);
  while ((name = va_arg (args, const char *)) != NULL)
    {
      g_autofree char *value = g_uri_escape_string (va_arg (args, const char *), NULL, FALSE);

      g_string_append_printf (form, "%s%s=%s", form->len > 0 ? "&" : "", name, value);
    }
  va_end (args);

  if (g_str_equal (method, "GET"))
    url = g_strdup_printf ("%s/account/%s.json?%s", natter_test_server_get_url (node), path, form->str);
  else
    url = g_strdup_printf ("%s/account/%s.json", natter_test_server_get_url (node), path);
  message = soup_message_new (method, url);
  if (g_str_equal (method, "POST"))
    {
      g_autoptr(GBytes) bytes = g_bytes_new (form->str, form->len);

      soup_message_set_request_body_from_bytes (message, "application/x-www-form-urlencoded", bytes);
    }
  if (token != NULL)
    {
      g_autofree char *authorization = g_strdup_printf ("Bearer %s", token);

      soup_message_headers_replace (soup_message_get_request_headers (message), "Authorization", authorization);
    }
  body = soup_session_send_and_read (session, message, NULL, NULL);
  g_assert_nonnull (body);
  g_assert_true (json_parser_load_from_data (parser, g_bytes_get_data (body, NULL), (gssize) g_bytes_get_size (body),
                                             NULL));
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

#define code_of(reply) ((int) json_object_get_int_member (reply, "code"))

static char *
register_on (NatterTestServer *node,
             const char       *user_id)
{
  g_autoptr(JsonObject) reply = account (node, "POST", NULL, "register", "appKey",
                                         natter_test_server_get_app_key (node), "userId", user_id,
                                         "password", "a long password", "name", user_id, NULL);

  g_assert_cmpint (code_of (reply), ==, 200);
  return g_strdup (json_object_get_string_member (reply, "token"));
}

typedef struct
{
  NatterTestServer *node;
  const char       *token;
  const char       *other;
  const char       *state;
} ContactWait;

static gboolean
contact_is (gpointer data)
{
  ContactWait *wait = data;
  g_autoptr(JsonObject) reply = account (wait->node, "GET", wait->token, "contacts", NULL);
  JsonArray *contacts = json_object_get_array_member (reply, "contacts");

  for (guint i = 0; i < json_array_get_length (contacts); i++)
    {
      JsonObject *contact = json_array_get_object_element (contacts, i);

      if (g_str_equal (json_object_get_string_member (contact, "userId"), wait->other))
        return g_strcmp0 (json_object_get_string_member (contact, "state"), wait->state) == 0;
    }
  /* @state NULL: waits for no contact. */
  return wait->state == NULL;
}

/* The first Deliver of @object_name, its content parsed. */
static JsonObject *
expect_object (NatterTestClient *client,
               const char       *object_name)
{
  for (;;)
    {
      g_autoptr(NatterFrame) frame = natter_test_client_expect (client, NATTER__FRAME__BODY_DELIVER,
                                                                NATTER_TEST_TIMEOUT_MS);
      g_autoptr(JsonParser) parser = json_parser_new ();

      if (frame == NULL)
        g_error ("no %s arrived", object_name);
      if (!g_str_equal (frame->deliver->message->object_name, object_name))
        continue;
      g_assert_true (json_parser_load_from_data (parser, frame->deliver->message->content, -1, NULL));
      return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
    }
}

static void
test_accounts_across_nodes (void)
{
  g_autoptr(ClusterPair) pair = cluster_pair_new (NULL, ((const char * const[]) {
                                                    "--app-setting", "accounts=open",
                                                    "--app-setting", "multi-device=true", NULL }));
  NatterTestServer *a = pair->a;
  NatterTestServer *b = pair->b;
  g_autofree char *alice = NULL;
  g_autofree char *bob = NULL;
  g_autofree char *carol = NULL;
  g_autofree char *group = NULL;
  g_autoptr(NatterTestClient) bob_b = NULL;
  g_autoptr(NatterTestClient) carol_a = NULL;
  ContactWait contact_wait;
  SendWait send_wait;
  JsonObject *reply;

  /* Made on a, logs in on b: the password is read from the shared store. */
  alice = register_on (a, "alice");
  reply = account (b, "POST", NULL, "login", "appKey", natter_test_server_get_app_key (b), "userId", "alice",
                   "password", "a long password", NULL);
  g_assert_cmpint (code_of (reply), ==, 200);
  json_object_unref (reply);
  bob = register_on (b, "bob");
  carol = register_on (a, "carol");
  bob_b = cluster_connect_as (b, bob, "b1");
  carol_a = cluster_connect_as (a, carol, "c1");

  /* Asked on a, accepted on b. */
  reply = account (a, "POST", alice, "contact/request", "userId", "bob", NULL);
  g_assert_cmpint (code_of (reply), ==, 200);
  json_object_unref (reply);
  reply = expect_object (bob_b, "RC:ContactNtf");
  g_assert_cmpstr (json_object_get_string_member (reply, "operation"), ==, "Request");
  json_object_unref (reply);
  contact_wait = (ContactWait) { b, bob, "alice", "incoming" };
  g_assert_true (natter_test_wait (contact_is, &contact_wait, NATTER_TEST_TIMEOUT_MS));
  reply = account (b, "POST", bob, "contact/accept", "userId", "alice", NULL);
  g_assert_cmpint (code_of (reply), ==, 200);
  json_object_unref (reply);
  contact_wait = (ContactWait) { a, alice, "bob", "contact" };
  g_assert_true (natter_test_wait (contact_is, &contact_wait, NATTER_TEST_TIMEOUT_MS));

  /* Contacts only, set on b, holds for carol sending on a. */
  reply = account (b, "POST", bob, "privacy", "messagesFrom", "contacts", NULL);
  g_assert_cmpint (code_of (reply), ==, 200);
  json_object_unref (reply);
  send_wait = (SendWait) { carol_a, 1, "bob", 26010 };
  g_assert_true (natter_test_wait (send_gets, &send_wait, NATTER_TEST_TIMEOUT_MS));

  /* A group made on a: its notification reaches bob on b; mute-all set on
   * a holds for bob (a member) sending on b. */
  reply = account (a, "POST", alice, "group/create", "name", "Across", "memberId", "bob", "memberId", "carol", NULL);
  g_assert_cmpint (code_of (reply), ==, 200);
  group = g_strdup (json_object_get_string_member (reply, "groupId"));
  json_object_unref (reply);
  reply = expect_object (bob_b, "RC:GrpNtf");
  g_assert_cmpstr (json_object_get_string_member (reply, "operation"), ==, "Create");
  json_object_unref (reply);
  reply = account (a, "POST", alice, "group/mute-all", "groupId", group, "mute", "true", NULL);
  g_assert_cmpint (code_of (reply), ==, 200);
  json_object_unref (reply);
  send_wait = (SendWait) { bob_b, 3, group, 22408 };
  g_assert_true (natter_test_wait (send_gets, &send_wait, NATTER_TEST_TIMEOUT_MS));
  /* And the roles: b lists alice as the owner. */
  reply = account (b, "GET", bob, "group/members", "groupId", group, NULL);
  g_assert_cmpint (code_of (reply), ==, 200);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (
                     json_object_get_array_member (reply, "members"), 0), "role"), ==, "owner");
  json_object_unref (reply);
}

/* A change made on b while NATS is down reaches a when NATS is back: a
 * reads the account rows again with the directory. */
static void
test_accounts_after_outage (void)
{
  g_autoptr(ClusterPair) pair = cluster_pair_new (NULL, ((const char * const[]) {
                                                    "--app-setting", "accounts=open", NULL }));
  NatterTestServer *a = pair->a;
  NatterTestServer *b = pair->b;
  NatterTestNats *nats = pair->nats;
  g_autofree char *bob = NULL;
  g_autofree char *carol = NULL;
  g_autoptr(NatterTestClient) carol_a = NULL;
  SendWait send_wait;
  JsonObject *reply;

  bob = register_on (b, "bob");
  carol = register_on (a, "carol");
  carol_a = cluster_connect_as (a, carol, "c1");
  send_wait = (SendWait) { carol_a, 1, "bob", 0 };
  g_assert_true (natter_test_wait (send_gets, &send_wait, NATTER_TEST_TIMEOUT_MS));

  natter_test_nats_stop (nats);
  reply = account (b, "POST", bob, "privacy", "messagesFrom", "contacts", NULL);
  g_assert_cmpint (code_of (reply), ==, 200);
  json_object_unref (reply);
  natter_test_nats_restart (nats);

  send_wait = (SendWait) { carol_a, 1, "bob", 26010 };
  g_assert_true (natter_test_wait (send_gets, &send_wait, NATTER_TEST_TIMEOUT_MS));
}

static int
login_code (NatterTestServer *node,
            const char       *user_id,
            const char       *password)
{
  g_autoptr(JsonObject) reply = account (node, "POST", NULL, "login", "appKey", natter_test_server_get_app_key (node),
                                         "userId", user_id, "password", password, NULL);

  return code_of (reply);
}

/* A burst of wrong passwords spread over two nodes locks the account on
 * both, as it would on one: the count is the shared store's, not each
 * node's (which saw 6 of the 12 here). */
static void
test_lockout_across_nodes (void)
{
  g_autoptr(ClusterPair) pair = cluster_pair_new ("[limits]\nlogin-backoff=1\nlogin-lockout=120\n"
                                                  "login-address-limit=0\n", ((const char * const[]) {
                                                    "--app-setting", "accounts=open", NULL }));
  NatterTestServer *a = pair->a;
  NatterTestServer *b = pair->b;

  g_free (register_on (a, "carol"));
  g_free (register_on (b, "dave"));
  for (int i = 0; i < 12; i++)
    g_assert_cmpint (login_code (i % 2 == 0 ? a : b, "carol", "a wrong guess"), ==, 26002);
  /* Locked on both, even for the right password. */
  g_assert_cmpint (login_code (a, "carol", "a long password"), ==, 26003);
  g_assert_cmpint (login_code (b, "carol", "a long password"), ==, 26003);
  /* Another account is not. */
  g_assert_cmpint (login_code (b, "dave", "a long password"), ==, 200);
  g_assert_cmpint (login_code (a, "dave", "a long password"), ==, 200);
}

typedef struct
{
  int      code;
  gboolean done;
} Login;

static void
login_done (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Login *login = user_data;
  g_autoptr(GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();

  g_assert_nonnull (body);
  g_assert_true (json_parser_load_from_data (parser, g_bytes_get_data (body, NULL), (gssize) g_bytes_get_size (body),
                                             NULL));
  login->code = (int) json_object_get_int_member (json_node_get_object (json_parser_get_root (parser)), "code");
  login->done = TRUE;
}

static void
login_async (SoupSession      *session,
             NatterTestServer *node,
             const char       *user_id,
             Login            *login)
{
  g_autofree char *url = g_strdup_printf ("%s/account/login.json", natter_test_server_get_url (node));
  g_autofree char *form = g_strdup_printf ("appKey=%s&userId=%s&password=a%%20long%%20password",
                                           natter_test_server_get_app_key (node), user_id);
  g_autoptr(GBytes) bytes = g_bytes_new (form, strlen (form));
  g_autoptr(SoupMessage) message = soup_message_new ("POST", url);

  soup_message_set_request_body_from_bytes (message, "application/x-www-form-urlencoded", bytes);
  *login = (Login) { 0, FALSE };
  soup_session_send_and_read_async (session, message, G_PRIORITY_DEFAULT, NULL, login_done, login);
}

/* Two logins of one account at once, on two nodes: one password check
 * at a time across the cluster (#14), the other answered 26007 (retry);
 * never both refused, and once both are answered the account logs in on
 * either at once. */
static void
test_check_races_across_nodes (void)
{
  g_autoptr(ClusterPair) pair = cluster_pair_new ("[limits]\nlogin-address-limit=0\n", ((const char * const[]) {
                                                    "--app-setting", "accounts=open", NULL }));
  NatterTestServer *a = pair->a;
  NatterTestServer *b = pair->b;
  g_autoptr(SoupSession) session_a = soup_session_new ();
  g_autoptr(SoupSession) session_b = soup_session_new ();
  guint refused = 0;

  g_free (register_on (a, "carol"));
  /* Each hash takes tens of ms: sent together, the checks overlap. */
  for (guint round = 0; round < 20 && refused < 2; round++)
    {
      Login on_a, on_b;

      login_async (session_a, a, "carol", &on_a);
      login_async (session_b, b, "carol", &on_b);
      while (!on_a.done || !on_b.done)
        g_main_context_iteration (NULL, TRUE);
      g_assert_true (on_a.code == 200 || on_a.code == 26007);
      g_assert_true (on_b.code == 200 || on_b.code == 26007);
      g_assert_true (on_a.code == 200 || on_b.code == 200);
      refused += (on_a.code == 26007) + (on_b.code == 26007);
      /* Both answered: no check runs any more, on either node. */
      g_assert_cmpint (login_code (round % 2 == 0 ? a : b, "carol", "a long password"), ==, 200);
    }
  g_assert_cmpuint (refused, >, 0);
  /* Given back: each node checks it again. */
  g_assert_cmpint (login_code (a, "carol", "a long password"), ==, 200);
  g_assert_cmpint (login_code (b, "carol", "a long password"), ==, 200);
}

typedef struct
{
  NatterTestServer *node;
  const char       *token;
  int               expected;
} ConnectWait;

static gboolean
connect_gets (gpointer data)
{
  ConnectWait *wait = data;
  g_autoptr(NatterTestClient) client = natter_test_client_open (wait->node, NULL);

  return client != NULL && natter_test_client_connect (client, natter_test_server_get_app_key (wait->node),
                                                       wait->token, "x1", 0) == wait->expected;
}

/* Registered on a, password changed on b: alice's device on a is dropped
 * and her old token refused there as revoked (31004), the new one taken;
 * a contact request made on a reaches bob's device on b. */
static void
test_password_across_nodes (void)
{
  g_autoptr(ClusterPair) pair = cluster_pair_new (NULL, ((const char * const[]) {
                                                    "--app-setting", "accounts=open", NULL }));
  NatterTestServer *a = pair->a;
  NatterTestServer *b = pair->b;
  g_autofree char *alice = NULL;
  g_autofree char *bob = NULL;
  g_autofree char *fresh = NULL;
  g_autoptr(NatterTestClient) alice_a = NULL;
  g_autoptr(NatterTestClient) bob_b = NULL;
  ConnectWait connect_wait;
  JsonObject *reply;

  alice = register_on (a, "alice");
  bob = register_on (b, "bob");
  alice_a = cluster_connect_as (a, alice, "a1");
  bob_b = cluster_connect_as (b, bob, "b1");

  reply = account (b, "POST", alice, "password", "oldPassword", "a long password",
                   "newPassword", "another long password", NULL);
  g_assert_cmpint (code_of (reply), ==, 200);
  fresh = g_strdup (json_object_get_string_member (reply, "token"));
  json_object_unref (reply);
  g_assert_cmpuint (natter_test_client_wait_closed (alice_a, NATTER_TEST_TIMEOUT_MS), !=, 0);
  connect_wait = (ConnectWait) { a, alice, 31004 };
  g_assert_true (natter_test_wait (connect_gets, &connect_wait, NATTER_TEST_TIMEOUT_MS));
  reply = account (a, "GET", alice, "contacts", NULL);
  g_assert_cmpint (code_of (reply), ==, 31004);
  json_object_unref (reply);
  g_assert_cmpint (login_code (a, "alice", "a long password"), ==, 26002);
  g_assert_cmpint (login_code (a, "alice", "another long password"), ==, 200);

  g_clear_pointer (&alice_a, natter_test_client_free);
  alice_a = cluster_connect_as (a, fresh, "a1");
  reply = account (a, "POST", fresh, "contact/request", "userId", "bob", "message", "from a", NULL);
  g_assert_cmpint (code_of (reply), ==, 200);
  json_object_unref (reply);
  reply = expect_object (bob_b, "RC:ContactNtf");
  g_assert_cmpstr (json_object_get_string_member (reply, "operation"), ==, "Request");
  g_assert_cmpstr (json_object_get_string_member (reply, "sourceUserId"), ==, "alice");
  g_assert_cmpstr (json_object_get_string_member (reply, "message"), ==, "from a");
  json_object_unref (reply);
}

static gboolean
closed (gpointer data)
{
  return !natter_test_client_is_open (data);
}

/* Account changes made on b while a and b could not talk (b gone before
 * NATS came back, so nothing of them travels over NATS) hold on a once it
 * is back: alice changed her password (her device on a is dropped, the
 * old token is revoked: 31004), dave deleted his account (the same), and
 * carol's new name shows on a. */
static void
test_account_changes_after_outage (void)
{
  g_autoptr(ClusterPair) pair = cluster_pair_new (NULL, ((const char * const[]) {
                                                    "--app-setting", "accounts=open", NULL }));
  NatterTestServer *a = pair->a;
  NatterTestServer *b = pair->b;
  NatterTestNats *nats = pair->nats;
  g_autofree char *alice = NULL;
  g_autofree char *carol = NULL;
  g_autofree char *dave = NULL;
  g_autoptr(NatterTestClient) alice_a = NULL;
  g_autoptr(NatterTestClient) dave_a = NULL;
  g_autoptr(NatterTestClient) again = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *reply;

  alice = register_on (a, "alice");
  carol = register_on (a, "carol");
  dave = register_on (a, "dave");
  alice_a = cluster_connect_as (a, alice, "a1");
  dave_a = cluster_connect_as (a, dave, "d1");

  natter_test_nats_stop (nats);
  cluster_wait_navi (a, "a", NATTER_TEST_TIMEOUT_MS);
  reply = account (b, "POST", alice, "password", "oldPassword", "a long password",
                   "newPassword", "another long password", NULL);
  g_assert_cmpint (code_of (reply), ==, 200);
  json_object_unref (reply);
  reply = account (b, "POST", dave, "delete", "password", "a long password", NULL);
  g_assert_cmpint (code_of (reply), ==, 200);
  json_object_unref (reply);
  reply = account (b, "POST", carol, "profile", "name", "Carol Clark", NULL);
  g_assert_cmpint (code_of (reply), ==, 200);
  json_object_unref (reply);
  natter_test_server_kill (b);
  natter_test_nats_restart (nats);

  g_assert_true (natter_test_wait (closed, alice_a, NATTER_TEST_TIMEOUT_MS));
  g_assert_true (natter_test_wait (closed, dave_a, NATTER_TEST_TIMEOUT_MS));
  again = natter_test_client_open (a, &error);
  g_assert_no_error (error);
  g_assert_cmpint (natter_test_client_connect (again, natter_test_server_get_app_key (a), alice, "a2", 0),
                   ==, 31004);
  reply = account (a, "GET", alice, "user", "userId", "carol", NULL);
  g_assert_cmpint (code_of (reply), ==, 31004);
  json_object_unref (reply);
  reply = account (a, "GET", carol, "user", "userId", "carol", NULL);
  g_assert_cmpint (code_of (reply), ==, 200);
  g_assert_cmpstr (json_object_get_string_member (reply, "name"), ==, "Carol Clark");
  json_object_unref (reply);
}

typedef struct
{
  NatterTestServer *node;
  const char       *token;
  const char       *group;
} GroupWait;

static gboolean
group_gone (gpointer data)
{
  GroupWait *wait = data;
  g_autoptr(JsonObject) reply = account (wait->node, "GET", wait->token, "group/members", "groupId", wait->group, NULL);

  return code_of (reply) != 200;
}

/* Rows deleted on b while a could not hear of it (b gone before NATS came
 * back) are dropped on a by the read-back, not kept until a restart: bob
 * deleted alice from his contacts (with contacts only, alice may no longer
 * message him on a) and alice dismissed her muted group (a group made
 * again with its id by the app server has no mute-all from before). */
static void
test_deletions_after_outage (void)
{
  g_autoptr(ClusterPair) pair = cluster_pair_new (NULL, ((const char * const[]) {
                                                    "--app-setting", "accounts=open", NULL }));
  NatterTestServer *a = pair->a;
  NatterTestServer *b = pair->b;
  NatterTestNats *nats = pair->nats;
  g_autofree char *alice = NULL;
  g_autofree char *bob = NULL;
  g_autofree char *group = NULL;
  g_autoptr(NatterTestClient) alice_a = NULL;
  g_autoptr(NatterTestClient) bob_a = NULL;
  ContactWait contact_wait;
  SendWait send_wait;
  GroupWait group_wait;
  JsonObject *reply;

  alice = register_on (a, "alice");
  bob = register_on (b, "bob");
  alice_a = cluster_connect_as (a, alice, "a1");
  bob_a = cluster_connect_as (a, bob, "b1");
  reply = account (a, "POST", alice, "contact/request", "userId", "bob", NULL);
  g_assert_cmpint (code_of (reply), ==, 200);
  json_object_unref (reply);
  contact_wait = (ContactWait) { b, bob, "alice", "incoming" };
  g_assert_true (natter_test_wait (contact_is, &contact_wait, NATTER_TEST_TIMEOUT_MS));
  reply = account (b, "POST", bob, "contact/accept", "userId", "alice", NULL);
  g_assert_cmpint (code_of (reply), ==, 200);
  json_object_unref (reply);
  reply = account (b, "POST", bob, "privacy", "messagesFrom", "contacts", NULL);
  g_assert_cmpint (code_of (reply), ==, 200);
  json_object_unref (reply);
  reply = account (a, "POST", alice, "group/create", "name", "Muted", "memberId", "bob", NULL);
  g_assert_cmpint (code_of (reply), ==, 200);
  group = g_strdup (json_object_get_string_member (reply, "groupId"));
  json_object_unref (reply);
  reply = account (a, "POST", alice, "group/mute-all", "groupId", group, "mute", "true", NULL);
  g_assert_cmpint (code_of (reply), ==, 200);
  json_object_unref (reply);
  /* As a and b both know it: alice may message bob, bob may not speak. */
  send_wait = (SendWait) { alice_a, 1, "bob", 0 };
  g_assert_true (natter_test_wait (send_gets, &send_wait, NATTER_TEST_TIMEOUT_MS));
  send_wait = (SendWait) { bob_a, 3, group, 22408 };
  g_assert_true (natter_test_wait (send_gets, &send_wait, NATTER_TEST_TIMEOUT_MS));
  contact_wait = (ContactWait) { b, alice, "bob", "contact" };
  g_assert_true (natter_test_wait (contact_is, &contact_wait, NATTER_TEST_TIMEOUT_MS));

  natter_test_nats_stop (nats);
  cluster_wait_navi (a, "a", NATTER_TEST_TIMEOUT_MS);
  reply = account (b, "POST", bob, "contact/delete", "userId", "alice", NULL);
  g_assert_cmpint (code_of (reply), ==, 200);
  json_object_unref (reply);
  reply = account (b, "POST", alice, "group/dismiss", "groupId", group, NULL);
  g_assert_cmpint (code_of (reply), ==, 200);
  json_object_unref (reply);
  natter_test_server_kill (b);
  natter_test_nats_restart (nats);

  /* The group goes with the directory, read after the account rows. */
  group_wait = (GroupWait) { a, alice, group };
  g_assert_true (natter_test_wait (group_gone, &group_wait, NATTER_TEST_TIMEOUT_MS));
  reply = account (a, "GET", alice, "contacts", NULL);
  g_assert_cmpint (code_of (reply), ==, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (reply, "contacts")), ==, 0);
  json_object_unref (reply);
  send_wait = (SendWait) { alice_a, 1, "bob", 26010 };
  g_assert_true (send_gets (&send_wait));
  reply = natter_test_server_api (a, NULL, "group/create", "userId", "alice", "userId", "bob", "groupId", group,
                                  "groupName", "Again", NULL);
  g_assert_cmpint (code_of (reply), ==, 200);
  json_object_unref (reply);
  send_wait = (SendWait) { bob_a, 3, group, 0 };
  g_assert_true (send_gets (&send_wait));
}

typedef struct
{
  NatterTestServer *node;
  int               expected;
} LoginWait;

static gboolean
right_login_gets (gpointer data)
{
  LoginWait *wait = data;

  return login_code (wait->node, "dave", "a long password") == wait->expected;
}

/* One client address guessing over two nodes meets one limit: 2 wrong
 * passwords on a and 2 on b make the 4 the limit allows, and both refuse
 * that address (26007) even the right password until the period is over
 * (each node saw only 2 of them before). @apart: the guesses while NATS
 * is down, the nodes unable to tell each other (each allowed the address
 * the limit of its own): they count it in the store they share. */
static void
address_limit (gboolean apart)
{
  g_autoptr(ClusterPair) pair = cluster_pair_new ("[limits]\nlogin-backoff=1\nlogin-lockout=120\n"
                                                  "login-address-limit=4\n", ((const char * const[]) {
                                                    "--app-setting", "accounts=open", NULL }));
  NatterTestServer *a = pair->a;
  NatterTestServer *b = pair->b;
  NatterTestNats *nats = pair->nats;
  LoginWait wait;

  g_free (register_on (a, "dave"));
  if (apart)
    {
      natter_test_nats_stop (nats);
      cluster_wait_navi (a, "a", NATTER_TEST_TIMEOUT_MS);
      cluster_wait_navi (b, "b", NATTER_TEST_TIMEOUT_MS);
    }
  /* Other accounts each time: no account's own lockout plays a part. */
  g_assert_cmpint (login_code (a, "guess1", "a wrong guess"), ==, 26002);
  g_assert_cmpint (login_code (b, "guess2", "a wrong guess"), ==, 26002);
  g_assert_cmpint (login_code (a, "guess3", "a wrong guess"), ==, 26002);
  g_assert_cmpint (login_code (b, "guess4", "a wrong guess"), ==, 26002);
  wait = (LoginWait) { a, 26007 };
  g_assert_true (natter_test_wait (right_login_gets, &wait, NATTER_TEST_TIMEOUT_MS));
  wait = (LoginWait) { b, 26007 };
  g_assert_true (natter_test_wait (right_login_gets, &wait, NATTER_TEST_TIMEOUT_MS));
}

static void
test_address_limit_across_nodes (void)
{
  address_limit (FALSE);
}

static void
test_address_limit_while_apart (void)
{
  address_limit (TRUE);
}

typedef struct
{
  NatterTestServer *node;
  const char       *token;
} PrivacyWait;

static gboolean
privacy_answers (gpointer data)
{
  PrivacyWait *wait = data;
  g_autoptr(JsonObject) reply = account (wait->node, "GET", wait->token, "privacy", NULL);

  return code_of (reply) == 200;
}

/* Both settings as both were POSTed: showOnline=false, contacts only. */
static gboolean
privacy_is_both (gpointer data)
{
  PrivacyWait *wait = data;
  g_autoptr(JsonObject) reply = account (wait->node, "GET", wait->token, "privacy", NULL);

  return code_of (reply) == 200 && !json_object_get_boolean_member (reply, "showOnline") &&
         g_strcmp0 (json_object_get_string_member (reply, "messagesFrom"), "contacts") == 0;
}

/* bob hides his presence on a and takes messages from contacts only on b
 * while the two cannot hear each other: b wrote its whole row from what it
 * knew (showOnline=true) over a's, and bob was shown online again. Each
 * setting changed is kept, and both nodes end with what the store holds
 * (the last write of each setting wins, the same on both). */
static void
test_privacy_while_apart (void)
{
  g_autoptr(ClusterPair) pair = cluster_pair_new (NULL, ((const char * const[]) {
                                                    "--app-setting", "accounts=open", NULL }));
  NatterTestServer *a = pair->a;
  NatterTestServer *b = pair->b;
  NatterTestNats *nats = pair->nats;
  g_autofree char *bob = NULL;
  PrivacyWait on_a, on_b;
  JsonObject *reply;

  bob = register_on (b, "bob");
  on_a = (PrivacyWait) { a, bob };
  on_b = (PrivacyWait) { b, bob };
  /* a knows bob's account (his token) before they part. */
  g_assert_true (natter_test_wait (privacy_answers, &on_a, NATTER_TEST_TIMEOUT_MS));

  natter_test_nats_stop (nats);
  cluster_wait_navi (a, "a", NATTER_TEST_TIMEOUT_MS);
  cluster_wait_navi (b, "b", NATTER_TEST_TIMEOUT_MS);
  reply = account (a, "POST", bob, "privacy", "showOnline", "false", NULL);
  g_assert_cmpint (code_of (reply), ==, 200);
  json_object_unref (reply);
  reply = account (b, "POST", bob, "privacy", "messagesFrom", "contacts", NULL);
  g_assert_cmpint (code_of (reply), ==, 200);
  json_object_unref (reply);
  /* b already answers from the store's row, a's setting in it. */
  g_assert_true (privacy_is_both (&on_b));

  natter_test_nats_restart (nats);
  g_assert_true (natter_test_wait (privacy_is_both, &on_a, NATTER_TEST_TIMEOUT_MS));
  g_assert_true (privacy_is_both (&on_b));
}

/* A token of an account made on another node is taken at once, before
 * NATS told this node of the account (here: never, NATS is down): the
 * node reads the user from the store it shares, with its account row, so
 * a token that row revokes is refused (31004) and the new one taken, on
 * the WebSocket and on /account/ alike; a block stored there holds. */
static void
test_token_before_nats (void)
{
  g_autoptr(ClusterPair) pair = cluster_pair_new (NULL, ((const char * const[]) {
                                                    "--app-setting", "accounts=open", NULL }));
  NatterTestServer *a = pair->a;
  NatterTestServer *b = pair->b;
  g_autofree char *alice = NULL;
  g_autofree char *fresh = NULL;
  g_autoptr(NatterTestClient) alice_b = NULL;
  g_autoptr(GPtrArray) clients = g_ptr_array_new_with_free_func ((GDestroyNotify) natter_test_client_free);
  g_autoptr(GError) error = NULL;
  JsonObject *reply;

  natter_test_nats_stop (pair->nats);
  cluster_wait_navi (a, "a", NATTER_TEST_TIMEOUT_MS);
  cluster_wait_navi (b, "b", NATTER_TEST_TIMEOUT_MS);
  alice = register_on (a, "alice");
  reply = account (a, "POST", alice, "password", "oldPassword", "a long password",
                   "newPassword", "another long password", NULL);
  g_assert_cmpint (code_of (reply), ==, 200);
  fresh = g_strdup (json_object_get_string_member (reply, "token"));
  json_object_unref (reply);

  /* Opened before any connects: the old token and the new in turn. */
  for (guint i = 0; i < 4; i++)
    {
      NatterTestClient *client = natter_test_client_open (b, &error);

      g_assert_no_error (error);
      g_ptr_array_add (clients, client);
    }
  for (guint i = 0; i < clients->len; i++)
    {
      g_autofree char *device = g_strdup_printf ("x%u", i);

      g_assert_cmpint (natter_test_client_connect (g_ptr_array_index (clients, i), natter_test_server_get_app_key (b),
                                                   i % 2 == 0 ? alice : fresh, device, 0),
                       ==, i % 2 == 0 ? 31004 : 0);
    }
  alice_b = cluster_connect_as (b, fresh, "b1");
  reply = account (b, "GET", fresh, "privacy", NULL);
  g_assert_cmpint (code_of (reply), ==, 200);
  json_object_unref (reply);
  reply = account (b, "GET", alice, "privacy", NULL);
  g_assert_cmpint (code_of (reply), ==, 31004);
  json_object_unref (reply);
  g_assert_cmpuint (natter_test_server_get_metric (b, "natterd_cluster_users_read_total"), >=, 1);
  /* A user blocked on a: its row read on b says so (31009). */
  {
    g_autofree char *carol = natter_test_server_get_token (a, "carol");
    g_autoptr(JsonObject) blocked = natter_test_server_api (a, NULL, "user/block", "userId", "carol",
                                                            "minute", "60", NULL);
    g_autoptr(NatterTestClient) carol_b = natter_test_client_open (b, &error);

    g_assert_cmpint (code_of (blocked), ==, 200);
    g_assert_no_error (error);
    g_assert_cmpint (natter_test_client_connect (carol_b, natter_test_server_get_app_key (b), carol, "c1", 0),
                     ==, 31009);
  }
}

/* A GET or POST of /media/ on @url with @token; the body, the status in
 * @status. */
static GBytes *
media_request (const char *method,
               const char *url,
               const char *token,
               GBytes     *body,
               guint      *status)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autoptr(SoupMessage) message = soup_message_new (method, url);
  g_autofree char *bearer = g_strconcat ("Bearer ", token, NULL);
  g_autoptr(GError) error = NULL;
  GBytes *reply;

  soup_message_headers_append (soup_message_get_request_headers (message), "Authorization", bearer);
  if (body != NULL)
    soup_message_set_request_body_from_bytes (message, "application/octet-stream", body);
  reply = soup_session_send_and_read (session, message, NULL, &error);
  g_assert_no_error (error);
  *status = soup_message_get_status (message);
  return reply;
}

/* alice, made on a while NATS is down, uploads a file to one node and
 * downloads it from the other; b has not heard of her: it reads her from
 * the store, as for Connect, while the request waits (an upload's body
 * unread). The file lands in the shared media dir. */
static void
media_across_apart (gboolean upload_on_b)
{
  g_autofree char *media_dir = g_dir_make_tmp ("natter-cluster-media-XXXXXX", NULL);
  g_autofree char *extra = g_strdup_printf ("[media]\ndir=%s\n", media_dir);
  g_autoptr(ClusterPair) pair = cluster_pair_new (extra, ((const char * const[]) {
                                                    "--app-setting", "accounts=open", NULL }));
  NatterTestServer *up = upload_on_b ? pair->b : pair->a;
  NatterTestServer *down = upload_on_b ? pair->a : pair->b;
  /* Larger than what comes with the headers: most of an upload is read
   * after the wait. */
  g_autoptr(GBytes) data = g_bytes_new_take (g_strnfill (300000, 'm'), 300000);
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *upload_url = NULL;
  g_autofree char *url_down = NULL;
  g_autofree char *alice = NULL;
  JsonObject *object;
  const char *url;
  guint status = 0;

  natter_test_nats_stop (pair->nats);
  cluster_wait_navi (pair->a, "a", NATTER_TEST_TIMEOUT_MS);
  cluster_wait_navi (pair->b, "b", NATTER_TEST_TIMEOUT_MS);
  alice = register_on (pair->a, "alice");
  upload_url = g_strdup_printf ("%s/media/upload?name=across.bin", natter_test_server_get_url (up));
  reply = media_request ("POST", upload_url, alice, data, &status);
  g_test_message ("upload: %u %.*s", status, (int) MIN (g_bytes_get_size (reply), 200),
                  (const char *) g_bytes_get_data (reply, NULL));
  g_assert_cmpuint (status, ==, 200);
  g_assert_true (json_parser_load_from_data (parser, g_bytes_get_data (reply, NULL),
                                             (gssize) g_bytes_get_size (reply), NULL));
  object = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpint (json_object_get_int_member (object, "size"), ==, 300000);
  url = json_object_get_string_member (object, "url");
  g_assert_true (g_str_has_prefix (url, natter_test_server_get_url (up)));
  url_down = g_strconcat (natter_test_server_get_url (down), url + strlen (natter_test_server_get_url (up)), NULL);

  body = media_request ("GET", url_down, alice, NULL, &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_true (g_bytes_equal (body, data));
  g_assert_cmpuint (natter_test_server_get_metric (pair->b, "natterd_cluster_users_read_total"), >=, 1);

  g_clear_pointer (&pair, cluster_pair_free);
  natter_test_remove_tree (media_dir);
}

/* A media download on b (uploaded on a). */
static void
test_media_before_nats (void)
{
  media_across_apart (FALSE);
}

/* A media upload on b (downloaded on a). */
static void
test_media_upload_before_nats (void)
{
  media_across_apart (TRUE);
}

/* Two nodes apart (NATS down), and group "crew" of alice and @other made
 * on a: b has heard of neither. */
static ClusterPair *
crew_made_apart (const char *other)
{
  ClusterPair *pair = cluster_pair_new (NULL, NULL);
  g_autoptr(JsonObject) made = NULL;

  natter_test_nats_stop (pair->nats);
  cluster_wait_navi (pair->a, "a", NATTER_TEST_TIMEOUT_MS);
  cluster_wait_navi (pair->b, "b", NATTER_TEST_TIMEOUT_MS);
  made = natter_test_server_api (pair->a, NULL, "group/create", "userId", "alice", "userId", other,
                                 "groupId", "crew", "groupName", "Crew", NULL);
  g_assert_cmpint (code_of (made), ==, 200);
  return pair;
}

static void
test_groups_with_token_user (void)
{
  g_autoptr(ClusterPair) pair = crew_made_apart ("bob");
  g_autofree char *alice = natter_test_server_get_token (pair->a, "alice");
  g_autofree char *bob = natter_test_server_get_token (pair->a, "bob");
  g_autoptr(NatterTestClient) bob_b = NULL;
  g_autoptr(NatterTestClient) alice_b = NULL;
  g_autoptr(NatterFrame) ack = NULL;
  g_autoptr(NatterFrame) delivered = NULL;

  bob_b = cluster_connect_as (pair->b, bob, "b1");
  alice_b = cluster_connect_as (pair->b, alice, "a1");
  ack = natter_test_client_send_message (alice_b, 3, "crew", "RC:TxtMsg", "{\"content\":\"hello crew\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);
  delivered = cluster_expect_deliver (bob_b, "{\"content\":\"hello crew\"}");
  g_assert_cmpstr (delivered->deliver->message->target_id, ==, "crew");
  g_assert_cmpuint (natter_test_server_get_metric (pair->b, "natterd_cluster_users_read_total"), >=, 1);
}

/* A user read from the store for its token brings its groups' members as
 * stored, removals too: carol, removed from crew on a while NATS is down,
 * is refused (22406) on b as soon as b reads a user of crew (dave, who
 * joined it meanwhile), not after the read-back once NATS is back. */
static void
test_group_removal_with_token_user (void)
{
  g_autoptr(ClusterPair) pair = crew_made_apart ("carol");
  g_autofree char *alice = natter_test_server_get_token (pair->a, "alice");
  g_autofree char *carol = natter_test_server_get_token (pair->a, "carol");
  g_autofree char *dave = natter_test_server_get_token (pair->a, "dave");
  g_autoptr(JsonObject) quit = NULL;
  g_autoptr(JsonObject) joined = NULL;
  g_autoptr(NatterTestClient) alice_b = NULL;
  g_autoptr(NatterTestClient) carol_b = NULL;
  g_autoptr(NatterTestClient) dave_b = NULL;
  g_autoptr(NatterFrame) ack = NULL;

  /* alice read on b brings crew with carol in it: carol's message is
   * taken there. */
  alice_b = cluster_connect_as (pair->b, alice, "a1");
  carol_b = cluster_connect_as (pair->b, carol, "c1");
  ack = natter_test_client_send_message (carol_b, 3, "crew", "RC:TxtMsg", "{\"content\":\"still here\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);
  g_clear_pointer (&ack, natter_frame_free);

  quit = natter_test_server_api (pair->a, NULL, "group/quit", "userId", "carol", "groupId", "crew", NULL);
  g_assert_cmpint (code_of (quit), ==, 200);
  joined = natter_test_server_api (pair->a, NULL, "group/join", "userId", "dave", "groupId", "crew",
                                   "groupName", "Crew", NULL);
  g_assert_cmpint (code_of (joined), ==, 200);
  dave_b = cluster_connect_as (pair->b, dave, "d1");

  ack = natter_test_client_send_message (carol_b, 3, "crew", "RC:TxtMsg", "{\"content\":\"gone\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 22406);
  g_clear_pointer (&ack, natter_frame_free);
  /* The others stay. */
  ack = natter_test_client_send_message (alice_b, 3, "crew", "RC:TxtMsg", "{\"content\":\"hello dave\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);
  g_clear_pointer (&ack, natter_frame_free);
  ack = cluster_expect_deliver (dave_b, "{\"content\":\"hello dave\"}");
  /* alice and dave; carol came with alice. */
  g_assert_cmpuint (natter_test_server_get_metric (pair->b, "natterd_cluster_users_read_total"), >=, 2);
}

/* Accounts made before the outage that nothing changes meanwhile: a
 * whole read-back reads their rows (two or more each) again. */
#define QUIET_ACCOUNTS 10

/* Contacts changed on b while NATS was down (carol asked alice, bob
 * deleted alice) hold on a once it is back, and a reads back only the
 * account rows those changes touched (schema 9), not every account's. */
static void
test_account_rows_read_back_only_changes (void)
{
  g_autoptr(ClusterPair) pair = cluster_pair_new (NULL, ((const char * const[]) {
                                                    "--app-setting", "accounts=open", NULL }));
  NatterTestServer *a = pair->a;
  NatterTestServer *b = pair->b;
  g_autofree char *alice = register_on (a, "alice");
  g_autofree char *bob = register_on (a, "bob");
  g_autofree char *carol = register_on (a, "carol");
  ContactWait contact_wait;
  MetricWait metric_wait;
  guint64 rows;
  JsonObject *reply;

  for (guint i = 0; i < QUIET_ACCOUNTS; i++)
    {
      g_autofree char *user_id = g_strdup_printf ("quiet%u", i);

      g_free (register_on (a, user_id));
    }
  reply = account (a, "POST", alice, "contact/request", "userId", "bob", NULL);
  g_assert_cmpint (code_of (reply), ==, 200);
  json_object_unref (reply);
  reply = account (a, "POST", bob, "contact/accept", "userId", "alice", NULL);
  g_assert_cmpint (code_of (reply), ==, 200);
  json_object_unref (reply);
  contact_wait = (ContactWait) { b, bob, "alice", "contact" };
  g_assert_true (natter_test_wait (contact_is, &contact_wait, NATTER_TEST_TIMEOUT_MS));
  cluster_wait_old_horizon (a);

  natter_test_nats_stop (pair->nats);
  cluster_wait_navi (a, "a", NATTER_TEST_TIMEOUT_MS);
  metric_wait = (MetricWait) { a, "natterd_cluster_refreshes_total",
                               natter_test_server_get_metric (a, "natterd_cluster_refreshes_total") + 1 };
  rows = natter_test_server_get_metric (a, "natterd_cluster_refresh_rows_total");
  reply = account (b, "POST", carol, "contact/request", "userId", "alice", NULL);
  g_assert_cmpint (code_of (reply), ==, 200);
  json_object_unref (reply);
  reply = account (b, "POST", bob, "contact/delete", "userId", "alice", NULL);
  g_assert_cmpint (code_of (reply), ==, 200);
  json_object_unref (reply);
  natter_test_server_kill (b);
  natter_test_nats_restart (pair->nats);

  g_assert_true (natter_test_wait (metric_reaches, &metric_wait, NATTER_TEST_TIMEOUT_MS));
  contact_wait = (ContactWait) { a, alice, "carol", "incoming" };
  g_assert_true (natter_test_wait (contact_is, &contact_wait, NATTER_TEST_TIMEOUT_MS));
  contact_wait = (ContactWait) { a, alice, "bob", NULL };
  g_assert_true (natter_test_wait (contact_is, &contact_wait, NATTER_TEST_TIMEOUT_MS));
  rows = natter_test_server_get_metric (a, "natterd_cluster_refresh_rows_total") - rows;
  g_test_message ("rows read back: %" G_GUINT64_FORMAT, rows);
  /* The two contact rows each change wrote or deleted; a whole read-back
   * reads every account's rows (over 2 × 13). */
  g_assert_cmpuint (rows, >, 0);
  g_assert_cmpuint (rows, <, 12);
}

/* The account rows of a read-back after a NATS outage are read again when
 * the store failed to read them (here: their tables renamed away while
 * a reads back), and before the directory's: carol's contact request made
 * on b while NATS was down reaches a once the tables are back. */
static void
test_account_rows_read_again (void)
{
  g_autoptr(ClusterPair) pair = cluster_pair_new (NULL, ((const char * const[]) {
                                                    "--app-setting", "accounts=open", NULL }));
  NatterTestServer *a = pair->a;
  NatterTestServer *b = pair->b;
  g_autofree char *alice = register_on (a, "alice");
  g_autofree char *carol = register_on (a, "carol");
  ContactWait contact_wait = { a, alice, "carol", "incoming" };
  MetricWait failed;
  JsonObject *reply;

  natter_test_nats_stop (pair->nats);
  cluster_wait_navi (a, "a", NATTER_TEST_TIMEOUT_MS);
  reply = account (b, "POST", carol, "contact/request", "userId", "alice", NULL);
  g_assert_cmpint (code_of (reply), ==, 200);
  json_object_unref (reply);
  natter_test_server_kill (b);

  g_free (natter_test_pg_query (pair->pg, "natter", "ALTER TABLE account_rows RENAME TO account_rows_away;"
                                "ALTER TABLE account_changes RENAME TO account_changes_away"));
  failed = (MetricWait) { a, "natterd_cluster_refresh_failures_total",
                          natter_test_server_get_metric (a, "natterd_cluster_refresh_failures_total") + 1 };
  natter_test_nats_restart (pair->nats);
  g_assert_true (natter_test_wait (metric_reaches, &failed, NATTER_TEST_TIMEOUT_MS));
  g_assert_false (contact_is (&contact_wait));
  g_free (natter_test_pg_query (pair->pg, "natter", "ALTER TABLE account_rows_away RENAME TO account_rows;"
                                "ALTER TABLE account_changes_away RENAME TO account_changes"));

  g_assert_true (natter_test_wait (contact_is, &contact_wait, NATTER_TEST_TIMEOUT_MS));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cluster/accounts/across-nodes", test_accounts_across_nodes);
  g_test_add_func ("/cluster/accounts/after-outage", test_accounts_after_outage);
  g_test_add_func ("/cluster/accounts/lockout-across-nodes", test_lockout_across_nodes);
  g_test_add_func ("/cluster/accounts/password-across-nodes", test_password_across_nodes);
  g_test_add_func ("/cluster/accounts/changes-after-outage", test_account_changes_after_outage);
  g_test_add_func ("/cluster/accounts/deletions-after-outage", test_deletions_after_outage);
  g_test_add_func ("/cluster/accounts/address-limit-across-nodes", test_address_limit_across_nodes);
  g_test_add_func ("/cluster/accounts/check-races-across-nodes", test_check_races_across_nodes);
  g_test_add_func ("/cluster/accounts/privacy-while-apart", test_privacy_while_apart);
  g_test_add_func ("/cluster/accounts/address-limit-while-apart", test_address_limit_while_apart);
  g_test_add_func ("/cluster/accounts/token-before-nats", test_token_before_nats);
  g_test_add_func ("/cluster/accounts/media-before-nats", test_media_before_nats);
  g_test_add_func ("/cluster/accounts/media-upload-before-nats", test_media_upload_before_nats);
  g_test_add_func ("/cluster/accounts/rows-read-back-only-changes", test_account_rows_read_back_only_changes);
  g_test_add_func ("/cluster/accounts/groups-with-token-user", test_groups_with_token_user);
  g_test_add_func ("/cluster/accounts/group-removal-with-token-user", test_group_removal_with_token_user);
  g_test_add_func ("/cluster/accounts/rows-read-again", test_account_rows_read_again);
  return g_test_run ();
}
