/* natter-message-row.h — one message in the chat: a bubble, or a notice
 *
 * The row asks its ancestors for these actions (parameter: message-id "x"):
 * chat.retry, chat.open-image, chat.copy, chat.recall, chat.open-file,
 * chat.reply, chat.edit, chat.forward, chat.select, chat.delete-for-me,
 * chat.show-referred (a reply's quote clicked), and chat.react ("(xsb)":
 * message-id, emoji, add).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>
#include <natter.h>

#include "natter-portraits.h"

G_BEGIN_DECLS

#define NATTER_TYPE_MESSAGE_ROW (natter_message_row_get_type ())

G_DECLARE_FINAL_TYPE (NatterMessageRow, natter_message_row, NATTER, MESSAGE_ROW, GtkWidget)

GtkWidget     *natter_message_row_new         (void);
/* @previous: the message shown above (NULL for the first): decides the day
 * separator and whether this message starts a group. @show_sender: group
 * chats name the sender of each group. @client: for media downloads. */
void           natter_message_row_set_message (NatterMessageRow *self,
                                               NatterClient     *client,
                                               NatterPortraits  *portraits,
                                               NatterMessage    *message,
                                               NatterMessage    *previous,
                                               gboolean          show_sender);
NatterMessage *natter_message_row_get_message (NatterMessageRow *self);
/* Whether the row shows @message below @previous, as set_message() left it. */
gboolean       natter_message_row_is_bound_to (NatterMessageRow *self,
                                               NatterMessage    *message,
                                               NatterMessage    *previous);
/* How many times a message was set on the row (tests, #17). */
guint          natter_message_row_get_bindings (NatterMessageRow *self);
/* FALSE for protocol messages a chat does not show (a stored recall
 * command...): their rows stay empty. */
gboolean       natter_message_row_shows       (NatterMessage    *message);
/* The “Unread Messages” mark above the first message not read yet. */
void           natter_message_row_set_first_unread (NatterMessageRow *self,
                                                    gboolean          first_unread);
/* Briefly highlights the bubble (a search result jumped to). */
void           natter_message_row_flash       (NatterMessageRow *self);
/* Whether the Edit item is offered: an own text message, sent, within
 * the edit-window @client's server set (its default without a client). */
gboolean       natter_message_row_can_edit    (NatterMessage    *message,
                                               NatterClient     *client);
/* A reply's quote: who wrote the quoted message ("You", a name or the user
 * id) and its one-line preview ("Message recalled" for a recalled one). */
char          *natter_message_row_dup_referred_sender  (NatterMessage *reply,
                                                        NatterClient  *client);
char          *natter_message_row_dup_referred_snippet (NatterMessage *reply);
/* The quick reaction picker (NULL until React… was chosen). */
GtkWidget     *natter_message_row_get_reaction_picker  (NatterMessageRow *self);

G_END_DECLS
