/* natter-test-server.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-test-server.h"

#include "natter-test-pg.h"

#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

struct _NatterTestServer
{
  char *data_dir;
  char *config_path;
  char *config_text;
  gboolean shared_store;          /* [store] backend=postgresql: --create-app needs --config */
  char *url;
  char *app_key;
  char *app_secret;
  guint16 port;
  GSubprocess *process;
  GThread *drain_thread;
  SoupSession *session;
  guint nonce;
  int exit_status;                /* of the last process, once it ended */
};

const char *
natter_test_program (const char *env_name)
{
  const char *path = g_getenv (env_name);

  if (path == NULL || *path == '\0')
    g_error ("%s is not set: run the tests through meson test", env_name);
  return path;
}

/* natterd must die with the test, even when the test crashes. */
static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static GSubprocessLauncher *
make_launcher (GSubprocessFlags flags)
{
  GSubprocessLauncher *launcher = g_subprocess_launcher_new (flags);

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  return launcher;
}

static void
create_app (NatterTestServer   *self,
            const char * const *extra_args)
{
  g_autoptr(GSubprocessLauncher) launcher = make_launcher (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *out = NULL;
  JsonObject *object;

  g_ptr_array_add (argv, (char *) natter_test_program ("NATTERD"));
  g_ptr_array_add (argv, (char *) "--data-dir");
  g_ptr_array_add (argv, self->data_dir);
  if (self->shared_store)
    {
      g_ptr_array_add (argv, (char *) "--config");
      g_ptr_array_add (argv, self->config_path);
    }
  g_ptr_array_add (argv, (char *) "--create-app");
  g_ptr_array_add (argv, (char *) "test");
  for (guint i = 0; extra_args != NULL && extra_args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) extra_args[i]);
  g_ptr_array_add (argv, NULL);

  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_successful (process));

  json_parser_load_from_data (parser, out, -1, &error);
  g_assert_no_error (error);
  object = json_node_get_object (json_parser_get_root (parser));
  self->app_key = g_strdup (json_object_get_string_member (object, "appKey"));
  self->app_secret = g_strdup (json_object_get_string_member (object, "appSecret"));
  g_assert_nonnull (self->app_key);
  g_assert_nonnull (self->app_secret);
}

/* Keeps natterd from blocking on a full stdout pipe after the first line. */
static gpointer
drain_stdout (gpointer data)
{
  g_autoptr(GInputStream) stream = data;
  char buffer[4096];

  while (g_input_stream_read (stream, buffer, sizeof buffer, NULL, NULL) > 0)
    ;
  return NULL;
}

static void
start (NatterTestServer *self)
{
  g_autoptr(GSubprocessLauncher) launcher = make_launcher (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GDataInputStream) lines = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  g_autoptr(GUri) uri = NULL;

  g_assert_null (self->process);

  g_ptr_array_add (argv, g_strdup (natter_test_program ("NATTERD")));
  g_ptr_array_add (argv, g_strdup ("--data-dir"));
  g_ptr_array_add (argv, g_strdup (self->data_dir));
  g_ptr_array_add (argv, g_strdup ("--listen"));
  g_ptr_array_add (argv, g_strdup_printf ("127.0.0.1:%u", self->port));
  if (self->config_path != NULL)
    {
      g_ptr_array_add (argv, g_strdup ("--config"));
      g_ptr_array_add (argv, g_strdup (self->config_path));
    }
  g_ptr_array_add (argv, NULL);
  /* A test that reads natterd's log sets NATTER_TEST_SERVER_LOG: stderr,
   * debug messages included, goes to natterd.log in the data dir. */
  if (g_getenv ("NATTER_TEST_SERVER_LOG") != NULL)
    {
      g_autofree char *log_path = g_build_filename (self->data_dir, "natterd.log", NULL);

      g_subprocess_launcher_set_stderr_file_path (launcher, log_path);
      g_subprocess_launcher_setenv (launcher, "G_MESSAGES_DEBUG", "all", TRUE);
    }

  self->process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);

  lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (self->process));
  line = g_data_input_stream_read_line_utf8 (lines, NULL, NULL, &error);
  g_assert_no_error (error);
  if (line == NULL || !g_str_has_prefix (line, "listening on "))
    g_error ("natterd did not start: first line was %s", line ? line : "(none)");

  g_clear_pointer (&self->url, g_free);
  self->url = g_strdup (line + strlen ("listening on "));
  uri = g_uri_parse (self->url, G_URI_FLAGS_NONE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_uri_get_host (uri), ==, "127.0.0.1");
  self->port = (guint16) g_uri_get_port (uri);
  g_assert_cmpuint (self->port, >, 0);

  self->drain_thread = g_thread_new ("natterd-stdout", drain_stdout,
                                     g_object_ref (G_INPUT_STREAM (lines)));
}

