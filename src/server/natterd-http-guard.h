/* natterd-http-guard.h — deadlines and a connection limit for SoupServer
 *
 * libsoup 3.2's SoupServer waits for a request as long as the client likes:
 * a client that sends half a request (a byte a second) or nothing at all
 * holds its connection, and its descriptor, for ever. The guard follows
 * every connection SoupServer accepts (plain or TLS) through the server's
 * public signals and shuts down the ones that miss a deadline:
 *
 *  - header-timeout: from the accept (TLS handshake included) to the end
 *    of the request headers, and from the end of one response to the next
 *    request's headers on a kept-alive connection;
 *  - body-timeout: without progress while the request body comes in or
 *    while the response goes out (a client that stalls an upload, or stops
 *    reading a download); not while natterd itself works on the answer.
 *
 * It also counts every open connection, WebSockets included (they arrive
 * as HTTP upgrades and keep their socket), and closes a new one at once
 * when its limit is reached, so descriptors never run out; and it closes
 * the kept-alive connections libsoup 3.2 forgets (see release_idle()).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <libsoup/soup.h>

#include "natterd-socket.h"

G_BEGIN_DECLS

#define NATTERD_TYPE_HTTP_GUARD (natterd_http_guard_get_type ())
G_DECLARE_FINAL_TYPE (NatterdHttpGuard, natterd_http_guard, NATTERD, HTTP_GUARD, GObject)

/* Timeouts in seconds (0 = none); @max_connections 0 = no limit; @tls:
 * @server listens with TLS (its answers then close their connection). */
NatterdHttpGuard *natterd_http_guard_new          (SoupServer       *server,
                                                   gboolean          tls,
                                                   guint             header_timeout,
                                                   guint             body_timeout,
                                                   guint             max_connections);
/* Connections natterd accepted itself (natterd_socket_loop_listen()):
 * @loop's count toward the limit and its header timeouts toward the
 * guard's. */
void              natterd_http_guard_set_sockets  (NatterdHttpGuard  *self,
                                                   NatterdSocketLoop *loop);
/* Room for a connection natterd accepted? If not, counts it refused. */
gboolean          natterd_http_guard_admit        (NatterdHttpGuard *self);
/* A connection natterd accepted at @accepted (monotonic µs) and now gives
 * to libsoup with soup_server_accept_iostream(), which knows it by its
 * @remote address (libsoup has no GSocket for it): call before that. */
void              natterd_http_guard_adopt        (NatterdHttpGuard *self,
                                                   GSocket          *socket,
                                                   GSocketAddress   *remote,
                                                   gint64            accepted);
/* Closes the connections past their deadline and forgets the closed ones;
 * natterd calls it every second. */
void              natterd_http_guard_sweep        (NatterdHttpGuard *self);

guint             natterd_http_guard_get_open     (NatterdHttpGuard *self);
guint             natterd_http_guard_get_max_connections (NatterdHttpGuard *self);
guint64           natterd_http_guard_get_header_timeouts (NatterdHttpGuard *self);
guint64           natterd_http_guard_get_body_timeouts   (NatterdHttpGuard *self);
guint64           natterd_http_guard_get_refused  (NatterdHttpGuard *self);

/* The default max-connections for the open-file limit @fd_limit: what an
 * HTTP connection may hold is its socket and a media file, and the
 * database, logs and libraries keep some descriptors of their own. */
guint             natterd_http_guard_safe_connections (guint64 fd_limit);

G_END_DECLS
