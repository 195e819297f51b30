/* natter-reactions.h — emoji reactions on the message-expansion model (#16)
 *
 * One expansion key per emoji: "r" and the emoji's UTF-8 bytes in hex (cut
 * to the 32 characters a key may have); its value a JSON array of the
 * reacting user ids. natter-cli and the app read and write them here.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "natter-client.h"
#include "natter-message.h"

G_BEGIN_DECLS

typedef struct {
  char  *emoji;
  GStrv  user_ids;   /* in the order they reacted, never empty */
} NatterReaction;

void        natter_reaction_free            (NatterReaction *reaction);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NatterReaction, natter_reaction_free)

char       *natter_reaction_key             (const char     *emoji);
/* The emoji of a reaction key; NULL for other keys (or a cut emoji). */
char       *natter_reaction_key_to_emoji    (const char     *key);
/* The message's reactions (NatterReaction), ordered by key; empty when
 * none. Values that are not arrays of strings count as nobody. */
GPtrArray  *natter_message_dup_reactions    (NatterMessage  *message);
/* TRUE when @user_id reacted with @emoji. */
gboolean    natter_message_has_reaction     (NatterMessage  *message,
                                             const char     *emoji,
                                             const char     *user_id);

/* Adds (or takes back) the user's @emoji reaction: a read-modify-write of
 * the message's list as this client knows it, then
 * natter_client_update_expansion_async(). Returns the updated message. */
void           natter_client_react_async    (NatterClient        *self,
                                             NatterMessage       *message,
                                             const char          *emoji,
                                             gboolean             add,
                                             GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data);
NatterMessage *natter_client_react_finish   (NatterClient        *self,
                                             GAsyncResult        *result,
                                             GError             **error);

G_END_DECLS
