/* natter-thumbnail-cache.c — photo messages' thumbnails, decoded once
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-thumbnail-cache.h"

/* ~30 thumbnails of 300×225 at scale 1: the ~5 photos of a screenful and
 * what GTK's list view keeps bound around them, so a scroll back finds
 * them (16 MiB cost the 1,000-photo fling 60–75 MiB more RSS at its end
 * than without a cache). */
#define DEFAULT_BUDGET (8 * 1024 * 1024)

typedef struct {
  char *key;            /* "uid@scale" */
  GdkTexture *texture;
  gsize size;
} Entry;

struct _NatterThumbnailCache
{
  GObject parent_instance;

  gsize budget;
  gsize size;
  GHashTable *entries;  /* key → GList link in lru, data Entry */
  GQueue lru;           /* most recently used first */
};

G_DEFINE_FINAL_TYPE (NatterThumbnailCache, natter_thumbnail_cache, G_TYPE_OBJECT)

static void
entry_free (Entry *entry)
{
  g_free (entry->key);
  g_object_unref (entry->texture);
  g_free (entry);
}

static void
natter_thumbnail_cache_finalize (GObject *object)
{
  NatterThumbnailCache *self = NATTER_THUMBNAIL_CACHE (object);

  g_hash_table_unref (self->entries);
  g_queue_clear_full (&self->lru, (GDestroyNotify) entry_free);
  G_OBJECT_CLASS (natter_thumbnail_cache_parent_class)->finalize (object);
}

static void
natter_thumbnail_cache_class_init (NatterThumbnailCacheClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = natter_thumbnail_cache_finalize;
}

static void
natter_thumbnail_cache_init (NatterThumbnailCache *self)
{
  /* the keys belong to the entries */
  self->entries = g_hash_table_new (g_str_hash, g_str_equal);
  g_queue_init (&self->lru);
}

NatterThumbnailCache *
natter_thumbnail_cache_new (gsize budget)
{
  NatterThumbnailCache *self = g_object_new (NATTER_TYPE_THUMBNAIL_CACHE, NULL);

  self->budget = budget;
  return self;
}

NatterThumbnailCache *
natter_thumbnail_cache_get_default (void)
{
  static NatterThumbnailCache *cache;

  if (cache == NULL)
    cache = natter_thumbnail_cache_new (DEFAULT_BUDGET);
  return cache;
}

gsize
natter_thumbnail_cache_get_size (NatterThumbnailCache *self)
{
  g_return_val_if_fail (NATTER_IS_THUMBNAIL_CACHE (self), 0);

  return self->size;
}

void
natter_thumbnail_cache_display_size (int  width,
                                     int  height,
                                     int *display_width,
                                     int *display_height)
{
  /* thumbnails are small: shown at a comfortable size */
  double scale = MIN ((double) NATTER_THUMBNAIL_MAX_WIDTH / MAX (width, 1),
                      (double) NATTER_THUMBNAIL_MAX_HEIGHT / MAX (height, 1));

  *display_width = MAX (1, (int) (width * scale));
  *display_height = MAX (1, (int) (height * scale));
}

static char *
cache_key (NatterMessage *message,
           int            scale)
{
  const char *uid = natter_message_get_message_uid (message);

  /* local ids repeat across accounts' stores: only uids are kept */
  return uid != NULL && *uid != '\0' ? g_strdup_printf ("%s@%d", uid, scale) : NULL;
}

GdkTexture *
natter_thumbnail_cache_lookup (NatterThumbnailCache *self,
                               NatterMessage        *message,
                               int                   scale)
{
  g_autofree char *key = NULL;
  GList *link;

  g_return_val_if_fail (NATTER_IS_THUMBNAIL_CACHE (self), NULL);
  g_return_val_if_fail (NATTER_IS_MESSAGE (message), NULL);

  key = cache_key (message, scale);
  if (key == NULL || (link = g_hash_table_lookup (self->entries, key)) == NULL)
    return NULL;
  g_queue_unlink (&self->lru, link);
  g_queue_push_head_link (&self->lru, link);
  return ((Entry *) link->data)->texture;
}

static void
keep (NatterThumbnailCache *self,
      char                 *key,
      GdkTexture           *texture,
      gsize                 size)
{
  Entry *entry;

  if (g_hash_table_contains (self->entries, key) || size > self->budget)
    {
      g_free (key);
      return;
    }
  entry = g_new0 (Entry, 1);
  entry->key = key;
  entry->texture = g_object_ref (texture);
  entry->size = size;
  g_queue_push_head (&self->lru, entry);
  g_hash_table_insert (self->entries, entry->key, self->lru.head);
  self->size += size;
  while (self->size > self->budget)
    {
      Entry *oldest = g_queue_pop_tail (&self->lru);

      g_hash_table_remove (self->entries, oldest->key);
      self->size -= oldest->size;
      entry_free (oldest);
    }
}

typedef struct {
  GBytes *jpeg;
  int scale;
  char *key;
  /* the result, cairo's ARGB32 (GDK_MEMORY_DEFAULT) at display size */
  GBytes *pixels;
  int width;
  int height;
} Load;

static void
load_free (Load *load)
{
  g_bytes_unref (load->jpeg);
  g_clear_pointer (&load->pixels, g_bytes_unref);
  g_free (load->key);
  g_free (load);
}

/* @pixbuf scaled (bilinear) to @width × @height and converted to
 * premultiplied native-endian ARGB32, what cairo and GDK's default memory
 * format are: GTK's cairo renderer then copies it as it is. One pass, in
 * 8-bit fixed point: gdk_pixbuf_scale_simple() cost the decoders three
 * times the JPEG decoding. */
