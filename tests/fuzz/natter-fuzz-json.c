/* natter-fuzz-json.c — libFuzzer target for JSON from the network
 *
 * Message content goes through natter_content_is_valid(), replies and API
 * parameters through natter_json_parse(). Whatever the bytes: no crash, no
 * leak, no stack overflow (json-glib recurses per level), and what is
 * accepted nests no deeper than NATTER_JSON_MAX_DEPTH and holds only UTF-8
 * strings. Run with -max_len=262144 or more so a nesting deep enough to
 * overflow is reachable.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-fuzz.h"

#include "natter-frame.h"
#include "natter-json.h"

/* Levels of arrays and objects in @node (0 for a scalar). */
static guint
depth_of (JsonNode *node)
{
  guint deepest = 0;

  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);

      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          guint depth = depth_of (json_array_get_element (array, i));

          deepest = MAX (deepest, depth);
        }
      return deepest + 1;
    }
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObjectIter iter;
      JsonNode *member;

      json_object_iter_init (&iter, json_node_get_object (node));
      while (json_object_iter_next (&iter, NULL, &member))
        {
          guint depth = depth_of (member);

          deepest = MAX (deepest, depth);
        }
      return deepest + 1;
    }
  return 0;
}

/* What the app shows, stores and sends on is UTF-8. */
static gboolean
strings_are_utf8 (JsonNode *node)
{
  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);

      for (guint i = 0; i < json_array_get_length (array); i++)
        if (!strings_are_utf8 (json_array_get_element (array, i)))
          return FALSE;
    }
  else if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObjectIter iter;
      const char *name;
      JsonNode *member;

      json_object_iter_init (&iter, json_node_get_object (node));
      while (json_object_iter_next (&iter, &name, &member))
        if (!g_utf8_validate (name, -1, NULL) || !strings_are_utf8 (member))
          return FALSE;
    }
  else if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    return g_utf8_validate (json_node_get_string (node), -1, NULL);
  return TRUE;
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autofree char *text = natter_fuzz_string (data, size);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) root = NULL;
  gboolean valid;

  natter_fuzz_quiet_logs ();

  /* Content: a protobuf string, so up to its first NUL. */
  valid = natter_content_is_valid (text, &error);
  g_assert_true (valid == (error == NULL));
  g_assert_true (valid || error->domain == NATTER_PROTO_ERROR);
  g_clear_error (&error);

  /* An HTTP body: every byte, no terminator. */
  root = natter_json_parse ((const char *) data, (gssize) size, &error);
  g_assert_true ((root == NULL) == (error != NULL));
  if (root != NULL)
    {
      g_assert_cmpuint (depth_of (root), <=, NATTER_JSON_MAX_DEPTH);
      g_assert_true (strings_are_utf8 (root));
    }

  return 0;
}
