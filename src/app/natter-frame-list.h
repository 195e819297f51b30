/* natter-frame-list.h — a list model's changes, given on as one a frame
 *
 * A burst of messages for many conversations (a reconnect) moves each to
 * the top of the conversation list, one items-changed per message; GTK
 * 4.8's list view unbinds and binds again every row of each changed range,
 * so 50 messages in one frame were 50 rebinds of ~200 rows (#17). This
 * model shows its source as it was at the last frame: the changes since
 * then are given on once, in the frame clock's update phase (before the
 * layout), as one range covering them all. While its widget is not on
 * screen there are no frames to wait for: changes go on as they come.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define NATTER_TYPE_FRAME_LIST (natter_frame_list_get_type ())

G_DECLARE_FINAL_TYPE (NatterFrameList, natter_frame_list, NATTER, FRAME_LIST, GObject)

/* @widget's frame clock paces the changes (not referenced: it outlives
 * the model, or sets another with natter_frame_list_set_widget()). */
NatterFrameList *natter_frame_list_new        (GListModel      *model,
                                               GtkWidget       *widget);
void             natter_frame_list_set_model  (NatterFrameList *self,
                                               GListModel      *model);
GListModel      *natter_frame_list_get_model  (NatterFrameList *self);
void             natter_frame_list_set_widget (NatterFrameList *self,
                                               GtkWidget       *widget);
/* Gives on the changes held for the next frame now: positions in this
 * model are the source's again. */
void             natter_frame_list_flush      (NatterFrameList *self);
/* items-changed signals given on since the model was made (for tests). */
guint            natter_frame_list_get_n_changes (NatterFrameList *self);

G_END_DECLS
