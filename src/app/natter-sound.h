/* natter-sound.h — one of the app's bundled sounds, played with GStreamer
 *
 * The message sound and the ringtone are ours, in the GResource
 * (data/sounds, made by build-aux/make-sounds), so they play the same in
 * Flatpak and outside it: the file's bytes out of the GResource through
 * appsrc and decodebin (not GStreamer's GIO source), to the system's
 * audio output (autoaudiosink) or to the sink @sink_description names
 * (the tests' fakesink). Each play's pipeline is built, started and torn
 * down on a worker thread: plugins load and the sound card opens off the
 * GTK main thread. Main thread API.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define NATTER_SOUND_MESSAGE  "resource:///im/natter/Natter/sounds/message.oga"
#define NATTER_SOUND_RINGTONE "resource:///im/natter/Natter/sounds/ringtone.oga"

#define NATTER_TYPE_SOUND (natter_sound_get_type ())

G_DECLARE_FINAL_TYPE (NatterSound, natter_sound, NATTER, SOUND, GObject)

/* @uri: a resource:// URI. @sink_description: a gst_parse_launch() sink,
 * or NULL for the default output. */
NatterSound *natter_sound_new         (const char  *uri,
                                       const char  *sink_description);
/* From the start; @loop: again at its end, until stopped. */
void         natter_sound_play        (NatterSound *self,
                                       gboolean     loop);
void         natter_sound_stop        (NatterSound *self);
/* Playing (asked to, not ended, stopped or failed). */
gboolean     natter_sound_get_playing (NatterSound *self);
/* How many times it reached its end (the tests: it really played). */
guint        natter_sound_get_ends    (NatterSound *self);
/* Sounds' pipelines alive in the process (the tests: none outlives the
 * window that played it; their teardown on the worker takes a moment). */
guint        natter_sound_get_n_pipelines (void);
/* Until the sounds' worker did all it was asked (the last pipelines torn
 * down): before exit, as GStreamer under a state change crashes then. */
void         natter_sound_wait            (void);

G_END_DECLS
