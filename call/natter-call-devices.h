/* natter-call-devices.h — cameras, microphones and speakers as elements
 *
 * GstDeviceMonitor's devices by display name (natter_call_list_devices()
 * in natter-call.h lists them).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gst/gst.h>

#include "natter-call.h"

G_BEGIN_DECLS

/* The device of @kind named @name (display name), else the first one
 * GstDeviceMonitor knows, as an element (a camera that only gives MJPEG
 * comes decoded); NULL when there is none. Blocks while it probes. */
GstElement *natter_call_device_make_element (NatterCallDevice  kind,
                                             const char       *name);

G_END_DECLS
