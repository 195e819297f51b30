/* test-timeline.c — group timelines (natter.v2) against a real natterd on 127.0.0.1
 *
 * Group messages are no inbox entries: they come live without an inbox
 * seq, and a client that was away (or saw a gap) fetches them from the
 * group's timeline. What the user sees must not change for it: every
 * message once, in order, with the right unread count and "@" mark.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <string.h>

#include "natter-client-private.h"
#include "test-helpers.h"

static void
make_group (NatterTestServer *server,
            const char       *group_id,
            ...)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autoptr(JsonObject) reply = NULL;
  const char *member;
  va_list ap;

  va_start (ap, group_id);
  while ((member = va_arg (ap, const char *)) != NULL)
    {
      g_ptr_array_add (args, (gpointer) "userId");
      g_ptr_array_add (args, (gpointer) member);
    }
  va_end (ap);

  /* natter_test_server_api() takes pairs up to NULL: at most four members here. */
  g_assert_cmpuint (args->len, <=, 8);
  g_ptr_array_set_size (args, 8);
  reply = natter_test_server_api (server, NULL, "group/create", "groupId", group_id, "groupName", group_id,
                                  args->pdata[0], args->pdata[1], args->pdata[2], args->pdata[3],
                                  args->pdata[4], args->pdata[5], args->pdata[6], args->pdata[7], NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
}

static NatterMessage *
send_group_text (Peer       *peer,
                 const char *group_id,
                 const char *text,
                 const char *mention)
{
  g_autoptr(JsonObject) content = natter_content_new_text (text);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  NatterMessage *message;

  if (mention != NULL)
    {
      JsonObject *info = json_object_new ();
      JsonArray *ids = json_array_new ();

      json_array_add_string_element (ids, mention);
      json_object_set_int_member (info, "type", 2);
      json_object_set_array_member (info, "userIdList", ids);
      json_object_set_object_member (content, "mentionedInfo", info);
    }

  natter_client_send_message_async (peer->client, NATTER_CONVERSATION_GROUP, group_id, NATTER_OBJECT_TEXT,
                                    content, NULL, test_store_result_cb, &result);
  message = natter_client_send_message_finish (peer->client, test_wait_result (&result, 20), &error);
  g_assert_no_error (error);
  g_assert_nonnull (natter_message_get_message_uid (message));
  return message;
}

/* Sends "<prefix> 0" .. "<prefix> n-1"; returns their messageUIds in order. */
static GPtrArray *
send_many (Peer       *peer,
           const char *group_id,
           const char *prefix,
           guint       n)
{
  GPtrArray *uids = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *text = g_strdup_printf ("%s %u", prefix, i);
      g_autoptr(NatterMessage) message = send_group_text (peer, group_id, text, NULL);

      g_ptr_array_add (uids, g_strdup (natter_message_get_message_uid (message)));
    }
  return uids;
}

static void
reconnect_caught_up (Peer *peer)
{
  natter_client_disconnect (peer->client);
  peer_connect (peer);
  test_wait_until (peer_caught_up, peer, 30, "caught up");
}

/* The texts of a group's stored messages, oldest first, joined by "|". */
static char *
stored_texts (Peer       *peer,
              const char *group_id,
              guint       limit)
{
  g_autoptr(GPtrArray) page = peer_store_page (peer, NATTER_CONVERSATION_GROUP, group_id, limit);
  g_autoptr(GString) texts = g_string_new (NULL);

  for (guint i = 0; i < page->len; i++)
    g_string_append_printf (texts, "%s%s", i ? "|" : "", natter_message_get_text (g_ptr_array_index (page, i)));
  return g_string_free (g_steal_pointer (&texts), FALSE);
}

/* The store's "timeline-sync-time": kept once a sync is complete. */
static char *
sync_time (Peer *peer)
{
  NatterStore *store = natter_client_get_store (peer->client);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  char *value;

  natter_store_get_value_async (store, "timeline-sync-time", NULL, test_store_result_cb, &result);
  value = natter_store_get_value_finish (store, test_wait_result (&result, 10), &error);
  g_assert_no_error (error);
  return value;
}

static guint
count_received_in (Peer       *peer,
                   const char *group_id)
{
  guint n = 0;

  for (guint i = 0; i < peer->received->len; i++)
    {
      NatterMessage *message = g_ptr_array_index (peer->received, i);

      if (natter_message_is_persisted (message) &&
          natter_message_get_conversation_type (message) == NATTER_CONVERSATION_GROUP &&
          g_strcmp0 (natter_message_get_target_id (message), group_id) == 0)
        n++;
    }
  return n;
}

