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

/* A reply whose original was recalled says so in its quote, live and
 * when the chat is opened again. */
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
  /* the reply on screen says so at once */
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "Message recalled");
  /* opened again, the quote knows */
  natter_window_open_conversation (ui->window, NATTER_CONVERSATION_PRIVATE, "nobody", 0);
  natter_test_ui_open_chat (ui, "bob", "Ignore that");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "Message recalled");
}

/* ------------------------------------------------------------ reactions */

static gboolean
is_reaction_chip (GtkWidget     *widget,
                  gconstpointer  label)
{
  return GTK_IS_BUTTON (widget) && gtk_widget_has_css_class (widget, "reaction") &&
         g_strcmp0 (gtk_button_get_label (GTK_BUTTON (widget)), label) == 0;
}

static GtkWidget *
find_chip (NatterChatView *chat,
           const char     *label)
{
  return natter_test_ui_find (GTK_WIDGET (chat), is_reaction_chip, label);
}

typedef struct {
  NatterChatView *chat;
  const char     *label;
} ChipQuery;

static gboolean
chip_shown (gpointer data)
{
  ChipQuery *q = data;
  return find_chip (q->chat, q->label) != NULL;
}

static gboolean
chip_gone (gpointer data)
{
  return !chip_shown (data);
}

/* alice's own text goes out with expansion: bob reacts with natter-cli and
 * the chip comes live, with his name in the tooltip; alice's click on it
 * adds hers (2, highlighted), a second click takes it back. */
static void
test_reaction_live (NatterTestUi  *ui,
                    gconstpointer  data)
{
  NatterComposer *composer = natter_chat_view_get_composer (ui->chat);
  g_autoptr(NatterMessage) sent = NULL;
  g_autofree char *history = NULL;
  ChipQuery one = { ui->chat, "👍 1" };
  ChipQuery two = { ui->chat, "👍 2" };
  GtkWidget *chip;

  natter_test_ui_publish (ui, "bob", "alice", "Lunch?");
  natter_test_ui_open_chat (ui, "bob", "Lunch?");
  natter_composer_set_text (composer, "Lunch at 12?");
  natter_composer_send (composer);
  natter_test_ui_wait_until (natter_test_ui_last_sent, ui->window, "the message sent");
  sent = natter_test_ui_last_own_message (ui->window);
  g_assert_nonnull (natter_message_get_expansion (sent));

  /* bob's profile stores it, then he reacts */
  history = natter_test_ui_cli (ui, "bob", "history", "alice", NULL);
  g_assert_nonnull (strstr (history, "Lunch at 12?"));
  g_free (natter_test_ui_cli (ui, "bob", "react", natter_message_get_message_uid (sent), "👍", NULL));
  natter_test_ui_wait_until (chip_shown, &one, "bob's 👍 live");
  chip = find_chip (ui->chat, "👍 1");
  g_assert_false (gtk_widget_has_css_class (chip, "own"));
  g_assert_cmpstr (gtk_widget_get_tooltip_text (chip), ==, "bob reacted with 👍");

  g_signal_emit_by_name (chip, "clicked");
  natter_test_ui_wait_until (chip_shown, &two, "alice's 👍 added");
  chip = find_chip (ui->chat, "👍 2");
  g_assert_true (gtk_widget_has_css_class (chip, "own"));
  g_assert_cmpstr (gtk_widget_get_tooltip_text (chip), ==, "bob, You reacted with 👍");
  natter_test_ui_screenshot (ui->root, "screenshot-conversations-reactions.png");

  g_signal_emit_by_name (chip, "clicked");
  natter_test_ui_wait_until (chip_shown, &one, "alice's 👍 taken back");
  g_assert_false (gtk_widget_has_css_class (find_chip (ui->chat, "👍 1"), "own"));
}

