/* natterd-cluster.c — several natterd nodes as one service, over NATS
 *
 * Subjects (prefix natter.default.):
 *   all          every node: announcements (who is here, which sessions),
 *                presence deltas, directory changes
 *   node.<name>  one node: deliveries for the sessions it holds
 * A node knows where every user is connected (the presence it hears), so
 * a delivery goes once to each node that holds a recipient, and a group
 * message once to each node that holds a member: per-node subjects keep
 * the subscriptions fixed (two per node) however often users come and go,
 * where per-user subjects would change the server's interest graph at
 * every connect.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-cluster.h"

#include <nats/nats.h>
#include <string.h>
#include <time.h>

#include "natter-json.h"
#include "natterd-cluster-wire.h"
#include "natterd-log.h"
#include "natterd-navi.h"
#include "natterd-server-private.h"

#define SUBJECT_PREFIX "natter.default."
/* How often the nodes table is checked for silent nodes. */
#define SWEEP_MS 250
/* Reconnect backoff: 100 ms doubling up to this, forever. */
#define RECONNECT_MAX_MS 2000
/* Events handled per main-loop iteration: a burst from NATS waits its turn
 * beside the WebSockets instead of holding the loop. */
#define DRAIN_BATCH 256
/* Deliveries to one node made in one main-loop iteration travel as one
 * NATS message (a protobuf batch, or a JSON array to an older node), up
 * to about this many bytes. */
#define BATCH_BYTES (64 * 1024)
/* What may wait for the publishing thread (a NATS server that stopped
 * reading); past it live deliveries are dropped: the store has them. */
#define OUTBOX_MAX_BYTES (64 * 1024 * 1024)

typedef enum {
  EVENT_MESSAGE,
  EVENT_CONNECTED,
  EVENT_DISCONNECTED,
} EventKind;

typedef struct
{
  EventKind kind;
  char     *subject;
  GBytes   *data;
} Event;

typedef struct
{
  char   *subject;                      /* NULL: the publisher stops */
  GBytes *data;
} Outgoing;

/* What libnats's threads hold: it outlives the cluster if they call late. */
typedef struct
{
  gatomicrefcount  ref_count;
  GAsyncQueue     *inbox;               /* Event */
  GMainContext    *context;
  gint             scheduled;
  gssize           queued;              /* bytes in the outbox (atomic) */
  NatterdCluster  *cluster;             /* main thread only; NULL once gone */
} Shared;

typedef struct
{
  char       *name;
  char       *url;                      /* NULL until it announced itself */
  gint64      last_seen;                /* monotonic µs */
  gint64      started;                  /* its "started" (wall µs): a new value is a restart; 0 until heard */
  GHashTable *users;                    /* "app\nuser" → GPtrArray of "device\nplatform" */
  guint       wire;                     /* the batch version it reads (its announcement); 0: JSON only */
  GString    *batch;                    /* deliveries not yet published; NULL if none */
  gboolean    batch_json;               /* @batch is "[{…},{…}" (for a node of wire 0), else a protobuf batch */
} Node;

struct _NatterdCluster
{
  GObject          parent_instance;

  NatterdServer   *server;              /* not a ref: the server owns this */
  char            *name;
  char            *url;
  char            *node_subject;
  gint64           started;             /* wall µs: tells a restart of this node from a late message */
  guint            ping_interval;       /* s */
  char           **servers;

  Shared          *shared;
  GAsyncQueue     *outbox;              /* Outgoing, for the publisher thread */
  GThread         *publisher;
  gint             connected;           /* atomic */
  gboolean         stopped;

  GHashTable      *nodes;               /* name → Node, the others */
  guint            flush_id;            /* publishes the nodes' batches */
  GHashTable      *logins;              /* NatterdSession* (connected here) → gint64* wall ms */
  guint            announce_id;
  guint            sweep_id;

  /* Directory refreshes from a shared store (what changed while this
   * node heard nobody): one at a time, one more if asked meanwhile. */
  gboolean         shared_store;
  gboolean         ever_connected;
  gboolean         refreshing;
  gboolean         refresh_again;
  guint            refresh_retry_id;
  guint            accounts_retry_id;   /* the account rows of the refresh, read again */
  gint64           refresh_began;       /* monotonic µs, of the refresh running */
  guint64          refresh_since;       /* natterd_directory_stamp() as the refresh began */
  char            *refresh_from;        /* the horizon the refresh reads changes from; NULL: all */
  guint            merge_id;            /* the read-back being merged, a slice an iteration */
  /* The store's transaction horizon, sampled while connected (Horizon,
   * oldest first): a read-back reads only what changed from one taken
   * well before anything could be missed over NATS (@lost_since). */
  GQueue           horizons;
  guint            horizon_id;
  gboolean         horizon_reading;
  gint64           lost_since;          /* monotonic µs: NATS lost, a node silent; 0: nothing; 1: unknown */
  /* Read-backs while NATS stays down (a removal made elsewhere meanwhile
   * holds here without waiting for NATS); refresh_apart: the one running
   * began so. */
  guint            apart_id;
  gboolean         refresh_apart;

  /* Users read from the shared store for a token that named one unknown
   * here: "app id\nuser id" → GPtrArray of UserWaiter. */
  GHashTable      *user_reads;
  guint            user_waiters;
  /* Member changes heard, being read back: "app id\ngroup id" → MembersCheck. */
  GHashTable      *member_checks;
};

/* What waits for a user read from the store: a connect or an /account/
 * request, its token naming a user this node has not heard of yet. */
typedef struct
{
  NatterdThenFunc func;
  gpointer        user_data;
  GDestroyNotify  destroy;
} UserWaiter;

typedef struct
{
  NatterdCluster *cluster;              /* NULL once it is gone */
  char           *key;                  /* in cluster->user_reads */
  guint64         since;                /* natterd_directory_stamp() as it was submitted */
  GPtrArray      *waiters;              /* UserWaiter */
} UserRead;

typedef struct
{
  gint64  at;                           /* monotonic µs: every transaction below ended before */
  char   *horizon;                      /* xid8 as text */
} Horizon;

/* How often the horizon is sampled, and how many samples are kept. */
#define HORIZON_SAMPLE_S 5
#define HORIZONS_KEPT 64

/* How long a read-back's start lies before what it may have missed: a
 * change takes up to this long over NATS, a silent node as long to be
 * noticed (refresh_start()). */
#define REFRESH_MARGIN_US(self) ((4 * (gint64) (self)->ping_interval + 5) * G_USEC_PER_SEC)
/* While NATS stays down, a read-back this often (longer than the margin:
 * the one before's horizon is old enough to start the next from). */
#define APART_REFRESH_S(self) (4 * (self)->ping_interval + 5 + HORIZON_SAMPLE_S)

/* Past this many waiting, a token of an unknown user is refused at once
 * (31004) rather than read: the reads stay bounded. */
#define USER_WAITERS_MAX 1024

G_DEFINE_FINAL_TYPE (NatterdCluster, natterd_cluster, G_TYPE_OBJECT)

static void members_check_free (gpointer data);

static Shared *
shared_ref (Shared *shared)
{
  g_atomic_ref_count_inc (&shared->ref_count);
  return shared;
}

static void
event_free (gpointer data)
{
  Event *event = data;

  g_free (event->subject);
  g_clear_pointer (&event->data, g_bytes_unref);
  g_free (event);
}

static void
shared_unref (gpointer data)
{
  Shared *shared = data;

  if (!g_atomic_ref_count_dec (&shared->ref_count))
    return;
  g_async_queue_unref (shared->inbox);
  g_main_context_unref (shared->context);
  g_free (shared);
}

static void
user_waiter_run (gpointer data)
{
  UserWaiter *waiter = data;

  waiter->func (waiter->user_data);
  if (waiter->destroy != NULL)
    waiter->destroy (waiter->user_data);
  g_free (waiter);
}

static void
node_free (gpointer data)
{
  Node *node = data;

  g_free (node->name);
  g_free (node->url);
  g_hash_table_unref (node->users);
  if (node->batch != NULL)
    g_string_free (node->batch, TRUE);
  g_free (node);
}

static char *
user_key (const char *app_key,
          const char *user_id)
{
  return g_strconcat (app_key, "\n", user_id, NULL);
}

/* ------------------------------------------------- libnats's threads */

static gboolean drain (gpointer user_data);

/* One drain at a time is scheduled; any thread may ask for it. */
static void
schedule_drain (Shared *shared)
{
  g_autoptr(GSource) source = NULL;

  if (!g_atomic_int_compare_and_exchange (&shared->scheduled, FALSE, TRUE))
    return;
  source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, drain, shared_ref (shared), shared_unref);
  g_source_set_static_name (source, "natterd-cluster-drain");
  g_source_attach (source, shared->context);
}

static void
push_event (Shared *shared,
            Event  *event)
{
  g_async_queue_push (shared->inbox, event);
  schedule_drain (shared);
}

static void
on_nats_message (natsConnection   *nc,
                 natsSubscription *sub,
                 natsMsg          *msg,
                 void             *closure)
{
  Event *event = g_new0 (Event, 1);

  event->kind = EVENT_MESSAGE;
  event->subject = g_strdup (natsMsg_GetSubject (msg));
  event->data = g_bytes_new (natsMsg_GetData (msg), (gsize) MAX (natsMsg_GetDataLength (msg), 0));
  natsMsg_Destroy (msg);
  push_event (closure, event);
}

static void
on_nats_connected (natsConnection *nc,
                   void           *closure)
{
  Event *event = g_new0 (Event, 1);

  event->kind = EVENT_CONNECTED;
  push_event (closure, event);
}

static void
on_nats_disconnected (natsConnection *nc,
                      void           *closure)
{
  Event *event = g_new0 (Event, 1);

  event->kind = EVENT_DISCONNECTED;
  push_event (closure, event);
}

static int64_t
reconnect_delay (natsConnection *nc,
                 int             attempts,
                 void           *closure)
{
  return MIN ((int64_t) 100 << MIN (attempts, 8), RECONNECT_MAX_MS);
}

static void
outgoing_free (Outgoing *outgoing)
{
  g_free (outgoing->subject);
  g_clear_pointer (&outgoing->data, g_bytes_unref);
  g_free (outgoing);
}

typedef struct
{
  char           *node_subject;
  char          **servers;
  char           *name;
  Shared         *shared;
  GAsyncQueue    *outbox;
} PublisherArgs;

/* Connects (retrying forever in the background), subscribes, then
 * publishes what the main context queues. natsConnection_Publish only
 * buffers, but may write to the socket when its buffer is full: here, not
 * on the main loop. */
static gpointer
publisher_thread (gpointer data)
{
  PublisherArgs *args = data;
  natsOptions *options = NULL;
  natsConnection *connection = NULL;
  natsSubscription *all = NULL, *node = NULL;
  natsStatus status;
  Outgoing *outgoing;
  guint failures = 0;

  if (natsOptions_Create (&options) != NATS_OK ||
      natsOptions_SetServers (options, (const char **) args->servers, (int) g_strv_length (args->servers)) != NATS_OK ||
      natsOptions_SetName (options, args->name) != NATS_OK ||
      natsOptions_SetNoEcho (options, true) != NATS_OK ||
      /* This thread may wait on the socket: write each batch at once
       * instead of waking libnats's flusher (latency). */
      natsOptions_SetSendAsap (options, true) != NATS_OK ||
      /* One delivery thread (the pool's default size) for both
       * subscriptions: a directory change and the delivery published
       * after it by the same node are handled in that order. */
      natsOptions_UseGlobalMessageDelivery (options, true) != NATS_OK ||
      natsOptions_SetMaxReconnect (options, -1) != NATS_OK ||
      natsOptions_SetCustomReconnectDelay (options, reconnect_delay, NULL) != NATS_OK ||
      natsOptions_SetTimeout (options, 2000) != NATS_OK ||
      natsOptions_SetPingInterval (options, 2000) != NATS_OK ||
      natsOptions_SetMaxPingsOut (options, 2) != NATS_OK ||
      natsOptions_SetDisconnectedCB (options, on_nats_disconnected, args->shared) != NATS_OK ||
      natsOptions_SetReconnectedCB (options, on_nats_connected, args->shared) != NATS_OK ||
      natsOptions_SetRetryOnFailedConnect (options, true, on_nats_connected, args->shared) != NATS_OK)
    g_error ("natterd: cannot set up the NATS options: %s", nats_GetLastError (NULL));

  /* NATS_NOT_YET_CONNECTED: libnats goes on trying and calls
   * on_nats_connected() once it is (the subscriptions go with it). */
  status = natsConnection_Connect (&connection, options);
  if (status != NATS_OK && status != NATS_NOT_YET_CONNECTED)
    natterd_log (G_LOG_LEVEL_WARNING, "cluster-connect-failed", "error", natsStatus_GetText (status), NULL);

  if (connection != NULL &&
      (natsConnection_Subscribe (&all, connection, SUBJECT_PREFIX "all", on_nats_message, args->shared) != NATS_OK ||
       natsConnection_Subscribe (&node, connection, args->node_subject, on_nats_message, args->shared) != NATS_OK))
    natterd_log (G_LOG_LEVEL_WARNING, "cluster-subscribe-failed", "error", nats_GetLastError (NULL), NULL);
  /* Announced only once this node hears the others' answers. */
  if (status == NATS_OK)
    on_nats_connected (connection, args->shared);

  while ((outgoing = g_async_queue_pop (args->outbox))->subject != NULL)
    {
      gsize size;
      gconstpointer bytes = g_bytes_get_data (outgoing->data, &size);

      g_atomic_pointer_add (&args->shared->queued, -(gssize) size);
      /* While reconnecting libnats keeps what is published, up to its
       * reconnect buffer; past that a delivery is lost (offline replay
       * covers messages; typing is not worth more). */
      if (connection == NULL ||
          natsConnection_Publish (connection, outgoing->subject, bytes, (int) size) != NATS_OK)
        {
          if (failures++ % 1000 == 0)
            natterd_log (G_LOG_LEVEL_WARNING, "cluster-publish-failed", "subject", outgoing->subject,
                         "error", nats_GetLastError (NULL), NULL);
        }
      outgoing_free (outgoing);
    }
  outgoing_free (outgoing);

  if (connection != NULL)
    {
      natsConnection_FlushTimeout (connection, 500);
      natsSubscription_Destroy (all);
      natsSubscription_Destroy (node);
      natsConnection_Close (connection);
      natsConnection_Destroy (connection);
    }
  natsOptions_Destroy (options);
  g_free (args->node_subject);
  g_strfreev (args->servers);
  g_free (args->name);
  shared_unref (args->shared);
  g_async_queue_unref (args->outbox);
  g_free (args);
  return NULL;
}

