/* natter-window.c — the window of one profile
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gi18n.h>

#include "natter-bench-probe.h"
#include "natter-format.h"
#include "natter-notifier.h"
#include "natter-sign-in-page.h"
#include "natter-toast-queue.h"
#include "natter-window.h"
#include "natter-call-controller.h"

struct _NatterWindow
{
  AdwApplicationWindow parent_instance;

  char *profile_dir;
  NatterAccount *account;
  NatterClient *client;
  GSettings *settings;
  GSettings *state_settings;     /* the window's size: delayed, applied when it closes */
  NatterNotifier *notifier;
  GtkWidget *status_dialog;   /* weak */
  gboolean synced;
  char *pending_token;     /* connect once the stored conversations show */
  guint connect_id;
  /* a chat asked for before the profile was read (a notification's
   * action that started the app): opened once it is */
  NatterConversationType pending_type;
  char *pending_target;
  gint64 pending_message_id;
  NatterToastQueue *toasts;
  NatterCallController *calls;

  AdwToastOverlay *toast_overlay;
  GtkStack *stack;
  NatterSignInPage *sign_in_page;
  AdwLeaflet *leaflet;
  NatterSidebar *sidebar;
  GtkStack *chat_stack;
  AdwHeaderBar *empty_header_bar;
  NatterChatView *chat_view;
};

G_DEFINE_FINAL_TYPE (NatterWindow, natter_window, ADW_TYPE_APPLICATION_WINDOW)

enum {
  PROP_0,
  PROP_PROFILE_DIR,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void start_client (NatterWindow *self,
                          NatterClient *client);

/* ---------------------------------------------------------------- toasts */

/* Takes @toast: one at a time (see natter-toast-queue.c). */
static void
add_toast (NatterWindow *self,
           AdwToast     *toast)
{
  natter_toast_queue_add (self->toasts, toast);
}

void
natter_window_add_toast (NatterWindow *self,
                         const char   *text)
{
  g_return_if_fail (NATTER_IS_WINDOW (self));
  add_toast (self, adw_toast_new (text));
}

/* ------------------------------------------------------------ the title */

static void
update_title (NatterWindow *self)
{
  NatterConversationList *list = natter_sidebar_get_conversations (self->sidebar);
  guint unread = list != NULL ? natter_conversation_list_get_unread_total (list) : 0;
  g_autofree char *title = NULL;

  if (unread > 0)
    /* Translators: window title with the number of unread messages */
    title = g_strdup_printf (_("Natter (%u)"), unread);
  else
    title = g_strdup (_("Natter"));
  gtk_window_set_title (GTK_WINDOW (self), title);
}

/* -------------------------------------------------------------- layout */

static void
folded_changed_cb (NatterWindow *self)
{
  gboolean folded = adw_leaflet_get_folded (self->leaflet);
  AdwHeaderBar *sidebar_bar = natter_sidebar_get_header_bar (self->sidebar);
  AdwHeaderBar *chat_bar = natter_chat_view_get_header_bar (self->chat_view);

  /* unfolded: window buttons at the outer ends only */
  adw_header_bar_set_show_end_title_buttons (sidebar_bar, folded);
  adw_header_bar_set_show_start_title_buttons (chat_bar, folded);
  adw_header_bar_set_show_start_title_buttons (self->empty_header_bar, folded);
  natter_chat_view_set_show_back (self->chat_view, folded);
}

const char *
natter_window_get_page (NatterWindow *self)
{
  g_return_val_if_fail (NATTER_IS_WINDOW (self), NULL);
  return gtk_stack_get_visible_child_name (self->stack);
}

NatterAccount *
natter_window_get_account (NatterWindow *self)
{
  g_return_val_if_fail (NATTER_IS_WINDOW (self), NULL);
  return self->account;
}

NatterClient *
natter_window_get_client (NatterWindow *self)
{
  g_return_val_if_fail (NATTER_IS_WINDOW (self), NULL);
  return self->client;
}

NatterSidebar *
natter_window_get_sidebar (NatterWindow *self)
{
  g_return_val_if_fail (NATTER_IS_WINDOW (self), NULL);
  return self->sidebar;
}

NatterChatView *
natter_window_get_chat_view (NatterWindow *self)
{
  g_return_val_if_fail (NATTER_IS_WINDOW (self), NULL);
  return self->chat_view;
}

/* -------------------------------------------------------- conversations */

void
natter_window_open_conversation (NatterWindow           *self,
                                 NatterConversationType  type,
                                 const char             *target_id,
                                 gint64                  message_id)
{
  NatterConversationList *list;
  g_autoptr(NatterConversation) conversation = NULL;
  guint pos = G_MAXUINT;

  g_return_if_fail (NATTER_IS_WINDOW (self));

  if (target_id == NULL || *target_id == '\0')
    return;
  if (self->client == NULL)
    {
      /* still reading the profile: when it is signed in, this chat opens */
      if (g_strcmp0 (natter_window_get_page (self), "sign-in") != 0)
        {
          g_free (self->pending_target);
          self->pending_target = g_strdup (target_id);
          self->pending_type = type;
          self->pending_message_id = message_id;
        }
      return;
    }

  list = natter_sidebar_get_conversations (self->sidebar);
  if (list != NULL)
    pos = natter_conversation_list_find (list, type, target_id);
  if (pos != G_MAXUINT)
    conversation = g_list_model_get_item (G_LIST_MODEL (list), pos);

  natter_chat_view_open (self->chat_view, self->client, type, target_id, conversation);
  natter_sidebar_select (self->sidebar, type, target_id);
  gtk_stack_set_visible_child_name (self->chat_stack, "chat");
  adw_leaflet_set_visible_child (self->leaflet, GTK_WIDGET (self->chat_stack));
  if (message_id != 0)
    natter_chat_view_show_message (self->chat_view, message_id);

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.call-voice", type == NATTER_CONVERSATION_PRIVATE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.call-video", type == NATTER_CONVERSATION_PRIVATE);

