/* natter-application.c — the app: one window per profile
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>

#include "natter-account.h"
#include "natter-application.h"
#include "natter-call-module.h"
#include "natter-portal.h"
#include "natter-preferences-window.h"
#include "natter-window.h"

struct _NatterApplication
{
  AdwApplication parent_instance;

  GSettings *settings;
  /* profile dir (canonical) → NatterWindow, not owned */
  GHashTable *windows;
  /* Run in Background: held, so no window open is not the end */
  gboolean held;
  /* Quit: the windows' close really closes them */
  gboolean quitting;
  /* the accounts in $XDG_DATA_HOME/natter were looked for */
  gboolean accounts_loaded;
  /* the Background portal said no: closing the window quits */
  gboolean background_denied;
};

G_DEFINE_FINAL_TYPE (NatterApplication, natter_application, ADW_TYPE_APPLICATION)

enum {
  PROP_0,
  PROP_BACKGROUND_DENIED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void update_account_menus (NatterApplication *self);
static void load_all_accounts    (NatterApplication *self);

static void
window_destroyed_cb (NatterApplication *self,
                     GObject           *where_the_window_was)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->windows);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (value == (gpointer) where_the_window_was)
      g_hash_table_iter_remove (&iter);
  if (!self->quitting)
    update_account_menus (self);
}

/* Run in Background: the window's close button hides it (after it saved
 * its state, in its own handler), so its session, notifications and calls
 * stay; Quit closes for real. */
static gboolean
window_close_request_cb (GtkWindow         *window,
                         NatterApplication *self)
{
  if (self->quitting || self->background_denied ||
      !g_settings_get_boolean (self->settings, "run-in-background"))
    return FALSE;
  gtk_widget_set_visible (GTK_WIDGET (window), FALSE);
  return TRUE;
}

static NatterWindow *
load_profile (NatterApplication *self,
              const char        *profile_dir)
{
  g_autofree char *default_dir = NULL;
  g_autofree char *canonical = NULL;
  NatterWindow *window;

  if (profile_dir == NULL)
    profile_dir = default_dir = natter_account_default_profile_dir ();
  canonical = g_canonicalize_filename (profile_dir, NULL);

  window = g_hash_table_lookup (self->windows, canonical);
  if (window == NULL)
    {
      window = natter_window_new (self, canonical);
      g_hash_table_insert (self->windows, g_strdup (canonical), window);
      g_object_weak_ref (G_OBJECT (window), (GWeakNotify) window_destroyed_cb, self);
      g_signal_connect_object (window, "close-request", G_CALLBACK (window_close_request_cb),
                               self, G_CONNECT_AFTER);
      g_signal_connect_object (natter_window_get_session (window), "notify::user-id",
                               G_CALLBACK (update_account_menus), self, G_CONNECT_SWAPPED);
      update_account_menus (self);
    }
  return window;
}

GtkWindow *
natter_application_open_profile (NatterApplication *self,
                                 const char        *profile_dir)
{
  NatterWindow *window;

  g_return_val_if_fail (NATTER_IS_APPLICATION (self), NULL);

  window = load_profile (self, profile_dir);
  gtk_window_present (GTK_WINDOW (window));
  return GTK_WINDOW (window);
}

GtkWindow *
natter_application_load_profile (NatterApplication *self,
                                 const char        *profile_dir)
{
  g_return_val_if_fail (NATTER_IS_APPLICATION (self), NULL);
  return GTK_WINDOW (load_profile (self, profile_dir));
}

GSettings *
natter_application_get_settings (NatterApplication *self)
{
  g_return_val_if_fail (NATTER_IS_APPLICATION (self), NULL);
  return self->settings;
}

static void
natter_application_activate (GApplication *app)
{
  GtkWindow *active = gtk_application_get_active_window (GTK_APPLICATION (app));

  if (active != NULL)
    gtk_window_present (active);
  else
    natter_application_open_profile (NATTER_APPLICATION (app), NULL);
}

