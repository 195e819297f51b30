/* natter-cli-accounts.c — accounts, contacts and groups from natter-cli
 *
 * register and login read the password from stdin (without echo on a
 * terminal) and remember the server, app key, user and token in the
 * profile the way the app does (NatterAccount: account.ini, the token in
 * the keyring or a 0600 file), so every later command needs only
 * --profile DIR. The rest are one request each to natterd's /account/
 * (NatterAccountService); lists print as JSON lines.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-cli.h"

#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "natter-account.h"

#define MAX_PASSWORD 1024

/* ---------------------------------------------------------------- profile */

static void
account_loaded_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  NatterCliContext *ctx = user_data;
  g_autoptr(GError) error = NULL;

  natter_account_load_finish (NATTER_ACCOUNT (object), result, &error);
  if (error != NULL)
    g_printerr ("%s: profile: %s\n", ctx->program, error->message);
  natter_cli_finish (ctx, NATTER_CLI_EXIT_OK);
}

void
natter_cli_accounts_load_profile (NatterCliContext *ctx)
{
  g_autoptr(NatterAccount) account = NULL;

  if (ctx->profile_dir == NULL ||
      (ctx->server_url != NULL && ctx->app_key != NULL && ctx->token != NULL))
    return;

  account = natter_account_new (ctx->profile_dir);
  natter_account_load_async (account, NULL, account_loaded_cb, ctx);
  natter_cli_run (ctx, 0);
  ctx->done = FALSE;
  ctx->exit_code = NATTER_CLI_EXIT_OK;

  /* What the command line says wins; the profile fills in the rest. */
  if (ctx->server_url == NULL)
    ctx->server_url = g_strdup (natter_account_get_server_url (account));
  if (ctx->app_key == NULL)
    ctx->app_key = g_strdup (natter_account_get_app_key (account));
  if (ctx->token == NULL && ctx->token_url == NULL)
    ctx->token = g_strdup (natter_account_get_token (account));
}

/* ------------------------------------------------------------- helpers */

static int
exit_code_for (const GError *error)
{
  if (natter_account_error_is_auth (error))
    return NATTER_CLI_EXIT_AUTH;
  if (g_error_matches (error, NATTER_ACCOUNT_ERROR, NATTER_ACCOUNT_ERROR_BAD_REPLY))
    return NATTER_CLI_EXIT_FAILURE;
  if (error->domain == NATTER_ACCOUNT_ERROR)
    return NATTER_CLI_EXIT_REFUSED;
  return natter_cli_exit_code_for (error);
}

static void
fail (NatterCliContext *ctx,
      const char       *what,
      const GError     *error)
{
  g_printerr ("%s: %s: %s\n", ctx->program, what, error->message);
  natter_cli_finish (ctx, exit_code_for (error));
}

static NatterAccountService *
service_new (NatterCliContext *ctx,
             gboolean          need_token)
{
  NatterAccountService *service;

  if (ctx->server_url == NULL || ctx->app_key == NULL)
    {
      g_printerr ("%s: give --server and --app-key, or a --profile that signed in\n", ctx->program);
      return NULL;
    }
  if (need_token && ctx->token == NULL)
    {
      g_printerr ("%s: not signed in: login first (or give --token)\n", ctx->program);
      return NULL;
    }
  if (natter_url_is_unencrypted_remote (ctx->server_url))
    g_printerr ("%s: warning: %s is not encrypted (http://): the password and the token can be "
                "read on the network; use https://\n", ctx->program, ctx->server_url);
  service = natter_account_service_new (ctx->server_url, ctx->app_key);
  natter_account_service_set_token (service, ctx->token);
  return service;
}

