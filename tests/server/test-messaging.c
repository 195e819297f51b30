/* test-messaging.c — natterd: Publish, durable PublishAck, inbox, Deliver,
 * offline replay, idempotent resends, status-only messages, limits
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-test-client.h"

#include <glib/gstdio.h>

#include <string.h>

static void
assert_uid (const char *uid)
{
  g_assert_nonnull (uid);
  g_assert_cmpuint (strlen (uid), ==, 19);
  for (guint i = 0; i < 19; i++)
    if (i % 5 == 4)
      g_assert_cmpint (uid[i], ==, '-');
    else
      g_assert_true (g_ascii_isdigit (uid[i]) || g_ascii_isupper (uid[i]));
}

/* The next Deliver: inbox seq @seq, content starting with @start. */
static void
expect_deliver (NatterTestClient *client,
                guint64           seq,
                const char       *start)
{
  g_autoptr(NatterFrame) deliver = natter_test_client_expect (client, NATTER__FRAME__BODY_DELIVER,
                                                              NATTER_TEST_TIMEOUT_MS);

  g_assert_nonnull (deliver);
  g_assert_cmpuint (deliver->deliver->seq, ==, seq);
  g_assert_true (g_str_has_prefix (deliver->deliver->message->content, start));
}

static void
test_deliver (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterTestClient) bob = natter_test_client_new_user (server, "bob", "b1");
  g_autoptr(NatterFrame) ack = NULL;
  g_autoptr(NatterFrame) deliver = NULL;
  Natter__Message *m;

  ack = natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg",
                                         "{\"content\":\"你好\",\"extra\":\"x\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);
  assert_uid (ack->publish_ack->message_uid);
  g_assert_cmpint (ack->publish_ack->sent_time, >, 0);

  deliver = natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
  g_assert_nonnull (deliver);
  m = deliver->deliver->message;
  g_assert_cmpuint (deliver->deliver->seq, ==, 1);
  g_assert_false (deliver->deliver->offline);
  g_assert_cmpstr (m->message_uid, ==, ack->publish_ack->message_uid);
  g_assert_cmpint (m->sent_time, ==, ack->publish_ack->sent_time);
  g_assert_cmpint (m->conversation_type, ==, 1);
  /* On the receiving side of a private chat the target is the sender. */
  g_assert_cmpstr (m->target_id, ==, "alice");
  g_assert_cmpstr (m->sender_user_id, ==, "alice");
  g_assert_cmpstr (m->object_name, ==, "RC:TxtMsg");
  g_assert_cmpstr (m->content, ==, "{\"content\":\"你好\",\"extra\":\"x\"}");
  g_assert_cmpuint (m->flags, ==, NATTER_MESSAGE_FLAG_PERSISTED | NATTER_MESSAGE_FLAG_COUNTED);

  /* The sender, single-device, gets no copy. */
  natter_test_client_expect_none (alice, NATTER__FRAME__BODY_DELIVER, 200);
}

