/* natter-sidebar.c — conversations, search, connection status
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gi18n.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "natter-conversation-row.h"
#include "natter-format.h"
#include "natter-pane-layout.h"
#include "natter-search-row.h"
#include "natter-sidebar.h"

/* its natural width: the window's default 1100 px leave the chat 730 */
#define SIDEBAR_NATURAL_WIDTH 360

struct _NatterSidebar
{
  AdwBin parent_instance;

  NatterClient *client;
  GSignalGroup *client_signals;
  NatterConversation *conversation;   /* highlighted: the open chat's */
  NatterConversationList *conversations;
  NatterPortraits *portraits;
  GtkSingleSelection *selection;
  GtkSliceListModel *shown;   /* the conversations, a screenful more each frame at first */
  GdkFrameClock *grow_clock;
  gulong grow_map_id;         /* loaded before the list view was on screen */
  GListStore *results;
  GCancellable *search_cancellable;
  char *query;
  gboolean selecting;   /* programmatic selection: no signal */
  guint select_id;
  guint banner_timeout_id;

  AdwHeaderBar *header_bar;
  AdwWindowTitle *window_title;
  GtkToggleButton *search_button;
  GtkSearchBar *search_bar;
  GtkSearchEntry *search_entry;
  GtkRevealer *banner_revealer;
  GtkSpinner *banner_spinner;
  GtkLabel *banner_label;
  GtkWidget *banner_button;
  GtkToggleButton *filter_all;
  GtkToggleButton *filter_private;
  GtkToggleButton *filter_groups;
  GtkToggleButton *filter_rooms;
  GtkStack *stack;
  GtkListView *list_view;
  GtkListView *search_view;
};

G_DEFINE_FINAL_TYPE (NatterSidebar, natter_sidebar, ADW_TYPE_BIN)

enum {
  PROP_0,
  PROP_CLIENT,
  PROP_CONVERSATIONS,
  PROP_PORTRAITS,
  PROP_CONVERSATION,
  PROP_USER_ID,
  N_PROPS
};

enum {
  CONVERSATION_ACTIVATED,
  MESSAGE_ACTIVATED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void
update_page (NatterSidebar *self)
{
  if (self->query != NULL && *self->query != '\0')
    {
      gboolean any = self->results != NULL &&
                     g_list_model_get_n_items (G_LIST_MODEL (self->results)) > 0;
      gtk_stack_set_visible_child_name (self->stack, any ? "search" : "no-results");
      gtk_widget_set_visible (gtk_widget_get_parent (GTK_WIDGET (self->filter_all)), FALSE);
      return;
    }

  gtk_widget_set_visible (gtk_widget_get_parent (GTK_WIDGET (self->filter_all)), TRUE);
  if (self->conversations != NULL &&
      g_list_model_get_n_items (G_LIST_MODEL (self->conversations)) == 0 &&
      !natter_conversation_list_get_loading (self->conversations) &&
      gtk_toggle_button_get_active (self->filter_all))
    gtk_stack_set_visible_child_name (self->stack, "empty");
  else
    gtk_stack_set_visible_child_name (self->stack, "list");
}

/* ------------------------------------------------------------ list rows */

static void
row_setup_cb (GtkSignalListItemFactory *factory,
              GtkListItem              *item,
              NatterSidebar            *self)
{
  gtk_list_item_set_child (item, natter_conversation_row_new ());
}

/* GTK 4.8's signal factory unbinds and binds again every row whose
 * position moved: a message for the 150th conversation moved it to the
 * top and rebound all of GTK's ~200 rows in one frame (#17). A row follows
 * its conversation's changes itself, so ::unbind leaves it as it is and
 * ::bind to the same conversation costs nothing (set_conversation() sees
 * it is the same); another conversation replaces it. ::teardown lets go. */
static void
row_bind_cb (GtkSignalListItemFactory *factory,
             GtkListItem              *item,
             NatterSidebar            *self)
{
  natter_conversation_row_set_conversation (NATTER_CONVERSATION_ROW (gtk_list_item_get_child (item)),
                                            gtk_list_item_get_item (item), self->portraits);
}

static void
row_teardown_cb (GtkSignalListItemFactory *factory,
                 GtkListItem              *item,
                 NatterSidebar            *self)
{
  GtkWidget *row = gtk_list_item_get_child (item);

  if (row != NULL)
    natter_conversation_row_set_conversation (NATTER_CONVERSATION_ROW (row), NULL, NULL);
}

/* A conversation moving to the top goes in above the one GTK keeps in
 * view (its anchor is that item, wherever it goes): a list read from the
 * top would hide the newest. Connected after the list view, so GTK has
 * moved its anchor, and before the layout, so the adjustment still says
 * where the list was. */
static void
shown_changed_cb (NatterSidebar *self,
                  guint          position,
                  guint          removed,
                  guint          added)
{
  GtkAdjustment *adjustment = gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (self->list_view));

  if (position == 0 && added > 0 && adjustment != NULL && gtk_adjustment_get_value (adjustment) <= 0)
    gtk_widget_activate_action (GTK_WIDGET (self->list_view), "list.scroll-to-item", "u", 0);
}

