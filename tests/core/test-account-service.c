/* test-account-service.c — NatterAccountService against a real natterd,
 * and against a server that answers nonsense
 *
 * Each refusal natterd documents arrives as its code in
 * NATTER_ACCOUNT_ERROR; a reply of the wrong shape (types, sizes, not
 * JSON) is NATTER_ACCOUNT_ERROR_BAD_REPLY and nothing of it is handed out.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <libsoup/soup.h>
#include <string.h>

#include "natter.h"
#include "natter-test-server.h"
#include "test-helpers.h"

#define OPEN_APP ((const char * const[]) { "--app-setting", "accounts=open", \
                                           "--app-setting", "multi-device=true", NULL })

typedef struct {
  NatterTestServer *server;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  fixture->server = natter_test_server_new_full ("[limits]\nlogin-backoff=1\n", OPEN_APP);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  g_clear_pointer (&fixture->server, natter_test_server_free);
}

static NatterAccountService *
service_new (Fixture *fixture)
{
  return natter_account_service_new (natter_test_server_get_url (fixture->server),
                                     natter_test_server_get_app_key (fixture->server));
}

/* ------------------------------------------------ synchronous wrappers */

static char *
sign_in (NatterAccountService *service,
         gboolean              registering,
         const char           *user_id,
         const char           *password,
         GError              **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  if (registering)
    natter_account_service_register_async (service, user_id, password, NULL, NULL, NULL,
                                           test_store_result_cb, &result);
  else
    natter_account_service_login_async (service, user_id, password, NULL, test_store_result_cb, &result);
  return natter_account_service_token_finish (service, test_wait_result (&result, 20), error);
}

static gboolean
contact (NatterAccountService *service,
         NatterContactAction   action,
         const char           *user_id,
         GError              **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  natter_account_service_contact_async (service, action, user_id, "hello", NULL,
                                        test_store_result_cb, &result);
  return natter_account_service_call_finish (service, test_wait_result (&result, 20), error);
}

static gboolean
group (NatterAccountService *service,
       NatterGroupAction     action,
       const char           *group_id,
       const char           *value,
       const char * const   *members,
       GError              **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  natter_account_service_group_async (service, action, group_id, value, members, NULL,
                                      test_store_result_cb, &result);
  return natter_account_service_call_finish (service, test_wait_result (&result, 20), error);
}

static GPtrArray *
list_users (NatterAccountService *service,
            const char           *group_id,
            GError              **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  if (group_id != NULL)
    natter_account_service_list_members_async (service, group_id, NULL, test_store_result_cb, &result);
  else
    natter_account_service_list_contacts_async (service, NULL, test_store_result_cb, &result);
  return natter_account_service_users_finish (service, test_wait_result (&result, 20), error);
}

static NatterAccountUser *
find_user (GPtrArray  *users,
           const char *user_id)
{
  for (guint i = 0; users != NULL && i < users->len; i++)
    if (g_str_equal (((NatterAccountUser *) g_ptr_array_index (users, i))->user_id, user_id))
      return g_ptr_array_index (users, i);
  g_error ("%s is not in the list", user_id);
}

/* ------------------------------------------------------------------ tests */

static void
test_settings (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr(NatterAccountService) service = service_new (fixture);
  g_autoptr(NatterAccountService) stranger = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  NatterAccountsMode mode = NATTER_ACCOUNTS_OFF;
  guint min_length = 0;

  natter_account_service_get_settings_async (service, NULL, test_store_result_cb, &result);
  g_assert_true (natter_account_service_get_settings_finish (service, test_wait_result (&result, 20),
                                                             &mode, &min_length, &error));
  g_assert_no_error (error);
  g_assert_cmpint (mode, ==, NATTER_ACCOUNTS_OPEN);
  g_assert_cmpuint (min_length, ==, 8);
  g_clear_object (&result);

  stranger = natter_account_service_new (natter_test_server_get_url (fixture->server), "no-such-app");
  natter_account_service_get_settings_async (stranger, NULL, test_store_result_cb, &result);
  g_assert_false (natter_account_service_get_settings_finish (stranger, test_wait_result (&result, 20),
                                                              NULL, NULL, &error));
  g_assert_error (error, NATTER_ACCOUNT_ERROR, NATTER_ACCOUNT_ERROR_APP_KEY_REJECTED);
}