/* ------------------------------------------------------------ offline sync */

/* Away while the group talked: on reconnecting every message comes once,
 * in order, counted unread, the one that mentions bob marked. */
static void
test_offline_exactly_once (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  Peer *alice = peer_new (server, "alice", NULL);
  Peer *bob = peer_new (server, "bob", NULL);
  g_autoptr(NatterConversation) team = NULL;
  g_autoptr(GPtrArray) page = NULL;
  g_autofree char *texts = NULL;
  g_autofree char *first_sync = NULL;
  g_autofree char *second_sync = NULL;

  make_group (server, "team", "alice", "bob", "carol", NULL);
  peer_connect (alice);
  peer_connect (bob);
  test_wait_until (peer_caught_up, bob, 30, "bob caught up");
  natter_client_disconnect (bob->client);

  for (guint i = 0; i < 4; i++)
    {
      g_autofree char *text = g_strdup_printf ("away %u", i);

      g_object_unref (send_group_text (alice, "team", text, i == 2 ? "bob" : NULL));
    }
  /* Messages of others: a mention of carol is no mark of bob's. */
  g_object_unref (send_group_text (alice, "team", "away 4", "carol"));

  first_sync = sync_time (bob);
  g_assert_nonnull (first_sync);
  peer_connect (bob);
  test_wait_until (peer_caught_up, bob, 30, "bob caught up after being away");
  /* The next sync asks from this one on. */
  second_sync = sync_time (bob);
  g_assert_cmpint (g_ascii_strtoll (second_sync, NULL, 10), >, g_ascii_strtoll (first_sync, NULL, 10));
  texts = stored_texts (bob, "team", 50);
  g_assert_cmpstr (texts, ==, "away 0|away 1|away 2|away 3|away 4");
  g_assert_cmpuint (count_received_in (bob, "team"), ==, 5);
  for (guint i = 0; i < bob->received->len; i++)
    {
      g_autofree char *text = g_strdup_printf ("away %u", i);

      g_assert_cmpstr (natter_message_get_text (g_ptr_array_index (bob->received, i)), ==, text);
    }

  team = peer_store_conversation (bob, NATTER_CONVERSATION_GROUP, "team");
  g_assert_cmpuint (natter_conversation_get_unread_count (team), ==, 5);
  g_assert_cmpuint (natter_conversation_get_mention_count (team), ==, 1);

  /* Live after that: counted once more. */
  g_object_unref (send_group_text (alice, "team", "live", NULL));
  peer_wait_received (bob, 6);
  g_assert_cmpuint (natter_conversation_get_unread_count (team), ==, 6);

  /* A reconnect brings nothing twice. */
  reconnect_caught_up (bob);
  test_spin (300);
  g_assert_cmpuint (count_received_in (bob, "team"), ==, 6);
  page = peer_store_page (bob, NATTER_CONVERSATION_GROUP, "team", 50);
  g_assert_cmpuint (page->len, ==, 6);
  g_assert_cmpuint (natter_conversation_get_unread_count (team), ==, 6);
  g_assert_cmpuint (natter_conversation_get_mention_count (team), ==, 1);

  /* Own messages sent from here are held too: no refetch, no double. */
  g_object_unref (send_group_text (bob, "team", "from bob", NULL));
  g_object_unref (send_group_text (alice, "team", "after bob", NULL));
  peer_wait_received (bob, 7);
  test_spin (300);
  g_clear_pointer (&page, g_ptr_array_unref);
  page = peer_store_page (bob, NATTER_CONVERSATION_GROUP, "team", 50);
  g_assert_cmpuint (page->len, ==, 8);

  peer_free (alice, FALSE);
  peer_free (bob, FALSE);
}

/* ---------------------------------------------------------------- live gap */

static gboolean
has_four (gpointer data)
{
  Peer *peer = data;
  g_autoptr(GPtrArray) page = peer_store_page (peer, NATTER_CONVERSATION_GROUP, "team", 50);

  return page->len >= 4;
}

/* A device that does not sync after connecting (so only the live path can
 * bring anything): a live message past a gap has the gap fetched. */
