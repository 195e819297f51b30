/* natterd-session.h — one client WebSocket connection
 *
 * Small on purpose (an idle connection must cost little): the user, the
 * device, where delivery stands (sent and acked inbox seq, whether offline
 * replay is still running). Its socket knows when the last frame came.
 * Keep-alive and connect timeouts are checked by the server's one sweep
 * timer, not per connection.
 *
 * A session speaks the protocol and keeps its own delivery state; what
 * only the server can do (the app and user a token names, routing a
 * Publish, answering a Query, saving delivery progress) it asks of its
 * NatterdSessionHost. The server learns of a session's life from the
 * host's state_changed (connected, closed) and closed (the connection is
 * gone: the server drops it): two signal handlers were ~390 bytes of
 * closures and handler lists per idle connection.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <libsoup/soup.h>

#include "natter-frame.h"
#include "natterd-directory.h"
#include "natterd-metrics.h"
#include "natterd-socket.h"
#include "natterd-store.h"

G_BEGIN_DECLS

#define NATTERD_TYPE_SESSION (natterd_session_get_type ())
G_DECLARE_FINAL_TYPE (NatterdSession, natterd_session, NATTERD, SESSION, GObject)

typedef enum {
  NATTERD_SESSION_HANDSHAKE,    /* waiting for Connect */
  NATTERD_SESSION_CONNECTED,
  NATTERD_SESSION_CLOSED,
} NatterdSessionState;

#define NATTERD_TYPE_SESSION_STATE (natterd_session_state_get_type ())
GType natterd_session_state_get_type (void);

/* The answer to a Publish: @code 0 once the message is durable (its uid,
 * sent time and, on a group timeline, its timeline_seq, else 0), or the
 * code it was refused with. */
typedef void (*NatterdPublishDone)      (int          code,
                                         const char  *message_uid,
                                         gint64       sent_time,
                                         guint64      timeline_seq,
                                         gpointer     user_data);
/* @code 0 and the user a token names (@issued: when the token was), or the
 * code to refuse the Connect with. */
typedef void (*NatterdAuthenticateDone) (int          code,
                                         NatterdUser *user,
                                         gint64       issued,
                                         gpointer     user_data);

/* What a session asks of its server; one for every session of a server,
 * which owns it and outlives them. @host is the functions' first argument. */
typedef struct
{
  gpointer        host;
  NatterdStore   *store;          /* offline replay reads */
  NatterdMetrics *metrics;
  guint           ping_interval;  /* s, told to clients in ConnectAck */
  gboolean        stopping;       /* set on shutdown: frames that arrive are dropped */
  gboolean        shared_store;   /* other nodes write to the store too (PostgreSQL) */

  /* Once @app_key's app is known (apps created since start are read
   * again): the user @token names. @done runs once (unless the server is
   * finalized first; @destroy runs then). */
  void (*authenticate) (gpointer                 host,
                        const char              *app_key,
                        const char              *token,
                        NatterdAuthenticateDone  done,
                        gpointer                 user_data,
                        GDestroyNotify           destroy);
  /* Routes and stores @publish from @session's user; @done runs exactly once. */
  void (*publish)      (gpointer                 host,
                        NatterdSession          *session,
                        const Natter__Publish   *publish,
                        NatterdPublishDone       done,
                        gpointer                 user_data,
                        GDestroyNotify           destroy);
  /* Answers @query on @session (natterd_session_query_started() and
   * _finished() bracket it). */
  void (*query)        (gpointer                 host,
                        NatterdSession          *session,
                        const Natter__Query     *query);
  /* @session's acked seq moved: save it with the next flush. */
  void (*acked)        (gpointer                 host,
                        NatterdSession          *session);
  /* @session went from @old_state to @state. */
  void (*state_changed) (gpointer                host,
                         NatterdSession         *session,
                         NatterdSessionState     state,
                         NatterdSessionState     old_state);
  /* @session's connection is gone: the server drops its reference (pending
   * ops may still hold their own). */
  void (*closed)       (gpointer                 host,
                        NatterdSession          *session);
} NatterdSessionHost;

NatterdSession *natterd_session_new          (const NatterdSessionHost  *host,
                                              NatterdSocketLoop         *loop,
                                              GIOStream                 *stream,
                                              GSocket                   *socket,
                                              gboolean                   tls,
                                              GError                   **error);
/* A WebSocket natterd accepted itself (natterd_socket_loop_listen()). */
NatterdSession *natterd_session_new_for_fd   (const NatterdSessionHost  *host,
                                              NatterdSocketLoop         *loop,
                                              int                        fd,
                                              GError                   **error);

