/* natter-window.h — the window of one profile
 *
 * Sign-in page until the profile has an account, then the adaptive main
 * view: conversations on the left, the open chat on the right (one pane at
 * a time on narrow screens). Owns the profile's NatterSession (which owns
 * its NatterClient), NatterNotifier and call controller.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>
#include <natter.h>

#include "natter-account.h"
#include "natter-application.h"
#include "natter-chat-view.h"
#include "natter-session.h"
#include "natter-sidebar.h"

G_BEGIN_DECLS

#define NATTER_TYPE_WINDOW (natter_window_get_type ())

G_DECLARE_FINAL_TYPE (NatterWindow, natter_window, NATTER, WINDOW, AdwApplicationWindow)

NatterWindow   *natter_window_new               (NatterApplication      *application,
                                                 const char             *profile_dir);
NatterSession  *natter_window_get_session       (NatterWindow           *self);
NatterAccount  *natter_window_get_account       (NatterWindow           *self);
/* NULL while signed out. */
NatterClient   *natter_window_get_client        (NatterWindow           *self);
NatterSidebar  *natter_window_get_sidebar       (NatterWindow           *self);
NatterChatView *natter_window_get_chat_view     (NatterWindow           *self);
/* "loading", "sign-in" or "main". */
const char     *natter_window_get_page          (NatterWindow           *self);
/* Opens a chat (creating nothing until a message is sent); @message_id
 * non-zero scrolls to that message. */
void            natter_window_open_conversation (NatterWindow           *self,
                                                 NatterConversationType  type,
                                                 const char             *target_id,
                                                 gint64                  message_id);
void            natter_window_start_call        (NatterWindow           *self,
                                                 const char             *peer_id,
                                                 const char             *peer_name,
                                                 gboolean                video);
void            natter_window_mark_read         (NatterWindow           *self,
                                                 NatterConversationType  type,
                                                 const char             *target_id);
void            natter_window_add_toast         (NatterWindow           *self,
                                                 const char             *text);

G_END_DECLS
