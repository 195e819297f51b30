/* natter-tail-model.c — the newest items of a list, then all of them
 *
 * A chat opens at its newest messages, and GTK 4.8's list view makes a
 * row for every item of its model near the anchor: a page of 20 made 20
 * rows before the first frame while ~12 fit (#17). This model shows the
 * last @limit items of its model at first (also of the first batch that
 * comes into an empty model); natter_tail_model_show_all() then puts the
 * rest in above them, as an older page goes in, so the list view keeps
 * what is in view where it is.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-tail-model.h"

struct _NatterTailModel
{
  GObject parent_instance;

  GListModel *model;
  guint limit;
  guint offset;      /* the items of @model hidden above */
  gboolean limited;  /* until natter_tail_model_show_all() */
};

static GType
natter_tail_model_get_item_type (GListModel *list)
{
  NatterTailModel *self = NATTER_TAIL_MODEL (list);

  return g_list_model_get_item_type (self->model);
}

static guint
natter_tail_model_get_n_items (GListModel *list)
{
  NatterTailModel *self = NATTER_TAIL_MODEL (list);

  return g_list_model_get_n_items (self->model) - self->offset;
}

static gpointer
natter_tail_model_get_item (GListModel *list,
                            guint       position)
{
  NatterTailModel *self = NATTER_TAIL_MODEL (list);

  if (position > G_MAXUINT - self->offset)
    return NULL;
  return g_list_model_get_item (self->model, position + self->offset);
}

static void
natter_tail_model_list_model_init (GListModelInterface *iface)
{
  iface->get_item_type = natter_tail_model_get_item_type;
  iface->get_n_items = natter_tail_model_get_n_items;
  iface->get_item = natter_tail_model_get_item;
}

G_DEFINE_FINAL_TYPE_WITH_CODE (NatterTailModel, natter_tail_model, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, natter_tail_model_list_model_init))

static void
items_changed_cb (NatterTailModel *self,
                  guint            position,
                  guint            removed,
                  guint            added,
                  GListModel      *model)
{
  guint n = g_list_model_get_n_items (model);

  if (self->limited && n - added + removed == self->offset)
    {
      /* nothing was shown: the first batch is limited too */
      self->offset = n > self->limit ? n - self->limit : 0;
      if (n > self->offset)
        g_list_model_items_changed (G_LIST_MODEL (self), 0, 0, n - self->offset);
    }
  else if (position >= self->offset)
    g_list_model_items_changed (G_LIST_MODEL (self), position - self->offset, removed, added);
  else if (position + removed <= self->offset)
    self->offset = self->offset - removed + added;   /* all above what is shown */
  else
    {
      /* across the top of what is shown: the change's start is the new top */
      guint shown_removed = position + removed - self->offset;

      self->offset = position;
      g_list_model_items_changed (G_LIST_MODEL (self), 0, shown_removed, added);
    }
}

static void
natter_tail_model_dispose (GObject *object)
{
  NatterTailModel *self = NATTER_TAIL_MODEL (object);

  if (self->model != NULL)
    g_signal_handlers_disconnect_by_func (self->model, items_changed_cb, self);
  g_clear_object (&self->model);
  G_OBJECT_CLASS (natter_tail_model_parent_class)->dispose (object);
}

static void
natter_tail_model_class_init (NatterTailModelClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = natter_tail_model_dispose;
}

static void
natter_tail_model_init (NatterTailModel *self)
{
}

/* Shows the last @limit items of @model (all of them once
 * natter_tail_model_show_all() is called). */
NatterTailModel *
natter_tail_model_new (GListModel *model,
                       guint       limit)
{
  NatterTailModel *self;
  guint n;

  g_return_val_if_fail (G_IS_LIST_MODEL (model), NULL);

  self = g_object_new (NATTER_TYPE_TAIL_MODEL, NULL);
  self->model = g_object_ref (model);
  self->limit = MAX (limit, 1);
  self->limited = TRUE;
  n = g_list_model_get_n_items (model);
  self->offset = n > self->limit ? n - self->limit : 0;
  g_signal_connect_swapped (model, "items-changed", G_CALLBACK (items_changed_cb), self);
  return self;
}

GListModel *
natter_tail_model_get_model (NatterTailModel *self)
{
  g_return_val_if_fail (NATTER_IS_TAIL_MODEL (self), NULL);
  return self->model;
}

/* How many of the model's items are hidden above the first one shown:
 * the model's position of the item shown at 0. */
guint
natter_tail_model_get_offset (NatterTailModel *self)
{
  g_return_val_if_fail (NATTER_IS_TAIL_MODEL (self), 0);
  return self->offset;
}

gboolean
natter_tail_model_get_limited (NatterTailModel *self)
{
  g_return_val_if_fail (NATTER_IS_TAIL_MODEL (self), FALSE);
  return self->limited;
}

void
natter_tail_model_show_all (NatterTailModel *self)
{
  guint hidden;

  g_return_if_fail (NATTER_IS_TAIL_MODEL (self));

  hidden = self->offset;
  self->limited = FALSE;
  self->offset = 0;
  if (hidden > 0)
    g_list_model_items_changed (G_LIST_MODEL (self), 0, 0, hidden);
}
