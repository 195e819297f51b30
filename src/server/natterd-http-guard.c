/* natterd-http-guard.c — deadlines and a connection limit for SoupServer
 *
 * Everything goes through public API: "request-started" is emitted for the
 * first request of a connection as soon as it is accepted (before a TLS
 * handshake), and for each later request of a kept-alive connection at its
 * first byte; the message's signals tell how far it got. A connection past
 * its deadline is shut down (shutdown(2) on its socket): libsoup then reads
 * an end of stream, gives up the request and closes the connection itself,
 * so nothing it owns is freed behind its back.
 *
 * On plain TCP natterd accepts connections itself and gives libsoup the
 * ones that are not WebSocket upgrades as streams (natterd_http_guard_adopt()):
 * libsoup has no GSocket for those, so they are known by their remote
 * address object, the same one libsoup is given and hands back.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-http-guard.h"

#include "natterd-log.h"

#include <errno.h>
#include <sys/socket.h>

/* Descriptors natterd needs besides its connections: SQLite (three
 * connections with their WAL and shm files), the epoll set, the main
 * context's wakeups, webhook and history files, logs. */
#define RESERVED_FDS 256
#define MIN_CONNECTIONS 16
/* At the limit, closed connections are forgotten at most this often
 * before a new one is refused (the sweep does it every second anyway). */
#define LIMIT_RESCAN_US (G_USEC_PER_SEC / 4)
#define LIMIT_LOG_INTERVAL_US (10 * G_USEC_PER_SEC)

typedef enum {
  PHASE_HEADERS,      /* waiting for the request headers (or the handshake) */
  PHASE_BODY,         /* reading the request body */
  PHASE_HANDLER,      /* natterd works on it: no deadline */
  PHASE_RESPONSE,     /* writing the response */
  PHASE_IDLE,         /* kept alive, waiting for the next request */
} Phase;

typedef struct
{
  GSocket           *socket;
  GSocketAddress    *remote;    /* adopted: the key; NULL otherwise */
  gint64             accepted;  /* adopted, first request not yet started */
  gint64             deadline;  /* monotonic µs, 0 = none */
  Phase              phase;
  /* PHASE_IDLE: the request answered last (its connection can be taken
   * back from libsoup), and a watch for the peer closing. */
  SoupServerMessage *last;
  GSource           *watch;
} Connection;

struct _NatterdHttpGuard
{
  GObject     parent_instance;

  GHashTable *connections;      /* GSocket* (adopted: GSocketAddress*) → Connection* */
  NatterdSocketLoop *sockets;   /* natterd's own connections, or NULL */
  gint64      header_timeout;   /* µs, 0 = none */
  gint64      body_timeout;
  guint       max_connections;  /* 0 = no limit */
  gboolean    tls;
  gint64      last_rescan;
  gint64      last_limit_log;
  guint64     refused_since_log;

  guint64     header_timeouts;
  guint64     body_timeouts;
  guint64     refused;
};

G_DEFINE_FINAL_TYPE (NatterdHttpGuard, natterd_http_guard, G_TYPE_OBJECT)

static void
clear_idle (Connection *conn)
{
  if (conn->watch != NULL)
    {
      g_source_destroy (conn->watch);
      g_clear_pointer (&conn->watch, g_source_unref);
    }
  g_clear_object (&conn->last);
}

static void
connection_free (gpointer data)
{
  Connection *conn = data;

  clear_idle (conn);
  g_object_unref (conn->socket);
  g_clear_object (&conn->remote);
  g_free (conn);
}

static Connection *
lookup (NatterdHttpGuard  *self,
        SoupServerMessage *msg)
{
  GSocket *socket = soup_server_message_get_socket (msg);
  gpointer key = socket != NULL ? (gpointer) socket : (gpointer) soup_server_message_get_remote_address (msg);

  /* NULL once libsoup let the connection go. */
  return key != NULL ? g_hash_table_lookup (self->connections, key) : NULL;
}

static guint
count_open (NatterdHttpGuard *self)
{
  return g_hash_table_size (self->connections) +
         (self->sockets != NULL ? natterd_socket_loop_get_connections (self->sockets) : 0);
}

static void
set_phase (Connection *conn,
           Phase       phase,
           gint64      timeout)
{
  clear_idle (conn);
  conn->phase = phase;
  conn->deadline = timeout > 0 ? g_get_monotonic_time () + timeout : 0;
}

