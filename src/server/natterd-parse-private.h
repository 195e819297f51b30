/* natterd-parse-private.h — parsers of what strangers send, declared
 * outside the files that use them so the fuzz targets in tests/fuzz call
 * the very code natterd runs
 *
 * (The others are public already: natterd_token_check() in
 * natterd-directory.h, natterd_history_parse_date() in
 * natterd-server-private.h; WebSocket framing is fuzzed through a real
 * NatterdSocket, its upgrade request through natterd_upgrade_parse().)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <libsoup/soup.h>

#include "natterd-store.h"

G_BEGIN_DECLS

/* natterd-api.c: an application/x-www-form-urlencoded body, appended to
 * @names and @values (g_free'd strings, in order, a repeated name once per
 * value); FALSE when it is not form data: GUriParamsIter with
 * G_URI_PARAMS_WWW_FORM refuses a bad %-escape, what does not decode to
 * UTF-8 (a NUL included) and a pair without '=' (so an empty one too). */
gboolean natterd_api_parse_form (GBytes    *body,
                                 GPtrArray *names,
                                 GPtrArray *values);

/* natterd-queries.c: the conversation list cursor "pinned:time:type:target"
 * natterd hands out with a page and takes back for the next one. */
char     *natterd_conversation_cursor_format (const NatterdConversation *conversation);
gboolean  natterd_conversation_cursor_parse  (const char                *cursor,
                                              NatterdConversationsRead  *read);

/* natterd-media.c: what a download of @total bytes answers to @request's
 * Range header. */
typedef enum {
  NATTERD_MEDIA_RANGE_NONE,           /* 200, the whole file */
  NATTERD_MEDIA_RANGE_PARTIAL,        /* 206, bytes [*start, *end] */
  NATTERD_MEDIA_RANGE_UNSATISFIABLE,  /* 416 */
} NatterdMediaRange;

NatterdMediaRange natterd_media_range (SoupMessageHeaders *request,
                                       goffset             total,
                                       goffset            *start,
                                       goffset            *end);

/* natterd-socket.c: what the first bytes of a plain TCP connection
 * (peeked at, @length of them) ask for. @data must have room for one byte
 * more: the request is cut into NUL-terminated strings in place, and
 * @upgrade points into it (natterd_upgrade_clear() frees what it owns). */
typedef enum {
  NATTERD_UPGRADE_WAIT,    /* not all of the headers yet */
  NATTERD_UPGRADE_OTHER,   /* not a GET of the WebSocket path: libsoup's */
  NATTERD_UPGRADE_REFUSE,  /* ours, refused with status, extra_headers, reason */
  NATTERD_UPGRADE_OURS,    /* a valid upgrade: target, protocols, key */
} NatterdUpgradeKind;

typedef struct
{
  gsize       length;         /* of the request, once its headers are whole */
  guint       status;
  const char *extra_headers;  /* "Name: value\r\n" lines, or NULL */
  const char *reason;
  const char *target;         /* the path, its query cut off */
  const char *protocols;      /* the Sec-WebSocket-Protocol list, or NULL */
  const char *key;
  char       *owned;          /* what one of the above points to, if allocated */
} NatterdUpgrade;

NatterdUpgradeKind natterd_upgrade_parse (char           *data,
                                          gsize           length,
                                          gsize           max_header,
                                          const char     *ws_path,
                                          NatterdUpgrade *upgrade);
void               natterd_upgrade_clear (NatterdUpgrade *upgrade);

G_END_DECLS
