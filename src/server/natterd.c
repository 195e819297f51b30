/* natterd.c — skeleton until the server lands (issue #3)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gio/gio.h>

#include "natter-frame.h"

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = g_option_context_new ("— Natter server");
  g_autoptr(GError) error = NULL;
  gboolean version = FALSE;
  GOptionEntry entries[] = {
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version", NULL },
    { NULL }
  };

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("natterd: %s\n", error->message);
      return 2;
    }

  if (version)
    {
      g_print ("natterd %s (protocol %s)\n", PACKAGE_VERSION, NATTER_PROTOCOL_NAME);
      return 0;
    }

  g_printerr ("natterd: the server is not built yet (issue #3)\n");
  return 1;
}