static void
test_offline_replay (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autofree char *bob_token = natter_test_server_get_token (server, "bob");
  const char *key = natter_test_server_get_app_key (server);
  g_autoptr(GPtrArray) uids = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *content = g_strdup_printf ("{\"content\":\"%u\"}", i);
      g_autoptr(NatterFrame) ack = natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg", content);

      g_assert_cmpint (ack->publish_ack->code, ==, 0);
      g_ptr_array_add (uids, g_strdup (ack->publish_ack->message_uid));
    }

  {
    g_autoptr(GError) error = NULL;
    g_autoptr(NatterTestClient) bob = natter_test_client_open (server, &error);
    g_autoptr(NatterFrame) live = NULL;
    g_autoptr(NatterFrame) ack = NULL;

    g_assert_no_error (error);
    g_assert_cmpint (natter_test_client_connect (bob, key, bob_token, "b1", 0), ==, 0);
    g_assert_cmpuint (natter_test_client_get_max_seq (bob), ==, 5);
    for (guint i = 0; i < 5; i++)
      {
        g_autoptr(NatterFrame) deliver = natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER,
                                                                    NATTER_TEST_TIMEOUT_MS);
        g_autofree char *content = g_strdup_printf ("{\"content\":\"%u\"}", i);

        g_assert_nonnull (deliver);
        g_assert_true (deliver->deliver->offline);
        g_assert_cmpuint (deliver->deliver->seq, ==, i + 1);
        g_assert_cmpstr (deliver->deliver->message->message_uid, ==, g_ptr_array_index (uids, i));
        g_assert_cmpstr (deliver->deliver->message->content, ==, content);
        g_assert_cmpstr (deliver->deliver->message->target_id, ==, "alice");
      }

    /* Then live. */
    ack = natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg", "{\"content\":\"live\"}");
    live = natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
    g_assert_nonnull (live);
    g_assert_false (live->deliver->offline);
    g_assert_cmpuint (live->deliver->seq, ==, 6);
  }

  /* A device that has stored up to 3 gets 4, 5 and 6 only. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(NatterTestClient) bob = natter_test_client_open (server, &error);

    g_assert_no_error (error);
    g_assert_cmpint (natter_test_client_connect (bob, key, bob_token, "b2", 3), ==, 0);
    for (guint seq = 4; seq <= 6; seq++)
      {
        g_autoptr(NatterFrame) deliver = natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER,
                                                                    NATTER_TEST_TIMEOUT_MS);
        g_assert_nonnull (deliver);
        g_assert_cmpuint (deliver->deliver->seq, ==, seq);
      }
    natter_test_client_expect_none (bob, NATTER__FRAME__BODY_DELIVER, 300);
  }
}

static void
test_replay_many (void)
{
  const char * const args[] = { "--app-setting", "send-rate=0", NULL };
  g_autoptr(NatterTestServer) server = natter_test_server_new_full (NULL, args);
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autofree char *bob_token = natter_test_server_get_token (server, "bob");
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterTestClient) bob = NULL;
  g_autofree char *last = NULL;
  const guint n = 3000;

  /* More than a replay page and a delivery window: paging and flow control. */
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *content = g_strdup_printf ("{\"content\":\"%u\"}", i);

      g_free (last);
      last = natter_test_client_publish (alice, 1, "bob", "RC:TxtMsg", content);
      if (i % 500 == 499 && i + 1 < n)
        natter_frame_free (natter_test_client_wait_ack (alice, last));
    }
  {
    g_autoptr(NatterFrame) ack = natter_test_client_wait_ack (alice, last);
    g_assert_cmpint (ack->publish_ack->code, ==, 0);
  }

  bob = natter_test_client_open (server, &error);
  g_assert_no_error (error);
  g_assert_cmpint (natter_test_client_connect (bob, natter_test_server_get_app_key (server), bob_token,
                                               "b1", 0), ==, 0);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *content = g_strdup_printf ("{\"content\":\"%u\"}", i);

      expect_deliver (bob, i + 1, content);
    }
}

/* Offline messages far bigger than what natterd queues for one connection
 * (200 × 100 KB), over ws:// and wss://: the replay reads pages of about a
 * MiB and waits for the socket to drain instead of queueing a whole page,
 * natterd's heap stays within a few MiB of where it was, and the device
 * gets every message, in order, without being dropped. */
static void
test_replay_large (gconstpointer tls)
{
  const char * const args[] = { "--app-setting", "send-rate=0", "--app-setting", "multi-device=true", NULL };
  g_autoptr(NatterTestServer) server = tls ? natter_test_server_new_tls (NULL, args) :
                                             natter_test_server_new_full (NULL, args);
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autofree char *last = NULL;
  g_autofree char *filler = g_strnfill (100 * 1000, 'x');
  const guint n = 200;
  guint64 heap_before, heap_max = 0;

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *content = g_strdup_printf ("{\"content\":\"%u\",\"extra\":\"%s\"}", i, filler);

      g_free (last);
      last = natter_test_client_publish (alice, 1, "bob", "RC:TxtMsg", content);
      if (i % 50 == 49)
        {
          g_autoptr(NatterFrame) ack = natter_test_client_wait_ack (alice, last);
          g_assert_cmpint (ack->publish_ack->code, ==, 0);
        }
    }

  /* Two of bob's devices replay it all; the first fills SQLite's page
   * cache, so the second shows what the replay itself costs. */
  for (guint device = 0; device < 2; device++)
    {
      g_autofree char *device_id = g_strdup_printf ("b%u", device);
      g_autoptr(NatterTestClient) bob = NULL;

      heap_before = natter_test_server_get_metric (server, "natterd_heap_bytes");
      bob = natter_test_client_new_user (server, "bob", device_id);
      for (guint i = 0; i < n; i++)
        {
          g_autofree char *start = g_strdup_printf ("{\"content\":\"%u\",", i);

          expect_deliver (bob, i + 1, start);
          if (device == 1 && i % 10 == 0)
            heap_max = MAX (heap_max, natter_test_server_get_metric (server, "natterd_heap_bytes"));
        }
      g_assert_true (natter_test_client_is_open (bob));
    }

  g_test_message ("natterd heap up to %" G_GUINT64_FORMAT " KiB over %" G_GUINT64_FORMAT " KiB during the replay",
                  (heap_max - MIN (heap_max, heap_before)) / 1024, heap_before / 1024);
  if (natter_test_memory_is_measured ())
    g_assert_cmpuint (heap_max, <, heap_before + 12 * 1024 * 1024);
}

