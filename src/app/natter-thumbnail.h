/* natter-thumbnail.h — a photo message's thumbnail, ready to draw
 *
 * Pixels already at the size the chat shows them, with the bubble's
 * rounded corners in them (natter-thumbnail-cache.c makes them in a worker
 * thread). Drawn as a cairo node that paints them as they are: a texture
 * node made GTK 4.8's cairo renderer convert the texture's pixels through
 * floats, scale them and clip them to the rounded corners at every frame
 * of a scroll (#17).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* The corners' radius, as .message-image had it in style.css. */
#define NATTER_THUMBNAIL_RADIUS 12.0

#define NATTER_TYPE_THUMBNAIL (natter_thumbnail_get_type ())

G_DECLARE_FINAL_TYPE (NatterThumbnail, natter_thumbnail, NATTER, THUMBNAIL, GObject)

/* @pixels: premultiplied native-endian ARGB32 (cairo's), @width × 4 bytes a
 * line; kept, never copied. */
NatterThumbnail *natter_thumbnail_new       (GBytes          *pixels,
                                             int              width,
                                             int              height);
/* Its pixels' bytes. */
gsize            natter_thumbnail_get_size  (NatterThumbnail *self);

G_END_DECLS
