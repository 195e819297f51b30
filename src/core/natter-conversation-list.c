/* natter-conversation-list.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-conversation-list.h"

struct _NatterConversationList
{
  GObject parent_instance;

  NatterClient *client;
  NatterStore *store;
  GPtrArray *items;             /* NatterConversation, in display order */
  guint types_mask;             /* bit per conversation type; 0 = all */
  guint unread_total;
  gboolean loading;
  gboolean complete;            /* every conversation in, not just the first page */
  guint load_serial;
  guint rest_id;                /* idle: load the rest after the first page */
};

/* A first screen's worth, then the rest: with 10,000 conversations the
 * whole list is ~100 ms of the store's thread and ~25 ms of the main
 * thread's, between the app's first frame and its filled list (#17). */
#define FIRST_PAGE 64

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (NatterConversationList, natter_conversation_list, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

enum {
  PROP_0,
  PROP_CLIENT,
  PROP_UNREAD_TOTAL,
  PROP_LOADING,
  PROP_COMPLETE,
  PROP_N_ITEMS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* ----------------------------------------------------------- GListModel */

static GType
get_item_type (GListModel *model)
{
  return NATTER_TYPE_CONVERSATION;
}

static guint
get_n_items (GListModel *model)
{
  return NATTER_CONVERSATION_LIST (model)->items->len;
}

static gpointer
get_item (GListModel *model,
          guint       position)
{
  NatterConversationList *self = NATTER_CONVERSATION_LIST (model);

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

/* ---------------------------------------------------------------- order */

/* Pinned first, then the newest activity; the key keeps ties stable. */
static int
compare (NatterConversation *a,
         NatterConversation *b)
{
  gboolean pa = natter_conversation_get_pinned (a);
  gboolean pb = natter_conversation_get_pinned (b);
  gint64 ta, tb;
  int c;

  if (pa != pb)
    return pa ? -1 : 1;

  ta = natter_conversation_get_updated_time (a);
  tb = natter_conversation_get_updated_time (b);
  if (ta != tb)
    return ta > tb ? -1 : 1;

  c = (int) natter_conversation_get_conversation_type (a) - (int) natter_conversation_get_conversation_type (b);
  if (c != 0)
    return c;
  return g_strcmp0 (natter_conversation_get_target_id (a), natter_conversation_get_target_id (b));
}

static gboolean
type_shown (NatterConversationList *self,
            NatterConversationType  type)
{
  return self->types_mask == 0 || (self->types_mask & (1u << type)) != 0;
}

static void
update_unread_total (NatterConversationList *self)
{
  guint total = 0;

  for (guint i = 0; i < self->items->len; i++)
    {
      NatterConversation *conversation = g_ptr_array_index (self->items, i);

      if (!natter_conversation_get_muted (conversation))
        total += natter_conversation_get_unread_count (conversation);
    }

  if (total != self->unread_total)
    {
      self->unread_total = total;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UNREAD_TOTAL]);
    }
}

static guint
find_item (NatterConversationList *self,
           NatterConversationType  type,
           const char             *target_id)
{
  for (guint i = 0; i < self->items->len; i++)
    {
      NatterConversation *conversation = g_ptr_array_index (self->items, i);

      if (natter_conversation_get_conversation_type (conversation) == type &&
          g_strcmp0 (natter_conversation_get_target_id (conversation), target_id) == 0)
        return i;
    }

  return G_MAXUINT;
}

static guint
sorted_position (NatterConversationList *self,
                 NatterConversation     *conversation)
{
  guint low = 0, high = self->items->len;

  while (low < high)
    {
      guint middle = low + (high - low) / 2;

      if (compare (g_ptr_array_index (self->items, middle), conversation) < 0)
        low = middle + 1;
      else
        high = middle;
    }

  return low;
}

static void
conversation_changed_cb (NatterStore            *store,
                         NatterConversation     *conversation,
                         NatterConversationList *self)
{
  guint old = find_item (self, natter_conversation_get_conversation_type (conversation),
                         natter_conversation_get_target_id (conversation));
  guint position;

  if (old != G_MAXUINT)
    {
      /* The same object, maybe with a new time: take it out to place it again. */
      g_autoptr(NatterConversation) item = g_ptr_array_steal_index (self->items, old);

      if (!type_shown (self, natter_conversation_get_conversation_type (conversation)))
        {
          g_list_model_items_changed (G_LIST_MODEL (self), old, 1, 0);
          g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ITEMS]);
          update_unread_total (self);
          return;
        }

      position = sorted_position (self, conversation);
      g_ptr_array_insert (self->items, position, g_object_ref (conversation));

      if (position != old)
        {
          /* One signal for the moved range, the array already as it says:
           * a removal then an insertion would show a list inconsistent
           * with the first signal (GTK 4.8's list view crashes on that),
           * and a selection would not follow the item. */
          guint first = MIN (old, position);
          guint n = MAX (old, position) - first + 1;

          g_list_model_items_changed (G_LIST_MODEL (self), first, n, n);
        }
      else if (item != conversation)
        g_list_model_items_changed (G_LIST_MODEL (self), position, 1, 1);
      update_unread_total (self);
      return;
    }

  if (!type_shown (self, natter_conversation_get_conversation_type (conversation)))
    return;

  position = sorted_position (self, conversation);
  g_ptr_array_insert (self->items, position, g_object_ref (conversation));
  g_list_model_items_changed (G_LIST_MODEL (self), position, 0, 1);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ITEMS]);
  update_unread_total (self);
}

