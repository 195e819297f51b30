/* natter-image.c — decoding images that come from the network
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-image.h"

#include <string.h>

#define READ_CHUNK   (64 * 1024)
#define SNIFF_LENGTH 12

const char *
natter_image_sniff (const guint8 *data,
                    gsize         length)
{
  static const guint8 png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

  if (data == NULL)
    return NULL;
  if (length >= sizeof png && memcmp (data, png, sizeof png) == 0)
    return "png";
  if (length >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
    return "jpeg";
  if (length >= 6 && (memcmp (data, "GIF87a", 6) == 0 || memcmp (data, "GIF89a", 6) == 0))
    return "gif";
  if (length >= 12 && memcmp (data, "RIFF", 4) == 0 && memcmp (data + 8, "WEBP", 4) == 0)
    return "webp";
  return NULL;
}

static gboolean
size_ok (guint32  w,
         guint32  h,
         int     *width,
         int     *height)
{
  if (w == 0 || h == 0 || w > 65535 || h > 65535)
    return FALSE;
  *width = (int) w;
  *height = (int) h;
  return TRUE;
}

gboolean
natter_image_peek_size (const guint8 *data,
                        gsize         length,
                        int          *width,
                        int          *height)
{
  const char *type = natter_image_sniff (data, length);
  gsize pos;

  g_return_val_if_fail (width != NULL && height != NULL, FALSE);

  if (g_strcmp0 (type, "png") == 0)
    {
      /* signature, IHDR's length and type, then its width and height */
      if (length < 24 || memcmp (data + 12, "IHDR", 4) != 0)
        return FALSE;
      guint32 w, h;

      memcpy (&w, data + 16, 4);
      memcpy (&h, data + 20, 4);
      return size_ok (GUINT32_FROM_BE (w), GUINT32_FROM_BE (h), width, height);
    }
  if (g_strcmp0 (type, "jpeg") != 0)
    return FALSE;

  /* the segments after SOI, each a marker and a big-endian length, up to
   * a start of frame (SOF0–SOF15 but DHT, JPG, DAC) */
  pos = 2;
  while (pos + 4 <= length)
    {
      guint8 marker;
      gsize segment;

      if (data[pos] != 0xff)
        return FALSE;
      marker = data[pos + 1];
      if (marker == 0xff)
        {
          pos++;   /* fill bytes */
          continue;
        }
      if (marker == 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker == 0x01)
        {
          pos += 2;   /* no length */
          continue;
        }
      if (marker == 0xd9 || marker == 0xda)
        return FALSE;   /* end of image, or the scan before any frame header */
      segment = ((gsize) data[pos + 2] << 8) | data[pos + 3];
      if (segment < 2)
        return FALSE;
      if (marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc)
        {
          /* length, precision, height, width */
          if (segment < 7 || pos + 9 > length)
            return FALSE;
          return size_ok (((guint32) data[pos + 7] << 8) | data[pos + 8],
                          ((guint32) data[pos + 5] << 8) | data[pos + 6], width, height);
        }
      pos += 2 + segment;
    }
  return FALSE;
}

static gboolean
too_many_pixels (guint64  width,
                 guint64  height,
                 guint64  max_pixels,
                 GError **error)
{
  if (width == 0 || height == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "The image has no pixels");
      return TRUE;
    }
  if (width * height > max_pixels)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                   "The image is %" G_GUINT64_FORMAT " × %" G_GUINT64_FORMAT
                   " pixels, more than %" G_GUINT64_FORMAT " megapixels",
                   width, height, max_pixels / 1000000);
      return TRUE;
    }
  return FALSE;
}

/* ------------------------------------------------------------------- GIF */

static gboolean
gif_skip_sub_blocks (const guint8 *data,
                     gsize         length,
                     gsize        *pos)
{
  while (*pos < length && data[*pos] != 0)
    *pos += (gsize) data[*pos] + 1;
  if (*pos >= length)
    return FALSE;
  (*pos)++;
  return TRUE;
}

/* The GIF up to the end of its first image, and a trailer: gdk-pixbuf
 * checks the frames' sizes only against G_MAXINT bytes, not against the
 * screen it checks in size-prepared, and a static picture needs one frame. */
