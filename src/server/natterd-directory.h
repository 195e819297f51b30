/* natterd-directory.h — what natterd keeps in memory: apps, users, groups,
 * chatrooms, tokens
 *
 * Everything a message needs on its way (the sender's app and limits, the
 * recipients, group membership and gags, blacklists, online sessions) is
 * looked up here on the main thread without touching the disk; the store
 * persists every change through write ops.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

#include "natterd-store.h"

G_BEGIN_DECLS

typedef struct _NatterdSession NatterdSession;

/* Who may sign up with a password (POST /account/register.json). */
typedef enum {
  NATTERD_ACCOUNTS_OFF,         /* tokens from the app's own server only */
  NATTERD_ACCOUNTS_OPEN,        /* anyone may register */
  NATTERD_ACCOUNTS_INVITE,      /* with a one-use invite code */
} NatterdAccountsMode;

/* Per-app settings: `natterd --create-app NAME --app-setting KEY=VALUE`,
 * stored as a JSON object in the apps table. */
typedef struct
{
  gboolean multi_device;        /* multi-device: deliver to every device of a user */
  gboolean allow_reused_nonce;  /* allow-reused-nonce: for app servers that sign once */
  gboolean blocked;             /* blocked: every connect gets 31008, the API 1001 */
  guint    token_ttl;           /* token-ttl: s, 0 = tokens do not expire */
  int      send_rate;           /* send-rate: messages/s per user; -1 = server default, 0 = unlimited */
  int      send_burst;          /* send-burst */
  int      api_rate;            /* api-rate: server API requests/s; -1 = default, 0 = unlimited */
  char    *webhook_url;         /* webhook-url: every persisted message is POSTed here */
  guint    recall_window;       /* recall-window: s a sender may recall, 0 = always */
  gboolean group_history_before_join; /* group-history-before-join: new members read older history */
  gboolean webhook_rongcloud;   /* webhook-signature=rongcloud: SHA1(secret+nonce+timestamp) */
  NatterdAccountsMode accounts; /* accounts: off, open, invite (natterd-accounts.c) */
  guint    edit_window;         /* edit-window: s a sender may edit a text message, 0 = never */
  char    *presence_url;        /* presence-url: users' online/offline changes are POSTed here */
} NatterdAppSettings;

/* Nonces of webhooks signed the RongCloud way start with this; the server
 * API refuses any nonce that does, so such a signature is never an API
 * credential. */
#define NATTERD_WEBHOOK_NONCE_PREFIX "natter-webhook-"

typedef struct _NatterdApp NatterdApp;
typedef struct _NatterdUser NatterdUser;
typedef struct _NatterdGroup NatterdGroup;
typedef struct _NatterdChatroom NatterdChatroom;

struct _NatterdApp
{
  gint64             id;
  char              *key;
  char              *secret;
  char              *old_secret;   /* still accepted until old_secret_expires (ms); NULL if none */
  gint64             old_secret_expires;
  char              *name;
  GBytes            *token_key;
  NatterdAppSettings settings;
  GHashTable        *users;        /* user id → NatterdUser */
  GHashTable        *groups;       /* group id → NatterdGroup */
  GHashTable        *chatrooms;    /* chatroom id → NatterdChatroom */
  GHashTable        *nonces;       /* server API nonce → gint64 expiry (Unix s), also stored */
  double             api_tokens;   /* rate limiter */
  gint64             api_refill;
  /* Media quotas (natterd-media.c): bytes uploaded, per users.id and in all,
   * read from the store at the first upload that needs them. */
  GHashTable        *media_usage;  /* gint64* users.id → guint64* bytes; NULL until read */
  guint64            media_bytes;
  GPtrArray         *media_usage_waiters;  /* uploads waiting for the read; NULL when none */
};

