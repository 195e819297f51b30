/* natterd-accounts-people.c — contacts (SealTalk friendship), privacy and
 * blocking under /account/
 *
 * Each side of a pair has its own contact row: a request makes the
 * requester's "outgoing" and the other's "incoming"; accepting makes both
 * "contact"; ignoring makes the ignorer's "ignored". Requests, acceptances
 * and refusals reach both sides' devices as RC:ContactNtf in their private
 * conversation (sent as the app server would, past privacy and blacklists).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-accounts-private.h"

#include "natter-json.h"
#include "natter-object-names.h"
#include "natterd-log.h"

#include <string.h>

#define CONTACT_OBJECT_NAME "RC:ContactNtf"

void
natterd_contact_free (gpointer data)
{
  NatterdContact *contact = data;

  g_free (contact->state);
  g_free (contact->remark);
  g_free (contact->message);
  g_free (contact);
}

static GHashTable *
contacts_of (NatterdAccountsApp *state,
             const char         *user_id,
             gboolean            create)
{
  GHashTable *contacts = g_hash_table_lookup (state->contacts, user_id);

  if (contacts == NULL && create)
    {
      contacts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, natterd_contact_free);
      g_hash_table_insert (state->contacts, g_strdup (user_id), contacts);
    }
  return contacts;
}

NatterdContact *
natterd_accounts_contact (NatterdAccountsApp *state,
                          const char         *user_id,
                          const char         *other_id)
{
  GHashTable *contacts = contacts_of (state, user_id, FALSE);

  return contacts != NULL ? g_hash_table_lookup (contacts, other_id) : NULL;
}

static NatterdContact *
ensure_contact (NatterdAccountsApp *state,
                const char         *user_id,
                const char         *other_id)
{
  GHashTable *contacts = contacts_of (state, user_id, TRUE);
  NatterdContact *contact = g_hash_table_lookup (contacts, other_id);

  if (contact == NULL)
    {
      contact = g_new0 (NatterdContact, 1);
      contact->remark = g_strdup ("");
      contact->message = g_strdup ("");
      g_hash_table_insert (contacts, g_strdup (other_id), contact);
    }
  return contact;
}

void
natterd_accounts_load_contact (NatterdAccountsApp *state,
                               const char         *user_id,
                               const char         *other_id,
                               const char         *json)
{
  g_autoptr(JsonNode) node = natter_json_parse (json, -1, NULL);
  NatterdContact *contact;
  JsonObject *object;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return;
  object = json_node_get_object (node);
  contact = ensure_contact (state, user_id, other_id);
  g_free (contact->state);
  contact->state = g_strdup (json_object_get_string_member_with_default (object, "state", "contact"));
  g_free (contact->remark);
  contact->remark = g_strdup (json_object_get_string_member_with_default (object, "remark", ""));
  g_free (contact->message);
  contact->message = g_strdup (json_object_get_string_member_with_default (object, "message", ""));
  contact->updated = json_object_get_int_member_with_default (object, "updatedAt", 0);
}

static void
forget_contact (NatterdAccountsApp *state,
                const char         *user_id,
                const char         *other_id)
{
  GHashTable *contacts = contacts_of (state, user_id, FALSE);

  if (contacts != NULL)
    g_hash_table_remove (contacts, other_id);
}

/* The row of @user_id's side, as it is in memory now (deleted if gone). */
static void
add_contact_row (NatterdAccountOp   *op,
                 NatterdAccountsApp *state,
                 const char         *user_id,
                 const char         *other_id)
{
  NatterdContact *contact = natterd_accounts_contact (state, user_id, other_id);
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *json = NULL;

  if (contact != NULL)
    {
      builder = json_builder_new ();
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "state");
      json_builder_add_string_value (builder, contact->state);
      json_builder_set_member_name (builder, "remark");
      json_builder_add_string_value (builder, contact->remark);
      json_builder_set_member_name (builder, "message");
      json_builder_add_string_value (builder, contact->message);
      json_builder_set_member_name (builder, "updatedAt");
      json_builder_add_int_value (builder, contact->updated);
      json_builder_end_object (builder);
      root = json_builder_get_root (builder);
      json = json_to_string (root, FALSE);
    }
  natterd_account_op_add (op, state->app_id, "contact", user_id, other_id, json);
}

