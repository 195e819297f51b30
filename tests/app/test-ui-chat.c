/* test-ui-chat.c — conversations and messages, against a real natterd
 *
 * alice's window signed in (natter-test-ui.h) and what bob, carol, dave...
 * send with natter-cli or the server API; each case builds the chats it
 * needs, so each runs alone with `-p /ui/NAME`.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <string.h>

#include "natter-message-row.h"
#include "natter-test-ui.h"

static gboolean
has_two_conversations (gpointer sidebar)
{
  NatterConversationList *list = natter_sidebar_get_conversations (sidebar);
  return list != NULL && g_list_model_get_n_items (G_LIST_MODEL (list)) >= 2;
}

/* What came while alice had never signed in fills the list on her first
 * start: both senders, the newest text. */
static void
test_offline_messages_listed (NatterTestUi  *ui,
                              gconstpointer  data)
{
  natter_test_ui_send (ui, "carol", "alice", "Welcome to the team, Alice 🎉");
  natter_test_ui_send (ui, "bob", "alice", "Hi Alice! Are we still on for lunch?");
  natter_test_ui_send (ui, "bob", "alice", "I found a nice place near the station.");

  natter_test_ui_sign_in (ui);
  natter_test_ui_wait_until (has_two_conversations, ui->sidebar, "two conversations");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->sidebar), "bob");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->sidebar), "carol");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->sidebar), "I found a nice place near the station.");
  g_assert_null (natter_test_ui_find_label (GTK_WIDGET (ui->sidebar), "Are we still on for lunch?"));
}

/* A message sent with natter-cli appears live in the list, the title
 * counts it; its chat shows the history in bubbles under a date. */
static void
test_message_arrives_live (NatterTestUi  *ui,
                           gconstpointer  data)
{
  g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (ui->window)), ==, "Natter");
  natter_test_ui_publish (ui, "bob", "alice", "Hi Alice! Are we still on for lunch?");
  natter_test_ui_send (ui, "bob", "alice", "Ping from natter-cli");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->sidebar), "Ping from natter-cli");
  g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (ui->window)), !=, "Natter");   /* unread count */

  natter_window_open_conversation (ui->window, NATTER_CONVERSATION_PRIVATE, "bob", 0);
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "Hi Alice! Are we still on for lunch?");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "Ping from natter-cli");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "Today");
}

/* alice answers from the composer; bob's natter-cli sees it. */
static void
test_answer_reaches_peer (NatterTestUi  *ui,
                          gconstpointer  data)
{
  NatterComposer *composer = natter_chat_view_get_composer (ui->chat);
  g_autofree char *history = NULL;

  natter_test_ui_publish (ui, "bob", "alice", "Are we still on for lunch?");
  natter_test_ui_open_chat (ui, "bob", "Are we still on for lunch?");
  natter_composer_set_text (composer, "Yes! 12:30 at the station?");
  natter_composer_send (composer);
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "Yes! 12:30 at the station?");
  natter_test_ui_wait_until (natter_test_ui_last_sent, ui->window, "the answer acked");
  history = natter_test_ui_cli (ui, "bob", "history", "alice", NULL);
  g_assert_nonnull (strstr (history, "Yes! 12:30 at the station?"));
}

/* Enter sends, Shift+Enter is left to the text view (a new line); with
 * “Enter Sends” off, Ctrl+Enter sends. */
static void
test_enter_sends (NatterTestUi  *ui,
                  gconstpointer  data)
{
  NatterComposer *composer = natter_chat_view_get_composer (ui->chat);
  GtkWidget *text_view = GTK_WIDGET (natter_composer_get_text_view (composer));
  GSettings *settings = natter_application_get_settings (natter_test_ui_app ());
  g_autofree char *kept = NULL;
  g_autofree char *left = NULL;

  natter_test_ui_publish (ui, "bob", "alice", "Write me two lines");
  natter_test_ui_open_chat (ui, "bob", "Write me two lines");
  natter_composer_set_text (composer, "Two lines:\nthe second one");
  g_assert_false (natter_test_ui_press_key (text_view, GDK_KEY_Return, GDK_SHIFT_MASK));
  kept = natter_composer_dup_text (composer);
  g_assert_cmpstr (kept, ==, "Two lines:\nthe second one");
  g_assert_true (natter_test_ui_press_key (text_view, GDK_KEY_Return, 0));
  left = natter_composer_dup_text (composer);
  g_assert_cmpstr (left, ==, "");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "the second one");
  natter_test_ui_wait_until (natter_test_ui_last_sent, ui->window, "the two lines acked");

  g_settings_set_boolean (settings, "enter-sends", FALSE);
  natter_composer_set_text (composer, "Sent with Ctrl+Enter");
  g_assert_false (natter_test_ui_press_key (text_view, GDK_KEY_KP_Enter, 0));
  g_assert_true (natter_test_ui_press_key (text_view, GDK_KEY_Return, GDK_CONTROL_MASK));
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "Sent with Ctrl+Enter");
  natter_test_ui_wait_until (natter_test_ui_last_sent, ui->window, "the Ctrl+Enter message acked");
}

static gboolean
is_menu_button_with_icon (GtkWidget     *widget,
                          gconstpointer  icon)
{
  return GTK_IS_MENU_BUTTON (widget) &&
         g_strcmp0 (gtk_menu_button_get_icon_name (GTK_MENU_BUTTON (widget)), icon) == 0;
}

/* The emoji chooser (made when first opened) inserts at the cursor. */
static void
test_emoji_chooser (NatterTestUi  *ui,
                    gconstpointer  data)
{
  NatterComposer *composer = natter_chat_view_get_composer (ui->chat);
  GtkWidget *emoji, *popover;
  g_autofree char *text = NULL;

  natter_test_ui_publish (ui, "bob", "alice", "Party tonight?");
  natter_test_ui_open_chat (ui, "bob", "Party tonight?");
  emoji = natter_test_ui_find (GTK_WIDGET (composer), is_menu_button_with_icon, "face-smile-symbolic");
  g_assert_nonnull (emoji);
  natter_composer_set_text (composer, "Party ");
  gtk_menu_button_popup (GTK_MENU_BUTTON (emoji));
  popover = GTK_WIDGET (gtk_menu_button_get_popover (GTK_MENU_BUTTON (emoji)));
  g_assert_true (GTK_IS_EMOJI_CHOOSER (popover));
  g_signal_emit_by_name (popover, "emoji-picked", "🎉");
  text = natter_composer_dup_text (composer);
  g_assert_cmpstr (text, ==, "Party 🎉");
  gtk_menu_button_popdown (GTK_MENU_BUTTON (emoji));
}

static gboolean
last_message_read (gpointer window)
{
  g_autoptr(NatterMessage) last = natter_test_ui_last_own_message (window);
  return last != NULL && natter_message_get_sent_status (last) == NATTER_SENT_STATUS_READ;
}

static gboolean
is_image_with_icon (GtkWidget     *widget,
                    gconstpointer  icon)
{
  return GTK_IS_IMAGE (widget) && g_strcmp0 (gtk_image_get_icon_name (GTK_IMAGE (widget)), icon) == 0;
}

static gboolean
read_tick_shown (gpointer chat)
{
  return natter_test_ui_find (chat, is_image_with_icon, "natter-read-symbolic") != NULL;
}

/* alice answers in the chat open; returns the answer once the server acked it */
static NatterMessage *
answer (NatterTestUi *ui,
        const char   *text)
{
  natter_composer_set_text (natter_chat_view_get_composer (ui->chat), text);
  natter_composer_send (natter_chat_view_get_composer (ui->chat));
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), text);
  natter_test_ui_wait_until (natter_test_ui_last_sent, ui->window, "the answer acked");
  return natter_test_ui_last_own_message (ui->window);
}

/* bob reads alice's messages (a read receipt): they get the read tick. */
static void
test_read_tick (NatterTestUi  *ui,
                gconstpointer  data)
{
  g_autoptr(NatterMessage) last = NULL;
  g_autoptr(JsonObject) reply = NULL;
  g_autofree char *content = NULL;
  guint status = 0;

  natter_test_ui_publish (ui, "bob", "alice", "Lunch at 12:30?");
  natter_test_ui_open_chat (ui, "bob", "Lunch at 12:30?");
  last = answer (ui, "Yes!");
  g_assert_false (read_tick_shown (ui->chat));

  content = g_strdup_printf ("{\"lastMessageSendTime\":%" G_GINT64_FORMAT ",\"type\":1}",
                             natter_message_get_sent_time (last));
  reply = natter_test_server_api (ui->server, &status, "message/private/publish",
                                  "fromUserId", "bob", "toUserId", "alice",
                                  "objectName", "RC:ReadNtf", "content", content, NULL);
  g_assert_cmpuint (status, ==, 200);
  natter_test_ui_wait_until (last_message_read, ui->window, "the read receipt applied");
  natter_test_ui_wait_until (read_tick_shown, ui->chat, "the read tick");
}

static void
count_notify (guint *count)
{
  (*count)++;
}

