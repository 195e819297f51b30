/* natter-video-paintable.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-video-paintable.h"

struct _NatterVideoPaintable
{
  GObject          parent_instance;

  NatterVideoSink *sink;
  GdkTexture      *texture;
  guint            frames;
  gboolean         no_size;    /* a preview sized by its widget */
  gboolean         mirrored;
};

enum {
  PROP_0,
  PROP_SINK,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void natter_video_paintable_paintable_init (GdkPaintableInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (NatterVideoPaintable, natter_video_paintable, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (GDK_TYPE_PAINTABLE,
                                                      natter_video_paintable_paintable_init))

static void
paintable_snapshot (GdkPaintable *paintable,
                    GdkSnapshot  *snapshot,
                    double        width,
                    double        height)
{
  NatterVideoPaintable *self = NATTER_VIDEO_PAINTABLE (paintable);

  if (self->texture == NULL)
    return;
  if (self->mirrored)
    {
      gtk_snapshot_save (GTK_SNAPSHOT (snapshot));
      gtk_snapshot_translate (GTK_SNAPSHOT (snapshot), &GRAPHENE_POINT_INIT (width, 0));
      gtk_snapshot_scale (GTK_SNAPSHOT (snapshot), -1, 1);
    }
  gdk_paintable_snapshot (GDK_PAINTABLE (self->texture), snapshot, width, height);
  if (self->mirrored)
    gtk_snapshot_restore (GTK_SNAPSHOT (snapshot));
}

static int
paintable_get_intrinsic_width (GdkPaintable *paintable)
{
  NatterVideoPaintable *self = NATTER_VIDEO_PAINTABLE (paintable);

  return self->texture != NULL && !self->no_size ? gdk_texture_get_width (self->texture) : 0;
}

static int
paintable_get_intrinsic_height (GdkPaintable *paintable)
{
  NatterVideoPaintable *self = NATTER_VIDEO_PAINTABLE (paintable);

  return self->texture != NULL && !self->no_size ? gdk_texture_get_height (self->texture) : 0;
}

static double
paintable_get_intrinsic_aspect_ratio (GdkPaintable *paintable)
{
  NatterVideoPaintable *self = NATTER_VIDEO_PAINTABLE (paintable);

  if (self->texture == NULL || gdk_texture_get_height (self->texture) == 0)
    return 0;
  return (double) gdk_texture_get_width (self->texture) / gdk_texture_get_height (self->texture);
}

static void
natter_video_paintable_paintable_init (GdkPaintableInterface *iface)
{
  iface->snapshot = paintable_snapshot;
  iface->get_intrinsic_width = paintable_get_intrinsic_width;
  iface->get_intrinsic_height = paintable_get_intrinsic_height;
  iface->get_intrinsic_aspect_ratio = paintable_get_intrinsic_aspect_ratio;
}

static void
on_frame_changed (NatterVideoSink      *sink,
                  NatterVideoPaintable *self)
{
  int width = 0, height = 0;
  gsize stride = 0;
  g_autoptr(GBytes) bytes = natter_video_sink_get_frame (sink, &width, &height, &stride);
  gboolean resized;

  if (bytes == NULL || width <= 0 || height <= 0)
    return;

  resized = self->texture == NULL ||
            gdk_texture_get_width (self->texture) != width ||
            gdk_texture_get_height (self->texture) != height;

  /* Wraps the mapped GStreamer buffer: no copy. videoconvert gives opaque
   * BGRA, so premultiplied is the same and the faster path. */
  g_clear_object (&self->texture);
  self->texture = gdk_memory_texture_new (width, height, GDK_MEMORY_B8G8R8A8_PREMULTIPLIED,
                                          bytes, stride);
  self->frames++;

  if (resized)
    gdk_paintable_invalidate_size (GDK_PAINTABLE (self));
  gdk_paintable_invalidate_contents (GDK_PAINTABLE (self));
}

static void
natter_video_paintable_dispose (GObject *object)
{
  NatterVideoPaintable *self = NATTER_VIDEO_PAINTABLE (object);

  natter_video_paintable_set_sink (self, NULL);
  g_clear_object (&self->texture);

  G_OBJECT_CLASS (natter_video_paintable_parent_class)->dispose (object);
}

static void
natter_video_paintable_get_property (GObject    *object,
                                     guint       prop_id,
                                     GValue     *value,
                                     GParamSpec *pspec)
{
  NatterVideoPaintable *self = NATTER_VIDEO_PAINTABLE (object);

  switch (prop_id)
    {
    case PROP_SINK:
      g_value_set_object (value, self->sink);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_video_paintable_set_property (GObject      *object,
                                     guint         prop_id,
                                     const GValue *value,
                                     GParamSpec   *pspec)
{
  NatterVideoPaintable *self = NATTER_VIDEO_PAINTABLE (object);

  switch (prop_id)
    {
    case PROP_SINK:
      natter_video_paintable_set_sink (self, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_video_paintable_class_init (NatterVideoPaintableClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = natter_video_paintable_dispose;
  object_class->get_property = natter_video_paintable_get_property;
  object_class->set_property = natter_video_paintable_set_property;

  properties[PROP_SINK] =
    g_param_spec_object ("sink", NULL, NULL, NATTER_TYPE_VIDEO_SINK,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
natter_video_paintable_init (NatterVideoPaintable *self)
{
}

NatterVideoPaintable *
natter_video_paintable_new (void)
{
  return g_object_new (NATTER_TYPE_VIDEO_PAINTABLE, NULL);
}

void
natter_video_paintable_set_sink (NatterVideoPaintable *self,
                                 NatterVideoSink      *sink)
{
  g_return_if_fail (NATTER_IS_VIDEO_PAINTABLE (self));
  g_return_if_fail (sink == NULL || NATTER_IS_VIDEO_SINK (sink));

  if (self->sink == sink)
    return;

  if (self->sink != NULL)
    g_signal_handlers_disconnect_by_func (self->sink, on_frame_changed, self);
  g_set_object (&self->sink, sink);
  if (sink != NULL)
    g_signal_connect_object (sink, "frame-changed", G_CALLBACK (on_frame_changed), self, 0);

  if (self->texture != NULL)
    {
      g_clear_object (&self->texture);
      gdk_paintable_invalidate_size (GDK_PAINTABLE (self));
      gdk_paintable_invalidate_contents (GDK_PAINTABLE (self));
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SINK]);
}

NatterVideoSink *
natter_video_paintable_get_sink (NatterVideoPaintable *self)
{
  g_return_val_if_fail (NATTER_IS_VIDEO_PAINTABLE (self), NULL);
  return self->sink;
}

void
natter_video_paintable_set_sized_by_widget (NatterVideoPaintable *self,
                                            gboolean              sized_by_widget)
{
  g_return_if_fail (NATTER_IS_VIDEO_PAINTABLE (self));
  self->no_size = !!sized_by_widget;
  gdk_paintable_invalidate_size (GDK_PAINTABLE (self));
}

void
natter_video_paintable_set_mirrored (NatterVideoPaintable *self,
                                     gboolean              mirrored)
{
  g_return_if_fail (NATTER_IS_VIDEO_PAINTABLE (self));

  mirrored = !!mirrored;
  if (mirrored == self->mirrored)
    return;
  self->mirrored = mirrored;
  gdk_paintable_invalidate_contents (GDK_PAINTABLE (self));
}

guint
natter_video_paintable_get_frames (NatterVideoPaintable *self)
{
  g_return_val_if_fail (NATTER_IS_VIDEO_PAINTABLE (self), 0);
  return self->frames;
}
