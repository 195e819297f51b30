/* natter-notifier.h — desktop notifications for a profile's messages
 *
 * No widgets (as GNOME Calls' CallsNotifier). Follows its client's
 * incoming messages: each counted one that is not muted, not replayed
 * from offline, and not on screen already (::message-in-view) becomes a
 * GNotification, one per conversation, with the sender and a preview
 * (as the settings say, and a sound) and two actions that name the
 * profile: app.open-conversation and app.mark-conversation-read, "(sis)".
 * A conversation read anywhere (here, or on another device) takes its
 * notification back, and so does a new client (signing out).
 *
 * Signal: message-in-view (NatterMessage *message) → gboolean
 *   TRUE when @message is on screen already: no notification.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>
#include <natter.h>

G_BEGIN_DECLS

#define NATTER_TYPE_NOTIFIER (natter_notifier_get_type ())

G_DECLARE_FINAL_TYPE (NatterNotifier, natter_notifier, NATTER, NOTIFIER, GObject)

NatterNotifier *natter_notifier_new        (const char             *profile_dir);
/* NULL while signed out. */
NatterClient   *natter_notifier_get_client (NatterNotifier         *self);
void            natter_notifier_set_client (NatterNotifier         *self,
                                            NatterClient           *client);
/* Takes back the notification of that conversation, if any. */
void            natter_notifier_withdraw   (NatterNotifier         *self,
                                            NatterConversationType  type,
                                            const char             *target_id);
/* The notification's “Mark as Read”: reads it without opening it. */
void            natter_notifier_mark_read  (NatterNotifier         *self,
                                            NatterConversationType  type,
                                            const char             *target_id);

G_END_DECLS
