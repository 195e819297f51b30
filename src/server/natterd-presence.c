/* natterd-presence.c — presence subscriptions (#16, RongCloud Web SDK
 * 5.9.8+): a user subscribes to others' online status for 60 s … 30 days
 * and every device of theirs is told when one of them comes online or goes
 * offline (PresenceEvent)
 *
 * Subscriptions live in memory on the node that took the request, like
 * chatrooms: libnatter subscribes again after each connect, so a restart
 * or another node loses nothing a connected client still wants. Expired
 * ones are dropped when next looked at (a change, a count against the
 * limits), so no timer walks them.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-server-private.h"

#include <string.h>

/* How long after a ringing device said so its user's devices may be asked
 * about: a call rings 30 s at most, and is asked about every 3 s. */
#define RANG_WINDOW_US (60 * G_USEC_PER_SEC)

/* The status of @user as @viewer may see it: whoever blacklisted the
 * viewer is offline to them. @platform gets the newest device's.
 *
 * Privacy (privacy.json showOnline=false): a user who hides their status
 * is "hidden" to everyone, neither online nor offline; and, Telegram's
 * rule, a viewer who hides their own sees others online or offline but
 * no one's last seen. */
gboolean
natterd_server_presence_status (NatterdServer  *self,
                                NatterdUser    *viewer,
                                NatterdUser    *user,
                                const char    **platform,
                                gboolean       *hidden,
                                gint64         *last_seen)
{
  guint n_local = user->sessions != NULL ? user->sessions->len : 0;

  *platform = "";
  *hidden = user != viewer && natterd_server_hides_presence (self, user);
  *last_seen = 0;
  if (*hidden)
    return FALSE;
  if (!natterd_user_is_online (user) || natterd_user_is_blocking (user, viewer))
    {
      if (!natterd_user_is_blocking (user, viewer) && !natterd_server_hides_presence (self, viewer))
        *last_seen = user->last_seen;
      return FALSE;
    }

  if (n_local > 0)
    {
      *platform = natterd_session_get_platform (g_ptr_array_index (user->sessions, n_local - 1));
    }
  else if (self->cluster != NULL)
    {
      g_autoptr(GPtrArray) remote = natterd_cluster_remote_devices (self->cluster, user);

      /* "device\nplatform" (natterd-cluster.c): the array does not own
       * them, the cluster's table does, so it outlives the array. */
      if (remote != NULL && remote->len > 0)
        *platform = strchr (g_ptr_array_index (remote, remote->len - 1), '\n') + 1;
    }
  return TRUE;
}

/* A copy of @table's keys: the walks below change the table. */
static GPtrArray *
keys_of (GHashTable *table)
{
  GPtrArray *keys = g_ptr_array_sized_new (g_hash_table_size (table));
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, table);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (keys, key);
  return keys;
}

static gboolean
subscription_expired (gpointer key,
                      gpointer value,
                      gpointer user_data)
{
  NatterdUser *subscriber = user_data;
  NatterdUser *target = key;
  gint64 now = g_get_real_time () / 1000;

  if (*(gint64 *) value > now)
    return FALSE;
  if (target->subscribers != NULL)
    g_hash_table_remove (target->subscribers, subscriber);
  return TRUE;
}

static void
drop_expired (NatterdUser *subscriber)
{
  if (subscriber->subscriptions != NULL)
    g_hash_table_foreach_remove (subscriber->subscriptions, subscription_expired, subscriber);
}

/* Subscribers of @target whose subscription is still on. */
static guint
count_subscribers (NatterdUser *target)
{
  g_autoptr(GPtrArray) subscribers = NULL;

  if (target->subscribers == NULL)
    return 0;
  subscribers = keys_of (target->subscribers);
  for (guint i = 0; i < subscribers->len; i++)
    drop_expired (g_ptr_array_index (subscribers, i));
  return g_hash_table_size (target->subscribers);
}

static void
unsubscribe (NatterdUser *subscriber,
             NatterdUser *target)
{
  if (subscriber->subscriptions != NULL)
    g_hash_table_remove (subscriber->subscriptions, target);
  if (target->subscribers != NULL)
    g_hash_table_remove (target->subscribers, subscriber);
}