static const char *
title_for (NatterSidebar          *self,
           NatterConversationType  type,
           const char             *target_id)
{
  guint pos;
  g_autoptr(NatterConversation) conv = NULL;

  if (self->conversations == NULL)
    return target_id;
  pos = natter_conversation_list_find (self->conversations, type, target_id);
  if (pos == G_MAXUINT)
    return target_id;
  conv = g_list_model_get_item (G_LIST_MODEL (self->conversations), pos);
  /* the list keeps the conversation alive */
  return natter_conversation_get_title (conv);
}

static void
result_setup_cb (GtkSignalListItemFactory *factory,
                 GtkListItem              *item,
                 NatterSidebar            *self)
{
  gtk_list_item_set_child (item, natter_search_row_new ());
}

static void
result_bind_cb (GtkSignalListItemFactory *factory,
                GtkListItem              *item,
                NatterSidebar            *self)
{
  NatterMessage *message = gtk_list_item_get_item (item);

  natter_search_row_set (NATTER_SEARCH_ROW (gtk_list_item_get_child (item)), message,
                         title_for (self, natter_message_get_conversation_type (message),
                                    natter_message_get_target_id (message)),
                         self->query);
}

static void
selection_changed_cb (NatterSidebar *self)
{
  NatterConversation *conv;

  if (self->selecting)
    return;
  conv = gtk_single_selection_get_selected_item (self->selection);
  if (conv == NULL)
    return;
  g_signal_emit (self, signals[CONVERSATION_ACTIVATED], 0,
                 (int) natter_conversation_get_conversation_type (conv),
                 natter_conversation_get_target_id (conv));
}

static void
list_activate_cb (NatterSidebar *self,
                  guint          position)
{
  g_autoptr(NatterConversation) conv = g_list_model_get_item (G_LIST_MODEL (self->selection), position);

  if (conv != NULL)
    g_signal_emit (self, signals[CONVERSATION_ACTIVATED], 0,
                   (int) natter_conversation_get_conversation_type (conv),
                   natter_conversation_get_target_id (conv));
}

static void
result_activate_cb (NatterSidebar *self,
                    guint          position)
{
  g_autoptr(NatterMessage) message = g_list_model_get_item (G_LIST_MODEL (self->results), position);

  if (message != NULL)
    g_signal_emit (self, signals[MESSAGE_ACTIVATED], 0, message);
}

/* --------------------------------------------------------------- search */

static void
search_done_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(NatterSidebar) self = user_data;
  g_autoptr(GPtrArray) found = NULL;
  g_autoptr(GError) error = NULL;

  found = natter_store_search_finish (NATTER_STORE (object), result, &error);
  if (found == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_warning ("Search failed: %s", error->message);
      return;
    }
  g_list_store_splice (self->results, 0, g_list_model_get_n_items (G_LIST_MODEL (self->results)),
                       found->pdata, found->len);
  update_page (self);
}

static void
search_changed_cb (NatterSidebar *self)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->search_entry));

  g_cancellable_cancel (self->search_cancellable);
  g_clear_object (&self->search_cancellable);
  g_free (self->query);
  self->query = g_strstrip (g_strdup (text));

  if (*self->query == '\0' || self->client == NULL)
    {
      g_list_store_remove_all (self->results);
      update_page (self);
      return;
    }

  self->search_cancellable = g_cancellable_new ();
  natter_store_search_async (natter_client_get_store (self->client), self->query, 0, NULL, 200,
                             self->search_cancellable, search_done_cb, g_object_ref (self));
}

static void
search_activate_cb (NatterSidebar *self)
{
  if (self->results != NULL && g_list_model_get_n_items (G_LIST_MODEL (self->results)) > 0)
    result_activate_cb (self, 0);
}

static void
stop_search_cb (NatterSidebar *self)
{
  natter_sidebar_stop_search (self);
}

void
natter_sidebar_start_search (NatterSidebar *self)
{
  g_return_if_fail (NATTER_IS_SIDEBAR (self));
  gtk_toggle_button_set_active (self->search_button, TRUE);
  gtk_widget_grab_focus (GTK_WIDGET (self->search_entry));
}

gboolean
natter_sidebar_stop_search (NatterSidebar *self)
{
  gboolean was_open;

  g_return_val_if_fail (NATTER_IS_SIDEBAR (self), FALSE);

  was_open = gtk_toggle_button_get_active (self->search_button);
  gtk_editable_set_text (GTK_EDITABLE (self->search_entry), "");
  gtk_toggle_button_set_active (self->search_button, FALSE);
  return was_open;
}

/* -------------------------------------------------------------- filters */

static void
filter_toggled_cb (NatterSidebar   *self,
                   GtkToggleButton *button)
{
  static const NatterConversationType people[] = { NATTER_CONVERSATION_PRIVATE };
  static const NatterConversationType groups[] = { NATTER_CONVERSATION_GROUP, NATTER_CONVERSATION_DISCUSSION };
  static const NatterConversationType rooms[] = { NATTER_CONVERSATION_CHATROOM };

  if (!gtk_toggle_button_get_active (button) || self->conversations == NULL)
    return;

  if (button == self->filter_private)
    natter_conversation_list_set_types (self->conversations, people, G_N_ELEMENTS (people));
  else if (button == self->filter_groups)
    natter_conversation_list_set_types (self->conversations, groups, G_N_ELEMENTS (groups));
  else if (button == self->filter_rooms)
    natter_conversation_list_set_types (self->conversations, rooms, G_N_ELEMENTS (rooms));
  else
    natter_conversation_list_set_types (self->conversations, NULL, 0);
  update_page (self);
}

