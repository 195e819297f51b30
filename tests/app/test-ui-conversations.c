/* test-ui-conversations.c — message actions in the app (#16), against a real natterd
 *
 * Reply, reactions, edit, forward and delete for me from alice's window;
 * bob and carol answer with natter-cli. Each case runs alone with
 * `-p /ui/conversations/NAME`.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <string.h>

#include "natter-forward-dialog.h"
#include "natter-message-row.h"
#include "natter-reaction-picker.h"
#include "natter-test-ui.h"

/* The uid natter-cli printed for the message it sent (one JSON line). */
static char *
cli_sent_uid (const char *out)
{
  g_autoptr(JsonNode) node = json_from_string (out, NULL);

  g_assert_nonnull (node);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  return g_strdup (json_object_get_string_member (json_node_get_object (node), "messageUId"));
}

/* bob sends @text to alice with expansion on (others may react). */
static char *
bob_sends (NatterTestUi *ui,
           const char   *text)
{
  g_autofree char *out = natter_test_ui_cli (ui, "bob", "send", "alice", text, "--expansion", NULL);

  return cli_sent_uid (out);
}

static NatterMessage *
message_with_text (NatterChatView *chat,
                   const char     *text)
{
  GListModel *list = G_LIST_MODEL (natter_chat_view_get_messages (chat));

  for (guint i = g_list_model_get_n_items (list); i > 0; i--)
    {
      g_autoptr(NatterMessage) m = g_list_model_get_item (list, i - 1);

      if (g_strcmp0 (natter_message_get_text (m), text) == 0)
        return g_steal_pointer (&m);
    }
  return NULL;
}

static NatterMessageRow *
row_of (NatterChatView *chat,
        NatterMessage  *message)
{
  GtkWidget *list_view = GTK_WIDGET (natter_chat_view_get_list_view (chat));

  for (GtkWidget *child = gtk_widget_get_first_child (list_view); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *row = gtk_widget_get_first_child (child);

      if (NATTER_IS_MESSAGE_ROW (row) && natter_message_row_get_message (NATTER_MESSAGE_ROW (row)) == message)
        return NATTER_MESSAGE_ROW (row);
    }
  return NULL;
}

typedef struct {
  NatterChatView *chat;
  const char     *text;
  NatterMessageKind kind;
} Sent;

static gboolean
own_sent_of_kind (gpointer data)
{
  Sent *sent = data;
  GListModel *list = G_LIST_MODEL (natter_chat_view_get_messages (sent->chat));

  for (guint i = g_list_model_get_n_items (list); i > 0; i--)
    {
      g_autoptr(NatterMessage) m = g_list_model_get_item (list, i - 1);

      if (natter_message_get_direction (m) == NATTER_MESSAGE_DIRECTION_SEND &&
          natter_message_get_kind (m) == sent->kind &&
          g_strcmp0 (natter_message_get_text (m), sent->text) == 0 &&
          natter_message_get_sent_status (m) >= NATTER_SENT_STATUS_SENT)
        return TRUE;
    }
  return FALSE;
}

static gboolean
has_context (gpointer composer)
{
  return natter_composer_has_context (composer);
}

static gboolean
is_bubble (GtkWidget     *widget,
           gconstpointer  data)
{
  return gtk_widget_has_css_class (widget, "bubble");
}

typedef struct {
  NatterChatView *chat;
  const char     *text;
} Flash;

static gboolean
row_flashes (gpointer data)
{
  Flash *flash = data;
  g_autoptr(NatterMessage) m = message_with_text (flash->chat, flash->text);
  NatterMessageRow *row = m != NULL ? row_of (flash->chat, m) : NULL;
  GtkWidget *bubble = row != NULL ? natter_test_ui_find (GTK_WIDGET (row), is_bubble, NULL) : NULL;

  return bubble != NULL && gtk_widget_has_css_class (bubble, "flash");
}

static void
cleared_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_assert_true (natter_client_clear_unread_finish (NATTER_CLIENT (object), result, NULL));
  *(gboolean *) user_data = TRUE;
}

/* bob answers his own question far up the chat: a click on the quote
 * loads the older pages and highlights the original. alice replies to it
 * from the context menu's Reply: the composer says whom she answers, bob
 * gets an RC:ReferenceMsg quoting it, her bubble shows the quote. */