static void
conversation_removed_cb (NatterStore            *store,
                         NatterConversationType  type,
                         const char             *target_id,
                         NatterConversationList *self)
{
  guint position = find_item (self, type, target_id);

  if (position == G_MAXUINT)
    return;

  g_ptr_array_remove_index (self->items, position);
  g_list_model_items_changed (G_LIST_MODEL (self), position, 1, 0);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ITEMS]);
  update_unread_total (self);
}

/* ----------------------------------------------------------------- load */

static void
set_loading (NatterConversationList *self,
             gboolean                loading)
{
  if (self->loading == loading)
    return;
  self->loading = loading;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOADING]);
}

static void
set_complete (NatterConversationList *self,
              gboolean                complete)
{
  if (self->complete == complete)
    return;
  self->complete = complete;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_COMPLETE]);
}

typedef struct {
  NatterConversationList *self;
  guint serial;
  gboolean first_page;
} LoadData;

static void load (NatterConversationList *self,
                  int                     limit);

static gboolean
load_rest_cb (gpointer user_data)
{
  NatterConversationList *self = user_data;

  self->rest_id = 0;
  if (self->store != NULL)
    load (self, -1);
  return G_SOURCE_REMOVE;
}

static void
loaded_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  LoadData *data = user_data;
  g_autoptr(NatterConversationList) self = data->self;
  guint serial = data->serial;
  gboolean first_page = data->first_page;
  g_autoptr(GPtrArray) conversations = NULL;
  g_autoptr(GError) error = NULL;
  guint removed, same = 0;

  g_free (data);
  conversations = natter_store_get_conversations_finish (NATTER_STORE (object), result, &error);

  /* set_types() started another load meanwhile: that one counts. */
  if (serial != self->load_serial)
    return;

  if (conversations == NULL)
    {
      set_loading (self, FALSE);
      set_complete (self, TRUE);
      g_warning ("Cannot load the conversation list: %s", error->message);
      return;
    }

  /* The rest after the first page: the store gives the same objects, so
   * the rows already made for the first ones stay as they are. */
  removed = self->items->len;
  while (same < removed && same < conversations->len &&
         g_ptr_array_index (self->items, same) == g_ptr_array_index (conversations, same))
    same++;
  g_ptr_array_unref (self->items);
  self->items = g_steal_pointer (&conversations);
  g_ptr_array_set_free_func (self->items, g_object_unref);
  if (removed != same || self->items->len != same)
    g_list_model_items_changed (G_LIST_MODEL (self), same, removed - same, self->items->len - same);
  if (removed != self->items->len)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ITEMS]);
  update_unread_total (self);
  /* once the items are in: who watches it finds them there */
  set_loading (self, FALSE);

  /* a full page: there may be more, once the first page is on screen */
  if (first_page && self->items->len >= FIRST_PAGE)
    {
      if (self->rest_id == 0)
        self->rest_id = g_idle_add_full (G_PRIORITY_LOW, load_rest_cb, g_object_ref (self), g_object_unref);
    }
  else
    set_complete (self, TRUE);
}

static void
load (NatterConversationList *self,
      int                     limit)
{
  NatterConversationType types[8];
  gsize n_types = 0;
  LoadData *data = g_new0 (LoadData, 1);

  for (int type = NATTER_CONVERSATION_PRIVATE; type <= NATTER_CONVERSATION_PUBLIC_SERVICE; type++)
    if (self->types_mask & (1u << type))
      types[n_types++] = type;

  data->self = g_object_ref (self);
  data->serial = ++self->load_serial;
  data->first_page = limit >= 0;
  natter_store_get_first_conversations_async (self->store, types, n_types, limit, NULL, loaded_cb, data);
}

static void
reload (NatterConversationList *self)
{
  g_clear_handle_id (&self->rest_id, g_source_remove);
  set_loading (self, TRUE);
  set_complete (self, FALSE);
  load (self, FIRST_PAGE);
}

/* --------------------------------------------------------------- GObject */

