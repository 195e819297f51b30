/* natterd-store.h — natterd's storage interface
 *
 * The server keeps what it needs on every message in memory (natterd-
 * directory.h) and asks the store for everything else through two kinds of
 * operation:
 *
 *  - writes (NatterdOp): queued to one writer thread that runs as many as are
 *    waiting in one transaction, committed with one fsync (group commit), then
 *    completes each on the main context. An op's completion is the moment it
 *    is durable: PublishAck is sent from there. With a backend's sync(),
 *    the fsync runs on a sync thread of its own while the writer runs the
 *    next batch's SQL (pipelined), and covers every batch committed before
 *    it began.
 *  - reads (NatterdRead): run on a reader thread with its own connection and
 *    completed on the main context. The main loop never waits for the disk.
 *    Offline replay goes before every other waiting read (history, lists):
 *    a connecting user waits for one read at most, however many others
 *    are queued.
 *
 * NatterdStore is the backend-neutral part (threads, queue, batching, retry);
 * a backend implements the four vfuncs below. SQLite is the embedded default
 * (natterd-store-sqlite.c); a PostgreSQL backend would implement the same.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define NATTERD_STORE_ERROR (natterd_store_error_quark ())

typedef enum {
  NATTERD_STORE_ERROR_FAILED,
  NATTERD_STORE_ERROR_NEWER_SCHEMA,    /* the database was written by a newer natterd */
  NATTERD_STORE_ERROR_NOT_FOUND,
  NATTERD_STORE_ERROR_CLOSED,
  /* Out of space: below [store] min-free, or the disk (or quota) is full.
   * Transient: the same write succeeds once there is room again. */
  NATTERD_STORE_ERROR_FULL,
  /* The database server cannot be reached (PostgreSQL restarting):
   * transient as well, handled as FULL is (30002, tried again). */
  NATTERD_STORE_ERROR_UNAVAILABLE,
} NatterdStoreError;

GQuark natterd_store_error_quark (void);

/* Out of space or the database unreachable: a transient refusal (30002). */
gboolean natterd_store_error_is_full (const GError *error);

/* ---------------------------------------------------------------- records */

/* One stored message, as every reader of it sees it; the viewer's target id
 * is computed from it (natterd_message_target_for()). */
typedef struct
{
  gint64  id;
  char   *uid;                  /* NULL unless persisted */
  int     conversation_type;
  char   *sender_user_id;
  char   *target_id;            /* as the sender addressed it */
  char   *object_name;
  char   *content;
  char   *push_content;
  guint   flags;
  gint64  sent_time;
  /* A group timeline's unread count is counted up to this (a read scans
 * the unread part of the index: a member far behind costs no more). */
#define NATTERD_UNREAD_MAX 9999

/* Mentions of one message kept for "@" marks, at most. */
#define NATTERD_MENTIONS_MAX 1000

/* Groups and discussions: its place on the group's timeline (1, 2, ...
   * without gaps; 0 otherwise), and, in what one member reads, whether it
   * mentions that member. */
  guint64 timeline_seq;
  gboolean mentioned;
  /* Groups, in what the sender reads (history, timeline): who answered
   * its read-receipt request (NatterdReader), first first; else NULL. */
  GPtrArray *readers;
} NatterdMessage;

typedef struct
{
  char   *user_id;
  gint64  read_time;            /* ms: the sent time of their RC:RRRspMsg */
} NatterdReader;

void natterd_reader_free (NatterdReader *reader);

void            natterd_message_clear (NatterdMessage       *message);
NatterdMessage *natterd_message_copy  (const NatterdMessage *message);
void            natterd_message_free  (NatterdMessage       *message);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NatterdMessage, natterd_message_free)

/* "XXXX-XXXX-XXXX-XXXX": 80 bits, the message id in the high 40 so a uid
 * finds its row without an index, random bits in the low 40. */
/* The content a recalled message is replaced with (RC:RcNtf). */
char    *natterd_recall_notification (const char *operator_id,
                                      gint64      recall_time,
                                      const char *original_object_name);

void     natterd_message_uid_make  (gint64      id,
                                    char        out[20]);
gint64   natterd_message_uid_to_id (const char *uid);

/* The form body POSTed to the app's webhook-url for a persisted message
 * (RongCloud message routing: fromUserId, toUserId, objectName, content,
 * channelType, msgTimestamp, msgUID). Built by the writer, which stores it
 * with the message. */
char    *natterd_webhook_event_body (const NatterdMessage *message);

/* Appends the JSON line (RongCloud's message history format) the hourly
 * export writes for @message (natterd-directory.c). */
void     natterd_export_append_line (GString              *line,
                                     const NatterdMessage *message);

/* A webhook event not delivered yet; @id is its message's id, so ids are in
 * the order messages were committed. */
typedef struct
{
  gint64  id;
  gint64  app_id;
  char   *body;
} NatterdWebhookEvent;

void natterd_webhook_event_free (NatterdWebhookEvent *event);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NatterdWebhookEvent, natterd_webhook_event_free)

