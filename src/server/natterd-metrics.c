/* natterd-metrics.c — GET /metrics, Prometheus text format 0.0.4
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-server-private.h"
#include "natterd-store-sqlite.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

const double natterd_latency_buckets[NATTERD_HISTOGRAM_BUCKETS] = {
  0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10,
};

const double natterd_size_buckets[NATTERD_HISTOGRAM_BUCKETS] = {
  1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192,
};

static const double stage_buckets[NATTERD_STAGE_BUCKETS] = {
  0.00001, 0.000025, 0.00005, 0.000075, 0.0001, 0.00015, 0.0002, 0.0003, 0.0004, 0.0005,
  0.0006, 0.0008, 0.001, 0.00125, 0.0015, 0.002, 0.0025, 0.003, 0.004, 0.005, 0.006, 0.008,
  0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10,
};

G_STATIC_ASSERT (NATTERD_WAL_FDATASYNC_BUCKETS == NATTERD_HISTOGRAM_BUCKETS);

static const char * const stage_names[NATTERD_N_STAGES] = {
  [NATTERD_STAGE_PARSE] = "parse",
  [NATTERD_STAGE_WAIT] = "wait",
  [NATTERD_STAGE_SQL] = "sql",
  [NATTERD_STAGE_SYNC] = "sync",
  [NATTERD_STAGE_SYNC_SHARED] = "sync-checkpoint",
  [NATTERD_STAGE_WAKEUP] = "wakeup",
  [NATTERD_STAGE_DELIVER] = "deliver",
  [NATTERD_STAGE_TOTAL] = "total",
};

/* A PublishAck's stages ("ack" for "deliver", in NatterdStage's order),
 * then its tail's two parts of wakeup. */
static const char * const ack_stage_names[NATTERD_N_STAGES + 2] = {
  "parse", "wait", "sql", "sync", "sync-checkpoint", "wakeup", "ack", "total", "in-order", "fanout",
};

/* The first of @bounds not below @value; @n_bounds: past them all (a
 * binary search: seven stages of 34 bounds for every message delivered,
 * a latency for every Publish and query). */
static guint
bucket_of (const double *bounds,
           guint         n_bounds,
           double        value)
{
  guint i = 0, end = n_bounds;

  while (i < end)
    {
      guint mid = i + (end - i) / 2;

      if (value > bounds[mid])
        i = mid + 1;
      else
        end = mid;
    }
  return i;
}

/* Either kind of histogram: @counts has @n_bounds + 1 buckets. Returns
 * @value's. */
static guint
observe (guint64      *counts,
         guint64      *count,
         double       *sum,
         const double *bounds,
         guint         n_bounds,
         double        value)
{
  guint bucket = bucket_of (bounds, n_bounds, value);

  counts[bucket]++;
  (*count)++;
  *sum += value;
  return bucket;
}

static guint
stage_observe (NatterdStageHistogram *h,
               gint64                 us)
{
  return observe (h->counts, &h->count, &h->sum, stage_buckets, NATTERD_STAGE_BUCKETS,
                  (double) MAX (us, 0) / G_USEC_PER_SEC);
}

/* @s's stages into @us; returns the largest (total aside). */
static guint
stage_times (const NatterdStageStamps *s,
             gint64                    written,
             gint64                    us[NATTERD_N_STAGES])
{
  guint largest = NATTERD_STAGE_PARSE;

  memset (us, 0, sizeof (gint64) * NATTERD_N_STAGES);
  us[NATTERD_STAGE_PARSE] = s->queued - s->read;
  us[NATTERD_STAGE_WAIT] = s->taken - s->queued;
  us[NATTERD_STAGE_SQL] = s->committed - s->taken - s->synced_us;
  us[s->sync_shared ? NATTERD_STAGE_SYNC_SHARED : NATTERD_STAGE_SYNC] = s->synced_us;
  us[NATTERD_STAGE_WAKEUP] = s->resumed - s->committed;
  us[NATTERD_STAGE_DELIVER] = written - s->resumed;
  us[NATTERD_STAGE_TOTAL] = written - s->read;
  for (guint i = 0; i < NATTERD_N_STAGES; i++)
    if (i != NATTERD_STAGE_TOTAL && us[i] > us[largest])
      largest = i;
  return largest;
}