static int
natter_application_command_line (GApplication            *app,
                                 GApplicationCommandLine *cmdline)
{
  NatterApplication *self = NATTER_APPLICATION (app);
  GVariantDict *options = g_application_command_line_get_options_dict (cmdline);
  gboolean background = g_variant_dict_contains (options, "background");
  g_autofree char *profile = NULL;
  g_autofree char *path = NULL;

  if (g_variant_dict_lookup (options, "profile", "^ay", &profile))
    {
      g_autoptr(GFile) file = g_application_command_line_create_file_for_arg (cmdline, profile);
      path = g_file_get_path (file);
    }

  /* --background (the autostart entry): signed in and connected, no
   * window; a second `natter` shows it */
  if (background)
    {
      if (!self->held)
        {
          self->held = TRUE;
          g_application_hold (app);
        }
      natter_application_load_profile (self, path);
    }
  else if (path != NULL)
    natter_application_open_profile (self, path);
  else
    natter_application_activate (app);

  /* the other accounts connect too, behind the one shown */
  if (path == NULL)
    load_all_accounts (self);

  return 0;
}

static int
natter_application_handle_local_options (GApplication *app,
                                         GVariantDict *options)
{
  if (g_variant_dict_contains (options, "version"))
    {
      g_print ("natter %s\n", PACKAGE_VERSION);
      return 0;
    }
  return -1;
}

/* ------------------------------------------------------------ background */

static gboolean
in_flatpak (void)
{
  return natter_portal_in_sandbox ();
}

static void
set_background_denied (NatterApplication *self,
                       gboolean           denied)
{
  if (self->background_denied == denied)
    return;
  self->background_denied = denied;
  /* refused: nothing keeps Natter once its windows are closed (the desktop
   * would stop it anyway); allowed again: held again */
  if (denied && self->held)
    {
      self->held = FALSE;
      g_application_release (G_APPLICATION (self));
    }
  else if (!denied && !self->held && g_settings_get_boolean (self->settings, "run-in-background"))
    {
      self->held = TRUE;
      g_application_hold (G_APPLICATION (self));
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BACKGROUND_DENIED]);
}

static void
background_portal_cb (GObject      *object,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(NatterApplication) self = user_data;
  g_autoptr(GVariant) results = NULL;
  g_autoptr(GError) error = NULL;
  gboolean background = FALSE;
  guint32 response;

  /* no portal to ask: as outside Flatpak */
  if (!natter_portal_request_finish (result, &response, &results, &error))
    {
      g_message ("Background portal: %s", error->message);
      return;
    }
  if (response == NATTER_PORTAL_RESPONSE_GRANTED)
    g_variant_lookup (results, "background", "b", &background);
  if (!background)
    g_message ("Background portal: not allowed to run in the background (%u)", response);
  set_background_denied (self, !background);
}

/* Inside Flatpak, asks xdg-desktop-portal to let Natter run without a
 * window, and to start it on login (autostart) when so chosen. */
static void
request_background (NatterApplication *self)
{
  GDBusConnection *bus = g_application_get_dbus_connection (G_APPLICATION (self));
  const char *commandline[] = { "natter", "--background", NULL };
  GVariantBuilder options;

  if (bus == NULL)
    return;
  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&options, "{sv}", "reason",
                         g_variant_new_string (_("Receive messages and calls while no window is open")));
  g_variant_builder_add (&options, "{sv}", "autostart",
                         g_variant_new_boolean (g_settings_get_boolean (self->settings, "start-on-login")));
  g_variant_builder_add (&options, "{sv}", "commandline", g_variant_new_strv (commandline, -1));
  g_variant_builder_add (&options, "{sv}", "dbus-activatable", g_variant_new_boolean (FALSE));
  natter_portal_request_async (bus, "org.freedesktop.portal.Background", "RequestBackground",
                               g_variant_new ("(sa{sv})", "", &options), NULL, background_portal_cb,
                               g_object_ref (self));
}

char *
natter_application_dup_autostart_path (void)
{
  g_autofree char *name = g_strconcat (APP_ID, ".desktop", NULL);
  return g_build_filename (g_get_user_config_dir (), "autostart", name, NULL);
}

