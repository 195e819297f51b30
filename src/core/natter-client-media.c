/* natter-client-media.c — media upload/download, media messages, tokens
 *
 * And which addresses are whose: natterd's own origins (the only ones that
 * see the token and the app key) and loopback hosts (no network to cross).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-client-private.h"
#include "natter-message-private.h"
#include "natter-json.h"

#include <string.h>

#define DOWNLOAD_CHUNK (64 * 1024)
#define MAX_REDIRECTS  5

goffset
natter_media_kind_max_size (NatterMediaKind kind)
{
  switch (kind)
    {
    case NATTER_MEDIA_KIND_PORTRAIT:
      return 2 * 1024 * 1024;
    case NATTER_MEDIA_KIND_VOICE:
      return 20 * 1024 * 1024;
    case NATTER_MEDIA_KIND_IMAGE:
      return 40 * 1024 * 1024;
    case NATTER_MEDIA_KIND_FILE:
    default:
      return 100 * 1024 * 1024;
    }
}

/* ---------------------------------------------------------------- origins */

static char *
origin_of_url (const char *url)
{
  g_autoptr(GUri) uri = url != NULL ? g_uri_parse (url, G_URI_FLAGS_NONE, NULL) : NULL;

  return natter_uri_dup_origin (uri);
}

static gboolean
is_own_uri (NatterClient *self,
            GUri         *uri)
{
  g_autofree char *origin = natter_uri_dup_origin (uri);

  return natter_server_list_has_origin (natter_client_get_server_list (self), origin);
}

gboolean
natter_client_is_own_origin (NatterClient *self,
                             const char   *url)
{
  g_autoptr(GUri) uri = NULL;

  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);

  uri = url != NULL ? g_uri_parse (url, G_URI_FLAGS_NONE, NULL) : NULL;
  return is_own_uri (self, uri);
}

gboolean
natter_host_is_loopback (const char *host)
{
  g_autoptr(GInetAddress) address = NULL;

  if (host == NULL)
    return FALSE;
  if (g_ascii_strcasecmp (host, "localhost") == 0 || g_ascii_strcasecmp (host, "localhost.") == 0)
    return TRUE;
  address = g_inet_address_new_from_string (host);
  return address != NULL && g_inet_address_get_is_loopback (address);
}

gboolean
natter_url_is_unencrypted_remote (const char *url)
{
  g_autoptr(GUri) uri = NULL;
  const char *scheme;

  g_return_val_if_fail (url != NULL, FALSE);

  uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  if (uri == NULL)
    return FALSE;
  scheme = g_uri_get_scheme (uri);
  return (g_ascii_strcasecmp (scheme, "http") == 0 || g_ascii_strcasecmp (scheme, "ws") == 0) &&
         !natter_host_is_loopback (g_uri_get_host (uri));
}

/* Only for natterd's own origin (is_own_uri()): the token is the user's
 * for as long as it lives. */
static void
add_auth_headers (NatterClient *self,
                  SoupMessage  *message)
{
  SoupMessageHeaders *headers = soup_message_get_request_headers (message);
  const char *token = natter_client_get_token (self);

  soup_message_headers_replace (headers, "App-Key", natter_client_get_app_key (self));
  if (token != NULL)
    {
      g_autofree char *bearer = g_strdup_printf ("Bearer %s", token);

      soup_message_headers_replace (headers, "Authorization", bearer);
    }
}

/* Progress callbacks run in the caller's main context, which is where the
 * SoupSession signals arrive. */
typedef struct {
  GFileProgressCallback progress;
  gpointer progress_data;
  goffset done;
  goffset total;
  GFile *file;                  /* upload source / download destination */
  GFile *partial;               /* download being written */
  char *content_type;
  char *url;
  GInputStream *input;
  GOutputStream *output;
  guint8 *buffer;
  GUri *uri;                    /* download: this hop */
  guint redirects;
  goffset max_size;
  GError *error;                /* download: failed, the partial file goes */
} Transfer;

static void
transfer_free (Transfer *transfer)
{
  g_clear_object (&transfer->file);
  g_clear_object (&transfer->partial);
  g_clear_object (&transfer->input);
  g_clear_object (&transfer->output);
  g_free (transfer->content_type);
  g_free (transfer->url);
  g_free (transfer->buffer);
  g_clear_pointer (&transfer->uri, g_uri_unref);
  g_clear_error (&transfer->error);
  g_free (transfer);
}

