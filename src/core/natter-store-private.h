/* natter-store-private.h — store calls only NatterClient makes
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "natter-store.h"

G_BEGIN_DECLS

/* The signed-in user: decides mentions and the direction of own messages. */
void           natter_store_set_own_user_id       (NatterStore          *self,
                                                   const char           *user_id);

/* add_message for a Deliver: the message and the inbox @seq (0 for none) are
 * committed together, so the seq acked is never ahead of what is stored. */
void           natter_store_add_delivered_async   (NatterStore          *self,
                                                   NatterMessage        *message,
                                                   guint64               seq,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
/* finish with natter_store_add_message_finish(). */

/* RC:ReadNtf from the peer: own SENT messages up to @read_time become READ. */
void           natter_store_mark_read_async       (NatterStore            *self,
                                                   NatterConversationType  type,
                                                   const char             *target_id,
                                                   gint64                  read_time,
                                                   GCancellable           *cancellable,
                                                   GAsyncReadyCallback     callback,
                                                   gpointer                user_data);
gboolean       natter_store_mark_read_finish      (NatterStore            *self,
                                                   GAsyncResult           *result,
                                                   GError                **error);

/* RC:RcCmd: the message with @message_uid becomes RC:RcNtf. Returns it, or
 * NULL without error when it is not stored here. */
void           natter_store_recall_async          (NatterStore          *self,
                                                   const char           *message_uid,
                                                   const char           *operator_id,
                                                   gint64                recall_time,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
/* finish with natter_store_get_message_finish(). */

/* One conversation of the server's list. */
typedef struct {
  NatterConversationType type;
  char *target_id;
  NatterMessage *latest_message;  /* may be NULL */
  /* Its content is the server's bounded preview (MESSAGE_FLAG_PREVIEW): a
   * row made from it is completed when the message itself comes. */
  gboolean latest_is_preview;
  guint unread_count;
  gboolean pinned;
  gboolean muted;
  gint64 updated_time;
} NatterServerConversation;

void           natter_server_conversation_free    (NatterServerConversation *conversation);

/* Applies the server's conversation list (a GPtrArray of
 * NatterServerConversation): unread counts, pinned, muted, latest messages. */
void           natter_store_merge_conversations_async  (NatterStore          *self,
                                                        GPtrArray            *conversations,
                                                        GCancellable         *cancellable,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);
gboolean       natter_store_merge_conversations_finish (NatterStore          *self,
                                                        GAsyncResult         *result,
                                                        GError              **error);

/* How many transactions committed with a sync of the WAL (the outbox and
 * drafts, which natterd does not have yet); any thread. */
guint          natter_store_get_synced_commits    (NatterStore          *self);

G_END_DECLS
