/* natter-bench.c — load generator for natterd, printing four figures
 *
 * The workload of our measurements of other servers on this machine, so the
 * figures compare:
 *  - users u0…u1999 with tokens;
 *  - closed loop: 100 sender→receiver pairs, each sender keeping at most 16
 *    messages in flight, a 64-byte text body carrying a monotonic send
 *    timestamp; 5 s warm-up, then delivered messages/s over 20 s;
 *  - open loop: 2,000 and 5,000 messages/s offered (all senders together),
 *    send→receive latency p50/p99/p99.9;
 *  - 2,000 authenticated idle connections held 15 s: natterd RSS before and
 *    with them, per connection.
 * natterd and the bench share the machine; both CPU figures are printed.
 * With a --group… or --private-rate option it measures large groups
 * instead (natter-bench-group.c).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "natter-bench-private.h"
#include "natterd-sched.h"

Bench bench;

/* Options */
static char *opt_natterd;
static char *opt_url;
static char *opt_receiver_url;
static char *opt_app_key;
static char *opt_app_secret;
static int opt_pid;
static int opt_users = 2000;
int opt_pairs = 100;
static int opt_window = 16;
static int opt_warmup = 5;
int opt_duration = 20;
static char *opt_rates;
static int opt_open_duration = 10;
static int opt_idle = 2000;
static int opt_idle_hold = 15;
int opt_threads = 2;
static char *opt_protocol;
static int opt_client_slice_us;

/* ------------------------------------------------------------- measurement */

gint64
server_cpu_us (void)
{
  gint64 cpu = 0;

  server_stat (&cpu, NULL);
  return cpu;
}

/* natterd's CPU (µs) and minor page faults, from /proc/<pid>/stat; FALSE
 * when it cannot be read. */
gboolean
server_stat (gint64  *cpu_us,
             guint64 *minor_faults)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) bench.pid);
  g_autofree char *stat = NULL;
  unsigned long utime = 0, stime = 0, minflt = 0;
  const char *p;

  if (bench.pid <= 0 || !g_file_get_contents (path, &stat, NULL, NULL))
    return FALSE;
  /* Fields after the command name in parentheses, which may hold spaces. */
  p = strrchr (stat, ')');
  if (p == NULL ||
      sscanf (p + 2, "%*c %*d %*d %*d %*d %*d %*u %lu %*u %*u %*u %lu %lu", &minflt, &utime, &stime) != 3)
    return FALSE;
  *cpu_us = (gint64) (utime + stime) * G_USEC_PER_SEC / sysconf (_SC_CLK_TCK);
  if (minor_faults != NULL)
    *minor_faults = minflt;
  return TRUE;
}

/* Context switches of all natterd's threads, voluntary (it waited) and
 * not (preempted), from /proc/<pid>/task/<tid>/status. */
void
server_switches (guint64 *voluntary,
                 guint64 *preempted)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/task", (int) bench.pid);
  g_autoptr(GDir) tasks = bench.pid > 0 ? g_dir_open (path, 0, NULL) : NULL;
  const char *tid;

  *voluntary = *preempted = 0;
  while (tasks != NULL && (tid = g_dir_read_name (tasks)) != NULL)
    {
      g_autofree char *file = g_build_filename (path, tid, "status", NULL);
      g_autofree char *text = NULL;
      const char *line;

      if (!g_file_get_contents (file, &text, NULL, NULL))
        continue;
      if ((line = strstr (text, "\nvoluntary_ctxt_switches:")) != NULL)
        *voluntary += g_ascii_strtoull (line + strlen ("\nvoluntary_ctxt_switches:"), NULL, 10);
      if ((line = strstr (text, "\nnonvoluntary_ctxt_switches:")) != NULL)
        *preempted += g_ascii_strtoull (line + strlen ("\nnonvoluntary_ctxt_switches:"), NULL, 10);
    }
}

/* Time natterd's threads were runnable but waiting for a CPU, from
 * /proc/<pid>/task/<tid>/schedstat: on a shared machine, what the other
 * work took from natterd. */
gint64
server_wait_us (void)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/task", (int) bench.pid);
  g_autoptr(GDir) tasks = bench.pid > 0 ? g_dir_open (path, 0, NULL) : NULL;
  const char *tid;
  gint64 total = 0;

  while (tasks != NULL && (tid = g_dir_read_name (tasks)) != NULL)
    {
      g_autofree char *file = g_build_filename (path, tid, "schedstat", NULL);
      g_autofree char *text = NULL;
      char *next = NULL;

      if (!g_file_get_contents (file, &text, NULL, NULL))
        continue;
      g_ascii_strtoull (text, &next, 10);
      total += (gint64) g_ascii_strtoull (next, NULL, 10) / 1000;
    }
  return total;
}

/* Per thread name, from /proc/<pid>/task/<tid>/{comm,schedstat}: ns on a
 * CPU, ns runnable waiting for one, and times switched in (#17: where the
 * time between a frame's arrival and its handling goes). */

static guint
thread_sched (int          pid,
              ThreadSched *out)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/task", pid);
  g_autoptr(GDir) tasks = pid > 0 ? g_dir_open (path, 0, NULL) : NULL;
  const char *tid;
  guint n = 0;

  while (tasks != NULL && (tid = g_dir_read_name (tasks)) != NULL)
    {
      g_autofree char *comm_file = g_build_filename (path, tid, "comm", NULL);
      g_autofree char *stat_file = g_build_filename (path, tid, "schedstat", NULL);
      g_autofree char *comm = NULL, *stat = NULL;
      guint64 run, wait, runs;
      guint i;

      if (!g_file_get_contents (comm_file, &comm, NULL, NULL) ||
          !g_file_get_contents (stat_file, &stat, NULL, NULL) ||
          sscanf (stat, "%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT, &run, &wait, &runs) != 3)
        continue;
      g_strstrip (comm);
      /* The main thread is named after the executable, which a copied
       * binary renames: "main", whatever the file (#18's A/B runs). */
      if (g_ascii_strtoll (tid, NULL, 10) == pid)
        {
          g_free (comm);
          comm = g_strdup ("main");
        }
      for (i = 0; i < n && strcmp (out[i].name, comm) != 0; i++)
        ;
      if (i == n)
        {
          if (n == MAX_THREAD_NAMES)
            continue;
          memset (&out[n], 0, sizeof out[n]);
          g_strlcpy (out[n].name, comm, sizeof out[n].name);
          n++;
        }
      out[i].run_ns += run;
      out[i].wait_ns += wait;
      out[i].runs += runs;
      out[i].threads++;
    }
  return n;
}


void
sched_sample (SchedSample *s)
{
  s->n_server = thread_sched ((int) bench.pid, s->server);
  s->n_self = thread_sched (getpid (), s->self);
  s->wall = g_get_monotonic_time ();
}

static void
print_thread_sched (const char        *who,
                    const ThreadSched *a,
                    guint              n_a,
                    const ThreadSched *b,
                    guint              n_b,
                    double             wall_s)
{
  g_print ("    %s:", who);
  for (guint i = 0; i < n_b; i++)
    {
      const ThreadSched *before = NULL;
      guint64 runs;

      for (guint j = 0; j < n_a && before == NULL; j++)
        if (strcmp (a[j].name, b[i].name) == 0)
          before = &a[j];
      runs = b[i].runs - (before != NULL ? before->runs : 0);
      if (runs == 0)
        continue;
      g_print (" %s%s CPU %.0f%% waited %.1f ms/s, %.0f us a wake-up (%.0f/s);", b[i].name,
               b[i].threads > 1 ? "*" : "",
               (double) (b[i].run_ns - (before != NULL ? before->run_ns : 0)) / 1e7 / wall_s,
               (double) (b[i].wait_ns - (before != NULL ? before->wait_ns : 0)) / 1e6 / wall_s,
               (double) (b[i].wait_ns - (before != NULL ? before->wait_ns : 0)) / 1e3 / (double) runs,
               (double) runs / wall_s);
    }
  g_print ("\n");
}

/* Each thread's waits for a CPU between @a and @b: a message is handed
 * over four times in natterd (main → writer → sync → main) and twice in
 * the bench (its send and its read), and each hand-over may wait. */
void
print_sched (const SchedSample *a,
             const SchedSample *b)
{
  double wall_s = (double) (b->wall - a->wall) / G_USEC_PER_SEC;

  g_print ("  threads runnable waiting for a CPU (name* = several; mean wait a wake-up; load average %.2f):\n",
           load_average ());
  print_thread_sched ("natterd", a->server, a->n_server, b->server, b->n_server, wall_s);
  print_thread_sched ("natter-bench", a->self, a->n_self, b->self, b->n_self, wall_s);
}

/* A gauge of natterd's /metrics, -1 if it has none. */
static double
fetch_gauge (SoupSession *session,
             const char  *name)
{
  g_autofree char *url = g_strdup_printf ("%s/metrics", bench.url);
  g_autoptr(SoupMessage) message = soup_message_new (SOUP_METHOD_GET, url);
  g_autoptr(GBytes) body = soup_session_send_and_read (session, message, NULL, NULL);
  g_autofree char *text = NULL;
  g_autofree char *prefix = g_strdup_printf ("\n%s ", name);
  const char *line;

  if (body == NULL || soup_message_get_status (message) != 200)
    return -1;
  text = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  line = strstr (text, prefix);
  return line != NULL ? g_ascii_strtod (line + strlen (prefix), NULL) : -1;
}

gint64
server_rss_kib (void)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", (int) bench.pid);
  g_autofree char *status = NULL;
  const char *line;

  if (bench.pid <= 0 || !g_file_get_contents (path, &status, NULL, NULL))
    return 0;
  line = strstr (status, "VmRSS:");
  return line != NULL ? g_ascii_strtoll (line + 6, NULL, 10) : 0;
}

