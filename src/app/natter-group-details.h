/* natter-group-details.h — a group's members with their roles, and what
 * your role lets you do: add and remove members, rename, the
 * announcement, mute all, leave, and dismiss for the owner
 *
 * Every change goes to natterd (NatterAccountService), which tells the
 * members with RC:GrpNtf; the window reloads after each.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>
#include <natter.h>

G_BEGIN_DECLS

#define NATTER_TYPE_GROUP_DETAILS (natter_group_details_get_type ())

G_DECLARE_FINAL_TYPE (NatterGroupDetails, natter_group_details, NATTER, GROUP_DETAILS, AdwWindow)

NatterGroupDetails *natter_group_details_new    (GtkWindow            *parent,
                                                 NatterAccountService *service,
                                                 const char           *group_id,
                                                 const char           *self_id);
void                natter_group_details_reload (NatterGroupDetails   *self);

G_END_DECLS