/* One line of stdin, without its newline; no echo when it is a terminal. */
static char *
read_password (NatterCliContext *ctx,
               const char       *prompt)
{
  g_autofree char *line = g_malloc0 (MAX_PASSWORD + 2);
  struct termios saved, quiet;
  gboolean terminal = isatty (STDIN_FILENO) && tcgetattr (STDIN_FILENO, &saved) == 0;
  char *read;

  if (terminal)
    {
      g_printerr ("%s: ", prompt);
      quiet = saved;
      quiet.c_lflag &= ~(tcflag_t) ECHO;
      tcsetattr (STDIN_FILENO, TCSAFLUSH, &quiet);
    }
  read = fgets (line, MAX_PASSWORD + 2, stdin);
  if (terminal)
    {
      tcsetattr (STDIN_FILENO, TCSAFLUSH, &saved);
      g_printerr ("\n");
    }
  if (read == NULL)
    {
      g_printerr ("%s: no password on stdin\n", ctx->program);
      return NULL;
    }
  line[strcspn (line, "\r\n")] = '\0';
  return g_steal_pointer (&line);
}

static void
wipe (char *secret)
{
  if (secret != NULL)
    memset (secret, 0, strlen (secret));
  g_free (secret);
}

/* ---------------------------------------------------------- sign in */

typedef struct {
  NatterCliContext *ctx;
  char *user_id;
} SignIn;

static void
account_saved_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  SignIn *sign_in = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) node = NULL;

  if (!natter_account_save_finish (NATTER_ACCOUNT (object), result, &error))
    {
      natter_cli_fail (sign_in->ctx, "profile", error);
      return;
    }
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "userId");
  json_builder_add_string_value (builder, sign_in->user_id);
  json_builder_set_member_name (builder, "tokenInFile");
  json_builder_add_boolean_value (builder, natter_account_get_token_in_file (NATTER_ACCOUNT (object)));
  json_builder_end_object (builder);
  node = json_builder_get_root (builder);
  natter_cli_print_json (node);
  natter_cli_finish (sign_in->ctx, NATTER_CLI_EXIT_OK);
}

static void
signed_in_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  SignIn *sign_in = user_data;
  NatterCliContext *ctx = sign_in->ctx;
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterAccount) account = NULL;
  g_autofree char *token = NULL;

  token = natter_account_service_token_finish (NATTER_ACCOUNT_SERVICE (object), result, &error);
  if (token == NULL)
    {
      fail (ctx, "sign in", error);
      return;
    }
  g_free (ctx->token);
  ctx->token = g_strdup (token);
  account = natter_account_new (ctx->profile_dir);
  natter_account_save_async (account, ctx->server_url, ctx->app_key, sign_in->user_id, NULL, token,
                             NULL, account_saved_cb, sign_in);
}

static int
cmd_sign_in (NatterCliContext *ctx,
             int               argc,
             char            **argv)
{
  gboolean registering = g_str_equal (argv[0], "register");
  g_autofree char *name = NULL;
  g_autofree char *invite = NULL;
  const GOptionEntry entries[] = {
    { "name", 0, 0, G_OPTION_ARG_STRING, &name, "Display name (register)", "NAME" },
    { "invite", 0, 0, G_OPTION_ARG_STRING, &invite, "Invite code (register, on an invite-only app)", "CODE" },
    { NULL }
  };
  g_autoptr(GOptionContext) options = g_option_context_new ("USER — password on stdin");
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterAccountService) service = NULL;
  char *password;
  SignIn sign_in = { ctx, NULL };
  int code;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error) || argc != 2)
    {
      g_printerr ("%s: %s USER%s (the password on stdin)\n", ctx->program,
                  registering ? "register" : "login", registering ? " [--name NAME] [--invite CODE]" : "");
      return NATTER_CLI_EXIT_USAGE;
    }
  if ((service = service_new (ctx, FALSE)) == NULL)
    return NATTER_CLI_EXIT_USAGE;
  if ((password = read_password (ctx, "Password")) == NULL)
    return NATTER_CLI_EXIT_USAGE;

  sign_in.user_id = argv[1];
  if (registering)
    natter_account_service_register_async (service, argv[1], password, name, invite, NULL,
                                           signed_in_cb, &sign_in);
  else
    natter_account_service_login_async (service, argv[1], password, NULL, signed_in_cb, &sign_in);
  wipe (password);
  code = natter_cli_run (ctx, ctx->timeout);
  return code;
}

/* ------------------------------------------------ password, deletion */

