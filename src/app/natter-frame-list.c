/* natter-frame-list.c — a list model's changes, given on as one a frame
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-frame-list.h"

/* Frames can stop without an unmap (a frozen clock): then the changes go
 * on after this long all the same. */
#define FALLBACK_MS 500

struct _NatterFrameList
{
  GObject parent_instance;

  GListModel *model;
  GtkWidget *widget;     /* weak */
  GPtrArray *items;      /* the source as this model shows it */
  gboolean dirty;
  guint prefix;          /* the source's items before it, and after it from the end, */
  guint suffix;          /* untouched since the last change given on */
  guint tick_id;
  guint fallback_id;
  gulong unmap_id;
  guint n_changes;
};

static void natter_frame_list_model_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (NatterFrameList, natter_frame_list, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, natter_frame_list_model_init))

static GType
get_item_type (GListModel *list)
{
  NatterFrameList *self = NATTER_FRAME_LIST (list);

  return self->model != NULL ? g_list_model_get_item_type (self->model) : G_TYPE_OBJECT;
}

static guint
get_n_items (GListModel *list)
{
  return NATTER_FRAME_LIST (list)->items->len;
}

static gpointer
get_item (GListModel *list,
          guint       position)
{
  NatterFrameList *self = NATTER_FRAME_LIST (list);

  if (position >= self->items->len)
    return NULL;
  return g_object_ref (g_ptr_array_index (self->items, position));
}

static void
natter_frame_list_model_init (GListModelInterface *iface)
{
  iface->get_item_type = get_item_type;
  iface->get_n_items = get_n_items;
  iface->get_item = get_item;
}

static void
stop_waiting (NatterFrameList *self)
{
  if (self->tick_id != 0 && self->widget != NULL)
    gtk_widget_remove_tick_callback (self->widget, self->tick_id);
  self->tick_id = 0;
  g_clear_handle_id (&self->fallback_id, g_source_remove);
}

void
natter_frame_list_flush (NatterFrameList *self)
{
  guint removed, added, n;

  g_return_if_fail (NATTER_IS_FRAME_LIST (self));

  stop_waiting (self);
  if (!self->dirty)
    return;
  self->dirty = FALSE;
  n = self->model != NULL ? g_list_model_get_n_items (self->model) : 0;
  removed = self->items->len - self->prefix - self->suffix;
  added = n - self->prefix - self->suffix;
  if (removed > 0)
    g_ptr_array_remove_range (self->items, self->prefix, removed);
  for (guint i = 0; i < added; i++)
    g_ptr_array_insert (self->items, self->prefix + i, g_list_model_get_item (self->model, self->prefix + i));
  if (removed > 0 || added > 0)
    {
      self->n_changes++;
      g_list_model_items_changed (G_LIST_MODEL (self), self->prefix, removed, added);
    }
}

static gboolean
tick_cb (GtkWidget     *widget,
         GdkFrameClock *clock,
         gpointer       user_data)
{
  NatterFrameList *self = user_data;

  self->tick_id = 0;
  natter_frame_list_flush (self);
  return G_SOURCE_REMOVE;
}

static gboolean
fallback_cb (gpointer user_data)
{
  NatterFrameList *self = user_data;

  self->fallback_id = 0;
  natter_frame_list_flush (self);
  return G_SOURCE_REMOVE;
}

static void
model_changed_cb (GListModel      *model,
                  guint            position,
                  guint            removed,
                  guint            added,
                  NatterFrameList *self)
{
  guint after = g_list_model_get_n_items (model) - position - added;

  /* the items before the first change and after the last one (counted
   * from the end, which a change further up does not move) are the ones
   * this model already has */
  if (!self->dirty)
    {
      self->dirty = TRUE;
      self->prefix = position;
      self->suffix = after;
    }
  else
    {
      self->prefix = MIN (self->prefix, position);
      self->suffix = MIN (self->suffix, after);
    }

  if (self->widget == NULL || !gtk_widget_get_mapped (self->widget))
    {
      natter_frame_list_flush (self);
      return;
    }
  if (self->tick_id == 0)
    self->tick_id = gtk_widget_add_tick_callback (self->widget, tick_cb, self, NULL);
  if (self->fallback_id == 0)
    self->fallback_id = g_timeout_add (FALLBACK_MS, fallback_cb, self);
}