static void
natter_conversation_list_constructed (GObject *object)
{
  NatterConversationList *self = (NatterConversationList *) object;

  G_OBJECT_CLASS (natter_conversation_list_parent_class)->constructed (object);

  self->store = g_object_ref (natter_client_get_store (self->client));
  g_signal_connect_object (self->store, "conversation-changed",
                           G_CALLBACK (conversation_changed_cb), self, 0);
  g_signal_connect_object (self->store, "conversation-removed",
                           G_CALLBACK (conversation_removed_cb), self, 0);
  reload (self);
}

static void
natter_conversation_list_dispose (GObject *object)
{
  NatterConversationList *self = (NatterConversationList *) object;

  g_clear_handle_id (&self->rest_id, g_source_remove);
  g_clear_object (&self->store);
  g_clear_object (&self->client);

  G_OBJECT_CLASS (natter_conversation_list_parent_class)->dispose (object);
}

static void
natter_conversation_list_finalize (GObject *object)
{
  NatterConversationList *self = (NatterConversationList *) object;

  g_ptr_array_unref (self->items);

  G_OBJECT_CLASS (natter_conversation_list_parent_class)->finalize (object);
}

static void
natter_conversation_list_get_property (GObject    *object,
                                       guint       prop_id,
                                       GValue     *value,
                                       GParamSpec *pspec)
{
  NatterConversationList *self = NATTER_CONVERSATION_LIST (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      g_value_set_object (value, self->client);
      break;
    case PROP_UNREAD_TOTAL:
      g_value_set_uint (value, self->unread_total);
      break;
    case PROP_LOADING:
      g_value_set_boolean (value, self->loading);
      break;
    case PROP_COMPLETE:
      g_value_set_boolean (value, self->complete);
      break;
    case PROP_N_ITEMS:
      g_value_set_uint (value, self->items->len);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_conversation_list_set_property (GObject      *object,
                                       guint         prop_id,
                                       const GValue *value,
                                       GParamSpec   *pspec)
{
  NatterConversationList *self = NATTER_CONVERSATION_LIST (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      self->client = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_conversation_list_class_init (NatterConversationListClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->constructed = natter_conversation_list_constructed;
  object_class->dispose = natter_conversation_list_dispose;
  object_class->finalize = natter_conversation_list_finalize;
  object_class->get_property = natter_conversation_list_get_property;
  object_class->set_property = natter_conversation_list_set_property;

  properties[PROP_CLIENT] =
    g_param_spec_object ("client", NULL, NULL, NATTER_TYPE_CLIENT,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_EXPLICIT_NOTIFY |
                         G_PARAM_STATIC_STRINGS);
  properties[PROP_UNREAD_TOTAL] =
    g_param_spec_uint ("unread-total", NULL, "Unread messages, muted conversations excluded",
                       0, G_MAXUINT, 0, ro);
  properties[PROP_LOADING] =
    g_param_spec_boolean ("loading", NULL, NULL, FALSE, ro);
  properties[PROP_COMPLETE] =
    g_param_spec_boolean ("complete", NULL, "Every conversation loaded, not only the first page", FALSE, ro);
  properties[PROP_N_ITEMS] =
    g_param_spec_uint ("n-items", NULL, NULL, 0, G_MAXUINT, 0, ro);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
natter_conversation_list_init (NatterConversationList *self)
{
  self->items = g_ptr_array_new_with_free_func (g_object_unref);
}

NatterConversationList *
natter_conversation_list_new (NatterClient *client)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (client), NULL);
  return g_object_new (NATTER_TYPE_CONVERSATION_LIST, "client", client, NULL);
}

void
natter_conversation_list_set_types (NatterConversationList       *self,
                                    const NatterConversationType *types,
                                    gsize                         n_types)
{
  guint mask = 0;

  g_return_if_fail (NATTER_IS_CONVERSATION_LIST (self));

  for (gsize i = 0; i < n_types; i++)
    if (NATTER_CONVERSATION_TYPE_IS_VALID (types[i]))
      mask |= 1u << types[i];

  if (mask == self->types_mask)
    return;

  self->types_mask = mask;
  reload (self);
}

guint
natter_conversation_list_get_unread_total (NatterConversationList *self)
{
  g_return_val_if_fail (NATTER_IS_CONVERSATION_LIST (self), 0);
  return self->unread_total;
}

gboolean
natter_conversation_list_get_complete (NatterConversationList *self)
{
  g_return_val_if_fail (NATTER_IS_CONVERSATION_LIST (self), FALSE);
  return self->complete;
}

gboolean
natter_conversation_list_get_loading (NatterConversationList *self)
{
  g_return_val_if_fail (NATTER_IS_CONVERSATION_LIST (self), FALSE);
  return self->loading;
}

guint
natter_conversation_list_find (NatterConversationList *self,
                               NatterConversationType  type,
                               const char             *target_id)
{
  g_return_val_if_fail (NATTER_IS_CONVERSATION_LIST (self), G_MAXUINT);
  return find_item (self, type, target_id);
}