/* ------------------------------------------------------------ sending */

static char *
generate (JsonBuilder *builder,
          gsize       *length)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = json_builder_get_root (builder);

  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, length);
}

static void
publish_text (NatterdCluster *self,
              const char     *subject,
              char           *text,
              gsize           length)
{
  Outgoing *outgoing;

  if ((gsize) g_atomic_pointer_get (&self->shared->queued) + length > OUTBOX_MAX_BYTES)
    {
      if (self->server->metrics->cluster_dropped++ % 1000 == 0)
        natterd_log (G_LOG_LEVEL_WARNING, "cluster-outbox-full", "subject", subject, NULL);
      g_free (text);
      return;
    }
  outgoing = g_new0 (Outgoing, 1);
  outgoing->subject = g_strdup (subject);
  outgoing->data = g_bytes_new_take (text, length);
  g_atomic_pointer_add (&self->shared->queued, (gssize) length);
  g_async_queue_push (self->outbox, outgoing);
  self->server->metrics->cluster_published++;
}

static void flush_batches (NatterdCluster *self);

/* Right away, after the deliveries batched before it: the others see this
 * node's messages in the order it made them. */
static void
publish (NatterdCluster *self,
         const char     *subject,
         JsonBuilder    *builder)
{
  gsize length;
  char *text;

  if (self->stopped)
    return;
  flush_batches (self);
  text = generate (builder, &length);
  publish_text (self, subject, text, length);
}

static void
flush_node (NatterdCluster *self,
            Node           *node)
{
  g_autofree char *subject = NULL;
  gsize length;

  if (node->batch == NULL)
    return;
  subject = g_strconcat (SUBJECT_PREFIX "node.", node->name, NULL);
  if (node->batch_json)
    g_string_append_c (node->batch, ']');
  length = node->batch->len;
  publish_text (self, subject, g_string_free (g_steal_pointer (&node->batch), FALSE), length);
}

static void
flush_batches (NatterdCluster *self)
{
  GHashTableIter iter;
  Node *node;

  g_hash_table_iter_init (&iter, self->nodes);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &node))
    flush_node (self, node);
}

static gboolean
flush_timeout (gpointer user_data)
{
  NatterdCluster *self = user_data;

  self->flush_id = 0;
  flush_batches (self);
  return G_SOURCE_REMOVE;
}

static JsonBuilder *
begin (NatterdCluster *self,
       const char     *type,
       const char     *app_key)
{
  JsonBuilder *builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "t");
  json_builder_add_string_value (builder, type);
  json_builder_set_member_name (builder, "node");
  json_builder_add_string_value (builder, self->name);
  if (app_key != NULL)
    {
      json_builder_set_member_name (builder, "app");
      json_builder_add_string_value (builder, app_key);
    }
  return builder;
}

static void
add_string (JsonBuilder *builder,
            const char  *name,
            const char  *value)
{
  if (value == NULL)
    return;
  json_builder_set_member_name (builder, name);
  json_builder_add_string_value (builder, value);
}

static void
add_int (JsonBuilder *builder,
         const char  *name,
         gint64       value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_int_value (builder, value);
}

void
natterd_cluster_add_message (JsonBuilder          *builder,
                             const NatterdMessage *m)
{
  json_builder_set_member_name (builder, "m");
  json_builder_begin_object (builder);
  add_int (builder, "id", m->id);
  add_string (builder, "uid", m->uid);
  add_int (builder, "ct", m->conversation_type);
  add_string (builder, "from", m->sender_user_id);
  add_string (builder, "to", m->target_id);
  add_string (builder, "obj", m->object_name);
  add_string (builder, "content", m->content);
  add_string (builder, "push", m->push_content);
  add_int (builder, "flags", m->flags);
  add_int (builder, "sent", m->sent_time);
  add_int (builder, "tseq", (gint64) m->timeline_seq);
  json_builder_end_object (builder);
}

static const char *
get_string (JsonObject *object,
            const char *name)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, name) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static gint64
get_int (JsonObject *object,
         const char *name)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, name) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return 0;
  return json_node_get_int (node);
}

static JsonArray *
get_array (JsonObject *object,
           const char *name)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, name) : NULL;

  return node != NULL && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
}

/* Strings are borrowed from @object. */
gboolean
natterd_cluster_read_message (JsonObject     *object,
                              NatterdMessage *out)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, "m") : NULL;
  JsonObject *m;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return FALSE;
  m = json_node_get_object (node);
  *out = (NatterdMessage) {
    .id = get_int (m, "id"),
    .uid = (char *) get_string (m, "uid"),
    .conversation_type = (int) get_int (m, "ct"),
    .sender_user_id = (char *) get_string (m, "from"),
    .target_id = (char *) get_string (m, "to"),
    .object_name = (char *) get_string (m, "obj"),
    .content = (char *) get_string (m, "content"),
    .push_content = (char *) get_string (m, "push"),
    .flags = (guint) get_int (m, "flags"),
    .sent_time = get_int (m, "sent"),
    .timeline_seq = (guint64) get_int (m, "tseq"),
  };
  return out->sender_user_id != NULL && out->target_id != NULL && out->object_name != NULL &&
         out->conversation_type >= 0 && out->conversation_type <= 8;
}

static gboolean
get_bool (JsonObject *object,
          const char *name)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, name) : NULL;

  return node != NULL && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_BOOLEAN &&
         json_node_get_boolean (node);
}

static const char * const payload_types[] = {
  [NATTERD_CLUSTER_NODE] = "node",
  [NATTERD_CLUSTER_ON] = "on",
  [NATTERD_CLUSTER_OFF] = "off",
  [NATTERD_CLUSTER_BYE] = "bye",
  [NATTERD_CLUSTER_APPS] = "apps",
  [NATTERD_CLUSTER_HEAD] = "head",
  [NATTERD_CLUSTER_CHANGE] = "change",
  [NATTERD_CLUSTER_INBOX] = "inbox",
  [NATTERD_CLUSTER_TIMELINE] = "timeline",
  [NATTERD_CLUSTER_ROOM] = "room",
  [NATTERD_CLUSTER_STATUS] = "status",
};

/* NULL when @object is not a payload this node understands. */
static NatterdClusterPayload *
decode_object (JsonObject *object)
{
  g_autofree NatterdClusterPayload *payload = g_new0 (NatterdClusterPayload, 1);
  const char *type = get_string (object, "t");
  guint t;

  for (t = 0; t < G_N_ELEMENTS (payload_types); t++)
    if (g_strcmp0 (type, payload_types[t]) == 0)
      break;
  if (t == G_N_ELEMENTS (payload_types))
    return NULL;
  payload->type = t;
  payload->node = get_string (object, "node");
  payload->app = get_string (object, "app");
  payload->user = get_string (object, "user");
  if (!natterd_cluster_node_name_is_valid (payload->node))
    return NULL;
  switch (payload->type)
    {
    case NATTERD_CLUSTER_NODE:
    case NATTERD_CLUSTER_BYE:
    case NATTERD_CLUSTER_APPS:
      break;
    case NATTERD_CLUSTER_ON:
    case NATTERD_CLUSTER_OFF:
      if (payload->app == NULL || payload->user == NULL)
        return NULL;
      break;
    case NATTERD_CLUSTER_HEAD:
      if (payload->app == NULL || payload->user == NULL || get_int (object, "seq") <= 0)
        return NULL;
      payload->seq = (guint64) get_int (object, "seq");
      break;
    case NATTERD_CLUSTER_CHANGE:
      if (payload->app == NULL || get_string (object, "kind") == NULL)
        return NULL;
      break;
    case NATTERD_CLUSTER_INBOX:
      if (payload->user == NULL || get_int (object, "seq") <= 0)
        return NULL;
      payload->seq = (guint64) get_int (object, "seq");
      G_GNUC_FALLTHROUGH;
    case NATTERD_CLUSTER_TIMELINE:
    case NATTERD_CLUSTER_ROOM:
    case NATTERD_CLUSTER_STATUS:
      if (payload->app == NULL || !natterd_cluster_read_message (object, &payload->message))
        return NULL;
      payload->sender_devices = get_bool (object, "sd");
      payload->multi_device = get_bool (object, "md");
      break;
    default:
      g_assert_not_reached ();
    }
  payload->object = json_object_ref (object);
  return g_steal_pointer (&payload);
}

GPtrArray *
natterd_cluster_decode (const char  *data,
                        gsize        length,
                        GError     **error)
{
  g_autoptr(JsonNode) root = NULL;
  GPtrArray *payloads;
  gsize skip = 0;

  /* A batch starts with its version's tag (0x08); JSON with '{' or '['
   * after any white space, which no batch starts with. */
  while (skip < length && g_ascii_isspace (data[skip]))
    skip++;
  if (length > 0 && (skip == length || (data[skip] != '{' && data[skip] != '[')))
    {
      payloads = g_ptr_array_new_with_free_func (natterd_cluster_payload_free);
      if (!natterd_cluster_wire_decode ((const guint8 *) data, length, payloads, error))
        g_clear_pointer (&payloads, g_ptr_array_unref);
      return payloads;
    }
  root = natter_json_parse (data, (gssize) length, error);
  if (root == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT (root) && !JSON_NODE_HOLDS_ARRAY (root))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "neither an object nor an array");
      return NULL;
    }
  payloads = g_ptr_array_new_with_free_func (natterd_cluster_payload_free);
  if (JSON_NODE_HOLDS_OBJECT (root))
    {
      NatterdClusterPayload *payload = decode_object (json_node_get_object (root));

      if (payload != NULL)
        g_ptr_array_add (payloads, payload);
    }
  else
    {
      JsonArray *array = json_node_get_array (root);

      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *element = json_array_get_element (array, i);
          NatterdClusterPayload *payload =
            JSON_NODE_HOLDS_OBJECT (element) ? decode_object (json_node_get_object (element)) : NULL;

          if (payload != NULL)
            g_ptr_array_add (payloads, payload);
        }
    }
  return payloads;
}

static void
queue_for_node (NatterdCluster *self,
                Node           *node,
                gboolean        json,
                const char     *data,
                gsize           length)
{
  if (node->batch != NULL && node->batch_json != json)
    flush_node (self, node);
  if (node->batch == NULL)
    {
      node->batch = g_string_sized_new (MIN (length * 4, BATCH_BYTES) + 64);
      node->batch_json = json;
      if (json)
        g_string_append_c (node->batch, '[');
      else
        natterd_cluster_wire_begin (node->batch, self->name);
    }
  else if (json)
    g_string_append_c (node->batch, ',');
  if (json)
    g_string_append_len (node->batch, data, (gssize) length);
  else
    natterd_cluster_wire_append (node->batch, (const guint8 *) data, length);
  if (node->batch->len >= BATCH_BYTES)
    flush_node (self, node);
}

/* A delivery as nodes older than the protobuf batches read it. */
static char *
delivery_to_json (NatterdCluster              *self,
                  const NatterdClusterPayload *payload,
                  gsize                       *length)
{
  g_autoptr(JsonBuilder) builder = begin (self, payload_types[payload->type], payload->app);

  add_string (builder, "user", payload->user);
  if (payload->seq > 0)
    add_int (builder, "seq", (gint64) payload->seq);
  if (payload->type == NATTERD_CLUSTER_TIMELINE)
    {
      json_builder_set_member_name (builder, "sd");
      json_builder_add_boolean_value (builder, payload->sender_devices);
    }
  else if (payload->type == NATTERD_CLUSTER_STATUS)
    {
      json_builder_set_member_name (builder, "md");
      json_builder_add_boolean_value (builder, payload->multi_device);
    }
  if (payload->type != NATTERD_CLUSTER_HEAD)
    natterd_cluster_add_message (builder, &payload->message);
  json_builder_end_object (builder);
  return generate (builder, length);
}

/* Queued for each of @nodes, published with whatever else this main-loop
 * iteration sends them: one NATS message per node per iteration under
 * load instead of one per delivery. Packed once for all of them. */
static void
publish_delivery (NatterdCluster              *self,
                  GHashTable                  *nodes,
                  const NatterdClusterPayload *payload)
{
  g_autofree guint8 *packed = NULL;
  g_autofree char *json = NULL;
  gsize packed_length = 0, json_length = 0;
  GHashTableIter iter;
  Node *node;

  if (self->stopped || g_hash_table_size (nodes) == 0)
    return;
  g_hash_table_iter_init (&iter, nodes);
  while (g_hash_table_iter_next (&iter, (gpointer *) &node, NULL))
    {
      if (node->wire == 0)
        {
          if (json == NULL)
            json = delivery_to_json (self, payload, &json_length);
          queue_for_node (self, node, TRUE, json, json_length);
        }
      else
        {
          if (packed == NULL)
            packed = natterd_cluster_wire_pack (payload, &packed_length);
          queue_for_node (self, node, FALSE, (const char *) packed, packed_length);
        }
    }
  if (self->flush_id == 0)
    {
      self->flush_id = g_idle_add_full (G_PRIORITY_DEFAULT, flush_timeout, self, NULL);
      g_source_set_static_name (g_main_context_find_source_by_id (NULL, self->flush_id), "natterd-cluster-flush");
    }
}

/* Adds to @set the other nodes where @user has a session. */
static void
add_user_nodes (NatterdCluster *self,
                const char     *app_key,
                const char     *user_id,
                GHashTable     *set)
{
  g_autofree char *key = user_key (app_key, user_id);
  GHashTableIter iter;
  Node *node;

  g_hash_table_iter_init (&iter, self->nodes);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &node))
    if (g_hash_table_contains (node->users, key))
      g_hash_table_add (set, node);
}

void
natterd_cluster_send_inbox (NatterdCluster       *self,
                            NatterdUser          *user,
                            guint64               seq,
                            const NatterdMessage *message)
{
  g_autoptr(GHashTable) nodes = g_hash_table_new (NULL, NULL);

  add_user_nodes (self, user->app->key, user->user_id, nodes);
  publish_delivery (self, nodes, &(NatterdClusterPayload) {
    .type = NATTERD_CLUSTER_INBOX, .app = user->app->key, .user = user->user_id, .seq = seq,
    .message = *message,
  });
}

