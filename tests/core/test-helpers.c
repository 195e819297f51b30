/* test-helpers.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <string.h>

#include "test-helpers.h"

#include <glib/gstdio.h>

void
test_store_result_cb (GObject      *object,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  GAsyncResult **out = user_data;

  g_assert_null (*out);
  *out = g_object_ref (result);
}

static gboolean
timeout_cb (gpointer data)
{
  gboolean *expired = data;

  *expired = TRUE;
  return G_SOURCE_REMOVE;
}

GAsyncResult *
test_wait_result (GAsyncResult **result,
                  guint          timeout_s)
{
  gboolean expired = FALSE;
  guint id = g_timeout_add_seconds (timeout_s, timeout_cb, &expired);

  while (*result == NULL && !expired)
    g_main_context_iteration (NULL, TRUE);

  if (*result == NULL)
    g_error ("No result within %u s", timeout_s);

  g_source_remove (id);
  return *result;
}

void
test_wait_until (gboolean    (*condition) (gpointer data),
                 gpointer      data,
                 guint         timeout_s,
                 const char   *what)
{
  gboolean expired = FALSE;
  guint id = g_timeout_add_seconds (timeout_s, timeout_cb, &expired);

  while (!condition (data) && !expired)
    g_main_context_iteration (NULL, TRUE);

  if (!condition (data))
    g_error ("Timed out after %u s waiting for %s", timeout_s, what);

  g_source_remove (id);
}

void
test_spin (guint ms)
{
  gboolean expired = FALSE;
  guint id = g_timeout_add (ms, timeout_cb, &expired);

  while (!expired)
    g_main_context_iteration (NULL, TRUE);
  (void) id;
}

/* ------------------------------------------------ clients of a test natterd */

static void
peer_received_cb (NatterClient  *client,
                  NatterMessage *message,
                  Peer          *peer)
{
  g_ptr_array_add (peer->received, g_object_ref (message));
}

static void
peer_status_cb (NatterClient           *client,
                NatterConnectionStatus  status,
                NatterConnectionStatus  old_status,
                const GError           *error,
                Peer                   *peer)
{
  g_array_append_val (peer->statuses, status);
  if (error != NULL)
    {
      g_clear_error (&peer->last_error);
      peer->last_error = g_error_copy (error);
    }
}

char *
test_make_profile (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("natter-client-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

void
test_remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        test_remove_tree (child);
      else
        g_remove (child);
    }
  g_rmdir (path);
}

static Peer *
peer_new_full (NatterTestServer *server,
               const char       *user_id,
               const char       *server_url,
               const char       *profile)
{
  Peer *peer = g_new0 (Peer, 1);

  peer->user_id = g_strdup (user_id);
  peer->token = natter_test_server_get_token (server, user_id);
  peer->profile = profile ? g_strdup (profile) : test_make_profile ();
  peer->received = g_ptr_array_new_with_free_func (g_object_unref);
  peer->statuses = g_array_new (FALSE, FALSE, sizeof (NatterConnectionStatus));
  peer->client = natter_client_new (server_url, natter_test_server_get_app_key (server),
                                    peer->profile);
  g_signal_connect (peer->client, "message-received", G_CALLBACK (peer_received_cb), peer);
  g_signal_connect (peer->client, "status-changed", G_CALLBACK (peer_status_cb), peer);
  return peer;
}

/* A client for @user_id with its own profile (or @profile when given). */
Peer *
peer_new (NatterTestServer *server,
          const char       *user_id,
          const char       *profile)
{
  return peer_new_full (server, user_id, natter_test_server_get_url (server), profile);
}

Peer *
peer_new_for_url (NatterTestServer *server,
                  const char       *user_id,
                  const char       *server_url)
{
  return peer_new_full (server, user_id, server_url, NULL);
}

void
peer_free (Peer     *peer,
           gboolean  keep_profile)
{
  if (peer == NULL)
    return;
  g_signal_handlers_disconnect_by_data (peer->client, peer);
  natter_client_disconnect (peer->client);
  g_clear_object (&peer->client);
  /* Let the worker finish what is queued. */
  test_spin (50);
  if (!keep_profile)
    test_remove_tree (peer->profile);
  g_ptr_array_unref (peer->received);
  g_array_unref (peer->statuses);
  g_clear_error (&peer->last_error);
  g_free (peer->user_id);
  g_free (peer->token);
  g_free (peer->profile);
  g_free (peer);
}

typedef struct {
  NatterClient *client;
  NatterConnectionStatus status;
} StatusWait;

static gboolean
has_status (gpointer data)
{
  StatusWait *wait = data;

  return natter_client_get_status (wait->client) == wait->status;
}

void
test_wait_status (NatterClient           *client,
                  NatterConnectionStatus  status,
                  guint                   timeout_s,
                  const char             *what)
{
  StatusWait wait = { client, status };

  test_wait_until (has_status, &wait, timeout_s, what);
}

