/* test-store-sync.c — natterd's SQLite store, pipelined commits: an op
 * completes (and a Publish is acked) only after a WAL sync that began after
 * its COMMIT has ended, and a read never sees a commit that is not durable
 * yet. Each WAL sync is made 300 ms slower (NATTERD_TEST_WAL_SYNC_DELAY_MS)
 * so what waits for it, and what does not, shows; syncs are counted by
 * natterd's WAL VFS (natterd_sqlite_wal_sync_counts()).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gstdio.h>
#include <string.h>

#include "natter-codes.h"
#include "natterd-store-sqlite.h"
#include "natter-test-db-dir.h"
#include "natter-test-store-op.h"

#define SYNC_DELAY_MS 300

typedef struct
{
  gboolean done;
  guint64  syncs_ended;         /* WAL syncs ended when it completed */
  gint64   completed;           /* monotonic µs */
  char    *uid;
} Completion;

static void
published (NatterdOp *op,
           gpointer   user_data)
{
  Completion *c = user_data;
  guint64 started;

  g_assert_no_error (op->error);
  natterd_sqlite_wal_sync_counts (&started, &c->syncs_ended);
  c->completed = g_get_monotonic_time ();
  c->uid = g_strdup (((NatterdPublishOp *) op)->message.uid);
  c->done = TRUE;
}

/* alice to bob, into bob's inbox. */
static NatterdPublishOp *
publish_op (guint       n,
            Completion *c)
{
  g_autofree char *content = g_strdup_printf ("{\"content\":\"message %u\"}", n);

  return natter_test_store_publish_op (n, "m", content, published, c);
}

/* No WAL sync under way: every one begun has ended. */
static guint64
quiet_syncs (void)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  guint64 started, ended;

  for (;;)
    {
      natterd_sqlite_wal_sync_counts (&started, &ended);
      if (started == ended)
        return started;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
}

static void
wait_done (Completion *c)
{
  while (!c->done)
    g_main_context_iteration (NULL, TRUE);
}

/* Every publish, sent with no sync under way, completes only once a sync
 * begun after it was submitted (so after its COMMIT) has ended: the count
 * of ended syncs has passed the count begun at its submission. */
static void
test_ack_after_sync (void)
{
  g_autofree char *dir = natter_test_db_dir_new ("natterd-store-sync");
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterdStore) store = natterd_store_sqlite_open (dir, &error);

  g_assert_no_error (error);
  natterd_store_start (store, 16);
  for (guint i = 0; i < 8; i++)
    {
      Completion c = { 0 };
      guint64 begun = quiet_syncs ();
      gint64 submitted = g_get_monotonic_time ();

      natterd_store_submit (store, publish_op (i, &c));
      wait_done (&c);
      g_assert_cmpuint (c.syncs_ended, >, begun);
      /* And it took the slowed sync's time at least. */
      g_assert_cmpint (c.completed - submitted, >=, SYNC_DELAY_MS * 1000);
      g_free (c.uid);
    }
  natterd_store_stop (store);
  g_clear_object (&store);
  natter_test_db_dir_remove (dir);
}

/* A commit that ends while a sync runs does not wait for that sync to
 * end before its own begins (#17: two sync threads): the store's syncs
 * run two at a time, yet each op completes after a sync that began after
 * it was submitted, and in order. SQLite's own syncs (a checkpoint's) are
 * not the store's: the overlap is counted by natterd's VFS among the
 * store's only. A try where the second commit took longer than the first
 * sync's 300 ms (a very loaded machine) proves nothing: up to five. */
