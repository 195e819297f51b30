/* natter-conversation.h — one row of the conversation list
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib-object.h>

#include "natter-message.h"

G_BEGIN_DECLS

#define NATTER_TYPE_CONVERSATION (natter_conversation_get_type ())

G_DECLARE_FINAL_TYPE (NatterConversation, natter_conversation, NATTER, CONVERSATION, GObject)

NatterConversationType natter_conversation_get_conversation_type (NatterConversation *self);
const char            *natter_conversation_get_target_id      (NatterConversation *self);
/* The user's or group's name when known, else the target id. Never NULL. */
const char            *natter_conversation_get_title          (NatterConversation *self);
/* NULL when unknown. */
const char            *natter_conversation_get_portrait_uri   (NatterConversation *self);
/* A summary of the latest message, for lists: its own small object (not the
 * store's shared one for the row: a new one comes with each change), with
 * id, uid, kind, sender (and sender-name), direction, sent status and time,
 * and the content a preview line needs (no image thumbnail, no nested user
 * or mention info, text cut to 200 characters). The full message is
 * natter_store_get_message_async (store, natter_message_get_message_id ()).
 * NULL for a conversation without messages (a draft, or cleared). */
NatterMessage         *natter_conversation_get_latest_message (NatterConversation *self);
guint                  natter_conversation_get_unread_count   (NatterConversation *self);
/* Unread messages that mention the user (or @all). */
guint                  natter_conversation_get_mention_count  (NatterConversation *self);
gboolean               natter_conversation_get_pinned         (NatterConversation *self);
gboolean               natter_conversation_get_muted          (NatterConversation *self);
/* "" when there is no draft. */
const char            *natter_conversation_get_draft          (NatterConversation *self);
/* ms: the latest message's sent time (or the draft's time). */
gint64                 natter_conversation_get_updated_time   (NatterConversation *self);

/* "1:alice": type and target, the key of a conversation. Free with g_free. */
char                  *natter_conversation_dup_key            (NatterConversation *self);
char                  *natter_conversation_key                (NatterConversationType  type,
                                                               const char             *target_id);

G_END_DECLS
