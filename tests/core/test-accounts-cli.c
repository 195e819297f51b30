/* test-accounts-cli.c — issue 14's bar with natter-cli and a real natterd
 *
 * On an app with accounts=open and multi-device: alice and bob register,
 * a wrong password exits 3, bob signs in on a second profile that listens
 * (given nothing but --profile), alice's contact request and bob's
 * acceptance make bob her contact, alice's group with bob gets a message,
 * bob leaves; bob's listener heard RC:ContactNtf, RC:GrpNtf and the
 * message, group-members no longer lists bob, and twelve wrong passwords
 * in a row lock alice out.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

#include "natter.h"
#include "natter-test-server.h"
#include "test-helpers.h"

#define OPEN_APP ((const char * const[]) { "--app-setting", "accounts=open", \
                                           "--app-setting", "multi-device=true", NULL })

typedef struct {
  NatterTestServer *server;
  char *dir;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  /* The keyring is not the test's business: the token goes to the 0600 file. */
  g_setenv ("NATTER_SECRET_SERVICE", "0", TRUE);
  fixture->server = natter_test_server_new_full ("[limits]\nlogin-backoff=1\n", OPEN_APP);
  fixture->dir = g_dir_make_tmp ("natter-accounts-cli-XXXXXX", NULL);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  g_clear_pointer (&fixture->server, natter_test_server_free);
  natter_test_remove_tree (fixture->dir);
  g_free (fixture->dir);
}

/* natter-cli with @profile; with @server_too also --server and --app-key
 * (register and login), else the profile must know them. */
static GSubprocess *
spawn_cli (Fixture            *fixture,
           const char         *profile,
           gboolean            server_too,
           GSubprocessFlags    flags,
           const char * const *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  GSubprocess *process;

  g_ptr_array_add (argv, g_strdup (natter_test_program ("NATTER_CLI")));
  if (server_too)
    {
      g_ptr_array_add (argv, g_strdup ("--server"));
      g_ptr_array_add (argv, g_strdup (natter_test_server_get_url (fixture->server)));
      g_ptr_array_add (argv, g_strdup ("--app-key"));
      g_ptr_array_add (argv, g_strdup (natter_test_server_get_app_key (fixture->server)));
    }
  g_ptr_array_add (argv, g_strdup ("--profile"));
  g_ptr_array_add (argv, g_build_filename (fixture->dir, profile, NULL));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (args[i]));
  g_ptr_array_add (argv, NULL);

  process = g_subprocess_newv ((const char * const *) argv->pdata, flags, &error);
  g_assert_no_error (error);
  return process;
}

/* Runs natter-cli to the end with @input on stdin; its exit status. */
static int
run_cli (Fixture            *fixture,
         const char         *profile,
         gboolean            server_too,
         const char         *input,
         char              **out,
         char              **err,
         const char * const *args)
{
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *stdout_text = NULL;
  g_autofree char *stderr_text = NULL;

  process = spawn_cli (fixture, profile, server_too,
                       G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                       G_SUBPROCESS_FLAGS_STDERR_PIPE, args);
  g_subprocess_communicate_utf8 (process, input ? input : "", NULL, &stdout_text, &stderr_text, &error);
  g_assert_no_error (error);
  if (g_test_verbose ())
    g_printerr ("natter-cli %s: %s%s", args[0], stdout_text, stderr_text);
  if (out != NULL)
    *out = g_steal_pointer (&stdout_text);
  if (err != NULL)
    *err = g_steal_pointer (&stderr_text);
  return g_subprocess_get_exit_status (process);
}

/* The object of @lines whose @member is @value, or NULL. */
static JsonObject *
find_line (GPtrArray  *lines,
           const char *member,
           const char *value)
{
  for (guint i = 0; i < lines->len; i++)
    if (g_strcmp0 (json_object_get_string_member_with_default (g_ptr_array_index (lines, i), member, NULL),
                   value) == 0)
      return g_ptr_array_index (lines, i);
  return NULL;
}

/* ----------------------------------------------- a listener's stdout */