Sample
sample (void)
{
  struct rusage usage;
  Sample s;

  getrusage (RUSAGE_SELF, &usage);
  s.wall = g_get_monotonic_time ();
  s.bench_cpu = (gint64) usage.ru_utime.tv_sec * G_USEC_PER_SEC + usage.ru_utime.tv_usec +
                (gint64) usage.ru_stime.tv_sec * G_USEC_PER_SEC + usage.ru_stime.tv_usec;
  s.bench_faults = (guint64) usage.ru_minflt;
  s.server_cpu = 0;
  s.server_faults = 0;
  server_stat (&s.server_cpu, &s.server_faults);
  s.server_wait = server_wait_us ();
  server_switches (&s.server_voluntary, &s.server_preempted);
  return s;
}

void
cpu_between (const Sample *a,
             const Sample *b,
             double       *server,
             double       *bench_cpu)
{
  double wall = (double) (b->wall - a->wall);

  *server = 100.0 * (double) (b->server_cpu - a->server_cpu) / wall;
  *bench_cpu = 100.0 * (double) (b->bench_cpu - a->bench_cpu) / wall;
}

void
sleep_main (guint seconds)
{
  g_usleep ((gulong) seconds * G_USEC_PER_SEC);
}

/* ------------------------------------------------------------------ frames */

void
send_frame (Conn              *conn,
            const NatterFrame *frame)
{
  g_autoptr(GBytes) bytes = natter_frame_encode (frame, NULL);

  if (bytes != NULL && conn->raw)
    raw_send (conn, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  else if (bytes != NULL && conn->ws != NULL &&
      soup_websocket_connection_get_state (conn->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_send_message (conn->ws, SOUP_WEBSOCKET_DATA_BINARY, bytes);
}

static void
send_one (Conn *conn)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__Publish publish = NATTER__PUBLISH__INIT;
  char id[32];
  char text[BODY_LENGTH + 1];
  char content[BODY_LENGTH + 32];

  /* A 64-byte body that starts with the send time. */
  g_snprintf (text, sizeof text, "t=%020" G_GINT64_FORMAT " %s", g_get_monotonic_time (),
              "natter-bench payload padding padding padding padding");
  g_snprintf (content, sizeof content, "{\"content\":\"%s\"}", text);
  g_snprintf (id, sizeof id, "b%" G_GUINT64_FORMAT, ++conn->next_message);

  publish.client_msg_id = id;
  publish.conversation_type = NATTER_CONVERSATION_PRIVATE;
  publish.target_id = conn->target;
  publish.object_name = (char *) NATTER_OBJECT_TEXT;
  publish.content = content;
  frame.body_case = NATTER__FRAME__BODY_PUBLISH;
  frame.publish = &publish;
  send_frame (conn, &frame);
  conn->in_flight++;
}

void
send_ack_now (Conn *conn)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__DeliverAck ack = NATTER__DELIVER_ACK__INIT;

  if (conn->last_seq > conn->acked_seq)
    {
      ack.seq = conn->acked_seq = conn->last_seq;
      frame.body_case = NATTER__FRAME__BODY_DELIVER_ACK;
      frame.deliver_ack = &ack;
      send_frame (conn, &frame);
    }
}

static gboolean
send_ack (gpointer user_data)
{
  Conn *conn = user_data;

  g_clear_pointer (&conn->ack_source, g_source_unref);
  send_ack_now (conn);
  return G_SOURCE_REMOVE;
}

void
ack_later (Conn    *conn,
           guint64  seq)
{
  if (seq > conn->last_seq)
    conn->last_seq = seq;
  /* Acks are cumulative: one per burst read, as a client storing in
   * batches would send. natter-bench-ws.c sends them after each epoll
   * round instead, without a source per connection. */
  if (conn->raw)
    {
      if (!conn->ack_pending && conn->last_seq > conn->acked_seq)
        {
          conn->ack_pending = TRUE;
          g_ptr_array_add (conn->worker->acks_pending, conn);
        }
    }
  else if (conn->ack_source == NULL && conn->last_seq > conn->acked_seq)
    {
      conn->ack_source = g_idle_source_new ();
      g_source_set_callback (conn->ack_source, send_ack, conn, NULL);
      g_source_attach (conn->ack_source, conn->worker->context);
    }
}

static void
on_deliver (Conn                  *conn,
            const Natter__Deliver *deliver)
{
  const char *stamp = deliver->message != NULL ? strstr (deliver->message->content, "t=") : NULL;
  Worker *worker = conn->worker;

  ack_later (conn, deliver->seq);

  if (stamp == NULL)
    return;

  if (g_atomic_int_get (&bench.counting))
    g_atomic_int_inc (&worker->delivered);
  if (g_atomic_int_get (&bench.recording))
    {
      gint64 latency = g_get_monotonic_time () - g_ascii_strtoll (stamp + 2, NULL, 10);
      guint32 value = (guint32) CLAMP (latency, 0, G_MAXUINT32);

      g_array_append_val (worker->latencies, value);
    }
}

static void on_frame (Conn *conn, const NatterFrame *frame);

static void
on_message (SoupWebsocketConnection *ws,
            SoupWebsocketDataType    type,
            GBytes                  *message,
            gpointer                 user_data)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (message, &size);

  conn_on_data (user_data, data, size);
}

void
conn_on_data (Conn         *conn,
              const guint8 *data,
              gsize         size)
{
  g_autoptr(NatterFrame) frame = natter_frame_unpack (data, size, NULL);

  if (frame == NULL)
    return;

  switch (frame->body_case)
    {
    case NATTER__FRAME__BODY_CONNECT_ACK:
      if (frame->connect_ack->code == 0)
        {
          conn->connected = TRUE;
          conn->ping_interval = frame->connect_ack->ping_interval;
          g_atomic_int_inc (&conn->worker->connected);
          if (conn->role == ROLE_SENDER && g_atomic_int_get (&bench.phase) == PHASE_CLOSED)
            for (int i = 0; i < opt_window; i++)
              send_one (conn);
        }
      else
        {
          conn->failed = TRUE;
          g_atomic_int_inc (&conn->worker->failed);
          g_printerr ("natter-bench: %s refused: %d\n", conn->user_id, frame->connect_ack->code);
        }
      break;

    default:
      if (bench.group_mode)
        group_on_frame (conn, frame);
      else
        on_frame (conn, frame);
      break;
    }
}

static void
on_frame (Conn              *conn,
          const NatterFrame *frame)
{
  switch (frame->body_case)
    {
    case NATTER__FRAME__BODY_PUBLISH_ACK:
      if (conn->in_flight > 0)
        conn->in_flight--;
      if (frame->publish_ack->code != 0)
        g_printerr ("natter-bench: publish refused: %d\n", frame->publish_ack->code);
      if (g_atomic_int_get (&bench.phase) == PHASE_CLOSED)
        while (conn->in_flight < (guint) opt_window)
          send_one (conn);
      break;

    case NATTER__FRAME__BODY_DELIVER:
      on_deliver (conn, frame->deliver);
      break;

    default:
      break;
    }
}

static void
on_closed (SoupWebsocketConnection *ws,
           gpointer                 user_data)
{
  Conn *conn = user_data;

  if (conn->connected)
    g_atomic_int_add (&conn->worker->connected, -1);
  conn->connected = FALSE;
}

static void
on_network_event (SoupMessage        *message,
                  GSocketClientEvent  event,
                  GIOStream          *connection,
                  gpointer            user_data)
{
  /* Small frames, latency measured: no Nagle. */
  if (event == G_SOCKET_CLIENT_CONNECTED && G_IS_SOCKET_CONNECTION (connection))
    g_socket_set_option (g_socket_connection_get_socket (G_SOCKET_CONNECTION (connection)),
                         IPPROTO_TCP, TCP_NODELAY, 1, NULL);
}

