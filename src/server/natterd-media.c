/* natterd-media.c — media upload and download for images, voice and files
 *
 *   POST /media/upload[?name=NAME]   body: the file, Content-Type kept
 *   GET  /media/<appKey>/<sha256>    Range supported
 *
 * Both authenticate with the user's token (Authorization: Bearer TOKEN, or
 * ?token=TOKEN for players that cannot set headers). Files are stored once
 * per app by content hash under DATA_DIR/media/<app id>/; an upload streams
 * to a temporary file while it is hashed, is fsynced off the main thread,
 * and is answered {"code":200,"url":...} once it and its row are durable.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natterd-server-private.h"

#include "natterd-log.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixoutputstream.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

#define MEDIA_NAME_MAX 255
#define CONTENT_TYPE_MAX 127

typedef struct
{
  NatterdServer     *server;
  SoupServerMessage *msg;
  gint64             app_id;
  char              *app_key;
  gint64             uploader_id;
  char              *content_type;
  char              *name;
  char              *tmp_path;
  int                fd;
  GOutputStream     *stream;
  GChecksum         *checksum;
  guint64            size;
  guint              status;      /* non-zero: refused while reading */
  int                code;
  char              *hash;
  char              *final_path;
} Upload;

static void
upload_free (gpointer data)
{
  Upload *upload = data;

  g_clear_object (&upload->stream);
  if (upload->tmp_path != NULL)
    g_unlink (upload->tmp_path);
  g_free (upload->tmp_path);
  g_free (upload->app_key);
  g_free (upload->content_type);
  g_free (upload->name);
  g_free (upload->hash);
  g_free (upload->final_path);
  g_clear_pointer (&upload->checksum, g_checksum_free);
  g_object_unref (upload->server);
  g_free (upload);
}

static void
reply_json (SoupServerMessage *msg,
            guint              status,
            JsonBuilder       *builder)
{
  g_autoptr(JsonNode) root = json_builder_get_root (builder);
  char *body = json_to_string (root, FALSE);

  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json; charset=utf-8", SOUP_MEMORY_TAKE,
                                    body, strlen (body));
}

static void
reply_error (SoupServerMessage *msg,
             guint              status,
             int                code,
             const char        *message)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "code");
  json_builder_add_int_value (builder, code);
  json_builder_set_member_name (builder, "errorMessage");
  json_builder_add_string_value (builder, message != NULL ? message : natter_code_to_string (code));
  json_builder_end_object (builder);
  reply_json (msg, status, builder);
}

/* The user a media request is made for, or NULL after replying 401. */
static NatterdUser *
authenticate (NatterdServer     *self,
              SoupServerMessage *msg,
              GHashTable        *query)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *authorization = soup_message_headers_get_one (headers, "Authorization");
  const char *token = NULL;
  NatterdUser *user = NULL;
  int code;

  if (authorization != NULL && g_ascii_strncasecmp (authorization, "Bearer ", 7) == 0)
    token = authorization + 7;
  else if (query != NULL)
    token = g_hash_table_lookup (query, "token");

  code = natterd_token_check_any (self->directory, token, natterd_now_ms (), &user);
  if (code != NATTER_CODE_OK)
    {
      reply_error (msg, SOUP_STATUS_UNAUTHORIZED, code, NULL);
      return NULL;
    }
  return user;
}

static char *
media_path (NatterdServer *self,
            gint64         app_id,
            const char    *hash)
{
  g_autofree char *app = g_strdup_printf ("%" G_GINT64_FORMAT, app_id);
  char prefix[3] = { hash[0], hash[1], '\0' };

  return g_build_filename (self->data_dir, "media", app, prefix, hash, NULL);
}

/* ------------------------------------------------------------------ upload */

static void
on_chunk (SoupServerMessage *msg,
          GBytes            *chunk,
          gpointer           user_data)
{
  Upload *upload = user_data;
  g_autoptr(GError) error = NULL;
  gsize length;
  const guint8 *data = g_bytes_get_data (chunk, &length);

  if (upload->status != 0)
    return;

  upload->size += length;
  if (upload->size > upload->server->config->media_max_size)
    {
      upload->status = SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE;
      upload->code = NATTER_CODE_MESSAGE_TOO_LARGE;
      return;
    }

  g_checksum_update (upload->checksum, data, length);
  /* Into the page cache; the fsync happens on a worker thread. */
  if (!g_output_stream_write_all (upload->stream, data, length, NULL, NULL, &error))
    {
      natterd_log (G_LOG_LEVEL_WARNING, "media-write-failed", "error", error->message, NULL);
      upload->status = SOUP_STATUS_INTERNAL_SERVER_ERROR;
      upload->code = NATTER_CODE_SERVER_ERROR;
    }
}

