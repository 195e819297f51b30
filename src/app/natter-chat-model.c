/* natter-chat-model.c — a NatterMessageList as the chat view shows it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-chat-model.h"

struct _NatterChatModel
{
  GObject parent_instance;

  GListModel *model;
  guint n_items;
};

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (NatterChatModel, natter_chat_model, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

static GType
get_item_type (GListModel *list)
{
  NatterChatModel *self = NATTER_CHAT_MODEL (list);
  return g_list_model_get_item_type (self->model);
}

static guint
get_n_items (GListModel *list)
{
  return NATTER_CHAT_MODEL (list)->n_items;
}

static gpointer
get_item (GListModel *list,
          guint       position)
{
  NatterChatModel *self = NATTER_CHAT_MODEL (list);

  if (position >= self->n_items)
    return NULL;
  return g_list_model_get_item (self->model, position);
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = get_item_type;
  iface->get_n_items = get_n_items;
  iface->get_item = get_item;
}

static void
items_changed_cb (NatterChatModel *self,
                  guint            position,
                  guint            removed,
                  guint            added,
                  GListModel      *model)
{
  guint old_n = self->n_items;

  self->n_items = g_list_model_get_n_items (model);
  /* The item after the change (if there was one before and is one after)
   * is reported as replaced, so its row is bound again. */
  if (position + removed < old_n && position + added < self->n_items)
    {
      removed++;
      added++;
    }
  g_list_model_items_changed (G_LIST_MODEL (self), position, removed, added);
}

GListModel *
natter_chat_model_get_model (NatterChatModel *self)
{
  g_return_val_if_fail (NATTER_IS_CHAT_MODEL (self), NULL);
  return self->model;
}

static void
natter_chat_model_dispose (GObject *object)
{
  NatterChatModel *self = (NatterChatModel *) object;

  if (self->model != NULL)
    g_signal_handlers_disconnect_by_data (self->model, self);
  g_clear_object (&self->model);

  G_OBJECT_CLASS (natter_chat_model_parent_class)->dispose (object);
}

static void
natter_chat_model_class_init (NatterChatModelClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = natter_chat_model_dispose;
}

static void
natter_chat_model_init (NatterChatModel *self)
{
}

NatterChatModel *
natter_chat_model_new (GListModel *messages)
{
  NatterChatModel *self;

  g_return_val_if_fail (G_IS_LIST_MODEL (messages), NULL);

  self = g_object_new (NATTER_TYPE_CHAT_MODEL, NULL);
  self->model = g_object_ref (messages);
  self->n_items = g_list_model_get_n_items (messages);
  g_signal_connect_swapped (messages, "items-changed", G_CALLBACK (items_changed_cb), self);
  return self;
}
