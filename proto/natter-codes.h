/* natter-codes.h — numbers shared by client and server
 *
 * Every value here is kept identical to the RongCloud IM platform the design
 * follows (docs/protocol.md lists them with their meaning), so apps, app
 * servers and people who know that platform find the same numbers.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Client connection status (NatterClient:status). */
typedef enum {
  NATTER_CONNECTION_CONNECTED = 0,
  NATTER_CONNECTION_CONNECTING = 1,
  NATTER_CONNECTION_DISCONNECTED = 2,
  NATTER_CONNECTION_NETWORK_UNAVAILABLE = 3,
  NATTER_CONNECTION_CLOSED = 4,
  NATTER_CONNECTION_KICKED_OFFLINE_BY_OTHER_CLIENT = 6,
} NatterConnectionStatus;

/* Codes carried by ConnectAck, PublishAck, Result, Kick and ChatroomEvent.
 * 0 is success everywhere on the client protocol. */
typedef enum {
  NATTER_CODE_OK = 0,

  /* connect */
  NATTER_CODE_APP_KEY_REJECTED = 31002,
  NATTER_CODE_TOKEN_INCORRECT = 31004,
  NATTER_CODE_APP_KEY_MISMATCH = 31005,
  NATTER_CODE_APP_BLOCKED = 31008,
  NATTER_CODE_USER_BLOCKED = 31009,
  NATTER_CODE_KICKED_BY_OTHER_DEVICE = 31010,
  NATTER_CODE_TOKEN_EXPIRED = 31020,

  /* send */
  NATTER_CODE_REJECTED_BY_BLACKLIST = 405,
  NATTER_CODE_SEND_TOO_FAST = 20604,
  NATTER_CODE_NOT_IN_GROUP = 22406,
  NATTER_CODE_GAGGED_IN_GROUP = 22408,
  NATTER_CODE_NOT_IN_CHATROOM = 23406,
  NATTER_CODE_GAGGED_IN_CHATROOM = 23408,
  NATTER_CODE_KICKED_FROM_CHATROOM = 23409,
  NATTER_CODE_CHATROOM_NOT_EXIST = 23410,
  NATTER_CODE_RECALL_FAILED = 25101,
  /* Natter's own, next to recall (#16): not the sender's text message, or
   * the app's edit-window is 0; its window has passed. */
  NATTER_CODE_EDIT_FAILED = 25102,
  NATTER_CODE_EDIT_WINDOW_PASSED = 25103,
  /* Natter's own (#16): the message was not sent with expansion enabled
   * (or is not a private/group message); it would hold over 300 keys. */
  NATTER_CODE_EXPANSION_NOT_ENABLED = 25104,
  NATTER_CODE_EXPANSION_TOO_MANY_KEYS = 25105,

  /* Not in the reference table; RongCloud's client SDKs use these numbers. */
  NATTER_CODE_MESSAGE_TOO_LARGE = 30016,
  NATTER_CODE_INVALID_PARAMETER = 33003,
  NATTER_CODE_TIMEOUT = 30003,
  NATTER_CODE_NOT_CONNECTED = 30001,
  NATTER_CODE_SERVER_ERROR = 30002,
  /* Natter's own: an upload past natterd's [media] user-quota or app-quota. */
  NATTER_CODE_MEDIA_QUOTA_EXCEEDED = 30017,

  /* Natter's own, end-user accounts (/account/, #14); 26010 is also a
   * PublishAck code. */
  NATTER_CODE_USER_ID_TAKEN = 26001,
  NATTER_CODE_WRONG_PASSWORD = 26002,
  NATTER_CODE_ACCOUNT_LOCKED = 26003,
  NATTER_CODE_REGISTRATION_CLOSED = 26004,
  NATTER_CODE_INVITE_INVALID = 26005,
  NATTER_CODE_PASSWORD_LENGTH = 26006,
  NATTER_CODE_LOGIN_BACK_OFF = 26007,
  NATTER_CODE_CONTACTS_ONLY = 26010,
  NATTER_CODE_NO_SUCH_USER = 26011,
  NATTER_CODE_NO_CONTACT_REQUEST = 26012,
  NATTER_CODE_GROUP_ROLE = 26020,
  NATTER_CODE_NO_SUCH_GROUP = 26021,
  /* Natter's own, presence subscriptions (#16): the subscriber has 1,000
   * already; the subscribed user has 5,000 subscribers. */
  NATTER_CODE_SUBSCRIPTIONS_FULL = 26030,
  NATTER_CODE_SUBSCRIBERS_FULL = 26031,
} NatterCode;

