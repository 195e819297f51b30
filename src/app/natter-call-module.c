/* natter-call-module.c — loading the call module (#17)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gmodule.h>

#include "natter-call-module.h"

static const NatterCallModule *loaded;

/* Where the module is: $NATTER_CALL_MODULE, else next to a natter run from
 * its build tree, else the installed one. */
static char *
module_path (void)
{
  const char *env = g_getenv ("NATTER_CALL_MODULE");
  g_autofree char *exe = NULL;
  g_autofree char *dir = NULL;

  if (env != NULL && *env != '\0')
    return g_strdup (env);
  exe = g_file_read_link ("/proc/self/exe", NULL);
  dir = exe != NULL ? g_path_get_dirname (exe) : NULL;
  if (dir != NULL && g_str_equal (dir, NATTER_BUILD_APP_DIR))
    return g_build_filename (NATTER_BUILD_APP_DIR, NATTER_CALL_MODULE_NAME, NULL);
  return g_build_filename (NATTER_CALL_MODULE_DIR, NATTER_CALL_MODULE_NAME, NULL);
}

static const NatterCallModule *
load (void)
{
  g_autofree char *path = module_path ();
  GModule *module = NULL;
  NatterCallModuleEntry entry = NULL;
  const NatterCallModule *table = NULL;

  /* LOCAL: its symbols (libnatter-call's) are its own business */
  module = g_module_open (path, G_MODULE_BIND_LOCAL);
  if (module == NULL)
    {
      g_warning ("Calls and sounds are unavailable: %s", g_module_error ());
      return NULL;
    }
  if (!g_module_symbol (module, NATTER_CALL_MODULE_ENTRY, (gpointer *) &entry) || entry == NULL ||
      (table = entry ()) == NULL || table->version != NATTER_CALL_MODULE_VERSION)
    {
      g_warning ("Calls and sounds are unavailable: %s is not this build's call module", path);
      g_module_close (module);
      return NULL;
    }
  /* its GTypes stay registered: it is never unloaded */
  g_module_make_resident (module);
  return table;
}

const NatterCallModule *
natter_call_module_get (void)
{
  static gsize tried = 0;

  if (loaded == NULL && g_once_init_enter (&tried))
    {
      loaded = load ();
      g_once_init_leave (&tried, 1);
    }
  return loaded;
}

const NatterCallModule *
natter_call_module_peek (void)
{
  return loaded;
}

void
natter_call_module_use (const NatterCallModule *module)
{
  g_return_if_fail (module != NULL && module->version == NATTER_CALL_MODULE_VERSION);

  loaded = module;
}
