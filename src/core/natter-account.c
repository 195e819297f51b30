/* natter-account.c — the sign-in of one profile
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <errno.h>
#include <string.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <libsecret/secret.h>

#include "natter-account.h"

#define GROUP "account"

struct _NatterAccount
{
  GObject parent_instance;

  char *profile_dir;
  char *server_url;
  char *app_key;
  char *user_id;
  char *app_server_url;
  char *sign_in_mode;
  char *token;
  gboolean token_in_file;
};

G_DEFINE_FINAL_TYPE (NatterAccount, natter_account, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_PROFILE_DIR,
  PROP_TOKEN_IN_FILE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static const SecretSchema *
token_schema (void)
{
  static const SecretSchema schema = {
    "im.natter.Natter.Token", SECRET_SCHEMA_NONE,
    {
      { "profile", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { "NULL", 0 },
    },
    0, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  };
  return &schema;
}

/* NATTER_SECRET_SERVICE=0 skips the keyring (tests, kiosks): the token then
 * always goes to the 0600 file. */
static gboolean
use_secret_service (void)
{
  return g_strcmp0 (g_getenv ("NATTER_SECRET_SERVICE"), "0") != 0;
}

static void
set_token_in_file (NatterAccount *self,
                   gboolean       in_file)
{
  if (self->token_in_file == in_file)
    return;
  self->token_in_file = in_file;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TOKEN_IN_FILE]);
}

static char *
ini_path (NatterAccount *self)
{
  return g_build_filename (self->profile_dir, "account.ini", NULL);
}

char *
natter_account_dup_token_path (NatterAccount *self)
{
  g_return_val_if_fail (NATTER_IS_ACCOUNT (self), NULL);
  return g_build_filename (self->profile_dir, "token", NULL);
}

/* ------------------------------------------------------------------ load */

typedef struct {
  char *ini_path;
  char *token_path;
  /* results of the thread */
  char *server_url;
  char *app_key;
  char *user_id;
  char *app_server_url;
  char *sign_in_mode;
  char *file_token;
} LoadData;

static void
load_data_free (LoadData *data)
{
  g_free (data->ini_path);
  g_free (data->token_path);
  g_free (data->server_url);
  g_free (data->app_key);
  g_free (data->user_id);
  g_free (data->app_server_url);
  g_free (data->sign_in_mode);
  g_free (data->file_token);
  g_free (data);
}

static void
load_thread (GTask        *task,
             gpointer      source_object,
             gpointer      task_data,
             GCancellable *cancellable)
{
  LoadData *data = task_data;
  g_autoptr(GKeyFile) keyfile = g_key_file_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *token = NULL;

  if (!g_key_file_load_from_file (keyfile, data->ini_path, G_KEY_FILE_NONE, &error))
    {
      if (!g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
    }
  else
    {
      data->server_url = g_key_file_get_string (keyfile, GROUP, "server-url", NULL);
      data->app_key = g_key_file_get_string (keyfile, GROUP, "app-key", NULL);
      data->user_id = g_key_file_get_string (keyfile, GROUP, "user-id", NULL);
      data->app_server_url = g_key_file_get_string (keyfile, GROUP, "app-server-url", NULL);
      data->sign_in_mode = g_key_file_get_string (keyfile, GROUP, "sign-in", NULL);
    }

  if (g_file_get_contents (data->token_path, &token, NULL, NULL))
    {
      g_strstrip (token);
      if (*token != '\0')
        data->file_token = g_steal_pointer (&token);
    }

  g_task_return_boolean (task, TRUE);
}

static void
replace_string (char       **field,
                char       **value)
{
  g_free (*field);
  *field = g_steal_pointer (value);
}

static void
load_secret_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  NatterAccount *self = g_task_get_source_object (task);
  LoadData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autofree char *secret = NULL;

  secret = secret_password_lookup_finish (result, &error);
  if (error != NULL)
    g_debug ("No token in the Secret Service: %s", error->message);

  if (secret != NULL && *secret != '\0')
    {
      replace_string (&self->token, &secret);
      set_token_in_file (self, FALSE);
    }
  else if (data->file_token != NULL)
    {
      replace_string (&self->token, &data->file_token);
      set_token_in_file (self, TRUE);
    }

  g_task_return_boolean (task, natter_account_is_complete (self));
}

