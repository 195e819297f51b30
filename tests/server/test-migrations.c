/* test-migrations.c — natterd's store: schema versions and migrations
 *
 * Every schema version from empty to the current one is created, given
 * data, and migrated by opening it with this natterd; the data must come
 * through. A database from a newer natterd is refused untouched, and a
 * migration that fails leaves the database as it was.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

#include "natter-codes.h"
#include "natterd-directory.h"
#include "natterd-store-sqlite-private.h"
#include "natter-test-db-dir.h"
#include "natter-test-store-op.h"

static int
natterd_test_compare_int64 (gconstpointer a,
                            gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

static sqlite3 *
open_raw (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, "natterd.db", NULL);
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  return db;
}

static int
user_version (const char *dir)
{
  sqlite3 *db = open_raw (dir);
  sqlite3_stmt *stmt = NULL;
  int version;

  g_assert_cmpint (sqlite3_prepare_v2 (db, "PRAGMA user_version", -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  version = sqlite3_column_int (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return version;
}

static gboolean
has_table (const char *dir,
           const char *table)
{
  sqlite3 *db = open_raw (dir);
  sqlite3_stmt *stmt = NULL;
  gboolean found;

  g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                                       -1, &stmt, NULL), ==, SQLITE_OK);
  sqlite3_bind_text (stmt, 1, table, -1, SQLITE_STATIC);
  found = sqlite3_step (stmt) == SQLITE_ROW;
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return found;
}

/* Data as a natterd at @version wrote it. */
static void
insert_data (const char *dir,
             int         version)
{
  sqlite3 *db = open_raw (dir);

  if (version >= 1)
    g_assert_cmpint (sqlite3_exec (db,
      "INSERT INTO apps (id, app_key, app_secret, name, token_key, settings, created)"
      " VALUES (1, 'key1', 'secret1', 'app', x'00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff', '{\"multi-device\":true}', 1);"
      "INSERT INTO users (id, app_id, user_id, name, created, max_seq) VALUES (1, 1, 'alice', 'Alice', 1, 1);"
      "INSERT INTO users (id, app_id, user_id, created, max_seq) VALUES (2, 1, 'bob', 1, 0);"
      "INSERT INTO messages (id, app_id, uid, conversation_type, sender_id, target_id, channel,"
      "  object_name, content, flags, sent_time) VALUES (1, 1, 'AAAA-AAAA-AAAA-AAAA', 1, 2, 'alice',"
      "  '1/alice/bob', 'RC:TxtMsg', '{\"content\":\"hi\"}', 3, 1000);"
      "INSERT INTO inbox (user_id, seq, message_id) VALUES (1, 1, 1);"
      "INSERT INTO groups (id, app_id, group_id, name, created) VALUES (1, 1, 'g', 'G', 1);"
      "INSERT INTO group_members (group_id, user_id, joined, gag_until) VALUES (1, 1, 1, 0);",
      NULL, NULL, NULL), ==, SQLITE_OK);
  if (version >= 3)
    {
      /* One nonce still in its window, one long expired. */
      g_autofree char *sql = g_strdup_printf ("INSERT INTO api_nonces (app_id, nonce, expires) VALUES"
                                              " (1, 'fresh', %" G_GINT64_FORMAT "), (1, 'stale', 1000)",
                                              g_get_real_time () / G_USEC_PER_SEC + 300);

      g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
    }
  if (version >= 4)
    g_assert_cmpint (sqlite3_exec (db,
      "INSERT INTO webhook_events (message_id, app_id, body) VALUES (1, 1, 'msgUID=AAAA-AAAA-AAAA-AAAA')",
      NULL, NULL, NULL), ==, SQLITE_OK);
  if (version >= 5)
    g_assert_cmpint (sqlite3_exec (db,
      "UPDATE apps SET old_secret = 'secret0', old_secret_expires = 4102444800000 WHERE id = 1",
      NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
}

static int
count_rows (const char *dir,
            const char *table)
{
  sqlite3 *db = open_raw (dir);
  sqlite3_stmt *stmt = NULL;
  g_autofree char *sql = g_strdup_printf ("SELECT COUNT (*) FROM %s", table);
  int count;

  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  count = sqlite3_column_int (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return count;
}

typedef struct
{
  guint apps, users, groups, members, nonces;
  gboolean multi_device;
  guint64 alice_max_seq;
  char *secret, *old_secret;
  gint64 old_secret_expires;
  gsize token_key_size;
} Loaded;

static void
count_app (gpointer data, const NatterdAppRecord *app)
{
  NatterdAppSettings settings = { 0 };

  ((Loaded *) data)->apps++;
  natterd_app_settings_parse (&settings, app->settings);
  ((Loaded *) data)->multi_device = settings.multi_device;
  natterd_app_settings_clear (&settings);
  ((Loaded *) data)->secret = g_strdup (app->app_secret);
  ((Loaded *) data)->old_secret = g_strdup (app->app_secret_old);
  ((Loaded *) data)->old_secret_expires = app->app_secret_old_expires;
  ((Loaded *) data)->token_key_size = g_bytes_get_size (app->token_key);
}

static void
count_user (gpointer data, const NatterdUserRecord *user)
{
  ((Loaded *) data)->users++;
  if (g_str_equal (user->user_id, "alice"))
    ((Loaded *) data)->alice_max_seq = user->max_seq;
}

static void
count_group (gpointer data, gint64 id, gint64 app_id, const char *group_id, const char *name, gint64 created)
{
  ((Loaded *) data)->groups++;
}

static void
count_member (gpointer data, gint64 group_id, gint64 user_id, gint64 joined, gint64 gag_until)
{
  ((Loaded *) data)->members++;
}

static void
count_nothing (gpointer data, gint64 a, gint64 b, const char *c, const char *d, gint64 e)
{
}

static void
count_blacklist (gpointer data, gint64 a, gint64 b)
{
}

static void
count_nonce (gpointer data, gint64 app_id, const char *nonce, gint64 expires)
{
  g_assert_cmpstr (nonce, ==, "fresh");
  ((Loaded *) data)->nonces++;
}

static void
test_every_version (void)
{
  const NatterdLoadSink sink = {
    .app = count_app,
    .user = count_user,
    .group = count_group,
    .member = count_member,
    .chatroom = count_nothing,
    .blacklist = count_blacklist,
    .nonce = count_nonce,
  };

  for (int version = 0; version <= NATTERD_STORE_SQLITE_SCHEMA_VERSION; version++)
    {
      g_autofree char *dir = natter_test_db_dir_new ("natterd-migrations");
      g_autoptr(GError) error = NULL;
      Loaded loaded = { 0 };

      {
        g_autoptr(NatterdStore) old = natterd_store_sqlite_open_at_version (dir, version, &error);
        g_assert_no_error (error);
      }
      g_assert_cmpint (user_version (dir), ==, version);
      g_assert_cmpint (has_table (dir, "apps"), ==, version >= 1);
      insert_data (dir, version);

      {
        g_autoptr(NatterdStore) store = natterd_store_sqlite_open (dir, &error);

        g_assert_no_error (error);
        g_assert_true (natterd_store_load (store, &sink, &loaded, &error));
        g_assert_no_error (error);
      }
      g_assert_cmpint (user_version (dir), ==, NATTERD_STORE_SQLITE_SCHEMA_VERSION);
      g_assert_true (has_table (dir, "messages"));
      g_assert_true (has_table (dir, "media"));
      g_assert_true (has_table (dir, "api_nonces"));
      g_assert_true (has_table (dir, "webhook_events"));
      g_assert_true (has_table (dir, "message_readers"));
      if (version >= 1)
        {
          g_assert_cmpint (count_rows (dir, "messages"), ==, 1);
          g_assert_cmpint (count_rows (dir, "webhook_events"), ==, version >= 4 ? 1 : 0);
          g_assert_cmpuint (loaded.apps, ==, 1);
          g_assert_true (loaded.multi_device);
          g_assert_cmpuint (loaded.users, ==, 2);
          g_assert_cmpuint (loaded.alice_max_seq, ==, 1);
          g_assert_cmpuint (loaded.groups, ==, 1);
          g_assert_cmpuint (loaded.members, ==, 1);
          g_assert_cmpuint (loaded.nonces, ==, version >= 3 ? 1 : 0);
          /* Before 5 there was no rotation: no old secret. */
          g_assert_cmpstr (loaded.secret, ==, "secret1");
          g_assert_cmpstr (loaded.old_secret, ==, version >= 5 ? "secret0" : NULL);
          g_assert_cmpint (loaded.old_secret_expires, ==, version >= 5 ? G_GINT64_CONSTANT (4102444800000) : 0);
          g_assert_cmpuint (loaded.token_key_size, ==, 32);
        }
      else
        g_assert_cmpuint (loaded.apps, ==, 0);

      g_free (loaded.secret);
      g_free (loaded.old_secret);
      natter_test_db_dir_remove (dir);
    }
}

static NatterdAppRecord *
find_app (NatterdStore *store,
          const char   *app_key)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) apps = natterd_store_list_apps (store, &error);

  g_assert_no_error (error);
  for (guint i = 0; i < apps->len; i++)
    if (g_str_equal (((NatterdAppRecord *) g_ptr_array_index (apps, i))->app_key, app_key))
      return g_ptr_array_steal_index (apps, i);
  g_assert_not_reached ();
}

/* natterd --rotate-secret and --rotate-token-key: what they store, kept
 * across opening the database again. */
static void
test_rotation (void)
{
  g_autofree char *dir = natter_test_db_dir_new ("natterd-migrations");
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterdAppRecord) created = g_new0 (NatterdAppRecord, 1);
  g_autofree char *first = NULL;
  g_autoptr(GBytes) key = natterd_app_token_key_generate ();

  {
    g_autoptr(NatterdStore) store = natterd_store_sqlite_open (dir, &error);
    g_autoptr(NatterdAppRecord) app = NULL;

    g_assert_no_error (error);
    natterd_app_record_generate (created, "app");
    created->settings = g_strdup ("{}");
    g_assert_true (natterd_store_create_app (store, created, &error));
    g_assert_no_error (error);
    app = find_app (store, created->app_key);
    g_assert_cmpstr (app->app_secret, ==, created->app_secret);
    g_assert_null (app->app_secret_old);
    g_assert_cmpint (app->app_secret_old_expires, ==, 0);

    g_assert_true (natterd_store_rotate_secret (store, created->app_key, "second", 5000, &error));
    g_assert_no_error (error);
    g_assert_true (natterd_store_set_token_key (store, created->app_key, key, &error));
    g_assert_no_error (error);

    g_assert_false (natterd_store_rotate_secret (store, "nope", "x", 1, &error));
    g_assert_error (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_NOT_FOUND);
    g_clear_error (&error);
    g_assert_false (natterd_store_set_token_key (store, "nope", key, &error));
    g_assert_error (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_NOT_FOUND);
    g_clear_error (&error);
  }

  {
    g_autoptr(NatterdStore) store = natterd_store_sqlite_open (dir, &error);
    g_autoptr(NatterdAppRecord) app = NULL;
    g_autoptr(NatterdAppRecord) again = NULL;

    g_assert_no_error (error);
    app = find_app (store, created->app_key);
    g_assert_cmpstr (app->app_secret, ==, "second");
    g_assert_cmpstr (app->app_secret_old, ==, created->app_secret);
    g_assert_cmpint (app->app_secret_old_expires, ==, 5000);
    g_assert_true (g_bytes_equal (app->token_key, key));
    g_assert_false (g_bytes_equal (app->token_key, created->token_key));

    /* A second rotation: the first secret is gone at once. */
    g_assert_true (natterd_store_rotate_secret (store, created->app_key, "third", 9000, &error));
    g_assert_no_error (error);
    again = find_app (store, created->app_key);
    g_assert_cmpstr (again->app_secret, ==, "third");
    g_assert_cmpstr (again->app_secret_old, ==, "second");
    g_assert_cmpint (again->app_secret_old_expires, ==, 9000);
  }

  natter_test_db_dir_remove (dir);
}