/* Reactions made while alice was away come with her first sync. */
static void
test_reaction_offline (NatterTestUi  *ui,
                       gconstpointer  data)
{
  g_autofree char *uid = NULL;
  ChipQuery chip = { NULL, "🎉 1" };

  uid = bob_sends (ui, "I got the job!");
  g_free (natter_test_ui_cli (ui, "bob", "react", uid, "🎉", NULL));

  natter_test_ui_sign_in (ui);
  natter_test_ui_open_chat (ui, "bob", "I got the job!");
  chip.chat = ui->chat;
  natter_test_ui_wait_until (chip_shown, &chip, "bob's 🎉 from before");
}

/* alice reacts from the quick picker (the menu's React…); bob's history
 * holds it; the picker's "More" opens the emoji chooser. */
static void
test_react_from_app (NatterTestUi  *ui,
                     gconstpointer  data)
{
  g_autofree char *uid = bob_sends (ui, "Coffee later?");
  g_autoptr(NatterMessage) message = NULL;
  g_autofree char *history = NULL;
  NatterMessageRow *row;
  GtkWidget *picker, *first, *more;
  ChipQuery chip = { ui->chat, "👍 1" };

  natter_test_ui_open_chat (ui, "bob", "Coffee later?");
  message = message_with_text (ui->chat, "Coffee later?");
  row = row_of (ui->chat, message);
  g_assert_nonnull (row);
  natter_test_ui_spin (300);
  g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (row)));
  gtk_widget_activate_action (GTK_WIDGET (row), "row.react", NULL);
  picker = natter_message_row_get_reaction_picker (row);
  g_assert_true (NATTER_IS_REACTION_PICKER (picker));
  first = natter_test_ui_find_button_with_label (picker, "👍");
  g_assert_nonnull (first);
  g_signal_emit_by_name (first, "clicked");
  natter_test_ui_wait_until (chip_shown, &chip, "alice's 👍");
  g_assert_true (gtk_widget_has_css_class (find_chip (ui->chat, "👍 1"), "own"));

  history = natter_test_ui_cli (ui, "bob", "history", "alice", NULL);
  g_assert_nonnull (strstr (history, "\"rf09f918d\":\"[\\\"alice\\\"]\""));

  gtk_widget_activate_action (GTK_WIDGET (row), "row.react", NULL);
  more = natter_test_ui_find_button_with_icon (picker, "view-more-symbolic");
  g_assert_nonnull (more);
  g_signal_emit_by_name (more, "clicked");
  g_assert_true (GTK_IS_EMOJI_CHOOSER (natter_reaction_picker_get_chooser (NATTER_REACTION_PICKER (picker))));
  g_signal_emit_by_name (natter_reaction_picker_get_chooser (NATTER_REACTION_PICKER (picker)), "emoji-picked", "🚀");
  chip.label = "🚀 1";
  natter_test_ui_wait_until (chip_shown, &chip, "alice's 🚀");
  gtk_popover_popdown (GTK_POPOVER (natter_reaction_picker_get_chooser (NATTER_REACTION_PICKER (picker))));
  (void) chip_gone;
}

/* ----------------------------------------------------------------- edit */

/* alice fixes a typo: Edit puts the text in the composer with the bar,
 * Escape leaves it; the edit reaches bob and the bubble says "edited". */
