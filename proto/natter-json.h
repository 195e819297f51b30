/* natter-json.h — JSON from the network, parsed with a bound on nesting
 *
 * json-glib 1.6 (Debian 12) parses arrays and objects by recursion with no
 * depth limit: 80 KB of '[' overflow the stack. Everything either side
 * receives as JSON (message content, server API parameters, HTTP replies)
 * goes through here, which counts the nesting in one linear pass before
 * json-glib sees the text.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Levels of arrays and objects one JSON text may nest; RongCloud message
 * content needs 3 or 4. */
#define NATTER_JSON_MAX_DEPTH 32

/* g_utf8_validate (@text, -1, NULL), faster on ASCII (#17: every string
 * of every frame is checked). */
gboolean  natter_utf8_is_valid    (const char  *text);

/* FALSE (NATTER_PROTO_ERROR_INVALID_CONTENT) when @data nests arrays and
 * objects deeper than @max_depth, has a ' or / outside a string (a
 * single-quoted string or a comment to json-glib, not JSON), an escape
 * JSON has not inside one (json-glib's octal ones, an unpaired surrogate)
 * or more than one array or object (and whitespace) at its top; says
 * nothing else about its syntax.
 * @length -1: @data is nul-terminated. */
gboolean  natter_json_check_depth (const char  *data,
                                   gssize       length,
                                   guint        max_depth,
                                   GError     **error);

/* The array or object @data holds, natter_json_check_depth() with
 * NATTER_JSON_MAX_DEPTH first; NULL with @error
 * (NATTER_PROTO_ERROR_INVALID_CONTENT) when it is too deep, empty, not one
 * array or object, not JSON, or a string in it is not UTF-8. */
JsonNode *natter_json_parse       (const char  *data,
                                   gssize       length,
                                   GError     **error);

/* TRUE when @data is one JSON object by RFC 8259's grammar, UTF-8, every
 * escape as natter_json_check_depth() wants and no deeper than
 * NATTER_JSON_MAX_DEPTH: what natter_json_parse() takes, in one pass that
 * allocates nothing. FALSE only says this strict reading refuses it.
 * @length -1: @data is nul-terminated. */
gboolean  natter_json_is_object   (const char  *data,
                                   gssize       length);

G_END_DECLS