typedef struct {
  GDataInputStream *lines;
  GString *text;
  gboolean closed;
} Listener;

static void
listener_line_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Listener *listener = user_data;
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (object),
                                                                       result, NULL, NULL);

  if (line == NULL)
    {
      listener->closed = TRUE;
      return;
    }
  g_string_append_printf (listener->text, "%s\n", line);
  g_data_input_stream_read_line_async (listener->lines, G_PRIORITY_DEFAULT, NULL, listener_line_cb, listener);
}

typedef struct {
  Listener *listener;
  const char *needles[4];
} Heard;

static gboolean
heard_all (gpointer data)
{
  Heard *heard = data;

  for (guint i = 0; heard->needles[i] != NULL; i++)
    if (strstr (heard->listener->text->str, heard->needles[i]) == NULL)
      return FALSE;
  return TRUE;
}

/* ------------------------------------------------------------------ tests */

static void
test_bar (Fixture       *fixture,
          gconstpointer  data)
{
  g_autoptr(GSubprocess) listen = NULL;
  g_autoptr(GPtrArray) lines = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *token_path = NULL;
  g_autofree char *group_id = NULL;
  Listener listener = { NULL, g_string_new (NULL), FALSE };
  Heard heard = { &listener, { "\"RC:ContactNtf\"", "\"RC:GrpNtf\"", "hello team", NULL } };
  g_autoptr(GAsyncResult) ended = NULL;
  GStatBuf st;
  JsonObject *line;

  /* Register: the password on stdin, the profile remembers the rest. */
  g_assert_cmpint (run_cli (fixture, "alice", TRUE, "alice's password\n", &out, NULL,
                            (const char * const[]) { "register", "alice", "--name", "Alice", NULL }), ==, 0);
  g_assert_nonnull (strstr (out, "\"userId\":\"alice\""));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (run_cli (fixture, "bob", TRUE, "bob's password\n", NULL, NULL,
                            (const char * const[]) { "register", "bob", "--name", "Bob", NULL }), ==, 0);
  token_path = g_build_filename (fixture->dir, "alice", "token", NULL);
  g_assert_cmpint (g_stat (token_path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  /* A wrong password exits 3 and names the code. */
  g_assert_cmpint (run_cli (fixture, "bob-laptop", TRUE, "not bob's password\n", NULL, &err,
                            (const char * const[]) { "login", "bob", NULL }), ==, 3);
  g_assert_nonnull (strstr (err, "26002"));
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_cli (fixture, "bob-laptop", TRUE, "bob's password\n", NULL, NULL,
                            (const char * const[]) { "login", "bob", NULL }), ==, 0);

  /* bob's second device listens, given only its profile. */
  listen = spawn_cli (fixture, "bob-laptop", FALSE, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                      (const char * const[]) { "-v", "listen", NULL });
  test_wait_cli_connected (listen);
  listener.lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (listen));
  g_data_input_stream_read_line_async (listener.lines, G_PRIORITY_DEFAULT, NULL, listener_line_cb, &listener);

  g_assert_cmpint (run_cli (fixture, "alice", FALSE, NULL, NULL, NULL,
                            (const char * const[]) { "contact-request", "bob", "hi, it's alice", NULL }), ==, 0);
  g_assert_cmpint (run_cli (fixture, "bob", FALSE, NULL, &out, NULL,
                            (const char * const[]) { "contacts", NULL }), ==, 0);
  lines = test_json_lines (out);
  line = find_line (lines, "userId", "alice");
  g_assert_nonnull (line);
  g_assert_cmpstr (json_object_get_string_member (line, "state"), ==, "incoming");
  g_clear_pointer (&lines, g_ptr_array_unref);
  g_clear_pointer (&out, g_free);

  g_assert_cmpint (run_cli (fixture, "bob", FALSE, NULL, NULL, NULL,
                            (const char * const[]) { "contact-accept", "alice", NULL }), ==, 0);
  g_assert_cmpint (run_cli (fixture, "alice", FALSE, NULL, &out, NULL,
                            (const char * const[]) { "contacts", NULL }), ==, 0);
  lines = test_json_lines (out);
  line = find_line (lines, "userId", "bob");
  g_assert_nonnull (line);
  g_assert_cmpstr (json_object_get_string_member (line, "state"), ==, "contact");
  g_assert_cmpstr (json_object_get_string_member (line, "name"), ==, "Bob");
  g_clear_pointer (&lines, g_ptr_array_unref);
  g_clear_pointer (&out, g_free);

  /* A group with bob, a message to it, and bob leaves. */
  g_assert_cmpint (run_cli (fixture, "alice", FALSE, NULL, &out, NULL,
                            (const char * const[]) { "group-create", "Team", "bob", NULL }), ==, 0);
  lines = test_json_lines (out);
  g_assert_cmpuint (lines->len, ==, 1);
  group_id = g_strdup (json_object_get_string_member (g_ptr_array_index (lines, 0), "groupId"));
  g_assert_nonnull (group_id);
  g_clear_pointer (&lines, g_ptr_array_unref);
  g_clear_pointer (&out, g_free);

  g_assert_cmpint (run_cli (fixture, "alice", FALSE, NULL, &out, NULL,
                            (const char * const[]) { "group-members", group_id, NULL }), ==, 0);
  lines = test_json_lines (out);
  g_assert_cmpuint (lines->len, ==, 2);
  g_assert_cmpstr (json_object_get_string_member (find_line (lines, "userId", "alice"), "role"), ==, "owner");
  g_assert_cmpstr (json_object_get_string_member (find_line (lines, "userId", "bob"), "role"), ==, "member");
  g_clear_pointer (&lines, g_ptr_array_unref);
  g_clear_pointer (&out, g_free);

  g_assert_cmpint (run_cli (fixture, "alice", FALSE, NULL, NULL, NULL,
                            (const char * const[]) { "send", "--type", "group", group_id, "hello team", NULL }), ==, 0);
  test_wait_until (heard_all, &heard, 20, "bob's listener hears the notifications and the message");
  g_assert_cmpint (run_cli (fixture, "bob", FALSE, NULL, NULL, NULL,
                            (const char * const[]) { "group-leave", group_id, NULL }), ==, 0);

  g_assert_cmpint (run_cli (fixture, "alice", FALSE, NULL, &out, NULL,
                            (const char * const[]) { "group-members", group_id, NULL }), ==, 0);
  lines = test_json_lines (out);
  g_assert_cmpuint (lines->len, ==, 1);
  g_assert_null (find_line (lines, "userId", "bob"));
  g_clear_pointer (&lines, g_ptr_array_unref);
  g_clear_pointer (&out, g_free);

  /* What bob's second device heard, each as a JSON line. */
  g_subprocess_send_signal (listen, SIGTERM);
  g_subprocess_wait_async (listen, NULL, test_store_result_cb, &ended);
  test_wait_result (&ended, 20);
  while (!listener.closed)
    g_main_context_iteration (NULL, TRUE);
  lines = test_json_lines (listener.text->str);
  line = find_line (lines, "objectName", "RC:ContactNtf");
  g_assert_nonnull (line);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (line, "content"), "operation"),
                   ==, "Request");
  g_assert_cmpstr (json_object_get_string_member (line, "senderUserId"), ==, "alice");
  line = find_line (lines, "objectName", "RC:GrpNtf");
  g_assert_nonnull (line);
  g_assert_cmpstr (json_object_get_string_member (line, "targetId"), ==, group_id);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (line, "content"), "operation"),
                   ==, "Create");
  line = find_line (lines, "objectName", "RC:TxtMsg");
  g_assert_nonnull (line);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (line, "content"), "content"),
                   ==, "hello team");
  g_clear_pointer (&lines, g_ptr_array_unref);

  /* Twelve wrong passwords in a row lock alice out: the right one is then
   * refused too (26003), with exit 3. */
  for (guint i = 0; i < 12; i++)
    g_assert_cmpint (run_cli (fixture, "alice-phone", TRUE, "guess\n", NULL, NULL,
                              (const char * const[]) { "login", "alice", NULL }), ==, 3);
  g_assert_cmpint (run_cli (fixture, "alice-phone", TRUE, "alice's password\n", NULL, &err,
                            (const char * const[]) { "login", "alice", NULL }), ==, 3);
  g_assert_nonnull (strstr (err, "26003"));

  g_clear_object (&listener.lines);
  g_string_free (listener.text, TRUE);
}

