/* natterd-accounts-private.h — end-user accounts (#14): what the files
 * of /account/ share
 *
 *  - natterd-accounts.c: the HTTP transport (token or app key, form,
 *    replies), the rows loaded at start, written through and applied from
 *    other nodes, settings, profile, privacy, user
 *  - natterd-accounts-passwords.c: hashing off the main loop, lockout and
 *    backoff, register, login, password, delete, invite codes
 *  - natterd-accounts-people.c: contacts, RC:ContactNtf, privacy (and the
 *    contacts-only check of Publish), blocking
 *  - natterd-accounts-groups.c: groups run by their members (roles owner,
 *    admin, member; RC:GrpNtf), over the server API's group machinery
 *
 * A handler is a NatterdApiHandler (natterd-api-private.h): the request's
 * app is known, its form parsed, and for paths that need a token
 * natterd_account_user() is the caller.
 *
 * What lives here beside the directory is written through to the store's
 * account_rows (NatterdAccountOp) and read back whole at start. Wrong
 * passwords and lockouts are counted in the store (NatterdLoginOp), the
 * client address limit in memory, each node telling the others over NATS.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "natterd-api-private.h"

G_BEGIN_DECLS

#define NATTERD_PASSWORD_MIN 8
#define NATTERD_PASSWORD_MAX 1024
#define NATTERD_CONTACT_MESSAGE_MAX 256
#define NATTERD_REMARK_MAX 32
#define NATTERD_GROUP_NAME_MAX 32
#define NATTERD_ANNOUNCEMENT_MAX 1024

typedef struct
{
  gboolean deleted;             /* stored: deleted, the id stays taken */
  gboolean contacts_only;       /* stored: messagesFrom=contacts */
  gboolean hide_online;         /* stored: showOnline=false (presence, #16) */
  gint64   revoked_before;      /* stored: ms, NatterdUser.tokens_revoked_after */
  /* The stored row's version ("v", PostgreSQL) this node knows it as:
   * a change of a lower one (late over NATS) is older than what it has. */
  gint64   version;
  guint    failures;            /* wrong passwords in a row, as the store last said */
  gint64   locked_until;        /* ms, as the store last said; 0: not locked */
  gboolean checking;            /* a password check of it is running here */
  /* privacy.json POSTs: one stored at a time, the next starting from
   * what it stored, so the last committed is what everyone sees (#16). */
  gboolean privacy_writing;
  GQueue   privacy_waiting;     /* NatterdApiRequest refs */
} NatterdAccount;

typedef struct
{
  char   *state;                /* incoming, outgoing, contact, ignored */
  char   *remark;
  char   *message;
  gint64  updated;              /* ms */
} NatterdContact;

typedef struct
{
  char       *owner;            /* user id; NULL: a server API group */
  GHashTable *admins;           /* user id set */
  char       *announcement;
  gboolean    mute_all;
} NatterdGroupRoles;

typedef struct
{
  gint64      app_id;
  GHashTable *accounts;         /* user id → NatterdAccount */
  GHashTable *contacts;         /* user id → (other user id → NatterdContact) */
  GHashTable *groups;           /* group id → NatterdGroupRoles */
} NatterdAccountsApp;

typedef struct
{
  char   *address;
  guint   failures;
  gint64  window_end;           /* monotonic µs */
} NatterdLoginAddress;

struct _NatterdAccounts
{
  GHashTable *apps;             /* gint64 app id → NatterdAccountsApp */
  gboolean    loaded;
  GPtrArray  *waiting;          /* NatterdApiRequest held until the rows are read */
  guint       hashing;          /* password hashes running */
  GQueue      hash_queue;       /* GTask waiting for a slot */
  GHashTable *addresses;        /* client address → NatterdLoginAddress */
  /* Keys of rows changed here or over NATS since a read-back after an
   * outage began (natterd_server_refresh_accounts_begin()): the read-back
   * leaves them as they are here. NULL when no read-back runs. */
  GHashTable *touched;
};

