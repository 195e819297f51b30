/* natterd-socket.c — RFC 6455 server side over epoll
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define _GNU_SOURCE  /* accept4() */

#include "natterd-socket.h"
#include "natterd-free-list.h"
#include "natterd-parse-private.h"
#include "natterd-uring.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define READ_CHUNK (64 * 1024)
/* Bytes read per connection and iteration: one fast sender cannot starve
 * the others (epoll is level-triggered, the rest is read next time). */
#define MAX_READ_BYTES (4 * READ_CHUNK)
#define MAX_EVENTS 256
/* Back-pressure: past OUTPUT_HIGH bytes not yet taken by the kernel, nothing
 * more is read from the peer (its requests wait in TCP) until what is queued
 * drops under OUTPUT_LOW. */
#define OUTPUT_HIGH (1024 * 1024)
#define OUTPUT_LOW (256 * 1024)
/* A peer that stops reading costs at most this much before it is dropped:
 * what it asked for is bounded by OUTPUT_HIGH, what the server pushes by
 * the session's delivery pacing (natterd_socket_get_queued()). */
#define MAX_OUTPUT (8 * 1024 * 1024)
#define CLOSE_WAIT_US (2 * G_USEC_PER_SEC)
/* TLS: shared frames are written to connections per iteration for at
 * most this long: other work (reads, commits, acks) runs in between. Plain
 * TCP ones are written by the fan-out writer thread (see writer_main()). */
#define BULK_SLICE_US 250
/* Connections the writer hands back to the main thread at a time. Each
 * hand-back wakes the main thread (an eventfd), which only does their
 * bookkeeping: a frame's last holder wakes it at once anyway (see
 * frame_settle()), so 64 at a time was ~47 wake-ups per 3,000-member
 * message for little (#18). */
#define WRITER_CHUNK 256
/* The writer thread's nice value above the process's. It was 5 (the main
 * and store threads first), but every send() wakes the reader, and a
 * woken nice-0 task preempts a nice-5 one: the writer was switched out
 * after ~0.6 of its sends (/proc's nonvoluntary_ctxt_switches), and
 * spent ~15 % more CPU than at 0 (README, #18). Benchmarks can set it
 * back: NATTERD_FANOUT_NICE=5. */
#define WRITER_NICE 0
/* Frames per sendmsg(). */
#define MAX_IOV 64
/* Connections the writer sends to in one io_uring_enter() (see
 * natterd-uring.c): their locks are held for that one system call, so a
 * main thread queueing to one of them waits at most ~16 sends. */
#define URING_BATCH 16
#define URING_MAX 64
/* A connection whose kernel buffer took nothing more for this long (its
 * peer does not read) no longer holds back the senders of the shared
 * frames queued for it (see natterd_socket_frame_new()); [limits]
 * fanout-stall sets it (natterd_socket_loop_set_stall_timeout()). */
#define STALL_US (2 * G_USEC_PER_SEC)
/* Connections accepted per dispatch: the rest wait in the backlog while
 * the others' input is read. */
#define ACCEPT_BATCH 256
/* After an error answer: how long the rest of a request is read (and
 * dropped) so that closing does not reset the answer away. */
#define DRAIN_US (G_USEC_PER_SEC)
/* Out of descriptors: accepting pauses this long (the backlog waits). */
#define ACCEPT_PAUSE_US (G_USEC_PER_SEC / 10)
#define WEBSOCKET_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* A connection accepted, its request not yet complete: in the epoll set
 * edge-triggered (its bytes are only peeked until the headers are whole),
 * in one of two lists, each in deadline order. */
typedef struct _Handshake Handshake;
struct _Handshake
{
  Handshake *prev;
  Handshake *next;
  gint64     accepted;     /* monotonic µs */
  gint64     deadline;     /* monotonic µs, 0 = none */
  int        fd;
  gboolean   draining;     /* answered with an error, reading the rest */
};

typedef struct
{
  Handshake *head;
  Handshake *tail;
} HandshakeList;

struct _NatterdSocketFrame
{
  gint                      ref_count;   /* atomic: the writer thread unrefs */
  gint                      pending;     /* atomic: holders yet to settle */
  NatterdSocketFrameSettled settled;
  gpointer                  user_data;
  gsize                     length;
  guint8                    data[];      /* header and payload */
};

typedef struct
{
  NatterdSocketFrame *frame;
  gboolean            counted;           /* holds one of frame->pending */
} OutFrame;

/* Two or more OutFrames waiting: items[head … len - 1]. */
typedef struct
{
  guint    head;
  guint    len;
  guint    cap;
  OutFrame items[];
} OutQueue;

/* NatterdSocket.out holds nothing (0), one frame tagged OUT_ONE (a group
 * message to a reader keeping up: no allocation per delivery), or an
 * OutQueue. The tags live in the frame pointer's low bits (malloc
 * alignment), so an idle connection pays one pointer for its queue. */
#define OUT_ONE     ((guintptr) 1)
#define OUT_COUNTED ((guintptr) 2)
#define OUT_TAGS    (OUT_ONE | OUT_COUNTED)

enum {
  OP_CONTINUATION = 0x0,
  OP_TEXT = 0x1,
  OP_BINARY = 0x2,
  OP_CLOSE = 0x8,
  OP_PING = 0x9,
  OP_PONG = 0xA,
};

/* What a connection libsoup handed over (natterd_socket_new()) keeps; the
 * ones natterd accepted itself, most of them, have none: 40 bytes less
 * for each idle connection. */
typedef struct
{
  GIOStream             *stream;       /* TLS only */
  GSocket               *socket;       /* its descriptor */
  GPollableInputStream  *tls_in;       /* TLS: the stream's sides, */
  GPollableOutputStream *tls_out;      /* NULL on plain TCP */
  GByteArray            *tls_buffer;   /* TLS: bytes handed to GnuTLS, see flush() */
} Adopted;

#define TLS_IN(self) ((self)->adopted != NULL ? (self)->adopted->tls_in : NULL)
#define TLS_OUT(self) ((self)->adopted != NULL ? (self)->adopted->tls_out : NULL)

struct _NatterdSocket
{
  NatterdSocketLoop           *loop;
  Adopted                     *adopted;      /* NULL unless natterd_socket_new() */
  const NatterdSocketHandlers *handlers;
  gpointer                     user_data;
  GByteArray                  *in;           /* a partial frame, NULL when none */
  GByteArray                  *message;      /* fragments so far, NULL when none */
  /* Plain TCP: out, out_offset, out_bytes and fd are changed under
   * lock, since the writer thread writes from out too. Both threads write
   * from the head of the one queue, so frames leave in order. */
  GMutex                       lock;
  guintptr                     out;          /* the OutFrames not yet written: see OUT_ONE */
  gsize                        out_offset;   /* written bytes of the first */
  gsize                        out_bytes;    /* unwritten bytes in out */
  gsize                        writer_before; /* writer thread: queued before its write, */
  gsize                        writer_written; /* and how much it wrote */
  gint64                       stalled_since; /* monotonic µs, 0 = not stalled */
  gint64                       close_sent;   /* monotonic µs, 0 = not yet */
  gint64                       last_input;   /* monotonic µs of the last frame */
  /* The small ones together (an idle connection's whole cost is this
   * struct): no padding between them. */
  int                          fd;
  int                          order;        /* fd as opened, never changed: the writer's sort key */
  gushort                      close_code;
  guint8                       message_opcode;
  guint8                       writer_failed; /* writer thread: the write failed */
  guint                        dirty : 1;    /* in loop->dirty */
  guint                        in_bulk : 1;  /* in loop->bulk */
  guint                        in_writer : 1; /* handed to the writer thread, not yet back */
  guint                        in_stalled : 1; /* in loop->stalled */
  guint                        want_out : 1; /* EPOLLOUT registered */
  guint                        paused : 1;   /* output piled up: not reading */
  guint                        held : 1;     /* the owner asked: not reading */
  guint                        shut : 1;     /* SHUT_WR done */
  guint                        drained : 1;  /* in loop->drained */
  guint                        closed : 1;   /* handlers->closed ran or will */
  guint                        dead : 1;     /* freed by its owner */
  guint                        discard : 1;  /* after a protocol error */
  guint                        owns_fd : 1;  /* natterd_socket_new_for_fd(): no GSocket */
};

struct _NatterdSocketLoop
{
  GSource     source;
  int         epfd;
  gpointer    tag;
  gsize       max_message;
  GPtrArray  *dirty;         /* NatterdSocket with output to write now */
  gint64      read_time;     /* monotonic µs: the last read that returned bytes */
  GPtrArray  *bulk;          /* NatterdSocket with shared frames, in turn */
  guint       bulk_head;
  GPtrArray  *stalled;       /* NatterdSocket not taking counted frames */
  GPtrArray  *settled;       /* NatterdSocketFrame to tell about */
  GPtrArray  *fresh;         /* NatterdSocket with input libsoup had buffered */
  GPtrArray  *finished;      /* NatterdSocket to close and tell */
  GPtrArray  *drained;       /* NatterdSocket whose output went down */
  GPtrArray  *graveyard;     /* NatterdSocket freed while in use */
  GHashTable *closing;       /* NatterdSocket waiting for the peer's close */
  guint8     *scratch;
  gint64      now;           /* monotonic µs at the start of the dispatch */
  gint64      next_stall_check;
  gint64      stall_us;      /* STALL_US unless set; fixed once serving */
  gsize       queued;        /* bytes in every out (atomic) */
  gboolean    dispatching;

  /* The fan-out writer thread: writes shared frames to plain TCP
   * connections off the main thread, which then only queues references. */
  GThread    *writer;
  GMutex      writer_lock;   /* guards the four below */
  GCond       writer_cond;
  GPtrArray  *writer_queue;  /* NatterdSocket to write */
  GPtrArray  *writer_done;   /* NatterdSocket written, back to the main thread */
  GPtrArray  *writer_settled; /* NatterdSocketFrame settled by the writer */
  gboolean    writer_stop;
  gboolean    writer_woken;  /* wake_fd written, not yet read */
  int         wake_fd;       /* eventfd in epfd: the writer has news */
  int         writer_nice;   /* its nice value above the process's */
  guint       writer_uring;  /* connections per io_uring batch, 0: none (NATTERD_FANOUT_URING) */
  gboolean    writer_sort;   /* batches in descriptor order (NATTERD_FANOUT_SORT=0: as queued) */
  GPtrArray  *to_writer;     /* main thread: NatterdSocket to hand over */
  NatterdSocketWriterStats writer_stats; /* under writer_lock */

  /* Accepting (natterd_socket_loop_listen()). */
  int         listen_fd;     /* -1 when not listening */
  char       *ws_path;
  char       *ws_protocol;
  gint64      header_timeout; /* µs, 0 = none */
  gsize       max_header;
  const NatterdSocketAcceptHandlers *accept;
  gpointer    accept_data;
  gint64      accept_resume; /* monotonic µs: out of descriptors, paused */
  HandshakeList waiting;     /* for their request, oldest first */
  HandshakeList draining;    /* after an error answer, oldest first */
  guint       handshakes;
  guint       fd_sockets;    /* natterd_socket_new_for_fd() ones, open */
  guint64     header_timeouts;
};

static void finish (NatterdSocket *self, gushort code);

/* --------------------------------------------------------------- transport */

/* Plain TCP is read and written with recv()/send() on the descriptor; TLS
 * goes through the GTlsConnection's pollable streams without blocking, the
 * same epoll set telling when the descriptor under it is ready. Both return
 * what recv()/send() would: bytes, 0 at the end, -1 with errno (EAGAIN
 * when the peer or the kernel is not ready). */
static int
tls_errno (GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return EAGAIN;
  /* Most clients end with a TCP close, not a TLS close_notify. */
  if (g_error_matches (error, G_TLS_ERROR, G_TLS_ERROR_EOF) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE))
    return 0;
  return ECONNRESET;
}

