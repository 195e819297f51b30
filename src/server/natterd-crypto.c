/* natterd-crypto.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-crypto.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

void
natterd_random_bytes (gpointer buffer,
                      gsize    length)
{
  guint8 *out = buffer;

  while (length > 0)
    {
      ssize_t n = getrandom (out, length, 0);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          g_error ("getrandom: %s", g_strerror (errno));
        }
      out += n;
      length -= (gsize) n;
    }
}

char *
natterd_random_hex (gsize n_bytes)
{
  static const char digits[] = "0123456789abcdef";
  g_autofree guint8 *bytes = g_malloc (n_bytes);
  char *out = g_malloc (n_bytes * 2 + 1);

  natterd_random_bytes (bytes, n_bytes);
  for (gsize i = 0; i < n_bytes; i++)
    {
      out[2 * i] = digits[bytes[i] >> 4];
      out[2 * i + 1] = digits[bytes[i] & 15];
    }
  out[n_bytes * 2] = '\0';
  explicit_bzero (bytes, n_bytes);
  return out;
}

char *
natterd_random_string (const char *alphabet,
                       gsize       length)
{
  gsize size = strlen (alphabet);
  /* Bytes at or past the largest multiple of @size are drawn again, so
   * every character is equally likely. */
  guint limit = 256 - 256 % (guint) size;
  char *out = g_malloc (length + 1);
  gsize filled = 0;

  g_return_val_if_fail (size > 0 && size <= 256, NULL);

  while (filled < length)
    {
      guint8 bytes[64];

      natterd_random_bytes (bytes, sizeof bytes);
      for (gsize i = 0; i < sizeof bytes && filled < length; i++)
        if (bytes[i] < limit)
          out[filled++] = alphabet[bytes[i] % size];
    }
  out[length] = '\0';
  return out;
}

guint32
natterd_random_uint32 (void)
{
  guint32 value;

  natterd_random_bytes (&value, sizeof value);
  return value;
}

gboolean
natterd_secret_equal (gconstpointer a,
                      gsize         a_length,
                      gconstpointer b,
                      gsize         b_length)
{
  const volatile guint8 *x = a;
  const volatile guint8 *y = b;
  guint8 diff = 0;

  if (a_length != b_length)
    return FALSE;
  for (gsize i = 0; i < a_length; i++)
    diff |= x[i] ^ y[i];
  return diff == 0;
}

gboolean
natterd_secret_str_equal (const char *a,
                          const char *b)
{
  if (a == NULL || b == NULL)
    return FALSE;
  return natterd_secret_equal (a, strlen (a), b, strlen (b));
}

char *
natterd_hmac_sha256_hex (const char   *key,
                         gconstpointer data,
                         gsize         length)
{
  return g_compute_hmac_for_data (G_CHECKSUM_SHA256, (const guchar *) key, strlen (key),
                                  data, length);
}
