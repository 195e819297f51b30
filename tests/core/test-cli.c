/* test-cli.c — natter-cli against a real natterd, as scripts use it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <sqlite3.h>
#include <string.h>

#include "natter.h"
#include "natter-test-server.h"
#include "test-helpers.h"

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        remove_tree (child);
      else
        g_remove (child);
    }
  g_rmdir (path);
}

typedef struct {
  NatterTestServer *server;
  char *dir;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  fixture->server = natter_test_server_new ();
  fixture->dir = g_dir_make_tmp ("natter-cli-test-XXXXXX", NULL);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  g_clear_pointer (&fixture->server, natter_test_server_free);
  remove_tree (fixture->dir);
  g_free (fixture->dir);
}

/* argv for natter-cli as @user with a profile of that name. */
static GPtrArray *
cli_argv (Fixture    *fixture,
          const char *user,
          const char *token)
{
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *own_token = token ? NULL : natter_test_server_get_token (fixture->server, user);

  g_ptr_array_add (argv, g_strdup (natter_test_program ("NATTER_CLI")));
  g_ptr_array_add (argv, g_strdup ("--server"));
  g_ptr_array_add (argv, g_strdup (natter_test_server_get_url (fixture->server)));
  g_ptr_array_add (argv, g_strdup ("--app-key"));
  g_ptr_array_add (argv, g_strdup (natter_test_server_get_app_key (fixture->server)));
  g_ptr_array_add (argv, g_strdup ("--token"));
  g_ptr_array_add (argv, g_strdup (token ? token : own_token));
  g_ptr_array_add (argv, g_strdup ("--profile"));
  g_ptr_array_add (argv, g_build_filename (fixture->dir, user, NULL));
  return argv;
}

static GSubprocess *
spawn (GPtrArray          *argv,
       GSubprocessFlags    flags,
       const char * const *args)
{
  g_autoptr(GError) error = NULL;
  GSubprocess *process;

  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (args[i]));
  g_ptr_array_add (argv, NULL);

  process = g_subprocess_newv ((const char * const *) argv->pdata, flags, &error);
  g_assert_no_error (error);
  return process;
}

/* Runs natter-cli to the end; returns its exit status. */
static int
run_cli (Fixture            *fixture,
         const char         *user,
         const char         *token,
         char              **out,
         char              **err,
         const char * const *args)
{
  g_autoptr(GPtrArray) argv = cli_argv (fixture, user, token);
  g_autoptr(GSubprocess) process = spawn (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                          args);
  g_autoptr(GError) error = NULL;
  g_autofree char *stdout_text = NULL;
  g_autofree char *stderr_text = NULL;

  g_subprocess_communicate_utf8 (process, NULL, NULL, &stdout_text, &stderr_text, &error);
  g_assert_no_error (error);
  if (g_test_verbose ())
    g_printerr ("natter-cli %s: %s%s", args[0], stdout_text, stderr_text);
  if (out != NULL)
    *out = g_steal_pointer (&stdout_text);
  if (err != NULL)
    *err = g_steal_pointer (&stderr_text);
  return g_subprocess_get_exit_status (process);
}

static char *
read_stdout (GSubprocess *process)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;

  g_subprocess_communicate_utf8 (process, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  return g_steal_pointer (&out);
}

/* ------------------------------------------------------------------ tests */

static void
test_send_listen (Fixture       *fixture,
                  gconstpointer  data)
{
  const char * const listen_args[] = { "-v", "listen", "--all", "--count", "2", NULL };
  g_autoptr(GPtrArray) argv = NULL;
  g_autoptr(GSubprocess) listener = NULL;
  g_autofree char *sent_out = NULL;
  g_autofree char *heard_out = NULL;
  g_autoptr(GPtrArray) sent = NULL;
  g_autoptr(GPtrArray) heard = NULL;
  JsonObject *message, *content;

  /* -v goes before the command: insert it among the global options. */
  argv = cli_argv (fixture, "bob", NULL);
  listener = spawn (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, listen_args);
  test_wait_cli_connected (listener);

  /* A status-only message (typing) waits for the connection: it has no
   * outbox to wait in. */
  g_assert_cmpint (run_cli (fixture, "alice", NULL, NULL, NULL,
                            (const char * const[]) { "send", "bob", "--object-name", "RC:TypSts", "--content",
                                                     "{\"typingContentType\":\"RC:TxtMsg\"}", NULL }), ==, 0);
  g_assert_cmpint (run_cli (fixture, "alice", NULL, &sent_out, NULL,
                            (const char * const[]) { "send", "bob", "hello bob, 你好", NULL }), ==, 0);
  sent = test_json_lines (sent_out);
  g_assert_cmpuint (sent->len, ==, 1);

  heard_out = read_stdout (listener);
  g_assert_true (g_subprocess_get_if_exited (listener));
  g_assert_cmpint (g_subprocess_get_exit_status (listener), ==, 0);
  heard = test_json_lines (heard_out);
  g_assert_cmpuint (heard->len, ==, 2);
  g_assert_cmpstr (json_object_get_string_member (g_ptr_array_index (heard, 0), "objectName"), ==, "RC:TypSts");

  /* The seed's message object, with the server's messageUId. */
  message = g_ptr_array_index (heard, 1);
  content = json_object_get_object_member (message, "content");
  g_assert_cmpstr (json_object_get_string_member (content, "content"), ==, "hello bob, 你好");
  g_assert_cmpstr (json_object_get_string_member (content, "messageName"), ==, "TextMessage");
  g_assert_cmpstr (json_object_get_string_member (message, "objectName"), ==, "RC:TxtMsg");
  g_assert_cmpint (json_object_get_int_member (message, "conversationType"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (message, "messageDirection"), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (message, "senderUserId"), ==, "alice");
  g_assert_cmpstr (json_object_get_string_member (message, "targetId"), ==, "alice");
  g_assert_cmpstr (json_object_get_string_member (message, "messageType"), ==, "TextMessage");
  g_assert_cmpint (json_object_get_int_member (message, "sentStatus"), ==, 40);
  g_assert_false (json_object_get_boolean_member (message, "offLineMessage"));
  g_assert_cmpint (json_object_get_int_member (message, "messageId"), >, 0);
  g_assert_cmpint (strlen (json_object_get_string_member (message, "messageUId")), >, 0);
  g_assert_cmpstr (json_object_get_string_member (message, "messageUId"), ==,
                   json_object_get_string_member (g_ptr_array_index (sent, 0), "messageUId"));
  g_assert_cmpint (json_object_get_int_member (message, "sentTime"), ==,
                   json_object_get_int_member (g_ptr_array_index (sent, 0), "sentTime"));
  g_assert_cmpint (json_object_get_int_member (g_ptr_array_index (sent, 0), "sentStatus"), ==, 30);
  g_assert_cmpstr (json_object_get_string_member (g_ptr_array_index (sent, 0), "senderUserId"), ==, "alice");
}

/* Customer service (type 5, #16): alice's RC:CsHs handshake (status only)
 * reaches the service user listening, her text goes to the service id,
 * and the service's answer comes back in alice's type-5 conversation
 * with it. */
static void
test_customer_service (Fixture       *fixture,
                       gconstpointer  data)
{
  const char * const listen_args[] = { "-v", "listen", "--all", "--count", "2", NULL };
  const char * const alice_listen_args[] = { "-v", "listen", "--all", "--count", "1", NULL };
  g_autoptr(GPtrArray) argv = cli_argv (fixture, "helpdesk", NULL);
  g_autoptr(GPtrArray) alice_argv = NULL;
  g_autoptr(GSubprocess) service = NULL;
  g_autoptr(GSubprocess) alice = NULL;
  g_autofree char *heard_out = NULL;
  g_autofree char *answer_out = NULL;
  g_autoptr(GPtrArray) heard = NULL;
  g_autoptr(GPtrArray) answer = NULL;
  JsonObject *message;

  service = spawn (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, listen_args);
  test_wait_cli_connected (service);
  g_assert_cmpint (run_cli (fixture, "alice", NULL, NULL, NULL,
                            (const char * const[]) { "send", "helpdesk", "--type", "5", "--object-name", "RC:CsHs",
                                                     "--content", "{\"requestInfo\":{},\"userInfo\":{\"userId\":\"alice\"}}",
                                                     NULL }), ==, 0);
  g_assert_cmpint (run_cli (fixture, "alice", NULL, NULL, NULL,
                            (const char * const[]) { "send", "helpdesk", "my order is late", "--type", "5", NULL }), ==, 0);
  heard_out = read_stdout (service);
  g_assert_cmpint (g_subprocess_get_exit_status (service), ==, 0);
  heard = test_json_lines (heard_out);
  g_assert_cmpuint (heard->len, ==, 2);
  message = g_ptr_array_index (heard, 0);
  g_assert_cmpstr (json_object_get_string_member (message, "objectName"), ==, "RC:CsHs");
  g_assert_cmpint (json_object_get_int_member (message, "conversationType"), ==, 5);
  g_assert_cmpstr (json_object_get_string_member (message, "senderUserId"), ==, "alice");
  message = g_ptr_array_index (heard, 1);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (message, "content"), "content"),
                   ==, "my order is late");
  g_assert_cmpint (json_object_get_int_member (message, "conversationType"), ==, 5);
  g_assert_cmpstr (json_object_get_string_member (message, "targetId"), ==, "alice");

  /* The service answers; alice hears it in her chat with helpdesk. */
  alice_argv = cli_argv (fixture, "alice", NULL);
  alice = spawn (alice_argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, alice_listen_args);
  test_wait_cli_connected (alice);
  g_assert_cmpint (run_cli (fixture, "helpdesk", NULL, NULL, NULL,
                            (const char * const[]) { "send", "alice", "on its way", "--type", "customer-service", NULL }),
                   ==, 0);
  answer_out = read_stdout (alice);
  g_assert_cmpint (g_subprocess_get_exit_status (alice), ==, 0);
  answer = test_json_lines (answer_out);
  g_assert_cmpuint (answer->len, ==, 1);
  message = g_ptr_array_index (answer, 0);
  g_assert_cmpint (json_object_get_int_member (message, "conversationType"), ==, 5);
  g_assert_cmpstr (json_object_get_string_member (message, "targetId"), ==, "helpdesk");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (message, "content"), "content"),
                   ==, "on its way");
}

