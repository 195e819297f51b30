/* natter-voice-player.h — play/pause and progress of a voice message
 *
 * Downloads the recording into the profile's cache on the first play and
 * plays it with GtkMediaFile (GStreamer).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>
#include <natter.h>

G_BEGIN_DECLS

#define NATTER_TYPE_VOICE_PLAYER (natter_voice_player_get_type ())

G_DECLARE_FINAL_TYPE (NatterVoicePlayer, natter_voice_player, NATTER, VOICE_PLAYER, GtkWidget)

GtkWidget *natter_voice_player_new    (NatterClient      *client,
                                       NatterMessage     *message);
/* Starts or pauses playback. */
void       natter_voice_player_toggle (NatterVoicePlayer *self);
gboolean   natter_voice_player_get_playing (NatterVoicePlayer *self);

G_END_DECLS