/* A reply body from natterd or an app server: network input, so through
 * the bounded parser. */
static JsonNode *
parse_reply (GBytes *body)
{
  return natter_json_parse (g_bytes_get_data (body, NULL), (gssize) g_bytes_get_size (body), NULL);
}

static GError *
http_error (SoupMessage *message,
            GBytes      *body)
{
  g_autoptr(JsonNode) root = NULL;
  guint status = soup_message_get_status (message);

  if (body != NULL &&
      (root = parse_reply (body)) != NULL &&
      JSON_NODE_HOLDS_OBJECT (root))
    {
      JsonObject *reply = json_node_get_object (root);
      int code = (int) json_object_get_int_member_with_default (reply, "code", 0);
      const char *text = json_object_get_string_member_with_default (reply, "errorMessage", NULL);

      if (code != 0 && code != 200)
        return g_error_new (NATTER_CLIENT_ERROR, code, "%s (%d)%s%s", natter_code_to_string (code),
                            code, text ? ": " : "", text ? text : "");
    }

  return g_error_new (NATTER_CLIENT_ERROR, NATTER_CODE_SERVER_ERROR, "HTTP %u %s", status,
                      soup_message_get_reason_phrase (message) ?: "");
}

/* ----------------------------------------------------------------- upload */

static void
wrote_body_data_cb (SoupMessage *message,
                    guint        chunk_size,
                    gpointer     user_data)
{
  Transfer *transfer = user_data;

  transfer->done += chunk_size;
  if (transfer->progress != NULL)
    transfer->progress (transfer->done, transfer->total, transfer->progress_data);
}

static void
upload_sent_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  SoupMessage *message = soup_session_get_async_result_message (SOUP_SESSION (object), result);
  g_autoptr(GBytes) body = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *reply;
  const char *url;

  body = soup_session_send_and_read_finish (SOUP_SESSION (object), result, &error);
  if (body == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (soup_message_get_status (message) != SOUP_STATUS_OK ||
      (root = parse_reply (body)) == NULL ||
      !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_task_return_error (task, http_error (message, body));
      return;
    }

  reply = json_node_get_object (root);
  url = json_object_get_string_member_with_default (reply, "url", NULL);
  if (url == NULL || !(g_str_has_prefix (url, "http://") || g_str_has_prefix (url, "https://")))
    {
      g_task_return_new_error (task, NATTER_CLIENT_ERROR, NATTER_CODE_SERVER_ERROR,
                               "Upload reply has no media URL");
      return;
    }

  /* natterd's media may live under its public-url rather than the address
   * the client uses: what natterd itself names is natterd. */
  {
    NatterClient *self = g_task_get_source_object (task);
    g_autofree char *origin = origin_of_url (url);

    if (origin != NULL)
      natter_server_list_add_origin (natter_client_get_server_list (self), origin);
  }

  g_task_return_pointer (task, g_strdup (url), g_free);
}

static void
upload_opened_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  NatterClient *self = g_task_get_source_object (task);
  Transfer *transfer = g_task_get_task_data (task);
  g_autoptr(GFileInputStream) stream = NULL;
  g_autoptr(GFileInfo) info = NULL;
  g_autoptr(SoupMessage) message = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *basename = NULL;
  g_autofree char *escaped = NULL;

  stream = g_file_read_finish (G_FILE (object), result, &error);
  if (stream != NULL)
    info = g_file_input_stream_query_info (stream, G_FILE_ATTRIBUTE_STANDARD_SIZE, NULL, &error);
  if (info == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  transfer->total = g_file_info_get_size (info);
  basename = g_file_get_basename (transfer->file);
  escaped = g_uri_escape_string (basename, NULL, FALSE);
  /* natterd: POST /media/upload?name=NAME, the body is the file. */
  {
    g_autofree char *url = g_strdup_printf ("%s/upload?name=%s", natter_client_get_media_url (self),
                                            escaped);
    message = soup_message_new (SOUP_METHOD_POST, url);
  }
  /* The media URL is natterd's own; a redirect would carry the token on. */
  soup_message_add_flags (message, SOUP_MESSAGE_NO_REDIRECT);
  add_auth_headers (self, message);
  soup_message_set_request_body (message, transfer->content_type, G_INPUT_STREAM (stream),
                                 transfer->total);
  g_signal_connect (message, "wrote-body-data", G_CALLBACK (wrote_body_data_cb), transfer);

  soup_session_send_and_read_async (natter_client_get_session (self), message, G_PRIORITY_DEFAULT,
                                    g_task_get_cancellable (task), upload_sent_cb,
                                    g_object_ref (task));
}