static void
autostart_written_cb (GObject      *object,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!g_file_replace_contents_finish (G_FILE (object), result, NULL, &error))
    g_warning ("Could not write the autostart entry: %s", error->message);
}

static void
autostart_deleted_cb (GObject      *object,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!g_file_delete_finish (G_FILE (object), result, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    g_warning ("Could not remove the autostart entry: %s", error->message);
}

/* Outside Flatpak: an XDG autostart entry that starts `natter
 * --background`, written or removed as Start on Login says. */
static void
update_autostart_entry (NatterApplication *self)
{
  g_autofree char *path = natter_application_dup_autostart_path ();
  g_autoptr(GFile) file = g_file_new_for_path (path);

  if (g_settings_get_boolean (self->settings, "start-on-login"))
    {
      g_autofree char *dir = g_path_get_dirname (path);
      g_autofree char *entry = g_strdup_printf ("[Desktop Entry]\n"
                                                "Type=Application\n"
                                                "Name=%s\n"
                                                "Comment=%s\n"
                                                "Icon=%s\n"
                                                "Exec=natter --background\n"
                                                "X-GNOME-Autostart-enabled=true\n",
                                                _("Natter"), _("Chat and call on your own server"), APP_ID);
      g_autoptr(GBytes) bytes = g_bytes_new_take (entry, strlen (entry));

      g_steal_pointer (&entry);
      /* a small directory in the user's config: the one creation done here */
      g_mkdir_with_parents (dir, 0700);
      g_file_replace_contents_bytes_async (file, bytes, NULL, FALSE, G_FILE_CREATE_REPLACE_DESTINATION,
                                           NULL, autostart_written_cb, NULL);
    }
  else
    g_file_delete_async (file, G_PRIORITY_DEFAULT, NULL, autostart_deleted_cb, NULL);
}

static void
background_changed_cb (NatterApplication *self)
{
  gboolean run = g_settings_get_boolean (self->settings, "run-in-background");

  if (run && !self->held && !self->background_denied)
    {
      self->held = TRUE;
      g_application_hold (G_APPLICATION (self));
    }
  else if (!run && self->held)
    {
      self->held = FALSE;
      g_application_release (G_APPLICATION (self));
    }
  if (run && in_flatpak ())
    request_background (self);
}

static void
start_on_login_changed_cb (NatterApplication *self)
{
  if (in_flatpak ())
    request_background (self);
  else
    update_autostart_entry (self);
}

/* -------------------------------------------------------------- accounts */

/* Several accounts, as Telegram Desktop has them: each is a profile (its
 * own dir, store and connection) and has a window, shown or hidden; all
 * stay connected, so each one's messages and calls arrive. */
gboolean
natter_application_get_background_denied (NatterApplication *self)
{
  g_return_val_if_fail (NATTER_IS_APPLICATION (self), FALSE);
  return self->background_denied;
}

guint
natter_application_get_n_accounts (NatterApplication *self)
{
  g_return_val_if_fail (NATTER_IS_APPLICATION (self), 0);
  return g_hash_table_size (self->windows);
}

static char *
profiles_dir (void)
{
  return g_build_filename (g_get_user_data_dir (), "natter", NULL);
}

/* The accounts section of each window's menu: one item per profile (its
 * user id, or “New Account” until it is signed in), then Add Account. */
static void
update_account_menus (NatterApplication *self)
{
  g_autoptr(GList) profiles = g_hash_table_get_keys (self->windows);
  g_autoptr(GMenu) items = g_menu_new ();

  profiles = g_list_sort (profiles, (GCompareFunc) g_strcmp0);
  if (g_list_length (profiles) > 1)
    for (GList *l = profiles; l != NULL; l = l->next)
      {
        NatterSession *session = natter_window_get_session (g_hash_table_lookup (self->windows, l->data));
        const char *user_id = session != NULL ? natter_session_get_user_id (session) : NULL;
        g_autoptr(GMenuItem) item = g_menu_item_new (user_id != NULL ? user_id : _("New Account"), NULL);

        g_menu_item_set_action_and_target (item, "app.switch-account", "s", l->data);
        g_menu_append_item (items, item);
      }
  g_menu_append (items, _("_Add Account"), "app.add-account");

  for (GList *l = profiles; l != NULL; l = l->next)
    {
      NatterSidebar *sidebar = natter_window_get_sidebar (g_hash_table_lookup (self->windows, l->data));
      GMenu *section = G_MENU (gtk_widget_get_template_child (GTK_WIDGET (sidebar), NATTER_TYPE_SIDEBAR,
                                                             "accounts_section"));

      if (section == NULL)
        continue;
      g_menu_remove_all (section);
      for (int i = 0; i < g_menu_model_get_n_items (G_MENU_MODEL (items)); i++)
        {
          g_autoptr(GMenuItem) item = g_menu_item_new_from_model (G_MENU_MODEL (items), i);
          g_menu_append_item (section, item);
        }
    }
}

static void
switch_account_activated (GSimpleAction *action,
                          GVariant      *parameter,
                          gpointer       user_data)
{
  NatterApplication *self = user_data;
  GtkWindow *from = gtk_application_get_active_window (GTK_APPLICATION (self));
  GtkWindow *to = natter_application_open_profile (self, g_variant_get_string (parameter, NULL));

  /* one window on screen, as Telegram switches: the other account stays
   * connected behind it */
  if (from != NULL && from != to && NATTER_IS_WINDOW (from) &&
      g_settings_get_boolean (self->settings, "run-in-background"))
    gtk_widget_set_visible (GTK_WIDGET (from), FALSE);
}

static void
add_account_activated (GSimpleAction *action,
                       GVariant      *parameter,
                       gpointer       user_data)
{
  NatterApplication *self = user_data;
  g_autofree char *dir = profiles_dir ();
  g_autofree char *path = NULL;

  /* a fresh profile: its window opens at the sign-in page */
  for (guint i = 2; path == NULL || g_hash_table_contains (self->windows, path) ||
                    g_file_test (path, G_FILE_TEST_EXISTS); i++)
    {
      g_autofree char *name = g_strdup_printf ("account-%u", i);

      g_free (path);
      path = g_build_filename (dir, name, NULL);
    }
  natter_application_open_profile (self, path);
}

static void
profiles_listed_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(NatterApplication) self = user_data;
  g_autoptr(GFileEnumerator) children = NULL;
  g_autoptr(GError) error = NULL;

  children = g_file_enumerate_children_finish (G_FILE (object), result, &error);
  if (children == NULL)
    return;
  for (;;)
    {
      GFileInfo *info = NULL;
      GFile *child = NULL;

      if (!g_file_enumerator_iterate (children, &info, &child, NULL, NULL) || info == NULL)
        break;
      if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
        {
          g_autofree char *path = g_file_get_path (child);
          g_autofree char *ini = g_build_filename (path, "account.ini", NULL);

          /* each signed-in account connects, its window hidden */
          if (g_file_test (ini, G_FILE_TEST_EXISTS))
            natter_application_load_profile (self, path);
        }
    }
}