  natter_notifier_withdraw (self->notifier, type, target_id);
}

/* A notification's “Mark as Read”: read without opening the chat. */
void
natter_window_mark_read (NatterWindow           *self,
                         NatterConversationType  type,
                         const char             *target_id)
{
  g_return_if_fail (NATTER_IS_WINDOW (self));
  natter_notifier_mark_read (self->notifier, type, target_id);
}

static void
conversation_activated_cb (NatterWindow *self,
                           int           type,
                           const char   *target_id)
{
  natter_window_open_conversation (self, type, target_id, 0);
}

static void
message_activated_cb (NatterWindow  *self,
                      NatterMessage *message)
{
  natter_window_open_conversation (self, natter_message_get_conversation_type (message),
                                   natter_message_get_target_id (message),
                                   natter_message_get_message_id (message));
}

static void
close_chat (NatterWindow *self)
{
  natter_chat_view_close (self->chat_view);
  natter_sidebar_select (self->sidebar, 0, NULL);
  gtk_stack_set_visible_child_name (self->chat_stack, "empty");
  adw_leaflet_set_visible_child (self->leaflet, GTK_WIDGET (self->sidebar));
}

/* -------------------------------------------------------- notifications */

/* The notifier asks: on screen already? The open chat, or any chat's row
 * in the list beside it, in the focused window. */
static gboolean
message_in_view_cb (NatterWindow  *self,
                    NatterMessage *message)
{
  gboolean open_here = natter_chat_view_get_target_id (self->chat_view) != NULL &&
                       natter_chat_view_get_conversation_type (self->chat_view) ==
                         natter_message_get_conversation_type (message) &&
                       g_strcmp0 (natter_chat_view_get_target_id (self->chat_view),
                                  natter_message_get_target_id (message)) == 0;

  return gtk_window_is_active (GTK_WINDOW (self)) && (open_here || !adw_leaflet_get_folded (self->leaflet));
}

/* ------------------------------------------------------- connection state */

static void
sign_out_done_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!natter_account_forget_token_finish (NATTER_ACCOUNT (object), result, &error))
    g_warning ("Forgetting the token: %s", error->message);
}

static void
stop_client (NatterWindow *self)
{
  close_chat (self);
  natter_sidebar_set_client (self->sidebar, NULL);
  if (self->client != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->client, self);
      natter_client_disconnect (self->client);
    }
  g_clear_object (&self->client);
  g_clear_object (&self->calls);
  g_clear_handle_id (&self->connect_id, g_source_remove);
  g_clear_pointer (&self->pending_token, g_free);
  self->synced = FALSE;
  update_title (self);
  /* signed out: nothing of this account stays on screen */
  natter_notifier_set_client (self->notifier, NULL);
}