void
natter_client_upload_async (NatterClient          *self,
                            GFile                 *file,
                            const char            *content_type,
                            GFileProgressCallback  progress,
                            gpointer               progress_data,
                            GCancellable          *cancellable,
                            GAsyncReadyCallback    callback,
                            gpointer               user_data)
{
  g_autoptr(GTask) task = NULL;
  Transfer *transfer;

  g_return_if_fail (NATTER_IS_CLIENT (self));
  g_return_if_fail (G_IS_FILE (file));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_client_upload_async);

  transfer = g_new0 (Transfer, 1);
  transfer->file = g_object_ref (file);
  transfer->content_type = g_strdup (content_type ? content_type : "application/octet-stream");
  transfer->progress = progress;
  transfer->progress_data = progress_data;
  g_task_set_task_data (task, transfer, (GDestroyNotify) transfer_free);

  g_file_read_async (file, G_PRIORITY_DEFAULT, cancellable, upload_opened_cb, g_object_ref (task));
}

char *
natter_client_upload_finish (NatterClient  *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* --------------------------------------------------------------- download */

static GFile *
cache_file_for (NatterClient *self,
                const char   *url)
{
  g_autofree char *hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, url, -1);
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;

  if (natter_client_get_profile_dir (self) != NULL)
    dir = g_build_filename (natter_client_get_profile_dir (self), "media", NULL);
  else
    dir = g_build_filename (g_get_user_cache_dir (), "natter", "media", NULL);

  path = g_build_filename (dir, hash, NULL);
  return g_file_new_for_path (path);
}

static GError *
too_large_error (Transfer *transfer)
{
  g_autofree char *limit = g_format_size (transfer->max_size);

  return g_error_new (G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                      "%s is larger than %s, the most Natter downloads for it", transfer->url, limit);
}

static void
download_failed_deleted_cb (GObject      *object,
                            GAsyncResult *result,
                            gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Transfer *transfer = g_task_get_task_data (task);

  g_file_delete_finish (G_FILE (object), result, NULL);
  g_task_return_error (task, g_steal_pointer (&transfer->error));
}

static void
download_failed_closed_cb (GObject      *object,
                           GAsyncResult *result,
                           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Transfer *transfer = g_task_get_task_data (task);

  g_output_stream_close_finish (G_OUTPUT_STREAM (object), result, NULL);
  g_file_delete_async (transfer->partial, G_PRIORITY_DEFAULT, NULL, download_failed_deleted_cb,
                       g_object_ref (task));
}

/* Returns @error once the partial file, if any, is gone. */
static void
download_fail (GTask  *task,
               GError *error)
{
  Transfer *transfer = g_task_get_task_data (task);

  /* libsoup closes the connection rather than read what is left */
  g_clear_object (&transfer->input);
  if (transfer->output == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  g_clear_error (&transfer->error);
  transfer->error = error;
  g_output_stream_close_async (transfer->output, G_PRIORITY_DEFAULT, NULL, download_failed_closed_cb,
                               g_object_ref (task));
}

static void download_read_cb (GObject      *object,
                              GAsyncResult *result,
                              gpointer      user_data);

static void
download_moved_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Transfer *transfer = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (!g_file_move_finish (G_FILE (object), result, &error))
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, g_object_ref (transfer->file), g_object_unref);
}

static void
download_finished (GTask *task)
{
  Transfer *transfer = g_task_get_task_data (task);

  /* A complete file appears under its final name or not at all. */
  g_file_move_async (transfer->partial, transfer->file, G_FILE_COPY_OVERWRITE, G_PRIORITY_DEFAULT,
                     g_task_get_cancellable (task), NULL, NULL, download_moved_cb, g_object_ref (task));
}