typedef struct {
  NatterCliContext *ctx;
  NatterAccount *account;
  char *token;
  SignIn sign_in;             /* what account_saved_cb prints */
} PasswordChange;

/* The profile's server, app key and user stay; the token is the new one
 * (copies: saving replaces the account's own strings). */
static void
password_profile_loaded_cb (GObject      *object,
                            GAsyncResult *result,
                            gpointer      user_data)
{
  PasswordChange *change = user_data;
  NatterAccount *account = NATTER_ACCOUNT (object);
  g_autofree char *server_url = g_strdup (natter_account_get_server_url (account));
  g_autofree char *app_key = g_strdup (natter_account_get_app_key (account));
  g_autofree char *app_server_url = g_strdup (natter_account_get_app_server_url (account));

  natter_account_load_finish (account, result, NULL);
  if (server_url == NULL || app_key == NULL || natter_account_get_user_id (account) == NULL)
    {
      g_printerr ("%s: the profile has no account to keep the new token in\n", change->ctx->program);
      natter_cli_finish (change->ctx, NATTER_CLI_EXIT_FAILURE);
      return;
    }
  change->sign_in.ctx = change->ctx;
  change->sign_in.user_id = g_strdup (natter_account_get_user_id (account));
  natter_account_save_async (account, server_url, app_key, change->sign_in.user_id, app_server_url,
                             change->token, NULL, account_saved_cb, &change->sign_in);
}

static void
password_changed_cb (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  PasswordChange *change = user_data;
  g_autoptr(GError) error = NULL;

  change->token = natter_account_service_token_finish (NATTER_ACCOUNT_SERVICE (object), result, &error);
  if (change->token == NULL)
    {
      fail (change->ctx, "password", error);
      return;
    }
  natter_account_load_async (change->account, NULL, password_profile_loaded_cb, change);
}

/* password: the old and the new password on stdin, one a line; the new
 * token replaces the profile's (every other token of the account is
 * revoked: its other devices are signed out). */
static int
cmd_password (NatterCliContext *ctx,
              int               argc,
              char            **argv)
{
  g_autoptr(NatterAccountService) service = NULL;
  g_autoptr(NatterAccount) account = NULL;
  PasswordChange change = { ctx, NULL, NULL, { NULL, NULL } };
  char *old_password;
  char *new_password;
  int code;

  if (argc != 1 || ctx->profile_dir == NULL)
    {
      g_printerr ("%s: --profile DIR password (the old and the new password on stdin, one a line)\n",
                  ctx->program);
      return NATTER_CLI_EXIT_USAGE;
    }
  if ((service = service_new (ctx, TRUE)) == NULL)
    return NATTER_CLI_EXIT_USAGE;
  if ((old_password = read_password (ctx, "Current password")) == NULL)
    return NATTER_CLI_EXIT_USAGE;
  if ((new_password = read_password (ctx, "New password")) == NULL)
    {
      wipe (old_password);
      return NATTER_CLI_EXIT_USAGE;
    }
  account = natter_account_new (ctx->profile_dir);
  change.account = account;
  natter_account_service_change_password_async (service, old_password, new_password, NULL,
                                                password_changed_cb, &change);
  wipe (old_password);
  wipe (new_password);
  code = natter_cli_run (ctx, ctx->timeout);
  wipe (change.token);
  g_free (change.sign_in.user_id);
  return code;
}

static void
token_forgotten_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  NatterCliContext *ctx = user_data;
  g_autoptr(GError) error = NULL;

  if (!natter_account_forget_token_finish (NATTER_ACCOUNT (object), result, &error))
    g_printerr ("%s: profile: %s\n", ctx->program, error->message);
  natter_cli_finish (ctx, NATTER_CLI_EXIT_OK);
}

static void
account_deleted_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  NatterCliContext *ctx = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterAccount) account = NULL;

  if (!natter_account_service_call_finish (NATTER_ACCOUNT_SERVICE (object), result, &error))
    {
      fail (ctx, "delete-account", error);
      return;
    }
  if (ctx->profile_dir == NULL)
    {
      natter_cli_finish (ctx, NATTER_CLI_EXIT_OK);
      return;
    }
  /* signed out, as the app's Sign Out leaves a profile */
  account = natter_account_new (ctx->profile_dir);
  natter_account_forget_token_async (account, NULL, token_forgotten_cb, ctx);
}

