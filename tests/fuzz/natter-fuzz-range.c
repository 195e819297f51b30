/* natter-fuzz-range.c — libFuzzer target for HTTP Range on media downloads
 *
 * natterd_media_range() reads the Range header (through libsoup) and
 * decides what of the file to send. Input: 4 bytes of file size (little
 * endian), then the header's value. Whatever they are: no crash, no leak,
 * and a partial answer lies inside the file, so slicing it cannot read
 * out of bounds.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-fuzz.h"

#include "natterd-parse-private.h"

#include <string.h>

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  SoupMessageHeaders *headers;
  g_autofree char *value = NULL;
  goffset total, start = -1, end = -1;
  NatterdMediaRange range;

  natter_fuzz_quiet_logs ();
  if (size < 4)
    return 0;

  total = (goffset) data[0] | (goffset) data[1] << 8 | (goffset) data[2] << 16 |
          (goffset) data[3] << 24;
  value = natter_fuzz_string (data + 4, size - 4);
  /* An HTTP header has no line break (libsoup refuses one). */
  if (strpbrk (value, "\r\n") != NULL)
    return 0;

  headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);
  soup_message_headers_append (headers, "Range", value);

  range = natterd_media_range (headers, total, &start, &end);
  switch (range)
    {
    case NATTERD_MEDIA_RANGE_PARTIAL:
      g_assert_cmpint (start, >=, 0);
      g_assert_cmpint (start, <=, end);
      g_assert_cmpint (end, <, total);
      break;
    case NATTERD_MEDIA_RANGE_NONE:
      g_assert_null (soup_message_headers_get_one (headers, "Range"));
      break;
    case NATTERD_MEDIA_RANGE_UNSATISFIABLE:
      break;
    default:
      g_assert_not_reached ();
    }

  soup_message_headers_unref (headers);
  return 0;
}
