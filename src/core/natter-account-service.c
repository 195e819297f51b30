/* natter-account-service.c — accounts, contacts and groups over /account/
 *
 * Every request is one HTTP exchange with the node in use; the reply is
 * read to at most MAX_REPLY bytes, parsed by natter_json_parse() and then
 * checked member by member (types, lengths) before anything is handed
 * out: natterd is not trusted more than any other peer.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-account-service.h"

#include <libsoup/soup.h>
#include <string.h>

#include "natter-codes.h"
#include "natter-json.h"
#include "natter-server-list.h"

#define MAX_REPLY        (4 * 1024 * 1024)
#define MAX_TEXT         4096           /* names, announcements, messages */
#define MAX_ENTRIES      100000
#define REQUEST_TIMEOUT_S 30

G_DEFINE_QUARK (natter-account-error-quark, natter_account_error)

struct _NatterAccountService
{
  GObject parent_instance;

  NatterServerList *servers;
  char *app_key;
  char *base_url;
  char *token;
  SoupSession *session;
};

G_DEFINE_FINAL_TYPE (NatterAccountService, natter_account_service, G_TYPE_OBJECT)

gboolean
natter_account_error_is_auth (const GError *error)
{
  if (error == NULL || error->domain != NATTER_ACCOUNT_ERROR)
    return FALSE;
  switch (error->code)
    {
    case NATTER_ACCOUNT_ERROR_WRONG_PASSWORD:
    case NATTER_ACCOUNT_ERROR_LOCKED:
    case NATTER_ACCOUNT_ERROR_TOO_MANY_ATTEMPTS:
    case NATTER_ACCOUNT_ERROR_APP_KEY_REJECTED:
    case NATTER_ACCOUNT_ERROR_TOKEN_INCORRECT:
    case NATTER_ACCOUNT_ERROR_TOKEN_EXPIRED:
      return TRUE;
    default:
      return FALSE;
    }
}

static const char * const contact_states[] = { "incoming", "outgoing", "contact", "ignored" };
static const char * const group_roles[] = { "member", "admin", "owner" };

const char *
natter_contact_state_to_string (NatterContactState state)
{
  g_return_val_if_fail (state < G_N_ELEMENTS (contact_states), NULL);
  return contact_states[state];
}

const char *
natter_group_role_to_string (NatterGroupRole role)
{
  g_return_val_if_fail (role < G_N_ELEMENTS (group_roles), NULL);
  return group_roles[role];
}

static int
word_index (const char         *word,
            const char * const *words,
            guint               n_words)
{
  for (guint i = 0; word != NULL && i < n_words; i++)
    if (strcmp (word, words[i]) == 0)
      return (int) i;
  return -1;
}

/* ------------------------------------------------------------ boxed types */

NatterAccountUser *
natter_account_user_copy (const NatterAccountUser *user)
{
  NatterAccountUser *copy = g_new0 (NatterAccountUser, 1);

  *copy = *user;
  copy->user_id = g_strdup (user->user_id);
  copy->name = g_strdup (user->name);
  copy->portrait_uri = g_strdup (user->portrait_uri);
  copy->remark = g_strdup (user->remark);
  copy->message = g_strdup (user->message);
  return copy;
}

void
natter_account_user_free (NatterAccountUser *user)
{
  if (user == NULL)
    return;
  g_free (user->user_id);
  g_free (user->name);
  g_free (user->portrait_uri);
  g_free (user->remark);
  g_free (user->message);
  g_free (user);
}

NatterAccountGroup *
natter_account_group_copy (const NatterAccountGroup *group)
{
  NatterAccountGroup *copy = g_new0 (NatterAccountGroup, 1);

  *copy = *group;
  copy->group_id = g_strdup (group->group_id);
  copy->name = g_strdup (group->name);
  copy->announcement = g_strdup (group->announcement);
  return copy;
}

void
natter_account_group_free (NatterAccountGroup *group)
{
  if (group == NULL)
    return;
  g_free (group->group_id);
  g_free (group->name);
  g_free (group->announcement);
  g_free (group);
}

G_DEFINE_BOXED_TYPE (NatterAccountUser, natter_account_user, natter_account_user_copy, natter_account_user_free)
G_DEFINE_BOXED_TYPE (NatterAccountGroup, natter_account_group, natter_account_group_copy, natter_account_group_free)

/* ---------------------------------------------------------- reply checks */

static gboolean
bad_reply (GError    **error,
           const char *what)
{
  g_set_error (error, NATTER_ACCOUNT_ERROR, NATTER_ACCOUNT_ERROR_BAD_REPLY,
               "The server's reply is not valid (%s)", what);
  return FALSE;
}

/* A string member: absent gives "" unless @required; another type, too
 * long or (for ids) empty is a bad reply. */
