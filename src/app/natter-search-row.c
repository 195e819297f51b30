/* natter-search-row.c — one message found by search, in the sidebar
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <adwaita.h>
#include <string.h>

#include "natter-format.h"
#include "natter-search-row.h"

struct _NatterSearchRow
{
  GtkWidget parent_instance;

  AdwAvatar *avatar;
  GtkLabel *title_label;
  GtkLabel *time_label;
  GtkLabel *text_label;
};

G_DEFINE_FINAL_TYPE (NatterSearchRow, natter_search_row, GTK_TYPE_WIDGET)

/* @text with every occurrence of a word of @query in bold (case-insensitive). */
static char *
highlight (const char *text,
           const char *query)
{
  g_auto(GStrv) words = g_str_tokenize_and_fold (query, NULL, NULL);
  g_autofree char *folded = g_utf8_casefold (text, -1);
  GString *out = g_string_new (NULL);
  const char *p = text;

  /* Case folding can change lengths; only highlight when it does not. */
  if (strlen (folded) != strlen (text) || words == NULL)
    {
      g_autofree char *escaped = g_markup_escape_text (text, -1);
      g_string_free (out, TRUE);
      return g_steal_pointer (&escaped);
    }

  while (*p != '\0')
    {
      gsize best_len = 0;

      for (guint i = 0; words[i] != NULL; i++)
        {
          gsize len = strlen (words[i]);
          if (len > best_len && strncmp (folded + (p - text), words[i], len) == 0)
            best_len = len;
        }
      if (best_len > 0)
        {
          g_autofree char *part = g_markup_escape_text (p, best_len);
          g_string_append_printf (out, "<b>%s</b>", part);
          p += best_len;
        }
      else
        {
          const char *next = g_utf8_next_char (p);
          g_autofree char *part = g_markup_escape_text (p, next - p);
          g_string_append (out, part);
          p = next;
        }
    }
  return g_string_free (out, FALSE);
}

void
natter_search_row_set (NatterSearchRow *self,
                       NatterMessage   *message,
                       const char      *title,
                       const char      *query)
{
  g_autofree char *preview = NULL;
  g_autofree char *markup = NULL;
  g_autofree char *time = NULL;

  g_return_if_fail (NATTER_IS_SEARCH_ROW (self));

  if (message == NULL)
    return;

  preview = natter_format_preview (message);
  markup = highlight (preview, query != NULL ? query : "");
  time = natter_format_list_time (natter_message_get_sent_time (message), 0);

  gtk_label_set_label (self->title_label, title);
  adw_avatar_set_text (self->avatar, title);
  gtk_label_set_markup (self->text_label, markup);
  gtk_label_set_label (self->time_label, time);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, preview,
                                  -1);
}

static void
natter_search_row_dispose (GObject *object)
{
  gtk_widget_dispose_template (GTK_WIDGET (object), NATTER_TYPE_SEARCH_ROW);
  /* template children that are not bound to a field */
  for (GtkWidget *child; (child = gtk_widget_get_first_child (GTK_WIDGET (object))) != NULL;)
    gtk_widget_unparent (child);
  G_OBJECT_CLASS (natter_search_row_parent_class)->dispose (object);
}

static void
natter_search_row_class_init (NatterSearchRowClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = natter_search_row_dispose;
  gtk_widget_class_set_template_from_resource (widget_class, "/im/natter/Natter/natter-search-row.ui");
  gtk_widget_class_bind_template_child (widget_class, NatterSearchRow, avatar);
  gtk_widget_class_bind_template_child (widget_class, NatterSearchRow, title_label);
  gtk_widget_class_bind_template_child (widget_class, NatterSearchRow, time_label);
  gtk_widget_class_bind_template_child (widget_class, NatterSearchRow, text_label);
  gtk_widget_class_set_css_name (widget_class, "searchrow");
}

static void
natter_search_row_init (NatterSearchRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
natter_search_row_new (void)
{
  return g_object_new (NATTER_TYPE_SEARCH_ROW, NULL);
}