static void
on_upload_early (SoupServer        *server,
                 SoupServerMessage *msg,
                 const char        *path,
                 GHashTable        *query,
                 gpointer           user_data)
{
  NatterdServer *self = user_data;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *content_type = soup_message_headers_get_content_type (headers, NULL);
  const char *name = query != NULL ? g_hash_table_lookup (query, "name") : NULL;
  g_autofree char *tmp_dir = g_build_filename (self->data_dir, "media", "tmp", NULL);
  g_autofree char *template = g_build_filename (tmp_dir, "upload-XXXXXX", NULL);
  g_autoptr(GError) error = NULL;
  NatterdUser *user;
  Upload *upload;
  goffset length;

  /* Whatever happens next, the body is never held in memory: refused
   * uploads are still read by libsoup, and dropped chunk by chunk. */
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);

  if (soup_server_message_get_method (msg) != SOUP_METHOD_POST)
    {
      reply_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, NATTER_CODE_INVALID_PARAMETER, "Use POST");
      return;
    }

  user = authenticate (self, msg, query);
  if (user == NULL)
    return;

  length = soup_message_headers_get_content_length (headers);
  if (length > 0 && (guint64) length > self->config->media_max_size)
    {
      reply_error (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, NATTER_CODE_MESSAGE_TOO_LARGE,
                   "The file is larger than the server accepts");
      return;
    }
  if ((name != NULL && (strlen (name) > MEDIA_NAME_MAX || !g_utf8_validate (name, -1, NULL))) ||
      (content_type != NULL && strlen (content_type) > CONTENT_TYPE_MAX))
    {
      reply_error (msg, SOUP_STATUS_BAD_REQUEST, NATTER_CODE_INVALID_PARAMETER, "Bad name or type");
      return;
    }

  upload = g_new0 (Upload, 1);
  upload->server = g_object_ref (self);
  upload->app_id = user->app->id;
  upload->app_key = g_strdup (user->app->key);
  upload->uploader_id = user->id;
  upload->content_type = g_strdup (content_type != NULL ? content_type : "application/octet-stream");
  upload->name = g_strdup (name != NULL ? name : "");
  upload->checksum = g_checksum_new (G_CHECKSUM_SHA256);
  upload->fd = -1;

  if (g_mkdir_with_parents (tmp_dir, 0700) == 0)
    upload->fd = g_mkstemp_full (template, O_WRONLY, 0600);
  if (upload->fd < 0)
    {
      int saved = errno;

      natterd_log (G_LOG_LEVEL_WARNING, "media-write-failed", "error", g_strerror (saved), NULL);
      upload_free (upload);
      reply_error (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, NATTER_CODE_SERVER_ERROR, NULL);
      return;
    }
  upload->tmp_path = g_strdup (template);
  upload->stream = g_unix_output_stream_new (upload->fd, TRUE);

  /* Stream the body to the file. */
  g_signal_connect (msg, "got-chunk", G_CALLBACK (on_chunk), upload);
  g_object_set_data_full (G_OBJECT (msg), "natterd-upload", upload, upload_free);
}

static void
upload_stored (NatterdOp *op,
               gpointer   user_data)
{
  SoupServerMessage *msg = user_data;
  Upload *upload = g_object_get_data (G_OBJECT (msg), "natterd-upload");
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autofree char *url = NULL;

  if (op->error != NULL)
    {
      reply_error (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, NATTER_CODE_SERVER_ERROR, NULL);
      soup_server_message_unpause (msg);
      return;
    }

  url = g_strdup_printf ("%s/media/%s/%s", upload->server->public_url, upload->app_key, upload->hash);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "code");
  json_builder_add_int_value (builder, NATTER_API_OK);
  json_builder_set_member_name (builder, "url");
  json_builder_add_string_value (builder, url);
  json_builder_set_member_name (builder, "hash");
  json_builder_add_string_value (builder, upload->hash);
  json_builder_set_member_name (builder, "size");
  json_builder_add_int_value (builder, (gint64) upload->size);
  json_builder_set_member_name (builder, "contentType");
  json_builder_add_string_value (builder, upload->content_type);
  json_builder_end_object (builder);
  reply_json (msg, SOUP_STATUS_OK, builder);
  soup_server_message_unpause (msg);
  upload->server->metrics.media_uploaded_bytes += upload->size;
}