static void
test_live_gap_filled (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  Peer *alice = peer_new (server, "alice", NULL);
  Peer *bob = peer_new (server, "bob", NULL);
  g_autofree char *texts = NULL;

  natter_timeline_sync_set_enabled (natter_client_get_timeline_sync (bob->client), FALSE);
  make_group (server, "team", "alice", "bob", NULL);
  peer_connect (alice);
  peer_connect (bob);
  test_wait_until (peer_caught_up, bob, 30, "bob caught up");

  g_object_unref (send_group_text (alice, "team", "one", NULL));
  peer_wait_received (bob, 1);

  natter_client_disconnect (bob->client);
  g_object_unref (send_group_text (alice, "team", "two", NULL));
  g_object_unref (send_group_text (alice, "team", "three", NULL));
  peer_connect (bob);
  test_wait_until (peer_caught_up, bob, 30, "bob caught up again");
  test_spin (300);
  g_assert_cmpuint (count_received_in (bob, "team"), ==, 1);

  g_object_unref (send_group_text (alice, "team", "four", NULL));
  test_wait_until (has_four, bob, 30, "the gap filled");
  g_assert_null (sync_time (bob));   /* it never synced */
  texts = stored_texts (bob, "team", 50);
  g_assert_cmpstr (texts, ==, "one|two|three|four");
  test_spin (300);
  g_assert_cmpuint (count_received_in (bob, "team"), ==, 4);

  peer_free (alice, FALSE);
  peer_free (bob, FALSE);
}

/* The sender's PublishAck gives its message's timeline_seq: the next
 * message that comes live right after it is no gap, and nothing is
 * fetched back (no query at all reaches natterd). */
static void
test_own_message_no_fetch (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  Peer *alice = peer_new (server, "alice", NULL);
  Peer *bob = peer_new (server, "bob", NULL);
  g_autofree char *texts = NULL;
  guint64 queries;

  make_group (server, "team", "alice", "bob", NULL);
  peer_connect (alice);
  peer_connect (bob);
  test_wait_until (peer_caught_up, alice, 30, "alice caught up");
  test_wait_until (peer_caught_up, bob, 30, "bob caught up");

  /* A first message from each has the other fetch its profile: done
   * before counting. */
  g_object_unref (send_group_text (bob, "team", "one", NULL));
  peer_wait_received (alice, 1);
  g_object_unref (send_group_text (alice, "team", "two", NULL));
  peer_wait_received (bob, 1);
  test_spin (1000);

  queries = natter_test_server_get_metric (server, "natterd_query_latency_seconds_count");
  g_object_unref (send_group_text (bob, "team", "three", NULL));
  peer_wait_received (alice, 2);
  test_spin (1000);
  g_assert_cmpuint (natter_test_server_get_metric (server, "natterd_query_latency_seconds_count"), ==, queries);

  texts = stored_texts (alice, "team", 50);
  g_assert_cmpstr (texts, ==, "one|two|three");
  g_assert_cmpuint (count_received_in (alice, "team"), ==, 2);

  peer_free (alice, FALSE);
  peer_free (bob, FALSE);
}

/* ------------------------------------------------------- long absence */

static gboolean
list_idle (gpointer list)
{
  return !natter_message_list_get_loading (list);
}

/* More than 200 missed: the newest 200 come, the unread count is all of
 * them, and history brings the older ones when asked. */
