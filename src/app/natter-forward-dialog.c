/* natter-forward-dialog.c — forward messages to one or more chats
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gi18n.h>

#include "natter-forward-dialog.h"

struct _NatterForwardDialog
{
  AdwWindow parent_instance;

  NatterClient *client;
  GPtrArray *messages;
  NatterConversationList *conversations;
  GtkStringFilter *filter;
  GtkMultiSelection *selection;
  GtkSearchEntry *search;
  GtkWidget *forward_button;
  guint pending;
  guint sent;
  guint failed;
};

G_DEFINE_FINAL_TYPE (NatterForwardDialog, natter_forward_dialog, ADW_TYPE_WINDOW)

enum {
  FINISHED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
update_button (NatterForwardDialog *self)
{
  g_autoptr(GtkBitset) selected = gtk_selection_model_get_selection (GTK_SELECTION_MODEL (self->selection));
  guint64 n = gtk_bitset_get_size (selected);
  g_autofree char *label = NULL;

  gtk_widget_set_sensitive (self->forward_button, n > 0);
  if (n > 1)
    /* Translators: the forward dialog's button with several chats chosen */
    label = g_strdup_printf (ngettext ("_Forward to %u Chat", "_Forward to %u Chats", (gulong) n), (guint) n);
  gtk_button_set_label (GTK_BUTTON (self->forward_button), label != NULL ? label : _("_Forward"));
}

static void
sent_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(NatterForwardDialog) self = user_data;
  g_autoptr(NatterMessage) message = NULL;
  g_autoptr(GError) error = NULL;

  message = natter_client_send_message_finish (NATTER_CLIENT (object), result, &error);
  /* a transient error is no failure: the outbox sends it later */
  if (message == NULL && !natter_client_error_is_transient (error))
    {
      g_message ("Forwarding: %s", error->message);
      self->failed++;
    }
  else
    self->sent++;
  if (--self->pending == 0)
    g_signal_emit (self, signals[FINISHED], 0, self->sent, self->failed);
}

void
natter_forward_dialog_forward (NatterForwardDialog *self)
{
  g_autoptr(GtkBitset) selected = NULL;
  GtkBitsetIter iter;
  guint position;

  g_return_if_fail (NATTER_IS_FORWARD_DIALOG (self));

  selected = gtk_selection_model_get_selection (GTK_SELECTION_MODEL (self->selection));
  for (gboolean more = gtk_bitset_iter_init_first (&iter, selected, &position); more;
       more = gtk_bitset_iter_next (&iter, &position))
    {
      g_autoptr(NatterConversation) conversation = g_list_model_get_item (G_LIST_MODEL (self->selection), position);

      for (guint i = 0; i < self->messages->len; i++)
        {
          NatterMessage *message = g_ptr_array_index (self->messages, i);
          g_autoptr(JsonObject) content = natter_message_dup_forward_content (message);

          if (content == NULL)
            {
              self->failed++;
              continue;
            }
          self->pending++;
          natter_client_send_message_async (self->client,
                                            natter_conversation_get_conversation_type (conversation),
                                            natter_conversation_get_target_id (conversation),
                                            natter_message_get_object_name (message), content, NULL,
                                            sent_cb, g_object_ref (self));
        }
    }
  if (self->pending == 0)
    g_signal_emit (self, signals[FINISHED], 0, self->sent, self->failed);
  gtk_window_destroy (GTK_WINDOW (self));
}

GtkEditable *
natter_forward_dialog_get_search (NatterForwardDialog *self)
{
  g_return_val_if_fail (NATTER_IS_FORWARD_DIALOG (self), NULL);
  return GTK_EDITABLE (self->search);
}

GtkSelectionModel *
natter_forward_dialog_get_selection (NatterForwardDialog *self)
{
  g_return_val_if_fail (NATTER_IS_FORWARD_DIALOG (self), NULL);
  return GTK_SELECTION_MODEL (self->selection);
}

static void
row_setup_cb (GtkSignalListItemFactory *factory,
              GtkListItem              *item)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  GtkWidget *avatar = adw_avatar_new (32, NULL, TRUE);
  GtkWidget *label = gtk_label_new (NULL);
  GtkWidget *check = gtk_image_new_from_icon_name ("object-select-symbolic");

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  gtk_widget_set_hexpand (label, TRUE);
  gtk_widget_add_css_class (check, "accent");
  gtk_box_append (GTK_BOX (box), avatar);
  gtk_box_append (GTK_BOX (box), label);
  gtk_box_append (GTK_BOX (box), check);
  gtk_widget_set_margin_top (box, 6);
  gtk_widget_set_margin_bottom (box, 6);
  gtk_widget_set_margin_start (box, 6);
  gtk_widget_set_margin_end (box, 6);
  gtk_list_item_set_child (item, box);
}

static void
update_check (GtkListItem *item)
{
  GtkWidget *box = gtk_list_item_get_child (item);

  if (box != NULL)
    gtk_widget_set_opacity (gtk_widget_get_last_child (box), gtk_list_item_get_selected (item) ? 1 : 0);
}

static void
row_bind_cb (GtkSignalListItemFactory *factory,
             GtkListItem              *item)
{
  NatterConversation *conversation = gtk_list_item_get_item (item);
  GtkWidget *box = gtk_list_item_get_child (item);
  const char *title = natter_conversation_get_title (conversation);

  if (title == NULL || *title == '\0')
    title = natter_conversation_get_target_id (conversation);
  adw_avatar_set_text (ADW_AVATAR (gtk_widget_get_first_child (box)), title);
  gtk_label_set_label (GTK_LABEL (gtk_widget_get_next_sibling (gtk_widget_get_first_child (box))), title);
  update_check (item);
  g_signal_connect (item, "notify::selected", G_CALLBACK (update_check), NULL);
}