/* Worker thread: make the file durable under its hash. */
static void
finish_file (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  Upload *upload = task_data;
  g_autofree char *dir = g_path_get_dirname (upload->final_path);
  g_autoptr(GError) error = NULL;
  int saved;

  if (!g_output_stream_flush (upload->stream, NULL, &error) || fsync (upload->fd) != 0)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", upload->tmp_path,
                               error != NULL ? error->message : g_strerror (errno));
      return;
    }

  if (g_file_test (upload->final_path, G_FILE_TEST_EXISTS))
    {
      /* Same bytes were uploaded before. */
      g_task_return_boolean (task, TRUE);
      return;
    }

  if (g_mkdir_with_parents (dir, 0700) != 0 || g_rename (upload->tmp_path, upload->final_path) != 0)
    {
      saved = errno;
      g_task_return_new_error (task, G_IO_ERROR, g_io_error_from_errno (saved), "%s: %s",
                               upload->final_path, g_strerror (saved));
      return;
    }
  g_clear_pointer (&upload->tmp_path, g_free);

  /* The rename itself is durable once the directory is synced. */
  {
    int dir_fd = open (dir, O_RDONLY | O_DIRECTORY);

    if (dir_fd >= 0)
      {
        fsync (dir_fd);
        close (dir_fd);
      }
  }
  g_task_return_boolean (task, TRUE);
}

static void
file_finished (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  SoupServerMessage *msg = user_data;
  Upload *upload = g_object_get_data (G_OBJECT (msg), "natterd-upload");
  g_autoptr(GError) error = NULL;
  NatterdMediaOp *op;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      natterd_log (G_LOG_LEVEL_WARNING, "media-write-failed", "error", error->message, NULL);
      reply_error (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, NATTER_CODE_SERVER_ERROR, NULL);
      soup_server_message_unpause (msg);
      g_object_unref (msg);
      return;
    }

  op = natterd_op_new (NATTERD_OP_MEDIA, upload_stored, msg, g_object_unref);
  op->app_id = upload->app_id;
  op->hash = g_strdup (upload->hash);
  op->size = upload->size;
  op->content_type = g_strdup (upload->content_type);
  op->name = g_strdup (upload->name);
  op->uploader_id = upload->uploader_id;
  op->created = natterd_now_ms ();
  natterd_store_submit (upload->server->store, op);
}

static void
on_upload (SoupServer        *server,
           SoupServerMessage *msg,
           const char        *path,
           GHashTable        *query,
           gpointer           user_data)
{
  Upload *upload = g_object_get_data (G_OBJECT (msg), "natterd-upload");
  g_autoptr(GTask) task = NULL;

  if (upload == NULL)
    return;  /* answered by the early handler */

  if (upload->status != 0)
    {
      reply_error (msg, upload->status, upload->code, NULL);
      return;
    }
  if (upload->size == 0)
    {
      reply_error (msg, SOUP_STATUS_BAD_REQUEST, NATTER_CODE_INVALID_PARAMETER, "Empty file");
      return;
    }

  upload->hash = g_strdup (g_checksum_get_string (upload->checksum));
  upload->final_path = media_path (upload->server, upload->app_id, upload->hash);

  soup_server_message_pause (msg);
  task = g_task_new (NULL, NULL, file_finished, g_object_ref (msg));
  g_task_set_task_data (task, upload, NULL);
  g_task_run_in_thread (task, finish_file);
}

/* ---------------------------------------------------------------- download */

typedef struct
{
  SoupServerMessage *msg;
  NatterdServer     *server;
  char              *path;
} Download;

static void
download_free (gpointer data)
{
  Download *download = data;

  g_object_unref (download->msg);
  g_object_unref (download->server);
  g_free (download->path);
  g_free (download);
}

