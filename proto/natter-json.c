/* natter-json.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-json.h"

#include "natter-frame.h"

#include <string.h>

static gboolean
read_hex4 (const char *data,
           gsize       size,
           gsize       at,
           guint      *unit)
{
  *unit = 0;
  if (at + 4 > size)
    return FALSE;
  for (gsize k = at; k < at + 4; k++)
    {
      int value = g_ascii_xdigit_value (data[k]);

      if (value < 0)
        return FALSE;
      *unit = *unit << 4 | (guint) value;
    }
  return TRUE;
}

/* Moves *@i from a backslash in a string to the last character of its
 * escape; FALSE when JSON has no such escape. json-glib 1.6 takes more:
 * octal ones and unpaired surrogates give bytes that are not UTF-8, and a
 * high surrogate followed by another \u escape loses (leaks) the string
 * read so far, up to the content limit per message. */
static gboolean
skip_escape (const char *data,
             gsize       size,
             gsize      *i)
{
  gsize at = *i + 1;
  guint unit, low;

  if (at >= size)
    return TRUE;  /* the text ends: the parser refuses it */
  if (data[at] != '\0' && strchr ("\"\\/bfnrt", data[at]) != NULL)
    {
      *i = at;
      return TRUE;
    }
  if (data[at] != 'u' || !read_hex4 (data, size, at + 1, &unit))
    return FALSE;
  *i = at + 4;
  if (unit >= 0xdc00 && unit <= 0xdfff)
    return FALSE;
  if (unit < 0xd800 || unit > 0xdbff)
    return TRUE;
  /* A high surrogate: its low one follows. */
  if (*i + 2 >= size || data[*i + 1] != '\\' || data[*i + 2] != 'u' ||
      !read_hex4 (data, size, *i + 3, &low) || low < 0xdc00 || low > 0xdfff)
    return FALSE;
  *i += 6;
  return TRUE;
}

gboolean
natter_json_check_depth (const char  *data,
                         gssize       length,
                         guint        max_depth,
                         GError     **error)
{
  gsize size = length < 0 ? strlen (data) : (gsize) length;
  gboolean in_string = FALSE;
  gboolean closed = FALSE;  /* the outermost array or object ended */
  guint depth = 0;

  g_return_val_if_fail (data != NULL || size == 0, FALSE);

  /* Brackets inside strings do not nest; anything malformed is left for
   * the parser to refuse, except what json-glib's scanner reads and JSON
   * has not: 'single-quoted' strings and C comments would hide brackets
   * from this count, escapes (skip_escape()), and anything but one array
   * or object (json-glib 1.6 reads every value of "2[]" or "{}{}", returns
   * the first and leaks the others). */
  for (gsize i = 0; i < size; i++)
    {
      char c = data[i];

      if (in_string)
        {
          if (c == '\\' && !skip_escape (data, size, &i))
            {
              g_set_error_literal (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_INVALID_CONTENT,
                                   "Not JSON: an escape JSON has not (octal, or half a surrogate pair)");
              return FALSE;
            }
          if (c == '"')
            in_string = FALSE;
        }
      else if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
        {
          continue;
        }
      else if (depth == 0 && (closed || (c != '[' && c != '{')))
        {
          g_set_error_literal (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_INVALID_CONTENT,
                               closed ? "Not JSON: more after the value"
                                      : "Not JSON: not an array or object");
          return FALSE;
        }
      else if (c == '"')
        {
          in_string = TRUE;
        }
      else if (c == '\'' || c == '/')
        {
          g_set_error (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_INVALID_CONTENT,
                       "Not JSON: %c outside a string", c);
          return FALSE;
        }
      else if (c == '[' || c == '{')
        {
          if (++depth > max_depth)
            {
              g_set_error (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_INVALID_CONTENT,
                           "JSON nested deeper than %u levels", max_depth);
              return FALSE;
            }
        }
      else if ((c == ']' || c == '}') && depth > 0)
        {
          closed = --depth == 0;
        }
    }

  return TRUE;
}

/* json-glib 1.6 turns an unpaired surrogate escape ("\ud800x") into bytes
 * that are not UTF-8. Recursion is bounded: the depth was checked. */