/* send --reply-to: an RC:ReferenceMsg built from the stored quoted message
 * (its content and objectName), as bob's history shows it. */
static void
test_reply (Fixture       *fixture,
            gconstpointer  data)
{
  g_autofree char *first_out = NULL;
  g_autofree char *reply_out = NULL;
  g_autofree char *history_out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GPtrArray) first = NULL;
  g_autoptr(GPtrArray) history = NULL;
  JsonObject *reply, *content, *quoted;
  const char *uid;

  g_assert_cmpint (run_cli (fixture, "alice", NULL, &first_out, NULL,
                            (const char * const[]) { "send", "bob", "the first message", NULL }), ==, 0);
  first = test_json_lines (first_out);
  uid = json_object_get_string_member (g_ptr_array_index (first, 0), "messageUId");

  g_assert_cmpint (run_cli (fixture, "alice", NULL, &reply_out, NULL,
                            (const char * const[]) { "send", "bob", "a reply to it", "--reply-to", uid, NULL }),
                   ==, 0);
  /* A message this profile does not hold cannot be quoted. */
  g_assert_cmpint (run_cli (fixture, "alice", NULL, NULL, &err,
                            (const char * const[]) { "send", "bob", "x", "--reply-to", "NO-SUCH-UID", NULL }),
                   !=, 0);
  g_assert_nonnull (strstr (err, "NO-SUCH-UID"));

  g_assert_cmpint (run_cli (fixture, "bob", NULL, &history_out, NULL,
                            (const char * const[]) { "history", "alice", NULL }), ==, 0);
  history = test_json_lines (history_out);
  g_assert_cmpuint (history->len, ==, 2);
  reply = g_ptr_array_index (history, 1);
  g_assert_cmpstr (json_object_get_string_member (reply, "objectName"), ==, "RC:ReferenceMsg");
  g_assert_cmpstr (json_object_get_string_member (reply, "messageType"), ==, "ReferenceMessage");
  content = json_object_get_object_member (reply, "content");
  g_assert_cmpstr (json_object_get_string_member (content, "content"), ==, "a reply to it");
  g_assert_cmpstr (json_object_get_string_member (content, "referMsgUserId"), ==, "alice");
  g_assert_cmpstr (json_object_get_string_member (content, "objName"), ==, "RC:TxtMsg");
  quoted = json_object_get_object_member (content, "referMsg");
  g_assert_nonnull (quoted);
  g_assert_cmpstr (json_object_get_string_member (quoted, "content"), ==, "the first message");
}

/* A reply is edited like a text (#16): the new text, the quote kept (also
 * when the edit names another one), in natterd's history and in the
 * store of bob's device that hears the NT:EditCmd. */
static JsonObject *
content_of (GPtrArray  *lines,
            const char *uid)
{
  for (guint i = 0; i < lines->len; i++)
    if (g_strcmp0 (json_object_get_string_member (g_ptr_array_index (lines, i), "messageUId"), uid) == 0)
      return json_object_get_object_member (g_ptr_array_index (lines, i), "content");
  g_error ("no message %s", uid);
}

static void
test_edit_reply (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autofree char *first_out = NULL;
  g_autofree char *reply_out = NULL;
  g_autofree char *history_out = NULL;
  g_autofree char *local_out = NULL;
  g_autoptr(GPtrArray) first = NULL;
  g_autoptr(GPtrArray) reply = NULL;
  g_autoptr(GPtrArray) history = NULL;
  g_autoptr(GPtrArray) local = NULL;
  const char *uid;

  g_assert_cmpint (run_cli (fixture, "alice", NULL, &first_out, NULL,
                            (const char * const[]) { "send", "bob", "lunch?", NULL }), ==, 0);
  first = test_json_lines (first_out);
  g_assert_cmpint (run_cli (fixture, "alice", NULL, &reply_out, NULL,
                            (const char * const[]) { "send", "bob", "at noun", "--reply-to",
                                                     json_object_get_string_member (g_ptr_array_index (first, 0),
                                                                                    "messageUId"), NULL }), ==, 0);
  reply = test_json_lines (reply_out);
  uid = json_object_get_string_member (g_ptr_array_index (reply, 0), "messageUId");
  g_assert_cmpint (run_cli (fixture, "bob", NULL, NULL, NULL, (const char * const[]) { "sync", NULL }), ==, 0);

  g_assert_cmpint (run_cli (fixture, "alice", NULL, NULL, NULL,
                            (const char * const[]) { "edit", uid, "at noon", NULL }), ==, 0);

  g_assert_cmpint (run_cli (fixture, "alice", NULL, &history_out, NULL,
                            (const char * const[]) { "history", "bob", NULL }), ==, 0);
  g_assert_cmpint (run_cli (fixture, "bob", NULL, NULL, NULL, (const char * const[]) { "sync", NULL }), ==, 0);
  g_assert_cmpint (run_cli (fixture, "bob", NULL, &local_out, NULL,
                            (const char * const[]) { "history", "alice", "--local", NULL }), ==, 0);
  history = test_json_lines (history_out);
  local = test_json_lines (local_out);
  for (guint i = 0; i < 2; i++)
    {
      JsonObject *content = content_of (i == 0 ? history : local, uid);

      g_assert_cmpstr (json_object_get_string_member (content, "content"), ==, "at noon");
      g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (content, "referMsg"), "content"),
                       ==, "lunch?");
      g_assert_cmpstr (json_object_get_string_member (content, "referMsgUserId"), ==, "alice");
      g_assert_true (json_object_has_member (content, "editedTime"));
    }
}

/* forward: the stored content re-sent to another chat; a file by its
 * remote URL (no upload), from the sender's own copy and a received one. */
static void
test_forward (Fixture       *fixture,
              gconstpointer  data)
{
  g_autofree char *path = g_build_filename (fixture->dir, "notes.txt", NULL);
  g_autofree char *sent_out = NULL;
  g_autofree char *text_out = NULL;
  g_autofree char *forward_out = NULL;
  g_autofree char *own_out = NULL;
  g_autofree char *history_out = NULL;
  g_autoptr(GPtrArray) sent = NULL;
  g_autoptr(GPtrArray) text = NULL;
  g_autoptr(GPtrArray) history = NULL;
  JsonObject *content;
  const char *url;

  g_file_set_contents (path, "meeting notes\n", -1, NULL);
  g_assert_cmpint (run_cli (fixture, "alice", NULL, &sent_out, NULL,
                            (const char * const[]) { "send", "bob", "--file", path, NULL }), ==, 0);
  sent = test_json_lines (sent_out);
  url = json_object_get_string_member (json_object_get_object_member (g_ptr_array_index (sent, 0), "content"),
                                       "fileUrl");
  g_assert_cmpint (run_cli (fixture, "alice", NULL, &text_out, NULL,
                            (const char * const[]) { "send", "bob", "see the notes", NULL }), ==, 0);
  text = test_json_lines (text_out);

  /* bob's history stores both; he forwards the file to carol. */
  g_assert_cmpint (run_cli (fixture, "bob", NULL, NULL, NULL,
                            (const char * const[]) { "history", "alice", NULL }), ==, 0);
  g_assert_cmpint (run_cli (fixture, "bob", NULL, &forward_out, NULL,
                            (const char * const[]) { "forward",
                                                     json_object_get_string_member (g_ptr_array_index (sent, 0),
                                                                                    "messageUId"),
                                                     "carol", NULL }), ==, 0);
  /* alice forwards her own text (her store's copy) to carol. */
  g_assert_cmpint (run_cli (fixture, "alice", NULL, &own_out, NULL,
                            (const char * const[]) { "forward",
                                                     json_object_get_string_member (g_ptr_array_index (text, 0),
                                                                                    "messageUId"),
                                                     "carol", "--type", "private", NULL }), ==, 0);
  g_assert_cmpint (run_cli (fixture, "bob", NULL, NULL, NULL,
                            (const char * const[]) { "forward", "NO-SUCH-UID", "carol", NULL }), !=, 0);

  g_assert_cmpint (run_cli (fixture, "carol", NULL, &history_out, NULL,
                            (const char * const[]) { "history", "bob", NULL }), ==, 0);
  history = test_json_lines (history_out);
  g_assert_cmpuint (history->len, ==, 1);
  g_assert_cmpstr (json_object_get_string_member (g_ptr_array_index (history, 0), "objectName"), ==, "RC:FileMsg");
  g_assert_cmpstr (json_object_get_string_member (g_ptr_array_index (history, 0), "senderUserId"), ==, "bob");
  content = json_object_get_object_member (g_ptr_array_index (history, 0), "content");
  g_assert_cmpstr (json_object_get_string_member (content, "fileUrl"), ==, url);
  g_assert_cmpstr (json_object_get_string_member (content, "name"), ==, "notes.txt");
  g_assert_cmpint (json_object_get_int_member (content, "size"), ==, 14);
  g_clear_pointer (&history_out, g_free);
  g_clear_pointer (&history, g_ptr_array_unref);

  g_assert_cmpint (run_cli (fixture, "carol", NULL, &history_out, NULL,
                            (const char * const[]) { "history", "alice", NULL }), ==, 0);
  history = test_json_lines (history_out);
  g_assert_cmpuint (history->len, ==, 1);
  content = json_object_get_object_member (g_ptr_array_index (history, 0), "content");
  g_assert_cmpstr (json_object_get_string_member (content, "content"), ==, "see the notes");
  g_assert_false (json_object_has_member (content, "localPath"));
}

