/* natter-list-mirror.c — a GListModel that mirrors another one
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-list-mirror.h"

struct _NatterListMirror
{
  GObject parent_instance;

  GListModel *source;
  GPtrArray *items;
};

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (NatterListMirror, natter_list_mirror, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

static GType
get_item_type (GListModel *list)
{
  return g_list_model_get_item_type (NATTER_LIST_MIRROR (list)->source);
}

static guint
get_n_items (GListModel *list)
{
  return NATTER_LIST_MIRROR (list)->items->len;
}

static gpointer
get_item (GListModel *list,
          guint       position)
{
  NatterListMirror *self = NATTER_LIST_MIRROR (list);

  if (position >= self->items->len)
    return NULL;
  return g_object_ref (g_ptr_array_index (self->items, position));
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = get_item_type;
  iface->get_n_items = get_n_items;
  iface->get_item = get_item;
}

static void
items_changed_cb (NatterListMirror *self,
                  guint             position,
                  guint             removed,
                  guint             added,
                  GListModel       *source)
{
  guint n_source = g_list_model_get_n_items (source);

  position = MIN (position, self->items->len);
  removed = MIN (removed, self->items->len - position);
  if (removed > 0)
    g_ptr_array_remove_range (self->items, position, removed);
  for (guint i = 0; i < added; i++)
    {
      /* the source's items at the positions the signal names */
      gpointer item = position + i < n_source ? g_list_model_get_item (source, position + i) : NULL;
      if (item == NULL)
        {
          added = i;
          break;
        }
      g_ptr_array_insert (self->items, position + i, item);
    }
  g_list_model_items_changed (G_LIST_MODEL (self), position, removed, added);
}

static void
natter_list_mirror_dispose (GObject *object)
{
  NatterListMirror *self = (NatterListMirror *) object;

  if (self->source != NULL)
    g_signal_handlers_disconnect_by_data (self->source, self);
  g_clear_object (&self->source);
  g_clear_pointer (&self->items, g_ptr_array_unref);

  G_OBJECT_CLASS (natter_list_mirror_parent_class)->dispose (object);
}

static void
natter_list_mirror_class_init (NatterListMirrorClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = natter_list_mirror_dispose;
}

static void
natter_list_mirror_init (NatterListMirror *self)
{
  self->items = g_ptr_array_new_with_free_func (g_object_unref);
}

NatterListMirror *
natter_list_mirror_new (GListModel *source)
{
  NatterListMirror *self;
  guint n;

  g_return_val_if_fail (G_IS_LIST_MODEL (source), NULL);

  self = g_object_new (NATTER_TYPE_LIST_MIRROR, NULL);
  self->source = g_object_ref (source);
  n = g_list_model_get_n_items (source);
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (self->items, g_list_model_get_item (source, i));
  g_signal_connect_swapped (source, "items-changed", G_CALLBACK (items_changed_cb), self);
  return self;
}