static void
opened (GObject      *source,
        GAsyncResult *result,
        gpointer      user_data)
{
  Conn *conn = user_data;
  g_autoptr(GError) error = NULL;

  conn->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  if (conn->ws == NULL)
    {
      g_printerr ("natter-bench: %s: %s\n", conn->user_id, error->message);
      conn->failed = TRUE;
      g_atomic_int_inc (&conn->worker->failed);
      return;
    }

  g_signal_connect (conn->ws, "message", G_CALLBACK (on_message), conn);
  g_signal_connect (conn->ws, "closed", G_CALLBACK (on_closed), conn);
  conn_send_connect (conn);
}

void
conn_send_connect (Conn *conn)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__Connect connect = NATTER__CONNECT__INIT;
  char device[32];

  g_snprintf (device, sizeof device, "bench-%s", conn->user_id);
  connect.app_key = bench.app_key;
  connect.token = conn->token;
  connect.device_id = device;
  connect.platform = (char *) "bench";
  frame.body_case = NATTER__FRAME__BODY_CONNECT;
  frame.connect = &connect;
  send_frame (conn, &frame);
}

/* ----------------------------------------------------------------- workers */

static gpointer
worker_main (gpointer data)
{
  Worker *worker = data;

  /* The threads that send and receive the timed messages (in the group
   * modes, the private pairs' own): --client-slice-us. */
  if (!bench.group_mode || worker - bench.workers >= opt_threads)
    natterd_sched_set_slice ((guint) opt_client_slice_us);
  g_main_context_push_thread_default (worker->context);
  worker->session = soup_session_new_with_options ("max-conns", 8192, "max-conns-per-host", 8192,
                                                   "timeout", 60, NULL);
  g_main_loop_run (worker->loop);
  g_main_context_pop_thread_default (worker->context);
  return NULL;
}

typedef struct
{
  GMutex   lock;
  GCond    cond;
  gboolean done;
} Waiter;

typedef struct
{
  Worker       *worker;
  void        (*func) (Worker *worker, gpointer data);
  gpointer      data;
  Waiter       *waiter;
} Call;

static gboolean
run_call (gpointer user_data)
{
  Call *call = user_data;

  call->func (call->worker, call->data);
  g_mutex_lock (&call->waiter->lock);
  call->waiter->done = TRUE;
  g_cond_signal (&call->waiter->cond);
  g_mutex_unlock (&call->waiter->lock);
  return G_SOURCE_REMOVE;
}

/* Runs @func in every worker's thread and waits for all. */
void
on_workers (void   (*func) (Worker *worker, gpointer data),
            gpointer data)
{
  for (guint i = 0; i < bench.n_workers; i++)
    {
      Waiter waiter = { 0 };
      Call call = { &bench.workers[i], func, data, &waiter };

      g_mutex_init (&waiter.lock);
      g_cond_init (&waiter.cond);
      g_main_context_invoke (bench.workers[i].context, run_call, &call);
      g_mutex_lock (&waiter.lock);
      while (!waiter.done)
        g_cond_wait (&waiter.cond, &waiter.lock);
      g_mutex_unlock (&waiter.lock);
      g_mutex_clear (&waiter.lock);
      g_cond_clear (&waiter.cond);
    }
}

static void
conn_free (gpointer data)
{
  Conn *conn = data;

  if (conn->ack_source != NULL)
    {
      g_source_destroy (conn->ack_source);
      g_clear_pointer (&conn->ack_source, g_source_unref);
    }
  if (conn->ws != NULL)
    {
      g_signal_handlers_disconnect_by_data (conn->ws, conn);
      if (soup_websocket_connection_get_state (conn->ws) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (conn->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      g_object_unref (conn->ws);
    }
  g_free (conn->user_id);
  g_free (conn->token);
  g_free (conn->target);
  if (conn->raw)
    raw_conn_free (conn);
  g_free (conn->seen);
  g_free (conn);
}

Conn *
conn_new (Worker         *worker,
          const OpenSpec *spec,
          guint           i)
{
  Conn *conn = g_new0 (Conn, 1);

  conn->worker = worker;
  conn->role = spec->role;
  conn->index = i;
  conn->user_id = g_strdup_printf ("u%u", i);
  conn->token = g_strdup (bench.tokens[i]);
  if (spec->role == ROLE_SENDER)
    conn->target = g_strdup_printf ("u%d", (int) i + spec->target_offset);
  g_ptr_array_add (worker->conns, conn);
  if (spec->role == ROLE_SENDER)
    g_ptr_array_add (worker->senders, conn);
  return conn;
}

gboolean
spec_share (const OpenSpec *spec,
            Worker         *worker,
            guint          *index,
            guint          *stride)
{
  guint n = (guint) (worker - bench.workers);

  if (spec->workers == 0)
    {
      *index = n;
      *stride = bench.n_workers;
      return TRUE;
    }
  if (n < spec->first_worker || n >= spec->first_worker + spec->workers)
    return FALSE;
  *index = n - spec->first_worker;
  *stride = spec->workers;
  return TRUE;
}

void
open_conns (Worker  *worker,
            gpointer data)
{
  const OpenSpec *spec = data;
  guint index, stride;

  if (!spec_share (spec, worker, &index, &stride))
    return;
  for (guint i = spec->first_user + index; i < spec->first_user + spec->count; i += stride)
    {
      Conn *conn = conn_new (worker, spec, i);
      const char *url = spec->role == ROLE_RECEIVER && bench.receiver_ws_url != NULL ?
                        bench.receiver_ws_url : bench.ws_url;
      g_autoptr(SoupMessage) message = soup_message_new (SOUP_METHOD_GET, url);
      const char *protocols[] = { bench.protocol, NULL };

      g_signal_connect (message, "network-event", G_CALLBACK (on_network_event), NULL);
      soup_session_websocket_connect_async (worker->session, message, NULL, (char **) protocols,
                                            G_PRIORITY_DEFAULT, NULL, opened, conn);
    }
}

static void stop_open (Worker *worker, gpointer data);

void
close_conns (Worker  *worker,
             gpointer data)
{
  stop_open (worker, NULL);
  g_ptr_array_set_size (worker->senders, 0);
  g_ptr_array_set_size (worker->conns, 0);
}

int
connected_total (void)
{
  int total = 0;

  for (guint i = 0; i < bench.n_workers; i++)
    total += g_atomic_int_get (&bench.workers[i].connected) + g_atomic_int_get (&bench.workers[i].failed);
  return total;
}

gboolean
wait_connected (int    expected,
                guint  timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;

  while (connected_total () < expected && g_get_monotonic_time () < deadline)
    g_usleep (10000);
  return connected_total () >= expected;
}

static void
start_closed (Worker  *worker,
              gpointer data)
{
  for (guint i = 0; i < worker->senders->len; i++)
    {
      Conn *conn = g_ptr_array_index (worker->senders, i);

      if (conn->connected)
        while (conn->in_flight < (guint) opt_window)
          send_one (conn);
    }
}

static gboolean
tick (gpointer user_data)
{
  Worker *worker = user_data;

  /* Whatever the timer's jitter, the offered rate holds on average. */
  double due = worker->rate * (double) (g_get_monotonic_time () - worker->open_start) / G_USEC_PER_SEC;

  while ((double) worker->open_sent < due && worker->senders->len > 0)
    {
      Conn *conn = g_ptr_array_index (worker->senders, worker->next_sender++ % worker->senders->len);

      worker->open_sent++;
      if (conn->connected && conn->in_flight < OPEN_LOOP_MAX_IN_FLIGHT)
        send_one (conn);
    }
  return G_SOURCE_CONTINUE;
}

static void
start_open (Worker  *worker,
            gpointer data)
{
  double rate = *(double *) data;

  worker->rate = rate / bench.n_workers;
  worker->open_start = g_get_monotonic_time ();
  worker->open_sent = 0;
  worker->tick_source = g_timeout_source_new (1);
  g_source_set_callback (worker->tick_source, tick, worker, NULL);
  g_source_attach (worker->tick_source, worker->context);
}

static void
stop_open (Worker  *worker,
           gpointer data)
{
  if (worker->tick_source != NULL)
    {
      g_source_destroy (worker->tick_source);
      g_clear_pointer (&worker->tick_source, g_source_unref);
    }
}

void
reset_latencies (Worker  *worker,
                 gpointer data)
{
  g_array_set_size (worker->latencies, 0);
}

/* ------------------------------------------------------------------- setup */

gboolean
start_natterd (GError **error)
{
  g_autoptr(GSubprocess) create = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GDataInputStream) lines = NULL;
  g_autofree char *out = NULL;
  g_autofree char *line = NULL;
  JsonObject *app;

  if (bench.data_dir == NULL)
    {
      bench.data_dir = g_dir_make_tmp ("natter-bench-XXXXXX", error);
      if (bench.data_dir == NULL)
        return FALSE;
      bench.own_data_dir = TRUE;
    }

  /* No per-user send limit: the bench is the only client. */
  create = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, error, opt_natterd, "--data-dir",
                             bench.data_dir, "--create-app", "bench", "--app-setting", "send-rate=0",
                             "--app-setting", "api-rate=0", NULL);
  if (create == NULL || !g_subprocess_communicate_utf8 (create, NULL, NULL, &out, NULL, error))
    return FALSE;
  if (!json_parser_load_from_data (parser, out, -1, error))
    return FALSE;
  app = json_node_get_object (json_parser_get_root (parser));
  bench.app_key = g_strdup (json_object_get_string_member (app, "appKey"));
  bench.app_secret = g_strdup (json_object_get_string_member (app, "appSecret"));

  if (bench.config != NULL)
    {
      g_autofree char *path = g_build_filename (bench.data_dir, "bench.conf", NULL);

      if (!g_file_set_contents (path, bench.config, -1, error))
        return FALSE;
      bench.natterd = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                                        error, opt_natterd, "--data-dir", bench.data_dir,
                                        "--listen", "127.0.0.1:0", "--config", path, NULL);
    }
  else
    bench.natterd = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                                      error, opt_natterd, "--data-dir", bench.data_dir,
                                      "--listen", "127.0.0.1:0", NULL);
  if (bench.natterd == NULL)
    return FALSE;
  lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (bench.natterd));
  line = g_data_input_stream_read_line_utf8 (lines, NULL, NULL, error);
  if (line == NULL || !g_str_has_prefix (line, "listening on "))
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "natterd did not start");
      return FALSE;
    }
  bench.url = g_strdup (line + strlen ("listening on "));
  bench.pid = (GPid) g_ascii_strtoll (g_subprocess_get_identifier (bench.natterd), NULL, 10);
  return TRUE;
}

