/* test-ui-accounts.c — accounts, contacts and groups in the app (#14)
 *
 * A natterd whose app has accounts=open: the sign-in page offers "Create
 * Account", refuses a wrong password with its code and signs alice in
 * with the right one; bob's contact request shows with a badge and is
 * accepted in Contacts; a group made with "New Group" opens, its
 * RC:GrpNtf shows as a notice, its details list the members with
 * their roles, and a rename there comes back as a notice. Screenshots in the build dir (screenshot-accounts-*.png).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <string.h>

#include "natter-contacts-page.h"
#include "natter-group-details.h"
#include "natter-mention-popover.h"
#include "natter-new-group-dialog.h"
#include "natter-password-dialog.h"
#include "natter-sign-in-page.h"
#include "natter-test-ui.h"

#define OPEN_APP ((const char * const[]) { "--app-setting", "accounts=open", \
                                           "--app-setting", "multi-device=true", NULL })

static void
setup_open (NatterTestUi  *ui,
            gconstpointer  data)
{
  natter_test_ui_setup (ui, data);
  natter_test_server_free (ui->server);
  ui->server = natter_test_server_new_full (NULL, OPEN_APP);
}

static gboolean
is_true (gpointer data)
{
  return *(gboolean *) data;
}

static void
registered_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *token = natter_account_service_token_finish (NATTER_ACCOUNT_SERVICE (object), result, &error);

  g_assert_no_error (error);
  g_assert_nonnull (token);
  *(gboolean *) user_data = TRUE;
}

/* A user made through /account/register.json, signed in on the service. */
static NatterAccountService *
register_user (NatterTestUi *ui,
               const char   *user_id,
               const char   *password)
{
  NatterAccountService *service = natter_account_service_new (natter_test_server_get_url (ui->server),
                                                              natter_test_server_get_app_key (ui->server));
  gboolean done = FALSE;

  natter_account_service_register_async (service, user_id, password, NULL, NULL, NULL, registered_cb, &done);
  natter_test_ui_wait_until (is_true, &done, "the registration");
  return service;
}

static gboolean create_shown (gpointer root);

/* The app on its sign-in page, pointed at the test's natterd; with
 * @open_app, until it offers Create Account. */
static void
open_sign_in (NatterTestUi *ui,
              gboolean      open_app)
{
  natter_test_ui_open (ui, ui->profile);
  natter_test_ui_wait_for_page (ui->window, "sign-in");
  natter_test_ui_set_row_text (ui->root, "Server Address", natter_test_server_get_url (ui->server));
  natter_test_ui_set_row_text (ui->root, "App Key", natter_test_server_get_app_key (ui->server));
  if (open_app)
    natter_test_ui_wait_until (create_shown, ui->root, "the Create Account button");
}

static gboolean
new_group_shown (gpointer data)
{
  return natter_test_ui_find_toplevel (NATTER_TYPE_NEW_GROUP_DIALOG) != NULL;
}

static gboolean
details_shown (gpointer data)
{
  return natter_test_ui_find_toplevel (NATTER_TYPE_GROUP_DETAILS) != NULL;
}

static gboolean
chat_is_group (gpointer chat)
{
  return natter_chat_view_get_conversation_type (chat) == NATTER_CONVERSATION_GROUP &&
         natter_chat_view_get_target_id (chat) != NULL;
}

/* "@" in the group's composer offers @first and @second (typed again until
 * it does: the members' list comes from the app server). */
static gboolean
popover_offers (NatterChatView *chat,
                const char     *first,
                const char     *second)
{
  NatterComposer *composer = natter_chat_view_get_composer (chat);
  GtkWidget *popover = natter_composer_get_mention_popover (composer);
  g_auto(GStrv) names = gtk_widget_get_visible (popover)
                          ? natter_mention_popover_dup_shown (NATTER_MENTION_POPOVER (popover)) : NULL;

  if (names != NULL && g_strv_contains ((const char * const *) names, first) &&
      g_strv_contains ((const char * const *) names, second))
    return TRUE;
  natter_composer_set_text (composer, "");
  gtk_text_buffer_insert_at_cursor (gtk_text_view_get_buffer (natter_composer_get_text_view (composer)), "@", -1);
  return FALSE;
}

/* "everyone" and bob, to the owner. */
static gboolean
offers_everyone (gpointer chat)
{
  return popover_offers (chat, "everyone", "bob");
}

/* bob and carol, who never spoke: the app server's members' list, with
 * the roles, is in (not the senders of what is loaded). */
static gboolean
offers_members (gpointer chat)
{
  return popover_offers (chat, "bob", "carol");
}

static void
group_created_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  *(char **) user_data = natter_account_service_create_group_finish (NATTER_ACCOUNT_SERVICE (object), result, &error);
  g_assert_no_error (error);
}

static gboolean
is_set (gpointer data)
{
  return *(char **) data != NULL;
}

static void
call_done_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (natter_account_service_call_finish (NATTER_ACCOUNT_SERVICE (object), result, &error));
  g_assert_no_error (error);
  *(gboolean *) user_data = TRUE;
}

static gboolean
create_shown (gpointer root)
{
  GtkWidget *button = natter_test_ui_find_button_with_label (root, "Create Account");

  return button != NULL && gtk_widget_get_visible (button);
}

