/* natter-test-gio-log.c — what GStreamer's GIO source logs, kept
 *
 * That source reads the bundled sounds (resource://). It logs its
 * warnings to GStreamer's debug log, not GLib's, so a test could not see
 * them (#15: one was seen in ui-mentions' log as a message sound went
 * with its window).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gst/gst.h>

#include "natter-test-gio-log.h"

static GMutex lock;
static GPtrArray *kept;

static void
log_gio (GstDebugCategory *category,
         GstDebugLevel     level,
         const char       *file,
         const char       *function,
         gint              line,
         GObject          *object,
         GstDebugMessage  *message,
         gpointer          user_data)
{
  if (level > GST_LEVEL_WARNING || !g_str_has_prefix (gst_debug_category_get_name (category), "gio"))
    return;
  g_mutex_lock (&lock);
  g_ptr_array_add (kept, g_strdup_printf ("%s: %s:%d %s", gst_debug_category_get_name (category),
                                          function, line, gst_debug_message_get (message)));
  g_mutex_unlock (&lock);
}

void
natter_test_gio_log_watch (void)
{
  g_return_if_fail (kept == NULL);
  kept = g_ptr_array_new_with_free_func (g_free);
  gst_debug_set_threshold_for_name ("gio*", GST_LEVEL_WARNING);
  gst_debug_add_log_function (log_gio, NULL, NULL);
}

guint
natter_test_gio_log_count (void)
{
  guint count;

  g_mutex_lock (&lock);
  count = kept->len;
  g_mutex_unlock (&lock);
  return count;
}

void
natter_test_gio_log_forget (void)
{
  g_mutex_lock (&lock);
  g_ptr_array_set_size (kept, 0);
  g_mutex_unlock (&lock);
}

void
natter_test_gio_log_assert_none (void)
{
  guint count;

  g_mutex_lock (&lock);
  for (guint i = 0; i < kept->len; i++)
    g_test_message ("GStreamer's GIO source: %s", (const char *) g_ptr_array_index (kept, i));
  count = kept->len;
  g_mutex_unlock (&lock);
  g_assert_cmpuint (count, ==, 0);
}