static void
forget_closed (NatterdHttpGuard *self)
{
  GHashTableIter iter;
  Connection *conn;

  g_hash_table_iter_init (&iter, self->connections);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &conn))
    if (g_socket_is_closed (conn->socket))
      g_hash_table_iter_remove (&iter);
}

static gboolean has_room (NatterdHttpGuard *self);

/* ---------------------------------------------------------------- signals */

static void
on_got_headers (SoupServerMessage *msg,
                gpointer           user_data)
{
  NatterdHttpGuard *self = user_data;
  Connection *conn = lookup (self, msg);

  if (conn == NULL)
    return;
  set_phase (conn, PHASE_BODY, self->body_timeout);

  /* Over TLS an idle connection cannot be taken back safely (see
   * release_idle()): a client's close_notify looks like its next request
   * until libsoup has read it, and then libsoup has let go of the
   * connection without closing it. So https answers close the connection
   * (WebSocket upgrades aside). */
  if (self->tls && !soup_message_headers_header_contains (soup_server_message_get_request_headers (msg),
                                                          "Connection", "upgrade"))
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection", "close");
}

static void
on_got_chunk (SoupServerMessage *msg,
              GBytes            *chunk,
              gpointer           user_data)
{
  NatterdHttpGuard *self = user_data;
  Connection *conn = lookup (self, msg);

  if (conn != NULL && conn->phase == PHASE_BODY)
    set_phase (conn, PHASE_BODY, self->body_timeout);
}

static void
on_got_body (SoupServerMessage *msg,
             gpointer           user_data)
{
  NatterdHttpGuard *self = user_data;
  Connection *conn = lookup (self, msg);

  if (conn != NULL)
    set_phase (conn, PHASE_HANDLER, 0);
}

static void
on_wrote (SoupServerMessage *msg,
          gpointer           user_data)
{
  NatterdHttpGuard *self = user_data;
  Connection *conn = lookup (self, msg);

  /* A response sent before the body was read (an early refusal) ends the
   * request too: either way, from now on it must make progress. */
  if (conn != NULL)
    set_phase (conn, PHASE_RESPONSE, self->body_timeout);
}

static void
on_wrote_body_data (SoupServerMessage *msg,
                    guint              size,
                    gpointer           user_data)
{
  on_wrote (msg, user_data);
}

/* libsoup 3.2 leaves a kept-alive connection alone once the peer closed
 * it before its next request (fixed in 3.3: "server: do not leak idle
 * connections closed by the client"): the descriptor stays in CLOSE-WAIT
 * and the connection in the server's list, for ever. So the guard takes
 * such a connection back itself, through public API, while libsoup is
 * still waiting on it: soup_server_message_steal_connection() on the
 * request answered last makes libsoup drop it, and the guard closes the
 * socket. */
static void
release_idle (Connection *conn)
{
  g_autoptr(GIOStream) stream = soup_server_message_steal_connection (conn->last);

  /* The descriptor itself: closing a TLS stream would write close_notify
   * and could wait on a peer that is gone or not reading. */
  g_socket_close (conn->socket, NULL);
  clear_idle (conn);
  conn->deadline = 0;
}

