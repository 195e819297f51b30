/* natter-call-window.h — the window of one call
 *
 * Remote video (or the peer's avatar for voice calls and while their camera
 * is off), local preview, state and timer, mute, camera, answer and hang up.
 * Closing the window ends the call; the window closes itself shortly after
 * the call ended.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

#include "natter-call.h"

G_BEGIN_DECLS

#define NATTER_TYPE_CALL_WINDOW (natter_call_window_get_type ())
G_DECLARE_FINAL_TYPE (NatterCallWindow, natter_call_window, NATTER, CALL_WINDOW, AdwWindow)

/* @peer_name: what to show for the peer (falls back to the peer id). */
NatterCallWindow *natter_call_window_new      (NatterCall       *call,
                                               const char       *peer_name);
NatterCall       *natter_call_window_get_call (NatterCallWindow *self);
/* Why the call has no camera when it is not simply absent ("Camera
 * access denied"); NULL: "No camera found". */
void              natter_call_window_set_camera_note (NatterCallWindow *self,
                                                      const char       *note);
/* Several accounts signed in: the title names the one in the call. */
void              natter_call_window_set_account (NatterCallWindow *self,
                                                  const char       *account);
/* The peer's picture (their portrait) on the avatar; NULL: initials. */
void              natter_call_window_set_peer_picture (NatterCallWindow *self,
                                                       GdkPaintable     *picture);
/* Frames shown so far of the remote video (tests). */
guint             natter_call_window_get_remote_frames (NatterCallWindow *self);

G_END_DECLS
