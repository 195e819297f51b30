/* natter-format-accounts.c — words for accounts, contacts and groups
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gi18n.h>

#include "natter-format.h"
#include "natter-format-accounts.h"

char *
natter_format_account_error (const GError *error)
{
  const char *text = NULL;

  if (error == NULL || error->domain != NATTER_ACCOUNT_ERROR)
    return natter_format_error (error);

  switch (error->code)
    {
    case NATTER_ACCOUNT_ERROR_USER_ID_TAKEN:
      text = _("This user ID is taken. Choose another one.");
      break;
    case NATTER_ACCOUNT_ERROR_WRONG_PASSWORD:
      text = _("Wrong user ID or password.");
      break;
    case NATTER_ACCOUNT_ERROR_LOCKED:
      text = _("Too many wrong passwords: this account is locked for a while.");
      break;
    case NATTER_ACCOUNT_ERROR_REGISTRATION_CLOSED:
      text = _("This server does not let you create an account here.");
      break;
    case NATTER_ACCOUNT_ERROR_INVITE_INVALID:
      text = _("The invite code is not valid, or was used already.");
      break;
    case NATTER_ACCOUNT_ERROR_PASSWORD_LENGTH:
      text = _("The password must have at least 8 characters.");
      break;
    case NATTER_ACCOUNT_ERROR_TOO_MANY_ATTEMPTS:
      text = _("Too many attempts. Wait a moment and try again.");
      break;
    case NATTER_ACCOUNT_ERROR_CONTACTS_ONLY:
      text = _("This person accepts messages from contacts only.");
      break;
    case NATTER_ACCOUNT_ERROR_NO_SUCH_USER:
      text = _("There is no user with this ID.");
      break;
    case NATTER_ACCOUNT_ERROR_NO_SUCH_REQUEST:
      text = _("This contact request is gone.");
      break;
    case NATTER_ACCOUNT_ERROR_NOT_ALLOWED:
      text = _("Your role in this group does not allow this.");
      break;
    case NATTER_ACCOUNT_ERROR_NO_SUCH_GROUP:
    case NATTER_ACCOUNT_ERROR_NOT_IN_GROUP:
      text = _("You are not in this group.");
      break;
    case NATTER_ACCOUNT_ERROR_TOKEN_INCORRECT:
    case NATTER_ACCOUNT_ERROR_TOKEN_EXPIRED:
      text = _("You were signed out. Sign in again.");
      break;
    default:
      return g_strdup (error->message);
    }
  /* Translators: an explanation and the server's reference code */
  return g_strdup_printf (_("%s (%d)"), text, error->code);
}

static char *
person_full (NatterMessage *message,
             const char    *user_id,
             const char    *name,
             const char    *self_id,
             gboolean       subject)
{
  if (user_id != NULL && g_strcmp0 (user_id, self_id) == 0 && subject)
    /* Translators: the signed-in user in a notice, "You created the group" */
    return g_strdup (_("You"));
  if (user_id != NULL && g_strcmp0 (user_id, self_id) == 0)
    /* Translators: the signed-in user as the object of a notice, "alice added you" */
    return g_strdup (C_("notice object", "you"));
  if (name != NULL && *name != '\0')
    return g_strdup (name);
  if (user_id != NULL && g_strcmp0 (user_id, natter_message_get_sender_user_id (message)) == 0 &&
      natter_message_get_sender_name (message) != NULL)
    return g_strdup (natter_message_get_sender_name (message));
  return g_strdup (user_id != NULL ? user_id : "?");
}

static char *
person (NatterMessage *message,
        const char    *user_id,
        const char    *name,
        const char    *self_id)
{
  return person_full (message, user_id, name, self_id, TRUE);
}

static char *
contact_notice (NatterMessage *message,
                const char    *operation,
                const char    *self_id)
{
  const char *source = natter_message_get_notification_operator (message);
  g_autofree char *who = person (message, source, NULL, self_id);

  if (g_strcmp0 (operation, "Request") == 0)
    {
      if (g_strcmp0 (source, self_id) == 0)
        return g_strdup (_("You asked to be contacts"));
      /* Translators: %s is a person */
      return g_strdup_printf (_("%s asked to be your contact"), who);
    }
  if (g_strcmp0 (operation, "AcceptResponse") == 0)
    return g_strdup (_("You are now contacts"));
  if (g_strcmp0 (operation, "RejectResponse") == 0)
    /* Translators: %s is a person */
    return g_strdup_printf (_("%s ignored the contact request"), who);
  return NULL;
}

