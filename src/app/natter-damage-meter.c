/* natter-damage-meter.c — which pixels of a window the app redrew
 *
 * An XDamage object on the toplevel's X window: natter_damage_meter_take()
 * fetches and clears what was drawn since the last call, in one round
 * trip, after every request GDK and cairo sent before it (one connection,
 * handled in order), so a frame's paint is in it once the frame ended.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <math.h>

#include "natter-damage-meter.h"

#if defined (GDK_WINDOWING_X11) && defined (NATTER_HAVE_XDAMAGE)
#define HAVE_METER 1
#include <gdk/x11/gdkx.h>
#include <X11/extensions/Xdamage.h>
#include <X11/extensions/Xfixes.h>
#endif

struct _NatterDamageMeter
{
  GObject parent_instance;

  GtkWindow *window;        /* not owned */
#ifdef HAVE_METER
  Display *xdisplay;
  Damage damage;
  XserverRegion parts;
#endif
};

G_DEFINE_FINAL_TYPE (NatterDamageMeter, natter_damage_meter, G_TYPE_OBJECT)

static void
natter_damage_meter_finalize (GObject *object)
{
#ifdef HAVE_METER
  NatterDamageMeter *self = NATTER_DAMAGE_METER (object);

  if (self->xdisplay != NULL)
    {
      XDamageDestroy (self->xdisplay, self->damage);
      XFixesDestroyRegion (self->xdisplay, self->parts);
    }
#endif
  G_OBJECT_CLASS (natter_damage_meter_parent_class)->finalize (object);
}

static void
natter_damage_meter_class_init (NatterDamageMeterClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = natter_damage_meter_finalize;
}

static void
natter_damage_meter_init (NatterDamageMeter *self)
{
}

/* @window realized. NULL when it is not an X11 window or the server has no
 * DAMAGE extension. */
NatterDamageMeter *
natter_damage_meter_new (GtkWindow *window)
{
#ifdef HAVE_METER
  GdkSurface *surface;
  GdkDisplay *display;
  NatterDamageMeter *self;
  int event_base, error_base;

  g_return_val_if_fail (GTK_IS_WINDOW (window), NULL);

  surface = gtk_native_get_surface (GTK_NATIVE (window));
  display = gtk_widget_get_display (GTK_WIDGET (window));
  if (surface == NULL || !GDK_IS_X11_DISPLAY (display))
    return NULL;
  self = g_object_new (NATTER_TYPE_DAMAGE_METER, NULL);
  self->xdisplay = gdk_x11_display_get_xdisplay (display);
  if (!XDamageQueryExtension (self->xdisplay, &event_base, &error_base) ||
      !XFixesQueryExtension (self->xdisplay, &event_base, &error_base))
    {
      self->xdisplay = NULL;
      g_object_unref (self);
      return NULL;
    }
  self->window = window;
  /* one notify when it becomes non-empty; GDK drops the event */
  self->damage = XDamageCreate (self->xdisplay, gdk_x11_surface_get_xid (surface),
                                XDamageReportNonEmpty);
  self->parts = XFixesCreateRegion (self->xdisplay, NULL, 0);
  return self;
#else
  return NULL;
#endif
}

/* What was drawn into the window since the meter was made or last taken,
 * in the surface's pixels; the meter starts over. */
cairo_region_t *
natter_damage_meter_take (NatterDamageMeter *self)
{
  cairo_region_t *region = cairo_region_create ();
#ifdef HAVE_METER
  XRectangle *rects;
  int n = 0;

  g_return_val_if_fail (NATTER_IS_DAMAGE_METER (self), region);

  XDamageSubtract (self->xdisplay, self->damage, None, self->parts);
  rects = XFixesFetchRegion (self->xdisplay, self->parts, &n);
  for (int i = 0; i < n; i++)
    cairo_region_union_rectangle (region, &(cairo_rectangle_int_t) {
                                    rects[i].x, rects[i].y, rects[i].width, rects[i].height });
  if (rects != NULL)
    XFree (rects);
#endif
  return region;
}

/* @widget's bounds in the surface's pixels (the window's shadow, outside
 * its widget, moves them), to compare with what was taken. */
gboolean
natter_damage_meter_bounds (NatterDamageMeter     *self,
                            GtkWidget             *widget,
                            cairo_rectangle_int_t *rect)
{
  graphene_rect_t bounds;
  double dx, dy;

  g_return_val_if_fail (NATTER_IS_DAMAGE_METER (self), FALSE);

  if (!gtk_widget_compute_bounds (widget, GTK_WIDGET (self->window), &bounds))
    return FALSE;
  gtk_native_get_surface_transform (GTK_NATIVE (self->window), &dx, &dy);
  rect->x = (int) floor (bounds.origin.x + dx);
  rect->y = (int) floor (bounds.origin.y + dy);
  rect->width = (int) ceil (bounds.origin.x + dx + bounds.size.width) - rect->x;
  rect->height = (int) ceil (bounds.origin.y + dy + bounds.size.height) - rect->y;
  return TRUE;
}

/* Pixels in @region. */
double
natter_damage_meter_area (const cairo_region_t *region)
{
  double area = 0;

  for (int i = 0; i < cairo_region_num_rectangles (region); i++)
    {
      cairo_rectangle_int_t r;

      cairo_region_get_rectangle (region, i, &r);
      area += (double) r.width * r.height;
    }
  return area;
}
