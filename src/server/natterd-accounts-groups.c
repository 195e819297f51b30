/* natterd-accounts-groups.c — groups run by their members (SealTalk's
 * group API) under /account/group/
 *
 * The group itself is the server API's (NatterdGroup in the directory,
 * its rows, its members on the timeline), changed through the same ops,
 * so delivery, history, other nodes and the server API's group/ paths all
 * see it as any other group. What members add is kept beside it: the
 * owner, the admins, the announcement and mute-all, one "group" row.
 *
 * Every change is told to the members as RC:GrpNtf in the group, sent as
 * the operator; members who are kicked or quit get it before they go
 * (they are removed once it is stored and handed to the fan-out).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-accounts-private.h"

#include "natter-json.h"

#include <sodium.h>
#include <string.h>

#define GROUP_OBJECT_NAME "RC:GrpNtf"

typedef enum {
  ROLE_NONE,
  ROLE_MEMBER,
  ROLE_ADMIN,
  ROLE_OWNER,
} Role;

void
natterd_group_roles_free (gpointer data)
{
  NatterdGroupRoles *roles = data;

  g_free (roles->owner);
  g_hash_table_unref (roles->admins);
  g_free (roles->announcement);
  g_free (roles);
}

static NatterdGroupRoles *
ensure_roles (NatterdAccountsApp *state,
              const char         *group_id)
{
  NatterdGroupRoles *roles = g_hash_table_lookup (state->groups, group_id);

  if (roles == NULL)
    {
      roles = g_new0 (NatterdGroupRoles, 1);
      roles->admins = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      roles->announcement = g_strdup ("");
      g_hash_table_insert (state->groups, g_strdup (group_id), roles);
    }
  return roles;
}

void
natterd_accounts_load_group (NatterdAccountsApp *state,
                             const char         *group_id,
                             const char         *json)
{
  g_autoptr(JsonNode) node = natter_json_parse (json, -1, NULL);
  NatterdGroupRoles *roles;
  JsonObject *object;
  JsonNode *admins;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return;
  object = json_node_get_object (node);
  roles = ensure_roles (state, group_id);
  g_hash_table_remove_all (roles->admins);
  g_free (roles->owner);
  roles->owner = g_strdup (json_object_get_string_member_with_default (object, "owner", NULL));
  g_free (roles->announcement);
  roles->announcement = g_strdup (json_object_get_string_member_with_default (object, "announcement", ""));
  roles->mute_all = json_object_get_boolean_member_with_default (object, "muteAll", FALSE);
  admins = json_object_get_member (object, "admins");
  if (admins != NULL && JSON_NODE_HOLDS_ARRAY (admins))
    for (guint i = 0; i < json_array_get_length (json_node_get_array (admins)); i++)
      {
        const char *id = json_array_get_string_element (json_node_get_array (admins), i);

        if (id != NULL)
          g_hash_table_add (roles->admins, g_strdup (id));
      }
}

static void
store_roles (NatterdApiRequest  *request,
             NatterdAccountsApp *state,
             const char         *group_id)
{
  NatterdGroupRoles *roles = g_hash_table_lookup (state->groups, group_id);
  NatterdAccountOp *op = natterd_accounts_op_new ();
  g_autofree char *json = NULL;

  if (roles != NULL)
    {
      g_autoptr(JsonBuilder) builder = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;
      g_autoptr(GList) admins = g_list_sort (g_hash_table_get_keys (roles->admins), (GCompareFunc) g_strcmp0);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "owner");
      json_builder_add_string_value (builder, roles->owner);
      json_builder_set_member_name (builder, "admins");
      json_builder_begin_array (builder);
      for (GList *l = admins; l != NULL; l = l->next)
        json_builder_add_string_value (builder, l->data);
      json_builder_end_array (builder);
      json_builder_set_member_name (builder, "announcement");
      json_builder_add_string_value (builder, roles->announcement);
      json_builder_set_member_name (builder, "muteAll");
      json_builder_add_boolean_value (builder, roles->mute_all);
      json_builder_end_object (builder);
      root = json_builder_get_root (builder);
      json = json_to_string (root, FALSE);
    }
  natterd_account_op_add (op, state->app_id, "group", group_id, "", json);
  natterd_accounts_submit (request, op);
}

static Role
role_of (NatterdGroup       *group,
         NatterdGroupRoles  *roles,
         NatterdUser        *user)
{
  if (natterd_group_lookup_member (group, user) == NULL)
    return ROLE_NONE;
  if (roles != NULL && g_strcmp0 (roles->owner, user->user_id) == 0)
    return ROLE_OWNER;
  if (roles != NULL && g_hash_table_contains (roles->admins, user->user_id))
    return ROLE_ADMIN;
  return ROLE_MEMBER;
}

static const char *
role_name (Role role)
{
  switch (role)
    {
    case ROLE_OWNER: return "owner";
    case ROLE_ADMIN: return "admin";
    case ROLE_MEMBER:
    case ROLE_NONE:
    default: return "member";
    }
}

/* ------------------------------------------------------- the group's ops */