static void
test_newest_200_then_history (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  Peer *alice = peer_new (server, "alice", NULL);
  Peer *bob = peer_new (server, "bob", NULL);
  g_autoptr(GPtrArray) uids = NULL;
  g_autoptr(GPtrArray) page = NULL;
  g_autoptr(GPtrArray) older = NULL;
  g_autoptr(NatterConversation) team = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  gboolean has_more = FALSE;
  guint n = 230;
  gint64 start;

  make_group (server, "team", "alice", "bob", NULL);
  peer_connect (alice);
  peer_connect (bob);
  test_wait_until (peer_caught_up, bob, 30, "bob caught up");
  natter_client_disconnect (bob->client);
  uids = send_many (alice, "team", "msg", n);

  start = g_get_monotonic_time ();
  peer_connect (bob);
  test_wait_until (peer_caught_up, bob, 60, "bob caught up after a long absence");
  g_test_message ("%u missed in one group: caught up in %" G_GINT64_FORMAT " ms", n,
                  (g_get_monotonic_time () - start) / 1000);
  page = peer_store_page (bob, NATTER_CONVERSATION_GROUP, "team", 1000);
  g_assert_cmpuint (page->len, ==, NATTER_TIMELINE_FETCH_MAX);
  g_assert_cmpuint (count_received_in (bob, "team"), ==, NATTER_TIMELINE_FETCH_MAX);
  for (guint i = 0; i < page->len; i++)
    g_assert_cmpstr (natter_message_get_message_uid (g_ptr_array_index (page, i)), ==,
                     g_ptr_array_index (uids, n - NATTER_TIMELINE_FETCH_MAX + i));
  team = peer_store_conversation (bob, NATTER_CONVERSATION_GROUP, "team");
  g_assert_cmpuint (natter_conversation_get_unread_count (team), ==, n);

  /* Scrolling back: the page before the oldest held is the 20 before it. */
  natter_client_get_history_async (bob->client, NATTER_CONVERSATION_GROUP, "team",
                                   natter_message_get_sent_time (g_ptr_array_index (page, 0)) + 1,
                                   NATTER_HISTORY_MAX_COUNT, NULL, test_store_result_cb, &result);
  older = natter_client_get_history_finish (bob->client, test_wait_result (&result, 20), &has_more, &error);
  g_assert_no_error (error);
  g_assert_true (has_more);
  g_assert_cmpuint (older->len, >=, NATTER_HISTORY_MAX_COUNT - 1);
  {
    g_autofree char *want = g_strdup_printf ("msg %u", n - NATTER_TIMELINE_FETCH_MAX - 1);
    gboolean found = FALSE;

    for (guint i = 0; i < older->len; i++)
      found |= g_strcmp0 (natter_message_get_text (g_ptr_array_index (older, i)), want) == 0;
    g_assert_true (found);
  }

  /* A chat opened on it pages back through what was skipped to the first
   * message: every one once, in order. */
  {
    g_autoptr(NatterMessageList) list = natter_message_list_new (bob->client, NATTER_CONVERSATION_GROUP,
                                                                 "team");

    test_wait_until (list_idle, list, 20, "the first page");
    for (int guard = 0; natter_message_list_get_has_more (list) && guard < 40; guard++)
      {
        g_autoptr(GAsyncResult) loaded = NULL;
        g_autoptr(GError) load_error = NULL;

        natter_message_list_load_older_async (list, NULL, test_store_result_cb, &loaded);
        natter_message_list_load_older_finish (list, test_wait_result (&loaded, 20), &load_error);
        g_assert_no_error (load_error);
      }
    g_assert_false (natter_message_list_get_has_more (list));
    g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, n);
    for (guint i = 0; i < n; i++)
      {
        g_autoptr(NatterMessage) message = g_list_model_get_item (G_LIST_MODEL (list), i);

        g_assert_cmpstr (natter_message_get_message_uid (message), ==, g_ptr_array_index (uids, i));
      }
  }

  /* Stored once each. */
  g_clear_pointer (&page, g_ptr_array_unref);
  page = peer_store_page (bob, NATTER_CONVERSATION_GROUP, "team", 1000);
  g_assert_cmpuint (page->len, ==, n);
  for (guint i = 0; i < page->len; i++)
    g_assert_true (g_hash_table_add (seen, (gpointer) natter_message_get_message_uid (g_ptr_array_index (page, i))));

  peer_free (alice, FALSE);
  peer_free (bob, FALSE);
}

/* ------------------------------------------------------- many groups */

static gboolean
all_groups_listed (gpointer data)
{
  Peer *peer = data;
  NatterStore *store = natter_client_get_store (peer->client);
  const NatterConversationType types[] = { NATTER_CONVERSATION_GROUP };
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GPtrArray) list = NULL;

  natter_store_get_conversations_async (store, types, 1, NULL, test_store_result_cb, &result);
  list = natter_store_get_conversations_finish (store, test_wait_result (&result, 10), NULL);
  return list != NULL && list->len >= 205;
}

/* More timelines moved than one sync page holds (200): every one comes,
 * each message once, each group one unread; the app's queries are not
 * starved meanwhile. */