void
natterd_cluster_send_timeline (NatterdCluster       *self,
                               NatterdApp           *app,
                               const NatterdMessage *message,
                               gboolean              sender_devices)
{
  g_autoptr(GHashTable) nodes = g_hash_table_new (NULL, NULL);
  NatterdGroup *group = g_hash_table_lookup (app->groups, message->target_id);
  GHashTableIter iter;
  NatterdUser *member;

  if (group == NULL || g_hash_table_size (self->nodes) == 0)
    return;
  /* One copy per node that holds a member: it fans out to its sessions. */
  g_hash_table_iter_init (&iter, group->members);
  while (g_hash_table_iter_next (&iter, (gpointer *) &member, NULL) &&
         g_hash_table_size (nodes) < g_hash_table_size (self->nodes))
    if (member->remote_sessions > 0)
      add_user_nodes (self, app->key, member->user_id, nodes);
  publish_delivery (self, nodes, &(NatterdClusterPayload) {
    .type = NATTERD_CLUSTER_TIMELINE, .app = app->key, .message = *message, .sender_devices = sender_devices,
  });
}

static void
add_all_nodes (NatterdCluster *self,
               GHashTable     *set)
{
  GHashTableIter iter;
  Node *node;

  g_hash_table_iter_init (&iter, self->nodes);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &node))
    g_hash_table_add (set, node);
}

void
natterd_cluster_send_room (NatterdCluster       *self,
                           NatterdApp           *app,
                           const NatterdMessage *message)
{
  g_autoptr(GHashTable) nodes = g_hash_table_new (NULL, NULL);

  /* Chatroom members join on any node: every node delivers to its own. */
  add_all_nodes (self, nodes);
  publish_delivery (self, nodes, &(NatterdClusterPayload) {
    .type = NATTERD_CLUSTER_ROOM, .app = app->key, .message = *message,
  });
}

void
natterd_cluster_send_status (NatterdCluster       *self,
                             NatterdApp           *app,
                             const NatterdMessage *message,
                             gboolean              multi_device)
{
  g_autoptr(GHashTable) nodes = g_hash_table_new (NULL, NULL);
  int type = message->conversation_type;

  if (g_hash_table_size (self->nodes) == 0)
    return;
  /* The sender's other devices: read sync, or any status with multi-device. */
  if (multi_device || g_strcmp0 (message->object_name, NATTER_OBJECT_SYNC_READ_STATUS) == 0)
    add_user_nodes (self, app->key, message->sender_user_id, nodes);
  if (natterd_conversation_is_private (type))
    add_user_nodes (self, app->key, message->target_id, nodes);
  else if (type == NATTER_CONVERSATION_CHATROOM)
    add_all_nodes (self, nodes);
  else
    {
      NatterdGroup *group = g_hash_table_lookup (app->groups, message->target_id);
      GHashTableIter iter;
      NatterdUser *member;

      if (group != NULL)
        {
          g_hash_table_iter_init (&iter, group->members);
          while (g_hash_table_iter_next (&iter, (gpointer *) &member, NULL))
            if (member->remote_sessions > 0)
              add_user_nodes (self, app->key, member->user_id, nodes);
        }
    }
  publish_delivery (self, nodes, &(NatterdClusterPayload) {
    .type = NATTERD_CLUSTER_STATUS, .app = app->key, .message = *message, .multi_device = multi_device,
  });
}

void
natterd_cluster_send_change (NatterdCluster *self,
                             NatterdApp     *app,
                             JsonBuilder    *change)
{
  json_builder_set_member_name (change, "t");
  json_builder_add_string_value (change, "change");
  json_builder_set_member_name (change, "node");
  json_builder_add_string_value (change, self->name);
  json_builder_set_member_name (change, "app");
  json_builder_add_string_value (change, app->key);
  json_builder_end_object (change);
  publish (self, SUBJECT_PREFIX "all", change);
}

void
natterd_cluster_send_reload_apps (NatterdCluster *self)
{
  g_autoptr(JsonBuilder) builder = begin (self, "apps", NULL);

  json_builder_end_object (builder);
  publish (self, SUBJECT_PREFIX "all", builder);
}

/* ----------------------------------------------------------- presence */

static void
add_session_entry (JsonBuilder    *builder,
                   NatterdSession *session)
{
  NatterdUser *user = natterd_session_get_user (session);

  add_string (builder, "app", user->app->key);
  add_string (builder, "user", user->user_id);
  add_string (builder, "device", natterd_session_get_device_id (session));
  add_string (builder, "platform", natterd_session_get_platform (session));
}

void
natterd_cluster_session_connected (NatterdCluster *self,
                                   NatterdSession *session)
{
  g_autoptr(JsonBuilder) builder = begin (self, "on", NULL);
  gint64 now = natterd_now_ms ();

  g_hash_table_insert (self->logins, session, g_memdup2 (&now, sizeof now));
  add_session_entry (builder, session);
  add_int (builder, "at", now);
  json_builder_end_object (builder);
  publish (self, SUBJECT_PREFIX "all", builder);
}

void
natterd_cluster_session_disconnected (NatterdCluster *self,
                                      NatterdSession *session)
{
  g_autoptr(JsonBuilder) builder = begin (self, "off", NULL);
  NatterdUser *user = natterd_session_get_user (session);

  g_hash_table_remove (self->logins, session);
  add_session_entry (builder, session);
  /* Its last seen here (natterd_server_presence_changed()), for the others. */
  add_int (builder, "at", !natterd_user_is_online (user) && user->last_seen > 0 ? user->last_seen : natterd_now_ms ());
  json_builder_end_object (builder);
  publish (self, SUBJECT_PREFIX "all", builder);
}

/* Who this node is and every session it holds: what a node that just
 * (re)joined needs, and what corrects any lost delta. */
static void
announce (NatterdCluster *self)
{
  g_autoptr(JsonBuilder) builder = begin (self, "node", NULL);
  GHashTableIter iter;
  NatterdSession *session;

  add_string (builder, "url", self->url);
  add_int (builder, "interval", self->ping_interval);
  add_int (builder, "started", self->started);
  /* The deliveries it reads as protobuf batches (natterd-cluster.proto). */
  add_int (builder, "wire", NATTERD_CLUSTER_WIRE_VERSION);
  json_builder_set_member_name (builder, "sessions");
  json_builder_begin_array (builder);
  g_hash_table_iter_init (&iter, self->server->sessions);
  while (g_hash_table_iter_next (&iter, (gpointer *) &session, NULL))
    {
      NatterdUser *user = natterd_session_get_user (session);

      if (user == NULL || natterd_session_get_state (session) != NATTERD_SESSION_CONNECTED)
        continue;
      json_builder_begin_array (builder);
      json_builder_add_string_value (builder, user->app->key);
      json_builder_add_string_value (builder, user->user_id);
      json_builder_add_string_value (builder, natterd_session_get_device_id (session));
      json_builder_add_string_value (builder, natterd_session_get_platform (session));
      json_builder_end_array (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  publish (self, SUBJECT_PREFIX "all", builder);
}

static gboolean
announce_timeout (gpointer user_data)
{
  announce (user_data);
  return G_SOURCE_CONTINUE;
}

static NatterdUser *
lookup_key_user (NatterdCluster *self,
                 const char     *key)
{
  const char *newline = strchr (key, '\n');
  g_autofree char *app_key = newline != NULL ? g_strndup (key, (gsize) (newline - key)) : NULL;
  NatterdApp *app = app_key != NULL ? natterd_directory_lookup_app (self->server->directory, app_key) : NULL;

  return app != NULL ? natterd_directory_lookup_user (app, newline + 1) : NULL;
}

/* @offline_at: see natterd_server_presence_changed(). */
static void
count_remote (NatterdCluster *self,
              const char     *key,
              int             delta,
              gint64          offline_at)
{
  NatterdUser *user = lookup_key_user (self, key);
  gboolean was_online;

  if (user == NULL)
    return;
  was_online = natterd_user_is_online (user);
  if (delta < 0 && user->remote_sessions < (guint) -delta)
    user->remote_sessions = 0;
  else
    user->remote_sessions += delta;
  /* Subscribers on this node hear of changes on others (#16). */
  if (was_online != natterd_user_is_online (user))
    natterd_server_presence_changed (self->server, user, FALSE, offline_at);
}

static void
node_add_session (NatterdCluster *self,
                  Node           *node,
                  const char     *app_key,
                  const char     *user_id,
                  const char     *device_id,
                  const char     *platform)
{
  char *key = user_key (app_key, user_id);
  GPtrArray *devices = g_hash_table_lookup (node->users, key);

  if (devices == NULL)
    {
      devices = g_ptr_array_new_with_free_func (g_free);
      g_hash_table_insert (node->users, g_strdup (key), devices);
    }
  g_ptr_array_add (devices, g_strconcat (device_id != NULL ? device_id : "", "\n",
                                         platform != NULL ? platform : "", NULL));
  count_remote (self, key, 1, 0);
  g_free (key);
}

static void
node_remove_session (NatterdCluster *self,
                     Node           *node,
                     const char     *app_key,
                     const char     *user_id,
                     const char     *device_id,
                     gint64          offline_at)
{
  g_autofree char *key = user_key (app_key, user_id);
  g_autofree char *prefix = g_strconcat (device_id != NULL ? device_id : "", "\n", NULL);
  GPtrArray *devices = g_hash_table_lookup (node->users, key);

  if (devices == NULL)
    return;
  for (guint i = 0; i < devices->len; i++)
    if (g_str_has_prefix (g_ptr_array_index (devices, i), prefix))
      {
        g_ptr_array_remove_index_fast (devices, i);
        count_remote (self, key, -1, offline_at);
        break;
      }
  if (devices->len == 0)
    g_hash_table_remove (node->users, key);
}

static void
node_clear_sessions (NatterdCluster *self,
                     Node           *node)
{
  GHashTableIter iter;
  const char *key;
  GPtrArray *devices;

  g_hash_table_iter_init (&iter, node->users);
  while (g_hash_table_iter_next (&iter, (gpointer *) &key, (gpointer *) &devices))
    count_remote (self, key, -(int) devices->len, 0);
  g_hash_table_remove_all (node->users);
}

static void refresh_directory (NatterdCluster *self);

/* ------------------------------------------------ read-back horizons */

static void
horizon_free (gpointer data)
{
  Horizon *horizon = data;

  g_free (horizon->horizon);
  g_free (horizon);
}

/* What other nodes did from @at on may not have come over NATS. */
static void
note_lost (NatterdCluster *self,
           gint64          at)
{
  if (self->lost_since == 0 || (self->lost_since > 1 && at < self->lost_since))
    self->lost_since = MAX (at, 2);
}

static void
add_horizon (NatterdCluster *self,
             char           *text)
{
  Horizon *horizon;

  if (text == NULL)
    return;
  horizon = g_new0 (Horizon, 1);
  horizon->at = g_get_monotonic_time ();
  horizon->horizon = text;
  g_queue_push_tail (&self->horizons, horizon);
  while (g_queue_get_length (&self->horizons) > HORIZONS_KEPT)
    horizon_free (g_queue_pop_head (&self->horizons));
}

/* Where a read-back starts: a horizon sampled before anything was lost,
 * by more than a change takes to come over NATS and a silent node to be
 * noticed; NULL (read everything) if there is none, if what was lost is
 * unknown, or if the store no longer keeps changes that old. Nothing is
 * lost from here on as far as the next read-back knows. */
static char *
refresh_start (NatterdCluster *self)
{
  gint64 now = g_get_monotonic_time ();
  gint64 margin = REFRESH_MARGIN_US (self);
  gint64 limit = (self->lost_since > 1 ? self->lost_since : now) - margin;
  gboolean unknown = self->lost_since == 1;

  self->lost_since = 0;
  if (unknown)
    return NULL;
  for (GList *l = self->horizons.tail; l != NULL; l = l->prev)
    {
      Horizon *horizon = l->data;

      if (horizon->at < limit)
        return now - horizon->at < NATTERD_STORE_CHANGES_KEPT_MS / 2 * 1000 ? g_strdup (horizon->horizon) : NULL;
    }
  return NULL;
}

static void
horizon_read (NatterdRead *base,
              gpointer     user_data)
{
  NatterdServer *server = user_data;
  NatterdCluster *self = server->cluster;

  if (self == NULL || self->stopped)
    return;
  self->horizon_reading = FALSE;
  if (base->error == NULL)
    {
      add_horizon (self, g_steal_pointer (&((NatterdAppsRead *) base)->horizon));
      server->metrics->cluster_horizons++;
    }
}

/* Only while connected: what is committed meanwhile comes over NATS. */
static gboolean
sample_horizon (gpointer user_data)
{
  NatterdCluster *self = user_data;
  NatterdAppsRead *read;

  if (self->horizon_reading || !g_atomic_int_get (&self->connected))
    return G_SOURCE_CONTINUE;
  self->horizon_reading = TRUE;
  read = natterd_read_new (NATTERD_READ_APPS, horizon_read, g_object_ref (self->server), g_object_unref);
  read->want_horizon = TRUE;
  natterd_store_read (self->server->store, read);
  return G_SOURCE_CONTINUE;
}

/* NATS still down: what changed in the store meanwhile (a member removed
 * on another node is refused here from now on, before NATS is back). */
static gboolean
apart_refresh (gpointer user_data)
{
  NatterdCluster *self = user_data;

  if (g_atomic_int_get (&self->connected))
    {
      self->apart_id = 0;
      return G_SOURCE_REMOVE;
    }
  natterd_log (G_LOG_LEVEL_INFO, "cluster-refresh-apart", "node", self->name, NULL);
  refresh_directory (self);
  return G_SOURCE_CONTINUE;
}

static Node *
ensure_node (NatterdCluster *self,
             const char     *name)
{
  Node *node = g_hash_table_lookup (self->nodes, name);

  if (node == NULL)
    {
      /* It may have changed the directory while this node did not hear
       * it (a node it had lost, or one that started meanwhile: since
       * when is not known). */
      if (self->lost_since == 0)
        self->lost_since = 1;
      refresh_directory (self);
      node = g_new0 (Node, 1);
      node->name = g_strdup (name);
      node->users = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                           (GDestroyNotify) g_ptr_array_unref);
      g_hash_table_insert (self->nodes, node->name, node);
      natterd_log (G_LOG_LEVEL_INFO, "cluster-node-joined", "node", name, NULL);
      /* A node that just came learns of this one now, not an interval later. */
      announce (self);
    }
  node->last_seen = g_get_monotonic_time ();
  return node;
}

static void
drop_node (NatterdCluster *self,
           Node           *node,
           const char     *why)
{
  natterd_log (G_LOG_LEVEL_INFO, "cluster-node-gone", "node", node->name, "why", why, NULL);
  node_clear_sessions (self, node);
  g_hash_table_remove (self->nodes, node->name);
}

static gboolean
sweep (gpointer user_data)
{
  NatterdCluster *self = user_data;
  gint64 deadline = g_get_monotonic_time () - 2 * (gint64) self->ping_interval * G_USEC_PER_SEC;
  GHashTableIter iter;
  Node *node;

  g_hash_table_iter_init (&iter, self->nodes);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &node))
    if (node->last_seen < deadline)
      {
        natterd_log (G_LOG_LEVEL_WARNING, "cluster-node-dead", "node", node->name, NULL);
        note_lost (self, node->last_seen);
        node_clear_sessions (self, node);
        g_hash_table_iter_remove (&iter);
      }
  return G_SOURCE_CONTINUE;
}