static void
test_syncs_overlap (void)
{
  g_autofree char *dir = natter_test_db_dir_new ("natterd-store-sync");
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterdStore) store = natterd_store_sqlite_open (dir, &error);
  guint in_flight, most = 0;

  g_assert_no_error (error);
  natterd_store_start (store, 16);
  for (guint i = 0; i < 5 && most < 2; i++)
    {
      Completion first = { 0 }, second = { 0 };
      gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
      guint64 begun, ended;

      natterd_store_submit (store, publish_op (2 * i, &first));
      /* The first one's sync under way (it lasts 300 ms at least). */
      do
        {
          g_assert_cmpint (g_get_monotonic_time (), <, deadline);
          g_usleep (1000);
          natterd_sqlite_wal_store_syncs (&in_flight, &most);
        }
      while (in_flight == 0 && !first.done);
      natterd_sqlite_wal_sync_counts (&begun, &ended);
      natterd_store_submit (store, publish_op (2 * i + 1, &second));
      wait_done (&first);
      wait_done (&second);
      g_assert_cmpuint (second.syncs_ended, >, begun);
      g_assert_cmpint (second.completed, >=, first.completed);
      natterd_sqlite_wal_store_syncs (&in_flight, &most);
      g_free (first.uid);
      g_free (second.uid);
    }
  g_assert_cmpuint (most, ==, 2);
  natterd_store_stop (store);
  g_clear_object (&store);
  natter_test_db_dir_remove (dir);
}

typedef struct
{
  gboolean   done;
  guint64    syncs_ended;
  GPtrArray *uids;
} Replayed;

static void
replayed (NatterdRead *base,
          gpointer     user_data)
{
  NatterdReplayRead *read = (NatterdReplayRead *) base;
  Replayed *r = user_data;
  guint64 started;

  g_assert_no_error (base->error);
  natterd_sqlite_wal_sync_counts (&started, &r->syncs_ended);
  r->uids = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < read->entries->len; i++)
    {
      NatterdInboxEntry *entry = g_ptr_array_index (read->entries, i);

      g_ptr_array_add (r->uids, g_strdup (entry->message.uid));
    }
  r->done = TRUE;
}

static void
replay (NatterdStore *store,
        Replayed     *r)
{
  NatterdReplayRead *read = natterd_read_new (NATTERD_READ_REPLAY, replayed, r, NULL);

  read->user_id = 2;
  read->after_seq = 0;
  read->limit = 100;
  natterd_store_read (store, read);
  while (!r->done)
    g_main_context_iteration (NULL, TRUE);
}

static void
user_stored (NatterdOp *op,
             gpointer   user_data)
{
  g_assert_no_error (op->error);
  *(gboolean *) user_data = TRUE;
}

static void
store_user (NatterdStore *store,
            gint64        id,
            const char   *user_id)
{
  NatterdUserOp *op;
  gboolean done = FALSE;

  op = natterd_op_new (NATTERD_OP_USER, user_stored, &done, NULL);
  op->id = id;
  op->app_id = 1;
  op->user_id = g_strdup (user_id);
  op->name = g_strdup (user_id);
  op->create = TRUE;
  natterd_store_submit (store, op);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

/* bob's offline replay, read while alice's message is committed but its
 * sync still runs, holds it only once that sync has ended; and it holds
 * it after the publish completed. */
static void
test_read_only_durable (void)
{
  g_autofree char *dir = natter_test_db_dir_new ("natterd-store-sync");
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterdStore) store = natterd_store_sqlite_open (dir, &error);

  g_assert_no_error (error);
  natterd_store_start (store, 16);
  store_user (store, 1, "alice");
  store_user (store, 2, "bob");
  for (guint i = 0; i < 4; i++)
    {
      Completion c = { 0 };
      Replayed during = { 0 }, after = { 0 };
      guint64 begun = quiet_syncs ();

      natterd_store_submit (store, publish_op (i, &c));
      /* The writer commits in a few ms; the sync takes 300 more. */
      g_usleep (SYNC_DELAY_MS * 1000 / 3);
      replay (store, &during);
      g_assert_cmpuint (during.uids->len, <=, i + 1);
      if (during.uids->len == i + 1)
        g_assert_cmpuint (during.syncs_ended, >, begun);
      wait_done (&c);

      replay (store, &after);
      g_assert_cmpuint (after.uids->len, ==, i + 1);
      g_assert_cmpstr (g_ptr_array_index (after.uids, i), ==, c.uid);
      g_ptr_array_unref (during.uids);
      g_ptr_array_unref (after.uids);
      g_free (c.uid);
    }
  natterd_store_stop (store);
  g_clear_object (&store);
  natter_test_db_dir_remove (dir);
}

