/* natterd-server-private.h — NatterdServer spans several files (GNOME Text
 * Editor style): natterd-server.c (lifetime, HTTP, timers, sessions),
 * natterd-router.c (publish and delivery), natterd-queries.c (Query
 * frames), natterd-api.c and the files of natterd-api-private.h (server
 * API), natterd-chatrooms.c, natterd-media.c, natterd-metrics.c,
 * natterd-history.c. Sessions (natterd-session.c) and webhook dispatch
 * (natterd-webhooks.c) are objects of their own that the server holds.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <libsoup/soup.h>

#include "natter-frame.h"
#include "natterd-cluster.h"
#include "natterd-directory.h"
#include "natterd-health.h"
#include "natterd-http-guard.h"
#include "natterd-metrics.h"
#include "natterd-server.h"
#include "natterd-session.h"
#include "natterd-webhooks.h"

G_BEGIN_DECLS

#define NATTERD_CHANNEL_CLOCK_SLOTS 65536
/* ~13 ms of back-to-back 0.2 ms fan-out slices. */
#define NATTERD_FANOUT_SLICES_KEPT 64

typedef struct _NatterdAccounts NatterdAccounts;

struct _NatterdServer
{
  GObject           parent_instance;

  NatterdConfig    *config;
  NatterdStore     *store;
  NatterdDirectory *directory;
  SoupServer       *soup;
  NatterdSocketLoop *sockets;           /* every WebSocket */
  GSocket          *listener;           /* plain TCP: accepted by sockets, not libsoup */
  GSocket          *soup_anchor[2];     /* plain TCP: libsoup's listener that never accepts */
  gboolean          tls;                /* https and wss:// */
  char             *url;
  char             *public_url;
  char             *data_dir;

  GHashTable       *sessions;           /* NatterdSession* (owns a ref) */
  NatterdSessionHost session_host;      /* what every session may ask of the server */
  guint             n_connected;
  guint             sweep_id;
  GHashTable       *dirty_devices;      /* NatterdSession* with an unsaved acked seq */
  gint64            last_device_flush;
  /* sweep(): the message rate the adaptive time slices follow (natterd-sched.c) */
  gint64            rate_at;
  guint64           rate_published;
  guint64           rate_delivered;
  gint64            last_prune;
  gint64           *channel_clock;      /* last sent_time per hashed channel */
  gint64            last_apps_reload;   /* monotonic µs */
  gboolean          apps_reloading;
  guint             apps_reload_id;
  GPtrArray        *app_waiters;        /* AppWaiter, see natterd_server_with_app() */
  gboolean          shutting_down;
  guint             history_id;         /* hourly export timer */

  /* natterd-router.c: per group, messages stored or being written to the
   * members' sessions, and those waiting for their turn */
  GHashTable       *fanout_lanes;
  /* natterd-router.c: committed group messages whose sessions are queued
   * their frame a slice per main-loop iteration, oldest first */
  GQueue            fanout_jobs;
  GSource          *fanout_source;
  /* The latest slices' times (monotonic µs): a private ack's wait
   * behind them (natterd_ack_stage_seconds{stage="fanout"}, #18). */
  struct { gint64 start, end; } fanout_slices[NATTERD_FANOUT_SLICES_KEPT];
  guint             fanout_slice_next;

  NatterdWebhooks  *webhooks;
  /* The user whose older session a new login is kicking: not offline. */
  NatterdUser      *replacing_user;
  NatterdMetrics   *metrics;            /* sessions and webhooks count here too */
  /* A store batch's private messages (NatterdStageStamps), observed in
   * metrics once the batch's writes are out (observe_batch()). */
  GArray           *stage_stamps;
  /* The same for the batch's private PublishAcks (#18). */
  GArray           *ack_stamps;

  /* natterd-server.c: every HTTP connection (WebSockets included) */
  NatterdHttpGuard *http_guard;
  guint             max_connections;    /* [limits] max-connections, or the safe default */

  NatterdHealth    *health;             /* GET /healthz, natterd-health.c */

  NatterdCluster   *cluster;            /* [cluster] nats; NULL: a single node */

  NatterdAccounts  *accounts;           /* /account/, natterd-accounts.c */
};

/* ------------------------------------------------------------ natterd-server.c */

