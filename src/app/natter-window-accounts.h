/* natter-window-accounts.h — the window's way into accounts, contacts
 * and groups (#14)
 *
 * Actions win.contacts, win.new-group, win.profile, win.group-details,
 * win.block and win.unblock; a Contacts button with a badge for
 * incoming requests in the sidebar's header, reloaded when connected and
 * when an RC:ContactNtf arrives; a chat menu with group details or
 * blocking, added when the window makes its chat view. Kept apart from
 * natter-window.c, which only calls these three.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "natter-window.h"

G_BEGIN_DECLS

void natter_window_accounts_install_actions (GtkWidgetClass *widget_class);
void natter_window_accounts_attach          (NatterWindow   *window,
                                             GSignalGroup   *client_signals);
void natter_window_accounts_attach_chat_view (NatterWindow   *window,
                                              NatterChatView *chat);
void natter_window_accounts_update_chat_actions (NatterWindow *window);

G_END_DECLS