/* The other accounts than the one shown (the default profile, or
 * --profile), from $XDG_DATA_HOME/natter: read off the main thread. */
static void
load_all_accounts (NatterApplication *self)
{
  g_autofree char *dir = profiles_dir ();
  g_autoptr(GFile) file = g_file_new_for_path (dir);

  if (self->accounts_loaded)
    return;
  self->accounts_loaded = TRUE;
  g_file_enumerate_children_async (file, G_FILE_ATTRIBUTE_STANDARD_NAME "," G_FILE_ATTRIBUTE_STANDARD_TYPE,
                                   G_FILE_QUERY_INFO_NONE, G_PRIORITY_DEFAULT, NULL, profiles_listed_cb,
                                   g_object_ref (self));
}

static void
color_scheme_changed_cb (NatterApplication *self)
{
  AdwStyleManager *style = adw_style_manager_get_default ();

  switch (g_settings_get_enum (self->settings, "color-scheme"))
    {
    case 1:
      adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_FORCE_LIGHT);
      break;
    case 2:
      adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_FORCE_DARK);
      break;
    default:
      /* follow the system: dark when it prefers dark */
      adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_DEFAULT);
      break;
    }
}

static void
quit_activated (GSimpleAction *action,
                GVariant      *parameter,
                gpointer       user_data)
{
  NatterApplication *self = user_data;
  g_autoptr(GList) windows = g_list_copy (gtk_application_get_windows (GTK_APPLICATION (self)));

  /* close (not destroy) so each window saves its state; closed for real,
   * so each session disconnects */
  self->quitting = TRUE;
  for (GList *l = windows; l != NULL; l = l->next)
    {
      /* gtk_window_close() ignores a window never shown (natter
       * --background, another account): it has no state to save */
      if (gtk_widget_get_realized (l->data))
        gtk_window_close (GTK_WINDOW (l->data));
      else
        gtk_window_destroy (GTK_WINDOW (l->data));
    }
  if (self->held)
    {
      self->held = FALSE;
      g_application_release (G_APPLICATION (self));
    }
  g_application_quit (G_APPLICATION (self));
}