static void
test_sync_pages (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  Peer *alice = peer_new (server, "alice", NULL);
  Peer *bob = peer_new (server, "bob", NULL);
  guint n = 205;
  gint64 start, elapsed_ms;

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *group = g_strdup_printf ("g%03u", i);

      make_group (server, group, "alice", "bob", NULL);
    }
  peer_connect (alice);
  peer_connect (bob);
  test_wait_until (peer_caught_up, bob, 30, "bob caught up");
  natter_client_disconnect (bob->client);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *group = g_strdup_printf ("g%03u", i);

      g_object_unref (send_group_text (alice, group, group, NULL));
    }

  start = g_get_monotonic_time ();
  peer_connect (bob);

  /* A timeline page costs natterd's query-rate a tenth of a token: the
   * 205 fetches go at once, and a chat's history page, asked meanwhile,
   * is not refused either. */
  peer_wait_received (bob, 20);
  {
    g_autoptr(GAsyncResult) result = NULL;
    g_autoptr(GPtrArray) history = NULL;
    g_autoptr(GError) error = NULL;

    natter_client_get_history_async (bob->client, NATTER_CONVERSATION_GROUP, "g000", 0, 10, NULL,
                                     test_store_result_cb, &result);
    history = natter_client_get_history_finish (bob->client, test_wait_result (&result, 20), NULL, &error);
    g_assert_no_error (error);
  }

  test_wait_until (peer_caught_up, bob, 60, "bob caught up with every group");
  elapsed_ms = (g_get_monotonic_time () - start) / 1000;
  g_test_message ("%u groups with one missed each: caught up in %" G_GINT64_FORMAT " ms", n, elapsed_ms);
  /* Paced by the query rate, this took 11.5 s. */
  g_assert_cmpint (elapsed_ms, <, 2500);
  g_assert_true (all_groups_listed (bob));
  g_assert_cmpuint (peer_count_received (bob, TRUE), ==, n);
  for (guint i = 0; i < n; i += 51)
    {
      g_autofree char *group = g_strdup_printf ("g%03u", i);
      g_autoptr(NatterConversation) conversation = peer_store_conversation (bob, NATTER_CONVERSATION_GROUP,
                                                                             group);
      g_autofree char *texts = stored_texts (bob, group, 10);

      g_assert_cmpstr (texts, ==, group);
      g_assert_cmpuint (natter_conversation_get_unread_count (conversation), ==, 1);
    }

  peer_free (alice, FALSE);
  peer_free (bob, FALSE);
}

/* ------------------------------------------------------------------ recall */

static NatterMessage *
recall (Peer          *peer,
        NatterMessage *message)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  NatterMessage *recalled;

  natter_client_recall_message_async (peer->client, message, NULL, test_store_result_cb, &result);
  recalled = natter_client_recall_message_finish (peer->client, test_wait_result (&result, 20), &error);
  g_assert_no_error (error);
  return recalled;
}

static gboolean
all_recalled (gpointer data)
{
  Peer *peer = data;
  g_autoptr(GPtrArray) page = peer_store_page (peer, NATTER_CONVERSATION_GROUP, "team", 50);
  guint n = 0;

  for (guint i = 0; i < page->len; i++)
    n += natter_message_get_kind (g_ptr_array_index (page, i)) == NATTER_MESSAGE_KIND_RECALLED;
  return n == 2;
}

/* A group message recalled while bob is online, and one while he is away:
 * both are recall notices on his side, and what follows is not refetched
 * or doubled. */
static void
test_recall (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  Peer *alice = peer_new (server, "alice", NULL);
  Peer *bob = peer_new (server, "bob", NULL);
  g_autoptr(NatterMessage) live = NULL;
  g_autoptr(NatterMessage) away = NULL;
  g_autoptr(GPtrArray) page = NULL;

  make_group (server, "team", "alice", "bob", NULL);
  peer_connect (alice);
  peer_connect (bob);
  test_wait_until (peer_caught_up, bob, 30, "bob caught up");

  live = send_group_text (alice, "team", "oops, live", NULL);
  away = send_group_text (alice, "team", "oops, away", NULL);
  peer_wait_received (bob, 2);
  g_object_unref (recall (alice, live));

  natter_client_disconnect (bob->client);
  g_object_unref (recall (alice, away));
  g_object_unref (send_group_text (alice, "team", "after", NULL));
  peer_connect (bob);
  test_wait_until (peer_caught_up, bob, 30, "bob caught up again");
  test_wait_until (all_recalled, bob, 30, "both recalled on bob's side");

  page = peer_store_page (bob, NATTER_CONVERSATION_GROUP, "team", 50);
  g_assert_cmpuint (page->len, ==, 3);
  g_assert_cmpstr (natter_message_get_text (g_ptr_array_index (page, 2)), ==, "after");

  peer_free (alice, FALSE);
  peer_free (bob, FALSE);
}

/* ------------------------------------------------------- read elsewhere */