/* A login of @user on node @other at @at (wall ms): the older ones here go
 * (31010), as for a second login on this node (natterd-server.c). Logins
 * on two nodes at once: the later one stays (the greater node name if
 * they tie), on both nodes alike. */
static void
kick_older (NatterdCluster *self,
            NatterdUser    *user,
            const char     *device_id,
            const char     *other,
            gint64          at)
{
  if (user->sessions == NULL)
    return;
  for (guint i = user->sessions->len; i > 0; i--)
    {
      NatterdSession *session = g_ptr_array_index (user->sessions, i - 1);
      gint64 *login = g_hash_table_lookup (self->logins, session);
      gint64 here = login != NULL ? *login : 0;

      if (here > at || (here == at && g_strcmp0 (self->name, other) > 0))
        continue;
      if (!user->app->settings.multi_device ||
          g_strcmp0 (natterd_session_get_device_id (session), device_id) == 0)
        natterd_session_kick (session, NATTER_CODE_KICKED_BY_OTHER_DEVICE);
    }
}

/* @node knows @user_id's inbox head as far as it wrote it; entries this
 * node stored while it did not know where the user's sessions are (offline,
 * or on a node it had not heard yet) are in the shared store, and the head
 * tells it to read them. */
static void
send_head (NatterdCluster *self,
           Node           *node,
           const char     *app_key,
           const char     *user_id)
{
  NatterdApp *app = natterd_directory_lookup_app (self->server->directory, app_key);
  NatterdUser *user = app != NULL ? natterd_directory_lookup_user (app, user_id) : NULL;
  g_autoptr(GHashTable) nodes = NULL;

  if (user == NULL || user->max_seq == 0)
    return;
  nodes = g_hash_table_new (NULL, NULL);
  g_hash_table_add (nodes, node);
  publish_delivery (self, nodes, &(NatterdClusterPayload) {
    .type = NATTERD_CLUSTER_HEAD, .app = app_key, .user = user_id, .seq = user->max_seq,
  });
}

static void
handle_node (NatterdCluster *self,
             Node           *node,
             JsonObject     *object)
{
  JsonArray *sessions = get_array (object, "sessions");
  const char *url = get_string (object, "url");

  if (url != NULL && g_strcmp0 (node->url, url) != 0)
    {
      g_free (node->url);
      node->url = g_strdup (url);
    }
  gint64 started = get_int (object, "started");
  gboolean first = started != node->started;
  gint64 wire = get_int (object, "wire");

  /* What it announced, as far as this node writes it; none: JSON. */
  node->wire = (guint) CLAMP (wire, 0, NATTERD_CLUSTER_WIRE_VERSION);

  /* The first list of this run of that node (new, or restarted before
   * this one noticed it was gone): it learns of this node's sessions now,
   * and of the inbox heads this node wrote for its users meanwhile, as
   * for an "on" (entries stored here before this node knew where they
   * sit). */
  if (first && node->started != 0)
    {
      natterd_log (G_LOG_LEVEL_INFO, "cluster-node-restarted", "node", node->name, NULL);
      note_lost (self, node->last_seen);
      refresh_directory (self);
      announce (self);
    }
  node->started = started;
  node_clear_sessions (self, node);
  for (guint i = 0; sessions != NULL && i < json_array_get_length (sessions); i++)
    {
      JsonNode *element = json_array_get_element (sessions, i);
      JsonArray *entry = JSON_NODE_HOLDS_ARRAY (element) ? json_node_get_array (element) : NULL;
      const char *fields[4] = { NULL, };

      if (entry == NULL || json_array_get_length (entry) != 4)
        continue;
      for (guint f = 0; f < 4; f++)
        {
          JsonNode *field = json_array_get_element (entry, f);

          if (JSON_NODE_HOLDS_VALUE (field) && json_node_get_value_type (field) == G_TYPE_STRING)
            fields[f] = json_node_get_string (field);
        }
      if (fields[0] == NULL || fields[1] == NULL)
        continue;
      node_add_session (self, node, fields[0], fields[1], fields[2], fields[3]);
      if (first)
        send_head (self, node, fields[0], fields[1]);
    }
}

static void
handle_presence (NatterdCluster *self,
                 Node           *node,
                 JsonObject     *object,
                 gboolean        on)
{
  const char *app_key = get_string (object, "app");
  const char *user_id = get_string (object, "user");
  const char *device_id = get_string (object, "device");
  NatterdApp *app;
  NatterdUser *user;

  if (app_key == NULL || user_id == NULL)
    return;
  if (!on)
    {
      gint64 at = get_int (object, "at");

      /* The node that held the session says when it went (last seen);
       * a time from the future is this node's now. */
      if (at <= 0 || at > natterd_now_ms () + 60 * 1000)
        at = 0;
      node_remove_session (self, node, app_key, user_id, device_id, at);
      return;
    }
  node_add_session (self, node, app_key, user_id, device_id, get_string (object, "platform"));
  app = natterd_directory_lookup_app (self->server->directory, app_key);
  user = app != NULL ? natterd_directory_lookup_user (app, user_id) : NULL;
  if (user == NULL)
    return;
  kick_older (self, user, device_id, node->name, get_int (object, "at"));
  send_head (self, node, app_key, user_id);
}

static void
handle_delivery (NatterdCluster              *self,
                 const NatterdClusterPayload *payload)
{
  NatterdApp *app = natterd_directory_lookup_app (self->server->directory, payload->app);
  const NatterdMessage *message = &payload->message;

  if (app == NULL)
    return;
  self->server->metrics->cluster_received++;

  switch (payload->type)
    {
    case NATTERD_CLUSTER_INBOX:
      {
        NatterdUser *user = natterd_directory_lookup_user (app, payload->user);

        if (user != NULL)
          natterd_server_remote_inbox (self->server, user, payload->seq, message);
      }
      break;
    case NATTERD_CLUSTER_TIMELINE:
      natterd_server_remote_timeline (self->server, app, message, payload->sender_devices);
      break;
    case NATTERD_CLUSTER_ROOM:
      natterd_server_remote_room (self->server, app, message);
      break;
    case NATTERD_CLUSTER_STATUS:
      natterd_server_remote_status (self->server, app, message, payload->multi_device);
      break;
    default:
      g_assert_not_reached ();
    }
}

static void
handle_payload (NatterdCluster              *self,
                const NatterdClusterPayload *payload)
{
  JsonObject *object = payload->object;
  NatterdApp *app;
  Node *node;

  if (g_strcmp0 (payload->node, self->name) == 0)
    return;

  if (payload->type == NATTERD_CLUSTER_BYE)
    {
      node = g_hash_table_lookup (self->nodes, payload->node);
      if (node != NULL)
        drop_node (self, node, "stopped");
      return;
    }

  node = ensure_node (self, payload->node);
  switch (payload->type)
    {
    case NATTERD_CLUSTER_APPS:
      natterd_server_reload_apps_here (self->server);
      break;
    case NATTERD_CLUSTER_NODE:
      handle_node (self, node, object);
      break;
    case NATTERD_CLUSTER_ON:
    case NATTERD_CLUSTER_OFF:
      handle_presence (self, node, object, payload->type == NATTERD_CLUSTER_ON);
      break;
    case NATTERD_CLUSTER_HEAD:
      {
        NatterdUser *user;

        app = natterd_directory_lookup_app (self->server->directory, payload->app);
        user = app != NULL ? natterd_directory_lookup_user (app, payload->user) : NULL;
        if (user != NULL && payload->seq > user->max_seq)
          {
            user->max_seq = payload->seq;
            for (guint i = 0; user->sessions != NULL && i < user->sessions->len; i++)
              natterd_session_catch_up (g_ptr_array_index (user->sessions, i));
          }
      }
      break;
    case NATTERD_CLUSTER_CHANGE:
      app = natterd_directory_lookup_app (self->server->directory, payload->app);
      if (app != NULL)
        natterd_server_apply_change (self->server, app, object);
      break;
    default:
      handle_delivery (self, payload);
      break;
    }
}

static void
handle_message (NatterdCluster *self,
                Event          *event)
{
  g_autoptr(GPtrArray) payloads = NULL;
  g_autoptr(GError) error = NULL;
  gsize size;
  const char *data = g_bytes_get_data (event->data, &size);

  payloads = natterd_cluster_decode (data, size, &error);
  if (payloads == NULL)
    {
      natterd_log (G_LOG_LEVEL_WARNING, "cluster-bad-message", "subject", event->subject,
                   "error", error->message, NULL);
      return;
    }
  for (guint i = 0; i < payloads->len && !self->stopped; i++)
    handle_payload (self, g_ptr_array_index (payloads, i));
}

static gboolean
drain (gpointer user_data)
{
  Shared *shared = user_data;
  NatterdCluster *self = shared->cluster;
  Event *event;
  guint n = 0;

  g_atomic_int_set (&shared->scheduled, FALSE);
  while (n++ < DRAIN_BATCH && (event = g_async_queue_try_pop (shared->inbox)) != NULL)
    {
      if (self != NULL && !self->stopped)
        switch (event->kind)
          {
          case EVENT_MESSAGE:
            handle_message (self, event);
            break;
          case EVENT_CONNECTED:
            g_atomic_int_set (&self->connected, TRUE);
            g_clear_handle_id (&self->apart_id, g_source_remove);
            natterd_log (G_LOG_LEVEL_INFO, "cluster-connected", "node", self->name, NULL);
            /* Changes the others published while this node was away from
             * NATS never reach it: the store has them. */
            if (self->ever_connected)
              refresh_directory (self);
            self->ever_connected = TRUE;
            /* The others learn at once who is here again. */
            announce (self);
            break;
          case EVENT_DISCONNECTED:
            g_atomic_int_set (&self->connected, FALSE);
            note_lost (self, g_get_monotonic_time ());
            if (self->shared_store && self->apart_id == 0)
              self->apart_id = g_timeout_add_seconds (APART_REFRESH_S (self), apart_refresh, self);
            natterd_log (G_LOG_LEVEL_WARNING, "cluster-disconnected", "node", self->name, NULL);
            break;
          default:
            g_assert_not_reached ();
          }
      event_free (event);
    }
  if (g_async_queue_length (shared->inbox) > 0)
    schedule_drain (shared);
  return G_SOURCE_REMOVE;
}

/* ------------------------------------------------------------- public */

GPtrArray *
natterd_cluster_get_nodes (NatterdCluster *self)
{
  GPtrArray *nodes = g_ptr_array_new_with_free_func ((GDestroyNotify) natterd_navi_node_free);
  g_autoptr(GList) names = g_hash_table_get_keys (self->nodes);

  g_ptr_array_add (nodes, natterd_navi_node_new (self->name, self->url));
  names = g_list_sort (names, (GCompareFunc) g_strcmp0);
  for (GList *l = names; l != NULL; l = l->next)
    {
      Node *node = g_hash_table_lookup (self->nodes, l->data);

      if (node->url != NULL)
        g_ptr_array_add (nodes, natterd_navi_node_new (node->name, node->url));
    }
  return nodes;
}

GPtrArray *
natterd_cluster_remote_devices (NatterdCluster *self,
                                NatterdUser    *user)
{
  g_autofree char *key = user_key (user->app->key, user->user_id);
  GPtrArray *devices = g_ptr_array_new ();
  GHashTableIter iter;
  Node *node;

  g_hash_table_iter_init (&iter, self->nodes);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &node))
    {
      GPtrArray *entries = g_hash_table_lookup (node->users, key);

      for (guint i = 0; entries != NULL && i < entries->len; i++)
        g_ptr_array_add (devices, g_ptr_array_index (entries, i));
    }
  return devices;
}

gboolean
natterd_cluster_is_connected (NatterdCluster *self)
{
  return g_atomic_int_get (&self->connected);
}

gboolean
natterd_cluster_health_check (gpointer   data,
                              char     **reason)
{
  NatterdCluster *self = data;

  if (natterd_cluster_is_connected (self))
    return TRUE;
  *reason = g_strdup ("NATS not connected");
  return FALSE;
}

/* NATS subject tokens: no dots, wildcards or blanks. */
gboolean
natterd_cluster_node_name_is_valid (const char *name)
{
  if (name == NULL || *name == '\0' || strlen (name) > 64)
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_')
      return FALSE;
  return TRUE;
}