static void
group_row_stored (NatterdOp *base,
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
             gboolean           create,
             gboolean           remove)
{
  NatterdGroupOp *op = natterd_op_new (NATTERD_OP_GROUP, NULL, NULL, NULL);

  op->id = group->id;
  op->app_id = group->app->id;
  op->group_id = g_strdup (group->group_id);
  op->name = g_strdup (group->name);
  op->created = group->created;
  op->create = create;
  op->remove = remove;
  natterd_api_submit_part_full (request, op, create ? group_row_stored : natterd_api_part_committed);
}

/* RC:GrpNtf from @operator about @targets (NatterdUser). */
static void
notify_group (NatterdApiRequest *request,
              NatterdGroup      *group,
              NatterdUser       *operator,
              const char        *operation,
              GPtrArray         *targets,
              const char        *name,
              const char        *announcement)
{
  g_autoptr(JsonBuilder) content = json_builder_new ();

  json_builder_begin_object (content);
  json_builder_set_member_name (content, "operatorUserId");
  json_builder_add_string_value (content, operator->user_id);
  json_builder_set_member_name (content, "operation");
  json_builder_add_string_value (content, operation);
  json_builder_set_member_name (content, "data");
  json_builder_begin_object (content);
  json_builder_set_member_name (content, "operatorNickname");
  json_builder_add_string_value (content, natterd_accounts_display_name (operator));
  json_builder_set_member_name (content, "targetUserIds");
  json_builder_begin_array (content);
  for (guint i = 0; targets != NULL && i < targets->len; i++)
    json_builder_add_string_value (content, ((NatterdUser *) g_ptr_array_index (targets, i))->user_id);
  json_builder_end_array (content);
  json_builder_set_member_name (content, "targetUserDisplayNames");
  json_builder_begin_array (content);
  for (guint i = 0; targets != NULL && i < targets->len; i++)
    json_builder_add_string_value (content, natterd_accounts_display_name (g_ptr_array_index (targets, i)));
  json_builder_end_array (content);
  if (name != NULL)
    {
      json_builder_set_member_name (content, "name");
      json_builder_add_string_value (content, name);
    }
  if (announcement != NULL)
    {
      json_builder_set_member_name (content, "announcement");
      json_builder_add_string_value (content, announcement);
    }
  json_builder_end_object (content);
  json_builder_set_member_name (content, "message");
  json_builder_add_string_value (content, "");
  json_builder_set_member_name (content, "extra");
  json_builder_add_string_value (content, "");
  json_builder_end_object (content);
  natterd_accounts_notify (request, operator, NATTER_CONVERSATION_GROUP, group->group_id, GROUP_OBJECT_NAME,
                           NATTER_MESSAGE_FLAG_PERSISTED, content);
}

/* ------------------------------------------------------------ parameters */

typedef struct
{
  NatterdGroup      *group;
  NatterdGroupRoles *roles;     /* NULL: a group of the server API's */
  Role               role;      /* the caller's */
} GroupContext;

/* The group of "groupId" and the caller's role in it, at least @min;
 * replies 26021, 22406 or 26020 and returns FALSE otherwise. */
static gboolean
require_group (NatterdApiRequest *request,
               Role               min,
               GroupContext      *out)
{
  const char *group_id = natterd_api_require_id (request, "groupId");
  NatterdAccountsApp *state;

  if (group_id == NULL)
    return FALSE;
  out->group = g_hash_table_lookup (request->app->groups, group_id);
  if (out->group == NULL)
    {
      natterd_api_reply_error (request, NATTER_CODE_NO_SUCH_GROUP, "No such group");
      return FALSE;
    }
  state = natterd_accounts_app (request->server, request->app);
  out->roles = g_hash_table_lookup (state->groups, group_id);
  out->role = role_of (out->group, out->roles, natterd_account_user (request));
  if (out->role == ROLE_NONE)
    {
      natterd_api_reply_error (request, NATTER_CODE_NOT_IN_GROUP, "Not in group");
      return FALSE;
    }
  if (out->role < min)
    {
      natterd_api_reply_error (request, NATTER_CODE_GROUP_ROLE, "Not allowed for your role in this group");
      return FALSE;
    }
  return TRUE;
}

