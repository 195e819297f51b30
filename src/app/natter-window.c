/* natter-window.c — the window of one profile
 *
 * It composes: the session (sign-in and the client's life), the notifier,
 * the call controller, the toast queue, and the widgets, which get the
 * client through bindings. What is left here is the
 * layout: which page and pane shows, which chat is open, and the dialogs.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gi18n.h>

#include "natter-bench-probe.h"
#include "natter-format.h"
#include "natter-notifier.h"
#include "natter-sign-in-page.h"
#include "natter-toast-queue.h"
#include "natter-window-accounts.h"
#include "natter-window.h"
#include "natter-call-module.h"

struct _NatterWindow
{
  AdwApplicationWindow parent_instance;

  char *profile_dir;
  NatterSession *session;
  NatterNotifier *notifier;
  NatterToastQueue *toasts;
  GObject *calls;  /* the call module's NatterCallController */
  GSettings *settings;           /* the composer's */
  GSettings *state_settings;     /* the window's size: delayed, applied when it closes */
  GSignalGroup *client_signals;  /* the session's client */
  GSignalGroup *store_signals;   /* its store */
  GSignalGroup *list_signals;    /* the sidebar's conversation list */
  GtkWidget *status_dialog;      /* weak */
  gboolean connect_waiting;      /* connect once the stored conversations show */
  guint connect_id;
  GCancellable *module_cancellable;  /* loading the call module before connecting */
  /* a chat asked for before the profile was read (a notification's
   * action that started the app): opened once it is */
  NatterConversationType pending_type;
  char *pending_target;
  gint64 pending_message_id;

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
  PROP_SESSION,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static NatterClient *
client (NatterWindow *self)
{
  return self->session != NULL ? natter_session_get_client (self->session) : NULL;
}

/* ---------------------------------------------------------------- toasts */

