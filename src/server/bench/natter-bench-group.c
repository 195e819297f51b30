/* natter-bench-group.c — natter-bench's large-group mode
 *
 * A group of N members, every one connected over its own WebSocket, gets
 * messages at a fixed rate (or as fast as a window of acks allows) from a
 * rotating sender, and every delivery is checked: each member gets each
 * message exactly once, in order. Measured: publish → delivery over every
 * (message, member) pair, publish → last member, the sender's PublishAck,
 * natterd CPU per delivery; beside it, optionally, private messages at a
 * fixed rate between other users and their PublishAck latency.
 *
 * Both protocols: natter.v1 delivers a group message as an inbox entry
 * (seq > 0, acked like any), natter.v2 live with seq 0 and
 * Message.timeline_seq, the order to check. timeline_seq is looked up by
 * name in the compiled descriptor, else read from unknown field 10, so a
 * bench built from either natter.proto reads both.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "natter-bench-private.h"

#define GROUP_MAX_MESSAGES (1 << 20)
#define TIMELINE_SEQ_FIELD 10
#define DRAIN_TIMEOUT_S 15

static gboolean opt_group;
static int opt_group_members = -1;
static double opt_group_rate = -1;
static int opt_group_window = 8;
static char *opt_group_sweep;
static int opt_group_warmup = 1;
static double opt_private_rate = -1;
static int opt_private_threads = 1;
static int opt_head_of_line;
static gboolean head_of_line_warmup;  /* the sweep's first window: a warm-up */

GOptionEntry group_entries[] = {
  { "group", 0, 0, G_OPTION_ARG_NONE, &opt_group, "Large-group mode (implied by the options below)", NULL },
  { "group-members", 0, 0, G_OPTION_ARG_INT, &opt_group_members, "Group members, all connected (3000; 0 = no group)", "N" },
  { "group-rate", 0, 0, G_OPTION_ARG_DOUBLE, &opt_group_rate, "Group messages/s from a rotating sender (5; 0 = saturation)", "R" },
  { "group-window", 0, 0, G_OPTION_ARG_INT, &opt_group_window, "Saturation: group messages in flight (8)", "W" },
  { "group-sweep", 0, 0, G_OPTION_ARG_STRING, &opt_group_sweep, "One run per group size, then a table of costs", "N,N,…" },
  { "group-warmup", 0, 0, G_OPTION_ARG_INT, &opt_group_warmup, "Seconds sent before measuring, per run (1)", "S" },
  { "private-rate", 0, 0, G_OPTION_ARG_DOUBLE, &opt_private_rate, "Private messages/s beside the group, open loop (0)", "P" },
  { "private-threads", 0, 0, G_OPTION_ARG_INT, &opt_private_threads, "Client threads of the private pairs' own (1; 0 = they share the members' threads)", "N" },
  { "head-of-line", 0, 0, G_OPTION_ARG_INT, &opt_head_of_line, "Rounds of private messages alone, then beside a group (--private-rate, default 2000; --group-members, default 3000), after a warm-up window alone and ending alone; prints each group window's ack p99 ratio to the alone windows around it (#18: target at most 1.5)", "ROUNDS" },
  { NULL }
};

/* natterd's fan-out writer's counts (#18: what a delivery's CPU depends
 * on, the kernel's buffers filling included). */
enum { WRITER_BATCHES, WRITER_SENDS, WRITER_FRAMES, WRITER_SHORT, WRITER_WOULD_BLOCK, WRITER_ENTERS,
       N_WRITER_COUNTS };
static const char * const writer_counts[N_WRITER_COUNTS] = {
  "batches", "sends", "frames", "short", "would-block", "enters",
};

static void
fetch_writer (SoupSession *session,
              double       out[N_WRITER_COUNTS])
{
  g_autofree char *text = fetch_metrics (session);

  for (guint i = 0; i < N_WRITER_COUNTS; i++)
    {
      g_autofree char *name = g_strdup_printf ("natterd_fanout_writer_total{of=\"%s\"}", writer_counts[i]);

      out[i] = metric_value (text, name);
    }
}

/* A thread's (all of that name's) time on a CPU and times switched in
 * between two samples. */
static void
thread_between (const ThreadSched *a,
                guint              n_a,
                const ThreadSched *b,
                guint              n_b,
                const char        *name,
                double            *run_us,
                double            *runs)
{
  *run_us = 0;
  *runs = 0;
  for (guint i = 0; i < n_b; i++)
    {
      if (strcmp (b[i].name, name) != 0)
        continue;
      *run_us = (double) b[i].run_ns / 1000.0;
      *runs = (double) b[i].runs;
      for (guint j = 0; j < n_a; j++)
        if (strcmp (a[j].name, name) == 0)
          {
            *run_us -= (double) a[j].run_ns / 1000.0;
            *runs -= (double) a[j].runs;
          }
    }
}

/* natterd's own view of the private PublishAcks (#18): frame read to
 * ack written, by stage (natterd_ack_stage_seconds), and the slowest
 * ones' breakdown (natterd_ack_tail_seconds_total). "fanout" is the
 * main thread's time in a group's fan-out slices within "wakeup". What
 * the bench measures beyond it is the loopback and the bench's own
 * receiving (its 3,000 receivers share the 2 cores with the senders). */
#define N_ACK_STAGES 10
static const char * const ack_stages[N_ACK_STAGES] = {
  "parse", "wait", "sql", "sync", "sync-checkpoint", "wakeup", "ack", "total", "in-order", "fanout",
};
enum { ACK_WAIT = 1, ACK_SYNC = 3, ACK_SYNC_CHECKPOINT = 4, ACK_WAKEUP = 5, ACK_ACK = 6, ACK_IN_ORDER = 8,
       ACK_FANOUT = 9 };

typedef struct
{
  Histogram total;
  struct
  {
    double bound;
    double seconds[N_ACK_STAGES];
  }         rows[48];
  guint     n_rows;
} AckSample;

static void
fetch_acks (const char *text,
            AckSample  *out)
{
  static const char prefix[] = "natterd_ack_tail_seconds_total{le=\"";
  g_auto(GStrv) lines = text != NULL ? g_strsplit (text, "\n", -1) : NULL;

  memset (out, 0, sizeof *out);
  parse_histogram (text, "natterd_ack_stage_seconds{stage=\"total\"}", &out->total);
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
          out->rows[row].bound = bound;
          out->n_rows++;
        }
      for (guint k = 0; k < N_ACK_STAGES; k++)
        if (strlen (ack_stages[k]) == stage_len && strncmp (stage, ack_stages[k], stage_len) == 0)
          out->rows[row].seconds[k] = value;
    }
}

static const double *
ack_row (const AckSample *sample,
         double           bound)
{
  for (guint i = 0; i < sample->n_rows; i++)
    if (same_bound (sample->rows[i].bound, bound))
      return sample->rows[i].seconds;
  return NULL;
}

/* The @p-th percentile (ms) of the acks between two samples, linear
 * within its bucket: the buckets are 20–50 % wide at a p99's few ms, too
 * coarse for a ratio of two windows. */