static void
set_contact (NatterdAccountsApp *state,
             const char         *user_id,
             const char         *other_id,
             const char         *contact_state,
             const char         *message)
{
  NatterdContact *contact = ensure_contact (state, user_id, other_id);

  g_free (contact->state);
  contact->state = g_strdup (contact_state);
  if (message != NULL)
    {
      g_free (contact->message);
      contact->message = g_strdup (message);
    }
  contact->updated = natterd_now_ms ();
}

static void
store_pair (NatterdApiRequest  *request,
            NatterdAccountsApp *state,
            const char         *a,
            const char         *b)
{
  NatterdAccountOp *op = natterd_accounts_op_new ();

  add_contact_row (op, state, a, b);
  add_contact_row (op, state, b, a);
  natterd_accounts_submit (request, op);
}

static void
notify_contact (NatterdApiRequest *request,
                NatterdUser       *source,
                NatterdUser       *target,
                const char        *operation,
                const char        *message)
{
  g_autoptr(JsonBuilder) content = json_builder_new ();

  json_builder_begin_object (content);
  json_builder_set_member_name (content, "operation");
  json_builder_add_string_value (content, operation);
  json_builder_set_member_name (content, "sourceUserId");
  json_builder_add_string_value (content, source->user_id);
  json_builder_set_member_name (content, "targetUserId");
  json_builder_add_string_value (content, target->user_id);
  json_builder_set_member_name (content, "message");
  json_builder_add_string_value (content, message != NULL ? message : "");
  json_builder_set_member_name (content, "extra");
  json_builder_add_string_value (content, "");
  json_builder_end_object (content);
  natterd_accounts_notify (request, source, NATTER_CONVERSATION_PRIVATE, target->user_id, CONTACT_OBJECT_NAME,
                           NATTER_MESSAGE_FLAG_PERSISTED | NATTER_MESSAGE_FLAG_COUNTED, content);
}

/* The other user of a contact path: not the caller. */
static NatterdUser *
other_user (NatterdApiRequest *request)
{
  NatterdUser *user = natterd_account_user (request);
  NatterdUser *other = natterd_accounts_require_user (request, "userId");

  if (other != NULL && other == user)
    {
      natterd_api_reply_error (request, NATTER_API_BAD_PARAMETER, "userId is yourself");
      return NULL;
    }
  return other;
}

static void
accept_request (NatterdApiRequest  *request,
                NatterdAccountsApp *state,
                NatterdUser        *user,
                NatterdUser        *other)
{
  set_contact (state, user->user_id, other->user_id, "contact", NULL);
  set_contact (state, other->user_id, user->user_id, "contact", NULL);
  store_pair (request, state, user->user_id, other->user_id);
  notify_contact (request, user, other, "AcceptResponse", "");
  natterd_api_finish_when_stored (request);
}

static void
contact_request (NatterdApiRequest *request)
{
  NatterdUser *user = natterd_account_user (request);
  NatterdUser *other = other_user (request);
  NatterdAccountsApp *state;
  NatterdContact *mine;
  const char *message;

  if (other == NULL ||
      !natterd_api_optional_text (request, "message", NATTERD_CONTACT_MESSAGE_MAX, &message))
    return;
  if (message != NULL && g_utf8_strlen (message, -1) > NATTERD_CONTACT_MESSAGE_MAX)
    {
      natterd_api_reply_error (request, NATTER_API_LENGTH_OVER_LIMIT, "message is over 256 characters");
      return;
    }
  if (natterd_user_is_blocking (other, user))
    {
      natterd_api_reply_error (request, NATTER_CODE_REJECTED_BY_BLACKLIST, "Blocked by the user");
      return;
    }

  state = natterd_accounts_app (request->server, request->app);
  mine = natterd_accounts_contact (state, user->user_id, other->user_id);
  /* Asking someone who asked you is saying yes. */
  if (mine != NULL && (g_str_equal (mine->state, "incoming") || g_str_equal (mine->state, "ignored")))
    {
      accept_request (request, state, user, other);
      return;
    }
  if (mine != NULL && g_str_equal (mine->state, "contact"))
    {
      natterd_api_reply_ok (request);
      return;
    }

  set_contact (state, user->user_id, other->user_id, "outgoing", message != NULL ? message : "");
  set_contact (state, other->user_id, user->user_id, "incoming", message != NULL ? message : "");
  store_pair (request, state, user->user_id, other->user_id);
  notify_contact (request, user, other, "Request", message);
  natterd_api_finish_when_stored (request);
}

