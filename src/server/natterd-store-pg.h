/* natterd-store-pg.h — the shared backend: PostgreSQL 15 through libpq
 *
 * Several natterd nodes may use one database at once: everything two
 * nodes could hand out twice is allocated inside the write transaction
 * (inbox seqs under the user's row lock, timeline seqs under the
 * timeline's, message ids from a sequence) and client_msg_id idempotency
 * is a unique constraint. synchronous_commit=on: a commit is durable
 * before the writer reports it. A lost connection fails the batch with
 * NATTERD_STORE_ERROR_UNAVAILABLE and the store connects again by itself.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "natterd-store.h"

G_BEGIN_DECLS

#define NATTERD_TYPE_STORE_PG (natterd_store_pg_get_type ())
G_DECLARE_FINAL_TYPE (NatterdStorePg, natterd_store_pg, NATTERD, STORE_PG, NatterdStore)

/* The schema version this natterd writes (natterd_schema.version). */
#define NATTERD_STORE_PG_SCHEMA_VERSION 10

/* Connects to @conninfo, creating and migrating the schema. */
NatterdStore *natterd_store_pg_open            (const char  *conninfo,
                                                GError     **error);
/* Before natterd_store_load(): the node's [cluster] node-name (NULL: a
 * single node), which takes one share of the ids (NatterdLoadSink.ids). */
void          natterd_store_pg_set_node_name   (NatterdStorePg *self,
                                                const char     *name);
/* Tests: migrate only up to @version (0 = no tables). */
NatterdStore *natterd_store_pg_open_at_version (const char  *conninfo,
                                                int          version,
                                                GError     **error);

/* natterd --migrate-to-postgresql: copies the SQLite database of
 * @data_dir into the (empty) schema at @conninfo and compares the row
 * counts of every table; @report gets one line a table. */
gboolean      natterd_store_pg_import_sqlite   (const char  *data_dir,
                                                const char  *conninfo,
                                                GString     *report,
                                                GError     **error);

G_END_DECLS
