/* test-ui-sidebar.c — the conversation list as messages arrive (#17)
 *
 * A profile of 300 conversations (natter-cli generate-profile) on a server
 * that is not there: messages go into the store as if they had come, and
 * the sidebar follows. Each case prints its figures (rows bound, GTK's
 * bind/unbind calls, the main thread's CPU time from the message to the
 * frame showing it) with `--verbose`; the assertions are about behaviour.
 * NATTER_TEST_SIDEBAR_PROFILE=DIR runs on that profile instead (the
 * benchmark's big one: tests/app/bench-app makes it in _build/bench-app/big).
 * And what a chat switch redraws, by the X server's count.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <string.h>
#include <time.h>

#include "natter-conversation-row.h"
#include "natter-damage-meter.h"
#include "natter-test-ui.h"

#define N_CONVERSATIONS 300
#define FAR 150      /* the conversation that moves to the top */
#define ROUNDS 5

static gint64
thread_cpu_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

static guint
rows_given (NatterTestUi *ui)
{
  return g_list_model_get_n_items (G_LIST_MODEL (gtk_list_view_get_model (natter_sidebar_get_list_view (ui->sidebar))));
}

static gboolean
has_rows (gpointer data)
{
  return rows_given (data) > 0;
}

/* The list loads its first screen's worth first, then the rest (#17). */
static gboolean
list_complete (gpointer data)
{
  NatterTestUi *ui = data;

  return natter_conversation_list_get_complete (natter_sidebar_get_conversations (ui->sidebar));
}

/* Scrolls to the end of what the list view has; TRUE once it has every
 * conversation (GTK then has rows for ~200 around what it shows). */
static gboolean
given_all (gpointer data)
{
  NatterTestUi *ui = data;
  GtkAdjustment *adj = gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (natter_sidebar_get_list_view (ui->sidebar)));

  gtk_adjustment_set_value (adj, gtk_adjustment_get_upper (adj) - gtk_adjustment_get_page_size (adj));
  return rows_given (ui) ==
         g_list_model_get_n_items (G_LIST_MODEL (natter_sidebar_get_conversations (ui->sidebar)));
}

static void
open_profile (NatterTestUi *ui)
{
  const char *given = g_getenv ("NATTER_TEST_SIDEBAR_PROFILE");
  g_autofree char *profile = given != NULL ? g_strdup (given) : g_build_filename (ui->dir, "many", NULL);
  g_autofree char *ini = g_build_filename (profile, "account.ini", NULL);
  g_autofree char *token = g_build_filename (profile, "token", NULL);
  GtkAdjustment *adj;

  if (given == NULL)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *conversations = g_strdup_printf ("%d", N_CONVERSATIONS);
      const char *argv[] = { natter_test_program ("NATTER_CLI"), "generate-profile", profile,
                             "--messages", "900", "--conversations", conversations, "--owner", "me", NULL };
      int status = 0;

      g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL,
                                   &status, &error));
      g_assert_no_error (error);
      g_assert_true (g_spawn_check_wait_status (status, NULL));
    }
  /* signed in to a server that is not there: the store is all there is */
  g_assert_true (g_file_set_contents (ini, "[account]\nserver-url=http://127.0.0.1:9\napp-key=k\nuser-id=me\n", -1, NULL));
  g_assert_true (g_file_set_contents_full (token, "t", -1, G_FILE_SET_CONTENTS_NONE, 0600, NULL));

  natter_test_ui_open (ui, profile);
  natter_test_ui_wait_for_page (ui->window, "main");
  natter_test_ui_wait_until (has_rows, ui, "the list on screen");
  natter_test_ui_wait_until (list_complete, ui, "the whole list loaded");
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (natter_sidebar_get_conversations (ui->sidebar))), >, FAR + 1);
  /* every conversation given to the list view, then back at the top:
   * GTK has rows for the first ~200 */
  natter_test_ui_wait_until (given_all, ui, "every conversation in the list view");
  adj = gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (natter_sidebar_get_list_view (ui->sidebar)));
  gtk_adjustment_set_value (adj, 0);
  natter_test_ui_spin (1000);
}

