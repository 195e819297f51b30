/* natter-list-mirror.h — a GListModel that mirrors another one
 *
 * Keeps its own array of the items, changed only as the source's
 * ::items-changed signals say. GTK's list widgets assert that a model
 * already looks the way each signal describes; a source that moves an item
 * with two signals (remove, then insert) after rearranging itself in one go
 * is still seen consistently through the mirror.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define NATTER_TYPE_LIST_MIRROR (natter_list_mirror_get_type ())

G_DECLARE_FINAL_TYPE (NatterListMirror, natter_list_mirror, NATTER, LIST_MIRROR, GObject)

NatterListMirror *natter_list_mirror_new (GListModel *source);

G_END_DECLS
