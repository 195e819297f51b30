/* natter-timeline-sync.h — brings the user's group timelines up to date (natter.v2)
 *
 * Private to libnatter: NatterClient owns one, hands it every live group
 * message and starts it once the inbox replay of a connection is stored
 * (natter-timeline-sync.c says how it syncs).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "natter-client.h"

G_BEGIN_DECLS

#define NATTER_TYPE_TIMELINE_SYNC (natter_timeline_sync_get_type ())

G_DECLARE_FINAL_TYPE (NatterTimelineSync, natter_timeline_sync, NATTER, TIMELINE_SYNC, GObject)

/* libnatter fetches at most this many of a timeline after a gap or an
 * absence; older ones are history, loaded when a chat asks for them. */
#define NATTER_TIMELINE_FETCH_MAX 200

/* @client owns it (and is not owned by it). */
NatterTimelineSync *natter_timeline_sync_new         (NatterClient       *client);
/* The inbox replay of this connection is stored: ask which timelines moved
 * since the last complete sync and fetch what they lack;
 * natter_client_timelines_synced() once done. */
void                natter_timeline_sync_start       (NatterTimelineSync *self);
/* The connection is gone: what runs is dropped (a sync starts over). */
void                natter_timeline_sync_stop        (NatterTimelineSync *self);
gboolean            natter_timeline_sync_is_started  (NatterTimelineSync *self);
/* Started, and every timeline that moved is fetched (or failed). */
gboolean            natter_timeline_sync_is_done     (NatterTimelineSync *self);
/* A live group message (Deliver seq 0, timeline_seq set): stored, and a gap
 * before it fetched. TRUE when it took @message (a message to store);
 * FALSE for a command the client applies itself (its place on the
 * timeline is noted all the same). */
gboolean            natter_timeline_sync_deliver     (NatterTimelineSync *self,
                                                      NatterMessage      *message);
/* For tests: FALSE makes a device that does not sync after connecting
 * (live delivery and its gap fetches only). */
void                natter_timeline_sync_set_enabled (NatterTimelineSync *self,
                                                      gboolean            enabled);

G_END_DECLS
