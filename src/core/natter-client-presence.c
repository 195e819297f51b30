/* natter-client-presence.c — presence subscriptions (#16): subscribe to
 * users' online status and hear of their changes (NatterClient
 * ::presence-changed)
 *
 * natterd keeps subscriptions in memory on the node that took them, so
 * the client remembers its own (id → expiry) and subscribes again after
 * every connect for the time that is left: a restarted natterd or another
 * node knows them again.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-client-private.h"

#include "natter-codes.h"

#include <string.h>

static gint64
now_ms (void)
{
  return g_get_real_time () / 1000;
}

static gboolean
check_ids (GTask              *task,
           const char * const *user_ids)
{
  guint n = user_ids != NULL ? g_strv_length ((char **) user_ids) : 0;

  for (guint i = 0; i < n; i++)
    if (!natter_id_is_valid (user_ids[i]))
      n = 0;
  if (n == 0 || n > NATTER_SUBSCRIBE_MAX_IDS)
    {
      g_task_return_new_error (task, NATTER_CLIENT_ERROR, NATTER_CODE_INVALID_PARAMETER,
                               "Invalid parameter (%d): 1 to 200 valid user ids",
                               NATTER_CODE_INVALID_PARAMETER);
      return FALSE;
    }
  return TRUE;
}

typedef struct
{
  GStrv    user_ids;
  gint64   expires;      /* ms; 0 for unsubscribe */
} Request;

static void
request_free (gpointer data)
{
  Request *request = data;

  g_strfreev (request->user_ids);
  g_free (request);
}

/* Takes @inner. */
static void
send_subscribe (NatterClient       *self,
                const char * const *user_ids,
                guint               expiry,
                gboolean            unsubscribe,
                GTask              *inner)
{
  g_autoptr(GTask) owned = inner;
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__SubscribeRequest request = NATTER__SUBSCRIBE_REQUEST__INIT;

  request.user_ids = (char **) user_ids;
  request.n_user_ids = g_strv_length ((char **) user_ids);
  request.expiry = expiry;
  request.unsubscribe = unsubscribe;
  query.method_case = NATTER__QUERY__METHOD_SUBSCRIBE;
  query.subscribe = &request;
  natter_client_send_query (self, &query, owned);
}

static void
subscribed_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  NatterClient *self = NATTER_CLIENT (object);
  g_autoptr(GTask) task = user_data;
  Request *request = g_task_get_task_data (task);
  g_autoptr(NatterFrame) frame = NULL;
  g_autoptr(GError) error = NULL;
  GHashTable *subscriptions = natter_client_get_presence_subscriptions (self);
  GHashTable *statuses;

  frame = g_task_propagate_pointer (G_TASK (result), &error);
  if (frame == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  statuses = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  if (request->expires == 0)
    {
      for (guint i = 0; request->user_ids[i] != NULL; i++)
        g_hash_table_remove (subscriptions, request->user_ids[i]);
    }
  else if (frame->result->payload_case == NATTER__RESULT__PAYLOAD_SUBSCRIBE)
    {
      /* Only what was asked and known to natterd is subscribed to. */
      for (gsize i = 0; i < frame->result->subscribe->n_statuses; i++)
        {
          const Natter__OnlineStatus *status = frame->result->subscribe->statuses[i];

          if (!g_strv_contains ((const char * const *) request->user_ids, status->user_id))
            continue;
          g_hash_table_insert (statuses, g_strdup (status->user_id), GINT_TO_POINTER (status->online));
          natter_client_presence_note (self, status->user_id, status->online, status->hidden,
                                       status->online ? 0 : status->last_seen);
          g_hash_table_insert (subscriptions, g_strdup (status->user_id),
                               g_memdup2 (&request->expires, sizeof request->expires));
        }
    }
  g_task_return_pointer (task, statuses, (GDestroyNotify) g_hash_table_unref);
}

static void
subscribe (NatterClient        *self,
           const char * const  *user_ids,
           guint                expiry,
           gboolean             unsubscribe,
           gpointer             source_tag,
           GCancellable        *cancellable,
           GAsyncReadyCallback  callback,
           gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  Request *request;

  g_task_set_source_tag (task, source_tag);
  if (!check_ids (task, user_ids))
    return;
  if (!unsubscribe && (expiry < NATTER_SUBSCRIBE_MIN_EXPIRY || expiry > NATTER_SUBSCRIBE_MAX_EXPIRY))
    {
      g_task_return_new_error (task, NATTER_CLIENT_ERROR, NATTER_CODE_INVALID_PARAMETER,
                               "Invalid parameter (%d): expiry 60 to 2592000 s",
                               NATTER_CODE_INVALID_PARAMETER);
      return;
    }

  request = g_new0 (Request, 1);
  request->user_ids = g_strdupv ((char **) user_ids);
  request->expires = unsubscribe ? 0 : now_ms () + (gint64) expiry * 1000;
  g_task_set_task_data (task, request, request_free);
  send_subscribe (self, user_ids, expiry, unsubscribe,
                  g_task_new (self, NULL, subscribed_cb, g_steal_pointer (&task)));
}

/**
 * natter_client_subscribe_presence_async:
 * @user_ids: 1..200 user ids
 * @expiry: seconds, 60..2592000
 *
 * Subscribes to the users' online status: ::presence-changed tells of each
 * change until @expiry passes (subscribing again renews it). The result is
 * a GHashTable user id → GINT_TO_POINTER (online) of the users natterd
 * knows (the others are not subscribed to). Over the limits: 26030 (1,000
 * subscribed users), 26031 (the user has 5,000 subscribers).
 */