/* Each stage's histogram (the sync kind not taken aside); the total's bucket. */
static guint
observe_times (NatterdStageHistogram     h[NATTERD_N_STAGES],
               const NatterdStageStamps *s,
               const gint64              us[NATTERD_N_STAGES])
{
  guint total_bucket = 0;

  for (guint i = 0; i < NATTERD_N_STAGES; i++)
    if (i != (s->sync_shared ? NATTERD_STAGE_SYNC : NATTERD_STAGE_SYNC_SHARED))
      {
        guint bucket = stage_observe (&h[i], us[i]);

        if (i == NATTERD_STAGE_TOTAL)
          total_bucket = bucket;
      }
  return total_bucket;
}

void
natterd_metrics_observe_stages (NatterdMetrics           *metrics,
                                const NatterdStageStamps *s,
                                gint64                    written)
{
  gint64 us[NATTERD_N_STAGES];
  guint largest = stage_times (s, written, us);
  guint total_bucket = observe_times (metrics->publish_stages, s, us);

  /* The tail's own breakdown: a stage's p99 alone does not say whether
   * the slow messages are slow in it. By the total's bucket too, so the
   * bench can take whichever buckets its p99 or p99.9 falls in. */
  if (total_bucket < NATTERD_TAIL_FIRST_BUCKET)
    return;
  for (guint i = 0; i < NATTERD_N_STAGES; i++)
    metrics->tail_us[total_bucket - NATTERD_TAIL_FIRST_BUCKET][i] += (guint64) MAX (us[i], 0);
  metrics->tail_largest[total_bucket - NATTERD_TAIL_FIRST_BUCKET][largest]++;
  if (us[NATTERD_STAGE_TOTAL] < NATTERD_SLOW_US)
    return;
  metrics->slow_count++;
  for (guint i = 0; i < NATTERD_N_STAGES; i++)
    metrics->slow_sums[i] += (double) MAX (us[i], 0) / G_USEC_PER_SEC;
  metrics->slow_largest[largest]++;
}

void
natterd_metrics_observe_ack (NatterdMetrics           *metrics,
                             const NatterdStageStamps *s,
                             gint64                    written)
{
  NatterdAckStages *acks = &metrics->acks;
  gint64 us[NATTERD_N_STAGES];
  guint total_bucket;

  /* Its stages but the total are the delivery's: the same stamps, taken
   * in the same batch (observe_batch()), so only the total, for its tail's
   * rows, is kept apart (#17: all nine cost ~900 instructions an ack). */
  stage_times (s, written, us);
  total_bucket = stage_observe (&acks->stages[NATTERD_STAGE_TOTAL], us[NATTERD_STAGE_TOTAL]);
  gint64 in_order = s->ready > 0 ? s->ready - s->committed : 0;

  stage_observe (&acks->in_order, in_order);
  stage_observe (&acks->fanout, s->fanout_us);
  if (total_bucket < NATTERD_TAIL_FIRST_BUCKET)
    return;
  for (guint i = 0; i < NATTERD_N_STAGES; i++)
    acks->tail_us[total_bucket - NATTERD_TAIL_FIRST_BUCKET][i] += (guint64) MAX (us[i], 0);
  acks->tail_us[total_bucket - NATTERD_TAIL_FIRST_BUCKET][NATTERD_N_STAGES] += (guint64) MAX (in_order, 0);
  acks->tail_us[total_bucket - NATTERD_TAIL_FIRST_BUCKET][NATTERD_N_STAGES + 1] += (guint64) MAX (s->fanout_us, 0);
}

static NatterdMetrics *timed_metrics;
static GPollFunc untimed_poll;
static gint64 poll_returned;

static gint
timed_poll (GPollFD *fds,
            guint    nfds,
            gint     timeout)
{
  gint rc;

  if (poll_returned != 0)
    stage_observe (&timed_metrics->main_iterations, g_get_monotonic_time () - poll_returned);
  rc = untimed_poll (fds, nfds, timeout);
  poll_returned = g_get_monotonic_time ();
  return rc;
}

void
natterd_metrics_time_iterations (NatterdMetrics *metrics)
{
  GMainContext *context = g_main_context_default ();

  timed_metrics = metrics;
  if (untimed_poll == NULL)
    {
      untimed_poll = g_main_context_get_poll_func (context);
      g_main_context_set_poll_func (context, timed_poll);
    }
}

void
natterd_histogram_observe (NatterdHistogram *histogram,
                           const double     *bounds,
                           double            value)
{
  observe (histogram->counts, &histogram->count, &histogram->sum, bounds,
           NATTERD_HISTOGRAM_BUCKETS, value);
}

NatterdMetrics *
natterd_metrics_new (void)
{
  return g_new0 (NatterdMetrics, 1);
}

