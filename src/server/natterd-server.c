/* natterd-server.c — lifetime, listening, connections, the sweep timer
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-server-private.h"

#include "natterd-log.h"
#include "natterd-navi.h"
#include "natterd-sched.h"

#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>

#define SWEEP_INTERVAL_MS 1000
#define DEVICE_FLUSH_INTERVAL_US (5 * G_USEC_PER_SEC)
#define APPS_RELOAD_MIN_INTERVAL_US (G_USEC_PER_SEC)
#define APP_WAITERS_MAX 1000
#define LISTEN_BACKLOG 4096
/* A WebSocket upgrade's request line and headers (libsoup takes 64 KiB;
 * browsers send under 2 KiB, natter's client a few hundred bytes). */
#define MAX_UPGRADE_HEADER (8 * 1024)

G_DEFINE_FINAL_TYPE (NatterdServer, natterd_server, G_TYPE_OBJECT)

/* ------------------------------------------------------------------- apps */

typedef struct
{
  char           *app_key;
  NatterdAppFunc  func;
  gpointer        user_data;
  GDestroyNotify  destroy;
} AppWaiter;

static void
app_waiter_free (gpointer data)
{
  AppWaiter *waiter = data;

  if (waiter->destroy != NULL)
    waiter->destroy (waiter->user_data);
  g_free (waiter->app_key);
  g_free (waiter);
}

static void
apps_reloaded (NatterdRead *base,
               gpointer     user_data)
{
  NatterdAppsRead *read = (NatterdAppsRead *) base;
  NatterdServer *self = user_data;
  g_autoptr(GPtrArray) waiters = g_steal_pointer (&self->app_waiters);

  self->apps_reloading = FALSE;
  self->app_waiters = g_ptr_array_new_with_free_func (app_waiter_free);

  if (base->error != NULL)
    natterd_log (G_LOG_LEVEL_WARNING, "apps-reload-failed", "error", base->error->message, NULL);
  else
    for (guint i = 0; i < read->apps->len; i++)
      {
        /* A changed webhook URL applies from the next request on; queued
         * events are kept. */
        natterd_directory_add_app (self->directory, g_ptr_array_index (read->apps, i));
      }

  for (guint i = 0; i < waiters->len; i++)
    {
      AppWaiter *waiter = g_ptr_array_index (waiters, i);

      waiter->func (self, natterd_directory_lookup_app (self->directory, waiter->app_key),
                    waiter->user_data);
    }
}

void
natterd_server_reload_apps_here (NatterdServer *self)
{
  NatterdRead *read;

  if (self->apps_reloading)
    return;

  self->apps_reloading = TRUE;
  self->last_apps_reload = g_get_monotonic_time ();
  read = natterd_read_new (NATTERD_READ_APPS, apps_reloaded, g_object_ref (self), g_object_unref);
  natterd_store_read (self->store, read);
}

void
natterd_server_reload_apps (NatterdServer *self)
{
  natterd_log (G_LOG_LEVEL_INFO, "apps-reload", NULL);
  natterd_server_reload_apps_here (self);
  /* Settings changed with --set-app: every node reads them again. */
  if (self->cluster != NULL)
    natterd_cluster_send_reload_apps (self->cluster);
}

static gboolean
reload_apps_timeout (gpointer user_data)
{
  NatterdServer *self = user_data;

  self->apps_reload_id = 0;
  natterd_server_reload_apps_here (self);
  return G_SOURCE_REMOVE;
}

void
natterd_server_with_app (NatterdServer  *self,
                         const char     *app_key,
                         NatterdAppFunc  func,
                         gpointer        user_data,
                         GDestroyNotify  destroy)
{
  NatterdApp *app = natterd_directory_lookup_app (self->directory, app_key);
  AppWaiter *waiter;
  gint64 wait;

  /* Known keys (nearly always) answer at once; so does a flood of unknown
   * ones beyond what may wait. */
  if (app != NULL || app_key == NULL || self->app_waiters->len >= APP_WAITERS_MAX)
    {
      func (self, app, user_data);
      if (destroy != NULL)
        destroy (user_data);
      return;
    }

  waiter = g_new0 (AppWaiter, 1);
  waiter->app_key = g_strdup (app_key);
  waiter->func = func;
  waiter->user_data = user_data;
  waiter->destroy = destroy;
  g_ptr_array_add (self->app_waiters, waiter);

  /* The table is read again at most once a second: unknown keys wait for
   * the next read instead of making one each. */
  if (self->apps_reloading || self->apps_reload_id != 0)
    return;
  wait = self->last_apps_reload + APPS_RELOAD_MIN_INTERVAL_US - g_get_monotonic_time ();
  if (self->last_apps_reload == 0 || wait <= 0)
    natterd_server_reload_apps_here (self);
  else
    self->apps_reload_id = g_timeout_add ((guint) (wait / 1000) + 1, reload_apps_timeout, self);
}

/* ------------------------------------------------------------------ users */

static void
log_op_error (NatterdOp *op,
              gpointer   user_data)
{
  /* Out of space is logged once by the store, not once per op. */
  if (op->error != NULL && !natterd_store_error_is_full (op->error))
    natterd_log (G_LOG_LEVEL_WARNING, "store-failed", "op", user_data, "error", op->error->message,
                 NULL);
}

typedef struct
{
  NatterdServer  *server;
  gint64          user_id;
  NatterdOpFunc   complete;
  gpointer        user_data;
  GDestroyNotify  destroy;
} UserSave;

static void
user_save_free (gpointer data)
{
  UserSave *save = data;

  if (save->destroy != NULL)
    save->destroy (save->user_data);
  g_object_unref (save->server);
  g_free (save);
}

