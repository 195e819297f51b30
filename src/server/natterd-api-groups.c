/* natterd-api-groups.c — the server API's group/ paths: create and join,
 * quit, rename, sync a user's groups, dismiss, members, gags
 *
 * Groups exist in the app server's terms: natterd keeps their members
 * (for delivery and history) and stores every change before replying.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-api-private.h"

#include <string.h>

/* A new group whose row could not be stored is forgotten (the request
 * answers 1000, and the store lets no member row name it). */
static void
group_created (NatterdOp *base,
               gpointer   user_data)
{
  NatterdGroupOp *op = (NatterdGroupOp *) base;
  NatterdApiRequest *request = user_data;
  NatterdGroup *group = g_hash_table_lookup (request->app->groups, op->group_id);

  if (base->error != NULL && group != NULL && group->id == op->id)
    natterd_directory_remove_group (request->server->directory, group);
  else if (base->error == NULL && op->stored_id != 0)
    natterd_server_group_stored_elsewhere (request->server, op);
  natterd_api_part_committed (base, user_data);
}

static void
store_group (NatterdApiRequest *request,
             NatterdGroup      *group,
             gboolean           remove)
{
  NatterdGroupOp *op = natterd_op_new (NATTERD_OP_GROUP, NULL, NULL, NULL);

  op->id = group->id;
  op->app_id = group->app->id;
  op->group_id = g_strdup (group->group_id);
  op->name = g_strdup (group->name);
  op->created = group->created;
  op->remove = remove;
  natterd_api_submit_part (request, op);
}

static void
create_group_row (NatterdApiRequest *request,
                  NatterdGroup      *group)
{
  NatterdGroupOp *op = natterd_op_new (NATTERD_OP_GROUP, NULL, NULL, NULL);

  op->id = group->id;
  op->app_id = group->app->id;
  op->group_id = g_strdup (group->group_id);
  op->name = g_strdup (group->name);
  op->created = group->created;
  op->create = TRUE;
  natterd_api_submit_part_full (request, op, group_created);
}

/* Joins or leaves of @users (NatterdUser) in @group, stored as a part of
 * @request (also natterd-accounts-groups.c). */
void
natterd_api_store_members (NatterdApiRequest    *request,
                           NatterdGroup         *group,
                           NatterdMembersAction  action,
                           GPtrArray            *users,
                           gint64                time)
{
  NatterdMembersOp *op;

  if (users->len == 0)
    return;
  op = natterd_op_new (NATTERD_OP_MEMBERS, NULL, NULL, NULL);
  op->group_id = group->id;
  op->action = action;
  op->time = time;
  op->app_id = group->app->id;
  op->timeline_id = g_strdup (group->group_id);
  op->from_start = group->app->settings.group_history_before_join;
  for (guint i = 0; i < users->len; i++)
    g_array_append_val (op->user_ids, ((NatterdUser *) g_ptr_array_index (users, i))->id);
  natterd_api_submit_part (request, op);
}

static NatterdGroup *
ensure_group (NatterdApiRequest *request,
              const char        *group_id,
              const char        *name)
{
  NatterdGroup *group = g_hash_table_lookup (request->app->groups, group_id);

  if (group == NULL)
    {
      group = natterd_directory_add_group (request->server->directory, request->app, group_id,
                                           name, natterd_now_ms ());
      create_group_row (request, group);
    }
  else if (name != NULL && g_strcmp0 (group->name, name) != 0)
    {
      g_free (group->name);
      group->name = g_strdup (name);
      store_group (request, group, FALSE);
    }
  return group;
}

