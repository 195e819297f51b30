/* natter-sidebar.h — conversations, search, connection status
 *
 * Properties:
 *   client          NatterClient; NULL when signed out. Builds the list.
 *   conversations   NatterConversationList of the client (read-only)
 *   portraits       NatterPortraits of the client (read-only)
 *   conversation    the highlighted row's (the open chat's), or NULL
 *   user-id         shown under the title
 * The banner follows the client's connection status by itself.
 *
 * Signals:
 *   conversation-activated (int type, const char *target_id)
 *   message-activated (NatterMessage *message)   a search result
 *
 * Actions it installs for its rows (parameter "(is)" type, target):
 * sidebar.toggle-pinned, sidebar.toggle-muted, sidebar.mark-read, sidebar.delete.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>
#include <natter.h>

#include "natter-portraits.h"

G_BEGIN_DECLS

#define NATTER_TYPE_SIDEBAR (natter_sidebar_get_type ())

G_DECLARE_FINAL_TYPE (NatterSidebar, natter_sidebar, NATTER, SIDEBAR, AdwBin)

NatterClient           *natter_sidebar_get_client       (NatterSidebar          *self);
void                    natter_sidebar_set_client       (NatterSidebar          *self,
                                                         NatterClient           *client);
NatterConversationList *natter_sidebar_get_conversations (NatterSidebar         *self);
GtkListView            *natter_sidebar_get_list_view    (NatterSidebar          *self);
/* The avatars' pictures of this client (NULL while signed out). */
NatterPortraits        *natter_sidebar_get_portraits    (NatterSidebar          *self);
NatterConversation     *natter_sidebar_get_conversation (NatterSidebar          *self);
/* Highlights the row of @conversation (no signal), or none. */
void                    natter_sidebar_set_conversation (NatterSidebar          *self,
                                                         NatterConversation     *conversation);
/* Activates the next (+1) or previous (-1) conversation; FALSE at an end. */
gboolean                natter_sidebar_activate_relative (NatterSidebar         *self,
                                                         int                     delta);
void                    natter_sidebar_start_search     (NatterSidebar          *self);
/* Returns TRUE when a search was open. */
gboolean                natter_sidebar_stop_search      (NatterSidebar          *self);
const char             *natter_sidebar_get_user_id      (NatterSidebar          *self);
void                    natter_sidebar_set_user_id      (NatterSidebar          *self,
                                                         const char             *user_id);
/* The header bar: the window shows window buttons on it when unfolded. */
AdwHeaderBar           *natter_sidebar_get_header_bar   (NatterSidebar          *self);

G_END_DECLS
