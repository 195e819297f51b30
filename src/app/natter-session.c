/* natter-session.c — the sign-in of one profile and its client's life
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-format.h"
#include "natter-session.h"

struct _NatterSession
{
  GObject parent_instance;

  char *profile_dir;
  NatterAccount *account;
  NatterClient *client;
  NatterSessionState state;
  char *user_id;
  GError *error;
  gboolean synced;     /* the conversation list synced since this client came */
  GTask *sign_in;      /* the sign-in under way */
  guint changing_password;  /* password.json requests under way */
  GError *held_refusal;     /* a 31004 that came while one was */
};

G_DEFINE_FINAL_TYPE (NatterSession, natter_session, G_TYPE_OBJECT)

G_DEFINE_ENUM_TYPE (NatterSessionState, natter_session_state,
                    G_DEFINE_ENUM_VALUE (NATTER_SESSION_STATE_LOADING, "loading"),
                    G_DEFINE_ENUM_VALUE (NATTER_SESSION_STATE_SIGNED_OUT, "signed-out"),
                    G_DEFINE_ENUM_VALUE (NATTER_SESSION_STATE_RESTORED, "restored"),
                    G_DEFINE_ENUM_VALUE (NATTER_SESSION_STATE_SIGNED_IN, "signed-in"))

G_DEFINE_QUARK (natter-session-error-quark, natter_session_error)

enum {
  PROP_0,
  PROP_PROFILE_DIR,
  PROP_ACCOUNT,
  PROP_CLIENT,
  PROP_STATE,
  PROP_USER_ID,
  N_PROPS
};

enum {
  STATE_CHANGED,
  ACCOUNT_SAVED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

/* One setter: ::state-changed, then notify::state. */
static void
set_state (NatterSession      *self,
           NatterSessionState  state)
{
  NatterSessionState old_state = self->state;

  if (state == old_state)
    return;
  self->state = state;
  g_debug ("session %s: %d → %d", self->profile_dir, old_state, state);
  g_signal_emit (self, signals[STATE_CHANGED], 0, state, old_state);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

static void
set_user_id (NatterSession *self,
             const char    *user_id)
{
  if (g_strcmp0 (self->user_id, user_id) == 0)
    return;
  g_free (self->user_id);
  self->user_id = g_strdup (user_id);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_USER_ID]);
}

/* ------------------------------------------------------------- the client */

static void
sync_done_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  natter_client_sync_conversations_finish (NATTER_CLIENT (object), result, &error);
  if (error != NULL)
    g_message ("Syncing conversations: %s", error->message);
}

static void sign_out (NatterSession *self);

static gboolean
is_refusal (const GError *error)
{
  return error != NULL && error->domain == NATTER_CLIENT_ERROR &&
         (error->code == NATTER_CODE_TOKEN_INCORRECT || error->code == NATTER_CODE_TOKEN_EXPIRED ||
          error->code == NATTER_CODE_APP_KEY_MISMATCH || error->code == NATTER_CODE_APP_KEY_REJECTED ||
          error->code == NATTER_CODE_USER_BLOCKED || error->code == NATTER_CODE_APP_BLOCKED);
}

static void
status_changed_cb (NatterSession          *self,
                   NatterConnectionStatus  status,
                   NatterConnectionStatus  old_status,
                   const GError           *error)
{
  if (status == NATTER_CONNECTION_CONNECTED)
    {
      set_user_id (self, natter_client_get_user_id (self->client));
      if (!self->synced)
        {
          self->synced = TRUE;
          natter_client_sync_conversations_async (self->client, NULL, sync_done_cb, NULL);
        }
      return;
    }

  /* natterd kicks every device of the account with 31004 when its
   * password changes, this one too, and maybe before the HTTP reply: held
   * until the reply says whether a new token takes over. */
  if (is_refusal (error) && error->code == NATTER_CODE_TOKEN_INCORRECT && self->changing_password > 0)
    {
      g_clear_error (&self->held_refusal);
      self->held_refusal = g_error_copy (error);
      return;
    }

  /* the account itself was refused: signing in again is the way back */
  if (is_refusal (error))
    {
      g_clear_error (&self->error);
      self->error = g_error_copy (error);
      sign_out (self);
    }
}

