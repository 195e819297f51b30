/* natter-forward-dialog.h — forward messages to one or more chats
 *
 * The user's conversations (a search entry filters them by title), several
 * can be selected; Forward sends each message's forward content (media by
 * its URL: no upload again) to each of them. Signal: finished (guint sent,
 * guint failed) once every send is done.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>
#include <natter.h>

G_BEGIN_DECLS

#define NATTER_TYPE_FORWARD_DIALOG (natter_forward_dialog_get_type ())

G_DECLARE_FINAL_TYPE (NatterForwardDialog, natter_forward_dialog, NATTER, FORWARD_DIALOG, AdwWindow)

/* @messages: NatterMessage, forwarded oldest first. */
GtkWidget         *natter_forward_dialog_new           (GtkWindow           *parent,
                                                        NatterClient        *client,
                                                        GPtrArray           *messages);
GtkEditable       *natter_forward_dialog_get_search    (NatterForwardDialog *self);
GtkSelectionModel *natter_forward_dialog_get_selection (NatterForwardDialog *self);
/* What the Forward button does: sends, then closes the dialog. */
void               natter_forward_dialog_forward       (NatterForwardDialog *self);

G_END_DECLS