static void
load_thread_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  NatterAccount *self = NATTER_ACCOUNT (object);
  LoadData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  GCancellable *cancellable;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  replace_string (&self->server_url, &data->server_url);
  replace_string (&self->app_key, &data->app_key);
  replace_string (&self->user_id, &data->user_id);
  replace_string (&self->app_server_url, &data->app_server_url);
  replace_string (&self->sign_in_mode, &data->sign_in_mode);

  if (self->server_url == NULL || !use_secret_service ())
    {
      if (data->file_token != NULL)
        {
          replace_string (&self->token, &data->file_token);
          set_token_in_file (self, TRUE);
        }
      g_task_return_boolean (task, natter_account_is_complete (self));
      return;
    }

  /* Not g_task_get_cancellable (task) in the call below: the order in which
   * arguments are evaluated is unspecified, and the steal may come first. */
  cancellable = g_task_get_cancellable (task);
  secret_password_lookup (token_schema (), cancellable,
                          load_secret_cb, g_steal_pointer (&task),
                          "profile", self->profile_dir,
                          NULL);
}

void
natter_account_load_async (NatterAccount       *self,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GTask) thread_task = NULL;
  LoadData *data;

  g_return_if_fail (NATTER_IS_ACCOUNT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_account_load_async);
  data = g_new0 (LoadData, 1);
  data->ini_path = ini_path (self);
  data->token_path = natter_account_dup_token_path (self);
  g_task_set_task_data (task, data, (GDestroyNotify) load_data_free);

  thread_task = g_task_new (self, cancellable, load_thread_cb, g_steal_pointer (&task));
  g_task_set_task_data (thread_task, data, NULL);
  g_task_run_in_thread (thread_task, load_thread);
}

gboolean
natter_account_load_finish (NatterAccount  *self,
                            GAsyncResult   *result,
                            GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ------------------------------------------------------------------ save */

typedef struct {
  char *profile_dir;
  char *ini_path;
  char *token_path;
  char *ini_text;
  char *token;      /* written to the file when set; else the file is removed */
} SaveData;

static void
save_data_free (SaveData *data)
{
  g_free (data->profile_dir);
  g_free (data->ini_path);
  g_free (data->token_path);
  g_free (data->ini_text);
  if (data->token != NULL)
    memset (data->token, 0, strlen (data->token));
  g_free (data->token);
  g_free (data);
}

static void
save_thread (GTask        *task,
             gpointer      source_object,
             gpointer      task_data,
             GCancellable *cancellable)
{
  SaveData *data = task_data;
  GError *error = NULL;

  if (g_mkdir_with_parents (data->profile_dir, 0700) != 0)
    {
      int saved_errno = errno;
      g_task_return_new_error (task, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                               _("Could not create the profile folder %s: %s"),
                               data->profile_dir, g_strerror (saved_errno));
      return;
    }

  if (data->ini_text != NULL &&
      !g_file_set_contents_full (data->ini_path, data->ini_text, -1,
                                 G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error))
    {
      g_task_return_error (task, error);
      return;
    }

  if (data->token != NULL)
    {
      if (!g_file_set_contents_full (data->token_path, data->token, -1,
                                     G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error))
        {
          g_task_return_error (task, error);
          return;
        }
    }
  else if (g_unlink (data->token_path) != 0 && errno != ENOENT)
    {
      int saved_errno = errno;
      g_task_return_new_error (task, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                               "%s: %s", data->token_path, g_strerror (saved_errno));
      return;
    }

  g_task_return_boolean (task, TRUE);
}

static void
save_thread_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, TRUE);
}

static void
run_save_thread (GTask    *task,
                 SaveData *data)
{
  g_autoptr(GTask) thread_task = NULL;

  thread_task = g_task_new (g_task_get_source_object (task), g_task_get_cancellable (task),
                            save_thread_cb, g_object_ref (task));
  g_task_set_task_data (thread_task, data, NULL);
  g_task_run_in_thread (thread_task, save_thread);
}

