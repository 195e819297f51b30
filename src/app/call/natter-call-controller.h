/* natter-call-controller.h — calls in the app
 *
 * One per signed-in account: owns the NatterCallManager, rings for incoming
 * calls (in-app dialog, GNotification with Answer/Decline, ringtone) and
 * opens a NatterCallWindow for each call. The chat header's voice and
 * video buttons call natter_call_controller_start_call().
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

#include "natter-call.h"
#include "natter-call-window.h"

G_BEGIN_DECLS

#define NATTER_TYPE_CALL_CONTROLLER (natter_call_controller_get_type ())
G_DECLARE_FINAL_TYPE (NatterCallController, natter_call_controller, NATTER, CALL_CONTROLLER, GObject)

/* Adds the app.call-answer and app.call-decline actions (string: call id)
 * that the notification's buttons use. */
NatterCallController *natter_call_controller_new         (GtkApplication       *application,
                                                          NatterClient         *client);
NatterCallManager    *natter_call_controller_get_manager (NatterCallController *self);
/* The window of the live call, or NULL. */
NatterCallWindow     *natter_call_controller_get_window  (NatterCallController *self);
/* Whether the ringtone of an incoming call is playing. */
gboolean              natter_call_controller_get_ringing (NatterCallController *self);

/* Starts a call and shows its window (transient for @parent). A call that
 * cannot start is reported in a dialog on @parent; returns NULL then, and
 * when a video call inside Flatpak first asks the Camera portal (it
 * starts once the portal answered). */
NatterCallWindow     *natter_call_controller_start_call  (NatterCallController *self,
                                                          GtkWindow            *parent,
                                                          const char           *peer_id,
                                                          const char           *peer_name,
                                                          NatterCallMediaType   media_type);

G_END_DECLS