static void
preferences_activated (GSimpleAction *action,
                       GVariant      *parameter,
                       gpointer       user_data)
{
  NatterApplication *self = user_data;
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (self));
  NatterPreferencesWindow *prefs;

  prefs = natter_preferences_window_new (self->settings, NATTER_IS_WINDOW (parent) ? parent : NULL,
                                         NATTER_IS_WINDOW (parent) ? natter_window_get_account (NATTER_WINDOW (parent))
                                                                   : NULL);
  gtk_window_present (GTK_WINDOW (prefs));
}

static void
about_activated (GSimpleAction *action,
                 GVariant      *parameter,
                 gpointer       user_data)
{
  NatterApplication *self = user_data;
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (self));
  const char *developers[] = { _("The Natter developers"), NULL };

  adw_show_about_window (parent,
                         "application-name", _("Natter"),
                         "application-icon", APP_ID,
                         "version", PACKAGE_VERSION,
                         "developer-name", _("The Natter developers"),
                         "developers", developers,
                         "comments", _("Chat and call on your own server"),
                         "license-type", GTK_LICENSE_GPL_3_0,
                         /* Translators: put your names here, one per line */
                         "translator-credits", _("translator-credits"),
                         NULL);
}

/* A notification's actions: open its chat, or mark it read in the
 * profile's window without raising it (a profile with no window left
 * opens at the chat instead). */
static void
conversation_action_activated (GSimpleAction *action,
                               GVariant      *parameter,
                               gpointer       user_data)
{
  NatterApplication *self = user_data;
  const char *profile = NULL;
  const char *target = NULL;
  g_autofree char *canonical = NULL;
  NatterWindow *window;
  int type = 0;

  g_variant_get (parameter, "(&si&s)", &profile, &type, &target);
  canonical = g_canonicalize_filename (profile, NULL);
  window = g_hash_table_lookup (self->windows, canonical);
  if (window != NULL && g_str_equal (g_action_get_name (G_ACTION (action)), "mark-conversation-read"))
    natter_window_mark_read (window, type, target);
  else
    natter_window_open_conversation (NATTER_WINDOW (natter_application_open_profile (self, profile)),
                                     type, target, 0);
}

static const GActionEntry app_actions[] = {
  { "quit", quit_activated, NULL, NULL, NULL },
  { "preferences", preferences_activated, NULL, NULL, NULL },
  { "about", about_activated, NULL, NULL, NULL },
  { "open-conversation", conversation_action_activated, "(sis)", NULL, NULL },
  { "mark-conversation-read", conversation_action_activated, "(sis)", NULL, NULL },
  { "switch-account", switch_account_activated, "s", NULL, NULL },
  { "add-account", add_account_activated, NULL, NULL, NULL },
};