static void
row_unbind_cb (GtkSignalListItemFactory *factory,
               GtkListItem              *item)
{
  g_signal_handlers_disconnect_by_func (item, update_check, NULL);
}

static void
search_changed_cb (NatterForwardDialog *self)
{
  gtk_string_filter_set_search (self->filter, gtk_editable_get_text (GTK_EDITABLE (self->search)));
}

static char *
conversation_title (NatterConversation *conversation)
{
  const char *title = natter_conversation_get_title (conversation);

  return g_strdup (title != NULL && *title != '\0' ? title : natter_conversation_get_target_id (conversation));
}

static void
natter_forward_dialog_dispose (GObject *object)
{
  NatterForwardDialog *self = (NatterForwardDialog *) object;

  g_clear_object (&self->client);
  g_clear_pointer (&self->messages, g_ptr_array_unref);
  g_clear_object (&self->conversations);
  g_clear_object (&self->selection);
  G_OBJECT_CLASS (natter_forward_dialog_parent_class)->dispose (object);
}

static void
natter_forward_dialog_class_init (NatterForwardDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = natter_forward_dialog_dispose;

  signals[FINISHED] =
    g_signal_new ("finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_UINT, G_TYPE_UINT);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
natter_forward_dialog_init (NatterForwardDialog *self)
{
  gtk_window_set_title (GTK_WINDOW (self), _("Forward To"));
  gtk_window_set_default_size (GTK_WINDOW (self), 360, 480);
  gtk_window_set_modal (GTK_WINDOW (self), TRUE);
}

GtkWidget *
natter_forward_dialog_new (GtkWindow    *parent,
                           NatterClient *client,
                           GPtrArray    *messages)
{
  NatterForwardDialog *self;
  GtkWidget *toolbar = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *header = adw_header_bar_new ();
  GtkWidget *cancel = gtk_button_new_with_mnemonic (_("_Cancel"));
  GtkWidget *scrolled = gtk_scrolled_window_new ();
  GtkWidget *list_view;
  GtkListItemFactory *factory;
  GtkFilterListModel *filtered;
  GtkExpression *expression;

  g_return_val_if_fail (NATTER_IS_CLIENT (client), NULL);
  g_return_val_if_fail (messages != NULL && messages->len > 0, NULL);

  self = g_object_new (NATTER_TYPE_FORWARD_DIALOG, "transient-for", parent, NULL);
  self->client = g_object_ref (client);
  self->messages = g_ptr_array_ref (messages);
  self->conversations = natter_conversation_list_new (client);

  expression = gtk_cclosure_expression_new (G_TYPE_STRING, NULL, 0, NULL,
                                            G_CALLBACK (conversation_title), NULL, NULL);
  self->filter = gtk_string_filter_new (expression);
  filtered = gtk_filter_list_model_new (g_object_ref (G_LIST_MODEL (self->conversations)),
                                        GTK_FILTER (self->filter));
  self->selection = gtk_multi_selection_new (G_LIST_MODEL (filtered));

  self->forward_button = gtk_button_new_with_mnemonic (_("_Forward"));
  gtk_widget_add_css_class (self->forward_button, "suggested-action");
  g_signal_connect_swapped (self->forward_button, "clicked", G_CALLBACK (natter_forward_dialog_forward), self);
  g_signal_connect_swapped (cancel, "clicked", G_CALLBACK (gtk_window_destroy), self);
  adw_header_bar_set_show_end_title_buttons (ADW_HEADER_BAR (header), FALSE);
  adw_header_bar_set_show_start_title_buttons (ADW_HEADER_BAR (header), FALSE);
  adw_header_bar_pack_start (ADW_HEADER_BAR (header), cancel);
  adw_header_bar_pack_end (ADW_HEADER_BAR (header), self->forward_button);
  gtk_box_append (GTK_BOX (toolbar), header);

  self->search = GTK_SEARCH_ENTRY (gtk_search_entry_new ());
  gtk_widget_set_margin_top (GTK_WIDGET (self->search), 6);
  gtk_widget_set_margin_bottom (GTK_WIDGET (self->search), 6);
  gtk_widget_set_margin_start (GTK_WIDGET (self->search), 12);
  gtk_widget_set_margin_end (GTK_WIDGET (self->search), 12);
  g_object_set (self->search, "placeholder-text", _("Search chats"), NULL);
  g_signal_connect_swapped (self->search, "search-changed", G_CALLBACK (search_changed_cb), self);
  gtk_box_append (GTK_BOX (toolbar), GTK_WIDGET (self->search));

  factory = gtk_signal_list_item_factory_new ();
  g_signal_connect (factory, "setup", G_CALLBACK (row_setup_cb), NULL);
  g_signal_connect (factory, "bind", G_CALLBACK (row_bind_cb), NULL);
  g_signal_connect (factory, "unbind", G_CALLBACK (row_unbind_cb), NULL);
  list_view = gtk_list_view_new (GTK_SELECTION_MODEL (g_object_ref (self->selection)), factory);
  gtk_widget_add_css_class (list_view, "navigation-sidebar");
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), list_view);
  gtk_widget_set_vexpand (scrolled, TRUE);
  gtk_box_append (GTK_BOX (toolbar), scrolled);

  g_signal_connect_swapped (self->selection, "selection-changed", G_CALLBACK (update_button), self);
  update_button (self);
  adw_window_set_content (ADW_WINDOW (self), toolbar);
  return GTK_WIDGET (self);
}
