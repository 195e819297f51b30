/* natter-video-sink.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gst/app/gstappsink.h>
#include <gst/video/video.h>

#include "natter-video-sink.h"

struct _NatterVideoSink
{
  GObject       parent_instance;

  GstElement   *bin;
  GMainContext *context;

  GMutex        lock;
  GstSample    *sample;        /* latest, under lock: BGRA, or as decoded */
  guint         idle_id;       /* a frame-changed is pending, under lock */
  GstCaps      *told_caps;     /* under lock: the caps the main context last heard of */
  gint          frame_count;   /* atomic */
  gint          frames_wanted; /* atomic: someone took a frame */

  GMutex        convert_lock;
  GstVideoConverter *converter; /* under convert_lock, for converter_info */
  GstVideoInfo  converter_info;

  int           width;
  int           height;
};

enum {
  PROP_0,
  PROP_WIDTH,
  PROP_HEIGHT,
  N_PROPS
};

enum {
  FRAME_CHANGED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (NatterVideoSink, natter_video_sink, G_TYPE_OBJECT)

typedef struct
{
  GstBuffer  *buffer;
  GstMapInfo  map;
} MappedFrame;

static void
mapped_frame_free (gpointer data)
{
  MappedFrame *frame = data;

  gst_buffer_unmap (frame->buffer, &frame->map);
  gst_buffer_unref (frame->buffer);
  g_free (frame);
}

static gboolean
emit_frame_changed (gpointer user_data)
{
  NatterVideoSink *self = user_data;
  int width = 0, height = 0;

  g_mutex_lock (&self->lock);
  self->idle_id = 0;
  if (self->sample != NULL)
    {
      GstVideoInfo info;
      if (gst_video_info_from_caps (&info, gst_sample_get_caps (self->sample)))
        {
          width = GST_VIDEO_INFO_WIDTH (&info);
          height = GST_VIDEO_INFO_HEIGHT (&info);
        }
    }
  g_mutex_unlock (&self->lock);

  if (width != self->width)
    {
      self->width = width;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_WIDTH]);
    }
  if (height != self->height)
    {
      self->height = height;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HEIGHT]);
    }
  g_signal_emit (self, signals[FRAME_CHANGED], 0);

  return G_SOURCE_REMOVE;
}

static gboolean
sample_is_bgra (GstSample *sample)
{
  GstStructure *s = gst_caps_get_structure (gst_sample_get_caps (sample), 0);

  return g_strcmp0 (gst_structure_get_string (s, "format"), "BGRA") == 0;
}

/* @sample (I420 as decoded or captured) as BGRA; NULL if it cannot be. */
static GstSample *
convert_sample (NatterVideoSink *self,
                GstSample       *sample)
{
  g_autoptr(GstCaps) caps = NULL;
  g_autoptr(GstBuffer) buffer = NULL;
  GstVideoInfo in_info, out_info;
  GstVideoFrame in_frame, out_frame;

  if (!gst_video_info_from_caps (&in_info, gst_sample_get_caps (sample)))
    return NULL;
  gst_video_info_set_format (&out_info, GST_VIDEO_FORMAT_BGRA,
                             GST_VIDEO_INFO_WIDTH (&in_info), GST_VIDEO_INFO_HEIGHT (&in_info));
  /* GstVideoConverter converts formats and sizes, not rates. */
  GST_VIDEO_INFO_FPS_N (&out_info) = GST_VIDEO_INFO_FPS_N (&in_info);
  GST_VIDEO_INFO_FPS_D (&out_info) = GST_VIDEO_INFO_FPS_D (&in_info);
  GST_VIDEO_INFO_PAR_N (&out_info) = GST_VIDEO_INFO_PAR_N (&in_info);
  GST_VIDEO_INFO_PAR_D (&out_info) = GST_VIDEO_INFO_PAR_D (&in_info);
  buffer = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&out_info), NULL);
  if (!gst_video_frame_map (&in_frame, &in_info, gst_sample_get_buffer (sample), GST_MAP_READ))
    return NULL;
  if (!gst_video_frame_map (&out_frame, &out_info, buffer, GST_MAP_WRITE))
    {
      gst_video_frame_unmap (&in_frame);
      return NULL;
    }

  g_mutex_lock (&self->convert_lock);
  if (self->converter == NULL || !gst_video_info_is_equal (&in_info, &self->converter_info))
    {
      g_clear_pointer (&self->converter, gst_video_converter_free);
      self->converter = gst_video_converter_new (&in_info, &out_info, NULL);
      self->converter_info = in_info;
    }
  gst_video_converter_frame (self->converter, &in_frame, &out_frame);
  g_mutex_unlock (&self->convert_lock);

  gst_video_frame_unmap (&out_frame);
  gst_video_frame_unmap (&in_frame);
  caps = gst_video_info_to_caps (&out_info);
  return gst_sample_new (buffer, caps, NULL, NULL);
}