static void
collect_rows (GtkWidget *widget,
              GPtrArray *rows)
{
  if (NATTER_IS_CONVERSATION_ROW (widget))
    g_ptr_array_add (rows, g_object_ref (widget));
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    collect_rows (child, rows);
}

/* One message arriving, from the insert to the frame that shows it. */
typedef struct {
  NatterTestUi *ui;
  NatterConversation *conversation;
  GHashTable *before;        /* row → its bindings then (a ref each) */
  guint items_changed;       /* the conversation list's signals */
  guint position, removed, added;
  guint gtk_binds, gtk_unbinds;   /* the factory's signals */
  gboolean changed;
  gboolean painted;
  gint64 cpu_start;
  gint64 cpu_ns;             /* the main thread's, insert → that frame */
  gint64 wall_start;
  gint64 wall_us;
} Arrival;

static void
items_changed_cb (GListModel *list,
                  guint       position,
                  guint       removed,
                  guint       added,
                  Arrival    *a)
{
  a->items_changed++;
  a->position = position;
  a->removed = removed;
  a->added = added;
}

static void
factory_bind_cb (GtkListItemFactory *factory,
                 GtkListItem        *item,
                 Arrival            *a)
{
  a->gtk_binds++;
}

static void
factory_unbind_cb (GtkListItemFactory *factory,
                   GtkListItem        *item,
                   Arrival            *a)
{
  a->gtk_unbinds++;
}

static void
conversation_notify_cb (NatterConversation *conversation,
                        GParamSpec         *pspec,
                        Arrival            *a)
{
  GdkFrameClock *clock = gtk_widget_get_frame_clock (GTK_WIDGET (natter_sidebar_get_list_view (a->ui->sidebar)));

  a->changed = TRUE;
  if (clock != NULL)
    gdk_frame_clock_request_phase (clock, GDK_FRAME_CLOCK_PHASE_PAINT);
}

static void
after_paint_cb (GdkFrameClock *clock,
                Arrival       *a)
{
  if (!a->changed || a->painted)
    return;
  a->painted = TRUE;
  a->cpu_ns = thread_cpu_ns () - a->cpu_start;
  a->wall_us = g_get_monotonic_time () - a->wall_start;
}

static gboolean
arrival_painted (gpointer data)
{
  return ((Arrival *) data)->painted;
}

/* How many times rows were bound to a conversation since @a started:
 * those of the rows there now (a new row's every binding counts). */
static guint
rows_bound_since (Arrival *a)
{
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func (g_object_unref);
  guint bound = 0;

  collect_rows (GTK_WIDGET (natter_sidebar_get_list_view (a->ui->sidebar)), rows);
  for (guint i = 0; i < rows->len; i++)
    {
      guint now = natter_conversation_row_get_bindings (rows->pdata[i]);
      gpointer then;

      if (g_hash_table_lookup_extended (a->before, rows->pdata[i], NULL, &then))
        bound += now - GPOINTER_TO_UINT (then);
      else
        bound += now;
    }
  return bound;
}

/* From now on, rows_bound_since() counts the rows' bindings. */
static void
count_rows_from (Arrival      *a,
                 NatterTestUi *ui)
{
  g_autoptr(GPtrArray) rows = g_ptr_array_new ();

  a->ui = ui;
  a->before = g_hash_table_new_full (NULL, NULL, g_object_unref, NULL);
  collect_rows (GTK_WIDGET (natter_sidebar_get_list_view (ui->sidebar)), rows);
  g_assert_cmpuint (rows->len, >, 0);
  for (guint i = 0; i < rows->len; i++)
    g_hash_table_insert (a->before, rows->pdata[i],
                         GUINT_TO_POINTER (natter_conversation_row_get_bindings (rows->pdata[i])));
}

/* A text message from @position's conversation, as if it had come; returns
 * when the frame showing it was painted, with @a filled in. */
