/* natter-presence-tracker.c — the online status of the users the app
 * shows (#16)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gi18n.h>

#include "natter-format.h"
#include "natter-frame.h"
#include "natter-presence-tracker.h"

/* Renewed when less than this is left (ms); looked at every 10 minutes. */
#define RENEW_MARGIN_MS (2 * 3600 * 1000)

typedef struct
{
  GList   *link;                /* in order; data is the table's key */
  gint64   expires;             /* Unix ms; 0 while not subscribed */
  gboolean pending;             /* a subscribe request is on its way */
} Entry;

struct _NatterPresenceTracker
{
  GObject parent_instance;

  NatterClient *client;         /* weak: the tracker is its data, but a dot may outlive it */
  GHashTable *watched;          /* user id → Entry */
  GQueue order;                 /* user ids, least recently watched first */
  GPtrArray *queued;            /* user ids to subscribe to (owned) */
  GPtrArray *dropped;           /* user ids to unsubscribe (owned) */
  guint flush_id;
  guint tick_id;
  guint renew_id;
};

G_DEFINE_FINAL_TYPE (NatterPresenceTracker, natter_presence_tracker, G_TYPE_OBJECT)

enum {
  SIGNAL_CHANGED,
  SIGNAL_TICK,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static gint64
now_ms (void)
{
  return g_get_real_time () / 1000;
}

typedef struct
{
  NatterPresenceTracker *self;
  GStrv user_ids;
} Batch;

static void
batch_free (Batch *batch)
{
  g_object_unref (batch->self);
  g_strfreev (batch->user_ids);
  g_free (batch);
}

static void
subscribed_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  Batch *batch = user_data;
  NatterPresenceTracker *self = batch->self;
  g_autoptr(GHashTable) statuses = NULL;
  g_autoptr(GError) error = NULL;

  statuses = natter_client_subscribe_presence_finish (NATTER_CLIENT (object), result, &error);
  if (error != NULL && !g_error_matches (error, NATTER_CLIENT_ERROR, NATTER_CODE_NOT_CONNECTED))
    g_debug ("Presence subscription failed: %s", error->message);
  for (guint i = 0; batch->user_ids[i] != NULL; i++)
    {
      Entry *entry = g_hash_table_lookup (self->watched, batch->user_ids[i]);

      if (entry == NULL)
        continue;
      entry->pending = FALSE;
      /* Unknown to natterd: not asked again before the renewal. */
      entry->expires = statuses != NULL ? now_ms () + NATTER_PRESENCE_EXPIRY * (gint64) 1000 : 0;
      if (statuses != NULL && g_hash_table_contains (statuses, batch->user_ids[i]))
        g_signal_emit (self, signals[SIGNAL_CHANGED], 0, batch->user_ids[i]);
    }
  batch_free (batch);
}

static void
unsubscribed_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!natter_client_unsubscribe_presence_finish (NATTER_CLIENT (object), result, &error))
    g_debug ("Presence unsubscription failed: %s", error->message);
}

/* @ids in requests of at most 200. */
static void
send_batches (NatterPresenceTracker *self,
              GPtrArray             *ids,
              gboolean               unsubscribe)
{
  for (guint start = 0; start < ids->len; start += NATTER_PRESENCE_MAX_IDS)
    {
      guint n = MIN (ids->len - start, NATTER_PRESENCE_MAX_IDS);
      GStrv chunk = g_new0 (char *, n + 1);

      for (guint i = 0; i < n; i++)
        chunk[i] = g_strdup (g_ptr_array_index (ids, start + i));
      if (unsubscribe)
        {
          natter_client_unsubscribe_presence_async (self->client, (const char * const *) chunk, NULL,
                                                    unsubscribed_cb, NULL);
          g_strfreev (chunk);
        }
      else
        {
          Batch *batch = g_new0 (Batch, 1);

          batch->self = g_object_ref (self);
          batch->user_ids = chunk;
          natter_client_subscribe_presence_async (self->client, (const char * const *) chunk,
                                                  NATTER_PRESENCE_EXPIRY, NULL, subscribed_cb, batch);
        }
    }
  g_ptr_array_set_size (ids, 0);
}