static gboolean
strings_are_utf8 (JsonNode *node)
{
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObjectIter iter;
        const char *name;
        JsonNode *member;

        json_object_iter_init (&iter, json_node_get_object (node));
        while (json_object_iter_next (&iter, &name, &member))
          if (!g_utf8_validate (name, -1, NULL) || !strings_are_utf8 (member))
            return FALSE;
        return TRUE;
      }

    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);

        for (guint i = 0; i < json_array_get_length (array); i++)
          if (!strings_are_utf8 (json_array_get_element (array, i)))
            return FALSE;
        return TRUE;
      }

    case JSON_NODE_VALUE:
      return json_node_get_value_type (node) != G_TYPE_STRING ||
             g_utf8_validate (json_node_get_string (node), -1, NULL);

    case JSON_NODE_NULL:
    default:
      return TRUE;
    }
}

JsonNode *
natter_json_parse (const char  *data,
                   gssize       length,
                   GError     **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;
  JsonNode *root;

  if (data == NULL || length == 0 || *data == '\0')
    {
      g_set_error_literal (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_INVALID_CONTENT,
                           "Empty JSON text");
      return NULL;
    }

  if (!natter_json_check_depth (data, length, NATTER_JSON_MAX_DEPTH, error))
    return NULL;

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, length, &local_error))
    {
      g_set_error (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_INVALID_CONTENT,
                   "Not JSON: %s", local_error->message);
      return NULL;
    }

  root = json_parser_steal_root (parser);
  if (root == NULL)
    g_set_error_literal (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_INVALID_CONTENT,
                         "Empty JSON text");
  else if (!strings_are_utf8 (root))
    {
      g_set_error_literal (error, NATTER_PROTO_ERROR, NATTER_PROTO_ERROR_INVALID_CONTENT,
                           "Not JSON: a \\u escape that is half a surrogate pair");
      g_clear_pointer (&root, json_node_unref);
    }
  return root;
}

/* Word-at-a-time byte tests: BYTES_OF (c) is c in each byte of a word;
 * bytes_below (word, n), n <= 0x80, is nonzero when a byte of @word is
 * below n (the borrow can mark bytes above a true one, never one alone). */
#define BYTES_OF(c) (G_GUINT64_CONSTANT (0x0101010101010101) * (guchar) (c))
#define BYTES_HIGH BYTES_OF (0x80)

static inline guint64
bytes_below (guint64 word,
             guint   n)
{
  return (word - BYTES_OF (n)) & ~word & BYTES_HIGH;
}

gboolean
natter_utf8_is_valid (const char *text)
{
  gsize length = strlen (text), at = 0;

  /* ASCII (nearly every string) eight bytes at a time; from the first
   * other byte on, g_utf8_validate_len() (it starts a character, as
   * everything before it is ASCII). */
  for (; length - at >= 8; at += 8)
    {
      guint64 word;

      memcpy (&word, text + at, sizeof word);
      if ((word & BYTES_HIGH) != 0)
        break;
    }
  for (; at < length; at++)
    if ((guchar) text[at] >= 0x80)
      return g_utf8_validate_len (text + at, length - at, NULL);
  return TRUE;
}

/* Moves *@i past the string whose opening quote it is at; FALSE at a
 * control character, an escape JSON has not, text that is not UTF-8 or
 * the text's end. Only strings can hold other than ASCII, so checking
 * theirs checks the whole text: a quote is never inside a UTF-8
 * sequence. An ASCII string (nearly every one) is not read twice. */
static gboolean
skip_string (const char *data,
             gsize       size,
             gsize      *i)
{
  gboolean wide = FALSE;

  for (gsize at = *i + 1; at < size; at++)
    {
      guchar c;

      /* Eight bytes at a time while none needs a look (#17: the byte
       * loop was ~10 instructions a byte of every message's content);
       * once the string holds other than ASCII, its bytes >= 0x80 need
       * none until the end. */
      while (size - at >= 8)
        {
          guint64 word;

          memcpy (&word, data + at, sizeof word);
          if (((wide ? 0 : word & BYTES_HIGH) | bytes_below (word, 0x20) |
               bytes_below (word ^ BYTES_OF ('"'), 1) | bytes_below (word ^ BYTES_OF ('\\'), 1)) != 0)
            break;
          at += 8;
        }
      if (at == size)
        break;

      c = (guchar) data[at];

      if (c == '"')
        {
          if (wide && !g_utf8_validate_len (data + *i + 1, at - *i - 1, NULL))
            return FALSE;
          *i = at + 1;
          return TRUE;
        }
      if (c >= 0x80)
        wide = TRUE;
      else if (c < 0x20 || (c == '\\' && !skip_escape (data, size, &at)))
        return FALSE;
    }
  return FALSE;
}

