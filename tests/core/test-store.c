/* test-store.c — NatterStore on real SQLite files
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

#include "natter.h"
#include "natter-message-private.h"
#include "natter-store-private.h"
#include "test-helpers.h"

#define T0 G_GINT64_CONSTANT (1700000000000)

typedef struct {
  char *dir;
  char *path;
  NatterStore *store;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fixture->dir = g_dir_make_tmp ("natter-store-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->path = g_build_filename (fixture->dir, "natter.db", NULL);
  fixture->store = natter_store_new (fixture->path);
  natter_store_set_own_user_id (fixture->store, "alice");
}

static void
remove_dir (const char *dir)
{
  g_autoptr(GDir) handle = g_dir_open (dir, 0, NULL);
  const char *name;

  while (handle != NULL && (name = g_dir_read_name (handle)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_remove (path);
    }
  g_rmdir (dir);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  g_clear_object (&fixture->store);
  remove_dir (fixture->dir);
  g_free (fixture->path);
  g_free (fixture->dir);
}

static NatterMessage *
incoming (const char *uid,
          const char *peer,
          const char *text,
          gint64      sent_time)
{
  g_autoptr(JsonObject) content = natter_content_new_text (text);

  return natter_message_new_full (0, uid, NATTER_CONVERSATION_PRIVATE, peer, peer,
                                  NATTER_OBJECT_TEXT, content, NATTER_MESSAGE_DIRECTION_RECEIVE,
                                  NATTER_SENT_STATUS_RECEIVED, sent_time, sent_time, FALSE, 0, NULL,
                                  NATTER_MESSAGE_FLAG_PERSISTED | NATTER_MESSAGE_FLAG_COUNTED);
}

static NatterMessage *
outgoing (const char       *uid,
          const char       *peer,
          const char       *text,
          gint64            sent_time,
          NatterSentStatus  status)
{
  g_autoptr(JsonObject) content = natter_content_new_text (text);
  g_autofree char *client_msg_id = g_uuid_string_random ();

  return natter_message_new_full (0, uid, NATTER_CONVERSATION_PRIVATE, peer, "alice",
                                  NATTER_OBJECT_TEXT, content, NATTER_MESSAGE_DIRECTION_SEND,
                                  status, sent_time, sent_time, FALSE, 0, client_msg_id,
                                  NATTER_MESSAGE_FLAG_PERSISTED | NATTER_MESSAGE_FLAG_COUNTED);
}

static NatterMessage *
add (NatterStore   *store,
     NatterMessage *message,
     gboolean      *added)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  NatterMessage *stored;

  natter_store_add_message_async (store, message, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  stored = natter_store_add_message_finish (store, result, added, &error);
  g_assert_no_error (error);
  g_assert_nonnull (stored);
  g_object_unref (message);
  return stored;
}

static GPtrArray *
conversations (NatterStore                  *store,
               const NatterConversationType *types,
               gsize                         n_types)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *list;

  natter_store_get_conversations_async (store, types, n_types, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  list = natter_store_get_conversations_finish (store, result, &error);
  g_assert_no_error (error);
  return list;
}

static NatterConversation *
conversation (NatterStore            *store,
              NatterConversationType  type,
              const char             *target)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  NatterConversation *c;

  natter_store_get_conversation_async (store, type, target, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  c = natter_store_get_conversation_finish (store, result, &error);
  g_assert_no_error (error);
  return c;
}

static GPtrArray *
page (NatterStore *store,
      const char  *target,
      gint64       before_time,
      gint64       before_id,
      guint        limit)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *messages;

  natter_store_get_messages_async (store, NATTER_CONVERSATION_PRIVATE, target, before_time,
                                   before_id, limit, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  messages = natter_store_get_messages_finish (store, result, &error);
  g_assert_no_error (error);
  return messages;
}

static GPtrArray *
search (NatterStore *store,
        const char  *query)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *messages;

  natter_store_search_async (store, query, 0, NULL, 50, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  messages = natter_store_search_finish (store, result, &error);
  g_assert_no_error (error);
  return messages;
}

#define WAIT_BOOLEAN(call_async, finish, ...)                                   \
  G_STMT_START {                                                                \
    g_autoptr(GAsyncResult) r_ = NULL;                                          \
    g_autoptr(GError) e_ = NULL;                                                \
    call_async (__VA_ARGS__, NULL, test_store_result_cb, &r_);                  \
    test_wait_result (&r_, 10);                                                 \
    g_assert_true (finish (fixture->store, r_, &e_));                           \
    g_assert_no_error (e_);                                                     \
  } G_STMT_END

/* ------------------------------------------------------------------ tests */

