/* test-ui-window.c — the window on the desktop: preferences, style,
 * shortcuts, screen readers, the narrow layout, notifications, and the
 * screenshots of the README
 *
 * alice's window against a real natterd (natter-test-ui.h); each case runs
 * alone with `-p /ui/NAME`. `-p /ui/screenshots` makes the screenshots in
 * the build dir (tests/screenshot-*.png).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "natter-test-ui.h"

/* Preferences → Account says where the token is kept. */
static void
test_preferences_token_note (NatterTestUi  *ui,
                             gconstpointer  data)
{
  natter_test_ui_preferences_show_token_note ();
}

/* The probe hold's file (NATTER_TEST_DEVICE_PROBE_HOLD, set in main()
 * before any thread runs): there, the probe goes; removed, it waits. */
static char *probe_hold;

/* Preferences → Devices: the device probe (which can block for seconds on
 * PipeWire, PulseAudio or V4L2) runs on a worker. Held back by the test
 * hook, the window still gets its first frame, the device rows waiting
 * insensitive; released, the rows are filled. */
typedef struct {
  GtkWidget *camera_row;
  gboolean   framed;
  gboolean   listed_at_first_frame;
} DeviceProbe;

static gboolean
first_frame_cb (GtkWidget     *widget,
                GdkFrameClock *clock,
                gpointer       user_data)
{
  DeviceProbe *probe = user_data;

  probe->framed = TRUE;
  probe->listed_at_first_frame = adw_combo_row_get_model (ADW_COMBO_ROW (probe->camera_row)) != NULL;
  return G_SOURCE_REMOVE;
}

/* The row titled @title, mapped or not (the window has no frame yet). */
static GtkWidget *
find_combo_row (GtkWidget  *widget,
                const char *title)
{
  if (ADW_IS_COMBO_ROW (widget) &&
      g_strcmp0 (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (widget)), title) == 0)
    return widget;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_combo_row (child, title);
      if (found != NULL)
        return found;
    }
  return NULL;
}

static gboolean
prefs_shown (gpointer data)
{
  return natter_test_ui_find_toplevel (g_type_from_name ("NatterPreferencesWindow")) != NULL;
}

static gboolean
probe_started (gpointer data)
{
  return g_file_test (data, G_FILE_TEST_EXISTS);
}

static gboolean
probe_framed (gpointer data)
{
  return ((DeviceProbe *) data)->framed;
}

static gboolean
devices_listed (gpointer data)
{
  GtkWidget *row = ((DeviceProbe *) data)->camera_row;

  return adw_combo_row_get_model (ADW_COMBO_ROW (row)) != NULL && gtk_widget_get_sensitive (row);
}

static void
test_preferences_devices_async (NatterTestUi  *ui,
                                gconstpointer  data)
{
  g_autofree char *started = g_strconcat (probe_hold, ".started", NULL);
  DeviceProbe probe = { NULL, };
  g_autoptr(GtkStringObject) first = NULL;
  GtkWidget *prefs;

  g_assert_no_errno (g_unlink (probe_hold));
  g_action_group_activate_action (G_ACTION_GROUP (natter_test_ui_app ()), "preferences", NULL);
  natter_test_ui_wait_until (prefs_shown, NULL, "the preferences window");
  prefs = natter_test_ui_find_toplevel (g_type_from_name ("NatterPreferencesWindow"));
  probe.camera_row = find_combo_row (prefs, "Camera");
  g_assert_nonnull (probe.camera_row);
  /* a frame that comes while the probe is under way (a probe on the main
   * thread would hold the frame back until it ended) */
  natter_test_ui_wait_until (probe_started, started, "the device probe to start");
  g_assert_no_errno (g_unlink (started));
  gtk_widget_add_tick_callback (prefs, first_frame_cb, &probe, NULL);
  natter_test_ui_wait_until (probe_framed, &probe, "the preferences' first frame while the probe is held");
  g_assert_false (probe.listed_at_first_frame);
  g_assert_false (gtk_widget_get_sensitive (probe.camera_row));

  /* the probe goes on: the rows are filled when it answers */
  g_assert_true (g_file_set_contents (probe_hold, "", 0, NULL));
  natter_test_ui_wait_until (devices_listed, &probe, "the camera row's devices");
  first = g_list_model_get_item (adw_combo_row_get_model (ADW_COMBO_ROW (probe.camera_row)), 0);
  g_assert_cmpstr (gtk_string_object_get_string (first), ==, "System Default");
  natter_test_ui_close_windows_of_type (g_type_from_name ("NatterPreferencesWindow"));
}

/* Closed while the probe is held: the answer finds no window (the task
 * stops the monitor) and nothing crashes. */