/* The cache directory, made in a worker thread (no async mkdir -p in GIO). */
static void
make_cache_dir_thread (GTask        *task,
                       gpointer      source_object,
                       gpointer      task_data,
                       GCancellable *cancellable)
{
  GFile *dir = task_data;
  g_autoptr(GError) error = NULL;

  if (!g_file_make_directory_with_parents (dir, cancellable, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_EXISTS))
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, TRUE);
}

static void download_created_cb (GObject      *object,
                                 GAsyncResult *result,
                                 gpointer      user_data);

static void
cache_dir_made_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Transfer *transfer = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      download_fail (task, g_steal_pointer (&error));
      return;
    }

  g_file_replace_async (transfer->partial, NULL, FALSE, G_FILE_CREATE_PRIVATE, G_PRIORITY_DEFAULT,
                        g_task_get_cancellable (task), download_created_cb, g_object_ref (task));
}

static void
download_written_cb (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Transfer *transfer = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  gsize written = 0;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (object), result, &written, &error))
    {
      download_fail (task, g_steal_pointer (&error));
      return;
    }

  transfer->done += written;
  if (transfer->progress != NULL)
    transfer->progress (transfer->done, transfer->total, transfer->progress_data);

  g_input_stream_read_async (transfer->input, transfer->buffer, DOWNLOAD_CHUNK, G_PRIORITY_DEFAULT,
                             g_task_get_cancellable (task), download_read_cb, g_object_ref (task));
}

static void
download_closed_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_output_stream_close_finish (G_OUTPUT_STREAM (object), result, &error))
    download_fail (task, g_steal_pointer (&error));
  else
    download_finished (task);
}

static void
download_read_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Transfer *transfer = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (object), result, &error);
  if (n < 0)
    {
      download_fail (task, g_steal_pointer (&error));
      return;
    }

  if (n == 0)
    {
      if (transfer->total > 0 && transfer->done != transfer->total)
        {
          download_fail (task, g_error_new (G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT,
                                            "Download of %s stopped after %" G_GOFFSET_FORMAT " of %"
                                            G_GOFFSET_FORMAT " bytes", transfer->url, transfer->done,
                                            transfer->total));
          return;
        }
      g_output_stream_close_async (transfer->output, G_PRIORITY_DEFAULT, g_task_get_cancellable (task),
                                   download_closed_cb, g_object_ref (task));
      return;
    }

  /* A body without Content-Length, or longer than it said: stop at the limit. */
  if (transfer->done + n > transfer->max_size)
    {
      download_fail (task, too_large_error (transfer));
      return;
    }

  g_output_stream_write_all_async (transfer->output, transfer->buffer, n, G_PRIORITY_DEFAULT,
                                   g_task_get_cancellable (task), download_written_cb,
                                   g_object_ref (task));
}

static void
download_created_cb (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Transfer *transfer = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  transfer->output = G_OUTPUT_STREAM (g_file_replace_finish (G_FILE (object), result, &error));
  if (transfer->output == NULL)
    {
      download_fail (task, g_steal_pointer (&error));
      return;
    }

  transfer->buffer = g_malloc (DOWNLOAD_CHUNK);
  g_input_stream_read_async (transfer->input, transfer->buffer, DOWNLOAD_CHUNK, G_PRIORITY_DEFAULT,
                             g_task_get_cancellable (task), download_read_cb, g_object_ref (task));
}

static void download_request (GTask *task);

/* A redirect, followed here rather than by libsoup (which keeps every
 * request header, Authorization included, whatever host it goes to). */
static void
download_redirect (GTask       *task,
                   SoupMessage *message)
{
  Transfer *transfer = g_task_get_task_data (task);
  const char *location = soup_message_headers_get_one (soup_message_get_response_headers (message),
                                                       "Location");
  g_autoptr(GUri) next = NULL;
  g_autofree char *origin = NULL;

  if (location != NULL)
    next = g_uri_parse_relative (transfer->uri, location, G_URI_FLAGS_NONE, NULL);
  origin = natter_uri_dup_origin (next);
  if (origin == NULL)
    {
      download_fail (task, g_error_new (NATTER_CLIENT_ERROR, NATTER_CODE_SERVER_ERROR,
                                        "%s redirects to %s, not a media URL", transfer->url,
                                        location ? location : "nowhere"));
      return;
    }
  if (++transfer->redirects > MAX_REDIRECTS)
    {
      download_fail (task, g_error_new (NATTER_CLIENT_ERROR, NATTER_CODE_SERVER_ERROR,
                                        "%s redirects more than %d times", transfer->url,
                                        MAX_REDIRECTS));
      return;
    }

  g_clear_object (&transfer->input);
  g_clear_pointer (&transfer->uri, g_uri_unref);
  transfer->uri = g_steal_pointer (&next);
  download_request (task);
}