/* memberId…: existing users, each once; NULL after replying. */
static GPtrArray *
require_members (NatterdApiRequest *request,
                 gboolean           allow_empty)
{
  g_autoptr(GPtrArray) ids = natterd_api_params (request, "memberId");
  g_autoptr(GPtrArray) users = g_ptr_array_new ();
  NatterdAccountsApp *state = natterd_accounts_app (request->server, request->app);

  if (ids->len == 0 && !allow_empty)
    {
      natterd_api_reply_error (request, NATTER_API_BAD_PARAMETER, "memberId is required");
      return NULL;
    }
  if (ids->len > MAX_USERS_PER_CALL)
    {
      natterd_api_reply_error (request, NATTER_API_COUNT_OVER_LIMIT, "Too many memberId");
      return NULL;
    }
  for (guint i = 0; i < ids->len; i++)
    {
      const char *id = g_ptr_array_index (ids, i);
      NatterdUser *user;
      NatterdAccount *account;

      if (!natterd_api_check_id (request, "memberId", id))
        return NULL;
      user = natterd_directory_lookup_user (request->app, id);
      account = g_hash_table_lookup (state->accounts, id);
      if (user == NULL || (account != NULL && account->deleted))
        {
          g_autofree char *message = g_strdup_printf ("No such user: %s", id);

          natterd_api_reply_error (request, NATTER_CODE_NO_SUCH_USER, message);
          return NULL;
        }
      if (!g_ptr_array_find (users, user, NULL))
        g_ptr_array_add (users, user);
    }
  return g_steal_pointer (&users);
}

static gboolean
group_name_param (NatterdApiRequest  *request,
                  const char        **out)
{
  const char *name = natterd_api_param (request, "name");
  glong length = name != NULL ? g_utf8_strlen (name, -1) : 0;

  if (length < 1 || length > NATTERD_GROUP_NAME_MAX)
    {
      natterd_api_reply_error (request, NATTER_API_BAD_PARAMETER, "name must have 1 to 32 characters");
      return FALSE;
    }
  *out = name;
  return TRUE;
}

static gboolean
fits (NatterdApiRequest *request,
      NatterdGroup      *group,
      guint              more)
{
  if ((group != NULL ? g_hash_table_size (group->members) : 0) + more > request->server->config->group_max_members)
    {
      natterd_api_reply_error (request, NATTER_API_COUNT_OVER_LIMIT, "The group would be over its member limit");
      return FALSE;
    }
  return TRUE;
}

/* ----------------------------------------------------------------- paths */

static char *
group_id_generate (void)
{
  guint8 bytes[8];

  randombytes_buf (bytes, sizeof bytes);
  return g_strdup_printf ("g%02x%02x%02x%02x%02x%02x%02x%02x", bytes[0], bytes[1], bytes[2], bytes[3],
                          bytes[4], bytes[5], bytes[6], bytes[7]);
}

static void
group_create (NatterdApiRequest *request)
{
  NatterdUser *user = natterd_account_user (request);
  NatterdAccountsApp *state = natterd_accounts_app (request->server, request->app);
  g_autoptr(GPtrArray) members = NULL;
  g_autoptr(GPtrArray) added = g_ptr_array_new ();
  g_autoptr(GPtrArray) others = g_ptr_array_new ();
  g_autofree char *group_id = NULL;
  NatterdGroupRoles *roles;
  NatterdGroup *group;
  const char *name;
  gint64 now = natterd_now_ms ();
  JsonBuilder *body;

  if (!group_name_param (request, &name) || (members = require_members (request, TRUE)) == NULL)
    return;
  g_ptr_array_remove (members, user);
  if (!fits (request, NULL, members->len + 1))
    return;

  do
    {
      g_free (group_id);
      group_id = group_id_generate ();
    }
  while (g_hash_table_contains (request->app->groups, group_id));

  group = natterd_directory_add_group (request->server->directory, request->app, group_id, name, now);
  store_group (request, group, TRUE, FALSE);
  natterd_group_add_member (group, user, now);
  g_ptr_array_add (added, user);
  for (guint i = 0; i < members->len; i++)
    {
      natterd_group_add_member (group, g_ptr_array_index (members, i), now);
      g_ptr_array_add (added, g_ptr_array_index (members, i));
      g_ptr_array_add (others, g_ptr_array_index (members, i));
    }
  natterd_api_store_members (request, group, NATTERD_MEMBERS_ADD, added, now);
  roles = ensure_roles (state, group_id);
  roles->owner = g_strdup (user->user_id);
  store_roles (request, state, group_id);
  notify_group (request, group, user, "Create", others, name, NULL);

  body = natterd_api_ok_body (request);
  json_builder_set_member_name (body, "groupId");
  json_builder_add_string_value (body, group_id);
  natterd_api_finish_when_stored (request);
}

