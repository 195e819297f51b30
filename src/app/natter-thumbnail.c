/* natter-thumbnail.c — a photo message's thumbnail, ready to draw
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-thumbnail.h"

struct _NatterThumbnail
{
  GObject parent_instance;

  gsize size;
  cairo_surface_t *surface;   /* over the pixels, which it keeps */
  int width;
  int height;
};

static const cairo_user_data_key_t pixels_key;

static void natter_thumbnail_paintable_init (GdkPaintableInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (NatterThumbnail, natter_thumbnail, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (GDK_TYPE_PAINTABLE, natter_thumbnail_paintable_init))

static void
natter_thumbnail_snapshot (GdkPaintable *paintable,
                           GdkSnapshot  *snapshot,
                           double        width,
                           double        height)
{
  NatterThumbnail *self = NATTER_THUMBNAIL (paintable);
  cairo_t *cr;

  if (width <= 0 || height <= 0)
    return;
  /* a cairo node records this paint; the renderer replays it, a copy of
   * the pixels at their size (scaled only if GtkPicture asks for another) */
  cr = gtk_snapshot_append_cairo (GTK_SNAPSHOT (snapshot), &GRAPHENE_RECT_INIT (0, 0, width, height));
  if ((int) width != self->width || (int) height != self->height)
    cairo_scale (cr, width / self->width, height / self->height);
  cairo_set_source_surface (cr, self->surface, 0, 0);
  cairo_paint (cr);
  cairo_destroy (cr);
}

static int
natter_thumbnail_get_intrinsic_width (GdkPaintable *paintable)
{
  return NATTER_THUMBNAIL (paintable)->width;
}

static int
natter_thumbnail_get_intrinsic_height (GdkPaintable *paintable)
{
  return NATTER_THUMBNAIL (paintable)->height;
}

static GdkPaintableFlags
natter_thumbnail_get_flags (GdkPaintable *paintable)
{
  return GDK_PAINTABLE_STATIC_SIZE | GDK_PAINTABLE_STATIC_CONTENTS;
}

static void
natter_thumbnail_paintable_init (GdkPaintableInterface *iface)
{
  iface->snapshot = natter_thumbnail_snapshot;
  iface->get_intrinsic_width = natter_thumbnail_get_intrinsic_width;
  iface->get_intrinsic_height = natter_thumbnail_get_intrinsic_height;
  iface->get_flags = natter_thumbnail_get_flags;
}

static void
natter_thumbnail_finalize (GObject *object)
{
  NatterThumbnail *self = NATTER_THUMBNAIL (object);

  cairo_surface_destroy (self->surface);
  G_OBJECT_CLASS (natter_thumbnail_parent_class)->finalize (object);
}

static void
natter_thumbnail_class_init (NatterThumbnailClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = natter_thumbnail_finalize;
}

static void
natter_thumbnail_init (NatterThumbnail *self)
{
}

NatterThumbnail *
natter_thumbnail_new (GBytes *pixels,
                      int     width,
                      int     height)
{
  NatterThumbnail *self;

  g_return_val_if_fail (pixels != NULL, NULL);
  g_return_val_if_fail (width > 0 && height > 0, NULL);
  g_return_val_if_fail (g_bytes_get_size (pixels) >= (gsize) width * height * 4, NULL);

  self = g_object_new (NATTER_TYPE_THUMBNAIL, NULL);
  self->size = g_bytes_get_size (pixels);
  self->width = width;
  self->height = height;
  /* cairo only reads them: the bytes stay immutable. The surface keeps
   * them: a render node may hold it past this object */
  self->surface = cairo_image_surface_create_for_data ((unsigned char *) g_bytes_get_data (pixels, NULL),
                                                       CAIRO_FORMAT_ARGB32, width, height, width * 4);
  cairo_surface_set_user_data (self->surface, &pixels_key, g_bytes_ref (pixels),
                               (cairo_destroy_func_t) g_bytes_unref);
  return self;
}

gsize
natter_thumbnail_get_size (NatterThumbnail *self)
{
  g_return_val_if_fail (NATTER_IS_THUMBNAIL (self), 0);

  return self->size;
}