static void
user_saved (NatterdOp *op,
            gpointer   user_data)
{
  UserSave *save = user_data;
  NatterdUserOp *u = (NatterdUserOp *) op;
  NatterdApp *app = natterd_directory_lookup_app_id (save->server->directory, u->app_id);
  /* By name: a save before this one may have taken another node's id. */
  NatterdUser *user = app != NULL ? natterd_directory_lookup_user (app, u->user_id) : NULL;

  if (user != NULL)
    {
      user->saving--;
      if (op->error == NULL && u->stored_id != 0)
        natterd_server_user_stored_elsewhere (save->server, user, u);
      if (op->error == NULL)
        user->stored = TRUE;
      /* New users, profiles, blocks: every node knows at once. */
      if (op->error == NULL && save->server->cluster != NULL)
        natterd_server_cluster_committed (save->server, user->app, op);
    }
  if (save->complete != NULL)
    save->complete (op, save->user_data);
  else
    log_op_error (op, (gpointer) "user");
}

void
natterd_server_save_user (NatterdServer  *self,
                          NatterdUser    *user,
                          NatterdOpFunc   complete,
                          gpointer        user_data,
                          GDestroyNotify  destroy)
{
  UserSave *save = g_new0 (UserSave, 1);
  NatterdUserOp *op;

  save->server = g_object_ref (self);
  save->user_id = user->id;
  save->complete = complete;
  save->user_data = user_data;
  save->destroy = destroy;
  op = natterd_op_new (NATTERD_OP_USER, user_saved, save, user_save_free);
  op->id = user->id;
  op->app_id = user->app->id;
  op->user_id = g_strdup (user->user_id);
  op->name = g_strdup (user->name);
  op->portrait_uri = g_strdup (user->portrait_uri);
  op->created = user->created;
  op->tokens_valid_after = user->tokens_valid_after;
  op->blocked_until = user->blocked_until;
  /* Until its first row is durable, the store lets no op that names the
   * user through (see NatterdUserOp.create). */
  op->create = !user->stored;
  user->saving++;
  /* Saved after a refresh's barrier: its snapshot may lack this. */
  user->changed = natterd_directory_stamp ();
  natterd_store_submit (self->store, op);
}

NatterdUser *
natterd_server_ensure_user (NatterdServer *self,
                            NatterdApp    *app,
                            const char    *user_id)
{
  NatterdUser *user = natterd_directory_lookup_user (app, user_id);

  if (user != NULL)
    {
      /* Its first save failed (out of space): the op about to name it
       * waits for a new one. */
      if (!user->stored && user->saving == 0)
        natterd_server_save_user (self, user, NULL, NULL, NULL);
      return user;
    }

  /* Users exist once anyone addresses them, as on the reference platform:
   * messages wait in their inbox until they first connect. The row is
   * queued before any op that refers to it. */
  user = natterd_directory_add_user (self->directory, app, user_id, natterd_now_ms ());
  natterd_server_save_user (self, user, NULL, NULL, NULL);
  return user;
}

/* --------------------------------------------------------------- sessions */

static void device_dirty (NatterdServer  *self,
                          NatterdSession *session);

/* What a devices op saved: each session's acked seq counts as saved only
 * once it is durable; a failed op leaves them dirty for the next flush. */
typedef struct
{
  NatterdServer *server;
  GPtrArray     *sessions;      /* NatterdSession (refs) */
  GArray        *seqs;          /* guint64 acked seq saved, by index */
} DevicesSave;

static void
devices_save_free (gpointer data)
{
  DevicesSave *save = data;

  g_ptr_array_unref (save->sessions);
  g_array_unref (save->seqs);
  g_object_unref (save->server);
  g_free (save);
}

static void
devices_saved (NatterdOp *op,
               gpointer   user_data)
{
  DevicesSave *save = user_data;

  log_op_error (op, (gpointer) "devices");
  for (guint i = 0; i < save->sessions->len; i++)
    {
      NatterdSession *session = g_ptr_array_index (save->sessions, i);
      guint64 seq = g_array_index (save->seqs, guint64, i);

      if (op->error == NULL)
        natterd_session_ack_saved (session, seq);
      else if (save->server->dirty_devices != NULL)
        device_dirty (save->server, session);
    }
}

static void
save_device (NatterdServer    *self,
             NatterdDevicesOp *op,
             DevicesSave      *save,
             NatterdSession   *session)
{
  NatterdUser *user = natterd_session_get_user (session);
  NatterdDeviceRecord record = {
    .user_id = user->id,
    .device_id = g_strdup (natterd_session_get_device_id (session)),
    .platform = g_strdup (natterd_session_get_platform (session)),
    /* Offline: when it went (what a node started later answers, #16). */
    .last_seen = !natterd_user_is_online (user) && user->last_seen > 0 ? user->last_seen : natterd_now_ms (),
    .acked_seq = natterd_session_get_acked_seq (session),
  };

  g_array_append_val (op->devices, record);
  g_ptr_array_add (save->sessions, g_object_ref (session));
  g_array_append_val (save->seqs, record.acked_seq);
}

void
natterd_server_flush_devices (NatterdServer *self)
{
  NatterdDevicesOp *op;
  DevicesSave *save;
  GHashTableIter iter;
  NatterdSession *session;

  self->last_device_flush = g_get_monotonic_time ();
  if (g_hash_table_size (self->dirty_devices) == 0)
    return;

  save = g_new0 (DevicesSave, 1);
  save->server = g_object_ref (self);
  save->sessions = g_ptr_array_new_with_free_func (g_object_unref);
  save->seqs = g_array_new (FALSE, FALSE, sizeof (guint64));
  op = natterd_op_new (NATTERD_OP_DEVICES, devices_saved, save, devices_save_free);
  g_hash_table_iter_init (&iter, self->dirty_devices);
  while (g_hash_table_iter_next (&iter, (gpointer *) &session, NULL))
    if (natterd_session_get_user (session) != NULL)
      save_device (self, op, save, session);
  g_hash_table_remove_all (self->dirty_devices);
  natterd_store_submit (self->store, op);
}

