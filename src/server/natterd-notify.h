/* natterd-notify.h — telling systemd how natterd is doing (sd_notify(3)),
 * without libsystemd: datagrams to $NOTIFY_SOCKET
 *
 * Under `Type=notify` natterd says READY=1 once it serves, RELOADING=1 and
 * READY=1 around a SIGHUP reload, STOPPING=1 when it stops, and WATCHDOG=1
 * every $WATCHDOG_USEC / 2 from the main loop, so a main loop that stops
 * turning stops the pings and systemd restarts natterd. Nothing is sent
 * when $NOTIFY_SOCKET is unset; nothing here ever blocks.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Sends @state ("READY=1\nSTATUS=...", newline-separated assignments).
 * FALSE when not run by systemd or the datagram could not be sent now. */
gboolean natterd_notify              (const char *state);
/* WATCHDOG=1 from the thread default main context every $WATCHDOG_USEC / 2,
 * when systemd asked for it (and $WATCHDOG_PID, if set, is us). Returns
 * the source id, 0 when there is no watchdog. */
guint    natterd_notify_watchdog_add (void);

G_END_DECLS