#define WAL_SENDERS 4

typedef struct
{
  const char *path;
  gint        stop;
  goffset     largest;
} WalWatch;

static gpointer
watch_wal (gpointer data)
{
  WalWatch *watch = data;

  while (!g_atomic_int_get (&watch->stop))
    {
      GStatBuf st;

      if (g_stat (watch->path, &st) == 0)
        watch->largest = MAX (watch->largest, st.st_size);
      g_usleep (2000);
    }
  return NULL;
}

/* The WAL starts over once it passes [store] wal-size even under traffic
 * that never pauses (the checkpointer alone lets it grow without end then),
 * and what was acked survives a SIGKILL in the middle of that. At 1 MiB
 * the WAL is past its size most of the time, so the checkpoints hurry; at
 * 16 MiB they are paced (#17: their pages go to the disk in chunks between
 * the commits' syncs, which makes a pass longer), and the WAL stays
 * bounded all the same (19 MB at most here, paced or not). */
static void
check_wal_bounded (guint    wal_mib,
                   gboolean paced)
{
  const char * const args[] = { "--app-setting", "send-rate=0", NULL };
  g_autofree char *config = g_strdup_printf ("[store]\nwal-size=%u\n", wal_mib);
  g_autoptr(NatterTestServer) server = natter_test_server_new_full (config, args);
  g_autoptr(NatterTestClient) bob = NULL;
  g_autofree char *wal = g_build_filename (natter_test_server_get_data_dir (server), "natterd.db-wal", NULL);
  NatterTestClient *senders[WAL_SENDERS];
  char *last[WAL_SENDERS] = { NULL, };
  WalWatch watch = { wal, 0, 0 };
  GThread *watcher;
  const guint rounds = 2500;

  for (guint s = 0; s < WAL_SENDERS; s++)
    {
      g_autofree char *user = g_strdup_printf ("sender%u", s);

      senders[s] = natter_test_client_new_user (server, user, "d1");
    }
  watcher = g_thread_new ("wal", watch_wal, &watch);

  /* Paced like steady traffic (~4,000 messages/s): small commits back to
   * back, the writer never idle for long. */
  for (guint r = 0; r < rounds; r++)
    {
      for (guint s = 0; s < WAL_SENDERS; s++)
        {
          g_autofree char *content = g_strdup_printf ("{\"content\":\"%u\"}", r);

          g_free (last[s]);
          last[s] = natter_test_client_publish (senders[s], 1, "bob", "RC:TxtMsg", content);
          g_usleep (250);
        }
    }
  for (guint s = 0; s < WAL_SENDERS; s++)
    {
      g_autoptr(NatterFrame) ack = natter_test_client_wait_ack (senders[s], last[s]);

      g_assert_cmpint (ack->publish_ack->code, ==, 0);
      g_free (last[s]);
    }
  g_atomic_int_set (&watch.stop, 1);
  g_thread_join (watcher);

  /* Thousands of commits write tens of MiB of WAL pages; it stayed near its size. */
  g_test_message ("largest WAL: %" G_GOFFSET_FORMAT " bytes", watch.largest);
  g_assert_cmpint (watch.largest, >, 0);
  g_assert_cmpint (watch.largest, <=, 6 * wal_mib * 1024 * 1024);
  if (paced)
    g_assert_cmpuint (natter_test_server_get_metric (server, "natterd_checkpoint_paced_total{of=\"passes\"}"), >, 0);

  for (guint s = 0; s < WAL_SENDERS; s++)
    natter_test_client_free (senders[s]);
  natter_test_server_kill (server);
  natter_test_server_restart (server);
  bob = natter_test_client_new_user (server, "bob", "b1");
  for (guint i = 0; i < rounds * WAL_SENDERS; i++)
    {
      g_autoptr(NatterFrame) deliver = natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER,
                                                                  NATTER_TEST_TIMEOUT_MS);

      g_assert_nonnull (deliver);
      g_assert_cmpuint (deliver->deliver->seq, ==, i + 1);
    }
}

