/* natter-message-list.h — the messages of one conversation as a GListModel
 *
 * Oldest first. The newest page comes from the store at once; older pages
 * come with load_older (the store first, then server history); new messages
 * are appended live, status changes update the message objects in place,
 * and a recalled message is replaced by its RC:RcNtf.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "natter-client.h"
#include "natter-message.h"

G_BEGIN_DECLS

#define NATTER_TYPE_MESSAGE_LIST (natter_message_list_get_type ())

G_DECLARE_FINAL_TYPE (NatterMessageList, natter_message_list, NATTER, MESSAGE_LIST, GObject)

#define NATTER_MESSAGE_LIST_PAGE_SIZE 20

NatterMessageList     *natter_message_list_new                (NatterClient           *client,
                                                               NatterConversationType  type,
                                                               const char             *target_id);
/* A list read ahead of its chat's opening (#17): the store's newest page
 * and the live changes, nothing asked of the server, until activated;
 * natter_message_list_new() is both at once. */
NatterMessageList     *natter_message_list_prefetch           (NatterClient           *client,
                                                               NatterConversationType  type,
                                                               const char             *target_id);
void                   natter_message_list_activate           (NatterMessageList      *self);
gboolean               natter_message_list_get_active         (NatterMessageList      *self);
NatterConversationType natter_message_list_get_conversation_type (NatterMessageList *self);
const char            *natter_message_list_get_target_id      (NatterMessageList *self);
/* FALSE once neither the store nor the server has older messages. */
gboolean               natter_message_list_get_has_more       (NatterMessageList *self);
/* TRUE while a page is being loaded (the first one included). */
gboolean               natter_message_list_get_loading        (NatterMessageList *self);

/* Prepends up to NATTER_MESSAGE_LIST_PAGE_SIZE older messages; returns how
 * many were added (0 at the beginning). A call while one runs joins it. */
void                   natter_message_list_load_older_async   (NatterMessageList    *self,
                                                               GCancellable         *cancellable,
                                                               GAsyncReadyCallback   callback,
                                                               gpointer              user_data);
guint                  natter_message_list_load_older_finish  (NatterMessageList    *self,
                                                               GAsyncResult         *result,
                                                               GError              **error);
/* Position of a message by message-id, or G_MAXUINT. */
guint                  natter_message_list_find               (NatterMessageList *self,
                                                               gint64             message_id);

G_END_DECLS