static gssize
transport_read (NatterdSocket *self,
                guint8        *buffer,
                gsize          size)
{
  GError *error = NULL;
  gssize n;
  int saved;

  if (TLS_IN (self) == NULL)
    return recv (self->fd, buffer, size, MSG_DONTWAIT);

  n = g_pollable_input_stream_read_nonblocking (TLS_IN (self), buffer, size, NULL, &error);
  if (n >= 0)
    return n;
  saved = tls_errno (error);
  g_error_free (error);
  if (saved == 0)
    return 0;
  errno = saved;
  return -1;
}

static gssize
transport_write (NatterdSocket *self,
                 const guint8  *data,
                 gsize          length)
{
  GError *error = NULL;
  gssize n;
  int saved;

  if (TLS_OUT (self) == NULL)
    return send (self->fd, data, length, MSG_NOSIGNAL | MSG_DONTWAIT);

  /* After a WOULD_BLOCK GnuTLS keeps the record it began and takes the
   * same bytes again: out is only ever appended to, so they are. */
  n = g_pollable_output_stream_write_nonblocking (TLS_OUT (self), data, length, NULL, &error);
  if (n >= 0)
    return n;
  saved = tls_errno (error);
  g_error_free (error);
  errno = saved != 0 ? saved : EPIPE;
  return -1;
}

/* ------------------------------------------------------------------ output */

static gsize
write_header (guint8 *header,
              guint8  opcode,
              gsize   length)
{
  header[0] = 0x80 | opcode;
  if (length < 126)
    {
      header[1] = (guint8) length;
      return 2;
    }
  if (length <= G_MAXUINT16)
    {
      header[1] = 126;
      header[2] = (guint8) (length >> 8);
      header[3] = (guint8) length;
      return 4;
    }
  header[1] = 127;
  for (int i = 0; i < 8; i++)
    header[2 + i] = (guint8) ((guint64) length >> (56 - 8 * i));
  return 10;
}

/* Small frames (a delivered message, an ack) go back to a free list
 * instead of glibc (#17, natterd-free-list.h): two a message, ~450
 * instructions in malloc and free, ~120 from the list. */
#define FRAME_POOL_BYTES 512
#define FRAME_POOL_MAX 512             /* 256 KiB at most: a commit's acks and deliveries */

static NatterdFreeList frame_pool;

static inline gboolean
frame_is_pooled (gsize frame_length)
{
  return sizeof (NatterdSocketFrame) + frame_length <= FRAME_POOL_BYTES;
}

/* A frame with room for @length payload bytes at its end. */
static NatterdSocketFrame *
frame_alloc (guint8 opcode,
             gsize  length)
{
  guint8 header[10];
  gsize header_length = write_header (header, opcode, length);
  NatterdSocketFrame *frame = NULL;

  if (frame_is_pooled (header_length + length))
    {
      frame = natterd_free_list_pop (&frame_pool);
      if (frame == NULL)
        frame = g_malloc (FRAME_POOL_BYTES);
    }
  else
    frame = g_malloc (sizeof (NatterdSocketFrame) + header_length + length);

  frame->ref_count = 1;
  frame->pending = 0;
  frame->settled = NULL;
  frame->user_data = NULL;
  frame->length = header_length + length;
  memcpy (frame->data, header, header_length);
  return frame;
}

static inline guint8 *
frame_payload (NatterdSocketFrame *frame,
               gsize               length)
{
  return frame->data + frame->length - length;
}

static NatterdSocketFrame *
frame_new (guint8        opcode,
           const guint8 *payload,
           gsize         length)
{
  NatterdSocketFrame *frame = frame_alloc (opcode, length);

  memcpy (frame_payload (frame, length), payload, length);
  return frame;
}

static void
frame_unref (NatterdSocketFrame *frame)
{
  if (!g_atomic_int_dec_and_test (&frame->ref_count))
    return;
  if (!frame_is_pooled (frame->length) || !natterd_free_list_push (&frame_pool, frame, FRAME_POOL_MAX))
    g_free (frame);
}

static void
queued_add (NatterdSocketLoop *loop,
            gssize             delta)
{
  __atomic_add_fetch (&loop->queued, (gsize) delta, __ATOMIC_RELAXED);
}

/* The writer thread has news for the main thread (under writer_lock). */
static void
wake_main (NatterdSocketLoop *loop)
{
  guint64 one = 1;

  if (loop->writer_woken)
    return;
  loop->writer_woken = TRUE;
  if (write (loop->wake_fd, &one, sizeof one) < 0)
    g_warning ("natterd sockets: eventfd write: %s", g_strerror (errno));
}

/* One holder of @frame is done with it; the last one tells its creator
 * on the main thread, at the end of the dispatch when inside one (or when
 * settled by the writer thread, at the next one). */
static void
frame_settle (NatterdSocketLoop  *loop,
              NatterdSocketFrame *frame,
              gboolean            writer)
{
  g_assert (g_atomic_int_get (&frame->pending) > 0);
  if (!g_atomic_int_dec_and_test (&frame->pending) || frame->settled == NULL)
    return;
  if (writer)
    {
      g_atomic_int_inc (&frame->ref_count);
      g_mutex_lock (&loop->writer_lock);
      g_ptr_array_add (loop->writer_settled, frame);
      wake_main (loop);
      g_mutex_unlock (&loop->writer_lock);
    }
  else if (loop != NULL && loop->dispatching)
    {
      g_atomic_int_inc (&frame->ref_count);
      g_ptr_array_add (loop->settled, frame);
    }
  else
    frame->settled (frame->user_data);
}

/* Done with an OutFrame taken off a queue (outside the queue's lock: the
 * creator's settled handler may queue more). */
static void
out_frame_done (NatterdSocketLoop *loop,
                OutFrame          *out,
                gboolean           writer)
{
  if (out->counted)
    frame_settle (loop, out->frame, writer);
  frame_unref (out->frame);
}

NatterdSocketFrame *
natterd_socket_frame_new (const guint8              *payload,
                          gsize                      length,
                          NatterdSocketFrameSettled  settled,
                          gpointer                   user_data)
{
  NatterdSocketFrame *frame = frame_new (OP_BINARY, payload, length);

  frame->pending = 1;
  frame->settled = settled;
  frame->user_data = user_data;
  return frame;
}

void
natterd_socket_frame_release (NatterdSocketFrame *frame)
{
  frame_settle (NULL, frame, FALSE);
  frame_unref (frame);
}

static void
update_events (NatterdSocket *self,
               gboolean       want_out,
               gboolean       paused)
{
  struct epoll_event event = { 0 };

  if ((self->want_out == (guint) want_out && self->paused == (guint) paused) || self->fd < 0)
    return;
  self->want_out = want_out;
  self->paused = paused;
  event.events = (paused || self->held ? 0 : EPOLLIN) | (want_out ? EPOLLOUT : 0);
  event.data.ptr = self;
  epoll_ctl (self->loop->epfd, EPOLL_CTL_MOD, self->fd, &event);
}

static gsize
queued (NatterdSocket *self)
{
  gsize n;

  if (TLS_OUT (self) != NULL)
    return self->adopted->tls_buffer != NULL ? self->adopted->tls_buffer->len - self->out_offset : 0;
  g_mutex_lock (&self->lock);
  n = self->out_bytes - self->out_offset;
  g_mutex_unlock (&self->lock);
  return n;
}

/* Under self->lock (for the helpers below too). */
static inline OutQueue *
out_queue (NatterdSocket *self)
{
  return (self->out & OUT_ONE) != 0 ? NULL : (OutQueue *) self->out;
}

/* Frames waiting. */
static inline guint
out_count (NatterdSocket *self)
{
  OutQueue *queue = out_queue (self);

  if (self->out == 0)
    return 0;
  return queue != NULL ? queue->len - queue->head : 1;
}

/* The @i-th waiting frame. */
static inline NatterdSocketFrame *
out_frame (NatterdSocket *self,
           guint          i)
{
  OutQueue *queue = out_queue (self);

  return queue != NULL ? queue->items[queue->head + i].frame :
                         (NatterdSocketFrame *) (self->out & ~OUT_TAGS);
}

/* Appends @frame; a queue only once a second one waits. */
static void
out_append (NatterdSocket  *self,
            const OutFrame *frame)
{
  OutQueue *queue = out_queue (self);

  g_assert (((guintptr) frame->frame & OUT_TAGS) == 0);
  if (self->out == 0)
    {
      self->out = (guintptr) frame->frame | OUT_ONE | (frame->counted ? OUT_COUNTED : 0);
      return;
    }
  if (queue == NULL)
    {
      queue = g_malloc (sizeof (OutQueue) + 8 * sizeof (OutFrame));
      queue->head = 0;
      queue->len = 1;
      queue->cap = 8;
      queue->items[0] = (OutFrame) { out_frame (self, 0), (self->out & OUT_COUNTED) != 0 };
    }
  else if (queue->len == queue->cap)
    {
      guint n = queue->len - queue->head;

      /* Grown when more than half full, else moved down: amortised O(1). */
      if (n > queue->cap / 2)
        {
          queue->cap *= 2;
          queue = g_realloc (queue, sizeof (OutQueue) + queue->cap * sizeof (OutFrame));
        }
      if (queue->head > 0)
        memmove (queue->items, queue->items + queue->head, n * sizeof (OutFrame));
      queue->head = 0;
      queue->len = n;
    }
  queue->items[queue->len++] = *frame;
  self->out = (guintptr) queue;
}

/* Takes the head off into @popped. */
static void
pop_head (NatterdSocket *self,
          OutFrame      *popped)
{
  OutQueue *queue = out_queue (self);

  if (queue == NULL)
    {
      *popped = (OutFrame) { out_frame (self, 0), (self->out & OUT_COUNTED) != 0 };
      self->out = 0;
    }
  else
    {
      *popped = queue->items[queue->head++];
      if (queue->head == queue->len)
        {
          /* An idle connection holds no queue. */
          g_free (queue);
          self->out = 0;
        }
    }
  self->out_bytes -= popped->frame->length;
  self->out_offset = 0;
}

/* Everything queued and not written goes (the connection is done). */
static void
drop_output (NatterdSocket *self)
{
  guintptr out;
  OutQueue *queue;

  queued_add (self->loop, -(gssize) queued (self));
  g_mutex_lock (&self->lock);
  out = self->out;
  self->out = 0;
  self->out_offset = 0;
  self->out_bytes = 0;
  g_mutex_unlock (&self->lock);
  /* Settled outside the lock (see out_frame_done()), from what was taken:
   * nothing to allocate on a close. */
  queue = (out & OUT_ONE) != 0 ? NULL : (OutQueue *) out;
  if (out != 0 && queue == NULL)
    {
      OutFrame one = { (NatterdSocketFrame *) (out & ~OUT_TAGS), (out & OUT_COUNTED) != 0 };

      out_frame_done (self->loop, &one, FALSE);
    }
  if (queue != NULL)
    {
      for (guint i = queue->head; i < queue->len; i++)
        out_frame_done (self->loop, &queue->items[i], FALSE);
      g_free (queue);
    }
  if (self->adopted != NULL)
    g_clear_pointer (&self->adopted->tls_buffer, g_byte_array_unref);
  self->out_offset = 0;
}

/* A peer that does not read holds back no sender: its frames count as
 * settled (they are still written if it reads again). */
static void
uncount (NatterdSocket *self)
{
  g_autoptr(GPtrArray) frames = g_ptr_array_new ();

  OutQueue *queue;

  g_mutex_lock (&self->lock);
  queue = out_queue (self);
  if (queue == NULL && (self->out & OUT_COUNTED) != 0)
    {
      NatterdSocketFrame *frame = out_frame (self, 0);

      self->out &= ~OUT_COUNTED;
      g_atomic_int_inc (&frame->ref_count);
      g_ptr_array_add (frames, frame);
    }
  for (guint i = queue != NULL ? queue->head : 0; queue != NULL && i < queue->len; i++)
    {
      OutFrame *out = &queue->items[i];

      if (out->counted)
        {
          out->counted = FALSE;
          g_atomic_int_inc (&out->frame->ref_count);
          g_ptr_array_add (frames, out->frame);
        }
    }
  g_mutex_unlock (&self->lock);
  for (guint i = 0; i < frames->len; i++)
    {
      frame_settle (self->loop, g_ptr_array_index (frames, i), FALSE);
      frame_unref (g_ptr_array_index (frames, i));
    }
}

