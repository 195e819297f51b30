/* natter-search-text.c — the words the message index keeps, and queries
 *
 * See natter-search-text.h for why CJK characters are indexed one by one.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-search-text.h"

#include <string.h>

static gboolean
is_cjk (gunichar c)
{
  GUnicodeScript script = g_unichar_get_script (c);

  return script == G_UNICODE_SCRIPT_HAN || script == G_UNICODE_SCRIPT_HIRAGANA ||
         script == G_UNICODE_SCRIPT_KATAKANA || script == G_UNICODE_SCRIPT_HANGUL ||
         script == G_UNICODE_SCRIPT_BOPOMOFO;
}

char *
natter_search_text_segment (const char *text)
{
  GString *out;

  if (text == NULL)
    return NULL;

  out = g_string_sized_new (strlen (text) + 16);
  for (const char *p = text; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (is_cjk (c))
        {
          if (out->len > 0 && out->str[out->len - 1] != ' ')
            g_string_append_c (out, ' ');
          g_string_append_unichar (out, c);
          g_string_append_c (out, ' ');
        }
      else
        {
          g_string_append_unichar (out, c);
        }
    }

  return g_string_free (out, FALSE);
}

char *
natter_search_text_build_match (const char *query)
{
  g_auto(GStrv) words = NULL;
  GString *match;
  guint n_terms = 0;

  if (query == NULL || !g_utf8_validate (query, -1, NULL))
    return NULL;

  words = g_strsplit_set (query, " \t\r\n", -1);
  match = g_string_new (NULL);

  for (guint i = 0; words[i] != NULL; i++)
    {
      g_autofree char *segmented = natter_search_text_segment (words[i]);
      GString *term = g_string_new (NULL);
      gboolean last_cjk = FALSE;
      gboolean has_token_char = FALSE;

      /* A phrase of the word's tokens; quotes double inside a phrase. */
      for (const char *p = segmented; *p; p = g_utf8_next_char (p))
        {
          gunichar c = g_utf8_get_char (p);

          if (c == '"')
            g_string_append (term, "\"\"");
          else
            g_string_append_unichar (term, c);
          if (g_unichar_isalnum (c))
            {
              has_token_char = TRUE;
              last_cjk = is_cjk (c);
            }
        }

      g_strstrip (term->str);
      term->len = strlen (term->str);
      if (has_token_char)
        {
          /* Prefix match on the last Latin word: results while typing. */
          gboolean prefix = words[i + 1] == NULL && !last_cjk;

          g_string_append_printf (match, "%s\"%s\"%s", n_terms ? " AND " : "", term->str,
                                  prefix ? " *" : "");
          n_terms++;
        }
      g_string_free (term, TRUE);
    }

  if (n_terms == 0)
    {
      g_string_free (match, TRUE);
      return NULL;
    }

  return g_string_free (match, FALSE);
}
