/* natter-test-nats.h — a private nats-server for the cluster tests
 *
 * nats-server on 127.0.0.1 and a free port (loopback only); stopped in
 * natter_test_nats_free(). It can be stopped and started again on the
 * same port, to test that natterd nodes reconnect.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _NatterTestNats NatterTestNats;

NatterTestNats *natter_test_nats_start   (void);
/* nats://127.0.0.1:PORT */
const char     *natter_test_nats_get_url (NatterTestNats *self);
void            natter_test_nats_stop    (NatterTestNats *self);
void            natter_test_nats_restart (NatterTestNats *self);
void            natter_test_nats_free    (NatterTestNats *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NatterTestNats, natter_test_nats_free)

G_END_DECLS
