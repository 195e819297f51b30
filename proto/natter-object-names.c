/* natter-object-names.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-codes.h"
#include "natter-object-names.h"

#include <string.h>

#define P NATTER_MESSAGE_FLAG_PERSISTED
#define C NATTER_MESSAGE_FLAG_COUNTED
#define S NATTER_MESSAGE_FLAG_STATUS

static const struct {
  const char *name;
  guint flags;
} known_objects[] = {
  { NATTER_OBJECT_TEXT, P | C },
  { NATTER_OBJECT_IMAGE, P | C },
  { NATTER_OBJECT_VOICE, P | C },
  { NATTER_OBJECT_HQ_VOICE, P | C },
  { NATTER_OBJECT_FILE, P | C },
  { NATTER_OBJECT_INFO_NOTIFICATION, P },
  { NATTER_OBJECT_RECALL_COMMAND, P },
  { NATTER_OBJECT_RECALL_NOTIFICATION, P },
  { NATTER_OBJECT_COMMAND, NATTER_MESSAGE_FLAG_NONE },
  { NATTER_OBJECT_TYPING_STATUS, S },
  { NATTER_OBJECT_READ_NOTIFICATION, S },
  { NATTER_OBJECT_SYNC_READ_STATUS, S },
  { NATTER_OBJECT_CS_HANDSHAKE, S },
  { NATTER_OBJECT_CONTACT_NOTIFICATION, P },
  { NATTER_OBJECT_GROUP_NOTIFICATION, P },
  { NATTER_OBJECT_CALL_INVITE, S },
  { NATTER_OBJECT_CALL_RINGING, S },
  { NATTER_OBJECT_CALL_ACCEPT, S },
  { NATTER_OBJECT_CALL_HANGUP, S },
  { NATTER_OBJECT_CALL_MODIFY_MEDIA, S },
  { NATTER_OBJECT_CALL_ICE, S },
  /* Each side records its own summary; counted so a missed call shows. */
  { NATTER_OBJECT_CALL_SUMMARY, P | C },
  { NATTER_OBJECT_REFERENCE, P | C },
  { NATTER_OBJECT_EDIT_COMMAND, P },
  { NATTER_OBJECT_EXPANSION_COMMAND, P },
  { NATTER_OBJECT_RECEIPT_REQUEST, P },
  { NATTER_OBJECT_RECEIPT_RESPONSE, P },
  { NATTER_OBJECT_CLEAR_COMMAND, P },
  { NATTER_OBJECT_PROFILE_NOTIFICATION, S },
  { NATTER_OBJECT_CHATROOM_NOTIFICATION, S },
};

#undef P
#undef C
#undef S

static int
find_known (const char *object_name)
{
  if (object_name == NULL)
    return -1;

  for (guint i = 0; i < G_N_ELEMENTS (known_objects); i++)
    if (strcmp (known_objects[i].name, object_name) == 0)
      return (int) i;

  return -1;
}

gboolean
natter_object_name_is_known (const char *object_name)
{
  return find_known (object_name) >= 0;
}

guint
natter_object_name_flags (const char *object_name,
                          guint       client_flags)
{
  int i = find_known (object_name);

  if (i >= 0)
    return known_objects[i].flags;

  client_flags &= NATTER_MESSAGE_FLAGS_MASK;

  /* Status-only excludes storing and counting. */
  if (client_flags & NATTER_MESSAGE_FLAG_STATUS)
    return NATTER_MESSAGE_FLAG_STATUS;

  /* Counting a message nobody can find in history would leave a badge
   * that cannot be cleared by reading. */
  if (!(client_flags & NATTER_MESSAGE_FLAG_PERSISTED))
    client_flags &= ~NATTER_MESSAGE_FLAG_COUNTED;

  return client_flags;
}