static void
device_dirty (NatterdServer  *self,
              NatterdSession *session)
{
  g_hash_table_add (self->dirty_devices, g_object_ref (session));
}

static void
session_connected (NatterdServer  *self,
                   NatterdSession *session)
{
  NatterdUser *user = natterd_session_get_user (session);
  const char *device_id = natterd_session_get_device_id (session);
  gboolean multi_device = user->app->settings.multi_device;
  gboolean was_online;
  gboolean was_anywhere = natterd_user_is_online (user);

  if (user->sessions == NULL)
    user->sessions = g_ptr_array_new ();

  /* One connection per user, or per device with multi-device: the newer
   * login wins and the older one is told why (31010). */
  was_online = user->sessions->len > 0;
  self->replacing_user = user;
  for (guint i = user->sessions->len; i > 0; i--)
    {
      NatterdSession *other = g_ptr_array_index (user->sessions, i - 1);

      if (!multi_device || g_strcmp0 (natterd_session_get_device_id (other), device_id) == 0)
        natterd_session_kick (other, NATTER_CODE_KICKED_BY_OTHER_DEVICE);
    }

  self->replacing_user = NULL;
  if (!was_online)
    natterd_webhooks_add_presence (self->webhooks, user->app, user->user_id, 0);
  g_ptr_array_add (user->sessions, session);
  user->offline_since = 0;
  self->n_connected++;
  self->metrics->connections_total++;
  if (!was_anywhere)
    natterd_server_presence_changed (self, user, FALSE, 0);

  device_dirty (self, session);
  if (self->cluster != NULL)
    natterd_cluster_session_connected (self->cluster, session);

  natterd_log (G_LOG_LEVEL_INFO, "connect", "app", user->app->key, "user", user->user_id,
               "device", device_id, "platform", natterd_session_get_platform (session), NULL);
}

static void
session_disconnected (NatterdServer  *self,
                      NatterdSession *session)
{
  NatterdUser *user = natterd_session_get_user (session);

  if (user->sessions != NULL && g_ptr_array_remove_fast (user->sessions, session))
    {
      self->n_connected--;
      if (user->sessions->len == 0)
        {
          user->offline_since = g_get_monotonic_time ();
          natterd_server_chatroom_user_offline (self, user);
          /* Status 2 when the client said its user signed out. */
          if (user != self->replacing_user)
            natterd_webhooks_add_presence (self->webhooks, user->app, user->user_id,
                                           natterd_session_is_logout (session) ? 2 : 1);
          if (user != self->replacing_user && !natterd_user_is_online (user))
            natterd_server_presence_changed (self, user, natterd_session_is_logout (session), 0);
        }
    }

  /* Its last seen is stored with it. */
  device_dirty (self, session);
  if (self->cluster != NULL)
    natterd_cluster_session_disconnected (self->cluster, session);

  natterd_log (G_LOG_LEVEL_INFO, "disconnect", "app", user->app->key, "user", user->user_id,
               "device", natterd_session_get_device_id (session), NULL);
}

static void
host_state_changed (gpointer             host,
                    NatterdSession      *session,
                    NatterdSessionState  state,
                    NatterdSessionState  old_state)
{
  NatterdServer *self = host;

  if (state == NATTERD_SESSION_CONNECTED)
    session_connected (self, session);
  else if (old_state == NATTERD_SESSION_CONNECTED)
    session_disconnected (self, session);
}

static void
host_closed (gpointer        host,
             NatterdSession *session)
{
  NatterdServer *self = host;

  /* The server's reference; pending ops may still hold their own. */
  g_hash_table_remove (self->sessions, session);
}

void
natterd_server_kick_user (NatterdServer *self,
                          NatterdUser   *user,
                          int            code,
                          gint64         issued_before)
{
  if (user->sessions == NULL)
    return;

  for (guint i = user->sessions->len; i > 0; i--)
    {
      NatterdSession *session = g_ptr_array_index (user->sessions, i - 1);

      if (issued_before == 0 || natterd_session_get_token_issued (session) < issued_before)
        natterd_session_kick (session, code);
    }
}

/* ---------------------------------------------- what sessions ask (host) */

typedef struct
{
  NatterdServer           *server;
  char                    *app_key;
  char                    *token;
  NatterdAuthenticateDone  done;
  gpointer                 user_data;
  GDestroyNotify           destroy;
} Authentication;

static void
authentication_free (gpointer data)
{
  Authentication *auth = data;

  if (auth->destroy != NULL)
    auth->destroy (auth->user_data);
  g_free (auth->app_key);
  g_free (auth->token);
  g_free (auth);
}

static void
authenticate_now (gpointer user_data)
{
  Authentication *auth = user_data;
  NatterdUser *user = NULL;
  gint64 issued = 0;
  int code;

  code = natterd_token_check (auth->server->directory, auth->app_key, auth->token, natterd_now_ms (),
                              &user, &issued);
  auth->done (code, user, issued, auth->user_data);
}

/* The user may be another node's, not heard of yet (natterd-cluster.c). */
static void
authenticate_with_app (NatterdServer *self,
                       NatterdApp    *app,
                       gpointer       user_data)
{
  Authentication *auth = user_data;

  auth->server = self;
  natterd_server_with_token_user (self, auth->token, authenticate_now, auth, authentication_free);
}

static void
host_authenticate (gpointer                 host,
                   const char              *app_key,
                   const char              *token,
                   NatterdAuthenticateDone  done,
                   gpointer                 user_data,
                   GDestroyNotify           destroy)
{
  Authentication *auth = g_new0 (Authentication, 1);

  auth->app_key = g_strdup (app_key);
  auth->token = g_strdup (token);
  auth->done = done;
  auth->user_data = user_data;
  auth->destroy = destroy;
  natterd_server_with_app (host, app_key, authenticate_with_app, auth, NULL);
}