struct _NatterdUser
{
  gint64      id;                  /* users.id */
  NatterdApp *app;
  char       *user_id;
  char       *name;
  char       *portrait_uri;
  gint64      created;
  gint64      tokens_valid_after;  /* ms: tokens issued before stop working */
  gint64      blocked_until;       /* ms, 0 = not blocked */
  guint64     max_seq;             /* committed inbox head */
  GPtrArray  *sessions;            /* NatterdSession, connected; NULL when none ever */
  double      send_tokens;         /* rate limiter */
  gint64      send_refill;
  double      query_tokens;        /* query rate limiter; full while query_refill is 0 */
  gint64      query_refill;
  GHashTable *blacklist;           /* users.id (gint64*) this user blocks; NULL if none */
  guint64     blacklist_changed;   /* natterd_directory_stamp() of its last change here */
  GPtrArray  *chatrooms;           /* NatterdChatroom joined; NULL if none */
  gint64      offline_since;       /* monotonic µs, 0 while online */
  guint       remote_sessions;     /* its sessions on other nodes (natterd-cluster.c) */
  gboolean    stored;              /* its row is durable (loaded, or a save completed) */
  guint       saving;              /* saves submitted and not completed */
  /* ms: tokens issued before are refused with 31004, not 31020: revoked
   * by a password change or deletion (natterd-accounts-passwords.c) */
  gint64      tokens_revoked_after;
  /* natterd-presence.c (#16), in memory: NatterdUser* subscribed to →
   * gint64* expiry (Unix ms), and the NatterdUser* set subscribed to it */
  GHashTable *subscriptions;
  GHashTable *subscribers;
  /* natterd-presence.c (#16): NatterdUser* whose device sent this user a
   * call's RC:VCRinging → gint64* monotonic µs until which the devices of
   * theirs this user names are answered even while they hide (NULL if none) */
  GHashTable *rang_by;
  /* natterd_directory_stamp() of its last change here (name, portrait,
   * block): a refresh from a shared store leaves what changed since. */
  guint64     changed;
  gint64      last_seen;           /* Unix ms it last went offline (this node saw), 0 unknown */
};

typedef struct
{
  NatterdUser *user;
  gint64       joined;
  gint64       gag_until;           /* ms, 0 = not gagged */
} NatterdMember;

struct _NatterdGroup
{
  gint64      id;
  NatterdApp *app;
  char       *group_id;
  char       *name;
  gint64      created;
  GHashTable *members;             /* NatterdUser* → NatterdMember* */
  /* natterd_directory_stamp() of its last change here (members, gags):
   * a refresh from a shared store leaves what changed since it began. */
  guint64     changed;
};

struct _NatterdChatroom
{
  gint64      id;
  NatterdApp *app;
  char       *chatroom_id;
  char       *name;
  gint64      created;             /* ms */
  gint64      last_activity;       /* monotonic µs of the last message or join */
  GHashTable *members;             /* NatterdUser* → NatterdMember* (joined in ms) */
  GHashTable *banned;              /* NatterdUser* → until (gint64* ms): kicked, may not rejoin */
  GHashTable *gagged;              /* NatterdUser* → until (gint64* ms) */
  GHashTable *kicked;              /* NatterdUser* set: dropped, 23409 until they rejoin */
  GQueue      recent;              /* NatterdMessage*, newest last, at most 50; in memory only (chatrooms keep no history) */
  gboolean    stored;              /* its row is durable: joins wait until it is */
  GPtrArray  *waiters;             /* joins waiting for that (natterd-chatrooms.c); NULL if none */
  guint64     added;               /* natterd_directory_stamp() when it was added here */
};

typedef struct _NatterdDirectory NatterdDirectory;

NatterdDirectory *natterd_directory_new            (void);
void              natterd_directory_free           (NatterdDirectory   *self);
const NatterdLoadSink *natterd_directory_load_sink (void);

NatterdApp       *natterd_directory_add_app        (NatterdDirectory   *self,
                                                    const NatterdAppRecord *record);
NatterdApp       *natterd_directory_lookup_app     (NatterdDirectory   *self,
                                                    const char         *app_key);
NatterdApp       *natterd_directory_lookup_app_id  (NatterdDirectory   *self,
                                                    gint64              id);
GList            *natterd_directory_get_apps       (NatterdDirectory   *self);

/* A new user, with its id assigned; the caller stores it (NatterdUserOp). */
NatterdUser      *natterd_directory_add_user       (NatterdDirectory   *self,
                                                    NatterdApp         *app,
                                                    const char         *user_id,
                                                    gint64              created);
/* A user another node stored under @id; NULL if @id names a user here. */
NatterdUser      *natterd_directory_add_user_id    (NatterdDirectory   *self,
                                                    NatterdApp         *app,
                                                    gint64              id,
                                                    const char         *user_id,
                                                    gint64              created);
NatterdUser      *natterd_directory_lookup_user    (NatterdApp         *app,
                                                    const char         *user_id);
/* Another node stored @user first, under @id: this node names it so from
 * now on (FALSE, unchanged, if @id names another user here). */
gboolean          natterd_directory_rekey_user     (NatterdDirectory   *self,
                                                    NatterdUser        *user,
                                                    gint64              id);
NatterdUser      *natterd_directory_lookup_user_id (NatterdDirectory   *self,
                                                    gint64              id);

/* A number larger than every one before: when in-memory state changed,
 * in order (natterd-cluster.c's refreshes). Main thread only. */
guint64           natterd_directory_stamp          (void);

NatterdGroup     *natterd_directory_add_group      (NatterdDirectory   *self,
                                                    NatterdApp         *app,
                                                    const char         *group_id,
                                                    const char         *name,
                                                    gint64              created);
/* A group another node stored under @id (its row's id: member and
 * removal ops name the group by it); NULL if @id names a group here. */