typedef struct
{
  gint64  id;
  char   *app_key;
  char   *app_secret;
  char   *app_secret_old;       /* the secret before the last rotation, or NULL */
  gint64  app_secret_old_expires;  /* ms: the old secret is refused from then on */
  char   *name;
  GBytes *token_key;
  char   *settings;             /* JSON object, natterd-directory.c reads it */
  gint64  created;
} NatterdAppRecord;

void natterd_app_record_free (NatterdAppRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NatterdAppRecord, natterd_app_record_free)

typedef struct
{
  gint64      id;
  gint64      app_id;
  const char *user_id;
  const char *name;
  const char *portrait_uri;
  gint64      created;
  gint64      tokens_valid_after;
  gint64      blocked_until;
  guint64     max_seq;
  gint64      last_seen;        /* ms, its devices' latest; 0 unknown */
} NatterdUserRecord;

/* Everything natterd keeps in memory, handed over once at start-up. */
typedef struct
{
  void (*app)       (gpointer data, const NatterdAppRecord *app);
  void (*user)      (gpointer data, const NatterdUserRecord *user);
  void (*group)     (gpointer data, gint64 id, gint64 app_id, const char *group_id,
                     const char *name, gint64 created);
  void (*member)    (gpointer data, gint64 group_id, gint64 user_id, gint64 joined,
                     gint64 gag_until);
  void (*chatroom)  (gpointer data, gint64 id, gint64 app_id, const char *chatroom_id,
                     const char *name, gint64 created);
  void (*blacklist) (gpointer data, gint64 user_id, gint64 blocked_user_id);
  /* Server API nonces whose request could still be replayed (@expires:
   * Unix seconds); optional. */
  void (*nonce)     (gpointer data, gint64 app_id, const char *nonce, gint64 expires);
  /* A store shared by several nodes: the users, groups and chatrooms
   * this node creates get ids that are @slot modulo @stride, so no two
   * nodes hand out the same id; first, before any row. Optional. */
  void (*ids)       (gpointer data, gint64 stride, gint64 slot);
} NatterdLoadSink;

/* The directory rows of a load, recorded on a reader thread and replayed
 * into another sink on the main thread (natterd-directory.c). */
typedef struct _NatterdLoadLog NatterdLoadLog;

NatterdLoadLog        *natterd_load_log_new    (void);
void                   natterd_load_log_free   (NatterdLoadLog        *log);
/* Records users, groups, members, chatrooms and blacklists (data: the log). */
const NatterdLoadSink *natterd_load_log_sink   (void);
void                   natterd_load_log_replay (NatterdLoadLog        *log,
                                                const NatterdLoadSink *sink,
                                                gpointer               data);
/* Rows @from to @from + @count (or the end): where the next one starts. */
guint                  natterd_load_log_replay_some (NatterdLoadLog        *log,
                                                     const NatterdLoadSink *sink,
                                                     gpointer               data,
                                                     guint                  from,
                                                     guint                  count);
guint                  natterd_load_log_get_length (NatterdLoadLog        *log);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NatterdLoadLog, natterd_load_log_free)

/* ------------------------------------------------------------------ writes */

typedef enum {
  NATTERD_OP_BARRIER,       /* no work: completes once every op before it has */
  NATTERD_OP_USER,          /* insert or replace a user row */
  NATTERD_OP_DEVICES,       /* devices seen and their acked seq */
  NATTERD_OP_PUBLISH,       /* a message, its inbox entries, conversations */
  NATTERD_OP_RECALL,
  NATTERD_OP_CONVERSATION,  /* pin, mute, remove, clear unread */
  NATTERD_OP_GROUP,
  NATTERD_OP_MEMBERS,
  NATTERD_OP_CHATROOM,
  NATTERD_OP_BLACKLIST,
  NATTERD_OP_MEDIA,
  NATTERD_OP_PRUNE,         /* inbox entries past their retention, expired nonces */
  NATTERD_OP_NONCE,         /* a server API nonce, refused again until it expires */
  NATTERD_OP_WEBHOOK_DONE,  /* webhook events delivered or dropped: forgotten */
  NATTERD_OP_ACCOUNT,       /* account rows: passwords, invites, contacts, group roles */
  NATTERD_OP_LOGIN,         /* a wrong password counted, or the count cleared */
} NatterdOpKind;

typedef struct _NatterdOp NatterdOp;
typedef void (*NatterdOpFunc) (NatterdOp *op,
                               gpointer   user_data);

struct _NatterdOp
{
  NatterdOpKind  kind;
  GError        *error;         /* set when the op could not be stored */
  NatterdOpFunc  complete;      /* on the main context, after the commit */
  gpointer       user_data;
  GDestroyNotify destroy;
  gint64         submitted;     /* monotonic µs */
  /* Where a message's milliseconds go (#17), monotonic µs, 0 if unknown:
   * @read is the caller's (its frame's bytes read); the store sets the
   * rest. */
  gint64         read;
  gint64         queued;        /* natterd_store_submit() */
  gint64         taken;         /* the writer took it into a batch */
  gint64         committed;     /* that batch is durable (its commit, and the sync) */
  gint64         synced_us;     /* of which the sync(s) took this long (pipelined:
                                 * from its commit to the end of the sync) */
  gboolean       sync_shared;   /* the store's other I/O (a checkpoint) ran meanwhile */
  gint64         ready;         /* its completion was queued to the main context */
  gint64         resumed;       /* its completion started on the main context */
};