/* Runs @func once @app_key is known: at once, or after reloading the apps
 * table (an app created by another natterd process while this one runs).
 * @func gets NULL if the app still does not exist. */
typedef void (*NatterdAppFunc) (NatterdServer *self,
                                NatterdApp    *app,
                                gpointer       user_data);
void     natterd_server_with_app        (NatterdServer  *self,
                                         const char     *app_key,
                                         NatterdAppFunc  func,
                                         gpointer        user_data,
                                         GDestroyNotify  destroy);

/* Reads the apps table again, on this node only. */
void     natterd_server_reload_apps_here (NatterdServer *self);

NatterdUser *natterd_server_ensure_user (NatterdServer  *self,
                                         NatterdApp     *app,
                                         const char     *user_id);
void     natterd_server_save_user       (NatterdServer  *self,
                                         NatterdUser    *user,
                                         NatterdOpFunc   complete,
                                         gpointer        user_data,
                                         GDestroyNotify  destroy);
void     natterd_server_flush_devices   (NatterdServer  *self);
/* Closes every connection of @user with a Kick carrying @code. */
void     natterd_server_kick_user       (NatterdServer  *self,
                                         NatterdUser    *user,
                                         int             code,
                                         gint64          issued_before);

GString *natterd_metrics_render         (NatterdServer  *self);

/* What waits for a write op on behalf of a caller: the caller's callback
 * (cast to GCallback), its data, and the session the request came from. */
typedef struct
{
  NatterdServer  *server;
  NatterdSession *origin;
  GCallback       func;
  gpointer        user_data;
  GDestroyNotify  destroy;
} NatterdPending;

NatterdPending *natterd_pending_new  (NatterdServer  *server,
                                      NatterdSession *origin,
                                      GCallback       func,
                                      gpointer        user_data,
                                      GDestroyNotify  destroy);
void            natterd_pending_free (gpointer        data);

/* ------------------------------------------------------------ natterd-router.c */

typedef struct
{
  NatterdApp     *app;
  NatterdUser    *sender;
  NatterdSession *origin;               /* NULL from the server API */
  const char     *device_id;            /* idempotency key with client_msg_id */
  const char     *client_msg_id;
  int             conversation_type;
  const char     *target_id;
  const char     *object_name;
  const char     *content;
  const char     *push_content;
  guint           flags;                /* natter_object_name_flags() applied */
  gboolean        from_api;             /* no membership checks, no rate limit */
  gboolean        include_sender;       /* server API isIncludeSender */
  gint64          read_time;            /* its bytes read, monotonic µs (0: not from a socket) */
} NatterdPublishRequest;

/* Routes and stores a message; @done runs exactly once (possibly before
 * this returns) with 0 once it is durable, or with the refusal code. */
void     natterd_server_publish         (NatterdServer                *self,
                                         const NatterdPublishRequest  *request,
                                         NatterdPublishDone            done,
                                         gpointer                      user_data,
                                         GDestroyNotify                destroy);
/* Sent time for a new message of @channel: now, but strictly after the
 * previous message of the same conversation so history pages never tie. */
gint64   natterd_server_next_sent_time  (NatterdServer  *self,
                                         const char     *channel);
gboolean natterd_server_check_rate      (NatterdServer  *self,
                                         NatterdUser    *user);
/* Sends a message outside the inbox (status-only, chatroom) to @user's
 * sessions but @except. */
void     natterd_server_deliver_live    (NatterdServer        *self,
                                         NatterdUser          *user,
                                         const NatterdMessage *message,
                                         NatterdSession       *except);
/* Sends a committed message to its recipients' sessions (but @origin),
 * chatroom members and the webhook. */
void     natterd_server_deliver_committed (NatterdServer    *self,
                                           NatterdPublishOp *op,
                                           NatterdSession   *origin);
/* Drops the group fan-outs still going on (shutdown). */
void     natterd_server_fanout_clear    (NatterdServer        *self);
/* Monotonic µs: the main thread's time in group fan-out slices between
 * them (the latest NATTERD_FANOUT_SLICES_KEPT slices). */
gint64   natterd_server_fanout_time_between (NatterdServer    *self,
                                             gint64            from,
                                             gint64            to);