static void
test_edit (NatterTestUi  *ui,
           gconstpointer  data)
{
  NatterComposer *composer = natter_chat_view_get_composer (ui->chat);
  GtkWidget *text_view = GTK_WIDGET (natter_composer_get_text_view (composer));
  g_autoptr(NatterMessage) sent = NULL;
  g_autofree char *text = NULL;
  g_autofree char *history = NULL;
  NatterMessageRow *row;
  GtkWidget *edited;

  natter_test_ui_publish (ui, "bob", "alice", "When is the meeting?");
  natter_test_ui_open_chat (ui, "bob", "When is the meeting?");
  natter_composer_set_text (composer, "At 3 o'clcok");
  natter_composer_send (composer);
  natter_test_ui_wait_until (natter_test_ui_last_sent, ui->window, "the message sent");
  sent = natter_test_ui_last_own_message (ui->window);
  g_assert_true (natter_message_row_can_edit (sent, natter_chat_view_get_client (ui->chat)));

  gtk_widget_activate_action (GTK_WIDGET (ui->chat), "chat.edit", "x", natter_message_get_message_id (sent));
  g_assert_true (natter_composer_has_context (composer));
  text = natter_composer_dup_text (composer);
  g_assert_cmpstr (text, ==, "At 3 o'clcok");
  g_assert_true (natter_test_ui_press_key (text_view, GDK_KEY_Escape, 0));
  g_assert_false (natter_composer_has_context (composer));
  g_clear_pointer (&text, g_free);
  text = natter_composer_dup_text (composer);
  g_assert_cmpstr (text, ==, "");

  gtk_widget_activate_action (GTK_WIDGET (ui->chat), "chat.edit", "x", natter_message_get_message_id (sent));
  natter_composer_set_text (composer, "At 3 o'clock");
  natter_composer_send (composer);
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "At 3 o'clock");
  row = row_of (ui->chat, sent);
  g_assert_nonnull (row);
  natter_test_ui_wait_for_label (GTK_WIDGET (row), "edited");
  edited = natter_test_ui_find_exact_label (GTK_WIDGET (row), "edited");
  g_assert_true (gtk_widget_get_visible (edited));
  natter_test_ui_screenshot (ui->root, "screenshot-conversations-edited.png");

  history = natter_test_ui_cli (ui, "bob", "history", "alice", NULL);
  g_assert_nonnull (strstr (history, "At 3 o'clock"));
  g_assert_null (strstr (history, "o'clcok"));
  g_assert_nonnull (strstr (history, "editedTime"));
}

/* alice's reply with a typo is edited like a text (#16): the bubble has the
 * new text, "edited" and still its quote; bob's history has both. */
static void
test_edit_reply (NatterTestUi  *ui,
                 gconstpointer  data)
{
  NatterComposer *composer = natter_chat_view_get_composer (ui->chat);
  g_autoptr(NatterMessage) question = NULL;
  g_autoptr(NatterMessage) reply = NULL;
  g_autofree char *history = NULL;
  Sent sent = { ui->chat, "At noun", NATTER_MESSAGE_KIND_REFERENCE };
  NatterMessageRow *row;

  g_free (bob_sends (ui, "Lunch?"));
  natter_test_ui_open_chat (ui, "bob", "Lunch?");
  question = message_with_text (ui->chat, "Lunch?");
  gtk_widget_activate_action (GTK_WIDGET (ui->chat), "chat.reply", "x", natter_message_get_message_id (question));
  natter_composer_set_text (composer, "At noun");
  natter_composer_send (composer);
  natter_test_ui_wait_until (own_sent_of_kind, &sent, "the reply sent");
  reply = message_with_text (ui->chat, "At noun");
  g_assert_true (natter_message_row_can_edit (reply, natter_chat_view_get_client (ui->chat)));

  gtk_widget_activate_action (GTK_WIDGET (ui->chat), "chat.edit", "x", natter_message_get_message_id (reply));
  g_assert_true (natter_composer_has_context (composer));
  natter_composer_set_text (composer, "At noon");
  natter_composer_send (composer);
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "At noon");
  g_assert_cmpint (natter_message_get_kind (reply), ==, NATTER_MESSAGE_KIND_REFERENCE);
  row = row_of (ui->chat, reply);
  g_assert_nonnull (row);
  natter_test_ui_wait_for_label (GTK_WIDGET (row), "edited");
  g_assert_nonnull (natter_test_ui_find_exact_label (GTK_WIDGET (row), "Lunch?"));

  history = natter_test_ui_cli (ui, "bob", "history", "alice", NULL);
  g_assert_nonnull (strstr (history, "At noon"));
  g_assert_null (strstr (history, "At noun"));
  g_assert_nonnull (strstr (history, "\"referMsg\":{\"content\":\"Lunch?\""));
}

/* natterd refuses an edit of someone else's message: a toast says why
 * with the reference code. */
