/* natter-mention-popover.h — whom "@" in a group's composer may mention
 *
 * A popover of a group's members (and "everyone" when offered), filtered
 * by what follows the "@", moved through with the keyboard by the
 * composer (it keeps the focus: the popover never takes it).
 * Signals:
 *   picked (const char *user_id, const char *name)   user_id NULL: everyone
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define NATTER_TYPE_MENTION_POPOVER (natter_mention_popover_get_type ())

G_DECLARE_FINAL_TYPE (NatterMentionPopover, natter_mention_popover, NATTER, MENTION_POPOVER, GtkPopover)

GtkWidget *natter_mention_popover_new            (void);
/* @ids and @names: as many each (a name may be the id); @everyone offers
 * "everyone" first. */
void       natter_mention_popover_set_candidates (NatterMentionPopover *self,
                                                  GPtrArray            *ids,
                                                  GPtrArray            *names,
                                                  gboolean              everyone);
/* Shows those whose name or id contains @query (any case), the first
 * selected; FALSE when nobody matches. */
gboolean   natter_mention_popover_filter         (NatterMentionPopover *self,
                                                  const char           *query);
/* Selects the next (@delta 1) or previous (-1) one shown. */
void       natter_mention_popover_move           (NatterMentionPopover *self,
                                                  int                   delta);
/* Emits ::picked for the selected one; FALSE when none is. */
gboolean   natter_mention_popover_pick           (NatterMentionPopover *self);
/* The names shown, in order (for tests and accessibility checks). */
GStrv      natter_mention_popover_dup_shown      (NatterMentionPopover *self);

G_END_DECLS