/* A row bound again to a message with the same status keeps its status
 * icon as it is: GtkImage cleared and set it again for the same name, a
 * resize of the row up to the window at each bind of a fling (#17). */
static void
test_status_icon_kept (NatterTestUi  *ui,
                       gconstpointer  data)
{
  g_autoptr(NatterMessage) first = NULL;
  g_autoptr(NatterMessage) second = NULL;
  g_autoptr(GtkWidget) row = NULL;
  GtkWidget *icon;
  guint notified = 0;

  natter_test_ui_publish (ui, "bob", "alice", "Two questions");
  natter_test_ui_open_chat (ui, "bob", "Two questions");
  first = answer (ui, "First answer");
  second = answer (ui, "Second answer");
  g_assert_true (first != second);

  row = g_object_ref_sink (natter_message_row_new ());
  natter_message_row_set_message (NATTER_MESSAGE_ROW (row), natter_chat_view_get_client (ui->chat), NULL,
                                  first, NULL, FALSE);
  icon = natter_test_ui_find_any (row, is_image_with_icon, "natter-sent-symbolic");
  g_assert_nonnull (icon);
  g_assert_true (gtk_widget_get_visible (icon));
  g_signal_connect_swapped (icon, "notify::icon-name", G_CALLBACK (count_notify), &notified);
  natter_message_row_set_message (NATTER_MESSAGE_ROW (row), NULL, NULL, NULL, NULL, FALSE);
  natter_message_row_set_message (NATTER_MESSAGE_ROW (row), natter_chat_view_get_client (ui->chat), NULL,
                                  second, first, FALSE);
  g_assert_true (natter_message_row_get_message (NATTER_MESSAGE_ROW (row)) == second);
  g_assert_true (natter_test_ui_find_any (row, is_image_with_icon, "natter-sent-symbolic") == icon);
  g_assert_true (gtk_widget_get_visible (icon));
  g_assert_cmpuint (notified, ==, 0);
  g_signal_handlers_disconnect_by_data (icon, &notified);
  natter_message_row_set_message (NATTER_MESSAGE_ROW (row), NULL, NULL, NULL, NULL, FALSE);
}

/* bob types: the header says so (natter-cli waits for its connection to
 * send a status-only message). */
static void
test_typing_shown (NatterTestUi  *ui,
                   gconstpointer  data)
{
  natter_test_ui_publish (ui, "bob", "alice", "Wait, writing it down");
  natter_test_ui_open_chat (ui, "bob", "Wait, writing it down");
  g_assert_null (natter_test_ui_find_label (GTK_WIDGET (ui->chat), "typing…"));
  g_free (natter_test_ui_cli (ui, "bob", "send", "alice", "--object-name", "RC:TypSts",
                              "--content", "{\"typingContentType\":\"RC:TxtMsg\"}", NULL));
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "typing…");
}

/* A kind of message this app does not know is shown politely. */
static void
test_unknown_message_kind (NatterTestUi  *ui,
                           gconstpointer  data)
{
  natter_test_ui_publish (ui, "bob", "alice", "A poll for you");
  natter_test_ui_open_chat (ui, "bob", "A poll for you");
  g_free (natter_test_ui_cli (ui, "bob", "send", "alice", "--object-name", "ACME:Poll",
                              "--content", "{\"question\":\"Pizza?\"}", NULL));
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "cannot be shown by this version");
}

/* A sender's name and picture (the app server's profile, also in the
 * message's user info) show in the conversation list. */
static void
test_sender_name_and_portrait (NatterTestUi  *ui,
                               gconstpointer  data)
{
  g_autofree char *image = natter_test_ui_write_image (ui);
  g_autofree char *content = NULL;
  const char *image_uri = NULL;
  NatterMessageList *list;

  /* a picture on natterd: the one bob sends */
  g_free (natter_test_ui_cli (ui, "bob", "send", "alice", "--image", image, NULL));
  natter_test_ui_publish (ui, "bob", "alice", "That was my picture");
  natter_test_ui_open_chat (ui, "bob", "That was my picture");
  list = natter_chat_view_get_messages (ui->chat);
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (list)) && image_uri == NULL; i++)
    {
      g_autoptr(NatterMessage) m = g_list_model_get_item (G_LIST_MODEL (list), i);
      image_uri = natter_message_get_image_uri (m);
    }
  g_assert_nonnull (image_uri);
  g_assert_false (natter_test_ui_has_portrait (ui->sidebar));

  natter_test_ui_set_user (ui, "dave", "Dave Miller", image_uri);
  content = g_strdup_printf ("{\"content\":\"Hi, I am Dave\",\"user\":{\"id\":\"dave\","
                             "\"name\":\"Dave Miller\",\"portraitUri\":\"%s\"}}", image_uri);
  g_free (natter_test_ui_cli (ui, "dave", "send", "alice", "--object-name", "RC:TxtMsg", "--content", content, NULL));
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->sidebar), "Dave Miller");
  natter_test_ui_wait_until (natter_test_ui_has_portrait, ui->sidebar, "Dave's picture in the list");
}

/* A new chat with someone not in the list yet (Ctrl+N's dialog). */
static void
test_new_chat (NatterTestUi  *ui,
               gconstpointer  data)
{
  gtk_widget_activate_action (ui->root, "win.new-chat", NULL);
  natter_test_ui_wait_anywhere ("Enter the ID of a person or a group.", "the new chat dialog");
  natter_test_ui_set_dialog_text ("frank");
  natter_test_ui_respond_to_dialog ("open");
  g_assert_cmpstr (natter_chat_view_get_target_id (ui->chat), ==, "frank");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "No messages here yet");
}

static gboolean
has_search_entry (gpointer sidebar)
{
  return natter_test_ui_find_type (sidebar, GTK_TYPE_SEARCH_ENTRY) != NULL;
}

static gboolean
has_search_results (gpointer sidebar)
{
  return natter_test_ui_find_type (sidebar, g_type_from_name ("NatterSearchRow")) != NULL;
}

/* Search finds a message in any conversation and jumps to it. */
static void
test_search_jumps_to_message (NatterTestUi  *ui,
                              gconstpointer  data)
{
  natter_test_ui_publish (ui, "bob", "alice", "I found a nice place near the station.");
  natter_test_ui_publish (ui, "carol", "alice", "Welcome to the team, Alice 🎉");
  natter_test_ui_open_chat (ui, "carol", "Welcome to the team");

  natter_sidebar_start_search (ui->sidebar);
  natter_test_ui_wait_until (has_search_entry, ui->sidebar, "the search entry");
  gtk_editable_set_text (GTK_EDITABLE (natter_test_ui_find_type (GTK_WIDGET (ui->sidebar), GTK_TYPE_SEARCH_ENTRY)),
                         "station");
  natter_test_ui_wait_until (has_search_results, ui->sidebar, "search results");
  g_assert_nonnull (natter_test_ui_find_label (GTK_WIDGET (ui->sidebar), "station"));
  g_signal_emit_by_name (natter_test_ui_find_type (GTK_WIDGET (ui->sidebar), GTK_TYPE_LIST_VIEW), "activate", 0);
  g_assert_cmpstr (natter_chat_view_get_target_id (ui->chat), ==, "bob");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "near the station");
  g_assert_true (natter_sidebar_stop_search (ui->sidebar));
}

/* A draft stays with its conversation, and the list shows it. */
static void
test_draft_per_conversation (NatterTestUi  *ui,
                             gconstpointer  data)
{
  NatterComposer *composer = natter_chat_view_get_composer (ui->chat);
  g_autofree char *draft = NULL;
  g_autofree char *bob_draft = NULL;

  natter_test_ui_publish (ui, "bob", "alice", "Hi from bob");
  natter_test_ui_publish (ui, "carol", "alice", "Welcome to the team, Alice 🎉");
  natter_test_ui_open_chat (ui, "carol", "Welcome to the team");
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (natter_composer_get_text_view (composer)),
                            "half-written thought", -1);
  natter_test_ui_open_chat (ui, "bob", "Hi from bob");
  bob_draft = natter_composer_dup_text (composer);
  g_assert_cmpstr (bob_draft, ==, "");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->sidebar), "half-written thought");
  natter_window_open_conversation (ui->window, NATTER_CONVERSATION_PRIVATE, "carol", 0);
  draft = natter_composer_dup_text (composer);
  g_assert_cmpstr (draft, ==, "half-written thought");
}

static void
collect_rows (GtkWidget *widget,
              GPtrArray *rows)
{
  if (NATTER_IS_MESSAGE_ROW (widget))
    g_ptr_array_add (rows, widget);
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    collect_rows (child, rows);
}

/* The next chat shows its messages in the rows the last one had (#17:
 * GTK 4.8's list view destroys a row with its list item, and making rows
 * was most of opening a chat). */