typedef struct
{
  NatterdOp base;
  gint64    id;
  gint64    app_id;
  char     *user_id;
  char     *name;
  char     *portrait_uri;
  gint64    created;
  gint64    tokens_valid_after;
  gint64    blocked_until;
  /* The user's first row: until it is stored, no op naming the user is
   * (a failed one makes later ops naming the user fail too, until a
   * user op with @create set succeeds). */
  gboolean  create;
  /* out, of @create: the id another node stored the same user under
   * first (0: @id's row was stored); this node takes it (PostgreSQL). */
  gint64    stored_id;
  gint64    stored_max_seq;
  gint64    stored_tokens_valid_after;
  gint64    stored_blocked_until;
} NatterdUserOp;

typedef struct
{
  gint64  user_id;
  char   *device_id;
  char   *platform;
  gint64  last_seen;
  guint64 acked_seq;
} NatterdDeviceRecord;

typedef struct
{
  NatterdOp base;
  GArray   *devices;            /* NatterdDeviceRecord */
} NatterdDevicesOp;

typedef struct
{
  gint64      user_id;
  const char *target_id;        /* the conversation as this user sees it; owned by the op */
  guint       inbox : 1;        /* gets an inbox entry (delivery, offline replay) */
  guint       conversation : 1; /* updates the user's conversation list */
  guint       counted : 1;      /* raises the unread count */
  guint64     seq;              /* out: the inbox seq */
} NatterdRecipient;

typedef struct
{
  NatterdOp      base;
  gint64         app_id;
  gint64         sender_id;
  char          *device_id;     /* with client_msg_id: the idempotency key */
  char          *client_msg_id;
  char          *channel;       /* the conversation, natterd_channel_key() */
  NatterdMessage message;       /* id and uid are set by the store */
  GArray        *recipients;    /* NatterdRecipient */
  /* out: an earlier Publish with the same key exists; message.id, uid and
   * sent_time are that one's and no inbox entry was added. */
  gboolean       duplicate;
  /* in: a persisted message of an app with a webhook-url: its event is
   * stored in the same transaction, so neither exists without the other. */
  gboolean       webhook;
  char          *webhook_body;  /* out: that event (NULL for a duplicate) */
  /* in: a group or discussion message: stored once on the group's
   * timeline (message.timeline_seq is set by the store), no recipients. */
  gboolean       timeline;
  /* in: whom it mentions (RC:TxtMsg mentionedInfo): everyone, or these
   * users.id; kept with the timeline for unread "@" marks. */
  gboolean       mention_all;
  GArray        *mention_ids;   /* gint64, NULL if none */
  /* in: the sender's other devices get it live too (multi-device) */
  gboolean       sender_devices;
  /* in: NT:ClearCmd (#16): the sender's history of the conversation
   * before message.sent_time is cleared for good, in this transaction. */
  gboolean       clear_history;
  /* in: RC:RRRspMsg (#16): the sender (users.id) read these group
   * messages (NatterdReadMessage) of message.target_id at
   * message.sent_time; kept for each that is that sender's on the
   * group's timeline and readable by them, once (the first read), and
   * at most @readers_max readers a message (the group's size). */
  GArray        *read_messages;
  guint          readers_max;
  /* The op's copies of a Publish's strings in one allocation
   * (natterd_publish_op_set_strings()), NULL if they are each their own. */
  char          *strings;
  gsize          strings_size;
} NatterdPublishOp;

typedef struct
{
  gint64 message_id;
  char   uid[20];               /* as the answer named it */
  gint64 sender_id;             /* users.id the answer names as its sender */
} NatterdReadMessage;

/* Messages one RC:RRRspMsg marks read, at most (libnatter sends 200). */
#define NATTERD_READ_MESSAGES_MAX 200

typedef struct
{
  NatterdOp         base;
  gint64            app_id;
  gint64            message_id;
  char             *uid;
  gint64            sender_id;
  char             *channel;
  gint64            window_start; /* sent_time must be at least this (0: no limit) */
  char             *operator_id;  /* the message becomes RC:RcNtf, */
  gint64            recall_time;  /* natterd_recall_notification() */
  NatterdPublishOp *command;      /* the RC:RcCmd, stored in the same transaction */
  /* An edit instead (#16): the RC:TxtMsg's content becomes this and
   * command is the NT:EditCmd. */
  char             *edit_content;
  /* An expansion update instead (#16): any participant, the content's
   * "expansion" object gets these; command is the NT:ExpansionCmd. */
  JsonObject       *expansion_set;
  GStrv             expansion_remove;
  int               expansion_code; /* out: 25104, 25105 or 0 */
  gboolean          found;        /* out: recalled; FALSE: 25101 */
  gboolean          window_passed; /* out: an edit found too late (25103) */
  NatterdMessage    original;     /* out */
} NatterdRecallOp;