/* Under the lock: @sent bytes (if any) of the head went; the frames
 * wholly sent are moved to @popped (let go outside the lock). */
static guint
take_sent (NatterdSocket *self,
           gssize         sent,
           OutFrame      *popped)
{
  guint n_popped = 0;

  for (gssize left = sent; left > 0;)
    {
      gsize rest = out_frame (self, 0)->length - self->out_offset;

      if ((gsize) left < rest)
        {
          self->out_offset += (gsize) left;
          break;
        }
      left -= (gssize) rest;
      pop_head (self, &popped[n_popped++]);
    }
  return n_popped;
}

/* The writer's record of one send (@sent: bytes, or −errno). */
static inline void
count_send (NatterdSocketWriterStats *stats,
            gssize                    sent,
            gsize                     asked,
            guint                     frames)
{
  stats->sends++;
  stats->frames += frames;
  if (sent == -EAGAIN || sent == -EWOULDBLOCK)
    stats->would_block++;
  else if (sent > 0 && (gsize) sent < asked)
    stats->short_sends++;
}

/* Writes what the kernel takes; FALSE if the connection failed. Plain TCP
 * writes up to MAX_IOV queued frames per sendmsg(), from where they are,
 * from the main thread or the writer thread (@writer): the lock is held
 * for one sendmsg() at a time, and the frames it took are let go after. */
static gboolean
write_plain (NatterdSocket            *self,
             gboolean                  writer,
             gsize                    *written,
             NatterdSocketWriterStats *stats)
{
  for (;;)
    {
      struct iovec iov[MAX_IOV];
      OutFrame popped[MAX_IOV];
      struct msghdr msg = { 0 };
      guint n_iov = 0, n_popped, waiting;
      gsize asked = 0;
      gssize n;
      int saved = 0;

      g_mutex_lock (&self->lock);
      waiting = out_count (self);
      if (waiting == 0 || self->fd < 0)
        {
          g_mutex_unlock (&self->lock);
          return TRUE;
        }
      for (guint i = 0; i < waiting && n_iov < MAX_IOV; i++, n_iov++)
        {
          NatterdSocketFrame *frame = out_frame (self, i);
          gsize skip = i == 0 ? self->out_offset : 0;

          iov[n_iov].iov_base = frame->data + skip;
          iov[n_iov].iov_len = frame->length - skip;
          asked += frame->length - skip;
        }
      msg.msg_iov = iov;
      msg.msg_iovlen = n_iov;
      /* One frame (a group message to a reader keeping up): send(), the
       * kernel's cheaper path (no msghdr and iovec to copy in). */
      if (n_iov == 1)
        n = send (self->fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL | MSG_DONTWAIT);
      else
        n = sendmsg (self->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0)
        saved = errno;
      n_popped = take_sent (self, n, popped);
      g_mutex_unlock (&self->lock);
      if (stats != NULL)
        count_send (stats, n < 0 ? -saved : n, asked, n_popped);

      if (n > 0)
        {
          queued_add (self->loop, -n);
          *written += (gsize) n;
        }
      for (guint i = 0; i < n_popped; i++)
        out_frame_done (self->loop, &popped[i], writer);
      if (n < 0)
        {
          if (saved == EINTR)
            continue;
          if (saved == EAGAIN || saved == EWOULDBLOCK)
            return TRUE;
          return FALSE;
        }
    }
}

static gboolean
write_tls (NatterdSocket *self)
{
  GByteArray *buffer = self->adopted->tls_buffer;
  gsize written = self->out_offset;

  while (buffer != NULL && written < buffer->len)
    {
      gssize n = transport_write (self, buffer->data + written, buffer->len - written);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          if (errno == EAGAIN || errno == EWOULDBLOCK)
            break;
          return FALSE;
        }
      written += (gsize) n;
    }

  if (self->adopted->tls_buffer == NULL)
    return TRUE;
  queued_add (self->loop, -(gssize) (written - self->out_offset));
  self->out_offset = written;
  if (self->out_offset == self->adopted->tls_buffer->len)
    {
      g_clear_pointer (&self->adopted->tls_buffer, g_byte_array_unref);
      self->out_offset = 0;
    }
  else if (self->out_offset > self->adopted->tls_buffer->len / 2)
    {
      /* Compact now and then rather than after every partial write. */
      g_byte_array_remove_range (self->adopted->tls_buffer, 0, (guint) self->out_offset);
      self->out_offset = 0;
    }
  return TRUE;
}

/* After a write (by either thread) that began with @before bytes queued
 * and wrote @written of them (more may have been queued since). */
static void
after_write (NatterdSocket *self,
             gsize          before,
             gsize          written,
             gboolean       ok)
{
  gboolean was_high = before > OUTPUT_LOW;
  gboolean more;
  gsize now;

  if (!ok)
    {
      finish (self, 1006);
      return;
    }

  /* One look (one lock): the other thread may queue or write more
   * meanwhile, which the next write looks at again. */
  now = queued (self);
  more = now > 0;
  if (!more)
    self->stalled_since = 0;
  else if ((self->stalled_since == 0 || written > 0) && TLS_OUT (self) == NULL)
    {
      /* The kernel takes no more for now: see STALL_US. A peer that
       * reads, however slowly, is not stalled. */
      self->stalled_since = g_get_monotonic_time ();
      if (!self->in_stalled)
        {
          self->in_stalled = TRUE;
          g_ptr_array_add (self->loop->stalled, self);
        }
    }

  update_events (self, more, now > OUTPUT_LOW && self->paused);
  if (was_high && now <= OUTPUT_LOW && !self->drained)
    {
      /* Told at the end of the dispatch, never from inside a parse. */
      self->drained = TRUE;
      g_ptr_array_add (self->loop->drained, self);
    }
}

static void
flush (NatterdSocket *self)
{
  gsize before = queued (self), written = 0;
  gboolean ok;

  if (TLS_OUT (self) != NULL)
    {
      ok = write_tls (self);
      written = before - MIN (before, queued (self));
    }
  else
    ok = write_plain (self, FALSE, &written, NULL);
  after_write (self, before, written, ok);
}

/* FALSE if @self was dropped for letting too much pile up (@queued_now:
 * what push_frame() left queued). */
static gboolean
check_output (NatterdSocket *self,
              gsize          queued_now)
{
  if (queued_now > MAX_OUTPUT)
    {
      /* Not reading what we send: let it go rather than grow forever. */
      drop_output (self);
      finish (self, 1008);
      return FALSE;
    }
  return TRUE;
}

/* Returns what is queued now (read under the same lock: one lock per
 * frame queued). */
static gsize
push_frame (NatterdSocket      *self,
            NatterdSocketFrame *frame,
            gboolean            counted)
{
  OutFrame out = { frame, counted };
  gsize n;

  if (TLS_OUT (self) != NULL)
    {
      /* GnuTLS wants the same bytes again after a WOULD_BLOCK: TLS output
       * is one buffer, only ever appended to. */
      if (self->adopted->tls_buffer == NULL)
        self->adopted->tls_buffer = g_byte_array_sized_new ((guint) frame->length);
      g_byte_array_append (self->adopted->tls_buffer, frame->data, (guint) frame->length);
      queued_add (self->loop, (gssize) frame->length);
      return self->adopted->tls_buffer->len - self->out_offset;
    }

  g_atomic_int_inc (&frame->ref_count);
  if (counted)
    g_atomic_int_inc (&frame->pending);
  g_mutex_lock (&self->lock);
  out_append (self, &out);
  self->out_bytes += frame->length;
  n = self->out_bytes - self->out_offset;
  g_mutex_unlock (&self->lock);
  queued_add (self->loop, (gssize) frame->length);
  return n;
}

/* Queues @frame, taking its reference (the caller checked the socket
 * is open). */
static void
queue_built (NatterdSocket      *self,
             NatterdSocketFrame *frame)
{
  gsize n = push_frame (self, frame, FALSE);

  frame_unref (frame);
  if (!check_output (self, n))
    return;

  if (!self->dirty)
    {
      self->dirty = TRUE;
      g_ptr_array_add (self->loop->dirty, self);
    }
}

static void
queue_frame (NatterdSocket *self,
             guint8         opcode,
             const guint8  *data,
             gsize          length)
{
  if (self->closed || self->close_sent != 0)
    return;
  queue_built (self, frame_new (opcode, data, length));
}

void
natterd_socket_send (NatterdSocket *self,
                     const guint8  *data,
                     gsize          length)
{
  queue_frame (self, OP_BINARY, data, length);
}

void
natterd_socket_send_packed (NatterdSocket     *self,
                            gsize              length,
                            NatterdSocketPack  pack,
                            gconstpointer      data)
{
  NatterdSocketFrame *frame;

  if (self->closed || self->close_sent != 0)
    return;
  frame = frame_alloc (OP_BINARY, length);
  pack (data, frame_payload (frame, length));
  queue_built (self, frame);
}

void
natterd_socket_send_frame (NatterdSocket      *self,
                           NatterdSocketFrame *frame)
{
  gboolean counted;

  if (self->closed || self->close_sent != 0)
    return;

  counted = frame->settled != NULL &&
            (self->stalled_since == 0 || g_get_monotonic_time () - self->stalled_since < self->loop->stall_us);
  if (!check_output (self, push_frame (self, frame, counted)))
    return;

  /* Waiting for EPOLLOUT, or already due: written then. Plain TCP goes
   * to the writer thread, TLS in turn on the main thread. */
  if (self->dirty || self->in_bulk || self->in_writer || self->want_out)
    return;
  if (TLS_OUT (self) == NULL)
    {
      self->in_writer = TRUE;
      g_ptr_array_add (self->loop->to_writer, self);
    }
  else
    {
      self->in_bulk = TRUE;
      g_ptr_array_add (self->loop->bulk, self);
    }
}

void
natterd_socket_close (NatterdSocket *self,
                      gushort        code,
                      const char    *reason)
{
  guint8 payload[125];
  gsize reason_length = reason != NULL ? MIN (strlen (reason), sizeof payload - 2) : 0;

  if (self->closed || self->close_sent != 0)
    return;

  payload[0] = (guint8) (code >> 8);
  payload[1] = (guint8) code;
  if (reason_length > 0)
    memcpy (payload + 2, reason, reason_length);
  queue_frame (self, OP_CLOSE, payload, reason_length + 2);
  self->close_sent = g_get_monotonic_time ();
  self->close_code = code;
  g_hash_table_add (self->loop->closing, self);
}

gboolean
natterd_socket_is_open (NatterdSocket *self)
{
  return !self->closed && self->close_sent == 0;
}

gint64
natterd_socket_get_read_time (NatterdSocket *self)
{
  return self->loop->read_time;
}

gsize
natterd_socket_get_queued (NatterdSocket *self)
{
  return queued (self);
}

void
natterd_socket_hold (NatterdSocket *self,
                     gboolean       hold)
{
  struct epoll_event event = { 0 };

  if (self->held == (guint) hold || self->fd < 0)
    return;
  self->held = hold;
  event.events = (self->paused || hold ? 0 : EPOLLIN) | (self->want_out ? EPOLLOUT : 0);
  event.data.ptr = self;
  epoll_ctl (self->loop->epfd, EPOLL_CTL_MOD, self->fd, &event);
}

/* ------------------------------------------------------------------- input */

static void
protocol_error (NatterdSocket *self,
                gushort        code,
                const char    *reason)
{
  /* Nothing more is read from a peer that broke the protocol. */
  self->discard = TRUE;
  if (self->close_sent != 0)
    finish (self, code);
  else
    natterd_socket_close (self, code, reason);
}

static void
deliver (NatterdSocket *self,
         guint8         opcode,
         guint8        *payload,
         gsize          length)
{
  if (self->closed || self->dead || self->close_sent != 0)
    return;
  /* RFC 6455 8.1: a text message that is not UTF-8 fails the connection
   * with 1007, whatever the endpoint does with valid text. */
  if (opcode == OP_TEXT && !g_utf8_validate_len ((const char *) payload, length, NULL))
    {
      protocol_error (self, 1007, "Text message is not UTF-8");
      return;
    }
  self->handlers->message (self->user_data, payload, length, opcode == OP_BINARY);
}

