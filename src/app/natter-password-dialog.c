/* natter-password-dialog.c — change the account's password
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gi18n.h>

#include "natter-format-accounts.h"
#include "natter-password-dialog.h"

/* natterd's minimum, in UTF-8 characters */
#define MIN_PASSWORD_CHARS 8

struct _NatterPasswordDialog
{
  AdwWindow parent_instance;

  NatterSession *session;
  GtkWindow *parent;          /* weak: where the toast goes */
  AdwEntryRow *old_row;
  AdwEntryRow *new_row;
  AdwEntryRow *confirm_row;
  GtkLabel *error_label;
  GtkWidget *change_button;
};

G_DEFINE_FINAL_TYPE (NatterPasswordDialog, natter_password_dialog, ADW_TYPE_WINDOW)

static void
show_error (NatterPasswordDialog *self,
            const char           *text)
{
  gtk_label_set_label (self->error_label, text != NULL ? text : "");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), text != NULL);
}

static void
set_busy (NatterPasswordDialog *self,
          gboolean              busy)
{
  gtk_widget_set_sensitive (self->change_button, !busy);
  gtk_widget_set_sensitive (GTK_WIDGET (self->old_row), !busy);
  gtk_widget_set_sensitive (GTK_WIDGET (self->new_row), !busy);
  gtk_widget_set_sensitive (GTK_WIDGET (self->confirm_row), !busy);
}

static void
changed_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(NatterPasswordDialog) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!natter_session_change_password_finish (NATTER_SESSION (object), result, &error))
    {
      g_autofree char *text = NULL;

      /* the user id is not in question here */
      if (g_error_matches (error, NATTER_ACCOUNT_ERROR, NATTER_ACCOUNT_ERROR_WRONG_PASSWORD))
        /* Translators: an explanation and the server's reference code */
        text = g_strdup_printf (_("%s (%d)"), _("The current password is wrong."), error->code);
      else
        text = natter_format_account_error (error);
      set_busy (self, FALSE);
      show_error (self, text);
      return;
    }
  if (self->parent != NULL && ADW_IS_PREFERENCES_WINDOW (self->parent))
    adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self->parent),
                                      adw_toast_new (_("Password changed. Your other devices were signed out.")));
  gtk_window_destroy (GTK_WINDOW (self));
}

static void
change_clicked_cb (NatterPasswordDialog *self)
{
  const char *old_password = gtk_editable_get_text (GTK_EDITABLE (self->old_row));
  const char *new_password = gtk_editable_get_text (GTK_EDITABLE (self->new_row));
  const char *confirm = gtk_editable_get_text (GTK_EDITABLE (self->confirm_row));

  if (*old_password == '\0')
    {
      show_error (self, _("Enter your current password."));
      return;
    }
  if (g_utf8_strlen (new_password, -1) < MIN_PASSWORD_CHARS)
    {
      show_error (self, _("The password must have at least 8 characters."));
      return;
    }
  if (!g_str_equal (new_password, confirm))
    {
      show_error (self, _("The passwords do not match."));
      return;
    }
  show_error (self, NULL);
  set_busy (self, TRUE);
  natter_session_change_password_async (self->session, old_password, new_password, NULL,
                                        changed_cb, g_object_ref (self));
}

static AdwEntryRow *
password_row (AdwPreferencesGroup *group,
              const char          *title)
{
  GtkWidget *row = adw_password_entry_row_new ();

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_preferences_group_add (group, row);
  return ADW_ENTRY_ROW (row);
}

static void
natter_password_dialog_dispose (GObject *object)
{
  NatterPasswordDialog *self = (NatterPasswordDialog *) object;

  g_clear_weak_pointer (&self->parent);
  g_clear_object (&self->session);

  G_OBJECT_CLASS (natter_password_dialog_parent_class)->dispose (object);
}

static void
natter_password_dialog_class_init (NatterPasswordDialogClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = natter_password_dialog_dispose;
}

static void
natter_password_dialog_init (NatterPasswordDialog *self)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *header = adw_header_bar_new ();
  GtkWidget *cancel = gtk_button_new_with_mnemonic (_("_Cancel"));
  GtkWidget *content = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  AdwPreferencesGroup *group = ADW_PREFERENCES_GROUP (adw_preferences_group_new ());

  gtk_window_set_title (GTK_WINDOW (self), _("Change Password"));
  gtk_window_set_modal (GTK_WINDOW (self), TRUE);
  gtk_window_set_default_size (GTK_WINDOW (self), 420, -1);

  self->change_button = gtk_button_new_with_mnemonic (_("C_hange"));
  gtk_widget_add_css_class (self->change_button, "suggested-action");
  g_signal_connect_swapped (self->change_button, "clicked", G_CALLBACK (change_clicked_cb), self);
  g_signal_connect_swapped (cancel, "clicked", G_CALLBACK (gtk_window_close), self);
  adw_header_bar_set_show_end_title_buttons (ADW_HEADER_BAR (header), FALSE);
  adw_header_bar_set_show_start_title_buttons (ADW_HEADER_BAR (header), FALSE);
  adw_header_bar_pack_start (ADW_HEADER_BAR (header), cancel);
  adw_header_bar_pack_end (ADW_HEADER_BAR (header), self->change_button);
  gtk_box_append (GTK_BOX (box), header);

  gtk_widget_set_margin_top (content, 18);
  gtk_widget_set_margin_bottom (content, 18);
  gtk_widget_set_margin_start (content, 18);
  gtk_widget_set_margin_end (content, 18);
  adw_preferences_group_set_description (group, _("Your other devices will be signed out."));
  self->old_row = password_row (group, _("Current Password"));
  self->new_row = password_row (group, _("New Password"));
  self->confirm_row = password_row (group, _("Confirm New Password"));
  g_signal_connect_swapped (self->confirm_row, "entry-activated", G_CALLBACK (change_clicked_cb), self);
  gtk_box_append (GTK_BOX (content), GTK_WIDGET (group));

  self->error_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_wrap (self->error_label, TRUE);
  gtk_label_set_xalign (self->error_label, 0);
  gtk_widget_add_css_class (GTK_WIDGET (self->error_label), "error");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), FALSE);
  gtk_box_append (GTK_BOX (content), GTK_WIDGET (self->error_label));
  gtk_box_append (GTK_BOX (box), content);

  adw_window_set_content (ADW_WINDOW (self), box);
}

NatterPasswordDialog *
natter_password_dialog_new (GtkWindow     *parent,
                            NatterSession *session)
{
  NatterPasswordDialog *self;

  g_return_val_if_fail (NATTER_IS_SESSION (session), NULL);

  self = g_object_new (NATTER_TYPE_PASSWORD_DIALOG, "transient-for", parent, NULL);
  self->session = g_object_ref (session);
  g_set_weak_pointer (&self->parent, parent);
  return self;
}
