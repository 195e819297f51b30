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
  GCancellable *download_cancellable;
  NatterClient *client;
  char *uri;                    /* the full image's, downloaded again on Retry */

  AdwWindowTitle *window_title;
  GtkSpinner *spinner;
  GtkPicture *picture;
  GtkWidget *error_box;
  GtkLabel *error_label;
  GtkWidget *retry_button;
  GtkWidget *transfer_box;      /* the full image's download: a bar and a cancel button */
  GtkProgressBar *transfer_bar;
};

G_DEFINE_FINAL_TYPE (NatterImageViewer, natter_image_viewer, ADW_TYPE_WINDOW)

/* @retry: the download failed or was stopped, it can start again. */
static void
show_message (NatterImageViewer *self,
              const char        *text,
              gboolean           retry)
{
  gtk_spinner_stop (self->spinner);
  gtk_label_set_label (self->error_label, text);
  gtk_widget_set_visible (self->retry_button, retry);
  gtk_widget_set_visible (self->error_box, TRUE);
}

static void
show_error (NatterImageViewer *self,
            const GError      *error,
            gboolean           retry)
{
  g_autofree char *text = natter_format_error (error);

  show_message (self, text, retry);
}

/* The image, and its thumbnail before it, come from the sender: decoded
 * off the main thread by natter-image.h's rules. */
static void
decoded_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(NatterImageViewer) self = user_data;
  g_autoptr(GdkPixbuf) pixbuf = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autoptr(GError) error = NULL;

  pixbuf = natter_image_decode_finish (result, &error);
  if (pixbuf == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        show_error (self, error, FALSE);
      return;
    }
  texture = gdk_texture_new_for_pixbuf (pixbuf);
  gtk_spinner_stop (self->spinner);
  gtk_picture_set_paintable (self->picture, GDK_PAINTABLE (texture));
  {
    g_autofree char *size = g_strdup_printf ("%d × %d", gdk_texture_get_width (texture),
                                             gdk_texture_get_height (texture));
    adw_window_title_set_subtitle (self->window_title, size);
  }
}

static void
thumbnail_decoded_cb (GObject      *object,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(NatterImageViewer) self = user_data;
  g_autoptr(GdkPixbuf) pixbuf = natter_image_decode_finish (result, NULL);

  /* only until the full image is there */
  if (pixbuf != NULL && gtk_picture_get_paintable (self->picture) == NULL)
    {
      g_autoptr(GdkTexture) texture = gdk_texture_new_for_pixbuf (pixbuf);

      gtk_picture_set_paintable (self->picture, GDK_PAINTABLE (texture));
    }
}

static void
download_progress_cb (goffset  current,
                      goffset  total,
                      gpointer user_data)
{
  NatterImageViewer *self = user_data;

  /* late news of a download stopped meanwhile */
  if (self->download_cancellable == NULL || g_cancellable_is_cancelled (self->download_cancellable))
    return;
  gtk_widget_set_visible (self->transfer_box, TRUE);
  gtk_progress_bar_set_fraction (self->transfer_bar, total > 0 ? CLAMP ((double) current / total, 0, 1) : 0);
}

/* Stops the full image's download; the thumbnail stays. */
static void
transfer_cancel_clicked_cb (NatterImageViewer *self)
{
  g_cancellable_cancel (self->download_cancellable);
  g_clear_object (&self->download_cancellable);
  gtk_widget_set_visible (self->transfer_box, FALSE);
  show_message (self, _("Download cancelled"), TRUE);
}

static void
downloaded_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(NatterImageViewer) self = user_data;
  g_autoptr(GFile) file = NULL;
  g_autoptr(GError) error = NULL;

  file = natter_client_download_finish (NATTER_CLIENT (object), result, &error);
  /* stopped: the cancel tidied up already, and a retry may be running */
  if (file == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  gtk_widget_set_visible (self->transfer_box, FALSE);
  g_clear_object (&self->download_cancellable);
  if (file == NULL)
    {
      show_error (self, error, TRUE);
      return;
    }
  /* closed while the finished download waited for the main loop */
  if (self->cancellable == NULL)
    return;
  natter_image_decode_file_async (file, natter_media_kind_max_size (NATTER_MEDIA_KIND_IMAGE), 0,
                                  self->cancellable, decoded_cb, g_object_ref (self));
}

static void
start_download (NatterImageViewer *self)
{
  gtk_widget_set_visible (self->error_box, FALSE);
  gtk_spinner_start (self->spinner);
  self->download_cancellable = g_cancellable_new ();
  natter_client_download_media_async (self->client, self->uri, NATTER_MEDIA_KIND_IMAGE, download_progress_cb, self,
                                      self->download_cancellable, downloaded_cb, g_object_ref (self));
}

/* A cancelled or failed download, again (until now only reopening the
 * viewer started it again). */
static void
retry_clicked_cb (NatterImageViewer *self)
{
  if (self->download_cancellable != NULL || self->client == NULL)
    return;
  start_download (self);
}

static void
natter_image_viewer_dispose (GObject *object)
{
  NatterImageViewer *self = (NatterImageViewer *) object;

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_cancellable_cancel (self->download_cancellable);
  g_clear_object (&self->download_cancellable);
  g_clear_object (&self->client);
  g_clear_pointer (&self->uri, g_free);
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
  gtk_widget_class_bind_template_child (widget_class, NatterImageViewer, error_box);
  gtk_widget_class_bind_template_child (widget_class, NatterImageViewer, error_label);
  gtk_widget_class_bind_template_child (widget_class, NatterImageViewer, retry_button);
  gtk_widget_class_bind_template_child (widget_class, NatterImageViewer, transfer_box);
  gtk_widget_class_bind_template_child (widget_class, NatterImageViewer, transfer_bar);
  gtk_widget_class_bind_template_callback (widget_class, transfer_cancel_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, retry_clicked_cb);
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
    natter_image_decode_bytes_async (thumbnail, 0, self->cancellable, thumbnail_decoded_cb,
                                     g_object_ref (self));
  if (uri != NULL && client != NULL)
    {
      self->client = g_object_ref (client);
      self->uri = g_strdup (uri);
      start_download (self);
    }
  return GTK_WIDGET (self);
}