static void
save_secret_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  NatterAccount *self = g_task_get_source_object (task);
  SaveData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (secret_password_store_finish (result, &error))
    {
      /* In the keyring: no copy in a file (nor in memory). */
      memset (data->token, 0, strlen (data->token));
      g_clear_pointer (&data->token, g_free);
      set_token_in_file (self, FALSE);
    }
  else
    {
      g_message ("No Secret Service (%s): keeping the token in %s (mode 0600)",
                 error->message, data->token_path);
      set_token_in_file (self, TRUE);
    }

  run_save_thread (task, data);
}

void
natter_account_save_async (NatterAccount       *self,
                           const char          *server_url,
                           const char          *app_key,
                           const char          *user_id,
                           const char          *app_server_url,
                           const char          *token,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GKeyFile) keyfile = g_key_file_new ();
  g_autofree char *label = NULL;
  SaveData *data;

  g_return_if_fail (NATTER_IS_ACCOUNT (self));
  g_return_if_fail (server_url != NULL && app_key != NULL && token != NULL);

  g_free (self->server_url);
  self->server_url = g_strdup (server_url);
  g_free (self->app_key);
  self->app_key = g_strdup (app_key);
  g_free (self->user_id);
  self->user_id = g_strdup (user_id);
  g_free (self->app_server_url);
  self->app_server_url = g_strdup (app_server_url);
  g_free (self->token);
  self->token = g_strdup (token);

  g_key_file_set_string (keyfile, GROUP, "server-url", server_url);
  g_key_file_set_string (keyfile, GROUP, "app-key", app_key);
  if (user_id != NULL)
    g_key_file_set_string (keyfile, GROUP, "user-id", user_id);
  if (app_server_url != NULL && *app_server_url != '\0')
    g_key_file_set_string (keyfile, GROUP, "app-server-url", app_server_url);
  if (self->sign_in_mode != NULL)
    g_key_file_set_string (keyfile, GROUP, "sign-in", self->sign_in_mode);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_account_save_async);
  data = g_new0 (SaveData, 1);
  data->profile_dir = g_strdup (self->profile_dir);
  data->ini_path = ini_path (self);
  data->token_path = natter_account_dup_token_path (self);
  data->ini_text = g_key_file_to_data (keyfile, NULL, NULL);
  data->token = g_strdup (token);
  g_task_set_task_data (task, data, (GDestroyNotify) save_data_free);

  if (!use_secret_service ())
    {
      set_token_in_file (self, TRUE);
      run_save_thread (task, data);
      return;
    }

  /* Translators: the name of the token in the keyring (Passwords and Keys) */
  label = g_strdup_printf (_("Natter token for %s on %s"),
                           user_id != NULL ? user_id : "?", server_url);
  secret_password_store (token_schema (), SECRET_COLLECTION_DEFAULT, label, token,
                         cancellable, save_secret_cb, g_steal_pointer (&task),
                         "profile", self->profile_dir,
                         NULL);
}

gboolean
natter_account_save_finish (NatterAccount  *self,
                            GAsyncResult   *result,
                            GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
forget_secret_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;

  if (!secret_password_clear_finish (result, &error))
    g_debug ("Secret Service: %s", error != NULL ? error->message : "no token stored");
  run_save_thread (task, g_task_get_task_data (task));
}

void
natter_account_forget_token_async (NatterAccount       *self,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  SaveData *data;

  g_return_if_fail (NATTER_IS_ACCOUNT (self));

  g_clear_pointer (&self->token, g_free);
  set_token_in_file (self, FALSE);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_account_forget_token_async);
  data = g_new0 (SaveData, 1);
  data->profile_dir = g_strdup (self->profile_dir);
  data->ini_path = ini_path (self);
  data->token_path = natter_account_dup_token_path (self);
  g_task_set_task_data (task, data, (GDestroyNotify) save_data_free);

  if (!use_secret_service ())
    {
      run_save_thread (task, data);
      return;
    }
  secret_password_clear (token_schema (), cancellable, forget_secret_cb, g_steal_pointer (&task),
                         "profile", self->profile_dir,
                         NULL);
}

