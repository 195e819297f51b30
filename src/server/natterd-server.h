/* natterd-server.h — natterd: the client protocol, the server API, media
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "natterd-config.h"
#include "natterd-store.h"

G_BEGIN_DECLS

#define NATTERD_TYPE_SERVER (natterd_server_get_type ())
G_DECLARE_FINAL_TYPE (NatterdServer, natterd_server, NATTERD, SERVER, GObject)

/* Loads the directory from @store (which must not be started yet) and
 * starts its threads. @config must outlive the server. */
NatterdServer *natterd_server_new         (NatterdConfig  *config,
                                           NatterdStore   *store,
                                           GError        **error);
/* Listens on config->listen; the URL is http(s)://host:port with the real
 * port when the configured one is 0. */
gboolean       natterd_server_listen      (NatterdServer  *self,
                                           GError        **error);
const char    *natterd_server_get_url     (NatterdServer  *self);
/* SIGHUP: app settings and apps created meanwhile. */
void           natterd_server_reload_apps (NatterdServer  *self);
/* Stops listening, lets the writer commit and acknowledge what it has,
 * closes every connection (1001) and stops the store. */
void           natterd_server_shutdown    (NatterdServer  *self);
/* Its /metrics time the default main context's iterations from now on
 * (natterd_main_iteration_seconds); main thread. */
void           natterd_server_time_iterations (NatterdServer *self);

/* natterd --create-invite APPKEY (natterd-accounts.c): stores a one-use
 * invite code and prints it as JSON; the exit status. */
int            natterd_accounts_create_invite (NatterdStore *store,
                                               const char   *app_key);

G_END_DECLS