static gboolean
badge_shows_one (gpointer root)
{
  GtkWidget *badge = natter_test_ui_find_exact_label (root, "1");

  return badge != NULL && gtk_widget_has_css_class (badge, "unread-badge");
}

/* The video call button of a contact's row, in the Contacts window. */
static GtkWidget *
contacts_call_button (void)
{
  GListModel *toplevels = gtk_window_get_toplevels ();  /* not ours */

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GtkWidget) w = g_list_model_get_item (toplevels, i);

      if (G_OBJECT_TYPE (w) == ADW_TYPE_WINDOW && gtk_widget_get_mapped (w))
        return natter_test_ui_find_button_with_icon (w, "camera-web-symbolic");
    }
  return NULL;
}

static gboolean
contacts_call_shown (gpointer data)
{
  return contacts_call_button () != NULL;
}

static GtkWidget *
call_window (void)
{
  GType type = g_type_from_name ("NatterCallWindow");

  return type != 0 ? natter_test_ui_find_toplevel (type) : NULL;
}

static gboolean
call_window_shown (gpointer data)
{
  return call_window () != NULL;
}

static gboolean
call_window_gone (gpointer data)
{
  return call_window () == NULL;
}

static gboolean
chat_is_bob (gpointer data)
{
  return g_strcmp0 (natter_chat_view_get_target_id (data), "bob") == 0;
}

static void
test_contacts_and_group (NatterTestUi  *ui,
                         gconstpointer  data)
{
  g_autoptr(NatterAccountService) alice = NULL;
  g_autoptr(NatterAccountService) bob = NULL;
  gboolean requested = FALSE;
  GtkWidget *contacts_window;
  GtkWidget *dialog;
  GtkWidget *details;
  GtkWidget *check;

  alice = register_user (ui, "alice", "alice's password");
  bob = register_user (ui, "bob", "bob's password");

  /* The sign-in page learns from the server that accounts are open. */
  open_sign_in (ui, TRUE);
  natter_test_ui_set_row_text (ui->root, "User ID", "alice");
  natter_test_ui_set_row_text (ui->root, "Password", "not alice's password");
  gtk_widget_activate (natter_test_ui_find_button_with_label (ui->root, "Sign In"));
  natter_test_ui_wait_for_label (ui->root, "26002");
  g_assert_cmpstr (natter_window_get_page (ui->window), ==, "sign-in");
  natter_test_ui_set_row_text (ui->root, "Password", "alice's password");
  natter_test_ui_screenshot (ui->root, "screenshot-accounts-sign-in.png");
  gtk_widget_activate (natter_test_ui_find_button_with_label (ui->root, "Sign In"));
  natter_test_ui_wait_for_page (ui->window, "main");
  natter_test_ui_wait_connected (ui->window);

  /* bob asks; the badge counts it, Contacts lists it, alice accepts. */
  natter_account_service_contact_async (bob, NATTER_CONTACT_ACTION_REQUEST, "alice", "hi alice, it's bob",
                                        NULL, call_done_cb, &requested);
  natter_test_ui_wait_until (is_true, &requested, "bob's request");
  natter_test_ui_wait_until (badge_shows_one, ui->root, "a badge for one request");
  gtk_widget_activate_action (ui->root, "win.contacts", NULL);
  natter_test_ui_wait_anywhere ("hi alice, it's bob", "bob's request in Contacts");
  contacts_window = natter_test_ui_find_toplevel (ADW_TYPE_WINDOW);
  g_assert_nonnull (contacts_window);
  natter_test_ui_screenshot (contacts_window, "screenshot-accounts-contacts.png");
  gtk_widget_activate (natter_test_ui_find_button_with_label (contacts_window, "Accept"));
  natter_test_ui_wait_label_gone (contacts_window, "hi alice, it's bob");
  natter_test_ui_wait_for_label (contacts_window, "bob");

  /* A group with bob, from Contacts. */
  gtk_widget_activate (natter_test_ui_find_button_with_label (contacts_window, "New Group"));
  natter_test_ui_wait_until (new_group_shown, NULL, "the New Group dialog");
  dialog = natter_test_ui_find_toplevel (NATTER_TYPE_NEW_GROUP_DIALOG);
  g_assert_nonnull (dialog);
  natter_test_ui_set_row_text (dialog, "Group Name", "Lunch");
  check = natter_test_ui_find_type (dialog, GTK_TYPE_CHECK_BUTTON);
  g_assert_nonnull (check);
  gtk_check_button_set_active (GTK_CHECK_BUTTON (check), TRUE);
  natter_test_ui_screenshot (dialog, "screenshot-accounts-new-group.png");
  gtk_widget_activate (natter_test_ui_find_button_with_label (dialog, "Create"));
  natter_test_ui_wait_until (chat_is_group, ui->chat, "the group's chat");

  /* The group's notice, in words; its details with the roles. */
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "You created the group");
  /* Its owner may @mention everyone (#16). */
  natter_test_ui_wait_until (offers_everyone, ui->chat, "\"everyone\" offered to the owner");
  natter_composer_set_text (natter_chat_view_get_composer (ui->chat), "");
  gtk_widget_activate_action (ui->root, "win.group-details", NULL);
  natter_test_ui_wait_until (details_shown, NULL, "the group details");
  details = natter_test_ui_find_toplevel (NATTER_TYPE_GROUP_DETAILS);
  g_assert_nonnull (details);
  natter_test_ui_wait_for_label (details, "Owner");
  natter_test_ui_wait_for_label (details, "Member");
  natter_test_ui_wait_for_label (details, "bob");
  natter_test_ui_screenshot (details, "screenshot-accounts-group-details.png");

  /* A rename from the details reaches the server: its RC:GrpNtf comes
   * back as a notice in the chat. */
  natter_test_ui_set_row_text (details, "Group Name", "Lunch Club");
  g_signal_emit_by_name (natter_test_ui_find_entry_row (details, "Group Name"), "apply");
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->chat), "You renamed the group to “Lunch Club”");
  natter_test_ui_close_windows_of_type (NATTER_TYPE_GROUP_DETAILS);

  /* The same id as a discussion (2) has the same details (#16). */
  {
    g_autofree char *group_id = g_strdup (natter_chat_view_get_target_id (ui->chat));

    natter_window_open_conversation (ui->window, NATTER_CONVERSATION_DISCUSSION, group_id, 0);
    g_assert_cmpint (natter_chat_view_get_conversation_type (ui->chat), ==, NATTER_CONVERSATION_DISCUSSION);
    gtk_widget_activate_action (ui->root, "win.group-details", NULL);
    natter_test_ui_wait_until (details_shown, NULL, "the discussion's details");
    details = natter_test_ui_find_toplevel (NATTER_TYPE_GROUP_DETAILS);
    natter_test_ui_wait_for_label (details, "Owner");
    natter_test_ui_wait_for_label (details, "bob");
    natter_test_ui_close_windows_of_type (NATTER_TYPE_GROUP_DETAILS);
    natter_window_open_conversation (ui->window, NATTER_CONVERSATION_GROUP, group_id, 0);
  }

  /* A video call to bob straight from Contacts: his chat opens and the
   * call window shows; alice hangs up while it rings. */
  gtk_widget_activate_action (ui->root, "win.contacts", NULL);
  natter_test_ui_wait_until (contacts_call_shown, NULL, "bob's call buttons in Contacts");
  gtk_widget_activate (contacts_call_button ());
  natter_test_ui_wait_until (call_window_shown, NULL, "the call window");
  natter_test_ui_wait_until (chat_is_bob, ui->chat, "bob's chat");
  gtk_widget_activate_action (call_window (), "call.hangup", NULL);
  natter_test_ui_wait_until (call_window_gone, NULL, "the call window to close");
}

