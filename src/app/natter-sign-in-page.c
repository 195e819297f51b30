/* natter-sign-in-page.c — first run: server, app key, and a user ID and
 * password (natterd's accounts), or under "Advanced" a token or an app
 * server that hands one out
 *
 * The page asks the server's /account/settings.json whether the app lets
 * people create accounts (open, or with an invite code) once the server
 * and app key are filled in, and offers "Create Account" accordingly.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gi18n.h>

#include "natter-format.h"
#include "natter-format-accounts.h"
#include "natter-sign-in-page.h"

struct _NatterSignInPage
{
  AdwBin parent_instance;

  NatterSession *session;
  GCancellable *cancellable;   /* while signing in */
  char *unencrypted_confirmed;   /* the addresses the user agreed to use over http:// */

  AdwEntryRow *server_row;
  AdwEntryRow *app_key_row;
  GtkToggleButton *token_toggle;
  GtkToggleButton *app_server_toggle;
  GtkStack *mode_stack;
  AdwEntryRow *token_row;
  AdwEntryRow *app_server_row;
  AdwEntryRow *user_row;
  GtkLabel *error_label;
  GtkWidget *sign_in_button;
  GtkSpinner *spinner;
  AdwEntryRow *password_user_row;
  AdwPasswordEntryRow *password_row;
  AdwPasswordEntryRow *confirm_row;
  AdwEntryRow *invite_row;
  GtkWidget *password_group;
  GtkExpander *advanced_expander;
  GtkWidget *create_button;

  NatterAccountService *accounts;   /* password sign-in, settings */
  GCancellable *settings_cancellable;
  gboolean creating;                /* the next sign-in registers */
  char *settings_key;               /* server and app key asked about */
  guint settings_source;
  NatterAccountsMode accounts_mode;
  gboolean accounts_mode_known;     /* the server answered for settings_key */
};

G_DEFINE_FINAL_TYPE (NatterSignInPage, natter_sign_in_page, ADW_TYPE_BIN)

