/* natterd-health.h — GET /healthz: is this node fit to serve?
 *
 * Checks are registered by name; /healthz runs them all and answers
 * 200 {"code":200} when every one passes, else 503
 * {"code":30002,"reason":"<name>: <reason>"} naming the first that fails.
 * A check runs on the main loop and must not block: it reads state that
 * something else refreshes asynchronously. Before running them /healthz
 * refreshes the store's (a write barrier, answered within 2 s).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <libsoup/soup.h>

#include "natterd-server.h"

G_BEGIN_DECLS

/* TRUE when healthy; otherwise FALSE and a newly allocated @reason. */
typedef gboolean (*NatterdHealthCheck) (gpointer   data,
                                        char     **reason);

typedef struct _NatterdHealth NatterdHealth;

void           natterd_health_add_check (NatterdServer      *server,
                                         const char         *name,
                                         NatterdHealthCheck  check,
                                         gpointer            data);

/* natterd-server.c: made with the server (it registers the "store" check),
 * freed with it; handle_request serves /healthz. */
NatterdHealth *natterd_health_new       (NatterdServer      *server);
void           natterd_health_free      (NatterdHealth      *health);
void           natterd_health_handle_request (SoupServer        *soup,
                                              SoupServerMessage *msg,
                                              const char        *path,
                                              GHashTable        *query,
                                              gpointer           user_data);

G_END_DECLS