static void
group_add (NatterdApiRequest *request)
{
  NatterdUser *user = natterd_account_user (request);
  g_autoptr(GPtrArray) members = NULL;
  g_autoptr(GPtrArray) added = g_ptr_array_new ();
  GroupContext context;
  gint64 now = natterd_now_ms ();

  if (!require_group (request, ROLE_MEMBER, &context) || (members = require_members (request, FALSE)) == NULL)
    return;
  for (guint i = 0; i < members->len; i++)
    if (natterd_group_lookup_member (context.group, g_ptr_array_index (members, i)) == NULL)
      g_ptr_array_add (added, g_ptr_array_index (members, i));
  if (!fits (request, context.group, added->len))
    return;
  for (guint i = 0; i < added->len; i++)
    natterd_group_add_member (context.group, g_ptr_array_index (added, i), now);
  natterd_api_store_members (request, context.group, NATTERD_MEMBERS_ADD, added, now);
  if (added->len > 0)
    notify_group (request, context.group, user, "Add", added, NULL, NULL);
  natterd_api_finish_when_stored (request);
}

/* Members leaving: the notification first, then (once it is stored and
 * handed to the fan-out, which reads the members as they are) the
 * removal. */
typedef struct
{
  NatterdApiRequest *request;
  char              *group_id;
  GPtrArray         *users;     /* NatterdUser leaving */
  gboolean           dismiss;
} Departure;

static void
departure_free (gpointer data)
{
  Departure *departure = data;

  natterd_api_request_unref (departure->request);
  g_free (departure->group_id);
  g_ptr_array_unref (departure->users);
  g_free (departure);
}

static gboolean
depart (gpointer data)
{
  Departure *departure = data;
  NatterdApiRequest *request = departure->request;
  NatterdAccountsApp *state = natterd_accounts_app (request->server, request->app);
  NatterdGroup *group = g_hash_table_lookup (request->app->groups, departure->group_id);
  g_autoptr(GPtrArray) removed = g_ptr_array_new ();

  if (group != NULL && departure->dismiss)
    {
      store_group (request, group, FALSE, TRUE);
      natterd_directory_remove_group (request->server->directory, group);
      g_hash_table_remove (state->groups, departure->group_id);
      store_roles (request, state, departure->group_id);
    }
  else if (group != NULL)
    {
      NatterdGroupRoles *roles = g_hash_table_lookup (state->groups, departure->group_id);

      for (guint i = 0; i < departure->users->len; i++)
        {
          NatterdUser *user = g_ptr_array_index (departure->users, i);

          if (natterd_group_remove_member (group, user))
            g_ptr_array_add (removed, user);
          if (roles != NULL)
            g_hash_table_remove (roles->admins, user->user_id);
        }
      natterd_api_store_members (request, group, NATTERD_MEMBERS_REMOVE, removed, 0);
      if (roles != NULL)
        store_roles (request, state, departure->group_id);
    }
  natterd_api_finish_when_stored (request);
  natterd_api_end_part (request);
  return G_SOURCE_REMOVE;
}

static void
departure_notified (int         code,
                    const char *message_uid,
                    gint64      sent_time,
                    guint64     timeline_seq,
                    gpointer    user_data)
{
  Departure *departure = user_data;

  if (code != NATTER_CODE_OK)
    {
      natterd_api_fail_part (departure->request, NATTER_API_INTERNAL_ERROR, "Could not store the notification");
      natterd_api_end_part (departure->request);
      departure_free (departure);
      return;
    }
  /* The fan-out of a group message reads the members right after this
   * returns: they go at the next turn of the main loop. */
  g_idle_add_full (G_PRIORITY_DEFAULT, depart, departure, departure_free);
}

