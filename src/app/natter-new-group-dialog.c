/* natter-new-group-dialog.c — "New Group": a name and members from contacts
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gi18n.h>

#include "natter-format-accounts.h"
#include "natter-new-group-dialog.h"

#define MAX_GROUP_NAME 32

struct _NatterNewGroupDialog
{
  AdwWindow parent_instance;

  NatterAccountService *service;
  GCancellable *cancellable;
  GPtrArray *checks;            /* GtkCheckButton, user-id set on each */
  AdwEntryRow *name_row;
  GtkWidget *create_button;
  GtkLabel *error_label;
};

G_DEFINE_FINAL_TYPE (NatterNewGroupDialog, natter_new_group_dialog, ADW_TYPE_WINDOW)

enum {
  SIGNAL_CREATED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static GStrv
chosen_members (NatterNewGroupDialog *self)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  for (guint i = 0; i < self->checks->len; i++)
    if (gtk_check_button_get_active (g_ptr_array_index (self->checks, i)))
      g_strv_builder_add (builder, g_object_get_data (g_ptr_array_index (self->checks, i), "user-id"));
  return g_strv_builder_end (builder);
}

static void
form_changed_cb (NatterNewGroupDialog *self)
{
  g_auto(GStrv) members = chosen_members (self);
  const char *name = gtk_editable_get_text (GTK_EDITABLE (self->name_row));
  glong length = g_utf8_strlen (name, -1);

  gtk_widget_set_sensitive (self->create_button,
                            self->cancellable == NULL && length > 0 && length <= MAX_GROUP_NAME &&
                            members[0] != NULL);
}

static void
created_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(NatterNewGroupDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *group_id = NULL;

  group_id = natter_account_service_create_group_finish (NATTER_ACCOUNT_SERVICE (object), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  g_clear_object (&self->cancellable);
  if (group_id == NULL)
    {
      g_autofree char *message = natter_format_account_error (error);

      gtk_label_set_label (self->error_label, message);
      gtk_widget_set_visible (GTK_WIDGET (self->error_label), TRUE);
      form_changed_cb (self);
      return;
    }
  g_signal_emit (self, signals[SIGNAL_CREATED], 0, group_id);
  gtk_window_destroy (GTK_WINDOW (self));
}

static void
create_clicked_cb (NatterNewGroupDialog *self)
{
  g_auto(GStrv) members = chosen_members (self);

  if (!gtk_widget_get_sensitive (self->create_button))
    return;
  self->cancellable = g_cancellable_new ();
  form_changed_cb (self);
  natter_account_service_create_group_async (self->service,
                                             gtk_editable_get_text (GTK_EDITABLE (self->name_row)),
                                             (const char * const *) members, self->cancellable,
                                             created_cb, g_object_ref (self));
}

static void
natter_new_group_dialog_dispose (GObject *object)
{
  NatterNewGroupDialog *self = NATTER_NEW_GROUP_DIALOG (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->service);
  g_clear_pointer (&self->checks, g_ptr_array_unref);

  G_OBJECT_CLASS (natter_new_group_dialog_parent_class)->dispose (object);
}

static void
natter_new_group_dialog_class_init (NatterNewGroupDialogClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = natter_new_group_dialog_dispose;

  signals[SIGNAL_CREATED] =
    g_signal_new ("created", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
natter_new_group_dialog_init (NatterNewGroupDialog *self)
{
  self->checks = g_ptr_array_new ();
}

NatterNewGroupDialog *
natter_new_group_dialog_new (GtkWindow            *parent,
                             NatterAccountService *service,
                             GPtrArray            *contacts)
{
  NatterNewGroupDialog *self;
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *header = adw_header_bar_new ();
  GtkWidget *cancel = gtk_button_new_with_mnemonic (_("_Cancel"));
  GtkWidget *content = gtk_box_new (GTK_ORIENTATION_VERTICAL, 18);
  GtkWidget *scrolled = gtk_scrolled_window_new ();
  GtkWidget *name_group = adw_preferences_group_new ();
  GtkWidget *members_group = adw_preferences_group_new ();

  g_return_val_if_fail (NATTER_IS_ACCOUNT_SERVICE (service), NULL);

  self = g_object_new (NATTER_TYPE_NEW_GROUP_DIALOG,
                       "title", _("New Group"), "modal", TRUE, "transient-for", parent,
                       "default-width", 420, "default-height", 560, NULL);
  self->service = g_object_ref (service);

  self->create_button = gtk_button_new_with_mnemonic (_("C_reate"));
  gtk_widget_add_css_class (self->create_button, "suggested-action");
  gtk_widget_set_sensitive (self->create_button, FALSE);
  g_signal_connect_object (self->create_button, "clicked", G_CALLBACK (create_clicked_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (cancel, "clicked", G_CALLBACK (gtk_window_destroy), self, G_CONNECT_SWAPPED);
  adw_header_bar_set_show_end_title_buttons (ADW_HEADER_BAR (header), FALSE);
  adw_header_bar_pack_start (ADW_HEADER_BAR (header), cancel);
  adw_header_bar_pack_end (ADW_HEADER_BAR (header), self->create_button);
  gtk_box_append (GTK_BOX (box), header);

  g_object_set (content, "margin-top", 18, "margin-bottom", 18, "margin-start", 12, "margin-end", 12, NULL);
  self->name_row = ADW_ENTRY_ROW (adw_entry_row_new ());
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->name_row), _("Group Name"));
  g_signal_connect_object (self->name_row, "changed", G_CALLBACK (form_changed_cb), self, G_CONNECT_SWAPPED);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (name_group), GTK_WIDGET (self->name_row));
  gtk_box_append (GTK_BOX (content), name_group);

  adw_preferences_group_set_title (ADW_PREFERENCES_GROUP (members_group), _("Members"));
  if (contacts == NULL || contacts->len == 0)
    adw_preferences_group_set_description (ADW_PREFERENCES_GROUP (members_group),
                                           _("Add contacts first: a group starts with some of them."));
  for (guint i = 0; contacts != NULL && i < contacts->len; i++)
    {
      NatterAccountUser *user = g_ptr_array_index (contacts, i);
      GtkWidget *row = adw_action_row_new ();
      GtkWidget *check = gtk_check_button_new ();
      const char *name = *user->name != '\0' ? user->name : user->user_id;

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), name);
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), user->user_id);
      adw_action_row_add_prefix (ADW_ACTION_ROW (row), check);
      adw_action_row_set_activatable_widget (ADW_ACTION_ROW (row), check);
      g_object_set_data_full (G_OBJECT (check), "user-id", g_strdup (user->user_id), g_free);
      g_signal_connect_object (check, "toggled", G_CALLBACK (form_changed_cb), self, G_CONNECT_SWAPPED);
      g_ptr_array_add (self->checks, check);
      adw_preferences_group_add (ADW_PREFERENCES_GROUP (members_group), row);
    }
  gtk_box_append (GTK_BOX (content), members_group);

  self->error_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_wrap (self->error_label, TRUE);
  gtk_widget_add_css_class (GTK_WIDGET (self->error_label), "error");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), FALSE);
  gtk_box_append (GTK_BOX (content), GTK_WIDGET (self->error_label));

  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scrolled), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_widget_set_vexpand (scrolled, TRUE);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), content);
  gtk_box_append (GTK_BOX (box), scrolled);
  adw_window_set_content (ADW_WINDOW (self), box);
  return self;
}