/* Server API (HTTP) reply codes. */
typedef enum {
  NATTER_API_OK = 200,
  NATTER_API_INTERNAL_ERROR = 1000,
  NATTER_API_APP_SECRET_MISMATCH = 1001,
  NATTER_API_BAD_PARAMETER = 1002,
  NATTER_API_NO_POST_DATA = 1003,
  NATTER_API_SIGNATURE_ERROR = 1004,
  NATTER_API_LENGTH_OVER_LIMIT = 1005,
  NATTER_API_RATE_LIMITED = 1008,
  NATTER_API_WRONG_PARAMETER_TYPE = 1501,
  NATTER_API_COUNT_OVER_LIMIT = 1502,
} NatterApiCode;

typedef enum {
  NATTER_CONVERSATION_PRIVATE = 1,
  NATTER_CONVERSATION_DISCUSSION = 2,
  NATTER_CONVERSATION_GROUP = 3,
  NATTER_CONVERSATION_CHATROOM = 4,
  NATTER_CONVERSATION_CUSTOMER_SERVICE = 5,
  NATTER_CONVERSATION_SYSTEM = 6,
  NATTER_CONVERSATION_APP_PUBLIC_SERVICE = 7,
  NATTER_CONVERSATION_PUBLIC_SERVICE = 8,
} NatterConversationType;

#define NATTER_CONVERSATION_TYPE_IS_VALID(t) ((t) >= 1 && (t) <= 8)

typedef enum {
  NATTER_SENT_STATUS_SENDING = 10,
  NATTER_SENT_STATUS_FAILED = 20,
  NATTER_SENT_STATUS_SENT = 30,
  NATTER_SENT_STATUS_RECEIVED = 40,
  NATTER_SENT_STATUS_READ = 50,
} NatterSentStatus;

typedef enum {
  NATTER_MESSAGE_DIRECTION_SEND = 1,
  NATTER_MESSAGE_DIRECTION_RECEIVE = 2,
} NatterMessageDirection;

/* Bits of Publish.flags / Message.flags (natter.proto MessageFlag). */
typedef enum {
  NATTER_MESSAGE_FLAG_NONE = 0,
  NATTER_MESSAGE_FLAG_PERSISTED = 1 << 0,
  NATTER_MESSAGE_FLAG_COUNTED = 1 << 1,
  NATTER_MESSAGE_FLAG_STATUS = 1 << 2,
  /* Conversation.latest_message only: the content is a bounded preview.
   * Not in NATTER_MESSAGE_FLAGS_MASK: never taken from a client. */
  NATTER_MESSAGE_FLAG_PREVIEW = 1 << 3,
} NatterMessageFlags;

#define NATTER_MESSAGE_FLAGS_MASK \
  (NATTER_MESSAGE_FLAG_PERSISTED | NATTER_MESSAGE_FLAG_COUNTED | NATTER_MESSAGE_FLAG_STATUS)

/* Calls */
typedef enum {
  NATTER_CALL_STATE_IDLE = 0,
  NATTER_CALL_STATE_DIALING = 1,
  NATTER_CALL_STATE_INCOMING = 2,
  NATTER_CALL_STATE_RINGING = 3,
  NATTER_CALL_STATE_ACTIVE = 4,
  NATTER_CALL_STATE_ENDED = 5,        /* "hangup" in the reference */
} NatterCallState;

typedef enum {
  NATTER_CALL_MEDIA_AUDIO = 1,
  NATTER_CALL_MEDIA_VIDEO = 2,
} NatterCallMediaType;

/* End reasons. The side that receives a Hangup records the sender's reason
 * plus NATTER_CALL_REASON_REMOTE_OFFSET. */
