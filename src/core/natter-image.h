/* natter-image.h — decoding images that come from the network
 *
 * Portraits, thumbnails and images are written by strangers. Only PNG,
 * JPEG, WebP and GIF are decoded, told by their first bytes before any
 * gdk-pixbuf loader sees them (the SVG, XPM, TGA, ICO… loaders never run on
 * them); the dimensions are checked as soon as the header is read, before
 * any pixel buffer exists; and no more than a given number of bytes is ever
 * read. Decoding happens in a GTask worker thread, never on the GTK main
 * thread.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <gio/gio.h>

G_BEGIN_DECLS

/* 40 megapixels: a 160 MB pixel buffer at most; more than any camera. */
#define NATTER_IMAGE_MAX_PIXELS (40 * 1000 * 1000)

/* The gdk-pixbuf loader for @data if it starts as a PNG, JPEG, WebP or GIF
 * does ("png", "jpeg", "webp", "gif"); NULL for anything else. */
const char *natter_image_sniff                (const guint8        *data,
                                               gsize                length);

/* The width and height a PNG's IHDR or a JPEG's frame header (SOF) in
 * the first @length bytes of @data says, without decoding (cheap enough
 * for the main thread: a row knows its photo's size before the decode,
 * #17). FALSE when they are not there or not sensible. The EXIF
 * orientation is not read: a rotated JPEG's are swapped after decoding. */
gboolean    natter_image_peek_size            (const guint8        *data,
                                               gsize                length,
                                               int                 *width,
                                               int                 *height);

/* Decodes @stream (blocking: call it in a worker thread). Refuses
 * (G_IO_ERROR_NOT_SUPPORTED) what natter_image_sniff() does not know,
 * (G_IO_ERROR_MESSAGE_TOO_LARGE) more than @max_bytes bytes or more than
 * @max_pixels pixels, the latter before the pixels are decoded. @max_side
 * > 0 scales the result down to fit in a square of that side. The embedded
 * orientation (EXIF) is applied. */
GdkPixbuf  *natter_image_decode_stream        (GInputStream        *stream,
                                               goffset              max_bytes,
                                               guint64              max_pixels,
                                               int                  max_side,
                                               GCancellable        *cancellable,
                                               GError             **error);

/* natter_image_decode_stream() of a file or of bytes in a worker thread,
 * with NATTER_IMAGE_MAX_PIXELS. */
void        natter_image_decode_file_async    (GFile               *file,
                                               goffset              max_bytes,
                                               int                  max_side,
                                               GCancellable        *cancellable,
                                               GAsyncReadyCallback  callback,
                                               gpointer             user_data);
void        natter_image_decode_bytes_async   (GBytes              *bytes,
                                               int                  max_side,
                                               GCancellable        *cancellable,
                                               GAsyncReadyCallback  callback,
                                               gpointer             user_data);
GdkPixbuf  *natter_image_decode_finish        (GAsyncResult        *result,
                                               GError             **error);

G_END_DECLS