void
natterd_metrics_free (NatterdMetrics *metrics)
{
  /* The loop may iterate on (a shutdown's last writes): untimed. */
  if (timed_metrics == metrics && untimed_poll != NULL)
    {
      g_main_context_set_poll_func (g_main_context_default (), untimed_poll);
      untimed_poll = NULL;
      timed_metrics = NULL;
      poll_returned = 0;
    }
  g_free (metrics);
}

static const int connect_codes[] = {
  NATTER_CODE_APP_KEY_REJECTED,
  NATTER_CODE_TOKEN_INCORRECT,
  NATTER_CODE_APP_KEY_MISMATCH,
  NATTER_CODE_APP_BLOCKED,
  NATTER_CODE_USER_BLOCKED,
  NATTER_CODE_TOKEN_EXPIRED,
  NATTER_CODE_INVALID_PARAMETER,
};

guint
natterd_metrics_connect_index (int code)
{
  for (guint i = 0; i < G_N_ELEMENTS (connect_codes); i++)
    if (connect_codes[i] == code)
      return i;
  return G_N_ELEMENTS (connect_codes);
}

/* @label: "name=\"value\"" or NULL. */
static void
stage_histogram (GString                     *out,
                 const char                  *name,
                 const char                  *label,
                 const NatterdStageHistogram *h)
{
  const char *comma = label != NULL ? "," : "";
  guint64 cumulative = 0;

  if (label == NULL)
    label = "";
  for (guint i = 0; i <= NATTERD_STAGE_BUCKETS; i++)
    {
      char bound[G_ASCII_DTOSTR_BUF_SIZE] = "+Inf";

      cumulative += h->counts[i];
      if (i < NATTERD_STAGE_BUCKETS)
        g_ascii_formatd (bound, sizeof bound, "%g", stage_buckets[i]);
      g_string_append_printf (out, "%s_bucket{%s%sle=\"%s\"} %" G_GUINT64_FORMAT "\n", name, label,
                              comma, bound, cumulative);
    }
  if (*label != '\0')
    g_string_append_printf (out, "%s_sum{%s} %.17g\n%s_count{%s} %" G_GUINT64_FORMAT "\n", name, label,
                            h->sum, name, label, h->count);
  else
    g_string_append_printf (out, "%s_sum %.17g\n%s_count %" G_GUINT64_FORMAT "\n", name, h->sum, name,
                            h->count);
}

/* natterd_*_tail_*_total: the rows whose bucket of @total saw any, each
 * a row of @values (@n a row, by @names; @skip's left out, G_MAXUINT
 * none): seconds from µs, or counts. */
static void
tail_rows (GString                     *out,
           const char                  *name,
           const NatterdStageHistogram *total,
           const char * const          *names,
           guint                        n,
           guint                        skip,
           const guint64               *values,
           gboolean                     seconds)
{
  for (guint row = 0; row < NATTERD_TAIL_ROWS; row++)
    {
      guint b = NATTERD_TAIL_FIRST_BUCKET + row;
      char bound[G_ASCII_DTOSTR_BUF_SIZE] = "+Inf";

      if (total->counts[b] == 0)
        continue;
      if (b < NATTERD_STAGE_BUCKETS)
        g_ascii_formatd (bound, sizeof bound, "%g", stage_buckets[b]);
      for (guint s = 0; s < n; s++)
        {
          guint64 value = values[row * n + s];

          if (s == skip)
            continue;
          g_string_append_printf (out, "%s{le=\"%s\",stage=\"%s\"} ", name, bound, names[s]);
          if (seconds)
            g_string_append_printf (out, "%.17g\n", (double) value / G_USEC_PER_SEC);
          else
            g_string_append_printf (out, "%" G_GUINT64_FORMAT "\n", value);
        }
    }
}

static void
counter (GString    *out,
         const char *name,
         const char *help,
         guint64     value)
{
  g_string_append_printf (out, "# HELP %s %s\n# TYPE %s counter\n%s %" G_GUINT64_FORMAT "\n",
                          name, help, name, name, value);
}

static void
gauge (GString    *out,
       const char *name,
       const char *help,
       double      value)
{
  g_string_append_printf (out, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, help, name,
                          name, value);
}