GListModel *
natter_frame_list_get_model (NatterFrameList *self)
{
  g_return_val_if_fail (NATTER_IS_FRAME_LIST (self), NULL);
  return self->model;
}

void
natter_frame_list_set_model (NatterFrameList *self,
                             GListModel      *model)
{
  guint removed, added;

  g_return_if_fail (NATTER_IS_FRAME_LIST (self));
  g_return_if_fail (model == NULL || G_IS_LIST_MODEL (model));

  if (self->model == model)
    return;
  stop_waiting (self);
  self->dirty = FALSE;
  if (self->model != NULL)
    g_signal_handlers_disconnect_by_data (self->model, self);
  g_set_object (&self->model, model);

  removed = self->items->len;
  g_ptr_array_set_size (self->items, 0);
  added = model != NULL ? g_list_model_get_n_items (model) : 0;
  for (guint i = 0; i < added; i++)
    g_ptr_array_add (self->items, g_list_model_get_item (model, i));
  if (model != NULL)
    g_signal_connect (model, "items-changed", G_CALLBACK (model_changed_cb), self);
  if (removed > 0 || added > 0)
    {
      self->n_changes++;
      g_list_model_items_changed (G_LIST_MODEL (self), 0, removed, added);
    }
}

void
natter_frame_list_set_widget (NatterFrameList *self,
                              GtkWidget       *widget)
{
  g_return_if_fail (NATTER_IS_FRAME_LIST (self));
  g_return_if_fail (widget == NULL || GTK_IS_WIDGET (widget));

  if (self->widget == widget)
    return;
  /* what waits for the old widget's frame goes on now */
  natter_frame_list_flush (self);
  if (self->widget != NULL)
    {
      g_clear_signal_handler (&self->unmap_id, self->widget);
      g_object_remove_weak_pointer (G_OBJECT (self->widget), (gpointer *) &self->widget);
    }
  self->widget = widget;
  if (widget != NULL)
    {
      g_object_add_weak_pointer (G_OBJECT (widget), (gpointer *) &self->widget);
      /* off screen no frames come */
      self->unmap_id = g_signal_connect_swapped (widget, "unmap", G_CALLBACK (natter_frame_list_flush), self);
    }
}

guint
natter_frame_list_get_n_changes (NatterFrameList *self)
{
  g_return_val_if_fail (NATTER_IS_FRAME_LIST (self), 0);
  return self->n_changes;
}

NatterFrameList *
natter_frame_list_new (GListModel *model,
                       GtkWidget  *widget)
{
  NatterFrameList *self = g_object_new (NATTER_TYPE_FRAME_LIST, NULL);

  natter_frame_list_set_widget (self, widget);
  natter_frame_list_set_model (self, model);
  return self;
}

static void
natter_frame_list_dispose (GObject *object)
{
  NatterFrameList *self = NATTER_FRAME_LIST (object);

  /* nothing given on while going */
  stop_waiting (self);
  self->dirty = FALSE;
  natter_frame_list_set_widget (self, NULL);
  if (self->model != NULL)
    g_signal_handlers_disconnect_by_data (self->model, self);
  g_clear_object (&self->model);
  g_ptr_array_set_size (self->items, 0);

  G_OBJECT_CLASS (natter_frame_list_parent_class)->dispose (object);
}

static void
natter_frame_list_finalize (GObject *object)
{
  NatterFrameList *self = NATTER_FRAME_LIST (object);

  g_ptr_array_unref (self->items);

  G_OBJECT_CLASS (natter_frame_list_parent_class)->finalize (object);
}

static void
natter_frame_list_class_init (NatterFrameListClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = natter_frame_list_dispose;
  object_class->finalize = natter_frame_list_finalize;
}

static void
natter_frame_list_init (NatterFrameList *self)
{
  self->items = g_ptr_array_new_with_free_func (g_object_unref);
}
