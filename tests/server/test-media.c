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
  char       *disposition;
  char       *nosniff;
  char       *csp;
} Response;

static void
response_clear (Response *response)
{
  g_clear_pointer (&response->body, g_bytes_unref);
  g_clear_pointer (&response->json, json_object_unref);
  g_clear_pointer (&response->content_type, g_free);
  g_clear_pointer (&response->content_range, g_free);
  g_clear_pointer (&response->disposition, g_free);
  g_clear_pointer (&response->nosniff, g_free);
  g_clear_pointer (&response->csp, g_free);
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
  out->disposition = g_strdup (soup_message_headers_get_one (reply, "Content-Disposition"));
  out->nosniff = g_strdup (soup_message_headers_get_one (reply, "X-Content-Type-Options"));
  out->csp = g_strdup (soup_message_headers_get_one (reply, "Content-Security-Policy"));
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
  g_assert_null (strstr (url, hash));

  /* Any user of the app may fetch it; Content-Type kept. */
  request ("GET", url, bob_token, NULL, NULL, NULL, &r);
  g_assert_cmpuint (r.status, ==, 200);
  g_assert_true (g_bytes_equal (r.body, data));
  g_assert_cmpstr (r.content_type, ==, "image/jpeg");

  /* Malformed tokens: refused with 31004 on the download too, and the
   * server keeps serving. */
  {
    g_autofree char *short_payload = g_strdup_printf ("v1:%s:bob", natter_test_server_get_app_key (server));
    g_autofree char *short_encoded = g_base64_encode ((const guchar *) short_payload, strlen (short_payload));
    g_autofree char *short_token = g_strconcat (short_encoded, ".AAAA", NULL);
    g_autofree char *cut = g_strndup (bob_token, strlen (bob_token) - 4);
    const char *bad[] = { "", ".", "x.y", "garbage", "Z2FyYmFnZQ.Z2FyYmFnZQ", "djE6Ojo6.AAAA", short_token, cut };

    for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        request ("GET", url, bad[i], NULL, NULL, NULL, &r);
        g_assert_cmpuint (r.status, ==, 401);
        g_assert_cmpint (json_object_get_int_member (r.json, "code"), ==, 31004);
      }
    request ("GET", url, bob_token, NULL, NULL, NULL, &r);
    g_assert_cmpuint (r.status, ==, 200);
  }

  /* Never a token in the query: URLs end up in logs. */
  {
    g_autofree char *with_token = g_strdup_printf ("%s?token=%s", url, bob_token);

    request ("GET", with_token, NULL, NULL, NULL, NULL, &r);
    g_assert_cmpuint (r.status, ==, 401);
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

  /* The same bytes again: another upload, another place. */
  request ("POST", upload_url, token, "image/jpeg", data, NULL, &r);
  g_assert_cmpuint (r.status, ==, 200);
  g_assert_cmpstr (json_object_get_string_member (r.json, "url"), !=, url);

  /* Still there after a crash. */
  natter_test_server_kill (server);
  natter_test_server_restart (server);
  request ("GET", url, token, NULL, NULL, NULL, &r);
  g_assert_cmpuint (r.status, ==, 200);
  g_assert_true (g_bytes_equal (r.body, data));
  response_clear (&r);
}

/* Range values libsoup parses into a negative start (found by
 * natter-fuzz-range): a suffix longer than the file is all of it, a first
 * byte past 2^63 is nothing; neither slices outside the file, and natterd
 * goes on serving. */
