/* natter-bench-private.h — what natter-bench.c (the four figures) and
 * natter-bench-group.c (the large-group mode) share: connections, worker
 * threads, the natterd under test, measurement helpers
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <sys/socket.h>

#include "natter-frame.h"

#define BODY_LENGTH 64
#define OPEN_LOOP_MAX_IN_FLIGHT 512

typedef enum {
  PHASE_IDLE,
  PHASE_CLOSED,       /* senders refill their window on every ack */
  PHASE_OPEN,         /* a timer sends at the offered rate */
} Phase;

typedef struct _Worker Worker;

typedef enum {
  ROLE_SENDER,
  ROLE_RECEIVER,
  ROLE_IDLE,
} Role;

typedef struct
{
  guint first_user;
  guint count;
  Role  role;
  int   target_offset;        /* senders: receiver index = own + offset */
  guint first_worker;         /* opened by workers [first_worker, +workers), */
  guint workers;              /* 0: by every worker */
} OpenSpec;

typedef struct
{
  Worker                  *worker;
  SoupWebsocketConnection *ws;
  Role                     role;
  guint                    index;           /* n of user "un" */
  char                    *user_id;
  char                    *token;
  char                    *target;
  gboolean                 connected;
  gboolean                 failed;
  guint                    in_flight;
  guint64                  next_message;
  guint64                  last_seq;
  guint64                  acked_seq;
  GSource                  *ack_source;

  /* natter-bench-ws.c's connections (the group mode's) */
  gboolean                 raw;
  int                      fd;
  GByteArray              *in;
  GByteArray              *out;
  gboolean                 ack_pending;
  gboolean                 want_write;
  guint                    ping_interval;   /* s, from ConnectAck */
  guint8                   raw_state;       /* RAW_CONNECTING, RAW_UPGRADING, RAW_OPEN */
  gint64                   last_ping;

  /* Group mode, as a member: which of the run's messages arrived (a bit
   * per message number), and the order they came in. */
  guint8                  *seen;
  gsize                    seen_size;
  guint64                  last_timeline_seq;
  gint64                   last_sent_time;
  guint                    duplicated;
  guint                    reordered;
} Conn;

struct _Worker
{
  GThread      *thread;
  GMainContext *context;
  GMainLoop    *loop;
  SoupSession  *session;
  GPtrArray    *conns;
  GPtrArray    *senders;
  guint         next_sender;
  double        rate;             /* open loop: this worker's messages/s */
  gint64        open_start;
  guint64       open_sent;
  GSource      *tick_source;
  GArray       *latencies;        /* guint32 µs, while recording */
  gint          delivered;        /* atomic */
  gint          connected;        /* atomic */
  gint          failed;           /* atomic */
  int           epoll_fd;         /* natter-bench-ws.c's connections */
  GSource      *epoll_source;
  GPtrArray    *acks_pending;     /* raw connections with a DeliverAck to send */
  /* Raw connections still to open, RAW_WINDOW at a time (natter-bench-ws.c) */
  GPtrArray    *raw_to_open;
  guint         raw_next;
  guint         raw_opening;
  struct sockaddr_storage raw_address;
  guint         raw_address_length;
  char         *raw_host;

  /* Group mode */
  GArray       *group_latencies;  /* guint32 µs publish → delivery, measured messages */
  GArray       *group_last;       /* gint64 per message: its last delivery here */
  GArray       *group_first;      /* gint64 per message: its first delivery here */
  gint          group_unique;     /* atomic: first deliveries of this run */
  GArray       *private_sent;     /* gint64 send time per private message number */
  GArray       *private_acks;     /* guint32 µs Publish → PublishAck, while recording */
  guint         private_refused;
  guint         group_by_timeline;
  guint         group_in_inbox;
};

typedef struct
{
  char        *url;
  char        *ws_url;
  char        *receiver_ws_url;  /* --receiver-url: receivers on another node; NULL = ws_url */
  char        *app_key;
  char        *app_secret;
  GPid         pid;
  GSubprocess *natterd;
  char        *data_dir;
  gboolean     own_data_dir;
  char        *config;            /* natterd config file contents, or NULL */
  const char  *protocol;          /* WebSocket subprotocol */
  gboolean     group_mode;
  char       **tokens;
  Worker      *workers;
  guint        n_workers;
  gint         phase;             /* atomic Phase */
  gint         recording;         /* atomic */
  gint         counting;          /* atomic */
} Bench;

typedef struct
{
  gint64 wall;
  gint64 bench_cpu;           /* µs */
  gint64 server_cpu;          /* µs */
  gint64 server_wait;         /* µs runnable, waiting for a CPU */
  guint64 server_faults, bench_faults; /* minor page faults */
  guint64 server_voluntary, server_preempted; /* context switches */
} Sample;

/* Per thread name (natter-bench.c's thread_sched()): ns on a CPU, ns
 * runnable waiting for one, times switched in. */
typedef struct
{
  char    name[20];
  guint64 run_ns;
  guint64 wait_ns;
  guint64 runs;
  guint   threads;
} ThreadSched;

#define MAX_THREAD_NAMES 12

typedef struct
{
  ThreadSched server[MAX_THREAD_NAMES];
  guint       n_server;
  ThreadSched self[MAX_THREAD_NAMES];
  guint       n_self;
  gint64      wall;
} SchedSample;

