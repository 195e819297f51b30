/* natter-preferences-window.h — notifications, sounds, devices, look, account
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

#include "natter-account.h"

G_BEGIN_DECLS

#define NATTER_TYPE_PREFERENCES_WINDOW (natter_preferences_window_get_type ())

G_DECLARE_FINAL_TYPE (NatterPreferencesWindow, natter_preferences_window, NATTER, PREFERENCES_WINDOW, AdwPreferencesWindow)

/* @account: the profile's, shown with a Sign Out button that activates
 * win.sign-out on @parent (NULL: no account page). */
NatterPreferencesWindow *natter_preferences_window_new (GSettings     *settings,
                                                        GtkWindow     *parent,
                                                        NatterAccount *account);

G_END_DECLS
