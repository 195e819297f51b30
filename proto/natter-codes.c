/* natter-codes.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-codes.h"

/* English, untranslated: these strings go to logs, protocol error_message
 * fields and the CLI. The app maps codes to its own translated text. */
const char *
natter_code_to_string (int code)
{
  switch (code)
    {
    case NATTER_CODE_OK: return "OK";
    case NATTER_CODE_APP_KEY_REJECTED: return "Unknown app key";
    case NATTER_CODE_TOKEN_INCORRECT: return "Token incorrect";
    case NATTER_CODE_APP_KEY_MISMATCH: return "App key and token do not match";
    case NATTER_CODE_APP_BLOCKED: return "App blocked";
    case NATTER_CODE_USER_BLOCKED: return "User blocked";
    case NATTER_CODE_KICKED_BY_OTHER_DEVICE: return "Logged in on another device";
    case NATTER_CODE_TOKEN_EXPIRED: return "Token expired";
    case NATTER_CODE_REJECTED_BY_BLACKLIST: return "Blocked by the recipient";
    case NATTER_CODE_SEND_TOO_FAST: return "Sending too fast";
    case NATTER_CODE_NOT_IN_GROUP: return "Not in group";
    case NATTER_CODE_GAGGED_IN_GROUP: return "Gagged in group";
    case NATTER_CODE_USER_ID_TAKEN: return "User id taken";
    case NATTER_CODE_WRONG_PASSWORD: return "Wrong user id or password";
    case NATTER_CODE_ACCOUNT_LOCKED: return "Account locked; try again later";
    case NATTER_CODE_REGISTRATION_CLOSED: return "Registration closed";
    case NATTER_CODE_INVITE_INVALID: return "Invite code invalid or used";
    case NATTER_CODE_PASSWORD_LENGTH: return "Password must be 8 to 1024 bytes";
    case NATTER_CODE_LOGIN_BACK_OFF: return "Too many attempts; back off";
    case NATTER_CODE_CONTACTS_ONLY: return "The recipient accepts messages from contacts only";
    case NATTER_CODE_NO_SUCH_USER: return "No such user";
    case NATTER_CODE_NO_CONTACT_REQUEST: return "No such contact request";
    case NATTER_CODE_GROUP_ROLE: return "Not allowed for your role in this group";
    case NATTER_CODE_NO_SUCH_GROUP: return "No such group";
    case NATTER_CODE_SUBSCRIPTIONS_FULL: return "Subscribed to 1000 users already";
    case NATTER_CODE_SUBSCRIBERS_FULL: return "That user has 5000 subscribers already";
    case NATTER_CODE_NOT_IN_CHATROOM: return "Not in chatroom";
    case NATTER_CODE_GAGGED_IN_CHATROOM: return "Gagged in chatroom";
    case NATTER_CODE_KICKED_FROM_CHATROOM: return "Kicked from chatroom";
    case NATTER_CODE_CHATROOM_NOT_EXIST: return "Chatroom does not exist";
    case NATTER_CODE_RECALL_FAILED: return "Recall failed";
    case NATTER_CODE_EDIT_FAILED: return "Edit not allowed";
    case NATTER_CODE_EDIT_WINDOW_PASSED: return "Edit window passed";
    case NATTER_CODE_EXPANSION_NOT_ENABLED: return "Expansion not enabled";
    case NATTER_CODE_EXPANSION_TOO_MANY_KEYS: return "Too many expansion keys";
    case NATTER_CODE_MESSAGE_TOO_LARGE: return "Message too large";
    case NATTER_CODE_INVALID_PARAMETER: return "Invalid parameter";
    case NATTER_CODE_TIMEOUT: return "Timed out";
    case NATTER_CODE_NOT_CONNECTED: return "Not connected";
    case NATTER_CODE_SERVER_ERROR: return "Server error";
    case NATTER_CODE_MEDIA_QUOTA_EXCEEDED: return "Media quota exceeded";
    case NATTER_API_OK: return "OK";
    case NATTER_API_INTERNAL_ERROR: return "Internal error";
    case NATTER_API_APP_SECRET_MISMATCH: return "App key and secret do not match";
    case NATTER_API_BAD_PARAMETER: return "Bad parameter";
    case NATTER_API_NO_POST_DATA: return "No POST data";
    case NATTER_API_SIGNATURE_ERROR: return "Signature error";
    case NATTER_API_LENGTH_OVER_LIMIT: return "Length over limit";
    case NATTER_API_RATE_LIMITED: return "Rate limited";
    case NATTER_API_WRONG_PARAMETER_TYPE: return "Wrong parameter type";
    case NATTER_API_COUNT_OVER_LIMIT: return "Count over limit";
    default: return "Unknown error";
    }
}