static double
ack_percentile (const AckSample *before,
                const AckSample *after,
                double           p)
{
  const Histogram *a = &after->total, *b = &before->total;
  guint64 total;
  double rank;

  if (a->n == 0 || a->n != b->n)
    return NAN;
  total = a->counts[a->n - 1] - b->counts[b->n - 1];
  rank = p / 100.0 * (double) total;
  for (guint i = 0; i < a->n; i++)
    {
      double upto = (double) (a->counts[i] - b->counts[i]);
      double below = i > 0 ? (double) (a->counts[i - 1] - b->counts[i - 1]) : 0;
      double low = i > 0 ? a->bounds[i - 1] : 0;

      if (upto < rank || upto <= below)
        continue;
      if (isinf (a->bounds[i]))
        return low * 1000.0;
      return 1000.0 * (low + (a->bounds[i] - low) * (rank - below) / (upto - below));
    }
  return NAN;
}

/* The mean ms by stage of the acks in the p99's bucket and above; how many. */
static guint64
ack_tail (const AckSample *before,
          const AckSample *after,
          double           ms[N_ACK_STAGES],
          double          *over_ms)
{
  const Histogram *a = &after->total, *b = &before->total;
  guint64 total, n = 0;
  guint first = 0;

  memset (ms, 0, sizeof (double) * N_ACK_STAGES);
  *over_ms = 0;
  if (a->n == 0 || a->n != b->n)
    return 0;
  total = a->counts[a->n - 1] - b->counts[b->n - 1];
  while (first + 1 < a->n && (double) (a->counts[first] - b->counts[first]) < 0.99 * (double) total)
    first++;
  *over_ms = first > 0 ? 1000.0 * a->bounds[first - 1] : 0;
  for (guint i = first; i < a->n; i++)
    {
      const double *ra = ack_row (after, a->bounds[i]), *rb = ack_row (before, a->bounds[i]);

      n += (a->counts[i] - b->counts[i]) - (i > 0 ? a->counts[i - 1] - b->counts[i - 1] : 0);
      for (guint k = 0; k < N_ACK_STAGES && ra != NULL; k++)
        ms[k] += 1000.0 * (ra[k] - (rb != NULL ? rb[k] : 0));
    }
  for (guint k = 0; k < N_ACK_STAGES && n > 0; k++)
    ms[k] /= (double) n;
  return n;
}

/* What one run measured. */
typedef struct
{
  guint  members;
  double rate;
  guint  messages;              /* sent in the whole run */
  guint  measured;              /* sent in the measuring window */
  guint  missing;
  guint  duplicated;
  guint  reordered;
  guint  refused;
  guint  unacked;
  guint  by_timeline;           /* deliveries with a timeline_seq (natter.v2) */
  guint  in_inbox;              /* deliveries with an inbox seq (natter.v1) */
  double deliver_p50, deliver_p90, deliver_p99, deliver_max;
  double first_p50, first_p99;
  double last_p50, last_p99;
  double ack_p50, ack_p99, ack_max;
  double deliveries_per_s;
  double cpu_us_per_delivery;
  double switches_per_delivery; /* natterd's threads' context switches */
  double preempted_share;       /* of which preempted */
  guint64 server_faults, bench_faults; /* minor page faults in the window */
  double server_cpu, bench_cpu;
  double server_wait;           /* ms per s natterd's threads waited for a CPU */
  SchedSample sched_before, sched_after; /* each thread's waits */
  double writer[N_WRITER_COUNTS];  /* natterd's fan-out writer in the window */
  double load;
  double natterd_p99;
  guint  private_acks;
  guint  private_refused;
  double private_p50, private_p99, private_max;
  /* natterd's PublishAck of the private messages (see AckSample) */
  double natterd_ack_p50, natterd_ack_p99;
  double ack_tail_ms[N_ACK_STAGES];
  double ack_tail_over_ms;
  guint64 ack_tail_n;
  double fanout_slices, fanout_yields;  /* natterd's main thread, in the window */
} Result;

/* The run in progress. Sending state belongs to worker 0's thread, which
 * sends every group message; the others only read it once sending stopped. */
static struct
{
  guint      number;            /* of the run, in client_msg_ids; random start */
  guint      members;
  double     rate;
  char      *group_id;
  GPtrArray *senders;           /* worker 0's member connections */
  GArray    *send_time;         /* gint64 per message */
  GArray    *sender;            /* guint32 member index per message */
  GArray    *ack_code;          /* gint32 per message; G_MININT until acked */
  GArray    *ack_latencies;     /* guint32 µs, measured messages */
  guint      in_flight;
  gint64     start;
  gboolean   sending;
  GSource   *tick;
  gint       sent;              /* atomic */
  gint       acked;             /* atomic */
  gint       expected;          /* atomic: deliveries owed by acked messages */
  gint       first_measured;    /* atomic message numbers [first, last) */
  gint       last_measured;     /* atomic */

  /* private open loop, per worker */
  double     private_rate;
} run;

typedef struct
{
  double   rate;
  gint64   start;
  guint64  sent;
  guint    next_sender;
  GSource *tick;
} PrivateLoop;

static PrivateLoop *private_loops;   /* one per worker */

gboolean
group_mode_wanted (void)
{
  return opt_group || opt_group_members >= 0 || opt_group_rate >= 0 || opt_group_sweep != NULL ||
         opt_private_rate >= 0 || opt_head_of_line > 0;
}

static GArray *
group_sizes (void)
{
  GArray *sizes = g_array_new (FALSE, FALSE, sizeof (guint));

  if (opt_group_sweep != NULL)
    {
      g_auto(GStrv) parts = g_strsplit (opt_group_sweep, ",", -1);

      for (guint i = 0; parts[i] != NULL; i++)
        {
          guint64 n = 0;

          if (g_ascii_string_to_unsigned (g_strstrip (parts[i]), 10, 0, 1000000, &n, NULL))
            {
              guint value = (guint) n;
              g_array_append_val (sizes, value);
            }
        }
    }
  else
    {
      guint value = opt_group_members >= 0 ? (guint) opt_group_members : 3000;
      g_array_append_val (sizes, value);
    }
  return sizes;
}

static guint
max_members (void)
{
  g_autoptr(GArray) sizes = group_sizes ();
  guint most = 0;

  for (guint i = 0; i < sizes->len; i++)
    most = MAX (most, g_array_index (sizes, guint, i));
  return most;
}

static guint
private_pairs (void)
{
  return opt_private_rate > 0 ? (guint) opt_pairs : 0;
}

/* The private pairs read on threads of their own by default: on the
 * members' threads, an ack waits behind the bench's own handling of a
 * group message's deliveries (~1,500 a thread for 3,000 members), which
 * measures the bench, not natterd. */
guint
group_mode_private_threads (void)
{
  return private_pairs () > 0 && opt_private_threads > 0 ? (guint) opt_private_threads : 0;
}

guint
group_mode_users (void)
{
  return max_members () + 2 * private_pairs ();
}