static GBytes *
gif_first_frame (const guint8  *data,
                 gsize          length,
                 guint64        max_pixels,
                 GError       **error)
{
  gsize pos = 13;

  if (length < 13)
    goto truncated;
  if (too_many_pixels (data[6] | data[7] << 8, data[8] | data[9] << 8, max_pixels, error))
    return NULL;
  if (data[10] & 0x80)
    pos += (gsize) 3 << ((data[10] & 7) + 1);

  while (pos < length)
    {
      switch (data[pos])
        {
        case 0x21:   /* extension: label, sub-blocks */
          pos += 2;
          if (!gif_skip_sub_blocks (data, length, &pos))
            goto truncated;
          break;

        case 0x2c:   /* image: descriptor, colour table, code size, sub-blocks */
          {
            GByteArray *frame;
            guint flags;

            if (pos + 10 > length)
              goto truncated;
            if (too_many_pixels (data[pos + 5] | data[pos + 6] << 8, data[pos + 7] | data[pos + 8] << 8,
                                 max_pixels, error))
              return NULL;
            flags = data[pos + 9];
            pos += 10;
            if (flags & 0x80)
              pos += (gsize) 3 << ((flags & 7) + 1);
            pos++;
            if (pos > length || !gif_skip_sub_blocks (data, length, &pos))
              goto truncated;

            frame = g_byte_array_sized_new (pos + 1);
            g_byte_array_append (frame, data, pos);
            g_byte_array_append (frame, (const guint8 *) "\x3b", 1);
            return g_byte_array_free_to_bytes (frame);
          }

        default:     /* the trailer (0x3b) before any image, or garbage */
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "The GIF has no image");
          return NULL;
        }
    }

truncated:
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "The GIF is cut short");
  return NULL;
}

/* ---------------------------------------------------------------- decode */

typedef struct {
  guint64 max_pixels;
  int max_side;
  gboolean prepared;
  GError *error;            /* the header said too much */
} Decode;

static void
size_prepared_cb (GdkPixbufLoader *loader,
                  int              width,
                  int              height,
                  Decode          *decode)
{
  decode->prepared = TRUE;
  if (decode->error == NULL &&
      too_many_pixels (MAX (width, 0), MAX (height, 0), decode->max_pixels, &decode->error))
    {
      /* Every loader gives up on a zero size before it allocates pixels. */
      gdk_pixbuf_loader_set_size (loader, 0, 0);
      return;
    }

  if (decode->max_side > 0 && MAX (width, height) > decode->max_side)
    {
      double scale = (double) decode->max_side / MAX (width, height);

      gdk_pixbuf_loader_set_size (loader, MAX (1, (int) (width * scale + 0.5)),
                                  MAX (1, (int) (height * scale + 0.5)));
    }
}

static gboolean
read_limited (GInputStream  *stream,
              guint8        *buffer,
              gsize          size,
              gsize         *read,
              goffset       *total,
              goffset        max_bytes,
              GCancellable  *cancellable,
              GError       **error)
{
  if (!g_input_stream_read_all (stream, buffer, size, read, cancellable, error))
    return FALSE;
  *total += *read;
  if (*total > max_bytes)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                   "The image is larger than %" G_GOFFSET_FORMAT " bytes", max_bytes);
      return FALSE;
    }
  return TRUE;
}

