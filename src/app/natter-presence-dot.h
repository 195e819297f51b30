/* natter-presence-dot.h — the green dot on an online user's avatar (#16)
 *
 * Put over the avatar (a GtkOverlay child at its bottom end corner); it
 * shows while its user is online, as the client's NatterPresenceTracker
 * says, and asks the tracker to watch the user (batched, no request of
 * its own).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>
#include <natter.h>

G_BEGIN_DECLS

#define NATTER_TYPE_PRESENCE_DOT (natter_presence_dot_get_type ())

G_DECLARE_FINAL_TYPE (NatterPresenceDot, natter_presence_dot, NATTER, PRESENCE_DOT, GtkWidget)

GtkWidget *natter_presence_dot_new      (void);
/* NULL @client or @user_id: nobody, hidden. */
void       natter_presence_dot_set_user (NatterPresenceDot *self,
                                         NatterClient      *client,
                                         const char        *user_id);
/* An avatar in an overlay with a dot for @user_id over it. */
GtkWidget *natter_presence_dot_wrap     (GtkWidget         *avatar,
                                         NatterClient      *client,
                                         const char        *user_id);

G_END_DECLS