/* edit: the sender's own text; bob's listen --all prints the NT:EditCmd,
 * the server's history the new text with its edited mark. */
/* Images and files libnatter sends carry "expansion" like texts sent with
 * --expansion: a 👍 on each is taken, and bob's history has it; unreact
 * takes one back (#16). */
static void
test_react_media (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autofree char *image = g_build_filename (fixture->dir, "photo.png", NULL);
  g_autofree char *file = g_build_filename (fixture->dir, "notes.txt", NULL);
  g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 64, 48);
  const char *paths[] = { image, file };
  const char *options[] = { "--image", "--file" };
  g_autofree char *uids[2] = { NULL, NULL };

  gdk_pixbuf_fill (pixbuf, 0x336699ff);
  g_assert_true (gdk_pixbuf_save (pixbuf, image, "png", NULL, NULL));
  g_assert_true (g_file_set_contents (file, "meeting notes\n", -1, NULL));

  for (guint i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      g_autofree char *out = NULL;
      g_autoptr(GPtrArray) lines = NULL;

      g_assert_cmpint (run_cli (fixture, "alice", NULL, &out, NULL,
                                (const char * const[]) { "send", "bob", options[i], paths[i], NULL }), ==, 0);
      lines = test_json_lines (out);
      g_assert_cmpuint (lines->len, ==, 1);
      uids[i] = g_strdup (json_object_get_string_member (g_ptr_array_index (lines, 0), "messageUId"));
      g_assert_cmpint (run_cli (fixture, "alice", NULL, NULL, NULL,
                                (const char * const[]) { "react", uids[i], "👍", NULL }), ==, 0);
    }

  {
    g_autofree char *out = NULL;
    g_autoptr(GPtrArray) history = NULL;
    guint reacted = 0;

    g_assert_cmpint (run_cli (fixture, "bob", NULL, &out, NULL,
                              (const char * const[]) { "history", "alice", NULL }), ==, 0);
    history = test_json_lines (out);
    for (guint i = 0; i < history->len; i++)
      {
        JsonObject *content = json_object_get_object_member (g_ptr_array_index (history, i), "content");
        const char *uid = json_object_get_string_member (g_ptr_array_index (history, i), "messageUId");

        if (g_strcmp0 (uid, uids[0]) != 0 && g_strcmp0 (uid, uids[1]) != 0)
          continue;
        g_assert_true (json_object_has_member (content, "expansion"));
        /* 👍 is F0 9F 91 8D in UTF-8. */
        g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (content, "expansion"),
                                                        "rf09f918d"), ==, "[\"alice\"]");
        reacted++;
      }
    g_assert_cmpuint (reacted, ==, 2);
  }

  /* unreact takes alice's 👍 back. */
  {
    g_autofree char *out = NULL;
    g_autoptr(GPtrArray) lines = NULL;
    JsonObject *content;

    g_assert_cmpint (run_cli (fixture, "alice", NULL, &out, NULL,
                              (const char * const[]) { "unreact", uids[0], "👍", NULL }), ==, 0);
    lines = test_json_lines (out);
    g_assert_cmpuint (lines->len, ==, 1);
    content = json_object_get_object_member (g_ptr_array_index (lines, 0), "content");
    g_assert_false (json_object_has_member (json_object_get_object_member (content, "expansion"), "rf09f918d"));
  }
}

static void
test_edit (Fixture       *fixture,
           gconstpointer  data)
{
  const char * const listen_args[] = { "-v", "listen", "--all", "--count", "2", NULL };
  g_autoptr(GPtrArray) argv = cli_argv (fixture, "bob", NULL);
  g_autoptr(GSubprocess) listener = NULL;
  g_autofree char *sent_out = NULL;
  g_autofree char *bob_out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *heard_out = NULL;
  g_autofree char *history_out = NULL;
  g_autoptr(GPtrArray) sent = NULL;
  g_autoptr(GPtrArray) bob_sent = NULL;
  g_autoptr(GPtrArray) heard = NULL;
  g_autoptr(GPtrArray) history = NULL;
  JsonObject *command, *content;
  const char *uid;

  listener = spawn (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, listen_args);
  test_wait_cli_connected (listener);

  g_assert_cmpint (run_cli (fixture, "alice", NULL, &sent_out, NULL,
                            (const char * const[]) { "send", "bob", "teh plan", NULL }), ==, 0);
  sent = test_json_lines (sent_out);
  uid = json_object_get_string_member (g_ptr_array_index (sent, 0), "messageUId");
  g_assert_cmpint (run_cli (fixture, "carol", NULL, &bob_out, NULL,
                            (const char * const[]) { "send", "alice", "ok", NULL }), ==, 0);
  bob_sent = test_json_lines (bob_out);

  /* Not alice's message: refused with its code. */
  g_assert_cmpint (run_cli (fixture, "alice", NULL, NULL, NULL,
                            (const char * const[]) { "sync", NULL }), ==, 0);
  g_assert_cmpint (run_cli (fixture, "alice", NULL, NULL, &err,
                            (const char * const[]) { "edit",
                                                     json_object_get_string_member (g_ptr_array_index (bob_sent, 0),
                                                                                    "messageUId"),
                                                     "mine", NULL }), ==, 5);
  g_assert_nonnull (strstr (err, "25102"));

  g_assert_cmpint (run_cli (fixture, "alice", NULL, NULL, NULL,
                            (const char * const[]) { "edit", uid, "the plan", NULL }), ==, 0);

  heard_out = read_stdout (listener);
  heard = test_json_lines (heard_out);
  g_assert_cmpuint (heard->len, ==, 2);
  command = g_ptr_array_index (heard, 1);
  g_assert_cmpstr (json_object_get_string_member (command, "objectName"), ==, "NT:EditCmd");
  content = json_object_get_object_member (command, "content");
  g_assert_cmpstr (json_object_get_string_member (content, "messageUId"), ==, uid);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (content, "content"), "content"),
                   ==, "the plan");

  g_assert_cmpint (run_cli (fixture, "alice", NULL, &history_out, NULL,
                            (const char * const[]) { "history", "bob", NULL }), ==, 0);
  history = test_json_lines (history_out);
  for (guint i = 0; i < history->len; i++)
    if (g_strcmp0 (json_object_get_string_member (g_ptr_array_index (history, i), "messageUId"), uid) == 0)
      {
        content = json_object_get_object_member (g_ptr_array_index (history, i), "content");
        g_assert_cmpstr (json_object_get_string_member (content, "content"), ==, "the plan");
        g_assert_true (json_object_has_member (content, "editedTime"));
        return;
      }
  g_assert_not_reached ();
}

typedef struct {
  guint online;        /* presence-url bodies saying alice is online */
} PresenceEndpoint;

static void
on_presence (SoupServer        *server,
             SoupServerMessage *msg,
             const char        *path,
             GHashTable        *query,
             gpointer           user_data)
{
  PresenceEndpoint *endpoint = user_data;
  g_autoptr(GBytes) body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  g_autofree char *text = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  g_autoptr(GHashTable) form = soup_form_decode (text);

  g_assert_nonnull (g_hash_table_lookup (query, "signature"));
  if (g_strcmp0 (g_hash_table_lookup (form, "userId"), "alice") == 0 &&
      g_strcmp0 (g_hash_table_lookup (form, "status"), "0") == 0)
    endpoint->online++;
  soup_server_message_set_status (msg, 200, NULL);
}