static void
test_preferences_devices_closed (NatterTestUi  *ui,
                                 gconstpointer  data)
{
  g_autofree char *started = g_strconcat (probe_hold, ".started", NULL);

  g_assert_no_errno (g_unlink (probe_hold));
  g_action_group_activate_action (G_ACTION_GROUP (natter_test_ui_app ()), "preferences", NULL);
  natter_test_ui_wait_until (prefs_shown, NULL, "the preferences window");
  natter_test_ui_wait_until (probe_started, started, "the device probe to start");
  g_assert_no_errno (g_unlink (started));
  natter_test_ui_close_windows_of_type (g_type_from_name ("NatterPreferencesWindow"));
  g_assert_true (g_file_set_contents (probe_hold, "", 0, NULL));
  /* the worker's answer arrives and is dropped */
  natter_test_ui_spin (1500);
  g_assert_null (natter_test_ui_find_toplevel (g_type_from_name ("NatterPreferencesWindow")));
}

/* Preferences → Style → Dark turns the app dark (it follows the system
 * by default), and back. */
static void
set_style (guint position)
{
  GtkWidget *prefs, *label;

  g_action_group_activate_action (G_ACTION_GROUP (natter_test_ui_app ()), "preferences", NULL);
  natter_test_ui_wait_anywhere ("Style", "the preferences");
  prefs = natter_test_ui_find_toplevel (g_type_from_name ("NatterPreferencesWindow"));
  label = natter_test_ui_find_label (prefs, "Style");
  adw_combo_row_set_selected (ADW_COMBO_ROW (gtk_widget_get_ancestor (label, ADW_TYPE_COMBO_ROW)), position);
  natter_test_ui_close_windows_of_type (g_type_from_name ("NatterPreferencesWindow"));
  natter_test_ui_spin (300);
}

static void
test_dark_mode (NatterTestUi  *ui,
                gconstpointer  data)
{
  AdwStyleManager *style = adw_style_manager_get_default ();

  g_assert_cmpint (adw_style_manager_get_color_scheme (style), ==, ADW_COLOR_SCHEME_DEFAULT);
  set_style (2);
  g_assert_true (adw_style_manager_get_dark (style));
  g_assert_cmpint (adw_style_manager_get_color_scheme (style), ==, ADW_COLOR_SCHEME_FORCE_DARK);
  set_style (0);
  g_assert_cmpint (adw_style_manager_get_color_scheme (style), ==, ADW_COLOR_SCHEME_DEFAULT);
}

/* The keyboard shortcuts of the issue, and the window that lists them
 * (Ctrl+?). */
static void
test_shortcuts (NatterTestUi  *ui,
                gconstpointer  data)
{
  struct { const char *action, *accel; } shortcuts[] = {
    { "win.search", "<Control>k" }, { "win.new-chat", "<Control>n" },
    { "win.next-conversation", "<Alt>Down" }, { "win.previous-conversation", "<Alt>Up" },
    { "win.escape", "Escape" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (shortcuts); i++)
    {
      g_auto(GStrv) accels = gtk_application_get_accels_for_action (GTK_APPLICATION (natter_test_ui_app ()),
                                                                    shortcuts[i].action);
      g_assert_true (g_strv_contains ((const char * const *) accels, shortcuts[i].accel));
    }
  /* built when first asked for, not with the window (#17) */
  g_assert_null (gtk_application_window_get_help_overlay (GTK_APPLICATION_WINDOW (ui->window)));
  gtk_widget_activate_action (ui->root, "win.show-help-overlay", NULL);
  g_assert_nonnull (gtk_application_window_get_help_overlay (GTK_APPLICATION_WINDOW (ui->window)));
  natter_test_ui_wait_anywhere ("Search messages", "the shortcuts window");
  g_assert_true (natter_test_ui_label_anywhere ((gpointer) "Next conversation"));
  g_assert_true (natter_test_ui_label_anywhere ((gpointer) "Close the chat or the search"));
  natter_test_ui_close_windows_of_type (GTK_TYPE_SHORTCUTS_WINDOW);
}

static gboolean
has_search_entry (gpointer sidebar)
{
  return natter_test_ui_find_type (sidebar, GTK_TYPE_SEARCH_ENTRY) != NULL;
}

static gboolean
search_closed (gpointer sidebar)
{
  return !has_search_entry (sidebar);
}

/* Alt+Down and Alt+Up walk the list from the open chat; Escape closes the
 * search first, then the chat. */
static void
test_keyboard_navigation (NatterTestUi  *ui,
                          gconstpointer  data)
{
  natter_test_ui_publish (ui, "carol", "alice", "Welcome to the team, Alice 🎉");
  natter_test_ui_publish (ui, "bob", "alice", "Hi Alice!");
  natter_test_ui_open_chat (ui, "bob", "Hi Alice!");

  gtk_widget_activate_action (ui->root, "win.next-conversation", NULL);
  g_assert_cmpstr (natter_chat_view_get_target_id (ui->chat), ==, "carol");
  gtk_widget_activate_action (ui->root, "win.previous-conversation", NULL);
  g_assert_cmpstr (natter_chat_view_get_target_id (ui->chat), ==, "bob");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "Hi Alice!");

  gtk_widget_activate_action (ui->root, "win.search", NULL);
  natter_test_ui_wait_until (has_search_entry, ui->sidebar, "the search entry");
  gtk_widget_activate_action (ui->root, "win.escape", NULL);
  natter_test_ui_wait_until (search_closed, ui->sidebar, "the search closed");
  g_assert_cmpstr (natter_chat_view_get_target_id (ui->chat), ==, "bob");
  gtk_widget_activate_action (ui->root, "win.escape", NULL);
  g_assert_null (natter_chat_view_get_target_id (ui->chat));
}

