/* natter-profile-fetcher.c — when the client asks natterd for names
 *
 * The names and portraits the user sees come from ProfileRequest
 * (natter_client_get_profiles_async) and are kept in the store. They are
 * fetched never per message and never waiting for it:
 * - after connecting (at most every 10 minutes): the newest 50
 *   conversations whose profile is older than 10 minutes, and the newest
 *   500 whose profile is older than a day (or missing);
 * - when a chat is opened: its user or group, unless asked in the last
 *   10 minutes;
 * - an id seen for the first time in a while (a message from a new sender,
 *   a new group, a history page): collected for a moment and asked in one
 *   query, at most once an hour per id.
 * So a group rename by the app server (group/refresh) reaches the
 * conversations on screen with the next connection or the next look. A
 * user's own change (profile, user/refresh) comes at once: natterd sends
 * NT:ProfileNtf to its contacts and co-members online, stored as it is.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-profile-fetcher.h"

#include "natter-client-private.h"
#include "natter-store-private.h"

#define PROFILE_MAX_AGE_MS (24 * 3600 * G_GINT64_CONSTANT (1000))
#define REFRESH_AGE_MS (10 * 60 * G_GINT64_CONSTANT (1000))
#define ASK_INTERVAL_US (G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC)
#define SWEEP_LIMIT 500
#define RECENT_LIMIT 50
#define COLLECT_MS 200

struct _NatterProfileFetcher
{
  GObject       parent_instance;

  NatterClient *client;         /* weak: the client owns the fetcher */
  GHashTable   *asked;          /* "u:id" / "g:id" -> gint64* monotonic µs */
  GHashTable   *wanted;         /* "u:id" / "g:id", to ask next */
  guint         flush_source;
  gint64        last_sweep;     /* monotonic µs, 0 = never */
  gint64        refresh_age_ms;
};

G_DEFINE_FINAL_TYPE (NatterProfileFetcher, natter_profile_fetcher, G_TYPE_OBJECT)

static gboolean flush_cb (gpointer user_data);

static void
schedule_flush (NatterProfileFetcher *self)
{
  if (self->flush_source == 0 && g_hash_table_size (self->wanted) > 0 && self->client != NULL &&
      natter_client_get_status (self->client) == NATTER_CONNECTION_CONNECTED)
    self->flush_source = g_timeout_add (COLLECT_MS, flush_cb, self);
}

/* Asks for @id unless it was asked less than @interval_us ago. */
static void
want (NatterProfileFetcher *self,
      char                  kind,
      const char           *id,
      gint64                interval_us)
{
  g_autofree char *key = NULL;
  gint64 *asked;

  if (self->client == NULL || id == NULL || !natter_id_is_valid (id) ||
      (kind == 'u' && g_strcmp0 (id, natter_client_get_user_id (self->client)) == 0))
    return;

  key = g_strdup_printf ("%c:%s", kind, id);
  asked = g_hash_table_lookup (self->asked, key);
  if (asked != NULL && g_get_monotonic_time () - *asked < interval_us)
    return;
  g_hash_table_add (self->wanted, g_steal_pointer (&key));
  schedule_flush (self);
}

static void
auto_fetched_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  /* Asked again after the interval, or with the next connection's sweep. */
  if (!natter_client_get_profiles_finish (NATTER_CLIENT (object), result, &error))
    g_debug ("Profiles not fetched: %s", error->message);
}