gboolean
group_mode_check (GError **error)
{
  g_autoptr(GArray) sizes = NULL;
  struct rlimit limit;
  guint connections;

  /* Alternating runs without and with the group, in one natterd: a
   * first window alone not counted (a fresh database's: on the quiet box
   * its p99 was 5.7 ms against 8.3 and 7.6 in the later alone windows,
   * which made the first round's ratio the worst, #18), then alone and
   * beside the group in turn, ending alone: each group window is compared
   * with the alone windows on both sides of it, so the database's growth
   * over the run does not count as the group's. */
  if (opt_head_of_line > 0 && opt_group_sweep == NULL)
    {
      g_autoptr(GString) sweep = g_string_new ("0");
      guint members = opt_group_members > 1 ? (guint) opt_group_members : 3000;

      for (int i = 0; i < MIN (opt_head_of_line, 50); i++)
        g_string_append_printf (sweep, ",0,%u", members);
      g_string_append (sweep, ",0");
      head_of_line_warmup = TRUE;
      opt_group_sweep = g_string_free (g_steal_pointer (&sweep), FALSE);
      if (opt_private_rate < 0)
        opt_private_rate = 2000;
    }
  sizes = group_sizes ();
  connections = group_mode_users ();
  if (opt_group_rate < 0)
    opt_group_rate = 5;
  if (opt_private_rate < 0)
    opt_private_rate = 0;
  if (sizes->len == 0 || opt_group_window < 1 || opt_threads == 0 || opt_duration < 1 ||
      opt_group_warmup < 0 || (opt_private_rate > 0 && opt_pairs < 1) || opt_private_threads < 0)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--group-sweep needs sizes; --group-window, --threads, --duration and --pairs at least 1");
      return FALSE;
    }
  /* natterd and the bench each hold one descriptor per connection (plus
   * natterd's 256 for SQLite and logs): both must fit the hard limit. */
  if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_max != RLIM_INFINITY &&
      (rlim_t) connections + 512 > limit.rlim_max)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "%u connections do not fit the open-file limit %lu (ulimit -Hn)", connections,
                   (unsigned long) limit.rlim_max);
      return FALSE;
    }
  return TRUE;
}

char *
group_mode_config (void)
{
  GString *config = g_string_new ("[limits]\n");
  struct rlimit limit;
  guint connections = group_mode_users ();

  g_string_append_printf (config, "group-max-members=%u\n", MAX (3000, max_members ()));
  /* natterd takes half of (open-file limit − 256) connections by default
   * (each may also hold a media file); the bench's hold none. */
  if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_max != RLIM_INFINITY &&
      (rlim_t) connections + 64 > (limit.rlim_max - 256) / 2)
    g_string_append_printf (config, "max-connections=%u\n", connections + 64);
  return g_string_free (config, FALSE);
}

/* ----------------------------------------------------------------- frames */

static guint64
timeline_seq (const Natter__Message *message)
{
  static const ProtobufCFieldDescriptor *field;
  static gsize looked_up;

  if (g_once_init_enter (&looked_up))
    {
      field = protobuf_c_message_descriptor_get_field_by_name (&natter__message__descriptor, "timeline_seq");
      if (field != NULL && field->type != PROTOBUF_C_TYPE_UINT64)
        field = NULL;
      g_once_init_leave (&looked_up, 1);
    }
  if (field != NULL)
    return *(const uint64_t *) (const void *) ((const char *) message + field->offset);

  /* Built from natter.v1's natter.proto: the field is unknown here. */
  for (size_t i = 0; i < message->base.n_unknown_fields; i++)
    {
      const ProtobufCMessageUnknownField *unknown = &message->base.unknown_fields[i];
      guint64 value = 0;

      if (unknown->tag != TIMELINE_SEQ_FIELD || unknown->wire_type != PROTOBUF_C_WIRE_TYPE_VARINT)
        continue;
      for (size_t b = 0; b < unknown->len && b < 10; b++)
        value |= (guint64) (unknown->data[b] & 0x7f) << (7 * b);
      return value;
    }
  return 0;
}

static void
send_group_one (void)
{
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__Publish publish = NATTER__PUBLISH__INIT;
  guint m = (guint) g_atomic_int_get (&run.sent);
  Conn *conn = NULL;
  gint64 now;
  guint32 sender;
  gint32 pending = G_MININT;
  char id[32];
  char content[BODY_LENGTH + 48];

  for (guint tries = 0; tries < run.senders->len && conn == NULL; tries++)
    {
      Conn *candidate = g_ptr_array_index (run.senders, (m + tries) % run.senders->len);

      if (candidate->connected)
        conn = candidate;
    }
  if (conn == NULL || m >= GROUP_MAX_MESSAGES)
    return;

  now = g_get_monotonic_time ();
  sender = conn->index;
  g_array_append_val (run.send_time, now);
  g_array_append_val (run.sender, sender);
  g_array_append_val (run.ack_code, pending);

  /* Message number and send time, in a 64-byte body as elsewhere. */
  g_snprintf (content, sizeof content, "{\"content\":\"g=%u t=%020" G_GINT64_FORMAT " natter-bench group\"}",
              m, now);
  /* natterd answers a client_msg_id it saw from this device with the
   * first message, delivering nothing: ids are unique across runs. */
  g_snprintf (id, sizeof id, "g%u-%u", m, run.number);
  publish.client_msg_id = id;
  publish.conversation_type = NATTER_CONVERSATION_GROUP;
  publish.target_id = run.group_id;
  publish.object_name = (char *) NATTER_OBJECT_TEXT;
  publish.content = content;
  frame.body_case = NATTER__FRAME__BODY_PUBLISH;
  frame.publish = &publish;
  g_atomic_int_set (&run.sent, (gint) m + 1);
  run.in_flight++;
  send_frame (conn, &frame);
}

static void
fill_window (void)
{
  guint before;

  do
    {
      before = (guint) g_atomic_int_get (&run.sent);
      if (run.in_flight >= (guint) opt_group_window)
        break;
      send_group_one ();
    }
  while ((guint) g_atomic_int_get (&run.sent) != before);
}

static gboolean
group_tick (gpointer user_data)
{
  double due = run.rate * (double) (g_get_monotonic_time () - run.start) / G_USEC_PER_SEC;

  while ((double) g_atomic_int_get (&run.sent) < due)
    {
      guint before = (guint) g_atomic_int_get (&run.sent);

      send_group_one ();
      if ((guint) g_atomic_int_get (&run.sent) == before)
        break;
    }
  return G_SOURCE_CONTINUE;
}

static void
on_group_ack (const Natter__PublishAck *ack)
{
  char *end = NULL;
  guint64 m = g_ascii_strtoull (ack->client_msg_id + 1, &end, 10);
  gint64 now = g_get_monotonic_time ();

  if (end == ack->client_msg_id + 1 || *end != '-' ||
      g_ascii_strtoull (end + 1, NULL, 10) != run.number || m >= run.ack_code->len || g_array_index (run.ack_code, gint32, m) != G_MININT)
    return;
  g_array_index (run.ack_code, gint32, m) = ack->code;
  g_atomic_int_inc (&run.acked);
  if (ack->code == 0)
    g_atomic_int_add (&run.expected, (gint) run.members - 1);
  else
    g_printerr ("natter-bench: group message %u refused: %d %s\n", (guint) m, ack->code,
                ack->error_message);

  if ((gint) m >= g_atomic_int_get (&run.first_measured) && (gint) m < g_atomic_int_get (&run.last_measured))
    {
      guint32 latency = (guint32) CLAMP (now - g_array_index (run.send_time, gint64, m), 0, G_MAXUINT32);

      g_array_append_val (run.ack_latencies, latency);
    }
  if (run.in_flight > 0)
    run.in_flight--;
  if (run.sending && run.rate <= 0)
    fill_window ();
}