static void
users_read_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  GPtrArray **users = user_data;
  g_autoptr(GError) error = NULL;

  *users = natter_account_service_users_finish (NATTER_ACCOUNT_SERVICE (object), result, &error);
  g_assert_no_error (error);
}

static gboolean
is_chat_menu (GtkWidget     *widget,
              gconstpointer  data)
{
  return GTK_IS_MENU_BUTTON (widget) && g_strcmp0 (gtk_widget_get_tooltip_text (widget), "Chat Menu") == 0;
}

static gboolean
is_sensitive (gpointer widget)
{
  return gtk_widget_get_sensitive (widget);
}

static gboolean
popover_shown (gpointer button)
{
  GtkPopover *popover = gtk_menu_button_get_popover (button);

  return popover != NULL && gtk_widget_get_mapped (GTK_WIDGET (popover));
}

/* ------------------------------------------- account, privacy, chat menu */

static void
token_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  char **token = user_data;
  g_autoptr(GError) error = NULL;

  *token = natter_account_service_token_finish (NATTER_ACCOUNT_SERVICE (object), result, &error);
  g_assert_no_error (error);
}

/* The user the app signed in, on a service of the test's own. */
static NatterAccountService *
login_user (NatterTestUi *ui,
            const char   *user_id,
            const char   *password)
{
  NatterAccountService *service = natter_account_service_new (natter_test_server_get_url (ui->server),
                                                              natter_test_server_get_app_key (ui->server));
  g_autofree char *token = NULL;

  natter_account_service_login_async (service, user_id, password, NULL, token_cb, &token);
  while (token == NULL)
    g_main_context_iteration (NULL, TRUE);
  natter_account_service_set_token (service, token);
  return service;
}

typedef struct {
  NatterAccountService *service;
  gboolean answered;
  gboolean contacts_only;
  char **blocked;
} Query;

static void
privacy_read_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Query *query = user_data;
  g_autoptr(GError) error = NULL;

  query->contacts_only = natter_account_service_privacy_finish (NATTER_ACCOUNT_SERVICE (object), result, &error);
  g_assert_no_error (error);
  query->answered = TRUE;
}

static gboolean
contacts_only_is (NatterAccountService *service,
                  gboolean              expected)
{
  Query query = { service, FALSE, FALSE, NULL };

  natter_account_service_privacy_async (service, -1, NULL, privacy_read_cb, &query);
  while (!query.answered)
    g_main_context_iteration (NULL, TRUE);
  return query.contacts_only == expected;
}

static gboolean
server_says_contacts_only (gpointer service)
{
  natter_test_ui_spin (100);
  return contacts_only_is (service, TRUE);
}

static void
set_contacts_only (NatterAccountService *service)
{
  Query query = { service, FALSE, FALSE, NULL };

  natter_account_service_privacy_async (service, TRUE, NULL, privacy_read_cb, &query);
  while (!query.answered)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (query.contacts_only);
}

static void
blocked_read_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Query *query = user_data;
  g_autoptr(GError) error = NULL;

  query->blocked = natter_account_service_list_blocked_finish (NATTER_ACCOUNT_SERVICE (object), result, &error);
  g_assert_no_error (error);
  query->answered = TRUE;
}

