/* natterd-session.h — one client WebSocket connection
 *
 * Small on purpose (an idle connection must cost little): the user, the
 * device, where delivery stands (sent and acked inbox seq, whether offline
 * replay is still running). Its socket knows when the last frame came.
 * Keep-alive and connect timeouts are checked by the server's one sweep
 * timer, not per connection.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <libsoup/soup.h>

#include "natter-frame.h"
#include "natterd-directory.h"
#include "natterd-socket.h"

G_BEGIN_DECLS

typedef struct _NatterdServer NatterdServer;

#define NATTERD_TYPE_SESSION (natterd_session_get_type ())
G_DECLARE_FINAL_TYPE (NatterdSession, natterd_session, NATTERD, SESSION, GObject)

typedef enum {
  NATTERD_SESSION_HANDSHAKE,    /* waiting for Connect */
  NATTERD_SESSION_CONNECTED,
  NATTERD_SESSION_CLOSED,
} NatterdSessionState;

struct _NatterdSession
{
  GObject                  parent_instance;

  NatterdServer           *server;      /* not a ref: the server outlives sessions */
  NatterdSocket           *socket;      /* ws:// and wss:// alike */
  NatterdSessionState      state;
  NatterdUser             *user;
  char                    *device_id;
  char                    *platform;
  gint64                   token_issued;
  gint64                   created;     /* monotonic µs */
  guint64                  sent_seq;    /* highest inbox seq sent */
  guint64                  acked_seq;
  guint64                  saved_acked_seq;
  guint                    empty_replays : 2;
  guint                    replaying : 1;       /* offline replay (or lagging) */
  guint                    replay_in_flight : 1;
  guint                    connecting : 1;      /* waiting for the app lookup */
  guint                    requests;            /* publishes and queries not yet answered */
  guint                    queries;             /* of those, queries ([limits] max-queries) */
};

NatterdSession *natterd_session_new          (NatterdServer           *server,
                                              NatterdSocketLoop       *loop,
                                              GIOStream               *stream,
                                              GSocket                 *socket,
                                              gboolean                 tls,
                                              GError                 **error);
/* Monotonic µs of the last frame from the client, WebSocket pings
 * included: the keep-alive counts any of them. */
gint64          natterd_session_get_last_input (NatterdSession        *self);
void            natterd_session_send_frame   (NatterdSession          *self,
                                              const NatterFrame      *frame);
void            natterd_session_close        (NatterdSession          *self,
                                              gushort                  code,
                                              const char              *reason);
void            natterd_session_kick         (NatterdSession          *self,
                                              int                      code);
/* An inbox entry committed just now: sent unless the session is replaying
 * or lagging behind (then the replay picks it up from the store). */
void            natterd_session_deliver_live (NatterdSession          *self,
                                              guint64                  seq,
                                              const NatterdMessage    *message);
/* A message outside the inbox (seq 0): status-only, chatroom. */
void            natterd_session_deliver_transient (NatterdSession     *self,
                                                   const NatterdMessage *message);
/* Publishes and queries in flight: past a bound, nothing more is read
 * from the connection until answers went out. */
void            natterd_session_request_started  (NatterdSession     *self);
void            natterd_session_request_finished (NatterdSession     *self);
void            natterd_session_send_chatroom_event (NatterdSession   *self,
                                                     const char       *chatroom_id,
                                                     int               code);

G_END_DECLS
