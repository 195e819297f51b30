/* natterd-socket.h — server-side WebSocket framing on a plain TCP socket,
 * all connections in one epoll set
 *
 * GLib's main loop polls every source on every iteration: with thousands of
 * connections each holding its own GSource, most of natterd's time went to
 * polling idle sockets. Here one GSource wraps an epoll descriptor, so an
 * iteration costs what is ready, not what is connected; frames queued for
 * a connection during an iteration go out in one write at its end; frames
 * shared by many connections (a group's fan-out) are written by a writer
 * thread (over TLS: in turn, 0.25 ms per iteration), so a big fan-out's
 * thousands of sendmsg() calls never sit in front of other connections'
 * answers; and an idle connection holds no buffer at all. A connection's
 * frames leave in the order they were queued, whichever thread writes.
 *
 * Memory per connection is bounded: a partial incoming frame (at most the
 * message limit), and what waits for the kernel: past 1 MiB of it nothing
 * more is read from the peer until it drops under 256 KiB (TCP
 * back-pressure), bulk senders pace themselves with the drained handler,
 * and a peer that still lets 8 MiB pile up is dropped (1008). Reads are
 * capped per iteration so one fast peer cannot starve the others.
 *
 * TLS connections get the same framing and the same bounds: their bytes
 * go through the GTlsConnection's pollable streams (never blocking), and
 * the descriptor under it sits in the same epoll set.
 *
 * On plain TCP natterd accepts connections itself (natterd_socket_loop_listen()):
 * a request for a WebSocket path is answered here, from a bounded parse of
 * its headers (peeked, so nothing is read until it is complete), and every
 * other request is handed to libsoup untouched, still in the kernel. A
 * handshake in progress is a small struct in the same epoll set, no
 * buffer, no GObject, no GSource. Over TLS libsoup still accepts the
 * connection and answers the upgrade (natterd_socket_new()).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _NatterdSocketLoop NatterdSocketLoop;
typedef struct _NatterdSocket NatterdSocket;

/* One binary frame (header and payload) for many connections: server
 * frames are not masked, so the bytes are the same for every receiver and
 * each connection queues a reference, not a copy (TLS ones copy it into
 * their stream). Created, queued and released on the main thread; its
 * settled handler runs there too. */
typedef struct _NatterdSocketFrame NatterdSocketFrame;
/* Every connection it was queued to wrote it to the kernel, closed, or
 * stopped taking output for a while (its peer does not read), and the
 * creator released it: the fan-out it belongs to is done. */
typedef void (*NatterdSocketFrameSettled) (gpointer user_data);

typedef struct
{
  /* A complete message (reassembled if fragmented); @payload may be
   * modified. */
  void (*message) (gpointer      user_data,
                   guint8       *payload,
                   gsize         length,
                   gboolean      binary);
  /* Once, when the connection is gone (the socket is not freed). */
  void (*closed)  (gpointer      user_data,
                   gushort       code);
  /* What was queued went down to a little (see natterd_socket_get_queued());
   * optional. */
  void (*drained) (gpointer      user_data);
} NatterdSocketHandlers;

NatterdSocketLoop *natterd_socket_loop_new  (gsize                        max_message,
                                             GError                     **error);
void               natterd_socket_loop_free (NatterdSocketLoop           *loop);
/* Seconds a connection may take nothing before it stops holding back the
 * senders of the shared frames queued for it (default 2); before serving. */
void               natterd_socket_loop_set_stall_timeout (NatterdSocketLoop *loop,
                                                          guint              seconds);
/* Bytes queued on every connection, not yet taken by the kernel. */
void               natterd_socket_loop_flush (NatterdSocketLoop          *loop);
gsize              natterd_socket_loop_get_queued (NatterdSocketLoop     *loop);

/* What the fan-out writer thread did since the loop was made (#18: what
 * a group delivery's CPU depends on, in /metrics). */
typedef struct
{
  guint64 batches;       /* batches of connections it took from the main thread */
  guint64 sends;         /* send operations, one per connection and turn */
  guint64 frames;        /* frames wholly sent */
  guint64 short_sends;   /* sends the kernel took only part of */
  guint64 would_block;   /* sends it took nothing of (its buffer full) */
  guint64 enters;        /* io_uring_enter() calls */
} NatterdSocketWriterStats;

void               natterd_socket_loop_get_writer_stats (NatterdSocketLoop        *loop,
                                                         NatterdSocketWriterStats *out);

/* Takes over @stream (stolen from libsoup after the 101 response), whose
 * descriptor is @socket's; @tls: @stream is a TLS connection over it.
 * Bytes already buffered in it are processed first. */
NatterdSocket     *natterd_socket_new       (NatterdSocketLoop           *loop,
                                             GIOStream                   *stream,
                                             GSocket                     *socket,
                                             gboolean                     tls,
                                             const NatterdSocketHandlers *handlers,
                                             gpointer                     user_data,
                                             GError                     **error);
/* A WebSocket natterd_socket_loop_listen() accepted: @fd is its own from
 * now on (closed with it). */
