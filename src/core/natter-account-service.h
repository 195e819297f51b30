/* natter-account-service.h — accounts, contacts and groups over natterd's /account/ API
 *
 * natterd answers these on its HTTP listener (same origin as /media), JSON
 * {"code":200,...} or {"code":N,"errorMessage":...}; README "Accounts"
 * lists the paths. A refusal is a GError in NATTER_ACCOUNT_ERROR whose
 * code is natterd's (26001 id taken, 26002 wrong password, ...), a reply
 * that is not what the contract says is NATTER_ACCOUNT_ERROR_BAD_REPLY,
 * the network's own failures stay GIO/libsoup errors.
 *
 * The token used on the paths that need one is the user's IM token: set
 * by a successful register/login/password change, or given with
 * natter_account_service_set_token(). Storing it is the caller's business
 * (the app's NatterAccount, natter-cli's profile).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define NATTER_ACCOUNT_ERROR (natter_account_error_quark ())
GQuark natter_account_error_quark (void);

/* natterd's codes on /account/ (docs/protocol.md). */
typedef enum {
  NATTER_ACCOUNT_ERROR_BAD_PARAMETER = 1002,
  NATTER_ACCOUNT_ERROR_USER_ID_TAKEN = 26001,
  NATTER_ACCOUNT_ERROR_WRONG_PASSWORD = 26002,
  NATTER_ACCOUNT_ERROR_LOCKED = 26003,
  NATTER_ACCOUNT_ERROR_REGISTRATION_CLOSED = 26004,
  NATTER_ACCOUNT_ERROR_INVITE_INVALID = 26005,
  NATTER_ACCOUNT_ERROR_PASSWORD_LENGTH = 26006,
  NATTER_ACCOUNT_ERROR_TOO_MANY_ATTEMPTS = 26007,
  NATTER_ACCOUNT_ERROR_CONTACTS_ONLY = 26010,
  NATTER_ACCOUNT_ERROR_NO_SUCH_USER = 26011,
  NATTER_ACCOUNT_ERROR_NO_SUCH_REQUEST = 26012,
  NATTER_ACCOUNT_ERROR_NOT_ALLOWED = 26020,
  NATTER_ACCOUNT_ERROR_NO_SUCH_GROUP = 26021,
  NATTER_ACCOUNT_ERROR_NOT_IN_GROUP = 22406,
  NATTER_ACCOUNT_ERROR_APP_KEY_REJECTED = 31002,
  NATTER_ACCOUNT_ERROR_TOKEN_INCORRECT = 31004,
  NATTER_ACCOUNT_ERROR_TOKEN_EXPIRED = 31020,
  /* The reply was not JSON, not the shape the contract says, or too large. */
  NATTER_ACCOUNT_ERROR_BAD_REPLY = 30002,
} NatterAccountError;

/* TRUE for the refusals that mean "these credentials do not sign in":
 * wrong password, locked, too many attempts, bad or expired token. */
gboolean natter_account_error_is_auth (const GError *error);

typedef enum {
  NATTER_ACCOUNTS_OFF,
  NATTER_ACCOUNTS_OPEN,
  NATTER_ACCOUNTS_INVITE,
} NatterAccountsMode;

typedef enum {
  NATTER_CONTACT_STATE_INCOMING,
  NATTER_CONTACT_STATE_OUTGOING,
  NATTER_CONTACT_STATE_CONTACT,
  NATTER_CONTACT_STATE_IGNORED,
} NatterContactState;

typedef enum {
  NATTER_GROUP_ROLE_MEMBER,
  NATTER_GROUP_ROLE_ADMIN,
  NATTER_GROUP_ROLE_OWNER,
} NatterGroupRole;

/* "incoming", ... / "member", ...: the contract's words. */
const char *natter_contact_state_to_string (NatterContactState state);
const char *natter_group_role_to_string    (NatterGroupRole    role);

/* One entry of contacts.json, user.json (state unused) or group/members.json
 * (role, name, portrait only). Strings are never NULL. */
typedef struct {
  char *user_id;
  char *name;
  char *portrait_uri;
  NatterContactState state;
  char *remark;
  char *message;
  gint64 updated_at;            /* ms */
  NatterGroupRole role;
} NatterAccountUser;

/* One entry of groups.json. */
typedef struct {
  char *group_id;
  char *name;
  NatterGroupRole role;
  gint64 member_count;
  char *announcement;
  gboolean mute_all;
} NatterAccountGroup;