static void
adopt_client (NatterSession *self,
              NatterClient  *client,
              const char    *user_id)
{
  g_assert (self->client == NULL);

  self->client = g_object_ref (client);
  self->synced = FALSE;
  g_clear_error (&self->error);
  g_signal_connect_object (client, "status-changed", G_CALLBACK (status_changed_cb),
                           self, G_CONNECT_SWAPPED);
  set_user_id (self, user_id);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CLIENT]);
  if (natter_client_get_status (client) == NATTER_CONNECTION_CONNECTED)
    status_changed_cb (self, NATTER_CONNECTION_CONNECTED, NATTER_CONNECTION_CONNECTED, NULL);
}

/* Whoever shows the client lets go of it first (notify::client), then it
 * disconnects. */
static void
drop_client (NatterSession *self)
{
  g_autoptr(NatterClient) client = g_steal_pointer (&self->client);

  if (client == NULL)
    return;
  g_signal_handlers_disconnect_by_data (client, self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CLIENT]);
  natter_client_disconnect (client);
}

static void
forget_token_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!natter_account_forget_token_finish (NATTER_ACCOUNT (object), result, &error))
    g_warning ("Forgetting the token: %s", error->message);
}

static void
sign_out (NatterSession *self)
{
  /* natterd tells the app server "logout" (presence), not "offline". */
  if (self->client != NULL)
    natter_client_sign_out (self->client);
  drop_client (self);
  set_user_id (self, NULL);
  natter_account_forget_token_async (self->account, NULL, forget_token_cb, NULL);
  set_state (self, NATTER_SESSION_STATE_SIGNED_OUT);
}

void
natter_session_sign_out (NatterSession *self)
{
  g_return_if_fail (NATTER_IS_SESSION (self));

  g_clear_error (&self->error);
  sign_out (self);
}

void
natter_session_connect (NatterSession *self)
{
  g_return_if_fail (NATTER_IS_SESSION (self));
  g_return_if_fail (self->state == NATTER_SESSION_STATE_RESTORED);

  natter_client_connect (self->client, natter_account_get_token (self->account));
  set_state (self, NATTER_SESSION_STATE_SIGNED_IN);
}

/* ---------------------------------------------------------------- loading */

static void
account_loaded_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(NatterSession) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterClient) client = NULL;

  if (!natter_account_load_finish (self->account, result, &error))
    {
      /* no error: nothing stored yet (a first run) */
      if (error != NULL)
        self->error = g_error_new (NATTER_SESSION_ERROR, NATTER_SESSION_ERROR_PROFILE,
                                   "%s", error->message);
      set_state (self, NATTER_SESSION_STATE_SIGNED_OUT);
      return;
    }

  /* Signed in before: the stored conversations at once, the network when
   * natter_session_connect() says. */
  client = natter_client_new (natter_account_get_server_url (self->account),
                              natter_account_get_app_key (self->account),
                              self->profile_dir);
  adopt_client (self, client, natter_account_get_user_id (self->account));
  set_state (self, NATTER_SESSION_STATE_RESTORED);
}

/* ---------------------------------------------------------------- sign-in */

typedef struct {
  char *server_url;
  char *app_key;
  char *token;
  char *app_server_url;
  NatterClient *client;    /* connecting */
  gulong cancelled_id;
  guint n_failed;          /* connects that failed: one per node of the list */
} SignIn;

static void
sign_in_free (SignIn *data)
{
  g_free (data->server_url);
  g_free (data->app_key);
  g_free (data->token);
  g_free (data->app_server_url);
  g_clear_object (&data->client);
  g_free (data);
}

/* Ends the sign-in under way: @error (taken) or success. */
static void
finish_sign_in (NatterSession *self,
                GError        *error)
{
  g_autoptr(GTask) task = g_steal_pointer (&self->sign_in);
  SignIn *data = g_task_get_task_data (task);

  if (data->cancelled_id != 0)
    g_signal_handler_disconnect (g_task_get_cancellable (task), data->cancelled_id);
  data->cancelled_id = 0;
  if (data->client != NULL)
    {
      g_signal_handlers_disconnect_by_data (data->client, self);
      natter_client_disconnect (data->client);
      g_clear_object (&data->client);
    }
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
account_saved_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(NatterSession) self = user_data;
  g_autoptr(GError) error = NULL;

  natter_account_save_finish (NATTER_ACCOUNT (object), result, &error);
  g_signal_emit (self, signals[ACCOUNT_SAVED], 0, error);
}

