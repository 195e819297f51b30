/* natter-turn-credentials.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-turn-credentials.h"

G_DEFINE_BOXED_TYPE (NatterTurnCredentials, natter_turn_credentials,
                     natter_turn_credentials_copy, natter_turn_credentials_free)

NatterTurnCredentials *
natter_turn_credentials_new (const char         *username,
                             const char         *password,
                             guint               ttl,
                             const char * const *uris)
{
  NatterTurnCredentials *self = g_new0 (NatterTurnCredentials, 1);
  const char * const empty[] = { NULL };

  self->username = g_strdup (username ? username : "");
  self->password = g_strdup (password ? password : "");
  self->ttl = ttl;
  self->uris = g_strdupv ((char **) (uris ? uris : empty));

  return self;
}

NatterTurnCredentials *
natter_turn_credentials_copy (const NatterTurnCredentials *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return natter_turn_credentials_new (self->username, self->password, self->ttl,
                                      (const char * const *) self->uris);
}

void
natter_turn_credentials_free (NatterTurnCredentials *self)
{
  if (self == NULL)
    return;

  g_free (self->username);
  g_free (self->password);
  g_strfreev (self->uris);
  g_free (self);
}
