/* natter-thumbnail.c — JPEG thumbnails for RC:ImgMsg
 *
 * The file may well have come from a stranger (saved from a chat): it is
 * decoded as natter-image.h decodes what the network gives.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-client.h"
#include "natter-content.h"
#include "natter-image.h"

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <string.h>

/* The reference: a base64 JPEG without prefix, under 100 KB. */
#define THUMBNAIL_MAX_BASE64 (100 * 1000)
#define THUMBNAIL_MAX_SIDE   240

static char *
encode_jpeg (GdkPixbuf  *pixbuf,
             int         quality,
             GError    **error)
{
  g_autofree char *buffer = NULL;
  g_autofree char *quality_text = g_strdup_printf ("%d", quality);
  gsize size = 0;

  if (!gdk_pixbuf_save_to_buffer (pixbuf, &buffer, &size, "jpeg", error,
                                  "quality", quality_text, NULL))
    return NULL;

  return g_base64_encode ((const guchar *) buffer, size);
}

static void
thumbnail_thread (GTask        *task,
                  gpointer      source_object,
                  gpointer      task_data,
                  GCancellable *cancellable)
{
  GFile *file = task_data;
  g_autoptr(GFileInputStream) stream = NULL;
  g_autoptr(GdkPixbuf) loaded = NULL;
  g_autoptr(GdkPixbuf) flat = NULL;
  g_autoptr(GError) error = NULL;
  int side = THUMBNAIL_MAX_SIDE;
  int width, height;

  stream = g_file_read (file, cancellable, &error);
  if (stream == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  /* Nothing bigger than the thumbnail is needed: the loader scales (JPEG
   * already while decoding). */
  loaded = natter_image_decode_stream (G_INPUT_STREAM (stream),
                                       natter_media_kind_max_size (NATTER_MEDIA_KIND_IMAGE),
                                       NATTER_IMAGE_MAX_PIXELS, THUMBNAIL_MAX_SIDE, cancellable,
                                       &error);
  if (loaded == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  /* natter_image_decode_stream() applied the EXIF orientation */
  width = gdk_pixbuf_get_width (loaded);
  height = gdk_pixbuf_get_height (loaded);

  /* JPEG has no alpha: flatten onto white so transparent PNGs stay legible. */
  if (gdk_pixbuf_get_has_alpha (loaded))
    {
      flat = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, width, height);
      gdk_pixbuf_fill (flat, 0xffffffff);
      gdk_pixbuf_composite (loaded, flat, 0, 0, width, height, 0, 0, 1, 1,
                            GDK_INTERP_NEAREST, 255);
    }
  else
    {
      flat = g_object_ref (loaded);
    }

  for (int quality = 85; side >= 16; side /= 2, quality = MAX (quality - 20, 30))
    {
      g_autoptr(GdkPixbuf) scaled = NULL;
      g_autofree char *base64 = NULL;
      double scale = MIN (1.0, (double) side / MAX (width, height));
      int w = MAX (1, (int) (width * scale + 0.5));
      int h = MAX (1, (int) (height * scale + 0.5));

      scaled = gdk_pixbuf_scale_simple (flat, w, h, GDK_INTERP_BILINEAR);
      if (scaled == NULL)
        break;

      base64 = encode_jpeg (scaled, quality, &error);
      if (base64 == NULL)
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }

      if (strlen (base64) <= THUMBNAIL_MAX_BASE64)
        {
          g_task_return_pointer (task, g_steal_pointer (&base64), g_free);
          return;
        }
    }

  g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_FAILED,
                           "Could not make a thumbnail under 100 KB");
}

void
natter_image_thumbnail_new_async (GFile               *file,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (G_IS_FILE (file));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_image_thumbnail_new_async);
  g_task_set_task_data (task, g_object_ref (file), g_object_unref);
  g_task_run_in_thread (task, thumbnail_thread);
}

char *
natter_image_thumbnail_new_finish (GAsyncResult  *result,
                                   GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
