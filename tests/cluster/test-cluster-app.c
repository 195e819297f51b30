/* test-cluster-app.c — the app signed in with "URL1,URL2" on two natterd
 * nodes (PostgreSQL + NATS): the node it uses is SIGKILLed, it moves to
 * the other, and a message sent meanwhile from the outbox reaches its
 * peer exactly once. Run under Xvfb with the cluster suite.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "test-cluster-common.h"

#include "natter-client.h"
#include "natter-test-ui.h"

static gboolean
uses_node (gpointer data)
{
  NatterTestUi *ui = data;
  NatterClient *client = natter_window_get_client (ui->window);

  return client != NULL && natter_client_get_status (client) == NATTER_CONNECTION_CONNECTED &&
         g_strcmp0 (natter_client_get_current_server_url (client), natter_test_server_get_url (ui->server)) == 0;
}

/* The composer's @text, sent in the open chat (no main loop run). */
static void
send_text (NatterTestUi *ui,
           const char   *text)
{
  NatterComposer *composer = natter_chat_view_get_composer (ui->chat);

  natter_composer_set_text (composer, text);
  natter_composer_send (composer);
}

/* How many of bob's messages on @node (replayed from seq 0) hold @text. */
static guint
count_in_inbox (NatterTestServer *node,
                const char       *token,
                const char       *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterTestClient) bob = natter_test_client_open (node, &error);
  guint n = 0;

  g_assert_no_error (error);
  g_assert_cmpint (natter_test_client_connect (bob, natter_test_server_get_app_key (node), token, "replay", 0), ==, 0);
  for (;;)
    {
      g_autoptr(NatterFrame) got = natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER, 3000);

      if (got == NULL)
        break;
      if (strstr (got->deliver->message->content, text) != NULL)
        n++;
    }
  return n;
}

static void
test_app_fails_over (void)
{
  g_autoptr(ClusterPair) pair = cluster_pair_new (NULL, NULL);
  g_autofree char *alice = natter_test_server_get_token (pair->a, "alice");
  g_autofree char *bob = natter_test_server_get_token (pair->a, "bob");
  g_autofree char *both = g_strdup_printf ("%s,%s", natter_test_server_get_url (pair->a),
                                           natter_test_server_get_url (pair->b));
  g_autofree char *dir = g_dir_make_tmp ("natter-cluster-app-XXXXXX", NULL);
  g_autofree char *profile = g_build_filename (dir, "alice", NULL);
  GListModel *toplevels = gtk_window_get_toplevels ();
  NatterTestUi ui = { .server = pair->a, .dir = dir, .profile = profile };

  natter_test_ui_open (&ui, profile);
  natter_test_ui_sign_in_with_form (&ui, both, alice);
  natter_test_ui_wait_for_page (ui.window, "main");
  natter_test_ui_wait_until (uses_node, &ui, "alice connected to a, the first URL");
  natter_window_open_conversation (ui.window, NATTER_CONVERSATION_PRIVATE, "bob", 0);
  send_text (&ui, "Through a");
  natter_test_ui_wait_until (natter_test_ui_last_sent, ui.window, "the message through a acked");

  /* Sent before the app noticed a is gone: it waits in the outbox (or
   * went to a dead socket, unacked) and goes again through b. */
  natter_test_server_kill (pair->a);
  send_text (&ui, "While a is gone");
  ui.server = pair->b;
  natter_test_ui_wait_until (uses_node, &ui, "alice moved to b");
  natter_test_ui_wait_until (natter_test_ui_last_sent, ui.window, "the outbox's message acked through b");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui.chat), "While a is gone");

  /* bob's inbox, as b replays it: each once. */
  g_assert_cmpuint (count_in_inbox (pair->b, bob, "Through a"), ==, 1);
  g_assert_cmpuint (count_in_inbox (pair->b, bob, "While a is gone"), ==, 1);

  for (guint i = g_list_model_get_n_items (toplevels); i > 0; i--)
    {
      g_autoptr(GtkWidget) w = g_list_model_get_item (toplevels, i - 1);
      gtk_window_destroy (GTK_WINDOW (w));
    }
  natter_test_ui_spin (300);
  natter_test_remove_tree (dir);
}

int
main (int   argc,
      char *argv[])
{
  natter_test_ui_init (&argc, &argv);
  g_test_add_func ("/cluster/app/fails-over", test_app_fails_over);
  return natter_test_ui_run ();
}
