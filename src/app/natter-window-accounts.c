/* natter-window-accounts.c — the window's way into accounts, contacts
 * and groups
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gi18n.h>

#include "natter-chat-view.h"
#include "natter-contacts-page.h"
#include "natter-format-accounts.h"
#include "natter-group-details.h"
#include "natter-new-group-dialog.h"
#include "natter-profile-dialog.h"
#include "natter-sidebar.h"
#include "natter-window-accounts.h"

#define BADGE_KEY "natter-contacts-badge"

static NatterAccountService *
service_of (NatterWindow *window)
{
  NatterAccount *account = natter_window_get_account (window);

  if (account == NULL || !natter_account_is_complete (account))
    return NULL;
  return natter_account_service_for (account);
}

static const char *
self_id (NatterWindow *window)
{
  NatterClient *client = natter_window_get_client (window);

  return client != NULL ? natter_client_get_user_id (client) : NULL;
}

/* ---------------------------------------------------------------- badge */

static void
set_badge (NatterWindow *window,
           guint         n_requests)
{
  GtkLabel *badge = g_object_get_data (G_OBJECT (window), BADGE_KEY);
  g_autofree char *text = g_strdup_printf ("%u", n_requests);

  if (badge == NULL)
    return;
  gtk_label_set_label (badge, text);
  gtk_widget_set_visible (GTK_WIDGET (badge), n_requests > 0);
}

static void
badge_contacts_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(NatterWindow) window = user_data;
  g_autoptr(GPtrArray) users = natter_account_service_users_finish (NATTER_ACCOUNT_SERVICE (object), result, NULL);
  guint n = 0;

  for (guint i = 0; users != NULL && i < users->len; i++)
    if (((NatterAccountUser *) g_ptr_array_index (users, i))->state == NATTER_CONTACT_STATE_INCOMING)
      n++;
  if (users != NULL)
    set_badge (window, n);
}

static void
reload_badge (NatterWindow *window)
{
  g_autoptr(NatterAccountService) service = service_of (window);

  if (service != NULL)
    natter_account_service_list_contacts_async (service, NULL, badge_contacts_cb, g_object_ref (window));
}

static void
status_changed_cb (NatterWindow           *window,
                   NatterConnectionStatus  status)
{
  if (status == NATTER_CONNECTION_CONNECTED)
    reload_badge (window);
}

static void
message_received_cb (NatterWindow  *window,
                     NatterMessage *message)
{
  GtkWidget *contacts = g_object_get_data (G_OBJECT (window), "natter-contacts-page");

  if (natter_message_get_kind (message) != NATTER_MESSAGE_KIND_CONTACT_NOTIFICATION)
    return;
  reload_badge (window);
  if (contacts != NULL)
    natter_contacts_page_reload (NATTER_CONTACTS_PAGE (contacts));
}

/* ------------------------------------------------------------- contacts */

static void
open_chat_cb (NatterContactsPage *page,
              const char         *user_id,
              NatterWindow       *window)
{
  natter_window_open_conversation (window, NATTER_CONVERSATION_PRIVATE, user_id, 0);
  gtk_window_destroy (GTK_WINDOW (gtk_widget_get_root (GTK_WIDGET (page))));
}

static void
start_call_cb (NatterContactsPage *page,
               const char         *user_id,
               const char         *name,
               gboolean            video,
               NatterWindow       *window)
{
  natter_window_start_call (window, user_id, name, video);
  gtk_window_destroy (GTK_WINDOW (gtk_widget_get_root (GTK_WIDGET (page))));
}

static void
requests_changed_cb (NatterContactsPage *page,
                     GParamSpec         *pspec,
                     NatterWindow       *window)
{
  guint n = natter_contacts_page_get_n_requests (page);
  GtkWidget *title = g_object_get_data (G_OBJECT (page), "natter-title");
  g_autofree char *subtitle = n > 0 ? g_strdup_printf (ngettext ("%u request", "%u requests", n), n) : NULL;

  adw_window_title_set_subtitle (ADW_WINDOW_TITLE (title), subtitle != NULL ? subtitle : "");
  set_badge (window, n);
}

static void
group_created_cb (NatterNewGroupDialog *dialog,
                  const char           *group_id,
                  NatterWindow         *window)
{
  natter_window_open_conversation (window, NATTER_CONVERSATION_GROUP, group_id, 0);
}

