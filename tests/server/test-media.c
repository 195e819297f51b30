/* test-media.c — natterd: media upload and download
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-test-client.h"

#include <libsoup/soup.h>
#include <string.h>

typedef struct
{
  guint       status;
  GBytes     *body;
  JsonObject *json;
  char       *content_type;
  char       *content_range;
} Response;

static void
response_clear (Response *response)
{
  g_clear_pointer (&response->body, g_bytes_unref);
  g_clear_pointer (&response->json, json_object_unref);
  g_clear_pointer (&response->content_type, g_free);
  g_clear_pointer (&response->content_range, g_free);
}

static void
request (const char *method,
         const char *url,
         const char *token,
         const char *content_type,
         GBytes     *body,
         const char *range,
         Response   *out)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autoptr(SoupMessage) message = soup_message_new (method, url);
  g_autoptr(GError) error = NULL;
  SoupMessageHeaders *headers = soup_message_get_request_headers (message);
  SoupMessageHeaders *reply;

  if (token != NULL)
    {
      g_autofree char *value = g_strconcat ("Bearer ", token, NULL);
      soup_message_headers_append (headers, "Authorization", value);
    }
  if (range != NULL)
    soup_message_headers_append (headers, "Range", range);
  if (body != NULL)
    soup_message_set_request_body_from_bytes (message, content_type, body);

  response_clear (out);
  out->body = soup_session_send_and_read (session, message, NULL, &error);
  g_assert_no_error (error);
  out->status = soup_message_get_status (message);
  reply = soup_message_get_response_headers (message);
  out->content_type = g_strdup (soup_message_headers_get_one (reply, "Content-Type"));
  out->content_range = g_strdup (soup_message_headers_get_one (reply, "Content-Range"));
  if (out->content_type != NULL && g_str_has_prefix (out->content_type, "application/json"))
    {
      g_autoptr(JsonParser) parser = json_parser_new ();

      json_parser_load_from_data (parser, g_bytes_get_data (out->body, NULL),
                                  (gssize) g_bytes_get_size (out->body), &error);
      g_assert_no_error (error);
      out->json = json_object_ref (json_node_get_object (json_parser_get_root (parser)));
    }
}

static GBytes *
make_data (gsize size)
{
  guint8 *data = g_malloc (size);

  for (gsize i = 0; i < size; i++)
    data[i] = (guint8) (i * 7 + 3);
  return g_bytes_new_take (data, size);
}

static void
test_upload_download (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autofree char *token = natter_test_server_get_token (server, "alice");
  g_autofree char *bob_token = natter_test_server_get_token (server, "bob");
  g_autofree char *upload_url = g_strdup_printf ("%s/media/upload?name=%s", natter_test_server_get_url (server),
                                                 "photo%20%E4%B8%80.jpg");
  g_autoptr(GBytes) data = make_data (300 * 1024);
  g_autofree char *hash = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, data);
  g_autofree char *url = NULL;
  Response r = { 0 };

  /* No token, bad token. */
  request ("POST", upload_url, NULL, "image/jpeg", data, NULL, &r);
  g_assert_cmpuint (r.status, ==, 401);
  g_assert_cmpint (json_object_get_int_member (r.json, "code"), ==, 31004);
  request ("POST", upload_url, "x.y", "image/jpeg", data, NULL, &r);
  g_assert_cmpuint (r.status, ==, 401);

  request ("POST", upload_url, token, "image/jpeg", data, NULL, &r);
  g_assert_cmpuint (r.status, ==, 200);
  g_assert_cmpint (json_object_get_int_member (r.json, "code"), ==, 200);
  g_assert_cmpstr (json_object_get_string_member (r.json, "hash"), ==, hash);
  g_assert_cmpint (json_object_get_int_member (r.json, "size"), ==, 300 * 1024);
  g_assert_cmpstr (json_object_get_string_member (r.json, "contentType"), ==, "image/jpeg");
  url = g_strdup (json_object_get_string_member (r.json, "url"));
  g_assert_true (g_str_has_prefix (url, natter_test_server_get_url (server)));
  g_assert_true (g_str_has_suffix (url, hash));

  /* Any user of the app may fetch it; Content-Type kept. */
  request ("GET", url, bob_token, NULL, NULL, NULL, &r);
  g_assert_cmpuint (r.status, ==, 200);
  g_assert_true (g_bytes_equal (r.body, data));
  g_assert_cmpstr (r.content_type, ==, "image/jpeg");

  /* Token in the query, for players. */
  {
    g_autofree char *with_token = g_strdup_printf ("%s?token=%s", url, bob_token);

    request ("GET", with_token, NULL, NULL, NULL, NULL, &r);
    g_assert_cmpuint (r.status, ==, 200);
    g_assert_cmpuint (g_bytes_get_size (r.body), ==, 300 * 1024);
  }

  /* Ranges. */
  request ("GET", url, token, NULL, NULL, "bytes=1000-1999", &r);
  g_assert_cmpuint (r.status, ==, 206);
  g_assert_cmpuint (g_bytes_get_size (r.body), ==, 1000);
  g_assert_cmpint (memcmp (g_bytes_get_data (r.body, NULL), (const guint8 *) g_bytes_get_data (data, NULL) + 1000, 1000), ==, 0);
  g_assert_cmpstr (r.content_range, ==, "bytes 1000-1999/307200");
  request ("GET", url, token, NULL, NULL, "bytes=307000-", &r);
  g_assert_cmpuint (r.status, ==, 206);
  g_assert_cmpuint (g_bytes_get_size (r.body), ==, 200);
  request ("GET", url, token, NULL, NULL, "bytes=400000-", &r);
  g_assert_cmpuint (r.status, ==, 416);

  /* HEAD. */
  request ("HEAD", url, token, NULL, NULL, NULL, &r);
  g_assert_cmpuint (r.status, ==, 200);

  /* Unauthenticated download, unknown hash. */
  request ("GET", url, NULL, NULL, NULL, NULL, &r);
  g_assert_cmpuint (r.status, ==, 401);
  {
    g_autofree char *other = g_strdup (url);
    other[strlen (other) - 1] = other[strlen (other) - 1] == '0' ? '1' : '0';
    request ("GET", other, token, NULL, NULL, NULL, &r);
    g_assert_cmpuint (r.status, ==, 404);
  }

  /* The same bytes again: same place. */
  request ("POST", upload_url, token, "image/jpeg", data, NULL, &r);
  g_assert_cmpstr (json_object_get_string_member (r.json, "url"), ==, url);

  /* Still there after a crash. */
  natter_test_server_kill (server);
  natter_test_server_restart (server);
  request ("GET", url, token, NULL, NULL, NULL, &r);
  g_assert_cmpuint (r.status, ==, 200);
  g_assert_true (g_bytes_equal (r.body, data));
  response_clear (&r);
}

