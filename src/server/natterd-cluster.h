/* natterd-cluster.h — several natterd nodes as one service, over NATS
 *
 * Owns the natsConnection ([cluster] nats, node-name). libnats runs its
 * callbacks on its own threads: they only queue what arrived, and the
 * main context handles it; publishing goes through a thread of its own,
 * so the main loop never waits for NATS. What travels (docs/scale-out.md,
 * "Between nodes"): every node announces itself and the sessions it holds
 * each ping interval and each connect or disconnect at once; deliveries
 * go to the nodes where their recipients are; directory changes go to
 * every node.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <json-glib/json-glib.h>

#include "natterd-directory.h"
#include "natterd-server.h"
#include "natterd-session.h"

G_BEGIN_DECLS

#define NATTERD_TYPE_CLUSTER (natterd_cluster_get_type ())
G_DECLARE_FINAL_TYPE (NatterdCluster, natterd_cluster, NATTERD, CLUSTER, GObject)

/* Starts connecting (in the background, forever); @url is what clients
 * of this node connect to. FALSE and @error for a bad configuration. */
NatterdCluster *natterd_cluster_new          (NatterdServer        *server,
                                              const char           *nats_urls,
                                              const char           *node_name,
                                              const char           *url,
                                              guint                 ping_interval,
                                              GError              **error);
/* Tells the other nodes this one leaves, and closes the connection. */
void            natterd_cluster_stop         (NatterdCluster       *self);
gboolean        natterd_cluster_is_connected (NatterdCluster       *self);
/* For GET /healthz (natterd_health_add_check()): @data is the cluster. */
gboolean        natterd_cluster_health_check (gpointer              data,
                                              char                **reason);

/* The live nodes (NatterdNaviNode*), this one first. */
GPtrArray      *natterd_cluster_get_nodes    (NatterdCluster       *self);

/* Presence: a session of this node connected or went away. */
void            natterd_cluster_session_connected    (NatterdCluster *self,
                                                      NatterdSession *session);
void            natterd_cluster_session_disconnected (NatterdCluster *self,
                                                      NatterdSession *session);
/* The devices of @user connected to other nodes: "device\nplatform" each. */
GPtrArray      *natterd_cluster_remote_devices (NatterdCluster     *self,
                                                NatterdUser        *user);

/* Deliveries to the other nodes that hold a session concerned. */
void            natterd_cluster_send_inbox    (NatterdCluster       *self,
                                               NatterdUser          *user,
                                               guint64               seq,
                                               const NatterdMessage *message);
void            natterd_cluster_send_timeline (NatterdCluster       *self,
                                               NatterdApp           *app,
                                               const NatterdMessage *message,
                                               gboolean              sender_devices);
void            natterd_cluster_send_room     (NatterdCluster       *self,
                                               NatterdApp           *app,
                                               const NatterdMessage *message);
void            natterd_cluster_send_status   (NatterdCluster       *self,
                                               NatterdApp           *app,
                                               const NatterdMessage *message,
                                               gboolean              multi_device);

/* A directory change committed here: every other node applies it
 * (natterd_server_apply_change()). @change is a JSON object with at least
 * "kind"; it is sent with "app" set to @app's key. */
void            natterd_cluster_send_change   (NatterdCluster       *self,
                                               NatterdApp           *app,
                                               JsonBuilder          *change);

/* The apps table changed (SIGHUP after --set-app): every node reads it. */
void            natterd_cluster_send_reload_apps (NatterdCluster    *self);

/* JSON <-> NatterdMessage, as it travels between nodes. */
void            natterd_cluster_add_message   (JsonBuilder          *builder,
                                               const NatterdMessage *message);
gboolean        natterd_cluster_read_message  (JsonObject           *object,
                                               NatterdMessage       *out);

/* What one NATS message from another node carries, checked. */
typedef enum {
  NATTERD_CLUSTER_NODE,
  NATTERD_CLUSTER_ON,
  NATTERD_CLUSTER_OFF,
  NATTERD_CLUSTER_BYE,
  NATTERD_CLUSTER_APPS,
  NATTERD_CLUSTER_HEAD,
  NATTERD_CLUSTER_CHANGE,
  NATTERD_CLUSTER_INBOX,
  NATTERD_CLUSTER_TIMELINE,
  NATTERD_CLUSTER_ROOM,
  NATTERD_CLUSTER_STATUS,
} NatterdClusterType;

typedef struct
{
  NatterdClusterType type;
  JsonObject        *object;            /* JSON: the whole payload (a ref); NULL from a protobuf batch */
  gpointer           owner;             /* protobuf: what the strings are borrowed from (a ref) */
  const char        *node;              /* a valid node name; strings borrowed from @object or @owner */
  const char        *app;               /* set for every type but node, bye and apps */
  const char        *user;              /* on, off, head, inbox */
  guint64            seq;               /* head, inbox: > 0 */
  NatterdMessage     message;           /* inbox, timeline, room, status */
  gboolean           sender_devices;    /* timeline */
  gboolean           multi_device;      /* status */
} NatterdClusterPayload;

void            natterd_cluster_payload_free  (gpointer              payload);
gboolean        natterd_cluster_node_name_is_valid (const char      *name);

/* The payloads of one NATS message: JSON (an object or an array of them:
 * what travels on the "all" subject, and deliveries from nodes older
 * than the protobuf batches) or a protobuf batch of deliveries
 * (natterd-cluster.proto), told apart by the first byte. NatterdClusterPayload
 * each, what is malformed or unknown left out; NULL and @error when it is
 * neither valid JSON of an object or array nor a batch this node reads. */
GPtrArray      *natterd_cluster_decode        (const char           *data,
                                               gsize                 length,
                                               GError              **error);

G_END_DECLS
