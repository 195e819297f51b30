/* natter-message.h — one message, as the seed's message object shows it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "natter-enums.h"

G_BEGIN_DECLS

/* Local only, never sent: what natter_client_delete_message_locally_async()
 * leaves of a message (its uid and time: history does not bring it back). */
#define NATTER_OBJECT_DELETED_LOCALLY "NT:DeletedLocally"

#define NATTER_TYPE_MESSAGE (natter_message_get_type ())

G_DECLARE_FINAL_TYPE (NatterMessage, natter_message, NATTER, MESSAGE, GObject)

/* A message not stored yet (message-id 0), as an application builds one to
 * send; NatterClient fills in the rest. @content is copied. */
NatterMessage          *natter_message_new                 (NatterConversationType  conversation_type,
                                                            const char             *target_id,
                                                            const char             *sender_user_id,
                                                            const char             *object_name,
                                                            JsonObject             *content);

gint64                  natter_message_get_message_id      (NatterMessage *self);
const char             *natter_message_get_message_uid     (NatterMessage *self);
NatterConversationType  natter_message_get_conversation_type (NatterMessage *self);
const char             *natter_message_get_target_id       (NatterMessage *self);
const char             *natter_message_get_sender_user_id  (NatterMessage *self);
const char             *natter_message_get_object_name     (NatterMessage *self);
/* Borrowed; never NULL (an empty object at worst). Do not modify it. */
JsonObject             *natter_message_get_content         (NatterMessage *self);
/* The message's key/value expansion (#16), NULL when sent without it. */
JsonObject             *natter_message_get_expansion       (NatterMessage *self);
/* Group read receipts (#16), as this device stored them: the sender asked
 * for them (RC:RRReqMsg); this device answered (RC:RRRspMsg); who read
 * it, for the sender's own message (empty, never NULL; g_strfreev). */
gboolean                natter_message_get_receipt_requested (NatterMessage *self);
gboolean                natter_message_get_receipt_answered  (NatterMessage *self);
char                  **natter_message_dup_read_by         (NatterMessage *self);
NatterMessageDirection  natter_message_get_direction       (NatterMessage *self);
NatterSentStatus        natter_message_get_sent_status     (NatterMessage *self);
gint64                  natter_message_get_sent_time       (NatterMessage *self);
gint64                  natter_message_get_received_time   (NatterMessage *self);
gboolean                natter_message_get_offline         (NatterMessage *self);
int                     natter_message_get_error_code      (NatterMessage *self);
const char             *natter_message_get_client_msg_id   (NatterMessage *self);
/* MessageFlag bits (persisted, counted, status-only) it travels with. */
guint                   natter_message_get_flags           (NatterMessage *self);

/* The seed's message object: content{...,messageName}, conversationType,
 * objectName, messageDirection, messageId, senderUserId, sentStatus,
 * sentTime, targetId, messageType, messageUId, receivedTime, offLineMessage. */
JsonNode               *natter_message_to_json             (NatterMessage *self);
/* One line of JSON (no newline), for natter-cli and logs. */
char                   *natter_message_to_json_string      (NatterMessage *self);
/* The content to send again elsewhere (forward): a new object without the
 * local path, edited mark, reactions (an empty expansion), read receipts
 * or mentions, media by its remote URL. NULL when it cannot be forwarded
 * (recalled, not stored, or media not uploaded yet). */
JsonObject             *natter_message_dup_forward_content (NatterMessage *self);
/* "TextMessage", "ImageMessage", ... for known names, "UnknownMessage" for
 * others (the seed's messageType / content.messageName). */
const char             *natter_message_get_message_type    (NatterMessage *self);

/* ---- typed accessors over the content (NULL / 0 when absent or another kind) */

NatterMessageKind       natter_message_get_kind            (NatterMessage *self);
/* A text or a reply: what its sender may edit (#16). */
gboolean                natter_message_is_editable_kind    (NatterMessage *self);
/* FALSE for unknown object names: show them as "unsupported message". */
gboolean                natter_message_is_supported        (NatterMessage *self);
/* Stored in history (has a messageUId once sent). */
gboolean                natter_message_is_persisted        (NatterMessage *self);
/* Status-only (typing, call signalling, read notices): never stored. */
gboolean                natter_message_is_status           (NatterMessage *self);

/* RC:TxtMsg content, RC:InfoNtf message. */
const char             *natter_message_get_text            (NatterMessage *self);
const char             *natter_message_get_extra           (NatterMessage *self);
/* RC:TxtMsg mentionedInfo: 0 none, 1 all, 2 the users in the list. */
int                     natter_message_get_mention_type    (NatterMessage *self);
/* NULL-terminated; NULL when nobody in particular is mentioned. Free with g_strfreev. */
char                  **natter_message_dup_mentioned_user_ids (NatterMessage *self);
/* TRUE when @user_id is mentioned, by name or by "all". */
gboolean                natter_message_mentions            (NatterMessage *self,
                                                            const char    *user_id);
