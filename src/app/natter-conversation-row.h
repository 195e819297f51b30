/* natter-conversation-row.h — one conversation in the sidebar
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>
#include <natter.h>

#include "natter-portraits.h"

G_BEGIN_DECLS

#define NATTER_TYPE_CONVERSATION_ROW (natter_conversation_row_get_type ())

G_DECLARE_FINAL_TYPE (NatterConversationRow, natter_conversation_row, NATTER, CONVERSATION_ROW, GtkWidget)

GtkWidget          *natter_conversation_row_new              (void);
NatterConversation *natter_conversation_row_get_conversation (NatterConversationRow *self);
/* Follows @conversation's changes until another one is set (NULL: none). */
/* @portraits (may be NULL) puts the portrait on the avatar. */
void                natter_conversation_row_set_conversation (NatterConversationRow *self,
                                                              NatterConversation    *conversation,
                                                              NatterPortraits       *portraits);
/* How many times a conversation was bound (set while another or none was). */
guint               natter_conversation_row_get_bindings     (NatterConversationRow *self);
/* Opens the context menu (pin, mute, mark read, delete). */
void                natter_conversation_row_popup_menu       (NatterConversationRow *self);

G_END_DECLS