static NatterdContact *
require_incoming (NatterdApiRequest  *request,
                  NatterdAccountsApp *state,
                  NatterdUser        *user,
                  NatterdUser        *other,
                  gboolean            or_ignored)
{
  NatterdContact *mine = natterd_accounts_contact (state, user->user_id, other->user_id);

  if (mine == NULL || !(g_str_equal (mine->state, "incoming") ||
                        (or_ignored && g_str_equal (mine->state, "ignored"))))
    {
      natterd_api_reply_error (request, NATTER_CODE_NO_CONTACT_REQUEST, "No such contact request");
      return NULL;
    }
  return mine;
}

static void
contact_accept (NatterdApiRequest *request)
{
  NatterdUser *user = natterd_account_user (request);
  NatterdUser *other = other_user (request);
  NatterdAccountsApp *state;

  if (other == NULL)
    return;
  state = natterd_accounts_app (request->server, request->app);
  if (require_incoming (request, state, user, other, TRUE) != NULL)
    accept_request (request, state, user, other);
}

static void
contact_ignore (NatterdApiRequest *request)
{
  NatterdUser *user = natterd_account_user (request);
  NatterdUser *other = other_user (request);
  NatterdAccountsApp *state;

  if (other == NULL)
    return;
  state = natterd_accounts_app (request->server, request->app);
  if (require_incoming (request, state, user, other, FALSE) == NULL)
    return;
  set_contact (state, user->user_id, other->user_id, "ignored", NULL);
  store_pair (request, state, user->user_id, other->user_id);
  notify_contact (request, user, other, "RejectResponse", "");
  natterd_api_finish_when_stored (request);
}

static void
contact_delete (NatterdApiRequest *request)
{
  NatterdUser *user = natterd_account_user (request);
  NatterdUser *other = other_user (request);
  NatterdAccountsApp *state;

  if (other == NULL)
    return;
  state = natterd_accounts_app (request->server, request->app);
  if (natterd_accounts_contact (state, user->user_id, other->user_id) == NULL)
    {
      natterd_api_reply_error (request, NATTER_CODE_NO_CONTACT_REQUEST, "No such contact");
      return;
    }
  /* Both sides go: neither is the other's contact any more. */
  forget_contact (state, user->user_id, other->user_id);
  forget_contact (state, other->user_id, user->user_id);
  store_pair (request, state, user->user_id, other->user_id);
  natterd_api_finish_when_stored (request);
}

static void
contact_remark (NatterdApiRequest *request)
{
  NatterdUser *user = natterd_account_user (request);
  NatterdUser *other = other_user (request);
  NatterdAccountsApp *state;
  NatterdContact *mine;
  const char *remark = natterd_api_param (request, "remark");
  NatterdAccountOp *op;

  if (other == NULL)
    return;
  if (remark == NULL || g_utf8_strlen (remark, -1) > NATTERD_REMARK_MAX)
    {
      natterd_api_reply_error (request, NATTER_API_BAD_PARAMETER, "remark is required, at most 32 characters");
      return;
    }
  state = natterd_accounts_app (request->server, request->app);
  mine = natterd_accounts_contact (state, user->user_id, other->user_id);
  if (mine == NULL)
    {
      natterd_api_reply_error (request, NATTER_CODE_NO_CONTACT_REQUEST, "No such contact");
      return;
    }
  g_free (mine->remark);
  mine->remark = g_strdup (remark);
  mine->updated = natterd_now_ms ();
  op = natterd_accounts_op_new ();
  add_contact_row (op, state, user->user_id, other->user_id);
  natterd_accounts_submit (request, op);
  natterd_api_finish_when_stored (request);
}

static int
compare_ids (gconstpointer a,
             gconstpointer b)
{
  return g_strcmp0 (*(const char * const *) a, *(const char * const *) b);
}