JsonObject *
api_post (SoupSession *session,
          const char  *path,
          const char  *body,
          GError     **error)
{
  g_autofree char *url = g_strdup_printf ("%s/%s", bench.url, path);
  g_autoptr(SoupMessage) message = soup_message_new (SOUP_METHOD_POST, url);
  g_autofree char *nonce = g_strdup_printf ("bench-%d-%u-%u", getpid (), g_random_int (), g_random_int ());
  g_autofree char *stamp = g_strdup_printf ("%" G_GINT64_FORMAT, g_get_real_time () / G_USEC_PER_SEC);
  g_autofree char *input = g_strconcat (bench.app_secret, nonce, stamp, NULL);
  g_autofree char *signature = g_compute_checksum_for_string (G_CHECKSUM_SHA1, input, -1);
  g_autoptr(GBytes) request = g_bytes_new (body, strlen (body));
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  SoupMessageHeaders *headers = soup_message_get_request_headers (message);
  JsonNode *root;
  JsonObject *object;

  soup_message_headers_append (headers, "App-Key", bench.app_key);
  soup_message_headers_append (headers, "Nonce", nonce);
  soup_message_headers_append (headers, "Timestamp", stamp);
  soup_message_headers_append (headers, "Signature", signature);
  soup_message_set_request_body_from_bytes (message, "application/x-www-form-urlencoded", request);

  reply = soup_session_send_and_read (session, message, NULL, error);
  if (reply == NULL ||
      !json_parser_load_from_data (parser, g_bytes_get_data (reply, NULL), (gssize) g_bytes_get_size (reply), error))
    return NULL;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: not a JSON object", path);
      return NULL;
    }
  object = json_node_get_object (root);
  if (json_object_get_int_member_with_default (object, "code", 0) != 200)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", path,
                   json_object_get_string_member_with_default (object, "errorMessage", "?"));
      return NULL;
    }
  return json_object_ref (object);
}

char *
get_token (SoupSession *session,
           guint        user,
           GError     **error)
{
  g_autofree char *body = g_strdup_printf ("userId=u%u&name=u%u", user, user);
  g_autoptr(JsonObject) object = api_post (session, "user/getToken.json", body, error);

  if (object == NULL)
    return NULL;
  return g_strdup (json_object_get_string_member_with_default (object, "token", ""));
}

char *
fetch_metrics (SoupSession *session)
{
  g_autofree char *url = g_strdup_printf ("%s/metrics", bench.url);
  g_autoptr(SoupMessage) message = soup_message_new (SOUP_METHOD_GET, url);
  g_autoptr(GBytes) body = soup_session_send_and_read (session, message, NULL, NULL);

  if (body == NULL || soup_message_get_status (message) != 200)
    return NULL;
  return g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
}

/* @name is a histogram's, with its other labels if any:
 * "natterd_publish_stage_seconds{stage=\"sync\"}". */
gboolean
parse_histogram (const char *text,
                 const char *name,
                 Histogram  *out)
{
  const char *brace = strchr (name, '{');
  g_autofree char *prefix = brace == NULL ? g_strdup_printf ("%s_bucket{le=\"", name) :
                            g_strdup_printf ("%.*s_bucket{%.*s,le=\"", (int) (brace - name), name,
                                             (int) strlen (brace + 1) - 1, brace + 1);
  g_auto(GStrv) lines = NULL;

  out->n = 0;
  if (text == NULL)
    return FALSE;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL && out->n < G_N_ELEMENTS (out->bounds); i++)
    {
      const char *line = lines[i];
      const char *end;

      if (!g_str_has_prefix (line, prefix))
        continue;
      line += strlen (prefix);
      end = strchr (line, '"');
      if (end == NULL || end[1] != '}')
        continue;
      out->bounds[out->n] = g_str_has_prefix (line, "+Inf") ? INFINITY : g_ascii_strtod (line, NULL);
      out->counts[out->n] = g_ascii_strtoull (end + 2, NULL, 10);
      out->n++;
    }
  return out->n > 0;
}

gboolean
fetch_histogram (SoupSession *session,
                 const char  *name,
                 Histogram   *out)
{
  g_autofree char *text = fetch_metrics (session);

  return parse_histogram (text, name, out);
}

static const char * const stage_names[N_STAGES] = {
  "parse", "wait", "sql", "sync", "sync-checkpoint", "wakeup", "deliver", "total",
};

static void
parse_stages (const char *text,
              Histogram   out[N_STAGES])
{
  for (guint i = 0; i < N_STAGES; i++)
    {
      g_autofree char *name = g_strdup_printf ("natterd_publish_stage_seconds{stage=\"%s\"}",
                                               stage_names[i]);

      parse_histogram (text, name, &out[i]);
    }
}

/* natterd's per-stage histograms (#17), all from one /metrics. */
void
fetch_stages (SoupSession *session,
              Histogram    out[N_STAGES])
{
  g_autofree char *text = fetch_metrics (session);

  parse_stages (text, out);
}

void
print_stages (const Histogram before[N_STAGES],
              const Histogram after[N_STAGES])
{
  g_print ("  natterd stages of a delivered message (frame read to its Deliver written; "
           "bucket bounds, ms: p50 / p99 / p99.9):\n   ");
  for (guint i = 0; i < N_STAGES; i++)
    {
      guint64 n;

      if (after[i].n == 0 || before[i].n != after[i].n)
        continue;
      n = after[i].counts[after[i].n - 1] - before[i].counts[before[i].n - 1];
      if (n == 0)
        continue;
      g_print (" %s %.4g / %.4g / %.4g", stage_names[i],
               histogram_percentile (&before[i], &after[i], 50),
               histogram_percentile (&before[i], &after[i], 99),
               histogram_percentile (&before[i], &after[i], 99.9));
      /* The sync's two kinds: how many messages each. */
      if (g_str_has_prefix (stage_names[i], "sync"))
        g_print (" (%" G_GUINT64_FORMAT " msgs)", n);
      g_print (";");
    }
  g_print ("\n");
}

/* natterd's slow messages and its fdatasync() times (#17), from the
 * /metrics of its stages: where the tail's milliseconds go. */
typedef struct
{
  double    slow;
  double    seconds[N_STAGES];
  double    largest[N_STAGES];
  Histogram fdatasync;
  Histogram beside;             /* of those, beside a checkpoint's database writes */
  double    paced_passes;
  double    paced_chunks;
  Histogram iterations;
  /* The writer's own waits for the disk (natterd_writer_stall_*): a new
   * WAL's header sync, its checkpoints. */
  double    stalls[2];
  double    stall_seconds[2];
  double    stall_frames[2];
  /* natterd_publish_tail_*_total: by the bucket of the total (its
   * bound, seconds), each stage's seconds and how many had it largest. */
  struct
  {
    double bound;
    double seconds[N_STAGES];
    double largest[N_STAGES];
  }         rows[48];
  guint     n_rows;
  /* The WAL file's growth and truncates (natterd_wal_*_total). */
  double    wal_extended;
  double    wal_truncates;
  /* The disk beside the WAL's syncs: the longest WAL sync so far, the
   * checkpoints' syncs of the database and the bytes they copied. */
  double    wal_sync_largest;
  double    db_syncs;
  double    db_sync_seconds;
  double    db_sync_largest;
  double    db_written;
} TailSample;