static void
test_rows_reused (NatterTestUi  *ui,
                  gconstpointer  data)
{
  g_autoptr(GPtrArray) rows = g_ptr_array_new ();
  g_autoptr(GPtrArray) now = g_ptr_array_new ();
  GtkWidget **weak;
  guint reused = 0;

  natter_test_ui_publish (ui, "bob", "alice", "Hi from bob");
  natter_test_ui_publish (ui, "carol", "alice", "Welcome to the team, Alice");
  natter_test_ui_open_chat (ui, "carol", "Welcome to the team");
  collect_rows (GTK_WIDGET (ui->chat), rows);
  g_assert_cmpuint (rows->len, >, 0);
  weak = g_new0 (GtkWidget *, rows->len);
  for (guint i = 0; i < rows->len; i++)
    g_set_weak_pointer (&weak[i], rows->pdata[i]);

  natter_test_ui_open_chat (ui, "bob", "Hi from bob");
  collect_rows (GTK_WIDGET (ui->chat), now);
  for (guint i = 0; i < rows->len; i++)
    {
      if (weak[i] != NULL && g_ptr_array_find (now, weak[i], NULL))
        reused++;
      g_clear_weak_pointer (&weak[i]);
    }
  g_free (weak);
  g_assert_cmpuint (reused, >, 0);
}

static gboolean
has_prefetched (gpointer chat)
{
  return natter_chat_view_get_n_prefetched (chat) > 0;
}

/* The top conversations' newest pages are read ahead (#17): opening one
 * has its messages in the model at once, no wait on the store's worker,
 * and a message that came after the read is among them. */
static void
test_prefetched_open (NatterTestUi  *ui,
                      gconstpointer  data)
{
  NatterMessageList *messages;
  g_autoptr(NatterMessage) last = NULL;
  g_autofree char *preview = NULL;
  guint n;

  natter_test_ui_publish (ui, "bob", "alice", "Hi from bob");
  natter_test_ui_wait_for_label (ui->root, "Hi from bob");
  natter_chat_view_prefetch (ui->chat, G_LIST_MODEL (natter_sidebar_get_conversations (ui->sidebar)));
  natter_test_ui_wait_until (has_prefetched, ui->chat, "bob's page read ahead");
  natter_test_ui_publish (ui, "bob", "alice", "Second from bob");
  natter_test_ui_wait_for_label (ui->root, "Second from bob");

  natter_window_open_conversation (ui->window, NATTER_CONVERSATION_PRIVATE, "bob", 0);
  messages = natter_chat_view_get_messages (ui->chat);
  g_assert_nonnull (messages);
  n = g_list_model_get_n_items (G_LIST_MODEL (messages));
  g_assert_cmpuint (n, >=, 2);
  last = g_list_model_get_item (G_LIST_MODEL (messages), n - 1);
  preview = natter_message_dup_preview (last);
  g_assert_cmpstr (preview, ==, "Second from bob");
  /* taken: the next open of another chat reads its own */
  g_assert_cmpuint (natter_chat_view_get_n_prefetched (ui->chat), ==, 0);
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "Second from bob");
}

static gboolean
has_rehearsed (gpointer chat)
{
  return natter_chat_view_get_n_rehearsed (chat) > 0;
}

/* The first open is rehearsed at idle (#17): a pooled row bound to a
 * message read ahead is styled, measured and drawn off-screen in the chat
 * view, then given back unbound; it is not left in the chat view, and the
 * chat opened after it shows its own messages. */
static void
test_open_rehearsed (NatterTestUi  *ui,
                     gconstpointer  data)
{
  g_autoptr(GPtrArray) rows = g_ptr_array_new ();

  natter_test_ui_publish (ui, "bob", "alice", "Hi from bob");
  natter_test_ui_wait_for_label (ui->root, "Hi from bob");
  natter_chat_view_prefetch (ui->chat, G_LIST_MODEL (natter_sidebar_get_conversations (ui->sidebar)));
  natter_test_ui_wait_until (has_prefetched, ui->chat, "bob's page read ahead");
  natter_chat_view_warm_rows (ui->chat);
  natter_test_ui_wait_until (has_rehearsed, ui->chat, "a row rehearsed with bob's message");

  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (ui->chat)); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    g_assert_false (NATTER_IS_MESSAGE_ROW (child));

  natter_test_ui_publish (ui, "carol", "alice", "Welcome to the team, Alice");
  natter_test_ui_open_chat (ui, "carol", "Welcome to the team");
  collect_rows (GTK_WIDGET (ui->chat), rows);
  for (guint i = 0; i < rows->len; i++)
    {
      NatterMessage *message = natter_message_row_get_message (rows->pdata[i]);

      /* no row kept bob's message from the rehearsal */
      g_assert_nonnull (message);
      g_assert_cmpstr (natter_message_get_sender_user_id (message), !=, "bob");
    }
}

static gboolean
last_failed (gpointer window)
{
  g_autoptr(NatterMessage) last = natter_test_ui_last_own_message (window);
  return last != NULL && natter_message_get_sent_status (last) == NATTER_SENT_STATUS_FAILED;
}

static gboolean
chat_has_conversation (gpointer chat)
{
  return natter_chat_view_get_conversation (chat) != NULL;
}

/* A refused message is marked failed with a retry button; once alice is
 * in the group, the button sends it. */
static void
test_refused_message_retried (NatterTestUi  *ui,
                              gconstpointer  data)
{
  NatterComposer *composer = natter_chat_view_get_composer (ui->chat);
  g_autoptr(NatterMessage) failed = NULL;

  natter_window_open_conversation (ui->window, NATTER_CONVERSATION_GROUP, "not-my-group", 0);
  natter_composer_set_text (composer, "Hello group?");
  natter_composer_send (composer);
  natter_test_ui_wait_until (last_failed, ui->window, "the message refused (22406)");
  failed = natter_test_ui_last_own_message (ui->window);
  g_assert_cmpint (natter_message_get_error_code (failed), ==, 22406);
  g_assert_nonnull (natter_test_ui_find_button_with_icon (GTK_WIDGET (ui->chat), "view-refresh-symbolic"));
  /* the chat opened before its conversation existed: now it has it */
  natter_test_ui_wait_until (chat_has_conversation, ui->chat, "the new chat's conversation");

  natter_test_ui_create_group (ui, "not-my-group", "Not my group", "alice", NULL);
  gtk_widget_activate (natter_test_ui_find_button_with_icon (GTK_WIDGET (ui->chat), "view-refresh-symbolic"));
  natter_test_ui_wait_until (natter_test_ui_last_sent, ui->window, "the message sent again");
  natter_test_ui_spin (200);
  g_assert_null (natter_test_ui_find_button_with_icon (GTK_WIDGET (ui->chat), "view-refresh-symbolic"));
}

static gboolean
carol_first_pinned_muted (gpointer sidebar)
{
  GListModel *list = G_LIST_MODEL (natter_sidebar_get_conversations (sidebar));
  g_autoptr(NatterConversation) first = g_list_model_get_item (list, 0);

  return first != NULL && g_str_equal (natter_conversation_get_target_id (first), "carol") &&
         natter_conversation_get_pinned (first) && natter_conversation_get_muted (first);
}

static gboolean
only_groups_listed (gpointer sidebar)
{
  GListModel *list = G_LIST_MODEL (natter_sidebar_get_conversations (sidebar));
  guint n = g_list_model_get_n_items (list);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(NatterConversation) c = g_list_model_get_item (list, i);
      if (natter_conversation_get_conversation_type (c) != NATTER_CONVERSATION_GROUP)
        return FALSE;
    }
  return n > 0 && natter_test_ui_find_label (sidebar, "Dave Miller") == NULL;
}

/* The context menu's pin and mute, and the filter by type. */
static void
test_pin_mute_and_filter (NatterTestUi  *ui,
                          gconstpointer  data)
{
  GtkWidget *groups, *all;

  natter_test_ui_set_user (ui, "dave", "Dave Miller", NULL);
  natter_test_ui_create_group (ui, "lunch", "Lunch club", "alice", "bob", NULL);
  natter_test_ui_publish (ui, "carol", "alice", "Welcome to the team, Alice 🎉");
  g_free (natter_test_ui_cli (ui, "bob", "send", "lunch", "--type", "group", "Pizza today", NULL));
  natter_test_ui_publish (ui, "dave", "alice", "Hi, I am Dave");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->sidebar), "Dave Miller");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->sidebar), "Pizza today");
  g_assert_false (carol_first_pinned_muted (ui->sidebar));

  gtk_widget_activate_action (GTK_WIDGET (ui->sidebar), "sidebar.toggle-pinned", "(is)", 1, "carol");
  gtk_widget_activate_action (GTK_WIDGET (ui->sidebar), "sidebar.toggle-muted", "(is)", 1, "carol");
  natter_test_ui_wait_until (carol_first_pinned_muted, ui->sidebar, "carol pinned on top and muted");

  groups = natter_test_ui_find_button_with_label (GTK_WIDGET (ui->sidebar), "Groups");
  all = natter_test_ui_find_button_with_label (GTK_WIDGET (ui->sidebar), "All");
  g_assert_nonnull (groups);
  g_assert_nonnull (all);
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (groups), TRUE);
  natter_test_ui_wait_until (only_groups_listed, ui->sidebar, "only groups listed");
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (all), TRUE);
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->sidebar), "Dave Miller");
}