/* RFC 6455 7.4: codes a peer may put in a close frame. */
static gboolean
close_code_is_valid (gushort code)
{
  if (code >= 3000 && code <= 4999)
    return TRUE;
  return code >= 1000 && code <= 1014 && code != 1004 && code != 1005 && code != 1006;
}

/* Handles one frame at @data if complete; returns its size, 0 if more bytes
 * are needed, or -1 after a protocol error. */
static gssize
parse_frame (NatterdSocket *self,
             guint8        *data,
             gsize          available)
{
  gsize max = self->loop->max_message;
  guint8 fin, opcode, *mask, *payload;
  guint64 length;
  gsize header = 2;

  if (available < 2)
    return 0;

  fin = data[0] & 0x80;
  opcode = data[0] & 0x0F;
  if ((data[0] & 0x70) != 0)
    {
      protocol_error (self, 1002, "Reserved bits set");
      return -1;
    }
  if (!(data[1] & 0x80))
    {
      protocol_error (self, 1002, "Client frames must be masked");
      return -1;
    }

  length = data[1] & 0x7F;
  if (length == 126)
    {
      if (available < 4)
        return 0;
      length = (guint64) data[2] << 8 | data[3];
      header = 4;
    }
  else if (length == 127)
    {
      if (available < 10)
        return 0;
      length = 0;
      for (int i = 0; i < 8; i++)
        length = length << 8 | data[2 + i];
      header = 10;
    }

  if (opcode >= OP_CLOSE && (!fin || length > 125))
    {
      protocol_error (self, 1002, "Bad control frame");
      return -1;
    }
  if (length > max || (self->message != NULL && self->message->len + length > max))
    {
      protocol_error (self, 1009, "30016 Message too large");
      return -1;
    }
  if (available < header + 4 + length)
    return 0;

  /* Any frame is a sign of life, control frames included. */
  self->last_input = self->loop->now;

  mask = data + header;
  payload = mask + 4;
  for (guint64 i = 0; i < length; i++)
    payload[i] ^= mask[i & 3];

  switch (opcode)
    {
    case OP_CLOSE:
      {
        gushort code = length >= 2 ? (gushort) (payload[0] << 8 | payload[1]) : 1005;

        if (length == 1 || (length >= 2 && !close_code_is_valid (code)))
          {
            protocol_error (self, 1002, "Bad close frame");
            return -1;
          }
        if (length > 2 && !g_utf8_validate_len ((const char *) payload + 2, (gsize) length - 2, NULL))
          {
            protocol_error (self, 1007, "Close reason is not UTF-8");
            return -1;
          }

        if (self->close_sent == 0)
          {
            /* Answer with the same code (none to an empty close), then the
             * connection is done. */
            queue_frame (self, OP_CLOSE, payload, MIN (length, 2));
            flush (self);
          }
        finish (self, code);
        return -1;
      }

    case OP_PING:
      queue_frame (self, OP_PONG, payload, (gsize) length);
      break;

    case OP_PONG:
      break;

    case OP_TEXT:
    case OP_BINARY:
      if (self->message != NULL)
        {
          protocol_error (self, 1002, "New message inside a fragmented one");
          return -1;
        }
      if (fin)
        deliver (self, opcode, payload, (gsize) length);
      else
        {
          self->message = g_byte_array_sized_new ((guint) length);
          g_byte_array_append (self->message, payload, (guint) length);
          self->message_opcode = opcode;
        }
      break;

    case OP_CONTINUATION:
      if (self->message == NULL)
        {
          protocol_error (self, 1002, "Continuation without a message");
          return -1;
        }
      g_byte_array_append (self->message, payload, (guint) length);
      if (fin)
        {
          g_autoptr(GByteArray) whole = g_steal_pointer (&self->message);
          deliver (self, self->message_opcode, whole->data, whole->len);
        }
      break;

    default:
      protocol_error (self, 1002, "Unknown opcode");
      return -1;
    }

  return (gssize) (header + 4 + length);
}

/* Parses what is in @data; keeps a partial frame in self->in. */
static void
parse (NatterdSocket *self,
       guint8        *data,
       gsize          length)
{
  gsize offset = 0;

  /* After our close frame, frames are still parsed to see the peer's. */
  while (offset < length && !self->closed && !self->dead && !self->discard)
    {
      gssize used = parse_frame (self, data + offset, length - offset);

      if (used < 0)
        return;
      if (used == 0)
        break;
      offset += (gsize) used;
    }

  if (self->closed || self->dead || self->discard)
    {
      if (self->in != NULL && self->in->data == data)
        g_clear_pointer (&self->in, g_byte_array_unref);
      return;
    }

  if (offset < length)
    {
      if (self->in == NULL)
        self->in = g_byte_array_sized_new ((guint) (length - offset));
      if (self->in->data != data)
        g_byte_array_append (self->in, data + offset, (guint) (length - offset));
      else
        g_byte_array_remove_range (self->in, 0, (guint) offset);
    }
  else if (self->in != NULL && self->in->data == data)
    g_clear_pointer (&self->in, g_byte_array_unref);
}

static void
read_input (NatterdSocket *self)
{
  guint8 *scratch = self->loop->scratch;
  gsize total = 0;

  while (total < MAX_READ_BYTES && !self->closed && !self->dead && !self->paused && !self->held)
    {
      gssize n = transport_read (self, scratch, READ_CHUNK);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          if (errno != EAGAIN && errno != EWOULDBLOCK)
            finish (self, self->close_sent != 0 ? self->close_code : 1006);
          return;
        }
      if (n == 0)
        {
          /* EOF: after our close frame that is the normal end. */
          finish (self, self->close_sent != 0 ? self->close_code : 1006);
          return;
        }
      total += (gsize) n;
      self->loop->read_time = g_get_monotonic_time ();

      if (self->discard)
        continue;  /* until EOF */

      if (self->in == NULL)
        parse (self, scratch, (gsize) n);
      else
        {
          g_byte_array_append (self->in, scratch, (guint) n);
          parse (self, self->in->data, self->in->len);
        }

      /* The answers are piling up: the peer is not reading them. */
      if (!self->closed && !self->dead && queued (self) > OUTPUT_HIGH)
        update_events (self, self->want_out, TRUE);

      /* A short read emptied the kernel's buffer. Over TLS every read
       * is one record at most: read on until there is nothing. */
      if (TLS_IN (self) == NULL && n < READ_CHUNK)
        return;
    }
}

/* --------------------------------------------------------------- lifecycle */

static void
release (NatterdSocket *self)
{
  int fd;

  /* The writer thread checks fd under the lock: it never writes to a
   * descriptor closed (and maybe reused) here. */
  g_mutex_lock (&self->lock);
  fd = self->fd;
  self->fd = -1;
  g_mutex_unlock (&self->lock);
  if (fd >= 0)
    epoll_ctl (self->loop->epfd, EPOLL_CTL_DEL, fd, NULL);
  if (fd >= 0 && self->owns_fd)
    {
      close (fd);
      self->loop->fd_sockets--;
    }
  if (self->adopted != NULL && self->adopted->socket != NULL)
    {
      /* Closing the descriptor itself: closing a TLS stream would send
       * close_notify, and block on a peer that does not read. */
      g_socket_close (self->adopted->socket, NULL);
      g_clear_object (&self->adopted->socket);
    }
  /* Unwritten frames settle (before tls_out goes: queued() looks). */
  drop_output (self);
  if (self->adopted != NULL)
    {
      self->adopted->tls_in = NULL;
      self->adopted->tls_out = NULL;
      g_clear_object (&self->adopted->stream);
    }
  g_clear_pointer (&self->in, g_byte_array_unref);
  g_clear_pointer (&self->message, g_byte_array_unref);
  g_hash_table_remove (self->loop->closing, self);
  if (self->dirty)
    g_ptr_array_remove_fast (self->loop->dirty, self);
  self->dirty = FALSE;
  if (self->in_bulk)
    {
      guint index;

      /* A hole, not a removal: the turn of the others stays. */
      if (g_ptr_array_find (self->loop->bulk, self, &index))
        g_ptr_array_index (self->loop->bulk, index) = NULL;
    }
  self->in_bulk = FALSE;
  if (self->in_stalled)
    g_ptr_array_remove_fast (self->loop->stalled, self);
  self->in_stalled = FALSE;
  if (self->drained)
    g_ptr_array_remove (self->loop->drained, self);
  self->drained = FALSE;
}

/* The connection is over: release it now, tell the owner at the end of
 * the dispatch (never from inside a handler call). */
static void
finish (NatterdSocket *self,
        gushort        code)
{
  if (self->closed)
    return;
  self->closed = TRUE;
  self->close_code = code;
  release (self);
  g_ptr_array_add (self->loop->finished, self);
}

static void
socket_free (NatterdSocket *self)
{
  g_mutex_clear (&self->lock);
  g_free (self->adopted);
  g_free (self);
}

void
natterd_socket_free (NatterdSocket *self)
{
  if (self == NULL)
    return;

  if (!self->closed)
    {
      /* Last words, best effort. */
      if (queued (self) > 0 && self->fd >= 0)
        flush (self);
      self->closed = TRUE;
      release (self);
    }
  self->dead = TRUE;
  /* The writer thread (or its queue) still has it: freed when it is back. */
  if (self->in_writer)
    return;
  if (self->loop->dispatching || g_ptr_array_find (self->loop->finished, self, NULL) ||
      g_ptr_array_find (self->loop->fresh, self, NULL))
    g_ptr_array_add (self->loop->graveyard, self);
  else
    socket_free (self);
}

NatterdSocket *
natterd_socket_new (NatterdSocketLoop           *loop,
                    GIOStream                   *stream,
                    GSocket                     *socket,
                    gboolean                     tls,
                    const NatterdSocketHandlers *handlers,
                    gpointer                     user_data,
                    GError                     **error)
{
  NatterdSocket *self;
  GInputStream *input = g_io_stream_get_input_stream (stream);
  GOutputStream *output = g_io_stream_get_output_stream (stream);
  struct epoll_event event = { 0 };
  gsize total = 0;

  if (!G_IS_POLLABLE_INPUT_STREAM (input) || (tls && !G_IS_POLLABLE_OUTPUT_STREAM (output)))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           "The connection cannot be read without blocking");
      return NULL;
    }

  self = g_new0 (NatterdSocket, 1);
  g_mutex_init (&self->lock);
  self->loop = loop;
  self->adopted = g_new0 (Adopted, 1);
  self->adopted->stream = g_object_ref (stream);
  self->adopted->socket = g_object_ref (socket);
  self->fd = g_socket_get_fd (socket);
  self->order = self->fd;
  self->handlers = handlers;
  self->user_data = user_data;
  self->last_input = g_get_monotonic_time ();
  if (tls)
    {
      self->adopted->tls_in = G_POLLABLE_INPUT_STREAM (input);
      self->adopted->tls_out = G_POLLABLE_OUTPUT_STREAM (output);
    }

  g_socket_set_blocking (socket, FALSE);

  /* libsoup may have read past the upgrade request (and over TLS, GnuTLS
   * past what the kernel still holds): take what it has. Reading stops at
   * a bound; the rest is in the kernel, which epoll reports. */
  while (total < MAX_READ_BYTES)
    {
      gssize n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (input),
                                                           loop->scratch, READ_CHUNK, NULL, NULL);
      if (n <= 0)
        break;
      if (self->in == NULL)
        self->in = g_byte_array_new ();
      g_byte_array_append (self->in, loop->scratch, (guint) n);
      total += (gsize) n;
    }

  event.events = EPOLLIN;
  event.data.ptr = self;
  if (epoll_ctl (loop->epfd, EPOLL_CTL_ADD, self->fd, &event) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "epoll: %s", g_strerror (saved));
      g_clear_pointer (&self->in, g_byte_array_unref);
      g_object_unref (self->adopted->socket);
      g_clear_object (&self->adopted->stream);
      socket_free (self);
      return NULL;
    }

  /* Plain TCP is the descriptor alone from now on: libsoup's stream
   * objects (its wrappers and GSocketConnection's, ~1 KiB) would only
   * sit in memory for every idle connection. Dropping them closes
   * nothing (libsoup's wrapper does not close on dispose, and adopted->socket
   * holds the descriptor). */
  if (!tls)
    g_clear_object (&self->adopted->stream);

  if (self->in != NULL && self->in->len > 0)
    {
      /* Parsed at the next dispatch, as if it had just arrived. */
      g_ptr_array_add (loop->fresh, g_steal_pointer (&self->in));
      g_ptr_array_add (loop->fresh, self);
    }
  else
    g_clear_pointer (&self->in, g_byte_array_unref);
  return self;
}