/* Appends to @unnamed each mapped button under @widget that shows only an
 * icon and has no accessible label (nor its menu button). */
static void
check_icon_buttons_named (GtkWidget *widget,
                          GString   *unnamed)
{
  if (!gtk_widget_get_mapped (widget))
    return;
  if (GTK_IS_BUTTON (widget) && gtk_button_get_icon_name (GTK_BUTTON (widget)) != NULL)
    {
      GtkWidget *menu_button = gtk_widget_get_ancestor (widget, GTK_TYPE_MENU_BUTTON);

      if (!gtk_test_accessible_has_property (GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_PROPERTY_LABEL) &&
          !gtk_test_accessible_has_relation (GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_RELATION_LABELLED_BY) &&
          (menu_button == NULL ||
           !gtk_test_accessible_has_property (GTK_ACCESSIBLE (menu_button), GTK_ACCESSIBLE_PROPERTY_LABEL)))
        g_string_append_printf (unnamed, "%s(%s) in %s; ", G_OBJECT_TYPE_NAME (widget),
                                gtk_button_get_icon_name (GTK_BUTTON (widget)),
                                G_OBJECT_TYPE_NAME (gtk_widget_get_parent (widget)));
    }
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    check_icon_buttons_named (child, unnamed);
}

/* Every icon-only button on screen (the list, a chat, its composer) has a
 * name for screen readers, and conversation rows read as “bob, …”. */
static void
test_accessible_names (NatterTestUi  *ui,
                       gconstpointer  data)
{
  g_autoptr(GString) unnamed = g_string_new (NULL);
  GtkWidget *probe = g_object_ref_sink (gtk_button_new_from_icon_name ("edit-copy-symbolic"));
  GtkWidget *row;

  /* the check can fail: a bare icon button has no name */
  g_assert_false (gtk_test_accessible_has_property (GTK_ACCESSIBLE (probe), GTK_ACCESSIBLE_PROPERTY_LABEL));
  g_object_unref (probe);

  natter_test_ui_publish (ui, "bob", "alice", "Can you read this?");
  natter_test_ui_open_chat (ui, "bob", "Can you read this?");
  check_icon_buttons_named (ui->root, unnamed);
  g_assert_cmpstr (unnamed->str, ==, "");
  row = natter_test_ui_find_type (GTK_WIDGET (ui->sidebar), g_type_from_name ("NatterConversationRow"));
  g_assert_nonnull (row);
  g_assert_true (gtk_test_accessible_has_property (GTK_ACCESSIBLE (row), GTK_ACCESSIBLE_PROPERTY_LABEL));
}

static gboolean
is_folded (gpointer root)
{
  GtkWidget *leaflet = natter_test_ui_find_type (root, ADW_TYPE_LEAFLET);
  return leaflet != NULL && adw_leaflet_get_folded (ADW_LEAFLET (leaflet));
}

/* Narrow: one pane at a time, the chat, and back to the list. */
static void
test_narrow_layout (NatterTestUi  *ui,
                    gconstpointer  data)
{
  natter_test_ui_publish (ui, "bob", "alice", "Hi Alice!");
  natter_test_ui_open_chat (ui, "bob", "Hi Alice!");
  g_assert_false (is_folded (ui->root));
  gtk_window_set_default_size (GTK_WINDOW (ui->window), 380, 700);
  natter_test_ui_wait_until (is_folded, ui->root, "the narrow layout");
  natter_test_ui_wait_label_gone (GTK_WIDGET (ui->sidebar), "bob");
  gtk_widget_activate_action (ui->root, "win.back", NULL);
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->sidebar), "bob");
}

/* ---------------------------------------------------------- notifications */

static gboolean
carol_muted (gpointer sidebar)
{
  g_autoptr(NatterConversation) conv = natter_test_ui_get_conversation (natter_sidebar_get_conversations (sidebar),
                                                                        NATTER_CONVERSATION_PRIVATE, "carol");

  return conv != NULL && natter_conversation_get_muted (conv);
}

/* alice in bob's chat, the window narrow (only the chat on screen). */
static void
narrow_in_bobs_chat (NatterTestUi *ui)
{
  natter_test_ui_publish (ui, "bob", "alice", "Hi Alice!");
  natter_test_ui_open_chat (ui, "bob", "Hi Alice!");
  gtk_window_set_default_size (GTK_WINDOW (ui->window), 380, 700);
  natter_test_ui_wait_until (is_folded, ui->root, "the narrow layout");
}

/* A message for another chat while only bob's is on screen: a
 * notification with its sender's name and the text; none for a muted
 * chat. Its default action (the shell's click) opens the chat, which
 * marks where the unread messages start. */
