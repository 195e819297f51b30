/* natterd-api-private.h — the server API: its transport (natterd-api.c:
 * routing, signature, nonce, rate limit, body, parameters, replies) and
 * what each path does, by theme: natterd-api-users.c, -messages.c,
 * -groups.c, -chatrooms.c
 *
 * A handler gets a request whose app is known and whose signature, nonce,
 * rate and form body were checked. It replies once, at once
 * (natterd_api_reply_ok() or natterd_api_reply_error()) or once the store
 * ops it submitted as parts are durable (natterd_api_finish_when_stored()).
 * Parameter helpers that refuse a request reply with the reason
 * themselves: the handler just returns.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <json-glib/json-glib.h>

#include "natterd-server-private.h"

G_BEGIN_DECLS

#define MAX_USERS_PER_CALL 1000
#define MAX_TOKEN_EXPIRE_USERS 20
#define MAX_GROUPS_PER_PUBLISH 3
#define MAX_CHATROOMS_PER_CALL 50
#define GAG_MAX_MINUTES 43200

typedef struct _NatterdApiRequest NatterdApiRequest;
typedef void (*NatterdApiHandler) (NatterdApiRequest *request);

struct _NatterdApiRequest
{
  gatomicrefcount    ref_count;
  NatterdServer     *server;
  SoupServerMessage *msg;
  char              *path;
  NatterdApp        *app;
  GPtrArray         *names;           /* the form, in order: repeated names repeat */
  GPtrArray         *values;
  NatterdApiHandler  handler;
  gboolean           replied;
  int                error_code;      /* first failure of async parts */
  char              *error_message;
  guint              pending;         /* async parts still running */
  JsonBuilder       *builder;         /* success body under construction */
};

/* What natterd-api-users.c and the others serve: "user/getToken" is
 * POST /user/getToken.json. Each table ends with { NULL, NULL }. */
typedef struct
{
  const char        *path;
  NatterdApiHandler  handler;
} NatterdApiRoute;

extern const NatterdApiRoute natterd_api_user_routes[];
extern const NatterdApiRoute natterd_api_message_routes[];
extern const NatterdApiRoute natterd_api_group_routes[];
extern const NatterdApiRoute natterd_api_chatroom_routes[];
extern const NatterdApiRoute natterd_api_account_routes[];  /* natterd-accounts.c */

NatterdApiRequest *natterd_api_request_ref   (NatterdApiRequest *request);
void               natterd_api_request_unref (gpointer           request);

/* ------------------------------------------------------------------ replies */

void         natterd_api_reply_error (NatterdApiRequest *request,
                                      int                code,
                                      const char        *message);
/* The success body, {"code":200 so far: add members, then reply_ok(). */
JsonBuilder *natterd_api_ok_body     (NatterdApiRequest *request);
void         natterd_api_reply_ok    (NatterdApiRequest *request);

/* Async parts: each begins with begin_part() and ends with end_part(); the
 * reply goes out when the last one ends, with the first failure if any. */
void natterd_api_begin_part         (NatterdApiRequest *request);
void natterd_api_fail_part          (NatterdApiRequest *request,
                                     int                code,
                                     const char        *message);
void natterd_api_end_part           (NatterdApiRequest *request);
/* The NatterdOpFunc of a part: fails it if the op failed, ends it. */
void natterd_api_part_committed     (NatterdOp         *op,
                                     gpointer           user_data);
/* Submits @op as a part; @complete (which ends the part) or part_committed. */
void natterd_api_submit_part_full   (NatterdApiRequest *request,
                                     gpointer           op,
                                     NatterdOpFunc      complete);
void natterd_api_submit_part        (NatterdApiRequest *request,
                                     gpointer           op);
void natterd_api_store_members      (NatterdApiRequest    *request,
                                     NatterdGroup         *group,
                                     NatterdMembersAction  action,
                                     GPtrArray            *users,
                                     gint64                time);
/* Replies once every part submitted so far is durable. */
void natterd_api_finish_when_stored (NatterdApiRequest *request);
/* Sets @user's @name and @portrait (NULL: as they are) and stores its row
 * as a part; once durable, tells who shows them
 * (natterd_server_profile_changed(), natterd-accounts-people.c); refused,
 * takes them back. */
void natterd_api_save_profile       (NatterdApiRequest *request,
                                     NatterdUser       *user,
                                     const char        *name,
                                     const char        *portrait);
/* Members who left @group through the server API (group/quit,
 * group/sync) or with their account (natterd-accounts-groups.c): the
 * roles they held go; an owner's passes to the admin, else the member,
 * who joined first, told as RC:GrpNtf Transfer; a group left with no one
 * is dismissed. @group may be gone when this returns. */
void natterd_api_group_departed     (NatterdApiRequest *request,
                                     NatterdGroup      *group,
                                     GPtrArray         *users);
/* @group_id was dismissed through the server API: its roles go with it,
 * not to a later group of the same id. */
void natterd_api_group_dismissed    (NatterdApiRequest *request,
                                     const char        *group_id);

/* ------------------------------------------------------------------- params */

/* The first value of @name, or NULL. */
const char *natterd_api_param         (NatterdApiRequest  *request,
                                       const char         *name);
/* Every value of a repeated name, borrowed. */
GPtrArray  *natterd_api_params        (NatterdApiRequest  *request,
                                       const char         *name);
/* The checks below reply with the refusal (1002, 1005, 1501, 1502) and
 * return FALSE or NULL. */
gboolean    natterd_api_check_id      (NatterdApiRequest  *request,
                                       const char         *name,
                                       const char         *value);
const char *natterd_api_require_id    (NatterdApiRequest  *request,
                                       const char         *name);
/* A repeated id parameter with 1..@max values. */
GPtrArray  *natterd_api_require_ids   (NatterdApiRequest  *request,
                                       const char         *name,
                                       guint               max);
gboolean    natterd_api_optional_text (NatterdApiRequest  *request,
                                       const char         *name,
                                       gsize               max,
                                       const char        **out);
/* An integer in [min, max]; @fallback when absent, unless @required. */
gboolean    natterd_api_int_param     (NatterdApiRequest  *request,
                                       const char         *name,
                                       gint64              min,
                                       gint64              max,
                                       gboolean            required,
                                       gint64              fallback,
                                       gint64             *out);
/* "YYYY-MM-DD HH:MM:SS", local time, as RongCloud's replies have it. */
char       *natterd_api_format_time   (gint64              ms);

G_END_DECLS
