/* natter-test-admin.h — natterd's administration commands in tests
 *
 * Runs the natterd built in this tree against a test server's data dir (and
 * its config file, when it has one), as an operator would next to the
 * running server, then makes the server re-read its apps (SIGHUP). Also a
 * server API request signed with whatever secret the test gives.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "natter-test-client.h"

#include <libsoup/soup.h>
#include <signal.h>
#include <unistd.h>
#include <string.h>

/* `natterd --data-dir DIR [--config DIR/test.conf] ARGS…`: asserts exit 0,
 * returns the JSON object it printed. */
G_GNUC_NULL_TERMINATED static inline JsonObject *
natter_test_admin_run (NatterTestServer *server,
                       const char       *first_arg,
                       ...)
{
  const char *dir = natter_test_server_get_data_dir (server);
  g_autofree char *config = g_build_filename (dir, "test.conf", NULL);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  va_list args;

  g_ptr_array_add (argv, (char *) natter_test_program ("NATTERD"));
  g_ptr_array_add (argv, (char *) "--data-dir");
  g_ptr_array_add (argv, (char *) dir);
  if (g_file_test (config, G_FILE_TEST_EXISTS))
    {
      g_ptr_array_add (argv, (char *) "--config");
      g_ptr_array_add (argv, config);
    }
  va_start (args, first_arg);
  for (const char *arg = first_arg; arg != NULL; arg = va_arg (args, const char *))
    g_ptr_array_add (argv, (char *) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);

  process = g_subprocess_newv ((const char * const *) argv->pdata,
                               G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  if (g_subprocess_get_exit_status (process) != 0)
    g_error ("natterd %s failed: %s", first_arg, err);
  json_parser_load_from_data (parser, out, -1, &error);
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

/* SIGHUP: the running natterd reads its apps table again. */
static inline void
natter_test_admin_reload (NatterTestServer *server)
{
  g_assert_cmpint (kill (natter_test_server_get_pid (server), SIGHUP), ==, 0);
}

/* POST /@path with the four signing headers as given (any may be NULL);
 * returns the reply's code, the HTTP status in @status. */
static inline int
natter_test_admin_request (NatterTestServer *server,
                           const char       *path,
                           const char       *app_key,
                           const char       *nonce,
                           const char       *timestamp,
                           const char       *signature,
                           const char       *body,
                           guint            *status)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autofree char *url = g_strdup_printf ("%s/%s", natter_test_server_get_url (server), path);
  g_autoptr(SoupMessage) message = soup_message_new ("POST", url);
  SoupMessageHeaders *headers = soup_message_get_request_headers (message);
  g_autoptr(GBytes) bytes = g_bytes_new (body, strlen (body));
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  if (app_key != NULL)
    soup_message_headers_append (headers, "App-Key", app_key);
  if (nonce != NULL)
    soup_message_headers_append (headers, "Nonce", nonce);
  if (timestamp != NULL)
    soup_message_headers_append (headers, "Timestamp", timestamp);
  if (signature != NULL)
    soup_message_headers_append (headers, "Signature", signature);
  soup_message_set_request_body_from_bytes (message, "application/x-www-form-urlencoded", bytes);
  reply = soup_session_send_and_read (session, message, NULL, &error);
  g_assert_no_error (error);
  if (status != NULL)
    *status = soup_message_get_status (message);
  json_parser_load_from_data (parser, g_bytes_get_data (reply, NULL), (gssize) g_bytes_get_size (reply), &error);
  g_assert_no_error (error);
  return (int) json_object_get_int_member (json_node_get_object (json_parser_get_root (parser)), "code");
}

/* A fresh request to user/getToken signed with @secret: its code. */
static inline int
natter_test_admin_try_secret (NatterTestServer *server,
                              const char       *secret)
{
  static guint counter;
  g_autofree char *nonce = g_strdup_printf ("admin-%u-%u", (guint) getpid (), ++counter);
  g_autofree char *stamp = g_strdup_printf ("%" G_GINT64_FORMAT, g_get_real_time () / G_USEC_PER_SEC);
  g_autofree char *signature = natter_test_api_signature (secret, nonce, stamp);

  return natter_test_admin_request (server, "user/getToken.json", natter_test_server_get_app_key (server),
                                    nonce, stamp, signature, "userId=rotation", NULL);
}

typedef struct
{
  NatterTestServer *server;
  const char       *secret;
} SecretTry;

/* For natter_test_wait(): whether natterd accepts @data's secret yet. */
static inline gboolean
secret_accepted (gpointer data)
{
  SecretTry *attempt = data;

  return natter_test_admin_try_secret (attempt->server, attempt->secret) == 200;
}
