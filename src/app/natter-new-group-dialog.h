/* natter-new-group-dialog.h — "New Group": a name and members from contacts
 *
 * Signal created (group-id) once natterd made the group; the dialog then
 * closes itself.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>
#include <natter.h>

G_BEGIN_DECLS

#define NATTER_TYPE_NEW_GROUP_DIALOG (natter_new_group_dialog_get_type ())

G_DECLARE_FINAL_TYPE (NatterNewGroupDialog, natter_new_group_dialog, NATTER, NEW_GROUP_DIALOG, AdwWindow)

/* @contacts: NatterAccountUser each (copied). */
NatterNewGroupDialog *natter_new_group_dialog_new (GtkWindow            *parent,
                                                   NatterAccountService *service,
                                                   GPtrArray            *contacts);

G_END_DECLS