/* Issue #16's bar: the app server hears alice come online; bob, listening
 * with --all, gets her first message, her RC:ReferenceMsg quoting it, her
 * 👍 reaction on it (NT:ExpansionCmd) and her edit of it;
 * carol gets the forwarded copy; alice's server history has the new text. */
static void
test_bar (Fixture       *fixture,
          gconstpointer  data)
{
  const char * const listen_args[] = { "-v", "listen", "--all", "--count", "4", NULL };
  PresenceEndpoint endpoint = { 0 };
  g_autoptr(SoupServer) soup = soup_server_new (NULL, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *setting = NULL;
  g_autoptr(GPtrArray) argv = NULL;
  g_autoptr(GSubprocess) listener = NULL;
  g_autofree char *first_out = NULL;
  g_autofree char *heard_out = NULL;
  g_autofree char *carol_out = NULL;
  g_autofree char *history_out = NULL;
  g_autoptr(GPtrArray) first = NULL;
  g_autoptr(GPtrArray) heard = NULL;
  g_autoptr(GPtrArray) carol = NULL;
  g_autoptr(GPtrArray) history = NULL;
  JsonObject *content;
  const char *uid;
  gint64 deadline;
  GSList *uris;
  gboolean found = FALSE;

  soup_server_add_handler (soup, "/presence", on_presence, &endpoint, NULL);
  soup_server_listen_local (soup, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (soup);
  setting = g_strdup_printf ("presence-url=http://127.0.0.1:%d/presence", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  natter_test_server_free (fixture->server);
  fixture->server = natter_test_server_new_full (NULL, (const char * const[]) { "--app-setting", setting, NULL });

  argv = cli_argv (fixture, "bob", NULL);
  listener = spawn (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, listen_args);
  test_wait_cli_connected (listener);

  g_assert_cmpint (run_cli (fixture, "alice", NULL, &first_out, NULL,
                            (const char * const[]) { "send", "bob", "lunch at noon", "--expansion", NULL }), ==, 0);
  first = test_json_lines (first_out);
  uid = json_object_get_string_member (g_ptr_array_index (first, 0), "messageUId");

  /* The app server's endpoint hears alice come online. */
  deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  while (endpoint.online == 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE), g_usleep (10 * 1000);
  g_assert_cmpuint (endpoint.online, >=, 1);

  g_assert_cmpint (run_cli (fixture, "alice", NULL, NULL, NULL,
                            (const char * const[]) { "send", "bob", "or at one?", "--reply-to", uid, NULL }), ==, 0);
  g_assert_cmpint (run_cli (fixture, "alice", NULL, NULL, NULL,
                            (const char * const[]) { "react", uid, "👍", NULL }), ==, 0);
  g_assert_cmpint (run_cli (fixture, "alice", NULL, NULL, NULL,
                            (const char * const[]) { "edit", uid, "lunch at half past twelve", NULL }), ==, 0);
  g_assert_cmpint (run_cli (fixture, "alice", NULL, NULL, NULL,
                            (const char * const[]) { "forward", uid, "carol", NULL }), ==, 0);

  heard_out = read_stdout (listener);
  heard = test_json_lines (heard_out);
  g_assert_cmpuint (heard->len, ==, 4);
  g_assert_cmpstr (json_object_get_string_member (g_ptr_array_index (heard, 2), "objectName"), ==, "NT:ExpansionCmd");
  content = json_object_get_object_member (g_ptr_array_index (heard, 2), "content");
  g_assert_cmpstr (json_object_get_string_member (content, "messageUId"), ==, uid);
  /* 👍 is F0 9F 91 8D in UTF-8. */
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (content, "set"), "rf09f918d"),
                   ==, "[\"alice\"]");
  g_ptr_array_remove_index (heard, 2);
  g_assert_cmpstr (json_object_get_string_member (g_ptr_array_index (heard, 1), "objectName"), ==, "RC:ReferenceMsg");
  content = json_object_get_object_member (g_ptr_array_index (heard, 1), "content");
  g_assert_cmpstr (json_object_get_string_member (content, "referMsgUserId"), ==, "alice");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (content, "referMsg"), "content"),
                   ==, "lunch at noon");
  g_assert_false (json_object_has_member (json_object_get_object_member (content, "referMsg"), "expansion"));
  g_assert_cmpstr (json_object_get_string_member (g_ptr_array_index (heard, 2), "objectName"), ==, "NT:EditCmd");
  content = json_object_get_object_member (g_ptr_array_index (heard, 2), "content");
  g_assert_cmpstr (json_object_get_string_member (content, "messageUId"), ==, uid);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (content, "content"), "content"),
                   ==, "lunch at half past twelve");

  g_assert_cmpint (run_cli (fixture, "carol", NULL, &carol_out, NULL,
                            (const char * const[]) { "history", "alice", NULL }), ==, 0);
  carol = test_json_lines (carol_out);
  g_assert_cmpuint (carol->len, ==, 1);
  content = json_object_get_object_member (g_ptr_array_index (carol, 0), "content");
  g_assert_cmpstr (json_object_get_string_member (content, "content"), ==, "lunch at half past twelve");
  g_assert_false (json_object_has_member (content, "editedTime"));
  /* a new message: alice's 👍 stays on the original */
  g_assert_cmpuint (json_object_get_size (json_object_get_object_member (content, "expansion")), ==, 0);

  g_assert_cmpint (run_cli (fixture, "alice", NULL, &history_out, NULL,
                            (const char * const[]) { "history", "bob", NULL }), ==, 0);
  history = test_json_lines (history_out);
  for (guint i = 0; i < history->len; i++)
    if (g_strcmp0 (json_object_get_string_member (g_ptr_array_index (history, i), "messageUId"), uid) == 0)
      {
        content = json_object_get_object_member (g_ptr_array_index (history, i), "content");
        g_assert_cmpstr (json_object_get_string_member (content, "content"), ==, "lunch at half past twelve");
        g_assert_true (json_object_has_member (content, "editedTime"));
        found = TRUE;
      }
  g_assert_true (found);
}