/* Applies @request for @subscriber, all of it or (with the code) none.
 * Unknown user ids are left out; @found gets the known NatterdUser*. */
int
natterd_server_subscribe (NatterdServer                  *self,
                          NatterdUser                    *subscriber,
                          const Natter__SubscribeRequest *request,
                          GPtrArray                      *found)
{
  gint64 expires = g_get_real_time () / 1000 + (gint64) request->expiry * 1000;
  guint n_new = 0;

  drop_expired (subscriber);
  for (gsize i = 0; i < request->n_user_ids; i++)
    {
      NatterdUser *target = natterd_directory_lookup_user (subscriber->app, request->user_ids[i]);

      if (target != NULL && !g_ptr_array_find (found, target, NULL))
        g_ptr_array_add (found, target);
    }

  if (request->unsubscribe)
    {
      for (guint i = 0; i < found->len; i++)
        unsubscribe (subscriber, g_ptr_array_index (found, i));
      return NATTER_CODE_OK;
    }

  for (guint i = 0; i < found->len; i++)
    {
      NatterdUser *target = g_ptr_array_index (found, i);

      if (subscriber->subscriptions != NULL && g_hash_table_contains (subscriber->subscriptions, target))
        continue;
      n_new++;
      if (count_subscribers (target) >= self->config->presence_subscribers)
        return NATTER_CODE_SUBSCRIBERS_FULL;
    }
  if ((subscriber->subscriptions != NULL ? g_hash_table_size (subscriber->subscriptions) : 0) + n_new >
      self->config->presence_subscriptions)
    return NATTER_CODE_SUBSCRIPTIONS_FULL;

  if (subscriber->subscriptions == NULL && found->len > 0)
    subscriber->subscriptions = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  for (guint i = 0; i < found->len; i++)
    {
      NatterdUser *target = g_ptr_array_index (found, i);

      g_hash_table_insert (subscriber->subscriptions, target, g_memdup2 (&expires, sizeof expires));
      if (target->subscribers == NULL)
        target->subscribers = g_hash_table_new (NULL, NULL);
      g_hash_table_add (target->subscribers, subscriber);
    }
  return NATTER_CODE_OK;
}

/* @subscriber's devices here are told @user's status as they may see it
 * now: someone who blacklisted them is offline to them, with no last
 * seen. */
static void
tell_subscriber (NatterdServer *self,
                 NatterdUser   *user,
                 NatterdUser   *subscriber,
                 gboolean       logout,
                 gint64         now)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__PresenceEvent event = NATTER__PRESENCE_EVENT__INIT;
  const char *platform;
  gint64 last_seen;

  if (subscriber->sessions == NULL)
    return;
  event.user_id = user->user_id;
  event.online = natterd_server_presence_status (self, subscriber, user, &platform, &event.hidden,
                                                 &last_seen);
  event.platform = (char *) platform;
  /* The time of an offline change is a last seen (when shown again
   * while offline: the one from before); none for who hides their own. */
  if (natterd_server_hides_presence (self, subscriber))
    event.time = 0;
  else
    event.time = event.online ? now : last_seen;
  event.logout = !event.online && !event.hidden && logout;
  frame.body_case = NATTER__FRAME__BODY_PRESENCE_EVENT;
  frame.presence_event = &event;
  for (guint s = 0; s < subscriber->sessions->len; s++)
    natterd_session_send_frame (g_ptr_array_index (subscriber->sessions, s), &frame);
}

/* @subscriber's subscription to @user if it is still on; an expired one
 * is dropped. */
static gboolean
subscribed (NatterdUser *subscriber,
            NatterdUser *user,
            gint64       now)
{
  gint64 *expires = subscriber->subscriptions != NULL ?
                    g_hash_table_lookup (subscriber->subscriptions, user) : NULL;

  if (expires == NULL)
    return FALSE;
  if (*expires > now)
    return TRUE;
  unsubscribe (subscriber, user);
  return FALSE;
}

