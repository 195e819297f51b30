/* test-ui-mentions.c — @mentions, group read receipts and clear history
 * (#16), in alice's window against a real natterd
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <string.h>

#include "natter-mention-popover.h"
#include "natter-test-ui.h"

static void
open_group (NatterTestUi *ui,
            const char   *text)
{
  natter_window_open_conversation (ui->window, NATTER_CONVERSATION_GROUP, "lunch", 0);
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), text);
}

static void
type_text (NatterTestUi *ui,
           const char   *text)
{
  GtkTextView *view = natter_composer_get_text_view (natter_chat_view_get_composer (ui->chat));

  gtk_text_buffer_insert_at_cursor (gtk_text_view_get_buffer (view), text, -1);
  natter_test_ui_spin (50);
}

static char *
shown_names (NatterTestUi *ui)
{
  GtkWidget *popover = natter_composer_get_mention_popover (natter_chat_view_get_composer (ui->chat));
  g_auto(GStrv) names = NULL;

  if (!gtk_widget_get_visible (popover))
    return g_strdup ("(hidden)");
  names = natter_mention_popover_dup_shown (NATTER_MENTION_POPOVER (popover));
  return g_strjoinv (",", names);
}

static gboolean
mentions_bob (gpointer window)
{
  NatterMessage *last = natter_test_ui_last_own_message (window);
  g_auto(GStrv) ids = NULL;

  if (last == NULL || natter_message_get_sent_status (last) < NATTER_SENT_STATUS_SENT)
    return FALSE;
  ids = natter_message_dup_mentioned_user_ids (last);
  return natter_message_get_mention_type (last) == 2 && ids != NULL &&
         g_strv_length (ids) == 1 && g_str_equal (ids[0], "bob");
}

/* Typing "@" in a group offers who spoke there, filtered as one types and
 * moved through with the keyboard; the pick is written as "@name " and
 * the message carries mentionedInfo. A private chat offers nobody. */
static void
test_popover_offers_members (NatterTestUi  *ui,
                             gconstpointer  data)
{
  NatterComposer *composer;
  g_autofree char *names = NULL;
  g_autofree char *text = NULL;

  natter_test_ui_set_user (ui, "bob", "Bob Baker", NULL);
  natter_test_ui_set_user (ui, "carol", "Carol Chen", NULL);
  natter_test_ui_create_group (ui, "lunch", "Lunch club", "alice", "bob", "carol", NULL);
  g_free (natter_test_ui_cli (ui, "carol", "send", "lunch", "--type", "group", "Sushi?", NULL));
  g_free (natter_test_ui_cli (ui, "bob", "send", "lunch", "--type", "group", "Pizza today", NULL));
  open_group (ui, "Pizza today");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "Carol Chen");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "Bob Baker");
  composer = natter_chat_view_get_composer (ui->chat);

  type_text (ui, "Hi @");
  names = shown_names (ui);
  g_assert_cmpstr (names, ==, "Bob Baker,Carol Chen");
  g_clear_pointer (&names, g_free);
  type_text (ui, "c");
  names = shown_names (ui);
  g_assert_cmpstr (names, ==, "Carol Chen");
  g_clear_pointer (&names, g_free);
  natter_test_ui_screenshot (GTK_WIDGET (ui->window), "mention-popover.png");

  /* Backspace to "@", Down twice wraps to Bob, Enter picks him. */
  {
    GtkTextBuffer *buffer = gtk_text_view_get_buffer (natter_composer_get_text_view (composer));
    GtkTextIter end, before;

    gtk_text_buffer_get_end_iter (buffer, &end);
    before = end;
    gtk_text_iter_backward_char (&before);
    gtk_text_buffer_delete (buffer, &before, &end);
    natter_test_ui_spin (50);
  }
  g_assert_true (natter_test_ui_press_key (GTK_WIDGET (natter_composer_get_text_view (composer)), GDK_KEY_Down, 0));
  g_assert_true (natter_test_ui_press_key (GTK_WIDGET (natter_composer_get_text_view (composer)), GDK_KEY_Down, 0));
  g_assert_true (natter_test_ui_press_key (GTK_WIDGET (natter_composer_get_text_view (composer)), GDK_KEY_Return, 0));
  text = natter_composer_dup_text (composer);
  g_assert_cmpstr (text, ==, "Hi @Bob Baker ");
  names = shown_names (ui);
  g_assert_cmpstr (names, ==, "(hidden)");
  g_clear_pointer (&names, g_free);

  type_text (ui, "pizza again?");
  natter_composer_send (composer);
  natter_test_ui_wait_until (mentions_bob, ui->window, "alice's message mentioning bob");

  /* Not in a private chat. */
  natter_test_ui_send (ui, "bob", "alice", "psst");
  natter_test_ui_open_chat (ui, "bob", "psst");
  type_text (ui, "@b");
  names = shown_names (ui);
  g_assert_cmpstr (names, ==, "(hidden)");
}

