/* natter-server-list.h — the natterd nodes a client may use
 *
 * The nodes configured (a comma-separated list of URLs), then those the
 * /navi.json of a configured node names; one of them is the node in use.
 *
 * Signals:
 *   nodes-learnt (guint n_learnt)  a /navi.json added @n_learnt nodes
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The URLs of a comma-separated list, each checked (http[s]://host[:port]);
 * NULL with INVALID_PARAMETER naming the first bad one, or when none. */
GStrv         natter_server_urls_parse     (const char   *list,
                                            GError      **error);

/* "scheme://host:port" of an http(s) URL, lower case, the default port
 * spelled out so that http://h/ and http://h:80/ are one origin; NULL for
 * anything else. */
char         *natter_uri_dup_origin        (GUri         *uri);

#define NATTER_TYPE_SERVER_LIST (natter_server_list_get_type ())

G_DECLARE_FINAL_TYPE (NatterServerList, natter_server_list, NATTER, SERVER_LIST, GObject)

/* Every URL of @list (ws[s]:// taken too), in order, the first in use. A
 * bad one is left out (and said); none at all still gives a list, of one
 * node that cannot be reached. */
NatterServerList *natter_server_list_new          (const char       *list);
/* The node in use: its URL as configured or named, ws[s]://host:port/path/ws
 * and http[s]://host:port/media. */
const char       *natter_server_list_get_url      (NatterServerList *self);
GUri             *natter_server_list_get_ws_uri   (NatterServerList *self);
const char       *natter_server_list_get_media_url (NatterServerList *self);
guint             natter_server_list_get_n_nodes  (NatterServerList *self);
/* The next node comes in use (after the last, the first again); FALSE
 * when there is only one. */
gboolean          natter_server_list_next         (NatterServerList *self);
/* @origin ("scheme://host:port", lower case, the port given) is one of the
 * nodes, or one natterd named as its own: the origins that get credentials. */
gboolean          natter_server_list_has_origin   (NatterServerList *self,
                                                   const char       *origin);
/* natterd's media may live under its public-url rather than the address
 * the client uses: what natterd itself names in a reply is natterd. */
void              natter_server_list_add_origin   (NatterServerList *self,
                                                   const char       *origin);
/* Every node, the configured ones first. */
GStrv             natter_server_list_dup_urls     (NatterServerList *self);
/* GET /navi.json of the node in use, without credentials, when the user
 * configured it and no fetch is under way; what it names (same scheme) is
 * added, at most 64 nodes, from a document of at most 64 KiB. */
void              natter_server_list_fetch_navi   (NatterServerList *self);
/* Stops a fetch under way (disconnect, dispose). */
void              natter_server_list_cancel_navi  (NatterServerList *self);

G_END_DECLS