static void
api_group_create (NatterdApiRequest *request)
{
  g_autoptr(GPtrArray) user_ids = natterd_api_require_ids (request, "userId", MAX_USERS_PER_CALL);
  g_autoptr(GPtrArray) added = g_ptr_array_new ();
  const char *group_id = user_ids != NULL ? natterd_api_require_id (request, "groupId") : NULL;
  const char *name;
  NatterdGroup *group;
  gint64 now = natterd_now_ms ();
  guint new_members = 0;

  if (group_id == NULL || !natterd_api_optional_text (request, "groupName", NATTER_NAME_MAX_LENGTH, &name))
    return;

  group = g_hash_table_lookup (request->app->groups, group_id);
  for (guint i = 0; i < user_ids->len; i++)
    {
      NatterdUser *user = natterd_directory_lookup_user (request->app, g_ptr_array_index (user_ids, i));

      if (group == NULL || user == NULL || natterd_group_lookup_member (group, user) == NULL)
        new_members++;
    }
  if ((group != NULL ? g_hash_table_size (group->members) : 0) + new_members >
      request->server->config->group_max_members)
    {
      natterd_api_reply_error (request, NATTER_API_COUNT_OVER_LIMIT, "The group would be over its member limit");
      return;
    }

  group = ensure_group (request, group_id, name);
  for (guint i = 0; i < user_ids->len; i++)
    {
      NatterdUser *user = natterd_server_ensure_user (request->server, request->app,
                                                      g_ptr_array_index (user_ids, i));

      if (natterd_group_lookup_member (group, user) == NULL)
        {
          natterd_group_add_member (group, user, now);
          g_ptr_array_add (added, user);
        }
    }
  natterd_api_store_members (request, group, NATTERD_MEMBERS_ADD, added, now);
  natterd_api_finish_when_stored (request);
}

static void
api_group_quit (NatterdApiRequest *request)
{
  g_autoptr(GPtrArray) user_ids = natterd_api_require_ids (request, "userId", MAX_USERS_PER_CALL);
  g_autoptr(GPtrArray) removed = g_ptr_array_new ();
  const char *group_id = user_ids != NULL ? natterd_api_require_id (request, "groupId") : NULL;
  NatterdGroup *group;

  if (group_id == NULL)
    return;

  group = g_hash_table_lookup (request->app->groups, group_id);
  if (group != NULL)
    {
      for (guint i = 0; i < user_ids->len; i++)
        {
          NatterdUser *user = natterd_directory_lookup_user (request->app, g_ptr_array_index (user_ids, i));

          if (user != NULL && natterd_group_remove_member (group, user))
            g_ptr_array_add (removed, user);
        }
      natterd_api_store_members (request, group, NATTERD_MEMBERS_REMOVE, removed, 0);
      /* An owner who quits leaves the group to the next (natterd-accounts-groups.c). */
      natterd_api_group_departed (request, group, removed);
    }
  natterd_api_finish_when_stored (request);
}

static void
api_group_refresh (NatterdApiRequest *request)
{
  const char *group_id = natterd_api_require_id (request, "groupId");
  const char *name;
  NatterdGroup *group;

  if (group_id == NULL || !natterd_api_optional_text (request, "groupName", NATTER_NAME_MAX_LENGTH, &name))
    return;
  group = g_hash_table_lookup (request->app->groups, group_id);
  if (group == NULL)
    {
      natterd_api_reply_error (request, NATTER_API_BAD_PARAMETER, "No such group");
      return;
    }
  ensure_group (request, group_id, name != NULL ? name : "");
  natterd_api_finish_when_stored (request);
}

typedef struct
{
  NatterdApiRequest *request;
  NatterdUser       *user;
  GHashTable        *wanted;      /* group id → name (borrowed from the request's form) */
} GroupSync;

static void
group_sync_free (gpointer data)
{
  GroupSync *sync = data;

  natterd_api_request_unref (sync->request);
  g_hash_table_unref (sync->wanted);
  g_free (sync);
}

/* The user's groups as stored (the index on group_members (user_id)),
 * read after what this node changed before is committed. */