static void
send_private_one (Conn *conn)
{
  Worker *worker = conn->worker;
  NatterFrame frame = NATTER__FRAME__INIT;
  Natter__Publish publish = NATTER__PUBLISH__INIT;
  gint64 now = g_get_monotonic_time ();
  char id[32];
  char content[BODY_LENGTH + 48];

  g_snprintf (id, sizeof id, "p%u-%u", worker->private_sent->len, run.number);
  g_array_append_val (worker->private_sent, now);
  g_snprintf (content, sizeof content, "{\"content\":\"t=%020" G_GINT64_FORMAT " natter-bench private\"}", now);
  publish.client_msg_id = id;
  publish.conversation_type = NATTER_CONVERSATION_PRIVATE;
  publish.target_id = conn->target;
  publish.object_name = (char *) NATTER_OBJECT_TEXT;
  publish.content = content;
  frame.body_case = NATTER__FRAME__BODY_PUBLISH;
  frame.publish = &publish;
  conn->in_flight++;
  send_frame (conn, &frame);
}

static gboolean
private_tick (gpointer user_data)
{
  Worker *worker = user_data;
  PrivateLoop *loop = &private_loops[worker - bench.workers];
  double due = loop->rate * (double) (g_get_monotonic_time () - loop->start) / G_USEC_PER_SEC;

  /* Open loop: what is due is sent (or counted as not sent), whatever
   * the timer's jitter and however late the acks. */
  while ((double) loop->sent < due && worker->senders->len > 0)
    {
      Conn *conn = g_ptr_array_index (worker->senders, loop->next_sender++ % worker->senders->len);

      loop->sent++;
      if (conn->connected && conn->in_flight < OPEN_LOOP_MAX_IN_FLIGHT)
        send_private_one (conn);
    }
  return G_SOURCE_CONTINUE;
}

static void
on_private_ack (Conn                     *conn,
                const Natter__PublishAck *ack)
{
  Worker *worker = conn->worker;
  guint64 k;
  char *end = NULL;

  if (conn->in_flight > 0)
    conn->in_flight--;
  if (ack->code != 0)
    worker->private_refused++;
  if (g_atomic_int_get (&bench.recording) &&
      (k = g_ascii_strtoull (ack->client_msg_id + 1, &end, 10), end != ack->client_msg_id + 1) &&
      k < worker->private_sent->len)
    {
      gint64 latency = g_get_monotonic_time () - g_array_index (worker->private_sent, gint64, k);
      guint32 value = (guint32) CLAMP (latency, 0, G_MAXUINT32);

      g_array_append_val (worker->private_acks, value);
    }
}

static void
on_group_message (Conn                  *conn,
                  const Natter__Message *message)
{
  Worker *worker = conn->worker;
  const char *number = strstr (message->content, "g=");
  const char *stamp = number != NULL ? strstr (number, "t=") : NULL;
  gint64 now = g_get_monotonic_time ();
  guint64 tl = timeline_seq (message);
  guint m;
  gsize byte;
  guint8 bit;

  /* Only this run's group; a copy to the sender itself is not counted. */
  if (stamp == NULL || g_strcmp0 (message->target_id, run.group_id) != 0 ||
      g_strcmp0 (message->sender_user_id, conn->user_id) == 0)
    return;
  m = (guint) g_ascii_strtoull (number + 2, NULL, 10);
  if (m >= GROUP_MAX_MESSAGES)
    return;

  byte = m / 8;
  bit = (guint8) (1u << (m % 8));
  if (byte >= conn->seen_size)
    {
      gsize size = MAX (byte + 1, conn->seen_size * 2);

      conn->seen = g_realloc (conn->seen, size);
      memset (conn->seen + conn->seen_size, 0, size - conn->seen_size);
      conn->seen_size = size;
    }
  if (conn->seen[byte] & bit)
    {
      conn->duplicated++;
      return;
    }
  conn->seen[byte] |= bit;
  g_atomic_int_inc (&worker->group_unique);

  /* natter.v2 numbers the group's timeline; natter.v1 only has the
   * commit time (ms) to order by. */
  if (tl > 0)
    {
      worker->group_by_timeline++;
      if (tl <= conn->last_timeline_seq)
        conn->reordered++;
      else
        conn->last_timeline_seq = tl;
    }
  else if (message->sent_time < conn->last_sent_time)
    conn->reordered++;
  else
    conn->last_sent_time = message->sent_time;

  if (g_atomic_int_get (&bench.counting))
    g_atomic_int_inc (&worker->delivered);
  if ((gint) m >= g_atomic_int_get (&run.first_measured) && (gint) m < g_atomic_int_get (&run.last_measured))
    {
      gint64 latency = now - g_ascii_strtoll (stamp + 2, NULL, 10);
      guint32 value = (guint32) CLAMP (latency, 0, G_MAXUINT32);

      g_array_append_val (worker->group_latencies, value);
      if (m >= worker->group_last->len)
        g_array_set_size (worker->group_last, MAX (m + 1, worker->group_last->len * 2));
      g_array_index (worker->group_last, gint64, m) = now;
      if (m >= worker->group_first->len)
        g_array_set_size (worker->group_first, MAX (m + 1, worker->group_first->len * 2));
      if (g_array_index (worker->group_first, gint64, m) == 0)
        g_array_index (worker->group_first, gint64, m) = now;
    }
}

void
group_on_frame (Conn              *conn,
                const NatterFrame *frame)
{
  switch (frame->body_case)
    {
    case NATTER__FRAME__BODY_PUBLISH_ACK:
      if (frame->publish_ack->client_msg_id[0] == 'g')
        on_group_ack (frame->publish_ack);
      else
        on_private_ack (conn, frame->publish_ack);
      break;

    case NATTER__FRAME__BODY_DELIVER:
      /* natter.v1 puts group messages in the inbox: acked as any client
       * would; natter.v2's come with seq 0, nothing to ack. */
      if (frame->deliver->seq > 0)
        ack_later (conn, frame->deliver->seq);
      if (frame->deliver->message != NULL &&
          frame->deliver->message->conversation_type == NATTER_CONVERSATION_GROUP)
        {
          if (frame->deliver->seq > 0)
            conn->worker->group_in_inbox++;
          on_group_message (conn, frame->deliver->message);
        }
      break;

    default:
      break;
    }
}

/* ---------------------------------------------------- run, in the workers */

static void
reset_run (Worker  *worker,
           gpointer data)
{
  for (guint i = 0; i < worker->conns->len; i++)
    {
      Conn *conn = g_ptr_array_index (worker->conns, i);

      g_clear_pointer (&conn->seen, g_free);
      conn->seen_size = 0;
      conn->last_timeline_seq = 0;
      conn->last_sent_time = 0;
      conn->duplicated = 0;
      conn->reordered = 0;
    }
  g_array_set_size (worker->group_latencies, 0);
  g_array_set_size (worker->group_last, 0);
  g_array_set_size (worker->group_first, 0);
  g_array_set_size (worker->private_acks, 0);
  g_atomic_int_set (&worker->group_unique, 0);
  worker->group_by_timeline = 0;
  worker->group_in_inbox = 0;
  g_atomic_int_set (&worker->delivered, 0);
  worker->private_refused = 0;

  if (worker == &bench.workers[0])
    {
      g_ptr_array_set_size (run.senders, 0);
      for (guint i = 0; i < worker->conns->len; i++)
        {
          Conn *conn = g_ptr_array_index (worker->conns, i);

          if (conn->role == ROLE_IDLE && conn->index < run.members)
            g_ptr_array_add (run.senders, conn);
        }
      g_array_set_size (run.send_time, 0);
      g_array_set_size (run.sender, 0);
      g_array_set_size (run.ack_code, 0);
      g_array_set_size (run.ack_latencies, 0);
      run.in_flight = 0;
    }
}