static guint
n_blocked (NatterAccountService *service)
{
  Query query = { service, FALSE, FALSE, NULL };
  guint n;

  natter_test_ui_spin (100);
  natter_account_service_list_blocked_async (service, NULL, blocked_read_cb, &query);
  while (!query.answered)
    g_main_context_iteration (NULL, TRUE);
  n = g_strv_length (query.blocked);
  g_strfreev (query.blocked);
  return n;
}

static gboolean
one_blocked (gpointer service)
{
  return n_blocked (service) == 1;
}

static gboolean
none_blocked (gpointer service)
{
  return n_blocked (service) == 0;
}

static gboolean
contact_is_incoming (gpointer data)
{
  NatterAccountService *service = data;
  g_autoptr(GPtrArray) users = NULL;
  gboolean incoming = FALSE;

  natter_test_ui_spin (100);
  natter_account_service_list_contacts_async (service, NULL, users_read_cb, &users);
  while (users == NULL)
    g_main_context_iteration (NULL, TRUE);
  for (guint i = 0; i < users->len; i++)
    {
      NatterAccountUser *user = g_ptr_array_index (users, i);

      if (g_str_equal (user->user_id, "carol") && user->state == NATTER_CONTACT_STATE_INCOMING)
        incoming = TRUE;
    }
  return incoming;
}

/* The chat menu popped up: which of its chat items show. */
static GtkWidget *
chat_menu_popup (NatterTestUi *ui)
{
  /* the chat menu is the one with the tooltip */
  GtkWidget *button = natter_test_ui_find (GTK_WIDGET (ui->chat), is_chat_menu, NULL);

  g_assert_nonnull (button);
  gtk_menu_button_popup (GTK_MENU_BUTTON (button));
  natter_test_ui_wait_until (popover_shown, button, "the chat menu");
  return button;
}

typedef struct {
  GtkWidget *button;
  const char *shown;
  const char *hidden[2];
} MenuCheck;

static gboolean
menu_shows (gpointer data)
{
  MenuCheck *check = data;
  GtkWidget *popover = GTK_WIDGET (gtk_menu_button_get_popover (GTK_MENU_BUTTON (check->button)));

  if (natter_test_ui_find_exact_label (popover, check->shown) == NULL)
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (check->hidden); i++)
    if (natter_test_ui_find_exact_label (popover, check->hidden[i]) != NULL)
      return FALSE;
  return TRUE;
}

static void
assert_chat_menu (NatterTestUi *ui,
                  const char   *shown,
                  const char   *hidden1,
                  const char   *hidden2)
{
  MenuCheck check = { chat_menu_popup (ui), shown, { hidden1, hidden2 } };
  g_autofree char *what = g_strdup_printf ("the chat menu offering %s, not %s or %s", shown, hidden1, hidden2);

  natter_test_ui_wait_until (menu_shows, &check, what);
  gtk_menu_button_popdown (GTK_MENU_BUTTON (check.button));
  natter_test_ui_spin (100);
}

/* carol creates her account from the sign-in page (a mismatched
 * confirmation is refused before any request); Contacts shows "No
 * contacts yet" beside bob's request, which she ignores, and adds dave by
 * id; Preferences → Who May Message Me reaches the server; a message to
 * dave, who takes contacts only, says why it was refused; the chat menu
 * offers only what applies, and blocks and unblocks dave. */