static gboolean
flush_cb (gpointer user_data)
{
  NatterProfileFetcher *self = user_data;
  g_autoptr(GStrvBuilder) users = g_strv_builder_new ();
  g_autoptr(GStrvBuilder) groups = g_strv_builder_new ();
  g_auto(GStrv) user_ids = NULL;
  g_auto(GStrv) group_ids = NULL;
  g_autoptr(GPtrArray) taken = g_ptr_array_new_with_free_func (g_free);
  guint n_users = 0, n_groups = 0;
  gint64 now = g_get_monotonic_time ();
  GHashTableIter iter;
  const char *key;

  self->flush_source = 0;
  if (self->client == NULL || natter_client_get_status (self->client) != NATTER_CONNECTION_CONNECTED)
    return G_SOURCE_REMOVE;  /* the next connection asks */

  g_hash_table_iter_init (&iter, self->wanted);
  while (g_hash_table_iter_next (&iter, (gpointer *) &key, NULL))
    {
      guint *n = key[0] == 'u' ? &n_users : &n_groups;

      if (*n == NATTER_PROFILE_MAX_IDS)
        continue;
      g_strv_builder_add (key[0] == 'u' ? users : groups, key + 2);
      (*n)++;
      g_ptr_array_add (taken, g_strdup (key));
    }
  for (guint i = 0; i < taken->len; i++)
    {
      const char *k = g_ptr_array_index (taken, i);

      g_hash_table_remove (self->wanted, k);
      g_hash_table_replace (self->asked, g_strdup (k), g_memdup2 (&now, sizeof now));
    }

  user_ids = g_strv_builder_end (users);
  group_ids = g_strv_builder_end (groups);
  natter_client_get_profiles_async (self->client, (const char * const *) user_ids,
                                    (const char * const *) group_ids, NULL, auto_fetched_cb, NULL);
  schedule_flush (self);  /* more than one query's worth */
  return G_SOURCE_REMOVE;
}

void
natter_profile_fetcher_note (NatterProfileFetcher *self,
                             NatterMessage        *message)
{
  NatterConversationType type;

  g_return_if_fail (NATTER_IS_PROFILE_FETCHER (self));

  type = natter_message_get_conversation_type (message);
  want (self, 'u', natter_message_get_sender_user_id (message), ASK_INTERVAL_US);
  if (type == NATTER_CONVERSATION_GROUP || type == NATTER_CONVERSATION_DISCUSSION)
    want (self, 'g', natter_message_get_target_id (message), ASK_INTERVAL_US);
  /* system chats too: they are with the sending service, named by its profile (#16) */
  else if (type != NATTER_CONVERSATION_CHATROOM)
    want (self, 'u', natter_message_get_target_id (message), ASK_INTERVAL_US);
}

static void
changed_stored_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!natter_store_set_profiles_finish (NATTER_STORE (object), result, &error))
    g_warning ("Cannot store a changed profile: %s", error->message);
}

void
natter_profile_fetcher_changed (NatterProfileFetcher *self,
                                NatterMessage        *message)
{
  JsonObject *content;
  const char *user_id;
  g_autoptr(GPtrArray) users = NULL;
  g_autoptr(GPtrArray) groups = NULL;
  gint64 now;

  g_return_if_fail (NATTER_IS_PROFILE_FETCHER (self));

  content = natter_message_get_content (message);
  user_id = natter_message_get_sender_user_id (message);
  if (self->client == NULL || content == NULL || user_id == NULL || !natter_id_is_valid (user_id) ||
      g_strcmp0 (json_object_get_string_member_with_default (content, "userId", NULL), user_id) != 0)
    return;

  users = g_ptr_array_new_with_free_func ((GDestroyNotify) natter_profile_free);
  groups = g_ptr_array_new_with_free_func ((GDestroyNotify) natter_profile_free);
  g_ptr_array_add (users, natter_profile_new (user_id,
                                              json_object_get_string_member_with_default (content, "name", ""),
                                              json_object_get_string_member_with_default (content, "portraitUri", ""),
                                              0));
  /* As good as fetched now: not asked again for a while. */
  now = g_get_monotonic_time ();
  g_hash_table_replace (self->asked, g_strdup_printf ("u:%s", user_id), g_memdup2 (&now, sizeof now));
  natter_store_set_profiles_async (natter_client_get_store (self->client), users, groups,
                                   natter_client_server_now (self->client), NULL, changed_stored_cb, NULL);
}