static void
start_sending (Worker  *worker,
               gpointer data)
{
  PrivateLoop *loop = &private_loops[worker - bench.workers];

  if (worker == &bench.workers[0] && run.members > 1)
    {
      run.sending = TRUE;
      run.start = g_get_monotonic_time ();
      if (run.rate > 0)
        {
          run.tick = g_timeout_source_new (1);
          g_source_set_callback (run.tick, group_tick, NULL, NULL);
          g_source_attach (run.tick, worker->context);
        }
      else
        fill_window ();
    }
  if (run.private_rate > 0 && worker->senders->len > 0)
    {
      loop->rate = run.private_rate * worker->senders->len / private_pairs ();
      loop->start = g_get_monotonic_time ();
      loop->sent = 0;
      loop->tick = g_timeout_source_new (1);
      g_source_set_callback (loop->tick, private_tick, worker, NULL);
      g_source_attach (loop->tick, worker->context);
    }
}

static void
stop_sending (Worker  *worker,
              gpointer data)
{
  PrivateLoop *loop = &private_loops[worker - bench.workers];

  if (worker == &bench.workers[0])
    {
      run.sending = FALSE;
      if (run.tick != NULL)
        {
          g_source_destroy (run.tick);
          g_clear_pointer (&run.tick, g_source_unref);
        }
    }
  if (loop->tick != NULL)
    {
      g_source_destroy (loop->tick);
      g_clear_pointer (&loop->tick, g_source_unref);
    }
}

typedef struct
{
  Result *result;
  GArray *deliveries;           /* guint32 µs */
  GArray *last;                 /* gint64 per message */
  GArray *private_acks;         /* guint32 µs */
  GArray *acks;                 /* guint32 µs, the sender's */
  GArray *first;                /* gint64 per message: its first delivery */
} Gathered;

static void
gather (Worker  *worker,
        gpointer data)
{
  Gathered *gathered = data;
  guint sent = (guint) g_atomic_int_get (&run.sent);

  for (guint i = 0; i < worker->conns->len; i++)
    {
      Conn *conn = g_ptr_array_index (worker->conns, i);

      if (conn->role != ROLE_IDLE || conn->index >= run.members)
        continue;
      gathered->result->duplicated += conn->duplicated;
      gathered->result->reordered += conn->reordered;
      for (guint m = 0; m < sent; m++)
        if (g_array_index (run.ack_code, gint32, m) == 0 &&
            g_array_index (run.sender, guint32, m) != conn->index &&
            (m / 8 >= conn->seen_size || !(conn->seen[m / 8] & (1u << (m % 8)))))
          gathered->result->missing++;
    }
  g_array_append_vals (gathered->deliveries, worker->group_latencies->data, worker->group_latencies->len);
  for (guint m = 0; m < worker->group_last->len && m < gathered->last->len; m++)
    {
      gint64 *last = &g_array_index (gathered->last, gint64, m);

      *last = MAX (*last, g_array_index (worker->group_last, gint64, m));
    }
  for (guint m = 0; m < worker->group_first->len && m < gathered->first->len; m++)
    {
      gint64 *first = &g_array_index (gathered->first, gint64, m);
      gint64 here = g_array_index (worker->group_first, gint64, m);

      if (here > 0 && (*first == 0 || here < *first))
        *first = here;
    }
  g_array_append_vals (gathered->private_acks, worker->private_acks->data, worker->private_acks->len);
  if (worker == &bench.workers[0])
    g_array_append_vals (gathered->acks, run.ack_latencies->data, run.ack_latencies->len);
  gathered->result->private_refused += worker->private_refused;
  gathered->result->by_timeline += worker->group_by_timeline;
  gathered->result->in_inbox += worker->group_in_inbox;
}

static int
total_unique (void)
{
  int total = 0;

  for (guint i = 0; i < bench.n_workers; i++)
    total += g_atomic_int_get (&bench.workers[i].group_unique);
  return total;
}

static int
open_now (void)
{
  int total = 0;

  for (guint i = 0; i < bench.n_workers; i++)
    total += g_atomic_int_get (&bench.workers[i].connected);
  return total;
}

static int
total_delivered (void)
{
  int total = 0;

  for (guint i = 0; i < bench.n_workers; i++)
    total += g_atomic_int_get (&bench.workers[i].delivered);
  return total;
}

