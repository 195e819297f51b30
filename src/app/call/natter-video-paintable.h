/* natter-video-paintable.h — a NatterVideoSink as a GdkPaintable
 *
 * Debian 12 has no gtk4paintablesink: each frame of the call's appsink
 * becomes a GdkMemoryTexture here.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

#include "natter-call.h"

G_BEGIN_DECLS

#define NATTER_TYPE_VIDEO_PAINTABLE (natter_video_paintable_get_type ())
G_DECLARE_FINAL_TYPE (NatterVideoPaintable, natter_video_paintable, NATTER, VIDEO_PAINTABLE, GObject)

NatterVideoPaintable *natter_video_paintable_new        (void);
/* @sink may be NULL (no video: the paintable is empty). */
void                  natter_video_paintable_set_sink   (NatterVideoPaintable *self,
                                                         NatterVideoSink      *sink);
NatterVideoSink      *natter_video_paintable_get_sink   (NatterVideoPaintable *self);
/* No intrinsic width and height, only the aspect ratio: a small preview
 * takes the size its widget requests instead of the video's. */
void                  natter_video_paintable_set_sized_by_widget (NatterVideoPaintable *self,
                                                                  gboolean              sized_by_widget);
/* Drawn as in a mirror: the self-view, so that moving left moves left. */
void                  natter_video_paintable_set_mirrored (NatterVideoPaintable *self,
                                                           gboolean              mirrored);
/* Frames turned into textures so far. */
guint                 natter_video_paintable_get_frames (NatterVideoPaintable *self);

G_END_DECLS
