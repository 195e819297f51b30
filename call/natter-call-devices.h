/* natter-call-devices.h — cameras, microphones and speakers as elements
 *
 * One GstDeviceMonitor per process (Video/Source, Audio/Source,
 * Audio/Sink; whichever providers exist: PipeWire, V4L2, PulseAudio,
 * ALSA), started once (natter_call_media_prepare() starts it on its
 * thread) and kept running: looking a device up is then a list walk, not a
 * probe, and its bus says when devices come and go. Devices by display
 * name (natter_call_list_devices() in natter-call.h lists them).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gst/gst.h>

#include "natter-call.h"

G_BEGIN_DECLS

/* The process's started monitor (the first call starts it and blocks while
 * the providers probe, ~0.1 s); NULL when no provider starts. Any thread. */
GstDeviceMonitor *natter_call_devices_get_monitor (void);

/* Whether the monitor's first start is over (found something or not):
 * the above returns at once from then on. Any thread, never blocks. */
gboolean    natter_call_devices_monitor_ready (void);

/* Starts the monitor on a worker thread, so that the main thread never
 * waits for the providers' probe; TRUE when some provider started. */
void        natter_call_devices_start_monitor_async  (GCancellable         *cancellable,
                                                      GAsyncReadyCallback   callback,
                                                      gpointer              user_data);
gboolean    natter_call_devices_start_monitor_finish (GAsyncResult         *result,
                                                      GError              **error);

/* Starts again, on a worker, the providers that did not start or found
 * nothing (a sound server or camera service that came up after Natter):
 * what they find comes as device-added messages on the monitor's bus
 * (each call's `devices-changed`). Done when the device list is asked for
 * (the call window's device menu), at most every 5 s; TRUE when it ran. */
void        natter_call_devices_recheck_async  (GCancellable         *cancellable,
                                                GAsyncReadyCallback   callback,
                                                gpointer              user_data);
gboolean    natter_call_devices_recheck_finish (GAsyncResult         *result,
                                                GError              **error);
/* The same on the calling thread (a worker's: it blocks). */
void        natter_call_devices_recheck        (void);

/* Whether the monitor knows any device of @kind now. */
gboolean    natter_call_device_exists       (NatterCallDevice  kind);

/* The device of @kind named @name (display name), else the system's
 * default (when the provider says) or the first one the monitor knows, as
 * an element (a camera that only gives MJPEG comes
 * decoded), already opened (READY) so that a missing, busy or refused
 * device shows here and not once the call runs; NULL when there is none
 * or it cannot be opened. */
GstElement *natter_call_device_make_element (NatterCallDevice  kind,
                                             const char       *name);

/* The above on a worker (opening a device may take seconds: a hung
 * driver or sound server), for the main thread; the element comes sunk
 * (a full reference, READY), or G_IO_ERROR_NOT_FOUND. */
void        natter_call_device_make_element_async  (NatterCallDevice      kind,
                                                    const char           *name,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
GstElement *natter_call_device_make_element_finish (GAsyncResult         *result,
                                                    GError              **error);
/* Takes @element (a device opened above, not needed any more) and closes
 * it on a worker. */
void        natter_call_device_close_element       (GstElement           *element);

/* Called once, on a thread of the camera's: @ready TRUE at the camera's
 * first frame, FALSE when it gave none for 5 s (the camera counts as
 * missing then). */
typedef void (*NatterCallCameraReady) (gboolean ready,
                                       gpointer user_data);

/* The portal's camera (a PipeWire node) may take seconds to give its first
 * frame, or never give one: when @camera (from
 * natter_call_device_make_element()) is such a camera and has not given a
 * frame yet, @ready will say when it does (or fails) and TRUE is returned;
 * otherwise FALSE and @ready is never called (@destroy is, at once). */
gboolean    natter_call_device_watch_first_frame (GstElement            *camera,
                                                  NatterCallCameraReady  ready,
                                                  gpointer               user_data,
                                                  GDestroyNotify         destroy);

/* The call is over: a camera of the portal's remote (from
 * natter_call_device_make_element()) stops now, its pipeline and our copy
 * of the remote's fd going on a worker, whoever still holds the element
 * (a message, a pending event); nothing for another element. */
void        natter_call_device_stop_camera  (GstElement        *camera);

/* The NatterCallDevice kind of a device the monitor reported; -1 for
 * another class. */
int         natter_call_device_get_kind     (GstDevice        *device);

/* Inside a sandbox the camera is not the monitor's but the one on the
 * PipeWire remote the Camera portal opened: @fd (taken; pipewiresrc
 * reads it), or -1 when the portal says there is none or refused it.
 * From the first call on, cameras come only from there. Any thread. */
void        natter_call_devices_set_camera_remote (int fd);
/* That remote's fd (still ours), or -1. */
int         natter_call_devices_get_camera_remote (void);

G_END_DECLS