static void
natter_application_startup (GApplication *app)
{
  NatterApplication *self = NATTER_APPLICATION (app);
  static const struct {
    const char *action;
    const char *accels[3];
  } accels[] = {
    { "app.quit", { "<Control>q", NULL } },
    { "app.preferences", { "<Control>comma", NULL } },
    { "win.search", { "<Control>k", "<Control>f", NULL } },
    { "win.new-chat", { "<Control>n", NULL } },
    { "win.next-conversation", { "<Alt>Down", "<Control>Tab", NULL } },
    { "win.previous-conversation", { "<Alt>Up", "<Control><Shift>Tab", NULL } },
    { "win.escape", { "Escape", NULL } },
    { "win.show-help-overlay", { "<Control>question", NULL } },
    { "window.close", { "<Control>w", NULL } },
  };

  G_APPLICATION_CLASS (natter_application_parent_class)->startup (app);

  g_action_map_add_action_entries (G_ACTION_MAP (self), app_actions,
                                   G_N_ELEMENTS (app_actions), self);
  for (guint i = 0; i < G_N_ELEMENTS (accels); i++)
    gtk_application_set_accels_for_action (GTK_APPLICATION (self), accels[i].action,
                                           accels[i].accels);

  self->settings = g_settings_new (APP_ID);
  g_signal_connect_object (self->settings, "changed::color-scheme",
                           G_CALLBACK (color_scheme_changed_cb), self, G_CONNECT_SWAPPED);
  color_scheme_changed_cb (self);

  g_signal_connect_object (self->settings, "changed::run-in-background",
                           G_CALLBACK (background_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "changed::start-on-login",
                           G_CALLBACK (start_on_login_changed_cb), self, G_CONNECT_SWAPPED);
  background_changed_cb (self);
}

static void
natter_application_shutdown (GApplication *app)
{
  G_APPLICATION_CLASS (natter_application_parent_class)->shutdown (app);

  /* The calls' DTLS key may still be in the making on its thread (a
   * quit right after the first call began): exiting under it crashes in
   * OpenSSL. Without the call module loaded there is none. */
  if (natter_call_module_peek () != NULL)
    natter_call_module_peek ()->prepare_wait ();
}

static void
natter_application_finalize (GObject *object)
{
  NatterApplication *self = (NatterApplication *) object;

  g_clear_object (&self->settings);
  g_clear_pointer (&self->windows, g_hash_table_unref);

  G_OBJECT_CLASS (natter_application_parent_class)->finalize (object);
}

static void
natter_application_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  NatterApplication *self = NATTER_APPLICATION (object);

  switch (prop_id)
    {
    case PROP_BACKGROUND_DENIED:
      g_value_set_boolean (value, self->background_denied);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_application_class_init (NatterApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->finalize = natter_application_finalize;
  object_class->get_property = natter_application_get_property;
  properties[PROP_BACKGROUND_DENIED] =
    g_param_spec_boolean ("background-denied", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
  app_class->activate = natter_application_activate;
  app_class->startup = natter_application_startup;
  app_class->shutdown = natter_application_shutdown;
  app_class->command_line = natter_application_command_line;
  app_class->handle_local_options = natter_application_handle_local_options;
}

static void
natter_application_init (NatterApplication *self)
{
  static const GOptionEntry options[] = {
    { "profile", 'p', G_OPTION_FLAG_NONE, G_OPTION_ARG_FILENAME, NULL,
      N_("Use the profile in DIR (its own account, messages and cache)"), N_("DIR") },
    { "background", 0, G_OPTION_FLAG_NONE, G_OPTION_ARG_NONE, NULL,
      N_("Start without a window, connected for messages and calls"), NULL },
    { "version", 0, G_OPTION_FLAG_NONE, G_OPTION_ARG_NONE, NULL,
      N_("Print the version and exit"), NULL },
    { NULL }
  };

  self->windows = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_application_add_main_option_entries (G_APPLICATION (self), options);
  g_application_set_option_context_summary (G_APPLICATION (self),
                                            _("Chat and call on your own server"));
}

NatterApplication *
natter_application_new_full (GApplicationFlags flags)
{
  return g_object_new (NATTER_TYPE_APPLICATION,
                       "application-id", APP_ID,
                       "flags", flags | G_APPLICATION_HANDLES_COMMAND_LINE,
                       "resource-base-path", "/im/natter/Natter",
                       NULL);
}

NatterApplication *
natter_application_new (void)
{
  return natter_application_new_full (G_APPLICATION_DEFAULT_FLAGS);
}
