/* natterd-cluster-wire.h — deliveries between nodes as protobuf
 * (natterd-cluster.proto): packing, batching, checked decoding
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "natterd-cluster.h"

G_BEGIN_DECLS

/* What this natterd writes and the highest it reads. */
#define NATTERD_CLUSTER_WIRE_VERSION 1
/* Refused unread past these (a batch is flushed at 64 KiB plus one
 * delivery of at most a frame: far below). */
#define NATTERD_CLUSTER_BATCH_MAX_SIZE       (8 * 1024 * 1024)
#define NATTERD_CLUSTER_BATCH_MAX_DELIVERIES 65536

/* One delivery (inbox, timeline, room, status, head: what
 * natterd_cluster_wire_decode() gives back), packed once and appended to
 * the batch of every node it goes to. */
guint8   *natterd_cluster_wire_pack    (const NatterdClusterPayload *payload,
                                        gsize                       *length);
/* @batch empty: the header of a batch from node @node. */
void      natterd_cluster_wire_begin   (GString                     *batch,
                                        const char                  *node);
void      natterd_cluster_wire_append  (GString                     *batch,
                                        const guint8                *packed,
                                        gsize                        length);
/* A whole batch of @payloads from @node (tests and seeds). */
GBytes   *natterd_cluster_wire_encode  (const char                  *node,
                                        GPtrArray                   *payloads);

/* Adds to @payloads (freed with natterd_cluster_payload_free()) what
 * @data carries that this node understands and that passes the checks;
 * FALSE and @error when @data is no batch, too large, of a newer version,
 * or from an invalid node name. */
gboolean  natterd_cluster_wire_decode  (const guint8                *data,
                                        gsize                        length,
                                        GPtrArray                   *payloads,
                                        GError                     **error);

G_END_DECLS
