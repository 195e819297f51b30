/* natter-profile-dialog.c — your name and picture as others see them
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "natter-format-accounts.h"
#include "natter-profile-dialog.h"

#define PORTRAIT_SIZE 512

struct _NatterProfileDialog
{
  AdwWindow parent_instance;

  NatterAccountService *service;
  NatterClient *client;
  GCancellable *cancellable;
  char *portrait_path;          /* the cropped picture, until uploaded */

  AdwAvatar *avatar;
  AdwEntryRow *name_row;
  GtkLabel *status_label;
  GtkWidget *save_button;
};

G_DEFINE_FINAL_TYPE (NatterProfileDialog, natter_profile_dialog, ADW_TYPE_WINDOW)

static void
show_status (NatterProfileDialog *self,
             const GError        *error)
{
  g_autofree char *message = error != NULL ? natter_format_account_error (error) : NULL;

  gtk_label_set_label (self->status_label, message != NULL ? message : "");
  gtk_widget_set_visible (GTK_WIDGET (self->status_label), message != NULL);
  gtk_widget_set_sensitive (self->save_button, TRUE);
}

static void
profile_set_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(NatterProfileDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterAccountUser) user = NULL;

  user = natter_account_service_user_finish (NATTER_ACCOUNT_SERVICE (object), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (user == NULL)
    {
      show_status (self, error);
      return;
    }
  gtk_window_destroy (GTK_WINDOW (self));
}