void
natter_client_subscribe_presence_async (NatterClient        *self,
                                        const char * const  *user_ids,
                                        guint                expiry,
                                        GCancellable        *cancellable,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data)
{
  g_return_if_fail (NATTER_IS_CLIENT (self));

  subscribe (self, user_ids, expiry, FALSE, natter_client_subscribe_presence_async,
             cancellable, callback, user_data);
}

GHashTable *
natter_client_subscribe_presence_finish (NatterClient  *self,
                                         GAsyncResult  *result,
                                         GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
natter_client_unsubscribe_presence_async (NatterClient        *self,
                                          const char * const  *user_ids,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data)
{
  g_return_if_fail (NATTER_IS_CLIENT (self));

  subscribe (self, user_ids, 0, TRUE, natter_client_unsubscribe_presence_async,
             cancellable, callback, user_data);
}

gboolean
natter_client_unsubscribe_presence_finish (NatterClient  *self,
                                           GAsyncResult  *result,
                                           GError       **error)
{
  g_autoptr(GHashTable) statuses = NULL;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  statuses = g_task_propagate_pointer (G_TASK (result), error);
  return statuses != NULL;
}

void
natter_client_presence_note (NatterClient *self,
                             const char   *user_id,
                             gboolean      online,
                             gboolean      hidden,
                             gint64        last_seen)
{
  GHashTable *known = natter_client_get_presence_known (self);
  NatterPresence *presence = g_hash_table_lookup (known, user_id);

  if (presence == NULL)
    {
      presence = g_new0 (NatterPresence, 1);
      g_hash_table_insert (known, g_strdup (user_id), presence);
    }
  presence->online = online;
  presence->hidden = hidden;
  /* An offline change without a time (natterd hides it from us) keeps
   * saying nothing rather than an old last seen. */
  presence->last_seen = online || hidden ? 0 : last_seen;
}

/**
 * natter_client_lookup_presence:
 *
 * Returns: FALSE if natterd has not told of @user_id since the client was
 * made or signed out.
 */
gboolean
natter_client_lookup_presence (NatterClient   *self,
                               const char     *user_id,
                               NatterPresence *presence)
{
  NatterPresence *known;

  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);
  g_return_val_if_fail (user_id != NULL && presence != NULL, FALSE);

  known = g_hash_table_lookup (natter_client_get_presence_known (self), user_id);
  if (known == NULL)
    return FALSE;
  *presence = *known;
  return TRUE;
}

/* ------------------------------------------------------------ reconnect */

static void
resubscribed_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  NatterClient *self = NATTER_CLIENT (object);
  g_autoptr(NatterFrame) frame = NULL;
  g_autoptr(GError) error = NULL;

  frame = g_task_propagate_pointer (G_TASK (result), &error);
  if (frame == NULL && !g_error_matches (error, NATTER_CLIENT_ERROR, NATTER_CODE_NOT_CONNECTED))
    g_warning ("Subscribing to presence again: %s", error->message);
  if (frame == NULL || frame->result->payload_case != NATTER__RESULT__PAYLOAD_SUBSCRIBE)
    return;

  /* What changed while the client was away is a change too. */
  for (gsize i = 0; i < frame->result->subscribe->n_statuses; i++)
    {
      const Natter__OnlineStatus *status = frame->result->subscribe->statuses[i];
      NatterPresence before;
      gboolean known = natter_client_lookup_presence (self, status->user_id, &before);

      natter_client_presence_note (self, status->user_id, status->online, status->hidden,
                                   status->online ? 0 : status->last_seen);
      if (!known || before.online != status->online || before.hidden != status->hidden)
        g_signal_emit_by_name (self, "presence-changed", status->user_id, (gboolean) status->online,
                               status->platform, status->online ? g_get_real_time () / 1000 : status->last_seen,
                               FALSE);
    }
}

/* Subscriptions made together share their expiry: one request per expiry
 * and 200 ids, for the seconds left (at least natterd's minimum). */
void
natter_client_presence_connected (NatterClient *self)
{
  GHashTable *subscriptions = natter_client_get_presence_subscriptions (self);
  g_autoptr(GHashTable) by_expiry = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                                           (GDestroyNotify) g_ptr_array_unref);
  GHashTableIter iter;
  gpointer key, value;
  gint64 now = now_ms ();

  g_hash_table_iter_init (&iter, subscriptions);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      GPtrArray *ids;

      if (*(gint64 *) value <= now)
        {
          g_hash_table_iter_remove (&iter);
          continue;
        }
      ids = g_hash_table_lookup (by_expiry, value);
      if (ids == NULL)
        {
          ids = g_ptr_array_new ();
          g_hash_table_insert (by_expiry, g_memdup2 (value, sizeof (gint64)), ids);
        }
      g_ptr_array_add (ids, key);
    }

  g_hash_table_iter_init (&iter, by_expiry);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      GPtrArray *ids = value;
      guint expiry = (guint) CLAMP ((*(gint64 *) key - now) / 1000, NATTER_SUBSCRIBE_MIN_EXPIRY,
                                    NATTER_SUBSCRIBE_MAX_EXPIRY);

      for (guint start = 0; start < ids->len; start += NATTER_SUBSCRIBE_MAX_IDS)
        {
          guint n = MIN (ids->len - start, NATTER_SUBSCRIBE_MAX_IDS);
          g_autofree char **chunk = g_new0 (char *, n + 1);

          memcpy (chunk, ids->pdata + start, n * sizeof (char *));
          send_subscribe (self, (const char * const *) chunk, expiry, FALSE,
                          g_task_new (self, NULL, resubscribed_cb, NULL));
        }
    }
}
