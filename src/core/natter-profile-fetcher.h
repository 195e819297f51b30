/* natter-profile-fetcher.h — asks natterd for the names the user sees
 *
 * Private to libnatter: NatterClient owns one and tells it what the user
 * sees; it asks in the background (natter-profile-fetcher.c says when).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "natter-client.h"

G_BEGIN_DECLS

#define NATTER_TYPE_PROFILE_FETCHER (natter_profile_fetcher_get_type ())

G_DECLARE_FINAL_TYPE (NatterProfileFetcher, natter_profile_fetcher, NATTER, PROFILE_FETCHER, GObject)

/* @client owns the fetcher (and is not owned by it). */
NatterProfileFetcher *natter_profile_fetcher_new             (NatterClient           *client);
/* Each time the client is connected. */
void                  natter_profile_fetcher_connected       (NatterProfileFetcher   *self);
/* A message stored or shown: its sender and conversation want names. */
void                  natter_profile_fetcher_note            (NatterProfileFetcher   *self,
                                                              NatterMessage          *message);
/* A chat was opened: its user's or group's name, if not asked lately. */
void                  natter_profile_fetcher_opened          (NatterProfileFetcher   *self,
                                                              NatterConversationType  type,
                                                              const char             *target_id);
/* An NT:ProfileNtf from natterd: its sender's new name and portrait are
 * stored at once (one naming anybody else is ignored). */
void                  natter_profile_fetcher_changed         (NatterProfileFetcher   *self,
                                                              NatterMessage          *message);
/* How old a name may be before connecting or opening its chat asks again
 * (default 10 minutes; tests make it 0). */
void                  natter_profile_fetcher_set_refresh_age (NatterProfileFetcher   *self,
                                                              gint64                  age_ms);

G_END_DECLS
