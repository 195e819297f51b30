/* natterd-metrics.h — counters and histograms behind GET /metrics
 *
 * Updated on the main thread only (the writer reports batches through the
 * store's batch observer, on the main context).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NATTERD_HISTOGRAM_BUCKETS 14

typedef struct
{
  guint64 counts[NATTERD_HISTOGRAM_BUCKETS + 1];  /* last: +Inf */
  guint64 count;
  double  sum;
} NatterdHistogram;

/* Bucket upper bounds in seconds, shared by every latency histogram. */
extern const double natterd_latency_buckets[NATTERD_HISTOGRAM_BUCKETS];
/* Bucket upper bounds for counts (ops per commit). */
extern const double natterd_size_buckets[NATTERD_HISTOGRAM_BUCKETS];

void natterd_histogram_observe (NatterdHistogram *histogram,
                                const double     *bounds,
                                double            value);

/* Where a delivered message's time goes (#17), from its frame read to
 * its Deliver written to the recipient's socket: finer buckets. */
typedef enum
{
  NATTERD_STAGE_PARSE,    /* frame read → queued to the writer */
  NATTERD_STAGE_WAIT,     /* queued → the writer takes it into a batch */
  NATTERD_STAGE_SQL,      /* the batch's statements and WAL writes, its syncs aside */
  NATTERD_STAGE_SYNC,     /* the batch's fsync(s), no checkpoint pass meanwhile */
  NATTERD_STAGE_SYNC_SHARED, /* the same while a checkpoint pass wrote the database */
  NATTERD_STAGE_WAKEUP,   /* commit returned → its completion runs on the main loop */
  NATTERD_STAGE_DELIVER,  /* completion → Deliver written to the recipient's socket */
  NATTERD_STAGE_TOTAL,    /* frame read → Deliver written */
  NATTERD_N_STAGES
} NatterdStage;

#define NATTERD_STAGE_BUCKETS 34
/* Stage bucket 12 is (0.8, 1] ms: tail_us breaks down the messages
 * of the buckets from it on (+Inf the last). */
#define NATTERD_TAIL_FIRST_BUCKET 12
#define NATTERD_TAIL_ROWS (NATTERD_STAGE_BUCKETS + 1 - NATTERD_TAIL_FIRST_BUCKET)
#define NATTERD_SLOW_US 2000

typedef struct
{
  guint64 counts[NATTERD_STAGE_BUCKETS + 1];  /* last: +Inf */
  guint64 count;
  double  sum;
} NatterdStageHistogram;

/* A delivered message's stamps (monotonic µs, the store's NatterdOp's). */
typedef struct
{
  gint64 read;
  gint64 queued;
  gint64 taken;
  gint64 committed;
  gint64 synced_us;
  gint64 resumed;
  gboolean sync_shared;
  /* Acks only: the completion queued to the main loop (after the syncs
   * of the batches before: "in-order"), and the main thread's time in a
   * group's fan-out slices from then to the ack written ("fanout"). */
  gint64 ready;
  gint64 fanout_us;
} NatterdStageStamps;

/* A private publish's PublishAck (#18), by the same stages ("deliver" is
 * completion → ack written), and two parts of its wakeup: waiting for the
 * batches before it to be durable, and the main thread's time in a
 * group's fan-out slices from its completion queued to the ack written (what the ack
 * waited for behind the fan-out in natterd itself, apart from the CPUs'
 * other work). Its tail as the deliveries'. */
typedef struct
{
  NatterdStageHistogram stages[NATTERD_N_STAGES];
  NatterdStageHistogram in_order;
  NatterdStageHistogram fanout;
  guint64               tail_us[NATTERD_TAIL_ROWS][NATTERD_N_STAGES + 2];  /* in-order, fanout last */
} NatterdAckStages;

