/* natter-fuzz-form.c — libFuzzer target for server API form bodies
 *
 * natterd_api_parse_form() is what every server API call parses its
 * application/x-www-form-urlencoded body with (repeated names: userId=a&
 * userId=b). Whatever the bytes: no crash, no leak; what it accepts is UTF-8
 * names and values, and encoding them again gives the same names and
 * values back.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-fuzz.h"

#include "natterd-parse-private.h"

static void
check_utf8 (GPtrArray *strings)
{
  for (guint i = 0; i < strings->len; i++)
    g_assert_true (g_utf8_validate (g_ptr_array_index (strings, i), -1, NULL));
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr(GBytes) body = g_bytes_new (data, size);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) names_again = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) values_again = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GString) encoded = g_string_new (NULL);
  g_autoptr(GBytes) body_again = NULL;

  natter_fuzz_quiet_logs ();
  /* natterd answers an empty body "No POST data" before parsing it. */
  if (size == 0)
    return 0;

  if (!natterd_api_parse_form (body, names, values))
    return 0;

  g_assert_cmpuint (names->len, ==, values->len);
  check_utf8 (names);
  check_utf8 (values);

  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *name = g_uri_escape_string (g_ptr_array_index (names, i), NULL, FALSE);
      g_autofree char *value = g_uri_escape_string (g_ptr_array_index (values, i), NULL, FALSE);

      g_string_append_printf (encoded, "%s%s=%s", i > 0 ? "&" : "", name, value);
    }
  body_again = g_string_free_to_bytes (g_steal_pointer (&encoded));
  g_assert_true (natterd_api_parse_form (body_again, names_again, values_again));
  g_assert_cmpuint (names_again->len, ==, names->len);
  for (guint i = 0; i < names->len; i++)
    {
      g_assert_cmpstr (g_ptr_array_index (names_again, i), ==, g_ptr_array_index (names, i));
      g_assert_cmpstr (g_ptr_array_index (values_again, i), ==, g_ptr_array_index (values, i));
    }

  return 0;
}
