/* natter-tail-model.h — the newest items of a list, then all of them
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define NATTER_TYPE_TAIL_MODEL (natter_tail_model_get_type ())

G_DECLARE_FINAL_TYPE (NatterTailModel, natter_tail_model, NATTER, TAIL_MODEL, GObject)

NatterTailModel *natter_tail_model_new      (GListModel      *model,
                                             guint            limit);
GListModel      *natter_tail_model_get_model (NatterTailModel *self);
guint            natter_tail_model_get_offset (NatterTailModel *self);
gboolean         natter_tail_model_get_limited (NatterTailModel *self);
void             natter_tail_model_show_all  (NatterTailModel *self);

G_END_DECLS