/* -------------------------------------------------------------- actions */

static NatterConversation *
lookup (NatterSidebar *self,
        GVariant      *parameter,
        int           *type,
        const char   **target)
{
  guint pos;

  g_variant_get (parameter, "(i&s)", type, target);
  if (self->conversations == NULL)
    return NULL;
  pos = natter_conversation_list_find (self->conversations, *type, *target);
  if (pos == G_MAXUINT)
    return NULL;
  return g_list_model_get_item (G_LIST_MODEL (self->conversations), pos);
}

static void
update_done_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!natter_client_update_conversation_finish (NATTER_CLIENT (object), result, &error))
    g_message ("Updating the conversation on the server failed: %s", error->message);
}

static void
toggle_activated (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  NatterSidebar *self = NATTER_SIDEBAR (widget);
  g_autoptr(NatterConversation) conv = NULL;
  NatterConversationAction action;
  const char *target;
  int type;

  conv = lookup (self, parameter, &type, &target);
  if (conv == NULL)
    return;

  if (g_str_equal (action_name, "sidebar.toggle-pinned"))
    action = natter_conversation_get_pinned (conv) ? NATTER_CONVERSATION_ACTION_UNPIN
                                                   : NATTER_CONVERSATION_ACTION_PIN;
  else
    action = natter_conversation_get_muted (conv) ? NATTER_CONVERSATION_ACTION_UNMUTE
                                                  : NATTER_CONVERSATION_ACTION_MUTE;
  natter_client_update_conversation_async (self->client, type, target, action, NULL,
                                           update_done_cb, NULL);
}

static void
clear_unread_done_cb (GObject      *object,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!natter_client_clear_unread_finish (NATTER_CLIENT (object), result, &error))
    g_debug ("Clearing unread on the server: %s", error->message);
}

static void
mark_read_activated (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  NatterSidebar *self = NATTER_SIDEBAR (widget);
  const char *target;
  int type;

  g_variant_get (parameter, "(i&s)", &type, &target);
  if (self->client != NULL)
    natter_client_clear_unread_async (self->client, type, target, NULL, clear_unread_done_cb, NULL);
}

static void
delete_done_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!natter_store_delete_conversation_finish (NATTER_STORE (object), result, &error))
    g_warning ("Deleting the conversation failed: %s", error->message);
}

static void
delete_response_cb (AdwMessageDialog *dialog,
                    const char       *response,
                    NatterSidebar    *self)
{
  int type = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (dialog), "type"));
  const char *target = g_object_get_data (G_OBJECT (dialog), "target");

  if (!g_str_equal (response, "delete") || self->client == NULL)
    return;
  /* hidden on the server until the next message, gone here */
  natter_client_update_conversation_async (self->client, type, target,
                                           NATTER_CONVERSATION_ACTION_REMOVE, NULL,
                                           update_done_cb, NULL);
  natter_store_delete_conversation_async (natter_client_get_store (self->client), type, target,
                                          NULL, delete_done_cb, NULL);
}

/* A destructive question about one conversation; @callback gets the
 * dialog (with "type" and "target" set) and the response. */
static void
ask_about_conversation (NatterSidebar *self,
                        int            type,
                        const char    *target,
                        const char    *heading,
                        const char    *body,
                        const char    *response,
                        const char    *label,
                        GCallback      callback)
{
  GtkWidget *dialog;

  dialog = adw_message_dialog_new (GTK_WINDOW (gtk_widget_get_root (GTK_WIDGET (self))), heading, body);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    response, label,
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), response,
                                              ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_object_set_data (G_OBJECT (dialog), "type", GINT_TO_POINTER (type));
  g_object_set_data_full (G_OBJECT (dialog), "target", g_strdup (target), g_free);
  g_signal_connect_object (dialog, "response", callback, self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
delete_activated (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  NatterSidebar *self = NATTER_SIDEBAR (widget);
  g_autoptr(NatterConversation) conv = NULL;
  g_autofree char *body = NULL;
  const char *target;
  int type;

  conv = lookup (self, parameter, &type, &target);
  body = g_strdup_printf (_("The messages with %s will be removed from this device."),
                          conv != NULL ? natter_conversation_get_title (conv) : target);
  ask_about_conversation (self, type, target, _("Delete Chat?"), body, "delete", _("_Delete"),
                          G_CALLBACK (delete_response_cb));
}

static void
clear_history_done_cb (GObject      *object,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  /* offline: it goes from the outbox, and clears here once natterd has it */
  if (!natter_client_clear_history_finish (NATTER_CLIENT (object), result, &error) &&
      !natter_client_error_is_transient (error))
    g_warning ("Clearing the history failed: %s", error->message);
}

static void
clear_history_response_cb (AdwMessageDialog *dialog,
                           const char       *response,
                           NatterSidebar    *self)
{
  int type = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (dialog), "type"));
  const char *target = g_object_get_data (G_OBJECT (dialog), "target");

  if (!g_str_equal (response, "clear") || self->client == NULL)
    return;
  natter_client_clear_history_async (self->client, type, target, NULL, clear_history_done_cb, NULL);
}

