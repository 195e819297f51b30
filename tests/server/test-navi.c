/* test-navi.c — natterd: GET /navi.json names the nodes clients may use
 *
 * A single natterd lists itself: its [cluster] node-name (or "natterd")
 * and its public-url (or the URL it listens on), without authentication,
 * cacheable for a few seconds; anything but GET/HEAD is refused.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-test-client.h"

#include <libsoup/soup.h>
#include <string.h>

/* GET (or @method) /navi.json with no credentials at all. */
static JsonNode *
fetch_navi (NatterTestServer *server,
            const char       *method,
            guint            *status,
            char            **cache_control)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autofree char *url = g_strdup_printf ("%s/navi.json", natter_test_server_get_url (server));
  g_autoptr(SoupMessage) message = soup_message_new (method, url);
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  reply = soup_session_send_and_read (session, message, NULL, &error);
  g_assert_no_error (error);
  *status = soup_message_get_status (message);
  if (cache_control != NULL)
    *cache_control = g_strdup (soup_message_headers_get_one (soup_message_get_response_headers (message),
                                                             "Cache-Control"));
  if (*status != SOUP_STATUS_OK)
    return NULL;
  g_assert_cmpstr (soup_message_headers_get_content_type (soup_message_get_response_headers (message), NULL),
                   ==, "application/json");
  json_parser_load_from_data (parser, g_bytes_get_data (reply, NULL), (gssize) g_bytes_get_size (reply),
                              &error);
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (parser));
}

static void
assert_single_node (JsonNode   *root,
                    const char *name,
                    const char *url)
{
  JsonObject *object;
  JsonArray *nodes;
  JsonObject *node;

  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
  object = json_node_get_object (root);
  g_assert_cmpint (json_object_get_int_member (object, "code"), ==, 200);
  nodes = json_object_get_array_member (object, "nodes");
  g_assert_nonnull (nodes);
  g_assert_cmpuint (json_array_get_length (nodes), ==, 1);
  node = json_array_get_object_element (nodes, 0);
  g_assert_cmpuint (json_object_get_size (node), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (node, "name"), ==, name);
  g_assert_cmpstr (json_object_get_string_member (node, "url"), ==, url);
}

static void
test_single_node (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *cache_control = NULL;
  guint status = 0;

  root = fetch_navi (server, "GET", &status, &cache_control);
  g_assert_cmpuint (status, ==, 200);
  assert_single_node (root, "natterd", natter_test_server_get_url (server));
  g_assert_cmpstr (cache_control, ==, "public, max-age=5");

  g_assert_null (fetch_navi (server, "POST", &status, NULL));
  g_assert_cmpuint (status, ==, 405);
  g_assert_null (fetch_navi (server, "DELETE", &status, NULL));
  g_assert_cmpuint (status, ==, 405);

  /* Still serving. */
  g_clear_pointer (&root, json_node_unref);
  root = fetch_navi (server, "GET", &status, NULL);
  g_assert_cmpuint (status, ==, 200);
}

static void
test_public_url_and_name (void)
{
  g_autoptr(NatterTestServer) server =
    natter_test_server_new_full ("[server]\npublic-url=https://chat.example.org/\n"
                                 "[cluster]\nnode-name=a\n", NULL);
  g_autoptr(JsonNode) root = NULL;
  guint status = 0;

  root = fetch_navi (server, "GET", &status, NULL);
  g_assert_cmpuint (status, ==, 200);
  assert_single_node (root, "a", "https://chat.example.org");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/server/navi/single-node", test_single_node);
  g_test_add_func ("/server/navi/public-url-and-name", test_public_url_and_name);

  return g_test_run ();
}