enum {
  PROP_0,
  PROP_SESSION,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static const char *
text_of (AdwEntryRow *row)
{
  return gtk_editable_get_text (GTK_EDITABLE (row));
}

static gboolean
filled (AdwEntryRow *row)
{
  const char *text = text_of (row);
  return text != NULL && *text != '\0' && !g_ascii_isspace (*text);
}

static gboolean
use_app_server (NatterSignInPage *self)
{
  return gtk_toggle_button_get_active (self->app_server_toggle);
}

static gboolean
use_password (NatterSignInPage *self)
{
  return !gtk_expander_get_expanded (self->advanced_expander);
}

static gboolean
busy (NatterSignInPage *self)
{
  return self->cancellable != NULL;
}

static gboolean
password_filled (NatterSignInPage *self)
{
  const char *password = gtk_editable_get_text (GTK_EDITABLE (self->password_row));

  return filled (self->password_user_row) && password != NULL && *password != '\0';
}

static void schedule_settings (NatterSignInPage *self);

static void
form_changed_cb (NatterSignInPage *self)
{
  gboolean server = filled (self->server_row) && filled (self->app_key_row);
  gboolean ok;
  gboolean can_create = use_password (self) && self->accounts_mode != NATTER_ACCOUNTS_OFF;

  if (use_password (self))
    ok = server && password_filled (self);
  else
    ok = server && (use_app_server (self) ? filled (self->app_server_row) && filled (self->user_row)
                                          : filled (self->token_row));

  gtk_widget_set_sensitive (self->sign_in_button, ok && !busy (self));
  gtk_widget_set_visible (self->create_button, can_create);
  gtk_widget_set_visible (GTK_WIDGET (self->confirm_row), can_create);
  gtk_widget_set_visible (GTK_WIDGET (self->invite_row),
                          can_create && self->accounts_mode == NATTER_ACCOUNTS_INVITE);
  gtk_widget_set_sensitive (self->create_button,
                            ok && !busy (self) &&
                            (self->accounts_mode != NATTER_ACCOUNTS_INVITE || filled (self->invite_row)));
  schedule_settings (self);
}

static void
mode_toggled_cb (NatterSignInPage *self)
{
  gtk_stack_set_visible_child_name (self->mode_stack, use_app_server (self) ? "app-server" : "token");
  gtk_widget_set_visible (self->password_group, use_password (self));
  form_changed_cb (self);
}

/* ------------------------------------------------- what the app allows */

static void
settings_cb (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  NatterSignInPage *self = user_data;
  g_autoptr(GError) error = NULL;
  NatterAccountsMode mode = NATTER_ACCOUNTS_OFF;

  if (!natter_account_service_get_settings_finish (NATTER_ACCOUNT_SERVICE (object), result, &mode, NULL, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      /* An older natterd, another app: tokens only. */
      g_debug ("No account settings: %s", error->message);
      mode = NATTER_ACCOUNTS_OFF;
    }
  g_clear_object (&self->settings_cancellable);
  self->accounts_mode = mode;
  self->accounts_mode_known = TRUE;
  form_changed_cb (self);
}

static gboolean
fetch_settings_cb (gpointer user_data)
{
  NatterSignInPage *self = user_data;
  g_auto(GStrv) servers = NULL;

  self->settings_source = 0;
  servers = natter_server_urls_parse (text_of (self->server_row), NULL);
  if (servers == NULL || !filled (self->app_key_row))
    return G_SOURCE_REMOVE;

  g_cancellable_cancel (self->settings_cancellable);
  g_clear_object (&self->settings_cancellable);
  self->settings_cancellable = g_cancellable_new ();
  g_clear_object (&self->accounts);
  self->accounts = natter_account_service_new (text_of (self->server_row), text_of (self->app_key_row));
  natter_account_service_get_settings_async (self->accounts, self->settings_cancellable, settings_cb, self);
  return G_SOURCE_REMOVE;
}

/* Once the typing stops: a question for the server that is filled in. */
static void
schedule_settings (NatterSignInPage *self)
{
  g_autofree char *key = g_strdup_printf ("%s\n%s", text_of (self->server_row), text_of (self->app_key_row));

  if (g_strcmp0 (key, self->settings_key) == 0)
    return;
  g_free (self->settings_key);
  self->settings_key = g_steal_pointer (&key);
  self->accounts_mode_known = FALSE;
  g_clear_handle_id (&self->settings_source, g_source_remove);
  self->settings_source = g_timeout_add (400, fetch_settings_cb, self);
}

static void
set_busy (NatterSignInPage *self,
          gboolean          is_busy)
{
  gtk_widget_set_visible (GTK_WIDGET (self->spinner), is_busy);
  gtk_spinner_set_spinning (self->spinner, is_busy);
  gtk_widget_set_sensitive (GTK_WIDGET (self->server_row), !is_busy);
  gtk_widget_set_sensitive (GTK_WIDGET (self->app_key_row), !is_busy);
  gtk_widget_set_sensitive (GTK_WIDGET (self->mode_stack), !is_busy);
  gtk_widget_set_sensitive (self->password_group, !is_busy);
  form_changed_cb (self);
  if (is_busy)
    gtk_widget_set_sensitive (self->sign_in_button, FALSE);
}

void
natter_sign_in_page_show_error (NatterSignInPage *self,
                                const char       *message)
{
  g_return_if_fail (NATTER_IS_SIGN_IN_PAGE (self));

  gtk_label_set_label (self->error_label, message != NULL ? message : "");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), message != NULL);
}

static void
signed_in_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(NatterSignInPage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL;

  if (natter_session_sign_in_finish (NATTER_SESSION (object), result, &error))
    {
      g_clear_object (&self->cancellable);
      set_busy (self, FALSE);
      natter_sign_in_page_show_error (self, NULL);
      return;
    }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  /* Say why and stop trying. */
  g_clear_object (&self->cancellable);
  if (g_error_matches (error, NATTER_SESSION_ERROR, NATTER_SESSION_ERROR_UNREACHABLE))
    message = g_strdup_printf (_("Could not reach the server at %s. Check the address and that natterd is running."),
                               text_of (self->server_row));
  else if (g_error_matches (error, NATTER_SESSION_ERROR, NATTER_SESSION_ERROR_NO_TOKEN))
    message = g_strdup_printf (_("The app server did not give a token: %s"), error->message);
  else
    message = natter_format_error (error);
  set_busy (self, FALSE);
  natter_sign_in_page_show_error (self, message);
}

/* The password was right (or the account is new): sign in with its token
 * as with any other. */