static void
leave_group (NatterdApiRequest *request,
             NatterdGroup      *group,
             NatterdUser       *operator,
             const char        *operation,
             GPtrArray         *users,
             gboolean           dismiss)
{
  g_autoptr(JsonBuilder) content = json_builder_new ();
  Departure *departure = g_new0 (Departure, 1);
  NatterdPublishRequest publish = { 0 };
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;

  departure->request = natterd_api_request_ref (request);
  departure->group_id = g_strdup (group->group_id);
  departure->users = g_ptr_array_ref (users);
  departure->dismiss = dismiss;

  json_builder_begin_object (content);
  json_builder_set_member_name (content, "operatorUserId");
  json_builder_add_string_value (content, operator->user_id);
  json_builder_set_member_name (content, "operation");
  json_builder_add_string_value (content, operation);
  json_builder_set_member_name (content, "data");
  json_builder_begin_object (content);
  json_builder_set_member_name (content, "operatorNickname");
  json_builder_add_string_value (content, natterd_accounts_display_name (operator));
  json_builder_set_member_name (content, "targetUserIds");
  json_builder_begin_array (content);
  for (guint i = 0; i < users->len; i++)
    json_builder_add_string_value (content, ((NatterdUser *) g_ptr_array_index (users, i))->user_id);
  json_builder_end_array (content);
  json_builder_set_member_name (content, "targetUserDisplayNames");
  json_builder_begin_array (content);
  for (guint i = 0; i < users->len; i++)
    json_builder_add_string_value (content, natterd_accounts_display_name (g_ptr_array_index (users, i)));
  json_builder_end_array (content);
  json_builder_end_object (content);
  json_builder_set_member_name (content, "message");
  json_builder_add_string_value (content, "");
  json_builder_set_member_name (content, "extra");
  json_builder_add_string_value (content, "");
  json_builder_end_object (content);
  root = json_builder_get_root (content);
  text = json_to_string (root, FALSE);

  publish.app = request->app;
  publish.sender = operator;
  publish.conversation_type = NATTER_CONVERSATION_GROUP;
  publish.target_id = group->group_id;
  publish.object_name = GROUP_OBJECT_NAME;
  publish.content = text;
  publish.flags = NATTER_MESSAGE_FLAG_PERSISTED;
  publish.from_api = TRUE;
  publish.include_sender = TRUE;
  natterd_api_begin_part (request);
  natterd_server_publish (request->server, &publish, departure_notified, departure, NULL);
}

static void
group_remove (NatterdApiRequest *request)
{
  NatterdUser *user = natterd_account_user (request);
  g_autoptr(GPtrArray) members = NULL;
  g_autoptr(GPtrArray) leaving = g_ptr_array_new ();
  GroupContext context;

  if (!require_group (request, ROLE_MEMBER, &context) || (members = require_members (request, FALSE)) == NULL)
    return;
  if (context.role == ROLE_MEMBER)
    {
      natterd_api_reply_error (request, NATTER_CODE_GROUP_ROLE, "Members may not remove anyone");
      return;
    }
  for (guint i = 0; i < members->len; i++)
    {
      NatterdUser *member = g_ptr_array_index (members, i);
      Role role = role_of (context.group, context.roles, member);

      if (member == user || role == ROLE_OWNER || (context.role == ROLE_ADMIN && role == ROLE_ADMIN))
        {
          natterd_api_reply_error (request, NATTER_CODE_GROUP_ROLE, "Not allowed for your role in this group");
          return;
        }
      if (role != ROLE_NONE)
        g_ptr_array_add (leaving, member);
    }
  if (leaving->len == 0)
    {
      natterd_api_reply_ok (request);
      return;
    }
  leave_group (request, context.group, user, "Kicked", leaving, FALSE);
}

/* The member who joined first among admins (if any), else among members. */
static NatterdUser *
successor (NatterdGroup      *group,
           NatterdGroupRoles *roles,
           NatterdUser       *leaving)
{
  NatterdUser *best = NULL;
  gint64 best_joined = G_MAXINT64;
  gboolean best_admin = FALSE;
  GHashTableIter iter;
  NatterdUser *user;
  NatterdMember *member;

  g_hash_table_iter_init (&iter, group->members);
  while (g_hash_table_iter_next (&iter, (gpointer *) &user, (gpointer *) &member))
    {
      gboolean admin = g_hash_table_contains (roles->admins, user->user_id);

      if (user == leaving)
        continue;
      if (best == NULL || (admin && !best_admin) ||
          (admin == best_admin && (member->joined < best_joined ||
                                   (member->joined == best_joined && g_strcmp0 (user->user_id, best->user_id) < 0))))
        {
          best = user;
          best_joined = member->joined;
          best_admin = admin;
        }
    }
  return best;
}

static void
group_leave (NatterdApiRequest *request)
{
  NatterdUser *user = natterd_account_user (request);
  NatterdAccountsApp *state = natterd_accounts_app (request->server, request->app);
  g_autoptr(GPtrArray) leaving = g_ptr_array_new ();
  GroupContext context;

  if (!require_group (request, ROLE_MEMBER, &context))
    return;
  g_ptr_array_add (leaving, user);
  if (context.role == ROLE_OWNER)
    {
      NatterdUser *next = successor (context.group, context.roles, user);

      if (next == NULL)
        {
          leave_group (request, context.group, user, "Dismiss", leaving, TRUE);
          return;
        }
      g_free (context.roles->owner);
      context.roles->owner = g_strdup (next->user_id);
      g_hash_table_remove (context.roles->admins, next->user_id);
      store_roles (request, state, context.group->group_id);
    }
  leave_group (request, context.group, user, "Quit", leaving, FALSE);
}