static void
host_publish (gpointer               host,
              NatterdSession        *session,
              const Natter__Publish *publish,
              NatterdPublishDone     done,
              gpointer               user_data,
              GDestroyNotify         destroy)
{
  NatterdUser *user = natterd_session_get_user (session);
  NatterdPublishRequest request = {
    .app = user->app,
    .sender = user,
    .origin = session,
    .device_id = natterd_session_get_device_id (session),
    .client_msg_id = publish->client_msg_id,
    .conversation_type = publish->conversation_type,
    .target_id = publish->target_id,
    .object_name = publish->object_name,
    .content = publish->content,
    .push_content = publish->push_content,
    .flags = natter_object_name_flags (publish->object_name, publish->flags),
    .read_time = natterd_session_get_read_time (session),
  };

  natterd_server_publish (host, &request, done, user_data, destroy);
}

static void
host_query (gpointer             host,
            NatterdSession      *session,
            const Natter__Query *query)
{
  natterd_server_handle_query (host, session, query);
}

static void
host_acked (gpointer        host,
            NatterdSession *session)
{
  device_dirty (host, session);
}

static gboolean
refuse_connection (NatterdServer *self)
{
  return self->shutting_down ||
         (self->max_connections > 0 && g_hash_table_size (self->sessions) >= self->max_connections);
}

static void
add_session (NatterdServer  *self,
             NatterdSession *session)
{
  /* The session tells the server through session_host (host_state_changed(),
   * host_closed()), not signals: no closure per connection. */
  g_hash_table_add (self->sessions, session);
}

static void
upgrade_written (SoupServerMessage *msg,
                 gpointer           user_data)
{
  NatterdServer *self = user_data;
  g_autoptr(GSocket) socket = g_object_ref (soup_server_message_get_socket (msg));
  g_autoptr(GIOStream) stream = NULL;
  g_autoptr(GError) error = NULL;
  NatterdSession *session;

  g_signal_handlers_disconnect_by_func (msg, upgrade_written, user_data);
  stream = soup_server_message_steal_connection (msg);
  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);

  session = natterd_session_new (&self->session_host, self->sockets, stream, socket, self->tls, &error);
  if (session == NULL)
    {
      natterd_log (G_LOG_LEVEL_WARNING, "upgrade-failed", "error", error->message, NULL);
      g_io_stream_close (stream, NULL, NULL);
      return;
    }
  add_session (self, session);
}

/* Why an upgrade offering @protocol (the Sec-WebSocket-Protocol values,
 * NULL if none) is refused, or NULL. libsoup (and RFC 6455) accept an
 * upgrade that names no subprotocol at all; natterd speaks natter.v2 only,
 * and says so before a connection is made. A natter.v1 client would never
 * see group messages sent while it was away (they are no longer inbox
 * entries): it is told to update. */
static char *
check_protocol (const char *protocol)
{
  if (protocol != NULL && !soup_header_contains (protocol, NATTER_PROTOCOL_NAME) &&
      soup_header_contains (protocol, "natter.v1"))
    return g_strdup_printf ("natter.v1 is no longer served: update Natter (this server speaks %s)",
                            NATTER_PROTOCOL_NAME);
  if (protocol == NULL || !soup_header_contains (protocol, NATTER_PROTOCOL_NAME))
    return g_strdup_printf ("The WebSocket subprotocol must be %s", NATTER_PROTOCOL_NAME);
  return NULL;
}

/* The WebSocket upgrade over TLS (wss://): libsoup checks and answers the
 * handshake, then natterd-socket.c takes the connection. Plain ws:// ones
 * never get here (see the accept handlers below). */
static void
on_ws_request (SoupServer        *server,
               SoupServerMessage *msg,
               const char        *path,
               GHashTable        *query,
               gpointer           user_data)
{
  NatterdServer *self = user_data;
  char *protocols[] = { (char *) NATTER_PROTOCOL_NAME, NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *refused = NULL;

  if (refuse_connection (self))
    {
      soup_server_message_set_status (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, NULL);
      return;
    }
  refused = check_protocol (soup_message_headers_get_list (soup_server_message_get_request_headers (msg),
                                                           "Sec-WebSocket-Protocol"));
  if (refused != NULL)
    g_set_error_literal (&error, SOUP_WEBSOCKET_ERROR, SOUP_WEBSOCKET_ERROR_BAD_HANDSHAKE, refused);
  /* A connection natterd accepted and gave libsoup (a request target
   * natterd-socket.c does not take, "http://host/ws"): no socket to keep. */
  else if (soup_server_message_get_socket (msg) == NULL)
    g_set_error (&error, SOUP_WEBSOCKET_ERROR, SOUP_WEBSOCKET_ERROR_BAD_HANDSHAKE,
                 "Upgrade with GET /ws");
  if (error != NULL ||
      !soup_websocket_server_check_handshake (msg, NULL, protocols, NULL, &error))
    {
      soup_server_message_set_status (msg, SOUP_STATUS_BAD_REQUEST, NULL);
      soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_COPY, error->message,
                                        strlen (error->message));
      return;
    }
  /* No extension: permessage-deflate would keep a zlib stream per
   * connection (hundreds of KiB) for frames of a few hundred bytes. */
  if (!soup_websocket_server_process_handshake (msg, NULL, protocols, NULL, NULL))
    return;
  g_signal_connect_object (msg, "wrote-informational", G_CALLBACK (upgrade_written), self, 0);
}

/* ------------------------------------------- plain TCP: natterd accepts */

static gboolean
accept_admit (gpointer user_data)
{
  NatterdServer *self = user_data;

  return natterd_http_guard_admit (self->http_guard);
}

/* Not a WebSocket upgrade: libsoup takes it as it came (nothing was read
 * from it), the guard following it as before. */