static void
group_sync_read (NatterdRead *base,
                 gpointer     user_data)
{
  NatterdUserGroupsRead *read = (NatterdUserGroupsRead *) base;
  GroupSync *sync = user_data;
  NatterdApiRequest *request = sync->request;
  NatterdUser *user = sync->user;
  g_autoptr(GPtrArray) left = g_ptr_array_new ();
  GHashTableIter iter;
  const char *id, *name;
  gint64 now = natterd_now_ms ();

  if (base->error != NULL)
    {
      natterd_api_reply_error (request, NATTER_API_INTERNAL_ERROR, "The store is unavailable; try again later");
      return;
    }

  /* Leave the groups not listed (their roles passed on once the walk is
   * over: a group left empty goes from the directory)... */
  for (guint i = 0; i < read->group_ids->len; i++)
    {
      NatterdGroup *group = natterd_directory_lookup_group_id (request->server->directory,
                                                               g_array_index (read->group_ids, gint64, i));

      if (group != NULL && group->app == request->app && !g_hash_table_contains (sync->wanted, group->group_id) &&
          natterd_group_remove_member (group, user))
        {
          g_autoptr(GPtrArray) one = g_ptr_array_new ();

          g_ptr_array_add (one, user);
          natterd_api_store_members (request, group, NATTERD_MEMBERS_REMOVE, one, 0);
          g_ptr_array_add (left, group);
        }
    }
  for (guint i = 0; i < left->len; i++)
    {
      g_autoptr(GPtrArray) one = g_ptr_array_new ();

      g_ptr_array_add (one, user);
      natterd_api_group_departed (request, g_ptr_array_index (left, i), one);
    }

  /* ...and join the ones listed. */
  g_hash_table_iter_init (&iter, sync->wanted);
  while (g_hash_table_iter_next (&iter, (gpointer *) &id, (gpointer *) &name))
    {
      NatterdGroup *group = ensure_group (request, id, name);

      if (natterd_group_lookup_member (group, user) == NULL)
        {
          g_autoptr(GPtrArray) one = g_ptr_array_new ();

          natterd_group_add_member (group, user, now);
          g_ptr_array_add (one, user);
          natterd_api_store_members (request, group, NATTERD_MEMBERS_ADD, one, now);
        }
    }
  natterd_api_finish_when_stored (request);
}

static void
group_sync_barrier (NatterdOp *op,
                    gpointer   user_data)
{
  GroupSync *sync = user_data;
  NatterdUserGroupsRead *read;

  if (op->error != NULL)
    {
      natterd_api_reply_error (sync->request, NATTER_API_INTERNAL_ERROR, "The store is unavailable; try again later");
      group_sync_free (sync);
      return;
    }
  read = natterd_read_new (NATTERD_READ_USER_GROUPS, group_sync_read, sync, group_sync_free);
  read->user_id = sync->user->id;
  natterd_store_read (sync->request->server->store, read);
}

/* group/sync: the user's groups are found by the store's index by user,
 * not by a look at every group of the app. */
static void
api_group_sync (NatterdApiRequest *request)
{
  const char *user_id = natterd_api_require_id (request, "userId");
  g_autoptr(GHashTable) wanted = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GroupSync *sync;

  if (user_id == NULL)
    return;

  /* group[ID]=NAME, repeated */
  for (guint i = 0; i < request->names->len; i++)
    {
      const char *name = g_ptr_array_index (request->names, i);
      g_autofree char *id = NULL;

      if (!g_str_has_prefix (name, "group[") || !g_str_has_suffix (name, "]"))
        continue;
      id = g_strndup (name + 6, strlen (name) - 7);
      if (!natterd_api_check_id (request, "group id", id))
        return;
      if (strlen (g_ptr_array_index (request->values, i)) > NATTER_NAME_MAX_LENGTH)
        {
          natterd_api_reply_error (request, NATTER_API_LENGTH_OVER_LIMIT, "Group name is too long");
          return;
        }
      g_hash_table_insert (wanted, g_steal_pointer (&id), g_ptr_array_index (request->values, i));
    }
  if (g_hash_table_size (wanted) > MAX_USERS_PER_CALL)
    {
      natterd_api_reply_error (request, NATTER_API_COUNT_OVER_LIMIT, "Too many groups");
      return;
    }

  sync = g_new0 (GroupSync, 1);
  sync->request = natterd_api_request_ref (request);
  sync->user = natterd_server_ensure_user (request->server, request->app, user_id);
  sync->wanted = g_steal_pointer (&wanted);
  /* A barrier first: the read then sees every membership this node
   * changed before this request. */
  natterd_store_submit (request->server->store,
                        natterd_op_new (NATTERD_OP_BARRIER, group_sync_barrier, sync, NULL));
}

static void
api_group_dismiss (NatterdApiRequest *request)
{
  const char *user_id = natterd_api_require_id (request, "userId");
  const char *group_id = user_id != NULL ? natterd_api_require_id (request, "groupId") : NULL;
  NatterdGroup *group;

  if (group_id == NULL)
    return;

  group = g_hash_table_lookup (request->app->groups, group_id);
  if (group != NULL)
    {
      store_group (request, group, TRUE);
      natterd_directory_remove_group (request->server->directory, group);
    }
  natterd_api_group_dismissed (request, group_id);
  natterd_api_finish_when_stored (request);
}