static gboolean
lunch_muted (gpointer sidebar)
{
  g_autoptr(NatterConversation) conv = natter_test_ui_get_conversation (natter_sidebar_get_conversations (sidebar),
                                                                        NATTER_CONVERSATION_GROUP, "lunch");

  return conv != NULL && natter_conversation_get_muted (conv);
}

static gboolean
mention_shown (gpointer sidebar)
{
  return natter_test_ui_find_exact_label (sidebar, "@") != NULL;
}

/* A muted group stays quiet, but a message that @mentions alice still
 * notifies her and marks the conversation with "@". */
static void
test_muted_group_mention (NatterTestUi  *ui,
                          gconstpointer  data)
{
  natter_test_ui_create_group (ui, "lunch", "Lunch club", "alice", "bob", NULL);
  g_free (natter_test_ui_cli (ui, "bob", "send", "lunch", "--type", "group", "Pizza today", NULL));
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->sidebar), "Pizza today");
  gtk_widget_activate_action (GTK_WIDGET (ui->sidebar), "sidebar.toggle-muted", "(is)",
                              NATTER_CONVERSATION_GROUP, "lunch");
  natter_test_ui_wait_until (lunch_muted, ui->sidebar, "lunch muted");
  natter_test_ui_forget_notifications ();
  /* In the background: a window on screen shows what comes, no notification. */
  gtk_widget_set_visible (GTK_WIDGET (ui->window), FALSE);

  g_free (natter_test_ui_cli (ui, "bob", "send", "lunch", "--type", "group", "quiet news", NULL));
  g_free (natter_test_ui_cli (ui, "bob", "send", "lunch", "--type", "group", "@alice are you in?",
                              "--mention", "alice", NULL));
  natter_test_ui_wait_until (natter_test_ui_notified, (gpointer) "are you in?", "the mention's notification");
  g_assert_false (natter_test_ui_notified ((gpointer) "quiet news"));
  gtk_window_present (GTK_WINDOW (ui->window));
  natter_test_ui_wait_until (mention_shown, ui->sidebar, "the @ mark");
}

/* The request for receipts (after the message) has reached natterd. */
static gboolean
request_sent (gpointer window)
{
  NatterMessageList *list = natter_chat_view_get_messages (natter_window_get_chat_view (window));

  for (guint i = 0; list != NULL && i < g_list_model_get_n_items (G_LIST_MODEL (list)); i++)
    {
      g_autoptr(NatterMessage) m = g_list_model_get_item (G_LIST_MODEL (list), i);

      if (natter_message_get_kind (m) == NATTER_MESSAGE_KIND_RECEIPT_REQUEST &&
          natter_message_get_sent_status (m) >= NATTER_SENT_STATUS_SENT)
        return TRUE;
    }
  return FALSE;
}

static gboolean
bob_profile_known (gpointer window)
{
  NatterClient *client = natter_window_get_client (window);
  const NatterProfile *profile = natter_store_lookup_user (natter_client_get_store (client), "bob");

  return profile != NULL && g_strcmp0 (profile->name, "Bob Baker") == 0;
}

/* alice's group message asks for receipts; as bob and carol read it the
 * bubble says "Read by 1", "Read by 2", and its popover who (#16). */