static void
accept_handoff (gpointer user_data,
                int      fd,
                gint64   accepted)
{
  NatterdServer *self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = g_socket_new_from_fd (fd, &error);
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GSocketAddress) local = NULL;
  g_autoptr(GSocketAddress) remote = NULL;

  if (socket != NULL)
    local = g_socket_get_local_address (socket, &error);
  if (local != NULL)
    remote = g_socket_get_remote_address (socket, &error);
  if (remote == NULL)
    {
      /* Gone already (its address is unknown once reset). */
      if (socket != NULL)
        g_socket_close (socket, NULL);
      else
        close (fd);
      return;
    }
  connection = g_socket_connection_factory_create_connection (socket);
  natterd_http_guard_adopt (self->http_guard, socket, remote, accepted);
  soup_server_accept_iostream (self->soup, G_IO_STREAM (connection), local, remote, NULL);
}

static const char *
accept_check (gpointer     user_data,
              const char  *path,
              const char  *protocols,
              guint       *status,
              char       **reason)
{
  NatterdServer *self = user_data;

  if (refuse_connection (self))
    {
      *status = SOUP_STATUS_SERVICE_UNAVAILABLE;
      *reason = g_strdup (self->shutting_down ? "natterd is shutting down"
                                              : "natterd has all the connections it takes ([limits] max-connections)");
      return *reason;
    }
  *reason = check_protocol (protocols);
  *status = SOUP_STATUS_BAD_REQUEST;
  return *reason;
}

static void
accept_upgraded (gpointer user_data,
                 int      fd)
{
  NatterdServer *self = user_data;
  g_autoptr(GError) error = NULL;
  NatterdSession *session = natterd_session_new_for_fd (&self->session_host, self->sockets, fd, &error);

  if (session == NULL)
    {
      natterd_log (G_LOG_LEVEL_WARNING, "upgrade-failed", "error", error->message, NULL);
      return;
    }
  add_session (self, session);
}

static const NatterdSocketAcceptHandlers accept_handlers = {
  .admit = accept_admit,
  .handoff = accept_handoff,
  .check = accept_check,
  .upgraded = accept_upgraded,
};

#define PRUNE_INTERVAL_US (10 * 60 * G_USEC_PER_SEC)
#define PRUNE_BATCH 5000

static void
pruned (NatterdOp *base,
        gpointer   user_data)
{
  NatterdServer *self = user_data;
  NatterdPruneOp *op = (NatterdPruneOp *) base;

  if (base->error != NULL)
    {
      natterd_log (G_LOG_LEVEL_WARNING, "prune-failed", "error", base->error->message, NULL);
      return;
    }
  self->metrics->inbox_pruned += op->deleted;
  /* Small steps, so commits of messages never wait behind a long delete. */
  if ((op->deleted == op->limit || op->more || op->nonces_deleted == op->limit) && !self->shutting_down)
    {
      NatterdPruneOp *next = natterd_op_new (NATTERD_OP_PRUNE, pruned, self, NULL);

      next->before = op->deleted == op->limit || op->more ? op->before : 0;
      next->nonces_before = op->nonces_deleted == op->limit ? op->nonces_before : 0;
      next->limit = PRUNE_BATCH;
      natterd_store_submit (self->store, next);
    }
}

/* Offline messages wait in inboxes for inbox-retention-days (history keeps
 * the messages themselves); server API nonces are kept on disk until their
 * timestamp could no longer pass. */
static void
maybe_prune (NatterdServer *self,
             gint64         now)
{
  NatterdPruneOp *op;

  if (now - self->last_prune < PRUNE_INTERVAL_US)
    return;
  self->last_prune = now;

  op = natterd_op_new (NATTERD_OP_PRUNE, pruned, self, NULL);
  if (self->config->inbox_retention_days > 0)
    op->before = natterd_now_ms () - (gint64) self->config->inbox_retention_days * 24 * 3600 * 1000;
  op->nonces_before = g_get_real_time () / G_USEC_PER_SEC;
  op->limit = PRUNE_BATCH;
  natterd_store_submit (self->store, op);
}

/* ------------------------------------------------------------------ sweep */

/* Latency or throughput: the adaptive time slices' cue (#17). */
static void
note_rate (NatterdServer *self,
           gint64         now)
{
  guint64 published = 0;
  guint64 delivered = self->metrics->messages_delivered;

  for (guint i = 0; i < G_N_ELEMENTS (self->metrics->messages_published); i++)
    published += self->metrics->messages_published[i];
  if (self->rate_at > 0 && now > self->rate_at)
    natterd_sched_note_rate ((double) MAX (published - self->rate_published, delivered - self->rate_delivered) *
                             G_USEC_PER_SEC / (double) (now - self->rate_at));
  self->rate_at = now;
  self->rate_published = published;
  self->rate_delivered = delivered;
}

static gboolean
sweep (gpointer user_data)
{
  NatterdServer *self = user_data;
  gint64 now = g_get_monotonic_time ();
  gint64 connect_deadline = now - (gint64) self->config->connect_timeout * G_USEC_PER_SEC;
  /* Clients ping every ping_interval; two missed pings and some slack. */
  gint64 idle_deadline = now - ((gint64) self->config->ping_interval * 2 + 10) * G_USEC_PER_SEC;
  g_autoptr(GPtrArray) stale = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) reasons = g_ptr_array_new ();
  GHashTableIter iter;
  NatterdSession *session;

  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, (gpointer *) &session, NULL))
    {
      const char *reason = natterd_session_check_deadlines (session, connect_deadline, idle_deadline);

      if (reason != NULL)
        {
          g_ptr_array_add (stale, g_object_ref (session));
          g_ptr_array_add (reasons, (gpointer) reason);
        }
    }

  /* Closing may drop a session from the table: not while iterating it. */
  for (guint i = 0; i < stale->len; i++)
    natterd_session_close (g_ptr_array_index (stale, i), SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION,
                           g_ptr_array_index (reasons, i));

  if (self->http_guard != NULL)
    natterd_http_guard_sweep (self->http_guard);

  if (now - self->last_device_flush >= DEVICE_FLUSH_INTERVAL_US)
    natterd_server_flush_devices (self);

  natterd_server_chatroom_sweep (self);
  natterd_server_prune_nonces (self);
  maybe_prune (self, now);
  note_rate (self, now);

  return G_SOURCE_CONTINUE;
}

