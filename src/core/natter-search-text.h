/* natter-search-text.h — the words the message index keeps, and queries
 *
 * Chinese has no spaces: FTS5's unicode61 tokenizer would take a whole
 * sentence for one token, and a search for a word inside it would find
 * nothing. So the index keeps every CJK character as a token of its own,
 * and a query becomes a phrase of such tokens, which matches any run of
 * them. Pure text functions: no database, unit-tested on their own
 * (tests/core/test-search-text.c).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* @text as the index keeps it: each CJK character (Han, Hiragana,
 * Katakana, Hangul, Bopomofo) stands alone between spaces; the rest is
 * left as it is. NULL for NULL. */
char *natter_search_text_segment     (const char *text);

/* An FTS5 MATCH expression for what a user typed: every word must occur
 * (as a quoted phrase, so nothing the user types is an FTS5 operator), the
 * last one as a prefix unless it ends in a CJK character (results while
 * typing). NULL when nothing is left to search: no letters or digits, or
 * not UTF-8. */
char *natter_search_text_build_match (const char *query);

G_END_DECLS