/* Unlike Delete Chat, on every device of mine and on the server for good. */
static void
clear_history_activated (GtkWidget  *widget,
                         const char *action_name,
                         GVariant   *parameter)
{
  NatterSidebar *self = NATTER_SIDEBAR (widget);
  g_autoptr(NatterConversation) conv = NULL;
  g_autofree char *body = NULL;
  const char *target;
  int type;

  conv = lookup (self, parameter, &type, &target);
  body = g_strdup_printf (_("The messages with %s will be removed on all your devices "
                            "and will not come back. The others keep theirs."),
                          conv != NULL ? natter_conversation_get_title (conv) : target);
  ask_about_conversation (self, type, target, _("Clear History?"), body, "clear", _("C_lear"),
                          G_CALLBACK (clear_history_response_cb));
}

/* ---------------------------------------------------------------- status */

static gboolean
show_banner_cb (gpointer user_data)
{
  NatterSidebar *self = user_data;

  self->banner_timeout_id = 0;
  gtk_revealer_set_reveal_child (self->banner_revealer, TRUE);
  return G_SOURCE_REMOVE;
}

/* The client's connection, unobtrusively: nothing when connected. */
static void
show_status (NatterSidebar          *self,
             NatterConnectionStatus  status)
{
  g_clear_handle_id (&self->banner_timeout_id, g_source_remove);

  switch (status)
    {
    case NATTER_CONNECTION_CONNECTED:
      gtk_revealer_set_reveal_child (self->banner_revealer, FALSE);
      gtk_spinner_stop (self->banner_spinner);
      return;
    case NATTER_CONNECTION_CONNECTING:
      gtk_label_set_label (self->banner_label, _("Connecting…"));
      gtk_spinner_start (self->banner_spinner);
      gtk_widget_set_visible (GTK_WIDGET (self->banner_spinner), TRUE);
      gtk_widget_set_visible (self->banner_button, FALSE);
      break;
    case NATTER_CONNECTION_NETWORK_UNAVAILABLE:
      gtk_label_set_label (self->banner_label, _("No network. Messages will be sent when it is back."));
      gtk_spinner_stop (self->banner_spinner);
      gtk_widget_set_visible (GTK_WIDGET (self->banner_spinner), FALSE);
      gtk_widget_set_visible (self->banner_button, FALSE);
      break;
    case NATTER_CONNECTION_KICKED_OFFLINE_BY_OTHER_CLIENT:
      gtk_label_set_label (self->banner_label, _("Signed in on another device"));
      gtk_spinner_stop (self->banner_spinner);
      gtk_widget_set_visible (GTK_WIDGET (self->banner_spinner), FALSE);
      gtk_widget_set_visible (self->banner_button, TRUE);
      break;
    case NATTER_CONNECTION_DISCONNECTED:
    case NATTER_CONNECTION_CLOSED:
    default:
      gtk_label_set_label (self->banner_label, _("Offline. Reconnecting…"));
      gtk_spinner_stop (self->banner_spinner);
      gtk_widget_set_visible (GTK_WIDGET (self->banner_spinner), FALSE);
      gtk_widget_set_visible (self->banner_button, TRUE);
      break;
    }

  /* A short reconnect does not deserve a banner. */
  if (!gtk_revealer_get_reveal_child (self->banner_revealer))
    self->banner_timeout_id = g_timeout_add_seconds (2, show_banner_cb, self);
}

static void
status_changed_cb (NatterSidebar          *self,
                   NatterConnectionStatus  status)
{
  show_status (self, status);
}

const char *
natter_sidebar_get_user_id (NatterSidebar *self)
{
  g_return_val_if_fail (NATTER_IS_SIDEBAR (self), NULL);
  return adw_window_title_get_subtitle (self->window_title);
}

void
natter_sidebar_set_user_id (NatterSidebar *self,
                            const char    *user_id)
{
  g_return_if_fail (NATTER_IS_SIDEBAR (self));

  if (g_strcmp0 (user_id, natter_sidebar_get_user_id (self)) == 0)
    return;
  adw_window_title_set_subtitle (self->window_title, user_id);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_USER_ID]);
}

AdwHeaderBar *
natter_sidebar_get_header_bar (NatterSidebar *self)
{
  g_return_val_if_fail (NATTER_IS_SIDEBAR (self), NULL);
  return self->header_bar;
}

/* ---------------------------------------------------------------- model */

/* GTK 4.8's list view builds rows for up to 200 items around what it
 * shows, whether on screen or not: ~150 here, ~50 KiB of RSS each (8 MiB
 * with 10,000 conversations), and with them in one frame the list came on
 * screen late (#17). The list view is given what the window's height
 * shows first, a screenful more after each frame up to AHEAD, then a screenful more each time it is
 * scrolled to within three pages of the end of what it has; past GROWN,
 * where GTK stops making rows anyway, everything. */