static void
test_edit_refused (NatterTestUi  *ui,
                   gconstpointer  data)
{
  NatterComposer *composer = natter_chat_view_get_composer (ui->chat);
  g_autoptr(NatterMessage) theirs = NULL;

  natter_test_ui_publish (ui, "bob", "alice", "Not yours to edit");
  natter_test_ui_open_chat (ui, "bob", "Not yours to edit");
  theirs = message_with_text (ui->chat, "Not yours to edit");
  g_assert_false (natter_message_row_can_edit (theirs, natter_chat_view_get_client (ui->chat)));
  gtk_widget_activate_action (GTK_WIDGET (ui->chat), "chat.edit", "x", natter_message_get_message_id (theirs));
  natter_composer_set_text (composer, "Edited anyway");
  natter_composer_send (composer);
  natter_test_ui_wait_anywhere ("(25102)", "the refusal's toast");
  g_assert_nonnull (natter_test_ui_find_label (ui->root, "Only your own text messages can be edited."));
}

/* -------------------------------------------------------------- forward */

static GtkWidget *
wait_forward_dialog (void)
{
  GtkWidget *dialog = NULL;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while ((dialog = natter_test_ui_find_toplevel (NATTER_TYPE_FORWARD_DIALOG)) == NULL &&
         g_get_monotonic_time () < deadline)
    natter_test_ui_spin (50);
  g_assert_nonnull (dialog);
  return dialog;
}

typedef struct {
  GListModel *model;
  guint       n;
} Items;

static gboolean
n_items_is (gpointer data)
{
  Items *items = data;
  return g_list_model_get_n_items (items->model) == items->n;
}

/* Forward… to carol found by the search; then two selected messages with
 * Forward 2: carol's history holds all three copies. */
static void
test_forward (NatterTestUi  *ui,
              gconstpointer  data)
{
  g_autoptr(NatterMessage) first = NULL;
  g_autoptr(NatterMessage) second = NULL;
  g_autofree char *history = NULL;
  GtkWidget *dialog;
  GtkSelectionModel *selection;
  Items items;

  natter_test_ui_publish (ui, "carol", "alice", "Hi from carol");
  natter_test_ui_publish (ui, "bob", "alice", "The plan: meet at noon");
  natter_test_ui_publish (ui, "bob", "alice", "Bring snacks");
  natter_test_ui_open_chat (ui, "bob", "Bring snacks");
  first = message_with_text (ui->chat, "The plan: meet at noon");
  second = message_with_text (ui->chat, "Bring snacks");

  gtk_widget_activate_action (GTK_WIDGET (ui->chat), "chat.forward", "x", natter_message_get_message_id (first));
  dialog = wait_forward_dialog ();
  selection = natter_forward_dialog_get_selection (NATTER_FORWARD_DIALOG (dialog));
  items = (Items) { G_LIST_MODEL (selection), 2 };
  natter_test_ui_wait_until (n_items_is, &items, "both chats listed");
  gtk_editable_set_text (natter_forward_dialog_get_search (NATTER_FORWARD_DIALOG (dialog)), "car");
  items.n = 1;
  natter_test_ui_wait_until (n_items_is, &items, "the search leaves carol");
  gtk_selection_model_select_item (selection, 0, FALSE);
  natter_test_ui_wait_for_label (dialog, "carol");
  natter_forward_dialog_forward (NATTER_FORWARD_DIALOG (dialog));
  natter_test_ui_wait_anywhere ("Forwarded", "the forward's toast");

  gtk_widget_activate_action (GTK_WIDGET (ui->chat), "chat.select", "x", natter_message_get_message_id (first));
  gtk_widget_activate_action (GTK_WIDGET (ui->chat), "chat.select", "x", natter_message_get_message_id (second));
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "2 selected");
  gtk_widget_activate_action (GTK_WIDGET (ui->chat), "chat.forward-selected", NULL);
  dialog = wait_forward_dialog ();
  selection = natter_forward_dialog_get_selection (NATTER_FORWARD_DIALOG (dialog));
  items = (Items) { G_LIST_MODEL (selection), 2 };
  natter_test_ui_wait_until (n_items_is, &items, "both chats listed");
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(NatterConversation) c = g_list_model_get_item (G_LIST_MODEL (selection), i);

      if (g_str_equal (natter_conversation_get_target_id (c), "carol"))
        gtk_selection_model_select_item (selection, i, FALSE);
    }
  natter_forward_dialog_forward (NATTER_FORWARD_DIALOG (dialog));

  for (gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC; g_get_monotonic_time () < deadline;)
    {
      g_clear_pointer (&history, g_free);
      history = natter_test_ui_cli (ui, "carol", "history", "alice", NULL);
      if (strstr (history, "Bring snacks") != NULL)
        break;
      natter_test_ui_spin (200);
    }
  g_assert_nonnull (strstr (history, "Bring snacks"));
  g_assert_nonnull (strstr (history, "The plan: meet at noon"));
  {
    const char *at = strstr (history, "The plan: meet at noon");
    g_assert_nonnull (strstr (at + 1, "The plan: meet at noon"));   /* twice: alone, then with the selection */
  }
}

