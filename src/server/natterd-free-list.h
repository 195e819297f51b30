/* natterd-free-list.h — a bounded list of freed blocks of one size, for
 * what the main thread allocates hundreds of in a row (#17: past glibc's
 * per-size cache of seven, a malloc() and free() cost ~450 instructions
 * together). Any thread may push (the fan-out writer frees frames), hence
 * the lock, uncontended but for fan-outs. A block is linked through its
 * first pointer's bytes, which the caller sets again once popped.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>
#include <string.h>

typedef struct
{
  GMutex   lock;
  gpointer head;
  guint    length;
} NatterdFreeList;

/* A block pushed before, or NULL. */
static inline gpointer
natterd_free_list_pop (NatterdFreeList *list)
{
  gpointer block;

  g_mutex_lock (&list->lock);
  block = list->head;
  if (block != NULL)
    {
      memcpy (&list->head, block, sizeof (gpointer));
      list->length--;
    }
  g_mutex_unlock (&list->lock);
  return block;
}

/* TRUE when @block was kept (at most @max are), FALSE: free it. */
static inline gboolean
natterd_free_list_push (NatterdFreeList *list,
                        gpointer         block,
                        guint            max)
{
  gboolean kept = FALSE;

  g_mutex_lock (&list->lock);
  if (list->length < max)
    {
      memcpy (block, &list->head, sizeof (gpointer));
      list->head = block;
      list->length++;
      kept = TRUE;
    }
  g_mutex_unlock (&list->lock);
  return kept;
}