static gboolean
mention_shown (gpointer sidebar)
{
  return natter_test_ui_find_exact_label (sidebar, "@") != NULL;   /* the mark, not the message's text */
}

static gboolean
mention_gone (gpointer sidebar)
{
  return !mention_shown (sidebar);
}

typedef struct {
  NatterConversationList *list;
  NatterConversationType  type;
  const char             *target_id;
} ConversationQuery;

static gboolean
conversation_read (gpointer data)
{
  ConversationQuery *q = data;
  g_autoptr(NatterConversation) conv = natter_test_ui_get_conversation (q->list, q->type, q->target_id);

  return conv != NULL && natter_conversation_get_unread_count (conv) == 0;
}

static gboolean
conversation_gone (gpointer data)
{
  ConversationQuery *q = data;
  return natter_conversation_list_find (q->list, q->type, q->target_id) == G_MAXUINT;
}

static gboolean
window_inactive (gpointer window)
{
  return !gtk_window_is_active (window);
}

static gboolean
conversation_unread (gpointer data)
{
  ConversationQuery *q = data;
  g_autoptr(NatterConversation) conv = natter_test_ui_get_conversation (q->list, q->type, q->target_id);

  return conv != NULL && natter_conversation_get_unread_count (conv) > 0;
}

/* Sending in a chat reads it: bob's message came while alice's window was
 * in the background (so it stayed unread in the open chat), and her
 * answer marks it read. */
static void
test_send_marks_read (NatterTestUi  *ui,
                      gconstpointer  data)
{
  NatterConversationList *list = natter_sidebar_get_conversations (ui->sidebar);
  ConversationQuery q = { list, NATTER_CONVERSATION_PRIVATE, "bob" };
  NatterComposer *composer = natter_chat_view_get_composer (ui->chat);
  GtkWidget *other;

  natter_test_ui_publish (ui, "bob", "alice", "Lunch at noon?");
  natter_test_ui_open_chat (ui, "bob", "Lunch at noon?");
  natter_test_ui_wait_until (conversation_read, &q, "bob's chat read on opening");

  /* another window in front */
  other = gtk_window_new ();
  gtk_window_present (GTK_WINDOW (other));
  natter_test_ui_wait_until (window_inactive, ui->window, "alice's window in the background");
  natter_test_ui_publish (ui, "bob", "alice", "Or at one?");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "Or at one?");
  natter_test_ui_wait_until (conversation_unread, &q, "bob's new message unread");
  natter_test_ui_spin (300);
  g_assert_true (conversation_unread (&q));

  natter_composer_set_text (composer, "One is better");
  natter_composer_send (composer);
  natter_test_ui_wait_until (conversation_read, &q, "bob's chat read after the answer");
  gtk_window_destroy (GTK_WINDOW (other));
}

/* A mention in a group marks its conversation with “@”; the context
 * menu's “Mark as Read” takes the count and the “@” away, and the title's
 * count follows. */
static void
test_mention_and_mark_read (NatterTestUi  *ui,
                            gconstpointer  data)
{
  NatterConversationList *list = natter_sidebar_get_conversations (ui->sidebar);
  ConversationQuery q = { list, NATTER_CONVERSATION_GROUP, "lunch" };
  g_autofree char *title_before = NULL;
  g_autofree char *title_after = NULL;
  guint before;

  natter_test_ui_publish (ui, "carol", "alice", "Welcome to the team, Alice 🎉");
  natter_test_ui_create_group (ui, "lunch", "Lunch club", "alice", "bob", NULL);
  g_free (natter_test_ui_cli (ui, "bob", "send", "lunch", "--type", "group", "--object-name", "RC:TxtMsg",
                              "--content",
                              "{\"content\":\"@alice pizza or sushi?\",\"mentionedInfo\":{\"type\":2,"
                              "\"userIdList\":[\"alice\"]}}",
                              NULL));
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->sidebar), "pizza or sushi?");
  natter_test_ui_wait_until (mention_shown, ui->sidebar, "the @ mark");

  before = natter_conversation_list_get_unread_total (list);
  title_before = g_strdup_printf ("Natter (%u)", before);
  g_assert_cmpuint (before, ==, 2);
  g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (ui->window)), ==, title_before);
  gtk_widget_activate_action (GTK_WIDGET (ui->sidebar), "sidebar.mark-read", "(is)",
                              NATTER_CONVERSATION_GROUP, "lunch");
  natter_test_ui_wait_until (conversation_read, &q, "lunch read");
  /* the row follows the conversation's notify, in the same turn or the next */
  natter_test_ui_wait_until (mention_gone, ui->sidebar, "the @ mark gone");
  g_assert_cmpuint (natter_conversation_list_get_unread_total (list), ==, 1);
  title_after = g_strdup_printf ("Natter (%u)", natter_conversation_list_get_unread_total (list));
  g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (ui->window)), ==, title_after);
}

static gboolean
client_caught_up (gpointer window)
{
  NatterClient *client = natter_window_get_client (window);

  return client != NULL && natter_client_get_caught_up (client);
}

/* Group messages are not in the inbox (natter.v2): while alice is away,
 * bob's mention of her and two more come to her from the group's timeline
 * once she is back, and her sidebar marks the group “@” and counts three. */
static void
test_group_mention_after_offline (NatterTestUi  *ui,
                                  gconstpointer  data)
{
  NatterConversationList *list = natter_sidebar_get_conversations (ui->sidebar);
  NatterClient *client = natter_window_get_client (ui->window);
  g_autoptr(NatterConversation) lunch = NULL;
  guint pos;

  natter_test_ui_create_group (ui, "lunch", "Lunch club", "alice", "bob", NULL);
  natter_test_ui_wait_until (client_caught_up, ui->window, "caught up");
  natter_client_disconnect (client);

  g_free (natter_test_ui_cli (ui, "bob", "send", "lunch", "--type", "group", "--object-name", "RC:TxtMsg",
                              "--content",
                              "{\"content\":\"@alice pizza or sushi?\",\"mentionedInfo\":{\"type\":2,"
                              "\"userIdList\":[\"alice\"]}}",
                              NULL));
  g_free (natter_test_ui_cli (ui, "bob", "send", "lunch", "--type", "group", "table for six", NULL));
  g_free (natter_test_ui_cli (ui, "bob", "send", "lunch", "--type", "group", "at noon", NULL));
  g_assert_false (mention_shown (ui->sidebar));

  natter_client_reconnect (client);
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->sidebar), "at noon");
  natter_test_ui_wait_until (mention_shown, ui->sidebar, "the @ mark");
  natter_test_ui_wait_until (client_caught_up, ui->window, "caught up again");
  pos = natter_conversation_list_find (list, NATTER_CONVERSATION_GROUP, "lunch");
  g_assert_cmpuint (pos, !=, G_MAXUINT);
  lunch = g_list_model_get_item (G_LIST_MODEL (list), pos);
  g_assert_cmpuint (natter_conversation_get_unread_count (lunch), ==, 3);
  g_assert_cmpuint (natter_conversation_get_mention_count (lunch), ==, 1);
  g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (ui->window)), ==, "Natter (3)");
}

/* A chat room joined from the menu's dialog: alice can write in it
 * (natterd refuses messages from non-members with 23406). */
static void
test_join_chatroom (NatterTestUi  *ui,
                    gconstpointer  data)
{
  gtk_widget_activate_action (ui->root, "win.join-chatroom", NULL);
  natter_test_ui_wait_anywhere ("Enter the ID of the chat room", "the join dialog");
  natter_test_ui_set_dialog_text ("lobby");
  natter_test_ui_respond_to_dialog ("open");
  g_assert_cmpstr (natter_chat_view_get_target_id (ui->chat), ==, "lobby");
  g_assert_cmpint (natter_chat_view_get_conversation_type (ui->chat), ==, NATTER_CONVERSATION_CHATROOM);
  natter_test_ui_spin (500);
  natter_composer_set_text (natter_chat_view_get_composer (ui->chat), "Hello lobby");
  natter_composer_send (natter_chat_view_get_composer (ui->chat));
  natter_test_ui_wait_until (natter_test_ui_last_sent, ui->window, "a message in the chat room");
}

static gboolean
chat_closed (gpointer chat)
{
  return natter_chat_view_get_target_id (chat) == NULL;
}

static gboolean
news_named (gpointer data)
{
  NatterTestUi *ui = data;
  NatterConversationList *list = natter_sidebar_get_conversations (ui->sidebar);
  guint pos = natter_conversation_list_find (list, NATTER_CONVERSATION_SYSTEM, "news");
  g_autoptr(NatterConversation) conv = NULL;
  AdwWindowTitle *title = ADW_WINDOW_TITLE (natter_test_ui_find_type (GTK_WIDGET (ui->chat), ADW_TYPE_WINDOW_TITLE));

  if (pos == G_MAXUINT)
    return FALSE;
  conv = g_list_model_get_item (G_LIST_MODEL (list), pos);
  return g_strcmp0 (natter_conversation_get_title (conv), "News Desk") == 0 &&
         g_str_has_suffix (natter_conversation_get_portrait_uri (conv) ?: "", "/news.png") &&
         g_strcmp0 (adw_window_title_get_title (title), "News Desk") == 0;
}

