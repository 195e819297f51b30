/* natter-thumbnail-cache.h — photo messages' thumbnails, decoded once
 *
 * A chat of photos binds a row to a message each time a scroll brings it
 * into view (#17). The thumbnail (the sender's JPEG in the message) is
 * decoded in a worker thread, once for all the rows bound to it meanwhile,
 * and made there into what the chat draws: cairo's pixel format, the
 * display size, the rounded corners (natter-thumbnail.h); the most
 * recently shown thumbnails are kept (a byte budget), so a message
 * scrolled back into view gets its picture at the binding, at its final
 * size, with no decode and no second layout.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>
#include <natter.h>

G_BEGIN_DECLS

#define NATTER_TYPE_THUMBNAIL_CACHE (natter_thumbnail_cache_get_type ())

G_DECLARE_FINAL_TYPE (NatterThumbnailCache, natter_thumbnail_cache, NATTER, THUMBNAIL_CACHE, GObject)

/* Thumbnails are shown scaled (up or down) to fit this box, in pixels. */
#define NATTER_THUMBNAIL_MAX_WIDTH  300
#define NATTER_THUMBNAIL_MAX_HEIGHT 320

/* Keeps at most @budget bytes of thumbnails' pixels. */
NatterThumbnailCache *natter_thumbnail_cache_new         (gsize                  budget);
/* The one the chats share (the app's main thread only). */
NatterThumbnailCache *natter_thumbnail_cache_get_default (void);
/* @message's thumbnail if it is kept (then the most recently used), else
 * NULL. */
GdkPaintable         *natter_thumbnail_cache_lookup      (NatterThumbnailCache  *self,
                                                          NatterMessage         *message);
/* Decodes @message's thumbnail in a worker thread (a NatterThumbnail at
 * display size comes) and keeps it (a message
 * without a uid is decoded and not kept). G_IO_ERROR_NOT_FOUND when the
 * message has none; natter-image.h's errors for bad bytes;
 * G_IO_ERROR_CANCELLED if @cancellable was cancelled before the decode
 * started. One that started is finished and kept even when it is
 * cancelled later (the thumbnail comes all the same: check the cancellable
 * in @callback). */
void                  natter_thumbnail_cache_load_async  (NatterThumbnailCache  *self,
                                                          NatterMessage         *message,
                                                          GCancellable          *cancellable,
                                                          GAsyncReadyCallback    callback,
                                                          gpointer               user_data);
GdkPaintable         *natter_thumbnail_cache_load_finish (NatterThumbnailCache  *self,
                                                          GAsyncResult          *result,
                                                          GError               **error);
/* The size @message's thumbnail will be shown at, from its header (a
 * few hundred bytes of base64 decoded, no pixels): a row takes its final
 * height at the binding, not when the decode comes (#17). FALSE when the
 * header does not say. */
gboolean              natter_thumbnail_cache_peek_display_size (NatterMessage *message,
                                                                int           *display_width,
                                                                int           *display_height);
/* The size a thumbnail of @width × @height is shown at. */
void                  natter_thumbnail_cache_display_size (int                   width,
                                                           int                   height,
                                                           int                  *display_width,
                                                           int                  *display_height);
/* Bytes of thumbnails kept. */
gsize                 natter_thumbnail_cache_get_size    (NatterThumbnailCache  *self);
/* Thumbnails decoded so far (the bench's frame log, #17). */
guint                 natter_thumbnail_cache_get_n_decoded (NatterThumbnailCache *self);

G_END_DECLS
