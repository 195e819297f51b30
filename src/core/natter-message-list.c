/* natter-message-list.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-message-list.h"

#include "natter-client-private.h"

struct _NatterMessageList
{
  GObject parent_instance;

  NatterClient *client;
  NatterStore *store;
  NatterConversationType type;
  char *target_id;

  GPtrArray *items;             /* NatterMessage, oldest first */
  GHashTable *kinds;            /* message id -> kind shown, to notice a recall */
  gboolean has_more;
  gboolean loading;
  gboolean store_exhausted;     /* the store has nothing older than the first item */
  /* The server confirmed that the store holds every message of the
   * conversation sent at or after this time (G_MAXINT64: nothing confirmed
   * yet, 0: all of it). The store alone can have gaps: messages sent from
   * the user's other devices reach this one only through history. */
  gint64 verified_time;
  GList *waiting;               /* load_older tasks joined to the running one */
  /* FALSE for a prefetched list (natter_message_list_prefetch()): the
   * store's page only, no server, until natter_message_list_activate() */
  gboolean active;
};

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (NatterMessageList, natter_message_list, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

enum {
  PROP_0,
  PROP_CLIENT,
  PROP_CONVERSATION_TYPE,
  PROP_TARGET_ID,
  PROP_HAS_MORE,
  PROP_LOADING,
  PROP_N_ITEMS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* ----------------------------------------------------------- GListModel */

static GType
get_item_type (GListModel *model)
{
  return NATTER_TYPE_MESSAGE;
}

static guint
get_n_items (GListModel *model)
{
  return NATTER_MESSAGE_LIST (model)->items->len;
}

static gpointer
get_item (GListModel *model,
          guint       position)
{
  NatterMessageList *self = NATTER_MESSAGE_LIST (model);

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

/* --------------------------------------------------------------- helpers */

static void
set_loading (NatterMessageList *self,
             gboolean           loading)
{
  if (self->loading == loading)
    return;
  self->loading = loading;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOADING]);
}

static void
set_has_more (NatterMessageList *self,
              gboolean           has_more)
{
  if (self->has_more == has_more)
    return;
  self->has_more = has_more;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HAS_MORE]);
}

static gboolean
is_ours (NatterMessageList *self,
         NatterMessage     *message)
{
  return natter_message_get_conversation_type (message) == self->type &&
         g_strcmp0 (natter_message_get_target_id (message), self->target_id) == 0;
}

static void
remember_kind (NatterMessageList *self,
               NatterMessage     *message)
{
  gint64 id = natter_message_get_message_id (message);

  g_hash_table_insert (self->kinds, g_memdup2 (&id, sizeof id),
                       GINT_TO_POINTER (natter_message_get_kind (message)));
}

/* (sent time, id) is the order of the store. */
static int
compare (NatterMessage *a,
         NatterMessage *b)
{
  gint64 ta = natter_message_get_sent_time (a), tb = natter_message_get_sent_time (b);
  gint64 ia = natter_message_get_message_id (a), ib = natter_message_get_message_id (b);

  if (ta != tb)
    return ta < tb ? -1 : 1;
  return ia < ib ? -1 : ia > ib;
}

guint
natter_message_list_find (NatterMessageList *self,
                          gint64             message_id)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE_LIST (self), G_MAXUINT);

  /* From the end: what changes is nearly always recent. */
  for (guint i = self->items->len; i > 0; i--)
    if (natter_message_get_message_id (g_ptr_array_index (self->items, i - 1)) == message_id)
      return i - 1;

  return G_MAXUINT;
}

/* ------------------------------------------------------------ live changes */

static void
message_added_cb (NatterStore       *store,
                  NatterMessage     *message,
                  NatterMessageList *self)
{
  guint position;

  if (!is_ours (self, message) ||
      natter_message_list_find (self, natter_message_get_message_id (message)) != G_MAXUINT)
    return;

  /* Nearly always the end; an offline message may be a little older. */
  position = self->items->len;
  while (position > 0 && compare (g_ptr_array_index (self->items, position - 1), message) > 0)
    position--;

  /* Older than everything shown: it belongs to a page not loaded yet. */
  if (position == 0 && self->items->len > 0 && self->has_more)
    return;

  g_ptr_array_insert (self->items, position, g_object_ref (message));
  remember_kind (self, message);
  g_list_model_items_changed (G_LIST_MODEL (self), position, 0, 1);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ITEMS]);
}

