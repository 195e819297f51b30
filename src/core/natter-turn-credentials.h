/* natter-turn-credentials.h — time-limited STUN/TURN credentials for calls
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define NATTER_TYPE_TURN_CREDENTIALS (natter_turn_credentials_get_type ())

/* coturn REST secret scheme: username "expiry:userId",
 * password base64(HMAC-SHA1(secret, username)). */
typedef struct {
  char  *username;
  char  *password;
  guint  ttl;     /* seconds */
  GStrv  uris;    /* stun:/turn:/turns: URIs, NULL-terminated, maybe empty */
} NatterTurnCredentials;

GType                  natter_turn_credentials_get_type (void) G_GNUC_CONST;
NatterTurnCredentials *natter_turn_credentials_new      (const char            *username,
                                                         const char            *password,
                                                         guint                  ttl,
                                                         const char * const    *uris);
NatterTurnCredentials *natter_turn_credentials_copy     (const NatterTurnCredentials *self);
void                   natter_turn_credentials_free     (NatterTurnCredentials *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NatterTurnCredentials, natter_turn_credentials_free)

G_END_DECLS