static void
test_notification_opens_chat (NatterTestUi  *ui,
                              gconstpointer  data)
{
  natter_test_ui_set_user (ui, "dave", "Dave Miller", NULL);
  natter_test_ui_publish (ui, "dave", "alice", "Hi, I am Dave");
  natter_test_ui_publish (ui, "carol", "alice", "Welcome to the team, Alice 🎉");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->sidebar), "Dave Miller");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->sidebar), "Welcome to the team");
  gtk_widget_activate_action (GTK_WIDGET (ui->sidebar), "sidebar.toggle-muted", "(is)", 1, "carol");
  natter_test_ui_wait_until (carol_muted, ui->sidebar, "carol muted");
  narrow_in_bobs_chat (ui);
  natter_test_ui_forget_notifications ();

  natter_test_ui_publish (ui, "carol", "alice", "Muted chats stay quiet");
  natter_test_ui_publish (ui, "dave", "alice", "Are you free at three?");
  natter_test_ui_wait_until (natter_test_ui_notified, (gpointer) "Are you free at three?", "a notification");
  g_assert_true (natter_test_ui_notified ((gpointer) "Dave Miller"));
  g_assert_false (natter_test_ui_notified ((gpointer) "Muted chats stay quiet"));

  natter_test_ui_click_notification ("Are you free at three?", NULL);
  g_assert_cmpstr (natter_chat_view_get_target_id (ui->chat), ==, "dave");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "Are you free at three?");
  /* dave's two messages were not read: the chat marks where they start */
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "Unread Messages");
}

typedef struct {
  NatterTestUi *ui;
  const char   *target_id;
} WithdrawnQuery;

static gboolean
withdrawn (gpointer data)
{
  WithdrawnQuery *q = data;
  return natter_test_ui_withdrawn (q->ui, NATTER_CONVERSATION_PRIVATE, q->target_id);
}

static gboolean
erin_read (gpointer sidebar)
{
  g_autoptr(NatterConversation) conv = natter_test_ui_get_conversation (natter_sidebar_get_conversations (sidebar),
                                                                        NATTER_CONVERSATION_PRIVATE, "erin");

  return conv != NULL && natter_conversation_get_unread_count (conv) == 0;
}

/* A notification's “Mark as Read” reads the chat without opening it, and
 * the notification goes; read some other way (the sidebar's menu here;
 * another device alike), the notification goes too. */
static void
test_notification_mark_as_read (NatterTestUi  *ui,
                                gconstpointer  data)
{
  WithdrawnQuery q = { ui, "erin" };

  narrow_in_bobs_chat (ui);
  natter_test_ui_publish (ui, "erin", "alice", "Lunch tomorrow?");
  natter_test_ui_wait_until (natter_test_ui_notified, (gpointer) "Lunch tomorrow?", "erin's notification");
  g_assert_false (erin_read (ui->sidebar));
  natter_test_ui_click_notification ("Lunch tomorrow?", "Mark as Read");
  natter_test_ui_wait_until (erin_read, ui->sidebar, "erin's chat read");
  g_assert_cmpstr (natter_chat_view_get_target_id (ui->chat), ==, "bob");
  natter_test_ui_wait_until (withdrawn, &q, "the notification taken back");

  natter_test_ui_forget_notifications ();
  natter_test_ui_publish (ui, "erin", "alice", "Still there?");
  natter_test_ui_wait_until (natter_test_ui_notified, (gpointer) "Still there?", "erin's second notification");
  g_assert_false (withdrawn (&q));
  gtk_widget_activate_action (GTK_WIDGET (ui->sidebar), "sidebar.mark-read", "(is)",
                              NATTER_CONVERSATION_PRIVATE, "erin");
  natter_test_ui_wait_until (withdrawn, &q, "erin's notification withdrawn");
}

/* ---------------------------------------------------------- screenshots */

static gboolean
last_message_read (gpointer window)
{
  g_autoptr(NatterMessage) last = natter_test_ui_last_own_message (window);
  return last != NULL && natter_message_get_sent_status (last) == NATTER_SENT_STATUS_READ;
}

static gboolean
bob_read (gpointer sidebar)
{
  g_autoptr(NatterConversation) conv = natter_test_ui_get_conversation (natter_sidebar_get_conversations (sidebar),
                                                                        NATTER_CONVERSATION_PRIVATE, "bob");

  return conv != NULL && natter_conversation_get_unread_count (conv) == 0;
}

/* The URL of the first picture in @chat. */
static const char *
image_uri (NatterChatView *chat)
{
  GListModel *list = G_LIST_MODEL (natter_chat_view_get_messages (chat));

  for (guint i = 0; i < g_list_model_get_n_items (list); i++)
    {
      g_autoptr(NatterMessage) m = g_list_model_get_item (list, i);
      if (natter_message_get_image_uri (m) != NULL)
        return natter_message_get_image_uri (m);   /* the list keeps it */
    }
  g_assert_not_reached ();
}

/* The README's pictures, as a new user meets the app: the sign-in page;
 * the list filled from what came meanwhile with a message arriving live;
 * the chat with bob (an answer he has read, his picture), in light and
 * dark; the narrow layout; a chat opened on its unread messages. */