typedef enum {
  NATTER_CALL_REASON_NONE = 0,
  NATTER_CALL_REASON_CANCEL = 1,
  NATTER_CALL_REASON_REJECT = 2,
  NATTER_CALL_REASON_HANGUP = 3,
  NATTER_CALL_REASON_BUSY = 4,
  NATTER_CALL_REASON_NO_RESPONSE = 5,
  NATTER_CALL_REASON_ENGINE_UNSUPPORTED = 6,
  NATTER_CALL_REASON_NETWORK_ERROR = 7,
  NATTER_CALL_REASON_OTHER_DEVICE_HANDLED = 8,
  NATTER_CALL_REASON_REMOTE_CANCEL = 11,
  NATTER_CALL_REASON_REMOTE_REJECT = 12,
  NATTER_CALL_REASON_REMOTE_HANGUP = 13,
  NATTER_CALL_REASON_REMOTE_BUSY = 14,
  NATTER_CALL_REASON_REMOTE_NO_RESPONSE = 15,
  NATTER_CALL_REASON_REMOTE_NETWORK_ERROR = 17,
  NATTER_CALL_REASON_DEVICE_ERROR = 19,
} NatterCallReason;

#define NATTER_CALL_REASON_REMOTE_OFFSET 10

/* Web call error names kept from the reference. */
typedef enum {
  NATTER_CALL_ERROR_VOIPCLOSE = 24016,
  NATTER_CALL_ERROR_CLOSE_BEFORE_OPEN = 51001,
  NATTER_CALL_ERROR_ALREADY_IN_USE = 51002,
  NATTER_CALL_ERROR_INVALID_CHANNEL_NAME = 51003,
  NATTER_CALL_ERROR_VIDEO_CONTAINER_IS_NULL = 51004,
} NatterCallError;

/* Limits every peer enforces. */
#define NATTER_PROTOCOL_NAME        "natter.v2"
#define NATTER_FRAME_MAX_SIZE       (1024 * 1024)
#define NATTER_CONTENT_MAX_SIZE     (128 * 1024)
/* Message expansion (#16), RongCloud's limits. */
#define NATTER_EXPANSION_KEY_MAX_LENGTH  32
#define NATTER_EXPANSION_VALUE_MAX_SIZE  4096
#define NATTER_EXPANSION_UPDATE_MAX_KEYS 20
#define NATTER_EXPANSION_MESSAGE_MAX_KEYS 300
#define NATTER_ID_MAX_LENGTH        64
#define NATTER_OBJECT_NAME_MAX_LENGTH 32
#define NATTER_NAME_MAX_LENGTH      128
#define NATTER_TOKEN_MAX_LENGTH     512
#define NATTER_HISTORY_MIN_COUNT    2
#define NATTER_HISTORY_MAX_COUNT    20
#define NATTER_CHATROOM_JOIN_MAX_COUNT 50
#define NATTER_CONVERSATION_LIST_MAX_LIMIT 1000
#define NATTER_ONLINE_STATUS_MAX_USERS 100
/* Presence subscriptions (#16), RongCloud Web SDK 5.9.8+ limits. */
#define NATTER_SUBSCRIBE_MAX_IDS         200
#define NATTER_SUBSCRIBE_MAX_PER_USER    1000
#define NATTER_SUBSCRIBE_MAX_SUBSCRIBERS 5000
#define NATTER_SUBSCRIBE_MIN_EXPIRY      60
#define NATTER_SUBSCRIBE_MAX_EXPIRY      2592000
/* WebSocket close code a client sends when its user signs out: presence
 * says logout (status 2), not offline. */
#define NATTER_CLOSE_LOGOUT         4001
#define NATTER_PROFILE_MAX_IDS      100   /* user ids, and group ids, per ProfileRequest */
#define NATTER_PORTRAIT_MAX_LENGTH  1024
#define NATTER_CONVERSATION_LIST_MAX_TYPES 8  /* ConversationListRequest.types entries */
#define NATTER_PREVIEW_MAX_SIZE     1024  /* content of a flagged latest_message */
/* A refused Publish's client_msg_id is echoed when at most this long. */
#define NATTER_PUBLISH_ACK_ID_MAX_LENGTH 256

const char *natter_code_to_string (int code);

G_END_DECLS