static void
api_group_user_query (NatterdApiRequest *request)
{
  const char *group_id = natterd_api_require_id (request, "groupId");
  NatterdGroup *group;
  JsonBuilder *body;

  if (group_id == NULL)
    return;
  group = g_hash_table_lookup (request->app->groups, group_id);
  body = natterd_api_ok_body (request);
  json_builder_set_member_name (body, "users");
  json_builder_begin_array (body);
  if (group != NULL)
    {
      GHashTableIter iter;
      NatterdUser *user;

      g_hash_table_iter_init (&iter, group->members);
      while (g_hash_table_iter_next (&iter, (gpointer *) &user, NULL))
        {
          json_builder_begin_object (body);
          json_builder_set_member_name (body, "id");
          json_builder_add_string_value (body, user->user_id);
          json_builder_end_object (body);
        }
    }
  json_builder_end_array (body);
  natterd_api_reply_ok (request);
}

static void
group_gag (NatterdApiRequest *request,
           gboolean           add)
{
  g_autoptr(GPtrArray) user_ids = natterd_api_require_ids (request, "userId", MAX_USERS_PER_CALL);
  g_autoptr(GPtrArray) changed = g_ptr_array_new ();
  const char *group_id = user_ids != NULL ? natterd_api_require_id (request, "groupId") : NULL;
  NatterdGroup *group;
  gint64 minutes = 0;
  gint64 until;

  if (group_id == NULL ||
      (add && !natterd_api_int_param (request, "minute", 1, GAG_MAX_MINUTES, TRUE, 0, &minutes)))
    return;

  group = g_hash_table_lookup (request->app->groups, group_id);
  if (group == NULL)
    {
      if (add)
        natterd_api_reply_error (request, NATTER_API_BAD_PARAMETER, "No such group");
      else
        natterd_api_reply_ok (request);
      return;
    }

  until = add ? natterd_now_ms () + minutes * 60 * 1000 : 0;
  for (guint i = 0; i < user_ids->len; i++)
    {
      NatterdUser *user = natterd_directory_lookup_user (request->app, g_ptr_array_index (user_ids, i));
      NatterdMember *member = user != NULL ? natterd_group_lookup_member (group, user) : NULL;

      if (member != NULL)
        {
          member->gag_until = until;
          group->changed = natterd_directory_stamp ();
          g_ptr_array_add (changed, user);
        }
    }
  natterd_api_store_members (request, group, NATTERD_MEMBERS_GAG, changed, until);
  natterd_api_finish_when_stored (request);
}

static void
api_group_gag_add (NatterdApiRequest *request)
{
  group_gag (request, TRUE);
}

static void
api_group_gag_rollback (NatterdApiRequest *request)
{
  group_gag (request, FALSE);
}

static void
api_group_gag_list (NatterdApiRequest *request)
{
  const char *group_id = natterd_api_require_id (request, "groupId");
  NatterdGroup *group;
  JsonBuilder *body;
  gint64 now = natterd_now_ms ();

  if (group_id == NULL)
    return;
  group = g_hash_table_lookup (request->app->groups, group_id);
  body = natterd_api_ok_body (request);
  json_builder_set_member_name (body, "users");
  json_builder_begin_array (body);
  if (group != NULL)
    {
      GHashTableIter iter;
      NatterdMember *member;

      g_hash_table_iter_init (&iter, group->members);
      while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &member))
        if (member->gag_until > now)
          {
            g_autofree char *time = natterd_api_format_time (member->gag_until);

            json_builder_begin_object (body);
            json_builder_set_member_name (body, "time");
            json_builder_add_string_value (body, time);
            json_builder_set_member_name (body, "userId");
            json_builder_add_string_value (body, member->user->user_id);
            json_builder_end_object (body);
          }
    }
  json_builder_end_array (body);
  natterd_api_reply_ok (request);
}


const NatterdApiRoute natterd_api_group_routes[] = {
  { "group/create", api_group_create },
  { "group/join", api_group_create },
  { "group/quit", api_group_quit },
  { "group/refresh", api_group_refresh },
  { "group/sync", api_group_sync },
  { "group/dismiss", api_group_dismiss },
  { "group/user/query", api_group_user_query },
  { "group/user/gag/add", api_group_gag_add },
  { "group/user/gag/rollback", api_group_gag_rollback },
  { "group/user/gag/list", api_group_gag_list },
  { NULL, NULL }
};