#define SCREENFUL 24
#define AHEAD (2 * SCREENFUL)
#define GROWN (8 * SCREENFUL)
/* a row is at least its avatar (46 px) and the box's margins */
#define ROW_MIN_HEIGHT 62

/* The first frame's rows: what the window's height can show, not a
 * screenful of the tallest window. Each row more was made, bound, laid out
 * and drawn before the window showed anything (#17). */
static guint
first_screenful (NatterSidebar *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  int width, height = gtk_widget_get_height (GTK_WIDGET (self->list_view));

  /* GTK 4.8 takes no NULL for either */
  if (height <= 0 && GTK_IS_WINDOW (root))
    gtk_window_get_default_size (GTK_WINDOW (root), &width, &height);
  if (height <= 0)
    return SCREENFUL;
  return CLAMP ((guint) (height + ROW_MIN_HEIGHT - 1) / ROW_MIN_HEIGHT, 1, SCREENFUL);
}

static void
stop_growing (NatterSidebar *self)
{
  if (self->list_view != NULL)
    g_clear_signal_handler (&self->grow_map_id, self->list_view);
  if (self->grow_clock != NULL)
    g_signal_handlers_disconnect_by_data (self->grow_clock, self);
  g_clear_object (&self->grow_clock);
}

/* Everything at once: when positions matter, or no frames come. */
static void
show_all (NatterSidebar *self)
{
  stop_growing (self);
  if (gtk_slice_list_model_get_size (self->shown) != G_MAXUINT)
    gtk_slice_list_model_set_size (self->shown, G_MAXUINT);
}

/* At least @size conversations in the list view. */
static void
show_up_to (NatterSidebar *self,
            guint          size)
{
  if (size >= GROWN || self->conversations == NULL ||
      size >= g_list_model_get_n_items (G_LIST_MODEL (self->conversations)))
    show_all (self);
  else if (size > gtk_slice_list_model_get_size (self->shown))
    gtk_slice_list_model_set_size (self->shown, size);
}

static void
grow_after_paint_cb (GdkFrameClock *clock,
                     NatterSidebar *self)
{
  guint size = MIN (gtk_slice_list_model_get_size (self->shown) + SCREENFUL, AHEAD);

  show_up_to (self, size);
  if (size >= AHEAD)
    stop_growing (self);
}

/* Scrolled (or made taller) to near the end of what the list view has. */
static void
scrolled_cb (NatterSidebar *self)
{
  GtkAdjustment *adjustment = gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (self->list_view));
  guint size = gtk_slice_list_model_get_size (self->shown);

  /* not while the list loads or comes on screen: start_growing() does */
  if (adjustment == NULL || size == G_MAXUINT || self->grow_clock != NULL || self->grow_map_id != 0 ||
      self->conversations == NULL || natter_conversation_list_get_loading (self->conversations))
    return;
  if (gtk_adjustment_get_value (adjustment) + 3 * gtk_adjustment_get_page_size (adjustment) <
      gtk_adjustment_get_upper (adjustment))
    return;
  show_up_to (self, size + SCREENFUL);
}

static void start_growing (NatterSidebar *self);

static void
list_mapped_cb (NatterSidebar *self)
{
  g_clear_signal_handler (&self->grow_map_id, self->list_view);
  start_growing (self);
}

static void
start_growing (NatterSidebar *self)
{
  GdkFrameClock *clock;

  if (self->grow_clock != NULL || self->grow_map_id != 0 ||
      gtk_slice_list_model_get_size (self->shown) == G_MAXUINT)
    return;
  /* not on screen yet: its first frame shows the first screenful */
  if (!gtk_widget_get_mapped (GTK_WIDGET (self->list_view)))
    {
      self->grow_map_id = g_signal_connect_swapped (self->list_view, "map", G_CALLBACK (list_mapped_cb), self);
      return;
    }
  clock = gtk_widget_get_frame_clock (GTK_WIDGET (self->list_view));
  if (clock == NULL)
    {
      show_all (self);
      return;
    }
  self->grow_clock = g_object_ref (clock);
  g_signal_connect (clock, "after-paint", G_CALLBACK (grow_after_paint_cb), self);
  gdk_frame_clock_request_phase (clock, GDK_FRAME_CLOCK_PHASE_PAINT);
}

#ifdef __GLIBC__
static gpointer
trim_thread (gpointer data)
{
  malloc_trim (0);
  return NULL;
}
#endif

#ifdef __GLIBC__
static void
trim_cb (gpointer data)
{
  g_thread_unref (g_thread_new ("natter-trim", trim_thread, NULL));
}
#endif

/* Starting (the theme, the list's load and first layout of its rows)
 * leaves freed heap behind that malloc keeps: give it back once the list
 * is on screen, off the main thread. About 7 MiB of RSS with 10,000
 * conversations. */
static void
loading_changed_cb (NatterSidebar *self)
{
  update_page (self);
  if (!natter_conversation_list_get_loading (self->conversations))
    start_growing (self);
#ifdef __GLIBC__
  if (!natter_conversation_list_get_loading (self->conversations))
    g_timeout_add_once (500, trim_cb, NULL);
#endif
}

NatterClient *
natter_sidebar_get_client (NatterSidebar *self)
{
  g_return_val_if_fail (NATTER_IS_SIDEBAR (self), NULL);
  return self->client;
}