static void
arrive (NatterTestUi *ui,
        guint         position,
        const char   *text,
        Arrival      *a)
{
  GListModel *list = G_LIST_MODEL (natter_sidebar_get_conversations (ui->sidebar));
  GtkListView *view = natter_sidebar_get_list_view (ui->sidebar);
  GtkListItemFactory *factory = gtk_list_view_get_factory (view);
  GdkFrameClock *clock = gtk_widget_get_frame_clock (GTK_WIDGET (view));
  g_autoptr(JsonObject) content = natter_content_new_text (text);

  memset (a, 0, sizeof *a);
  a->conversation = g_list_model_get_item (list, position);
  count_rows_from (a, ui);

  g_signal_connect (list, "items-changed", G_CALLBACK (items_changed_cb), a);
  g_signal_connect (factory, "bind", G_CALLBACK (factory_bind_cb), a);
  g_signal_connect (factory, "unbind", G_CALLBACK (factory_unbind_cb), a);
  g_signal_connect (a->conversation, "notify", G_CALLBACK (conversation_notify_cb), a);
  g_signal_connect (clock, "after-paint", G_CALLBACK (after_paint_cb), a);

  a->cpu_start = thread_cpu_ns ();
  a->wall_start = g_get_monotonic_time ();
  natter_client_insert_local_message_async (natter_window_get_client (ui->window),
                                            natter_conversation_get_conversation_type (a->conversation),
                                            natter_conversation_get_target_id (a->conversation),
                                            natter_conversation_get_target_id (a->conversation),
                                            NATTER_OBJECT_TEXT, content, NATTER_MESSAGE_DIRECTION_RECEIVE,
                                            0, NULL, NULL, NULL);
  natter_test_ui_wait_until (arrival_painted, a, "the frame showing the message");
  /* whatever GTK does in the frames after it counts too */
  natter_test_ui_spin (300);

  g_signal_handlers_disconnect_by_data (list, a);
  g_signal_handlers_disconnect_by_data (factory, a);
  g_signal_handlers_disconnect_by_data (a->conversation, a);
  g_signal_handlers_disconnect_by_data (clock, a);
}

static void
arrival_clear (Arrival *a)
{
  g_clear_object (&a->conversation);
  g_clear_pointer (&a->before, g_hash_table_unref);
}

