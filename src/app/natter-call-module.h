/* natter-call-module.h — the app's door to its call module (#17)
 *
 * Calls, sounds and voice recording (libnatter-call, the call window,
 * GStreamer) live in a GModule, libnatter-calls.so, that the app loads
 * the first time it needs one of them: a signed-in account's calls (after
 * the first frame), the message sound, a recording, the preferences'
 * device lists. The natter binary does not link GStreamer, so its ~16
 * libraries are not loaded and relocated before the window maps.
 *
 * The module finds the app's and libnatter's functions in the natter
 * binary (linked with --export-dynamic); its objects are plain GObjects to
 * the app, used only through this table.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

#include "natter.h"

G_BEGIN_DECLS

/* Bumped when the table changes: a module of another build is refused. */
#define NATTER_CALL_MODULE_VERSION 2

typedef struct
{
  guint version;

  /* NatterCallController: one per signed-in account, rings for its calls. */
  GObject  *(*controller_new)        (GtkApplication *application,
                                      NatterClient   *client);
  void      (*controller_start_call) (GObject        *controller,
                                      GtkWindow      *parent,
                                      const char     *peer_id,
                                      const char     *peer_name,
                                      gboolean        video);

  /* NatterSound: @uri is a resource:// URI (NATTER_CALL_MODULE_SOUND_*). */
  GObject  *(*sound_new)             (const char     *uri);
  void      (*sound_play)            (GObject        *sound,
                                      gboolean        loop);

  /* NatterVoiceRecorder: signals "finished" (GFile *, duration ms) and
   * "failed" (GError *), property "elapsed". */
  GObject  *(*recorder_new)          (GFile          *file,
                                      const char     *microphone);
  gboolean  (*recorder_start)        (GObject        *recorder,
                                      GError        **error);
  void      (*recorder_stop)         (GObject        *recorder);
  void      (*recorder_cancel)       (GObject        *recorder);
  int       (*recorder_get_elapsed)  (GObject        *recorder);

  /* A started GstDeviceMonitor for cameras, microphones and speakers, or
   * NULL, started on a worker (the probe can take seconds); the display
   * names of its devices of @klass ("Audio/Sink"…). */
  void      (*devices_monitor_new_async)  (GCancellable        *cancellable,
                                           GAsyncReadyCallback  callback,
                                           gpointer             user_data);
  GObject  *(*devices_monitor_new_finish) (GAsyncResult        *result,
                                           GError             **error);
  GStrv     (*devices_list)          (GObject        *monitor,
                                      const char     *klass);
  void      (*devices_monitor_stop)  (GObject        *monitor);

  /* Waits for the calls' helper threads (the DTLS key, the encoder
   * probe) and the sounds' worker: exiting under them crashes. */
  void      (*prepare_wait)          (void);
} NatterCallModule;

#define NATTER_CALL_MODULE_SOUND_MESSAGE "resource:///im/natter/Natter/sounds/message.oga"

/* The module's one exported symbol (call/natter-call-module-entry.c). */
typedef const NatterCallModule *(*NatterCallModuleEntry) (void);
#define NATTER_CALL_MODULE_ENTRY "natter_call_module_entry"

/* The module, loaded on the first call (from $NATTER_CALL_MODULE, the
 * build tree when natter runs from there, else the installed one). NULL,
 * with a warning once, when it cannot be loaded: the app works on without
 * calls and sounds. */
const NatterCallModule *natter_call_module_get  (void);
/* natter_call_module_get() on a worker thread (the dynamic linker's work
 * and its reads off the main thread); finish returns the module or NULL
 * (with @error only when cancelled). */
void                    natter_call_module_load_async  (GCancellable         *cancellable,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);
const NatterCallModule *natter_call_module_load_finish (GAsyncResult         *result,
                                                        GError              **error);
/* @ready (@object, the module or NULL): at once if the module is loaded,
 * else once a worker loaded it (or the start's preload did), @object kept
 * alive meanwhile. What the user asks for before the preload ended (a
 * sound, a recording) waits so, not on a dlopen on the main thread. */
typedef void (*NatterCallModuleReady) (gpointer                object,
                                       const NatterCallModule *module);
void                    natter_call_module_with        (gpointer               object,
                                                        NatterCallModuleReady  ready);
/* The module if it was loaded, else NULL: loads nothing. */
const NatterCallModule *natter_call_module_peek (void);
/* A program that links the module's code statically (the tests) hands its
 * table over: nothing is loaded then. */
void                    natter_call_module_use  (const NatterCallModule *module);

G_END_DECLS