/* alice renames herself: bob, her contact, hears NT:ProfileNtf at once on
 * `listen --all`; dave, neither a contact nor in a group with her, does
 * not. */
static void
test_profile_notice (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(GSubprocess) bob_listen = NULL;
  g_autoptr(GSubprocess) dave_listen = NULL;
  g_autoptr(GPtrArray) lines = NULL;
  g_autoptr(GAsyncResult) ended = NULL;
  Listener bob = { NULL, g_string_new (NULL), FALSE };
  Listener dave = { NULL, g_string_new (NULL), FALSE };
  Heard heard = { &bob, { "\"NT:ProfileNtf\"", NULL } };
  JsonObject *line;
  JsonObject *content;

  g_assert_cmpint (run_cli (fixture, "alice", TRUE, "alice's password\n", NULL, NULL,
                            (const char * const[]) { "register", "alice", "--name", "Alice", NULL }), ==, 0);
  g_assert_cmpint (run_cli (fixture, "bob", TRUE, "bob's password\n", NULL, NULL,
                            (const char * const[]) { "register", "bob", "--name", "Bob", NULL }), ==, 0);
  g_assert_cmpint (run_cli (fixture, "dave", TRUE, "dave's password\n", NULL, NULL,
                            (const char * const[]) { "register", "dave", "--name", "Dave", NULL }), ==, 0);
  g_assert_cmpint (run_cli (fixture, "alice", FALSE, NULL, NULL, NULL,
                            (const char * const[]) { "contact-request", "bob", NULL }), ==, 0);
  g_assert_cmpint (run_cli (fixture, "bob", FALSE, NULL, NULL, NULL,
                            (const char * const[]) { "contact-accept", "alice", NULL }), ==, 0);

  bob_listen = spawn_cli (fixture, "bob", FALSE, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                          (const char * const[]) { "-v", "listen", "--all", NULL });
  dave_listen = spawn_cli (fixture, "dave", FALSE, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                           (const char * const[]) { "-v", "listen", "--all", NULL });
  test_wait_cli_connected (bob_listen);
  test_wait_cli_connected (dave_listen);
  bob.lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (bob_listen));
  g_data_input_stream_read_line_async (bob.lines, G_PRIORITY_DEFAULT, NULL, listener_line_cb, &bob);
  dave.lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (dave_listen));
  g_data_input_stream_read_line_async (dave.lines, G_PRIORITY_DEFAULT, NULL, listener_line_cb, &dave);

  g_assert_cmpint (run_cli (fixture, "alice", FALSE, NULL, NULL, NULL,
                            (const char * const[]) { "profile", "--name", "Alice Liddell", NULL }), ==, 0);
  test_wait_until (heard_all, &heard, 20, "bob's listener hears alice's new name");
  test_spin (300);

  for (guint i = 0; i < 2; i++)
    {
      GSubprocess *process = i == 0 ? bob_listen : dave_listen;
      Listener *listener = i == 0 ? &bob : &dave;

      g_subprocess_send_signal (process, SIGTERM);
      g_subprocess_wait_async (process, NULL, test_store_result_cb, &ended);
      test_wait_result (&ended, 20);
      g_clear_object (&ended);
      while (!listener->closed)
        g_main_context_iteration (NULL, TRUE);
    }
  lines = test_json_lines (bob.text->str);
  line = find_line (lines, "objectName", "NT:ProfileNtf");
  g_assert_nonnull (line);
  g_assert_cmpstr (json_object_get_string_member (line, "senderUserId"), ==, "alice");
  content = json_object_get_object_member (line, "content");
  g_assert_cmpstr (json_object_get_string_member (content, "userId"), ==, "alice");
  g_assert_cmpstr (json_object_get_string_member (content, "name"), ==, "Alice Liddell");
  g_assert_null (strstr (dave.text->str, "NT:ProfileNtf"));

  g_clear_object (&bob.lines);
  g_clear_object (&dave.lines);
  g_string_free (bob.text, TRUE);
  g_string_free (dave.text, TRUE);
}

