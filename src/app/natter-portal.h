/* natter-portal.h — asking xdg-desktop-portal, inside Flatpak
 *
 * A portal request answers twice: the method returns a Request object's
 * path at once, and the user's answer comes later as that object's
 * Response signal (0 granted, 1 cancelled by the user, 2 refused
 * otherwise). natter_portal_request_async() subscribes to the signal
 * before calling (the path is known from the handle_token) and finishes
 * with the Response.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define NATTER_PORTAL_BUS_NAME    "org.freedesktop.portal.Desktop"
#define NATTER_PORTAL_OBJECT_PATH "/org/freedesktop/portal/desktop"

/* The Response codes. */
typedef enum {
  NATTER_PORTAL_RESPONSE_GRANTED   = 0,
  NATTER_PORTAL_RESPONSE_CANCELLED = 1,
  NATTER_PORTAL_RESPONSE_REFUSED   = 2,
} NatterPortalResponse;

/* Inside Flatpak (/.flatpak-info); NATTER_TEST_PORTALS=1 says so too, for
 * the tests' stand-in portals on their private bus. */
gboolean natter_portal_in_sandbox     (void);

/* Calls @interface.@method on the portal with @parameters (floating or
 * not), whose last member is the a{sv} of options: a handle_token is
 * added to it. */
void     natter_portal_request_async  (GDBusConnection     *bus,
                                       const char          *interface,
                                       const char          *method,
                                       GVariant            *parameters,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data);
/* The Response code (NatterPortalResponse, or another the portal sent)
 * and its results (a{sv}, when @results is not NULL); FALSE with @error
 * when the portal could not be asked. */
gboolean natter_portal_request_finish (GAsyncResult        *result,
                                       guint32             *response,
                                       GVariant           **results,
                                       GError             **error);

G_END_DECLS