static gboolean
flush_cb (gpointer user_data)
{
  NatterPresenceTracker *self = user_data;

  self->flush_id = 0;
  if (self->client == NULL)
    return G_SOURCE_REMOVE;
  if (natter_client_get_status (self->client) != NATTER_CONNECTION_CONNECTED)
    {
      /* Asked again once connected (status_changed_cb). */
      for (guint i = 0; i < self->queued->len; i++)
        {
          Entry *entry = g_hash_table_lookup (self->watched, g_ptr_array_index (self->queued, i));

          if (entry != NULL)
            entry->pending = FALSE;
        }
      g_ptr_array_set_size (self->queued, 0);
      return G_SOURCE_REMOVE;
    }
  send_batches (self, self->dropped, TRUE);
  send_batches (self, self->queued, FALSE);
  return G_SOURCE_REMOVE;
}

static void
queue (NatterPresenceTracker *self,
       const char            *user_id,
       Entry                 *entry)
{
  entry->pending = TRUE;
  g_ptr_array_add (self->queued, g_strdup (user_id));
  /* Rows bound in one frame go in one request. */
  if (self->flush_id == 0)
    self->flush_id = g_idle_add_full (G_PRIORITY_LOW, flush_cb, self, NULL);
}

void
natter_presence_tracker_watch (NatterPresenceTracker *self,
                               const char            *user_id)
{
  Entry *entry;

  g_return_if_fail (NATTER_IS_PRESENCE_TRACKER (self));

  if (user_id == NULL || !natter_id_is_valid (user_id))
    return;
  entry = g_hash_table_lookup (self->watched, user_id);
  if (entry != NULL)
    {
      g_queue_unlink (&self->order, entry->link);
      g_queue_push_tail_link (&self->order, entry->link);
      if (!entry->pending && entry->expires - now_ms () < RENEW_MARGIN_MS)
        queue (self, user_id, entry);
      return;
    }

  if (g_hash_table_size (self->watched) >= NATTER_PRESENCE_MAX_WATCHED)
    {
      char *oldest = g_queue_pop_head (&self->order);

      g_ptr_array_add (self->dropped, g_strdup (oldest));
      g_hash_table_remove (self->watched, oldest);
    }
  entry = g_new0 (Entry, 1);
  {
    char *key = g_strdup (user_id);

    g_hash_table_insert (self->watched, key, entry);
    g_queue_push_tail (&self->order, key);
    entry->link = self->order.tail;
  }
  queue (self, user_id, entry);
}

void
natter_presence_tracker_refresh (NatterPresenceTracker *self)
{
  GHashTableIter iter;
  gpointer key, value;

  g_return_if_fail (NATTER_IS_PRESENCE_TRACKER (self));

  g_hash_table_iter_init (&iter, self->watched);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (!((Entry *) value)->pending)
      queue (self, key, value);
}

guint
natter_presence_tracker_get_n_watched (NatterPresenceTracker *self)
{
  g_return_val_if_fail (NATTER_IS_PRESENCE_TRACKER (self), 0);
  return g_hash_table_size (self->watched);
}

gboolean
natter_presence_tracker_is_watched (NatterPresenceTracker *self,
                                    const char            *user_id)
{
  g_return_val_if_fail (NATTER_IS_PRESENCE_TRACKER (self), FALSE);
  return user_id != NULL && g_hash_table_contains (self->watched, user_id);
}

gboolean
natter_presence_tracker_is_online (NatterPresenceTracker *self,
                                   const char            *user_id)
{
  NatterPresence presence;

  g_return_val_if_fail (NATTER_IS_PRESENCE_TRACKER (self), FALSE);
  return user_id != NULL && self->client != NULL &&
         natter_client_lookup_presence (self->client, user_id, &presence) &&
         presence.online;
}

char *
natter_presence_describe (const NatterPresence *presence,
                          gint64                now_ms)
{
  gint64 minutes;
  g_autofree char *clock = NULL;
  g_autofree char *date = NULL;

  if (presence->hidden)
    return NULL;
  if (presence->online)
    /* Translators: a user's status in the chat header */
    return g_strdup (_("online"));
  if (presence->last_seen <= 0)
    /* Translators: a user's status in the chat header, when it is not known since when */
    return g_strdup (_("offline"));

  minutes = MAX (now_ms - presence->last_seen, 0) / 60000;
  if (minutes < 1)
    return g_strdup (_("last seen just now"));
  if (minutes < 60)
    return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "last seen %d minute ago",
                                         "last seen %d minutes ago", (gulong) minutes),
                            (int) minutes);
  clock = natter_format_clock (presence->last_seen);
  if (natter_same_day (presence->last_seen, now_ms))
    /* Translators: %s is a time of day, "14:02" */
    return g_strdup_printf (_("last seen today at %s"), clock);
  if (natter_same_day (presence->last_seen + 24 * 3600 * (gint64) 1000, now_ms))
    /* Translators: %s is a time of day, "14:02" */
    return g_strdup_printf (_("last seen yesterday at %s"), clock);
  date = natter_format_day (presence->last_seen, now_ms);
  /* Translators: %s is a day, "Monday" or "March 5" */
  return g_strdup_printf (_("last seen %s"), date);
}