static void
download_sent_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Transfer *transfer = g_task_get_task_data (task);
  SoupMessage *message = soup_session_get_async_result_message (SOUP_SESSION (object), result);
  g_autoptr(GError) error = NULL;
  g_autoptr(GFile) dir = NULL;
  guint status;

  transfer->input = soup_session_send_finish (SOUP_SESSION (object), result, &error);
  if (transfer->input == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  status = soup_message_get_status (message);
  if (status == SOUP_STATUS_MOVED_PERMANENTLY || status == SOUP_STATUS_FOUND ||
      status == SOUP_STATUS_SEE_OTHER || status == SOUP_STATUS_TEMPORARY_REDIRECT ||
      status == SOUP_STATUS_PERMANENT_REDIRECT)
    {
      download_redirect (task, message);
      return;
    }

  if (status != SOUP_STATUS_OK)
    {
      download_fail (task, http_error (message, NULL));
      return;
    }

  transfer->total = soup_message_headers_get_content_length (soup_message_get_response_headers (message));
  if (transfer->total > transfer->max_size)
    {
      download_fail (task, too_large_error (transfer));
      return;
    }

  dir = g_file_get_parent (transfer->file);
  {
    g_autoptr(GTask) mkdir_task = g_task_new (NULL, g_task_get_cancellable (task), cache_dir_made_cb,
                                              g_object_ref (task));

    g_task_set_task_data (mkdir_task, g_steal_pointer (&dir), g_object_unref);
    g_task_run_in_thread (mkdir_task, make_cache_dir_thread);
  }
}

static void
download_request (GTask *task)
{
  NatterClient *self = g_task_get_source_object (task);
  Transfer *transfer = g_task_get_task_data (task);
  g_autoptr(SoupMessage) message = soup_message_new_from_uri (SOUP_METHOD_GET, transfer->uri);

  soup_message_add_flags (message, SOUP_MESSAGE_NO_REDIRECT);
  if (is_own_uri (self, transfer->uri))
    add_auth_headers (self, message);
  else
    soup_message_disable_feature (message, SOUP_TYPE_COOKIE_JAR);

  soup_session_send_async (natter_client_get_session (self), message, G_PRIORITY_DEFAULT,
                           g_task_get_cancellable (task), download_sent_cb, g_object_ref (task));
}

static void
download_cached_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Transfer *transfer = g_task_get_task_data (task);
  g_autoptr(GFileInfo) info = NULL;

  info = g_file_query_info_finish (G_FILE (object), result, NULL);
  if (info != NULL)
    {
      /* Fetched before for something allowed more. */
      if (g_file_info_get_size (info) > transfer->max_size)
        g_task_return_error (task, too_large_error (transfer));
      else
        g_task_return_pointer (task, g_object_ref (transfer->file), g_object_unref);
      return;
    }

  download_request (task);
}

void
natter_client_download_media_async (NatterClient          *self,
                                    const char            *url,
                                    NatterMediaKind        kind,
                                    GFileProgressCallback  progress,
                                    gpointer               progress_data,
                                    GCancellable          *cancellable,
                                    GAsyncReadyCallback    callback,
                                    gpointer               user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GUri) uri = NULL;
  g_autofree char *origin = NULL;
  g_autofree char *partial = NULL;
  Transfer *transfer;

  g_return_if_fail (NATTER_IS_CLIENT (self));
  g_return_if_fail (url != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_client_download_async);

  uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  origin = natter_uri_dup_origin (uri);
  if (origin == NULL)
    {
      g_task_return_new_error (task, NATTER_CLIENT_ERROR, NATTER_CODE_INVALID_PARAMETER,
                               "Not a media URL: %s", url);
      return;
    }

  transfer = g_new0 (Transfer, 1);
  transfer->url = g_strdup (url);
  transfer->uri = g_steal_pointer (&uri);
  transfer->max_size = natter_media_kind_max_size (kind);
  transfer->file = cache_file_for (self, url);
  partial = g_strconcat (g_file_peek_path (transfer->file), ".part", NULL);
  transfer->partial = g_file_new_for_path (partial);
  transfer->progress = progress;
  transfer->progress_data = progress_data;
  g_task_set_task_data (task, transfer, (GDestroyNotify) transfer_free);

  g_file_query_info_async (transfer->file, G_FILE_ATTRIBUTE_STANDARD_SIZE, G_FILE_QUERY_INFO_NONE,
                           G_PRIORITY_DEFAULT, cancellable, download_cached_cb, g_object_ref (task));
}