NatterdCluster *
natterd_cluster_new (NatterdServer  *server,
                     const char     *nats_urls,
                     const char     *node_name,
                     const char     *url,
                     guint           ping_interval,
                     GError        **error)
{
  g_autoptr(NatterdCluster) self = NULL;
  g_auto(GStrv) parts = g_strsplit (nats_urls, ",", -1);
  g_autoptr(GPtrArray) servers = g_ptr_array_new_with_free_func (g_free);
  PublisherArgs *args;

  if (!natterd_cluster_node_name_is_valid (node_name))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "[cluster] node-name \"%s\": use letters, digits, - and _ (at most 64)", node_name);
      return NULL;
    }
  for (guint i = 0; parts[i] != NULL; i++)
    {
      char *part = g_strstrip (parts[i]);

      if (*part != '\0')
        g_ptr_array_add (servers, g_strdup (part));
    }
  if (servers->len == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           "[cluster] nats: no URL");
      return NULL;
    }
  g_ptr_array_add (servers, NULL);

  self = g_object_new (NATTERD_TYPE_CLUSTER, NULL);
  self->server = server;
  self->name = g_strdup (node_name);
  self->url = g_strdup (url);
  self->node_subject = g_strconcat (SUBJECT_PREFIX "node.", node_name, NULL);
  self->ping_interval = MAX (ping_interval, 1);
  self->started = g_get_real_time ();
  self->shared_store = g_strcmp0 (server->config->store_backend, "postgresql") == 0;
  self->servers = (char **) g_ptr_array_free (g_steal_pointer (&servers), FALSE);

  self->shared = g_new0 (Shared, 1);
  g_atomic_ref_count_init (&self->shared->ref_count);
  self->shared->inbox = g_async_queue_new_full (event_free);
  self->shared->context = g_main_context_ref_thread_default ();
  self->shared->cluster = self;
  self->outbox = g_async_queue_new ();

  args = g_new0 (PublisherArgs, 1);
  args->node_subject = g_strdup (self->node_subject);
  args->servers = g_strdupv (self->servers);
  args->name = g_strdup (node_name);
  args->shared = shared_ref (self->shared);
  args->outbox = g_async_queue_ref (self->outbox);
  self->publisher = g_thread_new ("natterd-nats", publisher_thread, args);

  self->announce_id = g_timeout_add_seconds (self->ping_interval, announce_timeout, self);
  self->sweep_id = g_timeout_add (SWEEP_MS, sweep, self);
  if (self->shared_store)
    self->horizon_id = g_timeout_add_seconds (HORIZON_SAMPLE_S, sample_horizon, self);
  natterd_log (G_LOG_LEVEL_INFO, "cluster", "node", node_name, "nats", nats_urls, NULL);
  return g_steal_pointer (&self);
}

void
natterd_cluster_stop (NatterdCluster *self)
{
  Outgoing *end;

  if (self->stopped)
    return;
  flush_batches (self);
  g_clear_handle_id (&self->flush_id, g_source_remove);
  /* The others drop this node's sessions now, not 2 intervals later. */
  {
    g_autoptr(JsonBuilder) builder = begin (self, "bye", NULL);

    json_builder_end_object (builder);
    publish (self, SUBJECT_PREFIX "all", builder);
  }
  self->stopped = TRUE;
  g_clear_handle_id (&self->announce_id, g_source_remove);
  g_clear_handle_id (&self->sweep_id, g_source_remove);
  g_clear_handle_id (&self->refresh_retry_id, g_source_remove);
  g_clear_handle_id (&self->accounts_retry_id, g_source_remove);
  g_clear_handle_id (&self->merge_id, g_source_remove);
  g_clear_handle_id (&self->horizon_id, g_source_remove);
  g_clear_handle_id (&self->apart_id, g_source_remove);
  end = g_new0 (Outgoing, 1);
  g_async_queue_push (self->outbox, end);
  g_clear_pointer (&self->publisher, g_thread_join);
}

static void
natterd_cluster_finalize (GObject *object)
{
  NatterdCluster *self = NATTERD_CLUSTER (object);

  natterd_cluster_stop (self);
  self->shared->cluster = NULL;
  g_clear_pointer (&self->shared, shared_unref);
  g_clear_pointer (&self->outbox, g_async_queue_unref);
  g_clear_pointer (&self->nodes, g_hash_table_unref);
  g_clear_pointer (&self->logins, g_hash_table_unref);
  /* Reads still out answer their waiters without this cluster. */
  {
    GHashTableIter iter;
    UserRead *read;

    g_hash_table_iter_init (&iter, self->user_reads);
    while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &read))
      read->cluster = NULL;
    g_clear_pointer (&self->user_reads, g_hash_table_unref);
  }
  g_queue_clear_full (&self->horizons, horizon_free);
  g_free (self->refresh_from);
  g_clear_pointer (&self->member_checks, g_hash_table_unref);
  g_free (self->name);
  g_free (self->url);
  g_free (self->node_subject);
  g_strfreev (self->servers);

  G_OBJECT_CLASS (natterd_cluster_parent_class)->finalize (object);
}

static void
natterd_cluster_class_init (NatterdClusterClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = natterd_cluster_finalize;
}

static void
natterd_cluster_init (NatterdCluster *self)
{
  self->nodes = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, node_free);
  self->user_reads = g_hash_table_new (g_str_hash, g_str_equal);
  self->member_checks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, members_check_free);
  self->logins = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  self->stopped = FALSE;
}

/* ------------------------------------------------- directory changes */

static void
add_user_ids (NatterdServer *server,
              JsonBuilder   *builder,
              GArray        *ids)
{
  json_builder_set_member_name (builder, "users");
  json_builder_begin_array (builder);
  for (guint i = 0; ids != NULL && i < ids->len; i++)
    {
      NatterdUser *user = natterd_directory_lookup_user_id (server->directory, g_array_index (ids, gint64, i));

      if (user != NULL)
        json_builder_add_string_value (builder, user->user_id);
    }
  json_builder_end_array (builder);
}

/* Users are named by their user id between nodes: users.id is the store's. */
void
natterd_server_cluster_committed (NatterdServer *self,
                                  NatterdApp    *app,
                                  NatterdOp     *op)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  switch (op->kind)
    {
    case NATTERD_OP_GROUP:
      {
        NatterdGroupOp *group = (NatterdGroupOp *) op;

        add_string (builder, "kind", "group");
        add_int (builder, "id", group->id);
        add_string (builder, "group", group->group_id);
        add_string (builder, "name", group->name);
        add_int (builder, "created", group->created);
        add_int (builder, "remove", group->remove);
      }
      break;

    case NATTERD_OP_MEMBERS:
      {
        NatterdMembersOp *members = (NatterdMembersOp *) op;

        add_string (builder, "kind", "members");
        add_string (builder, "group", members->timeline_id);
        add_int (builder, "action", members->action);
        add_int (builder, "time", members->time);
        add_user_ids (self, builder, members->user_ids);
      }
      break;

    case NATTERD_OP_BLACKLIST:
      {
        NatterdBlacklistOp *blacklist = (NatterdBlacklistOp *) op;
        NatterdUser *user = natterd_directory_lookup_user_id (self->directory, blacklist->user_id);

        if (user == NULL)
          return;
        add_string (builder, "kind", "blacklist");
        add_string (builder, "user", user->user_id);
        add_int (builder, "remove", blacklist->remove);
        add_user_ids (self, builder, blacklist->blocked_ids);
      }
      break;

    case NATTERD_OP_USER:
      {
        NatterdUserOp *user = (NatterdUserOp *) op;

        add_string (builder, "kind", "user");
        add_string (builder, "user", user->user_id);
        add_int (builder, "id", user->id);
        add_int (builder, "created", user->created);
        add_string (builder, "name", user->name);
        add_string (builder, "portrait", user->portrait_uri);
        add_int (builder, "valid-after", user->tokens_valid_after);
        add_int (builder, "blocked", user->blocked_until);
      }
      break;

    case NATTERD_OP_ACCOUNT:
      /* natterd-accounts.c: contacts, privacy, group roles */
      natterd_accounts_committed (self, app, (NatterdAccountOp *) op);
      if (!natterd_accounts_cluster_change ((NatterdAccountOp *) op, builder))
        return;
      break;

    default:
      return;
    }
  natterd_cluster_send_change (self->cluster, app, builder);
}

/* ------------------------------------------- members as stored, after */

/* Member changes of one group made on two nodes at once (an add on a, a
 * remove on b) are each applied here in the order they arrive, which may
 * not be the order PostgreSQL committed them: the two nodes would keep
 * different members. So on a shared store a change heard over NATS is
 * applied at once, then the members it names are read as stored and set
 * so: after a barrier (this node's own changes before are committed), and
 * read again if the group changed here meanwhile (the snapshot may
 * predate that). The last change committed is the last one anyone hears
 * of, so every node ends with what the store holds. */
typedef struct
{
  gint64   app_id;
  char    *group_id;
  GArray  *user_ids;                    /* users.id this round reads */
  GArray  *more;                        /* users.id changes named meanwhile: the next round's */
  guint64  since;                       /* natterd_directory_stamp() as the round's barrier was submitted */
} MembersCheck;

/* What the round's barrier and read carry: the check is looked up by
 * key, one per group, so changes heard while it runs join the next round
 * instead of starting reads of their own. */
typedef struct
{
  NatterdServer *server;
  char          *key;
} MembersRound;

static void
members_check_free (gpointer data)
{
  MembersCheck *check = data;

  g_free (check->group_id);
  g_array_unref (check->user_ids);
  g_array_unref (check->more);
  g_free (check);
}

static MembersRound *
members_round_new (NatterdServer *server,
                   const char    *key)
{
  MembersRound *round = g_new0 (MembersRound, 1);

  round->server = g_object_ref (server);
  round->key = g_strdup (key);
  return round;
}

static void
members_round_free (gpointer data)
{
  MembersRound *round = data;

  g_object_unref (round->server);
  g_free (round->key);
  g_free (round);
}

static MembersCheck *
members_round_check (MembersRound *round)
{
  NatterdCluster *cluster = round->server->cluster;

  if (cluster == NULL || cluster->stopped)
    return NULL;
  return g_hash_table_lookup (cluster->member_checks, round->key);
}

static void members_round_submit (NatterdServer *server, const char *key, MembersCheck *check);

static void
members_read (NatterdRead *base,
              gpointer     user_data)
{
  NatterdMembersRead *read = (NatterdMembersRead *) base;
  MembersRound *round = user_data;
  NatterdServer *server = round->server;
  MembersCheck *check = members_round_check (round);
  NatterdApp *app = check != NULL ? natterd_directory_lookup_app_id (server->directory, check->app_id) : NULL;
  NatterdGroup *group = app != NULL ? g_hash_table_lookup (app->groups, check->group_id) : NULL;
  g_autoptr(GHashTable) stored = NULL;
  guint corrected = 0;

  if (check == NULL)
    return;
  if (group == NULL)
    {
      g_hash_table_remove (server->cluster->member_checks, round->key);
      return;
    }
  /* Changed here since the barrier (the snapshot may predate that), or
   * more changes heard: another round, for all of them. */
  if (base->error != NULL || group->changed >= check->since || check->more->len > 0)
    {
      if (base->error != NULL)
        natterd_log (G_LOG_LEVEL_WARNING, "cluster-members-read-failed", "group", check->group_id,
                     "error", base->error->message, NULL);
      g_array_append_vals (check->user_ids, check->more->data, check->more->len);
      g_array_set_size (check->more, 0);
      members_round_submit (server, round->key, check);
      return;
    }
  if (read->group_found)
    {
      stored = g_hash_table_new (g_int64_hash, g_int64_equal);
      for (guint i = 0; i < read->members->len; i++)
        {
          NatterdMemberRow *row = &g_array_index (read->members, NatterdMemberRow, i);
          NatterdUser *user = natterd_directory_lookup_user_id (server->directory, row->user_id);
          NatterdMember *member;

          g_hash_table_add (stored, &row->user_id);
          if (user == NULL)
            continue;
          member = natterd_group_lookup_member (group, user);
          if (member == NULL)
            {
              member = natterd_group_add_member (group, user, row->joined);
              corrected++;
            }
          if (member->gag_until != row->gag_until)
            {
              member->gag_until = row->gag_until;
              group->changed = natterd_directory_stamp ();
            }
        }
      for (guint i = 0; i < check->user_ids->len; i++)
        {
          gint64 id = g_array_index (check->user_ids, gint64, i);
          NatterdUser *user = natterd_directory_lookup_user_id (server->directory, id);

          if (user != NULL && !g_hash_table_contains (stored, &id) && natterd_group_remove_member (group, user))
            corrected++;
        }
      server->metrics->cluster_members_checked++;
    }
  if (corrected > 0)
    {
      char count[16];

      g_snprintf (count, sizeof count, "%u", corrected);
      server->metrics->cluster_members_corrected += corrected;
      natterd_log (G_LOG_LEVEL_INFO, "cluster-members-corrected", "app", app->key, "group", group->group_id,
                   "members", count, NULL);
    }
  g_hash_table_remove (server->cluster->member_checks, round->key);
}

static void
members_barrier_done (NatterdOp *op,
                      gpointer   user_data)
{
  MembersRound *round = user_data;
  MembersCheck *check = members_round_check (round);
  NatterdMembersRead *read;

  if (check == NULL)
    return;
  read = natterd_read_new (NATTERD_READ_MEMBERS, members_read, members_round_new (round->server, round->key),
                           members_round_free);
  read->app_id = check->app_id;
  read->group_id = g_strdup (check->group_id);
  g_array_append_vals (read->user_ids, check->user_ids->data, check->user_ids->len);
  natterd_store_read (round->server->store, read);
}

static void
members_round_submit (NatterdServer *server,
                      const char    *key,
                      MembersCheck  *check)
{
  check->since = natterd_directory_stamp ();
  natterd_store_submit (server->store, natterd_op_new (NATTERD_OP_BARRIER, members_barrier_done,
                                                       members_round_new (server, key), members_round_free));
}

/* @user_ids of @group_id, heard changed: read back as stored. */
static void
members_check (NatterdServer *self,
               NatterdApp    *app,
               const char    *group_id,
               GArray        *user_ids)
{
  g_autofree char *key = g_strdup_printf ("%" G_GINT64_FORMAT "\n%s", app->id, group_id);
  MembersCheck *check = g_hash_table_lookup (self->cluster->member_checks, key);

  if (check != NULL)
    {
      g_array_append_vals (check->more, user_ids->data, user_ids->len);
      return;
    }
  check = g_new0 (MembersCheck, 1);
  check->app_id = app->id;
  check->group_id = g_strdup (group_id);
  check->user_ids = g_array_ref (user_ids);
  check->more = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_hash_table_insert (self->cluster->member_checks, g_strdup (key), check);
  members_round_submit (self, key, check);
}