static void
test_hostile_ranges (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autofree char *token = natter_test_server_get_token (server, "alice");
  g_autofree char *upload_url = g_strdup_printf ("%s/media/upload", natter_test_server_get_url (server));
  g_autoptr(GBytes) data = make_data (1000);
  g_autofree char *url = NULL;
  Response r = { 0 };

  request ("POST", upload_url, token, "application/octet-stream", data, NULL, &r);
  g_assert_cmpuint (r.status, ==, 200);
  url = g_strdup (json_object_get_string_member (r.json, "url"));

  request ("GET", url, token, NULL, NULL, "bytes=-5000", &r);
  g_assert_cmpuint (r.status, ==, 206);
  g_assert_cmpstr (r.content_range, ==, "bytes 0-999/1000");
  g_assert_true (g_bytes_equal (r.body, data));

  request ("GET", url, token, NULL, NULL, "bytes=-99999999999999999999", &r);
  g_assert_cmpuint (r.status, ==, 206);
  g_assert_true (g_bytes_equal (r.body, data));

  request ("GET", url, token, NULL, NULL, "bytes=99999999999999999999-9", &r);
  g_assert_cmpuint (r.status, ==, 416);
  g_assert_cmpstr (r.content_range, ==, "bytes */1000");

  request ("HEAD", url, token, NULL, NULL, "bytes=18446744073709551615-5", &r);
  g_assert_cmpuint (r.status, ==, 416);

  request ("GET", url, token, NULL, NULL, "bytes=10-19", &r);
  g_assert_cmpuint (r.status, ==, 206);
  g_assert_cmpuint (g_bytes_get_size (r.body), ==, 10);
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

static char *
upload (NatterTestServer *server,
        const char       *token,
        const char       *content_type,
        GBytes           *data,
        const char       *name,
        guint             expected_status)
{
  g_autofree char *url = g_strdup_printf ("%s/media/upload%s%s", natter_test_server_get_url (server),
                                          name != NULL ? "?name=" : "", name != NULL ? name : "");
  Response r = { 0 };
  char *media_url = NULL;

  request ("POST", url, token, content_type, data, NULL, &r);
  g_assert_cmpuint (r.status, ==, expected_status);
  if (expected_status == 200)
    media_url = g_strdup (json_object_get_string_member (r.json, "url"));
  else if (expected_status == 507)
    g_assert_cmpint (json_object_get_int_member (r.json, "code"), ==, 30017);
  response_clear (&r);
  return media_url;
}

/* What a browser may do with a download: images and audio shown, the rest
 * saved, nothing sniffed, nothing run. */
static void
test_served_headers (void)
{
  static const struct {
    const char *type;
    const char *name;
    const char *disposition;
  } cases[] = {
    { "image/jpeg", "a.jpg", "inline; filename=a.jpg" },
    { "image/png", NULL, "inline" },
    { "audio/ogg", "v.ogg", "inline; filename=v.ogg" },
    { "application/pdf", "doc.pdf", "attachment; filename=doc.pdf" },
    { "text/html", "page.html", "attachment; filename=page.html" },
    { "image/svg+xml", "x.svg", "attachment; filename=x.svg" },
    { "application/octet-stream", NULL, "attachment" },
  };
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autofree char *token = natter_test_server_get_token (server, "alice");
  g_autoptr(GBytes) data = make_data (2000);
  Response r = { 0 };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *url = upload (server, token, cases[i].type, data, cases[i].name, 200);

      request ("GET", url, token, NULL, NULL, NULL, &r);
      g_assert_cmpuint (r.status, ==, 200);
      g_assert_cmpstr (r.content_type, ==, cases[i].type);
      g_assert_cmpstr (r.nosniff, ==, "nosniff");
      g_assert_cmpstr (r.csp, ==, "sandbox");
      g_assert_cmpstr (r.disposition, ==, cases[i].disposition);
      request ("GET", url, token, NULL, NULL, "bytes=0-9", &r);
      g_assert_cmpuint (r.status, ==, 206);
      g_assert_cmpstr (r.nosniff, ==, "nosniff");
      g_assert_cmpstr (r.csp, ==, "sandbox");
    }
  response_clear (&r);
}

/* An upload's id is random: the same bytes from two users (or twice from
 * one) are two ids, and none is the content's hash, so knowing a file does
 * not find someone else's copy of it. */
static void
test_ids_not_from_content (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autofree char *alice = natter_test_server_get_token (server, "alice");
  g_autofree char *bob = natter_test_server_get_token (server, "bob");
  g_autoptr(GBytes) data = make_data (5000);
  g_autofree char *sha256 = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, data);
  g_autofree char *sha1 = g_compute_checksum_for_bytes (G_CHECKSUM_SHA1, data);
  g_autofree char *md5 = g_compute_checksum_for_bytes (G_CHECKSUM_MD5, data);
  g_autofree char *by_alice = upload (server, alice, "image/jpeg", data, NULL, 200);
  g_autofree char *by_bob = upload (server, bob, "image/jpeg", data, NULL, 200);
  g_autofree char *again = upload (server, alice, "image/jpeg", data, NULL, 200);
  const char *id_alice = strrchr (by_alice, '/') + 1;
  const char *id_bob = strrchr (by_bob, '/') + 1;
  g_autofree char *guessed = g_strdup_printf ("%.*s%s", (int) (id_alice - by_alice), by_alice, sha256);
  Response r = { 0 };

  g_assert_cmpstr (id_alice, !=, id_bob);
  g_assert_cmpstr (by_alice, !=, again);
  g_assert_cmpuint (strlen (id_alice), ==, 32);
  for (const char *id = id_alice; id != NULL; id = id == id_alice ? id_bob : NULL)
    {
      g_assert_null (strstr (sha256, id));
      g_assert_null (strstr (sha1, id));
      g_assert_null (strstr (md5, id));
    }

  /* Bob knows the bytes: the content's hash finds nothing. */
  request ("GET", guessed, bob, NULL, NULL, NULL, &r);
  g_assert_cmpuint (r.status, ==, 404);
  /* Each real id serves the bytes. */
  request ("GET", by_alice, bob, NULL, NULL, NULL, &r);
  g_assert_cmpuint (r.status, ==, 200);
  g_assert_true (g_bytes_equal (r.body, data));
  response_clear (&r);
}