static void
test_exit_codes (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autofree char *err = NULL;
  g_autoptr(JsonObject) reply = NULL;

  /* Usage. */
  g_assert_cmpint (run_cli (fixture, "alice", NULL, NULL, NULL, (const char * const[]) { "frobnicate", NULL }), ==, 2);
  g_assert_cmpint (run_cli (fixture, "alice", NULL, NULL, NULL, (const char * const[]) { "send", "bob", NULL }), ==, 2);
  g_assert_cmpint (run_cli (fixture, "alice", NULL, NULL, NULL,
                            (const char * const[]) { "send", "bob", "x", "--type", "nonsense", NULL }), ==, 2);

  /* A bad token: refused with its code, no retrying. */
  g_assert_cmpint (run_cli (fixture, "alice", "bad-token", NULL, &err,
                            (const char * const[]) { "listen", NULL }), ==, 3);
  g_assert_nonnull (strstr (err, "31004"));
  g_clear_pointer (&err, g_free);

  /* Refused by the server: gagged in a group. */
  reply = natter_test_server_api (fixture->server, NULL, "group/create", "userId", "alice", "userId", "bob",
                                  "groupId", "team", "groupName", "Team", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_clear_pointer (&reply, json_object_unref);
  reply = natter_test_server_api (fixture->server, NULL, "group/user/gag/add", "userId", "alice",
                                  "groupId", "team", "minute", "5", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_assert_cmpint (run_cli (fixture, "alice", NULL, NULL, &err,
                            (const char * const[]) { "send", "team", "hi", "--type", "group", NULL }), ==, 5);
  g_assert_nonnull (strstr (err, "22408"));
  g_clear_pointer (&err, g_free);

  /* Kicked by another login of the same user: 4. */
  {
    g_autoptr(GPtrArray) argv = cli_argv (fixture, "dave", NULL);
    g_autoptr(GSubprocess) listener = spawn (argv, G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                             (const char * const[]) { "-v", "listen", NULL });
    g_autoptr(GError) error = NULL;
    g_autofree char *token = natter_test_server_get_token (fixture->server, "dave");

    test_wait_cli_connected (listener);
    /* Another profile: another device of dave's. */
    g_assert_cmpint (run_cli (fixture, "dave-laptop", token, NULL, NULL,
                              (const char * const[]) { "conversations", NULL }), ==, 0);
    g_subprocess_wait (listener, NULL, &error);
    g_assert_no_error (error);
    g_assert_true (g_subprocess_get_if_exited (listener));
    g_assert_cmpint (g_subprocess_get_exit_status (listener), ==, 4);
  }

  /* natterd cannot store files for now (its media directory is in the
   * way): unavailable, the file waits in the outbox, and sync sends it. */
  {
    g_autofree char *media_dir = g_build_filename (natter_test_server_get_data_dir (fixture->server), "media", NULL);
    g_autofree char *tmp_dir = g_build_filename (media_dir, "tmp", NULL);
    g_autofree char *path = g_build_filename (fixture->dir, "minutes.txt", NULL);
    g_autofree char *history_out = NULL;
    g_autoptr(GPtrArray) history = NULL;

    g_file_set_contents (path, "minutes of the meeting\n", -1, NULL);
    g_rmdir (tmp_dir);
    g_assert_cmpint (g_mkdir_with_parents (media_dir, 0700), ==, 0);
    g_assert_true (g_file_set_contents (tmp_dir, "in the way", -1, NULL));
    g_assert_cmpint (run_cli (fixture, "erin", NULL, NULL, &err,
                              (const char * const[]) { "send", "bob", "--file", path, NULL }), ==, 6);
    g_assert_nonnull (strstr (err, "outbox"));
    g_clear_pointer (&err, g_free);

    g_assert_cmpint (g_unlink (tmp_dir), ==, 0);
    g_assert_cmpint (run_cli (fixture, "erin", NULL, NULL, NULL, (const char * const[]) { "sync", NULL }), ==, 0);
    g_assert_cmpint (run_cli (fixture, "bob", NULL, &history_out, NULL,
                              (const char * const[]) { "history", "erin", NULL }), ==, 0);
    history = test_json_lines (history_out);
    g_assert_cmpuint (history->len, ==, 1);
    g_assert_cmpstr (json_object_get_string_member (g_ptr_array_index (history, 0), "objectName"), ==, "RC:FileMsg");
    g_assert_true (g_str_has_prefix (json_object_get_string_member (
                     json_object_get_object_member (g_ptr_array_index (history, 0), "content"), "fileUrl"), "http://"));
  }

  /* No server: unavailable, and the message waits in the outbox. */
  natter_test_server_stop (fixture->server);
  g_assert_cmpint (run_cli (fixture, "carol", "any-token", NULL, &err,
                            (const char * const[]) { "--timeout", "2", "send", "bob", "later", NULL }), ==, 6);
  g_assert_nonnull (strstr (err, "outbox"));
  g_clear_pointer (&err, g_free);
  /* A status-only one has no outbox: it gives up after the timeout. */
  g_assert_cmpint (run_cli (fixture, "carol", "any-token", NULL, &err,
                            (const char * const[]) { "--timeout", "2", "send", "bob", "--object-name", "RC:TypSts",
                                                     "--content", "{}", NULL }), ==, 6);
  g_assert_null (strstr (err, "outbox"));
  g_assert_nonnull (strstr (err, "not sent"));
  g_clear_pointer (&err, g_free);
  natter_test_server_restart (fixture->server);
}

static int
outbox_rows (const char *db_path)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  int rows = -1;

  if (sqlite3_open_v2 (db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
    {
      sqlite3_close (db);
      return -1;
    }
  sqlite3_busy_timeout (db, 1000);
  if (sqlite3_prepare_v2 (db, "SELECT COUNT (*) FROM messages WHERE sent_status = 10", -1, &stmt, NULL) == SQLITE_OK &&
      sqlite3_step (stmt) == SQLITE_ROW)
    rows = sqlite3_column_int (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return rows;
}

static void
test_outbox_sigkill (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autofree char *alice_token = natter_test_server_get_token (fixture->server, "alice");
  g_autofree char *db_path = g_build_filename (fixture->dir, "alice", "natter.db", NULL);
  g_autoptr(GPtrArray) argv = NULL;
  g_autoptr(GSubprocess) sender = NULL;
  g_autofree char *heard_out = NULL;
  g_autoptr(GPtrArray) heard = NULL;
  g_autofree char *history_out = NULL;
  g_autoptr(GPtrArray) history = NULL;
  guint survivors = 0;

  /* Alice's profile exists and knows who she is. */
  g_assert_cmpint (run_cli (fixture, "alice", alice_token, NULL, NULL,
                            (const char * const[]) { "send", "bob", "before", NULL }), ==, 0);

  natter_test_server_stop (fixture->server);

  /* Sending with the server down: stored SENDING, then killed hard. */
  argv = cli_argv (fixture, "alice", alice_token);
  sender = spawn (argv, G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                  (const char * const[]) { "--timeout", "60", "send", "bob", "survivor", NULL });
  for (int i = 0; i < 200 && outbox_rows (db_path) < 1; i++)
    g_usleep (50 * 1000);
  g_assert_cmpint (outbox_rows (db_path), ==, 1);
  g_subprocess_send_signal (sender, SIGKILL);
  g_subprocess_wait (sender, NULL, NULL);
  g_assert_false (g_subprocess_get_if_exited (sender));

  /* Back up: the next run sends it, with the same client_msg_id, once. */
  natter_test_server_restart (fixture->server);
  g_assert_cmpint (run_cli (fixture, "alice", alice_token, NULL, NULL, (const char * const[]) { "sync", NULL }), ==, 0);
  g_assert_cmpint (outbox_rows (db_path), ==, 0);
  g_assert_cmpint (run_cli (fixture, "alice", alice_token, NULL, NULL, (const char * const[]) { "sync", NULL }), ==, 0);

  g_assert_cmpint (run_cli (fixture, "bob", NULL, &heard_out, NULL,
                            (const char * const[]) { "listen", "--duration", "2", NULL }), ==, 0);
  heard = test_json_lines (heard_out);
  g_assert_cmpuint (heard->len, ==, 2);
  for (guint i = 0; i < heard->len; i++)
    {
      JsonObject *message = g_ptr_array_index (heard, i);

      g_assert_true (json_object_get_boolean_member (message, "offLineMessage"));
      if (g_strcmp0 (json_object_get_string_member (json_object_get_object_member (message, "content"), "content"),
                     "survivor") == 0)
        survivors++;
    }
  g_assert_cmpuint (survivors, ==, 1);

  /* The server's history has it once too. */
  g_assert_cmpint (run_cli (fixture, "bob", NULL, &history_out, NULL,
                            (const char * const[]) { "history", "alice", NULL }), ==, 0);
  history = test_json_lines (history_out);
  g_assert_cmpuint (history->len, ==, 2);
}

static void
test_commands (Fixture       *fixture,
               gconstpointer  data)
{
  g_autofree char *out = NULL;
  g_autoptr(GPtrArray) lines = NULL;
  JsonObject *last;

  for (int i = 0; i < 3; i++)
    {
      g_autofree char *text = g_strdup_printf ("note %d about the quarterly release", i);

      g_assert_cmpint (run_cli (fixture, "alice", NULL, NULL, NULL,
                                (const char * const[]) { "send", "bob", text, NULL }), ==, 0);
    }
  g_assert_cmpint (run_cli (fixture, "carol", NULL, NULL, NULL,
                            (const char * const[]) { "send", "bob", "lunch?", NULL }), ==, 0);

  /* conversations: from the server, newest first, with unread counts. */
  g_assert_cmpint (run_cli (fixture, "bob", NULL, &out, NULL, (const char * const[]) { "conversations", NULL }), ==, 0);
  lines = test_json_lines (out);
  g_assert_cmpuint (lines->len, ==, 2);
  g_assert_cmpstr (json_object_get_string_member (g_ptr_array_index (lines, 0), "targetId"), ==, "carol");
  g_assert_cmpint (json_object_get_int_member (g_ptr_array_index (lines, 1), "unreadMessageCount"), ==, 3);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&lines, g_ptr_array_unref);

  /* history: oldest first; --count pages. */
  g_assert_cmpint (run_cli (fixture, "bob", NULL, &out, NULL,
                            (const char * const[]) { "history", "alice", "--count", "2", NULL }), ==, 0);
  lines = test_json_lines (out);
  g_assert_cmpuint (lines->len, ==, 2);
  last = g_ptr_array_index (lines, 1);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (last, "content"), "content"),
                   ==, "note 2 about the quarterly release");

  /* --before pages further back: older than the oldest of that page. */
  {
    g_autofree char *before = g_strdup_printf ("%" G_GINT64_FORMAT,
                                               json_object_get_int_member (g_ptr_array_index (lines, 0), "sentTime"));
    g_autofree char *older_out = NULL;
    g_autoptr(GPtrArray) older = NULL;

    g_assert_cmpint (run_cli (fixture, "bob", NULL, &older_out, NULL,
                              (const char * const[]) { "history", "alice", "--before", before, "--count", "5",
                                                       NULL }), ==, 0);
    older = test_json_lines (older_out);
    g_assert_cmpuint (older->len, ==, 1);
    g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (g_ptr_array_index (older, 0),
                                                                                   "content"), "content"),
                     ==, "note 0 about the quarterly release");
    /* Outside 2..20: usage. */
    g_assert_cmpint (run_cli (fixture, "bob", NULL, NULL, NULL,
                              (const char * const[]) { "history", "alice", "--count", "1", NULL }), ==, 2);
  }
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&lines, g_ptr_array_unref);

  /* search: the local store (history above stored the messages). */
  g_assert_cmpint (run_cli (fixture, "bob", NULL, &out, NULL,
                            (const char * const[]) { "search", "quarterly", NULL }), ==, 0);
  lines = test_json_lines (out);
  g_assert_cmpuint (lines->len, >=, 2);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&lines, g_ptr_array_unref);

  /* send --file: uploaded, then an RC:FileMsg with its URL. */
  {
    g_autofree char *path = g_build_filename (fixture->dir, "notes.txt", NULL);
    JsonObject *content;

    g_file_set_contents (path, "meeting notes\n", -1, NULL);
    g_assert_cmpint (run_cli (fixture, "alice", NULL, &out, NULL,
                              (const char * const[]) { "send", "bob", "--file", path, NULL }), ==, 0);
    lines = test_json_lines (out);
    g_assert_cmpuint (lines->len, ==, 1);
    g_assert_cmpstr (json_object_get_string_member (g_ptr_array_index (lines, 0), "objectName"), ==, "RC:FileMsg");
    content = json_object_get_object_member (g_ptr_array_index (lines, 0), "content");
    g_assert_cmpstr (json_object_get_string_member (content, "name"), ==, "notes.txt");
    g_assert_cmpint (json_object_get_int_member (content, "size"), ==, 14);
    g_assert_true (g_str_has_prefix (json_object_get_string_member (content, "fileUrl"), "http://127.0.0.1:"));
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&lines, g_ptr_array_unref);
  }

  /* send --image: a JPEG thumbnail inline, the original uploaded. */
  {
    g_autofree char *path = g_build_filename (fixture->dir, "photo.png", NULL);
    g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 320, 200);
    JsonObject *content;

    for (int i = 0; i < 320 * 200; i++)
      {
        guchar *p = gdk_pixbuf_get_pixels (pixbuf) + (i / 320) * gdk_pixbuf_get_rowstride (pixbuf) + (i % 320) * 3;

        p[0] = i % 251, p[1] = i % 97, p[2] = 40;
      }
    g_assert_true (gdk_pixbuf_save (pixbuf, path, "png", NULL, NULL));
    g_assert_cmpint (run_cli (fixture, "alice", NULL, &out, NULL,
                              (const char * const[]) { "send", "bob", "--image", path, NULL }), ==, 0);
    lines = test_json_lines (out);
    g_assert_cmpuint (lines->len, ==, 1);
    g_assert_cmpstr (json_object_get_string_member (g_ptr_array_index (lines, 0), "objectName"), ==, "RC:ImgMsg");
    g_assert_cmpint (json_object_get_int_member (g_ptr_array_index (lines, 0), "sentStatus"), ==, 30);
    content = json_object_get_object_member (g_ptr_array_index (lines, 0), "content");
    g_assert_true (g_str_has_prefix (json_object_get_string_member (content, "content"), "/9j/"));
    g_assert_true (g_str_has_prefix (json_object_get_string_member (content, "imageUri"), "http://127.0.0.1:"));
    g_assert_false (json_object_has_member (content, "localPath"));
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&lines, g_ptr_array_unref);

    /* Not an image: a local failure, nothing sent. */
    g_file_set_contents (path, "not an image", -1, NULL);
    g_assert_cmpint (run_cli (fixture, "alice", NULL, NULL, NULL,
                              (const char * const[]) { "send", "bob", "--image", path, NULL }), ==, 1);
  }

  /* join-chatroom: recent messages (oldest first), then the room. */
  g_assert_cmpint (run_cli (fixture, "alice", NULL, &out, NULL,
                            (const char * const[]) { "join-chatroom", "hall", "--count", "-1", NULL }), ==, 0);
  g_clear_pointer (&out, g_free);
  for (int i = 0; i < 3; i++)
    {
      g_autofree char *text = g_strdup_printf ("hall %d", i);

      g_assert_cmpint (run_cli (fixture, "alice", NULL, NULL, NULL,
                                (const char * const[]) { "send", "hall", text, "--type", "chatroom", NULL }), ==, 0);
    }
  g_assert_cmpint (run_cli (fixture, "bob", NULL, &out, NULL,
                            (const char * const[]) { "join-chatroom", "hall", "--count", "2", NULL }), ==, 0);
  lines = test_json_lines (out);
  g_assert_cmpuint (lines->len, ==, 3);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (g_ptr_array_index (lines, 0),
                                                                                 "content"), "content"), ==, "hall 1");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (g_ptr_array_index (lines, 1),
                                                                                 "content"), "content"), ==, "hall 2");
  g_assert_cmpint (json_object_get_int_member (g_ptr_array_index (lines, 1), "conversationType"), ==, 4);
  last = g_ptr_array_index (lines, lines->len - 1);
  g_assert_cmpstr (json_object_get_string_member (last, "chatroomId"), ==, "hall");
  g_assert_cmpint (json_object_get_int_member (last, "memberCount"), ==, 2);
  g_assert_cmpint (json_object_get_int_member (last, "messageCount"), ==, 2);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&lines, g_ptr_array_unref);

  /* A chatroom that nobody joined: refused with its code. */
  g_assert_cmpint (run_cli (fixture, "alice", NULL, NULL, &out,
                            (const char * const[]) { "send", "nohall", "x", "--type", "chatroom", NULL }), ==, 5);
  g_assert_nonnull (strstr (out, "23410"));
}