static void
apply_members (NatterdServer *self,
               NatterdApp    *app,
               JsonObject    *change)
{
  const char *group_id = get_string (change, "group");
  JsonArray *users = get_array (change, "users");
  gint64 action = get_int (change, "action");
  gint64 time = get_int (change, "time");
  NatterdGroup *group = group_id != NULL ? g_hash_table_lookup (app->groups, group_id) : NULL;
  g_autoptr(GArray) checked = NULL;

  if (group == NULL || users == NULL)
    return;
  if (self->cluster != NULL && self->cluster->shared_store)
    checked = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (guint i = 0; i < json_array_get_length (users); i++)
    {
      JsonNode *element = json_array_get_element (users, i);
      NatterdUser *user;
      NatterdMember *member;

      if (!JSON_NODE_HOLDS_VALUE (element) || json_node_get_value_type (element) != G_TYPE_STRING)
        continue;
      user = natterd_directory_lookup_user (app, json_node_get_string (element));
      if (user == NULL)
        continue;
      member = natterd_group_lookup_member (group, user);
      if (action == NATTERD_MEMBERS_ADD && member == NULL)
        natterd_group_add_member (group, user, time);
      else if (action == NATTERD_MEMBERS_REMOVE)
        natterd_group_remove_member (group, user);
      else if (action == NATTERD_MEMBERS_GAG && member != NULL)
        {
          member->gag_until = time;
          group->changed = natterd_directory_stamp ();
        }
      if (checked != NULL)
        g_array_append_val (checked, user->id);
    }
  if (checked != NULL && checked->len > 0)
    members_check (self, app, group_id, checked);
}

static void
apply_blacklist (NatterdServer *self,
                 NatterdApp    *app,
                 JsonObject    *change)
{
  NatterdUser *user = natterd_directory_lookup_user (app, get_string (change, "user"));
  JsonArray *users = get_array (change, "users");
  gboolean remove = get_int (change, "remove") != 0;

  if (user == NULL || users == NULL)
    return;
  for (guint i = 0; i < json_array_get_length (users); i++)
    {
      JsonNode *element = json_array_get_element (users, i);
      NatterdUser *other;

      if (!JSON_NODE_HOLDS_VALUE (element) || json_node_get_value_type (element) != G_TYPE_STRING)
        continue;
      other = natterd_directory_lookup_user (app, json_node_get_string (element));
      if (other != NULL)
        natterd_server_set_blocking (self, user, other, !remove);
    }
}

/* A user new to this node (user/getToken on another) is added with the id
 * its node stored it under, unless that id names another user here (nodes
 * with stores of their own): then it is left alone. */
static void
apply_user (NatterdServer *self,
            NatterdApp    *app,
            JsonObject    *change)
{
  const char *user_id = get_string (change, "user");
  NatterdUser *user = natterd_directory_lookup_user (app, user_id);
  gint64 valid_after = get_int (change, "valid-after");
  gint64 blocked = get_int (change, "blocked");
  gint64 id = get_int (change, "id");
  gint64 now = natterd_now_ms ();

  if (user == NULL && user_id != NULL && id > 0)
    {
      user = natterd_directory_add_user_id (self->directory, app, id, user_id, get_int (change, "created"));
      if (user != NULL)
        {
          user->stored = TRUE;
          natterd_log (G_LOG_LEVEL_DEBUG, "cluster-user-added", "app", app->key, "user", user_id, NULL);
        }
    }
  if (user == NULL)
    return;
  g_free (user->name);
  user->name = g_strdup (get_string (change, "name"));
  g_free (user->portrait_uri);
  user->portrait_uri = g_strdup (get_string (change, "portrait"));
  /* What the API did to this user's connections there, here too. */
  if (blocked > now && user->blocked_until <= now)
    natterd_server_kick_user (self, user, NATTER_CODE_USER_BLOCKED, 0);
  else if (valid_after > user->tokens_valid_after)
    natterd_server_kick_user (self, user, NATTER_CODE_TOKEN_EXPIRED, valid_after);
  user->blocked_until = blocked;
  user->tokens_valid_after = valid_after;
  user->changed = natterd_directory_stamp ();
}

static void apply_chatroom (NatterdServer *self, NatterdApp *app, const char *kind, JsonObject *change);

void
natterd_server_apply_change (NatterdServer *self,
                             NatterdApp    *app,
                             JsonObject    *change)
{
  const char *kind = get_string (change, "kind");

  if (kind == NULL)
    return;
  if (g_str_equal (kind, "group"))
    {
      const char *group_id = get_string (change, "group");
      NatterdGroup *group = group_id != NULL ? g_hash_table_lookup (app->groups, group_id) : NULL;

      if (group_id == NULL)
        return;
      if (get_int (change, "remove"))
        {
          if (group != NULL)
            natterd_directory_remove_group (self->directory, group);
        }
      else if (group == NULL)
        {
          /* By the id it is stored under, as its member rows name it
           * (a node before 2026-12 sends none: one of this node's). */
          group = natterd_directory_add_group_id (self->directory, app, get_int (change, "id"), group_id,
                                                  get_string (change, "name"), get_int (change, "created"));
          if (group == NULL)
            natterd_directory_add_group (self->directory, app, group_id, get_string (change, "name"),
                                         get_int (change, "created"));
        }
      else if (get_string (change, "name") != NULL)
        {
          g_free (group->name);
          group->name = g_strdup (get_string (change, "name"));
        }
    }
  else if (g_str_equal (kind, "members"))
    apply_members (self, app, change);
  else if (g_str_equal (kind, "blacklist"))
    apply_blacklist (self, app, change);
  else if (g_str_equal (kind, "user"))
    apply_user (self, app, change);
  else if (g_str_has_prefix (kind, "chatroom"))
    apply_chatroom (self, app, kind, change);
  else if (g_str_equal (kind, "account"))
    natterd_accounts_apply_change (self, app, change);
  else if (g_str_equal (kind, "login-address"))
    natterd_accounts_apply_address_failure (self, change);
}

void
natterd_server_user_stored_elsewhere (NatterdServer *self,
                                      NatterdUser   *user,
                                      NatterdUserOp *op)
{
  if (!natterd_directory_rekey_user (self->directory, user, op->stored_id))
    return;
  natterd_log (G_LOG_LEVEL_INFO, "cluster-user-adopted", "app", user->app->key, "user", user->user_id, NULL);
  /* The change the others hear names the stored row. */
  op->id = op->stored_id;
  user->max_seq = MAX (user->max_seq, (guint64) op->stored_max_seq);
  user->tokens_valid_after = MAX (user->tokens_valid_after, op->stored_tokens_valid_after);
  user->blocked_until = MAX (user->blocked_until, op->stored_blocked_until);
  for (guint i = 0; user->sessions != NULL && i < user->sessions->len; i++)
    natterd_session_catch_up (g_ptr_array_index (user->sessions, i));
}

void
natterd_server_group_stored_elsewhere (NatterdServer  *self,
                                       NatterdGroupOp *op)
{
  NatterdGroup *group = natterd_directory_lookup_group_id (self->directory, op->id);

  if (group == NULL || !natterd_directory_rekey_group (self->directory, group, op->stored_id))
    return;
  natterd_log (G_LOG_LEVEL_INFO, "cluster-group-adopted", "app", group->app->key, "group", group->group_id, NULL);
  op->id = op->stored_id;
}

/* ---------------------------------------------------- chatroom changes */

/* Chatroom changes are not API store parts: the room's row is stored on
 * its own (natterd-chatrooms.c), gags and bans live in memory only. */
void
natterd_server_cluster_chatroom (NatterdServer   *self,
                                 NatterdChatroom *room)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  add_string (builder, "kind", "chatroom");
  add_string (builder, "room", room->chatroom_id);
  add_string (builder, "name", room->name);
  add_int (builder, "created", room->created);
  natterd_cluster_send_change (self->cluster, room->app, builder);
}

void
natterd_server_cluster_chatroom_destroyed (NatterdServer *self,
                                           NatterdApp    *app,
                                           const char    *chatroom_id)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  add_string (builder, "kind", "chatroom-destroy");
  add_string (builder, "room", chatroom_id);
  natterd_cluster_send_change (self->cluster, app, builder);
}

void
natterd_server_cluster_chatroom_restrict (NatterdServer   *self,
                                          NatterdChatroom *room,
                                          GPtrArray       *user_ids,
                                          gboolean         block,
                                          gint64           until)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  add_string (builder, "kind", "chatroom-restrict");
  add_string (builder, "room", room->chatroom_id);
  add_int (builder, "block", block);
  add_int (builder, "until", until);
  json_builder_set_member_name (builder, "users");
  json_builder_begin_array (builder);
  for (guint i = 0; i < user_ids->len; i++)
    json_builder_add_string_value (builder, g_ptr_array_index (user_ids, i));
  json_builder_end_array (builder);
  natterd_cluster_send_change (self->cluster, room->app, builder);
}

static void
apply_chatroom (NatterdServer *self,
                NatterdApp    *app,
                const char    *kind,
                JsonObject    *change)
{
  const char *room_id = get_string (change, "room");
  NatterdChatroom *room = room_id != NULL ? g_hash_table_lookup (app->chatrooms, room_id) : NULL;
  JsonArray *users = get_array (change, "users");
  gint64 until = get_int (change, "until");

  if (room_id == NULL)
    return;
  if (g_str_equal (kind, "chatroom"))
    {
      if (room == NULL)
        {
          room = natterd_directory_add_chatroom (self->directory, app, room_id, get_string (change, "name"),
                                                 get_int (change, "created"));
          room->stored = TRUE;
        }
      else if (get_string (change, "name") != NULL && g_strcmp0 (room->name, get_string (change, "name")) != 0)
        {
          g_free (room->name);
          room->name = g_strdup (get_string (change, "name"));
        }
      natterd_server_chatroom_stored_elsewhere (self, room);
      return;
    }
  if (room == NULL)
    return;
  if (g_str_equal (kind, "chatroom-destroy"))
    {
      natterd_server_chatroom_forget (self, room);
      return;
    }
  for (guint i = 0; users != NULL && i < json_array_get_length (users); i++)
    {
      JsonNode *element = json_array_get_element (users, i);
      gboolean block = get_int (change, "block") != 0;
      GHashTable *table = block ? room->banned : room->gagged;
      NatterdUser *user;

      if (!JSON_NODE_HOLDS_VALUE (element) || json_node_get_value_type (element) != G_TYPE_STRING)
        continue;
      user = natterd_directory_lookup_user (app, json_node_get_string (element));
      if (user == NULL)
        continue;
      if (until == 0)
        {
          g_hash_table_remove (table, user);
          continue;
        }
      g_hash_table_insert (table, user, g_memdup2 (&until, sizeof until));
      /* A ban drops the member wherever it sits, and the node where it
       * sat tells the room (#16): the node that took the API call knows
       * only its own members. */
      if (block && g_hash_table_contains (room->members, user))
        {
          natterd_server_chatroom_kick (self, room, user, NATTER_CODE_KICKED_FROM_CHATROOM);
          natterd_server_chatroom_tell_kicked (self, room, user);
        }
    }
}

/* ------------------------------------------------ directory refreshes */

/* Rows of a shared store merged into what this node knows: a user,
 * group, member, chatroom or blacklist entry unknown here is added; an
 * inbox head, a block or a token cut-off later than known is raised.
 * Groups (their members and gags) and blacklists are also taken as
 * stored, removals included (a dismissed group, a member gone, a gag
 * lifted, an unblock), unless they changed here after the refresh began
 * (natterd_directory_stamp()): the snapshot is read after a barrier, so
 * what this node stored before is in it, and only what changed since may
 * be missing from it (that one is left, and read again next time).
 *
 * The merge runs in slices of at most MERGE_SLICE_US per main-loop
 * iteration (a node with 100,000 users keeps serving meanwhile), so it
 * names groups, members and chatrooms by id, never by pointer: what it
 * saw in one slice may be gone in the next. */
#define MERGE_SLICE_US 1000

typedef enum {
  MERGE_REPLAY,
  MERGE_COLLECT,
  MERGE_GROUPS,
  MERGE_BLACKLISTS,
  MERGE_CHATROOMS,
  MERGE_CATCH_UP,
  MERGE_DONE,
} MergePhase;

typedef struct
{
  gint64  app_id;
  char   *chatroom_id;
} RoomRef;

typedef struct
{
  NatterdServer  *server;
  NatterdLoadLog *log;
  MergePhase      phase;
  guint           next;                 /* in the phase's list */
  GHashTable     *users;                /* users.id → NatterdUser* (never freed) */
  GHashTable     *groups;               /* groups.id → local NatterdGroup.id (gint64*) of the snapshot's groups */
  GHashTable     *seen;                 /* local NatterdGroup.id set of those */
  GHashTable     *members;              /* local NatterdGroup.id → set of users.id stored */
  GHashTable     *blacklists;           /* NatterdUser* → set of users.id (gint64*) stored */
  GHashTable     *chatrooms;            /* local NatterdChatroom.id set of the snapshot's chatrooms */
  GArray         *group_ids;            /* MERGE_GROUPS: local ids of the groups here */
  gint64          group;                /* MERGE_GROUPS: the one whose members are being checked */
  GArray         *member_ids;           /* its members' users.id; NULL between groups */
  guint           next_member;
  GArray         *user_ids;             /* MERGE_BLACKLISTS: users.id of users with a blacklist */
  GArray         *rooms;                /* MERGE_CHATROOMS: RoomRef */
  GPtrArray      *sessions;             /* MERGE_CATCH_UP: NatterdSession (refs) */
  GHashTable     *changed;              /* "kind\napp id\nref" the read-back covered; NULL: everything */
  guint64         since;
  gint64          now;
  guint           added;
  guint           removed;
  guint           slices;
  gint64          started;              /* monotonic µs */
  gint64          longest;              /* µs, of one slice */
  MergePhase      longest_phase;        /* where it ended */
  gint64          longest_cpu;          /* µs of this thread's CPU time in one slice (the box may be busy) */
} Merge;

static void
room_ref_clear (gpointer data)
{
  g_free (((RoomRef *) data)->chatroom_id);
}