/* A system chat (type 6) is read-only: no composer, and named by the
 * service's profile instead of its id; so are public-service chats (7, 8);
 * a private chat has a composer again (#16). */
static void
test_system_read_only (NatterTestUi  *ui,
                       gconstpointer  data)
{
  g_autoptr(JsonObject) reply = NULL;
  guint status = 0;
  GtkWidget *composer = GTK_WIDGET (natter_chat_view_get_composer (ui->chat));
  g_autofree char *portrait = g_strconcat (natter_test_server_get_url (ui->server), "/news.png", NULL);

  natter_test_ui_set_user (ui, "news", "News Desk", portrait);
  reply = natter_test_server_api (ui->server, &status, "message/system/publish",
                                  "fromUserId", "news", "toUserId", "alice", "objectName", "RC:TxtMsg",
                                  "content", "{\"content\":\"Maintenance tonight\"}", NULL);
  g_assert_cmpuint (status, ==, 200);
  natter_window_open_conversation (ui->window, NATTER_CONVERSATION_SYSTEM, "news", 0);
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "Maintenance tonight");
  g_assert_false (gtk_widget_get_visible (composer));
  natter_test_ui_wait_until (news_named, ui, "the system chat named by its service's profile");

  /* Public services (types 7 and 8) are read-only too. */
  for (NatterConversationType type = NATTER_CONVERSATION_APP_PUBLIC_SERVICE;
       type <= NATTER_CONVERSATION_PUBLIC_SERVICE; type++)
    {
      g_autofree char *type_arg = g_strdup_printf ("%d", type);
      g_autofree char *text = g_strdup_printf ("Digest number %d", type);

      g_free (natter_test_ui_cli (ui, "digest", "send", "alice", text, "--type", type_arg, NULL));
      natter_window_open_conversation (ui->window, type, "digest", 0);
      natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), text);
      g_assert_cmpint (natter_chat_view_get_conversation_type (ui->chat), ==, type);
      g_assert_false (gtk_widget_get_visible (composer));
    }

  natter_test_ui_publish (ui, "bob", "alice", "Hi alice");
  natter_test_ui_open_chat (ui, "bob", "Hi alice");
  g_assert_true (gtk_widget_get_visible (composer));
}

static void
listened_cb (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  char **out = user_data;
  g_autoptr(GError) error = NULL;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (object), result, out, NULL, &error);
  g_assert_no_error (error);
  if (*out == NULL)
    *out = g_strdup ("");
}

static GtkWidget *
mapped_dialog (void)
{
  GListModel *toplevels = gtk_window_get_toplevels ();  /* not ours */

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GtkWidget) w = g_list_model_get_item (toplevels, i);
      if (ADW_IS_MESSAGE_DIALOG (w) && gtk_widget_get_mapped (w))
        return w;
    }
  g_error ("no dialog on screen");
}

static gboolean
string_set (gpointer out)
{
  return *(char **) out != NULL;
}

/* helpdesk listening with natter-cli (connected once this returns): @heard
 * gets the first message it hears. */
static GSubprocess *
listen_as_helpdesk (NatterTestUi  *ui,
                    char         **heard)
{
  g_autofree char *token = natter_test_ui_token (ui, "helpdesk");
  g_autofree char *profile = g_build_filename (ui->dir, "helpdesk-listen", NULL);
  const char *argv[] = {
    natter_test_program ("NATTER_CLI"), "--server", natter_test_server_get_url (ui->server),
    "--app-key", natter_test_server_get_app_key (ui->server), "--token", token, "--profile", profile,
    "-v", "listen", "--all", "--count", "1", NULL,
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(GDataInputStream) lines = NULL;
  GSubprocess *listener;

  listener = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  lines = g_data_input_stream_new (g_subprocess_get_stderr_pipe (listener));
  g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (lines), FALSE);
  for (;;)
    {
      g_autofree char *line = g_data_input_stream_read_line_utf8 (lines, NULL, NULL, &error);

      g_assert_no_error (error);
      g_assert_nonnull (line);
      if (strstr (line, "status 0") != NULL)
        break;
    }
  g_subprocess_communicate_utf8_async (listener, NULL, NULL, listened_cb, heard);
  return listener;
}

static void
open_customer_service (NatterTestUi *ui)
{
  GtkDropDown *kind;

  gtk_widget_activate_action (ui->root, "win.new-chat", NULL);
  natter_test_ui_wait_anywhere ("Enter the ID of a person or a group.", "the new chat dialog");
  kind = GTK_DROP_DOWN (natter_test_ui_find_type (mapped_dialog (), GTK_TYPE_DROP_DOWN));
  gtk_drop_down_set_selected (kind, 3);
  natter_test_ui_set_dialog_text ("helpdesk");
  natter_test_ui_respond_to_dialog ("open");
  g_assert_cmpint (natter_chat_view_get_conversation_type (ui->chat), ==, NATTER_CONVERSATION_CUSTOMER_SERVICE);
  g_assert_cmpstr (natter_chat_view_get_target_id (ui->chat), ==, "helpdesk");
}

static void
assert_handshake (const char *heard)
{
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GError) error = NULL;

  node = json_from_string (heard, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (node), "objectName"), ==, "RC:CsHs");
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (node), "conversationType"), ==, 5);
}

/* New Chat → Customer service with the service's id (#16): the app greets
 * the service with RC:CsHs (it reaches helpdesk, listening), the header
 * says “Connecting…” until the service answers, then its name; alice can
 * write to it. */
static void
test_customer_service (NatterTestUi  *ui,
                       gconstpointer  data)
{
  g_autoptr(GSubprocess) listener = NULL;
  g_autofree char *heard = NULL;

  natter_test_ui_set_user (ui, "helpdesk", "Help Desk", NULL);
  listener = listen_as_helpdesk (ui, &heard);

  open_customer_service (ui);
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (natter_chat_view_get_composer (ui->chat))));
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "Connecting…");

  natter_test_ui_wait_until (string_set, &heard, "the handshake at helpdesk");
  assert_handshake (heard);

  g_free (natter_test_ui_cli (ui, "helpdesk", "send", "alice", "How can I help?", "--type", "5", NULL));
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "How can I help?");
  natter_test_ui_wait_label_gone (GTK_WIDGET (ui->chat), "Connecting…");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "Help Desk");

  natter_composer_set_text (natter_chat_view_get_composer (ui->chat), "My order is late");
  natter_composer_send (natter_chat_view_get_composer (ui->chat));
  natter_test_ui_wait_until (natter_test_ui_last_sent, ui->window, "a message to the service");
  natter_test_ui_screenshot (GTK_WIDGET (ui->window), "screenshot-customer-service.png");
}

/* The service is offline when the chat opens: the handshake is lost (it is
 * status only), the header says the app tries again, and the next one
 * reaches helpdesk once it listens. */
static void
test_customer_service_retry (NatterTestUi  *ui,
                             gconstpointer  data)
{
  g_autoptr(GSubprocess) listener = NULL;
  g_autofree char *heard = NULL;

  natter_test_ui_set_user (ui, "helpdesk", "Help Desk", NULL);
  open_customer_service (ui);
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "Connecting…");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "No answer yet, trying again…");

  listener = listen_as_helpdesk (ui, &heard);
  natter_test_ui_wait_until (string_set, &heard, "a later handshake at helpdesk");
  assert_handshake (heard);

  g_free (natter_test_ui_cli (ui, "helpdesk", "send", "alice", "Sorry for the wait", "--type", "5", NULL));
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "Sorry for the wait");
  natter_test_ui_wait_label_gone (GTK_WIDGET (ui->chat), "No answer yet, trying again…");
}

static guint
cli_member_count (NatterTestUi *ui,
                  const char   *user,
                  const char   *room)
{
  g_autofree char *out = natter_test_ui_cli (ui, user, "join-chatroom", room, "--count", "-1", NULL);
  g_auto(GStrv) lines = g_strsplit (g_strstrip (out), "\n", -1);
  g_autoptr(JsonNode) node = json_from_string (lines[g_strv_length (lines) - 1], NULL);

  g_assert_nonnull (node);
  return (guint) json_object_get_int_member (json_node_get_object (node), "memberCount");
}

/* The chat menu's “Leave Chat Room”, only in a chat room's chat: natterd
 * drops alice (bob then finds the room with himself alone) and the chat
 * closes (#16). */