static void
measure (SoupSession *session,
         guint        members,
         Result      *result)
{
  g_autoptr(GArray) deliveries = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_autoptr(GArray) last = g_array_new (FALSE, TRUE, sizeof (gint64));
  g_autoptr(GArray) lasts = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_autoptr(GArray) first_at = g_array_new (FALSE, TRUE, sizeof (gint64));
  g_autoptr(GArray) firsts = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_autoptr(GArray) acks = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_autoptr(GArray) private_acks = g_array_new (FALSE, FALSE, sizeof (guint32));
  Histogram before = { 0 }, after = { 0 };
  AckSample acks_before, acks_after;
  double writer_before[N_WRITER_COUNTS];
  Gathered gathered = { result, deliveries, last, private_acks, acks, first_at };
  gint64 deadline;
  guint first, end, sent;
  int delivered;
  Sample a, b;

  memset (result, 0, sizeof *result);
  result->members = members;
  result->rate = run.rate;
  run.members = members;
  run.number++;
  g_atomic_int_set (&run.sent, 0);
  g_atomic_int_set (&run.acked, 0);
  g_atomic_int_set (&run.expected, 0);
  g_atomic_int_set (&run.first_measured, G_MAXINT);
  g_atomic_int_set (&run.last_measured, G_MAXINT);
  on_workers (reset_run, NULL);

  on_workers (start_sending, NULL);
  sleep_main ((guint) opt_group_warmup);

  /* The measuring window: messages sent in it, deliveries and CPU in it. */
  on_workers (reset_latencies, NULL);
  for (guint i = 0; i < bench.n_workers; i++)
    g_atomic_int_set (&bench.workers[i].delivered, 0);
  {
    g_autofree char *text = fetch_metrics (session);

    parse_histogram (text, "natterd_publish_latency_seconds", &before);
    fetch_acks (text, &acks_before);
    result->fanout_slices = -metric_value (text, "natterd_fanout_slices_total{of=\"slices\"}");
    result->fanout_yields = -metric_value (text, "natterd_fanout_slices_total{of=\"yielded\"}");
  }
  fetch_writer (session, writer_before);
  g_atomic_int_set (&run.first_measured, g_atomic_int_get (&run.sent));
  g_atomic_int_set (&bench.recording, TRUE);
  g_atomic_int_set (&bench.counting, TRUE);
  sched_sample (&result->sched_before);
  a = sample ();
  sleep_main ((guint) opt_duration);
  g_atomic_int_set (&run.last_measured, g_atomic_int_get (&run.sent));
  g_atomic_int_set (&bench.counting, FALSE);
  b = sample ();
  sched_sample (&result->sched_after);
  delivered = total_delivered ();
  {
    g_autofree char *text = fetch_metrics (session);

    parse_histogram (text, "natterd_publish_latency_seconds", &after);
    fetch_acks (text, &acks_after);
    result->fanout_slices += metric_value (text, "natterd_fanout_slices_total{of=\"slices\"}");
    result->fanout_yields += metric_value (text, "natterd_fanout_slices_total{of=\"yielded\"}");
  }
  fetch_writer (session, result->writer);
  for (guint i = 0; i < N_WRITER_COUNTS; i++)
    result->writer[i] -= writer_before[i];
  on_workers (stop_sending, NULL);

  /* Whatever was sent is acked and delivered before anything is judged. */
  deadline = g_get_monotonic_time () + DRAIN_TIMEOUT_S * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline &&
         (g_atomic_int_get (&run.acked) < g_atomic_int_get (&run.sent) ||
          total_unique () < g_atomic_int_get (&run.expected)))
    g_usleep (10000);
  g_usleep (200000);               /* late duplicates and private acks */
  g_atomic_int_set (&bench.recording, FALSE);

  first = (guint) g_atomic_int_get (&run.first_measured);
  end = (guint) g_atomic_int_get (&run.last_measured);
  sent = (guint) g_atomic_int_get (&run.sent);
  g_array_set_size (last, sent);
  g_array_set_size (first_at, sent);
  on_workers (gather, &gathered);

  result->messages = sent;
  result->measured = end - first;
  result->unacked = sent - (guint) g_atomic_int_get (&run.acked);
  for (guint m = 0; m < sent; m++)
    if (g_array_index (run.ack_code, gint32, m) != 0 && g_array_index (run.ack_code, gint32, m) != G_MININT)
      result->refused++;
  for (guint m = first; m < end && m < sent; m++)
    {
      gint64 at = g_array_index (last, gint64, m);

      if (at > 0 && g_array_index (run.ack_code, gint32, m) == 0)
        {
          guint32 value = (guint32) CLAMP (at - g_array_index (run.send_time, gint64, m), 0, G_MAXUINT32);
          g_array_append_val (lasts, value);
          at = g_array_index (first_at, gint64, m);
          value = (guint32) CLAMP (at - g_array_index (run.send_time, gint64, m), 0, G_MAXUINT32);
          g_array_append_val (firsts, value);
        }
    }

  g_array_sort (deliveries, compare_u32);
  g_array_sort (lasts, compare_u32);
  g_array_sort (firsts, compare_u32);
  g_array_sort (acks, compare_u32);
  g_array_sort (private_acks, compare_u32);
  result->deliver_p50 = percentile (deliveries, 50);
  result->deliver_p90 = percentile (deliveries, 90);
  result->deliver_p99 = percentile (deliveries, 99);
  result->deliver_max = percentile (deliveries, 100);
  result->first_p50 = percentile (firsts, 50);
  result->first_p99 = percentile (firsts, 99);
  result->last_p50 = percentile (lasts, 50);
  result->last_p99 = percentile (lasts, 99);
  result->ack_p50 = percentile (acks, 50);
  result->ack_p99 = percentile (acks, 99);
  result->ack_max = percentile (acks, 100);
  result->deliveries_per_s = delivered / ((double) (b.wall - a.wall) / G_USEC_PER_SEC);
  result->cpu_us_per_delivery = delivered > 0 ? (double) (b.server_cpu - a.server_cpu) / delivered : NAN;
  {
    guint64 voluntary = b.server_voluntary - a.server_voluntary;
    guint64 preempted = b.server_preempted - a.server_preempted;

    result->switches_per_delivery = delivered > 0 ? (double) (voluntary + preempted) / delivered : NAN;
    result->preempted_share = voluntary + preempted > 0 ? (double) preempted / (double) (voluntary + preempted) : 0;
  }
  result->server_faults = b.server_faults - a.server_faults;
  result->bench_faults = b.bench_faults - a.bench_faults;
  cpu_between (&a, &b, &result->server_cpu, &result->bench_cpu);
  result->server_wait = (double) (b.server_wait - a.server_wait) / ((double) (b.wall - a.wall) / 1000.0);
  result->load = load_average ();
  result->natterd_p99 = histogram_percentile (&before, &after, 99);
  result->private_acks = private_acks->len;
  result->private_p50 = percentile (private_acks, 50);
  result->private_p99 = percentile (private_acks, 99);
  result->private_max = percentile (private_acks, 100);
  result->natterd_ack_p50 = ack_percentile (&acks_before, &acks_after, 50);
  result->natterd_ack_p99 = ack_percentile (&acks_before, &acks_after, 99);
  result->ack_tail_n = ack_tail (&acks_before, &acks_after, result->ack_tail_ms, &result->ack_tail_over_ms);
}

/* Where a delivery's CPU went (#18: the rounds at 10,000 members varied
 * 8.7–11.3 µs): natterd's fan-out writer and main thread; the writer's
 * sends per delivery and frames per send (messages overlapping go
 * together), sends the kernel took only part of or nothing of (buffers
 * full: a retry on EPOLLOUT), its batches, io_uring_enter() calls; and
 * how often the receivers were woken (each wake-up is the sender's work
 * on loopback: fewer when they are busy anyway). */
static void
print_delivery_costs (const Result *r)
{
  const SchedSample *a = &r->sched_before, *b = &r->sched_after;
  double delivered = r->deliveries_per_s * (double) (b->wall - a->wall) / G_USEC_PER_SEC;
  double writer_us, writer_runs, main_us, main_runs, bench_us, bench_runs;
  const double *w = r->writer;

  if (delivered <= 0)
    return;
  thread_between (a->server, a->n_server, b->server, b->n_server, "natterd-fanout", &writer_us, &writer_runs);
  thread_between (a->server, a->n_server, b->server, b->n_server, "main", &main_us, &main_runs);
  thread_between (a->self, a->n_self, b->self, b->n_self, "bench-worker", &bench_us, &bench_runs);
  g_print ("  natterd CPU a delivery: fan-out writer %.2f us (%.3f runs), main thread %.2f us (%.3f runs); "
           "bench's receivers %.2f us, woken %.3f times a delivery\n",
           writer_us / delivered, writer_runs / delivered, main_us / delivered, main_runs / delivered,
           bench_us / delivered, bench_runs / delivered);
  if (!isnan (w[WRITER_SENDS]))
    g_print ("  fan-out writer: %.3f sends a delivery, %.2f frames a send, %.0f short and %.0f would-block "
             "sends (%.4f a delivery), %.0f batches (%.0f sends each), %.3f io_uring_enter() a delivery\n",
             w[WRITER_SENDS] / delivered, w[WRITER_SENDS] > 0 ? w[WRITER_FRAMES] / w[WRITER_SENDS] : 0,
             w[WRITER_SHORT], w[WRITER_WOULD_BLOCK], (w[WRITER_SHORT] + w[WRITER_WOULD_BLOCK]) / delivered,
             w[WRITER_BATCHES], w[WRITER_BATCHES] > 0 ? w[WRITER_SENDS] / w[WRITER_BATCHES] : 0,
             w[WRITER_ENTERS] / delivered);
}