static void
message_updated_cb (NatterStore       *store,
                    NatterMessage     *message,
                    NatterMessageList *self)
{
  gint64 id = natter_message_get_message_id (message);
  guint position;
  gpointer old_kind;

  if (!is_ours (self, message))
    return;

  position = natter_message_list_find (self, id);
  if (position == G_MAXUINT)
    return;

  /* The object itself is updated in place (bound widgets follow its
   * notify); only a message that became something else (recall) needs a
   * new row. */
  if (g_ptr_array_index (self->items, position) != (gpointer) message)
    {
      g_object_unref (self->items->pdata[position]);
      self->items->pdata[position] = g_object_ref (message);
      remember_kind (self, message);
      g_list_model_items_changed (G_LIST_MODEL (self), position, 1, 1);
      return;
    }

  old_kind = g_hash_table_lookup (self->kinds, &id);
  if (GPOINTER_TO_INT (old_kind) != (int) natter_message_get_kind (message))
    {
      remember_kind (self, message);
      g_list_model_items_changed (G_LIST_MODEL (self), position, 1, 1);
    }
}

static void
messages_cleared_cb (NatterStore            *store,
                     NatterConversationType  type,
                     const char             *target_id,
                     NatterMessageList      *self)
{
  guint removed = self->items->len;

  if (type != self->type || g_strcmp0 (target_id, self->target_id) != 0 || removed == 0)
    return;

  g_ptr_array_set_size (self->items, 0);
  g_hash_table_remove_all (self->kinds);
  g_list_model_items_changed (G_LIST_MODEL (self), 0, removed, 0);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ITEMS]);
}

static int
compare_indirect (gconstpointer a,
                  gconstpointer b)
{
  return compare (*(NatterMessage **) a, *(NatterMessage **) b);
}

/* Puts each message not shown yet at its place; returns how many. A page
 * that goes wholly in front (older pages, the first page) or after the
 * end is one items-changed: a list view lays out the rows once. Messages
 * that fall in between (the server filling a gap) go one by one. */
static guint
merge_messages (NatterMessageList *self,
                GPtrArray         *messages)
{
  g_autoptr(GPtrArray) fresh = g_ptr_array_new ();
  guint n_before = self->items->len;
  NatterMessage *first_new, *last_new;
  guint position;

  for (guint i = 0; i < messages->len; i++)
    {
      NatterMessage *message = g_ptr_array_index (messages, i);

      if (is_ours (self, message) &&
          natter_message_list_find (self, natter_message_get_message_id (message)) == G_MAXUINT)
        g_ptr_array_add (fresh, message);
    }
  if (fresh->len == 0)
    return 0;

  g_ptr_array_sort (fresh, compare_indirect);
  first_new = g_ptr_array_index (fresh, 0);
  last_new = g_ptr_array_index (fresh, fresh->len - 1);

  if (n_before == 0 || compare (last_new, g_ptr_array_index (self->items, 0)) < 0)
    position = 0;
  else if (compare (first_new, g_ptr_array_index (self->items, n_before - 1)) > 0)
    position = n_before;
  else
    position = G_MAXUINT;

  if (position != G_MAXUINT)
    {
      for (guint i = 0; i < fresh->len; i++)
        {
          g_ptr_array_insert (self->items, position + i, g_object_ref (fresh->pdata[i]));
          remember_kind (self, fresh->pdata[i]);
        }
      g_list_model_items_changed (G_LIST_MODEL (self), position, 0, fresh->len);
    }
  else
    for (guint i = 0; i < fresh->len; i++)
      {
        NatterMessage *message = g_ptr_array_index (fresh, i);
        guint low = 0, high = self->items->len;

        /* The list is sorted by (sent time, id). */
        while (low < high)
          {
            guint middle = low + (high - low) / 2;

            if (compare (g_ptr_array_index (self->items, middle), message) < 0)
              low = middle + 1;
            else
              high = middle;
          }

        g_ptr_array_insert (self->items, low, g_object_ref (message));
        remember_kind (self, message);
        g_list_model_items_changed (G_LIST_MODEL (self), low, 0, 1);
      }

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ITEMS]);
  return fresh->len;
}

/* ------------------------------------------------------------- loading */

/* One load: (1) the store's page before the first item, shown at once;
 * (2) while the region shown is not confirmed by the server, server
 * history pages before the confirmed time, merged in. Offline, (2) waits
 * for the next connection. */
typedef struct {
  guint added;
  gboolean store_done;
  guint server_pages;
} LoadData;

