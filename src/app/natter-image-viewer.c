/* natter-image-viewer.c — the full image of an image message
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gi18n.h>

#include "natter-format.h"
#include "natter-image-viewer.h"

struct _NatterImageViewer
{
  AdwWindow parent_instance;

  GCancellable *cancellable;

  AdwWindowTitle *window_title;
  GtkSpinner *spinner;
  GtkPicture *picture;
  GtkLabel *error_label;
};

G_DEFINE_FINAL_TYPE (NatterImageViewer, natter_image_viewer, ADW_TYPE_WINDOW)

static void
show_error (NatterImageViewer *self,
            const GError      *error)
{
  g_autofree char *text = natter_format_error (error);

  gtk_spinner_stop (self->spinner);
  gtk_label_set_label (self->error_label, text);
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), TRUE);
}

static void
decode_thread (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  GError *error = NULL;
  GdkTexture *texture = gdk_texture_new_from_file (G_FILE (task_data), &error);

  if (texture == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, texture, g_object_unref);
}

static void
decoded_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  NatterImageViewer *self = NATTER_IMAGE_VIEWER (object);
  g_autoptr(GdkTexture) texture = NULL;
  g_autoptr(GError) error = NULL;

  texture = g_task_propagate_pointer (G_TASK (result), &error);
  if (texture == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        show_error (self, error);
      return;
    }
  gtk_spinner_stop (self->spinner);
  gtk_picture_set_paintable (self->picture, GDK_PAINTABLE (texture));
  {
    g_autofree char *size = g_strdup_printf ("%d × %d", gdk_texture_get_width (texture),
                                             gdk_texture_get_height (texture));
    adw_window_title_set_subtitle (self->window_title, size);
  }
}

static void
downloaded_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(NatterImageViewer) self = user_data;
  g_autoptr(GFile) file = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GTask) task = NULL;

  file = natter_client_download_finish (NATTER_CLIENT (object), result, &error);
  if (file == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        show_error (self, error);
      return;
    }
  /* closed while the finished download waited for the main loop */
  if (self->cancellable == NULL)
    return;
  task = g_task_new (self, self->cancellable, decoded_cb, NULL);
  g_task_set_task_data (task, g_steal_pointer (&file), g_object_unref);
  g_task_run_in_thread (task, decode_thread);
}

static void
natter_image_viewer_dispose (GObject *object)
{
  NatterImageViewer *self = (NatterImageViewer *) object;

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  gtk_widget_dispose_template (GTK_WIDGET (self), NATTER_TYPE_IMAGE_VIEWER);

  G_OBJECT_CLASS (natter_image_viewer_parent_class)->dispose (object);
}

static void
natter_image_viewer_class_init (NatterImageViewerClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = natter_image_viewer_dispose;
  gtk_widget_class_set_template_from_resource (widget_class, "/im/natter/Natter/natter-image-viewer.ui");
  gtk_widget_class_bind_template_child (widget_class, NatterImageViewer, window_title);
  gtk_widget_class_bind_template_child (widget_class, NatterImageViewer, spinner);
  gtk_widget_class_bind_template_child (widget_class, NatterImageViewer, picture);
  gtk_widget_class_bind_template_child (widget_class, NatterImageViewer, error_label);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
natter_image_viewer_init (NatterImageViewer *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
}

GtkWidget *
natter_image_viewer_new (GtkWindow     *parent,
                         NatterClient  *client,
                         NatterMessage *message)
{
  NatterImageViewer *self = g_object_new (NATTER_TYPE_IMAGE_VIEWER,
                                          "transient-for", parent,
                                          NULL);
  g_autoptr(GBytes) thumbnail = natter_message_dup_image_thumbnail (message);
  const char *uri = natter_message_get_image_uri (message);

  if (thumbnail != NULL)
    {
      g_autoptr(GdkTexture) texture = gdk_texture_new_from_bytes (thumbnail, NULL);
      if (texture != NULL)
        gtk_picture_set_paintable (self->picture, GDK_PAINTABLE (texture));
    }
  if (uri != NULL && client != NULL)
    {
      gtk_spinner_start (self->spinner);
      natter_client_download_async (client, uri, NULL, NULL, self->cancellable,
                                    downloaded_cb, g_object_ref (self));
    }
  return GTK_WIDGET (self);
}