char *
natter_presence_tracker_describe (NatterPresenceTracker *self,
                                  const char            *user_id)
{
  NatterPresence presence;

  g_return_val_if_fail (NATTER_IS_PRESENCE_TRACKER (self), NULL);
  if (user_id == NULL || self->client == NULL ||
      !natter_client_lookup_presence (self->client, user_id, &presence))
    return NULL;
  return natter_presence_describe (&presence, now_ms ());
}

static void
presence_changed_cb (NatterPresenceTracker *self,
                     const char            *user_id)
{
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0, user_id);
}

/* What could not be asked while away is asked now. */
static void
status_changed_cb (NatterPresenceTracker  *self,
                   NatterConnectionStatus  status)
{
  GHashTableIter iter;
  gpointer key, value;

  if (status != NATTER_CONNECTION_CONNECTED)
    return;
  g_hash_table_iter_init (&iter, self->watched);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      Entry *entry = value;

      if (!entry->pending && entry->expires == 0)
        queue (self, key, entry);
    }
}

static gboolean
renew_cb (gpointer user_data)
{
  NatterPresenceTracker *self = user_data;
  GHashTableIter iter;
  gpointer key, value;
  gint64 now = now_ms ();

  g_hash_table_iter_init (&iter, self->watched);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      Entry *entry = value;

      if (!entry->pending && entry->expires - now < RENEW_MARGIN_MS)
        queue (self, key, entry);
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
tick_cb (gpointer user_data)
{
  g_signal_emit (user_data, signals[SIGNAL_TICK], 0);
  return G_SOURCE_CONTINUE;
}

static void
natter_presence_tracker_finalize (GObject *object)
{
  NatterPresenceTracker *self = (NatterPresenceTracker *) object;

  g_clear_weak_pointer (&self->client);
  g_clear_handle_id (&self->flush_id, g_source_remove);
  g_clear_handle_id (&self->tick_id, g_source_remove);
  g_clear_handle_id (&self->renew_id, g_source_remove);
  g_queue_clear (&self->order);
  g_hash_table_unref (self->watched);
  g_ptr_array_unref (self->queued);
  g_ptr_array_unref (self->dropped);

  G_OBJECT_CLASS (natter_presence_tracker_parent_class)->finalize (object);
}

static void
natter_presence_tracker_class_init (NatterPresenceTrackerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = natter_presence_tracker_finalize;

  signals[SIGNAL_CHANGED] =
    g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_TICK] =
    g_signal_new ("tick", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
natter_presence_tracker_init (NatterPresenceTracker *self)
{
  self->watched = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_queue_init (&self->order);
  self->queued = g_ptr_array_new_with_free_func (g_free);
  self->dropped = g_ptr_array_new_with_free_func (g_free);
  self->tick_id = g_timeout_add_seconds (60, tick_cb, self);
  self->renew_id = g_timeout_add_seconds (600, renew_cb, self);
}

NatterPresenceTracker *
natter_presence_tracker_for (NatterClient *client)
{
  NatterPresenceTracker *self;

  g_return_val_if_fail (NATTER_IS_CLIENT (client), NULL);

  self = g_object_get_data (G_OBJECT (client), "natter-presence-tracker");
  if (self != NULL)
    return self;
  self = g_object_new (NATTER_TYPE_PRESENCE_TRACKER, NULL);
  g_set_weak_pointer (&self->client, client);
  g_signal_connect_object (client, "presence-changed", G_CALLBACK (presence_changed_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (client, "status-changed", G_CALLBACK (status_changed_cb), self,
                           G_CONNECT_SWAPPED);
  g_object_set_data_full (G_OBJECT (client), "natter-presence-tracker", self, g_object_unref);
  return self;
}