/* The machine's dirty and under-writeback pages (/proc/meminfo), sampled
 * every 20 ms over an open-loop window (#17: a slow fdatasync() waits
 * for the disk, which everyone's writes share, not only natterd's). */
typedef struct
{
  GThread *thread;
  gint     stop;
  guint    n;
  double   dirty_sum;
  double   dirty_most;
  double   writeback_sum;
  double   writeback_most;
} MeminfoWatch;

static gpointer
meminfo_watch_main (gpointer data)
{
  MeminfoWatch *watch = data;

  while (!g_atomic_int_get (&watch->stop))
    {
      g_autofree char *text = NULL;
      const char *dirty, *writeback;

      if (g_file_get_contents ("/proc/meminfo", &text, NULL, NULL) &&
          (dirty = strstr (text, "\nDirty:")) != NULL &&
          (writeback = strstr (text, "\nWriteback:")) != NULL)
        {
          double d = g_ascii_strtod (dirty + strlen ("\nDirty:"), NULL) / 1024;
          double w = g_ascii_strtod (writeback + strlen ("\nWriteback:"), NULL) / 1024;

          watch->n++;
          watch->dirty_sum += d;
          watch->writeback_sum += w;
          watch->dirty_most = MAX (watch->dirty_most, d);
          watch->writeback_most = MAX (watch->writeback_most, w);
        }
      g_usleep (20000);
    }
  return NULL;
}

static void
meminfo_watch_start (MeminfoWatch *watch)
{
  memset (watch, 0, sizeof *watch);
  watch->thread = g_thread_new ("meminfo", meminfo_watch_main, watch);
}

static void
meminfo_watch_stop (MeminfoWatch *watch)
{
  g_atomic_int_set (&watch->stop, 1);
  g_clear_pointer (&watch->thread, g_thread_join);
}

static void
meminfo_watch_print (const MeminfoWatch *watch)
{
  if (watch->n > 0)
    g_print ("  the machine's dirty / writeback pages (/proc/meminfo, every 20 ms): mean %.1f / %.1f MiB, "
             "most %.1f / %.1f MiB\n", watch->dirty_sum / watch->n, watch->writeback_sum / watch->n,
             watch->dirty_most, watch->writeback_most);
}

static const char * const stall_kinds[2] = { "wal-header-sync", "checkpoint" };

double
metric_value (const char *text,
              const char *name)
{
  g_autofree char *prefix = g_strconcat ("\n", name, " ", NULL);
  const char *line = text != NULL ? strstr (text, prefix) : NULL;

  return line != NULL ? g_ascii_strtod (line + strlen (prefix), NULL) : NAN;
}

/* Bucket bounds as parsed from the same text: equal, not near. */
gboolean
same_bound (double x,
            double y)
{
  return (isinf (x) && isinf (y)) || fabs (x - y) < 1e-12;
}

gboolean
parse_tail_line (const char  *line,
                 const char  *prefix,
                 double      *bound,
                 const char **stage,
                 gsize       *stage_len,
                 double      *value)
{
  const char *end;

  if (!g_str_has_prefix (line, prefix))
    return FALSE;
  line += strlen (prefix);
  *bound = g_str_has_prefix (line, "+Inf") ? INFINITY : g_ascii_strtod (line, NULL);
  *stage = strstr (line, "stage=\"");
  end = *stage != NULL ? strstr (*stage, "\"} ") : NULL;
  if (end == NULL)
    return FALSE;
  *stage += strlen ("stage=\"");
  *stage_len = (gsize) (end - *stage);
  *value = g_ascii_strtod (end + 3, NULL);
  return TRUE;
}

/* Lines "PREFIX0.003\",stage=\"sync\"} VALUE" into @out's rows. */
static void
parse_tail_rows (const char *text,
                 const char *prefix,
                 gboolean    largest,
                 TailSample *out)
{
  g_auto(GStrv) lines = text != NULL ? g_strsplit (text, "\n", -1) : NULL;

  for (guint i = 0; lines != NULL && lines[i] != NULL; i++)
    {
      const char *stage;
      gsize stage_len;
      double bound, value;
      guint row = 0;

      if (!parse_tail_line (lines[i], prefix, &bound, &stage, &stage_len, &value))
        continue;
      while (row < out->n_rows && !same_bound (out->rows[row].bound, bound))
        row++;
      if (row == out->n_rows)
        {
          if (row == G_N_ELEMENTS (out->rows))
            continue;
          memset (&out->rows[row], 0, sizeof out->rows[row]);
          out->rows[row].bound = bound;
          out->n_rows++;
        }
      for (guint k = 0; k < N_STAGES; k++)
        if (strlen (stage_names[k]) == stage_len && strncmp (stage, stage_names[k], stage_len) == 0)
          {
            if (largest)
              out->rows[row].largest[k] = value;
            else
              out->rows[row].seconds[k] = value;
          }
    }
}

/* The row of @sample for the bucket @bound, or NULL (none seen yet). */
static const double *
tail_row (const TailSample *sample,
          double            bound,
          gboolean          largest)
{
  for (guint i = 0; i < sample->n_rows; i++)
    if (same_bound (sample->rows[i].bound, bound))
      return largest ? sample->rows[i].largest : sample->rows[i].seconds;
  return NULL;
}

/* Where the slowest messages' time went (#17): those whose total fell in
 * the p99's (p99.9's) bucket of natterd's total or above, by stage. */
static void
print_slowest (const TailSample *before,
               const TailSample *after,
               const Histogram  *total_before,
               const Histogram  *total_after)
{
  static const double ps[] = { 99, 99.9 };
  const Histogram *a = total_after, *b = total_before;
  guint64 delivered;

  if (after->n_rows == 0 || a->n == 0 || a->n != b->n)
    return;
  delivered = a->counts[a->n - 1] - b->counts[b->n - 1];
  for (guint p = 0; p < G_N_ELEMENTS (ps); p++)
    {
      double seconds[N_STAGES] = { 0 }, largest[N_STAGES] = { 0 };
      guint64 n = 0;
      guint first = 0;

      /* The p's bucket, as histogram_percentile() finds it. */
      while (first + 1 < a->n &&
             (double) (a->counts[first] - b->counts[first]) < ps[p] / 100.0 * (double) delivered)
        first++;
      for (guint i = first; i < a->n; i++)
        {
          const double *sa, *sb, *la, *lb;

          n += (a->counts[i] - b->counts[i]) - (i > 0 ? a->counts[i - 1] - b->counts[i - 1] : 0);
          sa = tail_row (after, a->bounds[i], FALSE);
          la = tail_row (after, a->bounds[i], TRUE);
          sb = tail_row (before, a->bounds[i], FALSE);
          lb = tail_row (before, a->bounds[i], TRUE);
          for (guint k = 0; k < N_STAGES && sa != NULL; k++)
            {
              seconds[k] += sa[k] - (sb != NULL ? sb[k] : 0);
              largest[k] += la[k] - (lb != NULL ? lb[k] : 0);
            }
        }
      if (n == 0 || seconds[N_STAGES - 1] <= 0 || a->bounds[first] < 0.00099)
        {
          g_print ("  natterd's slowest %g %%: under 1 ms, not broken down\n", 100 - ps[p]);
          continue;
        }
      g_print ("  natterd's slowest %g %% (total over %.4g ms: %" G_GUINT64_FORMAT " msgs, %.2f %%): "
               "mean ms a stage:", 100 - ps[p], first > 0 ? 1000.0 * a->bounds[first - 1] : 0.0, n,
               100.0 * (double) n / (double) MAX (delivered, 1));
      for (guint k = 0; k < N_STAGES; k++)
        g_print (" %s %.3f", stage_names[k], 1000.0 * seconds[k] / (double) n);
      g_print ("; the largest stage of each:");
      for (guint k = 0; k + 1 < N_STAGES; k++)
        if (largest[k] > 0)
          g_print (" %s %.0f %%", stage_names[k], 100.0 * largest[k] / (double) n);
      g_print ("\n");
    }
}