static void
group_dismiss (NatterdApiRequest *request)
{
  NatterdUser *user = natterd_account_user (request);
  g_autoptr(GPtrArray) none = g_ptr_array_new ();
  GroupContext context;

  if (!require_group (request, ROLE_OWNER, &context))
    return;
  leave_group (request, context.group, user, "Dismiss", none, TRUE);
}

static void
group_rename (NatterdApiRequest *request)
{
  NatterdUser *user = natterd_account_user (request);
  GroupContext context;
  const char *name;

  if (!require_group (request, ROLE_ADMIN, &context) || !group_name_param (request, &name))
    return;
  g_free (context.group->name);
  context.group->name = g_strdup (name);
  store_group (request, context.group, FALSE, FALSE);
  notify_group (request, context.group, user, "Rename", NULL, name, NULL);
  natterd_api_finish_when_stored (request);
}

static void
group_transfer (NatterdApiRequest *request)
{
  NatterdUser *user = natterd_account_user (request);
  NatterdAccountsApp *state = natterd_accounts_app (request->server, request->app);
  g_autoptr(GPtrArray) targets = g_ptr_array_new ();
  GroupContext context;
  NatterdUser *next;

  if (!require_group (request, ROLE_OWNER, &context) || (next = natterd_accounts_require_user (request, "userId")) == NULL)
    return;
  if (next == user || natterd_group_lookup_member (context.group, next) == NULL)
    {
      natterd_api_reply_error (request, NATTER_API_BAD_PARAMETER, "userId must be another member");
      return;
    }
  g_free (context.roles->owner);
  context.roles->owner = g_strdup (next->user_id);
  g_hash_table_remove (context.roles->admins, next->user_id);
  store_roles (request, state, context.group->group_id);
  g_ptr_array_add (targets, next);
  notify_group (request, context.group, user, "Transfer", targets, NULL, NULL);
  natterd_api_finish_when_stored (request);
}

static void
group_admin (NatterdApiRequest *request)
{
  NatterdAccountsApp *state = natterd_accounts_app (request->server, request->app);
  GroupContext context;
  NatterdUser *target;
  gboolean admin;

  if (!require_group (request, ROLE_OWNER, &context) ||
      (target = natterd_accounts_require_user (request, "userId")) == NULL ||
      !natterd_accounts_bool_param (request, "admin", &admin))
    return;
  if (role_of (context.group, context.roles, target) != ROLE_MEMBER &&
      role_of (context.group, context.roles, target) != ROLE_ADMIN)
    {
      natterd_api_reply_error (request, NATTER_API_BAD_PARAMETER, "userId must be another member");
      return;
    }
  if (admin)
    g_hash_table_add (context.roles->admins, g_strdup (target->user_id));
  else
    g_hash_table_remove (context.roles->admins, target->user_id);
  store_roles (request, state, context.group->group_id);
  natterd_api_finish_when_stored (request);
}

static void
group_announcement (NatterdApiRequest *request)
{
  NatterdUser *user = natterd_account_user (request);
  NatterdAccountsApp *state = natterd_accounts_app (request->server, request->app);
  const char *announcement = natterd_api_param (request, "announcement");
  GroupContext context;

  if (!require_group (request, ROLE_ADMIN, &context))
    return;
  if (announcement == NULL || g_utf8_strlen (announcement, -1) > NATTERD_ANNOUNCEMENT_MAX)
    {
      natterd_api_reply_error (request, NATTER_API_BAD_PARAMETER, "announcement is required, at most 1,024 characters");
      return;
    }
  g_free (context.roles->announcement);
  context.roles->announcement = g_strdup (announcement);
  store_roles (request, state, context.group->group_id);
  notify_group (request, context.group, user, "Bulletin", NULL, NULL, announcement);
  natterd_api_finish_when_stored (request);
}

static void
group_mute_all (NatterdApiRequest *request)
{
  NatterdAccountsApp *state = natterd_accounts_app (request->server, request->app);
  GroupContext context;
  gboolean mute;

  if (!require_group (request, ROLE_ADMIN, &context) || !natterd_accounts_bool_param (request, "mute", &mute))
    return;
  context.roles->mute_all = mute;
  store_roles (request, state, context.group->group_id);
  natterd_api_finish_when_stored (request);
}