void
natter_client_download_async (NatterClient          *self,
                              const char            *url,
                              GFileProgressCallback  progress,
                              gpointer               progress_data,
                              GCancellable          *cancellable,
                              GAsyncReadyCallback    callback,
                              gpointer               user_data)
{
  natter_client_download_media_async (self, url, NATTER_MEDIA_KIND_FILE, progress, progress_data,
                                      cancellable, callback, user_data);
}

GFile *
natter_client_download_finish (NatterClient  *self,
                               GAsyncResult  *result,
                               GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---------------------------------------------------------- media messages */

typedef enum {
  MEDIA_IMAGE,
  MEDIA_FILE,
  MEDIA_VOICE,
} MediaKind;

typedef struct {
  MediaKind kind;
  NatterConversationType type;
  char *target_id;
  GFile *file;
  int duration;
  char *thumbnail;
  char *content_type;
  gint64 size;
  GFileProgressCallback progress;
  gpointer progress_data;
} MediaSend;

static void
media_send_free (MediaSend *media)
{
  g_free (media->target_id);
  g_clear_object (&media->file);
  g_free (media->thumbnail);
  g_free (media->content_type);
  g_free (media);
}

static void
media_sent_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  NatterMessage *message = natter_client_send_message_finish (NATTER_CLIENT (object), result, &error);

  if (message == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, message, g_object_unref);
}

/* The message is stored first, naming the local file; the client uploads
 * it and publishes (now, or from the outbox once natterd is back). */
static void
media_store (GTask *task)
{
  MediaSend *media = g_task_get_task_data (task);
  g_autoptr(JsonObject) content = NULL;
  g_autofree char *name = NULL;
  g_autofree char *path = g_file_get_path (media->file);
  const char *object_name;

  if (path == NULL)
    {
      g_task_return_new_error (task, NATTER_CLIENT_ERROR, NATTER_CODE_INVALID_PARAMETER,
                               "Only local files can be sent");
      return;
    }

  switch (media->kind)
    {
    case MEDIA_IMAGE:
      content = natter_content_new_image (media->thumbnail, NULL);
      json_object_remove_member (content, "imageUri");
      object_name = NATTER_OBJECT_IMAGE;
      break;
    case MEDIA_VOICE:
      content = natter_content_new_hq_voice (NULL, media->duration, "ogg");
      json_object_remove_member (content, "remoteUrl");
      object_name = NATTER_OBJECT_HQ_VOICE;
      break;
    case MEDIA_FILE:
    default:
      name = g_file_get_basename (media->file);
      content = natter_content_new_file (name, media->size, media->content_type, NULL);
      json_object_remove_member (content, "fileUrl");
      object_name = NATTER_OBJECT_FILE;
      break;
    }
  json_object_set_string_member (content, NATTER_CONTENT_LOCAL_PATH, path);
  /* natterd takes reactions (expansion updates) only on messages sent with
   * the object, and images, files and voice get them like texts. */
  json_object_set_object_member (content, "expansion", json_object_new ());

  natter_client_send_media_message_async (g_task_get_source_object (task), media->type, media->target_id,
                                          object_name, content, media->progress, media->progress_data,
                                          g_task_get_cancellable (task), media_sent_cb, g_object_ref (task));
}

static void
media_thumbnail_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MediaSend *media = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  media->thumbnail = natter_image_thumbnail_new_finish (result, &error);
  if (media->thumbnail == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  media_store (task);
}