static void
test_leave_chatroom (NatterTestUi  *ui,
                     gconstpointer  data)
{
  natter_test_ui_publish (ui, "bob", "alice", "Not a chat room");
  natter_test_ui_open_chat (ui, "bob", "Not a chat room");
  gtk_widget_activate_action (ui->root, "win.leave-chatroom", NULL);
  natter_test_ui_spin (200);
  g_assert_cmpstr (natter_chat_view_get_target_id (ui->chat), ==, "bob");

  gtk_widget_activate_action (ui->root, "win.join-chatroom", NULL);
  natter_test_ui_wait_anywhere ("Enter the ID of the chat room", "the join dialog");
  natter_test_ui_set_dialog_text ("lobby");
  natter_test_ui_respond_to_dialog ("open");
  natter_test_ui_spin (500);
  g_assert_cmpuint (cli_member_count (ui, "bob", "lobby"), ==, 2);

  g_assert_true (gtk_widget_activate_action (ui->root, "win.leave-chatroom", NULL));
  natter_test_ui_wait_until (chat_closed, ui->chat, "the chat closed");
  natter_test_ui_spin (500);
  g_assert_cmpuint (cli_member_count (ui, "bob", "lobby"), ==, 1);
}

/* Deleting a chat asks first; the open chat closes with it. */
static void
test_delete_chat (NatterTestUi  *ui,
                  gconstpointer  data)
{
  ConversationQuery q = { natter_sidebar_get_conversations (ui->sidebar), NATTER_CONVERSATION_PRIVATE, "bob" };

  natter_test_ui_publish (ui, "bob", "alice", "Delete me if you like");
  natter_test_ui_publish (ui, "carol", "alice", "Keep me");
  natter_test_ui_open_chat (ui, "bob", "Delete me if you like");
  gtk_widget_activate_action (GTK_WIDGET (ui->sidebar), "sidebar.delete", "(is)", NATTER_CONVERSATION_PRIVATE, "bob");
  natter_test_ui_wait_anywhere ("Delete Chat?", "the delete dialog");
  natter_test_ui_respond_to_dialog ("delete");
  natter_test_ui_wait_until (conversation_gone, &q, "the conversation gone");
  natter_test_ui_wait_until (chat_closed, ui->chat, "the chat closed");
  g_assert_null (natter_test_ui_find_label (GTK_WIDGET (ui->sidebar), "Delete me if you like"));
  g_assert_nonnull (natter_test_ui_find_label (GTK_WIDGET (ui->sidebar), "Keep me"));
}

/* The sidebar highlights the open chat. */
static gboolean
highlight_on_open_chat (gpointer window)
{
  NatterSidebar *sidebar = natter_window_get_sidebar (window);
  NatterChatView *chat = natter_window_get_chat_view (window);
  GtkSelectionModel *selection = gtk_list_view_get_model (natter_sidebar_get_list_view (sidebar));
  NatterConversation *selected = gtk_single_selection_get_selected_item (GTK_SINGLE_SELECTION (selection));

  return selected != NULL &&
         g_strcmp0 (natter_conversation_get_target_id (selected), natter_chat_view_get_target_id (chat)) == 0;
}

/* Conversations overtake each other while the list is on screen with a
 * highlighted row (GTK 4.8's list view once crashed on how the model
 * reported a move); the highlight stays on the open chat. */
static void
test_overtaking_keeps_highlight (NatterTestUi  *ui,
                                 gconstpointer  data)
{
  const char *from[] = { "bob", "dave", "erin" };
  g_autofree char *open_before = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (from); i++)
    natter_test_ui_publish (ui, from[i], "alice", "Hello");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->sidebar), "erin");
  natter_window_open_conversation (ui->window, NATTER_CONVERSATION_PRIVATE, "dave", 0);
  natter_test_ui_wait_until (highlight_on_open_chat, ui->window, "dave highlighted");
  for (guint i = 0; i < 9; i++)
    {
      g_autofree char *text = g_strdup_printf ("overtaking %u", i);

      natter_test_ui_publish (ui, from[i % 3], "alice", text);
      natter_test_ui_spin (i % 2 ? 0 : 30);
    }
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->sidebar), "overtaking 8");
  g_assert_true (highlight_on_open_chat (ui->window));
  open_before = g_strdup (natter_chat_view_get_target_id (ui->chat));
  gtk_widget_activate_action (ui->root, "win.next-conversation", NULL);
  g_assert_cmpstr (natter_chat_view_get_target_id (ui->chat), !=, open_before);
  natter_test_ui_wait_until (highlight_on_open_chat, ui->window, "the highlight moved with Alt+Down");
}

static gboolean
last_is_recalled (gpointer window)
{
  g_autoptr(NatterMessage) last = natter_test_ui_last_own_message (window);
  return last != NULL && natter_message_get_kind (last) == NATTER_MESSAGE_KIND_RECALLED;
}

/* alice recalls her message: it becomes a notice, for bob too. */
static void
test_recall (NatterTestUi  *ui,
             gconstpointer  data)
{
  g_autoptr(NatterMessage) sent = NULL;
  g_autofree char *history = NULL;

  natter_test_ui_publish (ui, "bob", "alice", "Tell me a secret");
  natter_test_ui_open_chat (ui, "bob", "Tell me a secret");
  natter_composer_set_text (natter_chat_view_get_composer (ui->chat), "I should not have said this");
  natter_composer_send (natter_chat_view_get_composer (ui->chat));
  natter_test_ui_wait_until (natter_test_ui_last_sent, ui->window, "the message sent");
  history = natter_test_ui_cli (ui, "bob", "history", "alice", NULL);
  g_assert_nonnull (strstr (history, "I should not have said this"));
  g_clear_pointer (&history, g_free);

  sent = natter_test_ui_last_own_message (ui->window);
  gtk_widget_activate_action (GTK_WIDGET (ui->chat), "chat.recall", "x", natter_message_get_message_id (sent));
  natter_test_ui_wait_until (last_is_recalled, ui->window, "the message recalled");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "You recalled a message");
  natter_test_ui_wait_label_gone (GTK_WIDGET (ui->chat), "I should not have said this");
  history = natter_test_ui_cli (ui, "bob", "history", "alice", NULL);
  g_assert_null (strstr (history, "I should not have said this"));
}

/* ------------------------------------------------------ a long history */

typedef struct {
  GListModel *model;
  guint       n;
} ItemsQuery;

static gboolean
has_items (gpointer data)
{
  ItemsQuery *q = data;
  return g_list_model_get_n_items (q->model) >= q->n;
}

static gboolean
chat_at_bottom (gpointer chat)
{
  return natter_chat_view_get_at_bottom (chat);
}

static gboolean
older_loaded (gpointer chat)
{
  NatterMessageList *list = natter_chat_view_get_messages (chat);
  return g_list_model_get_n_items (G_LIST_MODEL (list)) >= 2 * NATTER_MESSAGE_LIST_PAGE_SIZE &&
         !natter_message_list_get_loading (list);
}

/* Scrolled off the top: the page that went in above pushed the view down. */
static gboolean
scrolled_off_top (gpointer adj)
{
  return gtk_adjustment_get_value (adj) > 0;
}

/* The chat's list has a size and more rows than fit. */
static gboolean
history_laid_out (gpointer chat)
{
  GtkListView *list_view = natter_chat_view_get_list_view (chat);
  GtkAdjustment *adj = gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (list_view));

  return gtk_widget_get_height (GTK_WIDGET (list_view)) > 0 &&
         gtk_adjustment_get_upper (adj) > gtk_adjustment_get_page_size (adj);
}

/* A profile of 300 messages with "peer0", signed in to a server that is
 * not there (the store is all there is), open in a 900×600 window. */
static void
open_generated_history (NatterTestUi *ui,
                        const char   *name)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *profile = g_build_filename (ui->dir, name, NULL);
  g_autofree char *ini = g_build_filename (profile, "account.ini", NULL);
  g_autofree char *token = g_build_filename (profile, "token", NULL);
  g_autofree char *out = NULL;
  const char *argv[] = { natter_test_program ("NATTER_CLI"), "generate-profile", profile,
                         "--messages", "300", "--conversations", "1", "--owner", "me", NULL };

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (ini, "[account]\nserver-url=http://127.0.0.1:9\napp-key=k\nuser-id=me\n", -1, NULL));
  g_assert_true (g_file_set_contents_full (token, "t", -1, G_FILE_SET_CONTENTS_NONE, 0600, NULL));

  natter_test_ui_open (ui, profile);
  gtk_window_set_default_size (GTK_WINDOW (ui->window), 900, 600);
  natter_test_ui_wait_for_page (ui->window, "main");
}

typedef struct {
  GtkListView *list_view;
  guint first_rows;      /* rows with a message at the first frame that had any */
  int first_height;      /* the list view's height then */
} OpenFrame;

/* The list view's rows showing a message. */
static guint
count_bound_rows (GtkListView *list_view,
                  int         *min_height)
{
  guint n = 0;

  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (list_view)); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *row = gtk_widget_get_first_child (child);

      if (!NATTER_IS_MESSAGE_ROW (row) || natter_message_row_get_message (NATTER_MESSAGE_ROW (row)) == NULL)
        continue;
      n++;
      if (min_height != NULL && gtk_widget_get_height (row) > 0)
        *min_height = MIN (*min_height, gtk_widget_get_height (row));
    }
  return n;
}