static void
test_newer_refused (void)
{
  g_autofree char *dir = natter_test_db_dir_new ("natterd-migrations");
  g_autoptr(GError) error = NULL;
  sqlite3 *db;

  {
    g_autoptr(NatterdStore) store = natterd_store_sqlite_open (dir, &error);
    g_assert_no_error (error);
  }
  db = open_raw (dir);
  g_assert_cmpint (sqlite3_exec (db, "PRAGMA user_version = 99", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  {
    g_autoptr(NatterdStore) store = natterd_store_sqlite_open (dir, &error);

    g_assert_null (store);
    g_assert_error (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_NEWER_SCHEMA);
  }
  g_assert_cmpint (user_version (dir), ==, 99);
  natter_test_db_dir_remove (dir);
}

static void
test_failed_migration_rolls_back (void)
{
  g_autofree char *dir = natter_test_db_dir_new ("natterd-migrations");
  g_autoptr(GError) error = NULL;
  sqlite3 *db;

  /* Something in the way of migration 1. */
  {
    g_autoptr(NatterdStore) empty = natterd_store_sqlite_open_at_version (dir, 0, &error);
    g_assert_no_error (error);
  }
  db = open_raw (dir);
  g_assert_cmpint (sqlite3_exec (db, "CREATE TABLE hours (x)", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  {
    g_autoptr(NatterdStore) store = natterd_store_sqlite_open (dir, &error);

    g_assert_null (store);
    g_assert_error (error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_FAILED);
  }
  /* Nothing of migration 1 stayed. */
  g_assert_cmpint (user_version (dir), ==, 0);
  g_assert_false (has_table (dir, "apps"));
  natter_test_db_dir_remove (dir);
}

static void
nonce_done (NatterdOp *op,
            gpointer   user_data)
{
  g_assert_no_error (op->error);
  if (op->kind == NATTERD_OP_PRUNE)
    *(guint *) user_data = ((NatterdPruneOp *) op)->nonces_deleted;
}

static void
record_thread (NatterdOp *op,
               gpointer   user_data)
{
  g_assert_no_error (op->error);
  *(GThread **) user_data = g_thread_self ();
}

/* A write's completion runs in the thread that owns the store, from its
 * main loop, even while that thread is busy between iterations and so does
 * not hold the context: never on the writer thread. */
static void
test_completes_on_owner_thread (void)
{
  g_autofree char *dir = natter_test_db_dir_new ("natterd-migrations");
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterdStore) store = natterd_store_sqlite_open (dir, &error);
  NatterdNonceOp *op;
  GThread *completed_in = NULL;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  g_assert_no_error (error);
  natterd_store_start (store, 16);
  op = natterd_op_new (NATTERD_OP_NONCE, record_thread, &completed_in, NULL);
  op->app_id = 1;
  op->nonce = g_strdup ("n0");
  op->expires = g_get_real_time () / G_USEC_PER_SEC + 300;
  natterd_store_submit (store, op);
  /* busy without iterating: the writer commits meanwhile */
  g_usleep (300 * 1000);
  g_assert_null (completed_in);
  while (completed_in == NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_assert_true (completed_in == g_thread_self ());
  natterd_store_stop (store);
  g_clear_object (&store);
  natter_test_db_dir_remove (dir);
}

/* Loaded first, so the other counters take it too. */
typedef struct
{
  Loaded     counts;
  GPtrArray *nonces;
} LoadedNonces;

static void
load_nonce (gpointer data, gint64 app_id, const char *nonce, gint64 expires)
{
  g_ptr_array_add (((LoadedNonces *) data)->nonces, g_strdup (nonce));
}

/* Nonces written by the writer come back at the next start while they are
 * in their window; a prune deletes the expired ones, in steps. */
static void
test_nonces (void)
{
  g_autofree char *dir = natter_test_db_dir_new ("natterd-migrations");
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) nonces = g_ptr_array_new_with_free_func (g_free);
  LoadedNonces loaded = { { 0 }, nonces };
  const NatterdLoadSink sink = {
    .app = count_app,
    .user = count_user,
    .group = count_group,
    .member = count_member,
    .chatroom = count_nothing,
    .blacklist = count_blacklist,
    .nonce = load_nonce,
  };
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  guint deleted = 0;

  {
    g_autoptr(NatterdStore) store = natterd_store_sqlite_open (dir, &error);
    NatterdPruneOp *prune;

    g_assert_no_error (error);
    natterd_store_start (store, 16);
    for (guint i = 0; i < 5; i++)
      {
        NatterdNonceOp *op = natterd_op_new (NATTERD_OP_NONCE, nonce_done, NULL, NULL);

        op->app_id = 1;
        op->nonce = g_strdup_printf ("n%u", i);
        op->expires = i < 3 ? now - 10 : now + 300;   /* n0..n2 expired */
        natterd_store_submit (store, op);
      }
    prune = natterd_op_new (NATTERD_OP_PRUNE, nonce_done, &deleted, NULL);
    prune->nonces_before = now;
    prune->limit = 2;
    natterd_store_submit (store, prune);
    natterd_store_stop (store);
  }
  g_assert_cmpuint (deleted, ==, 2);   /* the limit */

  {
    g_autoptr(NatterdStore) store = natterd_store_sqlite_open (dir, &error);

    g_assert_no_error (error);
    g_assert_true (natterd_store_load (store, &sink, &loaded, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (nonces->len, ==, 2);
    g_assert_true (g_ptr_array_find_with_equal_func (nonces, "n3", g_str_equal, NULL));
    g_assert_true (g_ptr_array_find_with_equal_func (nonces, "n4", g_str_equal, NULL));

    /* One expired row is left for the next step. */
    g_assert_cmpint (count_rows (dir, "api_nonces"), ==, 3);
  }
  natter_test_db_dir_remove (dir);
}

static void
published (NatterdOp *op,
           gpointer   user_data)
{
  NatterdPublishOp *publish = (NatterdPublishOp *) op;
  GPtrArray *bodies = user_data;

  g_assert_no_error (op->error);
  g_ptr_array_add (bodies, g_strdup (publish->webhook_body));
  g_assert_true (publish->webhook_body == NULL || strstr (publish->webhook_body, publish->message.uid) != NULL);
}

static NatterdPublishOp *
publish_op (const char *client_msg_id,
            const char *content,
            gboolean    webhook,
            GPtrArray  *bodies)
{
  NatterdPublishOp *op = natter_test_store_message_op (client_msg_id, content, 1000, published, bodies);

  op->webhook = webhook;
  return op;
}

static void
events_read (NatterdRead *base,
             gpointer     user_data)
{
  NatterdWebhookEventsRead *read = (NatterdWebhookEventsRead *) base;

  g_assert_no_error (base->error);
  *(GPtrArray **) user_data = g_ptr_array_ref (read->events);
}

/* One page of stored events after @after_id. */
static GPtrArray *
read_events (NatterdStore *store,
             gint64        after_id,
             guint         limit,
             gsize         max_bytes)
{
  NatterdWebhookEventsRead *read;
  GPtrArray *events = NULL;

  read = natterd_read_new (NATTERD_READ_WEBHOOK_EVENTS, events_read, &events, NULL);
  read->after_id = after_id;
  read->limit = limit;
  read->max_bytes = max_bytes;
  natterd_store_read (store, read);
  while (events == NULL)
    g_main_context_iteration (NULL, TRUE);
  return events;
}

static const char *
event_body (GPtrArray *events,
            guint      i)
{
  return ((NatterdWebhookEvent *) g_ptr_array_index (events, i))->body;
}

/* A webhook event is stored with its message, in the same commit, and
 * read back in pages in the order of the messages; a resend stores no
 * second one; forgotten events are gone. */
static void
test_webhook_events (void)
{
  g_autofree char *dir = natter_test_db_dir_new ("natterd-migrations");
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) bodies = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(NatterdStore) store = natterd_store_sqlite_open (dir, &error);
  g_autoptr(GPtrArray) page = NULL;
  NatterdWebhookEvent *last;
  NatterdWebhookDoneOp *done;
  gint64 last_id;

  g_assert_no_error (error);
  natterd_store_start (store, 16);
  natterd_store_submit (store, publish_op ("m0", "{\"content\":\"zero\"}", TRUE, bodies));
  natterd_store_submit (store, publish_op ("m1", "{\"content\":\"no hook\"}", FALSE, bodies));
  natterd_store_submit (store, publish_op ("m2", "{\"content\":\"two & more\"}", TRUE, bodies));
  natterd_store_submit (store, publish_op ("m3", "{\"content\":\"three\"}", TRUE, bodies));
  natterd_store_submit (store, publish_op ("m2", "{\"content\":\"two & more\"}", TRUE, bodies));
  while (bodies->len < 5)
    g_main_context_iteration (NULL, TRUE);
  g_assert_nonnull (g_ptr_array_index (bodies, 0));
  g_assert_null (g_ptr_array_index (bodies, 1));
  g_assert_null (g_ptr_array_index (bodies, 4));   /* the resend */
  g_assert_nonnull (strstr (g_ptr_array_index (bodies, 2), "content=%7B%22content%22%3A%22two%20%26%20more%22%7D"));
  g_assert_nonnull (strstr (g_ptr_array_index (bodies, 2), "&channelType=PERSON&msgTimestamp=1000&"));
  g_assert_cmpint (count_rows (dir, "messages"), ==, 4);
  g_assert_cmpint (count_rows (dir, "webhook_events"), ==, 3);

  /* Pages: by count, then by bytes (the event that passes the bound ends it). */
  page = read_events (store, 0, 2, 0);
  g_assert_cmpuint (page->len, ==, 2);
  g_assert_cmpstr (event_body (page, 0), ==, g_ptr_array_index (bodies, 0));
  g_assert_cmpstr (event_body (page, 1), ==, g_ptr_array_index (bodies, 2));
  last = g_ptr_array_index (page, 1);
  g_assert_cmpint (last->app_id, ==, 1);
  g_clear_pointer (&page, g_ptr_array_unref);
  page = read_events (store, 0, 100, 1);
  g_assert_cmpuint (page->len, ==, 1);
  g_assert_cmpstr (event_body (page, 0), ==, g_ptr_array_index (bodies, 0));
  last = g_ptr_array_index (page, 0);
  done = natterd_op_new (NATTERD_OP_WEBHOOK_DONE, NULL, NULL, NULL);
  g_array_append_val (done->ids, last->id);
  natterd_store_submit (store, done);
  g_clear_pointer (&page, g_ptr_array_unref);

  natterd_store_stop (store);
  g_clear_object (&store);
  g_assert_cmpint (count_rows (dir, "webhook_events"), ==, 2);
  g_assert_cmpint (count_rows (dir, "messages"), ==, 4);

  store = natterd_store_sqlite_open (dir, &error);
  g_assert_no_error (error);
  natterd_store_start (store, 16);
  page = read_events (store, 0, 100, 0);
  g_assert_cmpuint (page->len, ==, 2);
  g_assert_cmpstr (event_body (page, 0), ==, g_ptr_array_index (bodies, 2));
  g_assert_cmpstr (event_body (page, 1), ==, g_ptr_array_index (bodies, 3));
  last_id = ((NatterdWebhookEvent *) g_ptr_array_index (page, 1))->id;
  g_clear_pointer (&page, g_ptr_array_unref);
  page = read_events (store, last_id, 100, 0);
  g_assert_cmpuint (page->len, ==, 0);
  g_clear_pointer (&page, g_ptr_array_unref);
  natterd_store_stop (store);

  g_clear_object (&store);
  natter_test_db_dir_remove (dir);
}

static gint64
query_int (const char *dir,
           const char *sql)
{
  sqlite3 *db = open_raw (dir);
  sqlite3_stmt *stmt = NULL;
  gint64 value;

  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  value = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return value;
}

#define BIG_BATCH 3000

/* The writer's WAL frames are written in 128 KiB writes (see
 * natterd-store-sqlite-wal.c): a commit of many of them, past what the
 * page cache holds (SQLite writes the overflow to the WAL mid-transaction
 * and reads it back), stores every message whole, and reads back the
 * same after a restart; the database checks out. */
static void
test_big_batch (void)
{
  g_autofree char *dir = natter_test_db_dir_new ("natterd-migrations");
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) bodies = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(NatterdStore) store = natterd_store_sqlite_open (dir, &error);
  g_autofree char *filler = g_strnfill (900, 'x');
  gint64 expected = 0;

  g_assert_no_error (error);
  natterd_store_sqlite_set_cache_size (NATTERD_STORE_SQLITE (store), 256 * 1024);
  natterd_store_start (store, 2 * BIG_BATCH);
  natterd_store_hold (store);
  for (guint i = 0; i < BIG_BATCH; i++)
    {
      g_autofree char *id = g_strdup_printf ("big-%u", i);
      g_autofree char *content = g_strdup_printf ("{\"content\":\"%u %s\"}", i, filler);

      expected += (gint64) strlen (content);
      natterd_store_submit (store, publish_op (id, content, FALSE, bodies));
    }
  natterd_store_release (store);
  while (bodies->len < BIG_BATCH)
    g_main_context_iteration (NULL, TRUE);
  natterd_store_stop (store);
  g_clear_object (&store);

  for (guint run = 0; run < 2; run++)
    {
      g_assert_cmpint (count_rows (dir, "messages"), ==, BIG_BATCH);
      g_assert_cmpint (query_int (dir, "SELECT SUM (LENGTH (content)) FROM messages"), ==, expected);
      g_assert_cmpint (query_int (dir, "SELECT COUNT (*) FROM messages WHERE content"
                                       " = '{\"content\":\"' || (id - 1) || ' ' || printf ('%.900c', 'x') || '\"}'"),
                       ==, BIG_BATCH);
      g_assert_cmpint (query_int (dir, "SELECT COUNT (*) FROM pragma_integrity_check WHERE integrity_check = 'ok'"), ==, 1);

      /* Again after a start and stop of its own. */
      store = natterd_store_sqlite_open (dir, &error);
      g_assert_no_error (error);
      natterd_store_start (store, 16);
      natterd_store_stop (store);
      g_clear_object (&store);
    }
  natter_test_db_dir_remove (dir);
}

static void
test_uids (void)
{
  for (gint64 id = 1; id < G_GINT64_CONSTANT (1) << 40; id = id * 7 + 3)
    {
      char uid[20];

      natterd_message_uid_make (id, uid);
      g_assert_cmpuint (strlen (uid), ==, 19);
      g_assert_cmpint (natterd_message_uid_to_id (uid), ==, id);
    }
  g_assert_cmpint (natterd_message_uid_to_id ("not a uid"), ==, 0);
  g_assert_cmpint (natterd_message_uid_to_id ("IIII-IIII-IIII-IIII"), ==, 0);
}

#define UNGUESSABLE_UIDS 2000

static gpointer
make_uids (gpointer data)
{
  GPtrArray *uids = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < UNGUESSABLE_UIDS; i++)
    {
      char uid[20];

      natterd_message_uid_make (42, uid);
      g_ptr_array_add (uids, g_strdup (uid));
    }
  return uids;
}

/* The random half of uids for the same id never repeats: not within a
 * thread (past the block of random bytes the store draws at a time), not
 * between threads (the writer and the router each draw their own). */
static void
test_uids_unguessable (void)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GPtrArray) here = make_uids (NULL);
  g_autoptr(GPtrArray) there = g_thread_join (g_thread_new ("uids", make_uids, NULL));
  GPtrArray *all[] = { here, there };

  for (guint a = 0; a < G_N_ELEMENTS (all); a++)
    for (guint i = 0; i < all[a]->len; i++)
      {
        const char *uid = g_ptr_array_index (all[a], i);

        g_assert_cmpint (natterd_message_uid_to_id (uid), ==, 42);
        g_assert_false (g_hash_table_contains (seen, uid));
        g_hash_table_add (seen, (gpointer) uid);
      }
  g_assert_cmpuint (g_hash_table_size (seen), ==, 2 * UNGUESSABLE_UIDS);
}