/* natterd's own histograms: cumulative counts per bucket bound (seconds),
 * as /metrics reports them. */
typedef struct
{
  double  bounds[48];
  guint64 counts[48];
  guint   n;
} Histogram;

extern Bench bench;
extern int   opt_pairs;
extern int   opt_duration;
extern int   opt_threads;

gint64      server_cpu_us           (void);
gboolean    server_stat             (gint64      *cpu_us,
                                     guint64     *minor_faults);
void        server_switches         (guint64     *voluntary,
                                     guint64     *preempted);
gint64      server_rss_kib          (void);
gint64      server_wait_us          (void);
Sample      sample                  (void);
void        sched_sample            (SchedSample  *s);
void        print_sched             (const SchedSample *a,
                                     const SchedSample *b);
void        cpu_between             (const Sample *a,
                                     const Sample *b,
                                     double       *server,
                                     double       *bench_cpu);
void        sleep_main              (guint         seconds);
void        send_frame              (Conn              *conn,
                                     const NatterFrame *frame);
/* One natter frame from natterd, whichever WebSocket client read it. */
void        conn_on_data            (Conn         *conn,
                                     const guint8 *data,
                                     gsize         size);
void        conn_send_connect       (Conn         *conn);
/* A connection for user u@i, in @worker, as @spec says; not opened. */
Conn       *conn_new                (Worker         *worker,
                                     const OpenSpec *spec,
                                     guint           i);
/* Acks inbox entries up to @seq once this burst of frames is read. */
void        ack_later               (Conn         *conn,
                                     guint64       seq);
void        send_ack_now            (Conn         *conn);
void        on_workers              (void        (*func) (Worker *worker, gpointer data),
                                     gpointer      data);
void        open_conns              (Worker       *worker,
                                     gpointer      data);
void        close_conns             (Worker       *worker,
                                     gpointer      data);
int         connected_total         (void);
/* Does @worker open a share of @spec's connections? Its index among
 * those that do in @index, their number in @stride. */
gboolean    spec_share              (const OpenSpec *spec,
                                     Worker         *worker,
                                     guint          *index,
                                     guint          *stride);
gboolean    wait_connected          (int           expected,
                                     guint         timeout_s);
void        reset_latencies         (Worker       *worker,
                                     gpointer      data);
gboolean    start_natterd           (GError      **error);
/* A signed server API call; the reply's object when its code is 200. */
JsonObject *api_post                (SoupSession  *session,
                                     const char   *path,
                                     const char   *body,
                                     GError      **error);
char       *get_token               (SoupSession  *session,
                                     guint         user,
                                     GError      **error);
/* natterd's /metrics text, NULL if it did not answer; one value of it
 * (NAN if absent). */
char       *fetch_metrics           (SoupSession  *session);
double      metric_value            (const char   *text,
                                     const char   *name);
/* @name's buckets from a /metrics @text: "natterd_x_seconds{stage=\"sync\"}". */
gboolean    parse_histogram         (const char   *text,
                                     const char   *name,
                                     Histogram    *out);
/* One line "PREFIX0.003\",stage=\"sync\"} VALUE" of /metrics (a tail's
 * row): its bucket bound, its stage (@stage_len bytes) and value. */
gboolean    parse_tail_line         (const char   *line,
                                     const char   *prefix,
                                     double       *bound,
                                     const char  **stage,
                                     gsize        *stage_len,
                                     double       *value);
/* Bucket bounds as parsed from the same text: equal, not near. */
gboolean    same_bound              (double        x,
                                     double        y);
gboolean    fetch_histogram         (SoupSession  *session,
                                     const char   *name,
                                     Histogram    *out);
/* natterd's natterd_publish_stage_seconds (#17): parse, wait, sql, sync,
 * sync-checkpoint, wakeup, deliver, total. */
#define N_STAGES 8
void        fetch_stages            (SoupSession  *session,
                                     Histogram     out[N_STAGES]);
void        print_stages            (const Histogram before[N_STAGES],
                                     const Histogram after[N_STAGES]);
double      histogram_percentile    (const Histogram *before,
                                     const Histogram *after,
                                     double           p);
int         compare_u32             (gconstpointer a,
                                     gconstpointer b);
double      percentile              (GArray       *sorted,
                                     double        p);
double      load_average            (void);

/* natter-bench-ws.c: an epoll set per worker, one fd in its GMainContext */
void        raw_worker_init         (Worker       *worker);
/* Like open_conns(), blocking until each is upgraded, then Connect. */
void        raw_open_conns          (Worker       *worker,
                                     gpointer      data);
void        raw_send                (Conn         *conn,
                                     const guint8 *data,
                                     gsize         size);
void        raw_conn_free           (Conn         *conn);

/* natter-bench-group.c */
extern GOptionEntry group_entries[];
/* Whether a group-mode option was given. */
gboolean    group_mode_wanted       (void);
gboolean    group_mode_check        (GError      **error);
/* Users u0… the group mode needs tokens for. */
guint       group_mode_users        (void);
/* Client threads of their own for the private pairs, beyond --threads. */
guint       group_mode_private_threads (void);
/* natterd's config for the group mode: member and connection limits. */
char       *group_mode_config       (void);
void        group_on_frame          (Conn              *conn,
                                     const NatterFrame *frame);
/* Runs the group mode on the started natterd; the process's exit status. */
int         group_mode_run          (SoupSession  *session);
