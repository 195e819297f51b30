/* natter-reaction-bar.h — a message's reaction chips: emoji and count
 *
 * The user's own reactions are highlighted; the tooltip names who reacted.
 * A click toggles the user's reaction through the row's ancestors' action
 * chat.react (parameter "(xsb)": message-id, emoji, add).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>
#include <natter.h>

G_BEGIN_DECLS

#define NATTER_TYPE_REACTION_BAR (natter_reaction_bar_get_type ())

G_DECLARE_FINAL_TYPE (NatterReactionBar, natter_reaction_bar, NATTER, REACTION_BAR, GtkWidget)

GtkWidget *natter_reaction_bar_new         (void);
/* Shows @message's reactions (hidden when it has none); @user_id is the
 * user's own id. */
void       natter_reaction_bar_set_message (NatterReactionBar *self,
                                            NatterMessage     *message,
                                            const char        *user_id);

G_END_DECLS