/* privacy: read, contacts only (bob is refused with 26010), back to
 * anyone; group-add reaches carol's listener as RC:GrpNtf Add, and bob
 * ignoring carol's request as RC:ContactNtf RejectResponse. */
static void
test_privacy_and_group_add (Fixture       *fixture,
                            gconstpointer  data)
{
  g_autoptr(GSubprocess) listen = NULL;
  g_autoptr(GPtrArray) lines = NULL;
  g_autoptr(GAsyncResult) ended = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *group_id = NULL;
  Listener carol = { NULL, g_string_new (NULL), FALSE };
  Heard heard = { &carol, { "\"Add\"", "\"RejectResponse\"", NULL } };
  gboolean add_seen = FALSE, reject_seen = FALSE;

  g_assert_cmpint (run_cli (fixture, "alice", TRUE, "alice's password\n", NULL, NULL,
                            (const char * const[]) { "register", "alice", "--name", "Alice", NULL }), ==, 0);
  g_assert_cmpint (run_cli (fixture, "bob", TRUE, "bob's password\n", NULL, NULL,
                            (const char * const[]) { "register", "bob", "--name", "Bob", NULL }), ==, 0);
  g_assert_cmpint (run_cli (fixture, "carol", TRUE, "carol's password\n", NULL, NULL,
                            (const char * const[]) { "register", "carol", "--name", "Carol", NULL }), ==, 0);

  /* The settings as they are, then contacts only. */
  g_assert_cmpint (run_cli (fixture, "alice", FALSE, NULL, &out, NULL,
                            (const char * const[]) { "privacy", NULL }), ==, 0);
  g_assert_cmpstr (g_strstrip (out), ==, "{\"messagesFrom\":\"anyone\",\"showOnline\":true}");
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (run_cli (fixture, "alice", FALSE, NULL, &out, NULL,
                            (const char * const[]) { "privacy", "--messages", "contacts", NULL }), ==, 0);
  g_assert_cmpstr (g_strstrip (out), ==, "{\"messagesFrom\":\"contacts\",\"showOnline\":true}");
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (run_cli (fixture, "bob", FALSE, NULL, NULL, &err,
                            (const char * const[]) { "send", "alice", "let me in", NULL }), ==, 5);
  g_assert_nonnull (strstr (err, "26010"));
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_cli (fixture, "alice", FALSE, NULL, &out, NULL,
                            (const char * const[]) { "privacy", NULL }), ==, 0);
  g_assert_nonnull (strstr (out, "\"messagesFrom\":\"contacts\""));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (run_cli (fixture, "alice", FALSE, NULL, &out, NULL,
                            (const char * const[]) { "privacy", "--messages", "anyone", NULL }), ==, 0);
  g_assert_nonnull (strstr (out, "\"messagesFrom\":\"anyone\""));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (run_cli (fixture, "bob", FALSE, NULL, NULL, NULL,
                            (const char * const[]) { "send", "alice", "now?", NULL }), ==, 0);
  g_assert_cmpint (run_cli (fixture, "alice", FALSE, NULL, NULL, NULL,
                            (const char * const[]) { "privacy", "--messages", "sometimes", NULL }), ==, 2);

  /* carol listens; alice adds her to a group; bob ignores her request. */
  listen = spawn_cli (fixture, "carol", FALSE, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                      (const char * const[]) { "-v", "listen", "--all", NULL });
  test_wait_cli_connected (listen);
  carol.lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (listen));
  g_data_input_stream_read_line_async (carol.lines, G_PRIORITY_DEFAULT, NULL, listener_line_cb, &carol);

  g_assert_cmpint (run_cli (fixture, "alice", FALSE, NULL, &out, NULL,
                            (const char * const[]) { "group-create", "Team", "bob", NULL }), ==, 0);
  lines = test_json_lines (out);
  group_id = g_strdup (json_object_get_string_member (g_ptr_array_index (lines, 0), "groupId"));
  g_clear_pointer (&lines, g_ptr_array_unref);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (run_cli (fixture, "alice", FALSE, NULL, NULL, NULL,
                            (const char * const[]) { "group-add", group_id, "carol", NULL }), ==, 0);
  g_assert_cmpint (run_cli (fixture, "alice", FALSE, NULL, &out, NULL,
                            (const char * const[]) { "group-members", group_id, NULL }), ==, 0);
  lines = test_json_lines (out);
  g_assert_cmpuint (lines->len, ==, 3);
  g_assert_cmpstr (json_object_get_string_member (find_line (lines, "userId", "carol"), "role"), ==, "member");
  g_clear_pointer (&lines, g_ptr_array_unref);
  g_clear_pointer (&out, g_free);

  g_assert_cmpint (run_cli (fixture, "carol", FALSE, NULL, NULL, NULL,
                            (const char * const[]) { "contact-request", "bob", NULL }), ==, 0);
  g_assert_cmpint (run_cli (fixture, "bob", FALSE, NULL, NULL, NULL,
                            (const char * const[]) { "contact-ignore", "carol", NULL }), ==, 0);
  test_wait_until (heard_all, &heard, 20, "carol's listener hears the Add and the RejectResponse");

  g_subprocess_send_signal (listen, SIGTERM);
  g_subprocess_wait_async (listen, NULL, test_store_result_cb, &ended);
  test_wait_result (&ended, 20);
  while (!carol.closed)
    g_main_context_iteration (NULL, TRUE);
  lines = test_json_lines (carol.text->str);
  for (guint i = 0; i < lines->len; i++)
    {
      JsonObject *line = g_ptr_array_index (lines, i);
      const char *object_name = json_object_get_string_member_with_default (line, "objectName", "");
      JsonObject *content;
      const char *operation;

      if (!json_object_has_member (line, "content"))
        continue;
      content = json_object_get_object_member (line, "content");
      operation = json_object_get_string_member_with_default (content, "operation", "");
      if (g_str_equal (object_name, "RC:GrpNtf") && g_str_equal (operation, "Add"))
        {
          JsonArray *targets = json_object_get_array_member (json_object_get_object_member (content, "data"),
                                                             "targetUserIds");

          g_assert_cmpstr (json_object_get_string_member (line, "targetId"), ==, group_id);
          g_assert_cmpstr (json_object_get_string_member (content, "operatorUserId"), ==, "alice");
          g_assert_cmpuint (json_array_get_length (targets), ==, 1);
          g_assert_cmpstr (json_array_get_string_element (targets, 0), ==, "carol");
          add_seen = TRUE;
        }
      if (g_str_equal (object_name, "RC:ContactNtf") && g_str_equal (operation, "RejectResponse"))
        {
          g_assert_cmpstr (json_object_get_string_member (content, "sourceUserId"), ==, "bob");
          g_assert_cmpstr (json_object_get_string_member (content, "targetUserId"), ==, "carol");
          reject_seen = TRUE;
        }
    }
  g_assert_true (add_seen);
  g_assert_true (reject_seen);

  g_clear_object (&carol.lines);
  g_string_free (carol.text, TRUE);
}