typedef struct
{
  guint    unread;
  guint64  first_seq, read_seq, latest_seq, last_seq;
  gboolean found;
  GPtrArray *contents;
  gint64   sync_time;
} TimelineView;

static void
sync_copied (NatterdRead *base,
             gpointer     user_data)
{
  NatterdTimelineSyncRead *read = (NatterdTimelineSyncRead *) base;
  TimelineView *view = user_data;

  g_assert_no_error (base->error);
  view->sync_time = read->sync_time;
  for (guint i = 0; i < read->timelines->len; i++)
    {
      NatterdTimelineState *state = g_ptr_array_index (read->timelines, i);

      if (!g_str_equal (state->target_id, "g"))
        continue;
      view->found = TRUE;
      view->unread = state->unread;
      view->first_seq = state->first_seq;
      view->read_seq = state->read_seq;
      view->latest_seq = state->latest_seq;
      view->last_seq = state->last_seq;
    }
  view->contents = g_ptr_array_new_with_free_func (g_free);
}

static void
timeline_copied (NatterdRead *base,
                 gpointer     user_data)
{
  NatterdTimelineRead *read = (NatterdTimelineRead *) base;
  GPtrArray *contents = user_data;

  g_assert_no_error (base->error);
  g_assert_true (read->found);
  for (guint i = 0; i < read->messages->len; i++)
    {
      NatterdMessage *m = g_ptr_array_index (read->messages, i);

      g_ptr_array_add (contents, g_strdup_printf ("%" G_GUINT64_FORMAT ":%s", m->timeline_seq, m->content));
    }
  g_ptr_array_add (contents, NULL);
}