/* content.user {id, name, portraitUri} as the sender put it. */
const char             *natter_message_get_user_name       (NatterMessage *self);
const char             *natter_message_get_user_portrait_uri (NatterMessage *self);
/* The sender's display name and portrait (properties `sender-name`,
 * `sender-portrait-uri`, notified when the profile arrives or changes): the
 * app server's profile as the store knows it (natter_client_get_profiles_async),
 * else content.user, else NULL (show the sender user id). */
const char             *natter_message_get_sender_name     (NatterMessage *self);
const char             *natter_message_get_sender_portrait_uri (NatterMessage *self);

/* RC:ReferenceMsg (its reply text is natter_message_get_text()): who sent
 * the quoted message, its objectName and its content (borrowed; NULL when
 * absent or another kind). */
const char             *natter_message_get_referred_user_id (NatterMessage *self);
const char             *natter_message_get_referred_object_name (NatterMessage *self);
JsonObject             *natter_message_get_referred_content (NatterMessage *self);
/* RongCloud's referMsgUid: the quoted message's uid (NULL when the sender
 * did not say). */
const char             *natter_message_get_referred_message_uid (NatterMessage *self);
/* A reply to this message (RC:ReferenceMsg content quoting it, with its
 * uid): what natter-cli send --reply-to and the app send. */
JsonObject             *natter_message_new_reply_content (NatterMessage *self,
                                                          const char    *text);
/* content.editedTime (ms) of an edited message, else 0. */
gint64                  natter_message_get_edited_time (NatterMessage *self);

/* RC:ImgMsg: the decoded JPEG thumbnail (NULL if missing or not base64) and
 * the full image's URL. */
GBytes                 *natter_message_dup_image_thumbnail (NatterMessage *self);
const char             *natter_message_get_image_uri       (NatterMessage *self);

/* RC:FileMsg */
const char             *natter_message_get_file_name       (NatterMessage *self);
gint64                  natter_message_get_file_size       (NatterMessage *self);
const char             *natter_message_get_file_type       (NatterMessage *self);
const char             *natter_message_get_file_url        (NatterMessage *self);

/* RC:HQVCMsg remoteUrl (RC:VcMsg has its AMR inline in content) and the
 * duration in seconds (both kinds). */
const char             *natter_message_get_voice_url       (NatterMessage *self);
int                     natter_message_get_voice_duration  (NatterMessage *self);

/* RC:RcNtf: who recalled it, when, and what it was. */
const char             *natter_message_get_recall_operator_id (NatterMessage *self);
gint64                  natter_message_get_recall_time     (NatterMessage *self);
const char             *natter_message_get_recalled_object_name (NatterMessage *self);

/* RC:ContactNtf and RC:GrpNtf: operation ("Request", "AcceptResponse",
 * "RejectResponse"; "Create", "Add", "Kicked", "Quit", "Rename", "Dismiss",
 * "Transfer", "Bulletin") and who did it (sourceUserId, operatorUserId);
 * natter_message_get_text() is their message. */
const char             *natter_message_get_notification_operation (NatterMessage *self);
const char             *natter_message_get_notification_operator (NatterMessage *self);
/* RC:GrpNtf data's string @name ("operatorNickname", "name",
 * "announcement"); NULL when absent or not a string. */
char                   *natter_message_dup_notification_detail (NatterMessage *self,
                                                               const char    *name);
/* The users it concerns: RC:ContactNtf targetUserId, RC:GrpNtf
 * data.targetUserIds; @display_names (optional) gets
 * data.targetUserDisplayNames when there is one per id, else NULL. */
GStrv                   natter_message_dup_notification_targets (NatterMessage *self,
                                                                GStrv         *display_names);

/* RC:ReadNtf / RC:SRSMsg lastMessageSendTime. */
gint64                  natter_message_get_last_message_send_time (NatterMessage *self);

/* RC:VC* and NT:VCIce callId; RC:VCSummary fields. */
const char             *natter_message_get_call_id         (NatterMessage *self);
NatterCallMediaType     natter_message_get_call_media_type (NatterMessage *self);
/* RC:VCHangup reason, RC:VCSummary status. */
NatterCallReason        natter_message_get_call_reason     (NatterMessage *self);
const char             *natter_message_get_call_caller     (NatterMessage *self);
gint64                  natter_message_get_call_start_time (NatterMessage *self);
gint64                  natter_message_get_call_connected_time (NatterMessage *self);
/* Seconds. */
gint64                  natter_message_get_call_duration   (NatterMessage *self);

/* A one-line preview for the conversation list and notifications:
 * the text, "[Image]", "[File] name", "[Voice] 5\"", "[Unsupported message]"... */
char                   *natter_message_dup_preview         (NatterMessage *self);

G_END_DECLS