static void
observe_batch (guint    n_ops,
               gint64   duration_us,
               gpointer user_data)
{
  NatterdServer *self = user_data;

  natterd_histogram_observe (&self->metrics->commit_size, natterd_size_buckets, n_ops);
  natterd_histogram_observe (&self->metrics->commit_duration, natterd_latency_buckets,
                             (double) duration_us / G_USEC_PER_SEC);
  /* The batch's PublishAcks and deliveries leave now, not an iteration later. */
  if (self->sockets != NULL)
    natterd_socket_loop_flush (self->sockets);
  if (self->stage_stamps->len > 0)
    {
      gint64 written = g_get_monotonic_time ();

      for (guint i = 0; i < self->stage_stamps->len; i++)
        natterd_metrics_observe_stages (self->metrics,
                                        &g_array_index (self->stage_stamps, NatterdStageStamps, i),
                                        written);
      g_array_set_size (self->stage_stamps, 0);
    }
  if (self->ack_stamps->len > 0)
    {
      gint64 written = g_get_monotonic_time ();

      for (guint i = 0; i < self->ack_stamps->len; i++)
        {
          NatterdStageStamps *stamps = &g_array_index (self->ack_stamps, NatterdStageStamps, i);

          stamps->fanout_us = natterd_server_fanout_time_between (self, stamps->ready, written);
          natterd_metrics_observe_ack (self->metrics, stamps, written);
        }
      g_array_set_size (self->ack_stamps, 0);
    }
}

void
natterd_server_time_iterations (NatterdServer *self)
{
  g_return_if_fail (NATTERD_IS_SERVER (self));

  natterd_metrics_time_iterations (self->metrics);
}

/* --------------------------------------------------------------- lifetime */

static void
natterd_server_finalize (GObject *object)
{
  NatterdServer *self = NATTERD_SERVER (object);

  g_clear_handle_id (&self->sweep_id, g_source_remove);
  g_clear_handle_id (&self->history_id, g_source_remove);
  natterd_server_fanout_clear (self);
  g_clear_handle_id (&self->apps_reload_id, g_source_remove);
  g_clear_pointer (&self->app_waiters, g_ptr_array_unref);
  if (self->sessions != NULL)
    {
      GHashTableIter iter;
      NatterdSession *session;

      /* Pending ops may keep a session alive past the server. */
      g_hash_table_iter_init (&iter, self->sessions);
      while (g_hash_table_iter_next (&iter, (gpointer *) &session, NULL))
        natterd_session_forget_host (session);
      g_clear_pointer (&self->sessions, g_hash_table_unref);
    }
  g_clear_pointer (&self->dirty_devices, g_hash_table_unref);
  g_clear_object (&self->cluster);
  g_clear_object (&self->soup);
  g_clear_object (&self->http_guard);
  g_clear_pointer (&self->sockets, natterd_socket_loop_free);
  g_clear_object (&self->listener);
  g_clear_object (&self->soup_anchor[0]);
  g_clear_object (&self->soup_anchor[1]);
  /* Before the directory: its queues point to the apps. */
  g_clear_object (&self->webhooks);
  g_clear_pointer (&self->accounts, natterd_accounts_free);
  g_clear_pointer (&self->directory, natterd_directory_free);
  g_clear_object (&self->store);
  g_clear_pointer (&self->metrics, natterd_metrics_free);
  g_clear_pointer (&self->stage_stamps, g_array_unref);
  g_clear_pointer (&self->ack_stamps, g_array_unref);
  g_clear_pointer (&self->health, natterd_health_free);
  g_free (self->channel_clock);
  g_free (self->url);
  g_free (self->public_url);
  g_free (self->data_dir);

  G_OBJECT_CLASS (natterd_server_parent_class)->finalize (object);
}

static void
natterd_server_class_init (NatterdServerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = natterd_server_finalize;
}

static void
natterd_server_init (NatterdServer *self)
{
  self->sessions = g_hash_table_new_full (NULL, NULL, g_object_unref, NULL);
  self->dirty_devices = g_hash_table_new_full (NULL, NULL, g_object_unref, NULL);
  self->app_waiters = g_ptr_array_new_with_free_func (app_waiter_free);
  self->fanout_lanes = g_hash_table_new (g_str_hash, g_str_equal);
  self->channel_clock = g_new0 (gint64, NATTERD_CHANNEL_CLOCK_SLOTS);
  self->directory = natterd_directory_new ();
  self->metrics = natterd_metrics_new ();
  self->stage_stamps = g_array_new (FALSE, FALSE, sizeof (NatterdStageStamps));
  self->ack_stamps = g_array_new (FALSE, FALSE, sizeof (NatterdStageStamps));
  self->health = natterd_health_new (self);
  self->session_host = (NatterdSessionHost) {
    .host = self,
    .metrics = self->metrics,
    .authenticate = host_authenticate,
    .publish = host_publish,
    .query = host_query,
    .acked = host_acked,
    .state_changed = host_state_changed,
    .closed = host_closed,
  };
  self->last_device_flush = g_get_monotonic_time ();
  /* The first prune runs shortly after start, not during it. */
  self->last_prune = self->last_device_flush - PRUNE_INTERVAL_US + 2 * G_USEC_PER_SEC;
}