typedef struct
{
  guint64          connections_total;
  guint64          connect_refused[8];       /* by natterd_metrics_connect_index() */
  guint64          kicks_total;
  guint64          connections_held;          /* too many requests in flight: not read */
  guint64          frames_in;
  guint64          frames_out;
  guint64          bad_frames;
  guint64          queries_refused;           /* 20604: max-queries or query-rate */
  guint64          messages_published[9];    /* by conversation type, 0 = status-only */
  guint64          messages_refused;
  guint64          messages_duplicate;
  guint64          messages_delivered;
  guint64          messages_replayed;
  guint64          fanout_held;               /* group messages that waited for their group's fan-out */
  guint64          fanout_slices;             /* the main thread's fan-out slices (#18) */
  guint64          fanout_yields;             /* of which stopped for a store completion */
  guint64          timeline_dropped;          /* live group messages not sent: client too slow */
  guint64          api_requests;
  guint64          api_errors;
  guint64          webhook_sent;
  guint64          webhook_failed;
  guint64          webhook_dropped;
  guint64          webhook_queued;
  guint64          webhook_loaded;   /* stored events read at start */
  guint64          media_uploaded_bytes;
  guint64          media_downloads;
  guint64          inbox_pruned;
  guint64          cluster_published;         /* messages sent to other nodes over NATS */
  guint64          cluster_received;          /* deliveries from other nodes */
  guint64          cluster_dropped;           /* not sent: too much waiting for NATS */
  guint64          cluster_refreshes;         /* read-backs after a NATS outage merged */
  guint64          cluster_refresh_slices;    /* main-loop iterations they took */
  guint64          cluster_refresh_rows;      /* directory rows they read */
  guint64          cluster_refresh_failures;  /* parts of them the store failed to read (read again) */
  guint64          cluster_horizons;          /* store horizons sampled (where the next read-back may start) */
  guint64          cluster_users_read;        /* users read from the store for a token, unknown here */
  guint64          cluster_members_checked;   /* member changes heard, read back as stored */
  guint64          cluster_members_corrected; /* members those read-backs set otherwise */
  gboolean         cluster_merging;           /* one is being merged */
  NatterdHistogram publish_latency;          /* Publish received → PublishAck sent */
  NatterdHistogram commit_duration;          /* one writer transaction */
  NatterdHistogram commit_size;              /* ops per transaction */
  NatterdHistogram query_latency;
  NatterdStageHistogram publish_stages[NATTERD_N_STAGES];
  /* Delivered messages whose total passed NATTERD_SLOW_US (#17): where
   * their time went, by stage, and which stage was each one's largest. */
  guint64          slow_count;
  double           slow_sums[NATTERD_N_STAGES];
  guint64          slow_largest[NATTERD_N_STAGES];
  /* The same for every delivered message over 0.8 ms, by its total's
   * bucket (from NATTERD_TAIL_FIRST_BUCKET on):
   * whichever the p99's or p99.9's is. */
  guint64          tail_us[NATTERD_TAIL_ROWS][NATTERD_N_STAGES];
  guint64          tail_largest[NATTERD_TAIL_ROWS][NATTERD_N_STAGES];
  /* The main loop's iterations, poll() excluded: what a frame read in the
   * next one waited for (#17). */
  NatterdStageHistogram main_iterations;
  NatterdAckStages      acks;
} NatterdMetrics;


NatterdMetrics *natterd_metrics_new  (void);
void            natterd_metrics_free (NatterdMetrics *metrics);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NatterdMetrics, natterd_metrics_free)

guint natterd_metrics_connect_index (int code);
/* @written: when the message's Deliver (its batch's writes) went out. */
void  natterd_metrics_observe_stages (NatterdMetrics           *metrics,
                                      const NatterdStageStamps *stamps,
                                      gint64                    written);
/* @written: when the PublishAck went out. */
void  natterd_metrics_observe_ack    (NatterdMetrics           *metrics,
                                      const NatterdStageStamps *stamps,
                                      gint64                    written);
/* Times the default main context's iterations into @metrics from now
 * on (its poll function); main thread. */
void  natterd_metrics_time_iterations (NatterdMetrics          *metrics);

G_END_DECLS
