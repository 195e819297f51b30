/* natter-call-enums.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-call-enums.h"

#ifndef NATTER_CALL_HAVE_MANAGER
static const GEnumValue state_values[] = {
  { NATTER_CALL_STATE_IDLE, "NATTER_CALL_STATE_IDLE", "idle" },
  { NATTER_CALL_STATE_DIALING, "NATTER_CALL_STATE_DIALING", "dialing" },
  { NATTER_CALL_STATE_INCOMING, "NATTER_CALL_STATE_INCOMING", "incoming" },
  { NATTER_CALL_STATE_RINGING, "NATTER_CALL_STATE_RINGING", "ringing" },
  { NATTER_CALL_STATE_ACTIVE, "NATTER_CALL_STATE_ACTIVE", "active" },
  { NATTER_CALL_STATE_ENDED, "NATTER_CALL_STATE_ENDED", "ended" },
  { 0, NULL, NULL },
};

static const GEnumValue reason_values[] = {
  { NATTER_CALL_REASON_NONE, "NATTER_CALL_REASON_NONE", "none" },
  { NATTER_CALL_REASON_CANCEL, "NATTER_CALL_REASON_CANCEL", "cancel" },
  { NATTER_CALL_REASON_REJECT, "NATTER_CALL_REASON_REJECT", "reject" },
  { NATTER_CALL_REASON_HANGUP, "NATTER_CALL_REASON_HANGUP", "hangup" },
  { NATTER_CALL_REASON_BUSY, "NATTER_CALL_REASON_BUSY", "busy" },
  { NATTER_CALL_REASON_NO_RESPONSE, "NATTER_CALL_REASON_NO_RESPONSE", "no-response" },
  { NATTER_CALL_REASON_ENGINE_UNSUPPORTED, "NATTER_CALL_REASON_ENGINE_UNSUPPORTED", "engine-unsupported" },
  { NATTER_CALL_REASON_NETWORK_ERROR, "NATTER_CALL_REASON_NETWORK_ERROR", "network-error" },
  { NATTER_CALL_REASON_OTHER_DEVICE_HANDLED, "NATTER_CALL_REASON_OTHER_DEVICE_HANDLED", "other-device-handled" },
  { NATTER_CALL_REASON_REMOTE_CANCEL, "NATTER_CALL_REASON_REMOTE_CANCEL", "remote-cancel" },
  { NATTER_CALL_REASON_REMOTE_REJECT, "NATTER_CALL_REASON_REMOTE_REJECT", "remote-reject" },
  { NATTER_CALL_REASON_REMOTE_HANGUP, "NATTER_CALL_REASON_REMOTE_HANGUP", "remote-hangup" },
  { NATTER_CALL_REASON_REMOTE_BUSY, "NATTER_CALL_REASON_REMOTE_BUSY", "remote-busy" },
  { NATTER_CALL_REASON_REMOTE_NO_RESPONSE, "NATTER_CALL_REASON_REMOTE_NO_RESPONSE", "remote-no-response" },
  { NATTER_CALL_REASON_REMOTE_NETWORK_ERROR, "NATTER_CALL_REASON_REMOTE_NETWORK_ERROR", "remote-network-error" },
  { NATTER_CALL_REASON_DEVICE_ERROR, "NATTER_CALL_REASON_DEVICE_ERROR", "device-error" },
  { 0, NULL, NULL },
};

static const GEnumValue media_type_values[] = {
  { NATTER_CALL_MEDIA_AUDIO, "NATTER_CALL_MEDIA_AUDIO", "audio" },
  { NATTER_CALL_MEDIA_VIDEO, "NATTER_CALL_MEDIA_VIDEO", "video" },
  { 0, NULL, NULL },
};

#define DEFINE_ENUM_TYPE(func, Name, values)                    \
  GType                                                         \
  func (void)                                                   \
  {                                                             \
    static gsize type_id = 0;                                   \
    if (g_once_init_enter (&type_id))                           \
      g_once_init_leave (&type_id,                              \
                         g_enum_register_static (Name, values)); \
    return type_id;                                             \
  }

DEFINE_ENUM_TYPE (natter_call_state_get_type, "NatterCallState", state_values)
DEFINE_ENUM_TYPE (natter_call_reason_get_type, "NatterCallReason", reason_values)
DEFINE_ENUM_TYPE (natter_call_media_type_get_type, "NatterCallMediaType", media_type_values)

#endif

static const char *
nick_of (GType type,
         int   value)
{
  GEnumClass *klass = g_type_class_ref (type);
  GEnumValue *enum_value = g_enum_get_value (klass, value);
  const char *nick = enum_value != NULL ? enum_value->value_nick : "unknown";

  /* Enum classes are static: the nick outlives this reference. */
  g_type_class_unref (klass);
  return nick;
}

const char *
natter_call_state_to_string (NatterCallState state)
{
  return nick_of (NATTER_TYPE_CALL_STATE, state);
}

const char *
natter_call_reason_to_string (NatterCallReason reason)
{
  return nick_of (NATTER_TYPE_CALL_REASON, reason);
}
