/* natterd-crypto.h — random bytes from the kernel, constant-time compares
 *
 * Every key, secret, nonce and unguessable id natterd makes comes from
 * getrandom(2), never from GRand (whose state can be recovered from its
 * output); every comparison of a secret with what a client sent takes the
 * same time wherever they differ.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Fills @buffer from the kernel's CSPRNG; aborts if it cannot (it only
 * blocks before the pool is seeded, at early boot). */
void      natterd_random_bytes  (gpointer      buffer,
                                 gsize         length);
/* @n_bytes random bytes as 2×@n_bytes lowercase hex digits. */
char     *natterd_random_hex    (gsize         n_bytes);
/* @length characters drawn uniformly from @alphabet (≤ 256 characters). */
char     *natterd_random_string (const char   *alphabet,
                                 gsize         length);
guint32   natterd_random_uint32 (void);

/* Constant time in the contents (not in the lengths, which are public). */
gboolean  natterd_secret_equal  (gconstpointer a,
                                 gsize         a_length,
                                 gconstpointer b,
                                 gsize         b_length);
gboolean  natterd_secret_str_equal (const char *a,
                                    const char *b);

/* Lowercase hex HMAC-SHA256 of @data with @key. */
char     *natterd_hmac_sha256_hex (const char  *key,
                                   gconstpointer data,
                                   gsize        length);

G_END_DECLS