void
natter_profile_fetcher_opened (NatterProfileFetcher   *self,
                               NatterConversationType  type,
                               const char             *target_id)
{
  gint64 interval_us;

  g_return_if_fail (NATTER_IS_PROFILE_FETCHER (self));

  interval_us = self->refresh_age_ms * 1000;
  if (type == NATTER_CONVERSATION_GROUP || type == NATTER_CONVERSATION_DISCUSSION)
    want (self, 'g', target_id, interval_us);
  else if (type != NATTER_CONVERSATION_CHATROOM)
    want (self, 'u', target_id, interval_us);
}

void
natter_profile_fetcher_set_refresh_age (NatterProfileFetcher *self,
                                        gint64                age_ms)
{
  g_return_if_fail (NATTER_IS_PROFILE_FETCHER (self));
  self->refresh_age_ms = MAX (age_ms, 0);
}

static void
stale_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(NatterProfileFetcher) self = user_data;
  g_auto(GStrv) user_ids = NULL;
  g_auto(GStrv) group_ids = NULL;
  g_autoptr(GError) error = NULL;

  if (!natter_store_get_stale_profiles_finish (NATTER_STORE (object), result, &user_ids, &group_ids,
                                               &error))
    {
      g_warning ("Cannot read the conversations to name: %s", error->message);
      return;
    }
  if (self->client == NULL)
    return;  /* the client is going away */

  /* the store's fetch times said they are old: ask even if asked lately
   * by another way (a message noted before the sweep) */
  for (guint i = 0; user_ids[i] != NULL; i++)
    want (self, 'u', user_ids[i], self->refresh_age_ms * 1000);
  for (guint i = 0; group_ids[i] != NULL; i++)
    want (self, 'g', group_ids[i], self->refresh_age_ms * 1000);
}

void
natter_profile_fetcher_connected (NatterProfileFetcher *self)
{
  gint64 now = g_get_monotonic_time ();
  gint64 server_now;
  NatterStore *store;

  g_return_if_fail (NATTER_IS_PROFILE_FETCHER (self));
  g_return_if_fail (self->client != NULL);

  server_now = natter_client_server_now (self->client);
  store = natter_client_get_store (self->client);
  schedule_flush (self);
  if (self->last_sweep != 0 && now - self->last_sweep < self->refresh_age_ms * 1000)
    return;
  self->last_sweep = now;
  /* the conversations on screen, then the older ones, less often */
  natter_store_get_stale_profiles_async (store, server_now - self->refresh_age_ms, RECENT_LIMIT, NULL,
                                         stale_cb, g_object_ref (self));
  natter_store_get_stale_profiles_async (store, server_now - PROFILE_MAX_AGE_MS, SWEEP_LIMIT, NULL,
                                         stale_cb, g_object_ref (self));
}

/* ---------------------------------------------------------------- GObject */

static void
natter_profile_fetcher_dispose (GObject *object)
{
  NatterProfileFetcher *self = (NatterProfileFetcher *) object;

  /* A sweep still reading the store holds the fetcher; it asks nothing. */
  g_clear_weak_pointer (&self->client);
  g_clear_handle_id (&self->flush_source, g_source_remove);

  G_OBJECT_CLASS (natter_profile_fetcher_parent_class)->dispose (object);
}

static void
natter_profile_fetcher_finalize (GObject *object)
{
  NatterProfileFetcher *self = (NatterProfileFetcher *) object;

  g_hash_table_unref (self->asked);
  g_hash_table_unref (self->wanted);

  G_OBJECT_CLASS (natter_profile_fetcher_parent_class)->finalize (object);
}

static void
natter_profile_fetcher_class_init (NatterProfileFetcherClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = natter_profile_fetcher_dispose;
  object_class->finalize = natter_profile_fetcher_finalize;
}

static void
natter_profile_fetcher_init (NatterProfileFetcher *self)
{
  self->refresh_age_ms = REFRESH_AGE_MS;
  self->asked = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->wanted = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

NatterProfileFetcher *
natter_profile_fetcher_new (NatterClient *client)
{
  NatterProfileFetcher *self;

  g_return_val_if_fail (NATTER_IS_CLIENT (client), NULL);

  self = g_object_new (NATTER_TYPE_PROFILE_FETCHER, NULL);
  g_set_weak_pointer (&self->client, client);
  return self;
}
