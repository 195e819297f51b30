/* test-models.c — NatterMessageList and NatterConversationList on a local
 * store (no server: the client stays disconnected)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter.h"
#include "natter-store-private.h"
#include "test-helpers.h"

#define T0 G_GINT64_CONSTANT (1700000000000)

typedef struct {
  guint position;
  guint removed;
  guint added;
  guint calls;
} Changes;

static void
items_changed_cb (GListModel *model,
                  guint       position,
                  guint       removed,
                  guint       added,
                  Changes    *changes)
{
  changes->position = position;
  changes->removed = removed;
  changes->added = added;
  changes->calls++;
}

static NatterMessage *
insert (NatterClient           *client,
        NatterConversationType  type,
        const char             *target,
        const char             *sender,
        const char             *text,
        gint64                  sent_time)
{
  g_autoptr(JsonObject) content = natter_content_new_text (text);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  NatterMessage *message;

  natter_client_insert_local_message_async (client, type, target, sender, NATTER_OBJECT_TEXT, content,
                                            g_strcmp0 (sender, "me") == 0 ? NATTER_MESSAGE_DIRECTION_SEND
                                                                           : NATTER_MESSAGE_DIRECTION_RECEIVE,
                                            sent_time, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  message = natter_client_insert_local_message_finish (client, result, &error);
  g_assert_no_error (error);
  return message;
}

static gboolean
message_list_idle (gpointer data)
{
  return !natter_message_list_get_loading (data);
}

static void
test_message_list (void)
{
  g_autoptr(NatterClient) client = natter_client_new ("http://127.0.0.1:1", "app", NULL);
  g_autoptr(NatterMessageList) list = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterMessage) live = NULL;
  Changes changes = { 0 };
  guint added;

  for (int i = 0; i < 25; i++)
    {
      g_autofree char *text = g_strdup_printf ("m%02d", i);
      g_object_unref (insert (client, NATTER_CONVERSATION_PRIVATE, "bob", i % 2 ? "me" : "bob", text, T0 + i));
    }
  /* Another conversation's messages stay out. */
  g_object_unref (insert (client, NATTER_CONVERSATION_PRIVATE, "carol", "carol", "not here", T0 + 100));

  list = natter_message_list_new (client, NATTER_CONVERSATION_PRIVATE, "bob");
  g_assert_true (g_list_model_get_item_type (G_LIST_MODEL (list)) == NATTER_TYPE_MESSAGE);
  g_signal_connect (list, "items-changed", G_CALLBACK (items_changed_cb), &changes);
  test_wait_until (message_list_idle, list, 10, "the first page");
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, NATTER_MESSAGE_LIST_PAGE_SIZE);
  /* a page is one change: a list view lays its rows out once */
  g_assert_cmpuint (changes.calls, ==, 1);
  g_assert_cmpuint (changes.added, ==, NATTER_MESSAGE_LIST_PAGE_SIZE);
  changes.calls = 0;
  {
    g_autoptr(NatterMessage) first = g_list_model_get_item (G_LIST_MODEL (list), 0);
    g_autoptr(NatterMessage) last = g_list_model_get_item (G_LIST_MODEL (list), 19);

    g_assert_cmpstr (natter_message_get_text (first), ==, "m05");
    g_assert_cmpstr (natter_message_get_text (last), ==, "m24");
  }

  /* Older: the 5 left, in front. */
  natter_message_list_load_older_async (list, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  added = natter_message_list_load_older_finish (list, result, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (added, ==, 5);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, 25);
  g_assert_cmpuint (changes.calls, ==, 1);
  g_assert_cmpuint (changes.position, ==, 0);
  g_assert_cmpuint (changes.added, ==, 5);
  g_clear_object (&result);

  /* Nothing older here (and no server to ask). */
  natter_message_list_load_older_async (list, NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  g_assert_cmpuint (natter_message_list_load_older_finish (list, result, &error), ==, 0);
  g_clear_object (&result);

  /* Live: appended at the end. */
  changes.calls = 0;
  live = insert (client, NATTER_CONVERSATION_PRIVATE, "bob", "bob", "just now", T0 + 50);
  g_assert_cmpuint (changes.calls, ==, 1);
  g_assert_cmpuint (changes.position, ==, 25);
  g_assert_cmpuint (changes.added, ==, 1);
  g_assert_cmpuint (natter_message_list_find (list, natter_message_get_message_id (live)), ==, 25);

  /* Recalling what is not here changes nothing. */
  changes.calls = 0;
  natter_store_recall_async (natter_client_get_store (client), "no-such-uid", "bob", T0, NULL,
                             test_store_result_cb, &result);
  test_wait_result (&result, 10);
  g_assert_null (natter_store_get_message_finish (natter_client_get_store (client), result, &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  g_assert_cmpuint (changes.calls, ==, 0);

  /* Clear: the list empties. */
  natter_store_clear_messages_async (natter_client_get_store (client), NATTER_CONVERSATION_PRIVATE, "bob",
                                     NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  g_assert_true (natter_store_clear_messages_finish (natter_client_get_store (client), result, &error));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, 0);
}

static gboolean
conversation_list_idle (gpointer data)
{
  return !natter_conversation_list_get_loading (data);
}

static void
test_conversation_list_live (void)
{
  g_autoptr(NatterClient) client = natter_client_new ("http://127.0.0.1:1", "app", NULL);
  g_autoptr(NatterConversationList) list = NULL;
  g_autoptr(NatterConversationList) groups = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  const NatterConversationType group_only[] = { NATTER_CONVERSATION_GROUP };
  Changes changes = { 0 };

  g_object_unref (insert (client, NATTER_CONVERSATION_PRIVATE, "bob", "bob", "a", T0 + 1));
  g_object_unref (insert (client, NATTER_CONVERSATION_GROUP, "team", "dave", "b", T0 + 2));

  list = natter_conversation_list_new (client);
  groups = natter_conversation_list_new (client);
  natter_conversation_list_set_types (groups, group_only, 1);
  test_wait_until (conversation_list_idle, list, 10, "the list");
  test_wait_until (conversation_list_idle, groups, 10, "the group list");
  /* short lists come whole */
  g_assert_true (natter_conversation_list_get_complete (list));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, 2);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (groups)), ==, 1);
  g_assert_cmpuint (natter_conversation_list_find (list, NATTER_CONVERSATION_GROUP, "team"), ==, 0);
  g_assert_cmpuint (natter_conversation_list_get_unread_total (list), ==, 0);

  /* A new message moves its conversation to the top: one change over both rows. */
  g_signal_connect (list, "items-changed", G_CALLBACK (items_changed_cb), &changes);
  g_object_unref (insert (client, NATTER_CONVERSATION_PRIVATE, "bob", "bob", "c", T0 + 3));
  g_assert_cmpuint (natter_conversation_list_find (list, NATTER_CONVERSATION_PRIVATE, "bob"), ==, 0);
  g_assert_cmpuint (changes.calls, ==, 1);
  g_assert_cmpuint (changes.position, ==, 0);
  g_assert_cmpuint (changes.removed, ==, 2);
  g_assert_cmpuint (changes.added, ==, 2);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (groups)), ==, 1);

  /* New conversations appear in the right filtered lists only. */
  g_object_unref (insert (client, NATTER_CONVERSATION_PRIVATE, "erin", "erin", "d", T0 + 4));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, 3);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (groups)), ==, 1);

  /* A draft keeps its conversation; deleting removes it. */
  natter_store_delete_conversation_async (natter_client_get_store (client), NATTER_CONVERSATION_GROUP,
                                          "team", NULL, test_store_result_cb, &result);
  test_wait_result (&result, 10);
  g_assert_true (natter_store_delete_conversation_finish (natter_client_get_store (client), result, &error));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, 2);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (groups)), ==, 0);
}

