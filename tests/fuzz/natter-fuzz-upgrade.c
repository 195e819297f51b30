/* natter-fuzz-upgrade.c — libFuzzer target for natterd's WebSocket
 * upgrade request parser (natterd_upgrade_parse(), natterd-socket.c)
 *
 * The input is what a stranger's connection starts with, as natterd peeks
 * at it: the bytes in a buffer of exactly their size and the one byte the
 * parser may write after them, so ASan sees a read or write past either.
 * natterd peeks at most max-header + 1 bytes; longer inputs are cut there.
 *
 * Whatever the bytes: no crash, no leak, and an answer that holds
 * together: a refusal has an HTTP error status and a reason, an upgrade a
 * target, a valid key and a request length within the input.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-fuzz.h"

#include <string.h>

#include "natterd-parse-private.h"

/* natterd's defaults: [server] ws-path and [limits] max-header-bytes. */
#define WS_PATH "/ws"
#define MAX_HEADER 8192

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autofree char *buffer = NULL;
  NatterdUpgrade upgrade;
  NatterdUpgradeKind kind;

  natter_fuzz_quiet_logs ();
  size = MIN (size, MAX_HEADER + 1);
  buffer = g_malloc (size + 1);
  memcpy (buffer, data, size);

  kind = natterd_upgrade_parse (buffer, size, MAX_HEADER, WS_PATH, &upgrade);
  switch (kind)
    {
    case NATTERD_UPGRADE_WAIT:
      g_assert_cmpuint (size, <=, MAX_HEADER);
      break;
    case NATTERD_UPGRADE_OTHER:
      break;
    case NATTERD_UPGRADE_REFUSE:
      g_assert_cmpuint (upgrade.status, >=, 400);
      g_assert_cmpuint (upgrade.status, <, 600);
      g_assert_nonnull (upgrade.reason);
      /* It goes into the answer's body with its length. */
      g_assert_cmpuint (strlen (upgrade.reason), >, 0);
      break;
    case NATTERD_UPGRADE_OURS:
      g_assert_cmpuint (upgrade.length, >, 0);
      g_assert_cmpuint (upgrade.length, <=, size);
      g_assert_nonnull (upgrade.target);
      g_assert_true (g_str_has_prefix (upgrade.target, WS_PATH));
      g_assert_cmpuint (strlen (upgrade.key), ==, 24);
      if (upgrade.protocols != NULL)
        g_assert_cmpuint (strlen (upgrade.protocols), <, 2 * MAX_HEADER);
      break;
    default:
      g_assert_not_reached ();
    }
  natterd_upgrade_clear (&upgrade);
  return 0;
}