typedef enum {
  NATTERD_CONVERSATION_PIN,
  NATTERD_CONVERSATION_UNPIN,
  NATTERD_CONVERSATION_MUTE,
  NATTERD_CONVERSATION_UNMUTE,
  NATTERD_CONVERSATION_REMOVE,
  NATTERD_CONVERSATION_CLEAR_UNREAD,
} NatterdConversationAction;

typedef struct
{
  NatterdOp                 base;
  gint64                    app_id;
  gint64                    user_id;
  int                       conversation_type;
  char                     *target_id;
  NatterdConversationAction action;
  gint64                    time;
  /* CLEAR_UNREAD of a group or discussion: the timeline_seq read up to
   * (0: the latest); the read position only moves forward. */
  guint64                   read_seq;
} NatterdConversationOp;

typedef struct
{
  NatterdOp base;
  gint64    id;
  gint64    app_id;
  char     *group_id;
  char     *name;
  gint64    created;
  gboolean  remove;             /* dismiss: the group and its members */
  /* A new group: until its row is stored no member row names it (as
   * NatterdUserOp.create). */
  gboolean  create;
  /* out, of @create: as NatterdUserOp.stored_id */
  gint64    stored_id;
} NatterdGroupOp;

typedef enum {
  NATTERD_MEMBERS_ADD,          /* joined = time */
  NATTERD_MEMBERS_REMOVE,
  NATTERD_MEMBERS_GAG,          /* gag_until = time (0 lifts it) */
} NatterdMembersAction;

typedef struct
{
  NatterdOp            base;
  gint64               group_id;  /* groups.id */
  NatterdMembersAction action;
  GArray              *user_ids;  /* gint64 users.id */
  gint64               time;
  /* ADD and REMOVE: the group's timeline (app and group id), where the
   * membership is recorded as a range of timeline_seq; @from_start: new
   * members may read what was said before (group-history-before-join). */
  gint64               app_id;
  char                *timeline_id;
  gboolean             from_start;
} NatterdMembersOp;

typedef struct
{
  NatterdOp base;
  gint64    id;
  gint64    app_id;
  char     *chatroom_id;
  char     *name;
  gint64    created;
  gboolean  create;             /* a new room, not a new name */
  gboolean  remove;
} NatterdChatroomOp;

typedef struct
{
  NatterdOp base;
  gint64    user_id;
  GArray   *blocked_ids;        /* gint64 users.id */
  gboolean  remove;
} NatterdBlacklistOp;

typedef struct
{
  NatterdOp base;
  gint64    app_id;
  char     *hash;
  guint64   size;
  char     *content_type;
  char     *name;
  gint64    uploader_id;
  gint64    created;
} NatterdMediaOp;

typedef struct
{
  NatterdOp base;
  gint64    before;             /* ms: entries of messages sent before go (0: none) */
  gint64    nonces_before;      /* Unix s: nonces that expired before go (0: none) */
  guint     limit;              /* at most this many of each in one op */
  guint     deleted;            /* out: inbox entries */
  guint     nonces_deleted;     /* out */
  gboolean  more;               /* out: the inbox's pruning is not through (go on) */
} NatterdPruneOp;

typedef struct
{
  NatterdOp base;
  gint64    app_id;
  char     *nonce;
  gint64    expires;            /* Unix s */
  /* out: already stored (by any node sharing the store): a replay */
  gboolean  duplicate;
} NatterdNonceOp;

typedef struct
{
  NatterdOp base;
  GArray   *ids;                /* gint64 NatterdWebhookEvent.id */
} NatterdWebhookDoneOp;

/* One row of the accounts table (natterd-accounts.c): what end-user
 * accounts add to the app's own users. @kind says what @owner and @name
 * are: "password" (user, ""), "account" (user, ""), "invite" ("", code),
 * "contact" (user, other user), "group" (group, ""), "role" (group, user). */
typedef struct
{
  gint64    app_id;
  char     *kind;
  char     *owner;
  char     *name;
  char     *value;              /* NULL: the row is deleted */
  /* "account" rows: the settings this write changes (a JSON object), or
   * NULL for all of @value. A shared store (PostgreSQL) merges them into
   * the stored row, counts its version ("v"), and sets @value to the row
   * as stored: two nodes each changing one setting keep both. */
  char     *patch;
  /* Conditions, on the op's first row only: the row must not exist yet
   * (insert), or must exist (delete). When it fails, the op writes
   * nothing and sets @conflict. */
  gboolean  only_new;
  gboolean  must_exist;
} NatterdAccountRow;

void natterd_account_row_free (gpointer row);

typedef struct
{
  NatterdOp  base;
  GPtrArray *rows;              /* NatterdAccountRow, in order, one transaction */
  gboolean   conflict;          /* out */
} NatterdAccountOp;