static void
open_after_paint_cb (GdkFrameClock *clock,
                     OpenFrame     *frame)
{
  if (frame->first_rows == 0)
    {
      frame->first_rows = count_bound_rows (frame->list_view, NULL);
      frame->first_height = gtk_widget_get_height (GTK_WIDGET (frame->list_view));
    }
}

static gboolean
open_painted (gpointer data)
{
  return ((OpenFrame *) data)->first_rows > 0;
}

/* The whole page has rows. */
static gboolean
page_has_rows (gpointer chat)
{
  GtkListView *list_view = natter_chat_view_get_list_view (chat);
  GListModel *model = G_LIST_MODEL (gtk_list_view_get_model (list_view));

  return g_list_model_get_n_items (model) >= NATTER_MESSAGE_LIST_PAGE_SIZE &&
         count_bound_rows (list_view, NULL) >= NATTER_MESSAGE_LIST_PAGE_SIZE;
}

/* Opening a long chat (#17): the first frame has rows only for the newest
 * messages that fit (GTK 4.8 made one for each of the page's messages),
 * the rest of the page comes right after, and the chat stays at its
 * newest message. */
static void
test_open_tail (NatterTestUi  *ui,
                gconstpointer  data)
{
  OpenFrame frame = { 0 };
  GdkFrameClock *clock;
  gulong paint_id;
  int min_height = G_MAXINT;
  guint fit;

  open_generated_history (ui, "tail");
  frame.list_view = natter_chat_view_get_list_view (ui->chat);
  clock = gtk_widget_get_frame_clock (GTK_WIDGET (ui->window));
  g_assert_nonnull (clock);
  paint_id = g_signal_connect (clock, "after-paint", G_CALLBACK (open_after_paint_cb), &frame);
  natter_window_open_conversation (ui->window, NATTER_CONVERSATION_PRIVATE, "peer0", 0);
  natter_test_ui_wait_until (open_painted, &frame, "the chat's first frame");
  g_signal_handler_disconnect (clock, paint_id);

  /* the rest of the page, then the rows' heights as laid out */
  natter_test_ui_wait_until (page_has_rows, ui->chat, "the whole page in rows");
  natter_test_ui_wait_until (history_laid_out, ui->chat, "the history laid out");
  natter_test_ui_spin (300);
  count_bound_rows (frame.list_view, &min_height);
  g_assert_cmpint (min_height, <, G_MAXINT);
  g_assert_cmpint (frame.first_height, >, 0);
  fit = (guint) ((frame.first_height + min_height - 1) / min_height);
  g_test_message ("first frame: %u rows, %d px high, rows ≥ %d px: %u fit",
                  frame.first_rows, frame.first_height, min_height, fit);
  g_assert_cmpuint (frame.first_rows, <=, fit + 2);
  g_assert_cmpuint (frame.first_rows, <, NATTER_MESSAGE_LIST_PAGE_SIZE);
  /* at the newest still, which is in view */
  g_assert_true (natter_chat_view_get_at_bottom (ui->chat));
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "#299");
}

/* A message in the chat with @peer_id as if it had come (or gone). */
static void
insert_local (NatterTestUi           *ui,
              const char             *peer_id,
              const char             *sender_id,
              NatterMessageDirection  direction,
              const char             *object_name,
              JsonObject             *content)
{
  natter_client_insert_local_message_async (natter_window_get_client (ui->window),
                                            NATTER_CONVERSATION_PRIVATE, peer_id, sender_id,
                                            object_name, content, direction, 0, NULL, NULL, NULL);
}

typedef struct {
  GtkWidget *row;           /* weak */
  NatterMessage *message;
  guint bindings;
} RowBinding;

/* A long local history: the newest at the bottom, older pages come when
 * scrolled to the top, and what was in view stays in view; messages that
 * arrive meanwhile go in below it, and the jump button brings them. */
static void
test_history (NatterTestUi  *ui,
              gconstpointer  data)
{
  g_autofree char *anchor_text = NULL;
  GListModel *messages;
  GtkAdjustment *adj;
  GtkWidget *jump;
  GPtrArray *rows;
  RowBinding *bound;
  double value;
  guint n;

  open_generated_history (ui, "history");
  natter_window_open_conversation (ui->window, NATTER_CONVERSATION_PRIVATE, "peer0", 0);
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "#299");   /* the newest, at the bottom */
  /* on screen is not laid out yet on a slow machine */
  natter_test_ui_wait_until (history_laid_out, ui->chat, "the history laid out");
  natter_test_ui_spin (300);
  g_assert_true (natter_chat_view_get_at_bottom (ui->chat));

  /* scrolling up, the next page comes screens ahead of the top (#17) */
  adj = gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (natter_chat_view_get_list_view (ui->chat)));
  {
    ItemsQuery more = { G_LIST_MODEL (natter_chat_view_get_messages (ui->chat)), 0 };

    /* up a little, more than a screen from the top (where a page came before) */
    double to = MIN (gtk_adjustment_get_value (adj) - 1, 2 * gtk_adjustment_get_page_size (adj));

    more.n = g_list_model_get_n_items (more.model) + NATTER_MESSAGE_LIST_PAGE_SIZE;
    g_assert_cmpfloat (to, >, gtk_adjustment_get_page_size (adj));
    gtk_adjustment_set_value (adj, to);
    natter_test_ui_wait_until (has_items, &more, "an older page ahead of the scroll");
    natter_test_ui_spin (300);
  }

  /* to the top: the next page comes, and the message that was in view stays */
  adj = gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (natter_chat_view_get_list_view (ui->chat)));
  g_assert_cmpfloat (gtk_adjustment_get_upper (adj), >, gtk_adjustment_get_page_size (adj));
  /* at the top, the oldest message loaded is in view; it must stay in
   * view while the older page goes in above it */
  {
    g_autoptr(NatterMessage) oldest = g_list_model_get_item (G_LIST_MODEL (natter_chat_view_get_messages (ui->chat)), 0);
    anchor_text = g_strdup (natter_message_get_text (oldest));
  }
  /* the rows GTK has for the messages loaded (their count of bindings) */
  rows = g_ptr_array_new ();
  collect_rows (GTK_WIDGET (ui->chat), rows);
  bound = g_new0 (RowBinding, rows->len);
  for (guint i = 0; i < rows->len; i++)
    {
      g_set_weak_pointer (&bound[i].row, rows->pdata[i]);
      bound[i].message = natter_message_row_get_message (rows->pdata[i]);
      if (bound[i].message != NULL)
        g_object_ref (bound[i].message);
      bound[i].bindings = natter_message_row_get_bindings (rows->pdata[i]);
    }
  /* a scroll to the end that waits for the layout (a message came in,
   * say) does not undo a scroll up meanwhile */
  natter_chat_view_scroll_to_bottom (ui->chat);
  gtk_adjustment_set_value (adj, 0);   /* as a scroll wheel does */
  natter_test_ui_wait_until (older_loaded, ui->chat, "an older page");
  /* the list lays the page out in a later frame (several on a loaded
   * box): wait for it, then check it stays */
  natter_test_ui_wait_until (scrolled_off_top, adj, "the view kept below the older page");
  natter_test_ui_spin (300);
  /* an older page going in above them leaves them as they were: GTK 4.8
   * asks for them again at their new positions, and all of them were made
   * again (#17: ~200 rows in one frame of a fling); only the oldest has a
   * new message above it */
  {
    guint kept = 0;

    for (guint i = 0; i < rows->len; i++)
      {
        if (bound[i].row != NULL && bound[i].message != NULL &&
            natter_message_row_get_message (NATTER_MESSAGE_ROW (bound[i].row)) == bound[i].message &&
            g_strcmp0 (natter_message_get_text (bound[i].message), anchor_text) != 0)
          {
            g_assert_cmpuint (natter_message_row_get_bindings (NATTER_MESSAGE_ROW (bound[i].row)), ==,
                              bound[i].bindings);
            kept++;
          }
        g_clear_weak_pointer (&bound[i].row);
        g_clear_object (&bound[i].message);
      }
    g_assert_cmpuint (kept, >, 0);
    g_clear_pointer (&bound, g_free);
    g_clear_pointer (&rows, g_ptr_array_unref);
  }
  g_assert_nonnull (natter_test_ui_find_label (GTK_WIDGET (ui->chat), anchor_text));
  g_assert_cmpfloat (gtk_adjustment_get_value (adj), >, 0);
  g_assert_false (natter_chat_view_get_at_bottom (ui->chat));
  g_assert_null (natter_test_ui_find_label (GTK_WIDGET (ui->chat), "#299"));

  /* messages that arrive while scrolled up go in below: what is in view
   * stays where it is, and the jump button is there */
  messages = G_LIST_MODEL (natter_chat_view_get_messages (ui->chat));
  n = g_list_model_get_n_items (messages);
  value = gtk_adjustment_get_value (adj);
  for (guint i = 1; i <= 3; i++)
    {
      g_autofree char *text = g_strdup_printf ("arrived while scrolled up %u", i);
      g_autoptr(JsonObject) content = natter_content_new_text (text);
      insert_local (ui, "peer0", "peer0", NATTER_MESSAGE_DIRECTION_RECEIVE, NATTER_OBJECT_TEXT, content);
    }
  {
    ItemsQuery iq = { messages, n + 3 };
    natter_test_ui_wait_until (has_items, &iq, "three new messages");
  }
  natter_test_ui_spin (400);
  g_assert_nonnull (natter_test_ui_find_label (GTK_WIDGET (ui->chat), anchor_text));
  g_assert_cmpfloat_with_epsilon (gtk_adjustment_get_value (adj), value, 1.0);
  g_assert_false (natter_chat_view_get_at_bottom (ui->chat));
  g_assert_null (natter_test_ui_find_label (GTK_WIDGET (ui->chat), "arrived while scrolled up"));

  /* and back down with the jump button (shown only while scrolled up) */
  jump = natter_test_ui_find_button_with_icon (GTK_WIDGET (ui->chat), "go-bottom-symbolic");
  g_assert_nonnull (jump);
  gtk_widget_activate (jump);
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "arrived while scrolled up 3");
  natter_test_ui_wait_until (chat_at_bottom, ui->chat, "the chat at the bottom");
  natter_test_ui_spin (400);
  g_assert_null (natter_test_ui_find_button_with_icon (GTK_WIDGET (ui->chat), "go-bottom-symbolic"));
}