GdkPixbuf *
natter_image_decode_stream (GInputStream  *stream,
                            goffset        max_bytes,
                            guint64        max_pixels,
                            int            max_side,
                            GCancellable  *cancellable,
                            GError       **error)
{
  g_autoptr(GdkPixbufLoader) loader = NULL;
  g_autoptr(GByteArray) whole = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree guint8 *buffer = g_malloc (READ_CHUNK);
  Decode decode = { max_pixels, max_side, FALSE, NULL };
  const char *format;
  GdkPixbuf *pixbuf;
  goffset total = 0;
  gsize n = 0;

  g_return_val_if_fail (G_IS_INPUT_STREAM (stream), NULL);

  /* The first bytes choose the loader; nothing else may. */
  if (!read_limited (stream, buffer, SNIFF_LENGTH, &n, &total, max_bytes, cancellable, error))
    return NULL;
  format = natter_image_sniff (buffer, n);
  if (format == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           "Not a PNG, JPEG, WebP or GIF image");
      return NULL;
    }

  loader = gdk_pixbuf_loader_new_with_type (format, &local_error);
  if (loader == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "%s images cannot be shown on this system: %s", format, local_error->message);
      return NULL;
    }
  g_signal_connect (loader, "size-prepared", G_CALLBACK (size_prepared_cb), &decode);

  /* A GIF is read whole (it is checked frame by frame first); the others
   * go to the loader as they come. */
  if (g_str_equal (format, "gif"))
    whole = g_byte_array_new ();

  while (n > 0)
    {
      if (whole != NULL)
        g_byte_array_append (whole, buffer, n);
      else if (!gdk_pixbuf_loader_write (loader, buffer, n, &local_error) || decode.error != NULL)
        goto failed;

      if (!read_limited (stream, buffer, READ_CHUNK, &n, &total, max_bytes, cancellable, &local_error))
        goto failed;
    }

  if (whole != NULL)
    {
      g_autoptr(GBytes) frame = gif_first_frame (whole->data, whole->len, max_pixels, &local_error);

      if (frame == NULL ||
          !gdk_pixbuf_loader_write_bytes (loader, frame, &local_error) || decode.error != NULL)
        goto failed;
    }

  if (!gdk_pixbuf_loader_close (loader, &local_error) || decode.error != NULL)
    goto done;

  pixbuf = gdk_pixbuf_loader_get_pixbuf (loader);
  if (pixbuf == NULL || !decode.prepared)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "The image could not be read");
      g_clear_error (&decode.error);
      return NULL;
    }
  /* A loader that skipped size-prepared is held to the same limit. */
  if (too_many_pixels (gdk_pixbuf_get_width (pixbuf), gdk_pixbuf_get_height (pixbuf),
                       max_pixels, error))
    return NULL;

  return gdk_pixbuf_apply_embedded_orientation (pixbuf);

failed:
  gdk_pixbuf_loader_close (loader, NULL);
done:
  /* The header's verdict rather than the loader's "zero size" complaint. */
  if (decode.error != NULL)
    {
      g_propagate_error (error, decode.error);
      return NULL;
    }
  if (local_error == NULL)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "The image could not be read");
  else if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE) ||
      g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
      local_error->domain != GDK_PIXBUF_ERROR)
    g_propagate_error (error, g_steal_pointer (&local_error));
  else
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "The image is damaged: %s",
                 local_error->message);
  return NULL;
}

/* ----------------------------------------------------------------- async */

typedef struct {
  GFile *file;
  GBytes *bytes;
  goffset max_bytes;
  int max_side;
} DecodeTask;

static void
decode_task_free (DecodeTask *data)
{
  g_clear_object (&data->file);
  g_clear_pointer (&data->bytes, g_bytes_unref);
  g_free (data);
}

static void
decode_thread (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  DecodeTask *data = task_data;
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(GError) error = NULL;
  GdkPixbuf *pixbuf;

  if (data->file != NULL)
    stream = G_INPUT_STREAM (g_file_read (data->file, cancellable, &error));
  else
    stream = g_memory_input_stream_new_from_bytes (data->bytes);
  if (stream == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  pixbuf = natter_image_decode_stream (stream, data->max_bytes, NATTER_IMAGE_MAX_PIXELS,
                                       data->max_side, cancellable, &error);
  if (pixbuf == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, pixbuf, g_object_unref);
}

static void
decode_async (DecodeTask          *data,
              GCancellable        *cancellable,
              GAsyncReadyCallback  callback,
              gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, natter_image_decode_finish);
  g_task_set_task_data (task, data, (GDestroyNotify) decode_task_free);
  g_task_run_in_thread (task, decode_thread);
}

void
natter_image_decode_file_async (GFile               *file,
                                goffset              max_bytes,
                                int                  max_side,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  DecodeTask *data;

  g_return_if_fail (G_IS_FILE (file));

  data = g_new0 (DecodeTask, 1);
  data->file = g_object_ref (file);
  data->max_bytes = max_bytes;
  data->max_side = max_side;
  decode_async (data, cancellable, callback, user_data);
}

void
natter_image_decode_bytes_async (GBytes              *bytes,
                                 int                  max_side,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  DecodeTask *data;

  g_return_if_fail (bytes != NULL);

  data = g_new0 (DecodeTask, 1);
  data->bytes = g_bytes_ref (bytes);
  data->max_bytes = g_bytes_get_size (bytes);
  data->max_side = max_side;
  decode_async (data, cancellable, callback, user_data);
}

GdkPixbuf *
natter_image_decode_finish (GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