static int
compare_members (gconstpointer a,
                 gconstpointer b)
{
  return g_strcmp0 ((*(NatterdUser * const *) a)->user_id, (*(NatterdUser * const *) b)->user_id);
}

static void
group_members (NatterdApiRequest *request)
{
  g_autoptr(GList) users = NULL;
  g_autoptr(GPtrArray) sorted = g_ptr_array_new ();
  GroupContext context;
  JsonBuilder *body;

  if (!require_group (request, ROLE_MEMBER, &context))
    return;
  users = g_hash_table_get_keys (context.group->members);
  for (GList *l = users; l != NULL; l = l->next)
    g_ptr_array_add (sorted, l->data);
  g_ptr_array_sort (sorted, compare_members);

  body = natterd_api_ok_body (request);
  json_builder_set_member_name (body, "members");
  json_builder_begin_array (body);
  for (guint i = 0; i < sorted->len; i++)
    {
      NatterdUser *user = g_ptr_array_index (sorted, i);

      json_builder_begin_object (body);
      json_builder_set_member_name (body, "userId");
      json_builder_add_string_value (body, user->user_id);
      json_builder_set_member_name (body, "role");
      json_builder_add_string_value (body, role_name (role_of (context.group, context.roles, user)));
      json_builder_set_member_name (body, "name");
      json_builder_add_string_value (body, user->name != NULL ? user->name : "");
      json_builder_set_member_name (body, "portraitUri");
      json_builder_add_string_value (body, user->portrait_uri != NULL ? user->portrait_uri : "");
      json_builder_end_object (body);
    }
  json_builder_end_array (body);
  natterd_api_reply_ok (request);
}

static int
compare_groups (gconstpointer a,
                gconstpointer b)
{
  return g_strcmp0 ((*(NatterdGroup * const *) a)->group_id, (*(NatterdGroup * const *) b)->group_id);
}

static void
my_groups_read (NatterdRead *base,
                gpointer     user_data)
{
  NatterdUserGroupsRead *read = (NatterdUserGroupsRead *) base;
  NatterdApiRequest *request = user_data;
  NatterdUser *user = natterd_account_user (request);
  NatterdAccountsApp *state = natterd_accounts_app (request->server, request->app);
  g_autoptr(GPtrArray) mine = g_ptr_array_new ();
  JsonBuilder *body;

  if (base->error != NULL)
    {
      natterd_api_reply_error (request, NATTER_API_INTERNAL_ERROR, "The store is unavailable; try again later");
      return;
    }
  /* The store's list, as this node's directory has the groups now. */
  for (guint i = 0; i < read->group_ids->len; i++)
    {
      NatterdGroup *group = natterd_directory_lookup_group_id (request->server->directory,
                                                               g_array_index (read->group_ids, gint64, i));

      if (group != NULL && group->app == request->app && natterd_group_lookup_member (group, user) != NULL)
        g_ptr_array_add (mine, group);
    }
  g_ptr_array_sort (mine, compare_groups);

  body = natterd_api_ok_body (request);
  json_builder_set_member_name (body, "groups");
  json_builder_begin_array (body);
  for (guint i = 0; i < mine->len; i++)
    {
      NatterdGroup *group = g_ptr_array_index (mine, i);
      NatterdGroupRoles *roles = g_hash_table_lookup (state->groups, group->group_id);

      json_builder_begin_object (body);
      json_builder_set_member_name (body, "groupId");
      json_builder_add_string_value (body, group->group_id);
      json_builder_set_member_name (body, "name");
      json_builder_add_string_value (body, group->name != NULL ? group->name : "");
      json_builder_set_member_name (body, "role");
      json_builder_add_string_value (body, role_name (role_of (group, roles, user)));
      json_builder_set_member_name (body, "memberCount");
      json_builder_add_int_value (body, g_hash_table_size (group->members));
      json_builder_set_member_name (body, "announcement");
      json_builder_add_string_value (body, roles != NULL ? roles->announcement : "");
      json_builder_set_member_name (body, "muteAll");
      json_builder_add_boolean_value (body, roles != NULL && roles->mute_all);
      json_builder_end_object (body);
    }
  json_builder_end_array (body);
  natterd_api_reply_ok (request);
}

/* The caller's groups, by the index on group_members (user_id): a few
 * index lookups, not a look at every group of the app. */
static void
groups_list (NatterdApiRequest *request)
{
  NatterdUserGroupsRead *read = natterd_read_new (NATTERD_READ_USER_GROUPS, my_groups_read,
                                                  natterd_api_request_ref (request), natterd_api_request_unref);

  read->user_id = natterd_account_user (request)->id;
  natterd_store_read (request->server->store, read);
}

/* -------------------------------------- leaving by other ways than leave */