static void
fetch_tail (SoupSession *session,
            Histogram    stages[N_STAGES],
            TailSample  *out)
{
  g_autofree char *text = fetch_metrics (session);

  parse_stages (text, stages);
  out->slow = metric_value (text, "natterd_publish_slow_total");
  for (guint i = 0; i < N_STAGES; i++)
    {
      g_autofree char *seconds = g_strdup_printf ("natterd_publish_slow_seconds_total{stage=\"%s\"}",
                                                  stage_names[i]);
      g_autofree char *largest = g_strdup_printf ("natterd_publish_slow_largest_total{stage=\"%s\"}",
                                                  stage_names[i]);

      out->seconds[i] = metric_value (text, seconds);
      out->largest[i] = metric_value (text, largest);
    }
  parse_histogram (text, "natterd_wal_fdatasync_seconds", &out->fdatasync);
  parse_histogram (text, "natterd_wal_fdatasync_beside_checkpoint_seconds", &out->beside);
  out->paced_passes = metric_value (text, "natterd_checkpoint_paced_total{of=\"passes\"}");
  out->paced_chunks = metric_value (text, "natterd_checkpoint_paced_total{of=\"chunks\"}");
  parse_histogram (text, "natterd_main_iteration_seconds", &out->iterations);
  for (guint k = 0; k < G_N_ELEMENTS (stall_kinds); k++)
    {
      g_autofree char *count = g_strdup_printf ("natterd_writer_stall_total{of=\"%s\"}", stall_kinds[k]);
      g_autofree char *seconds = g_strdup_printf ("natterd_writer_stall_seconds_total{of=\"%s\"}",
                                                  stall_kinds[k]);
      g_autofree char *frames = g_strdup_printf ("natterd_writer_stall_frames_total{of=\"%s\"}", stall_kinds[k]);

      out->stalls[k] = metric_value (text, count);
      out->stall_seconds[k] = metric_value (text, seconds);
      out->stall_frames[k] = metric_value (text, frames);
    }
  parse_tail_rows (text, "natterd_publish_tail_seconds_total{le=\"", FALSE, out);
  parse_tail_rows (text, "natterd_publish_tail_largest_total{le=\"", TRUE, out);
  out->wal_extended = metric_value (text, "natterd_wal_extended_bytes_total");
  out->wal_truncates = metric_value (text, "natterd_wal_truncates_total");
  out->wal_sync_largest = metric_value (text, "natterd_wal_fdatasync_largest_seconds");
  out->db_syncs = metric_value (text, "natterd_checkpoint_db_sync_seconds_count");
  out->db_sync_seconds = metric_value (text, "natterd_checkpoint_db_sync_seconds_sum");
  out->db_sync_largest = metric_value (text, "natterd_checkpoint_db_sync_largest_seconds");
  out->db_written = metric_value (text, "natterd_checkpoint_db_written_bytes_total");
}

/* @delivered: messages natterd delivered meanwhile (its total stage's count). */
static void
print_tail (const TailSample *before,
            const TailSample *after,
            guint64           delivered)
{
  double slow = after->slow - before->slow;
  const Histogram *b = &before->fdatasync, *a = &after->fdatasync;

  if (!isnan (slow))
    {
      g_print ("  natterd's slow ones (over 2 ms, frame read to Deliver written): %.0f of %" G_GUINT64_FORMAT
               " (%.2f %%); their mean ms a stage:", slow, delivered,
               delivered > 0 ? 100.0 * slow / (double) delivered : 0.0);
      for (guint i = 0; i < N_STAGES && slow > 0; i++)
        g_print (" %s %.3f", stage_names[i], 1000.0 * (after->seconds[i] - before->seconds[i]) / slow);
      g_print ("; the largest stage of each:");
      for (guint i = 0; i < N_STAGES && slow > 0; i++)
        if (!isnan (after->largest[i]) && after->largest[i] > before->largest[i])
          g_print (" %s %.0f %%", stage_names[i], 100.0 * (after->largest[i] - before->largest[i]) / slow);
      g_print ("\n");
    }
  if (a->n > 0 && a->n == b->n && a->counts[a->n - 1] > b->counts[b->n - 1])
    g_print ("  natterd's fdatasync() of the WAL: %" G_GUINT64_FORMAT " calls, p50 / p90 / p99 / p99.9 "
             "<= %.3g / %.3g / %.3g / %.3g ms (bucket bounds)\n",
             a->counts[a->n - 1] - b->counts[b->n - 1], histogram_percentile (b, a, 50),
             histogram_percentile (b, a, 90), histogram_percentile (b, a, 99),
             histogram_percentile (b, a, 99.9));
  /* Which of them ran beside a checkpoint's writes of the database, and
   * how those passes went to the disk (paced: in chunks between syncs). */
  b = &before->beside;
  a = &after->beside;
  if (a->n > 0 && a->n == b->n)
    {
      guint64 n = a->counts[a->n - 1] - b->counts[b->n - 1];

      g_print ("    of those, %" G_GUINT64_FORMAT " beside a checkpoint's database writes", n);
      if (n > 0)
        g_print (", p50 / p90 / p99 / p99.9 <= %.3g / %.3g / %.3g / %.3g ms", histogram_percentile (b, a, 50),
                 histogram_percentile (b, a, 90), histogram_percentile (b, a, 99),
                 histogram_percentile (b, a, 99.9));
      if (!isnan (after->paced_passes))
        g_print ("; %.0f checkpoint passes paced, %.0f chunks", after->paced_passes - before->paced_passes,
                 after->paced_chunks - before->paced_chunks);
      g_print ("\n");
    }
  /* Each stalls every message queued behind it: at 5,000 msgs/s one of
   * 10 ms is 50 messages, the p99.9 of a 10 s window. */
  if (!isnan (after->stalls[0]))
    {
      g_print ("  natterd's writer waiting for the disk itself:");
      for (guint k = 0; k < G_N_ELEMENTS (stall_kinds); k++)
        {
          double n = after->stalls[k] - before->stalls[k];

          g_print (" %s %.0f", stall_kinds[k], n);
          if (n > 0)
            g_print (" (mean %.2f ms%s", 1000.0 * (after->stall_seconds[k] - before->stall_seconds[k]) / n,
                     k == 1 ? "" : ")");
          if (n > 0 && k == 1)
            g_print (", %.0f frames each)", (after->stall_frames[k] - before->stall_frames[k]) / n);
          g_print (k + 1 < G_N_ELEMENTS (stall_kinds) ? ";" : "\n");
        }
    }
  /* A sync of a write that grew the WAL commits the filesystem's journal
   * too, behind every other file's metadata. */
  if (!isnan (after->wal_extended))
    g_print ("  natterd's WAL file: grew %.0f KiB, cut back %.0f times\n",
             (after->wal_extended - before->wal_extended) / 1024, after->wal_truncates - before->wal_truncates);
  /* The checkpoints' share of the disk, and the one sync a p99.9 can be. */
  if (!isnan (after->db_written))
    {
      double syncs = after->db_syncs - before->db_syncs;

      g_print ("  natterd's checkpoints: %.0f KiB copied into the database (%.0f bytes a message), "
               "%.0f syncs of it", (after->db_written - before->db_written) / 1024,
               delivered > 0 ? (after->db_written - before->db_written) / (double) delivered : 0.0, syncs);
      if (syncs > 0)
        g_print (" (mean %.2f ms)", 1000.0 * (after->db_sync_seconds - before->db_sync_seconds) / syncs);
      if (after->db_sync_largest > before->db_sync_largest)
        g_print (", the longest %.1f ms", 1000.0 * after->db_sync_largest);
      if (after->wal_sync_largest > before->wal_sync_largest)
        g_print ("; the longest WAL fdatasync() %.1f ms\n", 1000.0 * after->wal_sync_largest);
      else
        g_print ("; no WAL fdatasync() longer than the %.1f ms before\n", 1000.0 * after->wal_sync_largest);
    }
  b = &before->iterations;
  a = &after->iterations;
  if (a->n > 0 && a->n == b->n && a->counts[a->n - 1] > b->counts[b->n - 1])
    {
      guint64 n = a->counts[a->n - 1] - b->counts[b->n - 1];
      guint64 within = 0;

      /* Those over 1 ms: a frame that arrived meanwhile waited that long. */
      for (guint i = 0; i < a->n; i++)
        if (a->bounds[i] <= 0.001)
          within = a->counts[i] - b->counts[i];
      g_print ("  natterd's main-loop iterations (poll() excluded): %" G_GUINT64_FORMAT ", p50 / p99 / p99.9 "
               "<= %.3g / %.3g / %.3g ms, %" G_GUINT64_FORMAT " over 1 ms\n", n,
               histogram_percentile (b, a, 50), histogram_percentile (b, a, 99),
               histogram_percentile (b, a, 99.9), n - within);
    }
}

/* The smallest bucket bound holding @p percent of what was observed
 * between @before and @after. */
double
histogram_percentile (const Histogram *before,
                      const Histogram *after,
                      double           p)
{
  guint64 total;

  if (after->n == 0 || before->n != after->n)
    return NAN;
  total = after->counts[after->n - 1] - before->counts[before->n - 1];
  for (guint i = 0; i < after->n; i++)
    if ((double) (after->counts[i] - before->counts[i]) >= p / 100.0 * (double) total)
      return after->bounds[i] * 1000.0;
  return INFINITY;
}