static void
show_new_group (NatterWindow *window,
                GPtrArray    *contacts)
{
  g_autoptr(NatterAccountService) service = service_of (window);
  NatterNewGroupDialog *dialog;

  if (service == NULL)
    return;
  dialog = natter_new_group_dialog_new (GTK_WINDOW (window), service, contacts);
  g_signal_connect_object (dialog, "created", G_CALLBACK (group_created_cb), window, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
new_group_clicked_cb (NatterContactsPage *page)
{
  NatterWindow *window = g_object_get_data (G_OBJECT (page), "natter-window");

  gtk_window_destroy (GTK_WINDOW (gtk_widget_get_root (GTK_WIDGET (page))));
  show_new_group (window, natter_contacts_page_get_contacts (page));
}

static void
contacts_window_destroyed_cb (NatterWindow *window)
{
  g_object_set_data (G_OBJECT (window), "natter-contacts-page", NULL);
  reload_badge (window);
}

static void
contacts_activated (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  NatterWindow *window = NATTER_WINDOW (widget);
  g_autoptr(NatterAccountService) service = service_of (window);
  GtkWidget *dialog, *box, *header, *title, *new_group;
  NatterContactsPage *page;

  if (service == NULL)
    return;
  dialog = adw_window_new ();
  g_object_set (dialog, "title", _("Contacts"), "transient-for", window, "modal", TRUE,
                "default-width", 440, "default-height", 620, NULL);
  page = natter_contacts_page_new (service);
  natter_contacts_page_set_client (page, natter_window_get_client (window));
  box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  header = adw_header_bar_new ();
  title = adw_window_title_new (_("Contacts"), "");
  adw_header_bar_set_title_widget (ADW_HEADER_BAR (header), title);
  new_group = gtk_button_new_with_mnemonic (_("New _Group"));
  adw_header_bar_pack_start (ADW_HEADER_BAR (header), new_group);
  gtk_box_append (GTK_BOX (box), header);
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (page));
  adw_window_set_content (ADW_WINDOW (dialog), box);

  g_object_set_data (G_OBJECT (page), "natter-title", title);
  g_object_set_data (G_OBJECT (page), "natter-window", window);
  g_object_set_data (G_OBJECT (window), "natter-contacts-page", page);
  g_signal_connect_object (page, "open-chat", G_CALLBACK (open_chat_cb), window, 0);
  g_signal_connect_object (page, "start-call", G_CALLBACK (start_call_cb), window, 0);
  g_signal_connect_object (page, "notify::n-requests", G_CALLBACK (requests_changed_cb), window, 0);
  g_signal_connect_object (new_group, "clicked", G_CALLBACK (new_group_clicked_cb), page, G_CONNECT_SWAPPED);
  g_signal_connect_object (dialog, "destroy", G_CALLBACK (contacts_window_destroyed_cb), window,
                           G_CONNECT_SWAPPED);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
new_group_contacts_cb (GObject      *object,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(NatterWindow) window = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) users = natter_account_service_users_finish (NATTER_ACCOUNT_SERVICE (object), result, &error);
  g_autoptr(GPtrArray) contacts = g_ptr_array_new_with_free_func ((GDestroyNotify) natter_account_user_free);

  if (users == NULL)
    {
      g_autofree char *message = natter_format_account_error (error);

      natter_window_add_toast (window, message);
      return;
    }
  for (guint i = 0; i < users->len; i++)
    if (((NatterAccountUser *) g_ptr_array_index (users, i))->state == NATTER_CONTACT_STATE_CONTACT)
      g_ptr_array_add (contacts, natter_account_user_copy (g_ptr_array_index (users, i)));
  show_new_group (window, contacts);
}

static void
new_group_activated (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  g_autoptr(NatterAccountService) service = service_of (NATTER_WINDOW (widget));

  if (service != NULL)
    natter_account_service_list_contacts_async (service, NULL, new_group_contacts_cb, g_object_ref (widget));
}

/* ----------------------------------------------------- profile, chats */

static void
profile_activated (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  NatterWindow *window = NATTER_WINDOW (widget);
  g_autoptr(NatterAccountService) service = service_of (window);
  NatterProfileDialog *dialog;

  if (service == NULL)
    return;
  dialog = natter_profile_dialog_new (GTK_WINDOW (window), service, natter_window_get_client (window),
                                      natter_sidebar_get_user_id (natter_window_get_sidebar (window)));
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
group_details_activated (GtkWidget  *widget,
                         const char *action_name,
                         GVariant   *parameter)
{
  NatterWindow *window = NATTER_WINDOW (widget);
  NatterChatView *chat = natter_window_get_chat_view (window);
  g_autoptr(NatterAccountService) service = service_of (window);
  NatterGroupDetails *details;

  /* a discussion (2) is a group too: same members and roles (#16) */
  if (service == NULL || natter_chat_view_get_target_id (chat) == NULL ||
      (natter_chat_view_get_conversation_type (chat) != NATTER_CONVERSATION_GROUP &&
       natter_chat_view_get_conversation_type (chat) != NATTER_CONVERSATION_DISCUSSION))
    return;
  details = natter_group_details_new (GTK_WINDOW (window), service, natter_chat_view_get_target_id (chat),
                                      self_id (window));
  gtk_window_present (GTK_WINDOW (details));
}

/* ------------------------------------------------------ the chat menu */

/* The users this account blocked, as last read from the server (a set);
 * NULL before the first answer. */
#define BLOCKED_KEY "natter-blocked-ids"

/* The chat menu offers what applies to the open chat: Block or Unblock
 * in a private chat (by whether they are blocked), Group Details in a
 * group or discussion. */
void
natter_window_accounts_update_chat_actions (NatterWindow *window)
{
  NatterChatView *chat = natter_window_get_chat_view (window);
  GHashTable *blocked = g_object_get_data (G_OBJECT (window), BLOCKED_KEY);
  const char *target = chat != NULL ? natter_chat_view_get_target_id (chat) : NULL;
  NatterConversationType type = chat != NULL ? natter_chat_view_get_conversation_type (chat) : 0;
  gboolean is_private = target != NULL && type == NATTER_CONVERSATION_PRIVATE;
  gboolean is_blocked = is_private && blocked != NULL && g_hash_table_contains (blocked, target);
  NatterAccount *account = natter_window_get_account (window);
  gboolean accounts = account != NULL && natter_account_is_complete (account);

  gtk_widget_action_set_enabled (GTK_WIDGET (window), "win.group-details",
                                 accounts && target != NULL &&
                                 (type == NATTER_CONVERSATION_GROUP || type == NATTER_CONVERSATION_DISCUSSION));
  gtk_widget_action_set_enabled (GTK_WIDGET (window), "win.block", accounts && is_private && !is_blocked);
  gtk_widget_action_set_enabled (GTK_WIDGET (window), "win.unblock", accounts && is_private && is_blocked);
}

static void
blocked_list_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(NatterWindow) window = user_data;
  g_auto(GStrv) ids = natter_account_service_list_blocked_finish (NATTER_ACCOUNT_SERVICE (object), result, NULL);
  GHashTable *blocked;

  /* an error keeps what was known */
  if (ids == NULL)
    return;
  blocked = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; ids[i] != NULL; i++)
    g_hash_table_add (blocked, g_strdup (ids[i]));
  g_object_set_data_full (G_OBJECT (window), BLOCKED_KEY, blocked, (GDestroyNotify) g_hash_table_unref);
  natter_window_accounts_update_chat_actions (window);
}