static void
test_screenshots (NatterTestUi  *ui,
                  gconstpointer  data)
{
  g_autofree char *token = natter_test_ui_token (ui, "alice");
  g_autofree char *image = natter_test_ui_write_image (ui);
  g_autofree char *content = NULL;
  g_autoptr(NatterMessage) answer = NULL;
  g_autoptr(JsonObject) reply = NULL;
  guint status = 0;

  natter_test_ui_publish (ui, "carol", "alice", "Welcome to the team, Alice 🎉");
  natter_test_ui_publish (ui, "bob", "alice", "Hi Alice! Are we still on for lunch?");
  natter_test_ui_publish (ui, "bob", "alice", "I found a nice place near the station.");

  natter_test_ui_open (ui, ui->profile);
  natter_test_ui_wait_for_page (ui->window, "sign-in");
  natter_test_ui_wait_for_label (ui->root, "Welcome to Natter");
  natter_test_ui_set_row_text (ui->root, "Server Address", natter_test_server_get_url (ui->server));
  natter_test_ui_set_row_text (ui->root, "App Key", natter_test_server_get_app_key (ui->server));
  natter_test_ui_screenshot (ui->root, "screenshot-sign-in.png");

  natter_test_ui_show_advanced (ui->root);
  natter_test_ui_set_row_text (ui->root, "Token", token);
  gtk_widget_activate (natter_test_ui_find_button_with_label (ui->root, "Sign In"));
  natter_test_ui_wait_for_page (ui->window, "main");
  natter_test_ui_wait_connected (ui->window);
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->sidebar), "I found a nice place near the station.");
  natter_test_ui_send (ui, "bob", "alice", "Ping from natter-cli");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->sidebar), "Ping from natter-cli");
  natter_test_ui_screenshot (ui->root, "screenshot-main.png");

  /* read elsewhere first, so the chat opens at its end, with no mark (a
   * chat opened on unread messages that all fit stays unread: see
   * natter_chat_view_open(), at_bottom) */
  gtk_widget_activate_action (GTK_WIDGET (ui->sidebar), "sidebar.mark-read", "(is)",
                              NATTER_CONVERSATION_PRIVATE, "bob");
  natter_test_ui_wait_until (bob_read, ui->sidebar, "bob's chat read");
  natter_test_ui_open_chat (ui, "bob", "Ping from natter-cli");
  natter_composer_set_text (natter_chat_view_get_composer (ui->chat), "Yes! 12:30 at the station?");
  natter_composer_send (natter_chat_view_get_composer (ui->chat));
  natter_test_ui_wait_until (natter_test_ui_last_sent, ui->window, "the answer acked");
  answer = natter_test_ui_last_own_message (ui->window);
  content = g_strdup_printf ("{\"lastMessageSendTime\":%" G_GINT64_FORMAT ",\"type\":1}",
                             natter_message_get_sent_time (answer));
  reply = natter_test_server_api (ui->server, &status, "message/private/publish",
                                  "fromUserId", "bob", "toUserId", "alice",
                                  "objectName", "RC:ReadNtf", "content", content, NULL);
  g_assert_cmpuint (status, ==, 200);
  natter_test_ui_wait_until (last_message_read, ui->window, "the read receipt applied");
  g_free (natter_test_ui_cli (ui, "bob", "send", "alice", "--image", image, NULL));
  natter_test_ui_publish (ui, "bob", "alice", "The view from the terrace 🌅");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "The view from the terrace");
  natter_test_ui_wait_until (natter_test_ui_has_picture, ui->chat, "the picture");
  natter_test_ui_screenshot (ui->root, "screenshot-chat.png");

  /* dave, named by the app server, with bob's picture as his */
  natter_test_ui_set_user (ui, "dave", "Dave Miller", image_uri (ui->chat));
  natter_test_ui_publish (ui, "dave", "alice", "Hi, I am Dave");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->sidebar), "Dave Miller");

  set_style (2);
  g_assert_true (adw_style_manager_get_dark (adw_style_manager_get_default ()));
  natter_test_ui_screenshot (ui->root, "screenshot-chat-dark.png");
  set_style (0);

  gtk_window_set_default_size (GTK_WINDOW (ui->window), 380, 700);
  natter_test_ui_wait_until (is_folded, ui->root, "the narrow layout");
  natter_test_ui_screenshot (ui->root, "screenshot-narrow.png");

  natter_test_ui_publish (ui, "dave", "alice", "Are you free at three?");
  natter_test_ui_wait_until (natter_test_ui_notified, (gpointer) "Are you free at three?", "a notification");
  natter_test_ui_click_notification ("Are you free at three?", NULL);
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "Unread Messages");
  natter_test_ui_screenshot (ui->root, "screenshot-unread.png");
}

/* Preferences → Background: Start on Login writes the XDG autostart entry
 * that starts `natter --background` and removes it again; with Run in
 * Background the window's close hides it and alice stays connected,
 * without it closing ends the window (and so the app, as before). */