/* Read on device A: device B, after its sync, has nothing unread. */
static void
test_read_on_other_device (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  Peer *alice = peer_new (server, "alice", NULL);
  Peer *bob_a = peer_new (server, "bob", NULL);
  Peer *bob_b = peer_new (server, "bob", NULL);
  g_autoptr(NatterConversation) on_b = NULL;
  g_autoptr(NatterConversation) on_a = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  make_group (server, "team", "alice", "bob", NULL);
  peer_connect (alice);
  g_object_unref (send_group_text (alice, "team", "first", NULL));
  g_object_unref (send_group_text (alice, "team", "second", "bob"));

  /* B sees them unread, and goes. */
  peer_connect (bob_b);
  test_wait_until (peer_caught_up, bob_b, 30, "B caught up");
  on_b = peer_store_conversation (bob_b, NATTER_CONVERSATION_GROUP, "team");
  g_assert_cmpuint (natter_conversation_get_unread_count (on_b), ==, 2);
  g_assert_cmpuint (natter_conversation_get_mention_count (on_b), ==, 1);
  natter_client_disconnect (bob_b->client);

  /* A reads them. */
  peer_connect (bob_a);
  test_wait_until (peer_caught_up, bob_a, 30, "A caught up");
  on_a = peer_store_conversation (bob_a, NATTER_CONVERSATION_GROUP, "team");
  g_assert_cmpuint (natter_conversation_get_unread_count (on_a), ==, 2);
  natter_client_clear_unread_async (bob_a->client, NATTER_CONVERSATION_GROUP, "team", NULL,
                                    test_store_result_cb, &result);
  g_assert_true (natter_client_clear_unread_finish (bob_a->client, test_wait_result (&result, 20), &error));
  g_assert_no_error (error);
  g_assert_cmpuint (natter_conversation_get_unread_count (on_a), ==, 0);
  test_spin (300);
  natter_client_disconnect (bob_a->client);

  /* B comes back: read. */
  peer_connect (bob_b);
  test_wait_until (peer_caught_up, bob_b, 30, "B caught up again");
  test_spin (300);
  g_assert_cmpuint (natter_conversation_get_unread_count (on_b), ==, 0);
  g_assert_cmpuint (natter_conversation_get_mention_count (on_b), ==, 0);

  /* A new one after the read counts, alone. */
  g_object_unref (send_group_text (alice, "team", "third", NULL));
  peer_wait_received (bob_b, 3);
  g_assert_cmpuint (natter_conversation_get_unread_count (on_b), ==, 1);

  peer_free (alice, FALSE);
  peer_free (bob_a, FALSE);
  peer_free (bob_b, FALSE);
}

/* ------------------------------------------------------- removed member */

/* Removed from the group: what came before, nothing after, live or synced. */
static void
test_removed_member (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  Peer *alice = peer_new (server, "alice", NULL);
  Peer *bob = peer_new (server, "bob", NULL);
  g_autoptr(JsonObject) reply = NULL;
  g_autofree char *texts = NULL;

  make_group (server, "team", "alice", "bob", NULL);
  peer_connect (alice);
  peer_connect (bob);
  test_wait_until (peer_caught_up, bob, 30, "bob caught up");
  g_object_unref (send_group_text (alice, "team", "member", NULL));
  peer_wait_received (bob, 1);

  natter_client_disconnect (bob->client);
  g_object_unref (send_group_text (alice, "team", "still member", NULL));
  reply = natter_test_server_api (server, NULL, "group/quit", "userId", "bob", "groupId", "team", NULL);
  g_assert_cmpint (json_object_get_int_member (reply, "code"), ==, 200);
  g_object_unref (send_group_text (alice, "team", "after removal", NULL));

  /* Synced: up to the removal. */
  peer_connect (bob);
  test_wait_until (peer_caught_up, bob, 30, "bob caught up");
  test_spin (300);
  texts = stored_texts (bob, "team", 50);
  g_assert_cmpstr (texts, ==, "member|still member");

  /* Live: nothing either. */
  g_object_unref (send_group_text (alice, "team", "live after removal", NULL));
  test_spin (500);
  g_clear_pointer (&texts, g_free);
  texts = stored_texts (bob, "team", 50);
  g_assert_cmpstr (texts, ==, "member|still member");
  g_assert_cmpuint (count_received_in (bob, "team"), ==, 2);

  peer_free (alice, FALSE);
  peer_free (bob, FALSE);
}

/* ------------------------------------------------- updates in the same page */

static NatterMessage *
edit_text (Peer          *peer,
           NatterMessage *message,
           const char    *text)
{
  g_autoptr(JsonObject) content = natter_content_new_text (text);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  NatterMessage *edited;

  natter_client_edit_message_async (peer->client, message, content, NULL, test_store_result_cb, &result);
  edited = natter_client_edit_message_finish (peer->client, test_wait_result (&result, 20), &error);
  g_assert_no_error (error);
  return edited;
}

static NatterMessage *
react (Peer          *peer,
       NatterMessage *message,
       const char    *emoji)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  NatterMessage *reacted;

  natter_client_react_async (peer->client, message, emoji, TRUE, NULL, test_store_result_cb, &result);
  reacted = natter_client_react_finish (peer->client, test_wait_result (&result, 20), &error);
  g_assert_no_error (error);
  return reacted;
}