static int
cmd_delete_account (NatterCliContext *ctx,
                    int               argc,
                    char            **argv)
{
  g_autoptr(NatterAccountService) service = NULL;
  char *password;

  if (argc != 1)
    {
      g_printerr ("%s: delete-account (the password on stdin)\n", ctx->program);
      return NATTER_CLI_EXIT_USAGE;
    }
  if ((service = service_new (ctx, TRUE)) == NULL)
    return NATTER_CLI_EXIT_USAGE;
  if ((password = read_password (ctx, "Password")) == NULL)
    return NATTER_CLI_EXIT_USAGE;
  natter_account_service_delete_account_async (service, password, NULL, account_deleted_cb, ctx);
  wipe (password);
  return natter_cli_run (ctx, ctx->timeout);
}

/* ------------------------------------------------------ one request each */

static void
call_done_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  NatterCliContext *ctx = user_data;
  g_autoptr(GError) error = NULL;

  if (!natter_account_service_call_finish (NATTER_ACCOUNT_SERVICE (object), result, &error))
    fail (ctx, "request", error);
  else
    natter_cli_finish (ctx, NATTER_CLI_EXIT_OK);
}

static const struct {
  const char *name;
  NatterContactAction action;
} contact_commands[] = {
  { "contact-request", NATTER_CONTACT_ACTION_REQUEST },
  { "contact-accept", NATTER_CONTACT_ACTION_ACCEPT },
  { "contact-ignore", NATTER_CONTACT_ACTION_IGNORE },
  { "contact-delete", NATTER_CONTACT_ACTION_DELETE },
  { "contact-remark", NATTER_CONTACT_ACTION_REMARK },
  { "block", NATTER_CONTACT_ACTION_BLOCK },
  { "unblock", NATTER_CONTACT_ACTION_UNBLOCK },
};

static int
cmd_contact (NatterCliContext    *ctx,
             NatterContactAction  action,
             int                  argc,
             char               **argv)
{
  gboolean takes_text = action == NATTER_CONTACT_ACTION_REQUEST || action == NATTER_CONTACT_ACTION_REMARK;
  g_autoptr(NatterAccountService) service = NULL;

  if (argc < 2 || argc > (takes_text ? 3 : 2))
    {
      g_printerr ("%s: %s USER%s\n", ctx->program, argv[0],
                  action == NATTER_CONTACT_ACTION_REQUEST ? " [MESSAGE]" :
                  action == NATTER_CONTACT_ACTION_REMARK ? " REMARK" : "");
      return NATTER_CLI_EXIT_USAGE;
    }
  if ((service = service_new (ctx, TRUE)) == NULL)
    return NATTER_CLI_EXIT_USAGE;
  natter_account_service_contact_async (service, action, argv[1], argc > 2 ? argv[2] : NULL, NULL,
                                        call_done_cb, ctx);
  return natter_cli_run (ctx, ctx->timeout);
}

static const struct {
  const char *name;
  NatterGroupAction action;
  int min_args;                 /* after GROUP */
  int max_args;                 /* -1: any */
  const char *usage;
} group_commands[] = {
  { "group-add", NATTER_GROUP_ACTION_ADD, 1, -1, "GROUP USER…" },
  { "group-remove", NATTER_GROUP_ACTION_REMOVE, 1, -1, "GROUP USER…" },
  { "group-leave", NATTER_GROUP_ACTION_LEAVE, 0, 0, "GROUP" },
  { "group-dismiss", NATTER_GROUP_ACTION_DISMISS, 0, 0, "GROUP" },
  { "group-rename", NATTER_GROUP_ACTION_RENAME, 1, 1, "GROUP NAME" },
  { "group-transfer", NATTER_GROUP_ACTION_TRANSFER, 1, 1, "GROUP USER" },
  { "group-admin", NATTER_GROUP_ACTION_ADD_ADMIN, 1, 1, "GROUP USER" },
  { "group-unadmin", NATTER_GROUP_ACTION_REMOVE_ADMIN, 1, 1, "GROUP USER" },
  { "group-announce", NATTER_GROUP_ACTION_ANNOUNCEMENT, 1, 1, "GROUP TEXT" },
  { "group-mute-all", NATTER_GROUP_ACTION_MUTE_ALL, 0, 0, "GROUP" },
  { "group-unmute-all", NATTER_GROUP_ACTION_UNMUTE_ALL, 0, 0, "GROUP" },
};

