/* test-credentials.c — the user's token goes to natterd and nowhere else
 *
 * A real natterd on 127.0.0.1, configured with a public-url that points at
 * a "proxy" (a SoupServer in the test, standing for a reverse proxy in
 * front of natterd that redirects media to a CDN), and a "foreign" server
 * (anyone's: a portrait URL, an image URL in a message). Both record every
 * request. Downloads of foreign URLs reach it without Authorization,
 * App-Key, cookies or the token anywhere; natterd's own origin still gets
 * them; a redirect from the own origin to a foreign one does not carry
 * them; downloads stop at their kind's size limit.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <string.h>

#include "natter.h"
#include "natter-client-private.h"
#include "natter-test-server.h"
#include "test-helpers.h"

/* --------------------------------------------------- a recording server */

typedef struct {
  char *path;        /* with its query */
  char *headers;     /* "Name: value\n" each */
} Request;

static void
request_free (Request *request)
{
  g_free (request->path);
  g_free (request->headers);
  g_free (request);
}

typedef struct {
  SoupServer *server;
  char *base;                /* http://127.0.0.1:PORT */
  GPtrArray *requests;
  const char *redirect_to;   /* the proxy: where /media/ goes */
  guint64 served;            /* body bytes of /endless written */
} Recorder;

static const guint8 tiny_png[] = {
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
  0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
  0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x08, 0xd7, 0x63, 0xf8, 0xcf, 0xc0, 0x00,
  0x00, 0x03, 0x01, 0x01, 0x00, 0x18, 0xdd, 0x8d, 0xb0, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e,
  0x44, 0xae, 0x42, 0x60, 0x82,
};

#define ENDLESS_CHUNK (256 * 1024)

static void
endless_wrote_chunk_cb (SoupServerMessage *msg,
                        Recorder          *recorder)
{
  static char zeros[ENDLESS_CHUNK];

  recorder->served += ENDLESS_CHUNK;
  soup_message_body_append (soup_server_message_get_response_body (msg), SOUP_MEMORY_STATIC, zeros,
                            ENDLESS_CHUNK);
}

static void
recorder_cb (SoupServer        *server,
             SoupServerMessage *msg,
             const char        *path,
             GHashTable        *query,
             gpointer           user_data)
{
  Recorder *recorder = user_data;
  Request *request = g_new0 (Request, 1);
  GUri *uri = soup_server_message_get_uri (msg);
  SoupMessageHeadersIter iter;
  const char *name, *value;
  GString *headers = g_string_new (NULL);

  request->path = g_strdup_printf ("%s%s%s", path, g_uri_get_query (uri) ? "?" : "",
                                   g_uri_get_query (uri) ? g_uri_get_query (uri) : "");
  soup_message_headers_iter_init (&iter, soup_server_message_get_request_headers (msg));
  while (soup_message_headers_iter_next (&iter, &name, &value))
    g_string_append_printf (headers, "%s: %s\n", name, value);
  request->headers = g_string_free (headers, FALSE);
  g_ptr_array_add (recorder->requests, request);

  if (recorder->redirect_to != NULL && g_str_has_prefix (path, "/media/"))
    {
      g_autofree char *location = g_strconcat (recorder->redirect_to, path, NULL);

      soup_server_message_set_redirect (msg, SOUP_STATUS_FOUND, location);
    }
  else if (g_str_equal (path, "/portrait.png"))
    soup_server_message_set_response (msg, "image/png", SOUP_MEMORY_STATIC, (const char *) tiny_png,
                                      sizeof tiny_png);
  else if (g_str_has_prefix (path, "/media/"))
    soup_server_message_set_response (msg, "application/octet-stream", SOUP_MEMORY_STATIC,
                                      "foreign bytes", 13);
  else if (g_str_equal (path, "/loop"))
    soup_server_message_set_redirect (msg, SOUP_STATUS_FOUND, "/loop");
  else if (g_str_equal (path, "/big"))
    {
      gsize size = 3 * 1024 * 1024;

      soup_server_message_set_response (msg, "image/png", SOUP_MEMORY_TAKE, g_malloc0 (size), size);
    }
  else if (g_str_equal (path, "/endless"))
    {
      /* chunked, no Content-Length, never ends: only a client that stops
       * reading gets anywhere */
      soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
      soup_message_headers_set_encoding (soup_server_message_get_response_headers (msg),
                                         SOUP_ENCODING_CHUNKED);
      g_signal_connect (msg, "wrote-chunk", G_CALLBACK (endless_wrote_chunk_cb), recorder);
      endless_wrote_chunk_cb (msg, recorder);
      return;
    }
  else
    {
      soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
      return;
    }
  if (soup_server_message_get_status (msg) == 0)
    soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
}