static char *
group_notice (NatterMessage *message,
              const char    *operation,
              const char    *self_id)
{
  g_autofree char *nickname = natter_message_dup_notification_detail (message, "operatorNickname");
  g_autofree char *name = natter_message_dup_notification_detail (message, "name");
  g_autofree char *who = person (message, natter_message_get_notification_operator (message), nickname, self_id);
  g_auto(GStrv) names = NULL;
  g_auto(GStrv) ids = natter_message_dup_notification_targets (message, &names);
  g_autoptr(GString) targets = g_string_new (NULL);

  for (guint i = 0; ids != NULL && ids[i] != NULL; i++)
    {
      /* "alice removed you", not "… removed You" */
      g_autofree char *target = person_full (message, ids[i], names != NULL ? names[i] : NULL, self_id, FALSE);

      if (i > 0)
        /* Translators: between the names of several people */
        g_string_append (targets, _(", "));
      g_string_append (targets, target);
    }

  /* Translators: in the group notices below, the first %s is who did it */
  if (g_strcmp0 (operation, "Create") == 0)
    return g_strdup_printf (_("%s created the group"), who);
  /* Added by themselves: an open group, or a join link */
  if (g_strcmp0 (operation, "Add") == 0 && ids != NULL && g_strv_length (ids) == 1 &&
      g_strcmp0 (ids[0], natter_message_get_notification_operator (message)) == 0)
    return g_strdup_printf (_("%s joined the group"), who);
  if (g_strcmp0 (operation, "Add") == 0)
    return g_strdup_printf (_("%s added %s"), who, targets->str);
  if (g_strcmp0 (operation, "Kicked") == 0 && ids != NULL && g_strv_length (ids) == 1 &&
      g_strcmp0 (ids[0], self_id) == 0)
    /* Translators: %s is who removed the signed-in user */
    return g_strdup_printf (_("%s removed you from the group"), who);
  if (g_strcmp0 (operation, "Kicked") == 0)
    return g_strdup_printf (_("%s removed %s"), who, targets->str);
  if (g_strcmp0 (operation, "Quit") == 0)
    return g_strdup_printf (_("%s left the group"), who);
  if (g_strcmp0 (operation, "Rename") == 0)
    return g_strdup_printf (_("%s renamed the group to “%s”"), who, name != NULL ? name : "");
  if (g_strcmp0 (operation, "Dismiss") == 0)
    return g_strdup_printf (_("%s dismissed the group"), who);
  if (g_strcmp0 (operation, "Transfer") == 0)
    return g_strdup_printf (_("%s made %s the owner"), who, targets->str);
  if (g_strcmp0 (operation, "Bulletin") == 0)
    return g_strdup_printf (_("%s changed the announcement"), who);
  return NULL;
}

static char *
chatroom_notice (NatterMessage *message,
                 const char    *operation,
                 const char    *self_id)
{
  g_autofree char *who = person (message, natter_message_get_notification_operator (message), NULL, self_id);

  /* Translators: in the chat room notices below, %s is who (a name, or "You") */
  if (g_strcmp0 (operation, "Join") == 0)
    return g_strdup_printf (_("%s joined the chat room"), who);
  if (g_strcmp0 (operation, "Quit") == 0)
    return g_strdup_printf (_("%s left the chat room"), who);
  if (g_strcmp0 (operation, "Kicked") == 0 &&
      g_strcmp0 (natter_message_get_notification_operator (message), self_id) == 0)
    return g_strdup (_("You were removed from the chat room"));
  if (g_strcmp0 (operation, "Kicked") == 0)
    return g_strdup_printf (_("%s was removed from the chat room"), who);
  return NULL;
}

char *
natter_format_notice (NatterMessage *message,
                      const char    *self_id)
{
  const char *operation = natter_message_get_notification_operation (message);
  char *text = NULL;

  switch (natter_message_get_kind (message))
    {
    case NATTER_MESSAGE_KIND_CONTACT_NOTIFICATION:
      text = contact_notice (message, operation, self_id);
      break;
    case NATTER_MESSAGE_KIND_GROUP_NOTIFICATION:
      text = group_notice (message, operation, self_id);
      break;
    case NATTER_MESSAGE_KIND_CHATROOM_NOTIFICATION:
      text = chatroom_notice (message, operation, self_id);
      break;
    default:
      return NULL;
    }
  /* An operation this version does not know: the server's own words. */
  if (text == NULL)
    text = g_strdup (natter_message_get_text (message) != NULL ? natter_message_get_text (message) : "");
  return text;
}