/* The first connection of a sign-in: accepted, or why not (then no retry). */
static void
sign_in_status_cb (NatterSession          *self,
                   NatterConnectionStatus  status,
                   NatterConnectionStatus  old_status,
                   const GError           *error,
                   NatterClient           *client)
{
  g_autoptr(NatterClient) hold = g_object_ref (client);
  SignIn *data = g_task_get_task_data (self->sign_in);

  if (status == NATTER_CONNECTION_CONNECTING)
    return;

  if (status == NATTER_CONNECTION_CONNECTED)
    {
      g_signal_handlers_disconnect_by_data (client, self);
      g_clear_object (&data->client);
      natter_account_save_async (self->account,
                                 natter_client_get_server_url (client),
                                 natter_client_get_app_key (client),
                                 natter_client_get_user_id (client),
                                 data->app_server_url, data->token, NULL,
                                 account_saved_cb, g_object_ref (self));
      if (self->client != NULL)
        {
          drop_client (self);
          set_state (self, NATTER_SESSION_STATE_SIGNED_OUT);
        }
      adopt_client (self, client, natter_client_get_user_id (client));
      set_state (self, NATTER_SESSION_STATE_SIGNED_IN);
      finish_sign_in (self, NULL);
      return;
    }

  /* Several nodes: unreachable once each has failed (the client tries the
   * next by itself). */
  if (status == NATTER_CONNECTION_CLOSED && error == NULL)
    {
      g_auto(GStrv) urls = natter_server_urls_parse (data->server_url, NULL);

      if (urls != NULL && ++data->n_failed < g_strv_length (urls))
        return;
    }

  finish_sign_in (self, error != NULL ? g_error_copy (error)
                                      : g_error_new_literal (NATTER_SESSION_ERROR,
                                                             NATTER_SESSION_ERROR_UNREACHABLE,
                                                             "Could not reach the server"));
}

static void
connect_sign_in (NatterSession *self,
                 const char    *token)
{
  SignIn *data = g_task_get_task_data (self->sign_in);

  data->token = g_strstrip (g_strdup (token));
  data->client = natter_client_new (data->server_url, data->app_key, self->profile_dir);
  g_signal_connect_swapped (data->client, "status-changed", G_CALLBACK (sign_in_status_cb), self);
  natter_client_connect (data->client, data->token);
}

static void
fetch_token_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  NatterSession *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;
  g_autofree char *token = NULL;

  token = natter_fetch_token_finish (result, &error);
  if (self->sign_in != task)
    return;   /* cancelled meanwhile */
  if (token == NULL)
    {
      g_autofree char *reason = natter_format_error (error);

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        finish_sign_in (self, g_steal_pointer (&error));
      else
        finish_sign_in (self, g_error_new (NATTER_SESSION_ERROR, NATTER_SESSION_ERROR_NO_TOKEN,
                                           "%s", reason));
      return;
    }
  connect_sign_in (self, token);
}

static void
sign_in_cancelled_cb (NatterSession *self)
{
  if (self->sign_in != NULL)
    finish_sign_in (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                               "The sign-in was cancelled"));
}

void
natter_session_sign_in_async (NatterSession       *self,
                              const char          *server_url,
                              const char          *app_key,
                              const char          *token,
                              const char          *app_server_url,
                              const char          *user_id,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  SignIn *data;

  g_return_if_fail (NATTER_IS_SESSION (self));
  g_return_if_fail (server_url != NULL && app_key != NULL);
  g_return_if_fail (token != NULL || (app_server_url != NULL && user_id != NULL));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_session_sign_in_async);
  if (self->sign_in != NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PENDING, "Already signing in");
      return;
    }

  data = g_new0 (SignIn, 1);
  data->server_url = g_strstrip (g_strdup (server_url));
  data->app_key = g_strstrip (g_strdup (app_key));
  data->app_server_url = g_strdup (app_server_url);
  g_task_set_task_data (task, data, (GDestroyNotify) sign_in_free);
  self->sign_in = g_object_ref (task);
  if (cancellable != NULL)
    data->cancelled_id = g_signal_connect_object (cancellable, "cancelled",
                                                  G_CALLBACK (sign_in_cancelled_cb), self,
                                                  G_CONNECT_SWAPPED);

  if (token != NULL)
    connect_sign_in (self, token);
  else
    natter_fetch_token_async (app_server_url, user_id, NULL, cancellable, fetch_token_cb,
                              g_steal_pointer (&task));
}