NatterdServer *
natterd_server_new (NatterdConfig  *config,
                    NatterdStore   *store,
                    GError        **error)
{
  g_autoptr(NatterdServer) self = g_object_new (NATTERD_TYPE_SERVER, NULL);

  self->config = config;
  self->store = g_object_ref (store);
  self->session_host.store = store;
  self->session_host.ping_interval = config->ping_interval;
  self->session_host.shared_store = g_str_equal (config->store_backend, "postgresql");
  self->data_dir = g_strdup (config->data_dir);

  if (!natterd_store_load (store, natterd_directory_load_sink (), self->directory, error))
    return NULL;

  natterd_store_set_min_free (store, config->data_dir, config->store_min_free);

  natterd_store_set_batch_observer (store, observe_batch, self);
  natterd_store_start (store, config->store_batch_max);
  self->webhooks = natterd_webhooks_new (config, store, self->directory, self->metrics);
  natterd_webhooks_load (self->webhooks);
  return g_steal_pointer (&self);
}

static GSocketAddress *
parse_listen (const char  *listen,
              GError     **error)
{
  g_autoptr(GSocketConnectable) connectable = g_network_address_parse (listen, 0, error);
  g_autoptr(GInetAddress) address = NULL;
  const char *host;

  if (connectable == NULL)
    return NULL;

  host = g_network_address_get_hostname (G_NETWORK_ADDRESS (connectable));
  address = g_inet_address_new_from_string (host);
  if (address == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "--listen needs an IP address and a port (127.0.0.1:8470, [::1]:8470), not %s",
                   listen);
      return NULL;
    }

  return g_inet_socket_address_new (address, g_network_address_get_port (G_NETWORK_ADDRESS (connectable)));
}

static void
on_metrics (SoupServer        *server,
            SoupServerMessage *msg,
            const char        *path,
            GHashTable        *query,
            gpointer           user_data)
{
  NatterdServer *self = user_data;
  g_autoptr(GString) text = natterd_metrics_render (self);
  gsize length = text->len;

  if (soup_server_message_get_method (msg) != SOUP_METHOD_GET)
    {
      soup_server_message_set_status (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, NULL);
      return;
    }
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "text/plain; version=0.0.4; charset=utf-8",
                                    SOUP_MEMORY_TAKE, g_string_free (g_steal_pointer (&text), FALSE),
                                    length);
}

/* Every connection is a descriptor: take all the kernel allows (the soft
 * limit is often 1024 while the hard one is far higher), and stop accepting
 * well before the end of it, or accept() fails and libsoup's listener gives
 * up for good. Returns how many connections of any kind may be open;
 * max-connections (WebSockets, 503 beyond) defaults to the same. */
static guint
limit_connections (NatterdServer *self)
{
  struct rlimit limit = { 0 };
  guint64 fds;
  guint safe;
  char fds_text[24], max_text[16], safe_text[16];

  if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max)
    {
      struct rlimit raised = limit;

      raised.rlim_cur = limit.rlim_max;
      if (setrlimit (RLIMIT_NOFILE, &raised) == 0)
        limit = raised;
    }
  fds = limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur == 0 ? 1024 * 1024 : (guint64) limit.rlim_cur;

  safe = natterd_http_guard_safe_connections (fds);
  self->max_connections = self->config->max_connections > 0 ? self->config->max_connections : safe;

  g_snprintf (fds_text, sizeof fds_text, "%" G_GUINT64_FORMAT, fds);
  g_snprintf (max_text, sizeof max_text, "%u", self->max_connections);
  g_snprintf (safe_text, sizeof safe_text, "%u", safe);
  if (self->max_connections > safe)
    natterd_log (G_LOG_LEVEL_WARNING, "max-connections-unsafe", "max-connections", max_text,
                 "open-file-limit", fds_text, "safe", safe_text, NULL);
  else
    natterd_log (G_LOG_LEVEL_INFO, "limits", "max-connections", max_text,
                 "open-file-limit", fds_text, "connections", safe_text, NULL);
  return MAX (self->max_connections, safe);
}

