/* natter-video-sink.h — video frames of a call, without GTK
 *
 * The end of a video branch of the call pipeline (an appsink behind a
 * videoconvert to BGRA). It keeps the latest frame and tells the main context
 * when it changed; the app wraps it in a GdkPaintable (GdkMemoryTexture over
 * natter_video_sink_get_frame()).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define NATTER_TYPE_VIDEO_SINK (natter_video_sink_get_type ())
G_DECLARE_FINAL_TYPE (NatterVideoSink, natter_video_sink, NATTER, VIDEO_SINK, GObject)

NatterVideoSink *natter_video_sink_new             (void);

/* The latest frame as tightly described BGRA bytes (byte order B, G, R, A,
 * i.e. GDK_MEMORY_B8G8R8A8), or NULL before the first frame. */
GBytes          *natter_video_sink_get_frame       (NatterVideoSink *self,
                                                    int             *width,
                                                    int             *height,
                                                    gsize           *stride);
int              natter_video_sink_get_width       (NatterVideoSink *self);
int              natter_video_sink_get_height      (NatterVideoSink *self);
/* Frames that reached the sink; safe from any thread. */
guint64          natter_video_sink_get_frame_count (NatterVideoSink *self);

/* For NatterCallMedia: the bin to link the decoded video into. */
GstElement      *natter_video_sink_get_element     (NatterVideoSink *self);

G_END_DECLS