static void
serve_file (Download    *download,
            NatterdRead *read)
{
  SoupServerMessage *msg = download->msg;
  SoupMessageHeaders *request = soup_server_message_get_request_headers (msg);
  SoupMessageHeaders *response = soup_server_message_get_response_headers (msg);
  g_autoptr(GMappedFile) file = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  SoupRange *ranges = NULL;
  int n_ranges = 0;
  goffset total;

  file = g_mapped_file_new (download->path, FALSE, &error);
  if (file == NULL)
    {
      natterd_log (G_LOG_LEVEL_WARNING, "media-missing", "path", download->path,
                   "error", error->message, NULL);
      reply_error (msg, SOUP_STATUS_NOT_FOUND, NATTER_CODE_INVALID_PARAMETER, "No such media");
      return;
    }
  bytes = g_mapped_file_get_bytes (file);
  total = (goffset) g_bytes_get_size (bytes);

  soup_message_headers_set_content_type (response, read->content_type, NULL);
  soup_message_headers_replace (response, "Accept-Ranges", "bytes");
  soup_message_headers_replace (response, "Cache-Control", "private, max-age=31536000, immutable");
  if (read->name != NULL && *read->name != '\0')
    {
      g_autoptr(GHashTable) params = g_hash_table_new (g_str_hash, g_str_equal);

      g_hash_table_insert (params, (gpointer) "filename", read->name);
      soup_message_headers_set_content_disposition (response, "inline", params);
    }

  if (soup_message_headers_get_ranges (request, total, &ranges, &n_ranges))
    {
      /* One range (players seek with one); several are served as the first. */
      goffset start = ranges[0].start;
      goffset end = ranges[0].end;

      soup_message_headers_free_ranges (request, ranges);
      if (start >= total || end < start)
        {
          g_autofree char *unsatisfiable = g_strdup_printf ("bytes */%" G_GOFFSET_FORMAT, total);

          soup_message_headers_replace (response, "Content-Range", unsatisfiable);
          soup_server_message_set_status (msg, SOUP_STATUS_REQUESTED_RANGE_NOT_SATISFIABLE, NULL);
          return;
        }
      end = MIN (end, total - 1);
      soup_message_headers_set_content_range (response, start, end, total);
      soup_server_message_set_status (msg, SOUP_STATUS_PARTIAL_CONTENT, NULL);
      if (soup_server_message_get_method (msg) != SOUP_METHOD_HEAD)
        {
          g_autoptr(GBytes) part = g_bytes_new_from_bytes (bytes, (gsize) start, (gsize) (end - start + 1));
          soup_message_body_append_bytes (soup_server_message_get_response_body (msg), part);
        }
      else
        soup_message_headers_set_content_length (response, end - start + 1);
    }
  else if (soup_message_headers_get_one (request, "Range") != NULL)
    {
      g_autofree char *unsatisfiable = g_strdup_printf ("bytes */%" G_GOFFSET_FORMAT, total);

      soup_message_headers_replace (response, "Content-Range", unsatisfiable);
      soup_server_message_set_status (msg, SOUP_STATUS_REQUESTED_RANGE_NOT_SATISFIABLE, NULL);
      return;
    }
  else
    {
      soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
      if (soup_server_message_get_method (msg) != SOUP_METHOD_HEAD)
        soup_message_body_append_bytes (soup_server_message_get_response_body (msg), bytes);
      else
        soup_message_headers_set_content_length (response, total);
    }
  download->server->metrics.media_downloads++;
}

static void
media_read (NatterdRead *read,
            gpointer     user_data)
{
  Download *download = user_data;

  if (read->error != NULL)
    reply_error (download->msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, NATTER_CODE_SERVER_ERROR, NULL);
  else if (!read->found)
    reply_error (download->msg, SOUP_STATUS_NOT_FOUND, NATTER_CODE_INVALID_PARAMETER, "No such media");
  else
    serve_file (download, read);
  soup_server_message_unpause (download->msg);
}

static gboolean
is_hash (const char *text)
{
  if (text == NULL || strlen (text) != 64)
    return FALSE;
  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isxdigit (*p) || g_ascii_isupper (*p))
      return FALSE;
  return TRUE;
}

static void
on_download (SoupServer        *server,
             SoupServerMessage *msg,
             const char        *path,
             GHashTable        *query,
             gpointer           user_data)
{
  NatterdServer *self = user_data;
  const char *method = soup_server_message_get_method (msg);
  g_auto(GStrv) parts = g_strsplit (path, "/", 0);
  NatterdUser *user;
  NatterdRead *read;
  Download *download;

  if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD)
    {
      reply_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, NATTER_CODE_INVALID_PARAMETER, "Use GET");
      return;
    }

  /* "", "media", app key, hash */
  if (g_strv_length (parts) != 4 || !is_hash (parts[3]))
    {
      reply_error (msg, SOUP_STATUS_NOT_FOUND, NATTER_CODE_INVALID_PARAMETER, "No such media");
      return;
    }

  user = authenticate (self, msg, query);
  if (user == NULL)
    return;

  /* Media belongs to its app: another app's users do not see it exists. */
  if (!g_str_equal (user->app->key, parts[2]))
    {
      reply_error (msg, SOUP_STATUS_NOT_FOUND, NATTER_CODE_INVALID_PARAMETER, "No such media");
      return;
    }

  download = g_new0 (Download, 1);
  download->msg = g_object_ref (msg);
  download->server = g_object_ref (self);
  download->path = media_path (self, user->app->id, parts[3]);

  soup_server_message_pause (msg);
  read = natterd_read_new (NATTERD_READ_MEDIA, media_read, download, download_free);
  read->app_id = user->app->id;
  read->hash = g_strdup (parts[3]);
  natterd_store_read (self->store, read);
}

void
natterd_server_setup_media (NatterdServer *self)
{
  soup_server_add_early_handler (self->soup, "/media/upload", on_upload_early, self, NULL);
  soup_server_add_handler (self->soup, "/media/upload", on_upload, self, NULL);
  soup_server_add_handler (self->soup, "/media", on_download, self, NULL);
}
