/* natter-reactions.c — emoji reactions on the message-expansion model (#16)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <string.h>

#include "natter-codes.h"
#include "natter-json.h"
#include "natter-reactions.h"

void
natter_reaction_free (NatterReaction *reaction)
{
  if (reaction == NULL)
    return;
  g_free (reaction->emoji);
  g_strfreev (reaction->user_ids);
  g_free (reaction);
}

char *
natter_reaction_key (const char *emoji)
{
  GString *key = g_string_new ("r");

  g_return_val_if_fail (emoji != NULL, NULL);

  for (const guchar *c = (const guchar *) emoji; *c != '\0' && key->len + 2 <= NATTER_EXPANSION_KEY_MAX_LENGTH; c++)
    g_string_append_printf (key, "%02x", *c);
  return g_string_free (key, FALSE);
}

char *
natter_reaction_key_to_emoji (const char *key)
{
  size_t len;
  g_autofree char *bytes = NULL;

  g_return_val_if_fail (key != NULL, NULL);

  len = strlen (key);
  if (key[0] != 'r' || len < 3 || (len - 1) % 2 != 0)
    return NULL;
  bytes = g_malloc0 ((len - 1) / 2 + 1);
  for (size_t i = 1, j = 0; i < len; i += 2, j++)
    {
      int hi = g_ascii_xdigit_value (key[i]);
      int lo = g_ascii_xdigit_value (key[i + 1]);

      if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
        return NULL;
      bytes[j] = (char) (hi << 4 | lo);
    }
  if (!g_utf8_validate (bytes, -1, NULL))
    return NULL;
  return g_steal_pointer (&bytes);
}

/* The user ids of one value: a JSON array of strings, as text. */
static GStrv
parse_user_ids (const char *value)
{
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  JsonArray *array;

  if (value == NULL)
    return NULL;
  node = natter_json_parse (value, -1, NULL);
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return NULL;
  array = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);

      if (JSON_NODE_HOLDS_VALUE (element) && json_node_get_value_type (element) == G_TYPE_STRING)
        g_strv_builder_add (builder, json_node_get_string (element));
    }
  return g_strv_builder_end (builder);
}

static const char *
string_member (JsonObject *object,
               const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

GPtrArray *
natter_message_dup_reactions (NatterMessage *message)
{
  GPtrArray *reactions = g_ptr_array_new_with_free_func ((GDestroyNotify) natter_reaction_free);
  JsonObject *expansion;
  g_autoptr(GList) keys = NULL;

  g_return_val_if_fail (NATTER_IS_MESSAGE (message), reactions);

  expansion = natter_message_get_expansion (message);
  if (expansion == NULL)
    return reactions;
  keys = g_list_sort (json_object_get_members (expansion), (GCompareFunc) strcmp);
  for (GList *l = keys; l != NULL; l = l->next)
    {
      g_autofree char *emoji = natter_reaction_key_to_emoji (l->data);
      g_auto(GStrv) users = NULL;
      NatterReaction *reaction;

      if (emoji == NULL)
        continue;
      users = parse_user_ids (string_member (expansion, l->data));
      if (users == NULL || users[0] == NULL)
        continue;
      reaction = g_new0 (NatterReaction, 1);
      reaction->emoji = g_steal_pointer (&emoji);
      reaction->user_ids = g_steal_pointer (&users);
      g_ptr_array_add (reactions, reaction);
    }
  return reactions;
}

static GStrv
dup_users (NatterMessage *message,
           const char    *emoji)
{
  JsonObject *expansion = natter_message_get_expansion (message);
  g_autofree char *key = natter_reaction_key (emoji);

  if (expansion == NULL)
    return NULL;
  return parse_user_ids (string_member (expansion, key));
}

gboolean
natter_message_has_reaction (NatterMessage *message,
                             const char    *emoji,
                             const char    *user_id)
{
  g_auto(GStrv) users = NULL;

  g_return_val_if_fail (NATTER_IS_MESSAGE (message), FALSE);
  g_return_val_if_fail (emoji != NULL, FALSE);

  users = dup_users (message, emoji);
  return users != NULL && user_id != NULL && g_strv_contains ((const char * const *) users, user_id);
}

static void
expanded_cb (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  NatterMessage *message;

  message = natter_client_update_expansion_finish (NATTER_CLIENT (object), result, &error);
  if (message == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, message, g_object_unref);
}

void
natter_client_react_async (NatterClient        *self,
                           NatterMessage       *message,
                           const char          *emoji,
                           gboolean             add,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *key = NULL;
  g_auto(GStrv) old = NULL;
  g_autoptr(JsonArray) users = json_array_new ();
  const char *me;

  g_return_if_fail (NATTER_IS_CLIENT (self));
  g_return_if_fail (NATTER_IS_MESSAGE (message));
  g_return_if_fail (emoji != NULL && *emoji != '\0');

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_client_react_async);

  me = natter_client_get_user_id (self);
  key = natter_reaction_key (emoji);
  old = dup_users (message, emoji);
  for (guint i = 0; old != NULL && old[i] != NULL; i++)
    if (g_strcmp0 (old[i], me) != 0)
      json_array_add_string_element (users, old[i]);
  if (add)
    json_array_add_string_element (users, me);

  if (json_array_get_length (users) == 0)
    {
      const char *remove[] = { key, NULL };

      natter_client_update_expansion_async (self, message, NULL, remove, cancellable, expanded_cb,
                                            g_steal_pointer (&task));
    }
  else
    {
      g_autoptr(JsonObject) set = json_object_new ();
      g_autoptr(JsonNode) node = json_node_init_array (json_node_alloc (), users);
      g_autofree char *value = json_to_string (node, FALSE);

      json_object_set_string_member (set, key, value);
      natter_client_update_expansion_async (self, message, set, NULL, cancellable, expanded_cb,
                                            g_steal_pointer (&task));
    }
}

NatterMessage *
natter_client_react_finish (NatterClient  *self,
                            GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