static void
test_open_wal (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;

  natter_store_open_async (fixture->store, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  g_assert_true (natter_store_open_finish (fixture->store, result, &error));
  g_assert_no_error (error);

  /* A second connection sees the schema version and WAL mode. */
  g_assert_cmpint (sqlite3_open (fixture->path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "PRAGMA journal_mode", -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  g_assert_cmpstr ((const char *) sqlite3_column_text (stmt, 0), ==, "wal");
  sqlite3_finalize (stmt);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "PRAGMA user_version", -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  g_assert_cmpint (sqlite3_column_int (stmt, 0), ==, NATTER_STORE_SCHEMA_VERSION);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
}

static void
record_thread (GObject    *object,
               GParamSpec *pspec,
               gpointer    user_data)
{
  GThread **thread = user_data;
  *thread = g_thread_self ();
}

/* A job's results reach the objects everybody holds (their notify, which
 * the app's rows follow) in the thread that owns the store, from its main
 * loop, even when that thread is busy between iterations and so does not
 * hold the context: never on the worker thread, where they would race the
 * owner (GTK widgets updated off the main thread). */
static void
test_completes_on_owner_thread (Fixture       *fixture,
                                gconstpointer  data)
{
  g_autoptr(NatterMessage) message = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterMessage) recalled = NULL;
  GThread *notified_in = NULL;

  message = add (fixture->store, incoming ("C1", "bob", "oops wrong chat", T0), NULL);
  g_signal_connect (message, "notify::content", G_CALLBACK (record_thread), &notified_in);
  natter_store_recall_async (fixture->store, "C1", "bob", T0 + 60, NULL, test_store_result_cb, &result);
  /* busy without iterating: the worker finishes the job meanwhile */
  g_usleep (300 * 1000);
  g_assert_null (notified_in);
  test_wait_result (&result, 10);
  recalled = natter_store_get_message_finish (fixture->store, result, &error);
  g_assert_no_error (error);
  g_assert_true (recalled == message);
  g_assert_true (notified_in == g_thread_self ());
}

/* The outbox and drafts (what natterd does not have yet) commit with a sync
 * of the WAL; incoming messages, which natterd keeps, do not. */
static void
test_synced_commits (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(NatterMessage) first = NULL;
  g_autoptr(NatterMessage) second = NULL;
  g_autoptr(NatterMessage) out = NULL;
  g_autoptr(NatterMessage) sent = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  guint before;

  first = add (fixture->store, incoming ("C1", "bob", "hello", T0), NULL);
  before = natter_store_get_synced_commits (fixture->store);

  second = add (fixture->store, incoming ("C2", "bob", "still there?", T0 + 1), NULL);
  g_assert_cmpuint (natter_store_get_synced_commits (fixture->store), ==, before);
  sent = add (fixture->store, outgoing ("C3", "bob", "already acked", T0 + 2, NATTER_SENT_STATUS_SENT), NULL);
  g_assert_cmpuint (natter_store_get_synced_commits (fixture->store), ==, before);

  out = add (fixture->store, outgoing (NULL, "bob", "in the outbox", T0 + 3, NATTER_SENT_STATUS_SENDING), NULL);
  g_assert_cmpuint (natter_store_get_synced_commits (fixture->store), ==, before + 1);

  natter_store_set_draft_async (fixture->store, NATTER_CONVERSATION_PRIVATE, "bob", "half a thought",
                                NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  g_assert_true (natter_store_set_draft_finish (fixture->store, result, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (natter_store_get_synced_commits (fixture->store), ==, before + 2);
}

static void
test_add_dedupe_unread (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autoptr(NatterMessage) first = NULL;
  g_autoptr(NatterMessage) again = NULL;
  g_autoptr(NatterConversation) c = NULL;
  gboolean added = FALSE;

  first = add (fixture->store, incoming ("UID-1", "bob", "hello", T0), &added);
  g_assert_true (added);
  g_assert_cmpint (natter_message_get_message_id (first), >, 0);
  g_assert_cmpstr (natter_message_get_message_uid (first), ==, "UID-1");

  /* The same uid again (a replay whose ack was lost) is not stored twice. */
  again = add (fixture->store, incoming ("UID-1", "bob", "hello", T0), &added);
  g_assert_false (added);
  g_assert_true (again == first);

  c = conversation (fixture->store, NATTER_CONVERSATION_PRIVATE, "bob");
  g_assert_nonnull (c);
  g_assert_cmpuint (natter_conversation_get_unread_count (c), ==, 1);
  g_assert_cmpint (natter_message_get_message_id (natter_conversation_get_latest_message (c)), ==,
                   natter_message_get_message_id (first));
  g_assert_cmpint (natter_conversation_get_updated_time (c), ==, T0);

  /* Own messages and non-counted ones do not raise the count. */
  g_object_unref (add (fixture->store, outgoing ("UID-2", "bob", "hi", T0 + 1, NATTER_SENT_STATUS_SENT), NULL));
  g_assert_cmpuint (natter_conversation_get_unread_count (c), ==, 1);
  g_assert_cmpstr (natter_message_get_text (natter_conversation_get_latest_message (c)), ==, "hi");
}

static void
count_notify (GObject    *object,
              GParamSpec *pspec,
              gpointer    user_data)
{
  (*(guint *) user_data)++;
}

static void
test_shared_objects (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(NatterMessage) message = NULL;
  g_autoptr(NatterMessage) update = NULL;
  g_autoptr(NatterMessage) updated = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) messages = NULL;
  guint status_notified = 0;

  message = add (fixture->store, outgoing (NULL, "bob", "pending", T0, NATTER_SENT_STATUS_SENDING), NULL);
  g_signal_connect (message, "notify::sent-status", G_CALLBACK (count_notify), &status_notified);

  /* Reading the row again gives the same object. */
  messages = page (fixture->store, "bob", 0, 0, 20);
  g_assert_cmpuint (messages->len, ==, 1);
  g_assert_true (g_ptr_array_index (messages, 0) == message);

  /* A snapshot changed and written: the object everybody holds follows. */
  update = natter_message_new_full (natter_message_get_message_id (message), "UID-9",
                                    NATTER_CONVERSATION_PRIVATE, "bob", "alice", NATTER_OBJECT_TEXT,
                                    natter_message_get_content (message),
                                    NATTER_MESSAGE_DIRECTION_SEND, NATTER_SENT_STATUS_SENT,
                                    T0 + 5, T0, FALSE, 0, natter_message_get_client_msg_id (message),
                                    natter_message_get_flags (message));
  natter_store_update_message_async (fixture->store, update, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  updated = natter_store_update_message_finish (fixture->store, result, &error);
  g_assert_no_error (error);
  g_assert_true (updated == message);
  g_assert_cmpint (natter_message_get_sent_status (message), ==, NATTER_SENT_STATUS_SENT);
  g_assert_cmpstr (natter_message_get_message_uid (message), ==, "UID-9");
  g_assert_cmpint (natter_message_get_sent_time (message), ==, T0 + 5);
  g_assert_cmpuint (status_notified, ==, 1);
}

/* alice's group message "G-1" as a history answer gives it, read by @readers. */
static NatterMessage *
own_group_message (const char * const *readers)
{
  g_autoptr(JsonObject) content = natter_content_new_text ("read this");

  if (readers != NULL)
    {
      JsonObject *receipt = json_object_new ();
      JsonArray *read_by = json_array_new ();

      for (guint i = 0; readers[i] != NULL; i++)
        json_array_add_string_element (read_by, readers[i]);
      json_object_set_boolean_member (receipt, "requested", TRUE);
      json_object_set_array_member (receipt, "readBy", read_by);
      json_object_set_object_member (content, "receipt", receipt);
    }
  return natter_message_new_full (0, "G-1", NATTER_CONVERSATION_GROUP, "team", "alice", NATTER_OBJECT_TEXT,
                                  content, NATTER_MESSAGE_DIRECTION_SEND, NATTER_SENT_STATUS_SENT, T0, T0,
                                  FALSE, 0, NULL, NATTER_MESSAGE_FLAG_PERSISTED | NATTER_MESSAGE_FLAG_COUNTED);
}

static void
add_history (NatterStore   *store,
             NatterMessage *message)
{
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) stored = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  g_ptr_array_add (messages, message);
  natter_store_add_history_async (store, messages, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  stored = natter_store_add_history_finish (store, result, &error);
  g_assert_no_error (error);
  g_assert_nonnull (stored);
}

/* A message stored before anyone read it takes the readers a later
 * history or timeline answer gives (union, never fewer), and its object
 * follows: the row shows "Read by" (#16). */
static void
test_history_merges_readers (Fixture       *fixture,
                             gconstpointer  data)
{
  g_autoptr(NatterMessage) message = NULL;
  g_auto(GStrv) read_by = NULL;
  guint content_notified = 0;

  add_history (fixture->store, own_group_message (NULL));
  {
    g_autoptr(GAsyncResult) result = NULL;
    g_autoptr(GError) error = NULL;

    natter_store_get_message_by_uid_async (fixture->store, "G-1", NULL, test_store_result_cb, &result);
    test_wait_result (&result, 10);
    message = natter_store_get_message_finish (fixture->store, result, &error);
    g_assert_no_error (error);
    g_assert_nonnull (message);
  }
  read_by = natter_message_dup_read_by (message);
  g_assert_cmpuint (g_strv_length (read_by), ==, 0);
  g_clear_pointer (&read_by, g_strfreev);
  g_signal_connect (message, "notify::content", G_CALLBACK (count_notify), &content_notified);

  add_history (fixture->store, own_group_message ((const char * const[]) { "bob", NULL }));
  read_by = natter_message_dup_read_by (message);
  g_assert_nonnull (read_by);
  g_assert_cmpuint (g_strv_length (read_by), ==, 1);
  g_assert_cmpstr (read_by[0], ==, "bob");
  g_assert_true (natter_message_get_receipt_requested (message));
  g_assert_cmpuint (content_notified, >=, 1);
  g_assert_cmpstr (natter_message_get_text (message), ==, "read this");

  add_history (fixture->store, own_group_message ((const char * const[]) { "carol", "bob", NULL }));
  g_clear_pointer (&read_by, g_strfreev);
  read_by = natter_message_dup_read_by (message);
  g_assert_cmpuint (g_strv_length (read_by), ==, 2);
  g_assert_true (g_strv_contains ((const char * const *) read_by, "bob"));
  g_assert_true (g_strv_contains ((const char * const *) read_by, "carol"));

  /* Fewer given: nothing is taken away, nothing changes. */
  content_notified = 0;
  add_history (fixture->store, own_group_message ((const char * const[]) { "bob", NULL }));
  g_clear_pointer (&read_by, g_strfreev);
  read_by = natter_message_dup_read_by (message);
  g_assert_cmpuint (g_strv_length (read_by), ==, 2);
  g_assert_cmpuint (content_notified, ==, 0);
}

static void
test_conversation_summary (Fixture       *fixture,
                           gconstpointer  data)
{
  g_autoptr(GString) long_text = g_string_new (NULL);
  g_autoptr(GString) thumbnail = g_string_new (NULL);
  g_autoptr(JsonObject) image_content = NULL;
  g_autoptr(NatterMessage) sent = NULL;
  g_autoptr(NatterMessage) image = NULL;
  g_autoptr(NatterMessage) update = NULL;
  g_autoptr(NatterMessage) full = NULL;
  g_autoptr(NatterConversation) c = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *content = NULL;
  NatterMessage *latest;
  guint latest_notified = 0;

  /* A long text: the conversation keeps one line's worth. */
  for (int i = 0; i < 300; i++)
    g_string_append (long_text, "长文本 ");
  sent = add (fixture->store, outgoing (NULL, "bob", long_text->str, T0, NATTER_SENT_STATUS_SENDING), NULL);
  c = conversation (fixture->store, NATTER_CONVERSATION_PRIVATE, "bob");
  latest = natter_conversation_get_latest_message (c);
  g_assert_true (latest != sent);   /* its own small object */
  g_assert_cmpint (natter_message_get_message_id (latest), ==, natter_message_get_message_id (sent));
  g_assert_cmpint (natter_message_get_kind (latest), ==, NATTER_MESSAGE_KIND_TEXT);
  g_assert_cmpint (natter_message_get_direction (latest), ==, NATTER_MESSAGE_DIRECTION_SEND);
  g_assert_cmpint (g_utf8_strlen (natter_message_get_text (latest), -1), ==, 200);
  g_assert_true (g_str_has_prefix (long_text->str, natter_message_get_text (latest)));

  /* Its status follows (a new summary, notified): sending → sent. */
  g_signal_connect (c, "notify::latest-message", G_CALLBACK (count_notify), &latest_notified);
  update = natter_message_new_full (natter_message_get_message_id (sent), "UID-S1",
                                    NATTER_CONVERSATION_PRIVATE, "bob", "alice", NATTER_OBJECT_TEXT,
                                    natter_message_get_content (sent), NATTER_MESSAGE_DIRECTION_SEND,
                                    NATTER_SENT_STATUS_SENT, T0, T0, FALSE, 0,
                                    natter_message_get_client_msg_id (sent), natter_message_get_flags (sent));
  natter_store_update_message_async (fixture->store, update, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  g_object_unref (natter_store_update_message_finish (fixture->store, result, &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  g_assert_cmpuint (latest_notified, >=, 1);
  latest = natter_conversation_get_latest_message (c);
  g_assert_cmpint (natter_message_get_sent_status (latest), ==, NATTER_SENT_STATUS_SENT);
  g_assert_cmpstr (natter_message_get_message_uid (latest), ==, "UID-S1");

  /* An image: "Photo" needs no thumbnail, so the summary has none. */
  for (int i = 0; i < 20000; i++)
    g_string_append (thumbnail, "QUJD");
  image_content = natter_content_new_image (thumbnail->str, "http://127.0.0.1:1/media/app/abc");
  image = natter_message_new_full (0, "UID-I1", NATTER_CONVERSATION_PRIVATE, "bob", "bob", NATTER_OBJECT_IMAGE,
                                   image_content, NATTER_MESSAGE_DIRECTION_RECEIVE, NATTER_SENT_STATUS_RECEIVED,
                                   T0 + 1, T0 + 1, FALSE, 0, NULL,
                                   NATTER_MESSAGE_FLAG_PERSISTED | NATTER_MESSAGE_FLAG_COUNTED);
  g_object_unref (add (fixture->store, g_steal_pointer (&image), NULL));
  latest = natter_conversation_get_latest_message (c);
  g_assert_cmpint (natter_message_get_kind (latest), ==, NATTER_MESSAGE_KIND_IMAGE);
  content = natter_message_dup_content_string (latest);
  g_assert_cmpuint (strlen (content), <, 64);

  /* The full message on demand. */
  natter_store_get_message_async (fixture->store, natter_message_get_message_id (latest), NULL,
                                  test_store_result_cb, &result);
  test_wait_result (&result, 10);
  full = natter_store_get_message_finish (fixture->store, result, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (natter_message_get_image_uri (full), ==, "http://127.0.0.1:1/media/app/abc");
}

static void
test_conversation_order (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GPtrArray) groups = NULL;
  g_autoptr(JsonObject) content = natter_content_new_text ("group hello");
  const NatterConversationType group_only[] = { NATTER_CONVERSATION_GROUP };

  g_object_unref (add (fixture->store, incoming ("U1", "bob", "one", T0 + 100), NULL));
  g_object_unref (add (fixture->store, incoming ("U2", "carol", "two", T0 + 300), NULL));
  g_object_unref (add (fixture->store, incoming ("U3", "dave", "three", T0 + 200), NULL));
  g_object_unref (add (fixture->store,
                       natter_message_new_full (0, "U4", NATTER_CONVERSATION_GROUP, "team", "erin",
                                                NATTER_OBJECT_TEXT, content,
                                                NATTER_MESSAGE_DIRECTION_RECEIVE,
                                                NATTER_SENT_STATUS_RECEIVED, T0 + 50, T0, FALSE, 0,
                                                NULL, 3), NULL));

  WAIT_BOOLEAN (natter_store_set_conversation_flag_async, natter_store_set_conversation_flag_finish,
                fixture->store, NATTER_CONVERSATION_PRIVATE, "bob", NATTER_CONVERSATION_FIELD_PINNED, TRUE);

  all = conversations (fixture->store, NULL, 0);
  g_assert_cmpuint (all->len, ==, 4);
  /* Pinned first, then newest first. */
  g_assert_cmpstr (natter_conversation_get_target_id (g_ptr_array_index (all, 0)), ==, "bob");
  g_assert_true (natter_conversation_get_pinned (g_ptr_array_index (all, 0)));
  g_assert_cmpstr (natter_conversation_get_target_id (g_ptr_array_index (all, 1)), ==, "carol");
  g_assert_cmpstr (natter_conversation_get_target_id (g_ptr_array_index (all, 2)), ==, "dave");
  g_assert_cmpstr (natter_conversation_get_target_id (g_ptr_array_index (all, 3)), ==, "team");

  groups = conversations (fixture->store, group_only, 1);
  g_assert_cmpuint (groups->len, ==, 1);
  g_assert_cmpint (natter_conversation_get_conversation_type (g_ptr_array_index (groups, 0)), ==,
                   NATTER_CONVERSATION_GROUP);

  /* Hidden until the next message. */
  WAIT_BOOLEAN (natter_store_set_conversation_flag_async, natter_store_set_conversation_flag_finish,
                fixture->store, NATTER_CONVERSATION_PRIVATE, "dave", NATTER_CONVERSATION_FIELD_HIDDEN, TRUE);
  g_ptr_array_unref (all);
  all = conversations (fixture->store, NULL, 0);
  g_assert_cmpuint (all->len, ==, 3);
  g_object_unref (add (fixture->store, incoming ("U5", "dave", "back", T0 + 400), NULL));
  g_ptr_array_unref (all);
  all = conversations (fixture->store, NULL, 0);
  g_assert_cmpuint (all->len, ==, 4);
  g_assert_cmpstr (natter_conversation_get_target_id (g_ptr_array_index (all, 1)), ==, "dave");
}

static void
test_paging (Fixture       *fixture,
             gconstpointer  data)
{
  g_autoptr(GPtrArray) newest = NULL;
  g_autoptr(GPtrArray) older = NULL;
  g_autoptr(GPtrArray) oldest = NULL;
  NatterMessage *cursor;

  /* 45 messages, three of them in the same millisecond. */
  for (int i = 0; i < 45; i++)
    {
      g_autofree char *uid = g_strdup_printf ("P-%02d", i);
      g_autofree char *text = g_strdup_printf ("message %d", i);
      gint64 t = T0 + (i >= 20 && i <= 22 ? 20 : i);

      g_object_unref (add (fixture->store, incoming (uid, "bob", text, t), NULL));
    }

  newest = page (fixture->store, "bob", 0, 0, 20);
  g_assert_cmpuint (newest->len, ==, 20);
  g_assert_cmpstr (natter_message_get_text (g_ptr_array_index (newest, 0)), ==, "message 25");
  g_assert_cmpstr (natter_message_get_text (g_ptr_array_index (newest, 19)), ==, "message 44");

  cursor = g_ptr_array_index (newest, 0);
  older = page (fixture->store, "bob", natter_message_get_sent_time (cursor),
                natter_message_get_message_id (cursor), 20);
  g_assert_cmpuint (older->len, ==, 20);
  g_assert_cmpstr (natter_message_get_text (g_ptr_array_index (older, 0)), ==, "message 5");
  g_assert_cmpstr (natter_message_get_text (g_ptr_array_index (older, 19)), ==, "message 24");

  cursor = g_ptr_array_index (older, 0);
  oldest = page (fixture->store, "bob", natter_message_get_sent_time (cursor),
                 natter_message_get_message_id (cursor), 20);
  g_assert_cmpuint (oldest->len, ==, 5);
  g_assert_cmpstr (natter_message_get_text (g_ptr_array_index (oldest, 0)), ==, "message 0");
}

static void
test_search (Fixture       *fixture,
             gconstpointer  data)
{
  g_autoptr(GPtrArray) found = NULL;

  g_object_unref (add (fixture->store, incoming ("S1", "bob", "Lunch tomorrow at noon?", T0), NULL));
  g_object_unref (add (fixture->store, incoming ("S2", "carol", "明天中午一起吃饭吗", T0 + 1), NULL));
  g_object_unref (add (fixture->store, incoming ("S3", "bob", "the release notes", T0 + 2), NULL));

  found = search (fixture->store, "lunch");
  g_assert_cmpuint (found->len, ==, 1);
  g_assert_cmpstr (natter_message_get_message_uid (g_ptr_array_index (found, 0)), ==, "S1");
  g_ptr_array_unref (found);

  /* Prefix of the last word while typing, case-insensitive. */
  found = search (fixture->store, "TOMORROW no");
  g_assert_cmpuint (found->len, ==, 1);
  g_ptr_array_unref (found);

  /* Chinese has no spaces: any run of characters matches. */
  found = search (fixture->store, "中午");
  g_assert_cmpuint (found->len, ==, 1);
  g_assert_cmpstr (natter_message_get_message_uid (g_ptr_array_index (found, 0)), ==, "S2");
  g_ptr_array_unref (found);
  found = search (fixture->store, "午饭");
  g_assert_cmpuint (found->len, ==, 0);
  g_ptr_array_unref (found);

  /* FTS syntax in what the user typed is just text. */
  found = search (fixture->store, "\"release\" OR NOT (");
  g_assert_cmpuint (found->len, ==, 0);
  g_ptr_array_unref (found);
  found = search (fixture->store, "  ");
  g_assert_cmpuint (found->len, ==, 0);
}

/* ----------------------------------------------------------- timelines */

/* A message of group "team" at @seq on its timeline, as natterd sends it. */
static NatterMessage *
group_message (const char *uid,
               guint64     seq,
               gint64      sent_time,
               gboolean    mentions_alice)
{
  Natter__Message proto = NATTER__MESSAGE__INIT;
  g_autofree char *content = g_strdup_printf ("{\"content\":\"seq %" G_GUINT64_FORMAT "\"%s}", seq,
                                              mentions_alice ? ",\"mentionedInfo\":{\"type\":2,"
                                                               "\"userIdList\":[\"alice\"]}" : "");
  g_autoptr(GError) error = NULL;
  NatterMessage *message;

  proto.message_uid = (char *) uid;
  proto.conversation_type = NATTER_CONVERSATION_GROUP;
  proto.target_id = (char *) "team";
  proto.sender_user_id = (char *) "bob";
  proto.object_name = (char *) NATTER_OBJECT_TEXT;
  proto.content = content;
  proto.sent_time = sent_time;
  proto.flags = NATTER_MESSAGE_FLAG_PERSISTED | NATTER_MESSAGE_FLAG_COUNTED;
  proto.timeline_seq = seq;
  message = natter_message_new_from_proto (&proto, "alice", FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (natter_message_get_timeline_seq (message), ==, seq);
  return message;
}

/* Stores @messages (NULL-terminated, taken) as held after @after through
 * @through; returns how many were new, *held the held position after. */
static guint
add_timeline (NatterStore *store,
              guint64      after,
              guint64      through,
              gboolean     skip,
              guint64     *held,
              ...)
{
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) added = NULL;
  NatterMessage *message;
  va_list ap;

  va_start (ap, held);
  while ((message = va_arg (ap, NatterMessage *)) != NULL)
    g_ptr_array_add (messages, message);
  va_end (ap);

  natter_store_add_timeline_async (store, NATTER_CONVERSATION_GROUP, "team", messages, after, through, skip,
                                   NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  added = natter_store_add_timeline_finish (store, result, held, &error);
  g_assert_no_error (error);
  return added->len;
}

/* Held position, exactly once, and unread counts on a group timeline. */
static void
test_timeline (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr(NatterConversation) c = NULL;
  g_autoptr(GPtrArray) stored = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  NatterTimelineState state = { .latest_seq = 6, .read_seq = 2, .unread_count = 4, .mentioned = TRUE };
  guint64 held = 0;

  /* Live 1, then live 4: held stays at 1 (2 and 3 are missing). */
  g_assert_cmpuint (add_timeline (fixture->store, 0, 1, FALSE, &held, group_message ("G1", 1, T0 + 1, FALSE),
                                  NULL), ==, 1);
  g_assert_cmpuint (held, ==, 1);
  g_assert_cmpuint (add_timeline (fixture->store, 3, 4, FALSE, &held, group_message ("G4", 4, T0 + 4, TRUE),
                                  NULL), ==, 1);
  g_assert_cmpuint (held, ==, 1);
  c = conversation (fixture->store, NATTER_CONVERSATION_GROUP, "team");
  g_assert_cmpuint (natter_conversation_get_unread_count (c), ==, 2);
  g_assert_cmpuint (natter_conversation_get_mention_count (c), ==, 1);

  /* The gap fetched (4 with it again): held moves over 4 too, 4 is not
   * stored twice. */
  g_assert_cmpuint (add_timeline (fixture->store, 1, 4, FALSE, &held, group_message ("G2", 2, T0 + 2, FALSE),
                                  group_message ("G3", 3, T0 + 3, FALSE), group_message ("G4", 4, T0 + 4, TRUE),
                                  NULL), ==, 2);
  g_assert_cmpuint (held, ==, 4);
  g_assert_cmpuint (natter_conversation_get_unread_count (c), ==, 4);
  g_assert_cmpuint (add_timeline (fixture->store, 1, 4, FALSE, &held, group_message ("G2", 2, T0 + 2, FALSE),
                                  NULL), ==, 0);
  g_assert_cmpuint (natter_conversation_get_unread_count (c), ==, 4);
  natter_store_get_messages_async (fixture->store, NATTER_CONVERSATION_GROUP, "team", 0, 0, 50, NULL,
                                   test_store_result_cb, &result);
  stored = natter_store_get_messages_finish (fixture->store, test_wait_result (&result, 10), &error);
  g_assert_no_error (error);
  g_clear_object (&result);
  g_assert_cmpuint (stored->len, ==, 4);

  /* A range after a gap without @skip does not move held; with it, it does. */
  g_assert_cmpuint (add_timeline (fixture->store, 10, 12, FALSE, &held, NULL), ==, 0);
  g_assert_cmpuint (held, ==, 4);

  /* The server's count: 4 unread (read up to 2) through 6, "@" marked. */
  natter_store_apply_timeline_state_async (fixture->store, NATTER_CONVERSATION_GROUP, "team", &state, NULL,
                                           test_store_result_cb, &result);
  test_wait_result (&result, 10);
  g_assert_true (natter_store_apply_timeline_state_finish (fixture->store, result, &held, &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  g_assert_cmpuint (held, ==, 4);
  g_assert_cmpuint (natter_conversation_get_unread_count (c), ==, 4);
  g_assert_cmpuint (natter_conversation_get_mention_count (c), ==, 1);

  /* 5 and 6 fetched after it: in the server's count already. 7 live: news. */
  g_assert_cmpuint (add_timeline (fixture->store, 4, 6, TRUE, &held, group_message ("G5", 5, T0 + 5, FALSE),
                                  group_message ("G6", 6, T0 + 6, FALSE), NULL), ==, 2);
  g_assert_cmpuint (held, ==, 6);
  g_assert_cmpuint (natter_conversation_get_unread_count (c), ==, 4);
  g_assert_cmpuint (add_timeline (fixture->store, 6, 7, FALSE, &held, group_message ("G7", 7, T0 + 7, FALSE),
                                  NULL), ==, 1);
  g_assert_cmpuint (held, ==, 7);
  g_assert_cmpuint (natter_conversation_get_unread_count (c), ==, 5);

  /* The newest 200 of 300 missed: held skips to 300. */
  g_assert_cmpuint (add_timeline (fixture->store, 100, 300, TRUE, &held, NULL), ==, 0);
  g_assert_cmpuint (held, ==, 300);

  /* Read here up to 7: the read position goes with the clear. */
  natter_store_clear_unread_async (fixture->store, NATTER_CONVERSATION_GROUP, "team", T0 + 7, NULL,
                                   test_store_result_cb, &result);
  test_wait_result (&result, 10);
  g_assert_true (natter_store_clear_unread_finish (fixture->store, result, &error));
  g_assert_cmpuint (natter_store_clear_unread_get_read_seq (result), ==, 7);
  g_assert_cmpuint (natter_conversation_get_unread_count (c), ==, 0);
  g_assert_cmpuint (natter_conversation_get_mention_count (c), ==, 0);
  g_clear_object (&result);

  /* A sync answered before the server had that read: its count is stale. */
  state.latest_seq = 7;
  natter_store_apply_timeline_state_async (fixture->store, NATTER_CONVERSATION_GROUP, "team", &state, NULL,
                                           test_store_result_cb, &result);
  test_wait_result (&result, 10);
  g_assert_true (natter_store_apply_timeline_state_finish (fixture->store, result, &held, &error));
  g_assert_cmpuint (natter_conversation_get_unread_count (c), ==, 0);
  g_assert_cmpuint (natter_conversation_get_mention_count (c), ==, 0);
}

static void
test_read_marks (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autoptr(NatterConversation) c = NULL;
  g_autoptr(NatterMessage) mine = NULL;

  mine = add (fixture->store, outgoing ("R0", "bob", "mine", T0, NATTER_SENT_STATUS_SENT), NULL);
  g_object_unref (add (fixture->store, incoming ("R1", "bob", "a", T0 + 10), NULL));
  g_object_unref (add (fixture->store, incoming ("R2", "bob", "b", T0 + 20), NULL));
  g_object_unref (add (fixture->store, incoming ("R3", "bob", "c", T0 + 30), NULL));
  c = conversation (fixture->store, NATTER_CONVERSATION_PRIVATE, "bob");
  g_assert_cmpuint (natter_conversation_get_unread_count (c), ==, 3);

  /* Another device read up to the second message: one stays unread. */
  WAIT_BOOLEAN (natter_store_clear_unread_async, natter_store_clear_unread_finish,
                fixture->store, NATTER_CONVERSATION_PRIVATE, "bob", T0 + 20);
  g_assert_cmpuint (natter_conversation_get_unread_count (c), ==, 1);

  /* An older read mark afterwards changes nothing. */
  WAIT_BOOLEAN (natter_store_clear_unread_async, natter_store_clear_unread_finish,
                fixture->store, NATTER_CONVERSATION_PRIVATE, "bob", T0 + 5);
  g_assert_cmpuint (natter_conversation_get_unread_count (c), ==, 1);

  /* A message older than the read mark (offline replay) is not unread. */
  g_object_unref (add (fixture->store, incoming ("R4", "bob", "late", T0 + 15), NULL));
  g_assert_cmpuint (natter_conversation_get_unread_count (c), ==, 1);

  /* The peer read our message. */
  WAIT_BOOLEAN (natter_store_mark_read_async, natter_store_mark_read_finish,
                fixture->store, NATTER_CONVERSATION_PRIVATE, "bob", T0 + 1);
  g_assert_cmpint (natter_message_get_sent_status (mine), ==, NATTER_SENT_STATUS_READ);
}

static void
test_recall (Fixture       *fixture,
             gconstpointer  data)
{
  g_autoptr(NatterMessage) message = NULL;
  g_autoptr(NatterMessage) recalled = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) found = NULL;

  message = add (fixture->store, incoming ("C1", "bob", "oops wrong chat", T0), NULL);
  natter_store_recall_async (fixture->store, "C1", "bob", T0 + 60, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  recalled = natter_store_get_message_finish (fixture->store, result, &error);
  g_assert_no_error (error);
  g_assert_true (recalled == message);
  g_assert_cmpint (natter_message_get_kind (message), ==, NATTER_MESSAGE_KIND_RECALLED);
  g_assert_cmpstr (natter_message_get_recalled_object_name (message), ==, NATTER_OBJECT_TEXT);
  g_assert_cmpstr (natter_message_get_recall_operator_id (message), ==, "bob");
  g_assert_cmpint (natter_message_get_recall_time (message), ==, T0 + 60);

  /* Its text is gone from search too. */
  found = search (fixture->store, "oops");
  g_assert_cmpuint (found->len, ==, 0);
}

static void
test_clear_delete (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(NatterConversation) c = NULL;
  g_autoptr(GPtrArray) messages = NULL;
  g_autoptr(GPtrArray) found = NULL;

  g_object_unref (add (fixture->store, incoming ("D1", "bob", "keep the chat", T0), NULL));
  g_object_unref (add (fixture->store, incoming ("D2", "carol", "delete it all", T0), NULL));

  WAIT_BOOLEAN (natter_store_clear_messages_async, natter_store_clear_messages_finish,
                fixture->store, NATTER_CONVERSATION_PRIVATE, "bob");
  messages = page (fixture->store, "bob", 0, 0, 20);
  g_assert_cmpuint (messages->len, ==, 0);
  c = conversation (fixture->store, NATTER_CONVERSATION_PRIVATE, "bob");
  g_assert_nonnull (c);
  g_assert_null (natter_conversation_get_latest_message (c));
  g_assert_cmpuint (natter_conversation_get_unread_count (c), ==, 0);

  WAIT_BOOLEAN (natter_store_delete_conversation_async, natter_store_delete_conversation_finish,
                fixture->store, NATTER_CONVERSATION_PRIVATE, "carol");
  g_clear_object (&c);
  c = conversation (fixture->store, NATTER_CONVERSATION_PRIVATE, "carol");
  g_assert_null (c);
  found = search (fixture->store, "delete");
  g_assert_cmpuint (found->len, ==, 0);
}

static void
test_outbox_unsupported (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) outbox = NULL;
  g_autoptr(JsonObject) sticker = json_object_new ();
  g_autoptr(NatterMessage) custom = NULL;
  g_autoptr(GPtrArray) messages = NULL;

  g_object_unref (add (fixture->store, outgoing (NULL, "bob", "one", T0, NATTER_SENT_STATUS_SENDING), NULL));
  g_object_unref (add (fixture->store, outgoing ("O2", "bob", "two", T0 + 1, NATTER_SENT_STATUS_SENT), NULL));
  g_object_unref (add (fixture->store, outgoing (NULL, "carol", "three", T0 + 2, NATTER_SENT_STATUS_SENDING), NULL));

  natter_store_get_outbox_async (fixture->store, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  outbox = natter_store_get_outbox_finish (fixture->store, result, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (outbox->len, ==, 2);
  g_assert_cmpstr (natter_message_get_text (g_ptr_array_index (outbox, 0)), ==, "one");
  g_assert_cmpstr (natter_message_get_text (g_ptr_array_index (outbox, 1)), ==, "three");

  /* An object name nobody knows is kept with its content. */
  json_object_set_string_member (sticker, "pack", "cats");
  custom = natter_message_new_full (0, "X1", NATTER_CONVERSATION_PRIVATE, "dave", "dave", "XX:Sticker",
                                    sticker, NATTER_MESSAGE_DIRECTION_RECEIVE,
                                    NATTER_SENT_STATUS_RECEIVED, T0, T0, FALSE, 0, NULL, 3);
  g_object_unref (add (fixture->store, g_steal_pointer (&custom), NULL));
  messages = page (fixture->store, "dave", 0, 0, 20);
  g_assert_cmpuint (messages->len, ==, 1);
  g_assert_cmpstr (natter_message_get_object_name (g_ptr_array_index (messages, 0)), ==, "XX:Sticker");
  g_assert_false (natter_message_is_supported (g_ptr_array_index (messages, 0)));
  g_assert_cmpstr (json_object_get_string_member (natter_message_get_content (g_ptr_array_index (messages, 0)),
                                                  "pack"), ==, "cats");
}

/* ------------------------------------------------------------ bulk import */

typedef struct {
  GPtrArray *changed;   /* "type:target" of each ::conversation-changed */
  guint added;
} Signals;

static void
on_conversation_changed (NatterStore        *store,
                         NatterConversation *conversation,
                         Signals            *signals)
{
  g_ptr_array_add (signals->changed, g_strdup (natter_conversation_get_target_id (conversation)));
}

static void
on_message_added (NatterStore   *store,
                  NatterMessage *message,
                  Signals       *signals)
{
  signals->added++;
}

static guint
import (NatterStore                 *store,
        const NatterImportedMessage *messages,
        gsize                        n_messages)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  guint n_stored = G_MAXUINT;

  natter_store_import_async (store, messages, n_messages, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  g_assert_true (natter_store_import_finish (store, result, &n_stored, &error));
  g_assert_no_error (error);
  return n_stored;
}

#define IMPORTED(uid, peer, sender, text_content, time, is_unread)                   \
  { .conversation_type = NATTER_CONVERSATION_PRIVATE, .target_id = (peer),           \
    .message_uid = (uid), .sender_user_id = (sender), .object_name = NATTER_OBJECT_TEXT, \
    .content = (text_content),                                                        \
    .direction = g_str_equal ((sender), "alice") ? NATTER_MESSAGE_DIRECTION_SEND         \
                                                 : NATTER_MESSAGE_DIRECTION_RECEIVE,     \
    .sent_status = g_str_equal ((sender), "alice") ? NATTER_SENT_STATUS_SENT             \
                                                   : NATTER_SENT_STATUS_RECEIVED,        \
    .sent_time = (time), .received_time = (time),                                     \
    .flags = NATTER_MESSAGE_FLAG_PERSISTED | NATTER_MESSAGE_FLAG_COUNTED, .unread = (is_unread) }

/* Many messages in one transaction, as history is stored: duplicates and
 * messages from before a local clear skipped, only those marked unread
 * counted, one ::conversation-changed per conversation and no
 * ::message-added; searchable at once, and after optimizing the index. */
static void
test_import (Fixture       *fixture,
             gconstpointer  data)
{
  g_autoptr(JsonObject) hello = natter_content_new_text ("hello");
  g_autoptr(JsonObject) coffee = natter_content_new_text ("imported coffee");
  g_autoptr(JsonObject) meeting = natter_content_new_text ("明天开会议");
  g_autoptr(JsonObject) sent = natter_content_new_text ("sent from the old client");
  g_autoptr(JsonObject) old = natter_content_new_text ("from before the clear");
  g_autoptr(JsonObject) late = natter_content_new_text ("after the clear");
  g_autoptr(JsonObject) reply = natter_content_new_text ("a reply");
  const NatterImportedMessage batch[] = {
    IMPORTED ("UID-1", "bob", "bob", hello, T0, TRUE),          /* stored already */
    IMPORTED ("IMP-1", "bob", "bob", coffee, T0 + 10, FALSE),
    IMPORTED ("IMP-2", "bob", "bob", meeting, T0 + 20, TRUE),
    IMPORTED ("IMP-3", "dave", "alice", sent, T0 + 15, TRUE),   /* own: never unread */
    IMPORTED ("IMP-4", "carol", "carol", old, T0 + 1, FALSE),   /* cleared */
    IMPORTED ("IMP-5", "carol", "carol", late, T0 + 30, FALSE),
    IMPORTED ("IMP-6", "dave", "dave", reply, T0 + 16, FALSE),
  };
  const NatterImportedMessage hidden[] = {
    IMPORTED ("IMP-7", "erin", "erin", reply, T0 + 40, FALSE),
  };
  const NatterImportedMessage shown[] = {
    IMPORTED ("IMP-8", "erin", "erin", reply, T0 + 41, TRUE),
  };
  g_autoptr(NatterMessage) first = NULL;
  g_autoptr(GPtrArray) changed = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) bob = NULL;
  g_autoptr(GPtrArray) found = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(NatterConversation) c = NULL;
  g_autoptr(NatterConversation) d = NULL;
  g_autoptr(NatterConversation) e = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  Signals signals = { changed, 0 };

  first = add (fixture->store, incoming ("UID-1", "bob", "hello", T0), NULL);
  g_object_unref (add (fixture->store, incoming ("C-1", "carol", "cleared", T0 + 5), NULL));
  WAIT_BOOLEAN (natter_store_clear_messages_async, natter_store_clear_messages_finish,
                fixture->store, NATTER_CONVERSATION_PRIVATE, "carol");
  WAIT_BOOLEAN (natter_store_set_conversation_flag_async, natter_store_set_conversation_flag_finish,
                fixture->store, NATTER_CONVERSATION_PRIVATE, "erin", NATTER_CONVERSATION_FIELD_HIDDEN, TRUE);

  g_signal_connect (fixture->store, "conversation-changed", G_CALLBACK (on_conversation_changed), &signals);
  g_signal_connect (fixture->store, "message-added", G_CALLBACK (on_message_added), &signals);

  g_assert_cmpuint (import (fixture->store, batch, G_N_ELEMENTS (batch)), ==, 5);
  g_assert_cmpuint (signals.added, ==, 0);
  g_assert_cmpuint (changed->len, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (changed, 0), ==, "bob");
  g_assert_cmpstr (g_ptr_array_index (changed, 1), ==, "dave");
  g_assert_cmpstr (g_ptr_array_index (changed, 2), ==, "carol");

  /* bob: the live message and the one imported unread. */
  c = conversation (fixture->store, NATTER_CONVERSATION_PRIVATE, "bob");
  g_assert_cmpuint (natter_conversation_get_unread_count (c), ==, 2);
  g_assert_cmpstr (natter_message_get_text (natter_conversation_get_latest_message (c)), ==, "明天开会议");
  g_assert_cmpint (natter_conversation_get_updated_time (c), ==, T0 + 20);
  bob = page (fixture->store, "bob", 0, 0, 20);
  g_assert_cmpuint (bob->len, ==, 3);
  g_assert_true (g_ptr_array_index (bob, 0) == first);
  g_assert_cmpstr (natter_message_get_message_uid (g_ptr_array_index (bob, 1)), ==, "IMP-1");
  g_assert_cmpstr (natter_message_get_message_uid (g_ptr_array_index (bob, 2)), ==, "IMP-2");
  g_assert_cmpint (natter_message_get_direction (g_ptr_array_index (bob, 2)), ==,
                   NATTER_MESSAGE_DIRECTION_RECEIVE);

  /* dave: the newest by time, whatever the order given; own never unread. */
  d = conversation (fixture->store, NATTER_CONVERSATION_PRIVATE, "dave");
  g_assert_cmpuint (natter_conversation_get_unread_count (d), ==, 0);
  g_assert_cmpstr (natter_message_get_text (natter_conversation_get_latest_message (d)), ==, "a reply");

  g_clear_pointer (&bob, g_ptr_array_unref);
  bob = page (fixture->store, "carol", 0, 0, 20);
  g_assert_cmpuint (bob->len, ==, 1);
  g_assert_cmpstr (natter_message_get_message_uid (g_ptr_array_index (bob, 0)), ==, "IMP-5");

  found = search (fixture->store, "会议");
  g_assert_cmpuint (found->len, ==, 1);
  g_assert_cmpstr (natter_message_get_message_uid (g_ptr_array_index (found, 0)), ==, "IMP-2");

  /* Again: nothing new, nothing changed. */
  g_ptr_array_set_size (changed, 0);
  g_assert_cmpuint (import (fixture->store, batch, G_N_ELEMENTS (batch)), ==, 0);
  g_assert_cmpuint (changed->len, ==, 0);

  /* A hidden conversation stays hidden, unless a message comes unread. */
  g_assert_cmpuint (import (fixture->store, hidden, 1), ==, 1);
  list = conversations (fixture->store, NULL, 0);
  g_assert_cmpuint (list->len, ==, 3);
  g_clear_pointer (&list, g_ptr_array_unref);
  g_assert_cmpuint (import (fixture->store, shown, 1), ==, 1);
  e = conversation (fixture->store, NATTER_CONVERSATION_PRIVATE, "erin");
  g_assert_cmpuint (natter_conversation_get_unread_count (e), ==, 1);
  list = conversations (fixture->store, NULL, 0);
  g_assert_cmpuint (list->len, ==, 4);

  natter_store_optimize_async (fixture->store, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  g_assert_true (natter_store_optimize_finish (fixture->store, result, &error));
  g_assert_no_error (error);
  g_clear_pointer (&found, g_ptr_array_unref);
  found = search (fixture->store, "coff");
  g_assert_cmpuint (found->len, ==, 1);
  g_assert_cmpstr (natter_message_get_message_uid (g_ptr_array_index (found, 0)), ==, "IMP-1");

  g_signal_handlers_disconnect_by_data (fixture->store, &signals);
}

/* Only the worker thread touches the connection: a call from any other
 * thread aborts instead of racing it. */
static void
test_connection_on_worker_only (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(NatterStore) store = natter_store_new (":memory:");
      g_autoptr(GAsyncResult) result = NULL;

      natter_store_open_async (store, NULL, test_store_result_cb, &result);
      test_wait_result (&result, 10);
      g_assert_true (natter_store_open_finish (store, result, NULL));
      natter_store_prepare (store, "SELECT 1", NULL);
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*worker == g_thread_self*");
}

/* ------------------------------------------------------------- migrations */

static void
load_dump (const char *path,
           const char *dump_name,
           const char *extra_sql)
{
  g_autofree char *dump_path = g_test_build_filename (G_TEST_DIST, "core", "data", dump_name, NULL);
  g_autofree char *dump = NULL;
  g_autoptr(GError) error = NULL;
  sqlite3 *db = NULL;

  g_file_get_contents (dump_path, &dump, NULL, &error);
  g_assert_no_error (error);

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, dump, NULL, NULL, NULL), ==, SQLITE_OK);
  if (extra_sql != NULL)
    g_assert_cmpint (sqlite3_exec (db, extra_sql, NULL, NULL, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_close (db), ==, SQLITE_OK);
}

static int
user_version (const char *path)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  int version;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "PRAGMA user_version", -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  version = sqlite3_column_int (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return version;
}

typedef struct {
  char *dir;
  char *path;
} DumpFixture;

static void
dump_set_up (DumpFixture   *fixture,
             gconstpointer  data)
{
  fixture->dir = g_dir_make_tmp ("natter-migrate-XXXXXX", NULL);
  fixture->path = g_build_filename (fixture->dir, "natter.db", NULL);
}

static void
dump_tear_down (DumpFixture   *fixture,
                gconstpointer  data)
{
  remove_dir (fixture->dir);
  g_free (fixture->path);
  g_free (fixture->dir);
}

static void
test_migrate_v1 (DumpFixture   *fixture,
                 gconstpointer  data)
{
  g_autoptr(NatterStore) store = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(GPtrArray) found = NULL;
  g_autoptr(GPtrArray) outbox = NULL;
  g_autoptr(GPtrArray) messages = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *value = NULL;
  NatterConversation *bob, *team;

  load_dump (fixture->path, "store-v1.sql", NULL);
  g_assert_cmpint (user_version (fixture->path), ==, 1);

  store = natter_store_new (fixture->path);
  natter_store_set_own_user_id (store, "alice");

  list = conversations (store, NULL, 0);
  g_assert_cmpint (user_version (fixture->path), ==, NATTER_STORE_SCHEMA_VERSION);
  g_assert_cmpuint (list->len, ==, 2);
  team = g_ptr_array_index (list, 0);   /* pinned */
  bob = g_ptr_array_index (list, 1);
  g_assert_cmpstr (natter_conversation_get_target_id (team), ==, "team");
  g_assert_cmpstr (natter_conversation_get_draft (team), ==, "half a thought");
  g_assert_cmpstr (natter_conversation_get_title (bob), ==, "Bob Builder");
  g_assert_cmpuint (natter_conversation_get_unread_count (bob), ==, 1);
  g_assert_cmpuint (natter_conversation_get_mention_count (bob), ==, 0);

  /* Version 2 indexed what version 1 stored, Chinese included. */
  found = search (store, "中午");
  g_assert_cmpuint (found->len, ==, 1);
  g_assert_cmpstr (natter_message_get_message_uid (g_ptr_array_index (found, 0)), ==, "AAAA-AAAA-AAAA-0002");
  g_assert_true (natter_message_get_offline (g_ptr_array_index (found, 0)));

  natter_store_get_outbox_async (store, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  outbox = natter_store_get_outbox_finish (store, result, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (outbox->len, ==, 1);
  g_assert_cmpstr (natter_message_get_client_msg_id (g_ptr_array_index (outbox, 0)), ==, "c3");

  g_clear_object (&result);
  natter_store_get_value_async (store, "last-seq", NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  value = natter_store_get_value_finish (store, result, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (value, ==, "7");
  g_clear_object (&result);

  /* The message with an unknown object name survived the migration. */
  natter_store_get_messages_async (store, NATTER_CONVERSATION_GROUP, "team", 0, 0, 20, NULL,
                                   test_store_result_cb, &result);
  test_wait_result (&result, 10);
  messages = natter_store_get_messages_finish (store, result, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (messages->len, ==, 1);
  g_assert_cmpstr (natter_message_get_object_name (g_ptr_array_index (messages, 0)), ==, "XX:Sticker");
  g_clear_object (&result);

  /* Version 3: no profile was fetched yet, so both conversations want one;
   * once fetched, the group has its title and nobody is stale. */
  {
    g_auto(GStrv) users = NULL;
    g_auto(GStrv) groups = NULL;
    g_autoptr(GPtrArray) group_profiles = g_ptr_array_new_with_free_func ((GDestroyNotify) natter_profile_free);
    g_autoptr(GPtrArray) user_profiles = g_ptr_array_new_with_free_func ((GDestroyNotify) natter_profile_free);
    g_autoptr(GPtrArray) again = NULL;

    natter_store_get_stale_profiles_async (store, 1000, 10, NULL, test_store_result_cb, &result);
    test_wait_result (&result, 10);
    g_assert_true (natter_store_get_stale_profiles_finish (store, result, &users, &groups, &error));
    g_assert_no_error (error);
    g_clear_object (&result);
    g_assert_true (g_strv_contains ((const char * const *) users, "bob"));
    g_assert_true (g_strv_contains ((const char * const *) groups, "team"));
    g_clear_pointer (&users, g_strfreev);
    g_clear_pointer (&groups, g_strfreev);

    g_ptr_array_add (group_profiles, natter_profile_new ("team", "The Team", NULL, 3));
    g_ptr_array_add (user_profiles, natter_profile_new ("bob", "Bob Builder", NULL, 0));
    natter_store_set_profiles_async (store, user_profiles, group_profiles, 2000, NULL, test_store_result_cb, &result);
    test_wait_result (&result, 10);
    g_assert_true (natter_store_set_profiles_finish (store, result, &error));
    g_assert_no_error (error);
    g_clear_object (&result);
    g_assert_cmpstr (natter_conversation_get_title (team), ==, "The Team");

    natter_store_get_stale_profiles_async (store, 1000, 10, NULL, test_store_result_cb, &result);
    test_wait_result (&result, 10);
    g_assert_true (natter_store_get_stale_profiles_finish (store, result, &users, &groups, &error));
    g_clear_object (&result);
    g_assert_cmpuint (g_strv_length (users) + g_strv_length (groups), ==, 0);
    again = conversations (store, NULL, 0);
    g_assert_cmpuint (again->len, ==, 2);
  }
}

/* A version-2 profile keeps what version 2 added: mention counts, the read
 * mark (older messages arriving late stay read), the cleared mark (a replay
 * of a cleared message is not stored again) and its search index (not built
 * twice). */
static void
test_migrate_v2 (DumpFixture   *fixture,
                 gconstpointer  data)
{
  g_autoptr(NatterStore) store = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(GPtrArray) found = NULL;
  g_autoptr(NatterMessage) late = NULL;
  g_autoptr(NatterMessage) cleared = NULL;
  g_autoptr(NatterMessage) fresh = NULL;
  g_autoptr(GPtrArray) messages = NULL;
  NatterConversation *bob, *team;
  gboolean added = TRUE;

  load_dump (fixture->path, "store-v2.sql", NULL);
  g_assert_cmpint (user_version (fixture->path), ==, 2);

  store = natter_store_new (fixture->path);
  natter_store_set_own_user_id (store, "alice");
  list = conversations (store, NULL, 0);
  g_assert_cmpint (user_version (fixture->path), ==, NATTER_STORE_SCHEMA_VERSION);
  g_assert_cmpuint (list->len, ==, 2);
  team = g_ptr_array_index (list, 0);   /* pinned */
  bob = g_ptr_array_index (list, 1);
  g_assert_cmpstr (natter_conversation_get_target_id (team), ==, "team");
  g_assert_cmpuint (natter_conversation_get_mention_count (team), ==, 1);
  g_assert_cmpuint (natter_conversation_get_unread_count (team), ==, 1);
  g_assert_cmpstr (natter_conversation_get_title (bob), ==, "Bob Builder");
  g_assert_cmpuint (natter_conversation_get_unread_count (bob), ==, 1);

  /* Version 2's index, once each. */
  found = search (store, "中午");
  g_assert_cmpuint (found->len, ==, 1);
  g_assert_cmpstr (natter_message_get_message_uid (g_ptr_array_index (found, 0)), ==, "BBBB-BBBB-BBBB-0002");
  g_clear_pointer (&found, g_ptr_array_unref);
  found = search (store, "周报");
  g_assert_cmpuint (found->len, ==, 1);
  g_clear_pointer (&found, g_ptr_array_unref);

  /* Read up to 1700000002500: a late older message does not count. */
  late = add (store, incoming ("BBBB-BBBB-BBBB-0005", "bob", "sent earlier, arrived late", 1700000002000),
              &added);
  g_assert_true (added);
  g_assert_cmpuint (natter_conversation_get_unread_count (bob), ==, 1);
  fresh = add (store, incoming ("BBBB-BBBB-BBBB-0006", "bob", "new", 1700000004000), &added);
  g_assert_true (added);
  g_assert_cmpuint (natter_conversation_get_unread_count (bob), ==, 2);

  /* Cleared at 1700000000500: a replay of what was cleared stays away. */
  cleared = add (store, incoming ("BBBB-BBBB-BBBB-0001", "bob", "cleared long ago", 1700000000000), &added);
  g_assert_false (added);
  messages = page (store, "bob", 0, 0, 20);
  g_assert_cmpuint (messages->len, ==, 4);
  for (guint i = 0; i < messages->len; i++)
    g_assert_cmpstr (natter_message_get_message_uid (g_ptr_array_index (messages, i)), !=, "BBBB-BBBB-BBBB-0001");

  /* Version 4: the group holds its timeline from the start; a new message
   * counts on top of what version 2 counted. */
  {
    guint64 held = 99;

    g_assert_cmpuint (add_timeline (store, 0, 1, FALSE, &held, group_message ("BBBB-BBBB-BBBB-0010", 1,
                                                                              1700000005000, FALSE), NULL),
                      ==, 1);
    g_assert_cmpuint (held, ==, 1);
    g_assert_cmpuint (natter_conversation_get_unread_count (team), ==, 2);
    g_assert_cmpuint (natter_conversation_get_mention_count (team), ==, 1);
  }
}

static void
test_migrate_failure_rolls_back (DumpFixture   *fixture,
                                 gconstpointer  data)
{
  g_autoptr(NatterStore) store = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  /* Something in the way of version 2 (a table by the name it needs): the
   * migration fails, is rolled back, and the file stays a good version 1. */
  load_dump (fixture->path, "store-v1.sql", "CREATE TABLE message_search (x);");

  g_test_expect_message ("natter", G_LOG_LEVEL_WARNING, "*Migrating*version 2*");
  store = natter_store_new (fixture->path);
  natter_store_open_async (store, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  g_assert_false (natter_store_open_finish (store, result, &error));
  g_assert_error (error, NATTER_STORE_ERROR, NATTER_STORE_ERROR_OPEN);
  g_test_assert_expected_messages ();
  g_clear_object (&store);

  g_assert_cmpint (user_version (fixture->path), ==, 1);
  {
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;

    g_assert_cmpint (sqlite3_open (fixture->path, &db), ==, SQLITE_OK);
    g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT COUNT (*) FROM messages", -1, &stmt, NULL), ==, SQLITE_OK);
    g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
    g_assert_cmpint (sqlite3_column_int (stmt, 0), ==, 4);
    sqlite3_finalize (stmt);
    /* No half-done version 2: the column it adds is not there. */
    g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT mention_count FROM conversations", -1, &stmt, NULL),
                     ==, SQLITE_ERROR);
    sqlite3_close (db);
  }
}

static void
test_too_new (DumpFixture   *fixture,
              gconstpointer  data)
{
  g_autoptr(NatterStore) store = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  load_dump (fixture->path, "store-v1.sql", "PRAGMA user_version = 99;");

  g_test_expect_message ("natter", G_LOG_LEVEL_WARNING, "*schema version 99*");
  store = natter_store_new (fixture->path);
  natter_store_open_async (store, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  g_assert_false (natter_store_open_finish (store, result, &error));
  g_assert_error (error, NATTER_STORE_ERROR, NATTER_STORE_ERROR_TOO_NEW);
  g_test_assert_expected_messages ();

  /* Every later call reports it too, and nothing was changed. */
  g_clear_error (&error);
  g_clear_object (&result);
  natter_store_get_value_async (store, "user-id", NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  g_assert_null (natter_store_get_value_finish (store, result, &error));
  g_assert_error (error, NATTER_STORE_ERROR, NATTER_STORE_ERROR_TOO_NEW);
  g_clear_object (&store);
  g_assert_cmpint (user_version (fixture->path), ==, 99);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/store/open-wal", Fixture, NULL, fixture_set_up, test_open_wal, fixture_tear_down);
  g_test_add ("/store/synced-commits", Fixture, NULL, fixture_set_up, test_synced_commits,
              fixture_tear_down);
  g_test_add ("/store/completes-on-owner-thread", Fixture, NULL, fixture_set_up,
              test_completes_on_owner_thread, fixture_tear_down);
  g_test_add ("/store/add-dedupe-unread", Fixture, NULL, fixture_set_up, test_add_dedupe_unread,
              fixture_tear_down);
  g_test_add ("/store/shared-objects", Fixture, NULL, fixture_set_up, test_shared_objects,
              fixture_tear_down);
  g_test_add ("/store/history-merges-readers", Fixture, NULL, fixture_set_up, test_history_merges_readers,
              fixture_tear_down);
  g_test_add ("/store/conversation-summary", Fixture, NULL, fixture_set_up, test_conversation_summary,
              fixture_tear_down);
  g_test_add ("/store/conversation-order", Fixture, NULL, fixture_set_up, test_conversation_order,
              fixture_tear_down);
  g_test_add ("/store/paging", Fixture, NULL, fixture_set_up, test_paging, fixture_tear_down);
  g_test_add ("/store/search", Fixture, NULL, fixture_set_up, test_search, fixture_tear_down);
  g_test_add ("/store/read-marks", Fixture, NULL, fixture_set_up, test_read_marks, fixture_tear_down);
  g_test_add ("/store/timeline", Fixture, NULL, fixture_set_up, test_timeline, fixture_tear_down);
  g_test_add ("/store/recall", Fixture, NULL, fixture_set_up, test_recall, fixture_tear_down);
  g_test_add ("/store/clear-delete", Fixture, NULL, fixture_set_up, test_clear_delete, fixture_tear_down);
  g_test_add ("/store/outbox-unsupported", Fixture, NULL, fixture_set_up, test_outbox_unsupported,
              fixture_tear_down);
  g_test_add ("/store/import", Fixture, NULL, fixture_set_up, test_import, fixture_tear_down);
  g_test_add_func ("/store/connection-on-worker-only", test_connection_on_worker_only);
  g_test_add ("/store/migrate/v1", DumpFixture, NULL, dump_set_up, test_migrate_v1, dump_tear_down);
  g_test_add ("/store/migrate/v2", DumpFixture, NULL, dump_set_up, test_migrate_v2, dump_tear_down);
  g_test_add ("/store/migrate/failure-rolls-back", DumpFixture, NULL, dump_set_up,
              test_migrate_failure_rolls_back, dump_tear_down);
  g_test_add ("/store/migrate/too-new", DumpFixture, NULL, dump_set_up, test_too_new, dump_tear_down);

  return g_test_run ();
}