void
natter_window_add_toast (NatterWindow *self,
                         const char   *text)
{
  g_return_if_fail (NATTER_IS_WINDOW (self));
  natter_toast_queue_add (self->toasts, adw_toast_new (text));
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
account_saved_cb (NatterWindow *self,
                  const GError *error)
{
  NatterAccount *account = natter_session_get_account (self->session);

  if (error != NULL)
    {
      g_autofree char *text = g_strdup_printf (_("Could not save the sign-in: %s"), error->message);
      natter_window_add_toast (self, text);
      return;
    }
  if (natter_account_get_token_in_file (account))
    {
      g_autofree char *path = natter_account_dup_token_path (account);
      g_autofree char *text = g_strdup_printf (_("No keyring is running: your token is kept in %s, readable only by you."),
                                               path);
      AdwToast *toast = adw_toast_new (text);
      adw_toast_set_timeout (toast, 10);
      natter_toast_queue_add (self->toasts, toast);
    }
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

static NatterChatView *chat_view (NatterWindow *self);

/* -------------------------------------------------------------- layout */

static void
folded_changed_cb (NatterWindow *self)
{
  gboolean folded = adw_leaflet_get_folded (self->leaflet);
  AdwHeaderBar *sidebar_bar = natter_sidebar_get_header_bar (self->sidebar);

  /* unfolded: window buttons at the outer ends only */
  adw_header_bar_set_show_end_title_buttons (sidebar_bar, folded);
  adw_header_bar_set_show_start_title_buttons (self->empty_header_bar, folded);
  if (self->chat_view != NULL)
    {
      adw_header_bar_set_show_start_title_buttons (natter_chat_view_get_header_bar (self->chat_view), folded);
      natter_chat_view_set_show_back (self->chat_view, folded);
    }
}

const char *
natter_window_get_page (NatterWindow *self)
{
  g_return_val_if_fail (NATTER_IS_WINDOW (self), NULL);
  return gtk_stack_get_visible_child_name (self->stack);
}

NatterSession *
natter_window_get_session (NatterWindow *self)
{
  g_return_val_if_fail (NATTER_IS_WINDOW (self), NULL);
  return self->session;
}

NatterAccount *
natter_window_get_account (NatterWindow *self)
{
  g_return_val_if_fail (NATTER_IS_WINDOW (self), NULL);
  return natter_session_get_account (self->session);
}

NatterClient *
natter_window_get_client (NatterWindow *self)
{
  g_return_val_if_fail (NATTER_IS_WINDOW (self), NULL);
  return client (self);
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
  return chat_view (self);
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
  if (client (self) == NULL)
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

  /* the sidebar's highlight follows (natter-window.ui) */
  natter_chat_view_open (chat_view (self), type, target_id, conversation);
  gtk_stack_set_visible_child_name (self->chat_stack, "chat");
  adw_leaflet_set_visible_child (self->leaflet, GTK_WIDGET (self->chat_stack));
  if (message_id != 0)
    natter_chat_view_show_message (chat_view (self), message_id);

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.call-voice", type == NATTER_CONVERSATION_PRIVATE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.call-video", type == NATTER_CONVERSATION_PRIVATE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.leave-chatroom", type == NATTER_CONVERSATION_CHATROOM);
  natter_window_accounts_update_chat_actions (self);

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
  if (self->chat_view != NULL)
    natter_chat_view_close (self->chat_view);
  gtk_stack_set_visible_child_name (self->chat_stack, "empty");
  adw_leaflet_set_visible_child (self->leaflet, GTK_WIDGET (self->sidebar));
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

  if (client (self) == NULL || self->chat_view == NULL)
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
  natter_chat_view_open (self->chat_view, type, target, conversation);
  return G_SOURCE_REMOVE;
}

static void
conversations_changed_cb (NatterWindow *self)
{
  if (self->chat_view != NULL && natter_chat_view_get_target_id (self->chat_view) != NULL &&
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
                         const char             *target_id)
{
  if (self->chat_view == NULL || natter_chat_view_get_conversation (self->chat_view) == NULL)
    return;
  if (natter_chat_view_get_conversation_type (self->chat_view) == type &&
      g_strcmp0 (natter_chat_view_get_target_id (self->chat_view), target_id) == 0)
    close_chat (self);
}

/* The notifier asks: on screen already? The open chat, or any chat's row
 * in the list beside it, in the focused window. */
static gboolean
message_in_view_cb (NatterWindow  *self,
                    NatterMessage *message)
{
  gboolean open_here = self->chat_view != NULL &&
                       natter_chat_view_get_target_id (self->chat_view) != NULL &&
                       natter_chat_view_get_conversation_type (self->chat_view) ==
                         natter_message_get_conversation_type (message) &&
                       g_strcmp0 (natter_chat_view_get_target_id (self->chat_view),
                                  natter_message_get_target_id (message)) == 0;

  /* a hidden window (Run in Background) may still count as active */
  return gtk_widget_get_visible (GTK_WIDGET (self)) && gtk_window_is_active (GTK_WINDOW (self)) &&
         (open_here || !adw_leaflet_get_folded (self->leaflet));
}

/* ------------------------------------------------------- connection state */

static void
status_dialog_response_cb (NatterWindow *self,
                           const char   *response)
{
  g_clear_weak_pointer (&self->status_dialog);
  if (g_str_equal (response, "reconnect") && client (self) != NULL)
    natter_client_reconnect (client (self));
  else if (g_str_equal (response, "sign-out"))
    natter_session_sign_out (self->session);
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

/* The banner is the sidebar's, a refused account the session's: here, the
 * dialog when signed in elsewhere (31010). */
static void
status_changed_cb (NatterWindow           *self,
                   NatterConnectionStatus  status,
                   NatterConnectionStatus  old_status,
                   const GError           *error)
{
  if (status == NATTER_CONNECTION_CONNECTED)
    {
      if (self->status_dialog != NULL)
        gtk_window_destroy (GTK_WINDOW (self->status_dialog));
      return;
    }

  /* A refused token (31004: a password change or deletion) is no other
   * device: the session signs out, or carries on with a new token. */
  if (status == NATTER_CONNECTION_KICKED_OFFLINE_BY_OTHER_CLIENT &&
      !g_error_matches (error, NATTER_CLIENT_ERROR, NATTER_CODE_TOKEN_INCORRECT))
    show_status_dialog (self, _("Signed In on Another Device"),
                        _("This account signed in somewhere else, so this window no longer "
                          "receives messages. Natter does not reconnect by itself, so the two "
                          "devices do not keep taking turns."),
                        TRUE);
}

static void
client_bound_cb (NatterWindow *self,
                 NatterClient *client)
{
  g_signal_group_set_target (self->store_signals, natter_client_get_store (client));
}

static void
client_unbound_cb (NatterWindow *self)
{
  g_signal_group_set_target (self->store_signals, NULL);
}

static void
start_calls (NatterWindow *self)
{
  const NatterCallModule *module;

  /* the call module: loaded by now on the start's path (connect_idle_cb) */
  if (self->calls == NULL && client (self) != NULL && (module = natter_call_module_get ()) != NULL)
    self->calls = module->controller_new (GTK_APPLICATION (g_application_get_default ()), client (self));
}

static void
call_module_loaded_cb (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  NatterWindow *self = user_data;
  g_autoptr(GError) error = NULL;

  /* without the module the app works on, without calls */
  natter_call_module_load_finish (result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;  /* signed out or closed meanwhile: @self may be gone */
  g_clear_object (&self->module_cancellable);
  if (natter_session_get_state (self->session) != NATTER_SESSION_STATE_RESTORED)
    return;
  start_calls (self);
  natter_session_connect (self->session);
}

static gboolean
connect_idle_cb (gpointer user_data)
{
  NatterWindow *self = user_data;

  self->connect_id = 0;
  if (natter_session_get_state (self->session) != NATTER_SESSION_STATE_RESTORED)
    return G_SOURCE_REMOVE;
  /* calls listen before the first message can arrive: the call module is
   * loaded (off this thread) before the connection starts */
  g_cancellable_cancel (self->module_cancellable);
  g_clear_object (&self->module_cancellable);
  self->module_cancellable = g_cancellable_new ();
  natter_call_module_load_async (self->module_cancellable, call_module_loaded_cb, self);
  natter_chat_view_warm_rows (chat_view (self));
  natter_chat_view_prefetch (chat_view (self), G_LIST_MODEL (natter_sidebar_get_conversations (self->sidebar)));
  return G_SOURCE_REMOVE;
}

static void
after_list_painted_cb (GdkFrameClock *clock,
                       NatterWindow  *self)
{
  if (clock != NULL)
    g_signal_handlers_disconnect_by_func (clock, after_list_painted_cb, self);
  if (self->connect_id == 0 && natter_session_get_state (self->session) == NATTER_SESSION_STATE_RESTORED)
    self->connect_id = g_idle_add_full (G_PRIORITY_LOW, connect_idle_cb, self, NULL);
}

static void
list_loading_cb (NatterWindow *self)
{
  NatterConversationList *list = natter_sidebar_get_conversations (self->sidebar);
  GdkFrameClock *clock;

  if (!self->connect_waiting || (list != NULL && natter_conversation_list_get_loading (list)))
    return;
  self->connect_waiting = FALSE;
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

/* Restored: the stored conversations first, connected once on screen. */
static void
connect_soon (NatterWindow *self)
{
  self->connect_waiting = TRUE;
  list_loading_cb (self);
}

/* Signed out: nothing of the account stays (the widgets and the notifier
 * let go of the client by themselves). */
static void
stop (NatterWindow *self)
{
  close_chat (self);
  g_clear_object (&self->calls);
  g_clear_handle_id (&self->connect_id, g_source_remove);
  g_cancellable_cancel (self->module_cancellable);
  g_clear_object (&self->module_cancellable);
  self->connect_waiting = FALSE;
  update_title (self);
}

/* The first page comes at once: a crossfade from the empty loading page
 * draws the window twice into window-sized groups each frame for 200 ms,
 * while the conversation list loads and comes on screen (#17). */
static void
show_page (NatterWindow *self,
           const char   *name)
{
  gboolean first = g_strcmp0 (gtk_stack_get_visible_child_name (self->stack), "loading") == 0;

  /* built when first needed: a fifth of the window's widgets, which a
   * restored account does not show (#17) */
  if (g_str_equal (name, "sign-in") && self->sign_in_page == NULL)
    {
      self->sign_in_page = g_object_new (NATTER_TYPE_SIGN_IN_PAGE, NULL);
      natter_sign_in_page_set_session (self->sign_in_page, self->session);
      gtk_stack_add_named (self->stack, GTK_WIDGET (self->sign_in_page), "sign-in");
    }
  if (first)
    gtk_stack_set_transition_type (self->stack, GTK_STACK_TRANSITION_TYPE_NONE);
  gtk_stack_set_visible_child_name (self->stack, name);
  if (first)
    gtk_stack_set_transition_type (self->stack, GTK_STACK_TRANSITION_TYPE_CROSSFADE);
}

static void
session_state_changed_cb (NatterWindow       *self,
                          NatterSessionState  state)
{
  switch (state)
    {
    case NATTER_SESSION_STATE_LOADING:
      break;
    case NATTER_SESSION_STATE_SIGNED_OUT:
      stop (self);
      show_page (self, "sign-in");
      g_clear_pointer (&self->pending_target, g_free);
      break;
    case NATTER_SESSION_STATE_RESTORED:
      show_page (self, "main");
      update_title (self);
      connect_soon (self);
      if (self->pending_target != NULL)
        {
          g_autofree char *target = g_steal_pointer (&self->pending_target);
          natter_window_open_conversation (self, self->pending_type, target, self->pending_message_id);
        }
      break;
    case NATTER_SESSION_STATE_SIGNED_IN:
      show_page (self, "main");
      update_title (self);
      start_calls (self);
      break;
    default:
      g_assert_not_reached ();
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
    NATTER_CONVERSATION_CUSTOMER_SERVICE, NATTER_CONVERSATION_DISCUSSION,
  };
  guint selected;

  if (!g_str_equal (response, "open"))
    return;
  target = g_strstrip (g_strdup (gtk_editable_get_text (entry)));
  selected = kind != NULL ? gtk_drop_down_get_selected (kind) : 2;
  if (*target == '\0' || selected >= G_N_ELEMENTS (types))
    return;

  if (types[selected] == NATTER_CONVERSATION_CHATROOM && client (self) != NULL)
    natter_client_join_chatroom_async (client (self), target, 50, NULL, NULL, NULL);
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

  if (client (self) == NULL)
    return;

  dialog = adw_message_dialog_new (GTK_WINDOW (self),
                                   chatroom ? _("Join Chat Room") : _("New Chat"),
                                   chatroom ? _("Enter the ID of the chat room. It is created if it does not exist yet.")
                                            : _("Enter the ID of a person or a group."));
  box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  if (!chatroom)
    {
      const char *kinds[] = { _("Person"), _("Group"), _("Chat room"), _("Customer service"), _("Discussion"), NULL };
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
  natter_session_sign_out (NATTER_WINDOW (widget)->session);
}

static void
reconnect_activated (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  NatterWindow *self = NATTER_WINDOW (widget);

  if (client (self) != NULL)
    natter_client_reconnect (client (self));
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

  if (client (self) == NULL)
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
  if (self->chat_view != NULL && natter_chat_view_get_target_id (self->chat_view) != NULL)
    close_chat (self);
}

static void
relative_activated (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  NatterWindow *self = NATTER_WINDOW (widget);

  /* from the open chat, even if its row came a moment ago */
  attach_conversation_idle_cb (self);
  natter_sidebar_activate_relative (self->sidebar,
                                    g_str_equal (action_name, "win.next-conversation") ? 1 : -1);
}

/* The shortcuts window is built the first time it is asked for: under
 * gtk/ in the resources GtkApplication would build it for every window it
 * adds, before the first frame (~6–9 ms of the main thread, ~1 MiB) (#17). */
static void
shortcuts_activated (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  GtkApplicationWindow *window = GTK_APPLICATION_WINDOW (widget);
  GtkShortcutsWindow *overlay = gtk_application_window_get_help_overlay (window);

  if (overlay == NULL)
    {
      g_autoptr(GtkBuilder) builder = gtk_builder_new_from_resource ("/im/natter/Natter/help-overlay.ui");

      overlay = GTK_SHORTCUTS_WINDOW (gtk_builder_get_object (builder, "help_overlay"));
      gtk_application_window_set_help_overlay (window, overlay);
    }
  gtk_window_present (GTK_WINDOW (overlay));
}

static void
call_activated (GtkWidget  *widget,
                const char *action_name,
                GVariant   *parameter)
{
  NatterWindow *self = NATTER_WINDOW (widget);
  const char *peer = natter_chat_view_get_target_id (chat_view (self));

  if (self->calls == NULL || peer == NULL ||
      natter_chat_view_get_conversation_type (chat_view (self)) != NATTER_CONVERSATION_PRIVATE)
    return;
  /* the header's title widget is a box (avatar and title) since #16 */
  natter_call_module_get ()->controller_start_call (self->calls, GTK_WINDOW (self), peer,
                                                    natter_chat_view_get_title (chat_view (self)),
                                                    g_str_equal (action_name, "win.call-video"));
}

/* A call to @peer_id from elsewhere than the chat (Contacts): its chat
 * opens too, so the call's messages and summary show where expected. */
void
natter_window_start_call (NatterWindow *self,
                          const char   *peer_id,
                          const char   *peer_name,
                          gboolean      video)
{
  g_return_if_fail (NATTER_IS_WINDOW (self));
  g_return_if_fail (peer_id != NULL);

  natter_window_open_conversation (self, NATTER_CONVERSATION_PRIVATE, peer_id, 0);
  if (self->calls != NULL)
    natter_call_module_get ()->controller_start_call (self->calls, GTK_WINDOW (self), peer_id, peer_name, video);
}

static void
chatroom_left_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  /* Offline, natterd drops the member after its offline-timeout anyway;
   * the client does not join it again. */
  if (!natter_client_quit_chatroom_finish (NATTER_CLIENT (object), result, &error))
    g_debug ("Leaving the chat room: %s", error->message);
}

/* The chat menu's “Leave Chat Room”: natterd drops the membership, the
 * client stops rejoining it, the chat closes. */
static void
leave_chatroom_activated (GtkWidget  *widget,
                          const char *action_name,
                          GVariant   *parameter)
{
  NatterWindow *self = NATTER_WINDOW (widget);
  const char *room = natter_chat_view_get_target_id (chat_view (self));

  if (room == NULL || client (self) == NULL ||
      natter_chat_view_get_conversation_type (chat_view (self)) != NATTER_CONVERSATION_CHATROOM)
    return;
  natter_client_quit_chatroom_async (client (self), room, NULL, chatroom_left_cb, NULL);
  close_chat (self);
}

static void
add_call_buttons (NatterChatView *chat)
{
  GtkBox *box = natter_chat_view_get_header_box (chat);
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


/* The chat view, made when first needed: after the first frame that
 * shows the conversation list (connect_idle_cb() warms its rows), or when
 * a chat opens before. Made with the window it was an eighth of what runs
 * before the map (#17). */
static NatterChatView *
chat_view (NatterWindow *self)
{
  NatterComposer *composer;
  g_autofree char *cache = NULL;

  if (self->chat_view != NULL || gtk_widget_in_destruction (GTK_WIDGET (self)))
    return self->chat_view;

  self->chat_view = g_object_ref_sink (g_object_new (NATTER_TYPE_CHAT_VIEW, NULL));
  g_object_bind_property (self->sidebar, "portraits", self->chat_view, "portraits", G_BINDING_SYNC_CREATE);
  /* the open chat's row is highlighted */
  g_object_bind_property (self->chat_view, "conversation", self->sidebar, "conversation", G_BINDING_SYNC_CREATE);
  g_signal_connect_object (self->chat_view, "show-toast", G_CALLBACK (natter_window_add_toast),
                           self, G_CONNECT_SWAPPED);
  g_object_bind_property (self->session, "client", self->chat_view, "client", G_BINDING_SYNC_CREATE);

  composer = natter_chat_view_get_composer (self->chat_view);
  cache = g_build_filename (self->profile_dir, "outgoing", NULL);
  g_settings_bind (self->settings, "enter-sends", composer, "enter-sends", G_SETTINGS_BIND_GET);
  g_settings_bind (self->settings, "microphone", composer, "microphone", G_SETTINGS_BIND_GET);
  natter_composer_set_cache_dir (composer, cache);

  add_call_buttons (self->chat_view);
  natter_window_accounts_attach_chat_view (self, self->chat_view);
  gtk_stack_add_named (self->chat_stack, GTK_WIDGET (self->chat_view), "chat");
  folded_changed_cb (self);
  return self->chat_view;
}

/* ------------------------------------------------------------ lifecycle */

static gboolean
natter_window_close_request (GtkWindow *window)
{
  NatterWindow *self = NATTER_WINDOW (window);

  if (self->chat_view != NULL)
    natter_chat_view_close (self->chat_view);  /* keeps the draft */
  g_settings_apply (self->state_settings);

  return GTK_WINDOW_CLASS (natter_window_parent_class)->close_request (window);
}

static void
natter_window_constructed (GObject *object)
{
  NatterWindow *self = NATTER_WINDOW (object);
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

  /* The session reads the profile at once; the widgets follow its client
   * through the bindings below. */
  self->session = natter_session_new (self->profile_dir);
  g_signal_connect_object (self->session, "state-changed", G_CALLBACK (session_state_changed_cb),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->session, "account-saved", G_CALLBACK (account_saved_cb),
                           self, G_CONNECT_SWAPPED);
  g_object_notify_by_pspec (object, properties[PROP_SESSION]);
  /* GBindings, not <binding>s on the window in natter-window.ui: GTK 4.8's
   * expression watches on the template object warn ("couldn't find weak
   * ref") when the window is finalized. */
  g_object_bind_property (self->session, "client", self->sidebar, "client", G_BINDING_SYNC_CREATE);
  g_object_bind_property (self->session, "user-id", self->sidebar, "user-id", G_BINDING_SYNC_CREATE);

  self->notifier = natter_notifier_new (self->profile_dir);
  g_signal_connect_object (self->notifier, "message-in-view", G_CALLBACK (message_in_view_cb),
                           self, G_CONNECT_SWAPPED);
  g_object_bind_property (self->session, "client", self->notifier, "client", G_BINDING_SYNC_CREATE);
  g_object_bind_property (self->session, "client", self->client_signals, "target", G_BINDING_SYNC_CREATE);
  g_object_bind_property (self->sidebar, "conversations", self->list_signals, "target",
                          G_BINDING_SYNC_CREATE);

  folded_changed_cb (self);
}

static void
natter_window_dispose (GObject *object)
{
  NatterWindow *self = (NatterWindow *) object;

  if (self->client_signals != NULL)
    g_signal_group_set_target (self->client_signals, NULL);
  if (self->list_signals != NULL)
    g_signal_group_set_target (self->list_signals, NULL);
  g_clear_object (&self->calls);
  g_clear_object (&self->notifier);
  g_clear_object (&self->toasts);
  g_clear_weak_pointer (&self->status_dialog);
  g_clear_handle_id (&self->connect_id, g_source_remove);
  g_cancellable_cancel (self->module_cancellable);
  g_clear_object (&self->module_cancellable);
  g_clear_pointer (&self->pending_target, g_free);
  gtk_widget_dispose_template (GTK_WIDGET (self), NATTER_TYPE_WINDOW);
  g_clear_object (&self->chat_view);
  /* after the widgets: the client goes last */
  if (self->session != NULL)
    g_signal_handlers_disconnect_by_data (self->session, self);
  g_clear_object (&self->session);

  G_OBJECT_CLASS (natter_window_parent_class)->dispose (object);
}

static void
natter_window_finalize (GObject *object)
{
  NatterWindow *self = (NatterWindow *) object;

  g_clear_object (&self->client_signals);
  g_clear_object (&self->store_signals);
  g_clear_object (&self->list_signals);
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
    case PROP_SESSION:
      g_value_set_object (value, self->session);
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
  properties[PROP_SESSION] =
    g_param_spec_object ("session", NULL, NULL, NATTER_TYPE_SESSION,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  g_type_ensure (NATTER_TYPE_SESSION);
  g_type_ensure (NATTER_TYPE_SIDEBAR);

  gtk_widget_class_set_template_from_resource (widget_class, "/im/natter/Natter/natter-window.ui");
  gtk_widget_class_bind_template_child (widget_class, NatterWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, NatterWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, NatterWindow, leaflet);
  gtk_widget_class_bind_template_child (widget_class, NatterWindow, sidebar);
  gtk_widget_class_bind_template_child (widget_class, NatterWindow, chat_stack);
  gtk_widget_class_bind_template_child (widget_class, NatterWindow, empty_header_bar);
  gtk_widget_class_bind_template_callback (widget_class, folded_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, conversation_activated_cb);
  gtk_widget_class_bind_template_callback (widget_class, message_activated_cb);
  gtk_widget_class_bind_template_callback (widget_class, natter_window_add_toast);

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
  gtk_widget_class_install_action (widget_class, "win.leave-chatroom", NULL, leave_chatroom_activated);
  gtk_widget_class_install_action (widget_class, "win.show-help-overlay", NULL, shortcuts_activated);
  natter_window_accounts_install_actions (widget_class);
}

static void
natter_window_init (NatterWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->toasts = natter_toast_queue_new (self->toast_overlay);

  self->client_signals = g_signal_group_new (NATTER_TYPE_CLIENT);
  g_signal_connect_object (self->client_signals, "bind", G_CALLBACK (client_bound_cb),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->client_signals, "unbind", G_CALLBACK (client_unbound_cb),
                           self, G_CONNECT_SWAPPED);
  g_signal_group_connect_object (self->client_signals, "status-changed",
                                 G_CALLBACK (status_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_group_connect_object (self->client_signals, "chatroom-event",
                                 G_CALLBACK (chatroom_event_cb), self, G_CONNECT_SWAPPED);

  self->store_signals = g_signal_group_new (NATTER_TYPE_STORE);
  g_signal_group_connect_object (self->store_signals, "conversation-removed",
                                 G_CALLBACK (conversation_removed_cb), self, G_CONNECT_SWAPPED);

  self->list_signals = g_signal_group_new (NATTER_TYPE_CONVERSATION_LIST);
  g_signal_group_connect_object (self->list_signals, "items-changed",
                                 G_CALLBACK (conversations_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_group_connect_object (self->list_signals, "notify::unread-total",
                                 G_CALLBACK (update_title), self, G_CONNECT_SWAPPED);
  g_signal_group_connect_object (self->list_signals, "notify::loading",
                                 G_CALLBACK (list_loading_cb), self, G_CONNECT_SWAPPED);

  natter_window_accounts_attach (self, self->client_signals);
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
