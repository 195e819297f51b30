/* natter-client-profiles.c — display names and portraits from the server
 *
 * The protocol's messages carry ids; names come from ProfileRequest. They
 * are kept in the store (users and groups tables), which names the
 * conversations (title, portrait-uri) and the senders of the messages it
 * hands out (sender-name, sender-portrait-uri). When the client asks by
 * itself is NatterProfileFetcher's business (natter-profile-fetcher.c).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-client-private.h"

#include "natter-message-private.h"
#include "natter-store-private.h"

static void
profiles_stored_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;

  if (!natter_store_set_profiles_finish (NATTER_STORE (object), result, &error))
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, TRUE);
}

static void
profile_query_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  NatterClient *client = NATTER_CLIENT (object);
  g_autoptr(NatterFrame) frame = NULL;
  g_autoptr(GPtrArray) users = g_ptr_array_new_with_free_func ((GDestroyNotify) natter_profile_free);
  g_autoptr(GPtrArray) groups = g_ptr_array_new_with_free_func ((GDestroyNotify) natter_profile_free);
  GError *error = NULL;
  GCancellable *cancellable;
  const Natter__ProfileResult *profile;

  frame = g_task_propagate_pointer (G_TASK (result), &error);
  if (frame == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (frame->result->payload_case != NATTER__RESULT__PAYLOAD_PROFILE)
    {
      /* An older natterd: nothing to learn. */
      g_task_return_boolean (task, TRUE);
      return;
    }

  profile = frame->result->profile;
  for (gsize i = 0; i < profile->n_users; i++)
    g_ptr_array_add (users, natter_profile_new (profile->users[i]->id, profile->users[i]->name,
                                                profile->users[i]->portrait_uri, 0));
  for (gsize i = 0; i < profile->n_groups; i++)
    g_ptr_array_add (groups, natter_profile_new (profile->groups[i]->id, profile->groups[i]->name, NULL,
                                                 profile->groups[i]->member_count));

  cancellable = g_task_get_cancellable (task);
  natter_store_set_profiles_async (natter_client_get_store (client), users, groups,
                                   natter_client_server_now (client), cancellable,
                                   profiles_stored_cb, g_steal_pointer (&task));
}

void
natter_client_get_profiles_async (NatterClient        *self,
                                  const char * const  *user_ids,
                                  const char * const  *group_ids,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  Natter__Query query = NATTER__QUERY__INIT;
  Natter__ProfileRequest request = NATTER__PROFILE_REQUEST__INIT;
  guint n_users = user_ids != NULL ? g_strv_length ((char **) user_ids) : 0;
  guint n_groups = group_ids != NULL ? g_strv_length ((char **) group_ids) : 0;
  GTask *inner;

  g_return_if_fail (NATTER_IS_CLIENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_client_get_profiles_async);

  if (n_users + n_groups == 0 || n_users > NATTER_PROFILE_MAX_IDS || n_groups > NATTER_PROFILE_MAX_IDS)
    {
      g_task_return_new_error (task, NATTER_CLIENT_ERROR, NATTER_CODE_INVALID_PARAMETER,
                               "Invalid parameter (%d): 1 to 100 user ids and group ids",
                               NATTER_CODE_INVALID_PARAMETER);
      return;
    }

  request.n_user_ids = n_users;
  request.user_ids = (char **) user_ids;
  request.n_group_ids = n_groups;
  request.group_ids = (char **) group_ids;
  query.method_case = NATTER__QUERY__METHOD_PROFILE;
  query.profile = &request;
  inner = g_task_new (self, NULL, profile_query_cb, g_steal_pointer (&task));
  natter_client_send_query (self, &query, inner);
  g_object_unref (inner);
}

gboolean
natter_client_get_profiles_finish (NatterClient  *self,
                                   GAsyncResult  *result,
                                   GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
