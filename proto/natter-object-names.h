/* natter-object-names.h — message object names and their fixed flags
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NATTER_OBJECT_TEXT              "RC:TxtMsg"
#define NATTER_OBJECT_IMAGE             "RC:ImgMsg"
#define NATTER_OBJECT_VOICE             "RC:VcMsg"
#define NATTER_OBJECT_HQ_VOICE          "RC:HQVCMsg"
#define NATTER_OBJECT_FILE              "RC:FileMsg"
#define NATTER_OBJECT_INFO_NOTIFICATION "RC:InfoNtf"
#define NATTER_OBJECT_RECALL_COMMAND    "RC:RcCmd"
#define NATTER_OBJECT_RECALL_NOTIFICATION "RC:RcNtf"
#define NATTER_OBJECT_COMMAND           "RC:CmdMsg"
#define NATTER_OBJECT_TYPING_STATUS     "RC:TypSts"
#define NATTER_OBJECT_READ_NOTIFICATION "RC:ReadNtf"
#define NATTER_OBJECT_SYNC_READ_STATUS  "RC:SRSMsg"
#define NATTER_OBJECT_CS_HANDSHAKE      "RC:CsHs"
#define NATTER_OBJECT_CONTACT_NOTIFICATION "RC:ContactNtf"
#define NATTER_OBJECT_GROUP_NOTIFICATION "RC:GrpNtf"
#define NATTER_OBJECT_REFERENCE         "RC:ReferenceMsg"
/* Natter's own: an edit of a text message (see EditRequest). */
#define NATTER_OBJECT_EDIT_COMMAND      "NT:EditCmd"
/* Natter's own: an update of a message's expansion (see ExpansionRequest). */
#define NATTER_OBJECT_EXPANSION_COMMAND "NT:ExpansionCmd"
/* Group read receipts (#16): the sender asks for them ({messageUId}, on
 * the group's timeline), a member answers ({receiptMessageDic: {sender
 * id: [uid, …]}}, only to the senders named). */
#define NATTER_OBJECT_RECEIPT_REQUEST   "RC:RRReqMsg"
#define NATTER_OBJECT_RECEIPT_RESPONSE  "RC:RRRspMsg"
/* Natter's own: clear a conversation's history for the sender, on all of
 * their devices ({conversationType, targetId, clearTime}). */
#define NATTER_OBJECT_CLEAR_COMMAND     "NT:ClearCmd"
/* Natter's own: a user's new profile {userId, name, portraitUri}, from
 * natterd to their contacts and co-members online (status-only). */
#define NATTER_OBJECT_PROFILE_NOTIFICATION "NT:ProfileNtf"
/* Natter's own: a member joined or left a chat room ({operation: "Join" |
 * "Quit"}, status-only), sent by the member's client as the seed's FAQ
 * advises; whoever is in the room shows it as a notice. */
#define NATTER_OBJECT_CHATROOM_NOTIFICATION "NT:ChrmNtf"

#define NATTER_OBJECT_CALL_INVITE       "RC:VCInvite"
#define NATTER_OBJECT_CALL_RINGING      "RC:VCRinging"
#define NATTER_OBJECT_CALL_ACCEPT       "RC:VCAccept"
#define NATTER_OBJECT_CALL_HANGUP       "RC:VCHangup"
#define NATTER_OBJECT_CALL_MODIFY_MEDIA "RC:VCModifyMedia"
#define NATTER_OBJECT_CALL_SUMMARY      "RC:VCSummary"
/* Natter's own: trickled ICE candidates {callId, candidate, sdpMLineIndex}. */
#define NATTER_OBJECT_CALL_ICE          "NT:VCIce"

/* The flags a message with this object name travels with: the fixed flags of
 * a known name, or @client_flags (masked to valid bits) for a custom one. */
guint    natter_object_name_flags    (const char *object_name,
                                      guint       client_flags);
gboolean natter_object_name_is_known (const char *object_name);

G_END_DECLS