static GBytes *
to_cairo_pixels (GdkPixbuf *pixbuf,
                 int        width,
                 int        height)
{
  int src_width = gdk_pixbuf_get_width (pixbuf);
  int src_height = gdk_pixbuf_get_height (pixbuf);
  int channels = gdk_pixbuf_get_n_channels (pixbuf);
  int stride = gdk_pixbuf_get_rowstride (pixbuf);
  const guchar *src = gdk_pixbuf_read_pixels (pixbuf);
  guint32 *out = g_new (guint32, (gsize) width * height);
  g_autofree int *xs = g_new (int, 2 * (gsize) width);
  g_autofree guint *fxs = g_new (guint, width);

  if (channels < 3)
    {
      g_free (out);
      return NULL;
    }
  /* each column's source pixels and weight, × 256, from its centre */
  for (int x = 0; x < width; x++)
    {
      gint64 sx = MAX (0, ((2 * x + 1) * (gint64) src_width * 256) / (2 * width) - 128);

      xs[2 * x] = MIN ((int) (sx >> 8), src_width - 1) * channels;
      xs[2 * x + 1] = MIN ((int) (sx >> 8) + 1, src_width - 1) * channels;
      fxs[x] = (guint) (sx & 255);
    }
  for (int y = 0; y < height; y++)
    {
      gint64 sy = MAX (0, ((2 * y + 1) * (gint64) src_height * 256) / (2 * height) - 128);
      int y0 = MIN ((int) (sy >> 8), src_height - 1), y1 = MIN (y0 + 1, src_height - 1);
      guint fy = (guint) (sy & 255);
      const guchar *row0 = src + (gsize) y0 * stride, *row1 = src + (gsize) y1 * stride;
      guint32 *line = out + (gsize) y * width;

      for (int x = 0; x < width; x++)
        {
          const guchar *a = row0 + xs[2 * x], *b = row0 + xs[2 * x + 1];
          const guchar *c = row1 + xs[2 * x], *d = row1 + xs[2 * x + 1];
          guint fx = fxs[x];
          guint v[4];

          for (int i = 0; i < 4; i++)
            {
              if (i == 3 && channels == 3)
                {
                  v[3] = 255;
                  break;
                }
              v[i] = (((a[i] * (256 - fx) + b[i] * fx) * (256 - fy) +
                       (c[i] * (256 - fx) + d[i] * fx) * fy) + 32768) >> 16;
            }
          if (v[3] != 255)
            for (int i = 0; i < 3; i++)
              v[i] = (v[i] * v[3] + 127) / 255;
          line[x] = (v[3] << 24) | (v[0] << 16) | (v[1] << 8) | v[2];
        }
    }
  return g_bytes_new_take (out, (gsize) width * height * 4);
}

static void
load_thread (GTask        *task,
             gpointer      source_object,
             gpointer      task_data,
             GCancellable *cancellable)
{
  Load *load = task_data;
  g_autoptr(GInputStream) stream = g_memory_input_stream_new_from_bytes (load->jpeg);
  g_autoptr(GdkPixbuf) decoded = NULL;
  GError *error = NULL;
  int width, height;

  /* not started yet and nobody waits for it any more */
  if (g_cancellable_set_error_if_cancelled (cancellable, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  decoded = natter_image_decode_stream (stream, (goffset) g_bytes_get_size (load->jpeg),
                                        NATTER_IMAGE_MAX_PIXELS, 0, NULL, &error);
  if (decoded == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  natter_thumbnail_cache_display_size (gdk_pixbuf_get_width (decoded), gdk_pixbuf_get_height (decoded),
                                       &width, &height);
  width *= load->scale;
  height *= load->scale;
  load->pixels = to_cairo_pixels (decoded, width, height);
  if (load->pixels == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "The thumbnail has no colours");
      return;
    }
  load->width = width;
  load->height = height;
  g_task_return_boolean (task, TRUE);
}

void
natter_thumbnail_cache_load_async (NatterThumbnailCache *self,
                                   NatterMessage        *message,
                                   int                   scale,
                                   GCancellable         *cancellable,
                                   GAsyncReadyCallback   callback,
                                   gpointer              user_data)
{
  g_autoptr(GTask) task = NULL;
  GBytes *jpeg;
  Load *load;

  g_return_if_fail (NATTER_IS_THUMBNAIL_CACHE (self));
  g_return_if_fail (NATTER_IS_MESSAGE (message));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_thumbnail_cache_load_async);
  /* a fling binds and unbinds a row in a frame or two: what was decoded
   * is kept all the same, the fling may come back */
  g_task_set_check_cancellable (task, FALSE);
  jpeg = natter_message_dup_image_thumbnail (message);
  if (jpeg == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "The message has no thumbnail");
      return;
    }
  load = g_new0 (Load, 1);
  load->jpeg = jpeg;
  load->scale = MAX (scale, 1);
  load->key = cache_key (message, load->scale);
  g_task_set_task_data (task, load, (GDestroyNotify) load_free);
  g_task_run_in_thread (task, load_thread);
}

GdkTexture *
natter_thumbnail_cache_load_finish (NatterThumbnailCache  *self,
                                    GAsyncResult          *result,
                                    GError               **error)
{
  Load *load;
  GdkTexture *texture;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;
  load = g_task_get_task_data (G_TASK (result));
  texture = gdk_memory_texture_new (load->width, load->height, GDK_MEMORY_DEFAULT,
                                    load->pixels, (gsize) load->width * 4);
  if (load->key != NULL)
    keep (self, g_steal_pointer (&load->key), texture, g_bytes_get_size (load->pixels));
  return texture;
}