static void
test_wal_bounded (void)
{
  check_wal_bounded (1, FALSE);
}

static void
test_wal_bounded_paced (void)
{
  check_wal_bounded (16, TRUE);
}

static gboolean
has_acks (gpointer data)
{
  return g_hash_table_size (data) > 1;
}

static void
collect_acks (NatterTestClient  *client,
              const NatterFrame *frame,
              gpointer           user_data)
{
  GHashTable *acked = user_data;

  if (frame->body_case == NATTER__FRAME__BODY_PUBLISH_ACK)
    {
      g_assert_cmpint (frame->publish_ack->code, ==, 0);
      g_hash_table_add (acked, g_strdup (frame->publish_ack->message_uid));
    }
}

/* SIGTERM in the middle of a burst: natterd commits and acknowledges what
 * it received before closing, so after a restart exactly the acked
 * messages exist (none stored without its ack, none acked and lost), and
 * it exits 0. */
static void
test_sigterm_drains (void)
{
  const char * const args[] = { "--app-setting", "send-rate=0", NULL };
  g_autoptr(NatterTestServer) server = natter_test_server_new_full (NULL, args);
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterTestClient) bob = NULL;
  g_autoptr(GHashTable) acked = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *first = NULL;
  guint delivered = 0;

  first = natter_test_client_publish (alice, 1, "bob", "RC:TxtMsg", "{\"content\":\"first\"}");
  {
    g_autoptr(NatterFrame) ack = natter_test_client_wait_ack (alice, first);

    g_hash_table_add (acked, g_strdup (ack->publish_ack->message_uid));
  }
  natter_test_client_set_frame_func (alice, collect_acks, acked);
  for (guint i = 0; i < 2000; i++)
    g_free (natter_test_client_publish (alice, 1, "bob", "RC:TxtMsg", "{\"content\":\"burst\"}"));
  natter_test_wait (has_acks, acked, NATTER_TEST_TIMEOUT_MS);

  natter_test_server_stop (server);
  g_assert_cmpint (natter_test_server_get_exit_status (server), ==, 0);
  g_assert_cmpuint (natter_test_client_wait_closed (alice, NATTER_TEST_TIMEOUT_MS), !=, 0);
  g_test_message ("%u of 2001 acked before the shutdown", g_hash_table_size (acked));

  natter_test_server_restart (server);
  bob = natter_test_client_new_user (server, "bob", "b1");
  for (;;)
    {
      g_autoptr(NatterFrame) deliver = natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER, 1000);

      if (deliver == NULL)
        break;
      g_assert_true (g_hash_table_contains (acked, deliver->deliver->message->message_uid));
      delivered++;
    }
  g_assert_cmpuint (delivered, ==, g_hash_table_size (acked));
}

