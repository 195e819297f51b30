/* natterd-navi.h — GET /navi.json: the client URLs of the live nodes
 *
 * RongCloud's "navi": a client that knows one node learns the others and
 * moves to one of them when its own dies. A single natterd lists itself;
 * the cluster layer (natterd-cluster.c) makes natterd_server_navi_nodes()
 * return the live cluster nodes.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "natterd-server.h"

G_BEGIN_DECLS

typedef struct {
  char *name;
  char *url;     /* what a client puts in --server: public-url or the listen URL */
} NatterdNaviNode;

NatterdNaviNode *natterd_navi_node_new  (const char      *name,
                                         const char      *url);
void             natterd_navi_node_free (NatterdNaviNode *node);

/* The live nodes, the answering node first (NatterdNaviNode*, owned). */
GPtrArray       *natterd_server_navi_nodes (NatterdServer *self);
/* Serves GET /navi.json on the server's SoupServer. */
void             natterd_server_setup_navi (NatterdServer *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NatterdNaviNode, natterd_navi_node_free)

G_END_DECLS
