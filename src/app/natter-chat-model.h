/* natter-chat-model.h — a NatterMessageList as the chat view shows it
 *
 * Passes the messages through unchanged, but reports each change as also
 * touching the message after it: a row's day separator and sender grouping
 * depend on the message before it, so that row must be bound again when an
 * older page is prepended or a neighbour changes.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define NATTER_TYPE_CHAT_MODEL (natter_chat_model_get_type ())

G_DECLARE_FINAL_TYPE (NatterChatModel, natter_chat_model, NATTER, CHAT_MODEL, GObject)

NatterChatModel *natter_chat_model_new       (GListModel      *messages);
GListModel      *natter_chat_model_get_model (NatterChatModel *self);

G_END_DECLS