/* Recipients of a recall command and of group messages. */
void     natterd_server_add_conversation_recipients (NatterdServer    *self,
                                                     NatterdPublishOp *op,
                                                     NatterdApp       *app,
                                                     NatterdUser      *sender,
                                                     int               conversation_type,
                                                     const char       *target_id,
                                                     gboolean          sender_inbox,
                                                     gboolean          counted);

/* Deliveries from another node (natterd-cluster.c) to this node's sessions. */
void     natterd_server_remote_inbox    (NatterdServer        *self,
                                         NatterdUser          *user,
                                         guint64               seq,
                                         const NatterdMessage *message);
void     natterd_server_remote_timeline (NatterdServer        *self,
                                         NatterdApp           *app,
                                         const NatterdMessage *message,
                                         gboolean              sender_devices);
void     natterd_server_remote_room     (NatterdServer        *self,
                                         NatterdApp           *app,
                                         const NatterdMessage *message);
void     natterd_server_remote_status   (NatterdServer        *self,
                                         NatterdApp           *app,
                                         const NatterdMessage *message,
                                         gboolean              multi_device);

/* ----------------------------------------------------------- natterd-cluster.c */

/* @op, a server API change, is durable here: the other nodes apply it. */
void     natterd_server_cluster_committed (NatterdServer      *self,
                                           NatterdApp         *app,
                                           NatterdOp          *op);
/* A chatroom is stored, destroyed through the API, or its gags or bans
 * changed (@users, @block: bans, @until: 0 lifts them): the other nodes
 * apply it. */
void     natterd_server_cluster_chatroom (NatterdServer       *self,
                                          NatterdChatroom     *room);
void     natterd_server_cluster_chatroom_destroyed (NatterdServer *self,
                                                    NatterdApp    *app,
                                                    const char    *chatroom_id);
void     natterd_server_cluster_chatroom_restrict (NatterdServer   *self,
                                                   NatterdChatroom *room,
                                                   GPtrArray       *user_ids,
                                                   gboolean         block,
                                                   gint64           until);
/* A change another node committed: applied to this node's directory. */
/* A token naming a user this node has not heard of yet, valid (another
 * node of a shared store made the user; the change is still on its way
 * over NATS, or was lost in an outage): the user is read from the store
 * off the main loop, then @func runs; for any other token at once. */
typedef void (*NatterdThenFunc) (gpointer user_data);
/* The token of "Authorization: Bearer TOKEN", or NULL (natterd-accounts.c). */
const char *natterd_bearer_token        (SoupServerMessage    *msg);
void     natterd_server_with_token_user (NatterdServer        *self,
                                         const char           *token,
                                         NatterdThenFunc       func,
                                         gpointer              user_data,
                                         GDestroyNotify        destroy);
void     natterd_server_apply_change    (NatterdServer        *self,
                                         NatterdApp           *app,
                                         JsonObject           *change);

/* ----------------------------------------------------------- natterd-queries.c */

void     natterd_server_handle_query    (NatterdServer       *self,
                                         NatterdSession      *session,
                                         const Natter__Query *query);
typedef void (*NatterdRecallDone) (int                   code,
                                   const NatterdMessage *command,
                                   gpointer              user_data);
void     natterd_server_recall          (NatterdServer     *self,
                                         NatterdApp        *app,
                                         NatterdUser       *sender,
                                         int                conversation_type,
                                         const char        *target_id,
                                         const char        *message_uid,
                                         gint64             sent_time,
                                         NatterdRecallDone  done,
                                         gpointer           user_data,
                                         GDestroyNotify     destroy);

/* --------------------------------------------------------- natterd-chatrooms.c */

/* @room is NULL unless @code is 0 (or 23409: banned); @user_data is the
 * callback's, which runs exactly once. */
typedef void (*NatterdChatroomJoined) (NatterdServer   *self,
                                       NatterdChatroom *room,
                                       int              code,
                                       gpointer         user_data);
/* Joins @user to @chatroom_id, created on first join: once the room's row
 * is durable (30002 if it cannot be stored; the room is then forgotten). */
void     natterd_server_chatroom_join   (NatterdServer    *self,
                                         NatterdApp       *app,
                                         NatterdUser      *user,
                                         const char       *chatroom_id,
                                         NatterdChatroomJoined done,
                                         gpointer          user_data);