/* What a list view sees: a copy updated only from items-changed, reading
 * the model at the positions each signal names, at the time it is emitted.
 * After every signal it must equal the model. */
typedef struct {
  GListModel *model;
  GPtrArray *items;
  guint calls;
  guint position;
  guint removed;
  guint added;
} Shadow;

static void
shadow_changed_cb (GListModel *model,
                   guint       position,
                   guint       removed,
                   guint       added,
                   Shadow     *shadow)
{
  guint n = g_list_model_get_n_items (model);

  shadow->calls++;
  shadow->position = position;
  shadow->removed = removed;
  shadow->added = added;

  g_assert_cmpuint (position + removed, <=, shadow->items->len);
  g_ptr_array_remove_range (shadow->items, position, removed);
  for (guint i = 0; i < added; i++)
    {
      gpointer item = g_list_model_get_item (model, position + i);

      g_assert_nonnull (item);
      g_ptr_array_insert (shadow->items, position + i, item);
    }
  g_assert_cmpuint (shadow->items->len, ==, n);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GObject) item = g_list_model_get_item (model, i);
      g_assert_true (item == g_ptr_array_index (shadow->items, i));
    }
}

static void
shadow_init (Shadow     *shadow,
             GListModel *model)
{
  shadow->model = model;
  shadow->items = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    g_ptr_array_add (shadow->items, g_list_model_get_item (model, i));
  g_signal_connect (model, "items-changed", G_CALLBACK (shadow_changed_cb), shadow);
}