static void
test_read_by (NatterTestUi  *ui,
              gconstpointer  data)
{
  NatterComposer *composer;
  GtkWidget *label, *button, *popover;

  natter_test_ui_set_user (ui, "bob", "Bob Baker", NULL);
  natter_test_ui_create_group (ui, "lunch", "Lunch club", "alice", "bob", "carol", NULL);
  g_free (natter_test_ui_cli (ui, "bob", "send", "lunch", "--type", "group", "Pizza today", NULL));
  open_group (ui, "Pizza today");
  composer = natter_chat_view_get_composer (ui->chat);
  natter_composer_set_text (composer, "Who is in?");
  natter_composer_send (composer);
  natter_test_ui_wait_until (natter_test_ui_last_sent, ui->window, "alice's message sent");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "Read by 0");
  natter_test_ui_wait_until (request_sent, ui->window, "the receipt request sent");

  g_free (natter_test_ui_cli (ui, "bob", "sync", NULL));
  g_free (natter_test_ui_cli (ui, "bob", "send-receipts", "lunch", "--type", "group", NULL));
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "Read by 1");
  g_free (natter_test_ui_cli (ui, "carol", "sync", NULL));
  g_free (natter_test_ui_cli (ui, "carol", "send-receipts", "lunch", "--type", "group", NULL));
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "Read by 2");

  label = natter_test_ui_find_label (GTK_WIDGET (ui->chat), "Read by 2");
  g_assert_nonnull (label);
  /* ... and who: the button's popover names them (a profile's name, else
   * the id) as the store has them when it opens — bob's profile may come
   * after his receipt did */
  natter_test_ui_wait_until (bob_profile_known, ui->window, "bob's profile in alice's store");
  button = gtk_widget_get_ancestor (label, GTK_TYPE_MENU_BUTTON);
  g_assert_nonnull (button);
  gtk_menu_button_popup (GTK_MENU_BUTTON (button));
  popover = GTK_WIDGET (gtk_menu_button_get_popover (GTK_MENU_BUTTON (button)));
  natter_test_ui_wait_for_label (popover, "Bob Baker");
  g_assert_nonnull (natter_test_ui_find_label (popover, "carol"));
  natter_test_ui_screenshot (GTK_WIDGET (ui->window), "read-by.png");
  gtk_menu_button_popdown (GTK_MENU_BUTTON (button));
}

static gboolean
history_cleared (gpointer ui)
{
  g_autofree char *out = natter_test_ui_cli (ui, "alice", "history", "bob", NULL);

  return out != NULL && strstr (out, "old news") == NULL;
}

/* Clear History asks first, then the chat is empty here and on the
 * server for alice; bob keeps his. */
static void
test_clear_history (NatterTestUi  *ui,
                    gconstpointer  data)
{
  g_autofree char *bob_history = NULL;

  natter_test_ui_send (ui, "bob", "alice", "old news");
  natter_test_ui_open_chat (ui, "bob", "old news");
  gtk_widget_activate_action (GTK_WIDGET (ui->sidebar), "sidebar.clear-history", "(is)",
                              NATTER_CONVERSATION_PRIVATE, "bob");
  natter_test_ui_wait_anywhere ("Clear History?", "the confirmation");
  natter_test_ui_respond_to_dialog ("clear");
  natter_test_ui_wait_label_gone (GTK_WIDGET (ui->chat), "old news");
  natter_test_ui_wait_until (history_cleared, ui, "alice's server history cleared");
  bob_history = natter_test_ui_cli (ui, "bob", "history", "alice", NULL);
  g_assert_nonnull (strstr (bob_history, "old news"));
}

/* A discussion (type 2) behaves like a group (#16): the sidebar names it by
 * its group profile, bubbles carry the senders' names, an @mention of
 * alice marks it, and "@" offers who spoke there. */
static void
test_discussion_like_group (NatterTestUi  *ui,
                            gconstpointer  data)
{
  g_autofree char *names = NULL;

  natter_test_ui_set_user (ui, "bob", "Bob Baker", NULL);
  natter_test_ui_set_user (ui, "carol", "Carol Chen", NULL);
  natter_test_ui_create_group (ui, "trip", "Road trip", "alice", "bob", "carol", NULL);
  g_free (natter_test_ui_cli (ui, "carol", "send", "trip", "--type", "discussion", "Train at 9?", NULL));
  g_free (natter_test_ui_cli (ui, "bob", "send", "trip", "--type", "discussion", "@alice coming?",
                              "--mention", "alice", NULL));
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->sidebar), "Road trip");
  natter_test_ui_wait_until (mention_shown, ui->sidebar, "the @ mark on the discussion");

  natter_window_open_conversation (ui->window, NATTER_CONVERSATION_DISCUSSION, "trip", 0);
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "Train at 9?");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "Carol Chen");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "Bob Baker");
  type_text (ui, "@");
  names = shown_names (ui);
  g_assert_cmpstr (names, ==, "Bob Baker,Carol Chen");
}

int
main (int   argc,
      char *argv[])
{
  natter_test_ui_init (&argc, &argv);

  g_test_add ("/ui/mentions/popover-offers-members", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_popover_offers_members, natter_test_ui_teardown);
  g_test_add ("/ui/mentions/muted-group-mention", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_muted_group_mention, natter_test_ui_teardown);
  g_test_add ("/ui/mentions/discussion-like-group", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_discussion_like_group, natter_test_ui_teardown);
  g_test_add ("/ui/mentions/read-by", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_read_by, natter_test_ui_teardown);
  g_test_add ("/ui/mentions/clear-history", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_clear_history, natter_test_ui_teardown);
  return natter_test_ui_run ();
}