static int
cmd_group (NatterCliContext *ctx,
           guint             i,
           int               argc,
           char            **argv)
{
  g_autoptr(NatterAccountService) service = NULL;
  gboolean members = group_commands[i].max_args < 0;
  int n = argc - 2;

  if (n < group_commands[i].min_args || (!members && n > group_commands[i].max_args))
    {
      g_printerr ("%s: %s %s\n", ctx->program, argv[0], group_commands[i].usage);
      return NATTER_CLI_EXIT_USAGE;
    }
  if ((service = service_new (ctx, TRUE)) == NULL)
    return NATTER_CLI_EXIT_USAGE;
  natter_account_service_group_async (service, group_commands[i].action, argv[1],
                                      !members && n > 0 ? argv[2] : NULL,
                                      members ? (const char * const *) argv + 2 : NULL,
                                      NULL, call_done_cb, ctx);
  return natter_cli_run (ctx, ctx->timeout);
}

/* ------------------------------------------------------------- lists */

static void
print_user (NatterAccountUser *user,
            gboolean           contact)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) node = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "userId");
  json_builder_add_string_value (builder, user->user_id);
  json_builder_set_member_name (builder, contact ? "state" : "role");
  json_builder_add_string_value (builder, contact ? natter_contact_state_to_string (user->state)
                                                  : natter_group_role_to_string (user->role));
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, user->name);
  if (contact && *user->message != '\0')
    {
      json_builder_set_member_name (builder, "message");
      json_builder_add_string_value (builder, user->message);
    }
  if (contact && *user->remark != '\0')
    {
      json_builder_set_member_name (builder, "remark");
      json_builder_add_string_value (builder, user->remark);
    }
  json_builder_end_object (builder);
  node = json_builder_get_root (builder);
  natter_cli_print_json (node);
}

static void
users_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  NatterCliContext *ctx = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) users = NULL;
  gboolean contacts = g_task_get_source_tag (G_TASK (result)) == natter_account_service_list_contacts_async;

  users = natter_account_service_users_finish (NATTER_ACCOUNT_SERVICE (object), result, &error);
  if (users == NULL)
    {
      fail (ctx, contacts ? "contacts" : "group-members", error);
      return;
    }
  for (guint i = 0; i < users->len; i++)
    print_user (g_ptr_array_index (users, i), contacts);
  natter_cli_finish (ctx, NATTER_CLI_EXIT_OK);
}

static void
groups_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  NatterCliContext *ctx = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) groups = NULL;

  groups = natter_account_service_list_groups_finish (NATTER_ACCOUNT_SERVICE (object), result, &error);
  if (groups == NULL)
    {
      fail (ctx, "groups", error);
      return;
    }
  for (guint i = 0; i < groups->len; i++)
    {
      NatterAccountGroup *group = g_ptr_array_index (groups, i);
      g_autoptr(JsonBuilder) builder = json_builder_new ();
      g_autoptr(JsonNode) node = NULL;

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "groupId");
      json_builder_add_string_value (builder, group->group_id);
      json_builder_set_member_name (builder, "name");
      json_builder_add_string_value (builder, group->name);
      json_builder_set_member_name (builder, "role");
      json_builder_add_string_value (builder, natter_group_role_to_string (group->role));
      json_builder_set_member_name (builder, "memberCount");
      json_builder_add_int_value (builder, group->member_count);
      json_builder_set_member_name (builder, "muteAll");
      json_builder_add_boolean_value (builder, group->mute_all);
      json_builder_end_object (builder);
      node = json_builder_get_root (builder);
      natter_cli_print_json (node);
    }
  natter_cli_finish (ctx, NATTER_CLI_EXIT_OK);
}