static void
shadow_clear (Shadow *shadow)
{
  g_signal_handlers_disconnect_by_data (shadow->model, shadow);
  g_ptr_array_unref (shadow->items);
}

static const char *
target_at (NatterConversationList *list,
           guint                   position)
{
  g_autoptr(NatterConversation) conversation = g_list_model_get_item (G_LIST_MODEL (list), position);

  /* the store keeps the object alive */
  return natter_conversation_get_target_id (conversation);
}

static void
set_pinned (NatterClient *client,
            const char   *target,
            gboolean      pinned)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  natter_store_set_conversation_flag_async (natter_client_get_store (client), NATTER_CONVERSATION_PRIVATE,
                                            target, NATTER_CONVERSATION_FIELD_PINNED, pinned, NULL,
                                            test_store_result_cb, &result);
  test_wait_result (&result, 10);
  g_assert_true (natter_store_set_conversation_flag_finish (natter_client_get_store (client), result, &error));
  g_assert_no_error (error);
}

/* A moved conversation is one items-changed over the range it crossed, and
 * the list agrees with every signal (GTK 4.8's GtkListView crashed on a
 * removal followed by an insertion of the same item). */
static void
test_conversation_list_moves (void)
{
  g_autoptr(NatterClient) client = natter_client_new ("http://127.0.0.1:1", "app", NULL);
  g_autoptr(NatterConversationList) list = NULL;
  Shadow shadow = { 0 };

  for (int i = 0; i < 6; i++)
    {
      g_autofree char *target = g_strdup_printf ("c%d", i);
      g_object_unref (insert (client, NATTER_CONVERSATION_PRIVATE, target, target, "hello", T0 + i));
    }
  list = natter_conversation_list_new (client);
  test_wait_until (conversation_list_idle, list, 10, "the list");
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, 6);
  g_assert_cmpstr (target_at (list, 0), ==, "c5");
  g_assert_cmpstr (target_at (list, 5), ==, "c0");
  shadow_init (&shadow, G_LIST_MODEL (list));

  /* The oldest gets a message: from the bottom to the top. */
  g_object_unref (insert (client, NATTER_CONVERSATION_PRIVATE, "c0", "c0", "up", T0 + 10));
  g_assert_cmpuint (shadow.calls, ==, 1);
  g_assert_cmpuint (shadow.position, ==, 0);
  g_assert_cmpuint (shadow.removed, ==, 6);
  g_assert_cmpuint (shadow.added, ==, 6);
  g_assert_cmpstr (target_at (list, 0), ==, "c0");
  g_assert_cmpstr (target_at (list, 1), ==, "c5");

  /* The top one again: it stays where it is, the row follows by notify. */
  shadow.calls = 0;
  g_object_unref (insert (client, NATTER_CONVERSATION_PRIVATE, "c0", "c0", "again", T0 + 11));
  g_assert_cmpuint (shadow.calls, ==, 0);

  /* One in the middle moves up to the top: only the range it crossed. */
  g_object_unref (insert (client, NATTER_CONVERSATION_PRIVATE, "c3", "me", "middle", T0 + 12));
  g_assert_cmpuint (shadow.calls, ==, 1);
  g_assert_cmpuint (shadow.position, ==, 0);
  g_assert_cmpuint (shadow.removed, ==, 4);
  g_assert_cmpuint (shadow.added, ==, 4);
  g_assert_cmpstr (target_at (list, 0), ==, "c3");

  /* Pinning the last one brings it up; unpinning sends it back down. */
  shadow.calls = 0;
  set_pinned (client, "c1", TRUE);
  g_assert_cmpuint (shadow.calls, ==, 1);
  g_assert_cmpuint (shadow.position, ==, 0);
  g_assert_cmpuint (shadow.removed, ==, 6);
  g_assert_cmpstr (target_at (list, 0), ==, "c1");
  shadow.calls = 0;
  set_pinned (client, "c1", FALSE);
  g_assert_cmpuint (shadow.calls, ==, 1);
  g_assert_cmpuint (shadow.position, ==, 0);
  g_assert_cmpuint (shadow.removed, ==, 6);
  g_assert_cmpstr (target_at (list, 5), ==, "c1");

  shadow_clear (&shadow);
}

