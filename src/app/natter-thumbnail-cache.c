/* natter-thumbnail-cache.c — photo messages' thumbnails, decoded once
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-thumbnail-cache.h"
#include "natter-thumbnail.h"

#include <math.h>
#include <string.h>
#include <sys/mman.h>

/* ~30 thumbnails of 300×225: the ~5 photos of a screenful and what GTK's
 * list view keeps bound around them, so a scroll back finds them. */
#define DEFAULT_BUDGET (8 * 1024 * 1024)

typedef struct {
  char *key;            /* the message's uid */
  NatterThumbnail *thumbnail;
  gsize size;
} Entry;

struct _NatterThumbnailCache
{
  GObject parent_instance;

  gsize budget;
  gsize size;
  GHashTable *entries;  /* key → GList link in lru, data Entry */
  GQueue lru;           /* most recently used first */
  GHashTable *pending;  /* key → Load being decoded: a row bound again meanwhile waits for it */
  guint decoded;        /* thumbnails decoded so far, for the bench's frame log */
};

G_DEFINE_FINAL_TYPE (NatterThumbnailCache, natter_thumbnail_cache, G_TYPE_OBJECT)

static void
entry_free (Entry *entry)
{
  g_free (entry->key);
  g_object_unref (entry->thumbnail);
  g_free (entry);
}

