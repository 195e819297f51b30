/* natter-test-server.h — a real natterd for integration tests
 *
 * Starts the natterd built in this tree on 127.0.0.1 with a temporary data
 * dir, creates an app first, and talks to its server API with properly
 * signed requests. Every layer's integration tests use this.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct _NatterTestServer NatterTestServer;

/* Creates an app named "test" in a fresh temporary data dir and starts
 * natterd on 127.0.0.1 with a free port. @config, when not NULL, is the text
 * of a GKeyFile passed with --config. @create_app_args are extra arguments
 * for `natterd --create-app` (NULL-terminated, may be NULL). */
NatterTestServer *natter_test_server_new          (void);
NatterTestServer *natter_test_server_new_full     (const char         *config,
                                                   const char * const *create_app_args);
/* The same over TLS (https, wss) with a self-signed certificate made for
 * the test; the helpers here and natter-test-client accept it. */
NatterTestServer *natter_test_server_new_tls      (const char         *config,
                                                   const char * const *create_app_args);

/* Another natterd (a node) with a data dir of its own on the same shared
 * store as @first ([store] backend=postgresql): @first's config plus
 * @config (may be NULL), @first's app, no app created. With
 * NATTER_TEST_STORE=postgresql in the environment, natter_test_server_new*()
 * give every server a database of its own in one private PostgreSQL (see
 * natter-test-pg.h), unless @config names a [store] backend itself. */
NatterTestServer *natter_test_server_new_node     (NatterTestServer   *first,
                                                   const char         *config);
/* The --config file natterd was started with, or NULL. */
const char       *natter_test_server_get_config_path (NatterTestServer *self);

const char       *natter_test_server_get_url      (NatterTestServer   *self);
guint16           natter_test_server_get_port     (NatterTestServer   *self);
const char       *natter_test_server_get_data_dir (NatterTestServer   *self);
const char       *natter_test_server_get_app_key  (NatterTestServer   *self);
const char       *natter_test_server_get_app_secret (NatterTestServer *self);
GPid              natter_test_server_get_pid      (NatterTestServer   *self);

/* Signed POST /<path>.json. @params alternates names and values, repeated
 * names for arrays, NULL-terminated. Returns the parsed reply object; the
 * HTTP status goes to @http_status when not NULL. */
JsonObject       *natter_test_server_api          (NatterTestServer   *self,
                                                   guint              *http_status,
                                                   const char         *path,
                                                   ...) G_GNUC_NULL_TERMINATED;
/* The value of a counter (or a histogram's _count) on GET /metrics;
 * asserts it is there. */
guint64           natter_test_server_get_metric   (NatterTestServer   *self,
                                                   const char         *name);
/* GET /healthz: its HTTP status; its body in @body. */
guint             natter_test_server_healthz      (NatterTestServer   *self,
                                                   char              **body);
/* natterd's resident memory now and at its peak (bytes); the peak can be
 * reset to now, so a test measures what one phase costs. */
guint64           natter_test_server_get_rss      (NatterTestServer   *self);
guint64           natter_test_server_get_peak_rss (NatterTestServer   *self);
void              natter_test_server_reset_peak_rss (NatterTestServer *self);
/* user/getToken; asserts success. */
char             *natter_test_server_get_token    (NatterTestServer   *self,
                                                   const char         *user_id);

/* SIGTERM and wait; or SIGKILL and wait. */
void              natter_test_server_stop         (NatterTestServer   *self);
void              natter_test_server_kill         (NatterTestServer   *self);
/* How the last natterd process ended (g_subprocess_get_status ()). */
int               natter_test_server_get_exit_status (NatterTestServer *self);
/* Starts natterd again on the same data dir and port (after stop/kill). */
void              natter_test_server_restart      (NatterTestServer   *self);
/* A second node of the same service before the cluster layer: natterd on
 * a byte copy of @from's data dir (same app, keys and users; @from must be
 * stopped), with @config (may be NULL) and a port of its own. */
NatterTestServer *natter_test_server_new_copy    (NatterTestServer   *from,
                                                   const char         *config);
/* Stops natterd if running and deletes the data dir. */
void              natter_test_server_free         (NatterTestServer   *self);

/* Absolute path of a built program: $NATTERD, $NATTER_CLI, ... from the
 * test environment (tests/meson.build sets them). */
const char       *natter_test_program             (const char         *env_name);
/* Deletes @path and everything under it (no symlink is followed). */
void              natter_test_remove_tree         (const char         *path);

/* Signature header value for the server API: hex SHA1(secret+nonce+timestamp). */
char             *natter_test_api_signature       (const char         *secret,
                                                   const char         *nonce,
                                                   const char         *timestamp);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NatterTestServer, natter_test_server_free)

G_END_DECLS