static void
test_register_login (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(NatterAccountService) service = service_new (fixture);
  g_autoptr(GError) error = NULL;
  g_autofree char *token = NULL;
  g_autofree char *again = NULL;
  char *refused;

  token = sign_in (service, TRUE, "alice", "correct horse", &error);
  g_assert_no_error (error);
  g_assert_nonnull (token);
  g_assert_cmpstr (natter_account_service_get_token (service), ==, token);

  /* The token is an IM token: it connects. */
  {
    g_autofree char *profile = test_make_profile ();
    g_autoptr(NatterClient) client = natter_client_new (natter_test_server_get_url (fixture->server),
                                                        natter_test_server_get_app_key (fixture->server),
                                                        profile);

    natter_client_connect (client, token);
    test_wait_status (client, NATTER_CONNECTION_CONNECTED, 20, "connected with the registered token");
    g_assert_cmpstr (natter_client_get_user_id (client), ==, "alice");
    natter_client_disconnect (client);
    g_clear_object (&client);
    test_remove_tree (profile);
  }

  refused = sign_in (service, TRUE, "alice", "another password", &error);
  g_assert_null (refused);
  g_assert_error (error, NATTER_ACCOUNT_ERROR, NATTER_ACCOUNT_ERROR_USER_ID_TAKEN);
  g_clear_error (&error);

  refused = sign_in (service, TRUE, "bob", "short", &error);
  g_assert_null (refused);
  g_assert_error (error, NATTER_ACCOUNT_ERROR, NATTER_ACCOUNT_ERROR_PASSWORD_LENGTH);
  g_clear_error (&error);

  refused = sign_in (service, FALSE, "alice", "wrong horse", &error);
  g_assert_null (refused);
  g_assert_error (error, NATTER_ACCOUNT_ERROR, NATTER_ACCOUNT_ERROR_WRONG_PASSWORD);
  g_assert_true (natter_account_error_is_auth (error));
  g_clear_error (&error);

  /* An unknown user gets the same answer as a wrong password. */
  refused = sign_in (service, FALSE, "nobody", "wrong horse", &error);
  g_assert_null (refused);
  g_assert_error (error, NATTER_ACCOUNT_ERROR, NATTER_ACCOUNT_ERROR_WRONG_PASSWORD);
  g_clear_error (&error);

  again = sign_in (service, FALSE, "alice", "correct horse", &error);
  g_assert_no_error (error);
  g_assert_nonnull (again);

  /* A token natterd never issued is refused on the paths that need one. */
  natter_account_service_set_token (service, "not-a-token");
  g_assert_null (list_users (service, NULL, &error));
  g_assert_error (error, NATTER_ACCOUNT_ERROR, NATTER_ACCOUNT_ERROR_TOKEN_INCORRECT);
}

