/* natter-test-portal.h — a stand-in xdg-desktop-portal for the UI tests
 *
 * Owns org.freedesktop.portal.Desktop on the test's private session bus
 * (in the test process, as the notification server is) with the Camera
 * (IsCameraPresent, AccessCamera, OpenPipeWireRemote) and Background
 * (RequestBackground) interfaces, answering each request with a Response
 * signal on its Request object as the real portal does. The app sees it
 * when NATTER_TEST_PORTALS=1 says it runs in a sandbox.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _NatterTestPortal NatterTestPortal;

/* Owns the name (the main loop runs until it is owned); a camera present
 * and every request granted. */
NatterTestPortal *natter_test_portal_new          (void);
void              natter_test_portal_free         (NatterTestPortal *portal);
void              natter_test_portal_set_camera   (NatterTestPortal *portal,
                                                   gboolean          present,
                                                   guint32           response);
void              natter_test_portal_set_background (NatterTestPortal *portal,
                                                     guint32           response);
/* What the Camera portal was asked, in order, space-separated
 * ("IsCameraPresent AccessCamera OpenPipeWireRemote"). */
const char       *natter_test_portal_get_log      (NatterTestPortal *portal);
/* OpenPipeWireRemote answers with one end of a socketpair whose other end
 * it closes at once (a remote without PipeWire behind it); this is a copy
 * of the end it sent, or -1. */
int               natter_test_portal_get_sent_fd  (NatterTestPortal *portal);
/* How many RequestBackground calls came; the options of the last, or
 * NULL. */
guint             natter_test_portal_get_background_requests (NatterTestPortal *portal);
GVariant         *natter_test_portal_get_background_options (NatterTestPortal *portal);

G_END_DECLS