#define NATTER_TYPE_ACCOUNT_USER (natter_account_user_get_type ())
#define NATTER_TYPE_ACCOUNT_GROUP (natter_account_group_get_type ())
GType               natter_account_user_get_type  (void) G_GNUC_CONST;
GType               natter_account_group_get_type (void) G_GNUC_CONST;
NatterAccountUser  *natter_account_user_copy      (const NatterAccountUser  *user);
void                natter_account_user_free      (NatterAccountUser        *user);
NatterAccountGroup *natter_account_group_copy     (const NatterAccountGroup *group);
void                natter_account_group_free     (NatterAccountGroup       *group);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NatterAccountUser, natter_account_user_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NatterAccountGroup, natter_account_group_free)

#define NATTER_TYPE_ACCOUNT_SERVICE (natter_account_service_get_type ())

G_DECLARE_FINAL_TYPE (NatterAccountService, natter_account_service, NATTER, ACCOUNT_SERVICE, GObject)

/* @server_urls: as NatterClient takes them (one URL or a comma-separated
 * list); the requests go to the node in use of their NatterServerList. */
NatterAccountService *natter_account_service_new       (const char           *server_urls,
                                                        const char           *app_key);
const char           *natter_account_service_get_app_key (NatterAccountService *self);
/* The node's http[s]://host:port. */
const char           *natter_account_service_get_base_url (NatterAccountService *self);
const char           *natter_account_service_get_token (NatterAccountService *self);
void                  natter_account_service_set_token (NatterAccountService *self,
                                                        const char           *token);

/* Every "code only" request below finishes with this. */
gboolean natter_account_service_call_finish     (NatterAccountService  *self,
                                                 GAsyncResult          *result,
                                                 GError               **error);

/* ---- the account */

/* GET settings.json: what the app offers on its sign-in page. */
void     natter_account_service_get_settings_async  (NatterAccountService  *self,
                                                     GCancellable          *cancellable,
                                                     GAsyncReadyCallback    callback,
                                                     gpointer               user_data);
gboolean natter_account_service_get_settings_finish (NatterAccountService  *self,
                                                     GAsyncResult          *result,
                                                     NatterAccountsMode    *mode,
                                                     guint                 *min_password_length,
                                                     GError               **error);
/* register.json (@invite_code may be NULL) and login.json: the token, which
 * the service keeps for the requests that follow. */
void     natter_account_service_register_async  (NatterAccountService  *self,
                                                 const char            *user_id,
                                                 const char            *password,
                                                 const char            *name,
                                                 const char            *invite_code,
                                                 GCancellable          *cancellable,
                                                 GAsyncReadyCallback    callback,
                                                 gpointer               user_data);
void     natter_account_service_login_async     (NatterAccountService  *self,
                                                 const char            *user_id,
                                                 const char            *password,
                                                 GCancellable          *cancellable,
                                                 GAsyncReadyCallback    callback,
                                                 gpointer               user_data);
/* password.json: every other token of the account is revoked; the new one
 * is returned (and kept). */
void     natter_account_service_change_password_async (NatterAccountService *self,
                                                       const char           *old_password,
                                                       const char           *new_password,
                                                       GCancellable         *cancellable,
                                                       GAsyncReadyCallback   callback,
                                                       gpointer              user_data);
/* For register, login and change_password. */
char    *natter_account_service_token_finish    (NatterAccountService  *self,
                                                 GAsyncResult          *result,
                                                 GError               **error);
/* profile.json: NULL leaves a field as it is, "" removes the portrait. The
 * finish returns the profile as the server now has it (user_id unset). */