/* ---------------------------------------------------- token from an app server */

/* An app server on its own thread and main context: natter-cli runs as a
 * subprocess that the test waits for. */
typedef struct {
  char *token;                  /* erin's, from natterd */
  GMainContext *context;
  GMainLoop *loop;
  GThread *thread;
  guint16 port;
  GMutex lock;
  GCond cond;
} AppServer;

static void
app_server_cb (SoupServer        *soup_server,
               SoupServerMessage *msg,
               const char        *path,
               GHashTable        *query,
               gpointer           user_data)
{
  AppServer *app = user_data;
  g_autoptr(GBytes) body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  g_autoptr(GHashTable) form = soup_form_decode (g_bytes_get_data (body, NULL));
  const char *user = g_hash_table_lookup (form, "userId");
  g_autofree char *reply = NULL;

  /* What an app server does: its own users only, the token from natterd. */
  if (g_strcmp0 (user, "erin") == 0)
    {
      reply = g_strdup_printf ("{\"code\":200,\"userId\":\"erin\",\"token\":\"%s\"}", app->token);
      soup_server_message_set_status (msg, 200, NULL);
    }
  else
    {
      reply = g_strdup ("{\"code\":1002,\"errorMessage\":\"no such user here\"}");
      soup_server_message_set_status (msg, 400, NULL);
    }
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, reply, strlen (reply));
}

static gpointer
app_server_thread (gpointer data)
{
  AppServer *app = data;
  g_autoptr(SoupServer) server = NULL;
  g_autoptr(GError) error = NULL;
  GSList *uris;

  g_main_context_push_thread_default (app->context);
  server = soup_server_new (NULL, NULL);
  soup_server_add_handler (server, "/login", app_server_cb, app, NULL);
  soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (server);
  g_mutex_lock (&app->lock);
  app->port = (guint16) g_uri_get_port (uris->data);
  g_cond_signal (&app->cond);
  g_mutex_unlock (&app->lock);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  g_main_loop_run (app->loop);
  soup_server_disconnect (server);
  g_main_context_pop_thread_default (app->context);
  return NULL;
}

static void
test_token_url (Fixture       *fixture,
                gconstpointer  data)
{
  AppServer app = { 0 };
  g_autofree char *url = NULL;
  g_autoptr(GPtrArray) lines = NULL;

  app.token = natter_test_server_get_token (fixture->server, "erin");
  app.context = g_main_context_new ();
  app.loop = g_main_loop_new (app.context, FALSE);
  g_mutex_init (&app.lock);
  g_cond_init (&app.cond);
  app.thread = g_thread_new ("app-server", app_server_thread, &app);
  g_mutex_lock (&app.lock);
  while (app.port == 0)
    g_cond_wait (&app.cond, &app.lock);
  g_mutex_unlock (&app.lock);
  url = g_strdup_printf ("http://127.0.0.1:%u/login", app.port);

  for (guint round = 0; round < 2; round++)
    {
      const char *user = round == 0 ? "erin" : "frank";
      g_autofree char *profile = g_build_filename (fixture->dir, user, NULL);
      g_autoptr(GSubprocess) process = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;

      process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                                  natter_test_program ("NATTER_CLI"),
                                  "--server", natter_test_server_get_url (fixture->server),
                                  "--app-key", natter_test_server_get_app_key (fixture->server),
                                  "--token-url", url, "--user", user, "--profile", profile,
                                  "send", "bob", "signed in through the app server", NULL);
      g_assert_no_error (error);
      g_subprocess_communicate_utf8 (process, NULL, NULL, &out, &err, &error);
      g_assert_no_error (error);

      if (round == 0)
        {
          /* The token works: the message is erin's. */
          g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 0);
          lines = test_json_lines (out);
          g_assert_cmpuint (lines->len, ==, 1);
          g_assert_cmpstr (json_object_get_string_member (g_ptr_array_index (lines, 0), "senderUserId"), ==, "erin");
          g_assert_cmpint (json_object_get_int_member (g_ptr_array_index (lines, 0), "sentStatus"), ==, 30);
        }
      else
        {
          /* The app server refuses frank: a refused login, with its code. */
          g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 3);
          g_assert_nonnull (strstr (err, "1002"));
        }
    }

  g_main_loop_quit (app.loop);
  g_thread_join (app.thread);
  g_main_loop_unref (app.loop);
  g_main_context_unref (app.context);
  g_mutex_clear (&app.lock);
  g_cond_clear (&app.cond);
  g_free (app.token);
}

