/* natter-damage-meter.h — which pixels of a window the app redrew
 *
 * The X server's count (the DAMAGE extension) of the pixels drawn into a
 * toplevel's X window: what GSK's cairo renderer actually repainted after
 * diffing the frame's render nodes with the last one's (#17). For the
 * benchmark and the tests; NULL on other windowing systems.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define NATTER_TYPE_DAMAGE_METER (natter_damage_meter_get_type ())

G_DECLARE_FINAL_TYPE (NatterDamageMeter, natter_damage_meter, NATTER, DAMAGE_METER, GObject)

NatterDamageMeter *natter_damage_meter_new      (GtkWindow         *window);
cairo_region_t    *natter_damage_meter_take     (NatterDamageMeter *self);
gboolean           natter_damage_meter_bounds   (NatterDamageMeter *self,
                                                 GtkWidget         *widget,
                                                 cairo_rectangle_int_t *rect);
double             natter_damage_meter_area     (const cairo_region_t *region);

G_END_DECLS