void     natterd_server_chatroom_quit   (NatterdServer    *self,
                                         NatterdChatroom  *room,
                                         NatterdUser      *user);
/* Removes @user from @room and tells its sessions (@code 23409 or 23410). */
void     natterd_server_chatroom_kick   (NatterdServer    *self,
                                         NatterdChatroom  *room,
                                         NatterdUser      *user,
                                         int               code);
/* Whoever is in @room, on every node, hears that @user was removed (a
 * block from the server API): said by the node where @user was a member. */
void     natterd_server_chatroom_tell_kicked (NatterdServer   *self,
                                              NatterdChatroom *room,
                                              NatterdUser     *user);
void     natterd_server_chatroom_destroy (NatterdServer   *self,
                                          NatterdChatroom *room);
/* The same, in memory only: another node destroyed it (and stored that). */
void     natterd_server_chatroom_stored_elsewhere (NatterdServer   *self,
                                                   NatterdChatroom *room);
/* Another node stored the user or group @op created first, under its
 * own id (NatterdUserOp.stored_id): this node takes that id, and what the
 * stored row says (natterd-cluster.c). */
void     natterd_server_user_stored_elsewhere  (NatterdServer   *self,
                                                NatterdUser     *user,
                                                NatterdUserOp   *op);
void     natterd_server_group_stored_elsewhere (NatterdServer   *self,
                                                NatterdGroupOp  *op);
void     natterd_server_chatroom_forget (NatterdServer   *self,
                                         NatterdChatroom *room);
/* The room, created if new (its row stored; joins wait for it) or renamed
 * (the new name shows once it is stored). */
NatterdChatroom *natterd_server_chatroom_create (NatterdServer *self,
                                                 NatterdApp    *app,
                                                 const char    *chatroom_id,
                                                 const char    *name);
void     natterd_server_chatroom_sweep  (NatterdServer    *self);
void     natterd_server_chatroom_user_offline (NatterdServer *self,
                                               NatterdUser   *user);
void     natterd_server_chatroom_add_recent (NatterdChatroom      *room,
                                             const NatterdMessage *message);

/* --------------------------------------------------------------- natterd-api.c */

void     natterd_server_setup_api       (NatterdServer  *self);
/* natterd-accounts.c: /account/ (#14) */
void     natterd_server_setup_accounts  (NatterdServer  *self);
void     natterd_server_load_accounts   (NatterdServer  *self);
/* After a NATS outage: _begin() as the read-back's barrier is submitted,
 * then _refresh_accounts() once it completed; @done runs once the rows
 * are applied (in slices of the main loop), also when there was nothing
 * to read, with @ok FALSE if they could not be read: the caller calls
 * _refresh_accounts() again (what is changed here meanwhile is still
 * kept from the read-back). @since (PostgreSQL, a horizon): only the
 * rows changed from that transaction on; NULL: every row. */
typedef void (*NatterdRefreshDone) (gboolean ok,
                                    gpointer user_data);
void     natterd_server_refresh_accounts_begin (NatterdServer *self);
void     natterd_server_refresh_accounts (NatterdServer      *self,
                                          const char         *since,
                                          NatterdRefreshDone  done,
                                          gpointer            data);
void     natterd_accounts_free          (NatterdAccounts *accounts);
/* A wrong password another node was given ("login-address" change): the
 * address limit counts it here too (natterd-accounts-passwords.c). */
void     natterd_accounts_apply_address_failure (NatterdServer *server,
                                                 JsonObject    *change);
/* Another node's account rows (natterd-cluster.c): what this node keeps
 * of them is applied; passwords and invites never travel (they are read
 * from the store where they are checked). FALSE: nothing to send. */
/* An account op of this node's is stored: the versions of its rows. */
void     natterd_accounts_committed      (NatterdServer    *server,
                                          NatterdApp       *app,
                                          NatterdAccountOp *op);
gboolean natterd_accounts_cluster_change (NatterdAccountOp *op,
                                          JsonBuilder      *builder);
/* Account rows read from the store (a user read on demand), applied as
 * those of a change over NATS. */
void     natterd_accounts_apply_rows    (NatterdServer    *self,
                                         NatterdApp       *app,
                                         GPtrArray        *rows);