static void
test_reply (NatterTestUi  *ui,
            gconstpointer  data)
{
  NatterComposer *composer = natter_chat_view_get_composer (ui->chat);
  g_autoptr(NatterMessage) question = NULL;
  g_autoptr(NatterMessage) reply = NULL;
  g_autoptr(NatterMessage) bobs = NULL;
  g_autofree char *uid = NULL;
  g_autofree char *history = NULL;
  Sent sent = { ui->chat, "At the station, 12:30", NATTER_MESSAGE_KIND_REFERENCE };
  Flash flash = { ui->chat, "Where shall we meet?" };
  NatterMessageRow *row;
  gboolean cleared = FALSE;

  uid = bob_sends (ui, "Where shall we meet?");
  for (guint i = 0; i < 45; i++)
    {
      g_autofree char *text = g_strdup_printf ("Filler %u", i);

      natter_test_ui_publish (ui, "bob", "alice", text);
    }
  g_free (natter_test_ui_cli (ui, "bob", "send", "alice", "Still waiting for an answer", "--reply-to", uid, NULL));
  /* read already: the chat opens at its newest page only */
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->sidebar), "Still waiting for an answer");
  natter_client_clear_unread_async (natter_chat_view_get_client (ui->chat), NATTER_CONVERSATION_PRIVATE, "bob",
                                    NULL, cleared_cb, &cleared);
  natter_test_ui_wait_until (natter_test_ui_is_true, &cleared, "bob's chat read");
  natter_test_ui_open_chat (ui, "bob", "Still waiting for an answer");
  g_assert_null (message_with_text (ui->chat, "Where shall we meet?"));
  bobs = message_with_text (ui->chat, "Still waiting for an answer");
  row = row_of (ui->chat, bobs);
  g_assert_nonnull (row);
  g_assert_nonnull (natter_test_ui_find_exact_label (GTK_WIDGET (row), "Where shall we meet?"));
  gtk_widget_activate_action (GTK_WIDGET (row), "chat.show-referred", "x", natter_message_get_message_id (bobs));
  natter_test_ui_wait_until (row_flashes, &flash, "the original shown and highlighted");

  question = message_with_text (ui->chat, "Where shall we meet?");
  gtk_widget_activate_action (GTK_WIDGET (ui->chat), "chat.reply", "x", natter_message_get_message_id (question));
  natter_test_ui_wait_until (has_context, composer, "the reply bar");
  g_assert_nonnull (natter_test_ui_find_label (GTK_WIDGET (composer), "Replying to bob"));
  natter_composer_set_text (composer, "At the station, 12:30");
  natter_composer_send (composer);
  g_assert_false (natter_composer_has_context (composer));
  natter_test_ui_wait_until (own_sent_of_kind, &sent, "the reply sent");

  history = natter_test_ui_cli (ui, "bob", "history", "alice", "--count", "3", NULL);
  g_assert_nonnull (strstr (history, "RC:ReferenceMsg"));
  g_assert_nonnull (strstr (history, "At the station, 12:30"));
  g_assert_nonnull (strstr (history, uid));

  natter_chat_view_scroll_to_bottom (ui->chat);
  natter_test_ui_spin (300);
  reply = message_with_text (ui->chat, "At the station, 12:30");
  row = row_of (ui->chat, reply);
  g_assert_nonnull (row);
  g_assert_nonnull (natter_test_ui_find_exact_label (GTK_WIDGET (row), "Where shall we meet?"));
  g_assert_nonnull (natter_test_ui_find_exact_label (GTK_WIDGET (row), "bob"));
  natter_test_ui_screenshot (ui->root, "screenshot-conversations-reply.png");
}

/* A reply whose original was recalled says so in its quote. */
static void
test_reply_to_recalled (NatterTestUi  *ui,
                        gconstpointer  data)
{
  g_autofree char *uid = bob_sends (ui, "Oops, wrong chat");
  g_autofree char *history = NULL;

  natter_test_ui_open_chat (ui, "bob", "Oops, wrong chat");
  history = natter_test_ui_cli (ui, "bob", "send", "alice", "Ignore that", "--reply-to", uid, NULL);
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "Ignore that");
  g_free (natter_test_ui_cli (ui, "bob", "recall", uid, NULL));
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "bob recalled a message");
  /* opened again, the quote knows */
  natter_window_open_conversation (ui->window, NATTER_CONVERSATION_PRIVATE, "nobody", 0);
  natter_test_ui_open_chat (ui, "bob", "Ignore that");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "Message recalled");
}

int
main (int argc, char *argv[])
{
  natter_test_ui_init (&argc, &argv);

  g_test_add ("/ui/conversations/reply", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_reply, natter_test_ui_teardown);
  g_test_add ("/ui/conversations/reply-to-recalled", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_reply_to_recalled, natter_test_ui_teardown);
  return natter_test_ui_run ();
}