static void
histogram (GString                *out,
           const char             *name,
           const char             *help,
           const NatterdHistogram *h,
           const double           *bounds)
{
  guint64 cumulative = 0;

  g_string_append_printf (out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
  for (guint i = 0; i < NATTERD_HISTOGRAM_BUCKETS; i++)
    {
      cumulative += h->counts[i];
      g_string_append_printf (out, "%s_bucket{le=\"%g\"} %" G_GUINT64_FORMAT "\n", name, bounds[i],
                              cumulative);
    }
  cumulative += h->counts[NATTERD_HISTOGRAM_BUCKETS];
  g_string_append_printf (out, "%s_bucket{le=\"+Inf\"} %" G_GUINT64_FORMAT "\n", name, cumulative);
  g_string_append_printf (out, "%s_sum %.17g\n%s_count %" G_GUINT64_FORMAT "\n", name, h->sum,
                          name, h->count);
}

static double
resident_bytes (void)
{
  g_autofree char *statm = NULL;
  unsigned long size = 0, resident = 0;

  if (!g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL) ||
      sscanf (statm, "%lu %lu", &size, &resident) != 2)
    return 0;
  return (double) resident * (double) sysconf (_SC_PAGESIZE);
}

/* What malloc handed out and was not freed: unlike the RSS, it goes down
 * when memory is freed, so a queue that grows shows here at once. */
static double
heap_bytes (void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  struct mallinfo2 info = mallinfo2 ();

  return (double) info.uordblks + (double) info.hblkhd;
#else
  return 0;
#endif
}

static double
open_fds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  if (dir == NULL)
    return 0;
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n > 0 ? n - 1 : 0;  /* not the directory's own */
}

static double
max_fds (void)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) != 0)
    return 0;
  return limit.rlim_cur == RLIM_INFINITY ? -1 : (double) limit.rlim_cur;
}