/* A self-signed certificate for 127.0.0.1 (EC: made at once, unlike RSA);
 * returns the config lines that use it. */
static char *
make_certificate (const char *dir)
{
  g_autofree char *cert = g_build_filename (dir, "cert.pem", NULL);
  g_autofree char *key = g_build_filename (dir, "key.pem", NULL);
  g_autoptr(GSubprocessLauncher) launcher = make_launcher (G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                                           G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_autoptr(GSubprocess) openssl = NULL;
  g_autoptr(GError) error = NULL;

  openssl = g_subprocess_launcher_spawn (launcher, &error, "openssl", "req", "-x509",
                                         "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                         "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                                         "-keyout", key, "-out", cert, NULL);
  g_assert_no_error (error);
  g_subprocess_wait_check (openssl, NULL, &error);
  g_assert_no_error (error);
  return g_strdup_printf ("\n[server]\ntls-cert=%s\ntls-key=%s\n", cert, key);
}

/* NATTER_TEST_STORE=postgresql: every server of the test process gets a
 * database of its own in one private PostgreSQL (started on first use,
 * stopped at exit), so the server tests run unchanged on that backend. */
static NatterTestPg *shared_pg;

static void
stop_shared_pg (void)
{
  g_clear_pointer (&shared_pg, natter_test_pg_free);
}

static char *
store_config (void)
{
  static guint databases;
  g_autofree char *name = NULL;
  g_autofree char *conninfo = NULL;

  if (g_strcmp0 (g_getenv ("NATTER_TEST_STORE"), "postgresql") != 0)
    return NULL;
  if (shared_pg == NULL)
    {
      shared_pg = natter_test_pg_start ();
      atexit (stop_shared_pg);
    }
  name = g_strdup_printf ("natter_%u", ++databases);
  conninfo = natter_test_pg_create_database (shared_pg, name);
  return g_strdup_printf ("\n[store]\nbackend=postgresql\npostgresql=%s\n", conninfo);
}

static void
write_config (NatterTestServer *self,
              const char       *text)
{
  g_autoptr(GError) error = NULL;

  if (*text == '\0')
    return;
  self->config_text = g_strdup (text);
  self->config_path = g_build_filename (self->data_dir, "test.conf", NULL);
  g_file_set_contents (self->config_path, text, -1, &error);
  g_assert_no_error (error);
  self->shared_store = strstr (text, "backend=postgresql") != NULL;
}

/* Where this natterd's data is, in the test's log: natter_test_server_free()
 * removes it when the case ends; a failed case never gets there and
 * leaves it for a look. */
static void
make_data_dir (NatterTestServer *self)
{
  g_autoptr(GError) error = NULL;

  self->data_dir = g_dir_make_tmp ("natterd-test-XXXXXX", &error);
  g_assert_no_error (error);
  if (g_test_initialized ())
    g_test_message ("natterd data dir: %s (kept if this case fails)", self->data_dir);
}

static NatterTestServer *
server_new (const char         *config,
            const char * const *create_app_args,
            gboolean            tls)
{
  NatterTestServer *self = g_new0 (NatterTestServer, 1);
  g_autofree char *tls_config = NULL;
  g_autofree char *store = NULL;
  g_autofree char *text = NULL;

  make_data_dir (self);

  /* Groups named twice in a key file are merged. */
  if (tls)
    tls_config = make_certificate (self->data_dir);
  if (config == NULL || strstr (config, "backend=") == NULL)
    store = store_config ();
  text = g_strconcat (config != NULL ? config : "", tls_config != NULL ? tls_config : "", store, NULL);
  write_config (self, text);

  self->session = soup_session_new ();
  create_app (self, create_app_args);
  start (self);

  return self;
}

NatterTestServer *
natter_test_server_new_node (NatterTestServer *first,
                             const char       *config)
{
  NatterTestServer *self = g_new0 (NatterTestServer, 1);
  g_autofree char *text = NULL;

  make_data_dir (self);
  text = g_strconcat (first->config_text != NULL ? first->config_text : "", config, NULL);
  write_config (self, text);
  self->app_key = g_strdup (first->app_key);
  self->app_secret = g_strdup (first->app_secret);
  self->session = soup_session_new ();
  start (self);
  return self;
}

const char *
natter_test_server_get_config_path (NatterTestServer *self)
{
  return self->config_path;
}

NatterTestServer *
natter_test_server_new_full (const char         *config,
                             const char * const *create_app_args)
{
  return server_new (config, create_app_args, FALSE);
}

NatterTestServer *
natter_test_server_new_tls (const char         *config,
                            const char * const *create_app_args)
{
  NatterTestServer *self = server_new (config, create_app_args, TRUE);

  g_assert_true (g_str_has_prefix (self->url, "https://"));
  return self;
}

NatterTestServer *
natter_test_server_new (void)
{
  return natter_test_server_new_full (NULL, NULL);
}

const char *
natter_test_server_get_url (NatterTestServer *self)
{
  return self->url;
}

guint16
natter_test_server_get_port (NatterTestServer *self)
{
  return self->port;
}

const char *
natter_test_server_get_data_dir (NatterTestServer *self)
{
  return self->data_dir;
}

const char *
natter_test_server_get_app_key (NatterTestServer *self)
{
  return self->app_key;
}

const char *
natter_test_server_get_app_secret (NatterTestServer *self)
{
  return self->app_secret;
}

GPid
natter_test_server_get_pid (NatterTestServer *self)
{
  const char *id;

  g_assert_nonnull (self->process);
  id = g_subprocess_get_identifier (self->process);
  g_assert_nonnull (id);
  return (GPid) g_ascii_strtoll (id, NULL, 10);
}

char *
natter_test_api_signature (const char *secret,
                           const char *nonce,
                           const char *timestamp)
{
  g_autofree char *input = g_strconcat (secret, nonce, timestamp, NULL);

  return g_compute_checksum_for_string (G_CHECKSUM_SHA1, input, -1);
}

/* The natterd under test may serve https with a self-signed certificate
 * (tests of --tls-cert): it is our own process on loopback. */
static gboolean
accept_test_certificate (SoupMessage          *message,
                         GTlsCertificate      *certificate,
                         GTlsCertificateFlags  errors,
                         gpointer              user_data)
{
  return TRUE;
}

JsonObject *
natter_test_server_api (NatterTestServer *self,
                        guint            *http_status,
                        const char       *path,
                        ...)
{
  g_autoptr(GString) body = g_string_new (NULL);
  g_autoptr(SoupMessage) message = NULL;
  g_autoptr(GBytes) request_body = NULL;
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  g_autofree char *nonce = NULL;
  g_autofree char *timestamp = NULL;
  g_autofree char *signature = NULL;
  SoupMessageHeaders *headers;
  JsonNode *root;
  const char *name;
  va_list args;

  va_start (args, path);
  while ((name = va_arg (args, const char *)) != NULL)
    {
      const char *value = va_arg (args, const char *);
      g_autofree char *escaped_name = g_uri_escape_string (name, NULL, TRUE);
      g_autofree char *escaped_value = g_uri_escape_string (value, NULL, TRUE);

      g_string_append_printf (body, "%s%s=%s", body->len ? "&" : "", escaped_name, escaped_value);
    }
  va_end (args);

  url = g_strdup_printf ("%s/%s.json", self->url, path);
  message = soup_message_new ("POST", url);
  g_signal_connect (message, "accept-certificate", G_CALLBACK (accept_test_certificate), NULL);
  /* Unique across the nodes of a test too (they share their nonces). */
  nonce = g_strdup_printf ("%u-%p-%u", (guint) getpid (), (void *) self, ++self->nonce);
  timestamp = g_strdup_printf ("%" G_GINT64_FORMAT, g_get_real_time () / G_USEC_PER_SEC);
  signature = natter_test_api_signature (self->app_secret, nonce, timestamp);

  headers = soup_message_get_request_headers (message);
  soup_message_headers_append (headers, "App-Key", self->app_key);
  soup_message_headers_append (headers, "Nonce", nonce);
  soup_message_headers_append (headers, "Timestamp", timestamp);
  soup_message_headers_append (headers, "Signature", signature);

  request_body = g_string_free_to_bytes (g_steal_pointer (&body));
  soup_message_set_request_body_from_bytes (message, "application/x-www-form-urlencoded", request_body);

  reply = soup_session_send_and_read (self->session, message, NULL, &error);
  g_assert_no_error (error);
  if (http_status != NULL)
    *http_status = soup_message_get_status (message);

  json_parser_load_from_data (parser, g_bytes_get_data (reply, NULL), (gssize) g_bytes_get_size (reply), &error);
  g_assert_no_error (error);
  root = json_parser_get_root (parser);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));

  return json_object_ref (json_node_get_object (root));
}