void
natter_sidebar_set_client (NatterSidebar *self,
                           NatterClient  *client)
{
  g_return_if_fail (NATTER_IS_SIDEBAR (self));
  g_return_if_fail (client == NULL || NATTER_IS_CLIENT (client));

  if (self->client == client)
    return;

  natter_sidebar_stop_search (self);
  if (self->conversations != NULL)
    g_signal_handlers_disconnect_by_data (self->conversations, self);
  stop_growing (self);
  gtk_slice_list_model_set_model (self->shown, NULL);
  g_clear_object (&self->conversations);
  g_clear_object (&self->portraits);
  g_set_object (&self->client, client);

  if (client != NULL)
    {
      self->portraits = natter_portraits_new (client);
      self->conversations = natter_conversation_list_new (client);
      g_signal_connect_swapped (self->conversations, "items-changed", G_CALLBACK (update_page), self);
      g_signal_connect_swapped (self->conversations, "notify::loading", G_CALLBACK (loading_changed_cb), self);
    }
  gtk_slice_list_model_set_size (self->shown, client != NULL ? first_screenful (self) : G_MAXUINT);
  gtk_slice_list_model_set_model (self->shown, G_LIST_MODEL (self->conversations));
  gtk_toggle_button_set_active (self->filter_all, TRUE);
  update_page (self);
  g_signal_group_set_target (self->client_signals, client);
  if (client != NULL)
    show_status (self, natter_client_get_status (client));

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CLIENT]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PORTRAITS]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONVERSATIONS]);
}

NatterConversationList *
natter_sidebar_get_conversations (NatterSidebar *self)
{
  g_return_val_if_fail (NATTER_IS_SIDEBAR (self), NULL);
  return self->conversations;
}

NatterPortraits *
natter_sidebar_get_portraits (NatterSidebar *self)
{
  g_return_val_if_fail (NATTER_IS_SIDEBAR (self), NULL);
  return self->portraits;
}

GtkListView *
natter_sidebar_get_list_view (NatterSidebar *self)
{
  g_return_val_if_fail (NATTER_IS_SIDEBAR (self), NULL);
  return self->list_view;
}

static gboolean
select_idle_cb (gpointer user_data)
{
  NatterSidebar *self = user_data;
  guint pos = G_MAXUINT;

  self->select_id = 0;

  if (self->conversations != NULL && self->conversation != NULL)
    pos = natter_conversation_list_find (self->conversations,
                                         natter_conversation_get_conversation_type (self->conversation),
                                         natter_conversation_get_target_id (self->conversation));
  /* the open chat's row, and a screenful below it */
  if (pos != G_MAXUINT)
    show_up_to (self, pos + 1 + SCREENFUL);
  self->selecting = TRUE;
  if (pos == G_MAXUINT || pos >= g_list_model_get_n_items (G_LIST_MODEL (self->selection)))
    gtk_selection_model_unselect_all (GTK_SELECTION_MODEL (self->selection));
  else
    gtk_selection_model_select_item (GTK_SELECTION_MODEL (self->selection), pos, TRUE);
  self->selecting = FALSE;
  return G_SOURCE_REMOVE;
}

NatterConversation *
natter_sidebar_get_conversation (NatterSidebar *self)
{
  g_return_val_if_fail (NATTER_IS_SIDEBAR (self), NULL);
  return self->conversation;
}

/* In an idle: the highlight follows the open chat, never in the middle of
 * the list view handling a change of its model. */
void
natter_sidebar_set_conversation (NatterSidebar      *self,
                                 NatterConversation *conversation)
{
  g_return_if_fail (NATTER_IS_SIDEBAR (self));
  g_return_if_fail (conversation == NULL || NATTER_IS_CONVERSATION (conversation));

  if (self->select_id == 0)
    self->select_id = g_idle_add (select_idle_cb, self);
  if (g_set_object (&self->conversation, conversation))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONVERSATION]);
}

gboolean
natter_sidebar_activate_relative (NatterSidebar *self,
                                  int            delta)
{
  guint n, pos;
  gint64 next;

  g_return_val_if_fail (NATTER_IS_SIDEBAR (self), FALSE);

  /* from the open chat, even if its highlight is still to come */
  if (self->select_id != 0)
    {
      g_clear_handle_id (&self->select_id, g_source_remove);
      select_idle_cb (self);
    }

  n = self->conversations != NULL ? g_list_model_get_n_items (G_LIST_MODEL (self->conversations)) : 0;
  if (n == 0)
    return FALSE;
  pos = gtk_single_selection_get_selected (self->selection);
  if (pos == GTK_INVALID_LIST_POSITION)
    next = delta > 0 ? 0 : (gint64) n - 1;
  else
    next = (gint64) pos + delta;
  if (next < 0 || next >= n)
    return FALSE;
  /* its row, and a screenful below it */
  show_up_to (self, (guint) next + 1 + SCREENFUL);
  gtk_selection_model_select_item (GTK_SELECTION_MODEL (self->selection), (guint) next, TRUE);
  if (gtk_widget_get_mapped (GTK_WIDGET (self->list_view)))
    gtk_widget_activate_action (GTK_WIDGET (self->list_view), "list.scroll-to-item", "u", (guint) next);
  return TRUE;
}