static void
media_info_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MediaSend *media = g_task_get_task_data (task);
  g_autoptr(GFileInfo) info = NULL;
  g_autoptr(GError) error = NULL;
  const char *type;

  info = g_file_query_info_finish (G_FILE (object), result, &error);
  if (info == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  media->size = g_file_info_get_size (info);
  type = g_file_info_get_content_type (info);
  if (media->kind == MEDIA_VOICE)
    media->content_type = g_strdup ("audio/ogg");
  else if (type != NULL)
    media->content_type = g_content_type_get_mime_type (type);
  if (media->content_type == NULL)
    media->content_type = g_strdup ("application/octet-stream");

  if (media->kind == MEDIA_IMAGE)
    natter_image_thumbnail_new_async (media->file, g_task_get_cancellable (task), media_thumbnail_cb,
                                      g_object_ref (task));
  else
    media_store (task);
}

/* ------------------------------------------------ uploads from the outbox */

gboolean
natter_upload_error_is_definite (const GError *error)
{
  if (error->domain == NATTER_CLIENT_ERROR)
    return error->code == NATTER_CODE_MESSAGE_TOO_LARGE || error->code == NATTER_CODE_INVALID_PARAMETER ||
           error->code == NATTER_CODE_MEDIA_QUOTA_EXCEEDED;
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME);
}

static void
message_uploaded_cb (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  NatterMessage *message = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autofree char *url = natter_client_upload_finish (NATTER_CLIENT (object), result, &error);
  JsonObject *content;

  if (url == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  content = natter_message_dup_uploaded_content (message, url);
  g_task_return_pointer (task, content, (GDestroyNotify) json_object_unref);
}

void
natter_client_upload_message_async (NatterClient          *self,
                                    NatterMessage         *message,
                                    GFileProgressCallback  progress,
                                    gpointer               progress_data,
                                    GCancellable          *cancellable,
                                    GAsyncReadyCallback    callback,
                                    gpointer               user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GFile) file = NULL;
  g_autofree char *guessed = NULL;
  g_autofree char *mime = NULL;
  JsonObject *content;
  const char *path;

  g_return_if_fail (NATTER_IS_CLIENT (self));
  g_return_if_fail (natter_message_needs_upload (message));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_client_upload_message_async);
  g_task_set_task_data (task, g_object_ref (message), g_object_unref);

  content = natter_message_get_content (message);
  path = json_object_get_string_member (content, NATTER_CONTENT_LOCAL_PATH);
  file = g_file_new_for_path (path);
  switch (natter_message_get_kind (message))
    {
    case NATTER_MESSAGE_KIND_HQ_VOICE:
      mime = g_strdup ("audio/ogg");
      break;
    case NATTER_MESSAGE_KIND_FILE:
      mime = g_strdup (json_object_get_string_member_with_default (content, "type", NULL));
      break;
    default:
      break;
    }
  if (mime == NULL || *mime == '\0')
    {
      g_free (mime);
      guessed = g_content_type_guess (path, NULL, 0, NULL);
      mime = g_content_type_get_mime_type (guessed);
    }

  natter_client_upload_async (self, file, mime, progress, progress_data, cancellable, message_uploaded_cb,
                              g_steal_pointer (&task));
}

JsonObject *
natter_client_upload_message_finish (NatterClient  *self,
                                     GAsyncResult  *result,
                                     GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
send_media (NatterClient           *self,
            MediaKind               kind,
            NatterConversationType  type,
            const char             *target_id,
            GFile                  *file,
            int                     duration,
            GFileProgressCallback   progress,
            gpointer                progress_data,
            GCancellable           *cancellable,
            GAsyncReadyCallback     callback,
            gpointer                user_data)
{
  g_autoptr(GTask) task = NULL;
  MediaSend *media;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_client_send_media_finish);

  media = g_new0 (MediaSend, 1);
  media->kind = kind;
  media->type = type;
  media->target_id = g_strdup (target_id);
  media->file = g_object_ref (file);
  media->duration = duration;
  media->progress = progress;
  media->progress_data = progress_data;
  g_task_set_task_data (task, media, (GDestroyNotify) media_send_free);

  g_file_query_info_async (file, G_FILE_ATTRIBUTE_STANDARD_SIZE "," G_FILE_ATTRIBUTE_STANDARD_CONTENT_TYPE,
                           G_FILE_QUERY_INFO_NONE, G_PRIORITY_DEFAULT, cancellable, media_info_cb,
                           g_object_ref (task));
}