static gboolean
take_string (JsonObject  *object,
             const char  *member,
             gsize        max_length,
             gboolean     required,
             char       **out,
             GError     **error)
{
  JsonNode *node = json_object_get_member (object, member);
  const char *value;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      if (required)
        return bad_reply (error, member);
      *out = g_strdup ("");
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return bad_reply (error, member);
  value = json_node_get_string (node);
  if (strlen (value) > max_length || (required && *value == '\0'))
    return bad_reply (error, member);
  *out = g_strdup (value);
  return TRUE;
}

static gboolean
take_int (JsonObject  *object,
          const char  *member,
          gint64      *out,
          GError     **error)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      *out = 0;
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return bad_reply (error, member);
  *out = json_node_get_int (node);
  return TRUE;
}

static gboolean
take_word (JsonObject         *object,
           const char         *member,
           const char * const *words,
           guint               n_words,
           int                *out,
           GError            **error)
{
  g_autofree char *word = NULL;

  if (!take_string (object, member, 32, TRUE, &word, error))
    return FALSE;
  *out = word_index (word, words, n_words);
  return *out >= 0 || bad_reply (error, member);
}

static JsonArray *
take_array (JsonObject  *object,
            const char  *member,
            GError     **error)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node) ||
      json_array_get_length (json_node_get_array (node)) > MAX_ENTRIES)
    {
      bad_reply (error, member);
      return NULL;
    }
  return json_node_get_array (node);
}

static JsonObject *
array_object (JsonArray  *array,
              guint       i,
              GError    **error)
{
  JsonNode *node = json_array_get_element (array, i);

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      bad_reply (error, "entry");
      return NULL;
    }
  return json_node_get_object (node);
}

/* -------------------------------------------------------------- requests */

typedef gboolean (*ReplyParser) (GTask *task, JsonObject *reply, GError **error);

typedef struct {
  SoupMessage *message;
  GInputStream *stream;
  GByteArray *body;
  ReplyParser parse;
  int contacts_only;            /* privacy: what was asked */
} Request;

static void
request_free (Request *request)
{
  g_clear_object (&request->message);
  g_clear_object (&request->stream);
  g_byte_array_unref (request->body);
  g_free (request);
}

/* {"code":N,"errorMessage":...,"retryAfter":S} */
static GError *
refusal_error (JsonObject *reply,
               guint       status)
{
  gint64 code = 0;
  gint64 retry_after = 0;
  g_autofree char *text = NULL;
  g_autoptr(GError) ignored = NULL;

  if (reply == NULL || !take_int (reply, "code", &code, &ignored) || code == 0 || code == 200 ||
      code < 0 || code > G_MAXINT)
    return g_error_new (NATTER_ACCOUNT_ERROR, NATTER_ACCOUNT_ERROR_BAD_REPLY,
                        "The server answered HTTP %u without a code", status);
  if (!take_string (reply, "errorMessage", 256, FALSE, &text, &ignored))
    text = g_strdup ("");
  g_clear_error (&ignored);
  take_int (reply, "retryAfter", &retry_after, &ignored);
  if (retry_after > 0 && retry_after < G_MAXINT)
    return g_error_new (NATTER_ACCOUNT_ERROR, (int) code, "%s (%d); try again in %d s",
                        *text ? text : natter_code_to_string ((int) code), (int) code, (int) retry_after);
  return g_error_new (NATTER_ACCOUNT_ERROR, (int) code, "%s (%d)",
                      *text ? text : natter_code_to_string ((int) code), (int) code);
}

static void
request_done (GTask *task)
{
  Request *request = g_task_get_task_data (task);
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *reply = NULL;
  guint status = soup_message_get_status (request->message);
  gint64 code = 0;

  root = natter_json_parse ((const char *) request->body->data, (gssize) request->body->len, NULL);
  if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
    reply = json_node_get_object (root);

  if (reply == NULL || !take_int (reply, "code", &code, NULL) || code != 200 ||
      status != SOUP_STATUS_OK)
    {
      g_task_return_error (task, refusal_error (reply, status));
      return;
    }
  if (!request->parse (task, reply, &error))
    g_task_return_error (task, g_steal_pointer (&error));
}

static void read_next (GTask *task);

