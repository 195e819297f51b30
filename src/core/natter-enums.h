/* natter-enums.h — GTypes for the shared enums of proto/natter-codes.h
 *
 * The numbers live in natter-codes.h (shared with the server); these GTypes
 * let GObject properties and signals carry them.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib-object.h>

#include "natter-codes.h"

G_BEGIN_DECLS

/* What a message is, from its object name (natter_message_get_kind()). */
typedef enum {
  NATTER_MESSAGE_KIND_UNSUPPORTED = 0,  /* unknown object name: kept, shown as unsupported */
  NATTER_MESSAGE_KIND_TEXT,             /* RC:TxtMsg */
  NATTER_MESSAGE_KIND_IMAGE,            /* RC:ImgMsg */
  NATTER_MESSAGE_KIND_VOICE,            /* RC:VcMsg (AMR inline) */
  NATTER_MESSAGE_KIND_HQ_VOICE,         /* RC:HQVCMsg */
  NATTER_MESSAGE_KIND_FILE,             /* RC:FileMsg */
  NATTER_MESSAGE_KIND_INFO,             /* RC:InfoNtf */
  NATTER_MESSAGE_KIND_RECALLED,         /* RC:RcNtf: what a recalled message becomes */
  NATTER_MESSAGE_KIND_RECALL_COMMAND,   /* RC:RcCmd */
  NATTER_MESSAGE_KIND_COMMAND,          /* RC:CmdMsg */
  NATTER_MESSAGE_KIND_TYPING,           /* RC:TypSts */
  NATTER_MESSAGE_KIND_READ_NOTIFICATION,/* RC:ReadNtf */
  NATTER_MESSAGE_KIND_SYNC_READ_STATUS, /* RC:SRSMsg */
  NATTER_MESSAGE_KIND_CS_HANDSHAKE,     /* RC:CsHs */
  NATTER_MESSAGE_KIND_CALL_SIGNAL,      /* RC:VCInvite/Ringing/Accept/Hangup/ModifyMedia, NT:VCIce */
  NATTER_MESSAGE_KIND_CALL_SUMMARY,     /* RC:VCSummary */
  NATTER_MESSAGE_KIND_CONTACT_NOTIFICATION, /* RC:ContactNtf */
  NATTER_MESSAGE_KIND_GROUP_NOTIFICATION,   /* RC:GrpNtf */
  NATTER_MESSAGE_KIND_REFERENCE,        /* RC:ReferenceMsg: a reply quoting another message */
  NATTER_MESSAGE_KIND_EDIT_COMMAND,     /* NT:EditCmd: a text message was edited */
  NATTER_MESSAGE_KIND_EXPANSION_COMMAND, /* NT:ExpansionCmd: a message's expansion changed */
  NATTER_MESSAGE_KIND_RECEIPT_REQUEST,  /* RC:RRReqMsg: a group message's sender asks for read receipts */
  NATTER_MESSAGE_KIND_RECEIPT_RESPONSE, /* RC:RRRspMsg: a member read messages asking for them */
  NATTER_MESSAGE_KIND_CLEAR_COMMAND,    /* NT:ClearCmd: this user cleared a conversation's history */
  NATTER_MESSAGE_KIND_DELETED,          /* NT:DeletedLocally: what "delete for me" leaves here */
  NATTER_MESSAGE_KIND_CHATROOM_NOTIFICATION, /* NT:ChrmNtf: someone joined or left a chat room */
} NatterMessageKind;

#define NATTER_TYPE_CONNECTION_STATUS (natter_connection_status_get_type ())
#define NATTER_TYPE_CONVERSATION_TYPE (natter_conversation_type_get_type ())
#define NATTER_TYPE_SENT_STATUS (natter_sent_status_get_type ())
#define NATTER_TYPE_MESSAGE_DIRECTION (natter_message_direction_get_type ())
#define NATTER_TYPE_MESSAGE_KIND (natter_message_kind_get_type ())
#define NATTER_TYPE_CALL_STATE (natter_call_state_get_type ())
#define NATTER_TYPE_CALL_MEDIA_TYPE (natter_call_media_type_get_type ())
#define NATTER_TYPE_CALL_REASON (natter_call_reason_get_type ())

GType natter_connection_status_get_type (void) G_GNUC_CONST;
GType natter_conversation_type_get_type (void) G_GNUC_CONST;
GType natter_sent_status_get_type       (void) G_GNUC_CONST;
GType natter_message_direction_get_type (void) G_GNUC_CONST;
GType natter_message_kind_get_type      (void) G_GNUC_CONST;
GType natter_call_state_get_type        (void) G_GNUC_CONST;
GType natter_call_media_type_get_type   (void) G_GNUC_CONST;
GType natter_call_reason_get_type       (void) G_GNUC_CONST;

G_END_DECLS