static void
test_contacts_and_groups (Fixture       *fixture,
                          gconstpointer  data)
{
  g_autoptr(NatterAccountService) alice = service_new (fixture);
  g_autoptr(NatterAccountService) bob = service_new (fixture);
  g_autoptr(NatterAccountService) carol = service_new (fixture);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) users = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autofree char *group_id = NULL;
  g_autofree char *token = NULL;
  NatterAccountUser *entry;

  g_free (sign_in (alice, TRUE, "alice", "alice password", &error));
  g_assert_no_error (error);
  g_free (sign_in (bob, TRUE, "bob", "bob password", &error));
  g_assert_no_error (error);
  g_free (sign_in (carol, TRUE, "carol", "carol password", &error));
  g_assert_no_error (error);

  g_assert_false (contact (alice, NATTER_CONTACT_ACTION_REQUEST, "nobody", &error));
  g_assert_error (error, NATTER_ACCOUNT_ERROR, NATTER_ACCOUNT_ERROR_NO_SUCH_USER);
  g_clear_error (&error);
  g_assert_false (contact (bob, NATTER_CONTACT_ACTION_ACCEPT, "alice", &error));
  g_assert_error (error, NATTER_ACCOUNT_ERROR, NATTER_ACCOUNT_ERROR_NO_SUCH_REQUEST);
  g_clear_error (&error);

  g_assert_true (contact (alice, NATTER_CONTACT_ACTION_REQUEST, "bob", &error));
  g_assert_no_error (error);
  users = list_users (bob, NULL, &error);
  g_assert_no_error (error);
  entry = find_user (users, "alice");
  g_assert_cmpint (entry->state, ==, NATTER_CONTACT_STATE_INCOMING);
  g_assert_cmpstr (entry->message, ==, "hello");
  g_clear_pointer (&users, g_ptr_array_unref);

  g_assert_true (contact (bob, NATTER_CONTACT_ACTION_ACCEPT, "alice", &error));
  g_assert_no_error (error);
  users = list_users (alice, NULL, &error);
  entry = find_user (users, "bob");
  g_assert_cmpint (entry->state, ==, NATTER_CONTACT_STATE_CONTACT);
  g_clear_pointer (&users, g_ptr_array_unref);

  natter_account_service_create_group_async (alice, "Team", (const char * const[]) { "bob", "carol", NULL },
                                             NULL, test_store_result_cb, &result);
  group_id = natter_account_service_create_group_finish (alice, test_wait_result (&result, 20), &error);
  g_assert_no_error (error);
  g_assert_nonnull (group_id);
  g_clear_object (&result);

  users = list_users (bob, group_id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (users->len, ==, 3);
  g_assert_cmpint (find_user (users, "alice")->role, ==, NATTER_GROUP_ROLE_OWNER);
  g_assert_cmpint (find_user (users, "bob")->role, ==, NATTER_GROUP_ROLE_MEMBER);
  g_clear_pointer (&users, g_ptr_array_unref);

  /* A member may not remove another, nor rename; the owner may. */
  g_assert_false (group (bob, NATTER_GROUP_ACTION_REMOVE, group_id, NULL,
                         (const char * const[]) { "carol", NULL }, &error));
  g_assert_error (error, NATTER_ACCOUNT_ERROR, NATTER_ACCOUNT_ERROR_NOT_ALLOWED);
  g_clear_error (&error);
  g_assert_false (group (bob, NATTER_GROUP_ACTION_RENAME, group_id, "Mine", NULL, &error));
  g_assert_error (error, NATTER_ACCOUNT_ERROR, NATTER_ACCOUNT_ERROR_NOT_ALLOWED);
  g_clear_error (&error);
  g_assert_true (group (alice, NATTER_GROUP_ACTION_REMOVE, group_id, NULL,
                        (const char * const[]) { "carol", NULL }, &error));
  g_assert_no_error (error);

  /* carol is out: the member list is not hers to read. */
  g_assert_null (list_users (carol, group_id, &error));
  g_assert_error (error, NATTER_ACCOUNT_ERROR, NATTER_ACCOUNT_ERROR_NOT_IN_GROUP);
  g_clear_error (&error);

  g_assert_true (group (alice, NATTER_GROUP_ACTION_RENAME, group_id, "Team 2", NULL, &error));
  g_assert_no_error (error);
  natter_account_service_list_groups_async (bob, NULL, test_store_result_cb, &result);
  {
    g_autoptr(GPtrArray) groups = natter_account_service_list_groups_finish (bob, test_wait_result (&result, 20),
                                                                             &error);
    NatterAccountGroup *team;

    g_assert_no_error (error);
    g_assert_cmpuint (groups->len, ==, 1);
    team = g_ptr_array_index (groups, 0);
    g_assert_cmpstr (team->group_id, ==, group_id);
    g_assert_cmpstr (team->name, ==, "Team 2");
    g_assert_cmpint (team->role, ==, NATTER_GROUP_ROLE_MEMBER);
    g_assert_cmpint (team->member_count, ==, 2);
  }
  g_clear_object (&result);

  g_assert_false (group (bob, NATTER_GROUP_ACTION_DISMISS, group_id, NULL, NULL, &error));
  g_assert_error (error, NATTER_ACCOUNT_ERROR, NATTER_ACCOUNT_ERROR_NOT_ALLOWED);
  g_clear_error (&error);
  g_assert_true (group (bob, NATTER_GROUP_ACTION_LEAVE, group_id, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (group (alice, NATTER_GROUP_ACTION_RENAME, "no-such-group", "x", NULL, &error));
  g_assert_true (g_error_matches (error, NATTER_ACCOUNT_ERROR, NATTER_ACCOUNT_ERROR_NO_SUCH_GROUP) ||
                 g_error_matches (error, NATTER_ACCOUNT_ERROR, NATTER_ACCOUNT_ERROR_NOT_IN_GROUP));
  g_clear_error (&error);

  /* The password change hands out a new token and revokes the old one. */
  token = g_strdup (natter_account_service_get_token (bob));
  natter_account_service_change_password_async (bob, "bob password", "bob's new password", NULL,
                                                test_store_result_cb, &result);
  {
    g_autofree char *fresh = natter_account_service_token_finish (bob, test_wait_result (&result, 20), &error);

    g_assert_no_error (error);
    g_assert_cmpstr (fresh, !=, token);
  }
  natter_account_service_set_token (bob, token);
  g_assert_null (list_users (bob, NULL, &error));
  g_assert_true (natter_account_error_is_auth (error));
}

/* ---------------------------------------------- a server that lies */

static void
liar_cb (SoupServer        *server,
         SoupServerMessage *msg,
         const char        *path,
         GHashTable        *query,
         gpointer           user_data)
{
  const char *body = NULL;
  g_autofree char *large = NULL;

  if (g_str_has_suffix (path, "/contacts.json"))
    body = "{\"code\":200,\"contacts\":[{\"userId\":\"a\",\"state\":\"contact\",\"name\":7}]}";
  else if (g_str_has_suffix (path, "/groups.json"))
    body = "{\"code\":200,\"groups\":[{\"groupId\":\"g\",\"name\":\"G\",\"role\":\"emperor\"}]}";
  else if (g_str_has_suffix (path, "/login.json"))
    body = "{\"code\":200,\"token\":\"\"}";
  else if (g_str_has_suffix (path, "/blocked.json"))
    {
      /* 5 MiB of ids: more than any reply may be. */
      GString *text = g_string_new ("{\"code\":200,\"userIds\":[");

      while (text->len < 5 * 1024 * 1024)
        g_string_append (text, "\"someone-with-a-long-id\",");
      g_string_append (text, "\"x\"]}");
      large = g_string_free (text, FALSE);
      body = large;
    }
  else if (g_str_has_suffix (path, "/group/members.json"))
    body = "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]";
  else
    body = "{\"code\":26002,\"errorMessage\":\"Wrong user id or password\",\"retryAfter\":\"soon\"}";

  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, body, strlen (body));
}

static void
test_hostile_replies (void)
{
  g_autoptr(SoupServer) server = soup_server_new (NULL, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterAccountService) service = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoslist(GUri) uris = NULL;
  g_autofree char *url = NULL;
  GPtrArray *users;

  soup_server_add_handler (server, "/account", liar_cb, NULL, NULL);
  soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (server);
  url = g_strdup_printf ("http://127.0.0.1:%d", g_uri_get_port (uris->data));
  service = natter_account_service_new (url, "key");
  natter_account_service_set_token (service, "token");

  /* A name that is a number. */
  users = list_users (service, NULL, &error);
  g_assert_null (users);
  g_assert_error (error, NATTER_ACCOUNT_ERROR, NATTER_ACCOUNT_ERROR_BAD_REPLY);
  g_clear_error (&error);

  /* A role the contract does not have. */
  natter_account_service_list_groups_async (service, NULL, test_store_result_cb, &result);
  g_assert_null (natter_account_service_list_groups_finish (service, test_wait_result (&result, 20), &error));
  g_assert_error (error, NATTER_ACCOUNT_ERROR, NATTER_ACCOUNT_ERROR_BAD_REPLY);
  g_clear_error (&error);
  g_clear_object (&result);

  /* Too deep for natter_json_parse(). */
  g_assert_null (list_users (service, "g", &error));
  g_assert_error (error, NATTER_ACCOUNT_ERROR, NATTER_ACCOUNT_ERROR_BAD_REPLY);
  g_clear_error (&error);

  /* Past the reply size limit. */
  natter_account_service_list_blocked_async (service, NULL, test_store_result_cb, &result);
  g_assert_null (natter_account_service_list_blocked_finish (service, test_wait_result (&result, 30), &error));
  g_assert_error (error, NATTER_ACCOUNT_ERROR, NATTER_ACCOUNT_ERROR_BAD_REPLY);
  g_clear_error (&error);
  g_clear_object (&result);

  /* An empty token is no token, and the one held stays. */
  g_assert_null (sign_in (service, FALSE, "a", "password", &error));
  g_assert_error (error, NATTER_ACCOUNT_ERROR, NATTER_ACCOUNT_ERROR_BAD_REPLY);
  g_assert_cmpstr (natter_account_service_get_token (service), ==, "token");
  g_clear_error (&error);

  /* A refusal with a retryAfter of the wrong type is still the refusal. */
  g_assert_null (sign_in (service, TRUE, "a", "password", &error));
  g_assert_error (error, NATTER_ACCOUNT_ERROR, NATTER_ACCOUNT_ERROR_WRONG_PASSWORD);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/account-service/settings", test_settings);
  ADD ("/account-service/register-login", test_register_login);
  ADD ("/account-service/contacts-groups", test_contacts_and_groups);
#undef ADD
  g_test_add_func ("/account-service/hostile-replies", test_hostile_replies);

  return g_test_run ();
}