static void
contacts_list (NatterdApiRequest *request)
{
  NatterdUser *user = natterd_account_user (request);
  NatterdAccountsApp *state = natterd_accounts_app (request->server, request->app);
  GHashTable *contacts = contacts_of (state, user->user_id, FALSE);
  g_autoptr(GPtrArray) ids = g_ptr_array_new ();
  JsonBuilder *body = natterd_api_ok_body (request);

  if (contacts != NULL)
    {
      GHashTableIter iter;
      const char *id;

      g_hash_table_iter_init (&iter, contacts);
      while (g_hash_table_iter_next (&iter, (gpointer *) &id, NULL))
        g_ptr_array_add (ids, (gpointer) id);
      g_ptr_array_sort (ids, compare_ids);
    }

  json_builder_set_member_name (body, "contacts");
  json_builder_begin_array (body);
  for (guint i = 0; i < ids->len; i++)
    {
      const char *id = g_ptr_array_index (ids, i);
      NatterdContact *contact = g_hash_table_lookup (contacts, id);
      NatterdUser *other = natterd_directory_lookup_user (request->app, id);

      json_builder_begin_object (body);
      json_builder_set_member_name (body, "userId");
      json_builder_add_string_value (body, id);
      json_builder_set_member_name (body, "state");
      json_builder_add_string_value (body, contact->state);
      json_builder_set_member_name (body, "name");
      json_builder_add_string_value (body, other != NULL && other->name != NULL ? other->name : "");
      json_builder_set_member_name (body, "portraitUri");
      json_builder_add_string_value (body, other != NULL && other->portrait_uri != NULL ? other->portrait_uri : "");
      json_builder_set_member_name (body, "remark");
      json_builder_add_string_value (body, contact->remark);
      json_builder_set_member_name (body, "message");
      json_builder_add_string_value (body, contact->message);
      json_builder_set_member_name (body, "updatedAt");
      json_builder_add_int_value (body, contact->updated);
      json_builder_end_object (body);
    }
  json_builder_end_array (body);
  natterd_api_reply_ok (request);
}

/* ------------------------------------------------------------- blocking */

static void
block_change (NatterdApiRequest *request,
              gboolean           remove)
{
  NatterdUser *user = natterd_account_user (request);
  NatterdUser *other = other_user (request);
  NatterdBlacklistOp *op;

  if (other == NULL)
    return;
  natterd_server_set_blocking (request->server, user, other, !remove);
  /* The server API's user/blacklist op: other nodes apply it too. */
  op = natterd_op_new (NATTERD_OP_BLACKLIST, NULL, NULL, NULL);
  op->user_id = user->id;
  op->remove = remove;
  g_array_append_val (op->blocked_ids, other->id);
  natterd_api_submit_part (request, op);
}

static void
block_add (NatterdApiRequest *request)
{
  block_change (request, FALSE);
}

static void
block_remove (NatterdApiRequest *request)
{
  block_change (request, TRUE);
}

static void
blocked_list (NatterdApiRequest *request)
{
  NatterdUser *user = natterd_account_user (request);
  JsonBuilder *body = natterd_api_ok_body (request);
  g_autoptr(GPtrArray) ids = g_ptr_array_new ();

  if (user->blacklist != NULL)
    {
      GHashTableIter iter;
      gint64 *id;

      g_hash_table_iter_init (&iter, user->blacklist);
      while (g_hash_table_iter_next (&iter, (gpointer *) &id, NULL))
        {
          NatterdUser *other = natterd_directory_lookup_user_id (request->server->directory, *id);

          if (other != NULL)
            g_ptr_array_add (ids, other->user_id);
        }
      g_ptr_array_sort (ids, compare_ids);
    }
  json_builder_set_member_name (body, "userIds");
  json_builder_begin_array (body);
  for (guint i = 0; i < ids->len; i++)
    json_builder_add_string_value (body, g_ptr_array_index (ids, i));
  json_builder_end_array (body);
  natterd_api_reply_ok (request);
}

/* ------------------------------------------------------ profile changes */

static void
profile_notice_sent (int         code,
                     const char *message_uid,
                     gint64      sent_time,
                     guint64     timeline_seq,
                     gpointer    user_data)
{
  /* Refused (a recipient who blocks the user): nothing to tell them. */
}