/* A login's outcome for an account (natterd-accounts-passwords.c), in the
 * store so that every node sharing it counts the same wrong passwords.
 * @failed: one more wrong password; once @attempts in a row, the account
 * is locked until @now + @lockout; a lock that lapsed starts a new run.
 * Otherwise (the right one) the count is cleared. */
typedef struct
{
  NatterdOp  base;
  gint64     app_id;
  char      *user_id;
  gboolean   failed;
  guint      attempts;
  gint64     now;               /* ms */
  gint64     lockout;           /* ms */
  guint      failures;          /* out: wrong passwords in a row */
  gint64     locked_until;      /* out: ms, 0: not locked */
  /* A shared store (PostgreSQL) only: a wrong password's client address,
   * counted there for every node ([limits] login-address-limit), in a
   * window of @address_window ms from its first; @user_id may then be
   * NULL (a guess at an unknown user). */
  char      *address;
  gint64     address_window;
} NatterdLoginOp;

/* Appends a row to @op (@value NULL: delete). */
NatterdAccountRow *natterd_account_op_add (NatterdAccountOp *op,
                                           gint64            app_id,
                                           const char       *kind,
                                           const char       *owner,
                                           const char       *name,
                                           const char       *value);

/* Copies device_id, client_msg_id and the message's sender_user_id,
 * target_id, object_name, content and push_content (each may be NULL)
 * into @op in one allocation (#17: one malloc a Publish, not seven). A
 * string set so is replaced only through natterd_publish_op_clear_string(). */
void     natterd_publish_op_set_strings  (NatterdPublishOp  *op,
                                          const char        *device_id,
                                          const char        *client_msg_id,
                                          const char        *sender_user_id,
                                          const char        *target_id,
                                          const char        *object_name,
                                          const char        *content,
                                          const char        *push_content);
/* Frees *@field of @op (unless it is in the op's one allocation) and sets it NULL. */
void     natterd_publish_op_clear_string (NatterdPublishOp  *op,
                                          char             **field);

gpointer natterd_op_new  (NatterdOpKind  kind,
                          NatterdOpFunc  complete,
                          gpointer       user_data,
                          GDestroyNotify destroy);
void     natterd_op_free (NatterdOp     *op);
/* What its sender may edit: a text, or the text of a reply (#16). */
#define NATTERD_OBJECT_IS_EDITABLE(name) \
  (g_strcmp0 ((name), NATTER_OBJECT_TEXT) == 0 || g_strcmp0 ((name), NATTER_OBJECT_REFERENCE) == 0)
char    *natterd_expansion_keep  (const char  *stored,
                                  const char  *edited);
int      natterd_expansion_apply (const char  *content,
                                  JsonObject  *set,
                                  char       **remove,
                                  char       **new_content);

/* ------------------------------------------------------------------- reads */

typedef enum {
  NATTERD_READ_REPLAY,          /* inbox entries after a seq */
  NATTERD_READ_HISTORY,         /* persisted messages of a channel before a time */
  NATTERD_READ_CONVERSATIONS,
  NATTERD_READ_MEDIA,
  NATTERD_READ_EXPORT,          /* one hour of an app's messages to a gzip JSON-lines file */
  NATTERD_READ_APPS,            /* the apps table again (apps created while running) */
  NATTERD_READ_WEBHOOK_EVENTS,  /* stored webhook events after an id, oldest first */
  NATTERD_READ_MEDIA_USAGE,     /* bytes of media each user of an app uploaded */
  NATTERD_READ_TIMELINE_SYNC,   /* the user's group timelines that moved since a time */
  NATTERD_READ_TIMELINE,        /* messages of one group timeline after a seq */
  NATTERD_READ_ACCOUNT_ROWS,    /* account rows of an app, a kind, an owner */
  NATTERD_READ_LOGIN,           /* an account's password hash and wrong passwords */
  NATTERD_READ_USER_GROUPS,     /* the groups a user is in, by index, and their members */
  NATTERD_READ_USER,            /* shared store: one user's row and account row, by user id */
  NATTERD_READ_MEMBERS,         /* shared store: some users' member rows of one group */
} NatterdReadKind;

typedef struct
{
  guint64        seq;
  NatterdMessage message;
} NatterdInboxEntry;

typedef struct
{
  int             conversation_type;
  char           *target_id;
  NatterdMessage *latest;       /* NULL if gone */
  guint           unread;
  gboolean        pinned;
  gboolean        muted;
  gint64          updated_time;
  gboolean        mentioned;    /* groups: an unread message mentions the user */
} NatterdConversation;

typedef struct _NatterdRead NatterdRead;
typedef void (*NatterdReadFunc) (NatterdRead *read,
                                 gpointer     user_data);

/* What every read has; the read of each kind below embeds it first, as
 * the write ops embed NatterdOp. */
struct _NatterdRead
{
  NatterdReadKind kind;
  GError         *error;
  NatterdReadFunc complete;
  gpointer        user_data;
  GDestroyNotify  destroy;
  guint64         order;        /* set by natterd_store_read(): first come, first served */
};

