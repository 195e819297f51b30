/* natterd-config.h — natterd's settings: command line and --config GKeyFile
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  /* [server] */
  char   *data_dir;
  char   *listen;               /* host:port */
  char   *public_url;           /* base of media and history links; NULL = the listen URL */
  char   *tls_cert;
  char   *tls_key;
  guint   ping_interval;        /* s, told to clients in ConnectAck */
  guint   connect_timeout;      /* s to send Connect after the upgrade */

  /* [log] */
  char   *log_level;            /* debug, info, message, warning */
  char   *log_format;           /* text, json */

  /* [limits] */
  guint   send_rate;            /* messages/s per user, 0 = unlimited */
  guint   send_burst;
  guint   api_rate;             /* server API requests/s per app, 0 = unlimited */
  guint   group_max_members;
  guint   max_connections;      /* 0 = derived from the open-file limit */
  guint   query_rate;           /* queries/s per user, 0 = unlimited */
  guint   query_burst;
  guint   max_queries;          /* queries one connection may have unanswered */
  guint   fanout_stall;         /* s a member taking nothing holds back its group's senders */
  guint   login_lockout;        /* s an account stays locked after login_attempts wrong passwords */
  guint   login_attempts;       /* wrong passwords in a row that lock an account */
  guint   login_backoff;        /* ms a wrong password's answer waits, times the failures so far */
  guint   login_address_limit;  /* wrong passwords from one address per lockout period */
  guint   presence_subscriptions; /* users one user may subscribe to (26030 beyond) */
  guint   presence_subscribers;   /* subscribers one user may have (26031 beyond) */

  /* [chatroom] */
  guint   chatroom_idle_timeout;    /* s without message or join before destruction */
  guint   chatroom_offline_timeout; /* s offline before a member is dropped */

  /* [media] */
  guint64 media_max_size;

  /* [webhook] */
  guint   webhook_queue_size;
  guint64 webhook_queue_bytes;   /* and at most this much of them */
  guint   webhook_timeout;
  guint   webhook_max_attempts;
  guint   webhook_backoff_initial;  /* ms */
  guint   webhook_backoff_max;      /* ms */
  guint   webhook_drain_timeout;    /* s a clean stop waits for queued events */

  /* [turn] */
  char   *turn_secret;
  char  **turn_uris;
  guint   turn_ttl;

  /* [history] */
  guint   history_retention_hours;

  /* [store] */
  guint   store_batch_max;
  guint   inbox_retention_days;  /* 0 = keep offline messages forever */
  guint   store_wal_size;        /* MiB the WAL may reach before it starts over */

  /* [server] secret-grace */
  guint   secret_grace;          /* s a rotated app secret keeps working */

  /* [media] user-quota, app-quota */
  guint64 media_user_quota;      /* bytes a user may have uploaded, 0 = unlimited */
  guint64 media_app_quota;       /* bytes an app's users may have uploaded, 0 = unlimited */

  /* Resource limits (README: natterd, configuration) */
  guint   header_timeout;        /* [server] s from accept to the request headers, 0 = none */
  guint   body_timeout;          /* [server] s without progress on a body, 0 = none */
  guint64 store_min_free;        /* [store] bytes free below which writes are refused, 0 = off */
  guint   store_cache_size;      /* [store] MiB of SQLite page cache per connection (writer, reader) */

  /* Scale-out (README: "Several nodes") */
  char   *store_backend;         /* [store] backend: "sqlite" (default) or "postgresql" */
  char   *store_postgresql;      /* [store] postgresql: a libpq conninfo string */
  char   *media_dir;             /* [media] dir: shared by all nodes; NULL = under data-dir */
  char   *cluster_nats;          /* [cluster] nats: comma-separated NATS URLs; NULL = one node */
  char   *cluster_node_name;     /* [cluster] node-name: unique per node */
} NatterdConfig;

NatterdConfig *natterd_config_new       (void);
gboolean       natterd_config_load_file (NatterdConfig  *self,
                                         const char     *path,
                                         GError        **error);
void           natterd_config_free      (NatterdConfig  *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NatterdConfig, natterd_config_free)

/* The @index-th key natterd reads ([@group] @key); FALSE past the last
 * (the sample natterd.conf is checked against these). */
gboolean       natterd_config_get_key   (guint           index,
                                         const char    **group,
                                         const char    **key);

G_END_DECLS