NatterdGroup     *natterd_directory_add_group_id   (NatterdDirectory   *self,
                                                    NatterdApp         *app,
                                                    gint64              id,
                                                    const char         *group_id,
                                                    const char         *name,
                                                    gint64              created);
void              natterd_directory_remove_group   (NatterdDirectory   *self,
                                                    NatterdGroup       *group);
/* As natterd_directory_rekey_user(). */
gboolean          natterd_directory_rekey_group    (NatterdDirectory   *self,
                                                    NatterdGroup       *group,
                                                    gint64              id);
NatterdGroup     *natterd_directory_lookup_group_id (NatterdDirectory  *self,
                                                     gint64             id);
NatterdMember    *natterd_group_add_member         (NatterdGroup       *group,
                                                    NatterdUser        *user,
                                                    gint64              joined);
gboolean          natterd_group_remove_member      (NatterdGroup       *group,
                                                    NatterdUser        *user);
NatterdMember    *natterd_group_lookup_member      (NatterdGroup       *group,
                                                    NatterdUser        *user);

NatterdChatroom  *natterd_directory_add_chatroom   (NatterdDirectory   *self,
                                                    NatterdApp         *app,
                                                    const char         *chatroom_id,
                                                    const char         *name,
                                                    gint64              created);
void              natterd_directory_remove_chatroom (NatterdDirectory  *self,
                                                     NatterdChatroom   *room);

gboolean          natterd_user_is_blocking         (NatterdUser        *user,
                                                    NatterdUser        *other);
gboolean          natterd_user_is_online           (NatterdUser        *user);

/* App settings <-> JSON; natterd_app_settings_set() parses KEY=VALUE. */
void              natterd_app_settings_parse       (NatterdAppSettings *settings,
                                                    const char         *json);
char             *natterd_app_settings_to_json     (const NatterdAppSettings *settings);
const char       *natterd_accounts_mode_to_string  (NatterdAccountsMode mode);
gboolean          natterd_app_settings_set         (NatterdAppSettings *settings,
                                                    const char         *assignment,
                                                    GError            **error);
void              natterd_app_settings_clear       (NatterdAppSettings *settings);
void              natterd_app_update_settings      (NatterdApp         *app,
                                                    const char         *json);

/* New credentials for natterd --create-app. */
void              natterd_app_record_generate      (NatterdAppRecord   *record,
                                                    const char         *name);
/* A new app secret, a new token key (natterd --rotate-secret,
 * --rotate-token-key). */
char             *natterd_app_secret_generate      (void);
GBytes           *natterd_app_token_key_generate   (void);
/* The secrets that sign for @app now: the current one, then the previous
 * one while its grace period lasts (@now: ms). Returns how many (1 or 2). */
guint             natterd_app_get_secrets          (NatterdApp         *app,
                                                    gint64              now,
                                                    const char         *secrets[2]);

/* ------------------------------------------------------------------ tokens */

/* "<base64url payload>.<base64url MAC>": the payload names the app, the user,
 * when the token was issued and until when it is valid; the MAC is HMAC-
 * SHA256 with the app's token key (never the app secret, which app servers
 * may rotate). */
char *natterd_token_issue (NatterdApp  *app,
                           const char  *user_id,
                           gint64       issued,
                           gint64       expires);
/* Returns 0 and the user, or the connect error (31002, 31004, 31005, 31008,
 * 31009, 31020). */
int   natterd_token_check (NatterdDirectory *self,
                           const char       *app_key,
                           const char       *token,
                           gint64            now,
                           NatterdUser     **out_user,
                           gint64           *out_issued);

/* The same checks for a token presented without an app key (media
 * requests): the app is the one the token names. */
/* A well-formed token of a known app, its MAC right, naming a user this
 * node does not know (yet): TRUE with the app and the user's id. */
gboolean natterd_token_names_unknown_user (NatterdDirectory  *self,
                                           const char        *token,
                                           NatterdApp       **out_app,
                                           char             **out_user_id);
int   natterd_token_check_any (NatterdDirectory *self,
                               const char       *token,
                               gint64            now,
                               NatterdUser     **out_user);

/* ---------------------------------------------------------------- channels */

/* The key of a conversation in the store, the same for both sides of a
 * private chat: "1/alice/bob" (sorted), "3/groupid", "4/roomid". */
char *natterd_channel_key (int         conversation_type,
                           const char *sender_id,
                           const char *target_id);
/* Private-like types (1, 5, 6, 7, 8) are addressed to a user. */
gboolean natterd_conversation_is_private (int conversation_type);
/* The target id of @message as @viewer_id sees it. */
const char *natterd_message_target_for (const NatterdMessage *message,
                                        const char           *viewer_id);

gint64 natterd_now_ms (void);

G_END_DECLS
