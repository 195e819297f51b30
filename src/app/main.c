/* main.c — natter, the GTK app
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gi18n.h>
#include <gtk/gtk.h>
#include <locale.h>

#include "natter-application.h"

static gboolean
running_from_build_tree (void)
{
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *dir = exe != NULL ? g_path_get_dirname (exe) : NULL;

  return dir != NULL && g_str_equal (dir, NATTER_BUILD_APP_DIR);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(NatterApplication) app = NULL;
  gboolean gl_disabled = FALSE;

  /* Run from the build tree (build-aux/dev run, a developer's shell): the
   * schema and translations compiled there, unless told otherwise. */
  gboolean uninstalled = running_from_build_tree ();

  if (uninstalled && g_getenv ("GSETTINGS_SCHEMA_DIR") == NULL &&
      g_file_test (NATTER_BUILD_SCHEMA_DIR "/gschemas.compiled", G_FILE_TEST_EXISTS))
    g_setenv ("GSETTINGS_SCHEMA_DIR", NATTER_BUILD_SCHEMA_DIR, TRUE);

  /* GDK 4.8 loads the GL stack when it opens an X11 display, whichever
   * renderer will draw: with Mesa's llvmpipe that is LLVM, 57 MiB of RSS
   * and a quarter of the CPU time to the first frame (#17). With the
   * cairo renderer asked for, nothing of ours uses GL (call video is
   * memory textures). */
  if (g_strcmp0 (g_getenv ("GSK_RENDERER"), "cairo") == 0 && g_getenv ("GDK_DEBUG") == NULL)
    {
      g_setenv ("GDK_DEBUG", "gl-disable", TRUE);
      gl_disabled = TRUE;
    }

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, uninstalled ? NATTER_BUILD_LOCALE_DIR : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  /* GDK reads GDK_DEBUG once, when it opens the display: open it now, while
   * no other thread runs, and take the variable out again, so that what
   * the app spawns (sound players, portal helpers, opened files' apps)
   * does not run with GL disabled (#17). GtkApplication's own gtk_init()
   * is then a no-op; without a display it fails there, as before. */
  if (gl_disabled)
    {
      gtk_init_check ();
      g_unsetenv ("GDK_DEBUG");
    }

  app = natter_application_new ();
  return g_application_run (G_APPLICATION (app), argc, argv);
}
