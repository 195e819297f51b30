/* natter-conversation-list.h — the conversation list as a GListModel
 *
 * A GListModel of NatterConversation: pinned first, then the latest message
 * time, newest first. Loads from the store at once (property loading), then
 * follows every change live.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "natter-client.h"
#include "natter-conversation.h"

G_BEGIN_DECLS

#define NATTER_TYPE_CONVERSATION_LIST (natter_conversation_list_get_type ())

G_DECLARE_FINAL_TYPE (NatterConversationList, natter_conversation_list, NATTER, CONVERSATION_LIST, GObject)

NatterConversationList *natter_conversation_list_new       (NatterClient *client);
/* Shows only these types (n_types 0: every type). */
void                    natter_conversation_list_set_types (NatterConversationList       *self,
                                                            const NatterConversationType *types,
                                                            gsize                         n_types);
/* Sum of the unread counts of the conversations shown, muted ones excluded. */
guint                   natter_conversation_list_get_unread_total (NatterConversationList *self);
/* Loading: until the first page (a screenful) is in; the rest follows at
 * once, and the list is complete when it is in (#17). */
gboolean                natter_conversation_list_get_loading (NatterConversationList *self);
gboolean                natter_conversation_list_get_complete (NatterConversationList *self);
/* Position of a conversation, or G_MAXUINT. */
guint                   natter_conversation_list_find      (NatterConversationList *self,
                                                            NatterConversationType  type,
                                                            const char             *target_id);

G_END_DECLS
