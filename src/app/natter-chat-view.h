/* natter-chat-view.h — one conversation: header, history, composer
 *
 * Properties:
 *   client        NatterClient whose chats it opens; another one (or NULL)
 *                 closes the open chat, keeping its draft
 *   conversation  the open chat's NatterConversation (read-only), NULL
 *                 until it exists (a new chat before its first message)
 *   portraits     where senders' pictures come from (the sidebar's)
 *
 * Signal: show-toast (const char *text)   copied, sending, a failure
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>
#include <natter.h>

#include "natter-composer.h"
#include "natter-portraits.h"

G_BEGIN_DECLS

#define NATTER_TYPE_CHAT_VIEW (natter_chat_view_get_type ())

G_DECLARE_FINAL_TYPE (NatterChatView, natter_chat_view, NATTER, CHAT_VIEW, AdwBin)

NatterClient          *natter_chat_view_get_client      (NatterChatView         *self);
void                   natter_chat_view_set_client      (NatterChatView         *self,
                                                         NatterClient           *client);
/* Shows the conversation (type, target_id) of the client; @conversation
 * may be NULL (the target id is shown until it exists), or the one that
 * appeared for the chat already open. Saves the draft of the previous
 * conversation. */
void                   natter_chat_view_open            (NatterChatView         *self,
                                                         NatterConversationType  type,
                                                         const char             *target_id,
                                                         NatterConversation     *conversation);
/* Saves the draft and shows nothing. */
void                   natter_chat_view_close           (NatterChatView         *self);
NatterConversationType natter_chat_view_get_conversation_type (NatterChatView   *self);
/* NULL when nothing is open. */
const char            *natter_chat_view_get_target_id   (NatterChatView         *self);
NatterMessageList     *natter_chat_view_get_messages    (NatterChatView         *self);
/* NULL until the conversation exists (a new chat before its first message). */
NatterConversation    *natter_chat_view_get_conversation (NatterChatView        *self);
GtkListView           *natter_chat_view_get_list_view   (NatterChatView         *self);
NatterComposer        *natter_chat_view_get_composer    (NatterChatView         *self);
/* Scrolls to a message (loading older pages until it is there) and flashes it. */
void                   natter_chat_view_show_message    (NatterChatView         *self,
                                                         gint64                  message_id);
void                   natter_chat_view_scroll_to_bottom (NatterChatView        *self);
/* TRUE when the newest message is in view. */
gboolean               natter_chat_view_get_at_bottom   (NatterChatView         *self);
AdwHeaderBar          *natter_chat_view_get_header_bar  (NatterChatView         *self);
const char            *natter_chat_view_get_title       (NatterChatView         *self);
NatterPortraits       *natter_chat_view_get_portraits   (NatterChatView         *self);
void                   natter_chat_view_set_portraits   (NatterChatView         *self,
                                                         NatterPortraits        *portraits);
/* The back button, for the folded (one pane) layout. */
void                   natter_chat_view_set_show_back   (NatterChatView         *self,
                                                         gboolean                show_back);
/* Where the calls part adds its call buttons (end of the header bar). */
GtkBox                *natter_chat_view_get_header_box  (NatterChatView         *self);
/* Sends @files as photos (as_images) or files, with progress toasts. */
void                   natter_chat_view_send_files      (NatterChatView         *self,
                                                         GListModel             *files,
                                                         gboolean                as_images);
/* Reads the first conversations' newest pages ahead of their opening
 * (call it once the window shows what it has); how many are read. */
void                   natter_chat_view_prefetch        (NatterChatView         *self,
                                                         GListModel             *conversations);
guint                  natter_chat_view_get_n_prefetched (NatterChatView        *self);
/* Makes a screenful of message rows at idle, so the first chat opened
 * finds them made, then rehearses that open with messages read ahead
 * (call it once the window shows what it has; again to rehearse when
 * nothing was read ahead the first time); how many rows were rehearsed. */
void                   natter_chat_view_warm_rows       (NatterChatView         *self);
guint                  natter_chat_view_get_n_rehearsed (NatterChatView         *self);

G_END_DECLS