static void
co_members_read (NatterdRead *base,
                 gpointer     user_data)
{
  NatterdUserGroupsRead *read = (NatterdUserGroupsRead *) base;
  NatterdServer *self = user_data;
  NatterdUser *user = natterd_directory_lookup_user_id (self->directory, read->user_id);
  g_autoptr(GHashTable) recipients = g_hash_table_new (NULL, NULL);
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *content = NULL;
  GHashTableIter iter;
  NatterdUser *other;
  NatterdApp *app;

  if (user == NULL)
    return;
  app = user->app;
  if (base->error != NULL)
    natterd_log (G_LOG_LEVEL_WARNING, "profile-notice-groups-unread", "user", user->user_id,
                 "error", base->error->message, NULL);

  if (self->accounts != NULL && g_hash_table_lookup (self->accounts->apps, &app->id) != NULL)
    {
      GHashTable *contacts = g_hash_table_lookup (natterd_accounts_app (self, app)->contacts, user->user_id);
      const char *other_id;
      NatterdContact *contact;

      g_hash_table_iter_init (&iter, contacts != NULL ? contacts : recipients);
      while (contacts != NULL && g_hash_table_iter_next (&iter, (gpointer *) &other_id, (gpointer *) &contact))
        if (g_str_equal (contact->state, "contact") &&
            (other = natterd_directory_lookup_user (app, other_id)) != NULL)
          g_hash_table_add (recipients, other);
    }
  for (guint i = 0; i < read->member_ids->len; i++)
    if ((other = natterd_directory_lookup_user_id (self->directory, g_array_index (read->member_ids, gint64, i))) != NULL &&
        other != user)
      g_hash_table_add (recipients, other);
  /* Its own devices: one notice to itself, sent to them but not to it. */
  if (app->settings.multi_device)
    g_hash_table_add (recipients, user);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "userId");
  json_builder_add_string_value (builder, user->user_id);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, user->name != NULL ? user->name : "");
  json_builder_set_member_name (builder, "portraitUri");
  json_builder_add_string_value (builder, user->portrait_uri != NULL ? user->portrait_uri : "");
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  content = json_to_string (root, FALSE);

  g_hash_table_iter_init (&iter, recipients);
  while (g_hash_table_iter_next (&iter, (gpointer *) &other, NULL))
    {
      NatterdPublishRequest publish = {
        .app = app,
        .sender = user,
        .conversation_type = NATTER_CONVERSATION_PRIVATE,
        .target_id = other->user_id,
        .object_name = NATTER_OBJECT_PROFILE_NOTIFICATION,
        .content = content,
        .flags = natter_object_name_flags (NATTER_OBJECT_PROFILE_NOTIFICATION, 0),
        .from_api = TRUE,
        .include_sender = other == user,
      };

      if (natterd_user_is_online (other))
        natterd_server_publish (self, &publish, profile_notice_sent, NULL, NULL);
    }
}

/* Those who show @user's name and portrait learn of a change at once,
 * not at their next refetch: its contacts and its groups' members, those
 * online here or on another node (an offline device asks when it
 * connects), and its own other devices when the app syncs them. One
 * status-only NT:ProfileNtf {userId, name, portraitUri} each, from @user
 * in a private conversation. Its groups' members are read from the store
 * by the index on group_members (user_id): a user in a few groups costs a
 * few index lookups, however many groups the app has (the directory only
 * knows a group's members, so finding a user's groups there meant looking
 * at every group). */
void
natterd_server_profile_changed (NatterdServer *self,
                                NatterdUser   *user)
{
  NatterdUserGroupsRead *read = natterd_read_new (NATTERD_READ_USER_GROUPS, co_members_read,
                                                  g_object_ref (self), g_object_unref);

  read->user_id = user->id;
  read->with_members = TRUE;
  natterd_store_read (self->store, read);
}

typedef struct
{
  NatterdApiRequest *request;
  char              *old_name;       /* what the change replaced */
  char              *old_portrait;
  char              *name;           /* what it set; NULL: left as it was */
  char              *portrait;
} ProfileSave;

static void
profile_save_free (gpointer data)
{
  ProfileSave *save = data;

  natterd_api_request_unref (save->request);
  g_free (save->old_name);
  g_free (save->old_portrait);
  g_free (save->name);
  g_free (save->portrait);
  g_free (save);
}

