/* natter-toast-queue.h — toasts for an AdwToastOverlay, one at a time
 *
 * libadwaita 1.2 (Debian 12) frees a toast that is closed or replaced too
 * early while its slide-in still uses it; the queue hands the overlay a
 * toast only once the one before has gone (natter-toast-queue.c says why
 * and how).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define NATTER_TYPE_TOAST_QUEUE (natter_toast_queue_get_type ())

G_DECLARE_FINAL_TYPE (NatterToastQueue, natter_toast_queue, NATTER, TOAST_QUEUE, GObject)

NatterToastQueue *natter_toast_queue_new (AdwToastOverlay  *overlay);
/* Takes @toast, like adw_toast_overlay_add_toast(). */
void              natter_toast_queue_add (NatterToastQueue *self,
                                          AdwToast         *toast);

G_END_DECLS