static void
update_has_more (NatterMessageList *self)
{
  gboolean server_more = self->type != NATTER_CONVERSATION_CHATROOM && self->verified_time != 0;

  set_has_more (self, !self->store_exhausted || server_more);
}

static void
finish_load (NatterMessageList *self,
             GTask             *task,
             GError            *error)
{
  LoadData *data = g_task_get_task_data (task);
  GList *waiting = g_steal_pointer (&self->waiting);
  guint added = data->added;

  /* Some messages came (from the store): that is a result, not an error. */
  if (added > 0)
    g_clear_error (&error);

  update_has_more (self);
  set_loading (self, FALSE);

  for (GList *l = waiting; l != NULL; l = l->next)
    {
      if (error != NULL)
        g_task_return_error (l->data, g_error_copy (error));
      else
        g_task_return_int (l->data, added);
    }
  g_list_free_full (waiting, g_object_unref);

  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_int (task, added);
}

static void load_step (GTask *task);

static gint64
first_time (NatterMessageList *self)
{
  return self->items->len > 0 ? natter_message_get_sent_time (g_ptr_array_index (self->items, 0))
                               : G_MAXINT64;
}

static void
server_page_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  NatterMessageList *self = g_task_get_source_object (task);
  LoadData *data = g_task_get_task_data (task);
  g_autoptr(GPtrArray) messages = NULL;
  g_autoptr(GError) error = NULL;
  gboolean has_more = FALSE;

  messages = natter_client_get_history_finish (NATTER_CLIENT (object), result, &has_more, &error);
  if (messages == NULL)
    {
      /* Offline: what the store had is what there is for now. */
      finish_load (self, task, g_steal_pointer (&error));
      return;
    }

  /* The page is stored (deduplicated by uid) and comes back as the store's
   * objects, oldest first. */
  data->added += merge_messages (self, messages);
  data->server_pages++;

  if (!has_more || messages->len == 0)
    self->verified_time = 0;
  else
    self->verified_time = MIN (self->verified_time,
                               natter_message_get_sent_time (g_ptr_array_index (messages, 0)));

  load_step (task);
}

static void
store_page_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  NatterMessageList *self = g_task_get_source_object (task);
  LoadData *data = g_task_get_task_data (task);
  g_autoptr(GPtrArray) page = NULL;
  g_autoptr(GError) error = NULL;

  page = natter_store_get_messages_finish (NATTER_STORE (object), result, &error);
  if (page == NULL)
    {
      finish_load (self, task, g_steal_pointer (&error));
      return;
    }

  data->added += merge_messages (self, page);
  data->store_done = TRUE;
  self->store_exhausted = page->len < NATTER_MESSAGE_LIST_PAGE_SIZE;
  load_step (task);
}

static void
load_step (GTask *task)
{
  NatterMessageList *self = g_task_get_source_object (task);
  LoadData *data = g_task_get_task_data (task);
  gint64 first;

  if (!data->store_done)
    {
      NatterMessage *oldest = self->items->len ? g_ptr_array_index (self->items, 0) : NULL;

      natter_store_get_messages_async (self->store, self->type, self->target_id,
                                       oldest ? natter_message_get_sent_time (oldest) : 0,
                                       oldest ? natter_message_get_message_id (oldest) : 0,
                                       NATTER_MESSAGE_LIST_PAGE_SIZE, NULL, store_page_cb,
                                       g_object_ref (task));
      return;
    }

  /* Chatrooms have no history; offline there is nobody to ask; a
   * prefetched list asks once it is opened. */
  if (self->type == NATTER_CONVERSATION_CHATROOM || !self->active ||
      natter_client_get_status (self->client) != NATTER_CONNECTION_CONNECTED)
    {
      finish_load (self, task, NULL);
      return;
    }

  /* Done when the server confirmed everything shown and either a page
   * came or the store has more; the bound keeps a broken server from
   * looping us. */
  first = first_time (self);
  if (self->verified_time == 0 ||
      (self->verified_time <= first &&
       (data->added >= NATTER_MESSAGE_LIST_PAGE_SIZE || !self->store_exhausted)) ||
      data->server_pages >= 50)
    {
      finish_load (self, task, NULL);
      return;
    }

  /* Same-millisecond neighbours come back too (+1); the store drops them as
   * duplicates. */
  natter_client_get_history_async (self->client, self->type, self->target_id,
                                   self->verified_time == G_MAXINT64 ? 0 : self->verified_time + 1,
                                   NATTER_MESSAGE_LIST_PAGE_SIZE, NULL, server_page_cb,
                                   g_object_ref (task));
}