/* A non-loopback http:// server: a warning on stderr (the token crosses
 * the network readable); a loopback one: none. 0.0.0.0 is not loopback,
 * and connecting to it stays on this machine. */
static void
test_unencrypted_warning (Fixture       *fixture,
                          gconstpointer  data)
{
  g_autofree char *err = NULL;
  g_autofree char *profile = g_build_filename (fixture->dir, "remote", NULL);
  const char *argv[] = { natter_test_program ("NATTER_CLI"), "--server", "http://0.0.0.0:1",
                         "--app-key", "key", "--token", "token", "--profile", profile,
                         "--timeout", "2", "sync", NULL };
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;

  process = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                               &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, NULL, &err, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (err, "warning: http://0.0.0.0:1 is not encrypted"));
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (run_cli (fixture, "alice", NULL, NULL, &err, (const char * const[]) { "sync", NULL }), ==, 0);
  g_assert_null (strstr (err, "not encrypted"));
}

/* Group messages come from the group's timeline (natter.v2), not the
 * inbox: listen prints those sent while away, once each, and the unread
 * count the cli prints is theirs, until they are read. */
static void
test_group_timeline (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(JsonObject) reply = NULL;
  g_autofree char *out = NULL;
  g_autoptr(GPtrArray) lines = NULL;
  JsonObject *team = NULL;

  reply = natter_test_server_api (fixture->server, NULL, "group/create", "userId", "alice", "userId", "bob",
                                  "groupId", "team", "groupName", "Team", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_assert_cmpint (run_cli (fixture, "bob", NULL, NULL, NULL, (const char * const[]) { "sync", NULL }), ==, 0);

  for (int i = 0; i < 3; i++)
    {
      g_autofree char *text = g_strdup_printf ("group note %d", i);

      g_assert_cmpint (run_cli (fixture, "alice", NULL, NULL, NULL,
                                (const char * const[]) { "send", "team", text, "--type", "group", NULL }), ==, 0);
    }

  g_assert_cmpint (run_cli (fixture, "bob", NULL, &out, NULL,
                            (const char * const[]) { "listen", "--count", "3", "--duration", "20", NULL }), ==, 0);
  lines = test_json_lines (out);
  g_assert_cmpuint (lines->len, ==, 3);
  for (guint i = 0; i < lines->len; i++)
    {
      g_autofree char *text = g_strdup_printf ("group note %u", i);
      JsonObject *message = g_ptr_array_index (lines, i);

      g_assert_cmpstr (json_object_get_string_member (message, "targetId"), ==, "team");
      g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (message, "content"),
                                                      "content"), ==, text);
    }
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&lines, g_ptr_array_unref);

  g_assert_cmpint (run_cli (fixture, "bob", NULL, &out, NULL,
                            (const char * const[]) { "conversations", NULL }), ==, 0);
  lines = test_json_lines (out);
  for (guint i = 0; i < lines->len; i++)
    if (g_strcmp0 (json_object_get_string_member (g_ptr_array_index (lines, i), "targetId"), "team") == 0)
      team = g_ptr_array_index (lines, i);
  g_assert_nonnull (team);
  g_assert_cmpint (json_object_get_int_member (team, "unreadMessageCount"), ==, 3);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&lines, g_ptr_array_unref);

  /* Read: 0 here, and on the server (a fresh profile syncs it). */
  g_assert_cmpint (run_cli (fixture, "bob", NULL, NULL, NULL,
                            (const char * const[]) { "clear-unread", "team", "--type", "group", NULL }), ==, 0);
  g_assert_cmpint (run_cli (fixture, "bob", NULL, &out, NULL,
                            (const char * const[]) { "conversations", "--local", NULL }), ==, 0);
  g_assert_nonnull (strstr (out, "\"unreadMessageCount\":0"));
  g_assert_null (strstr (out, "\"unreadMessageCount\":3"));
}

/* --server A,B: with node A SIGKILLed, natter-cli sends over B and alice
 * (on B) receives it once; a bad URL in the list is a usage error that
 * names it. Two nodes of one service are two natterd on copies of a data
 * dir until the cluster layer is there. */
static void
test_server_list (Fixture       *fixture,
                  gconstpointer  data)
{
  /* Both users exist on A before B is copied from it. */
  g_autofree char *alice_token = natter_test_server_get_token (fixture->server, "alice");
  g_autofree char *bob_token = natter_test_server_get_token (fixture->server, "bob");
  g_autoptr(NatterTestServer) b = NULL;
  g_autofree char *list = NULL;
  g_autofree char *bad = NULL;
  g_autofree char *err = NULL;
  g_autofree char *out = NULL;
  g_autoptr(GPtrArray) sent = NULL;
  Peer *alice;

  natter_test_server_stop (fixture->server);
  b = natter_test_server_new_copy (fixture->server, NULL);
  natter_test_server_restart (fixture->server);
  list = g_strdup_printf ("%s,%s", natter_test_server_get_url (fixture->server),
                          natter_test_server_get_url (b));

  alice = peer_new_for_url (b, "alice", natter_test_server_get_url (b));
  peer_connect (alice);

  bad = g_strdup_printf ("%s,htp:/nowhere", natter_test_server_get_url (b));
  g_assert_cmpint (run_cli (fixture, "bob", bob_token, NULL, &err,
                            (const char * const[]) { "--server", bad, "send", "alice", "never sent", NULL }),
                   ==, 2);
  g_assert_nonnull (strstr (err, "htp:/nowhere"));

  natter_test_server_kill (fixture->server);
  g_assert_cmpint (run_cli (fixture, "bob", bob_token, &out, NULL,
                            (const char * const[]) { "--server", list, "send", "alice", "over B", NULL }),
                   ==, 0);
  sent = test_json_lines (out);
  g_assert_cmpuint (sent->len, ==, 1);

  peer_wait_received (alice, 1);
  test_spin (1000);
  g_assert_cmpuint (peer_count_received (alice, TRUE), ==, 1);
  g_assert_cmpstr (natter_message_get_message_uid (g_ptr_array_index (alice->received, 0)), ==,
                   json_object_get_string_member (g_ptr_array_index (sent, 0), "messageUId"));
  peer_free (alice, FALSE);
}

/* #16: send --mention / --mention-all carry mentionedInfo and bob's
 * conversation gets the "@" mark; send --receipt asks the group, bob and
 * carol answer with send-receipts and alice, listening with --all, gets
 * both RC:RRRspMsg; clear-history empties alice's server history of the
 * group while bob's stays. */
static JsonObject *
conversation_line (GPtrArray  *lines,
                   const char *target_id)
{
  for (guint i = 0; i < lines->len; i++)
    if (g_strcmp0 (json_object_get_string_member (g_ptr_array_index (lines, i), "targetId"), target_id) == 0)
      return g_ptr_array_index (lines, i);
  return NULL;
}

