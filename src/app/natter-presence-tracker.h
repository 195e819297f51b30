/* natter-presence-tracker.h — the online status of the users the app
 * shows (#16), one tracker per NatterClient
 *
 * Widgets say whom they show (natter_presence_tracker_watch(), cheap on
 * every bind); the tracker subscribes in batches of at most 200 from an
 * idle, keeps at most 1,000 (the oldest watched are unsubscribed), renews
 * before expiry and retries what failed once connected again (libnatter
 * itself subscribes again after a reconnect).
 *
 * Signals:
 *   changed (const char *user_id)  its status (natter_client_lookup_presence())
 *   tick ()                        a minute passed: "last seen" texts age;
 *                                  one coarse timer for every widget
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <natter.h>

G_BEGIN_DECLS

#define NATTER_PRESENCE_MAX_IDS      200      /* per request (RongCloud) */
#define NATTER_PRESENCE_MAX_WATCHED  1000     /* per user (RongCloud) */
#define NATTER_PRESENCE_EXPIRY       86400    /* s a subscription is asked for */

#define NATTER_TYPE_PRESENCE_TRACKER (natter_presence_tracker_get_type ())

G_DECLARE_FINAL_TYPE (NatterPresenceTracker, natter_presence_tracker, NATTER, PRESENCE_TRACKER, GObject)

/* @client's tracker, made on first use; it lives as long as @client. */
NatterPresenceTracker *natter_presence_tracker_for      (NatterClient          *client);
void                   natter_presence_tracker_watch    (NatterPresenceTracker *self,
                                                         const char            *user_id);
/* Asks natterd again for every watched user (after one's own privacy
 * changed, which changes what one is shown). */
void                   natter_presence_tracker_refresh  (NatterPresenceTracker *self);
/* Subscribed to now (tests). */
guint                  natter_presence_tracker_get_n_watched (NatterPresenceTracker *self);
gboolean               natter_presence_tracker_is_watched (NatterPresenceTracker *self,
                                                           const char            *user_id);
gboolean               natter_presence_tracker_is_online (NatterPresenceTracker *self,
                                                          const char            *user_id);
/* "online", "last seen 5 minutes ago", "last seen yesterday at 14:02",
 * "offline" (no last seen known or shown); NULL if unknown or hidden
 * (the user hides it: nothing is claimed). */
char                  *natter_presence_tracker_describe  (NatterPresenceTracker *self,
                                                          const char            *user_id);
/* The same for @presence at @now_ms (tests). */
char                  *natter_presence_describe          (const NatterPresence  *presence,
                                                          gint64                 now_ms);

G_END_DECLS