/* @user_id's view of group "g": a sync since 0 and the whole timeline. */
static void
view_timeline (NatterdStore *store,
               gint64        user_id,
               TimelineView *view)
{
  NatterdTimelineSyncRead *sync = natterd_read_new (NATTERD_READ_TIMELINE_SYNC, sync_copied, view, NULL);
  NatterdTimelineRead *timeline;
  GPtrArray *contents;

  sync->user_id = user_id;
  sync->app_id = 1;
  sync->limit = 100;
  natterd_store_read (store, sync);
  while (view->contents == NULL)
    g_main_context_iteration (NULL, TRUE);

  contents = view->contents;
  timeline = natterd_read_new (NATTERD_READ_TIMELINE, timeline_copied, contents, NULL);
  timeline->user_id = user_id;
  timeline->app_id = 1;
  timeline->target_id = g_strdup ("g");
  timeline->limit = 100;
  natterd_store_read (store, timeline);
  while (contents->len == 0 || g_ptr_array_index (contents, contents->len - 1) != NULL)
    g_main_context_iteration (NULL, TRUE);
  g_ptr_array_remove_index (contents, contents->len - 1);
}

/* One app (id 1, key1/secret1), as any version stores it. */
#define APP_ROW \
  "INSERT INTO apps (id, app_key, app_secret, name, token_key, settings, created)" \
  " VALUES (1, 'key1', 'secret1', 'app', x'00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff', '{}', 1);"

/* A new data dir at schema @version, with @sql run on it. */
static char *
db_dir_at_version (int         version,
                   const char *sql)
{
  char *dir = natter_test_db_dir_new ("natterd-migrations");
  g_autoptr(GError) error = NULL;
  sqlite3 *db;

  {
    g_autoptr(NatterdStore) old = natterd_store_sqlite_open_at_version (dir, version, &error);
    g_assert_no_error (error);
  }
  db = open_raw (dir);
  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
  return dir;
}

/* A persisted, counted RC:TxtMsg alice (users.id 1 of app 1) sends. */
static NatterdPublishOp *
alice_text_op (int             conversation_type,
               const char     *channel,
               const char     *target_id,
               const char     *content,
               gint64          sent_time,
               NatterdOpFunc   done,
               gpointer        user_data)
{
  NatterdPublishOp *op = natterd_op_new (NATTERD_OP_PUBLISH, done, user_data, NULL);

  op->app_id = 1;
  op->sender_id = 1;
  op->channel = g_strdup (channel);
  op->message.conversation_type = conversation_type;
  op->message.sender_user_id = g_strdup ("alice");
  op->message.target_id = g_strdup (target_id);
  op->message.object_name = g_strdup ("RC:TxtMsg");
  op->message.content = g_strdup (content);
  op->message.flags = NATTER_MESSAGE_FLAG_PERSISTED | NATTER_MESSAGE_FLAG_COUNTED;
  op->message.sent_time = sent_time;
  return op;
}

/* natter.v2: a data dir of schema 5, whose group messages are inbox
 * entries of every member, is migrated to group timelines: each message
 * numbered once in order, each member's part of it (from their first
 * entry), their unread count kept, the inbox keeping private ones only;
 * and a new group message goes on after them. */
static void
test_group_timelines_migrated (void)
{
  g_autoptr(GError) error = NULL;
  TimelineView bob = { 0 }, carol = { 0 }, alice = { 0 };
  g_autofree char *dir = db_dir_at_version (5,
    APP_ROW
    "INSERT INTO users (id, app_id, user_id, created, max_seq) VALUES (1, 1, 'alice', 1, 0),"
    " (2, 1, 'bob', 1, 4), (3, 1, 'carol', 1, 1);"
    "INSERT INTO groups (id, app_id, group_id, name, created) VALUES (1, 1, 'g', 'G', 1);"
    "INSERT INTO group_members (group_id, user_id, joined) VALUES (1, 1, 1), (1, 2, 1), (1, 3, 2500);"
    "INSERT INTO messages (id, app_id, uid, conversation_type, sender_id, target_id, channel,"
    "  object_name, content, flags, sent_time) VALUES"
    " (10, 1, 'AAAA-AAAA-AAAA-AAAA', 3, 1, 'g', '3/g', 'RC:TxtMsg', '{\"content\":\"one\"}', 3, 1000),"
    " (11, 1, 'AAAA-AAAA-AAAA-AAAB', 3, 1, 'g', '3/g', 'RC:TxtMsg', '{\"content\":\"two\"}', 3, 2000),"
    " (12, 1, 'AAAA-AAAA-AAAA-AAAC', 1, 1, 'bob', '1/alice/bob', 'RC:TxtMsg', '{\"content\":\"private\"}', 3, 2100),"
    " (13, 1, 'AAAA-AAAA-AAAA-AAAD', 3, 1, 'g', '3/g', 'RC:TxtMsg', '{\"content\":\"three\"}', 3, 3000);"
    "INSERT INTO inbox (user_id, seq, message_id) VALUES (2, 1, 10), (2, 2, 11), (2, 3, 12), (2, 4, 13),"
    " (3, 1, 13), (1, 1, 10), (1, 2, 11), (1, 3, 13);"
    "INSERT INTO conversations (user_id, conversation_type, target_id, latest_message_id, updated_time, unread)"
    " VALUES (2, 3, 'g', 13, 3000, 2), (3, 3, 'g', 13, 3000, 1), (2, 1, 'alice', 12, 2100, 1);");

  {
    g_autoptr(NatterdStore) store = natterd_store_sqlite_open (dir, &error);
    NatterdPublishOp *op;

    g_assert_no_error (error);
    g_assert_cmpint (user_version (dir), ==, NATTERD_STORE_SQLITE_SCHEMA_VERSION);
    /* The private message stays an inbox entry; group ones left it. */
    g_assert_cmpint (count_rows (dir, "inbox"), ==, 1);
    g_assert_cmpint (count_rows (dir, "timelines"), ==, 1);
    g_assert_cmpint (count_rows (dir, "timeline_members"), ==, 3);

    natterd_store_start (store, 16);
    view_timeline (store, 2, &bob);
    g_assert_true (bob.found);
    g_assert_cmpuint (bob.latest_seq, ==, 3);
    g_assert_cmpuint (bob.first_seq, ==, 1);
    g_assert_cmpuint (bob.last_seq, ==, 0);
    g_assert_cmpuint (bob.read_seq, ==, 1);
    g_assert_cmpuint (bob.unread, ==, 2);
    g_assert_cmpuint (bob.contents->len, ==, 3);
    g_assert_cmpstr (g_ptr_array_index (bob.contents, 0), ==, "1:{\"content\":\"one\"}");
    g_assert_cmpstr (g_ptr_array_index (bob.contents, 1), ==, "2:{\"content\":\"two\"}");
    g_assert_cmpstr (g_ptr_array_index (bob.contents, 2), ==, "3:{\"content\":\"three\"}");

    /* carol joined after two of them: her part starts at her first. */
    view_timeline (store, 3, &carol);
    g_assert_true (carol.found);
    g_assert_cmpuint (carol.first_seq, ==, 3);
    g_assert_cmpuint (carol.unread, ==, 1);
    g_assert_cmpuint (carol.contents->len, ==, 1);
    g_assert_cmpstr (g_ptr_array_index (carol.contents, 0), ==, "3:{\"content\":\"three\"}");

    /* A new group message is the fourth, once. */
    op = alice_text_op (3, "3/g", "g", "{\"content\":\"four\"}", 4000, NULL, NULL);
    op->timeline = TRUE;
    natterd_store_submit (store, op);
    natterd_store_stop (store);
  }
  {
    g_autoptr(NatterdStore) store = natterd_store_sqlite_open (dir, &error);

    g_assert_no_error (error);
    natterd_store_start (store, 16);
    view_timeline (store, 1, &alice);
    g_assert_cmpuint (alice.latest_seq, ==, 4);
    g_assert_cmpuint (alice.unread, ==, 0);   /* her own */
    g_assert_cmpuint (alice.contents->len, ==, 4);
    g_assert_cmpstr (g_ptr_array_index (alice.contents, 3), ==, "4:{\"content\":\"four\"}");
    natterd_store_stop (store);
  }
  g_assert_cmpint (count_rows (dir, "inbox"), ==, 1);
  g_ptr_array_unref (bob.contents);
  g_ptr_array_unref (carol.contents);
  g_ptr_array_unref (alice.contents);
  natter_test_db_dir_remove (dir);
}