static void
show_sign_in (NatterWindow *self,
              const char   *error)
{
  natter_sign_in_page_set_profile_dir (self->sign_in_page, self->profile_dir);
  natter_sign_in_page_prefill (self->sign_in_page,
                               natter_account_get_server_url (self->account),
                               natter_account_get_app_key (self->account),
                               natter_account_get_app_server_url (self->account),
                               natter_account_get_user_id (self->account));
  natter_sign_in_page_show_error (self->sign_in_page, error);
  gtk_stack_set_visible_child_name (self->stack, "sign-in");
  g_clear_pointer (&self->pending_target, g_free);
}

static void
sign_out (NatterWindow *self,
          const char   *why)
{
  stop_client (self);
  natter_account_forget_token_async (self->account, NULL, sign_out_done_cb, NULL);
  show_sign_in (self, why);
}

static void
status_dialog_response_cb (NatterWindow *self,
                           const char   *response)
{
  g_clear_weak_pointer (&self->status_dialog);
  if (g_str_equal (response, "reconnect") && self->client != NULL)
    natter_client_reconnect (self->client);
  else if (g_str_equal (response, "sign-out"))
    sign_out (self, NULL);
}

static void
show_status_dialog (NatterWindow *self,
                    const char   *heading,
                    const char   *body,
                    gboolean      can_reconnect)
{
  GtkWidget *dialog;

  if (self->status_dialog != NULL)
    gtk_window_destroy (GTK_WINDOW (self->status_dialog));

  dialog = adw_message_dialog_new (GTK_WINDOW (self), heading, body);
  adw_message_dialog_add_response (ADW_MESSAGE_DIALOG (dialog), "sign-out", _("Sign _Out"));
  if (can_reconnect)
    {
      adw_message_dialog_add_response (ADW_MESSAGE_DIALOG (dialog), "close", _("_Stay Offline"));
      adw_message_dialog_add_response (ADW_MESSAGE_DIALOG (dialog), "reconnect", _("_Use Here"));
      adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "reconnect",
                                                  ADW_RESPONSE_SUGGESTED);
      adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "reconnect");
      adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "close");
    }
  else
    adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "sign-out");
  g_signal_connect_object (dialog, "response", G_CALLBACK (status_dialog_response_cb),
                           self, G_CONNECT_SWAPPED);
  g_set_weak_pointer (&self->status_dialog, dialog);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
sync_done_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  natter_client_sync_conversations_finish (NATTER_CLIENT (object), result, &error);
  if (error != NULL)
    g_message ("Syncing conversations: %s", error->message);
}

static void
status_changed_cb (NatterWindow           *self,
                   NatterConnectionStatus  status,
                   NatterConnectionStatus  old_status,
                   const GError           *error)
{
  natter_sidebar_set_status (self->sidebar, status);

  if (status == NATTER_CONNECTION_CONNECTED)
    {
      if (self->status_dialog != NULL)
        gtk_window_destroy (GTK_WINDOW (self->status_dialog));
      natter_sidebar_set_user_id (self->sidebar, natter_client_get_user_id (self->client));
      if (!self->synced)
        {
          self->synced = TRUE;
          natter_client_sync_conversations_async (self->client, NULL, sync_done_cb, NULL);
        }
      return;
    }

  if (status == NATTER_CONNECTION_KICKED_OFFLINE_BY_OTHER_CLIENT)
    {
      show_status_dialog (self, _("Signed In on Another Device"),
                          _("This account signed in somewhere else, so this window no longer "
                            "receives messages. Natter does not reconnect by itself, so the two "
                            "devices do not keep taking turns."),
                          TRUE);
      return;
    }

  if (error != NULL && error->domain == NATTER_CLIENT_ERROR &&
      (error->code == NATTER_CODE_TOKEN_INCORRECT || error->code == NATTER_CODE_TOKEN_EXPIRED ||
       error->code == NATTER_CODE_APP_KEY_MISMATCH || error->code == NATTER_CODE_APP_KEY_REJECTED ||
       error->code == NATTER_CODE_USER_BLOCKED || error->code == NATTER_CODE_APP_BLOCKED))
    {
      g_autofree char *why = natter_format_error (error);
      sign_out (self, why);
    }
}

/* Kicked from or the end of a chat room (23409, 23410). */
static void
chatroom_event_cb (NatterWindow *self,
                   const char   *chatroom_id,
                   int           code)
{
  const char *why = natter_format_code (code);
  /* Translators: chat room id, then what happened */
  g_autofree char *text = g_strdup_printf (_("Chat room %s: %s"), chatroom_id,
                                           why != NULL ? why : _("Unknown error"));

  natter_window_add_toast (self, text);
}