static void
test_mentions_receipts (Fixture       *fixture,
                        gconstpointer  data)
{
  const char * const listen_args[] = { "-v", "listen", "--all", "--count", "2", "--duration", "60", NULL };
  g_autoptr(JsonObject) reply = NULL;
  g_autoptr(GPtrArray) bob_argv = cli_argv (fixture, "bob", NULL);
  g_autoptr(GPtrArray) alice_argv = cli_argv (fixture, "alice", NULL);
  g_autoptr(GSubprocess) bob_listener = NULL;
  g_autoptr(GSubprocess) alice_listener = NULL;
  g_autofree char *out = NULL;
  g_autoptr(GPtrArray) lines = NULL;
  g_autofree char *uid = NULL;
  JsonObject *content, *info, *dic;

  reply = natter_test_server_api (fixture->server, NULL, "group/create", "userId", "alice", "userId", "bob",
                                  "userId", "carol", "groupId", "team", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_assert_cmpint (run_cli (fixture, "bob", NULL, NULL, NULL, (const char * const[]) { "sync", NULL }), ==, 0);
  bob_listener = spawn (bob_argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, listen_args);
  test_wait_cli_connected (bob_listener);

  g_assert_cmpint (run_cli (fixture, "alice", NULL, &out, NULL,
                            (const char * const[]) { "send", "team", "lunch @bob?", "--type", "group",
                                                     "--mention", "bob", "--receipt", NULL }), ==, 0);
  lines = test_json_lines (out);
  content = json_object_get_object_member (g_ptr_array_index (lines, 0), "content");
  info = json_object_get_object_member (content, "mentionedInfo");
  g_assert_cmpint (json_object_get_int_member (info, "type"), ==, 2);
  g_assert_cmpstr (json_array_get_string_element (json_object_get_array_member (info, "userIdList"), 0), ==, "bob");
  uid = g_strdup (json_object_get_string_member (g_ptr_array_index (lines, 0), "messageUId"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&lines, g_ptr_array_unref);

  /* bob hears the message, then the request for its receipt. */
  out = read_stdout (bob_listener);
  lines = test_json_lines (out);
  g_assert_cmpuint (lines->len, ==, 2);
  g_assert_cmpstr (json_object_get_string_member (g_ptr_array_index (lines, 1), "objectName"), ==, "RC:RRReqMsg");
  content = json_object_get_object_member (g_ptr_array_index (lines, 1), "content");
  g_assert_cmpstr (json_object_get_string_member (content, "messageUId"), ==, uid);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&lines, g_ptr_array_unref);

  /* The "@" mark in bob's list. */
  g_assert_cmpint (run_cli (fixture, "bob", NULL, &out, NULL,
                            (const char * const[]) { "conversations", "--local", NULL }), ==, 0);
  lines = test_json_lines (out);
  g_assert_nonnull (conversation_line (lines, "team"));
  g_assert_cmpint (json_object_get_int_member (conversation_line (lines, "team"), "mentionedCount"), ==, 1);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&lines, g_ptr_array_unref);

  /* bob and carol answer; alice, listening, gets both receipts. */
  alice_listener = spawn (alice_argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, listen_args);
  test_wait_cli_connected (alice_listener);
  g_assert_cmpint (run_cli (fixture, "bob", NULL, NULL, NULL,
                            (const char * const[]) { "send-receipts", "team", "--type", "group", NULL }), ==, 0);
  g_assert_cmpint (run_cli (fixture, "carol", NULL, NULL, NULL, (const char * const[]) { "sync", NULL }), ==, 0);
  g_assert_cmpint (run_cli (fixture, "carol", NULL, NULL, NULL,
                            (const char * const[]) { "send-receipts", "team", "--type", "group", NULL }), ==, 0);
  out = read_stdout (alice_listener);
  lines = test_json_lines (out);
  g_assert_cmpuint (lines->len, ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      JsonObject *line = g_ptr_array_index (lines, i);

      g_assert_cmpstr (json_object_get_string_member (line, "objectName"), ==, "RC:RRRspMsg");
      g_assert_cmpstr (json_object_get_string_member (line, "senderUserId"), ==, i == 0 ? "bob" : "carol");
      dic = json_object_get_object_member (json_object_get_object_member (line, "content"), "receiptMessageDic");
      g_assert_cmpstr (json_array_get_string_element (json_object_get_array_member (dic, "alice"), 0), ==, uid);
    }
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&lines, g_ptr_array_unref);

  g_assert_cmpint (run_cli (fixture, "alice", NULL, &out, NULL,
                            (const char * const[]) { "send", "team", "all hands", "--type", "group",
                                                     "--mention-all", NULL }), ==, 0);
  lines = test_json_lines (out);
  content = json_object_get_object_member (g_ptr_array_index (lines, 0), "content");
  info = json_object_get_object_member (content, "mentionedInfo");
  g_assert_cmpint (json_object_get_int_member (info, "type"), ==, 1);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&lines, g_ptr_array_unref);

  /* alice clears the group for herself: her server history is empty, bob's is not. */
  g_assert_cmpint (run_cli (fixture, "alice", NULL, NULL, NULL,
                            (const char * const[]) { "clear-history", "team", "--type", "group", NULL }), ==, 0);
  g_assert_cmpint (run_cli (fixture, "alice", NULL, &out, NULL,
                            (const char * const[]) { "history", "team", "--type", "group", NULL }), ==, 0);
  lines = test_json_lines (out);
  g_assert_cmpuint (lines->len, ==, 0);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&lines, g_ptr_array_unref);
  g_assert_cmpint (run_cli (fixture, "bob", NULL, &out, NULL,
                            (const char * const[]) { "history", "team", "--type", "group", NULL }), ==, 0);
  lines = test_json_lines (out);
  /* The two texts and the receipt request; the answers went to alice only. */
  g_assert_cmpuint (lines->len, ==, 3);
}

/* subscribe answers where the users are; listen --all prints each change
 * of a subscribed user as a JSON line among the messages (#16). */
static void
test_presence (Fixture       *fixture,
               gconstpointer  data)
{
  const char * const listen_args[] = { "-v", "listen", "--all", "--duration", "6", NULL };
  g_autofree char *carol_token = natter_test_server_get_token (fixture->server, "carol");
  g_autofree char *subscribed_out = NULL;
  g_autofree char *heard_out = NULL;
  g_autoptr(GPtrArray) argv = NULL;
  g_autoptr(GSubprocess) listener = NULL;
  g_autoptr(GPtrArray) lines = NULL;
  g_autoptr(GPtrArray) presence = g_ptr_array_new ();
  JsonObject *first, *second;

  g_assert_cmpint (run_cli (fixture, "bob", NULL, NULL, NULL, (const char * const[]) { "sync", NULL }), ==, 0);
  g_assert_cmpint (run_cli (fixture, "alice", NULL, &subscribed_out, NULL,
                            (const char * const[]) { "subscribe", "bob", "carol", "--expiry", "3600", NULL }), ==, 0);
  lines = test_json_lines (subscribed_out);
  g_assert_cmpuint (lines->len, ==, 1);
  g_assert_false (json_object_get_boolean_member (g_ptr_array_index (lines, 0), "bob"));
  g_assert_false (json_object_get_boolean_member (g_ptr_array_index (lines, 0), "carol"));
  g_clear_pointer (&lines, g_ptr_array_unref);

  argv = cli_argv (fixture, "alice", NULL);
  listener = spawn (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, listen_args);
  test_wait_cli_connected (listener);
  g_assert_cmpint (run_cli (fixture, "bob", NULL, NULL, NULL,
                            (const char * const[]) { "send", "alice", "hi", NULL }), ==, 0);

  heard_out = read_stdout (listener);
  g_assert_cmpint (g_subprocess_get_exit_status (listener), ==, 0);
  lines = test_json_lines (heard_out);
  for (guint i = 0; i < lines->len; i++)
    if (g_strcmp0 (json_object_get_string_member_with_default (g_ptr_array_index (lines, i), "event", NULL),
                   "presence") == 0)
      g_ptr_array_add (presence, g_ptr_array_index (lines, i));
  g_assert_cmpuint (presence->len, ==, 2);
  first = g_ptr_array_index (presence, 0);
  second = g_ptr_array_index (presence, 1);
  g_assert_cmpstr (json_object_get_string_member (first, "userId"), ==, "bob");
  g_assert_true (json_object_get_boolean_member (first, "online"));
  g_assert_cmpstr (json_object_get_string_member (first, "platform"), ==, "cli");
  g_assert_cmpint (json_object_get_int_member (first, "time"), >, 0);
  g_assert_cmpstr (json_object_get_string_member (second, "userId"), ==, "bob");
  g_assert_false (json_object_get_boolean_member (second, "online"));
  g_assert_false (json_object_get_boolean_member (second, "logout"));
  g_assert_cmpuint (lines->len, ==, 3);   /* and bob's message */
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/cli/send-listen", Fixture, NULL, fixture_set_up, test_send_listen, fixture_tear_down);
  g_test_add ("/cli/customer-service", Fixture, NULL, fixture_set_up, test_customer_service, fixture_tear_down);
  g_test_add ("/cli/presence", Fixture, NULL, fixture_set_up, test_presence, fixture_tear_down);
  g_test_add ("/cli/reply", Fixture, NULL, fixture_set_up, test_reply, fixture_tear_down);
  g_test_add ("/cli/forward", Fixture, NULL, fixture_set_up, test_forward, fixture_tear_down);
  g_test_add ("/cli/edit", Fixture, NULL, fixture_set_up, test_edit, fixture_tear_down);
  g_test_add ("/cli/edit-reply", Fixture, NULL, fixture_set_up, test_edit_reply, fixture_tear_down);
  g_test_add ("/cli/react-media", Fixture, NULL, fixture_set_up, test_react_media, fixture_tear_down);
  g_test_add ("/cli/bar", Fixture, NULL, fixture_set_up, test_bar, fixture_tear_down);
  g_test_add ("/cli/exit-codes", Fixture, NULL, fixture_set_up, test_exit_codes, fixture_tear_down);
  g_test_add ("/cli/outbox-sigkill", Fixture, NULL, fixture_set_up, test_outbox_sigkill, fixture_tear_down);
  g_test_add ("/cli/commands", Fixture, NULL, fixture_set_up, test_commands, fixture_tear_down);
  g_test_add ("/cli/group-timeline", Fixture, NULL, fixture_set_up, test_group_timeline, fixture_tear_down);
  g_test_add ("/cli/mentions-receipts", Fixture, NULL, fixture_set_up, test_mentions_receipts, fixture_tear_down);
  g_test_add ("/cli/token-url", Fixture, NULL, fixture_set_up, test_token_url, fixture_tear_down);
  g_test_add ("/cli/server-list", Fixture, NULL, fixture_set_up, test_server_list, fixture_tear_down);
  g_test_add ("/cli/unencrypted-warning", Fixture, NULL, fixture_set_up, test_unencrypted_warning,
              fixture_tear_down);

  return g_test_run ();
}