static int
compare_gint64 (gconstpointer a,
                gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

/* The rounds of a case, and what it prints. */
typedef struct {
  guint rounds;
  guint bound, binds, unbinds;
  gint64 cpu[ROUNDS];
  gint64 wall[ROUNDS];
} Totals;

/* Counts @a's round in @t, and returns the rows bound in it. */
static guint
count_round (Totals  *t,
             Arrival *a)
{
  guint rows_bound = rows_bound_since (a);

  g_test_message ("round %u: rows bound %u, GTK's bind/unbind %u/%u, CPU %.2f ms",
                  t->rounds, rows_bound, a->gtk_binds, a->gtk_unbinds, a->cpu_ns / 1e6);
  t->bound += rows_bound;
  t->binds += a->gtk_binds;
  t->unbinds += a->gtk_unbinds;
  t->cpu[t->rounds] = a->cpu_ns;
  t->wall[t->rounds] = a->wall_us;
  t->rounds++;
  arrival_clear (a);
  return rows_bound;
}

static void
print_figures (NatterTestUi *ui,
               const char   *what,
               Totals       *t)
{
  guint n = t->rounds;

  qsort (t->cpu, n, sizeof (gint64), compare_gint64);
  qsort (t->wall, n, sizeof (gint64), compare_gint64);
  g_test_message ("sidebar, %s (%u conversations, %u rounds): rows bound %.1f a message, "
                  "GTK's bind/unbind calls %.1f/%.1f a message, main thread's CPU message → frame "
                  "median %.2f ms (max %.2f), wall median %.2f ms",
                  what, g_list_model_get_n_items (G_LIST_MODEL (natter_sidebar_get_conversations (ui->sidebar))),
                  n, (double) t->bound / n, (double) t->binds / n, (double) t->unbinds / n,
                  t->cpu[n / 2] / 1e6, t->cpu[n - 1] / 1e6, t->wall[n / 2] / 1e3);
}

/* A message for the conversation 150th in the list: it moves to the top in
 * one change of the list (the range it moved over), and the rows GTK 4.8
 * unbinds and binds again for the same conversations at their new
 * positions are kept as they are: a handful of rows bound, not ~150 (#17). */
static void
test_message_moves_row_up (NatterTestUi  *ui,
                           gconstpointer  data)
{
  GListModel *list;
  Totals t = { 0 };

  open_profile (ui);
  list = G_LIST_MODEL (natter_sidebar_get_conversations (ui->sidebar));

  for (guint round = 0; round < ROUNDS; round++)
    {
      g_autofree char *text = g_strdup_printf ("moved up, round %u", round);
      g_autoptr(NatterConversation) top = NULL;
      guint top_position;
      Arrival a;

      arrive (ui, FAR, text, &a);
      /* at the top (after the pinned ones), showing the message */
      top_position = natter_conversation_list_find (NATTER_CONVERSATION_LIST (list),
                                                    natter_conversation_get_conversation_type (a.conversation),
                                                    natter_conversation_get_target_id (a.conversation));
      g_assert_cmpuint (top_position, <, FAR);
      top = g_list_model_get_item (list, top_position);
      g_assert_true (top == a.conversation);
      natter_test_ui_wait_for_label (GTK_WIDGET (ui->sidebar), text);
      /* one change: the range it moved over, not the whole list */
      g_assert_cmpuint (a.items_changed, ==, 1);
      g_assert_cmpuint (a.position, ==, top_position);
      g_assert_cmpuint (a.removed, ==, FAR - top_position + 1);
      g_assert_cmpuint (a.added, ==, a.removed);

      /* a handful: the moved conversation's row at most, and a row GTK
       * makes for the one that came into range */
      g_assert_cmpuint (count_round (&t, &a), <=, 3);
    }
  print_figures (ui, "a message to the 150th conversation", &t);
}

/* A message for the conversation at the top: it stays, the list does not
 * change, and its row only shows the new message. */
static void
test_message_to_top_row (NatterTestUi  *ui,
                         gconstpointer  data)
{
  GListModel *list;
  Totals t = { 0 };

  open_profile (ui);
  list = G_LIST_MODEL (natter_sidebar_get_conversations (ui->sidebar));

  for (guint round = 0; round < ROUNDS; round++)
    {
      g_autofree char *text = g_strdup_printf ("at the top, round %u", round);
      Arrival a = { 0 };

      /* the newest unpinned one: a new message keeps it where it is */
      for (guint i = 0; i < g_list_model_get_n_items (list); i++)
        {
          g_autoptr(NatterConversation) conv = g_list_model_get_item (list, i);

          if (!natter_conversation_get_pinned (conv))
            {
              arrive (ui, i, text, &a);
              break;
            }
        }
      g_assert_nonnull (a.conversation);
      natter_test_ui_wait_for_label (GTK_WIDGET (ui->sidebar), text);
      g_assert_cmpuint (a.items_changed, ==, 0);
      g_assert_cmpuint (count_round (&t, &a), ==, 0);
    }
  print_figures (ui, "a message to the top conversation", &t);
}

/* The frames while messages come in a burst. */
typedef struct {
  gint64 last_cpu;
  gint64 max_cpu;        /* the main thread's, from one frame to the next */
  gint64 frame_start_cpu;
  gint64 max_frame_cpu;  /* the main thread's in a frame's phases (update → paint) */
  gint64 last_wall;
  gint64 max_interval;
  guint frames;
  guint items_changed;
  guint view_changes;    /* what GTK's list view was given */
} Burst;

static void
burst_items_changed_cb (GListModel *list,
                        guint       position,
                        guint       removed,
                        guint       added,
                        Burst      *b)
{
  b->items_changed++;
}

static void
burst_view_changed_cb (GListModel *model,
                       guint       position,
                       guint       removed,
                       guint       added,
                       Burst      *b)
{
  b->view_changes++;
}

static void
burst_before_paint_cb (GdkFrameClock *clock,
                       Burst         *b)
{
  b->frame_start_cpu = thread_cpu_ns ();
}

static void
burst_after_paint_cb (GdkFrameClock *clock,
                      Burst         *b)
{
  gint64 cpu = thread_cpu_ns ();
  gint64 wall = g_get_monotonic_time ();

  if (b->frame_start_cpu != 0)
    b->max_frame_cpu = MAX (b->max_frame_cpu, cpu - b->frame_start_cpu);
  b->max_cpu = MAX (b->max_cpu, cpu - b->last_cpu);
  b->max_interval = MAX (b->max_interval, wall - b->last_wall);
  b->last_cpu = cpu;
  b->last_wall = wall;
  b->frames++;
}

typedef struct {
  GPtrArray *conversations;
  GPtrArray *texts;
} BurstWait;

static gboolean
burst_shown (gpointer data)
{
  BurstWait *w = data;

  for (guint i = 0; i < w->conversations->len; i++)
    {
      NatterMessage *latest = natter_conversation_get_latest_message (w->conversations->pdata[i]);

      if (latest == NULL || g_strcmp0 (natter_message_get_text (latest), w->texts->pdata[i]) != 0)
        return FALSE;
    }
  return TRUE;
}

/* 50 messages for 50 conversations further down at once, as after a
 * reconnect: each goes to the top, the last one first, and the sidebar
 * binds no more rows than the ones that came into range. Prints the
 * frames it took and the longest one's main-thread CPU (#17). */
static void
test_burst (NatterTestUi  *ui,
            gconstpointer  data)
{
  GListModel *list;
  GtkListView *view;
  GdkFrameClock *clock;
  g_autoptr(GPtrArray) conversations = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
  BurstWait w = { conversations, texts };
  Burst b = { 0 };
  Arrival a = { 0 };
  gint64 cpu_start, inserts_cpu;

  open_profile (ui);
  list = G_LIST_MODEL (natter_sidebar_get_conversations (ui->sidebar));
  view = natter_sidebar_get_list_view (ui->sidebar);
  clock = gtk_widget_get_frame_clock (GTK_WIDGET (view));
  for (guint i = 0; i < 50; i++)
    {
      g_ptr_array_add (conversations, g_list_model_get_item (list, 100 + 2 * i));
      g_ptr_array_add (texts, g_strdup_printf ("burst message %u", i));
    }

  count_rows_from (&a, ui);
  g_signal_connect (list, "items-changed", G_CALLBACK (burst_items_changed_cb), &b);
  g_signal_connect (clock, "before-paint", G_CALLBACK (burst_before_paint_cb), &b);
  g_signal_connect (clock, "after-paint", G_CALLBACK (burst_after_paint_cb), &b);
  g_signal_connect (gtk_list_view_get_model (view), "items-changed", G_CALLBACK (burst_view_changed_cb), &b);
  cpu_start = b.last_cpu = thread_cpu_ns ();
  b.last_wall = g_get_monotonic_time ();
  for (guint i = 0; i < conversations->len; i++)
    {
      g_autoptr(JsonObject) content = natter_content_new_text (texts->pdata[i]);
      NatterConversation *conv = conversations->pdata[i];

      natter_client_insert_local_message_async (natter_window_get_client (ui->window),
                                                natter_conversation_get_conversation_type (conv),
                                                natter_conversation_get_target_id (conv),
                                                natter_conversation_get_target_id (conv),
                                                NATTER_OBJECT_TEXT, content, NATTER_MESSAGE_DIRECTION_RECEIVE,
                                                0, NULL, NULL, NULL);
    }
  inserts_cpu = thread_cpu_ns () - cpu_start;
  natter_test_ui_wait_until (burst_shown, &w, "the 50 messages in the list");
  natter_test_ui_spin (500);
  g_signal_handlers_disconnect_by_data (list, &b);
  g_signal_handlers_disconnect_by_data (clock, &b);
  g_signal_handlers_disconnect_by_data (gtk_list_view_get_model (view), &b);
  g_test_message ("sidebar, 50 messages for 50 conversations at once (%u conversations): "
                  "list changes %u, given to GTK as %u, rows bound %u, frames %u, the longest frame's main-thread CPU %.2f ms "
                  "(from the frame before; in its phases, update → paint, %.2f ms), "
                  "the longest frame interval %.2f ms, main thread's CPU in all %.2f ms (of which the 50 inserts' calls %.2f ms)",
                  g_list_model_get_n_items (list), b.items_changed, b.view_changes, rows_bound_since (&a), b.frames,
                  b.max_cpu / 1e6, b.max_frame_cpu / 1e6, b.max_interval / 1e3, (b.last_cpu - cpu_start) / 1e6,
                  inserts_cpu / 1e6);

  /* the last one at the top, on screen: the list still shows its top */
  natter_test_ui_wait_for_label (GTK_WIDGET (ui->sidebar), texts->pdata[texts->len - 1]);
  g_assert_cmpfloat (gtk_adjustment_get_value (gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (view))), <=, 0);
  {
    g_autoptr(NatterConversation) top = g_list_model_get_item (list, 0);

    g_assert_true (natter_conversation_get_pinned (top) ||
                   top == conversations->pdata[conversations->len - 1]);
  }
  g_assert_cmpuint (b.items_changed, ==, conversations->len);
  /* rows for the conversations that came into GTK's range at most */
  g_assert_cmpuint (rows_bound_since (&a), <=, conversations->len + 3);
  arrival_clear (&a);
}