/* One JSON line of string members: name, value, ..., NULL. */
static void
print_strings (const char *first_member,
               ...)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) node = NULL;
  const char *member = first_member;
  va_list args;

  json_builder_begin_object (builder);
  va_start (args, first_member);
  while (member != NULL)
    {
      json_builder_set_member_name (builder, member);
      json_builder_add_string_value (builder, va_arg (args, const char *));
      member = va_arg (args, const char *);
    }
  va_end (args);
  json_builder_end_object (builder);
  node = json_builder_get_root (builder);
  natter_cli_print_json (node);
}

static void
group_created_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  NatterCliContext *ctx = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *group_id = NULL;

  group_id = natter_account_service_create_group_finish (NATTER_ACCOUNT_SERVICE (object), result, &error);
  if (group_id == NULL)
    {
      fail (ctx, "group-create", error);
      return;
    }
  print_strings ("groupId", group_id, NULL);
  natter_cli_finish (ctx, NATTER_CLI_EXIT_OK);
}

static void
blocked_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  NatterCliContext *ctx = user_data;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) user_ids = NULL;

  user_ids = natter_account_service_list_blocked_finish (NATTER_ACCOUNT_SERVICE (object), result, &error);
  if (user_ids == NULL)
    {
      fail (ctx, "blocked", error);
      return;
    }
  for (guint i = 0; user_ids[i] != NULL; i++)
    print_strings ("userId", user_ids[i], NULL);
  natter_cli_finish (ctx, NATTER_CLI_EXIT_OK);
}

static int
cmd_list (NatterCliContext *ctx,
          int               argc,
          char            **argv)
{
  g_autoptr(NatterAccountService) service = NULL;
  const char *command = argv[0];
  gboolean members = g_str_equal (command, "group-members");
  gboolean create = g_str_equal (command, "group-create");

  if ((members && argc != 2) || (create && argc < 2) || (!members && !create && argc != 1))
    {
      g_printerr ("%s: %s%s\n", ctx->program, command,
                  members ? " GROUP" : create ? " NAME USER…" : "");
      return NATTER_CLI_EXIT_USAGE;
    }
  if ((service = service_new (ctx, TRUE)) == NULL)
    return NATTER_CLI_EXIT_USAGE;

  if (members)
    natter_account_service_list_members_async (service, argv[1], NULL, users_cb, ctx);
  else if (create)
    natter_account_service_create_group_async (service, argv[1], (const char * const *) argv + 2,
                                               NULL, group_created_cb, ctx);
  else if (g_str_equal (command, "contacts"))
    natter_account_service_list_contacts_async (service, NULL, users_cb, ctx);
  else if (g_str_equal (command, "groups"))
    natter_account_service_list_groups_async (service, NULL, groups_cb, ctx);
  else
    natter_account_service_list_blocked_async (service, NULL, blocked_cb, ctx);
  return natter_cli_run (ctx, ctx->timeout);
}

/* --------------------------------------------------------------- profile */

typedef struct {
  NatterCliContext *ctx;
  NatterAccountService *service;
  const char *name;
} Profile;

static void
profile_set_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  NatterCliContext *ctx = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterAccountUser) user = NULL;

  user = natter_account_service_user_finish (NATTER_ACCOUNT_SERVICE (object), result, &error);
  if (user == NULL)
    {
      fail (ctx, "profile", error);
      return;
    }
  print_strings ("name", user->name, "portraitUri", user->portrait_uri, NULL);
  natter_cli_finish (ctx, NATTER_CLI_EXIT_OK);
}

static void
portrait_uploaded_cb (GObject      *object,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  Profile *profile = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;

  url = natter_client_upload_finish (NATTER_CLIENT (object), result, &error);
  if (url == NULL)
    {
      natter_cli_fail (profile->ctx, "portrait upload", error);
      return;
    }
  natter_account_service_set_profile_async (profile->service, profile->name, url, NULL,
                                            profile_set_cb, profile->ctx);
}

