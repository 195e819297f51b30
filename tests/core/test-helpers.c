/* test-helpers.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "test-helpers.h"

void
test_store_result_cb (GObject      *object,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  GAsyncResult **out = user_data;

  g_assert_null (*out);
  *out = g_object_ref (result);
}

static gboolean
timeout_cb (gpointer data)
{
  gboolean *expired = data;

  *expired = TRUE;
  return G_SOURCE_REMOVE;
}

GAsyncResult *
test_wait_result (GAsyncResult **result,
                  guint          timeout_s)
{
  gboolean expired = FALSE;
  guint id = g_timeout_add_seconds (timeout_s, timeout_cb, &expired);

  while (*result == NULL && !expired)
    g_main_context_iteration (NULL, TRUE);

  if (*result == NULL)
    g_error ("No result within %u s", timeout_s);

  g_source_remove (id);
  return *result;
}

void
test_wait_until (gboolean    (*condition) (gpointer data),
                 gpointer      data,
                 guint         timeout_s,
                 const char   *what)
{
  gboolean expired = FALSE;
  guint id = g_timeout_add_seconds (timeout_s, timeout_cb, &expired);

  while (!condition (data) && !expired)
    g_main_context_iteration (NULL, TRUE);

  if (!condition (data))
    g_error ("Timed out after %u s waiting for %s", timeout_s, what);

  g_source_remove (id);
}

void
test_spin (guint ms)
{
  gboolean expired = FALSE;
  guint id = g_timeout_add (ms, timeout_cb, &expired);

  while (!expired)
    g_main_context_iteration (NULL, TRUE);
  (void) id;
}