static void
test_account_privacy_menu (NatterTestUi  *ui,
                           gconstpointer  data)
{
  g_autoptr(NatterAccountService) bob = NULL;
  g_autoptr(NatterAccountService) dave = NULL;
  g_autoptr(NatterAccountService) carol = NULL;
  gboolean requested = FALSE;
  GtkWidget *contacts_window;
  GtkWidget *preferences;
  GtkWidget *label;
  GtkWidget *row;
  NatterComposer *composer;

  bob = register_user (ui, "bob", "bob's password");
  dave = register_user (ui, "dave", "dave's password");

  open_sign_in (ui, TRUE);
  natter_test_ui_set_row_text (ui->root, "User ID", "carol");
  natter_test_ui_set_row_text (ui->root, "Password", "carol's password");
  natter_test_ui_set_row_text (ui->root, "Confirm Password (to create an account)", "carols password");
  gtk_widget_activate (natter_test_ui_find_button_with_label (ui->root, "Create Account"));
  natter_test_ui_wait_for_label (ui->root, "The passwords do not match.");
  natter_test_ui_spin (300);
  g_assert_cmpstr (natter_window_get_page (ui->window), ==, "sign-in");
  /* nothing was sent: carol's id is still free for the real attempt */
  natter_test_ui_set_row_text (ui->root, "Confirm Password (to create an account)", "carol's password");
  gtk_widget_activate (natter_test_ui_find_button_with_label (ui->root, "Create Account"));
  natter_test_ui_wait_for_page (ui->window, "main");
  natter_test_ui_wait_connected (ui->window);
  carol = login_user (ui, "carol", "carol's password");

  /* bob's request, and the empty contact list says so. */
  natter_account_service_contact_async (bob, NATTER_CONTACT_ACTION_REQUEST, "carol", "hi carol, it's bob",
                                        NULL, call_done_cb, &requested);
  natter_test_ui_wait_until (is_true, &requested, "bob's request");
  gtk_widget_activate_action (ui->root, "win.contacts", NULL);
  natter_test_ui_wait_anywhere ("hi carol, it's bob", "bob's request in Contacts");
  contacts_window = natter_test_ui_find_toplevel (ADW_TYPE_WINDOW);
  g_assert_nonnull (contacts_window);
  natter_test_ui_wait_for_label (contacts_window, "No contacts yet");
  natter_test_ui_screenshot (contacts_window, "screenshot-accounts-contacts-empty.png");
  gtk_widget_activate (natter_test_ui_find_button_with_label (contacts_window, "Ignore"));
  natter_test_ui_wait_label_gone (contacts_window, "hi carol, it's bob");
  natter_test_ui_wait_for_label (contacts_window, "No contacts yet");

  /* Add Contact by id: dave gets carol's request. */
  natter_test_ui_set_row_text (contacts_window, "Add Contact by User ID", "dave");
  g_signal_emit_by_name (natter_test_ui_find_entry_row (contacts_window, "Add Contact by User ID"), "entry-activated");
  natter_test_ui_wait_until (contact_is_incoming, dave, "carol's request reaching dave");
  gtk_window_close (GTK_WINDOW (contacts_window));

  /* Preferences → Privacy → Who May Message Me: Contacts Only. */
  g_action_group_activate_action (G_ACTION_GROUP (natter_test_ui_app ()), "preferences", NULL);
  natter_test_ui_wait_anywhere ("Show Notifications", "the preferences");
  preferences = natter_test_ui_find_toplevel (ADW_TYPE_PREFERENCES_WINDOW);
  g_assert_nonnull (preferences);
  adw_preferences_window_set_visible_page_name (ADW_PREFERENCES_WINDOW (preferences), "account");
  natter_test_ui_wait_for_label (preferences, "Who May Message Me");
  label = natter_test_ui_find_exact_label (preferences, "Who May Message Me");
  g_assert_nonnull (label);
  row = gtk_widget_get_ancestor (label, ADW_TYPE_COMBO_ROW);
  g_assert_nonnull (row);
  natter_test_ui_wait_until (is_sensitive, row, "the setting read");
  g_assert_cmpuint (adw_combo_row_get_selected (ADW_COMBO_ROW (row)), ==, 0);
  adw_combo_row_set_selected (ADW_COMBO_ROW (row), 1);
  natter_test_ui_wait_until (server_says_contacts_only, carol, "contacts only on the server");
  natter_test_ui_close_windows_of_type (ADW_TYPE_PREFERENCES_WINDOW);

  /* dave takes contacts only: carol's message is refused, and says why. */
  set_contacts_only (dave);
  natter_window_open_conversation (ui->window, NATTER_CONVERSATION_PRIVATE, "dave", 0);
  composer = natter_chat_view_get_composer (ui->chat);
  natter_composer_set_text (composer, "hello dave");
  natter_composer_send (composer);
  natter_test_ui_wait_anywhere ("This person accepts messages from contacts only.", "why it was refused");

  /* The chat menu in a private chat: Block only; blocked: Unblock only. */
  assert_chat_menu (ui, "Block", "Unblock", "Group Details");
  gtk_widget_activate_action (ui->root, "win.block", NULL);
  natter_test_ui_wait_until (one_blocked, carol, "dave blocked on the server");
  assert_chat_menu (ui, "Unblock", "Block", "Group Details");
  gtk_widget_activate_action (ui->root, "win.unblock", NULL);
  natter_test_ui_wait_until (none_blocked, carol, "dave unblocked on the server");
  assert_chat_menu (ui, "Block", "Unblock", "Group Details");
}

/* An app with accounts=off: the sign-in page has no Create Account. */
/* bob's group with alice and carol as plain members: "@" in alice's
 * composer offers the members but not "everyone" (only an owner or a manager may notify all, #16). */
static void
test_member_not_offered_everyone (NatterTestUi  *ui,
                                  gconstpointer  data)
{
  g_autoptr(NatterAccountService) alice = NULL;
  g_autoptr(NatterAccountService) bob = NULL;
  g_autoptr(NatterAccountService) carol = NULL;
  const char *members[] = { "alice", "carol", NULL };
  g_autofree char *group_id = NULL;
  NatterComposer *composer;
  GtkWidget *popover;
  g_auto(GStrv) names = NULL;

  alice = register_user (ui, "alice", "alice's password");
  bob = register_user (ui, "bob", "bob's password");
  carol = register_user (ui, "carol", "carol's password");
  natter_account_service_create_group_async (bob, "Tea", members, NULL, group_created_cb, &group_id);
  natter_test_ui_wait_until (is_set, &group_id, "bob's group");

  open_sign_in (ui, TRUE);
  natter_test_ui_set_row_text (ui->root, "User ID", "alice");
  natter_test_ui_set_row_text (ui->root, "Password", "alice's password");
  gtk_widget_activate (natter_test_ui_find_button_with_label (ui->root, "Sign In"));
  natter_test_ui_wait_for_page (ui->window, "main");
  natter_test_ui_wait_connected (ui->window);

  natter_window_open_conversation (ui->window, NATTER_CONVERSATION_GROUP, group_id, 0);
  natter_test_ui_wait_until (chat_is_group, ui->chat, "bob's group's chat");
  natter_test_ui_wait_until (offers_members, ui->chat, "the members offered to a member");
  composer = natter_chat_view_get_composer (ui->chat);
  popover = natter_composer_get_mention_popover (composer);
  names = natter_mention_popover_dup_shown (NATTER_MENTION_POPOVER (popover));
  g_assert_false (g_strv_contains ((const char * const *) names, "everyone"));
  natter_composer_set_text (composer, "");
}

