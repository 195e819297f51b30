/* natter-content.c — builders of the content of a message to send
 *
 * Members as the reference names them; a NULL string is written as "", so
 * every member is there.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-content.h"

#include "natter-object-names.h"

JsonObject *
natter_content_new_text (const char *text)
{
  JsonObject *content = json_object_new ();

  json_object_set_string_member (content, "content", text ? text : "");
  return content;
}

JsonObject *
natter_content_new_image (const char *thumbnail_base64,
                          const char *image_uri)
{
  JsonObject *content = json_object_new ();

  json_object_set_string_member (content, "content", thumbnail_base64 ? thumbnail_base64 : "");
  json_object_set_string_member (content, "imageUri", image_uri ? image_uri : "");
  return content;
}

JsonObject *
natter_content_new_file (const char *name,
                         gint64      size,
                         const char *type,
                         const char *file_url)
{
  JsonObject *content = json_object_new ();

  json_object_set_string_member (content, "name", name ? name : "");
  json_object_set_int_member (content, "size", size);
  json_object_set_string_member (content, "type", type ? type : "");
  json_object_set_string_member (content, "fileUrl", file_url ? file_url : "");
  return content;
}

JsonObject *
natter_content_new_hq_voice (const char *remote_url,
                             int         duration,
                             const char *type)
{
  JsonObject *content = json_object_new ();

  json_object_set_string_member (content, "remoteUrl", remote_url ? remote_url : "");
  json_object_set_int_member (content, "duration", duration);
  json_object_set_string_member (content, "type", type ? type : "ogg");
  return content;
}

JsonObject *
natter_content_new_typing (const char *typing_object_name)
{
  JsonObject *content = json_object_new ();

  json_object_set_string_member (content, "typingContentType",
                                 typing_object_name ? typing_object_name : NATTER_OBJECT_TEXT);
  return content;
}

JsonObject *
natter_content_new_reference (const char *text,
                              const char *refer_user_id,
                              const char *refer_object_name,
                              JsonObject *refer_content)
{
  JsonObject *content = json_object_new ();

  json_object_set_string_member (content, "content", text ? text : "");
  json_object_set_string_member (content, "referMsgUserId", refer_user_id ? refer_user_id : "");
  /* Shared, not copied: a message's content is never modified in place. */
  if (refer_content != NULL)
    json_object_set_object_member (content, "referMsg", json_object_ref (refer_content));
  else
    json_object_set_object_member (content, "referMsg", json_object_new ());
  json_object_set_string_member (content, "objName", refer_object_name ? refer_object_name : "");
  return content;
}

JsonObject *
natter_content_new_mentioned_info (gboolean            all,
                                   const char * const *user_ids)
{
  JsonObject *info = json_object_new ();
  JsonArray *list = json_array_new ();

  json_object_set_int_member (info, "type", all ? 1 : 2);
  for (gsize i = 0; !all && user_ids != NULL && user_ids[i] != NULL; i++)
    json_array_add_string_element (list, user_ids[i]);
  json_object_set_array_member (info, "userIdList", list);
  return info;
}