/* streaming thread */
static GstFlowReturn
on_new_sample (GstAppSink *appsink,
               gpointer    user_data)
{
  NatterVideoSink *self = user_data;
  GstSample *sample = gst_app_sink_pull_sample (appsink);

  if (sample == NULL)
    return GST_FLOW_EOS;

  g_atomic_int_inc (&self->frame_count);

  /* Converted here, off the main thread, only once someone shows the
   * frames: natter-cli and the tests only count them. */
  if (g_atomic_int_get (&self->frames_wanted) && !sample_is_bgra (sample))
    {
      GstSample *bgra = convert_sample (self, sample);

      gst_sample_unref (sample);
      if (bgra == NULL)
        return GST_FLOW_OK;
      sample = bgra;
    }

  g_mutex_lock (&self->lock);
  g_clear_pointer (&self->sample, gst_sample_unref);
  self->sample = sample;
  /* Nobody draws the frames (natter-cli, a hidden view): the main context
   * wakes only when the size may have changed, not 30 times a second. */
  if (self->idle_id == 0 &&
      (g_signal_has_handler_pending (self, signals[FRAME_CHANGED], 0, TRUE) ||
       self->told_caps == NULL || !gst_caps_is_equal (self->told_caps, gst_sample_get_caps (sample))))
    {
      gst_caps_replace (&self->told_caps, gst_sample_get_caps (sample));
      GSource *source = g_idle_source_new ();
      g_source_set_priority (source, G_PRIORITY_DEFAULT);
      g_source_set_callback (source, emit_frame_changed, g_object_ref (self), g_object_unref);
      self->idle_id = g_source_attach (source, self->context);
      g_source_unref (source);
    }
  g_mutex_unlock (&self->lock);

  return GST_FLOW_OK;
}

static void
natter_video_sink_dispose (GObject *object)
{
  NatterVideoSink *self = NATTER_VIDEO_SINK (object);

  if (self->bin != NULL)
    {
      GstElement *appsink = gst_bin_get_by_name (GST_BIN (self->bin), "appsink");
      if (appsink != NULL)
        {
          GstAppSinkCallbacks none = { 0, };
          gst_app_sink_set_callbacks (GST_APP_SINK (appsink), &none, NULL, NULL);
          gst_object_unref (appsink);
        }
    }
  gst_clear_object (&self->bin);

  G_OBJECT_CLASS (natter_video_sink_parent_class)->dispose (object);
}

static void
natter_video_sink_finalize (GObject *object)
{
  NatterVideoSink *self = NATTER_VIDEO_SINK (object);

  g_clear_pointer (&self->sample, gst_sample_unref);
  gst_clear_caps (&self->told_caps);
  g_clear_pointer (&self->converter, gst_video_converter_free);
  g_main_context_unref (self->context);
  g_mutex_clear (&self->lock);
  g_mutex_clear (&self->convert_lock);

  G_OBJECT_CLASS (natter_video_sink_parent_class)->finalize (object);
}

