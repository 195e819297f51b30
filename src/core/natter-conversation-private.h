/* natter-conversation-private.h — what the store fills in
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "natter-conversation.h"

G_BEGIN_DECLS

typedef struct {
  NatterConversationType type;
  const char *target_id;
  const char *title;            /* NULL: the target id */
  const char *portrait_uri;
  NatterMessage *latest_message;
  guint unread_count;
  guint mention_count;
  gboolean pinned;
  gboolean muted;
  const char *draft;
  gint64 updated_time;
} NatterConversationData;

NatterConversation *natter_conversation_new         (const NatterConversationData *data);
/* Sets every field from @data, notifying what changed. */
void                natter_conversation_update      (NatterConversation           *self,
                                                     const NatterConversationData *data);
void                natter_conversation_update_from (NatterConversation           *self,
                                                     NatterConversation           *other);
/* Notifies latest-message: something a preview shows (the sender's name)
 * changed in it. */
void                natter_conversation_latest_changed (NatterConversation        *self);

G_END_DECLS