typedef struct
{
  NatterdRead base;
  gint64      user_id;
  guint64     after_seq;
  guint       limit;
  gsize       max_bytes;        /* the page ends past this much content (0: no bound) */
  GPtrArray  *entries;          /* out: NatterdInboxEntry, by seq */
  /* A store shared by several nodes: the user's inbox head as stored
   * (what other nodes committed that this one may not have heard of). */
  gboolean    read_head;
  guint64     head;             /* out, with read_head */
} NatterdReplayRead;

typedef struct
{
  NatterdRead base;
  gint64      app_id;
  char       *channel;
  gint64      before_time;      /* 0: no bound */
  gint64      from_time;        /* nothing sent before (0: no bound) */
  guint       limit;
  GPtrArray  *messages;         /* out: NatterdMessage, newest first */
  /* A group's or discussion's: only what this user (users.id) may read on
   * its timeline, from their join to their leaving (0: no such bound). */
  gint64      member_id;
  char       *timeline_id;
  gboolean    not_member;       /* out: the user never was a member */
  /* Whose history (users.id) and the conversation as they see it: what
   * they cleared (NT:ClearCmd) stays out (0: no such bound). */
  gint64      user_id;
  char       *target_id;
} NatterdHistoryRead;

typedef struct
{
  NatterdRead base;
  gint64      user_id;
  GArray     *types;            /* int conversation types, empty = all */
  guint       limit;
  /* the cursor: the last row of the previous page */
  gboolean    has_cursor;
  gboolean    cursor_pinned;
  gint64      cursor_time;
  int         cursor_type;
  char       *cursor_target;
  GPtrArray  *conversations;    /* out: NatterdConversation */
} NatterdConversationsRead;

typedef struct
{
  NatterdRead base;
  gint64      app_id;
  char       *hash;
  gboolean    found;            /* out: the rest is set when it is */
  guint64     size;
  char       *content_type;
  char       *name;
} NatterdMediaRead;

typedef struct
{
  NatterdRead base;
  gint64      app_id;
  gint64      from_time;        /* ms, [from_time, to_time) */
  gint64      to_time;
  char       *path;             /* written as path.partial, renamed when complete */
  guint       count;            /* out: messages written */
} NatterdExportRead;

/* How long a shared store keeps what each directory change touched (the
 * changes a read-back with NatterdAppsRead.since reads): a node away from
 * NATS for longer reads the whole directory back. */
#define NATTERD_STORE_CHANGES_KEPT_MS ((gint64) 24 * 3600 * 1000)

typedef struct
{
  NatterdRead base;
  GPtrArray  *apps;             /* out: NatterdAppRecord */
  /* Optional, owned by the caller: the directory rows too (what another
   * node sharing the store changed while this one did not hear it). */
  NatterdLoadLog *directory;
  /* PostgreSQL, with @directory: @since (the @horizon of an earlier read)
   * reads only the rows the changes since then touched, and the users
   * @user_ids (users.id: those with sessions here, for their inbox
   * heads); NULL: every row. @changed: "kind\napp id\nref" of each change
   * read (with @since). @horizon: where the next read starts. */
  char           *since;
  GArray         *user_ids;
  GPtrArray      *changed;
  char           *horizon;
  gboolean        want_horizon; /* without @directory: @horizon too */
} NatterdAppsRead;

typedef struct
{
  NatterdRead base;
  gint64      after_id;
  guint       limit;
  gsize       max_bytes;        /* the page ends past this much body (0: no bound) */
  GPtrArray  *events;           /* out: NatterdWebhookEvent, oldest first */
  /* A store shared by several nodes: @claim names this node; only events
   * of apps whose lease it holds are read, and the read takes (or renews)
   * the lease of every app with waiting events that no other node holds,
   * for @lease_ms. NULL: every event (one node). */
  const char *claim;
  gint64      lease_ms;
} NatterdWebhookEventsRead;

typedef struct
{
  gint64  uploader_id;
  guint64 bytes;
} NatterdMediaUsage;

typedef struct
{
  NatterdRead base;
  gint64      app_id;
  GArray     *usage;            /* out: NatterdMediaUsage */
} NatterdMediaUsageRead;

/* One of a user's group timelines (natter.v2 TimelineState). */
typedef struct
{
  int      conversation_type;
  char    *target_id;
  guint64  latest_seq;          /* the latest the user may see */
  guint64  read_seq;
  guint    unread;
  gboolean mentioned;
  guint64  first_seq;
  guint64  last_seq;            /* 0: still a member */
  gint64   updated_time;
} NatterdTimelineState;

/* Timelines are ordered by target id; a page ends after @limit. Changes
 * are stamped by the writer with a clock that never goes back, the same
 * stamp for a whole transaction; @sync_time is the stamp of the last
 * transaction the first page saw, so every change it did not see has a
 * stamp >= it, and the next sync (since >= is inclusive) finds it. */
typedef struct
{
  NatterdRead base;
  gint64      user_id;
  gint64      app_id;
  gint64      since;
  char       *after_target;     /* the cursor: the last target id of the previous page */
  gint64      sync_time;        /* in: the first page's (0: read it now); out */
  guint       limit;
  GPtrArray  *timelines;        /* out: NatterdTimelineState */
} NatterdTimelineSyncRead;

