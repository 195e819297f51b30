/* natter-search-row.h — one message found by search, in the sidebar
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>
#include <natter.h>

G_BEGIN_DECLS

#define NATTER_TYPE_SEARCH_ROW (natter_search_row_get_type ())

G_DECLARE_FINAL_TYPE (NatterSearchRow, natter_search_row, NATTER, SEARCH_ROW, GtkWidget)

GtkWidget *natter_search_row_new (void);
/* @title: the conversation's title; @query: the words to highlight. */
void       natter_search_row_set (NatterSearchRow *self,
                                  NatterMessage   *message,
                                  const char      *title,
                                  const char      *query);

G_END_DECLS