static void
test_idempotent (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterTestClient) bob = natter_test_client_new_user (server, "bob", "b1");
  g_autoptr(NatterFrame) first = NULL;
  g_autoptr(NatterFrame) second = NULL;
  g_autoptr(NatterFrame) third = NULL;
  g_autoptr(NatterFrame) deliver = NULL;

  natter_test_client_publish_full (alice, "same-id", 1, "bob", "RC:TxtMsg", "{\"content\":\"once\"}", 0);
  first = natter_test_client_wait_ack (alice, "same-id");
  natter_test_client_publish_full (alice, "same-id", 1, "bob", "RC:TxtMsg", "{\"content\":\"once\"}", 0);
  second = natter_test_client_wait_ack (alice, "same-id");
  g_assert_cmpint (first->publish_ack->code, ==, 0);
  g_assert_cmpint (second->publish_ack->code, ==, 0);
  g_assert_cmpstr (first->publish_ack->message_uid, ==, second->publish_ack->message_uid);
  g_assert_cmpint (first->publish_ack->sent_time, ==, second->publish_ack->sent_time);

  deliver = natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
  g_assert_nonnull (deliver);
  natter_test_client_expect_none (bob, NATTER__FRAME__BODY_DELIVER, 300);

  /* Survives a restart: the key is in the store, not in memory. */
  natter_test_server_kill (server);
  natter_test_server_restart (server);
  natter_test_client_free (g_steal_pointer (&alice));
  alice = natter_test_client_new_user (server, "alice", "a1");
  natter_test_client_publish_full (alice, "same-id", 1, "bob", "RC:TxtMsg", "{\"content\":\"once\"}", 0);
  third = natter_test_client_wait_ack (alice, "same-id");
  g_assert_cmpstr (third->publish_ack->message_uid, ==, first->publish_ack->message_uid);

  /* The same id from another device is another message. */
  {
    g_autoptr(NatterTestClient) other = natter_test_client_new_user (server, "alice", "a2");
    g_autoptr(NatterFrame) fourth = NULL;

    natter_test_client_publish_full (other, "same-id", 1, "bob", "RC:TxtMsg", "{\"content\":\"x\"}", 0);
    fourth = natter_test_client_wait_ack (other, "same-id");
    g_assert_cmpint (fourth->publish_ack->code, ==, 0);
    g_assert_cmpstr (fourth->publish_ack->message_uid, !=, first->publish_ack->message_uid);
  }
}