/* Asks the server who is blocked (another device may have changed it). */
static void
refresh_blocked (NatterWindow *window)
{
  g_autoptr(NatterAccountService) service = service_of (window);

  natter_window_accounts_update_chat_actions (window);
  if (service != NULL)
    natter_account_service_list_blocked_async (service, NULL, blocked_list_cb, g_object_ref (window));
}


static void
blocked_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(NatterWindow) window = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL;

  if (!natter_account_service_call_finish (NATTER_ACCOUNT_SERVICE (object), result, &error))
    message = natter_format_account_error (error);
  else
    message = g_strdup (GPOINTER_TO_INT (g_object_get_data (G_OBJECT (window), "natter-blocking"))
                        ? _("Blocked: their messages no longer reach you")
                        : _("Unblocked"));
  natter_window_add_toast (window, message);
  refresh_blocked (window);
}

static void
block_activated (GtkWidget  *widget,
                 const char *action_name,
                 GVariant   *parameter)
{
  NatterWindow *window = NATTER_WINDOW (widget);
  NatterChatView *chat = natter_window_get_chat_view (window);
  g_autoptr(NatterAccountService) service = service_of (window);
  gboolean block = g_str_equal (action_name, "win.block");

  if (service == NULL || natter_chat_view_get_target_id (chat) == NULL ||
      natter_chat_view_get_conversation_type (chat) != NATTER_CONVERSATION_PRIVATE)
    return;
  g_object_set_data (G_OBJECT (window), "natter-blocking", GINT_TO_POINTER (block));
  natter_account_service_contact_async (service, block ? NATTER_CONTACT_ACTION_BLOCK : NATTER_CONTACT_ACTION_UNBLOCK,
                                        natter_chat_view_get_target_id (chat), NULL, NULL, blocked_cb,
                                        g_object_ref (window));
}