static void
merge_free (gpointer data)
{
  Merge *merge = data;

  g_clear_pointer (&merge->log, natterd_load_log_free);
  g_hash_table_unref (merge->users);
  g_hash_table_unref (merge->groups);
  g_hash_table_unref (merge->seen);
  g_hash_table_unref (merge->members);
  g_hash_table_unref (merge->blacklists);
  g_hash_table_unref (merge->chatrooms);
  g_clear_pointer (&merge->group_ids, g_array_unref);
  g_clear_pointer (&merge->member_ids, g_array_unref);
  g_clear_pointer (&merge->user_ids, g_array_unref);
  g_clear_pointer (&merge->rooms, g_array_unref);
  g_clear_pointer (&merge->sessions, g_ptr_array_unref);
  g_clear_pointer (&merge->changed, g_hash_table_unref);
  g_object_unref (merge->server);
  g_free (merge);
}

/* A user another node stored, as its row says (the directory refresh and
 * a token of a user unknown here). */
static NatterdUser *
add_stored_user (NatterdDirectory        *directory,
                 NatterdApp              *app,
                 const NatterdUserRecord *record)
{
  NatterdUser *user = natterd_directory_add_user_id (directory, app, record->id, record->user_id, record->created);

  if (user == NULL)
    return NULL;
  user->name = g_strdup (record->name != NULL ? record->name : "");
  user->portrait_uri = g_strdup (record->portrait_uri != NULL ? record->portrait_uri : "");
  user->stored = TRUE;
  return user;
}

static void
merge_user (gpointer                 data,
            const NatterdUserRecord *record)
{
  Merge *merge = data;
  NatterdDirectory *directory = merge->server->directory;
  NatterdApp *app = natterd_directory_lookup_app_id (directory, record->app_id);
  NatterdUser *user = app != NULL ? natterd_directory_lookup_user (app, record->user_id) : NULL;

  if (app == NULL)
    return;
  if (user == NULL)
    {
      user = add_stored_user (directory, app, record);
      if (user == NULL)
        return;
      merge->added++;
    }
  if (record->blocked_until > merge->now && user->blocked_until <= merge->now)
    natterd_server_kick_user (merge->server, user, NATTER_CODE_USER_BLOCKED, 0);
  else if (record->tokens_valid_after > user->tokens_valid_after)
    natterd_server_kick_user (merge->server, user, NATTER_CODE_TOKEN_EXPIRED, record->tokens_valid_after);
  if (user->changed < merge->since)
    {
      /* As stored: a block lifted, a name or portrait changed elsewhere. */
      user->blocked_until = record->blocked_until;
      g_free (user->name);
      user->name = g_strdup (record->name != NULL ? record->name : "");
      g_free (user->portrait_uri);
      user->portrait_uri = g_strdup (record->portrait_uri != NULL ? record->portrait_uri : "");
    }
  else
    user->blocked_until = MAX (user->blocked_until, record->blocked_until);
  user->tokens_valid_after = MAX (user->tokens_valid_after, record->tokens_valid_after);
  user->max_seq = MAX (user->max_seq, record->max_seq);
  if (!natterd_user_is_online (user))
    user->last_seen = MAX (user->last_seen, record->last_seen);
  g_hash_table_insert (merge->users, g_memdup2 (&record->id, sizeof record->id), user);
}

/* A user the read-back read, or (one that read only what changed) one
 * this node knows: a member row names users that did not change. */
static NatterdUser *
merge_lookup_user (Merge  *merge,
                   gint64  id)
{
  NatterdUser *user = g_hash_table_lookup (merge->users, &id);

  if (user == NULL && merge->changed != NULL)
    user = natterd_directory_lookup_user_id (merge->server->directory, id);
  return user;
}

/* Whether the read-back read the rows of this: all, or what changed. */
static gboolean
merge_covers (Merge      *merge,
              const char *kind,
              gint64      app_id,
              const char *ref)
{
  g_autofree char *key = NULL;

  if (merge->changed == NULL)
    return TRUE;
  key = g_strdup_printf ("%s\n%" G_GINT64_FORMAT "\n%s", kind, app_id, ref);
  return g_hash_table_contains (merge->changed, key);
}

static void
merge_group (gpointer    data,
             gint64      id,
             gint64      app_id,
             const char *group_id,
             const char *name,
             gint64      created)
{
  Merge *merge = data;
  NatterdApp *app = natterd_directory_lookup_app_id (merge->server->directory, app_id);
  NatterdGroup *group = app != NULL && group_id != NULL ? g_hash_table_lookup (app->groups, group_id) : NULL;

  if (app == NULL || group_id == NULL)
    return;
  if (group == NULL)
    {
      group = natterd_directory_add_group_id (merge->server->directory, app, id, group_id, name, created);
      if (group == NULL)
        group = natterd_directory_add_group (merge->server->directory, app, group_id, name, created);
      merge->added++;
    }
  g_hash_table_insert (merge->groups, g_memdup2 (&id, sizeof id), g_memdup2 (&group->id, sizeof group->id));
  g_hash_table_add (merge->seen, g_memdup2 (&group->id, sizeof group->id));
}

static void
merge_member (gpointer data,
              gint64   group_id,
              gint64   user_id,
              gint64   joined,
              gint64   gag_until)
{
  Merge *merge = data;
  gint64 *local = g_hash_table_lookup (merge->groups, &group_id);
  NatterdGroup *group = local != NULL ? natterd_directory_lookup_group_id (merge->server->directory, *local) : NULL;
  NatterdUser *user = merge_lookup_user (merge, user_id);
  NatterdMember *member;
  GHashTable *stored;

  if (group == NULL || user == NULL)
    return;
  member = natterd_group_lookup_member (group, user);
  if (member == NULL)
    {
      guint64 changed = group->changed;

      member = natterd_group_add_member (group, user, joined);
      /* Read, not changed here. */
      group->changed = changed;
      merge->added++;
    }
  if (group->changed < merge->since)
    member->gag_until = gag_until;
  else
    member->gag_until = MAX (member->gag_until, gag_until);
  stored = g_hash_table_lookup (merge->members, &group->id);
  if (stored == NULL)
    {
      stored = g_hash_table_new (g_int64_hash, g_int64_equal);
      g_hash_table_insert (merge->members, g_memdup2 (&group->id, sizeof group->id), stored);
    }
  g_hash_table_add (stored, &user->id);
}

static void
merge_chatroom (gpointer    data,
                gint64      id,
                gint64      app_id,
                const char *chatroom_id,
                const char *name,
                gint64      created)
{
  Merge *merge = data;
  NatterdApp *app = natterd_directory_lookup_app_id (merge->server->directory, app_id);
  NatterdChatroom *room;

  if (app == NULL || chatroom_id == NULL)
    return;
  room = g_hash_table_lookup (app->chatrooms, chatroom_id);
  if (room == NULL)
    {
      room = natterd_directory_add_chatroom (merge->server->directory, app, chatroom_id, name, created);
      room->stored = TRUE;
      merge->added++;
    }
  else
    natterd_server_chatroom_stored_elsewhere (merge->server, room);
  g_hash_table_add (merge->chatrooms, g_memdup2 (&room->id, sizeof room->id));
}

static void
merge_blacklist (gpointer data,
                 gint64   user_id,
                 gint64   blocked_user_id)
{
  Merge *merge = data;
  NatterdUser *user = merge_lookup_user (merge, user_id);
  NatterdUser *other = merge_lookup_user (merge, blocked_user_id);
  GHashTable *stored;

  if (user == NULL || other == NULL)
    return;
  if (user->blacklist == NULL)
    user->blacklist = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  if (!g_hash_table_contains (user->blacklist, &other->id))
    g_hash_table_add (user->blacklist, g_memdup2 (&other->id, sizeof other->id));
  stored = g_hash_table_lookup (merge->blacklists, user);
  if (stored == NULL)
    {
      stored = g_hash_table_new (g_int64_hash, g_int64_equal);
      g_hash_table_insert (merge->blacklists, user, stored);
    }
  g_hash_table_add (stored, &other->id);
}

static const NatterdLoadSink merge_sink = {
  .user = merge_user,
  .group = merge_group,
  .member = merge_member,
  .chatroom = merge_chatroom,
  .blacklist = merge_blacklist,
};

/* What the removals look at, by id: one pass that copies ids only. */
static void
merge_collect (Merge *merge)
{
  g_autoptr(GList) apps = natterd_directory_get_apps (merge->server->directory);
  GHashTableIter iter;
  NatterdSession *session;

  merge->group_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  merge->user_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  merge->rooms = g_array_new (FALSE, FALSE, sizeof (RoomRef));
  g_array_set_clear_func (merge->rooms, room_ref_clear);
  for (GList *l = apps; l != NULL; l = l->next)
    {
      NatterdApp *app = l->data;
      NatterdGroup *group;
      NatterdUser *user;
      NatterdChatroom *room;

      g_hash_table_iter_init (&iter, app->groups);
      while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &group))
        if (merge_covers (merge, "group", app->id, group->group_id))
          g_array_append_val (merge->group_ids, group->id);
      g_hash_table_iter_init (&iter, app->users);
      while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &user))
        if (user->blacklist != NULL && merge_covers (merge, "user", app->id, user->user_id))
          g_array_append_val (merge->user_ids, user->id);
      g_hash_table_iter_init (&iter, app->chatrooms);
      while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &room))
        if (merge_covers (merge, "chatroom", app->id, room->chatroom_id))
          {
            RoomRef ref = { app->id, g_strdup (room->chatroom_id) };

            g_array_append_val (merge->rooms, ref);
          }
    }
  merge->sessions = g_ptr_array_new_with_free_func (g_object_unref);
  g_hash_table_iter_init (&iter, merge->server->sessions);
  while (g_hash_table_iter_next (&iter, (gpointer *) &session, NULL))
    g_ptr_array_add (merge->sessions, g_object_ref (session));
}

/* A group here the snapshot lacks, or its members the snapshot lacks, of
 * a group unchanged here since the refresh began: removed while this
 * node did not hear of it. A group's members are checked one a step (a
 * group may have 100,000). */
static void
merge_group_removals (Merge *merge,
                      gint64 id)
{
  NatterdGroup *group = natterd_directory_lookup_group_id (merge->server->directory, id);
  GHashTableIter members;
  NatterdUser *user;

  if (group == NULL || group->changed >= merge->since)
    return;
  if (!g_hash_table_contains (merge->seen, &group->id))
    {
      natterd_directory_remove_group (merge->server->directory, group);
      merge->removed++;
      return;
    }
  merge->group = group->id;
  merge->member_ids = g_array_sized_new (FALSE, FALSE, sizeof (gint64), g_hash_table_size (group->members));
  merge->next_member = 0;
  g_hash_table_iter_init (&members, group->members);
  while (g_hash_table_iter_next (&members, (gpointer *) &user, NULL))
    g_array_append_val (merge->member_ids, user->id);
}

static void
merge_member_removal (Merge *merge,
                      gint64 user_id)
{
  NatterdGroup *group = natterd_directory_lookup_group_id (merge->server->directory, merge->group);
  NatterdUser *user = natterd_directory_lookup_user_id (merge->server->directory, user_id);
  GHashTable *stored;
  guint64 changed;

  if (group == NULL || user == NULL || group->changed >= merge->since)
    return;
  stored = g_hash_table_lookup (merge->members, &group->id);
  changed = group->changed;
  if ((stored == NULL || !g_hash_table_contains (stored, &user->id)) && natterd_group_remove_member (group, user))
    merge->removed++;
  /* Read, not changed here. */
  group->changed = changed;
}

/* At once, for a few groups: the members of each group @merge read that
 * the store no longer has (the groups it did not read are left). */
static void
merge_member_removals (Merge *merge)
{
  GHashTableIter iter;
  gint64 *id;

  g_hash_table_iter_init (&iter, merge->seen);
  while (g_hash_table_iter_next (&iter, (gpointer *) &id, NULL))
    {
      merge_group_removals (merge, *id);
      for (guint i = 0; merge->member_ids != NULL && i < merge->member_ids->len; i++)
        merge_member_removal (merge, g_array_index (merge->member_ids, gint64, i));
      g_clear_pointer (&merge->member_ids, g_array_unref);
    }
}

static void
merge_blacklist_removals (Merge *merge,
                          gint64 id)
{
  NatterdUser *user = natterd_directory_lookup_user_id (merge->server->directory, id);
  GHashTable *stored;
  GHashTableIter blocked;
  gint64 *other;

  if (user == NULL || user->blacklist == NULL || user->blacklist_changed >= merge->since)
    return;
  stored = g_hash_table_lookup (merge->blacklists, user);
  g_hash_table_iter_init (&blocked, user->blacklist);
  while (g_hash_table_iter_next (&blocked, (gpointer *) &other, NULL))
    if (stored == NULL || !g_hash_table_contains (stored, other))
      {
        g_hash_table_iter_remove (&blocked);
        merge->removed++;
      }
}

static void
merge_chatroom_removal (Merge         *merge,
                        const RoomRef *ref)
{
  NatterdApp *app = natterd_directory_lookup_app_id (merge->server->directory, ref->app_id);
  NatterdChatroom *room = app != NULL ? g_hash_table_lookup (app->chatrooms, ref->chatroom_id) : NULL;

  /* Destroyed elsewhere: its members here are told, as over NATS. */
  if (room != NULL && room->stored && room->added < merge->since && !g_hash_table_contains (merge->chatrooms, &room->id))
    {
      natterd_server_chatroom_forget (merge->server, room);
      merge->removed++;
    }
}

/* One step of @merge's phase; FALSE once the phase is over. */
static gboolean
merge_step (Merge *merge)
{
  switch (merge->phase)
    {
    case MERGE_REPLAY:
      merge->next = natterd_load_log_replay_some (merge->log, &merge_sink, merge, merge->next, 64);
      return merge->next < natterd_load_log_get_length (merge->log);
    case MERGE_COLLECT:
      merge_collect (merge);
      return FALSE;
    case MERGE_GROUPS:
      if (merge->member_ids != NULL)
        {
          if (merge->next_member < merge->member_ids->len)
            merge_member_removal (merge, g_array_index (merge->member_ids, gint64, merge->next_member++));
          else
            g_clear_pointer (&merge->member_ids, g_array_unref);
          return TRUE;
        }
      if (merge->next >= merge->group_ids->len)
        return FALSE;
      merge_group_removals (merge, g_array_index (merge->group_ids, gint64, merge->next++));
      return TRUE;
    case MERGE_BLACKLISTS:
      if (merge->next >= merge->user_ids->len)
        return FALSE;
      merge_blacklist_removals (merge, g_array_index (merge->user_ids, gint64, merge->next++));
      return TRUE;
    case MERGE_CHATROOMS:
      if (merge->next >= merge->rooms->len)
        return FALSE;
      merge_chatroom_removal (merge, &g_array_index (merge->rooms, RoomRef, merge->next++));
      return TRUE;
    case MERGE_CATCH_UP:
      /* Sessions here read what other nodes stored meanwhile. */
      if (merge->next >= merge->sessions->len)
        return FALSE;
      natterd_session_catch_up (g_ptr_array_index (merge->sessions, merge->next++));
      return TRUE;
    case MERGE_DONE:
    default:
      g_assert_not_reached ();
    }
}