NatterdSocket     *natterd_socket_new_for_fd (NatterdSocketLoop          *loop,
                                              int                         fd,
                                              const NatterdSocketHandlers *handlers,
                                              gpointer                    user_data,
                                              GError                    **error);
/* Queues one binary message; written at the end of the iteration. */
void               natterd_socket_send      (NatterdSocket               *self,
                                             const guint8                *data,
                                             gsize                        length);
/* Writes exactly the length given to natterd_socket_send_packed(). */
typedef void (*NatterdSocketPack) (gconstpointer data,
                                   guint8       *payload);
/* natterd_socket_send() of a message @pack writes straight into the
 * frame: no buffer of its own to fill, copy and free. */
void               natterd_socket_send_packed (NatterdSocket             *self,
                                               gsize                      length,
                                               NatterdSocketPack          pack,
                                               gconstpointer              data);
/* The creator holds one reference and one unsettled hold, given up with
 * natterd_socket_frame_release() once it queued the frame everywhere. */
NatterdSocketFrame *natterd_socket_frame_new     (const guint8              *payload,
                                                  gsize                      length,
                                                  NatterdSocketFrameSettled  settled,
                                                  gpointer                   user_data);
void               natterd_socket_frame_release (NatterdSocketFrame          *frame);
/* Queues @frame (a reference): written in turn with the other connections'
 * shared frames, a slice of time per iteration, after the frames of
 * natterd_socket_send(); every one queued by then in one write. */
void               natterd_socket_send_frame (NatterdSocket              *self,
                                              NatterdSocketFrame         *frame);
/* Sends a close frame and closes once the peer answers (or soon anyway). */
void               natterd_socket_close     (NatterdSocket               *self,
                                             gushort                      code,
                                             const char                  *reason);
gboolean           natterd_socket_is_open   (NatterdSocket               *self);
/* Stops (or resumes) reading from the peer: its requests wait in TCP. */
void               natterd_socket_hold       (NatterdSocket              *self,
                                              gboolean                    hold);
/* Bytes queued and not yet taken by the kernel: a sender of bulk traffic
 * (offline replay) waits for the drained handler past a budget. */
gsize              natterd_socket_get_queued (NatterdSocket              *self);
/* Inside a message handler: when the bytes of that message were read
 * (monotonic µs), for the stages in /metrics (#17). */
gint64             natterd_socket_get_read_time (NatterdSocket           *self);
/* Monotonic µs when the last frame (of any kind: pings too) arrived. */
gint64             natterd_socket_get_last_input (NatterdSocket          *self);
/* Closes at once if still open; no handler runs afterwards. */
void               natterd_socket_free      (NatterdSocket               *self);

/* ------------------------------------------------ accepting (plain TCP) */

typedef struct
{
  /* Room for one more connection of any kind? If not, it is closed at
   * once, before anything is read. */
  gboolean    (*admit)     (gpointer     user_data);
  /* Not a WebSocket upgrade (the HTTP API, /metrics, media...): @fd is the
   * owner's, nothing read from it yet; accepted at @accepted (monotonic
   * µs), which the header timeout counts from. */
  void        (*handoff)   (gpointer     user_data,
                            int          fd,
                            gint64       accepted);
  /* A well-formed upgrade to @path (the query stripped) offering
   * @protocols (the Sec-WebSocket-Protocol values, NULL when none): NULL
   * to take it, or why not (in @reason, which the loop frees), with the
   * answer's @status. */
  const char *(*check)     (gpointer     user_data,
                            const char  *path,
                            const char  *protocols,
                            guint       *status,
                            char       **reason);
  /* The 101 went out: @fd is the owner's, to give to
   * natterd_socket_new_for_fd() (or to close). */
  void        (*upgraded)  (gpointer     user_data,
                            int          fd);
} NatterdSocketAcceptHandlers;

/* Accepts connections on @fd (listening, natterd's), answers upgrades to
 * @path with @protocol as their subprotocol; @header_timeout seconds (0 =
 * none) from the accept to the end of the request headers, at most
 * @max_header bytes of them. */
gboolean           natterd_socket_loop_listen   (NatterdSocketLoop                 *loop,
                                                 int                                fd,
                                                 const char                        *path,
                                                 const char                        *protocol,
                                                 guint                              header_timeout,
                                                 gsize                              max_header,
                                                 const NatterdSocketAcceptHandlers *handlers,
                                                 gpointer                           user_data,
                                                 GError                           **error);
/* Stops accepting and closes the handshakes in progress (not @fd). */
void               natterd_socket_loop_unlisten (NatterdSocketLoop                 *loop);
/* Descriptors the loop holds that libsoup does not know of: handshakes in
 * progress and the WebSockets of natterd_socket_new_for_fd(). */
guint              natterd_socket_loop_get_connections (NatterdSocketLoop          *loop);
/* Handshakes closed at the header timeout. */
guint64            natterd_socket_loop_get_header_timeouts (NatterdSocketLoop      *loop);

G_END_DECLS