void     natter_account_service_set_profile_async (NatterAccountService *self,
                                                   const char           *name,
                                                   const char           *portrait_uri,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
/* user.json (exact id) and set_profile. */
NatterAccountUser *natter_account_service_user_finish (NatterAccountService *self,
                                                       GAsyncResult         *result,
                                                       GError              **error);
void     natter_account_service_lookup_user_async (NatterAccountService *self,
                                                   const char           *user_id,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
/* delete.json; finish with call_finish. */
void     natter_account_service_delete_account_async (NatterAccountService *self,
                                                      const char           *password,
                                                      GCancellable         *cancellable,
                                                      GAsyncReadyCallback   callback,
                                                      gpointer              user_data);
/* privacy.json: @contacts_only -1 reads it; finish returns TRUE for
 * "contacts", FALSE with @error unset for "anyone". */
void     natter_account_service_privacy_async  (NatterAccountService  *self,
                                                int                    contacts_only,
                                                GCancellable          *cancellable,
                                                GAsyncReadyCallback    callback,
                                                gpointer               user_data);
gboolean natter_account_service_privacy_finish (NatterAccountService  *self,
                                                GAsyncResult          *result,
                                                GError               **error);
/* privacy.json showOnline (#16): @show -1 reads it; finish returns TRUE
 * when the user's online status is shown, FALSE with @error unset when
 * hidden. */
void     natter_account_service_show_online_async  (NatterAccountService  *self,
                                                    int                    show,
                                                    GCancellable          *cancellable,
                                                    GAsyncReadyCallback    callback,
                                                    gpointer               user_data);
gboolean natter_account_service_show_online_finish (NatterAccountService  *self,
                                                    GAsyncResult          *result,
                                                    GError               **error);

/* ---- contacts */

typedef enum {
  NATTER_CONTACT_ACTION_REQUEST,  /* @message may be given */
  NATTER_CONTACT_ACTION_ACCEPT,
  NATTER_CONTACT_ACTION_IGNORE,
  NATTER_CONTACT_ACTION_DELETE,
  NATTER_CONTACT_ACTION_REMARK,   /* @message is the remark, "" clears */
  NATTER_CONTACT_ACTION_BLOCK,
  NATTER_CONTACT_ACTION_UNBLOCK,
} NatterContactAction;

/* contact/request.json ... block.json; finish with call_finish. */
void       natter_account_service_contact_async        (NatterAccountService *self,
                                                        NatterContactAction   action,
                                                        const char           *user_id,
                                                        const char           *message,
                                                        GCancellable         *cancellable,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);
/* contacts.json: NatterAccountUser each. */
void       natter_account_service_list_contacts_async  (NatterAccountService *self,
                                                        GCancellable         *cancellable,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);
/* group/members.json: NatterAccountUser each (role set). */
void       natter_account_service_list_members_async   (NatterAccountService *self,
                                                        const char           *group_id,
                                                        GCancellable         *cancellable,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);
/* For list_contacts and list_members. */
GPtrArray *natter_account_service_users_finish         (NatterAccountService *self,
                                                        GAsyncResult         *result,
                                                        GError              **error);
/* blocked.json: the user ids. */
void       natter_account_service_list_blocked_async   (NatterAccountService *self,
                                                        GCancellable         *cancellable,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);
GStrv      natter_account_service_list_blocked_finish  (NatterAccountService *self,
                                                        GAsyncResult         *result,
                                                        GError              **error);

/* ---- groups */

void       natter_account_service_list_groups_async    (NatterAccountService *self,
                                                        GCancellable         *cancellable,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);
/* NatterAccountGroup each. */
GPtrArray *natter_account_service_list_groups_finish   (NatterAccountService *self,
                                                        GAsyncResult         *result,
                                                        GError              **error);
void       natter_account_service_create_group_async   (NatterAccountService *self,
                                                        const char           *name,
                                                        const char * const   *member_ids,
                                                        GCancellable         *cancellable,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);
/* The new group's id. */
char      *natter_account_service_create_group_finish  (NatterAccountService *self,
                                                        GAsyncResult         *result,
                                                        GError              **error);

typedef enum {
  NATTER_GROUP_ACTION_ADD,            /* @member_ids */
  NATTER_GROUP_ACTION_REMOVE,         /* @member_ids */
  NATTER_GROUP_ACTION_LEAVE,
  NATTER_GROUP_ACTION_DISMISS,
  NATTER_GROUP_ACTION_RENAME,         /* @value: the name */
  NATTER_GROUP_ACTION_TRANSFER,       /* @value: the new owner */
  NATTER_GROUP_ACTION_ADD_ADMIN,      /* @value: the user */
  NATTER_GROUP_ACTION_REMOVE_ADMIN,   /* @value: the user */
  NATTER_GROUP_ACTION_ANNOUNCEMENT,   /* @value: the text, "" clears */
  NATTER_GROUP_ACTION_MUTE_ALL,
  NATTER_GROUP_ACTION_UNMUTE_ALL,
} NatterGroupAction;

/* group/add.json ... group/mute-all.json; finish with call_finish. */
void       natter_account_service_group_async          (NatterAccountService *self,
                                                        NatterGroupAction     action,
                                                        const char           *group_id,
                                                        const char           *value,
                                                        const char * const   *member_ids,
                                                        GCancellable         *cancellable,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);

G_END_DECLS