/* A chunked upload: no Content-Length, so the quota is seen mid-stream. */
static guint
upload_chunked (NatterTestServer *server,
                const char       *token,
                GBytes           *data,
                int              *code)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autofree char *url = g_strdup_printf ("%s/media/upload", natter_test_server_get_url (server));
  g_autoptr(SoupMessage) message = soup_message_new ("POST", url);
  g_autoptr(GInputStream) stream = g_memory_input_stream_new_from_bytes (data);
  g_autofree char *auth = g_strconcat ("Bearer ", token, NULL);
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  soup_message_headers_append (soup_message_get_request_headers (message), "Authorization", auth);
  soup_message_set_request_body (message, "application/octet-stream", stream, -1);
  reply = soup_session_send_and_read (session, message, NULL, &error);
  g_assert_no_error (error);
  json_parser_load_from_data (parser, g_bytes_get_data (reply, NULL), (gssize) g_bytes_get_size (reply), &error);
  g_assert_no_error (error);
  *code = (int) json_object_get_int_member (json_node_get_object (json_parser_get_root (parser)), "code");
  return soup_message_get_status (message);
}

static guint
count_files (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  guint n = 0;

  while (dir != NULL && g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

static void
test_quotas (void)
{
  g_autoptr(NatterTestServer) server =
    natter_test_server_new_full ("[media]\nuser-quota=10000\napp-quota=20000\n", NULL);
  g_autofree char *alice = natter_test_server_get_token (server, "alice");
  g_autofree char *bob = natter_test_server_get_token (server, "bob");
  g_autofree char *carol = natter_test_server_get_token (server, "carol");
  g_autofree char *dave = natter_test_server_get_token (server, "dave");
  g_autofree char *tmp = g_build_filename (natter_test_server_get_data_dir (server), "media", "tmp", NULL);
  g_autoptr(GBytes) b6000 = make_data (6000);
  g_autoptr(GBytes) b5000 = make_data (5000);
  g_autoptr(GBytes) b4000 = make_data (4000);
  g_autoptr(GBytes) b3000 = make_data (3000);
  g_autoptr(GBytes) b2000 = make_data (2000);
  g_autofree char *kept = NULL;
  int code = 0;

  /* Per user: 6000 + 5000 > 10000, with or without a Content-Length. */
  g_free (upload (server, alice, "image/jpeg", b6000, NULL, 200));
  g_assert_null (upload (server, alice, "image/jpeg", b5000, NULL, 507));
  g_assert_cmpuint (upload_chunked (server, alice, b5000, &code), ==, 507);
  g_assert_cmpint (code, ==, 30017);
  kept = upload (server, alice, "image/jpeg", b4000, NULL, 200);

  /* Per app: 10000 + 6000 + 3000 + 2000 > 20000. */
  g_free (upload (server, bob, "image/jpeg", b6000, NULL, 200));
  g_free (upload (server, carol, "image/jpeg", b3000, NULL, 200));
  g_assert_null (upload (server, dave, "image/jpeg", b2000, NULL, 507));
  g_assert_cmpuint (upload_chunked (server, dave, b2000, &code), ==, 507);
  {
    g_autoptr(GBytes) b1000 = make_data (1000);

    g_free (upload (server, dave, "image/jpeg", b1000, NULL, 200));
  }

  /* What was refused left nothing behind. */
  g_assert_cmpuint (count_files (tmp), ==, 0);

  /* After a restart the usage is read back from the store. */
  natter_test_server_stop (server);
  natter_test_server_restart (server);
  g_assert_null (upload (server, alice, "image/jpeg", b2000, NULL, 507));
  g_assert_null (upload (server, dave, "image/jpeg", b2000, NULL, 507));
  /* Downloads are not bounded by it. */
  {
    Response r = { 0 };

    request ("GET", kept, alice, NULL, NULL, NULL, &r);
    g_assert_cmpuint (r.status, ==, 200);
    g_assert_true (g_bytes_equal (r.body, b4000));
    response_clear (&r);
  }
}

/* Larger than what an upload may have waiting for the disk (1 MiB) and
 * than a download piece (256 KiB): written and read back in many pieces,
 * in order. */
static void
test_large (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autofree char *token = natter_test_server_get_token (server, "alice");
  g_autoptr(GBytes) data = make_data (12 * 1024 * 1024 + 123);
  g_autofree char *url = upload (server, token, "video/mp4", data, "clip.mp4", 200);
  Response r = { 0 };
  int code = 0;

  request ("GET", url, token, NULL, NULL, NULL, &r);
  g_assert_cmpuint (r.status, ==, 200);
  g_assert_true (g_bytes_equal (r.body, data));
  g_assert_cmpstr (r.disposition, ==, "attachment; filename=clip.mp4");

  request ("GET", url, token, NULL, NULL, "bytes=262000-1000000", &r);
  g_assert_cmpuint (r.status, ==, 206);
  g_assert_cmpuint (g_bytes_get_size (r.body), ==, 1000000 - 262000 + 1);
  g_assert_cmpint (memcmp (g_bytes_get_data (r.body, NULL), (const guint8 *) g_bytes_get_data (data, NULL) + 262000,
                           1000000 - 262000 + 1), ==, 0);

  /* Chunked, without a Content-Length. */
  g_assert_cmpuint (upload_chunked (server, token, data, &code), ==, 200);
  g_assert_cmpint (code, ==, 200);
  response_clear (&r);
}

static gboolean
tmp_empty (gpointer data)
{
  return count_files (data) == 0;
}

/* A client that goes away in the middle of its upload (or its download)
 * leaves no file behind, and natterd goes on serving. */
static void
test_client_gone (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autofree char *token = natter_test_server_get_token (server, "alice");
  g_autofree char *tmp = g_build_filename (natter_test_server_get_data_dir (server), "media", "tmp", NULL);
  g_autoptr(GBytes) data = make_data (3 * 1024 * 1024);
  g_autofree char *url = upload (server, token, "application/zip", data, NULL, 200);
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GError) error = NULL;
  Response r = { 0 };

  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(GSocketConnection) connection =
        g_socket_client_connect_to_host (client, "127.0.0.1", natter_test_server_get_port (server), NULL, &error);
      GOutputStream *out;
      g_autofree char *head = NULL;

      g_assert_no_error (error);
      out = g_io_stream_get_output_stream (G_IO_STREAM (connection));
      if (i == 0)
        head = g_strdup_printf ("POST /media/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                                "Content-Type: application/zip\r\nContent-Length: 3000000\r\n\r\n", token);
      else
        head = g_strdup_printf ("GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n",
                                strstr (url + strlen ("http://"), "/"), token);
      g_output_stream_write_all (out, head, strlen (head), NULL, NULL, &error);
      g_assert_no_error (error);
      if (i == 0)
        g_output_stream_write_all (out, g_bytes_get_data (data, NULL), 1500000, NULL, NULL, &error);
      else
        g_usleep (100 * 1000);  /* the first pieces are on their way */
      g_assert_no_error (error);
      g_io_stream_close (G_IO_STREAM (connection), NULL, &error);
      g_assert_no_error (error);
    }

  g_assert_true (natter_test_wait (tmp_empty, tmp, NATTER_TEST_TIMEOUT_MS));
  request ("GET", url, token, NULL, NULL, NULL, &r);
  g_assert_cmpuint (r.status, ==, 200);
  g_assert_true (g_bytes_equal (r.body, data));
  response_clear (&r);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/server/media/upload-download", test_upload_download);
  g_test_add_func ("/server/media/hostile-ranges", test_hostile_ranges);
  g_test_add_func ("/server/media/app-scope", test_app_scope);
  g_test_add_func ("/server/media/size-limit", test_size_limit);
  g_test_add_func ("/server/media/served-headers", test_served_headers);
  g_test_add_func ("/server/media/ids-not-from-content", test_ids_not_from_content);
  g_test_add_func ("/server/media/quotas", test_quotas);
  g_test_add_func ("/server/media/large", test_large);
  g_test_add_func ("/server/media/client-gone", test_client_gone);

  return g_test_run ();
}