/* ------------------------------------------------------- delete for me */

/* alice deletes bob's message for herself: gone from her chat, also after
 * the chat is opened again (and checked with the server's history), while
 * bob's history keeps it. */
static void
test_delete_for_me (NatterTestUi  *ui,
                    gconstpointer  data)
{
  g_autoptr(NatterMessage) message = NULL;
  g_autofree char *history = NULL;

  natter_test_ui_publish (ui, "bob", "alice", "Keep this one");
  natter_test_ui_publish (ui, "bob", "alice", "Embarrassing photo caption");
  natter_test_ui_open_chat (ui, "bob", "Embarrassing photo caption");
  message = message_with_text (ui->chat, "Embarrassing photo caption");
  gtk_widget_activate_action (GTK_WIDGET (ui->chat), "chat.delete-for-me", "x", natter_message_get_message_id (message));
  natter_test_ui_wait_label_gone (GTK_WIDGET (ui->chat), "Embarrassing photo caption");
  g_assert_nonnull (natter_test_ui_find_label (GTK_WIDGET (ui->chat), "Keep this one"));

  natter_test_ui_publish (ui, "carol", "alice", "Hello from carol");
  natter_window_open_conversation (ui->window, NATTER_CONVERSATION_PRIVATE, "carol", 0);
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "Hello from carol");
  natter_test_ui_open_chat (ui, "bob", "Keep this one");
  natter_test_ui_spin (1000);   /* the server's history checked again */
  g_assert_null (natter_test_ui_find_label (GTK_WIDGET (ui->chat), "Embarrassing photo caption"));

  history = natter_test_ui_cli (ui, "bob", "history", "alice", NULL);
  g_assert_nonnull (strstr (history, "Embarrassing photo caption"));
}

int
main (int argc, char *argv[])
{
  natter_test_ui_init (&argc, &argv);

  g_test_add ("/ui/conversations/reply", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_reply, natter_test_ui_teardown);
  g_test_add ("/ui/conversations/reply-to-recalled", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_reply_to_recalled, natter_test_ui_teardown);
  g_test_add ("/ui/conversations/reaction-live", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_reaction_live, natter_test_ui_teardown);
  g_test_add ("/ui/conversations/reaction-offline", NatterTestUi, NULL,
              natter_test_ui_setup, test_reaction_offline, natter_test_ui_teardown);
  g_test_add ("/ui/conversations/react-from-app", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_react_from_app, natter_test_ui_teardown);
  g_test_add ("/ui/conversations/edit", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_edit, natter_test_ui_teardown);
  g_test_add ("/ui/conversations/edit-reply", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_edit_reply, natter_test_ui_teardown);
  g_test_add ("/ui/conversations/edit-refused", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_edit_refused, natter_test_ui_teardown);
  g_test_add ("/ui/conversations/forward", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_forward, natter_test_ui_teardown);
  g_test_add ("/ui/conversations/delete-for-me", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_delete_for_me, natter_test_ui_teardown);
  return natter_test_ui_run ();
}