static gboolean
is_avatar (GtkWidget     *widget,
           gconstpointer  data)
{
  return NATTER_IS_AVATAR (widget);
}

/* One sender within minutes: one group, the avatar on its first bubble
 * only (after a message of ours, which starts a new group), with the
 * sender's initials. */
static void
test_grouped_bubbles (NatterTestUi  *ui,
                      gconstpointer  data)
{
  const struct { const char *text; NatterMessageDirection direction; } in[] = {
    { "a word from me", NATTER_MESSAGE_DIRECTION_SEND },
    { "grouped one", NATTER_MESSAGE_DIRECTION_RECEIVE },
    { "grouped two", NATTER_MESSAGE_DIRECTION_RECEIVE },
  };

  /* local messages only: none sorts by natterd's clock */
  natter_window_open_conversation (ui->window, NATTER_CONVERSATION_PRIVATE, "bob", 0);
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "No messages here yet");
  for (guint i = 0; i < G_N_ELEMENTS (in); i++)
    {
      g_autoptr(JsonObject) content = natter_content_new_text (in[i].text);
      insert_local (ui, "bob", in[i].direction == NATTER_MESSAGE_DIRECTION_SEND ? "alice" : "bob",
                    in[i].direction, NATTER_OBJECT_TEXT, content);
    }
  /* each insert is on its own: all three, not only the last */
  for (guint i = 0; i < G_N_ELEMENTS (in); i++)
    natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), in[i].text);
  natter_test_ui_spin (300);
  for (guint i = 1; i < G_N_ELEMENTS (in); i++)
    {
      GtkWidget *row = gtk_widget_get_ancestor (natter_test_ui_find_label (GTK_WIDGET (ui->chat), in[i].text),
                                                g_type_from_name ("NatterMessageRow"));
      g_assert_nonnull (row);
      if (i == 1)
        {
          g_assert_nonnull (natter_test_ui_find_type (row, NATTER_TYPE_AVATAR));
          g_assert_cmpstr (natter_avatar_get_initials (NATTER_AVATAR (natter_test_ui_find_any (row, is_avatar, NULL))), ==, "B");
        }
      else
        g_assert_null (natter_test_ui_find_type (row, NATTER_TYPE_AVATAR));
    }
}

/* Call summaries (each side stores its own) read as what happened. */
static void
test_call_summaries (NatterTestUi  *ui,
                     gconstpointer  data)
{
  struct { int media, duration, status; gint64 connected; } calls[] = {
    { NATTER_CALL_MEDIA_VIDEO, 201, 3, 1 },
    { NATTER_CALL_MEDIA_AUDIO, 0, NATTER_CALL_REASON_REMOTE_NO_RESPONSE, 0 },
  };

  natter_window_open_conversation (ui->window, NATTER_CONVERSATION_PRIVATE, "bob", 0);
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "No messages here yet");
  for (guint i = 0; i < G_N_ELEMENTS (calls); i++)
    {
      g_autoptr(JsonObject) content = json_object_new ();
      gint64 now = g_get_real_time () / 1000;

      json_object_set_string_member (content, "caller", "bob");
      json_object_set_int_member (content, "mediaType", calls[i].media);
      json_object_set_int_member (content, "startTime", now - 300000);
      json_object_set_int_member (content, "connectedTime", calls[i].connected ? now - 290000 : 0);
      json_object_set_int_member (content, "duration", calls[i].duration);
      json_object_set_int_member (content, "status", calls[i].status);
      insert_local (ui, "bob", "bob", NATTER_MESSAGE_DIRECTION_RECEIVE, NATTER_OBJECT_CALL_SUMMARY, content);
    }
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "Video call · 3:21");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "Missed call");
}

int
main (int argc, char *argv[])
{
  natter_test_ui_init (&argc, &argv);

  g_test_add ("/ui/offline-messages-listed", NatterTestUi, NULL,
              natter_test_ui_setup, test_offline_messages_listed, natter_test_ui_teardown);
  g_test_add ("/ui/message-arrives-live", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_message_arrives_live, natter_test_ui_teardown);
  g_test_add ("/ui/answer-reaches-peer", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_answer_reaches_peer, natter_test_ui_teardown);
  g_test_add ("/ui/enter-sends", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_enter_sends, natter_test_ui_teardown);
  g_test_add ("/ui/emoji-chooser", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_emoji_chooser, natter_test_ui_teardown);
  g_test_add ("/ui/read-tick", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_read_tick, natter_test_ui_teardown);
  g_test_add ("/ui/status-icon-kept", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_status_icon_kept, natter_test_ui_teardown);
  g_test_add ("/ui/typing-shown", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_typing_shown, natter_test_ui_teardown);
  g_test_add ("/ui/unknown-message-kind", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_unknown_message_kind, natter_test_ui_teardown);
  g_test_add ("/ui/sender-name-and-portrait", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_sender_name_and_portrait, natter_test_ui_teardown);
  g_test_add ("/ui/new-chat", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_new_chat, natter_test_ui_teardown);
  g_test_add ("/ui/search-jumps-to-message", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_search_jumps_to_message, natter_test_ui_teardown);
  g_test_add ("/ui/rows-reused", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_rows_reused, natter_test_ui_teardown);
  g_test_add ("/ui/prefetched-open", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_prefetched_open, natter_test_ui_teardown);
  g_test_add ("/ui/open-rehearsed", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_open_rehearsed, natter_test_ui_teardown);
  g_test_add ("/ui/open-tail", NatterTestUi, NULL,
              natter_test_ui_setup, test_open_tail, natter_test_ui_teardown);
  g_test_add ("/ui/draft-per-conversation", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_draft_per_conversation, natter_test_ui_teardown);
  g_test_add ("/ui/refused-message-retried", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_refused_message_retried, natter_test_ui_teardown);
  g_test_add ("/ui/pin-mute-and-filter", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_pin_mute_and_filter, natter_test_ui_teardown);
  g_test_add ("/ui/send-marks-read", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_send_marks_read, natter_test_ui_teardown);
  g_test_add ("/ui/mention-and-mark-read", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_mention_and_mark_read, natter_test_ui_teardown);
  g_test_add ("/ui/group-mention-after-offline", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_group_mention_after_offline, natter_test_ui_teardown);
  g_test_add ("/ui/join-chatroom", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_join_chatroom, natter_test_ui_teardown);
  g_test_add ("/ui/system-read-only", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_system_read_only, natter_test_ui_teardown);
  g_test_add ("/ui/customer-service", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_customer_service, natter_test_ui_teardown);
  g_test_add ("/ui/customer-service-retry", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_customer_service_retry, natter_test_ui_teardown);
  g_test_add ("/ui/leave-chatroom", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_leave_chatroom, natter_test_ui_teardown);
  g_test_add ("/ui/delete-chat", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_delete_chat, natter_test_ui_teardown);
  g_test_add ("/ui/overtaking-keeps-highlight", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_overtaking_keeps_highlight, natter_test_ui_teardown);
  g_test_add ("/ui/recall", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_recall, natter_test_ui_teardown);
  g_test_add ("/ui/history", NatterTestUi, NULL,
              natter_test_ui_setup, test_history, natter_test_ui_teardown);
  g_test_add ("/ui/grouped-bubbles", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_grouped_bubbles, natter_test_ui_teardown);
  g_test_add ("/ui/call-summaries", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_call_summaries, natter_test_ui_teardown);
  return natter_test_ui_run ();
}