static void
start_load (NatterMessageList *self,
            GTask             *task,
            gboolean           from_store)
{
  LoadData *data = g_new0 (LoadData, 1);

  data->store_done = !from_store;
  g_task_set_task_data (task, data, g_free);

  set_loading (self, TRUE);
  load_step (task);
}

static void
background_loaded_cb (GObject      *object,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  NatterMessageList *self = NATTER_MESSAGE_LIST (object);
  g_autoptr(GError) error = NULL;

  g_task_propagate_int (G_TASK (result), &error);
  if (error != NULL && !g_error_matches (error, NATTER_CLIENT_ERROR, NATTER_CODE_NOT_CONNECTED))
    g_debug ("Cannot load messages of %d:%s: %s", self->type, self->target_id, error->message);
}

/* Connected (again): what is shown gets checked against the server. */
static void
status_changed_cb (NatterClient           *client,
                   NatterConnectionStatus  status,
                   NatterConnectionStatus  old_status,
                   const GError           *error,
                   NatterMessageList      *self)
{
  g_autoptr(GTask) task = NULL;

  if (status != NATTER_CONNECTION_CONNECTED || self->loading || !self->active ||
      self->type == NATTER_CONVERSATION_CHATROOM || self->verified_time == 0)
    return;

  task = g_task_new (self, NULL, background_loaded_cb, NULL);
  g_task_set_source_tag (task, natter_message_list_load_older_async);
  start_load (self, task, FALSE);
}

