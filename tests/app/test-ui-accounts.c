/* test-ui-accounts.c — accounts, contacts and groups in the app (#14)
 *
 * A natterd whose app has accounts=open: the sign-in page offers "Create
 * Account", refuses a wrong password with its code and signs alice in
 * with the right one; bob's contact request shows with a badge and is
 * accepted in Contacts; a group made with "New Group" opens, its
 * RC:GrpNtf shows as a notice, and its details list the members with
 * their roles. Screenshots in the build dir (screenshot-accounts-*.png).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <string.h>

#include "natter-contacts-page.h"
#include "natter-group-details.h"
#include "natter-new-group-dialog.h"
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
  natter_test_ui_open (ui, ui->profile);
  natter_test_ui_wait_for_page (ui->window, "sign-in");
  natter_test_ui_set_row_text (ui->root, "Server Address", natter_test_server_get_url (ui->server));
  natter_test_ui_set_row_text (ui->root, "App Key", natter_test_server_get_app_key (ui->server));
  natter_test_ui_wait_until (create_shown, ui->root, "the Create Account button");
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
  gtk_widget_activate_action (ui->root, "win.group-details", NULL);
  natter_test_ui_wait_until (details_shown, NULL, "the group details");
  details = natter_test_ui_find_toplevel (NATTER_TYPE_GROUP_DETAILS);
  g_assert_nonnull (details);
  natter_test_ui_wait_for_label (details, "Owner");
  natter_test_ui_wait_for_label (details, "Member");
  natter_test_ui_wait_for_label (details, "bob");
  natter_test_ui_screenshot (details, "screenshot-accounts-group-details.png");
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

int
main (int   argc,
      char *argv[])
{
  natter_test_ui_init (&argc, &argv);

  g_test_add ("/ui/accounts/contacts-and-group", NatterTestUi, NULL,
              setup_open, test_contacts_and_group, natter_test_ui_teardown);
  return natter_test_ui_run ();
}