/* Each subscriber's devices here are told @user's status now. */
static void
tell_subscribers (NatterdServer *self,
                  NatterdUser   *user,
                  gboolean       logout)
{
  g_autoptr(GPtrArray) subscribers = NULL;
  gint64 now = g_get_real_time () / 1000;

  if (user->subscribers == NULL || g_hash_table_size (user->subscribers) == 0)
    return;

  subscribers = keys_of (user->subscribers);
  for (guint i = 0; i < subscribers->len; i++)
    {
      NatterdUser *subscriber = g_ptr_array_index (subscribers, i);

      /* Someone who blacklisted the subscriber stays offline to them:
       * no change of theirs is news to them. */
      if (subscribed (subscriber, user, now) && !natterd_user_is_blocking (user, subscriber))
        tell_subscriber (self, user, subscriber, logout, now);
    }
}

/* Whatever changed @user's blacklist (the client, the server API, another
 * node): a subscriber @other who is blocked now sees @user go offline at
 * once, and the truth again when unblocked — not only when they next
 * subscribe. */
void
natterd_server_set_blocking (NatterdServer *self,
                             NatterdUser   *user,
                             NatterdUser   *other,
                             gboolean       block)
{
  gboolean changed;

  if (user->blacklist == NULL)
    user->blacklist = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  if (block)
    changed = g_hash_table_add (user->blacklist, g_memdup2 (&other->id, sizeof other->id));
  else
    changed = g_hash_table_remove (user->blacklist, &other->id);
  user->blacklist_changed = natterd_directory_stamp ();
  if (changed && !natterd_server_hides_presence (self, user) &&
      subscribed (other, user, g_get_real_time () / 1000))
    tell_subscriber (self, user, other, FALSE, g_get_real_time () / 1000);
}

/* @user came online or went offline (everywhere, as this node sees it):
 * each subscriber's devices here are told, unless @user hides it. */
void
natterd_server_presence_changed (NatterdServer *self,
                                 NatterdUser   *user,
                                 gboolean       logout,
                                 gint64         offline_at)
{
  if (!natterd_user_is_online (user))
    user->last_seen = offline_at > 0 ? offline_at : g_get_real_time () / 1000;
  if (!natterd_server_hides_presence (self, user))
    tell_subscribers (self, user, logout);
}

/* privacy.json showOnline changed: subscribers see "hidden", or the truth
 * again. (The user's own devices see the others' last seen again, or no
 * more, when they next subscribe: the app does so at once.) */
void
natterd_server_presence_privacy_changed (NatterdServer *self,
                                         NatterdUser   *user)
{
  tell_subscribers (self, user, FALSE);
}

static gboolean
rang_expired (gpointer key,
              gpointer value,
              gpointer user_data)
{
  return *(gint64 *) value <= *(gint64 *) user_data;
}

void
natterd_server_presence_rang (NatterdUser *caller,
                              NatterdUser *callee)
{
  gint64 now = g_get_monotonic_time ();
  gint64 until = now + RANG_WINDOW_US;

  if (caller->rang_by == NULL)
    caller->rang_by = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  /* Entries are dropped when looked at; one who calls many people in
   * turn would keep them all, so they are swept here now and then. */
  if (g_hash_table_size (caller->rang_by) >= 32)
    g_hash_table_foreach_remove (caller->rang_by, rang_expired, &now);
  g_hash_table_insert (caller->rang_by, callee, g_memdup2 (&until, sizeof until));
}

/* A device id is no secret once it rang (RC:VCRinging carries it): asking
 * about it later would tell whether someone who hides their status is
 * connected. So it is answered for a hidden user only while their own
 * device's ringing for the asker is recent; whoever blacklisted the asker
 * is offline to them anyway. */
gboolean
natterd_server_presence_devices_visible (NatterdServer *self,
                                         NatterdUser   *asker,
                                         NatterdUser   *user)
{
  gint64 *until;

  if (user == asker || !natterd_server_hides_presence (self, user))
    return TRUE;
  until = asker->rang_by != NULL ? g_hash_table_lookup (asker->rang_by, user) : NULL;
  if (until == NULL)
    return FALSE;
  if (*until > g_get_monotonic_time ())
    return TRUE;
  g_hash_table_remove (asker->rang_by, user);
  return FALSE;
}
