/* test-tail-model.c — NatterTailModel's view of its list and its signals
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-tail-model.h"

typedef struct {
  GListStore *store;
  NatterTailModel *tail;
  GPtrArray *mirror;   /* the tail's items as its ::items-changed told them */
} Fixture;

/* Replays each change on the mirror, as a list view keeps its rows. */
static void
tail_changed_cb (GListModel *tail,
                 guint       position,
                 guint       removed,
                 guint       added,
                 Fixture    *f)
{
  g_assert_cmpuint (position + removed, <=, f->mirror->len);
  g_ptr_array_remove_range (f->mirror, position, removed);
  for (guint i = 0; i < added; i++)
    g_ptr_array_insert (f->mirror, position + i, g_list_model_get_item (tail, position + i));
}

/* The tail is the store's items from its offset on, and the mirror agrees. */
static void
check (Fixture *f)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (f->store));
  guint offset = natter_tail_model_get_offset (f->tail);

  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (f->tail)), ==, n - offset);
  g_assert_cmpuint (f->mirror->len, ==, n - offset);
  for (guint i = 0; i < n - offset; i++)
    {
      g_autoptr(GObject) shown = g_list_model_get_item (G_LIST_MODEL (f->tail), i);
      g_autoptr(GObject) item = g_list_model_get_item (G_LIST_MODEL (f->store), offset + i);

      g_assert_true (shown == item);
      g_assert_true (f->mirror->pdata[i] == item);
    }
}

static void
append (Fixture *f,
        guint    n)
{
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GObject) item = g_object_new (G_TYPE_OBJECT, NULL);
      g_list_store_append (f->store, item);
    }
}

/* @n items in one change at @position */
static void
insert_at (Fixture *f,
           guint    position,
           guint    n)
{
  GObject **items = g_new (GObject *, n);

  for (guint i = 0; i < n; i++)
    items[i] = g_object_new (G_TYPE_OBJECT, NULL);
  g_list_store_splice (f->store, position, 0, (gpointer *) items, n);
  for (guint i = 0; i < n; i++)
    g_object_unref (items[i]);
  g_free (items);
}

static void
fixture_setup (Fixture *f,
               guint    before,
               guint    limit)
{
  f->store = g_list_store_new (G_TYPE_OBJECT);
  append (f, before);
  f->tail = natter_tail_model_new (G_LIST_MODEL (f->store), limit);
  f->mirror = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (f->tail)); i++)
    g_ptr_array_add (f->mirror, g_list_model_get_item (G_LIST_MODEL (f->tail), i));
  g_signal_connect (f->tail, "items-changed", G_CALLBACK (tail_changed_cb), f);
}

static void
fixture_teardown (Fixture *f)
{
  g_clear_object (&f->tail);
  g_clear_object (&f->store);
  g_clear_pointer (&f->mirror, g_ptr_array_unref);
}

/* A page in the list: its newest items, then all, added above them. */
static void
test_page_then_all (void)
{
  Fixture f;

  fixture_setup (&f, 20, 12);
  g_assert_cmpuint (natter_tail_model_get_offset (f.tail), ==, 8);
  check (&f);
  append (&f, 1);                 /* a message came: below, shown */
  g_assert_cmpuint (natter_tail_model_get_offset (f.tail), ==, 8);
  check (&f);
  insert_at (&f, 0, 20);            /* an older page: above, hidden */
  g_assert_cmpuint (natter_tail_model_get_offset (f.tail), ==, 28);
  check (&f);
  g_list_store_remove (f.store, 3);   /* hidden */
  g_assert_cmpuint (natter_tail_model_get_offset (f.tail), ==, 27);
  check (&f);
  g_list_store_remove (f.store, 30);  /* shown */
  check (&f);
  natter_tail_model_show_all (f.tail);
  g_assert_false (natter_tail_model_get_limited (f.tail));
  g_assert_cmpuint (natter_tail_model_get_offset (f.tail), ==, 0);
  check (&f);
  insert_at (&f, 0, 5);             /* all shown now */
  check (&f);
  fixture_teardown (&f);
}

/* The page comes after the open, in one change: limited too. */
static void
test_first_batch (void)
{
  Fixture f;

  fixture_setup (&f, 0, 12);
  insert_at (&f, 0, 20);
  g_assert_cmpuint (natter_tail_model_get_offset (f.tail), ==, 8);
  check (&f);
  natter_tail_model_show_all (f.tail);
  check (&f);
  fixture_teardown (&f);
}

/* A change across the top of what is shown starts the shown part there. */
static void
test_change_across_top (void)
{
  Fixture f;
  GObject *items[3];

  fixture_setup (&f, 20, 12);
  for (guint i = 0; i < G_N_ELEMENTS (items); i++)
    items[i] = g_object_new (G_TYPE_OBJECT, NULL);
  /* removes 6…11 (two hidden, four shown), puts three in */
  g_list_store_splice (f.store, 6, 6, (gpointer *) items, G_N_ELEMENTS (items));
  for (guint i = 0; i < G_N_ELEMENTS (items); i++)
    g_object_unref (items[i]);
  g_assert_cmpuint (natter_tail_model_get_offset (f.tail), ==, 6);
  check (&f);
  natter_tail_model_show_all (f.tail);
  check (&f);
  fixture_teardown (&f);
}

/* Fewer items than the limit: all of them. */
static void
test_short_list (void)
{
  Fixture f;

  fixture_setup (&f, 5, 12);
  g_assert_cmpuint (natter_tail_model_get_offset (f.tail), ==, 0);
  check (&f);
  natter_tail_model_show_all (f.tail);
  check (&f);
  fixture_teardown (&f);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tail-model/page-then-all", test_page_then_all);
  g_test_add_func ("/tail-model/first-batch", test_first_batch);
  g_test_add_func ("/tail-model/change-across-top", test_change_across_top);
  g_test_add_func ("/tail-model/short-list", test_short_list);
  return g_test_run ();
}