static Recorder *
recorder_new (void)
{
  Recorder *recorder = g_new0 (Recorder, 1);
  g_autoptr(GError) error = NULL;
  GSList *uris;

  recorder->requests = g_ptr_array_new_with_free_func ((GDestroyNotify) request_free);
  recorder->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (recorder->server, NULL, recorder_cb, recorder, NULL);
  g_assert_true (soup_server_listen_local (recorder->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  g_assert_no_error (error);
  uris = soup_server_get_uris (recorder->server);
  recorder->base = g_strdup_printf ("http://127.0.0.1:%d", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return recorder;
}

static void
recorder_free (Recorder *recorder)
{
  soup_server_disconnect (recorder->server);
  g_object_unref (recorder->server);
  g_ptr_array_unref (recorder->requests);
  g_free (recorder->base);
  g_free (recorder);
}

/* The requests for @path so far. */
static guint
recorder_count (Recorder   *recorder,
                const char *path)
{
  guint n = 0;

  for (guint i = 0; i < recorder->requests->len; i++)
    if (g_str_has_prefix (((Request *) g_ptr_array_index (recorder->requests, i))->path, path))
      n++;
  return n;
}

/* Whether one of @request's headers is called @name (any case). */
static gboolean
has_header (Request    *request,
            const char *name)
{
  g_autofree char *all = g_strconcat ("\n", request->headers, NULL);
  g_autofree char *lower = g_ascii_strdown (all, -1);
  g_autofree char *wanted = g_strdup_printf ("\n%s:", name);
  g_autofree char *lower_wanted = g_ascii_strdown (wanted, -1);

  return strstr (lower, lower_wanted) != NULL;
}

/* Every request @recorder got carries none of the user's credentials:
 * no Authorization, App-Key or Cookie header, the token nowhere (path and
 * query included), the app key in no header. Returns how many. */
static guint
assert_no_credentials (Recorder   *recorder,
                       const char *token,
                       const char *app_key)
{
  for (guint i = 0; i < recorder->requests->len; i++)
    {
      Request *request = g_ptr_array_index (recorder->requests, i);

      g_test_message ("%s %s", recorder->base, request->path);
      g_assert_false (has_header (request, "Authorization"));
      g_assert_false (has_header (request, "App-Key"));
      g_assert_false (has_header (request, "Cookie"));
      g_assert_null (strstr (request->headers, token));
      g_assert_null (strstr (request->path, token));
      /* (natterd's own media paths name the app key: not the client's doing) */
      g_assert_null (strstr (request->headers, app_key));
    }
  return recorder->requests->len;
}

/* ------------------------------------------------------------ fixture */

typedef struct {
  Recorder *foreign;
  Recorder *proxy;
  NatterTestServer *server;
  char *token;
  char *profile;
  NatterClient *client;
} Fixture;

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        remove_tree (child);
      else
        g_remove (child);
    }
  g_rmdir (path);
}

static gboolean
is_connected (gpointer data)
{
  return natter_client_get_status (data) == NATTER_CONNECTION_CONNECTED;
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autofree char *config = NULL;

  fixture->foreign = recorder_new ();
  fixture->proxy = recorder_new ();
  fixture->proxy->redirect_to = fixture->foreign->base;
  /* natterd hands out media URLs under the proxy's origin */
  config = g_strdup_printf ("[server]\npublic-url=%s\n", fixture->proxy->base);
  fixture->server = natter_test_server_new_full (config, NULL);
  fixture->token = natter_test_server_get_token (fixture->server, "alice");
  fixture->profile = g_dir_make_tmp ("natter-credentials-XXXXXX", NULL);
  fixture->client = natter_client_new (natter_test_server_get_url (fixture->server),
                                       natter_test_server_get_app_key (fixture->server),
                                       fixture->profile);
  natter_client_connect (fixture->client, fixture->token);
  test_wait_until (is_connected, fixture->client, 20, "alice connected");
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  natter_client_disconnect (fixture->client);
  g_clear_object (&fixture->client);
  test_spin (50);
  remove_tree (fixture->profile);
  g_free (fixture->profile);
  g_free (fixture->token);
  natter_test_server_free (fixture->server);
  recorder_free (fixture->proxy);
  recorder_free (fixture->foreign);
}

static GFile *
download (Fixture          *fixture,
          const char       *url,
          NatterMediaKind   kind,
          GError          **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  natter_client_download_media_async (fixture->client, url, kind, NULL, NULL, NULL,
                                      test_store_result_cb, &result);
  test_wait_result (&result, 30);
  return natter_client_download_finish (fixture->client, result, error);
}

static char *
upload_text (Fixture    *fixture,
             const char *name,
             const char *text)
{
  g_autofree char *path = g_build_filename (fixture->profile, name, NULL);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  char *url;

  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  natter_client_upload_async (fixture->client, file, "text/plain", NULL, NULL, NULL,
                              test_store_result_cb, &result);
  test_wait_result (&result, 30);
  url = natter_client_upload_finish (fixture->client, result, &error);
  g_assert_no_error (error);
  return url;
}

static char *
file_contents (GFile *file)
{
  char *contents = NULL;

  g_assert_true (g_file_get_contents (g_file_peek_path (file), &contents, NULL, NULL));
  return contents;
}

/* ------------------------------------------------------------------ tests */

/* Scheme, host and port, the default port normalised; nothing else counts. */
static void
test_own_origin (void)
{
  g_autoptr(NatterClient) plain = natter_client_new ("http://Chat.Example.COM", "key", NULL);
  g_autoptr(NatterClient) tls = natter_client_new ("https://chat.example.com:443/", "key", NULL);
  g_autoptr(NatterClient) port = natter_client_new ("http://127.0.0.1:8080", "key", NULL);

  g_assert_true (natter_client_is_own_origin (plain, "http://chat.example.com/media/k/h"));
  g_assert_true (natter_client_is_own_origin (plain, "http://chat.example.com:80/media/k/h"));
  g_assert_true (natter_client_is_own_origin (plain, "HTTP://CHAT.EXAMPLE.COM/x"));
  g_assert_false (natter_client_is_own_origin (plain, "https://chat.example.com/media/k/h"));
  g_assert_false (natter_client_is_own_origin (plain, "http://chat.example.com:8080/media/k/h"));
  g_assert_false (natter_client_is_own_origin (plain, "http://chat.example.com.evil.test/media"));
  g_assert_false (natter_client_is_own_origin (plain, "http://chat.example.com@evil.test/media"));
  g_assert_false (natter_client_is_own_origin (plain, "http://evil.test/http://chat.example.com/"));
  g_assert_false (natter_client_is_own_origin (plain, "http://evil.test/?u=http://chat.example.com"));
  g_assert_false (natter_client_is_own_origin (plain, "ftp://chat.example.com/media"));
  g_assert_false (natter_client_is_own_origin (plain, "/media/k/h"));
  g_assert_false (natter_client_is_own_origin (plain, "not a url"));
  g_assert_false (natter_client_is_own_origin (plain, NULL));

  g_assert_true (natter_client_is_own_origin (tls, "https://chat.example.com/media/k/h"));
  g_assert_false (natter_client_is_own_origin (tls, "http://chat.example.com/media/k/h"));
  g_assert_false (natter_client_is_own_origin (tls, "http://chat.example.com:443/media/k/h"));

  g_assert_true (natter_client_is_own_origin (port, "http://127.0.0.1:8080/media/k/h"));
  g_assert_false (natter_client_is_own_origin (port, "http://127.0.0.1/media/k/h"));
  g_assert_false (natter_client_is_own_origin (port, "http://127.0.0.2:8080/media/k/h"));
  g_assert_false (natter_client_is_own_origin (port, "http://localhost:8080/media/k/h"));
}

/* Which sign-ins cross the network in the clear. */
static void
test_unencrypted_remote (void)
{
  g_assert_true (natter_url_is_unencrypted_remote ("http://chat.example.com"));
  g_assert_true (natter_url_is_unencrypted_remote ("http://192.0.2.7:8080/"));
  g_assert_true (natter_url_is_unencrypted_remote ("HTTP://chat.example.com"));
  g_assert_true (natter_url_is_unencrypted_remote ("ws://chat.example.com/ws"));
  g_assert_true (natter_url_is_unencrypted_remote ("http://0.0.0.0:1"));
  g_assert_true (natter_url_is_unencrypted_remote ("http://localhost.example.com"));
  g_assert_true (natter_url_is_unencrypted_remote ("http://128.0.0.1"));
  g_assert_false (natter_url_is_unencrypted_remote ("https://chat.example.com"));
  g_assert_false (natter_url_is_unencrypted_remote ("wss://chat.example.com/ws"));
  g_assert_false (natter_url_is_unencrypted_remote ("http://127.0.0.1:8080"));
  g_assert_false (natter_url_is_unencrypted_remote ("http://127.1.2.3"));
  g_assert_false (natter_url_is_unencrypted_remote ("http://[::1]:8080/"));
  g_assert_false (natter_url_is_unencrypted_remote ("http://localhost:8080"));
  g_assert_false (natter_url_is_unencrypted_remote ("http://LocalHost"));
  g_assert_false (natter_url_is_unencrypted_remote ("not a url"));
}

/* A portrait or image URL on another host: fetched, without anything of
 * the user's, cookies included. */
static void
test_foreign_download (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autofree char *url = g_strdup_printf ("%s/portrait.png?user=bob", fixture->foreign->base);
  g_autoptr(SoupCookieJar) jar = soup_cookie_jar_new ();
  g_autoptr(GUri) foreign_uri = g_uri_parse (fixture->foreign->base, G_URI_FLAGS_NONE, NULL);
  const NatterMediaKind kinds[] = { NATTER_MEDIA_KIND_PORTRAIT, NATTER_MEDIA_KIND_IMAGE,
                                    NATTER_MEDIA_KIND_VOICE, NATTER_MEDIA_KIND_FILE };

  /* a cookie the session would send there if it could */
  soup_session_add_feature (natter_client_get_session (fixture->client), SOUP_SESSION_FEATURE (jar));
  soup_cookie_jar_set_cookie (jar, foreign_uri, "session=secret-cookie");

  g_assert_false (natter_client_is_own_origin (fixture->client, url));
  for (guint i = 0; i < G_N_ELEMENTS (kinds); i++)
    {
      g_autofree char *kind_url = g_strdup_printf ("%s&kind=%u", url, i);
      g_autoptr(GError) error = NULL;
      g_autoptr(GFile) file = download (fixture, kind_url, kinds[i], &error);

      g_assert_no_error (error);
      g_assert_nonnull (file);
    }
  g_assert_cmpuint (recorder_count (fixture->foreign, "/portrait.png"), ==, G_N_ELEMENTS (kinds));
  assert_no_credentials (fixture->foreign, fixture->token, natter_test_server_get_app_key (fixture->server));
  for (guint i = 0; i < fixture->foreign->requests->len; i++)
    g_assert_null (strstr (((Request *) g_ptr_array_index (fixture->foreign->requests, i))->headers,
                           "secret-cookie"));
}

/* natterd's own media: with the token (natterd refuses it without), from
 * the server URL's origin and from the public-url natterd named. */
static void
test_own_download (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autofree char *url = upload_text (fixture, "notes.txt", "natterd's own bytes");
  g_autoptr(GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  g_autofree char *direct = NULL;
  g_autoptr(GFile) file = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;

  /* the URL natterd handed out is under its public-url (the proxy) */
  g_assert_true (g_str_has_prefix (url, fixture->proxy->base));
  g_assert_true (natter_client_is_own_origin (fixture->client, url));

  /* straight from natterd: it answers only with the token */
  direct = g_strconcat (natter_test_server_get_url (fixture->server), g_uri_get_path (uri), NULL);
  file = download (fixture, direct, NATTER_MEDIA_KIND_FILE, &error);
  g_assert_no_error (error);
  contents = file_contents (file);
  g_assert_cmpstr (contents, ==, "natterd's own bytes");
}

/* The own origin redirects to a foreign one (a proxy sending media to a
 * CDN): the proxy gets the credentials, the CDN does not. libsoup would
 * have carried them along. */
static void
test_redirect_to_foreign (Fixture       *fixture,
                          gconstpointer  data)
{
  g_autofree char *url = upload_text (fixture, "slides.txt", "uploaded");
  g_autofree char *bearer = g_strdup_printf ("Authorization: Bearer %s\n", fixture->token);
  g_autofree char *app_key = g_strdup_printf ("App-Key: %s\n", natter_test_server_get_app_key (fixture->server));
  g_autoptr(GFile) file = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  Request *own;

  file = download (fixture, url, NATTER_MEDIA_KIND_IMAGE, &error);
  g_assert_no_error (error);
  contents = file_contents (file);
  g_assert_cmpstr (contents, ==, "foreign bytes");

  /* the own origin had them, in headers, not in the URL */
  g_assert_cmpuint (fixture->proxy->requests->len, ==, 1);
  own = g_ptr_array_index (fixture->proxy->requests, 0);
  g_assert_nonnull (strstr (own->headers, bearer));
  g_assert_nonnull (strstr (own->headers, app_key));
  g_assert_null (strstr (own->path, fixture->token));

  /* the redirect target did not */
  g_assert_cmpuint (recorder_count (fixture->foreign, "/media/"), ==, 1);
  assert_no_credentials (fixture->foreign, fixture->token, natter_test_server_get_app_key (fixture->server));
}

static void
test_redirect_loop (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autofree char *url = g_strdup_printf ("%s/loop", fixture->foreign->base);
  g_autoptr(GError) error = NULL;
  g_autoptr(GFile) file = download (fixture, url, NATTER_MEDIA_KIND_FILE, &error);

  g_assert_null (file);
  g_assert_error (error, NATTER_CLIENT_ERROR, NATTER_CODE_SERVER_ERROR);
  g_assert_cmpuint (recorder_count (fixture->foreign, "/loop"), ==, 6);
}

static gboolean
media_dir_has_files (const char *profile)
{
  g_autofree char *dir_path = g_build_filename (profile, "media", NULL);
  g_autoptr(GDir) dir = g_dir_open (dir_path, 0, NULL);

  return dir != NULL && g_dir_read_name (dir) != NULL;
}

/* Each kind has its limit: a Content-Length over it is refused at once, a
 * body without one is cut where it passes it, and nothing stays behind. */
static void
test_size_limits (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autofree char *big = g_strdup_printf ("%s/big", fixture->foreign->base);
  g_autofree char *endless = g_strdup_printf ("%s/endless", fixture->foreign->base);
  g_autoptr(GError) error = NULL;
  g_autoptr(GFile) file = NULL;
  guint64 served;

  g_assert_cmpint (natter_media_kind_max_size (NATTER_MEDIA_KIND_PORTRAIT), ==, 2 * 1024 * 1024);
  g_assert_cmpint (natter_media_kind_max_size (NATTER_MEDIA_KIND_FILE), >=,
                   natter_media_kind_max_size (NATTER_MEDIA_KIND_IMAGE));

  file = download (fixture, big, NATTER_MEDIA_KIND_PORTRAIT, &error);
  g_assert_null (file);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_clear_error (&error);
  /* as an image (40 MiB) it is fine */
  file = download (fixture, big, NATTER_MEDIA_KIND_IMAGE, &error);
  g_assert_no_error (error);
  g_clear_object (&file);

  /* once cached, asking for it as a portrait is still refused */
  file = download (fixture, big, NATTER_MEDIA_KIND_PORTRAIT, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_clear_error (&error);

  file = download (fixture, endless, NATTER_MEDIA_KIND_PORTRAIT, &error);
  g_assert_null (file);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  /* it stopped reading: what was written is the limit and what the
   * sockets hold, and no more comes */
  test_spin (500);
  served = fixture->foreign->served;
  test_spin (500);
  g_assert_cmpuint (fixture->foreign->served, ==, served);
  g_assert_cmpuint (served, <, 32 * 1024 * 1024);
  g_test_message ("served %" G_GUINT64_FORMAT " bytes of the endless body", served);

  /* no partial file left in the cache (the 3 MiB image stays) */
  {
    g_autofree char *dir_path = g_build_filename (fixture->profile, "media", NULL);
    g_autoptr(GDir) dir = g_dir_open (dir_path, 0, NULL);
    const char *name;
    guint n = 0;

    while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
      {
        g_assert_false (g_str_has_suffix (name, ".part"));
        n++;
      }
    g_assert_cmpuint (n, ==, 1);
  }
  g_assert_true (media_dir_has_files (fixture->profile));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/credentials/own-origin", test_own_origin);
  g_test_add_func ("/credentials/unencrypted-remote", test_unencrypted_remote);
  g_test_add ("/credentials/foreign-download", Fixture, NULL, fixture_set_up, test_foreign_download,
              fixture_tear_down);
  g_test_add ("/credentials/own-download", Fixture, NULL, fixture_set_up, test_own_download,
              fixture_tear_down);
  g_test_add ("/credentials/redirect-to-foreign", Fixture, NULL, fixture_set_up,
              test_redirect_to_foreign, fixture_tear_down);
  g_test_add ("/credentials/redirect-loop", Fixture, NULL, fixture_set_up, test_redirect_loop,
              fixture_tear_down);
  g_test_add ("/credentials/size-limits", Fixture, NULL, fixture_set_up, test_size_limits,
              fixture_tear_down);

  return g_test_run ();
}
