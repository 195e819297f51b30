/* natter-mention-popover.c — whom "@" in a group's composer may mention
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gi18n.h>
#include <string.h>

#include "natter-mention-popover.h"

struct _NatterMentionPopover
{
  GtkPopover parent_instance;

  GtkListBox *list;
  char *query;                  /* casefolded */
};

G_DEFINE_FINAL_TYPE (NatterMentionPopover, natter_mention_popover, GTK_TYPE_POPOVER)

enum {
  PICKED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

#define MENTION_ROWS_MAX 200

static gboolean
row_matches (GtkListBoxRow *row,
             gpointer       user_data)
{
  NatterMentionPopover *self = user_data;
  const char *key = g_object_get_data (G_OBJECT (row), "key");

  return self->query == NULL || *self->query == '\0' || strstr (key, self->query) != NULL;
}

static void
row_activated_cb (NatterMentionPopover *self,
                  GtkListBoxRow        *row)
{
  g_signal_emit (self, signals[PICKED], 0, g_object_get_data (G_OBJECT (row), "user-id"),
                 g_object_get_data (G_OBJECT (row), "name"));
}

static void
add_row (NatterMentionPopover *self,
         const char           *user_id,
         const char           *name,
         const char           *shown)
{
  GtkWidget *row = gtk_list_box_row_new ();
  GtkWidget *label = gtk_label_new (shown);
  g_autofree char *both = g_strconcat (name, " ", user_id != NULL ? user_id : "", NULL);

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  gtk_widget_set_margin_start (label, 6);
  gtk_widget_set_margin_end (label, 6);
  gtk_widget_set_margin_top (label, 4);
  gtk_widget_set_margin_bottom (label, 4);
  gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (row), label);
  g_object_set_data_full (G_OBJECT (row), "user-id", g_strdup (user_id), g_free);
  g_object_set_data_full (G_OBJECT (row), "name", g_strdup (name), g_free);
  g_object_set_data_full (G_OBJECT (row), "key", g_utf8_casefold (both, -1), g_free);
  gtk_list_box_append (self->list, row);
}

void
natter_mention_popover_set_candidates (NatterMentionPopover *self,
                                       GPtrArray            *ids,
                                       GPtrArray            *names,
                                       gboolean              everyone)
{
  GtkWidget *child;

  g_return_if_fail (NATTER_IS_MENTION_POPOVER (self));
  g_return_if_fail (ids->len == names->len);

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->list))) != NULL)
    gtk_list_box_remove (self->list, child);
  if (everyone)
    /* Translators: the @mention of all members of a group */
    add_row (self, NULL, _("everyone"), _("everyone (notify all members)"));
  for (guint i = 0; i < ids->len && i < MENTION_ROWS_MAX; i++)
    add_row (self, g_ptr_array_index (ids, i), g_ptr_array_index (names, i), g_ptr_array_index (names, i));
}

static GPtrArray *
shown_rows (NatterMentionPopover *self)
{
  GPtrArray *rows = g_ptr_array_new ();

  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (self->list)); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (GTK_IS_LIST_BOX_ROW (child) && gtk_widget_get_child_visible (child) &&
        row_matches (GTK_LIST_BOX_ROW (child), self))
      g_ptr_array_add (rows, child);
  return rows;
}

gboolean
natter_mention_popover_filter (NatterMentionPopover *self,
                               const char           *query)
{
  g_autoptr(GPtrArray) rows = NULL;

  g_return_val_if_fail (NATTER_IS_MENTION_POPOVER (self), FALSE);

  g_free (self->query);
  self->query = query != NULL ? g_utf8_casefold (query, -1) : NULL;
  gtk_list_box_invalidate_filter (self->list);
  rows = shown_rows (self);
  gtk_list_box_select_row (self->list, rows->len > 0 ? g_ptr_array_index (rows, 0) : NULL);
  return rows->len > 0;
}

void
natter_mention_popover_move (NatterMentionPopover *self,
                             int                   delta)
{
  g_autoptr(GPtrArray) rows = NULL;
  GtkListBoxRow *selected;
  guint i = 0;

  g_return_if_fail (NATTER_IS_MENTION_POPOVER (self));

  rows = shown_rows (self);
  if (rows->len == 0)
    return;
  selected = gtk_list_box_get_selected_row (self->list);
  if (selected == NULL || !g_ptr_array_find (rows, selected, &i))
    i = delta > 0 ? rows->len - 1 : 0;
  i = (i + rows->len + (delta > 0 ? 1 : rows->len - 1)) % rows->len;
  gtk_list_box_select_row (self->list, g_ptr_array_index (rows, i));
}

gboolean
natter_mention_popover_pick (NatterMentionPopover *self)
{
  GtkListBoxRow *selected;

  g_return_val_if_fail (NATTER_IS_MENTION_POPOVER (self), FALSE);

  selected = gtk_list_box_get_selected_row (self->list);
  if (selected == NULL || !row_matches (selected, self))
    return FALSE;
  row_activated_cb (self, selected);
  return TRUE;
}

GStrv
natter_mention_popover_dup_shown (NatterMentionPopover *self)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr(GPtrArray) rows = NULL;

  g_return_val_if_fail (NATTER_IS_MENTION_POPOVER (self), NULL);

  rows = shown_rows (self);
  for (guint i = 0; i < rows->len; i++)
    g_strv_builder_add (builder, g_object_get_data (G_OBJECT (g_ptr_array_index (rows, i)), "name"));
  return g_strv_builder_end (builder);
}

static void
natter_mention_popover_finalize (GObject *object)
{
  NatterMentionPopover *self = NATTER_MENTION_POPOVER (object);

  g_free (self->query);
  G_OBJECT_CLASS (natter_mention_popover_parent_class)->finalize (object);
}

static void
natter_mention_popover_class_init (NatterMentionPopoverClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = natter_mention_popover_finalize;

  signals[PICKED] =
    g_signal_new ("picked", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
}

static void
natter_mention_popover_init (NatterMentionPopover *self)
{
  GtkWidget *scrolled = gtk_scrolled_window_new ();

  /* The composer keeps the focus: typing goes on filtering. */
  gtk_popover_set_autohide (GTK_POPOVER (self), FALSE);
  gtk_popover_set_has_arrow (GTK_POPOVER (self), FALSE);
  gtk_popover_set_position (GTK_POPOVER (self), GTK_POS_TOP);
  gtk_widget_add_css_class (GTK_WIDGET (self), "mention-popover");

  self->list = GTK_LIST_BOX (gtk_list_box_new ());
  gtk_list_box_set_selection_mode (self->list, GTK_SELECTION_SINGLE);
  gtk_list_box_set_activate_on_single_click (self->list, TRUE);
  gtk_list_box_set_filter_func (self->list, row_matches, self, NULL);
  gtk_widget_set_can_focus (GTK_WIDGET (self->list), FALSE);
  g_signal_connect_swapped (self->list, "row-activated", G_CALLBACK (row_activated_cb), self);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->list), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Mention"), -1);

  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scrolled), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_propagate_natural_height (GTK_SCROLLED_WINDOW (scrolled), TRUE);
  gtk_scrolled_window_set_max_content_height (GTK_SCROLLED_WINDOW (scrolled), 240);
  gtk_widget_set_size_request (scrolled, 220, -1);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), GTK_WIDGET (self->list));
  gtk_popover_set_child (GTK_POPOVER (self), scrolled);
}

GtkWidget *
natter_mention_popover_new (void)
{
  return g_object_new (NATTER_TYPE_MENTION_POPOVER, NULL);
}