static void
test_durable (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autofree char *bob_token = natter_test_server_get_token (server, "bob");
  g_autoptr(NatterFrame) ack = NULL;
  g_autoptr(NatterTestClient) bob = NULL;
  g_autoptr(NatterFrame) deliver = NULL;
  g_autoptr(GError) error = NULL;

  ack = natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg", "{\"content\":\"keep me\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);

  /* Acked means stored: a SIGKILL right after loses nothing. */
  natter_test_server_kill (server);
  natter_test_server_restart (server);

  bob = natter_test_client_open (server, &error);
  g_assert_no_error (error);
  g_assert_cmpint (natter_test_client_connect (bob, natter_test_server_get_app_key (server), bob_token,
                                               "b1", 0), ==, 0);
  deliver = natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
  g_assert_nonnull (deliver);
  g_assert_cmpstr (deliver->deliver->message->message_uid, ==, ack->publish_ack->message_uid);
  g_assert_true (deliver->deliver->offline);
}

/* Writes are group-committed: publishes that arrive while the writer is
 * in its fsync go in the next transaction together, so a burst from several
 * senders takes far fewer transactions (and fsyncs) than messages. */
static void
test_group_commit (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  NatterTestClient *senders[5];
  char *ids[G_N_ELEMENTS (senders)][100];
  guint64 commits, operations;

  for (guint i = 0; i < G_N_ELEMENTS (senders); i++)
    {
      g_autofree char *user = g_strdup_printf ("sender%u", i);

      senders[i] = natter_test_client_new_user (server, user, "d1");
    }
  commits = natter_test_server_get_metric (server, "natterd_commit_operations_count");
  operations = natter_test_server_get_metric (server, "natterd_commit_operations_sum");

  /* Every sender pipelines its 100 without waiting for acks. */
  for (guint n = 0; n < 100; n++)
    for (guint i = 0; i < G_N_ELEMENTS (senders); i++)
      {
        g_autofree char *content = g_strdup_printf ("{\"content\":\"burst %u\"}", n);

        ids[i][n] = natter_test_client_publish (senders[i], 1, "sink", "RC:TxtMsg", content);
      }
  for (guint i = 0; i < G_N_ELEMENTS (senders); i++)
    for (guint n = 0; n < 100; n++)
      {
        g_autoptr(NatterFrame) ack = natter_test_client_wait_ack (senders[i], ids[i][n]);

        g_assert_cmpint (ack->publish_ack->code, ==, 0);
        g_free (ids[i][n]);
      }

  commits = natter_test_server_get_metric (server, "natterd_commit_operations_count") - commits;
  operations = natter_test_server_get_metric (server, "natterd_commit_operations_sum") - operations;
  if (g_test_verbose ())
    g_printerr ("%" G_GUINT64_FORMAT " operations in %" G_GUINT64_FORMAT " transactions\n", operations, commits);
  g_assert_cmpuint (operations, >=, 500);
  g_assert_cmpuint (commits, <=, operations / 4);

  for (guint i = 0; i < G_N_ELEMENTS (senders); i++)
    natter_test_client_free (senders[i]);
}

static void
test_status_only (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterTestClient) bob = natter_test_client_new_user (server, "bob", "b1");
  g_autoptr(NatterFrame) ack = NULL;
  g_autoptr(NatterFrame) deliver = NULL;

  ack = natter_test_client_send_message (alice, 1, "bob", "RC:TypSts", "{\"typingContentType\":\"RC:TxtMsg\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);
  g_assert_cmpstr (ack->publish_ack->message_uid, ==, "");
  deliver = natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
  g_assert_nonnull (deliver);
  g_assert_cmpuint (deliver->deliver->seq, ==, 0);
  g_assert_cmpstr (deliver->deliver->message->object_name, ==, "RC:TypSts");
  g_assert_cmpuint (deliver->deliver->message->flags, ==, NATTER_MESSAGE_FLAG_STATUS);
  g_clear_pointer (&ack, natter_frame_free);

  /* Dropped for an offline user: nothing waits in carol's inbox. */
  ack = natter_test_client_send_message (alice, 1, "carol", "RC:VCInvite", "{\"callId\":\"c1\",\"mediaType\":1}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);
  {
    g_autoptr(NatterTestClient) carol = natter_test_client_new_user (server, "carol", "c1");

    g_assert_cmpuint (natter_test_client_get_max_seq (carol), ==, 0);
    natter_test_client_expect_none (carol, NATTER__FRAME__BODY_DELIVER, 300);
  }

  /* A custom object name with the status flag is status-only too. */
  natter_test_client_publish_full (alice, "custom1", 1, "bob", "APP:Ping", "{}", NATTER_MESSAGE_FLAG_STATUS);
  {
    g_autoptr(NatterFrame) custom_ack = natter_test_client_wait_ack (alice, "custom1");
    g_autoptr(NatterFrame) custom = natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER,
                                                               NATTER_TEST_TIMEOUT_MS);
    g_assert_cmpint (custom_ack->publish_ack->code, ==, 0);
    g_assert_cmpuint (custom->deliver->seq, ==, 0);
    g_assert_cmpstr (custom->deliver->message->object_name, ==, "APP:Ping");
  }
}

static void
test_command_offline (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterFrame) ack = NULL;
  g_autoptr(NatterTestClient) bob = NULL;
  g_autoptr(NatterFrame) deliver = NULL;

  /* RC:CmdMsg is not stored in history but still waits for offline users. */
  ack = natter_test_client_send_message (alice, 1, "bob", "RC:CmdMsg", "{\"name\":\"sync\",\"data\":\"1\"}");
  g_assert_cmpint (ack->publish_ack->code, ==, 0);
  g_assert_cmpstr (ack->publish_ack->message_uid, ==, "");

  bob = natter_test_client_new_user (server, "bob", "b1");
  deliver = natter_test_client_expect (bob, NATTER__FRAME__BODY_DELIVER, NATTER_TEST_TIMEOUT_MS);
  g_assert_nonnull (deliver);
  g_assert_true (deliver->deliver->offline);
  g_assert_cmpuint (deliver->deliver->seq, ==, 1);
  g_assert_cmpstr (deliver->deliver->message->object_name, ==, "RC:CmdMsg");
  g_assert_cmpstr (deliver->deliver->message->message_uid, ==, "");
}