static void
unread_changed_cb (NatterWindow *self)
{
  update_title (self);
}

/* The open chat had no conversation yet (a new chat, or opened before the
 * list loaded): give it the one that appeared. In an idle: the list may be
 * in the middle of moving an item when it says so. */
static gboolean
attach_conversation_idle_cb (gpointer user_data)
{
  NatterWindow *self = user_data;
  NatterConversationList *list;
  const char *target;
  NatterConversationType type;
  g_autoptr(NatterConversation) conversation = NULL;
  guint pos;

  if (self->client == NULL || self->chat_view == NULL)
    return G_SOURCE_REMOVE;   /* signed out or closed meanwhile */
  list = natter_sidebar_get_conversations (self->sidebar);
  target = natter_chat_view_get_target_id (self->chat_view);
  type = natter_chat_view_get_conversation_type (self->chat_view);
  if (list == NULL || target == NULL || natter_chat_view_get_conversation (self->chat_view) != NULL)
    return G_SOURCE_REMOVE;
  pos = natter_conversation_list_find (list, type, target);
  if (pos == G_MAXUINT)
    return G_SOURCE_REMOVE;
  conversation = g_list_model_get_item (G_LIST_MODEL (list), pos);
  natter_chat_view_open (self->chat_view, self->client, type, target, conversation);
  natter_sidebar_select (self->sidebar, type, target);
  return G_SOURCE_REMOVE;
}

static void
conversations_changed_cb (NatterWindow *self)
{
  if (natter_chat_view_get_target_id (self->chat_view) != NULL &&
      natter_chat_view_get_conversation (self->chat_view) == NULL)
    g_idle_add_full (G_PRIORITY_DEFAULT, attach_conversation_idle_cb, g_object_ref (self), g_object_unref);
}

/* The open chat's conversation was deleted (here, from the sidebar's
 * menu, or on another device): the chat closes with it. A chat without a
 * conversation yet (a new one) is told “removed” for a row that never
 * was: it stays. */
static void
conversation_removed_cb (NatterWindow           *self,
                         NatterConversationType  type,
                         const char             *target_id,
                         NatterStore            *store)
{
  if (self->client == NULL || store != natter_client_get_store (self->client) ||
      natter_chat_view_get_conversation (self->chat_view) == NULL)
    return;
  if (natter_chat_view_get_conversation_type (self->chat_view) == type &&
      g_strcmp0 (natter_chat_view_get_target_id (self->chat_view), target_id) == 0)
    close_chat (self);
}