static void
natter_video_sink_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  NatterVideoSink *self = NATTER_VIDEO_SINK (object);

  switch (prop_id)
    {
    case PROP_WIDTH:
      g_value_set_int (value, self->width);
      break;
    case PROP_HEIGHT:
      g_value_set_int (value, self->height);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_video_sink_class_init (NatterVideoSinkClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = natter_video_sink_dispose;
  object_class->finalize = natter_video_sink_finalize;
  object_class->get_property = natter_video_sink_get_property;

  properties[PROP_WIDTH] =
    g_param_spec_int ("width", NULL, NULL, 0, G_MAXINT, 0,
                      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_HEIGHT] =
    g_param_spec_int ("height", NULL, NULL, 0, G_MAXINT, 0,
                      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* On the context the sink was created in, at most once per main loop
   * iteration however many frames arrived. */
  signals[FRAME_CHANGED] =
    g_signal_new ("frame-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
natter_video_sink_init (NatterVideoSink *self)
{
  /* As decoded or captured (I420 in calls): no videoconvert to BGRA for
   * every frame whether or not anyone shows it. */
  g_autoptr(GstCaps) caps = gst_caps_new_empty_simple ("video/x-raw");
  GstAppSinkCallbacks callbacks = { .new_sample = on_new_sample };
  GstElement *queue, *appsink;
  GstPad *pad;

  g_mutex_init (&self->lock);
  g_mutex_init (&self->convert_lock);
  self->context = g_main_context_ref_thread_default ();

  self->bin = gst_object_ref_sink (gst_bin_new (NULL));
  queue = gst_element_factory_make ("queue", "video-sink");
  appsink = gst_element_factory_make ("appsink", "appsink");
  g_object_set (queue, "max-size-buffers", 2, "leaky", 2 /* downstream */, NULL);
  g_object_set (appsink,
                "caps", caps,
                "max-buffers", 1,
                "drop", TRUE,
                "sync", TRUE,
                "async", FALSE,
                "qos", TRUE,
                NULL);
  gst_app_sink_set_callbacks (GST_APP_SINK (appsink), &callbacks, self, NULL);
  gst_bin_add_many (GST_BIN (self->bin), queue, appsink, NULL);
  gst_element_link_many (queue, appsink, NULL);

  pad = gst_element_get_static_pad (queue, "sink");
  gst_element_add_pad (self->bin, gst_ghost_pad_new ("sink", pad));
  gst_object_unref (pad);
}

NatterVideoSink *
natter_video_sink_new (void)
{
  return g_object_new (NATTER_TYPE_VIDEO_SINK, NULL);
}

GBytes *
natter_video_sink_get_frame (NatterVideoSink *self,
                             int             *width,
                             int             *height,
                             gsize           *stride)
{
  g_autoptr(GstSample) sample = NULL;
  GstVideoInfo info;
  MappedFrame *frame;
  GstBuffer *buffer;

  g_return_val_if_fail (NATTER_IS_VIDEO_SINK (self), NULL);

  g_atomic_int_set (&self->frames_wanted, TRUE);
  g_mutex_lock (&self->lock);
  if (self->sample != NULL)
    sample = gst_sample_ref (self->sample);
  g_mutex_unlock (&self->lock);

  /* The first frame asked for, still as decoded: converted once here, the
   * next ones on the streaming thread. */
  if (sample != NULL && !sample_is_bgra (sample))
    {
      GstSample *bgra = convert_sample (self, sample);

      g_mutex_lock (&self->lock);
      if (bgra != NULL && self->sample == sample)
        {
          gst_sample_unref (self->sample);
          self->sample = gst_sample_ref (bgra);
        }
      g_mutex_unlock (&self->lock);
      gst_sample_unref (sample);
      sample = bgra;
    }

  if (sample == NULL || !gst_video_info_from_caps (&info, gst_sample_get_caps (sample)))
    return NULL;
  buffer = gst_sample_get_buffer (sample);
  if (buffer == NULL)
    return NULL;

  frame = g_new0 (MappedFrame, 1);
  frame->buffer = gst_buffer_ref (buffer);
  if (!gst_buffer_map (frame->buffer, &frame->map, GST_MAP_READ))
    {
      gst_buffer_unref (frame->buffer);
      g_free (frame);
      return NULL;
    }
  if (frame->map.size < (gsize) GST_VIDEO_INFO_PLANE_STRIDE (&info, 0) * GST_VIDEO_INFO_HEIGHT (&info))
    {
      mapped_frame_free (frame);
      return NULL;
    }

  if (width != NULL)
    *width = GST_VIDEO_INFO_WIDTH (&info);
  if (height != NULL)
    *height = GST_VIDEO_INFO_HEIGHT (&info);
  if (stride != NULL)
    *stride = GST_VIDEO_INFO_PLANE_STRIDE (&info, 0);

  return g_bytes_new_with_free_func (frame->map.data, frame->map.size, mapped_frame_free, frame);
}

int
natter_video_sink_get_width (NatterVideoSink *self)
{
  g_return_val_if_fail (NATTER_IS_VIDEO_SINK (self), 0);
  return self->width;
}

int
natter_video_sink_get_height (NatterVideoSink *self)
{
  g_return_val_if_fail (NATTER_IS_VIDEO_SINK (self), 0);
  return self->height;
}

guint64
natter_video_sink_get_frame_count (NatterVideoSink *self)
{
  g_return_val_if_fail (NATTER_IS_VIDEO_SINK (self), 0);
  return (guint) g_atomic_int_get (&self->frame_count);
}

GstElement *
natter_video_sink_get_element (NatterVideoSink *self)
{
  g_return_val_if_fail (NATTER_IS_VIDEO_SINK (self), NULL);
  return self->bin;
}