void     natterd_accounts_apply_change  (NatterdServer    *self,
                                         NatterdApp       *app,
                                         JsonObject       *change);
/* Publish of a user's message: 26010 when @target_id (a private
 * conversation) takes messages from contacts only and @sender is not one;
 * 22408 when @target_id (a group) is muted for all but its owner and
 * admins; 0 otherwise. */
/* @user's name or portrait changed: NT:ProfileNtf to who shows them
 * (natterd-accounts-people.c). */
void     natterd_server_profile_changed (NatterdServer *self,
                                         NatterdUser   *user);
int      natterd_server_accounts_check_publish (NatterdServer *self,
                                                NatterdApp    *app,
                                                NatterdUser   *sender,
                                                int            conversation_type,
                                                const char    *target_id);
void     natterd_server_prune_nonces    (NatterdServer  *self);

/* ------------------------------------------------------------- natterd-media.c */

void     natterd_server_setup_media     (NatterdServer  *self);
/* Serves the file at @path as media downloads are served: opened and read
 * in pieces on worker threads, Range, nosniff, sandbox; 404 if it is gone. */
void     natterd_server_serve_file      (NatterdServer     *self,
                                         SoupServerMessage *msg,
                                         const char        *path,
                                         const char        *content_type);

/* ----------------------------------------------------------- natterd-history.c */

void     natterd_server_setup_history   (NatterdServer  *self);
/* @url is "" when the hour has no messages, is not over, or is too old. */
typedef void (*NatterdHistoryDone) (const char   *url,
                                    const GError *error,
                                    gpointer      user_data);
void     natterd_server_history_export  (NatterdServer      *self,
                                         NatterdApp         *app,
                                         gint64              hour_start,
                                         NatterdHistoryDone  done,
                                         gpointer            user_data,
                                         GDestroyNotify      destroy);
/* "YYYYMMDDHH" (UTC) to the hour's first ms. */
gboolean natterd_history_parse_date     (const char         *date,
                                         gint64             *hour_start);

/* ---------------------------------------------------------- natterd-presence.c */

/* @user's status as @viewer may see it; @hidden: @user hides it (then
 * FALSE, and @last_seen 0); @last_seen: ms, 0 if unknown or not for
 * @viewer (who hides their own). */
gboolean natterd_server_presence_status  (NatterdServer                  *self,
                                          NatterdUser                    *viewer,
                                          NatterdUser                    *user,
                                          const char                    **platform,
                                          gboolean                       *hidden,
                                          gint64                         *last_seen);
int      natterd_server_subscribe        (NatterdServer                  *self,
                                          NatterdUser                    *subscriber,
                                          const Natter__SubscribeRequest *request,
                                          GPtrArray                      *found);
/* @offline_at: when @user went offline (wall ms, as the node that held
 * the last session says, so every node shows the same last seen), 0: now. */
void     natterd_server_presence_changed (NatterdServer                  *self,
                                          NatterdUser                    *user,
                                          gboolean                        logout,
                                          gint64                          offline_at);
/* @user now hides (or shows) their online status: subscribers are told. */
void     natterd_server_presence_privacy_changed (NatterdServer          *self,
                                                  NatterdUser            *user);
/* @user blocks (or unblocks) @other; @other's devices here, if they
 * follow @user's status, are told what they may see now. */
void     natterd_server_set_blocking     (NatterdServer                  *self,
                                          NatterdUser                    *user,
                                          NatterdUser                    *other,
                                          gboolean                        block);
/* A device of @callee sent @caller a call's RC:VCRinging: for a while
 * @caller may ask whether @callee's devices are connected even if @callee
 * hides their status (natterd_server_presence_devices_visible). */
void     natterd_server_presence_rang    (NatterdUser                    *caller,
                                          NatterdUser                    *callee);
/* Whether the online_status query answers @asker which of the devices it
 * names are @user's connected ones. */
gboolean natterd_server_presence_devices_visible (NatterdServer          *self,
                                                  NatterdUser            *asker,
                                                  NatterdUser            *user);
/* natterd-accounts.c: privacy.json showOnline=false */
gboolean natterd_server_hides_presence   (NatterdServer                  *self,
                                          NatterdUser                    *user);

G_END_DECLS