static void
print_result (const Result *r)
{
  if (r->members > 1)
    {
      g_autofree char *rate = r->rate > 0 ? g_strdup_printf ("%.0f msgs/s", r->rate)
                                          : g_strdup_printf ("saturation, %d in flight", opt_group_window);

      g_print ("group %u members, %s: %u messages measured (%u sent), %.0f deliveries/s\n",
               r->members, rate, r->measured, r->messages, r->deliveries_per_s);
      g_print ("  publish -> delivery (every message x member): p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, "
               "max %.1f ms\n", r->deliver_p50, r->deliver_p90, r->deliver_p99, r->deliver_max);
      /* Where a delivery's time goes: before the fan-out (commit, ack,
       * queueing) against the fan-out's spread (first to last member). */
      g_print ("  publish -> first member: p50 %.1f ms, p99 %.1f ms\n", r->first_p50, r->first_p99);
      g_print ("  publish -> last member: p50 %.1f ms, p99 %.1f ms\n", r->last_p50, r->last_p99);
      g_print ("  sender PublishAck: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", r->ack_p50, r->ack_p99,
               r->ack_max);
      g_print ("  exactly once: missing %u, duplicated %u, reordered %u (refused %u, unacked %u; "
               "%u deliveries ordered by timeline_seq, %u inbox entries acked)\n",
               r->missing, r->duplicated, r->reordered, r->refused, r->unacked, r->by_timeline,
               r->in_inbox);
      g_print ("  natterd CPU %.1f us per delivery (natterd %.0f%%, bench %.0f%% of a core)\n",
               r->cpu_us_per_delivery, r->server_cpu, r->bench_cpu);
      /* Each one a wake-up or a preemption, which cost more on a quiet
       * box (an idle CPU woken) than on a busy one (#18). */
      g_print ("  natterd context switches: %.3f per delivery (%.0f%% preempted)\n",
               r->switches_per_delivery,
               100.0 * r->preempted_share);
      print_delivery_costs (r);
    }
  if (run.private_rate > 0)
    g_print ("private %.0f msgs/s offered%s: %u acked, PublishAck p50 %.2f ms, p99 %.2f ms, max %.1f ms "
             "(refused %u)\n",
             run.private_rate, r->members > 1 ? " beside the group" : " alone", r->private_acks,
             r->private_p50, r->private_p99, r->private_max, r->private_refused);
  if (run.private_rate > 0 && !isnan (r->natterd_ack_p99))
    {
      g_print ("  natterd's PublishAck (private; frame read -> ack written, in its buckets): p50 %.2f ms, "
               "p99 %.2f ms; the bench's share of the p99: %.2f ms\n",
               r->natterd_ack_p50, r->natterd_ack_p99, r->private_p99 - r->natterd_ack_p99);
      if (r->ack_tail_n > 0)
        {
          g_print ("  natterd's slowest 1 %% of them (%" G_GUINT64_FORMAT ", over %.2f ms): mean ms",
                   r->ack_tail_n, r->ack_tail_over_ms);
          for (guint k = 0; k < N_ACK_STAGES; k++)
            g_print (" %s %.3f", ack_stages[k], r->ack_tail_ms[k]);
          g_print (" (in-order: of wakeup, waiting for the batches before; fanout: the main thread in "
                   "fan-out slices from the completion queued to the ack written)");
          if (!isnan (r->fanout_slices) && r->fanout_slices > 0)
            g_print ("; the main thread's fan-out slices: %.0f, %.0f of them stopped early for acks",
                     r->fanout_slices, r->fanout_yields);
          g_print ("\n");
        }
    }
  /* First-touch work (heap and kernel buffers growing) shows as faults: a
   * first round paying for it has more than the later ones (#18). */
  g_print ("  minor page faults in the window: natterd %" G_GUINT64_FORMAT ", bench %" G_GUINT64_FORMAT "\n",
           r->server_faults, r->bench_faults);
  g_print ("  natterd alone (Publish -> durable PublishAck, /metrics buckets, every publish): p99 <= %.1f ms\n",
           r->natterd_p99);
  g_print ("  machine: natterd's threads waited %.0f ms per s for a CPU; load average %.2f\n",
           r->server_wait, r->load);
  print_sched (&r->sched_before, &r->sched_after);
}

static gboolean
create_group (SoupSession *session,
              guint        members,
              GError     **error)
{
  g_free (run.group_id);
  run.group_id = g_strdup_printf ("bench-g%u", members);

  /* group/create takes at most 1,000 userIds a call; again adds more. */
  for (guint first = 0; first < members; first += 1000)
    {
      g_autoptr(GString) body = g_string_new (NULL);
      g_autoptr(JsonObject) reply = NULL;

      g_string_append_printf (body, "groupId=%s&groupName=%s", run.group_id, run.group_id);
      for (guint i = first; i < MIN (members, first + 1000); i++)
        g_string_append_printf (body, "&userId=u%u", i);
      reply = api_post (session, "group/create.json", body->str, error);
      if (reply == NULL)
        return FALSE;
    }
  return TRUE;
}

static gboolean
result_ok (const Result *r)
{
  return r->missing == 0 && r->duplicated == 0 && r->reordered == 0 && r->refused == 0 &&
         r->unacked == 0 && r->private_refused == 0;
}

static int
compare_double (gconstpointer a,
                gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y ? 1 : 0;
}