int
compare_u32 (gconstpointer a,
             gconstpointer b)
{
  guint32 x = *(const guint32 *) a, y = *(const guint32 *) b;

  return x < y ? -1 : x > y;
}

double
percentile (GArray *sorted,
            double  p)
{
  gsize index;

  if (sorted->len == 0)
    return NAN;
  index = (gsize) ceil (p / 100.0 * sorted->len) - 1;
  index = MIN (index, sorted->len - 1);
  return g_array_index (sorted, guint32, index) / 1000.0;
}

double
load_average (void)
{
  g_autofree char *text = NULL;

  if (!g_file_get_contents ("/proc/loadavg", &text, NULL, NULL))
    return NAN;
  return g_ascii_strtod (text, NULL);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = g_option_context_new ("— load natterd and print its figures");
  g_autoptr(GError) error = NULL;
  g_autoptr(SoupSession) session = NULL;
  g_auto(GStrv) rates = NULL;
  GOptionEntry entries[] = {
    { "natterd", 0, 0, G_OPTION_ARG_FILENAME, &opt_natterd, "natterd to start (default: the one built with this bench)", "PATH" },
    { "url", 0, 0, G_OPTION_ARG_STRING, &opt_url, "Use a running natterd instead", "URL" },
    { "app-key", 0, 0, G_OPTION_ARG_STRING, &opt_app_key, "With --url: an app with send-rate=0", "KEY" },
    { "app-secret", 0, 0, G_OPTION_ARG_STRING, &opt_app_secret, "With --url", "SECRET" },
    { "pid", 0, 0, G_OPTION_ARG_INT, &opt_pid, "With --url: natterd's pid, for CPU and RSS", "PID" },
    { "receiver-url", 0, 0, G_OPTION_ARG_STRING, &opt_receiver_url, "With --url: receivers connect to this node of the same cluster", "URL" },
    { "users", 0, 0, G_OPTION_ARG_INT, &opt_users, "Users u0… with tokens (2000)", "N" },
    { "pairs", 0, 0, G_OPTION_ARG_INT, &opt_pairs, "Sender→receiver pairs (100)", "N" },
    { "window", 0, 0, G_OPTION_ARG_INT, &opt_window, "Messages in flight per sender, closed loop (16)", "N" },
    { "warmup", 0, 0, G_OPTION_ARG_INT, &opt_warmup, "Warm-up seconds (5)", "S" },
    { "duration", 0, 0, G_OPTION_ARG_INT, &opt_duration, "Measured seconds, closed loop and each group run (20)", "S" },
    { "rates", 0, 0, G_OPTION_ARG_STRING, &opt_rates, "Open-loop offered rates, msgs/s (2000,5000)", "R,R" },
    { "open-duration", 0, 0, G_OPTION_ARG_INT, &opt_open_duration, "Measured seconds per open-loop rate (10)", "S" },
    { "idle", 0, 0, G_OPTION_ARG_INT, &opt_idle, "Idle connections (2000)", "N" },
    { "idle-hold", 0, 0, G_OPTION_ARG_INT, &opt_idle_hold, "Seconds to hold them (15)", "S" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &opt_threads, "Client threads (2)", "N" },
    { "client-slice-us", 0, 0, G_OPTION_ARG_INT, &opt_client_slice_us, "The timed clients' threads ask for this time slice (EEVDF, Linux >= 6.12; default 0: the kernel's), so the bench's other threads (a group's 3,000 members) delay their reads less; natterd's own: NATTERD_SLICE_US", "US" },
    { "protocol", 0, 0, G_OPTION_ARG_STRING, &opt_protocol, "WebSocket subprotocol (" NATTER_PROTOCOL_NAME ")", "NAME" },
    { NULL }
  };
  Sample a, b;
  double server_cpu, bench_cpu;
  double closed_rate;
  struct rlimit limit;
  int status = 0;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_main_entries (context, group_entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("natter-bench: %s\n", error->message);
      return 2;
    }
  bench.protocol = opt_protocol != NULL ? opt_protocol : NATTER_PROTOCOL_NAME;
  bench.group_mode = group_mode_wanted ();
  if (bench.group_mode)
    {
      if (!group_mode_check (&error))
        {
          g_printerr ("natter-bench: %s\n", error->message);
          return 2;
        }
      opt_users = (int) group_mode_users ();
      bench.config = group_mode_config ();
    }
  else if (opt_pairs * 2 > opt_users || opt_idle > opt_users || opt_threads < 1 || opt_window < 1)
    {
      g_printerr ("natter-bench: --pairs × 2 and --idle must not exceed --users\n");
      return 2;
    }

  /* 2,000 connections need more descriptors than the usual soft limit. */
  if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max)
    {
      limit.rlim_cur = limit.rlim_max;
      setrlimit (RLIMIT_NOFILE, &limit);
    }

  if (opt_url != NULL)
    {
      bench.url = g_strdup (opt_url);
      bench.app_key = g_strdup (opt_app_key);
      bench.app_secret = g_strdup (opt_app_secret);
      bench.pid = opt_pid;
      if (bench.app_key == NULL || bench.app_secret == NULL)
        {
          g_printerr ("natter-bench: --url needs --app-key and --app-secret\n");
          return 2;
        }
    }
  else
    {
      if (opt_natterd == NULL)
        opt_natterd = g_strdup (NATTERD_BUILD_PATH);
      if (!start_natterd (&error))
        {
          g_printerr ("natter-bench: %s\n", error->message);
          return 1;
        }
    }
  bench.ws_url = g_strdup_printf ("ws%s/ws", bench.url + strlen ("http"));
  if (opt_receiver_url != NULL)
    bench.receiver_ws_url = g_strdup_printf ("ws%s/ws", opt_receiver_url + strlen ("http"));

  g_print ("natter-bench: natterd %s (pid %d), %u cores, load average %.2f at start\n", bench.url,
           (int) bench.pid, g_get_num_processors (), load_average ());

  /* Tokens */
  session = soup_session_new ();
  bench.tokens = g_new0 (char *, opt_users + 1);
  a = sample ();
  for (int i = 0; i < opt_users; i++)
    {
      bench.tokens[i] = get_token (session, (guint) i, &error);
      if (bench.tokens[i] == NULL)
        {
          g_printerr ("natter-bench: u%d: %s\n", i, error->message);
          return 1;
        }
    }
  b = sample ();
  g_print ("tokens: %d users in %.1f s\n", opt_users, (double) (b.wall - a.wall) / G_USEC_PER_SEC);

  /* Workers */
  bench.n_workers = (guint) opt_threads + (bench.group_mode ? group_mode_private_threads () : 0);
  bench.workers = g_new0 (Worker, bench.n_workers);
  for (guint i = 0; i < bench.n_workers; i++)
    {
      Worker *worker = &bench.workers[i];

      worker->context = g_main_context_new ();
      worker->loop = g_main_loop_new (worker->context, FALSE);
      worker->conns = g_ptr_array_new_with_free_func (conn_free);
      worker->senders = g_ptr_array_new ();
      worker->latencies = g_array_sized_new (FALSE, FALSE, sizeof (guint32), 1 << 20);
      worker->group_latencies = g_array_new (FALSE, FALSE, sizeof (guint32));
      worker->group_last = g_array_new (FALSE, TRUE, sizeof (gint64));
      worker->group_first = g_array_new (FALSE, TRUE, sizeof (gint64));
      worker->private_sent = g_array_new (FALSE, TRUE, sizeof (gint64));
      worker->private_acks = g_array_new (FALSE, FALSE, sizeof (guint32));
      worker->acks_pending = g_ptr_array_new ();
      raw_worker_init (worker);
      worker->thread = g_thread_new ("bench-worker", worker_main, worker);
    }
  /* Wait until each worker made its session. */
  on_workers ((void (*) (Worker *, gpointer)) reset_latencies, NULL);

  if (bench.group_mode)
    {
      status = group_mode_run (session);
      goto out;
    }

  /* 1. Closed loop */
  {
    OpenSpec receivers = { (guint) opt_pairs, (guint) opt_pairs, ROLE_RECEIVER, 0 };
    OpenSpec senders = { 0, (guint) opt_pairs, ROLE_SENDER, opt_pairs };
    int delivered = 0;
    Histogram stages_before[N_STAGES] = { 0 }, stages_after[N_STAGES] = { 0 };

    on_workers ((void (*) (Worker *, gpointer)) open_conns, &receivers);
    on_workers ((void (*) (Worker *, gpointer)) open_conns, &senders);
    if (!wait_connected (opt_pairs * 2, 60))
      {
        g_printerr ("natter-bench: only %d of %d connections up\n", connected_total (), opt_pairs * 2);
        return 1;
      }

    g_atomic_int_set (&bench.phase, PHASE_CLOSED);
    on_workers ((void (*) (Worker *, gpointer)) start_closed, NULL);
    sleep_main ((guint) opt_warmup);

    for (guint i = 0; i < bench.n_workers; i++)
      g_atomic_int_set (&bench.workers[i].delivered, 0);
    fetch_stages (session, stages_before);
    a = sample ();
    g_atomic_int_set (&bench.counting, TRUE);
    sleep_main ((guint) opt_duration);
    g_atomic_int_set (&bench.counting, FALSE);
    b = sample ();
    fetch_stages (session, stages_after);
    g_atomic_int_set (&bench.phase, PHASE_IDLE);

    for (guint i = 0; i < bench.n_workers; i++)
      delivered += g_atomic_int_get (&bench.workers[i].delivered);
    closed_rate = delivered / ((double) (b.wall - a.wall) / G_USEC_PER_SEC);
    cpu_between (&a, &b, &server_cpu, &bench_cpu);
    g_print ("closed loop: %d pairs, %d in flight each: %.0f msgs/s delivered over %d s, "
             "every message durably stored before its ack (natterd CPU %.0f%%, bench CPU %.0f%% of one core)\n",
             opt_pairs, opt_window, closed_rate, opt_duration, server_cpu, bench_cpu);
    /* What a message costs natterd: steadier than the rate on a shared box. */
    g_print ("  natterd CPU per delivered message: %.1f us\n",
             (double) (b.server_cpu - a.server_cpu) / MAX (delivered, 1));
    print_stages (stages_before, stages_after);
    /* Let in-flight messages drain before the open loop. */
    sleep_main (2);
  }

  /* 2. Open loop */
  rates = g_strsplit (opt_rates != NULL ? opt_rates : "2000,5000", ",", -1);
  for (guint r = 0; rates[r] != NULL; r++)
    {
      double rate = g_ascii_strtod (rates[r], NULL);
      g_autoptr(GArray) all = g_array_new (FALSE, FALSE, sizeof (guint32));
      Histogram server_before = { 0 }, server_after = { 0 };
      Histogram stages_before[N_STAGES] = { 0 }, stages_after[N_STAGES] = { 0 };
      TailSample tail_before = { 0 }, tail_after = { 0 };
      SchedSample sched_before, sched_after;
      MeminfoWatch meminfo;

      g_atomic_int_set (&bench.phase, PHASE_OPEN);
      on_workers ((void (*) (Worker *, gpointer)) start_open, &rate);
      sleep_main (2);
      on_workers ((void (*) (Worker *, gpointer)) reset_latencies, NULL);
      for (guint i = 0; i < bench.n_workers; i++)
        g_atomic_int_set (&bench.workers[i].delivered, 0);
      fetch_histogram (session, "natterd_publish_latency_seconds", &server_before);
      fetch_tail (session, stages_before, &tail_before);
      sched_sample (&sched_before);
      a = sample ();
      g_atomic_int_set (&bench.recording, TRUE);
      g_atomic_int_set (&bench.counting, TRUE);
      meminfo_watch_start (&meminfo);
      sleep_main ((guint) opt_open_duration);
      g_atomic_int_set (&bench.recording, FALSE);
      g_atomic_int_set (&bench.counting, FALSE);
      meminfo_watch_stop (&meminfo);
      b = sample ();
      sched_sample (&sched_after);
      fetch_histogram (session, "natterd_publish_latency_seconds", &server_after);
      fetch_tail (session, stages_after, &tail_after);
      on_workers ((void (*) (Worker *, gpointer)) stop_open, NULL);
      g_atomic_int_set (&bench.phase, PHASE_IDLE);
      sleep_main (1);

      for (guint i = 0; i < bench.n_workers; i++)
        {
          Worker *worker = &bench.workers[i];
          g_array_append_vals (all, worker->latencies->data, worker->latencies->len);
        }
      g_array_sort (all, compare_u32);
      cpu_between (&a, &b, &server_cpu, &bench_cpu);
      g_print ("open loop %.0f msgs/s offered: %.0f delivered/s, latency p50 %.2f ms, p90 %.2f ms, "
               "p99 %.2f ms, p99.9 %.2f ms (natterd CPU %.0f%%, bench CPU %.0f%%)\n",
               rate, all->len / ((double) (b.wall - a.wall) / G_USEC_PER_SEC),
               percentile (all, 50), percentile (all, 90), percentile (all, 99), percentile (all, 99.9),
               server_cpu, bench_cpu);
      g_print ("  natterd alone (Publish received to durable PublishAck sent, its /metrics buckets): "
               "p50 <= %.1f ms, p99 <= %.1f ms, p99.9 <= %.1f ms\n",
               histogram_percentile (&server_before, &server_after, 50),
               histogram_percentile (&server_before, &server_after, 99),
               histogram_percentile (&server_before, &server_after, 99.9));
      print_stages (stages_before, stages_after);
      print_slowest (&tail_before, &tail_after, &stages_before[N_STAGES - 1], &stages_after[N_STAGES - 1]);
      print_tail (&tail_before, &tail_after,
                  stages_after[N_STAGES - 1].n > 0 && stages_after[N_STAGES - 1].n == stages_before[N_STAGES - 1].n ?
                  stages_after[N_STAGES - 1].counts[stages_after[N_STAGES - 1].n - 1] -
                  stages_before[N_STAGES - 1].counts[stages_before[N_STAGES - 1].n - 1] : 0);
      meminfo_watch_print (&meminfo);
      print_sched (&sched_before, &sched_after);
    }

  on_workers ((void (*) (Worker *, gpointer)) close_conns, NULL);
  sleep_main (2);

  /* 3. Idle connections */
  {
    OpenSpec idle = { 0, (guint) opt_idle, ROLE_IDLE, 0 };
    gint64 before = server_rss_kib ();
    double heap_before = fetch_gauge (session, "natterd_heap_bytes");
    double heap_with;
    gint64 with;

    for (guint i = 0; i < bench.n_workers; i++)
      {
        g_atomic_int_set (&bench.workers[i].connected, 0);
        g_atomic_int_set (&bench.workers[i].failed, 0);
      }
    /* The epoll client (natter-bench-ws.c): through libsoup, opening
     * them took the bench 15-20 s of CPU, a figure of the bench. */
    a = sample ();
    on_workers (raw_open_conns, &idle);
    if (!wait_connected (opt_idle, 120))
      g_printerr ("natter-bench: only %d of %d idle connections up\n", connected_total (), opt_idle);
    b = sample ();
    cpu_between (&a, &b, &server_cpu, &bench_cpu);
    g_print ("idle: %d connections authenticated in %.2f s, %.0f a second (natterd CPU %.0f%%, bench CPU %.0f%%)\n",
             connected_total (), (double) (b.wall - a.wall) / G_USEC_PER_SEC,
             connected_total () / MAX ((double) (b.wall - a.wall) / G_USEC_PER_SEC, 1e-6), server_cpu, bench_cpu);
    g_print ("  natterd CPU per connection (upgrade, Connect, ConnectAck): %.0f us\n",
             (double) (b.server_cpu - a.server_cpu) / MAX (connected_total (), 1));
    sleep_main ((guint) opt_idle_hold);
    with = server_rss_kib ();
    g_print ("idle: natterd RSS %.1f MiB before, %.1f MiB with %d idle connections held %d s: "
             "%.1f KiB per connection\n",
             before / 1024.0, with / 1024.0, opt_idle, opt_idle_hold,
             (double) (with - before) / opt_idle);
    /* What natterd itself holds per connection (malloc'd and not freed;
     * see README "Where an idle connection's memory goes"); the rest of
     * the RSS delta is heap pages touched and not given back. */
    heap_with = fetch_gauge (session, "natterd_heap_bytes");
    if (heap_before >= 0 && heap_with >= 0)
      g_print ("  natterd heap (malloc, in use) %.1f MiB before, %.1f MiB with them: %.0f bytes per connection\n",
               heap_before / 1048576.0, heap_with / 1048576.0, (heap_with - heap_before) / opt_idle);
    on_workers ((void (*) (Worker *, gpointer)) close_conns, NULL);
  }

out:
  for (guint i = 0; i < bench.n_workers; i++)
    {
      g_main_loop_quit (bench.workers[i].loop);
      g_thread_join (bench.workers[i].thread);
    }

  if (bench.natterd != NULL)
    {
      g_subprocess_send_signal (bench.natterd, SIGTERM);
      g_subprocess_wait (bench.natterd, NULL, NULL);
    }
  if (bench.own_data_dir)
    {
      g_autoptr(GSubprocess) rm = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, NULL, "rm", "-rf",
                                                    bench.data_dir, NULL);
      if (rm != NULL)
        g_subprocess_wait (rm, NULL, NULL);
    }
  return status;
}