static void
start_client (NatterWindow *self,
              NatterClient *client)
{
  g_autofree char *cache = NULL;

  stop_client (self);
  self->client = g_object_ref (client);
  g_signal_connect_object (client, "status-changed", G_CALLBACK (status_changed_cb),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (client, "chatroom-event", G_CALLBACK (chatroom_event_cb),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (natter_client_get_store (client), "conversation-removed",
                           G_CALLBACK (conversation_removed_cb), self, G_CONNECT_SWAPPED);

  natter_notifier_set_client (self->notifier, client);
  natter_sidebar_set_client (self->sidebar, client);
  natter_chat_view_set_portraits (self->chat_view, natter_sidebar_get_portraits (self->sidebar));
  natter_sidebar_set_user_id (self->sidebar, natter_account_get_user_id (self->account));
  g_signal_connect_object (natter_sidebar_get_conversations (self->sidebar), "notify::unread-total",
                           G_CALLBACK (unread_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (natter_sidebar_get_conversations (self->sidebar), "items-changed",
                           G_CALLBACK (conversations_changed_cb), self, G_CONNECT_SWAPPED);
  natter_sidebar_set_status (self->sidebar, natter_client_get_status (client));

  cache = g_build_filename (self->profile_dir, "outgoing", NULL);
  natter_composer_set_cache_dir (natter_chat_view_get_composer (self->chat_view), cache);

  gtk_stack_set_visible_child_name (self->stack, "main");
  update_title (self);
  if (natter_client_get_status (client) == NATTER_CONNECTION_CONNECTED)
    status_changed_cb (self, NATTER_CONNECTION_CONNECTED, NATTER_CONNECTION_CONNECTED, NULL);
}

static void
start_calls (NatterWindow *self)
{
  if (self->calls == NULL && self->client != NULL)
    self->calls = natter_call_controller_new (GTK_APPLICATION (g_application_get_default ()),
                                              self->client);
}

static gboolean
connect_idle_cb (gpointer user_data)
{
  NatterWindow *self = user_data;
  g_autofree char *token = g_steal_pointer (&self->pending_token);

  self->connect_id = 0;
  if (self->client == NULL)
    return G_SOURCE_REMOVE;
  /* calls listen before the first message can arrive */
  start_calls (self);
  natter_client_connect (self->client, token);
  return G_SOURCE_REMOVE;
}

static void
after_list_painted_cb (GdkFrameClock *clock,
                       NatterWindow  *self)
{
  if (clock != NULL)
    g_signal_handlers_disconnect_by_func (clock, after_list_painted_cb, self);
  if (self->connect_id == 0 && self->pending_token != NULL)
    self->connect_id = g_idle_add_full (G_PRIORITY_LOW, connect_idle_cb, self, NULL);
}

static void
list_loading_cb (NatterWindow *self)
{
  NatterConversationList *list = natter_sidebar_get_conversations (self->sidebar);
  GdkFrameClock *clock;

  if (list != NULL && natter_conversation_list_get_loading (list))
    return;
  if (list != NULL)
    g_signal_handlers_disconnect_by_func (list, list_loading_cb, self);
  /* after the frame that shows them: a start as fast as the store allows,
   * then the network and the call machinery (its DTLS key takes a while) */
  clock = gtk_widget_get_frame_clock (GTK_WIDGET (self));
  if (clock == NULL)
    {
      after_list_painted_cb (NULL, self);
      return;
    }
  g_signal_connect_object (clock, "after-paint", G_CALLBACK (after_list_painted_cb), self, 0);
  gdk_frame_clock_request_phase (clock, GDK_FRAME_CLOCK_PHASE_PAINT);
}

/* Connects once the stored conversations are on screen. */
static void
connect_soon (NatterWindow *self,
              const char   *token)
{
  NatterConversationList *list = natter_sidebar_get_conversations (self->sidebar);

  g_free (self->pending_token);
  self->pending_token = g_strdup (token);
  g_signal_connect_object (list, "notify::loading", G_CALLBACK (list_loading_cb),
                           self, G_CONNECT_SWAPPED);
  list_loading_cb (self);
}

static void
account_saved_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(NatterWindow) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!natter_account_save_finish (NATTER_ACCOUNT (object), result, &error))
    {
      g_autofree char *text = g_strdup_printf (_("Could not save the sign-in: %s"), error->message);
      natter_window_add_toast (self, text);
      return;
    }
  if (natter_account_get_token_in_file (self->account))
    {
      g_autofree char *path = natter_account_dup_token_path (self->account);
      g_autofree char *text = g_strdup_printf (_("No keyring is running: your token is kept in %s, readable only by you."),
                                               path);
      AdwToast *toast = adw_toast_new (text);
      adw_toast_set_timeout (toast, 10);
      add_toast (self, toast);
    }
}

static void
signed_in_cb (NatterWindow *self,
              NatterClient *client,
              const char   *token,
              const char   *app_server_url)
{
  natter_account_save_async (self->account,
                             natter_client_get_server_url (client),
                             natter_client_get_app_key (client),
                             natter_client_get_user_id (client),
                             app_server_url, token, NULL,
                             account_saved_cb, g_object_ref (self));
  start_client (self, client);
  start_calls (self);
}

static void
account_loaded_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(NatterWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterClient) client = NULL;

  if (!natter_account_load_finish (self->account, result, &error))
    {
      g_autofree char *text = NULL;
      if (error != NULL)
        text = g_strdup_printf (_("Could not read the profile: %s"), error->message);
      show_sign_in (self, text);
      return;
    }

  /* Signed in before: show the stored conversations at once and connect
   * in the background. */
  client = natter_client_new (natter_account_get_server_url (self->account),
                              natter_account_get_app_key (self->account),
                              self->profile_dir);
  start_client (self, client);
  connect_soon (self, natter_account_get_token (self->account));
  if (self->pending_target != NULL)
    {
      g_autofree char *target = g_steal_pointer (&self->pending_target);
      natter_window_open_conversation (self, self->pending_type, target, self->pending_message_id);
    }
}

/* -------------------------------------------------------------- actions */

static void
new_chat_response_cb (AdwMessageDialog *dialog,
                      const char       *response,
                      NatterWindow     *self)
{
  GtkEditable *entry = g_object_get_data (G_OBJECT (dialog), "entry");
  GtkDropDown *kind = g_object_get_data (G_OBJECT (dialog), "kind");
  g_autofree char *target = NULL;
  static const NatterConversationType types[] = {
    NATTER_CONVERSATION_PRIVATE, NATTER_CONVERSATION_GROUP, NATTER_CONVERSATION_CHATROOM,
  };
  guint selected;

  if (!g_str_equal (response, "open"))
    return;
  target = g_strstrip (g_strdup (gtk_editable_get_text (entry)));
  selected = kind != NULL ? gtk_drop_down_get_selected (kind) : 2;
  if (*target == '\0' || selected >= G_N_ELEMENTS (types))
    return;

  if (types[selected] == NATTER_CONVERSATION_CHATROOM)
    natter_client_join_chatroom_async (self->client, target, 50, NULL, NULL, NULL);
  natter_window_open_conversation (self, types[selected], target, 0);
}

static void
entry_changed_cb (GtkEditable      *entry,
                  AdwMessageDialog *dialog)
{
  const char *text = gtk_editable_get_text (entry);
  adw_message_dialog_set_response_enabled (dialog, "open", text != NULL && *text != '\0');
}

static void
entry_activate_cb (GtkEntry         *entry,
                   AdwMessageDialog *dialog)
{
  if (adw_message_dialog_get_response_enabled (dialog, "open"))
    {
      adw_message_dialog_response (dialog, "open");
      gtk_window_close (GTK_WINDOW (dialog));
    }
}

static void
open_chat_dialog (NatterWindow *self,
                  gboolean      chatroom)
{
  GtkWidget *dialog, *box, *entry;
  GtkWidget *kind = NULL;

  if (self->client == NULL)
    return;

  dialog = adw_message_dialog_new (GTK_WINDOW (self),
                                   chatroom ? _("Join Chat Room") : _("New Chat"),
                                   chatroom ? _("Enter the ID of the chat room. It is created if it does not exist yet.")
                                            : _("Enter the ID of a person or a group."));
  box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  if (!chatroom)
    {
      const char *kinds[] = { _("Person"), _("Group"), _("Chat room"), NULL };
      kind = gtk_drop_down_new_from_strings (kinds);
      gtk_accessible_update_property (GTK_ACCESSIBLE (kind), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                      _("Kind of chat"), -1);
      gtk_box_append (GTK_BOX (box), kind);
    }
  entry = gtk_entry_new ();
  gtk_entry_set_placeholder_text (GTK_ENTRY (entry), chatroom ? _("Chat room ID") : _("User or group ID"));
  gtk_entry_set_activates_default (GTK_ENTRY (entry), FALSE);
  gtk_box_append (GTK_BOX (box), entry);
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), box);

  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "open", chatroom ? _("_Join") : _("_Open Chat"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "open", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_response_enabled (ADW_MESSAGE_DIALOG (dialog), "open", FALSE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "open");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_object_set_data (G_OBJECT (dialog), "entry", entry);
  g_object_set_data (G_OBJECT (dialog), "kind", kind);
  if (chatroom)
    {
      /* a join dialog has no kind chooser: it is always a chat room */
      g_object_set_data (G_OBJECT (dialog), "kind", NULL);
    }
  g_signal_connect (entry, "changed", G_CALLBACK (entry_changed_cb), dialog);
  g_signal_connect (entry, "activate", G_CALLBACK (entry_activate_cb), dialog);
  g_signal_connect_object (dialog, "response", G_CALLBACK (new_chat_response_cb), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
  gtk_widget_grab_focus (entry);
}

static void
new_chat_activated (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  open_chat_dialog (NATTER_WINDOW (widget), FALSE);
}

static void
join_chatroom_activated (GtkWidget  *widget,
                         const char *action_name,
                         GVariant   *parameter)
{
  open_chat_dialog (NATTER_WINDOW (widget), TRUE);
}

static void
sign_out_activated (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  sign_out (NATTER_WINDOW (widget), NULL);
}

static void
reconnect_activated (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  NatterWindow *self = NATTER_WINDOW (widget);

  if (self->client != NULL)
    natter_client_reconnect (self->client);
}

static void
back_activated (GtkWidget  *widget,
                const char *action_name,
                GVariant   *parameter)
{
  NatterWindow *self = NATTER_WINDOW (widget);
  adw_leaflet_navigate (self->leaflet, ADW_NAVIGATION_DIRECTION_BACK);
}

static void
search_activated (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  NatterWindow *self = NATTER_WINDOW (widget);

  if (self->client == NULL)
    return;
  adw_leaflet_set_visible_child (self->leaflet, GTK_WIDGET (self->sidebar));
  natter_sidebar_start_search (self->sidebar);
}

static void
escape_activated (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  NatterWindow *self = NATTER_WINDOW (widget);

  if (natter_sidebar_stop_search (self->sidebar))
    return;
  if (natter_chat_view_get_target_id (self->chat_view) != NULL)
    close_chat (self);
}

static void
relative_activated (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  NatterWindow *self = NATTER_WINDOW (widget);

  natter_sidebar_activate_relative (self->sidebar,
                                    g_str_equal (action_name, "win.next-conversation") ? 1 : -1);
}

static void
call_activated (GtkWidget  *widget,
                const char *action_name,
                GVariant   *parameter)
{
  NatterWindow *self = NATTER_WINDOW (widget);
  const char *peer = natter_chat_view_get_target_id (self->chat_view);
  AdwWindowTitle *title;

  if (self->calls == NULL || peer == NULL ||
      natter_chat_view_get_conversation_type (self->chat_view) != NATTER_CONVERSATION_PRIVATE)
    return;
  title = ADW_WINDOW_TITLE (adw_header_bar_get_title_widget (natter_chat_view_get_header_bar (self->chat_view)));
  natter_call_controller_start_call (self->calls, GTK_WINDOW (self), peer,
                                     adw_window_title_get_title (title),
                                     g_str_equal (action_name, "win.call-video") ? NATTER_CALL_MEDIA_VIDEO
                                                                                 : NATTER_CALL_MEDIA_AUDIO);
}

static void
add_call_buttons (NatterWindow *self)
{
  GtkBox *box = natter_chat_view_get_header_box (self->chat_view);
  struct { const char *icon, *action, *label; } buttons[] = {
    { "call-start-symbolic", "win.call-voice", _("Voice Call") },
    { "camera-web-symbolic", "win.call-video", _("Video Call") },
  };

  for (guint i = 0; i < G_N_ELEMENTS (buttons); i++)
    {
      GtkWidget *button = gtk_button_new_from_icon_name (buttons[i].icon);
      gtk_actionable_set_action_name (GTK_ACTIONABLE (button), buttons[i].action);
      gtk_widget_set_tooltip_text (button, buttons[i].label);
      gtk_accessible_update_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                      buttons[i].label, -1);
      gtk_box_append (box, button);
    }
}