static void
test_refusals (void)
{
  const char * const args[] = { "--app-setting", "send-rate=5", "--app-setting", "send-burst=5", NULL };
  g_autoptr(NatterTestServer) server = natter_test_server_new_full (NULL, args);
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(GString) big = g_string_new ("{\"content\":\"");
  g_autofree char *too_large = NULL;
  guint refused = 0;
  struct {
    int type;
    const char *target;
    const char *object_name;
    const char *content;
    int code;
  } cases[] = {
    { 6, "bob", "RC:TxtMsg", "{\"content\":\"system\"}", 33003 },      /* server API only */
    { 3, "nogroup", "RC:TxtMsg", "{\"content\":\"x\"}", 22406 },
    { 4, "noroom", "RC:TxtMsg", "{\"content\":\"x\"}", 23410 },
    { 1, "bob", "RC:TxtMsg", "not json", 33003 },
    { 1, "bob", "RC:TxtMsg", "[1,2]", 33003 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(NatterFrame) ack = natter_test_client_send_message (alice, cases[i].type, cases[i].target,
                                                                    cases[i].object_name, cases[i].content);
      g_assert_cmpint (ack->publish_ack->code, ==, cases[i].code);
      g_assert_cmpstr (ack->publish_ack->error_message, !=, "");
    }

  /* 128 KiB of content is the limit. */
  while (big->len < 128 * 1024 + 10)
    g_string_append (big, "0123456789abcdef");
  g_string_append (big, "\"}");
  too_large = g_string_free (g_steal_pointer (&big), FALSE);
  {
    g_autoptr(NatterFrame) ack = natter_test_client_send_message (alice, 1, "bob", "RC:TxtMsg", too_large);
    g_assert_cmpint (ack->publish_ack->code, ==, 30016);
  }

  /* 5 a second with a burst of 5 (the refusals above counted too). All 20
   * sent at once, then their acks read: one at a time, each waiting for
   * its commit, they could take more than the second that would refill the
   * bucket on a loaded machine with a slow disk. */
  g_usleep (1100 * 1000);
  {
    g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);

    for (guint i = 0; i < 20; i++)
      g_ptr_array_add (ids, natter_test_client_publish (alice, 1, "bob", "RC:TxtMsg", "{\"content\":\"fast\"}"));
    for (guint i = 0; i < ids->len; i++)
      {
        g_autoptr(NatterFrame) ack = natter_test_client_wait_ack (alice, g_ptr_array_index (ids, i));

        if (ack->publish_ack->code == 20604)
          refused++;
        else
          g_assert_cmpint (ack->publish_ack->code, ==, 0);
      }
  }
  g_assert_cmpuint (refused, >=, 10);
  g_assert_true (natter_test_client_is_open (alice));
}

static void
test_private_like_types (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  g_autoptr(NatterTestClient) alice = natter_test_client_new_user (server, "alice", "a1");
  g_autoptr(NatterTestClient) desk = natter_test_client_new_user (server, "helpdesk", "h1");
  const int types[] = { 5, 7, 8 };

  /* Customer service and public service conversations go to their target
   * like private ones, each its own conversation. */
  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    {
      g_autoptr(NatterFrame) ack = natter_test_client_send_message (alice, types[i], "helpdesk", "RC:TxtMsg",
                                                                    "{\"content\":\"help\"}");
      g_autoptr(NatterFrame) deliver = natter_test_client_expect (desk, NATTER__FRAME__BODY_DELIVER,
                                                                  NATTER_TEST_TIMEOUT_MS);

      g_assert_cmpint (ack->publish_ack->code, ==, 0);
      g_assert_cmpint (deliver->deliver->message->conversation_type, ==, types[i]);
      g_assert_cmpstr (deliver->deliver->message->target_id, ==, "alice");
    }

  /* The customer service handshake is status-only. */
  {
    g_autoptr(NatterFrame) ack = natter_test_client_send_message (alice, 5, "helpdesk", "RC:CsHs", "{}");
    g_autoptr(NatterFrame) deliver = natter_test_client_expect (desk, NATTER__FRAME__BODY_DELIVER,
                                                                NATTER_TEST_TIMEOUT_MS);
    g_assert_cmpuint (deliver->deliver->seq, ==, 0);
  }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/server/messaging/deliver", test_deliver);
  g_test_add_func ("/server/messaging/offline-replay", test_offline_replay);
  g_test_add_func ("/server/messaging/replay-many", test_replay_many);
  g_test_add_data_func ("/server/messaging/replay-large", GINT_TO_POINTER (FALSE), test_replay_large);
  g_test_add_data_func ("/server/messaging/tls/replay-large", GINT_TO_POINTER (TRUE), test_replay_large);
  g_test_add_func ("/server/messaging/wal-bounded", test_wal_bounded);
  g_test_add_func ("/server/messaging/wal-bounded-paced", test_wal_bounded_paced);
  g_test_add_func ("/server/messaging/idempotent", test_idempotent);
  g_test_add_func ("/server/messaging/durable", test_durable);
  g_test_add_func ("/server/messaging/group-commit", test_group_commit);
  g_test_add_func ("/server/messaging/sigterm-drains", test_sigterm_drains);
  g_test_add_func ("/server/messaging/status-only", test_status_only);
  g_test_add_func ("/server/messaging/command-offline", test_command_offline);
  g_test_add_func ("/server/messaging/refusals", test_refusals);
  g_test_add_func ("/server/messaging/private-like-types", test_private_like_types);

  return g_test_run ();
}