/* ------------------------------------------------------ a chat switch */

typedef struct {
  NatterTestUi *ui;
  NatterConversation *conversation;
} Open;

/* The chat view shows @conversation's messages. */
static gboolean
chat_shown (gpointer data)
{
  Open *o = data;
  NatterChatView *view = natter_window_get_chat_view (o->ui->window);
  NatterMessageList *messages = natter_chat_view_get_messages (view);
  NatterConversation *shown = natter_chat_view_get_conversation (view);

  return messages != NULL && g_list_model_get_n_items (G_LIST_MODEL (messages)) > 0 && shown != NULL &&
         g_strcmp0 (natter_conversation_get_target_id (shown), natter_conversation_get_target_id (o->conversation)) == 0;
}

/* The row showing @conversation, NULL if none. */
static GtkWidget *
row_of (NatterTestUi       *ui,
        NatterConversation *conversation)
{
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func (g_object_unref);

  collect_rows (GTK_WIDGET (natter_sidebar_get_list_view (ui->sidebar)), rows);
  for (guint i = 0; i < rows->len; i++)
    if (natter_conversation_row_get_conversation (rows->pdata[i]) == conversation &&
        gtk_widget_get_mapped (rows->pdata[i]))
      return rows->pdata[i];
  return NULL;
}