NatterdSocket *
natterd_socket_new_for_fd (NatterdSocketLoop           *loop,
                           int                          fd,
                           const NatterdSocketHandlers *handlers,
                           gpointer                     user_data,
                           GError                     **error)
{
  NatterdSocket *self = g_new0 (NatterdSocket, 1);
  struct epoll_event event = { 0 };

  g_mutex_init (&self->lock);
  self->loop = loop;
  self->fd = fd;
  self->order = fd;
  self->owns_fd = TRUE;
  self->handlers = handlers;
  self->user_data = user_data;
  self->last_input = g_get_monotonic_time ();

  /* What the peer sent after its request (its first frames) is still in
   * the kernel: epoll reports it at once. Accepted by the loop, @fd is in
   * the set already (edge-triggered, for the handshake). */
  event.events = EPOLLIN;
  event.data.ptr = self;
  if (epoll_ctl (loop->epfd, EPOLL_CTL_MOD, fd, &event) != 0 &&
      (errno != ENOENT || epoll_ctl (loop->epfd, EPOLL_CTL_ADD, fd, &event) != 0))
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "epoll: %s", g_strerror (saved));
      close (fd);
      socket_free (self);
      return NULL;
    }
  loop->fd_sockets++;
  return self;
}

gint64
natterd_socket_get_last_input (NatterdSocket *self)
{
  return self->last_input;
}

/* -------------------------------------------------------- the writer thread */

static int
writer_nice (void)
{
  const char *env = g_getenv ("NATTERD_FANOUT_NICE");
  guint64 value;

  if (env == NULL || !g_ascii_string_to_unsigned (env, 10, 0, 19, &value, NULL))
    return WRITER_NICE;
  return (int) value;
}

/* Connections per io_uring batch: URING_BATCH, or NATTERD_FANOUT_URING
 * (0: a send() each, as where io_uring is refused; 1–64), so one binary
 * compares them. */
static guint
writer_uring (void)
{
  const char *env = g_getenv ("NATTERD_FANOUT_URING");
  guint64 value;

  if (env == NULL || !g_ascii_string_to_unsigned (env, 10, 0, URING_MAX, &value, NULL))
    return URING_BATCH;
  return (guint) value;
}

/* NATTERD_FANOUT_SORT=0 writes a batch in the order it was queued (A/B). */
static gboolean
writer_sort (void)
{
  return g_strcmp0 (g_getenv ("NATTERD_FANOUT_SORT"), "0") != 0;
}

typedef struct
{
  int            order;
  NatterdSocket *socket;
} SortKey;

static int
compare_keys (gconstpointer a,
              gconstpointer b)
{
  const SortKey *x = a, *y = b;

  return x->order < y->order ? -1 : x->order > y->order;
}

/* Writer thread: @batch in descriptor order. A group's members come in
 * hash order, so its sends hop around the kernel's socket structures;
 * sockets opened one after another sit side by side in its slabs, and
 * loopback sends to 8,000 connections cost 9–12 % less CPU each in the
 * order they were accepted than in a random one (six alternating runs of
 * 40 rounds, 6.8 against 7.6 µs a send; sorted in windows of 256 no
 * gain, of 2,000 ~6 %: the whole batch is sorted, #18). The descriptor is
 * that order's stand-in. Keys are read once (a comparison touching two
 * connections would miss the cache twice). */
static void
sort_batch (GPtrArray *batch,
            GArray    *keys)
{
  g_array_set_size (keys, batch->len);
  for (guint i = 0; i < batch->len; i++)
    {
      SortKey *key = &g_array_index (keys, SortKey, i);

      key->socket = g_ptr_array_index (batch, i);
      key->order = key->socket->order;
    }
  g_array_sort (keys, compare_keys);
  for (guint i = 0; i < batch->len; i++)
    g_ptr_array_index (batch, i) = g_array_index (keys, SortKey, i).socket;
}

/* One connection's part of an io_uring batch. */
typedef struct
{
  struct iovec  iov[MAX_IOV];
  struct msghdr msg;
  guint         n_iov;
  gsize         length;      /* bytes asked for */
} WriterSlot;

/* Writer thread: what each of @conns (at most URING_MAX) has queued, up
 * to MAX_IOV frames each, in one io_uring_enter() (natterd-uring.c); the
 * same as write_plain() on each otherwise. Each connection's lock is held
 * from reading its head to taking off what was sent, so both threads
 * still write from the one head, in order. Sets the writer_* fields. */
static void
write_batch (NatterdSocketLoop        *loop,
             NatterdUring            **uring,
             WriterSlot               *slots,
             NatterdSocket           **conns,
             guint                     n,
             NatterdSocketWriterStats *stats)
{
  gssize results[URING_MAX];
  gboolean ran, unsupported = FALSE;

  g_assert (n <= URING_MAX);
  for (guint k = 0; k < n; k++)
    {
      NatterdSocket *self = conns[k];
      WriterSlot *slot = &slots[k];
      guint waiting;

      self->writer_written = 0;
      self->writer_failed = FALSE;
      slot->n_iov = 0;
      slot->length = 0;
      g_mutex_lock (&self->lock);
      self->writer_before = self->out_bytes - self->out_offset;
      waiting = out_count (self);
      if (waiting == 0 || self->fd < 0)
        {
          g_mutex_unlock (&self->lock);
          continue;
        }
      for (guint i = 0; i < waiting && slot->n_iov < MAX_IOV; i++, slot->n_iov++)
        {
          NatterdSocketFrame *frame = out_frame (self, i);
          gsize skip = i == 0 ? self->out_offset : 0;

          slot->iov[slot->n_iov].iov_base = frame->data + skip;
          slot->iov[slot->n_iov].iov_len = frame->length - skip;
          slot->length += frame->length - skip;
        }
      memset (&slot->msg, 0, sizeof slot->msg);
      slot->msg.msg_iov = slot->iov;
      slot->msg.msg_iovlen = slot->n_iov;
      natterd_uring_queue_send (*uring, self->fd, slot->iov[0].iov_base, slot->iov[0].iov_len,
                                slot->n_iov > 1 ? &slot->msg : NULL, k);
      /* The lock stays held until the send is done. */
    }

  ran = natterd_uring_run (*uring, results);
  stats->enters++;
  if (!ran)
    {
      /* What was sent is unknown: those connections cannot go on. Later
       * batches go by send(). */
      g_warning ("natterd sockets: io_uring_enter: %s; sending without it", g_strerror (errno));
      g_clear_pointer (uring, natterd_uring_free);
    }

  for (guint k = 0; k < n; k++)
    {
      NatterdSocket *self = conns[k];
      WriterSlot *slot = &slots[k];
      OutFrame popped[MAX_IOV];
      guint n_popped;
      gssize sent = ran ? results[k] : -EIO;
      gboolean more;

      if (slot->n_iov == 0)
        continue;
      n_popped = take_sent (self, sent, popped);
      /* All it asked for went and more waits (over MAX_IOV frames). */
      more = sent > 0 && (gsize) sent == slot->length && out_count (self) > 0;
      g_mutex_unlock (&self->lock);
      count_send (stats, sent, slot->length, n_popped);

      if (sent > 0)
        {
          queued_add (loop, -sent);
          self->writer_written += (gsize) sent;
        }
      for (guint i = 0; i < n_popped; i++)
        out_frame_done (loop, &popped[i], TRUE);
      /* -EINVAL: a kernel whose io_uring has no IORING_OP_SEND (before
       * Linux 5.6; nothing was sent): send() from now on. */
      if (sent == -EINVAL || sent == -EOPNOTSUPP)
        unsupported = TRUE;
      if (sent == -EINTR || sent == -EINVAL || sent == -EOPNOTSUPP || more)
        self->writer_failed = !write_plain (self, TRUE, &self->writer_written, stats);
      else if (sent < 0 && sent != -EAGAIN && sent != -EWOULDBLOCK)
        self->writer_failed = TRUE;
    }
  if (unsupported)
    {
      g_debug ("natterd sockets: io_uring cannot send here; sending without it");
      g_clear_pointer (uring, natterd_uring_free);
    }
}

/* Writer thread, under writer_lock: its own counts since the last time
 * go to the loop's. */
static void
writer_stats_add (NatterdSocketWriterStats *total,
                  NatterdSocketWriterStats *mine)
{
  total->batches += mine->batches;
  total->sends += mine->sends;
  total->frames += mine->frames;
  total->short_sends += mine->short_sends;
  total->would_block += mine->would_block;
  total->enters += mine->enters;
  memset (mine, 0, sizeof *mine);
}

void
natterd_socket_loop_get_writer_stats (NatterdSocketLoop        *loop,
                                      NatterdSocketWriterStats *out)
{
  g_mutex_lock (&loop->writer_lock);
  *out = loop->writer_stats;
  g_mutex_unlock (&loop->writer_lock);
}

/* A group's fan-out is thousands of sendmsg() calls per message: written
 * here, they no longer sit in front of the main thread's other work
 * (reads, commits, acks), even a slice at a time. The main thread queues
 * references and hands the connections over (in_writer); this thread
 * writes what each has queued, from its head, and hands them back in
 * chunks for the bookkeeping (EPOLLOUT, stalls, drained, errors). */
static gpointer
writer_main (gpointer data)
{
  NatterdSocketLoop *loop = data;
  g_autoptr(GPtrArray) batch = g_ptr_array_new ();
  g_autoptr(GArray) keys = g_array_new (FALSE, FALSE, sizeof (SortKey));
  NatterdUring *uring = loop->writer_uring > 0 ? natterd_uring_new (loop->writer_uring) : NULL;
  g_autofree WriterSlot *slots = uring != NULL ? g_new (WriterSlot, loop->writer_uring) : NULL;
  NatterdSocketWriterStats stats = { 0 };

  /* Linux: a thread's nice value is its own (PRIO_PROCESS with its tid);
   * raising it needs no privilege. */
  errno = 0;
  if (loop->writer_nice != 0 &&
      setpriority (PRIO_PROCESS, (id_t) syscall (SYS_gettid), getpriority (PRIO_PROCESS, 0) + loop->writer_nice) != 0)
    g_debug ("natterd sockets: fan-out thread's priority: %s", g_strerror (errno));

  g_mutex_lock (&loop->writer_lock);
  for (;;)
    {
      GPtrArray *swap;
      guint done = 0;

      while (loop->writer_queue->len == 0 && !loop->writer_stop)
        g_cond_wait (&loop->writer_cond, &loop->writer_lock);
      if (loop->writer_stop)
        break;
      swap = loop->writer_queue;
      loop->writer_queue = batch;
      batch = swap;
      g_mutex_unlock (&loop->writer_lock);
      if (loop->writer_sort && batch->len > 1)
        sort_batch (batch, keys);
      stats.batches++;

      for (guint i = 0; i < batch->len;)
        {
          guint step = 1;

          if (uring != NULL)
            {
              step = MIN (loop->writer_uring, batch->len - i);
              write_batch (loop, &uring, slots, (NatterdSocket **) batch->pdata + i, step, &stats);
            }
          else
            {
              NatterdSocket *self = g_ptr_array_index (batch, i);

              self->writer_before = queued (self);
              self->writer_written = 0;
              self->writer_failed = !write_plain (self, TRUE, &self->writer_written, &stats);
            }
          i += step;
          if (i - done >= WRITER_CHUNK || i == batch->len)
            {
              g_mutex_lock (&loop->writer_lock);
              for (; done < i; done++)
                g_ptr_array_add (loop->writer_done, g_ptr_array_index (batch, done));
              writer_stats_add (&loop->writer_stats, &stats);
              wake_main (loop);
              g_mutex_unlock (&loop->writer_lock);
            }
        }
      g_ptr_array_set_size (batch, 0);
      g_mutex_lock (&loop->writer_lock);
    }
  g_mutex_unlock (&loop->writer_lock);
  natterd_uring_free (uring);
  return NULL;
}

