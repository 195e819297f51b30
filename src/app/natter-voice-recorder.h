/* natter-voice-recorder.h — records a voice message to Opus/Ogg
 *
 * autoaudiosrc → Opus → Ogg file (NATTER_VOICE_TEST_SOURCE=1 records a
 * test tone instead of the default microphone, for tests and machines
 * without one).
 * Signals: finished (GFile *file, int seconds) after stop(); failed (GError *).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define NATTER_TYPE_VOICE_RECORDER (natter_voice_recorder_get_type ())

G_DECLARE_FINAL_TYPE (NatterVoiceRecorder, natter_voice_recorder, NATTER, VOICE_RECORDER, GObject)

/* Records into @file (replaced) from @microphone (a device's display
 * name; NULL, empty or not there: the default one). */
NatterVoiceRecorder *natter_voice_recorder_new          (GFile                *file,
                                                         const char           *microphone);
/* A chosen microphone is looked up and opened on a worker (the first
 * lookup probes every device provider): start() then returns TRUE at once
 * and a failure to record comes as ::failed. */
gboolean             natter_voice_recorder_start        (NatterVoiceRecorder  *self,
                                                         GError              **error);
/* Finishes the file; ::finished follows. */
void                 natter_voice_recorder_stop         (NatterVoiceRecorder  *self);
/* Drops the recording and deletes the file; no signal. */
void                 natter_voice_recorder_cancel       (NatterVoiceRecorder  *self);
/* Seconds recorded so far (notify::elapsed about every second). */
int                  natter_voice_recorder_get_elapsed  (NatterVoiceRecorder  *self);

G_END_DECLS