static gboolean
on_idle_readable (GSocket      *socket,
                  GIOCondition  condition,
                  gpointer      user_data)
{
  Connection *conn = user_data;
  char byte;
  ssize_t n;

  if (g_socket_is_closed (socket))
    {
      clear_idle (conn);
      return G_SOURCE_REMOVE;
    }

  n = recv (g_socket_get_fd (socket), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return G_SOURCE_CONTINUE;
  if (n > 0)
    {
      /* The next request (or, over TLS, maybe an alert): libsoup reads
       * it. Not taken back from here on: libsoup may have let go of it
       * by then (the sweep closes only the descriptor). */
      clear_idle (conn);
      return G_SOURCE_REMOVE;
    }
  /* End of stream or an error: this source runs before libsoup's (higher
   * priority), so libsoup still waits on the connection. */
  release_idle (conn);
  return G_SOURCE_REMOVE;
}

static void
on_finished (SoupServerMessage *msg,
             gpointer           user_data)
{
  NatterdHttpGuard *self = user_data;
  Connection *conn = lookup (self, msg);

  /* Kept alive (or about to be closed by libsoup right after this): the
   * next request has header-timeout to arrive. */
  if (conn == NULL)
    return;
  set_phase (conn, PHASE_IDLE, self->header_timeout);
  /* Held only to take the connection back: not its bodies (a media file
   * served whole, say), which nothing reads once it finished. */
  soup_message_body_truncate (soup_server_message_get_response_body (msg));
  soup_message_body_truncate (soup_server_message_get_request_body (msg));
  conn->last = g_object_ref (msg);
  conn->watch = g_socket_create_source (conn->socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
  g_source_set_priority (conn->watch, G_PRIORITY_HIGH);
  g_source_set_callback (conn->watch, (GSourceFunc) G_CALLBACK (on_idle_readable), conn, NULL);
  g_source_set_static_name (conn->watch, "[natterd] idle HTTP connection");
  g_source_attach (conn->watch, NULL);
}

static void
refuse (NatterdHttpGuard *self,
        GSocket          *socket)
{
  gint64 now = g_get_monotonic_time ();

  /* libsoup reads the end of stream and closes the connection. */
  if (socket != NULL)
    g_socket_shutdown (socket, TRUE, TRUE, NULL);
  self->refused++;
  self->refused_since_log++;
  if (now - self->last_limit_log >= LIMIT_LOG_INTERVAL_US)
    {
      char open[16], max[16], refused[24];

      g_snprintf (open, sizeof open, "%u", count_open (self));
      g_snprintf (max, sizeof max, "%u", self->max_connections);
      g_snprintf (refused, sizeof refused, "%" G_GUINT64_FORMAT, self->refused_since_log);
      natterd_log (G_LOG_LEVEL_WARNING, "connection-limit", "open", open, "max-connections", max,
                   "refused", refused, NULL);
      self->last_limit_log = now;
      self->refused_since_log = 0;
    }
}

static void
on_request_started (SoupServer        *server,
                    SoupServerMessage *msg,
                    gpointer           user_data)
{
  NatterdHttpGuard *self = user_data;
  GSocket *socket = soup_server_message_get_socket (msg);
  Connection *conn;

  conn = lookup (self, msg);
  if (conn == NULL && socket == NULL)
    return;
  if (conn == NULL)
    {
      /* A new connection. */
      if (!has_room (self))
        {
          refuse (self, socket);
          return;
        }
      conn = g_new0 (Connection, 1);
      conn->socket = g_object_ref (socket);
      g_hash_table_insert (self->connections, socket, conn);
    }

  set_phase (conn, PHASE_HEADERS, self->header_timeout);
  /* Adopted: the first request's time counts from the accept. */
  if (conn->accepted != 0 && self->header_timeout > 0)
    conn->deadline = conn->accepted + self->header_timeout;
  conn->accepted = 0;

  g_signal_connect_object (msg, "got-headers", G_CALLBACK (on_got_headers), self, 0);
  g_signal_connect_object (msg, "got-chunk", G_CALLBACK (on_got_chunk), self, 0);
  g_signal_connect_object (msg, "got-body", G_CALLBACK (on_got_body), self, 0);
  g_signal_connect_object (msg, "wrote-headers", G_CALLBACK (on_wrote), self, 0);
  g_signal_connect_object (msg, "wrote-body-data", G_CALLBACK (on_wrote_body_data), self, 0);
  g_signal_connect_object (msg, "finished", G_CALLBACK (on_finished), self, 0);
}

void
natterd_http_guard_set_sockets (NatterdHttpGuard  *self,
                                NatterdSocketLoop *loop)
{
  self->sockets = loop;
}

/* Whether one more connection fits; refuse() (or the caller) counts it
 * refused when not. */
static gboolean
has_room (NatterdHttpGuard *self)
{
  gint64 now;

  if (self->max_connections == 0 || count_open (self) < self->max_connections)
    return TRUE;
  now = g_get_monotonic_time ();
  if (now - self->last_rescan >= LIMIT_RESCAN_US)
    {
      self->last_rescan = now;
      forget_closed (self);
    }
  return count_open (self) < self->max_connections;
}

gboolean
natterd_http_guard_admit (NatterdHttpGuard *self)
{
  g_return_val_if_fail (NATTERD_IS_HTTP_GUARD (self), FALSE);

  if (has_room (self))
    return TRUE;
  refuse (self, NULL);
  return FALSE;
}

void
natterd_http_guard_adopt (NatterdHttpGuard *self,
                          GSocket          *socket,
                          GSocketAddress   *remote,
                          gint64            accepted)
{
  Connection *conn = g_new0 (Connection, 1);

  g_return_if_fail (NATTERD_IS_HTTP_GUARD (self));

  conn->socket = g_object_ref (socket);
  conn->remote = g_object_ref (remote);
  conn->accepted = accepted;
  conn->phase = PHASE_HEADERS;
  conn->deadline = self->header_timeout > 0 ? accepted + self->header_timeout : 0;
  g_hash_table_replace (self->connections, remote, conn);
}

/* ------------------------------------------------------------------ sweep */

void
natterd_http_guard_sweep (NatterdHttpGuard *self)
{
  gint64 now = g_get_monotonic_time ();
  GHashTableIter iter;
  Connection *conn;

  g_return_if_fail (NATTERD_IS_HTTP_GUARD (self));

  g_hash_table_iter_init (&iter, self->connections);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &conn))
    {
      if (g_socket_is_closed (conn->socket))
        {
          g_hash_table_iter_remove (&iter);
          continue;
        }
      if (conn->deadline == 0 || now < conn->deadline)
        continue;

      if (conn->phase == PHASE_HEADERS || conn->phase == PHASE_IDLE)
        self->header_timeouts++;
      else
        self->body_timeouts++;
      if (natterd_log_enabled (G_LOG_LEVEL_DEBUG))
        natterd_log (G_LOG_LEVEL_DEBUG, "http-timeout", "phase",
                     conn->phase == PHASE_HEADERS ? "headers" :
                     conn->phase == PHASE_IDLE ? "idle" :
                     conn->phase == PHASE_BODY ? "body" : "response", NULL);
      conn->deadline = 0;
      if (conn->phase != PHASE_IDLE)
        g_socket_shutdown (conn->socket, TRUE, TRUE, NULL);  /* libsoup then closes it */
      else if (conn->last != NULL)
        release_idle (conn);
      else
        g_socket_close (conn->socket, NULL);  /* data came, but no request: libsoup let go */
    }
}