void
natterd_api_group_departed (NatterdApiRequest *request,
                            NatterdGroup      *group,
                            GPtrArray         *users)
{
  g_autoptr(GPtrArray) targets = g_ptr_array_new ();
  NatterdAccountsApp *state;
  NatterdGroupRoles *roles;
  NatterdUser *owner = NULL;
  NatterdUser *next;
  gboolean changed = FALSE;

  if (request->server->accounts == NULL || users->len == 0)
    return;
  state = natterd_accounts_app (request->server, request->app);
  roles = g_hash_table_lookup (state->groups, group->group_id);
  /* A group only the app server runs has no roles to keep. */
  if (roles == NULL)
    return;
  for (guint i = 0; i < users->len; i++)
    {
      NatterdUser *user = g_ptr_array_index (users, i);

      if (natterd_group_lookup_member (group, user) != NULL)
        continue;
      changed |= g_hash_table_remove (roles->admins, user->user_id);
      if (g_strcmp0 (roles->owner, user->user_id) == 0)
        owner = user;
    }
  if (owner == NULL)
    {
      if (changed)
        store_roles (request, state, group->group_id);
      return;
    }

  next = successor (group, roles, NULL);
  if (next == NULL)
    {
      /* No one left to run it, or to tell. */
      store_group (request, group, FALSE, TRUE);
      g_hash_table_remove (state->groups, group->group_id);
      store_roles (request, state, group->group_id);
      natterd_directory_remove_group (request->server->directory, group);
      return;
    }
  g_free (roles->owner);
  roles->owner = g_strdup (next->user_id);
  g_hash_table_remove (roles->admins, next->user_id);
  store_roles (request, state, group->group_id);
  g_ptr_array_add (targets, next);
  notify_group (request, group, owner, "Transfer", targets, NULL, NULL);
}

void
natterd_api_group_dismissed (NatterdApiRequest *request,
                             const char        *group_id)
{
  NatterdAccountsApp *state;

  if (request->server->accounts == NULL)
    return;
  state = natterd_accounts_app (request->server, request->app);
  if (g_hash_table_remove (state->groups, group_id))
    store_roles (request, state, group_id);
}

static void
account_groups_read (NatterdRead *base,
                     gpointer     user_data)
{
  NatterdUserGroupsRead *read = (NatterdUserGroupsRead *) base;
  NatterdApiRequest *request = user_data;
  NatterdUser *user = natterd_account_user (request);

  if (base->error != NULL)
    {
      natterd_api_fail_part (request, NATTER_API_INTERNAL_ERROR, "The store is unavailable; try again later");
      natterd_api_end_part (request);
      return;
    }
  for (guint i = 0; i < read->group_ids->len; i++)
    {
      NatterdGroup *group = natterd_directory_lookup_group_id (request->server->directory,
                                                               g_array_index (read->group_ids, gint64, i));
      g_autoptr(GPtrArray) one = g_ptr_array_new ();

      if (group == NULL || group->app != request->app || !natterd_group_remove_member (group, user))
        continue;
      g_ptr_array_add (one, user);
      natterd_api_store_members (request, group, NATTERD_MEMBERS_REMOVE, one, 0);
      if (g_hash_table_size (group->members) > 0)
        notify_group (request, group, user, "Quit", one, NULL, NULL);
      natterd_api_group_departed (request, group, one);
    }
  natterd_api_end_part (request);
}

void
natterd_accounts_leave_groups (NatterdApiRequest *request)
{
  NatterdUserGroupsRead *read = natterd_read_new (NATTERD_READ_USER_GROUPS, account_groups_read,
                                                  natterd_api_request_ref (request), natterd_api_request_unref);

  read->user_id = natterd_account_user (request)->id;
  natterd_api_begin_part (request);
  natterd_store_read (request->server->store, read);
}

const NatterdAccountRoute natterd_account_group_routes[] = {
  { "groups", FALSE, TRUE, groups_list },
  { "group/create", TRUE, TRUE, group_create },
  { "group/add", TRUE, TRUE, group_add },
  { "group/remove", TRUE, TRUE, group_remove },
  { "group/leave", TRUE, TRUE, group_leave },
  { "group/dismiss", TRUE, TRUE, group_dismiss },
  { "group/rename", TRUE, TRUE, group_rename },
  { "group/transfer", TRUE, TRUE, group_transfer },
  { "group/admin", TRUE, TRUE, group_admin },
  { "group/announcement", TRUE, TRUE, group_announcement },
  { "group/mute-all", TRUE, TRUE, group_mute_all },
  { "group/members", FALSE, TRUE, group_members },
  { NULL, FALSE, FALSE, NULL }
};