/* A token's user on a natterd whose app has accounts=open: Preferences →
 * Account shows the privacy the server answers for, but no password
 * group (the user has no password here). */
static gboolean
messages_row_answered (gpointer preferences)
{
  GtkWidget *label = natter_test_ui_find_exact_label (preferences, "Who May Message Me");
  GtkWidget *row = label != NULL ? gtk_widget_get_ancestor (label, ADW_TYPE_COMBO_ROW) : NULL;

  return row != NULL && gtk_widget_get_sensitive (row);
}

static void
test_token_user_no_password (NatterTestUi  *ui,
                             gconstpointer  data)
{
  g_autofree char *token = natter_test_ui_token (ui, "alice");
  GtkWidget *preferences;

  natter_test_ui_open (ui, ui->profile);
  natter_test_ui_sign_in_with_form (ui, natter_test_server_get_url (ui->server), token);
  natter_test_ui_wait_for_page (ui->window, "main");
  natter_test_ui_wait_connected (ui->window);
  g_assert_cmpstr (natter_account_get_sign_in_mode (natter_window_get_account (ui->window)), ==, "token");

  g_action_group_activate_action (G_ACTION_GROUP (natter_test_ui_app ()), "preferences", NULL);
  natter_test_ui_wait_anywhere ("Show Notifications", "the preferences");
  preferences = natter_test_ui_find_toplevel (ADW_TYPE_PREFERENCES_WINDOW);
  g_assert_nonnull (preferences);
  adw_preferences_window_set_visible_page_name (ADW_PREFERENCES_WINDOW (preferences), "account");
  natter_test_ui_wait_until (messages_row_answered, preferences, "the server's privacy answer");
  g_assert_null (natter_test_ui_find_exact_label (preferences, "Change Password…"));
  g_assert_null (natter_test_ui_find_exact_label (preferences, "Delete Account…"));
  natter_test_ui_close_windows_of_type (ADW_TYPE_PREFERENCES_WINDOW);
}

static gboolean
accounts_mode_known (gpointer root)
{
  GtkWidget *page = natter_test_ui_find_type (root, NATTER_TYPE_SIGN_IN_PAGE);

  return page != NULL && natter_sign_in_page_get_accounts_mode_known (NATTER_SIGN_IN_PAGE (page));
}

static void
test_create_hidden_when_off (NatterTestUi  *ui,
                             gconstpointer  data)
{
  GtkWidget *button;

  open_sign_in (ui, FALSE);
  /* the page asks the server: its answer, not a fixed time */
  natter_test_ui_wait_until (accounts_mode_known, ui->root, "the server's account settings");
  button = natter_test_ui_find_button_with_label (ui->root, "Create Account");
  g_assert_true (button == NULL || !gtk_widget_get_visible (button));
  g_assert_null (natter_test_ui_find_entry_row (ui->root, "Confirm Password (to create an account)"));
}

/* ------------------------------------------- password change, deletion */

typedef struct {
  gboolean answered;
  char *token;
  GError *error;
} Login;

static void
login_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  Login *login = user_data;

  login->token = natter_account_service_token_finish (NATTER_ACCOUNT_SERVICE (object), result, &login->error);
  login->answered = TRUE;
}

/* /account/login.json: the token, or NULL with the refusal's code in
 * @code. */
static char *
try_login (NatterTestUi *ui,
           const char   *user_id,
           const char   *password,
           int          *code)
{
  g_autoptr(NatterAccountService) service = natter_account_service_new (natter_test_server_get_url (ui->server),
                                                                        natter_test_server_get_app_key (ui->server));
  Login login = { 0 };

  natter_account_service_login_async (service, user_id, password, NULL, login_cb, &login);
  natter_test_ui_wait_until (is_true, &login.answered, "the login's answer");
  *code = login.error != NULL ? login.error->code : 0;
  if (login.error != NULL)
    g_assert_true (login.error->domain == NATTER_ACCOUNT_ERROR);
  g_clear_error (&login.error);
  return login.token;
}

/* The app on the sign-in page, signing @user_id in with @password. */
static void
sign_in_with_password (NatterTestUi *ui,
                       const char   *user_id,
                       const char   *password)
{
  open_sign_in (ui, TRUE);
  natter_test_ui_set_row_text (ui->root, "User ID", user_id);
  natter_test_ui_set_row_text (ui->root, "Password", password);
  gtk_widget_activate (natter_test_ui_find_button_with_label (ui->root, "Sign In"));
  natter_test_ui_wait_for_page (ui->window, "main");
  natter_test_ui_wait_connected (ui->window);
}

/* Preferences → Account, once the account rows show: @title's row
 * activated. */