static void
set_switch (const char *title,
            gboolean    active)
{
  GtkWidget *prefs, *label, *row;

  g_action_group_activate_action (G_ACTION_GROUP (natter_test_ui_app ()), "preferences", NULL);
  natter_test_ui_wait_anywhere (title, "the preferences");
  prefs = natter_test_ui_find_toplevel (g_type_from_name ("NatterPreferencesWindow"));
  label = natter_test_ui_find_exact_label (prefs, title);
  row = gtk_widget_get_ancestor (label, ADW_TYPE_ACTION_ROW);
  gtk_switch_set_active (GTK_SWITCH (adw_action_row_get_activatable_widget (ADW_ACTION_ROW (row))), active);
  natter_test_ui_close_windows_of_type (g_type_from_name ("NatterPreferencesWindow"));
}

static gboolean
file_gone (gpointer path)
{
  return !g_file_test (path, G_FILE_TEST_EXISTS);
}

static void
test_background_settings (NatterTestUi  *ui,
                          gconstpointer  data)
{
  g_autofree char *autostart = natter_application_dup_autostart_path ();
  g_autofree char *entry = NULL;
  GtkWidget *window = GTK_WIDGET (ui->window);

  g_assert_true (g_str_has_prefix (autostart, natter_test_ui_get_tmp_dir ()));
  g_assert_false (g_file_test (autostart, G_FILE_TEST_EXISTS));
  set_switch ("Start on Login", TRUE);
  natter_test_ui_wait_until (natter_test_ui_file_exists, autostart, "the autostart entry");
  g_assert_true (g_file_get_contents (autostart, &entry, NULL, NULL));
  g_assert_nonnull (strstr (entry, "\nExec=natter --background\n"));
  set_switch ("Start on Login", FALSE);
  natter_test_ui_wait_until (file_gone, autostart, "the autostart entry to go");

  /* Run in Background (on by default): closed, hidden, still connected */
  g_object_add_weak_pointer (G_OBJECT (window), (gpointer *) &window);
  gtk_window_close (GTK_WINDOW (window));
  natter_test_ui_spin (300);
  g_assert_nonnull (window);
  g_assert_false (gtk_widget_get_visible (window));
  g_assert_true (natter_test_ui_is_connected (window));
  /* shown again as it was left */
  natter_application_open_profile (natter_test_ui_app (), ui->profile);
  g_assert_true (gtk_widget_get_visible (window));

  set_switch ("Run in Background", FALSE);
  gtk_window_close (GTK_WINDOW (window));
  natter_test_ui_spin (300);
  g_assert_null (window);
}

/* Several accounts (as Telegram Desktop): alice and carol connected at
 * once, each its own profile and connection, with both windows closed;
 * notifications name the account; the menu lists both and switches
 * between them; signing carol out leaves alice connected; Add Account
 * opens a new profile at the sign-in page. */
static char *
menu_labels (NatterWindow *window)
{
  GMenuModel *section = G_MENU_MODEL (gtk_widget_get_template_child (GTK_WIDGET (natter_window_get_sidebar (window)),
                                                                     NATTER_TYPE_SIDEBAR, "accounts_section"));
  GString *labels = g_string_new (NULL);

  g_assert_nonnull (section);
  for (int i = 0; i < g_menu_model_get_n_items (section); i++)
    {
      g_autofree char *label = NULL;

      g_menu_model_get_item_attribute (section, i, G_MENU_ATTRIBUTE_LABEL, "s", &label);
      g_string_append_printf (labels, "%s%s", i > 0 ? "|" : "", label);
    }
  return g_string_free (labels, FALSE);
}

static void
test_accounts (NatterTestUi  *ui,
               gconstpointer  data)
{
  NatterApplication *app = natter_test_ui_app ();
  NatterWindow *alice = ui->window;
  g_autofree char *carol_profile = g_build_filename (ui->dir, "carol", NULL);
  g_autofree char *labels = NULL;
  NatterWindow *carol;
  GtkWindow *added;

  g_assert_cmpstr ((labels = menu_labels (alice)), ==, "_Add Account");
  g_clear_pointer (&labels, g_free);

  natter_test_ui_write_profile (ui, "carol", carol_profile);
  carol = NATTER_WINDOW (natter_application_open_profile (app, carol_profile));
  natter_test_ui_wait_connected (carol);
  g_assert_cmpuint (natter_application_get_n_accounts (app), ==, 2);
  g_assert_cmpstr ((labels = menu_labels (alice)), ==, "alice|carol|_Add Account");
  g_clear_pointer (&labels, g_free);

  /* both closed: both connected, each one's notifications name it */
  gtk_window_close (GTK_WINDOW (alice));
  gtk_window_close (GTK_WINDOW (carol));
  natter_test_ui_spin (200);
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (alice)));
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (carol)));
  natter_test_ui_send (ui, "bob", "carol", "hi carol, it is bob");
  natter_test_ui_wait_until (natter_test_ui_notified, (gpointer) "bob (carol)\nhi carol, it is bob",
                             "carol's notification");
  natter_test_ui_send (ui, "bob", "alice", "hi alice, it is bob");
  natter_test_ui_wait_until (natter_test_ui_notified, (gpointer) "bob (alice)\nhi alice, it is bob",
                             "alice's notification");

  /* switching: the account chosen on screen, the other behind it */
  g_action_group_activate_action (G_ACTION_GROUP (app), "switch-account", g_variant_new_string (carol_profile));
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (carol)));
  natter_test_ui_spin (200);
  g_action_group_activate_action (G_ACTION_GROUP (app), "switch-account", g_variant_new_string (ui->profile));
  natter_test_ui_spin (200);
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (alice)));
  g_assert_true (natter_test_ui_is_connected (carol));

  /* carol signs out; alice stays */
  natter_session_sign_out (natter_window_get_session (carol));
  natter_test_ui_wait_for_page (carol, "sign-in");
  natter_test_ui_spin (300);
  g_assert_true (natter_test_ui_is_connected (alice));

  /* a new account: its own profile, at the sign-in page */
  g_action_group_activate_action (G_ACTION_GROUP (app), "add-account", NULL);
  added = gtk_application_get_active_window (GTK_APPLICATION (app));
  g_assert_true (NATTER_IS_WINDOW (added));
  g_assert_true (added != GTK_WINDOW (alice) && added != GTK_WINDOW (carol));
  natter_test_ui_wait_for_page (NATTER_WINDOW (added), "sign-in");
  g_assert_cmpuint (natter_application_get_n_accounts (app), ==, 3);
}