/* ------------------------------------------------------------ lifecycle */

static gboolean
natter_window_close_request (GtkWindow *window)
{
  NatterWindow *self = NATTER_WINDOW (window);

  natter_chat_view_close (self->chat_view);  /* keeps the draft */
  g_settings_apply (self->state_settings);

  return GTK_WINDOW_CLASS (natter_window_parent_class)->close_request (window);
}

static void
natter_window_constructed (GObject *object)
{
  NatterWindow *self = NATTER_WINDOW (object);
  NatterComposer *composer = natter_chat_view_get_composer (self->chat_view);

  G_OBJECT_CLASS (natter_window_parent_class)->constructed (object);

  /* The size is read once and written when the window closes (delayed:
   * a resize does not write, and one profile's window does not resize
   * another's). */
  self->state_settings = g_settings_new (APP_ID);
  g_settings_delay (self->state_settings);
  g_settings_bind (self->state_settings, "window-width", self, "default-width",
                   G_SETTINGS_BIND_DEFAULT | G_SETTINGS_BIND_GET_NO_CHANGES);
  g_settings_bind (self->state_settings, "window-height", self, "default-height",
                   G_SETTINGS_BIND_DEFAULT | G_SETTINGS_BIND_GET_NO_CHANGES);
  g_settings_bind (self->state_settings, "window-maximized", self, "maximized",
                   G_SETTINGS_BIND_DEFAULT | G_SETTINGS_BIND_GET_NO_CHANGES);

  self->settings = g_settings_new (APP_ID);
  g_settings_bind (self->settings, "enter-sends", composer, "enter-sends", G_SETTINGS_BIND_GET);
  g_settings_bind (self->settings, "microphone", composer, "microphone", G_SETTINGS_BIND_GET);

  self->notifier = natter_notifier_new (self->profile_dir);
  g_signal_connect_object (self->notifier, "message-in-view", G_CALLBACK (message_in_view_cb),
                           self, G_CONNECT_SWAPPED);

  self->account = natter_account_new (self->profile_dir);
  natter_account_load_async (self->account, NULL, account_loaded_cb, g_object_ref (self));
  folded_changed_cb (self);
}