typedef struct {
  Peer *peer;
  NatterConversationType type;
  const char *target;
} StoredCheck;

/* The conversation's only message, edited and with alice's 👍. */
static gboolean
edited_and_reacted (gpointer data)
{
  StoredCheck *check = data;
  g_autoptr(GPtrArray) page = peer_store_page (check->peer, check->type, check->target, 50);
  NatterMessage *message;

  if (page->len != 1)
    return FALSE;
  message = g_ptr_array_index (page, 0);
  return g_strcmp0 (natter_message_get_text (message), "see you at one") == 0 &&
         natter_message_has_reaction (message, "👍", "alice");
}

/* bob is away while alice sends, reacts to and edits one message: the
 * reaction and the edit come in the same inbox replay or timeline page as
 * the message, and bob's store has the edited text and the reaction. */
static void
test_updates_with_message (gconstpointer data)
{
  NatterConversationType type = GPOINTER_TO_INT (data);
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  Peer *alice = peer_new (server, "alice", NULL);
  Peer *bob = peer_new (server, "bob", NULL);
  const char *target = type == NATTER_CONVERSATION_GROUP ? "team" : "alice";
  g_autoptr(JsonObject) content = natter_content_new_text ("see you at noon");
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterMessage) sent = NULL;
  StoredCheck check = { bob, type, target };

  make_group (server, "team", "alice", "bob", NULL);
  peer_connect (alice);
  peer_connect (bob);
  test_wait_until (peer_caught_up, bob, 30, "bob caught up");
  natter_client_disconnect (bob->client);

  json_object_set_object_member (content, "expansion", json_object_new ());
  natter_client_send_message_async (alice->client, type, type == NATTER_CONVERSATION_GROUP ? "team" : "bob",
                                    NATTER_OBJECT_TEXT, content, NULL, test_store_result_cb, &result);
  sent = natter_client_send_message_finish (alice->client, test_wait_result (&result, 20), &error);
  g_assert_no_error (error);
  g_object_unref (react (alice, sent, "👍"));
  g_object_unref (edit_text (alice, sent, "see you at one"));

  peer_connect (bob);
  test_wait_until (peer_caught_up, bob, 30, "bob caught up again");
  test_wait_until (edited_and_reacted, &check, 20, "the edit and the reaction stored with the message");

  peer_free (alice, FALSE);
  peer_free (bob, FALSE);
}

/* The group's first message has "Read by bob". */
static gboolean
read_by_bob (gpointer data)
{
  Peer *peer = data;
  g_autoptr(GPtrArray) page = peer_store_page (peer, NATTER_CONVERSATION_GROUP, "team", 50);
  g_auto(GStrv) read_by = page->len >= 1 ? natter_message_dup_read_by (g_ptr_array_index (page, 0)) : NULL;

  return read_by != NULL && g_strv_contains ((const char * const *) read_by, "bob");
}

/* bob has the group's first message, asking for a receipt. */
static gboolean
stored_for_bob (gpointer data)
{
  Peer *peer = data;
  g_autoptr(GPtrArray) page = peer_store_page (peer, NATTER_CONVERSATION_GROUP, "team", 50);

  return page->len >= 1 && natter_message_get_receipt_requested (g_ptr_array_index (page, 0));
}

