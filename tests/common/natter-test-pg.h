/* natter-test-pg.h — a private PostgreSQL 15 for the cluster tests
 *
 * initdb in a temporary dir and postgres on 127.0.0.1 with a free port
 * (and its unix socket in that dir), fsync on, trust authentication for
 * the user "natter". As root both run as nobody (PostgreSQL refuses
 * root), the dir chowned to it. postgres dies with the test process.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _NatterTestPg NatterTestPg;

NatterTestPg *natter_test_pg_start           (void);
/* CREATE DATABASE @name; returns its libpq conninfo. */
char         *natter_test_pg_create_database (NatterTestPg *self,
                                              const char   *name);
/* A conninfo of database @name (created or not). */
char         *natter_test_pg_conninfo        (NatterTestPg *self,
                                              const char   *name);
guint16       natter_test_pg_get_port        (NatterTestPg *self);
/* psql -At -c @sql on database @name: its output, trailing newline cut;
 * asserts success. */
char         *natter_test_pg_query           (NatterTestPg *self,
                                              const char   *name,
                                              const char   *sql);
/* A fast shutdown (clients disconnected), and a start again on the same
 * port and data. */
void          natter_test_pg_stop            (NatterTestPg *self);
void          natter_test_pg_restart         (NatterTestPg *self);
/* Stops postgres and deletes everything. */
void          natter_test_pg_free            (NatterTestPg *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NatterTestPg, natter_test_pg_free)

G_END_DECLS