typedef struct
{
  NatterdRead base;
  gint64      user_id;
  gint64      app_id;
  char       *target_id;
  guint64     after_seq;
  guint       limit;
  gsize       max_bytes;        /* the page ends past this much content (0: no bound) */
  gboolean    found;            /* out: the user is or was a member */
  guint64     last_seq;         /* out: the last the user may read */
  GPtrArray  *messages;         /* out: NatterdMessage, oldest first, mentioned set */
} NatterdTimelineRead;

void natterd_timeline_state_free (NatterdTimelineState *state);

typedef struct
{
  NatterdRead base;
  gint64      app_id;           /* 0: every app */
  char       *kind;             /* NULL: every kind */
  char       *owner;            /* NULL: every owner */
  GPtrArray  *rows;             /* out: NatterdAccountRow */
  /* PostgreSQL: only the rows changed from this transaction on (a
   * NatterdAppsRead.horizon); NULL: every row. With it, @deleted: the
   * keys changed that have no row now (NatterdAccountRow, value NULL). */
  char       *since;
  GPtrArray  *deleted;
} NatterdAccountRowsRead;

/* What a password check needs, read in one go from the store every node
 * shares: the hash, and the count of NatterdLoginOp. */
typedef struct
{
  NatterdRead base;
  gint64      app_id;
  char       *user_id;
  char       *hash;             /* out: NULL if the account has no password */
  guint       failures;         /* out */
  gint64      locked_until;     /* out: ms, 0: not locked */
  /* PostgreSQL: the read also claims the account's password check for
   * this node across the cluster (a session advisory lock of the
   * reader's connection: a node that dies gives it back); a read with
   * @release only gives back what an earlier one claimed. SQLite: one
   * node, nothing to claim. */
  gboolean    release;          /* in */
  gboolean    claimed;          /* out: give it back when the check ends */
  gboolean    busy;             /* out: another node checks this account's password now */
  /* PostgreSQL: the client address's wrong passwords (NatterdLoginOp) */
  char       *address;          /* in; NULL: not read */
  guint       address_failures; /* out */
  gint64      address_window_end; /* out: ms */
} NatterdLoginRead;

/* The groups @user_id (users.id) is in, found by the index on
 * group_members (user_id) rather than by a scan of every group; with
 * @with_members, also everyone who shares one of them (itself included). */
typedef struct
{
  NatterdRead base;
  gint64      user_id;
  gboolean    with_members;
  GArray     *group_ids;        /* out: gint64 groups.id */
  GArray     *member_ids;       /* out: gint64 users.id, each once */
} NatterdUserGroupsRead;

/* A store shared by several nodes: a user another node made that this one
 * has not heard of yet (a valid token for it came here first). */
typedef struct
{
  NatterdRead base;
  gint64      app_id;
  char       *user_id;
  gboolean    found;            /* out: @user is set when it is */
  NatterdUserRecord user;       /* out: its strings owned by the read */
  GPtrArray  *rows;             /* out: NatterdAccountRow, its "account" row if any */
  NatterdLoadLog *groups;       /* out: its groups, their member rows and those users */
} NatterdUserRead;

typedef struct
{
  gint64 user_id;               /* users.id */
  gint64 joined;
  gint64 gag_until;
} NatterdMemberRow;

/* A store shared by several nodes: the member rows of @user_ids (users.id)
 * in group @group_id as stored, what changes made on two nodes at once
 * left (a user without a row is no member). */
typedef struct
{
  NatterdRead base;
  gint64      app_id;
  char       *group_id;
  GArray     *user_ids;         /* in: gint64 */
  gboolean    group_found;      /* out */
  GArray     *members;          /* out: NatterdMemberRow */
} NatterdMembersRead;

/* A read of @kind, its outputs empty: cast it to the kind's struct. */
gpointer natterd_read_new  (NatterdReadKind kind,
                            NatterdReadFunc complete,
                            gpointer        user_data,
                            GDestroyNotify  destroy);
void     natterd_read_free (NatterdRead    *read);

/* ------------------------------------------------------------------- store */

#define NATTERD_TYPE_STORE (natterd_store_get_type ())
G_DECLARE_DERIVABLE_TYPE (NatterdStore, natterd_store, NATTERD, STORE, GObject)

struct _NatterdStoreClass
{
  GObjectClass parent_class;