gboolean
natterd_server_listen (NatterdServer  *self,
                       GError        **error)
{
  g_autoptr(GSocketAddress) address = parse_listen (self->config->listen, error);
  g_autoptr(GTlsCertificate) certificate = NULL;
  g_autoptr(GInetAddress) bound = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) local = NULL;
  g_autofree char *host = NULL;
  int port = 0;

  if (address == NULL)
    return FALSE;

  if ((self->config->tls_cert != NULL) != (self->config->tls_key != NULL))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           "--tls-cert and --tls-key go together");
      return FALSE;
    }
  if (self->config->tls_cert != NULL)
    {
      certificate = g_tls_certificate_new_from_files (self->config->tls_cert,
                                                      self->config->tls_key, error);
      if (certificate == NULL)
        return FALSE;
    }

  self->soup = soup_server_new ("server-header", "natterd/" PACKAGE_VERSION " ",
                                "tls-certificate", certificate, NULL);
  self->tls = certificate != NULL;
  self->http_guard = natterd_http_guard_new (self->soup, self->tls, self->config->header_timeout,
                                             self->config->body_timeout, limit_connections (self));
  self->sockets = natterd_socket_loop_new (2 * NATTER_FRAME_MAX_SIZE, error);
  if (self->sockets == NULL)
    return FALSE;
  natterd_socket_loop_set_stall_timeout (self->sockets, self->config->fanout_stall);
  soup_server_add_handler (self->soup, "/ws", on_ws_request, self, NULL);
  soup_server_add_handler (self->soup, "/metrics", on_metrics, self, NULL);
  soup_server_add_handler (self->soup, "/healthz", natterd_health_handle_request, self, NULL);
  natterd_server_setup_api (self);
  natterd_server_setup_accounts (self);
  natterd_server_setup_media (self);
  natterd_server_setup_navi (self);

  /* GSocketListener's backlog of 10 drops connections when a few hundred
   * clients reconnect at once (after a restart): use a real one. */
  socket = g_socket_new (g_socket_address_get_family (address), G_SOCKET_TYPE_STREAM,
                         G_SOCKET_PROTOCOL_TCP, error);
  if (socket == NULL)
    return FALSE;
  g_socket_set_option (socket, SOL_SOCKET, SO_REUSEADDR, 1, NULL);
  g_socket_set_listen_backlog (socket, LISTEN_BACKLOG);
  if (!g_socket_bind (socket, address, TRUE, error) || !g_socket_listen (socket, error))
    return FALSE;
  if (certificate != NULL)
    {
      /* wss://: libsoup accepts, does the TLS handshake and the upgrade. */
      if (!soup_server_listen_socket (self->soup, socket, SOUP_SERVER_LISTEN_HTTPS, error))
        return FALSE;
    }
  else
    {
      /* ws://: natterd accepts and answers WebSocket upgrades itself (a
       * few hundred bytes and no GObject per connection, where libsoup
       * kept ~10 KiB); every other request goes to libsoup. */
      int pair[2];

      /* libsoup 3.2 keeps a connection alive only while it has a listener
       * of its own (request_finished() in soup-server.c): it gets one end
       * of a socket pair, connected, so soup_server_listen_socket() takes
       * it, and with nothing ever to accept. */
      if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
        {
          int saved = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "socketpair: %s", g_strerror (saved));
          return FALSE;
        }
      self->soup_anchor[0] = g_socket_new_from_fd (pair[0], NULL);
      self->soup_anchor[1] = g_socket_new_from_fd (pair[1], NULL);
      if (self->soup_anchor[0] == NULL || self->soup_anchor[1] == NULL ||
          !soup_server_listen_socket (self->soup, self->soup_anchor[0], 0, error))
        {
          if (error != NULL && *error == NULL)
            g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "Cannot set up the HTTP server");
          return FALSE;
        }

      natterd_http_guard_set_sockets (self->http_guard, self->sockets);
      if (!natterd_socket_loop_listen (self->sockets, g_socket_get_fd (socket), "/ws", NATTER_PROTOCOL_NAME,
                                       self->config->header_timeout, MAX_UPGRADE_HEADER,
                                       &accept_handlers, self, error))
        return FALSE;
      self->listener = g_object_ref (socket);
    }

  local = g_socket_get_local_address (socket, error);
  if (local == NULL)
    return FALSE;
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));

  bound = g_object_ref (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address)));
  host = g_inet_address_to_string (bound);
  self->url = g_strdup_printf ("%s://%s%s%s:%d", certificate != NULL ? "https" : "http",
                               strchr (host, ':') ? "[" : "", host, strchr (host, ':') ? "]" : "",
                               port);
  self->public_url = g_strdup (self->config->public_url != NULL ? self->config->public_url : self->url);
  while (g_str_has_suffix (self->public_url, "/"))
    self->public_url[strlen (self->public_url) - 1] = '\0';

  if (self->config->cluster_nats != NULL)
    {
      self->cluster = natterd_cluster_new (self, self->config->cluster_nats, self->config->cluster_node_name,
                                           self->public_url, self->config->ping_interval, error);
      if (self->cluster == NULL)
        return FALSE;
      /* 503 while this node cannot reach the others. */
      natterd_health_add_check (self, "nats", natterd_cluster_health_check, self->cluster);
    }

  natterd_webhooks_start (self->webhooks);
  self->sweep_id = g_timeout_add (SWEEP_INTERVAL_MS, sweep, self);
  natterd_server_setup_history (self);

  natterd_log (G_LOG_LEVEL_INFO, "listening", "url", self->url, "data-dir", self->data_dir, NULL);
  return TRUE;
}

const char *
natterd_server_get_url (NatterdServer *self)
{
  return self->url;
}

static void
committed_cb (NatterdOp *op,
              gpointer   user_data)
{
  *(gboolean *) user_data = TRUE;
}

void
natterd_server_shutdown (NatterdServer *self)
{
  g_autoptr(GPtrArray) sessions = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  NatterdSession *session;
  char count[16];
  gint64 deadline;
  gboolean committed = FALSE;

  if (self->shutting_down)
    return;
  self->shutting_down = TRUE;
  self->session_host.stopping = TRUE;

  g_snprintf (count, sizeof count, "%u", g_hash_table_size (self->sessions));
  natterd_log (G_LOG_LEVEL_INFO, "shutdown", "connections", count, NULL);

  if (self->soup != NULL)
    soup_server_disconnect (self->soup);
  if (self->listener != NULL)
    {
      natterd_socket_loop_unlisten (self->sockets);
      g_socket_close (self->listener, NULL);
    }
  g_clear_handle_id (&self->sweep_id, g_source_remove);
  g_clear_handle_id (&self->history_id, g_source_remove);
  if (self->cluster != NULL)
    natterd_cluster_stop (self->cluster);

  /* What was received is committed and acknowledged before connections
   * close, so clients resend as little as possible. */
  natterd_server_flush_devices (self);
  natterd_store_submit (self->store, natterd_op_new (NATTERD_OP_BARRIER, committed_cb, &committed, NULL));
  while (!committed)
    g_main_context_iteration (NULL, TRUE);

  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, (gpointer *) &session, NULL))
    g_ptr_array_add (sessions, g_object_ref (session));
  for (guint i = 0; i < sessions->len; i++)
    natterd_session_close (g_ptr_array_index (sessions, i), SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
                           "Server shutting down");

  deadline = g_get_monotonic_time () + G_USEC_PER_SEC / 2;
  while (g_hash_table_size (self->sessions) > 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);

  /* The store still runs: delivered events are forgotten, the rest stays. */
  natterd_webhooks_drain (self->webhooks);
  natterd_store_stop (self->store);
}