gboolean
natter_session_sign_in_finish (NatterSession  *self,
                               GAsyncResult   *result,
                               GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ------------------------------------------------- password and deletion */

static NatterAccountService *
account_service (NatterSession *self)
{
  NatterAccountService *service = natter_account_service_new (natter_account_get_server_url (self->account),
                                                              natter_account_get_app_key (self->account));

  natter_account_service_set_token (service, natter_account_get_token (self->account));
  return service;
}

static void
password_changed_cb (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  NatterSession *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;
  g_autofree char *token = natter_account_service_token_finish (NATTER_ACCOUNT_SERVICE (object), result, &error);
  g_autoptr(GError) held = NULL;
  g_autofree char *server_url = NULL;
  g_autofree char *app_key = NULL;
  g_autofree char *user_id = NULL;
  g_autofree char *app_server_url = NULL;

  if (--self->changing_password == 0)
    held = g_steal_pointer (&self->held_refusal);
  if (token == NULL)
    {
      /* no new token: a kick meanwhile meant what it says */
      if (held != NULL)
        {
          g_clear_error (&self->error);
          self->error = g_steal_pointer (&held);
          sign_out (self);
        }
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  /* Stored as a sign-in stores it; the account holds it from now on.
   * Copies: saving replaces the account's own strings. */
  server_url = g_strdup (natter_account_get_server_url (self->account));
  app_key = g_strdup (natter_account_get_app_key (self->account));
  user_id = g_strdup (natter_account_get_user_id (self->account));
  app_server_url = g_strdup (natter_account_get_app_server_url (self->account));
  natter_account_save_async (self->account, server_url, app_key, user_id, app_server_url,
                             token, NULL, account_saved_cb, g_object_ref (self));
  /* Kicked already, or about to be on the old token's connection:
   * natter_client_connect() replaces that connection with one on the new
   * token. */
  if (self->client != NULL && self->state == NATTER_SESSION_STATE_SIGNED_IN)
    natter_client_connect (self->client, token);
  g_task_return_boolean (task, TRUE);
}

void
natter_session_change_password_async (NatterSession       *self,
                                      const char          *old_password,
                                      const char          *new_password,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  g_autoptr(NatterAccountService) service = NULL;
  GTask *task;

  g_return_if_fail (NATTER_IS_SESSION (self));
  g_return_if_fail (old_password != NULL && new_password != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_session_change_password_async);
  service = account_service (self);
  self->changing_password++;
  /* not cancelled: once sent, its token must be kept whoever waits */
  natter_account_service_change_password_async (service, old_password, new_password, NULL,
                                                password_changed_cb, task);
}

gboolean
natter_session_change_password_finish (NatterSession  *self,
                                       GAsyncResult   *result,
                                       GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
account_deleted_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  NatterSession *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;

  if (!natter_account_service_call_finish (NATTER_ACCOUNT_SERVICE (object), result, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  /* The kick (31004) may have signed out already; if not, now. */
  if (self->state != NATTER_SESSION_STATE_SIGNED_OUT)
    natter_session_sign_out (self);
  g_task_return_boolean (task, TRUE);
}

void
natter_session_delete_account_async (NatterSession       *self,
                                     const char          *password,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_autoptr(NatterAccountService) service = NULL;

  g_return_if_fail (NATTER_IS_SESSION (self));
  g_return_if_fail (password != NULL);

  service = account_service (self);
  natter_account_service_delete_account_async (service, password, NULL, account_deleted_cb,
                                               g_task_new (self, cancellable, callback, user_data));
}

gboolean
natter_session_delete_account_finish (NatterSession  *self,
                                      GAsyncResult   *result,
                                      GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* --------------------------------------------------------------- getters */

const char *
natter_session_get_profile_dir (NatterSession *self)
{
  g_return_val_if_fail (NATTER_IS_SESSION (self), NULL);
  return self->profile_dir;
}

NatterAccount *
natter_session_get_account (NatterSession *self)
{
  g_return_val_if_fail (NATTER_IS_SESSION (self), NULL);
  return self->account;
}

NatterSessionState
natter_session_get_state (NatterSession *self)
{
  g_return_val_if_fail (NATTER_IS_SESSION (self), NATTER_SESSION_STATE_LOADING);
  return self->state;
}

NatterClient *
natter_session_get_client (NatterSession *self)
{
  g_return_val_if_fail (NATTER_IS_SESSION (self), NULL);
  return self->client;
}

const char *
natter_session_get_user_id (NatterSession *self)
{
  g_return_val_if_fail (NATTER_IS_SESSION (self), NULL);
  return self->user_id;
}

const GError *
natter_session_get_error (NatterSession *self)
{
  g_return_val_if_fail (NATTER_IS_SESSION (self), NULL);
  return self->error;
}

/* ---------------------------------------------------------------- object */

static void
natter_session_constructed (GObject *object)
{
  NatterSession *self = NATTER_SESSION (object);

  G_OBJECT_CLASS (natter_session_parent_class)->constructed (object);

  self->account = natter_account_new (self->profile_dir);
  natter_account_load_async (self->account, NULL, account_loaded_cb, g_object_ref (self));
}

static void
natter_session_dispose (GObject *object)
{
  NatterSession *self = (NatterSession *) object;

  if (self->client != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->client, self);
      natter_client_disconnect (self->client);
    }
  g_clear_object (&self->client);

  G_OBJECT_CLASS (natter_session_parent_class)->dispose (object);
}

static void
natter_session_finalize (GObject *object)
{
  NatterSession *self = (NatterSession *) object;

  g_clear_object (&self->account);
  g_clear_error (&self->error);
  g_clear_error (&self->held_refusal);
  g_free (self->user_id);
  g_free (self->profile_dir);

  G_OBJECT_CLASS (natter_session_parent_class)->finalize (object);
}

static void
natter_session_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  NatterSession *self = NATTER_SESSION (object);

  switch (prop_id)
    {
    case PROP_PROFILE_DIR:
      g_value_set_string (value, self->profile_dir);
      break;
    case PROP_ACCOUNT:
      g_value_set_object (value, self->account);
      break;
    case PROP_CLIENT:
      g_value_set_object (value, self->client);
      break;
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case PROP_USER_ID:
      g_value_set_string (value, self->user_id);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_session_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  NatterSession *self = NATTER_SESSION (object);

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
natter_session_class_init (NatterSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->constructed = natter_session_constructed;
  object_class->dispose = natter_session_dispose;
  object_class->finalize = natter_session_finalize;
  object_class->get_property = natter_session_get_property;
  object_class->set_property = natter_session_set_property;

  properties[PROP_PROFILE_DIR] =
    g_param_spec_string ("profile-dir", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ACCOUNT] =
    g_param_spec_object ("account", NULL, NULL, NATTER_TYPE_ACCOUNT,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_CLIENT] =
    g_param_spec_object ("client", NULL, NULL, NATTER_TYPE_CLIENT, ro);
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, NATTER_TYPE_SESSION_STATE,
                       NATTER_SESSION_STATE_LOADING, ro);
  properties[PROP_USER_ID] =
    g_param_spec_string ("user-id", NULL, NULL, NULL, ro);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[STATE_CHANGED] =
    g_signal_new ("state-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                  NATTER_TYPE_SESSION_STATE, NATTER_TYPE_SESSION_STATE);
  signals[ACCOUNT_SAVED] =
    g_signal_new ("account-saved", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
natter_session_init (NatterSession *self)
{
  self->state = NATTER_SESSION_STATE_LOADING;
}

NatterSession *
natter_session_new (const char *profile_dir)
{
  g_return_val_if_fail (profile_dir != NULL, NULL);
  return g_object_new (NATTER_TYPE_SESSION, "profile-dir", profile_dir, NULL);
}