  /* Start-up, on the calling thread, before natterd_store_start(). */
  gboolean (*load)       (NatterdStore           *self,
                          const NatterdLoadSink  *sink,
                          gpointer                data,
                          GError                **error);
  /* Writer thread: every op in one transaction; all or nothing. */
  gboolean (*write)      (NatterdStore           *self,
                          NatterdOp             **ops,
                          guint                   n_ops,
                          GError                **error);
  /* Writer thread, optional: housekeeping after a batch was committed and
   * handed out (its acks are not waiting for this). */
  void     (*maintain)   (NatterdStore           *self);
  /* Optional: a store that has it commits without waiting for the disk,
   * and this, on the store's sync thread, makes every commit that write()
   * returned from so far durable (@shared: the store's other disk I/O ran
   * meanwhile). The writer goes on with the next batch while it runs; a
   * batch's ops complete after the sync that follows its commit. */
  gboolean (*sync)       (NatterdStore           *self,
                          gboolean               *shared,
                          GError                **error);
  /* Reader thread. */
  gboolean (*read)       (NatterdStore           *self,
                          NatterdRead            *read,
                          GError                **error);
  /* Administration (natterd --create-app ...), synchronous. */
  gboolean (*create_app) (NatterdStore           *self,
                          NatterdAppRecord       *record,
                          GError                **error);
  gboolean (*update_app) (NatterdStore           *self,
                          const char             *app_key,
                          const char             *settings,
                          GError                **error);
  GPtrArray *(*list_apps) (NatterdStore          *self,
                           GError               **error);
  /* The current secret becomes the old one, valid until @old_expires (ms);
   * @secret is the new one. */
  gboolean (*rotate_secret) (NatterdStore        *self,
                             const char          *app_key,
                             const char          *secret,
                             gint64               old_expires,
                             GError             **error);
  gboolean (*set_token_key) (NatterdStore        *self,
                             const char          *app_key,
                             GBytes              *token_key,
                             GError             **error);
};

/* Called on the completions' thread once every op of a batch completed. */
typedef void (*NatterdBatchObserver) (guint    n_ops,
                                      gint64   duration_us,
                                      gpointer user_data);

/* Starts the writer and reader threads; completions are dispatched on the
 * thread-default main context of the caller. */
void       natterd_store_start        (NatterdStore           *self,
                                       guint                   batch_max);
/* Takes @op; its complete func runs on the main context once it is durable
 * (or failed, with op->error set), then it is freed. */
void       natterd_store_submit       (NatterdStore           *self,
                                       gpointer                op);
/* Between the two, the writer takes no new batch (a batch in progress
 * goes on): ops submitted meanwhile are committed together, with one
 * fsync. For a few ops submitted in one go, never across a wait. */
void       natterd_store_hold         (NatterdStore           *self);
void       natterd_store_release      (NatterdStore           *self);
/* Takes @read (any NatterdRead kind); its complete func runs on the main
 * context (with read->error set if it failed), then it is freed. */
void       natterd_store_read         (NatterdStore           *self,
                                       gpointer                read);
/* Waits for the queue to drain and the threads to end, dispatching every
 * pending completion. */
void       natterd_store_stop         (NatterdStore           *self);
guint      natterd_store_get_queue_length (NatterdStore       *self);
/* Any thread: whether durable batches wait for their completions on the
 * main context (work there yields to them: #18's fan-out slices). */
gboolean   natterd_store_completions_ready (NatterdStore      *self);
/* Writer thread, by a store while it writes a batch: its syncs took
 * @us (the batch's "sync" stage in /metrics), @shared if the store's
 * own other disk I/O (a checkpoint) ran meanwhile. */
void       natterd_store_note_sync          (NatterdStore     *self,
                                             gint64            us,
                                             gboolean          shared);
void       natterd_store_set_batch_observer (NatterdStore     *self,
                                             NatterdBatchObserver observer,
                                             gpointer          user_data);
/* Below @min_free bytes free on the file system of @path, ops that add
 * data fail with NATTERD_STORE_ERROR_FULL (ops that only record delivery
 * progress or delete go on); 0 turns the check off. A write that fails
 * for want of space fails its whole batch the same way, and writes are
 * tried again a second later. Set before natterd_store_start(). */
void       natterd_store_set_min_free (NatterdStore           *self,
                                       const char             *path,
                                       guint64                 min_free);
/* Ops that failed for want of space, and whether writes are refused now. */
guint64    natterd_store_get_refused  (NatterdStore           *self);
gboolean   natterd_store_is_full      (NatterdStore           *self);
/* Refused because the store is unreachable (PostgreSQL), not for space. */
gboolean   natterd_store_is_unreachable (NatterdStore         *self);

gboolean   natterd_store_load         (NatterdStore           *self,
                                       const NatterdLoadSink  *sink,
                                       gpointer                data,
                                       GError                **error);
gboolean   natterd_store_create_app   (NatterdStore           *self,
                                       NatterdAppRecord       *record,
                                       GError                **error);
gboolean   natterd_store_update_app   (NatterdStore           *self,
                                       const char             *app_key,
                                       const char             *settings,
                                       GError                **error);
GPtrArray *natterd_store_list_apps    (NatterdStore           *self,
                                       GError                **error);
gboolean   natterd_store_rotate_secret (NatterdStore          *self,
                                        const char            *app_key,
                                        const char            *secret,
                                        gint64                 old_expires,
                                        GError               **error);
gboolean   natterd_store_set_token_key (NatterdStore          *self,
                                        const char            *app_key,
                                        GBytes                *token_key,
                                        GError               **error);

G_END_DECLS