void
peer_wait_status (Peer                   *peer,
                  NatterConnectionStatus  status,
                  guint                   timeout_s)
{
  g_autofree char *what = g_strdup_printf ("%s to reach status %d", peer->user_id, status);

  test_wait_status (peer->client, status, timeout_s, what);
}

void
peer_connect (Peer *peer)
{
  natter_client_connect (peer->client, peer->token);
  peer_wait_status (peer, NATTER_CONNECTION_CONNECTED, 20);
}

gboolean
peer_caught_up (gpointer data)
{
  return natter_client_get_caught_up (((Peer *) data)->client);
}

gboolean
peer_got_typing (gpointer data)
{
  Peer *peer = data;

  for (guint i = 0; i < peer->received->len; i++)
    if (natter_message_get_kind (g_ptr_array_index (peer->received, i)) == NATTER_MESSAGE_KIND_TYPING)
      return TRUE;
  return FALSE;
}

typedef struct {
  Peer *peer;
  guint count;
  gboolean persisted_only;
} CountWait;

guint
peer_count_received (Peer     *peer,
                     gboolean  persisted_only)
{
  guint n = 0;

  for (guint i = 0; i < peer->received->len; i++)
    if (!persisted_only || natter_message_is_persisted (g_ptr_array_index (peer->received, i)))
      n++;
  return n;
}

static gboolean
received_enough (gpointer data)
{
  CountWait *wait = data;

  return peer_count_received (wait->peer, wait->persisted_only) >= wait->count;
}

void
peer_wait_received (Peer  *peer,
                    guint  count)
{
  CountWait wait = { peer, count, TRUE };
  g_autofree char *what = g_strdup_printf ("%s to receive %u messages", peer->user_id, count);

  test_wait_until (received_enough, &wait, 20, what);
}

NatterMessage *
peer_send_text (Peer                   *peer,
                NatterConversationType  type,
                const char             *target,
                const char             *text,
                GError                **error)
{
  g_autoptr(JsonObject) content = natter_content_new_text (text);
  g_autoptr(GAsyncResult) result = NULL;

  natter_client_send_message_async (peer->client, type, target, NATTER_OBJECT_TEXT, content, NULL,
                                    test_store_result_cb, &result);
  test_wait_result (&result, 20);
  return natter_client_send_message_finish (peer->client, result, error);
}

NatterMessage *
peer_send_ok (Peer       *peer,
              const char *target,
              const char *text)
{
  g_autoptr(GError) error = NULL;
  NatterMessage *message = peer_send_text (peer, NATTER_CONVERSATION_PRIVATE, target, text, &error);

  g_assert_no_error (error);
  g_assert_nonnull (natter_message_get_message_uid (message));
  g_assert_cmpint (natter_message_get_sent_status (message), ==, NATTER_SENT_STATUS_SENT);
  return message;
}

GPtrArray *
peer_store_page (Peer                   *peer,
                 NatterConversationType  type,
                 const char             *target,
                 guint                   limit)
{
  NatterStore *store = natter_client_get_store (peer->client);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *messages;

  natter_store_get_messages_async (store, type, target, 0, 0, limit, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  messages = natter_store_get_messages_finish (store, result, &error);
  g_assert_no_error (error);
  return messages;
}

NatterConversation *
peer_store_conversation (Peer                   *peer,
                         NatterConversationType  type,
                         const char             *target)
{
  NatterStore *store = natter_client_get_store (peer->client);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  NatterConversation *conversation;

  natter_store_get_conversation_async (store, type, target, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  conversation = natter_store_get_conversation_finish (store, result, &error);
  g_assert_no_error (error);
  return conversation;
}

GBytes *
test_file_bytes (GFile *file)
{
  g_autoptr(GError) error = NULL;
  GBytes *bytes = g_file_load_bytes (file, NULL, NULL, &error);

  g_assert_no_error (error);
  return bytes;
}

GPtrArray *
test_json_lines (const char *text)
{
  GPtrArray *objects = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr(JsonParser) parser = json_parser_new ();
      g_autoptr(GError) error = NULL;

      if (*lines[i] == '\0')
        continue;
      json_parser_load_from_data (parser, lines[i], -1, &error);
      g_assert_no_error (error);
      g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
      g_ptr_array_add (objects, json_object_ref (json_node_get_object (json_parser_get_root (parser))));
    }
  return objects;
}

void
test_wait_cli_connected (GSubprocess *process)
{
  g_autoptr(GDataInputStream) lines = g_data_input_stream_new (g_subprocess_get_stderr_pipe (process));

  g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (lines), FALSE);
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *line = g_data_input_stream_read_line_utf8 (lines, NULL, NULL, &error);

      g_assert_no_error (error);
      g_assert_nonnull (line);
      if (strstr (line, "status 0") != NULL)
        return;
    }
}
