/* natter-test-netns.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <unistd.h>

#include "natter-test-netns.h"

/* As root, run in a new network namespace that has only loopback. */
void
natter_test_enter_loopback_namespace (int    argc,
                                      char **argv)
{
  g_autoptr(GPtrArray) args = NULL;
  g_autofree char *unshare = NULL;
  g_autofree char *ip = NULL;

  if (getuid () != 0 || g_getenv ("NATTER_CALL_NETNS") != NULL)
    return;
  unshare = g_find_program_in_path ("unshare");
  ip = g_find_program_in_path ("ip");
  if (unshare == NULL || ip == NULL)
    return;

  args = g_ptr_array_new ();
  g_ptr_array_add (args, unshare);
  g_ptr_array_add (args, (char *) "--net");
  g_ptr_array_add (args, (char *) "sh");
  g_ptr_array_add (args, (char *) "-c");
  g_ptr_array_add (args, (char *) "ip link set lo up && NATTER_CALL_NETNS=1 exec \"$0\" \"$@\"");
  for (int i = 0; i < argc; i++)
    g_ptr_array_add (args, argv[i]);
  g_ptr_array_add (args, NULL);
  execv (unshare, (char **) args->pdata);
  /* unshare failed to start: carry on in the current namespace */
}