static void
activate_account_row (const char *title)
{
  GtkWidget *preferences;
  GtkWidget *row;

  g_action_group_activate_action (G_ACTION_GROUP (natter_test_ui_app ()), "preferences", NULL);
  natter_test_ui_wait_anywhere ("Show Notifications", "the preferences");
  preferences = natter_test_ui_find_toplevel (ADW_TYPE_PREFERENCES_WINDOW);
  g_assert_nonnull (preferences);
  adw_preferences_window_set_visible_page_name (ADW_PREFERENCES_WINDOW (preferences), "account");
  natter_test_ui_wait_for_label (preferences, title);
  row = gtk_widget_get_ancestor (natter_test_ui_find_exact_label (preferences, title), ADW_TYPE_ACTION_ROW);
  g_assert_nonnull (row);
  g_assert_true (gtk_widget_get_visible (row) && gtk_widget_get_mapped (row));
  g_signal_emit_by_name (row, "activated");
}

static gboolean
password_dialog_shown (gpointer data)
{
  return natter_test_ui_find_toplevel (NATTER_TYPE_PASSWORD_DIALOG) != NULL;
}

static gboolean
password_dialog_gone (gpointer data)
{
  return !password_dialog_shown (data);
}

static gboolean
client_connected (gpointer client)
{
  return natter_client_get_status (client) == NATTER_CONNECTION_CONNECTED;
}

static gboolean
client_kicked (gpointer client)
{
  return natter_client_get_status (client) == NATTER_CONNECTION_KICKED_OFFLINE_BY_OTHER_CLIENT;
}

static void
kicked_code_cb (NatterClient           *client,
                NatterConnectionStatus  status,
                NatterConnectionStatus  old_status,
                const GError           *error,
                int                    *code)
{
  if (status == NATTER_CONNECTION_KICKED_OFFLINE_BY_OTHER_CLIENT && error != NULL)
    *code = error->code;
}

static void
heard_cb (NatterClient  *client,
          NatterMessage *message,
          GPtrArray     *heard)
{
  const char *text = natter_message_get_text (message);

  if (text != NULL)
    g_ptr_array_add (heard, g_strdup (text));
}

static gboolean
heard_after (gpointer heard)
{
  for (guint i = 0; i < ((GPtrArray *) heard)->len; i++)
    if (g_str_equal (g_ptr_array_index ((GPtrArray *) heard, i), "after the new password"))
      return TRUE;
  return FALSE;
}

static void
fill_password_dialog (GtkWidget  *dialog,
                      const char *old_password,
                      const char *new_password)
{
  natter_test_ui_set_row_text (dialog, "Current Password", old_password);
  natter_test_ui_set_row_text (dialog, "New Password", new_password);
  natter_test_ui_set_row_text (dialog, "Confirm New Password", new_password);
  g_signal_emit_by_name (natter_test_ui_find_entry_row (dialog, "Confirm New Password"), "entry-activated");
}

/* Preferences → Account → Change Password…: a wrong current password
 * shows 26002 in the dialog and changes nothing; the right one gives
 * the app a new token (stored where sign-in stores it) and it stays
 * connected through natterd's 31004 kick of every device of erin's:
 * a message sent after reaches bob. erin's second device, on the old
 * token, is kicked with 31004; the new password signs in, the old one
 * no longer does. */
static void
test_change_password (NatterTestUi  *ui,
                      gconstpointer  data)
{
  g_autofree char *second_profile = g_build_filename (ui->dir, "erin-2", NULL);
  g_autofree char *bob_profile = g_build_filename (ui->dir, "bob", NULL);
  g_autoptr(NatterAccountService) erin = NULL;
  g_autoptr(NatterAccountService) bob = NULL;
  g_autoptr(NatterClient) second = NULL;
  g_autoptr(NatterClient) bob_client = NULL;
  g_autoptr(GPtrArray) heard = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *old_token = NULL;
  g_autofree char *new_token = NULL;
  g_autofree char *stored = NULL;
  g_autofree char *token_path = NULL;
  g_autofree char *token = NULL;
  NatterAccount *account;
  NatterComposer *composer;
  GtkWidget *dialog;
  int kicked_code = 0;
  int code = 0;

  g_object_unref (register_user (ui, "erin", "erin's password"));
  g_object_unref (register_user (ui, "bob", "bob's password"));
  bob = login_user (ui, "bob", "bob's password");
  bob_client = natter_client_new (natter_test_server_get_url (ui->server), natter_test_server_get_app_key (ui->server),
                                  bob_profile);
  g_signal_connect (bob_client, "message-received", G_CALLBACK (heard_cb), heard);
  natter_client_connect (bob_client, natter_account_service_get_token (bob));
  natter_test_ui_wait_until (client_connected, bob_client, "bob connected");

  sign_in_with_password (ui, "erin", "erin's password");
  account = natter_window_get_account (ui->window);
  old_token = g_strdup (natter_account_get_token (account));

  /* erin's second device, on a token of the old password */
  erin = login_user (ui, "erin", "erin's password");
  second = natter_client_new (natter_test_server_get_url (ui->server), natter_test_server_get_app_key (ui->server),
                              second_profile);
  g_signal_connect (second, "status-changed", G_CALLBACK (kicked_code_cb), &kicked_code);
  natter_client_connect (second, natter_account_service_get_token (erin));
  natter_test_ui_wait_until (client_connected, second, "erin's second device connected");

  /* A wrong current password: the server's reason inline, nothing changed. */
  activate_account_row ("Change Password…");
  natter_test_ui_wait_until (password_dialog_shown, NULL, "the Change Password dialog");
  dialog = natter_test_ui_find_toplevel (NATTER_TYPE_PASSWORD_DIALOG);
  fill_password_dialog (dialog, "not erin's password", "erin's new password");
  natter_test_ui_wait_for_label (dialog, "26002");
  natter_test_ui_screenshot (dialog, "screenshot-accounts-change-password.png");
  natter_test_ui_spin (500);
  g_assert_true (client_connected (second));
  g_assert_cmpstr (natter_account_get_token (account), ==, old_token);

  /* Too short: refused in the dialog. */
  fill_password_dialog (dialog, "erin's password", "short");
  natter_test_ui_wait_for_label (dialog, "at least 8 characters");

  fill_password_dialog (dialog, "erin's password", "erin's new password");
  natter_test_ui_wait_until (password_dialog_gone, NULL, "the dialog to close on success");
  natter_test_ui_wait_until (client_kicked, second, "erin's second device kicked");
  g_assert_cmpint (kicked_code, ==, 31004);

  /* The app: a new token, stored, still on the main page and connected. */
  g_assert_cmpstr (natter_account_get_token (account), !=, old_token);
  natter_test_ui_wait_connected (ui->window);
  natter_test_ui_spin (1000);
  g_assert_cmpstr (natter_window_get_page (ui->window), ==, "main");
  g_assert_true (natter_test_ui_is_connected (ui->window));
  g_assert_null (natter_test_ui_find_message_dialog ());
  if (natter_account_get_token_in_file (account))
    {
      token_path = natter_account_dup_token_path (account);
      g_assert_true (g_file_get_contents (token_path, &stored, NULL, NULL));
      g_assert_cmpstr (g_strstrip (stored), ==, natter_account_get_token (account));
    }
  natter_test_ui_close_windows_of_type (ADW_TYPE_PREFERENCES_WINDOW);

  natter_window_open_conversation (ui->window, NATTER_CONVERSATION_PRIVATE, "bob", 0);
  composer = natter_chat_view_get_composer (ui->chat);
  natter_composer_set_text (composer, "after the new password");
  natter_composer_send (composer);
  natter_test_ui_wait_until (heard_after, heard, "bob receiving erin's message");

  new_token = try_login (ui, "erin", "erin's new password", &code);
  g_assert_nonnull (new_token);
  g_assert_cmpint (code, ==, 0);
  token = try_login (ui, "erin", "erin's password", &code);
  g_assert_null (token);
  g_assert_cmpint (code, ==, 26002);
  natter_client_disconnect (bob_client);
  natter_client_disconnect (second);
}