static guint
sidebar_rows_given (NatterTestUi *ui)
{
  GtkListView *view = natter_sidebar_get_list_view (ui->sidebar);

  return g_list_model_get_n_items (G_LIST_MODEL (gtk_list_view_get_model (view)));
}

static gboolean
sidebar_has_rows (gpointer data)
{
  return sidebar_rows_given (data) > 0;
}

static gboolean
sidebar_list_complete (gpointer data)
{
  NatterTestUi *ui = data;

  return g_list_model_get_n_items (G_LIST_MODEL (natter_sidebar_get_conversations (ui->sidebar))) == 300;
}

typedef struct {
  NatterTestUi *ui;
  const char   *target_id;
} Highlight;

static gboolean
highlighted (gpointer data)
{
  Highlight *h = data;
  GtkSelectionModel *selection = gtk_list_view_get_model (natter_sidebar_get_list_view (h->ui->sidebar));
  NatterConversation *selected = gtk_single_selection_get_selected_item (GTK_SINGLE_SELECTION (selection));

  return selected != NULL && g_strcmp0 (natter_conversation_get_target_id (selected), h->target_id) == 0;
}

/* Scrolls the sidebar to the end of what its list view has; TRUE once
 * the list view has every conversation. */
static gboolean
scrolled_to_all (gpointer data)
{
  NatterTestUi *ui = data;
  GtkAdjustment *adj = gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (natter_sidebar_get_list_view (ui->sidebar)));

  gtk_adjustment_set_value (adj, gtk_adjustment_get_upper (adj) - gtk_adjustment_get_page_size (adj));
  return sidebar_rows_given (ui) ==
         g_list_model_get_n_items (G_LIST_MODEL (natter_sidebar_get_conversations (ui->sidebar)));
}

/* A long list is given to GTK's list view a few screenfuls at a time, as
 * it is scrolled (GTK 4.8 makes rows for up to 200 items, ~50 KiB each,
 * whether on screen or not) (#17); a chat opened further down is shown
 * and highlighted, and scrolling reaches the last conversation. */
static void
test_long_list_on_demand (NatterTestUi  *ui,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *profile = g_build_filename (ui->dir, "long-list", NULL);
  g_autofree char *ini = g_build_filename (profile, "account.ini", NULL);
  g_autofree char *token = g_build_filename (profile, "token", NULL);
  g_autofree char *out = NULL;
  const char *argv[] = { natter_test_program ("NATTER_CLI"), "generate-profile", profile,
                         "--messages", "600", "--conversations", "300", "--owner", "me", NULL };
  g_autoptr(NatterConversation) far = NULL;
  Highlight h = { ui, NULL };

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL, NULL, &error));
  g_assert_no_error (error);
  /* signed in to a server that is not there: the store is all there is */
  g_assert_true (g_file_set_contents (ini, "[account]\nserver-url=http://127.0.0.1:9\napp-key=k\nuser-id=me\n", -1, NULL));
  g_assert_true (g_file_set_contents_full (token, "t", -1, G_FILE_SET_CONTENTS_NONE, 0600, NULL));

  natter_test_ui_open (ui, profile);
  natter_test_ui_wait_for_page (ui->window, "main");
  natter_test_ui_wait_until (sidebar_has_rows, ui, "the list on screen");
  /* the rest of the list loads after its first page, on the store's
   * thread: on a loaded box that can take more than a second */
  natter_test_ui_wait_until (sidebar_list_complete, ui, "the whole list loaded");
  natter_test_ui_spin (1000);
  /* a few screenfuls (24 rows each) ahead of what is on screen, not 300 */
  g_assert_cmpuint (sidebar_rows_given (ui), >=, 24);
  g_assert_cmpuint (sidebar_rows_given (ui), <=, 3 * 24);

  /* a chat further down: its row comes, highlighted */
  far = g_list_model_get_item (G_LIST_MODEL (natter_sidebar_get_conversations (ui->sidebar)), 120);
  h.target_id = natter_conversation_get_target_id (far);
  natter_window_open_conversation (ui->window, NATTER_CONVERSATION_PRIVATE, h.target_id, 0);
  natter_test_ui_wait_until (highlighted, &h, "the chat 120th in the list highlighted");

  /* the next one from the keyboard, still without every row */
  {
    g_autoptr(NatterConversation) next = g_list_model_get_item (G_LIST_MODEL (natter_sidebar_get_conversations (ui->sidebar)), 121);

    gtk_widget_activate_action (ui->root, "win.next-conversation", NULL);
    g_assert_cmpstr (natter_chat_view_get_target_id (ui->chat), ==, natter_conversation_get_target_id (next));
    g_assert_cmpuint (sidebar_rows_given (ui), <, 300);
  }

  /* scrolling to the end reaches the last conversation */
  natter_test_ui_wait_until (scrolled_to_all, ui, "every conversation by scrolling");
}

