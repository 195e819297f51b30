/* natter-preferences-window.h — notifications, sounds, devices, look, account
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

typedef struct _NatterWindow NatterWindow;

#define NATTER_TYPE_PREFERENCES_WINDOW (natter_preferences_window_get_type ())

G_DECLARE_FINAL_TYPE (NatterPreferencesWindow, natter_preferences_window, NATTER, PREFERENCES_WINDOW, AdwPreferencesWindow)

/* @window: the profile whose account is shown (may be NULL). */
NatterPreferencesWindow *natter_preferences_window_new (GSettings    *settings,
                                                        NatterWindow *window);

G_END_DECLS