/* "Read by bob" stays on alice's message when she edits it. */
static void
test_receipts_survive_edit (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  Peer *alice = peer_new (server, "alice", NULL);
  Peer *bob = peer_new (server, "bob", NULL);
  g_autoptr(NatterMessage) sent = NULL;
  g_autoptr(GPtrArray) page = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) read_by = NULL;

  make_group (server, "team", "alice", "bob", NULL);
  peer_connect (alice);
  peer_connect (bob);
  test_wait_until (peer_caught_up, bob, 30, "bob caught up");

  sent = send_group_text (alice, "team", "read this", NULL);
  natter_client_request_read_receipts_async (alice->client, sent, NULL, test_store_result_cb, &result);
  g_assert_true (natter_client_request_read_receipts_finish (alice->client, test_wait_result (&result, 20), &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  test_wait_until (stored_for_bob, bob, 20, "the request stored on bob's side");

  page = peer_store_page (bob, NATTER_CONVERSATION_GROUP, "team", 50);
  natter_client_send_read_receipts_async (bob->client, page, NULL, test_store_result_cb, &result);
  g_assert_true (natter_client_send_read_receipts_finish (bob->client, test_wait_result (&result, 20), &error));
  g_assert_no_error (error);
  test_wait_until (read_by_bob, alice, 20, "alice's message read by bob");

  g_object_unref (edit_text (alice, sent, "read this, edited"));
  g_clear_pointer (&page, g_ptr_array_unref);
  /* The message, then the RC:RRReqMsg. */
  page = peer_store_page (alice, NATTER_CONVERSATION_GROUP, "team", 50);
  g_assert_cmpuint (page->len, ==, 2);
  g_assert_cmpstr (natter_message_get_text (g_ptr_array_index (page, 0)), ==, "read this, edited");
  read_by = natter_message_dup_read_by (g_ptr_array_index (page, 0));
  g_assert_nonnull (read_by);
  g_assert_true (g_strv_contains ((const char * const *) read_by, "bob"));

  peer_free (alice, FALSE);
  peer_free (bob, FALSE);
}

/* A device of alice's that comes after bob read her message (a new
 * one, its store empty) shows "Read by bob" too: natterd keeps the
 * readers and gives them with the timeline (#16). */
static void
test_readers_on_new_device (void)
{
  g_autoptr(NatterTestServer) server = natter_test_server_new ();
  Peer *alice = peer_new (server, "alice", NULL);
  Peer *bob = peer_new (server, "bob", NULL);
  Peer *laptop = NULL;
  g_autoptr(NatterMessage) sent = NULL;
  g_autoptr(GPtrArray) page = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) read_by = NULL;

  make_group (server, "team", "alice", "bob", NULL);
  peer_connect (alice);
  peer_connect (bob);
  test_wait_until (peer_caught_up, bob, 30, "bob caught up");

  sent = send_group_text (alice, "team", "read this", NULL);
  natter_client_request_read_receipts_async (alice->client, sent, NULL, test_store_result_cb, &result);
  g_assert_true (natter_client_request_read_receipts_finish (alice->client, test_wait_result (&result, 20), &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  test_wait_until (stored_for_bob, bob, 20, "the request stored on bob's side");
  page = peer_store_page (bob, NATTER_CONVERSATION_GROUP, "team", 50);
  natter_client_send_read_receipts_async (bob->client, page, NULL, test_store_result_cb, &result);
  g_assert_true (natter_client_send_read_receipts_finish (bob->client, test_wait_result (&result, 20), &error));
  g_assert_no_error (error);
  test_wait_until (read_by_bob, alice, 20, "alice's message read by bob");

  laptop = peer_new (server, "alice", NULL);
  peer_connect (laptop);
  test_wait_until (peer_caught_up, laptop, 30, "alice's new device caught up");
  test_wait_until (stored_for_bob, laptop, 20, "the message on alice's new device");
  g_clear_pointer (&page, g_ptr_array_unref);
  page = peer_store_page (laptop, NATTER_CONVERSATION_GROUP, "team", 50);
  read_by = natter_message_dup_read_by (g_ptr_array_index (page, 0));
  g_assert_nonnull (read_by);
  g_assert_cmpuint (g_strv_length (read_by), ==, 1);
  g_assert_cmpstr (read_by[0], ==, "bob");
  g_assert_true (natter_message_get_receipt_requested (g_ptr_array_index (page, 0)));

  peer_free (laptop, FALSE);
  peer_free (alice, FALSE);
  peer_free (bob, FALSE);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/timeline/offline-exactly-once", test_offline_exactly_once);
  g_test_add_func ("/timeline/live-gap-filled", test_live_gap_filled);
  g_test_add_func ("/timeline/own-message-no-fetch", test_own_message_no_fetch);
  g_test_add_func ("/timeline/newest-200-then-history", test_newest_200_then_history);
  g_test_add_func ("/timeline/sync-pages", test_sync_pages);
  g_test_add_func ("/timeline/recall", test_recall);
  g_test_add_func ("/timeline/read-on-other-device", test_read_on_other_device);
  g_test_add_func ("/timeline/removed-member", test_removed_member);
  g_test_add_data_func ("/timeline/updates-with-message/group", GINT_TO_POINTER (NATTER_CONVERSATION_GROUP),
                        test_updates_with_message);
  g_test_add_func ("/timeline/receipts-survive-edit", test_receipts_survive_edit);
  g_test_add_func ("/timeline/readers-on-new-device", test_readers_on_new_device);
  g_test_add_data_func ("/timeline/updates-with-message/private", GINT_TO_POINTER (NATTER_CONVERSATION_PRIVATE),
                        test_updates_with_message);

  return g_test_run ();
}