/* Main thread: the connections queued for the writer go to it. */
static void
writer_hand_over (NatterdSocketLoop *loop)
{
  if (loop->to_writer->len == 0)
    return;
  g_mutex_lock (&loop->writer_lock);
  g_ptr_array_extend_and_steal (loop->writer_queue, g_steal_pointer (&loop->to_writer));
  g_cond_signal (&loop->writer_cond);
  g_mutex_unlock (&loop->writer_lock);
  loop->to_writer = g_ptr_array_new ();
}

/* Main thread, dispatching: what the writer wrote comes back. */
static void
writer_take_back (NatterdSocketLoop *loop)
{
  g_autoptr(GPtrArray) done = NULL;
  guint64 value;

  g_mutex_lock (&loop->writer_lock);
  if (!loop->writer_woken && loop->writer_done->len == 0 && loop->writer_settled->len == 0)
    {
      /* Nothing back (no group fan-out): no arrays made and freed. */
      g_mutex_unlock (&loop->writer_lock);
      return;
    }
  done = g_steal_pointer (&loop->writer_done);
  loop->writer_done = g_ptr_array_new ();
  g_ptr_array_extend_and_steal (loop->settled, g_steal_pointer (&loop->writer_settled));
  loop->writer_settled = g_ptr_array_new ();
  if (loop->writer_woken && read (loop->wake_fd, &value, sizeof value) < 0 && errno != EAGAIN)
    g_warning ("natterd sockets: eventfd read: %s", g_strerror (errno));
  loop->writer_woken = FALSE;
  g_mutex_unlock (&loop->writer_lock);

  for (guint i = 0; i < done->len; i++)
    {
      NatterdSocket *self = g_ptr_array_index (done, i);

      self->in_writer = FALSE;
      if (self->dead)
        {
          g_ptr_array_add (loop->graveyard, self);
          continue;
        }
      if (self->closed)
        continue;
      after_write (self, self->writer_before, self->writer_written, !self->writer_failed);
      /* Queued while the writer had it, after its last write. */
      if (!self->closed && !self->dirty && !self->want_out && queued (self) > 0)
        {
          self->in_writer = TRUE;
          g_ptr_array_add (loop->to_writer, self);
        }
    }
}

/* ---------------------------------------------------- accepting, handshakes */

static void
list_append (HandshakeList *list,
             Handshake     *hs)
{
  hs->prev = list->tail;
  hs->next = NULL;
  if (list->tail != NULL)
    list->tail->next = hs;
  else
    list->head = hs;
  list->tail = hs;
}

static void
list_remove (HandshakeList *list,
             Handshake     *hs)
{
  if (hs->prev != NULL)
    hs->prev->next = hs->next;
  else
    list->head = hs->next;
  if (hs->next != NULL)
    hs->next->prev = hs->prev;
  else
    list->tail = hs->prev;
  hs->prev = hs->next = NULL;
}

/* Out of the lists (and the epoll set unless @keep: a WebSocket's
 * registration is changed, one syscall less); its descriptor stays open. */
static int
handshake_take_full (NatterdSocketLoop *loop,
                     Handshake         *hs,
                     gboolean           keep)
{
  int fd = hs->fd;

  list_remove (hs->draining ? &loop->draining : &loop->waiting, hs);
  if (!keep)
    epoll_ctl (loop->epfd, EPOLL_CTL_DEL, fd, NULL);
  loop->handshakes--;
  g_free (hs);
  return fd;
}

static int
handshake_take (NatterdSocketLoop *loop,
                Handshake         *hs)
{
  return handshake_take_full (loop, hs, FALSE);
}

static void
handshake_close (NatterdSocketLoop *loop,
                 Handshake         *hs)
{
  close (handshake_take (loop, hs));
}

static void
handshake_new (NatterdSocketLoop *loop,
               int                fd,
               gint64             now)
{
  Handshake *hs = g_new0 (Handshake, 1);
  struct epoll_event event = { 0 };

  hs->fd = fd;
  hs->accepted = now;
  hs->deadline = loop->header_timeout > 0 ? now + loop->header_timeout : 0;
  /* Edge-triggered: bytes only peeked at stay readable, and a request
   * that comes a byte at a time is looked at once per arrival. */
  event.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
  event.data.u64 = (guint64) (guintptr) hs | 1;
  if (epoll_ctl (loop->epfd, EPOLL_CTL_ADD, fd, &event) != 0)
    {
      close (fd);
      g_free (hs);
      return;
    }
  list_append (&loop->waiting, hs);
  loop->handshakes++;
}