GString *
natterd_metrics_render (NatterdServer *self)
{
  static const char * const type_names[] = {
    "status", "private", "discussion", "group", "chatroom", "customer_service", "system",
    "app_public_service", "public_service",
  };
  NatterdMetrics *m = self->metrics;
  GString *out = g_string_sized_new (8192);

  gauge (out, "natterd_connections", "Open WebSocket connections, connected or not.",
         g_hash_table_size (self->sessions));
  gauge (out, "natterd_connections_authenticated", "Connections past Connect.", self->n_connected);
  counter (out, "natterd_connections_total", "Connections accepted by Connect.", m->connections_total);

  g_string_append (out, "# HELP natterd_connect_refused_total Connects refused, by code.\n"
                        "# TYPE natterd_connect_refused_total counter\n");
  for (guint i = 0; i <= G_N_ELEMENTS (connect_codes); i++)
    g_string_append_printf (out, "natterd_connect_refused_total{code=\"%d\"} %" G_GUINT64_FORMAT "\n",
                            i < G_N_ELEMENTS (connect_codes) ? connect_codes[i] : 0,
                            m->connect_refused[i]);

  counter (out, "natterd_cluster_published_total", "Messages sent to other nodes over NATS.",
           m->cluster_published);
  counter (out, "natterd_cluster_received_total", "Deliveries received from other nodes.",
           m->cluster_received);
  counter (out, "natterd_cluster_dropped_total",
           "Messages to other nodes dropped: 64 MiB already waiting for NATS (live only; the store has them).",
           m->cluster_dropped);
  counter (out, "natterd_cluster_refreshes_total", "Read-backs of the store after a NATS outage merged.",
           m->cluster_refreshes);
  counter (out, "natterd_cluster_refresh_slices_total", "Main-loop iterations those merges took.",
           m->cluster_refresh_slices);
  counter (out, "natterd_cluster_refresh_rows_total", "Directory rows those read-backs read.",
           m->cluster_refresh_rows);
  counter (out, "natterd_cluster_refresh_failures_total",
           "Parts of those read-backs the store failed to read (each read again).", m->cluster_refresh_failures);
  counter (out, "natterd_cluster_horizons_total",
           "Transaction horizons of the store sampled while connected (where a read-back may start).",
           m->cluster_horizons);
  counter (out, "natterd_cluster_users_read_total",
           "Users read from the store for a valid token before NATS told this node of them.",
           m->cluster_users_read);
  counter (out, "natterd_cluster_members_checked_total",
           "Member changes heard from other nodes, read back as stored.", m->cluster_members_checked);
  counter (out, "natterd_cluster_members_corrected_total",
           "Members those read-backs found otherwise in memory (changes made on two nodes at once).",
           m->cluster_members_corrected);
  gauge (out, "natterd_cluster_merging", "1 while a read-back is being merged.", m->cluster_merging ? 1 : 0);
  counter (out, "natterd_kicks_total", "Connections kicked (31010 and others).", m->kicks_total);
  counter (out, "natterd_connections_held_total",
           "Times a connection was not read from: 256 requests of it waiting for answers.",
           m->connections_held);
  counter (out, "natterd_frames_received_total", "Frames received.", m->frames_in);
  counter (out, "natterd_frames_sent_total", "Frames sent.", m->frames_out);
  counter (out, "natterd_bad_frames_total", "Frames refused by the codec.", m->bad_frames);
  counter (out, "natterd_queries_refused_total",
           "Queries answered 20604: too many waiting, or over query-rate.", m->queries_refused);

  g_string_append (out, "# HELP natterd_messages_published_total Messages accepted, by conversation type.\n"
                        "# TYPE natterd_messages_published_total counter\n");
  for (guint i = 0; i < G_N_ELEMENTS (type_names); i++)
    g_string_append_printf (out, "natterd_messages_published_total{type=\"%s\"} %" G_GUINT64_FORMAT "\n",
                            type_names[i], m->messages_published[i]);

  counter (out, "natterd_messages_refused_total", "Publishes refused with a code.", m->messages_refused);
  counter (out, "natterd_messages_duplicate_total", "Resends answered with the first uid.",
           m->messages_duplicate);
  counter (out, "natterd_messages_delivered_total", "Deliver frames sent live.", m->messages_delivered);
  counter (out, "natterd_fanout_held_total",
           "Group messages held back until their group's earlier ones were written to every member.",
           m->fanout_held);
  g_string_append_printf (out, "# HELP natterd_fanout_slices_total The main thread's group fan-out slices,"
                               " and those that stopped early for a store completion (its acks first).\n"
                               "# TYPE natterd_fanout_slices_total counter\n"
                               "natterd_fanout_slices_total{of=\"slices\"} %" G_GUINT64_FORMAT "\n"
                               "natterd_fanout_slices_total{of=\"yielded\"} %" G_GUINT64_FORMAT "\n",
                          m->fanout_slices, m->fanout_yields);
  counter (out, "natterd_timeline_dropped_total",
           "Live group messages not sent to a session that was not keeping up (fetched from the timeline).",
           m->timeline_dropped);
  counter (out, "natterd_messages_replayed_total", "Deliver frames sent from the inbox after connect.",
           m->messages_replayed);
  counter (out, "natterd_api_requests_total", "Server API requests.", m->api_requests);
  counter (out, "natterd_api_errors_total", "Server API requests answered with an error code.",
           m->api_errors);
  counter (out, "natterd_webhook_queued_total", "Webhook events queued.", m->webhook_queued);
  counter (out, "natterd_webhook_loaded_total", "Webhook events left stored by the previous run, read at start.",
           m->webhook_loaded);
  counter (out, "natterd_webhook_sent_total", "Webhook deliveries that succeeded.", m->webhook_sent);
  counter (out, "natterd_webhook_failed_total", "Webhook attempts that failed (retried).", m->webhook_failed);
  counter (out, "natterd_webhook_dropped_total", "Webhook events dropped (queue full or out of attempts).",
           m->webhook_dropped);
  counter (out, "natterd_media_uploaded_bytes_total", "Bytes of media stored.", m->media_uploaded_bytes);
  counter (out, "natterd_media_downloads_total", "Media downloads served.", m->media_downloads);
  counter (out, "natterd_inbox_pruned_total", "Inbox entries past inbox-retention-days deleted.",
           m->inbox_pruned);
  gauge (out, "natterd_webhook_pending", "Webhook events waiting for the app server (stored until delivered or dropped).",
         natterd_webhooks_get_pending (self->webhooks));
  gauge (out, "natterd_store_queue", "Write operations queued or being committed.",
         natterd_store_get_queue_length (self->store));
  counter (out, "natterd_store_refused_total",
           "Write operations refused or failed for want of space (below [store] min-free, or the disk full).",
           natterd_store_get_refused (self->store));
  gauge (out, "natterd_store_full", "1 while writes are refused for want of space.",
         natterd_store_is_full (self->store) ? 1 : 0);
  gauge (out, "natterd_resident_memory_bytes", "Resident set size.", resident_bytes ());
  gauge (out, "natterd_heap_bytes", "Memory allocated and not freed (malloc).", heap_bytes ());
  gauge (out, "natterd_socket_queued_bytes", "Bytes queued for WebSocket peers, not yet taken by the kernel.",
         (double) natterd_socket_loop_get_queued (self->sockets));
  {
    NatterdSocketWriterStats w;

    natterd_socket_loop_get_writer_stats (self->sockets, &w);
    g_string_append_printf (out, "# HELP natterd_fanout_writer_total The fan-out writer thread's batches of"
                                 " connections, its sends (a connection's queued frames each), the frames"
                                 " they took whole, sends the kernel took only part of or nothing of (its"
                                 " buffer full), and io_uring_enter() calls.\n"
                                 "# TYPE natterd_fanout_writer_total counter\n"
                                 "natterd_fanout_writer_total{of=\"batches\"} %" G_GUINT64_FORMAT "\n"
                                 "natterd_fanout_writer_total{of=\"sends\"} %" G_GUINT64_FORMAT "\n"
                                 "natterd_fanout_writer_total{of=\"frames\"} %" G_GUINT64_FORMAT "\n"
                                 "natterd_fanout_writer_total{of=\"short\"} %" G_GUINT64_FORMAT "\n"
                                 "natterd_fanout_writer_total{of=\"would-block\"} %" G_GUINT64_FORMAT "\n"
                                 "natterd_fanout_writer_total{of=\"enters\"} %" G_GUINT64_FORMAT "\n",
                            w.batches, w.sends, w.frames, w.short_sends, w.would_block, w.enters);
  }
  gauge (out, "process_open_fds", "Open file descriptors.", open_fds ());
  gauge (out, "process_max_fds", "The file descriptor limit (RLIMIT_NOFILE).", max_fds ());
  if (self->http_guard != NULL)
    {
      NatterdHttpGuard *guard = self->http_guard;

      gauge (out, "natterd_http_connections",
             "Open HTTP connections, WebSockets included (closed ones go within a second).",
             natterd_http_guard_get_open (guard));
      gauge (out, "natterd_max_connections", "[limits] max-connections: WebSocket connections (503 beyond).",
             self->max_connections);
      gauge (out, "natterd_max_http_connections",
             "Connections of any kind that may be open: what the open-file limit allows safely.",
             natterd_http_guard_get_max_connections (guard));
      counter (out, "natterd_connections_over_limit_total",
               "Connections closed at once: natterd_max_http_connections were open.",
               natterd_http_guard_get_refused (guard));
      g_string_append (out, "# HELP natterd_http_timeouts_total Connections closed for missing a deadline.\n"
                            "# TYPE natterd_http_timeouts_total counter\n");
      g_string_append_printf (out, "natterd_http_timeouts_total{timeout=\"header\"} %" G_GUINT64_FORMAT "\n",
                              natterd_http_guard_get_header_timeouts (guard));
      g_string_append_printf (out, "natterd_http_timeouts_total{timeout=\"body\"} %" G_GUINT64_FORMAT "\n",
                              natterd_http_guard_get_body_timeouts (guard));
    }

  histogram (out, "natterd_publish_latency_seconds", "Publish received to PublishAck sent (durable).",
             &m->publish_latency, natterd_latency_buckets);
  histogram (out, "natterd_commit_duration_seconds",
             "Writer transactions made durable by one fsync: the first one's start to the fsync's end.",
             &m->commit_duration, natterd_latency_buckets);
  histogram (out, "natterd_commit_operations", "Operations made durable per fsync.",
             &m->commit_size, natterd_size_buckets);
  histogram (out, "natterd_query_latency_seconds", "Query received to Result sent.",
             &m->query_latency, natterd_latency_buckets);

  {
    NatterdHistogram fdatasyncs = { 0 };
    NatterdHistogram beside = { 0 };
    const double *bounds = natterd_sqlite_wal_fdatasync_times (FALSE, fdatasyncs.counts, &fdatasyncs.count,
                                                              &fdatasyncs.sum);

    natterd_sqlite_wal_fdatasync_times (TRUE, beside.counts, &beside.count, &beside.sum);
    histogram (out, "natterd_wal_fdatasync_seconds",
               "The store's fdatasync() calls of the WAL (SQLite), each one's time.",
               &fdatasyncs, bounds);
    histogram (out, "natterd_wal_fdatasync_beside_checkpoint_seconds",
               "Those of them beside a checkpoint's writes of the database to the disk.",
               &beside, bounds);
  }
  {
    guint64 db_syncs, db_written;
    double largest_wal, db_seconds, largest_db;

    natterd_sqlite_wal_sync_extremes (&largest_wal, &db_syncs, &db_seconds, &largest_db, &db_written);
    g_string_append_printf (out, "# HELP natterd_wal_fdatasync_largest_seconds The longest single fdatasync()"
                                 " of the WAL (SQLite) so far.\n"
                                 "# TYPE natterd_wal_fdatasync_largest_seconds gauge\n"
                                 "natterd_wal_fdatasync_largest_seconds %.6f\n"
                                 "# HELP natterd_checkpoint_db_sync_seconds The checkpoints' syncs of the"
                                 " database (SQLite), ending each pass.\n"
                                 "# TYPE natterd_checkpoint_db_sync_seconds summary\n"
                                 "natterd_checkpoint_db_sync_seconds_count %" G_GUINT64_FORMAT "\n"
                                 "natterd_checkpoint_db_sync_seconds_sum %.6f\n"
                                 "# HELP natterd_checkpoint_db_sync_largest_seconds The longest of them.\n"
                                 "# TYPE natterd_checkpoint_db_sync_largest_seconds gauge\n"
                                 "natterd_checkpoint_db_sync_largest_seconds %.6f\n"
                                 "# HELP natterd_checkpoint_db_written_bytes_total Bytes the checkpoints"
                                 " copied into the database file.\n"
                                 "# TYPE natterd_checkpoint_db_written_bytes_total counter\n"
                                 "natterd_checkpoint_db_written_bytes_total %" G_GUINT64_FORMAT "\n",
                            largest_wal, db_syncs, db_seconds, largest_db, db_written);
  }
  {
    guint64 passes, chunks, largest;

    natterd_sqlite_wal_paced_checkpoints (&passes, &chunks, &largest);
    g_string_append_printf (out, "# HELP natterd_checkpoint_paced_total Checkpoint passes (SQLite) whose"
                                 " database pages went to the disk in chunks between the WAL's syncs,"
                                 " and their chunks.\n"
                                 "# TYPE natterd_checkpoint_paced_total counter\n"
                                 "natterd_checkpoint_paced_total{of=\"passes\"} %" G_GUINT64_FORMAT "\n"
                                 "natterd_checkpoint_paced_total{of=\"chunks\"} %" G_GUINT64_FORMAT "\n",
                            passes, chunks);
  }
  {
    guint64 extended, truncates;

    natterd_sqlite_wal_resizes (&extended, &truncates);
    g_string_append_printf (out, "# HELP natterd_wal_extended_bytes_total Bytes written past the WAL's end"
                                 " (SQLite): the syncs of those commit the filesystem's journal too.\n"
                                 "# TYPE natterd_wal_extended_bytes_total counter\n"
                                 "natterd_wal_extended_bytes_total %" G_GUINT64_FORMAT "\n"
                                 "# HELP natterd_wal_truncates_total Times the WAL was cut back when it"
                                 " started over.\n"
                                 "# TYPE natterd_wal_truncates_total counter\n"
                                 "natterd_wal_truncates_total %" G_GUINT64_FORMAT "\n",
                            extended, truncates);
  }
  {
    static const char * const kinds[NATTERD_WAL_N_STALLS] = {
      [NATTERD_WAL_STALL_HEADER_SYNC] = "wal-header-sync",
      [NATTERD_WAL_STALL_CHECKPOINT] = "checkpoint",
    };
    static const char * const names[3][2] = {
      { "natterd_writer_stall_total", "The writer's own waits for the disk: a new WAL's header synced inside"
                                      " a COMMIT, a checkpoint it ran to start the WAL over." },
      { "natterd_writer_stall_seconds_total", "Their time." },
      { "natterd_writer_stall_frames_total", "The WAL frames its checkpoints copied." },
    };

    for (guint c = 0; c < G_N_ELEMENTS (names); c++)
      {
        g_string_append_printf (out, "# HELP %s %s\n# TYPE %s counter\n", names[c][0], names[c][1], names[c][0]);
        for (guint k = 0; k < NATTERD_WAL_N_STALLS; k++)
          {
            guint64 count, frames;
            double seconds;

            natterd_sqlite_wal_stalls (k, &count, &seconds, &frames);
            g_string_append_printf (out, "%s{of=\"%s\"} ", names[c][0], kinds[k]);
            if (c == 1)
              g_string_append_printf (out, "%.17g\n", seconds);
            else
              g_string_append_printf (out, "%" G_GUINT64_FORMAT "\n", c == 0 ? count : frames);
          }
      }
  }
  g_string_append_printf (out, "# HELP natterd_publish_slow_total Delivered messages whose total"
                               " (frame read to Deliver written) passed %d ms.\n"
                               "# TYPE natterd_publish_slow_total counter\n"
                               "natterd_publish_slow_total %" G_GUINT64_FORMAT "\n"
                               "# HELP natterd_publish_slow_seconds_total Their time by stage.\n"
                               "# TYPE natterd_publish_slow_seconds_total counter\n",
                          NATTERD_SLOW_US / 1000, m->slow_count);
  for (guint s = 0; s < NATTERD_N_STAGES; s++)
    g_string_append_printf (out, "natterd_publish_slow_seconds_total{stage=\"%s\"} %.17g\n",
                            stage_names[s], m->slow_sums[s]);
  g_string_append (out, "# HELP natterd_publish_slow_largest_total How many of them had each stage as"
                        " their largest.\n"
                        "# TYPE natterd_publish_slow_largest_total counter\n");
  for (guint s = 0; s < NATTERD_N_STAGES; s++)
    if (s != NATTERD_STAGE_TOTAL)
      g_string_append_printf (out, "natterd_publish_slow_largest_total{stage=\"%s\"} %" G_GUINT64_FORMAT "\n",
                              stage_names[s], m->slow_largest[s]);

  g_string_append (out, "# HELP natterd_publish_tail_seconds_total Delivered messages over 0.8 ms:"
                        " their time by stage, by the bucket of their total (its le; how many:"
                        " natterd_publish_stage_seconds{stage=\"total\"}).\n"
                        "# TYPE natterd_publish_tail_seconds_total counter\n");
  tail_rows (out, "natterd_publish_tail_seconds_total", &m->publish_stages[NATTERD_STAGE_TOTAL], stage_names,
             NATTERD_N_STAGES, G_MAXUINT, &m->tail_us[0][0], TRUE);
  g_string_append (out, "# HELP natterd_publish_tail_largest_total How many of them had each stage as"
                        " their largest, by the same buckets.\n"
                        "# TYPE natterd_publish_tail_largest_total counter\n");
  tail_rows (out, "natterd_publish_tail_largest_total", &m->publish_stages[NATTERD_STAGE_TOTAL], stage_names,
             NATTERD_N_STAGES, NATTERD_STAGE_TOTAL, &m->tail_largest[0][0], FALSE);

  g_string_append (out, "# HELP natterd_publish_stage_seconds A delivered message's time by stage:"
                        " parse (frame read to queued), wait (for the writer), sql, sync (fsync;"
                        " sync-checkpoint: while a checkpoint pass wrote the database),"
                        " wakeup (commit to the main loop), deliver (to its Deliver written), total.\n"
                        "# TYPE natterd_publish_stage_seconds histogram\n");
  for (guint s = 0; s < NATTERD_N_STAGES; s++)
    {
      g_autofree char *label = g_strdup_printf ("stage=\"%s\"", stage_names[s]);

      stage_histogram (out, "natterd_publish_stage_seconds", label, &m->publish_stages[s]);
    }
  g_string_append (out, "# HELP natterd_main_iteration_seconds The main loop's iterations,"
                        " their poll() excluded.\n"
                        "# TYPE natterd_main_iteration_seconds histogram\n");
  stage_histogram (out, "natterd_main_iteration_seconds", NULL, &m->main_iterations);

  g_string_append (out, "# HELP natterd_ack_stage_seconds A private message's PublishAck by stage (#18):"
                        " as natterd_publish_stage_seconds, ack (completion to PublishAck written) for"
                        " deliver; two parts of wakeup: in-order (waiting for the batches before it"
                        " to be durable) and fanout (the main thread's time in a group's fan-out"
                        " slices from its completion queued to its ack written). The stages before total are the"
                        " deliveries' histograms: the same messages' stamps, written in the same batch.\n"
                        "# TYPE natterd_ack_stage_seconds histogram\n");
  for (guint s = 0; s < NATTERD_N_STAGES; s++)
    {
      g_autofree char *label = g_strdup_printf ("stage=\"%s\"", ack_stage_names[s]);

      stage_histogram (out, "natterd_ack_stage_seconds", label,
                       s == NATTERD_STAGE_TOTAL ? &m->acks.stages[s] : &m->publish_stages[s]);
    }
  stage_histogram (out, "natterd_ack_stage_seconds", "stage=\"in-order\"", &m->acks.in_order);
  stage_histogram (out, "natterd_ack_stage_seconds", "stage=\"fanout\"", &m->acks.fanout);
  g_string_append (out, "# HELP natterd_ack_tail_seconds_total PublishAcks over 0.8 ms: their time by"
                        " stage, by the bucket of their total (its le).\n"
                        "# TYPE natterd_ack_tail_seconds_total counter\n");
  tail_rows (out, "natterd_ack_tail_seconds_total", &m->acks.stages[NATTERD_STAGE_TOTAL], ack_stage_names,
             NATTERD_N_STAGES + 2, G_MAXUINT, &m->acks.tail_us[0][0], TRUE);

  return out;
}