static void
test_usage (Fixture       *fixture,
            gconstpointer  data)
{
  g_autofree char *err = NULL;

  /* Nothing signed in on this profile: a usage error, not a request. */
  g_assert_cmpint (run_cli (fixture, "nobody", FALSE, NULL, NULL, &err,
                            (const char * const[]) { "contacts", NULL }), ==, 2);
  g_assert_nonnull (strstr (err, "--server"));
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_cli (fixture, "nobody", TRUE, NULL, NULL, NULL,
                            (const char * const[]) { "group-create", NULL }), ==, 2);
  /* No password on stdin. */
  g_assert_cmpint (run_cli (fixture, "nobody", TRUE, "", NULL, &err,
                            (const char * const[]) { "login", "nobody", NULL }), ==, 2);
  g_assert_nonnull (strstr (err, "password"));
}

/* password: the old and the new password on stdin; a wrong old one
 * exits 3 (26002); the new token is kept in the profile, which goes on
 * working, while another profile's old token is refused; the old
 * password no longer signs in, the new one does. delete-account: a
 * wrong password exits 3, the right one deletes alice for good. */
static void
test_password_and_delete (Fixture       *fixture,
                          gconstpointer  data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *token_path = g_build_filename (fixture->dir, "alice", "token", NULL);
  g_autofree char *old_token = NULL;
  g_autofree char *new_token = NULL;

  g_assert_cmpint (run_cli (fixture, "alice", TRUE, "alice's password\n", NULL, NULL,
                            (const char * const[]) { "register", "alice", "--name", "Alice", NULL }), ==, 0);
  g_assert_cmpint (run_cli (fixture, "alice-2", TRUE, "alice's password\n", NULL, NULL,
                            (const char * const[]) { "login", "alice", NULL }), ==, 0);
  g_assert_true (g_file_get_contents (token_path, &old_token, NULL, NULL));

  g_assert_cmpint (run_cli (fixture, "alice", FALSE, "not alice's password\nalice's new password\n", NULL, &err,
                            (const char * const[]) { "password", NULL }), ==, 3);
  g_assert_nonnull (strstr (err, "26002"));
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_cli (fixture, "alice", FALSE, "alice's password\nalice's new password\n", &out, NULL,
                            (const char * const[]) { "password", NULL }), ==, 0);
  g_assert_nonnull (strstr (out, "\"userId\":\"alice\""));
  g_clear_pointer (&out, g_free);
  g_assert_true (g_file_get_contents (token_path, &new_token, NULL, NULL));
  g_assert_cmpstr (new_token, !=, old_token);

  /* The profile goes on with the new token; the other one's is revoked. */
  g_assert_cmpint (run_cli (fixture, "alice", FALSE, NULL, NULL, NULL,
                            (const char * const[]) { "privacy", NULL }), ==, 0);
  g_assert_cmpint (run_cli (fixture, "alice-2", FALSE, NULL, NULL, NULL,
                            (const char * const[]) { "privacy", NULL }), ==, 3);
  g_assert_cmpint (run_cli (fixture, "alice-2", TRUE, "alice's password\n", NULL, NULL,
                            (const char * const[]) { "login", "alice", NULL }), ==, 3);
  g_assert_cmpint (run_cli (fixture, "alice-2", TRUE, "alice's new password\n", NULL, NULL,
                            (const char * const[]) { "login", "alice", NULL }), ==, 0);

  g_assert_cmpint (run_cli (fixture, "alice-2", FALSE, "alice's password\n", NULL, &err,
                            (const char * const[]) { "delete-account", NULL }), ==, 3);
  g_assert_nonnull (strstr (err, "26002"));
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_cli (fixture, "alice-2", FALSE, "alice's new password\n", NULL, NULL,
                            (const char * const[]) { "delete-account", NULL }), ==, 0);
  g_assert_cmpint (run_cli (fixture, "alice", TRUE, "alice's new password\n", NULL, NULL,
                            (const char * const[]) { "login", "alice", NULL }), ==, 3);
  g_assert_cmpint (run_cli (fixture, "alice", FALSE, NULL, NULL, NULL,
                            (const char * const[]) { "privacy", NULL }), ==, 3);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/accounts-cli/bar", Fixture, NULL, fixture_set_up, test_bar, fixture_tear_down);
  g_test_add ("/accounts-cli/privacy-and-group-add", Fixture, NULL, fixture_set_up, test_privacy_and_group_add,
              fixture_tear_down);
  g_test_add ("/accounts-cli/password-and-delete", Fixture, NULL, fixture_set_up, test_password_and_delete,
              fixture_tear_down);
  g_test_add ("/accounts-cli/usage", Fixture, NULL, fixture_set_up, test_usage, fixture_tear_down);
  g_test_add ("/accounts-cli/profile-notice", Fixture, NULL, fixture_set_up, test_profile_notice,
              fixture_tear_down);

  return g_test_run ();
}
