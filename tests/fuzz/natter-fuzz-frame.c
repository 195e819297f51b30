/* natter-fuzz-frame.c — libFuzzer target for frame decoding
 *
 * Whatever the bytes, decoding must not crash, leak or read out of bounds,
 * a frame that decodes must encode and decode again to the same bytes, and
 * the arena unpacking natterd uses must agree with the plain one.
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
      NatterFrameArena arena;
      NatterFrame *in_arena;

      /* natterd unpacks what it reads into an arena (#17): the same bytes
       * must give the same verdict and, when valid, the same frame. */
      natter_frame_arena_init (&arena);
      in_arena = natter_frame_unpack_in (&arena, data, size, NULL);
      g_assert_true ((in_arena != NULL && natter_frame_validate (in_arena, sender, NULL)) == (frame != NULL));
      if (frame != NULL)
        {
          g_autoptr(GBytes) direct = natter_frame_encode (frame, NULL);
          g_autoptr(GBytes) arena_bytes = natter_frame_encode (in_arena, NULL);

          g_assert_true (g_bytes_equal (direct, arena_bytes));
        }
      natter_frame_arena_clear (&arena);

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