int
group_mode_run (SoupSession *session)
{
  g_autoptr(GArray) sizes = group_sizes ();
  g_autoptr(GArray) results = g_array_new (FALSE, TRUE, sizeof (Result));
  g_autoptr(GError) error = NULL;
  guint most = max_members ();
  guint pairs = private_pairs ();
  int status = 0;
  Sample a, b;
  double server_cpu, bench_cpu;

  /* Another bench against the same natterd (--url) sends other ids. */
  run.number = (guint) g_random_int_range (1, 1 << 30);
  run.rate = opt_group_rate;
  run.private_rate = opt_private_rate;
  run.senders = g_ptr_array_new ();
  run.send_time = g_array_new (FALSE, FALSE, sizeof (gint64));
  run.sender = g_array_new (FALSE, FALSE, sizeof (guint32));
  run.ack_code = g_array_new (FALSE, FALSE, sizeof (gint32));
  run.ack_latencies = g_array_new (FALSE, FALSE, sizeof (guint32));
  private_loops = g_new0 (PrivateLoop, bench.n_workers);

  /* Members u0…, then private senders and their receivers. */
  {
    guint own = group_mode_private_threads ();
    OpenSpec members = { 0, most, ROLE_IDLE, 0, 0, (guint) opt_threads };
    OpenSpec receivers = { most + pairs, pairs, ROLE_RECEIVER, 0, own > 0 ? (guint) opt_threads : 0, own };
    OpenSpec senders = { most, pairs, ROLE_SENDER, (int) pairs, own > 0 ? (guint) opt_threads : 0, own };
    guint total = most + 2 * pairs;

    a = sample ();
    on_workers (raw_open_conns, &members);
    on_workers (raw_open_conns, &receivers);
    on_workers (raw_open_conns, &senders);
    if (!wait_connected ((int) total, 60 + total / 50) || connected_total () < (int) total)
      {
        g_printerr ("natter-bench: only %d of %u connections up\n", connected_total (), total);
        return 1;
      }
    b = sample ();
    cpu_between (&a, &b, &server_cpu, &bench_cpu);
    g_print ("connected: %u members and %u private pairs in %.1f s (natterd CPU %.0f%%, bench CPU %.0f%%; "
             "%u client threads, each its own GMainContext and share of the connections; %s)\n",
             most, pairs, (double) (b.wall - a.wall) / G_USEC_PER_SEC, server_cpu, bench_cpu, bench.n_workers,
             own > 0 ? "the private pairs on threads of their own" : "the private pairs share the members' threads");
  }

  for (guint i = 0; i < sizes->len; i++)
    {
      guint members = g_array_index (sizes, guint, i);
      Result result;

      if (members > 1)
        {
          gint64 start = g_get_monotonic_time ();

          if (!create_group (session, members, &error))
            {
              g_printerr ("natter-bench: %s\n", error->message);
              return 1;
            }
          g_print ("group %s: %u members added in %.1f s\n", run.group_id, members,
                   (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC);
        }
      else
        g_clear_pointer (&run.group_id, g_free);

      measure (session, members, &result);
      print_result (&result);
      if ((guint) open_now () < most + 2 * pairs)
        g_printerr ("natter-bench: %d of %u connections still open (natterd closed the others)\n",
                    open_now (), most + 2 * pairs);
      if (!result_ok (&result))
        {
          g_printerr ("natter-bench: group %u members: deliveries not exactly once, or refused\n", members);
          status = 1;
        }
      g_array_append_val (results, result);
      sleep_main (1);
    }

  if (results->len > 1)
    {
      g_print ("\n| members | sender ack p50 / p99 ms | ack p50 per member us | delivery p50 / p99 ms | "
               "last member p50 ms | natterd CPU us / delivery | missing/dup/reordered |\n"
               "|---|---|---|---|---|---|---|\n");
      for (guint i = 0; i < results->len; i++)
        {
          const Result *r = &g_array_index (results, Result, i);

          if (r->members < 2)
            continue;
          g_print ("| %u | %.1f / %.1f | %.1f | %.1f / %.1f | %.1f | %.1f | %u/%u/%u |\n", r->members,
                   r->ack_p50, r->ack_p99, r->ack_p50 * 1000.0 / r->members, r->deliver_p50,
                   r->deliver_p99, r->last_p50, r->cpu_us_per_delivery, r->missing, r->duplicated,
                   r->reordered);
        }
    }

  /* Each run with the group against the runs alone before and after it
   * (--head-of-line: the first window alone is a warm-up, not counted). */
  if (run.private_rate > 0)
    {
      g_autoptr(GArray) ratios = g_array_new (FALSE, FALSE, sizeof (double));
      g_autoptr(GArray) natterd_ratios = g_array_new (FALSE, FALSE, sizeof (double));
      const Result *alone = NULL;
      guint first = 0;

      if (head_of_line_warmup && results->len > 0)
        {
          g_print ("head-of-line: warm-up window alone (not counted): PublishAck p50/p99 %.2f/%.2f ms\n",
                   g_array_index (results, Result, 0).private_p50,
                   g_array_index (results, Result, 0).private_p99);
          first = 1;
        }
      for (guint i = first; i < results->len; i++)
        {
          const Result *r = &g_array_index (results, Result, i);
          const Result *after = i + 1 < results->len ? &g_array_index (results, Result, i + 1) : NULL;
          double ratio, base;

          if (r->members < 2)
            {
              alone = r;
              continue;
            }
          if (alone == NULL || alone->private_p99 <= 0)
            continue;
          if (after != NULL && (after->members >= 2 || after->private_p99 <= 0))
            after = NULL;
          base = after != NULL ? (alone->private_p99 + after->private_p99) / 2 : alone->private_p99;
          ratio = r->private_p99 / base;
          g_array_append_val (ratios, ratio);
          g_print ("head-of-line: private %.0f msgs/s PublishAck p50/p99 %.2f/%.2f ms alone before, "
                   "%.2f/%.2f ms beside the %u-member group at %.0f msgs/s",
                   run.private_rate, alone->private_p50, alone->private_p99, r->private_p50, r->private_p99,
                   r->members, run.rate);
          if (after != NULL)
            g_print (", %.2f/%.2f ms alone after", after->private_p50, after->private_p99);
          g_print (": p99 ratio %.2f to the alone p99%s (%.2f to the one before; target <= 1.5)\n", ratio,
                   after != NULL ? "s' mean" : "", r->private_p99 / alone->private_p99);
          /* The same in natterd (frame read to ack written): what is left
           * of the ratio without the loopback and the bench's receiving. */
          base = after != NULL && !isnan (after->natterd_ack_p99) ?
                 (alone->natterd_ack_p99 + after->natterd_ack_p99) / 2 : alone->natterd_ack_p99;
          if (base > 0)
            {
              double in_natterd = r->natterd_ack_p99 / base;

              g_array_append_val (natterd_ratios, in_natterd);
              g_print ("head-of-line: in natterd, PublishAck p99 %.2f ms alone before, %.2f ms beside the group",
                       alone->natterd_ack_p99, r->natterd_ack_p99);
              if (after != NULL)
                g_print (", %.2f ms alone after", after->natterd_ack_p99);
              g_print (": p99 ratio %.2f (its slowest 1 %%, mean ms: wait %.3f, sync %.3f, wakeup %.3f (of it "
                       "in-order %.3f), ack %.3f; fan-out slices within wakeup and ack %.3f)\n", in_natterd,
                       r->ack_tail_ms[ACK_WAIT], r->ack_tail_ms[ACK_SYNC] + r->ack_tail_ms[ACK_SYNC_CHECKPOINT],
                       r->ack_tail_ms[ACK_WAKEUP], r->ack_tail_ms[ACK_IN_ORDER], r->ack_tail_ms[ACK_ACK],
                       r->ack_tail_ms[ACK_FANOUT]);
            }
          alone = NULL;
        }
      if (ratios->len > 1)
        {
          g_array_sort (ratios, compare_double);
          g_print ("head-of-line: p99 ratio median %.2f over %u rounds (min %.2f, max %.2f)\n",
                   g_array_index (ratios, double, ratios->len / 2), ratios->len, g_array_index (ratios, double, 0),
                   g_array_index (ratios, double, ratios->len - 1));
        }
      if (natterd_ratios->len > 1)
        {
          g_array_sort (natterd_ratios, compare_double);
          g_print ("head-of-line: in natterd, p99 ratio median %.2f over %u rounds (min %.2f, max %.2f)\n",
                   g_array_index (natterd_ratios, double, natterd_ratios->len / 2), natterd_ratios->len,
                   g_array_index (natterd_ratios, double, 0),
                   g_array_index (natterd_ratios, double, natterd_ratios->len - 1));
        }
    }

  on_workers (stop_sending, NULL);
  on_workers (close_conns, NULL);
  sleep_main (1);
  return status;
}