gboolean
natter_account_forget_token_finish (NatterAccount  *self,
                                    GAsyncResult   *result,
                                    GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* --------------------------------------------------------------- getters */

const char *
natter_account_get_profile_dir (NatterAccount *self)
{
  g_return_val_if_fail (NATTER_IS_ACCOUNT (self), NULL);
  return self->profile_dir;
}

const char *
natter_account_get_server_url (NatterAccount *self)
{
  g_return_val_if_fail (NATTER_IS_ACCOUNT (self), NULL);
  return self->server_url;
}

const char *
natter_account_get_app_key (NatterAccount *self)
{
  g_return_val_if_fail (NATTER_IS_ACCOUNT (self), NULL);
  return self->app_key;
}

const char *
natter_account_get_user_id (NatterAccount *self)
{
  g_return_val_if_fail (NATTER_IS_ACCOUNT (self), NULL);
  return self->user_id;
}

const char *
natter_account_get_app_server_url (NatterAccount *self)
{
  g_return_val_if_fail (NATTER_IS_ACCOUNT (self), NULL);
  return self->app_server_url;
}

const char *
natter_account_get_sign_in_mode (NatterAccount *self)
{
  g_return_val_if_fail (NATTER_IS_ACCOUNT (self), NULL);
  return self->sign_in_mode;
}

void
natter_account_set_sign_in_mode (NatterAccount *self,
                                 const char    *mode)
{
  g_return_if_fail (NATTER_IS_ACCOUNT (self));
  g_free (self->sign_in_mode);
  self->sign_in_mode = g_strdup (mode);
}

const char *
natter_account_get_token (NatterAccount *self)
{
  g_return_val_if_fail (NATTER_IS_ACCOUNT (self), NULL);
  return self->token;
}

gboolean
natter_account_get_token_in_file (NatterAccount *self)
{
  g_return_val_if_fail (NATTER_IS_ACCOUNT (self), FALSE);
  return self->token_in_file;
}

gboolean
natter_account_is_complete (NatterAccount *self)
{
  g_return_val_if_fail (NATTER_IS_ACCOUNT (self), FALSE);
  return self->server_url != NULL && *self->server_url != '\0' &&
         self->app_key != NULL && *self->app_key != '\0' &&
         self->token != NULL && *self->token != '\0';
}

char *
natter_account_default_profile_dir (void)
{
  return g_build_filename (g_get_user_data_dir (), "natter", "default", NULL);
}

static void
natter_account_finalize (GObject *object)
{
  NatterAccount *self = (NatterAccount *) object;

  g_free (self->profile_dir);
  g_free (self->server_url);
  g_free (self->app_key);
  g_free (self->user_id);
  g_free (self->app_server_url);
  g_free (self->sign_in_mode);
  g_free (self->token);

  G_OBJECT_CLASS (natter_account_parent_class)->finalize (object);
}

static void
natter_account_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  NatterAccount *self = NATTER_ACCOUNT (object);

  switch (prop_id)
    {
    case PROP_PROFILE_DIR:
      g_value_set_string (value, self->profile_dir);
      break;
    case PROP_TOKEN_IN_FILE:
      g_value_set_boolean (value, self->token_in_file);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_account_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  NatterAccount *self = NATTER_ACCOUNT (object);

  switch (prop_id)
    {
    case PROP_PROFILE_DIR:
      self->profile_dir = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_account_class_init (NatterAccountClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = natter_account_finalize;
  object_class->get_property = natter_account_get_property;
  object_class->set_property = natter_account_set_property;

  properties[PROP_PROFILE_DIR] =
    g_param_spec_string ("profile-dir", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_TOKEN_IN_FILE] =
    g_param_spec_boolean ("token-in-file", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
natter_account_init (NatterAccount *self)
{
}

NatterAccount *
natter_account_new (const char *profile_dir)
{
  g_return_val_if_fail (profile_dir != NULL, NULL);
  return g_object_new (NATTER_TYPE_ACCOUNT, "profile-dir", profile_dir, NULL);
}