static void
print_rects (const cairo_region_t *region)
{
  for (int i = 0; i < cairo_region_num_rectangles (region); i++)
    {
      cairo_rectangle_int_t r;

      cairo_region_get_rectangle (region, i, &r);
      g_test_message ("  redrawn: %d,%d %dx%d", r.x, r.y, r.width, r.height);
    }
}

/* What the window redraws until it has redrawn nothing for a while. */
static cairo_region_t *
settle (NatterDamageMeter *meter)
{
  cairo_region_t *all = cairo_region_create ();

  for (guint i = 0; i < 50; i++)
    {
      cairo_region_t *damage;
      gboolean quiet;

      natter_test_ui_spin (300);
      damage = natter_damage_meter_take (meter);
      quiet = cairo_region_is_empty (damage);
      cairo_region_union (all, damage);
      cairo_region_destroy (damage);
      if (quiet && i > 0)
        break;
    }
  return all;
}

static double
rect_area (const cairo_rectangle_int_t *r)
{
  return (double) r->width * r->height;
}

/* Switching chats redraws the chat pane, and moving the sidebar's highlight
 * the two rows it left and reached: never the whole window. The edge
 * between the sidebar and the chat stays where it is, whatever the
 * messages' lengths: it used to follow them, which moved the chat pane
 * and made GSK redraw everything (#17). The X server counts the pixels
 * (natter-damage-meter.h); the highlight moves a frame before the chat
 * opens, as the server counts a frame's bounding box. */