static void
merge_done (NatterdCluster *self,
            Merge          *merge)
{
  static const char * const phases[] = { "replay", "collect", "groups", "blacklists", "chatrooms", "catch-up",
                                          "done" };
  char added[16], removed[16], slices[16], longest[24], longest_cpu[24], took[24], rows[16];
  /* The rows the read-back read (what a read of only the changes would cut). */
  guint n_rows = merge->log != NULL ? natterd_load_log_get_length (merge->log) : 0;

  g_snprintf (rows, sizeof rows, "%u", n_rows);
  g_snprintf (added, sizeof added, "%u", merge->added);
  g_snprintf (removed, sizeof removed, "%u", merge->removed);
  g_snprintf (slices, sizeof slices, "%u", merge->slices);
  g_snprintf (longest, sizeof longest, "%.1f", merge->longest / 1000.0);
  g_snprintf (longest_cpu, sizeof longest_cpu, "%.1f", merge->longest_cpu / 1000.0);
  g_snprintf (took, sizeof took, "%.1f", (g_get_monotonic_time () - merge->started) / 1000.0);
  natterd_log (G_LOG_LEVEL_INFO, "cluster-refreshed", "rows", rows, "added", added, "removed", removed,
               "slices", slices, "longest-slice-ms", longest, "longest-in", phases[merge->longest_phase],
               "longest-slice-cpu-ms", longest_cpu, "ms", took, NULL);
  self->server->metrics->cluster_refreshes++;
  self->server->metrics->cluster_refresh_slices += merge->slices;
  self->server->metrics->cluster_refresh_rows += n_rows;
  self->server->metrics->cluster_merging = FALSE;
  self->refreshing = FALSE;
  if (self->refresh_again)
    {
      self->refresh_again = FALSE;
      refresh_directory (self);
    }
}

/* @log's rows, to be merged as read after natterd_directory_stamp() was
 * @since. */
static Merge *
merge_new (NatterdServer  *server,
           NatterdLoadLog *log,
           guint64         since)
{
  Merge *merge = g_new0 (Merge, 1);

  merge->server = g_object_ref (server);
  merge->log = log;
  merge->users = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  merge->groups = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  merge->seen = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  merge->members = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, (GDestroyNotify) g_hash_table_unref);
  merge->blacklists = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) g_hash_table_unref);
  merge->chatrooms = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  merge->since = since;
  merge->now = natterd_now_ms ();
  merge->started = g_get_monotonic_time ();
  return merge;
}

static gint64
thread_cpu_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

static gboolean
merge_slice (gpointer user_data)
{
  Merge *merge = user_data;
  NatterdCluster *self = merge->server->cluster;
  gint64 start = g_get_monotonic_time ();
  gint64 cpu = thread_cpu_us ();
  gint64 now = start;

  if (self == NULL || self->stopped)
    return G_SOURCE_REMOVE;
  merge->slices++;
  while (now - start < MERGE_SLICE_US)
    {
      if (!merge_step (merge))
        {
          merge->phase++;
          merge->next = 0;
          if (merge->phase == MERGE_DONE)
            {
              merge->longest = MAX (merge->longest, g_get_monotonic_time () - start);
              merge->longest_cpu = MAX (merge->longest_cpu, thread_cpu_us () - cpu);
              self->merge_id = 0;
              merge_done (self, merge);
              return G_SOURCE_REMOVE;
            }
        }
      now = g_get_monotonic_time ();
    }
  merge->longest_cpu = MAX (merge->longest_cpu, thread_cpu_us () - cpu);
  if (now - start > merge->longest)
    {
      merge->longest = now - start;
      merge->longest_phase = merge->phase;
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
refresh_retry (gpointer user_data)
{
  NatterdCluster *self = user_data;

  self->refresh_retry_id = 0;
  refresh_directory (self);
  return G_SOURCE_REMOVE;
}

static void
directory_read (NatterdRead *base,
                gpointer     user_data)
{
  NatterdAppsRead *read = (NatterdAppsRead *) base;
  NatterdServer *server = user_data;
  NatterdCluster *self = server->cluster;
  Merge *merge;

  if (self == NULL || self->stopped)
    return;
  if (base->error != NULL)
    {
      self->refreshing = FALSE;
      /* The start it used is spent (refresh_start()): the retry reads
       * everything rather than from a later one. */
      self->lost_since = 1;
      server->metrics->cluster_refresh_failures++;
      natterd_log (G_LOG_LEVEL_WARNING, "cluster-refresh-failed", "error", base->error->message, NULL);
      if (self->refresh_retry_id == 0)
        self->refresh_retry_id = g_timeout_add_seconds (1, refresh_retry, self);
      return;
    }
  for (guint i = 0; i < read->apps->len; i++)
    natterd_directory_add_app (server->directory, g_ptr_array_index (read->apps, i));
  /* Read while NATS is down: what is committed from now on is not heard
   * either, so the next read-back starts from before this one began (a
   * horizon older than its first snapshot, the account rows'). */
  if (self->refresh_apart)
    note_lost (self, self->refresh_began);

  merge = merge_new (server, g_steal_pointer (&read->directory), self->refresh_since);
  add_horizon (self, g_steal_pointer (&read->horizon));
  if (read->since != NULL)
    {
      merge->changed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      for (guint i = 0; i < read->changed->len; i++)
        g_hash_table_add (merge->changed, g_strdup (g_ptr_array_index (read->changed, i)));
    }
  server->metrics->cluster_merging = TRUE;
  /* At the priority of the sockets: one slice between their events. */
  self->merge_id = g_idle_add_full (G_PRIORITY_DEFAULT, merge_slice, merge, merge_free);
  g_source_set_static_name (g_main_context_find_source_by_id (NULL, self->merge_id), "natterd-cluster-merge");
}

static void accounts_refreshed (gboolean ok, gpointer user_data);

static gboolean
accounts_retry (gpointer user_data)
{
  NatterdCluster *self = user_data;

  self->accounts_retry_id = 0;
  /* Past this, the store may no longer keep the changes from the start
   * (refresh_start()): everything is read, the directory too. */
  if (g_get_monotonic_time () - self->refresh_began > NATTERD_STORE_CHANGES_KEPT_MS / 4 * 1000)
    g_clear_pointer (&self->refresh_from, g_free);
  natterd_server_refresh_accounts (self->server, self->refresh_from, accounts_refreshed, self->server);
  return G_SOURCE_REMOVE;
}

/* Read after the account rows are applied: a session the directory's
 * user rows drop for a password changed elsewhere finds its token
 * revoked here when it comes back (31004, not 31020). The account rows
 * not read (the store failed) are read again, from the same start,
 * before the directory: nothing else would read them. */
static void
accounts_refreshed (gboolean ok,
                    gpointer user_data)
{
  NatterdServer *server = user_data;
  NatterdCluster *self = server->cluster;
  NatterdAppsRead *read;

  if (self == NULL || self->stopped)
    return;
  if (!ok)
    {
      server->metrics->cluster_refresh_failures++;
      if (self->accounts_retry_id == 0)
        self->accounts_retry_id = g_timeout_add_seconds (1, accounts_retry, self);
      return;
    }
  read = natterd_read_new (NATTERD_READ_APPS, directory_read, g_object_ref (server), g_object_unref);
  /* directory_read() frees it. */
  read->directory = natterd_load_log_new ();
  read->since = g_steal_pointer (&self->refresh_from);
  if (read->since != NULL)
    {
      GHashTableIter iter;
      NatterdSession *session;

      /* The inbox heads of the users with sessions here too (what they
       * may have missed). */
      g_hash_table_iter_init (&iter, server->sessions);
      while (g_hash_table_iter_next (&iter, (gpointer *) &session, NULL))
        if (natterd_session_get_user (session) != NULL)
          g_array_append_val (read->user_ids, natterd_session_get_user (session)->id);
    }
  natterd_store_read (server->store, read);
}

static void
refresh_stored (NatterdOp *op,
                gpointer   user_data)
{
  NatterdServer *server = user_data;
  NatterdCluster *self = server->cluster;

  if (self == NULL || self->stopped)
    return;
  /* One start for the account rows and the directory rows. */
  g_free (self->refresh_from);
  self->refresh_from = refresh_start (self);
  self->refresh_began = g_get_monotonic_time ();
  self->refresh_apart = !g_atomic_int_get (&self->connected);
  natterd_server_refresh_accounts (server, self->refresh_from, accounts_refreshed, server);
}

static void
refresh_directory (NatterdCluster *self)
{
  if (!self->shared_store || self->stopped)
    return;
  if (self->refreshing)
    {
      self->refresh_again = TRUE;
      return;
    }
  self->refreshing = TRUE;
  /* What changes here from now on may be missing from the snapshot;
   * what changed before is stored once the barrier completes. */
  self->refresh_since = natterd_directory_stamp ();
  natterd_server_refresh_accounts_begin (self->server);
  natterd_store_submit (self->server->store, natterd_op_new (NATTERD_OP_BARRIER, refresh_stored,
                                                             g_object_ref (self->server), g_object_unref));
}

/* ------------------------------------------------ users read on demand */

static void
user_read_detach (UserRead *pending)
{
  if (pending->cluster == NULL)
    return;
  g_hash_table_remove (pending->cluster->user_reads, pending->key);
  pending->cluster->user_waiters -= pending->waiters->len;
  pending->cluster = NULL;
}

static void
user_read (NatterdRead *base,
           gpointer     user_data)
{
  NatterdUserRead *read = (NatterdUserRead *) base;
  UserRead *pending = user_data;
  NatterdCluster *self = pending->cluster;
  NatterdServer *server = self != NULL ? self->server : NULL;
  NatterdApp *app = server != NULL ? natterd_directory_lookup_app_id (server->directory, read->app_id) : NULL;

  user_read_detach (pending);
  if (base->error != NULL)
    natterd_log (G_LOG_LEVEL_WARNING, "cluster-user-read-failed", "user", read->user_id,
                 "error", base->error->message, NULL);
  /* Over NATS meanwhile, or read: known either way from here on. */
  else if (app != NULL && read->found && natterd_directory_lookup_user (app, read->user_id) == NULL)
    {
      NatterdUser *user = add_stored_user (server->directory, app, &read->user);

      if (user != NULL)
        {
          user->tokens_valid_after = read->user.tokens_valid_after;
          user->blocked_until = read->user.blocked_until;
          user->max_seq = read->user.max_seq;
          user->last_seen = read->user.last_seen;
          /* Its password epoch and privacy, as for a change over NATS. */
          natterd_accounts_apply_rows (server, app, read->rows);
          /* Its groups as stored (joined elsewhere while NATS was down:
           * its messages to them are taken here at once), their members
           * as stored too (one removed elsewhere meanwhile is refused
           * here at once, not after the read-back). A few groups, a few
           * hundred rows: at once. */
          {
            Merge *merge = merge_new (server, NULL, pending->since);

            merge->changed = g_hash_table_new (g_str_hash, g_str_equal);
            natterd_load_log_replay (read->groups, &merge_sink, merge);
            merge_member_removals (merge);
            merge_free (merge);
          }
          server->metrics->cluster_users_read++;
          natterd_log (G_LOG_LEVEL_INFO, "cluster-user-read", "app", app->key, "user", read->user_id, NULL);
        }
    }
  /* The waiters ask the directory again: 31004 if still unknown. */
  g_ptr_array_unref (pending->waiters);
  pending->waiters = NULL;
}

static void
user_read_free (gpointer data)
{
  UserRead *pending = data;

  /* Not read (the store stopped): the waiters are answered all the same. */
  if (pending->waiters != NULL)
    user_read_detach (pending);
  g_clear_pointer (&pending->waiters, g_ptr_array_unref);
  g_free (pending->key);
  g_free (pending);
}

void
natterd_server_with_token_user (NatterdServer  *self,
                                const char     *token,
                                NatterdThenFunc func,
                                gpointer        user_data,
                                GDestroyNotify  destroy)
{
  NatterdCluster *cluster = self->cluster;
  UserWaiter *waiter = g_new0 (UserWaiter, 1);
  g_autofree char *user_id = NULL;
  g_autofree char *key = NULL;
  NatterdApp *app = NULL;
  UserRead *pending;
  NatterdUserRead *read;

  waiter->func = func;
  waiter->user_data = user_data;
  waiter->destroy = destroy;
  if (cluster == NULL || !cluster->shared_store || cluster->stopped ||
      cluster->user_waiters >= USER_WAITERS_MAX ||
      !natterd_token_names_unknown_user (self->directory, token, &app, &user_id))
    {
      user_waiter_run (waiter);
      return;
    }
  cluster->user_waiters++;
  key = g_strdup_printf ("%" G_GINT64_FORMAT "\n%s", app->id, user_id);
  pending = g_hash_table_lookup (cluster->user_reads, key);
  if (pending != NULL)
    {
      g_ptr_array_add (pending->waiters, waiter);
      return;
    }
  pending = g_new0 (UserRead, 1);
  pending->cluster = cluster;
  pending->key = g_steal_pointer (&key);
  pending->since = natterd_directory_stamp ();
  pending->waiters = g_ptr_array_new_with_free_func (user_waiter_run);
  g_ptr_array_add (pending->waiters, waiter);
  g_hash_table_insert (cluster->user_reads, pending->key, pending);
  read = natterd_read_new (NATTERD_READ_USER, user_read, pending, user_read_free);
  read->app_id = app->id;
  read->user_id = g_steal_pointer (&user_id);
  natterd_store_read (self->store, read);
}