static gboolean
mapped (gpointer widget)
{
  return gtk_widget_get_mapped (widget);
}

static gboolean
not_mapped (gpointer widget)
{
  return !gtk_widget_get_mapped (widget);
}

/* The main menu's popover is made when the menu is first opened, not with
 * the window (#17), and shows the sidebar's menu then. */
static void
test_main_menu_on_demand (NatterTestUi  *ui,
                          gconstpointer  data)
{
  GtkMenuButton *button = GTK_MENU_BUTTON (gtk_widget_get_template_child (GTK_WIDGET (ui->sidebar),
                                                                          NATTER_TYPE_SIDEBAR, "menu_button"));
  GObject *menu = gtk_widget_get_template_child (GTK_WIDGET (ui->sidebar), NATTER_TYPE_SIDEBAR, "primary_menu");
  GtkPopover *popover;

  g_assert_nonnull (menu);
  g_assert_null (gtk_menu_button_get_popover (button));
  gtk_menu_button_popup (button);
  popover = gtk_menu_button_get_popover (button);
  g_assert_true (GTK_IS_POPOVER_MENU (popover));
  g_assert_true (gtk_popover_menu_get_menu_model (GTK_POPOVER_MENU (popover)) == G_MENU_MODEL (menu));
  natter_test_ui_wait_until (mapped, popover, "the main menu shown");
  gtk_menu_button_popdown (button);
  natter_test_ui_wait_until (not_mapped, popover, "the main menu closed");
  /* opened again: the same popover */
  gtk_menu_button_popup (button);
  g_assert_true (gtk_menu_button_get_popover (button) == popover);
  gtk_menu_button_popdown (button);
}

int
main (int argc, char *argv[])
{
  int status;

  probe_hold = g_strdup_printf ("%s/natter-probe-hold-%d", g_get_tmp_dir (), (int) getpid ());
  g_assert_true (g_file_set_contents (probe_hold, "", 0, NULL));
  g_setenv ("NATTER_TEST_DEVICE_PROBE_HOLD", probe_hold, TRUE);
  natter_test_ui_init (&argc, &argv);

  g_test_add ("/ui/preferences-token-note", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_preferences_token_note, natter_test_ui_teardown);
  g_test_add ("/ui/preferences-devices-async", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_preferences_devices_async, natter_test_ui_teardown);
  g_test_add ("/ui/preferences-devices-closed", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_preferences_devices_closed, natter_test_ui_teardown);
  g_test_add ("/ui/dark-mode", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_dark_mode, natter_test_ui_teardown);
  g_test_add ("/ui/shortcuts", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_shortcuts, natter_test_ui_teardown);
  g_test_add ("/ui/keyboard-navigation", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_keyboard_navigation, natter_test_ui_teardown);
  g_test_add ("/ui/accessible-names", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_accessible_names, natter_test_ui_teardown);
  g_test_add ("/ui/narrow-layout", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_narrow_layout, natter_test_ui_teardown);
  g_test_add ("/ui/notification-opens-chat", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_notification_opens_chat, natter_test_ui_teardown);
  g_test_add ("/ui/notification-mark-as-read", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_notification_mark_as_read, natter_test_ui_teardown);
  g_test_add ("/ui/background-settings", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_background_settings, natter_test_ui_teardown);
  g_test_add ("/ui/accounts", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_accounts, natter_test_ui_teardown);
  g_test_add ("/ui/main-menu-on-demand", NatterTestUi, NULL,
              natter_test_ui_setup_signed_in, test_main_menu_on_demand, natter_test_ui_teardown);
  g_test_add ("/ui/long-list-on-demand", NatterTestUi, NULL,
              natter_test_ui_setup, test_long_list_on_demand, natter_test_ui_teardown);
  g_test_add ("/ui/screenshots", NatterTestUi, NULL,
              natter_test_ui_setup, test_screenshots, natter_test_ui_teardown);
  status = natter_test_ui_run ();
  g_unlink (probe_hold);
  g_free (probe_hold);
  return status;
}