typedef struct
{
  gboolean done;
  GError  *error;
} Outcome;

static void
publish_ended (NatterdOp *op,
               gpointer   user_data)
{
  Outcome *o = user_data;

  o->error = op->error != NULL ? g_error_copy (op->error) : NULL;
  o->done = TRUE;
}

static NatterdPublishOp *
publish_op_outcome (guint    n,
                    Outcome *o)
{
  NatterdPublishOp *op = publish_op (n, NULL);

  op->base.complete = publish_ended;
  op->base.user_data = o;
  return op;
}

/* #17: Linux reports a writeback error to the next fdatasync() of each
 * open file description, once. Two syncs of the WAL under way side by
 * side: the later one records an error and reports it, then is slow to
 * return; the earlier one, still waiting for its pages, returns after.
 * Its pages may be among those that failed: it must not be acked as
 * stored (it was, when both syncs shared one descriptor: the later took
 * the error and the earlier, done first, completed). And the WAL's frames
 * after a lost page are not recoverable (SQLite reads the WAL up to the
 * first bad frame): every publish fails until the WAL starts over from a
 * checkpoint, then they are stored again. */
static void
test_sync_error_fails_beside (void)
{
  g_autofree char *dir = natter_test_db_dir_new ("natterd-store-sync");
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterdStore) store = natterd_store_sqlite_open (dir, &error);
  gboolean beside = FALSE;

  g_assert_no_error (error);
  natterd_store_start (store, 16);
  /* Every connection's WAL open (the checkpointer's within its 0.5 s). */
  {
    Outcome warm = { 0 };

    natterd_store_submit (store, publish_op_outcome (0, &warm));
    while (!warm.done)
      g_main_context_iteration (NULL, TRUE);
    g_assert_no_error (warm.error);
  }
  g_usleep (G_USEC_PER_SEC);

  /* A try where the later sync began only after the earlier one ended (a
   * very loaded machine) proves nothing: up to five. */
  for (guint attempt = 1; attempt <= 5 && !beside; attempt++)
    {
      Outcome first = { 0 }, second = { 0 };
      gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
      guint n = 1000 * attempt;
      guint in_flight, most;
      gboolean stored = FALSE;
      guint failed_after = 0;

      quiet_syncs ();
      natterd_sqlite_wal_inject_sync_error (2);
      natterd_store_submit (store, publish_op_outcome (n++, &first));
      do
        {
          g_assert_cmpint (g_get_monotonic_time (), <, deadline);
          g_usleep (1000);
          natterd_sqlite_wal_store_syncs (&in_flight, &most);
        }
      while (in_flight == 0);
      /* So the earlier one's fdatasync() returns well after the later's. */
      g_usleep (SYNC_DELAY_MS * 1000 / 3);
      natterd_store_submit (store, publish_op_outcome (n++, &second));
      do
        {
          g_assert_cmpint (g_get_monotonic_time (), <, deadline);
          g_main_context_iteration (NULL, FALSE);
          g_usleep (1000);
          natterd_sqlite_wal_store_syncs (&in_flight, &most);
        }
      while (in_flight < 2 && !first.done);
      beside = in_flight == 2 && !first.done;
      while (!first.done || !second.done)
        g_main_context_iteration (NULL, TRUE);
      g_assert_nonnull (second.error);
      if (beside)
        g_assert_nonnull (first.error);
      g_clear_error (&first.error);
      g_clear_error (&second.error);

      while (!stored)
        {
          Outcome o = { 0 };

          g_assert_cmpint (g_get_monotonic_time (), <, deadline);
          natterd_store_submit (store, publish_op_outcome (n++, &o));
          while (!o.done)
            g_main_context_iteration (NULL, TRUE);
          stored = o.error == NULL;
          g_clear_error (&o.error);
          if (stored)
            break;
          failed_after++;
          /* Room for the checkpointer to catch up: the WAL starts over
           * only when it has copied every frame. */
          g_usleep (G_USEC_PER_SEC / 20);
        }
      /* The one right after failed too. */
      g_assert_cmpuint (failed_after, >, 0);
    }
  g_assert_true (beside);
  natterd_store_stop (store);
  g_clear_object (&store);
  natter_test_db_dir_remove (dir);
}