static int
cmd_profile (NatterCliContext *ctx,
             int               argc,
             char            **argv)
{
  g_autofree char *name = NULL;
  g_autofree char *portrait = NULL;
  const GOptionEntry entries[] = {
    { "name", 0, 0, G_OPTION_ARG_STRING, &name, "Your display name", "NAME" },
    { "portrait", 0, 0, G_OPTION_ARG_FILENAME, &portrait, "Your picture (uploaded); \"\" removes it", "FILE" },
    { NULL }
  };
  g_autoptr(GOptionContext) options = g_option_context_new ("— change your name or picture");
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterAccountService) service = NULL;
  Profile profile = { ctx, NULL, NULL };
  int code;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error) || argc != 1 ||
      (name == NULL && portrait == NULL))
    {
      g_printerr ("%s: profile [--name NAME] [--portrait FILE]\n", ctx->program);
      return NATTER_CLI_EXIT_USAGE;
    }
  if ((service = service_new (ctx, TRUE)) == NULL)
    return NATTER_CLI_EXIT_USAGE;

  if (portrait == NULL || *portrait == '\0')
    {
      natter_account_service_set_profile_async (service, name, portrait, NULL, profile_set_cb, ctx);
      return natter_cli_run (ctx, ctx->timeout);
    }

  /* The picture goes up as media first (natterd's own URL is the portrait). */
  code = natter_cli_context_connect (ctx);
  if (code != NATTER_CLI_EXIT_OK)
    return code;
  profile.service = service;
  profile.name = name;
  {
    g_autoptr(GFile) file = g_file_new_for_commandline_arg (portrait);

    natter_client_upload_async (ctx->client, file, NULL, NULL, NULL, NULL, portrait_uploaded_cb, &profile);
  }
  return natter_cli_run (ctx, ctx->timeout);
}

/* --------------------------------------------------------------- privacy */

typedef struct {
  NatterCliContext *ctx;
  NatterAccountService *service;
  int show_online;              /* -1: only read */
  gboolean contacts_only;
} Privacy;

static void
show_online_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  Privacy *privacy = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) node = NULL;
  gboolean shown = natter_account_service_show_online_finish (NATTER_ACCOUNT_SERVICE (object), result, &error);

  if (error != NULL)
    {
      fail (privacy->ctx, "privacy", error);
      return;
    }
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "messagesFrom");
  json_builder_add_string_value (builder, privacy->contacts_only ? "contacts" : "anyone");
  json_builder_set_member_name (builder, "showOnline");
  json_builder_add_boolean_value (builder, shown);
  json_builder_end_object (builder);
  node = json_builder_get_root (builder);
  natter_cli_print_json (node);
  natter_cli_finish (privacy->ctx, NATTER_CLI_EXIT_OK);
}

static void
messages_from_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Privacy *privacy = user_data;
  g_autoptr(GError) error = NULL;

  privacy->contacts_only = natter_account_service_privacy_finish (NATTER_ACCOUNT_SERVICE (object), result, &error);
  if (error != NULL)
    {
      fail (privacy->ctx, "privacy", error);
      return;
    }
  /* the second half of the settings (and a change to it, if asked) */
  natter_account_service_show_online_async (privacy->service, privacy->show_online, NULL,
                                            show_online_cb, privacy);
}

static int
cmd_privacy (NatterCliContext *ctx,
             int               argc,
             char            **argv)
{
  g_autofree char *messages = NULL;
  g_autofree char *online = NULL;
  const GOptionEntry entries[] = {
    { "messages", 0, 0, G_OPTION_ARG_STRING, &messages, "Who may message you", "anyone|contacts" },
    { "show-online", 0, 0, G_OPTION_ARG_STRING, &online, "Whether others see you online", "true|false" },
    { NULL }
  };
  g_autoptr(GOptionContext) options = g_option_context_new ("— who may message you, and who sees you online");
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterAccountService) service = NULL;
  Privacy privacy = { ctx, NULL, -1, FALSE };
  int contacts_only = -1;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error) || argc != 1 ||
      (messages != NULL && !g_str_equal (messages, "anyone") && !g_str_equal (messages, "contacts")) ||
      (online != NULL && !g_str_equal (online, "true") && !g_str_equal (online, "false")))
    {
      g_printerr ("%s: privacy [--messages anyone|contacts] [--show-online true|false]\n", ctx->program);
      return NATTER_CLI_EXIT_USAGE;
    }
  if ((service = service_new (ctx, TRUE)) == NULL)
    return NATTER_CLI_EXIT_USAGE;
  if (messages != NULL)
    contacts_only = g_str_equal (messages, "contacts");
  if (online != NULL)
    privacy.show_online = g_str_equal (online, "true");
  privacy.service = service;
  natter_account_service_privacy_async (service, contacts_only, NULL, messages_from_cb, &privacy);
  return natter_cli_run (ctx, ctx->timeout);
}

