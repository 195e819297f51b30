/* natter-application.h — the app: one window per profile
 *
 * `natter --profile DIR` opens (or raises) the window of that profile in the
 * running instance, so alice and bob can sit side by side in one process.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define NATTER_TYPE_APPLICATION (natter_application_get_type ())

G_DECLARE_FINAL_TYPE (NatterApplication, natter_application, NATTER, APPLICATION, AdwApplication)

NatterApplication *natter_application_new          (void);
/* @flags: G_APPLICATION_NON_UNIQUE for tests that run side by side. */
NatterApplication *natter_application_new_full     (GApplicationFlags  flags);
GSettings         *natter_application_get_settings (NatterApplication *self);
/* Opens or raises the window of @profile_dir (NULL: the default profile). */
GtkWindow         *natter_application_open_profile (NatterApplication *self,
                                                    const char        *profile_dir);
/* The same without showing it (natter --background): signed in and
 * connected, its notifications and calls arrive; presenting it shows it. */
GtkWindow         *natter_application_load_profile (NatterApplication *self,
                                                    const char        *profile_dir);
/* Inside Flatpak the Background portal refused to let Natter run
 * without a window: Run in Background does nothing, closing the window
 * quits (`background-denied`, notified). */
gboolean           natter_application_get_background_denied (NatterApplication *self);
/* The accounts (profiles) loaded, shown or not. */
guint              natter_application_get_n_accounts (NatterApplication *self);
/* Outside Flatpak, Start on Login writes this XDG autostart entry. */
char              *natter_application_dup_autostart_path (void);

G_END_DECLS
