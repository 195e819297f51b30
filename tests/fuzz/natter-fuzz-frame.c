/* natter-fuzz-frame.c — libFuzzer target for frame decoding
 *
 * Whatever the bytes, decoding must not crash, leak or read out of bounds,
 * and a frame that decodes must encode and decode again to the same bytes.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-frame.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  for (int sender = NATTER_PEER_CLIENT; sender <= NATTER_PEER_SERVER; sender++)
    {
      g_autoptr(NatterFrame) frame = natter_frame_decode (data, size, sender, NULL);
      g_autoptr(GBytes) first = NULL;
      g_autoptr(GBytes) second = NULL;
      g_autoptr(NatterFrame) again = NULL;

      if (frame == NULL)
        continue;

      first = natter_frame_encode (frame, NULL);
      g_assert_nonnull (first);
      again = natter_frame_decode (g_bytes_get_data (first, NULL), g_bytes_get_size (first), sender, NULL);
      g_assert_nonnull (again);
      second = natter_frame_encode (again, NULL);
      g_assert_true (g_bytes_equal (first, second));
    }

  return 0;
}