static void
natter_window_dispose (GObject *object)
{
  NatterWindow *self = (NatterWindow *) object;

  if (self->client != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->client, self);
      natter_client_disconnect (self->client);
    }
  g_clear_object (&self->client);
  g_clear_object (&self->calls);
  g_clear_object (&self->notifier);
  g_clear_weak_pointer (&self->status_dialog);
  g_clear_handle_id (&self->connect_id, g_source_remove);
  g_clear_pointer (&self->pending_token, g_free);
  g_clear_pointer (&self->pending_target, g_free);
  g_clear_object (&self->toasts);
  gtk_widget_dispose_template (GTK_WIDGET (self), NATTER_TYPE_WINDOW);

  G_OBJECT_CLASS (natter_window_parent_class)->dispose (object);
}

static void
natter_window_finalize (GObject *object)
{
  NatterWindow *self = (NatterWindow *) object;

  g_clear_object (&self->account);
  g_clear_object (&self->settings);
  g_clear_object (&self->state_settings);
  g_free (self->profile_dir);

  G_OBJECT_CLASS (natter_window_parent_class)->finalize (object);
}

static void
natter_window_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  NatterWindow *self = NATTER_WINDOW (object);

  switch (prop_id)
    {
    case PROP_PROFILE_DIR:
      self->profile_dir = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_window_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  NatterWindow *self = NATTER_WINDOW (object);

  switch (prop_id)
    {
    case PROP_PROFILE_DIR:
      g_value_set_string (value, self->profile_dir);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_window_class_init (NatterWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->constructed = natter_window_constructed;
  object_class->dispose = natter_window_dispose;
  object_class->finalize = natter_window_finalize;
  object_class->set_property = natter_window_set_property;
  object_class->get_property = natter_window_get_property;
  window_class->close_request = natter_window_close_request;

  properties[PROP_PROFILE_DIR] =
    g_param_spec_string ("profile-dir", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  g_type_ensure (NATTER_TYPE_SIGN_IN_PAGE);
  g_type_ensure (NATTER_TYPE_SIDEBAR);
  g_type_ensure (NATTER_TYPE_CHAT_VIEW);

  gtk_widget_class_set_template_from_resource (widget_class, "/im/natter/Natter/natter-window.ui");
  gtk_widget_class_bind_template_child (widget_class, NatterWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, NatterWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, NatterWindow, sign_in_page);
  gtk_widget_class_bind_template_child (widget_class, NatterWindow, leaflet);
  gtk_widget_class_bind_template_child (widget_class, NatterWindow, sidebar);
  gtk_widget_class_bind_template_child (widget_class, NatterWindow, chat_stack);
  gtk_widget_class_bind_template_child (widget_class, NatterWindow, empty_header_bar);
  gtk_widget_class_bind_template_child (widget_class, NatterWindow, chat_view);
  gtk_widget_class_bind_template_callback (widget_class, signed_in_cb);
  gtk_widget_class_bind_template_callback (widget_class, folded_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, conversation_activated_cb);
  gtk_widget_class_bind_template_callback (widget_class, message_activated_cb);

  gtk_widget_class_install_action (widget_class, "win.new-chat", NULL, new_chat_activated);
  gtk_widget_class_install_action (widget_class, "win.join-chatroom", NULL, join_chatroom_activated);
  gtk_widget_class_install_action (widget_class, "win.sign-out", NULL, sign_out_activated);
  gtk_widget_class_install_action (widget_class, "win.reconnect", NULL, reconnect_activated);
  gtk_widget_class_install_action (widget_class, "win.back", NULL, back_activated);
  gtk_widget_class_install_action (widget_class, "win.search", NULL, search_activated);
  gtk_widget_class_install_action (widget_class, "win.escape", NULL, escape_activated);
  gtk_widget_class_install_action (widget_class, "win.next-conversation", NULL, relative_activated);
  gtk_widget_class_install_action (widget_class, "win.previous-conversation", NULL, relative_activated);
  gtk_widget_class_install_action (widget_class, "win.call-voice", NULL, call_activated);
  gtk_widget_class_install_action (widget_class, "win.call-video", NULL, call_activated);
}

static void
natter_window_init (NatterWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->toasts = natter_toast_queue_new (self->toast_overlay);
  add_call_buttons (self);
  natter_bench_probe_attach (self);
}

NatterWindow *
natter_window_new (NatterApplication *application,
                   const char        *profile_dir)
{
  return g_object_new (NATTER_TYPE_WINDOW,
                       "application", application,
                       "profile-dir", profile_dir,
                       NULL);
}
