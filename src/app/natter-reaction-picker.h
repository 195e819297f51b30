/* natter-reaction-picker.h — the quick reaction picker: six emoji and more
 *
 * A popover with the usual reactions; "More" swaps it for a
 * GtkEmojiChooser at the same place. Signal: picked (const char *emoji).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define NATTER_TYPE_REACTION_PICKER (natter_reaction_picker_get_type ())

G_DECLARE_FINAL_TYPE (NatterReactionPicker, natter_reaction_picker, NATTER, REACTION_PICKER, GtkPopover)

GtkWidget *natter_reaction_picker_new (void);
/* The emoji chooser "More" opened, NULL before (for tests). */
GtkWidget *natter_reaction_picker_get_chooser (NatterReactionPicker *self);

G_END_DECLS