char *
natter_test_server_get_token (NatterTestServer *self,
                              const char       *user_id)
{
  g_autoptr(JsonObject) reply = NULL;

  reply = natter_test_server_api (self, NULL, "user/getToken",
                                  "userId", user_id,
                                  "name", user_id,
                                  NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_assert_cmpstr (json_object_get_string_member (reply, "userId"), ==, user_id);

  return g_strdup (json_object_get_string_member (reply, "token"));
}

static void
wait_stopped (NatterTestServer *self)
{
  g_autoptr(GError) error = NULL;

  g_subprocess_wait (self->process, NULL, &error);
  g_assert_no_error (error);
  self->exit_status = g_subprocess_get_status (self->process);
  g_clear_pointer (&self->drain_thread, g_thread_join);
  g_clear_object (&self->process);
}

void
natter_test_server_stop (NatterTestServer *self)
{
  g_assert_nonnull (self->process);
  g_subprocess_send_signal (self->process, SIGTERM);
  wait_stopped (self);
}

void
natter_test_server_kill (NatterTestServer *self)
{
  g_assert_nonnull (self->process);
  g_subprocess_force_exit (self->process);
  wait_stopped (self);
}

int
natter_test_server_get_exit_status (NatterTestServer *self)
{
  return self->exit_status;
}

void
natter_test_server_restart (NatterTestServer *self)
{
  start (self);
}

static void
remove_tree (GFile *dir)
{
  g_autoptr(GFileEnumerator) children = NULL;
  GFileInfo *info;

  children = g_file_enumerate_children (dir, G_FILE_ATTRIBUTE_STANDARD_NAME "," G_FILE_ATTRIBUTE_STANDARD_TYPE,
                                        G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);
  while (children != NULL &&
         g_file_enumerator_iterate (children, &info, NULL, NULL, NULL) && info != NULL)
    {
      g_autoptr(GFile) child = g_file_get_child (dir, g_file_info_get_name (info));

      if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
        remove_tree (child);
      else
        g_file_delete (child, NULL, NULL);
    }
  g_file_delete (dir, NULL, NULL);
}

void
natter_test_remove_tree (const char *path)
{
  g_autoptr(GFile) dir = g_file_new_for_path (path);

  remove_tree (dir);
}

void
natter_test_server_free (NatterTestServer *self)
{
  g_autoptr(GFile) dir = NULL;

  if (self == NULL)
    return;

  if (self->process != NULL)
    natter_test_server_stop (self);

  dir = g_file_new_for_path (self->data_dir);
  if (g_getenv ("NATTER_TEST_KEEP_DATA") == NULL)
    remove_tree (dir);

  g_clear_object (&self->session);
  g_free (self->data_dir);
  g_free (self->config_path);
  g_free (self->config_text);
  g_free (self->url);
  g_free (self->app_key);
  g_free (self->app_secret);
  g_free (self);
}

guint64
natter_test_server_get_metric (NatterTestServer *self,
                               const char       *name)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autofree char *url = g_strdup_printf ("%s/metrics", natter_test_server_get_url (self));
  g_autoptr(SoupMessage) message = soup_message_new ("GET", url);
  g_autoptr(GBytes) body = NULL;
  g_autofree char *text = NULL;
  g_autofree char *prefix = g_strdup_printf ("\n%s ", name);
  const char *at;

  g_signal_connect (message, "accept-certificate", G_CALLBACK (accept_test_certificate), NULL);
  body = soup_session_send_and_read (session, message, NULL, NULL);
  g_assert_nonnull (body);
  text = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  at = strstr (text, prefix);
  g_assert_nonnull (at);
  return g_ascii_strtoull (at + strlen (prefix), NULL, 10);
}