static void
loading_changed_cb (NatterConversationList *list,
                    GParamSpec             *pspec,
                    guint                  *n_at_loaded)
{
  if (!natter_conversation_list_get_loading (list))
    *n_at_loaded = g_list_model_get_n_items (G_LIST_MODEL (list));
}

static gboolean
has_100 (gpointer data)
{
  return g_list_model_get_n_items (data) == 100;
}

/* A long list comes in two: a first screen's worth, newest first, which
 * ends the loading; then the rest after it, the first ones left as they
 * are (their rows stay) (#17). */
static void
test_conversation_list_first_page (void)
{
  g_autoptr(NatterClient) client = natter_client_new ("http://127.0.0.1:1", "app", NULL);
  g_autoptr(NatterConversationList) list = NULL;
  Shadow shadow = { 0 };
  guint n_at_loaded = 0;

  for (int i = 0; i < 100; i++)
    {
      g_autofree char *target = g_strdup_printf ("c%d", i);
      g_object_unref (insert (client, NATTER_CONVERSATION_PRIVATE, target, target, "hello", T0 + i));
    }
  list = natter_conversation_list_new (client);
  g_assert_true (natter_conversation_list_get_loading (list));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, 0);
  shadow_init (&shadow, G_LIST_MODEL (list));
  g_signal_connect (list, "notify::loading", G_CALLBACK (loading_changed_cb), &n_at_loaded);

  test_wait_until (has_100, list, 10, "the whole list");
  g_assert_true (natter_conversation_list_get_complete (list));
  g_assert_cmpuint (n_at_loaded, ==, 64);
  g_assert_cmpuint (shadow.calls, ==, 2);
  /* the second change only added after the first page */
  g_assert_cmpuint (shadow.position, ==, 64);
  g_assert_cmpuint (shadow.removed, ==, 0);
  g_assert_cmpuint (shadow.added, ==, 36);
  g_assert_cmpstr (target_at (list, 0), ==, "c99");
  g_assert_cmpstr (target_at (list, 63), ==, "c36");
  g_assert_cmpstr (target_at (list, 64), ==, "c35");
  g_assert_cmpstr (target_at (list, 99), ==, "c0");

  shadow_clear (&shadow);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/models/message-list", test_message_list);
  g_test_add_func ("/models/conversation-list-live", test_conversation_list_live);
  g_test_add_func ("/models/conversation-list-moves", test_conversation_list_moves);
  g_test_add_func ("/models/conversation-list-first-page", test_conversation_list_first_page);

  return g_test_run ();
}