static void
read_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Request *request = g_task_get_task_data (task);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;

  bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (object), result, &error);
  if (bytes == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (request->body->len + g_bytes_get_size (bytes) > MAX_REPLY)
    {
      g_task_return_new_error (task, NATTER_ACCOUNT_ERROR, NATTER_ACCOUNT_ERROR_BAD_REPLY,
                               "The server's reply is larger than %d bytes", MAX_REPLY);
      return;
    }
  if (g_bytes_get_size (bytes) == 0)
    {
      request_done (task);
      return;
    }
  g_byte_array_append (request->body, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  read_next (g_steal_pointer (&task));
}

static void
read_next (GTask *task)
{
  Request *request = g_task_get_task_data (task);

  g_input_stream_read_bytes_async (request->stream, 64 * 1024, G_PRIORITY_DEFAULT,
                                   g_task_get_cancellable (task), read_cb, task);
}

static void
sent_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Request *request = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  request->stream = soup_session_send_finish (SOUP_SESSION (object), result, &error);
  if (request->stream == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  read_next (g_steal_pointer (&task));
}

/* @form: NULL-terminated name, value pairs; a NULL value skips the pair.
 * GET puts it in the query, POST in a form body. */
static void
start_request (NatterAccountService *self,
               GTask                *task,
               const char           *method,
               const char           *path,
               ReplyParser           parse,
               GPtrArray            *form)
{
  g_autoptr(GString) encoded = g_string_new (NULL);
  g_autofree char *url = NULL;
  Request *request;
  SoupMessageHeaders *headers;

  for (guint i = 0; form != NULL && i + 1 < form->len; i += 2)
    {
      const char *value = g_ptr_array_index (form, i + 1);

      if (value == NULL)
        continue;
      if (encoded->len > 0)
        g_string_append_c (encoded, '&');
      g_string_append_uri_escaped (encoded, g_ptr_array_index (form, i), NULL, FALSE);
      g_string_append_c (encoded, '=');
      g_string_append_uri_escaped (encoded, value, NULL, FALSE);
    }

  request = g_new0 (Request, 1);
  request->body = g_byte_array_new ();
  request->parse = parse;
  g_task_set_task_data (task, request, (GDestroyNotify) request_free);

  if (g_str_equal (method, SOUP_METHOD_GET) && encoded->len > 0)
    url = g_strdup_printf ("%s/account/%s?%s", self->base_url, path, encoded->str);
  else
    url = g_strdup_printf ("%s/account/%s", self->base_url, path);
  request->message = soup_message_new (method, url);
  if (request->message == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "Not a valid request URL: %s", url);
      return;
    }
  /* natterd's own origin: a redirect would carry the token elsewhere. */
  soup_message_add_flags (request->message, SOUP_MESSAGE_NO_REDIRECT);
  headers = soup_message_get_request_headers (request->message);
  soup_message_headers_replace (headers, "Accept", "application/json");
  if (self->token != NULL)
    {
      g_autofree char *bearer = g_strdup_printf ("Bearer %s", self->token);

      soup_message_headers_replace (headers, "Authorization", bearer);
    }
  if (g_str_equal (method, SOUP_METHOD_POST))
    {
      g_autoptr(GBytes) body = g_bytes_new (encoded->str, encoded->len);

      soup_message_set_request_body_from_bytes (request->message,
                                                "application/x-www-form-urlencoded", body);
    }

  soup_session_send_async (self->session, request->message, G_PRIORITY_DEFAULT,
                           g_task_get_cancellable (task), sent_cb, g_object_ref (task));
}

static GPtrArray *
form_new (const char *first_name,
          ...)
{
  GPtrArray *form = g_ptr_array_new ();
  const char *name = first_name;
  va_list args;

  va_start (args, first_name);
  while (name != NULL)
    {
      g_ptr_array_add (form, (gpointer) name);
      g_ptr_array_add (form, va_arg (args, char *));
      name = va_arg (args, const char *);
    }
  va_end (args);
  return form;
}

static void
form_add_list (GPtrArray          *form,
               const char         *name,
               const char * const *values)
{
  for (guint i = 0; values != NULL && values[i] != NULL; i++)
    {
      g_ptr_array_add (form, (gpointer) name);
      g_ptr_array_add (form, (gpointer) values[i]);
    }
}

static GTask *
task_new (NatterAccountService *self,
          gpointer              source_tag,
          GCancellable         *cancellable,
          GAsyncReadyCallback   callback,
          gpointer              user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  return task;
}

/* One request with one form; @task is consumed. */
static void
run (NatterAccountService *self,
     GTask                *task,
     const char           *method,
     const char           *path,
     ReplyParser           parse,
     GPtrArray            *form)
{
  start_request (self, task, method, path, parse, form);
  g_clear_pointer (&form, g_ptr_array_unref);
  g_object_unref (task);
}

/* ----------------------------------------------------------------- parsers */

static gboolean
parse_ok (GTask       *task,
          JsonObject  *reply,
          GError     **error)
{
  g_task_return_boolean (task, TRUE);
  return TRUE;
}