static void
portrait_uploaded_cb (GObject      *object,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(NatterProfileDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *url = natter_client_upload_finish (NATTER_CLIENT (object), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (url == NULL)
    {
      show_status (self, error);
      return;
    }
  natter_account_service_set_profile_async (self->service, gtk_editable_get_text (GTK_EDITABLE (self->name_row)),
                                            url, self->cancellable, profile_set_cb, g_object_ref (self));
}

static void
save_clicked_cb (NatterProfileDialog *self)
{
  gtk_widget_set_sensitive (self->save_button, FALSE);
  if (self->portrait_path != NULL && self->client != NULL)
    {
      g_autoptr(GFile) file = g_file_new_for_path (self->portrait_path);

      natter_client_upload_async (self->client, file, "image/png", NULL, NULL, self->cancellable,
                                  portrait_uploaded_cb, g_object_ref (self));
      return;
    }
  natter_account_service_set_profile_async (self->service, gtk_editable_get_text (GTK_EDITABLE (self->name_row)),
                                            NULL, self->cancellable, profile_set_cb, g_object_ref (self));
}

/* ---------------------------------------------------------- the picture */

static void
crop_thread (GTask        *task,
             gpointer      source_object,
             gpointer      task_data,
             GCancellable *cancellable)
{
  const char *path = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkPixbuf) image = gdk_pixbuf_new_from_file (path, &error);
  g_autoptr(GdkPixbuf) oriented = NULL;
  g_autoptr(GdkPixbuf) square = NULL;
  g_autofree char *out = NULL;
  int width, height, side;
  int fd;

  if (image == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  oriented = gdk_pixbuf_apply_embedded_orientation (image);
  width = gdk_pixbuf_get_width (oriented);
  height = gdk_pixbuf_get_height (oriented);
  side = MIN (width, height);
  {
    g_autoptr(GdkPixbuf) centre = gdk_pixbuf_new_subpixbuf (oriented, (width - side) / 2, (height - side) / 2,
                                                            side, side);

    square = gdk_pixbuf_scale_simple (centre, MIN (side, PORTRAIT_SIZE), MIN (side, PORTRAIT_SIZE),
                                      GDK_INTERP_BILINEAR);
  }
  fd = g_file_open_tmp ("natter-portrait-XXXXXX.png", &out, &error);
  if (fd < 0)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_close (fd, NULL);
  if (!gdk_pixbuf_save (square, out, "png", &error, NULL))
    {
      g_unlink (out);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_pointer (task, g_steal_pointer (&out), g_free);
}

static void
cropped_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  NatterProfileDialog *self = NATTER_PROFILE_DIALOG (object);
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_task_propagate_pointer (G_TASK (result), &error);
  g_autoptr(GdkTexture) texture = NULL;

  if (path == NULL)
    {
      show_status (self, error);
      return;
    }
  texture = gdk_texture_new_from_filename (path, NULL);
  adw_avatar_set_custom_image (self->avatar, GDK_PAINTABLE (texture));
  if (self->portrait_path != NULL)
    g_unlink (self->portrait_path);
  g_free (self->portrait_path);
  self->portrait_path = g_steal_pointer (&path);
}

static void
chooser_response_cb (GtkNativeDialog     *chooser,
                     int                  response,
                     NatterProfileDialog *self)
{
  g_autoptr(GFile) file = NULL;
  g_autoptr(GTask) task = NULL;

  if (response == GTK_RESPONSE_ACCEPT)
    file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
  g_object_unref (chooser);
  if (file == NULL || g_file_get_path (file) == NULL)
    return;
  task = g_task_new (self, self->cancellable, cropped_cb, NULL);
  g_task_set_task_data (task, g_file_get_path (file), g_free);
  g_task_run_in_thread (task, crop_thread);
}

static void
choose_clicked_cb (NatterProfileDialog *self)
{
  GtkFileChooserNative *chooser;
  g_autoptr(GtkFileFilter) filter = gtk_file_filter_new ();

  chooser = gtk_file_chooser_native_new (_("Choose a Picture"), GTK_WINDOW (self),
                                         GTK_FILE_CHOOSER_ACTION_OPEN, _("_Choose"), _("_Cancel"));
  gtk_file_filter_add_pixbuf_formats (filter);
  gtk_file_filter_set_name (filter, _("Images"));
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), filter);
  g_signal_connect_object (chooser, "response", G_CALLBACK (chooser_response_cb), self, 0);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

/* --------------------------------------------------------------- GObject */

static void
natter_profile_dialog_dispose (GObject *object)
{
  NatterProfileDialog *self = NATTER_PROFILE_DIALOG (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->service);
  g_clear_object (&self->client);
  if (self->portrait_path != NULL)
    g_unlink (self->portrait_path);
  g_clear_pointer (&self->portrait_path, g_free);

  G_OBJECT_CLASS (natter_profile_dialog_parent_class)->dispose (object);
}

static void
natter_profile_dialog_class_init (NatterProfileDialogClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = natter_profile_dialog_dispose;
}

static void
natter_profile_dialog_init (NatterProfileDialog *self)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *header = adw_header_bar_new ();
  GtkWidget *content = gtk_box_new (GTK_ORIENTATION_VERTICAL, 18);
  GtkWidget *group = adw_preferences_group_new ();
  GtkWidget *choose = gtk_button_new_with_mnemonic (_("Choose _Picture…"));

  self->cancellable = g_cancellable_new ();
  self->save_button = gtk_button_new_with_mnemonic (_("_Save"));
  gtk_widget_add_css_class (self->save_button, "suggested-action");
  g_signal_connect_object (self->save_button, "clicked", G_CALLBACK (save_clicked_cb), self, G_CONNECT_SWAPPED);
  adw_header_bar_pack_end (ADW_HEADER_BAR (header), self->save_button);
  gtk_box_append (GTK_BOX (box), header);

  g_object_set (content, "margin-top", 24, "margin-bottom", 24, "margin-start", 12, "margin-end", 12, NULL);
  self->avatar = ADW_AVATAR (adw_avatar_new (128, NULL, TRUE));
  gtk_box_append (GTK_BOX (content), GTK_WIDGET (self->avatar));
  gtk_widget_set_halign (choose, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (choose, "pill");
  g_signal_connect_object (choose, "clicked", G_CALLBACK (choose_clicked_cb), self, G_CONNECT_SWAPPED);
  gtk_box_append (GTK_BOX (content), choose);

  self->name_row = ADW_ENTRY_ROW (adw_entry_row_new ());
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->name_row), _("Name"));
  g_object_bind_property (self->name_row, "text", self->avatar, "text", G_BINDING_SYNC_CREATE);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (group), GTK_WIDGET (self->name_row));
  gtk_box_append (GTK_BOX (content), group);

  self->status_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_wrap (self->status_label, TRUE);
  gtk_widget_add_css_class (GTK_WIDGET (self->status_label), "error");
  gtk_widget_set_visible (GTK_WIDGET (self->status_label), FALSE);
  gtk_box_append (GTK_BOX (content), GTK_WIDGET (self->status_label));

  gtk_box_append (GTK_BOX (box), content);
  adw_window_set_content (ADW_WINDOW (self), box);
}

NatterProfileDialog *
natter_profile_dialog_new (GtkWindow            *parent,
                           NatterAccountService *service,
                           NatterClient         *client,
                           const char           *name)
{
  NatterProfileDialog *self;

  g_return_val_if_fail (NATTER_IS_ACCOUNT_SERVICE (service), NULL);

  self = g_object_new (NATTER_TYPE_PROFILE_DIALOG, "title", _("Your Profile"), "modal", TRUE,
                       "transient-for", parent, "default-width", 400, NULL);
  self->service = g_object_ref (service);
  self->client = client != NULL ? g_object_ref (client) : NULL;
  gtk_editable_set_text (GTK_EDITABLE (self->name_row), name != NULL ? name : "");
  return self;
}