/* The server is going away before @self (pending ops hold it): state
 * changes are no longer told to the host. */
void            natterd_session_forget_host  (NatterdSession          *self);
NatterdSessionState natterd_session_get_state (NatterdSession         *self);
/* NULL until connected. */
NatterdUser    *natterd_session_get_user     (NatterdSession          *self);
const char     *natterd_session_get_device_id (NatterdSession         *self);
const char     *natterd_session_get_platform (NatterdSession          *self);
/* While a request is handled: when its bytes were read (monotonic µs). */
gint64          natterd_session_get_read_time (NatterdSession         *self);
/* The client closed saying its user signed out (NATTER_CLOSE_LOGOUT). */
gboolean        natterd_session_is_logout    (NatterdSession          *self);
/* When the token it connected with was issued (ms). */
gint64          natterd_session_get_token_issued (NatterdSession      *self);
/* Monotonic µs of the last frame from the client, WebSocket pings
 * included: the keep-alive counts any of them. */
gint64          natterd_session_get_last_input (NatterdSession        *self);
/* Why to close it now, or NULL: no Connect frame since before
 * @connect_deadline, or connected and silent since before @idle_deadline
 * (monotonic µs). */
const char     *natterd_session_check_deadlines (NatterdSession       *self,
                                                 gint64                connect_deadline,
                                                 gint64                idle_deadline);

/* Delivery progress: the acked seq, and whether it changed since it was
 * last saved; natterd_session_ack_saved() once @seq is durable. */
guint64         natterd_session_get_acked_seq (NatterdSession         *self);
gboolean        natterd_session_has_unsaved_ack (NatterdSession       *self);
void            natterd_session_ack_saved    (NatterdSession          *self,
                                              guint64                  seq);

void            natterd_session_send_frame   (NatterdSession          *self,
                                              const NatterFrame       *frame);
void            natterd_session_close        (NatterdSession          *self,
                                              gushort                  code,
                                              const char              *reason);
void            natterd_session_kick         (NatterdSession          *self,
                                              int                      code);
/* An inbox entry committed just now: sent unless the session is replaying
 * or lagging behind (then the replay picks it up from the store); a gap
 * before @seq (seqs another node of a shared store took) is read from the
 * store. */
void            natterd_session_deliver_live (NatterdSession          *self,
                                              guint64                  seq,
                                              const NatterdMessage    *message);
/* @seq is the copy of what this session's device sent, in its user's
 * inbox (multi-device): not sent to it, and no gap. */
void            natterd_session_pass_own     (NatterdSession          *self,
                                              guint64                  seq);
/* The same as natterd_session_deliver_live() for an entry committed on
 * another node. */
void            natterd_session_deliver_remote (NatterdSession        *self,
                                                guint64                seq,
                                                const NatterdMessage  *message);
/* The user's inbox head moved (another node stored entries): read what
 * this session has not sent from the store. */
void            natterd_session_catch_up       (NatterdSession        *self);
/* A message outside the inbox (seq 0): status-only, chatroom. */
/* A group message's Deliver, shared by every receiver of its form. */
gboolean        natterd_session_deliver_shared (NatterdSession       *self,
                                                NatterdSocketFrame   *frame);
/* #18: the highest seq of a group timeline (@target_id) a `timeline`
 * fetch gave this session: a fan-out under way sends it nothing up to
 * there, so a device that connects and syncs while one is under way gets
 * each message once. */
void            natterd_session_timeline_fetched  (NatterdSession *self,
                                                   const char     *target_id,
                                                   guint64         seq);
gboolean        natterd_session_timeline_was_fetched (NatterdSession *self,
                                                      const char     *target_id,
                                                      guint64         seq);
/* Starts loading what natterd_session_deliver_shared() will read of
 * @self and its connection (a fan-out walks thousands of sessions). */
void            natterd_session_prefetch          (NatterdSession *self);
void            natterd_session_deliver_transient (NatterdSession     *self,
                                                   const NatterdMessage *message);
/* Queries in flight ([limits] max-queries counts them); with publishes,
 * past a bound nothing more is read from the connection until answers
 * went out. */
void            natterd_session_query_started  (NatterdSession       *self);
void            natterd_session_query_finished (NatterdSession       *self);
guint           natterd_session_get_queries    (NatterdSession       *self);
void            natterd_session_send_chatroom_event (NatterdSession   *self,
                                                     const char       *chatroom_id,
                                                     int               code);

/* Builds a protocol Message for @viewer_id; strings are borrowed from @m. */
void            natterd_message_to_proto     (const NatterdMessage    *m,
                                              const char              *viewer_id,
                                              Natter__Message         *out);

G_END_DECLS
