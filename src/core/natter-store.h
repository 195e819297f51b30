/* natter-store.h — the local SQLite store of one profile
 *
 * One worker thread owns the SQLite connection; every call is _async/_finish
 * and completes in the thread-default main context of the caller. The store
 * hands out one NatterMessage / NatterConversation object per row while
 * anybody holds it, and updates those objects in place (with notify) when
 * the row changes, so widgets bound to them follow. Use the store from the
 * thread that created it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "natter-conversation.h"
#include "natter-message.h"

G_BEGIN_DECLS

#define NATTER_TYPE_STORE (natter_store_get_type ())

G_DECLARE_FINAL_TYPE (NatterStore, natter_store, NATTER, STORE, GObject)

/* Current schema version (PRAGMA user_version). */
#define NATTER_STORE_SCHEMA_VERSION 4

#define NATTER_STORE_ERROR (natter_store_error_quark ())

typedef enum {
  NATTER_STORE_ERROR_OPEN,       /* the database could not be opened or migrated */
  NATTER_STORE_ERROR_SQLITE,     /* an SQLite call failed; the message says which */
  NATTER_STORE_ERROR_NOT_FOUND,
  NATTER_STORE_ERROR_TOO_NEW,    /* written by a newer Natter */
  NATTER_STORE_ERROR_CLOSED,
} NatterStoreError;

GQuark       natter_store_error_quark (void);

/* Opens (creating and migrating as needed) the database at @path in the
 * worker thread; an open failure is reported by every call after it.
 * ":memory:" works for tests. */
NatterStore *natter_store_new         (const char *path);
const char  *natter_store_get_path    (NatterStore *self);

/* Waits until the database is open and migrated; reports the open error. */
void         natter_store_open_async  (NatterStore          *self,
                                       GCancellable         *cancellable,
                                       GAsyncReadyCallback   callback,
                                       gpointer              user_data);
gboolean     natter_store_open_finish (NatterStore          *self,
                                       GAsyncResult         *result,
                                       GError              **error);

/* ------------------------------------------------------------- messages */

/* Stores a message that arrived live or was sent from here, updating its
 * conversation (latest message, unread count when it is a counted incoming
 * message). A message whose messageUId is already stored is not stored twice:
 * the stored one is returned and *added is FALSE. Emits ::message-added. */
