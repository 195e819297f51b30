/* natter-call-enums.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-call-enums.h"

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