static void
password_checked_cb (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(NatterSignInPage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *token = NULL;
  g_autofree char *message = NULL;

  token = natter_account_service_token_finish (NATTER_ACCOUNT_SERVICE (object), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (token == NULL)
    {
      g_clear_object (&self->cancellable);
      message = natter_format_account_error (error);
      set_busy (self, FALSE);
      natter_sign_in_page_show_error (self, message);
      return;
    }
  gtk_editable_set_text (GTK_EDITABLE (self->password_row), "");
  gtk_editable_set_text (GTK_EDITABLE (self->confirm_row), "");
  natter_account_set_sign_in_mode (natter_session_get_account (self->session), "password");
  natter_session_sign_in_async (self->session, text_of (self->server_row), text_of (self->app_key_row),
                                token, NULL, NULL, self->cancellable, signed_in_cb, g_object_ref (self));
}

static void
confirm_changed_cb (NatterSignInPage *self)
{
  gtk_widget_remove_css_class (GTK_WIDGET (self->confirm_row), "error");
}

static void
create_account_cb (NatterSignInPage *self)
{
  /* a typo in a new password would lock the person out: asked twice,
   * checked here, nothing sent when they differ */
  if (g_strcmp0 (gtk_editable_get_text (GTK_EDITABLE (self->password_row)),
                 gtk_editable_get_text (GTK_EDITABLE (self->confirm_row))) != 0)
    {
      gtk_widget_add_css_class (GTK_WIDGET (self->confirm_row), "error");
      natter_sign_in_page_show_error (self, _("The passwords do not match."));
      return;
    }
  self->creating = TRUE;
  natter_sign_in_page_sign_in (self);
  self->creating = FALSE;
}

/* The addresses the token would travel to unencrypted, one a line; NULL
 * when there are none (https, or loopback). */
static char *
unencrypted_addresses (NatterSignInPage *self)
{
  g_autoptr(GString) addresses = g_string_new (NULL);
  g_auto(GStrv) servers = g_strsplit (text_of (self->server_row), ",", -1);
  g_autoptr(GPtrArray) urls = g_ptr_array_new ();

  for (guint i = 0; servers[i] != NULL; i++)
    g_ptr_array_add (urls, g_strstrip (servers[i]));
  if (use_app_server (self))
    g_ptr_array_add (urls, (char *) text_of (self->app_server_row));

  for (guint i = 0; i < urls->len; i++)
    if (natter_url_is_unencrypted_remote (g_ptr_array_index (urls, i)))
      {
        g_autoptr(GUri) uri = g_uri_parse (g_ptr_array_index (urls, i), G_URI_FLAGS_NONE, NULL);

        if (addresses->len > 0)
          g_string_append (addresses, ", ");
        g_string_append (addresses, g_uri_get_host (uri));
      }
  return addresses->len > 0 ? g_string_free (g_steal_pointer (&addresses), FALSE) : NULL;
}

static void
unencrypted_response_cb (AdwMessageDialog *dialog,
                         const char       *response,
                         NatterSignInPage *self)
{
  if (!g_str_equal (response, "sign-in"))
    return;
  g_free (self->unencrypted_confirmed);
  self->unencrypted_confirmed = unencrypted_addresses (self);
  natter_sign_in_page_sign_in (self);
}

/* A token sent over plain http:// can be read, and used, by anyone on the
 * way: the user says so first (loopback needs no asking). */
static void
ask_unencrypted (NatterSignInPage *self,
                 const char       *addresses)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  g_autofree char *body = NULL;
  GtkWidget *dialog;

  /* Translators: %s is a server's host name or address (or a list of them) */
  body = g_strdup_printf (_("The connection to %s is not encrypted (http://). Anyone on the network on the way can read your messages and use your token to act as you. Use an https:// address if the server has one."),
                          addresses);
  dialog = adw_message_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                   _("Sign In Without Encryption?"), body);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "sign-in", _("Sign In _Anyway"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "sign-in",
                                              ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_signal_connect_object (dialog, "response", G_CALLBACK (unencrypted_response_cb), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

void
natter_sign_in_page_sign_in (NatterSignInPage *self)
{
  g_auto(GStrv) servers = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *unencrypted = NULL;

  g_return_if_fail (NATTER_IS_SIGN_IN_PAGE (self));

  if (self->session == NULL || busy (self) || !gtk_widget_get_sensitive (self->sign_in_button))
    return;

  /* One address, or several nodes of one service separated by commas. */
  servers = natter_server_urls_parse (text_of (self->server_row), &error);
  if (servers == NULL)
    {
      g_autofree char *message = NULL;

      /* Translators: %s says which address is wrong */
      message = g_strdup_printf (_("The server address must start with http:// or https://, as natterd prints it (several are separated by commas). %s"),
                                 error->message);
      natter_sign_in_page_show_error (self, message);
      return;
    }

  unencrypted = unencrypted_addresses (self);
  if (unencrypted != NULL && g_strcmp0 (unencrypted, self->unencrypted_confirmed) != 0)
    {
      ask_unencrypted (self, unencrypted);
      return;
    }

  natter_sign_in_page_show_error (self, NULL);
  self->cancellable = g_cancellable_new ();
  set_busy (self, TRUE);

  if (use_password (self))
    {
      g_autoptr(NatterAccountService) service = natter_account_service_new (text_of (self->server_row),
                                                                            text_of (self->app_key_row));
      const char *user_id = text_of (self->password_user_row);
      const char *password = gtk_editable_get_text (GTK_EDITABLE (self->password_row));

      if (self->creating)
        natter_account_service_register_async (service, user_id, password, user_id,
                                               filled (self->invite_row) ? text_of (self->invite_row) : NULL,
                                               self->cancellable, password_checked_cb, g_object_ref (self));
      else
        natter_account_service_login_async (service, user_id, password, self->cancellable,
                                            password_checked_cb, g_object_ref (self));
      self->creating = FALSE;
      return;
    }

  /* what Preferences offers follows it (no password to change here) */
  natter_account_set_sign_in_mode (natter_session_get_account (self->session),
                                   use_app_server (self) ? "app-server" : "token");
  if (use_app_server (self))
    natter_session_sign_in_async (self->session, text_of (self->server_row), text_of (self->app_key_row),
                                  NULL, text_of (self->app_server_row), text_of (self->user_row),
                                  self->cancellable, signed_in_cb, g_object_ref (self));
  else
    natter_session_sign_in_async (self->session, text_of (self->server_row), text_of (self->app_key_row),
                                  text_of (self->token_row), NULL, NULL,
                                  self->cancellable, signed_in_cb, g_object_ref (self));
}

void
natter_sign_in_page_prefill (NatterSignInPage *self,
                             const char       *server_url,
                             const char       *app_key,
                             const char       *app_server_url,
                             const char       *user_id)
{
  g_return_if_fail (NATTER_IS_SIGN_IN_PAGE (self));

  if (server_url != NULL)
    gtk_editable_set_text (GTK_EDITABLE (self->server_row), server_url);
  if (app_key != NULL)
    gtk_editable_set_text (GTK_EDITABLE (self->app_key_row), app_key);
  if (app_server_url != NULL && *app_server_url != '\0')
    {
      gtk_editable_set_text (GTK_EDITABLE (self->app_server_row), app_server_url);
      gtk_toggle_button_set_active (self->app_server_toggle, TRUE);
      gtk_expander_set_expanded (self->advanced_expander, TRUE);
    }
  if (user_id != NULL)
    {
      gtk_editable_set_text (GTK_EDITABLE (self->user_row), user_id);
      gtk_editable_set_text (GTK_EDITABLE (self->password_user_row), user_id);
    }
  gtk_editable_set_text (GTK_EDITABLE (self->token_row), "");
  form_changed_cb (self);
}

/* Signed out (a first run, the user's sign out, a refused account): the
 * form comes back filled in with what the account knows, and says why. */
static void
session_state_changed_cb (NatterSignInPage   *self,
                          NatterSessionState  state)
{
  NatterAccount *account = natter_session_get_account (self->session);
  const GError *error = natter_session_get_error (self->session);
  g_autofree char *message = NULL;

  if (state != NATTER_SESSION_STATE_SIGNED_OUT)
    return;
  natter_sign_in_page_prefill (self,
                               natter_account_get_server_url (account),
                               natter_account_get_app_key (account),
                               natter_account_get_app_server_url (account),
                               natter_account_get_user_id (account));
  if (g_error_matches (error, NATTER_SESSION_ERROR, NATTER_SESSION_ERROR_PROFILE))
    message = g_strdup_printf (_("Could not read the profile: %s"), error->message);
  else if (error != NULL)
    message = natter_format_error (error);
  natter_sign_in_page_show_error (self, message);
}

NatterSession *
natter_sign_in_page_get_session (NatterSignInPage *self)
{
  g_return_val_if_fail (NATTER_IS_SIGN_IN_PAGE (self), NULL);
  return self->session;
}

void
natter_sign_in_page_set_session (NatterSignInPage *self,
                                 NatterSession    *session)
{
  g_return_if_fail (NATTER_IS_SIGN_IN_PAGE (self));
  g_return_if_fail (session == NULL || NATTER_IS_SESSION (session));

  if (self->session == session)
    return;
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  set_busy (self, FALSE);
  if (self->session != NULL)
    g_signal_handlers_disconnect_by_data (self->session, self);
  g_set_object (&self->session, session);
  if (session != NULL)
    {
      g_signal_connect_object (session, "state-changed", G_CALLBACK (session_state_changed_cb),
                               self, G_CONNECT_SWAPPED);
      session_state_changed_cb (self, natter_session_get_state (session));
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SESSION]);
}

static void
natter_sign_in_page_dispose (GObject *object)
{
  NatterSignInPage *self = (NatterSignInPage *) object;

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->session != NULL)
    g_signal_handlers_disconnect_by_data (self->session, self);
  g_clear_object (&self->session);
  g_clear_pointer (&self->unencrypted_confirmed, g_free);
  g_clear_handle_id (&self->settings_source, g_source_remove);
  g_cancellable_cancel (self->settings_cancellable);
  g_clear_object (&self->settings_cancellable);
  g_clear_object (&self->accounts);
  g_clear_pointer (&self->settings_key, g_free);
  gtk_widget_dispose_template (GTK_WIDGET (self), NATTER_TYPE_SIGN_IN_PAGE);

  G_OBJECT_CLASS (natter_sign_in_page_parent_class)->dispose (object);
}

static void
natter_sign_in_page_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  NatterSignInPage *self = NATTER_SIGN_IN_PAGE (object);

  switch (prop_id)
    {
    case PROP_SESSION:
      g_value_set_object (value, self->session);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_sign_in_page_set_property (GObject      *object,
                                  guint         prop_id,
                                  const GValue *value,
                                  GParamSpec   *pspec)
{
  NatterSignInPage *self = NATTER_SIGN_IN_PAGE (object);

  switch (prop_id)
    {
    case PROP_SESSION:
      natter_sign_in_page_set_session (self, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_sign_in_page_class_init (NatterSignInPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = natter_sign_in_page_dispose;
  object_class->get_property = natter_sign_in_page_get_property;
  object_class->set_property = natter_sign_in_page_set_property;

  properties[PROP_SESSION] =
    g_param_spec_object ("session", NULL, NULL, NATTER_TYPE_SESSION,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class, "/im/natter/Natter/natter-sign-in-page.ui");
  gtk_widget_class_bind_template_child (widget_class, NatterSignInPage, server_row);
  gtk_widget_class_bind_template_child (widget_class, NatterSignInPage, app_key_row);
  gtk_widget_class_bind_template_child (widget_class, NatterSignInPage, token_toggle);
  gtk_widget_class_bind_template_child (widget_class, NatterSignInPage, app_server_toggle);
  gtk_widget_class_bind_template_child (widget_class, NatterSignInPage, mode_stack);
  gtk_widget_class_bind_template_child (widget_class, NatterSignInPage, token_row);
  gtk_widget_class_bind_template_child (widget_class, NatterSignInPage, app_server_row);
  gtk_widget_class_bind_template_child (widget_class, NatterSignInPage, user_row);
  gtk_widget_class_bind_template_child (widget_class, NatterSignInPage, error_label);
  gtk_widget_class_bind_template_child (widget_class, NatterSignInPage, sign_in_button);
  gtk_widget_class_bind_template_child (widget_class, NatterSignInPage, spinner);
  gtk_widget_class_bind_template_child (widget_class, NatterSignInPage, password_user_row);
  gtk_widget_class_bind_template_child (widget_class, NatterSignInPage, password_row);
  gtk_widget_class_bind_template_child (widget_class, NatterSignInPage, confirm_row);
  gtk_widget_class_bind_template_callback (widget_class, confirm_changed_cb);
  gtk_widget_class_bind_template_child (widget_class, NatterSignInPage, invite_row);
  gtk_widget_class_bind_template_child (widget_class, NatterSignInPage, password_group);
  gtk_widget_class_bind_template_child (widget_class, NatterSignInPage, advanced_expander);
  gtk_widget_class_bind_template_child (widget_class, NatterSignInPage, create_button);
  gtk_widget_class_bind_template_callback (widget_class, create_account_cb);
  gtk_widget_class_bind_template_callback (widget_class, form_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, mode_toggled_cb);
  gtk_widget_class_bind_template_callback (widget_class, natter_sign_in_page_sign_in);
}

static void
natter_sign_in_page_init (NatterSignInPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

gboolean
natter_sign_in_page_get_accounts_mode_known (NatterSignInPage *self)
{
  g_return_val_if_fail (NATTER_IS_SIGN_IN_PAGE (self), FALSE);

  return self->accounts_mode_known;
}