/* A checkpoint pass's database pages go to the disk paced (#17), in
 * chunks of 64 KiB at most between the WAL's syncs, not all at once
 * beside them: a thousand messages write well over a chunk's worth. */
static void
test_checkpoint_paced (void)
{
  g_autofree char *dir = natter_test_db_dir_new ("natterd-store-sync");
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterdStore) store = natterd_store_sqlite_open (dir, &error);
  Completion done[1000] = { { 0 } };
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  guint64 passes, chunks, largest;

  g_assert_no_error (error);
  natterd_store_start (store, 16);
  for (guint i = 0; i < G_N_ELEMENTS (done); i++)
    natterd_store_submit (store, publish_op (i, &done[i]));
  for (guint i = 0; i < G_N_ELEMENTS (done); i++)
    {
      wait_done (&done[i]);
      g_free (done[i].uid);
    }
  /* The checkpointer's next pass (every half second) copies them. */
  do
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10000);
      natterd_sqlite_wal_paced_checkpoints (&passes, &chunks, &largest);
    }
  while (chunks < 2);
  g_test_message ("%" G_GUINT64_FORMAT " paced passes, %" G_GUINT64_FORMAT " chunks, the largest %"
                  G_GUINT64_FORMAT " bytes", passes, chunks, largest);
  g_assert_cmpuint (passes, >=, 1);
  g_assert_cmpuint (largest, <=, 64 * 1024);
  natterd_store_stop (store);
  g_clear_object (&store);
  natter_test_db_dir_remove (dir);
}

/* The checkpoints' own disk traffic, in /metrics (#17): each pass copies
 * pages into the database and ends with a sync of it. Held off
 * (NATTERD_CHECKPOINT_HOLD=1, to tell the WAL syncs' own stalls from the
 * checkpoints'), a thousand messages copy nothing and sync nothing. */
static void
check_checkpoint_disk (gboolean hold)
{
  g_autofree char *dir = natter_test_db_dir_new ("natterd-store-sync");
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterdStore) store = NULL;
  Completion done[1000] = { { 0 } };
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  guint64 syncs_before, syncs, written_before, written;
  double largest_wal, seconds, largest_db;

  if (hold)
    g_setenv ("NATTERD_CHECKPOINT_HOLD", "1", TRUE);
  store = natterd_store_sqlite_open (dir, &error);
  g_assert_no_error (error);
  natterd_store_start (store, 16);
  natterd_sqlite_wal_sync_extremes (&largest_wal, &syncs_before, &seconds, &largest_db, &written_before);
  for (guint i = 0; i < G_N_ELEMENTS (done); i++)
    natterd_store_submit (store, publish_op (i, &done[i]));
  for (guint i = 0; i < G_N_ELEMENTS (done); i++)
    {
      wait_done (&done[i]);
      g_free (done[i].uid);
    }
  /* Held: three of the checkpointer's half-second rounds go by. */
  for (guint round = 0; hold ? round < 150 : TRUE; round++)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      natterd_sqlite_wal_sync_extremes (&largest_wal, &syncs, &seconds, &largest_db, &written);
      if (!hold && syncs > syncs_before && written > written_before)
        break;
      g_usleep (10000);
    }
  g_test_message ("%" G_GUINT64_FORMAT " database syncs, %" G_GUINT64_FORMAT " bytes copied, the longest "
                  "WAL sync %.3f ms", syncs - syncs_before, written - written_before, 1000 * largest_wal);
  /* The commits' own syncs are timed either way. */
  g_assert_cmpfloat (largest_wal, >, 0);
  if (hold)
    {
      g_assert_cmpuint (syncs, ==, syncs_before);
      g_assert_cmpuint (written, ==, written_before);
    }
  else
    {
      /* Each message's row at least, in whole pages. */
      g_assert_cmpuint (written - written_before, >=, 4096);
      g_assert_cmpfloat (largest_db, >, 0);
    }
  natterd_store_stop (store);
  g_clear_object (&store);
  g_unsetenv ("NATTERD_CHECKPOINT_HOLD");
  natter_test_db_dir_remove (dir);
}