/* ---------------------------------------------------------------- table */

static const struct {
  const char *name;
  const char *summary;
} summaries[] = {
  { "register", "USER --name NAME [--invite CODE] — create an account (password on stdin)" },
  { "login", "USER — sign in with a password (on stdin); the profile remembers it" },
  { "password", "— change your password (old and new on stdin, one a line); the profile keeps the new token" },
  { "delete-account", "— delete your account for good (password on stdin); the profile signs out" },
  { "profile", "[--name N] [--portrait FILE] — change your name or picture" },
  { "privacy", "[--messages anyone|contacts] [--show-online true|false] — your settings, as JSON" },
  { "contacts", "your contacts and requests, as JSON lines" },
  { "contact-request", "USER [MESSAGE] — ask USER to be a contact" },
  { "contact-accept", "USER — accept USER's request" },
  { "contact-ignore", "USER — ignore USER's request" },
  { "contact-delete", "USER — remove a contact" },
  { "contact-remark", "USER REMARK — your own name for a contact" },
  { "block", "USER — refuse USER's messages" },
  { "unblock", "USER — take USER off your blocklist" },
  { "blocked", "the users you blocked" },
  { "groups", "your groups, as JSON lines" },
  { "group-create", "NAME USER… — create a group (prints its id)" },
  { "group-members", "GROUP — members and roles, as JSON lines" },
  { "group-add", "GROUP USER… / group-remove GROUP USER…" },
  { "group-leave", "GROUP / group-dismiss GROUP (owner)" },
  { "group-rename", "GROUP NAME / group-announce GROUP TEXT" },
  { "group-transfer", "GROUP USER / group-admin, group-unadmin GROUP USER" },
  { "group-mute-all", "GROUP / group-unmute-all GROUP" },
};

void
natter_cli_accounts_help (GString *help)
{
  for (guint i = 0; i < G_N_ELEMENTS (summaries); i++)
    g_string_append_printf (help, "  %-17s %s\n", summaries[i].name, summaries[i].summary);
}

int
natter_cli_accounts_run (NatterCliContext *ctx,
                         int               argc,
                         char            **argv)
{
  const char *command = argv[0];

  if (g_str_equal (command, "register") || g_str_equal (command, "login"))
    return cmd_sign_in (ctx, argc, argv);
  if (g_str_equal (command, "password"))
    return cmd_password (ctx, argc, argv);
  if (g_str_equal (command, "delete-account"))
    return cmd_delete_account (ctx, argc, argv);
  if (g_str_equal (command, "profile"))
    return cmd_profile (ctx, argc, argv);
  if (g_str_equal (command, "privacy"))
    return cmd_privacy (ctx, argc, argv);
  if (g_str_equal (command, "contacts") || g_str_equal (command, "groups") ||
      g_str_equal (command, "blocked") || g_str_equal (command, "group-create") ||
      g_str_equal (command, "group-members"))
    return cmd_list (ctx, argc, argv);
  for (guint i = 0; i < G_N_ELEMENTS (contact_commands); i++)
    if (g_str_equal (command, contact_commands[i].name))
      return cmd_contact (ctx, contact_commands[i].action, argc, argv);
  for (guint i = 0; i < G_N_ELEMENTS (group_commands); i++)
    if (g_str_equal (command, group_commands[i].name))
      return cmd_group (ctx, i, argc, argv);
  return -1;
}
