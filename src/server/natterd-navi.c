/* natterd-navi.c — GET /navi.json
 *
 * {"code":200,"nodes":[{"name":"a","url":"http://127.0.0.1:PORT"},...]}
 * No authentication: it names only what clients may connect to. At most
 * NAVI_MAX_NODES nodes, and clients and proxies may keep it a few seconds.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-navi.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "natterd-server-private.h"

#define NAVI_MAX_NODES 64
#define NAVI_MAX_AGE_S 5

NatterdNaviNode *
natterd_navi_node_new (const char *name,
                       const char *url)
{
  NatterdNaviNode *node = g_new0 (NatterdNaviNode, 1);

  node->name = g_strdup (name);
  node->url = g_strdup (url);
  return node;
}

void
natterd_navi_node_free (NatterdNaviNode *node)
{
  if (node == NULL)
    return;
  g_free (node->name);
  g_free (node->url);
  g_free (node);
}

GPtrArray *
natterd_server_navi_nodes (NatterdServer *self)
{
  GPtrArray *nodes;
  const char *name = self->config->cluster_node_name;

  if (self->cluster != NULL)
    return natterd_cluster_get_nodes (self->cluster);
  nodes = g_ptr_array_new_with_free_func ((GDestroyNotify) natterd_navi_node_free);
  g_ptr_array_add (nodes, natterd_navi_node_new (name != NULL && *name != '\0' ? name : "natterd",
                                                 self->public_url != NULL ? self->public_url : self->url));
  return nodes;
}

static char *
render_navi (GPtrArray *nodes)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "code");
  json_builder_add_int_value (builder, 200);
  json_builder_set_member_name (builder, "nodes");
  json_builder_begin_array (builder);
  for (guint i = 0; i < nodes->len && i < NAVI_MAX_NODES; i++)
    {
      NatterdNaviNode *node = g_ptr_array_index (nodes, i);

      if (node->url == NULL)
        continue;
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "name");
      json_builder_add_string_value (builder, node->name != NULL ? node->name : "");
      json_builder_set_member_name (builder, "url");
      json_builder_add_string_value (builder, node->url);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, NULL);
}

static void
on_navi (SoupServer        *server,
         SoupServerMessage *msg,
         const char        *path,
         GHashTable        *query,
         gpointer           user_data)
{
  NatterdServer *self = user_data;
  const char *method = soup_server_message_get_method (msg);
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  g_autoptr(GPtrArray) nodes = NULL;
  char *body;

  if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD)
    {
      soup_message_headers_replace (headers, "Allow", "GET, HEAD");
      soup_server_message_set_status (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, NULL);
      return;
    }

  nodes = natterd_server_navi_nodes (self);
  body = render_navi (nodes);
  soup_message_headers_replace (headers, "Cache-Control",
                                "public, max-age=" G_STRINGIFY (NAVI_MAX_AGE_S));
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, body, strlen (body));
}

void
natterd_server_setup_navi (NatterdServer *self)
{
  soup_server_add_handler (self->soup, "/navi.json", on_navi, self, NULL);
}