guint
natter_test_server_healthz (NatterTestServer  *self,
                            char             **body)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autofree char *url = g_strdup_printf ("%s/healthz", natter_test_server_get_url (self));
  g_autoptr(SoupMessage) message = soup_message_new ("GET", url);
  g_autoptr(GBytes) reply = NULL;

  g_signal_connect (message, "accept-certificate", G_CALLBACK (accept_test_certificate), NULL);
  reply = soup_session_send_and_read (session, message, NULL, NULL);
  g_assert_nonnull (reply);
  *body = g_strndup (g_bytes_get_data (reply, NULL), g_bytes_get_size (reply));
  return soup_message_get_status (message);
}

/* /proc/PID/status, in bytes. */
static guint64
status_bytes (NatterTestServer *self,
              const char       *field)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", (int) natter_test_server_get_pid (self));
  g_autofree char *text = NULL;
  g_autofree char *prefix = g_strdup_printf ("\n%s:", field);
  const char *at;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  at = strstr (text, prefix);
  g_assert_nonnull (at);
  return g_ascii_strtoull (at + strlen (prefix), NULL, 10) * 1024;
}

guint64
natter_test_server_get_rss (NatterTestServer *self)
{
  return status_bytes (self, "VmRSS");
}

guint64
natter_test_server_get_peak_rss (NatterTestServer *self)
{
  return status_bytes (self, "VmHWM");
}

