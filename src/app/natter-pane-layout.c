/* natter-pane-layout.c — a pane whose natural width is fixed
 *
 * GtkBinLayout's, with one difference: the natural width is the given one
 * (at least the minimum), not the children's. The sidebar's rows and the
 * chat's messages are labels that ask for their whole text as natural
 * width, and the leaflet shares the window's width by natural widths, so
 * the edge between them followed the rows and messages on screen: each
 * chat switch moved the chat pane, and GSK redrew the whole window (#17).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-pane-layout.h"

struct _NatterPaneLayout
{
  GtkLayoutManager parent_instance;

  int natural_width;        /* 0: the minimum */
};

G_DEFINE_FINAL_TYPE (NatterPaneLayout, natter_pane_layout, GTK_TYPE_LAYOUT_MANAGER)

static void
natter_pane_layout_measure (GtkLayoutManager *manager,
                            GtkWidget        *widget,
                            GtkOrientation    orientation,
                            int               for_size,
                            int              *minimum,
                            int              *natural,
                            int              *minimum_baseline,
                            int              *natural_baseline)
{
  NatterPaneLayout *self = NATTER_PANE_LAYOUT (manager);

  *minimum = *natural = 0;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      int child_min = 0, child_nat = 0;

      if (!gtk_widget_should_layout (child))
        continue;
      gtk_widget_measure (child, orientation, for_size, &child_min, &child_nat, NULL, NULL);
      *minimum = MAX (*minimum, child_min);
      *natural = MAX (*natural, child_nat);
    }
  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    *natural = MAX (*minimum, self->natural_width);
}

static void
natter_pane_layout_allocate (GtkLayoutManager *manager,
                             GtkWidget        *widget,
                             int               width,
                             int               height,
                             int               baseline)
{
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (gtk_widget_should_layout (child))
      gtk_widget_allocate (child, width, height, baseline, NULL);
}

static void
natter_pane_layout_class_init (NatterPaneLayoutClass *klass)
{
  GtkLayoutManagerClass *manager_class = GTK_LAYOUT_MANAGER_CLASS (klass);

  manager_class->measure = natter_pane_layout_measure;
  manager_class->allocate = natter_pane_layout_allocate;
}

static void
natter_pane_layout_init (NatterPaneLayout *self)
{
}

/* @natural_width: the pane's natural width, at least its minimum (0: its
 * minimum: it takes what the others leave, with hexpand). */
GtkLayoutManager *
natter_pane_layout_new (int natural_width)
{
  NatterPaneLayout *self = g_object_new (NATTER_TYPE_PANE_LAYOUT, NULL);

  self->natural_width = natural_width;
  return GTK_LAYOUT_MANAGER (self);
}