static void
user_groups_copied (NatterdRead *base,
                    gpointer     user_data)
{
  NatterdUserGroupsRead *read = (NatterdUserGroupsRead *) base;
  GString *out = user_data;
  g_autoptr(GArray) groups = g_array_copy (read->group_ids);
  g_autoptr(GArray) members = g_array_copy (read->member_ids);

  g_assert_no_error (base->error);
  g_array_sort (groups, (GCompareFunc) natterd_test_compare_int64);
  g_array_sort (members, (GCompareFunc) natterd_test_compare_int64);
  for (guint i = 0; i < groups->len; i++)
    g_string_append_printf (out, "%sg%" G_GINT64_FORMAT, i > 0 ? "," : "", g_array_index (groups, gint64, i));
  g_string_append_c (out, '|');
  for (guint i = 0; i < members->len; i++)
    g_string_append_printf (out, "%su%" G_GINT64_FORMAT, i > 0 ? "," : "", g_array_index (members, gint64, i));
}

/* How SQLite runs @sql: its EXPLAIN QUERY PLAN details, joined. */
static char *
query_plan (const char *dir,
            const char *sql)
{
  sqlite3 *db = open_raw (dir);
  sqlite3_stmt *stmt = NULL;
  g_autofree char *explain = g_strconcat ("EXPLAIN QUERY PLAN ", sql, NULL);
  GString *plan = g_string_new (NULL);

  g_assert_cmpint (sqlite3_prepare_v2 (db, explain, -1, &stmt, NULL), ==, SQLITE_OK);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    g_string_append_printf (plan, "%s;", (const char *) sqlite3_column_text (stmt, 3));
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return g_string_free (plan, FALSE);
}

/* A user's groups (whom natterd tells of a profile change, what an
 * account's deletion leaves) come by the index on group_members
 * (user_id), not by a scan of every group's members. */