/* Preferences → Account → Delete Account…: a wrong password is refused
 * (26002) and erin stays; the right one deletes the account, the app
 * goes back to the sign-in page and erin can no longer sign in. */
static void
test_delete_account (NatterTestUi  *ui,
                     gconstpointer  data)
{
  g_autofree char *token = NULL;
  int code = 0;

  g_object_unref (register_user (ui, "erin", "erin's password"));
  sign_in_with_password (ui, "erin", "erin's password");

  activate_account_row ("Delete Account…");
  natter_test_ui_wait_until ((NatterTestUiPredicate) natter_test_ui_find_message_dialog, NULL,
                             "the Delete Account dialog");
  natter_test_ui_set_dialog_text ("not erin's password");
  natter_test_ui_respond_to_dialog ("delete");
  natter_test_ui_wait_anywhere ("26002", "the wrong password refused");
  g_assert_cmpstr (natter_window_get_page (ui->window), ==, "main");
  token = try_login (ui, "erin", "erin's password", &code);
  g_assert_nonnull (token);
  g_clear_pointer (&token, g_free);

  activate_account_row ("Delete Account…");
  natter_test_ui_wait_until ((NatterTestUiPredicate) natter_test_ui_find_message_dialog, NULL,
                             "the Delete Account dialog");
  natter_test_ui_set_dialog_text ("erin's password");
  natter_test_ui_respond_to_dialog ("delete");
  natter_test_ui_wait_for_page (ui->window, "sign-in");
  g_assert_null (natter_test_ui_find_message_dialog ());
  token = try_login (ui, "erin", "erin's password", &code);
  g_assert_null (token);
  g_assert_cmpint (code, ==, 26002);
}

int
main (int   argc,
      char *argv[])
{
  natter_test_ui_init (&argc, &argv);

  g_test_add ("/ui/accounts/contacts-and-group", NatterTestUi, NULL,
              setup_open, test_contacts_and_group, natter_test_ui_teardown);
  g_test_add ("/ui/accounts/account-privacy-menu", NatterTestUi, NULL,
              setup_open, test_account_privacy_menu, natter_test_ui_teardown);
  g_test_add ("/ui/accounts/member-not-offered-everyone", NatterTestUi, NULL,
              setup_open, test_member_not_offered_everyone, natter_test_ui_teardown);
  g_test_add ("/ui/accounts/token-user-no-password", NatterTestUi, NULL,
              setup_open, test_token_user_no_password, natter_test_ui_teardown);
  g_test_add ("/ui/accounts/create-hidden-when-off", NatterTestUi, NULL,
              natter_test_ui_setup, test_create_hidden_when_off, natter_test_ui_teardown);
  g_test_add ("/ui/accounts/change-password", NatterTestUi, NULL,
              setup_open, test_change_password, natter_test_ui_teardown);
  g_test_add ("/ui/accounts/delete-account", NatterTestUi, NULL,
              setup_open, test_delete_account, natter_test_ui_teardown);
  return natter_test_ui_run ();
}
