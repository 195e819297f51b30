/* natter-pane-layout.h — a pane whose natural width is fixed
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define NATTER_TYPE_PANE_LAYOUT (natter_pane_layout_get_type ())

G_DECLARE_FINAL_TYPE (NatterPaneLayout, natter_pane_layout, NATTER, PANE_LAYOUT, GtkLayoutManager)

GtkLayoutManager *natter_pane_layout_new (int natural_width);

G_END_DECLS