static void
test_user_groups_by_index (void)
{
  g_autofree char *dir = natter_test_db_dir_new ("natterd-migrations");
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) alice = g_string_new (NULL);
  g_autoptr(GString) dave = g_string_new (NULL);
  g_autofree char *plan = NULL;
  g_autoptr(NatterdStore) store = natterd_store_sqlite_open (dir, &error);
  sqlite3 *db;

  g_assert_no_error (error);
  db = open_raw (dir);
  /* alice (1) is in groups 1 and 3, with bob (2) and carol (3); dave (4)
   * in none; 500 other groups hold neither. */
  g_assert_cmpint (sqlite3_exec (db,
    "INSERT INTO group_members (group_id, user_id, joined) VALUES (1, 1, 1), (1, 2, 1), (2, 2, 1), (2, 3, 1),"
    " (3, 1, 1), (3, 3, 1);"
    "WITH RECURSIVE n (i) AS (SELECT 10 UNION ALL SELECT i + 1 FROM n WHERE i < 509)"
    " INSERT INTO group_members (group_id, user_id, joined) SELECT i, 100 + i, 1 FROM n;",
    NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  natterd_store_start (store, 16);
  {
    NatterdUserGroupsRead *read = natterd_read_new (NATTERD_READ_USER_GROUPS, user_groups_copied, alice, NULL);

    read->user_id = 1;
    read->with_members = TRUE;
    natterd_store_read (store, read);
    read = natterd_read_new (NATTERD_READ_USER_GROUPS, user_groups_copied, dave, NULL);
    read->user_id = 4;
    natterd_store_read (store, read);
  }
  while (alice->len == 0 || dave->len == 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (alice->str, ==, "g1,g3|u1,u2,u3");
  g_assert_cmpstr (dave->str, ==, "|");

  plan = query_plan (dir, "SELECT group_id FROM group_members WHERE user_id = 1");
  g_assert_nonnull (strstr (plan, "group_members_user"));
  g_clear_pointer (&plan, g_free);
  plan = query_plan (dir, "SELECT DISTINCT o.user_id FROM group_members m"
                     " JOIN group_members o ON o.group_id = m.group_id WHERE m.user_id = 1");
  g_assert_nonnull (strstr (plan, "group_members_user"));
  g_assert_null (strstr (plan, "SCAN"));
  natterd_store_stop (store);
  natter_test_db_dir_remove (dir);
}

static void
history_copied (NatterdRead *base,
                gpointer     user_data)
{
  NatterdHistoryRead *read = (NatterdHistoryRead *) base;
  GString *out = user_data;

  g_assert_no_error (base->error);
  for (guint i = 0; i < read->messages->len; i++)
    {
      NatterdMessage *m = g_ptr_array_index (read->messages, i);

      g_string_append_printf (out, "%s%s", i > 0 ? "," : "", m->content);
    }
  g_string_append_c (out, '|');
}

static void
publish_done (NatterdOp *op,
              gpointer   user_data)
{
  g_assert_no_error (op->error);
  *(gboolean *) user_data = TRUE;
}

/* The contents of @channel's history, newest first, "|"-terminated. */
static char *
history_of (NatterdStore *store,
            const char   *channel,
            const char   *target_id)
{
  g_autoptr(GString) out = g_string_new (NULL);
  NatterdHistoryRead *read = natterd_read_new (NATTERD_READ_HISTORY, history_copied, out, NULL);

  read->app_id = 1;
  read->channel = g_strdup (channel);
  read->limit = 20;
  read->user_id = 1;
  read->target_id = g_strdup (target_id);
  natterd_store_read (store, read);
  while (out->len == 0 || out->str[out->len - 1] != '|')
    g_main_context_iteration (NULL, TRUE);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* Schema 11 (#17): history by the integer key messages_conversation
 * (channel_hash, sent_time) instead of (app_id, channel text, sent_time).
 * A database of schema 10 with messages in two conversations (one not
 * persisted) opens and reads its history as before, new messages join
 * it, and history is read through the new index, in order, with no scan
 * or sort. */
static void
test_history_by_integer_key (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *plan = NULL;
  g_autofree char *dir = db_dir_at_version (10,
    APP_ROW
    "INSERT INTO users (id, app_id, user_id, created) VALUES (1, 1, 'alice', 1), (2, 1, 'bob', 1), (3, 1, 'carol', 1);"
    "INSERT INTO messages (id, app_id, uid, conversation_type, sender_id, target_id, channel,"
    "  object_name, content, flags, sent_time) VALUES"
    " (1, 1, 'AAAA-AAAA-AAAA-AAAA', 1, 1, 'bob', '1/alice/bob', 'RC:TxtMsg', 'b1', 3, 1000),"
    " (2, 1, 'AAAA-AAAA-AAAA-AAAB', 1, 1, 'carol', '1/alice/carol', 'RC:TxtMsg', 'c1', 3, 2000),"
    " (3, 1, NULL, 1, 2, 'alice', '1/alice/bob', 'RC:TypSts', 'typing', 0, 2500),"
    " (4, 1, 'AAAA-AAAA-AAAA-AAAC', 1, 2, 'alice', '1/alice/bob', 'RC:TxtMsg', 'b2', 3, 3000);");

  {
    g_autoptr(NatterdStore) store = natterd_store_sqlite_open (dir, &error);
    g_autofree char *bob = NULL, *carol = NULL, *again = NULL;
    NatterdPublishOp *op;
    gboolean published = FALSE;

    g_assert_no_error (error);
    g_assert_cmpint (user_version (dir), ==, NATTERD_STORE_SQLITE_SCHEMA_VERSION);
    natterd_store_start (store, 16);
    bob = history_of (store, "1/alice/bob", "bob");
    g_assert_cmpstr (bob, ==, "b2,b1|");
    carol = history_of (store, "1/alice/carol", "carol");
    g_assert_cmpstr (carol, ==, "c1|");

    op = alice_text_op (1, "1/alice/bob", "bob", "b3", 4000, publish_done, &published);
    natterd_store_submit (store, op);
    while (!published)
      g_main_context_iteration (NULL, TRUE);
    again = history_of (store, "1/alice/bob", "bob");
    g_assert_cmpstr (again, ==, "b3,b2,b1|");
    natterd_store_stop (store);
  }

  plan = query_plan (dir, natterd_store_sqlite_reader_sql[R_HISTORY]);
  g_test_message ("history: %s", plan);
  g_assert_nonnull (strstr (plan, "USING INDEX messages_conversation (channel_hash=? AND sent_time>? AND sent_time<?)"));
  g_assert_null (strstr (plan, "SCAN"));
  g_assert_null (strstr (plan, "TEMP B-TREE"));
  natter_test_db_dir_remove (dir);
}

typedef struct
{
  gboolean done, duplicate;
  gint64 id, sent_time;
  char *uid;
  GError *error;                /* store_text_result() only */
  guint64 seq;                  /* the first recipient's inbox seq */
} Stored;

static void
stored_done (NatterdOp *op,
             gpointer   user_data)
{
  NatterdPublishOp *publish = (NatterdPublishOp *) op;
  Stored *stored = user_data;

  stored->error = op->error != NULL ? g_error_copy (op->error) : NULL;
  stored->done = TRUE;
  stored->duplicate = publish->duplicate;
  stored->id = publish->message.id;
  stored->sent_time = publish->message.sent_time;
  if (publish->recipients->len > 0)
    stored->seq = g_array_index (publish->recipients, NatterdRecipient, 0).seq;
  g_free (stored->uid);
  stored->uid = g_strdup (publish->message.uid);
}

/* What the store answers alice's @client_msg_id from @device_id with,
 * an error included. */
static Stored
store_text_result (NatterdStore *store,
                   const char   *device_id,
                   const char   *client_msg_id,
                   const char   *content,
                   gint64        sent_time)
{
  Stored stored = { 0 };
  NatterdPublishOp *op = alice_text_op (1, "1/alice/bob", "bob", content, sent_time, stored_done, &stored);

  op->device_id = g_strdup (device_id);
  op->client_msg_id = g_strdup (client_msg_id);
  natterd_store_submit (store, op);
  while (!stored.done)
    g_main_context_iteration (NULL, TRUE);
  return stored;
}

static Stored
store_text (NatterdStore *store,
            const char   *device_id,
            const char   *client_msg_id,
            const char   *content,
            gint64        sent_time)
{
  Stored stored = store_text_result (store, device_id, client_msg_id, content, sent_time);

  g_assert_no_error (stored.error);
  return stored;
}

/* The database's dedup salt (schema 13). */
static void
read_salt (const char *dir,
           guint8      salt[16])
{
  sqlite3 *db = open_raw (dir);
  g_autoptr(GError) error = NULL;

  g_assert_true (natterd_sqlite_read_dedup_salt (db, salt, &error));
  g_assert_no_error (error);
  sqlite3_close (db);
}

/* Schema 12 (#17): client_msg_id idempotency by an integer key. A
 * database of schema 11 opens with its messages keyed: a resend of a
 * stored message (same sender, device and client_msg_id) is answered
 * with it and adds nothing, before and after a restart; another device's
 * is another message, and one without a device never was deduplicated.
 * A message whose key another one holds (a collision) is stored under
 * the next key and answered as itself when sent again. */
static void
test_dedup_by_integer_key (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *sql = g_strdup_printf (
    APP_ROW
    "INSERT INTO users (id, app_id, user_id, created) VALUES (1, 1, 'alice', 1), (2, 1, 'bob', 1);"
    "INSERT INTO messages (id, app_id, uid, conversation_type, sender_id, target_id, channel,"
    "  object_name, content, flags, sent_time, device_id, client_msg_id, channel_hash) VALUES"
    " (1, 1, 'AAAA-AAAA-AAAA-AAAA', 1, 1, 'bob', '1/alice/bob', 'RC:TxtMsg', 'b1', 3, 1000, 'd1', 'm1', %1$" G_GINT64_FORMAT "),"
    " (2, 1, 'AAAA-AAAA-AAAA-AAAB', 1, 1, 'bob', '1/alice/bob', 'RC:TxtMsg', 'b2', 3, 2000, NULL, 'm2', %1$" G_GINT64_FORMAT "),"
    " (3, 1, 'AAAA-AAAA-AAAA-AAAC', 1, 1, 'bob', '1/alice/bob', 'RC:TxtMsg', 'b3', 3, 3000, 'd1', 'm3', %1$" G_GINT64_FORMAT ");",
    natterd_sqlite_channel_hash (1, "1/alice/bob"));
  g_autofree char *dir = db_dir_at_version (11, sql);
  g_autofree char *key_sql = NULL;
  g_autofree char *history = NULL;
  guint8 salt[16];
  gint64 m9 = 0;

  for (guint run = 0; run < 2; run++)
    {
      g_autoptr(NatterdStore) store = natterd_store_sqlite_open (dir, &error);
      Stored s;

      g_assert_no_error (error);
      g_assert_cmpint (user_version (dir), ==, NATTERD_STORE_SQLITE_SCHEMA_VERSION);
      natterd_store_start (store, 16);

      s = store_text (store, "d1", "m1", "b1 again", 9000);
      g_assert_true (s.duplicate);
      g_assert_cmpint (s.id, ==, 1);
      g_assert_cmpstr (s.uid, ==, "AAAA-AAAA-AAAA-AAAA");
      g_assert_cmpint (s.sent_time, ==, 1000);
      g_free (s.uid);
      s = store_text (store, "d1", "m3", "b3 again", 9000);
      g_assert_true (s.duplicate);
      g_assert_cmpint (s.id, ==, 3);
      g_free (s.uid);

      if (run == 0)
        {
          /* Another device's m1, and m2 (stored without a device) again. */
          s = store_text (store, "d2", "m1", "b4", 4000);
          g_assert_false (s.duplicate);
          g_assert_cmpint (s.id, ==, 4);
          g_free (s.uid);
          s = store_text (store, NULL, "m2", "b5", 5000);
          g_assert_false (s.duplicate);
          g_assert_cmpint (s.id, ==, 5);
          g_free (s.uid);
          natterd_store_stop (store);
          g_clear_object (&store);

          /* A message x9 whose key is the one m9 will have: a collision. */
          read_salt (dir, salt);
          m9 = natterd_sqlite_dedup_key (salt, 1, "d1", "m9");
          key_sql = g_strdup_printf ("INSERT INTO messages (id, app_id, uid, conversation_type, sender_id,"
                                     " target_id, channel, object_name, content, flags, sent_time, device_id,"
                                     " client_msg_id, channel_hash, dedup_key) VALUES (6, 1,"
                                     " 'AAAA-AAAA-AAAA-AAAD', 1, 1, 'bob', '1/alice/bob', 'RC:TxtMsg', 'b6', 3,"
                                     " 6000, 'd1', 'x9', %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ")",
                                     natterd_sqlite_channel_hash (1, "1/alice/bob"), m9);
          {
            sqlite3 *db = open_raw (dir);

            g_assert_cmpint (sqlite3_exec (db, key_sql, NULL, NULL, NULL), ==, SQLITE_OK);
            sqlite3_close (db);
          }
          continue;
        }

      /* m9 is stored beside x9, under the next key, and is itself again. */
      s = store_text (store, "d1", "m9", "b7", 7000);
      g_assert_false (s.duplicate);
      g_assert_cmpint (s.id, ==, 7);
      g_free (s.uid);
      s = store_text (store, "d1", "m9", "b7 again", 9000);
      g_assert_true (s.duplicate);
      g_assert_cmpint (s.id, ==, 7);
      g_free (s.uid);
      s = store_text (store, "d2", "m1", "b4 again", 9000);
      g_assert_true (s.duplicate);
      g_assert_cmpint (s.id, ==, 4);
      g_free (s.uid);
      history = history_of (store, "1/alice/bob", "bob");
      natterd_store_stop (store);
    }

  g_assert_cmpstr (history, ==, "b7,b6,b5,b4,b3,b2,b1|");
  g_assert_cmpint (count_rows (dir, "messages"), ==, 7);
  g_assert_cmpint (query_int (dir, "SELECT dedup_key FROM messages WHERE id = 1"), ==,
                   natterd_sqlite_dedup_key (salt, 1, "d1", "m1"));
  g_assert_cmpint (query_int (dir, "SELECT COUNT (*) FROM messages WHERE dedup_key IS NULL"), ==, 2);
  g_assert_cmpint (query_int (dir, "SELECT dedup_key FROM messages WHERE id = 7"), ==,
                   m9 + NATTERD_SQLITE_DEDUP_PROBE_STEP);
  g_assert_cmpint (query_int (dir, "SELECT COUNT (*) FROM sqlite_master WHERE name = 'messages_dedup'"), ==, 0);
  natter_test_db_dir_remove (dir);
}

/* A message alice (users.id 1) sent from d1 as @client_msg_id, stored
 * under @key by hand (another message's key, when it is not its own). */
static void
plant_message (const char *dir,
               gint64      id,
               const char *client_msg_id,
               gint64      key)
{
  g_autofree char *sql = g_strdup_printf (
    "INSERT INTO messages (id, app_id, uid, conversation_type, sender_id, target_id, channel, object_name,"
    " content, flags, sent_time, device_id, client_msg_id, channel_hash, dedup_key) VALUES (%" G_GINT64_FORMAT
    ", 1, printf ('AAAA-AAAA-AAAA-%%04d', %" G_GINT64_FORMAT "), 1, 1, 'bob', '1/alice/bob', 'RC:TxtMsg', '%s',"
    " 3, %" G_GINT64_FORMAT ", 'd1', '%s', %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ")",
    id, id, client_msg_id, 1000 * id, client_msg_id, natterd_sqlite_channel_hash (1, "1/alice/bob"), key);
  sqlite3 *db = open_raw (dir);

  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
}

/* Schema 13 (#17): the idempotency key is keyed by the database's own
 * random salt, so no client can line up colliding client_msg_ids. A
 * schema-12 database (schema 12's unkeyed keys, one collision stepped
 * over) opens with a salt and every message keyed again with it: resends
 * are still answered with their messages, the keys are the keyed ones
 * and another database's salt and keys differ. The collision path still
 * holds: a message whose key and the next 64 are other messages' is
 * refused with an error, and the store goes on serving; with the 65th
 * free it is stored there, and found there when sent again. */
static void
test_dedup_keyed (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = db_dir_at_version (12, APP_ROW
    "INSERT INTO users (id, app_id, user_id, created) VALUES (1, 1, 'alice', 1), (2, 1, 'bob', 1);");
  g_autofree char *other = natter_test_db_dir_new ("natterd-migrations");
  gint64 m9_unkeyed = natterd_sqlite_dedup_key (NULL, 1, "d1", "m9");
  guint8 salt[16], other_salt[16];
  gint64 p1;
  Stored s;

  /* Schema 12's keys: x9 took m9's, m9 the next. */
  plant_message (dir, 1, "m1", natterd_sqlite_dedup_key (NULL, 1, "d1", "m1"));
  plant_message (dir, 2, "x9", m9_unkeyed);
  plant_message (dir, 3, "m9", m9_unkeyed + 1);

  {
    g_autoptr(NatterdStore) store = natterd_store_sqlite_open (dir, &error);
    g_autoptr(NatterdStore) other_store = natterd_store_sqlite_open (other, &error);

    g_assert_no_error (error);
    g_assert_cmpint (user_version (dir), ==, NATTERD_STORE_SQLITE_SCHEMA_VERSION);
    read_salt (dir, salt);
    read_salt (other, other_salt);
    g_assert_false (memcmp (salt, other_salt, sizeof salt) == 0);
    /* Keyed: the same message has another key in another database, and
     * this one's are not schema 12's. */
    g_assert_cmpint (natterd_sqlite_dedup_key (salt, 1, "d1", "m9"), !=,
                     natterd_sqlite_dedup_key (other_salt, 1, "d1", "m9"));
    g_assert_cmpint (natterd_sqlite_dedup_key (salt, 1, "d1", "m9"), !=, m9_unkeyed);
    /* Ids that count up keep near keys (a batch's share index pages);
     * another sender's or device's are elsewhere. */
    g_assert_cmpint (natterd_sqlite_dedup_key (salt, 1, "d1", "b1235"), ==,
                     natterd_sqlite_dedup_key (salt, 1, "d1", "b1234") + 1);
    g_assert_cmpint (natterd_sqlite_dedup_key (salt, 1, "d2", "b1235"), !=,
                     natterd_sqlite_dedup_key (salt, 1, "d1", "b1234") + 1);
    g_assert_cmpint (query_int (dir, "SELECT dedup_key FROM messages WHERE id = 1"), ==,
                     natterd_sqlite_dedup_key (salt, 1, "d1", "m1"));
    g_assert_cmpint (query_int (dir, "SELECT dedup_key FROM messages WHERE id = 2"), ==,
                     natterd_sqlite_dedup_key (salt, 1, "d1", "x9"));
    g_assert_cmpint (query_int (dir, "SELECT dedup_key FROM messages WHERE id = 3"), ==,
                     natterd_sqlite_dedup_key (salt, 1, "d1", "m9"));

    natterd_store_start (store, 16);
    s = store_text (store, "d1", "m9", "m9 again", 9000);
    g_assert_true (s.duplicate);
    g_assert_cmpint (s.id, ==, 3);
    g_free (s.uid);
    s = store_text (store, "d1", "x9", "x9 again", 9000);
    g_assert_true (s.duplicate);
    g_assert_cmpint (s.id, ==, 2);
    g_free (s.uid);
    natterd_store_stop (store);
  }

  /* p1's key and the 64 above it, each another message's. */
  p1 = natterd_sqlite_dedup_key (salt, 1, "d1", "p1");
  for (gint64 i = 0; i <= 64; i++)
    {
      g_autofree char *client_msg_id = g_strdup_printf ("taken%" G_GINT64_FORMAT, i);

      plant_message (dir, 10 + i, client_msg_id, (p1 + i * NATTERD_SQLITE_DEDUP_PROBE_STEP) & G_MAXINT64);
    }

  for (guint run = 0; run < 2; run++)
    {
      g_autoptr(NatterdStore) store = natterd_store_sqlite_open (dir, &error);

      g_assert_no_error (error);
      natterd_store_start (store, 16);
      if (run == 0)
        g_test_expect_message (NULL, G_LOG_LEVEL_WARNING,
                               "Batch of 1 operations failed (message insert: its idempotency key and the 64 after*");
      s = store_text_result (store, "d1", "p1", "p1", 10000);
      if (run == 0)
        {
          /* Refused; the next message is stored as ever. */
          g_test_assert_expected_messages ();
          g_assert_error (s.error, NATTERD_STORE_ERROR, NATTERD_STORE_ERROR_FAILED);
          g_clear_error (&s.error);
          g_free (s.uid);
          s = store_text (store, "d1", "q1", "q1", 11000);
          g_assert_false (s.duplicate);
          g_assert_cmpint (s.id, ==, 75);
          g_free (s.uid);
          natterd_store_stop (store);
          g_clear_object (&store);
          g_assert_cmpint (query_int (dir, "SELECT COUNT (*) FROM messages WHERE client_msg_id = 'p1'"), ==, 0);
          /* The 65th key free: p1 takes it. */
          {
            sqlite3 *db = open_raw (dir);

            g_assert_cmpint (sqlite3_exec (db, "DELETE FROM messages WHERE id = 74", NULL, NULL, NULL), ==, SQLITE_OK);
            sqlite3_close (db);
          }
          continue;
        }
      g_assert_no_error (s.error);
      g_assert_false (s.duplicate);
      g_assert_cmpint (s.id, ==, 76);
      g_free (s.uid);
      s = store_text (store, "d1", "p1", "p1 again", 12000);
      g_assert_true (s.duplicate);
      g_assert_cmpint (s.id, ==, 76);
      g_free (s.uid);
      natterd_store_stop (store);
    }
  g_assert_cmpint (query_int (dir, "SELECT dedup_key FROM messages WHERE id = 76"), ==,
                   (p1 + 64 * NATTERD_SQLITE_DEDUP_PROBE_STEP) & G_MAXINT64);

  natter_test_db_dir_remove (dir);
  natter_test_db_dir_remove (other);
}

typedef struct
{
  gboolean done, more;
  guint deleted;
} Pruned;

static void
prune_done (NatterdOp *op,
            gpointer   user_data)
{
  Pruned *pruned = user_data;

  g_assert_no_error (op->error);
  pruned->deleted = ((NatterdPruneOp *) op)->deleted;
  pruned->more = ((NatterdPruneOp *) op)->more;
  pruned->done = TRUE;
}

/* One prune op of at most @limit entries before @before (ms). */
static Pruned
prune_step (NatterdStore *store,
            gint64        before,
            guint         limit)
{
  Pruned pruned = { 0 };
  NatterdPruneOp *op = natterd_op_new (NATTERD_OP_PRUNE, prune_done, &pruned, NULL);

  op->before = before;
  op->limit = limit;
  natterd_store_submit (store, op);
  while (!pruned.done)
    g_main_context_iteration (NULL, TRUE);
  return pruned;
}

/* The inbox seq bob (users.id 2) gets alice's message at @sent_time under. */
static guint64
deliver_to_bob (NatterdStore *store,
                gint64        sent_time)
{
  Stored d = { 0 };
  NatterdPublishOp *op = alice_text_op (1, "1/alice/bob", "bob", "hi", sent_time, stored_done, &d);
  NatterdRecipient bob = { .user_id = 2, .inbox = TRUE, .conversation = TRUE, .counted = TRUE };

  bob.target_id = op->message.sender_user_id;
  g_array_append_val (op->recipients, bob);
  natterd_store_submit (store, op);
  while (!d.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_no_error (d.error);
  g_free (d.uid);
  return d.seq;
}

/* #17: the writer no longer writes users.max_seq back every batch; a
 * user's inbox head is the larger of it and their last entry's seq. It
 * survives a restart, and a prune that deletes every entry of the user
 * (users.max_seq is brought up first): seqs never go back. */
static void
test_inbox_head_kept (void)
{
  g_autofree char *dir = db_dir_at_version (NATTERD_STORE_SQLITE_SCHEMA_VERSION, APP_ROW
    "INSERT INTO users (id, app_id, user_id, created) VALUES (1, 1, 'alice', 1), (2, 1, 'bob', 1);");
  g_autoptr(GError) error = NULL;
  const gint64 hour = G_GINT64_CONSTANT (3600) * 1000;

  for (guint run = 0; run < 3; run++)
    {
      g_autoptr(NatterdStore) store = natterd_store_sqlite_open (dir, &error);

      g_assert_no_error (error);
      natterd_store_start (store, 16);
      if (run == 0)
        {
          g_assert_cmpuint (deliver_to_bob (store, hour), ==, 1);
          g_assert_cmpuint (deliver_to_bob (store, hour + 1), ==, 2);
          g_assert_cmpuint (deliver_to_bob (store, hour + 2), ==, 3);
        }
      else if (run == 1)
        {
          Pruned pruned;

          /* Restarted: on from the last entry's seq. */
          g_assert_cmpuint (deliver_to_bob (store, hour + 3), ==, 4);
          natterd_store_stop (store);
          g_clear_object (&store);
          store = natterd_store_sqlite_open (dir, &error);
          g_assert_no_error (error);
          natterd_store_start (store, 16);
          /* Every entry of bob's is older than hour 5: all go. */
          do
            pruned = prune_step (store, 5 * hour, 100);
          while (pruned.more);
          g_assert_cmpint (query_int (dir, "SELECT COUNT (*) FROM inbox WHERE user_id = 2"), ==, 0);
        }
      else
        {
          /* Restarted with no entry left: on from the pruned ones' last. */
          g_assert_cmpuint (deliver_to_bob (store, 6 * hour), ==, 5);
        }
      natterd_store_stop (store);
    }
  natter_test_db_dir_remove (dir);
}

/* Schema 11 (#17) dropped the inbox's index on message_id: old entries
 * go user by user, each user's a prefix of their seqs, in small steps
 * (at most the limit of entries and of users an op) that go on where
 * the last one stopped, as natterd's server repeats them; only entries
 * of messages before the cutoff go, of every user, and through the
 * primary key alone. */
static void
test_inbox_pruned_by_user (void)
{
  g_autofree char *dir = natter_test_db_dir_new ("natterd-migrations");
  g_autoptr(GError) error = NULL;
  const gint64 before = G_GINT64_CONSTANT (10) * 3600 * 1000;   /* hour 10: message 100 on */
  const char * const statements[] = { natterd_store_sqlite_writer_sql[W_PRUNE_NEXT_USER],
                                      natterd_store_sqlite_writer_sql[W_PRUNE_USER_HEAD],
                                      natterd_store_sqlite_writer_sql[W_PRUNE_INBOX] };
  guint total = 0, steps = 0;
  Pruned pruned;
  sqlite3 *db;

  {
    g_autoptr(NatterdStore) store = natterd_store_sqlite_open (dir, &error);
    g_assert_no_error (error);
  }
  db = open_raw (dir);
  /* Only the primary key: no index an entry costs an insert in. */
  {
    sqlite3_stmt *stmt = NULL;

    g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT COUNT (*) FROM sqlite_schema WHERE type = 'index'"
                                         " AND tbl_name = 'inbox' AND sql IS NOT NULL", -1, &stmt, NULL), ==, SQLITE_OK);
    g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
    g_assert_cmpint (sqlite3_column_int (stmt, 0), ==, 0);
    sqlite3_finalize (stmt);
  }
  g_assert_cmpint (sqlite3_exec (db,
    "INSERT INTO hours (hour, first_message_id) VALUES (0, 1), (10, 100);"
    "INSERT INTO inbox (user_id, seq, message_id) VALUES"
    " (1, 1, 1), (1, 2, 2), (1, 3, 3), (1, 4, 4), (1, 5, 5), (1, 6, 100), (1, 7, 101),"
    " (2, 1, 2), (2, 2, 3), (2, 3, 4),"
    " (3, 1, 100), (3, 2, 102),"
    " (5, 1, 6);",
    NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  {
    g_autoptr(NatterdStore) store = natterd_store_sqlite_open (dir, &error);

    g_assert_no_error (error);
    natterd_store_start (store, 16);
    do
      {
        pruned = prune_step (store, before, 2);
        g_assert_cmpuint (pruned.deleted, <=, 2);
        total += pruned.deleted;
        g_assert_cmpuint (++steps, <, 20);
      }
    while (pruned.deleted == 2 || pruned.more);
    g_assert_cmpuint (total, ==, 9);
    g_assert_cmpuint (steps, >=, 5);

    /* A new pass finds nothing more. */
    pruned = prune_step (store, before, 100);
    g_assert_cmpuint (pruned.deleted, ==, 0);
    g_assert_false (pruned.more);
    natterd_store_stop (store);
  }

  db = open_raw (dir);
  {
    sqlite3_stmt *stmt = NULL;
    g_autoptr(GString) left = g_string_new (NULL);

    g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT user_id, seq, message_id FROM inbox ORDER BY user_id, seq",
                                         -1, &stmt, NULL), ==, SQLITE_OK);
    while (sqlite3_step (stmt) == SQLITE_ROW)
      g_string_append_printf (left, "%d/%d:%d ", sqlite3_column_int (stmt, 0), sqlite3_column_int (stmt, 1),
                              sqlite3_column_int (stmt, 2));
    sqlite3_finalize (stmt);
    g_assert_cmpstr (left->str, ==, "1/6:100 1/7:101 3/1:100 3/2:102 ");
  }
  sqlite3_close (db);

  for (guint i = 0; i < G_N_ELEMENTS (statements); i++)
    {
      g_autofree char *plan = query_plan (dir, statements[i]);

      g_test_message ("%s: %s", statements[i], plan);
      g_assert_nonnull (strstr (plan, "USING PRIMARY KEY"));
      g_assert_null (strstr (plan, "SCAN"));
      g_assert_null (strstr (plan, "TEMP B-TREE"));
    }
  natter_test_db_dir_remove (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/server/store/every-version", test_every_version);
  g_test_add_func ("/server/store/newer-refused", test_newer_refused);
  g_test_add_func ("/server/store/rotation", test_rotation);
  g_test_add_func ("/server/store/failed-migration", test_failed_migration_rolls_back);
  g_test_add_func ("/server/store/nonces", test_nonces);
  g_test_add_func ("/server/store/completes-on-owner-thread", test_completes_on_owner_thread);
  g_test_add_func ("/server/store/webhook-events", test_webhook_events);
  g_test_add_func ("/server/store/uids", test_uids);
  g_test_add_func ("/server/store/uids-unguessable", test_uids_unguessable);
  g_test_add_func ("/server/store/big-batch", test_big_batch);
  g_test_add_func ("/server/migrations/group-timelines", test_group_timelines_migrated);
  g_test_add_func ("/server/store/user-groups-by-index", test_user_groups_by_index);
  g_test_add_func ("/server/migrations/history-by-integer-key", test_history_by_integer_key);
  g_test_add_func ("/server/store/inbox-pruned-by-user", test_inbox_pruned_by_user);
  g_test_add_func ("/server/store/inbox-head-kept", test_inbox_head_kept);
  g_test_add_func ("/server/migrations/dedup-by-integer-key", test_dedup_by_integer_key);
  g_test_add_func ("/server/migrations/dedup-keyed", test_dedup_keyed);

  return g_test_run ();
}