gboolean
natter_account_service_call_finish (NatterAccountService  *self,
                                    GAsyncResult          *result,
                                    GError               **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

typedef struct {
  NatterAccountsMode mode;
  guint min_password_length;
} Settings;

static gboolean
parse_settings (GTask       *task,
                JsonObject  *reply,
                GError     **error)
{
  static const char * const modes[] = { "off", "open", "invite" };
  Settings *settings = g_new0 (Settings, 1);
  gint64 min_length = 0;
  int mode = 0;

  if (!take_word (reply, "accounts", modes, G_N_ELEMENTS (modes), &mode, error) ||
      !take_int (reply, "minPasswordLength", &min_length, error))
    {
      g_free (settings);
      return FALSE;
    }
  if (min_length < 0 || min_length > 1024)
    {
      g_free (settings);
      return bad_reply (error, "minPasswordLength");
    }
  settings->mode = mode;
  settings->min_password_length = (guint) min_length;
  g_task_return_pointer (task, settings, g_free);
  return TRUE;
}

static gboolean
parse_token (GTask       *task,
             JsonObject  *reply,
             GError     **error)
{
  NatterAccountService *self = g_task_get_source_object (task);
  g_autofree char *token = NULL;

  if (!take_string (reply, "token", NATTER_TOKEN_MAX_LENGTH, TRUE, &token, error))
    return FALSE;
  natter_account_service_set_token (self, token);
  g_task_return_pointer (task, g_steal_pointer (&token), g_free);
  return TRUE;
}

static NatterAccountUser *
user_from_object (JsonObject  *object,
                  gboolean     need_id,
                  GError     **error)
{
  g_autoptr(NatterAccountUser) user = g_new0 (NatterAccountUser, 1);
  g_autoptr(GError) local = NULL;
  int word = 0;

  if ((need_id && !take_string (object, "userId", NATTER_ID_MAX_LENGTH, TRUE, &user->user_id, error)) ||
      !take_string (object, "name", NATTER_NAME_MAX_LENGTH, FALSE, &user->name, error) ||
      !take_string (object, "portraitUri", NATTER_PORTRAIT_MAX_LENGTH, FALSE, &user->portrait_uri, error) ||
      !take_string (object, "remark", MAX_TEXT, FALSE, &user->remark, error) ||
      !take_string (object, "message", MAX_TEXT, FALSE, &user->message, error) ||
      !take_int (object, "updatedAt", &user->updated_at, error))
    return NULL;
  if (user->user_id == NULL)
    user->user_id = g_strdup ("");

  /* state in contacts.json, role in members.json: each only where it is. */
  if (json_object_has_member (object, "state"))
    {
      if (!take_word (object, "state", contact_states, G_N_ELEMENTS (contact_states), &word, error))
        return NULL;
      user->state = word;
    }
  if (json_object_has_member (object, "role"))
    {
      if (!take_word (object, "role", group_roles, G_N_ELEMENTS (group_roles), &word, error))
        return NULL;
      user->role = word;
    }
  return g_steal_pointer (&user);
}

static gboolean
parse_user (GTask       *task,
            JsonObject  *reply,
            GError     **error)
{
  gboolean need_id = g_task_get_source_tag (task) == natter_account_service_lookup_user_async;
  NatterAccountUser *user = user_from_object (reply, need_id, error);

  if (user == NULL)
    return FALSE;
  g_task_return_pointer (task, user, (GDestroyNotify) natter_account_user_free);
  return TRUE;
}

static gboolean
parse_users (GTask       *task,
             JsonObject  *reply,
             GError     **error)
{
  const char *member = g_task_get_source_tag (task) == natter_account_service_list_contacts_async
                       ? "contacts" : "members";
  g_autoptr(GPtrArray) users = g_ptr_array_new_with_free_func ((GDestroyNotify) natter_account_user_free);
  JsonArray *array = take_array (reply, member, error);

  if (array == NULL)
    return FALSE;
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonObject *object = array_object (array, i, error);
      NatterAccountUser *user = object != NULL ? user_from_object (object, TRUE, error) : NULL;

      if (user == NULL)
        return FALSE;
      g_ptr_array_add (users, user);
    }
  g_task_return_pointer (task, g_steal_pointer (&users), (GDestroyNotify) g_ptr_array_unref);
  return TRUE;
}

GPtrArray *
natter_account_service_users_finish (NatterAccountService  *self,
                                     GAsyncResult          *result,
                                     GError               **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static gboolean
parse_blocked (GTask       *task,
               JsonObject  *reply,
               GError     **error)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  JsonArray *array = take_array (reply, "userIds", error);

  if (array == NULL)
    return FALSE;
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);

      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING ||
          strlen (json_node_get_string (node)) > NATTER_ID_MAX_LENGTH)
        return bad_reply (error, "userIds");
      g_strv_builder_add (builder, json_node_get_string (node));
    }
  g_task_return_pointer (task, g_strv_builder_end (builder), (GDestroyNotify) g_strfreev);
  return TRUE;
}