static void
test_switch_redraws_pane (NatterTestUi  *ui,
                          gconstpointer  data)
{
  GListModel *list;
  g_autoptr(NatterDamageMeter) meter = NULL;
  cairo_rectangle_int_t window, pane, sidebar;
  cairo_region_t *damage;
  int pane_x = -1, pane_width = -1;
  Arrival a;

  open_profile (ui);
  /* the first chat's newest message a long line: its natural width is
   * not the others' */
  arrive (ui, 0, "a long line, the kind whose label asks for the width of all its words at once, "
          "longer than any chat pane on this screen could show without wrapping it, and then some more", &a);
  arrival_clear (&a);
  /* no reconnect attempts: each one changes the sidebar's banner */
  natter_client_disconnect (natter_window_get_client (ui->window));
  natter_test_ui_spin (2500);
  list = G_LIST_MODEL (natter_sidebar_get_conversations (ui->sidebar));
  meter = natter_damage_meter_new (GTK_WINDOW (ui->window));
  g_assert_nonnull (meter);
  g_assert_true (natter_damage_meter_bounds (meter, GTK_WIDGET (ui->window), &window));
  /* the meter's own check: once settled, a window left alone redraws nothing */
  cairo_region_destroy (settle (meter));
  natter_test_ui_spin (500);
  damage = natter_damage_meter_take (meter);
  g_assert_true (cairo_region_is_empty (damage));
  cairo_region_destroy (damage);

  for (guint i = 0; i < ROUNDS + 1; i++)
    {
      g_autoptr(NatterConversation) conversation = g_list_model_get_item (list, i);
      Open o = { ui, conversation };
      g_autoptr(GtkWidget) row = NULL;
      cairo_rectangle_int_t row_rect;
      double row_area, pane_area;

      g_assert_nonnull (conversation);
      /* the highlight first, in a frame of its own */
      natter_sidebar_set_conversation (ui->sidebar, conversation);
      damage = settle (meter);
      row = row_of (ui, conversation);
      g_assert_nonnull (row);
      g_object_ref (row);
      g_assert_true (natter_damage_meter_bounds (meter, row, &row_rect));
      row_area = rect_area (&row_rect);
      if (i > 0)
        {
          /* this row and the one above it, and what is between them */
          g_test_message ("highlight %u: %.0f px redrawn, a row %.0f px at %d,%d", i,
                          natter_damage_meter_area (damage), row_area, row_rect.x, row_rect.y);
          print_rects (damage);
          g_assert_cmpfloat (natter_damage_meter_area (damage), <=, 2 * row_area + 2 * row_rect.width * 4);
        }
      cairo_region_destroy (damage);

      natter_window_open_conversation (ui->window, natter_conversation_get_conversation_type (conversation),
                                       natter_conversation_get_target_id (conversation), 0);
      natter_test_ui_wait_until (chat_shown, &o, "the chat on screen");
      damage = settle (meter);
      g_assert_true (natter_damage_meter_bounds (meter, GTK_WIDGET (natter_window_get_chat_view (ui->window)), &pane));
      g_assert_true (natter_damage_meter_bounds (meter, GTK_WIDGET (ui->sidebar), &sidebar));
      pane_area = rect_area (&pane);
      g_test_message ("open %u: %.0f px redrawn; the chat pane %.0f px at x %d, the window %.0f px", i,
                      natter_damage_meter_area (damage), pane_area, pane.x, rect_area (&window));
      print_rects (damage);
      /* the first chat comes in place of the empty page: the chat pane,
       * the separator beside it, the sidebar's overlay scrollbar (the
       * whole window before) */
      g_assert_cmpfloat (natter_damage_meter_area (damage), <=, pane_area + 16.0 * pane.height);
      if (i > 0)
        {
          /* the edge stays */
          g_assert_cmpint (pane.x, ==, pane_x);
          g_assert_cmpint (pane.width, ==, pane_width);
          /* then nothing outside the chat pane */
          cairo_region_subtract_rectangle (damage, &pane);
          g_assert_true (cairo_region_is_empty (damage));
        }
      pane_x = pane.x;
      pane_width = pane.width;
      cairo_region_destroy (damage);
    }
  /* the sidebar did not take the window's extra width either */
  g_assert_cmpint (sidebar.width, <, pane.width);
}

int
main (int argc, char *argv[])
{
  natter_test_ui_init (&argc, &argv);

  g_test_add ("/ui/sidebar/message-moves-row-up", NatterTestUi, NULL,
              natter_test_ui_setup, test_message_moves_row_up, natter_test_ui_teardown);
  g_test_add ("/ui/sidebar/message-to-top-row", NatterTestUi, NULL,
              natter_test_ui_setup, test_message_to_top_row, natter_test_ui_teardown);
  g_test_add ("/ui/sidebar/burst", NatterTestUi, NULL,
              natter_test_ui_setup, test_burst, natter_test_ui_teardown);
  g_test_add ("/ui/sidebar/switch-redraws-pane", NatterTestUi, NULL,
              natter_test_ui_setup, test_switch_redraws_pane, natter_test_ui_teardown);
  return natter_test_ui_run ();
}
