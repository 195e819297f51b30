/* test-helpers.h — waiting for async results in tests, and clients of a
 * test natterd (tests/common/natter-test-server.h) for the integration tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "natter.h"
#include "natter-test-server.h"

G_BEGIN_DECLS

/* A GAsyncReadyCallback that stores the result in *(GAsyncResult **) user_data. */
void          test_store_result_cb (GObject      *object,
                                    GAsyncResult *result,
                                    gpointer      user_data);
/* Iterates the thread-default main context until *result is set (or the
 * timeout in seconds passes: then the test fails). Returns *result (still
 * owned by the caller's variable: clear it before the next call). */
GAsyncResult *test_wait_result     (GAsyncResult **result,
                                    guint          timeout_s);
/* Iterates until @condition returns TRUE or the timeout fails the test. */
void          test_wait_until      (gboolean     (*condition) (gpointer data),
                                    gpointer       data,
                                    guint          timeout_s,
                                    const char    *what);
/* Runs the main context for @ms milliseconds. */
void          test_spin            (guint          ms);

/* A new temporary directory (natter-client-XXXXXX) / a directory and all in it. */
char         *test_make_profile    (void);
void          test_remove_tree     (const char    *path);
/* The bytes of @file (the test fails if it cannot be read). */
GBytes       *test_file_bytes      (GFile         *file);

/* Iterates until @client has @status or the timeout fails the test. */
void          test_wait_status     (NatterClient           *client,
                                    NatterConnectionStatus  status,
                                    guint                   timeout_s,
                                    const char             *what);

/* One signed-in user: a NatterClient with its own profile directory, and
 * what it went through. */
typedef struct {
  NatterClient *client;
  char *user_id;
  char *token;
  char *profile;
  GPtrArray *received;          /* NatterMessage, every message-received */
  GArray *statuses;             /* every status it went through */
  GError *last_error;
} Peer;

/* A client for @user_id with its own profile (or @profile when given). */
Peer               *peer_new                (NatterTestServer       *server,
                                             const char             *user_id,
                                             const char             *profile);
/* The same with @server_url (a comma-separated list of nodes, say) in place
 * of @server's URL; @server gives the app key and the token. */
Peer               *peer_new_for_url        (NatterTestServer       *server,
                                             const char             *user_id,
                                             const char             *server_url);
/* Disconnects and frees; the profile directory goes unless @keep_profile. */
void                peer_free               (Peer                   *peer,
                                             gboolean                keep_profile);
void                peer_wait_status        (Peer                   *peer,
                                             NatterConnectionStatus  status,
                                             guint                   timeout_s);
/* Connects and waits (20 s) for CONNECTED. */
void                peer_connect            (Peer                   *peer);
/* A test_wait_until() condition on a Peer: the client is caught up. */
gboolean            peer_caught_up          (gpointer                data);
/* Another: a typing notice has come. */
gboolean            peer_got_typing         (gpointer                data);
guint               peer_count_received     (Peer                   *peer,
                                             gboolean                persisted_only);
/* Waits (20 s) until @count persisted messages have come. */
void                peer_wait_received      (Peer                   *peer,
                                             guint                   count);
/* A text message, sent and waited for (20 s). */
NatterMessage      *peer_send_text          (Peer                   *peer,
                                             NatterConversationType  type,
                                             const char             *target,
                                             const char             *text,
                                             GError                **error);
/* A private text message that must be SENT with a messageUId. */
NatterMessage      *peer_send_ok            (Peer                   *peer,
                                             const char             *target,
                                             const char             *text);
/* The newest @limit messages of a conversation in the peer's store. */
GPtrArray          *peer_store_page         (Peer                   *peer,
                                             NatterConversationType  type,
                                             const char             *target,
                                             guint                   limit);
NatterConversation *peer_store_conversation (Peer                   *peer,
                                             NatterConversationType  type,
                                             const char             *target);

/* natter-cli output: each non-empty line a JSON object (asserted). */
GPtrArray          *test_json_lines         (const char             *text);
/* Reads stderr lines of a natter-cli -v until it says it is connected. */
void                test_wait_cli_connected (GSubprocess            *process);

G_END_DECLS