static gboolean
parse_groups (GTask       *task,
              JsonObject  *reply,
              GError     **error)
{
  g_autoptr(GPtrArray) groups = g_ptr_array_new_with_free_func ((GDestroyNotify) natter_account_group_free);
  JsonArray *array = take_array (reply, "groups", error);

  if (array == NULL)
    return FALSE;
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonObject *object = array_object (array, i, error);
      g_autoptr(NatterAccountGroup) group = g_new0 (NatterAccountGroup, 1);
      JsonNode *mute;
      int role = 0;

      if (object == NULL ||
          !take_string (object, "groupId", NATTER_ID_MAX_LENGTH, TRUE, &group->group_id, error) ||
          !take_string (object, "name", NATTER_NAME_MAX_LENGTH, FALSE, &group->name, error) ||
          !take_word (object, "role", group_roles, G_N_ELEMENTS (group_roles), &role, error) ||
          !take_int (object, "memberCount", &group->member_count, error) ||
          !take_string (object, "announcement", MAX_TEXT, FALSE, &group->announcement, error))
        return FALSE;
      mute = json_object_get_member (object, "muteAll");
      if (mute != NULL && (!JSON_NODE_HOLDS_VALUE (mute) || json_node_get_value_type (mute) != G_TYPE_BOOLEAN))
        return bad_reply (error, "muteAll");
      group->mute_all = mute != NULL && json_node_get_boolean (mute);
      group->role = role;
      g_ptr_array_add (groups, g_steal_pointer (&group));
    }
  g_task_return_pointer (task, g_steal_pointer (&groups), (GDestroyNotify) g_ptr_array_unref);
  return TRUE;
}

static gboolean
parse_group_id (GTask       *task,
                JsonObject  *reply,
                GError     **error)
{
  char *group_id = NULL;

  if (!take_string (reply, "groupId", NATTER_ID_MAX_LENGTH, TRUE, &group_id, error))
    return FALSE;
  g_task_return_pointer (task, group_id, g_free);
  return TRUE;
}

static gboolean
parse_privacy (GTask       *task,
               JsonObject  *reply,
               GError     **error)
{
  static const char * const choices[] = { "anyone", "contacts" };
  int choice = 0;

  if (!take_word (reply, "messagesFrom", choices, G_N_ELEMENTS (choices), &choice, error))
    return FALSE;
  g_task_return_int (task, choice);
  return TRUE;
}

static gboolean
parse_show_online (GTask       *task,
                   JsonObject  *reply,
                   GError     **error)
{
  JsonNode *node = json_object_get_member (reply, "showOnline");

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return bad_reply (error, "showOnline");
  g_task_return_int (task, json_node_get_boolean (node));
  return TRUE;
}

/* ------------------------------------------------------------- the account */

void
natter_account_service_get_settings_async (NatterAccountService *self,
                                           GCancellable         *cancellable,
                                           GAsyncReadyCallback   callback,
                                           gpointer              user_data)
{
  g_return_if_fail (NATTER_IS_ACCOUNT_SERVICE (self));
  run (self, task_new (self, natter_account_service_get_settings_async, cancellable, callback, user_data),
       SOUP_METHOD_GET, "settings.json", parse_settings, form_new ("appKey", self->app_key, NULL));
}

gboolean
natter_account_service_get_settings_finish (NatterAccountService  *self,
                                            GAsyncResult          *result,
                                            NatterAccountsMode    *mode,
                                            guint                 *min_password_length,
                                            GError               **error)
{
  g_autofree Settings *settings = NULL;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  settings = g_task_propagate_pointer (G_TASK (result), error);
  if (settings == NULL)
    return FALSE;
  if (mode != NULL)
    *mode = settings->mode;
  if (min_password_length != NULL)
    *min_password_length = settings->min_password_length;
  return TRUE;
}

void
natter_account_service_register_async (NatterAccountService *self,
                                       const char           *user_id,
                                       const char           *password,
                                       const char           *name,
                                       const char           *invite_code,
                                       GCancellable         *cancellable,
                                       GAsyncReadyCallback   callback,
                                       gpointer              user_data)
{
  g_return_if_fail (NATTER_IS_ACCOUNT_SERVICE (self));
  g_return_if_fail (user_id != NULL && password != NULL);

  run (self, task_new (self, natter_account_service_register_async, cancellable, callback, user_data),
       SOUP_METHOD_POST, "register.json", parse_token,
       form_new ("appKey", self->app_key, "userId", user_id, "password", password,
                 "name", name != NULL ? name : user_id, "inviteCode", invite_code, NULL));
}

void
natter_account_service_login_async (NatterAccountService *self,
                                    const char           *user_id,
                                    const char           *password,
                                    GCancellable         *cancellable,
                                    GAsyncReadyCallback   callback,
                                    gpointer              user_data)
{
  g_return_if_fail (NATTER_IS_ACCOUNT_SERVICE (self));
  g_return_if_fail (user_id != NULL && password != NULL);

  run (self, task_new (self, natter_account_service_login_async, cancellable, callback, user_data),
       SOUP_METHOD_POST, "login.json", parse_token,
       form_new ("appKey", self->app_key, "userId", user_id, "password", password, NULL));
}

