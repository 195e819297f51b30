/* natter-test-netns.h — run a call test where only loopback exists
 *
 * As root (CI, build-aux/dev), re-executes the test in a new network
 * namespace whose only interface is lo (`unshare --net`, `ip link set lo
 * up`), so no packet can leave the machine. Not for tests that need the
 * D-Bus session bus (its abstract socket stays in the old namespace).
 * NATTER_CALL_NETNS is set inside.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

void natter_test_enter_loopback_namespace (int    argc,
                                           char **argv);

G_END_DECLS
