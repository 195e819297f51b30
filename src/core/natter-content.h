/* natter-content.h — the content of a message to send
 *
 * Builders of the reference's content objects (RC:TxtMsg, RC:ImgMsg,
 * RC:FileMsg, RC:HQVCMsg, RC:TypSts), each a new JsonObject to pass to
 * natter_client_send_message_async() and unref, and the JPEG thumbnail an
 * RC:ImgMsg carries inline. Reading a received content is NatterMessage's
 * business (natter-message.h).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

JsonObject *natter_content_new_text           (const char          *text);
/* @thumbnail_base64: base64 JPEG without "data:" prefix. */
JsonObject *natter_content_new_image          (const char          *thumbnail_base64,
                                               const char          *image_uri);
JsonObject *natter_content_new_file           (const char          *name,
                                               gint64               size,
                                               const char          *type,
                                               const char          *file_url);
JsonObject *natter_content_new_hq_voice       (const char          *remote_url,
                                               int                  duration,
                                               const char          *type);
JsonObject *natter_content_new_typing         (const char          *typing_object_name);
/* RC:ReferenceMsg: @text replying to a message of @refer_user_id whose
 * objectName and content (copied) were @refer_object_name, @refer_content. */
JsonObject *natter_content_new_reference      (const char          *text,
                                               const char          *refer_user_id,
                                               const char          *refer_object_name,
                                               JsonObject          *refer_content);

/* mentionedInfo for a RC:TxtMsg or RC:ReferenceMsg: type 1 (everyone)
 * when @all, else type 2 with @user_ids in userIdList. */
JsonObject *natter_content_new_mentioned_info (gboolean             all,
                                               const char * const  *user_ids);

/* A base64 JPEG thumbnail (no prefix, at most 100 KB encoded) of an image
 * file, made with gdk-pixbuf in a worker thread (natter-thumbnail.c). */
void        natter_image_thumbnail_new_async  (GFile               *file,
                                               GCancellable        *cancellable,
                                               GAsyncReadyCallback  callback,
                                               gpointer             user_data);
char       *natter_image_thumbnail_new_finish (GAsyncResult        *result,
                                               GError             **error);

G_END_DECLS