static void
test_app_scope (void)
{
  g_autoptr(NatterTestServer) first = natter_test_server_new ();
  g_autofree char *token = natter_test_server_get_token (first, "alice");
  g_autofree char *upload_url = g_strdup_printf ("%s/media/upload", natter_test_server_get_url (first));
  g_autoptr(GBytes) data = make_data (1000);
  g_autofree char *other_url = NULL;
  Response r = { 0 };

  request ("POST", upload_url, token, "application/pdf", data, NULL, &r);
  g_assert_cmpuint (r.status, ==, 200);

  /* The same media path under another app key is not found, even for a
   * valid user of this app. */
  {
    const char *url = json_object_get_string_member (r.json, "url");
    const char *key = natter_test_server_get_app_key (first);
    const char *at = strstr (url, key);

    other_url = g_strdup_printf ("%.*sotherapp%s", (int) (at - url), url, at + strlen (key));
  }
  request ("GET", other_url, token, NULL, NULL, NULL, &r);
  g_assert_cmpuint (r.status, ==, 404);
  response_clear (&r);
}

static void
test_size_limit (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new_full ("[media]\nmax-size=4096\n", NULL);
  g_autofree char *token = natter_test_server_get_token (server, "alice");
  g_autofree char *upload_url = g_strdup_printf ("%s/media/upload", natter_test_server_get_url (server));
  g_autoptr(GBytes) small = make_data (4096);
  g_autoptr(GBytes) big = make_data (4097);
  Response r = { 0 };

  request ("POST", upload_url, token, "audio/amr", big, NULL, &r);
  g_assert_cmpuint (r.status, ==, 413);
  g_assert_cmpint (json_object_get_int_member (r.json, "code"), ==, 30016);
  request ("POST", upload_url, token, "audio/amr", small, NULL, &r);
  g_assert_cmpuint (r.status, ==, 200);
  response_clear (&r);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/server/media/upload-download", test_upload_download);
  g_test_add_func ("/server/media/app-scope", test_app_scope);
  g_test_add_func ("/server/media/size-limit", test_size_limit);

  return g_test_run ();
}