static void
natter_thumbnail_cache_finalize (GObject *object)
{
  NatterThumbnailCache *self = NATTER_THUMBNAIL_CACHE (object);

  g_hash_table_unref (self->entries);
  g_hash_table_unref (self->pending);
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
  /* the keys belong to the loads, which remove themselves when done */
  self->pending = g_hash_table_new (g_str_hash, g_str_equal);
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

guint
natter_thumbnail_cache_get_n_decoded (NatterThumbnailCache *self)
{
  g_return_val_if_fail (NATTER_IS_THUMBNAIL_CACHE (self), 0);

  return self->decoded;
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

/* A JPEG's frame header comes after its APP segments (EXIF can be
 * several KiB): this much base64 is read at most, in steps. */
#define PEEK_STEP  1024
#define PEEK_MAX   (64 * 1024)

gboolean
natter_thumbnail_cache_peek_display_size (NatterMessage *message,
                                          int           *display_width,
                                          int           *display_height)
{
  JsonObject *content;
  const char *base64;
  gsize length, read = 0, decoded = 0;
  g_autofree guint8 *data = NULL;
  int state = 0, width, height;
  guint save = 0;

  g_return_val_if_fail (NATTER_IS_MESSAGE (message), FALSE);

  content = natter_message_get_content (message);
  base64 = content != NULL ? json_object_get_string_member_with_default (content, "content", NULL) : NULL;
  if (base64 == NULL)
    return FALSE;
  length = MIN (strlen (base64), PEEK_MAX);
  data = g_malloc ((length / 4) * 3 + 3);
  while (read < length)
    {
      gsize step = MIN (PEEK_STEP, length - read);

      decoded += g_base64_decode_step (base64 + read, step, data + decoded, &state, &save);
      read += step;
      if (natter_image_peek_size (data, decoded, &width, &height))
        {
          natter_thumbnail_cache_display_size (width, height, display_width, display_height);
          return TRUE;
        }
    }
  return FALSE;
}

static char *
cache_key (NatterMessage *message)
{
  const char *uid = natter_message_get_message_uid (message);

  /* local ids repeat across accounts' stores: only uids are kept */
  return uid != NULL && *uid != '\0' ? g_strdup (uid) : NULL;
}

GdkPaintable *
natter_thumbnail_cache_lookup (NatterThumbnailCache *self,
                               NatterMessage        *message)
{
  g_autofree char *key = NULL;
  GList *link;

  g_return_val_if_fail (NATTER_IS_THUMBNAIL_CACHE (self), NULL);
  g_return_val_if_fail (NATTER_IS_MESSAGE (message), NULL);

  key = cache_key (message);
  if (key == NULL || (link = g_hash_table_lookup (self->entries, key)) == NULL)
    return NULL;
  g_queue_unlink (&self->lru, link);
  g_queue_push_head_link (&self->lru, link);
  return GDK_PAINTABLE (((Entry *) link->data)->thumbnail);
}

static void
keep (NatterThumbnailCache *self,
      char                 *key,
      NatterThumbnail      *thumbnail)
{
  gsize size = natter_thumbnail_get_size (thumbnail);
  Entry *entry;

  if (g_hash_table_contains (self->entries, key) || size > self->budget)
    {
      g_free (key);
      return;
    }
  entry = g_new0 (Entry, 1);
  entry->key = key;
  entry->thumbnail = g_object_ref (thumbnail);
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

/* One decode, and the callers waiting for it (several when a row is bound
 * to the same photo again before it is decoded). */
typedef struct {
  GBytes *jpeg;
  char *key;
  GMutex lock;          /* the worker reads waiters while the main thread adds to them */
  GPtrArray *waiters;   /* GTask */
  gboolean skipped;     /* all waiters had given up before it started */
  /* the result, cairo's ARGB32 at display size */
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
  g_mutex_clear (&load->lock);
  g_ptr_array_unref (load->waiters);
  g_free (load);
}

typedef struct {
  gpointer data;
  gsize size;
} Pixels;

/* Mapped buffers given back, for the next thumbnails (most are one size):
 * unmapping one on the main thread as a fling let go of its row cost ~5 %
 * of that thread, and a fresh mapping page faults in the worker (#17). */
#define SPARE_BUFFERS 16
static GMutex spare_lock;
static GPtrArray *spare;   /* Pixels */

static void
pixels_free (Pixels *pixels)
{
  g_mutex_lock (&spare_lock);
  if (spare == NULL)
    spare = g_ptr_array_new ();
  if (spare->len < SPARE_BUFFERS)
    {
      g_ptr_array_add (spare, pixels);
      pixels = NULL;
    }
  g_mutex_unlock (&spare_lock);
  if (pixels == NULL)
    return;
  munmap (pixels->data, pixels->size);
  g_free (pixels);
}

static GBytes *
mapped_pixels (gsize size)
{
  Pixels *pixels = NULL;

  g_mutex_lock (&spare_lock);
  for (guint i = 0; spare != NULL && i < spare->len; i++)
    if (((Pixels *) g_ptr_array_index (spare, i))->size == size)
      {
        pixels = g_ptr_array_steal_index_fast (spare, i);
        break;
      }
  g_mutex_unlock (&spare_lock);
  if (pixels == NULL)
    {
      pixels = g_new0 (Pixels, 1);
      pixels->size = size;
      pixels->data = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (pixels->data == MAP_FAILED)
        {
          g_free (pixels);
          return NULL;
        }
    }
  return g_bytes_new_with_free_func (pixels->data, size, (GDestroyNotify) pixels_free, pixels);
}

/* @pixbuf as premultiplied native-endian ARGB32, cairo's format, in a
 * surface of the worker's own. */
static cairo_surface_t *
to_cairo_surface (GdkPixbuf *pixbuf)
{
  int width = gdk_pixbuf_get_width (pixbuf);
  int height = gdk_pixbuf_get_height (pixbuf);
  int channels = gdk_pixbuf_get_n_channels (pixbuf);
  int stride = gdk_pixbuf_get_rowstride (pixbuf);
  const guchar *src = gdk_pixbuf_read_pixels (pixbuf);
  cairo_surface_t *surface;
  guchar *data;
  int out_stride;

  if (channels < 3)
    return NULL;
  surface = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, width, height);
  if (cairo_surface_status (surface) != CAIRO_STATUS_SUCCESS)
    {
      cairo_surface_destroy (surface);
      return NULL;
    }
  data = cairo_image_surface_get_data (surface);
  out_stride = cairo_image_surface_get_stride (surface);
  for (int y = 0; y < height; y++)
    {
      const guchar *p = src + (gsize) y * stride;
      guint32 *line = (guint32 *) (void *) (data + (gsize) y * out_stride);   /* cairo rows are 4-byte aligned */

      for (int x = 0; x < width; x++, p += channels)
        {
          guint a = channels == 4 ? p[3] : 255;

          line[x] = a == 255 ? 0xff000000u | ((guint) p[0] << 16) | ((guint) p[1] << 8) | p[2]
                             : (a << 24) | (((p[0] * a + 127) / 255) << 16) |
                               (((p[1] * a + 127) / 255) << 8) | ((p[2] * a + 127) / 255);
        }
    }
  cairo_surface_mark_dirty (surface);
  return surface;
}

/* Cuts the rounded corners out of premultiplied @pixels: each corner
 * pixel keeps the part of it inside the circle (a plain loop over 4 × r²
 * pixels: a clip path made cairo composite the whole image through a mask). */
static void
round_corners (guint32 *pixels,
               int      width,
               int      height)
{
  int r = (int) MIN (NATTER_THUMBNAIL_RADIUS, MIN (width, height) / 2);

  for (int y = 0; y < r; y++)
    for (int x = 0; x < r; x++)
      {
        double dx = r - (x + 0.5), dy = r - (y + 0.5);
        guint coverage = (guint) (CLAMP (r - sqrt (dx * dx + dy * dy) + 0.5, 0, 1) * 256);
        guint32 *corner[4] = {
          &pixels[(gsize) y * width + x],
          &pixels[(gsize) y * width + (width - 1 - x)],
          &pixels[(gsize) (height - 1 - y) * width + x],
          &pixels[(gsize) (height - 1 - y) * width + (width - 1 - x)],
        };

        if (coverage >= 256)
          continue;
        for (guint i = 0; i < G_N_ELEMENTS (corner); i++)
          {
            guint32 p = *corner[i];

            *corner[i] = (((p >> 24) * coverage >> 8) << 24) | ((((p >> 16) & 0xff) * coverage >> 8) << 16) |
                         ((((p >> 8) & 0xff) * coverage >> 8) << 8) | ((p & 0xff) * coverage >> 8);
          }
      }
}

/* The thumbnail as the chat shows it, made once here: scaled to display
 * size (pixman's bilinear filter) and with the rounded corners cut, so the
 * main thread draws it at every frame as a plain copy (GTK 4.8's cairo
 * renderer converted a texture through floats, scaled it and clipped it
 * at every frame of a scroll). In mapped memory: it is freed on the main
 * thread, and worker threads' malloc arenas kept what it gave back (65–70
 * MiB more RSS at the end of the fling). */
static GBytes *
display_pixels (GdkPixbuf *pixbuf,
                int        width,
                int        height)
{
  cairo_surface_t *source = to_cairo_surface (pixbuf);
  cairo_surface_t *target;
  cairo_pattern_t *pattern;
  GBytes *pixels;
  cairo_t *cr;

  if (source == NULL || (pixels = mapped_pixels ((gsize) width * height * 4)) == NULL)
    {
      g_clear_pointer (&source, cairo_surface_destroy);
      return NULL;
    }
  target = cairo_image_surface_create_for_data ((unsigned char *) g_bytes_get_data (pixels, NULL),
                                                CAIRO_FORMAT_ARGB32, width, height, width * 4);
  cr = cairo_create (target);
  cairo_set_operator (cr, CAIRO_OPERATOR_SOURCE);
  cairo_scale (cr, (double) width / cairo_image_surface_get_width (source),
               (double) height / cairo_image_surface_get_height (source));
  cairo_set_source_surface (cr, source, 0, 0);
  pattern = cairo_get_source (cr);
  cairo_pattern_set_extend (pattern, CAIRO_EXTEND_PAD);
  cairo_pattern_set_filter (pattern, CAIRO_FILTER_GOOD);
  cairo_paint (cr);
  cairo_destroy (cr);
  cairo_surface_flush (target);
  cairo_surface_destroy (target);
  cairo_surface_destroy (source);
  round_corners ((guint32 *) g_bytes_get_data (pixels, NULL), width, height);
  return pixels;
}

static gboolean
all_gave_up (Load *load)
{
  for (guint i = 0; i < load->waiters->len; i++)
    if (!g_cancellable_is_cancelled (g_task_get_cancellable (g_ptr_array_index (load->waiters, i))))
      return FALSE;
  return TRUE;
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

  /* not started yet and nobody waits for it any more: a fling went past */
  g_mutex_lock (&load->lock);
  load->skipped = all_gave_up (load);
  g_mutex_unlock (&load->lock);
  if (load->skipped)
    {
      g_task_return_boolean (task, FALSE);
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
  load->pixels = display_pixels (decoded, width, height);
  if (load->pixels == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "Cannot convert the thumbnail");
      return;
    }
  load->width = width;
  load->height = height;
  g_task_return_boolean (task, TRUE);
}

static void start_load (NatterThumbnailCache *self, Load *load);

static void
load_done_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  NatterThumbnailCache *self = NATTER_THUMBNAIL_CACHE (object);
  Load *load = g_task_get_task_data (G_TASK (result));
  g_autoptr(NatterThumbnail) thumbnail = NULL;
  g_autoptr(GError) error = NULL;
  gboolean decoded = g_task_propagate_boolean (G_TASK (result), &error);

  if (decoded)
    {
      thumbnail = natter_thumbnail_new (load->pixels, load->width, load->height);
      self->decoded++;
    }
  else if (error == NULL && !all_gave_up (load))
    {
      /* skipped, but a row was bound to the photo again since */
      start_load (self, load);
      return;
    }
  if (load->key != NULL)
    {
      g_hash_table_remove (self->pending, load->key);
      if (thumbnail != NULL)
        keep (self, g_strdup (load->key), thumbnail);
    }
  for (guint i = 0; i < load->waiters->len; i++)
    {
      GTask *waiter = g_ptr_array_index (load->waiters, i);

      if (thumbnail != NULL)
        g_task_return_pointer (waiter, g_object_ref (thumbnail), g_object_unref);
      else if (error != NULL)
        g_task_return_error (waiter, g_error_copy (error));
      else
        g_task_return_new_error (waiter, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Nobody waited for the thumbnail");
    }
  load_free (load);
}

static void
start_load (NatterThumbnailCache *self,
            Load                 *load)
{
  g_autoptr(GTask) work = g_task_new (self, NULL, load_done_cb, NULL);

  load->skipped = FALSE;
  g_task_set_task_data (work, load, NULL);
  g_task_run_in_thread (work, load_thread);
}

void
natter_thumbnail_cache_load_async (NatterThumbnailCache *self,
                                   NatterMessage        *message,
                                   GCancellable         *cancellable,
                                   GAsyncReadyCallback   callback,
                                   gpointer              user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *key = NULL;
  GBytes *jpeg;
  Load *load;

  g_return_if_fail (NATTER_IS_THUMBNAIL_CACHE (self));
  g_return_if_fail (NATTER_IS_MESSAGE (message));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_thumbnail_cache_load_async);
  /* a fling binds and unbinds a row in a frame or two: what was decoded
   * is kept all the same, the fling may come back */
  g_task_set_check_cancellable (task, FALSE);

  key = cache_key (message);
  if (key != NULL && (load = g_hash_table_lookup (self->pending, key)) != NULL)
    {
      g_mutex_lock (&load->lock);
      g_ptr_array_add (load->waiters, g_steal_pointer (&task));
      g_mutex_unlock (&load->lock);
      return;
    }
  jpeg = natter_message_dup_image_thumbnail (message);
  if (jpeg == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "The message has no thumbnail");
      return;
    }
  load = g_new0 (Load, 1);
  load->jpeg = jpeg;
  load->key = g_steal_pointer (&key);
  g_mutex_init (&load->lock);
  load->waiters = g_ptr_array_new_with_free_func (g_object_unref);
  g_ptr_array_add (load->waiters, g_steal_pointer (&task));
  if (load->key != NULL)
    g_hash_table_insert (self->pending, load->key, load);
  start_load (self, load);
}

GdkPaintable *
natter_thumbnail_cache_load_finish (NatterThumbnailCache  *self,
                                    GAsyncResult          *result,
                                    GError               **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
