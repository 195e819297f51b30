/* natter-call-module.c — loading the call module (#17)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gio/gio.h>
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

  if (g_atomic_pointer_get (&loaded) == NULL && g_once_init_enter (&tried))
    {
      g_atomic_pointer_set (&loaded, load ());
      g_once_init_leave (&tried, 1);
    }
  return g_atomic_pointer_get (&loaded);
}

static void
load_thread (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  g_task_return_pointer (task, (gpointer) natter_call_module_get (), NULL);
}

void
natter_call_module_load_async (GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, natter_call_module_load_async);
  if (natter_call_module_peek () != NULL)
    g_task_return_pointer (task, (gpointer) natter_call_module_peek (), NULL);
  else
    g_task_run_in_thread (task, load_thread);
}

const NatterCallModule *
natter_call_module_load_finish (GAsyncResult  *result,
                                GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, natter_call_module_load_async), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

typedef struct
{
  GObject *object;
  NatterCallModuleReady ready;
} With;

static void
with_loaded_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  With *with = user_data;

  with->ready (with->object, natter_call_module_load_finish (result, NULL));
  g_object_unref (with->object);
  g_free (with);
}

void
natter_call_module_with (gpointer              object,
                         NatterCallModuleReady ready)
{
  With *with;

  g_return_if_fail (G_IS_OBJECT (object));

  if (natter_call_module_peek () != NULL)
    {
      ready (object, natter_call_module_peek ());
      return;
    }
  with = g_new (With, 1);
  with->object = g_object_ref (object);
  with->ready = ready;
  natter_call_module_load_async (NULL, with_loaded_cb, with);
}

const NatterCallModule *
natter_call_module_peek (void)
{
  return g_atomic_pointer_get (&loaded);
}

void
natter_call_module_use (const NatterCallModule *module)
{
  g_return_if_fail (module != NULL && module->version == NATTER_CALL_MODULE_VERSION);

  g_atomic_pointer_set (&loaded, module);
}