/* @field back to @old if it still holds what the refused change set. */
static void
take_back (char       **field,
           const char  *set,
           const char  *old)
{
  if (set != NULL && g_strcmp0 (*field, set) == 0)
    {
      g_free (*field);
      *field = g_strdup (old);
    }
}

static void
profile_saved (NatterdOp *op,
               gpointer   user_data)
{
  ProfileSave *save = user_data;
  NatterdApiRequest *request = save->request;
  NatterdUser *user = natterd_directory_lookup_user_id (request->server->directory, ((NatterdUserOp *) op)->id);

  /* Told once durable: a change the store refused is told to no one and
   * taken back here, as it is nowhere else (other nodes, a restart). */
  if (op->error == NULL && user != NULL)
    natterd_server_profile_changed (request->server, user);
  else if (user != NULL)
    {
      take_back (&user->name, save->name, save->old_name);
      take_back (&user->portrait_uri, save->portrait, save->old_portrait);
    }
  natterd_api_part_committed (op, request);
}

void
natterd_api_save_profile (NatterdApiRequest *request,
                          NatterdUser       *user,
                          const char        *name,
                          const char        *portrait)
{
  ProfileSave *save = g_new0 (ProfileSave, 1);

  save->request = natterd_api_request_ref (request);
  save->old_name = g_strdup (user->name);
  save->old_portrait = g_strdup (user->portrait_uri);
  save->name = g_strdup (name);
  save->portrait = g_strdup (portrait);
  if (name != NULL)
    {
      g_free (user->name);
      user->name = g_strdup (name);
    }
  if (portrait != NULL)
    {
      g_free (user->portrait_uri);
      user->portrait_uri = g_strdup (portrait);
    }
  natterd_api_begin_part (request);
  natterd_server_save_user (request->server, user, profile_saved, save, profile_save_free);
}

/* ---------------------------------------------------------- on Publish */

int
natterd_server_accounts_check_publish (NatterdServer *self,
                                       NatterdApp    *app,
                                       NatterdUser   *sender,
                                       int            conversation_type,
                                       const char    *target_id)
{
  NatterdAccountsApp *state;

  if (self->accounts == NULL || g_hash_table_lookup (self->accounts->apps, &app->id) == NULL)
    return NATTER_CODE_OK;
  state = natterd_accounts_app (self, app);

  if (conversation_type == NATTER_CONVERSATION_PRIVATE)
    {
      NatterdAccount *account = g_hash_table_lookup (state->accounts, target_id);
      NatterdContact *contact;

      if (account == NULL || !account->contacts_only || g_strcmp0 (sender->user_id, target_id) == 0)
        return NATTER_CODE_OK;
      contact = natterd_accounts_contact (state, target_id, sender->user_id);
      return contact != NULL && g_str_equal (contact->state, "contact") ? NATTER_CODE_OK : NATTER_CODE_CONTACTS_ONLY;
    }
  if (conversation_type == NATTER_CONVERSATION_GROUP)
    {
      NatterdGroupRoles *roles = g_hash_table_lookup (state->groups, target_id);

      if (roles == NULL || !roles->mute_all)
        return NATTER_CODE_OK;
      if (g_strcmp0 (roles->owner, sender->user_id) == 0 || g_hash_table_contains (roles->admins, sender->user_id))
        return NATTER_CODE_OK;
      return NATTER_CODE_GAGGED_IN_GROUP;
    }
  return NATTER_CODE_OK;
}

const NatterdAccountRoute natterd_account_people_routes[] = {
  { "contacts", FALSE, TRUE, contacts_list },
  { "contact/request", TRUE, TRUE, contact_request },
  { "contact/accept", TRUE, TRUE, contact_accept },
  { "contact/ignore", TRUE, TRUE, contact_ignore },
  { "contact/delete", TRUE, TRUE, contact_delete },
  { "contact/remark", TRUE, TRUE, contact_remark },
  { "block", TRUE, TRUE, block_add },
  { "unblock", TRUE, TRUE, block_remove },
  { "blocked", FALSE, TRUE, blocked_list },
  { NULL, FALSE, FALSE, NULL }
};
