/* natter-test-notifications.h — a notification server for the tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The session bus of a test has no notification server: this one, in the
 * test process, takes both names GNotification may talk to
 * (org.gtk.Notifications and org.freedesktop.Notifications) and keeps
 * what it is sent. FALSE without a session bus. */
gboolean  natter_test_notifications_start        (void);
/* Both names are ours. */
gboolean  natter_test_notifications_ready        (void);
/* How many notifications came since the start or the last forget. */
guint     natter_test_notifications_count        (void);
/* Some notification has @text in its title or body. */
gboolean  natter_test_notifications_has          (const char *text);
/* The a{sv} of the last org.gtk.Notifications one with @text in its title
 * or body (NULL: any), or NULL (owned by the server). */
GVariant *natter_test_notifications_lookup       (const char *text);
/* How many were taken back, and whether the one of @id was. */
guint     natter_test_notifications_n_withdrawn  (void);
gboolean  natter_test_notifications_withdrawn    (const char *id);
void      natter_test_notifications_forget       (void);

G_END_DECLS