typedef struct
{
  const char        *path;      /* under /account/, without ".json" */
  gboolean           post;
  gboolean           token;     /* needs Authorization: Bearer */
  NatterdApiHandler  handler;
} NatterdAccountRoute;

extern const NatterdAccountRoute natterd_account_password_routes[];
extern const NatterdAccountRoute natterd_account_people_routes[];
extern const NatterdAccountRoute natterd_account_group_routes[];

/* ---------------------------------------------------- natterd-accounts.c */

NatterdAccountsApp *natterd_accounts_app     (NatterdServer      *server,
                                              NatterdApp         *app);
/* The account of @user_id, created (not stored) when new. */
NatterdAccount     *natterd_accounts_account (NatterdAccountsApp *state,
                                              const char         *user_id);
/* The caller of a path that needs a token. */
NatterdUser        *natterd_account_user     (NatterdApiRequest  *request);
/* A new op for @request's changes; submit with natterd_accounts_submit(). */
NatterdAccountOp   *natterd_accounts_op_new  (void);
void                natterd_accounts_submit  (NatterdApiRequest  *request,
                                              NatterdAccountOp   *op);
/* An error with "retryAfter" (s, rounded up): 26003 and 26007. */
void                natterd_accounts_reply_retry (NatterdApiRequest *request,
                                                  int                code,
                                                  gint64             retry_after_us);
/* The "account" row of @user_id as @account is now. */
void                natterd_accounts_add_account_row (NatterdAccountOp *op,
                                                      NatterdApp       *app,
                                                      const char       *user_id,
                                                      NatterdAccount   *account);
/* The same, changing only the settings in @patch (a JSON object) over the
 * row as stored: what another node changed meanwhile stays. */
void                natterd_accounts_add_account_patch (NatterdAccountOp *op,
                                                        NatterdApp       *app,
                                                        const char       *user_id,
                                                        NatterdAccount   *account,
                                                        const char       *patch);
/* Marks @rows (NatterdAccountRow) changed here, for a read-back running. */
void                natterd_accounts_touch   (NatterdAccounts    *self,
                                              GPtrArray          *rows);
/* The user's display name for notifications and lists. */
const char         *natterd_accounts_display_name (NatterdUser *user);
/* Publishes a server notification (from the app, as the API does) as a
 * part of @request. */
void                natterd_accounts_notify  (NatterdApiRequest  *request,
                                              NatterdUser        *sender,
                                              int                 conversation_type,
                                              const char         *target_id,
                                              const char         *object_name,
                                              guint               flags,
                                              JsonBuilder        *content);
/* The first value of @name as a required user id that names an existing
 * user; replies 1002 or 26011 and returns NULL otherwise. */
NatterdUser        *natterd_accounts_require_user (NatterdApiRequest *request,
                                                   const char        *name);
gboolean            natterd_accounts_bool_param (NatterdApiRequest *request,
                                                 const char        *name,
                                                 gboolean          *out);

/* --------------------------------------------- natterd-accounts-people.c */

NatterdContact     *natterd_accounts_contact (NatterdAccountsApp *state,
                                              const char         *user_id,
                                              const char         *other_id);
void                natterd_contact_free     (gpointer            contact);
void                natterd_accounts_load_contact (NatterdAccountsApp *state,
                                                   const char         *user_id,
                                                   const char         *other_id,
                                                   const char         *json);

/* --------------------------------------------- natterd-accounts-groups.c */

void                natterd_group_roles_free (gpointer            roles);
/* @request's caller, whose account is being deleted, leaves every group
 * it is in (found by index in the store), as a part of @request. */
void                natterd_accounts_leave_groups (NatterdApiRequest *request);
void                natterd_accounts_load_group (NatterdAccountsApp *state,
                                                 const char         *group_id,
                                                 const char         *json);

G_END_DECLS
