/* natter-camera-portal.h — the camera inside Flatpak
 *
 * A sandbox sees no /dev/video*: org.freedesktop.portal.Camera says
 * whether there is a camera (IsCameraPresent), asks the user
 * (AccessCamera) and then opens a PipeWire remote that shows only the
 * cameras (OpenPipeWireRemote), whose fd the call's pipewiresrc reads
 * (natter_call_devices_set_camera_remote()).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define NATTER_CAMERA_PORTAL_ERROR (natter_camera_portal_error_quark ())

typedef enum {
  NATTER_CAMERA_PORTAL_ERROR_ABSENT,  /* no camera, or no portal to ask */
  NATTER_CAMERA_PORTAL_ERROR_DENIED,  /* the user (or the permission store) said no */
} NatterCameraPortalError;

GQuark natter_camera_portal_error_quark (void);

void   natter_camera_portal_open_async  (GDBusConnection     *bus,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data);
/* The PipeWire remote's fd (the caller's to close), or -1 with @error. */
int    natter_camera_portal_open_finish (GAsyncResult        *result,
                                         GError             **error);

G_END_DECLS