void           natter_store_add_message_async     (NatterStore          *self,
                                                   NatterMessage        *message,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
NatterMessage *natter_store_add_message_finish    (NatterStore          *self,
                                                   GAsyncResult         *result,
                                                   gboolean             *added,
                                                   GError              **error);

/* Stores older messages from server history (no unread counting, no
 * ::message-added); duplicates by messageUId are skipped. Returns a
 * GPtrArray of the stored NatterMessages in the order given. */
void           natter_store_add_history_async     (NatterStore          *self,
                                                   GPtrArray            *messages,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
GPtrArray     *natter_store_add_history_finish    (NatterStore          *self,
                                                   GAsyncResult         *result,
                                                   GError              **error);

/* One message of a bulk import: what an export from another client (or a
 * synthetic benchmark profile) knows of it. */
typedef struct
{
  NatterConversationType  conversation_type;
  const char             *target_id;
  const char             *message_uid;      /* duplicates by it are skipped */
  const char             *sender_user_id;
  const char             *object_name;
  JsonObject             *content;          /* copied */
  NatterMessageDirection  direction;
  NatterSentStatus        sent_status;
  gint64                  sent_time;
  gint64                  received_time;
  guint                   flags;            /* NATTER_MESSAGE_FLAG_PERSISTED, _COUNTED */
  /* Counts in its conversation's unread count (when a counted incoming
   * message after the read mark) and shows a hidden conversation again. */
  gboolean                unread;
} NatterImportedMessage;

/* Stores @n_messages messages in one transaction, as history is stored
 * (conversations created as needed, their latest message and time follow;
 * duplicates and messages from before a local clear skipped) but without
 * reading them back: no ::message-added, one ::conversation-changed per
 * conversation touched. For many thousands at a time; *@n_stored says how
 * many were new. */
void           natter_store_import_async          (NatterStore                 *self,
                                                   const NatterImportedMessage *messages,
                                                   gsize                        n_messages,
                                                   GCancellable                *cancellable,
                                                   GAsyncReadyCallback          callback,
                                                   gpointer                     user_data);
gboolean       natter_store_import_finish         (NatterStore          *self,
                                                   GAsyncResult         *result,
                                                   guint                *n_stored,
                                                   GError              **error);

/* Writes sent status, messageUId, sent time, error code, object name and
 * content of a stored message (by message-id). Emits ::message-updated. */
void           natter_store_update_message_async  (NatterStore          *self,
                                                   NatterMessage        *message,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
NatterMessage *natter_store_update_message_finish (NatterStore          *self,
                                                   GAsyncResult         *result,
                                                   GError              **error);

/* NULL without error when there is no such message. */
void           natter_store_get_message_async     (NatterStore          *self,
                                                   gint64                message_id,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
void           natter_store_get_message_by_uid_async (NatterStore       *self,
                                                   const char           *message_uid,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
NatterMessage *natter_store_get_message_finish    (NatterStore          *self,
                                                   GAsyncResult         *result,
                                                   GError              **error);

/* Up to @limit messages of a conversation older than (@before_time,
 * @before_id) — 0, 0 for the newest — oldest first, as a GPtrArray of
 * NatterMessage. */
void           natter_store_get_messages_async    (NatterStore            *self,
                                                   NatterConversationType  type,
                                                   const char             *target_id,
                                                   gint64                  before_time,
                                                   gint64                  before_id,
                                                   guint                   limit,
                                                   GCancellable           *cancellable,
                                                   GAsyncReadyCallback     callback,
                                                   gpointer                user_data);
GPtrArray     *natter_store_get_messages_finish   (NatterStore            *self,
                                                   GAsyncResult           *result,
                                                   GError                **error);

/* Messages still SENDING (the outbox), oldest first. */
void           natter_store_get_outbox_async      (NatterStore          *self,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
GPtrArray     *natter_store_get_outbox_finish     (NatterStore          *self,
                                                   GAsyncResult         *result,
                                                   GError              **error);

/* Full-text search (FTS5) over message text, file names and notifications:
 * every word of @query must occur (prefix match on the last one). Newest
 * first, at most @limit; @type 0 searches every conversation. */
void           natter_store_search_async          (NatterStore            *self,
                                                   const char             *query,
                                                   NatterConversationType  type,
                                                   const char             *target_id,
                                                   guint                   limit,
                                                   GCancellable           *cancellable,
                                                   GAsyncReadyCallback     callback,
                                                   gpointer                user_data);
GPtrArray     *natter_store_search_finish         (NatterStore            *self,
                                                   GAsyncResult           *result,
                                                   GError                **error);

/* Deletes the conversation's messages here only (the seed's clearMessages);
 * the conversation stays, empty. Emits ::messages-cleared. */
void           natter_store_clear_messages_async  (NatterStore            *self,
                                                   NatterConversationType  type,
                                                   const char             *target_id,
                                                   GCancellable           *cancellable,
                                                   GAsyncReadyCallback     callback,
                                                   gpointer                user_data);
gboolean       natter_store_clear_messages_finish (NatterStore            *self,
                                                   GAsyncResult           *result,
                                                   GError                **error);

/* ------------------------------------------------------- conversations */

/* Conversations not hidden, pinned first then latest message time, newest
 * first; @types (n_types > 0) filters. GPtrArray of NatterConversation. */
void           natter_store_get_conversations_async  (NatterStore                  *self,
                                                      const NatterConversationType *types,
                                                      gsize                         n_types,
                                                      GCancellable                 *cancellable,
                                                      GAsyncReadyCallback           callback,
                                                      gpointer                      user_data);
/* The first @limit of them (all if negative), in the same order: what a
 * first screen needs, before the rest (#17). natter_store_get_conversations_finish(). */
void           natter_store_get_first_conversations_async (NatterStore                  *self,
                                                           const NatterConversationType *types,
                                                           gsize                         n_types,
                                                           int                           limit,
                                                           GCancellable                 *cancellable,
                                                           GAsyncReadyCallback           callback,
                                                           gpointer                      user_data);
GPtrArray     *natter_store_get_conversations_finish (NatterStore                  *self,
                                                      GAsyncResult                 *result,
                                                      GError                      **error);

/* NULL without error when there is no such conversation. */
void           natter_store_get_conversation_async   (NatterStore            *self,
                                                      NatterConversationType  type,
                                                      const char             *target_id,
                                                      GCancellable           *cancellable,
                                                      GAsyncReadyCallback     callback,
                                                      gpointer                user_data);
NatterConversation *natter_store_get_conversation_finish (NatterStore        *self,
                                                      GAsyncResult           *result,
                                                      GError                **error);

typedef enum {
  NATTER_CONVERSATION_FIELD_PINNED,
  NATTER_CONVERSATION_FIELD_MUTED,
  NATTER_CONVERSATION_FIELD_HIDDEN,  /* hidden until the next message */
} NatterConversationField;

/* Sets a flag, creating the conversation if needed. Emits
 * ::conversation-changed (or ::conversation-removed when hidden). */
void           natter_store_set_conversation_flag_async  (NatterStore             *self,
                                                          NatterConversationType   type,
                                                          const char              *target_id,
                                                          NatterConversationField  field,
                                                          gboolean                 value,
                                                          GCancellable            *cancellable,
                                                          GAsyncReadyCallback      callback,
                                                          gpointer                 user_data);
gboolean       natter_store_set_conversation_flag_finish (NatterStore             *self,
                                                          GAsyncResult            *result,
                                                          GError                 **error);

/* Keeps the composer's unsent text ("" or NULL clears it). */
void           natter_store_set_draft_async    (NatterStore            *self,
                                                NatterConversationType  type,
                                                const char             *target_id,
                                                const char             *draft,
                                                GCancellable           *cancellable,
                                                GAsyncReadyCallback     callback,
                                                gpointer                user_data);
gboolean       natter_store_set_draft_finish   (NatterStore            *self,
                                                GAsyncResult           *result,
                                                GError                **error);

/* Unread count to zero (and mentions); @read_time (ms) is remembered so a
 * later RC:SRSMsg with an older time does nothing. */
void           natter_store_clear_unread_async  (NatterStore            *self,
                                                 NatterConversationType  type,
                                                 const char             *target_id,
                                                 gint64                  read_time,
                                                 GCancellable           *cancellable,
                                                 GAsyncReadyCallback     callback,
                                                 gpointer                user_data);
gboolean       natter_store_clear_unread_finish (NatterStore            *self,
                                                 GAsyncResult           *result,
                                                 GError                **error);

/* Removes the conversation and its messages here. Emits
 * ::conversation-removed and ::messages-cleared. */
void           natter_store_delete_conversation_async  (NatterStore            *self,
                                                        NatterConversationType  type,
                                                        const char             *target_id,
                                                        GCancellable           *cancellable,
                                                        GAsyncReadyCallback     callback,
                                                        gpointer                user_data);
gboolean       natter_store_delete_conversation_finish (NatterStore            *self,
                                                        GAsyncResult           *result,
                                                        GError                **error);

/* --------------------------------------------------------------- users */

/* Remembers a user's name / portrait (from message user info or the app);
 * private conversations with them take the name as title. NULL keeps a field. */
void           natter_store_set_user_async   (NatterStore          *self,
                                              const char           *user_id,
                                              const char           *name,
                                              const char           *portrait_uri,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
gboolean       natter_store_set_user_finish  (NatterStore          *self,
                                              GAsyncResult         *result,
                                              GError              **error);

/* A user's or a group's profile as the server keeps it (ProfileResult). */
typedef struct
{
  char  *id;
  char  *name;                  /* NULL when none was given */
  char  *portrait_uri;
  guint  member_count;          /* groups */
} NatterProfile;

#define NATTER_TYPE_PROFILE (natter_profile_get_type ())
GType          natter_profile_get_type       (void) G_GNUC_CONST;
NatterProfile *natter_profile_new            (const char           *id,
                                              const char           *name,
                                              const char           *portrait_uri,
                                              guint                 member_count);
NatterProfile *natter_profile_copy           (const NatterProfile  *profile);
void           natter_profile_free           (NatterProfile        *profile);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NatterProfile, natter_profile_free)

/* The user's profile as the store knows it now (all loaded when the store
 * opens, kept as profiles arrive): borrowed, NULL when unknown. For a name
 * and picture at once, e.g. of a caller; main context only. */
const NatterProfile *natter_store_lookup_user    (NatterStore         *self,
                                                 const char          *user_id);

/* Stores profiles fetched from the server at @fetched (ms): @users
 * (NatterProfile) name the private-like conversations with them and the
 * sender-name of their messages, @groups the group conversations. Either
 * may be NULL. */
void           natter_store_set_profiles_async  (NatterStore         *self,
                                                 GPtrArray           *users,
                                                 GPtrArray           *groups,
                                                 gint64               fetched,
                                                 GCancellable        *cancellable,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data);
gboolean       natter_store_set_profiles_finish (NatterStore         *self,
                                                 GAsyncResult        *result,
                                                 GError             **error);
/* The targets of the newest @limit conversations whose profile was not
 * fetched since @fetched_before (ms): users of private-like conversations in
 * @user_ids, groups in @group_ids (NULL-terminated, never NULL). */
void           natter_store_get_stale_profiles_async  (NatterStore         *self,
                                                       gint64               fetched_before,
                                                       guint                limit,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
gboolean       natter_store_get_stale_profiles_finish (NatterStore         *self,
                                                       GAsyncResult        *result,
                                                       GStrv               *user_ids,
                                                       GStrv               *group_ids,
                                                       GError             **error);

/* ------------------------------------------------------ key/value state */

/* Small per-profile values (device id, last delivered seq...). NULL when unset. */
void           natter_store_get_value_async  (NatterStore          *self,
                                              const char           *key,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
char          *natter_store_get_value_finish (NatterStore          *self,
                                              GAsyncResult         *result,
                                              GError              **error);
void           natter_store_set_value_async  (NatterStore          *self,
                                              const char           *key,
                                              const char           *value,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
gboolean       natter_store_set_value_finish (NatterStore          *self,
                                              GAsyncResult         *result,
                                              GError              **error);

/* ---------------------------------------------------------- maintenance */

/* Merges the search index into one segment and truncates the write-ahead
 * log: after a large natter_store_import_async(), whose transactions leave
 * the index in pieces every search walks. Seconds on a million messages. */
void           natter_store_optimize_async        (NatterStore          *self,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
gboolean       natter_store_optimize_finish       (NatterStore          *self,
                                                   GAsyncResult         *result,
                                                   GError              **error);

G_END_DECLS