void
natter_client_send_image_async (NatterClient           *self,
                                NatterConversationType  type,
                                const char             *target_id,
                                GFile                  *file,
                                GFileProgressCallback   progress,
                                gpointer                progress_data,
                                GCancellable           *cancellable,
                                GAsyncReadyCallback     callback,
                                gpointer                user_data)
{
  g_return_if_fail (NATTER_IS_CLIENT (self));
  g_return_if_fail (G_IS_FILE (file));
  send_media (self, MEDIA_IMAGE, type, target_id, file, 0, progress, progress_data, cancellable,
              callback, user_data);
}

void
natter_client_send_file_async (NatterClient           *self,
                               NatterConversationType  type,
                               const char             *target_id,
                               GFile                  *file,
                               GFileProgressCallback   progress,
                               gpointer                progress_data,
                               GCancellable           *cancellable,
                               GAsyncReadyCallback     callback,
                               gpointer                user_data)
{
  g_return_if_fail (NATTER_IS_CLIENT (self));
  g_return_if_fail (G_IS_FILE (file));
  send_media (self, MEDIA_FILE, type, target_id, file, 0, progress, progress_data, cancellable,
              callback, user_data);
}

void
natter_client_send_voice_async (NatterClient           *self,
                                NatterConversationType  type,
                                const char             *target_id,
                                GFile                  *file,
                                int                     duration,
                                GFileProgressCallback   progress,
                                gpointer                progress_data,
                                GCancellable           *cancellable,
                                GAsyncReadyCallback     callback,
                                gpointer                user_data)
{
  g_return_if_fail (NATTER_IS_CLIENT (self));
  g_return_if_fail (G_IS_FILE (file));
  send_media (self, MEDIA_VOICE, type, target_id, file, MAX (duration, 0), progress, progress_data,
              cancellable, callback, user_data);
}

NatterMessage *
natter_client_send_media_finish (NatterClient  *self,
                                 GAsyncResult  *result,
                                 GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------- app server token */

static void
token_fetched_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  SoupMessage *message = soup_session_get_async_result_message (SOUP_SESSION (object), result);
  g_autoptr(GBytes) body = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *reply;
  const char *token;

  body = soup_session_send_and_read_finish (SOUP_SESSION (object), result, &error);
  if (body == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if ((root = parse_reply (body)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_task_return_error (task, http_error (message, NULL));
      return;
    }

  reply = json_node_get_object (root);
  token = json_object_get_string_member_with_default (reply, "token", NULL);
  if (soup_message_get_status (message) != SOUP_STATUS_OK || token == NULL || *token == '\0')
    {
      g_task_return_error (task, http_error (message, body));
      return;
    }

  g_task_return_pointer (task, g_strdup (token), g_free);
}

void
natter_fetch_token_async (const char          *app_server_url,
                          const char          *user_id,
                          const char          *name,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(SoupSession) session = NULL;
  g_autoptr(SoupMessage) message = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autofree char *form = NULL;

  g_return_if_fail (app_server_url != NULL);
  g_return_if_fail (user_id != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, natter_fetch_token_async);

  message = soup_message_new (SOUP_METHOD_POST, app_server_url);
  if (message == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "Not a URL: %s", app_server_url);
      return;
    }

  {
    g_autofree char *escaped_user = g_uri_escape_string (user_id, NULL, TRUE);
    g_autofree char *escaped_name = g_uri_escape_string (name ? name : user_id, NULL, TRUE);

    form = g_strdup_printf ("userId=%s&name=%s", escaped_user, escaped_name);
  }
  {
    gsize length = strlen (form);

    body = g_bytes_new_take (g_steal_pointer (&form), length);
  }
  soup_message_set_request_body_from_bytes (message, "application/x-www-form-urlencoded", body);

  session = soup_session_new ();
  soup_session_send_and_read_async (session, message, G_PRIORITY_DEFAULT, cancellable,
                                    token_fetched_cb, g_steal_pointer (&task));
}

char *
natter_fetch_token_finish (GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