static gboolean
skip_digits (const char *data,
             gsize       size,
             gsize      *i)
{
  gsize start = *i;

  while (*i < size && g_ascii_isdigit (data[*i]))
    (*i)++;
  return *i > start;
}

/* Moves *@i past the number it is at (RFC 8259's grammar). */
static gboolean
skip_number (const char *data,
             gsize       size,
             gsize      *i)
{
  if (data[*i] == '-')
    (*i)++;
  if (*i < size && data[*i] == '0')
    (*i)++;
  else if (!skip_digits (data, size, i))
    return FALSE;
  if (*i < size && data[*i] == '.')
    {
      (*i)++;
      if (!skip_digits (data, size, i))
        return FALSE;
    }
  if (*i < size && (data[*i] == 'e' || data[*i] == 'E'))
    {
      (*i)++;
      if (*i < size && (data[*i] == '+' || data[*i] == '-'))
        (*i)++;
      if (!skip_digits (data, size, i))
        return FALSE;
    }
  return TRUE;
}

static gboolean
skip_literal (const char *data,
              gsize       size,
              gsize      *i)
{
  static const char * const literals[] = { "true", "false", "null" };

  for (guint k = 0; k < G_N_ELEMENTS (literals); k++)
    {
      gsize n = strlen (literals[k]);

      if (size - *i >= n && memcmp (data + *i, literals[k], n) == 0)
        {
          *i += n;
          return TRUE;
        }
    }
  return FALSE;
}

gboolean
natter_json_is_object (const char *data,
                       gssize      length)
{
  enum { VALUE, VALUE_OR_CLOSE, KEY, KEY_OR_CLOSE, COLON, AFTER_VALUE } state = KEY_OR_CLOSE;
  gsize size = length < 0 ? strlen (data) : (gsize) length;
  char open[NATTER_JSON_MAX_DEPTH];
  guint depth = 0;
  gsize i = 0;

  while (i < size && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r'))
    i++;
  if (i == size || data[i] != '{')
    return FALSE;
  open[depth++] = data[i++];

  while (depth > 0)
    {
      char c;

      while (i < size && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r'))
        i++;
      if (i == size)
        return FALSE;
      c = data[i];

      switch (state)
        {
        case KEY_OR_CLOSE:
        case KEY:
          if (c == '}' && state == KEY_OR_CLOSE)
            {
              i++;
              depth--;
              state = AFTER_VALUE;
            }
          else if (c == '"' && skip_string (data, size, &i))
            state = COLON;
          else
            return FALSE;
          break;

        case COLON:
          if (c != ':')
            return FALSE;
          i++;
          state = VALUE;
          break;

        case VALUE_OR_CLOSE:
        case VALUE:
          if (c == ']' && state == VALUE_OR_CLOSE)
            {
              i++;
              depth--;
              state = AFTER_VALUE;
            }
          else if (c == '{' || c == '[')
            {
              if (depth == NATTER_JSON_MAX_DEPTH)
                return FALSE;
              open[depth++] = c;
              i++;
              state = c == '{' ? KEY_OR_CLOSE : VALUE_OR_CLOSE;
            }
          else if ((c == '"' && skip_string (data, size, &i)) ||
                   ((c == '-' || g_ascii_isdigit (c)) && skip_number (data, size, &i)) ||
                   ((c == 't' || c == 'f' || c == 'n') && skip_literal (data, size, &i)))
            state = AFTER_VALUE;
          else
            return FALSE;
          break;

        case AFTER_VALUE:
        default:
          if (c == ',')
            state = open[depth - 1] == '{' ? KEY : VALUE;
          else if ((c == '}' && open[depth - 1] == '{') || (c == ']' && open[depth - 1] == '['))
            depth--;
          else
            return FALSE;
          i++;
          break;
        }
    }

  while (i < size && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r'))
    i++;
  return i == size;
}