void
natter_message_list_load_older_async (NatterMessageList   *self,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (NATTER_IS_MESSAGE_LIST (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_message_list_load_older_async);

  if (self->loading)
    {
      self->waiting = g_list_append (self->waiting, g_steal_pointer (&task));
      return;
    }

  if (!self->has_more)
    {
      g_task_return_int (task, 0);
      return;
    }

  start_load (self, task, TRUE);
}

guint
natter_message_list_load_older_finish (NatterMessageList  *self,
                                       GAsyncResult       *result,
                                       GError            **error)
{
  g_autoptr(GError) local_error = NULL;
  gssize added;

  g_return_val_if_fail (g_task_is_valid (result, self), 0);

  added = g_task_propagate_int (G_TASK (result), &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return 0;
    }
  return (guint) added;
}

/* --------------------------------------------------------------- GObject */

static void
natter_message_list_constructed (GObject *object)
{
  NatterMessageList *self = (NatterMessageList *) object;
  g_autoptr(GTask) task = NULL;

  G_OBJECT_CLASS (natter_message_list_parent_class)->constructed (object);

  self->store = g_object_ref (natter_client_get_store (self->client));
  g_signal_connect_object (self->store, "message-added", G_CALLBACK (message_added_cb), self, 0);
  g_signal_connect_object (self->store, "message-updated", G_CALLBACK (message_updated_cb), self, 0);
  g_signal_connect_object (self->store, "messages-cleared", G_CALLBACK (messages_cleared_cb), self, 0);
  g_signal_connect_object (self->client, "status-changed", G_CALLBACK (status_changed_cb), self, 0);

  /* The newest page: from the store at once, then checked with the server
   * (a prefetched list: once opened). */
  task = g_task_new (self, NULL, background_loaded_cb, NULL);
  g_task_set_source_tag (task, natter_message_list_load_older_async);
  start_load (self, task, TRUE);
}

static void
natter_message_list_dispose (GObject *object)
{
  NatterMessageList *self = (NatterMessageList *) object;

  g_clear_object (&self->store);
  g_clear_object (&self->client);

  G_OBJECT_CLASS (natter_message_list_parent_class)->dispose (object);
}

static void
natter_message_list_finalize (GObject *object)
{
  NatterMessageList *self = (NatterMessageList *) object;

  g_ptr_array_unref (self->items);
  g_hash_table_unref (self->kinds);
  g_free (self->target_id);

  G_OBJECT_CLASS (natter_message_list_parent_class)->finalize (object);
}

static void
natter_message_list_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  NatterMessageList *self = NATTER_MESSAGE_LIST (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      g_value_set_object (value, self->client);
      break;
    case PROP_CONVERSATION_TYPE:
      g_value_set_enum (value, self->type);
      break;
    case PROP_TARGET_ID:
      g_value_set_string (value, self->target_id);
      break;
    case PROP_HAS_MORE:
      g_value_set_boolean (value, self->has_more);
      break;
    case PROP_LOADING:
      g_value_set_boolean (value, self->loading);
      break;
    case PROP_N_ITEMS:
      g_value_set_uint (value, self->items->len);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_message_list_set_property (GObject      *object,
                                  guint         prop_id,
                                  const GValue *value,
                                  GParamSpec   *pspec)
{
  NatterMessageList *self = NATTER_MESSAGE_LIST (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      self->client = g_value_dup_object (value);
      break;
    case PROP_CONVERSATION_TYPE:
      self->type = g_value_get_enum (value);
      break;
    case PROP_TARGET_ID:
      self->target_id = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_message_list_class_init (NatterMessageListClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
  const GParamFlags co = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_EXPLICIT_NOTIFY |
                         G_PARAM_STATIC_STRINGS;

  object_class->constructed = natter_message_list_constructed;
  object_class->dispose = natter_message_list_dispose;
  object_class->finalize = natter_message_list_finalize;
  object_class->get_property = natter_message_list_get_property;
  object_class->set_property = natter_message_list_set_property;

  properties[PROP_CLIENT] =
    g_param_spec_object ("client", NULL, NULL, NATTER_TYPE_CLIENT, co);
  properties[PROP_CONVERSATION_TYPE] =
    g_param_spec_enum ("conversation-type", NULL, NULL, NATTER_TYPE_CONVERSATION_TYPE,
                       NATTER_CONVERSATION_PRIVATE, co);
  properties[PROP_TARGET_ID] =
    g_param_spec_string ("target-id", NULL, NULL, NULL, co);
  properties[PROP_HAS_MORE] =
    g_param_spec_boolean ("has-more", NULL, "Older messages may exist", TRUE, ro);
  properties[PROP_LOADING] =
    g_param_spec_boolean ("loading", NULL, NULL, FALSE, ro);
  properties[PROP_N_ITEMS] =
    g_param_spec_uint ("n-items", NULL, NULL, 0, G_MAXUINT, 0, ro);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
natter_message_list_init (NatterMessageList *self)
{
  self->items = g_ptr_array_new_with_free_func (g_object_unref);
  self->kinds = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  self->has_more = TRUE;
  self->verified_time = G_MAXINT64;
}

NatterMessageList *
natter_message_list_new (NatterClient           *client,
                         NatterConversationType  type,
                         const char             *target_id)
{
  NatterMessageList *self = natter_message_list_prefetch (client, type, target_id);

  natter_message_list_activate (self);
  return self;
}

NatterMessageList *
natter_message_list_prefetch (NatterClient           *client,
                              NatterConversationType  type,
                              const char             *target_id)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (client), NULL);
  g_return_val_if_fail (target_id != NULL, NULL);

  return g_object_new (NATTER_TYPE_MESSAGE_LIST,
                       "client", client,
                       "conversation-type", type,
                       "target-id", target_id,
                       NULL);
}

void
natter_message_list_activate (NatterMessageList *self)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (NATTER_IS_MESSAGE_LIST (self));

  if (self->active)
    return;
  self->active = TRUE;
  /* an open chat shows a name that is not old */
  if (natter_client_get_profile_fetcher (self->client) != NULL)
    natter_profile_fetcher_opened (natter_client_get_profile_fetcher (self->client), self->type,
                                   self->target_id);
  /* the store's page in: checked with the server now (a page still on
   * its way goes on to the server by itself, see load_step()) */
  if (!self->loading && self->type != NATTER_CONVERSATION_CHATROOM && self->verified_time != 0 &&
      natter_client_get_status (self->client) == NATTER_CONNECTION_CONNECTED)
    {
      task = g_task_new (self, NULL, background_loaded_cb, NULL);
      g_task_set_source_tag (task, natter_message_list_load_older_async);
      start_load (self, task, FALSE);
    }
}

gboolean
natter_message_list_get_active (NatterMessageList *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE_LIST (self), FALSE);
  return self->active;
}

NatterConversationType
natter_message_list_get_conversation_type (NatterMessageList *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE_LIST (self), 0);
  return self->type;
}

const char *
natter_message_list_get_target_id (NatterMessageList *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE_LIST (self), NULL);
  return self->target_id;
}

gboolean
natter_message_list_get_has_more (NatterMessageList *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE_LIST (self), FALSE);
  return self->has_more;
}

gboolean
natter_message_list_get_loading (NatterMessageList *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE_LIST (self), FALSE);
  return self->loading;
}