static void
test_checkpoint_disk (void)
{
  check_checkpoint_disk (FALSE);
}

static void
test_checkpoint_hold (void)
{
  check_checkpoint_disk (TRUE);
}

static void
count_destroy (gpointer data)
{
  (*(guint *) data)++;
}

/* A freed Publish op is reused (#17: natterd_op_new() takes it back from
 * a pool, with its recipients array): the next one is that op, every
 * field as g_malloc0() would leave it, the array empty, and the old op's
 * destroy notify ran once. */
static void
test_publish_op_reused (void)
{
  NatterdPublishOp *op = natter_test_store_publish_op (1, "reuse-", "{\"content\":\"x\"}", NULL, NULL);
  NatterdPublishOp *again, zero, copy;
  NatterdRecipient carol = { .user_id = 3, .target_id = "alice", .inbox = TRUE };
  gint64 mention = 7;
  guint destroyed = 0;
  GArray *recipients;

  op->base.user_data = &destroyed;
  op->base.destroy = count_destroy;
  op->timeline = TRUE;
  op->webhook_body = g_strdup ("{}");
  op->mention_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_array_append_val (op->mention_ids, mention);
  op->message.id = 42;
  op->message.uid = g_strdup ("BC3D-4F5G-6H7J-8K9L");
  g_array_append_val (op->recipients, carol);
  g_assert_cmpuint (op->recipients->len, ==, 2);
  recipients = op->recipients;
  natterd_op_free ((NatterdOp *) op);
  g_assert_cmpuint (destroyed, ==, 1);

  again = natterd_op_new (NATTERD_OP_PUBLISH, NULL, NULL, NULL);
  g_assert_true (again == op);
  g_assert_true (again->recipients == recipients);
  g_assert_cmpuint (again->recipients->len, ==, 0);
  g_assert_cmpint (again->base.kind, ==, NATTERD_OP_PUBLISH);
  memset (&zero, 0, sizeof zero);
  copy = *again;
  copy.recipients = NULL;
  copy.base.kind = 0;
  copy.base.submitted = 0;
  g_assert_cmpmem (&copy, sizeof copy, &zero, sizeof zero);
  natterd_op_free ((NatterdOp *) again);
  g_assert_cmpuint (destroyed, ==, 1);
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *delay = g_strdup_printf ("%d", SYNC_DELAY_MS);

  /* Read once, at the first sync. */
  g_setenv ("NATTERD_TEST_WAL_SYNC_DELAY_MS", delay, TRUE);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/server/store/ack-after-sync", test_ack_after_sync);
  g_test_add_func ("/server/store/read-only-durable", test_read_only_durable);
  g_test_add_func ("/server/store/syncs-overlap", test_syncs_overlap);
  g_test_add_func ("/server/store/sync-error-fails-beside", test_sync_error_fails_beside);
  g_test_add_func ("/server/store/checkpoint-paced", test_checkpoint_paced);
  g_test_add_func ("/server/store/checkpoint-disk", test_checkpoint_disk);
  g_test_add_func ("/server/store/checkpoint-hold", test_checkpoint_hold);
  g_test_add_func ("/server/store/publish-op-reused", test_publish_op_reused);
  return g_test_run ();
}