static const char *
status_text (guint status)
{
  switch (status)
    {
    case 400: return "Bad Request";
    case 426: return "Upgrade Required";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

static void
handshake_drain (NatterdSocketLoop *loop,
                 Handshake         *hs)
{
  for (guint i = 0; i < 16; i++)
    {
      gssize n = recv (hs->fd, loop->scratch, READ_CHUNK, MSG_DONTWAIT);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
      if (n <= 0)
        break;
    }
  /* The end, an error, or a peer that keeps sending: enough. */
  handshake_close (loop, hs);
}

/* An error answer, then the rest of the request is read and dropped for a
 * while: closing with unread bytes would reset the answer away. */
static void
handshake_refuse (NatterdSocketLoop *loop,
                  Handshake         *hs,
                  guint              status,
                  const char        *extra_headers,
                  const char        *reason)
{
  g_autofree char *answer = g_strdup_printf ("HTTP/1.1 %u %s\r\n"
                                             "Content-Type: text/plain; charset=utf-8\r\n"
                                             "Content-Length: %zu\r\n"
                                             "Connection: close\r\n"
                                             "%s\r\n%s",
                                             status, status_text (status), strlen (reason),
                                             extra_headers != NULL ? extra_headers : "", reason);

  /* A fresh connection's kernel buffer takes a few hundred bytes. */
  if (send (hs->fd, answer, strlen (answer), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
    {
      handshake_close (loop, hs);
      return;
    }
  shutdown (hs->fd, SHUT_WR);
  list_remove (&loop->waiting, hs);
  hs->draining = TRUE;
  hs->deadline = loop->now + DRAIN_US;
  list_append (&loop->draining, hs);
  /* The request is still in the kernel (only peeked): no new edge comes
   * for it. */
  handshake_drain (loop, hs);
}

/* Whether @value, a comma-separated list of tokens, has @token. */
static gboolean
list_has (const char *value,
          const char *token)
{
  gsize length = strlen (token);

  while (value != NULL && *value != '\0')
    {
      const char *end;

      while (*value == ' ' || *value == '\t' || *value == ',')
        value++;
      end = value;
      while (*end != '\0' && *end != ',')
        end++;
      {
        const char *last = end;

        while (last > value && (last[-1] == ' ' || last[-1] == '\t'))
          last--;
        if ((gsize) (last - value) == length && g_ascii_strncasecmp (value, token, length) == 0)
          return TRUE;
      }
      value = end;
    }
  return FALSE;
}

/* RFC 6455 4.1: 16 random bytes in base64, 24 characters. */
static gboolean
key_is_valid (const char *key)
{
  if (key == NULL || strlen (key) != 24 || strcmp (key + 22, "==") != 0)
    return FALSE;
  for (guint i = 0; i < 22; i++)
    if (!g_ascii_isalnum (key[i]) && key[i] != '+' && key[i] != '/')
      return FALSE;
  /* The last character carries 2 bits: the other 4 are zero. */
  return strchr ("AQgw", key[21]) != NULL;
}

static char *
accept_key (const char *key)
{
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA1);
  guint8 digest[20];
  gsize length = sizeof digest;

  g_checksum_update (checksum, (const guchar *) key, -1);
  g_checksum_update (checksum, (const guchar *) WEBSOCKET_GUID, -1);
  g_checksum_get_digest (checksum, digest, &length);
  return g_base64_encode (digest, length);
}

/* Whether the first @length bytes of @data start a GET of @ws_path:
 * WAIT when too few to tell. */
static NatterdUpgradeKind
classify (const char *ws_path,
          const char *data,
          gsize       length)
{
  gsize path_length = strlen (ws_path);
  gsize prefix = 4 + path_length;  /* "GET " and the path */
  gsize compared = MIN (length, prefix);

  if (strncmp (data, "GET ", MIN (compared, 4)) != 0 ||
      (compared > 4 && strncmp (data + 4, ws_path, compared - 4) != 0))
    return NATTERD_UPGRADE_OTHER;
  if (length <= prefix)
    return NATTERD_UPGRADE_WAIT;
  return data[prefix] == ' ' || data[prefix] == '?' ? NATTERD_UPGRADE_OURS : NATTERD_UPGRADE_OTHER;
}

/* The end of the headers (after the blank line), 0 if not there yet. */
static gsize
headers_end (const char *data,
             gsize       length)
{
  for (gsize i = 0; i + 1 < length; i++)
    if (data[i] == '\n')
      {
        if (data[i + 1] == '\n')
          return i + 2;
        if (data[i + 1] == '\r' && i + 2 < length && data[i + 2] == '\n')
          return i + 3;
      }
  return 0;
}

static char *
trim (char *text)
{
  char *end;

  while (*text == ' ' || *text == '\t')
    text++;
  end = text + strlen (text);
  while (end > text && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
    *--end = '\0';
  return text;
}

static NatterdUpgradeKind
upgrade_refuse (NatterdUpgrade *upgrade,
                guint           status,
                const char     *extra_headers,
                const char     *reason)
{
  upgrade->status = status;
  upgrade->extra_headers = extra_headers;
  upgrade->reason = reason;
  return NATTERD_UPGRADE_REFUSE;
}

/* The request line and headers of a whole request, @data[@length] being
 * its NUL. */
static NatterdUpgradeKind
upgrade_parse_headers (char           *request,
                       NatterdUpgrade *upgrade)
{
  const char *host = NULL, *upgrade_header = NULL, *connection = NULL, *version = NULL;
  char *line, *next, *target, *query;

  /* The request line: "GET /ws HTTP/1.1" (classify() saw the start). */
  next = strchr (request, '\n');
  *next++ = '\0';
  line = trim (request);
  target = line + 4;
  line = strchr (target, ' ');
  if (line == NULL)
    return upgrade_refuse (upgrade, 400, NULL, "Malformed request line");
  *line++ = '\0';
  if (strcmp (line, "HTTP/1.1") != 0)
    return upgrade_refuse (upgrade, 400, NULL, "A WebSocket upgrade needs HTTP/1.1");
  query = strchr (target, '?');
  if (query != NULL)
    *query = '\0';
  upgrade->target = target;

  for (line = next; *line != '\0' && *line != '\r' && *line != '\n'; line = next)
    {
      char *colon, *name, *value;

      next = strchr (line, '\n');
      *next++ = '\0';
      colon = strchr (line, ':');
      /* No folded lines (RFC 7230 3.2.4), no nameless ones. */
      if (colon == NULL || colon == line || *line == ' ' || *line == '\t')
        return upgrade_refuse (upgrade, 400, NULL, "Malformed header line");
      *colon = '\0';
      name = line;
      value = trim (colon + 1);
      if (g_ascii_strcasecmp (name, "Host") == 0)
        host = value;
      else if (g_ascii_strcasecmp (name, "Upgrade") == 0)
        upgrade_header = value;
      else if (g_ascii_strcasecmp (name, "Connection") == 0)
        connection = value;
      else if (g_ascii_strcasecmp (name, "Sec-WebSocket-Version") == 0)
        version = value;
      else if (g_ascii_strcasecmp (name, "Sec-WebSocket-Key") == 0)
        {
          if (upgrade->key != NULL)
            return upgrade_refuse (upgrade, 400, NULL, "More than one Sec-WebSocket-Key");
          upgrade->key = value;
        }
      else if (g_ascii_strcasecmp (name, "Sec-WebSocket-Protocol") == 0)
        {
          /* One header (the usual case) is used where it is; more are
           * joined as one list. */
          if (upgrade->protocols == NULL)
            upgrade->protocols = value;
          else
            {
              char *joined = g_strdup_printf ("%s, %s", upgrade->protocols, value);

              g_free (upgrade->owned);
              upgrade->protocols = upgrade->owned = joined;
            }
        }
    }

  if (host == NULL)
    return upgrade_refuse (upgrade, 400, NULL, "Missing Host header");
  if (!list_has (upgrade_header, "websocket") || !list_has (connection, "upgrade"))
    return upgrade_refuse (upgrade, 426, "Upgrade: websocket\r\n",
                           "This is a WebSocket endpoint: the request needs "
                           "Upgrade: websocket and Connection: Upgrade");
  if (g_strcmp0 (version, "13") != 0)
    {
      upgrade_refuse (upgrade, 426, "Sec-WebSocket-Version: 13\r\n", NULL);
      g_free (upgrade->owned);
      upgrade->reason = upgrade->owned =
        g_strdup_printf ("Unsupported WebSocket version %s: this server speaks 13",
                         version != NULL ? version : "(none)");
      return NATTERD_UPGRADE_REFUSE;
    }
  if (!key_is_valid (upgrade->key))
    return upgrade_refuse (upgrade, 400, NULL,
                           upgrade->key == NULL ? "Missing Sec-WebSocket-Key" : "Invalid Sec-WebSocket-Key");
  return NATTERD_UPGRADE_OURS;
}

NatterdUpgradeKind
natterd_upgrade_parse (char           *data,
                       gsize           length,
                       gsize           max_header,
                       const char     *ws_path,
                       NatterdUpgrade *upgrade)
{
  NatterdUpgradeKind kind;
  gsize end;

  memset (upgrade, 0, sizeof *upgrade);
  kind = classify (ws_path, data, length);
  if (kind == NATTERD_UPGRADE_OTHER)
    return kind;
  end = headers_end (data, length);
  if (end == 0)
    return length > max_header ? upgrade_refuse (upgrade, 431, NULL, "Request headers too large")
                               : NATTERD_UPGRADE_WAIT;
  upgrade->length = end;
  /* The headers may end before the path did ("GET /w\n\n"). */
  if (classify (ws_path, data, end) != NATTERD_UPGRADE_OURS)
    return NATTERD_UPGRADE_OTHER;
  /* The lines are cut at their '\n' as C strings: a NUL would end one
   * before it (RFC 9110 5.5: no NUL in a field either). */
  if (memchr (data, '\0', end) != NULL)
    return upgrade_refuse (upgrade, 400, NULL, "Malformed request: a NUL byte in the headers");
  data[end] = '\0';
  return upgrade_parse_headers (data, upgrade);
}

void
natterd_upgrade_clear (NatterdUpgrade *upgrade)
{
  g_clear_pointer (&upgrade->owned, g_free);
}

/* A valid upgrade of @length bytes, @upgrade pointing into the scratch
 * buffer. */
static void
handshake_answer (NatterdSocketLoop    *loop,
                  Handshake            *hs,
                  const NatterdUpgrade *upgrade)
{
  g_autofree char *reason = NULL;
  g_autofree char *accept = NULL;
  g_autofree char *answer = NULL;
  guint status = 0;
  int fd;

  if (loop->accept->check (loop->accept_data, upgrade->target, upgrade->protocols,
                           &status, &reason) != NULL)
    {
      handshake_refuse (loop, hs, status, NULL, reason);
      return;
    }

  /* No extension: permessage-deflate would keep a zlib stream per
   * connection (hundreds of KiB) for frames of a few hundred bytes. */
  accept = accept_key (upgrade->key);
  answer = g_strdup_printf ("HTTP/1.1 101 Switching Protocols\r\n"
                            "Upgrade: websocket\r\n"
                            "Connection: Upgrade\r\n"
                            "Sec-WebSocket-Accept: %s\r\n"
                            "Sec-WebSocket-Protocol: %s\r\n\r\n",
                            accept, loop->ws_protocol);
  fd = handshake_take_full (loop, hs, TRUE);
  /* The request leaves the kernel; what follows it (frames) stays there. */
  if (recv (fd, loop->scratch, upgrade->length, MSG_DONTWAIT) != (gssize) upgrade->length ||
      send (fd, answer, strlen (answer), MSG_NOSIGNAL | MSG_DONTWAIT) != (gssize) strlen (answer))
    {
      close (fd);  /* out of the epoll set with it */
      return;
    }
  loop->accept->upgraded (loop->accept_data, fd);
}

static void
handshake_ready (NatterdSocketLoop *loop,
                 Handshake         *hs,
                 guint32            events)
{
  NatterdUpgrade upgrade;
  gssize n;

  if (hs->draining)
    {
      handshake_drain (loop, hs);
      return;
    }

  n = recv (hs->fd, loop->scratch, loop->max_header + 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return;
  if (n <= 0)
    {
      handshake_close (loop, hs);  /* gone before a request */
      return;
    }

  switch (natterd_upgrade_parse ((char *) loop->scratch, (gsize) n, loop->max_header,
                                 loop->ws_path, &upgrade))
    {
    case NATTERD_UPGRADE_WAIT:
      if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        handshake_close (loop, hs);  /* half a request, and the peer is done */
      break;
    case NATTERD_UPGRADE_OTHER:
      {
        gint64 accepted = hs->accepted;
        int fd = handshake_take (loop, hs);

        loop->accept->handoff (loop->accept_data, fd, accepted);
      }
      break;
    case NATTERD_UPGRADE_REFUSE:
      handshake_refuse (loop, hs, upgrade.status, upgrade.extra_headers, upgrade.reason);
      break;
    case NATTERD_UPGRADE_OURS:
    default:
      handshake_answer (loop, hs, &upgrade);
      break;
    }
  natterd_upgrade_clear (&upgrade);
}

static void
accept_some (NatterdSocketLoop *loop)
{
  for (guint i = 0; i < ACCEPT_BATCH; i++)
    {
      int fd = accept4 (loop->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

      if (fd < 0)
        {
          if (errno == EINTR || errno == ECONNABORTED)
            continue;
          if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
            {
              /* The backlog waits (level-triggered, it would spin). */
              struct epoll_event event = { 0 };

              event.data.ptr = &loop->listen_fd;
              epoll_ctl (loop->epfd, EPOLL_CTL_MOD, loop->listen_fd, &event);
              loop->accept_resume = loop->now + ACCEPT_PAUSE_US;
              g_warning ("natterd: accept: %s; pausing", g_strerror (errno));
            }
          return;
        }
      if (!loop->accept->admit (loop->accept_data))
        {
          close (fd);
          continue;
        }
      handshake_new (loop, fd, loop->now);
    }
}

static gint64
handshakes_next_deadline (NatterdSocketLoop *loop)
{
  gint64 next = 0;

  if (loop->waiting.head != NULL && loop->waiting.head->deadline > 0)
    next = loop->waiting.head->deadline;
  if (loop->draining.head != NULL && (next == 0 || loop->draining.head->deadline < next))
    next = loop->draining.head->deadline;
  if (loop->accept_resume > 0 && (next == 0 || loop->accept_resume < next))
    next = loop->accept_resume;
  return next;
}

static void
handshakes_sweep (NatterdSocketLoop *loop,
                  gint64             now)
{
  /* Deadlines grow along each list: only the expired ones are looked at. */
  while (loop->waiting.head != NULL && loop->waiting.head->deadline > 0 &&
         loop->waiting.head->deadline <= now)
    {
      loop->header_timeouts++;
      handshake_close (loop, loop->waiting.head);
    }
  while (loop->draining.head != NULL && loop->draining.head->deadline <= now)
    handshake_close (loop, loop->draining.head);
  if (loop->accept_resume > 0 && loop->accept_resume <= now && loop->listen_fd >= 0)
    {
      struct epoll_event event = { 0 };

      event.events = EPOLLIN;
      event.data.ptr = &loop->listen_fd;
      epoll_ctl (loop->epfd, EPOLL_CTL_MOD, loop->listen_fd, &event);
      loop->accept_resume = 0;
    }
}

gboolean
natterd_socket_loop_listen (NatterdSocketLoop                 *loop,
                            int                                fd,
                            const char                        *path,
                            const char                        *protocol,
                            guint                              header_timeout,
                            gsize                              max_header,
                            const NatterdSocketAcceptHandlers *handlers,
                            gpointer                           user_data,
                            GError                           **error)
{
  struct epoll_event event = { 0 };
  int one = 1;

  g_return_val_if_fail (loop->listen_fd < 0, FALSE);
  g_return_val_if_fail (max_header < READ_CHUNK, FALSE);

  /* Accepted sockets inherit it (Linux): no setsockopt() per connection. */
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  event.events = EPOLLIN;
  event.data.ptr = &loop->listen_fd;
  if (epoll_ctl (loop->epfd, EPOLL_CTL_ADD, fd, &event) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "epoll: %s", g_strerror (saved));
      return FALSE;
    }
  loop->listen_fd = fd;
  loop->ws_path = g_strdup (path);
  loop->ws_protocol = g_strdup (protocol);
  loop->header_timeout = (gint64) header_timeout * G_USEC_PER_SEC;
  loop->max_header = max_header;
  loop->accept = handlers;
  loop->accept_data = user_data;
  return TRUE;
}

void
natterd_socket_loop_unlisten (NatterdSocketLoop *loop)
{
  if (loop->listen_fd < 0)
    return;
  epoll_ctl (loop->epfd, EPOLL_CTL_DEL, loop->listen_fd, NULL);
  loop->listen_fd = -1;
  loop->accept_resume = 0;
  while (loop->waiting.head != NULL)
    handshake_close (loop, loop->waiting.head);
  while (loop->draining.head != NULL)
    handshake_close (loop, loop->draining.head);
}

guint
natterd_socket_loop_get_connections (NatterdSocketLoop *loop)
{
  return loop->handshakes + loop->fd_sockets;
}

guint64
natterd_socket_loop_get_header_timeouts (NatterdSocketLoop *loop)
{
  return loop->header_timeouts;
}

/* ---------------------------------------------------------------- the loop */

static gboolean
loop_prepare (GSource *source,
              gint    *timeout)
{
  NatterdSocketLoop *loop = (NatterdSocketLoop *) source;

  *timeout = g_hash_table_size (loop->closing) > 0 ? 500 : -1;
  if (loop->stalled->len > 0)
    *timeout = loop->stall_us / 4 / 1000;
  if (loop->handshakes > 0 || loop->accept_resume > 0)
    {
      gint64 next = handshakes_next_deadline (loop);

      if (next > 0)
        {
          gint ms = (gint) CLAMP ((next - g_source_get_time (source) + 999) / 1000, 0, G_MAXINT);

          *timeout = *timeout < 0 ? ms : MIN (*timeout, ms);
        }
    }
  return loop->dirty->len > 0 || loop->finished->len > 0 || loop->fresh->len > 0 ||
         loop->drained->len > 0 || loop->bulk_head < loop->bulk->len || loop->to_writer->len > 0;
}

static gboolean
loop_check (GSource *source)
{
  NatterdSocketLoop *loop = (NatterdSocketLoop *) source;

  return loop->dirty->len > 0 || loop->finished->len > 0 || loop->fresh->len > 0 ||
         loop->drained->len > 0 || loop->bulk_head < loop->bulk->len || loop->to_writer->len > 0 ||
         (loop->stalled->len > 0 && g_source_get_time (source) >= loop->next_stall_check) ||
         (g_source_query_unix_fd (source, loop->tag) & G_IO_IN) != 0 ||
         g_hash_table_size (loop->closing) > 0 ||
         ((loop->handshakes > 0 || loop->accept_resume > 0) &&
          handshakes_next_deadline (loop) > 0 &&
          g_source_get_time (source) >= handshakes_next_deadline (loop));
}

static gboolean
loop_dispatch (GSource     *source,
               GSourceFunc  callback,
               gpointer     user_data)
{
  NatterdSocketLoop *loop = (NatterdSocketLoop *) source;
  struct epoll_event events[MAX_EVENTS];
  gint64 now = g_get_monotonic_time ();
  int n;

  if (loop->dispatching)
    return G_SOURCE_CONTINUE;  /* a nested main loop: never re-entered (see can-recurse) */
  loop->dispatching = TRUE;
  loop->now = now;

  n = epoll_wait (loop->epfd, events, MAX_EVENTS, 0);
  for (int i = 0; i < n; i++)
    {
      NatterdSocket *self = events[i].data.ptr;

      if (events[i].data.ptr == &loop->listen_fd)
        {
          accept_some (loop);
          continue;
        }
      if (events[i].data.u64 & 1)
        {
          handshake_ready (loop, (Handshake *) (guintptr) (events[i].data.u64 & ~(guint64) 1),
                           events[i].events);
          continue;
        }
      if ((gpointer) self == (gpointer) loop)
        continue;  /* wake_fd: the writer's news, taken below */
      if (self->closed || self->dead)
        continue;
      if (events[i].events & EPOLLOUT)
        flush (self);
      if (self->closed)
        continue;
      if ((self->paused || self->held) && (events[i].events & (EPOLLHUP | EPOLLERR)))
        finish (self, 1006);  /* gone while we waited for it to read */
      else if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))
        read_input (self);
    }

  /* Bytes that came with the upgrade: (buffer, socket) pairs. */
  while (loop->fresh->len > 0)
    {
      g_autoptr(GByteArray) buffered = g_ptr_array_steal_index (loop->fresh, 0);
      NatterdSocket *self = g_ptr_array_steal_index (loop->fresh, 0);

      if (!self->closed && !self->dead)
        {
          loop->read_time = now;
          parse (self, buffered->data, buffered->len);
        }
    }

  writer_take_back (loop);

  /* Everything queued during this iteration, one write per connection. */
  while (loop->dirty->len > 0)
    {
      NatterdSocket *self = g_ptr_array_steal_index_fast (loop->dirty, loop->dirty->len - 1);

      self->dirty = FALSE;
      if (!self->closed && !self->dead)
        flush (self);
    }

  /* Shared frames (a group's fan-out), in turn, for a slice of time: the
   * rest next iteration, after what else is ready. A connection waiting
   * longer gets more of them in one write. */
  if (loop->bulk_head < loop->bulk->len)
    {
      gint64 deadline = g_get_monotonic_time () + BULK_SLICE_US;
      guint count = 0;

      while (loop->bulk_head < loop->bulk->len)
        {
          NatterdSocket *self = g_ptr_array_index (loop->bulk, loop->bulk_head++);

          if (self == NULL)
            continue;
          self->in_bulk = FALSE;
          if (!self->closed && !self->dead && !self->want_out && queued (self) > 0)
            flush (self);
          if ((++count & 15) == 0 && g_get_monotonic_time () >= deadline)
            break;
        }
      if (loop->bulk_head == loop->bulk->len)
        {
          g_ptr_array_set_size (loop->bulk, 0);
          loop->bulk_head = 0;
        }
      else if (loop->bulk_head >= 1024 && loop->bulk_head > loop->bulk->len / 2)
        {
          g_ptr_array_remove_range (loop->bulk, 0, loop->bulk_head);
          loop->bulk_head = 0;
        }
    }

  /* Peers that stopped taking shared frames stop holding back senders. */
  if (loop->stalled->len > 0 && now >= loop->next_stall_check)
    {
      loop->next_stall_check = now + loop->stall_us / 4;
      for (guint i = loop->stalled->len; i-- > 0;)
        {
          NatterdSocket *self = g_ptr_array_index (loop->stalled, i);

          if (self->stalled_since != 0 && now - self->stalled_since < loop->stall_us)
            continue;
          if (self->stalled_since != 0)
            uncount (self);
          self->in_stalled = FALSE;
          g_ptr_array_remove_index_fast (loop->stalled, i);
        }
    }

  if (loop->handshakes > 0 || loop->accept_resume > 0)
    handshakes_sweep (loop, now);

  /* Peers that never answered our close frame. */
  if (g_hash_table_size (loop->closing) > 0)
    {
      g_autoptr(GPtrArray) late = g_ptr_array_new ();
      GHashTableIter iter;
      NatterdSocket *self;

      g_hash_table_iter_init (&iter, loop->closing);
      while (g_hash_table_iter_next (&iter, (gpointer *) &self, NULL))
        if (queued (self) == 0 && now - self->close_sent > CLOSE_WAIT_US / 4)
          {
            /* Our close is out: half-close so the peer sees the end. */
            if (!self->shut)
              shutdown (self->fd, SHUT_WR);
            self->shut = TRUE;
            if (now - self->close_sent > CLOSE_WAIT_US)
              g_ptr_array_add (late, self);
          }
        else if (now - self->close_sent > CLOSE_WAIT_US)
          g_ptr_array_add (late, self);
      for (guint i = 0; i < late->len; i++)
        {
          self = g_ptr_array_index (late, i);
          finish (self, self->close_code);
        }
    }

  loop->dispatching = FALSE;

  /* Tell owners, outside of any parsing. */
  while (loop->drained->len > 0)
    {
      NatterdSocket *self = g_ptr_array_steal_index (loop->drained, 0);

      self->drained = FALSE;
      if (!self->closed && !self->dead && self->close_sent == 0 && self->handlers->drained != NULL)
        self->handlers->drained (self->user_data);
    }
  while (loop->finished->len > 0)
    {
      NatterdSocket *self = g_ptr_array_steal_index (loop->finished, 0);

      if (!self->dead)
        self->handlers->closed (self->user_data, self->close_code);
    }

  while (loop->settled->len > 0)
    {
      NatterdSocketFrame *frame = g_ptr_array_steal_index (loop->settled, 0);

      frame->settled (frame->user_data);
      frame_unref (frame);
    }

  g_ptr_array_set_size (loop->graveyard, 0);
  writer_hand_over (loop);
  return G_SOURCE_CONTINUE;
}

/* Outside a dispatch: writes what was queued since (a store batch's acks
 * and deliveries) now, not after another poll of the main loop. */
void
natterd_socket_loop_flush (NatterdSocketLoop *loop)
{
  if (loop->dispatching || loop->dirty->len == 0)
    return;
  loop->dispatching = TRUE;
  loop->now = g_get_monotonic_time ();
  while (loop->dirty->len > 0)
    {
      NatterdSocket *self = g_ptr_array_steal_index_fast (loop->dirty, loop->dirty->len - 1);

      self->dirty = FALSE;
      if (!self->closed && !self->dead)
        flush (self);
    }
  loop->dispatching = FALSE;
}

static void
loop_finalize (GSource *source)
{
  NatterdSocketLoop *loop = (NatterdSocketLoop *) source;

  natterd_socket_loop_unlisten (loop);
  g_free (loop->ws_path);
  g_free (loop->ws_protocol);
  close (loop->epfd);
  close (loop->wake_fd);
  g_ptr_array_unref (loop->writer_queue);
  g_ptr_array_unref (loop->writer_done);
  g_ptr_array_foreach (loop->writer_settled, (GFunc) frame_unref, NULL);
  g_ptr_array_unref (loop->writer_settled);
  g_ptr_array_unref (loop->to_writer);
  g_mutex_clear (&loop->writer_lock);
  g_cond_clear (&loop->writer_cond);
  g_ptr_array_unref (loop->dirty);
  g_ptr_array_unref (loop->bulk);
  g_ptr_array_unref (loop->stalled);
  g_ptr_array_foreach (loop->settled, (GFunc) frame_unref, NULL);
  g_ptr_array_unref (loop->settled);
  g_ptr_array_unref (loop->fresh);
  g_ptr_array_unref (loop->finished);
  g_ptr_array_unref (loop->drained);
  g_ptr_array_unref (loop->graveyard);
  g_hash_table_unref (loop->closing);
  g_free (loop->scratch);
}

static GSourceFuncs loop_funcs = {
  .prepare = loop_prepare,
  .check = loop_check,
  .dispatch = loop_dispatch,
  .finalize = loop_finalize,
};

void
natterd_socket_loop_set_stall_timeout (NatterdSocketLoop *loop,
                                       guint              seconds)
{
  g_return_if_fail (seconds > 0);
  loop->stall_us = (gint64) seconds * G_USEC_PER_SEC;
}

NatterdSocketLoop *
natterd_socket_loop_new (gsize    max_message,
                         GError **error)
{
  int epfd = epoll_create1 (EPOLL_CLOEXEC);
  int wake_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
  struct epoll_event event = { 0 };
  NatterdSocketLoop *loop;

  if (epfd < 0 || wake_fd < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "epoll: %s", g_strerror (saved));
      if (epfd >= 0)
        close (epfd);
      if (wake_fd >= 0)
        close (wake_fd);
      return NULL;
    }

  loop = (NatterdSocketLoop *) g_source_new (&loop_funcs, sizeof (NatterdSocketLoop));
  loop->epfd = epfd;
  loop->max_message = max_message;
  loop->stall_us = STALL_US;
  loop->listen_fd = -1;
  loop->dirty = g_ptr_array_new ();
  loop->bulk = g_ptr_array_new ();
  loop->stalled = g_ptr_array_new ();
  loop->settled = g_ptr_array_new ();
  loop->fresh = g_ptr_array_new ();
  loop->finished = g_ptr_array_new ();
  loop->drained = g_ptr_array_new ();
  loop->graveyard = g_ptr_array_new_with_free_func ((GDestroyNotify) socket_free);
  loop->closing = g_hash_table_new (NULL, NULL);
  loop->scratch = g_malloc (READ_CHUNK);
  loop->wake_fd = wake_fd;
  event.events = EPOLLIN;
  event.data.ptr = loop;
  epoll_ctl (epfd, EPOLL_CTL_ADD, wake_fd, &event);
  g_mutex_init (&loop->writer_lock);
  g_cond_init (&loop->writer_cond);
  loop->writer_queue = g_ptr_array_new ();
  loop->writer_done = g_ptr_array_new ();
  loop->writer_settled = g_ptr_array_new ();
  loop->to_writer = g_ptr_array_new ();
  /* Read here, on the main thread: the environment is not the writer's to read. */
  loop->writer_nice = writer_nice ();
  loop->writer_uring = writer_uring ();
  loop->writer_sort = writer_sort ();
  loop->writer = g_thread_new ("natterd-fanout", writer_main, loop);
  loop->tag = g_source_add_unix_fd (&loop->source, epfd, G_IO_IN);
  g_source_set_static_name (&loop->source, "natterd sockets");
  /* GLib blocks a source that may not recurse while it dispatches: it
   * takes its descriptor out of the poll set and puts it back, and each
   * of those writes the context's eventfd, so the next poll returns at
   * once for nothing: two writes, a read and an empty iteration per
   * dispatch. Nothing here runs a nested main loop. */
  g_source_set_can_recurse (&loop->source, TRUE);
  g_source_attach (&loop->source, NULL);
  return loop;
}

gsize
natterd_socket_loop_get_queued (NatterdSocketLoop *loop)
{
  return __atomic_load_n (&loop->queued, __ATOMIC_RELAXED);
}

void
natterd_socket_loop_free (NatterdSocketLoop *loop)
{
  GPtrArray *lists[3];

  if (loop == NULL)
    return;

  g_mutex_lock (&loop->writer_lock);
  loop->writer_stop = TRUE;
  g_cond_signal (&loop->writer_cond);
  g_mutex_unlock (&loop->writer_lock);
  g_thread_join (g_steal_pointer (&loop->writer));
  /* Connections the writer had are the main thread's again. */
  lists[0] = loop->writer_queue;
  lists[1] = loop->writer_done;
  lists[2] = loop->to_writer;
  for (guint l = 0; l < G_N_ELEMENTS (lists); l++)
    {
      for (guint i = 0; i < lists[l]->len; i++)
        {
          NatterdSocket *self = g_ptr_array_index (lists[l], i);

          self->in_writer = FALSE;
          if (self->dead)
            socket_free (self);
        }
      g_ptr_array_set_size (lists[l], 0);
    }
  g_source_destroy (&loop->source);
  g_source_unref (&loop->source);
}
