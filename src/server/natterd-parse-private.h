/* natterd-parse-private.h — parsers of what strangers send, declared
 * outside the files that use them so the fuzz targets in tests/fuzz call
 * the very code natterd runs
 *
 * (The others are public already: natterd_token_check() in
 * natterd-directory.h, natterd_history_parse_date() in
 * natterd-server-private.h; WebSocket framing is fuzzed through a real
 * NatterdSocket.)
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

G_END_DECLS
