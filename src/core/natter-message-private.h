/* natter-message-private.h — what the store and the client change
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "natter-content.h"
#include "natter-frame.h"
#include "natter-message.h"

G_BEGIN_DECLS

/* natter.v2: groups and discussions keep their messages on a timeline of
 * their own (docs/protocol.md, "Group timelines"), not in the inbox. */
#define NATTER_CONVERSATION_TYPE_HAS_TIMELINE(t) \
  ((t) == NATTER_CONVERSATION_GROUP || (t) == NATTER_CONVERSATION_DISCUSSION)

/* Takes a copy of @content. */
NatterMessage *natter_message_new_full           (gint64                  message_id,
                                                  const char             *message_uid,
                                                  NatterConversationType  conversation_type,
                                                  const char             *target_id,
                                                  const char             *sender_user_id,
                                                  const char             *object_name,
                                                  JsonObject             *content,
                                                  NatterMessageDirection  direction,
                                                  NatterSentStatus        sent_status,
                                                  gint64                  sent_time,
                                                  gint64                  received_time,
                                                  gboolean                offline,
                                                  int                     error_code,
                                                  const char             *client_msg_id,
                                                  guint                   flags);

/* A stored row: @content_text is parsed when first read. */
NatterMessage *natter_message_new_row            (gint64                  message_id,
                                                  const char             *message_uid,
                                                  NatterConversationType  conversation_type,
                                                  const char             *target_id,
                                                  const char             *sender_user_id,
                                                  const char             *object_name,
                                                  const char             *content_text,
                                                  NatterMessageDirection  direction,
                                                  NatterSentStatus        sent_status,
                                                  gint64                  sent_time,
                                                  gint64                  received_time,
                                                  gboolean                offline,
                                                  int                     error_code,
                                                  const char             *client_msg_id,
                                                  guint                   flags);

/* A message off the wire (already validated by natter_frame_decode()), seen
 * by @own_user_id: direction, status and the private-chat target follow. */
NatterMessage *natter_message_new_from_proto     (const Natter__Message  *message,
                                                  const char             *own_user_id,
                                                  gboolean                offline,
                                                  GError                **error);

/* A new object with every field of @self: the snapshot the store writes,
 * or the start of an update to a stored row (change it with the setters). */
NatterMessage *natter_message_copy               (NatterMessage          *self);

/* Parses a content string; NULL with @error when it is not a JSON object. */
JsonObject    *natter_content_parse              (const char             *content,
                                                  GError                **error);
char          *natter_content_to_string          (JsonObject             *content);
char          *natter_message_dup_content_string (NatterMessage          *self);
/* The content a conversation keeps of its latest message (@content_text
 * of a row with @object_name): what a preview line needs, never an image
 * thumbnail, nested user or mention info, or a long text. NULL when the
 * content is small enough to keep as it is. */
char          *natter_message_summary_content    (const char             *object_name,
                                                  const char             *content_text);
/* The words full-text search indexes (text, file name, notification). */
char          *natter_message_dup_search_text    (NatterMessage          *self);

/* Media messages are stored (SENDING, in the outbox) before their upload:
 * until it is done their content names the local file under this key and
 * has no URL. The outbox uploads them before publishing, after a reconnect
 * or a restart too; the published content never has the key. */
#define NATTER_CONTENT_LOCAL_PATH "localPath"

/* Whether @self still waits for its file's upload. */
gboolean       natter_message_needs_upload          (NatterMessage *self);
/* The content as published: never with the local path (where the user
 * keeps files is nobody else's business). */
char          *natter_message_dup_published_content (NatterMessage *self);
/* A new content for @self once its file is at @url: the URL in its kind's
 * member (imageUri, fileUrl, remoteUrl), the local path gone. */
JsonObject    *natter_message_dup_uploaded_content  (NatterMessage *self,
                                                     const char    *url);

void natter_message_set_message_id    (NatterMessage    *self,
                                       gint64            message_id);
void natter_message_set_message_uid   (NatterMessage    *self,
                                       const char       *message_uid);
void natter_message_set_sender_user_id (NatterMessage   *self,
                                        const char      *sender_user_id);
void natter_message_set_sent_status   (NatterMessage    *self,
                                       NatterSentStatus  sent_status);
void natter_message_set_sent_time     (NatterMessage    *self,
                                       gint64            sent_time);
void natter_message_set_received_time (NatterMessage    *self,
                                       gint64            received_time);
void natter_message_set_error_code    (NatterMessage    *self,
                                       int               error_code);
void natter_message_set_client_msg_id (NatterMessage    *self,
                                       const char       *client_msg_id);
void natter_message_set_offline       (NatterMessage    *self,
                                       gboolean          offline);
/* Replaces object name and content (recall). Takes a copy of @content. */
void natter_message_set_content       (NatterMessage    *self,
                                       const char       *object_name,
                                       JsonObject       *content);
/* The sender's profile from the store (NULL: none known). */
void natter_message_set_sender_profile (NatterMessage    *self,
                                        const char       *name,
                                        const char       *portrait_uri);
/* Groups and discussions: the message's position on the group's timeline
 * (natter.v2), as it came off the wire; 0 for other conversations, and for
 * objects read back from the store (the row keeps it, the object not). */
guint64 natter_message_get_timeline_seq (NatterMessage *self);
/* The PublishAck's, on a message sent from here. */
void    natter_message_set_timeline_seq (NatterMessage *self,
                                         guint64        timeline_seq);

/* Copies every field of @other into @self, notifying what changed. */
void natter_message_update_from       (NatterMessage    *self,
                                       NatterMessage    *other);

G_END_DECLS