/* --------------------------------------------------------------- wiring */

void
natter_window_accounts_install_actions (GtkWidgetClass *widget_class)
{
  gtk_widget_class_install_action (widget_class, "win.contacts", NULL, contacts_activated);
  gtk_widget_class_install_action (widget_class, "win.new-group", NULL, new_group_activated);
  gtk_widget_class_install_action (widget_class, "win.profile", NULL, profile_activated);
  gtk_widget_class_install_action (widget_class, "win.group-details", NULL, group_details_activated);
  gtk_widget_class_install_action (widget_class, "win.block", NULL, block_activated);
  gtk_widget_class_install_action (widget_class, "win.unblock", NULL, block_activated);
}

void
natter_window_accounts_attach (NatterWindow *window,
                               GSignalGroup *client_signals)
{
  AdwHeaderBar *sidebar_header = natter_sidebar_get_header_bar (natter_window_get_sidebar (window));
  GtkWidget *overlay = gtk_overlay_new ();
  GtkWidget *button = gtk_button_new_from_icon_name ("system-users-symbolic");
  GtkWidget *badge = gtk_label_new ("0");

  gtk_actionable_set_action_name (GTK_ACTIONABLE (button), "win.contacts");
  gtk_widget_set_tooltip_text (button, _("Contacts"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Contacts"), -1);
  gtk_overlay_set_child (GTK_OVERLAY (overlay), button);
  gtk_widget_set_halign (badge, GTK_ALIGN_END);
  gtk_widget_set_valign (badge, GTK_ALIGN_START);
  gtk_widget_set_can_target (badge, FALSE);
  gtk_widget_add_css_class (badge, "unread-badge");
  gtk_widget_set_visible (badge, FALSE);
  gtk_overlay_add_overlay (GTK_OVERLAY (overlay), badge);
  adw_header_bar_pack_start (sidebar_header, overlay);
  g_object_set_data (G_OBJECT (window), BADGE_KEY, badge);

  g_signal_group_connect_object (client_signals, "message-received", G_CALLBACK (message_received_cb),
                                 window, G_CONNECT_SWAPPED);
  g_signal_group_connect_object (client_signals, "status-changed", G_CALLBACK (status_changed_cb),
                                 window, G_CONNECT_SWAPPED);
}

/* The chat view's menu, when the window makes its chat view. */
void
natter_window_accounts_attach_chat_view (NatterWindow   *window,
                                         NatterChatView *chat)
{
  GtkBox *chat_header = natter_chat_view_get_header_box (chat);
  g_autoptr(GMenu) menu = g_menu_new ();
  GtkWidget *chat_menu;

  /* only what applies to this chat: natter_window_accounts_update_chat_actions() */
  static const struct { const char *label, *action; } chat_items[] = {
    { N_("_Group Details"), "win.group-details" },
    { N_("_Block"), "win.block" },
    { N_("_Unblock"), "win.unblock" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (chat_items); i++)
    {
      g_autoptr(GMenuItem) item = g_menu_item_new (_(chat_items[i].label), chat_items[i].action);

      g_menu_item_set_attribute (item, "hidden-when", "s", "action-disabled");
      g_menu_append_item (menu, item);
    }
  {
    g_autoptr(GMenuItem) leave = g_menu_item_new (_("_Leave Chat Room"), "win.leave-chatroom");

    /* only in a chat room's chat */
    g_menu_item_set_attribute (leave, "hidden-when", "s", "action-disabled");
    g_menu_append_item (menu, leave);
  }
  g_menu_append (menu, _("New _Group…"), "win.new-group");
  g_menu_append (menu, _("Your _Profile…"), "win.profile");
  chat_menu = gtk_menu_button_new ();
  gtk_menu_button_set_icon_name (GTK_MENU_BUTTON (chat_menu), "view-more-symbolic");
  gtk_menu_button_set_menu_model (GTK_MENU_BUTTON (chat_menu), G_MENU_MODEL (menu));
  gtk_widget_set_tooltip_text (chat_menu, _("Chat Menu"));
  /* whether they are blocked is read again each time the menu opens */
  g_signal_connect_object (gtk_menu_button_get_popover (GTK_MENU_BUTTON (chat_menu)), "show",
                           G_CALLBACK (refresh_blocked), window, G_CONNECT_SWAPPED);
  gtk_box_append (chat_header, chat_menu);
  natter_window_accounts_update_chat_actions (window);
}