void
natter_test_server_reset_peak_rss (NatterTestServer *self)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/clear_refs", (int) natter_test_server_get_pid (self));
  g_autoptr(GError) error = NULL;

  /* "5" resets the peak to the current RSS (proc(5)). */
  g_file_set_contents_full (path, "5", 1, G_FILE_SET_CONTENTS_NONE, 0, &error);
  g_assert_no_error (error);
}

static int copies;

NatterTestServer *
natter_test_server_new_copy (NatterTestServer *from,
                             const char       *config)
{
  NatterTestServer *self = g_new0 (NatterTestServer, 1);
  g_autoptr(GSubprocessLauncher) launcher = make_launcher (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GSubprocess) cp = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *source = g_build_filename (from->data_dir, ".", NULL);

  g_assert_null (from->process);

  make_data_dir (self);
  cp = g_subprocess_launcher_spawn (launcher, &error, "cp", "-a", source, self->data_dir, NULL);
  g_assert_no_error (error);
  g_subprocess_wait_check (cp, NULL, &error);
  g_assert_no_error (error);
  /* The copy's config is its own (or none). */
  if (from->config_path != NULL)
    {
      g_autofree char *copied = g_build_filename (self->data_dir, "test.conf", NULL);

      g_remove (copied);
    }
  if (config != NULL)
    {
      self->config_path = g_build_filename (self->data_dir, "test.conf", NULL);
      g_file_set_contents (self->config_path, config, -1, &error);
      g_assert_no_error (error);
    }

  self->app_key = g_strdup (from->app_key);
  self->app_secret = g_strdup (from->app_secret);
  /* The copy knows @from's nonces: each copy counts in a range of its own. */
  self->nonce = from->nonce + 1000000 * (guint) g_atomic_int_add (&copies, 1) + 1000000;
  self->session = soup_session_new ();
  start (self);
  return self;
}