static void
natter_sidebar_dispose (GObject *object)
{
  NatterSidebar *self = (NatterSidebar *) object;

  g_cancellable_cancel (self->search_cancellable);
  g_clear_object (&self->search_cancellable);
  g_clear_handle_id (&self->banner_timeout_id, g_source_remove);
  g_clear_handle_id (&self->select_id, g_source_remove);
  g_clear_object (&self->conversation);
  if (self->client_signals != NULL)
    g_signal_group_set_target (self->client_signals, NULL);
  g_clear_object (&self->client_signals);
  if (self->conversations != NULL)
    g_signal_handlers_disconnect_by_data (self->conversations, self);
  stop_growing (self);
  g_clear_object (&self->selection);
  g_clear_object (&self->shown);
  g_clear_object (&self->conversations);
  g_clear_object (&self->portraits);
  g_clear_object (&self->client);
  g_clear_object (&self->results);
  g_clear_pointer (&self->query, g_free);
  gtk_widget_dispose_template (GTK_WIDGET (self), NATTER_TYPE_SIDEBAR);

  G_OBJECT_CLASS (natter_sidebar_parent_class)->dispose (object);
}

static void
natter_sidebar_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  NatterSidebar *self = NATTER_SIDEBAR (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      g_value_set_object (value, self->client);
      break;
    case PROP_CONVERSATIONS:
      g_value_set_object (value, self->conversations);
      break;
    case PROP_PORTRAITS:
      g_value_set_object (value, self->portraits);
      break;
    case PROP_CONVERSATION:
      g_value_set_object (value, self->conversation);
      break;
    case PROP_USER_ID:
      g_value_set_string (value, natter_sidebar_get_user_id (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_sidebar_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  NatterSidebar *self = NATTER_SIDEBAR (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      natter_sidebar_set_client (self, g_value_get_object (value));
      break;
    case PROP_CONVERSATION:
      natter_sidebar_set_conversation (self, g_value_get_object (value));
      break;
    case PROP_USER_ID:
      natter_sidebar_set_user_id (self, g_value_get_string (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_sidebar_class_init (NatterSidebarClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->dispose = natter_sidebar_dispose;
  object_class->get_property = natter_sidebar_get_property;
  object_class->set_property = natter_sidebar_set_property;

  properties[PROP_CLIENT] =
    g_param_spec_object ("client", NULL, NULL, NATTER_TYPE_CLIENT, rw);
  properties[PROP_CONVERSATIONS] =
    g_param_spec_object ("conversations", NULL, NULL, NATTER_TYPE_CONVERSATION_LIST, ro);
  properties[PROP_PORTRAITS] =
    g_param_spec_object ("portraits", NULL, NULL, NATTER_TYPE_PORTRAITS, ro);
  properties[PROP_CONVERSATION] =
    g_param_spec_object ("conversation", NULL, NULL, NATTER_TYPE_CONVERSATION, rw);
  properties[PROP_USER_ID] =
    g_param_spec_string ("user-id", NULL, NULL, NULL, rw);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[CONVERSATION_ACTIVATED] =
    g_signal_new ("conversation-activated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_STRING);
  signals[MESSAGE_ACTIVATED] =
    g_signal_new ("message-activated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, NATTER_TYPE_MESSAGE);

  gtk_widget_class_set_template_from_resource (widget_class, "/im/natter/Natter/natter-sidebar.ui");
  /* the menu's accounts, filled by NatterApplication (gtk_widget_get_template_child) */
  gtk_widget_class_bind_template_child_full (widget_class, "accounts_section", FALSE, 0);
  gtk_widget_class_bind_template_child_full (widget_class, "primary_menu", FALSE, 0);
  gtk_widget_class_bind_template_child_full (widget_class, "menu_button", FALSE, 0);
  gtk_widget_class_bind_template_child (widget_class, NatterSidebar, header_bar);
  gtk_widget_class_bind_template_child (widget_class, NatterSidebar, window_title);
  gtk_widget_class_bind_template_child (widget_class, NatterSidebar, search_button);
  gtk_widget_class_bind_template_child (widget_class, NatterSidebar, search_bar);
  gtk_widget_class_bind_template_child (widget_class, NatterSidebar, search_entry);
  gtk_widget_class_bind_template_child (widget_class, NatterSidebar, banner_revealer);
  gtk_widget_class_bind_template_child (widget_class, NatterSidebar, banner_spinner);
  gtk_widget_class_bind_template_child (widget_class, NatterSidebar, banner_label);
  gtk_widget_class_bind_template_child (widget_class, NatterSidebar, banner_button);
  gtk_widget_class_bind_template_child (widget_class, NatterSidebar, filter_all);
  gtk_widget_class_bind_template_child (widget_class, NatterSidebar, filter_private);
  gtk_widget_class_bind_template_child (widget_class, NatterSidebar, filter_groups);
  gtk_widget_class_bind_template_child (widget_class, NatterSidebar, filter_rooms);
  gtk_widget_class_bind_template_child (widget_class, NatterSidebar, stack);
  gtk_widget_class_bind_template_child (widget_class, NatterSidebar, list_view);
  gtk_widget_class_bind_template_child (widget_class, NatterSidebar, search_view);
  gtk_widget_class_bind_template_callback (widget_class, search_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, search_activate_cb);
  gtk_widget_class_bind_template_callback (widget_class, stop_search_cb);
  gtk_widget_class_bind_template_callback (widget_class, filter_toggled_cb);

  gtk_widget_class_install_action (widget_class, "sidebar.toggle-pinned", "(is)", toggle_activated);
  gtk_widget_class_install_action (widget_class, "sidebar.toggle-muted", "(is)", toggle_activated);
  gtk_widget_class_install_action (widget_class, "sidebar.mark-read", "(is)", mark_read_activated);
  gtk_widget_class_install_action (widget_class, "sidebar.delete", "(is)", delete_activated);
  gtk_widget_class_install_action (widget_class, "sidebar.clear-history", "(is)", clear_history_activated);
}

/* The main menu's popover is made when it is first opened: GTK 4.8 makes
 * a popover menu's widgets with its model, ~6 M instructions before the
 * map (#17). */
static void
create_primary_menu_cb (GtkMenuButton *button,
                        gpointer       user_data)
{
  GMenuModel *menu = G_MENU_MODEL (gtk_widget_get_template_child (GTK_WIDGET (user_data), NATTER_TYPE_SIDEBAR,
                                                                  "primary_menu"));

  gtk_menu_button_set_create_popup_func (button, NULL, NULL, NULL);
  gtk_menu_button_set_menu_model (button, menu);
}

static void
natter_sidebar_init (NatterSidebar *self)
{
  GtkListItemFactory *factory;

  g_type_ensure (NATTER_TYPE_CONVERSATION_ROW);
  gtk_widget_init_template (GTK_WIDGET (self));
  /* a fixed width, whatever rows show (natter-pane-layout.c) */
  gtk_widget_set_layout_manager (GTK_WIDGET (self), natter_pane_layout_new (SIDEBAR_NATURAL_WIDTH));
  /* its rows' labels expand: without this the window's extra width would
   * be shared with the chat */
  gtk_widget_set_hexpand (GTK_WIDGET (self), FALSE);
  gtk_menu_button_set_create_popup_func (
    GTK_MENU_BUTTON (gtk_widget_get_template_child (GTK_WIDGET (self), NATTER_TYPE_SIDEBAR, "menu_button")),
    create_primary_menu_cb, self, NULL);

  self->shown = gtk_slice_list_model_new (NULL, 0, G_MAXUINT);
  self->selection = gtk_single_selection_new (g_object_ref (G_LIST_MODEL (self->shown)));
  gtk_single_selection_set_autoselect (self->selection, FALSE);
  gtk_single_selection_set_can_unselect (self->selection, TRUE);
  g_signal_connect_swapped (self->selection, "selection-changed",
                            G_CALLBACK (selection_changed_cb), self);

  factory = gtk_signal_list_item_factory_new ();
  g_signal_connect (factory, "setup", G_CALLBACK (row_setup_cb), self);
  g_signal_connect (factory, "bind", G_CALLBACK (row_bind_cb), self);
  g_signal_connect (factory, "teardown", G_CALLBACK (row_teardown_cb), self);
  gtk_list_view_set_factory (self->list_view, factory);
  g_object_unref (factory);
  gtk_list_view_set_model (self->list_view, GTK_SELECTION_MODEL (self->selection));
  g_signal_connect_swapped (self->selection, "items-changed", G_CALLBACK (shown_changed_cb), self);
  g_signal_connect_swapped (self->list_view, "activate", G_CALLBACK (list_activate_cb), self);
  {
    /* the scrolled window's, set by the template */
    GtkAdjustment *adjustment = gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (self->list_view));

    g_signal_connect_object (adjustment, "value-changed", G_CALLBACK (scrolled_cb), self, G_CONNECT_SWAPPED);
    g_signal_connect_object (adjustment, "changed", G_CALLBACK (scrolled_cb), self, G_CONNECT_SWAPPED);
  }

  self->results = g_list_store_new (NATTER_TYPE_MESSAGE);
  factory = gtk_signal_list_item_factory_new ();
  g_signal_connect (factory, "setup", G_CALLBACK (result_setup_cb), self);
  g_signal_connect (factory, "bind", G_CALLBACK (result_bind_cb), self);
  gtk_list_view_set_factory (self->search_view, factory);
  g_object_unref (factory);
  {
    g_autoptr(GtkNoSelection) none = gtk_no_selection_new (g_object_ref (G_LIST_MODEL (self->results)));
    gtk_list_view_set_model (self->search_view, GTK_SELECTION_MODEL (none));
  }
  g_signal_connect_swapped (self->search_view, "activate", G_CALLBACK (result_activate_cb), self);

  gtk_search_bar_set_key_capture_widget (self->search_bar, NULL);
  gtk_search_bar_connect_entry (self->search_bar, GTK_EDITABLE (self->search_entry));

  self->client_signals = g_signal_group_new (NATTER_TYPE_CLIENT);
  g_signal_group_connect_object (self->client_signals, "status-changed",
                                 G_CALLBACK (status_changed_cb), self, G_CONNECT_SWAPPED);
}
