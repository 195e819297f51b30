/* test-search-text.c — what the message index keeps and how queries match it
 *
 * Pure functions: no database. The store's FTS5 tests (test-store.c,
 * /store/search) show the same on real SQLite.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <string.h>

#include "natter-search-text.h"

static void
assert_segment (const char *text,
                const char *expected)
{
  g_autofree char *segmented = natter_search_text_segment (text);

  g_assert_cmpstr (segmented, ==, expected);
}

static void
assert_match (const char *query,
              const char *expected)
{
  g_autofree char *match = natter_search_text_build_match (query);

  g_assert_cmpstr (match, ==, expected);
}

static void
test_segment (void)
{
  assert_segment (NULL, NULL);
  assert_segment ("", "");
  /* Latin text is left to the tokenizer. */
  assert_segment ("hello, world", "hello, world");
  /* Each CJK character a token of its own, whatever script. */
  assert_segment ("你好", "你 好 ");
  assert_segment ("ひらがなカタカナ", "ひ ら が な カ タ カ ナ ");
  assert_segment ("안녕", "안 녕 ");
  assert_segment ("ㄅㄆ", "ㄅ ㄆ ");
  /* Between Latin words; no space added before one that is there (the
   * tokenizer takes runs of spaces as one). */
  assert_segment ("明天meeting开会", "明 天 meeting 开 会 ");
  assert_segment ("hi你好", "hi 你 好 ");
  assert_segment ("a 你 b", "a 你  b");
  /* Full-width punctuation is no script's letter: left between the
   * tokens, for the tokenizer to drop. */
  assert_segment ("你好，世界", "你 好 ， 世 界 ");
}

static void
test_match_words (void)
{
  /* The last word is a prefix: results while typing. */
  assert_match ("meeting", "\"meeting\" *");
  assert_match ("coffee tomorrow", "\"coffee\" AND \"tomorrow\" *");
  assert_match ("rel", "\"rel\" *");
  /* A space after it: the word is finished. */
  assert_match ("coffee ", "\"coffee\"");
  assert_match ("  coffee \t tomorrow\n", "\"coffee\" AND \"tomorrow\"");
  /* Chinese: a phrase of its characters, never a prefix (the next
   * character is a token of its own, not more of this one). */
  assert_match ("会议", "\"会 议\"");
  assert_match ("rel 会议", "\"rel\" AND \"会 议\"");
  assert_match ("会议 rel", "\"会 议\" AND \"rel\" *");
  assert_match ("hello世界", "\"hello 世 界\"");
  assert_match ("世界hello", "\"世 界 hello\" *");
}

static void
test_match_hostile (void)
{
  /* Nothing to search. */
  assert_match (NULL, NULL);
  assert_match ("", NULL);
  assert_match (" \t\r\n", NULL);
  assert_match ("!!! ... ---", NULL);
  assert_match ("\"\"", NULL);
  assert_match ("*", NULL);
  assert_match ("😀", NULL);
  assert_match ("\xff\xfe", NULL);
  assert_match ("ok \xc3", NULL);
  /* What the user types is never FTS5 syntax: quotes double inside the
   * phrase, operators and brackets are words. */
  assert_match ("say\"hi", "\"say\"\"hi\" *");
  assert_match ("\"quoted\"", "\"\"\"quoted\"\"\" *");
  assert_match ("foo OR bar", "\"foo\" AND \"OR\" AND \"bar\" *");
  assert_match ("NEAR(a b)", "\"NEAR(a\" AND \"b)\" *");
  assert_match ("c++ -x", "\"c++\" AND \"-x\" *");
}

/* A Chinese word typed as a query matches inside a sentence indexed
 * without spaces: the query's phrase is a run of the indexed tokens. */
static void
test_index_and_query_agree (void)
{
  static const struct {
    const char *text;
    const char *query;
  } cases[] = {
    { "明天下午三点开会", "开会" },
    { "明天下午三点开会", "下午三点" },
    { "我们周末去看电影吧", "电影" },
    { "今日は会議があります", "会議" },
    { "오늘 회의가 있어요", "회의" },
    { "release会议notes", "会议" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *indexed = natter_search_text_segment (cases[i].text);
      g_autofree char *match = natter_search_text_build_match (cases[i].query);
      g_autofree char *phrase = NULL;
      const char *at;
      gsize len;

      g_assert_nonnull (match);
      len = strlen (match);
      /* "\"…\"" */
      g_assert_cmpuint (len, >, 2);
      g_assert_cmpint (match[0], ==, '"');
      g_assert_cmpint (match[len - 1], ==, '"');
      phrase = g_strndup (match + 1, len - 2);
      at = strstr (indexed, phrase);
      g_assert_nonnull (at);
      /* Whole tokens, not the end of a longer one. */
      g_assert_true (at == indexed || at[-1] == ' ');
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/search-text/segment", test_segment);
  g_test_add_func ("/search-text/match-words", test_match_words);
  g_test_add_func ("/search-text/match-hostile", test_match_hostile);
  g_test_add_func ("/search-text/index-and-query-agree", test_index_and_query_agree);

  return g_test_run ();
}