/* --------------------------------------------------------------- lifetime */

static void
natterd_http_guard_finalize (GObject *object)
{
  NatterdHttpGuard *self = NATTERD_HTTP_GUARD (object);

  g_hash_table_unref (self->connections);

  G_OBJECT_CLASS (natterd_http_guard_parent_class)->finalize (object);
}

static void
natterd_http_guard_class_init (NatterdHttpGuardClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = natterd_http_guard_finalize;
}

static void
natterd_http_guard_init (NatterdHttpGuard *self)
{
  self->connections = g_hash_table_new_full (NULL, NULL, NULL, connection_free);
}

NatterdHttpGuard *
natterd_http_guard_new (SoupServer *server,
                        gboolean    tls,
                        guint       header_timeout,
                        guint       body_timeout,
                        guint       max_connections)
{
  NatterdHttpGuard *self = g_object_new (NATTERD_TYPE_HTTP_GUARD, NULL);

  self->header_timeout = (gint64) header_timeout * G_USEC_PER_SEC;
  self->body_timeout = (gint64) body_timeout * G_USEC_PER_SEC;
  self->max_connections = max_connections;
  self->tls = tls;
  g_signal_connect_object (server, "request-started", G_CALLBACK (on_request_started), self, 0);
  return self;
}

guint
natterd_http_guard_get_open (NatterdHttpGuard *self)
{
  return count_open (self);
}

guint
natterd_http_guard_get_max_connections (NatterdHttpGuard *self)
{
  return self->max_connections;
}

guint64
natterd_http_guard_get_header_timeouts (NatterdHttpGuard *self)
{
  return self->header_timeouts +
         (self->sockets != NULL ? natterd_socket_loop_get_header_timeouts (self->sockets) : 0);
}

guint64
natterd_http_guard_get_body_timeouts (NatterdHttpGuard *self)
{
  return self->body_timeouts;
}

guint64
natterd_http_guard_get_refused (NatterdHttpGuard *self)
{
  return self->refused;
}

guint
natterd_http_guard_safe_connections (guint64 fd_limit)
{
  if (fd_limit <= RESERVED_FDS + 2 * MIN_CONNECTIONS)
    return MIN_CONNECTIONS;
  return (guint) MIN ((fd_limit - RESERVED_FDS) / 2, G_MAXUINT);
}
