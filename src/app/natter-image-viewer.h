/* natter-image-viewer.h — the full image of an image message
 *
 * Shows the thumbnail at once, downloads the full image into the cache and
 * decodes it in a worker thread, then shows it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>
#include <natter.h>

G_BEGIN_DECLS

#define NATTER_TYPE_IMAGE_VIEWER (natter_image_viewer_get_type ())

G_DECLARE_FINAL_TYPE (NatterImageViewer, natter_image_viewer, NATTER, IMAGE_VIEWER, AdwWindow)

GtkWidget *natter_image_viewer_new (GtkWindow     *parent,
                                    NatterClient  *client,
                                    NatterMessage *message);

G_END_DECLS