void
natter_account_service_change_password_async (NatterAccountService *self,
                                              const char           *old_password,
                                              const char           *new_password,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data)
{
  g_return_if_fail (NATTER_IS_ACCOUNT_SERVICE (self));
  g_return_if_fail (old_password != NULL && new_password != NULL);

  run (self, task_new (self, natter_account_service_change_password_async, cancellable, callback, user_data),
       SOUP_METHOD_POST, "password.json", parse_token,
       form_new ("oldPassword", old_password, "newPassword", new_password, NULL));
}

char *
natter_account_service_token_finish (NatterAccountService  *self,
                                     GAsyncResult          *result,
                                     GError               **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
natter_account_service_set_profile_async (NatterAccountService *self,
                                          const char           *name,
                                          const char           *portrait_uri,
                                          GCancellable         *cancellable,
                                          GAsyncReadyCallback   callback,
                                          gpointer              user_data)
{
  g_return_if_fail (NATTER_IS_ACCOUNT_SERVICE (self));

  run (self, task_new (self, natter_account_service_set_profile_async, cancellable, callback, user_data),
       SOUP_METHOD_POST, "profile.json", parse_user,
       form_new ("name", name, "portraitUri", portrait_uri, NULL));
}

void
natter_account_service_lookup_user_async (NatterAccountService *self,
                                          const char           *user_id,
                                          GCancellable         *cancellable,
                                          GAsyncReadyCallback   callback,
                                          gpointer              user_data)
{
  g_return_if_fail (NATTER_IS_ACCOUNT_SERVICE (self));
  g_return_if_fail (user_id != NULL);

  run (self, task_new (self, natter_account_service_lookup_user_async, cancellable, callback, user_data),
       SOUP_METHOD_GET, "user.json", parse_user, form_new ("userId", user_id, NULL));
}

NatterAccountUser *
natter_account_service_user_finish (NatterAccountService  *self,
                                    GAsyncResult          *result,
                                    GError               **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
natter_account_service_delete_account_async (NatterAccountService *self,
                                             const char           *password,
                                             GCancellable         *cancellable,
                                             GAsyncReadyCallback   callback,
                                             gpointer              user_data)
{
  g_return_if_fail (NATTER_IS_ACCOUNT_SERVICE (self));
  g_return_if_fail (password != NULL);

  run (self, task_new (self, natter_account_service_delete_account_async, cancellable, callback, user_data),
       SOUP_METHOD_POST, "delete.json", parse_ok, form_new ("password", password, NULL));
}

void
natter_account_service_privacy_async (NatterAccountService *self,
                                      int                   contacts_only,
                                      GCancellable         *cancellable,
                                      GAsyncReadyCallback   callback,
                                      gpointer              user_data)
{
  GTask *task;

  g_return_if_fail (NATTER_IS_ACCOUNT_SERVICE (self));

  task = task_new (self, natter_account_service_privacy_async, cancellable, callback, user_data);
  if (contacts_only < 0)
    run (self, task, SOUP_METHOD_GET, "privacy.json", parse_privacy, NULL);
  else
    run (self, task, SOUP_METHOD_POST, "privacy.json", parse_privacy,
         form_new ("messagesFrom", contacts_only ? "contacts" : "anyone", NULL));
}

gboolean
natter_account_service_privacy_finish (NatterAccountService  *self,
                                       GAsyncResult          *result,
                                       GError               **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_int (G_TASK (result), error) == 1;
}

void
natter_account_service_show_online_async (NatterAccountService *self,
                                          int                   show,
                                          GCancellable         *cancellable,
                                          GAsyncReadyCallback   callback,
                                          gpointer              user_data)
{
  GTask *task;

  g_return_if_fail (NATTER_IS_ACCOUNT_SERVICE (self));

  task = task_new (self, natter_account_service_show_online_async, cancellable, callback, user_data);
  if (show < 0)
    run (self, task, SOUP_METHOD_GET, "privacy.json", parse_show_online, NULL);
  else
    run (self, task, SOUP_METHOD_POST, "privacy.json", parse_show_online,
         form_new ("showOnline", show ? "true" : "false", NULL));
}

gboolean
natter_account_service_show_online_finish (NatterAccountService  *self,
                                           GAsyncResult          *result,
                                           GError               **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_int (G_TASK (result), error) == 1;
}

/* ---------------------------------------------------------------- contacts */

void
natter_account_service_contact_async (NatterAccountService *self,
                                      NatterContactAction   action,
                                      const char           *user_id,
                                      const char           *message,
                                      GCancellable         *cancellable,
                                      GAsyncReadyCallback   callback,
                                      gpointer              user_data)
{
  static const char * const paths[] = {
    [NATTER_CONTACT_ACTION_REQUEST] = "contact/request.json",
    [NATTER_CONTACT_ACTION_ACCEPT] = "contact/accept.json",
    [NATTER_CONTACT_ACTION_IGNORE] = "contact/ignore.json",
    [NATTER_CONTACT_ACTION_DELETE] = "contact/delete.json",
    [NATTER_CONTACT_ACTION_REMARK] = "contact/remark.json",
    [NATTER_CONTACT_ACTION_BLOCK] = "block.json",
    [NATTER_CONTACT_ACTION_UNBLOCK] = "unblock.json",
  };
  const char *field = NULL;

  g_return_if_fail (NATTER_IS_ACCOUNT_SERVICE (self));
  g_return_if_fail (action < G_N_ELEMENTS (paths) && user_id != NULL);

  if (action == NATTER_CONTACT_ACTION_REQUEST)
    field = "message";
  else if (action == NATTER_CONTACT_ACTION_REMARK)
    field = "remark";
  run (self, task_new (self, natter_account_service_contact_async, cancellable, callback, user_data),
       SOUP_METHOD_POST, paths[action], parse_ok,
       form_new ("userId", user_id, field, field != NULL ? (message ? message : "") : NULL, NULL));
}

void
natter_account_service_list_contacts_async (NatterAccountService *self,
                                            GCancellable         *cancellable,
                                            GAsyncReadyCallback   callback,
                                            gpointer              user_data)
{
  g_return_if_fail (NATTER_IS_ACCOUNT_SERVICE (self));
  run (self, task_new (self, natter_account_service_list_contacts_async, cancellable, callback, user_data),
       SOUP_METHOD_GET, "contacts.json", parse_users, NULL);
}

void
natter_account_service_list_members_async (NatterAccountService *self,
                                           const char           *group_id,
                                           GCancellable         *cancellable,
                                           GAsyncReadyCallback   callback,
                                           gpointer              user_data)
{
  g_return_if_fail (NATTER_IS_ACCOUNT_SERVICE (self));
  g_return_if_fail (group_id != NULL);
  run (self, task_new (self, natter_account_service_list_members_async, cancellable, callback, user_data),
       SOUP_METHOD_GET, "group/members.json", parse_users, form_new ("groupId", group_id, NULL));
}

void
natter_account_service_list_blocked_async (NatterAccountService *self,
                                           GCancellable         *cancellable,
                                           GAsyncReadyCallback   callback,
                                           gpointer              user_data)
{
  g_return_if_fail (NATTER_IS_ACCOUNT_SERVICE (self));
  run (self, task_new (self, natter_account_service_list_blocked_async, cancellable, callback, user_data),
       SOUP_METHOD_GET, "blocked.json", parse_blocked, NULL);
}

GStrv
natter_account_service_list_blocked_finish (NatterAccountService  *self,
                                            GAsyncResult          *result,
                                            GError               **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------ groups */

void
natter_account_service_list_groups_async (NatterAccountService *self,
                                          GCancellable         *cancellable,
                                          GAsyncReadyCallback   callback,
                                          gpointer              user_data)
{
  g_return_if_fail (NATTER_IS_ACCOUNT_SERVICE (self));
  run (self, task_new (self, natter_account_service_list_groups_async, cancellable, callback, user_data),
       SOUP_METHOD_GET, "groups.json", parse_groups, NULL);
}

GPtrArray *
natter_account_service_list_groups_finish (NatterAccountService  *self,
                                           GAsyncResult          *result,
                                           GError               **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
natter_account_service_create_group_async (NatterAccountService *self,
                                           const char           *name,
                                           const char * const   *member_ids,
                                           GCancellable         *cancellable,
                                           GAsyncReadyCallback   callback,
                                           gpointer              user_data)
{
  GPtrArray *form;

  g_return_if_fail (NATTER_IS_ACCOUNT_SERVICE (self));
  g_return_if_fail (name != NULL);

  form = form_new ("name", name, NULL);
  form_add_list (form, "memberId", member_ids);
  run (self, task_new (self, natter_account_service_create_group_async, cancellable, callback, user_data),
       SOUP_METHOD_POST, "group/create.json", parse_group_id, form);
}

char *
natter_account_service_create_group_finish (NatterAccountService  *self,
                                            GAsyncResult          *result,
                                            GError               **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
natter_account_service_group_async (NatterAccountService *self,
                                    NatterGroupAction     action,
                                    const char           *group_id,
                                    const char           *value,
                                    const char * const   *member_ids,
                                    GCancellable         *cancellable,
                                    GAsyncReadyCallback   callback,
                                    gpointer              user_data)
{
  static const struct {
    const char *path;
    const char *field;          /* what @value is sent as */
    const char *fixed;          /* or this, as "admin"/"mute" */
  } actions[] = {
    [NATTER_GROUP_ACTION_ADD] = { "group/add.json", NULL, NULL },
    [NATTER_GROUP_ACTION_REMOVE] = { "group/remove.json", NULL, NULL },
    [NATTER_GROUP_ACTION_LEAVE] = { "group/leave.json", NULL, NULL },
    [NATTER_GROUP_ACTION_DISMISS] = { "group/dismiss.json", NULL, NULL },
    [NATTER_GROUP_ACTION_RENAME] = { "group/rename.json", "name", NULL },
    [NATTER_GROUP_ACTION_TRANSFER] = { "group/transfer.json", "userId", NULL },
    [NATTER_GROUP_ACTION_ADD_ADMIN] = { "group/admin.json", "userId", "true" },
    [NATTER_GROUP_ACTION_REMOVE_ADMIN] = { "group/admin.json", "userId", "false" },
    [NATTER_GROUP_ACTION_ANNOUNCEMENT] = { "group/announcement.json", "announcement", NULL },
    [NATTER_GROUP_ACTION_MUTE_ALL] = { "group/mute-all.json", NULL, "true" },
    [NATTER_GROUP_ACTION_UNMUTE_ALL] = { "group/mute-all.json", NULL, "false" },
  };
  GPtrArray *form;

  g_return_if_fail (NATTER_IS_ACCOUNT_SERVICE (self));
  g_return_if_fail (action < G_N_ELEMENTS (actions) && group_id != NULL);

  form = form_new ("groupId", group_id, NULL);
  if (actions[action].field != NULL)
    {
      g_ptr_array_add (form, (gpointer) actions[action].field);
      g_ptr_array_add (form, (gpointer) (value != NULL ? value : ""));
    }
  if (actions[action].fixed != NULL)
    {
      g_ptr_array_add (form, (gpointer) (action == NATTER_GROUP_ACTION_MUTE_ALL ||
                                         action == NATTER_GROUP_ACTION_UNMUTE_ALL ? "mute" : "admin"));
      g_ptr_array_add (form, (gpointer) actions[action].fixed);
    }
  form_add_list (form, "memberId", member_ids);
  run (self, task_new (self, natter_account_service_group_async, cancellable, callback, user_data),
       SOUP_METHOD_POST, actions[action].path, parse_ok, form);
}

/* ----------------------------------------------------------------- GObject */

const char *
natter_account_service_get_app_key (NatterAccountService *self)
{
  g_return_val_if_fail (NATTER_IS_ACCOUNT_SERVICE (self), NULL);
  return self->app_key;
}

const char *
natter_account_service_get_base_url (NatterAccountService *self)
{
  g_return_val_if_fail (NATTER_IS_ACCOUNT_SERVICE (self), NULL);
  return self->base_url;
}

const char *
natter_account_service_get_token (NatterAccountService *self)
{
  g_return_val_if_fail (NATTER_IS_ACCOUNT_SERVICE (self), NULL);
  return self->token;
}

void
natter_account_service_set_token (NatterAccountService *self,
                                  const char           *token)
{
  g_return_if_fail (NATTER_IS_ACCOUNT_SERVICE (self));

  if (self->token != NULL)
    memset (self->token, 0, strlen (self->token));
  g_free (self->token);
  self->token = g_strdup (token);
}

static void
natter_account_service_finalize (GObject *object)
{
  NatterAccountService *self = NATTER_ACCOUNT_SERVICE (object);

  natter_account_service_set_token (self, NULL);
  g_clear_object (&self->servers);
  g_clear_object (&self->session);
  g_free (self->app_key);
  g_free (self->base_url);

  G_OBJECT_CLASS (natter_account_service_parent_class)->finalize (object);
}

static void
natter_account_service_class_init (NatterAccountServiceClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = natter_account_service_finalize;
}

static void
natter_account_service_init (NatterAccountService *self)
{
  self->session = soup_session_new_with_options ("timeout", REQUEST_TIMEOUT_S, NULL);
}

NatterAccountService *
natter_account_service_new (const char *server_urls,
                            const char *app_key)
{
  NatterAccountService *self;
  const char *media_url;

  g_return_val_if_fail (server_urls != NULL && app_key != NULL, NULL);

  self = g_object_new (NATTER_TYPE_ACCOUNT_SERVICE, NULL);
  self->servers = natter_server_list_new (server_urls);
  self->app_key = g_strdup (app_key);
  /* /account/ lives beside /media/ on the node's origin. */
  media_url = natter_server_list_get_media_url (self->servers);
  self->base_url = g_strndup (media_url, strlen (media_url) - strlen ("/media"));
  return self;
}
